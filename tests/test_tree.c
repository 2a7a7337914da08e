/* test_tree.c — the folder tree: building, escaping, POSIX changes, _remap,
 * and rebuilding the value tree for writers. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"

static struct ck_value *tensor(int64_t d0, int64_t d1)
{
	struct ck_tensor *t = ck_tensor_new(CK_DT_F32, 2);
	t->shape[0] = d0, t->shape[1] = d1;
	t->stride[0] = d1, t->stride[1] = 1;
	ck_tensor_update_nbytes(t);
	return ck_value_tensor(t);
}

static void set(struct ck_value *d, const char *k, struct ck_value *v)
{
	ck_assert_int_eq(ck_value_setitem(d, ck_value_str(k), v), CK_OK);
}

static struct ck_ckpt ck = {.path = "mem.bin", .sep = '.'};
static struct ck_value *tied;

/* A BERT-like pre-training state dict with a tied decoder weight. */
static struct ck_tree *bert_tree(void)
{
	struct ck_value *sd = ck_value_new(CK_V_DICT);
	sd->u.dict.ordered = 1;
	tied = tensor(30, 8);
	set(sd, "bert.embeddings.word_embeddings.weight", ck_value_ref(tied));
	set(sd, "bert.encoder.layer.0.attention.self.query.weight", tensor(8, 8));
	set(sd, "bert.encoder.layer.0.output.LayerNorm.gamma", tensor(1, 8));
	set(sd, "cls.predictions.bias", tensor(1, 30));
	set(sd, "cls.predictions.decoder.weight", tied);
	ck.root = sd;
	struct ck_tree *t;
	struct ck_error err;
	ck_assert_int_eq(ck_tree_build(&ck, &t, &err), CK_OK);
	return t;
}

static void free_bert(struct ck_tree *t)
{
	ck_tree_free(t);
	ck_value_unref(ck.root);
	ck.root = NULL;
}

START_TEST(t_build_and_shape)
{
	struct ck_tree *t = bert_tree();
	struct ck_node *n = ck_tree_lookup(t, "bert/encoder/layer/0/attention/self/query/weight");
	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(n->kind, CK_NODE_LEAF);
	ck_assert_str_eq(n->orig_key, "bert.encoder.layer.0.attention.self.query.weight");
	ck_assert_str_eq(n->orig_path, "bert/encoder/layer/0/attention/self/query/weight");
	char *s = ck_tree_shape_text(t, t->root);
	ck_assert_str_eq(s, "bert.embeddings.word_embeddings.weight float32 [30,8]\n"
			    "bert.encoder.layer.0.attention.self.query.weight float32 [8,8]\n"
			    "bert.encoder.layer.0.output.LayerNorm.gamma float32 [1,8]\n"
			    "cls.predictions.bias float32 [1,30]\n"
			    "cls.predictions.decoder.weight float32 [30,8]\n");
	free(s);
	s = ck_tree_shape_text(t, ck_tree_lookup(t, "bert/encoder"));
	ck_assert_str_eq(s, "layer.0.attention.self.query.weight float32 [8,8]\n"
			    "layer.0.output.LayerNorm.gamma float32 [1,8]\n");
	free(s);
	ck_assert_int_eq(ck_tree_changed(t), 0);
	s = ck_tree_remap_text(t);
	ck_assert_str_eq(s, "");
	free(s);
	free_bert(t);
}
END_TEST

START_TEST(t_rename_semantics)
{
	struct ck_tree *t = bert_tree();
	struct ck_error err;
	ck_assert_int_eq(ck_tree_rename(t, "bert", "bert/encoder/x", &err), CK_EINVAL);
	ck_assert_int_eq(ck_tree_rename(t, "nope", "x", &err), CK_ENOENT);
	ck_assert_int_eq(ck_tree_rename(t, "bert/embeddings", "cls", &err), CK_ENOTEMPTY);
	ck_assert_int_eq(ck_tree_rename(t, "cls/predictions/bias", "cls", &err), CK_EISDIR);
	ck_assert_int_eq(ck_tree_rename(t, "bert", "cls/predictions/bias", &err), CK_ENOTDIR);
	ck_assert_int_eq(ck_tree_rename(t, "cls", "cls/predictions/bias", &err), CK_EINVAL);
	ck_assert_int_eq(ck_tree_rename(t, "bert/x", "y", &err), CK_ENOENT);
	ck_assert_int_eq(ck_tree_rename(t, "cls", "nodir/cls", &err), CK_ENOENT);
	ck_assert_int_eq(ck_tree_changed(t), 0);
	/* what `mv bert/STAR .` does */
	ck_assert_int_eq(ck_tree_rename(t, "bert/embeddings", "embeddings", &err), CK_OK);
	ck_assert_int_eq(ck_tree_rename(t, "bert/encoder", "encoder", &err), CK_OK);
	ck_assert_ptr_nonnull(ck_tree_lookup(t, "encoder/layer/0/attention/self/query/weight"));
	ck_assert_int_eq(ck_tree_lookup(t, "bert")->nkids, 0);
	ck_assert_int_eq(ck_tree_changed(t), 1);
	/* onto an existing tensor: replaces it */
	ck_assert_int_eq(ck_tree_rename(t, "encoder/layer/0/output/LayerNorm/gamma",
				       "cls/predictions/bias", &err), CK_OK);
	char *s = ck_tree_remap_text(t);
	ck_assert_str_eq(s, "bert.embeddings.word_embeddings.weight -> embeddings.word_embeddings.weight\n"
			    "bert.encoder.layer.0.attention.self.query.weight -> encoder.layer.0.attention.self.query.weight\n"
			    "bert.encoder.layer.0.output.LayerNorm.gamma -> cls.predictions.bias\n"
			    "cls.predictions.bias -> (deleted)\n");
	free(s);
	ck_assert_int_eq(ck_tree_rmdir(t, "cls", &err), CK_ENOTEMPTY);
	ck_assert_int_eq(ck_tree_unlink(t, "cls", &err), CK_EISDIR);
	ck_assert_int_eq(ck_tree_rmdir(t, "bert", &err), CK_OK);
	ck_assert_int_eq(ck_tree_mkdir(t, "embeddings", &err), CK_EEXIST);
	ck_assert_int_eq(ck_tree_mkdir(t, "new", &err), CK_OK);
	ck_assert_int_eq(ck_tree_mkdir(t, "bad%zz", &err), CK_EINVAL);
	free_bert(t);
}
END_TEST

START_TEST(t_rename_back_is_no_change)
{
	struct ck_tree *t = bert_tree();
	struct ck_error err;
	ck_assert_int_eq(ck_tree_rename(t, "cls", "head", &err), CK_OK);
	ck_assert_int_eq(ck_tree_changed(t), 1);
	ck_assert_int_eq(ck_tree_rename(t, "head", "cls", &err), CK_OK);
	ck_assert_int_eq(ck_tree_changed(t), 0);
	ck_assert_int_eq(ck_tree_mkdir(t, "empty", &err), CK_OK);
	ck_assert_int_eq(ck_tree_changed(t), 0);
	free_bert(t);
}
END_TEST

START_TEST(t_to_value_keeps_types_and_ties)
{
	struct ck_tree *t = bert_tree();
	struct ck_error err;
	ck_assert_int_eq(ck_tree_rename(t, "bert/embeddings", "embeddings", &err), CK_OK);
	struct ck_value *v;
	ck_assert_int_eq(ck_tree_to_value(t, &v, &err), CK_OK);
	ck_assert_int_eq(v->kind, CK_V_DICT);
	ck_assert_int_eq(v->u.dict.ordered, 1);
	ck_assert_int_eq(v->u.dict.n, 5);
	/* checkpoint order is kept across the move */
	ck_assert_str_eq(v->u.dict.keys[0]->u.s.p, "embeddings.word_embeddings.weight");
	ck_assert_str_eq(v->u.dict.keys[4]->u.s.p, "cls.predictions.decoder.weight");
	ck_assert_ptr_eq(v->u.dict.vals[0], v->u.dict.vals[4]);
	ck_assert_ptr_eq(v->u.dict.vals[0], tied);
	ck_value_unref(v);
	free_bert(t);
}
END_TEST

START_TEST(t_nested_training_dict)
{
	struct ck_value *root = ck_value_new(CK_V_DICT);
	set(root, "epoch", ck_value_int(3));
	struct ck_value *osd = ck_value_new(CK_V_DICT), *state = ck_value_new(CK_V_DICT);
	struct ck_value *s0 = ck_value_new(CK_V_DICT);
	set(s0, "exp_avg", tensor(2, 2));
	ck_value_setitem(state, ck_value_int(0), s0);
	ck_value_setitem(state, ck_value_int(1), ck_value_new(CK_V_DICT));
	set(osd, "state", state);
	struct ck_value *betas = ck_value_new(CK_V_TUPLE);
	ck_value_append(betas, ck_value_float(0.9));
	ck_value_append(betas, ck_value_float(0.999));
	set(osd, "betas", betas);
	set(root, "optimizer_state_dict", osd);
	set(root, "loss", ck_value_float(0.25));
	ck.root = root;
	struct ck_tree *t;
	struct ck_error err;
	ck_assert_int_eq(ck_tree_build(&ck, &t, &err), CK_OK);
	struct ck_node *n = ck_tree_lookup(t, "optimizer_state_dict/state/0/exp_avg");
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->orig_key, "optimizer_state_dict.state.0.exp_avg");
	ck_assert_ptr_nonnull(ck_tree_lookup(t, "optimizer_state_dict/state/1"));
	ck_assert_ptr_nonnull(ck_tree_lookup(t, "optimizer_state_dict/betas/1"));
	char *txt = ck_value_text(ck_tree_lookup(t, "epoch")->value);
	ck_assert_str_eq(txt, "3");
	free(txt);
	/* renaming an int key keeps it an int; a non-dense tuple becomes a dict */
	ck_assert_int_eq(ck_tree_rename(t, "optimizer_state_dict/state/0", "optimizer_state_dict/state/7", &err), CK_OK);
	struct ck_value *v;
	ck_assert_int_eq(ck_tree_to_value(t, &v, &err), CK_OK);
	struct ck_value *st = v->u.dict.vals[1]->u.dict.vals[0];
	ck_assert_int_eq(st->u.dict.keys[0]->kind, CK_V_INT);
	ck_assert_int_eq(st->u.dict.keys[0]->u.i, 7);
	ck_assert_int_eq(st->u.dict.keys[1]->u.i, 1);
	ck_assert_int_eq(v->u.dict.vals[1]->u.dict.vals[1]->kind, CK_V_TUPLE);
	ck_assert_int_eq(v->u.dict.keys[0]->kind, CK_V_STR);
	ck_assert_int_eq(v->u.dict.vals[2]->kind, CK_V_FLOAT);
	ck_value_unref(v);
	ck_tree_free(t);
	ck_value_unref(root);
	ck.root = NULL;
}
END_TEST

START_TEST(t_escaping)
{
	struct ck_value *sd = ck_value_new(CK_V_DICT);
	set(sd, "a.b", tensor(1, 1));
	set(sd, "a.b.c", tensor(1, 2));
	set(sd, "x..y", tensor(1, 3));
	set(sd, "p/q.%r", tensor(1, 4));
	set(sd, "..", tensor(1, 5));
	ck.root = sd;
	struct ck_tree *t;
	struct ck_error err;
	ck_assert_int_eq(ck_tree_build(&ck, &t, &err), CK_OK);
	ck_assert_str_eq(ck_tree_lookup(t, "a/b/%self")->orig_key, "a.b");
	ck_assert_str_eq(ck_tree_lookup(t, "a/b/c")->orig_key, "a.b.c");
	ck_assert_str_eq(ck_tree_lookup(t, "x/%/y")->orig_key, "x..y");
	ck_assert_str_eq(ck_tree_lookup(t, "p%2Fq/%25r")->orig_key, "p/q.%r");
	ck_assert_str_eq(ck_tree_lookup(t, "%/%/%")->orig_key, "..");
	struct ck_value *v;
	ck_assert_int_eq(ck_tree_to_value(t, &v, &err), CK_OK);
	const char *want[] = {"a.b", "a.b.c", "x..y", "p/q.%r", ".."};
	for (int i = 0; i < 5; i++)
		ck_assert_str_eq(v->u.dict.keys[i]->u.s.p, want[i]);
	ck_value_unref(v);
	size_t len;
	char *raw = ck_name_unescape("%2E%2E", &len);
	ck_assert_str_eq(raw, "..");
	free(raw);
	ck_assert_ptr_null(ck_name_unescape("%4", &len));
	ck_assert_ptr_null(ck_name_unescape("%G0", &len));
	ck_tree_free(t);
	ck_value_unref(sd);
	ck.root = NULL;
}
END_TEST

START_TEST(t_root_tensor)
{
	ck.root = tensor(4, 4);
	struct ck_tree *t;
	struct ck_error err;
	ck_assert_int_eq(ck_tree_build(&ck, &t, &err), CK_OK);
	struct ck_node *n = ck_tree_lookup(t, "%self");
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->orig_key, "");
	char *s = ck_tree_shape_text(t, t->root);
	ck_assert_str_eq(s, "'' float32 [4,4]\n");
	free(s);
	struct ck_value *v;
	ck_assert_int_eq(ck_tree_to_value(t, &v, &err), CK_OK);
	ck_assert_ptr_eq(v, ck.root);
	ck_value_unref(v);
	ck_tree_free(t);
	ck_value_unref(ck.root);
	ck.root = NULL;
}
END_TEST

/* Regression: a second spelling of an existing name ("%77eight" for "weight",
 * "weight%~2") made two files of one key, and a raw tab or newline in a new
 * name tore the journal's lines so `apply` could not replay it. */
START_TEST(t_rename_spelling)
{
	struct ck_tree *t = bert_tree();
	struct ck_error err;
	const char *q = "bert/encoder/layer/0/attention/self/query/";
	char from[256], to[256];
	snprintf(from, sizeof from, "%sweight", q);
	static const char *const bad[] = {"%77eight2", "w%41", "a%2fb", "tab\there", "new\nline",
					  "bias%~2", "%2e", "A%2E"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(to, sizeof to, "%s%s", q, bad[i]);
		ck_assert_msg(ck_tree_rename(t, from, to, &err) == CK_EPERM, "rename to '%s': %s", bad[i], err.msg);
		ck_assert_msg(ck_tree_mkdir(t, to, &err) == CK_EPERM, "mkdir '%s' accepted", bad[i]);
	}
	ck_assert_int_eq(t->nops, 0);
	ck_assert_int_eq(ck_tree_mkdir(t, "x%~3", &err), CK_EPERM);
	/* the one spelling ck_name_escape gives is fine, and keeps the raw key */
	snprintf(to, sizeof to, "%sa%%2Fb c%%25", q);
	ck_assert_int_eq(ck_tree_rename(t, from, to, &err), CK_OK);
	char *k = ck_node_key(t, ck_tree_lookup(t, to), NULL);
	ck_assert_str_eq(k, "bert.encoder.layer.0.attention.self.query.a/b c%");
	free(k);
	/* apply's parking names (a bare "%~N") still work */
	ck_assert_int_eq(ck_tree_rename(t, to, "%~900000001", &err), CK_OK);
	ck_assert_int_eq(ck_tree_rename(t, "%~900000001", from, &err), CK_OK);
	free_bert(t);
}
END_TEST

/* Regression: a key put where its spelling already is (a file "a.b" beside
 * the folders a/b) was silently dropped by the commit; now it is refused. */
START_TEST(t_duplicate_key_refused)
{
	struct ck_tree *t = bert_tree();
	struct ck_error err;
	ck_assert_int_eq(ck_tree_rename(t, "cls/predictions/bias", "cls.predictions.decoder.weight", &err), CK_OK);
	struct ck_value *v = (struct ck_value *)1;
	ck_assert_int_eq(ck_tree_to_value(t, &v, &err), CK_EEXIST);
	ck_assert_ptr_null(v);
	ck_assert_str_eq(err.msg, "mem.bin: two entries would be saved as the key "
				  "'cls.predictions.decoder.weight'; rename one");
	/* moving it away again makes the tree writable */
	ck_assert_int_eq(ck_tree_rename(t, "cls.predictions.decoder.weight", "cls/predictions/bias", &err), CK_OK);
	ck_assert_int_eq(ck_tree_to_value(t, &v, &err), CK_OK);
	ck_assert_int_eq(v->u.dict.n, 5);
	ck_value_unref(v);
	free_bert(t);
}
END_TEST

/* Regression: keys deeper than 1024 segments lost their top segments, and
 * a key of a million segments crashed the walks. */
START_TEST(t_deep_key)
{
	char key[1500 * 6];
	size_t n = 0;
	for (int i = 0; i < 1500; i++)
		n += (size_t)snprintf(key + n, sizeof key - n, "%ss%d", i ? "." : "", i);
	struct ck_value *sd = ck_value_new(CK_V_DICT);
	set(sd, key, tensor(1, 1));
	ck.root = sd;
	struct ck_tree *t;
	struct ck_error err;
	ck_assert_int_eq(ck_tree_build(&ck, &t, &err), CK_OK);
	struct ck_node **leaves;
	size_t nl;
	ck_assert_int_eq(ck_tree_leaves(t, NULL, &leaves, &nl, &err), CK_OK);
	ck_assert_uint_eq(nl, 1);
	ck_assert_str_eq(leaves[0]->orig_key, key);
	free(leaves);
	struct ck_value *v;
	ck_assert_int_eq(ck_tree_to_value(t, &v, &err), CK_OK);
	ck_assert_str_eq(v->u.dict.keys[0]->u.s.p, key);
	ck_value_unref(v);
	ck_tree_free(t);
	ck_value_unref(sd);
	/* a hostile key of a million dots became a million nested folders, and the
	 * recursive walks overflowed the stack: now it is refused */
	static char dots[1000001];
	memset(dots, '.', sizeof dots - 1);
	sd = ck_value_new(CK_V_DICT);
	set(sd, dots, tensor(1, 1));
	ck.root = sd;
	ck_assert_int_eq(ck_tree_build(&ck, &t, &err), CK_ELIMIT);
	ck_assert_str_eq(err.msg, "mem.bin: a key nests deeper than 4096 folders");
	ck_value_unref(sd);
	ck.root = NULL;
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tree");
	TCase *tc = tcase_create("tree");
	tcase_add_test(tc, t_build_and_shape);
	tcase_add_test(tc, t_rename_semantics);
	tcase_add_test(tc, t_rename_back_is_no_change);
	tcase_add_test(tc, t_to_value_keeps_types_and_ties);
	tcase_add_test(tc, t_nested_training_dict);
	tcase_add_test(tc, t_escaping);
	tcase_add_test(tc, t_root_tensor);
	tcase_add_test(tc, t_rename_spelling);
	tcase_add_test(tc, t_duplicate_key_refused);
	tcase_add_test(tc, t_deep_key);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
