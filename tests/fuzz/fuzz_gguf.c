/*
 * fuzz_gguf.c — libFuzzer entry for the GGUF reader (gguf.c: the fixed
 * header, every key-value type including nested arrays, tensor infos,
 * alignment and data offsets).  The bytes reach the reader through a memfd;
 * an opened file goes through the tree/_report walk and a GGUF
 * write-then-read round trip that must read back unchanged.
 */
#include "fuzz_util.h"
#include "gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size <= CK_FUZZ_MAX_INPUT)
		ck_fuzz_run_file(data, size, &ck_format_gguf, NULL);
	return 0;
}
