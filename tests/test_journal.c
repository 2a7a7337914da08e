/* test_journal.c — journal append/replay (torn lines), remap.json round trips
 * (exact ops and hand-written per-key changes, including a swap). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commit.h"

static struct ck_ckpt ck = {.path = "mem.bin", .sep = '.'};

static struct ck_value *tensor(int64_t d0)
{
	struct ck_tensor *t = ck_tensor_new(CK_DT_F32, 1);
	t->shape[0] = d0;
	t->stride[0] = 1;
	ck_tensor_update_nbytes(t);
	return ck_value_tensor(t);
}

static struct ck_tree *fresh(void)
{
	if (!ck.root) {
		struct ck_value *sd = ck_value_new(CK_V_DICT);
		const char *keys[] = {"module.a.weight", "module.a.bias", "module.b.weight", "cls.bias"};
		for (int i = 0; i < 4; i++)
			ck_value_setitem(sd, ck_value_str(keys[i]), tensor(i + 1));
		ck.root = sd;
	}
	struct ck_tree *t;
	struct ck_error err;
	ck_assert_int_eq(ck_tree_build(&ck, &t, &err), CK_OK);
	return t;
}

static char *shape(struct ck_tree *t)
{
	return ck_tree_shape_text(t, t->root);
}

static char tmpdir[] = "/tmp/ckjournal-XXXXXX";

START_TEST(t_journal_replay)
{
	char path[256];
	snprintf(path, sizeof path, "%s/j1", tmpdir);
	struct ck_journal *j;
	struct ck_error err;
	ck_assert_int_eq(ck_journal_open(path, &j, &err), CK_OK);
	ck_assert_int_eq(ck_journal_append(j, "rename", "module/a", "a", &err), CK_OK);
	ck_assert_int_eq(ck_journal_append(j, "unlink", "cls/bias", NULL, &err), CK_OK);
	ck_assert_int_eq(ck_journal_append(j, "rmdir", "cls", NULL, &err), CK_OK);
	ck_journal_close(j, 0);
	/* a crash mid-write leaves a torn line: ignored */
	FILE *f = fopen(path, "a");
	fputs("rename\tmodule/b\tb", f);
	fclose(f);
	struct ck_tree *t = fresh();
	ck_assert_int_eq(ck_remap_apply_file(t, path, &err), CK_OK);
	char *s = shape(t);
	ck_assert_str_eq(s, "a.weight float32 [1]\na.bias float32 [2]\nmodule.b.weight float32 [3]\n");
	free(s);
	ck_tree_free(t);
	/* reopening appends after the old lines */
	ck_assert_int_eq(ck_journal_open(path, &j, &err), CK_OK);
	ck_journal_close(j, 1);
	ck_assert_int_ne(access(path, F_OK), 0);
}
END_TEST

START_TEST(t_journal_bad_op)
{
	char path[256];
	snprintf(path, sizeof path, "%s/j2", tmpdir);
	FILE *f = fopen(path, "w");
	fputs("ckptfs-journal 1\nrename\tmodule/a\ta\nfrobnicate\tx\n", f);
	fclose(f);
	struct ck_tree *t = fresh();
	struct ck_error err;
	ck_assert_int_eq(ck_remap_apply_file(t, path, &err), CK_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err.msg, ":3: unknown change 'frobnicate'"));
	ck_tree_free(t);
	f = fopen(path, "w");
	fputs("ckptfs-journal 1\nrename\tnope\ta\n", f);
	fclose(f);
	t = fresh();
	ck_assert_int_eq(ck_remap_apply_file(t, path, &err), CK_ENOENT);
	ck_tree_free(t);
}
END_TEST

START_TEST(t_remap_json_ops_round_trip)
{
	char path[256];
	snprintf(path, sizeof path, "%s/r.json", tmpdir);
	struct ck_tree *t = fresh();
	struct ck_error err;
	ck_assert_int_eq(ck_tree_rename(t, "module/a", "a", &err), CK_OK);
	ck_assert_int_eq(ck_tree_rename(t, "module/b", "b", &err), CK_OK);
	ck_assert_int_eq(ck_tree_unlink(t, "cls/bias", &err), CK_OK);
	ck_assert_int_eq(ck_remap_write_json(t, path, &err), CK_OK);
	char *want = shape(t);
	ck_tree_free(t);
	t = fresh();
	ck_assert_int_eq(ck_remap_apply_file(t, path, &err), CK_OK);
	char *got = shape(t);
	ck_assert_str_eq(got, want);
	free(got);
	free(want);
	ck_tree_free(t);
}
END_TEST

START_TEST(t_remap_json_changes_swap)
{
	char path[256];
	snprintf(path, sizeof path, "%s/h.json", tmpdir);
	FILE *f = fopen(path, "w");
	fputs("{\"changes\": [{\"old\": \"module.a.weight\", \"new\": \"module.a.bias\"},"
	      " {\"old\": \"module.a.bias\", \"new\": \"module.a.weight\"},"
	      " {\"old\": \"module.b.weight\", \"new\": \"encoder.x.weight\"},"
	      " {\"old\": \"cls.bias\", \"new\": null}]}", f);
	fclose(f);
	struct ck_tree *t = fresh();
	struct ck_error err;
	ck_assert_int_eq(ck_remap_apply_file(t, path, &err), CK_OK);
	char *s = shape(t);
	ck_assert_str_eq(s, "module.a.bias float32 [1]\nmodule.a.weight float32 [2]\nencoder.x.weight float32 [3]\n");
	free(s);
	ck_tree_free(t);
	f = fopen(path, "w");
	fputs("{\"changes\": [{\"old\": \"no.such\", \"new\": \"x\"}]}", f);
	fclose(f);
	t = fresh();
	ck_assert_int_eq(ck_remap_apply_file(t, path, &err), CK_ENOENT);
	ck_tree_free(t);
	f = fopen(path, "w");
	fputs("not json", f);
	fclose(f);
	t = fresh();
	ck_assert_int_eq(ck_remap_apply_file(t, path, &err), CK_EFORMAT);
	ck_tree_free(t);
}
END_TEST

int main(void)
{
	if (!mkdtemp(tmpdir))
		return 1;
	Suite *s = suite_create("journal");
	TCase *tc = tcase_create("journal");
	tcase_add_test(tc, t_journal_replay);
	tcase_add_test(tc, t_journal_bad_op);
	tcase_add_test(tc, t_remap_json_ops_round_trip);
	tcase_add_test(tc, t_remap_json_changes_swap);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	ck_value_unref(ck.root);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 1;
	return failed ? 1 : 0;
}
