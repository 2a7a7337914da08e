/*
 * test_gguf.c — the GGUF reader and writer: every field of the fixtures in
 * tests/data/gguf (made by make_fixtures.py), one broken file per rule with
 * its expected code and reason, a cut at every byte of a good file, the real
 * files of tests/data/gguf/real (and of /work/shared/data/gguf when present)
 * against the independent Python reader ggufref.py (listing and the bytes of
 * numpy.memmap over the data section), and write-then-read round trips.
 */
#include <fcntl.h>

#include "gn_util.h"
#include "cursor.h"
#include "gguf.h"
#include "npz.h"

static char *gg_path(const char *rel)
{
	char buf[512];
	snprintf(buf, sizeof buf, "gguf/%s", rel);
	return st_path(buf);
}

/* The metadata value of key (a str key), or fail. */
static const struct ck_value *meta(const struct ck_ckpt *ck, const char *key)
{
	ck_assert_ptr_nonnull(ck->metadata);
	for (size_t i = 0; i < ck->metadata->u.dict.n; i++)
		if (strcmp(ck->metadata->u.dict.keys[i]->u.s.p, key) == 0)
			return ck->metadata->u.dict.vals[i];
	ck_abort_msg("no metadata key '%s'", key);
	return NULL;
}

static void assert_int(const struct ck_value *v, int64_t want)
{
	ck_assert_int_eq(v->kind, CK_V_INT);
	ck_assert_int_eq(v->u.i, want);
}

static void assert_summary(const struct ck_value *v, const char *elem, int64_t n)
{
	ck_assert_int_eq(v->kind, CK_V_DICT);
	ck_assert_uint_eq(v->u.dict.n, 3);
	ck_assert_str_eq(v->u.dict.keys[0]->u.s.p, "type");
	ck_assert_str_eq(v->u.dict.vals[0]->u.s.p, "array");
	ck_assert_str_eq(v->u.dict.keys[1]->u.s.p, "elem_type");
	ck_assert_str_eq(v->u.dict.vals[1]->u.s.p, elem);
	ck_assert_str_eq(v->u.dict.keys[2]->u.s.p, "length");
	assert_int(v->u.dict.vals[2], n);
}

/* make_fixtures.py's contents for tensors without explicit data. */
static void pattern(uint8_t *p, size_t n, int seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((seed * 31 + (int)i * 7) & 0xff);
}

struct want {
	const char *key;
	enum ck_dtype dt;
	int ndim;
	int64_t shape[4];
	uint64_t off, nbytes;
	const char *bytes;   /* NULL: pattern(seed = index + 1) */
};

static const struct want tiny_want[] = {
	{"token_embd.weight", CK_DT_F32, 2, {2, 3}, 0, 24,
	 "\0\0\0\0\0\0\x80\x3f\0\0\0\x40\0\0\x40\x40\0\0\x80\x40\0\0\xa0\x40"},
	{"blk.0.attn_q.weight", CK_DT_F16, 2, {2, 4}, 32, 16,
	 "\0\0\0\x3c\0\x40\0\x42\0\xbc\0\xc0\0\x38\xff\x7b"},
	{"blk.0.ffn.weight", CK_DT_Q8_0, 2, {2, 32}, 64, 68, NULL},
	{"blk.1.attn_q.weight", CK_DT_Q4_0, 1, {64}, 160, 36, NULL},
	{"output.bias", CK_DT_BF16, 1, {5}, 224, 10, NULL},
	{"pos", CK_DT_I32, 3, {2, 2, 2}, 256, 32,
	 "\0\0\0\0\1\0\0\0\2\0\0\0\3\0\0\0\4\0\0\0\5\0\0\0\6\0\0\0\7\0\0\0"},
	{"idx", CK_DT_I8, 1, {3}, 288, 3, "\x01\xff\x7f"},
	{"scale", CK_DT_F64, 1, {1}, 320, 8, "\0\0\0\0\0\0\x04\x40"},
	{"big.q4_k", CK_DT_Q4_K, 2, {1, 256}, 352, 144, NULL},
};
#define TINY_DATA 1472
#define TINY_SIZE 1984
#define TINY_DATA_END (TINY_DATA + 352 + 144)

static void check_tensors(const struct ck_ckpt *ck, const struct want *w, size_t n, uint64_t data_off)
{
	ck_assert_int_eq(ck->root->kind, CK_V_DICT);
	ck_assert_int_eq(ck->root->u.dict.ordered, 1);
	ck_assert_uint_eq(ck->root->u.dict.n, n);
	ck_assert_uint_eq(ck->nstorages, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(ck->root->u.dict.keys[i]->u.s.p, w[i].key);
		ck_assert_int_eq(ck->root->u.dict.vals[i]->kind, CK_V_TENSOR);
		const struct ck_tensor *t = ck->root->u.dict.vals[i]->u.t;
		ck_assert_int_eq(t->dtype, w[i].dt);
		ck_assert_int_eq(t->ndim, w[i].ndim);
		int64_t stride = 1;
		for (int d = w[i].ndim - 1; d >= 0; d--) {
			ck_assert_int_eq(t->shape[d], w[i].shape[d]);
			ck_assert_int_eq(t->stride[d], stride);
			stride *= t->shape[d];
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
		ck_assert_uint_eq(s->offset, data_off + w[i].off);
		uint8_t want[256], *got = st_tensor_bytes(ck, t);
		if (w[i].bytes)
			memcpy(want, w[i].bytes, w[i].nbytes);
		else
			pattern(want, w[i].nbytes, (int)i + 1);
		ck_assert_msg(memcmp(got, want, w[i].nbytes) == 0, "bytes of '%s'", w[i].key);
		free(got);
		int file;
		uint64_t off;
		ck_assert_int_eq(ck_tensor_span(ck, t, &file, &off), 1);
		ck_assert_uint_eq(off, data_off + w[i].off);
	}
}

START_TEST(t_tiny)
{
	char *path = gg_path("tiny.gguf");
	struct ck_ckpt *ck = open_ok(path);
	ck_assert_str_eq(ck->fmt->name, "gguf");
	ck_assert_int_eq(ck->sep, '.');
	ck_assert_ptr_null(ck->config_json);
	ck_assert_uint_eq(ck->nfiles, 1);
	ck_assert_uint_eq(ck->files[0].size, TINY_SIZE);
	const struct ck_gguf_priv *p = ck->priv;
	ck_assert_uint_eq(p->version, 3);
	ck_assert_uint_eq(p->alignment, 32);
	ck_assert_uint_eq(p->n_kv, 19);
	ck_assert_uint_eq(p->kv_len, 986);
	ck_assert_uint_eq(p->data_off, TINY_DATA);
	size_t len;
	uint8_t *raw = st_read_all(path, &len);
	ck_assert_mem_eq(p->kv, raw + 24, p->kv_len);
	free(raw);
	check_tensors(ck, tiny_want, 9, TINY_DATA);

	/* every KV, in order, with its value */
	static const char *const keys[] = {
		"general.architecture", "general.name", "t.u8", "t.i8", "t.u16", "t.i16", "t.u32", "t.i32",
		"t.f32", "t.bool", "t.u64", "t.i64", "t.f64", "t.arr_i32", "t.arr_str", "t.nested", "t.long",
		"t.empty", "general.quantization_version",
	};
	ck_assert_uint_eq(ck->metadata->u.dict.n, 19);
	for (size_t i = 0; i < 19; i++)
		ck_assert_str_eq(ck->metadata->u.dict.keys[i]->u.s.p, keys[i]);
	ck_assert_str_eq(meta(ck, "general.architecture")->u.s.p, "llama");
	ck_assert_str_eq(meta(ck, "general.name")->u.s.p, "ckptfs tiny");
	assert_int(meta(ck, "t.u8"), 200);
	assert_int(meta(ck, "t.i8"), -5);
	assert_int(meta(ck, "t.u16"), 60000);
	assert_int(meta(ck, "t.i16"), -30000);
	assert_int(meta(ck, "t.u32"), 4000000000);
	assert_int(meta(ck, "t.i32"), -2000000000);
	ck_assert_int_eq(meta(ck, "t.f32")->kind, CK_V_FLOAT);
	ck_assert(meta(ck, "t.f32")->u.f == 1e-05);   /* the float32's shortest decimal */
	ck_assert_int_eq(meta(ck, "t.bool")->kind, CK_V_BOOL);
	ck_assert_int_eq(meta(ck, "t.bool")->u.b, 1);
	char *u64 = ck_value_text(meta(ck, "t.u64"));
	ck_assert_str_eq(u64, "18446744073709551615");
	free(u64);
	assert_int(meta(ck, "t.i64"), -9000000000000000000LL);
	ck_assert(meta(ck, "t.f64")->u.f == 0.1);
	const struct ck_value *a = meta(ck, "t.arr_i32");
	ck_assert_int_eq(a->kind, CK_V_LIST);
	ck_assert_uint_eq(a->u.seq.n, 3);
	assert_int(a->u.seq.items[0], 1);
	assert_int(a->u.seq.items[1], -2);
	assert_int(a->u.seq.items[2], 3);
	char *s = ck_value_text(meta(ck, "t.arr_str"));
	ck_assert_str_eq(s, "['a', 'bc', '']");
	free(s);
	assert_summary(meta(ck, "t.nested"), "array", 2);
	assert_summary(meta(ck, "t.long"), "float32", 100);
	ck_assert_int_eq(meta(ck, "t.empty")->kind, CK_V_LIST);
	ck_assert_uint_eq(meta(ck, "t.empty")->u.seq.n, 0);
	assert_int(meta(ck, "general.quantization_version"), 2);

	char *ls = st_listing(ck);
	ck_assert_str_eq(ls, "token_embd.weight float32 [2,3]\nblk.0.attn_q.weight float16 [2,4]\n"
			 "blk.0.ffn.weight q8_0 [2,32]\nblk.1.attn_q.weight q4_0 [64]\noutput.bias bfloat16 [5]\n"
			 "pos int32 [2,2,2]\nidx int8 [3]\nscale float64 [1]\nbig.q4_k q4_K [1,256]\n");
	free(ls);
	ck_ckpt_free(ck);
	free(path);
}
END_TEST

START_TEST(t_small_fixtures)
{
	char *path = gg_path("v2_align64.gguf");
	struct ck_ckpt *ck = open_ok(path);
	const struct ck_gguf_priv *p = ck->priv;
	ck_assert_uint_eq(p->version, 2);
	ck_assert_uint_eq(p->alignment, 64);
	ck_assert_uint_eq(p->n_kv, 2);
	ck_assert_uint_eq(p->kv_len, 77);
	ck_assert_uint_eq(p->data_off, 192);
	static const struct want w[] = {
		{"w", CK_DT_F32, 1, {3}, 0, 12, "\0\0\xc0\x3f\0\0\0\xc0\0\0\x80\x40"},
		{"b.c", CK_DT_F16, 2, {1, 2}, 64, 4, "\0\x3c\0\x40"},
	};
	check_tensors(ck, w, 2, 192);
	ck_assert_str_eq(meta(ck, "general.architecture")->u.s.p, "gpt2");
	assert_int(meta(ck, "general.alignment"), 64);
	ck_ckpt_free(ck);
	free(path);

	path = gg_path("long_name.gguf");   /* ggml caps names at 63 bytes; we read longer ones */
	ck = open_ok(path);
	ck_assert_uint_eq(ck->root->u.dict.n, 1);
	ck_assert_uint_eq(strlen(ck->root->u.dict.keys[0]->u.s.p), 100);
	ck_ckpt_free(ck);
	free(path);

	path = gg_path("no_tensors.gguf");
	ck = open_ok(path);
	ck_assert_uint_eq(ck->root->u.dict.n, 0);
	ck_assert_uint_eq(ck->nstorages, 0);
	assert_summary(meta(ck, "tokenizer.ggml.tokens"), "string", 1000);
	ck_ckpt_free(ck);
	free(path);

	path = gg_path("empty.gguf");
	ck = open_ok(path);
	ck_assert_uint_eq(ck->root->u.dict.n, 0);
	ck_assert_uint_eq(ck->metadata->u.dict.n, 0);
	ck_assert_uint_eq(((struct ck_gguf_priv *)ck->priv)->kv_len, 0);
	ck_ckpt_free(ck);
	free(path);
}
END_TEST

static const struct {
	const char *file;
	ck_err code;
	const char *reason;
} broken[] = {
	{"bad_magic.gguf", CK_EFORMAT, "bad GGUF magic"},
	{"version1.gguf", CK_EUNSUP, "GGUF version 1 is not supported (only 2 and 3)"},
	{"version4.gguf", CK_EUNSUP, "GGUF version 4 is not supported"},
	{"byteswapped.gguf", CK_EUNSUP, "byte-swapped GGUF version 0x03000000"},
	{"huge_tensor_count.gguf", CK_EFORMAT, "4611686018427387904 tensors but only 136 bytes follow"},
	{"huge_kv_count.gguf", CK_EFORMAT, "claims 4611686018427387904 KVs"},
	{"huge_string.gguf", CK_EFORMAT, "string length 4611686018427387904 at offset 56 runs past the end"},
	{"huge_key.gguf", CK_ELIMIT, "string of 70000 bytes is over the limit of 65535"},
	{"huge_array.gguf", CK_EFORMAT, "KV 'a': array of 1099511627776 elements runs past the end"},
	{"deep_nest.gguf", CK_ELIMIT, "KV 'a': arrays nested deeper than 8"},
	{"bad_kv_type.gguf", CK_EFORMAT, "KV 'obj' has unknown value type 13"},
	{"bad_elem_type.gguf", CK_EFORMAT, "KV 'arr': array has unknown element type 13"},
	{"bad_bool.gguf", CK_EFORMAT, "KV 'flag': bool value 2 is not 0 or 1"},
	{"dup_key.gguf", CK_EFORMAT, "duplicate key 'a'"},
	{"align_not_pow2.gguf", CK_EFORMAT, "general.alignment 48 is not a power of two"},
	{"align_zero.gguf", CK_EFORMAT, "general.alignment 0 is not a power of two"},
	{"align_type.gguf", CK_EFORMAT, "general.alignment has type uint64, not uint32"},
	{"offset_unaligned.gguf", CK_EFORMAT, "tensor 'a': offset 4 is not a multiple of the alignment 32"},
	{"offset_past_eof.gguf", CK_EFORMAT, "tensor 'b': data at offset 1048576 (16 bytes) runs past the end"},
	{"ndims5.gguf", CK_EFORMAT, "tensor 'a' has 5 dimensions (GGUF allows at most 4)"},
	{"unknown_type.gguf", CK_EFORMAT, "tensor 'a' has unknown ggml type 99"},
	{"removed_type.gguf", CK_EUNSUP, "ggml type 4 (q4_2, removed from ggml) is not supported"},
	{"unsupported_type.gguf", CK_EUNSUP, "ggml type 40 (nvfp4) is not supported"},
	{"ne0_block.gguf", CK_EFORMAT, "ne[0] = 33 is not a multiple of the q8_0 block size 32"},
	{"dup_tensor.gguf", CK_EFORMAT, "duplicate tensor name 'a'"},
	{"neg_dim.gguf", CK_EFORMAT, "dimension 0 = 9223372036854775808 is over 2^63-1"},
	{"size_overflow.gguf", CK_ELIMIT, "tensor 'a': size overflows"},
	{"name_cap.gguf", CK_ELIMIT, "tensor info 0: string of 5000 bytes is over the limit of 4096"},
	{"name_nul.gguf", CK_EFORMAT, "tensor info 0: name contains a NUL byte"},
};

START_TEST(t_broken)
{
	char rel[256];
	snprintf(rel, sizeof rel, "broken/%s", broken[_i].file);
	char *path = gg_path(rel);
	expect_fail(path, broken[_i].code, broken[_i].reason);
	free(path);
}
END_TEST

/* tiny.gguf cut at every length: EFORMAT until the last tensor's data is complete. */
START_TEST(t_truncated_everywhere)
{
	char *src = gg_path("tiny.gguf"), *dir = st_tmpdir(), *cut = st_join(dir, "cut.gguf");
	size_t len;
	uint8_t *raw = st_read_all(src, &len);
	ck_assert_uint_eq(len, TINY_SIZE);
	size_t fails = 0;
	for (size_t n = 0; n < len; n++) {
		unlink(cut);
		st_write_bytes(cut, raw, n);
		if (n < TINY_DATA_END) {
			expect_fail(cut, CK_EFORMAT, n < 24 ? "truncated GGUF header" : NULL);
			fails++;
		} else {
			ck_ckpt_free(open_ok(cut));   /* only the padding after the last tensor is missing */
		}
	}
	ck_assert_uint_eq(fails, TINY_DATA_END);
	free(raw);
	free(cut);
	free(src);
	st_rm_rf(dir);
}
END_TEST

START_TEST(t_damage)
{
	char *a = gg_path("tiny.gguf"), *b = gg_path("real/ollama-llama-2-tiny-random.gguf");
	damage(a, "d.gguf", 3000);
	damage(b, "d.gguf", 300);
	free(a), free(b);
}
END_TEST

static void gstr(struct ck_buf *b, const char *s, size_t n)
{
	ck_buf_u64le(b, n);
	ck_buf_add(b, s, n);
}

/* A header bigger than the first 1 MiB read (the buffer grows and the parse
 * restarts), long arrays skipped by either path, and the metadata budget. */
START_TEST(t_big_header)
{
	char *dir = st_tmpdir(), *p = st_join(dir, "big.gguf");
	struct ck_buf b;
	ck_buf_init(&b);
	size_t nkv = 2003;
	ck_buf_add(&b, "GGUF\3\0\0\0", 8);
	ck_buf_u64le(&b, 1);
	ck_buf_u64le(&b, nkv);
	char *big = malloc(3u << 20);
	memset(big, 'x', 3u << 20);
	gstr(&b, "big.string", 10);
	ck_buf_u32le(&b, 8);
	gstr(&b, big, 3u << 20);
	gstr(&b, "big.u32s", 8);                 /* fixed-size elements: skipped at once */
	ck_buf_u32le(&b, 9);
	ck_buf_u32le(&b, 4);
	ck_buf_u64le(&b, 200000);
	for (int i = 0; i < 200000; i++)
		ck_buf_u32le(&b, (uint32_t)i);
	gstr(&b, "big.strings", 11);             /* strings: walked one by one */
	ck_buf_u32le(&b, 9);
	ck_buf_u32le(&b, 8);
	ck_buf_u64le(&b, 100000);
	for (int i = 0; i < 100000; i++)
		gstr(&b, "tok", 3);
	for (size_t k = 0; k < nkv - 3; k++) {   /* 64-element arrays until the budget is spent */
		char key[32];
		int n = snprintf(key, sizeof key, "a.%05zu", k);
		gstr(&b, key, (size_t)n);
		ck_buf_u32le(&b, 9);
		ck_buf_u32le(&b, 0);
		ck_buf_u64le(&b, 64);
		for (int i = 0; i < 64; i++)
			ck_buf_addc(&b, (uint8_t)i);
	}
	gstr(&b, "w", 1);
	ck_buf_u32le(&b, 1);
	ck_buf_u64le(&b, 4);
	ck_buf_u32le(&b, 0);
	ck_buf_u64le(&b, 0);
	size_t data = (b.len + 31) / 32 * 32;
	while (b.len < data)
		ck_buf_addc(&b, 0);
	for (int i = 0; i < 16; i++)
		ck_buf_addc(&b, (uint8_t)(i + 1));
	ck_assert(!b.oom);
	st_write_bytes(p, b.p, b.len);
	struct ck_ckpt *ck = open_ok(p);
	const struct ck_gguf_priv *pr = ck->priv;
	ck_assert_uint_eq(pr->data_off, data);
	ck_assert_uint_eq(pr->n_kv, nkv);
	ck_assert_mem_eq(pr->kv, b.p + 24, pr->kv_len);
	ck_assert_uint_eq(ck->storages[0].offset, data);
	uint8_t *t = st_tensor_bytes(ck, ck->root->u.dict.vals[0]->u.t);
	ck_assert_mem_eq(t, b.p + data, 16);
	free(t);
	ck_assert_uint_eq(meta(ck, "big.string")->u.s.len, 3u << 20);
	assert_summary(meta(ck, "big.u32s"), "uint32", 200000);
	assert_summary(meta(ck, "big.strings"), "string", 100000);
	ck_assert_int_eq(meta(ck, "a.01023")->kind, CK_V_LIST);   /* 1024 * 64 = the budget */
	ck_assert_uint_eq(meta(ck, "a.01023")->u.seq.n, 64);
	assert_summary(meta(ck, "a.01024"), "uint8", 64);
	ck_ckpt_free(ck);
	free(big);
	ck_buf_release(&b);
	free(p);
	st_rm_rf(dir);
}
END_TEST

/* Counts a file has room for but that are over the caps: ELIMIT before allocating. */
START_TEST(t_count_caps)
{
	static const struct { uint64_t nt, nkv, size; const char *reason; } c[] = {
		{0, 70000, 1u << 20, "70000 KVs is over the limit of 65536"},
		{300000, 0, 8u << 20, "300000 tensors is over the limit of 262144"},
	};
	char *dir = st_tmpdir(), *p = st_join(dir, "caps.gguf");
	for (size_t i = 0; i < 2; i++) {
		uint8_t h[24] = "GGUF\3\0\0\0";
		ck_put_u64le(h + 8, c[i].nt);
		ck_put_u64le(h + 16, c[i].nkv);
		unlink(p);
		st_write_bytes(p, h, sizeof h);
		ck_assert_int_eq(truncate(p, (off_t)c[i].size), 0);   /* sparse zeros */
		expect_fail(p, CK_ELIMIT, c[i].reason);
	}
	free(p);
	st_rm_rf(dir);
}
END_TEST

/* Listing and every tensor's bytes equal ggufref.py's numpy view. */
static void assert_ref(const struct ck_ckpt *ck, const char *path)
{
	char *ref = gg_path("ggufref.py");
	gn_assert_dump(ck, path, ref);
	free(ref);
}

START_TEST(t_fixtures_vs_ref)
{
	static const char *const files[] = {"tiny.gguf", "v2_align64.gguf", "long_name.gguf", "no_tensors.gguf"};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char *path = gg_path(files[i]);
		struct ck_ckpt *ck = open_ok(path);
		assert_ref(ck, path);
		ck_ckpt_free(ck);
		free(path);
	}
}
END_TEST

static const struct {
	const char *file;
	ck_err code;          /* CK_OK: opens */
	const char *reason;   /* expected message part, or the first listing line */
	size_t ntensors, nkv;
} real[] = {
	{"ollama-llama-2-tiny-random.gguf", CK_OK, "token_embd.weight float16 [32000,8]\n", 12, 18},
	{"llamacpp-ggml-vocab-bert-bge.gguf", CK_OK, "", 0, 20},
	{"llamacpp-ggml-vocab-phi-3.gguf", CK_OK, "", 0, 26},
	{"ollama-api-test-truncated.gguf", CK_EFORMAT, "truncated GGUF header (6 bytes; the fixed header needs 24)", 0, 0},
	{"llamacpp-test_writer.gguf", CK_EFORMAT, "KV 'dict1' has unknown value type 13", 0, 0},
	{"llamacpp-ggml-vocab-llama-2023-08-18.gguf", CK_EUNSUP, "GGUF version 1 is not supported", 0, 0},
	{"llamacpp-example-2023-07-28-draft.gguf", CK_EUNSUP, "byte-swapped GGUF magic 'FUGG'", 0, 0},
};

START_TEST(t_real)
{
	char rel[256];
	snprintf(rel, sizeof rel, "real/%s", real[_i].file);
	char *path = gg_path(rel);
	if (real[_i].code != CK_OK) {
		expect_fail(path, real[_i].code, real[_i].reason);
		free(path);
		return;
	}
	struct ck_ckpt *ck = open_ok(path);
	ck_assert_uint_eq(ck->root->u.dict.n, real[_i].ntensors);
	ck_assert_uint_eq(((struct ck_gguf_priv *)ck->priv)->n_kv, real[_i].nkv);
	ck_assert_uint_eq(ck->metadata->u.dict.n, real[_i].nkv);
	char *ls = st_listing(ck);
	ck_assert_msg(strncmp(ls, real[_i].reason, strlen(real[_i].reason)) == 0, "%s: listing %.80s", path, ls);
	free(ls);
	assert_ref(ck, path);
	if (_i == 0) {   /* the tokenizer arrays are summarised, the scalars kept */
		assert_summary(meta(ck, "tokenizer.ggml.tokens"), "string", 32000);
		assert_summary(meta(ck, "tokenizer.ggml.scores"), "float32", 32000);
		assert_int(meta(ck, "llama.context_length"), 4096);
		ck_assert(meta(ck, "llama.attention.layer_norm_rms_epsilon")->u.f == 1e-05);
	}
	ck_ckpt_free(ck);
	free(path);
}
END_TEST

/* Every file of the shared collection either opens and equals the reference,
 * or fails with one line naming it (no crash, no leak). */
START_TEST(t_shared_collection)
{
	const char *dir = "/work/shared/data/gguf";
	char cmd[512];
	snprintf(cmd, sizeof cmd, "ls %s/*.gguf 2>/dev/null", dir);
	int status;
	char *list = st_run(cmd, &status);
	size_t opened = 0, refused = 0;
	for (char *save, *p = strtok_r(list, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		struct ck_ckpt *ck = NULL;
		struct ck_error err = {0};
		if (ck_ckpt_open(p, &ck, &err) == CK_OK) {
			assert_ref(ck, p);
			ck_ckpt_free(ck);
			opened++;
		} else {
			ck_assert_msg(!strchr(err.msg, '\n') && strstr(err.msg, p) == err.msg, "%s", err.msg);
			refused++;
		}
	}
	free(list);
	if (opened + refused)   /* 15 files in the collection of 2025-11: 10 open, 5 are refused */
		ck_assert_uint_ge(opened, 9);
}
END_TEST

/* ---- writing ----------------------------------------------------------------- */

/* Writes the tree of ck, after the changes in renames (pairs FROM, TO; "mkdir", DIR), as fmt
 * to dir/name; the write must return want (message holding reason). */
static char *write_as(struct ck_ckpt *ck, const struct ck_format *fmt, const char *dir, const char *name,
		      const char *const *renames, ck_err want, const char *reason)
{
	struct ck_tree *t;
	struct ck_error err = {0};
	ck_assert_int_eq(ck_tree_build(ck, &t, &err), CK_OK);
	for (size_t i = 0; renames && renames[i]; i += 2)
		ck_assert_msg((strcmp(renames[i], "mkdir") == 0 ? ck_tree_mkdir(t, renames[i + 1], &err)
			       : ck_tree_rename(t, renames[i], renames[i + 1], &err)) == CK_OK, "%s", err.msg);
	struct ck_value *root;
	ck_assert_int_eq(ck_tree_to_value(t, &root, &err), CK_OK);
	char *out = st_join(dir, name);
	struct ck_write_req req = {.src = ck, .root = root, .path = out, .final_path = out};
	ck_err rc = fmt->write(&req, &err);
	ck_assert_msg(rc == want, "write %s: got %s (%s)", out, ck_err_name(rc), err.msg);
	if (reason)
		ck_assert_msg(strstr(err.msg, reason), "message '%s' lacks '%s'", err.msg, reason);
	if (rc != CK_OK)
		ck_assert_int_ne(access(out, F_OK), 0);   /* nothing left behind */
	ck_value_unref(root);
	ck_tree_free(t);
	return out;
}

static void assert_same_file(const char *a, const char *b)
{
	size_t na, nb;
	uint8_t *x = st_read_all(a, &na), *y = st_read_all(b, &nb);
	ck_assert_uint_eq(na, nb);
	ck_assert_msg(memcmp(x, y, na) == 0, "%s and %s differ", a, b);
	free(x), free(y);
}

START_TEST(t_write_identity)
{
	/* ggml's layout + the source's KVs verbatim: an unchanged file comes back byte for byte */
	static const char *const files[] = {"tiny.gguf", "no_tensors.gguf", "empty.gguf",
					    "real/ollama-llama-2-tiny-random.gguf"};
	char *dir = st_tmpdir();
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char *path = gg_path(files[i]), name[32];
		snprintf(name, sizeof name, "out%zu.gguf", i);
		struct ck_ckpt *ck = open_ok(path);
		char *out = write_as(ck, &ck_format_gguf, dir, name, NULL, CK_OK, NULL);
		assert_same_file(path, out);
		ck_ckpt_free(ck);
		free(out), free(path);
	}
	/* a v2 source: the same bytes but the version word */
	char *path = gg_path("v2_align64.gguf");
	struct ck_ckpt *ck = open_ok(path);
	char *out = write_as(ck, &ck_format_gguf, dir, "v2.gguf", NULL, CK_OK, NULL);
	size_t na, nb;
	uint8_t *x = st_read_all(path, &na), *y = st_read_all(out, &nb);
	ck_assert_uint_eq(na, nb);
	ck_assert_int_eq(x[4], 2);
	ck_assert_int_eq(y[4], 3);
	ck_assert_mem_eq(x + 5, y + 5, na - 5);
	free(x), free(y), free(out), free(path);
	ck_ckpt_free(ck);
	st_rm_rf(dir);
}
END_TEST

START_TEST(t_write_renamed)
{
	char *dir = st_tmpdir(), *path = gg_path("tiny.gguf");
	struct ck_ckpt *ck = open_ok(path);
	static const char *const ren[] = {"mkdir", "layers", "blk/0", "layers/7", "token_embd", "embed", "idx", "layers/7/idx", NULL};
	char *out = write_as(ck, &ck_format_gguf, dir, "renamed.gguf", ren, CK_OK, NULL);
	struct ck_ckpt *back = open_ok(out);
	char *ls = st_listing(back);
	ck_assert_str_eq(ls, "embed.weight float32 [2,3]\nlayers.7.attn_q.weight float16 [2,4]\n"
			 "layers.7.ffn.weight q8_0 [2,32]\nblk.1.attn_q.weight q4_0 [64]\noutput.bias bfloat16 [5]\n"
			 "pos int32 [2,2,2]\nlayers.7.idx int8 [3]\nscale float64 [1]\nbig.q4_k q4_K [1,256]\n");
	free(ls);
	const struct ck_gguf_priv *a = ck->priv, *b = back->priv;
	ck_assert_uint_eq(a->n_kv, b->n_kv);
	ck_assert_uint_eq(a->kv_len, b->kv_len);
	ck_assert_mem_eq(a->kv, b->kv, a->kv_len);
	for (size_t i = 0; i < 9; i++) {
		const struct ck_tensor *x = ck->root->u.dict.vals[i]->u.t, *y = back->root->u.dict.vals[i]->u.t;
		ck_assert_int_eq(x->dtype, y->dtype);
		ck_assert_uint_eq(x->nbytes, y->nbytes);
		uint8_t *p = st_tensor_bytes(ck, x), *q = st_tensor_bytes(back, y);
		ck_assert_mem_eq(p, q, x->nbytes);
		free(p), free(q);
		ck_assert_uint_eq(back->storages[i].offset % 32, 0);
	}
	assert_ref(back, out);
	ck_ckpt_free(back);
	free(out);
	/* a name over 63 bytes, and an existing output, are refused */
	static const char *const ren2[] = {"pos", "position_embeddings_of_a_model_with_a_rather_long_name_0123456789", NULL};
	free(write_as(ck, &ck_format_gguf, dir, "long.gguf", ren2, CK_EUNSUP, "GGUF allows at most 63"));
	char *again = write_as(ck, &ck_format_gguf, dir, "again.gguf", NULL, CK_OK, NULL);
	free(again);
	struct ck_error err;
	again = st_join(dir, "again.gguf");
	struct ck_write_req req = {.src = ck, .root = ck->root, .path = again, .final_path = again};
	ck_assert_int_eq(ck_format_gguf.write(&req, &err), CK_EEXIST);
	ck_assert_int_eq(access(again, F_OK), 0);   /* the existing file is kept */
	free(again);
	ck_ckpt_free(ck);
	free(path);
	st_rm_rf(dir);
}
END_TEST

START_TEST(t_write_from_other_formats)
{
	char *dir = st_tmpdir();
	/* npz (float32 and int arrays) -> gguf: plain dtypes, general.architecture = "unknown" */
	char *src = st_path("npz/single.npy");
	struct ck_ckpt *ck = open_ok(src);
	char *out = write_as(ck, &ck_format_gguf, dir, "from_npy.gguf", NULL, CK_OK, NULL);
	struct ck_ckpt *back = open_ok(out);
	char *ls = st_listing(back);
	ck_assert_str_eq(ls, "single float32 [2,3]\n");
	free(ls);
	ck_assert_uint_eq(back->metadata->u.dict.n, 1);
	ck_assert_str_eq(meta(back, "general.architecture")->u.s.p, "unknown");
	st_assert_same(ck, back);
	assert_ref(back, out);
	ck_ckpt_free(back), ck_ckpt_free(ck);
	free(out), free(src);

	/* a Fortran-order (strided) source is gathered into C order; a 0-d tensor becomes [1] */
	src = st_path("npz/all_dtypes.npz");
	ck = open_ok(src);
	static const char *const keep[] = {"f32", "f64", "f16", "i8", "i16", "i32", "i64", "scalar",
					   "empty", "layer", "fortran2", "fortran3", NULL};
	struct ck_tree *t;
	struct ck_error err;
	ck_assert_int_eq(ck_tree_build(ck, &t, &err), CK_OK);
	static const char *const del[] = {"u8", "u16", "u32", "u64", "b", "c64", "c128", NULL};
	for (size_t i = 0; del[i]; i++)
		ck_assert_msg(ck_tree_unlink(t, del[i], &err) == CK_OK, "%s", err.msg);
	struct ck_value *root;
	ck_assert_int_eq(ck_tree_to_value(t, &root, &err), CK_OK);
	out = st_join(dir, "from_npz.gguf");
	struct ck_write_req req = {.src = ck, .root = root, .path = out, .final_path = out};
	ck_assert_int_eq(ck_format_gguf.write(&req, &err), CK_EUNSUP);
	ck_assert_msg(strstr(err.msg, "tensor 'dims15' has 15 dimensions; GGUF allows at most 4"), "%s", err.msg);
	ck_assert_int_ne(access(out, F_OK), 0);
	ck_value_unref(root);
	ck_assert_int_eq(ck_tree_unlink(t, "dims15", &err), CK_OK);
	ck_assert_int_eq(ck_tree_to_value(t, &root, &err), CK_OK);
	req.root = root;
	ck_assert_msg(ck_format_gguf.write(&req, &err) == CK_OK, "%s", err.msg);
	back = open_ok(out);
	ck_assert_uint_eq(back->root->u.dict.n, 12);
	for (size_t i = 0; keep[i]; i++)
		ck_assert_str_eq(back->root->u.dict.keys[i]->u.s.p, strcmp(keep[i], "layer") ? keep[i] : "layer.0.weight");
	ck_assert_int_eq(back->root->u.dict.vals[7]->u.t->ndim, 1);   /* scalar: [] -> [1] */
	ck_assert_int_eq(back->root->u.dict.vals[7]->u.t->shape[0], 1);
	for (size_t i = 0; i < 12; i++) {
		const struct ck_tensor *x = root->u.dict.vals[i]->u.t, *y = back->root->u.dict.vals[i]->u.t;
		ck_assert_uint_eq(x->nbytes, y->nbytes);
		uint8_t *p = st_tensor_bytes(ck, x), *q = st_tensor_bytes(back, y);
		ck_assert_mem_eq(p, q, x->nbytes);
		free(p), free(q);
	}
	ck_ckpt_free(back);
	free(out);
	ck_value_unref(root);
	ck_tree_free(t);
	/* dtypes GGUF lacks are refused, nothing left behind */
	free(write_as(ck, &ck_format_gguf, dir, "bad.gguf", NULL, CK_EUNSUP, "GGUF cannot store dtype uint8 of tensor 'u8'"));
	ck_ckpt_free(ck);
	free(src);
	/* block types are never invented for another format's tensors */
	src = gg_path("tiny.gguf");
	ck = open_ok(src);
	free(write_as(ck, &ck_format_npz, dir, "q.npz", NULL, CK_EUNSUP, "npz cannot store dtype q8_0"));
	ck_ckpt_free(ck);
	free(src);
	st_rm_rf(dir);
}
END_TEST

START_TEST(t_probe)
{
	ck_assert_int_eq(ck_format_gguf.probe("x.bin", (const uint8_t *)"GGUF\3\0\0\0", 8, 0), 95);
	ck_assert_int_eq(ck_format_gguf.probe("x.bin", (const uint8_t *)"FUGG\1\0\0\0", 8, 0), 60);
	ck_assert_int_eq(ck_format_gguf.probe("x.gguf", (const uint8_t *)"GGU", 3, 0), 10);
	ck_assert_int_eq(ck_format_gguf.probe("x.bin", (const uint8_t *)"GGU", 3, 0), 0);
	ck_assert_int_eq(ck_format_gguf.probe("dir.gguf", (const uint8_t *)"", 0, 1), 0);
	ck_assert_ptr_eq(ck_format_by_name("gguf"), &ck_format_gguf);
	ck_assert_str_eq(ck_format_gguf.ext, ".gguf");
	int known;
	ck_assert_int_eq(ck_gguf_dtype(12, &known), CK_DT_Q4_K);
	ck_assert_int_eq(known, 1);
	ck_assert_int_eq(ck_gguf_dtype(4, &known), CK_DT_INVALID);
	ck_assert_int_eq(known, 1);
	ck_assert_int_eq(ck_gguf_dtype(1000, &known), CK_DT_INVALID);
	ck_assert_int_eq(known, 0);
	ck_assert_int_eq(ck_gguf_type_id(CK_DT_BF16), 30);
	ck_assert_int_eq(ck_gguf_type_id(CK_DT_MXFP4), 39);
	ck_assert_int_eq(ck_gguf_type_id(CK_DT_BOOL), -1);
	/* every block dtype of ck.h round-trips through its ggml id */
	for (int dt = CK_DT_Q4_0; dt < CK_DT_COUNT; dt++) {
		long id = ck_gguf_type_id((enum ck_dtype)dt);
		ck_assert_int_ge(id, 0);
		ck_assert_int_eq(ck_gguf_dtype((uint32_t)id, &known), dt);
	}
}
END_TEST

static Suite *gguf_suite(void)
{
	Suite *s = suite_create("gguf");
	TCase *tc = tcase_create("read");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_tiny);
	tcase_add_test(tc, t_small_fixtures);
	tcase_add_loop_test(tc, t_broken, 0, sizeof broken / sizeof broken[0]);
	tcase_add_test(tc, t_truncated_everywhere);
	tcase_add_test(tc, t_damage);
	tcase_add_test(tc, t_big_header);
	tcase_add_test(tc, t_count_caps);
	tcase_add_test(tc, t_fixtures_vs_ref);
	tcase_add_loop_test(tc, t_real, 0, sizeof real / sizeof real[0]);
	tcase_add_test(tc, t_shared_collection);
	tcase_add_test(tc, t_probe);
	suite_add_tcase(s, tc);
	TCase *tw = tcase_create("write");
	tcase_set_timeout(tw, 120);
	tcase_add_test(tw, t_write_identity);
	tcase_add_test(tw, t_write_renamed);
	tcase_add_test(tw, t_write_from_other_formats);
	suite_add_tcase(s, tw);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(gguf_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
