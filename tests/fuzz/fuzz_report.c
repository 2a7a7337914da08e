/*
 * fuzz_report.c — libFuzzer entry for the _report reference reader
 * (report.c: a key list `KEY [d1,d2]` with quoted keys, dtype tokens,
 * torch.Size(...) shapes, comments; or any checkpoint) and for the report
 * built against it (report_hints.c: prefix strip/add/replace, gamma/beta,
 * heads; report_out.c: text and JSON).  The reference reaches the reader
 * through a memfd; the checkpoint it is compared with is the tiny BERT
 * pre-training fixture, opened once, before and after a few changes.
 */
#include "fuzz_util.h"

#ifndef CK_FUZZ_DATA
#define CK_FUZZ_DATA "tests/data"
#endif

static struct ck_ckpt *fp_ck;   /* opened once, lives as long as the process */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	struct ck_error err = {0};
	if (ck_ckpt_open(CK_FUZZ_DATA "/bert_pretrain.bin", &fp_ck, &err) != CK_OK)
		ck_fuzz_die("cannot open the fixture the report is built on: %s", err.msg);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CK_FUZZ_MAX_INPUT)
		return 0;
	if (!fp_ck)
		LLVMFuzzerInitialize(NULL, NULL);
	char path[64];
	if (ck_fuzz_memfd(data, size, path, sizeof path) != 0)
		return 0;
	struct ck_error err = {0};
	struct ck_reference *ref = NULL;
	ck_err rc = ck_reference_load(path, &ref, &err);
	ck_fuzz_check_error(rc, &err);
	ck_fuzz_note("reference", rc, &err);
	if (rc)
		return 0;
	struct ck_tree *t = NULL;
	if (ck_tree_build(fp_ck, &t, &err))
		ck_fuzz_die("the fixture's tree does not build: %s", err.msg);
	int ok;
	free(ck_report_text(t, ref, 0, &ok));
	free(ck_report_text(t, ref, 1, &ok));
	/* the hints' own advice, as a user would follow it: strip "bert/" */
	rc = ck_tree_rename(t, "bert", "model", &err);
	ck_fuzz_check_error(rc, &err);
	rc = ck_tree_unlink(t, "cls/predictions/bias", &err);
	ck_fuzz_check_error(rc, &err);
	free(ck_report_text(t, ref, 0, &ok));
	free(ck_report_text(t, ref, 1, &ok));
	ck_tree_free(t);
	ck_reference_free(ref);
	return 0;
}
