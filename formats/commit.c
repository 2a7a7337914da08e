/*
 * commit.c — writing the current tree as a NEW checkpoint, atomically:
 * a temporary file (or folder) beside the output, fsynced, renamed into place
 * without replacing an existing output unless forced, then OUT.remap.json.
 * The source is never opened for writing; any failure removes the temporary
 * and leaves the source, an existing output and the journal as they were.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit.h"

/* Format names users type, to the registry's names. */
static const struct ck_format *format_named(const char *name)
{
	static const struct { const char *alias, *name; } aliases[] = {
		{"torch", "pytorch"}, {"pt", "pytorch"}, {"bin", "pytorch"}, {"zip", "pytorch"},
		{"st", "safetensors"}, {"huggingface", "hf"}, {"folder", "hf"},
	};
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcmp(name, aliases[i].alias) == 0)
			name = aliases[i].name;
	return ck_format_by_name(name);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The writer for this commit: --format, else the name of an explicit output,
 * else the input's own (a format without a writer, like legacy torch, is
 * written as a torch zip). */
static const struct ck_format *output_format(const struct ck_ckpt *ck, const struct ck_commit_opts *o,
					     struct ck_error *err)
{
	const struct ck_format *f = NULL;
	if (o->format) {
		f = format_named(o->format);
		if (!f) {
			char names[256] = "";  /* the registry's writers, so the list never goes stale */
			for (size_t i = 0; ck_formats[i]; i++)
				if (ck_formats[i]->write && strcmp(ck_formats[i]->name, "pytorch-legacy") != 0)
					snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
						 *names ? ", " : "", ck_formats[i]->name);
			ck_error_set(err, CK_EUSAGE, "unknown output format '%s' (%s)", o->format, names);
		}
		else if (!f->write)
			ck_error_set(err, CK_EUNSUP, "no writer for format '%s'", o->format);
		return f && f->write ? f : NULL;
	}
	if (o->output && o->always) {
		/* convert/apply: OUT's name says the format */
		const char *out = o->output;
		for (size_t i = 0; ck_formats[i] && !f; i++)
			if (ck_formats[i]->write && *ck_formats[i]->ext && ends_with(out, ck_formats[i]->ext))
				f = ck_formats[i];
		if (!f && (ends_with(out, ".bin") || ends_with(out, ".pth") || ends_with(out, ".th") ||
			   ends_with(out, ".ckpt")))
			f = format_named("pytorch");
		const char *base = strrchr(out, '/') ? strrchr(out, '/') + 1 : out;
		const char *dot = strrchr(base, '.');
		const char *src_dot = strrchr(ck->path, '.');
		if (!f && (!*base || !dot))  /* a folder */
			f = ck->fmt->write && !*ck->fmt->ext ? ck->fmt : format_named("hf");
		else if (!f && !(src_dot && strcmp(src_dot, dot) == 0)) {
			/* guessing would silently write something the name does not promise */
			ck_error_set(err, CK_EUSAGE, "%s: cannot tell the output format from '%s'; use --format",
				     out, dot);
			return NULL;
		}
	}
	if (!f || !f->write)
		f = ck->fmt->write ? ck->fmt : format_named("pytorch");
	if (!f || !f->write)
		ck_error_set(err, CK_EUNSUP, "%s: no writer for this format", ck->path);
	return f && f->write ? f : NULL;
}

ck_err ck_commit_output_path(const struct ck_ckpt *ck, const struct ck_commit_opts *o,
			     char **out, struct ck_error *err)
{
	*out = NULL;
	/* first, so a bad --format is refused at mount time even with --output */
	const struct ck_format *f = output_format(ck, o, err);
	if (!f)
		return err->code;
	if (o->output) {
		*out = strdup(o->output);
		size_t n = *out ? strlen(*out) : 0;
		while (n > 1 && (*out)[n - 1] == '/')
			(*out)[--n] = 0;
		return *out ? CK_OK : ck_error_set(err, CK_ENOMEM, "out of memory");
	}
	char *src = strdup(ck->path);
	if (!src)
		return ck_error_set(err, CK_ENOMEM, "out of memory");
	size_t n = strlen(src);
	while (n > 1 && src[n - 1] == '/')
		src[--n] = 0;
	if (f->ext && !*f->ext) {
		/* folder formats (HF, TF): NAME.remapped beside the folder, prefix or .index */
		if (ends_with(src, ".index") && n > 6)
			src[n -= 6] = 0;
		size_t len = n + sizeof ".remapped";
		*out = malloc(len);
		if (*out)
			snprintf(*out, len, "%s.remapped", src);
		free(src);
		return *out ? CK_OK : ck_error_set(err, CK_ENOMEM, "out of memory");
	}
	struct stat st;
	int is_dir = stat(src, &st) == 0 && S_ISDIR(st.st_mode);
	const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
	const char *dot = is_dir ? NULL : strrchr(base, '.');
	if (dot == base)
		dot = NULL; /* ".hidden" has no extension */
	size_t stem = dot ? (size_t)(dot - src) : n;
	const char *ext = dot ? dot : "";
	if (f != ck->fmt && f->ext && (o->format || !dot))
		ext = f->ext; /* a new format gets its own extension */
	size_t len = stem + strlen(".remapped") + strlen(ext) + 1;
	*out = malloc(len);
	if (*out)
		snprintf(*out, len, "%.*s.remapped%s", (int)stem, src, ext);
	free(src);
	return *out ? CK_OK : ck_error_set(err, CK_ENOMEM, "out of memory");
}

static int remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		char sub[PATH_MAX];
		snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
		remove_tree(sub);
	}
	closedir(d);
	return rmdir(path);
}

/* fsync a file, or every file of a folder and the folder itself. */
static int sync_tree(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	int rc = fstat(fd, &st);
	if (rc == 0 && S_ISDIR(st.st_mode)) {
		DIR *d = fdopendir(dup(fd));
		struct dirent *e;
		while (d && (e = readdir(d)) && rc == 0) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char sub[PATH_MAX];
			snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
			rc = sync_tree(sub);
		}
		if (d)
			closedir(d);
	}
	if (rc == 0)
		rc = fsync(fd);
	close(fd);
	return rc;
}

static void sync_parent(const char *path)
{
	char *copy = strdup(path);
	if (!copy)
		return;
	int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

/* Moves tmp to out: never over an existing output unless force. */
static ck_err install(const char *tmp, const char *out, int force, struct ck_error *err)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_NOREPLACE) == 0)
		return CK_OK;
	int e = errno;
	if (e == EEXIST && !force)
		return ck_error_set(err, CK_EEXIST, "%s: output exists (use --force to replace it)", out);
	if (e == EEXIST) {
		/* swap in one step, so a reader never sees no output */
		if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_EXCHANGE) == 0) {
			remove_tree(tmp); /* tmp now holds the old output */
			return CK_OK;
		}
		if (rename(tmp, out) == 0)
			return CK_OK;
		e = errno;
	} else if (e == EINVAL || e == ENOSYS) {
		/* a filesystem without RENAME_NOREPLACE: link() refuses to replace too */
		struct stat st;
		if (!force && lstat(out, &st) == 0)
			return ck_error_set(err, CK_EEXIST, "%s: output exists (use --force to replace it)", out);
		if (rename(tmp, out) == 0)
			return CK_OK;
		e = errno;
	}
	return ck_error_errno(err, e == ENOSPC ? CK_ENOSPC : CK_EIO, e, "%s", out);
}

static int same_file(const char *a, const char *b)
{
	struct stat sa, sb;
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* 1 if path is below folder dir (both resolved, so links and ".." do not hide it). */
static int inside(const char *path, const char *dir)
{
	char *p = realpath(path, NULL), *d = realpath(dir, NULL);
	size_t dl = d ? strlen(d) : 0;
	int r = p && d && strncmp(p, d, dl) == 0 && (p[dl] == '/' || (dl == 1 && d[0] == '/'));
	free(p);
	free(d);
	return r;
}

/* Refuses an output that is, or (with --force, which deletes the old output)
 * holds, a source file; one that exists without force; one whose folder is missing. */
static ck_err check_output(const struct ck_ckpt *ck, const char *out, int force, struct ck_error *err)
{
	for (size_t i = 0; i < ck->nfiles; i++)
		if (same_file(out, ck->files[i].path) || same_file(out, ck->path) ||
		    inside(ck->files[i].path, out))
			return ck_error_set(err, CK_EINVAL, "%s: output would overwrite the source", out);
	struct stat st;
	if (!force && lstat(out, &st) == 0)
		return ck_error_set(err, CK_EEXIST, "%s: output exists (use --force to replace it)", out);
	char *copy = strdup(out);
	if (!copy)
		return ck_error_set(err, CK_ENOMEM, "out of memory");
	int ok = stat(dirname(copy), &st) == 0 && S_ISDIR(st.st_mode);
	free(copy);
	if (!ok)
		return ck_error_set(err, CK_ENOENT, "%s: the output's folder does not exist", out);
	return CK_OK;
}

ck_err ck_commit(struct ck_ckpt *ck, struct ck_tree *t, const struct ck_commit_opts *o,
		 char **out_path, struct ck_error *err)
{
	*out_path = NULL;
	if (!o->always && !ck_tree_changed(t))
		return CK_OK;
	const struct ck_format *f = output_format(ck, o, err);
	if (!f)
		return err->code;
	char *out = NULL, *tmp = NULL, *remap = NULL;
	struct ck_value *root = NULL;
	ck_err rc = ck_commit_output_path(ck, o, &out, err);
	if (rc)
		return rc;
	rc = check_output(ck, out, o->force, err);
	if (rc)
		goto done;
	struct stat st;
	rc = ck_tree_to_value(t, &root, err);
	if (rc)
		goto done;
	/* the temporary lives beside the output so the final rename is atomic */
	size_t len = strlen(out) + 64;
	tmp = malloc(len);
	remap = malloc(len);
	if (!tmp || !remap) {
		rc = ck_error_set(err, CK_ENOMEM, "out of memory");
		goto done;
	}
	char *slash = strrchr(out, '/');
	for (unsigned i = 0;; i++) {
		snprintf(tmp, len, "%.*s.%s.ckptfs-tmp-%d-%u", slash ? (int)(slash - out + 1) : 0, out,
			 slash ? slash + 1 : out, (int)getpid(), i);
		if (lstat(tmp, &st) != 0)
			break;
	}
	snprintf(remap, len, "%s.remap.json", out);
	struct ck_write_req req = {.src = ck, .root = root, .path = tmp, .final_path = out};
	rc = f->write(&req, err);
	if (!rc && sync_tree(tmp) != 0)
		rc = ck_error_errno(err, errno == ENOSPC ? CK_ENOSPC : CK_EIO, errno, "%s", tmp);
	if (!rc)
		rc = install(tmp, out, o->force, err);
	if (rc) {
		remove_tree(tmp);
		goto done;
	}
	sync_parent(out);
	rc = ck_remap_write_json(t, remap, err);
	if (rc)
		goto done; /* the checkpoint is in place; say why the record is missing */
	sync_parent(remap);
	*out_path = out;
	out = NULL;
done:
	ck_value_unref(root);
	free(out);
	free(tmp);
	free(remap);
	return rc;
}
