/*
 * test_safetensors.c — the safetensors reader and writer: every field of the
 * fixtures in tests/data/st, one broken header per rule of formats.md §4 with
 * its expected code and reason, the real files of tests/data/third_party_st
 * against the Python reference (listing and numpy's bytes), and write-then-read
 * round trips (including torch -> safetensors checked with real torch).
 */
#include <time.h>

#include "st_util.h"
#include "safetensors.h"

static struct ck_ckpt *open_ok(const char *path)
{
	struct ck_ckpt *ck = NULL;
	struct ck_error err = {0};
	ck_err rc = ck_ckpt_open(path, &ck, &err);
	ck_assert_msg(rc == CK_OK, "%s: %s", path, err.msg);
	return ck;
}

static const struct ck_tensor *tensor_at(const struct ck_ckpt *ck, size_t i, const char *key)
{
	ck_assert_int_eq(ck->root->kind, CK_V_DICT);
	ck_assert_uint_lt(i, ck->root->u.dict.n);
	ck_assert_int_eq(ck->root->u.dict.keys[i]->kind, CK_V_STR);
	ck_assert_str_eq(ck->root->u.dict.keys[i]->u.s.p, key);
	ck_assert_int_eq(ck->root->u.dict.vals[i]->kind, CK_V_TENSOR);
	return ck->root->u.dict.vals[i]->u.t;
}

struct want {
	const char *key;
	enum ck_dtype dt;
	int ndim;
	int64_t shape[3];
	uint64_t begin, end;
	const char *bytes;   /* expected little-endian bytes */
};

static void check_fixture(const char *rel, const struct want *w, size_t n, uint64_t hlen,
			  uint64_t fsize, const char *const *meta)
{
	char *path = st_path(rel);
	struct ck_ckpt *ck = open_ok(path);
	ck_assert_str_eq(ck->fmt->name, "safetensors");
	ck_assert_int_eq(ck->sep, '.');
	ck_assert_ptr_null(ck->config_json);
	ck_assert_uint_eq(ck->nfiles, 1);
	ck_assert_str_eq(ck->files[0].path, path);
	ck_assert_uint_eq(ck->files[0].size, fsize);
	ck_assert_uint_eq(ck->nstorages, n);
	ck_assert_uint_eq(ck->root->u.dict.n, n);
	ck_assert_int_eq(ck->root->u.dict.ordered, 1);
	for (size_t i = 0; i < n; i++) {
		const struct ck_tensor *t = tensor_at(ck, i, w[i].key);
		ck_assert_int_eq(t->dtype, w[i].dt);
		ck_assert_int_eq(t->ndim, w[i].ndim);
		int64_t stride = 1;
		for (int d = w[i].ndim - 1; d >= 0; d--) {
			ck_assert_int_eq(t->shape[d], w[i].shape[d]);
			if (t->shape[d]) {
				ck_assert_int_eq(t->stride[d], stride);
				stride *= t->shape[d];
			}
		}
		ck_assert_int_eq(t->offset, 0);
		ck_assert_int_eq(t->storage, (long)i);
		ck_assert_uint_eq(t->nbytes, w[i].end - w[i].begin);
		const struct ck_storage *s = &ck->storages[i];
		ck_assert_str_eq(s->key, w[i].key);
		ck_assert_int_eq(s->dtype, w[i].dt);
		ck_assert_int_eq(s->file, 0);
		ck_assert_int_eq(s->located, 1);
		ck_assert_uint_eq(s->nbytes, w[i].end - w[i].begin);
		ck_assert_uint_eq(s->offset, 8 + hlen + w[i].begin);
		uint8_t *b = st_tensor_bytes(ck, t);
		ck_assert_msg(memcmp(b, w[i].bytes, t->nbytes) == 0, "%s: bytes of '%s'", rel, w[i].key);
		free(b);
		int file;
		uint64_t off;
		ck_assert_int_eq(ck_tensor_span(ck, t, &file, &off), 1);
		ck_assert_uint_eq(off, 8 + hlen + w[i].begin);
	}
	size_t nm = 0;
	while (meta && meta[2 * nm])
		nm++;
	if (!meta) {
		ck_assert_ptr_null(ck->metadata);
	} else {
		ck_assert_int_eq(ck->metadata->kind, CK_V_DICT);
		ck_assert_uint_eq(ck->metadata->u.dict.n, nm);
		for (size_t i = 0; i < nm; i++) {
			ck_assert_str_eq(ck->metadata->u.dict.keys[i]->u.s.p, meta[2 * i]);
			ck_assert_str_eq(ck->metadata->u.dict.vals[i]->u.s.p, meta[2 * i + 1]);
		}
	}
	ck_ckpt_free(ck);
	free(path);
}

START_TEST(t_basic)
{
	static const struct want w[] = {
		{"a.weight", CK_DT_F32, 2, {2, 3}, 0, 24,
		 "\0\0\0\0\0\0\0\x3f\0\0\x80\x3f\0\0\xc0\x3f\0\0\0\x40\0\0\x20\x40"},
		{"a.bias", CK_DT_F16, 1, {3}, 24, 30, "\0\x3c\0\x40\0\x42"},
		{"b.emb", CK_DT_BF16, 2, {2, 2}, 30, 38, "\0\0\x80\x3f\0\x40\x40\x40"},
		{"count", CK_DT_I64, 0, {0}, 38, 46, "\x2a\0\0\0\0\0\0\0"},
		{"mask", CK_DT_BOOL, 1, {3}, 46, 49, "\1\0\1"},
		{"empty", CK_DT_U8, 1, {0}, 49, 49, ""},
		{"c.idx", CK_DT_I32, 3, {2, 1, 2}, 49, 65,
		 "\xfe\xff\xff\xff\xff\xff\xff\xff\0\0\0\0\1\0\0\0"},
	};
	static const char *const meta[] = {"format", "pt", "source", "ckptfs-test", NULL};
	check_fixture("st/basic.safetensors", w, 7, 480, 553, meta);
}
END_TEST

START_TEST(t_all_dtypes)
{
	static const struct want w[] = {
		{"bool", CK_DT_BOOL, 1, {2}, 0, 2, "\1\1"},
		{"u8", CK_DT_U8, 1, {2}, 2, 4, "\1\2"},
		{"i8", CK_DT_I8, 1, {2}, 4, 6, "\1\2"},
		{"f8_e5m2", CK_DT_F8E5M2, 1, {2}, 6, 8, "\x38\x40"},
		{"f8_e4m3", CK_DT_F8E4M3, 1, {2}, 8, 10, "\x38\x40"},
		{"i16", CK_DT_I16, 1, {2}, 10, 14, "\1\0\2\0"},
		{"u16", CK_DT_U16, 1, {2}, 14, 18, "\1\0\2\0"},
		{"f16", CK_DT_F16, 1, {2}, 18, 22, "\0\x3c\0\x40"},
		{"bf16", CK_DT_BF16, 1, {2}, 22, 26, "\x3f\x80\x40\0"},
		{"i32", CK_DT_I32, 1, {2}, 26, 34, "\1\0\0\0\2\0\0\0"},
		{"u32", CK_DT_U32, 1, {2}, 34, 42, "\1\0\0\0\2\0\0\0"},
		{"f32", CK_DT_F32, 1, {2}, 42, 50, "\0\0\x80\x3f\0\0\0\x40"},
		{"c64", CK_DT_C64, 1, {2}, 50, 66, "\0\0\x80\x3f\0\0\0\x40\0\0\0\x80\0\0\x60\xc0"},
		{"f64", CK_DT_F64, 1, {2}, 66, 82, "\0\0\0\0\0\0\xf0\x3f\0\0\0\0\0\0\0\x40"},
		{"i64", CK_DT_I64, 1, {2}, 82, 98, "\1\0\0\0\0\0\0\0\2\0\0\0\0\0\0\0"},
		{"u64", CK_DT_U64, 1, {2}, 98, 114, "\1\0\0\0\0\0\0\0\2\0\0\0\0\0\0\0"},
	};
	static const char *const meta[] = {"format", "pt", NULL};
	check_fixture("st/all_dtypes.safetensors", w, 16, 952, 1074, meta);
}
END_TEST

START_TEST(t_reorder)
{
	/* data order with ties in header order, whatever the header order;
	 * no __metadata__; whitespace around the JSON; an ignored extra field */
	static const struct want w[] = {
		{"y", CK_DT_F32, 1, {2}, 0, 8, "\0\0\x80\x3f\0\0\0\x40"},
		{"z", CK_DT_F32, 1, {2}, 8, 16, "\0\0\x40\x40\0\0\x80\x40"},
		{"e2", CK_DT_U8, 1, {0}, 16, 16, ""},
		{"e1", CK_DT_U8, 2, {0, 3}, 16, 16, ""},
	};
	check_fixture("st/reorder.safetensors", w, 4, 248, 272, NULL);
}
END_TEST

/* ---- broken files ---------------------------------------------------------- */

static const struct bad {
	const char *what;
	const char *hdr;
	long long hlen;    /* -1: strlen(hdr) */
	size_t ndata;
	ck_err code;
	const char *reason;
} bads[] = {
	{"huge header", "{}", 100000001, 0, CK_ELIMIT, "header size 100000001 is over the limit of 100000000"},
	{"N > file", "{}", 1000, 0, CK_EFORMAT, "header size 1000 runs past the end of the file"},
	{"not UTF-8", "{\"a\xff\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", -1, 1, CK_EFORMAT,
	 "header is not valid UTF-8 (byte 3)"},
	{"overlong UTF-8", "{\"\xc0\xae\":1}", -1, 0, CK_EFORMAT, "not valid UTF-8"},
	{"surrogate UTF-8", "{\"\xed\xa0\x80\":1}", -1, 0, CK_EFORMAT, "not valid UTF-8"},
	{"not an object", "[1,2]", -1, 0, CK_EFORMAT, "header is not a JSON object"},
	{"string", "\"x\"", -1, 0, CK_EFORMAT, "header is not a JSON object"},
	{"invalid JSON", "{\"a\":", -1, 0, CK_EFORMAT, "header is not valid JSON"},
	{"trailing chars", "{} x", -1, 0, CK_EFORMAT, "trailing characters at byte 3"},
	{"NUL padding", "{}\0\0", 4, 0, CK_EFORMAT, "trailing characters at byte 2"},
	{"BOM", "\xef\xbb\xbf{}", -1, 0, CK_EFORMAT, "not valid JSON"},
	{"raw control char", "{\"a\tb\":{}}", -1, 0, CK_EFORMAT, "control character in a string"},
	{"NUL in name", "{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", -1, 1,
	 CK_EUNSUP, "NUL character"},
	{"bad dtype", "{\"w\":{\"dtype\":\"F7\",\"shape\":[1],\"data_offsets\":[0,1]}}", -1, 1, CK_EFORMAT,
	 "tensor 'w': unknown dtype 'F7'"},
	{"dtype not str", "{\"w\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,1]}}", -1, 1, CK_EFORMAT,
	 "tensor 'w': dtype is not a string"},
	{"unsupported dtype", "{\"w\":{\"dtype\":\"F4\",\"shape\":[2],\"data_offsets\":[0,1]}}", -1, 1, CK_EUNSUP,
	 "tensor 'w': dtype 'F4' is not supported"},
	{"negative shape", "{\"w\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,0]}}", -1, 0, CK_EFORMAT,
	 "tensor 'w': shape is not a list of non-negative integers"},
	{"float shape", "{\"w\":{\"dtype\":\"U8\",\"shape\":[2.0],\"data_offsets\":[0,2]}}", -1, 2, CK_EFORMAT,
	 "shape is not a list of non-negative integers"},
	{"exponent shape", "{\"w\":{\"dtype\":\"U8\",\"shape\":[2e0],\"data_offsets\":[0,2]}}", -1, 2, CK_EFORMAT,
	 "shape is not a list of non-negative integers"},
	{"leading zero", "{\"w\":{\"dtype\":\"U8\",\"shape\":[02],\"data_offsets\":[0,2]}}", -1, 2, CK_EFORMAT,
	 "shape is not a list"},
	{"shape not list", "{\"w\":{\"dtype\":\"U8\",\"shape\":3,\"data_offsets\":[0,3]}}", -1, 3, CK_EFORMAT,
	 "shape is not a list"},
	{"shape of str", "{\"w\":{\"dtype\":\"U8\",\"shape\":[\"3\"],\"data_offsets\":[0,3]}}", -1, 3, CK_EFORMAT,
	 "shape is not a list"},
	{"65 dims", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
	 "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", -1, 1,
	 CK_ELIMIT, "more than 64 dimensions"},
	{"dim > int64", "{\"w\":{\"dtype\":\"U8\",\"shape\":[0,9223372036854775808],\"data_offsets\":[0,0]}}", -1, 0,
	 CK_ELIMIT, "dimension 9223372036854775808 too large"},
	{"dim > u64", "{\"w\":{\"dtype\":\"U8\",\"shape\":[18446744073709551616],\"data_offsets\":[0,0]}}", -1, 0,
	 CK_EFORMAT, "shape is not a list"},
	{"shape overflow", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", -1, 0,
	 CK_EFORMAT, "tensor 'w': shape overflows"},
	{"one offset", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", -1, 1, CK_EFORMAT,
	 "tensor 'w': data_offsets is not two non-negative integers"},
	{"three offsets", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,1]}}", -1, 1, CK_EFORMAT,
	 "data_offsets is not two non-negative integers"},
	{"negative offset", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[-1,0]}}", -1, 1, CK_EFORMAT,
	 "data_offsets is not two non-negative integers"},
	{"end < begin", "{\"w\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,0]}}", -1, 4, CK_EFORMAT,
	 "tensor 'w': data_offsets end 0 is before begin 4"},
	{"missing dtype", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", -1, 1, CK_EFORMAT,
	 "tensor 'w': missing field 'dtype'"},
	{"missing offsets", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", -1, 1, CK_EFORMAT,
	 "tensor 'w': missing field 'data_offsets'"},
	{"duplicate field", "{\"w\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", -1, 1,
	 CK_EFORMAT, "tensor 'w': duplicate field 'dtype'"},
	{"entry not object", "{\"w\":5}", -1, 0, CK_EFORMAT, "tensor 'w': entry is not an object"},
	{"metadata value", "{\"__metadata__\":{\"a\":\"x\",\"n\":1}}", -1, 0, CK_EFORMAT,
	 "'__metadata__' value 'n' is not a string"},
	{"metadata not object", "{\"__metadata__\":[\"a\"]}", -1, 0, CK_EFORMAT, "'__metadata__' is not an object"},
	{"metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", -1, 0, CK_EFORMAT, "duplicate '__metadata__'"},
	{"metadata dup key", "{\"__metadata__\":{\"a\":\"1\",\"a\":\"2\"}}", -1, 0, CK_EFORMAT, "has key 'a' twice"},
	{"size mismatch", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", -1, 4, CK_EFORMAT,
	 "tensor 'w': data_offsets hold 4 bytes but shape and dtype F32 need 8"},
	{"exact big offsets", "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,9007199254740993]}}", -1, 1,
	 CK_EFORMAT, "hold 9007199254740993 bytes"},
	{"overlap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", -1, 12, CK_EFORMAT,
	 "tensor 'b': data_offsets overlap 'a'"},
	{"zero-size inside", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	 "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}", -1, 8, CK_EFORMAT,
	 "tensor 'z': data_offsets overlap 'a'"},
	{"duplicate range", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 8, CK_EFORMAT,
	 "tensor 'b': data_offsets overlap 'a'"},
	{"gap", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", -1, 20, CK_EFORMAT,
	 "tensor 'b': data_offsets leave a gap of 4 unused bytes"},
	{"gap at start", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", -1, 12, CK_EFORMAT,
	 "tensor 'a': data_offsets leave a gap of 4"},
	{"duplicate name", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
	 "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", -1, 2, CK_EFORMAT, "duplicate tensor name 'a'"},
	{"trailing bytes", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", -1, 12, CK_EFORMAT,
	 "4 trailing bytes after the last tensor's data"},
	{"data without tensors", "{}", -1, 3, CK_EFORMAT, "3 trailing bytes"},
	{"truncated data", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", -1, 10, CK_EFORMAT,
	 "truncated: the tensors need 16 data bytes but the file has 10"},
};

static void check_bad(const char *dir, const struct bad *b, size_t i)
{
	char name[64];
	snprintf(name, sizeof name, "bad%02zu.safetensors", i);
	char *path = st_join(dir, name);
	size_t hl = b->hlen >= 0 && b->hlen < 1000 ? (size_t)b->hlen : strlen(b->hdr);
	struct ck_buf buf;
	ck_buf_init(&buf);
	ck_buf_u64le(&buf, b->hlen >= 0 ? (uint64_t)b->hlen : hl);
	ck_buf_add(&buf, b->hdr, hl);
	for (size_t k = 0; k < b->ndata; k++)
		ck_buf_addc(&buf, (uint8_t)k);
	st_write_bytes(path, buf.p, buf.len);
	ck_buf_release(&buf);
	struct ck_ckpt *ck = NULL;
	struct ck_error err = {0};
	ck_err rc = ck_ckpt_open(path, &ck, &err);
	ck_assert_msg(rc == b->code, "%s: got %s (%s), want %s", b->what, ck_err_name(rc), err.msg, ck_err_name(b->code));
	ck_assert_ptr_null(ck);
	ck_assert_msg(strstr(err.msg, b->reason) != NULL, "%s: message '%s' lacks '%s'", b->what, err.msg, b->reason);
	ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0, "%s: message '%s' does not name the file", b->what,
		      err.msg);
	free(path);
}

START_TEST(t_bad)
{
	char *dir = st_tmpdir();
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++)
		check_bad(dir, &bads[i], i);
	/* shorter than the length field: named .safetensors so the reader says why */
	for (size_t n = 0; n < 8; n += 3) {
		char *path = st_join(dir, "short.safetensors");
		st_write_bytes(path, "\x02\0\0\0\0", n);
		struct ck_ckpt *ck = NULL;
		struct ck_error err = {0};
		ck_err rc = ck_ckpt_open(path, &ck, &err);
		ck_assert_int_eq(rc, CK_EFORMAT);
		ck_assert_msg(n == 0 ? strstr(err.msg, "empty") || strstr(err.msg, "too short")
				     : strstr(err.msg, "too short for a safetensors header") != NULL, "%s", err.msg);
		unlink(path);
		free(path);
	}
	st_rm_rf(dir);
}
END_TEST

START_TEST(t_edge_valid)
{
	char *dir = st_tmpdir(), *path = st_join(dir, "e.safetensors");
	struct ck_ckpt *ck;
	/* no tensors at all */
	st_make(path, "{}", -1, 0);
	ck = open_ok(path);
	ck_assert_uint_eq(ck->root->u.dict.n, 0);
	ck_assert_uint_eq(ck->nstorages, 0);
	ck_assert_ptr_null(ck->metadata);
	ck_ckpt_free(ck);
	unlink(path);
	/* "__metadata__": null is an absent Option for serde; unicode escapes in names */
	st_make(path, "{\"__metadata__\":null,\"caf\\u00e9.w\":{\"data_offsets\":[0,2],\"dtype\":\"I16\",\"shape\":[]}}",
		-1, 2);
	ck = open_ok(path);
	ck_assert_ptr_null(ck->metadata);
	const struct ck_tensor *t = tensor_at(ck, 0, "caf\xc3\xa9.w");
	ck_assert_int_eq(t->ndim, 0);
	ck_assert_uint_eq(t->nbytes, 2);
	ck_ckpt_free(ck);
	unlink(path);
	/* a big-but-fine shape product with a zero: 0 bytes */
	st_make(path, "{\"z\":{\"dtype\":\"F64\",\"shape\":[0,4611686018427387904,4611686018427387904],"
		"\"data_offsets\":[0,0]}}", -1, 0);
	ck = open_ok(path);
	ck_assert_uint_eq(tensor_at(ck, 0, "z")->nbytes, 0);
	ck_ckpt_free(ck);
	unlink(path);
	free(path);
	st_rm_rf(dir);
}
END_TEST

START_TEST(t_big_header)
{
	/* 50000 tensors listed backwards: a ~3.7 MB header, data order restored */
	enum { N = 50000 };
	char *dir = st_tmpdir(), *path = st_join(dir, "big.safetensors");
	struct ck_buf h;
	ck_buf_init(&h);
	ck_buf_addc(&h, '{');
	for (int i = N - 1; i >= 0; i--)
		ck_buf_printf(&h, "%s\"layer.%d.w\":{\"dtype\":\"I16\",\"shape\":[1],\"data_offsets\":[%d,%d]}",
			      i == N - 1 ? "" : ",", i, 2 * i, 2 * i + 2);
	ck_buf_addc(&h, '}');
	st_make(path, ck_buf_cstr(&h), -1, 2 * N);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct ck_ckpt *ck = open_ok(path);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "big header: %zu bytes, %d tensors opened in %.3f s\n", h.len, N,
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	ck_assert_uint_eq(ck->root->u.dict.n, N);
	char want[64];
	for (int i = 0; i < N; i += 997) {
		snprintf(want, sizeof want, "layer.%d.w", i);
		const struct ck_tensor *t = tensor_at(ck, (size_t)i, want);
		ck_assert_uint_eq(ck->storages[t->storage].offset, 8 + h.len + 2 * (uint64_t)i);
	}
	ck_ckpt_free(ck);
	ck_buf_release(&h);
	free(path);
	st_rm_rf(dir);
}
END_TEST

/* ---- real files ------------------------------------------------------------ */

static const char *const third_party[] = {
	"burn-example-mnist", "burn-import-batch_norm2d", "burn-import-boolean", "burn-import-buffer",
	"burn-import-complex_nested", "burn-import-conv1d", "burn-import-conv2d", "burn-import-embedding",
	"burn-import-enum_depthwise_false", "burn-import-enum_depthwise_true", "burn-import-group_norm",
	"burn-import-integer", "burn-import-key_remap", "burn-import-key_remap_chained", "burn-import-layer_norm",
	"burn-import-linear", "burn-import-linear_with_bias", "burn-import-missing_module_field",
	"burn-import-non_contiguous_indexes", "burn-store-multi_layer", "candle-jfk-codes-20240227",
	"candle-jfk-codes", "candle-mel_filters", "candle-voices", "hf-safetensors-samples-B",
	"hf-safetensors-samples-H", "hf-safetensors-samples-I", "hf-safetensors-samples-b",
	"hf-safetensors-samples-d", "hf-safetensors-samples-e", "hf-safetensors-samples-f",
	"hf-safetensors-samples-h", "hf-safetensors-samples-i", "hf-safetensors-samples-overall",
	"ollama-discollama-lora-adapters",
};
#define NTHIRD (sizeof third_party / sizeof third_party[0])

static char *third_path(size_t i)
{
	char rel[256];
	snprintf(rel, sizeof rel, "third_party_st/%s.safetensors", third_party[i]);
	return st_path(rel);
}

START_TEST(t_third_party)
{
	char *path = third_path((size_t)_i);
	struct ck_ckpt *ck = open_ok(path);
	ck_assert_str_eq(ck->fmt->name, "safetensors");
	ck_assert_uint_gt(ck->root->u.dict.n, 0);
	st_assert_numpy_bytes(ck, path);   /* the listing and every tensor's bytes */
	ck_ckpt_free(ck);
	free(path);
}
END_TEST

/* ---- writing --------------------------------------------------------------- */

static ck_err write_st(struct ck_ckpt *src, struct ck_value *root, const char *out, struct ck_error *err)
{
	struct ck_write_req req = {.src = src, .root = root ? root : src->root, .path = out, .final_path = out};
	return ck_format_safetensors.write(&req, err);
}

/* Reading then writing: same listing, bytes, metadata; a valid 8-aligned file. */
static void roundtrip(const char *path, int same_bytes)
{
	char *dir = st_tmpdir(), *out = st_join(dir, "out.safetensors");
	struct ck_ckpt *a = open_ok(path), *b;
	struct ck_error err = {0};
	ck_assert_msg(write_st(a, NULL, out, &err) == CK_OK, "%s", err.msg);
	b = open_ok(out);
	st_assert_same(a, b);
	ck_assert_ptr_nonnull(b->metadata);
	if (a->metadata) {
		ck_assert_uint_eq(a->metadata->u.dict.n, b->metadata->u.dict.n);
		for (size_t i = 0; i < a->metadata->u.dict.n; i++) {
			ck_assert_str_eq(a->metadata->u.dict.keys[i]->u.s.p, b->metadata->u.dict.keys[i]->u.s.p);
			ck_assert_str_eq(a->metadata->u.dict.vals[i]->u.s.p, b->metadata->u.dict.vals[i]->u.s.p);
		}
	} else {
		ck_assert_str_eq(b->metadata->u.dict.keys[0]->u.s.p, "format");
		ck_assert_str_eq(b->metadata->u.dict.vals[0]->u.s.p, "pt");
	}
	size_t la, lb;
	uint8_t *x = st_read_all(path, &la), *y = st_read_all(out, &lb);
	ck_assert_uint_eq(y[0] % 8, 0);
	ck_assert_int_eq(memcmp(y + 8, "{\"__metadata__\":{", 17), 0);
	if (same_bytes) {
		ck_assert_uint_eq(la, lb);
		ck_assert_int_eq(memcmp(x, y, la), 0);
	}
	st_assert_numpy_bytes(b, out);   /* the new file through the reference reader */
	free(x), free(y);
	/* never over an existing file */
	ck_assert_int_eq(write_st(a, NULL, out, &err), CK_EEXIST);
	ck_ckpt_free(a);
	ck_ckpt_free(b);
	free(out);
	st_rm_rf(dir);
}

START_TEST(t_roundtrip_fixtures)
{
	const char *names[] = {"st/basic.safetensors", "st/all_dtypes.safetensors", "st/reorder.safetensors"};
	for (size_t i = 0; i < 3; i++) {
		char *p = st_path(names[i]);
		roundtrip(p, i < 2);   /* compact like the reference writer: the same bytes */
		free(p);
	}
}
END_TEST

START_TEST(t_roundtrip_third_party)
{
	char *path = third_path((size_t)_i);
	roundtrip(path, 0);
	free(path);
}
END_TEST

static struct ck_value *dict_of(size_t n, const char *const *keys, struct ck_value *const *vals)
{
	struct ck_value *d = ck_value_new(CK_V_DICT);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(ck_value_setitem(d, ck_value_str(keys[i]), ck_value_ref(vals[i])), CK_OK);
	return d;
}

START_TEST(t_write_trees)
{
	char *path = st_path("st/basic.safetensors"), *dir = st_tmpdir(), *out = st_join(dir, "o.safetensors");
	struct ck_ckpt *src = open_ok(path), *b;
	struct ck_error err = {0};
	struct ck_value *w = src->root->u.dict.vals[0], *bias = src->root->u.dict.vals[1];
	/* a non-tensor leaf is refused, naming its key; nothing is left behind */
	struct ck_value *epoch = ck_value_int(3);
	struct ck_value *v1[] = {w, epoch};
	struct ck_value *r = dict_of(2, (const char *[]){"w", "epoch"}, v1);
	ck_assert_int_eq(write_st(src, r, out, &err), CK_EUNSUP);
	ck_assert_ptr_nonnull(strstr(err.msg, "safetensors cannot store non-tensor value 'epoch'"));
	ck_assert_int_eq(access(out, F_OK), -1);
	ck_value_unref(r);
	ck_value_unref(epoch);
	/* nested containers flatten with '.'; a list index is a segment */
	struct ck_value *lst = ck_value_new(CK_V_LIST);
	ck_value_append(lst, ck_value_ref(bias));
	struct ck_value *inner = dict_of(2, (const char *[]){"w", "l"}, (struct ck_value *[]){w, lst});
	r = dict_of(2, (const char *[]){"model", "tied"}, (struct ck_value *[]){inner, w});
	ck_assert_msg(write_st(src, r, out, &err) == CK_OK, "%s", err.msg);
	b = open_ok(out);
	char *l = st_listing(b);
	ck_assert_str_eq(l, "model.w float32 [2,3]\nmodel.l.0 float16 [3]\ntied float32 [2,3]\n");
	free(l);
	/* tied tensors are separate copies */
	ck_assert_uint_eq(b->nstorages, 3);
	ck_assert_uint_eq(b->storages[2].offset, b->storages[0].offset + 24 + 6);
	uint8_t *x = st_tensor_bytes(b, b->root->u.dict.vals[0]->u.t), *y = st_tensor_bytes(b, b->root->u.dict.vals[2]->u.t);
	ck_assert_int_eq(memcmp(x, y, 24), 0);
	free(x), free(y);
	ck_ckpt_free(b);
	unlink(out);
	ck_value_unref(r);
	ck_value_unref(inner);
	ck_value_unref(lst);
	/* two leaves with one flat name */
	struct ck_value *ab = dict_of(1, (const char *[]){"b"}, (struct ck_value *[]){w});
	r = dict_of(2, (const char *[]){"a.b", "a"}, (struct ck_value *[]){w, ab});
	ck_assert_int_eq(write_st(src, r, out, &err), CK_EUNSUP);
	ck_assert_ptr_nonnull(strstr(err.msg, "two tensors would both be named 'a.b'"));
	ck_value_unref(r);
	ck_value_unref(ab);
	/* a dtype safetensors has no name for */
	struct ck_tensor *c = ck_tensor_new(CK_DT_C128, 1);
	c->shape[0] = 1, c->stride[0] = 1, c->storage = 0, c->nbytes = 16;
	struct ck_value *cv = ck_value_tensor(c);
	r = dict_of(1, (const char *[]){"c"}, (struct ck_value *[]){cv});
	ck_assert_int_eq(write_st(src, r, out, &err), CK_EUNSUP);
	ck_assert_ptr_nonnull(strstr(err.msg, "cannot store dtype complex128 of tensor 'c'"));
	ck_assert_int_eq(access(out, F_OK), -1);
	ck_value_unref(r);
	ck_value_unref(cv);
	ck_ckpt_free(src);
	free(out), free(path);
	st_rm_rf(dir);
}
END_TEST

START_TEST(t_write_strided)
{
	/* a transposed view of a.weight ([2,3] -> [3,2], strides [1,3]) is gathered */
	char *path = st_path("st/basic.safetensors"), *dir = st_tmpdir(), *out = st_join(dir, "t.safetensors");
	struct ck_ckpt *src = open_ok(path), *b;
	struct ck_error err = {0};
	struct ck_tensor *t = ck_tensor_new(CK_DT_F32, 2);
	t->shape[0] = 3, t->shape[1] = 2, t->stride[0] = 1, t->stride[1] = 3, t->storage = 0;
	ck_assert_int_eq(ck_tensor_check(src, t, "t", &err), CK_OK);
	ck_assert_int_eq(ck_tensor_is_contiguous(t), 0);
	struct ck_value *tv = ck_value_tensor(t);
	struct ck_value *r = dict_of(1, (const char *[]){"t"}, (struct ck_value *[]){tv});
	ck_assert_msg(write_st(src, r, out, &err) == CK_OK, "%s", err.msg);
	b = open_ok(out);
	const float want[] = {0, 1.5, 0.5, 2, 1, 2.5};
	uint8_t *got = st_tensor_bytes(b, tensor_at(b, 0, "t"));
	ck_assert_int_eq(memcmp(got, want, sizeof want), 0);
	free(got);
	ck_ckpt_free(b);
	ck_value_unref(r);
	ck_value_unref(tv);
	ck_ckpt_free(src);
	free(out), free(path);
	st_rm_rf(dir);
}
END_TEST

START_TEST(t_torch_to_st)
{
	/* a torch state dict with a tied weight and a transposed view, checked by torch */
	if (!ck_format_by_name("pytorch"))
		return;
	char *path = st_path("st/tiny.pt"), *dir = st_tmpdir(), *out = st_join(dir, "tiny.safetensors");
	struct ck_ckpt *src = open_ok(path);
	struct ck_error err = {0};
	ck_assert_msg(write_st(src, NULL, out, &err) == CK_OK, "%s", err.msg);
	struct ck_ckpt *b = open_ok(out);
	st_assert_same(src, b);
	ck_ckpt_free(b);
	char *ref = st_path("st/stref.py"), cmd[8192];
	snprintf(cmd, sizeof cmd, "'%s' '%s' check-torch '%s' '%s'", st_python(), ref, path, out);
	int status;
	char *o = st_run(cmd, &status);
	ck_assert_msg(status == 0 && strcmp(o, "ok\n") == 0, "check-torch: %s", o);
	free(o), free(ref);
	ck_ckpt_free(src);
	free(out), free(path);
	st_rm_rf(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("safetensors");
	TCase *tc = tcase_create("read");
	tcase_add_test(tc, t_basic);
	tcase_add_test(tc, t_all_dtypes);
	tcase_add_test(tc, t_reorder);
	tcase_add_test(tc, t_bad);
	tcase_add_test(tc, t_edge_valid);
	tcase_add_test(tc, t_big_header);
	tcase_add_loop_test(tc, t_third_party, 0, (int)NTHIRD);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	TCase *tw = tcase_create("write");
	tcase_add_test(tw, t_roundtrip_fixtures);
	tcase_add_loop_test(tw, t_roundtrip_third_party, 0, (int)NTHIRD);
	tcase_add_test(tw, t_write_trees);
	tcase_add_test(tw, t_write_strided);
	tcase_add_test(tw, t_torch_to_st);
	tcase_set_timeout(tw, 120);
	suite_add_tcase(s, tw);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
