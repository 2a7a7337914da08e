/*
 * safetensors.h — what the safetensors reader (safetensors.c), its writer
 * (safetensors_write.c) and the Hugging Face folder writer (hf.c, one
 * safetensors file per shard) share.  Internal to formats/.
 */
#ifndef CK_SAFETENSORS_H
#define CK_SAFETENSORS_H

#include "ck.h"
#include "tree.h"

#define CK_ST_LEN_BYTES 8                /* the u64 header length at offset 0 */
#define CK_ST_MAX_HEADER 100000000ull    /* MAX_HEADER_SIZE in tensor.rs */

extern const struct ck_format ck_format_safetensors;
extern const struct ck_format ck_format_hf;

/* Flattens root into (key, tensor) pairs in order, keys joined by sep
 * (ck_value_tensors).  A non-tensor leaf, or two leaves with the same flat
 * key, is CK_EUNSUP naming the key; what names the output in messages.
 * *items owned by caller (ck_tensor_items_free); nothing to free on failure. */
ck_err ck_st_flatten(const struct ck_value *root, char sep, const char *what,
		     struct ck_tensor_item **items, size_t *n, struct ck_error *err);

/* Writes items (in this order, dense C-order little-endian) to a new file at
 * path (must not exist), tensor bytes taken from src.  metadata is a dict
 * str -> str written as __metadata__, or NULL for {"format":"pt"}.  what names
 * the output in messages.  On failure nothing is left at path. */
ck_err ck_st_write_items(const struct ck_ckpt *src, const struct ck_tensor_item *items, size_t n,
			 const struct ck_value *metadata, const char *path, const char *what,
			 struct ck_error *err);

/* The format's write op (safetensors_write.c). */
ck_err ck_st_write(const struct ck_write_req *req, struct ck_error *err);
/* "F32" for CK_DT_F32; NULL when safetensors has no name for dt. */
const char *ck_st_dtype_name(enum ck_dtype dt);
/* 1 (and *at = offset of the first bad byte) when p[0..n) is not strict UTF-8. */
int ck_st_utf8_bad_at(const uint8_t *p, size_t n, size_t *at);

/* 1 when v is a dict whose keys and values are all str (safetensors metadata). */
int ck_st_metadata_ok(const struct ck_value *v);

/* Copies len bytes from in at inoff to out at outoff (copy_file_range, falling
 * back to pread/pwrite through a bounded buffer).  Names inname/outname on error. */
ck_err ck_st_copy_range(int in, uint64_t inoff, int out, uint64_t outoff, uint64_t len,
			const char *inname, const char *outname, struct ck_error *err);

/* Appends s as a JSON string literal (quotes and escapes) to b. */
struct ck_buf;
void ck_st_json_string(struct ck_buf *b, const char *s);

#endif
