/*
 * safetensors_write.c — the safetensors writer: a value tree flattened to
 * (key, tensor) pairs, written dense, C order, little-endian, in the order of
 * the input (so reading and writing back keeps a file's layout).  A plain
 * byte range of the source is copied with copy_file_range; a strided view is
 * gathered through ck_tensor_read in bounded chunks.  The header is compact
 * JSON, "__metadata__" first, padded with spaces to a multiple of 8 (the
 * crate's `prepare`), so the data starts 8-aligned.  Tied tensors become
 * separate copies: safetensors has no sharing.  Layout: see safetensors.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cursor.h"
#include "safetensors.h"
#include "tree.h"

#define ST_COPY_CHUNK (1u << 20)

void ck_st_json_string(struct ck_buf *b, const char *s)
{
	ck_buf_addc(b, '"');
	for (const uint8_t *p = (const uint8_t *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			ck_buf_addc(b, '\\');
			ck_buf_addc(b, *p);
		} else if (*p < 0x20) {
			ck_buf_printf(b, "\\u%04x", *p);
		} else {
			ck_buf_addc(b, *p);
		}
	}
	ck_buf_addc(b, '"');
}

int ck_st_metadata_ok(const struct ck_value *v)
{
	if (!v || v->kind != CK_V_DICT)
		return 0;
	for (size_t i = 0; i < v->u.dict.n; i++)
		if (v->u.dict.keys[i]->kind != CK_V_STR || v->u.dict.vals[i]->kind != CK_V_STR)
			return 0;
	return 1;
}

static int st_cmp_item(const void *a, const void *b)
{
	const struct ck_tensor_item *x = *(const struct ck_tensor_item *const *)a;
	const struct ck_tensor_item *y = *(const struct ck_tensor_item *const *)b;
	return strcmp(x->key, y->key);
}

ck_err ck_st_flatten(const struct ck_value *root, char sep, const char *what,
		     struct ck_tensor_item **items, size_t *n, struct ck_error *err)
{
	struct ck_tensor_item *list = NULL;
	size_t cnt = 0;
	const struct ck_tensor_item **sorted = NULL;
	ck_err rc = ck_value_tensors(root, sep, what, "safetensors", &list, &cnt, err);
	if (rc)
		goto out;
	if (cnt && !(sorted = malloc(cnt * sizeof *sorted))) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", what);
		goto out;
	}
	for (size_t i = 0; i < cnt; i++)
		sorted[i] = &list[i];
	if (cnt)
		qsort(sorted, cnt, sizeof *sorted, st_cmp_item);
	for (size_t i = 1; i < cnt; i++)
		if (strcmp(sorted[i - 1]->key, sorted[i]->key) == 0) {
			rc = ck_error_set(err, CK_EUNSUP, "%s: two tensors would both be named '%s'",
					  what, sorted[i]->key);
			goto out;
		}
out:
	free(sorted);
	if (rc != CK_OK) {
		ck_tensor_items_free(list, cnt);
		list = NULL, cnt = 0;
	}
	*items = list;
	*n = cnt;
	return rc;
}

static ck_err st_pwrite_all(int fd, const void *buf, size_t len, uint64_t off, const char *name,
			    struct ck_error *err)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return ck_error_errno(err, errno == ENOSPC ? CK_ENOSPC : CK_EIO, w < 0 ? errno : EIO,
					      "%s", name);
		p += w, len -= (size_t)w, off += (uint64_t)w;
	}
	return CK_OK;
}

ck_err ck_st_copy_range(int in, uint64_t inoff, int out, uint64_t outoff, uint64_t len,
			const char *inname, const char *outname, struct ck_error *err)
{
	while (len) {
		loff_t io = (loff_t)inoff, oo = (loff_t)outoff;
		size_t want = len > (1u << 30) ? (1u << 30) : (size_t)len;
		ssize_t r = copy_file_range(in, &io, out, &oo, want, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP ||
			      errno == EBADF || errno == EPERM))
			break;   /* not supported here: copy through a buffer */
		if (r < 0)
			return ck_error_errno(err, errno == ENOSPC ? CK_ENOSPC : CK_EIO, errno, "%s", outname);
		if (r == 0)
			return ck_error_set(err, CK_EFORMAT, "%s: truncated (read past end at offset %llu)",
					    inname, (unsigned long long)inoff);
		inoff += (uint64_t)r, outoff += (uint64_t)r, len -= (uint64_t)r;
	}
	if (!len)
		return CK_OK;
	uint8_t *buf = malloc(ST_COPY_CHUNK);
	if (!buf)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", outname);
	struct ck_file f = {.path = (char *)inname, .fd = in};
	ck_err rc = CK_OK;
	while (len && rc == CK_OK) {
		size_t k = len > ST_COPY_CHUNK ? ST_COPY_CHUNK : (size_t)len;
		rc = ck_file_pread(&f, buf, k, inoff, err);
		if (rc == CK_OK)
			rc = st_pwrite_all(out, buf, k, outoff, outname, err);
		inoff += k, outoff += k, len -= k;
	}
	free(buf);
	return rc;
}

/* Writes one tensor's logical bytes at outoff: one copy for a plain span,
 * else gathered through ck_tensor_read in bounded chunks. */
static ck_err st_write_tensor(const struct ck_ckpt *src, const struct ck_tensor *t, int out, uint64_t outoff,
			      const char *what, struct ck_error *err)
{
	int file;
	uint64_t off;
	if (t->nbytes == 0)
		return CK_OK;
	if (ck_tensor_span(src, t, &file, &off))
		return ck_st_copy_range(src->files[file].fd, off, out, outoff, t->nbytes,
					src->files[file].path, what, err);
	uint8_t *buf = malloc(ST_COPY_CHUNK);
	if (!buf)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", what);
	ck_err rc = CK_OK;
	for (uint64_t done = 0; done < t->nbytes && rc == CK_OK;) {
		size_t got = 0;
		uint64_t left = t->nbytes - done;
		rc = ck_tensor_read(src, t, buf, left > ST_COPY_CHUNK ? ST_COPY_CHUNK : (size_t)left, done, &got, err);
		if (rc == CK_OK && got == 0)
			rc = ck_error_set(err, CK_EFORMAT, "%s: tensor data ends early", src->path);
		if (rc == CK_OK)
			rc = st_pwrite_all(out, buf, got, outoff + done, what, err);
		done += got;
	}
	free(buf);
	return rc;
}

static ck_err st_header(const struct ck_tensor_item *items, size_t n, const struct ck_value *metadata,
			struct ck_buf *b, const char *what, struct ck_error *err)
{
	ck_buf_adds(b, "{\"__metadata__\":{");
	if (metadata) {
		for (size_t i = 0; i < metadata->u.dict.n; i++) {
			if (i)
				ck_buf_addc(b, ',');
			ck_st_json_string(b, metadata->u.dict.keys[i]->u.s.p);
			ck_buf_addc(b, ':');
			ck_st_json_string(b, metadata->u.dict.vals[i]->u.s.p);
		}
	} else {
		ck_buf_adds(b, "\"format\":\"pt\"");
	}
	ck_buf_addc(b, '}');
	uint64_t at = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ck_tensor *t = items[i].val->u.t;
		const char *dn = ck_st_dtype_name(t->dtype);
		size_t bad;
		if (!dn)
			return ck_error_set(err, CK_EUNSUP, "%s: safetensors cannot store dtype %s of tensor '%s'",
					    what, ck_dtype_name(t->dtype), items[i].key);
		if (t->nbytes && t->storage < 0)
			return ck_error_set(err, CK_EUNSUP, "%s: tensor '%s' has no data to write", what, items[i].key);
		if (ck_st_utf8_bad_at((const uint8_t *)items[i].key, strlen(items[i].key), &bad))
			return ck_error_set(err, CK_EUNSUP, "%s: tensor name '%s' is not valid UTF-8", what, items[i].key);
		ck_buf_addc(b, ',');
		ck_st_json_string(b, items[i].key);
		ck_buf_printf(b, ":{\"dtype\":\"%s\",\"shape\":[", dn);
		for (int d = 0; d < t->ndim; d++)
			ck_buf_printf(b, d ? ",%lld" : "%lld", (long long)t->shape[d]);
		uint64_t end;
		if (!ck_add_u64(at, t->nbytes, &end))
			return ck_error_set(err, CK_ELIMIT, "%s: total size overflows", what);
		ck_buf_printf(b, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at, (unsigned long long)end);
		at = end;
	}
	ck_buf_addc(b, '}');
	while (b->len % 8)   /* the data then starts 8-aligned (crate `prepare`) */
		ck_buf_addc(b, ' ');
	if (b->oom)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", what);
	if (b->len > CK_ST_MAX_HEADER)
		return ck_error_set(err, CK_ELIMIT, "%s: header of %zu bytes is over the safetensors limit", what, b->len);
	return CK_OK;
}

ck_err ck_st_write_items(const struct ck_ckpt *src, const struct ck_tensor_item *items, size_t n,
			 const struct ck_value *metadata, const char *path, const char *what,
			 struct ck_error *err)
{
	struct ck_buf b;
	ck_buf_init(&b);
	int fd = -1;
	if (metadata && !ck_st_metadata_ok(metadata))
		metadata = NULL;
	ck_err rc = st_header(items, n, metadata, &b, what, err);
	if (rc != CK_OK)
		goto out;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = ck_error_errno(err, errno == EEXIST ? CK_EEXIST : CK_EIO, errno, "%s", path);
		goto out;
	}
	uint8_t lenbuf[CK_ST_LEN_BYTES];
	ck_put_u64le(lenbuf, b.len);
	if ((rc = st_pwrite_all(fd, lenbuf, sizeof lenbuf, 0, what, err)) != CK_OK ||
	    (rc = st_pwrite_all(fd, b.p, b.len, CK_ST_LEN_BYTES, what, err)) != CK_OK)
		goto out;
	uint64_t at = CK_ST_LEN_BYTES + (uint64_t)b.len;
	for (size_t i = 0; i < n && rc == CK_OK; i++) {
		rc = st_write_tensor(src, items[i].val->u.t, fd, at, what, err);
		at += items[i].val->u.t->nbytes;
	}
	if (rc == CK_OK && fsync(fd) != 0)
		rc = ck_error_errno(err, CK_EIO, errno, "%s", what);
out:
	if (fd >= 0) {
		if (close(fd) != 0 && rc == CK_OK)
			rc = ck_error_errno(err, CK_EIO, errno, "%s", what);
		if (rc != CK_OK)
			unlink(path);
	}
	ck_buf_release(&b);
	return rc;
}

ck_err ck_st_write(const struct ck_write_req *req, struct ck_error *err)
{
	const char *what = req->final_path ? req->final_path : req->path;
	struct ck_tensor_item *items;
	size_t n;
	ck_err rc = ck_st_flatten(req->root, req->src->sep, what, &items, &n, err);
	if (rc != CK_OK)
		return rc;
	const struct ck_value *meta = NULL;
	/* keep __metadata__ only when it came from safetensors */
	if (req->src->fmt == &ck_format_safetensors || (req->src->fmt && strcmp(req->src->fmt->name, "hf") == 0))
		meta = req->src->metadata;
	rc = ck_st_write_items(req->src, items, n, meta, req->path, what, err);
	ck_tensor_items_free(items, n);
	return rc;
}

