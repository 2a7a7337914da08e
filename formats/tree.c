/*
 * tree.c — building the folder tree of a checkpoint and changing it with
 * POSIX rename/unlink/rmdir/mkdir semantics.  Nodes are never freed before
 * the tree: a detached node may still be open in the mount, so it moves to
 * t->deleted instead.  Lookup by (parent, name) goes through one hash table so
 * folders with many thousands of keys stay linear to build.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"

#define CK_SELF "%self"

/* ---- the (parent, name) hash -------------------------------------------- */

static size_t name_hash(const struct ck_node *dir, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ (uint64_t)(uintptr_t)dir;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 29));
}

static int hash_grow(struct ck_tree *t)
{
	size_t n = t->nbuckets ? t->nbuckets * 2 : 1024;
	struct ck_node **b = calloc(n, sizeof *b);
	if (!b)
		return 0;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct ck_node *x = t->buckets[i];
		while (x) {
			struct ck_node *next = x->hnext;
			size_t k = name_hash(x->parent, x->name) & (n - 1);
			x->hnext = b[k];
			b[k] = x;
			x = next;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
	return 1;
}

static void hash_del(struct ck_tree *t, struct ck_node *n)
{
	struct ck_node **pp = &t->buckets[name_hash(n->parent, n->name) & (t->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->hnext) {
		if (*pp == n) {
			*pp = n->hnext;
			n->hnext = NULL;
			t->nhashed--;
			return;
		}
	}
}

static struct ck_node *hash_get(const struct ck_tree *t, const struct ck_node *dir, const char *name)
{
	if (!t->nbuckets)
		return NULL;
	struct ck_node *x = t->buckets[name_hash(dir, name) & (t->nbuckets - 1)];
	for (; x; x = x->hnext)
		if (x->parent == dir && strcmp(x->name, name) == 0)
			return x;
	return NULL;
}

/* ---- attach / detach ------------------------------------------------------ */

/* Links n under dir (name already set).  Fails only on ENOMEM. */
static int attach(struct ck_tree *t, struct ck_node *dir, struct ck_node *n)
{
	if (t->nhashed + 1 > t->nbuckets * 2 && !hash_grow(t))
		return 0;
	if (dir->nkids == dir->cap) {
		size_t cap = dir->cap ? dir->cap * 2 : 4;
		struct ck_node **k = realloc(dir->kids, cap * sizeof *k);
		if (!k)
			return 0;
		dir->kids = k;
		dir->cap = cap;
	}
	dir->kids[dir->nkids++] = n;
	n->parent = dir;
	size_t k = name_hash(dir, n->name) & (t->nbuckets - 1);
	n->hnext = t->buckets[k];
	t->buckets[k] = n;
	t->nhashed++;
	return 1;
}

static void detach(struct ck_tree *t, struct ck_node *n)
{
	struct ck_node *dir = n->parent;
	if (!dir)
		return;
	hash_del(t, n);
	for (size_t i = 0; i < dir->nkids; i++) {
		if (dir->kids[i] == n) {
			memmove(dir->kids + i, dir->kids + i + 1, (dir->nkids - i - 1) * sizeof *dir->kids);
			dir->nkids--;
			break;
		}
	}
	n->parent = NULL;
}

static int graveyard(struct ck_tree *t, struct ck_node *n)
{
	if (t->ndeleted == t->dcap) {
		size_t cap = t->dcap ? t->dcap * 2 : 16;
		struct ck_node **d = realloc(t->deleted, cap * sizeof *d);
		if (!d)
			return 0;
		t->deleted = d;
		t->dcap = cap;
	}
	t->deleted[t->ndeleted++] = n;
	return 1;
}

static struct ck_node *node_new(struct ck_tree *t, const char *name, enum ck_node_kind kind)
{
	struct ck_node *n = calloc(1, sizeof *n);
	if (!n || !(n->name = strdup(name))) {
		free(n);
		return NULL;
	}
	n->kind = kind;
	n->ino = t->next_ino++;
	n->order = t->next_order++;
	return n;
}

static void node_free(struct ck_node *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	ck_value_unref(n->value);
	ck_value_unref(n->keyobj);
	free(n->orig_key);
	free(n->orig_path);
	free(n->name);
	free(n);
}

void ck_tree_free(struct ck_tree *t)
{
	if (!t)
		return;
	node_free(t->root);
	for (size_t i = 0; i < t->ndeleted; i++)
		node_free(t->deleted[i]);
	free(t->deleted);
	for (size_t i = 0; i < t->nops; i++)
		free(t->ops[i]);
	free(t->ops);
	free(t->buckets);
	free(t);
}

/* ---- building ------------------------------------------------------------ */

/* Folders a key may nest (segments plus containers): the tree's walks recurse,
 * so a hostile key of a million dots must not become a million folders. */
#define CK_TREE_MAX_DEPTH 4096

struct build {
	struct ck_tree *t;
	struct ck_error *err;
	int depth;   /* containers nested */
	int level;   /* folder depth of the folder being filled */
};

static int is_container(const struct ck_value *v)
{
	return v->kind == CK_V_DICT || v->kind == CK_V_LIST || v->kind == CK_V_TUPLE;
}

/* A name not yet used in dir: name itself, else name%~2, name%~3, ... */
static char *free_name(struct ck_tree *t, struct ck_node *dir, const char *name)
{
	size_t len = strlen(name) + 24;
	char *s = malloc(len);
	if (!s)
		return NULL;
	snprintf(s, len, "%s", name);
	for (unsigned i = 2; hash_get(t, dir, s); i++)
		snprintf(s, len, "%s%%~%u", name, i);
	return s;
}

static ck_err add_value(struct build *b, struct ck_node *dir, const char *name,
			struct ck_value *key, struct ck_value *v);

static ck_err oom(struct build *b)
{
	return ck_error_set(b->err, CK_ENOMEM, "%s: out of memory building the tree", b->t->ck->path);
}

/* The namespace folder `name` under dir, creating it; a leaf already there
 * moves inside as %self so both keys stay reachable. */
static struct ck_node *ns_dir(struct build *b, struct ck_node *dir, const char *name)
{
	struct ck_tree *t = b->t;
	struct ck_node *x = hash_get(t, dir, name);
	if (x && x->kind == CK_NODE_DIR && !x->value)
		return x;
	if (x && x->kind == CK_NODE_LEAF && !x->is_self) {
		struct ck_node *d = node_new(t, name, CK_NODE_DIR);
		if (!d)
			return NULL;
		d->order = x->order;
		detach(t, x);
		free(x->name);
		x->name = strdup(CK_SELF);
		x->is_self = 1;
		if (!x->name || !attach(t, dir, d) || !attach(t, d, x)) {
			node_free(d);
			return NULL;
		}
		return d;
	}
	/* a container of the same name: keep the dotted key apart under name%~N */
	char *nm = free_name(t, dir, name);
	struct ck_node *d = nm ? node_new(t, nm, CK_NODE_DIR) : NULL;
	free(nm);
	if (!d || !attach(t, dir, d)) {
		node_free(d);
		return NULL;
	}
	return d;
}

static ck_err add_items(struct build *b, struct ck_node *dir, struct ck_value *c)
{
	if (++b->depth > 1000)
		return ck_error_set(b->err, CK_ELIMIT, "%s: containers nested too deeply", b->t->ck->path);
	ck_err rc = CK_OK;
	const int level = b->level;
	b->level = level + 1;   /* where the next value lands, unless a key splits deeper */
	if (c->kind == CK_V_DICT) {
		for (size_t i = 0; i < c->u.dict.n && !rc; i++) {
			struct ck_value *k = c->u.dict.keys[i];
			if (k->kind != CK_V_STR) {
				char *txt = ck_value_text(k);
				char *nm = txt ? ck_name_escape(txt, strlen(txt)) : NULL;
				rc = nm ? add_value(b, dir, nm, k, c->u.dict.vals[i]) : oom(b);
				free(txt);
				free(nm);
				continue;
			}
			/* split the dotted key into namespace folders */
			struct ck_node *d = dir;
			const char *s = k->u.s.p, *end = s + k->u.s.len;
			for (b->level = level + 1;; b->level++) {
				if (b->level > CK_TREE_MAX_DEPTH)
					return ck_error_set(b->err, CK_ELIMIT, "%s: a key nests deeper than %d folders",
							    b->t->ck->path, CK_TREE_MAX_DEPTH);
				const char *dot = memchr(s, b->t->sep, (size_t)(end - s));
				char *nm = ck_name_escape(s, (size_t)((dot ? dot : end) - s));
				if (!nm)
					return oom(b);
				if (!dot) {
					rc = add_value(b, d, nm, k, c->u.dict.vals[i]);
					free(nm);
					b->level = level + 1;
					break;
				}
				d = ns_dir(b, d, nm);
				free(nm);
				if (!d)
					return oom(b);
				s = dot + 1;
			}
		}
	} else {
		for (size_t i = 0; i < c->u.seq.n && !rc; i++) {
			char nm[32];
			snprintf(nm, sizeof nm, "%zu", i);
			struct ck_value *k = ck_value_int((int64_t)i);
			if (!k)
				return oom(b);
			rc = add_value(b, dir, nm, k, c->u.seq.items[i]);
			ck_value_unref(k);
		}
	}
	b->depth--;
	b->level = level;
	return rc;
}

static ck_err add_value(struct build *b, struct ck_node *dir, const char *name,
			struct ck_value *key, struct ck_value *v)
{
	struct ck_tree *t = b->t;
	enum ck_node_kind kind = is_container(v) ? CK_NODE_DIR : CK_NODE_LEAF;
	struct ck_node *x = hash_get(t, dir, name);
	const char *nm = name;
	char *alloc = NULL;
	if (x && kind == CK_NODE_LEAF && x->kind == CK_NODE_DIR && !x->value &&
	    !hash_get(t, x, CK_SELF)) {
		dir = x;            /* a.b beside a.b.c: the value goes inside as %self */
		nm = CK_SELF;
	} else if (x) {
		nm = alloc = free_name(t, dir, name);
		if (!nm)
			return oom(b);
	}
	struct ck_node *n = node_new(t, nm, kind);
	free(alloc);
	if (!n || !attach(t, dir, n)) {
		node_free(n);
		return oom(b);
	}
	n->is_self = strcmp(n->name, CK_SELF) == 0;
	n->value = ck_value_ref(v);
	n->keyobj = ck_value_ref(key);
	if (kind == CK_NODE_DIR)
		return add_items(b, n, v);
	return CK_OK;
}

static ck_err record_origins(struct ck_tree *t, struct ck_node *n, struct ck_error *err)
{
	if (n->kind == CK_NODE_LEAF || n->value) {
		n->orig_path = ck_node_path(n);
		if (!n->orig_path)
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", t->ck->path);
		if (n->kind == CK_NODE_LEAF && !(n->orig_key = ck_node_key(t, n, NULL)))
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", t->ck->path);
	}
	for (size_t i = 0; i < n->nkids; i++) {
		ck_err rc = record_origins(t, n->kids[i], err);
		if (rc)
			return rc;
	}
	return CK_OK;
}

ck_err ck_tree_build(struct ck_ckpt *ck, struct ck_tree **out, struct ck_error *err)
{
	*out = NULL;
	struct ck_tree *t = calloc(1, sizeof *t);
	if (!t)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
	t->ck = ck;
	t->sep = ck->sep ? ck->sep : '.';
	t->next_ino = 1; /* the root is FUSE's inode 1 */
	struct build b = {.t = t, .err = err};
	ck_err rc = CK_OK;
	if (!hash_grow(t) || !(t->root = node_new(t, "", CK_NODE_DIR))) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
		goto fail;
	}
	if (ck->root && is_container(ck->root)) {
		t->root->value = ck_value_ref(ck->root);
		rc = add_items(&b, t->root, ck->root);
	} else if (ck->root) {
		rc = add_value(&b, t->root, CK_SELF, NULL, ck->root);
	}
	if (rc)
		goto fail;
	rc = record_origins(t, t->root, err);
	if (rc)
		goto fail;
	*out = t;
	return CK_OK;
fail:
	ck_tree_free(t);
	return rc;
}

/* ---- lookup ----------------------------------------------------------------- */

struct ck_node *ck_node_child(const struct ck_node *dir, const char *name)
{
	/* without the tree we scan; ck_tree_lookup uses the hash */
	if (!dir || dir->kind != CK_NODE_DIR)
		return NULL;
	for (size_t i = 0; i < dir->nkids; i++)
		if (strcmp(dir->kids[i]->name, name) == 0)
			return dir->kids[i];
	return NULL;
}

struct ck_node *ck_tree_child(const struct ck_tree *t, const struct ck_node *dir, const char *name)
{
	if (!dir || dir->kind != CK_NODE_DIR)
		return NULL;
	return hash_get(t, dir, name);
}

/* Walks path; on return *last points at the final component inside path. */
static struct ck_node *walk(const struct ck_tree *t, const char *path, int parent_only,
			    const char **last, ck_err *why)
{
	struct ck_node *n = t->root;
	char comp[4096];
	*why = CK_ENOENT;
	while (*path == '/')
		path++;
	for (;;) {
		const char *slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		const char *rest = slash ? slash : path + len;
		while (*rest == '/')
			rest++;
		if (parent_only && !*rest) {
			*last = path;
			return n;
		}
		if (!len) /* "" or trailing slash */
			return parent_only ? NULL : n;
		if (len >= sizeof comp) {
			*why = CK_EINVAL;
			return NULL;
		}
		if (n->kind != CK_NODE_DIR) {
			*why = CK_ENOTDIR;
			return NULL;
		}
		memcpy(comp, path, len);
		comp[len] = 0;
		n = hash_get(t, n, comp);
		if (!n)
			return NULL;
		path = rest;
	}
}

struct ck_node *ck_tree_lookup(const struct ck_tree *t, const char *path)
{
	const char *last;
	ck_err why;
	return walk(t, path, 0, &last, &why);
}

/* ---- changes ------------------------------------------------------------- */

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF): a
 * new key outside it would be written as a str no reader (torch.load,
 * safetensors, ours) accepts back. */
static int utf8_ok(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned c = p[i];
		size_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3
			   : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
		if (!len || len > n - i)
			return 0;
		uint32_t cp = len == 1 ? c : c & (0x7Fu >> len);
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3Fu);
		}
		if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
			return 0;
		i += len;
	}
	return 1;
}

/* The "%~N" tail that tells apart two names of one key, or NULL. */
static const char *dup_suffix(const char *name)
{
	const char *p = strrchr(name, '%');
	if (!p || p[1] != '~' || !p[2])
		return NULL;
	for (const char *q = p + 2; *q; q++)
		if (*q < '0' || *q > '9')
			return NULL;
	return p;
}

/* 1 if name is the one spelling ck_name_escape gives raw (plus a "%~N" tail):
 * "%41" beside "A" would be two files of one key, and a raw tab or newline
 * would tear the journal's lines.  A bare "%~N" is apply's parking name. */
static int canonical_name(const char *name, const char *raw, size_t rawlen)
{
	const char *suf = dup_suffix(name);
	size_t n = suf ? (size_t)(suf - name) : strlen(name);
	if (suf && n == 0)
		return 1;
	char *esc = ck_name_escape(raw, rawlen);
	int ok = esc && strlen(esc) == n && memcmp(esc, name, n) == 0;
	free(esc);
	return ok;
}

static ck_err split_parent(const struct ck_tree *t, const char *path, struct ck_node **dir,
			   char **name, struct ck_error *err)
{
	const char *last = NULL;
	ck_err why;
	*name = NULL;
	*dir = walk(t, path, 1, &last, &why);
	if (!*dir || !last || !*last)
		return ck_error_set(err, *dir || why != CK_ENOENT ? why : CK_ENOENT, "'%s': %s", path,
				    ck_err_name(why));
	if ((*dir)->kind != CK_NODE_DIR)
		return ck_error_set(err, CK_ENOTDIR, "'%s': not a folder", path);
	size_t len = strcspn(last, "/");
	*name = strndup(last, len);
	if (!*name)
		return ck_error_set(err, CK_ENOMEM, "out of memory");
	size_t rawlen = 0;
	char *raw = strcmp(*name, CK_SELF) == 0 ? strdup("") : ck_name_unescape(*name, &rawlen);
	if (!raw || strcmp(*name, ".") == 0 || strcmp(*name, "..") == 0) {
		free(raw);
		free(*name);
		*name = NULL;
		return ck_error_set(err, CK_EINVAL, "'%s': not a valid escaped key name", path);
	}
	int ok = utf8_ok((const unsigned char *)raw, rawlen);
	int canon = strcmp(*name, CK_SELF) == 0 || canonical_name(*name, raw, rawlen);
	free(raw);
	if (!ok) {
		free(*name);
		*name = NULL;
		return ck_error_set(err, CK_EINVAL, "'%s': the new key is not valid UTF-8", path);
	}
	if (!canon) {
		free(*name);
		*name = NULL;
		/* EPERM, not EINVAL: mv(1) reads EINVAL as "a folder into itself" */
		return ck_error_set(err, CK_EPERM, "'%s': not spelled as ckptfs escapes a key "
				    "('%%' '/' and control bytes as %%XX, nothing else)", path);
	}
	return CK_OK;
}

static int is_ancestor(const struct ck_node *a, const struct ck_node *n)
{
	for (; n; n = n->parent)
		if (n == a)
			return 1;
	return 0;
}

/* Records a successful change (for remap.json) and bumps the generation. */
static ck_err changed(struct ck_tree *t, const char *op, const char *a, const char *b,
		      struct ck_error *err)
{
	t->generation++;
	t->nchanges++;
	if (t->nops == t->opcap) {
		size_t cap = t->opcap ? t->opcap * 2 : 32;
		char **v = realloc(t->ops, cap * sizeof *v);
		if (!v)
			return ck_error_set(err, CK_ENOMEM, "out of memory");
		t->ops = v;
		t->opcap = cap;
	}
	size_t len = strlen(op) + strlen(a) + (b ? strlen(b) : 0) + 3;
	char *line = malloc(len);
	if (!line)
		return ck_error_set(err, CK_ENOMEM, "out of memory");
	snprintf(line, len, "%s\t%s%s%s", op, a, b ? "\t" : "", b ? b : "");
	t->ops[t->nops++] = line;
	return CK_OK;
}

ck_err ck_tree_rename(struct ck_tree *t, const char *from, const char *to, struct ck_error *err)
{
	struct ck_node *src = ck_tree_lookup(t, from);
	if (!src)
		return ck_error_set(err, CK_ENOENT, "'%s': no such file or folder", from);
	if (src == t->root)
		return ck_error_set(err, CK_EINVAL, "'%s': cannot move the root", from);
	struct ck_node *dir;
	char *name;
	ck_err rc = split_parent(t, to, &dir, &name, err);
	if (rc)
		return rc;
	struct ck_node *dst = hash_get(t, dir, name);
	if (dst == src)
		goto done;
	if (src->kind == CK_NODE_DIR && is_ancestor(src, dir)) {
		rc = ck_error_set(err, CK_EINVAL, "'%s': cannot move a folder into itself", from);
		goto done;
	}
	if (dup_suffix(name) && dup_suffix(name) != name && strcmp(name, src->name) != 0) {
		/* "%~N" only keeps apart keys the source had twice; a new one would be a duplicate */
		rc = ck_error_set(err, CK_EPERM, "'%s': a name ending in %%~N must keep the moved one's name", to);
		goto done;
	}
	if (strcmp(name, CK_SELF) == 0 && src->kind == CK_NODE_DIR) {
		rc = ck_error_set(err, CK_EINVAL, "'%s': only a tensor or value can be %s", to, CK_SELF);
		goto done;
	}
	if (dst) {
		if (src->kind == CK_NODE_DIR && dst->kind != CK_NODE_DIR) {
			rc = ck_error_set(err, CK_ENOTDIR, "'%s': not a folder", to);
			goto done;
		}
		if (src->kind != CK_NODE_DIR && dst->kind == CK_NODE_DIR) {
			rc = ck_error_set(err, CK_EISDIR, "'%s': is a folder", to);
			goto done;
		}
		if (dst->kind == CK_NODE_DIR && dst->nkids) {
			rc = ck_error_set(err, CK_ENOTEMPTY, "'%s': folder not empty", to);
			goto done;
		}
		if (!graveyard(t, dst)) {
			rc = ck_error_set(err, CK_ENOMEM, "out of memory");
			goto done;
		}
		detach(t, dst);
	}
	detach(t, src);
	free(src->name);
	src->name = name;
	name = NULL;
	src->is_self = strcmp(src->name, CK_SELF) == 0;
	if (!attach(t, dir, src)) {
		rc = ck_error_set(err, CK_ENOMEM, "out of memory");
		goto done;
	}
	rc = changed(t, "rename", from, to, err);
done:
	free(name);
	return rc;
}

ck_err ck_tree_unlink(struct ck_tree *t, const char *path, struct ck_error *err)
{
	struct ck_node *n = ck_tree_lookup(t, path);
	if (!n)
		return ck_error_set(err, CK_ENOENT, "'%s': no such file", path);
	if (n->kind == CK_NODE_DIR)
		return ck_error_set(err, CK_EISDIR, "'%s': is a folder", path);
	if (!graveyard(t, n))
		return ck_error_set(err, CK_ENOMEM, "out of memory");
	detach(t, n);
	return changed(t, "unlink", path, NULL, err);
}

ck_err ck_tree_rmdir(struct ck_tree *t, const char *path, struct ck_error *err)
{
	struct ck_node *n = ck_tree_lookup(t, path);
	if (!n)
		return ck_error_set(err, CK_ENOENT, "'%s': no such folder", path);
	if (n->kind != CK_NODE_DIR)
		return ck_error_set(err, CK_ENOTDIR, "'%s': not a folder", path);
	if (n == t->root)
		return ck_error_set(err, CK_EINVAL, "cannot remove the root");
	if (n->nkids)
		return ck_error_set(err, CK_ENOTEMPTY, "'%s': folder not empty", path);
	if (!graveyard(t, n))
		return ck_error_set(err, CK_ENOMEM, "out of memory");
	detach(t, n);
	return changed(t, "rmdir", path, NULL, err);
}

ck_err ck_tree_mkdir(struct ck_tree *t, const char *path, struct ck_error *err)
{
	struct ck_node *dir;
	char *name;
	ck_err rc = split_parent(t, path, &dir, &name, err);
	if (rc)
		return rc;
	if (strcmp(name, CK_SELF) == 0) {
		free(name);
		return ck_error_set(err, CK_EINVAL, "'%s': %s is reserved for a key's own value", path, CK_SELF);
	}
	if (dup_suffix(name)) {
		free(name);
		return ck_error_set(err, CK_EPERM, "'%s': %%~N is reserved for keys the source has twice", path);
	}
	if (hash_get(t, dir, name)) {
		free(name);
		return ck_error_set(err, CK_EEXIST, "'%s': exists", path);
	}
	struct ck_node *n = node_new(t, name, CK_NODE_DIR);
	free(name);
	if (!n || !attach(t, dir, n)) {
		node_free(n);
		return ck_error_set(err, CK_ENOMEM, "out of memory");
	}
	return changed(t, "mkdir", path, NULL, err);
}

size_t ck_tree_ndeleted(const struct ck_tree *t)
{
	return t->ndeleted;
}
