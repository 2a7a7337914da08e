/*
 * fuzz_util.h — what every libFuzzer harness in tests/fuzz shares: the input
 * size cap, getting an in-memory input to a reader that wants a path (a
 * reused memfd opened through /proc/self/fd/N, or a private folder in
 * /dev/shm for formats made of several files), CRC fix-ups so mutations get
 * past zip and LevelDB checksums to the code behind them, and the walk that
 * drives an opened checkpoint through the rest of the library (tree, escape
 * rule, _report, tensor reads, a write-then-read round trip).
 *
 * Everything here is static: each harness is one translation unit plus
 * either libFuzzer or standalone_main.c.  Invariant violations (a key that
 * cannot be looked up again, a file our writer made that our reader refuses)
 * abort with a message so libFuzzer saves the input as a crash.
 */
#ifndef CK_FUZZ_UTIL_H
#define CK_FUZZ_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "ck.h"
#include "cursor.h"
#include "report.h"
#include "tree.h"

#define CK_FUZZ_MAX_INPUT (1u << 20)  /* bigger inputs only slow the fuzzer down */
#define CK_FUZZ_MAX_LEAVES 256        /* tensors whose bytes are read per input */
#define CK_FUZZ_READ 256              /* bytes read at each end of a tensor */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints why the input broke an invariant and aborts, so the fuzzer keeps it. */
__attribute__((noreturn, format(printf, 1, 2), unused))
static void ck_fuzz_die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("ckptfs fuzz: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

/* ---- getting bytes to a path --------------------------------------------- */

/* Writes p[0..n) to a memfd kept for the whole process and sets path to
 * "/proc/self/fd/N", which a reader opens as a fresh regular file.  Returns
 * 0, or -1 when the system has no memfd (the caller skips the input). */
__attribute__((unused))
static int ck_fuzz_memfd(const void *p, size_t n, char *path, size_t cap)
{
	static int fd = -1;
	if (fd < 0 && (fd = memfd_create("ckptfs-fuzz", MFD_CLOEXEC)) < 0)
		return -1;
	if (ftruncate(fd, 0) != 0)
		return -1;
	for (size_t off = 0; off < n;) {
		ssize_t w = pwrite(fd, (const char *)p + off, n - off, (off_t)off);
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	return 0;
}

static char ck_fuzz_dir_path[256];

static int ck_fuzz_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

/* Empties the private folder (what a harness or a writer left there). */
__attribute__((unused))
static void ck_fuzz_clear_dir(void)
{
	if (ck_fuzz_dir_path[0])
		nftw(ck_fuzz_dir_path, ck_fuzz_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void ck_fuzz_dir_atexit(void)
{
	ck_fuzz_clear_dir();
	if (ck_fuzz_dir_path[0])
		rmdir(ck_fuzz_dir_path);
}

static int ck_fuzz_rm_all(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

/* Removes the folders of fuzz processes that died without their atexit (a
 * crash or a timeout): "ckptfs-fuzz-PID.XXXXXX" whose PID is gone. */
static void ck_fuzz_sweep(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		int pid = 0;
		char path[512];
		if (sscanf(de->d_name, "ckptfs-fuzz-%d.", &pid) != 1 || pid <= 0 || pid == (int)getpid() ||
		    kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof path, "%s/%s", base, de->d_name);
		nftw(path, ck_fuzz_rm_all, 16, FTW_DEPTH | FTW_PHYS);
	}
	if (d)
		closedir(d);
}

/* A private folder for this process, in /dev/shm (RAM) when there is one;
 * removed at exit (or by the next harness to start, after a crash).
 * Borrowed string; NULL when it cannot be made. */
__attribute__((unused))
static const char *ck_fuzz_dir(void)
{
	if (ck_fuzz_dir_path[0])
		return ck_fuzz_dir_path;
	const char *bases[] = {"/dev/shm", getenv("TMPDIR"), "/tmp"};
	for (size_t i = 0; i < 3; i++) {
		if (!bases[i])
			continue;
		ck_fuzz_sweep(bases[i]);
		snprintf(ck_fuzz_dir_path, sizeof ck_fuzz_dir_path, "%s/ckptfs-fuzz-%d.XXXXXX", bases[i],
			 (int)getpid());
		if (mkdtemp(ck_fuzz_dir_path)) {
			atexit(ck_fuzz_dir_atexit);
			return ck_fuzz_dir_path;
		}
	}
	ck_fuzz_dir_path[0] = 0;
	return NULL;
}

/* Writes p[0..n) to NAME in the private folder; path gets its full name. */
__attribute__((unused))
static int ck_fuzz_put(const char *name, const void *p, size_t n, char *path, size_t cap)
{
	const char *dir = ck_fuzz_dir();
	if (!dir)
		return -1;
	snprintf(path, cap, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	for (size_t off = 0; off < n;) {
		ssize_t w = write(fd, (const char *)p + off, n - off);
		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return close(fd);
}

/* ---- opening ------------------------------------------------------------- */

/* Like ck_ckpt_open but with the format forced, so a probe cannot route the
 * mutated bytes to some other reader.  *out owned by caller (ck_ckpt_free);
 * NULL after failure. */
__attribute__((unused))
static ck_err ck_fuzz_open_as(const struct ck_format *f, const char *path, struct ck_ckpt **out,
			      struct ck_error *err)
{
	*out = NULL;
	struct ck_ckpt *ck = calloc(1, sizeof *ck);
	if (!ck || !(ck->path = strdup(path))) {
		free(ck);
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	}
	ck->fmt = f;
	ck->sep = '.';
	ck_err rc = f->open(ck, err);
	if (rc != CK_OK) {
		ck_ckpt_free(ck);
		return rc;
	}
	*out = ck;
	return CK_OK;
}

/* Runs every format's probe on the bytes (they see hostile heads too). */
__attribute__((unused))
static void ck_fuzz_probe_all(const char *path, const uint8_t *p, size_t n)
{
	for (size_t i = 0; ck_formats[i]; i++)
		(void)ck_formats[i]->probe(path, p, n < 4096 ? n : 4096, 0);
}

/* A formats' error must have a message naming something. */
__attribute__((unused))
static void ck_fuzz_check_error(ck_err rc, const struct ck_error *err)
{
	if (rc != CK_OK && (err->code != rc || !err->msg[0]))
		ck_fuzz_die("error %s returned without its message (err.code %s, msg '%s')", ck_err_name(rc),
			    ck_err_name(err->code), err->msg);
}

/* With CK_FUZZ_VERBOSE set, one line per input: what the reader said. */
__attribute__((unused))
static void ck_fuzz_note(const char *what, ck_err rc, const struct ck_error *err)
{
	static int verbose = -1;
	if (verbose < 0)
		verbose = getenv("CK_FUZZ_VERBOSE") != NULL;
	if (verbose)
		fprintf(stderr, "%s: %s\n", what, rc ? err->msg : "ok");
}

/* ---- CRC fix-ups ---------------------------------------------------------- */

/* CRC-32 of what a raw deflate stream inflates to (at most 16 MiB of it);
 * 0 when the stream is corrupt. */
static int ck_fuzz_inflate_crc(const uint8_t *p, size_t n, uint32_t *crc)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, -15) != Z_OK)
		return 0;
	uint8_t out[16384];
	uLong c = crc32(0, NULL, 0);
	size_t total = 0;
	z.next_in = (Bytef *)(uintptr_t)p;
	z.avail_in = (uInt)n;
	int r;
	do {
		z.next_out = out;
		z.avail_out = sizeof out;
		r = inflate(&z, Z_NO_FLUSH);
		size_t got = sizeof out - z.avail_out;
		c = crc32(c, out, (uInt)got);
		total += got;
	} while (r == Z_OK && total < (16u << 20) && (z.avail_in || z.avail_out == 0));
	inflateEnd(&z);
	*crc = (uint32_t)c;
	return r == Z_STREAM_END;
}

/* Rewrites the CRC-32 of every stored or deflated zip entry, in both its
 * central and local header, to match its bytes.  Without this nearly every
 * mutation of a member's contents dies in libzip's CRC check.  Returns 1 when
 * some byte changed. */
__attribute__((unused))
static int ck_fuzz_zip_fix(uint8_t *p, size_t n)
{
	if (n < 22)
		return 0;
	size_t eocd = n - 22, stop = n > 22 + 65535 ? n - 22 - 65535 : 0;
	for (;; eocd--) {
		if (memcmp(p + eocd, "PK\5\6", 4) == 0)
			break;
		if (eocd == stop)
			return 0;
	}
	struct ck_cursor c;
	ck_cursor_init(&c, p + eocd + 10, 12);
	uint16_t count = ck_cursor_u16le(&c);
	ck_cursor_skip(&c, 4);
	uint32_t cd = ck_cursor_u32le(&c);
	int changed = 0;
	for (uint16_t i = 0; i < count && cd <= n && n - cd >= 46; i++) {
		uint8_t *e = p + cd;
		if (memcmp(e, "PK\1\2", 4) != 0)
			break;
		ck_cursor_init(&c, e, 46);
		ck_cursor_seek(&c, 10);
		uint16_t method = ck_cursor_u16le(&c);
		ck_cursor_seek(&c, 20);
		uint32_t csize = ck_cursor_u32le(&c);
		ck_cursor_seek(&c, 28);
		uint16_t nlen = ck_cursor_u16le(&c), xlen = ck_cursor_u16le(&c), clen = ck_cursor_u16le(&c);
		ck_cursor_seek(&c, 42);
		uint32_t lho = ck_cursor_u32le(&c);
		cd += 46u + nlen + xlen + clen;
		if ((method != 0 && method != 8) || lho > n || n - lho < 30 || memcmp(p + lho, "PK\3\4", 4) != 0)
			continue;
		ck_cursor_init(&c, p + lho + 26, 4);
		uint64_t data = (uint64_t)lho + 30 + ck_cursor_u16le(&c);
		data += ck_cursor_u16le(&c);
		if (data > n || n - data < csize)
			continue;
		uint32_t crc;
		if (method == 0)
			crc = (uint32_t)crc32(0, p + data, csize);
		else if (!ck_fuzz_inflate_crc(p + data, csize, &crc))
			continue;
		uint8_t want[4];
		ck_put_u32le(want, crc);
		if (memcmp(e + 16, want, 4) || memcmp(p + lho + 14, want, 4))
			changed = 1;
		memcpy(e + 16, want, 4);
		memcpy(p + lho + 14, want, 4);
	}
	return changed;
}

/* ---- driving an opened checkpoint ---------------------------------------- */

/* Removes a file or a whole folder (a writer's output); errors ignored. */
__attribute__((unused))
static void ck_fuzz_rm(const char *path)
{
	nftw(path, ck_fuzz_rm_all, 16, FTW_DEPTH | FTW_PHYS);
}

static int ck_fuzz_strcmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* CRC-32 of the first and last CK_FUZZ_READ bytes of a tensor, or an error
 * name: enough to see a round trip move the wrong bytes without reading a
 * hostile "1 TiB" view. */
static void ck_fuzz_digest(const struct ck_ckpt *ck, const struct ck_tensor *t, char *out, size_t cap)
{
	uint8_t buf[CK_FUZZ_READ];
	struct ck_error err = {0};
	uLong crc = crc32(0, NULL, 0);
	uint64_t offs[2] = {0, t->nbytes > CK_FUZZ_READ ? t->nbytes - CK_FUZZ_READ : 0};
	for (int i = 0; i < (t->nbytes > CK_FUZZ_READ ? 2 : 1); i++) {
		size_t want = t->nbytes < CK_FUZZ_READ ? (size_t)t->nbytes : CK_FUZZ_READ, got = 0;
		ck_err rc = ck_tensor_read(ck, t, buf, want, offs[i], &got, &err);
		ck_fuzz_check_error(rc, &err);
		if (rc) {
			snprintf(out, cap, "err:%s", ck_err_name(rc));
			return;
		}
		if (got != want)
			ck_fuzz_die("ck_tensor_read gave %zu of %zu bytes at offset %llu of a %llu-byte tensor", got,
				    want, (unsigned long long)offs[i], (unsigned long long)t->nbytes);
		crc = crc32(crc, buf, (uInt)got);
	}
	snprintf(out, cap, "%08lx", (unsigned long)crc);
}

/* One line per leaf, sorted: "KEY\tDTYPE\t[SHAPE]\tNBYTES\tDIGEST" for a
 * tensor, "KEY\t= TEXT" for a plain value.  On the way it checks the escape
 * rule's promise that every leaf is found again by its own path.  malloc'd;
 * NULL when out of memory. */
__attribute__((unused))
static char *ck_fuzz_summary(const struct ck_ckpt *ck, const struct ck_tree *t)
{
	struct ck_node **leaves = NULL;
	size_t n = 0;
	struct ck_error err = {0};
	ck_err rc = ck_tree_leaves(t, NULL, &leaves, &n, &err);
	ck_fuzz_check_error(rc, &err);
	if (rc)
		return NULL;
	char **lines = calloc(n ? n : 1, sizeof *lines);
	size_t total = 1, k = 0;
	for (size_t i = 0; lines && i < n; i++) {
		const struct ck_node *nd = leaves[i];
		char *path = ck_node_path(nd), *key = ck_node_key(t, nd, NULL);
		if (path && ck_tree_lookup(t, path) != nd)
			ck_fuzz_die("leaf '%s' is not found again by its own path", path);
		const struct ck_value *v = nd->value;
		char *line = NULL;
		if (key && v && v->kind == CK_V_TENSOR) {
			char shape[512], dig[32] = "-";
			ck_shape_format(v->u.t, shape, sizeof shape);
			if (i < CK_FUZZ_MAX_LEAVES)
				ck_fuzz_digest(ck, v->u.t, dig, sizeof dig);
			if (asprintf(&line, "%s\t%s\t%s\t%llu\t%s", key, ck_dtype_name(v->u.t->dtype), shape,
				     (unsigned long long)v->u.t->nbytes, dig) < 0)
				line = NULL;
		} else if (key && v && v->kind == CK_V_STORAGE) {
			/* its index and key are renumbered by every writer: show what stays */
			const struct ck_storage *st = v->u.i >= 0 && (size_t)v->u.i < ck->nstorages
				? &ck->storages[v->u.i] : NULL;
			if (asprintf(&line, "%s\t= <storage %s %llu>", key, st ? ck_dtype_name(st->dtype) : "?",
				     st ? (unsigned long long)st->nbytes : 0ull) < 0)
				line = NULL;
		} else if (key && v) {
			char *text = ck_value_text(v);
			if (text && asprintf(&line, "%s\t= %s", key, text) < 0)
				line = NULL;
			free(text);
		}
		free(path);
		free(key);
		if (line) {
			lines[k++] = line;
			total += strlen(line) + 1;
		}
	}
	free(leaves);
	char *out = lines ? malloc(total) : NULL;
	if (out) {
		qsort(lines, k, sizeof *lines, ck_fuzz_strcmp);
		size_t at = 0;
		for (size_t i = 0; i < k; i++) {
			size_t l = strlen(lines[i]);
			memcpy(out + at, lines[i], l);
			out[at + l] = '\n';
			at += l + 1;
		}
		out[at] = 0;
	}
	for (size_t i = 0; i < k; i++)
		free(lines[i]);
	free(lines);
	return out;
}

/* Known open bug (tests/fuzz/crashes/remap/README): the tree lets two leaves
 * end up with one key ("mv x a.b" beside a/b, or names with a "%~N" suffix)
 * and the commit then keeps only one of them.  1 when summary shows such a
 * pair and CK_FUZZ_STRICT is not set, so the fuzzers can look past it. */
static int ck_fuzz_known_dup(const char *summary)
{
	if (getenv("CK_FUZZ_STRICT"))
		return 0;
	for (const char *line = summary, *next; *line; line = next) {
		next = strchr(line, '\n');
		if (!next)
			break;
		next++;
		size_t k = strcspn(line, "\t\n");
		if (strncmp(line, next, k) == 0 && next[k] == '\t')
			return 1;
	}
	return 0;
}

/* Known, documented (gguf_write.c): the GGUF writer stores a 0-d tensor as
 * ne = [1], while the reader shows an n_dims = 0 tensor info as shape [].
 * 1 when that is the only difference and CK_FUZZ_STRICT is not set. */
static int ck_fuzz_known_0d(const struct ck_format *writer, const char *a, const char *b)
{
	if (getenv("CK_FUZZ_STRICT") || strcmp(writer->name, "gguf") != 0)
		return 0;
	for (;;) {
		const char *ta = strstr(a, "\t[]\t");
		size_t na = ta ? (size_t)(ta - a) : strlen(a);
		if (strncmp(a, b, na) != 0)
			return 0;
		if (!ta)
			return b[na] == 0;
		if (strncmp(b + na, "\t[1]\t", 5) != 0)
			return 0;
		a += na + 4;
		b += na + 5;
	}
}

/* Writes the tree with writer's write op, reads it back with reader (the
 * same format, or zip torch for a legacy source) and requires the same
 * summary.  A writer refusing (EUNSUP for a dtype or a plain value, ...) is
 * fine; a file it did write must read back unchanged. */
__attribute__((unused))
static void ck_fuzz_roundtrip(struct ck_ckpt *ck, struct ck_tree *t, const struct ck_format *writer,
			      const struct ck_format *reader, const char *summary)
{
	const char *dir = ck_fuzz_dir();
	if (!dir || !writer->write || !summary)
		return;
	/* the source's stem, in a folder of its own: a .npy names its one
	 * array after the file, so the copy must be called the same */
	char out[512];
	const char *base = strrchr(ck->path, '/');
	base = base ? base + 1 : ck->path;
	const char *dot = strrchr(base, '.');
	int stem = dot && dot != base ? (int)(dot - base) : (int)strlen(base);
	snprintf(out, sizeof out, "%s/rt", dir);
	mkdir(out, 0755);
	snprintf(out, sizeof out, "%s/rt/%.*s%s", dir, stem > 0 && stem < 200 ? stem : 9,
		 stem > 0 && stem < 200 ? base : "roundtrip", reader->ext);
	ck_fuzz_rm(out);
	struct ck_error err = {0};
	struct ck_value *root = NULL;
	ck_err rc = ck_tree_to_value(t, &root, &err);
	ck_fuzz_check_error(rc, &err);
	if (rc)
		return;
	struct ck_write_req req = {.src = ck, .root = root, .path = out, .final_path = out};
	rc = writer->write(&req, &err);
	ck_fuzz_check_error(rc, &err);
	ck_fuzz_note("round trip", rc, &err);
	if (rc == CK_OK) {
		struct ck_ckpt *back = NULL;
		struct ck_tree *bt = NULL;
		rc = ck_fuzz_open_as(reader, out, &back, &err);
		if (rc)
			ck_fuzz_die("the %s writer made a file its reader refuses: %s", writer->name, err.msg);
		if ((rc = ck_tree_build(back, &bt, &err)))
			ck_fuzz_die("the %s writer's output has no tree: %s", writer->name, err.msg);
		char *again = ck_fuzz_summary(back, bt);
		if (again && strcmp(again, summary) != 0 && ck_fuzz_known_dup(summary))
			ck_fuzz_note("round trip (known issue: two leaves share a key)", CK_OK, &err);
		else if (again && strcmp(again, summary) != 0 && ck_fuzz_known_0d(writer, summary, again))
			ck_fuzz_note("round trip (known issue: GGUF 0-d tensor comes back as [1])", CK_OK, &err);
		else if (again && strcmp(again, summary) != 0)
			ck_fuzz_die("a %s round trip changed the checkpoint\n--- read:\n%s--- written and read back:\n%s",
				    writer->name, summary, again);
		free(again);
		ck_tree_free(bt);
		ck_ckpt_free(back);
	}
	ck_value_unref(root);
	ck_fuzz_rm(out);
}

/* The changes a user makes in a mount, on whatever tree the input gave. */
static void ck_fuzz_change_tree(struct ck_tree *t)
{
	struct ck_node **leaves = NULL;
	size_t n = 0;
	struct ck_error err = {0};
	ck_err rc;
	if (ck_tree_leaves(t, NULL, &leaves, &n, &err))
		return;
	char *first = n ? ck_node_path(leaves[0]) : NULL;
	char *last = n > 1 ? ck_node_path(leaves[n - 1]) : NULL;
	char *folder = n > 2 && leaves[n / 2]->parent ? ck_node_path(leaves[n / 2]->parent) : NULL;
	free(leaves);
	rc = ck_tree_mkdir(t, "fuzz_new", &err);
	ck_fuzz_check_error(rc, &err);
	if (first) {
		rc = ck_tree_rename(t, first, "fuzz_new/moved", &err);
		ck_fuzz_check_error(rc, &err);
	}
	if (last) {
		rc = ck_tree_unlink(t, last, &err);
		ck_fuzz_check_error(rc, &err);
	}
	if (folder && *folder) {
		rc = ck_tree_rename(t, folder, "fuzz_dir", &err);
		ck_fuzz_check_error(rc, &err);
	}
	free(first);
	free(last);
	free(folder);
	free(ck_tree_remap_text(t));
	(void)ck_tree_changed(t);
	struct ck_value *v = NULL;
	rc = ck_tree_to_value(t, &v, &err);
	ck_fuzz_check_error(rc, &err);
	ck_value_unref(v);
	int ok;
	free(ck_report_text(t, NULL, 0, &ok));
}

/* Everything the mount and the CLI do with an opened checkpoint: tree, shape
 * text, _report (text and JSON), tensor reads, a round trip through
 * writer/reader (NULL: none), then mv/rm on the tree.  Frees all it made. */
__attribute__((unused))
static void ck_fuzz_exercise(struct ck_ckpt *ck, const struct ck_format *writer, const struct ck_format *reader)
{
	struct ck_error err = {0};
	struct ck_tree *t = NULL;
	ck_err rc = ck_tree_build(ck, &t, &err);
	ck_fuzz_check_error(rc, &err);
	if (rc)
		return;
	free(ck_tree_shape_text(t, t->root));
	int ok;
	free(ck_report_text(t, NULL, 0, &ok));
	free(ck_report_text(t, NULL, 1, &ok));
	char *summary = ck_fuzz_summary(ck, t);
	if (writer)
		ck_fuzz_roundtrip(ck, t, writer, reader ? reader : writer, summary);
	free(summary);
	ck_fuzz_change_tree(t);
	ck_tree_free(t);
}

/* The common run: the bytes through a memfd, every probe, open as format f,
 * one-line error check, then the whole-library walk and round trip. */
__attribute__((unused))
static void ck_fuzz_run_file(const uint8_t *data, size_t size, const struct ck_format *f,
			     const struct ck_format *reader)
{
	char path[64];
	if (ck_fuzz_memfd(data, size, path, sizeof path) != 0)
		return;
	ck_fuzz_probe_all(path, data, size);
	struct ck_error err = {0};
	struct ck_ckpt *ck = NULL;
	ck_err rc = ck_fuzz_open_as(f, path, &ck, &err);
	ck_fuzz_check_error(rc, &err);
	ck_fuzz_note(f->name, rc, &err);
	if (rc)
		return;
	ck_fuzz_exercise(ck, f, reader);
	ck_ckpt_free(ck);
}

#endif
