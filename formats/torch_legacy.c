/*
 * torch_legacy.c — reader of PyTorch's legacy (non-zip) torch.save format:
 * files from before 1.6 and from _use_new_zipfile_serialization=False.
 * Opening parses the five pickles and then hops over the storages, reading
 * only each storage's 8-byte element count, to record where its bytes are.
 * Also recognises the older tar format (torch < 0.4) to refuse it clearly.
 *
 * Byte layout (formats.md §3), one pickle after another, no padding:
 *  1. magic: LONG1 0x1950a86a20f9469cfc6c, i.e. the 15 bytes
 *     80 02 8a 0a 6c fc 9c 46 f9 20 6a a8 50 19 2e;
 *  2. protocol version: the int 1001;
 *  3. sys_info: a dict; 'little_endian' must be True;
 *  4. the object, whose persistent ids are 6-tuples ('storage', StorageClass,
 *     key, location, numel, view_metadata) with view_metadata None or
 *     (view_key, element offset, element count) for a slice of storage key;
 *  5. the list of storage keys (str), in the order their data follows;
 *  6. per key: i64 element count, then count * element size raw LE bytes.
 * The tar format is a ustar archive whose members are sys_info, pickle,
 * storages and tensors ("ustar" at byte 257).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "pickle.h"
#include "torch.h"

#define LEGACY_PROTOCOL 1001
#define FIRST_CHUNK ((size_t)64 << 10)
#define TAR_MAGIC_OFF 257

static const uint8_t magic_number[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
static const uint8_t magic_head[15] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
				       0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

/* A storage slice from view_metadata: a pseudo-storage folded into its base after loading. */
struct view {
	long idx;        /* its pseudo entry in ck->storages */
	long base;
	uint64_t offset; /* elements */
};

struct legacy_load {
	struct ck_ckpt *ck;
	struct ck_strmap keys;   /* root key -> storage index */
	struct ck_strmap vkeys;  /* view key -> index into views */
	struct view *views;
	size_t nviews, vcap;
	long *view_of;           /* per storage index: its views[] index or -1 (folding) */
};

static void load_reset(struct legacy_load *l)
{
	struct ck_ckpt *ck = l->ck;
	ck_value_unref(ck->root);
	ck->root = NULL;
	for (size_t i = 0; i < ck->nstorages; i++)
		free(ck->storages[i].key);
	ck->nstorages = 0;
	ck_strmap_release(&l->keys);
	ck_strmap_release(&l->vkeys);
	l->nviews = 0;
}

static ck_err add_view(struct legacy_load *l, const struct ck_torch_pid *p, long base, long *out,
		       struct ck_error *err)
{
	const char *path = l->ck->path;
	const struct ck_value *vm = p->view;
	if (vm->kind != CK_V_TUPLE || vm->u.seq.n != 3 || vm->u.seq.items[0]->kind != CK_V_STR ||
	    vm->u.seq.items[1]->kind != CK_V_INT || vm->u.seq.items[2]->kind != CK_V_INT ||
	    vm->u.seq.items[1]->u.i < 0 || vm->u.seq.items[2]->u.i < 0)
		return ck_error_set(err, CK_EFORMAT, "%s: storage '%s': bad view metadata", path, p->key);
	const char *vkey = vm->u.seq.items[0]->u.s.p;
	uint64_t off = (uint64_t)vm->u.seq.items[1]->u.i, n = (uint64_t)vm->u.seq.items[2]->u.i, end;
	const struct ck_storage *b = &l->ck->storages[base];
	size_t is = ck_dtype_size(b->dtype);
	if (b->dtype != p->dtype)
		return ck_error_set(err, CK_EUNSUP, "%s: storage '%s' is viewed with another type", path, p->key);
	if (!ck_add_u64(off, n, &end) || !ck_mul_u64(end, is, &end) || end > b->nbytes)
		return ck_error_set(err, CK_EFORMAT, "%s: view '%s' reaches past storage '%s'", path, vkey, p->key);
	long vi = ck_strmap_get(&l->vkeys, vkey, strlen(vkey));
	if (vi >= 0) {
		*out = l->views[vi].idx;
		return CK_OK;
	}
	if (l->nviews == l->vcap) {
		size_t cap = l->vcap ? l->vcap * 2 : 8;
		struct view *v = realloc(l->views, cap * sizeof *v);
		if (!v)
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
		l->views = v;
		l->vcap = cap;
	}
	long idx = ck_ckpt_add_storage(l->ck, vkey, p->dtype, n * is, -1, 0);
	if (idx < 0 || ck_strmap_put(&l->vkeys, vkey, strlen(vkey), (long)l->nviews))
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	l->views[l->nviews++] = (struct view){.idx = idx, .base = base, .offset = off};
	*out = idx;
	return CK_OK;
}

static ck_err persistent_load(void *ctx, struct ck_value *pid, struct ck_value **out, struct ck_error *err)
{
	struct legacy_load *l = ctx;
	const char *path = l->ck->path;
	struct ck_torch_pid p;
	ck_err rc = ck_torch_pid_parse(path, pid, 6, &p, err);
	if (rc)
		return rc;
	if (l->ck->nstorages >= CK_TORCH_MAX_STORAGES)
		return ck_error_set(err, CK_ELIMIT, "%s: too many storages", path);
	long idx = ck_strmap_get(&l->keys, p.key, strlen(p.key));
	if (idx < 0) {
		idx = ck_ckpt_add_storage(l->ck, p.key, p.dtype, p.numel * ck_dtype_size(p.dtype), -1, 0);
		if (idx < 0 || ck_strmap_put(&l->keys, p.key, strlen(p.key), idx))
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	}
	if (p.view && (rc = add_view(l, &p, idx, &idx, err)))
		return rc;
	struct ck_value *v = ck_value_new(CK_V_STORAGE);
	if (!v)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	v->u.i = idx;
	*out = v;
	return CK_OK;
}

/* Pickles 1-5 from buf; *end = offset just past the key list. */
static ck_err load_pickles(struct legacy_load *l, const uint8_t *buf, size_t len, struct ck_value **keys,
			   size_t *end, struct ck_error *err)
{
	const char *path = l->ck->path;
	struct ck_value *v = NULL;
	size_t pos = 0, used = 0;
	ck_err rc;
	if ((rc = ck_pickle_load(buf, len, NULL, path, &v, &used, err)))
		return rc;
	/* the magic number as LE two's complement; ignore sign-extension bytes */
	size_t n = v->kind == CK_V_BIGINT ? v->u.s.len : 0;
	while (n > sizeof magic_number && v->u.s.p[n - 1] == 0)
		n--;
	int ok = n == sizeof magic_number && memcmp(v->u.s.p, magic_number, n) == 0;
	ck_value_unref(v);
	if (!ok)
		return ck_error_set(err, CK_EFORMAT, "%s: not a PyTorch file (bad magic number)", path);
	pos += used;
	if ((rc = ck_pickle_load(buf + pos, len - pos, NULL, path, &v, &used, err)))
		return rc;
	ok = v->kind == CK_V_INT && v->u.i == LEGACY_PROTOCOL;
	ck_value_unref(v);
	if (!ok)
		return ck_error_set(err, CK_EUNSUP, "%s: unsupported legacy protocol version", path);
	pos += used;
	if ((rc = ck_pickle_load(buf + pos, len - pos, NULL, path, &v, &used, err)))
		return rc;
	int big = 0;
	if (v->kind == CK_V_DICT) {
		for (size_t i = 0; i < v->u.dict.n; i++) {
			const struct ck_value *k = v->u.dict.keys[i], *x = v->u.dict.vals[i];
			if (k->kind == CK_V_STR && strcmp(k->u.s.p, "little_endian") == 0)
				big = !(x->kind == CK_V_BOOL && x->u.b);
		}
	}
	ck_value_unref(v);
	if (big)
		return ck_error_set(err, CK_EUNSUP, "%s: big-endian checkpoint (sys_info little_endian "
				    "is not True) is not supported", path);
	pos += used;
	struct ck_pickle_hooks hooks = {.persistent_load = persistent_load, .ctx = l, .ck = l->ck};
	if ((rc = ck_pickle_load(buf + pos, len - pos, &hooks, path, &l->ck->root, &used, err)))
		return rc;
	pos += used;
	if ((rc = ck_pickle_load(buf + pos, len - pos, NULL, path, keys, &used, err)))
		return rc;
	pos += used;
	if ((*keys)->kind != CK_V_LIST)
		return ck_error_set(err, CK_EFORMAT, "%s: storage key list is not a list", path);
	*end = pos;
	return CK_OK;
}

/* Hops over the storage data after the pickles, recording each storage's offset. */
static ck_err locate_storages(struct legacy_load *l, const struct ck_value *keys, uint64_t pos,
			      struct ck_error *err)
{
	struct ck_ckpt *ck = l->ck;
	const struct ck_file *f = &ck->files[0];
	for (size_t i = 0; i < keys->u.seq.n; i++) {
		const struct ck_value *k = keys->u.seq.items[i];
		if (k->kind != CK_V_STR)
			return ck_error_set(err, CK_EFORMAT, "%s: storage key list holds a non-string", ck->path);
		long idx = ck_strmap_get(&l->keys, k->u.s.p, k->u.s.len);
		if (idx < 0)
			return ck_error_set(err, CK_EFORMAT, "%s: storage '%s' is listed but never used",
					    ck->path, k->u.s.p);
		struct ck_storage *s = &ck->storages[idx];
		if (s->located)
			return ck_error_set(err, CK_EFORMAT, "%s: storage '%s' is listed twice", ck->path, s->key);
		uint8_t b[8];
		uint64_t data, end, nbytes;
		if (!ck_add_u64(pos, 8, &data) || data > f->size)
			return ck_error_set(err, CK_EFORMAT, "%s: truncated storage '%s'", ck->path, s->key);
		ck_err rc = ck_file_pread(f, b, sizeof b, pos, err);
		if (rc)
			return rc;
		struct ck_cursor c;
		ck_cursor_init(&c, b, sizeof b);
		uint64_t count = ck_cursor_u64le(&c);
		if (count > INT64_MAX || !ck_mul_u64(count, ck_dtype_size(s->dtype), &nbytes))
			return ck_error_set(err, CK_EFORMAT, "%s: storage '%s': absurd element count %" PRIu64,
					    ck->path, s->key, count);
		if (!ck_add_u64(data, nbytes, &end) || end > f->size)
			return ck_error_set(err, CK_EFORMAT, "%s: truncated storage '%s' (needs %" PRIu64
					    " bytes at offset %" PRIu64 ")", ck->path, s->key, nbytes, data);
		if (nbytes != s->nbytes)
			return ck_error_set(err, CK_EFORMAT, "%s: storage '%s' has %" PRIu64 " bytes, the pickle "
					    "says %" PRIu64, ck->path, s->key, nbytes, s->nbytes);
		s->file = 0;
		s->offset = data;
		s->located = 1;
		pos = end;
	}
	return CK_OK;
}

/* Views become their base storage plus an element offset (first pass marks
 * tensors done by encoding the storage as -(index + 2), so a tensor reached
 * twice through pickle memo sharing is changed once). */
static ck_err fold_mark(void *ctx, const char *key, struct ck_value *v, struct ck_error *err)
{
	struct legacy_load *l = ctx;
	long s = v->kind == CK_V_TENSOR ? v->u.t->storage : (long)v->u.i;
	if (s < 0)
		return CK_OK;
	long vi = (size_t)s < l->ck->nstorages ? l->view_of[s] : -1;
	if (vi >= 0) {
		int64_t off;
		if (v->kind != CK_V_TENSOR)
			return ck_error_set(err, CK_EUNSUP, "%s: '%s': a pickled storage slice is not supported",
					    l->ck->path, key);
		if (__builtin_add_overflow(v->u.t->offset, (int64_t)l->views[vi].offset, &off))
			return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': bad storage offset", l->ck->path, key);
		v->u.t->offset = off;
		s = l->views[vi].base;
	}
	if (v->kind == CK_V_TENSOR)
		v->u.t->storage = -(s + 2);
	else
		v->u.i = -(s + 2);
	return CK_OK;
}

static ck_err fold_renumber(void *ctx, const char *key, struct ck_value *v, struct ck_error *err)
{
	long *newidx = ctx;
	if (v->kind == CK_V_TENSOR && v->u.t->storage <= -2)
		v->u.t->storage = newidx[-(v->u.t->storage + 2)];
	else if (v->kind == CK_V_STORAGE && v->u.i <= -2)
		v->u.i = newidx[-(v->u.i + 2)];
	return CK_OK;
}

static ck_err fold_views(struct legacy_load *l, struct ck_error *err)
{
	struct ck_ckpt *ck = l->ck;
	if (!l->nviews)
		return CK_OK;
	long *newidx = malloc(ck->nstorages * sizeof *newidx);
	ck_err rc = CK_OK;
	if (!newidx) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
		goto out;
	}
	if ((rc = ck_torch_walk_storages(ck->root, ck->sep, fold_mark, l, ck->path, err)))
		goto out;
	size_t n = 0;
	for (size_t i = 0; i < ck->nstorages; i++) {
		if (l->view_of[i] >= 0) {
			free(ck->storages[i].key);
			newidx[i] = -1;
			continue;
		}
		newidx[i] = (long)n;
		ck->storages[n++] = ck->storages[i];
	}
	ck->nstorages = n;
	rc = ck_torch_walk_storages(ck->root, ck->sep, fold_renumber, newidx, ck->path, err);
out:
	free(newidx);
	return rc;
}

static ck_err legacy_open(struct ck_ckpt *ck, struct ck_error *err)
{
	struct legacy_load l = {.ck = ck};
	ck_strmap_init(&l.keys);
	ck_strmap_init(&l.vkeys);
	struct ck_value *keys = NULL;
	uint8_t *buf = NULL;
	ck_err rc;
	int fi = ck_ckpt_add_file(ck, ck->path, err);
	if (fi < 0)
		return err ? err->code : CK_EIO;
	const struct ck_file *f = &ck->files[fi];
	if (f->size > TAR_MAGIC_OFF + 5) {
		uint8_t m[5];
		if ((rc = ck_file_pread(f, m, sizeof m, TAR_MAGIC_OFF, err)))
			return rc;
		if (memcmp(m, "ustar", 5) == 0)
			return ck_error_set(err, CK_EUNSUP, "%s: legacy tar checkpoint (PyTorch < 0.4) is not supported",
					    ck->path);
	}

	/* The pickles' total length is known only after parsing them, so read a
	 * chunk and grow it while the parse runs off its end. */
	uint64_t limit = f->size < CK_TORCH_MAX_PICKLE ? f->size : CK_TORCH_MAX_PICKLE;
	size_t len = f->size < FIRST_CHUNK ? (size_t)f->size : FIRST_CHUNK, end = 0;
	for (;;) {
		uint8_t *nb = realloc(buf, len ? len : 1);
		if (!nb) {
			rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
			goto out;
		}
		buf = nb;
		if ((rc = ck_file_pread(f, buf, len, 0, err)))
			goto out;
		struct ck_error e = {0};
		rc = load_pickles(&l, buf, len, &keys, &end, &e);
		if (rc != CK_EFORMAT || len >= limit || !strstr(e.msg, "truncated")) {
			if (rc && err)
				*err = e;
			break;
		}
		ck_value_unref(keys);
		keys = NULL;
		load_reset(&l);
		len = len > limit / 4 ? (size_t)limit : len * 4;
	}
	if (rc)
		goto out;
	free(buf);
	buf = NULL;
	if ((rc = locate_storages(&l, keys, end, err)))
		goto out;
	l.view_of = malloc((ck->nstorages ? ck->nstorages : 1) * sizeof *l.view_of);
	if (!l.view_of) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
		goto out;
	}
	for (size_t i = 0; i < ck->nstorages; i++)
		l.view_of[i] = -1;
	for (size_t i = 0; i < l.nviews; i++)
		l.view_of[l.views[i].idx] = (long)i;
	for (size_t i = 0; i < ck->nstorages; i++) {
		if (ck->storages[i].located || l.view_of[i] >= 0)
			continue;
		rc = ck_error_set(err, CK_EFORMAT, "%s: storage '%s' has no data", ck->path, ck->storages[i].key);
		goto out;
	}
	for (size_t i = 0; i < l.nviews; i++) {
		struct ck_storage *v = &ck->storages[l.views[i].idx], *b = &ck->storages[l.views[i].base];
		v->file = 0;
		v->offset = b->offset + l.views[i].offset * ck_dtype_size(b->dtype);
		v->located = 1;
	}
	ck->sep = '.';
	if ((rc = fold_views(&l, err)))
		goto out;
	rc = ck_torch_check_tensors(ck, err);
out:
	ck_value_unref(keys);
	free(buf);
	free(l.views);
	free(l.view_of);
	ck_strmap_release(&l.keys);
	ck_strmap_release(&l.vkeys);
	return rc;
}

static int legacy_probe(const char *path, const uint8_t *head, size_t n, int is_dir)
{
	if (is_dir != 0)
		return 0;
	if (n >= sizeof magic_head && memcmp(head, magic_head, sizeof magic_head) == 0)
		return 100;
	if (n > TAR_MAGIC_OFF + 5 && memcmp(head + TAR_MAGIC_OFF, "ustar", 5) == 0) {
		static const char *const members[] = {"sys_info", "pickle", "storages", "tensors"};
		for (size_t i = 0; i < 4; i++)
			if (strncmp((const char *)head, members[i], 100) == 0)
				return 50;
		return 0;
	}
	/* some other pickle: torch.load would try it and fail on the magic number */
	if (n >= 2 && head[0] == 0x80 && head[1] <= 5)
		return 5;
	return 0;
}

static void legacy_close(struct ck_ckpt *ck)
{
	(void)ck;
}

const struct ck_format ck_format_pytorch_legacy = {
	.name = "pytorch-legacy",
	.ext = ".pt",
	.probe = legacy_probe,
	.open = legacy_open,
	.close = legacy_close,
	.write = ck_torch_write,
};
