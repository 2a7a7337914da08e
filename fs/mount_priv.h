/*
 * mount_priv.h — the state shared by the FUSE driver's files: mount.c (setup,
 * serving loop, commit on unmount, `ckptfs umount`), mount_ops.c (the
 * low-level ops table and the read side), mount_change.c (the ops that change
 * the tree, the journal) and mount_text.c (contents of the virtual files).
 *
 * Inode numbers: every node's stable ck_node.ino (the tree numbers its root 1,
 * FUSE_ROOT_ID, and never frees or renumbers a node while mounted).  Virtual
 * files live far above any tree number: the root files at CK_VINO_BASE + kind,
 * the hidden `.shape` of folder F at CK_VSHAPE_BIT | F.
 */
#ifndef CK_MOUNT_PRIV_H
#define CK_MOUNT_PRIV_H

#include <fuse_lowlevel.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "ck.h"
#include "cli.h"
#include "commit.h"
#include "report.h"
#include "tree.h"

#define CK_TTL_STABLE 3600.0          /* nothing changes behind the kernel's back */
/* Root xattrs of the umount handshake (see mount.c). */
#define CK_XATTR_PID "user.ckptfs.pid"          /* read: the daemon's pid */
#define CK_XATTR_JOURNAL "user.ckptfs.journal"  /* read: where changes are journaled */
#define CK_XATTR_OUTPUT "user.ckptfs.output"    /* read: where a commit writes */
#define CK_XATTR_NOTIFY "user.ckptfs.notify"    /* write: folder for the commit status */
#define CK_VINO_BASE (UINT64_C(1) << 62)
#define CK_VSHAPE_BIT (UINT64_C(1) << 63)

/* Virtual files; the first four are listed at the root. */
enum ck_vfile {
	CK_VF_CONFIG, CK_VF_REPORT, CK_VF_REMAP, CK_VF_SHAPE,
	CK_VF_ROOT_COUNT,
	CK_VF_DOTSHAPE = CK_VF_ROOT_COUNT,
	CK_VF_COUNT,
	CK_VF_NONE = -1,
};

/* An immutable, reference-counted text; open files keep the one they saw. */
struct ck_blob {
	atomic_uint refs;
	size_t len;
	char data[];
};

struct ck_mount {
	const struct ck_mount_opts *o;
	struct ck_ckpt *ck;             /* owned */
	struct ck_tree *tree;           /* owned; guarded by lock */
	struct ck_reference *ref;       /* owned; NULL without --reference */
	char *src_abs;                  /* owned: the checkpoint path made absolute */
	char *remap_abs;                /* owned: --remap made absolute, or NULL */
	char *out_path;                 /* owned: absolute output of a commit */
	char *journal_path;             /* owned; NULL when read-only */
	struct ck_journal *journal;     /* owned; opened at the first change */
	int jlock;                      /* fd with an flock on journal_path: one session per output */
	struct ck_commit_opts copts;
	size_t nseed;                   /* tree->ops[0..nseed) came from --remap */

	pthread_rwlock_t lock;          /* the tree, byino, journal */
	struct ck_node **byino;         /* owned array of borrowed nodes, index = node ino */
	size_t nbyino;

	pthread_mutex_t cache_mu;       /* the text cache */
	struct {
		uint64_t gen, dir;
		struct ck_blob *b;
	} cache[CK_VF_COUNT];

	struct fuse_session *se;
	uid_t uid;
	gid_t gid;
	struct timespec mtime;          /* of the source: every file shows it */
	int read_only;
	pid_t pid;

	pthread_mutex_t notify_mu;      /* umount handshake folder */
	char *notify_dir;               /* owned; set by `ckptfs umount` through an xattr */
};

/* The ops table (mount_ops.c). */
extern const struct fuse_lowlevel_ops ck_mount_ops;

/* ---- inode mapping (mount.c) ---- */
/* Rebuilds byino from the live tree and its detached nodes; lock held for writing. */
ck_err ck_mount_reindex(struct ck_mount *m);
/* Adds one node to byino (changes only ever add: mkdir); 0 or -1 (ENOMEM). */
int ck_mount_index(struct ck_mount *m, struct ck_node *n);
/* The fuse inode number of a node. */
fuse_ino_t ck_mount_fino(const struct ck_mount *m, const struct ck_node *n);
/* The node behind a fuse inode number (borrowed; NULL if gone or virtual); lock held. */
struct ck_node *ck_mount_node(const struct ck_mount *m, fuse_ino_t ino);

/* ---- changes (mount_change.c) ---- */
/* Applies one change to the tree, journals it (fsynced), undoes it if the journal
 * fails.  Returns 0 or a positive errno.  Caller holds lock for writing. */
int ck_mount_change(struct ck_mount *m, const char *op, const char *a, const char *b);
/* Logs to stderr before the daemon detaches, to syslog after. */
void ck_mount_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* libfuse's own messages, in our form ("ckptfs: ...", syslog once detached). */
void ck_mount_fuse_log(enum fuse_log_level level, const char *fmt, va_list ap);
/* Set once stderr is gone (fuse_daemonize in the background). */
extern int ck_mount_daemonized;

/* Ops that change (or refuse to change) the tree, for the table in mount_ops.c. */
void ck_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		   struct fuse_file_info *fi);
void ck_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void ck_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void ck_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void ck_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		  const char *newname, unsigned int flags);
void ck_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev);
void ck_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void ck_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname);
void ck_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		  struct fuse_file_info *fi);
void ck_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv, off_t off,
		     struct fuse_file_info *fi);
void ck_op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
		     struct fuse_file_info *fi);
void ck_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
		    size_t size, int flags);
void ck_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* ---- shared by the ops (mount_ops.c) ---- */
/* What an inode number stands for. */
struct ck_target {
	struct ck_node *node;        /* real node, or the folder of a .shape, or the root */
	enum ck_vfile vf;            /* CK_VF_NONE for a real node */
};
/* Resolves ino; 0 or ENOENT.  Lock held. */
int ck_mount_resolve(struct ck_mount *m, fuse_ino_t ino, struct ck_target *t);
/* Fills a lookup reply for t (attrs and timeouts).  Lock held. */
int ck_mount_entry(struct ck_mount *m, const struct ck_target *t, struct fuse_entry_param *e);
/* ck_mount_resolve + ck_mount_stat under the lock (getattr, setattr); 0 or an errno. */
int ck_mount_stat_ino(struct ck_mount *m, fuse_ino_t ino, struct stat *st, double *timeout);
/* 1 if name inside dir is a visible virtual file (no real key hides it). */
int ck_mount_is_virtual(const struct ck_mount *m, const struct ck_node *dir, const char *name);

/* ---- virtual file texts (mount_text.c) ---- */
/* The current text of a virtual file (dir: the folder for .shape).  New reference,
 * NULL on ENOMEM.  Caller holds lock (read is enough). */
struct ck_blob *ck_mount_text(struct ck_mount *m, enum ck_vfile kind, const struct ck_node *dir);
/* The text file of a plain (non-tensor) leaf: ck_value_text + "\n".  New reference or NULL. */
struct ck_blob *ck_mount_leaf_text(const struct ck_value *v);
/* A new blob holding a copy of len bytes; NULL on ENOMEM. */
struct ck_blob *ck_blob_new(const char *p, size_t len);
/* Takes over a malloc'd string (freed here); NULL in, NULL out. */
struct ck_blob *ck_blob_take(char *s);
/* +1 (thread-safe), returns b; NULL ok. */
struct ck_blob *ck_blob_ref(struct ck_blob *b);
/* -1, frees at 0; NULL ok. */
void ck_blob_unref(struct ck_blob *b);
/* Drops every cached text (exit, tree rebuilt); caller holds cache_mu or is alone. */
void ck_mount_text_clear(struct ck_mount *m);
/* Name of a root virtual file, or ".shape". */
const char *ck_vfile_name(enum ck_vfile kind);
/* Which root virtual file has this name (CK_VF_NONE if none). */
enum ck_vfile ck_vfile_by_name(const char *name);
/* 1 when the file's content follows the tree (direct_io, no attr caching). */
int ck_vfile_dynamic(const struct ck_mount *m, enum ck_vfile kind);

#endif
