/* registry.c — every format the library knows, cheapest probe first. */
#include "ck.h"

const struct ck_format *const ck_formats[] = {
	NULL,
};
