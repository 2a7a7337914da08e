/*
 * fuzz_remap.c — libFuzzer entry for the change journal and remap.json
 * (journal.c: ck_remap_apply_file) and the tree operations they replay
 * (tree.c: rename/unlink/rmdir/mkdir on escaped paths), applied to a small
 * built-in checkpoint that has the awkward cases: a key that is also a
 * prefix (a.b beside a.b.c), an empty segment, '/' and '%' in a key, int 1
 * beside str "1", nested optimizer state, plain values, a shared storage.
 *
 * After the input is applied (fully or up to its first refused change):
 *  1. every leaf must be found again by its own path, and _report/shape run;
 *  2. the changed tree, committed as a torch zip and read back, must show
 *     exactly the keys, shapes and bytes the tree showed (what a user sees
 *     in the mount is what the commit writes);
 *  3. the remap.json the commit would write, applied to a fresh tree, must
 *     give the same remap and shape text (its "ops" replay exactly).
 */
#include <cjson/cJSON.h>

#include "commit.h"
#include "fuzz_util.h"

extern const struct ck_format ck_format_pytorch;

#define FR_DATA 4096   /* bytes of the built-in checkpoint's one data file */

static struct ck_ckpt *fr_ck;   /* built once, lives as long as the process */

static struct ck_value *fr_tensor(struct ck_ckpt *ck, int64_t d0, int64_t d1, long storage, int64_t offset)
{
	struct ck_tensor *t = ck_tensor_new(CK_DT_F32, d1 ? 2 : 1);
	if (!t)
		abort();
	t->shape[0] = d0;
	t->stride[0] = d1 ? d1 : 1;
	if (d1) {
		t->shape[1] = d1;
		t->stride[1] = 1;
	}
	t->storage = storage < 0 ? (long)ck->nstorages : storage;
	t->offset = offset;
	if (storage < 0) {
		char key[16];
		snprintf(key, sizeof key, "%zu", ck->nstorages);
		if (ck_ckpt_add_storage(ck, key, CK_DT_F32, 64, 0, 64 * ck->nstorages) < 0)
			abort();
	}
	struct ck_error err;
	if (ck_tensor_check(ck, t, "built-in", &err) != CK_OK)
		abort();
	return ck_value_tensor(t);
}

static void fr_set(struct ck_value *d, struct ck_value *k, struct ck_value *v)
{
	if (!k || !v || ck_value_setitem(d, k, v) != CK_OK)
		abort();
}

static struct ck_value *fr_dict(int ordered)
{
	struct ck_value *d = ck_value_new(CK_V_DICT);
	if (!d)
		abort();
	d->u.dict.ordered = ordered;
	return d;
}

static struct ck_ckpt *fr_build(void)
{
	struct ck_ckpt *ck = calloc(1, sizeof *ck);
	int fd = memfd_create("ckptfs-fuzz-data", MFD_CLOEXEC);
	if (!ck || fd < 0)
		abort();
	uint8_t bytes[FR_DATA];
	for (size_t i = 0; i < sizeof bytes; i++)
		bytes[i] = (uint8_t)(i * 7 + (i >> 8));
	if (pwrite(fd, bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes)
		abort();
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	struct ck_error err;
	ck->path = strdup("fuzz_remap.pt");
	ck->fmt = &ck_format_pytorch;  /* its close op ignores a NULL priv */
	ck->sep = '.';
	if (!ck->path || ck_ckpt_add_file(ck, path, &err) != 0)
		abort();
	close(fd);
	struct ck_value *sd = fr_dict(1);
	static const char *const flat[] = {
		"bert.embeddings.word_embeddings.weight", "bert.embeddings.LayerNorm.gamma",
		"bert.embeddings.LayerNorm.beta", "bert.encoder.layer.0.attention.self.query.weight",
		"bert.encoder.layer.0.attention.self.query.bias", "cls.predictions.bias",
		"a.b", "a.b.c", "x..y", "odd/name%", "module.0.weight",
	};
	for (size_t i = 0; i < sizeof flat / sizeof *flat; i++)
		fr_set(sd, ck_value_str(flat[i]), fr_tensor(ck, 4, i % 2 ? 0 : 4, -1, 0));
	/* a view into the query weight's storage */
	fr_set(sd, ck_value_str("bert.encoder.layer.1.output.dense.weight"), fr_tensor(ck, 2, 4, 3, 8));
	fr_set(sd, ck_value_int(1), fr_tensor(ck, 2, 0, -1, 0));
	fr_set(sd, ck_value_str("1"), fr_tensor(ck, 3, 0, -1, 0));
	fr_set(sd, ck_value_str("epoch"), ck_value_int(7));
	fr_set(sd, ck_value_str("lr"), ck_value_float(0.001));
	fr_set(sd, ck_value_str("note"), ck_value_str("hello"));
	fr_set(sd, ck_value_str("none"), ck_value_new(CK_V_NONE));
	struct ck_value *state = fr_dict(0), *s0 = fr_dict(0), *opt = fr_dict(0), *pg = fr_dict(0);
	struct ck_value *groups = ck_value_new(CK_V_LIST), *params = ck_value_new(CK_V_LIST);
	if (!groups || !params)
		abort();
	fr_set(s0, ck_value_str("exp_avg"), fr_tensor(ck, 4, 0, -1, 0));
	fr_set(s0, ck_value_str("step"), ck_value_int(3));
	fr_set(state, ck_value_int(0), s0);
	if (ck_value_append(params, ck_value_int(0)) || ck_value_append(params, ck_value_int(1)))
		abort();
	fr_set(pg, ck_value_str("lr"), ck_value_float(0.1));
	fr_set(pg, ck_value_str("params"), params);
	if (ck_value_append(groups, pg))
		abort();
	fr_set(opt, ck_value_str("state"), state);
	fr_set(opt, ck_value_str("param_groups"), groups);
	fr_set(sd, ck_value_str("optimizer"), opt);
	ck->root = sd;
	return ck;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	fr_ck = fr_build();
	return 0;
}

static char *fr_text(const struct ck_tree *t)
{
	char *remap = ck_tree_remap_text(t), *shape = ck_tree_shape_text(t, t->root), *out = NULL;
	if (remap && shape && asprintf(&out, "%s--\n%s", remap, shape) < 0)
		out = NULL;
	free(remap);
	free(shape);
	return out;
}

/* Applies the remap.json t's commit would write to a fresh tree: same result. */
static void fr_replay(const struct ck_tree *t, const char *text)
{
	const char *dir = ck_fuzz_dir();
	if (!dir || !text)
		return;
	char path[512];
	snprintf(path, sizeof path, "%s/remap.json", dir);
	struct ck_error err = {0};
	ck_err rc = ck_remap_write_json(t, path, &err);
	ck_fuzz_check_error(rc, &err);
	if (rc)
		return;
	struct ck_tree *t2 = NULL;
	if (ck_tree_build(fr_ck, &t2, &err))
		ck_fuzz_die("the built-in tree does not build: %s", err.msg);
	if ((rc = ck_remap_apply_file(t2, path, &err)))
		ck_fuzz_die("the remap.json of a changed tree does not apply to a fresh one: %s", err.msg);
	char *again = fr_text(t2);
	if (again && strcmp(again, text) != 0)
		ck_fuzz_die("replaying remap.json gave another tree\n--- changed:\n%s--- replayed:\n%s", text, again);
	free(again);
	ck_tree_free(t2);
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CK_FUZZ_MAX_INPUT)
		return 0;
	if (!fr_ck)
		fr_ck = fr_build();
	char path[64];
	if (ck_fuzz_memfd(data, size, path, sizeof path) != 0)
		return 0;
	struct ck_error err = {0};
	struct ck_tree *t = NULL;
	if (ck_tree_build(fr_ck, &t, &err))
		ck_fuzz_die("the built-in tree does not build: %s", err.msg);
	ck_err rc = ck_remap_apply_file(t, path, &err);
	ck_fuzz_check_error(rc, &err);
	ck_fuzz_note("remap", rc, &err);
	/* a refused change leaves the ones before it applied: that state counts too */
	char *summary = ck_fuzz_summary(fr_ck, t);
	int ok;
	free(ck_report_text(t, NULL, 0, &ok));
	ck_fuzz_roundtrip(fr_ck, t, &ck_format_pytorch, &ck_format_pytorch, summary);
	free(summary);
	char *text = fr_text(t);
	fr_replay(t, text);
	free(text);
	ck_tree_free(t);
	return 0;
}
