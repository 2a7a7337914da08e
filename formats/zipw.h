/*
 * zipw.h — a streaming writer of stored (uncompressed) zip archives whose
 * entry data starts 64-byte aligned, as torch.save lays them out.  Real CRCs
 * and sizes go in the local headers (no data descriptors); zip64 fields and
 * the zip64 end records are added only when sizes, offsets or the entry
 * count need them.  Entry bytes are copied by range from a source file in
 * bounded chunks, never through a whole-entry buffer.
 */
#ifndef CK_ZIPW_H
#define CK_ZIPW_H

#include "buf.h"
#include "ck.h"

#define CK_ZIPW_ALIGN 64

struct ck_zipw {
	int fd;              /* borrowed; written with pwrite */
	const char *path;    /* borrowed; for messages */
	uint64_t off;        /* where the next local header goes */
	uint64_t nentries;
	struct ck_buf cd;    /* the central directory, built as entries are added */
	uint8_t *chunk;      /* owned copy buffer */
	size_t chunk_size;
};

/* Starts an archive at offset 0 of fd (caller keeps ownership of fd). */
ck_err ck_zipw_init(struct ck_zipw *z, int fd, const char *path, struct ck_error *err);
/* Frees buffers; does not close fd. */
void ck_zipw_release(struct ck_zipw *z);
/* Adds an entry holding n bytes from memory (p borrowed). */
ck_err ck_zipw_add_mem(struct ck_zipw *z, const char *name, const void *p, size_t n, struct ck_error *err);
/* Adds an entry holding [off, off+n) of src (borrowed). */
ck_err ck_zipw_add_range(struct ck_zipw *z, const char *name, const struct ck_file *src, uint64_t off,
			 uint64_t n, struct ck_error *err);
/* Writes the central directory and end records. */
ck_err ck_zipw_finish(struct ck_zipw *z, struct ck_error *err);

#endif
