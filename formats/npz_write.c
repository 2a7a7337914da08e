/*
 * npz_write.c — the NumPy writers: .npz (np.savez's layout: one stored zip
 * member `<key>.npy` per tensor, in tree order) and .npy (exactly one
 * tensor).  Each .npy is the bytes numpy 1.24's np.save writes for the same
 * C-order array: the same header text, growth spaces and padding, so numpy
 * loads our output exactly as its own.  Tensor bytes are streamed through a
 * bounded buffer (ck_tensor_read gathers strided views), the CRC computed on
 * the way and patched into the local header afterwards, so no member is ever
 * held in memory.  A stored zip is used because an uncompressed member is a
 * plain byte range our reader (and any mmap) can use; zipw.h is not used
 * because its entries come from one memory block or one file range, while an
 * .npy member is a header plus gathered tensor bytes.
 *
 * Byte layout written (integers little-endian):
 *  1. per member: local header "PK\3\4" (30 bytes: version 20, or 45 with
 *     zip64; flags 0x0800 (UTF-8 name); method 0; DOS date 1980-01-01; crc;
 *     sizes, 0xFFFFFFFF with zip64), name, [zip64 extra: tag 1, len 16, size,
 *     size], then the .npy bytes;
 *  2. the central directory "PK\1\2" per member, with a zip64 extra holding
 *     whichever of sizes and offset do not fit 32 bits;
 *  3. zip64 end record and locator when counts or offsets need them;
 *  4. end record "PK\5\6", no comment.
 * Keys: the tree's keys joined by '.'; a tensor with an empty key (a
 * checkpoint that is one bare tensor) is written as numpy's "arr_0".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "cursor.h"
#include "npz.h"
#include "tree.h"

#define NW_CHUNK ((size_t)1 << 20)
#define NW_GROWTH_DIGITS 21   /* numpy's GROWTH_AXIS_MAX_DIGITS */
#define NW_LFH 30
#define NW_CDH 46
#define NW_MARK32 0xFFFFFFFFu
#define NW_MARK16 0xFFFFu
#define NW_V20 20
#define NW_V45 45
#define NW_FLAG_UTF8 0x0800
#define NW_DATE_1980 0x0021

void ck_npy_header(struct ck_buf *b, const struct ck_tensor *t)
{
	struct ck_buf d;
	ck_buf_init(&d);
	ck_buf_printf(&d, "{'descr': '%s', 'fortran_order': False, 'shape': (", ck_npy_descr(t->dtype));
	for (int i = 0; i < t->ndim; i++)
		ck_buf_printf(&d, i ? ", %lld" : "%lld", (long long)t->shape[i]);
	ck_buf_adds(&d, t->ndim == 1 ? ",), }" : "), }");
	if (t->ndim) {   /* room to grow the first axis in place, as numpy leaves */
		char digits[32];
		int n = snprintf(digits, sizeof digits, "%lld", (long long)t->shape[0]);
		for (int i = n; i < NW_GROWTH_DIGITS; i++)
			ck_buf_addc(&d, ' ');
	}
	size_t hlen = d.len + 1;   /* + the final '\n' */
	int v2 = 0;
	size_t pad = CK_NPY_ALIGN - (CK_NPY_MAGIC_LEN + 2 + 2 + hlen) % CK_NPY_ALIGN;
	if (hlen + pad > 65535) {  /* numpy then switches to version 2.0 (u32 length) */
		v2 = 1;
		pad = CK_NPY_ALIGN - (CK_NPY_MAGIC_LEN + 2 + 4 + hlen) % CK_NPY_ALIGN;
	}
	ck_buf_add(b, CK_NPY_MAGIC, CK_NPY_MAGIC_LEN);
	ck_buf_addc(b, v2 ? 2 : 1);
	ck_buf_addc(b, 0);
	if (v2)
		ck_buf_u32le(b, (uint32_t)(hlen + pad));
	else
		ck_buf_u16le(b, (uint16_t)(hlen + pad));
	ck_buf_add(b, d.p, d.len);
	for (size_t i = 0; i < pad; i++)
		ck_buf_addc(b, ' ');
	ck_buf_addc(b, '\n');
	if (d.oom)
		b->oom = 1;
	ck_buf_release(&d);
}

/* ---- output --------------------------------------------------------------- */

struct nw {
	int fd;
	const char *what;        /* the output's name in messages */
	uint64_t off;            /* where the next bytes go */
	uint32_t crc;
	uint8_t *chunk;          /* owned */
	struct ck_buf cd;        /* central directory so far */
	uint64_t nentries;
	struct ck_error *err;
};

static ck_err nw_put(struct nw *w, const void *p, size_t n, uint64_t off)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t r = pwrite(w->fd, b, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return ck_error_errno(w->err, errno == ENOSPC ? CK_ENOSPC : CK_EIO, r < 0 ? errno : EIO,
					      "%s", w->what);
		b += r, n -= (size_t)r, off += (uint64_t)r;
	}
	return CK_OK;
}

/* Appends bytes at w->off, folding them into the running CRC. */
static ck_err nw_append(struct nw *w, const void *p, size_t n)
{
	w->crc = (uint32_t)crc32(w->crc, p, (uInt)n);
	ck_err rc = nw_put(w, p, n, w->off);
	w->off += n;
	return rc;
}

/* The .npy of one tensor (header + C-order bytes) at w->off. */
static ck_err nw_npy(struct nw *w, const struct ck_ckpt *src, const struct ck_tensor *t, const struct ck_buf *h)
{
	ck_err rc = nw_append(w, h->p, h->len);
	for (uint64_t done = 0; done < t->nbytes && !rc;) {
		size_t got = 0, want = t->nbytes - done > NW_CHUNK ? NW_CHUNK : (size_t)(t->nbytes - done);
		rc = ck_tensor_read(src, t, w->chunk, want, done, &got, w->err);
		if (!rc && got == 0)
			rc = ck_error_set(w->err, CK_EFORMAT, "%s: tensor data ends early", src->path);
		if (!rc)
			rc = nw_append(w, w->chunk, got);
		done += got;
	}
	return rc;
}

static ck_err nw_member(struct nw *w, const char *name, const struct ck_ckpt *src, const struct ck_tensor *t,
			const struct ck_buf *h)
{
	size_t nlen = strlen(name);
	uint64_t n = h->len + t->nbytes, lho = w->off;
	int z64 = n >= NW_MARK32;
	uint8_t lh[NW_LFH];
	if (nlen > NW_MARK16)
		return ck_error_set(w->err, CK_EUNSUP, "%s: member name of %zu bytes is too long for zip", w->what, nlen);
	ck_put_u32le(lh, 0x04034b50u);
	ck_put_u16le(lh + 4, z64 ? NW_V45 : NW_V20);
	ck_put_u16le(lh + 6, NW_FLAG_UTF8);
	ck_put_u16le(lh + 8, 0);
	ck_put_u16le(lh + 10, 0);
	ck_put_u16le(lh + 12, NW_DATE_1980);
	ck_put_u32le(lh + 14, 0);   /* crc, patched below */
	ck_put_u32le(lh + 18, z64 ? NW_MARK32 : (uint32_t)n);
	ck_put_u32le(lh + 22, z64 ? NW_MARK32 : (uint32_t)n);
	ck_put_u16le(lh + 26, (uint16_t)nlen);
	ck_put_u16le(lh + 28, z64 ? 20 : 0);
	uint8_t x[20];
	ck_put_u16le(x, 1);
	ck_put_u16le(x + 2, 16);
	ck_put_u64le(x + 4, n);
	ck_put_u64le(x + 12, n);
	ck_err rc;
	if ((rc = nw_put(w, lh, sizeof lh, lho)) || (rc = nw_put(w, name, nlen, lho + NW_LFH)) ||
	    (z64 && (rc = nw_put(w, x, sizeof x, lho + NW_LFH + nlen))))
		return rc;
	w->off = lho + NW_LFH + nlen + (z64 ? 20 : 0);
	w->crc = (uint32_t)crc32(0L, Z_NULL, 0);
	if ((rc = nw_npy(w, src, t, h)))
		return rc;
	uint8_t c4[4];
	ck_put_u32le(c4, w->crc);
	if ((rc = nw_put(w, c4, 4, lho + 14)))
		return rc;

	int big_off = lho >= NW_MARK32;
	uint16_t xlen = (uint16_t)(z64 || big_off ? 4 + (z64 ? 16 : 0) + (big_off ? 8 : 0) : 0);
	uint8_t ch[NW_CDH];
	ck_put_u32le(ch, 0x02014b50u);
	ck_put_u16le(ch + 4, NW_V45);
	ck_put_u16le(ch + 6, xlen ? NW_V45 : NW_V20);
	ck_put_u16le(ch + 8, NW_FLAG_UTF8);
	ck_put_u16le(ch + 10, 0);
	ck_put_u16le(ch + 12, 0);
	ck_put_u16le(ch + 14, NW_DATE_1980);
	ck_put_u32le(ch + 16, w->crc);
	ck_put_u32le(ch + 20, z64 ? NW_MARK32 : (uint32_t)n);
	ck_put_u32le(ch + 24, z64 ? NW_MARK32 : (uint32_t)n);
	ck_put_u16le(ch + 28, (uint16_t)nlen);
	ck_put_u16le(ch + 30, xlen);
	memset(ch + 32, 0, 10);
	ck_put_u32le(ch + 42, big_off ? NW_MARK32 : (uint32_t)lho);
	ck_buf_add(&w->cd, ch, sizeof ch);
	ck_buf_add(&w->cd, name, nlen);
	if (xlen) {
		ck_buf_u16le(&w->cd, 1);
		ck_buf_u16le(&w->cd, (uint16_t)(xlen - 4));
		if (z64) {
			ck_buf_u64le(&w->cd, n);
			ck_buf_u64le(&w->cd, n);
		}
		if (big_off)
			ck_buf_u64le(&w->cd, lho);
	}
	w->nentries++;
	return w->cd.oom ? ck_error_set(w->err, CK_ENOMEM, "%s: out of memory", w->what) : CK_OK;
}

static ck_err nw_finish(struct nw *w)
{
	uint64_t cd_off = w->off, cd_size = w->cd.len;
	ck_err rc = nw_put(w, w->cd.p, w->cd.len, cd_off);
	if (rc)
		return rc;
	struct ck_buf e;
	ck_buf_init(&e);
	uint64_t pos = cd_off + cd_size;
	if (w->nentries >= NW_MARK16 || cd_off >= NW_MARK32 || cd_size >= NW_MARK32) {
		ck_buf_u32le(&e, 0x06064b50u);
		ck_buf_u64le(&e, 44);
		ck_buf_u16le(&e, NW_V45);
		ck_buf_u16le(&e, NW_V45);
		ck_buf_u32le(&e, 0);
		ck_buf_u32le(&e, 0);
		ck_buf_u64le(&e, w->nentries);
		ck_buf_u64le(&e, w->nentries);
		ck_buf_u64le(&e, cd_size);
		ck_buf_u64le(&e, cd_off);
		ck_buf_u32le(&e, 0x07064b50u);
		ck_buf_u32le(&e, 0);
		ck_buf_u64le(&e, pos);
		ck_buf_u32le(&e, 1);
	}
	uint16_t cnt = w->nentries >= NW_MARK16 ? NW_MARK16 : (uint16_t)w->nentries;
	ck_buf_u32le(&e, 0x06054b50u);
	ck_buf_u32le(&e, 0);
	ck_buf_u16le(&e, cnt);
	ck_buf_u16le(&e, cnt);
	ck_buf_u32le(&e, cd_size >= NW_MARK32 ? NW_MARK32 : (uint32_t)cd_size);
	ck_buf_u32le(&e, cd_off >= NW_MARK32 ? NW_MARK32 : (uint32_t)cd_off);
	ck_buf_u16le(&e, 0);
	rc = e.oom ? ck_error_set(w->err, CK_ENOMEM, "%s: out of memory", w->what) : nw_put(w, e.p, e.len, pos);
	w->off = pos + e.len;
	ck_buf_release(&e);
	return rc;
}

/* ---- the write ops ----------------------------------------------------------- */

struct nw_item { char *name; const struct ck_tensor *t; };

struct nw_list {
	struct nw_item *items;   /* owned */
	size_t n;
	const char *what, *fmt;
	struct ck_error *err;
};

/* Checks that numpy can hold each tensor and names its member `<key>.npy`. */
static ck_err nw_collect(struct nw_list *l, const struct ck_tensor_item *ti, size_t n)
{
	char q[CK_QUOTE];
	if (n && !(l->items = calloc(n, sizeof *l->items)))
		return ck_error_set(l->err, CK_ENOMEM, "%s: out of memory", l->what);
	for (size_t i = 0; i < n; i++) {
		const char *key = ti[i].key;
		const struct ck_tensor *t = ti[i].val->u.t;
		ck_quote_name(q, sizeof q, key, strlen(key));
		if (!ck_npy_descr(t->dtype))
			return ck_error_set(l->err, CK_EUNSUP, "%s: %s cannot store dtype %s of tensor '%s' "
					    "(numpy has no such dtype)", l->what, l->fmt, ck_dtype_name(t->dtype), q);
		if (t->nbytes && t->storage < 0)
			return ck_error_set(l->err, CK_EUNSUP, "%s: tensor '%s' has no data to write", l->what, q);
		const char *k = *key ? key : "arr_0";
		size_t kl = strlen(k);
		char *name = malloc(kl + 5);
		if (!name)
			return ck_error_set(l->err, CK_ENOMEM, "%s: out of memory", l->what);
		memcpy(name, k, kl);
		memcpy(name + kl, ".npy", 5);
		l->items[l->n++] = (struct nw_item){name, t};
	}
	return CK_OK;
}

static int nw_cmp(const void *a, const void *b)
{
	return strcmp((*(const struct nw_item *const *)a)->name, (*(const struct nw_item *const *)b)->name);
}

static ck_err nw_flatten(const struct ck_write_req *req, struct nw_list *l)
{
	struct ck_tensor_item *ti;
	size_t n;
	ck_err rc = ck_value_tensors(req->root, req->src->sep, l->what, l->fmt, &ti, &n, l->err);
	if (rc)
		return rc;
	rc = nw_collect(l, ti, n);
	ck_tensor_items_free(ti, n);
	if (rc)
		return rc;
	const struct nw_item **s = l->n ? malloc(l->n * sizeof *s) : NULL;
	if (l->n && !s)
		return ck_error_set(l->err, CK_ENOMEM, "%s: out of memory", l->what);
	for (size_t i = 0; i < l->n; i++)
		s[i] = &l->items[i];
	if (l->n)
		qsort(s, l->n, sizeof *s, nw_cmp);
	char q[CK_QUOTE];
	for (size_t i = 1; i < l->n && !rc; i++)
		if (strcmp(s[i - 1]->name, s[i]->name) == 0)
			rc = ck_error_set(l->err, CK_EUNSUP, "%s: two tensors would both be stored as '%s'",
					  l->what, ck_quote_name(q, sizeof q, s[i]->name, strlen(s[i]->name)));
	free(s);
	return rc;
}

/* Opens the output, runs the body, fsyncs; on failure nothing is left at path. */
static ck_err nw_run(const struct ck_write_req *req, struct nw_list *l, int zip, struct ck_error *err)
{
	struct nw w = {.fd = -1, .what = l->what, .err = err};
	ck_buf_init(&w.cd);
	struct ck_buf h;
	ck_buf_init(&h);
	ck_err rc = CK_OK;
	if (!(w.chunk = malloc(NW_CHUNK))) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", l->what);
		goto out;
	}
	w.fd = open(req->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w.fd < 0) {
		rc = ck_error_errno(err, errno == EEXIST ? CK_EEXIST : CK_EIO, errno, "%s", req->path);
		goto out;
	}
	for (size_t i = 0; i < l->n && !rc; i++) {
		h.len = 0;
		ck_npy_header(&h, l->items[i].t);
		if (h.oom)
			rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", l->what);
		else if (zip)
			rc = nw_member(&w, l->items[i].name, req->src, l->items[i].t, &h);
		else
			rc = nw_npy(&w, req->src, l->items[i].t, &h);
	}
	if (!rc && zip)
		rc = nw_finish(&w);
	if (!rc && ftruncate(w.fd, (off_t)w.off) != 0)
		rc = ck_error_errno(err, CK_EIO, errno, "%s", l->what);
	if (!rc && fsync(w.fd) != 0)
		rc = ck_error_errno(err, CK_EIO, errno, "%s", l->what);
out:
	if (w.fd >= 0) {
		if (close(w.fd) != 0 && !rc)
			rc = ck_error_errno(err, CK_EIO, errno, "%s", l->what);
		if (rc)
			unlink(req->path);
	}
	free(w.chunk);
	ck_buf_release(&w.cd);
	ck_buf_release(&h);
	return rc;
}

static ck_err nw_write(const struct ck_write_req *req, int zip, struct ck_error *err)
{
	struct nw_list l = {.what = req->final_path ? req->final_path : req->path, .fmt = zip ? "npz" : "npy",
			    .err = err};
	ck_err rc = nw_flatten(req, &l);
	if (!rc && !zip && l.n != 1)
		rc = ck_error_set(err, CK_EUNSUP, "%s: an .npy file holds exactly one array, not %zu (write npz)",
				  l.what, l.n);
	if (!rc)
		rc = nw_run(req, &l, zip, err);
	for (size_t i = 0; i < l.n; i++)
		free(l.items[i].name);
	free(l.items);
	return rc;
}

ck_err ck_npz_write(const struct ck_write_req *req, struct ck_error *err)
{
	return nw_write(req, 1, err);
}

ck_err ck_npy_write(const struct ck_write_req *req, struct ck_error *err)
{
	return nw_write(req, 0, err);
}
