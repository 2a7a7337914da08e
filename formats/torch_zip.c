/*
 * torch_zip.c — reader of torch.save files from PyTorch 1.6 on (a zip with a
 * pickle and one record per storage).  Opening reads the central directory,
 * the small records and data.pkl; for each storage it finds the absolute file
 * offset of the record's bytes so later reads are plain preads.  No tensor
 * byte is read at open.
 *
 * libzip opens the archive (validation) and reads the small records (data.pkl
 * may be deflated), but it has no public API for an entry's local-header
 * offset, so the central directory is also walked with ck_cursor (zipr.c).
 *
 * Byte layout (formats.md §2.1; all integers little-endian):
 *  1. per entry: local header "PK\3\4" (30 bytes: version u16 @4, flags u16 @6,
 *     method u16 @8, time/date @10, crc u32 @14, sizes u32 @18/@22, name
 *     length u16 @26, extra length u16 @28), name, extra (torch pads with an
 *     "FB" field so the data is 64-byte aligned), data, optional descriptor;
 *  2. central directory: per entry "PK\1\2" (46 bytes: method u16 @10, crc
 *     @16, compressed size u32 @20, size u32 @24, name length @28, extra
 *     length @30, comment length @32, local header offset u32 @42), name,
 *     extra (zip64 field 0x0001 holds the u64 values stored as 0xFFFFFFFF:
 *     size, compressed size, offset, in that order), comment;
 *  3. optional zip64 end record "PK\6\6" (56 bytes: entries u64 @32, cd size
 *     u64 @40, cd offset u64 @48) and its locator "PK\6\7" (20 bytes: record
 *     offset u64 @8) just before
 *  4. the end record "PK\5\6" (22 bytes: entries u16 @10, cd size u32 @12,
 *     cd offset u32 @16, comment length u16 @20), then the comment.
 * Records, under one folder named by the first entry: data.pkl, byteorder
 * ("little"), data/<key> per storage, version ("3\n"); TorchScript archives
 * add constants.pkl and code/.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zip.h>

#include "cursor.h"
#include "pickle.h"
#include "torch.h"
#include "zipr.h"

#define LFH_SIZE 30
#define LFH_NAME_LEN 26
#define MAX_SMALL_RECORD 4096
#define MAX_FORMAT_VERSION 10

struct zdir {
	struct ck_zipr_dir z;     /* owned */
	struct ck_strmap names;   /* entry name -> index in z.e */
};

struct zip_load {
	struct ck_ckpt *ck;
	const struct ck_file *f;
	struct zdir *dir;
	const char *prefix;    /* "archive/" */
	struct ck_strmap keys; /* storage key -> storage index */
};

static void zdir_release(struct zdir *d)
{
	ck_zipr_release(&d->z);
	ck_strmap_release(&d->names);
}

/* Reads the central directory into d and indexes its names. */
static ck_err zdir_read(const struct ck_file *f, struct zdir *d, struct ck_error *err)
{
	struct ck_zipr_loc loc;
	ck_err rc = ck_zipr_find(f, UINT64_MAX, &loc, err);
	if (rc)
		return rc;
	if (loc.count == 0)
		return ck_error_set(err, CK_EFORMAT, "%s: empty zip archive", f->path);
	if ((rc = ck_zipr_read(f, &loc, &d->z, err)))
		return rc;
	for (size_t i = 0; i < d->z.n; i++) {
		const struct ck_zipr_entry *e = &d->z.e[i];
		/* first entry wins for a duplicated name, as miniz's lookup does */
		if (ck_strmap_get(&d->names, e->name, e->nlen) < 0 &&
		    ck_strmap_put(&d->names, e->name, e->nlen, (long)i))
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", f->path);
	}
	return CK_OK;
}

/* Entry index of prefix+rel, or -1. */
static long find_record(const struct zip_load *z, const char *rel)
{
	char name[512];
	int n = snprintf(name, sizeof name, "%s%s", z->prefix, rel);
	if (n < 0 || (size_t)n >= sizeof name)
		return -1;
	return ck_strmap_get(&z->dir->names, name, (size_t)n);
}

/* Reads a whole record through libzip (it may be deflated); *out malloc'd, NUL-terminated. */
static ck_err read_record(zip_t *za, const struct zip_load *z, const char *rel, uint64_t cap,
			  uint8_t **out, size_t *len, struct ck_error *err)
{
	const char *path = z->ck->path;
	char name[512];
	snprintf(name, sizeof name, "%s%s", z->prefix, rel);
	zip_stat_t st;
	zip_stat_init(&st);
	if (zip_stat(za, name, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
		return ck_error_set(err, CK_EFORMAT, "%s: missing record '%s'", path, rel);
	if (st.size > cap)
		return ck_error_set(err, CK_ELIMIT, "%s: record '%s' too large (%" PRIu64 " bytes)", path, rel,
				    (uint64_t)st.size);
	uint8_t *buf = malloc((size_t)st.size + 1);
	if (!buf)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	zip_file_t *zf = zip_fopen(za, name, 0);
	if (!zf) {
		free(buf);
		return ck_error_set(err, CK_EFORMAT, "%s: record '%s': %s", path, rel, zip_strerror(za));
	}
	zip_int64_t got = zip_fread(zf, buf, st.size);
	int bad = got < 0 || (zip_uint64_t)got != st.size;
	if (bad)
		ck_error_set(err, CK_EFORMAT, "%s: truncated zip entry '%s'%s%s", path, name,
			     got < 0 ? ": " : "", got < 0 ? zip_file_strerror(zf) : "");
	zip_fclose(zf);
	if (bad) {
		free(buf);
		return CK_EFORMAT;
	}
	buf[st.size] = 0;
	*out = buf;
	*len = (size_t)st.size;
	return CK_OK;
}

static ck_err persistent_load(void *ctx, struct ck_value *pid, struct ck_value **out, struct ck_error *err)
{
	struct zip_load *z = ctx;
	const char *path = z->ck->path;
	struct ck_torch_pid p;
	ck_err rc = ck_torch_pid_parse(path, pid, 5, &p, err);
	if (rc)
		return rc;
	long idx = ck_strmap_get(&z->keys, p.key, strlen(p.key));
	if (idx < 0) {
		if (z->ck->nstorages >= CK_TORCH_MAX_STORAGES)
			return ck_error_set(err, CK_ELIMIT, "%s: too many storages", path);
		char rel[300];
		int n = snprintf(rel, sizeof rel, "data/%s", p.key);
		long ei = n > 0 && (size_t)n < sizeof rel ? find_record(z, rel) : -1;
		if (ei < 0)
			return ck_error_set(err, CK_EFORMAT, "%s: missing storage record 'data/%.200s'", path, p.key);
		const struct ck_zipr_entry *e = &z->dir->z.e[ei];
		if (e->method != 0)
			return ck_error_set(err, CK_EUNSUP, "%s: storage record 'data/%s' is compressed "
					    "(method %u); only stored records are supported", path, p.key, e->method);
		if (e->csize != e->usize)
			return ck_error_set(err, CK_EFORMAT, "%s: storage record 'data/%s': sizes disagree", path, p.key);
		uint64_t need = p.numel * ck_dtype_size(p.dtype); /* no overflow: checked by pid_parse */
		if (e->usize < need)
			return ck_error_set(err, CK_EFORMAT, "%s: storage record 'data/%s' has %" PRIu64
					    " bytes, the pickle needs %" PRIu64, path, p.key, e->usize, need);
		uint64_t off = 0;
		if ((rc = ck_zipr_data_offset(z->f, e, "entry", &off, err)))
			return rc;
		idx = ck_ckpt_add_storage(z->ck, p.key, p.dtype, e->usize, 0, off);
		if (idx < 0 || ck_strmap_put(&z->keys, p.key, strlen(p.key), idx))
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	}
	struct ck_value *v = ck_value_new(CK_V_STORAGE);
	if (!v)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	v->u.i = idx;
	*out = v;
	return CK_OK;
}

static int is_torchscript(const struct zip_load *z)
{
	if (find_record(z, "constants.pkl") >= 0)
		return 1;
	size_t pl = strlen(z->prefix);
	for (size_t i = 0; i < z->dir->z.n; i++) {
		const struct ck_zipr_entry *e = &z->dir->z.e[i];
		if (e->nlen > pl + 5 && memcmp(e->name, z->prefix, pl) == 0 && memcmp(e->name + pl, "code/", 5) == 0)
			return 1;
	}
	return 0;
}

/* byteorder and version: small records torch checks before unpickling. */
static ck_err check_small_records(zip_t *za, const struct zip_load *z, struct ck_error *err)
{
	const char *path = z->ck->path;
	uint8_t *buf = NULL;
	size_t len;
	ck_err rc;
	if (find_record(z, "byteorder") >= 0) {
		if ((rc = read_record(za, z, "byteorder", MAX_SMALL_RECORD, &buf, &len, err)))
			return rc;
		int little = len == 6 && memcmp(buf, "little", 6) == 0;
		int big = len == 3 && memcmp(buf, "big", 3) == 0;
		free(buf);
		if (big)
			return ck_error_set(err, CK_EUNSUP, "%s: big-endian checkpoint (byteorder 'big') is not supported",
					    path);
		if (!little)
			return ck_error_set(err, CK_EFORMAT, "%s: bad byteorder record", path);
	}
	const char *vrec = find_record(z, ".data/version") >= 0 ? ".data/version" : "version";
	if (find_record(z, vrec) >= 0) {
		if ((rc = read_record(za, z, vrec, MAX_SMALL_RECORD, &buf, &len, err)))
			return rc;
		char *end;
		errno = 0;
		long v = strtol((char *)buf, &end, 10);
		int ok = end != (char *)buf && errno == 0 && (*end == 0 || *end == '\n');
		free(buf);
		if (!ok)
			return ck_error_set(err, CK_EFORMAT, "%s: bad version record", path);
		if (v < 1 || v > MAX_FORMAT_VERSION)
			return ck_error_set(err, CK_EUNSUP, "%s: unsupported archive version %ld", path, v);
	}
	return CK_OK;
}

static ck_err zip_open_ckpt(struct ck_ckpt *ck, struct ck_error *err)
{
	struct zdir dir = {0};
	struct zip_load z = {.ck = ck, .dir = &dir};
	ck_strmap_init(&z.keys);
	ck_strmap_init(&dir.names);
	zip_t *za = NULL;
	uint8_t *pkl = NULL;
	char *prefix = NULL;
	size_t pkl_len = 0;
	ck_err rc;

	int fi = ck_ckpt_add_file(ck, ck->path, err);
	if (fi < 0)
		return err ? err->code : CK_EIO;
	z.f = &ck->files[fi];
	if ((rc = zdir_read(z.f, &dir, err)))
		goto out;
	const char *slash = memchr(dir.z.e[0].name, '/', dir.z.e[0].nlen);
	if (!slash) {
		rc = ck_error_set(err, CK_EFORMAT, "%s: not a PyTorch archive (first entry '%.*s' has no folder)",
				  ck->path, (int)dir.z.e[0].nlen, dir.z.e[0].name);
		goto out;
	}
	prefix = strndup(dir.z.e[0].name, (size_t)(slash - dir.z.e[0].name) + 1);
	if (!prefix) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
		goto out;
	}
	z.prefix = prefix;

	int fd = dup(z.f->fd), zerr = 0;
	if (fd < 0) {
		rc = ck_error_errno(err, CK_EIO, errno, "%s", ck->path);
		goto out;
	}
	za = zip_fdopen(fd, ZIP_RDONLY, &zerr);
	if (!za) {
		zip_error_t ze;
		zip_error_init_with_code(&ze, zerr);
		rc = ck_error_set(err, CK_EFORMAT, "%s: bad zip archive: %s", ck->path, zip_error_strerror(&ze));
		zip_error_fini(&ze);
		close(fd);
		goto out;
	}
	if ((zip_uint64_t)zip_get_num_entries(za, 0) != dir.z.n) {
		rc = ck_error_set(err, CK_EFORMAT, "%s: inconsistent zip central directory", ck->path);
		goto out;
	}

	int script = is_torchscript(&z);
	if ((rc = check_small_records(za, &z, err)))
		goto out;
	if (find_record(&z, "data.pkl") < 0) {
		if (script)
			rc = ck_error_set(err, CK_EUNSUP, "%s: TorchScript archive: not supported", ck->path);
		else
			rc = ck_error_set(err, CK_EFORMAT, "%s: missing record 'data.pkl'", ck->path);
		goto out;
	}
	if ((rc = read_record(za, &z, "data.pkl", CK_TORCH_MAX_PICKLE, &pkl, &pkl_len, err)))
		goto out;
	char name[300];
	snprintf(name, sizeof name, "%s: data.pkl", ck->path);
	struct ck_pickle_hooks hooks = {.persistent_load = persistent_load, .ctx = &z, .ck = ck};
	rc = ck_pickle_load(pkl, pkl_len, &hooks, name, &ck->root, NULL, err);
	if (rc && script) {
		/* its data.pkl names __torch__ classes, which a safe reader refuses */
		rc = ck_error_set(err, CK_EUNSUP, "%s: TorchScript archive: not supported", ck->path);
		goto out;
	}
	if (rc)
		goto out;
	ck->sep = '.';
	rc = ck_torch_check_tensors(ck, err);
out:
	if (za)
		zip_discard(za);
	free(pkl);
	free(prefix);
	zdir_release(&dir);
	ck_strmap_release(&z.keys);
	return rc;
}

static int zip_probe(const char *path, const uint8_t *head, size_t n, int is_dir)
{
	if (is_dir != 0 || n < LFH_SIZE || memcmp(head, "PK\3\4", 4) != 0)
		return 0;
	struct ck_cursor c;
	ck_cursor_init(&c, head, n);
	ck_cursor_seek(&c, LFH_NAME_LEN);
	uint16_t nlen = ck_cursor_u16le(&c);
	ck_cursor_skip(&c, 2);
	const char *name = (const char *)ck_cursor_take(&c, nlen);
	if (!name)
		return 5; /* a zip, torch's or not: let its reader say why */
	const char *slash = memchr(name, '/', nlen);
	if (!slash)
		return 5;
	size_t rest = nlen - (size_t)(slash + 1 - name);
	if (rest == 8 && memcmp(slash + 1, "data.pkl", 8) == 0)
		return 95;
	return 60;
}

static void zip_close_ckpt(struct ck_ckpt *ck)
{
	(void)ck;
}

const struct ck_format ck_format_pytorch = {
	.name = "pytorch",
	.ext = ".pt",
	.probe = zip_probe,
	.open = zip_open_ckpt,
	.close = zip_close_ckpt,
	.write = ck_torch_write,
};
