/*
 * mount_ops.c — the FUSE low-level ops: thin handlers that take the tree lock,
 * find the node, make one call, map the error and reply (design.md §3–§4).
 *
 * Tensor reads need no lock: an open tensor file holds a reference to its
 * value, and contiguous tensors are answered zero-copy with a file-descriptor
 * buffer that libfuse splices from the source file.  Every text (virtual files,
 * plain leaves) is snapshotted at open so a reader sees one consistent text.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "mount_priv.h"

#define CK_BLKSIZE 131072   /* invites cat/cp to read in big chunks */
#define CK_XATTR_MAX 65536  /* the kernel's own limit on an xattr value */

enum ck_fh_kind { CK_FH_TENSOR, CK_FH_TEXT };

/* An open file: a tensor (its value, referenced) or a text snapshot. */
struct ck_fh {
	enum ck_fh_kind kind;
	struct ck_value *value;   /* TENSOR: owned reference */
	struct ck_blob *text;     /* TEXT: owned reference */
};

/* An open folder: a snapshot of its entries, so readdir offsets stay valid. */
struct ck_dirent {
	char *name;
	struct stat st;
	double attr_timeout;
};
struct ck_dirfh {
	struct ck_dirent *e;
	size_t n;
};

static struct ck_mount *mnt(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

int ck_mount_resolve(struct ck_mount *m, fuse_ino_t ino, struct ck_target *t)
{
	t->node = NULL;
	t->vf = CK_VF_NONE;
	if (ino & CK_VSHAPE_BIT) {
		t->node = ck_mount_node(m, ino & ~CK_VSHAPE_BIT);
		if (!t->node || t->node->kind != CK_NODE_DIR)
			return ENOENT;
		t->vf = CK_VF_DOTSHAPE;
		return 0;
	}
	if (ino >= CK_VINO_BASE) {
		if (ino - CK_VINO_BASE >= CK_VF_ROOT_COUNT)
			return ENOENT;
		t->vf = (enum ck_vfile)(ino - CK_VINO_BASE);
		t->node = m->tree->root;
		return 0;
	}
	t->node = ck_mount_node(m, ino);
	return t->node ? 0 : ENOENT;
}

static fuse_ino_t vfile_ino(const struct ck_mount *m, enum ck_vfile vf, const struct ck_node *dir)
{
	if (vf == CK_VF_DOTSHAPE)
		return CK_VSHAPE_BIT | ck_mount_fino(m, dir);
	return CK_VINO_BASE + (fuse_ino_t)vf;
}

static void stat_common(const struct ck_mount *m, struct stat *st)
{
	st->st_uid = m->uid;
	st->st_gid = m->gid;
	st->st_atim = st->st_mtim = st->st_ctim = m->mtime;
	st->st_blksize = CK_BLKSIZE;
}

static void stat_file(const struct ck_mount *m, struct stat *st, uint64_t size)
{
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = (off_t)size;
	st->st_blocks = (blkcnt_t)((size + 511) / 512);
	stat_common(m, st);
}

/* Fills st for t; *timeout is how long the kernel may cache it.  Lock held. */
static int ck_mount_stat(struct ck_mount *m, const struct ck_target *t, fuse_ino_t ino,
			 struct stat *st, double *timeout)
{
	memset(st, 0, sizeof *st);
	st->st_ino = ino;
	*timeout = CK_TTL_STABLE;
	if (t->vf != CK_VF_NONE) {
		struct ck_blob *b = ck_mount_text(m, t->vf, t->node);
		if (!b)
			return ENOMEM;
		stat_file(m, st, b->len);
		ck_blob_unref(b);
		if (ck_vfile_dynamic(m, t->vf))
			*timeout = 0;
		return 0;
	}
	const struct ck_node *n = t->node;
	if (n->kind == CK_NODE_DIR) {
		st->st_mode = S_IFDIR | (m->read_only ? 0555 : 0755);
		st->st_nlink = 2;
		for (size_t i = 0; i < n->nkids; i++)
			if (n->kids[i]->kind == CK_NODE_DIR)
				st->st_nlink++;
		stat_common(m, st);
		return 0;
	}
	if (n->value && n->value->kind == CK_V_TENSOR) {
		stat_file(m, st, n->value->u.t->nbytes);
		return 0;
	}
	struct ck_blob *b = ck_mount_leaf_text(n->value);
	if (!b)
		return ENOMEM;
	stat_file(m, st, b->len);
	ck_blob_unref(b);
	return 0;
}

int ck_mount_entry(struct ck_mount *m, const struct ck_target *t, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof *e);
	e->ino = t->vf != CK_VF_NONE ? vfile_ino(m, t->vf, t->node) : ck_mount_fino(m, t->node);
	double timeout;
	int rc = ck_mount_stat(m, t, e->ino, &e->attr, &timeout);
	e->attr_timeout = timeout;
	e->entry_timeout = CK_TTL_STABLE;  /* names change only through the kernel */
	return rc;
}

/* Name lookup in a folder: a real key first, then the virtual files it may hide. */
static int lookup_target(struct ck_mount *m, const struct ck_node *dir, const char *name,
			 struct ck_target *t)
{
	t->node = ck_tree_child(m->tree, dir, name);
	t->vf = CK_VF_NONE;
	if (t->node)
		return 0;
	if (dir == m->tree->root && (t->vf = ck_vfile_by_name(name)) != CK_VF_NONE) {
		t->node = m->tree->root;
		return 0;
	}
	if (strcmp(name, ".shape") == 0) {
		t->vf = CK_VF_DOTSHAPE;
		t->node = (struct ck_node *)dir;
		return 0;
	}
	return ENOENT;
}

int ck_mount_is_virtual(const struct ck_mount *m, const struct ck_node *dir, const char *name)
{
	if (ck_tree_child(m->tree, dir, name))
		return 0;
	return (dir == m->tree->root && ck_vfile_by_name(name) != CK_VF_NONE) ||
	       strcmp(name, ".shape") == 0;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	/* big sequential reads: let the kernel read ahead as much as it allows */
	conn->max_readahead = UINT_MAX;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct ck_mount *m = mnt(req);
	struct fuse_entry_param e;
	struct ck_target dt, t;
	pthread_rwlock_rdlock(&m->lock);
	int rc = ck_mount_resolve(m, parent, &dt);
	if (!rc && (dt.vf != CK_VF_NONE || dt.node->kind != CK_NODE_DIR))
		rc = ENOTDIR;
	if (!rc)
		rc = lookup_target(m, dt.node, name, &t);
	if (!rc)
		rc = ck_mount_entry(m, &t, &e);
	pthread_rwlock_unlock(&m->lock);
	if (rc == ENOENT) {
		/* negative entry: creating that name goes through us, so caching is safe */
		memset(&e, 0, sizeof e);
		e.entry_timeout = CK_TTL_STABLE;
		fuse_reply_entry(req, &e);
	} else if (rc) {
		fuse_reply_err(req, rc);
	} else {
		fuse_reply_entry(req, &e);
	}
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fuse_reply_none(req);  /* nodes outlive lookups: nothing to release */
}

int ck_mount_stat_ino(struct ck_mount *m, fuse_ino_t ino, struct stat *st, double *timeout)
{
	struct ck_target t;
	*timeout = 0;
	pthread_rwlock_rdlock(&m->lock);
	int rc = ck_mount_resolve(m, ino, &t);
	if (!rc)
		rc = ck_mount_stat(m, &t, ino, st, timeout);
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	double timeout;
	int rc = ck_mount_stat_ino(mnt(req), ino, &st, &timeout);
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ck_mount *m = mnt(req);
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, m->read_only ? EROFS : EPERM);
		return;
	}
	struct ck_fh *fh = calloc(1, sizeof *fh);
	if (!fh) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct ck_target t;
	/* write lock: value refcounts are plain integers */
	pthread_rwlock_wrlock(&m->lock);
	int rc = ck_mount_resolve(m, ino, &t);
	if (!rc && t.vf != CK_VF_NONE) {
		fh->kind = CK_FH_TEXT;
		fh->text = ck_mount_text(m, t.vf, t.node);
		if (!fh->text)
			rc = ENOMEM;
		else if (ck_vfile_dynamic(m, t.vf))
			fi->direct_io = 1;  /* recomputed after every change: never serve old pages */
		else
			fi->keep_cache = 1;
	} else if (!rc && t.node->kind == CK_NODE_DIR) {
		rc = EISDIR;
	} else if (!rc && t.node->value && t.node->value->kind == CK_V_TENSOR) {
		fh->kind = CK_FH_TENSOR;
		fh->value = ck_value_ref(t.node->value);
		fi->keep_cache = 1;  /* tensor bytes never change while mounted */
	} else if (!rc) {
		fh->kind = CK_FH_TEXT;
		fh->text = ck_mount_leaf_text(t.node->value);
		if (!fh->text)
			rc = ENOMEM;
		fi->keep_cache = 1;
	}
	pthread_rwlock_unlock(&m->lock);
	if (rc) {
		ck_blob_unref(fh->text);
		free(fh);
		fuse_reply_err(req, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)fh;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		/* interrupted: the kernel will not send release */
		fi->fh = 0;
		pthread_rwlock_wrlock(&m->lock);
		ck_value_unref(fh->value);
		pthread_rwlock_unlock(&m->lock);
		ck_blob_unref(fh->text);
		free(fh);
	}
}

static void reply_tensor(fuse_req_t req, struct ck_mount *m, const struct ck_tensor *t,
			 size_t size, off_t off)
{
	if (off < 0 || (uint64_t)off >= t->nbytes) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > t->nbytes - (uint64_t)off)
		size = (size_t)(t->nbytes - (uint64_t)off);
	int file;
	uint64_t base;
	if (ck_tensor_span(m->ck, t, &file, &base)) {
		/* zero copy: libfuse splices straight from the source file */
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK | FUSE_BUF_FD_RETRY;
		bv.buf[0].fd = m->ck->files[file].fd;
		bv.buf[0].pos = (off_t)(base + (uint64_t)off);
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	struct ck_error err;
	size_t got = 0;
	ck_err rc = ck_tensor_read(m->ck, t, buf, size, (uint64_t)off, &got, &err);
	if (rc)
		fuse_reply_err(req, ck_err_errno(rc));
	else
		fuse_reply_buf(req, buf, got);
	free(buf);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct ck_fh *fh = (struct ck_fh *)(uintptr_t)fi->fh;
	if (!fh) {
		fuse_reply_err(req, EBADF);
		return;
	}
	if (fh->kind == CK_FH_TENSOR) {
		reply_tensor(req, mnt(req), fh->value->u.t, size, off);
		return;
	}
	/* our own reference: the kernel may send RELEASE as soon as it has this
	 * reply, and another thread may free the handle while writev returns */
	struct ck_blob *b = ck_blob_ref(fh->text);
	if (off < 0 || (uint64_t)off >= b->len)
		size = 0;
	else if (size > b->len - (size_t)off)
		size = b->len - (size_t)off;
	fuse_reply_buf(req, size ? b->data + off : NULL, size);
	ck_blob_unref(b);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ck_mount *m = mnt(req);
	struct ck_fh *fh = (struct ck_fh *)(uintptr_t)fi->fh;
	if (fh) {
		if (fh->value) {
			pthread_rwlock_wrlock(&m->lock);
			ck_value_unref(fh->value);
			pthread_rwlock_unlock(&m->lock);
		}
		ck_blob_unref(fh->text);
		free(fh);
	}
	fuse_reply_err(req, 0);
}

static void dirfh_free(struct ck_dirfh *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		free(d->e[i].name);
	free(d->e);
	free(d);
}

static int dirfh_add(struct ck_dirfh *d, size_t cap, const char *name, const struct stat *st,
		     double timeout)
{
	if (d->n >= cap)
		return ENOMEM;
	char *s = strdup(name);
	if (!s)
		return ENOMEM;
	d->e[d->n++] = (struct ck_dirent){.name = s, .st = *st, .attr_timeout = timeout};
	return 0;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ck_mount *m = mnt(req);
	struct ck_dirfh *d = calloc(1, sizeof *d);
	struct ck_target t;
	if (!d) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_rwlock_rdlock(&m->lock);
	int rc = ck_mount_resolve(m, ino, &t);
	if (!rc && (t.vf != CK_VF_NONE || t.node->kind != CK_NODE_DIR))
		rc = ENOTDIR;
	const struct ck_node *n = t.node;
	size_t cap = rc ? 0 : n->nkids + 2 + CK_VF_ROOT_COUNT;
	if (!rc && !(d->e = calloc(cap, sizeof *d->e)))
		rc = ENOMEM;
	if (!rc) {
		struct stat st = {0};
		st.st_mode = S_IFDIR;
		st.st_ino = ino;
		rc = dirfh_add(d, cap, ".", &st, 0);
		st.st_ino = n->parent ? ck_mount_fino(m, n->parent) : FUSE_ROOT_ID;
		if (!rc)
			rc = dirfh_add(d, cap, "..", &st, 0);
	}
	for (size_t i = 0; !rc && i < n->nkids; i++) {
		struct ck_target kt = {.node = n->kids[i], .vf = CK_VF_NONE};
		struct stat st;
		double timeout;
		fuse_ino_t kino = ck_mount_fino(m, kt.node);
		rc = ck_mount_stat(m, &kt, kino, &st, &timeout);
		if (!rc)
			rc = dirfh_add(d, cap, kt.node->name, &st, timeout);
	}
	if (!rc && n == m->tree->root) {
		for (int k = 0; !rc && k < CK_VF_ROOT_COUNT; k++) {
			if (ck_tree_child(m->tree, n, ck_vfile_name(k)))
				continue;  /* a real key of that name hides it */
			struct ck_target kt = {.node = m->tree->root, .vf = (enum ck_vfile)k};
			struct stat st;
			double timeout;
			rc = ck_mount_stat(m, &kt, vfile_ino(m, kt.vf, NULL), &st, &timeout);
			if (!rc)
				rc = dirfh_add(d, cap, ck_vfile_name(k), &st, timeout);
		}
	}
	pthread_rwlock_unlock(&m->lock);
	if (rc) {
		dirfh_free(d);
		fuse_reply_err(req, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	if (fuse_reply_open(req, fi) == -ENOENT)
		dirfh_free(d);
}

static void do_readdir(fuse_req_t req, size_t size, off_t off, struct fuse_file_info *fi, int plus)
{
	struct ck_dirfh *d = (struct ck_dirfh *)(uintptr_t)fi->fh;
	if (!d) {
		fuse_reply_err(req, EBADF);
		return;
	}
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t used = 0;
	for (size_t i = off < 0 ? 0 : (size_t)off; i < d->n; i++) {
		const struct ck_dirent *e = &d->e[i];
		size_t need;
		if (plus) {
			struct fuse_entry_param ep = {
				.ino = e->st.st_ino, .attr = e->st, .attr_timeout = e->attr_timeout,
				.entry_timeout = i < 2 ? 0 : CK_TTL_STABLE,
			};
			need = fuse_add_direntry_plus(req, buf + used, size - used, e->name, &ep, (off_t)(i + 1));
		} else {
			need = fuse_add_direntry(req, buf + used, size - used, e->name, &e->st, (off_t)(i + 1));
		}
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, size, off, fi, 1);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	dirfh_free((struct ck_dirfh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct ck_mount *m = mnt(req);
	struct statvfs sv = {0};
	uint64_t bytes = 0;
	for (size_t i = 0; i < m->ck->nfiles; i++)
		bytes += m->ck->files[i].size;
	sv.f_bsize = sv.f_frsize = 4096;
	sv.f_blocks = (fsblkcnt_t)((bytes + 4095) / 4096);
	pthread_rwlock_rdlock(&m->lock);
	sv.f_files = (fsfilcnt_t)m->tree->next_ino;
	pthread_rwlock_unlock(&m->lock);
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

/* Replies with value (size 0: its length; too small: ERANGE). */
static void reply_xattr_value(fuse_req_t req, const char *value, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
}

/* The value of one of our xattrs into buf (may be empty: the key ""); -1 if none. */
static long xattr_value(struct ck_mount *m, const struct ck_target *t, const char *name,
			char *buf, size_t cap)
{
	const struct ck_node *n = t->node;
	if (t->vf != CK_VF_NONE)
		return -1;
	if (n == m->tree->root) {
		if (strcmp(name, CK_XATTR_PID) == 0)
			return snprintf(buf, cap, "%ld", (long)m->pid);
		if (strcmp(name, CK_XATTR_JOURNAL) == 0 && m->journal_path)
			return snprintf(buf, cap, "%s", m->journal_path);
		if (strcmp(name, CK_XATTR_OUTPUT) == 0 && m->out_path)
			return snprintf(buf, cap, "%s", m->out_path);
		return -1;
	}
	if (n->kind != CK_NODE_LEAF)
		return -1;
	if (strcmp(name, "user.ckpt.key") == 0) {
		if (n->orig_key)
			return snprintf(buf, cap, "%s", n->orig_key);
		char *k = ck_node_key(m->tree, n, NULL);
		long len = k ? snprintf(buf, cap, "%s", k) : -1;
		free(k);
		return len;
	}
	if (!n->value || n->value->kind != CK_V_TENSOR)
		return -1;
	const struct ck_tensor *ts = n->value->u.t;
	if (strcmp(name, "user.ckpt.dtype") == 0)
		return snprintf(buf, cap, "%s", ck_dtype_name(ts->dtype));
	if (strcmp(name, "user.ckpt.shape") == 0) {
		ck_shape_format(ts, buf, cap);
		return (long)strlen(buf);
	}
	return -1;
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct ck_mount *m = mnt(req);
	struct ck_target t;
	char *buf = malloc(CK_XATTR_MAX);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	long len = -1;
	pthread_rwlock_rdlock(&m->lock);
	int rc = ck_mount_resolve(m, ino, &t);
	if (!rc)
		len = xattr_value(m, &t, name, buf, CK_XATTR_MAX);
	pthread_rwlock_unlock(&m->lock);
	if (rc)
		fuse_reply_err(req, rc);
	else if (len < 0)
		fuse_reply_err(req, ENODATA);
	else if (len >= CK_XATTR_MAX)
		fuse_reply_err(req, E2BIG);
	else
		reply_xattr_value(req, buf, (size_t)len, size);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	static const char tensor_names[] = "user.ckpt.dtype\0user.ckpt.shape\0user.ckpt.key";
	static const char leaf_names[] = "user.ckpt.key";
	struct ck_mount *m = mnt(req);
	struct ck_target t;
	const char *names = "";
	size_t len = 0;
	pthread_rwlock_rdlock(&m->lock);
	int rc = ck_mount_resolve(m, ino, &t);
	if (!rc && t.vf == CK_VF_NONE && t.node->kind == CK_NODE_LEAF) {
		if (t.node->value && t.node->value->kind == CK_V_TENSOR)
			names = tensor_names, len = sizeof tensor_names;
		else
			names = leaf_names, len = sizeof leaf_names;
	}
	pthread_rwlock_unlock(&m->lock);
	if (rc)
		fuse_reply_err(req, rc);
	else
		reply_xattr_value(req, names, len, size);
}

const struct fuse_lowlevel_ops ck_mount_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.getattr = op_getattr,
	.setattr = ck_op_setattr,
	.mknod = ck_op_mknod,
	.mkdir = ck_op_mkdir,
	.unlink = ck_op_unlink,
	.rmdir = ck_op_rmdir,
	.symlink = ck_op_symlink,
	.rename = ck_op_rename,
	.link = ck_op_link,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.statfs = op_statfs,
	.setxattr = ck_op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = ck_op_removexattr,
	.create = ck_op_create,
	.write_buf = ck_op_write_buf,
	.fallocate = ck_op_fallocate,
};
