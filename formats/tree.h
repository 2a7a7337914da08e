/*
 * tree.h — the checkpoint as a folder tree, and the changes made to it.
 *
 * Keys are split on the checkpoint's separator ('.' or '/'); nested containers
 * (dict, list, tuple) are folders too.  A folder is either a real container
 * (node->value is the dict/list/tuple) or a namespace (a run of segments of one
 * dotted key, value == NULL).  Leaves hold a reference to their value (tensor or
 * plain value).  Every change (rename, unlink, rmdir, mkdir) is applied here;
 * the mount, `ckptfs apply` and the commit all go through this one model.
 *
 * Names are escaped so every key is reachable and the mapping is lossless:
 *   '%' -> %25, '/' -> %2F, control bytes -> %XX, "." -> %2E, ".." -> %2E%2E,
 *   an empty segment -> "%", and a key that is also a prefix of other keys
 *   (a.b beside a.b.c) lives inside its folder as the file "%self".  Two keys
 *   that would still land on one name (int 1 and str "1" in one dict) get a
 *   suffix "%~N" on the later one, which the key does not include.
 */
#ifndef CK_TREE_H
#define CK_TREE_H

#include "ck.h"

enum ck_node_kind { CK_NODE_DIR, CK_NODE_LEAF };

struct ck_node {
	char *name;               /* owned; escaped file name ("" for the root) */
	enum ck_node_kind kind;
	struct ck_node *parent;   /* borrowed; NULL for the root and detached nodes */
	struct ck_node **kids;    /* owned array (DIR) */
	size_t nkids, cap;
	struct ck_value *value;   /* owned ref: leaf value, or the container of a container dir */
	struct ck_value *keyobj;  /* owned ref: the key in the parent container (int/str/...) */
	char *orig_key;           /* owned; the display key at open time, NULL for dirs/new */
	char *orig_path;          /* owned; the escaped mount path at open time (leaves) */
	uint64_t ino;             /* stable inode number, never reused while mounted */
	uint64_t order;           /* checkpoint order of the first leaf (sorting) */
	int is_self;              /* the "%self" file of a key that is also a prefix */
	struct ck_node *hnext;    /* borrowed: next in the tree's (parent, name) hash chain */
};

struct ck_tree {
	struct ck_node *root;
	struct ck_ckpt *ck;       /* borrowed */
	char sep;
	uint64_t next_ino;
	uint64_t generation;      /* bumped on every change (cache invalidation, _report) */
	size_t nchanges;          /* successful changes applied since build */
	struct ck_node **deleted; /* owned: detached nodes, kept alive (open handles, _remap) */
	size_t ndeleted, dcap;
	struct ck_node **buckets; /* owned array: (parent, name) -> node chains */
	size_t nbuckets, nhashed;
	uint64_t next_order;
	char **ops;               /* owned: every successful change, "op\tA[\tB]" (journal form) */
	size_t nops, opcap;
};

/* Builds the tree of ck->root.  *out owned by caller (ck_tree_free). */
ck_err ck_tree_build(struct ck_ckpt *ck, struct ck_tree **out, struct ck_error *err);
void ck_tree_free(struct ck_tree *t);

/* Looks up a '/'-separated path relative to the root ("" or "/" is the root). */
struct ck_node *ck_tree_lookup(const struct ck_tree *t, const char *path);
/* Child of dir by escaped name, NULL if none (leaf dir: NULL).  Linear scan. */
struct ck_node *ck_node_child(const struct ck_node *dir, const char *name);
/* The same through the tree's hash: use this one in hot paths (FUSE lookup). */
struct ck_node *ck_tree_child(const struct ck_tree *t, const struct ck_node *dir, const char *name);

/* POSIX-like changes on escaped paths.  On failure nothing changed and err says why:
 * CK_ENOENT, CK_EEXIST, CK_ENOTEMPTY, CK_ENOTDIR, CK_EISDIR, CK_EINVAL, CK_EPERM. */
ck_err ck_tree_rename(struct ck_tree *t, const char *from, const char *to, struct ck_error *err);
ck_err ck_tree_unlink(struct ck_tree *t, const char *path, struct ck_error *err);
ck_err ck_tree_rmdir(struct ck_tree *t, const char *path, struct ck_error *err);
ck_err ck_tree_mkdir(struct ck_tree *t, const char *path, struct ck_error *err);

/* The current display key of a node: segments unescaped, joined by t->sep
 * (relative to base when base is an ancestor, else to the root).  malloc'd. */
char *ck_node_key(const struct ck_tree *t, const struct ck_node *n, const struct ck_node *base);
/* The escaped '/'-joined mount path of a node ("" for the root).  malloc'd. */
char *ck_node_path(const struct ck_node *n);

/* Leaves under dir (dir itself if a leaf) in checkpoint order.
 * *out is a malloc'd array of borrowed pointers. */
ck_err ck_tree_leaves(const struct ck_tree *t, const struct ck_node *dir,
		      struct ck_node ***out, size_t *n, struct ck_error *err);

/* One line per changed leaf in checkpoint order: "OLD -> NEW" or "OLD -> (deleted)".
 * Tracks deleted leaves too.  malloc'd text ("" when nothing changed). */
char *ck_tree_remap_text(const struct ck_tree *t);
/* 1 if the current tree differs from the opened checkpoint (net change). */
int ck_tree_changed(const struct ck_tree *t);

/* Rebuilds a value tree of the current state for writers: containers of the
 * same Python types, namespace folders joined back into dotted keys, int keys
 * kept ints.  *out is a new reference. */
ck_err ck_tree_to_value(const struct ck_tree *t, struct ck_value **out, struct ck_error *err);

/* The "shape" text of a folder: "KEY DTYPE [d1,d2]\n" per tensor in checkpoint
 * order, KEY relative to dir.  malloc'd. */
char *ck_tree_shape_text(const struct ck_tree *t, const struct ck_node *dir);

/* Deleted leaves (detached) are kept here so _remap can list them. */
size_t ck_tree_ndeleted(const struct ck_tree *t);

struct ck_buf;
/* Appends key (len bytes) as `shape`, `_remap` and `_report` print it: as is,
 * or a Python string literal when empty or holding blanks, quotes or controls. */
void ck_key_quote(struct ck_buf *b, const char *key, size_t len);

/* Escapes one raw key segment into a file name (malloc'd). */
char *ck_name_escape(const char *seg, size_t len);
/* Unescapes a file name into a raw segment (malloc'd, *len set); NULL if malformed. */
char *ck_name_unescape(const char *name, size_t *len);

/* Walks the tensor/plain leaves of a value tree in order with their display keys
 * (nested container keys joined by sep; the root value itself has key "").
 * Stops when cb returns non-zero and returns that.  key is borrowed for the call. */
int ck_value_walk(const struct ck_value *root, char sep,
		  int (*cb)(void *ctx, const char *key, const struct ck_value *leaf), void *ctx);


/* One tensor leaf to write: its flat key and the leaf. */
struct ck_tensor_item {
	char *key;                    /* owned */
	const struct ck_value *val;   /* borrowed from the root being written (a CK_V_TENSOR) */
};

/* Flattens root into (key, tensor) items in walk order (keys joined by sep)
 * for a writer that stores tensors only: a non-tensor leaf is CK_EUNSUP
 * "WHAT: FMT cannot store non-tensor value 'KEY'".  *items owned by caller
 * (ck_tensor_items_free); nothing to free on failure. */
ck_err ck_value_tensors(const struct ck_value *root, char sep, const char *what, const char *fmt,
			struct ck_tensor_item **items, size_t *n, struct ck_error *err);
/* Frees the keys and the array. */
void ck_tensor_items_free(struct ck_tensor_item *items, size_t n);

#endif
