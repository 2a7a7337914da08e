/*
 * buf.h — a growable byte buffer for writers (pickle, JSON headers, zip
 * directories).  Appends never fail loudly: the first ENOMEM sets oom and
 * later appends are no-ops, so a writer checks once at the end.
 */
#ifndef CK_BUF_H
#define CK_BUF_H

#include <stddef.h>
#include <stdint.h>

struct ck_buf {
	uint8_t *p;     /* owned; release with ck_buf_release */
	size_t len, cap;
	int oom;
};

void ck_buf_init(struct ck_buf *b);
void ck_buf_release(struct ck_buf *b);
void ck_buf_add(struct ck_buf *b, const void *p, size_t n);
void ck_buf_addc(struct ck_buf *b, uint8_t c);
void ck_buf_adds(struct ck_buf *b, const char *s);
void ck_buf_printf(struct ck_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ck_buf_u16le(struct ck_buf *b, uint16_t v);
void ck_buf_u32le(struct ck_buf *b, uint32_t v);
void ck_buf_u64le(struct ck_buf *b, uint64_t v);
/* Makes the contents a NUL-terminated string (NUL not counted in len). */
const char *ck_buf_cstr(struct ck_buf *b);

#endif
