/*
 * pickle_vm.h — internals shared by the pickle reader's two files: the VM
 * state (pickle.c) and the allow-list and call semantics (pickle_globals.c).
 * Not part of the library API; include pickle.h instead.
 */
#ifndef CK_PICKLE_VM_H
#define CK_PICKLE_VM_H

#include "cursor.h"
#include "pickle.h"

#define PK_MAX_DEPTH 1000            /* container nesting of the produced tree */
#define PK_MAX_MARKS 4096
#define PK_MAX_STACK ((size_t)1 << 22)
#define PK_MAX_MEMO ((size_t)1 << 22) /* entries */
#define PK_MAX_MEMO_INDEX ((uint64_t)1 << 28)
#define PK_MAX_LINE 4096             /* text-opcode argument lines */
#define PK_MAX_NDIM 64

enum gkind {
	G_REFUSED = 0,
	G_ODICT, G_DICT, G_LIST, G_TUPLE, G_SET, G_FROZENSET, G_BYTES,
	G_ENCODE, G_SIZE,
	G_REBUILD, G_REBUILD_V2, G_REBUILD_V3, G_PARAM, G_PARAM_STATE, G_FROM_TYPE,
	G_TYPE_TENSOR, G_TYPE_PARAM,
	G_STORAGE, G_DTYPE,
	G_OPAQUE,     /* data-only object kept as CK_V_OBJECT */
	G_DATA,       /* a global that is only ever an argument (numpy.ndarray) */
	G_UNSUP,      /* a real torch rebuild function we do not interpret */
};

/* Open-addressing map u64 -> value for the memo: indices may be sparse. */
struct memo {
	uint64_t *keys;             /* stored +1 so 0 marks an empty slot */
	struct ck_value **vals;
	size_t n, cap;
};

struct vm {
	struct ck_cursor c;
	const struct ck_pickle_hooks *hooks;
	const char *name;
	struct ck_error *err;
	struct ck_value **st;       /* owned refs */
	size_t n, cap;
	size_t *marks;
	size_t nmarks, mcap;
	struct memo memo;
	size_t op;                  /* offset of the current opcode */
	int proto;
};

/* Sets err to "NAME: cause" and returns code. */
ck_err ck_pk_fail(struct vm *vm, ck_err code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
ck_err ck_pk_oom(struct vm *vm);
int ck_pk_is_container(const struct ck_value *v);
/* Before child goes inside parent: refuses self-insertion, seals child, updates depth. */
ck_err ck_pk_adopt(struct vm *vm, struct ck_value *parent, struct ck_value *child);
/* CK_OK unless v is sealed (already inside another container). */
ck_err ck_pk_mutable(struct vm *vm, struct ck_value *v);
/* d[key] = val, taking over both references (released on failure). */
ck_err ck_pk_setitem(struct vm *vm, struct ck_value *d, struct ck_value *key, struct ck_value *val);

/* G_REFUSED unless module.name is allow-listed; *dt for dtype/storage globals. */
enum gkind ck_pk_global_kind(const char *module, const char *name, enum ck_dtype *dt);
/* fn(*args) for an allow-listed fn; fn, args borrowed; *out a new reference. */
ck_err ck_pk_call(struct vm *vm, struct ck_value *fn, struct ck_value *args, int nested, struct ck_value **out);
int ck_pk_utf8_valid(const uint8_t *p, size_t n);
/* py2 str bytes -> STR (UTF-8 if valid, else latin-1); NULL on ENOMEM. */
struct ck_value *ck_pk_py2_str(const uint8_t *p, size_t n);
/* LE two's complement -> INT, or BIGINT beyond 64 bits; NULL on ENOMEM. */
struct ck_value *ck_pk_long_value(const uint8_t *p, size_t n);
/* Protocol 0 decimal text (INT/LONG) -> INT or BIGINT. */
ck_err ck_pk_decimal(struct vm *vm, const uint8_t *p, size_t len, struct ck_value **out);
/* Protocol 0 STRING (quoted repr) or UNICODE (raw-unicode-escape) line. */
ck_err ck_pk_text_string(struct vm *vm, const uint8_t *p, size_t n, int unicode, struct ck_value **out);

#endif
