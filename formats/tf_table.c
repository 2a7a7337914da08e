/*
 * tf_table.c — the LevelDB-style sorted string table that a TensorFlow
 * tensor bundle uses for its .index file (TF's table is LevelDB's format
 * without filter blocks), with the pieces it needs: a table-driven crc32c
 * (hardware crc32 when the CPU has SSE4.2), LevelDB's CRC mask, and a small
 * bounded snappy decoder (some real .index files have snappy blocks).
 *
 * Byte layout (formats.md §5.2; leveldb doc/table_format.md):
 *  1. data blocks, each followed by a 5-byte trailer: u8 compression type
 *     (0 none, 1 snappy), u32 LE masked crc32c of the block bytes + type byte;
 *  2. the metaindex block (+ trailer): empty in bundles;
 *  3. the index block (+ trailer): one entry per data block, key = a separator
 *     >= that block's last key and < the next block's first key, value = the
 *     block's handle (varint64 offset, varint64 size without trailer);
 *  4. the footer, CK_TF_FOOTER_LEN (48) bytes at EOF: metaindex handle, index
 *     handle, zero padding to 40 bytes, magic 0xdb4775248b80fb57 as two LE u32
 *     (low word first).
 * A block is entries {varint32 shared, varint32 non_shared, varint32
 * value_len, non_shared key bytes, value}, then u32 restarts[n] (offsets of
 * entries whose shared == 0), then u32 n.  Keys compare bytewise, strictly
 * increasing through the whole table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cursor.h"
#include "tf.h"

#define TF_MASK_DELTA 0xa282ead8u
#define TF_FOOTER_HANDLES 40   /* the two handles, zero-padded */
#define TF_KP(buf) ((buf).p ? (const uint8_t *)(buf).p : (const uint8_t *)"")   /* an empty key has no bytes */

/* ---- crc32c -------------------------------------------------------------- */

static const uint32_t crc32c_table[256] = {
	0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c,
	0x26a1e7e8, 0xd4ca64eb, 0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b,
	0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24, 0x105ec76f, 0xe235446c,
	0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
	0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc,
	0xbc267848, 0x4e4dfb4b, 0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a,
	0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35, 0xaa64d611, 0x580f5512,
	0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
	0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad,
	0x1642ae59, 0xe4292d5a, 0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a,
	0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595, 0x417b1dbc, 0xb3109ebf,
	0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
	0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f,
	0xed03a29b, 0x1f682198, 0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927,
	0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38, 0xdbfc821c, 0x2997011f,
	0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
	0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e,
	0x4767748a, 0xb50cf789, 0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859,
	0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46, 0x7198540d, 0x83f3d70e,
	0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
	0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de,
	0xdde0eb2a, 0x2f8b6829, 0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c,
	0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93, 0x082f63b7, 0xfa44e0b4,
	0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
	0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b,
	0xb4091bff, 0x466298fc, 0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c,
	0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033, 0xa24bb5a6, 0x502036a5,
	0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
	0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975,
	0x0e330a81, 0xfc588982, 0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d,
	0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622, 0x38cc2a06, 0xcaa7a905,
	0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
	0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8,
	0xe52cc12c, 0x1747422f, 0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff,
	0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0, 0xd3d3e1ab, 0x21b862a8,
	0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
	0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78,
	0x7fab5e8c, 0x8dc0dd8f, 0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee,
	0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1, 0x69e9f0d5, 0x9b8273d6,
	0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
	0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69,
	0xd5cf889d, 0x27a40b9e, 0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e,
	0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n--)
		crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n)
{
	uint64_t c = crc;
	for (; n >= 8; n -= 8, p += 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
	}
	crc = (uint32_t)c;
	while (n--)
		crc = __builtin_ia32_crc32qi(crc, *p++);
	return crc;
}
#define TF_HAVE_HW() __builtin_cpu_supports("sse4.2")
#else
#define crc32c_hw crc32c_sw
#define TF_HAVE_HW() 0
#endif

uint32_t ck_crc32c_extend(uint32_t crc, const void *p, size_t n)
{
	crc = ~crc;
	crc = TF_HAVE_HW() ? crc32c_hw(crc, p, n) : crc32c_sw(crc, p, n);
	return ~crc;
}

uint32_t ck_crc32c_extend_sw(uint32_t crc, const void *p, size_t n)
{
	return ~crc32c_sw(~crc, p, n);
}

uint32_t ck_crc32c_mask(uint32_t crc)
{
	return ((crc >> 15) | (crc << 17)) + TF_MASK_DELTA;
}

uint32_t ck_crc32c_unmask(uint32_t masked)
{
	uint32_t r = masked - TF_MASK_DELTA;
	return (r >> 17) | (r << 15);
}

/* ---- snappy ---------------------------------------------------------------- */

ck_err ck_snappy_decode(const uint8_t *in, size_t n, size_t cap, uint8_t **out, size_t *outlen,
			const char *what, struct ck_error *err)
{
	*out = NULL;
	*outlen = 0;
	struct ck_cursor c;
	ck_cursor_init(&c, in, n);
	uint64_t total = ck_cursor_varint(&c);
	if (!ck_cursor_ok(&c) || total > UINT32_MAX)
		return ck_error_set(err, CK_EFORMAT, "%s: corrupt snappy length", what);
	if (total > cap)
		return ck_error_set(err, CK_ELIMIT, "%s: snappy block of %llu bytes is over the limit of %zu",
				    what, (unsigned long long)total, cap);
	uint8_t *o = malloc(total ? (size_t)total : 1);
	if (!o)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", what);
	size_t at = 0;
	while (ck_cursor_left(&c)) {
		uint8_t tag = ck_cursor_u8(&c);
		size_t len, off = 0;
		if ((tag & 3) == 0) {
			len = tag >> 2;
			if (len >= 60) {
				size_t k = len - 59;
				const uint8_t *b = ck_cursor_take(&c, k);
				len = 0;
				for (size_t i = 0; b && i < k; i++)
					len |= (size_t)b[i] << (8 * i);
			}
			len += 1;
			const uint8_t *lit = ck_cursor_take(&c, len);
			if (!lit || len > total - at)
				goto bad;
			memcpy(o + at, lit, len);
			at += len;
			continue;
		}
		if ((tag & 3) == 1) {
			len = 4 + ((tag >> 2) & 7);
			off = (size_t)(tag >> 5) << 8 | ck_cursor_u8(&c);
		} else if ((tag & 3) == 2) {
			len = (size_t)(tag >> 2) + 1;
			off = ck_cursor_u16le(&c);
		} else {
			len = (size_t)(tag >> 2) + 1;
			off = ck_cursor_u32le(&c);
		}
		if (!ck_cursor_ok(&c) || off == 0 || off > at || len > total - at)
			goto bad;
		for (size_t i = 0; i < len; i++, at++)   /* the ranges may overlap */
			o[at] = o[at - off];
	}
	if (at != total)
		goto bad;
	*out = o;
	*outlen = at;
	return CK_OK;
bad:
	free(o);
	return ck_error_set(err, CK_EFORMAT, "%s: corrupt snappy data", what);
}

/* ---- reading blocks ---------------------------------------------------------- */

struct tf_tab {
	const uint8_t *p;
	size_t size;      /* of the whole file */
	const char *name;
};

/* One block's contents: checked against its trailer CRC, decompressed if
 * snappy (then *owned holds the buffer to free). */
static ck_err tab_block(const struct tf_tab *t, uint64_t off, uint64_t len, const char *what,
			const uint8_t **out, size_t *outlen, uint8_t **owned, struct ck_error *err)
{
	*owned = NULL;
	uint64_t end;
	if (!ck_add_u64(off, len, &end) || !ck_add_u64(end, CK_TF_TRAILER_LEN, &end) ||
	    end > t->size - CK_TF_FOOTER_LEN)
		return ck_error_set(err, CK_EFORMAT, "%s: %s block at offset %llu (%llu bytes) runs past the end "
				    "of the table", t->name, what, (unsigned long long)off, (unsigned long long)len);
	const uint8_t *b = t->p + off;
	uint8_t type = b[len];
	struct ck_cursor c;
	ck_cursor_init(&c, b + len + 1, 4);
	uint32_t stored = ck_cursor_u32le(&c);
	uint32_t crc = ck_crc32c_extend(ck_crc32c_extend(0, b, (size_t)len), &type, 1);
	if (ck_crc32c_unmask(stored) != crc)
		return ck_error_set(err, CK_EFORMAT, "%s: block checksum mismatch (%s block at offset %llu)",
				    t->name, what, (unsigned long long)off);
	if (type == 0) {
		*out = b;
		*outlen = (size_t)len;
		return CK_OK;
	}
	if (type == 1) {
		char where[64];
		snprintf(where, sizeof where, "%s block at offset %llu", what, (unsigned long long)off);
		struct ck_error sub = {0};
		ck_err rc = ck_snappy_decode(b, (size_t)len, CK_TF_MAX_BLOCK, owned, outlen, where, &sub);
		if (rc != CK_OK)
			return ck_error_set(err, rc, "%s: %s", t->name, sub.msg);
		*out = *owned;
		return CK_OK;
	}
	return ck_error_set(err, CK_EUNSUP, "%s: %s block at offset %llu uses compression type %u, "
			    "which is not supported", t->name, what, (unsigned long long)off, type);
}

/* Walks the entries of one block, rebuilding prefix-compressed keys. */
struct blk_it {
	struct ck_cursor c;      /* over the entries */
	struct ck_cursor r;      /* over the restart array */
	uint32_t nr, ri;
	size_t limit;
	struct ck_buf key;       /* current key; owned */
	const uint8_t *val;
	size_t vlen;
	const char *name, *what;
	uint64_t boff;
};

static ck_err blk_init(struct blk_it *it, const uint8_t *b, size_t len, const char *name, const char *what,
		       uint64_t boff, struct ck_error *err)
{
	memset(it, 0, sizeof *it);
	ck_buf_init(&it->key);
	it->name = name, it->what = what, it->boff = boff;
	if (len < 4)
		return ck_error_set(err, CK_EFORMAT, "%s: %s block at offset %llu is too short (%zu bytes)",
				    name, what, (unsigned long long)boff, len);
	struct ck_cursor c;
	ck_cursor_init(&c, b + len - 4, 4);
	it->nr = ck_cursor_u32le(&c);
	if (it->nr == 0 || it->nr > (len - 4) / 4)
		return ck_error_set(err, CK_EFORMAT, "%s: %s block at offset %llu has a bad restart count %u",
				    name, what, (unsigned long long)boff, it->nr);
	it->limit = len - 4 - (size_t)it->nr * 4;
	ck_cursor_init(&it->c, b, it->limit);
	ck_cursor_init(&it->r, b + it->limit, (size_t)it->nr * 4);
	return CK_OK;
}

/* 1 with the next entry in it->key/val, 0 at the end (*rc = CK_OK) or on error. */
static int blk_next(struct blk_it *it, ck_err *rc, struct ck_error *err)
{
	*rc = CK_OK;
	if (!ck_cursor_left(&it->c)) {
		/* leftover restarts: only LevelDB's empty block [0] is allowed */
		if (it->ri < it->nr && !(it->limit == 0 && it->nr == 1 && ck_cursor_u32le(&it->r) == 0))
			*rc = ck_error_set(err, CK_EFORMAT, "%s: %s block at offset %llu has a restart point past "
					   "its entries", it->name, it->what, (unsigned long long)it->boff);
		return 0;
	}
	size_t pos = it->c.pos;
	uint64_t shared = ck_cursor_varint(&it->c), non = ck_cursor_varint(&it->c), vlen = ck_cursor_varint(&it->c);
	if (!ck_cursor_ok(&it->c) || shared > UINT32_MAX || non > UINT32_MAX || vlen > UINT32_MAX) {
		*rc = ck_error_set(err, CK_EFORMAT, "%s: corrupt entry at byte %zu of the %s block at offset %llu",
				   it->name, pos, it->what, (unsigned long long)it->boff);
		return 0;
	}
	if (it->ri < it->nr) {
		size_t save = it->r.pos;
		uint32_t r = ck_cursor_u32le(&it->r);
		if (r == pos && shared != 0) {
			*rc = ck_error_set(err, CK_EFORMAT, "%s: restart entry at byte %zu of the %s block at offset "
					   "%llu shares a key prefix", it->name, pos, it->what,
					   (unsigned long long)it->boff);
			return 0;
		}
		if (r < pos) {
			*rc = ck_error_set(err, CK_EFORMAT, "%s: restart point %u of the %s block at offset %llu is "
					   "not at an entry", it->name, r, it->what, (unsigned long long)it->boff);
			return 0;
		}
		if (r == pos)
			it->ri++;
		else
			it->r.pos = save;
	}
	if (shared > it->key.len) {
		*rc = ck_error_set(err, CK_EFORMAT, "%s: entry at byte %zu of the %s block at offset %llu shares "
				   "%llu bytes of a %zu-byte key", it->name, pos, it->what,
				   (unsigned long long)it->boff, (unsigned long long)shared, it->key.len);
		return 0;
	}
	const uint8_t *k = ck_cursor_take(&it->c, (size_t)non);
	it->val = ck_cursor_take(&it->c, (size_t)vlen);
	it->vlen = (size_t)vlen;
	if (!ck_cursor_ok(&it->c)) {
		*rc = ck_error_set(err, CK_EFORMAT, "%s: entry at byte %zu of the %s block at offset %llu runs past "
				   "the block", it->name, pos, it->what, (unsigned long long)it->boff);
		return 0;
	}
	it->key.len = (size_t)shared;
	ck_buf_add(&it->key, k, (size_t)non);
	if (it->key.oom) {
		*rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", it->name);
		return 0;
	}
	return 1;
}

/* memcmp order, a proper prefix first. */
static int key_cmp(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	int r = memcmp(a, b, an < bn ? an : bn);
	return r ? r : (an > bn) - (an < bn);
}

static ck_err tab_handle(struct ck_cursor *c, uint64_t *off, uint64_t *len)
{
	*off = ck_cursor_varint(c);
	*len = ck_cursor_varint(c);
	return ck_cursor_ok(c) ? CK_OK : CK_EFORMAT;
}

ck_err ck_tf_table_scan(const uint8_t *p, size_t size, const char *name, ck_tf_entry_fn fn, void *ctx,
			struct ck_error *err)
{
	struct tf_tab t = {p, size, name};
	if (size < CK_TF_FOOTER_LEN)
		return ck_error_set(err, CK_EFORMAT, "%s: too short for a table (%zu bytes, the footer alone is %d)",
				    name, size, CK_TF_FOOTER_LEN);
	struct ck_cursor c;
	ck_cursor_init(&c, p + size - 8, 8);
	if (ck_cursor_u64le(&c) != CK_TF_MAGIC)
		return ck_error_set(err, CK_EFORMAT, "%s: not an sstable (bad magic number)", name);
	uint64_t moff, mlen, ioff, ilen;
	ck_cursor_init(&c, p + size - CK_TF_FOOTER_LEN, TF_FOOTER_HANDLES);
	if (tab_handle(&c, &moff, &mlen) || tab_handle(&c, &ioff, &ilen))
		return ck_error_set(err, CK_EFORMAT, "%s: corrupt table footer", name);
	(void)moff, (void)mlen;   /* no filters in a bundle: nothing to read there */

	const uint8_t *ib;
	size_t ilen2;
	uint8_t *iown = NULL, *down = NULL;
	struct blk_it ii = {0}, di = {0};
	struct ck_buf prev;
	int have_prev = 0;
	ck_buf_init(&prev);
	ck_err rc = tab_block(&t, ioff, ilen, "index", &ib, &ilen2, &iown, err);
	if (rc || (rc = blk_init(&ii, ib, ilen2, name, "index", ioff, err)))
		goto out;
	while (blk_next(&ii, &rc, err)) {
		struct ck_cursor h;
		uint64_t doff, dlen;
		ck_cursor_init(&h, ii.val, ii.vlen);
		if (tab_handle(&h, &doff, &dlen)) {
			rc = ck_error_set(err, CK_EFORMAT, "%s: corrupt block handle in the index block", name);
			goto out;
		}
		const uint8_t *db;
		size_t dlen2;
		free(down);
		down = NULL;
		ck_buf_release(&di.key);
		if ((rc = tab_block(&t, doff, dlen, "data", &db, &dlen2, &down, err)) ||
		    (rc = blk_init(&di, db, dlen2, name, "data", doff, err)))
			goto out;
		while (blk_next(&di, &rc, err)) {
			const uint8_t *k = TF_KP(di.key);
			if (have_prev && key_cmp(k, di.key.len, TF_KP(prev), prev.len) <= 0) {
				rc = ck_error_set(err, CK_EFORMAT, "%s: keys out of order in the data block at offset "
						  "%llu ('%.*s' after '%.*s')", name, (unsigned long long)doff,
						  (int)(di.key.len > 200 ? 200 : di.key.len), (const char *)k,
						  (int)(prev.len > 200 ? 200 : prev.len), (const char *)TF_KP(prev));
				goto out;
			}
			if (key_cmp(k, di.key.len, TF_KP(ii.key), ii.key.len) > 0) {
				rc = ck_error_set(err, CK_EFORMAT, "%s: key '%.*s' in the data block at offset %llu is "
						  "past its index entry", name, (int)(di.key.len > 200 ? 200 : di.key.len),
						  (const char *)k, (unsigned long long)doff);
				goto out;
			}
			prev.len = 0;
			ck_buf_add(&prev, k, di.key.len);
			if (prev.oom) {
				rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", name);
				goto out;
			}
			have_prev = 1;
			if ((rc = fn(ctx, k, di.key.len, di.val, di.vlen, err)))
				goto out;
		}
		if (rc)
			goto out;
	}
out:
	ck_buf_release(&ii.key);
	ck_buf_release(&di.key);
	ck_buf_release(&prev);
	free(iown);
	free(down);
	return rc;
}

/* ---- protobuf ------------------------------------------------------------------ */

int ck_pb_next(struct ck_cursor *c, struct ck_pb_field *f)
{
	if (!ck_cursor_left(c) || c->bad)
		return 0;
	f->start = c->pos;
	uint64_t tag = ck_cursor_varint(c);
	f->num = (unsigned)(tag >> 3);
	f->wire = tag & 7;
	f->p = NULL, f->len = 0, f->v = 0;
	if (tag >> 3 == 0 || tag >> 3 > 0x1fffffff)
		c->bad = 1;
	else if (f->wire == 0)
		f->v = ck_cursor_varint(c);
	else if (f->wire == 1)
		f->v = ck_cursor_u64le(c);
	else if (f->wire == 5)
		f->v = ck_cursor_u32le(c);
	else if (f->wire == 2) {
		uint64_t n = ck_cursor_varint(c);
		if (n > ck_cursor_left(c))
			c->bad = 1;
		else
			f->len = (size_t)n, f->p = ck_cursor_take(c, f->len);
	} else {
		c->bad = 1;   /* groups (3, 4) and reserved wire types */
	}
	return !c->bad;
}

/* ---- building ------------------------------------------------------------------ */

void ck_pb_varint(struct ck_buf *b, uint64_t v)
{
	while (v >= 0x80) {
		ck_buf_addc(b, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	ck_buf_addc(b, (uint8_t)v);
}

void ck_tf_builder_init(struct ck_tf_builder *b)
{
	memset(b, 0, sizeof *b);
	ck_buf_init(&b->out);
	ck_buf_init(&b->block);
	ck_buf_init(&b->index);
	ck_buf_init(&b->restarts);
	ck_buf_init(&b->irestarts);
	ck_buf_init(&b->last);
}

void ck_tf_builder_release(struct ck_tf_builder *b)
{
	ck_buf_release(&b->out);
	ck_buf_release(&b->block);
	ck_buf_release(&b->index);
	ck_buf_release(&b->restarts);
	ck_buf_release(&b->irestarts);
	ck_buf_release(&b->last);
}

/* Appends a block's bytes + trailer to out; returns its handle's offset. */
static uint64_t builder_emit(struct ck_tf_builder *b, const struct ck_buf *blk)
{
	uint64_t off = b->out.len;
	uint8_t type = 0;
	uint32_t crc = ck_crc32c_extend(ck_crc32c_extend(0, blk->p, blk->len), &type, 1);
	ck_buf_add(&b->out, blk->p, blk->len);
	ck_buf_addc(&b->out, type);
	ck_buf_u32le(&b->out, ck_crc32c_mask(crc));
	return off;
}

static void entry_put(struct ck_buf *blk, size_t shared, const uint8_t *key, size_t klen,
		      const uint8_t *val, size_t vlen)
{
	ck_pb_varint(blk, shared);
	ck_pb_varint(blk, klen - shared);
	ck_pb_varint(blk, vlen);
	if (klen > shared)   /* an empty key may have no bytes at all */
		ck_buf_add(blk, key + shared, klen - shared);
	if (vlen)
		ck_buf_add(blk, val, vlen);
}

static void builder_flush(struct ck_tf_builder *b)
{
	if (!b->nblock)
		return;
	ck_buf_add(&b->block, b->restarts.p, b->restarts.len);
	ck_buf_u32le(&b->block, (uint32_t)(b->restarts.len / 4));
	uint64_t off = builder_emit(b, &b->block);
	struct ck_buf h;
	ck_buf_init(&h);
	ck_pb_varint(&h, off);
	ck_pb_varint(&h, b->block.len);
	/* the block's last key is a valid separator: >= its keys, < the next block's */
	ck_buf_u32le(&b->irestarts, (uint32_t)b->index.len);
	entry_put(&b->index, 0, b->last.p, b->last.len, h.p, h.len);
	b->last.oom |= h.oom;
	ck_buf_release(&h);
	b->nindex++;
	b->block.len = 0;
	b->restarts.len = 0;
	b->nblock = 0;
}

void ck_tf_builder_add(struct ck_tf_builder *b, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen)
{
	size_t shared = 0;
	if (b->nblock % CK_TF_RESTART_INTERVAL == 0) {
		ck_buf_u32le(&b->restarts, (uint32_t)b->block.len);
	} else {
		size_t m = klen < b->last.len ? klen : b->last.len;
		while (shared < m && b->last.p[shared] == key[shared])
			shared++;
	}
	entry_put(&b->block, shared, key, klen, val, vlen);
	b->nblock++;
	b->last.len = 0;
	ck_buf_add(&b->last, key, klen);
	if (b->block.len + b->restarts.len + 4 >= CK_TF_BLOCK_SIZE)
		builder_flush(b);
}

int ck_tf_builder_finish(struct ck_tf_builder *b)
{
	builder_flush(b);
	struct ck_buf meta;
	ck_buf_init(&meta);
	ck_buf_u32le(&meta, 0);   /* an empty block: one restart at 0 */
	ck_buf_u32le(&meta, 1);
	uint64_t moff = builder_emit(b, &meta);
	uint64_t mlen = meta.len;
	ck_buf_release(&meta);
	if (!b->nindex)
		ck_buf_u32le(&b->irestarts, 0);
	ck_buf_add(&b->index, b->irestarts.p, b->irestarts.len);
	ck_buf_u32le(&b->index, (uint32_t)(b->irestarts.len / 4));
	uint64_t ioff = builder_emit(b, &b->index);
	struct ck_buf f;
	ck_buf_init(&f);
	ck_pb_varint(&f, moff);
	ck_pb_varint(&f, mlen);
	ck_pb_varint(&f, ioff);
	ck_pb_varint(&f, b->index.len);
	while (f.len < TF_FOOTER_HANDLES)
		ck_buf_addc(&f, 0);
	ck_buf_u64le(&f, CK_TF_MAGIC);
	ck_buf_add(&b->out, f.p, f.len);
	int ok = !f.oom && !b->out.oom && !b->block.oom && !b->index.oom && !b->restarts.oom &&
		 !b->irestarts.oom && !b->last.oom;
	ck_buf_release(&f);
	return ok;
}
