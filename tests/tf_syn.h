/*
 * tf_syn.h — hand-made tensor bundles for the tests (included by tf_util.h):
 * its own table layout code (blocks, restarts, trailers, index, footer, a
 * literal-only snappy encoder), knobs for one defect at a time, and the table
 * of broken bundles each with the error code and message it must produce.
 * Data files hold the pattern byte i = i * 7 + 3.
 */
#ifndef TF_SYN_H
#define TF_SYN_H

struct tf_syn_ent {
	uint8_t *key;        /* owned */
	size_t klen;
	struct ck_buf val;   /* the BundleEntryProto (or anything) */
};

struct tf_syn {
	struct tf_syn_ent *e;
	size_t n, cap;
	struct ck_buf header;   /* the "" entry's value; NULL p: the default */
	int no_header;
	int restart_every;      /* 0: 16 */
	int per_block;          /* entries per data block (the header counts); 0: all */
	int snappy;
	uint32_t num_shards;    /* for the data file's name; 0: 1 */
	int no_data;
	/* defects */
	int block_type;         /* a compression type byte, with a valid CRC */
	const char *index_key;  /* the first block's index key instead of its last key */
	int bad_crc, snappy_bad, bad_restart, bad_nrestarts, index_key_short, bad_vlen, bad_handle, bad_magic;
	size_t truncate;        /* cut the index to this many bytes */
};

static inline uint8_t tf_pattern(uint64_t i)
{
	return (uint8_t)(i * 7 + 3);
}

static inline void tf_syn_init(struct tf_syn *s)
{
	memset(s, 0, sizeof *s);
	ck_buf_init(&s->header);
}

static inline void tf_syn_release(struct tf_syn *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->e[i].key);
		ck_buf_release(&s->e[i].val);
	}
	free(s->e);
	ck_buf_release(&s->header);
}

/* Adds key -> val as is (in this order: the tests make disorder on purpose). */
static inline void tf_syn_raw(struct tf_syn *s, const void *key, size_t klen, const void *val, size_t vlen)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->e = realloc(s->e, s->cap * sizeof *s->e);
	}
	struct tf_syn_ent *e = &s->e[s->n++];
	e->key = malloc(klen + 1);
	memcpy(e->key, key, klen);
	e->klen = klen;
	ck_buf_init(&e->val);
	ck_buf_add(&e->val, val, vlen);
}

static inline void tf_put_varint(struct ck_buf *b, uint64_t v)
{
	do {
		ck_buf_addc(b, (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)));
		v >>= 7;
	} while (v);
}

/* A BundleEntryProto; crc computed from the data pattern. */
static inline void tf_pb_entry(struct ck_buf *b, unsigned dt, int ndim, const int64_t *shape, uint64_t shard,
			       uint64_t off, uint64_t size)
{
	ck_buf_addc(b, 0x08);
	tf_put_varint(b, dt);
	struct ck_buf sh;
	ck_buf_init(&sh);
	for (int i = 0; i < ndim; i++) {
		struct ck_buf d;
		ck_buf_init(&d);
		ck_buf_addc(&d, 0x08);
		tf_put_varint(&d, (uint64_t)shape[i]);
		ck_buf_addc(&sh, 0x12);
		tf_put_varint(&sh, d.len);
		ck_buf_add(&sh, d.p, d.len);
		ck_buf_release(&d);
	}
	ck_buf_addc(b, 0x12);
	tf_put_varint(b, sh.len);
	ck_buf_add(b, sh.p, sh.len);
	ck_buf_release(&sh);
	if (shard) {
		ck_buf_addc(b, 0x18);
		tf_put_varint(b, shard);
	}
	if (off) {
		ck_buf_addc(b, 0x20);
		tf_put_varint(b, off);
	}
	if (size) {
		ck_buf_addc(b, 0x28);
		tf_put_varint(b, size);
	}
	uint32_t crc = 0;
	for (uint64_t i = 0; i < size && size < (1u << 20); i++) {
		uint8_t x = tf_pattern(off + i);
		crc = ck_crc32c_extend(crc, &x, 1);
	}
	ck_buf_addc(b, 0x35);
	ck_buf_u32le(b, ck_crc32c_mask(crc));
}

static inline void tf_syn_tensor(struct tf_syn *s, const char *key, unsigned dt, int ndim, const int64_t *shape,
				 uint64_t shard, uint64_t off, uint64_t size)
{
	struct ck_buf b;
	ck_buf_init(&b);
	tf_pb_entry(&b, dt, ndim, shape, shard, off, size);
	tf_syn_raw(s, key, strlen(key), b.p, b.len);
	ck_buf_release(&b);
}

static inline void tf_syn_trailer(struct tf_syn *s, struct ck_buf *out, const uint8_t *p, size_t n, uint8_t type,
				  int bad)
{
	uint32_t crc = ck_crc32c_extend(ck_crc32c_extend(0, p, n), &type, 1);
	ck_buf_add(out, p, n);
	ck_buf_addc(out, type);
	ck_buf_u32le(out, ck_crc32c_mask(crc) ^ (bad ? 1u : 0u));
	(void)s;
}

/* Block contents of ents[0..n): prefix-compressed, a restart every `every`. */
static inline void tf_syn_block(struct tf_syn *s, struct ck_buf *blk, struct tf_syn_ent *const *ents, size_t n,
				int every, int first_block)
{
	struct ck_buf rs;
	ck_buf_init(&rs);
	for (size_t i = 0; i < n; i++) {
		size_t shared = 0;
		if (i % (size_t)every == 0) {
			ck_buf_u32le(&rs, (uint32_t)blk->len + (s->bad_restart && first_block && i ? 1u : 0u));
		} else {
			const struct tf_syn_ent *a = ents[i - 1], *b = ents[i];
			while (shared < a->klen && shared < b->klen && a->key[shared] == b->key[shared])
				shared++;
		}
		size_t vlen = ents[i]->val.len + (s->bad_vlen && first_block && i == n - 1 ? 1000 : 0);
		tf_put_varint(blk, shared);
		tf_put_varint(blk, ents[i]->klen - shared);
		tf_put_varint(blk, vlen);
		ck_buf_add(blk, ents[i]->key + shared, ents[i]->klen - shared);
		ck_buf_add(blk, ents[i]->val.p, ents[i]->val.len);
	}
	if (!n)
		ck_buf_u32le(&rs, 0);
	ck_buf_add(blk, rs.p, rs.len);
	ck_buf_u32le(blk, s->bad_nrestarts && first_block ? 0x7fffffffu : (uint32_t)(rs.len / 4));
	ck_buf_release(&rs);
}

/* The whole .index file. */
static inline void tf_syn_bytes(struct tf_syn *s, struct ck_buf *out)
{
	static const uint8_t def_header[] = {0x08, 0x01, 0x1a, 0x02, 0x08, 0x01};
	struct tf_syn_ent hdr = {(uint8_t *)"", 0, s->header};
	if (!s->header.len)
		ck_buf_add(&hdr.val, def_header, sizeof def_header);
	size_t total = s->n + (s->no_header ? 0 : 1);
	struct tf_syn_ent **all = malloc((total + 1) * sizeof *all);
	size_t k = 0;
	if (!s->no_header)
		all[k++] = &hdr;
	for (size_t i = 0; i < s->n; i++)
		all[k++] = &s->e[i];
	int every = s->restart_every ? s->restart_every : 16;
	size_t per = s->per_block ? (size_t)s->per_block : (total ? total : 1);
	struct ck_buf index, irs;
	ck_buf_init(&index);
	ck_buf_init(&irs);
	for (size_t at = 0, b = 0; at < total; at += per, b++) {
		size_t n = total - at < per ? total - at : per;
		struct ck_buf blk, enc;
		ck_buf_init(&blk);
		ck_buf_init(&enc);
		tf_syn_block(s, &blk, all + at, n, every, b == 0);
		const struct ck_buf *body = &blk;
		uint8_t type = 0;
		if (s->snappy) {   /* literals of at most 60 bytes */
			tf_put_varint(&enc, blk.len + (s->snappy_bad && b == 0 ? 1 : 0));
			for (size_t i = 0; i < blk.len; i += 60) {
				size_t m = blk.len - i < 60 ? blk.len - i : 60;
				ck_buf_addc(&enc, (uint8_t)((m - 1) << 2));
				ck_buf_add(&enc, blk.p + i, m);
			}
			body = &enc;
			type = 1;
		}
		if (s->block_type && b == 0)
			type = (uint8_t)s->block_type;
		uint64_t off = out->len, len = body->len;
		tf_syn_trailer(s, out, body->p, body->len, type, s->bad_crc && b == 0);
		/* index entry: the block's last key (shortened on purpose when asked) */
		const struct tf_syn_ent *last = all[at + n - 1];
		size_t klen = last->klen - (s->index_key_short && b == 0 && last->klen ? 1 : 0);
		const uint8_t *ikey = last->key;
		if (s->index_key && b == 0)
			ikey = (const uint8_t *)s->index_key, klen = strlen(s->index_key);
		ck_buf_u32le(&irs, (uint32_t)index.len);
		tf_put_varint(&index, 0);
		tf_put_varint(&index, klen);
		struct ck_buf h;
		ck_buf_init(&h);
		tf_put_varint(&h, off + (s->bad_handle ? 1000000 : 0));
		tf_put_varint(&h, len);
		tf_put_varint(&index, h.len);
		ck_buf_add(&index, ikey, klen);
		ck_buf_add(&index, h.p, h.len);
		ck_buf_release(&h);
		ck_buf_release(&blk);
		ck_buf_release(&enc);
	}
	if (!total)
		ck_buf_u32le(&irs, 0);
	ck_buf_add(&index, irs.p, irs.len);
	ck_buf_u32le(&index, (uint32_t)(irs.len / 4));
	static const uint8_t empty[8] = {0, 0, 0, 0, 1, 0, 0, 0};
	uint64_t moff = out->len;
	tf_syn_trailer(s, out, empty, 8, 0, 0);
	uint64_t ioff = out->len;
	tf_syn_trailer(s, out, index.p, index.len, 0, 0);
	struct ck_buf f;
	ck_buf_init(&f);
	tf_put_varint(&f, moff);
	tf_put_varint(&f, 8);
	tf_put_varint(&f, ioff);
	tf_put_varint(&f, index.len);
	while (f.len < 40)
		ck_buf_addc(&f, 0);
	ck_buf_u64le(&f, 0xdb4775248b80fb57ull ^ (s->bad_magic ? 1ull << 60 : 0));
	ck_buf_add(out, f.p, f.len);
	if (s->truncate && s->truncate < out->len)
		out->len = s->truncate;
	ck_buf_release(&f);
	ck_buf_release(&index);
	ck_buf_release(&irs);
	if (!s->header.len)
		ck_buf_release(&hdr.val);
	free(all);
	ck_assert(!out->oom);
}

/* Writes PREFIX.index and (unless no_data) the first data shard of datalen bytes. */
static inline void tf_syn_write(struct tf_syn *s, const char *prefix, size_t datalen)
{
	struct ck_buf out;
	ck_buf_init(&out);
	tf_syn_bytes(s, &out);
	char *idx = tf_cat(prefix, ".index", "");
	tf_write_bytes(idx, out.p ? out.p : (uint8_t *)"", out.len);
	free(idx);
	ck_buf_release(&out);
	if (s->no_data)
		return;
	char name[64];
	snprintf(name, sizeof name, ".data-00000-of-%05u", s->num_shards ? s->num_shards : 1);
	char *data = tf_cat(prefix, name, "");
	uint8_t *d = malloc(datalen + 1);
	for (size_t i = 0; i < datalen; i++)
		d[i] = tf_pattern(i);
	tf_write_bytes(data, d, datalen);
	free(d);
	free(data);
}

/* ---- the broken bundles ---------------------------------------------------------- */

struct tf_broken {
	const char *name;
	ck_err want;
	const char *msg;   /* a part of the message */
};

static const struct tf_broken tf_broken_cases[] = {
	{"truncated index", CK_EFORMAT, "bad magic"},
	{"index too short for a footer", CK_EFORMAT, "too short"},
	{"bad magic", CK_EFORMAT, "not an sstable (bad magic number)"},
	{"block crc mismatch", CK_EFORMAT, "block checksum mismatch (data block at offset 0)"},
	{"corrupt snappy block", CK_EFORMAT, "corrupt snappy data"},
	{"compression type 2", CK_EUNSUP, "compression type 2"},
	{"keys out of order", CK_EFORMAT, "keys out of order"},
	{"duplicate key", CK_EFORMAT, "keys out of order"},
	{"keys out of order across blocks", CK_EFORMAT, "keys out of order"},
	{"key past its index entry", CK_EFORMAT, "past its index entry"},
	{"restart point not at an entry", CK_EFORMAT, "is not at an entry"},
	{"bad restart count", CK_EFORMAT, "bad restart count"},
	{"entry runs past its block", CK_EFORMAT, "runs past the block"},
	{"block handle past the end", CK_EFORMAT, "runs past the end of the table"},
	{"no header entry", CK_EFORMAT, "no bundle header (the first key is 'a')"},
	{"empty table", CK_EFORMAT, "empty table"},
	{"corrupt header", CK_EFORMAT, "corrupt bundle header"},
	{"big-endian bundle", CK_EUNSUP, "big-endian"},
	{"TF V1 table", CK_EUNSUP, "TF V1 checkpoint"},
	{"needs a newer reader", CK_EUNSUP, "needs a reader of version 2"},
	{"reader version listed as bad", CK_EUNSUP, "disallows readers of version 1"},
	{"absurd shard count", CK_ELIMIT, "over the limit"},
	{"missing data shard", CK_ENOENT, "x.data-00001-of-00002: missing data shard 2 of 2"},
	{"size mismatch", CK_EFORMAT, "invalid size in bundle entry: tensor 'a' has 12 bytes but its dtype float"},
	{"huge varint", CK_EFORMAT, "corrupt bundle entry for tensor 'a'"},
	{"offset past end of data file", CK_EFORMAT, "tensor 'a' at [14, +4) reaches past the end"},
	{"offset + size overflows", CK_EFORMAT, "reaches past the end"},
	{"shard id out of range", CK_EFORMAT, "tensor 'a' is in shard 1 of 1"},
	{"unknown dtype", CK_EFORMAT, "unknown dtype 99"},
	{"dtype 0", CK_EFORMAT, "unknown dtype 0"},
	{"reference dtype", CK_EFORMAT, "unknown dtype 101"},
	{"negative dimension", CK_EFORMAT, "dimension of -1"},
	{"unknown rank", CK_EFORMAT, "unknown rank"},
	{"too many dimensions", CK_ELIMIT, "more than 64 dimensions"},
	{"shape overflows", CK_EFORMAT, "shape overflows"},
	{"sliced entry", CK_EUNSUP, "tensor 'a' is partitioned into slices"},
	{"slice key", CK_EUNSUP, "tensor 'a' is partitioned into slices"},
	{"wire type mismatch", CK_EFORMAT, "corrupt bundle entry for tensor 'a'"},
	{"group wire type", CK_EFORMAT, "corrupt bundle entry for tensor 'a'"},
	{"NUL in a name", CK_EFORMAT, "has a NUL byte"},
	{"negative offset", CK_EFORMAT, "negative shard, offset or size"},
	{"length past the entry", CK_EFORMAT, "corrupt bundle entry for tensor 'a'"},
};
static const size_t tf_nbroken = sizeof tf_broken_cases / sizeof tf_broken_cases[0];

/* Makes broken case i at prefix: a small valid bundle ("a" float[2], "b"
 * int64[]) with one defect. */
static inline void tf_broken_make(int i, const char *prefix)
{
	struct tf_syn s;
	tf_syn_init(&s);
	const char *name = tf_broken_cases[i].name;
	int64_t two[1] = {2}, one[1] = {1};
	size_t datalen = 16;
	int std = 1;   /* add the two standard entries after the switch */
#define IS(x) (strcmp(name, x) == 0)
#define RAW(key, ...) do { static const uint8_t r_[] = {__VA_ARGS__}; tf_syn_raw(&s, key, strlen(key), r_, sizeof r_); } while (0)
#define HEADER(...) do { static const uint8_t h_[] = {__VA_ARGS__}; ck_buf_add(&s.header, h_, sizeof h_); } while (0)
	if (IS("truncated index")) s.truncate = 60;
	else if (IS("index too short for a footer")) s.truncate = 20;
	else if (IS("bad magic")) s.bad_magic = 1;
	else if (IS("block crc mismatch")) s.bad_crc = 1;
	else if (IS("corrupt snappy block")) s.snappy = 1, s.snappy_bad = 1;
	else if (IS("compression type 2")) s.block_type = 2;
	else if (IS("key past its index entry")) s.index_key_short = 1;
	else if (IS("restart point not at an entry")) s.restart_every = 1, s.bad_restart = 1;
	else if (IS("bad restart count")) s.bad_nrestarts = 1;
	else if (IS("entry runs past its block")) s.bad_vlen = 1;
	else if (IS("block handle past the end")) s.bad_handle = 1;
	else if (IS("no header entry")) s.no_header = 1;
	else if (IS("empty table")) s.no_header = 1, std = 0;
	else if (IS("corrupt header")) HEADER(0x08);
	else if (IS("big-endian bundle")) HEADER(0x08, 0x01, 0x10, 0x01, 0x1a, 0x02, 0x08, 0x01);
	else if (IS("TF V1 table")) HEADER(0x0a, 0x02, 0x12, 0x00);
	else if (IS("needs a newer reader")) HEADER(0x08, 0x01, 0x1a, 0x04, 0x08, 0x01, 0x10, 0x02);
	else if (IS("reader version listed as bad")) HEADER(0x08, 0x01, 0x1a, 0x04, 0x08, 0x01, 0x18, 0x01);
	else if (IS("absurd shard count")) HEADER(0x08, 0xa0, 0x9c, 0x01);
	else if (IS("missing data shard")) {
		HEADER(0x08, 0x02);
		s.num_shards = 2;
	}
	if (IS("keys out of order") || IS("keys out of order across blocks")) {
		tf_syn_tensor(&s, "b", 9, 0, NULL, 0, 8, 8);
		tf_syn_tensor(&s, "a", 1, 1, two, 0, 0, 8);
		s.per_block = IS("keys out of order") ? 0 : 1;
		s.index_key = IS("keys out of order") ? "b" : NULL;   /* so only the order is wrong */
		std = 0;
	} else if (IS("duplicate key")) {
		tf_syn_tensor(&s, "a", 1, 1, two, 0, 0, 8);
		tf_syn_tensor(&s, "a", 1, 1, two, 0, 0, 8);
		std = 0;
	} else if (IS("size mismatch")) {
		tf_syn_tensor(&s, "a", 1, 1, two, 0, 0, 12);
		std = 0;
	} else if (IS("huge varint")) {
		RAW("a", 0x08, 0x01, 0x12, 0x00, 0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
		std = 0;
	} else if (IS("offset past end of data file")) {
		tf_syn_tensor(&s, "a", 1, 1, one, 0, 14, 4);
		std = 0;
	} else if (IS("offset + size overflows")) {
		RAW("a", 0x08, 0x01, 0x12, 0x00, 0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
		    0x28, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f);
		std = 0;
	} else if (IS("shard id out of range")) {
		tf_syn_tensor(&s, "a", 1, 1, two, 1, 0, 8);
		std = 0;
	} else if (IS("unknown dtype") || IS("dtype 0") || IS("reference dtype")) {
		tf_syn_tensor(&s, "a", IS("unknown dtype") ? 99 : IS("dtype 0") ? 0 : 101, 1, two, 0, 0, 8);
		std = 0;
	} else if (IS("negative dimension")) {
		RAW("a", 0x08, 0x01, 0x12, 0x0d, 0x12, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		    0x01, 0x28, 0x04);
		std = 0;
	} else if (IS("unknown rank")) {
		RAW("a", 0x08, 0x01, 0x12, 0x02, 0x18, 0x01, 0x28, 0x04);
		std = 0;
	} else if (IS("too many dimensions")) {
		int64_t dims[65];
		for (int d = 0; d < 65; d++)
			dims[d] = 1;
		tf_syn_tensor(&s, "a", 1, 65, dims, 0, 0, 4);
		std = 0;
	} else if (IS("shape overflows")) {
		int64_t big[2] = {1ll << 40, 1ll << 40};
		tf_syn_tensor(&s, "a", 1, 2, big, 0, 0, 4);
		std = 0;
	} else if (IS("sliced entry")) {
		RAW("a", 0x08, 0x01, 0x12, 0x04, 0x12, 0x02, 0x08, 0x02, 0x3a, 0x04, 0x0a, 0x02, 0x08, 0x00);
		std = 0;
	} else if (IS("slice key")) {
		static const uint8_t key[] = {0x00, 'a', 0x00, 0x01, 0x00};
		struct ck_buf e;
		ck_buf_init(&e);
		tf_pb_entry(&e, 1, 1, two, 0, 0, 8);
		tf_syn_raw(&s, key, sizeof key, e.p, e.len);
		ck_buf_release(&e);
		std = 0;
	} else if (IS("wire type mismatch")) {
		RAW("a", 0x0a, 0x01, 0x01, 0x12, 0x00);
		std = 0;
	} else if (IS("group wire type")) {
		RAW("a", 0x08, 0x01, 0x12, 0x00, 0x0b, 0x0c);
		std = 0;
	} else if (IS("NUL in a name")) {
		struct ck_buf e;
		ck_buf_init(&e);
		tf_pb_entry(&e, 1, 1, two, 0, 0, 8);
		tf_syn_raw(&s, "a\0b", 3, e.p, e.len);
		ck_buf_release(&e);
		std = 0;
	} else if (IS("negative offset")) {
		RAW("a", 0x08, 0x01, 0x12, 0x00, 0x20, 0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
		    0x28, 0x04);
		std = 0;
	} else if (IS("length past the entry")) {
		RAW("a", 0x08, 0x01, 0x12, 0x7f, 0x00);
		std = 0;
	}
	if (std) {
		if (IS("key past its index entry")) {
			tf_syn_tensor(&s, "a", 1, 1, two, 0, 0, 8);
			tf_syn_tensor(&s, "bb", 9, 0, NULL, 0, 8, 8);
		} else {
			tf_syn_tensor(&s, "a", 1, 1, two, 0, 0, 8);
			tf_syn_tensor(&s, "b", 9, 0, NULL, 0, 8, 8);
		}
	}
#undef IS
#undef RAW
#undef HEADER
	tf_syn_write(&s, prefix, datalen);
	tf_syn_release(&s);
}

#endif
