/* test_torch_write.c — the PyTorch writer: write-then-read round trips of
 * the fixtures and real files (every field, bytes, sharing, storage numbering,
 * alignment, entry order, CRCs), partial trees, an unwritable output, and the
 * zip64 paths (entries past 4 GiB in a sparse file, more than 65535 entries).
 *
 * Also a small driver for tests/interop_write.sh:
 *   test_torch_write write IN OUT   open IN, write its tree with its format's writer
 *   test_torch_write zip64 IN OUT   copy IN's zip entries to OUT, all but the first
 *                                   past 4 GiB, plus 70000 extra entries */
#include <fcntl.h>
#include <sys/stat.h>
#include <zip.h>

#include "torch_util.h"
#include "zipw.h"

#define ZIP64_START (((uint64_t)4 << 30) + 7)
#define ZIP64_EXTRA 70000

static void write_ok(struct ck_ckpt *src, struct ck_value *root, const char *out, const char *final)
{
	struct ck_write_req req = {.src = src, .root = root, .path = out, .final_path = final};
	struct ck_error err = {0};
	ck_err rc = src->fmt->write(&req, &err);
	ck_assert_msg(rc == CK_OK, "write %s: %s", out, err.msg);
}

/* The archive: entry order, names under the stem, CRCs libzip verifies. */
static void check_archive(const char *path, const char *stem, size_t nstorages)
{
	int zerr;
	zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
	ck_assert_msg(za != NULL, "libzip refuses %s (%d)", path, zerr);
	ck_assert_int_eq(zip_get_num_entries(za, 0), (zip_int64_t)nstorages + 3);
	for (zip_uint64_t i = 0; i < nstorages + 3; i++) {
		char want[256];
		if (i == 0)
			snprintf(want, sizeof want, "%s/data.pkl", stem);
		else if (i == 1)
			snprintf(want, sizeof want, "%s/byteorder", stem);
		else if (i < nstorages + 2)
			snprintf(want, sizeof want, "%s/data/%llu", stem, (unsigned long long)(i - 2));
		else
			snprintf(want, sizeof want, "%s/version", stem);
		ck_assert_str_eq(zip_get_name(za, i, 0), want);
		zip_stat_t st;
		ck_assert_int_eq(zip_stat_index(za, i, 0, &st), 0);
		ck_assert_int_eq(st.comp_method, ZIP_CM_STORE);
		char *buf = malloc(st.size + 1);
		zip_file_t *zf = zip_fopen_index(za, i, 0);
		ck_assert_ptr_nonnull(zf);
		ck_assert_int_eq(zip_fread(zf, buf, st.size + 1), (zip_int64_t)st.size); /* CRC checked at EOF */
		ck_assert_int_eq(zip_fclose(zf), 0);
		if (i == 1)
			ck_assert(st.size == 6 && memcmp(buf, "little", 6) == 0);
		if (i == nstorages + 2)
			ck_assert(st.size == 2 && memcmp(buf, "3\n", 2) == 0);
		free(buf);
	}
	zip_discard(za);
}

static void roundtrip(const char *file)
{
	struct ck_ckpt *src = open_ok(data_path(file));
	const char *out = tmp_path("rt.tmp");
	write_ok(src, src->root, out, "/some/dir/model.v2.pt");
	struct ck_ckpt *dst = open_ok(out);
	ck_assert_str_eq(dst->fmt->name, "pytorch");
	compare_values(src, src->root, dst, dst->root, file);

	/* sharing kept, unused storages dropped, keys 0..n-1 in first-use order, aligned */
	struct collect cs = tensors_of(src), cd = tensors_of(dst);
	ck_assert_uint_eq(cs.n, cd.n);
	size_t used = 0;
	long next = 0;
	for (size_t i = 0; i < cs.n; i++) {
		long si = cs.vals[i]->u.t->storage, di = cd.vals[i]->u.t->storage;
		int first = 1;
		for (size_t j = 0; j < i; j++) {
			ck_assert_int_eq(si == cs.vals[j]->u.t->storage, di == cd.vals[j]->u.t->storage);
			if (cs.vals[j]->u.t->storage == si)
				first = 0;
		}
		if (first) {
			used++;
			ck_assert_int_eq(di, next++);
		}
		char k[24];
		snprintf(k, sizeof k, "%ld", di);
		ck_assert_str_eq(dst->storages[di].key, k);
		ck_assert_uint_eq(dst->storages[di].offset % 64, 0);
		ck_assert_uint_eq(dst->storages[di].nbytes, src->storages[si].nbytes);
	}
	ck_assert_uint_eq(dst->nstorages, used);
	check_archive(out, "model.v2", used);
	collect_free(&cs);
	collect_free(&cd);
	ck_ckpt_free(dst);
	ck_ckpt_free(src);
}

START_TEST(t_roundtrip)
{
	static const char *files[] = {
		"bert_pretrain.bin", "bert_pretrain_legacy.bin", "bert_gamma_beta_legacy.bin", "ddp_module.pt",
		"training.pt", "views.pt", "views_legacy.pt", "odd_keys.pt", "root_tensor.pt",
		"legacy_view_meta.pt", "deflated_pickle.pt",
		"third_party/allennlp-tmpout-den-training_state_epoch_39-2018.th",
		"third_party/mmcv-rans_data.pt", "third_party/candle-fortran_tensor_3d.pth",
		"third_party/burn-reader-non_contiguous.pt", "third_party/candle-config.pt",
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		roundtrip(files[i]);
}
END_TEST

/* A tree that uses part of the source: only used storages are written, a view keeps its offset. */
START_TEST(t_write_subset)
{
	struct ck_ckpt *src = open_ok(data_path("views.pt"));
	struct ck_value *root = ck_value_new(CK_V_DICT);
	ck_value_setitem(root, ck_value_str("r"), ck_value_ref(dget(src->root, "row")));
	ck_value_setitem(root, ck_value_str("again"), ck_value_ref(dget(src->root, "row")));
	ck_value_setitem(root, ck_value_str("h"), ck_value_ref(dget(src->root, "half")));
	const char *out = tmp_path("subset.pt");
	write_ok(src, root, out, out);
	struct ck_ckpt *dst = open_ok(out);
	ck_assert_uint_eq(dst->nstorages, 2);
	ck_assert_uint_eq(dst->storages[0].nbytes, 96); /* the whole storage of the view */
	assert_tensor(tget(dst, "r"), CK_DT_F32, 1, SHAPE(6), SHAPE(1), 6);
	ck_assert_int_eq(tget(dst, "again")->storage, 0);
	ck_assert_int_eq(tget(dst, "h")->storage, 1);
	assert_f32(dst, "again", (float[]){6, 7, 8, 9, 10, 11}, 6);
	check_archive(out, "subset", 2);
	ck_ckpt_free(dst);
	ck_value_unref(root);
	/* an unwritable output: a clean error, nothing left behind */
	struct ck_write_req req = {.src = src, .root = src->root, .path = "/nonexistent-dir/x.pt",
				   .final_path = "/nonexistent-dir/x.pt"};
	struct ck_error err = {0};
	ck_assert_int_eq(src->fmt->write(&req, &err), CK_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, "/nonexistent-dir/x.pt"));
	ck_ckpt_free(src);
}
END_TEST

/* Copies in's entries to out through the zip writer, all but the first past
 * 4 GiB (after a sparse hole), adding `extra` small entries, so every zip64 field is used. */
static int zip64_copy(const char *in, const char *out, int extra, struct ck_error *err)
{
	int zerr;
	zip_t *za = zip_open(in, ZIP_RDONLY, &zerr);
	if (!za)
		return ck_error_set(err, CK_EFORMAT, "%s: cannot open", in);
	int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct ck_zipw z;
	ck_err rc = fd < 0 ? ck_error_set(err, CK_EIO, "%s: cannot create", out) : ck_zipw_init(&z, fd, out, err);
	if (rc) {
		zip_discard(za);
		return rc;
	}
	char prefix[256] = "";
	for (zip_int64_t i = 0; i < zip_get_num_entries(za, 0) && !rc; i++) {
		zip_stat_t st;
		zip_stat_index(za, (zip_uint64_t)i, 0, &st);
		if (i == 0)
			snprintf(prefix, sizeof prefix, "%.*s", (int)(strchr(st.name, '/') - st.name), st.name);
		char *buf = malloc(st.size + 1);
		zip_file_t *zf = zip_fopen_index(za, (zip_uint64_t)i, 0);
		zip_fread(zf, buf, st.size);
		zip_fclose(zf);
		rc = ck_zipw_add_mem(&z, st.name, buf, st.size, err);
		free(buf);
		if (i == 0) /* the first entry stays at 0 so the format probe sees it */
			z.off = ZIP64_START;
	}
	for (int i = 0; i < extra && !rc; i++) {
		char name[300];
		snprintf(name, sizeof name, "%s/extra/%d", prefix, i);
		rc = ck_zipw_add_mem(&z, name, "x", 1, err);
	}
	if (!rc)
		rc = ck_zipw_finish(&z, err);
	ck_zipw_release(&z);
	close(fd);
	zip_discard(za);
	return rc;
}

START_TEST(t_zip64)
{
	const char *out = tmp_path("zip64.pt");
	struct ck_error err = {0};
	ck_assert_msg(zip64_copy(data_path("views.pt"), out, ZIP64_EXTRA, &err) == CK_OK, "%s", err.msg);
	struct stat st;
	ck_assert_int_eq(stat(out, &st), 0);
	ck_assert_uint_gt((uint64_t)st.st_size, ZIP64_START);
	struct ck_ckpt *a = open_ok(data_path("views.pt")), *b = open_ok(out);
	compare_values(a, a->root, b, b->root, "zip64");
	ck_assert_uint_eq(b->nstorages, 18);
	for (size_t i = 0; i < b->nstorages; i++)
		ck_assert_uint_gt(b->storages[i].offset, ZIP64_START);
	int zerr;
	zip_t *za = zip_open(out, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
	ck_assert_ptr_nonnull(za);
	ck_assert_int_eq(zip_get_num_entries(za, 0), 18 + 2 + ZIP64_EXTRA); /* 1.13 writes no byteorder */
	zip_discard(za);
	ck_ckpt_free(a);
	ck_ckpt_free(b);
	unlink(out);
}
END_TEST

static int driver(int argc, char **argv)
{
	struct ck_error err = {0};
	if (argc == 4 && strcmp(argv[1], "write") == 0) {
		struct ck_ckpt *ck;
		if (ck_ckpt_open(argv[2], &ck, &err) == CK_OK) {
			struct ck_write_req req = {.src = ck, .root = ck->root, .path = argv[3], .final_path = argv[3]};
			ck_err rc = ck->fmt->write ? ck->fmt->write(&req, &err)
						   : ck_error_set(&err, CK_EUNSUP, "%s: no writer", argv[2]);
			ck_ckpt_free(ck);
			if (rc == CK_OK)
				return 0;
		}
	} else if (argc == 4 && strcmp(argv[1], "zip64") == 0) {
		if (zip64_copy(argv[2], argv[3], ZIP64_EXTRA, &err) == CK_OK)
			return 0;
	} else {
		fprintf(stderr, "usage: test_torch_write [write|zip64 IN OUT]\n");
		return 2;
	}
	fprintf(stderr, "test_torch_write: %s\n", err.msg);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return driver(argc, argv);
	Suite *s = suite_create("torch_write");
	TCase *tw = tcase_create("write");
	tcase_add_checked_fixture(tw, setup, teardown);
	tcase_set_timeout(tw, 120);
	tcase_add_test(tw, t_roundtrip);
	tcase_add_test(tw, t_write_subset);
	tcase_add_test(tw, t_zip64);
	suite_add_tcase(s, tw);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
