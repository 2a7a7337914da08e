/*
 * cursor.h — the one bounds-checked reader every parser goes through.
 * A failed read sets c->bad and returns 0/zeroes; parsers check ck_cursor_ok()
 * at decision points instead of after every byte.
 */
#ifndef CK_CURSOR_H
#define CK_CURSOR_H

#include <stdint.h>
#include <string.h>

struct ck_cursor {
	const uint8_t *p;   /* borrowed */
	size_t len;
	size_t pos;
	int bad;            /* set once a read went past the end */
};

static inline void ck_cursor_init(struct ck_cursor *c, const void *p, size_t len)
{
	c->p = p;
	c->len = len;
	c->pos = 0;
	c->bad = 0;
}
static inline size_t ck_cursor_left(const struct ck_cursor *c) { return c->len - c->pos; }
static inline int ck_cursor_ok(const struct ck_cursor *c) { return !c->bad; }

/* Returns a pointer to n bytes and advances, or NULL (and bad) if fewer remain. */
static inline const uint8_t *ck_cursor_take(struct ck_cursor *c, size_t n)
{
	if (c->bad || n > c->len - c->pos) {
		c->bad = 1;
		return NULL;
	}
	const uint8_t *r = c->p + c->pos;
	c->pos += n;
	return r;
}
static inline int ck_cursor_skip(struct ck_cursor *c, size_t n) { return ck_cursor_take(c, n) != NULL; }
static inline int ck_cursor_seek(struct ck_cursor *c, size_t pos)
{
	if (pos > c->len) {
		c->bad = 1;
		return 0;
	}
	c->pos = pos;
	return 1;
}
static inline uint8_t ck_cursor_u8(struct ck_cursor *c)
{
	const uint8_t *b = ck_cursor_take(c, 1);
	return b ? b[0] : 0;
}
static inline uint16_t ck_cursor_u16le(struct ck_cursor *c)
{
	const uint8_t *b = ck_cursor_take(c, 2);
	return b ? (uint16_t)(b[0] | b[1] << 8) : 0;
}
static inline uint32_t ck_cursor_u32le(struct ck_cursor *c)
{
	const uint8_t *b = ck_cursor_take(c, 4);
	return b ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24 : 0;
}
static inline uint64_t ck_cursor_u64le(struct ck_cursor *c)
{
	uint64_t lo = ck_cursor_u32le(c);
	uint64_t hi = ck_cursor_u32le(c);
	return lo | hi << 32;
}
/* Copies n bytes into dst (zero-filled on failure). */
static inline int ck_cursor_copy(struct ck_cursor *c, void *dst, size_t n)
{
	const uint8_t *b = ck_cursor_take(c, n);
	if (!b) {
		memset(dst, 0, n);
		return 0;
	}
	memcpy(dst, b, n);
	return 1;
}
/* LEB128 varint, at most 10 bytes; sets bad on overlong or truncated input. */
static inline uint64_t ck_cursor_varint(struct ck_cursor *c)
{
	uint64_t v = 0;
	for (int shift = 0; shift < 70; shift += 7) {
		uint8_t b = ck_cursor_u8(c);
		if (c->bad)
			return 0;
		if (shift == 63 && b > 1) {
			c->bad = 1;
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	c->bad = 1;
	return 0;
}
/* Little-endian store helpers for writers. */
static inline void ck_put_u16le(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void ck_put_u32le(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static inline void ck_put_u64le(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif
