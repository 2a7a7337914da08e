/*
 * test_hf.c — Hugging Face folders: the sharded fixture (tests/data/st/hf_sharded)
 * field by field, the real folder of tests/data/third_party_st against the
 * Python reference, broken folders each with its code and reason, and folder
 * writes (same shards, new index, tokenizer and config copied) read back equal.
 */
#include <dirent.h>

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

static void assert_same_file(const char *a, const char *b)
{
	size_t la, lb;
	uint8_t *x = st_read_all(a, &la), *y = st_read_all(b, &lb);
	ck_assert_msg(x && y, "%s or %s missing", a, b);
	ck_assert_msg(la == lb && memcmp(x, y, la) == 0, "%s differs from %s", b, a);
	free(x);
	free(y);
}

static void cp_dir(const char *from, const char *to)
{
	char cmd[8192];
	snprintf(cmd, sizeof cmd, "cp -r '%s' '%s'", from, to);
	ck_assert_int_eq(system(cmd), 0);
}

static const struct {
	const char *key;
	int64_t shape[2];
	int ndim;
	enum ck_dtype dt;
	int file;
	uint64_t nbytes;
} sharded[] = {
	{"embed.weight", {5, 4}, 2, CK_DT_F32, 0, 80},
	{"layers.0.weight", {4, 4}, 2, CK_DT_F32, 0, 64},
	{"layers.0.bias", {4}, 1, CK_DT_F16, 0, 8},
	{"layers.1.weight", {4, 4}, 2, CK_DT_F32, 1, 64},
	{"norm.weight", {4}, 1, CK_DT_F32, 1, 16},
};

START_TEST(t_sharded)
{
	char *path = st_path("st/hf_sharded");
	struct ck_ckpt *ck = open_ok(path);
	ck_assert_str_eq(ck->fmt->name, "hf");
	ck_assert_int_eq(ck->sep, '.');
	ck_assert_uint_eq(ck->nfiles, 2);
	char *s1 = st_join(path, "model-00001-of-00002.safetensors"), *s2 = st_join(path, "model-00002-of-00002.safetensors");
	ck_assert_str_eq(ck->files[0].path, s1);
	ck_assert_str_eq(ck->files[1].path, s2);
	ck_assert_uint_eq(ck->files[0].size, 400);
	ck_assert_uint_eq(ck->files[1].size, 256);
	ck_assert_uint_eq(ck->nstorages, 5);
	ck_assert_uint_eq(ck->root->u.dict.n, 5);
	ck_assert_int_eq(ck->root->u.dict.ordered, 1);
	uint64_t at[2] = {0, 0};
	for (size_t i = 0; i < 5; i++) {
		ck_assert_str_eq(ck->root->u.dict.keys[i]->u.s.p, sharded[i].key);
		const struct ck_tensor *t = ck->root->u.dict.vals[i]->u.t;
		ck_assert_int_eq(t->dtype, sharded[i].dt);
		ck_assert_int_eq(t->ndim, sharded[i].ndim);
		for (int d = 0; d < t->ndim; d++)
			ck_assert_int_eq(t->shape[d], sharded[i].shape[d]);
		ck_assert_int_eq(t->storage, (long)i);
		ck_assert_uint_eq(t->nbytes, sharded[i].nbytes);
		const struct ck_storage *s = &ck->storages[i];
		ck_assert_int_eq(s->file, sharded[i].file);
		ck_assert_str_eq(s->key, sharded[i].key);
		ck_assert_uint_eq(s->nbytes, sharded[i].nbytes);
		uint64_t hlen = sharded[i].file ? 168 : 240;   /* the shards' header sizes */
		ck_assert_uint_eq(s->offset, 8 + hlen + at[s->file]);
		at[s->file] += s->nbytes;
	}
	ck_assert_uint_eq(8 + 240 + at[0], 400);
	ck_assert_uint_eq(8 + 168 + at[1], 256);
	/* values: embed = arange(20)/8, layers.1 = arange(16)*2, bias f16 */
	float *e = (float *)st_tensor_bytes(ck, ck->root->u.dict.vals[0]->u.t);
	for (int k = 0; k < 20; k++)
		ck_assert_float_eq(e[k], k / 8.0f);
	free(e);
	float *l1 = (float *)st_tensor_bytes(ck, ck->root->u.dict.vals[3]->u.t);
	for (int k = 0; k < 16; k++)
		ck_assert_float_eq(l1[k], 2.0f * k);
	free(l1);
	uint8_t *bias = st_tensor_bytes(ck, ck->root->u.dict.vals[2]->u.t);
	ck_assert_int_eq(memcmp(bias, "\0\x38\0\x3c\0\x3e\0\x40", 8), 0);
	free(bias);
	char *cfg = st_join(path, "config.json");
	size_t cl;
	uint8_t *want = st_read_all(cfg, &cl);
	ck_assert_uint_eq(ck->config_len, cl);
	ck_assert_int_eq(memcmp(ck->config_json, want, cl), 0);
	free(want), free(cfg);
	ck_assert_uint_eq(ck->metadata->u.dict.n, 1);
	ck_assert_str_eq(ck->metadata->u.dict.keys[0]->u.s.p, "format");
	ck_assert_str_eq(ck->metadata->u.dict.vals[0]->u.s.p, "pt");
	char *mine = st_listing(ck), *ref = st_py_ls(path);
	ck_assert_str_eq(mine, ref);
	free(mine), free(ref);
	st_assert_numpy_bytes(ck, path);
	ck_ckpt_free(ck);
	free(s1), free(s2), free(path);
}
END_TEST

START_TEST(t_third_party_folder)
{
	char *path = st_path("third_party_st/ollama-minicpm3-4b-testdata");
	struct ck_ckpt *ck = open_ok(path);
	ck_assert_str_eq(ck->fmt->name, "hf");
	ck_assert_uint_eq(ck->nfiles, 1);
	ck_assert_uint_eq(ck->root->u.dict.n, 15);
	char *mine = st_listing(ck), *ref = st_py_ls(path);
	ck_assert_str_eq(mine, ref);
	free(mine), free(ref);
	st_assert_numpy_bytes(ck, path);
	char *cfg = st_join(path, "config.json");
	size_t cl;
	uint8_t *want = st_read_all(cfg, &cl);
	ck_assert_uint_eq(ck->config_len, cl);
	ck_assert_int_eq(memcmp(ck->config_json, want, cl), 0);
	free(want), free(cfg);
	ck_ckpt_free(ck);
	free(path);
}
END_TEST

START_TEST(t_bin_sharded)
{
	if (!ck_format_by_name("pytorch"))
		return;
	char *path = st_path("st/hf_bin_sharded"), *st = st_path("st/hf_sharded");
	struct ck_ckpt *ck = open_ok(path), *ref = open_ok(st);
	ck_assert_uint_eq(ck->nfiles, 2);
	char *mine = st_listing(ck), *py = st_py_ls(path);
	ck_assert_str_eq(mine, py);
	free(mine), free(py);
	st_assert_same(ck, ref);   /* the same model as the safetensors shards */
	for (size_t i = 0; i < ck->root->u.dict.n; i++) {
		const struct ck_tensor *t = ck->root->u.dict.vals[i]->u.t;
		ck_assert_int_eq(ck->storages[t->storage].file, sharded[i].file);
	}
	ck_ckpt_free(ck);
	ck_ckpt_free(ref);
	free(path), free(st);
}
END_TEST

/* ---- broken folders -------------------------------------------------------- */

static void expect_fail(const char *dir, ck_err code, const char *reason)
{
	struct ck_ckpt *ck = NULL;
	struct ck_error err = {0};
	ck_err rc = ck_ckpt_open(dir, &ck, &err);
	ck_assert_msg(rc == code, "got %s (%s), want %s", ck_err_name(rc), err.msg, ck_err_name(code));
	ck_assert_ptr_null(ck);
	ck_assert_msg(strstr(err.msg, reason) != NULL, "message '%s' lacks '%s'", err.msg, reason);
	ck_assert_msg(strncmp(err.msg, dir, strlen(dir)) == 0, "message '%s' does not name the folder", err.msg);
}

static const char *const MAP_OK =
	"\"embed.weight\": \"model-00001-of-00002.safetensors\", \"layers.0.bias\": \"model-00001-of-00002.safetensors\","
	" \"layers.0.weight\": \"model-00001-of-00002.safetensors\", \"layers.1.weight\": \"model-00002-of-00002.safetensors\"";

static char *broken(const char *root, const char *name, const char *index)
{
	char *src = st_path("st/hf_sharded"), *dir = st_join(root, name);
	cp_dir(src, dir);
	free(src);
	if (index) {
		char *ix = st_join(dir, "model.safetensors.index.json");
		st_write_bytes(ix, index, strlen(index));
		free(ix);
	}
	return dir;
}

START_TEST(t_broken)
{
	char *root = st_tmpdir(), *d, buf[4096];
	d = broken(root, "missing", NULL);
	char *s2 = st_join(d, "model-00002-of-00002.safetensors");
	unlink(s2);
	free(s2);
	expect_fail(d, CK_ENOENT, ": missing shard 'model-00002-of-00002.safetensors'");
	free(d);
	snprintf(buf, sizeof buf, "{\"weight_map\": {%s, \"norm.weight\": \"model-00002-of-00002.safetensors\", "
		 "\"extra.weight\": \"model-00001-of-00002.safetensors\"}}", MAP_OK);
	d = broken(root, "extra", buf);
	expect_fail(d, CK_EFORMAT, "tensor 'extra.weight' listed in model.safetensors.index.json is missing from "
		    "shard 'model-00001-of-00002.safetensors'");
	free(d);
	snprintf(buf, sizeof buf, "{\"weight_map\": {%s}}", MAP_OK);
	d = broken(root, "unlisted", buf);
	expect_fail(d, CK_EFORMAT, "tensor 'norm.weight' in shard 'model-00002-of-00002.safetensors' is not in "
		    "model.safetensors.index.json");
	free(d);
	snprintf(buf, sizeof buf, "{\"weight_map\": {%s, \"norm.weight\": \"model-00001-of-00002.safetensors\"}}", MAP_OK);
	d = broken(root, "wrong", buf);
	expect_fail(d, CK_EFORMAT, "tensor 'norm.weight' is in shard 'model-00002-of-00002.safetensors' but "
		    "model.safetensors.index.json maps it to 'model-00001-of-00002.safetensors'");
	free(d);
	d = broken(root, "badjson", "{\"weight_map\": {");
	expect_fail(d, CK_EFORMAT, "model.safetensors.index.json is not valid JSON");
	free(d);
	d = broken(root, "nomap", "{\"metadata\": {}}");
	expect_fail(d, CK_EFORMAT, "model.safetensors.index.json has no \"weight_map\" object");
	free(d);
	d = broken(root, "escape", "{\"weight_map\": {\"a\": \"../x.safetensors\"}}");
	expect_fail(d, CK_EFORMAT, "maps 'a' to something that is not a file name in the folder");
	free(d);
	snprintf(buf, sizeof buf, "{\"weight_map\": {%s, \"norm.weight\": \"model-00002-of-00002.safetensors\", "
		 "\"norm.weight\": \"model-00002-of-00002.safetensors\"}}", MAP_OK);
	d = broken(root, "dupkey", buf);
	expect_fail(d, CK_EFORMAT, "model.safetensors.index.json lists 'norm.weight' twice");
	free(d);
	/* a broken shard: its own reader's reason, naming the shard */
	d = broken(root, "badshard", NULL);
	s2 = st_join(d, "model-00002-of-00002.safetensors");
	ck_assert_int_eq(truncate(s2, 200), 0);
	expect_fail(d, CK_EFORMAT, "model-00002-of-00002.safetensors: truncated");
	free(s2);
	free(d);
	/* a config.json and nothing to load */
	d = st_join(root, "bare");
	ck_assert_int_eq(mkdir(d, 0755), 0);
	char *c = st_join(d, "config.json");
	st_write_bytes(c, "{}", 2);
	free(c);
	expect_fail(d, CK_ENOENT, "no weights in the folder");
	free(d);
	st_rm_rf(root);
}
END_TEST

/* ---- writing --------------------------------------------------------------- */

static ck_err write_hf(struct ck_ckpt *src, struct ck_value *root, const char *out, struct ck_error *err)
{
	struct ck_write_req req = {.src = src, .root = root ? root : src->root, .path = out, .final_path = out};
	return ck_format_hf.write(&req, err);
}

static size_t count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	ck_assert_ptr_nonnull(d);
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

START_TEST(t_write_sharded)
{
	char *path = st_path("st/hf_sharded"), *root = st_tmpdir(), *out = st_join(root, "out");
	struct ck_ckpt *a = open_ok(path), *b;
	struct ck_error err = {0};
	ck_assert_msg(write_hf(a, NULL, out, &err) == CK_OK, "%s", err.msg);
	/* the same files: shards byte for byte (same order, metadata, padding), index, config, tokenizer */
	const char *same[] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
			      "config.json", "tokenizer.json", "tokenizer_config.json"};
	for (size_t i = 0; i < 5; i++) {
		char *x = st_join(path, same[i]), *y = st_join(out, same[i]);
		assert_same_file(x, y);
		free(x), free(y);
	}
	ck_assert_uint_eq(count_entries(out), 6);
	char *ix = st_join(out, "model.safetensors.index.json");
	size_t len;
	char *text = (char *)st_read_all(ix, &len);
	ck_assert_ptr_nonnull(strstr(text, "\"total_size\": 232"));
	ck_assert_ptr_nonnull(strstr(text, "\"norm.weight\": \"model-00002-of-00002.safetensors\""));
	free(text);
	b = open_ok(out);
	st_assert_same(a, b);
	ck_assert_uint_eq(b->nfiles, 2);
	for (size_t i = 0; i < 5; i++)
		ck_assert_int_eq(b->storages[b->root->u.dict.vals[i]->u.t->storage].file, sharded[i].file);
	char *py = st_py_ls(out), *mine = st_listing(a);
	ck_assert_str_eq(py, mine);
	free(py), free(mine);
	ck_ckpt_free(b);
	ck_assert_int_eq(write_hf(a, NULL, out, &err), CK_EEXIST);

	/* a rename and a delete: the index follows, total_size is recomputed */
	struct ck_value *r = ck_value_new(CK_V_DICT);
	const char *keys[] = {"embed.weight", "layers.0.weight", "layers.0.bias", "layers.1.w2"};
	for (size_t i = 0; i < 4; i++)
		ck_value_setitem(r, ck_value_str(keys[i]), ck_value_ref(a->root->u.dict.vals[i]));
	char *out2 = st_join(root, "out2");
	ck_assert_msg(write_hf(a, r, out2, &err) == CK_OK, "%s", err.msg);
	b = open_ok(out2);
	char *l = st_listing(b);
	ck_assert_str_eq(l, "embed.weight float32 [5,4]\nlayers.0.weight float32 [4,4]\nlayers.0.bias float16 [4]\n"
			 "layers.1.w2 float32 [4,4]\n");
	free(l);
	ck_assert_uint_eq(b->nfiles, 2);
	ck_ckpt_free(b);
	free(ix);
	ix = st_join(out2, "model.safetensors.index.json");
	text = (char *)st_read_all(ix, &len);
	ck_assert_ptr_nonnull(strstr(text, "\"total_size\": 216"));
	ck_assert_ptr_nonnull(strstr(text, "\"layers.1.w2\": \"model-00002-of-00002.safetensors\""));
	ck_assert_ptr_null(strstr(text, "norm.weight"));
	free(text);
	ck_value_unref(r);

	/* everything of shard 2 removed: it is not written and the index forgets it */
	r = ck_value_new(CK_V_DICT);
	for (size_t i = 0; i < 3; i++)
		ck_value_setitem(r, ck_value_str(keys[i]), ck_value_ref(a->root->u.dict.vals[i]));
	char *out3 = st_join(root, "out3");
	ck_assert_msg(write_hf(a, r, out3, &err) == CK_OK, "%s", err.msg);
	ck_assert_uint_eq(count_entries(out3), 5);
	b = open_ok(out3);
	ck_assert_uint_eq(b->nfiles, 1);
	ck_assert_uint_eq(b->root->u.dict.n, 3);
	ck_ckpt_free(b);
	ck_value_unref(r);

	/* a non-tensor leaf: refused, and the half-written folder is removed */
	r = ck_value_new(CK_V_DICT);
	ck_value_setitem(r, ck_value_str("embed.weight"), ck_value_ref(a->root->u.dict.vals[0]));
	ck_value_setitem(r, ck_value_str("epoch"), ck_value_int(3));
	char *out4 = st_join(root, "out4");
	ck_assert_int_eq(write_hf(a, r, out4, &err), CK_EUNSUP);
	ck_assert_ptr_nonnull(strstr(err.msg, "non-tensor value 'epoch'"));
	ck_assert_int_eq(access(out4, F_OK), -1);
	ck_value_unref(r);

	ck_ckpt_free(a);
	free(ix), free(out), free(out2), free(out3), free(out4), free(path);
	st_rm_rf(root);
}
END_TEST

START_TEST(t_write_third_party_folder)
{
	char *path = st_path("third_party_st/ollama-minicpm3-4b-testdata"), *root = st_tmpdir(), *out = st_join(root, "m");
	struct ck_ckpt *a = open_ok(path);
	struct ck_error err = {0};
	ck_assert_msg(write_hf(a, NULL, out, &err) == CK_OK, "%s", err.msg);
	const char *same[] = {"config.json", "tokenizer_config.json"};
	for (size_t i = 0; i < 2; i++) {
		char *x = st_join(path, same[i]), *y = st_join(out, same[i]);
		assert_same_file(x, y);
		free(x), free(y);
	}
	ck_assert_uint_eq(count_entries(out), 3);
	struct ck_ckpt *b = open_ok(out);
	st_assert_same(a, b);
	ck_ckpt_free(b);
	ck_ckpt_free(a);
	free(out), free(path);
	st_rm_rf(root);
}
END_TEST

START_TEST(t_write_from_file)
{
	/* a single safetensors file written as a folder: model.safetensors, metadata kept */
	char *path = st_path("st/basic.safetensors"), *root = st_tmpdir(), *out = st_join(root, "f");
	struct ck_ckpt *a = open_ok(path);
	struct ck_error err = {0};
	ck_assert_msg(write_hf(a, NULL, out, &err) == CK_OK, "%s", err.msg);
	ck_assert_uint_eq(count_entries(out), 1);
	char *w = st_join(out, "model.safetensors");
	assert_same_file(path, w);
	struct ck_ckpt *b = open_ok(out);
	ck_assert_str_eq(b->fmt->name, "hf");
	st_assert_same(a, b);
	ck_ckpt_free(b);
	ck_ckpt_free(a);
	free(w), free(out), free(path);
	st_rm_rf(root);
}
END_TEST

START_TEST(t_write_bin_sharded)
{
	/* .bin shards stay torch when the registry has a torch writer */
	const struct ck_format *torch = ck_format_by_name("pytorch");
	if (!torch || !torch->write)
		return;
	char *path = st_path("st/hf_bin_sharded"), *root = st_tmpdir(), *out = st_join(root, "b");
	struct ck_ckpt *a = open_ok(path);
	struct ck_error err = {0};
	ck_assert_msg(write_hf(a, NULL, out, &err) == CK_OK, "%s", err.msg);
	ck_assert_uint_eq(count_entries(out), 4);
	const char *names[] = {"pytorch_model-00001-of-00002.bin", "pytorch_model-00002-of-00002.bin",
			       "pytorch_model.bin.index.json", "config.json"};
	for (size_t i = 0; i < 4; i++) {
		char *p = st_join(out, names[i]);
		ck_assert_msg(access(p, F_OK) == 0, "%s missing", p);
		free(p);
	}
	struct ck_ckpt *b = open_ok(out);
	st_assert_same(a, b);
	for (size_t i = 0; i < b->root->u.dict.n; i++)
		ck_assert_int_eq(b->storages[b->root->u.dict.vals[i]->u.t->storage].file, sharded[i].file);
	char *py = st_py_ls(out), *mine = st_listing(a);
	ck_assert_str_eq(py, mine);
	free(py), free(mine);
	ck_ckpt_free(b);
	ck_ckpt_free(a);
	free(out), free(path);
	st_rm_rf(root);
}
END_TEST

START_TEST(t_write_bin_single)
{
	/* one pytorch_model.bin: written by the torch writer from the tree itself,
	 * so the tied embed/lm_head weights still share one storage */
	const struct ck_format *torch = ck_format_by_name("pytorch");
	if (!torch || !torch->write)
		return;
	char *path = st_path("st/hf_bin_single"), *root = st_tmpdir(), *out = st_join(root, "s");
	struct ck_ckpt *a = open_ok(path);
	ck_assert_str_eq(a->fmt->name, "hf");
	ck_assert_uint_eq(a->nfiles, 1);
	const struct ck_tensor *e = a->root->u.dict.vals[0]->u.t, *l = a->root->u.dict.vals[1]->u.t;
	ck_assert_int_eq(e->storage, l->storage);
	struct ck_error err = {0};
	ck_assert_msg(write_hf(a, NULL, out, &err) == CK_OK, "%s", err.msg);
	ck_assert_uint_eq(count_entries(out), 2);
	char *cfg_a = st_join(path, "config.json"), *cfg_b = st_join(out, "config.json");
	assert_same_file(cfg_a, cfg_b);
	struct ck_ckpt *b = open_ok(out);
	st_assert_same(a, b);
	ck_assert_uint_eq(b->nstorages, a->nstorages);
	ck_assert_int_eq(b->root->u.dict.vals[0]->u.t->storage, b->root->u.dict.vals[1]->u.t->storage);
	char *py = st_py_ls(out), *mine = st_listing(a);
	ck_assert_str_eq(py, mine);
	free(py), free(mine), free(cfg_a), free(cfg_b);
	ck_ckpt_free(b);
	ck_ckpt_free(a);
	free(out), free(path);
	st_rm_rf(root);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hf");
	TCase *tc = tcase_create("hf");
	tcase_add_test(tc, t_sharded);
	tcase_add_test(tc, t_third_party_folder);
	tcase_add_test(tc, t_bin_sharded);
	tcase_add_test(tc, t_broken);
	tcase_add_test(tc, t_write_sharded);
	tcase_add_test(tc, t_write_third_party_folder);
	tcase_add_test(tc, t_write_from_file);
	tcase_add_test(tc, t_write_bin_sharded);
	tcase_add_test(tc, t_write_bin_single);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
