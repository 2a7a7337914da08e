/*
 * zipr.h — the zip central-directory reader shared by the torch (torch_zip.c)
 * and NumPy (npz.c) readers.  libzip validates archives and inflates small
 * records, but it has no public API for an entry's local-header offset, which
 * the readers need to serve stored entries with plain preads; so the
 * directory is also walked here with ck_cursor.  Internal to formats/.
 */
#ifndef CK_ZIPR_H
#define CK_ZIPR_H

#include "ck.h"

#define CK_ZIPR_LFH_SIZE 30               /* local header, before name and extra */
#define CK_ZIPR_MAX_CD_BYTES ((uint64_t)256 << 20)

/* Where the central directory is, from the (zip64) end record. */
struct ck_zipr_loc {
	uint64_t off, size, count;
};

struct ck_zipr_entry {
	const char *name;  /* borrowed from ck_zipr_dir.cd, not NUL-terminated */
	size_t nlen;
	uint16_t flags, method;
	uint64_t csize, usize, lho;   /* zip64 values already applied */
};

struct ck_zipr_dir {
	uint8_t *cd;                  /* owned central directory bytes */
	struct ck_zipr_entry *e;      /* owned, n entries */
	size_t n;
};

/* Finds the end record (and the zip64 one) in f's tail and checks the
 * directory lies before it, is at most CK_ZIPR_MAX_CD_BYTES, and holds at
 * most max_entries entries (over: CK_ELIMIT).  Fills *loc. */
ck_err ck_zipr_find(const struct ck_file *f, uint64_t max_entries, struct ck_zipr_loc *loc,
		    struct ck_error *err);

/* Reads and parses the directory at loc into *d (zeroed by the caller; freed
 * with ck_zipr_release even on failure). */
ck_err ck_zipr_read(const struct ck_file *f, const struct ck_zipr_loc *loc, struct ck_zipr_dir *d,
		    struct ck_error *err);

/* Frees d's buffers (d itself is the caller's). */
void ck_zipr_release(struct ck_zipr_dir *d);

/* Absolute offset of e's data, from its local header; checks the data fits in
 * the file.  noun ("entry", "member") names e in messages. */
ck_err ck_zipr_data_offset(const struct ck_file *f, const struct ck_zipr_entry *e, const char *noun,
			   uint64_t *out, struct ck_error *err);

#endif
