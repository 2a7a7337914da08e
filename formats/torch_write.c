/*
 * torch_write.c — writes a value tree as a torch.save zip file that
 * torch.load 1.13 .. 2.x accepts (formats.md §2.4), for both PyTorch formats
 * (a legacy input is written as zip too).
 *
 * Layout written, every entry under one folder named like torch names it
 * (the output file's stem, else "archive"):
 *  1. STEM/data.pkl   the pickle (ck_pickle_dump, protocol 2);
 *  2. STEM/byteorder  "little";
 *  3. STEM/data/K     for K = 0..n-1: the bytes of each storage the tree
 *                     uses, numbered in the order the pickle first names
 *                     them; a storage nothing uses is dropped, a shared one
 *                     is written once; views keep their offset and strides,
 *                     so the whole storage is written;
 *  4. STEM/version    "3\n".
 * All stored, data 64-byte aligned, real CRCs (zipw.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "pickle.h"
#include "torch.h"
#include "zipw.h"

#define STEM_MAX 200

struct writer {
	const struct ck_ckpt *src;
	long *newkey;       /* per source storage: its output number or -1 */
	long *order;        /* output number -> source storage */
	size_t n;
	char (*names)[24];  /* per source storage: decimal output key */
};

/* Numbers storages as the pickler first meets them. */
static const char *storage_key(void *ctx, long s)
{
	struct writer *w = ctx;
	if (s < 0 || (size_t)s >= w->src->nstorages)
		return NULL;
	if (w->newkey[s] < 0) {
		w->newkey[s] = (long)w->n;
		w->order[w->n] = s;
		snprintf(w->names[s], sizeof w->names[s], "%zu", w->n);
		w->n++;
	}
	return w->names[s];
}

static uint64_t storage_numel(void *ctx, long s)
{
	struct writer *w = ctx;
	if (s < 0 || (size_t)s >= w->src->nstorages)
		return 0;
	const struct ck_storage *st = &w->src->storages[s];
	size_t is = ck_dtype_size(st->dtype);
	return is ? st->nbytes / is : 0;
}

static enum ck_dtype storage_dtype(void *ctx, long s)
{
	struct writer *w = ctx;
	if (s < 0 || (size_t)s >= w->src->nstorages)
		return CK_DT_INVALID;
	return w->src->storages[s].dtype;
}

/* The folder torch would use: the basename of final without its extension. */
static void archive_stem(const char *final, char *out, size_t size)
{
	const char *base = strrchr(final, '/');
	base = base ? base + 1 : final;
	size_t n = strlen(base);
	const char *dot = strrchr(base, '.');
	if (dot && dot != base)
		n = (size_t)(dot - base);
	if (n == 0 || n >= size || n > STEM_MAX || memchr(base, '\\', n)) {
		snprintf(out, size, "archive");
		return;
	}
	memcpy(out, base, n);
	out[n] = 0;
}

static ck_err write_entries(struct writer *w, struct ck_zipw *z, const char *stem, const struct ck_buf *pkl,
			    struct ck_error *err)
{
	const struct ck_ckpt *src = w->src;
	char name[STEM_MAX + 64];
	ck_err rc;
	snprintf(name, sizeof name, "%s/data.pkl", stem);
	if ((rc = ck_zipw_add_mem(z, name, pkl->p, pkl->len, err)))
		return rc;
	snprintf(name, sizeof name, "%s/byteorder", stem);
	if ((rc = ck_zipw_add_mem(z, name, "little", 6, err)))
		return rc;
	for (size_t k = 0; k < w->n; k++) {
		const struct ck_storage *s = &src->storages[w->order[k]];
		if (!s->located || s->file < 0 || (size_t)s->file >= src->nfiles)
			return ck_error_set(err, CK_EINVAL, "%s: storage '%s' has no bytes to copy", src->path, s->key);
		size_t is = ck_dtype_size(s->dtype);
		uint64_t n = is ? s->nbytes / is * is : 0;
		snprintf(name, sizeof name, "%s/data/%zu", stem, k);
		if ((rc = ck_zipw_add_range(z, name, &src->files[s->file], s->offset, n, err)))
			return rc;
	}
	snprintf(name, sizeof name, "%s/version", stem);
	return ck_zipw_add_mem(z, name, "3\n", 2, err);
}

ck_err ck_torch_write(const struct ck_write_req *req, struct ck_error *err)
{
	const struct ck_ckpt *src = req->src;
	size_t ns = src->nstorages ? src->nstorages : 1;
	struct writer w = {.src = src};
	struct ck_buf pkl;
	struct ck_zipw z = {.fd = -1};
	int fd = -1, zinit = 0;
	ck_err rc;
	ck_buf_init(&pkl);
	w.newkey = malloc(ns * sizeof *w.newkey);
	w.order = malloc(ns * sizeof *w.order);
	w.names = malloc(ns * sizeof *w.names);
	if (!w.newkey || !w.order || !w.names) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", req->path);
		goto out;
	}
	for (size_t i = 0; i < ns; i++)
		w.newkey[i] = -1;

	struct ck_pickle_writer_ops ops = {
		.storage_key = storage_key, .storage_numel = storage_numel,
		.storage_dtype = storage_dtype, .ctx = &w,
	};
	if ((rc = ck_pickle_dump(req->root, &ops, &pkl, err)))
		goto out;
	if (pkl.oom) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", req->path);
		goto out;
	}

	char stem[STEM_MAX + 1];
	archive_stem(req->final_path ? req->final_path : req->path, stem, sizeof stem);
	fd = open(req->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = ck_error_errno(err, errno == ENOSPC ? CK_ENOSPC : CK_EIO, errno, "%s", req->path);
		goto out;
	}
	if ((rc = ck_zipw_init(&z, fd, req->path, err)))
		goto out;
	zinit = 1;
	if ((rc = write_entries(&w, &z, stem, &pkl, err)))
		goto out;
	if ((rc = ck_zipw_finish(&z, err)))
		goto out;
	if (fsync(fd) != 0) {
		rc = ck_error_errno(err, CK_EIO, errno, "%s", req->path);
		goto out;
	}
out:
	if (zinit)
		ck_zipw_release(&z);
	if (fd >= 0) {
		if (close(fd) != 0 && !rc)
			rc = ck_error_errno(err, CK_EIO, errno, "%s", req->path);
		if (rc)
			unlink(req->path); /* a half-written file must not look like a result */
	}
	ck_buf_release(&pkl);
	free(w.newkey);
	free(w.order);
	free(w.names);
	return rc;
}
