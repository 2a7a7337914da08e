/*
 * commit.h — turning a changed tree into a NEW checkpoint, atomically, and the
 * journal that makes every change survive kill -9.
 *
 * Journal: a text file, one change per line, appended and fsynced before the
 * change is acknowledged:  "ckptfs-journal 1" header, then
 *   rename <TAB> FROM <TAB> TO      (escaped mount paths, as ck_tree_rename takes)
 *   unlink <TAB> PATH
 *   rmdir <TAB> PATH
 *   mkdir <TAB> PATH
 * A torn last line (no newline) is ignored on replay.
 */
#ifndef CK_COMMIT_H
#define CK_COMMIT_H

#include "ck.h"
#include "tree.h"

struct ck_journal;

/* Opens (creating, or appending to) the journal at path.  *out owned by caller. */
ck_err ck_journal_open(const char *path, struct ck_journal **out, struct ck_error *err);
/* Appends one change and fsyncs; b may be NULL.  On failure the change must be refused. */
ck_err ck_journal_append(struct ck_journal *j, const char *op, const char *a, const char *b,
			 struct ck_error *err);
/* Closes; remove != 0 unlinks the file (after a successful commit). */
void ck_journal_close(struct ck_journal *j, int remove);

/* Applies a remap file to t: a journal (replayed op by op) or a remap.json
 * written by ck_remap_write_json (per-key old -> new / deleted). */
ck_err ck_remap_apply_file(struct ck_tree *t, const char *path, struct ck_error *err);
/* Writes the net remap of t as JSON to path (atomically). */
ck_err ck_remap_write_json(const struct ck_tree *t, const char *path, struct ck_error *err);

struct ck_commit_opts {
	const char *output;   /* NULL: beside the source as STEM.remapped.EXT (folder: NAME.remapped) */
	const char *format;   /* NULL: the input's (legacy torch is written as zip) */
	int force;            /* replace an existing output */
	int always;           /* write even when nothing changed (convert) */
};

/* Where a commit of ck would go.  *out malloc'd. */
ck_err ck_commit_output_path(const struct ck_ckpt *ck, const struct ck_commit_opts *o,
			     char **out, struct ck_error *err);
/* Writes the current tree through a temp file/folder in the output's folder, fsyncs,
 * renames into place (never over an existing output without force), then writes
 * OUT.remap.json.  No change (and !always): writes nothing, *out_path = NULL.
 * On failure the source, an existing output and any journal are untouched. */
ck_err ck_commit(struct ck_ckpt *ck, struct ck_tree *t, const struct ck_commit_opts *o,
		 char **out_path, struct ck_error *err);

#endif
