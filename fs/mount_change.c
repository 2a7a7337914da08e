/*
 * mount_change.c — the ops that change the tree (rename, unlink, rmdir, mkdir)
 * and those that refuse to (write, create, chmod: EPERM), plus the journal.
 *
 * A change is applied to the tree, then appended to the journal and fsynced,
 * and only then acknowledged.  If the journal write fails the change is not
 * durable, so the tree is rebuilt as it was (source + every earlier change,
 * which the tree itself records in journal form) and the error returned.
 * The kernel learns every change from our replies, and the tree never
 * restructures beyond the change itself, so no cache needs invalidating; the
 * virtual files whose text follows the tree use direct_io and no attr cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "mount_priv.h"


int ck_mount_daemonized;

void ck_mount_log(int prio, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (ck_mount_daemonized) {
		vsyslog(prio, fmt, ap);
	} else {
		fputs("ckptfs: ", stderr);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
	}
	va_end(ap);
}

void ck_mount_fuse_log(enum fuse_log_level level, const char *fmt, va_list ap)
{
	/* libfuse builds one line from several calls: collect up to the newline */
	static __thread char line[1024];
	static __thread size_t len;
	if (level == FUSE_LOG_DEBUG && !ck_mount_daemonized) {  /* -d traces, as they are */
		vfprintf(stderr, fmt, ap);
		return;
	}
	int n = vsnprintf(line + len, sizeof line - len, fmt, ap);
	if (n > 0)
		len = len + (size_t)n < sizeof line - 1 ? len + (size_t)n : sizeof line - 1;
	if (!len || (line[len - 1] != '\n' && len < sizeof line - 1))
		return;
	if (line[len - 1] == '\n')
		line[--len] = 0;
	const char *p = strncmp(line, "fuse: ", 6) == 0 ? line + 6 : line;
	if (ck_mount_daemonized)
		syslog((int)level, "%s", p);
	else
		fprintf(stderr, "ckptfs: %s\n", p);
	len = 0;
}

static struct ck_mount *mnt(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- journal ------------------------------------------------------------ */

static ck_err tree_apply(struct ck_tree *t, const char *op, const char *a, const char *b,
			 struct ck_error *err)
{
	if (strcmp(op, "rename") == 0)
		return ck_tree_rename(t, a, b, err);
	if (strcmp(op, "unlink") == 0)
		return ck_tree_unlink(t, a, err);
	if (strcmp(op, "rmdir") == 0)
		return ck_tree_rmdir(t, a, err);
	if (strcmp(op, "mkdir") == 0)
		return ck_tree_mkdir(t, a, err);
	return ck_error_set(err, CK_EINVAL, "unknown change '%s'", op);
}

/* Splits a recorded "op\tA[\tB]" line (in place) and applies or journals it. */
static ck_err line_do(struct ck_tree *t, struct ck_journal *j, const char *line, struct ck_error *err)
{
	char *copy = strdup(line);
	if (!copy)
		return ck_error_set(err, CK_ENOMEM, "out of memory");
	char *a = strchr(copy, '\t'), *b = NULL;
	ck_err rc;
	if (!a) {
		rc = ck_error_set(err, CK_EINVAL, "bad recorded change '%s'", line);
	} else {
		*a++ = 0;
		if ((b = strchr(a, '\t')))
			*b++ = 0;
		rc = j ? ck_journal_append(j, copy, a, b, err) : tree_apply(t, copy, a, b, err);
	}
	free(copy);
	return rc;
}

/* The tree as it was before its last change: rebuilt from the source and every
 * earlier change.  Node numbers come out the same: building and changes number
 * nodes in order. */
static ck_err rebuild_tree(struct ck_mount *m, struct ck_error *err)
{
	struct ck_tree *old = m->tree, *t = NULL;
	ck_err rc = ck_tree_build(m->ck, &t, err);
	for (size_t i = 0; rc == CK_OK && i + 1 < old->nops; i++)
		rc = line_do(t, NULL, old->ops[i], err);
	if (rc != CK_OK) {
		ck_tree_free(t);
		return rc;
	}
	pthread_mutex_lock(&m->cache_mu);
	ck_mount_text_clear(m);
	pthread_mutex_unlock(&m->cache_mu);
	/* open files hold value references, not nodes, so the old tree can go */
	ck_tree_free(old);
	m->tree = t;
	return ck_mount_reindex(m);
}

/* Back to "no change journaled yet": an empty file (we keep its lock). */
static void journal_reset(struct ck_mount *m)
{
	ck_journal_close(m->journal, 0);
	m->journal = NULL;
	if (ftruncate(m->jlock, 0) != 0)
		ck_mount_log(LOG_ERR, "%s: %s", m->journal_path, strerror(errno));
}

/* Opens the journal at the first change; a new one starts with the changes
 * --remap made, so replaying it alone reproduces everything. */
static ck_err journal_ready(struct ck_mount *m, struct ck_error *err)
{
	if (m->journal)
		return CK_OK;
	ck_err rc = ck_journal_open(m->journal_path, &m->journal, err);
	for (size_t i = 0; rc == CK_OK && i < m->nseed; i++)
		rc = line_do(m->tree, m->journal, m->tree->ops[i], err);
	if (rc != CK_OK)
		journal_reset(m);
	return rc;
}

int ck_mount_change(struct ck_mount *m, const char *op, const char *a, const char *b)
{
	struct ck_error err = {0};
	ck_err rc = tree_apply(m->tree, op, a, b, &err);
	if (rc != CK_OK) {
		if (m->o->debug)
			ck_mount_log(LOG_DEBUG, "%s", err.msg);
		return ck_err_errno(rc);
	}
	int fresh = !m->journal;
	rc = journal_ready(m, &err);
	if (rc == CK_OK)
		rc = ck_journal_append(m->journal, op, a, b, &err);
	if (rc == CK_OK) {
		/* nodes are never freed or renumbered: only a new folder needs an entry */
		struct ck_node *n = strcmp(op, "mkdir") == 0 ? ck_tree_lookup(m->tree, a) : NULL;
		if (n && ck_mount_index(m, n))
			ck_mount_log(LOG_ERR, "out of memory indexing '%s'", a);
		return 0;
	}

	/* not durable, so not done (ck_journal_append cut its torn line): put the tree back */
	ck_mount_log(LOG_ERR, "change refused: %s", err.msg);
	if (fresh)
		journal_reset(m);  /* the next change starts it again */
	struct ck_error e2;
	if (rebuild_tree(m, &e2) != CK_OK)
		ck_mount_log(LOG_ERR, "cannot undo %s %s: %s", op, a, e2.msg);
	return rc == CK_ENOSPC ? ENOSPC : rc == CK_ENOMEM ? ENOMEM : EIO;
}

/* ---- ops ------------------------------------------------------------------ */

/* The escaped mount path of name inside dir ("a/b/name"); malloc'd, NULL on ENOMEM. */
static char *child_path(const struct ck_node *dir, const char *name)
{
	char *dp = ck_node_path(dir);
	if (!dp)
		return NULL;
	size_t dl = strlen(dp), nl = strlen(name);
	char *p = malloc(dl + nl + 2);
	if (p) {
		memcpy(p, dp, dl);
		size_t k = dl;
		if (dl)
			p[k++] = '/';
		memcpy(p + k, name, nl + 1);
	}
	free(dp);
	return p;
}

/* The folder behind a parent inode, for a change; an errno otherwise. */
static int change_dir(struct ck_mount *m, fuse_ino_t ino, struct ck_node **dir)
{
	struct ck_target t;
	int rc = ck_mount_resolve(m, ino, &t);
	if (rc)
		return rc;
	if (t.vf != CK_VF_NONE || t.node->kind != CK_NODE_DIR)
		return ENOTDIR;
	*dir = t.node;
	return 0;
}

static int refuse(const struct ck_mount *m)
{
	return m->read_only ? EROFS : EPERM;
}

/* Nothing about a file may change; a setattr that changes nothing is fine. */
void ck_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		   struct fuse_file_info *fi)
{
	struct ck_mount *m = mnt(req);
	struct stat st;
	double timeout;
	int rc = ck_mount_stat_ino(m, ino, &st, &timeout);
	if (!rc && (to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != st.st_size)
		rc = refuse(m);
	if (!rc && (to_set & FUSE_SET_ATTR_MODE) && (attr->st_mode & 07777) != (st.st_mode & 07777))
		rc = refuse(m);
	if (!rc && (to_set & FUSE_SET_ATTR_UID) && attr->st_uid != st.st_uid)
		rc = refuse(m);
	if (!rc && (to_set & FUSE_SET_ATTR_GID) && attr->st_gid != st.st_gid)
		rc = refuse(m);
	if (!rc && (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW |
			      FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME)))
		rc = refuse(m);
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_attr(req, &st, timeout);
}

void ck_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct ck_mount *m = mnt(req);
	struct ck_node *dir;
	struct fuse_entry_param e;
	char *path = NULL;
	if (m->read_only) {
		fuse_reply_err(req, EROFS);
		return;
	}
	pthread_rwlock_wrlock(&m->lock);
	int rc = change_dir(m, parent, &dir);
	if (!rc && (ck_tree_child(m->tree, dir, name) || ck_mount_is_virtual(m, dir, name)))
		rc = EEXIST;
	if (!rc && !(path = child_path(dir, name)))
		rc = ENOMEM;
	if (!rc)
		rc = ck_mount_change(m, "mkdir", path, NULL);
	if (!rc) {
		struct ck_target t = {.node = ck_tree_lookup(m->tree, path), .vf = CK_VF_NONE};
		rc = t.node ? ck_mount_entry(m, &t, &e) : EIO;
	}
	pthread_rwlock_unlock(&m->lock);
	free(path);
	if (rc)
		fuse_reply_err(req, rc);
	else
		fuse_reply_entry(req, &e);
}

/* unlink and rmdir: want_dir says which. */
static void do_remove(fuse_req_t req, fuse_ino_t parent, const char *name, int want_dir)
{
	struct ck_mount *m = mnt(req);
	struct ck_node *dir, *n = NULL;
	char *path = NULL;
	if (m->read_only) {
		fuse_reply_err(req, EROFS);
		return;
	}
	pthread_rwlock_wrlock(&m->lock);
	int rc = change_dir(m, parent, &dir);
	if (!rc && !(n = ck_tree_child(m->tree, dir, name)))
		rc = ck_mount_is_virtual(m, dir, name) ? EPERM : ENOENT;
	if (!rc && want_dir && n->kind != CK_NODE_DIR)
		rc = ENOTDIR;
	if (!rc && !want_dir && n->kind == CK_NODE_DIR)
		rc = EISDIR;
	if (!rc && !(path = child_path(dir, name)))
		rc = ENOMEM;
	if (!rc)
		rc = ck_mount_change(m, want_dir ? "rmdir" : "unlink", path, NULL);
	pthread_rwlock_unlock(&m->lock);
	free(path);
	fuse_reply_err(req, rc);
}

void ck_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	do_remove(req, parent, name, 0);
}

void ck_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	do_remove(req, parent, name, 1);
}

void ck_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags)
{
	struct ck_mount *m = mnt(req);
	struct ck_node *from_dir, *to_dir, *src = NULL, *dst;
	char *from = NULL, *to = NULL;
	if (flags & ~(unsigned)RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL);  /* RENAME_EXCHANGE, RENAME_WHITEOUT */
		return;
	}
	if (m->read_only) {
		fuse_reply_err(req, EROFS);
		return;
	}
	pthread_rwlock_wrlock(&m->lock);
	int rc = change_dir(m, parent, &from_dir);
	if (!rc)
		rc = change_dir(m, newparent, &to_dir);
	if (!rc && !(src = ck_tree_child(m->tree, from_dir, name)))
		rc = ck_mount_is_virtual(m, from_dir, name) ? EPERM : ENOENT;
	if (!rc) {
		dst = ck_tree_child(m->tree, to_dir, newname);
		if (!dst && ck_mount_is_virtual(m, to_dir, newname))
			rc = EPERM;  /* replacing a virtual file would remove it */
		else if (dst && (flags & RENAME_NOREPLACE))
			rc = EEXIST;
		else if (dst == src)
			goto done;  /* POSIX: a rename onto itself does nothing */
	}
	if (!rc && (!(from = child_path(from_dir, name)) || !(to = child_path(to_dir, newname))))
		rc = ENOMEM;
	if (!rc)
		rc = ck_mount_change(m, "rename", from, to);
done:
	pthread_rwlock_unlock(&m->lock);
	free(from);
	free(to);
	fuse_reply_err(req, rc);
}

void ck_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	fuse_reply_err(req, refuse(mnt(req)));
}

void ck_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, refuse(mnt(req)));
}

void ck_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	fuse_reply_err(req, refuse(mnt(req)));
}

void ck_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi)
{
	fuse_reply_err(req, refuse(mnt(req)));
}

void ck_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv, off_t off,
		     struct fuse_file_info *fi)
{
	fuse_reply_err(req, refuse(mnt(req)));
}

void ck_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		     struct fuse_file_info *fi)
{
	fuse_reply_err(req, refuse(mnt(req)));
}

/* The one settable attribute: `ckptfs umount` names a private folder for the commit status. */
void ck_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		    size_t size, int flags)
{
	struct ck_mount *m = mnt(req);
	if (ino != FUSE_ROOT_ID || strcmp(name, CK_XATTR_NOTIFY) != 0) {
		fuse_reply_err(req, refuse(m));
		return;
	}
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char *dir = size && size < PATH_MAX ? strndup(value, size) : NULL;
	struct stat st;
	int rc = 0;
	if (!dir || dir[0] != '/' || lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		rc = EINVAL;
	else if (ctx->uid != 0 && (ctx->uid != m->uid || st.st_uid != ctx->uid))
		rc = EPERM;  /* only the mount's owner may have the daemon write there */
	if (rc) {
		free(dir);
		fuse_reply_err(req, rc);
		return;
	}
	pthread_mutex_lock(&m->notify_mu);
	free(m->notify_dir);
	m->notify_dir = dir;
	pthread_mutex_unlock(&m->notify_mu);
	fuse_reply_err(req, 0);
}

void ck_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, refuse(mnt(req)));
}
