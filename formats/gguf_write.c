/*
 * gguf_write.c — the GGUF writer (version 3; layout: see gguf.c).
 *
 * From a GGUF source the key-value section is re-emitted byte for byte (every
 * KV, its type and order, including general.alignment), then one tensor info
 * per tensor of the tree being written, in tree order, under its current
 * name.  Tensors are laid out the way ggml's reader insists on: each at the
 * running offset, padded to ALIGNMENT, no gaps.  Tensor bytes are copied by
 * range (copy_file_range, or pread/pwrite through a bounded buffer); a strided
 * view is gathered through ck_tensor_read.
 *
 * From any other source only plain dtypes (float32, float16, bfloat16,
 * float64, int8, int16, int32, int64) can be written, with one KV:
 * general.architecture = "unknown" (the spec requires the key; ckptfs cannot
 * know which llama.cpp architecture the tensors belong to), alignment 32.
 * A 0-d tensor is written as ne = [1] (ggml has no 0-d tensors), so it reads
 * back with shape [1].  Names longer than 63 bytes, more than 4 dimensions,
 * non-tensor values and dtypes GGUF lacks are refused with CK_EUNSUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "gguf.h"
#include "safetensors.h"   /* ck_st_copy_range */
#include "tree.h"

#define GW_CHUNK ((size_t)1 << 20)
#define GW_ARCH_KEY "general.architecture"
#define GW_ARCH_UNKNOWN "unknown"
#define GW_TYPE_STRING 8

struct gw_item {
	char *key;                    /* owned */
	const struct ck_tensor *t;    /* borrowed from the root being written */
	uint32_t type;
	uint64_t off;                 /* relative to the data section */
};

struct gw {
	struct gw_item *items;        /* owned */
	size_t n;
	const char *what;
	struct ck_error *err;
};

/* The tensors of root as w->items (the keys move from ck_value_tensors' list). */
static ck_err gw_collect(struct gw *w, const struct ck_value *root, char sep)
{
	struct ck_tensor_item *ti;
	size_t n;
	ck_err rc = ck_value_tensors(root, sep, w->what, "GGUF", &ti, &n, w->err);
	if (rc)
		return rc;
	if (n && !(w->items = calloc(n, sizeof *w->items))) {
		ck_tensor_items_free(ti, n);
		return ck_error_set(w->err, CK_ENOMEM, "%s: out of memory", w->what);
	}
	for (size_t i = 0; i < n; i++)
		w->items[i] = (struct gw_item){.key = ti[i].key, .t = ti[i].val->u.t};
	w->n = n;
	free(ti);
	return CK_OK;
}

static int gw_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct gw_item *const *)a)->key, (*(const struct gw_item *const *)b)->key);
}

static int gw_plain(enum ck_dtype dt)
{
	return dt == CK_DT_F32 || dt == CK_DT_F16 || dt == CK_DT_BF16 || dt == CK_DT_F64 || dt == CK_DT_I8 ||
	       dt == CK_DT_I16 || dt == CK_DT_I32 || dt == CK_DT_I64;
}

/* Checks every item and assigns types and offsets; *data_size = the padded total. */
static ck_err gw_plan(struct gw *w, int from_gguf, uint32_t align, uint64_t *data_size)
{
	const struct gw_item **sorted = w->n ? malloc(w->n * sizeof *sorted) : NULL;
	if (w->n && !sorted)
		return ck_error_set(w->err, CK_ENOMEM, "%s: out of memory", w->what);
	for (size_t i = 0; i < w->n; i++)
		sorted[i] = &w->items[i];
	if (w->n)
		qsort(sorted, w->n, sizeof *sorted, gw_cmp);
	char q[CK_QUOTE];
	for (size_t i = 1; i < w->n; i++)
		if (strcmp(sorted[i - 1]->key, sorted[i]->key) == 0) {
			ck_error_set(w->err, CK_EUNSUP, "%s: two tensors would both be named '%s'", w->what,
				     ck_quote_name(q, sizeof q, sorted[i]->key, strlen(sorted[i]->key)));
			free(sorted);
			return CK_EUNSUP;
		}
	free(sorted);
	uint64_t at = 0;
	for (size_t i = 0; i < w->n; i++) {
		struct gw_item *it = &w->items[i];
		const struct ck_tensor *t = it->t;
		size_t klen = strlen(it->key);
		long id = ck_gguf_type_id(t->dtype);
		const char *qk = ck_quote_name(q, sizeof q, it->key, klen);
		if (klen == 0)
			return ck_error_set(w->err, CK_EUNSUP, "%s: GGUF cannot store a tensor with an empty name", w->what);
		if (klen >= CK_GGUF_MAX_NAME)
			return ck_error_set(w->err, CK_EUNSUP, "%s: tensor name '%s' is %zu bytes; GGUF allows at most %d",
					    w->what, qk, klen, CK_GGUF_MAX_NAME - 1);
		if (id < 0 || (!from_gguf && !gw_plain(t->dtype)))
			return ck_error_set(w->err, CK_EUNSUP, "%s: GGUF cannot store dtype %s of tensor '%s'%s",
					    w->what, ck_dtype_name(t->dtype), qk,
					    id < 0 ? "" : " (block types only come from a GGUF source)");
		if (t->ndim > CK_GGUF_MAX_DIMS)
			return ck_error_set(w->err, CK_EUNSUP, "%s: tensor '%s' has %d dimensions; GGUF allows at most %d",
					    w->what, qk, t->ndim, CK_GGUF_MAX_DIMS);
		int64_t ne0 = t->ndim ? t->shape[t->ndim - 1] : 1;
		if (ne0 % (int64_t)ck_dtype_block(t->dtype))
			return ck_error_set(w->err, CK_EUNSUP, "%s: tensor '%s': last dimension %lld is not a multiple "
					    "of the %s block size", w->what, qk, (long long)ne0,
					    ck_dtype_name(t->dtype));
		if (t->nbytes && t->storage < 0)
			return ck_error_set(w->err, CK_EUNSUP, "%s: tensor '%s' has no data to write", w->what, qk);
		it->type = (uint32_t)id;
		it->off = at;
		uint64_t end;
		if (!ck_add_u64(at, t->nbytes, &end) || !ck_add_u64(end, align - 1, &end))
			return ck_error_set(w->err, CK_ELIMIT, "%s: total size overflows", w->what);
		at = end - end % align;
	}
	*data_size = at;
	return CK_OK;
}

static void gw_string(struct ck_buf *b, const char *s)
{
	size_t n = strlen(s);
	ck_buf_u64le(b, n);
	ck_buf_add(b, s, n);
}

/* Fixed part, KVs, tensor infos, padding to align. */
static void gw_header(struct ck_buf *b, const struct gw *w, const struct ck_gguf_priv *src, uint32_t align)
{
	ck_buf_add(b, CK_GGUF_MAGIC, 4);
	ck_buf_u32le(b, 3);
	ck_buf_u64le(b, w->n);
	if (src) {
		ck_buf_u64le(b, src->n_kv);
		ck_buf_add(b, src->kv, src->kv_len);
	} else {
		ck_buf_u64le(b, 1);
		gw_string(b, GW_ARCH_KEY);
		ck_buf_u32le(b, GW_TYPE_STRING);
		gw_string(b, GW_ARCH_UNKNOWN);
	}
	for (size_t i = 0; i < w->n; i++) {
		const struct ck_tensor *t = w->items[i].t;
		gw_string(b, w->items[i].key);
		ck_buf_u32le(b, t->ndim ? (uint32_t)t->ndim : 1);
		if (!t->ndim)
			ck_buf_u64le(b, 1);
		for (int d = t->ndim - 1; d >= 0; d--)   /* ggml ne order: torch's reversed */
			ck_buf_u64le(b, (uint64_t)t->shape[d]);
		ck_buf_u32le(b, w->items[i].type);
		ck_buf_u64le(b, w->items[i].off);
	}
	while (b->len % align)
		ck_buf_addc(b, 0);
}

static ck_err gw_pwrite(int fd, const void *p, size_t n, uint64_t off, const char *what, struct ck_error *err)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = pwrite(fd, b, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return ck_error_errno(err, errno == ENOSPC ? CK_ENOSPC : CK_EIO, w < 0 ? errno : EIO, "%s", what);
		b += w, n -= (size_t)w, off += (uint64_t)w;
	}
	return CK_OK;
}

/* One tensor's logical bytes at outoff: one range copy, or gathered in chunks. */
static ck_err gw_tensor(const struct ck_ckpt *src, const struct ck_tensor *t, int fd, uint64_t outoff,
			const char *what, struct ck_error *err)
{
	int file;
	uint64_t off;
	if (t->nbytes == 0)
		return CK_OK;
	if (ck_tensor_span(src, t, &file, &off))
		return ck_st_copy_range(src->files[file].fd, off, fd, outoff, t->nbytes, src->files[file].path,
					what, err);
	uint8_t *buf = malloc(GW_CHUNK);
	if (!buf)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", what);
	ck_err rc = CK_OK;
	for (uint64_t done = 0; done < t->nbytes && !rc;) {
		size_t got = 0, want = t->nbytes - done > GW_CHUNK ? GW_CHUNK : (size_t)(t->nbytes - done);
		rc = ck_tensor_read(src, t, buf, want, done, &got, err);
		if (!rc && got == 0)
			rc = ck_error_set(err, CK_EFORMAT, "%s: tensor data ends early", src->path);
		if (!rc)
			rc = gw_pwrite(fd, buf, got, outoff + done, what, err);
		done += got;
	}
	free(buf);
	return rc;
}

ck_err ck_gguf_write(const struct ck_write_req *req, struct ck_error *err)
{
	const char *what = req->final_path ? req->final_path : req->path;
	const struct ck_gguf_priv *sp = req->src->fmt == &ck_format_gguf ? req->src->priv : NULL;
	uint32_t align = sp ? sp->alignment : CK_GGUF_DEFAULT_ALIGN;
	struct gw w = {.what = what, .err = err};
	struct ck_buf b;
	ck_buf_init(&b);
	int fd = -1;
	uint64_t data_size = 0;
	ck_err rc = CK_OK;
	if ((rc = gw_collect(&w, req->root, req->src->sep)))
		goto out;
	if ((rc = gw_plan(&w, sp != NULL, align, &data_size)))
		goto out;
	gw_header(&b, &w, sp, align);
	if (b.oom) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", what);
		goto out;
	}
	fd = open(req->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = ck_error_errno(err, errno == EEXIST ? CK_EEXIST : CK_EIO, errno, "%s", req->path);
		goto out;
	}
	if ((rc = gw_pwrite(fd, b.p, b.len, 0, what, err)))
		goto out;
	for (size_t i = 0; i < w.n && !rc; i++)
		rc = gw_tensor(req->src, w.items[i].t, fd, b.len + w.items[i].off, what, err);
	/* the padding after the last tensor: holes read as zeros */
	if (!rc && ftruncate(fd, (off_t)(b.len + data_size)) != 0)
		rc = ck_error_errno(err, CK_EIO, errno, "%s", what);
	if (!rc && fsync(fd) != 0)
		rc = ck_error_errno(err, CK_EIO, errno, "%s", what);
out:
	if (fd >= 0) {
		if (close(fd) != 0 && !rc)
			rc = ck_error_errno(err, CK_EIO, errno, "%s", what);
		if (rc)
			unlink(req->path);
	}
	for (size_t i = 0; i < w.n; i++)
		free(w.items[i].key);
	free(w.items);
	ck_buf_release(&b);
	return rc;
}
