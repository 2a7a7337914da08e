/*
 * torch.h — pieces the PyTorch readers (zip and legacy) and the writer share:
 * persistent ids, a string -> index map, and the walk that checks every
 * tensor view against its storage.  Internal to formats/.
 */
#ifndef CK_TORCH_H
#define CK_TORCH_H

#include "ck.h"

/* Caps on what a hostile file can make us allocate. */
#define CK_TORCH_MAX_STORAGES (1u << 22)
#define CK_TORCH_MAX_PICKLE ((uint64_t)1 << 30)

/* A persistent id ('storage', cls, key, location, numel[, view_metadata]),
 * fields borrowed from the pid value. */
struct ck_torch_pid {
	const char *key;
	enum ck_dtype dtype;
	uint64_t numel;
	const struct ck_value *view;  /* legacy 6th element when not None, else NULL */
};
/* Parses pid (borrowed); errors name path.  nfields: 5 (zip) or 6 (legacy). */
ck_err ck_torch_pid_parse(const char *path, const struct ck_value *pid, int nfields,
			  struct ck_torch_pid *out, struct ck_error *err);

/* Open-addressing map from a string to a long, for storage keys and zip names. */
struct ck_strmap {
	char **keys;   /* owned copies (a zip name may hold NUL bytes: lens count) */
	size_t *lens;
	long *vals;
	size_t cap, n;
};
void ck_strmap_init(struct ck_strmap *m);
void ck_strmap_release(struct ck_strmap *m);
/* Value of key (len bytes) or -1. */
long ck_strmap_get(const struct ck_strmap *m, const char *key, size_t len);
/* Inserts or replaces; CK_OK or CK_ENOMEM. */
ck_err ck_strmap_put(struct ck_strmap *m, const char *key, size_t len, long val);

/* Calls cb for each tensor under v in checkpoint order with its display key
 * (container keys joined by sep).  Returns the first non-OK code of cb, or
 * CK_ELIMIT when nesting is absurdly deep (err set). */
typedef ck_err (*ck_torch_tensor_cb)(void *ctx, const char *key, struct ck_value *tensor,
				     struct ck_error *err);
ck_err ck_torch_walk(struct ck_value *v, char sep, ck_torch_tensor_cb cb, void *ctx,
		     const char *path, struct ck_error *err);

/* Like ck_torch_walk, and also calls cb for bare storage values (CK_V_STORAGE),
 * for code that renumbers storages. */
ck_err ck_torch_walk_storages(struct ck_value *v, char sep, ck_torch_tensor_cb cb, void *ctx,
			      const char *path, struct ck_error *err);

/* Runs ck_tensor_check on every tensor of ck->root. */
ck_err ck_torch_check_tensors(struct ck_ckpt *ck, struct ck_error *err);

/* The writer both formats share (torch_write.c). */
ck_err ck_torch_write(const struct ck_write_req *req, struct ck_error *err);

#endif
