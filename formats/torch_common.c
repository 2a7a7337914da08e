/*
 * torch_common.c — what the PyTorch zip reader, the legacy reader and the
 * writer share: persistent-id parsing (the storage-class table is pickle.h's),
 * a small string map, and the walk that checks every tensor view.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "pickle.h"
#include "torch.h"

#define WALK_MAX_DEPTH 512

static int as_u64(const struct ck_value *v, uint64_t *out)
{
	if (!v || v->kind != CK_V_INT || v->u.i < 0)
		return 0;
	*out = (uint64_t)v->u.i;
	return 1;
}

ck_err ck_torch_pid_parse(const char *path, const struct ck_value *pid, int nfields,
			  struct ck_torch_pid *out, struct ck_error *err)
{
	memset(out, 0, sizeof *out);
	if (!pid || pid->kind != CK_V_TUPLE || pid->u.seq.n < 1)
		return ck_error_set(err, CK_EFORMAT, "%s: persistent id is not a tuple", path);
	struct ck_value **it = pid->u.seq.items;
	if (it[0]->kind != CK_V_STR || strcmp(it[0]->u.s.p, "storage") != 0) {
		if (it[0]->kind == CK_V_STR && strcmp(it[0]->u.s.p, "module") == 0)
			return ck_error_set(err, CK_EUNSUP, "%s: pickled nn.Module objects are not supported "
					    "(save a state_dict instead)", path);
		return ck_error_set(err, CK_EFORMAT, "%s: persistent id is not a storage", path);
	}
	if (pid->u.seq.n != (size_t)nfields)
		return ck_error_set(err, CK_EFORMAT, "%s: storage persistent id has %zu fields, expected %d",
				    path, pid->u.seq.n, nfields);
	const struct ck_value *cls = it[1];
	if (cls->kind != CK_V_GLOBAL)
		return ck_error_set(err, CK_EFORMAT, "%s: storage type is not a class", path);
	out->dtype = ck_pickle_storage_dtype(cls->u.g.name);
	if (out->dtype == CK_DT_INVALID || strncmp(cls->u.g.module, "torch", 5) != 0)
		return ck_error_set(err, CK_EUNSUP, "%s: unsupported storage type '%s.%s'", path,
				    cls->u.g.module, cls->u.g.name);
	if (it[2]->kind == CK_V_STR)
		out->key = it[2]->u.s.p;
	else
		return ck_error_set(err, CK_EFORMAT, "%s: storage key is not a string", path);
	if (it[3]->kind != CK_V_STR)
		return ck_error_set(err, CK_EFORMAT, "%s: storage '%s': location is not a string", path, out->key);
	if (!as_u64(it[4], &out->numel))
		return ck_error_set(err, CK_EFORMAT, "%s: storage '%s': bad element count", path, out->key);
	uint64_t bytes;
	if (!ck_mul_u64(out->numel, ck_dtype_size(out->dtype), &bytes) || bytes > INT64_MAX)
		return ck_error_set(err, CK_ELIMIT, "%s: storage '%s': absurd element count %" PRIu64,
				    path, out->key, out->numel);
	if (nfields == 6 && it[5]->kind != CK_V_NONE)
		out->view = it[5];
	return CK_OK;
}

/* ---- string map ---------------------------------------------------------- */

static uint64_t fnv1a(const char *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
	return h;
}

void ck_strmap_init(struct ck_strmap *m)
{
	memset(m, 0, sizeof *m);
}

void ck_strmap_release(struct ck_strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->lens);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

/* Slot of key, or of the empty slot where it would go. */
static size_t slot(const struct ck_strmap *m, const char *key, size_t len)
{
	size_t i = (size_t)fnv1a(key, len) & (m->cap - 1);
	while (m->keys[i] && (m->lens[i] != len || memcmp(m->keys[i], key, len) != 0))
		i = (i + 1) & (m->cap - 1);
	return i;
}

long ck_strmap_get(const struct ck_strmap *m, const char *key, size_t len)
{
	if (!m->cap)
		return -1;
	size_t i = slot(m, key, len);
	return m->keys[i] ? m->vals[i] : -1;
}

ck_err ck_strmap_put(struct ck_strmap *m, const char *key, size_t len, long val)
{
	if ((m->n + 1) * 2 > m->cap) { /* keep the load under one half */
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct ck_strmap bigger = {calloc(cap, sizeof(char *)), calloc(cap, sizeof(size_t)),
					   calloc(cap, sizeof(long)), cap, 0};
		if (!bigger.keys || !bigger.lens || !bigger.vals) {
			free(bigger.keys);
			free(bigger.lens);
			free(bigger.vals);
			return CK_ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++) {
			if (!m->keys[i])
				continue;
			size_t j = slot(&bigger, m->keys[i], m->lens[i]);
			bigger.keys[j] = m->keys[i];
			bigger.lens[j] = m->lens[i];
			bigger.vals[j] = m->vals[i];
			bigger.n++;
		}
		free(m->keys);
		free(m->lens);
		free(m->vals);
		*m = bigger;
	}
	size_t i = slot(m, key, len);
	if (!m->keys[i]) {
		char *k = malloc(len + 1);
		if (!k)
			return CK_ENOMEM;
		memcpy(k, key, len);
		k[len] = 0;
		m->keys[i] = k;
		m->lens[i] = len;
		m->n++;
	}
	m->vals[i] = val;
	return CK_OK;
}

/* ---- walking tensors ----------------------------------------------------- */

struct walk {
	char sep;
	int storages;   /* also report bare CK_V_STORAGE values */
	ck_torch_tensor_cb cb;
	void *ctx;
	const char *path;
	struct ck_error *err;
	struct ck_buf key;
};

static ck_err walk(struct walk *w, struct ck_value *v, int depth);

/* Appends one key segment, walks val, and restores the key. */
static ck_err walk_child(struct walk *w, const struct ck_value *k, size_t index, struct ck_value *val,
			 int depth)
{
	size_t mark = w->key.len;
	if (mark)
		ck_buf_addc(&w->key, (uint8_t)w->sep);
	if (!k) {
		ck_buf_printf(&w->key, "%zu", index);
	} else if (k->kind == CK_V_STR) {
		ck_buf_add(&w->key, k->u.s.p, k->u.s.len);
	} else {
		char *t = ck_value_text(k);
		ck_buf_adds(&w->key, t ? t : "?");
		free(t);
	}
	ck_err rc = walk(w, val, depth + 1);
	w->key.len = mark;
	return rc;
}

static ck_err walk(struct walk *w, struct ck_value *v, int depth)
{
	if (!v)
		return CK_OK;
	if (depth > WALK_MAX_DEPTH)
		return ck_error_set(w->err, CK_ELIMIT, "%s: values nested too deeply", w->path);
	ck_err rc = CK_OK;
	switch (v->kind) {
	case CK_V_STORAGE:
		if (!w->storages)
			return CK_OK;
		/* fall through */
	case CK_V_TENSOR:
		if (w->key.oom)
			return ck_error_set(w->err, CK_ENOMEM, "%s: out of memory", w->path);
		return w->cb(w->ctx, ck_buf_cstr(&w->key), v, w->err);
	case CK_V_DICT:
		for (size_t i = 0; i < v->u.dict.n && !rc; i++)
			rc = walk_child(w, v->u.dict.keys[i], i, v->u.dict.vals[i], depth);
		return rc;
	case CK_V_LIST: case CK_V_TUPLE: case CK_V_SET:
		for (size_t i = 0; i < v->u.seq.n && !rc; i++)
			rc = walk_child(w, NULL, i, v->u.seq.items[i], depth);
		return rc;
	case CK_V_OBJECT:
		rc = walk(w, v->u.obj.args, depth + 1);
		if (!rc)
			rc = walk(w, v->u.obj.state, depth + 1);
		return rc;
	default:
		return CK_OK;
	}
}

static ck_err walk_root(struct ck_value *v, char sep, int storages, ck_torch_tensor_cb cb, void *ctx,
			const char *path, struct ck_error *err)
{
	struct walk w = {.sep = sep, .storages = storages, .cb = cb, .ctx = ctx, .path = path, .err = err};
	ck_buf_init(&w.key);
	ck_err rc = walk(&w, v, 0);
	ck_buf_release(&w.key);
	return rc;
}

ck_err ck_torch_walk(struct ck_value *v, char sep, ck_torch_tensor_cb cb, void *ctx,
		     const char *path, struct ck_error *err)
{
	return walk_root(v, sep, 0, cb, ctx, path, err);
}

ck_err ck_torch_walk_storages(struct ck_value *v, char sep, ck_torch_tensor_cb cb, void *ctx,
			      const char *path, struct ck_error *err)
{
	return walk_root(v, sep, 1, cb, ctx, path, err);
}

static ck_err check_one(void *ctx, const char *key, struct ck_value *tensor, struct ck_error *err)
{
	return ck_tensor_check(ctx, tensor->u.t, key, err);
}

ck_err ck_torch_check_tensors(struct ck_ckpt *ck, struct ck_error *err)
{
	return ck_torch_walk(ck->root, ck->sep, check_one, ck, ck->path, err);
}
