/*
 * tf_write.c — the TensorFlow V2 checkpoint writer: a value tree becomes a
 * folder holding one tensor bundle, as tf.train.Saver / tf.train.Checkpoint
 * would leave it, so tf.train.load_checkpoint(FOLDER) and
 * tf.train.latest_checkpoint(FOLDER) find it.
 *
 * Output (req->path is a folder to create):
 *  1. NAME.data-00000-of-00001: every tensor's bytes back to back (alignment
 *     1, like BundleWriter's default), in sorted key order;
 *  2. NAME.index: a table (tf_table.c) with "" -> BundleHeaderProto
 *     {num_shards 1, LITTLE, version {producer 1}} then key -> BundleEntryProto
 *     {dtype, shape, offset, size, masked crc32c of the bytes}; uncompressed
 *     256 KiB blocks, restart interval 16;
 *  3. checkpoint: `model_checkpoint_path: "NAME"` and
 *     `all_model_checkpoint_paths: "NAME"` (relative: TF joins them to the folder).
 * NAME is the source bundle's prefix base name when the source is TF
 * (model.ckpt-1000, variables, export), else "model.ckpt".
 *
 * Keys are the tree's keys joined with '/'.  A placeholder for a TF entry that
 * is not a plain tensor (the object graph, strings) is written back verbatim.
 * Bytes coming from a TF source are checked against the source entry's CRC as
 * they are copied (the reader does not read them at open).  A non-tensor value
 * (an epoch int from a torch training file) cannot be stored: CK_EUNSUP naming it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cursor.h"
#include "tf.h"
#include "tree.h"

#define TFW_CHUNK (1u << 20)

struct tfw_item {
	char *key;                        /* owned */
	const struct ck_tensor *t;        /* borrowed; NULL for an opaque entry */
	const struct ck_tf_opaque *o;     /* borrowed from the source's priv */
};

struct tfw {
	const struct ck_write_req *req;
	const struct ck_tf_priv *priv;    /* the source's, when it is TF; else NULL */
	struct tfw_item *items;
	size_t n, cap;
	struct ck_error *err;
	const char *what;
	uint8_t *buf;                     /* TFW_CHUNK bytes */
};

static const struct ck_tf_opaque *tfw_opaque(const struct tfw *w, const struct ck_value *leaf)
{
	for (size_t i = 0; w->priv && i < w->priv->nopaque; i++)
		if (w->priv->opaque[i].leaf == leaf)
			return &w->priv->opaque[i];
	return NULL;
}

static int tfw_add(void *ctx, const char *key, const struct ck_value *leaf)
{
	struct tfw *w = ctx;
	const struct ck_tf_opaque *o = leaf->kind == CK_V_STR ? tfw_opaque(w, leaf) : NULL;
	if (leaf->kind != CK_V_TENSOR && !o) {
		ck_error_set(w->err, CK_EUNSUP, "%s: a tf checkpoint cannot store non-tensor value '%s'", w->what, key);
		return 1;
	}
	if (!*key) {
		ck_error_set(w->err, CK_EUNSUP, "%s: a tf checkpoint cannot store a tensor with an empty name", w->what);
		return 1;
	}
	if (leaf->kind == CK_V_TENSOR) {
		const struct ck_tensor *t = leaf->u.t;
		if (!ck_tf_dtype_to_tf(t->dtype)) {
			ck_error_set(w->err, CK_EUNSUP, "%s: a tf checkpoint cannot store dtype %s of tensor '%s'",
				     w->what, ck_dtype_name(t->dtype), key);
			return 1;
		}
		if (t->nbytes && t->storage < 0) {
			ck_error_set(w->err, CK_EUNSUP, "%s: tensor '%s' has no data to write", w->what, key);
			return 1;
		}
	}
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct tfw_item *p = realloc(w->items, cap * sizeof *p);
		if (!p)
			goto oom;
		w->items = p;
		w->cap = cap;
	}
	if (!(w->items[w->n].key = strdup(key)))
		goto oom;
	w->items[w->n].t = leaf->kind == CK_V_TENSOR ? leaf->u.t : NULL;
	w->items[w->n].o = o;
	w->n++;
	return 0;
oom:
	ck_error_set(w->err, CK_ENOMEM, "%s: out of memory", w->what);
	return 1;
}

static int tfw_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tfw_item *)a)->key, ((const struct tfw_item *)b)->key);
}

static ck_err tfw_pwrite(int fd, const void *buf, size_t len, uint64_t off, const char *name, struct ck_error *err)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t r = pwrite(fd, p, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return ck_error_errno(err, errno == ENOSPC ? CK_ENOSPC : CK_EIO, r < 0 ? errno : EIO, "%s", name);
		p += r, len -= (size_t)r, off += (uint64_t)r;
	}
	return CK_OK;
}

/* The CRC of a DT_STRING entry, fed its stored bytes in order: each varint64
 * length is summed as a u32 (a u64 past 4 GiB), then the rest (the length
 * checksum and the string bytes) as stored. */
struct tfw_strcrc {
	uint64_t left;    /* lengths still to read */
	uint64_t v;
	int shift;
	int bad;
	uint32_t crc;
};

static void tfw_strcrc_feed(struct tfw_strcrc *s, const uint8_t *p, size_t n)
{
	size_t i = 0;
	while (s->left && i < n && !s->bad) {
		uint8_t b = p[i++];
		s->v |= (uint64_t)(b & 0x7f) << s->shift;
		s->shift += 7;
		if (b & 0x80) {
			s->bad |= s->shift >= 64;
			continue;
		}
		uint8_t le[8];
		ck_put_u64le(le, s->v);
		s->crc = ck_crc32c_extend(s->crc, le, s->v > UINT32_MAX ? 8 : 4);
		s->v = 0, s->shift = 0, s->left--;
	}
	s->crc = ck_crc32c_extend(s->crc, p + i, n - i);
}

/* Copies one item's bytes to out at off; *crc = their masked crc32c. */
static ck_err tfw_copy(struct tfw *w, const struct tfw_item *it, int out, const char *outname, uint64_t off,
		       uint32_t *crc, struct ck_error *err)
{
	const struct ck_ckpt *src = w->req->src;
	uint64_t total = it->t ? it->t->nbytes : it->o->size;
	uint32_t c = 0;
	int is_str = it->o && it->o->dtype == 7;   /* DT_STRING */
	struct tfw_strcrc sc = {.left = is_str ? it->o->numel : 0};
	ck_err rc = CK_OK;
	for (uint64_t done = 0; done < total && rc == CK_OK;) {
		size_t got = 0, want = total - done > TFW_CHUNK ? TFW_CHUNK : (size_t)(total - done);
		if (it->t) {
			rc = ck_tensor_read(src, it->t, w->buf, want, done, &got, err);
			if (rc == CK_OK && got == 0)
				rc = ck_error_set(err, CK_EFORMAT, "%s: tensor data of '%s' ends early", src->path, it->key);
		} else {
			rc = ck_file_pread(&src->files[it->o->file], w->buf, want, it->o->offset + done, err);
			got = want;
		}
		if (rc == CK_OK) {
			c = ck_crc32c_extend(c, w->buf, got);
			if (is_str)
				tfw_strcrc_feed(&sc, w->buf, got);
			rc = tfw_pwrite(out, w->buf, got, off + done, outname, err);
		}
		done += got;
	}
	if (rc)
		return rc;
	*crc = ck_crc32c_mask(c);
	/* a TF source stores each tensor's CRC: check the bytes as TF would */
	uint32_t want;
	int known = 0;
	if (is_str) {
		*crc = it->o->crc;   /* the entry is written back as is */
		want = ck_crc32c_mask(sc.crc), known = !sc.bad && !sc.left;
		if (!known)
			return ck_error_set(err, CK_EFORMAT, "%s: corrupt string tensor '%s' in the source",
					    src->path, it->key);
	} else if (it->o && it->o->dtype == 21) {
		known = 0;   /* DT_VARIANT: a per-element running CRC, not checked */
	} else if (it->o) {
		want = it->o->crc, known = 1;
	} else if (w->priv && it->t->storage >= 0 && (size_t)it->t->storage < src->nstorages &&
		   it->t->offset == 0 && ck_tensor_is_contiguous(it->t) &&
		   src->storages[it->t->storage].nbytes == it->t->nbytes) {
		want = w->priv->crc[it->t->storage], known = 1;
	}
	if (known && want != (is_str ? it->o->crc : *crc))
		return ck_error_set(err, CK_EFORMAT, "%s: checksum does not match for tensor '%s' in the source",
				    src->path, it->key);
	return CK_OK;
}

/* The BundleEntryProto of one item, now at offset off of shard 0. */
static void tfw_entry(struct ck_buf *e, const struct tfw_item *it, uint64_t off, uint32_t crc)
{
	if (it->o) {   /* verbatim, but for where the bytes now are */
		struct ck_cursor c;
		struct ck_pb_field f;
		ck_cursor_init(&c, it->o->entry, it->o->entry_len);
		while (ck_pb_next(&c, &f))
			if (f.num != 3 && f.num != 4)
				ck_buf_add(e, it->o->entry + f.start, c.pos - f.start);
		if (off) {
			ck_pb_tag(e, 4, 0);
			ck_pb_varint(e, off);
		}
		return;
	}
	const struct ck_tensor *t = it->t;
	ck_pb_tag(e, 1, 0);
	ck_pb_varint(e, ck_tf_dtype_to_tf(t->dtype));
	struct ck_buf shape, dim;
	ck_buf_init(&shape);
	ck_buf_init(&dim);
	for (int i = 0; i < t->ndim; i++) {
		dim.len = 0;
		if (t->shape[i]) {   /* proto3: a zero size is omitted */
			ck_pb_tag(&dim, 1, 0);
			ck_pb_varint(&dim, (uint64_t)t->shape[i]);
		}
		ck_pb_tag(&shape, 2, 2);
		ck_pb_varint(&shape, dim.len);
		ck_buf_add(&shape, dim.p, dim.len);
	}
	ck_pb_tag(e, 2, 2);   /* always present, even empty for a scalar */
	ck_pb_varint(e, shape.len);
	ck_buf_add(e, shape.p, shape.len);
	e->oom |= shape.oom | dim.oom;
	ck_buf_release(&shape);
	ck_buf_release(&dim);
	if (off) {
		ck_pb_tag(e, 4, 0);
		ck_pb_varint(e, off);
	}
	if (t->nbytes) {
		ck_pb_tag(e, 5, 0);
		ck_pb_varint(e, t->nbytes);
	}
	if (crc) {
		ck_pb_tag(e, 6, 5);
		ck_buf_u32le(e, crc);
	}
}

static ck_err tfw_file(const char *path, const void *p, size_t len, struct ck_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return ck_error_errno(err, errno == EEXIST ? CK_EEXIST : errno == ENOSPC ? CK_ENOSPC : CK_EIO, errno,
				      "%s", path);
	ck_err rc = tfw_pwrite(fd, p, len, 0, path, err);
	if (close(fd) != 0 && rc == CK_OK)
		rc = ck_error_errno(err, CK_EIO, errno, "%s", path);
	return rc;
}

/* checkpoint text: the name as a C-escaped text-format string. */
static void tfw_state_line(struct ck_buf *b, const char *field, const char *name)
{
	ck_buf_printf(b, "%s: \"", field);
	for (const uint8_t *p = (const uint8_t *)name; *p; p++) {
		if (*p == '"' || *p == '\\')
			ck_buf_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			ck_buf_printf(b, "\\%03o", *p);
		else
			ck_buf_addc(b, *p);
	}
	ck_buf_adds(b, "\"\n");
}

static ck_err tfw_bundle(struct tfw *w, const char *prefix, struct ck_error *err)
{
	struct ck_tf_builder tb;
	struct ck_buf e;
	char *data = malloc(strlen(prefix) + 32), *index = malloc(strlen(prefix) + 8);
	int fd = -1;
	ck_err rc = CK_OK;
	ck_tf_builder_init(&tb);
	ck_buf_init(&e);
	if (!data || !index) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", w->what);
		goto out;
	}
	sprintf(data, "%s.data-00000-of-00001", prefix);
	sprintf(index, "%s.index", prefix);
	fd = open(data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0) {
		rc = ck_error_errno(err, errno == EEXIST ? CK_EEXIST : errno == ENOSPC ? CK_ENOSPC : CK_EIO, errno,
				    "%s", data);
		goto out;
	}
	static const uint8_t header[] = {0x08, 0x01, 0x1a, 0x02, 0x08, 0x01};  /* 1 shard, LITTLE, producer 1 */
	ck_tf_builder_add(&tb, (const uint8_t *)"", 0, header, sizeof header);
	uint64_t off = 0;
	for (size_t i = 0; i < w->n && rc == CK_OK; i++) {
		const struct tfw_item *it = &w->items[i];
		uint32_t crc = 0;
		uint64_t size = it->t ? it->t->nbytes : it->o->size;
		if ((rc = tfw_copy(w, it, fd, data, off, &crc, err)))
			break;
		e.len = 0;
		tfw_entry(&e, it, off, crc);
		ck_tf_builder_add(&tb, (const uint8_t *)it->key, strlen(it->key), e.p, e.len);
		if (!ck_add_u64(off, size, &off))
			rc = ck_error_set(err, CK_ELIMIT, "%s: total size overflows", w->what);
	}
	if (rc)
		goto out;
	if (close(fd) != 0) {
		fd = -1;
		rc = ck_error_errno(err, CK_EIO, errno, "%s", data);
		goto out;
	}
	fd = -1;
	if (!ck_tf_builder_finish(&tb) || e.oom) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", w->what);
		goto out;
	}
	rc = tfw_file(index, tb.out.p, tb.out.len, err);
out:
	if (fd >= 0)
		close(fd);
	free(data);
	free(index);
	ck_buf_release(&e);
	ck_tf_builder_release(&tb);
	return rc;
}

ck_err ck_tf_write(const struct ck_write_req *req, struct ck_error *err)
{
	const struct ck_ckpt *src = req->src;
	struct tfw w = {.req = req, .err = err, .what = req->final_path ? req->final_path : req->path};
	w.priv = src && src->fmt == &ck_format_tf ? src->priv : NULL;
	const char *base = "model.ckpt";
	if (w.priv && w.priv->prefix) {
		const char *s = strrchr(w.priv->prefix, '/');
		base = s ? s + 1 : w.priv->prefix;
	}
	char *prefix = NULL;
	struct ck_buf state;
	ck_buf_init(&state);
	int made = 0;
	ck_err rc = CK_OK;
	if (ck_value_walk(req->root, '/', tfw_add, &w)) {
		rc = err->code;
		goto out;
	}
	if (w.n)
		qsort(w.items, w.n, sizeof *w.items, tfw_cmp);
	for (size_t i = 1; i < w.n; i++)
		if (strcmp(w.items[i - 1].key, w.items[i].key) == 0) {
			rc = ck_error_set(err, CK_EUNSUP, "%s: two tensors would both be named '%s'", w.what, w.items[i].key);
			goto out;
		}
	if (!(w.buf = malloc(TFW_CHUNK)) || !(prefix = malloc(strlen(req->path) + strlen(base) + 2))) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", w.what);
		goto out;
	}
	sprintf(prefix, "%s/%s", req->path, base);
	if (mkdir(req->path, 0777) != 0) {
		rc = ck_error_errno(err, errno == EEXIST ? CK_EEXIST : errno == ENOSPC ? CK_ENOSPC : CK_EIO, errno,
				    "%s", req->path);
		goto out;
	}
	made = 1;
	if ((rc = tfw_bundle(&w, prefix, err)))
		goto out;
	tfw_state_line(&state, "model_checkpoint_path", base);
	tfw_state_line(&state, "all_model_checkpoint_paths", base);
	if (state.oom) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", w.what);
		goto out;
	}
	char *cp = malloc(strlen(req->path) + 16);
	if (!cp) {
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", w.what);
		goto out;
	}
	sprintf(cp, "%s/checkpoint", req->path);
	rc = tfw_file(cp, state.p, state.len, err);
	free(cp);
out:
	if (rc && made) {   /* leave nothing behind */
		char *p = prefix ? malloc(strlen(prefix) + 32) : NULL;
		if (p) {
			sprintf(p, "%s.data-00000-of-00001", prefix);
			unlink(p);
			sprintf(p, "%s.index", prefix);
			unlink(p);
			sprintf(p, "%s/checkpoint", req->path);
			unlink(p);
			free(p);
		}
		rmdir(req->path);
	}
	for (size_t i = 0; i < w.n; i++)
		free(w.items[i].key);
	free(w.items);
	free(w.buf);
	free(prefix);
	ck_buf_release(&state);
	return rc;
}
