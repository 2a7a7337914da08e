/*
 * report.h — the `_report` text (design.md §5): what does not fit a reference,
 * and the shell commands that would fix the most.
 */
#ifndef CK_REPORT_H
#define CK_REPORT_H

#include "ck.h"
#include "tree.h"

struct ck_reference;

/* Loads a reference: a checkpoint in any supported format, or a text file of
 * "KEY [d1,d2,...]" lines (shape optional, blank lines and # comments ignored).
 * *out owned by caller (ck_reference_free). */
ck_err ck_reference_load(const char *path, struct ck_reference **out, struct ck_error *err);
void ck_reference_free(struct ck_reference *r);

/* The report of t against ref (ref NULL: what the checkpoint says about itself).
 * json != 0 gives the JSON form.  *ok set to 1 when status is ok.  malloc'd text,
 * NULL on ENOMEM.  Reads only keys, shapes and dtypes: safe to call after every change. */
char *ck_report_text(const struct ck_tree *t, const struct ck_reference *ref, int json, int *ok);

#endif
