/*
 * mount.c — `ckptfs CHECKPOINT MOUNTPOINT` and `ckptfs umount MOUNTPOINT`.
 *
 * Mount: open the checkpoint, build the tree (plus --remap), mount with the
 * low-level API, go to the background only once mounted, serve with a thread
 * pool, and when the session ends (fusermount3 -u, ckptfs umount, a signal)
 * commit the changed tree.  Every change is journaled (fsynced) before it is
 * acknowledged so `ckptfs apply CKPT --remap JOURNAL` recovers a killed daemon.
 *
 * Umount handshake: the client reads the daemon's pid from the root xattr
 * user.ckptfs.pid, hands it a private folder through user.ckptfs.notify,
 * unmounts, waits for the pid to exit (pidfd), then reads the status file the
 * daemon left in that folder: "status N", then "output PATH" or "error MSG".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <unistd.h>

#include "mount_priv.h"

#define CK_STATUS_NAME "status"

/* path made absolute against the current folder (no symlink resolution, so a
 * TF prefix that names no file works too).  malloc'd. */
static char *abs_path(const char *path)
{
	if (path[0] == '/')
		return strdup(path);
	char cwd[PATH_MAX];
	if (!getcwd(cwd, sizeof cwd))
		return NULL;
	const char *p = path;
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	size_t n = strlen(cwd) + strlen(p) + 2;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", p);
	return s;
}

/* Error messages name the file as the user typed it, not our absolute form. */
static void print_err(const struct ck_error *err, const char *abs, const char *given)
{
	size_t al = strlen(abs);
	if (strncmp(err->msg, abs, al) == 0)
		fprintf(stderr, "ckptfs: %s%s\n", given, err->msg + al);
	else
		fprintf(stderr, "ckptfs: %s\n", err->msg);
}

/* ---- inode map -------------------------------------------------------- */

fuse_ino_t ck_mount_fino(const struct ck_mount *m, const struct ck_node *n)
{
	return n == m->tree->root ? FUSE_ROOT_ID : (fuse_ino_t)n->ino;
}

struct ck_node *ck_mount_node(const struct ck_mount *m, fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return m->tree->root;
	return ino < m->nbyino ? m->byino[ino] : NULL;
}

int ck_mount_index(struct ck_mount *m, struct ck_node *n)
{
	if (n->ino >= CK_VINO_BASE || n->ino == FUSE_ROOT_ID)
		return -1;
	if (n->ino >= m->nbyino) {
		size_t cap = m->nbyino ? m->nbyino : 64;
		while (cap <= n->ino)
			cap *= 2;
		struct ck_node **p = realloc(m->byino, cap * sizeof *p);
		if (!p)
			return -1;
		memset(p + m->nbyino, 0, (cap - m->nbyino) * sizeof *p);
		m->byino = p;
		m->nbyino = cap;
	}
	m->byino[n->ino] = n;
	return 0;
}

ck_err ck_mount_reindex(struct ck_mount *m)
{
	struct ck_tree *t = m->tree;
	if (t->root->ino != FUSE_ROOT_ID)
		return CK_EINVAL;  /* tree.c numbers its root 1, as FUSE wants */
	if (m->byino)
		memset(m->byino, 0, m->nbyino * sizeof *m->byino);
	size_t cap = 256, n = 0;
	struct ck_node **stack = malloc(cap * sizeof *stack);
	if (!stack)
		return CK_ENOMEM;
	stack[n++] = t->root;
	ck_err rc = CK_OK;
	while (n && rc == CK_OK) {
		struct ck_node *x = stack[--n];
		if (x != t->root && ck_mount_index(m, x))
			rc = CK_ENOMEM;
		if (x->kind != CK_NODE_DIR)
			continue;
		if (n + x->nkids > cap) {
			while (n + x->nkids > cap)
				cap *= 2;
			struct ck_node **s = realloc(stack, cap * sizeof *s);
			if (!s) {
				rc = CK_ENOMEM;
				break;
			}
			stack = s;
		}
		for (size_t i = 0; i < x->nkids; i++)
			stack[n++] = x->kids[i];
	}
	free(stack);
	/* deleted leaves keep their numbers so open files and lookups stay valid */
	for (size_t i = 0; rc == CK_OK && i < t->ndeleted; i++)
		if (t->deleted[i] && !ck_mount_node(m, t->deleted[i]->ino))
			if (ck_mount_index(m, t->deleted[i]))
				rc = CK_ENOMEM;
	return rc;
}

/* ---- setup -------------------------------------------------------------- */

static int mkdir_p(char *path, mode_t mode)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int rc = mkdir(path, mode);
		*p = '/';
		if (rc && errno != EEXIST)
			return -1;
	}
	return mkdir(path, mode) && errno != EEXIST ? -1 : 0;
}

/* OUT.journal beside the output, or under $XDG_STATE_HOME/ckptfs/ when that
 * folder is not writable.  malloc'd, NULL with a message printed. */
static char *journal_path_for(const char *out)
{
	const char *slash = strrchr(out, '/');
	char *dir = slash ? strndup(out, (size_t)(slash - out) + (slash == out)) : strdup(".");
	if (!dir)
		return NULL;
	int writable = access(dir, W_OK) == 0;
	free(dir);
	size_t n = strlen(out) + 16;
	if (writable) {
		char *p = malloc(n);
		if (p)
			snprintf(p, n, "%s.journal", out);
		return p;
	}
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char state[PATH_MAX];
	if (xdg && xdg[0] == '/')
		snprintf(state, sizeof state, "%s/ckptfs", xdg);
	else if (home && home[0] == '/')
		snprintf(state, sizeof state, "%s/.local/state/ckptfs", home);
	else
		return NULL;
	if (mkdir_p(state, 0700)) {
		fprintf(stderr, "ckptfs: %s: %s\n", state, strerror(errno));
		return NULL;
	}
	uint64_t h = 1469598103934665603ULL;  /* FNV-1a of the output: one journal per output */
	for (const char *s = out; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	const char *base = slash ? slash + 1 : out;
	n = strlen(state) + strlen(base) + 40;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%016llx-%s.journal", state, (unsigned long long)h, base);
	return p;
}

/* A crash may have torn the journal's last line: cut it before appending more. */
static void truncate_torn(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	off_t keep = 0;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		char buf[4096];
		off_t pos = st.st_size;
		while (pos > 0) {
			size_t n = pos > (off_t)sizeof buf ? sizeof buf : (size_t)pos;
			if (pread(fd, buf, n, pos - (off_t)n) != (ssize_t)n)
				break;
			size_t i = n;
			while (i > 0 && buf[i - 1] != '\n')
				i--;
			if (i > 0) {
				keep = pos - (off_t)n + (off_t)i;
				break;
			}
			pos -= (off_t)n;
		}
		if (keep < st.st_size && ftruncate(fd, keep) != 0)
			ck_mount_log(LOG_ERR, "%s: %s", path, strerror(errno));
	}
	close(fd);
}

/* 1 if the journal at path records at least one complete change. */
static int journal_has_changes(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;  /* cannot tell: keep it */
	int c, lines = 0;
	while ((c = getc(f)) != EOF && lines < 2)
		lines += c == '\n';
	fclose(f);
	return lines >= 2;
}

/* The resolved folder that would hold path (malloc'd); NULL if it does not exist. */
static char *parent_dir_real(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
	char *real = dir ? realpath(dir, NULL) : NULL;
	free(dir);
	return real;
}

/* 1 if the resolved path is dir or below it. */
static int is_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && (path[n] == 0 || path[n] == '/' || strcmp(dir, "/") == 0);
}

/* The output's folder must exist (else the mistake shows only at unmount) and
 * lie outside the mount point: the journal beside the output is written while
 * mounted, from inside a change, and writing through our own mount deadlocks. */
static int output_folder_ok(const char *out, const char *shown, const char *mountpoint)
{
	char *odir = parent_dir_real(out), *mdir = realpath(mountpoint, NULL);
	int ok = odir && !(mdir && is_under(odir, mdir));
	if (!odir)
		fprintf(stderr, "ckptfs: %s: the output's folder does not exist\n", shown);
	else if (!ok)
		fprintf(stderr, "ckptfs: %s: the output cannot be inside the mount point\n", shown);
	free(odir);
	free(mdir);
	return ok;
}

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Where the changes of a failed commit are: the journal once a change was
 * journaled, else (only --remap's changes) the remap file; NULL if neither. */
static const char *changes_kept_in(const struct ck_mount *m)
{
	return m->journal ? m->journal_path : m->remap_abs;
}

/* Leaves "status N" and "output PATH" / "error MSG" in the folder `ckptfs umount` named. */
static void write_status(struct ck_mount *m, int status, const char *output, const char *error)
{
	pthread_mutex_lock(&m->notify_mu);
	char *dir = m->notify_dir;
	m->notify_dir = NULL;
	pthread_mutex_unlock(&m->notify_mu);
	if (!dir)
		return;
	char tmp[PATH_MAX + 32], fin[PATH_MAX + 32];
	snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, CK_STATUS_NAME);
	snprintf(fin, sizeof fin, "%s/%s", dir, CK_STATUS_NAME);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		if (errno != ENOENT)  /* ENOENT: that `ckptfs umount` gave up and left */
			ck_mount_log(LOG_ERR, "%s: %s", tmp, strerror(errno));
		free(dir);
		return;
	}
	fprintf(f, "status %d\n", status);
	if (output)
		fprintf(f, "output %s\n", output);
	if (error)
		fprintf(f, "error %s\n", error);
	if (changes_kept_in(m) && status != 0)
		fprintf(f, "journal %s\n", changes_kept_in(m));
	if (fclose(f) != 0 || rename(tmp, fin) != 0)
		ck_mount_log(LOG_ERR, "%s: %s", fin, strerror(errno));
	free(dir);
}

/* After the session: commit if anything changed.  Returns the exit status. */
static int finish(struct ck_mount *m)
{
	struct ck_error err = {0};
	if (m->read_only || !ck_tree_changed(m->tree)) {
		if (m->journal)
			ck_journal_close(m->journal, 1);  /* net no change: nothing to recover */
		m->journal = NULL;
		write_status(m, 0, NULL, NULL);
		return 0;
	}
	char *out = NULL;
	ck_err rc = ck_commit(m->ck, m->tree, &m->copts, &out, &err);
	if (rc != CK_OK) {
		ck_mount_log(LOG_ERR, "commit failed: %s", err.msg);
		if (changes_kept_in(m))
			ck_mount_log(LOG_ERR, "changes are kept in %s; recover with: ckptfs apply %s --remap %s -o OUT",
				     changes_kept_in(m), m->src_abs, changes_kept_in(m));
		write_status(m, 1, NULL, err.msg);
		free(out);
		return 1;
	}
	if (m->journal)
		ck_journal_close(m->journal, 1);
	m->journal = NULL;
	ck_mount_log(LOG_INFO, "wrote %s", out ? out : m->out_path);
	write_status(m, 0, out ? out : m->out_path, NULL);
	free(out);
	return 0;
}

static void mount_release(struct ck_mount *m)
{
	if (m->journal)
		ck_journal_close(m->journal, 0);  /* kept: it is the only record of the changes */
	if (m->jlock >= 0) {
		/* an empty journal records nothing: do not leave it behind */
		struct stat a, b;
		if (fstat(m->jlock, &a) == 0 && a.st_size == 0 && stat(m->journal_path, &b) == 0 &&
		    a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			unlink(m->journal_path);
		close(m->jlock);
	}
	ck_mount_text_clear(m);
	free(m->byino);
	ck_tree_free(m->tree);
	ck_reference_free(m->ref);
	ck_ckpt_free(m->ck);
	free(m->src_abs);
	free(m->remap_abs);
	free(m->out_path);
	free(m->journal_path);
	free(m->notify_dir);
	pthread_rwlock_destroy(&m->lock);
	pthread_mutex_destroy(&m->cache_mu);
	pthread_mutex_destroy(&m->notify_mu);
}

/* Finds, locks and (when continuing a session) opens the journal; prints the
 * reason and returns 1 on failure. */
static int journal_prepare(struct ck_mount *m, const struct ck_mount_opts *o)
{
	struct ck_error err = {0};
	if (!(m->journal_path = journal_path_for(m->out_path))) {
		fprintf(stderr, "ckptfs: %s: no writable place for the journal\n", m->out_path);
		return 1;
	}
	/* held for the whole session: a second mount with the same output would
	 * interleave its changes into our journal */
	m->jlock = open(m->journal_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (m->jlock < 0) {
		fprintf(stderr, "ckptfs: %s: %s\n", m->journal_path, strerror(errno));
		return 1;
	}
	if (flock(m->jlock, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, "ckptfs: %s: in use by another ckptfs mount with the same output\n",
			m->journal_path);
		close(m->jlock);
		m->jlock = -1;
		return 1;
	}
	if (!journal_has_changes(m->journal_path)) {
		if (ftruncate(m->jlock, 0) != 0) {  /* new, or crashed before a change: nothing to recover */
			fprintf(stderr, "ckptfs: %s: %s\n", m->journal_path, strerror(errno));
			return 1;
		}
	} else {
		if (!m->remap_abs || !same_file(m->remap_abs, m->journal_path)) {
			fprintf(stderr, "ckptfs: %s: journal of an unfinished session exists; recover it with "
				"'ckptfs apply %s --remap %s -o OUT', continue it with '--remap %s', or remove it\n",
				m->journal_path, o->checkpoint, m->journal_path, m->journal_path);
			return 1;
		}
		m->nseed = 0;  /* continuing an interrupted session: its changes are in it */
		truncate_torn(m->journal_path);
		if (ck_journal_open(m->journal_path, &m->journal, &err) != CK_OK) {
			fprintf(stderr, "ckptfs: %s\n", err.msg);
			return 1;
		}
	}
	if (access(m->out_path, F_OK) == 0 && !o->force)
		fprintf(stderr, "ckptfs: note: %s exists; a commit will fail without --force or --output\n",
			m->out_path);
	return 0;
}

/* Opens everything the mount serves; prints the reason and returns the exit
 * status on failure (2 for a usage error, 1 otherwise), 0 when ready. */
static int mount_prepare(struct ck_mount *m, const struct ck_mount_opts *o)
{
	struct ck_error err = {0};
	struct stat st;
	if (stat(o->mountpoint, &st) != 0) {
		fprintf(stderr, "ckptfs: %s: %s\n", o->mountpoint, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "ckptfs: %s: mount point is not a folder\n", o->mountpoint);
		return 1;
	}
	if (!(m->src_abs = abs_path(o->checkpoint)) || (o->remap && !(m->remap_abs = abs_path(o->remap)))) {
		fprintf(stderr, "ckptfs: %s: %s\n", o->checkpoint, strerror(errno ? errno : ENOMEM));
		return 1;
	}
	if (ck_ckpt_open(m->src_abs, &m->ck, &err) != CK_OK) {
		print_err(&err, m->src_abs, o->checkpoint);
		return 1;
	}
	if (ck_tree_build(m->ck, &m->tree, &err) != CK_OK) {
		print_err(&err, m->src_abs, o->checkpoint);
		return 1;
	}
	if (o->reference && ck_reference_load(o->reference, &m->ref, &err) != CK_OK) {
		fprintf(stderr, "ckptfs: %s\n", err.msg);
		return 1;
	}
	if (m->remap_abs && ck_remap_apply_file(m->tree, m->remap_abs, &err) != CK_OK) {
		print_err(&err, m->remap_abs, o->remap);
		return 1;
	}
	m->nseed = m->tree->nops;
	if (ck_mount_reindex(m) != CK_OK) {
		fprintf(stderr, "ckptfs: %s: out of memory\n", o->checkpoint);
		return 1;
	}
	m->copts = (struct ck_commit_opts){.output = o->output, .format = o->format, .force = o->force};
	char *out = NULL;
	if (ck_commit_output_path(m->ck, &m->copts, &out, &err) != CK_OK) {
		fprintf(stderr, "ckptfs: %s\n", err.msg);
		return err.code == CK_EUSAGE ? 2 : 1;
	}
	m->out_path = abs_path(out);
	free(out);
	if (!m->out_path) {
		fprintf(stderr, "ckptfs: %s\n", strerror(errno ? errno : ENOMEM));
		return 1;
	}
	m->copts.output = m->out_path;  /* absolute: the daemon runs in / */
	if (m->read_only)
		return 0;
	if (!output_folder_ok(m->out_path, o->output ? o->output : m->out_path, o->mountpoint))
		return 1;
	return journal_prepare(m, o);
}


static int build_args(struct fuse_args *args, const struct ck_mount_opts *o, const char *src_abs)
{
	char *opts = NULL;
	size_t n = strlen(src_abs) + 16;
	char *fsname = malloc(n);
	if (!fsname)
		return -1;
	snprintf(fsname, n, "fsname=ckptfs:%s", src_abs);
	int rc = fuse_opt_add_arg(args, "ckptfs") || fuse_opt_add_opt_escaped(&opts, fsname) ||
		 fuse_opt_add_opt(&opts, "subtype=ckptfs") || fuse_opt_add_opt(&opts, "default_permissions") ||
		 (o->read_only && fuse_opt_add_opt(&opts, "ro")) ||
		 (o->fuse_opts && o->fuse_opts[0] && fuse_opt_add_opt(&opts, o->fuse_opts)) ||
		 fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, opts) ||
		 (o->debug && fuse_opt_add_arg(args, "-d"));
	free(fsname);
	free(opts);
	return rc ? -1 : 0;
}

int ck_mount_run(const struct ck_mount_opts *o)
{
	struct ck_mount m = {.o = o, .read_only = o->read_only, .uid = getuid(), .gid = getgid(), .jlock = -1};
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	int status = 1, mounted = 0, sighandlers = 0;
	pthread_rwlock_init(&m.lock, NULL);
	pthread_mutex_init(&m.cache_mu, NULL);
	pthread_mutex_init(&m.notify_mu, NULL);
	fuse_set_log_func(ck_mount_fuse_log);

	int prep = mount_prepare(&m, o);
	if (prep) {
		status = prep;
		goto out;
	}
	struct stat st;
	if (m.ck->nfiles && fstat(m.ck->files[0].fd, &st) == 0)
		m.mtime = st.st_mtim;
	else
		clock_gettime(CLOCK_REALTIME, &m.mtime);

	if (build_args(&args, o, m.src_abs)) {
		fprintf(stderr, "ckptfs: out of memory\n");
		goto out;
	}
	m.se = fuse_session_new(&args, &ck_mount_ops, sizeof ck_mount_ops, &m);
	if (!m.se) {
		status = 2;  /* libfuse printed which option it did not know */
		goto out;
	}
	if (fuse_set_signal_handlers(m.se) != 0)
		goto out;
	sighandlers = 1;
	if (fuse_session_mount(m.se, o->mountpoint) != 0) {
		fprintf(stderr, "ckptfs: %s: cannot mount\n", o->mountpoint);
		goto out;
	}
	mounted = 1;
	if (m.journal_path)
		ck_mount_log(LOG_INFO, "journal: %s", m.journal_path);
	openlog("ckptfs", LOG_PID, LOG_DAEMON);
	if (fuse_daemonize(o->foreground) != 0)
		goto out;
	ck_mount_daemonized = !o->foreground;
	m.pid = getpid();

	struct fuse_loop_config lc = {.clone_fd = 0, .max_idle_threads = 10};
	int lrc = fuse_session_loop_mt(m.se, &lc);
	fuse_session_unmount(m.se);
	mounted = 0;
	if (lrc < 0)
		ck_mount_log(LOG_ERR, "%s: session ended with an error: %s", o->mountpoint, strerror(-lrc));
	status = finish(&m);
out:
	if (mounted)
		fuse_session_unmount(m.se);
	if (sighandlers)
		fuse_remove_signal_handlers(m.se);
	if (m.se)
		fuse_session_destroy(m.se);
	fuse_opt_free_args(&args);
	mount_release(&m);
	return status;
}

/* ---- ckptfs umount ------------------------------------------------------- */

static int run_fusermount(const char *mnt)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "--", mnt, (char *)NULL);
		_exit(127);
	}
	int ws;
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(ws) && WEXITSTATUS(ws) == 127 && getuid() == 0)
		return umount2(mnt, 0) == 0 ? 0 : -1;  /* no fusermount3: root can unmount itself */
	return WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? 0 : -1;
}

/* 1 once pid has exited: gone, or a zombie nobody has reaped yet (a
 * daemonized process is reparented to init, which may reap late). */
static int pid_gone(pid_t pid)
{
	if (kill(pid, 0) != 0 && errno == ESRCH)
		return 1;
	char path[64], buf[256];
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	const char *p = strrchr(buf, ')');
	return !p || (p[1] == ' ' && p[2] == 'Z');
}

/* Waits until pid has exited: a pidfd when the kernel has them, else polling. */
static void wait_pid_exit(pid_t pid, int pidfd)
{
	int noted = 0;
	for (int waited = 0;; waited += 100) {
		if (pidfd >= 0) {
			struct pollfd p = {.fd = pidfd, .events = POLLIN};
			if (poll(&p, 1, 100) > 0)
				return;
		} else {
			if (pid_gone(pid))
				return;
			usleep(100 * 1000);
		}
		if (waited >= 2000 && !noted) {
			fprintf(stderr, "ckptfs: waiting for the commit to finish...\n");
			noted = 1;
		}
	}
}

static int read_status(const char *dir, const char *mnt)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", dir, CK_STATUS_NAME);
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "ckptfs: %s: the daemon ended without reporting its commit (see syslog)\n", mnt);
		return 1;
	}
	int status = 1;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		if (strncmp(line, "status ", 7) == 0)
			status = atoi(line + 7);
		else if (strncmp(line, "output ", 7) == 0)
			printf("%s\n", line + 7);
		else if (strncmp(line, "error ", 6) == 0)
			fprintf(stderr, "ckptfs: commit failed: %s\n", line + 6);
		else if (strncmp(line, "journal ", 8) == 0)
			fprintf(stderr, "ckptfs: the changes are kept in %s\n", line + 8);
	}
	free(line);
	fclose(f);
	unlink(path);
	return status;
}

int ck_umount_run(const char *mountpoint)
{
	char pidbuf[32] = {0};
	ssize_t n = getxattr(mountpoint, CK_XATTR_PID, pidbuf, sizeof pidbuf - 1);
	if (n <= 0) {
		int e = errno;
		if (e == ENOTCONN) {
			/* the daemon is gone (killed): free the mount point, the journal has the changes */
			run_fusermount(mountpoint);
			fprintf(stderr, "ckptfs: %s: the daemon had died; nothing was committed "
				"(recover with 'ckptfs apply CKPT --remap JOURNAL -o OUT')\n", mountpoint);
		} else if (e == ENODATA || e == ENOTSUP || n == 0) {
			fprintf(stderr, "ckptfs: %s: not a ckptfs mount\n", mountpoint);
		} else {
			fprintf(stderr, "ckptfs: %s: %s\n", mountpoint, strerror(e));
		}
		return 1;
	}
	pid_t pid = (pid_t)atol(pidbuf);
	if (pid <= 0) {
		fprintf(stderr, "ckptfs: %s: not a ckptfs mount\n", mountpoint);
		return 1;
	}
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);

	const char *rt = getenv("XDG_RUNTIME_DIR");
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/ckptfs-umount-XXXXXX", rt && rt[0] == '/' ? rt : "/tmp");
	int have_dir = mkdtemp(dir) != NULL;
	/* a read-only mount refuses the xattr (EROFS); it has nothing to commit anyway */
	int notified = have_dir && setxattr(mountpoint, CK_XATTR_NOTIFY, dir, strlen(dir), 0) == 0;

	int status = 0;
	if (run_fusermount(mountpoint) != 0) {
		fprintf(stderr, "ckptfs: %s: cannot unmount\n", mountpoint);
		status = 1;
	} else {
		wait_pid_exit(pid, pidfd);
		if (notified)
			status = read_status(dir, mountpoint);
	}
	if (pidfd >= 0)
		close(pidfd);
	if (have_dir) {
		char p[PATH_MAX + 32];
		snprintf(p, sizeof p, "%s/%s", dir, CK_STATUS_NAME);
		unlink(p);
		snprintf(p, sizeof p, "%s/.%s.tmp", dir, CK_STATUS_NAME);
		unlink(p);
		rmdir(dir);
	}
	return status;
}
