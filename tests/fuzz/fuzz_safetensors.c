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
	if (size <= CK_FUZZ_MAX_INPUT)
		ck_fuzz_run_file(data, size, &ck_format_safetensors, NULL);
	return 0;
}
