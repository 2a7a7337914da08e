/*
 * safetensors.c — the safetensors reader (the writer is safetensors_write.c):
 * it refuses everything the reference implementation (huggingface/safetensors,
 * tensor.rs) refuses, each with the rule and the tensor in the message.
 *
 * Byte layout (formats.md §4):
 *  1. u64 LE N at offset 0: the header length, at most CK_ST_MAX_HEADER;
 *  2. N bytes of UTF-8 JSON at offset CK_ST_LEN_BYTES: one object
 *     {"__metadata__": {str: str} (optional),
 *      NAME: {"dtype": D, "shape": [d0, ...], "data_offsets": [BEGIN, END]}, ...};
 *     writers pad it with spaces so the data starts 8-aligned;
 *  3. the byte buffer at 8 + N, to EOF: every tensor dense, C order,
 *     little-endian, at [BEGIN, END) relative to the buffer.  Sorted by
 *     offsets the ranges tile the buffer exactly: no gap, no overlap, nothing
 *     after the last one.
 *
 * Order: ck->root lists tensors in data order (sorted by data_offsets, ties in
 * header order).  That is what safe_open().offset_keys() returns and, for every
 * file the safetensors library writes, the header order too; keys() sorts by
 * name, which would hide the layout.  Each tensor is its own storage.
 *
 * The writer lays tensors out in the order of the input, so reading and
 * writing back keeps a file's layout.  Tied tensors become separate copies:
 * safetensors has no sharing.
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "safetensors.h"

#define ST_MAX_NDIM 64              /* ck_tensor_new's limit */
#define ST_PROBE_SCORE 90

static const struct {
	const char *name;
	enum ck_dtype dt;   /* CK_DT_INVALID: a safetensors dtype ckptfs has no type for */
} st_dtypes[] = {
	{"BOOL", CK_DT_BOOL}, {"U8", CK_DT_U8}, {"I8", CK_DT_I8},
	{"F8_E5M2", CK_DT_F8E5M2}, {"F8_E4M3", CK_DT_F8E4M3},
	{"I16", CK_DT_I16}, {"U16", CK_DT_U16}, {"F16", CK_DT_F16}, {"BF16", CK_DT_BF16},
	{"I32", CK_DT_I32}, {"U32", CK_DT_U32}, {"F32", CK_DT_F32},
	{"C64", CK_DT_C64}, {"F64", CK_DT_F64}, {"I64", CK_DT_I64}, {"U64", CK_DT_U64},
	{"F4", CK_DT_INVALID}, {"F6_E2M3", CK_DT_INVALID}, {"F6_E3M2", CK_DT_INVALID},
	{"F8_E8M0", CK_DT_INVALID}, {"F8_E4M3FNUZ", CK_DT_INVALID}, {"F8_E5M2FNUZ", CK_DT_INVALID},
};
#define ST_NDTYPES (sizeof st_dtypes / sizeof st_dtypes[0])

const char *ck_st_dtype_name(enum ck_dtype dt)
{
	for (size_t i = 0; i < ST_NDTYPES; i++)
		if (st_dtypes[i].dt == dt && dt != CK_DT_INVALID)
			return st_dtypes[i].name;
	return NULL;
}

/* ---- header scanning ------------------------------------------------------ */

/* cJSON keeps numbers as doubles, which cannot tell 7 from 7.0 or 1e3 and
 * loses integers past 2^53.  So the raw text is scanned once: every number
 * token, in document order, is recorded exactly; the validator then walks the
 * cJSON tree in the same order and takes the tokens one by one. */
struct st_num {
	uint64_t v;
	int ok;      /* a plain non-negative integer that fits u64 */
};

struct st_nums {
	struct st_num *p;   /* owned */
	size_t n, cap, next;
	int has_nul;        /* some string holds \u0000: C strings would truncate it */
	size_t ctrl_at;     /* offset of a raw control byte inside a string, or SIZE_MAX */
};

static int st_is_numch(uint8_t c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
}

static int st_num_push(struct st_nums *ns, const uint8_t *tok, size_t len)
{
	if (ns->n == ns->cap) {
		size_t cap = ns->cap ? ns->cap * 2 : 64;
		struct st_num *p = realloc(ns->p, cap * sizeof *p);
		if (!p)
			return 0;
		ns->p = p;
		ns->cap = cap;
	}
	struct st_num x = {0, len > 0 && (len == 1 || tok[0] != '0')};
	for (size_t i = 0; i < len && x.ok; i++)
		x.ok = tok[i] >= '0' && tok[i] <= '9' && ck_mul_u64(x.v, 10, &x.v) &&
		       ck_add_u64(x.v, (uint64_t)(tok[i] - '0'), &x.v);
	ns->p[ns->n++] = x;
	return 1;
}

static int st_scan(const char *hdr, size_t len, struct st_nums *ns)
{
	struct ck_cursor c;
	ck_cursor_init(&c, hdr, len);
	ns->ctrl_at = SIZE_MAX;
	/* a failed take (a \u cut short) leaves bytes "left": stop on bad too */
	while (ck_cursor_ok(&c) && ck_cursor_left(&c)) {
		uint8_t ch = ck_cursor_u8(&c);
		if (ch == '"') {
			while (ck_cursor_ok(&c) && ck_cursor_left(&c)) {
				ch = ck_cursor_u8(&c);
				if (ch == '"')
					break;
				if (ch < 0x20 && ns->ctrl_at == SIZE_MAX)
					ns->ctrl_at = c.pos - 1;
				if (ch == '\\' && ck_cursor_u8(&c) == 'u') {
					const uint8_t *h = ck_cursor_take(&c, 4);
					if (h && memcmp(h, "0000", 4) == 0)
						ns->has_nul = 1;
				}
			}
		} else if (ch == '-' || (ch >= '0' && ch <= '9')) {
			size_t start = c.pos - 1;
			while (ck_cursor_left(&c) && st_is_numch(c.p[c.pos]))
				ck_cursor_skip(&c, 1);
			if (!st_num_push(ns, c.p + start, c.pos - start))
				return 0;
		}
	}
	return 1;
}

static size_t st_count_numbers(const cJSON *j)
{
	if (cJSON_IsNumber(j))
		return 1;
	size_t n = 0;
	if (cJSON_IsArray(j) || cJSON_IsObject(j))
		for (const cJSON *k = j->child; k; k = k->next)
			n += st_count_numbers(k);
	return n;
}

/* Takes the next number token for item; 1 when it is a non-negative integer. */
static int st_take_uint(struct st_nums *ns, const cJSON *item, uint64_t *v)
{
	if (!cJSON_IsNumber(item) || ns->next >= ns->n)
		return 0;
	const struct st_num *x = &ns->p[ns->next++];
	*v = x->v;
	/* A disagreement means the scan and cJSON saw different tokens. */
	if (x->ok && x->v <= (1ull << 53) && (double)x->v != item->valuedouble)
		return 0;
	return x->ok;
}

int ck_st_utf8_bad_at(const uint8_t *p, size_t n, size_t *at)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		size_t len;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			goto bad;
		}
		if (len > n - i)
			goto bad;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		i += len;
		continue;
bad:
		*at = i;
		return 1;
	}
	return 0;
}

/* ---- reader --------------------------------------------------------------- */

struct st_ent {
	const char *name;        /* borrowed from the cJSON tree */
	size_t order;            /* position in the header */
	uint64_t begin, end;
	struct ck_tensor *t;     /* owned until moved into the root */
};

static int st_probe(const char *path, const uint8_t *head, size_t n, int is_dir)
{
	if (is_dir != 0)
		return 0;
	size_t plen = strlen(path);
	int named = plen > 12 && strcmp(path + plen - 12, ".safetensors") == 0;
	if (n < CK_ST_LEN_BYTES)
		return named ? 10 : 0;
	struct ck_cursor c;
	ck_cursor_init(&c, head, n);
	uint64_t hlen = ck_cursor_u64le(&c);
	if (hlen >= 2 && hlen <= CK_ST_MAX_HEADER) {
		while (ck_cursor_left(&c) && strchr(" \t\r\n", c.p[c.pos]) && c.p[c.pos])
			ck_cursor_skip(&c, 1);
		if (ck_cursor_left(&c) && c.p[c.pos] == '{')
			return ST_PROBE_SCORE;
	}
	return named ? 10 : 0;   /* let a broken .safetensors say what is wrong */
}

static int st_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static ck_err st_parse_metadata(struct ck_ckpt *ck, const cJSON *m, struct ck_error *err)
{
	if (ck->metadata)
		return ck_error_set(err, CK_EFORMAT, "%s: duplicate '__metadata__' in the header", ck->path);
	if (cJSON_IsNull(m))
		return CK_OK;   /* serde reads null as an absent Option */
	if (!cJSON_IsObject(m))
		return ck_error_set(err, CK_EFORMAT, "%s: '__metadata__' is not an object", ck->path);
	size_t n = 0;
	for (const cJSON *k = m->child; k; k = k->next, n++)
		if (!cJSON_IsString(k))
			return ck_error_set(err, CK_EFORMAT, "%s: '__metadata__' value '%s' is not a string",
					    ck->path, k->string);
	const char **names = malloc((n ? n : 1) * sizeof *names);
	if (!names || !(ck->metadata = ck_value_new(CK_V_DICT))) {
		free(names);
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
	}
	n = 0;
	for (const cJSON *k = m->child; k; k = k->next)
		names[n++] = k->string;
	qsort(names, n, sizeof *names, st_cmp_str);
	for (size_t i = 1; i < n; i++)
		if (strcmp(names[i - 1], names[i]) == 0) {
			ck_error_set(err, CK_EFORMAT, "%s: '__metadata__' has key '%s' twice", ck->path, names[i]);
			free(names);
			return CK_EFORMAT;
		}
	free(names);
	for (const cJSON *k = m->child; k; k = k->next) {
		struct ck_value *key = ck_value_str(k->string), *val = ck_value_str(k->valuestring);
		if (!key || !val) {
			ck_value_unref(key);
			ck_value_unref(val);
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
		}
		if (ck_value_setitem(ck->metadata, key, val) != CK_OK)
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", ck->path);
	}
	return CK_OK;
}

static ck_err st_parse_shape(struct ck_ckpt *ck, const cJSON *f, struct st_nums *ns, const char *name,
			     int64_t *shape, int *ndim, struct ck_error *err)
{
	const char *path = ck->path;
	if (!cJSON_IsArray(f))
		return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': shape is not a list of non-negative integers",
				    path, name);
	int n = 0;
	for (const cJSON *d = f->child; d; d = d->next, n++) {
		uint64_t v;
		if (n >= ST_MAX_NDIM)
			return ck_error_set(err, CK_ELIMIT, "%s: tensor '%s': more than %d dimensions",
					    path, name, ST_MAX_NDIM);
		if (!st_take_uint(ns, d, &v))
			return ck_error_set(err, CK_EFORMAT,
					    "%s: tensor '%s': shape is not a list of non-negative integers", path, name);
		if (v > INT64_MAX)
			return ck_error_set(err, CK_ELIMIT, "%s: tensor '%s': dimension %llu too large",
					    path, name, (unsigned long long)v);
		shape[n] = (int64_t)v;
	}
	*ndim = n;
	return CK_OK;
}

static ck_err st_parse_entry(struct ck_ckpt *ck, const cJSON *obj, struct st_nums *ns,
			     struct st_ent *e, struct ck_error *err)
{
	const char *path = ck->path, *name = e->name;
	if (!cJSON_IsObject(obj))
		return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': entry is not an object", path, name);
	int have_dt = 0, have_shape = 0, have_off = 0, ndim = 0;
	int64_t shape[ST_MAX_NDIM];
	enum ck_dtype dt = CK_DT_INVALID;
	const char *dtname = "";
	ck_err rc;
	for (const cJSON *f = obj->child; f; f = f->next) {
		const char *fname = f->string;
		int *seen = strcmp(fname, "dtype") == 0 ? &have_dt : strcmp(fname, "shape") == 0 ? &have_shape
			  : strcmp(fname, "data_offsets") == 0 ? &have_off : NULL;
		if (!seen) {   /* serde ignores unknown fields */
			ns->next += st_count_numbers(f);
			continue;
		}
		if ((*seen)++)
			return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': duplicate field '%s'", path, name, fname);
		if (seen == &have_dt) {
			if (!cJSON_IsString(f))
				return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': dtype is not a string", path, name);
			size_t i = 0;
			while (i < ST_NDTYPES && strcmp(st_dtypes[i].name, f->valuestring) != 0)
				i++;
			if (i == ST_NDTYPES)
				return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': unknown dtype '%s'",
						    path, name, f->valuestring);
			if (st_dtypes[i].dt == CK_DT_INVALID)
				return ck_error_set(err, CK_EUNSUP, "%s: tensor '%s': dtype '%s' is not supported",
						    path, name, f->valuestring);
			dt = st_dtypes[i].dt;
			dtname = st_dtypes[i].name;
		} else if (seen == &have_shape) {
			if ((rc = st_parse_shape(ck, f, ns, name, shape, &ndim, err)) != CK_OK)
				return rc;
		} else {
			const cJSON *b = cJSON_IsArray(f) ? f->child : NULL;
			const cJSON *x = b ? b->next : NULL;
			if (!b || !x || x->next || !st_take_uint(ns, b, &e->begin) || !st_take_uint(ns, x, &e->end))
				return ck_error_set(err, CK_EFORMAT,
						    "%s: tensor '%s': data_offsets is not two non-negative integers",
						    path, name);
		}
	}
	if (!have_dt || !have_shape || !have_off)
		return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': missing field '%s'", path, name,
				    !have_dt ? "dtype" : !have_shape ? "shape" : "data_offsets");
	uint64_t numel = 1, bytes;
	for (int i = 0; i < ndim; i++)
		if (!ck_mul_u64(numel, (uint64_t)shape[i], &numel))
			return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': shape overflows", path, name);
	if (!ck_mul_u64(numel, ck_dtype_size(dt), &bytes))
		return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': shape overflows", path, name);
	if (e->end < e->begin)
		return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': data_offsets end %llu is before begin %llu",
				    path, name, (unsigned long long)e->end, (unsigned long long)e->begin);
	if (e->end - e->begin != bytes)
		return ck_error_set(err, CK_EFORMAT,
				    "%s: tensor '%s': data_offsets hold %llu bytes but shape and dtype %s need %llu",
				    path, name, (unsigned long long)(e->end - e->begin), dtname,
				    (unsigned long long)bytes);
	if (!(e->t = ck_tensor_new(dt, ndim)))
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	int64_t stride = 1;
	for (int i = ndim - 1; i >= 0; i--) {
		e->t->shape[i] = shape[i];
		e->t->stride[i] = stride;
		/* only a tensor with a zero dimension can overflow here; its strides never matter */
		if (__builtin_mul_overflow(stride, shape[i] ? shape[i] : 1, &stride))
			stride = 0;
	}
	e->t->nbytes = bytes;
	return CK_OK;
}

static int st_cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct st_ent *)a)->name, ((const struct st_ent *)b)->name);
}

static int st_cmp_offsets(const void *a, const void *b)
{
	const struct st_ent *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Checks the rules that span entries (names, tiling, file length) and builds
 * ck->root and the storages from ents, which it sorts. */
static ck_err st_build(struct ck_ckpt *ck, struct st_ent *ents, size_t n, uint64_t data_start,
		       struct ck_error *err)
{
	const char *path = ck->path;
	if (n)
		qsort(ents, n, sizeof *ents, st_cmp_name);
	for (size_t i = 1; i < n; i++)
		if (strcmp(ents[i - 1].name, ents[i].name) == 0)
			return ck_error_set(err, CK_EFORMAT, "%s: duplicate tensor name '%s'", path, ents[i].name);
	if (n)
		qsort(ents, n, sizeof *ents, st_cmp_offsets);
	uint64_t at = 0;
	for (size_t i = 0; i < n; i++) {
		if (ents[i].begin < at)
			return ck_error_set(err, CK_EFORMAT, "%s: tensor '%s': data_offsets overlap '%s'",
					    path, ents[i].name, ents[i - 1].name);
		if (ents[i].begin > at)
			return ck_error_set(err, CK_EFORMAT,
					    "%s: tensor '%s': data_offsets leave a gap of %llu unused bytes before it",
					    path, ents[i].name, (unsigned long long)(ents[i].begin - at));
		at = ents[i].end;
	}
	uint64_t end, size = ck->files[0].size;
	if (!ck_add_u64(data_start, at, &end) || end > size)
		return ck_error_set(err, CK_EFORMAT,
				    "%s: truncated: the tensors need %llu data bytes but the file has %llu",
				    path, (unsigned long long)at, (unsigned long long)(size - data_start));
	if (end < size)
		return ck_error_set(err, CK_EFORMAT, "%s: %llu trailing bytes after the last tensor's data",
				    path, (unsigned long long)(size - end));

	struct ck_value *root = ck_value_new(CK_V_DICT);
	if (!root)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	root->u.dict.ordered = 1;
	ck->root = root;
	for (size_t i = 0; i < n; i++) {
		struct st_ent *e = &ents[i];
		long s = ck_ckpt_add_storage(ck, e->name, e->t->dtype, e->end - e->begin, 0,
					     data_start + e->begin);
		if (s < 0)
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
		e->t->storage = s;
		ck_err rc = ck_tensor_check(ck, e->t, e->name, err);
		if (rc != CK_OK)
			return rc;
		struct ck_value *key = ck_value_str(e->name), *val = ck_value_tensor(e->t);
		if (val)
			e->t = NULL;
		if (!key || !val) {
			ck_value_unref(key);
			ck_value_unref(val);
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
		}
		/* names are unique (checked above): append without setitem's scan */
		if (ck_value_setitem(root, key, val) != CK_OK)
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	}
	return CK_OK;
}

static ck_err st_parse(struct ck_ckpt *ck, const char *hdr, size_t hlen, struct ck_error *err)
{
	const char *path = ck->path;
	struct st_nums ns = {0};
	struct st_ent *ents = NULL;
	size_t n = 0;
	cJSON *root = NULL;
	ck_err rc;
	size_t at;
	if (ck_st_utf8_bad_at((const uint8_t *)hdr, hlen, &at)) {
		rc = ck_error_set(err, CK_EFORMAT, "%s: safetensors header is not valid UTF-8 (byte %zu)", path, at);
		goto out;
	}
	if (!st_scan(hdr, hlen, &ns)) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	if (ns.ctrl_at != SIZE_MAX) {
		rc = ck_error_set(err, CK_EFORMAT, "%s: safetensors header is not valid JSON "
				  "(control character in a string at byte %zu)", path, ns.ctrl_at);
		goto out;
	}
	const char *end = NULL;
	/* a BOM is JSON to cJSON but not to serde_json */
	if (hlen >= 3 && memcmp(hdr, "\xef\xbb\xbf", 3) == 0)
		root = NULL, end = hdr;
	else
		root = cJSON_ParseWithLengthOpts(hdr, hlen, &end, 0);
	if (!root) {
		rc = ck_error_set(err, CK_EFORMAT, "%s: safetensors header is not valid JSON (at byte %zu)",
				  path, end ? (size_t)(end - hdr) : (size_t)0);
		goto out;
	}
	for (const char *p = end; p < hdr + hlen; p++) {
		if (!strchr(" \t\r\n", *p) || !*p) {
			rc = ck_error_set(err, CK_EFORMAT, "%s: safetensors header is not valid JSON "
					  "(trailing characters at byte %zu)", path, (size_t)(p - hdr));
			goto out;
		}
	}
	if (!cJSON_IsObject(root)) {
		rc = ck_error_set(err, CK_EFORMAT, "%s: safetensors header is not a JSON object", path);
		goto out;
	}
	if (ns.has_nul) {
		rc = ck_error_set(err, CK_EUNSUP, "%s: safetensors header has a NUL character in a string", path);
		goto out;
	}
	size_t cap = 0;
	for (const cJSON *k = root->child; k; k = k->next)
		cap++;
	if (cap && !(ents = calloc(cap, sizeof *ents))) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (const cJSON *k = root->child; k; k = k->next) {
		if (strcmp(k->string, "__metadata__") == 0) {
			if ((rc = st_parse_metadata(ck, k, err)) != CK_OK)
				goto out;
			ns.next += st_count_numbers(k);
			continue;
		}
		ents[n] = (struct st_ent){.name = k->string, .order = n};
		n++;
		if ((rc = st_parse_entry(ck, k, &ns, &ents[n - 1], err)) != CK_OK)
			goto out;
	}
	if (ns.next != ns.n) {
		rc = ck_error_set(err, CK_EFORMAT, "%s: safetensors header has malformed numbers", path);
		goto out;
	}
	rc = st_build(ck, ents, n, CK_ST_LEN_BYTES + (uint64_t)hlen, err);
out:
	for (size_t i = 0; i < n; i++)
		ck_tensor_free(ents[i].t);
	free(ents);
	free(ns.p);
	cJSON_Delete(root);
	return rc;
}

static ck_err st_open(struct ck_ckpt *ck, struct ck_error *err)
{
	const char *path = ck->path;
	if (ck_ckpt_add_file(ck, path, err) < 0)
		return err->code;
	const struct ck_file *f = &ck->files[0];
	if (f->size < CK_ST_LEN_BYTES)
		return ck_error_set(err, CK_EFORMAT, "%s: too short for a safetensors header (%llu bytes, need 8)",
				    path, (unsigned long long)f->size);
	uint8_t lenbuf[CK_ST_LEN_BYTES];
	ck_err rc = ck_file_pread(f, lenbuf, sizeof lenbuf, 0, err);
	if (rc != CK_OK)
		return rc;
	struct ck_cursor c;
	ck_cursor_init(&c, lenbuf, sizeof lenbuf);
	uint64_t hlen = ck_cursor_u64le(&c);
	if (hlen > CK_ST_MAX_HEADER)
		return ck_error_set(err, CK_ELIMIT, "%s: safetensors header size %llu is over the limit of %llu bytes",
				    path, (unsigned long long)hlen, CK_ST_MAX_HEADER);
	if (hlen > f->size - CK_ST_LEN_BYTES)
		return ck_error_set(err, CK_EFORMAT,
				    "%s: safetensors header size %llu runs past the end of the file (%llu bytes)",
				    path, (unsigned long long)hlen, (unsigned long long)f->size);
	char *hdr = malloc(hlen ? (size_t)hlen : 1);
	if (!hdr)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory for a %llu-byte header",
				    path, (unsigned long long)hlen);
	rc = ck_file_pread(f, hdr, (size_t)hlen, CK_ST_LEN_BYTES, err);
	if (rc == CK_OK)
		rc = st_parse(ck, hdr, (size_t)hlen, err);
	free(hdr);
	ck->sep = '.';
	return rc;
}

const struct ck_format ck_format_safetensors = {
	.name = "safetensors",
	.ext = ".safetensors",
	.probe = st_probe,
	.open = st_open,
	.close = NULL,
	.write = ck_st_write,
};
