/*
 * ck.h — the format-neutral model of a checkpoint, shared by every reader,
 * writer, the tree/remap layer and the CLI.  Nothing here knows about FUSE.
 *
 * A checkpoint is a tree of values (containers whose leaves are tensors or
 * plain Python values) plus storages: byte ranges in the source file(s) that
 * several tensors may share.  Python types are kept exactly (an int dict key
 * stays an int, a tuple stays a tuple) because commits write them back.
 */
#ifndef CK_H
#define CK_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- errors ------------------------------------------------------------ */

typedef enum ck_err {
	CK_OK = 0,
	CK_EIO,       /* the OS refused a read/write */
	CK_EFORMAT,   /* bytes do not follow the format */
	CK_EUNSUP,    /* valid but not supported (TorchScript, snappy, ...) */
	CK_ENOMEM,
	CK_ELIMIT,    /* a size or count over our caps (absurd sizes) */
	CK_EUNSAFE,   /* pickle global outside the allow-list */
	CK_ENOENT,
	CK_EEXIST,
	CK_EINVAL,
	CK_ENOTEMPTY,
	CK_ENOTDIR,
	CK_EISDIR,
	CK_EPERM,
	CK_ENOSPC,
	CK_EUSAGE,
} ck_err;

/* Filled by every fallible call; msg is one line "FILE: cause". */
struct ck_error {
	ck_err code;
	char msg[1024];
};

/* Sets code and message; returns code so callers can `return ck_error_set(...)`. */
ck_err ck_error_set(struct ck_error *e, ck_err code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Like ck_error_set but appends ": strerror(errnum)". */
ck_err ck_error_errno(struct ck_error *e, ck_err code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
const char *ck_err_name(ck_err code);
#define CK_QUOTE 256                      /* buffer for ck_quote_name */
/* Copies p[0..n) into buf (cap bytes, NUL-terminated) for a one-line message:
 * control bytes become \xNN, a long name is cut with "...".  Returns buf. */
const char *ck_quote_name(char *buf, size_t cap, const char *p, size_t n);
/* Maps a library code to a positive errno (for the FUSE edge only). */
int ck_err_errno(ck_err code);

/* ---- checked arithmetic ------------------------------------------------- */

static inline int ck_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}
static inline int ck_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

/* ---- dtypes ------------------------------------------------------------- */

enum ck_dtype {
	CK_DT_INVALID = 0,
	CK_DT_F32, CK_DT_F16, CK_DT_BF16, CK_DT_F64,
	CK_DT_I8, CK_DT_I16, CK_DT_I32, CK_DT_I64,
	CK_DT_U8, CK_DT_U16, CK_DT_U32, CK_DT_U64,
	CK_DT_BOOL, CK_DT_C64, CK_DT_C128,
	CK_DT_F8E4M3, CK_DT_F8E5M2,
	CK_DT_QINT8, CK_DT_QUINT8, CK_DT_QINT32,
	/* GGUF block-quantised types: the element is a block, see ck_dtype_block */
	CK_DT_Q4_0, CK_DT_Q4_1, CK_DT_Q5_0, CK_DT_Q5_1, CK_DT_Q8_0, CK_DT_Q8_1,
	CK_DT_Q2_K, CK_DT_Q3_K, CK_DT_Q4_K, CK_DT_Q5_K, CK_DT_Q6_K, CK_DT_Q8_K,
	CK_DT_IQ2_XXS, CK_DT_IQ2_XS, CK_DT_IQ3_XXS, CK_DT_IQ1_S, CK_DT_IQ4_NL,
	CK_DT_IQ3_S, CK_DT_IQ2_S, CK_DT_IQ4_XS, CK_DT_IQ1_M, CK_DT_TQ1_0,
	CK_DT_TQ2_0, CK_DT_MXFP4,
	CK_DT_COUNT
};

/* torch's name without prefix ("float32"), or the ggml name ("q4_0"). */
const char *ck_dtype_name(enum ck_dtype dt);
/* Inverse of ck_dtype_name; CK_DT_INVALID when unknown. */
enum ck_dtype ck_dtype_from_name(const char *name);
/* Bytes per element (per block for block types). */
size_t ck_dtype_size(enum ck_dtype dt);
/* Elements per block: 1 for ordinary dtypes. */
size_t ck_dtype_block(enum ck_dtype dt);

/* ---- tensors and storages ----------------------------------------------- */

/* A byte range of one source file, shared by the tensors that view it. */
struct ck_storage {
	char *key;            /* owned; the format's own name ("0", a legacy pointer key, ...) */
	enum ck_dtype dtype;  /* element type of the storage class */
	uint64_t nbytes;      /* bytes available */
	int file;             /* index into ck_ckpt.files */
	uint64_t offset;      /* absolute byte offset of the data in that file */
	int located;          /* 0 until a reader has found offset (legacy finds it late) */
};

struct ck_tensor {
	enum ck_dtype dtype;
	int ndim;
	int64_t *shape;       /* owned, ndim entries (NULL when ndim == 0) */
	int64_t *stride;      /* owned, in elements, ndim entries */
	int64_t offset;       /* storage offset, in elements */
	long storage;         /* index into ck_ckpt.storages; -1 for no storage */
	uint8_t requires_grad;
	uint8_t is_param;     /* rebuilt through torch._utils._rebuild_parameter */
	uint64_t nbytes;      /* numel * itemsize (contiguous logical size) */
};

/* ---- values ------------------------------------------------------------- */

enum ck_vkind {
	CK_V_NONE, CK_V_BOOL, CK_V_INT, CK_V_BIGINT, CK_V_FLOAT,
	CK_V_STR, CK_V_BYTES,
	CK_V_LIST, CK_V_TUPLE, CK_V_SET, CK_V_DICT,
	CK_V_TENSOR,
	CK_V_GLOBAL,   /* module.name reference from a pickle GLOBAL */
	CK_V_STORAGE,  /* persistent-load result: i = storage index */
	CK_V_OBJECT,   /* an allow-listed opaque object: callable(args) [+ BUILD state] */
};

struct ck_value {
	enum ck_vkind kind;
	unsigned refs;
	/* pickle reader bookkeeping (0 elsewhere): container nesting below this
	 * value, and "already inside a container", after which it may not change,
	 * so the value graph can never get a cycle. */
	uint16_t depth;
	uint8_t sealed;
	union {
		int b;
		int64_t i;
		double f;
		struct { char *p; size_t len; } s;  /* STR (UTF-8, NUL-terminated), BYTES, BIGINT (LE two's complement) */
		struct { struct ck_value **items; size_t n, cap; } seq; /* LIST, TUPLE, SET */
		struct {
			struct ck_value **keys, **vals;
			size_t n, cap;
			int ordered;              /* collections.OrderedDict */
			struct ck_value *attrs;   /* BUILD state on an OrderedDict (_metadata); may be NULL */
		} dict;
		struct ck_tensor *t;
		struct { char *module, *name; } g;
		struct { struct ck_value *callable, *args, *state; } obj;
	} u;
};

/* Constructors return a new value with refs == 1, or NULL on ENOMEM. */
struct ck_value *ck_value_new(enum ck_vkind kind);
struct ck_value *ck_value_int(int64_t i);
struct ck_value *ck_value_float(double f);
struct ck_value *ck_value_bool(int b);
/* Copies len bytes (plus a NUL) for STR/BYTES/BIGINT. */
struct ck_value *ck_value_strn(enum ck_vkind kind, const char *p, size_t len);
struct ck_value *ck_value_str(const char *s);
/* Takes module/name copies. */
struct ck_value *ck_value_global(const char *module, const char *name);
/* Takes ownership of t (freed with the value). */
struct ck_value *ck_value_tensor(struct ck_tensor *t);
struct ck_value *ck_value_ref(struct ck_value *v);   /* +1, returns v */
void ck_value_unref(struct ck_value *v);             /* -1, frees at 0; NULL ok */
/* Appends, taking over the caller's reference to item. */
ck_err ck_value_append(struct ck_value *seq, struct ck_value *item);
/* Sets key -> val (replacing an equal key), taking over both references. */
ck_err ck_value_setitem(struct ck_value *dict, struct ck_value *key, struct ck_value *val);
/* Python equality for hashable keys (int/str/bytes/bool/None/float/tuple). */
int ck_value_equal(const struct ck_value *a, const struct ck_value *b);
/* Python's repr()/str() as `print` shows it: 7, 0.001, True, None, strings as is.
 * Returns malloc'd NUL-terminated text, NULL on ENOMEM. */
char *ck_value_text(const struct ck_value *v);
/* Frees shape/stride and t itself. */
void ck_tensor_free(struct ck_tensor *t);
/* Allocates a tensor with ndim dims, C-contiguous strides left to the caller. */
struct ck_tensor *ck_tensor_new(enum ck_dtype dt, int ndim);
/* Recomputes t->nbytes from shape; 0 on overflow. Returns 1 ok, 0 overflow. */
int ck_tensor_update_nbytes(struct ck_tensor *t);
/* 1 when strides are C-contiguous for the shape. */
int ck_tensor_is_contiguous(const struct ck_tensor *t);
/* Formats "[d1,d2]" into buf; returns buf. */
char *ck_shape_format(const struct ck_tensor *t, char *buf, size_t size);

/* ---- a checkpoint ------------------------------------------------------- */

struct ck_file {
	char *path;  /* owned */
	int fd;
	uint64_t size;
};

struct ck_format;

struct ck_ckpt {
	const struct ck_format *fmt;
	char *path;                 /* owned; as given by the user */
	struct ck_file *files;      /* owned; shards, data files */
	size_t nfiles;
	struct ck_value *root;      /* owned reference */
	struct ck_storage *storages;/* owned */
	size_t nstorages;
	char sep;                   /* key separator: '.' or '/' */
	char *config_json;          /* owned; the checkpoint's own config.json verbatim, or NULL */
	size_t config_len;
	struct ck_value *metadata;  /* owned; format metadata (dict), or NULL */
	void *priv;                 /* the format's own state */
};

/* Options a writer may honour. */
struct ck_write_req {
	struct ck_ckpt *src;        /* borrowed: where tensor bytes come from */
	struct ck_value *root;      /* borrowed: the value tree to write */
	const char *path;           /* the (temporary) file or folder to create */
	const char *final_path;     /* where it will be renamed to (for names inside, e.g. zip prefix) */
};

/* The per-format ops table (libarchive style). */
struct ck_format {
	const char *name;            /* "pytorch", "pytorch-legacy", "safetensors", ... */
	const char *ext;             /* default extension for outputs (".bin", ".safetensors", "" for a folder) */
	/* Confidence 0..100 from the first bytes (head, n = up to 4096) and the path. */
	int (*probe)(const char *path, const uint8_t *head, size_t n, int is_dir);
	/* Fills ck (files, root, storages, sep, metadata). Must not read tensor bytes. */
	ck_err (*open)(struct ck_ckpt *ck, struct ck_error *err);
	/* Frees ck->priv. */
	void (*close)(struct ck_ckpt *ck);
	/* Writes req->root to req->path; NULL when the format has no writer. */
	ck_err (*write)(const struct ck_write_req *req, struct ck_error *err);
};

/* Registry, cheapest probe first; NULL-terminated. */
extern const struct ck_format *const ck_formats[];
const struct ck_format *ck_format_by_name(const char *name);

/* Opens path, detecting the format from its bytes. *out owned by caller (ck_ckpt_free). */
ck_err ck_ckpt_open(const char *path, struct ck_ckpt **out, struct ck_error *err);
void ck_ckpt_free(struct ck_ckpt *ck);
/* Adds a file to ck->files (opens it read-only); returns its index or -1 with err set. */
int ck_ckpt_add_file(struct ck_ckpt *ck, const char *path, struct ck_error *err);
/* Adds a storage; takes a copy of key. Returns index or -1 (ENOMEM). */
long ck_ckpt_add_storage(struct ck_ckpt *ck, const char *key, enum ck_dtype dt,
			 uint64_t nbytes, int file, uint64_t offset);

/* pread that retries short reads; CK_EIO / CK_EFORMAT(short) with err naming the file. */
ck_err ck_file_pread(const struct ck_file *f, void *buf, size_t len, uint64_t off, struct ck_error *err);

/* Reads [off, off+len) of the tensor's logical bytes (C order, as numpy.fromfile
 * wants) into buf, gathering strided views.  Returns bytes read (short at EOF). */
ck_err ck_tensor_read(const struct ck_ckpt *ck, const struct ck_tensor *t, void *buf,
		      size_t len, uint64_t off, size_t *got, struct ck_error *err);
/* If the tensor's bytes are one contiguous range of a file, sets *file and *fileoff. */
int ck_tensor_span(const struct ck_ckpt *ck, const struct ck_tensor *t, int *file, uint64_t *fileoff);

/* Computes t->nbytes and checks the view (offset, shape, strides) stays inside its storage. */
ck_err ck_tensor_check(const struct ck_ckpt *ck, struct ck_tensor *t, const char *key, struct ck_error *err);

#endif
