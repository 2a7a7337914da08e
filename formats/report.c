/*
 * report.c — the `_report` entry point (design.md §5): the checkpoint's
 * tensors compared by display key with a reference (missing, unexpected,
 * mismatched), then the hints (report_hints.c) or the self-check
 * (report_self.c), then the text or JSON (report_out.c).  Also loading the
 * reference and the string table everything looks keys up in.
 *
 * A reference is a checkpoint in any supported format, or a key list: one
 * tensor a line, `KEY [d1,d2,...]` with the shape optional and a dtype token
 * allowed anywhere after the key (so the mount's own `shape` file works as a
 * reference, and so do `key [768, 768]` and `key torch.Size([768, 768])` as a
 * Python loop prints them).  Blank lines and # comments are ignored; a key
 * with spaces is written in single quotes as `shape` writes it.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "cursor.h"
#include "report_int.h"

#define CK_REF_MAX_BYTES (1ULL << 30)   /* a key list larger than 1 GiB is not a key list */
#define CK_REF_MAX_KEYS 10000000
#define CK_REF_MAX_KEYLEN 65536
#define CK_REF_MAX_NDIM 64
#define CK_PROBE_HEAD 4096

/* ---- the string map ----------------------------------------------------- */

uint64_t ck_fnv(const void *s, size_t len)
{
	uint64_t h = CK_FNV_INIT;
	for (size_t i = 0; i < len; i++)
		h = ck_fnv_step(h, ((const unsigned char *)s)[i]);
	return h;
}

void ck_smap_release(struct ck_smap *m)
{
	free(m->e);
	m->e = NULL;
	m->cap = m->n = 0;
}

static size_t smap_slot(const struct ck_smap *m, const void *s, size_t len, uint64_t h)
{
	size_t mask = m->cap - 1, i = (size_t)(h ^ (h >> 31)) & mask;
	for (;; i = (i + 1) & mask) {
		const struct ck_smap_ent *e = &m->e[i];
		if (!e->s || (e->h == h && e->len == len && memcmp(e->s, s, len) == 0))
			return i;
	}
}

size_t *ck_smap_get(const struct ck_smap *m, const void *s, size_t len, uint64_t h)
{
	if (!m->cap)
		return NULL;
	struct ck_smap_ent *e = &m->e[smap_slot(m, s, len, h)];
	return e->s ? &e->val : NULL;
}

static int smap_grow(struct ck_smap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	if (cap > SIZE_MAX / sizeof(struct ck_smap_ent))
		return 0;
	struct ck_smap old = *m;
	m->e = calloc(cap, sizeof *m->e);
	if (!m->e) {
		*m = old;
		return 0;
	}
	m->cap = cap;
	for (size_t i = 0; i < old.cap; i++)
		if (old.e[i].s)
			m->e[smap_slot(m, old.e[i].s, old.e[i].len, old.e[i].h)] = old.e[i];
	free(old.e);
	return 1;
}

int ck_smap_put(struct ck_smap *m, const void *s, size_t len, uint64_t h, size_t val, size_t **slot)
{
	if ((m->n + 1) * 2 > m->cap && !smap_grow(m))
		return -1;
	struct ck_smap_ent *e = &m->e[smap_slot(m, s, len, h)];
	int added = !e->s;
	if (added) {
		*e = (struct ck_smap_ent){.s = s, .len = len, .h = h, .val = val};
		m->n++;
	}
	if (slot)
		*slot = &e->val;
	return added;
}

/* ---- the reference ----------------------------------------------------- */

void ck_reference_free(struct ck_reference *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->e[i].key);
		free(r->e[i].shape);
	}
	free(r->e);
	ck_smap_release(&r->keys);
	ck_smap_release(&r->prefixes);
	free(r->name);
	free(r);
}

/* Adds a key (copied) unless present; 1 added, 0 duplicate, -1 ENOMEM. */
static int ref_add(struct ck_reference *r, const char *key, size_t len, int ndim,
		   const int64_t *shape, enum ck_dtype dt)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct ck_ref_entry *e = realloc(r->e, cap * sizeof *e);
		if (!e)
			return -1;
		r->e = e;
		r->cap = cap;
	}
	struct ck_ref_entry *e = &r->e[r->n];
	*e = (struct ck_ref_entry){.len = len, .ndim = ndim, .dtype = dt};
	if (!(e->key = malloc(len + 1)))
		return -1;
	memcpy(e->key, key, len);
	e->key[len] = 0;
	if (ndim > 0) {
		if (!(e->shape = malloc((size_t)ndim * sizeof *e->shape))) {
			free(e->key);
			return -1;
		}
		memcpy(e->shape, shape, (size_t)ndim * sizeof *e->shape);
	}
	int rc = ck_smap_put(&r->keys, e->key, len, ck_fnv(e->key, len), r->n, NULL);
	if (rc <= 0) {
		free(e->key);
		free(e->shape);
		return rc;
	}
	r->n++;
	return 1;
}

static ck_err ref_prefixes(struct ck_reference *r, const char *path, struct ck_error *err)
{
	for (size_t i = 0; i < r->n; i++) {
		const char *k = r->e[i].key;
		uint64_t h = CK_FNV_INIT;
		for (size_t j = 0; j < r->e[i].len; j++) {
			if (k[j] == r->sep && ck_smap_put(&r->prefixes, k, j, h, 0, NULL) < 0)
				return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
			h = ck_fnv_step(h, (unsigned char)k[j]);
		}
	}
	return CK_OK;
}

static ck_err ref_from_checkpoint(struct ck_reference *r, const char *path, struct ck_error *err)
{
	struct ck_ckpt *ck = NULL;
	struct ck_tree *t = NULL;
	struct ck_node **v = NULL;
	size_t n = 0;
	ck_err rc = ck_ckpt_open(path, &ck, err);
	if (!rc)
		rc = ck_tree_build(ck, &t, err);
	if (!rc)
		rc = ck_tree_leaves(t, t->root, &v, &n, err);
	if (rc)
		goto done;
	r->sep = t->sep;
	for (size_t i = 0; i < n; i++) {
		if (!v[i]->value || v[i]->value->kind != CK_V_TENSOR)
			continue;
		const struct ck_tensor *ts = v[i]->value->u.t;
		char *key = ck_node_key(t, v[i], NULL);
		/* keys that collide after joining (int 1 and str "1") count once */
		if (!key || ref_add(r, key, strlen(key), ts->ndim, ts->shape, ts->dtype) < 0) {
			free(key);
			rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
			goto done;
		}
		free(key);
	}
done:
	free(v);
	ck_tree_free(t);
	ck_ckpt_free(ck);
	return rc;
}

static int is_blank(int c)
{
	return c == ' ' || c == '\t';
}

static void skip_blanks(struct ck_cursor *c)
{
	while (ck_cursor_left(c) && is_blank(c->p[c->pos]))
		c->pos++;
}

/* A key in single quotes with \' \\ \n \t \xHH escapes, as `shape` writes it. */
static int parse_quoted(struct ck_cursor *c, struct ck_buf *key)
{
	ck_cursor_u8(c); /* the opening quote */
	while (ck_cursor_left(c)) {
		uint8_t ch = ck_cursor_u8(c);
		if (ch == '\'')
			return 1;
		if (ch != '\\') {
			ck_buf_addc(key, ch);
			continue;
		}
		ch = ck_cursor_u8(c);
		if (ch == 'n')
			ck_buf_addc(key, '\n');
		else if (ch == 't')
			ck_buf_addc(key, '\t');
		else if (ch == 'x') {
			const uint8_t *h = ck_cursor_take(c, 2);
			if (!h || !isxdigit(h[0]) || !isxdigit(h[1]))
				return 0;
			char hex[3] = {(char)h[0], (char)h[1], 0};
			ck_buf_addc(key, (uint8_t)strtoul(hex, NULL, 16));
		} else if (ch == '\'' || ch == '\\')
			ck_buf_addc(key, ch);
		else
			return 0;
	}
	return 0;
}

/* "[d1,d2]", "(d1, d2,)" or "torch.Size([d1, d2])"; dims are decimal, >= 0. */
static int parse_shape(struct ck_cursor *c, int64_t *dims, int *ndim)
{
	static const char tsize[] = "torch.Size(";
	int wrapped = 0;
	if (ck_cursor_left(c) >= sizeof tsize - 1 && memcmp(c->p + c->pos, tsize, sizeof tsize - 1) == 0) {
		ck_cursor_skip(c, sizeof tsize - 1);
		wrapped = 1;
	}
	uint8_t open = ck_cursor_u8(c);
	uint8_t close = open == '[' ? ']' : open == '(' ? ')' : 0;
	if (!close)
		return 0;
	*ndim = 0;
	for (;;) {
		skip_blanks(c);
		if (ck_cursor_left(c) && c->p[c->pos] == close) {
			c->pos++;
			break;
		}
		if (!ck_cursor_left(c) || !isdigit(c->p[c->pos]) || *ndim == CK_REF_MAX_NDIM)
			return 0;
		uint64_t v = 0;
		while (ck_cursor_left(c) && isdigit(c->p[c->pos])) {
			if (!ck_mul_u64(v, 10, &v) || !ck_add_u64(v, (uint64_t)(c->p[c->pos] - '0'), &v) ||
			    v > INT64_MAX)
				return 0;
			c->pos++;
		}
		dims[(*ndim)++] = (int64_t)v;
		skip_blanks(c);
		uint8_t ch = ck_cursor_u8(c);
		if (ch == close)
			break;
		if (ch != ',')
			return 0;
	}
	return !wrapped || ck_cursor_u8(c) == ')';
}

static ck_err parse_line(struct ck_reference *r, const char *path, size_t lineno,
			 const uint8_t *line, size_t len, struct ck_buf *key, struct ck_error *err)
{
	struct ck_cursor c;
	ck_cursor_init(&c, line, len);
	skip_blanks(&c);
	if (!ck_cursor_left(&c) || c.p[c.pos] == '#')
		return CK_OK;
	key->len = 0;
	if (c.p[c.pos] == '\'') {
		if (!parse_quoted(&c, key))
			return ck_error_set(err, CK_EFORMAT, "%s:%zu: unterminated or bad quoted key", path, lineno);
	} else {
		while (ck_cursor_left(&c) && !is_blank(c.p[c.pos]))
			ck_buf_addc(key, ck_cursor_u8(&c));
	}
	if (key->oom)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	if (key->len == 0 || key->len > CK_REF_MAX_KEYLEN)
		return ck_error_set(err, CK_EFORMAT, "%s:%zu: %s key", path, lineno, key->len ? "overlong" : "empty");
	int64_t dims[CK_REF_MAX_NDIM];
	int ndim = -1;
	enum ck_dtype dt = CK_DT_INVALID;
	for (;;) {
		skip_blanks(&c);
		if (!ck_cursor_left(&c) || c.p[c.pos] == '#')
			break;
		size_t start = c.pos;
		uint8_t ch = c.p[c.pos];
		if (ch == '[' || ch == '(' ||
		    (ck_cursor_left(&c) > 11 && memcmp(c.p + c.pos, "torch.Size(", 11) == 0)) {
			if (ndim >= 0)
				return ck_error_set(err, CK_EFORMAT, "%s:%zu: second shape", path, lineno);
			if (!parse_shape(&c, dims, &ndim) || (ck_cursor_left(&c) && !is_blank(c.p[c.pos])))
				return ck_error_set(err, CK_EFORMAT, "%s:%zu: malformed shape (want [d1,d2,...])",
						    path, lineno);
			continue;
		}
		while (ck_cursor_left(&c) && !is_blank(c.p[c.pos]))
			c.pos++;
		char tok[64];
		size_t tl = c.pos - start;
		if (tl >= sizeof tok)
			tl = sizeof tok - 1;
		memcpy(tok, line + start, tl);
		tok[tl] = 0;
		const char *name = strncmp(tok, "torch.", 6) == 0 ? tok + 6 : tok;
		enum ck_dtype d = ck_dtype_from_name(name);
		if (d == CK_DT_INVALID || dt != CK_DT_INVALID)
			return ck_error_set(err, CK_EFORMAT, "%s:%zu: unexpected '%s' after the key (want [d1,d2,...] or a dtype)",
					    path, lineno, tok);
		dt = d;
	}
	if (r->n >= CK_REF_MAX_KEYS)
		return ck_error_set(err, CK_ELIMIT, "%s:%zu: more than %d keys", path, lineno, CK_REF_MAX_KEYS);
	int rc = ref_add(r, (const char *)key->p, key->len, ndim, dims, dt);
	if (rc < 0)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	if (rc == 0)
		return ck_error_set(err, CK_EFORMAT, "%s:%zu: duplicate key '%.*s'", path, lineno,
				    (int)(key->len > 200 ? 200 : key->len), (const char *)key->p);
	return CK_OK;
}

static ck_err ref_from_keylist(struct ck_reference *r, const char *path, int fd, uint64_t size,
			       struct ck_error *err)
{
	if (size > CK_REF_MAX_BYTES)
		return ck_error_set(err, CK_ELIMIT, "%s: key list over %llu bytes", path, CK_REF_MAX_BYTES);
	uint8_t *data = malloc(size ? (size_t)size : 1);
	if (!data)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	struct ck_buf key;
	ck_buf_init(&key);
	ck_err rc = CK_OK;
	size_t got = 0;
	while (got < size) {
		ssize_t n = pread(fd, data + got, (size_t)size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? ck_error_errno(err, CK_EIO, errno, "%s", path)
				   : ck_error_set(err, CK_EIO, "%s: file shrank while reading", path);
			goto done;
		}
		got += (size_t)n;
	}
	struct ck_cursor c;
	ck_cursor_init(&c, data, got);
	size_t lineno = 0;
	int has_slash = 0, has_dot = 0;
	while (ck_cursor_left(&c) && !rc) {
		const uint8_t *start = c.p + c.pos;
		const uint8_t *nl = memchr(start, '\n', ck_cursor_left(&c));
		size_t len = nl ? (size_t)(nl - start) : ck_cursor_left(&c);
		ck_cursor_skip(&c, len + (nl != NULL));
		lineno++;
		if (memchr(start, 0, len)) {
			rc = ck_error_set(err, CK_EFORMAT, "%s:%zu: NUL byte in a key list", path, lineno);
			break;
		}
		if (len && start[len - 1] == '\r')
			len--;
		rc = parse_line(r, path, lineno, start, len, &key, err);
	}
	for (size_t i = 0; i < r->n && !rc; i++) {
		has_slash |= memchr(r->e[i].key, '/', r->e[i].len) != NULL;
		has_dot |= memchr(r->e[i].key, '.', r->e[i].len) != NULL;
	}
	/* TensorFlow variable names are '/'-separated */
	r->sep = has_slash && !has_dot ? '/' : '.';
	if (!rc && r->n == 0)
		rc = ck_error_set(err, CK_EFORMAT, "%s: no keys in the reference key list", path);
done:
	ck_buf_release(&key);
	free(data);
	return rc;
}

/* 1 if no format claims the file and its head looks like text. */
static int looks_like_keylist(const char *path, int fd)
{
	uint8_t head[CK_PROBE_HEAD];
	ssize_t n = pread(fd, head, sizeof head, 0);
	if (n < 0)
		return 0;
	for (size_t i = 0; ck_formats[i]; i++)
		if (ck_formats[i]->probe(path, head, (size_t)n, 0) > 0)
			return 0;
	return memchr(head, 0, (size_t)n) == NULL;
}

ck_err ck_reference_load(const char *path, struct ck_reference **out, struct ck_error *err)
{
	*out = NULL;
	struct ck_reference *r = calloc(1, sizeof *r);
	if (!r)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	size_t plen = strlen(path);
	while (plen > 1 && path[plen - 1] == '/')
		plen--;
	const char *base = path + plen;
	while (base > path && base[-1] != '/')
		base--;
	ck_err rc = CK_OK;
	if (!(r->name = strndup(base, (size_t)(path + plen - base)))) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
		goto fail;
	}
	struct stat st;
	int fd = -1;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && looks_like_keylist(path, fd))
		rc = ref_from_keylist(r, path, fd, (uint64_t)st.st_size, err);
	else
		rc = ref_from_checkpoint(r, path, err);
	if (fd >= 0)
		close(fd);
	if (!rc)
		rc = ref_prefixes(r, path, err);
	if (rc)
		goto fail;
	*out = r;
	return CK_OK;
fail:
	ck_reference_free(r);
	return rc;
}

/* ---- shared by the hint builders ----------------------------------------- */

void ck_rstate_hint(struct ck_rstate *s, char *cmd, size_t matches, size_t removes, char *text,
		    enum ck_hint_class cls)
{
	if (!cmd || !text || s->oom) {
		s->oom = 1;
		goto fail;
	}
	if (s->nhints == s->hcap) {
		size_t cap = s->hcap ? s->hcap * 2 : 8;
		struct ck_rhint *h = realloc(s->hints, cap * sizeof *h);
		if (!h) {
			s->oom = 1;
			goto fail;
		}
		s->hints = h;
		s->hcap = cap;
	}
	s->hints[s->nhints++] = (struct ck_rhint){cmd, matches, removes, text, cls};
	return;
fail:
	free(cmd);
	free(text);
}

struct ck_rmis *ck_rstate_mis(struct ck_rstate *s, const char *key, size_t len)
{
	if (s->nmis == s->mcap) {
		size_t cap = s->mcap ? s->mcap * 2 : 8;
		struct ck_rmis *m = realloc(s->mis, cap * sizeof *m);
		if (!m) {
			s->oom = 1;
			return NULL;
		}
		s->mis = m;
		s->mcap = cap;
	}
	struct ck_rmis *m = &s->mis[s->nmis];
	*m = (struct ck_rmis){.key = strndup(key, len), .label = "reference"};
	m->ck.layers = m->other.layers = -1;
	if (!m->key) {
		s->oom = 1;
		return NULL;
	}
	s->nmis++;
	return m;
}

/* ---- comparing ----------------------------------------------------------- */

static int same_shape(int na, const int64_t *a, int nb, const int64_t *b)
{
	if (na != nb)
		return 0;
	for (int i = 0; i < na; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

static void compare(struct ck_rstate *s)
{
	const struct ck_reference *r = s->ref;
	size_t *match = malloc((s->nit ? s->nit : 1) * sizeof *match);
	s->ref_missing = calloc(r->n ? r->n : 1, 1);
	s->missing = malloc((r->n ? r->n : 1) * sizeof *s->missing);
	if (!match || !s->ref_missing || !s->missing) {
		s->oom = 1;
		free(match);
		return;
	}
	for (size_t j = 0; j < s->nit; j++)
		match[j] = SIZE_MAX;
	for (size_t i = 0; i < r->n; i++) {
		const struct ck_ref_entry *e = &r->e[i];
		size_t *j = ck_smap_get(&s->ckkeys, e->key, e->len, ck_fnv(e->key, e->len));
		if (j) {
			match[*j] = i;
		} else {
			s->ref_missing[i] = 1;
			s->missing[s->nmissing++] = i;
		}
	}
	for (size_t j = 0; j < s->nit && !s->oom; j++) {
		const struct ck_ritem *it = &s->it[j];
		if (match[j] == SIZE_MAX) { /* later items with an already matched key land here too */
			s->it_unexp[j] = 1;
			continue;
		}
		const struct ck_ref_entry *e = &r->e[match[j]];
		int shape_bad = e->ndim >= 0 && !same_shape(it->ndim, it->shape, e->ndim, e->shape);
		int dtype_bad = e->dtype != CK_DT_INVALID && e->dtype != it->dtype;
		if (!shape_bad && !dtype_bad)
			continue;
		struct ck_rmis *m = ck_rstate_mis(s, it->key, it->len);
		if (!m)
			break;
		m->ck = (struct ck_rside){it->ndim, it->shape, it->dtype, -1};
		m->other = (struct ck_rside){e->ndim, e->shape, e->dtype, -1};
	}
	free(match);
}

static ck_err collect_items(struct ck_rstate *s)
{
	struct ck_node **v = NULL;
	size_t n = 0;
	if (ck_tree_leaves(s->t, s->t->root, &v, &n, NULL))
		return CK_ENOMEM;
	s->it = calloc(n ? n : 1, sizeof *s->it);
	s->it_unexp = calloc(n ? n : 1, 1);
	ck_err rc = s->it && s->it_unexp ? CK_OK : CK_ENOMEM;
	for (size_t i = 0; i < n && !rc; i++) {
		if (!v[i]->value || v[i]->value->kind != CK_V_TENSOR)
			continue;
		const struct ck_tensor *ts = v[i]->value->u.t;
		struct ck_ritem *it = &s->it[s->nit];
		if (!(it->key = ck_node_key(s->t, v[i], NULL))) {
			rc = CK_ENOMEM;
			break;
		}
		it->len = strlen(it->key);
		it->ndim = ts->ndim;
		it->shape = ts->shape;
		it->dtype = ts->dtype;
		it->node = v[i];
		if (ck_smap_put(&s->ckkeys, it->key, it->len, ck_fnv(it->key, it->len), s->nit, NULL) < 0)
			rc = CK_ENOMEM;
		s->nit++;
	}
	free(v);
	return rc;
}

/* ---- the entry point ------------------------------------------------------ */

static int hint_order(const void *pa, const void *pb)
{
	const struct ck_rhint *a = pa, *b = pb;
	if (a->cls != b->cls)
		return a->cls < b->cls ? -1 : 1;
	size_t x = a->matches + a->removes, y = b->matches + b->removes;
	if (x != y)
		return x > y ? -1 : 1;
	return strcmp(a->cmd, b->cmd);
}

static void rstate_release(struct ck_rstate *s)
{
	for (size_t i = 0; i < s->nit; i++)
		free(s->it[i].key);
	free(s->it);
	ck_smap_release(&s->ckkeys);
	free(s->ref_missing);
	free(s->it_unexp);
	free(s->missing);
	free(s->unexp);
	for (size_t i = 0; i < s->nmis; i++) {
		free(s->mis[i].key);
		free(s->mis[i].note);
	}
	free(s->mis);
	for (size_t i = 0; i < s->nhints; i++) {
		free(s->hints[i].cmd);
		free(s->hints[i].text);
	}
	free(s->hints);
}

char *ck_report_text(const struct ck_tree *t, const struct ck_reference *ref, int json, int *ok)
{
	struct ck_rstate s = {.t = t, .ref = ref, .sep = t->sep ? t->sep : '.'};
	char *out = NULL;
	*ok = 0;
	if (collect_items(&s))
		goto done;
	if (ref) {
		compare(&s);
		if (!s.oom)
			ck_report_hints(&s);
	} else {
		ck_report_selfcheck(&s);
	}
	if (s.oom)
		goto done;
	s.unexp = malloc((s.nit ? s.nit : 1) * sizeof *s.unexp);
	if (!s.unexp)
		goto done;
	for (size_t j = 0; j < s.nit; j++)
		if (s.it_unexp[j])
			s.unexp[s.nunexp++] = j;
	if (s.nhints > 1)
		qsort(s.hints, s.nhints, sizeof *s.hints, hint_order);
	int good = !s.nmissing && !s.nunexp && !s.nmis && !s.nhints;
	out = ck_report_render(&s, json, good);
	if (out)
		*ok = good;
done:
	rstate_release(&s);
	return out;
}
