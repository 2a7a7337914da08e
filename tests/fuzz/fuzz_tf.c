/*
 * fuzz_tf.c — libFuzzer entry for the TensorFlow bundle reader: the table
 * code (tf_table.c: footer, blocks, restarts, snappy), the bundle (tf.c:
 * header and BundleEntryProto messages, shards) and the protobuf walker.
 *
 * Input layout: INDEX [CKTF_SEP DATA].  INDEX is a PREFIX.index table, DATA
 * (optional) the one data shard.  scripts/fuzz.sh and tests/fuzz_smoke.sh
 * build such seeds from tests/data/tf; a plain .index file is a seed too.
 *
 * Per input: the whole buffer is fed to the snappy decoder; INDEX is scanned
 * in memory as is and, when its block CRCs do not match, again with them
 * fixed (otherwise nearly every mutation stops at the first checksum); then
 * the fixed INDEX and DATA are written as model.ckpt.index and
 * model.ckpt.data-00000-of-00001 in a private folder in /dev/shm and opened
 * as a bundle, walked, and round-tripped through the TF writer.
 */
#include "fuzz_util.h"
#include "tf.h"

#define CKTF_SEP "%CKPTFS-TF-DATA%"
#define CKTF_MAX_FIX 4096          /* data blocks whose CRC we fix per input */

/* Rewrites the masked crc32c trailer of the block at [off, off+len). */
static int tf_fix_block(uint8_t *p, size_t n, uint64_t off, uint64_t len)
{
	if (off > n || len > n - off || n - off - len < CK_TF_TRAILER_LEN)
		return 0;
	uint8_t type = p[off + len];
	uint32_t crc = ck_crc32c_extend(ck_crc32c_extend(0, p + off, (size_t)len), &type, 1);
	uint8_t want[4];
	ck_put_u32le(want, ck_crc32c_mask(crc));
	uint8_t *at = p + off + len + 1;
	int changed = memcmp(at, want, 4) != 0;
	memcpy(at, want, 4);
	return changed;
}

/* Fixes the CRCs of the index block and of every data block it names. */
static int tf_fix(uint8_t *p, size_t n)
{
	if (n < CK_TF_FOOTER_LEN)
		return 0;
	struct ck_cursor c;
	ck_cursor_init(&c, p + n - CK_TF_FOOTER_LEN, 40);
	uint64_t moff = ck_cursor_varint(&c), mlen = ck_cursor_varint(&c);
	uint64_t ioff = ck_cursor_varint(&c), ilen = ck_cursor_varint(&c);
	if (!ck_cursor_ok(&c))
		return 0;
	int changed = tf_fix_block(p, n, moff, mlen);
	changed |= tf_fix_block(p, n, ioff, ilen);
	if (ioff > n || ilen > n - ioff || n - ioff - ilen < CK_TF_TRAILER_LEN)
		return changed;
	const uint8_t *b = p + ioff;
	size_t blen = (size_t)ilen;
	uint8_t *owned = NULL;
	if (b[blen] == 1) {
		struct ck_error err;
		size_t outlen;
		if (ck_snappy_decode(b, blen, CK_TF_MAX_BLOCK, &owned, &outlen, "index", &err))
			return changed;
		b = owned;
		blen = outlen;
	}
	if (blen >= 4) {
		ck_cursor_init(&c, b + blen - 4, 4);
		uint64_t nr = ck_cursor_u32le(&c);
		if (nr * 4 <= blen - 4) {
			ck_cursor_init(&c, b, blen - 4 - (size_t)nr * 4);
			for (unsigned k = 0; k < CKTF_MAX_FIX && ck_cursor_left(&c); k++) {
				ck_cursor_varint(&c);
				uint64_t non = ck_cursor_varint(&c), vlen = ck_cursor_varint(&c);
				ck_cursor_skip(&c, (size_t)non);
				const uint8_t *v = ck_cursor_take(&c, (size_t)vlen);
				if (!v)
					break;
				struct ck_cursor h;
				ck_cursor_init(&h, v, (size_t)vlen);
				uint64_t doff = ck_cursor_varint(&h), dlen = ck_cursor_varint(&h);
				if (ck_cursor_ok(&h))
					changed |= tf_fix_block(p, n, doff, dlen);
			}
		}
	}
	free(owned);
	return changed;
}

/* Walks a protobuf message's fields, and those of nested messages. */
static void tf_walk_pb(const uint8_t *p, size_t n, int depth)
{
	struct ck_cursor c;
	struct ck_pb_field f;
	ck_cursor_init(&c, p, n);
	while (ck_pb_next(&c, &f))
		if (f.wire == 2 && depth < 4)
			tf_walk_pb(f.p, f.len, depth + 1);
}

static ck_err tf_entry(void *ctx, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
		       struct ck_error *err)
{
	(void)err, (void)key, (void)klen;
	(*(size_t *)ctx)++;
	tf_walk_pb(val, vlen, 0);
	return CK_OK;
}

static void tf_scan(const uint8_t *p, size_t n)
{
	struct ck_error err = {0};
	size_t entries = 0;
	ck_err rc = ck_tf_table_scan(p, n, "fuzz.index", tf_entry, &entries, &err);
	ck_fuzz_check_error(rc, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CK_FUZZ_MAX_INPUT)
		return 0;
	struct ck_error err = {0};
	uint8_t *raw = NULL;
	size_t rawlen = 0;
	ck_err rc = ck_snappy_decode(data, size, CK_FUZZ_MAX_INPUT, &raw, &rawlen, "snappy", &err);
	ck_fuzz_check_error(rc, &err);
	free(raw);

	const uint8_t *sep = memmem(data, size, CKTF_SEP, strlen(CKTF_SEP));
	size_t ilen = sep ? (size_t)(sep - data) : size;
	const uint8_t *shard = sep ? sep + strlen(CKTF_SEP) : NULL;
	size_t slen = sep ? size - ilen - strlen(CKTF_SEP) : 0;
	uint8_t *index = malloc(ilen ? ilen : 1);
	if (!index)
		return 0;
	memcpy(index, data, ilen);
	tf_scan(index, ilen);
	if (tf_fix(index, ilen))
		tf_scan(index, ilen);

	char path[512], prefix[512];
	if (ck_fuzz_put("model.ckpt.index", index, ilen, path, sizeof path) == 0 &&
	    ck_fuzz_put("model.ckpt.data-00000-of-00001", shard, slen, path, sizeof path) == 0) {
		snprintf(prefix, sizeof prefix, "%s/model.ckpt", ck_fuzz_dir());
		ck_fuzz_probe_all(prefix, data, size);
		struct ck_ckpt *ck = NULL;
		rc = ck_fuzz_open_as(&ck_format_tf, prefix, &ck, &err);
		ck_fuzz_check_error(rc, &err);
		ck_fuzz_note("tf", rc, &err);
		if (rc == CK_OK) {
			ck_fuzz_exercise(ck, &ck_format_tf, NULL);
			ck_ckpt_free(ck);
		}
	}
	free(index);
	return 0;
}
