/*
 * report_int.h — what the report module's files share (private to them):
 * report.c (entry point, reference loading, comparison, the string table),
 * report_out.c (text and JSON), report_hints.c (hints against a reference),
 * report_self.c (the self-check) and report_shell.c (building shell commands).
 *
 * Everything is linear in the number of keys: keys are looked up through one
 * open-addressing table of borrowed byte strings, because the mount recomputes
 * the report after every change and a checkpoint may hold 100k tensors.
 */
#ifndef CK_REPORT_INT_H
#define CK_REPORT_INT_H

#include "ck.h"
#include "report.h"
#include "tree.h"

/* ---- a map from borrowed byte strings to an index ------------------------ */

#define CK_FNV_INIT 1469598103934665603ULL

static inline uint64_t ck_fnv_step(uint64_t h, unsigned char c)
{
	return (h ^ c) * 1099511628211ULL;
}

/* FNV-1a of len bytes; with the running state, prefixes hash incrementally. */
uint64_t ck_fnv(const void *s, size_t len);

struct ck_smap_ent {
	const char *s;  /* borrowed; NULL marks an empty slot */
	size_t len;
	uint64_t h;
	size_t val;
};

struct ck_smap {
	struct ck_smap_ent *e;  /* owned */
	size_t cap, n;
};

/* Frees the slots (not the strings, which are borrowed); the map is empty after. */
void ck_smap_release(struct ck_smap *m);
/* The value slot of s, or NULL when absent.  h must come from the same hash
 * the entries were put with. */
size_t *ck_smap_get(const struct ck_smap *m, const void *s, size_t len, uint64_t h);
/* Puts s -> val unless s is present (s stays borrowed: it must outlive the map).
 * *slot (may be NULL) points at the stored value.  1 added, 0 present, -1 ENOMEM. */
int ck_smap_put(struct ck_smap *m, const void *s, size_t len, uint64_t h, size_t val, size_t **slot);

/* ---- the reference ------------------------------------------------------- */

struct ck_ref_entry {
	char *key;            /* owned; display key */
	size_t len;
	int ndim;             /* -1: the reference gives no shape */
	int64_t *shape;       /* owned, ndim entries */
	enum ck_dtype dtype;  /* CK_DT_INVALID: no dtype given */
};

struct ck_reference {
	char *name;               /* owned; basename of the path */
	char sep;                 /* separator the prefixes below were cut at */
	struct ck_ref_entry *e;   /* owned; reference order, keys unique */
	size_t n, cap;
	struct ck_smap keys;      /* key -> index into e (FNV) */
	struct ck_smap prefixes;  /* every proper separator-aligned prefix of a key (FNV) */
};

/* ---- one report being computed ----------------------------------------- */

/* A tensor of the checkpoint, in checkpoint order. */
struct ck_ritem {
	char *key;                  /* owned; current display key */
	size_t len;
	int ndim;
	const int64_t *shape;       /* borrowed from the tree's tensor */
	enum ck_dtype dtype;
	const struct ck_node *node; /* borrowed */
};

/* One side of a mismatch: a shape and dtype, or a count of layers. */
struct ck_rside {
	int ndim;                   /* -1: no shape */
	const int64_t *shape;       /* borrowed (item, reference entry or dims below) */
	enum ck_dtype dtype;        /* CK_DT_INVALID: none */
	long long layers;           /* >= 0: a count of layers instead of a shape */
};

struct ck_rmis {
	char *key;                  /* owned */
	struct ck_rside ck, other;
	const char *label;          /* "reference" or "config.json" (static) */
	char *note;                 /* owned; config fields it comes from, or NULL */
	int64_t dims[2];            /* storage for other.shape from config.json */
};

enum ck_hint_class { CK_HINT_FIX = 0, CK_HINT_REMOVE = 1 };

struct ck_rhint {
	char *cmd;                  /* owned; one shell line, run at the mount root */
	size_t matches;             /* missing keys it would match */
	size_t removes;             /* unexpected keys it would remove */
	char *text;                 /* owned; what it does, after the command */
	enum ck_hint_class cls;
};

struct ck_rstate {
	const struct ck_tree *t;
	const struct ck_reference *ref; /* NULL: self-check */
	char sep;
	struct ck_ritem *it;            /* owned */
	size_t nit;
	struct ck_smap ckkeys;          /* item key -> first item index (FNV) */
	uint8_t *ref_missing;           /* owned; per reference entry: 1 if missing */
	uint8_t *it_unexp;              /* owned; per item: 1 if unexpected */
	size_t *missing;                /* owned; reference entry indexes, reference order */
	size_t nmissing;
	size_t *unexp;                  /* owned; item indexes, checkpoint order */
	size_t nunexp;
	struct ck_rmis *mis;            /* owned; checkpoint order */
	size_t nmis, mcap;
	struct ck_rhint *hints;         /* owned; ranked */
	size_t nhints, hcap;
	int oom;                        /* set once an allocation failed */
};

/* Adds a hint, taking cmd and text (freed on failure, which sets s->oom). */
void ck_rstate_hint(struct ck_rstate *s, char *cmd, size_t matches, size_t removes, char *text,
		    enum ck_hint_class cls);
/* Adds a mismatch; key copied.  Returns it (to fill) or NULL with s->oom set. */
struct ck_rmis *ck_rstate_mis(struct ck_rstate *s, const char *key, size_t len);

/* Reference mode: prefix renames, LayerNorm gamma/beta, heads to remove. */
void ck_report_hints(struct ck_rstate *s);
/* No reference: legacy names, wrapper prefixes, duplicates, config.json.
 * Sets it_unexp and adds mismatches and hints. */
void ck_report_selfcheck(struct ck_rstate *s);

/* The finished report as text or JSON; malloc'd, NULL on ENOMEM. */
char *ck_report_render(const struct ck_rstate *s, int json, int ok);

/* Appends s quoted for a POSIX shell when it needs it (used for mount paths). */
struct ck_buf;
void ck_sh_quote(struct ck_buf *b, const char *s);

/* ---- shared by the hint builders (report_shell.c) ------------------------------ */

#define CK_MAX_PATTERNS 16 /* parent folder names one gamma/beta loop may list */

/* asprintf that returns NULL on failure; malloc'd. */
char *ck_rp_fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
/* The buffer's text (caller frees), or NULL after releasing it on ENOMEM. */
char *ck_rp_take(struct ck_buf *b);
const char *ck_rp_plural(size_t n, const char *one, const char *many);
/* Segments of a key (1 + separators). */
size_t ck_rp_seg_count(const char *k, size_t len, char sep);
/* Byte length of the first n segments of k, without the separator after them. */
size_t ck_rp_seg_prefix_len(const char *k, size_t len, char sep, size_t n);
/* The ancestor of a leaf holding its first d key segments; borrowed, NULL if none. */
const struct ck_node *ck_rp_ancestor(const struct ck_node *leaf, size_t d);
/* The folder of the first d segments of it's key, checked against that key;
 * its mount path in *path (malloc'd, "" for the root).  NULL if none. */
const struct ck_node *ck_rp_prefix_node(const struct ck_rstate *s, const struct ck_ritem *it, size_t d,
					char **path);

/* LayerNorm gamma/beta keys a find loop renames. */
struct ck_legacy {
	char *pat[CK_MAX_PATTERNS]; /* owned: "PARENT/gamma" or "PARENT/beta" (escaped names) */
	size_t npat;
	int too_many;               /* more patterns than fit: explicit mv commands instead */
	size_t *items;              /* owned: the counted items (indexes into s->it) */
	size_t count, cap, indirect;
};

/* "weight"/"bias" for a last segment "gamma"/"beta" below some folder, else NULL;
 * *last = where the last segment starts. */
const char *ck_legacy_name(const char *k, size_t len, char sep, size_t *last);
/* Counts item j (a legacy key to rename) and remembers its folder/file pattern. */
void ck_legacy_note(struct ck_rstate *s, struct ck_legacy *lg, size_t j);
/* Adds the rename as a hint when it renames something: a find loop when its
 * patterns touch no other file and no weight/bias exists already, else one mv
 * per key when there are few, else nothing. */
void ck_legacy_hint(struct ck_rstate *s, struct ck_legacy *lg, int selfcheck);
/* Frees the patterns and items (not lg itself). */
void ck_legacy_release(struct ck_legacy *lg);

#endif
