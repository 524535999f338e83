/*
 * test_commitlog.c - unit tests of the commit log (commitlog/).
 *
 * Most tests run the log on the in-memory backend wrapped in the crash
 * backend (to simulate power loss) and the fault backend (to fail chosen
 * calls):  log -> fault -> crash -> mem.  A few run on real files.
 *
 * Unless a test says otherwise, record seq s has a type, length and bytes
 * derived from s alone (rec_type/rec_len/rec_fill), so that any replayed
 * record can be checked without keeping a copy.  Frames are also built here
 * independently of the library (with a bitwise CRC32C) to pin the format.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cl_crc32c.h"
#include "cl_io.h"
#include "cl_io_crash.h"
#include "cl_io_fault.h"
#include "cl_log.h"

#define SEG1 "log-00000000000000000001.seg"

/* ---- records derived from their seq ---- */

static uint32_t rec_len(uint64_t seq)
{
	return (uint32_t)((seq * 37) % 90); /* 0..89, some empty */
}

static uint8_t rec_type(uint64_t seq)
{
	return (uint8_t)(1 + seq % 7);
}

static void rec_fill(uint8_t *p, uint64_t seq, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seq * 131 + i * 17 + 3);
}

static uint32_t frame_size(uint64_t seq)
{
	return 9 + rec_len(seq);
}

/* Bitwise CRC32C, independent of the library's tables. */
static uint32_t ref_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Format version 2: the flag in a frame's length ("everything before this
 * frame was durable when it was written": the first record after a sync),
 * and what it XORs into the CRC. */
#define LEN_SYNCED 0x80000000u
#define CRC_SYNCED 0x53594E43u

/* The frame of record seq, built here, flagged or not; returns its size. */
static size_t build_frame_flag(uint8_t *out, uint64_t seq, int synced)
{
	uint32_t len = rec_len(seq);

	out[8] = rec_type(seq);
	rec_fill(out + 9, seq, len);
	put32(out, len | (synced ? LEN_SYNCED : 0));
	put32(out + 4, ref_crc32c(0, out + 8, (size_t)len + 1) ^ (synced ? CRC_SYNCED : 0));
	return 9 + len;
}


/* ---- collecting replayed records ---- */

struct rec {
	uint64_t seq;
	uint8_t type, snap;
	uint32_t len;
	uint8_t *data;
};

struct got {
	struct rec *v;
	size_t n, cap;
};

static int collect(void *ctx, const struct cl_record *r)
{
	struct got *g = ctx;
	struct rec *x;

	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 64;
		g->v = realloc(g->v, g->cap * sizeof(*g->v));
		assert_non_null(g->v);
	}
	x = &g->v[g->n++];
	x->seq = r->seq;
	x->type = r->type;
	x->snap = r->snapshot;
	x->len = r->len;
	x->data = malloc(r->len ? r->len : 1);
	assert_non_null(x->data);
	if (r->len)
		memcpy(x->data, r->data, r->len);
	return 0;
}

static void got_reset(struct got *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->v[i].data);
	g->n = 0;
}

static void got_free(struct got *g)
{
	got_reset(g);
	free(g->v);
	memset(g, 0, sizeof(*g));
}

/* The replayed log records must be exactly seqs from..to, derived ones. */
static void expect_log_records(const struct got *g, uint64_t from, uint64_t to)
{
	uint8_t buf[128];
	size_t k = 0;

	for (size_t i = 0; i < g->n; i++) {
		const struct rec *r = &g->v[i];
		uint64_t seq = from + k;

		if (r->snap)
			continue;
		assert_true(seq <= to);
		assert_int_equal(r->seq, seq);
		assert_int_equal(r->type, rec_type(seq));
		assert_int_equal(r->len, rec_len(seq));
		rec_fill(buf, seq, r->len);
		assert_memory_equal(r->data, buf, r->len);
		k++;
	}
	assert_int_equal(from + k, to + 1);
}

/* ---- the test environment: log -> fault -> crash -> mem ---- */

struct env {
	struct cl_io_mem *mem;
	struct cl_io_crash *crash;
	struct cl_io_fault *fault;
	struct cl_config cfg;
	struct cl_log *log;
	struct got got;
};

static void env_init(struct env *e, uint64_t seg_size, unsigned flags)
{
	memset(e, 0, sizeof(*e));
	e->mem = cl_io_mem_new();
	assert_non_null(e->mem);
	assert_int_equal(cl_io_crash_new(cl_io_mem_io(e->mem), &e->crash), 0);
	e->fault = cl_io_fault_new(cl_io_crash_io(e->crash));
	assert_non_null(e->fault);
	e->cfg.io = cl_io_fault_io(e->fault);
	e->cfg.segment_size = seg_size;
	e->cfg.flags = flags;
}

/* Open (after closing any open log); returns the result. */
static int env_open(struct env *e)
{
	cl_log_close(&e->log);
	got_reset(&e->got);
	return cl_log_open(&e->cfg, collect, &e->got, &e->log);
}

static void env_open_ok(struct env *e)
{
	int rc = env_open(e);

	if (rc)
		fail_msg("open: %s: %s", cl_strerror(rc), cl_log_errmsg(e->log));
}

/* Power loss: the log process dies (close writes nothing) and the disk
 * keeps what the plan says. */
static void env_crash(struct env *e, int mode, long tear, int garbage, long dir_ops,
		      uint64_t seed)
{
	struct cl_crash_plan plan;

	plan.mode = mode;
	plan.tear = tear;
	plan.garbage = garbage;
	plan.dir_ops = dir_ops;
	cl_io_fault_disarm(e->fault);
	assert_int_equal(cl_io_crash_crash(e->crash, seed, &plan), 0);
	cl_log_close(&e->log);
}

static void env_free(struct env *e)
{
	cl_log_close(&e->log);
	cl_io_fault_destroy(&e->fault);
	cl_io_crash_destroy(&e->crash);
	cl_io_mem_destroy(&e->mem);
	got_free(&e->got);
}

static void append_seq(struct cl_log *log, uint64_t seq)
{
	uint8_t buf[128];
	uint64_t got = 0;
	int rc;

	rec_fill(buf, seq, rec_len(seq));
	rc = cl_log_append(log, rec_type(seq), buf, rec_len(seq), &got);
	assert_int_equal(rc, 0);
	assert_int_equal(got, seq);
}

static void sync_ok(struct cl_log *log)
{
	uint64_t d = 0;
	int rc = cl_log_sync(log, &d);

	if (rc)
		fail_msg("sync: %s: %s", cl_strerror(rc), cl_log_errmsg(log));
	assert_int_equal(d, cl_log_last_seq(log));
}

/* Append seqs from..to, syncing after each `every` records (0: never). */
static void append_range(struct cl_log *log, uint64_t from, uint64_t to, unsigned every)
{
	for (uint64_t s = from; s <= to; s++) {
		append_seq(log, s);
		if (every && (s - from + 1) % every == 0)
			sync_ok(log);
	}
}

static int has(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

/* Offsets of the record frames in a segment of the mem backend, walked
 * here from the header on until a zero or short frame header. */
static size_t frame_offsets(struct env *e, const char *name, size_t *offs, size_t max)
{
	uint8_t *d;
	size_t n, p = 24, k = 0;

	assert_int_equal(cl_io_mem_view(e->mem, name, &d, &n), 0);
	while (p + 9 <= n && k < max && d[p + 8] != 0) {
		offs[k++] = p;
		p += 9 + (get32(d + p) & ~LEN_SYNCED);
	}
	return k;
}

static void seg_name(char *buf, uint64_t first)
{
	snprintf(buf, 40, "log-%020llu.seg", (unsigned long long)first);
}

/* Names in the mem directory that start with prefix. */
struct count_ctx {
	const char *prefix;
	size_t n;
};

static int count_fn(void *arg, const char *name)
{
	struct count_ctx *c = arg;

	if (strncmp(name, c->prefix, strlen(c->prefix)) == 0)
		c->n++;
	return 0;
}

static size_t count_files(struct env *e, const char *prefix)
{
	struct cl_io *io = cl_io_mem_io(e->mem);
	struct count_ctx c = {prefix, 0};

	assert_int_equal(io->list(io->ctx, count_fn, &c), 0);
	return c.n;
}

/* ---- CRC32C ---- */

static void test_crc32c_vectors(void **state)
{
	uint8_t buf[32];

	(void)state;
	assert_int_equal(cl_crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(cl_crc32c_sw(0, "123456789", 9), 0xE3069283u);
	/* RFC 3720 (iSCSI) B.4 test vectors */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(cl_crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xFF, sizeof(buf));
	assert_int_equal(cl_crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(cl_crc32c(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(cl_crc32c(0, buf, 32), 0x113FDB5Cu);
	assert_int_equal(cl_crc32c(0, buf, 0), 0);
}

static void test_crc32c_paths_agree(void **state)
{
	uint8_t buf[1100];
	uint64_t x = 88172645463325252ull;

	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (uint8_t)x;
	}
	/* every alignment and many lengths; chaining at every split */
	for (size_t off = 0; off < 9; off++) {
		for (size_t n = 0; n + off <= sizeof(buf); n += 1 + n / 8) {
			uint32_t ref = ref_crc32c(0, buf + off, n);

			assert_int_equal(cl_crc32c(0, buf + off, n), ref);
			assert_int_equal(cl_crc32c_sw(0, buf + off, n), ref);
			assert_int_equal(cl_crc32c(cl_crc32c(0, buf + off, n / 3), buf + off + n / 3,
						   n - n / 3),
					 ref);
		}
	}
	/* the table is what its comment says */
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		assert_int_equal(cl_crc32c_table0()[i], c);
	}
}

/* ---- round trips ---- */

static void test_roundtrip_mem(void **state)
{
	struct env e;
	const struct cl_recovery *rec;

	(void)state;
	env_init(&e, 0, 0);
	env_open_ok(&e);
	assert_int_equal(cl_log_last_seq(e.log), 0);
	assert_int_equal(e.got.n, 0);
	append_range(e.log, 1, 300, 7);
	sync_ok(e.log);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 300);
	rec = cl_log_recovery(e.log);
	assert_int_equal(rec->log_records, 300);
	assert_int_equal(rec->last_seq, 300);
	assert_int_equal(rec->dropped_bytes, 0);
	assert_int_equal(rec->snapshot_seq, 0);
	assert_int_equal(cl_log_durable_seq(e.log), 300);
	/* appending continues the numbering */
	append_range(e.log, 301, 310, 0);
	sync_ok(e.log);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 310);
	env_free(&e);
}

static void test_roundtrip_format(void **state)
{
	uint8_t want[200], *d;
	struct env e;
	size_t n, p;

	(void)state;
	env_init(&e, 0, CL_NO_PREALLOC);
	env_open_ok(&e);
	append_range(e.log, 1, 3, 0);
	sync_ok(e.log);
	/* the segment holds header + frames built here, and nothing more */
	assert_int_equal(cl_io_mem_view(e.mem, SEG1, &d, &n), 0);
	/* the first record after a sync (here: after the open) is flagged */
	p = 0;
	for (uint64_t s = 1; s <= 3; s++)
		p += build_frame_flag(want + p, s, s == 1);
	assert_int_equal(n, 24 + p);
	assert_memory_equal(d + 24, want, p);
	assert_memory_equal(d, "CLSG", 4);
	assert_int_equal(get32(d + 4), 2);
	assert_int_equal(get32(d + 8), 1);
	assert_int_equal(get32(d + 20), ref_crc32c(0, d, 20));
	env_free(&e);
}

/* The same on real files, in a fresh directory under /tmp. */
static void rm_dir(const char *dir)
{
	char path[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static void test_roundtrip_posix(void **state)
{
	char tmpl[] = "/tmp/cl_test_XXXXXX", sub[64], path[128];
	struct cl_io_posix *px = NULL;
	struct cl_config cfg;
	struct cl_log *log = NULL;
	struct got g = {0};
	FILE *f;
	long size;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	snprintf(sub, sizeof(sub), "%s/log", tmpl); /* created by the backend */
	assert_int_equal(cl_io_posix_new(sub, &px), 0);
	memset(&cfg, 0, sizeof(cfg));
	cfg.io = cl_io_posix_io(px);
	cfg.segment_size = 4096;
	assert_int_equal(cl_log_open(&cfg, collect, &g, &log), 0);
	append_range(log, 1, 200, 16);
	sync_ok(log);
	assert_true(cl_log_segment_count(log) >= 3);
	cl_log_close(&log);

	/* preallocated to the segment size */
	snprintf(path, sizeof(path), "%s/%s", sub, SEG1);
	f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);
	assert_int_equal(size, 4096);

	assert_int_equal(cl_log_open(&cfg, collect, &g, &log), 0);
	expect_log_records(&g, 1, 200);
	/* a checkpoint deletes the covered segments on disk too */
	assert_int_equal(cl_log_checkpoint(log, NULL, 0), 0);
	assert_int_equal(cl_log_segment_count(log), 1);
	append_range(log, 201, 210, 0);
	sync_ok(log);
	cl_log_close(&log);
	got_reset(&g);
	assert_int_equal(cl_log_open(&cfg, collect, &g, &log), 0);
	assert_int_equal(cl_log_snapshot_seq(log), 200);
	expect_log_records(&g, 201, 210);
	cl_log_close(&log);
	cl_io_posix_destroy(&px);
	got_free(&g);
	rm_dir(sub);
	rmdir(tmpl);
}

/* ---- appending and group commit ---- */

static void test_append_errors(void **state)
{
	struct cl_iov v[3];
	uint8_t big[2000];
	struct env e;
	uint64_t s = 0;

	(void)state;
	env_init(&e, 0, 0);
	e.cfg.max_record = 1000;
	env_open_ok(&e);
	memset(big, 7, sizeof(big));
	assert_int_equal(cl_log_append(e.log, 0, big, 1, &s), CL_EINVAL);
	assert_true(has(cl_log_errmsg(e.log), "type 0"));
	assert_int_equal(cl_log_append(e.log, 1, big, 1001, &s), CL_EINVAL);
	assert_int_equal(cl_log_append(e.log, 1, big, 1000, &s), 0);
	assert_int_equal(s, 1);
	/* a vector is all or nothing */
	v[0] = (struct cl_iov){1, big, 10};
	v[1] = (struct cl_iov){2, big, 2000};
	v[2] = (struct cl_iov){3, big, 10};
	assert_int_equal(cl_log_appendv(e.log, v, 3, &s), CL_EINVAL);
	assert_int_equal(cl_log_last_seq(e.log), 1);
	v[1].len = 20;
	assert_int_equal(cl_log_appendv(e.log, v, 3, &s), 0);
	assert_int_equal(s, 4);
	/* argument errors do not fail the log */
	assert_int_equal(cl_log_error(e.log), 0);
	sync_ok(e.log);
	assert_int_equal(cl_log_durable_seq(e.log), 4);
	env_open_ok(&e);
	assert_int_equal(e.got.n, 4);
	assert_int_equal(e.got.v[2].len, 20);
	assert_int_equal(e.got.v[3].type, 3);
	env_free(&e);
}

static void test_group_commit(void **state)
{
	struct env e;
	uint64_t w, s, d = 0;

	(void)state;
	env_init(&e, 0, 0);
	env_open_ok(&e);
	w = cl_io_fault_calls(e.fault, CL_FAULT_WRITE);
	s = cl_io_fault_calls(e.fault, CL_FAULT_SYNC);
	append_range(e.log, 1, 100, 0);
	assert_int_equal(cl_log_last_seq(e.log), 100);
	assert_int_equal(cl_log_durable_seq(e.log), 0);
	/* appending does no I/O */
	assert_int_equal(cl_io_fault_calls(e.fault, CL_FAULT_WRITE), w);
	assert_int_equal(cl_io_fault_calls(e.fault, CL_FAULT_SYNC), s);
	assert_int_equal(cl_io_crash_unsynced(e.crash), 0);
	/* one sync: one write, one fdatasync */
	assert_int_equal(cl_log_sync(e.log, &d), 0);
	assert_int_equal(d, 100);
	assert_int_equal(cl_io_fault_calls(e.fault, CL_FAULT_WRITE), w + 1);
	assert_int_equal(cl_io_fault_calls(e.fault, CL_FAULT_SYNC), s + 1);
	/* nothing appended: no I/O */
	assert_int_equal(cl_log_sync(e.log, &d), 0);
	assert_int_equal(cl_io_fault_calls(e.fault, CL_FAULT_WRITE), w + 1);
	assert_int_equal(cl_io_fault_calls(e.fault, CL_FAULT_SYNC), s + 1);
	env_free(&e);
}

/* ---- crashes ---- */

/* Crash after every record boundary: records 1..i synced one by one, then
 * an unsynced batch, lost whole (no tear).  Exactly 1..i come back. */
static void test_crash_at_every_boundary(void **state)
{
	(void)state;
	for (uint64_t i = 0; i <= 40; i++) {
		struct env e;

		env_init(&e, 600, i % 2 ? CL_NO_PREALLOC : 0);
		env_open_ok(&e);
		append_range(e.log, 1, i, 1);
		append_range(e.log, i + 1, i + 3, 0);
		if (i % 3 == 0) { /* written to the page cache, never synced */
			cl_io_fault_arm(e.fault, CL_FAULT_SYNC, 1, EIO, 1);
			assert_int_equal(cl_log_sync(e.log, NULL), CL_EIO);
		}
		env_crash(&e, CL_CRASH_DROP, 0, 0, -1, i);
		env_open_ok(&e);
		expect_log_records(&e.got, 1, i);
		assert_int_equal(cl_log_last_seq(e.log), i);
		env_free(&e);
	}
}

/* Tear the unsynced batch at every byte, with and without garbage after
 * the kept prefix: recovery returns the synced records plus the whole
 * records inside the kept prefix, never a partial or corrupt one; the
 * partial one is cut off and reported; appending afterwards works. */
static void tear_everywhere(unsigned flags)
{
	const uint64_t synced = 6, last = 10;
	uint8_t batch[1024];
	size_t blen = 0, bounds[16], nb = 0;

	for (uint64_t s = synced + 1; s <= last; s++) {
		blen += build_frame_flag(batch + blen, s, s == synced + 1);
		bounds[nb++] = blen;
	}
	for (size_t t = 0; t <= blen; t++) {
		for (int garbage = 0; garbage <= 1; garbage++) {
			const struct cl_recovery *rec;
			uint64_t whole = 0;
			size_t cut = 0, nz;
			struct env e;

			while (whole < nb && bounds[whole] <= t)
				cut = bounds[whole++];
			env_init(&e, 1u << 16, flags);
			env_open_ok(&e);
			append_range(e.log, 1, synced, 2);
			append_range(e.log, synced + 1, last, 0);
			if (t % 2) { /* the sync fails: the write stays unsynced */
				cl_io_fault_arm(e.fault, CL_FAULT_SYNC, 1, ENOSPC, 0);
				assert_int_equal(cl_log_sync(e.log, NULL), CL_ENOSPC);
			} else {
				/* written by the sync, whose fdatasync never returns */
				cl_io_fault_arm(e.fault, CL_FAULT_SYNC, 1, EIO, 0);
				assert_int_equal(cl_log_sync(e.log, NULL), CL_EIO);
			}
			env_crash(&e, CL_CRASH_DROP, (long)t, garbage, -1, t * 2 + (size_t)garbage);
			env_open_ok(&e);
			expect_log_records(&e.got, 1, synced + whole);
			rec = cl_log_recovery(e.log);
			/* without garbage, the dropped bytes are exactly the
			 * non-zero extent of the partial frame */
			nz = t;
			while (nz > cut && batch[nz - 1] == 0)
				nz--;
			if (!garbage) {
				assert_int_equal(rec->dropped_bytes, nz - cut);
			} else {
				assert_true(rec->dropped_bytes >= nz - cut);
			}
			if (rec->dropped_bytes) {
				size_t base = 24;

				for (uint64_t s = 1; s <= synced; s++)
					base += frame_size(s);
				assert_string_equal(rec->dropped_file, SEG1);
				assert_int_equal(rec->dropped_offset, base + cut);
			}
			/* appending after recovery works, and survives */
			append_range(e.log, synced + whole + 1, synced + whole + 3, 0);
			sync_ok(e.log);
			env_open_ok(&e);
			expect_log_records(&e.got, 1, synced + whole + 3);
			assert_int_equal(cl_log_recovery(e.log)->dropped_bytes, 0);
			env_free(&e);
		}
	}
}

static void test_tear_every_byte_prealloc(void **state)
{
	(void)state;
	tear_everywhere(0);
}

static void test_tear_every_byte_no_prealloc(void **state)
{
	(void)state;
	tear_everywhere(CL_NO_PREALLOC);
}

/* A sync fails after its write; the process restarts (the machine does
 * not), and recovery finds the written records in the page cache.  It
 * replays them, so it must make them durable before returning: a power
 * loss afterwards keeps them. */
static void test_recovered_records_made_durable(void **state)
{
	struct env e;

	(void)state;
	env_init(&e, 1u << 16, 0);
	env_open_ok(&e);
	append_range(e.log, 1, 3, 0);
	sync_ok(e.log);
	append_range(e.log, 4, 6, 0);
	cl_io_fault_arm(e.fault, CL_FAULT_SYNC, 1, EIO, 0);
	assert_int_equal(cl_log_sync(e.log, NULL), CL_EIO);
	assert_int_equal(cl_log_durable_seq(e.log), 3);
	env_open_ok(&e); /* no crash: a process restart */
	expect_log_records(&e.got, 1, 6);
	assert_int_equal(cl_log_durable_seq(e.log), 6);
	env_crash(&e, CL_CRASH_DROP, 0, 0, 0, 1);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 6);
	env_free(&e);
}

/* The crash happens while the log is still open (close comes after). */
static void test_crash_while_open(void **state)
{
	struct env e;

	(void)state;
	env_init(&e, 512, 0);
	env_open_ok(&e);
	append_range(e.log, 1, 50, 5);
	append_range(e.log, 51, 53, 0);
	assert_int_equal(cl_io_crash_crash(e.crash, 1, NULL), 0);
	/* the old files are dead */
	assert_int_equal(cl_log_sync(e.log, NULL), CL_EIO);
	assert_int_equal(cl_log_append(e.log, 1, "x", 1, NULL), CL_EFAILED);
	env_open_ok(&e);
	assert_true(cl_log_last_seq(e.log) >= 50 && cl_log_last_seq(e.log) <= 53);
	expect_log_records(&e.got, 1, cl_log_last_seq(e.log));
	env_free(&e);
}

/* ---- torn tail and corruption ---- */

static void test_torn_tail_reported_then_append(void **state)
{
	const struct cl_recovery *rec;
	struct env e;
	size_t offs[64], n;
	uint8_t *d;
	size_t len;

	(void)state;
	env_init(&e, 1u << 16, 0);
	env_open_ok(&e);
	append_range(e.log, 1, 20, 0);
	sync_ok(e.log);
	cl_log_close(&e.log);
	n = frame_offsets(&e, SEG1, offs, 64);
	assert_int_equal(n, 20);
	/* garbage in the middle of the last record's payload (seq 20) */
	assert_int_equal(cl_io_mem_view(e.mem, SEG1, &d, &len), 0);
	d[offs[19] + 9 + 3] ^= 0x40;
	env_open_ok(&e);
	rec = cl_log_recovery(e.log);
	expect_log_records(&e.got, 1, 19);
	assert_int_equal(rec->dropped_offset, offs[19]);
	assert_int_equal(rec->dropped_bytes, frame_size(20));
	assert_string_equal(rec->dropped_file, SEG1);
	/* the segment keeps its preallocated size, zeros after the cut */
	assert_int_equal(cl_io_mem_view(e.mem, SEG1, &d, &len), 0);
	assert_int_equal(len, 1u << 16);
	for (size_t i = offs[19]; i < len; i++)
		assert_int_equal(d[i], 0);
	append_range(e.log, 20, 25, 0);
	sync_ok(e.log);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 25);
	assert_int_equal(cl_log_recovery(e.log)->dropped_bytes, 0);
	env_free(&e);
}

/* A partial frame header at the very end of a file without preallocation. */
static void test_torn_header_no_prealloc(void **state)
{
	struct env e;
	uint8_t *d, *copy;
	size_t len;

	(void)state;
	env_init(&e, 1u << 16, CL_NO_PREALLOC);
	env_open_ok(&e);
	append_range(e.log, 1, 5, 0);
	sync_ok(e.log);
	cl_log_close(&e.log);
	assert_int_equal(cl_io_mem_view(e.mem, SEG1, &d, &len), 0);
	copy = malloc(len + 5);
	assert_non_null(copy);
	memcpy(copy, d, len);
	memcpy(copy + len, "\x05\x00\x00\x00\x99", 5);
	assert_int_equal(cl_io_mem_set(e.mem, SEG1, copy, len + 5), 0);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 5);
	assert_int_equal(cl_log_recovery(e.log)->dropped_bytes, 5);
	assert_int_equal(cl_log_recovery(e.log)->dropped_offset, len);
	assert_int_equal(cl_io_mem_view(e.mem, SEG1, &d, &len), 0);
	assert_int_equal(len, 24 + 5 * 9 + rec_len(1) + rec_len(2) + rec_len(3) + rec_len(4) +
				      rec_len(5));
	free(copy);
	env_free(&e);
}

/* Build a log of several segments (1 KiB each) and close it. */
static void build_multi(struct env *e, uint64_t n)
{
	env_init(e, 1024, 0);
	env_open_ok(e);
	append_range(e->log, 1, n, 9);
	sync_ok(e->log);
	cl_log_close(&e->log);
}

static void expect_corrupt(struct env *e, const char *file, size_t off, const char *words)
{
	char where[96];
	int rc = env_open(e);

	assert_int_equal(rc, CL_ECORRUPT);
	assert_int_equal(cl_log_error(e->log), CL_ECORRUPT);
	if (off == SIZE_MAX)
		snprintf(where, sizeof(where), "%s", file);
	else
		snprintf(where, sizeof(where), "%s offset %zu", file, off);
	if (!has(cl_log_errmsg(e->log), where) || !has(cl_log_errmsg(e->log), words))
		fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", cl_log_errmsg(e->log), where,
			 words);
	/* a failed open leaves a FAILED handle */
	assert_int_equal(cl_log_append(e->log, 1, "x", 1, NULL), CL_EFAILED);
	assert_int_equal(cl_log_sync(e->log, NULL), CL_EFAILED);
}

static void test_midlog_corruption_last_segment(void **state)
{
	char name[40];
	struct env e;
	size_t offs[64], n, len;
	uint8_t *d;

	(void)state;
	build_multi(&e, 60);
	/* ten more records, each synced on its own: every one of them is
	 * flagged, written when everything before it was durable */
	env_open_ok(&e);
	append_range(e.log, 61, 70, 1);
	cl_log_close(&e.log);
	/* the last segment: flip a payload byte of its second record, which
	 * is followed by valid records written after it was durable */
	{
		uint64_t first = 0;
		struct cl_log *log = NULL;

		assert_int_equal(cl_log_open(&e.cfg, NULL, NULL, &log), 0);
		assert_true(cl_log_segment_count(log) >= 3);
		cl_log_close(&log);
		/* find the last segment by its name */
		for (uint64_t s = 70; s >= 1 && !first; s--) {
			seg_name(name, s);
			if (cl_io_mem_view(e.mem, name, &d, &len) == 0)
				first = s;
		}
		assert_true(first > 1);
	}
	n = frame_offsets(&e, name, offs, 64);
	assert_true(n >= 3);
	assert_int_equal(cl_io_mem_view(e.mem, name, &d, &len), 0);
	d[offs[1] + 5] ^= 0x01; /* in its CRC field */
	expect_corrupt(&e, name, offs[1], "middle of the log");
	assert_true(has(cl_log_errmsg(e.log), "CRC mismatch"));
	assert_true(has(cl_log_errmsg(e.log), "followed by a valid record"));
	assert_true(has(cl_log_errmsg(e.log), "was durable"));
	/* never repaired: the same error again, the file untouched */
	expect_corrupt(&e, name, offs[1], "middle of the log");
	/* the operator's switch cuts it off instead */
	e.cfg.flags |= CL_SALVAGE_TAIL;
	env_open_ok(&e);
	assert_int_equal(cl_log_recovery(e.log)->dropped_offset, offs[1]);
	assert_int_equal(cl_log_last_seq(e.log), cl_log_recovery(e.log)->log_records);
	env_free(&e);
}

/*
 * Damage inside the records of the last sync, followed by more of them:
 * nothing written after that sync proves those bytes durable, and a crash
 * that persisted a later page of the batch but not an earlier one leaves
 * exactly this.  It is cut as a torn tail, the whole records after it
 * counted.  Damage that a later sync's flagged record follows is
 * corruption.
 */
static void test_damage_in_last_batch(void **state)
{
	const struct cl_recovery *rec;
	struct env e;
	size_t offs[64], n, len;
	uint8_t *d;

	(void)state;
	env_init(&e, 1u << 16, 0);
	env_open_ok(&e);
	append_range(e.log, 1, 5, 1); /* five syncs: 1..5 each flagged */
	append_range(e.log, 6, 12, 0);
	sync_ok(e.log); /* one batch: 6 flagged, 7..12 not */
	cl_log_close(&e.log);
	n = frame_offsets(&e, SEG1, offs, 64);
	assert_int_equal(n, 12);
	assert_int_equal(cl_io_mem_view(e.mem, SEG1, &d, &len), 0);
	for (size_t k = 0; k < 12; k++)
		assert_int_equal(get32(d + offs[k]) >> 31, k <= 5);
	/* record 3: records 4, 5 and 6 were written after it was durable */
	d[offs[2] + 6] ^= 0x10;
	expect_corrupt(&e, SEG1, offs[2], "was durable");
	assert_true(has(cl_log_errmsg(e.log), "CRC mismatch"));
	d[offs[2] + 6] ^= 0x10;
	/* record 8: only 9..12 follow, of the same batch */
	d[offs[7] + 9 + 1] ^= 0x04;
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 7);
	rec = cl_log_recovery(e.log);
	assert_int_equal(rec->dropped_offset, offs[7]);
	assert_int_equal(rec->dropped_damage, CL_DAMAGE_CRC);
	assert_int_equal(rec->dropped_records, 4);
	assert_int_equal(rec->dropped_bytes, offs[11] + frame_size(12) - offs[7]);
	/* cut for good, and the log goes on from seq 8 */
	append_range(e.log, 8, 9, 0);
	sync_ok(e.log);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 9);
	assert_int_equal(cl_log_recovery(e.log)->dropped_bytes, 0);
	env_free(&e);
}

/* Appends 7..40 (about 1.8 KiB) after 1..6 were synced, and writes them
 * without a sync: the state of a replica that crashes between the write
 * and the fdatasync.  Returns the offset where the unsynced bytes start. */
static size_t unsynced_batch(struct env *e)
{
	size_t base = 24, unsynced = 0;

	env_init(e, 1u << 16, 0);
	env_open_ok(e);
	append_range(e->log, 1, 6, 2);
	for (uint64_t s = 1; s <= 6; s++)
		base += frame_size(s);
	append_range(e->log, 7, 40, 0);
	assert_int_equal(cl_log_write(e->log), 0);
	for (uint64_t s = 7; s <= 40; s++)
		unsynced += frame_size(s);
	assert_int_equal(cl_io_crash_unsynced(e->crash), unsynced);
	assert_true(unsynced > 1024);
	return base;
}

/*
 * The bug the simulator found once its crashes tore and reordered writes:
 * power loss during the fdatasync of a write that spans several pages may
 * persist a later page but not an earlier one.  Recovery then found a bad
 * or zero record followed by valid ones, called it corruption in the
 * middle of the log, and the replica could not start, though nothing
 * synced was damaged.  Now: the records of 1..6 come back, the cut is at
 * the hole, and the whole records after it (never synced) are counted.
 */
static void test_reordered_pages_are_a_torn_tail(void **state)
{
	const struct cl_recovery *rec;
	struct env e;
	uint8_t *d;
	size_t len, base;

	(void)state;
	base = unsynced_batch(&e);
	/* power loss: the write persisted whole... */
	env_crash(&e, CL_CRASH_DROP, 1L << 20, 0, -1, 1);
	/* ...but for its first 512-byte page */
	assert_int_equal(cl_io_mem_view(e.mem, SEG1, &d, &len), 0);
	memset(d + base, 0, 512 - base % 512);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 6);
	rec = cl_log_recovery(e.log);
	assert_int_equal(rec->dropped_offset, base);
	assert_int_equal(rec->dropped_damage, CL_DAMAGE_ZERO);
	assert_true(rec->dropped_records > 10);
	/* the torn page's prefix kept, the rest of it zero */
	env_free(&e);
	base = unsynced_batch(&e);
	env_crash(&e, CL_CRASH_DROP, 1L << 20, 0, -1, 1);
	assert_int_equal(cl_io_mem_view(e.mem, SEG1, &d, &len), 0);
	memset(d + base + 40, 0, 512 - (base + 40) % 512);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 6);
	assert_int_equal(cl_log_recovery(e.log)->dropped_damage, CL_DAMAGE_CRC);
	append_range(e.log, 7, 8, 0);
	sync_ok(e.log);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 8);
	env_free(&e);
}

/*
 * The same, with the crash backend's page model: several unsynced writes,
 * each page of them persisted, lost or torn on its own, over many seeds.
 * Every recovery must succeed with every durable record and a prefix of
 * the others, each intact.
 */
static void test_reordered_pages_every_seed(void **state)
{
	struct cl_crash_stats st;
	uint64_t reordered = 0, cuts = 0, extra = 0;

	(void)state;
	for (uint64_t seed = 0; seed < 400; seed++) {
		struct cl_crash_plan plan = {CL_CRASH_PAGES, -1, -1, -1, seed % 3 ? 512 : 64};
		uint64_t durable, L, last = 0;
		struct env e;

		env_init(&e, seed % 5 ? 4096 : 1024, seed % 7 ? 0 : CL_NO_PREALLOC);
		env_open_ok(&e);
		for (int round = 0; round < 3 + (int)(seed % 4); round++) {
			append_range(e.log, last + 1, last + 8, 0);
			last += 8;
			assert_int_equal(cl_log_write(e.log), 0);
			if ((seed + (uint64_t)round) % 3 == 0)
				sync_ok(e.log);
		}
		append_range(e.log, last + 1, last + 5, 0); /* appended, never written */
		last += 5;
		if (seed % 4 == 0) { /* the final sync's fdatasync fails */
			cl_io_fault_arm(e.fault, CL_FAULT_SYNC, 1, EIO, 0);
			assert_int_equal(cl_log_sync(e.log, NULL), CL_EIO);
		}
		durable = cl_log_durable_seq(e.log);
		cl_io_fault_disarm(e.fault);
		assert_int_equal(cl_io_crash_crash(e.crash, seed, &plan), 0);
		cl_log_close(&e.log);
		env_open_ok(&e);
		L = cl_log_last_seq(e.log);
		assert_true(L >= durable && L <= last);
		expect_log_records(&e.got, 1, L);
		cuts += cl_log_recovery(e.log)->dropped_records > 0;
		extra += L > durable;
		cl_io_crash_stats(e.crash, &st);
		reordered += st.reordered;
		/* and it goes on */
		append_range(e.log, L + 1, L + 2, 0);
		sync_ok(e.log);
		env_open_ok(&e);
		expect_log_records(&e.got, 1, L + 2);
		env_free(&e);
	}
	/* the seeds did reorder, cut whole records, and keep unsynced ones */
	assert_true(reordered > 100);
	assert_true(cuts > 20);
	assert_true(extra > 20);
}

/* cl_log_write: a write without a sync; the sync then writes the rest. */
static void test_write_then_sync(void **state)
{
	struct env e;
	uint64_t w, s;

	(void)state;
	env_init(&e, 1024, 0);
	env_open_ok(&e);
	append_range(e.log, 1, 5, 0);
	w = cl_io_fault_calls(e.fault, CL_FAULT_WRITE);
	s = cl_io_fault_calls(e.fault, CL_FAULT_SYNC);
	assert_int_equal(cl_log_write(e.log), 0);
	assert_int_equal(cl_io_fault_calls(e.fault, CL_FAULT_WRITE), w + 1);
	assert_int_equal(cl_io_fault_calls(e.fault, CL_FAULT_SYNC), s);
	assert_int_equal(cl_log_durable_seq(e.log), 0);
	assert_true(cl_io_crash_unsynced(e.crash) > 0);
	/* nothing new: no I/O */
	assert_int_equal(cl_log_write(e.log), 0);
	assert_int_equal(cl_io_fault_calls(e.fault, CL_FAULT_WRITE), w + 1);
	/* the sync writes only what came after, and syncs */
	append_range(e.log, 6, 7, 0);
	sync_ok(e.log);
	assert_int_equal(cl_io_fault_calls(e.fault, CL_FAULT_WRITE), w + 2);
	assert_int_equal(cl_io_fault_calls(e.fault, CL_FAULT_SYNC), s + 1);
	/* written and synced with nothing after: the sync only syncs */
	append_range(e.log, 8, 9, 0);
	assert_int_equal(cl_log_write(e.log), 0);
	sync_ok(e.log);
	assert_int_equal(cl_io_fault_calls(e.fault, CL_FAULT_WRITE), w + 3);
	assert_int_equal(cl_io_fault_calls(e.fault, CL_FAULT_SYNC), s + 2);
	/* past a rollover the write stops at the segment's end */
	append_range(e.log, 10, 40, 0);
	assert_int_equal(cl_log_write(e.log), 0);
	assert_int_equal(cl_log_segment_count(e.log), 1);
	assert_int_equal(cl_log_durable_seq(e.log), 9);
	/* power loss now: every unsynced write lost */
	env_crash(&e, CL_CRASH_DROP, 0, 0, -1, 1);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 9);
	append_range(e.log, 10, 40, 0);
	assert_int_equal(cl_log_write(e.log), 0);
	sync_ok(e.log);
	assert_true(cl_log_segment_count(e.log) > 1);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 40);
	/* a FAILED log writes nothing */
	append_range(e.log, 41, 42, 0);
	cl_io_fault_arm(e.fault, CL_FAULT_WRITE, 1, EIO, 0);
	assert_int_equal(cl_log_write(e.log), CL_EIO);
	assert_int_equal(cl_log_write(e.log), CL_EFAILED);
	env_free(&e);
}

/* A segment of format version 1 (no flags) is still read, by the rules of
 * version 1 (any valid record after damage is corruption), and appended
 * to without flags; the next segment is of version 2. */
static void test_version1_segment(void **state)
{
	uint8_t seg[2048], *d;
	struct env e;
	size_t p = 24, offs[64], len;

	(void)state;
	memset(seg, 0, sizeof(seg));
	memcpy(seg, "CLSG", 4);
	put32(seg + 4, 1);
	seg[8] = 1; /* first seq 1 */
	put32(seg + 20, ref_crc32c(0, seg, 20));
	for (uint64_t s = 1; s <= 5; s++)
		p += build_frame_flag(seg + p, s, 0);
	env_init(&e, 1024, 0);
	assert_int_equal(cl_io_mem_set(e.mem, SEG1, seg, sizeof(seg) / 2), 0);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 5);
	append_range(e.log, 6, 8, 1);
	cl_log_close(&e.log);
	assert_int_equal(cl_io_mem_view(e.mem, SEG1, &d, &len), 0);
	assert_int_equal(get32(d + 4), 1);
	assert_int_equal(frame_offsets(&e, SEG1, offs, 64), 8);
	for (size_t k = 0; k < 8; k++)
		assert_int_equal(get32(d + offs[k]) >> 31, 0);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 8);
	cl_log_close(&e.log);
	/* damage followed by a valid record: corruption, as in version 1 */
	d[offs[6] + 4] ^= 1;
	expect_corrupt(&e, SEG1, offs[6], "followed by a valid record");
	d[offs[6] + 4] ^= 1;
	/* a flagged frame is not a record in version 1: it is damage */
	put32(d + offs[7], get32(d + offs[7]) | LEN_SYNCED);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 7);
	assert_int_equal(cl_log_recovery(e.log)->dropped_damage, CL_DAMAGE_TOO_LONG);
	/* a rollover creates a segment of version 2 */
	append_range(e.log, 8, 30, 0);
	sync_ok(e.log);
	assert_true(cl_log_segment_count(e.log) > 1);
	{
		char name[40];

		seg_name(name, 30);
		for (uint64_t s = 30; cl_io_mem_view(e.mem, name, &d, &len) != 0; s--)
			seg_name(name, s - 1);
		assert_int_equal(get32(d + 4), 2);
	}
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 30);
	env_free(&e);
}

static void test_midlog_corruption_earlier_segment(void **state)
{
	struct env e;
	size_t offs[64], n, len;
	uint8_t *d;

	(void)state;
	build_multi(&e, 60);
	/* the LAST record of the first segment: nothing valid follows it in
	 * its file, but it is not the last segment */
	n = frame_offsets(&e, SEG1, offs, 64);
	assert_true(n > 2);
	assert_int_equal(cl_io_mem_view(e.mem, SEG1, &d, &len), 0);
	d[offs[n - 1] + 8] ^= 0x80; /* its type byte */
	expect_corrupt(&e, SEG1, offs[n - 1], "not the last");
	d[offs[n - 1] + 8] ^= 0x80;
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 60);
	/* a zeroed record in the middle of a segment */
	cl_log_close(&e.log);
	memset(d + offs[2], 0, 9 + rec_len(3));
	expect_corrupt(&e, SEG1, offs[2], "corruption in the middle of the log");
	/* the salvage switch does not apply to earlier segments */
	e.cfg.flags |= CL_SALVAGE_TAIL;
	expect_corrupt(&e, SEG1, offs[2], "not the last");
	env_free(&e);
}

static void test_bad_headers_and_gaps(void **state)
{
	char name2[40], name3[40];
	struct env e;
	struct cl_io *mio;
	uint8_t *d, *saved;
	size_t len, n2, offs[64];
	uint64_t first2;

	(void)state;
	build_multi(&e, 60);
	mio = cl_io_mem_io(e.mem);
	n2 = frame_offsets(&e, SEG1, offs, 64);
	first2 = 1 + n2;
	seg_name(name2, first2);
	assert_int_equal(cl_io_mem_view(e.mem, name2, &d, &len), 0);
	seg_name(name3, first2 + frame_offsets(&e, name2, offs, 64));
	/* bad magic / header CRC / version / first seq */
	d[0] ^= 1;
	expect_corrupt(&e, name2, 0, "bad magic");
	d[0] ^= 1;
	d[21] ^= 1;
	expect_corrupt(&e, name2, 0, "header CRC");
	d[21] ^= 1;
	put32(d + 4, 3);
	put32(d + 20, ref_crc32c(0, d, 20));
	assert_int_equal(env_open(&e), CL_EVERSION);
	assert_true(has(cl_log_errmsg(e.log), name2));
	put32(d + 4, 0);
	put32(d + 20, ref_crc32c(0, d, 20));
	assert_int_equal(env_open(&e), CL_EVERSION);
	put32(d + 4, 2);
	d[8]++;
	put32(d + 20, ref_crc32c(0, d, 20));
	expect_corrupt(&e, name2, 8, "first seq");
	d[8]--;
	put32(d + 20, ref_crc32c(0, d, 20));
	env_open_ok(&e);
	cl_log_close(&e.log);
	/* a missing segment in the middle */
	saved = malloc(len);
	assert_non_null(saved);
	memcpy(saved, d, len);
	assert_int_equal(mio->unlink(mio->ctx, name2), 0);
	expect_corrupt(&e, name3, SIZE_MAX, "records are missing");
	assert_int_equal(cl_io_mem_set(e.mem, name2, saved, len), 0);
	env_open_ok(&e);
	cl_log_close(&e.log);
	/* the first segment missing, with no snapshot */
	assert_int_equal(mio->unlink(mio->ctx, SEG1), 0);
	expect_corrupt(&e, name2, SIZE_MAX, "no snapshot");
	free(saved);
	/* a name out of range */
	env_free(&e);
	env_init(&e, 1024, 0);
	assert_int_equal(cl_io_mem_set(e.mem, "log-99999999999999999999.seg", "x", 1), 0);
	expect_corrupt(&e, "log-99999999999999999999.seg", SIZE_MAX, "out of range");
	env_free(&e);
}

static void test_preallocated_zeros_are_the_end(void **state)
{
	struct env e;
	uint8_t *d;
	size_t len;

	(void)state;
	env_init(&e, 4096, 0);
	env_open_ok(&e);
	append_range(e.log, 1, 3, 0);
	sync_ok(e.log);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 3);
	assert_int_equal(cl_log_recovery(e.log)->dropped_bytes, 0);
	cl_log_close(&e.log);
	/* a lone non-zero byte far into the zeros: a torn tail (garbage),
	 * not a record, and nothing valid after it */
	assert_int_equal(cl_io_mem_view(e.mem, SEG1, &d, &len), 0);
	assert_int_equal(len, 4096);
	d[3000] = 0x5A;
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 3);
	assert_int_equal(cl_log_recovery(e.log)->dropped_bytes,
			 3001 - (24 + frame_size(1) + frame_size(2) + frame_size(3)));
	env_free(&e);
}

/* ---- faults: ENOSPC / EIO on write and sync ---- */

static void fault_case(unsigned kind, int err, int want)
{
	struct env e;
	uint64_t d = 0;
	int rc;

	env_init(&e, 1u << 16, 0);
	env_open_ok(&e);
	append_range(e.log, 1, 5, 0);
	sync_ok(e.log);
	cl_io_fault_arm(e.fault, kind, 1, err, 0);
	append_range(e.log, 6, 9, 0);
	rc = cl_log_sync(e.log, &d);
	assert_int_equal(rc, want);
	assert_int_equal(cl_log_error(e.log), want);
	assert_true(has(cl_log_errmsg(e.log), SEG1));
	assert_true(has(cl_log_errmsg(e.log), kind == CL_FAULT_WRITE ? "write" : "sync"));
	assert_true(has(cl_log_errmsg(e.log), strerror(err)));
	/* FAILED: everything fails from now on, even with the fault gone */
	cl_io_fault_disarm(e.fault);
	assert_int_equal(cl_log_append(e.log, 1, "x", 1, NULL), CL_EFAILED);
	assert_int_equal(cl_log_sync(e.log, NULL), CL_EFAILED);
	assert_int_equal(cl_log_checkpoint(e.log, NULL, 0), CL_EFAILED);
	assert_int_equal(cl_log_checkpoint_begin(e.log, NULL), CL_EFAILED);
	assert_int_equal(cl_log_error(e.log), want);
	assert_int_equal(cl_log_durable_seq(e.log), 5);
	assert_int_equal(cl_log_last_seq(e.log), 9);
	/* restart from disk: exactly what was reported durable */
	env_crash(&e, CL_CRASH_DROP, 0, 0, -1, 7);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, 5);
	env_free(&e);
}

static void test_fault_write_enospc(void **state)
{
	(void)state;
	fault_case(CL_FAULT_WRITE, ENOSPC, CL_ENOSPC);
}

static void test_fault_write_eio(void **state)
{
	(void)state;
	fault_case(CL_FAULT_WRITE, EIO, CL_EIO);
}

static void test_fault_sync_enospc(void **state)
{
	(void)state;
	fault_case(CL_FAULT_SYNC, ENOSPC, CL_ENOSPC);
}

static void test_fault_sync_eio(void **state)
{
	(void)state;
	fault_case(CL_FAULT_SYNC, EIO, CL_EIO);
}

/* ENOSPC when preallocating the next segment: the records of the old one
 * were synced first and stay durable. */
static void test_fault_rollover_enospc(void **state)
{
	struct env e;
	uint64_t durable;

	(void)state;
	env_init(&e, 512, 0);
	env_open_ok(&e);
	append_range(e.log, 1, 3, 0);
	sync_ok(e.log);
	cl_io_fault_arm(e.fault, CL_FAULT_RESIZE, 1, ENOSPC, 1);
	append_range(e.log, 4, 40, 0);
	assert_int_equal(cl_log_sync(e.log, NULL), CL_ENOSPC);
	assert_true(has(cl_log_errmsg(e.log), "preallocate"));
	durable = cl_log_durable_seq(e.log);
	assert_true(durable > 3 && durable < 40);
	assert_int_equal(cl_log_segment_count(e.log), 1);
	env_crash(&e, CL_CRASH_DROP, -1, -1, -1, 3);
	env_open_ok(&e);
	expect_log_records(&e.got, 1, durable);
	assert_int_equal(cl_log_recovery(e.log)->removed, 1); /* the temp segment */
	env_free(&e);
}

/*
 * A workload of appends, syncs, rollovers and a checkpoint, failed at its
 * nth changing call, for every n: the failing call reports the injected
 * error, the log is FAILED, and after a crash the log recovers every record
 * reported durable, in order, plus possibly some that were not: never a
 * gap, a changed record or an unknown one.  The checkpoint here stores the
 * whole history (each record with its seq), so "snapshot + tail" must give
 * back the plain sequence 1..L.
 */
struct history {
	uint64_t last; /* 1..last recovered, checked */
};

static int history_fn(void *ctx, const struct cl_record *r)
{
	struct history *h = ctx;
	uint64_t seq;
	uint8_t buf[128];

	if (r->snapshot) {
		assert_true(r->len >= 8);
		seq = 0;
		for (int i = 7; i >= 0; i--)
			seq = seq << 8 | r->data[i];
		assert_int_equal(r->len - 8, rec_len(seq));
		rec_fill(buf, seq, rec_len(seq));
		assert_memory_equal(r->data + 8, buf, rec_len(seq) ? rec_len(seq) : 0);
	} else {
		seq = r->seq;
		assert_int_equal(r->len, rec_len(seq));
		rec_fill(buf, seq, r->len);
		assert_memory_equal(r->data, buf, r->len);
	}
	assert_int_equal(seq, h->last + 1);
	assert_int_equal(r->type, rec_type(seq));
	h->last = seq;
	return 0;
}

/* Checkpoint the history 1..last. */
static int checkpoint_history(struct cl_log *log)
{
	uint8_t buf[128];
	uint64_t upto = 0;
	int rc = cl_log_checkpoint_begin(log, &upto);

	for (uint64_t s = 1; !rc && s <= upto; s++) {
		for (int i = 0; i < 8; i++)
			buf[i] = (uint8_t)(s >> (8 * i));
		rec_fill(buf + 8, s, rec_len(s));
		rc = cl_log_checkpoint_add(log, rec_type(s), buf, 8 + rec_len(s));
	}
	if (!rc)
		rc = cl_log_checkpoint_commit(log);
	return rc;
}

/* Returns the first error, or 0; *durable the durable seq reported. */
static int workload(struct cl_log *log, uint64_t *durable)
{
	uint64_t s = 1;
	int rc = 0;

	for (int round = 0; !rc && round < 6; round++) {
		for (int k = 0; k < 5 + round * 3; k++, s++) {
			uint8_t buf[128];

			rec_fill(buf, s, rec_len(s));
			rc = cl_log_append(log, rec_type(s), buf, rec_len(s), NULL);
			assert_int_equal(rc, 0);
		}
		rc = cl_log_sync(log, durable);
		if (!rc && round == 3)
			rc = checkpoint_history(log);
	}
	*durable = cl_log_durable_seq(log);
	return rc;
}

static void test_fault_every_call(void **state)
{
	uint64_t calls, durable;
	struct env e;

	(void)state;
	env_init(&e, 400, 0);
	env_open_ok(&e);
	calls = cl_io_fault_calls(e.fault, CL_FAULT_MUTATE);
	assert_int_equal(workload(e.log, &durable), 0);
	calls = cl_io_fault_calls(e.fault, CL_FAULT_MUTATE) - calls;
	env_free(&e);
	assert_true(calls > 20);

	for (uint64_t n = 1; n <= calls; n++) {
		for (int variant = 0; variant < 4; variant++) {
			struct history h = {0};
			int err = variant & 1 ? ENOSPC : EIO, rc;

			env_init(&e, 400, 0);
			env_open_ok(&e);
			cl_io_fault_arm(e.fault, CL_FAULT_MUTATE, n, err, variant & 2);
			rc = workload(e.log, &durable);
			assert_int_equal(rc, err == ENOSPC ? CL_ENOSPC : CL_EIO);
			assert_int_equal(cl_log_error(e.log), rc);
			assert_true(cl_log_errmsg(e.log)[0] != '\0');
			assert_int_equal(cl_log_append(e.log, 1, "x", 1, NULL), CL_EFAILED);
			env_crash(&e, variant & 2 ? CL_CRASH_PREFIX : CL_CRASH_DROP, -1, -1, -1,
				  n * 4 + (uint64_t)variant);
			cl_log_close(&e.log);
			rc = cl_log_open(&e.cfg, history_fn, &h, &e.log);
			if (rc)
				fail_msg("n=%llu: %s", (unsigned long long)n, cl_log_errmsg(e.log));
			assert_true(h.last >= durable);
			assert_int_equal(h.last, cl_log_last_seq(e.log));
			env_free(&e);
		}
	}
}

/* ---- checkpoints ---- */

/* Key-value state: a record sets key payload[0] to the rest. */
struct kv {
	uint8_t val[16][64];
	uint8_t len[16];
	uint8_t set[16];
};

static void kv_apply(struct kv *s, const uint8_t *p, uint32_t len)
{
	uint8_t k;

	assert_true(len >= 1 && len <= 65);
	k = p[0] % 16;
	s->set[k] = 1;
	s->len[k] = (uint8_t)(len - 1);
	memset(s->val[k], 0, sizeof(s->val[k]));
	memcpy(s->val[k], p + 1, len - 1);
}

static int kv_fn(void *ctx, const struct cl_record *r)
{
	kv_apply(ctx, r->data, r->len);
	return 0;
}

static void kv_record(uint64_t seq, uint8_t *buf, uint32_t *len)
{
	*len = 1 + (uint32_t)(seq * 7 % 40);
	buf[0] = (uint8_t)(seq * 5 % 16);
	for (uint32_t i = 1; i < *len; i++)
		buf[i] = (uint8_t)(seq + i);
}

static void kv_append(struct cl_log *log, struct kv *model, uint64_t from, uint64_t to)
{
	for (uint64_t s = from; s <= to; s++) {
		uint8_t buf[64];
		uint32_t len;

		kv_record(s, buf, &len);
		assert_int_equal(cl_log_append(log, 1, buf, len, NULL), 0);
		kv_apply(model, buf, len);
	}
}

static int kv_checkpoint(struct cl_log *log, const struct kv *s)
{
	struct cl_iov v[16];
	uint8_t bufs[16][65];
	size_t n = 0;

	for (int k = 0; k < 16; k++) {
		if (!s->set[k])
			continue;
		bufs[k][0] = (uint8_t)k;
		memcpy(bufs[k] + 1, s->val[k], s->len[k]);
		v[n].type = 2;
		v[n].data = bufs[k];
		v[n].len = 1u + s->len[k];
		n++;
	}
	return cl_log_checkpoint(log, v, n);
}

static void test_snapshot_plus_tail_equals_replay(void **state)
{
	struct kv model, full, rec;
	struct env e;
	struct cl_log *log = NULL;

	(void)state;
	memset(&model, 0, sizeof(model));
	env_init(&e, 700, 0);
	env_open_ok(&e);
	kv_append(e.log, &model, 1, 150);
	sync_ok(e.log);
	assert_true(cl_log_segment_count(e.log) > 5);
	/* the full replay gives the model */
	memset(&full, 0, sizeof(full));
	cl_log_close(&e.log);
	assert_int_equal(cl_log_open(&e.cfg, kv_fn, &full, &log), 0);
	assert_memory_equal(&full, &model, sizeof(model));
	/* checkpoint, then a tail */
	assert_int_equal(kv_checkpoint(log, &model), 0);
	assert_int_equal(cl_log_snapshot_seq(log), 150);
	assert_int_equal(cl_log_segment_count(log), 1);
	assert_int_equal(count_files(&e, "log-"), 1);
	assert_int_equal(count_files(&e, "snapshot"), 1);
	kv_append(log, &model, 151, 260);
	sync_ok(log);
	cl_log_close(&log);
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(cl_log_open(&e.cfg, kv_fn, &rec, &log), 0);
	assert_memory_equal(&rec, &model, sizeof(model));
	assert_int_equal(cl_log_recovery(log)->snapshot_seq, 150);
	assert_int_equal(cl_log_recovery(log)->log_records, 110);
	assert_int_equal(cl_log_last_seq(log), 260);
	/* a second checkpoint replaces the first; disk use stays bounded */
	assert_int_equal(kv_checkpoint(log, &model), 0);
	assert_int_equal(count_files(&e, "log-"), 1);
	assert_int_equal(count_files(&e, "snapshot"), 1);
	cl_log_close(&log);
	memset(&rec, 0, sizeof(rec));
	assert_int_equal(cl_log_open(&e.cfg, kv_fn, &rec, &log), 0);
	assert_memory_equal(&rec, &model, sizeof(model));
	assert_int_equal(cl_log_recovery(log)->log_records, 0);
	cl_log_close(&log);
	env_free(&e);
}

static void test_checkpoint_states(void **state)
{
	struct env e;
	uint64_t s = 0;

	(void)state;
	env_init(&e, 0, 0);
	env_open_ok(&e);
	assert_int_equal(cl_log_checkpoint_add(e.log, 1, "x", 1), CL_ESTATE);
	assert_int_equal(cl_log_checkpoint_commit(e.log), CL_ESTATE);
	assert_int_equal(cl_log_checkpoint_abort(e.log), CL_ESTATE);
	append_range(e.log, 1, 4, 0);
	assert_int_equal(cl_log_checkpoint_begin(e.log, &s), 0);
	assert_int_equal(s, 4);
	assert_int_equal(cl_log_durable_seq(e.log), 4); /* begin syncs */
	assert_int_equal(cl_log_checkpoint_begin(e.log, &s), CL_ESTATE);
	assert_int_equal(cl_log_append(e.log, 1, "x", 1, NULL), CL_ESTATE);
	assert_int_equal(cl_log_checkpoint_add(e.log, 0, "x", 1), CL_EINVAL);
	assert_int_equal(cl_log_checkpoint_add(e.log, 9, "x", 1), 0);
	assert_int_equal(count_files(&e, "snapshot.tmp"), 1);
	assert_int_equal(cl_log_checkpoint_abort(e.log), 0);
	assert_int_equal(count_files(&e, "snapshot"), 0);
	assert_int_equal(cl_log_error(e.log), 0);
	/* an empty checkpoint is fine */
	assert_int_equal(cl_log_checkpoint(e.log, NULL, 0), 0);
	append_range(e.log, 5, 6, 0);
	sync_ok(e.log);
	env_open_ok(&e);
	assert_int_equal(cl_log_recovery(e.log)->snapshot_seq, 4);
	assert_int_equal(cl_log_recovery(e.log)->snapshot_records, 0);
	expect_log_records(&e.got, 5, 6);
	env_free(&e);
}

/*
 * Crash at every step of a checkpoint: the checkpoint is stopped at its nth
 * changing call (the call does not happen), then the machine loses power
 * with the directory operations since the last directory sync kept in
 * part, in whole or not at all.  Recovery must give back the same state,
 * from the old snapshot and its segments or from the new one.
 */
static void test_checkpoint_crash_every_step(void **state)
{
	uint64_t calls;
	struct kv model;
	struct env e;

	(void)state;
	/* count the calls of one checkpoint */
	memset(&model, 0, sizeof(model));
	env_init(&e, 500, 0);
	env_open_ok(&e);
	kv_append(e.log, &model, 1, 80);
	assert_int_equal(kv_checkpoint(e.log, &model), 0);
	kv_append(e.log, &model, 81, 160);
	sync_ok(e.log);
	calls = cl_io_fault_calls(e.fault, CL_FAULT_MUTATE);
	assert_int_equal(kv_checkpoint(e.log, &model), 0);
	calls = cl_io_fault_calls(e.fault, CL_FAULT_MUTATE) - calls;
	env_free(&e);
	assert_true(calls >= 8);

	for (uint64_t n = 1; n <= calls + 1; n++) {
		for (long dir_ops = -1; dir_ops <= 3; dir_ops++) {
			struct kv rec;
			struct cl_log *log = NULL;
			int rc;

			memset(&model, 0, sizeof(model));
			env_init(&e, 500, 0);
			env_open_ok(&e);
			kv_append(e.log, &model, 1, 80);
			assert_int_equal(kv_checkpoint(e.log, &model), 0);
			kv_append(e.log, &model, 81, 160);
			sync_ok(e.log);
			cl_io_fault_arm(e.fault, CL_FAULT_MUTATE, n, EIO, 1);
			rc = kv_checkpoint(e.log, &model);
			assert_true(n > calls ? rc == 0 : rc == CL_EIO);
			env_crash(&e, (int)(n % 2), -1, -1, dir_ops == 3 ? 1000 : dir_ops,
				  n * 8 + (uint64_t)(dir_ops + 1));
			memset(&rec, 0, sizeof(rec));
			rc = cl_log_open(&e.cfg, kv_fn, &rec, &log);
			if (rc)
				fail_msg("n=%llu dir_ops=%ld: %s", (unsigned long long)n, dir_ops,
					 cl_log_errmsg(log));
			assert_memory_equal(&rec, &model, sizeof(model));
			assert_int_equal(cl_log_last_seq(log), 160);
			assert_true(cl_log_snapshot_seq(log) == 80 || cl_log_snapshot_seq(log) == 160);
			/* and the log goes on */
			kv_append(log, &model, 161, 170);
			assert_int_equal(cl_log_sync(log, NULL), 0);
			cl_log_close(&log);
			memset(&rec, 0, sizeof(rec));
			assert_int_equal(cl_log_open(&e.cfg, kv_fn, &rec, &log), 0);
			assert_memory_equal(&rec, &model, sizeof(model));
			assert_int_equal(count_files(&e, "snapshot.tmp"), 0);
			cl_log_close(&log);
			env_free(&e);
		}
	}
}

static void test_snapshot_corrupt(void **state)
{
	struct env e;
	struct kv model;
	struct cl_io *mio;
	struct cl_file *f;
	uint8_t *d;
	size_t len;

	(void)state;
	memset(&model, 0, sizeof(model));
	env_init(&e, 500, 0);
	mio = cl_io_mem_io(e.mem);
	env_open_ok(&e);
	kv_append(e.log, &model, 1, 50);
	assert_int_equal(kv_checkpoint(e.log, &model), 0);
	cl_log_close(&e.log);
	assert_int_equal(cl_io_mem_view(e.mem, "snapshot", &d, &len), 0);
	d[len - 1] ^= 1;
	expect_corrupt(&e, "snapshot", 40, "body CRC");
	d[len - 1] ^= 1;
	d[37] ^= 1;
	expect_corrupt(&e, "snapshot", 0, "header CRC");
	d[37] ^= 1;
	env_open_ok(&e);
	cl_log_close(&e.log);
	/* a truncated snapshot */
	assert_int_equal(mio->open(mio->ctx, "snapshot", 0, &f), 0);
	assert_int_equal(mio->truncate(mio->ctx, f, len - 3), 0);
	mio->close(mio->ctx, f);
	assert_int_equal(env_open(&e), CL_ECORRUPT);
	assert_true(has(cl_log_errmsg(e.log), "snapshot"));
	env_free(&e);
}

/* ---- segments ---- */

static void test_rollover_many_segments(void **state)
{
	uint8_t big[3000];
	struct env e;
	uint64_t prev = 0;
	char name[40];
	size_t nseg = 0;

	(void)state;
	env_init(&e, 256, 0);
	env_open_ok(&e);
	append_range(e.log, 1, 100, 13);
	sync_ok(e.log);
	/* a record longer than a segment gets one of its own */
	memset(big, 0xAB, sizeof(big));
	assert_int_equal(cl_log_append(e.log, 5, big, sizeof(big), NULL), 0);
	sync_ok(e.log);
	append_range(e.log, 102, 110, 0);
	sync_ok(e.log);
	assert_true(cl_log_segment_count(e.log) > 20);
	/* segment names are contiguous: each starts after the previous */
	for (uint64_t s = 1; s <= 110; s++) {
		uint8_t *d;
		size_t len;

		seg_name(name, s);
		if (cl_io_mem_view(e.mem, name, &d, &len) == 0) {
			assert_true(s > prev);
			prev = s;
			nseg++;
			if (s == 101)
				assert_true(len >= 24 + 9 + sizeof(big));
		}
	}
	assert_int_equal(nseg, cl_log_segment_count(e.log));
	env_open_ok(&e);
	assert_int_equal(e.got.n, 110);
	assert_int_equal(cl_log_recovery(e.log)->segments, nseg);
	assert_int_equal(e.got.v[100].len, sizeof(big));
	assert_int_equal(e.got.v[100].data[2999], 0xAB);
	for (size_t i = 0; i < 110; i++)
		assert_int_equal(e.got.v[i].seq, i + 1);
	env_free(&e);
}

static void test_leftover_temp_files_removed(void **state)
{
	struct env e;

	(void)state;
	env_init(&e, 0, 0);
	assert_int_equal(cl_io_mem_set(e.mem, "snapshot.tmp", "junk", 4), 0);
	assert_int_equal(cl_io_mem_set(e.mem, "log-00000000000000000007.seg.tmp", "junk", 4), 0);
	assert_int_equal(cl_io_mem_set(e.mem, "unrelated.txt", "keep", 4), 0);
	env_open_ok(&e);
	assert_int_equal(cl_log_recovery(e.log)->removed, 2);
	assert_int_equal(count_files(&e, "snapshot"), 0);
	assert_int_equal(count_files(&e, "log-"), 1);
	assert_int_equal(count_files(&e, "unrelated"), 1);
	env_free(&e);
}

static int cancel_fn(void *ctx, const struct cl_record *r)
{
	(void)ctx;
	return r->seq == 3 ? 42 : 0;
}

static void test_replay_callback_stops(void **state)
{
	struct env e;
	struct cl_log *log = NULL;

	(void)state;
	env_init(&e, 0, 0);
	env_open_ok(&e);
	append_range(e.log, 1, 5, 0);
	sync_ok(e.log);
	cl_log_close(&e.log);
	assert_int_equal(cl_log_open(&e.cfg, cancel_fn, NULL, &log), CL_ECANCELED);
	assert_true(has(cl_log_errmsg(log), "seq 3"));
	cl_log_close(&log);
	env_free(&e);
}

static void test_config_and_names(void **state)
{
	struct cl_config cfg;
	struct cl_log *log = NULL;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(cl_log_open(&cfg, NULL, NULL, &log), CL_EINVAL);
	assert_non_null(log);
	assert_true(has(cl_log_errmsg(log), "io missing"));
	cl_log_close(&log);
	assert_null(log);
	for (int i = 0; i <= 9; i++)
		assert_true(strcmp(cl_strerror(i), "unknown error") != 0);
	assert_string_equal(cl_strerror(100), "unknown error");
	assert_string_equal(cl_strerror(CL_ENOSPC), "no space left on device");
}

/* ---- the test backends themselves ---- */

static void test_crash_backend_model(void **state)
{
	struct cl_io_mem *mem = cl_io_mem_new();
	struct cl_io_crash *c;
	struct cl_io *io;
	struct cl_file *f;
	struct cl_crash_plan plan = {CL_CRASH_DROP, 0, 0, 0, 0};
	uint8_t *d;
	size_t len;

	(void)state;
	assert_int_equal(cl_io_crash_new(cl_io_mem_io(mem), &c), 0);
	io = cl_io_crash_io(c);
	/* a created file whose directory entry was not synced vanishes */
	assert_int_equal(io->open(io->ctx, "a", CL_IO_CREATE, &f), 0);
	assert_int_equal(io->write(io->ctx, f, 0, "hello", 5), 0);
	assert_int_equal(io->sync(io->ctx, f), 0);
	io->close(io->ctx, f);
	assert_int_equal(cl_io_crash_crash(c, 1, &plan), 0);
	assert_int_equal(cl_io_mem_view(mem, "a", &d, &len), ENOENT);
	/* with the directory synced it stays, with its synced bytes only */
	assert_int_equal(io->open(io->ctx, "a", CL_IO_CREATE, &f), 0);
	assert_int_equal(io->write(io->ctx, f, 0, "hello", 5), 0);
	assert_int_equal(io->sync(io->ctx, f), 0);
	assert_int_equal(io->sync_dir(io->ctx), 0);
	assert_int_equal(io->write(io->ctx, f, 5, " world", 6), 0);
	assert_int_equal(cl_io_crash_unsynced(c), 6);
	plan.tear = 3; /* keep " wo" */
	assert_int_equal(cl_io_crash_crash(c, 1, &plan), 0);
	assert_int_equal(io->write(io->ctx, f, 0, "x", 1), EIO); /* dead file */
	io->close(io->ctx, f);
	assert_int_equal(cl_io_mem_view(mem, "a", &d, &len), 0);
	assert_int_equal(len, 8);
	assert_memory_equal(d, "hello wo", 8);
	/* a rename not synced is undone; an unlink not synced too */
	assert_int_equal(io->rename(io->ctx, "a", "b"), 0);
	plan.dir_ops = 0;
	assert_int_equal(cl_io_crash_crash(c, 1, &plan), 0);
	assert_int_equal(cl_io_mem_view(mem, "a", &d, &len), 0);
	assert_int_equal(cl_io_mem_view(mem, "b", &d, &len), ENOENT);
	assert_int_equal(io->unlink(io->ctx, "a"), 0);
	assert_int_equal(cl_io_crash_crash(c, 1, &plan), 0);
	assert_int_equal(cl_io_mem_view(mem, "a", &d, &len), 0);
	/* dir_ops=1 keeps the first of (rename a->b, unlink b) */
	assert_int_equal(io->rename(io->ctx, "a", "b"), 0);
	assert_int_equal(io->unlink(io->ctx, "b"), 0);
	plan.dir_ops = 1;
	assert_int_equal(cl_io_crash_crash(c, 1, &plan), 0);
	assert_int_equal(cl_io_mem_view(mem, "a", &d, &len), ENOENT);
	assert_int_equal(cl_io_mem_view(mem, "b", &d, &len), 0);
	assert_memory_equal(d, "hello wo", 8);
	/* PREFIX mode keeps a prefix of the unsynced writes, in order */
	assert_int_equal(io->sync_dir(io->ctx), 0);
	assert_int_equal(io->open(io->ctx, "b", 0, &f), 0);
	assert_int_equal(io->write(io->ctx, f, 8, "1", 1), 0);
	assert_int_equal(io->write(io->ctx, f, 9, "2", 1), 0);
	assert_int_equal(io->write(io->ctx, f, 10, "3", 1), 0);
	io->close(io->ctx, f);
	plan.mode = CL_CRASH_PREFIX;
	plan.tear = -1;
	for (uint64_t seed = 0; seed < 20; seed++) {
		size_t i;

		assert_int_equal(cl_io_crash_crash(c, seed, &plan), 0); /* idempotent */
		assert_int_equal(cl_io_mem_view(mem, "b", &d, &len), 0);
		assert_true(len >= 8 && len <= 11);
		for (i = 8; i < len; i++)
			assert_true(d[i] == 0 || d[i] == "123"[i - 8]);
	}
	cl_io_crash_destroy(&c);
	cl_io_mem_destroy(&mem);
}

static void test_fault_backend(void **state)
{
	struct cl_io_mem *mem = cl_io_mem_new();
	struct cl_io_fault *fb = cl_io_fault_new(cl_io_mem_io(mem));
	struct cl_io *io = cl_io_fault_io(fb);
	struct cl_file *f;

	(void)state;
	assert_int_equal(io->open(io->ctx, "a", CL_IO_CREATE, &f), 0);
	cl_io_fault_arm(fb, CL_FAULT_WRITE, 2, ENOSPC, 0);
	assert_int_equal(io->write(io->ctx, f, 0, "a", 1), 0);
	assert_int_equal(io->write(io->ctx, f, 1, "b", 1), ENOSPC);
	assert_int_equal(io->write(io->ctx, f, 1, "c", 1), 0);
	assert_int_equal(io->sync(io->ctx, f), 0);
	cl_io_fault_arm(fb, CL_FAULT_SYNC | CL_FAULT_WRITE, 1, EIO, 1);
	assert_int_equal(io->sync(io->ctx, f), EIO);
	assert_int_equal(io->write(io->ctx, f, 0, "x", 1), EIO);
	assert_int_equal(io->sync(io->ctx, f), EIO);
	assert_int_equal(cl_io_fault_injected(fb), 4);
	assert_int_equal(cl_io_fault_calls(fb, CL_FAULT_WRITE), 4);
	cl_io_fault_disarm(fb);
	assert_int_equal(io->sync(io->ctx, f), 0);
	io->close(io->ctx, f);
	{
		uint8_t *d;
		size_t len;

		assert_int_equal(cl_io_mem_view(mem, "a", &d, &len), 0);
		assert_int_equal(len, 2);
		assert_memory_equal(d, "ac", 2); /* failed writes did nothing */
	}
	cl_io_fault_destroy(&fb);
	cl_io_mem_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_vectors),
		cmocka_unit_test(test_crc32c_paths_agree),
		cmocka_unit_test(test_roundtrip_mem),
		cmocka_unit_test(test_roundtrip_format),
		cmocka_unit_test(test_roundtrip_posix),
		cmocka_unit_test(test_append_errors),
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_crash_at_every_boundary),
		cmocka_unit_test(test_tear_every_byte_prealloc),
		cmocka_unit_test(test_tear_every_byte_no_prealloc),
		cmocka_unit_test(test_recovered_records_made_durable),
		cmocka_unit_test(test_crash_while_open),
		cmocka_unit_test(test_torn_tail_reported_then_append),
		cmocka_unit_test(test_torn_header_no_prealloc),
		cmocka_unit_test(test_midlog_corruption_last_segment),
		cmocka_unit_test(test_damage_in_last_batch),
		cmocka_unit_test(test_reordered_pages_are_a_torn_tail),
		cmocka_unit_test(test_reordered_pages_every_seed),
		cmocka_unit_test(test_write_then_sync),
		cmocka_unit_test(test_version1_segment),
		cmocka_unit_test(test_midlog_corruption_earlier_segment),
		cmocka_unit_test(test_bad_headers_and_gaps),
		cmocka_unit_test(test_preallocated_zeros_are_the_end),
		cmocka_unit_test(test_fault_write_enospc),
		cmocka_unit_test(test_fault_write_eio),
		cmocka_unit_test(test_fault_sync_enospc),
		cmocka_unit_test(test_fault_sync_eio),
		cmocka_unit_test(test_fault_rollover_enospc),
		cmocka_unit_test(test_fault_every_call),
		cmocka_unit_test(test_snapshot_plus_tail_equals_replay),
		cmocka_unit_test(test_checkpoint_states),
		cmocka_unit_test(test_checkpoint_crash_every_step),
		cmocka_unit_test(test_snapshot_corrupt),
		cmocka_unit_test(test_rollover_many_segments),
		cmocka_unit_test(test_leftover_temp_files_removed),
		cmocka_unit_test(test_replay_callback_stops),
		cmocka_unit_test(test_config_and_names),
		cmocka_unit_test(test_crash_backend_model),
		cmocka_unit_test(test_fault_backend),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
