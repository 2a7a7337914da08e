/*
 * pickle_write.c — writes a ck_value tree as the protocol 2 data.pkl that
 * torch.load (1.13 .. 2.x, also with weights_only) accepts, the way
 * CPython's pickler and torch.save spell each value (formats.md §1, §2.2,
 * §2.4).  Only weights-only opcodes are used (LONG4 only for ints over 255
 * bytes).  A value pointer met twice is written once and then fetched from
 * the memo, so tied tensors and shared containers stay one object.
 *
 * Byte layout written:
 *  1. PROTO 2;
 *  2. the value, depth first: containers as EMPTY_x + MARK items APPENDS/
 *     SETITEMS (batches of 1000), OrderedDict as GLOBAL + EMPTY_TUPLE + REDUCE
 *     [+ state BUILD], tensors as GLOBAL torch._utils._rebuild_tensor_v2 +
 *     (persistent id BINPERSID, offset, size, stride, requires_grad,
 *     OrderedDict()) + REDUCE, each global written once and then BINGET;
 *  3. STOP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "pickle.h"

#define PW_MAX_DEPTH 2000
#define PW_BATCH 1000

/* Pointer -> memo index (open addressing; NULL marks an empty slot). */
struct pmap {
	const void **keys;
	uint32_t *vals;
	size_t n, cap;
};

struct wr {
	struct ck_buf *b;
	const struct ck_pickle_writer_ops *ops;
	struct ck_error *err;
	struct pmap memo;
	uint32_t next;              /* next memo index */
	struct { char key[160]; uint32_t idx; } globals[64];
	size_t nglobals;
};

static size_t pmap_slot(const struct pmap *m, const void *key)
{
	uint64_t h = (uint64_t)(uintptr_t)key * 0x9E3779B97F4A7C15ull;
	size_t i = (size_t)(h >> 20) & (m->cap - 1);
	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int pmap_get(const struct pmap *m, const void *key, uint32_t *val)
{
	if (!m->cap)
		return 0;
	size_t i = pmap_slot(m, key);
	if (!m->keys[i])
		return 0;
	*val = m->vals[i];
	return 1;
}

static int pmap_put(struct pmap *m, const void *key, uint32_t val)
{
	if ((m->n + 1) * 2 > m->cap) {
		struct pmap nm = {.cap = m->cap ? m->cap * 2 : 64};
		nm.keys = calloc(nm.cap, sizeof *nm.keys);
		nm.vals = calloc(nm.cap, sizeof *nm.vals);
		if (!nm.keys || !nm.vals) {
			free(nm.keys);
			free(nm.vals);
			return 0;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i]) {
				size_t j = pmap_slot(&nm, m->keys[i]);
				nm.keys[j] = m->keys[i];
				nm.vals[j] = m->vals[i];
			}
		nm.n = m->n;
		free(m->keys);
		free(m->vals);
		*m = nm;
	}
	size_t i = pmap_slot(m, key);
	if (!m->keys[i])
		m->n++;
	m->keys[i] = key;
	m->vals[i] = val;
	return 1;
}

static void op(struct wr *w, uint8_t c) { ck_buf_addc(w->b, c); }

static void put_index(struct wr *w, uint32_t idx)
{
	if (idx < 256) {
		op(w, 'q');
		op(w, (uint8_t)idx);
	} else {
		op(w, 'r');
		ck_buf_u32le(w->b, idx);
	}
}

static void get_index(struct wr *w, uint32_t idx)
{
	if (idx < 256) {
		op(w, 'h');
		op(w, (uint8_t)idx);
	} else {
		op(w, 'j');
		ck_buf_u32le(w->b, idx);
	}
}

/* GLOBAL once per name, BINGET afterwards (as torch.save's pickler does). */
static ck_err emit_global(struct wr *w, const char *module, const char *name)
{
	char key[160];
	int n = snprintf(key, sizeof key, "%s\n%s\n", module, name);
	if (n < 0 || (size_t)n >= sizeof key)
		return ck_error_set(w->err, CK_ELIMIT, "pickle: global name too long '%s.%s'", module, name);
	for (size_t i = 0; i < w->nglobals; i++)
		if (strcmp(w->globals[i].key, key) == 0) {
			get_index(w, w->globals[i].idx);
			return CK_OK;
		}
	op(w, 'c');
	ck_buf_adds(w->b, key);
	if (w->nglobals < sizeof w->globals / sizeof w->globals[0]) {
		strcpy(w->globals[w->nglobals].key, key);
		w->globals[w->nglobals++].idx = w->next;
		put_index(w, w->next++);
	}
	return CK_OK;
}

static void emit_int(struct wr *w, int64_t i)
{
	if (i >= 0 && i < 256) {
		op(w, 'K');
		op(w, (uint8_t)i);
	} else if (i >= 0 && i < 65536) {
		op(w, 'M');
		ck_buf_u16le(w->b, (uint16_t)i);
	} else if (i >= INT32_MIN && i <= INT32_MAX) {
		op(w, 'J');
		ck_buf_u32le(w->b, (uint32_t)(int32_t)i);
	} else { /* LONG1 with the minimal two's complement */
		uint8_t bytes[8];
		ck_put_u64le(bytes, (uint64_t)i);
		size_t n = 8;
		uint8_t sign = i < 0 ? 0xFF : 0;
		while (n > 1 && bytes[n - 1] == sign && ((bytes[n - 2] ^ sign) & 0x80) == 0)
			n--;
		op(w, 0x8a);
		op(w, (uint8_t)n);
		ck_buf_add(w->b, bytes, n);
	}
}

static ck_err emit_str(struct wr *w, const char *p, size_t n)
{
	if (n > UINT32_MAX)
		return ck_error_set(w->err, CK_ELIMIT, "pickle: string of %zu bytes is too long", n);
	op(w, 'X');
	ck_buf_u32le(w->b, (uint32_t)n);
	ck_buf_add(w->b, p, n);
	return CK_OK;
}

/* bytes: _codecs.encode(latin-1 text, 'latin1'), protocol 2's only spelling. */
static ck_err emit_bytes(struct wr *w, const uint8_t *p, size_t n)
{
	ck_err rc = emit_global(w, "_codecs", "encode");
	if (rc != CK_OK)
		return rc;
	if (n > UINT32_MAX / 2)
		return ck_error_set(w->err, CK_ELIMIT, "pickle: bytes value of %zu bytes is too long", n);
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += p[i] < 0x80 ? 1 : 2;
	op(w, 'X');
	ck_buf_u32le(w->b, (uint32_t)len);
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x80) {
			op(w, p[i]);
		} else {
			op(w, (uint8_t)(0xC0 | p[i] >> 6));
			op(w, (uint8_t)(0x80 | (p[i] & 0x3F)));
		}
	}
	if ((rc = emit_str(w, "latin1", 6)) != CK_OK)
		return rc;
	op(w, 0x86); /* TUPLE2 */
	op(w, 'R');
	return CK_OK;
}

static ck_err emit_ints(struct wr *w, const int64_t *v, int n)
{
	if (n == 0) {
		op(w, ')');
		return CK_OK;
	}
	if (n > 3)
		op(w, '(');
	for (int i = 0; i < n; i++)
		emit_int(w, v[i]);
	op(w, n > 3 ? 't' : (uint8_t)(0x84 + n));
	return CK_OK;
}

static ck_err emit_odict_empty(struct wr *w)
{
	ck_err rc = emit_global(w, "collections", "OrderedDict");
	op(w, ')');
	op(w, 'R');
	return rc;
}

/* ('storage', torch.<X>Storage, key, 'cpu', numel) BINPERSID; UntypedStorage is
 * spelled torch.storage.UntypedStorage, as torch.save itself writes it and as
 * the weights-only allow-list names it. */
static ck_err emit_pid(struct wr *w, long storage, const char *cls, uint64_t numel)
{
	const struct ck_pickle_writer_ops *ops = w->ops;
	const char *key = ops && ops->storage_key ? ops->storage_key(ops->ctx, storage) : NULL;
	if (!key)
		return ck_error_set(w->err, CK_EINVAL, "pickle: storage %ld has no key", storage);
	if (numel > INT64_MAX)
		return ck_error_set(w->err, CK_ELIMIT, "pickle: storage %ld too large", storage);
	op(w, '(');
	ck_err rc = emit_str(w, "storage", 7);
	if (rc == CK_OK)
		rc = emit_global(w, strcmp(cls, "UntypedStorage") ? "torch" : "torch.storage", cls);
	if (rc == CK_OK)
		rc = emit_str(w, key, strlen(key));
	if (rc == CK_OK)
		rc = emit_str(w, "cpu", 3);
	emit_int(w, (int64_t)numel);
	op(w, 't');
	op(w, 'Q');
	return rc;
}

/* The storage's length in elements of dt (bytes when dt is U8 for an
 * UntypedStorage); 0 with err set when it is not a whole number. */
static ck_err storage_numel(struct wr *w, long storage, enum ck_dtype dt, uint64_t *numel)
{
	const struct ck_pickle_writer_ops *ops = w->ops;
	enum ck_dtype sdt = ops && ops->storage_dtype ? ops->storage_dtype(ops->ctx, storage) : dt;
	uint64_t n = ops && ops->storage_numel ? ops->storage_numel(ops->ctx, storage) : 0;
	if (sdt == dt || sdt == CK_DT_INVALID) {
		*numel = n;
		return CK_OK;
	}
	/* a storage typed differently from the tensor: retype it by bytes */
	uint64_t bytes, is = ck_dtype_size(dt);
	if (ck_dtype_block(sdt) > 1 || !ck_mul_u64(n, ck_dtype_size(sdt), &bytes) || !is || bytes % is)
		return ck_error_set(w->err, CK_EINVAL, "pickle: tensor dtype %s differs from its storage's %s",
				    ck_dtype_name(dt), ck_dtype_name(sdt));
	*numel = bytes / is;
	return CK_OK;
}

static int is_new_dtype(enum ck_dtype dt)
{
	return dt == CK_DT_U16 || dt == CK_DT_U32 || dt == CK_DT_U64 ||
	       dt == CK_DT_F8E4M3 || dt == CK_DT_F8E5M2;
}

static ck_err emit_tensor(struct wr *w, const struct ck_tensor *t)
{
	enum ck_dtype dt = t->dtype;
	int v3 = is_new_dtype(dt);
	if (!v3 && (!ck_pickle_storage_class(dt) || dt == CK_DT_QINT8 || dt == CK_DT_QUINT8 || dt == CK_DT_QINT32))
		return ck_error_set(w->err, CK_EUNSUP, "pickle: dtype %s cannot be written to a torch checkpoint",
				    ck_dtype_name(dt));
	if (t->storage < 0)
		return ck_error_set(w->err, CK_EINVAL, "pickle: tensor without storage");
	/* new dtypes: an UntypedStorage counted in bytes */
	uint64_t numel;
	ck_err rc = storage_numel(w, t->storage, v3 ? CK_DT_U8 : dt, &numel);
	if (rc != CK_OK)
		return rc;
	if (t->is_param)
		rc = emit_global(w, "torch._utils", "_rebuild_parameter");
	if (rc == CK_OK)
		rc = emit_global(w, "torch._utils", v3 ? "_rebuild_tensor_v3" : "_rebuild_tensor_v2");
	op(w, '(');
	if (rc == CK_OK)
		rc = emit_pid(w, t->storage, v3 ? "UntypedStorage" : ck_pickle_storage_class(dt), numel);
	if (rc != CK_OK)
		return rc;
	emit_int(w, t->offset);
	emit_ints(w, t->shape, t->ndim);
	emit_ints(w, t->stride, t->ndim);
	/* a Parameter's .data does not require grad; the Parameter carries it */
	op(w, (t->requires_grad && !t->is_param) ? 0x88 : 0x89);
	rc = emit_odict_empty(w);
	if (rc == CK_OK && v3)
		rc = emit_global(w, "torch", ck_dtype_name(dt));
	op(w, 't');
	op(w, 'R');
	if (rc == CK_OK && t->is_param) {
		op(w, t->requires_grad ? 0x88 : 0x89);
		rc = emit_odict_empty(w);
		op(w, 0x87); /* TUPLE3 */
		op(w, 'R');
	}
	return rc;
}

static ck_err emit(struct wr *w, const struct ck_value *v, int depth);

/* Items in batches of 1000; a batch of one uses the single-item opcode. */
static ck_err emit_items(struct wr *w, struct ck_value *const *items, size_t n, int depth)
{
	for (size_t at = 0; at < n; at += PW_BATCH) {
		size_t cnt = n - at < PW_BATCH ? n - at : PW_BATCH;
		if (cnt > 1)
			op(w, '(');
		for (size_t i = at; i < at + cnt; i++) {
			ck_err rc = emit(w, items[i], depth + 1);
			if (rc != CK_OK)
				return rc;
		}
		op(w, cnt > 1 ? 'e' : 'a');
	}
	return CK_OK;
}

static ck_err emit_dict(struct wr *w, const struct ck_value *v, int depth)
{
	ck_err rc = CK_OK;
	if (v->u.dict.ordered)
		rc = emit_odict_empty(w);
	else
		op(w, '}');
	size_t n = v->u.dict.n;
	for (size_t at = 0; at < n && rc == CK_OK; at += PW_BATCH) {
		size_t cnt = n - at < PW_BATCH ? n - at : PW_BATCH;
		if (cnt > 1)
			op(w, '(');
		for (size_t i = at; i < at + cnt && rc == CK_OK; i++) {
			rc = emit(w, v->u.dict.keys[i], depth + 1);
			if (rc == CK_OK)
				rc = emit(w, v->u.dict.vals[i], depth + 1);
		}
		op(w, cnt > 1 ? 'u' : 's');
	}
	if (rc == CK_OK && v->u.dict.attrs) {
		rc = emit(w, v->u.dict.attrs, depth + 1);
		op(w, 'b');
	}
	return rc;
}

static ck_err emit(struct wr *w, const struct ck_value *v, int depth)
{
	if (!v)
		return ck_error_set(w->err, CK_EINVAL, "pickle: missing value");
	if (depth > PW_MAX_DEPTH)
		return ck_error_set(w->err, CK_ELIMIT, "pickle: values nested deeper than %d", PW_MAX_DEPTH);
	int scalar = v->kind == CK_V_NONE || v->kind == CK_V_BOOL || v->kind == CK_V_INT ||
		     v->kind == CK_V_FLOAT || v->kind == CK_V_GLOBAL;
	uint32_t idx;
	if (!scalar && v->refs > 1 && pmap_get(&w->memo, v, &idx)) {
		get_index(w, idx);
		return CK_OK;
	}
	ck_err rc = CK_OK;
	switch (v->kind) {
	case CK_V_NONE: op(w, 'N'); break;
	case CK_V_BOOL: op(w, v->u.b ? 0x88 : 0x89); break;
	case CK_V_INT: emit_int(w, v->u.i); break;
	case CK_V_BIGINT:
		if (v->u.s.len < 256) {
			op(w, 0x8a);
			op(w, (uint8_t)v->u.s.len);
		} else if (v->u.s.len <= INT32_MAX) {
			op(w, 0x8b);
			ck_buf_u32le(w->b, (uint32_t)v->u.s.len);
		} else {
			return ck_error_set(w->err, CK_ELIMIT, "pickle: integer too large");
		}
		ck_buf_add(w->b, v->u.s.p, v->u.s.len);
		break;
	case CK_V_FLOAT: {
		uint64_t u;
		memcpy(&u, &v->u.f, sizeof u);
		op(w, 'G');
		for (int i = 7; i >= 0; i--) /* big-endian on the wire */
			op(w, (uint8_t)(u >> (8 * i)));
		break;
	}
	case CK_V_STR: rc = emit_str(w, v->u.s.p, v->u.s.len); break;
	case CK_V_BYTES: rc = emit_bytes(w, (const uint8_t *)v->u.s.p, v->u.s.len); break;
	case CK_V_TUPLE:
		if (v->u.seq.n == 0) {
			op(w, ')');
			break;
		}
		if (v->u.seq.n > 3)
			op(w, '(');
		for (size_t i = 0; i < v->u.seq.n && rc == CK_OK; i++)
			rc = emit(w, v->u.seq.items[i], depth + 1);
		op(w, v->u.seq.n > 3 ? 't' : (uint8_t)(0x84 + v->u.seq.n));
		break;
	case CK_V_LIST:
		op(w, ']');
		rc = emit_items(w, v->u.seq.items, v->u.seq.n, depth);
		break;
	case CK_V_SET: /* builtins.set([items]) */
		rc = emit_global(w, "builtins", "set");
		op(w, ']');
		if (rc == CK_OK)
			rc = emit_items(w, v->u.seq.items, v->u.seq.n, depth);
		op(w, 0x85);
		op(w, 'R');
		break;
	case CK_V_DICT: rc = emit_dict(w, v, depth); break;
	case CK_V_TENSOR: rc = emit_tensor(w, v->u.t); break;
	case CK_V_GLOBAL: rc = emit_global(w, v->u.g.module, v->u.g.name); break;
	case CK_V_STORAGE: { /* a bare storage object: the class of its own dtype */
		enum ck_dtype sdt = w->ops && w->ops->storage_dtype ?
				    w->ops->storage_dtype(w->ops->ctx, (long)v->u.i) : CK_DT_INVALID;
		const char *cls = is_new_dtype(sdt) ? "UntypedStorage" : ck_pickle_storage_class(sdt);
		uint64_t numel;
		if (!cls)
			return ck_error_set(w->err, CK_EUNSUP, "pickle: no torch storage class for dtype %s",
					    ck_dtype_name(sdt));
		rc = storage_numel(w, (long)v->u.i, is_new_dtype(sdt) ? CK_DT_U8 : sdt, &numel);
		if (rc == CK_OK)
			rc = emit_pid(w, (long)v->u.i, cls, numel);
		break;
	}
	case CK_V_OBJECT:
		if (!v->u.obj.callable || !v->u.obj.args || v->u.obj.args->kind != CK_V_TUPLE)
			return ck_error_set(w->err, CK_EINVAL, "pickle: object without callable and arguments");
		rc = emit(w, v->u.obj.callable, depth + 1);
		if (rc == CK_OK)
			rc = emit(w, v->u.obj.args, depth + 1);
		op(w, 'R');
		if (rc == CK_OK && v->u.obj.state) {
			rc = emit(w, v->u.obj.state, depth + 1);
			op(w, 'b');
		}
		break;
	}
	if (rc == CK_OK && !scalar && v->refs > 1) {
		if (!pmap_put(&w->memo, v, w->next))
			return ck_error_set(w->err, CK_ENOMEM, "pickle: out of memory");
		put_index(w, w->next++);
	}
	return rc;
}

ck_err ck_pickle_dump(const struct ck_value *root, const struct ck_pickle_writer_ops *ops,
		      struct ck_buf *out, struct ck_error *err)
{
	struct wr w = {.b = out, .ops = ops, .err = err};
	op(&w, 0x80);
	op(&w, 2);
	ck_err rc = emit(&w, root, 0);
	op(&w, '.');
	free(w.memo.keys);
	free(w.memo.vals);
	if (rc == CK_OK && out->oom)
		rc = ck_error_set(err, CK_ENOMEM, "pickle: out of memory");
	return rc;
}
