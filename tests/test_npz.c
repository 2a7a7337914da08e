/*
 * test_npz.c — the NumPy readers (.npy, .npz) and writers: every field of the
 * fixtures in tests/data/npz (made by make_fixtures.py with numpy 1.24), one
 * broken file per rule with its expected code and reason, a cut at every byte,
 * the real files of tests/data/npz/real against numpy (npzref.py), and
 * write-then-read round trips whose members numpy reads as its own np.save
 * output.
 */
#include "gn_util.h"
#include "gguf.h"
#include "npz.h"

static char *np_path(const char *rel)
{
	char buf[512];
	snprintf(buf, sizeof buf, "npz/%s", rel);
	return st_path(buf);
}

static const float f32v[] = {0, 1, 1.5f, 2, 2.5f, -3};
static const double f64v[] = {0.1, -2};
static const uint16_t f16v[] = {0x3c00, 0x4000, 0x4200};
static const int8_t i8v[] = {-1, 2};
static const int16_t i16v[] = {-300, 300};
static const int32_t i32v[] = {1, 2, 3, 4};
static const int64_t i64v[] = {-5, 6, 7};
static const uint8_t u8v[] = {0, 255};
static const uint16_t u16v[] = {65535};
static const uint32_t u32v[] = {4000000000u};
static const uint64_t u64v[] = {UINT64_MAX};
static const uint8_t bv[] = {1, 0, 1};
static const float c64v[] = {1, 2};
static const double c128v[] = {3, -4};
static const float scalarv[] = {7.5f};
static const float layerv[] = {0, 1, 2, 3, 4, 5};
static const int32_t fortran2v[] = {0, 1, 2, 3, 4, 5};   /* C order of arange(6).reshape(2, 3) */
static int16_t fortran3v[24];
static const float dims15v[] = {1, 2};

struct want {
	const char *key;
	enum ck_dtype dt;
	int ndim;
	int64_t shape[15], stride[15];
	uint64_t off, nbytes;
	const void *c_bytes;   /* the array in C order */
};

static const struct want all_want[] = {
	{"f32", CK_DT_F32, 2, {2, 3}, {3, 1}, 185, 24, f32v},
	{"f64", CK_DT_F64, 1, {2}, {1}, 394, 16, f64v},
	{"f16", CK_DT_F16, 1, {3}, {1}, 595, 6, f16v},
	{"i8", CK_DT_I8, 1, {2}, {1}, 785, 2, i8v},
	{"i16", CK_DT_I16, 1, {2}, {1}, 972, 4, i16v},
	{"i32", CK_DT_I32, 2, {2, 2}, {2, 1}, 1161, 16, i32v},
	{"i64", CK_DT_I64, 1, {3}, {1}, 1362, 24, i64v},
	{"u8", CK_DT_U8, 1, {2}, {1}, 1570, 2, u8v},
	{"u16", CK_DT_U16, 1, {1}, {1}, 1757, 2, u16v},
	{"u32", CK_DT_U32, 1, {1}, {1}, 1944, 4, u32v},
	{"u64", CK_DT_U64, 1, {1}, {1}, 2133, 8, u64v},
	{"b", CK_DT_BOOL, 1, {3}, {1}, 2324, 3, bv},
	{"c64", CK_DT_C64, 1, {1}, {1}, 2512, 8, c64v},
	{"c128", CK_DT_C128, 1, {1}, {1}, 2706, 16, c128v},
	{"scalar", CK_DT_F32, 0, {0}, {0}, 2910, 4, scalarv},
	{"empty", CK_DT_F32, 2, {0, 3}, {3, 1}, 3101, 0, ""},
	{"layer.0.weight", CK_DT_F32, 2, {2, 3}, {3, 1}, 3297, 24, layerv},
	{"fortran2", CK_DT_I32, 2, {2, 3}, {1, 2}, 3511, 24, fortran2v},
	{"fortran3", CK_DT_I16, 3, {2, 3, 4}, {1, 2, 6}, 3725, 48, fortran3v},
	{"dims15", CK_DT_F32, 15, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2},
	 {2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1}, 4025, 8, dims15v},
};
#define ALL_SIZE 5141

static void check(const struct ck_ckpt *ck, const struct want *w, size_t n)
{
	for (int i = 0; i < 24; i++)
		fortran3v[i] = (int16_t)i;
	ck_assert_int_eq(ck->root->kind, CK_V_DICT);
	ck_assert_int_eq(ck->root->u.dict.ordered, 1);
	ck_assert_uint_eq(ck->root->u.dict.n, n);
	ck_assert_uint_eq(ck->nstorages, n);
	ck_assert_int_eq(ck->sep, '.');
	ck_assert_ptr_null(ck->metadata);
	ck_assert_ptr_null(ck->config_json);
	ck_assert_uint_eq(ck->nfiles, 1);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(ck->root->u.dict.keys[i]->u.s.p, w[i].key);
		const struct ck_tensor *t = ck->root->u.dict.vals[i]->u.t;
		ck_assert_int_eq(t->dtype, w[i].dt);
		ck_assert_int_eq(t->ndim, w[i].ndim);
		for (int d = 0; d < t->ndim; d++) {
			ck_assert_int_eq(t->shape[d], w[i].shape[d]);
			ck_assert_int_eq(t->stride[d], w[i].stride[d]);
		}
		ck_assert_int_eq(t->offset, 0);
		ck_assert_int_eq(t->storage, (long)i);
		ck_assert_uint_eq(t->nbytes, w[i].nbytes);
		const struct ck_storage *s = &ck->storages[i];
		ck_assert_str_eq(s->key, w[i].key);
		ck_assert_int_eq(s->dtype, w[i].dt);
		ck_assert_int_eq(s->file, 0);
		ck_assert_int_eq(s->located, 1);
		ck_assert_uint_eq(s->nbytes, w[i].nbytes);
		ck_assert_uint_eq(s->offset, w[i].off);
		uint8_t *got = st_tensor_bytes(ck, t);
		ck_assert_msg(memcmp(got, w[i].c_bytes, w[i].nbytes) == 0, "bytes of '%s'", w[i].key);
		free(got);
	}
}

START_TEST(t_all_dtypes)
{
	char *path = np_path("all_dtypes.npz");
	struct ck_ckpt *ck = open_ok(path);
	ck_assert_str_eq(ck->fmt->name, "npz");
	ck_assert_uint_eq(ck->files[0].size, ALL_SIZE);
	check(ck, all_want, sizeof all_want / sizeof all_want[0]);
	int file;
	uint64_t off;
	const struct ck_tensor *f2 = ck->root->u.dict.vals[17]->u.t;
	ck_assert_int_eq(ck_tensor_span(ck, f2, &file, &off), 0);   /* Fortran order: a gathered view */
	ck_assert_int_eq(ck_tensor_is_contiguous(f2), 0);
	ck_ckpt_free(ck);
	free(path);
}
END_TEST

START_TEST(t_npy_files)
{
	static const int64_t v2v[] = {1, 2, 3};
	static const double v3v[] = {1.5};
	static const int16_t py2v[] = {0, 1, 2, 3};
	static const float old16v[] = {1, 2};
	static const struct {
		const char *file;
		uint64_t size;
		struct want w;
	} f[] = {
		{"single.npy", 152, {"single", CK_DT_F32, 2, {2, 3}, {3, 1}, 128, 24, layerv}},
		{"v2.npy", 152, {"v2", CK_DT_I64, 1, {3}, {1}, 128, 24, v2v}},
		{"v3.npy", 136, {"v3", CK_DT_F64, 1, {1}, {1}, 128, 8, v3v}},
		{"py2long.npy", 136, {"py2long", CK_DT_I16, 2, {2, 2}, {2, 1}, 128, 8, py2v}},
		{"old16.npy", 88, {"old16", CK_DT_F32, 1, {2}, {1}, 80, 8, old16v}},
		{"dq.npy", 130, {"dq", CK_DT_U8, 1, {2}, {1}, 128, 2, "\x07\x08"}},
	};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
		char *path = np_path(f[i].file);
		struct ck_ckpt *ck = open_ok(path);
		ck_assert_str_eq(ck->fmt->name, "npy");
		ck_assert_uint_eq(ck->files[0].size, f[i].size);
		check(ck, &f[i].w, 1);
		ck_ckpt_free(ck);
		free(path);
	}
	char *path = np_path("empty.npz");   /* np.savez() with no arrays */
	struct ck_ckpt *ck = open_ok(path);
	ck_assert_str_eq(ck->fmt->name, "npz");
	ck_assert_uint_eq(ck->root->u.dict.n, 0);
	ck_ckpt_free(ck);
	free(path);
}
END_TEST

static const struct {
	const char *file;
	ck_err code;
	const char *reason;
} broken[] = {
	{"bad_magic.npy", CK_EFORMAT, "bad npy magic"},
	{"version4.npy", CK_EUNSUP, "npy format version 4.0 is not supported"},
	{"bad_header.npy", CK_EFORMAT, "bad npy header at byte 55"},
	{"not_dict.npy", CK_EFORMAT, "bad npy header at byte 1"},
	{"missing_key.npy", CK_EFORMAT, "npy header lacks 'fortran_order'"},
	{"extra_key.npy", CK_EFORMAT, "unexpected key 'x' in the npy header"},
	{"dup_key.npy", CK_EFORMAT, "key 'descr' twice in the npy header"},
	{"bad_shape.npy", CK_EFORMAT, "bad 'shape' in the npy header"},
	{"neg_shape.npy", CK_EFORMAT, "bad 'shape' in the npy header"},
	{"bad_fortran.npy", CK_EFORMAT, "bad npy header at byte 34"},
	{"object.npy", CK_EUNSUP, "object arrays (dtype '|O', pickled Python objects) are not supported"},
	{"big_endian.npy", CK_EUNSUP, "big-endian dtype '>f4' is not supported"},
	{"structured.npy", CK_EUNSUP, "structured dtypes (a list descr) are not supported"},
	{"unicode.npy", CK_EUNSUP, "dtype '<U3' is not supported"},
	{"datetime.npy", CK_EUNSUP, "dtype '<M8[D]' is not supported"},
	{"truncated_data.npy", CK_EFORMAT, "truncated: the array needs 8 data bytes, 5 are left"},
	{"shape_overflow.npy", CK_ELIMIT, "shape overflows"},
	{"dim_too_large.npy", CK_ELIMIT, "dimension too large"},
	{"header_past_eof.npy", CK_EFORMAT, "truncated: the npy header needs 5000 bytes, 126 are left"},
	{"compressed.npz", CK_EUNSUP, "compressed npz member 'w.npy' (np.savez_compressed): not supported"},
	{"not_npy_member.npz", CK_EUNSUP, "npz member 'readme.txt' is not a .npy array"},
	{"dup_member.npz", CK_EFORMAT, "bad zip archive"},
	{"bad_member.npz", CK_EUNSUP, "member 'b.npy': big-endian dtype '>f4' is not supported"},
	{"short_member.npz", CK_EFORMAT, "member 'a.npy': truncated: the array needs 8 data bytes, 5 are left"},
};

START_TEST(t_broken)
{
	char rel[256];
	snprintf(rel, sizeof rel, "broken/%s", broken[_i].file);
	char *path = np_path(rel);
	expect_fail(path, broken[_i].code, broken[_i].reason);
	free(path);
}
END_TEST

START_TEST(t_header_cap)
{
	/* a 2 MiB v2 header (the file holds it) is over the 1 MiB cap */
	char *dir = st_tmpdir(), *p = st_join(dir, "cap.npy");
	size_t hl = 2u << 20;
	uint8_t *b = calloc(1, 12 + hl);
	memcpy(b, "\x93NUMPY\x02\x00", 8);
	b[8] = (uint8_t)hl, b[9] = (uint8_t)(hl >> 8), b[10] = (uint8_t)(hl >> 16), b[11] = (uint8_t)(hl >> 24);
	memset(b + 12, ' ', hl);
	st_write_bytes(p, b, 12 + hl);
	expect_fail(p, CK_ELIMIT, "npy header of 2097152 bytes is over the limit of 1048576");
	free(b), free(p);
	st_rm_rf(dir);
}
END_TEST

/* Each file cut at every length fails with EFORMAT, one line naming it. */
START_TEST(t_truncated_everywhere)
{
	static const char *const files[] = {"single.npy", "all_dtypes.npz"};
	char *dir = st_tmpdir();
	for (size_t f = 0; f < 2; f++) {
		char *src = np_path(files[f]), *cut = st_join(dir, files[f]);
		size_t len;
		uint8_t *raw = st_read_all(src, &len);
		for (size_t n = 0; n < len; n++) {
			unlink(cut);
			st_write_bytes(cut, raw, n);
			expect_fail(cut, CK_EFORMAT, NULL);
		}
		free(raw), free(cut), free(src);
	}
	st_rm_rf(dir);
}
END_TEST

START_TEST(t_damage)
{
	char *a = np_path("all_dtypes.npz"), *b = np_path("single.npy");
	damage(a, "d.npz", 3000);
	damage(b, "d.npy", 1000);
	free(a), free(b);
}
END_TEST

/* Listing and bytes equal numpy's (npzref.py dump). */
static void assert_numpy(const struct ck_ckpt *ck, const char *path)
{
	char *ref = np_path("npzref.py");
	gn_assert_dump(ck, path, ref);
	free(ref);
}

START_TEST(t_vs_numpy)
{
	static const char *const files[] = {
		"all_dtypes.npz", "single.npy", "v2.npy", "v3.npy", "py2long.npy", "old16.npy", "dq.npy", "empty.npz",
		"real/candle-test.npy", "real/candle-test.npz", "real/tchrs-linear-bs.npy", "real/tchrs-linear-in.npy",
		"real/tchrs-linear-out.npy", "real/tchrs-linear-ws.npy",
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char *path = np_path(files[i]);
		struct ck_ckpt *ck = open_ok(path);
		assert_numpy(ck, path);
		ck_ckpt_free(ck);
		free(path);
	}
}
END_TEST

START_TEST(t_real_fields)
{
	char *path = np_path("real/candle-test.npz");
	struct ck_ckpt *ck = open_ok(path);
	static const int64_t x[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, x1[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
	/* np.savez members are stored with a zip64 extra in the local header only */
	static const struct want w[] = {
		{"x", CK_DT_I64, 1, {10}, {1}, 183, 80, x},
		{"x_plus_one", CK_DT_I64, 1, {10}, {1}, 455, 80, x1},
	};
	check(ck, w, 2);
	ck_ckpt_free(ck);
	free(path);
}
END_TEST

/* ---- writing ----------------------------------------------------------------- */

static char *write_tree(struct ck_ckpt *ck, struct ck_value *root, const struct ck_format *fmt, const char *dir,
			const char *name, ck_err want, const char *reason)
{
	struct ck_error err = {0};
	char *out = st_join(dir, name);
	struct ck_write_req req = {.src = ck, .root = root, .path = out, .final_path = out};
	ck_err rc = fmt->write(&req, &err);
	ck_assert_msg(rc == want, "write %s: got %s (%s)", out, ck_err_name(rc), err.msg);
	if (reason)
		ck_assert_msg(strstr(err.msg, reason), "message '%s' lacks '%s'", err.msg, reason);
	if (rc)
		ck_assert_int_ne(access(out, F_OK), 0);
	return out;
}

static void run_ref(const char *script, const char *args)
{
	char *ref = st_path(script), cmd[8192];
	snprintf(cmd, sizeof cmd, "'%s' '%s' %s 2>&1", st_python(), ref, args);
	int status;
	char *out = st_run(cmd, &status);
	ck_assert_msg(status == 0 && strcmp(out, "ok\n") == 0, "%s %s: %s", script, args, out);
	free(out), free(ref);
}

START_TEST(t_write_npz)
{
	char *dir = st_tmpdir(), *src = np_path("all_dtypes.npz"), args[8192];
	struct ck_ckpt *ck = open_ok(src);
	char *out = write_tree(ck, ck->root, &ck_format_npz, dir, "out.npz", CK_OK, NULL);
	struct ck_ckpt *back = open_ok(out);
	st_assert_same(ck, back);
	for (size_t i = 0; i < back->root->u.dict.n; i++)   /* Fortran arrays come back in C order */
		ck_assert(ck_tensor_is_contiguous(back->root->u.dict.vals[i]->u.t));
	snprintf(args, sizeof args, "same '%s' '%s'", src, out);
	run_ref("npz/npzref.py", args);
	snprintf(args, sizeof args, "members '%s'", out);
	run_ref("npz/npzref.py", args);
	ck_ckpt_free(back);
	free(out);
	/* several arrays cannot go to one .npy; one can, byte for byte as np.save wrote it */
	free(write_tree(ck, ck->root, &ck_format_npy, dir, "x.npy", CK_EUNSUP, "exactly one array, not 20"));
	ck_ckpt_free(ck);
	free(src);
	src = np_path("single.npy");
	ck = open_ok(src);
	out = write_tree(ck, ck->root, &ck_format_npy, dir, "single.npy", CK_OK, NULL);
	size_t na, nb;
	uint8_t *a = st_read_all(src, &na), *b = st_read_all(out, &nb);
	ck_assert_uint_eq(na, nb);
	ck_assert_mem_eq(a, b, na);
	free(a), free(b), free(out);
	/* non-tensor values are refused */
	struct ck_value *root = ck_value_new(CK_V_DICT);
	ck_value_setitem(root, ck_value_str("w"), ck_value_ref(ck->root->u.dict.vals[0]));
	ck_value_setitem(root, ck_value_str("epoch"), ck_value_int(3));
	free(write_tree(ck, root, &ck_format_npz, dir, "e.npz", CK_EUNSUP, "npz cannot store non-tensor value 'epoch'"));
	ck_value_unref(root);
	/* a bare tensor (key "") is numpy's arr_0 */
	out = write_tree(ck, ck->root->u.dict.vals[0], &ck_format_npz, dir, "bare.npz", CK_OK, NULL);
	back = open_ok(out);
	char *ls = st_listing(back);
	ck_assert_str_eq(ls, "arr_0 float32 [2,3]\n");
	free(ls), free(out);
	ck_ckpt_free(back);
	ck_ckpt_free(ck);
	free(src);
	st_rm_rf(dir);
}
END_TEST

START_TEST(t_write_renamed_and_other_sources)
{
	char *dir = st_tmpdir(), *src = np_path("real/candle-test.npz"), args[8192];
	struct ck_ckpt *ck = open_ok(src);
	struct ck_tree *t;
	struct ck_error err;
	ck_assert_int_eq(ck_tree_build(ck, &t, &err), CK_OK);
	ck_assert_int_eq(ck_tree_mkdir(t, "model", &err), CK_OK);
	ck_assert_msg(ck_tree_rename(t, "x", "model/x", &err) == CK_OK, "%s", err.msg);
	ck_assert_msg(ck_tree_rename(t, "x_plus_one", "model/y", &err) == CK_OK, "%s", err.msg);
	struct ck_value *root;
	ck_assert_int_eq(ck_tree_to_value(t, &root, &err), CK_OK);
	char *out = write_tree(ck, root, &ck_format_npz, dir, "renamed.npz", CK_OK, NULL);
	struct ck_ckpt *back = open_ok(out);
	char *ls = st_listing(back);
	ck_assert_str_eq(ls, "model.x int64 [10]\nmodel.y int64 [10]\n");
	free(ls);
	assert_numpy(back, out);
	ck_ckpt_free(back);
	free(out);
	ck_value_unref(root);
	ck_tree_free(t);
	ck_ckpt_free(ck);
	free(src);

	/* torch (a transposed view, a tied weight) -> npz, compared by numpy against torch.load */
	src = np_path("torch_views.pt");
	ck = open_ok(src);
	out = write_tree(ck, ck->root, &ck_format_npz, dir, "views.npz", CK_OK, NULL);
	snprintf(args, sizeof args, "same '%s' '%s'", src, out);
	run_ref("npz/npzref.py", args);
	back = open_ok(out);
	ls = st_listing(back);
	ck_assert_str_eq(ls, "w float32 [3,4]\nw_t float32 [4,3]\ntied float32 [3,4]\nh float16 [2]\nn int64 [3]\n");
	free(ls);
	ck_ckpt_free(back);
	ck_ckpt_free(ck);
	free(out), free(src);

	/* GGUF (float16/float32 tensors) -> npz, compared with the GGUF reference reader */
	src = st_path("gguf/real/ollama-llama-2-tiny-random.gguf");
	ck = open_ok(src);
	out = write_tree(ck, ck->root, &ck_format_npz, dir, "llama.npz", CK_OK, NULL);
	snprintf(args, sizeof args, "check-npz '%s' '%s'", src, out);
	run_ref("gguf/ggufref.py", args);
	ck_ckpt_free(ck);
	free(out), free(src);
	st_rm_rf(dir);
}
END_TEST

START_TEST(t_probe)
{
	ck_assert_int_eq(ck_format_npy.probe("a.bin", (const uint8_t *)"\x93NUMPY\1\0", 8, 0), 95);
	ck_assert_int_eq(ck_format_npy.probe("a.npy", (const uint8_t *)"xx", 2, 0), 10);
	ck_assert_int_eq(ck_format_npy.probe("a.npy", (const uint8_t *)"", 0, 1), 0);
	uint8_t lfh[64] = "PK\3\4";
	lfh[26] = 5;
	memcpy(lfh + 30, "w.npy", 5);
	ck_assert_int_eq(ck_format_npz.probe("a.zip", lfh, 35, 0), 90);
	memcpy(lfh + 30, "w.pkl", 5);
	ck_assert_int_eq(ck_format_npz.probe("a.zip", lfh, 35, 0), 0);
	ck_assert_int_eq(ck_format_npz.probe("a.npz", lfh, 35, 0), 50);
	ck_assert_int_eq(ck_format_npz.probe("a.npz", (const uint8_t *)"PK\5\6", 4, 0), 50);
	ck_assert_ptr_eq(ck_format_by_name("npz"), &ck_format_npz);
	ck_assert_ptr_eq(ck_format_by_name("npy"), &ck_format_npy);
	ck_assert_str_eq(ck_npy_descr(CK_DT_I8), "|i1");
	ck_assert_str_eq(ck_npy_descr(CK_DT_C128), "<c16");
	ck_assert_ptr_null(ck_npy_descr(CK_DT_BF16));
	/* the header numpy writes: v1.0, growth spaces, 64-byte aligned, '\n' */
	struct ck_tensor *t = ck_tensor_new(CK_DT_F32, 2);
	t->shape[0] = 2, t->shape[1] = 3;
	struct ck_buf b;
	ck_buf_init(&b);
	ck_npy_header(&b, t);
	ck_assert_uint_eq(b.len, 128);
	static const char want[] = "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
	ck_assert_mem_eq(b.p, want, sizeof want - 1);
	for (size_t i = sizeof want - 1; i < 127; i++)
		ck_assert_int_eq(b.p[i], ' ');
	ck_assert_int_eq(b.p[127], '\n');
	ck_tensor_free(t);
	/* numpy's 21 - len(repr(shape[0])) growth spaces take this header past 128 bytes */
	t = ck_tensor_new(CK_DT_F32, 15);
	for (int i = 0; i < 15; i++)
		t->shape[i] = i == 14 ? 2 : 1;
	b.len = 0;
	ck_npy_header(&b, t);
	ck_assert_uint_eq(b.len, 192);
	ck_buf_release(&b);
	ck_tensor_free(t);
}
END_TEST

static Suite *npz_suite(void)
{
	Suite *s = suite_create("npz");
	TCase *tc = tcase_create("read");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_all_dtypes);
	tcase_add_test(tc, t_npy_files);
	tcase_add_loop_test(tc, t_broken, 0, sizeof broken / sizeof broken[0]);
	tcase_add_test(tc, t_header_cap);
	tcase_add_test(tc, t_truncated_everywhere);
	tcase_add_test(tc, t_damage);
	tcase_add_test(tc, t_vs_numpy);
	tcase_add_test(tc, t_real_fields);
	tcase_add_test(tc, t_probe);
	suite_add_tcase(s, tc);
	TCase *tw = tcase_create("write");
	tcase_set_timeout(tw, 120);
	tcase_add_test(tw, t_write_npz);
	tcase_add_test(tw, t_write_renamed_and_other_sources);
	suite_add_tcase(s, tw);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(npz_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
