/*
 * pickle.h — a pickle reader that runs no code, and the writer torch.load accepts.
 *
 * Reader: protocol 0-5 opcodes that torch and its predecessors produce; GLOBAL
 * only from an allow-list (collections.OrderedDict, torch rebuild functions,
 * storage classes, dtypes, _codecs.encode, ...); anything else fails with
 * CK_EUNSAFE and "unsupported global 'os.system'".  Depth, memo and object
 * counts are bounded.  torch tensors come out as CK_V_TENSOR values.
 */
#ifndef CK_PICKLE_H
#define CK_PICKLE_H

#include "ck.h"
#include "buf.h"

struct ck_pickle_hooks {
	/* BINPERSID: pid is borrowed (for torch a tuple ('storage', GLOBAL cls,
	 * key, location, numel[, view_meta])); set *out to a new reference,
	 * normally a CK_V_STORAGE value.  NULL hook: persistent ids are refused. */
	ck_err (*persistent_load)(void *ctx, struct ck_value *pid, struct ck_value **out,
				  struct ck_error *err);
	void *ctx;
	/* Storage table, so rebuild functions can check dtype/size; may be NULL. */
	struct ck_ckpt *ck;
};

/* Unpickles one pickle from buf.  name is used in messages ("model.bin: data.pkl").
 * *out is a new reference; *consumed (may be NULL) = bytes up to and incl. STOP. */
ck_err ck_pickle_load(const uint8_t *buf, size_t len, const struct ck_pickle_hooks *hooks,
		      const char *name, struct ck_value **out, size_t *consumed,
		      struct ck_error *err);

/* torch storage class name ("FloatStorage", "UntypedStorage") -> dtype;
 * CK_DT_INVALID when unknown.  And the class a writer names for a dtype
 * (NULL for dtypes that need _rebuild_tensor_v3 + UntypedStorage). */
enum ck_dtype ck_pickle_storage_dtype(const char *name);
const char *ck_pickle_storage_class(enum ck_dtype dt);

/* Writer: protocol 2 data.pkl for torch.load (1.13 .. 2.x).
 * storage_key(ctx, storage_index) names the data/<key> record of a storage;
 * tensors are written with _rebuild_tensor_v2 (or _rebuild_parameter around it),
 * new-style dtypes with _rebuild_tensor_v3.  Memo-shares identical value
 * pointers so tied tensors/storages stay shared. */
struct ck_pickle_writer_ops {
	const char *(*storage_key)(void *ctx, long storage);
	/* numel of the storage in elements of its dtype, as written */
	uint64_t (*storage_numel)(void *ctx, long storage);
	enum ck_dtype (*storage_dtype)(void *ctx, long storage);
	void *ctx;
};
ck_err ck_pickle_dump(const struct ck_value *root, const struct ck_pickle_writer_ops *ops,
		      struct ck_buf *out, struct ck_error *err);

#endif
