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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CK_FUZZ_MAX_INPUT)
		return 0;
	if (size >= CK_NPY_MAGIC_LEN && memcmp(data, CK_NPY_MAGIC, CK_NPY_MAGIC_LEN) == 0) {
		ck_fuzz_run_file(data, size, &ck_format_npy, NULL);
		return 0;
	}
	ck_fuzz_run_file(data, size, &ck_format_npz, NULL);
	uint8_t *fixed = malloc(size ? size : 1);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	if (ck_fuzz_zip_fix(fixed, size))
		ck_fuzz_run_file(fixed, size, &ck_format_npz, NULL);
	free(fixed);
	return 0;
}
