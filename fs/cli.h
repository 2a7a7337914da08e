/*
 * cli.h — what the command-line front end (main.c) hands to the mount driver
 * (mount.c) and the other subcommands.
 */
#ifndef CK_CLI_H
#define CK_CLI_H

#include "ck.h"

struct ck_mount_opts {
	const char *checkpoint;   /* as given */
	const char *mountpoint;
	int foreground;           /* -f */
	int read_only;            /* -o ro */
	int force;                /* --force */
	const char *output;       /* --output, or NULL for STEM.remapped.EXT */
	const char *format;       /* --format, or NULL for the input's */
	const char *reference;    /* --reference, or NULL */
	const char *remap;        /* --remap FILE, or NULL */
	const char *fuse_opts;    /* other -o options, comma-joined, passed to FUSE; may be NULL */
	int debug;                /* -d */
};

/* Mounts and serves until unmounted; commits on unmount.  Returns the exit status. */
int ck_mount_run(const struct ck_mount_opts *o);
/* `ckptfs umount MOUNTPOINT`: unmount, wait for the commit, print the output path. */
int ck_umount_run(const char *mountpoint);

#endif
