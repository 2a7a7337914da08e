/*
 * fuzz_pickle.c — libFuzzer entry for the pickle reader (pickle.c,
 * pickle_globals.c) straight from the in-memory buffer, with a torch-style
 * persistent_load that accepts any well-formed storage id (5 fields as in a
 * zip checkpoint, 6 as in a legacy one) so rebuild functions and view checks
 * run.  A loaded tree then goes through the tree/_report walk, is dumped
 * with the protocol-2 writer and must load back to the same summary.
 */
#include "fuzz_util.h"
#include "pickle.h"
#include "torch.h"

#define PF_MAX_STORAGES 4096

/* Storages named by persistent ids; bytes never exist, so reads say EUNSUP. */
struct pf_sink {
	struct ck_ckpt *ck;     /* borrowed */
	struct ck_strmap keys;  /* storage key -> index */
};

static ck_err pf_persistent_load(void *ctx, struct ck_value *pid, struct ck_value **out, struct ck_error *err)
{
	struct pf_sink *s = ctx;
	const char *path = s->ck->path;
	int nfields = pid && pid->kind == CK_V_TUPLE && pid->u.seq.n == 6 ? 6 : 5;
	struct ck_torch_pid p;
	ck_err rc = ck_torch_pid_parse(path, pid, nfields, &p, err);
	if (rc)
		return rc;
	long idx = ck_strmap_get(&s->keys, p.key, strlen(p.key));
	if (idx < 0) {
		if (s->ck->nstorages >= PF_MAX_STORAGES)
			return ck_error_set(err, CK_ELIMIT, "%s: too many storages", path);
		/* pid_parse checked numel * itemsize */
		idx = ck_ckpt_add_storage(s->ck, p.key, p.dtype, p.numel * ck_dtype_size(p.dtype), -1, 0);
		if (idx < 0 || ck_strmap_put(&s->keys, p.key, strlen(p.key), idx))
			return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	}
	struct ck_value *v = ck_value_new(CK_V_STORAGE);
	if (!v)
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", path);
	v->u.i = idx;
	*out = v;
	return CK_OK;
}

/* Loads p[0..n) into a fresh checkpoint shell.  *out owned by caller; NULL
 * when the pickle (or its tensors' views) is refused. */
static ck_err pf_load(const uint8_t *p, size_t n, const char *name, struct ck_ckpt **out, struct ck_error *err)
{
	*out = NULL;
	struct ck_ckpt *ck = calloc(1, sizeof *ck);
	if (!ck || !(ck->path = strdup(name))) {
		free(ck);
		return ck_error_set(err, CK_ENOMEM, "%s: out of memory", name);
	}
	ck->sep = '.';
	struct pf_sink sink = {.ck = ck};
	ck_strmap_init(&sink.keys);
	struct ck_pickle_hooks hooks = {.persistent_load = pf_persistent_load, .ctx = &sink, .ck = ck};
	size_t used = 0;
	ck_err rc = ck_pickle_load(p, n, &hooks, name, &ck->root, &used, err);
	ck_strmap_release(&sink.keys);
	if (rc == CK_OK && used > n)
		ck_fuzz_die("the pickle reader consumed %zu of %zu bytes", used, n);
	if (rc == CK_OK && !ck->root)
		ck_fuzz_die("the pickle reader returned CK_OK and no value");
	if (rc == CK_OK)
		rc = ck_torch_check_tensors(ck, err);
	if (rc) {
		ck_ckpt_free(ck);
		return rc;
	}
	*out = ck;
	return CK_OK;
}

static const char *pf_key(void *ctx, long s)
{
	const struct ck_ckpt *ck = ctx;
	return s >= 0 && (size_t)s < ck->nstorages ? ck->storages[s].key : NULL;
}

static uint64_t pf_numel(void *ctx, long s)
{
	const struct ck_ckpt *ck = ctx;
	if (s < 0 || (size_t)s >= ck->nstorages)
		return 0;
	size_t is = ck_dtype_size(ck->storages[s].dtype);
	return is ? ck->storages[s].nbytes / is : 0;
}

static enum ck_dtype pf_dtype(void *ctx, long s)
{
	const struct ck_ckpt *ck = ctx;
	return s >= 0 && (size_t)s < ck->nstorages ? ck->storages[s].dtype : CK_DT_INVALID;
}

/* What torch_write.c does with a tree: dump it; what was dumped must load. */
static void pf_dump_reload(struct ck_ckpt *ck, const char *summary)
{
	struct ck_pickle_writer_ops ops = {.storage_key = pf_key, .storage_numel = pf_numel,
					   .storage_dtype = pf_dtype, .ctx = ck};
	struct ck_buf out;
	struct ck_error err = {0};
	ck_buf_init(&out);
	ck_err rc = ck_pickle_dump(ck->root, &ops, &out, &err);
	ck_fuzz_check_error(rc, &err);
	if (rc == CK_OK && !out.oom) {
		struct ck_ckpt *back = NULL;
		rc = pf_load(out.p, out.len, "dumped.pkl", &back, &err);
		if (rc)
			ck_fuzz_die("the pickle writer made a pickle its reader refuses: %s", err.msg);
		struct ck_tree *t = NULL;
		if ((rc = ck_tree_build(back, &t, &err)))
			ck_fuzz_die("a dumped pickle has no tree: %s", err.msg);
		char *again = ck_fuzz_summary(back, t);
		if (summary && again && strcmp(summary, again) != 0)
			ck_fuzz_die("a pickle dump/load changed the tree\n--- read:\n%s--- dumped and read back:\n%s",
				    summary, again);
		free(again);
		ck_tree_free(t);
		ck_ckpt_free(back);
	}
	ck_buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > CK_FUZZ_MAX_INPUT)
		return 0;
	struct ck_error err = {0};
	struct ck_ckpt *ck = NULL;
	ck_err rc = pf_load(data, size, "fuzz.pkl", &ck, &err);
	ck_fuzz_check_error(rc, &err);
	ck_fuzz_note("pickle", rc, &err);
	if (rc)
		return 0;
	struct ck_tree *t = NULL;
	if (ck_tree_build(ck, &t, &err) == CK_OK) {
		char *summary = ck_fuzz_summary(ck, t);
		pf_dump_reload(ck, summary);
		free(summary);
		ck_tree_free(t);
	}
	ck_fuzz_exercise(ck, NULL, NULL);
	ck_ckpt_free(ck);
	return 0;
}
