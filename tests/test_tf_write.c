/*
 * test_tf_write.c — the TensorFlow writer (formats/tf_write.c, the table
 * builder in tf_table.c): write-then-read round trips of every real
 * checkpoint (same keys, dtypes, shapes, bytes and CRCs, the object graph
 * kept verbatim), a renamed tree, a commit through ck_commit, thousands of
 * tensors over several data blocks, torch sources with strided views, and
 * refusals (non-tensor values, an existing output, a corrupt source), each
 * leaving nothing behind.  tests/tf_interop.sh checks the same outputs with
 * the independent Python reader.
 */
#include "commit.h"
#include "tf_util.h"
#include "tree.h"

static ck_err write_tf(struct ck_ckpt *src, struct ck_value *root, const char *out, struct ck_error *err)
{
	struct ck_write_req req = {.src = src, .root = root, .path = out, .final_path = out};
	return ck_format_tf.write(&req, err);
}

static void write_ok(struct ck_ckpt *src, struct ck_value *root, const char *out)
{
	struct ck_error err = {0};
	ck_err rc = write_tf(src, root, out, &err);
	ck_assert_msg(rc == CK_OK, "%s: %s", out, err.msg);
}

static const struct ck_value *find_key(const struct ck_value *root, const char *key)
{
	for (size_t i = 0; i < root->u.dict.n; i++)
		if (strcmp(root->u.dict.keys[i]->u.s.p, key) == 0)
			return root->u.dict.vals[i];
	return NULL;
}

static uint8_t *tensor_bytes(const struct ck_ckpt *ck, const struct ck_tensor *t)
{
	uint8_t *b = malloc(t->nbytes + 1);
	size_t got = 0;
	struct ck_error err = {0};
	ck_assert_int_eq(ck_tensor_read(ck, t, b, t->nbytes, 0, &got, &err), CK_OK);
	ck_assert_uint_eq(got, t->nbytes);
	return b;
}

/* out holds exactly what src's tensors (under the names in src) hold: keys
 * sorted bytewise, tensors back to back in that order, CRCs right. */
static void check_written(const struct ck_ckpt *src, const struct ck_value *srcroot, const char *outdir,
			  const char *name)
{
	char *state = tf_cat(outdir, "/checkpoint", "");
	char *want = tf_cat("model_checkpoint_path: \"", name, "\"\nall_model_checkpoint_paths: \"");
	char *want2 = tf_cat(want, name, "\"\n");
	size_t n;
	uint8_t *text = tf_slurp(state, &n);
	ck_assert_uint_eq(n, strlen(want2));
	ck_assert(memcmp(text, want2, n) == 0);
	char *prefix = tf_cat(outdir, "/", name);
	struct ck_ckpt *out = tf_open_ok(outdir);
	tf_check_meta(out, prefix, "checkpoint file", 1, 1, src->fmt == &ck_format_tf
			  ? tf_meta(src, "object_graph")->u.b : 0);
	ck_assert_uint_eq(out->root->u.dict.n, srcroot->u.dict.n);
	const struct ck_tf_priv *opriv = out->priv;
	const struct ck_tf_priv *spriv = src->fmt == &ck_format_tf ? src->priv : NULL;
	uint64_t at = 0;
	for (size_t i = 0; i < out->root->u.dict.n; i++) {
		const char *key = out->root->u.dict.keys[i]->u.s.p;
		if (i)
			ck_assert_msg(strcmp(out->root->u.dict.keys[i - 1]->u.s.p, key) < 0, "order at '%s'", key);
		const struct ck_value *a = find_key(srcroot, key), *b = out->root->u.dict.vals[i];
		ck_assert_msg(a != NULL, "'%s' is not in the source", key);
		ck_assert_int_eq(a->kind, b->kind);
		if (a->kind == CK_V_STR) {
			ck_assert_str_eq(a->u.s.p, b->u.s.p);
			const struct ck_tf_opaque *so = NULL, *oo = NULL;
			for (size_t k = 0; k < spriv->nopaque; k++)
				if (spriv->opaque[k].leaf == a)
					so = &spriv->opaque[k];
			for (size_t k = 0; k < opriv->nopaque; k++)
				if (opriv->opaque[k].leaf == b)
					oo = &opriv->opaque[k];
			ck_assert_ptr_nonnull(so);
			ck_assert_ptr_nonnull(oo);
			ck_assert_uint_eq(oo->crc, so->crc);
			ck_assert_uint_eq(oo->size, so->size);
			ck_assert_uint_eq(oo->offset, at);
			at += oo->size;
			continue;
		}
		const struct ck_tensor *ta = a->u.t, *tb = b->u.t;
		ck_assert_int_eq(ta->dtype, tb->dtype);
		ck_assert_int_eq(ta->ndim, tb->ndim);
		for (int d = 0; d < ta->ndim; d++)
			ck_assert_int_eq(ta->shape[d], tb->shape[d]);
		ck_assert_uint_eq(ta->nbytes, tb->nbytes);
		ck_assert_uint_eq(out->storages[tb->storage].offset, at);
		at += tb->nbytes;
		uint8_t *x = tensor_bytes(src, ta), *y = tensor_bytes(out, tb);
		ck_assert_msg(memcmp(x, y, ta->nbytes) == 0, "bytes of '%s'", key);
		if (spriv && ta->storage >= 0)
			ck_assert_uint_eq(opriv->crc[tb->storage], spriv->crc[ta->storage]);
		free(x);
		free(y);
	}
	ck_assert_uint_eq(out->files[1].size, at);
	tf_check_all_bytes(out);
	ck_ckpt_free(out);
	free(prefix);
	free(text);
	free(want);
	free(want2);
	free(state);
}

static const struct {
	const char *dir;
	const char *name;   /* the bundle's base name, kept by the writer */
} real[] = {
	{"tf/half_plus_two_v2export", "export"},
	{"tf/keras_multiple_inputs_saved_model", "variables"},
	{"tf/keras_single_input_saved_model", "variables"},
	{"tf/regression_savedmodel", "variables"},
	{"tf/saved_model_counter", "variables"},
	{"tf/saved_model_half_plus_three", "variables"},
	{"tf/saved_model_half_plus_two_2_versions", "variables"},
	{"tf/saved_model_half_plus_two_cpu", "variables"},
	{"tf/saved_model_half_plus_two_mkl", "variables"},
	{"tf/saved_model_half_plus_two_tf2_cpu", "variables"},
	{"tf/tf_text_regression", "variables"},
};
#define NREAL (sizeof real / sizeof real[0])

START_TEST(t_roundtrip)
{
	char *dir = tf_path(real[_i].dir);
	char *tmp = tf_tmpdir();
	char *out = tf_cat(tmp, "/out", "");
	struct ck_ckpt *src = tf_open_ok(dir);
	write_ok(src, src->root, out);
	check_written(src, src->root, out, real[_i].name);
	/* and once more from the written copy: byte-identical files */
	struct ck_ckpt *again = tf_open_ok(out);
	char *out2 = tf_cat(tmp, "/out2", "");
	write_ok(again, again->root, out2);
	const char *files[] = {"/checkpoint", "/X.index", "/X.data-00000-of-00001"};
	for (int i = 0; i < 3; i++) {
		char *rel = strdup(files[i]), *x = strchr(rel, 'X');
		char *f1, *f2;
		if (x) {
			*x = 0;
			char *r2 = tf_cat(rel, real[_i].name, x + 1);
			free(rel);
			rel = r2;
		}
		f1 = tf_cat(out, rel, "");
		f2 = tf_cat(out2, rel, "");
		size_t n1, n2;
		uint8_t *a = tf_slurp(f1, &n1), *b = tf_slurp(f2, &n2);
		ck_assert_uint_eq(n1, n2);
		ck_assert_msg(memcmp(a, b, n1) == 0, "%s differs", rel);
		free(a);
		free(b);
		free(f1);
		free(f2);
		free(rel);
	}
	ck_ckpt_free(again);
	ck_ckpt_free(src);
	tf_rmtree(tmp);
	free(out2);
	free(out);
	free(tmp);
	free(dir);
}
END_TEST

START_TEST(t_renamed_tree)
{
	char *dir = tf_path("tf/keras_multiple_inputs_saved_model");
	char *tmp = tf_tmpdir();
	char *out = tf_cat(tmp, "/out", "");
	struct ck_ckpt *src = tf_open_ok(dir);
	struct ck_tree *t = NULL;
	struct ck_error err = {0};
	ck_assert_int_eq(ck_tree_build(src, &t, &err), CK_OK);
	ck_assert_int_eq(ck_tree_rename(t, "trainable_variables", "dense", &err), CK_OK);
	ck_assert_int_eq(ck_tree_rename(t, "optimizer/iter", "step", &err), CK_OK);
	ck_assert_int_eq(ck_tree_unlink(t, "keras_api/metrics/1/count/.ATTRIBUTES/VARIABLE_VALUE", &err), CK_OK);
	struct ck_value *root = NULL;
	ck_assert_int_eq(ck_tree_to_value(t, &root, &err), CK_OK);
	write_ok(src, root, out);
	struct ck_ckpt *w = tf_open_ok(out);
	ck_assert_uint_eq(w->root->u.dict.n, 21);
	ck_assert_ptr_nonnull(find_key(w->root, "dense/0/.ATTRIBUTES/VARIABLE_VALUE"));
	ck_assert_ptr_nonnull(find_key(w->root, "dense/1/.OPTIMIZER_SLOT/optimizer/v/.ATTRIBUTES/VARIABLE_VALUE"));
	ck_assert_ptr_nonnull(find_key(w->root, "step/.ATTRIBUTES/VARIABLE_VALUE"));
	ck_assert_ptr_null(find_key(w->root, "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE"));
	ck_assert_ptr_null(find_key(w->root, "keras_api/metrics/1/count/.ATTRIBUTES/VARIABLE_VALUE"));
	ck_assert_ptr_null(find_key(w->root, "trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"));
	/* the placeholder went through the tree and came back as the object graph */
	const struct ck_value *og = find_key(w->root, "_CHECKPOINTABLE_OBJECT_GRAPH");
	ck_assert_ptr_nonnull(og);
	ck_assert_str_eq(og->u.s.p, "<tf string tensor [], 4516 bytes>");
	ck_ckpt_free(w);
	/* the same through ck_commit (temporary folder, rename into place) */
	char *out2 = tf_cat(tmp, "/committed", "");
	struct ck_commit_opts o = {.output = out2, .format = "tf"};
	char *done = NULL;
	ck_assert_msg(ck_commit(src, t, &o, &done, &err) == CK_OK, "%s", err.msg);
	ck_assert_str_eq(done, out2);
	check_written(src, root, out2, "variables");
	free(done);
	ck_value_unref(root);
	ck_tree_free(t);
	ck_ckpt_free(src);
	tf_rmtree(tmp);
	free(out2);
	free(out);
	free(tmp);
	free(dir);
}
END_TEST

/* The index block's entry count: one per data block. */
static uint32_t count_data_blocks(const char *index)
{
	size_t n;
	uint8_t *p = tf_slurp(index, &n);
	struct ck_cursor c;
	ck_cursor_init(&c, p + n - 48, 40);
	ck_cursor_varint(&c);
	ck_cursor_varint(&c);
	uint64_t off = ck_cursor_varint(&c), len = ck_cursor_varint(&c);
	ck_assert(ck_cursor_ok(&c));
	ck_cursor_init(&c, p + off + len - 4, 4);
	uint32_t nr = ck_cursor_u32le(&c);   /* restart interval 1: one restart per entry */
	free(p);
	return nr;
}

START_TEST(t_many_tensors)
{
	char *dir = tf_path("tf/half_plus_two_v2export");
	char *tmp = tf_tmpdir();
	char *out = tf_cat(tmp, "/out", "");
	struct ck_ckpt *src = tf_open_ok(dir);
	const struct ck_value *v = src->root->u.dict.vals[1];   /* Variable_1 = 2.0 */
	struct ck_value *root = ck_value_new(CK_V_DICT);
	enum { N = 6000 };
	for (int i = N - 1; i >= 0; i--) {   /* given in reverse: the writer sorts */
		char key[128];
		snprintf(key, sizeof key, "bert/encoder/layer_%04d/attention/self/query/kernel/adam_m", i);
		ck_assert_int_eq(ck_value_setitem(root, ck_value_str(key), ck_value_ref((struct ck_value *)v)), CK_OK);
	}
	write_ok(src, root, out);
	char *idx = tf_cat(out, "/export.index", "");
	ck_assert_uint_ge(count_data_blocks(idx), 2);
	struct ck_ckpt *w = tf_open_ok(out);
	ck_assert_uint_eq(w->root->u.dict.n, N);
	ck_assert_uint_eq(w->files[1].size, 4 * N);
	for (int i = 0; i < N; i += 997) {
		char key[128];
		snprintf(key, sizeof key, "bert/encoder/layer_%04d/attention/self/query/kernel/adam_m", i);
		ck_assert_str_eq(w->root->u.dict.keys[i]->u.s.p, key);
		ck_assert_uint_eq(w->storages[i].offset, 4u * (unsigned)i);
	}
	ck_assert_uint_eq(tf_check_all_bytes(w), N);
	ck_ckpt_free(w);
	ck_value_unref(root);
	ck_ckpt_free(src);
	tf_rmtree(tmp);
	free(idx);
	free(out);
	free(tmp);
	free(dir);
}
END_TEST

START_TEST(t_from_torch)
{
	/* dotted torch keys stay whole; strided views are gathered */
	static const char *const files[] = {"bert_pretrain.bin", "views.pt", "ddp_module.pt"};
	for (int i = 0; i < 3; i++) {
		char *path = tf_path(files[i]);
		char *tmp = tf_tmpdir();
		char *out = tf_cat(tmp, "/out", "");
		struct ck_ckpt *src = tf_open_ok(path);
		struct ck_value *root = ck_value_new(CK_V_DICT);   /* views.pt also holds a str */
		size_t strided = 0;
		ck_assert_int_eq(src->root->kind, CK_V_DICT);
		for (size_t k = 0; k < src->root->u.dict.n; k++) {
			struct ck_value *v = src->root->u.dict.vals[k];
			if (v->kind != CK_V_TENSOR)
				continue;
			strided += !ck_tensor_is_contiguous(v->u.t) || v->u.t->offset != 0;
			ck_value_setitem(root, ck_value_ref(src->root->u.dict.keys[k]), ck_value_ref(v));
		}
		if (i == 1)
			ck_assert_uint_ge(strided, 3);
		struct ck_error err = {0};
		ck_err rc = write_tf(src, root, out, &err);
		ck_assert_msg(rc == CK_OK, "%s: %s", files[i], err.msg);
		check_written(src, root, out, "model.ckpt");
		ck_value_unref(root);
		ck_ckpt_free(src);
		tf_rmtree(tmp);
		free(out);
		free(tmp);
		free(path);
	}
}
END_TEST

static void write_fails(struct ck_ckpt *src, struct ck_value *root, const char *out, ck_err want, const char *msg)
{
	struct ck_error err = {0};
	ck_err rc = write_tf(src, root, out, &err);
	ck_assert_msg(rc == want, "got %s (%s), want %s", ck_err_name(rc), err.msg, ck_err_name(want));
	ck_assert_msg(strstr(err.msg, msg) != NULL, "message '%s' lacks '%s'", err.msg, msg);
}

START_TEST(t_refusals)
{
	char *tmp = tf_tmpdir();
	char *out = tf_cat(tmp, "/out", "");
	struct stat st;
	/* a non-tensor value */
	char *path = tf_path("training.pt");
	struct ck_ckpt *src = tf_open_ok(path);
	write_fails(src, src->root, out, CK_EUNSUP, "cannot store non-tensor value");
	ck_assert_int_ne(stat(out, &st), 0);
	ck_ckpt_free(src);
	free(path);
	/* a checkpoint that is one tensor: no name to give it */
	path = tf_path("root_tensor.pt");
	src = tf_open_ok(path);
	write_fails(src, src->root, out, CK_EUNSUP, "empty name");
	ck_assert_int_ne(stat(out, &st), 0);
	ck_ckpt_free(src);
	free(path);
	/* an existing output is never replaced */
	path = tf_path("tf/saved_model_counter");
	src = tf_open_ok(path);
	ck_assert_int_eq(mkdir(out, 0755), 0);
	write_fails(src, src->root, out, CK_EEXIST, out);
	ck_assert_int_eq(rmdir(out), 0);
	ck_ckpt_free(src);
	free(path);
	/* a corrupt source tensor (CRCs are not checked at open): nothing written */
	char *p = tf_cat(tmp, "/src", "");
	char *data = tf_cat(p, ".data-00000-of-00001", "");
	path = tf_path("tf/keras_multiple_inputs_saved_model/variables/variables");
	tf_copy_bundle(path, p);
	size_t n;
	uint8_t *d = tf_slurp(data, &n);
	d[60] ^= 0x40;     /* inside trainable_variables/0 [52, 112) */
	d[1000] ^= 0x01;   /* inside the object graph [340, 4856) */
	tf_write_bytes(data, d, n);
	src = tf_open_ok(p);
	write_fails(src, src->root, out, CK_EFORMAT,
		    "checksum does not match for tensor '_CHECKPOINTABLE_OBJECT_GRAPH' in the source");
	ck_assert_int_ne(stat(out, &st), 0);
	ck_ckpt_free(src);
	d[1000] ^= 0x01;
	tf_write_bytes(data, d, n);
	src = tf_open_ok(p);
	write_fails(src, src->root, out, CK_EFORMAT,
		    "checksum does not match for tensor 'trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE'");
	ck_assert_int_ne(stat(out, &st), 0);
	ck_ckpt_free(src);
	free(d);
	free(path);
	free(data);
	free(p);
	tf_rmtree(tmp);
	free(out);
	free(tmp);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tf_write");
	TCase *tc = tcase_create("write");
	tcase_add_loop_test(tc, t_roundtrip, 0, (int)NREAL);
	tcase_add_test(tc, t_renamed_tree);
	tcase_add_test(tc, t_many_tensors);
	tcase_add_test(tc, t_from_torch);
	tcase_add_test(tc, t_refusals);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
