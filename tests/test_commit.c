/* test_commit.c — where a commit goes (STEM.remapped.EXT, folders, TF prefixes,
 * --format) and which writer a convert picks from OUT's name. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "commit.h"

static void expect_path(const char *fmt, const char *src, const char *format, const char *want)
{
	struct ck_ckpt ck = {.path = (char *)src, .fmt = ck_format_by_name(fmt)};
	ck_assert_ptr_nonnull(ck.fmt);
	struct ck_commit_opts o = {.format = format};
	char *out = NULL;
	struct ck_error err;
	ck_assert_int_eq(ck_commit_output_path(&ck, &o, &out, &err), CK_OK);
	ck_assert_str_eq(out, want);
	free(out);
}

START_TEST(t_default_output_paths)
{
	expect_path("pytorch", "/d/model.bin", NULL, "/d/model.remapped.bin");
	expect_path("pytorch", "model.pt", NULL, "model.remapped.pt");
	expect_path("pytorch-legacy", "/d/old.pth", NULL, "/d/old.remapped.pth");
	expect_path("safetensors", "/d/m.safetensors", NULL, "/d/m.remapped.safetensors");
	expect_path("hf", "/d/bert-base/", NULL, "/d/bert-base.remapped");
	expect_path("tf", "/d/model.ckpt-1000", NULL, "/d/model.ckpt-1000.remapped");
	expect_path("tf", "/d/model.ckpt-1000.index", NULL, "/d/model.ckpt-1000.remapped");
	expect_path("pytorch", "/d/model.bin", "safetensors", "/d/model.remapped.safetensors");
	expect_path("safetensors", "/d/m.safetensors", "torch", "/d/m.remapped.pt");
	expect_path("pytorch", "/d.x/noext", NULL, "/d.x/noext.remapped");
}
END_TEST

START_TEST(t_explicit_output_and_bad_format)
{
	struct ck_ckpt ck = {.path = "/d/model.bin", .fmt = ck_format_by_name("pytorch")};
	struct ck_commit_opts o = {.output = "/e/out.bin/"};
	char *out = NULL;
	struct ck_error err;
	ck_assert_int_eq(ck_commit_output_path(&ck, &o, &out, &err), CK_OK);
	ck_assert_str_eq(out, "/e/out.bin");
	free(out);
	struct ck_commit_opts bad = {.format = "onnx"};
	ck_assert_int_eq(ck_commit_output_path(&ck, &bad, &out, &err), CK_EUSAGE);
	ck_assert_ptr_nonnull(strstr(err.msg, "unknown output format 'onnx'"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("commit");
	TCase *tc = tcase_create("paths");
	tcase_add_test(tc, t_default_output_paths);
	tcase_add_test(tc, t_explicit_output_and_bad_format);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
