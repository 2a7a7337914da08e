/* test_report.c — the `_report` text and JSON against constructed checkpoints:
 * BERT pre-training vs BertModel, DDP and gamma/beta checkpoints, prefixes to
 * add or replace, shape/dtype mismatches, the self-check with config.json, the
 * key-list parser (with a table of broken lists), and every hint command run by
 * a real shell against a directory tree made from the checkpoint until the
 * report says ok.  Also times a 100k-key report. */
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "report.h"
#include "report_int.h"
#include "tree.h"

/* ---- building checkpoints ------------------------------------------------------ */

#define V 30 /* vocab */
#define H 8  /* hidden */
#define P 16 /* positions */
#define I 32 /* intermediate */

static struct ck_value *tensor_dt(enum ck_dtype dt, int ndim, const int64_t *dims)
{
	struct ck_tensor *t = ck_tensor_new(dt, ndim);
	ck_assert_ptr_nonnull(t);
	int64_t st = 1;
	for (int i = ndim; i-- > 0;) {
		t->shape[i] = dims[i];
		t->stride[i] = st;
		st *= dims[i];
	}
	ck_tensor_update_nbytes(t);
	return ck_value_tensor(t);
}

static struct ck_value *t1(int64_t a)
{
	return tensor_dt(CK_DT_F32, 1, (int64_t[]){a});
}

static struct ck_value *t2(int64_t a, int64_t b)
{
	return tensor_dt(CK_DT_F32, 2, (int64_t[]){a, b});
}

static void set(struct ck_value *d, const char *k, struct ck_value *v)
{
	ck_assert_int_eq(ck_value_setitem(d, ck_value_str(k), v), CK_OK);
}

static void setf(struct ck_value *d, struct ck_value *v, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void setf(struct ck_value *d, struct ck_value *v, const char *f, ...)
{
	char k[512];
	va_list ap;
	va_start(ap, f);
	vsnprintf(k, sizeof k, f, ap);
	va_end(ap);
	set(d, k, v);
}

enum { LEGACY = 1, CLS = 2, LAYERS_NAME = 4, CLASSIFIER = 8 };

/* A tiny BertModel state dict under prefix pre ("", "bert.", "module."): 5 + 16 per layer + 2 keys. */
static void add_bert(struct ck_value *sd, const char *pre, int layers, int flags)
{
	const char *g = flags & LEGACY ? "gamma" : "weight", *b = flags & LEGACY ? "beta" : "bias";
	const char *layer = flags & LAYERS_NAME ? "layers" : "layer";
	setf(sd, t2(V, H), "%sembeddings.word_embeddings.weight", pre);
	setf(sd, t2(P, H), "%sembeddings.position_embeddings.weight", pre);
	setf(sd, t2(2, H), "%sembeddings.token_type_embeddings.weight", pre);
	setf(sd, t1(H), "%sembeddings.LayerNorm.%s", pre, g);
	setf(sd, t1(H), "%sembeddings.LayerNorm.%s", pre, b);
	for (int l = 0; l < layers; l++) {
		const char *qkv[] = {"query", "key", "value"};
		for (int i = 0; i < 3; i++) {
			setf(sd, t2(H, H), "%sencoder.%s.%d.attention.self.%s.weight", pre, layer, l, qkv[i]);
			setf(sd, t1(H), "%sencoder.%s.%d.attention.self.%s.bias", pre, layer, l, qkv[i]);
		}
		setf(sd, t2(H, H), "%sencoder.%s.%d.attention.output.dense.weight", pre, layer, l);
		setf(sd, t1(H), "%sencoder.%s.%d.attention.output.dense.bias", pre, layer, l);
		setf(sd, t1(H), "%sencoder.%s.%d.attention.output.LayerNorm.%s", pre, layer, l, g);
		setf(sd, t1(H), "%sencoder.%s.%d.attention.output.LayerNorm.%s", pre, layer, l, b);
		setf(sd, t2(I, H), "%sencoder.%s.%d.intermediate.dense.weight", pre, layer, l);
		setf(sd, t1(I), "%sencoder.%s.%d.intermediate.dense.bias", pre, layer, l);
		setf(sd, t2(H, I), "%sencoder.%s.%d.output.dense.weight", pre, layer, l);
		setf(sd, t1(H), "%sencoder.%s.%d.output.dense.bias", pre, layer, l);
		setf(sd, t1(H), "%sencoder.%s.%d.output.LayerNorm.%s", pre, layer, l, g);
		setf(sd, t1(H), "%sencoder.%s.%d.output.LayerNorm.%s", pre, layer, l, b);
	}
	setf(sd, t2(H, H), "%spooler.dense.weight", pre);
	setf(sd, t1(H), "%spooler.dense.bias", pre);
	if (flags & CLS) { /* the BertForPreTraining heads: 8 keys */
		set(sd, "cls.predictions.bias", t1(V));
		set(sd, "cls.predictions.transform.dense.weight", t2(H, H));
		set(sd, "cls.predictions.transform.dense.bias", t1(H));
		set(sd, "cls.predictions.transform.LayerNorm.weight", t1(H));
		set(sd, "cls.predictions.transform.LayerNorm.bias", t1(H));
		set(sd, "cls.predictions.decoder.weight", t2(V, H));
		set(sd, "cls.seq_relationship.weight", t2(2, H));
		set(sd, "cls.seq_relationship.bias", t1(2));
	}
	if (flags & CLASSIFIER) {
		set(sd, "classifier.weight", t2(2, H));
		set(sd, "classifier.bias", t1(2));
	}
}

static struct ck_value *bert_sd(const char *pre, int layers, int flags)
{
	struct ck_value *sd = ck_value_new(CK_V_DICT);
	ck_assert_ptr_nonnull(sd);
	sd->u.dict.ordered = 1;
	add_bert(sd, pre, layers, flags);
	return sd;
}

/* A checkpoint owning its value tree (no files, no storages: the report reads no bytes). */
struct fake {
	struct ck_ckpt ck;
	struct ck_tree *t;
};

static struct fake *fake_new(struct ck_value *root, const char *config)
{
	struct fake *f = calloc(1, sizeof *f);
	ck_assert_ptr_nonnull(f);
	f->ck.path = "mem.bin";
	f->ck.sep = '.';
	f->ck.root = root;
	if (config) {
		f->ck.config_json = strdup(config);
		f->ck.config_len = strlen(config);
	}
	struct ck_error err;
	ck_assert_int_eq(ck_tree_build(&f->ck, &f->t, &err), CK_OK);
	return f;
}

static void fake_free(struct fake *f)
{
	ck_tree_free(f->t);
	ck_value_unref(f->ck.root);
	free(f->ck.config_json);
	free(f);
}

/* ---- references ------------------------------------------------------------------ */

static char tmpdir[256];

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/ck_report_XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static int rm_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(p);
}

static void teardown(void)
{
	nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static char *write_file(const char *name, const char *text)
{
	char *path;
	ck_assert_int_ge(asprintf(&path, "%s/%s", tmpdir, name), 0);
	FILE *fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* The key list of a value tree: "KEY [d1,d2]" lines (what `shape` gives minus the dtype). */
static char *keylist_of(struct ck_value *sd, int with_dtype)
{
	struct fake *f = fake_new(sd, NULL);
	char *shape = ck_tree_shape_text(f->t, f->t->root);
	ck_assert_ptr_nonnull(shape);
	if (!with_dtype) { /* "KEY float32 [..]" -> "KEY [..]" */
		char *o = shape;
		for (char *p = shape; *p;) {
			char *sp = strstr(p, " float32 ");
			char *nl = strchr(p, '\n');
			if (sp && nl && sp < nl) {
				memmove(o, p, (size_t)(sp - p));
				o += sp - p;
				p = sp + 8;
			}
			size_t n = (size_t)(strchr(p, '\n') - p) + 1;
			memmove(o, p, n);
			o += n;
			p += n;
		}
		*o = 0;
	}
	fake_free(f);
	return shape;
}

static struct ck_reference *ref_load(const char *name, const char *text)
{
	char *path = write_file(name, text);
	struct ck_reference *r;
	struct ck_error err;
	ck_err rc = ck_reference_load(path, &r, &err);
	ck_assert_msg(rc == CK_OK, "%s", err.msg);
	free(path);
	return r;
}

/* The BertModel reference: keys of add_bert("", 2, 0). */
static struct ck_reference *bert_model_ref(int flags)
{
	char *kl = keylist_of(bert_sd("", 2, flags), 0);
	struct ck_reference *r = ref_load("bert_model.txt", kl);
	free(kl);
	return r;
}

static char *report(struct fake *f, const struct ck_reference *r, int json, int *ok)
{
	char *s = ck_report_text(f->t, r, json, ok);
	ck_assert_ptr_nonnull(s);
	return s;
}

static int has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return 1;
	return 0;
}

/* Check messages must stay short: the report goes to stderr instead. */
#define ck_assert_in(cond, text, ...)                                   \
	do {                                                            \
		int ck_in_ok_ = !!(cond);                               \
		if (!ck_in_ok_)                                         \
			fprintf(stderr, "---- report ----\n%s----\n", text); \
		ck_assert_msg(ck_in_ok_, __VA_ARGS__);                  \
	} while (0)
#define ck_assert_text(text, want) ck_assert_in(strcmp(text, want) == 0, text, "report differs from the expected text")
#define ck_assert_line(text, line) ck_assert_in(has_line(text, line), text, "no line '%s'", line)

/* Counts lines starting with prefix. */
static int count_lines(const char *text, const char *prefix)
{
	int n = 0;
	size_t pl = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += strncmp(p, prefix, pl) == 0;
	return n;
}

/* Recursively removes a folder through the tree API (what `rm -r` does). */
static void tree_rm_r(struct ck_tree *t, const char *path)
{
	struct ck_node *n = ck_tree_lookup(t, path);
	ck_assert_ptr_nonnull(n);
	struct ck_error err;
	if (n->kind == CK_NODE_LEAF) {
		ck_assert_int_eq(ck_tree_unlink(t, path, &err), CK_OK);
		return;
	}
	while (n->nkids) {
		char *sub;
		ck_assert_int_ge(asprintf(&sub, "%s/%s", path, n->kids[n->nkids - 1]->name), 0);
		tree_rm_r(t, sub);
		free(sub);
	}
	ck_assert_int_eq(ck_tree_rmdir(t, path, &err), CK_OK);
}

/* ---- reference mode ----------------------------------------------------------------- */

START_TEST(t_pretraining_vs_model)
{
	struct ck_reference *r = bert_model_ref(0);
	ck_assert_uint_eq(r->n, 39);
	struct fake *f = fake_new(bert_sd("bert.", 2, CLS), NULL);
	int ok = 1;
	char *s = report(f, r, 0, &ok);
	ck_assert_int_eq(ok, 0);
	ck_assert_in(!strncmp(s, "reference: bert_model.txt (39 tensors)\ncheckpoint: 47 tensors\nmissing 39\n"
				  "  embeddings.word_embeddings.weight [30,8]\n", 110), s, "unexpected report");
	ck_assert_line(s, "unexpected 47");
	ck_assert_line(s, "  bert.encoder.layer.1.output.dense.weight [8,32]");
	ck_assert_line(s, "  cls.seq_relationship.bias [2]");
	ck_assert_line(s, "mismatched 0");
	ck_assert_line(s, "hints");
	ck_assert_line(s, "  mv bert/* .   would match 39 missing keys");
	ck_assert_in(strstr(s, "\n  rm -r cls   removes 8 unexpected keys (this IS expected if you are "
				"initializing from a checkpoint of a model trained on another task"), s, "unexpected report");
	ck_assert_int_eq(count_lines(s, "  mv "), 1);
	ck_assert_int_eq(count_lines(s, "  rm "), 1);
	ck_assert_in(strstr(s, "hints\n  mv bert/* .") != NULL, s, "mv ranks first");
	ck_assert_line(s, "status: incompatible");
	free(s);

	/* what `mv bert/STAR .` does in the mount */
	struct ck_node *bert = ck_tree_lookup(f->t, "bert");
	struct ck_error err;
	while (bert->nkids) {
		char from[256], to[256];
		snprintf(from, sizeof from, "bert/%s", bert->kids[0]->name);
		snprintf(to, sizeof to, "%s", bert->kids[0]->name); /* not the node's own string */
		ck_assert_int_eq(ck_tree_rename(f->t, from, to, &err), CK_OK);
	}
	s = report(f, r, 0, &ok);
	ck_assert_int_eq(ok, 0);
	ck_assert_line(s, "missing 0");
	ck_assert_line(s, "unexpected 8");
	ck_assert_line(s, "  cls.predictions.decoder.weight [30,8]");
	ck_assert_int_eq(count_lines(s, "  rm -r cls   removes 8 unexpected keys"), 1);
	ck_assert_int_eq(count_lines(s, "  mv "), 0);
	free(s);

	tree_rm_r(f->t, "cls");
	s = report(f, r, 0, &ok);
	ck_assert_text(s, "reference: bert_model.txt (39 tensors)\n"
			    "checkpoint: 39 tensors\n"
			    "missing 0\n"
			    "unexpected 0\n"
			    "mismatched 0\n"
			    "status: ok\n");
	ck_assert_int_eq(ok, 1);
	free(s);
	/* the empty bert/ folder left behind changes nothing */
	ck_assert_int_eq(ck_tree_rmdir(f->t, "bert", &err), CK_OK);
	s = report(f, r, 0, &ok);
	ck_assert_int_eq(ok, 1);
	free(s);
	fake_free(f);
	ck_reference_free(r);
}
END_TEST

START_TEST(t_small_exact)
{
	struct ck_reference *r = ref_load("expected_keys.txt",
					  "# the model\n"
					  "encoder.w [4,4]\n"
					  "encoder.b [4] float32\n"
					  "classifier.weight [3,4] float32\n"
					  "classifier.bias [3]\n"
					  "extra\n");
	struct ck_value *sd = ck_value_new(CK_V_DICT);
	set(sd, "encoder.w", t2(4, 4));
	set(sd, "encoder.b", tensor_dt(CK_DT_F16, 1, (int64_t[]){4}));
	set(sd, "classifier.weight", t2(2, 4));
	set(sd, "classifier.bias", t1(2));
	set(sd, "head.x", t1(7));
	struct fake *f = fake_new(sd, NULL);
	int ok = 1;
	char *s = report(f, r, 0, &ok);
	ck_assert_text(s, "reference: expected_keys.txt (5 tensors)\n"
			    "checkpoint: 5 tensors\n"
			    "missing 1\n"
			    "  extra\n"
			    "unexpected 1\n"
			    "  head.x [7]\n"
			    "mismatched 3\n"
			    "  encoder.b checkpoint [4] float16 reference [4] float32\n"
			    "  classifier.weight checkpoint [2,4] float32 reference [3,4] float32\n"
			    "  classifier.bias checkpoint [2] float32 reference [3]\n"
			    "hints\n"
			    "  rm -r head   removes 1 unexpected key (this IS expected if you are initializing from a "
			    "checkpoint of a model trained on another task or with another architecture, e.g. a "
			    "BertForPreTraining checkpoint into a BertModel)\n"
			    "status: incompatible\n");
	ck_assert_int_eq(ok, 0);
	free(s);

	/* the JSON form */
	s = report(f, r, 1, &ok);
	ck_assert_int_eq(ok, 0);
	cJSON *j = cJSON_Parse(s);
	ck_assert_in(j != NULL, s, "unexpected report");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "reference")->valuestring, "expected_keys.txt");
	ck_assert_int_eq(cJSON_GetObjectItem(j, "reference_tensors")->valueint, 5);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "checkpoint_tensors")->valueint, 5);
	cJSON *a = cJSON_GetObjectItem(j, "missing");
	ck_assert_int_eq(cJSON_GetArraySize(a), 1);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "key")->valuestring, "extra");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "shape")));
	a = cJSON_GetObjectItem(j, "unexpected");
	ck_assert_int_eq(cJSON_GetArraySize(a), 1);
	cJSON *e = cJSON_GetArrayItem(a, 0);
	ck_assert_str_eq(cJSON_GetObjectItem(e, "key")->valuestring, "head.x");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(e, "shape")), 1);
	ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(e, "shape"), 0)->valueint, 7);
	a = cJSON_GetObjectItem(j, "mismatched");
	ck_assert_int_eq(cJSON_GetArraySize(a), 3);
	e = cJSON_GetArrayItem(a, 1);
	ck_assert_str_eq(cJSON_GetObjectItem(e, "key")->valuestring, "classifier.weight");
	cJSON *c = cJSON_GetObjectItem(e, "checkpoint"), *rr = cJSON_GetObjectItem(e, "reference");
	ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(c, "shape"), 0)->valueint, 2);
	ck_assert_str_eq(cJSON_GetObjectItem(c, "dtype")->valuestring, "float32");
	ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(rr, "shape"), 0)->valueint, 3);
	ck_assert_int_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(rr, "shape"), 1)->valueint, 4);
	e = cJSON_GetArrayItem(a, 2);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "reference"), "dtype")));
	a = cJSON_GetObjectItem(j, "hints");
	ck_assert_int_eq(cJSON_GetArraySize(a), 1);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "command")->valuestring, "rm -r head");
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "matches")->valueint, 0);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "removes")->valueint, 1);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "status")->valuestring, "incompatible");
	cJSON_Delete(j);
	free(s);
	fake_free(f);
	ck_reference_free(r);
}
END_TEST

START_TEST(t_ddp_module)
{
	struct ck_reference *r = bert_model_ref(0);
	struct fake *f = fake_new(bert_sd("module.", 2, 0), NULL);
	int ok;
	char *s = report(f, r, 0, &ok);
	ck_assert_line(s, "missing 39");
	ck_assert_line(s, "unexpected 39");
	ck_assert_line(s, "  mv module/* .   would match 39 missing keys");
	ck_assert_int_eq(count_lines(s, "  "), 39 + 39 + 1);
	free(s);
	/* self-check: the wrapper every key shares */
	s = report(f, NULL, 0, &ok);
	ck_assert_int_eq(ok, 0);
	ck_assert_text(s, "reference: none (self-check)\n"
			    "checkpoint: 39 tensors\n"
			    "missing 0\n"
			    "unexpected 0\n"
			    "mismatched 0\n"
			    "hints\n"
			    "  mv module/* .   strips the prefix module. shared by all 39 keys (a DDP or torch.compile "
			    "wrapper)\n"
			    "status: incompatible\n");
	free(s);
	fake_free(f);
	/* a training checkpoint holding only the model */
	struct ck_value *root = ck_value_new(CK_V_DICT);
	struct ck_value *inner = ck_value_new(CK_V_DICT);
	set(inner, "test", t2(2, 4));
	set(root, "model_state_dict", inner);
	f = fake_new(root, NULL);
	s = report(f, NULL, 0, &ok);
	ck_assert_line(s, "  mv model_state_dict/* .   strips the prefix model_state_dict. shared by the only key "
			  "(the model inside a training checkpoint)");
	free(s);
	fake_free(f);
	/* torch.compile inside DDP: both wrappers at once */
	f = fake_new(bert_sd("module._orig_mod.", 1, 0), NULL);
	s = report(f, NULL, 0, &ok);
	ck_assert_in(strstr(s, "\n  mv module/_orig_mod/* .   strips the prefix module._orig_mod. shared by all 23"), s, "unexpected report");
	free(s);
	fake_free(f);
	ck_reference_free(r);
}
END_TEST

START_TEST(t_gamma_beta)
{
	struct ck_reference *r = bert_model_ref(0);
	struct fake *f = fake_new(bert_sd("", 2, LEGACY), NULL);
	int ok;
	char *s = report(f, r, 0, &ok);
	ck_assert_line(s, "missing 10");
	ck_assert_line(s, "unexpected 10");
	ck_assert_line(s, "  embeddings.LayerNorm.gamma [8]");
	ck_assert_line(s, "  find . \\( -path '*/LayerNorm/gamma' -o -path '*/LayerNorm/beta' \\) -type f | while IFS= read -r f; do "
			  "case $f in */gamma) mv \"$f\" \"${f%/*}/weight\";; *) mv \"$f\" \"${f%/*}/bias\";; esac; done"
			  "   would match 10 missing keys");
	ck_assert_int_eq(count_lines(s, "  rm "), 0);
	free(s);
	s = report(f, NULL, 0, &ok);
	ck_assert_int_eq(ok, 0);
	ck_assert_line(s, "unexpected 10");
	ck_assert_line(s, "  encoder.layer.1.output.LayerNorm.beta [8]");
	ck_assert_in(strstr(s, "   renames 10 legacy keys (LayerNorm gamma/beta -> weight/bias)\n"), s, "unexpected report");
	free(s);
	fake_free(f);

	/* a prefix and legacy names at once: both hints, the loop counts through the mv */
	f = fake_new(bert_sd("bert.", 2, LEGACY), NULL);
	s = report(f, r, 0, &ok);
	ck_assert_line(s, "  mv bert/* .   would match 29 missing keys");
	ck_assert_in(strstr(s, "esac; done   would match 10 missing keys (10 together with the mv hint)\n") != NULL, s, "legacy hint");
	ck_assert_int_eq(count_lines(s, "  rm "), 0);
	free(s);
	fake_free(f);

	/* a model's own parameter named gamma (ConvNeXt layer scale) is not legacy */
	struct ck_value *sd = ck_value_new(CK_V_DICT);
	set(sd, "stages.0.blocks.0.gamma", t1(H));
	set(sd, "stages.0.blocks.0.norm.weight", t1(H));
	f = fake_new(sd, NULL);
	s = report(f, NULL, 0, &ok);
	ck_assert_int_eq(ok, 1);
	free(s);
	fake_free(f);
	ck_reference_free(r);
}
END_TEST

START_TEST(t_add_prefix)
{
	/* a BertModel checkpoint into BertForSequenceClassification */
	struct ck_value *want = bert_sd("bert.", 2, CLASSIFIER);
	char *kl = keylist_of(want, 1);
	struct ck_reference *r = ref_load("seqcls.txt", kl);
	free(kl);
	struct fake *f = fake_new(bert_sd("", 2, 0), NULL);
	int ok;
	char *s = report(f, r, 0, &ok);
	ck_assert_line(s, "missing 41");
	ck_assert_line(s, "unexpected 39");
	ck_assert_line(s, "  mkdir -p bert && mv embeddings encoder pooler bert/   would match 39 missing keys");
	ck_assert_int_eq(count_lines(s, "  rm "), 0);
	free(s);
	fake_free(f);
	ck_reference_free(r);
}
END_TEST

START_TEST(t_replace_prefix)
{
	struct ck_reference *r = bert_model_ref(0);
	struct fake *f = fake_new(bert_sd("", 2, LAYERS_NAME), NULL);
	int ok;
	char *s = report(f, r, 0, &ok);
	ck_assert_line(s, "missing 32");
	ck_assert_line(s, "  mv encoder/layers encoder/layer   would match 32 missing keys");
	free(s);
	fake_free(f);
	/* an extra layer the reference lacks: removed as a folder, not a head */
	f = fake_new(bert_sd("", 3, 0), NULL);
	s = report(f, r, 0, &ok);
	ck_assert_line(s, "unexpected 16");
	ck_assert_line(s, "  rm -r encoder/layer/2   removes 16 unexpected keys (not in the reference)");
	free(s);
	fake_free(f);
	ck_reference_free(r);
}
END_TEST

START_TEST(t_nested_and_quoted)
{
	/* a training checkpoint: the model under a container, an optimizer beside it */
	struct ck_reference *r = bert_model_ref(0);
	struct ck_value *root = ck_value_new(CK_V_DICT);
	set(root, "model_state_dict", bert_sd("", 2, 0));
	struct ck_value *opt = ck_value_new(CK_V_DICT);
	set(opt, "exp_avg", t1(3));
	set(root, "optimizer", opt);
	set(root, "epoch", ck_value_int(7));
	struct fake *f = fake_new(root, NULL);
	struct ck_value *sd;
	int ok;
	char *s = report(f, r, 0, &ok);
	ck_assert_line(s, "checkpoint: 40 tensors");
	ck_assert_line(s, "  mv model_state_dict/* .   would match 39 missing keys");
	ck_assert_line(s, "  rm -r optimizer   removes 1 unexpected key (this IS expected if you are initializing "
			  "from a checkpoint of a model trained on another task or with another architecture, e.g. a "
			  "BertForPreTraining checkpoint into a BertModel)");
	free(s);
	fake_free(f);
	ck_reference_free(r);

	/* nothing in common: no folder is worth removing */
	r = ref_load("other.txt", "x.y [1]\n");
	sd = ck_value_new(CK_V_DICT);
	set(sd, "a.b", t1(1));
	f = fake_new(sd, NULL);
	s = report(f, r, 0, &ok);
	ck_assert_text(s, "reference: other.txt (1 tensors)\ncheckpoint: 1 tensors\nmissing 1\n  x.y [1]\n"
			  "unexpected 1\n  a.b [1]\nmismatched 0\nstatus: incompatible\n");
	free(s);
	fake_free(f);
	ck_reference_free(r);

	/* odd keys are quoted in the text and paths quoted for the shell */
	r = ref_load("odd.txt", "'a b.c' [2]\nx'y.w [1]\n");
	sd = ck_value_new(CK_V_DICT);
	set(sd, "pre fix.a b.c", t1(2));
	set(sd, "x'y.w", t1(1));
	f = fake_new(sd, NULL);
	s = report(f, r, 0, &ok);
	ck_assert_text(s, "reference: odd.txt (2 tensors)\n"
			    "checkpoint: 2 tensors\n"
			    "missing 1\n"
			    "  'a b.c' [2]\n"
			    "unexpected 1\n"
			    "  'pre fix.a b.c' [2]\n"
			    "mismatched 0\n"
			    "hints\n"
			    "  mv 'pre fix'/* .   would match 1 missing key\n"
			    "status: incompatible\n");
	free(s);
	fake_free(f);
	ck_reference_free(r);
}
END_TEST

/* ---- self-check ------------------------------------------------------------------------ */

START_TEST(t_selfcheck_config)
{
	const char *cfg = "{\"hidden_size\": 8, \"vocab_size\": 31, \"num_hidden_layers\": 3, "
			  "\"intermediate_size\": 32, \"max_position_embeddings\": 16}";
	struct fake *f = fake_new(bert_sd("bert.", 2, CLS), cfg);
	int ok;
	char *s = report(f, NULL, 0, &ok);
	ck_assert_int_eq(ok, 0);
	ck_assert_text(s, "reference: none (self-check)\n"
			    "checkpoint: 47 tensors\n"
			    "missing 0\n"
			    "unexpected 0\n"
			    "mismatched 3\n"
			    "  bert.embeddings.word_embeddings.weight checkpoint [30,8] float32 config.json [31,8] "
			    "(vocab_size, hidden_size)\n"
			    "  cls.predictions.decoder.weight checkpoint [30,8] float32 config.json [31,8] "
			    "(vocab_size, hidden_size)\n"
			    "  bert.encoder.layer checkpoint 2 layers config.json 3 layers (num_hidden_layers)\n"
			    "status: incompatible\n");
	free(s);
	s = report(f, NULL, 1, &ok);
	cJSON *j = cJSON_Parse(s);
	ck_assert_ptr_nonnull(j);
	ck_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "reference")));
	cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "mismatched"), 2);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "checkpoint"), "layers")->valueint, 2);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "config"), "layers")->valueint, 3);
	ck_assert_str_eq(cJSON_GetObjectItem(m, "note")->valuestring, "num_hidden_layers");
	cJSON_Delete(j);
	free(s);
	fake_free(f);
	/* the same checkpoint with a matching config: ok */
	f = fake_new(bert_sd("bert.", 2, CLS),
		     "{\"hidden_size\": 8, \"vocab_size\": 30, \"num_hidden_layers\": 2, \"intermediate_size\": 32}");
	s = report(f, NULL, 0, &ok);
	ck_assert_int_eq(ok, 1);
	ck_assert_line(s, "status: ok");
	free(s);
	fake_free(f);
	/* intermediate size and a broken config.json (ignored) */
	f = fake_new(bert_sd("", 1, 0), "{\"hidden_size\": 8, \"intermediate_size\": 64}");
	s = report(f, NULL, 0, &ok);
	ck_assert_line(s, "  encoder.layer.0.intermediate.dense.weight checkpoint [32,8] float32 config.json [64,8] "
			  "(intermediate_size, hidden_size)");
	free(s);
	fake_free(f);
	f = fake_new(bert_sd("", 1, 0), "{not json");
	s = report(f, NULL, 0, &ok);
	ck_assert_int_eq(ok, 1);
	free(s);
	fake_free(f);
}
END_TEST

START_TEST(t_selfcheck_duplicates)
{
	struct ck_value *sd = ck_value_new(CK_V_DICT);
	set(sd, "a.weight", t1(2));
	set(sd, "module.a.weight", t1(2));
	set(sd, "b.weight", t1(2));
	struct fake *f = fake_new(sd, NULL);
	int ok;
	char *s = report(f, NULL, 0, &ok);
	ck_assert_int_eq(ok, 0);
	ck_assert_text(s, "reference: none (self-check)\n"
			    "checkpoint: 3 tensors\n"
			    "missing 0\n"
			    "unexpected 1\n"
			    "  module.a.weight [2]\n"
			    "mismatched 0\n"
			    "hints\n"
			    "  rm -r module   removes 1 key that also exists without the module. prefix\n"
			    "status: incompatible\n");
	free(s);
	fake_free(f);
	sd = ck_value_new(CK_V_DICT);
	set(sd, "a.weight", t1(2));
	set(sd, "module.a.weight", t1(2));
	set(sd, "module.c.weight", t1(2));
	set(sd, "module.c.LayerNorm.gamma", t1(2)); /* legacy, not a duplicate: not removed */
	f = fake_new(sd, NULL);
	s = report(f, NULL, 0, &ok);
	ck_assert_line(s, "unexpected 2");
	ck_assert_line(s, "  rm module/a/weight   removes 1 key that also exists without the module. prefix");
	ck_assert_line(s, "  find . -path '*/LayerNorm/gamma' -type f | while IFS= read -r f; do case $f in */gamma) mv \"$f\" "
			  "\"${f%/*}/weight\";; *) mv \"$f\" \"${f%/*}/bias\";; esac; done   renames 1 legacy key (LayerNorm "
			  "gamma/beta -> weight/bias)");
	free(s);
	fake_free(f);
	/* a gamma whose weight exists beside it too: the loop would replace it, so one mv per key */
	sd = ck_value_new(CK_V_DICT);
	set(sd, "x.LayerNorm.gamma", t1(2));
	set(sd, "y.LayerNorm.gamma", t1(2));
	set(sd, "y.LayerNorm.weight", t1(2));
	f = fake_new(sd, NULL);
	s = report(f, NULL, 0, &ok);
	ck_assert_line(s, "unexpected 1");
	ck_assert_line(s, "  mv x/LayerNorm/gamma x/LayerNorm/weight   renames 1 legacy key (LayerNorm gamma/beta -> weight/bias)");
	free(s);
	fake_free(f);
}
END_TEST

/* ---- the key-list parser ------------------------------------------------------------------ */

START_TEST(t_keylist_good)
{
	struct ck_reference *r = ref_load("good.txt",
					  "# comment\r\n"
					  "\n"
					  "   a [768, 768]\r\n"
					  "b torch.Size([2, 3])\n"
					  "c float16 [4]  # trailing comment\n"
					  "d []\n"
					  "'e f\\x41\\'' [1,]\n"
					  "g\n"
					  "h torch.bfloat16\n"
					  "i (5, 6)\n"
					  "j [3] q4_0");
	struct {
		const char *key;
		int ndim;
		int64_t d0, d1;
		enum ck_dtype dt;
	} want[] = {
		{"a", 2, 768, 768, CK_DT_INVALID}, {"b", 2, 2, 3, CK_DT_INVALID}, {"c", 1, 4, 0, CK_DT_F16},
		{"d", 0, 0, 0, CK_DT_INVALID},     {"e fA'", 1, 1, 0, CK_DT_INVALID}, {"g", -1, 0, 0, CK_DT_INVALID},
		{"h", -1, 0, 0, CK_DT_BF16},       {"i", 2, 5, 6, CK_DT_INVALID},   {"j", 1, 3, 0, CK_DT_Q4_0},
	};
	ck_assert_uint_eq(r->n, sizeof want / sizeof want[0]);
	ck_assert_str_eq(r->name, "good.txt");
	ck_assert_int_eq(r->sep, '.');
	for (size_t i = 0; i < r->n; i++) {
		ck_assert_str_eq(r->e[i].key, want[i].key);
		ck_assert_uint_eq(r->e[i].len, strlen(want[i].key));
		ck_assert_int_eq(r->e[i].ndim, want[i].ndim);
		if (want[i].ndim > 0)
			ck_assert_int_eq(r->e[i].shape[0], want[i].d0);
		if (want[i].ndim > 1)
			ck_assert_int_eq(r->e[i].shape[1], want[i].d1);
		ck_assert_int_eq(r->e[i].dtype, want[i].dt);
	}
	ck_reference_free(r);
	/* TensorFlow names: '/' separated */
	r = ref_load("tf.txt", "bert/embeddings/word_embeddings [30522,768]\nglobal_step []\n");
	ck_assert_int_eq(r->sep, '/');
	ck_assert_uint_eq(r->n, 2);
	ck_reference_free(r);
	/* the mount's own `shape` file as a reference */
	char *kl = keylist_of(bert_sd("", 1, 0), 1);
	r = ref_load("shape", kl);
	free(kl);
	ck_assert_uint_eq(r->n, 23);
	ck_assert_int_eq(r->e[0].dtype, CK_DT_F32);
	ck_reference_free(r);
}
END_TEST

START_TEST(t_keylist_broken)
{
	static const struct {
		const char *text;
		ck_err code;
		const char *msg; /* after "<tmpdir>/bad.txt" */
	} cases[] = {
		{"a [1,x]\n", CK_EFORMAT, ":1: malformed shape"},
		{"ok [1]\na [1\n", CK_EFORMAT, ":2: malformed shape"},
		{"a [1]x\n", CK_EFORMAT, ":1: malformed shape"},
		{"a [-1]\n", CK_EFORMAT, ":1: malformed shape"},
		{"a [99999999999999999999]\n", CK_EFORMAT, ":1: malformed shape"},
		{"a [1] [2]\n", CK_EFORMAT, ":1: second shape"},
		{"a float33\n", CK_EFORMAT, ":1: unexpected 'float33'"},
		{"a float32 int8\n", CK_EFORMAT, ":1: unexpected 'int8'"},
		{"a\n\n# c\na [2]\n", CK_EFORMAT, ":4: duplicate key 'a'"},
		{"'a [1]\n", CK_EFORMAT, ":1: unterminated or bad quoted key"},
		{"'a\\q' [1]\n", CK_EFORMAT, ":1: unterminated or bad quoted key"},
		{"'' [1]\n", CK_EFORMAT, ":1: empty key"},
		{"# nothing\n\n", CK_EFORMAT, ": no keys in the reference key list"},
		{"", CK_EFORMAT, ": no keys in the reference key list"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *path = write_file("bad.txt", cases[i].text);
		struct ck_reference *r = (void *)1;
		struct ck_error err;
		ck_err rc = ck_reference_load(path, &r, &err);
		ck_assert_msg(rc == cases[i].code, "case %zu: %d (%s)", i, rc, rc ? err.msg : "");
		ck_assert_ptr_null(r);
		char want[512];
		snprintf(want, sizeof want, "%s%s", path, cases[i].msg);
		ck_assert_msg(!strncmp(err.msg, want, strlen(want)), "case %zu: '%s' want '%s'", i, err.msg, want);
		free(path);
	}
	/* a NUL in a later line is not text */
	char *path;
	ck_assert_int_ge(asprintf(&path, "%s/nul.txt", tmpdir), 0);
	FILE *fp = fopen(path, "w");
	for (int i = 0; i < 500; i++)
		fprintf(fp, "key.%d [1]\n", i);
	fputc(0, fp);
	fclose(fp);
	struct ck_reference *r;
	struct ck_error err;
	ck_assert_int_eq(ck_reference_load(path, &r, &err), CK_EFORMAT);
	ck_assert_msg(strstr(err.msg, ":501: NUL byte") != NULL, "%s", err.msg);
	free(path);
	/* a binary file is not a key list, and a missing file is missing */
	ck_assert_int_ge(asprintf(&path, "%s/bin.dat", tmpdir), 0);
	fp = fopen(path, "w");
	fwrite("\x80\x02\x00\x01", 1, 4, fp);
	fclose(fp);
	ck_assert_int_eq(ck_reference_load(path, &r, &err), CK_EFORMAT);
	free(path);
	ck_assert_int_eq(ck_reference_load("/nonexistent/keys.txt", &r, &err), CK_ENOENT);
}
END_TEST

/* ---- hints run by a real shell ------------------------------------------------------------ */

static const char *leaf_dir;

/* Writes every leaf of the tree as a file holding its original key. */
static void materialize(struct ck_tree *t, const char *dir)
{
	struct ck_node **v;
	size_t n;
	struct ck_error err;
	ck_assert_int_eq(ck_tree_leaves(t, t->root, &v, &n, &err), CK_OK);
	for (size_t i = 0; i < n; i++) {
		char *p = ck_node_path(v[i]), *full;
		ck_assert_int_ge(asprintf(&full, "%s/%s", dir, p), 0);
		for (char *sl = strchr(full + strlen(dir) + 1, '/'); sl; sl = strchr(sl + 1, '/')) {
			*sl = 0; /* mkdir -p without a shell: paths may hold quotes */
			ck_assert_msg(mkdir(full, 0755) == 0 || errno == EEXIST, "mkdir %s", full);
			*sl = '/';
		}
		FILE *fp = fopen(full, "w");
		ck_assert_ptr_nonnull(fp);
		fputs(v[i]->orig_key, fp);
		fclose(fp);
		free(full);
		free(p);
	}
	free(v);
}

static struct ck_value *orig_sd; /* the state dict the files came from */
static struct ck_value *rebuilt;

static int collect_cb(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	if (flag != FTW_F)
		return 0;
	char key[512] = "";
	FILE *fp = fopen(p, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(fgets(key, sizeof key, fp));
	fclose(fp);
	struct ck_value *k = ck_value_str(key), *val = NULL;
	for (size_t i = 0; i < orig_sd->u.dict.n; i++)
		if (ck_value_equal(orig_sd->u.dict.keys[i], k))
			val = orig_sd->u.dict.vals[i];
	ck_value_unref(k);
	ck_assert_msg(val != NULL, "file %s holds unknown key %s", p, key);
	/* new key: the path below leaf_dir, segments unescaped and joined by '.' */
	char newkey[512] = "";
	const char *rel = p + strlen(leaf_dir) + 1;
	while (*rel) {
		const char *sl = strchr(rel, '/');
		size_t l = sl ? (size_t)(sl - rel) : strlen(rel);
		char *nm = strndup(rel, l);
		size_t rl;
		char *raw = strcmp(nm, "%self") ? ck_name_unescape(nm, &rl) : strdup("");
		ck_assert_msg(raw != NULL, "bad name %s", nm);
		if (strcmp(nm, "%self")) {
			if (*newkey)
				strcat(newkey, ".");
			strcat(newkey, raw);
		}
		free(raw);
		free(nm);
		rel += l + (sl != NULL);
	}
	set(rebuilt, newkey, ck_value_ref(val));
	return 0;
}

/* Runs one hint command with shell at the root of dir; 1 when it exits 0. */
static int apply_hint(const char *dir, const char *shell, const char *command)
{
	char *script, *cmd;
	ck_assert_int_ge(asprintf(&script, "%s/hint.sh", tmpdir), 0);
	FILE *fp = fopen(script, "w");
	ck_assert_ptr_nonnull(fp);
	fprintf(fp, "set -e\n%s\n", command);
	fclose(fp);
	ck_assert_int_ge(asprintf(&cmd, "cd '%s' && %s '%s'", dir, shell, script), 0);
	int rc = system(cmd);
	free(cmd);
	free(script);
	return rc == 0;
}

/* The checkpoint a materialized tree now describes (values from orig_sd). */
static struct fake *tree_from_dir(const char *dir)
{
	leaf_dir = dir;
	rebuilt = ck_value_new(CK_V_DICT);
	ck_assert_int_eq(nftw(dir, collect_cb, 16, FTW_PHYS), 0);
	return fake_new(rebuilt, NULL);
}

static char *new_dir(const char *tag)
{
	static int seq;
	char *dir;
	ck_assert_int_ge(asprintf(&dir, "%s/mnt-%s-%d", tmpdir, tag, seq++), 0);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	return dir;
}

/* Applies the report's first hint with sh in a directory tree until ok; returns the final tree. */
static struct fake *shell_loop(struct ck_value *sd, const struct ck_reference *r, const char *shell, int *rounds)
{
	char *dir = new_dir(shell);
	struct fake *f = fake_new(sd, NULL);
	orig_sd = sd;
	materialize(f->t, dir);
	for (*rounds = 0; *rounds < 8; (*rounds)++) {
		int ok;
		char *js = report(f, r, 1, &ok);
		if (ok) {
			free(js);
			break;
		}
		cJSON *j = cJSON_Parse(js);
		ck_assert_ptr_nonnull(j);
		cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "hints"), 0);
		ck_assert_in(h != NULL, js, "no hint left");
		const char *command = cJSON_GetObjectItem(h, "command")->valuestring;
		ck_assert_msg(apply_hint(dir, shell, command), "%s failed: %s", shell, command);
		cJSON_Delete(j);
		free(js);
		/* the first fake's root stays alive through the caller's reference */
		fake_free(f);
		f = tree_from_dir(dir);
	}
	free(dir);
	return f;
}

static void run_shell_case(struct ck_value *(*make)(void), int want_rounds)
{
	const char *shells[] = {"sh", "bash"};
	struct ck_reference *r = bert_model_ref(0);
	for (int i = 0; i < 2; i++) {
		struct ck_value *sd = make();
		ck_value_ref(sd); /* keep the originals alive for collect_cb */
		int rounds;
		struct fake *f = shell_loop(sd, r, shells[i], &rounds);
		int ok;
		char *s = report(f, r, 0, &ok);
		ck_assert_in(ok, s, "%s after %d rounds", shells[i], rounds);
		ck_assert_int_eq(rounds, want_rounds);
		free(s);
		fake_free(f);
		ck_value_unref(sd);
	}
	ck_reference_free(r);
}

static struct ck_value *mk_pretraining_legacy(void) { return bert_sd("bert.", 2, CLS | LEGACY); }
static struct ck_value *mk_ddp(void) { return bert_sd("module.", 2, 0); }
static struct ck_value *mk_layers(void) { return bert_sd("", 2, LAYERS_NAME | LEGACY); }

static struct ck_value *mk_model_prefix(void)
{
	struct ck_value *sd = ck_value_new(CK_V_DICT);
	add_bert(sd, "model.", 2, 0);
	return sd;
}

START_TEST(t_shell_hints)
{
	/* mv bert/STAR ., the gamma/beta loop, rm -r cls */
	run_shell_case(mk_pretraining_legacy, 3);
	run_shell_case(mk_ddp, 1);
	run_shell_case(mk_layers, 2);
	run_shell_case(mk_model_prefix, 1);
}
END_TEST

START_TEST(t_shell_add_prefix)
{
	/* mkdir -p bert && mv ... bert/ against a bert.-prefixed reference */
	char *kl = keylist_of(bert_sd("bert.", 1, 0), 0);
	struct ck_reference *r = ref_load("bert_prefixed.txt", kl);
	free(kl);
	const char *shells[] = {"sh", "bash"};
	for (int i = 0; i < 2; i++) {
		struct ck_value *sd = bert_sd("", 1, 0);
		ck_value_ref(sd);
		int rounds;
		struct fake *f = shell_loop(sd, r, shells[i], &rounds);
		int ok;
		char *s = report(f, r, 0, &ok);
		ck_assert_in(ok, s, "unexpected report");
		ck_assert_int_eq(rounds, 1);
		free(s);
		fake_free(f);
		ck_value_unref(sd);
	}
	ck_reference_free(r);
}
END_TEST

/* A dict of "FMT" keys with i = 0..n-1, shape [i+1]. */
static struct ck_value *keys_sd(const char *fmt1, const char *fmt2, int n)
{
	struct ck_value *sd = ck_value_new(CK_V_DICT);
	for (int i = 0; i < n; i++) {
		setf(sd, t1(i + 1), fmt1, i);
		if (fmt2)
			setf(sd, t1(i + 1), fmt2, i);
	}
	return sd;
}

static char *keys_list(const char *fmt1, const char *fmt2, int n)
{
	struct ck_value *sd = keys_sd(fmt1, fmt2, n);
	char *kl = keylist_of(sd, 0);
	return kl;
}

/* Each prefix form gives its command, and sh/bash running it leaves a tree that reports ok. */
START_TEST(t_prefix_forms)
{
	static const struct {
		const char *have1, *have2, *want1, *want2, *hint;
	} cases[] = {
		{"old.blk.%d.w", NULL, "new.sub.blk.%d.w", NULL, "  mkdir -p new && mv old new/sub   would match 4 missing keys"},
		{"m.x%d.w", "m.y%d.w", "m.inner.x%d.w", "m.inner.y%d.w",
		 "  mkdir -p m/inner && mv m/x0 m/y0 m/x1 m/y1 m/x2 m/y2 m/x3 m/y3 m/inner/   would match 8 missing keys"},
		{"m.inner.%d.w", NULL, "m.%d.w", NULL, "  mv m/inner/* m/   would match 4 missing keys"},
		{"a.b.c.%d.w", NULL, "%d.w", NULL, "  mv a/b/c/* .   would match 4 missing keys"},
		{"enc.%d.w", "new.x.k%d", "new.x.%d.w", "new.x.k%d", "  mv enc/* new/x/   would match 4 missing keys"},
		{"enc.%d.w", "new.x.%d.keep", "new.x.%d.w", "new.x.%d.keep",
		 "  p=enc d=new/x; find \"$p\" -type f | while IFS= read -r f; do g=$d/${f#\"$p\"/}; mkdir -p \"${g%/*}\" && "
		 "mv \"$f\" \"$g\"; done   would match 4 missing keys"},
		{"bert.encoder.%d.w", "encoder.%d.b", "encoder.%d.w", "encoder.%d.b",
		 "  p=bert d=.; find \"$p\" -type f | while IFS= read -r f; do g=$d/${f#\"$p\"/}; mkdir -p \"${g%/*}\" && "
		 "mv \"$f\" \"$g\"; done   would match 4 missing keys"},
		{"-x.%d.w", NULL, "%d.w", NULL, "  mv ./-x/* .   would match 4 missing keys"},
		{"it's.%d.w", NULL, "%d.w", NULL, "  mv 'it'\\''s'/* .   would match 4 missing keys"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *kl = keys_list(cases[i].want1, cases[i].want2, 4);
		struct ck_reference *r = ref_load("forms.txt", kl);
		free(kl);
		struct fake *f = fake_new(keys_sd(cases[i].have1, cases[i].have2, 4), NULL);
		int ok;
		char *s = report(f, r, 0, &ok);
		ck_assert_line(s, cases[i].hint);
		free(s);
		fake_free(f);
		const char *shells[] = {"sh", "bash"};
		for (int k = 0; k < 2; k++) {
			struct ck_value *sd = keys_sd(cases[i].have1, cases[i].have2, 4);
			ck_value_ref(sd);
			int rounds;
			f = shell_loop(sd, r, shells[k], &rounds);
			s = report(f, r, 0, &ok);
			ck_assert_in(ok && rounds == 1, s, "case %zu with %s: %d rounds", i, shells[k], rounds);
			free(s);
			fake_free(f);
			ck_value_unref(sd);
		}
		ck_reference_free(r);
	}
}
END_TEST

/* ---- random checkpoints: every hint does what it says ------------------------------------ */

static const char *const rsegs[] = {"a", "b", "encoder", "layer", "0", "1", "2", "LayerNorm", "dense",
				     "x y", "it's", "50%", "weight", "bias"};

static unsigned rnd(unsigned *st)
{
	*st = *st * 1103515245u + 12345u;
	return (*st >> 16) & 0x7fff;
}

/* Adds key -> [n] unless the key is there (strcmp scan: the dicts are small). */
static void add_unique(struct ck_value *sd, const char *key, int64_t n)
{
	for (size_t i = 0; i < sd->u.dict.n; i++)
		if (!strcmp(sd->u.dict.keys[i]->u.s.p, key))
			return;
	set(sd, key, t1(n));
}

/* A reference of random keys and a checkpoint derived from it by the usual accidents. */
static void random_case(unsigned *st, struct ck_value **ckpt, char **keylist)
{
	struct ck_value *ref = ck_value_new(CK_V_DICT), *sd = ck_value_new(CK_V_DICT);
	int n = 3 + (int)(rnd(st) % 20);
	for (int i = 0; i < n; i++) {
		char k[256] = "";
		int segs = 1 + (int)(rnd(st) % 4);
		for (int j = 0; j < segs; j++) {
			if (j)
				strcat(k, ".");
			strcat(k, rsegs[rnd(st) % (sizeof rsegs / sizeof rsegs[0])]);
		}
		add_unique(ref, k, 1 + rnd(st) % 3);
	}
	static const char *const pre[] = {"", "bert.", "module.", "model.encoder."};
	const char *p = pre[rnd(st) % 4];
	int legacy = rnd(st) % 3 == 0, drop = rnd(st) % 3 == 0;
	for (size_t i = 0; i < ref->u.dict.n; i++) {
		if (drop && rnd(st) % 5 == 0)
			continue;
		char k[300];
		snprintf(k, sizeof k, "%s%s", p, ref->u.dict.keys[i]->u.s.p);
		size_t l = strlen(k);
		if (legacy && l > 7 && !strcmp(k + l - 7, ".weight"))
			strcpy(k + l - 6, "gamma");
		else if (legacy && l > 5 && !strcmp(k + l - 5, ".bias"))
			strcpy(k + l - 4, "beta");
		add_unique(sd, k, ref->u.dict.vals[i]->u.t->shape[0]);
	}
	if (rnd(st) % 2) { /* a head the reference lacks */
		add_unique(sd, "cls.predictions.bias", 3);
		add_unique(sd, "cls.seq.weight", 2);
	}
	*keylist = keylist_of(ref, 0);
	*ckpt = sd;
}

START_TEST(t_random_hints)
{
	/* CK_RANDOM_SEED / CK_RANDOM_CASES explore further by hand, CK_RANDOM_DEBUG prints each case */
	unsigned st = getenv("CK_RANDOM_SEED") ? (unsigned)atoi(getenv("CK_RANDOM_SEED")) : 12345;
	int ncases = getenv("CK_RANDOM_CASES") ? atoi(getenv("CK_RANDOM_CASES")) : 60;
	int hints = 0, cases = 0;
	for (int c = 0; c < ncases; c++) {
		struct ck_value *sd;
		char *kl;
		random_case(&st, &sd, &kl);
		struct ck_reference *r = ref_load("random.txt", kl);
		char *kl_copy = kl;
		ck_value_ref(sd); /* orig_sd for collect_cb */
		struct fake *f = fake_new(sd, NULL);
		int ok;
		char *js = report(f, r, 1, &ok);
		cJSON *j = cJSON_Parse(js);
		ck_assert_ptr_nonnull(j);
		int miss0 = cJSON_GetArraySize(cJSON_GetObjectItem(j, "missing"));
		int unexp0 = cJSON_GetArraySize(cJSON_GetObjectItem(j, "unexpected"));
		cJSON *h;
		cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "hints")) {
			const char *command = cJSON_GetObjectItem(h, "command")->valuestring;
			const char *text = cJSON_GetObjectItem(h, "text")->valuestring;
			int matches = cJSON_GetObjectItem(h, "matches")->valueint;
			int removes = cJSON_GetObjectItem(h, "removes")->valueint;
			char *dir = new_dir("random");
			orig_sd = sd;
			materialize(f->t, dir);
			if (getenv("CK_RANDOM_DEBUG")) {
				char *sh = ck_tree_shape_text(f->t, f->t->root);
				fprintf(stderr, "case %d:\n%s\nref:\n%s", c, sh, kl_copy);
				free(sh);
			}
			ck_assert_in(apply_hint(dir, "sh", command), js, "case %d: '%s' failed", c, command);
			struct fake *g = tree_from_dir(dir);
			char *js2 = report(g, r, 1, &ok);
			cJSON *j2 = cJSON_Parse(js2);
			int miss1 = cJSON_GetArraySize(cJSON_GetObjectItem(j2, "missing"));
			int unexp1 = cJSON_GetArraySize(cJSON_GetObjectItem(j2, "unexpected"));
			if (removes) { /* exactly those go, nothing else changes */
				ck_assert_in(unexp1 == unexp0 - removes && miss1 == miss0, js, "case %d: '%s': unexpected %d -> %d, "
					     "missing %d -> %d", c, command, unexp0, unexp1, miss0, miss1);
			} else if (!strstr(text, "together with")) { /* at least the promised keys now match */
				ck_assert_in(miss1 <= miss0 - matches, js, "case %d: '%s' promised %d, missing %d -> %d", c,
					     command, matches, miss0, miss1);
			}
			hints++;
			cJSON_Delete(j2);
			free(js2);
			fake_free(g);
			free(dir);
		}
		cases += cJSON_GetArraySize(cJSON_GetObjectItem(j, "hints")) > 0;
		cJSON_Delete(j);
		free(js);
		fake_free(f);
		ck_value_unref(sd);
		ck_reference_free(r);
		free(kl_copy);
	}
	fprintf(stderr, "random: %d hints checked in %d of %d cases\n", hints, cases, ncases);
	ck_assert_int_ge(hints, ncases * 2 / 3);
}
END_TEST

/* ---- scale -------------------------------------------------------------------------------- */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

START_TEST(t_100k_keys)
{
	/* 100k tensors under "model." against a reference without it, plus a head */
	enum { N = 100000 };
	struct ck_value *sd = ck_value_new(CK_V_DICT);
	struct ck_buf kl;
	ck_buf_init(&kl);
	for (int i = 0; i < N; i++) {
		setf(sd, t1(i % 7 + 1), "model.layers.%d.block.%d.weight", i / 10, i % 10);
		ck_buf_printf(&kl, "layers.%d.block.%d.weight [%d]\n", i / 10, i % 10, i % 7 + 1);
	}
	set(sd, "lm_head.weight", t2(4, 4));
	ck_buf_cstr(&kl);
	double t0 = now();
	struct ck_reference *r = ref_load("big.txt", (const char *)kl.p);
	double t_load = now() - t0;
	ck_buf_release(&kl);
	struct fake *f = fake_new(sd, NULL);
	int ok;
	t0 = now();
	char *s = report(f, r, 0, &ok);
	double t_report = now() - t0;
	ck_assert_line(s, "  mv model/* .   would match 100000 missing keys");
	ck_assert_line(s, "missing 100000");
	ck_assert_line(s, "unexpected 100001");
	free(s);
	t0 = now();
	s = report(f, NULL, 0, &ok);
	double t_self = now() - t0;
	free(s);
	/* after the fix: the common case the mount recomputes after every change */
	struct ck_error err;
	ck_assert_int_eq(ck_tree_rename(f->t, "model/layers", "layers", &err), CK_OK);
	t0 = now();
	s = report(f, r, 0, &ok);
	double t_fixed = now() - t0;
	ck_assert_line(s, "missing 0");
	ck_assert_line(s, "unexpected 1");
	free(s);
	fprintf(stderr, "100k keys: load reference %.3fs, report %.3fs, fixed %.3fs, self-check %.3fs\n", t_load,
		t_report, t_fixed, t_self);
	ck_assert_msg(t_report < 5.0, "report took %.2fs", t_report);
	fake_free(f);
	ck_reference_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("report");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_pretraining_vs_model);
	tcase_add_test(tc, t_small_exact);
	tcase_add_test(tc, t_ddp_module);
	tcase_add_test(tc, t_gamma_beta);
	tcase_add_test(tc, t_add_prefix);
	tcase_add_test(tc, t_replace_prefix);
	tcase_add_test(tc, t_nested_and_quoted);
	tcase_add_test(tc, t_selfcheck_config);
	tcase_add_test(tc, t_selfcheck_duplicates);
	tcase_add_test(tc, t_keylist_good);
	tcase_add_test(tc, t_keylist_broken);
	tcase_add_test(tc, t_shell_hints);
	tcase_add_test(tc, t_shell_add_prefix);
	tcase_add_test(tc, t_prefix_forms);
	tcase_add_test(tc, t_random_hints);
	suite_add_tcase(s, tc);
	TCase *big = tcase_create("scale");
	tcase_set_timeout(big, 120);
	tcase_add_checked_fixture(big, setup, teardown);
	tcase_add_test(big, t_100k_keys);
	suite_add_tcase(s, big);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
