/*
 * journal.c — the change journal (every change fsynced before it is
 * acknowledged, so kill -9 loses nothing) and remap.json (the record of a
 * commit, and a hand-writable remap for `ckptfs apply`).
 *
 * Journal layout (text):
 *   1. "ckptfs-journal 1\n"
 *   2. one line per change: OP TAB PATH [TAB PATH] "\n", paths escaped as in
 *      tree.h (so they never contain TAB or newline); a last line without its
 *      newline was torn by a crash and is ignored.
 * remap.json:
 *   {"ckptfs_remap": 1, "source": PATH, "separator": ".",
 *    "ops": [["rename", FROM, TO], ["unlink", PATH], ...],   exact replay
 *    "changes": [{"old": KEY, "new": KEY or null}, ...]}       net, per key
 *   `apply` replays "ops" when present, else applies "changes" key by key.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "commit.h"

#define JOURNAL_MAGIC "ckptfs-journal 1\n"
#define REMAP_MAX_BYTES (256u << 20)

struct ck_journal {
	int fd;
	char *path;
};

static ck_err write_all(int fd, const void *p, size_t n, const char *path, struct ck_error *err)
{
	const char *c = p;
	while (n) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return ck_error_errno(err, errno == ENOSPC ? CK_ENOSPC : CK_EIO, errno, "%s", path);
		c += w;
		n -= (size_t)w;
	}
	return CK_OK;
}

ck_err ck_journal_open(const char *path, struct ck_journal **out, struct ck_error *err)
{
	*out = NULL;
	struct ck_journal *j = calloc(1, sizeof *j);
	if (!j || !(j->path = strdup(path))) {
		free(j);
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	}
	j->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (j->fd < 0) {
		ck_err rc = ck_error_errno(err, CK_EIO, errno, "%s", path);
		free(j->path);
		free(j);
		return rc;
	}
	struct stat st;
	ck_err rc = CK_OK;
	if (fstat(j->fd, &st) != 0)
		rc = ck_error_errno(err, CK_EIO, errno, "%s", path);
	else if (st.st_size == 0) {
		rc = write_all(j->fd, JOURNAL_MAGIC, strlen(JOURNAL_MAGIC), path, err);
		if (!rc && fsync(j->fd) != 0)
			rc = ck_error_errno(err, CK_EIO, errno, "%s", path);
	}
	if (rc) {
		ck_journal_close(j, 0);
		return rc;
	}
	*out = j;
	return CK_OK;
}

ck_err ck_journal_append(struct ck_journal *j, const char *op, const char *a, const char *b,
			 struct ck_error *err)
{
	struct ck_buf line;
	ck_buf_init(&line);
	ck_buf_printf(&line, "%s\t%s%s%s\n", op, a, b ? "\t" : "", b ? b : "");
	if (line.oom) {
		ck_buf_release(&line);
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", j->path);
	}
	/* one write() so a crash tears at most this line; a failed append is cut
	 * back off so the refused change never reaches a replay */
	off_t end = lseek(j->fd, 0, SEEK_END);
	ck_err rc = write_all(j->fd, line.p, line.len, j->path, err);
	ck_buf_release(&line);
	if (!rc && fdatasync(j->fd) != 0)
		rc = ck_error_errno(err, errno == ENOSPC ? CK_ENOSPC : CK_EIO, errno, "%s", j->path);
	if (rc && end >= 0 && ftruncate(j->fd, end) == 0)
		fdatasync(j->fd);
	return rc;
}

void ck_journal_close(struct ck_journal *j, int remove)
{
	if (!j)
		return;
	if (j->fd >= 0)
		close(j->fd);
	if (remove)
		unlink(j->path);
	free(j->path);
	free(j);
}

/* ---- replay ------------------------------------------------------------ */

static ck_err apply_op(struct ck_tree *t, const char *op, const char *a, const char *b,
		       const char *where, struct ck_error *err)
{
	ck_err rc;
	if (strcmp(op, "rename") == 0 && a && b)
		rc = ck_tree_rename(t, a, b, err);
	else if (strcmp(op, "unlink") == 0 && a && !b)
		rc = ck_tree_unlink(t, a, err);
	else if (strcmp(op, "rmdir") == 0 && a && !b)
		rc = ck_tree_rmdir(t, a, err);
	else if (strcmp(op, "mkdir") == 0 && a && !b)
		rc = ck_tree_mkdir(t, a, err);
	else
		return ck_error_set(err, CK_EFORMAT, "%s: unknown change '%s'", where, op);
	if (rc) {
		char cause[sizeof err->msg];
		snprintf(cause, sizeof cause, "%s", err->msg);
		ck_error_set(err, rc, "%s: cannot replay %s: %s", where, op, cause);
	}
	return rc;
}

static ck_err read_file(const char *path, struct ck_buf *b, struct ck_error *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ck_error_errno(err, errno == ENOENT ? CK_ENOENT : CK_EIO, errno, "%s", path);
	char chunk[65536];
	ck_err rc = CK_OK;
	for (;;) {
		ssize_t r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = ck_error_errno(err, CK_EIO, errno, "%s", path);
			break;
		}
		if (r == 0)
			break;
		if (b->len + (size_t)r > REMAP_MAX_BYTES) {
			rc = ck_error_set(err, CK_ELIMIT, "%s: remap file larger than %u MiB", path, REMAP_MAX_BYTES >> 20);
			break;
		}
		ck_buf_add(b, chunk, (size_t)r);
	}
	close(fd);
	if (!rc && (b->oom || !ck_buf_cstr(b)))
		rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	return rc;
}

static ck_err replay_journal(struct ck_tree *t, const char *path, char *text, size_t len,
			     struct ck_error *err)
{
	char *p = text + strlen(JOURNAL_MAGIC), *end = text + len;
	unsigned lineno = 1;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			break; /* torn by a crash mid-write: never acknowledged */
		*nl = 0;
		lineno++;
		char *f[3] = {0};
		int n = 0;
		for (char *s = p; n < 3; n++) {
			f[n] = s;
			char *tab = strchr(s, '\t');
			if (!tab) {
				n++;
				break;
			}
			*tab = 0;
			s = tab + 1;
		}
		char where[512];
		snprintf(where, sizeof where, "%s:%u", path, lineno);
		ck_err rc = apply_op(t, f[0], n > 1 ? f[1] : NULL, n > 2 ? f[2] : NULL, where, err);
		if (rc)
			return rc;
		p = nl + 1;
	}
	return CK_OK;
}

/* Splits a display key into escaped path segments ("a.b" -> "a/b"). */
static char *key_to_path(const struct ck_tree *t, const char *key)
{
	struct ck_buf b;
	ck_buf_init(&b);
	const char *s = key;
	for (;;) {
		const char *sep = strchr(s, t->sep);
		size_t len = sep ? (size_t)(sep - s) : strlen(s);
		char *nm = ck_name_escape(s, len);
		if (!nm) {
			b.oom = 1;
			break;
		}
		if (b.len)
			ck_buf_addc(&b, '/');
		ck_buf_adds(&b, nm);
		free(nm);
		if (!sep)
			break;
		s = sep + 1;
	}
	if (!ck_buf_cstr(&b) || b.oom) {
		ck_buf_release(&b);
		return NULL;
	}
	return (char *)b.p;
}

/* mkdir -p of every folder above path. */
static ck_err make_parents(struct ck_tree *t, const char *path, struct ck_error *err)
{
	char *p = strdup(path);
	if (!p)
		return ck_error_set(err, CK_ENOMEM, "out of memory");
	ck_err rc = CK_OK;
	for (char *s = strchr(p, '/'); s && !rc; s = strchr(s + 1, '/')) {
		*s = 0;
		struct ck_node *n = ck_tree_lookup(t, p);
		if (!n)
			rc = ck_tree_mkdir(t, p, err);
		else if (n->kind != CK_NODE_DIR)
			rc = ck_error_set(err, CK_ENOTDIR, "'%s': not a folder", p);
		*s = '/';
	}
	free(p);
	return rc;
}

/* Net per-key changes: every source leaf first goes to a parking name, then to
 * its new place, so swaps and chains (a->b, b->a) work. */
static ck_err apply_changes(struct ck_tree *t, const char *path, cJSON *changes, struct ck_error *err)
{
	int n = cJSON_GetArraySize(changes);
	char **park = calloc((size_t)n + 1, sizeof *park);
	if (!park)
		return ck_error_set(err, CK_ENOMEM, "out of memory");
	ck_err rc = CK_OK;
	struct ck_node **leaves = NULL;
	size_t nleaves = 0;
	rc = ck_tree_leaves(t, NULL, &leaves, &nleaves, err);
	for (int i = 0; i < n && !rc; i++) {
		cJSON *c = cJSON_GetArrayItem(changes, i);
		const char *old = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(c, "old"));
		if (!old) {
			rc = ck_error_set(err, CK_EFORMAT, "%s: change %d has no \"old\" key", path, i);
			break;
		}
		struct ck_node *leaf = NULL;
		for (size_t k = 0; k < nleaves && !leaf; k++)
			if (leaves[k]->orig_key && strcmp(leaves[k]->orig_key, old) == 0)
				leaf = leaves[k];
		if (!leaf) {
			rc = ck_error_set(err, CK_ENOENT, "%s: key '%s' is not in the checkpoint", path, old);
			break;
		}
		char *from = ck_node_path(leaf);
		char tmp[64];
		snprintf(tmp, sizeof tmp, "%%~%d", 900000000 + i); /* a parking name no key uses */
		rc = from ? ck_tree_rename(t, from, tmp, err) : ck_error_set(err, CK_ENOMEM, "out of memory");
		free(from);
		if (!rc && !(park[i] = strdup(tmp)))
			rc = ck_error_set(err, CK_ENOMEM, "out of memory");
	}
	for (int i = 0; i < n && !rc; i++) {
		cJSON *nw = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(changes, i), "new");
		if (!nw || cJSON_IsNull(nw)) {
			rc = ck_tree_unlink(t, park[i], err);
			continue;
		}
		if (!cJSON_IsString(nw)) {
			rc = ck_error_set(err, CK_EFORMAT, "%s: change %d: \"new\" must be a string or null", path, i);
			break;
		}
		char *to = key_to_path(t, nw->valuestring);
		if (!to)
			rc = ck_error_set(err, CK_ENOMEM, "out of memory");
		else if (!(rc = make_parents(t, to, err)))
			rc = ck_tree_rename(t, park[i], to, err);
		free(to);
	}
	for (int i = 0; i < n; i++)
		free(park[i]);
	free(park);
	free(leaves);
	return rc;
}

static ck_err apply_json(struct ck_tree *t, const char *path, const char *text, struct ck_error *err)
{
	cJSON *doc = cJSON_Parse(text);
	if (!doc || !cJSON_IsObject(doc)) {
		cJSON_Delete(doc);
		return ck_error_set(err, CK_EFORMAT, "%s: not a ckptfs journal or remap JSON", path);
	}
	ck_err rc = CK_OK;
	cJSON *ops = cJSON_GetObjectItemCaseSensitive(doc, "ops");
	cJSON *changes = cJSON_GetObjectItemCaseSensitive(doc, "changes");
	if (cJSON_IsArray(ops)) {
		int i = 0;
		cJSON *op;
		cJSON_ArrayForEach(op, ops) {
			char where[512];
			snprintf(where, sizeof where, "%s: ops[%d]", path, i++);
			int n = cJSON_GetArraySize(op);
			const char *f[3] = {0};
			for (int k = 0; k < n && k < 3; k++)
				f[k] = cJSON_GetStringValue(cJSON_GetArrayItem(op, k));
			if (!cJSON_IsArray(op) || n < 2 || n > 3 || !f[0] || !f[1] || (n == 3 && !f[2])) {
				rc = ck_error_set(err, CK_EFORMAT, "%s: expected [op, path(, path)]", where);
				break;
			}
			if ((rc = apply_op(t, f[0], f[1], f[2], where, err)))
				break;
		}
	} else if (cJSON_IsArray(changes)) {
		rc = apply_changes(t, path, changes, err);
	} else {
		rc = ck_error_set(err, CK_EFORMAT, "%s: remap JSON has neither \"ops\" nor \"changes\"", path);
	}
	cJSON_Delete(doc);
	return rc;
}

ck_err ck_remap_apply_file(struct ck_tree *t, const char *path, struct ck_error *err)
{
	struct ck_buf b;
	ck_buf_init(&b);
	ck_err rc = read_file(path, &b, err);
	if (!rc) {
		if (b.len >= strlen(JOURNAL_MAGIC) && memcmp(b.p, JOURNAL_MAGIC, strlen(JOURNAL_MAGIC)) == 0)
			rc = replay_journal(t, path, (char *)b.p, b.len, err);
		else
			rc = apply_json(t, path, (const char *)b.p, err);
	}
	ck_buf_release(&b);
	return rc;
}

/* ---- remap.json ------------------------------------------------------------ */

static cJSON *changes_json(const struct ck_tree *t)
{
	cJSON *arr = cJSON_CreateArray();
	char *text = ck_tree_remap_text(t);
	if (!arr || !text) {
		cJSON_Delete(arr);
		free(text);
		return NULL;
	}
	/* one "OLD -> NEW" line per changed key; keys from the tree never hold " -> "
	 * except quoted ones, which we keep as printed */
	for (char *line = text, *nl; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (!nl)
			break;
		*nl = 0;
		char *arrow = strstr(line, " -> ");
		if (!arrow)
			continue;
		*arrow = 0;
		const char *nw = arrow + 4;
		cJSON *c = cJSON_CreateObject();
		cJSON_AddStringToObject(c, "old", line);
		if (strcmp(nw, "(deleted)") == 0)
			cJSON_AddNullToObject(c, "new");
		else
			cJSON_AddStringToObject(c, "new", nw);
		cJSON_AddItemToArray(arr, c);
	}
	free(text);
	return arr;
}

ck_err ck_remap_write_json(const struct ck_tree *t, const char *path, struct ck_error *err)
{
	cJSON *doc = cJSON_CreateObject();
	cJSON *ops = cJSON_CreateArray();
	ck_err rc = CK_OK;
	char *text = NULL, *tmp = NULL;
	if (!doc || !ops)
		goto oom;
	cJSON_AddNumberToObject(doc, "ckptfs_remap", 1);
	cJSON_AddStringToObject(doc, "source", t->ck->path);
	char sep[2] = {t->sep, 0};
	cJSON_AddStringToObject(doc, "separator", sep);
	for (size_t i = 0; i < t->nops; i++) {
		cJSON *op = cJSON_CreateArray();
		char *line = strdup(t->ops[i]);
		if (!op || !line) {
			cJSON_Delete(op);
			free(line);
			goto oom;
		}
		char *save = NULL;
		for (char *f = strtok_r(line, "\t", &save); f; f = strtok_r(NULL, "\t", &save))
			cJSON_AddItemToArray(op, cJSON_CreateString(f));
		free(line);
		cJSON_AddItemToArray(ops, op);
	}
	cJSON_AddItemToObject(doc, "ops", ops);
	ops = NULL;
	cJSON *changes = changes_json(t);
	if (!changes)
		goto oom;
	cJSON_AddItemToObject(doc, "changes", changes);
	text = cJSON_Print(doc);
	size_t tl = strlen(path) + 16;
	tmp = malloc(tl);
	if (!text || !tmp)
		goto oom;
	snprintf(tmp, tl, "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = ck_error_errno(err, CK_EIO, errno, "%s", tmp);
		goto done;
	}
	rc = write_all(fd, text, strlen(text), tmp, err);
	if (!rc)
		rc = write_all(fd, "\n", 1, tmp, err);
	if (!rc && fsync(fd) != 0)
		rc = ck_error_errno(err, CK_EIO, errno, "%s", tmp);
	close(fd);
	if (!rc && rename(tmp, path) != 0)
		rc = ck_error_errno(err, CK_EIO, errno, "%s", path);
	if (rc)
		unlink(tmp);
	goto done;
oom:
	rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
done:
	cJSON_Delete(ops);
	cJSON_Delete(doc);
	free(text);
	free(tmp);
	return rc;
}
