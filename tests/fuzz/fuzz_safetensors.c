/*
 * fuzz_safetensors.c — libFuzzer entry for the safetensors reader
 * (safetensors.c: the u64 header length, the JSON header with every
 * validation rule, offsets against the file size).  The bytes reach the
 * reader through a memfd; an opened file goes through the tree/_report walk
 * and a safetensors write-then-read round trip that must read back unchanged.
 */
#include "fuzz_util.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CK_FUZZ_MAX_INPUT)
		return 0;
	char path[64];
	if (ck_fuzz_memfd(data, size, path, sizeof path) != 0)
		return 0;
	ck_fuzz_probe_all(path, data, size);
	struct ck_error err = {0};
	struct ck_ckpt *ck = NULL;
	ck_err rc = ck_fuzz_open_as(&ck_format_safetensors, path, &ck, &err);
	ck_fuzz_check_error(rc, &err);
	ck_fuzz_note("safetensors", rc, &err);
	if (rc)
		return 0;
	ck_fuzz_exercise(ck, &ck_format_safetensors, NULL);
	ck_ckpt_free(ck);
	return 0;
}
