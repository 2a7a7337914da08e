/*
 * gguf.h — what the GGUF reader (gguf.c) and writer (gguf_write.c) share:
 * the ggml type table, the caps, and the reader's private state that lets a
 * GGUF -> GGUF commit re-emit the source's key-value section byte for byte.
 * Internal to formats/.
 */
#ifndef CK_GGUF_H
#define CK_GGUF_H

#include "ck.h"

#define CK_GGUF_MAGIC "GGUF"
#define CK_GGUF_FIXED 24                 /* magic, version u32, tensor count u64, kv count u64 */
#define CK_GGUF_DEFAULT_ALIGN 32
#define CK_GGUF_MAX_DIMS 4
#define CK_GGUF_MAX_NAME 64              /* ggml's GGML_MAX_NAME, NUL included */
#define CK_GGUF_NAME_CAP 4096            /* longest tensor name we still read */
#define CK_GGUF_KEY_CAP 65535            /* spec: a key is at most 2^16-1 bytes */
#define CK_GGUF_MAX_NEST 8               /* arrays of arrays, deepest */
#define CK_GGUF_MAX_TENSORS (1u << 18)
#define CK_GGUF_MAX_KV (1u << 16)
#define CK_GGUF_LIST_BUDGET (1u << 16)   /* array elements kept in ck->metadata, all KVs together */
#define CK_GGUF_MAX_HEADER ((uint64_t)512 << 20)  /* KVs + tensor infos held in memory */
#define CK_GGUF_LIST_MAX 64              /* longer arrays are summarised in ck->metadata */

extern const struct ck_format ck_format_gguf;

/* The reader's ck->priv. */
struct ck_gguf_priv {
	uint32_t version;       /* 2 or 3 */
	uint32_t alignment;     /* general.alignment, or 32 */
	uint64_t n_kv;
	uint8_t *kv;            /* owned: the raw KV section (every KV, as in the file) */
	size_t kv_len;
	uint64_t data_off;      /* absolute offset of the data section */
};

/* ggml type id -> dtype; CK_DT_INVALID for ids unknown here (*known set to 1
 * when ggml knows the id but ckptfs has no dtype for it). */
enum ck_dtype ck_gguf_dtype(uint32_t id, int *known);
/* dtype -> ggml type id; -1 when GGUF has no such type. */
long ck_gguf_type_id(enum ck_dtype dt);

/* The format's write op (gguf_write.c). */
ck_err ck_gguf_write(const struct ck_write_req *req, struct ck_error *err);

#endif
