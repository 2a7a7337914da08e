/* registry.c — every format the library knows, cheapest probe first. */
#include "ck.h"

extern const struct ck_format ck_format_safetensors;
extern const struct ck_format ck_format_hf;
extern const struct ck_format ck_format_pytorch;
extern const struct ck_format ck_format_pytorch_legacy;
extern const struct ck_format ck_format_tf;
extern const struct ck_format ck_format_gguf;
extern const struct ck_format ck_format_npy;
extern const struct ck_format ck_format_npz;

const struct ck_format *const ck_formats[] = {
	&ck_format_safetensors,
	&ck_format_hf,
	&ck_format_pytorch,
	&ck_format_pytorch_legacy,
	&ck_format_tf,
	&ck_format_gguf,
	&ck_format_npy,
	&ck_format_npz,
	NULL,
};
