/* test_torch.c — the PyTorch readers (zip, legacy) over the fixtures of
 * scripts/make-fixtures.py and the real files in tests/data/third_party:
 * every field of each fixture, and a table of broken inputs with the error
 * each must give (truncations at several points, wrong magic, absurd sizes,
 * deflated storages, big-endian, TorchScript, ...).  Writing is tested in
 * test_torch_write.c. */
#include "torch_util.h"

/* ---- BERT-like fixtures --------------------------------------------------- */

/* Expected keys/shapes: "bert." + the tiny BertModel reference, then the head. */
static size_t bert_expected(char keys[][96], int64_t shapes[][2], int ndims[])
{
	FILE *f = fopen(data_path("bert_tiny_reference.txt"), "r");
	ck_assert_ptr_nonnull(f);
	char line[256];
	size_t n = 0;
	while (fgets(line, sizeof line, f)) {
		char k[88], s[64];
		if (line[0] == '#' || sscanf(line, "%87s [%63[^]]]", k, s) != 2)
			continue;
		snprintf(keys[n], 96, "bert.%s", k);
		ndims[n] = sscanf(s, "%ld,%ld", (long *)&shapes[n][0], (long *)&shapes[n][1]);
		n++;
	}
	fclose(f);
	static const struct { const char *k; int64_t d0, d1; int nd; } head[] = {
		{"cls.predictions.bias", 32, 0, 1},
		{"cls.predictions.transform.dense.weight", 8, 8, 2},
		{"cls.predictions.transform.dense.bias", 8, 0, 1},
		{"cls.predictions.transform.LayerNorm.weight", 8, 0, 1},
		{"cls.predictions.transform.LayerNorm.bias", 8, 0, 1},
		{"cls.predictions.decoder.weight", 32, 8, 2},
		{"cls.predictions.decoder.bias", 32, 0, 1},
		{"cls.seq_relationship.weight", 2, 8, 2},
		{"cls.seq_relationship.bias", 2, 0, 1},
	};
	for (size_t i = 0; i < sizeof head / sizeof head[0]; i++, n++) {
		snprintf(keys[n], 96, "%s", head[i].k);
		shapes[n][0] = head[i].d0, shapes[n][1] = head[i].d1, ndims[n] = head[i].nd;
	}
	return n;
}

static void check_bert(const char *file, const char *fmt, int gamma_beta, int aligned)
{
	char keys[64][96];
	int64_t shapes[64][2];
	int ndims[64];
	size_t n = bert_expected(keys, shapes, ndims);
	ck_assert_uint_eq(n, 49);
	struct ck_ckpt *ck = open_ok(data_path(file));
	ck_assert_str_eq(ck->fmt->name, fmt);
	ck_assert_int_eq(ck->sep, '.');
	ck_assert_int_eq(ck->root->kind, CK_V_DICT);
	ck_assert_int_eq(ck->root->u.dict.ordered, 1);
	ck_assert_uint_eq(ck->root->u.dict.n, n);
	struct collect c = tensors_of(ck);
	ck_assert_uint_eq(c.n, n);
	for (size_t i = 0; i < n; i++) {
		char want[96];
		memcpy(want, keys[i], sizeof want);
		char *ln = strstr(want, "LayerNorm.");
		if (gamma_beta && ln) /* 2018-style names */
			strcpy(ln + 10, strcmp(ln + 10, "weight") == 0 ? "gamma" : "beta");
		ck_assert_str_eq(c.keys[i], want);
		const struct ck_tensor *t = c.vals[i]->u.t;
		int pos = strcmp(want, "bert.embeddings.position_ids") == 0;
		int64_t stride[2] = {ndims[i] == 2 ? shapes[i][1] : 1, 1};
		assert_tensor(t, pos ? CK_DT_I64 : CK_DT_F32, ndims[i], shapes[i], stride, 0);
		ck_assert_int_eq(t->is_param, 0);
		ck_assert_int_eq(t->requires_grad, 0);
		const struct ck_storage *s = &ck->storages[t->storage];
		ck_assert_uint_eq(s->nbytes, t->nbytes);
		ck_assert_int_eq(s->located, 1);
		ck_assert_int_eq(s->file, 0);
		if (aligned)
			ck_assert_uint_eq(s->offset % 64, 0);
	}
	/* tied: decoder weight/bias share the embeddings' and predictions.bias' storages */
	ck_assert_uint_eq(ck->nstorages, 47);
	ck_assert_int_eq(tget(ck, "cls.predictions.decoder.weight")->storage,
			 tget(ck, "bert.embeddings.word_embeddings.weight")->storage);
	ck_assert_int_eq(tget(ck, "cls.predictions.decoder.bias")->storage,
			 tget(ck, "cls.predictions.bias")->storage);
	ck_assert_int_ne(tget(ck, "cls.predictions.bias")->storage,
			 tget(ck, "bert.embeddings.word_embeddings.weight")->storage);
	/* values, as torch.load gives them */
	assert_f32(ck, "bert.embeddings.word_embeddings.weight", (float[]){0.174280047416687f, 0.11351057887077332f}, 2);
	assert_f32(ck, "cls.seq_relationship.bias", (float[]){1.0412333011627197f, 0.13151583075523376f}, 2);
	int64_t pos[16];
	read_all(ck, tget(ck, "bert.embeddings.position_ids"), pos, sizeof pos);
	for (int i = 0; i < 16; i++)
		ck_assert_int_eq(pos[i], i);
	collect_free(&c);
	ck_ckpt_free(ck);
}

START_TEST(t_bert_zip) { check_bert("bert_pretrain.bin", "pytorch", 0, 1); }
END_TEST
START_TEST(t_bert_legacy) { check_bert("bert_pretrain_legacy.bin", "pytorch-legacy", 0, 0); }
END_TEST
START_TEST(t_bert_gamma_beta) { check_bert("bert_gamma_beta_legacy.bin", "pytorch-legacy", 1, 0); }
END_TEST

/* Every tensor of the legacy file has the same bytes as in the zip file. */
START_TEST(t_legacy_bytes_match_zip)
{
	struct ck_ckpt *a = open_ok(data_path("bert_pretrain.bin"));
	struct ck_ckpt *b = open_ok(data_path("bert_pretrain_legacy.bin"));
	struct collect ca = tensors_of(a), cb = tensors_of(b);
	ck_assert_uint_eq(ca.n, cb.n);
	for (size_t i = 0; i < ca.n; i++) {
		const struct ck_tensor *x = ca.vals[i]->u.t, *y = cb.vals[i]->u.t;
		ck_assert_uint_eq(x->nbytes, y->nbytes);
		char *p = malloc(x->nbytes), *q = malloc(y->nbytes);
		read_all(a, x, p, x->nbytes);
		read_all(b, y, q, y->nbytes);
		ck_assert_msg(memcmp(p, q, x->nbytes) == 0, "%s differs", ca.keys[i]);
		free(p);
		free(q);
	}
	collect_free(&ca);
	collect_free(&cb);
	ck_ckpt_free(a);
	ck_ckpt_free(b);
}
END_TEST

START_TEST(t_ddp)
{
	struct ck_ckpt *ck = open_ok(data_path("ddp_module.pt"));
	struct collect c = tensors_of(ck);
	ck_assert_uint_eq(c.n, 40);
	for (size_t i = 0; i < c.n; i++)
		ck_assert_msg(strncmp(c.keys[i], "module.", 7) == 0, "%s", c.keys[i]);
	ck_assert_str_eq(c.keys[0], "module.embeddings.position_ids");
	ck_assert_str_eq(c.keys[39], "module.pooler.dense.bias");
	assert_tensor(tget(ck, "module.encoder.layer.1.intermediate.dense.weight"), CK_DT_F32, 2, SHAPE(16, 8),
		      SHAPE(8, 1), 0);
	ck_assert_uint_eq(ck->nstorages, 40);
	collect_free(&c);
	ck_ckpt_free(ck);
}
END_TEST

START_TEST(t_training)
{
	struct ck_ckpt *ck = open_ok(data_path("training.pt"));
	struct ck_value *r = ck->root;
	ck_assert_int_eq(r->kind, CK_V_DICT);
	ck_assert_int_eq(r->u.dict.ordered, 0);
	ck_assert_uint_eq(r->u.dict.n, 4);
	ck_assert_str_eq(r->u.dict.keys[0]->u.s.p, "epoch");
	ck_assert_str_eq(r->u.dict.keys[3]->u.s.p, "loss");
	ck_assert_int_eq(dget(r, "epoch")->kind, CK_V_INT);
	ck_assert_int_eq(dget(r, "epoch")->u.i, 7);
	ck_assert_int_eq(dget(r, "loss")->kind, CK_V_FLOAT);
	ck_assert(dget(r, "loss")->u.f == 0.25);
	struct ck_value *msd = dget(r, "model_state_dict");
	ck_assert_int_eq(msd->u.dict.ordered, 1);
	ck_assert_uint_eq(msd->u.dict.n, 4);
	assert_tensor(tget(ck, "model_state_dict.0.weight"), CK_DT_F32, 2, SHAPE(3, 4), SHAPE(4, 1), 0);
	assert_tensor(tget(ck, "model_state_dict.2.bias"), CK_DT_F32, 1, SHAPE(2), SHAPE(1), 0);
	struct ck_value *osd = dget(r, "optimizer_state_dict"), *state = dget(osd, "state");
	ck_assert_uint_eq(state->u.dict.n, 4);
	for (int p = 0; p < 4; p++) {
		struct ck_value *s = dgeti(state, p); /* int keys stay ints */
		ck_assert_uint_eq(s->u.dict.n, 3);
		ck_assert_int_eq(dget(s, "step")->kind, CK_V_TENSOR);
		ck_assert_int_eq(dget(s, "step")->u.t->ndim, 0);
		ck_assert_int_eq(dget(s, "exp_avg")->kind, CK_V_TENSOR);
	}
	float step;
	read_all(ck, tget(ck, "optimizer_state_dict.state.0.step"), &step, 4);
	ck_assert(step == 1.0f);
	assert_tensor(tget(ck, "optimizer_state_dict.state.2.exp_avg_sq"), CK_DT_F32, 2, SHAPE(2, 3), SHAPE(3, 1), 0);
	struct ck_value *pg = dget(osd, "param_groups");
	ck_assert_int_eq(pg->kind, CK_V_LIST);
	ck_assert_uint_eq(pg->u.seq.n, 1);
	struct ck_value *g = pg->u.seq.items[0];
	ck_assert_uint_eq(g->u.dict.n, 11);
	ck_assert(dget(g, "lr")->kind == CK_V_FLOAT && dget(g, "lr")->u.f == 0.001);
	struct ck_value *betas = dget(g, "betas");
	ck_assert_int_eq(betas->kind, CK_V_TUPLE);
	ck_assert(betas->u.seq.n == 2 && betas->u.seq.items[1]->u.f == 0.999);
	ck_assert(dget(g, "eps")->u.f == 1e-08);
	ck_assert(dget(g, "weight_decay")->kind == CK_V_INT && dget(g, "weight_decay")->u.i == 0);
	ck_assert(dget(g, "amsgrad")->kind == CK_V_BOOL && dget(g, "amsgrad")->u.b == 0);
	ck_assert_int_eq(dget(g, "foreach")->kind, CK_V_NONE);
	struct ck_value *params = dget(g, "params");
	ck_assert(params->kind == CK_V_LIST && params->u.seq.n == 4 && params->u.seq.items[3]->u.i == 3);
	ck_assert_uint_eq(ck->nstorages, 4 + 12);
	ck_ckpt_free(ck);
}
END_TEST

static void check_views(const char *file)
{
	struct ck_ckpt *ck = open_ok(data_path(file));
	struct ck_value *r = ck->root;
	ck_assert_uint_eq(r->u.dict.n, 26);
	struct ck_tensor *base = tget(ck, "base");
	assert_tensor(base, CK_DT_F32, 2, SHAPE(4, 6), SHAPE(6, 1), 0);
	assert_tensor(tget(ck, "transposed"), CK_DT_F32, 2, SHAPE(6, 4), SHAPE(1, 6), 0);
	assert_tensor(tget(ck, "row"), CK_DT_F32, 1, SHAPE(6), SHAPE(1), 6);
	assert_tensor(tget(ck, "col"), CK_DT_F32, 1, SHAPE(4), SHAPE(6), 2);
	assert_tensor(tget(ck, "narrow"), CK_DT_F32, 2, SHAPE(2, 3), SHAPE(6, 1), 8);
	static const char *shared[] = {"transposed", "row", "col", "narrow"};
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(tget(ck, shared[i])->storage, base->storage);
	ck_assert_uint_eq(ck->storages[base->storage].nbytes, 96);
	assert_f32(ck, "transposed", (float[]){0, 6, 12, 18, 1, 7, 13, 19}, 8);
	assert_f32(ck, "col", (float[]){2, 8, 14, 20}, 4);
	assert_f32(ck, "narrow", (float[]){8, 9, 10, 14, 15, 16}, 6);
	assert_tensor(tget(ck, "half"), CK_DT_F16, 2, SHAPE(3, 4), SHAPE(4, 1), 0);
	assert_tensor(tget(ck, "bf16"), CK_DT_BF16, 1, SHAPE(5), SHAPE(1), 0);
	assert_tensor(tget(ck, "f64"), CK_DT_F64, 2, SHAPE(2, 2), SHAPE(2, 1), 0);
	assert_tensor(tget(ck, "i8"), CK_DT_I8, 1, SHAPE(3), SHAPE(1), 0);
	assert_tensor(tget(ck, "i16"), CK_DT_I16, 1, SHAPE(2), SHAPE(1), 0);
	assert_tensor(tget(ck, "i32"), CK_DT_I32, 2, SHAPE(2, 2), SHAPE(2, 1), 0);
	assert_tensor(tget(ck, "i64"), CK_DT_I64, 2, SHAPE(2, 3), SHAPE(3, 1), 0);
	assert_tensor(tget(ck, "u8"), CK_DT_U8, 1, SHAPE(3), SHAPE(1), 0);
	assert_tensor(tget(ck, "flag"), CK_DT_BOOL, 1, SHAPE(4), SHAPE(1), 0);
	assert_tensor(tget(ck, "c64"), CK_DT_C64, 1, SHAPE(2), SHAPE(1), 0);
	assert_tensor(tget(ck, "scalar"), CK_DT_F32, 0, NULL, NULL, 0);
	assert_tensor(tget(ck, "empty"), CK_DT_F32, 1, SHAPE(0), SHAPE(1), 0);
	assert_tensor(tget(ck, "empty2d"), CK_DT_I64, 2, SHAPE(2, 0), SHAPE(1, 1), 0);
	ck_assert_uint_eq(tget(ck, "empty2d")->nbytes, 0);
	struct ck_tensor *p = tget(ck, "param");
	assert_tensor(p, CK_DT_F32, 2, SHAPE(2, 3), SHAPE(3, 1), 0);
	ck_assert_int_eq(p->is_param, 1);
	ck_assert_int_eq(p->requires_grad, 1);
	int8_t i8[3];
	read_all(ck, tget(ck, "i8"), i8, 3);
	ck_assert(i8[0] == -3 && i8[1] == 0 && i8[2] == 5);
	int16_t i16[2];
	read_all(ck, tget(ck, "i16"), i16, 4);
	ck_assert(i16[0] == -300 && i16[1] == 7);
	uint8_t u8[3], flag[4];
	read_all(ck, tget(ck, "u8"), u8, 3);
	ck_assert(u8[0] == 0 && u8[1] == 255 && u8[2] == 7);
	read_all(ck, tget(ck, "flag"), flag, 4);
	ck_assert(flag[0] == 1 && flag[1] == 0 && flag[2] == 1 && flag[3] == 1);
	assert_f32(ck, "c64", (float[]){1, 2, 0, -3}, 4);
	assert_f32(ck, "scalar", (float[]){2.5f}, 1);
	assert_f32(ck, "tuple.0", (float[]){4, 4, 4}, 3);
	ck_assert_int_eq(dget(r, "list")->kind, CK_V_LIST);
	ck_assert_uint_eq(dget(r, "list")->u.seq.n, 2);
	assert_tensor(tget(ck, "list.1"), CK_DT_F32, 2, SHAPE(1, 1), SHAPE(1, 1), 0);
	ck_assert_int_eq(dget(r, "tuple")->kind, CK_V_TUPLE);
	ck_assert_str_eq(dget(r, "note")->u.s.p, "hello");
	ck_assert(dget(r, "count")->kind == CK_V_INT && dget(r, "count")->u.i == 3);
	ck_assert(dget(r, "ratio")->kind == CK_V_FLOAT && dget(r, "ratio")->u.f == 0.5);
	ck_assert_int_eq(dget(r, "none")->kind, CK_V_NONE);
	ck_assert(dget(r, "yes")->kind == CK_V_BOOL && dget(r, "yes")->u.b == 1);
	ck_assert_uint_eq(ck->nstorages, 18);
	ck_ckpt_free(ck);
}

START_TEST(t_views_zip) { check_views("views.pt"); }
END_TEST
START_TEST(t_views_legacy) { check_views("views_legacy.pt"); }
END_TEST

/* view_metadata slices fold into their root storage plus an element offset */
START_TEST(t_legacy_view_metadata)
{
	struct ck_ckpt *ck = open_ok(data_path("legacy_view_meta.pt"));
	ck_assert_uint_eq(ck->nstorages, 1);
	ck_assert_str_eq(ck->storages[0].key, "r");
	ck_assert_uint_eq(ck->storages[0].nbytes, 32);
	assert_tensor(tget(ck, "whole"), CK_DT_F32, 1, SHAPE(8), SHAPE(1), 0);
	assert_tensor(tget(ck, "mid"), CK_DT_F32, 1, SHAPE(2), SHAPE(1), 3);
	assert_tensor(tget(ck, "tail"), CK_DT_F32, 1, SHAPE(3), SHAPE(1), 5);
	assert_tensor(tget(ck, "mid_again"), CK_DT_F32, 2, SHAPE(2, 2), SHAPE(2, 1), 2);
	assert_f32(ck, "mid", (float[]){3, 4}, 2);
	assert_f32(ck, "tail", (float[]){5, 6, 7}, 3);
	assert_f32(ck, "mid_again", (float[]){2, 3, 4, 5}, 4);
	ck_ckpt_free(ck);
}
END_TEST

START_TEST(t_odd_keys_and_root)
{
	struct ck_ckpt *ck = open_ok(data_path("odd_keys.pt"));
	struct ck_value *r = ck->root;
	ck_assert_uint_eq(r->u.dict.n, 5);
	ck_assert_str_eq(r->u.dict.keys[0]->u.s.p, "");
	ck_assert_str_eq(r->u.dict.keys[1]->u.s.p, "a b");
	ck_assert(r->u.dict.keys[2]->kind == CK_V_INT && r->u.dict.keys[2]->u.i == 5);
	ck_assert_str_eq(r->u.dict.keys[4]->u.s.p, "tab\there");
	struct ck_value *x = dget(r, "x");
	ck_assert_int_eq(x->u.dict.ordered, 0);
	assert_tensor(dgeti(x, 0)->u.t, CK_DT_F32, 2, SHAPE(2, 2), SHAPE(2, 1), 0);
	ck_assert_int_eq(dget(x, "y")->kind, CK_V_LIST);
	struct collect c = tensors_of(ck);
	static const char *want[] = {"", "a b", "5", "x.0", "x.y.0", "x.y.1", "tab\there"};
	ck_assert_uint_eq(c.n, 7);
	for (size_t i = 0; i < c.n; i++)
		ck_assert_str_eq(c.keys[i], want[i]);
	collect_free(&c);
	ck_ckpt_free(ck);

	ck = open_ok(data_path("root_tensor.pt"));
	ck_assert_int_eq(ck->root->kind, CK_V_TENSOR);
	assert_tensor(ck->root->u.t, CK_DT_F32, 2, SHAPE(2, 3), SHAPE(3, 1), 0);
	ck_ckpt_free(ck);

	ck = open_ok(data_path("deflated_pickle.pt"));
	assert_f32(ck, "w", (float[]){1, 2, 3, 4}, 4);
	ck_ckpt_free(ck);
}
END_TEST

/* A few real files: fields from the collection's MANIFEST. */
START_TEST(t_third_party)
{
	struct ck_ckpt *ck = open_ok(data_path("third_party/burn-reader-legacy_with_offsets-20260610.pt"));
	ck_assert_str_eq(ck->fmt->name, "pytorch-legacy");
	ck_assert_int_eq(tget(ck, "tensor2")->ndim, 1);
	ck_assert_int_eq(tget(ck, "tensor2")->shape[0], 5);
	ck_ckpt_free(ck);
	ck = open_ok(data_path("third_party/candle-fortran_tensor_3d.pth"));
	struct ck_tensor *t = tget(ck, "tensor_fortran");
	assert_tensor(t, CK_DT_I64, 3, SHAPE(2, 3, 4), t->stride, 0);
	ck_assert_int_eq(ck_tensor_is_contiguous(t), 0);
	ck_ckpt_free(ck);
	ck = open_ok(data_path("third_party/mmcv-rans_data.pt"));
	assert_tensor(tget(ck, "quantized_cdfs"), CK_DT_I32, 2, SHAPE(192, 79), SHAPE(79, 1), 0);
	ck_assert_int_eq(dget(ck->root, "encoded")->kind, CK_V_BYTES);
	ck_ckpt_free(ck);
	ck = open_ok(data_path("third_party/allennlp-tmpout-den-training_state_epoch_39-2018.th"));
	ck_assert_int_eq(dget(ck->root, "epoch")->u.i, 39);
	struct ck_value *st = dget(dget(ck->root, "optimizer"), "state");
	ck_assert_uint_eq(st->u.dict.n, 6);
	assert_tensor(dget(dgeti(st, 4921028544), "exp_avg")->u.t, CK_DT_F32, 2, SHAPE(200, 100), SHAPE(100, 1), 0);
	ck_assert(dget(dget(ck->root, "learning_rate_scheduler"), "factor")->u.f == 0.5);
	ck_ckpt_free(ck);
}
END_TEST

/* ---- broken inputs -------------------------------------------------------- */

static void expect_error(const char *path, ck_err code, const char *needle)
{
	struct ck_ckpt *ck = NULL;
	struct ck_error err = {0};
	ck_err rc = ck_ckpt_open(path, &ck, &err);
	ck_assert_msg(rc == code, "%s: got %s (%s), want %s", path, ck_err_name(rc), err.msg, ck_err_name(code));
	ck_assert_ptr_null(ck);
	ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0 && err.msg[strlen(path)] == ':',
		      "message does not start with the file: %s", err.msg);
	ck_assert_msg(!strchr(err.msg, '\n'), "message is not one line: %s", err.msg);
	ck_assert_msg(strstr(err.msg, needle), "%s: message '%s' lacks '%s'", path, err.msg, needle);
}

START_TEST(t_broken_fixtures)
{
	static const struct { const char *file; ck_err code; const char *needle; } cases[] = {
		{"broken_absurd_numel.pt", CK_ELIMIT, "absurd element count"},
		{"broken_big_byteorder.pt", CK_EUNSUP, "big-endian"},
		{"broken_deflated.pt", CK_EUNSUP, "'data/0' is compressed"},
		{"broken_missing_record.pt", CK_EFORMAT, "missing storage record 'data/0'"},
		{"broken_short_record.pt", CK_EFORMAT, "has 12 bytes, the pickle needs 16"},
		{"broken_offset_past.pt", CK_EFORMAT, "'w': view reaches past its storage"},
		{"broken_no_folder.pt", CK_EFORMAT, "has no folder"},
		{"broken_version.pt", CK_EUNSUP, "version 99"},
		{"broken_unsafe.pt", CK_EUNSAFE, "posix.getcwd"},
		{"broken_legacy_magic.pt", CK_EFORMAT, "bad magic number"},
		{"broken_legacy_truncated.pt", CK_EFORMAT, "truncated storage '0'"},
		{"broken_legacy_count.pt", CK_EFORMAT, "storage '0'"},
		{"broken_legacy_big_endian.pt", CK_EUNSUP, "big-endian"},
		{"torchscript.pt", CK_EUNSUP, "TorchScript archive: not supported"},
		{"third_party/tchrs-torchscript-foo-20190514.pt", CK_EUNSUP, "TorchScript"},
		{"third_party/tchrs-torchscript-foo-20221227.pt", CK_EUNSUP, "TorchScript"},
		{"third_party/burn-reader-broken.pt", CK_EFORMAT, "unrecognised"},
		{"third_party/burn-reader-tar_float32.tar", CK_EUNSUP, "legacy tar checkpoint"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		expect_error(data_path(cases[i].file), cases[i].code, cases[i].needle);
}
END_TEST

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

static char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	rewind(f);
	char *p = malloc(*n);
	ck_assert_uint_eq(fread(p, 1, *n, f), *n);
	fclose(f);
	return p;
}

/* Truncated copies of good files, cut at several points: each a clean error. */
START_TEST(t_truncated)
{
	static const struct { const char *file; long cuts[8]; } cases[] = {
		/* negative: bytes from the end */
		{"bert_pretrain.bin", {4, 31, 100, 2000, -30, -22, -1, 0}},
		{"bert_pretrain_legacy.bin", {10, 15, 40, 200, 4000, -5000, -1, 0}},
		{"views.pt", {600, -600, -100, -60, -2, 0}},
	};
	expect_error(tmp_path("no-such-file.pt"), CK_ENOENT, "");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n;
		char *p = slurp(data_path(cases[i].file), &n);
		for (int j = 0; cases[i].cuts[j]; j++) {
			long c = cases[i].cuts[j];
			size_t keep = c > 0 ? (size_t)c : n - (size_t)-c;
			const char *path = tmp_path("cut.pt");
			write_file(path, p, keep);
			expect_error(path, CK_EFORMAT, "");
		}
		free(p);
	}
	const char *path = tmp_path("three.pt");
	write_file(path, "abc", 3);
	expect_error(path, CK_EFORMAT, "unrecognised");
	write_file(path, "", 0);
	expect_error(path, CK_EFORMAT, "empty file");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("torch");
	TCase *tc = tcase_create("read");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, t_bert_zip);
	tcase_add_test(tc, t_bert_legacy);
	tcase_add_test(tc, t_bert_gamma_beta);
	tcase_add_test(tc, t_legacy_bytes_match_zip);
	tcase_add_test(tc, t_ddp);
	tcase_add_test(tc, t_training);
	tcase_add_test(tc, t_views_zip);
	tcase_add_test(tc, t_views_legacy);
	tcase_add_test(tc, t_legacy_view_metadata);
	tcase_add_test(tc, t_odd_keys_and_root);
	tcase_add_test(tc, t_third_party);
	tcase_add_test(tc, t_broken_fixtures);
	tcase_add_test(tc, t_truncated);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
