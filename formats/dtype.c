/* dtype.c — dtype names (torch's, ggml's for block types) and sizes. */
#include <string.h>

#include "ck.h"

static const struct {
	const char *name;
	size_t size;   /* bytes per element, or per block */
	size_t block;  /* elements per block */
} dtypes[CK_DT_COUNT] = {
	[CK_DT_INVALID] = {"invalid", 0, 1},
	[CK_DT_F32] = {"float32", 4, 1}, [CK_DT_F16] = {"float16", 2, 1},
	[CK_DT_BF16] = {"bfloat16", 2, 1}, [CK_DT_F64] = {"float64", 8, 1},
	[CK_DT_I8] = {"int8", 1, 1}, [CK_DT_I16] = {"int16", 2, 1},
	[CK_DT_I32] = {"int32", 4, 1}, [CK_DT_I64] = {"int64", 8, 1},
	[CK_DT_U8] = {"uint8", 1, 1}, [CK_DT_U16] = {"uint16", 2, 1},
	[CK_DT_U32] = {"uint32", 4, 1}, [CK_DT_U64] = {"uint64", 8, 1},
	[CK_DT_BOOL] = {"bool", 1, 1}, [CK_DT_C64] = {"complex64", 8, 1},
	[CK_DT_C128] = {"complex128", 16, 1},
	[CK_DT_F8E4M3] = {"float8_e4m3fn", 1, 1}, [CK_DT_F8E5M2] = {"float8_e5m2", 1, 1},
	[CK_DT_QINT8] = {"qint8", 1, 1}, [CK_DT_QUINT8] = {"quint8", 1, 1},
	[CK_DT_QINT32] = {"qint32", 4, 1},
	[CK_DT_Q4_0] = {"q4_0", 18, 32}, [CK_DT_Q4_1] = {"q4_1", 20, 32},
	[CK_DT_Q5_0] = {"q5_0", 22, 32}, [CK_DT_Q5_1] = {"q5_1", 24, 32},
	[CK_DT_Q8_0] = {"q8_0", 34, 32}, [CK_DT_Q8_1] = {"q8_1", 36, 32},
	[CK_DT_Q2_K] = {"q2_K", 84, 256}, [CK_DT_Q3_K] = {"q3_K", 110, 256},
	[CK_DT_Q4_K] = {"q4_K", 144, 256}, [CK_DT_Q5_K] = {"q5_K", 176, 256},
	[CK_DT_Q6_K] = {"q6_K", 210, 256}, [CK_DT_Q8_K] = {"q8_K", 292, 256},
	[CK_DT_IQ2_XXS] = {"iq2_xxs", 66, 256}, [CK_DT_IQ2_XS] = {"iq2_xs", 74, 256},
	[CK_DT_IQ3_XXS] = {"iq3_xxs", 98, 256}, [CK_DT_IQ1_S] = {"iq1_s", 50, 256},
	[CK_DT_IQ4_NL] = {"iq4_nl", 18, 32}, [CK_DT_IQ3_S] = {"iq3_s", 110, 256},
	[CK_DT_IQ2_S] = {"iq2_s", 82, 256}, [CK_DT_IQ4_XS] = {"iq4_xs", 136, 256},
	[CK_DT_IQ1_M] = {"iq1_m", 56, 256}, [CK_DT_TQ1_0] = {"tq1_0", 54, 256},
	[CK_DT_TQ2_0] = {"tq2_0", 66, 256}, [CK_DT_MXFP4] = {"mxfp4", 17, 32},
};

const char *ck_dtype_name(enum ck_dtype dt)
{
	if ((unsigned)dt >= CK_DT_COUNT)
		return "invalid";
	return dtypes[dt].name;
}

enum ck_dtype ck_dtype_from_name(const char *name)
{
	for (int i = 1; i < CK_DT_COUNT; i++)
		if (dtypes[i].name && strcmp(dtypes[i].name, name) == 0)
			return (enum ck_dtype)i;
	return CK_DT_INVALID;
}

size_t ck_dtype_size(enum ck_dtype dt)
{
	return (unsigned)dt < CK_DT_COUNT ? dtypes[dt].size : 0;
}

size_t ck_dtype_block(enum ck_dtype dt)
{
	return (unsigned)dt < CK_DT_COUNT && dtypes[dt].block ? dtypes[dt].block : 1;
}
