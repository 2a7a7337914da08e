/* test_commit.c — where a commit goes (STEM.remapped.EXT, folders, TF prefixes,
 * --format) and which writer a convert picks from OUT's name. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	/* regression: with --output the format went unchecked until the commit */
	struct ck_commit_opts bad_out = {.output = "/e/out.bin", .format = "onnx"};
	ck_assert_int_eq(ck_commit_output_path(&ck, &bad_out, &out, &err), CK_EUSAGE);
	ck_assert_ptr_null(out);
}
END_TEST

static void copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
	fclose(in);
	ck_assert_int_eq(fclose(out), 0);
}

/* Regression: --force swaps the old output out and deletes it, so an output
 * folder that held the source deleted the source; and a missing output folder
 * was reported under the name of our temporary. */
START_TEST(t_commit_refuses_unsafe_outputs)
{
	const char *data = getenv("CK_DATA");
	char src[1024], dir[] = "/tmp/ck-commit-XXXXXX", sub[1100], path[1200], out[1200];
	snprintf(src, sizeof src, "%s/bert_pretrain.bin", data ? data : "tests/data");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sub, sizeof sub, "%s/sub", dir);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	snprintf(path, sizeof path, "%s/model.bin", sub);
	copy_file(src, path);
	struct ck_ckpt *ck;
	struct ck_tree *t;
	struct ck_error err;
	ck_assert_int_eq(ck_ckpt_open(path, &ck, &err), CK_OK);
	ck_assert_int_eq(ck_tree_build(ck, &t, &err), CK_OK);
	char *written = NULL;
	const char *unsafe[] = {dir, sub, path};
	for (size_t i = 0; i < 3; i++) {
		struct ck_commit_opts o = {.output = unsafe[i], .force = 1, .always = 1};
		ck_assert_int_eq(ck_commit(ck, t, &o, &written, &err), CK_EINVAL);
		snprintf(out, sizeof out, "%s: output would overwrite the source", unsafe[i]);
		ck_assert_str_eq(err.msg, out);
		ck_assert_ptr_null(written);
		ck_assert_int_eq(access(path, R_OK), 0);
	}
	snprintf(out, sizeof out, "%s/missing/out.bin", dir);
	struct ck_commit_opts o = {.output = out, .always = 1};
	ck_assert_int_eq(ck_commit(ck, t, &o, &written, &err), CK_ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "/missing/out.bin: the output's folder does not exist"));
	/* a sibling output is fine, and the source's bytes are untouched */
	snprintf(out, sizeof out, "%s/out.bin", dir);
	ck_assert_int_eq(ck_commit(ck, t, &o, &written, &err), CK_OK);
	ck_assert_str_eq(written, out);
	free(written);
	ck_tree_free(t);
	ck_ckpt_free(ck);
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s' && rm -rf '%s'", src, path, dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("commit");
	TCase *tc = tcase_create("paths");
	tcase_add_test(tc, t_default_output_paths);
	tcase_add_test(tc, t_explicit_output_and_bad_format);
	tcase_add_test(tc, t_commit_refuses_unsafe_outputs);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
