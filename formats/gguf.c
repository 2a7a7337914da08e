/*
 * gguf.c — the GGUF reader (versions 2 and 3; the writer is gguf_write.c).
 * It refuses what ggml's gguf.cpp refuses (version 1, byte-swapped files,
 * duplicate keys or tensor names, dims[0] not a multiple of the block size,
 * an alignment that is not a power of two) with the rule and the subject in
 * the message, and checks every count and size against the bytes that are
 * left before it allocates anything.  Unlike ggml it follows the spec on
 * tensor offsets: any aligned offset inside the file is accepted (no
 * "exactly the running sum" rule); the writer always lays tensors out the way
 * ggml wants.
 *
 * Byte layout (formats.md §6; all integers little-endian):
 *  1. "GGUF" at offset 0 (GG_OFF_MAGIC);
 *  2. u32 version at 4 (GG_OFF_VERSION): 2 or 3 (v1 used u32 counts);
 *  3. u64 tensor count at 8, u64 KV count at 16 (the fixed part is 24 bytes);
 *  4. the KVs: key string (u64 length + bytes, no NUL), u32 value type, value;
 *     an array value is u32 element type, u64 count, the elements (arrays of
 *     arrays allowed); type ids 0 u8 1 i8 2 u16 3 i16 4 u32 5 i32 6 f32
 *     7 bool 8 string 9 array 10 u64 11 i64 12 f64;
 *  5. the tensor infos: name string, u32 n_dims (<= 4), u64 ne[n_dims]
 *     (ne[0] varies fastest), u32 ggml type, u64 offset into the data section;
 *  6. zero padding to ALIGNMENT (the u32 KV general.alignment, default 32);
 *  7. the data section: each tensor at its offset (a multiple of ALIGNMENT),
 *     ne0/block * block_bytes * ne1 * ne2 * ne3 bytes.
 *
 * What the model shows: one storage per tensor; the root is an ordered dict
 * name -> tensor in tensor-info order; the separator is '.' so
 * blk.0.attn_q.weight is blk/0/attn_q/weight.  Shapes are torch's: ggml's ne
 * reversed, so a 2-D tensor with ne = [in, out] shows as [out, in]; block
 * types keep ggml's names (q4_0, ...).  ck->metadata is a dict key -> value
 * (ints, floats, bools, strings, lists); an array longer than
 * CK_GGUF_LIST_MAX elements, an array of arrays, or any array once
 * CK_GGUF_LIST_BUDGET elements are kept, is summarised as
 * {"type": "array", "elem_type": T, "length": N} so config.json stays small
 * and a hostile file cannot make millions of values.
 * The whole KV section is also kept raw in ck->priv for the writer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "gguf.h"

#define GG_OFF_MAGIC 0
#define GG_OFF_VERSION 4
#define GG_FIRST_READ ((size_t)1 << 20)
#define GG_MIN_KV 13     /* key length 8 + type 4 + a 1-byte value */
#define GG_MIN_INFO 24   /* name length 8 + n_dims 4 + type 4 + offset 8 */
#define GG_PROBE_SCORE 95

enum gg_type {
	GG_U8, GG_I8, GG_U16, GG_I16, GG_U32, GG_I32, GG_F32, GG_BOOL, GG_STR, GG_ARR,
	GG_U64, GG_I64, GG_F64, GG_NTYPES
};
static const char *const gg_type_names[GG_NTYPES] = {
	"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array",
	"uint64", "int64", "float64",
};
/* Smallest encoding of one value of each type; the fixed size when fixed[t]. */
static const uint8_t gg_min_size[GG_NTYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8};
static const uint8_t gg_fixed[GG_NTYPES] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1};

/* ggml type ids (ggml.h); removed or unsupported ids keep their name for messages. */
static const struct { const char *name; enum ck_dtype dt; } gg_types[] = {
	[0] = {"f32", CK_DT_F32}, [1] = {"f16", CK_DT_F16}, [2] = {"q4_0", CK_DT_Q4_0},
	[3] = {"q4_1", CK_DT_Q4_1}, [4] = {"q4_2, removed from ggml", CK_DT_INVALID},
	[5] = {"q4_3, removed from ggml", CK_DT_INVALID}, [6] = {"q5_0", CK_DT_Q5_0}, [7] = {"q5_1", CK_DT_Q5_1},
	[8] = {"q8_0", CK_DT_Q8_0}, [9] = {"q8_1", CK_DT_Q8_1}, [10] = {"q2_K", CK_DT_Q2_K},
	[11] = {"q3_K", CK_DT_Q3_K}, [12] = {"q4_K", CK_DT_Q4_K}, [13] = {"q5_K", CK_DT_Q5_K},
	[14] = {"q6_K", CK_DT_Q6_K}, [15] = {"q8_K", CK_DT_Q8_K}, [16] = {"iq2_xxs", CK_DT_IQ2_XXS},
	[17] = {"iq2_xs", CK_DT_IQ2_XS}, [18] = {"iq3_xxs", CK_DT_IQ3_XXS}, [19] = {"iq1_s", CK_DT_IQ1_S},
	[20] = {"iq4_nl", CK_DT_IQ4_NL}, [21] = {"iq3_s", CK_DT_IQ3_S}, [22] = {"iq2_s", CK_DT_IQ2_S},
	[23] = {"iq4_xs", CK_DT_IQ4_XS}, [24] = {"i8", CK_DT_I8}, [25] = {"i16", CK_DT_I16},
	[26] = {"i32", CK_DT_I32}, [27] = {"i64", CK_DT_I64}, [28] = {"f64", CK_DT_F64},
	[29] = {"iq1_m", CK_DT_IQ1_M}, [30] = {"bf16", CK_DT_BF16},
	[31] = {"q4_0_4_4, removed from ggml", CK_DT_INVALID}, [32] = {"q4_0_4_8, removed from ggml", CK_DT_INVALID},
	[33] = {"q4_0_8_8, removed from ggml", CK_DT_INVALID}, [34] = {"tq1_0", CK_DT_TQ1_0},
	[35] = {"tq2_0", CK_DT_TQ2_0}, [36] = {"iq4_nl_4_4, removed from ggml", CK_DT_INVALID},
	[37] = {"iq4_nl_4_8, removed from ggml", CK_DT_INVALID}, [38] = {"iq4_nl_8_8, removed from ggml", CK_DT_INVALID},
	[39] = {"mxfp4", CK_DT_MXFP4}, [40] = {"nvfp4", CK_DT_INVALID}, [41] = {"q1_0", CK_DT_INVALID},
	[42] = {"q2_0", CK_DT_INVALID},
};
#define GG_NGGML (sizeof gg_types / sizeof gg_types[0])

enum ck_dtype ck_gguf_dtype(uint32_t id, int *known)
{
	*known = id < GG_NGGML && gg_types[id].name;
	return *known ? gg_types[id].dt : CK_DT_INVALID;
}

long ck_gguf_type_id(enum ck_dtype dt)
{
	for (size_t i = 0; i < GG_NGGML; i++)
		if (gg_types[i].name && gg_types[i].dt == dt && dt != CK_DT_INVALID)
			return (long)i;
	return -1;
}

/* ---- parsing ---------------------------------------------------------------- */

struct gg_key { const char *p; size_t len; };

struct gg_ent {
	const char *name;       /* borrowed from the header buffer */
	size_t nlen;
	uint32_t ndims, type;
	uint64_t ne[CK_GGUF_MAX_DIMS];
	uint64_t off;
};

/* One parse of the header buffer.  When the buffer (a prefix of the file)
 * ends before the parse does, `more` is set and the caller retries with a
 * bigger prefix; everything else is an error about the file itself. */
struct gg {
	const char *path;
	struct ck_cursor c;         /* over a prefix of the file, starting at offset 0 */
	uint64_t fsize;
	int more;
	struct ck_error *err;
	uint32_t version, alignment;
	uint64_t n_tensors, n_kv;
	size_t kv_end;
	size_t budget;              /* array elements ck->metadata may still take */
	struct ck_value *meta;      /* owned */
	struct gg_key *keys;        /* owned array of borrowed keys */
	struct gg_ent *ents;        /* owned */
	size_t nkeys, nents;
};

static void gg_release(struct gg *g)
{
	ck_value_unref(g->meta);
	free(g->keys);
	free(g->ents);
	g->meta = NULL, g->keys = NULL, g->ents = NULL;
	g->nkeys = g->nents = 0;
}

static ck_err gg_oom(struct gg *g)
{
	return ck_error_set(g->err, CK_ENOMEM, "%s: out of memory", g->path);
}

/* n more bytes must exist: in the file (else a truncation error naming what),
 * then in the buffer (else ask for a bigger prefix). */
static ck_err gg_need(struct gg *g, uint64_t n, const char *what)
{
	uint64_t pos = g->c.pos;
	if (n > g->fsize - pos)
		return ck_error_set(g->err, CK_EFORMAT,
				    "%s: truncated: %s needs %llu bytes at offset %llu but the file ends at %llu",
				    g->path, what, (unsigned long long)n, (unsigned long long)pos,
				    (unsigned long long)g->fsize);
	if (n > ck_cursor_left(&g->c)) {
		g->more = 1;
		return ck_error_set(g->err, CK_EFORMAT, "%s: header larger than the buffer", g->path);
	}
	return CK_OK;
}

/* A string: u64 length (checked against the file, then against cap) + bytes. */
static ck_err gg_string(struct gg *g, uint64_t cap, const char *what, const char **p, size_t *len)
{
	ck_err rc = gg_need(g, 8, what);
	if (rc)
		return rc;
	uint64_t pos = g->c.pos, n = ck_cursor_u64le(&g->c);
	if (n > g->fsize - g->c.pos)
		return ck_error_set(g->err, CK_EFORMAT,
				    "%s: %s: string length %llu at offset %llu runs past the end of the file",
				    g->path, what, (unsigned long long)n, (unsigned long long)pos);
	if (n > cap)
		return ck_error_set(g->err, CK_ELIMIT, "%s: %s: string of %llu bytes is over the limit of %llu",
				    g->path, what, (unsigned long long)n, (unsigned long long)cap);
	if ((rc = gg_need(g, n, what)))
		return rc;
	*p = (const char *)ck_cursor_take(&g->c, (size_t)n);
	*len = (size_t)n;
	return CK_OK;
}

/* A float32 as the shortest decimal that reads back to it, so 1e-5f shows as
 * 1e-05 and not 9.999999747378752e-06. */
static double gg_f32_value(float f)
{
	char s[32];
	if (f != f || f - f != 0)
		return (double)f;
	for (int prec = 1; prec <= 9; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, (double)f);
		if ((float)strtod(s, NULL) == f)
			return strtod(s, NULL);
	}
	return (double)f;
}

static struct ck_value *gg_u64_value(uint64_t v)
{
	if (v <= INT64_MAX)
		return ck_value_int((int64_t)v);
	uint8_t b[9];
	ck_put_u64le(b, v);
	b[8] = 0;  /* positive two's complement needs a ninth byte */
	return ck_value_strn(CK_V_BIGINT, (const char *)b, sizeof b);
}

/* {"type": "array", "elem_type": T, "length": N} */
static struct ck_value *gg_array_summary(uint32_t et, uint64_t n)
{
	struct ck_value *d = ck_value_new(CK_V_DICT);
	const char *k[3] = {"type", "elem_type", "length"};
	struct ck_value *v[3] = {ck_value_str("array"), ck_value_str(gg_type_names[et]), gg_u64_value(n)};
	int ok = d != NULL;
	for (int i = 0; i < 3; i++) {
		struct ck_value *key = ck_value_str(k[i]);
		if (!ok || !key || !v[i] || ck_value_setitem(d, key, v[i]) != CK_OK) {
			ok = 0;
			ck_value_unref(key);
			ck_value_unref(v[i]);
		}
	}
	if (!ok) {
		ck_value_unref(d);
		return NULL;
	}
	return d;
}

/* One value of type t; *out (when out != NULL) gets its ck_value. */
static ck_err gg_value(struct gg *g, uint32_t t, int depth, const char *what, struct ck_value **out)
{
	ck_err rc;
	struct ck_value *v = NULL;
	if (t >= GG_NTYPES)
		return ck_error_set(g->err, CK_EFORMAT, "%s: %s has unknown value type %u", g->path, what, t);
	if (t == GG_STR) {
		const char *p;
		size_t n;
		if ((rc = gg_string(g, CK_GGUF_MAX_HEADER, what, &p, &n)))
			return rc;
		if (out && !(v = ck_value_strn(CK_V_STR, p, n)))
			return gg_oom(g);
	} else if (t == GG_ARR) {
		if (depth >= CK_GGUF_MAX_NEST)
			return ck_error_set(g->err, CK_ELIMIT, "%s: %s: arrays nested deeper than %d",
					    g->path, what, CK_GGUF_MAX_NEST);
		if ((rc = gg_need(g, 12, what)))
			return rc;
		uint32_t et = ck_cursor_u32le(&g->c);
		uint64_t n = ck_cursor_u64le(&g->c), min;
		if (et >= GG_NTYPES)
			return ck_error_set(g->err, CK_EFORMAT, "%s: %s: array has unknown element type %u",
					    g->path, what, et);
		if (!ck_mul_u64(n, gg_min_size[et], &min) || min > g->fsize - g->c.pos)
			return ck_error_set(g->err, CK_EFORMAT,
					    "%s: %s: array of %llu elements runs past the end of the file",
					    g->path, what, (unsigned long long)n);
		int list = out && n <= CK_GGUF_LIST_MAX && n <= g->budget && et != GG_ARR;
		if (list)
			g->budget -= (size_t)n;
		if (list && !(v = ck_value_new(CK_V_LIST)))
			return gg_oom(g);
		if (gg_fixed[et] && !list && et != GG_BOOL) {
			if ((rc = gg_need(g, min, what)))
				return rc;
			ck_cursor_skip(&g->c, (size_t)min);
		} else {
			for (uint64_t i = 0; i < n; i++) {
				struct ck_value *item = NULL;
				if ((rc = gg_value(g, et, depth + 1, what, list ? &item : NULL))) {
					ck_value_unref(v);
					return rc;
				}
				if (list && ck_value_append(v, item) != CK_OK) {
					ck_value_unref(v);
					return gg_oom(g);
				}
			}
		}
		if (out && !list && !(v = gg_array_summary(et, n)))
			return gg_oom(g);
	} else {
		if ((rc = gg_need(g, gg_min_size[t], what)))
			return rc;
		struct ck_cursor *c = &g->c;
		switch (t) {
		case GG_U8: v = ck_value_int(ck_cursor_u8(c)); break;
		case GG_I8: v = ck_value_int((int8_t)ck_cursor_u8(c)); break;
		case GG_U16: v = ck_value_int(ck_cursor_u16le(c)); break;
		case GG_I16: v = ck_value_int((int16_t)ck_cursor_u16le(c)); break;
		case GG_U32: v = ck_value_int(ck_cursor_u32le(c)); break;
		case GG_I32: v = ck_value_int((int32_t)ck_cursor_u32le(c)); break;
		case GG_U64: v = gg_u64_value(ck_cursor_u64le(c)); break;
		case GG_I64: v = ck_value_int((int64_t)ck_cursor_u64le(c)); break;
		case GG_F32: {
			uint32_t bits = ck_cursor_u32le(c);
			float f;
			memcpy(&f, &bits, sizeof f);
			v = ck_value_float(gg_f32_value(f));
			break;
		}
		case GG_F64: {
			uint64_t bits = ck_cursor_u64le(c);
			double d;
			memcpy(&d, &bits, sizeof d);
			v = ck_value_float(d);
			break;
		}
		default: { /* GG_BOOL */
			uint8_t b = ck_cursor_u8(c);
			if (b > 1)
				return ck_error_set(g->err, CK_EFORMAT, "%s: %s: bool value %u is not 0 or 1",
						    g->path, what, b);
			v = ck_value_bool(b);
		}
		}
		if (!v)
			return gg_oom(g);
		if (!out) {
			ck_value_unref(v);
			v = NULL;
		}
	}
	if (out)
		*out = v;
	return CK_OK;
}

static int gg_cmp_key(const void *a, const void *b)
{
	const struct gg_key *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->p, y->p, n);
	return r ? r : (x->len > y->len) - (x->len < y->len);
}

/* Sorts keys and fails on the first name that occurs twice. */
static ck_err gg_unique(struct gg *g, struct gg_key *k, size_t n, const char *what)
{
	if (n > 1)
		qsort(k, n, sizeof *k, gg_cmp_key);
	char q[CK_QUOTE];
	for (size_t i = 1; i < n; i++)
		if (gg_cmp_key(&k[i - 1], &k[i]) == 0)
			return ck_error_set(g->err, CK_EFORMAT, "%s: duplicate %s '%s'", g->path, what,
					    ck_quote_name(q, sizeof q, k[i].p, k[i].len));
	return CK_OK;
}

static ck_err gg_kvs(struct gg *g)
{
	ck_err rc;
	char what[300];
	size_t cap = 0;
	if (!(g->meta = ck_value_new(CK_V_DICT)))
		return gg_oom(g);
	for (uint64_t i = 0; i < g->n_kv; i++) {
		snprintf(what, sizeof what, "KV %llu", (unsigned long long)i);
		const char *kp;
		size_t klen;
		if ((rc = gg_string(g, CK_GGUF_KEY_CAP, what, &kp, &klen)))
			return rc;
		char q[CK_QUOTE];
		snprintf(what, sizeof what, "KV '%s'", ck_quote_name(q, sizeof q, kp, klen));
		if ((rc = gg_need(g, 4, what)))
			return rc;
		uint32_t t = ck_cursor_u32le(&g->c);
		struct ck_value *val = NULL, *key;
		if ((rc = gg_value(g, t, 0, what, &val)))
			return rc;
		if (klen == 17 && memcmp(kp, "general.alignment", 17) == 0) {
			int64_t al = t == GG_U32 ? val->u.i : 0;
			if (t != GG_U32)
				rc = ck_error_set(g->err, CK_EFORMAT, "%s: general.alignment has type %s, not uint32",
						  g->path, t < GG_NTYPES ? gg_type_names[t] : "?");
			else if (al == 0 || (al & (al - 1)))
				rc = ck_error_set(g->err, CK_EFORMAT, "%s: general.alignment %lld is not a power of two",
						  g->path, (long long)al);
			g->alignment = (uint32_t)al;
		}
		if (!rc && g->nkeys == cap) {   /* grown as parsed: the count is not trusted */
			struct gg_key *k = realloc(g->keys, (cap = cap ? cap * 2 : 32) * sizeof *k);
			if (!k)
				rc = gg_oom(g);
			else
				g->keys = k;
		}
		if (rc) {
			ck_value_unref(val);
			return rc;
		}
		g->keys[g->nkeys++] = (struct gg_key){kp, klen};
		if (!(key = ck_value_strn(CK_V_STR, kp, klen))) {
			ck_value_unref(val);
			return gg_oom(g);
		}
		/* duplicates are refused below, so setitem never replaces */
		if (ck_value_setitem(g->meta, key, val) != CK_OK)
			return gg_oom(g);
	}
	g->kv_end = g->c.pos;
	return gg_unique(g, g->keys, g->nkeys, "key");
}

static ck_err gg_infos(struct gg *g)
{
	ck_err rc;
	char what[300];
	size_t cap = 0;
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		if (g->nents == cap) {   /* grown as parsed: the count is not trusted */
			struct gg_ent *p = realloc(g->ents, (cap = cap ? cap * 2 : 32) * sizeof *p);
			if (!p)
				return gg_oom(g);
			g->ents = p;
		}
		struct gg_ent *e = &g->ents[g->nents];
		memset(e, 0, sizeof *e);
		snprintf(what, sizeof what, "tensor info %llu", (unsigned long long)i);
		if ((rc = gg_string(g, CK_GGUF_NAME_CAP, what, &e->name, &e->nlen)))
			return rc;
		if (memchr(e->name, '\0', e->nlen))
			return ck_error_set(g->err, CK_EFORMAT, "%s: tensor info %llu: name contains a NUL byte",
					    g->path, (unsigned long long)i);
		char q[CK_QUOTE];
		snprintf(what, sizeof what, "tensor '%s'", ck_quote_name(q, sizeof q, e->name, e->nlen));
		if ((rc = gg_need(g, 4, what)))
			return rc;
		e->ndims = ck_cursor_u32le(&g->c);
		if (e->ndims > CK_GGUF_MAX_DIMS)
			return ck_error_set(g->err, CK_EFORMAT, "%s: %s has %u dimensions (GGUF allows at most %d)",
					    g->path, what, e->ndims, CK_GGUF_MAX_DIMS);
		if ((rc = gg_need(g, 8 * (uint64_t)e->ndims + 12, what)))
			return rc;
		for (uint32_t d = 0; d < e->ndims; d++) {
			e->ne[d] = ck_cursor_u64le(&g->c);
			if (e->ne[d] > INT64_MAX)
				return ck_error_set(g->err, CK_EFORMAT, "%s: %s: dimension %u = %llu is over 2^63-1",
						    g->path, what, d, (unsigned long long)e->ne[d]);
		}
		e->type = ck_cursor_u32le(&g->c);
		e->off = ck_cursor_u64le(&g->c);
		g->nents++;
	}
	struct gg_key *k = g->nents ? malloc(g->nents * sizeof *k) : NULL;
	if (g->nents && !k)
		return gg_oom(g);
	for (size_t i = 0; i < g->nents; i++)
		k[i] = (struct gg_key){g->ents[i].name, g->ents[i].nlen};
	rc = gg_unique(g, k, g->nents, "tensor name");
	free(k);
	return rc;
}

static ck_err gg_parse(struct gg *g)
{
	struct ck_cursor *c = &g->c;
	ck_cursor_seek(c, GG_OFF_VERSION + 4);
	g->n_tensors = ck_cursor_u64le(c);
	g->n_kv = ck_cursor_u64le(c);
	g->alignment = CK_GGUF_DEFAULT_ALIGN;
	uint64_t left = g->fsize - CK_GGUF_FIXED, need_kv, need_ti, need;
	if (!ck_mul_u64(g->n_kv, GG_MIN_KV, &need_kv) || !ck_mul_u64(g->n_tensors, GG_MIN_INFO, &need_ti) ||
	    !ck_add_u64(need_kv, need_ti, &need) || need > left)
		return ck_error_set(g->err, CK_EFORMAT,
				    "%s: header claims %llu KVs and %llu tensors but only %llu bytes follow",
				    g->path, (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors,
				    (unsigned long long)left);
	if (g->n_tensors > CK_GGUF_MAX_TENSORS)
		return ck_error_set(g->err, CK_ELIMIT, "%s: %llu tensors is over the limit of %u", g->path,
				    (unsigned long long)g->n_tensors, CK_GGUF_MAX_TENSORS);
	if (g->n_kv > CK_GGUF_MAX_KV)
		return ck_error_set(g->err, CK_ELIMIT, "%s: %llu KVs is over the limit of %u", g->path,
				    (unsigned long long)g->n_kv, CK_GGUF_MAX_KV);
	g->budget = CK_GGUF_LIST_BUDGET;
	ck_err rc = gg_kvs(g);
	if (!rc)
		rc = gg_infos(g);
	return rc;
}

/* ---- building the checkpoint -------------------------------------------- */

/* Checks one tensor's type, size and range and adds it to ck. */
static ck_err gg_add_tensor(struct ck_ckpt *ck, struct gg *g, const struct gg_ent *e, uint64_t data_off)
{
	const char *path = ck->path;
	int known;
	enum ck_dtype dt = ck_gguf_dtype(e->type, &known);
	char name[CK_GGUF_NAME_CAP + 1], q[CK_QUOTE];
	memcpy(name, e->name, e->nlen);
	name[e->nlen] = '\0';
	const char *qn = ck_quote_name(q, sizeof q, e->name, e->nlen);
	if (!known)
		return ck_error_set(g->err, CK_EFORMAT, "%s: tensor '%s' has unknown ggml type %u", path, qn, e->type);
	if (dt == CK_DT_INVALID)
		return ck_error_set(g->err, CK_EUNSUP, "%s: tensor '%s': ggml type %u (%s) is not supported",
				    path, qn, e->type, gg_types[e->type].name);
	uint64_t block = ck_dtype_block(dt), ne0 = e->ndims ? e->ne[0] : 1, size;
	if (ne0 % block)
		return ck_error_set(g->err, CK_EFORMAT,
				    "%s: tensor '%s': ne[0] = %llu is not a multiple of the %s block size %llu",
				    path, qn, (unsigned long long)ne0, ck_dtype_name(dt), (unsigned long long)block);
	int ok = ck_mul_u64(ne0 / block, ck_dtype_size(dt), &size);
	uint64_t numel = ne0;
	for (uint32_t d = 1; d < e->ndims && ok; d++)
		ok = ck_mul_u64(size, e->ne[d], &size) && ck_mul_u64(numel, e->ne[d], &numel);
	if (!ok || numel > INT64_MAX)
		return ck_error_set(g->err, CK_ELIMIT, "%s: tensor '%s': size overflows", path, qn);
	if (e->off % g->alignment)
		return ck_error_set(g->err, CK_EFORMAT, "%s: tensor '%s': offset %llu is not a multiple of the alignment %u",
				    path, qn, (unsigned long long)e->off, g->alignment);
	uint64_t start, end;
	if (!ck_add_u64(data_off, e->off, &start) || !ck_add_u64(start, size, &end) || end > g->fsize)
		return ck_error_set(g->err, CK_EFORMAT,
				    "%s: tensor '%s': data at offset %llu (%llu bytes) runs past the end of the file (%llu bytes)",
				    path, qn, (unsigned long long)e->off, (unsigned long long)size,
				    (unsigned long long)g->fsize);
	int nd = (int)e->ndims;
	struct ck_tensor *t = ck_tensor_new(dt, nd);
	if (!t)
		return gg_oom(g);
	int64_t stride = 1;
	for (int i = nd - 1; i >= 0; i--) {   /* torch order: ne reversed */
		t->shape[i] = (int64_t)e->ne[nd - 1 - i];
		t->stride[i] = stride;
		if (__builtin_mul_overflow(stride, t->shape[i] ? t->shape[i] : 1, &stride))
			stride = 0;   /* only with a zero dimension, where strides never matter */
	}
	long s = ck_ckpt_add_storage(ck, name, dt, size, 0, start);
	t->storage = s;
	ck_err rc = s < 0 ? gg_oom(g) : ck_tensor_check(ck, t, qn, g->err);
	if (rc) {
		ck_tensor_free(t);
		return rc;
	}
	struct ck_value *key = ck_value_strn(CK_V_STR, name, e->nlen), *val = ck_value_tensor(t);
	if (!val)
		ck_tensor_free(t);
	if (!key || !val || ck_value_setitem(ck->root, key, val) != CK_OK) {
		if (!key || !val) {
			ck_value_unref(key);
			ck_value_unref(val);
		}
		return gg_oom(g);
	}
	return CK_OK;
}

static ck_err gg_build(struct ck_ckpt *ck, struct gg *g)
{
	uint64_t data_off, info_end = g->c.pos;
	if (!ck_add_u64(info_end, g->alignment - 1, &data_off))
		return ck_error_set(g->err, CK_EFORMAT, "%s: data offset overflows", ck->path);
	data_off -= data_off % g->alignment;
	struct ck_gguf_priv *p = calloc(1, sizeof *p);
	if (!p || !(ck->root = ck_value_new(CK_V_DICT))) {
		free(p);
		return gg_oom(g);
	}
	ck->priv = p;
	ck->root->u.dict.ordered = 1;
	p->version = g->version;
	p->alignment = g->alignment;
	p->n_kv = g->n_kv;
	p->data_off = data_off;
	p->kv_len = g->kv_end - CK_GGUF_FIXED;
	if (!(p->kv = malloc(p->kv_len ? p->kv_len : 1)))
		return gg_oom(g);
	memcpy(p->kv, g->c.p + CK_GGUF_FIXED, p->kv_len);
	for (size_t i = 0; i < g->nents; i++) {
		ck_err rc = gg_add_tensor(ck, g, &g->ents[i], data_off);
		if (rc)
			return rc;
	}
	ck->metadata = g->meta;
	g->meta = NULL;
	return CK_OK;
}

/* Magic, version and the fixed part: each refusal with its own reason. */
static ck_err gg_check_fixed(const char *path, const uint8_t *h, uint64_t fsize, uint32_t *version,
			     struct ck_error *err)
{
	if (fsize >= 4 && memcmp(h + GG_OFF_MAGIC, "FUGG", 4) == 0)
		return ck_error_set(err, CK_EUNSUP, "%s: byte-swapped GGUF magic 'FUGG' (written by a "
				    "pre-release gguf.py): not supported", path);
	if (fsize >= 4 && memcmp(h + GG_OFF_MAGIC, CK_GGUF_MAGIC, 4) != 0)
		return ck_error_set(err, CK_EFORMAT, "%s: bad GGUF magic (not a GGUF file)", path);
	if (fsize < GG_OFF_VERSION + 4)
		return ck_error_set(err, CK_EFORMAT, "%s: truncated GGUF header (%llu bytes; the fixed header needs %d)",
				    path, (unsigned long long)fsize, CK_GGUF_FIXED);
	struct ck_cursor c;
	ck_cursor_init(&c, h + GG_OFF_VERSION, 4);
	uint32_t v = ck_cursor_u32le(&c);
	if (v && (v & 0xffff) == 0)
		return ck_error_set(err, CK_EUNSUP, "%s: byte-swapped GGUF version 0x%08x (a big-endian file): "
				    "not supported", path, v);
	if (v != 2 && v != 3)
		return ck_error_set(err, CK_EUNSUP, "%s: GGUF version %u is not supported (only 2 and 3)", path, v);
	if (fsize < CK_GGUF_FIXED)
		return ck_error_set(err, CK_EFORMAT, "%s: truncated GGUF header (%llu bytes; the fixed header needs %d)",
				    path, (unsigned long long)fsize, CK_GGUF_FIXED);
	*version = v;
	return CK_OK;
}

static ck_err gg_open(struct ck_ckpt *ck, struct ck_error *err)
{
	const char *path = ck->path;
	ck->sep = '.';
	if (ck_ckpt_add_file(ck, path, err) < 0)
		return err->code;
	const struct ck_file *f = &ck->files[0];
	size_t len = f->size < GG_FIRST_READ ? (size_t)f->size : GG_FIRST_READ;
	uint8_t *buf = malloc(len ? len : 1);
	struct gg g = {.path = path, .fsize = f->size, .err = err};
	ck_err rc;
	if (!buf)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	if ((rc = ck_file_pread(f, buf, len, 0, err)) ||
	    (rc = gg_check_fixed(path, buf, f->size, &g.version, err)))
		goto out;
	for (;;) {
		ck_cursor_init(&g.c, buf, len);
		g.more = 0;
		rc = gg_parse(&g);
		if (!rc || !g.more)
			break;
		gg_release(&g);
		/* the header goes on past this prefix: read four times as much */
		uint64_t want = (uint64_t)len * 4;
		if (want > f->size)
			want = f->size;
		if (want > CK_GGUF_MAX_HEADER)
			want = CK_GGUF_MAX_HEADER;
		if (want <= len) {
			rc = ck_error_set(err, CK_ELIMIT, "%s: GGUF header is larger than the limit of %llu bytes",
					  path, (unsigned long long)CK_GGUF_MAX_HEADER);
			goto out;
		}
		uint8_t *nb = realloc(buf, (size_t)want);
		if (!nb) {
			rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory for a %llu-byte header",
					  path, (unsigned long long)want);
			goto out;
		}
		buf = nb;
		if ((rc = ck_file_pread(f, buf + len, (size_t)want - len, len, err)))
			goto out;
		len = (size_t)want;
	}
	if (!rc)
		rc = gg_build(ck, &g);
out:
	gg_release(&g);
	free(buf);
	return rc;
}

static void gg_close(struct ck_ckpt *ck)
{
	struct ck_gguf_priv *p = ck->priv;
	if (p)
		free(p->kv);
	free(p);
	ck->priv = NULL;
}

static int gg_probe(const char *path, const uint8_t *head, size_t n, int is_dir)
{
	if (is_dir != 0)
		return 0;
	if (n >= 4 && memcmp(head, CK_GGUF_MAGIC, 4) == 0)
		return GG_PROBE_SCORE;
	if (n >= 4 && memcmp(head, "FUGG", 4) == 0)
		return 60;   /* byte-swapped magic: let the reader say so */
	size_t plen = strlen(path);
	return plen > 5 && strcmp(path + plen - 5, ".gguf") == 0 ? 10 : 0;
}

const struct ck_format ck_format_gguf = {
	.name = "gguf",
	.ext = ".gguf",
	.probe = gg_probe,
	.open = gg_open,
	.close = gg_close,
	.write = ck_gguf_write,
};
