/*
 * tf_util.h — helpers for test_tf.c and test_tf_write.c: fixture paths and
 * temp folders, checks of every field of an opened bundle, an independent
 * check of every tensor's bytes and CRC, and a hand-made bundle assembler
 * (its own table layout code, not the library's builder) with the table of
 * broken bundles.
 */
#ifndef TF_UTIL_H
#define TF_UTIL_H

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "ck.h"
#include "cursor.h"
#include "tf.h"

static inline char *tf_cat(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);
	ck_assert_ptr_nonnull(s);
	snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}

/* CK_DATA (set by ctest) or tests/data beside this file; always absolute. */
static inline char *tf_path(const char *rel)
{
	const char *d = getenv("CK_DATA");
	if (d)
		return tf_cat(d, "/", rel);
	char *dir = strdup(__FILE__);
	char *s = strrchr(dir, '/');
	if (s)
		*s = 0;
	char *p = tf_cat(s ? dir : ".", "/data/", rel);
	free(dir);
	return p;
}

static inline char *tf_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *d = tf_cat(t ? t : "/tmp", "/cktf.XXXXXX", "");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static int tf_rm_cb(const char *p, const struct stat *st, int f, struct FTW *w)
{
	(void)st, (void)f, (void)w;
	remove(p);
	return 0;
}

static inline void tf_rmtree(const char *dir)
{
	nftw(dir, tf_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static inline uint8_t *tf_slurp(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	ck_assert_msg(fp != NULL, "cannot open %s", path);
	fseek(fp, 0, SEEK_END);
	long len = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	uint8_t *p = malloc(len ? (size_t)len : 1);
	ck_assert_uint_eq(fread(p, 1, (size_t)len, fp), (size_t)len);
	fclose(fp);
	*n = (size_t)len;
	return p;
}

static inline void tf_write_bytes(const char *path, const void *p, size_t n)
{
	FILE *fp = fopen(path, "wb");
	ck_assert_msg(fp != NULL, "cannot create %s", path);
	ck_assert_uint_eq(fwrite(p, 1, n, fp), n);
	fclose(fp);
}

static inline void tf_write_text(const char *path, const char *s)
{
	tf_write_bytes(path, s, strlen(s));
}

static inline void tf_copy_file(const char *from, const char *to)
{
	size_t n;
	uint8_t *p = tf_slurp(from, &n);
	tf_write_bytes(to, p, n);
	free(p);
}

/* Copies a one-shard bundle SRC.{index,data-00000-of-00001} to DST.*. */
static inline void tf_copy_bundle(const char *src, const char *dst)
{
	static const char *const tails[] = {".index", ".data-00000-of-00001"};
	for (int i = 0; i < 2; i++) {
		char *a = tf_cat(src, tails[i], ""), *b = tf_cat(dst, tails[i], "");
		tf_copy_file(a, b);
		free(a);
		free(b);
	}
}

static inline void tf_rmbundle(const char *p)
{
	static const char *const tails[] = {".index", ".data-00000-of-00001", ".data-00000-of-00002"};
	for (int i = 0; i < 3; i++) {
		char *a = tf_cat(p, tails[i], "");
		unlink(a);
		free(a);
	}
}

static inline struct ck_ckpt *tf_open_ok(const char *path)
{
	struct ck_ckpt *ck = NULL;
	struct ck_error err = {0};
	ck_err rc = ck_ckpt_open(path, &ck, &err);
	ck_assert_msg(rc == CK_OK, "%s: %s", path, err.msg);
	return ck;
}

static inline void tf_open_fail(const char *path, ck_err want, const char *msg)
{
	struct ck_ckpt *ck = NULL;
	struct ck_error err = {0};
	ck_err rc = ck_ckpt_open(path, &ck, &err);
	ck_assert_msg(rc == want, "%s: got %s (%s), want %s", path, ck_err_name(rc), err.msg, ck_err_name(want));
	ck_assert_ptr_null(ck);
	ck_assert_msg(strstr(err.msg, msg) != NULL, "%s: message '%s' lacks '%s'", path, err.msg, msg);
}

/* torch-style names of TF dtypes, written out independently of tf.c's table */
static inline const char *tf_torch_name(unsigned dt)
{
	switch (dt) {
	case 1: return "float32";
	case 2: return "float64";
	case 3: return "int32";
	case 4: return "uint8";
	case 5: return "int16";
	case 6: return "int8";
	case 8: return "complex64";
	case 9: return "int64";
	case 10: return "bool";
	case 14: return "bfloat16";
	case 17: return "uint16";
	case 18: return "complex128";
	case 19: return "float16";
	case 22: return "uint32";
	case 23: return "uint64";
	case 24: return "float8_e5m2";
	case 25: return "float8_e4m3fn";
	default: return ck_dtype_name(ck_tf_dtype(dt));   /* quantised: whatever ck calls them */
	}
}

static inline const struct ck_value *tf_meta(const struct ck_ckpt *ck, const char *key)
{
	ck_assert_ptr_nonnull(ck->metadata);
	ck_assert_int_eq(ck->metadata->kind, CK_V_DICT);
	for (size_t i = 0; i < ck->metadata->u.dict.n; i++)
		if (strcmp(ck->metadata->u.dict.keys[i]->u.s.p, key) == 0)
			return ck->metadata->u.dict.vals[i];
	ck_abort_msg("no metadata '%s'", key);
	return NULL;
}

static inline void tf_check_meta(const struct ck_ckpt *ck, const char *prefix, const char *from, int64_t shards,
				 int64_t producer, int object_graph)
{
	ck_assert_uint_eq(ck->metadata->u.dict.n, 5);
	const struct ck_value *v = tf_meta(ck, "prefix");
	ck_assert_int_eq(v->kind, CK_V_STR);
	ck_assert_str_eq(v->u.s.p, prefix);
	v = tf_meta(ck, "prefix_from");
	ck_assert_int_eq(v->kind, CK_V_STR);
	ck_assert_str_eq(v->u.s.p, from);
	v = tf_meta(ck, "num_shards");
	ck_assert_int_eq(v->kind, CK_V_INT);
	ck_assert_int_eq(v->u.i, shards);
	v = tf_meta(ck, "producer");
	ck_assert_int_eq(v->kind, CK_V_INT);
	ck_assert_int_eq(v->u.i, producer);
	v = tf_meta(ck, "object_graph");
	ck_assert_int_eq(v->kind, CK_V_BOOL);
	ck_assert_int_eq(v->u.b, object_graph);
}

/* One entry as tf_ref.py dumps it; dt 7 (string) is a placeholder. */
struct tf_want {
	const char *key;
	unsigned dt;
	int ndim;
	int64_t shape[4];
	uint64_t offset, size;
	uint32_t crc;
};

/* The DT_STRING CRC as formats.md §5.3 states it: lengths as u32, then the rest. */
static inline uint32_t tf_string_crc(const uint8_t *b, size_t n, uint64_t numel)
{
	struct ck_cursor c;
	ck_cursor_init(&c, b, n);
	uint32_t crc = 0;
	for (uint64_t i = 0; i < numel; i++) {
		uint64_t len = ck_cursor_varint(&c);
		uint8_t le[8];
		ck_put_u64le(le, len);
		crc = ck_crc32c_extend(crc, le, len > UINT32_MAX ? 8 : 4);
	}
	ck_assert(ck_cursor_ok(&c));
	return ck_crc32c_mask(ck_crc32c_extend(crc, b + c.pos, n - c.pos));
}

/* Bytes of every tensor through ck_tensor_read == the raw range of its data
 * file, and their masked crc32c == the entry's; the same for placeholders.
 * Returns the number of tensors. */
static inline size_t tf_check_all_bytes(const struct ck_ckpt *ck)
{
	const struct ck_tf_priv *priv = ck->priv;
	size_t ntensors = 0;
	for (size_t i = 0; i < ck->root->u.dict.n; i++) {
		const struct ck_value *v = ck->root->u.dict.vals[i];
		const char *key = ck->root->u.dict.keys[i]->u.s.p;
		if (v->kind != CK_V_TENSOR)
			continue;
		const struct ck_tensor *t = v->u.t;
		const struct ck_storage *s = &ck->storages[t->storage];
		uint8_t *a = malloc(t->nbytes + 1), *b = malloc(t->nbytes + 1);
		size_t got = 0;
		struct ck_error err = {0};
		ck_assert_int_eq(ck_tensor_read(ck, t, a, t->nbytes, 0, &got, &err), CK_OK);
		ck_assert_uint_eq(got, t->nbytes);
		ck_assert_int_eq(pread(ck->files[s->file].fd, b, t->nbytes, (off_t)s->offset), (ssize_t)t->nbytes);
		ck_assert_msg(memcmp(a, b, t->nbytes) == 0, "bytes of '%s'", key);
		ck_assert_msg(ck_crc32c_mask(ck_crc32c_extend(0, a, t->nbytes)) == priv->crc[t->storage],
			      "crc of '%s'", key);
		free(a);
		free(b);
		ntensors++;
	}
	for (size_t i = 0; i < priv->nopaque; i++) {
		const struct ck_tf_opaque *o = &priv->opaque[i];
		uint8_t *b = malloc(o->size + 1);
		ck_assert_int_eq(pread(ck->files[o->file].fd, b, o->size, (off_t)o->offset), (ssize_t)o->size);
		uint32_t crc = o->dtype == 7 ? tf_string_crc(b, o->size, o->numel)
					     : ck_crc32c_mask(ck_crc32c_extend(0, b, o->size));
		ck_assert_uint_eq(crc, o->crc);
		free(b);
	}
	return ntensors;
}

/* Every field of the entries of a one-shard bundle at prefix. */
static inline void tf_check_entries(const struct ck_ckpt *ck, const char *prefix, const struct tf_want *w, size_t n)
{
	char *idx = tf_cat(prefix, ".index", ""), *data = tf_cat(prefix, ".data-00000-of-00001", "");
	ck_assert_uint_eq(ck->nfiles, 2);
	ck_assert_str_eq(ck->files[0].path, idx);
	ck_assert_str_eq(ck->files[1].path, data);
	ck_assert_int_eq(ck->root->kind, CK_V_DICT);
	ck_assert_int_eq(ck->root->u.dict.ordered, 1);
	ck_assert_uint_eq(ck->root->u.dict.n, n);
	const struct ck_tf_priv *priv = ck->priv;
	ck_assert_str_eq(priv->prefix, prefix);
	long storage = 0;
	size_t opaque = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ck_value *k = ck->root->u.dict.keys[i], *v = ck->root->u.dict.vals[i];
		ck_assert_int_eq(k->kind, CK_V_STR);
		ck_assert_str_eq(k->u.s.p, w[i].key);
		if (w[i].dt == 7) {
			char text[128];
			snprintf(text, sizeof text, "<tf string tensor [], %llu bytes>", (unsigned long long)w[i].size);
			ck_assert_int_eq(v->kind, CK_V_STR);
			ck_assert_str_eq(v->u.s.p, text);
			const struct ck_tf_opaque *o = &priv->opaque[opaque++];
			ck_assert_ptr_eq(o->leaf, v);
			ck_assert_int_eq(o->file, 1);
			ck_assert_uint_eq(o->offset, w[i].offset);
			ck_assert_uint_eq(o->size, w[i].size);
			ck_assert_uint_eq(o->crc, w[i].crc);
			ck_assert_uint_eq(o->dtype, 7);
			continue;
		}
		ck_assert_int_eq(v->kind, CK_V_TENSOR);
		const struct ck_tensor *t = v->u.t;
		ck_assert_str_eq(ck_dtype_name(t->dtype), tf_torch_name(w[i].dt));
		ck_assert_int_eq(t->ndim, w[i].ndim);
		int64_t stride = 1;
		for (int d = w[i].ndim - 1; d >= 0; d--) {
			ck_assert_int_eq(t->shape[d], w[i].shape[d]);
			ck_assert_int_eq(t->stride[d], stride);
			stride *= w[i].shape[d];
		}
		ck_assert_int_eq(t->offset, 0);
		ck_assert_int_eq(t->storage, storage);
		ck_assert_uint_eq(t->nbytes, w[i].size);
		const struct ck_storage *s = &ck->storages[storage];
		ck_assert_str_eq(s->key, w[i].key);
		ck_assert_int_eq(s->dtype, t->dtype);
		ck_assert_uint_eq(s->nbytes, w[i].size);
		ck_assert_int_eq(s->file, 1);
		ck_assert_uint_eq(s->offset, w[i].offset);
		ck_assert_int_eq(s->located, 1);
		ck_assert_uint_eq(priv->crc[storage], w[i].crc);
		int file;
		uint64_t off;
		ck_assert_int_eq(ck_tensor_span(ck, t, &file, &off), 1);
		ck_assert_int_eq(file, 1);
		ck_assert_uint_eq(off, w[i].offset);
		storage++;
	}
	ck_assert_uint_eq(ck->nstorages, (size_t)storage);
	ck_assert_uint_eq(priv->nopaque, opaque);
	ck_assert_uint_eq(tf_check_all_bytes(ck), (size_t)storage);
	free(idx);
	free(data);
}

#include "tf_syn.h"

#endif
