/*
 * value.c — the Python value tree: refcounted because pickle memo sharing
 * (BINGET) makes one object appear in several places, and tied tensors must
 * stay one object so writers keep them shared.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ck.h"

struct ck_value *ck_value_new(enum ck_vkind kind)
{
	struct ck_value *v = calloc(1, sizeof *v);
	if (!v)
		return NULL;
	v->kind = kind;
	v->refs = 1;
	return v;
}

struct ck_value *ck_value_int(int64_t i)
{
	struct ck_value *v = ck_value_new(CK_V_INT);
	if (v)
		v->u.i = i;
	return v;
}

struct ck_value *ck_value_float(double f)
{
	struct ck_value *v = ck_value_new(CK_V_FLOAT);
	if (v)
		v->u.f = f;
	return v;
}

struct ck_value *ck_value_bool(int b)
{
	struct ck_value *v = ck_value_new(CK_V_BOOL);
	if (v)
		v->u.b = !!b;
	return v;
}

struct ck_value *ck_value_strn(enum ck_vkind kind, const char *p, size_t len)
{
	if (len == SIZE_MAX)
		return NULL;
	struct ck_value *v = ck_value_new(kind);
	if (!v)
		return NULL;
	v->u.s.p = malloc(len + 1);
	if (!v->u.s.p) {
		free(v);
		return NULL;
	}
	if (len)
		memcpy(v->u.s.p, p, len);
	v->u.s.p[len] = 0;
	v->u.s.len = len;
	return v;
}

struct ck_value *ck_value_str(const char *s)
{
	return ck_value_strn(CK_V_STR, s, strlen(s));
}

struct ck_value *ck_value_global(const char *module, const char *name)
{
	struct ck_value *v = ck_value_new(CK_V_GLOBAL);
	if (!v)
		return NULL;
	v->u.g.module = strdup(module);
	v->u.g.name = strdup(name);
	if (!v->u.g.module || !v->u.g.name) {
		ck_value_unref(v);
		return NULL;
	}
	return v;
}

struct ck_value *ck_value_tensor(struct ck_tensor *t)
{
	struct ck_value *v = ck_value_new(CK_V_TENSOR);
	if (v)
		v->u.t = t;
	return v;
}

struct ck_value *ck_value_ref(struct ck_value *v)
{
	if (v)
		v->refs++;
	return v;
}

void ck_value_unref(struct ck_value *v)
{
	if (!v || --v->refs > 0)
		return;
	switch (v->kind) {
	case CK_V_STR: case CK_V_BYTES: case CK_V_BIGINT:
		free(v->u.s.p);
		break;
	case CK_V_LIST: case CK_V_TUPLE: case CK_V_SET:
		for (size_t i = 0; i < v->u.seq.n; i++)
			ck_value_unref(v->u.seq.items[i]);
		free(v->u.seq.items);
		break;
	case CK_V_DICT:
		for (size_t i = 0; i < v->u.dict.n; i++) {
			ck_value_unref(v->u.dict.keys[i]);
			ck_value_unref(v->u.dict.vals[i]);
		}
		free(v->u.dict.keys);
		free(v->u.dict.vals);
		ck_value_unref(v->u.dict.attrs);
		break;
	case CK_V_TENSOR:
		ck_tensor_free(v->u.t);
		break;
	case CK_V_GLOBAL:
		free(v->u.g.module);
		free(v->u.g.name);
		break;
	case CK_V_OBJECT:
		ck_value_unref(v->u.obj.callable);
		ck_value_unref(v->u.obj.args);
		ck_value_unref(v->u.obj.state);
		break;
	default:
		break;
	}
	free(v);
}

ck_err ck_value_append(struct ck_value *seq, struct ck_value *item)
{
	if (seq->u.seq.n == seq->u.seq.cap) {
		size_t cap = seq->u.seq.cap ? seq->u.seq.cap * 2 : 4;
		struct ck_value **p = realloc(seq->u.seq.items, cap * sizeof *p);
		if (!p) {
			ck_value_unref(item);
			return CK_ENOMEM;
		}
		seq->u.seq.items = p;
		seq->u.seq.cap = cap;
	}
	seq->u.seq.items[seq->u.seq.n++] = item;
	return CK_OK;
}

int ck_value_equal(const struct ck_value *a, const struct ck_value *b)
{
	if (a == b)
		return 1;
	/* Python: True == 1, 1 == 1.0 */
	int an = a->kind == CK_V_INT || a->kind == CK_V_BOOL;
	int bn = b->kind == CK_V_INT || b->kind == CK_V_BOOL;
	if (an && bn)
		return (a->kind == CK_V_INT ? a->u.i : a->u.b) == (b->kind == CK_V_INT ? b->u.i : b->u.b);
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case CK_V_NONE: return 1;
	case CK_V_FLOAT: return a->u.f == b->u.f;
	case CK_V_STR: case CK_V_BYTES: case CK_V_BIGINT:
		return a->u.s.len == b->u.s.len && memcmp(a->u.s.p, b->u.s.p, a->u.s.len) == 0;
	case CK_V_TUPLE:
		if (a->u.seq.n != b->u.seq.n)
			return 0;
		for (size_t i = 0; i < a->u.seq.n; i++)
			if (!ck_value_equal(a->u.seq.items[i], b->u.seq.items[i]))
				return 0;
		return 1;
	default:
		return 0;
	}
}

ck_err ck_value_setitem(struct ck_value *d, struct ck_value *key, struct ck_value *val)
{
	/* Linear scan only for small dicts: pickles of state dicts never repeat keys,
	 * so for large ones we trust the producer and append. */
	if (d->u.dict.n <= 64) {
		for (size_t i = 0; i < d->u.dict.n; i++) {
			if (ck_value_equal(d->u.dict.keys[i], key)) {
				ck_value_unref(d->u.dict.vals[i]);
				d->u.dict.vals[i] = val;
				ck_value_unref(key);
				return CK_OK;
			}
		}
	}
	if (d->u.dict.n == d->u.dict.cap) {
		size_t cap = d->u.dict.cap ? d->u.dict.cap * 2 : 8;
		struct ck_value **k = realloc(d->u.dict.keys, cap * sizeof *k);
		if (!k)
			goto oom;
		d->u.dict.keys = k;
		struct ck_value **v = realloc(d->u.dict.vals, cap * sizeof *v);
		if (!v)
			goto oom;
		d->u.dict.vals = v;
		d->u.dict.cap = cap;
	}
	d->u.dict.keys[d->u.dict.n] = key;
	d->u.dict.vals[d->u.dict.n] = val;
	d->u.dict.n++;
	return CK_OK;
oom:
	ck_value_unref(key);
	ck_value_unref(val);
	return CK_ENOMEM;
}

/* Python's float repr: the shortest digits that round-trip, then Python's
 * choice between positional and exponent notation (exponent when < -4 or >= 16). */
static void float_repr(struct ck_buf *b, double f)
{
	if (isnan(f)) {
		ck_buf_adds(b, "nan");
		return;
	}
	if (isinf(f)) {
		ck_buf_adds(b, f < 0 ? "-inf" : "inf");
		return;
	}
	char e[40];
	int prec;
	for (prec = 1; prec <= 17; prec++) {
		snprintf(e, sizeof e, "%.*e", prec - 1, f);
		if (strtod(e, NULL) == f)
			break;
	}
	/* e = [-]d[.ddd]e[+-]XX */
	char digits[24];
	int nd = 0, neg = 0;
	const char *p = e;
	if (*p == '-') {
		neg = 1;
		p++;
	}
	for (; *p && *p != 'e'; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	int exp = atoi(p + 1);
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (neg)
		ck_buf_addc(b, '-');
	if (exp < -4 || exp >= 16) {
		ck_buf_addc(b, (uint8_t)digits[0]);
		if (nd > 1) {
			ck_buf_addc(b, '.');
			ck_buf_add(b, digits + 1, (size_t)nd - 1);
		}
		ck_buf_printf(b, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	} else if (exp < 0) {
		ck_buf_adds(b, "0.");
		for (int i = 0; i < -exp - 1; i++)
			ck_buf_addc(b, '0');
		ck_buf_add(b, digits, (size_t)nd);
	} else {
		for (int i = 0; i <= exp; i++)
			ck_buf_addc(b, i < nd ? (uint8_t)digits[i] : '0');
		ck_buf_addc(b, '.');
		if (nd > exp + 1)
			ck_buf_add(b, digits + exp + 1, (size_t)(nd - exp - 1));
		else
			ck_buf_addc(b, '0');
	}
}

static void bigint_text(struct ck_buf *b, const struct ck_value *v)
{
	/* Little-endian two's complement of arbitrary length -> decimal. */
	size_t n = v->u.s.len;
	const uint8_t *p = (const uint8_t *)v->u.s.p;
	int neg = n && (p[n - 1] & 0x80);
	uint8_t *mag = malloc(n ? n : 1);
	char *out = malloc(n * 3 + 3);
	if (!mag || !out) {
		b->oom = 1;
		free(mag);
		free(out);
		return;
	}
	int carry = 1;
	for (size_t i = 0; i < n; i++) {
		uint8_t x = neg ? (uint8_t)~p[i] : p[i];
		if (neg) {
			int s = x + carry;
			x = (uint8_t)s;
			carry = s >> 8;
		}
		mag[i] = x;
	}
	size_t len = 0;
	size_t top = n;
	while (top && !mag[top - 1])
		top--;
	while (top) {
		unsigned rem = 0;
		for (size_t i = top; i-- > 0;) {
			unsigned cur = rem << 8 | mag[i];
			mag[i] = (uint8_t)(cur / 10);
			rem = cur % 10;
		}
		out[len++] = (char)('0' + rem);
		while (top && !mag[top - 1])
			top--;
	}
	if (!len)
		out[len++] = '0';
	if (neg)
		ck_buf_addc(b, '-');
	while (len)
		ck_buf_addc(b, (uint8_t)out[--len]);
	free(mag);
	free(out);
}

static void repr(struct ck_buf *b, const struct ck_value *v, int top, int depth);

static void str_repr(struct ck_buf *b, const char *p, size_t n, int bytes)
{
	int dq = memchr(p, '\'', n) && !memchr(p, '"', n);
	char q = dq ? '"' : '\'';
	if (bytes)
		ck_buf_addc(b, 'b');
	ck_buf_addc(b, (uint8_t)q);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = (uint8_t)p[i];
		if (c == (uint8_t)q || c == '\\') {
			ck_buf_addc(b, '\\');
			ck_buf_addc(b, c);
		} else if (c == '\n') ck_buf_adds(b, "\\n");
		else if (c == '\t') ck_buf_adds(b, "\\t");
		else if (c == '\r') ck_buf_adds(b, "\\r");
		else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80))
			ck_buf_printf(b, "\\x%02x", c);
		else
			ck_buf_addc(b, c);
	}
	ck_buf_addc(b, (uint8_t)q);
}

static void seq_repr(struct ck_buf *b, const struct ck_value *v, const char *open, const char *close, int depth)
{
	ck_buf_adds(b, open);
	for (size_t i = 0; i < v->u.seq.n; i++) {
		if (i)
			ck_buf_adds(b, ", ");
		repr(b, v->u.seq.items[i], 0, depth + 1);
	}
	if (v->kind == CK_V_TUPLE && v->u.seq.n == 1)
		ck_buf_addc(b, ',');
	ck_buf_adds(b, close);
}

static void repr(struct ck_buf *b, const struct ck_value *v, int top, int depth)
{
	if (depth > 64) {
		ck_buf_adds(b, "...");
		return;
	}
	switch (v->kind) {
	case CK_V_NONE: ck_buf_adds(b, "None"); break;
	case CK_V_BOOL: ck_buf_adds(b, v->u.b ? "True" : "False"); break;
	case CK_V_INT: ck_buf_printf(b, "%lld", (long long)v->u.i); break;
	case CK_V_BIGINT: bigint_text(b, v); break;
	case CK_V_FLOAT: float_repr(b, v->u.f); break;
	case CK_V_STR:
		if (top)
			ck_buf_add(b, v->u.s.p, v->u.s.len);
		else
			str_repr(b, v->u.s.p, v->u.s.len, 0);
		break;
	case CK_V_BYTES: str_repr(b, v->u.s.p, v->u.s.len, 1); break;
	case CK_V_LIST: seq_repr(b, v, "[", "]", depth); break;
	case CK_V_TUPLE: seq_repr(b, v, "(", ")", depth); break;
	case CK_V_SET:
		if (!v->u.seq.n)
			ck_buf_adds(b, "set()");
		else
			seq_repr(b, v, "{", "}", depth);
		break;
	case CK_V_DICT:
		ck_buf_addc(b, '{');
		for (size_t i = 0; i < v->u.dict.n; i++) {
			if (i)
				ck_buf_adds(b, ", ");
			repr(b, v->u.dict.keys[i], 0, depth + 1);
			ck_buf_adds(b, ": ");
			repr(b, v->u.dict.vals[i], 0, depth + 1);
		}
		ck_buf_addc(b, '}');
		break;
	case CK_V_TENSOR: {
		char sh[256];
		ck_buf_printf(b, "tensor(dtype=%s, shape=%s)", ck_dtype_name(v->u.t->dtype),
			      ck_shape_format(v->u.t, sh, sizeof sh));
		break;
	}
	case CK_V_GLOBAL: ck_buf_printf(b, "<%s.%s>", v->u.g.module, v->u.g.name); break;
	case CK_V_STORAGE: ck_buf_printf(b, "<storage %lld>", (long long)v->u.i); break;
	case CK_V_OBJECT:
		if (v->u.obj.callable && v->u.obj.callable->kind == CK_V_GLOBAL)
			ck_buf_printf(b, "%s.%s", v->u.obj.callable->u.g.module, v->u.obj.callable->u.g.name);
		if (v->u.obj.args)
			repr(b, v->u.obj.args, 0, depth + 1);
		break;
	}
}

char *ck_value_text(const struct ck_value *v)
{
	struct ck_buf b;
	ck_buf_init(&b);
	repr(&b, v, 1, 0);
	if (!ck_buf_cstr(&b) || b.oom) {
		ck_buf_release(&b);
		return NULL;
	}
	return (char *)b.p;
}

struct ck_tensor *ck_tensor_new(enum ck_dtype dt, int ndim)
{
	if (ndim < 0 || ndim > 64)
		return NULL;
	struct ck_tensor *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->dtype = dt;
	t->ndim = ndim;
	t->storage = -1;
	if (ndim) {
		t->shape = calloc((size_t)ndim, sizeof *t->shape);
		t->stride = calloc((size_t)ndim, sizeof *t->stride);
		if (!t->shape || !t->stride) {
			ck_tensor_free(t);
			return NULL;
		}
	}
	return t;
}

void ck_tensor_free(struct ck_tensor *t)
{
	if (!t)
		return;
	free(t->shape);
	free(t->stride);
	free(t);
}

int ck_tensor_update_nbytes(struct ck_tensor *t)
{
	uint64_t n = 1;
	for (int i = 0; i < t->ndim; i++) {
		if (t->shape[i] < 0 || !ck_mul_u64(n, (uint64_t)t->shape[i], &n)) {
			t->nbytes = 0;
			return 0;
		}
	}
	size_t block = ck_dtype_block(t->dtype);
	if (block > 1)
		n = (n + block - 1) / block;
	if (!ck_mul_u64(n, ck_dtype_size(t->dtype), &t->nbytes)) {
		t->nbytes = 0;
		return 0;
	}
	return 1;
}

int ck_tensor_is_contiguous(const struct ck_tensor *t)
{
	int64_t expect = 1;
	for (int i = t->ndim - 1; i >= 0; i--) {
		if (t->shape[i] == 0)
			return 1;
		if (t->shape[i] != 1 && t->stride[i] != expect)
			return 0;
		expect *= t->shape[i];
	}
	return 1;
}

char *ck_shape_format(const struct ck_tensor *t, char *buf, size_t size)
{
	size_t off = 0;
	int n = snprintf(buf, size, "[");
	off = n > 0 ? (size_t)n : 0;
	for (int i = 0; i < t->ndim && off < size; i++) {
		n = snprintf(buf + off, size - off, "%s%lld", i ? "," : "", (long long)t->shape[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	if (off < size)
		snprintf(buf + off, size - off, "]");
	return buf;
}
