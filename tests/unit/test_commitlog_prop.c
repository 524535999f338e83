/*
 * test_commitlog_prop.c - property test of the commit log over random
 * schedules of appends, syncs, checkpoints, injected I/O errors, crashes
 * and restarts (deterministic: schedule k uses seed k).
 *
 * The log runs on  fault -> crash -> mem  with small segments, so
 * schedules roll over often.  A model keeps every record appended, what
 * the log reported durable, and the checkpoints attempted and committed.
 * The owner's state is a small key-value map (a record with payload
 * [key, value...] sets key to value), and a checkpoint writes one record
 * per live key, so compaction really replaces records by state.
 *
 * The property checked after every restart (L = the last seq recovered,
 * D = the durable seq the log last reported, A = the last seq appended,
 * S = the recovered snapshot's seq):
 *
 *   1. D <= L <= A: nothing reported durable is lost, nothing that was
 *      never appended appears;
 *   2. the log records replayed are exactly seqs S+1..L, each identical
 *      (type, length, bytes) to the record appended with that seq: in
 *      order, unchanged, no gap, no duplicate;
 *   3. S is 0 or the seq of a checkpoint that was attempted, and at least
 *      the seq of the last checkpoint that reported success; the snapshot's
 *      records rebuild exactly the model's state at S;
 *   4. so snapshot + tail rebuilds exactly the state at L.
 *
 * Records after D (appended, written or not, never reported durable) may
 * survive, but only as a prefix of what was appended, whole and unchanged:
 * a crash may persist part of the unsynced writes (the crash backend drops
 * all but the last, which it may tear; or keeps an in-order prefix; or
 * keeps, loses or tears each page on its own, so that a later page may
 * persist while an earlier one does not), records are written without a
 * sync (cl_log_write), and a failed sync may have written its data.  In
 * the schedules that crash with "drop every unsynced write, tear nothing",
 * the check is exact: L == D.
 *
 * After a restart the model forgets the records after L (their seqs will be
 * reused by new appends) and counts L as durable, as the log does.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_io.h"
#include "cl_io_crash.h"
#include "cl_io_fault.h"
#include "cl_log.h"

/* Schedules to run; CL_PROP_SCHEDULES in the environment overrides it. */
#define SCHEDULES 5000
#define KEYS 8
#define VAL_MAX 700
#define MAX_RECS 4096

struct mrec {
	uint8_t type;
	uint32_t len;
	uint8_t *data;
};

struct kv {
	uint8_t set[KEYS];
	uint8_t type[KEYS];
	uint32_t len[KEYS];
	uint8_t val[KEYS][VAL_MAX];
};

struct model {
	struct mrec rec[MAX_RECS + 1]; /* rec[seq], 1..last */
	uint64_t last, durable;
	uint64_t ck_ok;              /* last checkpoint that reported success */
	uint64_t ck_tried[256];      /* every checkpoint attempted since then */
	size_t ntried;
};

struct stats {
	unsigned long schedules, ops, restarts, crashes, exact, extra, dropped, faults,
		checkpoints, failed_opens, rollovers_seen;
};

/* What one recovery replayed. */
struct replay {
	struct kv snap;          /* state rebuilt from the snapshot */
	uint64_t first, next;    /* first log seq replayed; next one expected */
	const struct model *m;
	int bad;                 /* a log record differed from the model */
	char why[160];
};

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n)
{
	return rnd(s) % n;
}

static void kv_apply(struct kv *s, uint8_t type, const uint8_t *p, uint32_t len)
{
	unsigned k;

	if (len == 0)
		return; /* an empty record changes nothing */
	k = p[0] % KEYS;
	assert_true(len - 1 <= VAL_MAX);
	s->set[k] = 1;
	s->type[k] = type;
	s->len[k] = len - 1;
	memset(s->val[k], 0, VAL_MAX);
	memcpy(s->val[k], p + 1, len - 1);
}

static void model_state(const struct model *m, uint64_t upto, struct kv *out)
{
	memset(out, 0, sizeof(*out));
	for (uint64_t s = 1; s <= upto; s++)
		kv_apply(out, m->rec[s].type, m->rec[s].data, m->rec[s].len);
}

static void model_truncate(struct model *m, uint64_t last)
{
	for (uint64_t s = last + 1; s <= m->last; s++) {
		free(m->rec[s].data);
		m->rec[s].data = NULL;
	}
	m->last = last;
}

static int replay_fn(void *ctx, const struct cl_record *r)
{
	struct replay *rp = ctx;
	const struct mrec *x;

	if (r->snapshot) {
		kv_apply(&rp->snap, r->type, r->data, r->len);
		return 0;
	}
	if (rp->bad)
		return 0;
	if (rp->next == 0)
		rp->first = rp->next = r->seq; /* checked against the snapshot's seq later */
	if (r->seq != rp->next || r->seq > rp->m->last) {
		rp->bad = 1;
		snprintf(rp->why, sizeof(rp->why), "seq %llu replayed, expected %llu (appended %llu)",
			 (unsigned long long)r->seq, (unsigned long long)rp->next,
			 (unsigned long long)rp->m->last);
		return 0;
	}
	x = &rp->m->rec[r->seq];
	if (x->type != r->type || x->len != r->len || (r->len && memcmp(x->data, r->data, r->len))) {
		rp->bad = 1;
		snprintf(rp->why, sizeof(rp->why), "seq %llu differs from what was appended",
			 (unsigned long long)r->seq);
		return 0;
	}
	rp->next++;
	return 0;
}

struct sched {
	uint64_t rng;
	struct cl_io_mem *mem;
	struct cl_io_crash *crash;
	struct cl_io_fault *fault;
	struct cl_config cfg;
	struct cl_log *log;
	struct model *m;
	struct stats *st;
	int exact;  /* every crash of this schedule drops all unsynced writes */
	int crashed; /* the restart under way follows power loss */
	int failed; /* the log reported an I/O error: restart before going on */
	unsigned long seed;
};

#define CHECK(s, cond, ...)                                                            \
	do {                                                                           \
		if (!(cond)) {                                                         \
			char msg_[256];                                                \
			snprintf(msg_, sizeof(msg_), __VA_ARGS__);                     \
			fail_msg("schedule %lu: %s (%s)", (s)->seed, msg_, #cond);      \
		}                                                                      \
	} while (0)

/* Power loss, as the schedule's kind says. */
static void crash_disk(struct sched *s)
{
	struct cl_crash_plan plan;

	plan.mode = s->exact ? CL_CRASH_DROP : (int)below(&s->rng, 3);
	plan.tear = s->exact ? 0 : -1;
	plan.garbage = -1;
	plan.dir_ops = -1;
	plan.page = below(&s->rng, 2) ? 512 : 64;
	assert_int_equal(cl_io_crash_crash(s->crash, rnd(&s->rng), &plan), 0);
}

/* Open the log, check the property, and update the model. */
static void restart(struct sched *s)
{
	struct model *m = s->m;
	struct replay *rp = calloc(1, sizeof(*rp));
	struct kv *want = malloc(sizeof(*want));
	uint64_t L, S;
	int rc, tries = 0;

	assert_non_null(rp);
	assert_non_null(want);
	s->st->restarts++;
	for (;;) {
		memset(rp, 0, sizeof(*rp));
		rp->m = m;
		cl_log_close(&s->log);
		rc = cl_log_open(&s->cfg, replay_fn, rp, &s->log);
		if (rc == 0)
			break;
		/* a fault still armed hit the recovery itself: it must say so
		 * with an I/O error, and a later restart must work */
		CHECK(s, rc == CL_EIO || rc == CL_ENOSPC, "open: %s: %s", cl_strerror(rc),
		      cl_log_errmsg(s->log));
		CHECK(s, ++tries < 3, "open keeps failing");
		s->st->failed_opens++;
		cl_io_fault_disarm(s->fault);
		crash_disk(s);
	}
	cl_io_fault_disarm(s->fault);
	L = cl_log_last_seq(s->log);
	S = cl_log_snapshot_seq(s->log);
	CHECK(s, !rp->bad, "%s", rp->why);
	/* 1 */
	CHECK(s, m->durable <= L && L <= m->last, "durable %llu, recovered %llu, appended %llu",
	      (unsigned long long)m->durable, (unsigned long long)L, (unsigned long long)m->last);
	if (s->exact && s->crashed) /* a clean restart finds what was written, too */
		CHECK(s, L == m->durable, "exact crash: recovered %llu, durable %llu",
		      (unsigned long long)L, (unsigned long long)m->durable);
	/* 2: the tail is S+1..L */
	CHECK(s, rp->next == 0 ? L == S : rp->next == L + 1,
	      "tail replay ended at %llu, last %llu", (unsigned long long)rp->next,
	      (unsigned long long)L);
	CHECK(s, rp->next == 0 || rp->first == S + 1, "tail starts at %llu, snapshot %llu",
	      (unsigned long long)rp->first, (unsigned long long)S);
	CHECK(s, S <= L, "snapshot %llu after the log's end %llu", (unsigned long long)S,
	      (unsigned long long)L);
	/* 3 */
	if (S != m->ck_ok) {
		int found = 0;

		for (size_t i = 0; i < m->ntried; i++)
			found |= m->ck_tried[i] == S;
		CHECK(s, found && S >= m->ck_ok, "snapshot seq %llu: committed %llu",
		      (unsigned long long)S, (unsigned long long)m->ck_ok);
	}
	model_state(m, S, want);
	CHECK(s, memcmp(want, &rp->snap, sizeof(*want)) == 0, "snapshot state differs at %llu",
	      (unsigned long long)S);
	if (L > m->durable)
		s->st->extra++;
	if (cl_log_recovery(s->log)->dropped_bytes)
		s->st->dropped++;
	if (cl_log_segment_count(s->log) > 1)
		s->st->rollovers_seen++;
	/* the model follows the disk */
	model_truncate(m, L);
	m->durable = L;
	m->ck_ok = S;
	m->ntried = 0;
	s->failed = 0;
	s->crashed = 0;
	free(rp);
	free(want);
}

static void crash(struct sched *s)
{
	s->st->crashes++;
	if (below(&s->rng, 4) != 0) /* else the fault stays armed for the recovery */
		cl_io_fault_disarm(s->fault);
	crash_disk(s);
	s->crashed = 1;
	restart(s);
}

/* An I/O error from the log: it must be named, and the log FAILED. */
static void io_error(struct sched *s, int rc, const char *op)
{
	CHECK(s, rc == CL_EIO || rc == CL_ENOSPC, "%s: %s: %s", op, cl_strerror(rc),
	      cl_log_errmsg(s->log));
	CHECK(s, cl_log_error(s->log) == rc, "%s: error %d, log says %d", op, rc,
	      cl_log_error(s->log));
	CHECK(s, cl_log_append(s->log, 1, "x", 1, NULL) == CL_EFAILED, "append after failure");
	CHECK(s, cl_log_sync(s->log, NULL) == CL_EFAILED, "sync after failure");
	s->failed = 1;
	s->st->faults++;
}

static void op_append(struct sched *s)
{
	struct model *m = s->m;
	unsigned n = 1 + (unsigned)below(&s->rng, 12);
	struct cl_iov v[12];
	uint64_t last = 0;
	int rc;

	if (m->last + n > MAX_RECS)
		return;
	for (unsigned i = 0; i < n; i++) {
		struct mrec *x = &m->rec[m->last + 1 + i];
		uint64_t r = below(&s->rng, 100);

		x->type = (uint8_t)(1 + below(&s->rng, 255));
		x->len = r < 5 ? 0 : r < 8 ? (uint32_t)(300 + below(&s->rng, VAL_MAX - 299))
					     : (uint32_t)(1 + below(&s->rng, 60));
		x->data = malloc(x->len ? x->len : 1);
		assert_non_null(x->data);
		for (uint32_t k = 0; k < x->len; k++)
			x->data[k] = (uint8_t)rnd(&s->rng);
		v[i].type = x->type;
		v[i].data = x->data;
		v[i].len = x->len;
	}
	if (n == 1) {
		rc = cl_log_append(s->log, v[0].type, v[0].data, v[0].len, &last);
	} else {
		rc = cl_log_appendv(s->log, v, n, &last);
	}
	CHECK(s, rc == 0, "append: %s", cl_strerror(rc));
	m->last += n;
	CHECK(s, last == m->last, "append returned seq %llu, want %llu", (unsigned long long)last,
	      (unsigned long long)m->last);
}

static void op_sync(struct sched *s)
{
	uint64_t d = 0;
	int rc = cl_log_sync(s->log, &d);

	if (rc) {
		io_error(s, rc, "sync");
		/* records synced before the failure (an earlier segment) count */
		CHECK(s, cl_log_durable_seq(s->log) >= s->m->durable, "durable went back");
		s->m->durable = cl_log_durable_seq(s->log);
		return;
	}
	CHECK(s, d == s->m->last, "sync: durable %llu, appended %llu", (unsigned long long)d,
	      (unsigned long long)s->m->last);
	s->m->durable = d;
}

/* Append, then write without a sync (cl_log_write): the records reach the
 * file, and a crash may keep any part of them. */
static void op_write(struct sched *s)
{
	int rc;

	op_append(s);
	rc = cl_log_write(s->log);
	if (rc)
		io_error(s, rc, "write");
}

static void op_checkpoint(struct sched *s)
{
	struct model *m = s->m;
	struct kv *st = malloc(sizeof(*st));
	uint8_t *buf = malloc(KEYS * (VAL_MAX + 1));
	uint64_t seq = 0;
	int rc;

	assert_non_null(st);
	assert_non_null(buf);
	model_state(m, m->last, st);
	rc = cl_log_checkpoint_begin(s->log, &seq);
	if (!rc) {
		CHECK(s, seq == m->last, "checkpoint seq %llu, last %llu", (unsigned long long)seq,
		      (unsigned long long)m->last);
		m->durable = seq; /* begin synced */
		if (m->ntried < 256)
			m->ck_tried[m->ntried++] = seq;
	} else {
		/* the sync in begin failed: whatever it made durable counts */
		m->durable = cl_log_durable_seq(s->log);
	}
	for (unsigned k = 0; !rc && k < KEYS; k++) {
		uint8_t *p = buf + k * (VAL_MAX + 1);

		if (!st->set[k])
			continue;
		p[0] = (uint8_t)k;
		memcpy(p + 1, st->val[k], st->len[k]);
		rc = cl_log_checkpoint_add(s->log, st->type[k], p, st->len[k] + 1);
	}
	if (!rc)
		rc = cl_log_checkpoint_commit(s->log);
	if (rc) {
		io_error(s, rc, "checkpoint");
	} else {
		s->st->checkpoints++;
		m->ck_ok = seq;
		m->ntried = 0;
		CHECK(s, cl_log_snapshot_seq(s->log) == seq, "snapshot seq");
	}
	free(st);
	free(buf);
}

/* Power loss in the middle of a sync: its write (or a rollover) happened,
 * then the fdatasync, the directory sync or the preallocation failed. */
static void op_crash_in_sync(struct sched *s)
{
	static const unsigned kinds[] = {CL_FAULT_SYNC, CL_FAULT_SYNC_DIR, CL_FAULT_RESIZE};
	int rc;

	cl_io_fault_arm(s->fault, kinds[below(&s->rng, 3)], 1 + below(&s->rng, 2), EIO, 1);
	op_append(s);
	rc = cl_log_sync(s->log, NULL);
	if (rc) {
		io_error(s, rc, "sync");
		s->m->durable = cl_log_durable_seq(s->log);
	} else {
		s->m->durable = s->m->last;
	}
	crash(s);
}

static void op_arm(struct sched *s)
{
	static const unsigned kinds[] = {CL_FAULT_WRITE, CL_FAULT_SYNC, CL_FAULT_SYNC_DIR,
					 CL_FAULT_RESIZE, CL_FAULT_NAMES, CL_FAULT_MUTATE};

	cl_io_fault_arm(s->fault, kinds[below(&s->rng, 6)], 1 + below(&s->rng, 6),
			below(&s->rng, 2) ? ENOSPC : EIO, (int)below(&s->rng, 2));
}

static void run_schedule(unsigned long seed, struct stats *st, struct model *m)
{
	static const uint64_t sizes[] = {96, 200, 512, 1024, 4096};
	struct sched s;
	unsigned nops;

	memset(&s, 0, sizeof(s));
	memset(m, 0, sizeof(*m));
	s.seed = seed;
	s.rng = seed * 7919 + 1;
	s.m = m;
	s.st = st;
	s.exact = below(&s.rng, 4) == 0;
	s.mem = cl_io_mem_new();
	assert_non_null(s.mem);
	assert_int_equal(cl_io_crash_new(cl_io_mem_io(s.mem), &s.crash), 0);
	s.fault = cl_io_fault_new(cl_io_crash_io(s.crash));
	assert_non_null(s.fault);
	s.cfg.io = cl_io_fault_io(s.fault);
	s.cfg.segment_size = sizes[below(&s.rng, 5)];
	s.cfg.flags = below(&s.rng, 3) == 0 ? CL_NO_PREALLOC : 0;
	restart(&s);

	nops = 20 + (unsigned)below(&s.rng, 60);
	for (unsigned i = 0; i < nops; i++) {
		uint64_t r = below(&s.rng, 100);

		st->ops++;
		if (s.failed && !s.exact && r < 20)
			restart(&s); /* the process restarts; the page cache keeps its data */
		else if (s.failed || r < 8)
			crash(&s);
		else if (r < 50)
			op_append(&s);
		else if (r < 75)
			op_sync(&s);
		else if (r < 81)
			op_checkpoint(&s);
		else if (r < 86)
			op_arm(&s);
		else if (r < 90)
			restart(&s); /* a clean restart: the process stops, the machine does not */
		else if (r < 95)
			op_crash_in_sync(&s);
		else
			op_write(&s);
	}
	crash(&s);

	cl_log_close(&s.log);
	cl_io_fault_destroy(&s.fault);
	cl_io_crash_destroy(&s.crash);
	cl_io_mem_destroy(&s.mem);
	model_truncate(m, 0);
	st->schedules++;
	if (s.exact)
		st->exact++;
}

static void test_random_schedules(void **state)
{
	struct model *m = calloc(1, sizeof(*m));
	const char *env = getenv("CL_PROP_SCHEDULES");
	unsigned long n = env ? strtoul(env, NULL, 10) : SCHEDULES;
	struct stats st;

	(void)state;
	assert_non_null(m);
	memset(&st, 0, sizeof(st));
	for (unsigned long seed = 0; seed < n; seed++)
		run_schedule(seed, &st, m);
	printf("commitlog property: %lu schedules (%lu exact), %lu ops, %lu restarts "
	       "(%lu crashes), %lu I/O errors injected, %lu recoveries failed once, "
	       "%lu checkpoints, %lu restarts with a torn tail cut, %lu with unsynced records "
	       "surviving, %lu with several segments\n",
	       st.schedules, st.exact, st.ops, st.restarts, st.crashes, st.faults, st.failed_opens,
	       st.checkpoints, st.dropped, st.extra, st.rollovers_seen);
	/* the schedules must exercise what they claim to */
	if (n >= 1000) {
		assert_true(st.faults > n / 4);
		assert_true(st.checkpoints > n / 2);
		assert_true(st.dropped > n / 20);
		assert_true(st.extra > n / 20);
		assert_true(st.rollovers_seen > n / 2);
	}
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_schedules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
