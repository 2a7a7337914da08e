/*
 * pickle.c — a pickle virtual machine that builds a ck_value tree and never
 * runs code.  GLOBAL/STACK_GLOBAL resolve only through the allow-list in
 * pickle_globals.c, which also interprets REDUCE/NEWOBJ: torch rebuild
 * functions become CK_V_TENSOR values, a few data-only types (numpy arrays
 * and scalars, torch.device) become opaque CK_V_OBJECT values kept for
 * writing back, and anything else is refused with CK_EUNSAFE.
 *
 * Byte layout (cpython Lib/pickletools.py):
 *  1. optional PROTO 0x80 u8 (0..5), optional FRAME 0x95 u64 (ignored);
 *  2. a sequence of opcodes, each one byte followed by its inline argument:
 *     fixed-width little-endian ints (BININT*, *BINPUT, *BINGET), length-
 *     prefixed bytes (BINUNICODE u32, SHORT_BINUNICODE u8, BINUNICODE8 u64,
 *     BINBYTES u32, LONG1 u8, LONG4 i32, ...), big-endian BINFLOAT, or a
 *     newline-terminated text line (GLOBAL, INT, LONG, FLOAT, STRING, ...);
 *  3. STOP '.' pops the result.
 *
 * Safety: every read goes through struct ck_cursor; stack, mark stack, memo
 * and container nesting are capped; a length is checked against the bytes
 * left before anything is allocated.  A container is "sealed" once it is put
 * inside another one and may not change afterwards, which (with refusing to
 * put a container into itself) makes a reference cycle impossible, so the
 * refcounted tree always frees and every recursive walker terminates.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pickle_vm.h"

/* ---- the VM --------------------------------------------------------------- */

ck_err ck_pk_fail(struct vm *vm, ck_err code, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return ck_error_set(vm->err, code, "%s: %s", vm->name, msg);
}

ck_err ck_pk_oom(struct vm *vm) { return ck_pk_fail(vm, CK_ENOMEM, "out of memory"); }

static size_t memo_slot(const struct memo *m, uint64_t key)
{
	uint64_t h = key * 0x9E3779B97F4A7C15ull;
	size_t i = (size_t)(h >> 17) & (m->cap - 1);
	while (m->keys[i] && m->keys[i] != key + 1)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static struct ck_value *memo_get(const struct memo *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	size_t i = memo_slot(m, key);
	return m->keys[i] ? m->vals[i] : NULL;
}

/* Stores a new reference to v under key (replacing). */
static ck_err memo_put(struct vm *vm, uint64_t key, struct ck_value *v)
{
	struct memo *m = &vm->memo;
	if (key >= PK_MAX_MEMO_INDEX)
		return ck_pk_fail(vm, CK_ELIMIT, "memo index %llu over the limit at offset %zu",
			    (unsigned long long)key, vm->op);
	if ((m->n + 1) * 2 > m->cap) {
		if (m->n >= PK_MAX_MEMO)
			return ck_pk_fail(vm, CK_ELIMIT, "more than %zu memo entries", PK_MAX_MEMO);
		struct memo nm = {.cap = m->cap ? m->cap * 2 : 64};
		nm.keys = calloc(nm.cap, sizeof *nm.keys);
		nm.vals = calloc(nm.cap, sizeof *nm.vals);
		if (!nm.keys || !nm.vals) {
			free(nm.keys);
			free(nm.vals);
			return ck_pk_oom(vm);
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->keys[i]) {
				size_t j = memo_slot(&nm, m->keys[i] - 1);
				nm.keys[j] = m->keys[i];
				nm.vals[j] = m->vals[i];
			}
		nm.n = m->n;
		free(m->keys);
		free(m->vals);
		*m = nm;
	}
	size_t i = memo_slot(m, key);
	if (m->keys[i])
		ck_value_unref(m->vals[i]);
	else
		m->n++;
	m->keys[i] = key + 1;
	m->vals[i] = ck_value_ref(v);
	return CK_OK;
}

static void vm_release(struct vm *vm)
{
	for (size_t i = 0; i < vm->n; i++)
		ck_value_unref(vm->st[i]);
	free(vm->st);
	free(vm->marks);
	for (size_t i = 0; i < vm->memo.cap; i++)
		if (vm->memo.keys[i])
			ck_value_unref(vm->memo.vals[i]);
	free(vm->memo.keys);
	free(vm->memo.vals);
}

/* Takes over the caller's reference (released on failure). */
static ck_err push(struct vm *vm, struct ck_value *v)
{
	if (!v)
		return ck_pk_oom(vm);
	if (vm->n == vm->cap) {
		if (vm->n >= PK_MAX_STACK) {
			ck_value_unref(v);
			return ck_pk_fail(vm, CK_ELIMIT, "stack deeper than %zu at offset %zu", PK_MAX_STACK, vm->op);
		}
		size_t cap = vm->cap ? vm->cap * 2 : 64;
		struct ck_value **p = realloc(vm->st, cap * sizeof *p);
		if (!p) {
			ck_value_unref(v);
			return ck_pk_oom(vm);
		}
		vm->st = p;
		vm->cap = cap;
	}
	vm->st[vm->n++] = v;
	return CK_OK;
}

static size_t base(const struct vm *vm) { return vm->nmarks ? vm->marks[vm->nmarks - 1] : 0; }

static ck_err underflow(struct vm *vm)
{
	return ck_pk_fail(vm, CK_EFORMAT, "stack underflow at offset %zu", vm->op);
}

/* Pops the top (caller owns the reference). */
static ck_err pop(struct vm *vm, struct ck_value **out)
{
	if (vm->n <= base(vm))
		return underflow(vm);
	*out = vm->st[--vm->n];
	return CK_OK;
}

static ck_err top(struct vm *vm, struct ck_value **out)
{
	if (vm->n <= base(vm))
		return underflow(vm);
	*out = vm->st[vm->n - 1];
	return CK_OK;
}

/* Pops the innermost mark; *k = stack index where its items start. */
static ck_err pop_mark(struct vm *vm, size_t *k)
{
	if (!vm->nmarks)
		return ck_pk_fail(vm, CK_EFORMAT, "no MARK for opcode at offset %zu", vm->op);
	*k = vm->marks[--vm->nmarks];
	return CK_OK;
}

int ck_pk_is_container(const struct ck_value *v)
{
	return v->kind == CK_V_LIST || v->kind == CK_V_TUPLE || v->kind == CK_V_SET ||
	       v->kind == CK_V_DICT || v->kind == CK_V_OBJECT;
}

/* Before child goes inside parent: refuse self-insertion, seal the child,
 * and keep parent->depth = 1 + the deepest child under the cap. */
ck_err ck_pk_adopt(struct vm *vm, struct ck_value *parent, struct ck_value *child)
{
	if (child == parent)
		return ck_pk_fail(vm, CK_EFORMAT, "container inside itself (memo cycle) at offset %zu", vm->op);
	if (!ck_pk_is_container(child))
		return CK_OK;
	child->sealed = 1;
	unsigned d = (unsigned)child->depth + 1;
	if (d > PK_MAX_DEPTH)
		return ck_pk_fail(vm, CK_ELIMIT, "containers nested deeper than %d at offset %zu", PK_MAX_DEPTH, vm->op);
	if (d > parent->depth)
		parent->depth = (uint16_t)d;
	return CK_OK;
}

/* A container may change only until it is inside another one (no cycles). */
ck_err ck_pk_mutable(struct vm *vm, struct ck_value *v)
{
	if (v->sealed)
		return ck_pk_fail(vm, CK_EFORMAT, "container changed after use (memo cycle) at offset %zu", vm->op);
	return CK_OK;
}

/* Moves stack[k..n) into a new container of kind (tuple/list/set). */
static ck_err collect(struct vm *vm, size_t k, enum ck_vkind kind, struct ck_value **out)
{
	struct ck_value *seq = ck_value_new(kind);
	if (!seq)
		return ck_pk_oom(vm);
	size_t cnt = vm->n - k;
	if (cnt) {
		seq->u.seq.items = malloc(cnt * sizeof *seq->u.seq.items);
		if (!seq->u.seq.items) {
			ck_value_unref(seq);
			return ck_pk_oom(vm);
		}
		seq->u.seq.cap = cnt;
	}
	ck_err rc = CK_OK;
	for (size_t i = k; i < vm->n; i++) {
		if (rc == CK_OK)
			rc = ck_pk_adopt(vm, seq, vm->st[i]);
		seq->u.seq.items[seq->u.seq.n++] = vm->st[i];
	}
	vm->n = k;
	if (rc != CK_OK) {
		ck_value_unref(seq);
		return rc;
	}
	*out = seq;
	return CK_OK;
}

/* Appends stack[k..n) to the list (APPEND(S)) or set (ADDITEMS) at stack[k-1]. */
static ck_err extend(struct vm *vm, size_t k, enum ck_vkind kind)
{
	if (k == 0 || k <= base(vm))
		return underflow(vm);
	struct ck_value *seq = vm->st[k - 1];
	if (seq->kind != kind)
		return ck_pk_fail(vm, CK_EFORMAT, "%s to a non-%s at offset %zu", kind == CK_V_SET ? "ADDITEMS" : "append",
				  kind == CK_V_SET ? "set" : "list", vm->op);
	ck_err rc = ck_pk_mutable(vm, seq);
	size_t i = k;
	for (; i < vm->n && rc == CK_OK; i++) {
		rc = ck_pk_adopt(vm, seq, vm->st[i]);
		if (rc == CK_OK && (rc = ck_value_append(seq, vm->st[i])) != CK_OK)
			rc = ck_pk_oom(vm);
		else if (rc != CK_OK)
			ck_value_unref(vm->st[i]);
	}
	for (; i < vm->n; i++)
		ck_value_unref(vm->st[i]);
	vm->n = k;
	return rc;
}

ck_err ck_pk_setitem(struct vm *vm, struct ck_value *d, struct ck_value *key, struct ck_value *val)
{
	ck_err rc = CK_OK;
	if (d->kind != CK_V_DICT)
		rc = ck_pk_fail(vm, CK_EFORMAT, "setitem on a non-dict at offset %zu", vm->op);
	if (rc == CK_OK)
		rc = ck_pk_mutable(vm, d);
	if (rc == CK_OK)
		rc = ck_pk_adopt(vm, d, key);
	if (rc == CK_OK)
		rc = ck_pk_adopt(vm, d, val);
	if (rc != CK_OK) {
		ck_value_unref(key);
		ck_value_unref(val);
		return rc;
	}
	if (ck_value_setitem(d, key, val) != CK_OK)
		return ck_pk_oom(vm);
	return CK_OK;
}

/* Sets stack[k..n) pairs into the dict at stack[k-1]. */
static ck_err setitems(struct vm *vm, size_t k)
{
	if (k == 0 || k <= base(vm))
		return underflow(vm);
	struct ck_value *d = vm->st[k - 1];
	ck_err rc = CK_OK;
	if ((vm->n - k) % 2)
		rc = ck_pk_fail(vm, CK_EFORMAT, "odd number of items for SETITEMS at offset %zu", vm->op);
	size_t i = k;
	for (; rc == CK_OK && i + 1 < vm->n; i += 2)
		rc = ck_pk_setitem(vm, d, vm->st[i], vm->st[i + 1]);
	for (; i < vm->n; i++)
		ck_value_unref(vm->st[i]);
	vm->n = k;
	return rc;
}

/* ---- opcodes -------------------------------------------------------------- */

static ck_err take(struct vm *vm, uint64_t n, const uint8_t **p)
{
	if (n > ck_cursor_left(&vm->c) || !(*p = ck_cursor_take(&vm->c, (size_t)n)))
		return ck_pk_fail(vm, CK_EFORMAT, "truncated: opcode at offset %zu needs %llu bytes, %zu left",
			    vm->op, (unsigned long long)n, ck_cursor_left(&vm->c));
	return CK_OK;
}

static ck_err take_u(struct vm *vm, size_t width, uint64_t *v)
{
	const uint8_t *p;
	ck_err rc = take(vm, width, &p);
	if (rc != CK_OK)
		return rc;
	*v = 0;
	for (size_t i = width; i-- > 0;)
		*v = *v << 8 | p[i];
	return CK_OK;
}

/* A newline-terminated argument of the text opcodes, without the newline. */
static ck_err line(struct vm *vm, const uint8_t **p, size_t *len)
{
	size_t left = ck_cursor_left(&vm->c);
	const uint8_t *s = vm->c.p + vm->c.pos;
	const uint8_t *nl = memchr(s, '\n', left < PK_MAX_LINE ? left : PK_MAX_LINE);
	if (!nl)
		return ck_pk_fail(vm, CK_EFORMAT, "unterminated text argument at offset %zu", vm->op);
	*p = s;
	*len = (size_t)(nl - s);
	ck_cursor_skip(&vm->c, *len + 1);
	return CK_OK;
}

/* LE two's complement -> INT when it fits in 64 bits, else BIGINT. */
static ck_err resolve_global(struct vm *vm, const char *module, size_t mlen, const char *name, size_t nlen,
			     struct ck_value **out)
{
	char m[256], n[256];
	if (mlen >= sizeof m || nlen >= sizeof n || memchr(module, 0, mlen) || memchr(name, 0, nlen))
		return ck_pk_fail(vm, CK_EUNSAFE, "unsupported global at offset %zu", vm->op);
	memcpy(m, module, mlen);
	m[mlen] = 0;
	memcpy(n, name, nlen);
	n[nlen] = 0;
	/* the renames Python's unpickler applies (fix_imports) and torch.load adds */
	if (strcmp(m, "__builtin__") == 0)
		strcpy(m, "builtins");
	else if (strcmp(m, "torch.tensor") == 0)
		strcpy(m, "torch._tensor");
	enum ck_dtype dt;
	if (ck_pk_global_kind(m, n, &dt) == G_REFUSED)
		return ck_pk_fail(vm, CK_EUNSAFE, "unsupported global '%s.%s'", m, n);
	*out = ck_value_global(m, n);
	return *out ? CK_OK : ck_pk_oom(vm);
}

static ck_err persistent(struct vm *vm, struct ck_value *pid)
{
	struct ck_value *v = NULL;
	ck_err rc;
	if (!vm->hooks || !vm->hooks->persistent_load)
		rc = ck_pk_fail(vm, CK_EUNSUP, "persistent id without a loader at offset %zu", vm->op);
	else
		rc = vm->hooks->persistent_load(vm->hooks->ctx, pid, &v, vm->err);
	ck_value_unref(pid);
	if (rc != CK_OK)
		return rc;
	if (!v)
		return ck_pk_fail(vm, CK_EFORMAT, "persistent id gave no value at offset %zu", vm->op);
	return push(vm, v);
}

/* REDUCE, NEWOBJ: fn and args are popped references. */
static ck_err do_call(struct vm *vm, struct ck_value *fn, struct ck_value *args)
{
	struct ck_value *v = NULL;
	ck_err rc = ck_pk_call(vm, fn, args, 0, &v);
	ck_value_unref(fn);
	ck_value_unref(args);
	return rc == CK_OK ? push(vm, v) : rc;
}

static ck_err build(struct vm *vm, struct ck_value *state)
{
	struct ck_value *obj;
	ck_err rc = top(vm, &obj);
	if (rc == CK_OK && obj->kind == CK_V_TENSOR) {
		/* torch never sets state on a plain tensor; only an empty one is harmless */
		int empty = state->kind == CK_V_NONE ||
			    (state->kind == CK_V_DICT && !state->u.dict.n) ||
			    (state->kind == CK_V_TUPLE && !state->u.seq.n);
		if (!empty)
			rc = ck_pk_fail(vm, CK_EUNSUP, "tensor with python attributes at offset %zu", vm->op);
		ck_value_unref(state);
		return rc;
	}
	struct ck_value **slot = NULL;
	if (rc == CK_OK && obj->kind == CK_V_DICT && obj->u.dict.ordered)
		slot = &obj->u.dict.attrs;
	else if (rc == CK_OK && obj->kind == CK_V_OBJECT)
		slot = &obj->u.obj.state;
	else if (rc == CK_OK)
		rc = ck_pk_fail(vm, CK_EFORMAT, "BUILD on a value without state at offset %zu", vm->op);
	if (rc == CK_OK)
		rc = ck_pk_mutable(vm, obj);
	if (rc == CK_OK)
		rc = ck_pk_adopt(vm, obj, state);
	if (rc != CK_OK) {
		ck_value_unref(state);
		return rc;
	}
	ck_value_unref(*slot);
	*slot = state;
	return CK_OK;
}

/* n bytes of string data: STR (must be UTF-8), BYTES, or a py2 str (STR_PY2). */
#define STR_PY2 CK_V_NONE
static ck_err push_str(struct vm *vm, enum ck_vkind kind, uint64_t n)
{
	const uint8_t *p;
	ck_err rc = take(vm, n, &p);
	if (rc != CK_OK)
		return rc;
	if (kind == STR_PY2)
		return push(vm, ck_pk_py2_str(p, (size_t)n));
	if (kind == CK_V_STR && !ck_pk_utf8_valid(p, (size_t)n))
		return ck_pk_fail(vm, CK_EFORMAT, "string is not UTF-8 at offset %zu", vm->op);
	return push(vm, ck_value_strn(kind, (const char *)p, (size_t)n));
}

static ck_err memo_fetch(struct vm *vm, uint64_t idx)
{
	struct ck_value *v = memo_get(&vm->memo, idx);
	if (!v)
		return ck_pk_fail(vm, CK_EFORMAT, "memo key %llu missing at offset %zu", (unsigned long long)idx, vm->op);
	return push(vm, ck_value_ref(v));
}

static ck_err memo_store(struct vm *vm, uint64_t idx)
{
	struct ck_value *v;
	ck_err rc = top(vm, &v);
	return rc == CK_OK ? memo_put(vm, idx, v) : rc;
}

static ck_err text_index(struct vm *vm, uint64_t *idx)
{
	const uint8_t *p;
	size_t n;
	ck_err rc = line(vm, &p, &n);
	if (rc != CK_OK)
		return rc;
	*idx = 0;
	if (!n || n > 12)
		return ck_pk_fail(vm, CK_EFORMAT, "bad memo index at offset %zu", vm->op);
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return ck_pk_fail(vm, CK_EFORMAT, "bad memo index at offset %zu", vm->op);
		*idx = *idx * 10 + (p[i] - '0');
	}
	return CK_OK;
}

static ck_err push_mark(struct vm *vm)
{
	if (vm->nmarks == vm->mcap) {
		if (vm->nmarks >= PK_MAX_MARKS)
			return ck_pk_fail(vm, CK_ELIMIT, "MARKs nested deeper than %d at offset %zu", PK_MAX_MARKS, vm->op);
		size_t cap = vm->mcap ? vm->mcap * 2 : 32;
		size_t *p = realloc(vm->marks, cap * sizeof *p);
		if (!p)
			return ck_pk_oom(vm);
		vm->marks = p;
		vm->mcap = cap;
	}
	vm->marks[vm->nmarks++] = vm->n;
	return CK_OK;
}

/* Runs one opcode; *stop = 1 after STOP. */
static ck_err step(struct vm *vm, uint8_t op, int *stop)
{
	struct ck_value *a = NULL, *b = NULL, *c = NULL, *v = NULL;
	const uint8_t *p, *q;
	size_t n, m, k;
	uint64_t u;
	ck_err rc;

	switch (op) {
	case 0x80: /* PROTO */
		if ((rc = take_u(vm, 1, &u)) != CK_OK)
			return rc;
		if (u > 5)
			return ck_pk_fail(vm, CK_EFORMAT, "unsupported pickle protocol %llu", (unsigned long long)u);
		vm->proto = (int)u;
		return CK_OK;
	case 0x95: /* FRAME: a hint for buffered readers */
		return take_u(vm, 8, &u);
	case '.': /* STOP */
		if (vm->nmarks)
			return ck_pk_fail(vm, CK_EFORMAT, "unbalanced MARK at STOP (offset %zu)", vm->op);
		*stop = 1;
		return CK_OK;
	case '(': return push_mark(vm);
	case 'N': return push(vm, ck_value_new(CK_V_NONE));
	case 0x88: return push(vm, ck_value_bool(1));
	case 0x89: return push(vm, ck_value_bool(0));
	case 'K': case 'M':
		if ((rc = take_u(vm, op == 'K' ? 1 : 2, &u)) != CK_OK)
			return rc;
		return push(vm, ck_value_int((int64_t)u));
	case 'J':
		if ((rc = take_u(vm, 4, &u)) != CK_OK)
			return rc;
		return push(vm, ck_value_int((int32_t)(uint32_t)u));
	case 0x8a: case 0x8b: /* LONG1, LONG4 */
		if ((rc = take_u(vm, op == 0x8a ? 1 : 4, &u)) != CK_OK)
			return rc;
		if (op == 0x8b && (int32_t)(uint32_t)u < 0)
			return ck_pk_fail(vm, CK_EFORMAT, "negative LONG4 length at offset %zu", vm->op);
		if ((rc = take(vm, u, &p)) != CK_OK)
			return rc;
		return push(vm, ck_pk_long_value(p, (size_t)u));
	case 'G': {
		if ((rc = take_u(vm, 8, &u)) != CK_OK)
			return rc;
		/* big-endian on the wire; take_u read it little-endian */
		uint64_t be = __builtin_bswap64(u);
		double d;
		memcpy(&d, &be, sizeof d);
		return push(vm, ck_value_float(d));
	}
	case 'I': case 'L': case 'F':
		if ((rc = line(vm, &p, &n)) != CK_OK)
			return rc;
		if (op == 'I' && n == 2 && p[0] == '0' && (p[1] == '0' || p[1] == '1'))
			return push(vm, ck_value_bool(p[1] == '1'));
		if (op == 'F') {
			char tmp[64];
			char *end;
			if (n == 0 || n >= sizeof tmp)
				return ck_pk_fail(vm, CK_EFORMAT, "bad FLOAT argument at offset %zu", vm->op);
			memcpy(tmp, p, n);
			tmp[n] = 0;
			double d = strtod(tmp, &end);
			if (*end)
				return ck_pk_fail(vm, CK_EFORMAT, "bad FLOAT argument at offset %zu", vm->op);
			return push(vm, ck_value_float(d));
		}
		if ((rc = ck_pk_decimal(vm, p, n, &v)) != CK_OK)
			return rc;
		return push(vm, v);
	case 'X': case 0x8c: case 0x8d: /* BINUNICODE, SHORT_BINUNICODE, BINUNICODE8 */
		if ((rc = take_u(vm, op == 'X' ? 4 : op == 0x8c ? 1 : 8, &u)) != CK_OK)
			return rc;
		return push_str(vm, CK_V_STR, u);
	case 'B': case 'C': case 0x8e: /* BINBYTES, SHORT_BINBYTES, BINBYTES8 */
		if ((rc = take_u(vm, op == 'B' ? 4 : op == 'C' ? 1 : 8, &u)) != CK_OK)
			return rc;
		return push_str(vm, CK_V_BYTES, u);
	case 'T': case 'U': /* BINSTRING, SHORT_BINSTRING: py2 str */
		if ((rc = take_u(vm, op == 'T' ? 4 : 1, &u)) != CK_OK)
			return rc;
		if (op == 'T' && (int32_t)(uint32_t)u < 0)
			return ck_pk_fail(vm, CK_EFORMAT, "negative BINSTRING length at offset %zu", vm->op);
		return push_str(vm, STR_PY2, u);
	case 0x96: /* BYTEARRAY8 -> bytearray(b) as an opaque object */
		if ((rc = take_u(vm, 8, &u)) != CK_OK || (rc = take(vm, u, &p)) != CK_OK)
			return rc;
		if (!(a = ck_value_strn(CK_V_BYTES, (const char *)p, (size_t)u)) ||
		    !(b = ck_value_new(CK_V_TUPLE)) || ck_value_append(b, a) != CK_OK ||
		    !(c = ck_value_global("builtins", "bytearray"))) {
			if (!b)
				ck_value_unref(a);
			ck_value_unref(b);
			return ck_pk_oom(vm);
		}
		return do_call(vm, c, b);
	case 'S': case 'V':
		if ((rc = line(vm, &p, &n)) != CK_OK || (rc = ck_pk_text_string(vm, p, n, op == 'V', &v)) != CK_OK)
			return rc;
		return push(vm, v);
	case ')': return push(vm, ck_value_new(CK_V_TUPLE));
	case ']': return push(vm, ck_value_new(CK_V_LIST));
	case '}': return push(vm, ck_value_new(CK_V_DICT));
	case 0x8f: return push(vm, ck_value_new(CK_V_SET));
	case 0x85: case 0x86: case 0x87: /* TUPLE1..3 */
		k = (size_t)(op - 0x84);
		if (vm->n < base(vm) + k)
			return underflow(vm);
		if ((rc = collect(vm, vm->n - k, CK_V_TUPLE, &v)) != CK_OK)
			return rc;
		return push(vm, v);
	case 't': case 'l': case 0x91: /* TUPLE, LIST, FROZENSET */
		if ((rc = pop_mark(vm, &k)) != CK_OK ||
		    (rc = collect(vm, k, op == 't' ? CK_V_TUPLE : op == 'l' ? CK_V_LIST : CK_V_SET, &v)) != CK_OK)
			return rc;
		return push(vm, v);
	case 'd': /* DICT */
		if ((rc = pop_mark(vm, &k)) != CK_OK)
			return rc;
		if ((rc = push(vm, ck_value_new(CK_V_DICT))) != CK_OK) /* goes above the items */
			return rc;
		v = vm->st[vm->n - 1];
		memmove(vm->st + k + 1, vm->st + k, (vm->n - 1 - k) * sizeof *vm->st);
		vm->st[k] = v;
		return setitems(vm, k + 1);
	case 'a': /* APPEND */
		if ((rc = pop(vm, &a)) != CK_OK)
			return rc;
		if ((rc = push(vm, a)) != CK_OK)
			return rc;
		return extend(vm, vm->n - 1, CK_V_LIST);
	case 'e': case 0x90: /* APPENDS, ADDITEMS */
		if ((rc = pop_mark(vm, &k)) != CK_OK)
			return rc;
		return extend(vm, k, op == 'e' ? CK_V_LIST : CK_V_SET);
	case 's': /* SETITEM */
		if (vm->n < base(vm) + 3)
			return underflow(vm);
		return setitems(vm, vm->n - 2);
	case 'u': /* SETITEMS */
		if ((rc = pop_mark(vm, &k)) != CK_OK)
			return rc;
		return setitems(vm, k);
	case '0': /* POP: the top item, or the mark when nothing is above it */
		if (vm->n > base(vm)) {
			ck_value_unref(vm->st[--vm->n]);
			return CK_OK;
		}
		/* fall through */
	case '1': /* POP_MARK */
		if ((rc = pop_mark(vm, &k)) != CK_OK)
			return rc;
		while (vm->n > k)
			ck_value_unref(vm->st[--vm->n]);
		return CK_OK;
	case '2': /* DUP */
		if ((rc = top(vm, &v)) != CK_OK)
			return rc;
		return push(vm, ck_value_ref(v));
	case 'q': case 'r':
		if ((rc = take_u(vm, op == 'q' ? 1 : 4, &u)) != CK_OK)
			return rc;
		return memo_store(vm, u);
	case 'p':
		if ((rc = text_index(vm, &u)) != CK_OK)
			return rc;
		return memo_store(vm, u);
	case 0x94: /* MEMOIZE */
		return memo_store(vm, vm->memo.n);
	case 'h': case 'j':
		if ((rc = take_u(vm, op == 'h' ? 1 : 4, &u)) != CK_OK)
			return rc;
		return memo_fetch(vm, u);
	case 'g':
		if ((rc = text_index(vm, &u)) != CK_OK)
			return rc;
		return memo_fetch(vm, u);
	case 'c': /* GLOBAL */
		if ((rc = line(vm, &p, &n)) != CK_OK || (rc = line(vm, &q, &m)) != CK_OK ||
		    (rc = resolve_global(vm, (const char *)p, n, (const char *)q, m, &v)) != CK_OK)
			return rc;
		return push(vm, v);
	case 0x93: /* STACK_GLOBAL */
		if ((rc = pop(vm, &b)) != CK_OK)
			return rc;
		if ((rc = pop(vm, &a)) == CK_OK) {
			if (a->kind != CK_V_STR || b->kind != CK_V_STR)
				rc = ck_pk_fail(vm, CK_EFORMAT, "STACK_GLOBAL of non-strings at offset %zu", vm->op);
			else
				rc = resolve_global(vm, a->u.s.p, a->u.s.len, b->u.s.p, b->u.s.len, &v);
		}
		ck_value_unref(a);
		ck_value_unref(b);
		return rc == CK_OK ? push(vm, v) : rc;
	case 'R': case 0x81: /* REDUCE, NEWOBJ */
		if ((rc = pop(vm, &b)) != CK_OK)
			return rc;
		if ((rc = pop(vm, &a)) != CK_OK) {
			ck_value_unref(b);
			return rc;
		}
		return do_call(vm, a, b);
	case 0x92: /* NEWOBJ_EX: cls, args, kwargs */
		if ((rc = pop(vm, &c)) != CK_OK)
			return rc;
		if ((rc = pop(vm, &b)) == CK_OK && (rc = pop(vm, &a)) == CK_OK &&
		    (c->kind != CK_V_DICT || c->u.dict.n))
			rc = ck_pk_fail(vm, CK_EUNSUP, "NEWOBJ_EX with keyword arguments at offset %zu", vm->op);
		ck_value_unref(c);
		if (rc != CK_OK) {
			ck_value_unref(b);
			ck_value_unref(a);
			return rc;
		}
		return do_call(vm, a, b);
	case 'i': /* INST module\nname\n: class(*items since mark) */
		if ((rc = line(vm, &p, &n)) != CK_OK || (rc = line(vm, &q, &m)) != CK_OK ||
		    (rc = resolve_global(vm, (const char *)p, n, (const char *)q, m, &a)) != CK_OK)
			return rc;
		if ((rc = pop_mark(vm, &k)) != CK_OK || (rc = collect(vm, k, CK_V_TUPLE, &b)) != CK_OK) {
			ck_value_unref(a);
			return rc;
		}
		return do_call(vm, a, b);
	case 'o': /* OBJ: mark, class, args... */
		if ((rc = pop_mark(vm, &k)) != CK_OK)
			return rc;
		if (vm->n <= k) {
			vm->n = k;
			return underflow(vm);
		}
		a = vm->st[k];
		memmove(vm->st + k, vm->st + k + 1, (vm->n - k - 1) * sizeof *vm->st);
		vm->n--;
		if ((rc = collect(vm, k, CK_V_TUPLE, &b)) != CK_OK) {
			ck_value_unref(a);
			return rc;
		}
		return do_call(vm, a, b);
	case 'b': /* BUILD */
		if ((rc = pop(vm, &a)) != CK_OK)
			return rc;
		return build(vm, a);
	case 'Q': /* BINPERSID */
		if ((rc = pop(vm, &a)) != CK_OK)
			return rc;
		return persistent(vm, a);
	case 'P': /* PERSID: text id */
		if ((rc = line(vm, &p, &n)) != CK_OK)
			return rc;
		if (!(a = ck_pk_py2_str(p, n)))
			return ck_pk_oom(vm);
		return persistent(vm, a);
	case 0x98: /* READONLY_BUFFER: nothing to do without out-of-band buffers */
		return top(vm, &v);
	case 0x82: case 0x83: case 0x84: case 0x97:
		return ck_pk_fail(vm, CK_EUNSUP, "unsupported pickle opcode 0x%02x at offset %zu", op, vm->op);
	default:
		return ck_pk_fail(vm, CK_EFORMAT, "unknown pickle opcode 0x%02x at offset %zu", op, vm->op);
	}
}

ck_err ck_pickle_load(const uint8_t *buf, size_t len, const struct ck_pickle_hooks *hooks,
		      const char *name, struct ck_value **out, size_t *consumed,
		      struct ck_error *err)
{
	struct vm vm = {.hooks = hooks, .name = name ? name : "pickle", .err = err};
	ck_cursor_init(&vm.c, buf, len);
	*out = NULL;
	if (len == 0)
		return ck_pk_fail(&vm, CK_EFORMAT, "empty pickle");
	ck_err rc = CK_OK;
	int stop = 0;
	while (rc == CK_OK && !stop) {
		vm.op = vm.c.pos;
		if (!ck_cursor_left(&vm.c)) {
			rc = ck_pk_fail(&vm, CK_EFORMAT, "truncated: no STOP opcode before offset %zu", vm.op);
			break;
		}
		rc = step(&vm, ck_cursor_u8(&vm.c), &stop);
	}
	if (rc == CK_OK)
		rc = pop(&vm, out);
	if (rc == CK_OK && consumed)
		*consumed = vm.c.pos;
	vm_release(&vm);
	return rc;
}
