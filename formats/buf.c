/* buf.c — growable byte buffer; see buf.h for the sticky-oom convention. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cursor.h"

void ck_buf_init(struct ck_buf *b)
{
	memset(b, 0, sizeof *b);
}

void ck_buf_release(struct ck_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

static int reserve(struct ck_buf *b, size_t extra)
{
	if (b->oom)
		return 0;
	if (extra <= b->cap - b->len)
		return 1;
	size_t need;
	if (__builtin_add_overflow(b->len, extra + 1, &need)) {
		b->oom = 1;
		return 0;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	uint8_t *p = realloc(b->p, cap);
	if (!p) {
		b->oom = 1;
		return 0;
	}
	b->p = p;
	b->cap = cap;
	return 1;
}

void ck_buf_add(struct ck_buf *b, const void *p, size_t n)
{
	if (!n || !reserve(b, n))
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void ck_buf_addc(struct ck_buf *b, uint8_t c) { ck_buf_add(b, &c, 1); }
void ck_buf_adds(struct ck_buf *b, const char *s) { ck_buf_add(b, s, strlen(s)); }

void ck_buf_printf(struct ck_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !reserve(b, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void ck_buf_u16le(struct ck_buf *b, uint16_t v) { uint8_t t[2]; ck_put_u16le(t, v); ck_buf_add(b, t, 2); }
void ck_buf_u32le(struct ck_buf *b, uint32_t v) { uint8_t t[4]; ck_put_u32le(t, v); ck_buf_add(b, t, 4); }
void ck_buf_u64le(struct ck_buf *b, uint64_t v) { uint8_t t[8]; ck_put_u64le(t, v); ck_buf_add(b, t, 8); }

const char *ck_buf_cstr(struct ck_buf *b)
{
	if (!reserve(b, 1))
		return NULL;
	b->p[b->len] = 0;
	return (const char *)b->p;
}
