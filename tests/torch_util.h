/* torch_util.h — helpers the PyTorch test suites share (test_torch.c,
 * test_torch_write.c): fixture paths, a per-test temp folder, finding tensors
 * and values by key, field and value assertions. */
#ifndef CK_TORCH_UTIL_H
#define CK_TORCH_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ck.h"
#include "torch.h"

#define UTIL static __attribute__((unused))

static char tmpdir[256]; /* per test, made by setup() */

UTIL const char *data_path(const char *name)
{
	static char buf[8][1024];
	static int at;
	const char *d = getenv("CK_DATA");
	char *b = buf[at++ % 8];
	snprintf(b, 1024, "%s/%s", d ? d : "tests/data", name);
	return b;
}

UTIL const char *tmp_path(const char *name)
{
	static char buf[4][1024];
	static int at;
	char *b = buf[at++ % 4];
	snprintf(b, 1024, "%s/%s", tmpdir, name);
	return b;
}

UTIL struct ck_ckpt *open_ok(const char *path)
{
	struct ck_ckpt *ck = NULL;
	struct ck_error err = {0};
	ck_err rc = ck_ckpt_open(path, &ck, &err);
	ck_assert_msg(rc == CK_OK, "%s: %s", path, err.msg);
	return ck;
}

/* ---- finding things ------------------------------------------------------- */

struct collect {
	char **keys;
	struct ck_value **vals;
	size_t n;
};

UTIL ck_err collect_cb(void *ctx, const char *key, struct ck_value *v, struct ck_error *err)
{
	struct collect *c = ctx;
	c->keys = realloc(c->keys, (c->n + 1) * sizeof *c->keys);
	c->vals = realloc(c->vals, (c->n + 1) * sizeof *c->vals);
	c->keys[c->n] = strdup(key);
	c->vals[c->n++] = v;
	return CK_OK;
}

UTIL struct collect tensors_of(struct ck_ckpt *ck)
{
	struct collect c = {0};
	struct ck_error err;
	ck_assert_int_eq(ck_torch_walk(ck->root, '.', collect_cb, &c, ck->path, &err), CK_OK);
	return c;
}

UTIL void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->keys[i]);
	free(c->keys);
	free(c->vals);
}

UTIL struct ck_tensor *tget(struct ck_ckpt *ck, const char *key)
{
	struct collect c = tensors_of(ck);
	struct ck_tensor *t = NULL;
	for (size_t i = 0; i < c.n && !t; i++)
		if (strcmp(c.keys[i], key) == 0)
			t = c.vals[i]->u.t;
	collect_free(&c);
	ck_assert_msg(t != NULL, "no tensor '%s' in %s", key, ck->path);
	return t;
}

UTIL struct ck_value *dget(struct ck_value *d, const char *key)
{
	ck_assert_int_eq(d->kind, CK_V_DICT);
	for (size_t i = 0; i < d->u.dict.n; i++)
		if (d->u.dict.keys[i]->kind == CK_V_STR && strcmp(d->u.dict.keys[i]->u.s.p, key) == 0)
			return d->u.dict.vals[i];
	ck_abort_msg("no key '%s'", key);
	return NULL;
}

UTIL struct ck_value *dgeti(struct ck_value *d, int64_t key)
{
	ck_assert_int_eq(d->kind, CK_V_DICT);
	for (size_t i = 0; i < d->u.dict.n; i++)
		if (d->u.dict.keys[i]->kind == CK_V_INT && d->u.dict.keys[i]->u.i == key)
			return d->u.dict.vals[i];
	ck_abort_msg("no key %lld", (long long)key);
	return NULL;
}

UTIL void assert_tensor(const struct ck_tensor *t, enum ck_dtype dt, int ndim, const int64_t *shape,
			  const int64_t *stride, int64_t offset)
{
	ck_assert_str_eq(ck_dtype_name(t->dtype), ck_dtype_name(dt));
	ck_assert_int_eq(t->ndim, ndim);
	for (int i = 0; i < ndim; i++) {
		ck_assert_int_eq(t->shape[i], shape[i]);
		ck_assert_int_eq(t->stride[i], stride[i]);
	}
	ck_assert_int_eq(t->offset, offset);
}
#define SHAPE(...) ((const int64_t[]){__VA_ARGS__})

/* Reads the first n logical bytes of t. */
UTIL void read_all(struct ck_ckpt *ck, const struct ck_tensor *t, void *buf, size_t n)
{
	size_t got;
	struct ck_error err;
	ck_assert_uint_le(n, t->nbytes);
	ck_assert_int_eq(ck_tensor_read(ck, t, buf, n, 0, &got, &err), CK_OK);
	ck_assert_uint_eq(got, n);
}

UTIL void assert_f32(struct ck_ckpt *ck, const char *key, const float *want, size_t n)
{
	float got[64];
	ck_assert_uint_le(n, 64);
	read_all(ck, tget(ck, key), got, n * sizeof(float));
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(got[i] == want[i], "%s[%zu] = %g, want %g", key, i, got[i], want[i]);
}

/* Same kinds, keys, Python values; tensors with equal fields and bytes. */
UTIL void compare_values(struct ck_ckpt *a, const struct ck_value *x, struct ck_ckpt *b, const struct ck_value *y,
			   const char *where)
{
	ck_assert_msg(x->kind == y->kind, "%s: kind %d vs %d", where, x->kind, y->kind);
	switch (x->kind) {
	case CK_V_DICT:
		ck_assert_int_eq(x->u.dict.ordered, y->u.dict.ordered);
		ck_assert_uint_eq(x->u.dict.n, y->u.dict.n);
		ck_assert_int_eq(!x->u.dict.attrs, !y->u.dict.attrs); /* state_dict _metadata */
		if (x->u.dict.attrs)
			compare_values(a, x->u.dict.attrs, b, y->u.dict.attrs, where);
		for (size_t i = 0; i < x->u.dict.n; i++) {
			ck_assert_msg(ck_value_equal(x->u.dict.keys[i], y->u.dict.keys[i]), "%s: key %zu", where, i);
			ck_assert_int_eq(x->u.dict.keys[i]->kind, y->u.dict.keys[i]->kind);
			compare_values(a, x->u.dict.vals[i], b, y->u.dict.vals[i], where);
		}
		break;
	case CK_V_LIST: case CK_V_TUPLE: case CK_V_SET:
		ck_assert_uint_eq(x->u.seq.n, y->u.seq.n);
		for (size_t i = 0; i < x->u.seq.n; i++)
			compare_values(a, x->u.seq.items[i], b, y->u.seq.items[i], where);
		break;
	case CK_V_FLOAT:
		ck_assert(x->u.f == y->u.f);
		break;
	case CK_V_TENSOR: {
		const struct ck_tensor *s = x->u.t, *t = y->u.t;
		assert_tensor(t, s->dtype, s->ndim, s->shape, s->stride, s->offset);
		ck_assert_int_eq(s->is_param, t->is_param);
		ck_assert_int_eq(s->requires_grad, t->requires_grad);
		char *p = malloc(s->nbytes + 1), *q = malloc(t->nbytes + 1);
		read_all(a, s, p, s->nbytes);
		read_all(b, t, q, t->nbytes);
		ck_assert_msg(memcmp(p, q, s->nbytes) == 0, "%s: tensor bytes differ", where);
		free(p);
		free(q);
		break;
	}
	default:
		ck_assert_msg(ck_value_equal(x, y), "%s: values differ", where);
	}
}

UTIL void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "%s/cktorch.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

UTIL void teardown(void)
{
	static const char *names[] = {"cut.pt", "three.pt", "rt.tmp", "subset.pt", "zip64.pt"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		unlink(tmp_path(names[i]));
	rmdir(tmpdir);
}

#endif
