/*
 * st_util.h — helpers shared by test_safetensors.c and test_hf.c: fixture
 * paths, temp folders, hand-made safetensors files, the library's listing in
 * the `ckptfs ls` line format, and running the Python reference (stref.py).
 */
#ifndef ST_UTIL_H
#define ST_UTIL_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "ck.h"
#include "tree.h"

/* CK_DATA (set by ctest) or tests/data beside this file. */
static inline char *st_path(const char *rel)
{
	struct ck_buf b;
	ck_buf_init(&b);
	const char *d = getenv("CK_DATA");
	if (d) {
		ck_buf_adds(&b, d);
	} else {
		const char *f = __FILE__, *s = strrchr(f, '/');
		ck_buf_add(&b, f, s ? (size_t)(s - f) : 0);
		ck_buf_adds(&b, s ? "/data" : "data");
	}
	ck_buf_printf(&b, "/%s", rel);
	ck_buf_cstr(&b);
	return (char *)b.p;
}

static inline const char *st_python(void)
{
	const char *p = getenv("PYTHON");
	return p ? p : "/usr/bin/python3";
}

static inline char *st_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *d = malloc(4096);
	snprintf(d, 4096, "%s/ckst.XXXXXX", t ? t : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static int st_rm_cb(const char *p, const struct stat *st, int f, struct FTW *w)
{
	(void)st, (void)f, (void)w;
	remove(p);
	return 0;
}

static inline void st_rm_rf(char *path)
{
	nftw(path, st_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(path);
}

static inline char *st_join(const char *a, const char *b)
{
	char *p = malloc(strlen(a) + strlen(b) + 2);
	sprintf(p, "%s/%s", a, b);
	return p;
}

static inline void st_write_bytes(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static inline uint8_t *st_read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	struct ck_buf b;
	ck_buf_init(&b);
	uint8_t tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
		ck_buf_add(&b, tmp, n);
	fclose(f);
	ck_buf_cstr(&b);
	*len = b.len;
	return b.p;
}

/* A safetensors file: u64 N (hlen_override when >= 0) + hdr + ndata bytes 0,1,2,... */
static inline void st_make(const char *path, const char *hdr, long long hlen_override, size_t ndata)
{
	struct ck_buf b;
	ck_buf_init(&b);
	size_t hl = strlen(hdr);
	ck_buf_u64le(&b, hlen_override >= 0 ? (uint64_t)hlen_override : hl);
	ck_buf_add(&b, hdr, hl);
	for (size_t i = 0; i < ndata; i++)
		ck_buf_addc(&b, (uint8_t)i);
	st_write_bytes(path, b.p, b.len);
	ck_buf_release(&b);
}

static int st_ls_cb(void *ctx, const char *key, const struct ck_value *leaf)
{
	struct ck_buf *b = ctx;
	if (leaf->kind != CK_V_TENSOR)
		return 0;
	char shape[1024];
	ck_buf_printf(b, "%s %s %s\n", key, ck_dtype_name(leaf->u.t->dtype),
		      ck_shape_format(leaf->u.t, shape, sizeof shape));
	return 0;
}

/* "KEY DTYPE [d1,d2]\n" per tensor in checkpoint order (the `ckptfs ls` lines). */
static inline char *st_listing(const struct ck_ckpt *ck)
{
	struct ck_buf b;
	ck_buf_init(&b);
	ck_value_walk(ck->root, ck->sep, st_ls_cb, &b);
	ck_buf_cstr(&b);
	return (char *)b.p;
}

/* Runs a shell command; returns its stdout, *status its exit status. */
static inline char *st_run(const char *cmd, int *status)
{
	FILE *p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	struct ck_buf b;
	ck_buf_init(&b);
	char tmp[4096];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, p)) > 0)
		ck_buf_add(&b, tmp, n);
	int st = pclose(p);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	ck_buf_cstr(&b);
	return (char *)b.p;
}

/* `stref.py ls PATH` output. */
static inline char *st_py_ls(const char *path)
{
	char *ref = st_path("st/stref.py"), cmd[8192];
	snprintf(cmd, sizeof cmd, "'%s' '%s' ls '%s'", st_python(), ref, path);
	int status;
	char *out = st_run(cmd, &status);
	ck_assert_msg(status == 0, "stref.py ls %s failed", path);
	free(ref);
	return out;
}

/* The tensor's logical bytes through ck_tensor_read (in odd-sized pieces). */
static inline uint8_t *st_tensor_bytes(const struct ck_ckpt *ck, const struct ck_tensor *t)
{
	uint8_t *p = malloc(t->nbytes + 1);
	struct ck_error err;
	uint64_t off = 0;
	while (off < t->nbytes) {
		size_t got = 0;
		size_t want = t->nbytes - off > 4093 ? 4093 : (size_t)(t->nbytes - off);
		ck_err rc = ck_tensor_read(ck, t, p + off, want, off, &got, &err);
		ck_assert_msg(rc == CK_OK, "%s", err.msg);
		ck_assert_uint_gt(got, 0);
		off += got;
	}
	return p;
}

struct st_leaves {
	const char *keys[4096];
	const struct ck_tensor *t[4096];
	size_t n;
};

static int st_leaf_cb(void *ctx, const char *key, const struct ck_value *leaf)
{
	struct st_leaves *l = ctx;
	if (leaf->kind == CK_V_TENSOR && l->n < 4096) {
		l->keys[l->n] = strdup(key);
		l->t[l->n++] = leaf->u.t;
	}
	return 0;
}

/* Same keys in the same order, dtypes, shapes and bytes. */
static inline void st_assert_same(const struct ck_ckpt *a, const struct ck_ckpt *b)
{
	static struct st_leaves la, lb;
	la.n = lb.n = 0;
	ck_value_walk(a->root, a->sep, st_leaf_cb, &la);
	ck_value_walk(b->root, b->sep, st_leaf_cb, &lb);
	ck_assert_uint_eq(la.n, lb.n);
	for (size_t i = 0; i < la.n; i++) {
		ck_assert_str_eq(la.keys[i], lb.keys[i]);
		ck_assert_int_eq(la.t[i]->dtype, lb.t[i]->dtype);
		ck_assert_int_eq(la.t[i]->ndim, lb.t[i]->ndim);
		for (int d = 0; d < la.t[i]->ndim; d++)
			ck_assert_int_eq(la.t[i]->shape[d], lb.t[i]->shape[d]);
		ck_assert_uint_eq(la.t[i]->nbytes, lb.t[i]->nbytes);
		uint8_t *x = st_tensor_bytes(a, la.t[i]), *y = st_tensor_bytes(b, lb.t[i]);
		ck_assert_msg(memcmp(x, y, la.t[i]->nbytes) == 0, "bytes of '%s' differ", la.keys[i]);
		free(x);
		free(y);
		free((char *)la.keys[i]);
		free((char *)lb.keys[i]);
	}
}

/* Compares the listing and every tensor's bytes with `stref.py dump` (numpy's
 * view of the file). */
static inline void st_assert_numpy_bytes(const struct ck_ckpt *ck, const char *path)
{
	char *dir = st_tmpdir(), *ref = st_path("st/stref.py"), cmd[8192];
	snprintf(cmd, sizeof cmd, "'%s' '%s' dump '%s' '%s'", st_python(), ref, path, dir);
	int status;
	free(st_run(cmd, &status));
	ck_assert_msg(status == 0, "stref.py dump %s failed", path);
	char *lsf = st_join(dir, "ls.txt"), *mine = st_listing(ck);
	size_t lslen;
	char *ls = (char *)st_read_all(lsf, &lslen);
	ck_assert_ptr_nonnull(ls);
	ck_assert_str_eq(mine, ls);
	free(ls), free(lsf), free(mine);
	static struct st_leaves l;
	l.n = 0;
	ck_value_walk(ck->root, ck->sep, st_leaf_cb, &l);
	for (size_t i = 0; i < l.n; i++) {
		char name[64];
		snprintf(name, sizeof name, "%zu.bin", i);
		char *f = st_join(dir, name);
		size_t len;
		uint8_t *want = st_read_all(f, &len), *got = st_tensor_bytes(ck, l.t[i]);
		ck_assert_msg(want != NULL, "%s: no dump for '%s'", path, l.keys[i]);
		ck_assert_uint_eq(len, l.t[i]->nbytes);
		ck_assert_msg(memcmp(want, got, len) == 0, "%s: bytes of '%s' differ from numpy", path, l.keys[i]);
		free(want);
		free(got);
		free(f);
		free((char *)l.keys[i]);
	}
	free(ref);
	st_rm_rf(dir);
}

#endif
