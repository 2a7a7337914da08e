/*
 * npz.h — what the NumPy readers (npz.c: .npy and .npz) and writers
 * (npz_write.c) share: the dtype <-> typestr table and numpy's own header
 * layout.  Internal to formats/.
 */
#ifndef CK_NPZ_H
#define CK_NPZ_H

#include "buf.h"
#include "ck.h"

#define CK_NPY_MAGIC "\x93NUMPY"
#define CK_NPY_MAGIC_LEN 6
#define CK_NPY_ALIGN 64                   /* numpy's ARRAY_ALIGN */
#define CK_NPY_MAX_HEADER ((uint64_t)1 << 20)
#define CK_NPY_MAX_NDIM 64                /* ck_tensor_new's limit (numpy: 64 too) */

extern const struct ck_format ck_format_npy;
extern const struct ck_format ck_format_npz;

/* "<f4" for CK_DT_F32; NULL when numpy has no typestr for dt (bfloat16, ...). */
const char *ck_npy_descr(enum ck_dtype dt);

/* Appends the .npy header numpy 1.24 writes for a C-order array of t's dtype
 * and shape (magic, version 1.0 or 2.0, length, dict, padding, '\n'), byte for
 * byte.  The dtype must have a descr (ck_npy_descr). */
void ck_npy_header(struct ck_buf *b, const struct ck_tensor *t);

/* The formats' write ops (npz_write.c). */
ck_err ck_npz_write(const struct ck_write_req *req, struct ck_error *err);
ck_err ck_npy_write(const struct ck_write_req *req, struct ck_error *err);

#endif
