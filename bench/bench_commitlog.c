/*
 * bench_commitlog.c - the commit log's group commit on real files, against
 * a raw fdatasync baseline.
 *
 *     bench-commitlog [-n SYNCS] [DIR]
 *
 * DIR (default: a fresh directory under /tmp) gets one subdirectory per
 * case; everything created is removed at the end.  Each case runs SYNCS
 * (default 2000) timed sync calls after 50 untimed ones, and reports
 * records/s over the timed part and the latency of each sync call (for the
 * log: append of the batch + cl_log_sync; for the raw cases: pwrite +
 * fdatasync), p50 and p99.  The cases run interleaved, in 10 rounds of
 * SYNCS/10 calls each, so that a change in the disk's speed during the run
 * (common on virtual disks) does not favour one case over another.
 *
 * The cases:
 *   raw-append   pwrite of 64 bytes at the end of a plain file, then
 *                fdatasync.  The file grows with every write, so each
 *                fdatasync must also commit the new file size (a journal
 *                transaction on ext4/xfs).  This is the "raw fdatasync of
 *                one small append" of the issue.
 *   raw-prealloc the same, but inside a file preallocated with
 *                posix_fallocate to 64 MiB first: the size does not change,
 *                so fdatasync flushes the data block (plus the unwritten
 *                extent conversion).  This is what the log does, so it is
 *                the apples-to-apples baseline.
 *   log-1        the log: one 64-byte record appended, then cl_log_sync
 *                (preallocated segments, the default).
 *   log-1-noprealloc  the same with CL_NO_PREALLOC (each sync grows the
 *                file, as raw-append does).
 *   batch-B      B records of 64 bytes appended, then one cl_log_sync, for
 *                B = 1, 8, 64, 512.
 *
 * Targets (issue 3): log-1 p50 <= 1.2 x the raw fdatasync p50, and at least
 * 100,000 records/s at batch 64.  Both ratios are printed against both raw
 * baselines.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cl_io.h"
#include "cl_log.h"

#define WARMUP 50
#define REC 64
#define ROUNDS 10u
#define NCASES 8u

struct result {
	const char *name;
	unsigned long syncs, records;
	double secs, p50_us, p99_us;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void summarize(struct result *r, double *lat, unsigned long n, unsigned long per_sync)
{
	double total = 0;

	for (unsigned long i = 0; i < n; i++)
		total += lat[i];
	qsort(lat, n, sizeof(*lat), cmp_double);
	r->syncs = n;
	r->records = n * per_sync;
	r->secs = total;
	r->p50_us = lat[n / 2] * 1e6;
	r->p99_us = lat[(n * 99) / 100] * 1e6;
}

static void die(const char *what, int e)
{
	fprintf(stderr, "bench-commitlog: %s: %s\n", what, strerror(e));
	exit(1);
}

/* Remove dir and the files in it (nothing deeper is created). */
static void remove_dir(const char *dir)
{
	char path[4096];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (unlink(path) != 0)
			fprintf(stderr, "bench-commitlog: unlink %s: %s\n", path, strerror(errno));
	}
	closedir(d);
	if (rmdir(dir) != 0)
		fprintf(stderr, "bench-commitlog: rmdir %s: %s\n", dir, strerror(errno));
}

static void sub_dir(char *out, size_t len, const char *base, const char *name)
{
	int k = snprintf(out, len, "%s/%s", base, name);

	if (k < 0 || (size_t)k >= len)
		die(base, ENAMETOOLONG);
	if (mkdir(out, 0755) != 0)
		die(out, errno);
}

/* One benchmark case, set up once and stepped round by round. */
struct bcase {
	const char *name;
	int is_log;
	int prealloc;    /* raw: preallocate the file */
	unsigned batch;  /* log: records per sync */
	unsigned flags;  /* log: cl_config flags */
	char dir[4096];
	int fd;          /* raw */
	off_t off;
	struct cl_io_posix *px; /* log */
	struct cl_log *log;
	double *lat;
	unsigned long nlat;
};

static void case_setup(struct bcase *c, const char *base, unsigned long n)
{
	char path[4200];
	struct cl_config cfg;
	int rc;

	c->lat = malloc(n * sizeof(*c->lat));
	if (!c->lat)
		die("malloc", ENOMEM);
	sub_dir(c->dir, sizeof(c->dir), base, c->name);
	if (!c->is_log) {
		snprintf(path, sizeof(path), "%s/raw", c->dir);
		c->fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (c->fd < 0)
			die(path, errno);
		if (c->prealloc) {
			rc = posix_fallocate(c->fd, 0, 64 << 20);
			if (rc)
				die("posix_fallocate", rc);
		}
		if (fsync(c->fd) != 0)
			die("fsync", errno);
		return;
	}
	rc = cl_io_posix_new(c->dir, &c->px);
	if (rc)
		die(c->dir, rc);
	memset(&cfg, 0, sizeof(cfg));
	cfg.io = cl_io_posix_io(c->px);
	cfg.flags = c->flags;
	rc = cl_log_open(&cfg, NULL, NULL, &c->log);
	if (rc) {
		fprintf(stderr, "bench-commitlog: open: %s\n", cl_log_errmsg(c->log));
		exit(1);
	}
}

/* One sync call (with the writes or appends before it); its latency. */
static double case_step(struct bcase *c)
{
	unsigned char buf[REC];
	double t0;
	int rc = 0;

	memset(buf, 0x5A, sizeof(buf));
	t0 = now();
	if (!c->is_log) {
		if (pwrite(c->fd, buf, sizeof(buf), c->off) != (ssize_t)sizeof(buf))
			die("pwrite", errno);
		if (fdatasync(c->fd) != 0)
			die("fdatasync", errno);
		c->off += (off_t)sizeof(buf);
		return now() - t0;
	}
	for (unsigned k = 0; !rc && k < c->batch; k++) {
		buf[0] = (unsigned char)k;
		rc = cl_log_append(c->log, 1, buf, sizeof(buf), NULL);
	}
	if (!rc)
		rc = cl_log_sync(c->log, NULL);
	if (rc) {
		fprintf(stderr, "bench-commitlog: %s: %s\n", c->name, cl_log_errmsg(c->log));
		exit(1);
	}
	return now() - t0;
}

static void case_teardown(struct bcase *c, struct result *r)
{
	if (c->is_log) {
		cl_log_close(&c->log);
		cl_io_posix_destroy(&c->px);
	} else {
		close(c->fd);
	}
	r->name = c->name;
	summarize(r, c->lat, c->nlat, c->is_log ? c->batch : 1);
	free(c->lat);
	remove_dir(c->dir);
}

int main(int argc, char **argv)
{
	unsigned long n = 2000;
	char tmpl[] = "/tmp/bench_commitlog_XXXXXX";
	const char *user_dir = NULL;
	char base[4096];
	struct bcase cases[] = {
		{.name = "raw-append"},
		{.name = "raw-prealloc", .prealloc = 1},
		{.name = "log-1", .is_log = 1, .batch = 1},
		{.name = "log-1-noprealloc", .is_log = 1, .batch = 1, .flags = CL_NO_PREALLOC},
		{.name = "batch-1", .is_log = 1, .batch = 1},
		{.name = "batch-8", .is_log = 1, .batch = 8},
		{.name = "batch-64", .is_log = 1, .batch = 64},
		{.name = "batch-512", .is_log = 1, .batch = 512},
	};
	struct result r[NCASES];
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			n = strtoul(argv[++i], NULL, 10);
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "usage: %s [-n SYNCS] [DIR]\n", argv[0]);
			return 2;
		} else {
			user_dir = argv[i];
		}
	}
	if (n < 10)
		n = 10;
	if (user_dir) {
		snprintf(base, sizeof(base), "%s/bench_commitlog.%ld", user_dir, (long)getpid());
		if (mkdir(base, 0755) != 0)
			die(base, errno);
	} else {
		if (!mkdtemp(tmpl))
			die("mkdtemp", errno);
		snprintf(base, sizeof(base), "%s", tmpl);
	}
	printf("commit log benchmark in %s, %lu timed syncs per case, %d-byte records\n\n", base,
	       n, REC);

	for (size_t k = 0; k < NCASES; k++)
		case_setup(&cases[k], base, n);
	for (size_t k = 0; k < NCASES; k++)
		for (unsigned w = 0; w < WARMUP; w++)
			case_step(&cases[k]);
	/* Round-robin, so that drift in the disk's speed hits every case
	 * alike. */
	for (unsigned long round = 0; round < ROUNDS; round++) {
		for (size_t k = 0; k < NCASES; k++) {
			unsigned long todo = n / ROUNDS + (round < n % ROUNDS);

			for (unsigned long j = 0; j < todo; j++)
				cases[k].lat[cases[k].nlat++] = case_step(&cases[k]);
		}
	}
	for (size_t k = 0; k < NCASES; k++)
		case_teardown(&cases[k], &r[k]);
	remove_dir(base);

	printf("| case | syncs | records | records/s | p50 us | p99 us |\n");
	printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
	for (size_t k = 0; k < NCASES; k++)
		printf("| %s | %lu | %lu | %.0f | %.1f | %.1f |\n", r[k].name, r[k].syncs,
		       r[k].records, (double)r[k].records / r[k].secs, r[k].p50_us, r[k].p99_us);
	printf("\nsingle-record latency (log-1 p50) vs raw fdatasync p50: %.2fx raw-append, "
	       "%.2fx raw-prealloc (target <= 1.2x)\n",
	       r[2].p50_us / r[0].p50_us, r[2].p50_us / r[1].p50_us);
	printf("records/s at batch 64: %.0f (target >= 100000)\n",
	       (double)r[6].records / r[6].secs);
	return 0;
}
