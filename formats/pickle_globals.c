/*
 * pickle_globals.c — what the pickle reader (pickle.c) lets a GLOBAL name and
 * what calling it means: the allow-list, the torch tensor/parameter rebuild
 * functions turned into CK_V_TENSOR values, containers built by their
 * constructors (OrderedDict, set, ...), _codecs.encode -> bytes, opaque
 * data-only objects, and the protocol 0 text decoders.  Nothing here runs
 * code; anything not listed is refused by the caller with CK_EUNSAFE.
 */
#include <stdlib.h>
#include <string.h>

#include "pickle_vm.h"

/* ---- the allow-list ------------------------------------------------------ */


static const struct { const char *module, *name; enum gkind kind; } allowed[] = {
	{"collections", "OrderedDict", G_ODICT},
	{"collections", "Counter", G_OPAQUE},
	{"builtins", "dict", G_DICT}, {"builtins", "list", G_LIST},
	{"builtins", "tuple", G_TUPLE}, {"builtins", "set", G_SET},
	{"builtins", "frozenset", G_FROZENSET}, {"builtins", "bytes", G_BYTES},
	{"builtins", "bytearray", G_OPAQUE}, {"builtins", "complex", G_OPAQUE},
	{"builtins", "slice", G_OPAQUE}, {"builtins", "range", G_OPAQUE},
	{"_codecs", "encode", G_ENCODE},
	{"torch", "Size", G_SIZE},
	{"torch", "device", G_OPAQUE},
	{"torch", "Tensor", G_TYPE_TENSOR},
	{"torch.nn.parameter", "Parameter", G_TYPE_PARAM},
	{"torch._utils", "_rebuild_tensor", G_REBUILD},
	{"torch._utils", "_rebuild_tensor_v2", G_REBUILD_V2},
	{"torch._utils", "_rebuild_tensor_v3", G_REBUILD_V3},
	{"torch._utils", "_rebuild_parameter", G_PARAM},
	{"torch._utils", "_rebuild_parameter_with_state", G_PARAM_STATE},
	{"torch._tensor", "_rebuild_from_type_v2", G_FROM_TYPE},
	{"torch._utils", "_rebuild_qtensor", G_UNSUP},
	{"torch._utils", "_rebuild_sparse_tensor", G_UNSUP},
	{"torch._utils", "_rebuild_sparse_csr_tensor", G_UNSUP},
	{"torch._utils", "_rebuild_meta_tensor_no_storage", G_UNSUP},
	{"torch._utils", "_rebuild_wrapper_subclass", G_UNSUP},
	{"torch._utils", "_rebuild_device_tensor_from_numpy", G_UNSUP},
	{"torch._utils", "_rebuild_device_tensor_from_cpu_tensor", G_UNSUP},
	{"torch._utils", "_rebuild_nested_tensor", G_UNSUP},
	{"torch._utils", "_rebuild_xla_tensor", G_UNSUP},
	{"torch.serialization", "_get_layout", G_UNSUP},
	{"torch.storage", "UntypedStorage", G_STORAGE},
	{"torch.storage", "TypedStorage", G_STORAGE},
	{"torch.storage", "_TypedStorage", G_STORAGE},
	{"torch.storage", "_UntypedStorage", G_STORAGE},
	/* numpy arrays/scalars inside old training states: pure data */
	{"numpy.core.multiarray", "_reconstruct", G_OPAQUE},
	{"numpy.core.multiarray", "scalar", G_OPAQUE},
	{"numpy._core.multiarray", "_reconstruct", G_OPAQUE},
	{"numpy._core.multiarray", "scalar", G_OPAQUE},
	{"numpy", "dtype", G_OPAQUE},
	{"numpy", "ndarray", G_DATA},
};

/* torch.<name> dtype globals; aliases map to the same dtype.  Names torch
 * knows but we do not (complex32, bits8, ...) are allowed as data. */
static const struct { const char *name; enum ck_dtype dt; } torch_dtypes[] = {
	{"float32", CK_DT_F32}, {"float", CK_DT_F32}, {"float64", CK_DT_F64},
	{"double", CK_DT_F64}, {"float16", CK_DT_F16}, {"half", CK_DT_F16},
	{"bfloat16", CK_DT_BF16}, {"int64", CK_DT_I64}, {"long", CK_DT_I64},
	{"int32", CK_DT_I32}, {"int", CK_DT_I32}, {"int16", CK_DT_I16},
	{"short", CK_DT_I16}, {"int8", CK_DT_I8}, {"uint8", CK_DT_U8},
	{"uint16", CK_DT_U16}, {"uint32", CK_DT_U32}, {"uint64", CK_DT_U64},
	{"bool", CK_DT_BOOL}, {"complex64", CK_DT_C64}, {"cfloat", CK_DT_C64},
	{"complex128", CK_DT_C128}, {"cdouble", CK_DT_C128},
	{"float8_e4m3fn", CK_DT_F8E4M3}, {"float8_e5m2", CK_DT_F8E5M2},
	{"qint8", CK_DT_QINT8}, {"quint8", CK_DT_QUINT8}, {"qint32", CK_DT_QINT32},
	{"complex32", CK_DT_INVALID}, {"chalf", CK_DT_INVALID},
	{"float8_e4m3fnuz", CK_DT_INVALID}, {"float8_e5m2fnuz", CK_DT_INVALID},
	{"float8_e8m0fnu", CK_DT_INVALID}, {"quint4x2", CK_DT_INVALID},
	{"quint2x4", CK_DT_INVALID}, {"bits1x8", CK_DT_INVALID},
	{"bits2x4", CK_DT_INVALID}, {"bits4x2", CK_DT_INVALID},
	{"bits8", CK_DT_INVALID}, {"bits16", CK_DT_INVALID},
};

static const struct { const char *cls; enum ck_dtype dt; } storage_classes[] = {
	{"DoubleStorage", CK_DT_F64}, {"FloatStorage", CK_DT_F32},
	{"HalfStorage", CK_DT_F16}, {"BFloat16Storage", CK_DT_BF16},
	{"LongStorage", CK_DT_I64}, {"IntStorage", CK_DT_I32},
	{"ShortStorage", CK_DT_I16}, {"CharStorage", CK_DT_I8},
	{"ByteStorage", CK_DT_U8}, {"BoolStorage", CK_DT_BOOL},
	{"ComplexFloatStorage", CK_DT_C64}, {"ComplexDoubleStorage", CK_DT_C128},
	{"QInt8Storage", CK_DT_QINT8}, {"QUInt8Storage", CK_DT_QUINT8},
	{"QInt32Storage", CK_DT_QINT32},
	{"QUInt4x2Storage", CK_DT_INVALID}, {"QUInt2x4Storage", CK_DT_INVALID},
	{"UntypedStorage", CK_DT_U8},
};

enum ck_dtype ck_pickle_storage_dtype(const char *name)
{
	for (size_t i = 0; i < sizeof storage_classes / sizeof storage_classes[0]; i++)
		if (strcmp(storage_classes[i].cls, name) == 0)
			return storage_classes[i].dt;
	return CK_DT_INVALID;
}

const char *ck_pickle_storage_class(enum ck_dtype dt)
{
	if (dt == CK_DT_U8)
		return "ByteStorage";
	for (size_t i = 0; i < sizeof storage_classes / sizeof storage_classes[0]; i++)
		if (storage_classes[i].dt == dt && dt != CK_DT_INVALID)
			return storage_classes[i].cls;
	return NULL;
}

static int is_storage_class(const char *name)
{
	for (size_t i = 0; i < sizeof storage_classes / sizeof storage_classes[0]; i++)
		if (strcmp(storage_classes[i].cls, name) == 0)
			return 1;
	return 0;
}

/* Returns the kind; *dt is the dtype for G_DTYPE/G_STORAGE globals. */
enum gkind ck_pk_global_kind(const char *module, const char *name, enum ck_dtype *dt)
{
	*dt = CK_DT_INVALID;
	for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
		if (strcmp(allowed[i].module, module) == 0 && strcmp(allowed[i].name, name) == 0) {
			if (allowed[i].kind == G_STORAGE)
				*dt = ck_pickle_storage_dtype(name);
			return allowed[i].kind;
		}
	if ((strcmp(module, "torch") == 0 || strcmp(module, "torch.cuda") == 0) && is_storage_class(name)) {
		*dt = ck_pickle_storage_dtype(name);
		return G_STORAGE;
	}
	if (strcmp(module, "torch") == 0)
		for (size_t i = 0; i < sizeof torch_dtypes / sizeof torch_dtypes[0]; i++)
			if (strcmp(torch_dtypes[i].name, name) == 0) {
				*dt = torch_dtypes[i].dt;
				return G_DTYPE;
			}
	return G_REFUSED;
}

/* ---- calling allow-listed globals ------------------------------------------ */

static int as_int(const struct ck_value *v, int64_t *out)
{
	if (v->kind == CK_V_INT)
		*out = v->u.i;
	else if (v->kind == CK_V_BOOL)
		*out = v->u.b;
	else
		return 0;
	return 1;
}

static int is_seq(const struct ck_value *v)
{
	return v->kind == CK_V_TUPLE || v->kind == CK_V_LIST;
}

/* Reads a size/stride tuple of non-negative ints into dst (ndim entries). */
static ck_err dims(struct vm *vm, const struct ck_value *v, int64_t *dst, size_t ndim, const char *what)
{
	if (!is_seq(v) || v->u.seq.n != ndim)
		return ck_pk_fail(vm, CK_EFORMAT, "tensor %s is not a tuple of %zu ints at offset %zu", what, ndim, vm->op);
	for (size_t i = 0; i < ndim; i++)
		if (!as_int(v->u.seq.items[i], &dst[i]) || dst[i] < 0)
			return ck_pk_fail(vm, CK_EFORMAT, "tensor %s has a bad entry at offset %zu", what, vm->op);
	return CK_OK;
}

static struct ck_tensor *tensor_copy(const struct ck_tensor *src)
{
	struct ck_tensor *t = ck_tensor_new(src->dtype, src->ndim);
	if (!t)
		return NULL;
	if (src->ndim) {
		memcpy(t->shape, src->shape, (size_t)src->ndim * sizeof *t->shape);
		memcpy(t->stride, src->stride, (size_t)src->ndim * sizeof *t->stride);
	}
	t->offset = src->offset;
	t->storage = src->storage;
	t->requires_grad = src->requires_grad;
	t->is_param = src->is_param;
	t->nbytes = src->nbytes;
	return t;
}

/* _rebuild_tensor(storage, offset, size, stride), _v2 (+ requires_grad, hooks
 * [, metadata]), _v3 (+ dtype [, metadata]). */
static ck_err rebuild_tensor(struct vm *vm, enum gkind kind, const struct ck_value *args, struct ck_value **out)
{
	size_t n = args->u.seq.n, lo = 4, hi = 4;
	struct ck_value **a = args->u.seq.items;
	if (kind == G_REBUILD_V2) {
		lo = 6;
		hi = 7;
	} else if (kind == G_REBUILD_V3) {
		lo = 7;
		hi = 8;
	}
	if (n < lo || n > hi)
		return ck_pk_fail(vm, CK_EFORMAT, "tensor rebuild with %zu arguments at offset %zu", n, vm->op);
	if (a[0]->kind != CK_V_STORAGE)
		return ck_pk_fail(vm, CK_EFORMAT, "tensor storage is not a persistent storage at offset %zu", vm->op);
	const struct ck_ckpt *ck = vm->hooks ? vm->hooks->ck : NULL;
	int64_t idx = a[0]->u.i;
	if (!ck || idx < 0 || (uint64_t)idx >= ck->nstorages)
		return ck_pk_fail(vm, CK_EFORMAT, "tensor storage index %lld unknown at offset %zu", (long long)idx, vm->op);
	enum ck_dtype dt = ck->storages[idx].dtype;
	if (kind == G_REBUILD_V3) {
		enum ck_dtype gdt = CK_DT_INVALID;
		if (a[6]->kind != CK_V_GLOBAL ||
		    ck_pk_global_kind(a[6]->u.g.module, a[6]->u.g.name, &gdt) != G_DTYPE)
			return ck_pk_fail(vm, CK_EFORMAT, "tensor dtype is not a torch dtype at offset %zu", vm->op);
		if (gdt == CK_DT_INVALID)
			return ck_pk_fail(vm, CK_EUNSUP, "unsupported dtype 'torch.%s'", a[6]->u.g.name);
		dt = gdt;
	}
	if (dt == CK_DT_INVALID)
		return ck_pk_fail(vm, CK_EUNSUP, "tensor storage '%s' has no supported dtype", ck->storages[idx].key);
	int64_t off, rg = 0;
	if (!as_int(a[1], &off) || off < 0)
		return ck_pk_fail(vm, CK_EFORMAT, "bad tensor storage offset at offset %zu", vm->op);
	if (kind != G_REBUILD && !as_int(a[4], &rg))
		return ck_pk_fail(vm, CK_EFORMAT, "bad tensor requires_grad at offset %zu", vm->op);
	if (!is_seq(a[2]))
		return ck_pk_fail(vm, CK_EFORMAT, "tensor size is not a tuple at offset %zu", vm->op);
	size_t ndim = a[2]->u.seq.n;
	if (ndim > PK_MAX_NDIM)
		return ck_pk_fail(vm, CK_ELIMIT, "tensor with %zu dimensions at offset %zu", ndim, vm->op);
	struct ck_tensor *t = ck_tensor_new(dt, (int)ndim);
	if (!t)
		return ck_pk_oom(vm);
	ck_err rc = dims(vm, a[2], t->shape, ndim, "size");
	if (rc == CK_OK)
		rc = dims(vm, a[3], t->stride, ndim, "stride");
	if (rc == CK_OK && !ck_tensor_update_nbytes(t))
		rc = ck_pk_fail(vm, CK_ELIMIT, "tensor size overflows at offset %zu", vm->op);
	if (rc != CK_OK) {
		ck_tensor_free(t);
		return rc;
	}
	t->offset = off;
	t->storage = (long)idx;
	t->requires_grad = rg != 0;
	if (!(*out = ck_value_tensor(t))) {
		ck_tensor_free(t);
		return ck_pk_oom(vm);
	}
	return CK_OK;
}

/* Parameter wraps a tensor: a new tensor value, the old one may be shared. */
static ck_err make_param(struct vm *vm, const struct ck_value *tv, int rg, struct ck_value **out)
{
	if (tv->kind != CK_V_TENSOR)
		return ck_pk_fail(vm, CK_EFORMAT, "parameter of a non-tensor at offset %zu", vm->op);
	struct ck_tensor *t = tensor_copy(tv->u.t);
	if (!t)
		return ck_pk_oom(vm);
	t->is_param = 1;
	if (rg >= 0)
		t->requires_grad = (uint8_t)rg;
	if (!(*out = ck_value_tensor(t))) {
		ck_tensor_free(t);
		return ck_pk_oom(vm);
	}
	return CK_OK;
}

/* dict()/OrderedDict() with no argument, a dict, or a sequence of pairs. */
static ck_err make_dict(struct vm *vm, const struct ck_value *args, int ordered, struct ck_value **out)
{
	struct ck_value *d = ck_value_new(CK_V_DICT);
	if (!d)
		return ck_pk_oom(vm);
	d->u.dict.ordered = ordered;
	ck_err rc = CK_OK;
	const struct ck_value *src = args->u.seq.n ? args->u.seq.items[0] : NULL;
	if (args->u.seq.n > 1 || (src && src->kind != CK_V_DICT && !is_seq(src)))
		rc = ck_pk_fail(vm, CK_EFORMAT, "bad dict constructor arguments at offset %zu", vm->op);
	else if (src && src->kind == CK_V_DICT)
		for (size_t i = 0; i < src->u.dict.n && rc == CK_OK; i++)
			rc = ck_pk_setitem(vm, d, ck_value_ref(src->u.dict.keys[i]), ck_value_ref(src->u.dict.vals[i]));
	else if (src)
		for (size_t i = 0; i < src->u.seq.n && rc == CK_OK; i++) {
			const struct ck_value *p = src->u.seq.items[i];
			if (!is_seq(p) || p->u.seq.n != 2)
				rc = ck_pk_fail(vm, CK_EFORMAT, "dict item is not a pair at offset %zu", vm->op);
			else
				rc = ck_pk_setitem(vm, d, ck_value_ref(p->u.seq.items[0]), ck_value_ref(p->u.seq.items[1]));
		}
	if (rc != CK_OK) {
		ck_value_unref(d);
		return rc;
	}
	*out = d;
	return CK_OK;
}

/* list()/tuple()/set() of nothing or of one sequence. */
static ck_err make_seq(struct vm *vm, const struct ck_value *args, enum ck_vkind kind, struct ck_value **out)
{
	const struct ck_value *src = args->u.seq.n ? args->u.seq.items[0] : NULL;
	if (args->u.seq.n > 1 || (src && !is_seq(src) && src->kind != CK_V_SET))
		return ck_pk_fail(vm, CK_EFORMAT, "bad sequence constructor arguments at offset %zu", vm->op);
	struct ck_value *seq = ck_value_new(kind);
	if (!seq)
		return ck_pk_oom(vm);
	ck_err rc = CK_OK;
	for (size_t i = 0; src && i < src->u.seq.n && rc == CK_OK; i++) {
		rc = ck_pk_adopt(vm, seq, src->u.seq.items[i]);
		if (rc == CK_OK && ck_value_append(seq, ck_value_ref(src->u.seq.items[i])) != CK_OK)
			rc = ck_pk_oom(vm);
	}
	if (rc != CK_OK) {
		ck_value_unref(seq);
		return rc;
	}
	*out = seq;
	return CK_OK;
}

/* Decodes one UTF-8 sequence (surrogates allowed, as Python's surrogatepass);
 * returns its length or 0 when malformed. */
static size_t utf8_decode(const uint8_t *p, size_t n, uint32_t *cp)
{
	if (!n)
		return 0;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	size_t len = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC0 ? 2 : 0;
	if (!len || len > n || p[0] > 0xF4)
		return 0;
	uint32_t c = p[0] & (0x7F >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3F);
	}
	static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
	if (c < min[len] || c > 0x10FFFF)
		return 0;
	*cp = c;
	return len;
}

int ck_pk_utf8_valid(const uint8_t *p, size_t n)
{
	uint32_t cp;
	for (size_t i = 0; i < n;) {
		size_t l = utf8_decode(p + i, n - i, &cp);
		if (!l)
			return 0;
		i += l;
	}
	return 1;
}

static size_t utf8_put(uint8_t *o, uint32_t c)
{
	if (c < 0x80) {
		o[0] = (uint8_t)c;
		return 1;
	}
	if (c < 0x800) {
		o[0] = (uint8_t)(0xC0 | c >> 6);
		o[1] = (uint8_t)(0x80 | (c & 0x3F));
		return 2;
	}
	if (c < 0x10000) {
		o[0] = (uint8_t)(0xE0 | c >> 12);
		o[1] = (uint8_t)(0x80 | (c >> 6 & 0x3F));
		o[2] = (uint8_t)(0x80 | (c & 0x3F));
		return 3;
	}
	o[0] = (uint8_t)(0xF0 | c >> 18);
	o[1] = (uint8_t)(0x80 | (c >> 12 & 0x3F));
	o[2] = (uint8_t)(0x80 | (c >> 6 & 0x3F));
	o[3] = (uint8_t)(0x80 | (c & 0x3F));
	return 4;
}

/* _codecs.encode(str, 'latin1'): how protocol 2 spells bytes. */
static ck_err encode_latin1(struct vm *vm, const struct ck_value *args, struct ck_value **out)
{
	const struct ck_value *s = args->u.seq.n ? args->u.seq.items[0] : NULL;
	const struct ck_value *enc = args->u.seq.n > 1 ? args->u.seq.items[1] : NULL;
	if (!s || s->kind != CK_V_STR || args->u.seq.n > 2 || (enc && enc->kind != CK_V_STR))
		return ck_pk_fail(vm, CK_EFORMAT, "bad _codecs.encode arguments at offset %zu", vm->op);
	const char *e = enc ? enc->u.s.p : "utf-8";
	if (strcmp(e, "utf-8") == 0 || strcmp(e, "utf8") == 0) {
		*out = ck_value_strn(CK_V_BYTES, s->u.s.p, s->u.s.len);
		return *out ? CK_OK : ck_pk_oom(vm);
	}
	if (strcmp(e, "latin1") && strcmp(e, "latin-1") && strcmp(e, "iso-8859-1"))
		return ck_pk_fail(vm, CK_EUNSUP, "unsupported encoding '%s' at offset %zu", e, vm->op);
	struct ck_value *b = ck_value_strn(CK_V_BYTES, s->u.s.p, s->u.s.len);
	if (!b)
		return ck_pk_oom(vm);
	size_t o = 0;
	const uint8_t *p = (const uint8_t *)s->u.s.p;
	for (size_t i = 0; i < s->u.s.len;) {
		uint32_t cp;
		size_t l = utf8_decode(p + i, s->u.s.len - i, &cp);
		if (!l || cp > 0xFF) {
			ck_value_unref(b);
			return ck_pk_fail(vm, CK_EFORMAT, "string not latin-1 encodable at offset %zu", vm->op);
		}
		b->u.s.p[o++] = (char)cp;
		i += l;
	}
	b->u.s.p[o] = 0;
	b->u.s.len = o;
	*out = b;
	return CK_OK;
}


/* torch._tensor._rebuild_from_type_v2(func, type, args, state) */
static ck_err from_type(struct vm *vm, const struct ck_value *args, int nested, struct ck_value **out)
{
	struct ck_value **a = args->u.seq.items;
	enum ck_dtype dt;
	if (nested || args->u.seq.n != 4 || a[0]->kind != CK_V_GLOBAL || a[1]->kind != CK_V_GLOBAL ||
	    a[2]->kind != CK_V_TUPLE)
		return ck_pk_fail(vm, CK_EFORMAT, "bad _rebuild_from_type_v2 arguments at offset %zu", vm->op);
	enum gkind type = ck_pk_global_kind(a[1]->u.g.module, a[1]->u.g.name, &dt);
	if (type != G_TYPE_TENSOR && type != G_TYPE_PARAM)
		return ck_pk_fail(vm, CK_EUNSUP, "unsupported tensor type '%s.%s'", a[1]->u.g.module, a[1]->u.g.name);
	struct ck_value *t = NULL;
	ck_err rc = ck_pk_call(vm, a[0], a[2], 1, &t);
	if (rc != CK_OK)
		return rc;
	if (t->kind != CK_V_TENSOR) {
		ck_value_unref(t);
		return ck_pk_fail(vm, CK_EFORMAT, "_rebuild_from_type_v2 did not make a tensor at offset %zu", vm->op);
	}
	/* state holds Python attributes of a subclass; a plain checkpoint has none */
	if (type == G_TYPE_PARAM) {
		rc = make_param(vm, t, -1, out);
		ck_value_unref(t);
		return rc;
	}
	*out = t;
	return CK_OK;
}

/* Interprets callable(*args) for an allow-listed callable; fn, args borrowed. */
ck_err ck_pk_call(struct vm *vm, struct ck_value *fn, struct ck_value *args, int nested, struct ck_value **out)
{
	if (fn->kind != CK_V_GLOBAL)
		return ck_pk_fail(vm, CK_EFORMAT, "call of a non-global at offset %zu", vm->op);
	if (args->kind != CK_V_TUPLE)
		return ck_pk_fail(vm, CK_EFORMAT, "call arguments are not a tuple at offset %zu", vm->op);
	enum ck_dtype dt;
	enum gkind k = ck_pk_global_kind(fn->u.g.module, fn->u.g.name, &dt);
	struct ck_value **a = args->u.seq.items;
	size_t n = args->u.seq.n;
	int64_t rg;
	switch (k) {
	case G_ODICT: return make_dict(vm, args, 1, out);
	case G_DICT: return make_dict(vm, args, 0, out);
	case G_LIST: return make_seq(vm, args, CK_V_LIST, out);
	case G_TUPLE: return make_seq(vm, args, CK_V_TUPLE, out);
	case G_SET: case G_FROZENSET: return make_seq(vm, args, CK_V_SET, out);
	case G_SIZE:
		if (n != 1 || !is_seq(a[0]))
			return ck_pk_fail(vm, CK_EFORMAT, "bad torch.Size arguments at offset %zu", vm->op);
		if (a[0]->kind == CK_V_TUPLE) {
			*out = ck_value_ref(a[0]);
			return CK_OK;
		}
		return make_seq(vm, args, CK_V_TUPLE, out);
	case G_BYTES:
		if (n == 0) {
			*out = ck_value_strn(CK_V_BYTES, "", 0);
			return *out ? CK_OK : ck_pk_oom(vm);
		}
		if (n == 1 && a[0]->kind == CK_V_BYTES) {
			*out = ck_value_ref(a[0]);
			return CK_OK;
		}
		return ck_pk_fail(vm, CK_EUNSUP, "unsupported bytes() arguments at offset %zu", vm->op);
	case G_ENCODE: return encode_latin1(vm, args, out);
	case G_REBUILD: case G_REBUILD_V2: case G_REBUILD_V3:
		return rebuild_tensor(vm, k, args, out);
	case G_PARAM: case G_PARAM_STATE:
		if (n != (k == G_PARAM ? 3u : 4u) || !as_int(a[1], &rg))
			return ck_pk_fail(vm, CK_EFORMAT, "bad _rebuild_parameter arguments at offset %zu", vm->op);
		/* with_state's 4th arg: Python attributes of the Parameter, not kept */
		return make_param(vm, a[0], rg != 0, out);
	case G_FROM_TYPE: return from_type(vm, args, nested, out);
	case G_OPAQUE: {
		struct ck_value *o = ck_value_new(CK_V_OBJECT);
		if (!o)
			return ck_pk_oom(vm);
		o->u.obj.callable = ck_value_ref(fn);
		o->u.obj.args = ck_value_ref(args);
		ck_err rc = ck_pk_adopt(vm, o, args);
		if (rc != CK_OK) {
			ck_value_unref(o);
			return rc;
		}
		*out = o;
		return CK_OK;
	}
	case G_UNSUP:
		return ck_pk_fail(vm, CK_EUNSUP, "unsupported tensor kind '%s.%s'", fn->u.g.module, fn->u.g.name);
	default:
		return ck_pk_fail(vm, CK_EUNSUP, "'%s.%s' is not callable in a checkpoint (offset %zu)",
			    fn->u.g.module, fn->u.g.name, vm->op);
	}
}

struct ck_value *ck_pk_long_value(const uint8_t *p, size_t n)
{
	if (n == 0)
		return ck_value_int(0);
	uint8_t sign = (p[n - 1] & 0x80) ? 0xFF : 0;
	size_t m = n;
	while (m > 1 && p[m - 1] == sign && ((p[m - 2] ^ sign) & 0x80) == 0)
		m--;
	if (m > 8)
		return ck_value_strn(CK_V_BIGINT, (const char *)p, n);
	uint64_t u = sign ? ~(uint64_t)0 : 0;
	for (size_t i = m; i-- > 0;)
		u = u << 8 | p[i];
	return ck_value_int((int64_t)u);
}

/* Decimal text (protocol 0 INT/LONG) -> INT or BIGINT. */
ck_err ck_pk_decimal(struct vm *vm, const uint8_t *p, size_t len, struct ck_value **out)
{
	int neg = 0;
	if (len && p[len - 1] == 'L')
		len--;
	if (len && (p[0] == '-' || p[0] == '+')) {
		neg = p[0] == '-';
		p++;
		len--;
	}
	if (!len)
		return ck_pk_fail(vm, CK_EFORMAT, "bad integer text at offset %zu", vm->op);
	uint8_t *mag = calloc(len / 2 + 2, 1);  /* 10^len < 256^(len/2+1) */
	if (!mag)
		return ck_pk_oom(vm);
	size_t nb = len / 2 + 2;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9') {
			free(mag);
			return ck_pk_fail(vm, CK_EFORMAT, "bad integer text at offset %zu", vm->op);
		}
		unsigned carry = p[i] - '0';
		for (size_t j = 0; j < nb; j++) {
			unsigned x = mag[j] * 10u + carry;
			mag[j] = (uint8_t)x;
			carry = x >> 8;
		}
	}
	if (neg) {
		unsigned carry = 1;
		for (size_t j = 0; j < nb; j++) {
			unsigned x = (uint8_t)~mag[j] + carry;
			mag[j] = (uint8_t)x;
			carry = x >> 8;
		}
	}
	*out = ck_pk_long_value(mag, nb);
	if (*out && (*out)->kind == CK_V_BIGINT) { /* trim redundant sign bytes */
		uint8_t sign = neg ? 0xFF : 0;
		size_t m = nb;
		while (m > 1 && mag[m - 1] == sign && ((mag[m - 2] ^ sign) & 0x80) == 0)
			m--;
		(*out)->u.s.len = m;
	}
	free(mag);
	return *out ? CK_OK : ck_pk_oom(vm);
}

/* A py2 str (STRING/BINSTRING): UTF-8 as torch.load decodes it, or latin-1
 * when the bytes are not UTF-8 (numpy-era pickles). */
struct ck_value *ck_pk_py2_str(const uint8_t *p, size_t n)
{
	if (ck_pk_utf8_valid(p, n))
		return ck_value_strn(CK_V_STR, (const char *)p, n);
	if (n > SIZE_MAX / 2 - 1)
		return NULL;
	struct ck_value *v = ck_value_strn(CK_V_STR, "", 0);
	char *buf = v ? realloc(v->u.s.p, 2 * n + 1) : NULL;
	if (!buf) {
		ck_value_unref(v);
		return NULL;
	}
	v->u.s.p = buf;
	size_t o = 0;
	for (size_t i = 0; i < n; i++)
		o += utf8_put((uint8_t *)buf + o, p[i]);
	buf[o] = 0;
	v->u.s.len = o;
	return v;
}

static int hexval(uint8_t c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Protocol 0 STRING (a Python repr) or UNICODE (raw-unicode-escape). */
ck_err ck_pk_text_string(struct vm *vm, const uint8_t *p, size_t n, int unicode, struct ck_value **out)
{
	if (!unicode) {
		if (n < 2 || (p[0] != '\'' && p[0] != '"') || p[n - 1] != p[0])
			return ck_pk_fail(vm, CK_EFORMAT, "bad STRING argument at offset %zu", vm->op);
		p++;
		n -= 2;
	}
	uint8_t *buf = malloc(n * 4 + 1);
	if (!buf)
		return ck_pk_oom(vm);
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i++];
		if (c != '\\' || i >= n) {
			o += unicode ? utf8_put(buf + o, c) : (buf[o] = c, 1);
			continue;
		}
		uint8_t e = p[i++];
		int digits = unicode ? (e == 'u' ? 4 : e == 'U' ? 8 : 0) : (e == 'x' ? 2 : 0);
		if (digits) {
			uint32_t v = 0;
			for (int d = 0; d < digits; d++) {
				int h = i < n ? hexval(p[i++]) : -1;
				if (h < 0) {
					free(buf);
					return ck_pk_fail(vm, CK_EFORMAT, "bad escape in string at offset %zu", vm->op);
				}
				v = v << 4 | (uint32_t)h;
			}
			if (unicode && v > 0x10FFFF) {
				free(buf);
				return ck_pk_fail(vm, CK_EFORMAT, "bad escape in string at offset %zu", vm->op);
			}
			o += unicode ? utf8_put(buf + o, v) : (buf[o] = (uint8_t)v, 1);
			continue;
		}
		if (unicode) { /* raw-unicode-escape keeps other backslashes */
			o += utf8_put(buf + o, '\\');
			o += utf8_put(buf + o, e);
			continue;
		}
		static const char from[] = "nrtabfv\\'\"", to[] = "\n\r\t\a\b\f\v\\'\"";
		const char *f = memchr(from, e, sizeof from - 1);
		if (f) {
			buf[o++] = (uint8_t)to[f - from];
		} else if (e >= '0' && e <= '7') {
			unsigned v = e - '0';
			for (int d = 0; d < 2 && i < n && p[i] >= '0' && p[i] <= '7'; d++)
				v = v * 8 + (p[i++] - '0');
			buf[o++] = (uint8_t)v;
		} else {
			buf[o++] = '\\';
			buf[o++] = e;
		}
	}
	*out = unicode ? ck_value_strn(CK_V_STR, (char *)buf, o) : ck_pk_py2_str(buf, o);
	free(buf);
	return *out ? CK_OK : ck_pk_oom(vm);
}

/* GLOBAL/STACK_GLOBAL/INST: pushes module.name if allow-listed. */