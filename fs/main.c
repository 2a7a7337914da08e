/*
 * main.c — the ckptfs command line: mount (default), umount, ls, report,
 * apply, convert.  Everything but mount/umount uses the format library alone,
 * so it works without /dev/fuse.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commit.h"
#include "report.h"
#include "tree.h"

#define EXIT_INPUT 1
#define EXIT_USAGE 2
#define EXIT_INCOMPATIBLE 3

static const char usage_text[] =
	"usage: ckptfs [OPTIONS] CHECKPOINT MOUNTPOINT   mount (background unless -f)\n"
	"       ckptfs umount MOUNTPOINT                 unmount, wait for the commit, print its path\n"
	"       ckptfs ls CHECKPOINT                     list tensors: KEY DTYPE [d1,d2,...]\n"
	"       ckptfs report CHECKPOINT [--reference REF] [--json]\n"
	"       ckptfs apply CHECKPOINT --remap FILE -o OUT [--force] [--format FMT]\n"
	"       ckptfs convert CHECKPOINT -o OUT [--force]\n"
	"\n"
	"mount options:\n"
	"  -f                 stay in the foreground\n"
	"  -d                 FUSE debug output (implies -f)\n"
	"  -o ro              read-only: renames and deletes fail with EROFS, nothing is committed\n"
	"  -o OPT[,OPT...]    other FUSE mount options, passed through\n"
	"  --output PATH      where the commit writes (default: beside the source, STEM.remapped.EXT)\n"
	"  --format FMT       output format: pytorch, safetensors, hf, tf, gguf, npz, npy (default: the input's)\n"
	"  --reference REF    compare with REF in _report (a checkpoint, or lines `KEY [d1,d2]`)\n"
	"  --remap FILE       start with a recorded remap (remap.json or journal) applied\n"
	"  --force            allow the commit to replace an existing output\n"
	"  --help, --version\n"
	"\n"
	"exit status: 0 ok, 1 input or commit error, 2 usage, 3 report incompatible\n";

/* One line, like every other error, so scripts can show it as is. */
static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "ckptfs: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see 'ckptfs --help')\n");
	return EXIT_USAGE;
}

static int input_error(const struct ck_error *err)
{
	fprintf(stderr, "ckptfs: %s\n", err->msg);
	return err->code == CK_EUSAGE ? EXIT_USAGE : EXIT_INPUT;
}

enum { OPT_OUTPUT = 256, OPT_FORMAT, OPT_REFERENCE, OPT_REMAP, OPT_FORCE, OPT_JSON, OPT_HELP, OPT_VERSION };

static const struct option long_opts[] = {
	{"output", required_argument, NULL, OPT_OUTPUT},
	{"format", required_argument, NULL, OPT_FORMAT},
	{"reference", required_argument, NULL, OPT_REFERENCE},
	{"remap", required_argument, NULL, OPT_REMAP},
	{"force", no_argument, NULL, OPT_FORCE},
	{"json", no_argument, NULL, OPT_JSON},
	{"help", no_argument, NULL, OPT_HELP},
	{"version", no_argument, NULL, OPT_VERSION},
	{NULL, 0, NULL, 0},
};

struct args {
	struct ck_mount_opts m;
	int json;
	char *fuse_opts;   /* owned */
	const char *pos[3];
	int npos;
};

/* Adds one -o list; "ro" is ours, the rest goes to FUSE. */
static int add_fuse_opts(struct args *a, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	if (!copy)
		return 0;
	for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		if (strcmp(o, "ro") == 0) {
			a->m.read_only = 1;
			continue;
		}
		if (strcmp(o, "rw") == 0)
			continue;
		size_t old = a->fuse_opts ? strlen(a->fuse_opts) : 0;
		char *n = realloc(a->fuse_opts, old + strlen(o) + 2);
		if (!n) {
			free(copy);
			return 0;
		}
		if (old)
			n[old++] = ',';
		strcpy(n + old, o);
		a->fuse_opts = n;
	}
	free(copy);
	return 1;
}

/* Parses argv after the subcommand word; returns -1 to go on, else an exit status. */
static int parse(int argc, char **argv, struct args *a, int max_pos)
{
	int c;
	optind = 1;
	opterr = 0;
	/* the leading ':' makes a missing argument ':' rather than '?' */
	while ((c = getopt_long(argc, argv, ":fdo:", long_opts, NULL)) != -1) {
		switch (c) {
		case 'f': a->m.foreground = 1; break;
		case 'd': a->m.debug = 1; a->m.foreground = 1; break;
		case 'o':
			/* `-o OUT` is the output for apply/convert, FUSE options for mount */
			if (max_pos == 1)
				a->m.output = optarg;
			else if (!add_fuse_opts(a, optarg))
				return EXIT_INPUT;
			break;
		case OPT_OUTPUT: a->m.output = optarg; break;
		case OPT_FORMAT: a->m.format = optarg; break;
		case OPT_REFERENCE: a->m.reference = optarg; break;
		case OPT_REMAP: a->m.remap = optarg; break;
		case OPT_FORCE: a->m.force = 1; break;
		case OPT_JSON: a->json = 1; break;
		case OPT_HELP: fputs(usage_text, stdout); return 0;
		case OPT_VERSION: printf("ckptfs %s\n", CK_VERSION); return 0;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		case '?':
		default:
			if (optopt && optopt < 256)
				return usage_error("unknown option '-%s'", (char[]){(char)optopt, 0});
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	for (; optind < argc; optind++) {
		if (a->npos >= max_pos)
			return usage_error("unexpected argument '%s'", argv[optind]);
		a->pos[a->npos++] = argv[optind];
	}
	if (a->npos < max_pos)
		return usage_error("%s", max_pos == 2 ? "need CHECKPOINT and MOUNTPOINT" : "missing argument");
	return -1;
}

static int open_tree(const char *path, struct ck_ckpt **ck, struct ck_tree **t, struct ck_error *err)
{
	*t = NULL;
	ck_err rc = ck_ckpt_open(path, ck, err);
	if (rc)
		return rc;
	rc = ck_tree_build(*ck, t, err);
	if (rc) {
		ck_ckpt_free(*ck);
		*ck = NULL;
	}
	return rc;
}

/* Prints and frees a text the library built; NULL means it ran out of memory. */
static int put_text(const char *path, char *s, int rc)
{
	if (!s) {
		fprintf(stderr, "ckptfs: %s: out of memory\n", path);
		return EXIT_INPUT;
	}
	fputs(s, stdout);
	free(s);
	return rc;
}

static int cmd_ls(struct args *a)
{
	struct ck_error err;
	struct ck_ckpt *ck;
	struct ck_tree *t;
	if (open_tree(a->pos[0], &ck, &t, &err))
		return input_error(&err);
	int rc = put_text(a->pos[0], ck_tree_shape_text(t, t->root), 0);
	ck_tree_free(t);
	ck_ckpt_free(ck);
	return rc;
}

static int cmd_report(struct args *a)
{
	struct ck_error err;
	struct ck_ckpt *ck;
	struct ck_tree *t;
	struct ck_reference *ref = NULL;
	if (a->m.reference && ck_reference_load(a->m.reference, &ref, &err))
		return input_error(&err);
	if (open_tree(a->pos[0], &ck, &t, &err)) {
		ck_reference_free(ref);
		return input_error(&err);
	}
	int ok = 0;
	char *s = ck_report_text(t, ref, a->json, &ok);
	int rc = put_text(a->pos[0], s, ok ? 0 : EXIT_INCOMPATIBLE);
	ck_reference_free(ref);
	ck_tree_free(t);
	ck_ckpt_free(ck);
	return rc;
}

/* apply and convert: open, maybe remap, commit to -o OUT. */
static int cmd_write(struct args *a, int apply)
{
	if (!a->m.output)
		return usage_error("%s", "missing -o OUT");
	if (apply && !a->m.remap)
		return usage_error("%s", "missing --remap FILE");
	struct ck_error err;
	struct ck_ckpt *ck;
	struct ck_tree *t;
	if (open_tree(a->pos[0], &ck, &t, &err))
		return input_error(&err);
	int rc = 0;
	char *out = NULL;
	struct ck_commit_opts o = {
		.output = a->m.output, .format = a->m.format, .force = a->m.force, .always = 1,
	};
	if ((apply && ck_remap_apply_file(t, a->m.remap, &err)) || ck_commit(ck, t, &o, &out, &err))
		rc = input_error(&err);
	else
		printf("%s\n", out);
	free(out);
	ck_tree_free(t);
	ck_ckpt_free(ck);
	return rc;
}

int main(int argc, char **argv)
{
	struct args a = {0};
	int rc;
	const char *cmd = argc > 1 ? argv[1] : "";
	int sub = strcmp(cmd, "ls") == 0 || strcmp(cmd, "report") == 0 || strcmp(cmd, "apply") == 0 ||
		  strcmp(cmd, "convert") == 0 || strcmp(cmd, "umount") == 0;
	if (sub) {
		int one = 1;
		rc = parse(argc - 1, argv + 1, &a, one);
		if (rc >= 0)
			goto out;
		if (strcmp(cmd, "ls") == 0)
			rc = cmd_ls(&a);
		else if (strcmp(cmd, "report") == 0)
			rc = cmd_report(&a);
		else if (strcmp(cmd, "apply") == 0)
			rc = cmd_write(&a, 1);
		else if (strcmp(cmd, "convert") == 0)
			rc = cmd_write(&a, 0);
		else
			rc = ck_umount_run(a.pos[0]);
		goto out;
	}
	rc = parse(argc, argv, &a, 2);
	if (rc >= 0)
		goto out;
	a.m.checkpoint = a.pos[0];
	a.m.mountpoint = a.pos[1];
	a.m.fuse_opts = a.fuse_opts;
	rc = ck_mount_run(&a.m);
out:
	free(a.fuse_opts);
	return rc;
}
