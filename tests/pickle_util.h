/*
 * pickle_util.h — helpers shared by test_pickle.c (reader) and
 * test_pickle_write.c (writer): fixture loading, a persistent_load hook that
 * builds a storage table, field assertions, deep equality, writer ops over a
 * storage table and the dump -> load round trip.
 */
#ifndef CK_TEST_PICKLE_UTIL_H
#define CK_TEST_PICKLE_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pickle.h"

/* a string literal as (bytes, length), NULs included */
#define B(s) s, sizeof(s) - 1

static inline uint8_t *slurp(const char *name, size_t *len)
{
	const char *dir = getenv("CK_DATA") ? getenv("CK_DATA") : "tests/data";
	char path[1024];
	snprintf(path, sizeof path, "%s/pickle/%s", dir, name);
	FILE *f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = malloc((size_t)n + 1);
	ck_assert(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* persistent_load for torch ids: one storage per key, dtype from the class. */
static inline ck_err pid_load(void *ctx, struct ck_value *pid, struct ck_value **out, struct ck_error *err)
{
	struct ck_ckpt *ck = ctx;
	if (pid->kind != CK_V_TUPLE || pid->u.seq.n < 5)
		return ck_error_set(err, CK_EFORMAT, "test: bad pid");
	struct ck_value **a = pid->u.seq.items;
	if (a[0]->kind != CK_V_STR || strcmp(a[0]->u.s.p, "storage") || a[1]->kind != CK_V_GLOBAL ||
	    a[2]->kind != CK_V_STR || a[4]->kind != CK_V_INT || a[4]->u.i < 0)
		return ck_error_set(err, CK_EFORMAT, "test: bad pid");
	enum ck_dtype dt = ck_pickle_storage_dtype(a[1]->u.g.name);
	long idx = -1;
	for (size_t i = 0; i < ck->nstorages; i++)
		if (strcmp(ck->storages[i].key, a[2]->u.s.p) == 0)
			idx = (long)i;
	if (idx < 0)
		idx = ck_ckpt_add_storage(ck, a[2]->u.s.p, dt, (uint64_t)a[4]->u.i * ck_dtype_size(dt), -1, 0);
	if (idx < 0)
		return ck_error_set(err, CK_ENOMEM, "test: oom");
	struct ck_value *v = ck_value_new(CK_V_STORAGE);
	if (!v)
		return ck_error_set(err, CK_ENOMEM, "test: oom");
	v->u.i = idx;
	*out = v;
	return CK_OK;
}

static inline ck_err pid_fail(void *ctx, struct ck_value *pid, struct ck_value **out, struct ck_error *err)
{
	return ck_error_set(err, CK_EIO, "test: storage refused");
}

static inline void ck_release(struct ck_ckpt *ck)
{
	for (size_t i = 0; i < ck->nstorages; i++)
		free(ck->storages[i].key);
	free(ck->storages);
	memset(ck, 0, sizeof *ck);
}

static inline ck_err load_buf(const uint8_t *buf, size_t len, struct ck_ckpt *ck, struct ck_value **v,
		       struct ck_error *err)
{
	struct ck_pickle_hooks h = {.persistent_load = pid_load, .ctx = ck, .ck = ck};
	return ck_pickle_load(buf, len, &h, "fixture.pkl", v, NULL, err);
}

static inline struct ck_value *load_fixture(const char *name, struct ck_ckpt *ck)
{
	size_t len;
	uint8_t *buf = slurp(name, &len);
	struct ck_value *v = NULL;
	struct ck_error err = {0};
	size_t used = 0;
	struct ck_pickle_hooks h = {.persistent_load = pid_load, .ctx = ck, .ck = ck};
	ck_err rc = ck_pickle_load(buf, len, &h, name, &v, &used, &err);
	ck_assert_msg(rc == CK_OK, "%s: %s", name, err.msg);
	ck_assert_uint_eq(used, len);
	free(buf);
	return v;
}

static inline struct ck_value *dget(const struct ck_value *d, const char *key)
{
	ck_assert_int_eq(d->kind, CK_V_DICT);
	for (size_t i = 0; i < d->u.dict.n; i++)
		if (d->u.dict.keys[i]->kind == CK_V_STR && strcmp(d->u.dict.keys[i]->u.s.p, key) == 0)
			return d->u.dict.vals[i];
	ck_abort_msg("key '%s' missing", key);
	return NULL;
}

static inline struct ck_value *dgeti(const struct ck_value *d, int64_t key)
{
	ck_assert_int_eq(d->kind, CK_V_DICT);
	for (size_t i = 0; i < d->u.dict.n; i++)
		if (d->u.dict.keys[i]->kind == CK_V_INT && d->u.dict.keys[i]->u.i == key)
			return d->u.dict.vals[i];
	ck_abort_msg("int key %lld missing", (long long)key);
	return NULL;
}

static inline void is_int(const struct ck_value *v, int64_t i)
{
	ck_assert_int_eq(v->kind, CK_V_INT);
	ck_assert_int_eq(v->u.i, i);
}

static inline void is_str(const struct ck_value *v, const char *s)
{
	ck_assert_int_eq(v->kind, CK_V_STR);
	ck_assert_uint_eq(v->u.s.len, strlen(s));
	ck_assert_str_eq(v->u.s.p, s);
}

static inline void is_bytes(const struct ck_value *v, const char *s, size_t n)
{
	ck_assert_int_eq(v->kind, CK_V_BYTES);
	ck_assert_uint_eq(v->u.s.len, n);
	ck_assert(memcmp(v->u.s.p, s, n) == 0);
}

static inline void is_text(const struct ck_value *v, const char *repr)
{
	char *t = ck_value_text(v);
	ck_assert_str_eq(t, repr);
	free(t);
}

static inline void is_global(const struct ck_value *v, const char *module, const char *name)
{
	ck_assert_int_eq(v->kind, CK_V_GLOBAL);
	ck_assert_str_eq(v->u.g.module, module);
	ck_assert_str_eq(v->u.g.name, name);
}

/* Every tensor field; shape/stride as arrays of ndim entries. */
static inline void is_tensor(const struct ck_ckpt *ck, const struct ck_value *v, enum ck_dtype dt, int ndim,
		      const int64_t *shape, const int64_t *stride, int64_t offset, const char *key,
		      int requires_grad, int is_param)
{
	ck_assert_int_eq(v->kind, CK_V_TENSOR);
	const struct ck_tensor *t = v->u.t;
	ck_assert_int_eq(t->dtype, dt);
	ck_assert_int_eq(t->ndim, ndim);
	uint64_t numel = 1;
	for (int i = 0; i < ndim; i++) {
		ck_assert_int_eq(t->shape[i], shape[i]);
		ck_assert_int_eq(t->stride[i], stride[i]);
		numel *= (uint64_t)shape[i];
	}
	ck_assert_int_eq(t->offset, offset);
	ck_assert_int_ge(t->storage, 0);
	ck_assert_uint_lt((size_t)t->storage, ck->nstorages);
	ck_assert_str_eq(ck->storages[t->storage].key, key);
	ck_assert_int_eq(t->requires_grad, requires_grad);
	ck_assert_int_eq(t->is_param, is_param);
	ck_assert_uint_eq(t->nbytes, numel * ck_dtype_size(dt));
}

#define I64(...) ((const int64_t[]){__VA_ARGS__})

/* Deep equality, tensors compared field by field with their storage keys. */

static inline int deq(const struct ck_value *a, const struct ck_value *b, const struct ck_ckpt *ca,
	       const struct ck_ckpt *cb)
{
	if (!a || !b)
		return a == b;
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case CK_V_NONE: return 1;
	case CK_V_BOOL: return a->u.b == b->u.b;
	case CK_V_INT: return a->u.i == b->u.i;
	case CK_V_FLOAT: return memcmp(&a->u.f, &b->u.f, sizeof a->u.f) == 0;
	case CK_V_STR: case CK_V_BYTES: case CK_V_BIGINT:
		return a->u.s.len == b->u.s.len && memcmp(a->u.s.p, b->u.s.p, a->u.s.len) == 0;
	case CK_V_LIST: case CK_V_TUPLE: case CK_V_SET:
		if (a->u.seq.n != b->u.seq.n)
			return 0;
		for (size_t i = 0; i < a->u.seq.n; i++)
			if (!deq(a->u.seq.items[i], b->u.seq.items[i], ca, cb))
				return 0;
		return 1;
	case CK_V_DICT:
		if (a->u.dict.n != b->u.dict.n || a->u.dict.ordered != b->u.dict.ordered ||
		    !deq(a->u.dict.attrs, b->u.dict.attrs, ca, cb))
			return 0;
		for (size_t i = 0; i < a->u.dict.n; i++)
			if (!deq(a->u.dict.keys[i], b->u.dict.keys[i], ca, cb) ||
			    !deq(a->u.dict.vals[i], b->u.dict.vals[i], ca, cb))
				return 0;
		return 1;
	case CK_V_TENSOR: {
		const struct ck_tensor *x = a->u.t, *y = b->u.t;
		if (x->dtype != y->dtype || x->ndim != y->ndim || x->offset != y->offset ||
		    x->requires_grad != y->requires_grad || x->is_param != y->is_param || x->nbytes != y->nbytes)
			return 0;
		for (int i = 0; i < x->ndim; i++)
			if (x->shape[i] != y->shape[i] || x->stride[i] != y->stride[i])
				return 0;
		return strcmp(ca->storages[x->storage].key, cb->storages[y->storage].key) == 0;
	}
	case CK_V_GLOBAL:
		return strcmp(a->u.g.module, b->u.g.module) == 0 && strcmp(a->u.g.name, b->u.g.name) == 0;
	case CK_V_STORAGE:
		return strcmp(ca->storages[a->u.i].key, cb->storages[b->u.i].key) == 0;
	case CK_V_OBJECT:
		return deq(a->u.obj.callable, b->u.obj.callable, ca, cb) &&
		       deq(a->u.obj.args, b->u.obj.args, ca, cb) && deq(a->u.obj.state, b->u.obj.state, ca, cb);
	}
	return 0;
}

/* Writer ops over a ck storage table. */
static inline const char *ops_key(void *ctx, long s) { return ((struct ck_ckpt *)ctx)->storages[s].key; }
static inline uint64_t ops_numel(void *ctx, long s)
{
	const struct ck_storage *st = &((struct ck_ckpt *)ctx)->storages[s];
	return st->nbytes / ck_dtype_size(st->dtype);
}
static inline enum ck_dtype ops_dtype(void *ctx, long s) { return ((struct ck_ckpt *)ctx)->storages[s].dtype; }

static inline void dump(const struct ck_value *v, struct ck_ckpt *ck, struct ck_buf *out)
{
	struct ck_pickle_writer_ops ops = {ops_key, ops_numel, ops_dtype, ck};
	struct ck_error err = {0};
	ck_buf_init(out);
	ck_err rc = ck_pickle_dump(v, &ops, out, &err);
	ck_assert_msg(rc == CK_OK, "dump: %s", err.msg);
}

/* dump -> load -> deep equal; returns the reloaded tree (caller unrefs). */
static inline struct ck_value *roundtrip(const struct ck_value *v, struct ck_ckpt *ck, struct ck_ckpt *ck2)
{
	struct ck_buf b;
	dump(v, ck, &b);
	ck_assert_int_eq(b.p[0], 0x80);
	ck_assert_int_eq(b.p[1], 2);
	struct ck_value *back = NULL;
	struct ck_error err = {0};
	ck_err rc = load_buf(b.p, b.len, ck2, &back, &err);
	ck_assert_msg(rc == CK_OK, "reload: %s", err.msg);
	ck_assert_msg(deq(v, back, ck, ck2), "round trip differs");
	/* a second dump of the reloaded tree is byte-identical */
	struct ck_buf b2;
	dump(back, ck2, &b2);
	ck_assert_uint_eq(b2.len, b.len);
	ck_assert(memcmp(b.p, b2.p, b.len) == 0);
	ck_buf_release(&b);
	ck_buf_release(&b2);
	return back;
}

#endif
