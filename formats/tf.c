/*
 * tf.c — the TensorFlow V2 checkpoint (tensor bundle) reader: finds the
 * bundle prefix from what the user gave, reads PREFIX.index through
 * tf_table.c, and maps every entry to a byte range of a data shard without
 * reading tensor bytes.  The writer is tf_write.c.
 *
 * How the prefix is found from what the user gave: tf_find.c.
 *
 * Byte layout (formats.md §5.3):
 *  1. P.index is a table (tf_table.c) whose first key is "" -> BundleHeaderProto
 *     {1: num_shards int32, 2: endianness enum (0 LITTLE), 3: VersionDef
 *     {1: producer, 2: min_consumer, 3: repeated bad_consumers}};
 *  2. every other key is a tensor name -> BundleEntryProto {1: dtype enum,
 *     2: TensorShapeProto {2: repeated Dim {1: int64 size, 2: name},
 *     3: unknown_rank}, 3: shard_id, 4: offset, 5: size, 6: fixed32 masked
 *     crc32c of the bytes, 7: repeated TensorSliceProto slices};
 *  3. P.data-%05d-of-%05d (num_shards of them) hold the bytes, C order,
 *     little-endian, at [offset, offset + size) of shard shard_id.
 *
 * Model: ck->sep = '/', root = an ordered dict key -> tensor in the table's
 * (sorted) key order, one storage per tensor.  Entries whose bytes are not a
 * plain array (DT_STRING such as _CHECKPOINTABLE_OBJECT_GRAPH, DT_VARIANT,
 * DT_RESOURCE, or a dtype ckptfs has no type for: qint16, float8 *fnuz, int4)
 * become a CK_V_STR placeholder "<tf string tensor [], 4516 bytes>"; the TF
 * writer copies those entries verbatim, other writers refuse them by name.
 * ck->metadata (ordered): prefix (str), prefix_from (str: how it was found),
 * num_shards (int), producer (int: the header's VersionDef.producer),
 * object_graph (bool: a TF2 object-based checkpoint, which a TF2 restore needs).
 * Not done at open: tensor data CRCs (they would read every byte; the TF
 * writer checks them while copying).  Refused: big-endian bundles, partitioned
 * (sliced) tensors, TF V1 (SavedTensorSlices) tables, all with CK_EUNSUP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "tf.h"

#define TF_MAX_NDIM 64           /* ck_tensor_new's limit */
#define TF_MAX_SHARDS 10000      /* each is an open file */
#define TF_BUNDLE_VERSION 1      /* kTensorBundleVersion */

/* ---- dtypes ---------------------------------------------------------------- */

static const struct {
	const char *name;
	enum ck_dtype dt;   /* CK_DT_INVALID: not a plain array ckptfs can show */
} tf_dtypes[] = {
	[1] = {"float", CK_DT_F32}, [2] = {"double", CK_DT_F64}, [3] = {"int32", CK_DT_I32},
	[4] = {"uint8", CK_DT_U8}, [5] = {"int16", CK_DT_I16}, [6] = {"int8", CK_DT_I8},
	[7] = {"string", CK_DT_INVALID}, [8] = {"complex64", CK_DT_C64}, [9] = {"int64", CK_DT_I64},
	[10] = {"bool", CK_DT_BOOL}, [11] = {"qint8", CK_DT_QINT8}, [12] = {"quint8", CK_DT_QUINT8},
	[13] = {"qint32", CK_DT_QINT32}, [14] = {"bfloat16", CK_DT_BF16}, [15] = {"qint16", CK_DT_INVALID},
	[16] = {"quint16", CK_DT_INVALID}, [17] = {"uint16", CK_DT_U16}, [18] = {"complex128", CK_DT_C128},
	[19] = {"half", CK_DT_F16}, [20] = {"resource", CK_DT_INVALID}, [21] = {"variant", CK_DT_INVALID},
	[22] = {"uint32", CK_DT_U32}, [23] = {"uint64", CK_DT_U64}, [24] = {"float8_e5m2", CK_DT_F8E5M2},
	[25] = {"float8_e4m3fn", CK_DT_F8E4M3}, [26] = {"float8_e4m3fnuz", CK_DT_INVALID},
	[27] = {"float8_e4m3b11fnuz", CK_DT_INVALID}, [28] = {"float8_e5m2fnuz", CK_DT_INVALID},
	[29] = {"int4", CK_DT_INVALID}, [30] = {"uint4", CK_DT_INVALID}, [31] = {"int2", CK_DT_INVALID},
	[32] = {"uint2", CK_DT_INVALID},
};
#define TF_NDTYPES (sizeof tf_dtypes / sizeof tf_dtypes[0])

const char *ck_tf_dtype_name(uint64_t tf)
{
	return tf < TF_NDTYPES ? tf_dtypes[tf].name : NULL;
}

enum ck_dtype ck_tf_dtype(uint64_t tf)
{
	return tf < TF_NDTYPES ? tf_dtypes[tf].dt : CK_DT_INVALID;
}

unsigned ck_tf_dtype_to_tf(enum ck_dtype dt)
{
	for (unsigned i = 1; dt != CK_DT_INVALID && i < TF_NDTYPES; i++)
		if (tf_dtypes[i].dt == dt)
			return i;
	return 0;
}

/* ---- collecting entries ------------------------------------------------------- */

struct tf_ent {
	char *name;          /* owned */
	uint64_t dtype;      /* TF DataType */
	int ndim;
	int64_t *shape;      /* owned */
	uint64_t shard, offset, size;
	uint32_t crc;
	uint8_t *raw;        /* owned: the BundleEntryProto, kept for placeholders only */
	size_t rawlen;
};

struct tf_read {
	const char *name;    /* the .index file, for messages */
	int have_header;
	uint64_t num_shards;
	int64_t producer;
	int object_graph;
	struct tf_ent *ents;
	size_t n, cap;
};

static ck_err tf_header(struct tf_read *r, const uint8_t *v, size_t vlen, struct ck_error *err)
{
	struct ck_cursor c, vc;
	struct ck_pb_field f, g;
	uint64_t endian = 0, min_consumer = 0;
	int bad_consumer = 0;
	ck_cursor_init(&c, v, vlen);
	while (ck_pb_next(&c, &f)) {
		if (f.num == 1 && f.wire == 2)
			return ck_error_set(err, CK_EUNSUP, "%s: a TF V1 checkpoint (SavedTensorSlices table) is not "
					    "supported; re-save it as a V2 checkpoint", r->name);
		if ((f.num == 1 || f.num == 2) && f.wire != 0)
			c.bad = 1;
		else if (f.num == 1)
			r->num_shards = f.v;
		else if (f.num == 2)
			endian = f.v;
		else if (f.num == 3 && f.wire != 2)
			c.bad = 1;
		else if (f.num == 3) {
			ck_cursor_init(&vc, f.p, f.len);
			while (ck_pb_next(&vc, &g)) {
				if (g.num == 1 && g.wire == 0)
					r->producer = (int32_t)g.v;
				else if (g.num == 2 && g.wire == 0)
					min_consumer = (uint64_t)(int64_t)(int32_t)g.v;
				else if (g.num == 3 && g.wire == 0)
					bad_consumer |= (int32_t)g.v == TF_BUNDLE_VERSION;
				else if (g.num == 3 && g.wire == 2) {   /* packed */
					struct ck_cursor pc;
					ck_cursor_init(&pc, g.p, g.len);
					while (ck_cursor_left(&pc) && ck_cursor_ok(&pc))
						bad_consumer |= (int32_t)ck_cursor_varint(&pc) == TF_BUNDLE_VERSION;
					vc.bad |= pc.bad;
				}
			}
			c.bad |= vc.bad;
		}
	}
	if (!ck_cursor_ok(&c))
		return ck_error_set(err, CK_EFORMAT, "%s: corrupt bundle header", r->name);
	if ((int32_t)r->num_shards < 0 || r->num_shards > INT32_MAX)
		return ck_error_set(err, CK_EFORMAT, "%s: bundle header has %lld shards", r->name,
				    (long long)(int32_t)r->num_shards);
	if (r->num_shards > TF_MAX_SHARDS)
		return ck_error_set(err, CK_ELIMIT, "%s: %llu data shards is over the limit of %d", r->name,
				    (unsigned long long)r->num_shards, TF_MAX_SHARDS);
	if (endian != 0)
		return ck_error_set(err, CK_EUNSUP, "%s: a big-endian tensor bundle is not supported", r->name);
	if (r->producer < 0)
		return ck_error_set(err, CK_EFORMAT, "%s: bundle producer version %lld is invalid", r->name,
				    (long long)r->producer);
	if ((int64_t)min_consumer > TF_BUNDLE_VERSION)
		return ck_error_set(err, CK_EUNSUP, "%s: the bundle needs a reader of version %lld (this is %d)",
				    r->name, (long long)(int64_t)min_consumer, TF_BUNDLE_VERSION);
	if (bad_consumer)
		return ck_error_set(err, CK_EUNSUP, "%s: the bundle disallows readers of version %d",
				    r->name, TF_BUNDLE_VERSION);
	r->have_header = 1;
	return CK_OK;
}

static ck_err tf_shape(struct tf_read *r, struct tf_ent *e, const uint8_t *p, size_t len, struct ck_error *err)
{
	struct ck_cursor c, dc;
	struct ck_pb_field f, g;
	int64_t dims[TF_MAX_NDIM];
	int n = 0;
	ck_cursor_init(&c, p, len);
	ck_cursor_init(&dc, p, 0);
	while (ck_pb_next(&c, &f)) {
		if (f.num == 2 && f.wire == 2) {
			if (n == TF_MAX_NDIM)
				return ck_error_set(err, CK_ELIMIT, "%s: tensor '%s' has more than %d dimensions",
						    r->name, e->name, TF_MAX_NDIM);
			dims[n] = 0;
			ck_cursor_init(&dc, f.p, f.len);
			while (ck_pb_next(&dc, &g))
				if (g.num == 1 && g.wire == 0)
					dims[n] = (int64_t)g.v;
			if (!ck_cursor_ok(&dc))
				break;
			if (dims[n] < 0)
				return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s' has a dimension of %lld",
						    r->name, e->name, (long long)dims[n]);
			n++;
		} else if (f.num == 3 && f.wire == 0 && f.v) {
			return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s' has an unknown rank", r->name, e->name);
		}
	}
	if (!ck_cursor_ok(&c) || !ck_cursor_ok(&dc))
		return ck_error_set(err, CK_EFORMAT, "%s: corrupt shape of tensor '%s'", r->name, e->name);
	free(e->shape);
	e->shape = NULL;
	e->ndim = n;
	if (n && !(e->shape = malloc((size_t)n * sizeof *e->shape)))
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", r->name);
	if (n)
		memcpy(e->shape, dims, (size_t)n * sizeof *dims);
	return CK_OK;
}

static ck_err tf_entry(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
		       struct ck_error *err)
{
	struct tf_read *r = ctx;
	if (!r->have_header) {
		if (klen)
			return ck_error_set(err, CK_EFORMAT, "%s: no bundle header (the first key is '%.*s')",
					    r->name, (int)(klen > 200 ? 200 : klen), (const char *)key);
		return tf_header(r, val, vlen, err);
	}
	if (key[0] == 0)   /* EncodeTensorNameSlice: 0x00, then the name up to "\0\1" */
		return ck_error_set(err, CK_EUNSUP, "%s: tensor '%.*s' is partitioned into slices, which is not "
				    "supported", r->name, (int)(klen > 200 ? 200 : klen) - 1, (const char *)key + 1);
	if (memchr(key, 0, klen))
		return ck_error_set(err, CK_EFORMAT, "%s: tensor name '%s' has a NUL byte", r->name, (const char *)key);
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct tf_ent *p = realloc(r->ents, cap * sizeof *p);
		if (!p)
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", r->name);
		r->ents = p;
		r->cap = cap;
	}
	struct tf_ent *e = &r->ents[r->n];
	memset(e, 0, sizeof *e);
	if (!(e->name = strndup((const char *)key, klen)))
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", r->name);
	r->n++;
	struct ck_cursor c;
	struct ck_pb_field f;
	ck_err rc;
	ck_cursor_init(&c, val, vlen);
	while (ck_pb_next(&c, &f)) {
		unsigned want = f.num == 2 || f.num == 7 ? 2 : f.num == 6 ? 5 : 0;
		if (f.num > 7)
			continue;   /* a newer field: proto3 readers skip it */
		if (f.wire != want) {
			c.bad = 1;
			break;
		}
		switch (f.num) {
		case 1: e->dtype = f.v; break;
		case 2:
			if ((rc = tf_shape(r, e, f.p, f.len, err)))
				return rc;
			break;
		case 3: e->shard = f.v; break;
		case 4: e->offset = f.v; break;
		case 5: e->size = f.v; break;
		case 6: e->crc = (uint32_t)f.v; break;
		case 7:
			return ck_error_set(err, CK_EUNSUP, "%s: tensor '%s' is partitioned into slices, which is "
					    "not supported", r->name, e->name);
		}
	}
	if (!ck_cursor_ok(&c))
		return ck_error_set(err, CK_EFORMAT, "%s: corrupt bundle entry for tensor '%s'", r->name, e->name);
	if (e->dtype == 0 || !ck_tf_dtype_name(e->dtype))
		return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s' has unknown dtype %llu", r->name, e->name,
				    (unsigned long long)e->dtype);
	if (e->offset > INT64_MAX || e->size > INT64_MAX || e->shard > INT32_MAX)
		return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s' has a negative shard, offset or size",
				    r->name, e->name);
	if (strcmp(e->name, "_CHECKPOINTABLE_OBJECT_GRAPH") == 0)
		r->object_graph = 1;
	if (ck_tf_dtype(e->dtype) == CK_DT_INVALID) {   /* val may live in a block freed after this call */
		if (!(e->raw = malloc(vlen ? vlen : 1)))
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", r->name);
		memcpy(e->raw, val, vlen);
		e->rawlen = vlen;
	}
	return CK_OK;
}

static void tf_read_release(struct tf_read *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->ents[i].name);
		free(r->ents[i].shape);
		free(r->ents[i].raw);
	}
	free(r->ents);
}

/* ---- building the checkpoint ------------------------------------------------------- */

static ck_err tf_meta_set(struct ck_value *m, const char *key, struct ck_value *val)
{
	struct ck_value *k = ck_value_str(key);
	if (!k || !val) {
		ck_value_unref(k);
		ck_value_unref(val);
		return CK_ENOMEM;
	}
	return ck_value_setitem(m, k, val);
}

static ck_err tf_metadata(struct ck_ckpt *ck, const struct ck_tf_where *w, const struct tf_read *r,
			  struct ck_error *err)
{
	if (!(ck->metadata = ck_value_new(CK_V_DICT)))
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
	ck->metadata->u.dict.ordered = 1;
	if (tf_meta_set(ck->metadata, "prefix", ck_value_str(w->prefix)) ||
	    tf_meta_set(ck->metadata, "prefix_from", ck_value_str(w->from)) ||
	    tf_meta_set(ck->metadata, "num_shards", ck_value_int((int64_t)r->num_shards)) ||
	    tf_meta_set(ck->metadata, "producer", ck_value_int(r->producer)) ||
	    tf_meta_set(ck->metadata, "object_graph", ck_value_bool(r->object_graph)))
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
	return CK_OK;
}

/* One entry -> a tensor (or a placeholder) in ck->root; checks its range. */
static ck_err tf_add(struct ck_ckpt *ck, const struct tf_read *r, struct tf_ent *e, struct ck_error *err)
{
	struct ck_tf_priv *priv = ck->priv;
	if (e->shard >= r->num_shards)
		return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s' is in shard %llu of %llu", r->name, e->name,
				    (unsigned long long)e->shard, (unsigned long long)r->num_shards);
	int file = 1 + (int)e->shard;
	const struct ck_file *f = &ck->files[file];
	uint64_t end;
	if (!ck_add_u64(e->offset, e->size, &end) || end > f->size)
		return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s' at [%llu, +%llu) reaches past the end of "
				    "'%s' (%llu bytes)", r->name, e->name, (unsigned long long)e->offset,
				    (unsigned long long)e->size, f->path, (unsigned long long)f->size);
	enum ck_dtype dt = ck_tf_dtype(e->dtype);
	uint64_t numel = 1, need;
	for (int i = 0; i < e->ndim; i++)
		if (!ck_mul_u64(numel, (uint64_t)e->shape[i], &numel))
			return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': shape overflows", r->name, e->name);
	struct ck_value *val;
	if (dt == CK_DT_INVALID) {
		char text[128];
		snprintf(text, sizeof text, "<tf %s tensor [", ck_tf_dtype_name(e->dtype));
		for (int i = 0; i < e->ndim; i++) {
			if (strlen(text) >= 80) {   /* keep it one short line */
				strcat(text, ",...");
				break;
			}
			snprintf(text + strlen(text), sizeof text - strlen(text), i ? ",%lld" : "%lld",
				 (long long)e->shape[i]);
		}
		snprintf(text + strlen(text), sizeof text - strlen(text), "], %llu bytes>",
			 (unsigned long long)e->size);
		struct ck_tf_opaque *o = realloc(priv->opaque, (priv->nopaque + 1) * sizeof *o);
		if (!o)
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", r->name);
		priv->opaque = o;
		o += priv->nopaque;
		memset(o, 0, sizeof *o);
		if (!(val = ck_value_str(text)))
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", r->name);
		*o = (struct ck_tf_opaque){val, e->raw, e->rawlen, file, e->offset, e->size, e->crc, e->dtype, numel};
		e->raw = NULL;   /* now owned by priv */
		priv->nopaque++;
	} else {
		if (!ck_mul_u64(numel, ck_dtype_size(dt), &need))
			return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': shape overflows", r->name, e->name);
		if (need != e->size)
			return ck_error_set(err, CK_EFORMAT, "%s: invalid size in bundle entry: tensor '%s' has %llu "
					    "bytes but its dtype %s and shape need %llu", r->name, e->name,
					    (unsigned long long)e->size, ck_tf_dtype_name(e->dtype), (unsigned long long)need);
		struct ck_tensor *t = ck_tensor_new(dt, e->ndim);
		if (!t)
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", r->name);
		int64_t stride = 1;
		for (int i = e->ndim - 1; i >= 0; i--) {
			t->shape[i] = e->shape[i];
			t->stride[i] = stride;
			if (__builtin_mul_overflow(stride, e->shape[i] ? e->shape[i] : 1, &stride))
				stride = 0;   /* only with a zero dimension somewhere: strides never used */
		}
		long s = ck_ckpt_add_storage(ck, e->name, dt, e->size, file, e->offset);
		if (s < 0) {
			ck_tensor_free(t);
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", r->name);
		}
		priv->crc[s] = e->crc;   /* sized for every entry before the first call */
		t->storage = s;
		ck_err rc = ck_tensor_check(ck, t, e->name, err);
		if (rc || !(val = ck_value_tensor(t))) {
			ck_tensor_free(t);
			return rc ? rc : ck_error_set(err, CK_ENOMEM, "%s: out of memory", r->name);
		}
	}
	struct ck_value *key = ck_value_str(e->name);
	if (!key) {
		ck_value_unref(val);
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", r->name);
	}
	if (ck_value_setitem(ck->root, key, val))
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", r->name);
	return CK_OK;
}

static ck_err tf_open(struct ck_ckpt *ck, struct ck_error *err)
{
	struct ck_tf_where w;
	struct tf_read r = {0};
	uint8_t *idx = NULL;
	char *shard = NULL;
	ck->sep = '/';
	ck_err rc = ck_tf_where(ck->path, &w, err);
	if (rc)
		goto out;
	struct ck_tf_priv *priv = calloc(1, sizeof *priv);
	if (!priv) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
		goto out;
	}
	ck->priv = priv;
	if (ck_ckpt_add_file(ck, w.index, err) < 0) {
		rc = err->code;
		goto out;
	}
	const struct ck_file *f = &ck->files[0];
	r.name = f->path;
	if (f->size > CK_TF_MAX_INDEX) {
		rc = ck_error_set(err, CK_ELIMIT, "%s: %llu bytes is over the limit of %llu for an index",
				  f->path, (unsigned long long)f->size, CK_TF_MAX_INDEX);
		goto out;
	}
	if (!(idx = malloc(f->size ? (size_t)f->size : 1))) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", f->path);
		goto out;
	}
	if ((rc = ck_file_pread(f, idx, (size_t)f->size, 0, err)) ||
	    (rc = ck_tf_table_scan(idx, (size_t)f->size, f->path, tf_entry, &r, err)))
		goto out;
	if (!r.have_header) {
		rc = ck_error_set(err, CK_EFORMAT, "%s: empty table: no bundle header", f->path);
		goto out;
	}
	if (!w.prefix) {
		rc = ck_error_set(err, CK_EFORMAT, "%s: a tensor-bundle index must be named PREFIX.index", f->path);
		goto out;
	}
	if (!(priv->prefix = strdup(w.prefix)) || !(shard = malloc(strlen(w.prefix) + 32))) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
		goto out;
	}
	for (uint64_t i = 0; i < r.num_shards; i++) {
		sprintf(shard, "%s.data-%05d-of-%05d", w.prefix, (int)i, (int)r.num_shards);
		struct ck_error sub = {0};
		if (ck_ckpt_add_file(ck, shard, &sub) < 0) {
			rc = sub.code == CK_ENOENT
				? ck_error_set(err, CK_ENOENT, "%s: missing data shard %llu of %llu", shard,
					       (unsigned long long)i + 1, (unsigned long long)r.num_shards)
				: ck_error_set(err, sub.code, "%s", sub.msg);
			goto out;
		}
	}
	if (!(ck->root = ck_value_new(CK_V_DICT))) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
		goto out;
	}
	ck->root->u.dict.ordered = 1;
	if (!(priv->crc = calloc(r.n ? r.n : 1, sizeof *priv->crc))) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
		goto out;
	}
	for (size_t i = 0; i < r.n && rc == CK_OK; i++)
		rc = tf_add(ck, &r, &r.ents[i], err);
	if (rc == CK_OK)
		rc = tf_metadata(ck, &w, &r, err);
out:
	free(shard);
	free(idx);
	tf_read_release(&r);
	ck_tf_where_release(&w);
	return rc;
}

static void tf_close(struct ck_ckpt *ck)
{
	struct ck_tf_priv *priv = ck->priv;
	if (!priv)
		return;
	for (size_t i = 0; i < priv->nopaque; i++)
		free(priv->opaque[i].entry);
	free(priv->opaque);
	free(priv->crc);
	free(priv->prefix);
	free(priv);
	ck->priv = NULL;
}

const struct ck_format ck_format_tf = {
	.name = "tf",
	.ext = "",
	.probe = ck_tf_probe,
	.open = tf_open,
	.close = tf_close,
	.write = ck_tf_write,
};
