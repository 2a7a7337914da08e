/*
 * test_pickle.c — the pickle reader: fixtures made by real Python and torch
 * 1.13 (scripts/make-pickle-fixtures.py) with every field asserted, and a
 * table of hostile and broken inputs each with its expected error (run it
 * under -DCK_SANITIZE=ON too).  The writer is in test_pickle_write.c.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pickle_util.h"

/* ---- fixtures made by Python ---------------------------------------------- */

static void check_values(const struct ck_value *v, int proto)
{
	ck_assert_int_eq(v->kind, CK_V_DICT);
	ck_assert_int_eq(v->u.dict.ordered, 0);
	ck_assert_uint_eq(v->u.dict.n, proto >= 5 ? 24u : 23u);
	is_int(dget(v, "int"), 7);
	is_int(dget(v, "neg"), -3);
	is_int(dget(v, "i16"), 40000);
	is_int(dget(v, "i32"), -100000);
	is_int(dget(v, "i64"), (int64_t)1 << 40);
	struct ck_value *big = dget(v, "big");
	ck_assert_int_eq(big->kind, CK_V_BIGINT);
	is_text(big, "1180591620717411303424");
	is_text(dget(v, "negbig"), "-18446744073709551617");
	ck_assert_int_eq(dget(v, "float")->kind, CK_V_FLOAT);
	ck_assert(dget(v, "float")->u.f == 0.001);
	ck_assert_int_eq(dget(v, "true")->kind, CK_V_BOOL);
	ck_assert_int_eq(dget(v, "true")->u.b, 1);
	ck_assert_int_eq(dget(v, "false")->u.b, 0);
	ck_assert_int_eq(dget(v, "none")->kind, CK_V_NONE);
	is_str(dget(v, "str"), "h\xc3\xa9llo \xe2\x82\xac");
	is_bytes(dget(v, "bytes"), "\x00\xff" "ab", 4);
	is_bytes(dget(v, "empty_bytes"), "", 0);
	struct ck_value *t = dget(v, "tuple");
	ck_assert_int_eq(t->kind, CK_V_TUPLE);
	ck_assert_uint_eq(t->u.seq.n, 3);
	is_int(t->u.seq.items[0], 1);
	is_str(t->u.seq.items[1], "a");
	ck_assert(t->u.seq.items[2]->kind == CK_V_FLOAT && t->u.seq.items[2]->u.f == 2.5);
	is_text(dget(v, "tuple4"), "(1, 2, 3, 4)");
	struct ck_value *l = dget(v, "list");
	ck_assert_int_eq(l->kind, CK_V_LIST);
	is_text(l, "[1, [2, 3]]");
	ck_assert_int_eq(l->u.seq.items[1]->kind, CK_V_LIST);
	ck_assert_int_eq(dget(v, "set")->kind, CK_V_SET);
	is_text(dget(v, "set"), "{5}");
	ck_assert_int_eq(dget(v, "frozen")->kind, CK_V_SET);
	is_text(dget(v, "frozen"), "{6}");
	struct ck_value *od = dget(v, "odict");
	ck_assert_int_eq(od->kind, CK_V_DICT);
	ck_assert_int_eq(od->u.dict.ordered, 1);
	ck_assert_ptr_null(od->u.dict.attrs);
	is_text(od, "{'a': 1, 'b': 2}");
	is_str(dgeti(v, 3), "int key");
	/* the (1, 2) tuple key */
	int found = 0;
	for (size_t i = 0; i < v->u.dict.n; i++)
		if (v->u.dict.keys[i]->kind == CK_V_TUPLE) {
			is_text(v->u.dict.keys[i], "(1, 2)");
			is_str(v->u.dict.vals[i], "tuple key");
			found++;
		}
	ck_assert_int_eq(found, 1);
	struct ck_value *sh = dget(v, "shared");
	ck_assert_uint_eq(sh->u.seq.n, 2);
	ck_assert_ptr_eq(sh->u.seq.items[0], sh->u.seq.items[1]); /* memo sharing kept */
	is_text(sh->u.seq.items[0], "['x']");
	if (proto >= 5) {
		struct ck_value *ba = dget(v, "ba");
		ck_assert_int_eq(ba->kind, CK_V_OBJECT);
		is_global(ba->u.obj.callable, "builtins", "bytearray");
		ck_assert_uint_eq(ba->u.obj.args->u.seq.n, 1);
		is_bytes(ba->u.obj.args->u.seq.items[0], "xy", 2);
	}
	/* key order is the insertion order */
	is_str(v->u.dict.keys[0], "int");
	is_str(v->u.dict.keys[22], "shared");
}

START_TEST(t_values)
{
	static const int protos[] = {2, 4, 5};
	char name[64];
	snprintf(name, sizeof name, "values_p%d.pkl", protos[_i]);
	struct ck_ckpt ck = {0};
	struct ck_value *v = load_fixture(name, &ck);
	check_values(v, protos[_i]);
	ck_assert_uint_eq(ck.nstorages, 0);
	struct ck_ckpt ck2 = {0};
	struct ck_value *back = roundtrip(v, &ck, &ck2);
	check_values(back, protos[_i]);
	ck_value_unref(back);
	ck_value_unref(v);
}
END_TEST

START_TEST(t_values_p0)
{
	struct ck_ckpt ck = {0};
	struct ck_value *v = load_fixture("values_p0.pkl", &ck);
	ck_assert_uint_eq(v->u.dict.n, 11);
	is_int(dget(v, "int"), 7);
	is_text(dget(v, "big"), "1180591620717411303424");
	ck_assert_int_eq(dget(v, "big")->kind, CK_V_BIGINT);
	is_int(dget(v, "neg"), -5);
	ck_assert(dget(v, "float")->kind == CK_V_FLOAT && dget(v, "float")->u.f == 0.25);
	is_str(dget(v, "str"), "h\xc3\xa9\n");
	is_text(dget(v, "list"), "[1, 2]");
	ck_assert_int_eq(dget(v, "tuple")->kind, CK_V_TUPLE);
	is_text(dget(v, "tuple"), "(1, 'a')");
	ck_assert_int_eq(dget(v, "none")->kind, CK_V_NONE);
	ck_assert(dget(v, "true")->kind == CK_V_BOOL && dget(v, "true")->u.b == 1);
	is_text(dget(v, "nested"), "{'k': [None]}");
	is_bytes(dget(v, "bytes"), "\x01\xff", 2);
	struct ck_ckpt ck2 = {0};
	ck_value_unref(roundtrip(v, &ck, &ck2));
	ck_value_unref(v);
}
END_TEST

static void check_torch_sd(const struct ck_value *v, const struct ck_ckpt *ck)
{
	ck_assert_int_eq(v->kind, CK_V_DICT);
	ck_assert_uint_eq(v->u.dict.n, 10);
	struct ck_value *m = dget(v, "model");
	ck_assert_int_eq(m->u.dict.ordered, 1);
	ck_assert_uint_eq(m->u.dict.n, 2);
	struct ck_value *w = dget(m, "weight");
	is_tensor(ck, w, CK_DT_F32, 2, I64(2, 3), I64(3, 1), 0, "0", 0, 0);
	is_tensor(ck, dget(m, "bias"), CK_DT_F32, 1, I64(2), I64(1), 0, "1", 0, 0);
	/* _metadata from BUILD */
	ck_assert_ptr_nonnull(m->u.dict.attrs);
	struct ck_value *md = dget(m->u.dict.attrs, "_metadata");
	ck_assert_int_eq(md->u.dict.ordered, 1);
	is_text(md, "{'': {'version': 1}}");
	ck_assert_ptr_eq(dget(v, "tied"), w); /* one object, as torch wrote it */
	is_tensor(ck, dget(v, "view"), CK_DT_F32, 1, I64(3), I64(1), 3, "0", 0, 0);
	is_tensor(ck, dget(v, "transposed"), CK_DT_F32, 2, I64(3, 2), I64(1, 3), 0, "0", 0, 0);
	is_tensor(ck, dget(v, "step"), CK_DT_I64, 0, NULL, NULL, 0, "2", 0, 0);
	is_tensor(ck, dget(v, "half"), CK_DT_F16, 1, I64(2), I64(1), 0, "3", 0, 0);
	is_tensor(ck, dget(v, "param"), CK_DT_F32, 1, I64(2), I64(1), 0, "4", 1, 1);
	is_int(dget(v, "epoch"), 3);
	ck_assert(dget(v, "lr")->kind == CK_V_FLOAT && dget(v, "lr")->u.f == 0.001);
	struct ck_value *opt = dget(v, "opt");
	is_int(dget(dgeti(dget(opt, "state"), 0), "step"), 1);
	struct ck_value *pg = dget(opt, "param_groups");
	ck_assert_int_eq(pg->kind, CK_V_LIST);
	is_text(dget(pg->u.seq.items[0], "params"), "[0, 1]");
	ck_assert_int_eq(dget(pg->u.seq.items[0], "betas")->kind, CK_V_TUPLE);
	is_text(dget(pg->u.seq.items[0], "betas"), "(0.9, 0.999)");
}

START_TEST(t_torch_sd)
{
	struct ck_ckpt ck = {0};
	struct ck_value *v = load_fixture("torch_sd.pkl", &ck);
	ck_assert_uint_eq(ck.nstorages, 5);
	static const enum ck_dtype dts[] = {CK_DT_F32, CK_DT_F32, CK_DT_I64, CK_DT_F16, CK_DT_F32};
	static const uint64_t nb[] = {24, 8, 8, 4, 8};
	for (int i = 0; i < 5; i++) {
		char key[4];
		snprintf(key, sizeof key, "%d", i);
		ck_assert_str_eq(ck.storages[i].key, key);
		ck_assert_int_eq(ck.storages[i].dtype, dts[i]);
		ck_assert_uint_eq(ck.storages[i].nbytes, nb[i]);
	}
	check_torch_sd(v, &ck);
	struct ck_ckpt ck2 = {0};
	struct ck_value *back = roundtrip(v, &ck, &ck2);
	check_torch_sd(back, &ck2);
	ck_value_unref(back);
	ck_value_unref(v);
	ck_release(&ck);
	ck_release(&ck2);
}
END_TEST

START_TEST(t_torch_rebuilds)
{
	struct ck_ckpt ck = {0};
	struct ck_value *v = load_fixture("torch_rebuilds.pkl", &ck);
	ck_assert_uint_eq(ck.nstorages, 2);
	ck_assert_int_eq(ck.storages[1].dtype, CK_DT_U8); /* UntypedStorage: bytes */
	ck_assert_uint_eq(ck.storages[1].nbytes, 12);
	is_tensor(&ck, dget(v, "sub"), CK_DT_F32, 2, I64(2, 2), I64(2, 1), 0, "0", 0, 0);
	is_tensor(&ck, dget(v, "subparam"), CK_DT_F32, 1, I64(3), I64(1), 1, "0", 1, 1);
	is_tensor(&ck, dget(v, "legacy"), CK_DT_F32, 1, I64(2), I64(1), 2, "0", 0, 0);
	is_tensor(&ck, dget(v, "withstate"), CK_DT_F32, 1, I64(4), I64(1), 0, "0", 1, 1);
	is_tensor(&ck, dget(v, "u16"), CK_DT_U16, 2, I64(2, 3), I64(3, 1), 0, "1", 0, 0);
	struct ck_value *sz = dget(v, "size");
	ck_assert_int_eq(sz->kind, CK_V_TUPLE);
	is_text(sz, "(4, 5)");
	struct ck_value *dev = dget(v, "device");
	ck_assert_int_eq(dev->kind, CK_V_OBJECT);
	is_global(dev->u.obj.callable, "torch", "device");
	is_text(dev->u.obj.args, "('cpu',)");
	ck_assert_ptr_null(dev->u.obj.state);
	struct ck_ckpt ck2 = {0};
	struct ck_value *back = roundtrip(v, &ck, &ck2);
	is_tensor(&ck2, dget(back, "u16"), CK_DT_U16, 2, I64(2, 3), I64(3, 1), 0, "1", 0, 0);
	ck_assert_uint_eq(ck2.storages[1].nbytes, 12);
	ck_value_unref(back);
	ck_value_unref(v);
	ck_release(&ck);
	ck_release(&ck2);
}
END_TEST

START_TEST(t_numpy_opaque)
{
	struct ck_ckpt ck = {0};
	struct ck_value *v = load_fixture("numpy_p2.pkl", &ck);
	struct ck_value *sc = dget(v, "scalar");
	ck_assert_int_eq(sc->kind, CK_V_OBJECT);
	is_global(sc->u.obj.callable, "numpy.core.multiarray", "scalar");
	ck_assert_uint_eq(sc->u.obj.args->u.seq.n, 2);
	struct ck_value *dt = sc->u.obj.args->u.seq.items[0];
	ck_assert_int_eq(dt->kind, CK_V_OBJECT);
	is_global(dt->u.obj.callable, "numpy", "dtype");
	ck_assert_ptr_nonnull(dt->u.obj.state); /* dtype's BUILD state tuple */
	double f = 1.5;
	is_bytes(sc->u.obj.args->u.seq.items[1], (const char *)&f, 8);
	struct ck_value *arr = dget(v, "arr");
	is_global(arr->u.obj.callable, "numpy.core.multiarray", "_reconstruct");
	is_global(arr->u.obj.args->u.seq.items[0], "numpy", "ndarray");
	struct ck_value *st = arr->u.obj.state;
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(st->kind, CK_V_TUPLE);
	ck_assert_uint_eq(st->u.seq.n, 5);
	is_text(st->u.seq.items[1], "(3,)");
	is_bytes(st->u.seq.items[4], "\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00", 12);
	is_global(dget(v, "dt")->u.obj.callable, "numpy", "dtype");
	struct ck_ckpt ck2 = {0};
	ck_value_unref(roundtrip(v, &ck, &ck2));
	ck_value_unref(v);
}
END_TEST

START_TEST(t_evil_fixtures)
{
	static const struct { const char *file, *msg; } cases[] = {
		{"evil_os_system.pkl", "evil_os_system.pkl: unsupported global 'posix.system'"},
		{"evil_eval.pkl", "evil_eval.pkl: unsupported global 'builtins.eval'"},
		{"evil_popen_p4.pkl", "evil_popen_p4.pkl: unsupported global 'subprocess.Popen'"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;
		uint8_t *buf = slurp(cases[i].file, &len);
		struct ck_ckpt ck = {0};
		struct ck_pickle_hooks h = {.persistent_load = pid_load, .ctx = &ck, .ck = &ck};
		struct ck_value *v = NULL;
		struct ck_error err = {0};
		ck_assert_int_eq(ck_pickle_load(buf, len, &h, cases[i].file, &v, NULL, &err), CK_EUNSAFE);
		ck_assert_int_eq(err.code, CK_EUNSAFE);
		ck_assert_str_eq(err.msg, cases[i].msg);
		ck_assert_ptr_null(v);
		free(buf);
	}
}
END_TEST

/* ---- hostile and broken input --------------------------------------------- */

/* A valid tensor rebuild call around a pid, with SIZE and STRIDE spliced in. */
#define PID "(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x00" "0X\x03\x00\x00\x00" "cpuK\x04tQ"
#define V2 "\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n(" PID

static const struct hostile {
	const char *desc;
	const char *bytes;
	size_t len;
	ck_err code;
	const char *msg;   /* substring of err.msg */
} hostile[] = {
	{"os.system via REDUCE", B("\x80\x02" "cos\nsystem\nX\x02\x00\x00\x00ls\x85R."), CK_EUNSAFE,
	 "h.pkl: unsupported global 'os.system'"},
	{"builtins.eval", B("\x80\x02" "cbuiltins\neval\nX\x03\x00\x00\x00" "1+1\x85R."), CK_EUNSAFE,
	 "unsupported global 'builtins.eval'"},
	{"__builtin__.eval (py2 name)", B("c__builtin__\neval\n."), CK_EUNSAFE, "'builtins.eval'"},
	{"STACK_GLOBAL subprocess.Popen", B("\x80\x04\x8c\x0asubprocess\x8c\x05Popen\x93)R."), CK_EUNSAFE,
	 "unsupported global 'subprocess.Popen'"},
	{"INST os.system", B("(S'ls'\nios\nsystem\n."), CK_EUNSAFE, "'os.system'"},
	{"OBJ with unsafe class", B("(cos\nsystem\nS'ls'\no."), CK_EUNSAFE, "'os.system'"},
	{"torch.load global", B("ctorch\nload\n."), CK_EUNSAFE, "'torch.load'"},
	{"torch attribute not a dtype", B("ctorch\n_C\n."), CK_EUNSAFE, "'torch._C'"},
	{"numpy.load", B("cnumpy\nload\n."), CK_EUNSAFE, "'numpy.load'"},
	{"global with NUL", B("cos\0x\nsystem\n."), CK_EUNSAFE, "unsupported global"},
	{"STACK_GLOBAL of ints", B("K\x01K\x02\x93."), CK_EFORMAT, "STACK_GLOBAL"},
	{"empty input", "", 0, CK_EFORMAT, "empty pickle"},
	{"missing STOP", B("\x80\x02K\x01"), CK_EFORMAT, "no STOP"},
	{"STOP on empty stack", B("\x80\x02."), CK_EFORMAT, "underflow"},
	{"APPEND underflow", B("\x80\x02" "a."), CK_EFORMAT, "underflow"},
	{"SETITEM underflow", B("}K\x01s."), CK_EFORMAT, "underflow"},
	{"REDUCE underflow", B(")R."), CK_EFORMAT, "underflow"},
	{"TUPLE2 underflow", B("K\x01\x86."), CK_EFORMAT, "underflow"},
	{"TUPLE without MARK", B("\x80\x02K\x01t."), CK_EFORMAT, "no MARK"},
	{"SETITEMS without MARK", B("}u."), CK_EFORMAT, "no MARK"},
	{"STOP inside MARK", B("(K\x01."), CK_EFORMAT, "unbalanced MARK"},
	{"APPEND across MARK", B("]K\x01(a."), CK_EFORMAT, "underflow"},
	{"APPENDS with nothing below", B("(e."), CK_EFORMAT, "underflow"},
	{"APPENDS to a dict", B("}(K\x01" "e."), CK_EFORMAT, "non-list"},
	{"APPENDS to a set", B("\x8f(K\x01" "e."), CK_EFORMAT, "non-list"},
	{"ADDITEMS to a list", B("](K\x01\x90."), CK_EFORMAT, "ADDITEMS to a non-set"},
	{"SETITEM on a list", B("]K\x01K\x02s."), CK_EFORMAT, "non-dict"},
	{"odd SETITEMS", B("}(K\x01u."), CK_EFORMAT, "odd number"},
	{"POP_MARK without MARK", B("K\x01" "1."), CK_EFORMAT, "no MARK"},
	{"unknown opcode", B("\x80\x02\xff."), CK_EFORMAT, "unknown pickle opcode 0xff at offset 2"},
	{"protocol 6", B("\x80\x06N."), CK_EFORMAT, "protocol 6"},
	{"EXT1", B("\x82\x01."), CK_EUNSUP, "0x82"},
	{"NEXT_BUFFER", B("\x97."), CK_EUNSUP, "0x97"},
	{"huge BINUNICODE length", B("\x80\x02X\xff\xff\xff\xff" "abc."), CK_EFORMAT, "truncated"},
	{"huge BINUNICODE8 length", B("\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff" "a."), CK_EFORMAT, "truncated"},
	{"huge BINBYTES8 length", B("\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x80."), CK_EFORMAT, "truncated"},
	{"huge LONG4 length", B("\x80\x02\x8b\xff\xff\xff\x7f\x01."), CK_EFORMAT, "truncated"},
	{"negative LONG4 length", B("\x80\x02\x8b\xff\xff\xff\xff."), CK_EFORMAT, "negative"},
	{"negative BINSTRING length", B("T\xff\xff\xff\xff."), CK_EFORMAT, "negative"},
	{"BINUNICODE not UTF-8", B("X\x02\x00\x00\x00\xc3\x28."), CK_EFORMAT, "UTF-8"},
	{"overlong UTF-8", B("X\x02\x00\x00\x00\xc0\xaf."), CK_EFORMAT, "UTF-8"},
	{"unterminated GLOBAL", B("cos"), CK_EFORMAT, "unterminated"},
	{"bad INT text", B("I12x\n."), CK_EFORMAT, "integer"},
	{"bad FLOAT text", B("F1.5zz\n."), CK_EFORMAT, "FLOAT"},
	{"bad STRING quotes", B("S'abc\n."), CK_EFORMAT, "STRING"},
	{"memo self-append", B("]q\x00h\x00" "a."), CK_EFORMAT, "memo cycle"},
	{"memo self-setitem", B("}q\x00K\x01h\x00s."), CK_EFORMAT, "memo cycle"},
	{"memo cycle via parent", B("]q\x00]h\x00" "aa."), CK_EFORMAT, "memo cycle"},
	{"memo cycle through tuple", B("]q\x00h\x00\x85" "a."), CK_EFORMAT, "memo cycle"},
	{"DUP self-append", B("]2a."), CK_EFORMAT, "memo cycle"},
	{"BUILD state holding the dict", B("ccollections\nOrderedDict\n)Rq\x00}X\x01\x00\x00\x00" "ah\x00sb."),
	 CK_EFORMAT, "memo cycle"},
	{"set adds itself", B("\x8fq\x00(h\x00\x90."), CK_EFORMAT, "memo cycle"},
	{"huge LONG_BINPUT", B("Nr\xff\xff\xff\xff."), CK_ELIMIT, "memo index"},
	{"missing memo key", B("h\x05."), CK_EFORMAT, "memo key 5 missing"},
	{"missing huge memo key", B("Nr\x00\x00\x01\x00j\xf0\xff\xff\xff."), CK_EFORMAT, "missing"},
	{"text GET bad index", B("gx\n."), CK_EFORMAT, "memo index"},
	{"persistent id without hook", B("K\x01Q."), CK_EUNSUP, "persistent id"},
	{"REDUCE of a string", B("X\x01\x00\x00\x00" "a)R."), CK_EFORMAT, "non-global"},
	{"REDUCE args not a tuple", B("ccollections\nOrderedDict\n]R."), CK_EFORMAT, "not a tuple"},
	{"storage class called", B("ctorch\nFloatStorage\n)R."), CK_EUNSUP, "not callable"},
	{"qtensor", B("ctorch._utils\n_rebuild_qtensor\n)R."), CK_EUNSUP, "unsupported tensor kind"},
	{"NEWOBJ_EX kwargs", B("ccollections\nOrderedDict\n)}K\x01K\x02s\x92."), CK_EUNSUP, "keyword"},
	{"BUILD on a list", B("]}b."), CK_EFORMAT, "BUILD"},
	{"BUILD with state on a tensor", B(V2 "K\x00))\x89" "ccollections\nOrderedDict\n)RtR}K\x01K\x01sb."),
	 CK_EUNSUP, "python attributes"},
	{"_codecs.encode rot13", B("c_codecs\nencode\nX\x01\x00\x00\x00" "aX\x05\x00\x00\x00rot13\x86R."),
	 CK_EUNSUP, "encoding"},
	{"latin1 of a non-latin1 str", B("c_codecs\nencode\nX\x03\x00\x00\x00\xe2\x82\xacX\x06\x00\x00\x00latin1\x86R."),
	 CK_EFORMAT, "latin-1"},
	{"OrderedDict of non-pairs", B("ccollections\nOrderedDict\n]K\x01" "a\x85R."), CK_EFORMAT, "pair"},
	/* tensor rebuilds */
	{"tensor storage not persistent", B("\x80\x02" "ctorch._utils\n_rebuild_tensor_v2\n(K\x00K\x00)))\x89NtR."),
	 CK_EFORMAT, "persistent storage"},
	{"tensor wrong arg count", B(V2 "K\x00)tR."), CK_EFORMAT, "arguments"},
	{"tensor negative size", B(V2 "K\x00J\xff\xff\xff\xff\x85K\x01\x85\x89NtR."), CK_EFORMAT, "size"},
	{"tensor negative offset", B(V2 "J\xff\xff\xff\xff)K\x01\x85\x89NtR."), CK_EFORMAT, "offset"},
	{"tensor stride length differs", B(V2 "K\x00K\x02\x85)\x89NtR."), CK_EFORMAT, "stride"},
	{"tensor size of strings", B(V2 "K\x00X\x01\x00\x00\x00" "a\x85K\x01\x85\x89NtR."), CK_EFORMAT, "size"},
	{"tensor size overflows", B(V2 "K\x00\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x40\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x40"
				   "\x86K\x01K\x01\x86\x89NtR."), CK_ELIMIT, "overflows"},
	{"tensor v3 with a non-dtype", B("\x80\x02" "ctorch._utils\n_rebuild_tensor_v3\n(" PID
					 "K\x00))\x89Nctorch\nFloatStorage\ntR."), CK_EFORMAT, "not a torch dtype"},
	{"tensor v3 with unknown dtype", B("\x80\x02" "ctorch._utils\n_rebuild_tensor_v3\n(" PID
					   "K\x00))\x89Nctorch\ncomplex32\ntR."), CK_EUNSUP, "complex32"},
	{"parameter of a non-tensor", B("ctorch._utils\n_rebuild_parameter\nK\x01\x88N\x87R."), CK_EFORMAT, "non-tensor"},
	{"from_type with unknown type", B("ctorch._tensor\n_rebuild_from_type_v2\n(ctorch._utils\n_rebuild_tensor_v2\n"
					  "ccollections\nOrderedDict\n)}tR."), CK_EUNSUP, "tensor type"},
	{"from_type nested", B("ctorch._tensor\n_rebuild_from_type_v2\n(ctorch._tensor\n_rebuild_from_type_v2\n"
			       "ctorch\nTensor\n)}tR."), CK_EFORMAT, "_rebuild_from_type_v2"},
};

/* For the "tensor ndim over 64" row, built at run time. */
static size_t ndim65(uint8_t *buf)
{
	size_t n = 0;
	static const char head[] = V2 "K\x00(";
	memcpy(buf, head, sizeof head - 1);
	n = sizeof head - 1;
	for (int i = 0; i < 65; i++) {
		buf[n++] = 'K';
		buf[n++] = 1;
	}
	static const char tail[] = "t)\x89NtR.";
	memcpy(buf + n, tail, sizeof tail - 1);
	return n + sizeof tail - 1;
}

START_TEST(t_hostile)
{
	for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
		const struct hostile *h = &hostile[i];
		struct ck_ckpt ck = {0};
		struct ck_pickle_hooks hooks = {.persistent_load = pid_load, .ctx = &ck, .ck = &ck};
		int nohook = strstr(h->desc, "without hook") != NULL;
		struct ck_value *v = NULL;
		struct ck_error err = {0};
		ck_err rc = ck_pickle_load((const uint8_t *)h->bytes, h->len, nohook ? NULL : &hooks, "h.pkl",
					   &v, NULL, &err);
		ck_assert_msg(rc == h->code, "%s: got %s (%s), want %s", h->desc, ck_err_name(rc), err.msg,
			      ck_err_name(h->code));
		ck_assert_msg(strstr(err.msg, h->msg) != NULL, "%s: message '%s' lacks '%s'", h->desc, err.msg, h->msg);
		ck_assert_msg(strncmp(err.msg, "h.pkl: ", 7) == 0, "%s: message '%s' lacks the name", h->desc, err.msg);
		ck_assert_ptr_null(v);
		ck_release(&ck);
	}
	uint8_t buf[512];
	size_t n = ndim65(buf);
	struct ck_ckpt ck = {0};
	struct ck_value *v = NULL;
	struct ck_error err = {0};
	ck_assert_int_eq(load_buf(buf, n, &ck, &v, &err), CK_ELIMIT);
	ck_assert(strstr(err.msg, "65 dimensions"));
	ck_release(&ck);
}
END_TEST

/* The well-formed cousins of the table rows load, so the table tests the defect. */
START_TEST(t_hostile_controls)
{
	static const struct { const char *bytes; size_t len; const char *repr; } ok[] = {
		{B("]q\x00h\x00\x85."), "([],)"},                /* a shared list is fine */
		{B("]q\x00]h\x00" "a."), "[[]]"},
		{B("Nr\x00\x00\x01\x00j\x00\x00\x01\x00."), "None"}, /* sparse memo index */
		{B("\x8fq\x00(K\x01K\x02\x90."), "{1, 2}"},
		{B("ccollections\nOrderedDict\n)Rq\x00}X\x01\x00\x00\x00" "aK\x01sb."), "{}"},
		{B("ccollections\nOrderedDict\n]K\x01K\x02\x86" "a\x85R."), "{1: 2}"},
		{B("ccollections\nOrderedDict\n)}\x92."), "{}"},
		{B("K\x01(K\x02\x30\x30."), "1"},                 /* POP pops the empty mark */
		{B("(K\x01K\x02l."), "[1, 2]"},
		{B("(K\x01K\x02" "d."), "{1: 2}"},
		{B("\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x07\x94."), "7"},
		{B("I01\nI00\n\x86."), "(True, False)"},
		{B("L-12345678901234567890L\n."), "-12345678901234567890"},
		{B("I-9223372036854775808\n."), "-9223372036854775808"},
		{B("F1e-08\n."), "1e-08"},
		{B("S'a\\'b\\n\\x41'\n."), "a'b\nA"},
		{B("U\x03\xe9t\xe9."), "\xc3\xa9t\xc3\xa9"},          /* py2 str in latin-1 */
		{B("V\\u20ac\\U0001F600x\n."), "\xe2\x82\xac\xf0\x9f\x98\x80x"},
		{B("\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01."), "18446744073709551616"},
		{B("\x8a\x09\xff\xff\xff\xff\xff\xff\xff\xff\x00."), "18446744073709551615"},
		{B("\x8a\x02\xff\xff."), "-1"},
		{B("\x8a\x00."), "0"},
		{B("ctorch.tensor\n_rebuild_from_type_v2\n."), "<torch._tensor._rebuild_from_type_v2>"},
		{B("c__builtin__\nset\n]K\x01" "a\x85R."), "{1}"},
		{B("ctorch\nSize\nK\x02K\x03\x86\x85R."), "(2, 3)"},
		{B("ctorch\nbfloat16\n."), "<torch.bfloat16>"},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		struct ck_value *v = NULL;
		struct ck_error err = {0};
		size_t used = 0;
		ck_err rc = ck_pickle_load((const uint8_t *)ok[i].bytes, ok[i].len, NULL, "ok.pkl", &v, &used, &err);
		ck_assert_msg(rc == CK_OK, "control %zu: %s", i, err.msg);
		ck_assert_uint_eq(used, ok[i].len);
		is_text(v, ok[i].repr);
		ck_value_unref(v);
	}
}
END_TEST

START_TEST(t_truncated)
{
	static const char *files[] = {"values_p2.pkl", "values_p4.pkl", "values_p0.pkl", "torch_sd.pkl",
				      "torch_rebuilds.pkl", "numpy_p2.pkl"};
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		size_t len;
		uint8_t *buf = slurp(files[f], &len);
		for (size_t cut = 0; cut < len; cut++) {
			uint8_t *copy = malloc(cut ? cut : 1); /* exact size so ASan sees over-reads */
			memcpy(copy, buf, cut);
			struct ck_ckpt ck = {0};
			struct ck_value *v = NULL;
			struct ck_error err = {0};
			ck_err rc = load_buf(copy, cut, &ck, &v, &err);
			ck_assert_msg(rc == CK_EFORMAT, "%s cut at %zu: %s %s", files[f], cut, ck_err_name(rc), err.msg);
			ck_assert_ptr_null(v);
			ck_release(&ck);
			free(copy);
		}
		free(buf);
	}
}
END_TEST

static uint8_t *repeat(const char *head, const char *unit, size_t times, const char *mid, const char *unit2,
		       size_t times2, const char *tail, size_t *len)
{
	size_t hl = strlen(head), ul = strlen(unit), ml = strlen(mid), u2 = strlen(unit2), tl = strlen(tail);
	*len = hl + ul * times + ml + u2 * times2 + tl;
	uint8_t *b = malloc(*len), *p = b;
	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < times; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, mid, ml);
	p += ml;
	for (size_t i = 0; i < times2; i++, p += u2)
		memcpy(p, unit2, u2);
	memcpy(p, tail, tl);
	return b;
}

START_TEST(t_deep)
{
	/* unit x n, mid, unit2 x n */
	static const struct { const char *unit, *mid, *unit2; size_t n; ck_err code; } cases[] = {
		{"]", "]", "a", 100000, CK_ELIMIT},         /* 100000 nested lists */
		{"(", "", "l", 100000, CK_ELIMIT},          /* 100000 MARKs */
		{"}K\x01", "}", "s", 100000, CK_ELIMIT},   /* dict in dict in ... */
		{"\x85", "N", "\x85", 50000, CK_ELIMIT},   /* tuple of tuple of ... */
		{"]", "]", "a", 999, CK_OK},                /* depth 999 is allowed */
		{"]", "]", "a", 1001, CK_ELIMIT},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len;
		int tup = cases[i].unit[0] == '\x85';
		uint8_t *b = repeat("\x80\x02", tup ? "" : cases[i].unit, cases[i].n, cases[i].mid, cases[i].unit2,
				    cases[i].n, ".", &len);
		struct ck_value *v = NULL;
		struct ck_error err = {0};
		ck_err rc = ck_pickle_load(b, len, NULL, "deep.pkl", &v, NULL, &err);
		ck_assert_msg(rc == cases[i].code, "case %zu: %s %s", i, ck_err_name(rc), err.msg);
		if (rc == CK_OK) {
			ck_assert_int_eq(v->depth, 999);
			/* the writer copes with what the reader allows */
			struct ck_buf out;
			dump(v, NULL, &out);
			ck_buf_release(&out);
		}
		ck_value_unref(v);
		free(b);
	}
}
END_TEST

START_TEST(t_hook_error)
{
	size_t len;
	uint8_t *buf = slurp("torch_sd.pkl", &len);
	struct ck_pickle_hooks h = {.persistent_load = pid_fail};
	struct ck_value *v = NULL;
	struct ck_error err = {0};
	ck_assert_int_eq(ck_pickle_load(buf, len, &h, "x.pkl", &v, NULL, &err), CK_EIO);
	ck_assert_str_eq(err.msg, "test: storage refused");
	ck_assert_ptr_null(v);
	/* a storage value with no storage table cannot make a tensor */
	struct ck_ckpt ck = {0};
	struct ck_pickle_hooks h2 = {.persistent_load = pid_load, .ctx = &ck, .ck = NULL};
	ck_assert_int_eq(ck_pickle_load(buf, len, &h2, "x.pkl", &v, NULL, &err), CK_EFORMAT);
	ck_assert(strstr(err.msg, "storage index"));
	ck_release(&ck);
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pickle");
	TCase *tc = tcase_create("reader");
	tcase_add_loop_test(tc, t_values, 0, 3);
	tcase_add_test(tc, t_values_p0);
	tcase_add_test(tc, t_torch_sd);
	tcase_add_test(tc, t_torch_rebuilds);
	tcase_add_test(tc, t_numpy_opaque);
	tcase_add_test(tc, t_evil_fixtures);
	tcase_add_test(tc, t_hostile);
	tcase_add_test(tc, t_hostile_controls);
	tcase_add_test(tc, t_truncated);
	tcase_add_test(tc, t_deep);
	tcase_add_test(tc, t_hook_error);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
