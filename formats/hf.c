/*
 * hf.c — Hugging Face model folders, mounted as ONE tree and written back as
 * a complete folder.  Each weights file is opened with ck_ckpt_open (so
 * safetensors and torch .bin shards both work) and merged into one ck_ckpt:
 * its files and storages are appended and its tensors' storage indexes shifted.
 *
 * Folder layout:
 *  1. config.json: kept verbatim in ck->config_json (optional);
 *  2. the weights: the first present of HF_WEIGHTS (an index, else one file);
 *  3. an index is JSON {"metadata": {"total_size": N, ...},
 *     "weight_map": {KEY: SHARD}}; a SHARD is a plain file name in the folder,
 *     and every key of a shard must be mapped to it, and only to it;
 *  4. everything else (tokenizer files, generation_config.json, ...): copied
 *     as is by the writer.
 *
 * Order: shards in file-name order (model-00001-of-00003 ... is the order
 * transformers wrote them), each in its own order.  The index's weight_map is
 * sorted by key and would scatter a layer's tensors across the listing.
 *
 * Writing keeps the input's sharding: each tensor goes to the shard its bytes
 * came from, under the same file name; shards left empty are not written.  A
 * .bin shard stays torch when the registry has a "pytorch" writer, otherwise
 * it becomes safetensors (pytorch_model-X.bin -> model-X.safetensors).  A new
 * index gets a recomputed metadata.total_size.  One pytorch_model.bin is
 * handed the tree itself (nested values and tied storages kept); merged .bin
 * shards lose their OrderedDict `_metadata` (load_state_dict does without).
 * Other top-level weight files (model.fp16.safetensors, tf_model.h5, ...) are
 * not copied: they would be stale.  Sub-folders are copied whole.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "safetensors.h"

#define HF_MAX_JSON (64u << 20)   /* config.json, index: far above real ones */
#define HF_MAX_SHARDS 100000
#define HF_MAX_COPY_DEPTH 8

static const char *const HF_WEIGHTS[] = {
	"model.safetensors.index.json", "model.safetensors",
	"pytorch_model.bin.index.json", "pytorch_model.bin",
	"adapter_model.safetensors", "adapter_model.bin", NULL,
};

struct hf_shard {
	char *name;                   /* file name inside the folder */
	const struct ck_format *fmt;  /* the shard's own format */
	struct ck_value *metadata;    /* its metadata (safetensors __metadata__), or NULL */
	size_t file0, nfiles;         /* its files in ck->files */
};

struct hf_priv {
	char *index;                  /* the index's file name, NULL for a single file */
	char *index_meta;             /* the index's "metadata" object as JSON, or NULL */
	struct hf_shard *shards;
	size_t nshards;
};

struct hf_wm {                        /* one weight_map entry */
	const char *key, *shard;      /* borrowed from the cJSON tree */
	size_t si;                    /* index into priv->shards */
	int seen;
};

static char *hf_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);
	if (p) {
		memcpy(p, dir, a);
		p[a] = '/';
		memcpy(p + a + 1, name, b + 1);
	}
	return p;
}

static int hf_is_file(const char *dir, const char *name)
{
	char *p = hf_join(dir, name);
	struct stat st;
	int r = p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
	free(p);
	return r;
}

static int hf_probe(const char *path, const uint8_t *head, size_t n, int is_dir)
{
	if (is_dir != 1)
		return 0;
	for (size_t i = 0; HF_WEIGHTS[i]; i++)
		if (hf_is_file(path, HF_WEIGHTS[i]))
			return 80;
	return hf_is_file(path, "config.json") ? 30 : 0;   /* so a bare config gets a clear error */
}

/* Reads a whole small file; *out NUL-terminated.  CK_ENOENT when absent. */
static ck_err hf_slurp(const char *path, char **out, size_t *len, struct ck_error *err)
{
	*out = NULL;
	struct ck_file f = {.path = (char *)path, .fd = open(path, O_RDONLY | O_CLOEXEC)};
	if (f.fd < 0)
		return ck_error_errno(err, errno == ENOENT ? CK_ENOENT : CK_EIO, errno, "%s", path);
	struct stat st;
	ck_err rc;
	if (fstat(f.fd, &st) != 0) {
		rc = ck_error_errno(err, CK_EIO, errno, "%s", path);
	} else if ((uint64_t)st.st_size > HF_MAX_JSON) {
		rc = ck_error_set(err, CK_ELIMIT, "%s: %lld bytes is over the limit of %u for a JSON file",
				  path, (long long)st.st_size, HF_MAX_JSON);
	} else if (!(*out = malloc((size_t)st.st_size + 1))) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	} else {
		rc = ck_file_pread(&f, *out, (size_t)st.st_size, 0, err);
		(*out)[st.st_size] = 0;
		*len = (size_t)st.st_size;
	}
	close(f.fd);
	if (rc != CK_OK) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---- merging shards ------------------------------------------------------- */

/* Tensors met while shifting storage indexes: a tensor reachable twice (pickle
 * memo sharing) must be shifted once. */
struct hf_seen {
	const void **p;
	size_t cap, n;
};

static int hf_seen_add(struct hf_seen *s, const void *x)
{
	if (2 * (s->n + 1) > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		const void **p = calloc(cap, sizeof *p);
		if (!p)
			return -1;
		for (size_t i = 0; i < s->cap; i++)
			if (s->p[i]) {
				size_t h = ((uintptr_t)s->p[i] >> 4) & (cap - 1);
				while (p[h])
					h = (h + 1) & (cap - 1);
				p[h] = s->p[i];
			}
		free(s->p);
		s->p = p;
		s->cap = cap;
	}
	size_t h = ((uintptr_t)x >> 4) & (s->cap - 1);
	while (s->p[h]) {
		if (s->p[h] == x)
			return 0;
		h = (h + 1) & (s->cap - 1);
	}
	s->p[h] = x;
	s->n++;
	return 1;
}

static int hf_shift(struct ck_value *v, long base, struct hf_seen *seen, int depth)
{
	if (!v || depth > 1000)
		return 0;
	switch (v->kind) {
	case CK_V_TENSOR: {
		int r = hf_seen_add(seen, v->u.t);
		if (r > 0 && v->u.t->storage >= 0)
			v->u.t->storage += base;
		return r < 0;
	}
	case CK_V_LIST: case CK_V_TUPLE: case CK_V_SET:
		for (size_t i = 0; i < v->u.seq.n; i++)
			if (hf_shift(v->u.seq.items[i], base, seen, depth + 1))
				return 1;
		return 0;
	case CK_V_DICT:
		for (size_t i = 0; i < v->u.dict.n; i++)
			if (hf_shift(v->u.dict.vals[i], base, seen, depth + 1))
				return 1;
		return hf_shift(v->u.dict.attrs, base, seen, depth + 1);
	case CK_V_OBJECT:
		return hf_shift(v->u.obj.args, base, seen, depth + 1) ||
		       hf_shift(v->u.obj.state, base, seen, depth + 1);
	default:
		return 0;
	}
}

static int hf_cmp_wm(const void *a, const void *b)
{
	return strcmp(((const struct hf_wm *)a)->key, ((const struct hf_wm *)b)->key);
}

/* Moves sub's files, storages and root entries into ck (shard si), checking
 * its keys against the weight map when there is an index. */
static ck_err hf_merge(struct ck_ckpt *ck, struct ck_ckpt *sub, size_t si, struct hf_wm *wm, size_t nwm,
		       struct ck_error *err)
{
	struct hf_priv *p = ck->priv;
	struct hf_shard *sh = &p->shards[si];
	const char *path = ck->path;
	size_t fbase = ck->nfiles;
	long sbase = (long)ck->nstorages;
	if (p->index || ck->root) {
		if (!sub->root || sub->root->kind != CK_V_DICT)
			return ck_error_set(err, CK_EUNSUP, "%s: shard '%s' is not a dict of tensors", path, sh->name);
		for (size_t i = 0; i < sub->root->u.dict.n; i++) {
			const struct ck_value *k = sub->root->u.dict.keys[i];
			if (k->kind != CK_V_STR)
				return ck_error_set(err, CK_EUNSUP, "%s: shard '%s' has a key that is not a string",
						    path, sh->name);
			struct hf_wm q = {.key = k->u.s.p}, *e = nwm ? bsearch(&q, wm, nwm, sizeof *wm, hf_cmp_wm) : NULL;
			if (!e)
				return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s' in shard '%s' is not in %s",
						    path, k->u.s.p, sh->name, p->index);
			if (e->si != si)
				return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s' is in shard '%s' but %s maps it to '%s'",
						    path, k->u.s.p, sh->name, p->index, e->shard);
			e->seen = 1;
		}
	}
	struct ck_file *f = realloc(ck->files, (ck->nfiles + sub->nfiles) * sizeof *f);
	if (!f && ck->nfiles + sub->nfiles)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	ck->files = f;
	for (size_t i = 0; i < sub->nfiles; i++) {
		ck->files[ck->nfiles++] = sub->files[i];
		sub->files[i].fd = -1;
		sub->files[i].path = NULL;
	}
	sub->nfiles = 0;
	sh->file0 = fbase;
	sh->nfiles = ck->nfiles - fbase;
	sh->fmt = sub->fmt;
	sh->metadata = ck_value_ref(sub->metadata);
	for (size_t i = 0; i < sub->nstorages; i++) {
		const struct ck_storage *s = &sub->storages[i];
		long k = ck_ckpt_add_storage(ck, s->key, s->dtype, s->nbytes,
					     s->file >= 0 ? s->file + (int)fbase : -1, s->offset);
		if (k < 0)
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
		ck->storages[k].located = s->located;
	}
	if (!ck->metadata)
		ck->metadata = ck_value_ref(sub->metadata);
	ck->sep = sub->sep;
	if (!p->index && !ck->root) {   /* one weights file: its root as it is */
		ck->root = ck_value_ref(sub->root);
		return CK_OK;
	}
	struct hf_seen seen = {0};
	int bad = sbase && hf_shift(sub->root, sbase, &seen, 0);
	free(seen.p);
	if (bad)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	if (!ck->root) {
		if (!(ck->root = ck_value_new(CK_V_DICT)))
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
		ck->root->u.dict.ordered = 1;
	}
	for (size_t i = 0; i < sub->root->u.dict.n; i++)
		if (ck_value_setitem(ck->root, ck_value_ref(sub->root->u.dict.keys[i]),
				     ck_value_ref(sub->root->u.dict.vals[i])) != CK_OK)
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	return CK_OK;
}

/* ---- reading -------------------------------------------------------------- */

static int hf_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int hf_plain_name(const char *s)
{
	return *s && !strchr(s, '/') && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Parses the index into a sorted weight map and the sorted shard list. */
static ck_err hf_parse_index(struct ck_ckpt *ck, cJSON *j, struct hf_wm **out, size_t *nout,
			     struct ck_error *err)
{
	struct hf_priv *p = ck->priv;
	const char *path = ck->path, *ix = p->index;
	const cJSON *map = cJSON_GetObjectItemCaseSensitive(j, "weight_map");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(j, "metadata");
	if (!cJSON_IsObject(j) || !cJSON_IsObject(map))
		return ck_error_set(err, CK_EFORMAT, "%s: %s has no \"weight_map\" object", path, ix);
	if (cJSON_IsObject(meta) && !(p->index_meta = cJSON_PrintUnformatted(meta)))
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	size_t n = 0;
	for (const cJSON *e = map->child; e; e = e->next, n++)
		if (!cJSON_IsString(e) || !hf_plain_name(e->valuestring))
			return ck_error_set(err, CK_EFORMAT, "%s: %s maps '%s' to something that is not a file name "
					    "in the folder", path, ix, e->string);
	struct hf_wm *wm = calloc(n ? n : 1, sizeof *wm);
	const char **names = calloc(n ? n : 1, sizeof *names);
	if (!wm || !names) {
		free(wm);
		free(names);
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	}
	n = 0;
	for (const cJSON *e = map->child; e; e = e->next, n++) {
		wm[n] = (struct hf_wm){.key = e->string, .shard = e->valuestring};
		names[n] = e->valuestring;
	}
	qsort(wm, n, sizeof *wm, hf_cmp_wm);
	qsort(names, n, sizeof *names, hf_cmp_str);
	ck_err rc = CK_OK;
	for (size_t i = 1; i < n && rc == CK_OK; i++)
		if (strcmp(wm[i - 1].key, wm[i].key) == 0)
			rc = ck_error_set(err, CK_EFORMAT, "%s: %s lists '%s' twice", path, ix, wm[i].key);
	size_t ns = 0;
	for (size_t i = 0; i < n && rc == CK_OK; i++)
		if (!i || strcmp(names[i - 1], names[i]) != 0)
			names[ns++] = names[i];
	if (rc == CK_OK && ns > HF_MAX_SHARDS)
		rc = ck_error_set(err, CK_ELIMIT, "%s: %s names %zu shards (limit %d)", path, ix, ns, HF_MAX_SHARDS);
	if (rc == CK_OK && !(p->shards = calloc(ns ? ns : 1, sizeof *p->shards)))
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	for (size_t i = 0; i < ns && rc == CK_OK; i++, p->nshards++)
		if (!(p->shards[i].name = strdup(names[i])))
			rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	for (size_t i = 0; i < n && rc == CK_OK; i++) {
		const char **hit = bsearch(&wm[i].shard, names, ns, sizeof *names, hf_cmp_str);
		wm[i].si = (size_t)(hit - names);
	}
	free(names);
	if (rc != CK_OK) {
		free(wm);
		return rc;
	}
	*out = wm;
	*nout = n;
	return CK_OK;
}

static ck_err hf_open(struct ck_ckpt *ck, struct ck_error *err)
{
	const char *path = ck->path;
	struct hf_priv *p = calloc(1, sizeof *p);
	if (!p)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	ck->priv = p;
	char *full = hf_join(path, "config.json"), *text = NULL;
	cJSON *j = NULL;
	struct hf_wm *wm = NULL;
	size_t nwm = 0, len;
	ck_err rc = full ? hf_slurp(full, &ck->config_json, &ck->config_len, err) : CK_ENOMEM;
	if (rc == CK_ENOENT)
		rc = CK_OK;
	if (rc != CK_OK)
		goto out;
	const char *w = NULL;
	for (size_t i = 0; HF_WEIGHTS[i] && !w; i++)
		if (hf_is_file(path, HF_WEIGHTS[i]))
			w = HF_WEIGHTS[i];
	if (!w) {
		rc = ck_error_set(err, CK_ENOENT, "%s: no weights in the folder (model.safetensors, pytorch_model.bin "
				  "or a sharded *.index.json)", path);
		goto out;
	}
	size_t wl = strlen(w);
	if (wl > 11 && strcmp(w + wl - 11, ".index.json") == 0) {
		free(full);
		if (!(p->index = strdup(w)) || !(full = hf_join(path, w))) {
			rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
			goto out;
		}
		if ((rc = hf_slurp(full, &text, &len, err)) != CK_OK)
			goto out;
		if (!(j = cJSON_ParseWithLength(text, len))) {
			rc = ck_error_set(err, CK_EFORMAT, "%s: %s is not valid JSON", path, w);
			goto out;
		}
		if ((rc = hf_parse_index(ck, j, &wm, &nwm, err)) != CK_OK)
			goto out;
	} else {
		if (!(p->shards = calloc(1, sizeof *p->shards)) || !(p->shards[0].name = strdup(w))) {
			rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
			goto out;
		}
		p->nshards = 1;
	}
	for (size_t i = 0; i < p->nshards; i++) {
		struct ck_ckpt *sub = NULL;
		free(full);
		if (!(full = hf_join(path, p->shards[i].name))) {
			rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
			goto out;
		}
		if (access(full, F_OK) != 0) {
			rc = ck_error_set(err, CK_ENOENT, "%s: missing shard '%s'", path, p->shards[i].name);
			goto out;
		}
		if ((rc = ck_ckpt_open(full, &sub, err)) == CK_OK)
			rc = hf_merge(ck, sub, i, wm, nwm, err);
		ck_ckpt_free(sub);
		if (rc != CK_OK)
			goto out;
	}
	for (size_t i = 0; i < nwm; i++)
		if (!wm[i].seen) {
			rc = ck_error_set(err, CK_EFORMAT, "%s: tensor '%s' listed in %s is missing from shard '%s'",
					  path, wm[i].key, p->index, wm[i].shard);
			goto out;
		}
	if (!ck->root && !(ck->root = ck_value_new(CK_V_DICT)))
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
out:
	free(wm);
	cJSON_Delete(j);
	free(text);
	free(full);
	return rc;
}

static void hf_close(struct ck_ckpt *ck)
{
	struct hf_priv *p = ck->priv;
	if (!p)
		return;
	for (size_t i = 0; i < p->nshards; i++) {
		free(p->shards[i].name);
		ck_value_unref(p->shards[i].metadata);
	}
	free(p->shards);
	free(p->index);
	free(p->index_meta);
	free(p);
	ck->priv = NULL;
}

/* ---- writing -------------------------------------------------------------- */

struct hf_out {                       /* one weights file of the new folder */
	char *name;                   /* owned */
	const struct ck_format *torch;/* written by this torch writer, else safetensors */
	const struct ck_value *meta;  /* __metadata__ to keep, or NULL */
	struct ck_tensor_item *items;     /* owned array; keys borrowed from the flat list */
	size_t n;
	int whole;                    /* torch: write req->root itself, not items */
};

static int hf_ends(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A weights file that a copy of the folder must not carry over: stale. */
static int hf_weight_file(const char *n)
{
	return hf_ends(n, ".safetensors") || hf_ends(n, ".safetensors.index.json") ||
	       hf_ends(n, ".bin.index.json") || (strncmp(n, "pytorch_model", 13) == 0 && hf_ends(n, ".bin")) ||
	       (strncmp(n, "tf_model", 8) == 0 && hf_ends(n, ".h5")) ||
	       (strncmp(n, "flax_model", 10) == 0 && hf_ends(n, ".msgpack")) ||
	       strncmp(n, "adapter_model.", 14) == 0;
}

/* pytorch_model-00001-of-00002.bin -> model-00001-of-00002.safetensors */
static char *hf_st_name(const char *in)
{
	if (hf_ends(in, ".safetensors"))
		return strdup(in);
	const char *s = strncmp(in, "pytorch_", 8) == 0 ? in + 8 : in;
	size_t m = strlen(s);
	const char *dot = strrchr(s, '.');
	if (dot)
		m = (size_t)(dot - s);
	char *r = malloc(m + 13);
	if (r) {
		memcpy(r, s, m);
		memcpy(r + m, ".safetensors", 13);
	}
	return r;
}

static ck_err hf_write_file(const char *path, const void *buf, size_t len, struct ck_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return ck_error_errno(err, errno == EEXIST ? CK_EEXIST : CK_EIO, errno, "%s", path);
	const char *p = buf;
	ck_err rc = CK_OK;
	while (len && rc == CK_OK) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = ck_error_errno(err, errno == ENOSPC ? CK_ENOSPC : CK_EIO, w < 0 ? errno : EIO, "%s", path);
		else
			p += w, len -= (size_t)w;
	}
	if (rc == CK_OK && fsync(fd) != 0)
		rc = ck_error_errno(err, CK_EIO, errno, "%s", path);
	if (close(fd) != 0 && rc == CK_OK)
		rc = ck_error_errno(err, CK_EIO, errno, "%s", path);
	return rc;
}

static ck_err hf_copy_file(const char *from, const char *to, struct ck_error *err)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out = -1;
	struct stat st;
	ck_err rc;
	if (in < 0 || fstat(in, &st) != 0) {
		rc = ck_error_errno(err, CK_EIO, errno, "%s", from);
	} else if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		rc = ck_error_errno(err, errno == EEXIST ? CK_EEXIST : CK_EIO, errno, "%s", to);
	} else {
		rc = ck_st_copy_range(in, 0, out, 0, (uint64_t)st.st_size, from, to, err);
		if (rc == CK_OK && fsync(out) != 0)
			rc = ck_error_errno(err, CK_EIO, errno, "%s", to);
	}
	if (out >= 0 && close(out) != 0 && rc == CK_OK)
		rc = ck_error_errno(err, CK_EIO, errno, "%s", to);
	if (in >= 0)
		close(in);
	return rc;
}

/* Copies the folder's other files; at the top, weights and the outputs' names are skipped. */
static ck_err hf_copy_tree(const char *from, const char *to, int depth, const struct hf_priv *p,
			   const struct hf_out *outs, size_t nouts, const char *ixname, struct ck_error *err)
{
	DIR *d = opendir(from);
	if (!d)
		return ck_error_errno(err, CK_EIO, errno, "%s", from);
	ck_err rc = CK_OK;
	struct dirent *de;
	while (rc == CK_OK && (de = readdir(d))) {
		const char *n = de->d_name;
		int skip = strcmp(n, ".") == 0 || strcmp(n, "..") == 0;
		if (!depth && !skip) {
			skip = hf_weight_file(n) || (p->index && strcmp(n, p->index) == 0) ||
			       (ixname && strcmp(n, ixname) == 0);
			for (size_t i = 0; i < p->nshards && !skip; i++)
				skip = strcmp(n, p->shards[i].name) == 0;
			for (size_t i = 0; i < nouts && !skip; i++)
				skip = strcmp(n, outs[i].name) == 0;
		}
		if (skip)
			continue;
		char *a = hf_join(from, n), *b = hf_join(to, n);
		struct stat st;
		if (!a || !b)
			rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", to);
		else if (stat(a, &st) != 0)
			rc = ck_error_errno(err, CK_EIO, errno, "%s", a);
		else if (S_ISREG(st.st_mode))
			rc = hf_copy_file(a, b, err);
		else if (S_ISDIR(st.st_mode) && depth < HF_MAX_COPY_DEPTH) {
			if (mkdir(b, 0755) != 0)
				rc = ck_error_errno(err, CK_EIO, errno, "%s", b);
			else
				rc = hf_copy_tree(a, b, depth + 1, p, outs, nouts, ixname, err);
		}
		free(a);
		free(b);
	}
	closedir(d);
	return rc;
}

struct hf_kv {
	const char *key;
	char *text;       /* owned JSON text of the value */
};

static int hf_cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct hf_kv *)a)->key, ((const struct hf_kv *)b)->key);
}

/* The new index: metadata kept from the source with total_size (and
 * total_parameters, when present) recomputed; keys sorted, like transformers. */
static ck_err hf_write_index(const char *path, const struct hf_priv *p, const struct hf_out *outs, size_t nouts,
			     struct ck_error *err)
{
	cJSON *meta = p->index_meta ? cJSON_Parse(p->index_meta) : NULL;
	size_t nm = 0, nk = 0;
	for (const cJSON *c = meta ? meta->child : NULL; c; c = c->next)
		nm++;
	for (size_t i = 0; i < nouts; i++)
		nk += outs[i].n;
	struct hf_kv *kv = calloc(nm + 2, sizeof *kv), *wm = calloc(nk ? nk : 1, sizeof *wm);
	struct ck_buf b;
	ck_buf_init(&b);
	ck_err rc = CK_OK;
	if (!kv || !wm) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	uint64_t size = 0, params = 0;
	int has_params = 0;
	nk = 0;
	for (size_t i = 0; i < nouts; i++)
		for (size_t k = 0; k < outs[i].n; k++) {
			const struct ck_tensor *t = outs[i].items[k].val->u.t;
			uint64_t numel = 1;
			for (int d = 0; d < t->ndim; d++)
				numel *= (uint64_t)t->shape[d];
			size += t->nbytes;
			params += numel;
			wm[nk++] = (struct hf_kv){.key = outs[i].items[k].key, .text = outs[i].name};
		}
	size_t n = 0;
	for (const cJSON *c = meta ? meta->child : NULL; c; c = c->next) {
		if (strcmp(c->string, "total_parameters") == 0)
			has_params = 1;
		else if (strcmp(c->string, "total_size") != 0)
			kv[n++] = (struct hf_kv){.key = c->string, .text = cJSON_PrintUnformatted(c)};
	}
	char num[2][32];
	snprintf(num[0], sizeof num[0], "%llu", (unsigned long long)size);
	snprintf(num[1], sizeof num[1], "%llu", (unsigned long long)params);
	kv[n++] = (struct hf_kv){.key = "total_size", .text = strdup(num[0])};
	if (has_params)
		kv[n++] = (struct hf_kv){.key = "total_parameters", .text = strdup(num[1])};
	qsort(kv, n, sizeof *kv, hf_cmp_kv);
	qsort(wm, nk, sizeof *wm, hf_cmp_kv);
	ck_buf_adds(&b, "{\n  \"metadata\": {");
	for (size_t i = 0; i < n; i++) {
		ck_buf_adds(&b, i ? ",\n    " : "\n    ");
		ck_st_json_string(&b, kv[i].key);
		ck_buf_adds(&b, ": ");
		if (!kv[i].text)
			b.oom = 1;
		else
			ck_buf_adds(&b, kv[i].text);
	}
	ck_buf_adds(&b, "\n  },\n  \"weight_map\": {");
	for (size_t i = 0; i < nk; i++) {
		ck_buf_adds(&b, i ? ",\n    " : "\n    ");
		ck_st_json_string(&b, wm[i].key);
		ck_buf_adds(&b, ": ");
		ck_st_json_string(&b, wm[i].text);
	}
	ck_buf_adds(&b, "\n  }\n}\n");
	if (b.oom)
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	else
		rc = hf_write_file(path, b.p, b.len, err);
	for (size_t i = 0; i < n; i++)
		free(kv[i].text);
out:
	free(kv);
	free(wm);
	ck_buf_release(&b);
	cJSON_Delete(meta);
	return rc;
}

static int hf_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

/* Which input shard a tensor's bytes live in (0 when unknown). */
static size_t hf_shard_of(const struct ck_ckpt *src, const struct hf_priv *p, const struct ck_tensor *t)
{
	if (!p || t->storage < 0 || (size_t)t->storage >= src->nstorages)
		return 0;
	int f = src->storages[t->storage].file;
	for (size_t i = 0; f >= 0 && i < p->nshards; i++)
		if ((size_t)f >= p->shards[i].file0 && (size_t)f < p->shards[i].file0 + p->shards[i].nfiles)
			return i;
	return 0;
}

static ck_err hf_write_out(const struct ck_write_req *req, const struct hf_out *o, const char *what,
			   struct ck_error *err)
{
	char *path = hf_join(req->path, o->name), *shown = hf_join(what, o->name);
	struct ck_value *root = NULL;
	ck_err rc = CK_OK;
	if (!path || !shown) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", what);
	} else if (!o->torch) {
		rc = ck_st_write_items(req->src, o->items, o->n, o->meta, path, shown, err);
	} else if (o->whole) {
		struct ck_write_req sub = {.src = req->src, .root = req->root, .path = path, .final_path = shown};
		rc = o->torch->write(&sub, err);
	} else if (!(root = ck_value_new(CK_V_DICT))) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", what);
	} else {
		root->u.dict.ordered = 1;   /* a state_dict is an OrderedDict */
		for (size_t i = 0; i < o->n && rc == CK_OK; i++)
			if (ck_value_setitem(root, ck_value_str(o->items[i].key),
					     ck_value_ref((struct ck_value *)o->items[i].val)) != CK_OK)
				rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", what);
		struct ck_write_req sub = {.src = req->src, .root = root, .path = path, .final_path = shown};
		if (rc == CK_OK)
			rc = o->torch->write(&sub, err);
	}
	ck_value_unref(root);
	free(path);
	free(shown);
	return rc;
}

static ck_err hf_write(const struct ck_write_req *req, struct ck_error *err)
{
	const struct ck_ckpt *src = req->src;
	const char *what = req->final_path ? req->final_path : req->path;
	const struct hf_priv *p = src->fmt == &ck_format_hf ? src->priv : NULL;
	const struct ck_format *torch = ck_format_by_name("pytorch");
	struct ck_tensor_item *items = NULL;
	size_t nitems = 0, nouts = p ? p->nshards : 1;
	struct hf_out *outs = calloc(nouts, sizeof *outs);
	char *ixname = NULL, *ixpath = NULL;
	int made = 0, converted = 0;
	ck_err rc = outs ? CK_OK : ck_error_set(err, CK_ENOMEM, "%s: out of memory", what);
	for (size_t i = 0; i < nouts && rc == CK_OK; i++) {
		const struct hf_shard *sh = p ? &p->shards[i] : NULL;
		int is_st = sh ? sh->fmt == &ck_format_safetensors : 1;
		int is_torch = sh && sh->fmt && strncmp(sh->fmt->name, "pytorch", 7) == 0;
		outs[i].torch = is_torch && torch && torch->write ? torch : NULL;
		outs[i].name = !sh ? strdup("model.safetensors") : outs[i].torch || is_st ? strdup(sh->name)
			       : hf_st_name(sh->name);
		converted |= !outs[i].torch && !is_st;
		if (is_st)
			outs[i].meta = sh ? sh->metadata
				     : src->fmt == &ck_format_safetensors ? src->metadata : NULL;
		if (!outs[i].name)
			rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", what);
	}
	/* one torch file takes the tree as it is (nested values and all) */
	if (rc == CK_OK && nouts == 1 && outs[0].torch && !p->index)
		outs[0].whole = 1;
	else if (rc == CK_OK)
		rc = ck_st_flatten(req->root, src->sep, what, &items, &nitems, err);
	for (size_t i = 0; i < nouts && rc == CK_OK && !outs[0].whole; i++)
		if (!(outs[i].items = calloc(nitems ? nitems : 1, sizeof *outs[i].items)))
			rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", what);
	if (rc != CK_OK)
		goto out;
	for (size_t i = 0; i < nitems; i++) {
		struct hf_out *o = &outs[hf_shard_of(src, p, items[i].val->u.t)];
		o->items[o->n++] = items[i];
	}
	if (p && p->index)
		ixname = strdup(converted && strcmp(p->index, "pytorch_model.bin.index.json") == 0
				? "model.safetensors.index.json" : p->index);
	if (p && p->index && (!ixname || !(ixpath = hf_join(req->path, ixname)))) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", what);
		goto out;
	}
	if (mkdir(req->path, 0755) != 0) {
		rc = ck_error_errno(err, errno == EEXIST ? CK_EEXIST : CK_EIO, errno, "%s", req->path);
		goto out;
	}
	made = 1;
	for (size_t i = 0; i < nouts && rc == CK_OK; i++)
		if (outs[i].n || nouts == 1)   /* one file is written even when empty */
			rc = hf_write_out(req, &outs[i], what, err);
	if (rc == CK_OK && ixpath)
		rc = hf_write_index(ixpath, p, outs, nouts, err);
	if (rc == CK_OK && p) {
		rc = hf_copy_tree(src->path, req->path, 0, p, outs, nouts, ixname, err);
	} else if (rc == CK_OK && src->config_json) {
		char *cp = hf_join(req->path, "config.json");
		rc = cp ? hf_write_file(cp, src->config_json, src->config_len, err)
			: ck_error_set(err, CK_ENOMEM, "%s: out of memory", what);
		free(cp);
	}
	int dfd = rc == CK_OK ? open(req->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (dfd >= 0) {
		if (fsync(dfd) != 0)
			rc = ck_error_errno(err, CK_EIO, errno, "%s", req->path);
		close(dfd);
	}
out:
	if (rc != CK_OK && made)   /* the folder is ours: mkdir succeeded above */
		nftw(req->path, hf_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	for (size_t i = 0; outs && i < nouts; i++) {
		free(outs[i].name);
		free(outs[i].items);
	}
	free(outs);
	free(ixname);
	free(ixpath);
	ck_tensor_items_free(items, nitems);
	return rc;
}

const struct ck_format ck_format_hf = {
	.name = "hf",
	.ext = "",
	.probe = hf_probe,
	.open = hf_open,
	.close = hf_close,
	.write = hf_write,
};
