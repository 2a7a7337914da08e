/*
 * gn_util.h — what test_gguf.c and test_npz.c share on top of st_util.h:
 * opening that must succeed, refusals that must be one line with a given code,
 * and random damage of a good file (the fuzz smoke test).
 */
#ifndef GN_UTIL_H
#define GN_UTIL_H

#include "st_util.h"

static inline struct ck_ckpt *open_ok(const char *path)
{
	struct ck_ckpt *ck = NULL;
	struct ck_error err = {0};
	ck_err rc = ck_ckpt_open(path, &ck, &err);
	ck_assert_msg(rc == CK_OK, "%s: %s", path, err.msg);
	return ck;
}

/* Opening fails with code, and the message is one line "PATH: ..." holding reason. */
static inline void expect_fail(const char *path, ck_err code, const char *reason)
{
	struct ck_ckpt *ck = NULL;
	struct ck_error err = {0};
	ck_err rc = ck_ckpt_open(path, &ck, &err);
	ck_assert_msg(rc == code, "%s: got %s (%s), want %s", path, ck_err_name(rc), err.msg, ck_err_name(code));
	ck_assert_ptr_null(ck);
	ck_assert_int_eq(err.code, code);
	ck_assert_msg(strncmp(err.msg, path, strlen(path)) == 0 && err.msg[strlen(path)] == ':',
		      "message does not start with the path: %s", err.msg);
	ck_assert_msg(!strchr(err.msg, '\n'), "message is not one line: %s", err.msg);
	if (reason)
		ck_assert_msg(strstr(err.msg, reason), "%s: message '%s' lacks '%s'", path, err.msg, reason);
}

/* Random damage: bytes of a good file overwritten at seeded random places.
 * Each variant opens (and then every tensor reads in full) or is refused with
 * one line naming the file; under -DCK_SANITIZE=ON this is the fuzz smoke test.
 * CK_DAMAGE_SCALE=N runs N times as many rounds (a longer fuzz run). */
static inline void damage(const char *src, const char *name, unsigned rounds)
{
	const char *scale = getenv("CK_DAMAGE_SCALE");
	if (scale && atoi(scale) > 0)
		rounds *= (unsigned)atoi(scale);
	char *dir = st_tmpdir(), *p = st_join(dir, name);
	size_t len;
	uint8_t *raw = st_read_all(src, &len), *b = malloc(len);
	uint64_t x = 88172645463325252ull;
	size_t opened = 0;
	for (unsigned r = 0; r < rounds; r++) {
		memcpy(b, raw, len);
		for (int k = 0; k < 1 + (int)(r % 4); k++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			b[x % len] = (uint8_t)(x >> 32);
		}
		unlink(p);
		st_write_bytes(p, b, len);
		struct ck_ckpt *ck = NULL;
		struct ck_error err = {0};
		if (ck_ckpt_open(p, &ck, &err) == CK_OK) {
			struct st_leaves *l = calloc(1, sizeof *l);
			ck_value_walk(ck->root, ck->sep, st_leaf_cb, l);
			for (size_t i = 0; i < l->n; i++) {
				uint8_t *t = malloc(l->t[i]->nbytes + 1);
				size_t got;
				ck_assert_int_eq(ck_tensor_read(ck, l->t[i], t, l->t[i]->nbytes, 0, &got, &err), CK_OK);
				ck_assert_uint_eq(got, l->t[i]->nbytes);
				free(t);
				free((char *)l->keys[i]);
			}
			free(l);
			ck_ckpt_free(ck);
			opened++;
		} else {
			ck_assert_msg(!strchr(err.msg, '\n') && strncmp(err.msg, p, strlen(p)) == 0, "%s", err.msg);
		}
	}
	ck_assert_uint_gt(opened, 0);   /* some damage (in tensor data) is harmless */
	free(raw), free(b), free(p);
	st_rm_rf(dir);
}

/* The listing and every tensor's bytes equal what a reference reader script
 * dumps (`SCRIPT dump FILE DIR` writes ls.txt and one N.bin per tensor). */
static inline void gn_assert_dump(const struct ck_ckpt *ck, const char *path, const char *script)
{
	char *dir = st_tmpdir(), cmd[8192];
	snprintf(cmd, sizeof cmd, "'%s' '%s' dump '%s' '%s'", st_python(), script, path, dir);
	int status;
	free(st_run(cmd, &status));
	ck_assert_msg(status == 0, "%s dump %s failed", script, path);
	char *lsf = st_join(dir, "ls.txt"), *mine = st_listing(ck);
	size_t n;
	char *ls = (char *)st_read_all(lsf, &n);
	ck_assert_ptr_nonnull(ls);
	ck_assert_str_eq(mine, ls);
	for (size_t i = 0; i < ck->root->u.dict.n; i++) {
		char name[64];
		snprintf(name, sizeof name, "%zu.bin", i);
		char *f = st_join(dir, name);
		const struct ck_tensor *t = ck->root->u.dict.vals[i]->u.t;
		uint8_t *want = st_read_all(f, &n), *got = st_tensor_bytes(ck, t);
		ck_assert_ptr_nonnull(want);
		ck_assert_uint_eq(n, t->nbytes);
		ck_assert_msg(memcmp(want, got, n) == 0, "%s: bytes of tensor %zu differ from %s", path, i, script);
		free(want), free(got), free(f);
	}
	free(ls), free(lsf), free(mine);
	st_rm_rf(dir);
}

#endif
