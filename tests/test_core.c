#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ck.h"
START_TEST(t_float_repr)
{
	struct { double f; const char *s; } cases[] = {
		{0.001, "0.001"}, {1.0, "1.0"}, {1e-08, "1e-08"}, {0.1, "0.1"}, {1e16, "1e+16"},
		{1e15, "1000000000000000.0"}, {-2.5, "-2.5"}, {123456789.0, "123456789.0"},
		{0.0001, "0.0001"}, {0.00001, "1e-05"}, {3.141592653589793, "3.141592653589793"},
		{0.9, "0.9"}, {0.999, "0.999"}, {1.5e300, "1.5e+300"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ck_value *v = ck_value_float(cases[i].f);
		char *s = ck_value_text(v);
		ck_assert_str_eq(s, cases[i].s);
		free(s);
		ck_value_unref(v);
	}
}
END_TEST
/* A zero-stride view may be bigger than its bytes, but not absurdly so. */
START_TEST(t_expanded_view_cap)
{
	struct ck_storage st = {.key = "0", .dtype = CK_DT_F32, .nbytes = 4, .file = 0, .located = 1};
	struct ck_ckpt ck = {.path = "mem.bin", .storages = &st, .nstorages = 1};
	struct ck_tensor *t = ck_tensor_new(CK_DT_F32, 1);
	struct ck_error err;
	t->storage = 0;
	t->shape[0] = 1000;  /* expand(1000) of one float: fine */
	t->stride[0] = 0;
	ck_assert_int_eq(ck_tensor_check(&ck, t, "a", &err), CK_OK);
	ck_assert_int_eq(t->nbytes, 4000);
	t->shape[0] = (int64_t)1 << 40;  /* 4 TiB out of 4 bytes */
	ck_assert_int_eq(ck_tensor_check(&ck, t, "a", &err), CK_ELIMIT);
	ck_assert_str_eq(err.msg, "mem.bin: tensor 'a': view of 4398046511104 bytes over a storage of 4 bytes");
	t->shape[0] = 2;
	t->stride[0] = 1;  /* two floats out of one: past the storage */
	ck_assert_int_eq(ck_tensor_check(&ck, t, "a", &err), CK_EFORMAT);
	ck_tensor_free(t);
}
END_TEST

/* Big transposed views (storage span over the in-memory gather cap) read in
 * any chunking give exactly the C-order elements. */
START_TEST(t_transposed_gather)
{
	enum { R = 1500, C = 1100, B = 2 };
	char path[] = "/tmp/ckcore-XXXXXX";
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	uint32_t *data = malloc(sizeof *data * R * C * B);
	for (uint32_t i = 0; i < R * C * B; i++)
		data[i] = i;
	ck_assert_int_eq(write(fd, data, sizeof *data * R * C * B), (ssize_t)(sizeof *data * R * C * B));
	struct ck_file file = {.path = path, .fd = fd, .size = sizeof *data * R * C * B};
	struct ck_storage st = {.key = "0", .dtype = CK_DT_I32, .nbytes = file.size, .file = 0, .located = 1};
	struct ck_ckpt ck = {.path = path, .files = &file, .nfiles = 1, .storages = &st, .nstorages = 1};
	struct ck_tensor *t = ck_tensor_new(CK_DT_I32, 3);  /* [B, R, C] with the last two swapped */
	t->storage = 0;
	t->shape[0] = B, t->shape[1] = R, t->shape[2] = C;
	t->stride[0] = R * C, t->stride[1] = 1, t->stride[2] = R;
	struct ck_error err;
	ck_assert_int_eq(ck_tensor_check(&ck, t, "t", &err), CK_OK);
	uint32_t *got = malloc(t->nbytes);
	const size_t chunks[] = {131072, 1 << 20, 100003, 4400 * 3 + 7};
	for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
		memset(got, 0xff, t->nbytes);
		uint64_t off = 0;
		size_t chunk = chunks[k];
		while (off < t->nbytes) {
			size_t n;
			ck_assert_int_eq(ck_tensor_read(&ck, t, (uint8_t *)got + off, chunk, off, &n, &err), CK_OK);
			ck_assert_uint_gt(n, 0);
			off += n;
		}
		for (uint32_t b = 0; b < B; b++)
			for (uint32_t r = 0; r < R; r += 7)
				for (uint32_t c = 0; c < C; c++)
					ck_assert_uint_eq(got[(b * R + r) * C + c], b * R * C + r + c * R);
	}
	free(got);
	free(data);
	ck_tensor_free(t);
	close(fd);
	unlink(path);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core");
	TCase *tc = tcase_create("value");
	tcase_add_test(tc, t_float_repr);
	tcase_add_test(tc, t_expanded_view_cap);
	tcase_add_test(tc, t_transposed_gather);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
