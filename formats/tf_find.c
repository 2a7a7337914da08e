/*
 * tf_find.c — which TensorFlow bundle the user means, and the format probe.
 *
 * What CHECKPOINT may be (design.md §2), and the prefix P used:
 *  - a prefix "model.ckpt-N" (nothing at that path): P = the path;
 *  - P.index, or one data shard P.data-00000-of-00001: P = the path minus it;
 *  - a folder with a `checkpoint` file (text CheckpointState): P = its
 *    model_checkpoint_path, joined to the folder when relative; an absolute
 *    path that no longer exists is retried as its base name in the folder
 *    (the folder was moved), and metadata says so;
 *  - a SavedModel folder: P = FOLDER/variables/variables;
 *  - a folder without a `checkpoint` file (TF-1 users often lose it): the
 *    *.index files in it; one: that prefix; several STEM-N of one STEM: the
 *    highest N (numerically), and metadata's prefix_from says how many;
 *    anything else is ambiguous (CK_EINVAL naming them).
 *
 * A file that is a table but not named PREFIX.index (a TF V1 checkpoint,
 * "export") is handed to the reader as is, so it can say what it is.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cursor.h"
#include "tf.h"

#define TF_MAX_STATE (1u << 20)  /* a `checkpoint` text file */
#define TF_MAX_SCAN 100000       /* *.index files looked at in one folder */
#define TF_PROBE_STRONG 90
#define TF_PROBE_FOLDER 85
#define TF_PROBE_LOOSE 75        /* below hf (80): a model folder with .index beside its weights */
#define TF_PROBE_TABLE 70

/* ---- finding the prefix ---------------------------------------------------------- */

static int is_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);
	return n >= m && strcmp(s + n - m, tail) == 0;
}

static char *join(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}

/* Length of PATH without a ".data-NNNNN-of-NNNNN" tail, or 0 when it has none. */
static size_t shard_stem(const char *path)
{
	static const char pat[] = ".data-#####-of-#####";
	size_t n = strlen(path), m = sizeof pat - 1;
	if (n <= m)
		return 0;
	for (size_t i = 0; i < m; i++) {
		char ch = path[n - m + i];
		if (pat[i] == '#' ? ch < '0' || ch > '9' : ch != pat[i])
			return 0;
	}
	return n - m;
}

/* model_checkpoint_path from a text CheckpointState; *out malloc'd. */
static ck_err tf_state_path(const char *file, char **out, struct ck_error *err)
{
	*out = NULL;
	FILE *fp = fopen(file, "rb");
	if (!fp)
		return ck_error_errno(err, CK_EIO, errno, "%s", file);
	char *text = malloc(TF_MAX_STATE + 1);
	size_t n = text ? fread(text, 1, TF_MAX_STATE, fp) : 0;
	fclose(fp);
	if (!text)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", file);
	text[n] = 0;
	const char *key = "model_checkpoint_path";
	for (char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (strncmp(line, key, strlen(key)) != 0)
			continue;
		char *p = line + strlen(key);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p++ != ':')
			continue;
		while (*p == ' ' || *p == '\t')
			p++;
		char q = *p++;
		if (q != '"' && q != '\'')
			break;
		char *o = p, *w = p;   /* unescape in place: the text only shrinks */
		for (; *p && *p != q && *p != '\n'; p++) {
			if (*p != '\\' || !p[1]) {
				*w++ = *p;
				continue;
			}
			p++;
			if (*p >= '0' && *p <= '7') {
				int v = 0;
				for (int k = 0; k < 3 && *p >= '0' && *p <= '7'; k++, p++)
					v = v * 8 + (*p - '0');
				p--;
				*w++ = (char)v;
			} else {
				*w++ = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r' : *p;
			}
		}
		if (*p != q)
			break;
		*w = 0;
		if (!*o || memchr(o, 0, (size_t)(w - o)) != NULL)
			break;
		*out = strdup(o);
		free(text);
		return *out ? CK_OK : ck_error_set(err, CK_ENOMEM, "%s: out of memory", file);
	}
	free(text);
	return ck_error_set(err, CK_EFORMAT, "%s: no model_checkpoint_path in this checkpoint state file", file);
}

static ck_err where_set(struct ck_tf_where *w, char *prefix, const char *from, struct ck_error *err)
{
	w->prefix = prefix;
	w->index = prefix ? join(prefix, ".index", "") : NULL;
	w->from = strdup(from);
	if (!prefix || !w->index || !w->from)
		return ck_error_set(err, CK_ENOMEM, "out of memory");
	return CK_OK;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A folder with neither `checkpoint` nor variables/: its *.index files. */
static ck_err tf_scan_dir(const char *dir, struct ck_tf_where *w, struct ck_error *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return ck_error_errno(err, CK_EIO, errno, "%s", dir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	ck_err rc = CK_OK;
	struct dirent *de;
	while ((de = readdir(d)) && n < TF_MAX_SCAN) {
		size_t len = strlen(de->d_name);
		if (len <= 6 || strcmp(de->d_name + len - 6, ".index") != 0)
			continue;
		char *full = join(dir, "/", de->d_name);
		int ok = full && is_file(full);
		free(full);
		if (!ok)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **p = realloc(names, cap * sizeof *p);
			if (!p)
				goto oom;
			names = p;
		}
		if (!(names[n] = strndup(de->d_name, len - 6)))
			goto oom;
		n++;
	}
	closedir(d);
	d = NULL;
	if (n == 0) {
		rc = ck_error_set(err, CK_ENOENT, "%s: no `checkpoint` file and no *.index file in this folder", dir);
		goto out;
	}
	qsort(names, n, sizeof *names, cmp_str);
	size_t best = 0;
	unsigned long long best_step = 0;
	char from[512];
	if (n == 1) {
		snprintf(from, sizeof from, "the only *.index in the folder (no checkpoint file)");
	} else {
		/* model.ckpt-100, model.ckpt-2000, ...: one stem, numeric steps */
		const char *dash0 = strrchr(names[0], '-');
		size_t stem = dash0 ? (size_t)(dash0 - names[0]) : 0;
		for (size_t i = 0; i < n && rc == CK_OK; i++) {
			const char *dash = strrchr(names[i], '-'), *s = dash ? dash + 1 : "";
			size_t digits = strspn(s, "0123456789");
			if (!dash0 || dash != names[i] + stem || strncmp(names[i], names[0], stem) != 0 ||
			    !digits || digits > 19 || s[digits]) {
				rc = CK_EINVAL;
				break;
			}
			unsigned long long step = strtoull(s, NULL, 10);
			if (i && step == best_step)
				rc = CK_EINVAL;   /* model.ckpt-07 and model.ckpt-7 */
			else if (!i || step > best_step)
				best = i, best_step = step;
		}
		if (rc) {
			rc = ck_error_set(err, CK_EINVAL, "%s: no `checkpoint` file and %zu different checkpoints "
					  "(%s.index, %s.index%s); name one prefix", dir, n, names[0], names[1],
					  n > 2 ? ", ..." : "");
			goto out;
		}
		snprintf(from, sizeof from, "the highest step of %zu prefixes in the folder (no checkpoint file)", n);
	}
	rc = where_set(w, join(dir, "/", names[best]), from, err);
	goto out;
oom:
	rc = ck_error_set(err, CK_ENOMEM, "%s: out of memory", dir);
out:
	if (d)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static ck_err tf_where_dir(const char *dir, struct ck_tf_where *w, struct ck_error *err)
{
	char *state = join(dir, "/checkpoint", ""), *named = NULL, *alt = NULL, *p = NULL;
	ck_err rc;
	if (!state)
		return ck_error_set(err, CK_ENOMEM, "out of memory");
	if (!is_file(state)) {
		free(state);
		char *sm = join(dir, "/variables/variables", "");
		char *smi = sm ? join(sm, ".index", "") : NULL;
		if (smi && is_file(smi)) {
			free(smi);
			return where_set(w, sm, "SavedModel variables/", err);
		}
		free(sm);
		free(smi);
		return tf_scan_dir(dir, w, err);
	}
	if ((rc = tf_state_path(state, &named, err)))
		goto out;
	p = named[0] == '/' ? strdup(named) : join(dir, "/", named);
	char *pi = p ? join(p, ".index", "") : NULL;
	int have = pi && is_file(pi);
	free(pi);
	if (!p) {
		rc = ck_error_set(err, CK_ENOMEM, "out of memory");
		goto out;
	}
	if (have) {
		rc = where_set(w, p, "checkpoint file", err);
		p = NULL;
		goto out;
	}
	/* the folder was moved since: the same name beside the state file */
	const char *base = strrchr(named, '/') ? strrchr(named, '/') + 1 : named;
	if (named[0] == '/' && *base) {
		alt = join(dir, "/", base);
		char *ai = alt ? join(alt, ".index", "") : NULL;
		have = ai && is_file(ai);
		free(ai);
		if (have) {
			char from[600];
			snprintf(from, sizeof from, "checkpoint file (it names '%.500s'; found beside it)", named);
			rc = where_set(w, alt, from, err);
			alt = NULL;
			goto out;
		}
		if (alt && is_file(alt)) {   /* a V1 table: let the reader say so */
			w->index = alt;
			alt = NULL;
			rc = (w->from = strdup("checkpoint file")) ? CK_OK : ck_error_set(err, CK_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (is_file(p)) {
		w->index = p;
		p = NULL;
		rc = (w->from = strdup("checkpoint file")) ? CK_OK : ck_error_set(err, CK_ENOMEM, "out of memory");
		goto out;
	}
	rc = ck_error_set(err, CK_ENOENT, "%s: names checkpoint '%s', but '%s.index' does not exist",
			  state, named, p);
out:
	free(state);
	free(named);
	free(alt);
	free(p);
	return rc;
}

ck_err ck_tf_where(const char *path, struct ck_tf_where *w, struct ck_error *err)
{
	memset(w, 0, sizeof *w);
	struct stat st;
	if (stat(path, &st) != 0)
		return where_set(w, strdup(path), "prefix", err);
	if (S_ISDIR(st.st_mode)) {
		char *dir = strdup(path);   /* "folder/" names files as "folder/x", not "folder//x" */
		if (!dir)
			return ck_error_set(err, CK_ENOMEM, "out of memory");
		for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--)
			dir[n - 1] = 0;
		ck_err rc = tf_where_dir(dir, w, err);
		free(dir);
		return rc;
	}
	size_t n = strlen(path), stem = shard_stem(path);
	if (ends_with(path, ".index"))
		return where_set(w, strndup(path, n - 6), ".index file", err);
	if (stem) {
		ck_err rc = where_set(w, strndup(path, stem), "data shard", err);
		if (rc == CK_OK && !is_file(w->index))
			rc = ck_error_set(err, CK_ENOENT, "%s: no index '%s' for this data shard", path, w->index);
		return rc;
	}
	char *pi = join(path, ".index", "");
	if (pi && is_file(pi)) {
		free(pi);
		return where_set(w, strdup(path), "prefix", err);
	}
	free(pi);
	w->index = strdup(path);   /* a table not named PREFIX.index: the reader says what it is */
	w->from = strdup("file");
	return w->index && w->from ? CK_OK : ck_error_set(err, CK_ENOMEM, "out of memory");
}

void ck_tf_where_release(struct ck_tf_where *w)
{
	free(w->index);
	free(w->prefix);
	free(w->from);
}

/* ---- probe ---------------------------------------------------------------------- */

int ck_tf_probe(const char *path, const uint8_t *head, size_t n, int is_dir)
{
	int score = 0;
	char *a = NULL, *b = NULL;
	if (is_dir < 0) {
		a = join(path, ".index", "");
		score = a && is_file(a) ? TF_PROBE_STRONG : 0;
	} else if (is_dir == 0) {
		size_t stem = shard_stem(path);
		if (ends_with(path, ".index")) {
			score = TF_PROBE_STRONG;
		} else if (stem && (a = strndup(path, stem)) && (b = join(a, ".index", "")) && is_file(b)) {
			score = TF_PROBE_FOLDER;
		} else if (n >= CK_TF_FOOTER_LEN && n < 4096) {
			/* the whole file is in head: a table by its magic (V1, or oddly named) */
			struct ck_cursor c;
			ck_cursor_init(&c, head + n - 8, 8);
			score = ck_cursor_u64le(&c) == CK_TF_MAGIC ? TF_PROBE_TABLE : 0;
		}
	} else {
		a = join(path, "/checkpoint", "");
		FILE *fp = a && is_file(a) ? fopen(a, "rb") : NULL;
		if (fp) {
			char text[4097];
			size_t k = fread(text, 1, sizeof text - 1, fp);
			text[k] = 0;
			fclose(fp);
			score = strstr(text, "model_checkpoint_path") ? TF_PROBE_FOLDER : 0;
		}
		if (!score && (b = join(path, "/variables/variables.index", "")) && is_file(b))
			score = TF_PROBE_FOLDER;
		DIR *d = score ? NULL : opendir(path);
		struct dirent *de;
		while (d && !score && (de = readdir(d)))
			if (ends_with(de->d_name, ".index") && strlen(de->d_name) > 6)
				score = TF_PROBE_LOOSE;
		if (d)
			closedir(d);
	}
	free(a);
	free(b);
	return score;
}

