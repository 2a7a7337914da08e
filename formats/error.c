/* error.c — library error codes and their one-line messages. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ck.h"

ck_err ck_error_set(struct ck_error *e, ck_err code, const char *fmt, ...)
{
	if (!e)
		return code;
	va_list ap;
	va_start(ap, fmt);
	e->code = code;
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return code;
}

ck_err ck_error_errno(struct ck_error *e, ck_err code, int errnum, const char *fmt, ...)
{
	if (!e)
		return code;
	va_list ap;
	va_start(ap, fmt);
	e->code = code;
	int n = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof e->msg) {
		snprintf(e->msg + n, sizeof e->msg - (size_t)n, ": %s", strerror(errnum));
		/* our messages are lowercase: "no such file or directory" */
		if ((size_t)n + 2 < sizeof e->msg)
			e->msg[n + 2] = (char)tolower((unsigned char)e->msg[n + 2]);
	}
	return code;
}

const char *ck_quote_name(char *buf, size_t cap, const char *p, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o < cap; i++) {
		uint8_t c = (uint8_t)p[i];
		if (o + 8 > cap) {   /* room for "..." and the NUL */
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
		else
			buf[o++] = (char)c;
	}
	buf[o < cap ? o : cap - 1] = '\0';
	return buf;
}

const char *ck_err_name(ck_err code)
{
	static const char *const names[] = {
		[CK_OK] = "ok", [CK_EIO] = "i/o error", [CK_EFORMAT] = "bad format",
		[CK_EUNSUP] = "unsupported", [CK_ENOMEM] = "out of memory",
		[CK_ELIMIT] = "over a limit", [CK_EUNSAFE] = "unsafe pickle",
		[CK_ENOENT] = "not found", [CK_EEXIST] = "exists", [CK_EINVAL] = "invalid",
		[CK_ENOTEMPTY] = "not empty", [CK_ENOTDIR] = "not a folder",
		[CK_EISDIR] = "is a folder", [CK_EPERM] = "not permitted",
		[CK_ENOSPC] = "no space", [CK_EUSAGE] = "usage",
	};
	if ((unsigned)code < sizeof names / sizeof names[0] && names[code])
		return names[code];
	return "unknown error";
}

int ck_err_errno(ck_err code)
{
	switch (code) {
	case CK_OK: return 0;
	case CK_ENOMEM: return ENOMEM;
	case CK_ENOENT: return ENOENT;
	case CK_EEXIST: return EEXIST;
	case CK_EINVAL: case CK_EUSAGE: return EINVAL;
	case CK_ENOTEMPTY: return ENOTEMPTY;
	case CK_ENOTDIR: return ENOTDIR;
	case CK_EISDIR: return EISDIR;
	case CK_EPERM: return EPERM;
	case CK_ENOSPC: return ENOSPC;
	case CK_EUNSUP: return ENOTSUP;
	case CK_ELIMIT: return EFBIG;
	default: return EIO;
	}
}
