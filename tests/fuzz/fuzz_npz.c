/*
 * fuzz_npz.c — libFuzzer entry for the NumPy readers (npz.c): a buffer
 * starting with the .npy magic goes to the .npy reader (header dict, dtype
 * descr, shape), anything else to the .npz reader (a zip of .npy members).
 * The bytes reach the reader through a memfd.  A zip whose member CRCs do
 * not match is run twice, as is and with the CRCs fixed.  An opened file goes
 * through the tree/_report walk and a round trip in its own format.
 */
#include "fuzz_util.h"
#include "npz.h"

static void fn_run(const uint8_t *data, size_t size, const struct ck_format *f)
{
	char path[64];
	if (ck_fuzz_memfd(data, size, path, sizeof path) != 0)
		return;
	ck_fuzz_probe_all(path, data, size);
	struct ck_error err = {0};
	struct ck_ckpt *ck = NULL;
	ck_err rc = ck_fuzz_open_as(f, path, &ck, &err);
	ck_fuzz_check_error(rc, &err);
	ck_fuzz_note(f->name, rc, &err);
	if (rc)
		return;
	ck_fuzz_exercise(ck, f, NULL);
	ck_ckpt_free(ck);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CK_FUZZ_MAX_INPUT)
		return 0;
	if (size >= CK_NPY_MAGIC_LEN && memcmp(data, CK_NPY_MAGIC, CK_NPY_MAGIC_LEN) == 0) {
		fn_run(data, size, &ck_format_npy);
		return 0;
	}
	fn_run(data, size, &ck_format_npz);
	uint8_t *fixed = malloc(size ? size : 1);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	if (ck_fuzz_zip_fix(fixed, size))
		fn_run(fixed, size, &ck_format_npz);
	free(fixed);
	return 0;
}
