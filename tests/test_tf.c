/*
 * test_tf.c — the TensorFlow tensor-bundle reader (formats/tf.c, tf_table.c):
 * crc32c and snappy against known vectors, every field of real checkpoints
 * from tests/data/tf (expected values decoded by tests/tf_ref.py, an
 * independent Python reader), tensor bytes and their CRCs for every real
 * checkpoint, every way of naming a checkpoint (prefix, .index, data shard,
 * folder with and without a `checkpoint` file, SavedModel), and a table of
 * broken bundles, each with the code it must fail with.  The bundles of the
 * broken table are assembled here by hand (not with the library's builder).
 * The writer's tests are in test_tf_write.c.
 */
#include "tf_util.h"

/* ---- crc32c and snappy ----------------------------------------------------- */

START_TEST(t_crc32c)
{
	/* RFC 3720 B.4 and the usual check value */
	uint8_t z[32] = {0}, ff[32], inc[32];
	for (int i = 0; i < 32; i++)
		ff[i] = 0xff, inc[i] = (uint8_t)i;
	ck_assert_uint_eq(ck_crc32c_extend(0, "123456789", 9), 0xe3069283u);
	ck_assert_uint_eq(ck_crc32c_extend(0, z, 32), 0x8a9136aau);
	ck_assert_uint_eq(ck_crc32c_extend(0, ff, 32), 0x62a8ab43u);
	ck_assert_uint_eq(ck_crc32c_extend(0, inc, 32), 0x46dd794eu);
	ck_assert_uint_eq(ck_crc32c_extend(0, "", 0), 0);
	/* extending in pieces is the same as at once */
	ck_assert_uint_eq(ck_crc32c_extend(ck_crc32c_extend(0, "1234", 4), "56789", 5), 0xe3069283u);
	/* hardware and table paths agree at every length and alignment */
	uint8_t buf[300];
	for (int i = 0; i < 300; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t off = 0; off < 9; off++)
		for (size_t n = 0; n + off <= 300; n += 13)
			ck_assert_uint_eq(ck_crc32c_extend(5, buf + off, n), ck_crc32c_extend_sw(5, buf + off, n));
	/* LevelDB's mask: a known pair, and unmask inverts it */
	ck_assert_uint_eq(ck_crc32c_mask(0), 0xa282ead8u);
	for (uint32_t c = 1; c < 0xf0000000u; c = c * 7 + 12345)
		ck_assert_uint_eq(ck_crc32c_unmask(ck_crc32c_mask(c)), c);
	/* the data CRC of a real tensor: Variable = 0.5f in half_plus_two */
	uint8_t half[4] = {0, 0, 0, 0x3f};
	ck_assert_uint_eq(ck_crc32c_mask(ck_crc32c_extend(0, half, 4)), 0x1f273806u);
}
END_TEST

struct snappy_case {
	const char *name;
	const char *in;
	size_t n;
	size_t cap;
	ck_err want;
	const char *out;
	size_t outlen;
};

static const struct snappy_case snappy_cases[] = {
	{"literal", "\x05\x10hello", 7, 100, CK_OK, "hello", 5},
	{"copy1 overlapping", "\x08\x04" "ab\x09\x02", 6, 100, CK_OK, "abababab", 8},
	{"copy2", "\x07\x08" "abc\x0e\x03\x00", 8, 100, CK_OK, "abcabca", 7},
	{"copy4", "\x06\x08" "abc\x0b\x03\x00\x00\x00", 10, 100, CK_OK, "abcabc", 6},
	{"long literal (tag 60)", "\x03\xf0\x02xyz", 6, 100, CK_OK, "xyz", 3},
	{"empty", "\x00", 1, 100, CK_OK, "", 0},
	{"offset 0", "\x06\x04" "ab\x01\x00", 6, 100, CK_EFORMAT, NULL, 0},
	{"offset past output", "\x06\x04" "ab\x01\x05", 6, 100, CK_EFORMAT, NULL, 0},
	{"copy past declared length", "\x04\x04" "ab\x09\x02", 6, 100, CK_EFORMAT, NULL, 0},
	{"literal past declared length", "\x02\x10hello", 7, 100, CK_EFORMAT, NULL, 0},
	{"short output", "\x09\x10hello", 7, 100, CK_EFORMAT, NULL, 0},
	{"truncated literal", "\x05\x10hel", 5, 100, CK_EFORMAT, NULL, 0},
	{"truncated copy2", "\x07\x08" "abc\x06\x03", 6, 100, CK_EFORMAT, NULL, 0},
	{"overlong length varint", "\xff\xff\xff\xff\xff\xff\x01", 7, 100, CK_EFORMAT, NULL, 0},
	{"over the cap", "\x80\x08\x00", 3, 1000, CK_ELIMIT, NULL, 0},
};
#define NSNAPPY (sizeof snappy_cases / sizeof snappy_cases[0])

START_TEST(t_snappy)
{
	const struct snappy_case *c = &snappy_cases[_i];
	uint8_t *out = NULL;
	size_t len = 0;
	struct ck_error err = {0};
	ck_err rc = ck_snappy_decode((const uint8_t *)c->in, c->n, c->cap, &out, &len, "x", &err);
	ck_assert_msg(rc == c->want, "%s: got %s (%s), want %s", c->name, ck_err_name(rc), err.msg,
		      ck_err_name(c->want));
	if (rc == CK_OK) {
		ck_assert_uint_eq(len, c->outlen);
		ck_assert_msg(memcmp(out, c->out, len) == 0, "%s: output", c->name);
	} else {
		ck_assert_ptr_null(out);
		ck_assert_msg(strstr(err.msg, "snappy") != NULL, "%s: %s", c->name, err.msg);
	}
	free(out);
}
END_TEST

START_TEST(t_dtypes)
{
	/* types.proto numbers, written out here independently of tf.c */
	static const struct {
		unsigned tf;
		enum ck_dtype dt;
		const char *name;
	} m[] = {
		{1, CK_DT_F32, "float"}, {2, CK_DT_F64, "double"}, {3, CK_DT_I32, "int32"}, {4, CK_DT_U8, "uint8"},
		{5, CK_DT_I16, "int16"}, {6, CK_DT_I8, "int8"}, {7, CK_DT_INVALID, "string"},
		{8, CK_DT_C64, "complex64"}, {9, CK_DT_I64, "int64"}, {10, CK_DT_BOOL, "bool"},
		{11, CK_DT_QINT8, "qint8"}, {12, CK_DT_QUINT8, "quint8"}, {13, CK_DT_QINT32, "qint32"},
		{14, CK_DT_BF16, "bfloat16"}, {15, CK_DT_INVALID, "qint16"}, {16, CK_DT_INVALID, "quint16"},
		{17, CK_DT_U16, "uint16"}, {18, CK_DT_C128, "complex128"}, {19, CK_DT_F16, "half"},
		{20, CK_DT_INVALID, "resource"}, {21, CK_DT_INVALID, "variant"}, {22, CK_DT_U32, "uint32"},
		{23, CK_DT_U64, "uint64"}, {24, CK_DT_F8E5M2, "float8_e5m2"}, {25, CK_DT_F8E4M3, "float8_e4m3fn"},
		{26, CK_DT_INVALID, "float8_e4m3fnuz"}, {29, CK_DT_INVALID, "int4"}, {32, CK_DT_INVALID, "uint2"},
	};
	for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
		ck_assert_int_eq(ck_tf_dtype(m[i].tf), m[i].dt);
		ck_assert_str_eq(ck_tf_dtype_name(m[i].tf), m[i].name);
		if (m[i].dt != CK_DT_INVALID)
			ck_assert_uint_eq(ck_tf_dtype_to_tf(m[i].dt), m[i].tf);
	}
	ck_assert_int_eq(ck_tf_dtype(0), CK_DT_INVALID);
	ck_assert_ptr_null(ck_tf_dtype_name(33));
	ck_assert_ptr_null(ck_tf_dtype_name(101));   /* _REF types never appear in checkpoints */
	ck_assert_uint_eq(ck_tf_dtype_to_tf(CK_DT_Q4_0), 0);
	ck_assert_uint_eq(ck_tf_dtype_to_tf(CK_DT_INVALID), 0);
}
END_TEST

/* ---- every field of real checkpoints ------------------------------------------ */

START_TEST(t_half_plus_two)
{
	/* tensorflow/serving half_plus_two (2016): a TF-1 export, no `checkpoint` file */
	static const struct tf_want w[] = {
		{"Variable", 1, 0, {0}, 0, 4, 0x1f273806u},
		{"Variable_1", 1, 0, {0}, 4, 4, 0x4f78fd10u},
	};
	char *dir = tf_path("tf/half_plus_two_v2export");
	char *prefix = tf_cat(dir, "/export", "");
	struct ck_ckpt *ck = tf_open_ok(dir);
	ck_assert_str_eq(ck->fmt->name, "tf");
	ck_assert_int_eq(ck->sep, '/');
	ck_assert_ptr_null(ck->config_json);
	ck_assert_uint_eq(ck->nfiles, 2);
	ck_assert_uint_eq(ck->files[0].size, 142);
	ck_assert_uint_eq(ck->files[1].size, 8);
	tf_check_entries(ck, prefix, w, 2);
	tf_check_meta(ck, prefix, "the only *.index in the folder (no checkpoint file)", 1, 1, 0);
	/* values: 0.5 and 2.0 */
	const struct ck_tensor *t = ck->root->u.dict.vals[1]->u.t;
	float f;
	size_t got;
	struct ck_error err = {0};
	ck_assert_int_eq(ck_tensor_read(ck, t, &f, 4, 0, &got, &err), CK_OK);
	ck_assert_uint_eq(got, 4);
	ck_assert(f == 2.0f);
	ck_ckpt_free(ck);
	free(prefix);
	free(dir);
}
END_TEST

START_TEST(t_keras_multiple_inputs)
{
	/* tensorflow/rust keras_multiple_inputs_saved_model: TF2 object-based names,
	 * Adam slots, an int64 step and the object graph (a string tensor) */
	static const struct tf_want w[] = {
		{"_CHECKPOINTABLE_OBJECT_GRAPH", 7, 0, {0}, 340, 4516, 0x7cb4adc5u},
		{"keras_api/metrics/0/count/.ATTRIBUTES/VARIABLE_VALUE", 1, 0, {0}, 128, 4, 0x2bdaa581u},
		{"keras_api/metrics/0/total/.ATTRIBUTES/VARIABLE_VALUE", 1, 0, {0}, 124, 4, 0xf562c43eu},
		{"keras_api/metrics/1/count/.ATTRIBUTES/VARIABLE_VALUE", 1, 0, {0}, 136, 4, 0x2bdaa581u},
		{"keras_api/metrics/1/total/.ATTRIBUTES/VARIABLE_VALUE", 1, 0, {0}, 132, 4, 0x2bdaa581u},
		{"layer_with_weights-1/bias/.ATTRIBUTES/VARIABLE_VALUE", 1, 1, {1}, 24, 4, 0x2a5c38b1u},
		{"layer_with_weights-1/bias/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE", 1, 1, {1}, 164, 4,
		 0x966b7750u},
		{"layer_with_weights-1/bias/.OPTIMIZER_SLOT/optimizer/v/.ATTRIBUTES/VARIABLE_VALUE", 1, 1, {1}, 264, 4,
		 0x4e60da80u},
		{"layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE", 1, 2, {6, 1}, 0, 24, 0xcafd5044u},
		{"layer_with_weights-1/kernel/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE", 1, 2, {6, 1}, 140,
		 24, 0xd1fe7cd5u},
		{"layer_with_weights-1/kernel/.OPTIMIZER_SLOT/optimizer/v/.ATTRIBUTES/VARIABLE_VALUE", 1, 2, {6, 1}, 240,
		 24, 0x03db774fu},
		{"optimizer/beta_1/.ATTRIBUTES/VARIABLE_VALUE", 1, 0, {0}, 36, 4, 0xdfc7ebfdu},
		{"optimizer/beta_2/.ATTRIBUTES/VARIABLE_VALUE", 1, 0, {0}, 40, 4, 0xd9faedbbu},
		{"optimizer/decay/.ATTRIBUTES/VARIABLE_VALUE", 1, 0, {0}, 44, 4, 0x3a117ba6u},
		{"optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE", 9, 0, {0}, 28, 8, 0x41de7501u},
		{"optimizer/learning_rate/.ATTRIBUTES/VARIABLE_VALUE", 1, 0, {0}, 48, 4, 0x3255cb69u},
		{"trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE", 1, 2, {5, 3}, 52, 60, 0x2e147736u},
		{"trainable_variables/0/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE", 1, 2, {5, 3}, 168, 60,
		 0x46c3249du},
		{"trainable_variables/0/.OPTIMIZER_SLOT/optimizer/v/.ATTRIBUTES/VARIABLE_VALUE", 1, 2, {5, 3}, 268, 60,
		 0xa11d5835u},
		{"trainable_variables/1/.ATTRIBUTES/VARIABLE_VALUE", 1, 1, {3}, 112, 12, 0xea20473cu},
		{"trainable_variables/1/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE", 1, 1, {3}, 228, 12,
		 0x4ade64c5u},
		{"trainable_variables/1/.OPTIMIZER_SLOT/optimizer/v/.ATTRIBUTES/VARIABLE_VALUE", 1, 1, {3}, 328, 12,
		 0x1e318993u},
	};
	char *dir = tf_path("tf/keras_multiple_inputs_saved_model");
	char *prefix = tf_cat(dir, "/variables/variables", "");
	struct ck_ckpt *ck = tf_open_ok(dir);
	ck_assert_uint_eq(ck->nfiles, 2);
	ck_assert_uint_eq(ck->files[0].size, 1389);
	ck_assert_uint_eq(ck->files[1].size, 4856);
	tf_check_entries(ck, prefix, w, sizeof w / sizeof w[0]);
	tf_check_meta(ck, prefix, "SavedModel variables/", 1, 1, 1);
	struct ck_tf_priv *priv = ck->priv;
	ck_assert_uint_eq(priv->nopaque, 1);
	ck_assert_uint_eq(priv->opaque[0].dtype, 7);
	ck_assert_uint_eq(priv->opaque[0].numel, 1);
	ck_assert_ptr_eq(priv->opaque[0].leaf, ck->root->u.dict.vals[0]);
	ck_ckpt_free(ck);
	free(prefix);
	free(dir);
}
END_TEST

START_TEST(t_regression_and_mkl)
{
	static const struct tf_want reg[] = {
		{"_CHECKPOINTABLE_OBJECT_GRAPH", 7, 0, {0}, 28, 537, 0xa3df44ebu},
		{"b/.ATTRIBUTES/VARIABLE_VALUE", 1, 1, {1}, 4, 4, 0x3a117ba6u},
		{"optimizer/decay/.ATTRIBUTES/VARIABLE_VALUE", 1, 0, {0}, 16, 4, 0x3a117ba6u},
		{"optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE", 9, 0, {0}, 8, 8, 0x07980329u},
		{"optimizer/learning_rate/.ATTRIBUTES/VARIABLE_VALUE", 1, 0, {0}, 20, 4, 0x1f273806u},
		{"optimizer/momentum/.ATTRIBUTES/VARIABLE_VALUE", 1, 0, {0}, 24, 4, 0x3a117ba6u},
		{"w/.ATTRIBUTES/VARIABLE_VALUE", 1, 1, {1}, 0, 4, 0xe0c6ec66u},
	};
	static const struct tf_want mkl[] = {
		{"a", 1, 0, {0}, 0, 4, 0x1f273806u},
		{"b", 1, 0, {0}, 4, 4, 0x4f78fd10u},
		{"c", 1, 0, {0}, 8, 4, 0xc382d6efu},
		{"conv2d/bias", 1, 1, {1}, 12, 4, 0x3a117ba6u},
		{"conv2d/kernel", 1, 4, {1, 1, 1, 1}, 16, 4, 0x8071c907u},
		{"conv2d_1/bias", 1, 1, {1}, 20, 4, 0x3a117ba6u},
		{"conv2d_1/kernel", 1, 4, {1, 1, 1, 1}, 24, 4, 0x33bb5594u},
		{"conv2d_2/bias", 1, 1, {1}, 28, 4, 0x3a117ba6u},
		{"conv2d_2/kernel", 1, 4, {1, 1, 1, 1}, 32, 4, 0xff6a0eebu},
	};
	/* the .index form, and the prefix form */
	char *p1 = tf_path("tf/regression_savedmodel/variables/variables");
	char *i1 = tf_cat(p1, ".index", "");
	struct ck_ckpt *ck = tf_open_ok(i1);
	tf_check_entries(ck, p1, reg, sizeof reg / sizeof reg[0]);
	tf_check_meta(ck, p1, ".index file", 1, 1, 1);
	ck_ckpt_free(ck);
	char *p2 = tf_path("tf/saved_model_half_plus_two_mkl/variables/variables");
	ck = tf_open_ok(p2);
	tf_check_entries(ck, p2, mkl, sizeof mkl / sizeof mkl[0]);
	tf_check_meta(ck, p2, "prefix", 1, 1, 0);
	ck_ckpt_free(ck);
	free(p1);
	free(i1);
	free(p2);
}
END_TEST

/* Every real V2 checkpoint: entry counts, and every tensor's bytes and CRC. */
static const struct {
	const char *dir;
	size_t entries, tensors;
	int object_graph;
	const char *first;
} real[] = {
	{"tf/half_plus_two_v2export", 2, 2, 0, "Variable"},
	{"tf/keras_multiple_inputs_saved_model", 22, 21, 1, "_CHECKPOINTABLE_OBJECT_GRAPH"},
	{"tf/keras_single_input_saved_model", 28, 27, 1, "_CHECKPOINTABLE_OBJECT_GRAPH"},
	{"tf/regression_savedmodel", 7, 6, 1, "_CHECKPOINTABLE_OBJECT_GRAPH"},
	{"tf/saved_model_counter", 1, 1, 0, "counter"},
	{"tf/saved_model_half_plus_three", 3, 3, 0, "a"},
	{"tf/saved_model_half_plus_two_2_versions", 3, 3, 0, "a"},
	{"tf/saved_model_half_plus_two_cpu", 5, 5, 0, "a"},         /* snappy data block */
	{"tf/saved_model_half_plus_two_mkl", 9, 9, 0, "a"},
	{"tf/saved_model_half_plus_two_tf2_cpu", 4, 3, 1, "_CHECKPOINTABLE_OBJECT_GRAPH"},  /* snappy */
	{"tf/tf_text_regression", 1, 0, 1, "_CHECKPOINTABLE_OBJECT_GRAPH"},
};
#define NREAL (sizeof real / sizeof real[0])

START_TEST(t_real_bytes)
{
	char *dir = tf_path(real[_i].dir);
	struct ck_ckpt *ck = tf_open_ok(dir);
	ck_assert_uint_eq(ck->root->u.dict.n, real[_i].entries);
	ck_assert_uint_eq(ck->nstorages, real[_i].tensors);
	ck_assert_str_eq(ck->root->u.dict.keys[0]->u.s.p, real[_i].first);
	struct ck_tf_priv *priv = ck->priv;
	ck_assert_uint_eq(priv->nopaque, real[_i].entries - real[_i].tensors);
	size_t ntensors = tf_check_all_bytes(ck);
	ck_assert_uint_eq(ntensors, real[_i].tensors);
	const struct ck_value *og = tf_meta(ck, "object_graph");
	ck_assert_int_eq(og->u.b, real[_i].object_graph);
	ck_ckpt_free(ck);
	free(dir);
}
END_TEST

/* ---- naming a checkpoint ---------------------------------------------------------- */

START_TEST(t_forms)
{
	char *dir = tf_path("tf/half_plus_two_v2export");
	char *prefix = tf_cat(dir, "/export", "");
	char *index = tf_cat(prefix, ".index", "");
	char *shard = tf_cat(prefix, ".data-00000-of-00001", "");
	char *slash = tf_cat(dir, "/", "");
	const char *paths[] = {dir, slash, prefix, index, shard};
	const char *from[] = {"the only *.index in the folder (no checkpoint file)",
			      "the only *.index in the folder (no checkpoint file)", "prefix", ".index file", "data shard"};
	for (int i = 0; i < 5; i++) {
		struct ck_ckpt *ck = tf_open_ok(paths[i]);
		ck_assert_str_eq(ck->fmt->name, "tf");
		ck_assert_uint_eq(ck->root->u.dict.n, 2);
		ck_assert_str_eq(tf_meta(ck, "prefix_from")->u.s.p, from[i]);
		ck_assert_str_eq(ck->files[1].path, shard);
		ck_ckpt_free(ck);
	}
	/* a prefix with no .index: nothing claims it */
	char *none = tf_cat(dir, "/nothing-here", "");
	tf_open_fail(none, CK_ENOENT, "no such file");
	free(none);
	free(dir);
	free(prefix);
	free(index);
	free(shard);
	free(slash);
}
END_TEST

START_TEST(t_checkpoint_file)
{
	char *src = tf_path("tf/half_plus_two_v2export/export");
	char *tmp = tf_tmpdir();
	char *p = tf_cat(tmp, "/model.ckpt-7", "");
	tf_copy_bundle(src, p);
	/* another prefix the state file does not name: must not be picked */
	char *other = tf_cat(tmp, "/model.ckpt-9", "");
	tf_copy_bundle(src, other);
	char *state = tf_cat(tmp, "/checkpoint", "");

	tf_write_text(state, "model_checkpoint_path: \"model.ckpt-7\"\n"
			     "all_model_checkpoint_paths: \"model.ckpt-7\"\nall_model_checkpoint_paths: \"model.ckpt-9\"\n");
	struct ck_ckpt *ck = tf_open_ok(tmp);
	tf_check_meta(ck, p, "checkpoint file", 1, 1, 0);
	ck_ckpt_free(ck);

	/* an absolute path from where it was trained: found beside the state file */
	tf_write_text(state, "model_checkpoint_path: \"/gone/train/model.ckpt-7\"\n");
	ck = tf_open_ok(tmp);
	ck_assert_str_eq(tf_meta(ck, "prefix")->u.s.p, p);
	ck_assert_str_eq(tf_meta(ck, "prefix_from")->u.s.p,
			 "checkpoint file (it names '/gone/train/model.ckpt-7'; found beside it)");
	ck_ckpt_free(ck);

	/* escapes in the text format, absolute and existing */
	char *esc = tf_cat("model_checkpoint_path: '", p, "'\n");
	tf_write_text(state, esc);
	ck = tf_open_ok(tmp);
	ck_assert_str_eq(tf_meta(ck, "prefix")->u.s.p, p);
	ck_ckpt_free(ck);
	tf_write_text(state, "  model_checkpoint_path :  \"model\\056ckpt-7\"\n");
	ck = tf_open_ok(tmp);
	ck_assert_str_eq(tf_meta(ck, "prefix")->u.s.p, p);
	ck_ckpt_free(ck);

	/* a state file naming something that is not there */
	tf_write_text(state, "model_checkpoint_path: \"model.ckpt-8\"\n");
	tf_open_fail(tmp, CK_ENOENT, "names checkpoint 'model.ckpt-8'");
	tf_write_text(state, "all_model_checkpoint_paths: \"model.ckpt-7\"\n");
	tf_open_fail(tmp, CK_EFORMAT, "no model_checkpoint_path");
	tf_write_text(state, "model_checkpoint_path: \"model.ckpt-7\n");
	tf_open_fail(tmp, CK_EFORMAT, "no model_checkpoint_path");

	tf_rmtree(tmp);
	free(esc);
	free(state);
	free(other);
	free(p);
	free(tmp);
	free(src);
}
END_TEST

START_TEST(t_no_checkpoint_file)
{
	/* the TF-1 case: several model.ckpt-N and no `checkpoint` file */
	char *src = tf_path("tf/half_plus_two_v2export/export");
	char *tmp = tf_tmpdir();
	const char *steps[] = {"/model.ckpt-100", "/model.ckpt-2000", "/model.ckpt-300", "/model.ckpt-0"};
	for (int i = 0; i < 4; i++) {
		char *p = tf_cat(tmp, steps[i], "");
		tf_copy_bundle(src, p);
		free(p);
	}
	char *best = tf_cat(tmp, "/model.ckpt-2000", "");
	struct ck_ckpt *ck = tf_open_ok(tmp);
	tf_check_meta(ck, best, "the highest step of 4 prefixes in the folder (no checkpoint file)", 1, 1, 0);
	ck_ckpt_free(ck);
	/* a different stem: ambiguous */
	char *odd = tf_cat(tmp, "/other-5", "");
	tf_copy_bundle(src, odd);
	tf_open_fail(tmp, CK_EINVAL, "different checkpoints");
	/* the same step twice */
	char *dup = tf_cat(tmp, "/model.ckpt-02000", "");
	tf_rmbundle(odd);
	tf_copy_bundle(src, dup);
	tf_open_fail(tmp, CK_EINVAL, "name one prefix");
	tf_rmbundle(dup);
	/* a stem without a step */
	char *plain = tf_cat(tmp, "/model.ckpt", "");
	tf_copy_bundle(src, plain);
	tf_open_fail(tmp, CK_EINVAL, "different checkpoints");
	tf_rmtree(tmp);
	free(plain);
	free(dup);
	free(odd);
	free(best);
	free(tmp);
	free(src);
}
END_TEST

START_TEST(t_v1_refused)
{
	/* a TF V1 (SavedTensorSlices) table, through its `checkpoint` file whose
	 * absolute path is from the machine it was made on */
	char *dir = tf_path("tf/bad_half_plus_two_v1");
	tf_open_fail(dir, CK_EUNSUP, "TF V1 checkpoint");
	char *file = tf_cat(dir, "/export", "");
	tf_open_fail(file, CK_EUNSUP, "TF V1 checkpoint");
	char *sb = tf_path("tf/session_bundle_half_plus_two_v1");
	tf_open_fail(sb, CK_EFORMAT, "unrecognised");
	free(sb);
	free(file);
	free(dir);
}
END_TEST

START_TEST(t_missing_shard)
{
	char *src = tf_path("tf/keras_single_input_saved_model/variables/variables");
	char *tmp = tf_tmpdir();
	char *p = tf_cat(tmp, "/variables", "");
	char *idx = tf_cat(p, ".index", ""), *sidx = tf_cat(src, ".index", "");
	tf_copy_file(sidx, idx);
	char *want = tf_cat(p, ".data-00000-of-00001: missing data shard 1 of 1", "");
	tf_open_fail(p, CK_ENOENT, want);
	tf_rmtree(tmp);
	free(want);
	free(sidx);
	free(idx);
	free(p);
	free(tmp);
	free(src);
}
END_TEST

/* ---- hand-made bundles: valid ones, and one defect each ----------------------------- */

START_TEST(t_synthetic_valid)
{
	char *tmp = tf_tmpdir();
	char *p = tf_cat(tmp, "/x", "");
	/* every plain dtype, a zero-size tensor, a qint16 placeholder, several blocks,
	 * prefix compression with restarts every 3 entries, a snappy block */
	for (int variant = 0; variant < 3; variant++) {
		struct tf_syn s;
		tf_syn_init(&s);
		static const struct {
			const char *key;
			unsigned dt;
			int ndim;
			int64_t shape[2];
			unsigned size;
		} ents[] = {
			{"bf", 14, 1, {3}, 6}, {"bool", 10, 1, {2}, 2}, {"c128", 18, 0, {0}, 16}, {"c64", 8, 1, {1}, 8},
			{"f16", 19, 2, {1, 2}, 4}, {"f64", 2, 0, {0}, 8}, {"f8e4", 25, 1, {2}, 2}, {"f8e5", 24, 1, {3}, 3},
			{"i16", 5, 1, {2}, 4}, {"i32", 3, 1, {1}, 4}, {"i64", 9, 0, {0}, 8}, {"i8", 6, 1, {5}, 5},
			{"layer/0/w", 1, 2, {2, 2}, 16}, {"layer/0/wz", 1, 2, {0, 3}, 0}, {"q16", 15, 1, {2}, 4},
			{"qi32", 13, 1, {1}, 4}, {"qi8", 11, 1, {1}, 1}, {"qu8", 12, 1, {1}, 1}, {"u16", 17, 1, {1}, 2},
			{"u32", 22, 1, {1}, 4}, {"u64", 23, 1, {1}, 8}, {"u8", 4, 1, {3}, 3},
		};
		size_t n = sizeof ents / sizeof ents[0];
		uint64_t off = 0;
		for (size_t i = 0; i < n; i++) {
			tf_syn_tensor(&s, ents[i].key, ents[i].dt, ents[i].ndim, ents[i].shape, 0, off, ents[i].size);
			off += ents[i].size;
		}
		s.restart_every = 3;
		s.per_block = variant == 1 ? 4 : 1000;
		s.snappy = variant == 2;
		tf_syn_write(&s, p, off);
		struct ck_ckpt *ck = tf_open_ok(p);
		ck_assert_uint_eq(ck->root->u.dict.n, n);
		for (size_t i = 0; i < n; i++) {
			struct ck_value *v = ck->root->u.dict.vals[i];
			ck_assert_str_eq(ck->root->u.dict.keys[i]->u.s.p, ents[i].key);
			if (ents[i].dt == 15) {
				ck_assert_int_eq(v->kind, CK_V_STR);
				ck_assert_str_eq(v->u.s.p, "<tf qint16 tensor [2], 4 bytes>");
				continue;
			}
			ck_assert_int_eq(v->kind, CK_V_TENSOR);
			ck_assert_int_eq(v->u.t->dtype, ck_tf_dtype(ents[i].dt));
			ck_assert_str_eq(ck_dtype_name(v->u.t->dtype), tf_torch_name(ents[i].dt));
			ck_assert_int_eq(v->u.t->ndim, ents[i].ndim);
			for (int d = 0; d < ents[i].ndim; d++)
				ck_assert_int_eq(v->u.t->shape[d], ents[i].shape[d]);
			ck_assert_uint_eq(v->u.t->nbytes, ents[i].size);
		}
		tf_check_all_bytes(ck);
		ck_ckpt_free(ck);
		tf_syn_release(&s);
		tf_rmbundle(p);
	}
	tf_rmtree(tmp);
	free(p);
	free(tmp);
}
END_TEST

START_TEST(t_broken)
{
	const struct tf_broken *b = &tf_broken_cases[_i];
	char *tmp = tf_tmpdir();
	char *p = tf_cat(tmp, "/x", "");
	tf_broken_make(_i, p);
	struct ck_ckpt *ck = NULL;
	struct ck_error err = {0};
	ck_err rc = ck_ckpt_open(p, &ck, &err);
	ck_assert_msg(rc == b->want, "%s: got %s (%s), want %s", b->name, ck_err_name(rc), err.msg,
		      ck_err_name(b->want));
	ck_assert_ptr_null(ck);
	ck_assert_msg(strstr(err.msg, b->msg) != NULL, "%s: message '%s' lacks '%s'", b->name, err.msg, b->msg);
	ck_assert_msg(strchr(err.msg, '\n') == NULL, "%s: one line", b->name);
	tf_rmtree(tmp);
	free(p);
	free(tmp);
}
END_TEST

/* Random damage to real index files: every result is a clean open or a clean
 * one-line error (ASan/UBSan builds catch the rest). */
START_TEST(t_mutations)
{
	static const char *const fixtures[] = {
		"tf/keras_single_input_saved_model/variables/variables",
		"tf/saved_model_half_plus_two_tf2_cpu/variables/variables",   /* snappy */
		"tf/saved_model_half_plus_two_mkl/variables/variables",
	};
	char *src = tf_path(fixtures[_i]);
	char *tmp = tf_tmpdir();
	char *p = tf_cat(tmp, "/m", "");
	char *idx = tf_cat(p, ".index", ""), *sidx = tf_cat(src, ".index", "");
	tf_copy_bundle(src, p);
	size_t n;
	uint8_t *orig = tf_slurp(sidx, &n), *buf = malloc(n);
	uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(_i + 1);
	int ok = 0, failed = 0;
	for (int iter = 0; iter < 1500; iter++) {
		memcpy(buf, orig, n);
		size_t len = n;
		rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
		int flips = 1 + (int)(rng % 3);
		for (int k = 0; k < flips; k++) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
			buf[(rng >> 8) % n] ^= (uint8_t)(1u << (rng % 8));
		}
		if (iter % 10 == 9)
			len = (size_t)(rng >> 20) % n;
		tf_write_bytes(idx, buf, len);
		struct ck_ckpt *ck = NULL;
		struct ck_error err = {0};
		ck_err rc = ck_ckpt_open(p, &ck, &err);
		if (rc == CK_OK) {
			ok++;
			ck_ckpt_free(ck);
		} else {
			failed++;
			ck_assert_ptr_null(ck);
			ck_assert_msg(err.msg[0] && !strchr(err.msg, '\n'), "iteration %d: '%s'", iter, err.msg);
		}
	}
	ck_assert_int_gt(failed, 1000);   /* most damage is caught (the CRCs) */
	free(orig);
	free(buf);
	tf_rmtree(tmp);
	free(sidx);
	free(idx);
	free(p);
	free(tmp);
	free(src);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tf");
	TCase *tc = tcase_create("read");
	tcase_add_test(tc, t_crc32c);
	tcase_add_loop_test(tc, t_snappy, 0, (int)NSNAPPY);
	tcase_add_test(tc, t_dtypes);
	tcase_add_test(tc, t_half_plus_two);
	tcase_add_test(tc, t_keras_multiple_inputs);
	tcase_add_test(tc, t_regression_and_mkl);
	tcase_add_loop_test(tc, t_real_bytes, 0, (int)NREAL);
	tcase_add_test(tc, t_forms);
	tcase_add_test(tc, t_checkpoint_file);
	tcase_add_test(tc, t_no_checkpoint_file);
	tcase_add_test(tc, t_v1_refused);
	tcase_add_test(tc, t_missing_shard);
	tcase_add_test(tc, t_synthetic_valid);
	tcase_add_loop_test(tc, t_broken, 0, (int)tf_nbroken);
	tcase_add_loop_test(tc, t_mutations, 0, 3);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
