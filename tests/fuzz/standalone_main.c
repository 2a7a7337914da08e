/*
 * standalone_main.c — runs a libFuzzer harness without libFuzzer, so the
 * harnesses build with gcc and the checked-in fixtures can be replayed as a
 * ctest (tests/fuzz_smoke.sh) under the normal or the ASan build.
 *
 *   fuzz_X FILE_OR_FOLDER...   every file given, and every file under every
 *                              folder (recursively, sorted), once each
 *
 * CK_FUZZ_MUTATIONS=N in the environment adds N cheap deterministic
 * mutations of each file (truncation, bit flips, interesting integers, a
 * deleted or repeated chunk), seeded by the file's bytes so a failure
 * reproduces.  When a run dies (an ASan report, SIGSEGV, abort) the input is
 * written to CK_FUZZ_CRASH_DIR (default: the current folder) as
 * crash-standalone-PID, and its origin is printed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
/* Present only in sanitizer builds: called before the process dies of a report. */
void __sanitizer_set_death_callback(void (*cb)(void)) __attribute__((weak));

#define SA_MAX_FILE (64u << 20)   /* the harnesses cap far lower; this only bounds the read */

static struct {
	const uint8_t *data;     /* borrowed: the input being run */
	size_t size;
	const char *origin;      /* borrowed: its file */
	long mutation;           /* -1: the file as is */
	char crash_path[4096];
} cur;

static unsigned long runs, files;

static void write_str(int fd, const char *s)
{
	ssize_t r = write(fd, s, strlen(s));
	(void)r;
}

/* Async-signal-safe: only write(2) and open(2). */
static void save_crash(void)
{
	static int once;
	if (once++ || !cur.data)
		return;
	int fd = open(cur.crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		for (size_t off = 0; off < cur.size;) {
			ssize_t w = write(fd, cur.data + off, cur.size - off);
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		close(fd);
	}
	char num[32];
	int k = 0;
	long m = cur.mutation;
	char tmp[32];
	if (m < 0) {
		num[k++] = '-';
		num[k++] = '1';
	} else {
		int j = 0;
		do {
			tmp[j++] = (char)('0' + m % 10);
			m /= 10;
		} while (m);
		while (j)
			num[k++] = tmp[--j];
	}
	num[k] = 0;
	write_str(2, "standalone: the input that failed came from ");
	write_str(2, cur.origin ? cur.origin : "?");
	write_str(2, " (mutation ");
	write_str(2, num);
	write_str(2, "), saved as ");
	write_str(2, cur.crash_path);
	write_str(2, "\n");
}

static void on_signal(int sig)
{
	save_crash();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* ---- mutations ------------------------------------------------------------ */

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: tiny and good enough for choosing offsets */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Fills out (cap >= 2 * n + 16) with mutation i of in; returns its size. */
static size_t mutate(const uint8_t *in, size_t n, uint8_t *out, uint64_t seed, unsigned i)
{
	uint64_t s = seed ^ ((uint64_t)i * 0x2545f4914f6cdd1dull);
	memcpy(out, in, n);
	if (n == 0)
		return 0;
	static const uint64_t interesting[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff,
					       0xffffffff, 0x100000000ull, 0x7fffffffffffffffull,
					       0xffffffffffffffffull};
	size_t at = (size_t)(rng_next(&s) % n);
	switch (i % 6) {
	case 0: /* truncate */
		return (size_t)(rng_next(&s) % n);
	case 1: /* flip a bit */
		out[at] ^= (uint8_t)(1u << (rng_next(&s) % 8));
		return n;
	case 2: /* a byte to an edge value */
		out[at] = (uint8_t)interesting[rng_next(&s) % 5];
		return n;
	case 3: { /* 4 or 8 bytes to an interesting integer, little-endian */
		size_t w = rng_next(&s) % 2 ? 8 : 4;
		uint64_t v = interesting[rng_next(&s) % (sizeof interesting / sizeof *interesting)];
		for (size_t k = 0; k < w && at + k < n; k++)
			out[at + k] = (uint8_t)(v >> (8 * k));
		return n;
	}
	case 4: { /* delete a chunk */
		size_t len = (size_t)(rng_next(&s) % (n - at)) + 1;
		memmove(out + at, out + at + len, n - at - len);
		return n - len;
	}
	default: { /* repeat a chunk */
		size_t len = (size_t)(rng_next(&s) % (n - at)) + 1;
		if (len > n)
			len = n;
		memmove(out + at + len, out + at, n - at);
		return n + len;
	}
	}
}

/* ---- running -------------------------------------------------------------- */

static void run_one(const uint8_t *p, size_t n, const char *origin, long mutation)
{
	cur.data = p;
	cur.size = n;
	cur.origin = origin;
	cur.mutation = mutation;
	LLVMFuzzerTestOneInput(p, n);
	cur.data = NULL;
	runs++;
}

static int run_file(const char *path, unsigned nmut)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "standalone: %s: %s\n", path, strerror(errno));
		return 1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size > SA_MAX_FILE) {
		close(fd);
		fprintf(stderr, "standalone: %s: skipped (over %u MiB)\n", path, SA_MAX_FILE >> 20);
		return 0;
	}
	size_t n = (size_t)st.st_size;
	uint8_t *buf = malloc(n ? n : 1), *mut = nmut ? malloc(2 * n + 16) : NULL;
	if (!buf || (nmut && !mut)) {
		close(fd);
		free(buf);
		free(mut);
		fprintf(stderr, "standalone: %s: out of memory\n", path);
		return 1;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	files++;
	run_one(buf, got, path, -1);
	uint64_t seed = 1469598103934665603ull;
	for (size_t i = 0; i < got; i++)
		seed = (seed ^ buf[i]) * 1099511628211ull;
	for (unsigned i = 0; i < nmut; i++) {
		size_t m = mutate(buf, got, mut, seed, i);
		run_one(mut, m, path, (long)i);
	}
	free(buf);
	free(mut);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int run_path(const char *path, unsigned nmut)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "standalone: %s: %s\n", path, strerror(errno));
		return 1;
	}
	if (!S_ISDIR(st.st_mode))
		return S_ISREG(st.st_mode) ? run_file(path, nmut) : 0;
	struct dirent **list;
	int n = scandir(path, &list, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "standalone: %s: %s\n", path, strerror(errno));
		return 1;
	}
	int bad = 0;
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
			size_t len = strlen(path) + strlen(name) + 2;
			char *sub = malloc(len);
			if (sub) {
				snprintf(sub, len, "%s/%s", path, name);
				bad |= run_path(sub, nmut);
				free(sub);
			}
		}
		free(list[i]);
	}
	free(list);
	return bad;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(stderr, "usage: %s FILE_OR_FOLDER...  (env CK_FUZZ_MUTATIONS=N, CK_FUZZ_CRASH_DIR=DIR)\n",
			argv[0]);
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	const char *m = getenv("CK_FUZZ_MUTATIONS");
	unsigned nmut = m ? (unsigned)strtoul(m, NULL, 10) : 0;
	const char *cd = getenv("CK_FUZZ_CRASH_DIR");
	snprintf(cur.crash_path, sizeof cur.crash_path, "%s/crash-standalone-%d", cd && *cd ? cd : ".",
		 (int)getpid());
	if (__sanitizer_set_death_callback) {
		__sanitizer_set_death_callback(save_crash);
	} else {
		signal(SIGSEGV, on_signal);
		signal(SIGBUS, on_signal);
		signal(SIGFPE, on_signal);
		signal(SIGILL, on_signal);
	}
	signal(SIGABRT, on_signal);   /* our own invariant checks abort() */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int bad = 0;
	for (int i = 1; i < argc; i++)
		bad |= run_path(argv[i], nmut);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("standalone: %lu files, %lu runs, %.2f s\n", files, runs, secs);
	return bad;
}
