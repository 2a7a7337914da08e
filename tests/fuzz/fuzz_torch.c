/*
 * fuzz_torch.c — libFuzzer entry for both PyTorch readers: a buffer starting
 * with "PK\3\4" goes to the zip reader (torch_zip.c), anything else to the
 * legacy reader (torch_legacy.c).  The bytes reach the reader through a
 * memfd.  A zip input whose member CRCs do not match is run twice, as is and
 * with the CRCs fixed, so mutations inside data.pkl get past libzip.  An
 * opened checkpoint goes through the tree/_report walk and a torch.save zip
 * round trip that must read back unchanged.
 */
#include "fuzz_util.h"

extern const struct ck_format ck_format_pytorch;
extern const struct ck_format ck_format_pytorch_legacy;

static void ft_run(const uint8_t *data, size_t size, int zip)
{
	ck_fuzz_run_file(data, size, zip ? &ck_format_pytorch : &ck_format_pytorch_legacy, &ck_format_pytorch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CK_FUZZ_MAX_INPUT)
		return 0;
	int zip = size >= 4 && memcmp(data, "PK\3\4", 4) == 0;
	ft_run(data, size, zip);
	if (!zip)
		return 0;
	uint8_t *fixed = malloc(size);
	if (!fixed)
		return 0;
	memcpy(fixed, data, size);
	if (ck_fuzz_zip_fix(fixed, size))
		ft_run(fixed, size, zip);
	free(fixed);
	return 0;
}
