/*
 * mount_text.c — the contents of the mount's virtual files (config.json,
 * _report, _remap, shape, every folder's hidden .shape) and of plain leaves.
 *
 * Texts are immutable reference-counted blobs: an open file keeps the blob it
 * saw, so a reader always gets one whole, consistent text even while the tree
 * changes.  The latest text of each kind is cached until the tree's generation
 * moves on, so `stat` (size) and `cat` (content) agree and are cheap.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "mount_priv.h"

#define CK_JSON_DEPTH 64   /* metadata nesting we render; deeper becomes its repr */

static const char *const vfile_names[CK_VF_COUNT] = {
	[CK_VF_CONFIG] = "config.json", [CK_VF_REPORT] = "_report",
	[CK_VF_REMAP] = "_remap", [CK_VF_SHAPE] = "shape", [CK_VF_DOTSHAPE] = ".shape",
};

const char *ck_vfile_name(enum ck_vfile kind)
{
	return (unsigned)kind < CK_VF_COUNT ? vfile_names[kind] : "";
}

enum ck_vfile ck_vfile_by_name(const char *name)
{
	for (int k = 0; k < CK_VF_ROOT_COUNT; k++)
		if (strcmp(name, vfile_names[k]) == 0)
			return (enum ck_vfile)k;
	return CK_VF_NONE;
}

int ck_vfile_dynamic(const struct ck_mount *m, enum ck_vfile kind)
{
	return kind != CK_VF_CONFIG || !m->ck->config_json;
}

struct ck_blob *ck_blob_new(const char *p, size_t len)
{
	if (len > SIZE_MAX - sizeof(struct ck_blob) - 1)
		return NULL;
	struct ck_blob *b = malloc(sizeof *b + len + 1);
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->len = len;
	if (len)
		memcpy(b->data, p, len);
	b->data[len] = 0;
	return b;
}

struct ck_blob *ck_blob_take(char *s)
{
	if (!s)
		return NULL;
	struct ck_blob *b = ck_blob_new(s, strlen(s));
	free(s);
	return b;
}

struct ck_blob *ck_blob_ref(struct ck_blob *b)
{
	if (b)
		atomic_fetch_add(&b->refs, 1);
	return b;
}

void ck_blob_unref(struct ck_blob *b)
{
	if (b && atomic_fetch_sub(&b->refs, 1) == 1)
		free(b);
}

struct ck_blob *ck_mount_leaf_text(const struct ck_value *v)
{
	char *s = ck_value_text(v);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	struct ck_blob *b = malloc(sizeof *b + n + 2);
	if (b) {
		atomic_init(&b->refs, 1);
		memcpy(b->data, s, n);
		b->data[n] = '\n';
		b->data[n + 1] = 0;
		b->len = n + 1;
	}
	free(s);
	return b;
}

/* A Python value as JSON: dicts with any keys become objects keyed by the key's text. */
static cJSON *value_json(const struct ck_value *v, int depth)
{
	if (!v)
		return cJSON_CreateNull();
	if (depth > CK_JSON_DEPTH)
		goto as_text;
	switch (v->kind) {
	case CK_V_NONE: return cJSON_CreateNull();
	case CK_V_BOOL: return cJSON_CreateBool(v->u.b);
	case CK_V_INT: return cJSON_CreateNumber((double)v->u.i);
	case CK_V_FLOAT: return cJSON_CreateNumber(v->u.f);
	case CK_V_STR: return cJSON_CreateString(v->u.s.p);
	case CK_V_LIST: case CK_V_TUPLE: case CK_V_SET: {
		cJSON *a = cJSON_CreateArray();
		for (size_t i = 0; a && i < v->u.seq.n; i++) {
			cJSON *it = value_json(v->u.seq.items[i], depth + 1);
			if (!it || !cJSON_AddItemToArray(a, it)) {
				cJSON_Delete(it);
				cJSON_Delete(a);
				return NULL;
			}
		}
		return a;
	}
	case CK_V_DICT: {
		cJSON *o = cJSON_CreateObject();
		for (size_t i = 0; o && i < v->u.dict.n; i++) {
			const struct ck_value *k = v->u.dict.keys[i];
			char *ks = k->kind == CK_V_STR ? strdup(k->u.s.p) : ck_value_text(k);
			cJSON *it = ks ? value_json(v->u.dict.vals[i], depth + 1) : NULL;
			if (!it || !cJSON_AddItemToObject(o, ks, it)) {
				free(ks);
				cJSON_Delete(it);
				cJSON_Delete(o);
				return NULL;
			}
			free(ks);
		}
		return o;
	}
	default:
		break;
	}
as_text:;
	char *s = ck_value_text(v);
	cJSON *j = s ? cJSON_CreateString(s) : NULL;
	free(s);
	return j;
}

/* {"format","tensors","parameters","dtypes","metadata"} of the current tree. */
static char *config_summary(struct ck_mount *m)
{
	struct ck_node **leaves = NULL;
	size_t n = 0;
	struct ck_error err;
	char *out = NULL;
	cJSON *root = cJSON_CreateObject(), *dtypes = cJSON_CreateObject();
	if (!root || !dtypes || ck_tree_leaves(m->tree, m->tree->root, &leaves, &n, &err) != CK_OK)
		goto out;
	uint64_t tensors = 0, params = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ck_value *v = leaves[i]->value;
		if (!v || v->kind != CK_V_TENSOR)
			continue;
		const struct ck_tensor *t = v->u.t;
		uint64_t numel = 1;
		for (int d = 0; d < t->ndim; d++)
			if (t->shape[d] < 0 || !ck_mul_u64(numel, (uint64_t)t->shape[d], &numel))
				numel = 0;
		tensors++;
		params += numel;
		const char *dn = ck_dtype_name(t->dtype);
		cJSON *c = cJSON_GetObjectItemCaseSensitive(dtypes, dn);
		if (c)
			cJSON_SetNumberValue(c, c->valuedouble + 1);
		else if (!cJSON_AddNumberToObject(dtypes, dn, 1))
			goto out;
	}
	cJSON *meta = value_json(m->ck->metadata, 0);
	if (!meta)
		goto out;
	if (!cJSON_AddStringToObject(root, "format", m->ck->fmt ? m->ck->fmt->name : "unknown") ||
	    !cJSON_AddNumberToObject(root, "tensors", (double)tensors) ||
	    !cJSON_AddNumberToObject(root, "parameters", (double)params)) {
		cJSON_Delete(meta);
		goto out;
	}
	cJSON_AddItemToObject(root, "dtypes", dtypes);
	dtypes = NULL;
	cJSON_AddItemToObject(root, "metadata", meta);
	char *s = cJSON_Print(root);
	if (s) {
		size_t len = strlen(s);
		out = malloc(len + 2);
		if (out) {
			memcpy(out, s, len);
			memcpy(out + len, "\n", 2);
		}
		cJSON_free(s);
	}
out:
	free(leaves);
	cJSON_Delete(dtypes);
	cJSON_Delete(root);
	return out;
}

static struct ck_blob *compute(struct ck_mount *m, enum ck_vfile kind, const struct ck_node *dir)
{
	int ok;
	switch (kind) {
	case CK_VF_CONFIG:
		if (m->ck->config_json)
			return ck_blob_new(m->ck->config_json, m->ck->config_len);
		return ck_blob_take(config_summary(m));
	case CK_VF_REPORT:
		return ck_blob_take(ck_report_text(m->tree, m->ref, 0, &ok));
	case CK_VF_REMAP:
		return ck_blob_take(ck_tree_remap_text(m->tree));
	case CK_VF_SHAPE:
		return ck_blob_take(ck_tree_shape_text(m->tree, m->tree->root));
	case CK_VF_DOTSHAPE:
		return ck_blob_take(ck_tree_shape_text(m->tree, dir));
	default:
		return NULL;
	}
}

struct ck_blob *ck_mount_text(struct ck_mount *m, enum ck_vfile kind, const struct ck_node *dir)
{
	if ((unsigned)kind >= CK_VF_COUNT)
		return NULL;
	uint64_t gen = m->tree->generation, dino = dir ? dir->ino : 0;
	/* One computer at a time: the tree's text builders are not known to be reentrant. */
	pthread_mutex_lock(&m->cache_mu);
	struct ck_blob *b = m->cache[kind].b;
	if (b && m->cache[kind].gen == gen && m->cache[kind].dir == dino) {
		ck_blob_ref(b);
	} else {
		b = compute(m, kind, dir);
		if (b) {
			ck_blob_unref(m->cache[kind].b);
			m->cache[kind].b = ck_blob_ref(b);
			m->cache[kind].gen = gen;
			m->cache[kind].dir = dino;
		}
	}
	pthread_mutex_unlock(&m->cache_mu);
	return b;
}

void ck_mount_text_clear(struct ck_mount *m)
{
	for (int k = 0; k < CK_VF_COUNT; k++) {
		ck_blob_unref(m->cache[k].b);
		m->cache[k].b = NULL;
	}
}
