/*
 * tree_out.c — what the tree tells the outside: keys and paths of nodes, the
 * `shape` and `_remap` texts, whether anything changed, the value tree a
 * writer needs, and the name escaping that keeps every key reachable.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tree.h"

#define CK_SELF "%self"

/* ---- escaping ---------------------------------------------------------- */

char *ck_name_escape(const char *seg, size_t len)
{
	struct ck_buf b;
	ck_buf_init(&b);
	if (len == 0)
		ck_buf_addc(&b, '%');
	else if (len == 1 && seg[0] == '.')
		ck_buf_adds(&b, "%2E");
	else if (len == 2 && seg[0] == '.' && seg[1] == '.')
		ck_buf_adds(&b, "%2E%2E");
	else
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)seg[i];
			if (c == '%' || c == '/' || c < 0x20 || c == 0x7f)
				ck_buf_printf(&b, "%%%02X", c);
			else
				ck_buf_addc(&b, c);
		}
	if (!ck_buf_cstr(&b) || b.oom) {
		ck_buf_release(&b);
		return NULL;
	}
	return (char *)b.p;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Length of name without a trailing "%~N" disambiguation suffix. */
static size_t strip_dup_suffix(const char *name)
{
	size_t n = strlen(name), i = n;
	while (i > 0 && isdigit((unsigned char)name[i - 1]))
		i--;
	if (i < n && i >= 2 && name[i - 1] == '~' && name[i - 2] == '%')
		return i - 2;
	return n;
}

char *ck_name_unescape(const char *name, size_t *len)
{
	size_t n = strip_dup_suffix(name);
	char *out = malloc(n + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	if (n == 1 && name[0] == '%') {
		out[0] = 0;
		*len = 0;
		return out;
	}
	for (size_t i = 0; i < n; i++) {
		if (name[i] != '%') {
			out[o++] = name[i];
			continue;
		}
		int hi = i + 2 < n ? hexval(name[i + 1]) : -1;
		int lo = i + 2 < n ? hexval(name[i + 2]) : -1;
		if (hi < 0 || lo < 0) {
			free(out);
			return NULL;
		}
		out[o++] = (char)(hi << 4 | lo);
		i += 2;
	}
	out[o] = 0;
	*len = o;
	return out;
}

/* ---- keys and paths ------------------------------------------------------ */

/* Appends the unescaped segments from base (exclusive) down to n.  The chain
 * is as deep as the key has segments (no cap: a cut would drop the top ones). */
static void key_append(struct ck_buf *b, const struct ck_node *n, const struct ck_node *base, char sep)
{
	size_t depth = 0;
	for (const struct ck_node *x = n; x && x != base && x->parent; x = x->parent)
		depth++;
	const struct ck_node **chain = malloc((depth ? depth : 1) * sizeof *chain);
	if (!chain) {
		b->oom = 1;
		return;
	}
	depth = 0;
	for (const struct ck_node *x = n; x && x != base && x->parent; x = x->parent)
		if (!x->is_self)
			chain[depth++] = x;
	int first = 1;
	while (depth--) {
		size_t len;
		char *raw = ck_name_unescape(chain[depth]->name, &len);
		if (!raw) { /* names we made always unescape; keep the text rather than fail */
			raw = strdup(chain[depth]->name);
			len = raw ? strlen(raw) : 0;
		}
		if (!first)
			ck_buf_addc(b, (uint8_t)sep);
		ck_buf_add(b, raw, len);
		free(raw);
		first = 0;
	}
	free(chain);
}

static int under(const struct ck_node *base, const struct ck_node *n)
{
	for (; n; n = n->parent)
		if (n == base)
			return 1;
	return 0;
}

char *ck_node_key(const struct ck_tree *t, const struct ck_node *n, const struct ck_node *base)
{
	struct ck_buf b;
	ck_buf_init(&b);
	key_append(&b, n, base && under(base, n) ? base : NULL, t->sep);
	if (!ck_buf_cstr(&b) || b.oom) {
		ck_buf_release(&b);
		return NULL;
	}
	return (char *)b.p;
}

char *ck_node_path(const struct ck_node *n)
{
	size_t len = 0; /* names + separators + NUL */
	for (const struct ck_node *x = n; x && x->parent; x = x->parent)
		len += strlen(x->name) + 1;
	if (!len)
		len = 1;
	char *p = malloc(len);
	if (!p)
		return NULL;
	size_t end = len - 1;
	p[end] = 0;
	for (const struct ck_node *x = n; x && x->parent; x = x->parent) {
		size_t l = strlen(x->name);
		end -= l;
		memcpy(p + end, x->name, l);
		if (end)
			p[--end] = '/';
	}
	return p;
}

/* ---- leaves in checkpoint order ----------------------------------------------- */

struct nodes {
	struct ck_node **v;
	size_t n, cap;
	int oom;
};

static void nodes_push(struct nodes *s, struct ck_node *x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct ck_node **v = realloc(s->v, cap * sizeof *v);
		if (!v) {
			s->oom = 1;
			return;
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

static void collect_leaves(struct nodes *s, struct ck_node *n, int with_dirs)
{
	if (n->kind == CK_NODE_LEAF || (with_dirs && n->value && n->parent))
		nodes_push(s, n);
	if (n->kind == CK_NODE_DIR)
		for (size_t i = 0; i < n->nkids; i++)
			collect_leaves(s, n->kids[i], with_dirs);
}

static int by_order(const void *a, const void *b)
{
	uint64_t x = (*(struct ck_node *const *)a)->order, y = (*(struct ck_node *const *)b)->order;
	return x < y ? -1 : x > y;
}

ck_err ck_tree_leaves(const struct ck_tree *t, const struct ck_node *dir,
		      struct ck_node ***out, size_t *n, struct ck_error *err)
{
	struct nodes s = {0};
	collect_leaves(&s, (struct ck_node *)(dir ? dir : t->root), 0);
	if (s.oom) {
		free(s.v);
		return ck_error_set(err, CK_ENOMEM, "out of memory");
	}
	if (s.n)
		qsort(s.v, s.n, sizeof *s.v, by_order);
	*out = s.v;
	*n = s.n;
	return CK_OK;
}

/* ---- shape, _remap, changed ------------------------------------------------ */

void ck_key_quote(struct ck_buf *b, const char *k, size_t len)
{
	int plain = len > 0;
	for (size_t i = 0; i < len; i++)
		if (isspace((unsigned char)k[i]) || (unsigned char)k[i] < 0x20 || k[i] == '\'' || k[i] == 0x7f)
			plain = 0;
	if (plain) {
		ck_buf_add(b, k, len);
		return;
	}
	ck_buf_addc(b, '\'');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c == '\'' || c == '\\')
			ck_buf_printf(b, "\\%c", c);
		else if (c == '\n')
			ck_buf_adds(b, "\\n");
		else if (c == '\t')
			ck_buf_adds(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			ck_buf_printf(b, "\\x%02x", c);
		else
			ck_buf_addc(b, c);
	}
	ck_buf_addc(b, '\'');
}

/* NUL-terminated keys of the tree. */
static void key_quoted(struct ck_buf *b, const char *k)
{
	ck_key_quote(b, k, strlen(k));
}

char *ck_tree_shape_text(const struct ck_tree *t, const struct ck_node *dir)
{
	struct ck_node **v;
	size_t n;
	if (ck_tree_leaves(t, dir, &v, &n, NULL))
		return NULL;
	struct ck_buf b;
	ck_buf_init(&b);
	for (size_t i = 0; i < n; i++) {
		if (!v[i]->value || v[i]->value->kind != CK_V_TENSOR)
			continue;
		const struct ck_tensor *ts = v[i]->value->u.t;
		char *key = ck_node_key(t, v[i], dir);
		char sh[1024];
		if (!key) {
			b.oom = 1;
			break;
		}
		key_quoted(&b, key);
		ck_buf_printf(&b, " %s %s\n", ck_dtype_name(ts->dtype), ck_shape_format(ts, sh, sizeof sh));
		free(key);
	}
	free(v);
	if (!ck_buf_cstr(&b) || b.oom) {
		ck_buf_release(&b);
		return NULL;
	}
	return (char *)b.p;
}

/* Attached leaves/containers whose path moved, and deleted ones, by order. */
static int moved(const struct ck_node *n)
{
	if (!n->orig_path)
		return 0;
	char *p = ck_node_path(n);
	int r = !p || strcmp(p, n->orig_path) != 0;
	free(p);
	return r;
}

int ck_tree_changed(const struct ck_tree *t)
{
	for (size_t i = 0; i < t->ndeleted; i++)
		if (t->deleted[i]->orig_path)
			return 1;
	if (!t->nchanges)
		return 0;
	struct nodes s = {0};
	collect_leaves(&s, t->root, 1);
	int r = s.oom;
	for (size_t i = 0; i < s.n && !r; i++)
		r = moved(s.v[i]);
	free(s.v);
	return r;
}

char *ck_tree_remap_text(const struct ck_tree *t)
{
	struct nodes s = {0};
	collect_leaves(&s, t->root, 0);
	for (size_t i = 0; i < t->ndeleted; i++)
		collect_leaves(&s, t->deleted[i], 0);
	if (s.n)
		qsort(s.v, s.n, sizeof *s.v, by_order);
	struct ck_buf b;
	ck_buf_init(&b);
	for (size_t i = 0; i < s.n; i++) {
		struct ck_node *n = s.v[i];
		if (!n->orig_key)
			continue;
		int attached = 0;
		for (const struct ck_node *x = n; x; x = x->parent)
			if (x == t->root)
				attached = 1;
		if (attached && !moved(n))
			continue;
		key_quoted(&b, n->orig_key);
		ck_buf_adds(&b, " -> ");
		char *k = attached ? ck_node_key(t, n, NULL) : NULL;
		if (attached && k)
			key_quoted(&b, k);
		else
			ck_buf_adds(&b, "(deleted)");
		ck_buf_addc(&b, '\n');
		free(k);
	}
	free(s.v);
	b.oom |= s.oom;
	if (!ck_buf_cstr(&b) || b.oom) {
		ck_buf_release(&b);
		return NULL;
	}
	return (char *)b.p;
}

/* ---- back to a value tree ---------------------------------------------------- */

struct entry {
	uint64_t order;
	struct ck_value *key, *val;
	const struct ck_node *node;   /* where it came from, to name it in an error */
};

struct entries {
	struct entry *v;
	size_t n, cap;
};

static ck_err build_container(const struct ck_tree *t, const struct ck_node *c, struct ck_value **out,
			      struct ck_error *err);

static int parse_int(const char *s, int64_t *out)
{
	if (!*s || (s[0] == '0' && s[1]) || (s[0] == '-' && (!s[1] || s[1] == '0')))
		return 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*end)
		return 0;
	*out = v;
	return 1;
}

/* The key object for node n at key text `key` inside container c. */
static struct ck_value *make_key(const struct ck_value *c, const struct ck_node *n, const char *key, int single)
{
	int64_t iv;
	const struct ck_value *ko = n->keyobj;
	if (single && ko && ko->kind == CK_V_INT && parse_int(key, &iv))
		return ck_value_int(iv);
	if (single && ko && ko->kind != CK_V_STR && ko->kind != CK_V_INT) {
		char *txt = ck_value_text(ko);
		int same = txt && strcmp(txt, key) == 0;
		free(txt);
		if (same)
			return ck_value_ref((struct ck_value *)ko);
	}
	if (single && !ko && c && (c->kind == CK_V_LIST || c->kind == CK_V_TUPLE) && parse_int(key, &iv))
		return ck_value_int(iv);
	return ck_value_str(key);
}

static ck_err collect_entries(const struct ck_tree *t, const struct ck_node *c, const struct ck_node *d,
			      struct entries *es, struct ck_error *err)
{
	for (size_t i = 0; i < d->nkids; i++) {
		const struct ck_node *k = d->kids[i];
		if (k->kind == CK_NODE_DIR && !k->value) {
			ck_err rc = collect_entries(t, c, k, es, err);
			if (rc)
				return rc;
			continue;
		}
		if (es->n == es->cap) {
			size_t cap = es->cap ? es->cap * 2 : 16;
			struct entry *v = realloc(es->v, cap * sizeof *v);
			if (!v)
				return CK_ENOMEM;
			es->v = v;
			es->cap = cap;
		}
		char *key = ck_node_key(t, k, c);
		if (!key)
			return CK_ENOMEM;
		int single = k->parent == c;
		struct entry *e = &es->v[es->n];
		e->order = k->order;
		e->node = k;
		e->key = make_key(c->value, k, key, single);
		free(key);
		e->val = NULL;
		ck_err rc = e->key ? CK_OK : CK_ENOMEM;
		if (!rc) {
			if (k->kind == CK_NODE_LEAF)
				e->val = ck_value_ref(k->value);
			else
				rc = build_container(t, k, &e->val, err);
		}
		es->n++;
		if (rc)
			return rc;
	}
	return CK_OK;
}

static int by_entry_order(const void *a, const void *b)
{
	uint64_t x = ((const struct entry *)a)->order, y = ((const struct entry *)b)->order;
	return x < y ? -1 : x > y;
}

static int by_index(const void *a, const void *b)
{
	int64_t x = ((const struct entry *)a)->key->u.i, y = ((const struct entry *)b)->key->u.i;
	return x < y ? -1 : x > y;
}

/* A list/tuple folder stays one only while its entries are exactly 0..n-1. */
static int is_dense_index(struct entries *es)
{
	for (size_t i = 0; i < es->n; i++)
		if (es->v[i].key->kind != CK_V_INT || es->v[i].key->u.i < 0 || (uint64_t)es->v[i].key->u.i >= es->n)
			return 0;
	if (es->n)   /* es->v is NULL for an empty folder; qsort wants a pointer */
		qsort(es->v, es->n, sizeof *es->v, by_index);
	for (size_t i = 0; i < es->n; i++)
		if ((size_t)es->v[i].key->u.i != i)
			return 0;
	return 1;
}

struct keytext {
	enum ck_vkind kind;
	const char *text;   /* borrowed (str keys) or owned */
	size_t len;
	char *owned;
	const struct entry *e;
};

static int by_keytext(const void *a, const void *b)
{
	const struct keytext *x = a, *y = b;
	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	int c = memcmp(x->text, y->text, x->len < y->len ? x->len : y->len);
	return c ? c : x->len < y->len ? -1 : x->len > y->len;
}

/* Two entries of one key would silently become one when written, so refuse.
 * A change makes them by putting a key where its spelling already is (a file
 * "a.b" beside the folders a/b).  Sorting by (kind, text) finds them in n log n. */
static ck_err check_unique(const struct ck_tree *t, const struct entries *es, struct ck_error *err)
{
	if (es->n < 2)
		return CK_OK;
	struct keytext *k = calloc(es->n, sizeof *k);
	if (!k)
		return CK_ENOMEM;
	ck_err rc = CK_OK;
	for (size_t i = 0; i < es->n && !rc; i++) {
		const struct ck_value *key = es->v[i].key;
		k[i] = (struct keytext){.kind = key->kind, .e = &es->v[i]};
		if (key->kind == CK_V_STR)
			k[i].text = key->u.s.p, k[i].len = key->u.s.len;
		else if ((k[i].text = k[i].owned = ck_value_text(key)))
			k[i].len = strlen(k[i].text);
		else
			rc = CK_ENOMEM;
	}
	if (!rc)
		qsort(k, es->n, sizeof *k, by_keytext);
	for (size_t i = 1; i < es->n && !rc; i++) {
		if (by_keytext(&k[i - 1], &k[i]) != 0)
			continue;
		char *key = ck_node_key(t, k[i].e->node, NULL);
		rc = ck_error_set(err, CK_EEXIST, "%s: two entries would be saved as the key '%s'; rename one",
				  t->ck->path, key ? key : k[i].text);
		free(key);
	}
	for (size_t i = 0; i < es->n; i++)
		free(k[i].owned);
	free(k);
	return rc;
}

static ck_err build_container(const struct ck_tree *t, const struct ck_node *c, struct ck_value **out,
			      struct ck_error *err)
{
	struct entries es = {0};
	struct ck_value *v = NULL;
	ck_err rc = collect_entries(t, c, c, &es, err);
	if (rc)
		goto done;
	enum ck_vkind kind = c->value ? c->value->kind : CK_V_DICT;
	if ((kind == CK_V_LIST || kind == CK_V_TUPLE) && !is_dense_index(&es))
		kind = CK_V_DICT;
	else if (kind == CK_V_DICT && es.n)
		qsort(es.v, es.n, sizeof *es.v, by_entry_order);
	if (kind == CK_V_DICT && (rc = check_unique(t, &es, err)))
		goto done;
	v = ck_value_new(kind);
	if (!v) {
		rc = CK_ENOMEM;
		goto done;
	}
	if (kind == CK_V_DICT && c->value && c->value->kind == CK_V_DICT) {
		v->u.dict.ordered = c->value->u.dict.ordered;
		v->u.dict.attrs = ck_value_ref(c->value->u.dict.attrs);
	} else if (kind == CK_V_DICT && !c->value) {
		v->u.dict.ordered = 1; /* a state dict made up of namespaces */
	}
	for (size_t i = 0; i < es.n && !rc; i++) {
		if (kind == CK_V_DICT)
			rc = ck_value_setitem(v, es.v[i].key, es.v[i].val);
		else {
			ck_value_unref(es.v[i].key);
			rc = ck_value_append(v, es.v[i].val);
		}
		es.v[i].key = es.v[i].val = NULL;
	}
done:
	for (size_t i = 0; i < es.n; i++) {
		ck_value_unref(es.v[i].key);
		ck_value_unref(es.v[i].val);
	}
	free(es.v);
	if (rc) {
		ck_value_unref(v);
		v = NULL;
	}
	*out = v;
	return rc;
}

ck_err ck_tree_to_value(const struct ck_tree *t, struct ck_value **out, struct ck_error *err)
{
	*out = NULL;
	const struct ck_node *r = t->root;
	if (!r->value && r->nkids == 1 && r->kids[0]->is_self && r->kids[0]->kind == CK_NODE_LEAF) {
		*out = ck_value_ref(r->kids[0]->value); /* a checkpoint that is one tensor */
		return CK_OK;
	}
	ck_err rc = build_container(t, r, out, err);
	if (rc == CK_ENOMEM)
		return ck_error_set(err, rc, "%s: out of memory rebuilding the checkpoint", t->ck->path);
	return rc;
}

/* ---- walking a value tree -------------------------------------------------- */

struct walk {
	char sep;
	int (*cb)(void *, const char *, const struct ck_value *);
	void *ctx;
	struct ck_buf key;
};

static int walk_value(struct walk *w, const struct ck_value *v, int depth)
{
	int is_c = v->kind == CK_V_DICT || v->kind == CK_V_LIST || v->kind == CK_V_TUPLE;
	if (!is_c || depth > 1000)
		return w->cb(w->ctx, ck_buf_cstr(&w->key) ? (const char *)w->key.p : "", v);
	size_t n = v->kind == CK_V_DICT ? v->u.dict.n : v->u.seq.n;
	size_t mark = w->key.len;
	for (size_t i = 0; i < n; i++) {
		w->key.len = mark;
		if (mark)
			ck_buf_addc(&w->key, (uint8_t)w->sep);
		const struct ck_value *item;
		if (v->kind == CK_V_DICT) {
			const struct ck_value *k = v->u.dict.keys[i];
			if (k->kind == CK_V_STR) {
				ck_buf_add(&w->key, k->u.s.p, k->u.s.len);
			} else {
				char *txt = ck_value_text(k);
				if (txt)
					ck_buf_adds(&w->key, txt);
				free(txt);
			}
			item = v->u.dict.vals[i];
		} else {
			ck_buf_printf(&w->key, "%zu", i);
			item = v->u.seq.items[i];
		}
		int r = walk_value(w, item, depth + 1);
		if (r)
			return r;
	}
	w->key.len = mark;
	return 0;
}

int ck_value_walk(const struct ck_value *root, char sep,
		  int (*cb)(void *ctx, const char *key, const struct ck_value *leaf), void *ctx)
{
	struct walk w = {.sep = sep, .cb = cb, .ctx = ctx};
	ck_buf_init(&w.key);
	int r = root ? walk_value(&w, root, 0) : 0;
	ck_buf_release(&w.key);
	return r;
}

struct tensors {
	struct ck_tensor_item *items;
	size_t n, cap;
	const char *what, *fmt;
	struct ck_error *err;
};

static int tensors_add(void *ctx, const char *key, const struct ck_value *leaf)
{
	struct tensors *l = ctx;
	if (leaf->kind != CK_V_TENSOR) {
		char q[CK_QUOTE];
		ck_error_set(l->err, CK_EUNSUP, "%s: %s cannot store non-tensor value '%s'", l->what, l->fmt,
			     ck_quote_name(q, sizeof q, key, strlen(key)));
		return 1;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct ck_tensor_item *p = realloc(l->items, cap * sizeof *p);
		if (!p)
			goto oom;
		l->items = p;
		l->cap = cap;
	}
	if (!(l->items[l->n].key = strdup(key)))
		goto oom;
	l->items[l->n++].val = leaf;
	return 0;
oom:
	ck_error_set(l->err, CK_ENOMEM, "%s: out of memory", l->what);
	return 1;
}

ck_err ck_value_tensors(const struct ck_value *root, char sep, const char *what, const char *fmt,
			struct ck_tensor_item **items, size_t *n, struct ck_error *err)
{
	struct tensors l = {.what = what, .fmt = fmt, .err = err};
	*items = NULL;
	*n = 0;
	if (ck_value_walk(root, sep, tensors_add, &l)) {
		ck_tensor_items_free(l.items, l.n);
		return err->code;
	}
	*items = l.items;
	*n = l.n;
	return CK_OK;
}

void ck_tensor_items_free(struct ck_tensor_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i].key);
	free(items);
}
