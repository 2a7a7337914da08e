/*
 * ckpt.c — opening a checkpoint (format detection from the bytes), its files
 * and storages, and reading a tensor's logical bytes straight from the
 * source's byte ranges (gathering strided views through a small window).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck.h"

#define CK_PROBE_BYTES 4096
#define CK_GATHER_WINDOW (64 * 1024)
#define CK_MAX_EXPANDED_VIEW (1ull << 30)
#define CK_GATHER_SPARSE 1024  /* element spacing (bytes) past which a window is wasted */
#define CK_GATHER_WHOLE (8u << 20)  /* per call, freed before returning */

const struct ck_format *ck_format_by_name(const char *name)
{
	for (size_t i = 0; ck_formats[i]; i++)
		if (strcmp(ck_formats[i]->name, name) == 0)
			return ck_formats[i];
	return NULL;
}

int ck_ckpt_add_file(struct ck_ckpt *ck, const char *path, struct ck_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ck_error_errno(err, errno == ENOENT ? CK_ENOENT : CK_EIO, errno, "%s", path);
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		ck_error_set(err, CK_EFORMAT, "%s: not a regular file", path);
		return -1;
	}
	struct ck_file *f = realloc(ck->files, (ck->nfiles + 1) * sizeof *f);
	char *copy = strdup(path);
	if (!f || !copy) {
		if (f)
			ck->files = f;
		free(copy);
		close(fd);
		ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
		return -1;
	}
	ck->files = f;
	f[ck->nfiles] = (struct ck_file){.path = copy, .fd = fd, .size = (uint64_t)st.st_size};
	return (int)ck->nfiles++;
}

long ck_ckpt_add_storage(struct ck_ckpt *ck, const char *key, enum ck_dtype dt,
			 uint64_t nbytes, int file, uint64_t offset)
{
	if ((ck->nstorages & (ck->nstorages - 1)) == 0) { /* grow at powers of two */
		size_t cap = ck->nstorages ? ck->nstorages * 2 : 8;
		struct ck_storage *s = realloc(ck->storages, cap * sizeof *s);
		if (!s)
			return -1;
		ck->storages = s;
	}
	char *k = strdup(key ? key : "");
	if (!k)
		return -1;
	ck->storages[ck->nstorages] = (struct ck_storage){
		.key = k, .dtype = dt, .nbytes = nbytes, .file = file, .offset = offset,
		.located = file >= 0,
	};
	return (long)ck->nstorages++;
}

void ck_ckpt_free(struct ck_ckpt *ck)
{
	if (!ck)
		return;
	if (ck->fmt && ck->fmt->close)
		ck->fmt->close(ck);
	ck_value_unref(ck->root);
	ck_value_unref(ck->metadata);
	for (size_t i = 0; i < ck->nstorages; i++)
		free(ck->storages[i].key);
	free(ck->storages);
	for (size_t i = 0; i < ck->nfiles; i++) {
		if (ck->files[i].fd >= 0)
			close(ck->files[i].fd);
		free(ck->files[i].path);
	}
	free(ck->files);
	free(ck->config_json);
	free(ck->path);
	free(ck);
}

ck_err ck_ckpt_open(const char *path, struct ck_ckpt **out, struct ck_error *err)
{
	*out = NULL;
	uint8_t head[CK_PROBE_BYTES];
	size_t n = 0;
	int is_dir = -1; /* -1: nothing at that path (a TF prefix may still match) */
	struct stat st;
	if (stat(path, &st) == 0) {
		is_dir = S_ISDIR(st.st_mode) ? 1 : 0;
		if (!is_dir) {
			int fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return ck_error_errno(err, CK_EIO, errno, "%s", path);
			ssize_t r = pread(fd, head, sizeof head, 0);
			int e = errno;
			close(fd);
			if (r < 0)
				return ck_error_errno(err, CK_EIO, e, "%s", path);
			n = (size_t)r;
		}
	} else if (errno != ENOENT) {
		return ck_error_errno(err, CK_EIO, errno, "%s", path);
	}

	const struct ck_format *best = NULL;
	int best_score = 0;
	for (size_t i = 0; ck_formats[i]; i++) {
		int s = ck_formats[i]->probe(path, head, n, is_dir);
		if (s > best_score) {
			best = ck_formats[i];
			best_score = s;
		}
	}
	if (!best) {
		if (is_dir < 0)
			return ck_error_set(err, CK_ENOENT, "%s: no such file or directory", path);
		if (is_dir == 0 && n == 0)
			return ck_error_set(err, CK_EFORMAT, "%s: empty file", path);
		return ck_error_set(err, CK_EFORMAT, "%s: unrecognised checkpoint format", path);
	}

	struct ck_ckpt *ck = calloc(1, sizeof *ck);
	if (!ck || !(ck->path = strdup(path))) {
		free(ck);
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	}
	ck->fmt = best;
	ck->sep = '.';
	ck_err rc = best->open(ck, err);
	if (rc != CK_OK) {
		ck_ckpt_free(ck);
		return rc;
	}
	*out = ck;
	return CK_OK;
}

ck_err ck_file_pread(const struct ck_file *f, void *buf, size_t len, uint64_t off, struct ck_error *err)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t r = pread(f->fd, p, len, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return ck_error_errno(err, CK_EIO, errno, "%s", f->path);
		}
		if (r == 0)
			return ck_error_set(err, CK_EFORMAT, "%s: truncated (read past end at offset %llu)",
					    f->path, (unsigned long long)off);
		p += r;
		len -= (size_t)r;
		off += (uint64_t)r;
	}
	return CK_OK;
}

int ck_tensor_span(const struct ck_ckpt *ck, const struct ck_tensor *t, int *file, uint64_t *fileoff)
{
	if (t->storage < 0 || (size_t)t->storage >= ck->nstorages || !ck_tensor_is_contiguous(t))
		return 0;
	const struct ck_storage *s = &ck->storages[t->storage];
	if (!s->located || s->file < 0)
		return 0;
	*file = s->file;
	*fileoff = s->offset + (uint64_t)t->offset * ck_dtype_size(t->dtype);
	return 1;
}

ck_err ck_tensor_check(const struct ck_ckpt *ck, struct ck_tensor *t, const char *key, struct ck_error *err)
{
	const char *path = ck->path;
	if (!ck_tensor_update_nbytes(t))
		return ck_error_set(err, CK_ELIMIT, "%s: tensor '%s': size overflows", path, key);
	if (t->storage < 0)
		return CK_OK;
	if ((size_t)t->storage >= ck->nstorages)
		return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': bad storage index", path, key);
	const struct ck_storage *s = &ck->storages[t->storage];
	uint64_t is = ck_dtype_size(t->dtype);
	if (t->nbytes == 0)
		return CK_OK;
	if (t->offset < 0)
		return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': negative storage offset", path, key);
	uint64_t last = (uint64_t)t->offset; /* highest element index touched */
	if (ck_dtype_block(t->dtype) > 1) {
		uint64_t end;
		if (!ck_mul_u64(last, is, &end) || !ck_add_u64(end, t->nbytes, &end) || end > s->nbytes)
			goto out_of_range;
		return CK_OK;
	}
	for (int i = 0; i < t->ndim; i++) {
		uint64_t step;
		if (t->stride[i] < 0)
			return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': negative stride", path, key);
		if (!ck_mul_u64((uint64_t)(t->shape[i] - 1), (uint64_t)t->stride[i], &step) ||
		    !ck_add_u64(last, step, &last))
			goto out_of_range;
	}
	uint64_t end;
	if (!ck_add_u64(last, 1, &end) || !ck_mul_u64(end, is, &end) || end > s->nbytes)
		goto out_of_range;
	/* zero strides make a view bigger than its bytes (expand); a hostile one
	 * would turn a tiny file into terabytes when converted */
	if (t->nbytes > s->nbytes && t->nbytes > CK_MAX_EXPANDED_VIEW)
		return ck_error_set(err, CK_ELIMIT, "%s: tensor '%s': view of %llu bytes over a storage of %llu bytes",
				    path, key, (unsigned long long)t->nbytes, (unsigned long long)s->nbytes);
	return CK_OK;
out_of_range:
	return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': view reaches past its storage '%s' (%llu bytes)",
			    path, key, s->key, (unsigned long long)s->nbytes);
}

/* A transposed view (the two innermost dims swapped in storage, stride[-2] == 1):
 * whole output rows are gathered column by column, one pread per column of K
 * rows, so the cost stays linear in the bytes asked for.  Advances *out, *off
 * and *len past the full rows it served; partial rows are left to the caller. */
static ck_err gather_transposed_rows(const struct ck_file *f, const struct ck_storage *s,
				     const struct ck_tensor *t, uint8_t *win, uint8_t **out,
				     uint64_t *off, size_t *len, struct ck_error *err)
{
	int last = t->ndim - 1;
	uint64_t is = ck_dtype_size(t->dtype);
	uint64_t cols = (uint64_t)t->shape[last], rows = (uint64_t)t->shape[last - 1];
	uint64_t row = cols * is;
	while (*off % row == 0 && *len >= row) {
		uint64_t r0 = *off / row;               /* output row, over all outer dims */
		uint64_t k = *len / row, in_mat = rows - r0 % rows;
		if (k > in_mat)
			k = in_mat;                         /* stay inside one matrix */
		if (k > CK_GATHER_WINDOW / is)
			k = CK_GATHER_WINDOW / is;
		uint64_t rem = r0, sidx = (uint64_t)t->offset;
		for (int i = last - 1; i >= 0; i--) {
			sidx += (rem % (uint64_t)t->shape[i]) * (uint64_t)t->stride[i];
			rem /= (uint64_t)t->shape[i];
		}
		for (uint64_t c = 0; c < cols; c++) {
			uint64_t at = sidx + c * (uint64_t)t->stride[last];
			ck_err rc = ck_file_pread(f, win, (size_t)(k * is), s->offset + at * is, err);
			if (rc)
				return rc;
			for (uint64_t j = 0; j < k; j++)
				memcpy(*out + (j * cols + c) * is, win + j * is, (size_t)is);
		}
		*out += k * row;
		*off += k * row;
		*len -= (size_t)(k * row);
	}
	return CK_OK;
}

ck_err ck_tensor_read(const struct ck_ckpt *ck, const struct ck_tensor *t, void *buf,
		      size_t len, uint64_t off, size_t *got, struct ck_error *err)
{
	*got = 0;
	if (off >= t->nbytes || len == 0)
		return CK_OK;
	if (len > t->nbytes - off)
		len = (size_t)(t->nbytes - off);
	if (t->storage < 0 || (size_t)t->storage >= ck->nstorages)
		return ck_error_set(err, CK_EINVAL, "%s: tensor has no storage", ck->path);
	const struct ck_storage *s = &ck->storages[t->storage];
	if (!s->located || s->file < 0 || (size_t)s->file >= ck->nfiles)
		return ck_error_set(err, CK_EUNSUP, "%s: storage '%s' is not a plain byte range", ck->path, s->key);
	const struct ck_file *f = &ck->files[s->file];
	uint64_t is = ck_dtype_size(t->dtype);
	int file;
	uint64_t base;
	ck_err rc;
	if (ck_tensor_span(ck, t, &file, &base)) {
		rc = ck_file_pread(f, buf, len, base + off, err);
		if (rc == CK_OK)
			*got = len;
		return rc;
	}

	/* Strided view: walk C order.  A view whose whole storage span is small
	 * (most transposed matrices) is read once and gathered in memory; larger
	 * ones read each innermost run through a bounded window. */
	uint8_t *out = buf;
	int last = t->ndim - 1;
	uint64_t span = 1;
	for (int i = 0; i < t->ndim; i++)
		span += (uint64_t)(t->shape[i] - 1) * (uint64_t)t->stride[i]; /* bounded by ck_tensor_check */
	uint64_t span_bytes = span * is;
	if (span_bytes <= CK_GATHER_WHOLE) {
		uint8_t *all = malloc(span_bytes ? span_bytes : 1);
		if (!all)
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
		rc = ck_file_pread(f, all, (size_t)span_bytes, s->offset + (uint64_t)t->offset * is, err);
		while (!rc && len) {
			uint64_t e = off / is, within = off % is, rem = e, sidx = 0;
			for (int i = last; i >= 0; i--) {
				sidx += (rem % (uint64_t)t->shape[i]) * (uint64_t)t->stride[i];
				rem /= (uint64_t)t->shape[i];
			}
			uint64_t n = is - within < len ? is - within : len;
			memcpy(out, all + sidx * is + within, (size_t)n);
			out += n, off += n, len -= (size_t)n;
		}
		free(all);
		if (rc == CK_OK)
			*got = (size_t)(out - (uint8_t *)buf);
		return rc;
	}
	uint8_t *win = malloc(CK_GATHER_WINDOW);
	if (!win)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
	rc = CK_OK;
	int transposed = t->ndim >= 2 && t->stride[last] != 1 && t->stride[last - 1] == 1;
	while (len) {
		if (transposed && ((rc = gather_transposed_rows(f, s, t, win, &out, &off, &len, err)) || !len))
			break;
		uint64_t e = off / is, within = off % is;
		uint64_t rem = e, sidx = (uint64_t)t->offset, idx_last = 0;
		for (int i = last; i >= 0; i--) {
			uint64_t dim = (uint64_t)t->shape[i];
			uint64_t idx = rem % dim;
			rem /= dim;
			sidx += idx * (uint64_t)t->stride[i];
			if (i == last)
				idx_last = idx;
		}
		uint64_t st = last >= 0 ? (uint64_t)t->stride[last] : 1;
		uint64_t run = last >= 0 ? (uint64_t)t->shape[last] - idx_last : 1;
		if (st == 1) {
			uint64_t n = run * is - within;
			if (n > len)
				n = len;
			rc = ck_file_pread(f, out, (size_t)n, s->offset + sidx * is + within, err);
			if (rc)
				break;
			out += n, off += n, len -= (size_t)n;
			continue;
		}
		/* elements sidx, sidx+st, ...: how many fit one window; elements far
		 * apart are cheaper read one by one than through a mostly unused window */
		uint64_t k = st ? (CK_GATHER_WINDOW / is - 1) / st + 1 : run;
		if (k > run)
			k = run;
		if (st * is >= CK_GATHER_SPARSE)
			k = 1;
		uint64_t span = ((k - 1) * st + 1) * is;
		rc = ck_file_pread(f, win, (size_t)span, s->offset + sidx * is, err);
		if (rc)
			break;
		for (uint64_t j = 0; j < k && len; j++) {
			uint64_t n = is - within;
			if (n > len)
				n = len;
			memcpy(out, win + j * st * is + within, (size_t)n);
			out += n, off += n, len -= (size_t)n;
			within = 0;
		}
	}
	free(win);
	if (rc == CK_OK)
		*got = (size_t)(out - (uint8_t *)buf);
	return rc;
}
