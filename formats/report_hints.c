/*
 * report_hints.c — with a reference, the shell commands in `_report` that
 * would fix the most.
 *
 * Prefixes are found from the data, not from a list: every missing key's
 * separator-aligned suffixes go into one table (with how many missing keys end
 * that way), and each unexpected key looks up its own suffixes, longest first.
 * The longest suffix that is itself a missing key (or ends exactly one missing
 * key) pairs the two prefixes: strip P (`bert.`, `module.`), add Q (`bert.`),
 * or replace P by Q.  Pairs are counted and the most useful become `mv`
 * commands on mount paths.  Unexpected keys no pair explains group into the
 * largest folders holding nothing else the reference knows (a `cls` head:
 * `rm -r cls`).  LayerNorm gamma/beta get a find loop (report_shell.c).
 * All of it is linear in the number of keys times their depth.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "report_int.h"

#define CK_MAX_PAIR_HINTS 8
#define CK_MAX_HEAD_HINTS 8
#define CK_MAX_NAMES 32          /* folders one `mkdir && mv` hint may list */
#define CK_MAX_SUFFIXES 4000000  /* beyond this, prefix hints are skipped */

/* Escaped mount path of the key text k (segments split on sep), after base. */
static int add_key_path(struct ck_buf *b, const char *base, const char *k, size_t len, char sep)
{
	int first = !base || !*base;
	if (!first)
		ck_buf_adds(b, base);
	for (size_t i = 0; i <= len;) {
		const char *e = memchr(k + i, sep, len - i);
		size_t sl = e ? (size_t)(e - (k + i)) : len - i;
		char *nm = ck_name_escape(k + i, sl);
		if (!nm)
			return 0;
		if (!first)
			ck_buf_addc(b, '/');
		ck_buf_adds(b, nm);
		free(nm);
		first = 0;
		i += sl + 1;
		if (!e)
			break;
	}
	return 1;
}

/* ---- suffixes of the missing keys ------------------------------------------- */

struct sfx {
	size_t count;   /* missing keys ending with this suffix */
	size_t m;       /* one of them (the exact one when exact) */
	size_t j;       /* where the suffix starts in it */
	int exact;      /* the suffix is itself a missing key */
};

struct suffixes {
	struct ck_smap map;   /* reversed-FNV of the suffix -> index into v */
	struct sfx *v;
	size_t n, cap;
};

/* Reversed FNV: hashing a key from its end gives every suffix's hash in one pass. */
static int suffixes_build(struct ck_rstate *s, struct suffixes *x)
{
	const struct ck_reference *r = s->ref;
	for (size_t i = 0; i < s->nmissing; i++) {
		const struct ck_ref_entry *e = &r->e[s->missing[i]];
		uint64_t h = CK_FNV_INIT;
		for (size_t p = e->len; p-- > 0;) {
			h = ck_fnv_step(h, (unsigned char)e->key[p]);
			if (p && e->key[p - 1] != s->sep)
				continue;
			if (x->n == x->cap) {
				if (x->cap >= CK_MAX_SUFFIXES)
					return 0;
				size_t cap = x->cap ? x->cap * 2 : 256;
				struct sfx *v = realloc(x->v, cap * sizeof *v);
				if (!v)
					return -1;
				x->v = v;
				x->cap = cap;
			}
			size_t *slot;
			int rc = ck_smap_put(&x->map, e->key + p, e->len - p, h, x->n, &slot);
			if (rc < 0)
				return -1;
			if (rc) {
				x->v[x->n++] = (struct sfx){1, s->missing[i], p, p == 0};
				continue;
			}
			struct sfx *f = &x->v[*slot];
			f->count++;
			if (p == 0)
				*f = (struct sfx){f->count, s->missing[i], 0, 1};
		}
	}
	return 1;
}

/* The prefix pair that maps key onto a missing key: *plen bytes of key are
 * replaced by Q (*qlen bytes of reference entry *m).  0 when none is clear. */
static int find_pair(const struct ck_rstate *s, const struct suffixes *x, const char *key, size_t len,
		     int ndim, const int64_t *shape, size_t *plen, size_t *m, size_t *qlen)
{
	const struct sfx *best = NULL;
	size_t bp = 0;
	uint64_t h = CK_FNV_INIT;
	for (size_t p = len; p-- > 0;) {
		h = ck_fnv_step(h, (unsigned char)key[p]);
		if (p && key[p - 1] != s->sep)
			continue;
		size_t *i = ck_smap_get(&x->map, key + p, len - p, h);
		if (!i)
			break; /* a longer suffix cannot match when this one does not */
		best = &x->v[*i];
		bp = p;
	}
	/* a prefix that is one empty segment (".x") has no length to tell it from none */
	if (!best || (bp == 0 && best->exact) || bp == 1 || best->j == 1)
		return 0;
	*plen = bp ? bp - 1 : 0;
	*m = best->m;
	*qlen = best->j ? best->j - 1 : 0;
	if (best->exact)
		return bp > 0;
	if (best->count != 1)
		return 0;
	if (bp == 0)
		return 1; /* the whole key under a new prefix */
	/* replacing one prefix by another needs more evidence than a shared "weight" */
	const struct ck_ref_entry *e = &s->ref->e[best->m];
	if (!memchr(key + bp, s->sep, len - bp))
		return 0;
	return e->ndim < 0 || (e->ndim == ndim && !memcmp(e->shape, shape, (size_t)ndim * sizeof *shape));
}

/* ---- prefix pairs ------------------------------------------------------------- */

struct pair {
	char *pq;          /* owned: P '\0' Q */
	size_t plen, qlen;
	size_t count;
	size_t example;    /* an item it moves */
	int kept;
	char *names[CK_MAX_NAMES]; /* owned: folders a P-into-Q hint moves */
	size_t nnames;
	int too_many;
};

struct pairs {
	struct ck_smap map; /* P '\0' Q -> index */
	struct pair *v;
	size_t n, cap;
};

static void pairs_release(struct pairs *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		free(ps->v[i].pq);
		for (size_t j = 0; j < ps->v[i].nnames; j++)
			free(ps->v[i].names[j]);
	}
	free(ps->v);
	ck_smap_release(&ps->map);
}

/* Common leading segments of P and Q, in segments. */
static size_t common_segs(const struct pair *p, char sep)
{
	const char *a = p->pq, *b = p->pq + p->plen + 1;
	if (!p->plen || !p->qlen)
		return 0;
	for (size_t n = 0, i = 0;; i++) {
		int ea = i == p->plen || a[i] == sep, eb = i == p->qlen || b[i] == sep;
		if (ea || eb) {
			if (!(ea && eb))
				return n;
			n++;
			if (i == p->plen || i == p->qlen)
				return n;
			continue;
		}
		if (a[i] != b[i])
			return n;
	}
}

static size_t segs_of(const char *k, size_t len, char sep)
{
	return len ? ck_rp_seg_count(k, len, sep) : 0;
}

static struct pair *pair_get(struct ck_rstate *s, struct pairs *ps, const char *key, size_t plen,
			     const char *q, size_t qlen)
{
	char *pq = malloc(plen + qlen + 2);
	if (!pq)
		return NULL;
	memcpy(pq, key, plen);
	pq[plen] = 0;
	memcpy(pq + plen + 1, q, qlen);
	pq[plen + qlen + 1] = 0;
	size_t n = plen + qlen + 1;
	size_t *slot = ck_smap_get(&ps->map, pq, n, ck_fnv(pq, n));
	if (slot) {
		free(pq);
		return &ps->v[*slot];
	}
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 16;
		struct pair *v = realloc(ps->v, cap * sizeof *v);
		if (!v)
			goto fail;
		ps->v = v;
		ps->cap = cap;
	}
	if (ck_smap_put(&ps->map, pq, n, ck_fnv(pq, n), ps->n, NULL) < 0)
		goto fail;
	ps->v[ps->n] = (struct pair){.pq = pq, .plen = plen, .qlen = qlen};
	return &ps->v[ps->n++];
fail:
	free(pq);
	s->oom = 1;
	return NULL;
}

/* Counts item j into its pair; the folder it moves is remembered for P-into-Q hints. */
static void pair_count(struct ck_rstate *s, struct pair *p, size_t j)
{
	if (!p->count++)
		p->example = j;
	size_t c = common_segs(p, s->sep), np = segs_of(p->pq, p->plen, s->sep);
	if (c != np || p->too_many)
		return; /* only "P is a prefix of Q" moves named folders */
	const struct ck_node *n = ck_rp_ancestor(s->it[j].node, np + 1);
	if (!n) {
		p->too_many = 1;
		return;
	}
	for (size_t i = 0; i < p->nnames; i++)
		if (!strcmp(p->names[i], n->name))
			return;
	if (p->nnames == CK_MAX_NAMES) {
		p->too_many = 1;
		return;
	}
	if (!(p->names[p->nnames++] = strdup(n->name)))
		s->oom = 1;
}

/* Does a child of src have a namesake in dst?  Then mv of src's children into dst would fail. */
static int overlaps(const struct ck_rstate *s, const struct ck_node *src, const struct ck_node *dst)
{
	if (!dst || dst->kind != CK_NODE_DIR)
		return 0;
	for (size_t i = 0; i < src->nkids; i++)
		if (ck_tree_child(s->t, dst, src->kids[i]->name))
			return 1;
	return 0;
}

/* Moves everything in folder P into folder D ("" = the root): one mv, or a
 * file-by-file merge when both hold folders of the same name. */
static void move_into(struct ck_buf *b, const struct ck_rstate *s, const struct ck_node *pn, const char *ppath,
		      const struct ck_node *dn, const char *dpath)
{
	if (overlaps(s, pn, dn)) {
		ck_buf_adds(b, "p=");
		ck_sh_quote(b, ppath);
		ck_buf_adds(b, " d=");
		ck_sh_quote(b, *dpath ? dpath : ".");
		ck_buf_adds(b, "; find \"$p\" -type f | while IFS= read -r f; do g=$d/${f#\"$p\"/}; "
			       "mkdir -p \"${g%/*}\" && mv \"$f\" \"$g\"; done");
		return;
	}
	ck_buf_adds(b, "mv ");
	ck_sh_quote(b, ppath);
	ck_buf_adds(b, "/* ");
	if (*dpath) {
		ck_sh_quote(b, dpath);
		ck_buf_addc(b, '/');
	} else {
		ck_buf_addc(b, '.');
	}
}

/* The shell command for a pair, or NULL when the tree does not allow a clean one. */
static char *pair_cmd(struct ck_rstate *s, const struct pair *p)
{
	const struct ck_ritem *it = &s->it[p->example];
	const char *q = p->pq + p->plen + 1;
	size_t np = segs_of(p->pq, p->plen, s->sep), nq = segs_of(q, p->qlen, s->sep);
	size_t c = common_segs(p, s->sep);
	char *ppath = NULL, *cpath = NULL, *qpath = NULL, *res = NULL;
	const struct ck_node *pn = NULL, *cn;
	struct ck_buf b, qp;
	ck_buf_init(&b);
	ck_buf_init(&qp);
	if ((np && !(pn = ck_rp_prefix_node(s, it, np, &ppath))) || !(cn = ck_rp_prefix_node(s, it, c, &cpath)))
		goto done;
	if (nq == c) { /* strip: C/P'/... -> C/... */
		move_into(&b, s, pn, ppath, cn, cpath);
		goto take;
	}
	size_t cq = ck_rp_seg_prefix_len(q, p->qlen, s->sep, c); /* Q after the common folders */
	const char *q2 = c ? q + cq + 1 : q;
	size_t q2len = c ? p->qlen - cq - 1 : p->qlen;
	if (!add_key_path(&qp, cpath, q2, q2len, s->sep) || !(qpath = ck_rp_take(&qp))) {
		s->oom = 1;
		goto done;
	}
	const struct ck_node *qn = ck_tree_lookup(s->t, qpath);
	if (qn && qn->kind != CK_NODE_DIR)
		goto done;
	if (np == c) { /* add: C/x C/y -> C/Q'/x C/Q'/y */
		if (p->too_many || !p->nnames)
			goto done;
		ck_buf_adds(&b, "mkdir -p ");
		ck_sh_quote(&b, qpath);
		ck_buf_adds(&b, " && mv");
		for (size_t i = 0; i < p->nnames; i++) {
			char *src = *cpath ? ck_rp_fmt("%s/%s", cpath, p->names[i]) : strdup(p->names[i]);
			size_t sl = src ? strlen(src) : 0;
			/* not a folder into itself, nor onto a namesake already in Q */
			int bad = !src || (!strncmp(qpath, src, sl) && (!qpath[sl] || qpath[sl] == '/')) ||
				  (qn && ck_tree_child(s->t, qn, p->names[i]));
			if (!bad) {
				ck_buf_addc(&b, ' ');
				ck_sh_quote(&b, src);
			}
			free(src);
			if (bad)
				goto done;
		}
		ck_buf_addc(&b, ' ');
		ck_sh_quote(&b, qpath);
		ck_buf_addc(&b, '/');
	} else if (qn) { /* replace into an existing folder */
		move_into(&b, s, pn, ppath, qn, qpath);
	} else { /* replace: C/P' -> C/Q', making Q's parent first if needed */
		char *slash = strrchr(qpath, '/');
		if (slash && (*slash = 0, !ck_tree_lookup(s->t, qpath))) {
			ck_buf_adds(&b, "mkdir -p ");
			ck_sh_quote(&b, qpath);
			ck_buf_adds(&b, " && ");
		}
		if (slash)
			*slash = '/';
		ck_buf_adds(&b, "mv ");
		ck_sh_quote(&b, ppath);
		ck_buf_addc(&b, ' ');
		ck_sh_quote(&b, qpath);
	}
take:
	if (!(res = ck_rp_take(&b)))
		s->oom = 1;
	b.p = NULL;
done:
	ck_buf_release(&b);
	free(ppath);
	free(cpath);
	free(qpath);
	return res;
}

static int pair_rank(const void *pa, const void *pb)
{
	const struct pair *a = *(struct pair *const *)pa, *b = *(struct pair *const *)pb;
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	size_t la = a->plen + a->qlen, lb = b->plen + b->qlen;
	if (la != lb)
		return la < lb ? -1 : 1;
	return memcmp(a->pq, b->pq, la + 1 < lb + 1 ? la + 1 : lb + 1);
}

/* Ranks the pairs and turns the best into hints; marks them kept. */
static void pairs_hint(struct ck_rstate *s, struct pairs *ps)
{
	struct pair **order = malloc((ps->n ? ps->n : 1) * sizeof *order);
	if (!order) {
		s->oom = 1;
		return;
	}
	for (size_t i = 0; i < ps->n; i++)
		order[i] = &ps->v[i];
	qsort(order, ps->n, sizeof *order, pair_rank);
	size_t shown = 0;
	for (size_t i = 0; i < ps->n && shown < CK_MAX_PAIR_HINTS && !s->oom; i++) {
		char *cmd = pair_cmd(s, order[i]);
		if (!cmd)
			continue;
		order[i]->kept = 1;
		shown++;
		size_t c = order[i]->count;
		ck_rstate_hint(s, cmd, c, 0, ck_rp_fmt("would match %zu missing %s", c, ck_rp_plural(c, "key", "keys")),
			       CK_HINT_FIX);
	}
	free(order);
}

/* ---- heads: folders of unexpected keys the reference knows nothing about ---------- */

struct agg {
	const struct ck_node *n;
	size_t nu;       /* unexplained unexpected tensors below */
	int qual;        /* 1: every tensor below is one and the reference has nothing there */
	int listed;
};

struct aggs {
	struct ck_smap map;   /* node ino -> index into v */
	struct agg *v;
	size_t n, cap;
	struct ck_smap loose; /* inos of the unexplained unexpected leaves */
	const struct ck_node **stack;
	size_t sn, scap;
};

static uint64_t ino_hash(const struct ck_node *n)
{
	return ck_fnv(&n->ino, sizeof n->ino);
}

/* No reference key is this node's key or below it. */
static int ref_lacks(struct ck_rstate *s, const struct ck_node *n)
{
	if (s->ref->sep != s->sep)
		return 0;
	char *k = ck_node_key(s->t, n, NULL);
	if (!k) {
		s->oom = 1;
		return 0;
	}
	size_t len = strlen(k);
	uint64_t h = ck_fnv(k, len);
	int r = !ck_smap_get(&s->ref->prefixes, k, len, h) && !ck_smap_get(&s->ref->keys, k, len, h);
	free(k);
	return r;
}

static int push(struct ck_rstate *s, struct aggs *a, const struct ck_node *n)
{
	if (a->sn == a->scap) {
		size_t cap = a->scap ? a->scap * 2 : 64;
		const struct ck_node **v = realloc(a->stack, cap * sizeof *v);
		if (!v) {
			s->oom = 1;
			return 0;
		}
		a->stack = v;
		a->scap = cap;
	}
	a->stack[a->sn++] = n;
	return 1;
}

/* Every tensor under dir is unexplained and unexpected?  Stops at the first
 * that is not, so a folder of good keys costs one leaf; the child already
 * known to qualify (done, with done_nu tensors) is not walked again. */
static int all_loose(struct ck_rstate *s, struct aggs *a, const struct ck_node *dir,
		     const struct ck_node *done, size_t done_nu, size_t *nu)
{
	*nu = 0;
	a->sn = 0;
	if (!push(s, a, dir))
		return 0;
	while (a->sn) {
		const struct ck_node *x = a->stack[--a->sn];
		if (x == done) {
			*nu += done_nu;
		} else if (x->kind == CK_NODE_LEAF) {
			if (!x->value || x->value->kind != CK_V_TENSOR)
				continue;
			if (!ck_smap_get(&a->loose, &x->ino, sizeof x->ino, ino_hash(x)))
				return 0;
			++*nu;
		} else {
			for (size_t i = 0; i < x->nkids; i++)
				if (!push(s, a, x->kids[i]))
					return 0;
		}
	}
	return 1;
}

/* Index of n's aggregate in a->v (computed on first use), SIZE_MAX on ENOMEM.
 * An index, not a pointer: a->v moves as it grows. */
static size_t agg_of(struct ck_rstate *s, struct aggs *a, const struct ck_node *n,
		     const struct ck_node *done, size_t done_nu)
{
	size_t *slot = ck_smap_get(&a->map, &n->ino, sizeof n->ino, ino_hash(n));
	if (slot)
		return *slot;
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		struct agg *v = realloc(a->v, cap * sizeof *v);
		if (!v) {
			s->oom = 1;
			return SIZE_MAX;
		}
		a->v = v;
		a->cap = cap;
	}
	struct agg g = {.n = n};
	g.qual = all_loose(s, a, n, done, done_nu, &g.nu) && g.nu && ref_lacks(s, n);
	if (s->oom || ck_smap_put(&a->map, &n->ino, sizeof n->ino, ino_hash(n), a->n, NULL) < 0) {
		s->oom = 1;
		return SIZE_MAX;
	}
	a->v[a->n] = g;
	return a->n++;
}

static int head_rank(const void *pa, const void *pb)
{
	const struct agg *a = pa, *b = pb;
	if (a->nu != b->nu)
		return a->nu > b->nu ? -1 : 1;
	return a->n->order < b->n->order ? -1 : a->n->order > b->n->order;
}

/* Linear in the unexpected keys times their depth, not in the whole tree:
 * the report runs after every change and is usually nearly clean. */
static void heads_hint(struct ck_rstate *s, const uint8_t *claimed)
{
	struct aggs a = {0};
	struct agg *heads = NULL; /* copies */
	size_t nheads = 0, nloose = 0;
	for (size_t j = 0; j < s->nit && !s->oom; j++) {
		const struct ck_node *x = s->it[j].node;
		if (s->it_unexp[j] && !claimed[j] && ck_smap_put(&a.loose, &x->ino, sizeof x->ino, ino_hash(x), j, NULL) < 0)
			s->oom = 1;
		nloose += s->it_unexp[j] && !claimed[j];
	}
	if (nloose && !s->oom && !(heads = malloc(nloose * sizeof *heads)))
		s->oom = 1;
	for (size_t j = 0; j < s->nit && !s->oom && nloose; j++) {
		if (!s->it_unexp[j] || claimed[j])
			continue;
		size_t best = SIZE_MAX, done_nu = 0;
		const struct ck_node *done = NULL;
		for (const struct ck_node *x = s->it[j].node; x && x->parent && !s->oom; x = x->parent) {
			size_t g = agg_of(s, &a, x, done, done_nu);
			if (g == SIZE_MAX || !a.v[g].qual)
				break;
			best = g;
			done = x;
			done_nu = a.v[g].nu;
		}
		if (best != SIZE_MAX && !a.v[best].listed) {
			a.v[best].listed = 1;
			heads[nheads++] = a.v[best];
		}
	}
	if (nheads > 1)
		qsort(heads, nheads, sizeof *heads, head_rank);
	for (size_t i = 0; i < nheads && i < CK_MAX_HEAD_HINTS && !s->oom; i++) {
		const struct ck_node *n = heads[i].n;
		size_t nu = heads[i].nu;
		char *path = ck_node_path(n);
		struct ck_buf b;
		ck_buf_init(&b);
		ck_buf_adds(&b, n->kind == CK_NODE_DIR ? "rm -r " : "rm ");
		if (path)
			ck_sh_quote(&b, path);
		free(path);
		char *cmd = path ? ck_rp_take(&b) : NULL;
		if (!path)
			ck_buf_release(&b);
		char *text;
		if (n->kind == CK_NODE_DIR && n->parent == s->t->root)
			text = ck_rp_fmt("removes %zu unexpected %s (this IS expected if you are initializing from a checkpoint "
				   "of a model trained on another task or with another architecture, e.g. a "
				   "BertForPreTraining checkpoint into a BertModel)", nu, ck_rp_plural(nu, "key", "keys"));
		else
			text = ck_rp_fmt("removes %zu unexpected %s (not in the reference)", nu, ck_rp_plural(nu, "key", "keys"));
		ck_rstate_hint(s, cmd, 0, nu, text, CK_HINT_REMOVE);
	}
	free(heads);
	free(a.v);
	free(a.stack);
	ck_smap_release(&a.map);
	ck_smap_release(&a.loose);
}

/* ---- reference mode ------------------------------------------------------------ */

void ck_report_hints(struct ck_rstate *s)
{
	struct suffixes x = {0};
	struct pairs ps = {0};
	struct ck_legacy lg = {0};
	size_t *pair_of = malloc((s->nit ? s->nit : 1) * sizeof *pair_of);
	uint8_t *claimed = calloc(s->nit ? s->nit : 1, 1);
	char *tmp = NULL;
	if (!pair_of || !claimed) {
		s->oom = 1;
		goto done;
	}
	size_t nunexp = 0;
	for (size_t j = 0; j < s->nit; j++)
		nunexp += s->it_unexp[j];
	int built = s->nmissing && nunexp ? suffixes_build(s, &x) : 0;
	if (built < 0) {
		s->oom = 1;
		goto done;
	}
	for (size_t j = 0; j < s->nit; j++) {
		pair_of[j] = SIZE_MAX;
		const struct ck_ritem *it = &s->it[j];
		size_t plen, m, qlen;
		if (!built || !s->it_unexp[j])
			continue;
		if (!find_pair(s, &x, it->key, it->len, it->ndim, it->shape, &plen, &m, &qlen))
			continue;
		struct pair *p = pair_get(s, &ps, it->key, plen, s->ref->e[m].key, qlen);
		if (!p)
			goto done;
		pair_of[j] = (size_t)(p - ps.v);
		pair_count(s, p, j);
	}
	pairs_hint(s, &ps);
	for (size_t j = 0; j < s->nit && !s->oom; j++) {
		if (pair_of[j] != SIZE_MAX && ps.v[pair_of[j]].kept)
			claimed[j] = 1;
		const struct ck_ritem *it = &s->it[j];
		size_t last, plen, m, qlen;
		int unpaired = s->it_unexp[j] && pair_of[j] == SIZE_MAX;
		const char *nw = unpaired ? ck_legacy_name(it->key, it->len, s->sep, &last) : NULL;
		if (!nw)
			continue;
		free(tmp);
		if (!(tmp = ck_rp_fmt("%.*s%s", (int)last, it->key, nw))) {
			s->oom = 1;
			break;
		}
		size_t tl = strlen(tmp);
		size_t *i = ck_smap_get(&s->ref->keys, tmp, tl, ck_fnv(tmp, tl));
		int direct = i && s->ref_missing[*i];
		int indirect = 0;
		if (!direct && built && find_pair(s, &x, tmp, tl, it->ndim, it->shape, &plen, &m, &qlen)) {
			/* the renamed key would match once a shown prefix hint is applied too */
			size_t n = plen + qlen + 1;
			char *pq = malloc(n + 1);
			if (!pq) {
				s->oom = 1;
				break;
			}
			memcpy(pq, tmp, plen);
			pq[plen] = 0;
			memcpy(pq + plen + 1, s->ref->e[m].key, qlen);
			pq[n] = 0;
			size_t *pi = ck_smap_get(&ps.map, pq, n, ck_fnv(pq, n));
			indirect = pi && ps.v[*pi].kept;
			free(pq);
		}
		if (!direct && !indirect)
			continue;
		claimed[j] = 1;
		lg.indirect += indirect;
		ck_legacy_note(s, &lg, j);
	}
	ck_legacy_hint(s, &lg, 0);
	/* with nothing in common, removing folders would not bring the reference closer */
	size_t common = s->nit - nunexp;
	for (size_t j = 0; j < s->nit; j++)
		common += claimed[j];
	if (!s->oom && common)
		heads_hint(s, claimed);
done:
	free(tmp);
	ck_legacy_release(&lg);
	pairs_release(&ps);
	free(x.v);
	ck_smap_release(&x.map);
	free(pair_of);
	free(claimed);
}
