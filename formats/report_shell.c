/*
 * report_shell.c — building the shell commands `_report` suggests: quoting for
 * a POSIX shell, escaped mount paths of key prefixes (found through the tree so
 * "%self" and escaped names come out right), and the find loop that renames
 * LayerNorm gamma/beta to weight/bias, shared by both report modes.
 *
 * Every command runs at the mount root and must work when pasted into sh or
 * bash; tests run them against real directory trees and a mount.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "report_int.h"

/* ---- small helpers ----------------------------------------------------------- */

char *ck_rp_fmt(const char *f, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, f);
	if (vasprintf(&s, f, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

char *ck_rp_take(struct ck_buf *b)
{
	if (!ck_buf_cstr(b) || b->oom) {
		ck_buf_release(b);
		return NULL;
	}
	return (char *)b->p;
}

void ck_sh_quote(struct ck_buf *b, const char *s)
{
	if (s[0] == '-') /* not an option to mv/rm */
		ck_buf_adds(b, "./");
	int plain = *s != 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_.,:@%+=/-", *p))
			plain = 0;
	if (plain) {
		ck_buf_adds(b, s);
		return;
	}
	ck_buf_addc(b, '\'');
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			ck_buf_adds(b, "'\\''");
		else
			ck_buf_addc(b, (uint8_t)*p);
	}
	ck_buf_addc(b, '\'');
}

const char *ck_rp_plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

size_t ck_rp_seg_count(const char *k, size_t len, char sep)
{
	size_t n = 1;
	for (size_t i = 0; i < len; i++)
		n += k[i] == sep;
	return n;
}

/* Byte length of the first n segments of k (without the separator after them). */
size_t ck_rp_seg_prefix_len(const char *k, size_t len, char sep, size_t n)
{
	size_t i = 0;
	for (size_t seen = 0; i < len; i++)
		if (k[i] == sep && ++seen == n)
			return i;
	return len;
}

/* The ancestor of a leaf holding its first d key segments (%self files are not segments). */
const struct ck_node *ck_rp_ancestor(const struct ck_node *leaf, size_t d)
{
	size_t depth = 0;
	for (const struct ck_node *x = leaf; x && x->parent; x = x->parent)
		depth += !x->is_self;
	if (d > depth)
		return NULL;
	const struct ck_node *x = leaf;
	for (size_t up = depth - d; x && up;) {
		up -= !x->is_self;
		x = x->parent;
	}
	while (x && x->is_self)
		x = x->parent;
	return x;
}

/* The folder of the first d segments of item `it`'s key, verified by its key;
 * its mount path in *path (malloc'd, "" for the root). */
const struct ck_node *ck_rp_prefix_node(const struct ck_rstate *s, const struct ck_ritem *it, size_t d,
					char **path)
{
	*path = NULL;
	const struct ck_node *n = ck_rp_ancestor(it->node, d);
	if (!n)
		return NULL;
	char *k = ck_node_key(s->t, n, NULL);
	size_t plen = d ? ck_rp_seg_prefix_len(it->key, it->len, s->sep, d) : 0;
	int same = k && strlen(k) == plen && memcmp(k, it->key, plen) == 0;
	free(k);
	if (!same || !(*path = ck_node_path(n)))
		return NULL;
	return n;
}

/* ---- LayerNorm gamma/beta ------------------------------------------------------ */

/* "weight"/"bias" for a last segment "gamma"/"beta", else NULL; *last set. */
const char *ck_legacy_name(const char *k, size_t len, char sep, size_t *last)
{
	const char *e = k + len;
	const char *p = e;
	while (p > k && p[-1] != sep)
		p--;
	*last = (size_t)(p - k);
	if (p == k) /* a top-level gamma has no folder to find it by */
		return NULL;
	if ((size_t)(e - p) == 5 && !memcmp(p, "gamma", 5))
		return "weight";
	if ((size_t)(e - p) == 4 && !memcmp(p, "beta", 4))
		return "bias";
	return NULL;
}

void ck_legacy_note(struct ck_rstate *s, struct ck_legacy *lg, size_t j)
{
	if (lg->count == lg->cap) {
		size_t cap = lg->cap ? lg->cap * 2 : 16;
		size_t *v = realloc(lg->items, cap * sizeof *v);
		if (!v) {
			s->oom = 1;
			return;
		}
		lg->items = v;
		lg->cap = cap;
	}
	lg->items[lg->count++] = j;
	const struct ck_node *leaf = s->it[j].node;
	if (leaf->is_self || !leaf->parent || !leaf->parent->parent) {
		lg->too_many = 1;
		return;
	}
	char *pat = ck_rp_fmt("%s/%s", leaf->parent->name, leaf->name);
	if (!pat) {
		s->oom = 1;
		return;
	}
	for (size_t i = 0; i < lg->npat; i++)
		if (!strcmp(lg->pat[i], pat)) {
			free(pat);
			return;
		}
	if (lg->npat == CK_MAX_PATTERNS) {
		free(pat);
		lg->too_many = 1;
		return;
	}
	lg->pat[lg->npat++] = pat;
}

/* Is the new name already taken beside the item (a tensor to replace, or a
 * folder the file would move into)? */
static int legacy_clobbers(struct ck_rstate *s, size_t j)
{
	const struct ck_node *leaf = s->it[j].node;
	size_t last;
	const char *nw = ck_legacy_name(s->it[j].key, s->it[j].len, s->sep, &last);
	return !nw || !leaf->parent || ck_tree_child(s->t, leaf->parent, nw);
}

/* Does the find loop rename only the counted keys, or besides them only
 * unexpected tensors (which stay unexpected), and replace nothing? */
static int legacy_loop_safe(struct ck_rstate *s, const struct ck_legacy *lg)
{
	for (size_t i = 0; i < lg->count; i++)
		if (legacy_clobbers(s, lg->items[i]))
			return 0;
	struct ck_node **v = NULL;
	size_t n;
	uint8_t *counted = calloc(s->nit ? s->nit : 1, 1);
	if (!counted || ck_tree_leaves(s->t, s->t->root, &v, &n, NULL)) {
		free(counted);
		s->oom = 1;
		return 0;
	}
	for (size_t i = 0; i < lg->count; i++)
		counted[lg->items[i]] = 1;
	size_t hits = 0;
	int safe = 1;
	for (size_t i = 0; i < n && safe; i++) {
		const struct ck_node *x = v[i];
		if (!x->parent || !x->parent->parent)
			continue;
		size_t pl = strlen(x->parent->name), k = 0;
		while (k < lg->npat && !(!strncmp(lg->pat[k], x->parent->name, pl) && lg->pat[k][pl] == '/' &&
					 !strcmp(lg->pat[k] + pl + 1, x->name)))
			k++;
		if (k == lg->npat)
			continue;
		hits++;
		char *key = ck_node_key(s->t, x, NULL);
		size_t *j = key ? ck_smap_get(&s->ckkeys, key, strlen(key), ck_fnv(key, strlen(key))) : NULL;
		free(key);
		if (!j || s->it[*j].node != x)
			safe = 0; /* not a tensor, or a duplicate key */
		else if (!counted[*j])
			safe = s->it_unexp[*j] && !legacy_clobbers(s, *j);
	}
	free(v);
	free(counted);
	return safe && hits >= lg->count;
}

/* One find-pipe that renames every matched gamma/beta file beside itself. */
static char *legacy_loop(const struct ck_legacy *lg)
{
	struct ck_buf b;
	ck_buf_init(&b);
	ck_buf_adds(&b, lg->npat > 1 ? "find . \\( " : "find . ");
	for (size_t i = 0; i < lg->npat; i++) {
		struct ck_buf g; /* glob-escape, then quote for the shell */
		ck_buf_init(&g);
		ck_buf_adds(&g, "*/");
		for (const char *p = lg->pat[i]; *p; p++) {
			if (strchr("*?[\\", *p))
				ck_buf_addc(&g, '\\');
			ck_buf_addc(&g, (uint8_t)*p);
		}
		char *glob = ck_rp_take(&g);
		if (!glob) {
			ck_buf_release(&b);
			return NULL;
		}
		ck_buf_adds(&b, i ? " -o -path '" : "-path '");
		for (const char *p = glob; *p; p++)
			ck_buf_adds(&b, *p == '\'' ? "'\\''" : (char[]){*p, 0});
		ck_buf_addc(&b, '\'');
		free(glob);
	}
	ck_buf_adds(&b, lg->npat > 1 ? " \\) -type f" : " -type f");
	ck_buf_adds(&b, " | while IFS= read -r f; do case $f in */gamma) mv \"$f\" \"${f%/*}/weight\";; "
			"*) mv \"$f\" \"${f%/*}/bias\";; esac; done");
	return ck_rp_take(&b);
}

/* One mv per key, for the few cases the loop cannot do safely. */
static char *legacy_mvs(struct ck_rstate *s, const struct ck_legacy *lg)
{
	struct ck_buf b;
	ck_buf_init(&b);
	for (size_t i = 0; i < lg->count; i++) {
		const struct ck_node *leaf = s->it[lg->items[i]].node;
		size_t last;
		const char *nw = ck_legacy_name(s->it[lg->items[i]].key, s->it[lg->items[i]].len, s->sep, &last);
		/* weight/bias already a folder (a.weight.x exists): the key goes in as its %self */
		const struct ck_node *there = nw && leaf->parent ? ck_tree_child(s->t, leaf->parent, nw) : NULL;
		if (there && (there->kind != CK_NODE_DIR || ck_tree_child(s->t, there, "%self"))) {
			ck_buf_release(&b);
			return NULL;
		}
		char *from = ck_node_path(leaf), *dir = leaf->parent ? ck_node_path(leaf->parent) : NULL;
		char *to = from && dir && nw ? ck_rp_fmt("%s%s%s%s", dir, *dir ? "/" : "", nw, there ? "/%self" : "") : NULL;
		if (to) {
			ck_buf_adds(&b, i ? " && mv " : "mv ");
			ck_sh_quote(&b, from);
			ck_buf_addc(&b, ' ');
			ck_sh_quote(&b, to);
		} else {
			b.oom = 1;
		}
		free(from);
		free(dir);
		free(to);
	}
	char *r = ck_rp_take(&b);
	if (!r)
		s->oom = 1;
	return r;
}

void ck_legacy_release(struct ck_legacy *lg)
{
	for (size_t i = 0; i < lg->npat; i++)
		free(lg->pat[i]);
	free(lg->items);
}

void ck_legacy_hint(struct ck_rstate *s, struct ck_legacy *lg, int selfcheck)
{
	if (!lg->count || s->oom)
		return;
	char *cmd;
	if (!lg->too_many && legacy_loop_safe(s, lg)) {
		if (!(cmd = legacy_loop(lg)))
			s->oom = 1;
	}
	else if (lg->count <= CK_MAX_PATTERNS && !s->oom)
		cmd = legacy_mvs(s, lg);
	else
		return;
	if (!cmd)
		return; /* no clean rename (or ENOMEM, which s->oom already says) */
	size_t n = lg->count;
	char *text;
	if (selfcheck)
		text = ck_rp_fmt("renames %zu legacy %s (LayerNorm gamma/beta -> weight/bias)", n,
				 ck_rp_plural(n, "key", "keys"));
	else if (lg->indirect)
		text = ck_rp_fmt("would match %zu missing %s (%zu together with the mv hint)", n,
				 ck_rp_plural(n, "key", "keys"), lg->indirect);
	else
		text = ck_rp_fmt("would match %zu missing %s", n, ck_rp_plural(n, "key", "keys"));
	ck_rstate_hint(s, cmd, selfcheck ? 0 : n, 0, text, CK_HINT_FIX);
}
