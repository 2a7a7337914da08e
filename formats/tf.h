/*
 * tf.h — what the TensorFlow tensor-bundle reader (tf.c), its writer
 * (tf_write.c) and the LevelDB-style table code (tf_table.c) share.  Internal
 * to formats/; the byte layouts are at the top of tf_table.c and tf.c.
 */
#ifndef CK_TF_H
#define CK_TF_H

#include "buf.h"
#include "ck.h"

#define CK_TF_FOOTER_LEN 48
#define CK_TF_MAGIC 0xdb4775248b80fb57ull
#define CK_TF_TRAILER_LEN 5               /* u8 compression type + u32 masked crc32c */
#define CK_TF_BLOCK_SIZE (256u << 10)     /* the bundle writer's block_size */
#define CK_TF_RESTART_INTERVAL 16
#define CK_TF_MAX_INDEX (1ull << 30)      /* an .index file; real ones are KiB to a few MiB */
#define CK_TF_MAX_BLOCK (64u << 20)       /* one decompressed block */

extern const struct ck_format ck_format_tf;

/* ---- crc32c (Castagnoli), as LevelDB and the bundle use it ----------------- */

/* Extends crc (0 to start) over p[0..n). */
uint32_t ck_crc32c_extend(uint32_t crc, const void *p, size_t n);
/* The same, table-driven only (so tests can compare it with the hardware path). */
uint32_t ck_crc32c_extend_sw(uint32_t crc, const void *p, size_t n);
/* LevelDB's mask, so a CRC stored next to data is not a CRC of itself. */
uint32_t ck_crc32c_mask(uint32_t crc);
uint32_t ck_crc32c_unmask(uint32_t masked);

/* Decodes one raw snappy stream (no framing) of at most cap output bytes.
 * *out malloc'd, owned by caller; NULL on failure (err names what). */
ck_err ck_snappy_decode(const uint8_t *in, size_t n, size_t cap, uint8_t **out, size_t *outlen,
			const char *what, struct ck_error *err);

/* ---- reading a table -------------------------------------------------------- */

/* Called for every entry in key order; key and val are borrowed for the call.
 * Returns CK_OK to go on, or an error it has put in err. */
typedef ck_err (*ck_tf_entry_fn)(void *ctx, const uint8_t *key, size_t klen,
				 const uint8_t *val, size_t vlen, struct ck_error *err);

/* Walks every entry of the table held in p[0..size) (the whole file, borrowed):
 * footer and magic, the index block, each data block with its trailer CRC
 * checked and snappy blocks decoded, restarts checked, keys strictly
 * increasing.  name is the file named in messages. */
ck_err ck_tf_table_scan(const uint8_t *p, size_t size, const char *name, ck_tf_entry_fn fn, void *ctx,
			struct ck_error *err);

/* ---- building a table ------------------------------------------------------- */

/* Builds a table in memory: keys must be added in strictly increasing order.
 * Data blocks are cut at CK_TF_BLOCK_SIZE, uncompressed, like BundleWriter. */
struct ck_tf_builder {
	struct ck_buf out;      /* the file so far; owned */
	struct ck_buf block;    /* the data block being filled */
	struct ck_buf index;    /* the index block's entries */
	struct ck_buf restarts; /* u32 restart offsets of the current block */
	struct ck_buf irestarts;/* ... of the index block */
	struct ck_buf last;     /* the last key added */
	size_t nblock;          /* entries in the current block */
	size_t nindex;
};

void ck_tf_builder_init(struct ck_tf_builder *b);
/* Frees everything the builder holds. */
void ck_tf_builder_release(struct ck_tf_builder *b);
/* Appends key -> val; key must be greater than the previous one (not checked). */
void ck_tf_builder_add(struct ck_tf_builder *b, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen);
/* Writes the last data block, the metaindex and index blocks and the footer;
 * the file is then b->out (still owned by b).  0 on ENOMEM. */
int ck_tf_builder_finish(struct ck_tf_builder *b);

/* ---- protobuf helpers -------------------------------------------------------- */

struct ck_cursor;
struct ck_pb_field {
	unsigned num, wire;
	uint64_t v;            /* varint, fixed32, fixed64 */
	const uint8_t *p;      /* length-delimited: borrowed from the cursor's bytes */
	size_t len;
	size_t start;          /* cursor position of the field's tag */
};
/* 1 with the next field, 0 at the end or on malformed input (then c->bad):
 * a zero field number, a group, a length past the end, an overlong varint. */
int ck_pb_next(struct ck_cursor *c, struct ck_pb_field *f);

void ck_pb_varint(struct ck_buf *b, uint64_t v);
/* A field's tag: (field << 3) | wire type. */
static inline void ck_pb_tag(struct ck_buf *b, unsigned field, unsigned wire)
{
	ck_pb_varint(b, (uint64_t)field << 3 | wire);
}

/* ---- dtypes ------------------------------------------------------------------ */

/* TF DataType enum -> ck dtype; CK_DT_INVALID when there is no plain one. */
enum ck_dtype ck_tf_dtype(uint64_t tf);
/* ck dtype -> TF DataType; 0 when TF has none. */
unsigned ck_tf_dtype_to_tf(enum ck_dtype dt);
/* TF's name for a DataType ("string", "qint16"), or NULL when unknown. */
const char *ck_tf_dtype_name(uint64_t tf);

/* ---- what the reader keeps for the writer -------------------------------------- */

/* An entry whose bytes are not a plain tensor (string, variant, resource, a
 * dtype ckptfs has no type for).  It shows as a CK_V_STR placeholder; the TF
 * writer recognises that value by pointer and copies the entry verbatim. */
struct ck_tf_opaque {
	const struct ck_value *leaf;  /* borrowed: the placeholder in ck->root */
	uint8_t *entry;               /* owned: the BundleEntryProto bytes as stored */
	size_t entry_len;
	int file;                     /* index into ck->files */
	uint64_t offset, size;
	uint32_t crc;                 /* masked crc32c, as stored (for strings: of lengths as u32, then bytes) */
	uint64_t dtype;               /* the TF DataType */
	uint64_t numel;               /* elements of its shape */
};

struct ck_tf_priv {
	char *prefix;                 /* owned: the bundle prefix that was opened */
	uint32_t *crc;                /* owned: per storage, the entry's masked crc32c */
	struct ck_tf_opaque *opaque;  /* owned */
	size_t nopaque;
};

/* ---- finding the bundle (tf_find.c) ------------------------------------------ */

struct ck_tf_where {
	char *index;    /* owned: the table to read */
	char *prefix;   /* owned; NULL when index is not named PREFIX.index */
	char *from;     /* owned: how the prefix was found (for metadata) */
};

/* Resolves what the user gave (prefix, .index, data shard, folder) to a
 * bundle; w filled on success, release with ck_tf_where_release either way. */
ck_err ck_tf_where(const char *path, struct ck_tf_where *w, struct ck_error *err);
void ck_tf_where_release(struct ck_tf_where *w);
/* The format's probe (see struct ck_format). */
int ck_tf_probe(const char *path, const uint8_t *head, size_t n, int is_dir);

/* The writer (tf_write.c). */
ck_err ck_tf_write(const struct ck_write_req *req, struct ck_error *err);

#endif
