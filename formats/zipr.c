/*
 * zipr.c — finds and walks a zip archive's central directory for the readers
 * of zip-based checkpoints (torch_zip.c, npz.c): the entries' names, methods,
 * sizes and local-header offsets, and the absolute offset of a stored
 * entry's data.  Every read goes through ck_cursor; every size from the file
 * is checked arithmetic, and the directory is capped.
 *
 * Byte layout (formats.md §2.1, §7; all integers little-endian):
 *  1. per entry: local header "PK\3\4" (30 bytes: name length u16 @26, extra
 *     length u16 @28), name, extra, data, optional descriptor;
 *  2. central directory: per entry "PK\1\2" (46 bytes: flags u16 @8, method
 *     u16 @10, crc @16, compressed size u32 @20, size u32 @24, name length
 *     @28, extra length @30, comment length @32, local header offset u32
 *     @42), name, extra (zip64 field 0x0001 holds the u64 values stored as
 *     0xFFFFFFFF: size, compressed size, offset, in that order), comment;
 *  3. optional zip64 end record "PK\6\6" (56 bytes: entries u64 @32, cd size
 *     u64 @40, cd offset u64 @48) and its locator "PK\6\7" (20 bytes: record
 *     offset u64 @8) just before
 *  4. the end record "PK\5\6" (22 bytes: disk u16 @4, cd disk u16 @6,
 *     entries u16 @10, cd size u32 @12, cd offset u32 @16, comment length
 *     u16 @20), then the comment.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "zipr.h"

#define LFH_SIG 0x04034b50u
#define LFH_NAME_LEN 26
#define CDH_SIG 0x02014b50u
#define CDH_SIZE 46
#define EOCD_SIG 0x06054b50u
#define EOCD_SIZE 22
#define Z64_LOC_SIG 0x07064b50u
#define Z64_LOC_SIZE 20
#define Z64_EOCD_SIG 0x06064b50u
#define Z64_EOCD_SIZE 56
#define Z64_EXTRA_TAG 0x0001
#define MARK32 0xFFFFFFFFu

/* The zip64 end record the locator before buf[at] points at, if any. */
static ck_err zipr_find64(const struct ck_file *f, const uint8_t *buf, size_t at, uint64_t *end,
			  struct ck_zipr_loc *loc, struct ck_error *err)
{
	if (at < Z64_LOC_SIZE)
		return CK_OK;
	struct ck_cursor l;
	ck_cursor_init(&l, buf + at - Z64_LOC_SIZE, Z64_LOC_SIZE);
	if (ck_cursor_u32le(&l) != Z64_LOC_SIG)
		return CK_OK;
	ck_cursor_skip(&l, 4);
	uint64_t rec = ck_cursor_u64le(&l), rec_end;
	uint8_t z[Z64_EOCD_SIZE];
	if (!ck_add_u64(rec, Z64_EOCD_SIZE, &rec_end) || rec_end > *end - Z64_LOC_SIZE)
		return ck_error_set(err, CK_EFORMAT, "%s: bad zip64 end of central directory locator", f->path);
	ck_err rc = ck_file_pread(f, z, sizeof z, rec, err);
	if (rc)
		return rc;
	struct ck_cursor r;
	ck_cursor_init(&r, z, sizeof z);
	if (ck_cursor_u32le(&r) != Z64_EOCD_SIG)
		return ck_error_set(err, CK_EFORMAT, "%s: bad zip64 end of central directory", f->path);
	ck_cursor_seek(&r, 32);
	loc->count = ck_cursor_u64le(&r);
	loc->size = ck_cursor_u64le(&r);
	loc->off = ck_cursor_u64le(&r);
	*end = rec;
	return CK_OK;
}

ck_err ck_zipr_find(const struct ck_file *f, uint64_t max_entries, struct ck_zipr_loc *loc,
		    struct ck_error *err)
{
	if (f->size < EOCD_SIZE)
		return ck_error_set(err, CK_EFORMAT, "%s: truncated zip (%" PRIu64 " bytes)", f->path, f->size);
	/* the end record is in the last 22 + 65535 (longest comment) bytes */
	size_t tail = f->size < EOCD_SIZE + 65535 ? (size_t)f->size : EOCD_SIZE + 65535;
	uint64_t base = f->size - tail;
	uint8_t *buf = malloc(tail);
	if (!buf)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", f->path);
	ck_err rc = ck_file_pread(f, buf, tail, base, err);
	if (rc)
		goto out;
	size_t at = SIZE_MAX;
	struct ck_cursor c;
	for (size_t i = tail - EOCD_SIZE + 1; i-- > 0;) {
		ck_cursor_init(&c, buf + i, tail - i);
		if (ck_cursor_u32le(&c) != EOCD_SIG)
			continue;
		ck_cursor_seek(&c, 20);
		if (i + EOCD_SIZE + ck_cursor_u16le(&c) <= tail) {
			at = i;
			break;
		}
	}
	if (at == SIZE_MAX) {
		rc = ck_error_set(err, CK_EFORMAT, "%s: truncated zip (no end of central directory)", f->path);
		goto out;
	}
	ck_cursor_init(&c, buf + at, tail - at);
	ck_cursor_skip(&c, 4);
	uint16_t disk = ck_cursor_u16le(&c), cd_disk = ck_cursor_u16le(&c);
	ck_cursor_skip(&c, 2);
	loc->count = ck_cursor_u16le(&c);
	loc->size = ck_cursor_u32le(&c);
	loc->off = ck_cursor_u32le(&c);
	uint64_t end = base + at;   /* the directory must end before this */
	if (disk != 0 || cd_disk != 0) {
		rc = ck_error_set(err, CK_EUNSUP, "%s: multi-part zip archives are not supported", f->path);
		goto out;
	}
	if ((rc = zipr_find64(f, buf, at, &end, loc, err)))
		goto out;
	uint64_t cd_end;
	if (!ck_add_u64(loc->off, loc->size, &cd_end) || cd_end > end)
		rc = ck_error_set(err, CK_EFORMAT, "%s: truncated zip (central directory past its end)", f->path);
	else if (loc->size > CK_ZIPR_MAX_CD_BYTES)
		rc = ck_error_set(err, CK_ELIMIT, "%s: zip central directory too large (%" PRIu64 " bytes)",
				  f->path, loc->size);
	else if (loc->count > loc->size / CDH_SIZE)
		rc = ck_error_set(err, CK_EFORMAT, "%s: zip central directory claims %" PRIu64
				  " entries in %" PRIu64 " bytes", f->path, loc->count, loc->size);
	else if (loc->count > max_entries)
		rc = ck_error_set(err, CK_ELIMIT, "%s: %" PRIu64 " zip members is over the limit of %" PRIu64,
				  f->path, loc->count, max_entries);
out:
	free(buf);
	return rc;
}

/* Applies e's zip64 extra field (x[0..xlen)) to the values marked 0xFFFFFFFF. */
static ck_err zipr_extra(const struct ck_file *f, struct ck_zipr_entry *e, const uint8_t *x, uint16_t xlen,
			 struct ck_error *err)
{
	struct ck_cursor xc;
	ck_cursor_init(&xc, x, xlen);
	while (ck_cursor_left(&xc) >= 4) {
		uint16_t tag = ck_cursor_u16le(&xc), len = ck_cursor_u16le(&xc);
		const uint8_t *fp = ck_cursor_take(&xc, len);
		if (!fp)
			break;   /* a failed take does not advance: continue would spin */
		if (tag != Z64_EXTRA_TAG)
			continue;
		struct ck_cursor fc;
		ck_cursor_init(&fc, fp, len);
		if (e->usize == MARK32)
			e->usize = ck_cursor_u64le(&fc);
		if (e->csize == MARK32)
			e->csize = ck_cursor_u64le(&fc);
		if (e->lho == MARK32)
			e->lho = ck_cursor_u64le(&fc);
		if (!ck_cursor_ok(&fc)) {
			char q[CK_QUOTE];
			return ck_error_set(err, CK_EFORMAT, "%s: bad zip64 field of entry '%s'", f->path,
					    ck_quote_name(q, sizeof q, e->name, e->nlen));
		}
	}
	return CK_OK;
}

ck_err ck_zipr_read(const struct ck_file *f, const struct ck_zipr_loc *loc, struct ck_zipr_dir *d,
		    struct ck_error *err)
{
	/* ck_zipr_find capped size and count */
	d->cd = malloc(loc->size ? (size_t)loc->size : 1);
	d->e = calloc(loc->count ? (size_t)loc->count : 1, sizeof *d->e);
	if (!d->cd || !d->e)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", f->path);
	ck_err rc = ck_file_pread(f, d->cd, (size_t)loc->size, loc->off, err);
	if (rc)
		return rc;
	struct ck_cursor c;
	ck_cursor_init(&c, d->cd, (size_t)loc->size);
	for (uint64_t i = 0; i < loc->count; i++) {
		struct ck_zipr_entry *e = &d->e[i];
		if (ck_cursor_u32le(&c) != CDH_SIG)
			return ck_error_set(err, CK_EFORMAT, "%s: bad zip central directory entry %" PRIu64,
					    f->path, i);
		ck_cursor_skip(&c, 4);
		e->flags = ck_cursor_u16le(&c);
		e->method = ck_cursor_u16le(&c);
		ck_cursor_skip(&c, 8);
		e->csize = ck_cursor_u32le(&c);
		e->usize = ck_cursor_u32le(&c);
		uint16_t nlen = ck_cursor_u16le(&c), xlen = ck_cursor_u16le(&c), clen = ck_cursor_u16le(&c);
		ck_cursor_skip(&c, 8);
		e->lho = ck_cursor_u32le(&c);
		e->name = (const char *)ck_cursor_take(&c, nlen);
		e->nlen = nlen;
		const uint8_t *x = ck_cursor_take(&c, xlen);
		ck_cursor_skip(&c, clen);
		if (!ck_cursor_ok(&c))
			return ck_error_set(err, CK_EFORMAT, "%s: truncated zip central directory", f->path);
		if ((rc = zipr_extra(f, e, x, xlen, err)))
			return rc;
		d->n++;
	}
	return CK_OK;
}

void ck_zipr_release(struct ck_zipr_dir *d)
{
	free(d->cd);
	free(d->e);
	d->cd = NULL;
	d->e = NULL;
	d->n = 0;
}

ck_err ck_zipr_data_offset(const struct ck_file *f, const struct ck_zipr_entry *e, const char *noun,
			   uint64_t *out, struct ck_error *err)
{
	char q[CK_QUOTE];
	uint8_t h[CK_ZIPR_LFH_SIZE];
	uint64_t end;
	if (!ck_add_u64(e->lho, CK_ZIPR_LFH_SIZE, &end) || end > f->size)
		goto trunc;
	ck_err rc = ck_file_pread(f, h, sizeof h, e->lho, err);
	if (rc)
		return rc;
	struct ck_cursor c;
	ck_cursor_init(&c, h, sizeof h);
	if (ck_cursor_u32le(&c) != LFH_SIG)
		return ck_error_set(err, CK_EFORMAT, "%s: bad zip local header for %s '%s'", f->path, noun,
				    ck_quote_name(q, sizeof q, e->name, e->nlen));
	ck_cursor_seek(&c, LFH_NAME_LEN);
	uint16_t nlen = ck_cursor_u16le(&c), xlen = ck_cursor_u16le(&c);
	uint64_t data = e->lho + CK_ZIPR_LFH_SIZE + nlen + xlen;   /* lho + 30 <= size: no overflow */
	if (!ck_add_u64(data, e->csize, &end) || end > f->size)
		goto trunc;
	*out = data;
	return CK_OK;
trunc:
	return ck_error_set(err, CK_EFORMAT, "%s: truncated zip %s '%s'", f->path, noun,
			    ck_quote_name(q, sizeof q, e->name, e->nlen));
}
