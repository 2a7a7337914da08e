/*
 * test_pickle_write.c — the pickle writer: CPython's exact spelling of each
 * value, round trips (dump -> load -> equal, shared tensors stay one object,
 * int keys stay ints), errors, real torch.load of the output
 * (tests/data/pickle/check_writer.py), and a byte-flip fuzz loop over the
 * reader whose every success must also survive dump -> load.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pickle_util.h"

/* ---- writer ---------------------------------------------------------------- */

static struct ck_value *mk_tensor(enum ck_dtype dt, int ndim, const int64_t *shape, const int64_t *stride,
				  int64_t off, long storage, int rg, int param)
{
	struct ck_tensor *t = ck_tensor_new(dt, ndim);
	ck_assert(t);
	for (int i = 0; i < ndim; i++) {
		t->shape[i] = shape[i];
		t->stride[i] = stride[i];
	}
	t->offset = off;
	t->storage = storage;
	t->requires_grad = (uint8_t)rg;
	t->is_param = (uint8_t)param;
	ck_assert(ck_tensor_update_nbytes(t));
	return ck_value_tensor(t);
}

static void set(struct ck_value *d, struct ck_value *k, struct ck_value *v)
{
	ck_assert_int_eq(ck_value_setitem(d, k, v), CK_OK);
}
static void sets(struct ck_value *d, const char *k, struct ck_value *v) { set(d, ck_value_str(k), v); }

static struct ck_value *mk_seq(enum ck_vkind kind, int n, ...)
{
	struct ck_value *s = ck_value_new(kind);
	va_list ap;
	va_start(ap, n);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(ck_value_append(s, va_arg(ap, struct ck_value *)), CK_OK);
	va_end(ap);
	return s;
}

/* The tree check_writer.py expects; weights = the float-free subset that
 * torch 1.13's weights_only unpickler accepts. */
static struct ck_value *sample_tree(struct ck_ckpt *ck, int weights)
{
	static const struct { const char *key; enum ck_dtype dt; uint64_t nbytes; } st[] = {
		{"0", CK_DT_F32, 24}, {"1", CK_DT_F32, 8}, {"2", CK_DT_I64, 8},
		{"3", CK_DT_F16, 4}, {"4", CK_DT_BF16, 4}, {"5", CK_DT_BOOL, 3},
	};
	for (size_t i = 0; i < 6; i++)
		ck_assert_int_eq(ck_ckpt_add_storage(ck, st[i].key, st[i].dt, st[i].nbytes, -1, 0), (long)i);
	struct ck_value *root = ck_value_new(CK_V_DICT);
	root->u.dict.ordered = 1;
	struct ck_value *w = mk_tensor(CK_DT_F32, 2, I64(2, 3), I64(3, 1), 0, 0, 0, 0);
	sets(root, "w", w);
	sets(root, "tied", ck_value_ref(w));
	sets(root, "view", mk_tensor(CK_DT_F32, 1, I64(3), I64(1), 3, 0, 0, 0));
	if (!weights)
		sets(root, "t", mk_tensor(CK_DT_F32, 2, I64(3, 2), I64(1, 3), 0, 0, 0, 0));
	sets(root, "b", mk_tensor(CK_DT_F32, 1, I64(2), I64(1), 0, 1, 1, 1));
	if (weights) {
		set(root, ck_value_int(7), ck_value_str("seven"));
		return root;
	}
	sets(root, "i", mk_tensor(CK_DT_I64, 0, NULL, NULL, 0, 2, 0, 0));
	sets(root, "h", mk_tensor(CK_DT_F16, 1, I64(2), I64(1), 0, 3, 0, 0));
	sets(root, "bf", mk_tensor(CK_DT_BF16, 1, I64(2), I64(1), 0, 4, 0, 0));
	sets(root, "bool", mk_tensor(CK_DT_BOOL, 1, I64(3), I64(1), 0, 5, 0, 0));
	struct ck_value *m = ck_value_new(CK_V_DICT);
	set(m, ck_value_int(1), ck_value_str("one"));
	sets(m, "f", ck_value_float(0.001));
	sets(m, "big", ck_value_strn(CK_V_BIGINT, "\0\0\0\0\0\0\0\0\x40", 9));
	sets(m, "neg", ck_value_int(-((int64_t)1 << 40)));
	sets(m, "bytes", ck_value_strn(CK_V_BYTES, "\x00\xff", 2));
	sets(m, "set", mk_seq(CK_V_SET, 1, ck_value_int(3)));
	sets(m, "tup", mk_seq(CK_V_TUPLE, 5, ck_value_int(1), ck_value_int(2), ck_value_int(3), ck_value_int(4),
			      ck_value_int(5)));
	sets(m, "none", ck_value_new(CK_V_NONE));
	sets(m, "yes", ck_value_bool(1));
	sets(m, "lst", mk_seq(CK_V_LIST, 2, ck_value_float(1.5), ck_value_str("x")));
	sets(root, "meta", m);
	struct ck_value *md = ck_value_new(CK_V_DICT), *ver = ck_value_new(CK_V_DICT);
	md->u.dict.ordered = 1;
	sets(ver, "version", ck_value_int(1));
	sets(md, "", ver);
	root->u.dict.attrs = ck_value_new(CK_V_DICT);
	sets(root->u.dict.attrs, "_metadata", md);
	return root;
}

START_TEST(t_roundtrip_built)
{
	struct ck_ckpt ck = {0}, ck2 = {0};
	struct ck_value *root = sample_tree(&ck, 0);
	struct ck_value *back = roundtrip(root, &ck, &ck2);
	ck_assert_int_eq(back->u.dict.ordered, 1);
	ck_assert_ptr_eq(dget(back, "tied"), dget(back, "w"));     /* shared tensor stays one object */
	ck_assert_ptr_ne(dget(back, "view"), dget(back, "w"));
	ck_assert_int_eq(dget(back, "view")->u.t->storage, dget(back, "w")->u.t->storage);
	is_tensor(&ck2, dget(back, "b"), CK_DT_F32, 1, I64(2), I64(1), 0, "1", 1, 1);
	is_tensor(&ck2, dget(back, "t"), CK_DT_F32, 2, I64(3, 2), I64(1, 3), 0, "0", 0, 0);
	struct ck_value *m = dget(back, "meta");
	ck_assert_int_eq(m->u.dict.keys[0]->kind, CK_V_INT);         /* int keys stay ints */
	is_str(dgeti(m, 1), "one");
	is_text(dget(m, "big"), "1180591620717411303424");
	is_text(dget(m, "neg"), "-1099511627776");
	ck_assert_uint_eq(ck2.nstorages, 6);
	for (size_t i = 0; i < 6; i++) {
		ck_assert_str_eq(ck2.storages[i].key, ck.storages[i].key);
		ck_assert_int_eq(ck2.storages[i].dtype, ck.storages[i].dtype);
		ck_assert_uint_eq(ck2.storages[i].nbytes, ck.storages[i].nbytes);
	}
	is_text(dget(dget(back->u.dict.attrs, "_metadata"), ""), "{'version': 1}");
	ck_value_unref(back);
	ck_value_unref(root);
	ck_release(&ck);
	ck_release(&ck2);
}
END_TEST

/* CPython's spelling of each value (pickletools.optimize of pickle.dumps(x, 2)). */
static struct ck_value *writer_case(int i, const char **bytes, size_t *len)
{
#define C(n, expr, b) case n: *bytes = b; *len = sizeof(b) - 1; return expr
	switch (i) {
	C(0, ck_value_int(0), "\x80\x02K\x00.");
	C(1, ck_value_int(255), "\x80\x02K\xff.");
	C(2, ck_value_int(256), "\x80\x02M\x00\x01.");
	C(3, ck_value_int(65535), "\x80\x02M\xff\xff.");
	C(4, ck_value_int(65536), "\x80\x02J\x00\x00\x01\x00.");
	C(5, ck_value_int(-1), "\x80\x02J\xff\xff\xff\xff.");
	C(6, ck_value_int(2147483647), "\x80\x02J\xff\xff\xff\x7f.");
	C(7, ck_value_int(2147483648), "\x80\x02\x8a\x05\x00\x00\x00\x80\x00.");
	C(8, ck_value_int(-2147483648), "\x80\x02J\x00\x00\x00\x80.");
	C(9, ck_value_int(-2147483649), "\x80\x02\x8a\x05\xff\xff\xff\x7f\xff.");
	C(10, ck_value_int(INT64_MIN), "\x80\x02\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x80.");
	C(11, ck_value_int(INT64_MAX), "\x80\x02\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f.");
	C(12, ck_value_float(0.001), "\x80\x02G?PbM\xd2\xf1\xa9\xfc.");
	C(13, ck_value_float(-2.5), "\x80\x02G\xc0\x04\x00\x00\x00\x00\x00\x00.");
	C(14, ck_value_bool(1), "\x80\x02\x88.");
	C(15, ck_value_new(CK_V_NONE), "\x80\x02N.");
	C(16, ck_value_str("a"), "\x80\x02X\x01\x00\x00\x00" "a.");
	C(17, ck_value_new(CK_V_TUPLE), "\x80\x02).");
	C(18, mk_seq(CK_V_TUPLE, 1, ck_value_int(1)), "\x80\x02K\x01\x85.");
	C(19, mk_seq(CK_V_TUPLE, 3, ck_value_int(1), ck_value_int(2), ck_value_int(3)), "\x80\x02K\x01K\x02K\x03\x87.");
	C(20, mk_seq(CK_V_TUPLE, 4, ck_value_int(1), ck_value_int(2), ck_value_int(3), ck_value_int(4)),
	  "\x80\x02(K\x01K\x02K\x03K\x04t.");
	C(21, ck_value_new(CK_V_LIST), "\x80\x02].");
	C(22, mk_seq(CK_V_LIST, 1, ck_value_int(1)), "\x80\x02]K\x01" "a.");
	C(23, mk_seq(CK_V_LIST, 2, ck_value_int(1), ck_value_int(2)), "\x80\x02](K\x01K\x02" "e.");
	C(24, ck_value_new(CK_V_DICT), "\x80\x02}.");
	C(25, ck_value_strn(CK_V_BIGINT, "\0\0\0\0\0\0\0\0\x40", 9), "\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00@.");
	C(26, ck_value_strn(CK_V_BYTES, "\x00\xff", 2),
	  "\x80\x02" "c_codecs\nencode\nq\x00X\x03\x00\x00\x00\x00\xc3\xbfX\x06\x00\x00\x00latin1\x86R.");
	C(27, ck_value_new(CK_V_SET), "\x80\x02" "cbuiltins\nset\nq\x00]\x85R.");
	default: return NULL;
	}
#undef C
}

START_TEST(t_writer_bytes)
{
	const char *want;
	size_t wlen;
	struct ck_value *v;
	for (int i = 0; (v = writer_case(i, &want, &wlen)) != NULL; i++) {
		struct ck_buf b;
		dump(v, NULL, &b);
		ck_assert_msg(b.len == wlen && memcmp(b.p, want, b.len) == 0, "case %d differs", i);
		ck_buf_release(&b);
		ck_value_unref(v);
	}
	/* a dict in batches of 1000 SETITEMS, a list in batches of 1000 APPENDS */
	struct ck_value *d = ck_value_new(CK_V_DICT), *l = ck_value_new(CK_V_LIST);
	for (int i = 0; i < 2001; i++) {
		set(d, ck_value_int(i), ck_value_int(i));
		ck_value_append(l, ck_value_int(i));
	}
	struct ck_buf b;
	dump(d, NULL, &b);
	size_t u = 0, s = 0;
	for (size_t i = 0; i < b.len; i++) {
		u += b.p[i] == 'u';
		s += b.p[i] == 's';
	}
	ck_assert_uint_ge(u, 2);
	ck_assert_int_eq(b.p[b.len - 2], 's'); /* the 2001st pair alone */
	struct ck_value *back = NULL;
	struct ck_error err = {0};
	ck_assert_int_eq(ck_pickle_load(b.p, b.len, NULL, "d", &back, NULL, &err), CK_OK);
	ck_assert(deq(d, back, NULL, NULL));
	ck_value_unref(back);
	ck_buf_release(&b);
	dump(l, NULL, &b);
	ck_assert_int_eq(b.p[b.len - 2], 'a');
	ck_assert_int_eq(ck_pickle_load(b.p, b.len, NULL, "l", &back, NULL, &err), CK_OK);
	ck_assert(deq(l, back, NULL, NULL));
	ck_value_unref(back);
	ck_buf_release(&b);
	ck_value_unref(d);
	ck_value_unref(l);
}
END_TEST

START_TEST(t_writer_errors)
{
	struct ck_ckpt ck = {0};
	ck_ckpt_add_storage(&ck, "0", CK_DT_F32, 16, -1, 0);
	ck_ckpt_add_storage(&ck, "1", CK_DT_Q4_0, 18, -1, 0);
	struct ck_pickle_writer_ops ops = {ops_key, ops_numel, ops_dtype, &ck};
	struct {
		struct ck_value *v;
		ck_err code;
		const char *msg;
	} cases[] = {
		{mk_tensor(CK_DT_Q4_0, 1, I64(32), I64(1), 0, 1, 0, 0), CK_EUNSUP, "q4_0"},
		{mk_tensor(CK_DT_F32, 1, I64(4), I64(1), 0, -1, 0, 0), CK_EINVAL, "without storage"},
		{mk_tensor(CK_DT_F32, 1, I64(4), I64(1), 0, 1, 0, 0), CK_EINVAL, "differs"},
		{ck_value_new(CK_V_OBJECT), CK_EINVAL, "object"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ck_buf b;
		ck_buf_init(&b);
		struct ck_error err = {0};
		ck_assert_int_eq(ck_pickle_dump(cases[i].v, &ops, &b, &err), cases[i].code);
		ck_assert_msg(strstr(err.msg, cases[i].msg), "case %zu: %s", i, err.msg);
		ck_buf_release(&b);
		ck_value_unref(cases[i].v);
	}
	/* a storage typed unlike its tensor is renamed by bytes: 16 bytes of f32 = 2 int64 */
	struct ck_value *t = mk_tensor(CK_DT_I64, 1, I64(2), I64(1), 0, 0, 0, 0);
	struct ck_buf tb;
	dump(t, &ck, &tb);
	struct ck_ckpt ck2 = {0};
	struct ck_value *back = NULL;
	struct ck_error terr = {0};
	ck_assert_int_eq(load_buf(tb.p, tb.len, &ck2, &back, &terr), CK_OK);
	ck_assert_int_eq(ck2.storages[0].dtype, CK_DT_I64);
	ck_assert_uint_eq(ck2.storages[0].nbytes, 16);
	is_tensor(&ck2, back, CK_DT_I64, 1, I64(2), I64(1), 0, "0", 0, 0);
	ck_value_unref(back);
	ck_value_unref(t);
	ck_buf_release(&tb);
	ck_release(&ck2);
	/* nesting the reader would refuse is refused by the writer too */
	struct ck_value *top = ck_value_new(CK_V_LIST), *cur = top;
	for (int i = 0; i < 3000; i++) {
		struct ck_value *n = ck_value_new(CK_V_LIST);
		ck_value_append(cur, n);
		cur = n;
	}
	struct ck_buf b;
	ck_buf_init(&b);
	struct ck_error err = {0};
	ck_assert_int_eq(ck_pickle_dump(top, &ops, &b, &err), CK_ELIMIT);
	ck_buf_release(&b);
	/* freeing 3000 levels recursively is fine; unlink from the bottom anyway */
	ck_value_unref(top);
	ck_release(&ck);
}
END_TEST

/* New dtypes: _rebuild_tensor_v3 over an UntypedStorage counted in bytes. */
START_TEST(t_writer_v3)
{
	struct ck_ckpt ck = {0};
	ck_ckpt_add_storage(&ck, "0", CK_DT_U16, 12, -1, 0);
	ck_ckpt_add_storage(&ck, "1", CK_DT_F8E4M3, 4, -1, 0);
	struct ck_value *root = ck_value_new(CK_V_DICT);
	sets(root, "u16", mk_tensor(CK_DT_U16, 2, I64(2, 3), I64(3, 1), 0, 0, 0, 0));
	sets(root, "f8", mk_tensor(CK_DT_F8E4M3, 1, I64(4), I64(1), 0, 1, 0, 0));
	struct ck_buf b;
	dump(root, &ck, &b);
	static const struct { const char *s; size_t n; } want[] = {
		{B("ctorch._utils\n_rebuild_tensor_v3\n")}, {B("ctorch.storage\nUntypedStorage\n")},
		{B("ctorch\nuint16\n")}, {B("ctorch\nfloat8_e4m3fn\n")},
		{B("X\x03\x00\x00\x00" "cpuK\x0c" "t")},   /* numel = 12 bytes */
		{B("X\x03\x00\x00\x00" "cpuK\x04" "t")},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		ck_assert_msg(memmem(b.p, b.len, want[i].s, want[i].n), "missing %zu", i);
	ck_assert_ptr_null(memmem(b.p, b.len, "_rebuild_tensor_v2", 18));
	struct ck_ckpt ck2 = {0};
	struct ck_value *back = NULL;
	struct ck_error err = {0};
	ck_assert_int_eq(load_buf(b.p, b.len, &ck2, &back, &err), CK_OK);
	is_tensor(&ck2, dget(back, "u16"), CK_DT_U16, 2, I64(2, 3), I64(3, 1), 0, "0", 0, 0);
	is_tensor(&ck2, dget(back, "f8"), CK_DT_F8E4M3, 1, I64(4), I64(1), 0, "1", 0, 0);
	ck_assert_int_eq(ck2.storages[0].dtype, CK_DT_U8);
	ck_assert_uint_eq(ck2.storages[0].nbytes, 12);
	ck_value_unref(back);
	ck_value_unref(root);
	ck_buf_release(&b);
	ck_release(&ck);
	ck_release(&ck2);
}
END_TEST

/* Real torch.load of the writer's output (tests/data/pickle/check_writer.py). */
START_TEST(t_python_check)
{
	const char *py = getenv("PYTHON") ? getenv("PYTHON") : "/usr/bin/python3";
	const char *src = getenv("CK_SRC") ? getenv("CK_SRC") : ".";
	if (access(py, X_OK) != 0) {
		fprintf(stderr, "t_python_check: skipped, no %s\n", py);
		return;
	}
	char dir[] = "/tmp/ck-pickle-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (int weights = 0; weights < 2; weights++) {
		struct ck_ckpt ck = {0};
		struct ck_value *root = sample_tree(&ck, weights);
		struct ck_buf b;
		dump(root, &ck, &b);
		char path[256], cmd[1024];
		snprintf(path, sizeof path, "%s/data%d.pkl", dir, weights);
		FILE *f = fopen(path, "wb");
		ck_assert(f && fwrite(b.p, 1, b.len, f) == b.len);
		fclose(f);
		snprintf(cmd, sizeof cmd, "%s %s/tests/data/pickle/check_writer.py %s %s 2>&1", py, src,
			 weights ? "weights" : "full", path);
		FILE *p = popen(cmd, "r");
		ck_assert(p);
		char out[4096] = "";
		size_t n = fread(out, 1, sizeof out - 1, p);
		out[n] = 0;
		int st = pclose(p);
		unlink(path);
		if (WIFEXITED(st) && WEXITSTATUS(st) == 77) {
			fprintf(stderr, "t_python_check: skipped: %s", out);
		} else {
			ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "torch.load check failed: %s", out);
			ck_assert_msg(strncmp(out, "ok ", 3) == 0, "unexpected output: %s", out);
		}
		ck_buf_release(&b);
		ck_value_unref(root);
		ck_release(&ck);
	}
	rmdir(dir);
}
END_TEST

/* ---- fuzz ----------------------------------------------------------------- */

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

START_TEST(t_fuzz)
{
	static const char *files[] = {"values_p2.pkl", "values_p4.pkl", "values_p5.pkl", "values_p0.pkl",
				      "torch_sd.pkl", "torch_rebuilds.pkl", "numpy_p2.pkl"};
	static const uint8_t interesting[] = {0x00, 0xff, 0x7f, 0x80, '(', ')', ']', '}', 'a', 'e', 's', 'u', 'h',
					      'q', 'R', 'b', 'Q', '.', 't', 0x85, 0x94, 0x93, '2', '0', '1'};
	size_t ok = 0, total = 0;
	int iters = getenv("CK_FUZZ_ITERS") ? atoi(getenv("CK_FUZZ_ITERS")) : 3000;
	for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
		size_t len;
		uint8_t *seed = slurp(files[f], &len);
		for (int it = 0; it < iters; it++) {
			size_t n = len;
			if (rnd() % 8 == 0)
				n = rnd() % len;
			uint8_t *buf = malloc(n ? n : 1);
			memcpy(buf, seed, n);
			int flips = 1 + (int)(rnd() % 4);
			for (int k = 0; k < flips && n; k++) {
				size_t at = rnd() % n;
				buf[at] = (rnd() % 2) ? (uint8_t)rnd() : interesting[rnd() % sizeof interesting];
			}
			struct ck_ckpt ck = {0};
			struct ck_value *v = NULL;
			struct ck_error err = {0};
			ck_err rc = load_buf(buf, n, &ck, &v, &err);
			total++;
			if (rc == CK_OK) {
				ok++;
				ck_assert_ptr_nonnull(v);
				free(ck_value_text(v));
				struct ck_pickle_writer_ops ops = {ops_key, ops_numel, ops_dtype, &ck};
				struct ck_buf b;
				ck_buf_init(&b);
				if (ck_pickle_dump(v, &ops, &b, &err) == CK_OK) {
					struct ck_ckpt ck2 = {0};
					struct ck_value *back = NULL;
					ck_assert_msg(load_buf(b.p, b.len, &ck2, &back, &err) == CK_OK,
						      "%s iter %d: writer output unreadable: %s", files[f], it, err.msg);
					ck_assert_msg(deq(v, back, &ck, &ck2), "%s iter %d: round trip differs", files[f], it);
					ck_value_unref(back);
					ck_release(&ck2);
				}
				ck_buf_release(&b);
				ck_value_unref(v);
			} else {
				ck_assert_ptr_null(v);
				ck_assert(err.msg[0] != 0);
			}
			ck_release(&ck);
			free(buf);
		}
		free(seed);
	}
	fprintf(stderr, "t_fuzz: %zu inputs, %zu loaded\n", total, ok);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("pickle_write");
	TCase *tw = tcase_create("writer");
	tcase_add_test(tw, t_roundtrip_built);
	tcase_add_test(tw, t_writer_bytes);
	tcase_add_test(tw, t_writer_errors);
	tcase_add_test(tw, t_writer_v3);
	tcase_add_test(tw, t_python_check);
	tcase_set_timeout(tw, 120);
	suite_add_tcase(s, tw);
	TCase *tf = tcase_create("fuzz");
	tcase_add_test(tf, t_fuzz);
	tcase_set_timeout(tf, 240);
	suite_add_tcase(s, tf);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
