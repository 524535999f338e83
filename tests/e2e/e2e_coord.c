/*
 * e2e_coord.c - end-to-end tests of the coordinator replicas: real
 * paxcommit-coordinator processes over ZeroMQ on loopback, real commit logs
 * on disk, scripted test participants (test_agent.c), and the client
 * library.  Processes are killed with SIGKILL by pid.
 *
 * Each transaction runs a scripted statement on each of its participants:
 * "ok", "abort" (PREPARE will fail: vote aborted) or "fail" (SQL error:
 * vote aborted).  The votes alone say what the outcome must be; the tests
 * check the client's answer, every replica's answer and every
 * participant's journal against them.
 *
 * E2E_ONLY=name runs one test (used by the planted-bug check).
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_run.h"

#include <zmq.h>

#include "cluster.h"
#include "paxcommit.h"
#include "px_config.h"
#include "px_keys.h"
#include "px_msg.h"
#include "px_net.h"

#define TIMING "heartbeat_ms = 20\nlease_ms = 200\ntxn_timeout_ms = 1000\nresend_ms = 100\nsync_ms = 1000\n" \
	       "agent_idle_timeout_ms = 20000"
#define TXN_TIMEOUT_MS 10000u

struct tx {
	char gid[PX_GID_MAX + 1];
	uint16_t rms[2];
	int n;
	int want_commit; /* the votes allow commit and the client asked for it */
	int rollback;    /* the client asked to roll back */
	int rc;          /* pc_* return code */
	int outcome;     /* enum pc_outcome */
	uint64_t ms;     /* how long the commit call took */
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* One scripted transaction, start to end. */
static void run_txn(struct pc_conn *pc, struct execer *ex, uint64_t *rng, int npart, struct tx *t,
		    uint32_t timeout_ms)
{
	memset(t, 0, sizeof(*t));
	/* No cmocka asserts here: this runs on stream threads too.  Problems
	 * are recorded in t->rc and checked by the test's thread. */
	if (!pc_new_gid(pc, t->gid, sizeof(t->gid))) {
		t->rc = -100;
		return;
	}
	t->n = npart == 1 ? 1 : 1 + (int)(rng_next(rng) % 2);
	t->rms[0] = (uint16_t)(1 + rng_next(rng) % (uint64_t)npart);
	if (t->n == 2)
		t->rms[1] = (uint16_t)(t->rms[0] % npart + 1);
	t->want_commit = 1;
	for (int k = 0; k < t->n; k++) {
		uint64_t r = rng_next(rng) % 100;
		const char *sql = r < 8 ? "abort" : r < 12 ? "fail" : "ok";
		int st = execer_run(ex, t->gid, t->rms[k], 0, sql, 5000);
		if (st != PX_EXEC_OK && st != PX_EXEC_SQLERR) {
			fprintf(stderr, "  %s: exec on p%u: no result (%d)\n", t->gid, t->rms[k], st);
			t->rc = -101;
			return;
		}
		if (strcmp(sql, "ok"))
			t->want_commit = 0;
	}
	t->rollback = rng_next(rng) % 100 < 5;
	if (t->rollback)
		t->want_commit = 0;
	struct pc_result res;
	uint64_t t0 = cl_now_ms();
	int wait = rng_next(rng) % 4 ? PC_WAIT_APPLIED : PC_WAIT_DECIDED;
	t->rc = t->rollback ? pc_rollback_gid(pc, t->gid, t->rms, (size_t)t->n, timeout_ms, &res)
			    : pc_commit_gid(pc, t->gid, t->rms, (size_t)t->n, wait, timeout_ms, &res);
	t->ms = cl_now_ms() - t0;
	t->outcome = t->rc == 0 ? res.outcome : 0;
	if (t->rc)
		fprintf(stderr, "  %s: error %d: %s\n", t->gid, t->rc, pc_conn_errmsg(pc));
}

/* Ask every live replica about t: each that states an outcome must state
 * the same one, and the client's.  Returns how many state one (in *said). */
static int replicas_say(struct cluster *c, struct pc_conn *pc, const struct tx *t, int *said)
{
	int knows = 0;
	for (int i = 0; i < c->ncoord; i++) {
		if (c->coord[i] <= 0)
			continue;
		struct pc_result r;
		assert_int_equal(pc_status_at(pc, i, t->gid, 2000, &r), 0);
		if (r.outcome != PC_ST_COMMITTED && r.outcome != PC_ST_ABORTED)
			continue;
		int oc = r.outcome == PC_ST_COMMITTED ? PC_COMMITTED : PC_ABORTED;
		if (*said && *said != oc)
			fail_msg("%s: coordinator.%d says %d, another said %d", t->gid, i, oc, *said);
		if (t->outcome == PC_COMMITTED || t->outcome == PC_ABORTED)
			if (oc != t->outcome)
				fail_msg("%s: coordinator.%d says %d, the client got %d", t->gid, i, oc, t->outcome);
		*said = oc;
		knows++;
	}
	return knows;
}

/* Every live replica that states an outcome states the same one, and it is
 * the client's; at least `need` replicas know it.  Followers learn an
 * outcome with the leader's FORGET, which leaves once every participant
 * acknowledged: poll for it, up to 5 s.  Returns what they say. */
static int replicas_agree(struct cluster *c, struct pc_conn *pc, const struct tx *t, int need)
{
	uint64_t until = cl_now_ms() + 5000;
	int said = 0, knows;
	while ((knows = replicas_say(c, pc, t, &said)) < need && cl_now_ms() < until)
		cl_pause_ms(20);
	if (knows < need)
		fail_msg("%s: only %d replicas know the outcome, want %d", t->gid, knows, need);
	return said;
}

/* Participants applied what was decided: every participant of a committed
 * gid committed it (waiting up to the deadline for wait=decided ones), and
 * nobody committed an aborted one. */
static void journals_agree(struct cluster *c, const struct tx *t, int outcome)
{
	for (int k = 0; k < t->n; k++) {
		int a = cluster_applied(c, t->rms[k], t->gid);
		uint64_t end = cl_now_ms() + 5000;
		while (outcome == PC_COMMITTED && a != 'c' && cl_now_ms() < end)
			a = cluster_applied(c, t->rms[k], t->gid);
		if (outcome == PC_COMMITTED && a != 'c')
			fail_msg("%s committed, participant p%u applied '%c'", t->gid, t->rms[k], a ? a : '-');
		if (outcome == PC_ABORTED && a == 'c')
			fail_msg("%s aborted, participant p%u committed it", t->gid, t->rms[k]);
	}
}

static struct pc_conn *connect_to(struct cluster *c)
{
	return e2e_connect(c->conf);
}

/* A participant refuses gids born before it started (plus its clock-skew
 * allowance: it cannot tell whether an earlier incarnation voted on them).
 * Wait until each one takes a fresh gid, then roll that probe back. */
static void wait_agents(struct cluster *c)
{
	struct pc_conn *pc = connect_to(c);
	struct execer *ex = execer_new(c);
	for (uint16_t rm = 1; rm <= (uint16_t)c->npart; rm++) {
		uint64_t end = cl_now_ms() + 10000;
		for (;;) {
			char gid[PX_GID_MAX + 1];
			assert_true(pc_new_gid(pc, gid, sizeof(gid)) > 0);
			if (execer_run(ex, gid, rm, 0, "ok", 2000) == PX_EXEC_OK) {
				struct pc_result r;
				assert_int_equal(pc_rollback_gid(pc, gid, &rm, 1, 10000, &r), 0);
				assert_int_equal(r.outcome, PC_ABORTED);
				break;
			}
			if (cl_now_ms() > end)
				fail_msg("participant p%u does not take transactions", rm);
			cl_pause_ms(20);
		}
	}
	execer_free(&ex);
	pc_conn_close(&pc);
}

static void start_all(struct cluster *c, int ncoord_started)
{
	for (int i = 1; i <= c->npart; i++)
		assert_int_equal(cluster_start_part(c, i), 0);
	for (int i = 0; i < ncoord_started; i++)
		assert_int_equal(cluster_start_coord(c, i), 0);
	wait_agents(c);
}

/* ------------------------------------------------------------------ */

/* Every test's cluster lives in the fixture, so that teardown stops its
 * processes and removes its directory even when the test fails. */
static int setup(void **state)
{
	struct cluster *c = calloc(1, sizeof(*c));
	*state = c;
	return c ? 0 : -1;
}

static int teardown(void **state)
{
	struct cluster *c = *state;
	cluster_destroy(c);
	free(c);
	return 0;
}

static long stat_in_log(struct cluster *c, int coord, const char *key)
{
	char path[400], name[32];
	snprintf(name, sizeof(name), "coordinator.%d", coord);
	cluster_log_path(c, name, path, sizeof(path));
	return cluster_log_stat(path, key);
}

static int file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[2048];
	int found = 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static int log_has(struct cluster *c, int coord, const char *needle)
{
	char path[400], name[32];
	snprintf(name, sizeof(name), "coordinator.%d", coord);
	cluster_log_path(c, name, path, sizeof(path));
	return file_has(path, needle);
}

static void test_1000_mixed_votes(void **state)
{
	struct cluster *c = *state;
	/* Frequent checkpoints, so that they run (and restarts read them). */
	assert_int_equal(cluster_init(c, 3, 2, TIMING), 0);
	c->coord_arg[0] = "--checkpoint-records";
	c->coord_arg[1] = "500";
	start_all(c, 3);
	struct pc_conn *pc = connect_to(c);
	struct execer *ex = execer_new(c);
	assert_true(cluster_wait_leader(c, pc, 10000) >= 0);
	static struct tx t[1000];
	uint64_t rng = 42, t0 = cl_now_ms();
	int commits = 0, aborts = 0;
	for (int i = 0; i < 1000; i++) {
		run_txn(pc, ex, &rng, 2, &t[i], TXN_TIMEOUT_MS);
		assert_int_equal(t[i].rc, 0);
		if (t[i].outcome != (t[i].want_commit ? PC_COMMITTED : PC_ABORTED))
			fail_msg("%s: outcome %d, the votes require %s", t[i].gid, t[i].outcome,
				 t[i].want_commit ? "commit" : "abort");
		t[i].want_commit ? commits++ : aborts++;
	}
	uint64_t ms = cl_now_ms() - t0;
	for (int i = 0; i < 1000; i++) {
		replicas_agree(c, pc, &t[i], 2);
		journals_agree(c, &t[i], t[i].outcome);
	}
	printf("  1000 transactions (%d committed, %d aborted) in %llu ms\n", commits, aborts,
	       (unsigned long long)ms);
	assert_true(commits > 500 && aborts > 50);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cluster_stop_coord(c, i), 0);
		long live = stat_in_log(c, i, "live"), tombs = stat_in_log(c, i, "tombstones");
		long ckpts = stat_in_log(c, i, "checkpoints"), segs = stat_in_log(c, i, "log_segments");
		long forgotten = stat_in_log(c, i, "forgotten");
		printf("  coordinator.%d at shutdown: live=%ld tombstones=%ld forgotten=%ld checkpoints=%ld "
		       "log_segments=%ld\n", i, live, tombs, forgotten, ckpts, segs);
		/* Garbage collection and checkpoints keep state bounded: nearly
		 * everything was forgotten, and the log was compacted. */
		assert_true(live >= 0 && live <= 10);
		assert_true(forgotten >= 990 && tombs <= forgotten);
		assert_true(ckpts >= 1 && segs >= 1 && segs <= 2);
	}
	execer_free(&ex);
	pc_conn_close(&pc);
}

/* Garbage collection: forgotten gids leave tombstones, and once the GC
 * horizon passes their birth the tombstones go too; the replicas then call
 * such a gid unknown. */
static void test_gc_horizon(void **state)
{
	struct cluster *c = *state;
	assert_int_equal(cluster_init(c, 3, 2, TIMING "\nhorizon_ms = 1500"), 0);
	start_all(c, 3);
	struct pc_conn *pc = connect_to(c);
	struct execer *ex = execer_new(c);
	assert_true(cluster_wait_leader(c, pc, 10000) >= 0);
	static struct tx t[50];
	uint64_t rng = 31;
	for (int i = 0; i < 50; i++) {
		run_txn(pc, ex, &rng, 2, &t[i], TXN_TIMEOUT_MS);
		assert_int_equal(t[i].outcome, t[i].want_commit ? PC_COMMITTED : PC_ABORTED);
	}
	for (int i = 0; i < 3; i++) {
		struct pc_result r;
		uint64_t end = cl_now_ms() + 15000;
		do
			assert_int_equal(pc_status_at(pc, i, t[0].gid, 2000, &r), 0);
		while (r.outcome != PC_ST_UNKNOWN_GID && cl_now_ms() < end);
		assert_int_equal(r.outcome, PC_ST_UNKNOWN_GID);
		assert_non_null(strstr(r.reason, "horizon"));
	}
	for (int i = 0; i < 3; i++) {
		assert_int_equal(cluster_stop_coord(c, i), 0);
		long tombs = stat_in_log(c, i, "tombstones"), forgotten = stat_in_log(c, i, "forgotten");
		printf("  coordinator.%d: forgotten=%ld tombstones left=%ld\n", i, forgotten, tombs);
		assert_true(forgotten >= 50 && tombs < forgotten);
	}
	execer_free(&ex);
	pc_conn_close(&pc);
}

/* A stream of transactions on its own thread and connection. */
struct stream {
	struct cluster *c;
	struct tx *t;
	int cap;
	volatile int done; /* transactions finished */
	volatile int stop;
	uint64_t seed;
};

static void *stream_main(void *arg)
{
	struct stream *s = arg;
	struct pc_conn *pc = connect_to(s->c);
	struct execer *ex = execer_new(s->c);
	uint64_t rng = s->seed;
	for (int i = 0; i < s->cap && !s->stop; i++) {
		run_txn(pc, ex, &rng, s->c->npart, &s->t[i], TXN_TIMEOUT_MS);
		__atomic_store_n(&s->done, i + 1, __ATOMIC_RELEASE);
	}
	execer_free(&ex);
	pc_conn_close(&pc);
	return NULL;
}

/* Start a cluster of n replicas and 2 participants, wait for its leader
 * (returned), and start a background stream of up to 5000 transactions. */
static int stream_begin(struct cluster *c, int n, uint64_t seed, struct stream *s, pthread_t *th,
			struct pc_conn **pc)
{
	static struct tx t[5000]; /* one test runs at a time */
	memset(t, 0, sizeof(t));
	assert_int_equal(cluster_init(c, n, 2, TIMING), 0);
	start_all(c, n);
	*pc = connect_to(c);
	int leader = cluster_wait_leader(c, *pc, 10000);
	assert_true(leader >= 0);
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->t = t;
	s->cap = 5000;
	s->seed = seed;
	assert_int_equal(pthread_create(th, NULL, stream_main, s), 0);
	return leader;
}

static void stream_end(struct stream *s, pthread_t th)
{
	s->stop = 1;
	pthread_join(th, NULL);
}

/* Wait (deadline) until the stream has finished `n` transactions. */
static void wait_done(struct stream *s, int n, uint32_t timeout_ms)
{
	uint64_t end = cl_now_ms() + timeout_ms;
	while (__atomic_load_n(&s->done, __ATOMIC_ACQUIRE) < n) {
		if (cl_now_ms() > end)
			fail_msg("the stream stalled at %d transactions (wanted %d)", s->done, n);
		cl_pause_ms(2);
	}
}

/* Check every finished transaction of a stream; `inflight_ok` lists the
 * ones that may have been aborted by recovery although their votes allowed
 * commit (a leader died while they were in flight). */
static void check_stream(struct cluster *c, struct stream *s, int need, int max_recovered_aborts)
{
	struct pc_conn *pc = connect_to(c);
	int recovered = 0;
	uint64_t worst = 0;
	for (int i = 0; i < s->done; i++) {
		struct tx *t = &s->t[i];
		assert_int_equal(t->rc, 0);
		if (t->outcome != PC_COMMITTED && t->outcome != PC_ABORTED)
			fail_msg("%s: no outcome (%d) within %u ms", t->gid, t->outcome, TXN_TIMEOUT_MS);
		if (t->outcome == PC_COMMITTED && !t->want_commit)
			fail_msg("%s committed against an aborted vote", t->gid);
		if (t->outcome == PC_ABORTED && t->want_commit)
			recovered++;
		if (t->ms > worst)
			worst = t->ms;
		replicas_agree(c, pc, t, need);
		journals_agree(c, t, t->outcome);
	}
	printf("  %d transactions checked; slowest commit %llu ms; %d aborted by recovery\n", s->done,
	       (unsigned long long)worst, recovered);
	if (recovered > max_recovered_aborts)
		fail_msg("%d commit-eligible transactions aborted (at most %d were in flight)", recovered,
			 max_recovered_aborts);
	pc_conn_close(&pc);
}

static void test_leader_kill9_mid_stream(void **state)
{
	struct cluster *c = *state;
	struct stream s;
	pthread_t th;
	struct pc_conn *pc;
	int leader = stream_begin(c, 3, 7, &s, &th, &pc);
	wait_done(&s, 100, 30000);
	uint64_t killed_at = cl_now_ms();
	int at = s.done;
	cluster_kill_coord(c, leader);
	wait_done(&s, at + 1, 15000);
	uint64_t gap = cl_now_ms() - killed_at;
	wait_done(&s, 300, 60000);
	/* The old leader comes back (lowest id: it leads again); the stream
	 * must not stall for long. */
	assert_int_equal(cluster_start_coord(c, leader), 0);
	uint64_t back_at = cl_now_ms();
	int before_back = s.done;
	wait_done(&s, before_back + 200, 60000);
	printf("  old leader restarted: 200 more transactions in %llu ms\n",
	       (unsigned long long)(cl_now_ms() - back_at));
	stream_end(&s, th);
	int nl = cluster_wait_leader(c, pc, 5000);
	printf("  killed leader coordinator.%d after %d transactions; next one finished %llu ms later; "
	       "new leader coordinator.%d\n",
	       leader, at, (unsigned long long)gap, nl);
	assert_true(nl >= 0);
	check_stream(c, &s, 2, 2);
	pc_conn_close(&pc);
}

static void test_follower_kill9_restart(void **state)
{
	struct cluster *c = *state;
	struct stream s;
	pthread_t th;
	struct pc_conn *pc;
	int leader = stream_begin(c, 3, 11, &s, &th, &pc);
	int f1 = (leader + 1) % 3, f2 = (leader + 2) % 3;
	wait_done(&s, 60, 30000);
	cluster_kill_coord(c, f1);
	wait_done(&s, 150, 30000);
	assert_int_equal(cluster_start_coord(c, f1), 0);
	/* the restarted follower is back once it trusts the leader again */
	uint64_t end = cl_now_ms() + 10000;
	while (pc_leader_seen_by(pc, f1, 200) != leader && cl_now_ms() < end)
		;
	assert_int_equal(pc_leader_seen_by(pc, f1, 500), leader);
	wait_done(&s, 200, 30000);
	/* Now the other follower dies: the restarted one is needed for a
	 * majority, so the stream goes on only if it rejoined. */
	cluster_kill_coord(c, f2);
	int at = s.done;
	wait_done(&s, at + 80, 30000);
	stream_end(&s, th);
	printf("  follower coordinator.%d killed and restarted; then coordinator.%d killed; stream went on\n", f1, f2);
	check_stream(c, &s, 1, 0);
	pc_conn_close(&pc);
}

/* Five replicas survive two deaths, the leader's among them. */
static void test_five_replicas_two_killed(void **state)
{
	struct cluster *c = *state;
	struct stream s;
	pthread_t th;
	struct pc_conn *pc;
	int leader = stream_begin(c, 5, 23, &s, &th, &pc);
	wait_done(&s, 80, 30000);
	cluster_kill_coord(c, (leader + 2) % 5);
	cluster_kill_coord(c, leader);
	int at = s.done;
	wait_done(&s, at + 150, 60000);
	stream_end(&s, th);
	int nl = cluster_wait_leader(c, pc, 5000);
	printf("  5 replicas: killed coordinator.%d (leader) and coordinator.%d; new leader coordinator.%d\n", leader,
	       (leader + 2) % 5, nl);
	assert_true(nl >= 0 && nl != leader);
	/* Each outcome is known by a majority of the five, but the two dead
	 * may be part of it: a gid whose votes went (thrifty) to the leader,
	 * the other killed replica and one more, finished by the old leader
	 * whose FORGET fan-out the SIGKILL cut after that one, is known by a
	 * single live replica; the other two never heard of it.  So: one live
	 * replica at least, and after both come back, three. */
	check_stream(c, &s, 1, 2);
	assert_int_equal(cluster_start_coord(c, leader), 0);
	assert_int_equal(cluster_start_coord(c, (leader + 2) % 5), 0);
	assert_true(cluster_wait_leader(c, pc, 10000) >= 0);
	check_stream(c, &s, 3, 2);
	pc_conn_close(&pc);
}

/* paxcommit-coordinator --dump-decisions DIR into out (cap bytes, NUL
 * terminated); returns its exit code. */
static int dump_decisions(struct cluster *c, const char *dir, char *out, size_t cap)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s/paxcommit-coordinator --dump-decisions '%s' 2>&1", c->bin, dir);
	FILE *f = popen(cmd, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, cap - 1, f);
	out[n] = 0;
	assert_true(n < cap - 1); /* all of it */
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The logs of stopped replicas, read with --dump-decisions, contradict no
 * outcome a client heard, and hold the outcomes of most of them. */
static void logs_agree(struct cluster *c, const struct stream *s)
{
	static char dump[CL_MAX_COORD][1 << 20];
	for (int i = 0; i < c->ncoord; i++) {
		char dir[300];
		snprintf(dir, sizeof(dir), "%s/c%d", c->dir, i);
		int rc = dump_decisions(c, dir, dump[i], sizeof(dump[i]));
		if (rc != 0)
			fail_msg("--dump-decisions %s: exit %d: %.300s", dir, rc, dump[i]);
	}
	size_t known = 0, decided = 0;
	for (int k = 0; k < s->done; k++) {
		const struct tx *t = &s->t[k];
		if (t->outcome != PC_COMMITTED && t->outcome != PC_ABORTED)
			continue;
		decided++;
		char yes[PX_GID_MAX + 16], no[PX_GID_MAX + 16];
		snprintf(yes, sizeof(yes), " %s %s\n", t->gid, t->outcome == PC_COMMITTED ? "commit" : "abort");
		snprintf(no, sizeof(no), " %s %s\n", t->gid, t->outcome == PC_COMMITTED ? "abort" : "commit");
		int has = 0;
		for (int i = 0; i < c->ncoord; i++) {
			if (strstr(dump[i], no))
				fail_msg("%s: the client heard %s, coordinator.%d's log says%s", t->gid,
					 t->outcome == PC_COMMITTED ? "commit" : "abort", i, no);
			has |= strstr(dump[i], yes) != NULL;
		}
		known += has;
	}
	print_message("  --dump-decisions: %zu of %zu outcomes the clients heard are in the logs\n", known, decided);
	assert_true(decided > 0);
	assert_true(known * 2 > decided);
}

/* SIGKILL of every replica at once loses nothing acknowledged: after a
 * restart every replica still states each outcome its clients heard. */
static void test_kill_all_restart(void **state)
{
	struct cluster *c = *state;
	assert_int_equal(cluster_init(c, 3, 2, TIMING), 0);
	start_all(c, 3);
	struct pc_conn *pc = connect_to(c);
	assert_true(cluster_wait_leader(c, pc, 10000) >= 0);
	static struct tx t[300];
	struct stream s = {.c = c, .t = t, .cap = 300, .seed = 29};
	stream_main(&s);
	/* A running replica's log is not read; nor is a missing directory. */
	char out[1024], dir[300];
	snprintf(dir, sizeof(dir), "%s/c0", c->dir);
	assert_int_equal(dump_decisions(c, dir, out, sizeof(out)), 2);
	assert_non_null(strstr(out, "in use"));
	snprintf(dir, sizeof(dir), "%s/no-such-dir", c->dir);
	assert_int_equal(dump_decisions(c, dir, out, sizeof(out)), 2);
	for (int i = 0; i < 3; i++)
		cluster_kill_coord(c, i);
	logs_agree(c, &s);
	for (int i = 0; i < 3; i++)
		assert_int_equal(cluster_start_coord(c, i), 0);
	assert_true(cluster_wait_leader(c, pc, 10000) >= 0);
	/* A majority must know every outcome again.  The third may not: with
	 * thrifty ballot 0 it may never have voted on a gid, and it learns the
	 * outcome from a FORGET whose record is lazy (synced within 50 ms),
	 * which a SIGKILL right after the last commit can beat. */
	check_stream(c, &s, 2, 0);
	pc_conn_close(&pc);
}

static void test_minority_down_whole_run(void **state)
{
	struct cluster *c = *state;
	assert_int_equal(cluster_init(c, 3, 2, TIMING), 0);
	start_all(c, 2); /* coordinator.2 never runs */
	struct pc_conn *pc = connect_to(c);
	assert_true(cluster_wait_leader(c, pc, 10000) >= 0);
	static struct tx t[200];
	struct stream s = {.c = c, .t = t, .cap = 200, .seed = 13};
	stream_main(&s);
	assert_int_equal(s.done, 200);
	check_stream(c, &s, 2, 0);
	pc_conn_close(&pc);
}

static void test_majority_down(void **state)
{
	struct cluster *c = *state;
	assert_int_equal(cluster_init(c, 3, 2, TIMING), 0);
	start_all(c, 3);
	struct pc_conn *pc = connect_to(c);
	struct execer *ex = execer_new(c);
	int leader = cluster_wait_leader(c, pc, 10000);
	assert_true(leader >= 0);
	uint64_t rng = 3;
	struct tx t;
	run_txn(pc, ex, &rng, 2, &t, TXN_TIMEOUT_MS);
	assert_true(t.outcome == PC_COMMITTED || t.outcome == PC_ABORTED);
	int f1 = (leader + 1) % 3, f2 = (leader + 2) % 3;
	cluster_kill_coord(c, f1);
	cluster_kill_coord(c, f2);
	/* Nothing can be decided now; the client must not hear an outcome. */
	struct tx b;
	memset(&b, 0, sizeof(b));
	assert_true(pc_new_gid(pc, b.gid, sizeof(b.gid)) > 0);
	b.n = 2;
	b.rms[0] = 1;
	b.rms[1] = 2;
	assert_int_equal(execer_run(ex, b.gid, 1, 0, "ok", 5000), PX_EXEC_OK);
	assert_int_equal(execer_run(ex, b.gid, 2, 0, "ok", 5000), PX_EXEC_OK);
	struct pc_result res;
	assert_int_equal(pc_commit_gid(pc, b.gid, b.rms, 2, PC_WAIT_APPLIED, 2500, &res), 0);
	if (res.outcome != PC_UNKNOWN)
		fail_msg("with a majority down the client heard outcome %d for %s", res.outcome, b.gid);
	assert_int_equal(pc_status_at(pc, leader, b.gid, 2000, &res), 0);
	assert_int_equal(res.outcome, PC_ST_UNDECIDED);
	assert_int_equal(cluster_applied(c, 1, b.gid), 0);
	assert_int_equal(cluster_applied(c, 2, b.gid), 0);
	/* The majority returns: the blocked transaction finishes (commit, or
	 * abort if the new leader's timeout won), the same everywhere. */
	assert_int_equal(cluster_start_coord(c, f1), 0);
	assert_int_equal(cluster_start_coord(c, f2), 0);
	assert_int_equal(pc_commit_gid(pc, b.gid, b.rms, 2, PC_WAIT_APPLIED, TXN_TIMEOUT_MS, &res), 0);
	assert_true(res.outcome == PC_COMMITTED || res.outcome == PC_ABORTED);
	b.outcome = res.outcome;
	printf("  blocked while a majority was down; after it returned: %s\n",
	       res.outcome == PC_COMMITTED ? "committed" : "aborted");
	replicas_agree(c, pc, &b, 2);
	journals_agree(c, &b, b.outcome);
	for (int i = 0; i < 20; i++) {
		run_txn(pc, ex, &rng, 2, &t, TXN_TIMEOUT_MS);
		assert_int_equal(t.outcome, t.want_commit ? PC_COMMITTED : PC_ABORTED);
	}
	execer_free(&ex);
	pc_conn_close(&pc);
}

static void test_single_replica_blocks(void **state)
{
	struct cluster *c = *state;
	assert_int_equal(cluster_init(c, 1, 2, TIMING), 0);
	start_all(c, 1);
	struct pc_conn *pc = connect_to(c);
	struct execer *ex = execer_new(c);
	assert_int_equal(cluster_wait_leader(c, pc, 10000), 0);
	uint64_t rng = 5;
	struct tx t;
	for (int i = 0; i < 20; i++) {
		run_txn(pc, ex, &rng, 2, &t, TXN_TIMEOUT_MS);
		assert_int_equal(t.outcome, t.want_commit ? PC_COMMITTED : PC_ABORTED);
	}
	cluster_kill_coord(c, 0);
	struct tx b;
	memset(&b, 0, sizeof(b));
	assert_true(pc_new_gid(pc, b.gid, sizeof(b.gid)) > 0);
	b.n = 2;
	b.rms[0] = 1;
	b.rms[1] = 2;
	assert_int_equal(execer_run(ex, b.gid, 1, 0, "ok", 5000), PX_EXEC_OK);
	assert_int_equal(execer_run(ex, b.gid, 2, 0, "ok", 5000), PX_EXEC_OK);
	struct pc_result res;
	uint64_t t0 = cl_now_ms();
	assert_int_equal(pc_commit_gid(pc, b.gid, b.rms, 2, PC_WAIT_APPLIED, 3000, &res), 0);
	assert_int_equal(res.outcome, PC_UNKNOWN);
	assert_int_equal(cluster_applied(c, 1, b.gid), 0);
	assert_int_equal(cluster_applied(c, 2, b.gid), 0);
	printf("  single coordinator dead: the transaction blocked for %llu ms (the client's whole deadline)\n",
	       (unsigned long long)(cl_now_ms() - t0));
	assert_int_equal(cluster_start_coord(c, 0), 0);
	assert_int_equal(pc_commit_gid(pc, b.gid, b.rms, 2, PC_WAIT_APPLIED, TXN_TIMEOUT_MS, &res), 0);
	assert_true(res.outcome == PC_COMMITTED || res.outcome == PC_ABORTED);
	b.outcome = res.outcome;
	journals_agree(c, &b, b.outcome);
	replicas_agree(c, pc, &b, 1);
	for (int i = 0; i < 20; i++) {
		run_txn(pc, ex, &rng, 2, &t, TXN_TIMEOUT_MS);
		assert_int_equal(t.outcome, t.want_commit ? PC_COMMITTED : PC_ABORTED);
	}
	execer_free(&ex);
	pc_conn_close(&pc);
}

/* At most max_live undecided transactions, and at most max_live_per_client
 * of one client's key: past that a clear "busy", and the work goes on once
 * the backlog clears.  Another key is not held back by the first. */
static void test_backpressure_busy(void **state)
{
	struct cluster *c = *state;
	assert_int_equal(cluster_init(c, 1, 2, TIMING "\nmax_live = 2\nmax_live_per_client = 1"), 0);
	char cmd[1200], other[400];
	snprintf(cmd, sizeof(cmd), "%s/paxcommit keygen --dir '%s/keys' other >/dev/null && cp '%s/keys/other.pub' '%s/keys/clients/'",
		 c->bin, c->dir, c->dir, c->dir);
	assert_int_equal(system(cmd), 0);
	snprintf(other, sizeof(other), "%s/keys/other.key", c->dir);
	assert_int_equal(cluster_start_part(c, 1), 0);
	assert_int_equal(cluster_start_coord(c, 0), 0);
	struct pc_conn *pc = connect_to(c);
	struct execer *ex = execer_new(c);
	assert_int_equal(cluster_wait_leader(c, pc, 10000), 0);
	/* A: participant p2 is not running, so A stays live (undecided, then
	 * decided but unacknowledged) and fills the only slot. */
	char a[PX_GID_MAX + 1], b[PX_GID_MAX + 1];
	uint16_t both[2] = {1, 2}, one[1] = {1};
	struct pc_result res;
	uint64_t end = cl_now_ms() + 10000;
	for (;;) { /* p1 takes gids born after it started */
		assert_true(pc_new_gid(pc, a, sizeof(a)) > 0);
		if (execer_run(ex, a, 1, 0, "ok", 2000) == PX_EXEC_OK)
			break;
		assert_true(cl_now_ms() < end);
	}
	assert_int_equal(pc_commit_gid(pc, a, both, 2, PC_WAIT_APPLIED, 300, &res), 0);
	assert_int_equal(res.outcome, PC_UNKNOWN);
	/* B is refused while A holds this key's only slot. */
	assert_true(pc_new_gid(pc, b, sizeof(b)) > 0);
	assert_int_equal(execer_run(ex, b, 1, 0, "ok", 2000), PX_EXEC_OK);
	assert_int_equal(pc_commit_gid(pc, b, one, 1, PC_WAIT_APPLIED, 1500, &res), 0);
	assert_int_equal(res.outcome, PC_UNKNOWN);
	assert_non_null(strstr(res.reason, "busy"));
	/* A client with another key takes the second slot and commits. */
	setenv("PAXCOMMIT_CLIENT_KEY", other, 1);
	struct pc_conn *pc2 = connect_to(c);
	struct execer *ex2 = execer_new(c);
	unsetenv("PAXCOMMIT_CLIENT_KEY");
	char o[PX_GID_MAX + 1];
	assert_true(pc_new_gid(pc2, o, sizeof(o)) > 0);
	assert_int_equal(execer_run(ex2, o, 1, 0, "ok", 2000), PX_EXEC_OK);
	assert_int_equal(pc_commit_gid(pc2, o, one, 1, PC_WAIT_APPLIED, TXN_TIMEOUT_MS, &res), 0);
	assert_int_equal(res.outcome, PC_COMMITTED);
	assert_int_equal(cluster_applied(c, 1, o), 'c');
	execer_free(&ex2);
	pc_conn_close(&pc2);
	/* p2 comes back: A finishes (aborted: p2 never voted), its slot frees,
	 * and B goes through. */
	assert_int_equal(cluster_start_part(c, 2), 0);
	assert_int_equal(pc_commit_gid(pc, a, both, 2, PC_WAIT_APPLIED, TXN_TIMEOUT_MS, &res), 0);
	assert_int_equal(res.outcome, PC_ABORTED);
	assert_int_equal(pc_commit_gid(pc, b, one, 1, PC_WAIT_APPLIED, TXN_TIMEOUT_MS, &res), 0);
	assert_int_equal(res.outcome, PC_COMMITTED);
	assert_int_equal(cluster_applied(c, 1, b), 'c');
	assert_int_equal(cluster_stop_coord(c, 0), 0);
	long busy = stat_in_log(c, 0, "busy"), own = stat_in_log(c, 0, "busy_client");
	printf("  max_live_per_client=1: the key's second transaction was refused as busy %ld times (%ld by the "
	       "quota), then committed; another key's went through\n", busy, own);
	assert_true(busy >= 1);
	assert_int_equal(own, busy);
	execer_free(&ex);
	pc_conn_close(&pc);
}

/* A full disk: the replica stops (fail-stop, exit 4) before acknowledging
 * anything it could not make durable, says why, and once there is room
 * again it restarts with every acknowledged outcome. */
static void test_disk_full_fail_stop(void **state)
{
	struct cluster *c = *state;
	assert_int_equal(cluster_init(c, 1, 1, TIMING), 0);
	if (cluster_mount_small(c, 0, 1300)) {
		printf("  SKIPPED: this machine does not allow mounting a tmpfs\n");
		skip();
	}
	c->coord_arg[0] = "--segment-mb";
	c->coord_arg[1] = "1";
	c->coord_arg[2] = "--checkpoint-records";
	c->coord_arg[3] = "100000000";
	start_all(c, 1);
	struct pc_conn *pc = connect_to(c);
	struct execer *ex = execer_new(c);
	assert_int_equal(cluster_wait_leader(c, pc, 10000), 0);
	static struct tx t[20000];
	uint64_t rng = 37;
	int n = 0;
	while (n < 20000) {
		run_txn(pc, ex, &rng, 1, &t[n], 2000);
		assert_int_equal(t[n].rc, 0);
		n++;
		if (t[n - 1].outcome == PC_UNKNOWN)
			break;
		assert_int_equal(t[n - 1].outcome, t[n - 1].want_commit ? PC_COMMITTED : PC_ABORTED);
	}
	assert_int_equal(t[n - 1].outcome, PC_UNKNOWN);
	assert_int_equal(cluster_coord_exit(c, 0, 5000), 4);
	assert_true(log_has(c, 0, "fail-stop"));
	assert_true(log_has(c, 0, "no space"));
	printf("  disk full after %d transactions: coordinator.0 stopped with exit 4\n", n - 1);
	/* room again: restart, and every acknowledged outcome is there */
	assert_int_equal(cluster_grow_mount(c, 65536), 0);
	assert_int_equal(cluster_start_coord(c, 0), 0);
	assert_int_equal(cluster_wait_leader(c, pc, 10000), 0);
	for (int i = 0; i < n - 1; i++)
		replicas_agree(c, pc, &t[i], 1);
	struct pc_result res;
	struct tx *last = &t[n - 1];
	assert_int_equal(pc_commit_gid(pc, last->gid, last->rms, 1, PC_WAIT_APPLIED, TXN_TIMEOUT_MS, &res), 0);
	assert_true(res.outcome == PC_COMMITTED || res.outcome == PC_ABORTED);
	if (res.outcome == PC_COMMITTED)
		assert_true(last->want_commit);
	execer_free(&ex);
	pc_conn_close(&pc);
}

/* The log of a participant (test agent) p<i>. */
static int part_log_has(struct cluster *c, int part, const char *needle)
{
	char path[400], name[32];
	snprintf(name, sizeof(name), "participant.p%d", part);
	cluster_log_path(c, name, path, sizeof(path));
	return file_has(path, needle);
}

/* How a forger reaches a daemon: no CURVE at all, the cluster's client key
 * with a routing id claiming a replica or a participant, or the client key
 * as itself. */
enum forger { F_PLAIN, F_KEY_CLAIMS_ID, F_KEY };

/* Send message m to endpoint (server key server) the forger's way; the
 * socket lingers up to 1 s to get it out. */
static void forge(void *z, const struct px_keyring *k, enum forger how, const uint8_t *rid, size_t rlen,
		  const char *endpoint, const uint8_t *server, const struct px_msg *m)
{
	void *s = zmq_socket(z, ZMQ_DEALER);
	assert_non_null(s);
	if (how != F_PLAIN)
		assert_int_equal(px_net_curve_client(s, k, server), 0);
	if (how != F_KEY)
		assert_int_equal(zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, rlen), 0);
	assert_int_equal(zmq_connect(s, endpoint), 0);
	uint8_t buf[1024];
	size_t len;
	assert_int_equal(px_encode(m, buf, sizeof(buf), &len), 0);
	zmq_send(s, buf, len, ZMQ_DONTWAIT);
	int ms = 1000;
	zmq_setsockopt(s, ZMQ_LINGER, &ms, sizeof(ms));
	zmq_close(s);
}

/*
 * The two attacks of the security issue, each three ways (no key; the
 * client key with a routing id claiming the role; the client key as what
 * it is), at a cluster with CURVE on:
 *   1. a DECISION "abort" to participant p1, claiming to be replica 9 (not
 *      configured) and replica 0, for a gid that then commits;
 *   2. a ballot-0 "prepared" vote for participant p2, sent to every
 *      replica before p2's real vote, which is "aborted".
 * Both gids must end as their real votes say, on every participant, and the
 * daemons must say what they refused.
 */
static void test_forged_messages_refused(void **state)
{
	struct cluster *c = *state;
	assert_int_equal(cluster_init(c, 3, 2, TIMING), 0);
	start_all(c, 3);
	struct pc_conn *pc = connect_to(c);
	struct execer *ex = execer_new(c);
	assert_true(cluster_wait_leader(c, pc, 10000) >= 0);
	struct px_config cfg;
	struct px_keyring k;
	char err[1200];
	assert_int_equal(px_config_load(c->conf, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg.security, PX_SECURITY_CURVE);
	assert_int_equal(px_keyring_load(&k, &cfg, px_addr_of(PX_NODE_CLIENT, 0), NULL, err, sizeof(err)), 0);
	const struct px_config_part *p1 = px_config_part_by_id(&cfg, 1);
	void *z = zmq_ctx_new();
	uint16_t both[2] = {1, 2};
	struct px_pset ps = {.n = 2, .rm = {1, 2}};

	/* 1: forged DECISION abort */
	struct tx t1 = {.n = 2, .rms = {1, 2}};
	assert_true(pc_new_gid(pc, t1.gid, sizeof(t1.gid)) > 0);
	assert_int_equal(execer_run(ex, t1.gid, 1, 0, "ok", 5000), PX_EXEC_OK);
	assert_int_equal(execer_run(ex, t1.gid, 2, 0, "ok", 5000), PX_EXEC_OK);
	struct px_msg d = {.type = PX_MSG_DECISION};
	d.u.decision.gid = px_str_of(t1.gid, (uint32_t)strlen(t1.gid));
	d.u.decision.outcome = PX_OUT_ABORT;
	d.u.decision.pset = ps;
	const uint8_t r9[2] = {0x01, 9}, r0[2] = {0x01, 0};
	for (int how = F_PLAIN; how <= F_KEY; how++) {
		forge(z, &k, (enum forger)how, r9, 2, p1->endpoint, p1->public_key, &d);
		forge(z, &k, (enum forger)how, r0, 2, p1->endpoint, p1->public_key, &d);
	}
	/* the refusal of the one that got through, as a client, says so */
	uint64_t until = cl_now_ms() + 10000;
	while (!part_log_has(c, 1, "refused decision") && cl_now_ms() < until)
		cl_pause_ms(20);
	assert_true(part_log_has(c, 1, "refused decision: not a client's message"));
	struct pc_result res;
	assert_int_equal(pc_commit_gid(pc, t1.gid, both, 2, PC_WAIT_APPLIED, TXN_TIMEOUT_MS, &res), 0);
	assert_int_equal(res.outcome, PC_COMMITTED);
	t1.outcome = PC_COMMITTED;
	journals_agree(c, &t1, PC_COMMITTED);
	assert_int_equal(replicas_agree(c, pc, &t1, 1), PC_COMMITTED);

	/* 2: a forged vote for p2, ahead of its real "aborted" */
	struct tx t2 = {.n = 2, .rms = {1, 2}};
	assert_true(pc_new_gid(pc, t2.gid, sizeof(t2.gid)) > 0);
	struct px_msg v = {.type = PX_MSG_2A};
	v.u.m2a.gid = px_str_of(t2.gid, (uint32_t)strlen(t2.gid));
	v.u.m2a.rm = 2;
	v.u.m2a.bal = 0;
	v.u.m2a.val = PX_VAL_PREPARED;
	v.u.m2a.pset = ps;
	const uint8_t a2[3] = {0x02, 2, 0};
	for (int i = 0; i < cfg.ncoord; i++)
		for (int how = F_PLAIN; how <= F_KEY; how++)
			forge(z, &k, (enum forger)how, a2, 3, cfg.coord[i].endpoint, cfg.coord[i].public_key, &v);
	until = cl_now_ms() + 10000;
	while (!log_has(c, 0, "refused 2a from client") && cl_now_ms() < until)
		cl_pause_ms(20);
	assert_true(log_has(c, 0, "refused 2a from client"));
	assert_int_equal(execer_run(ex, t2.gid, 1, 0, "ok", 5000), PX_EXEC_OK);
	assert_int_equal(execer_run(ex, t2.gid, 2, 0, "abort", 5000), PX_EXEC_OK);
	assert_int_equal(pc_commit_gid(pc, t2.gid, both, 2, PC_WAIT_APPLIED, TXN_TIMEOUT_MS, &res), 0);
	assert_int_equal(res.outcome, PC_ABORTED);
	t2.outcome = PC_ABORTED;
	journals_agree(c, &t2, PC_ABORTED);
	assert_int_equal(replicas_agree(c, pc, &t2, 1), PC_ABORTED);

	/* the stats lines count them: bad_identity (a key claiming a role's
	 * routing id) and refused */
	assert_int_equal(cluster_stop_coord(c, 0), 0);
	long refused = stat_in_log(c, 0, "refused"), bad_id = stat_in_log(c, 0, "bad_identity");
	printf("  coordinator.0: refused=%ld bad_identity=%ld\n", refused, bad_id);
	assert_true(refused >= 1);
	assert_true(bad_id >= 1);
	zmq_ctx_term(z);
	px_keyring_free(&k);
	px_config_free(&cfg);
	execer_free(&ex);
	pc_conn_close(&pc);
}

static void test_malformed_frames(void **state)
{
	struct cluster *c = *state;
	assert_int_equal(cluster_init(c, 3, 2, TIMING), 0);
	start_all(c, 3);
	struct pc_conn *pc = connect_to(c);
	struct execer *ex = execer_new(c);
	assert_true(cluster_wait_leader(c, pc, 10000) >= 0);

	/* A valid STATUS_REQ to damage. */
	char gid[PX_GID_MAX + 1];
	assert_true(pc_new_gid(pc, gid, sizeof(gid)) > 0);
	struct px_msg m = {.type = PX_MSG_STATUS_REQ};
	m.u.status_req.req = 1;
	m.u.status_req.gid = px_str_of(gid, (uint32_t)strlen(gid));
	uint8_t good[512];
	size_t glen;
	assert_int_equal(px_encode(&m, good, sizeof(good), &glen), 0);
	uint8_t badmagic[512], badtype[512], trunc[512], trailing[520], badver[512];
	memcpy(badmagic, good, glen);
	badmagic[0] ^= 0xFF;
	memcpy(badver, good, glen);
	badver[2] = 99;
	memcpy(badtype, good, glen);
	badtype[3] = 200;
	memcpy(trunc, good, glen);
	memcpy(trailing, good, glen);
	trailing[glen] = 0xAB;
	trailing[4]++; /* header counts the extra byte: the decoder finds it trailing */
	/* an oversize gid: length field says 5000 */
	uint8_t huge[6000];
	memset(huge, 'x', sizeof(huge));
	memcpy(huge, good, 16);
	uint32_t plen = (uint32_t)(sizeof(huge) - PX_HDR_LEN);
	huge[4] = (uint8_t)plen;
	huge[5] = (uint8_t)(plen >> 8);
	huge[6] = 0;
	huge[7] = 0;
	huge[16] = 0x88; /* gid length 5000 (little endian at offset 16) */
	huge[17] = 0x13;
	huge[18] = 0;
	huge[19] = 0;
	const char *junk = "hello, coordinator";
	struct {
		const void *p;
		size_t len;
	} cases[] = {
		{junk, strlen(junk)}, {badmagic, glen}, {badver, glen}, {badtype, glen},
		{trunc, glen - 3},    {trailing, glen + 1}, {huge, sizeof(huge)}, {good, 5},
	};
	int sent = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const void *parts[1] = {cases[i].p};
		size_t lens[1] = {cases[i].len};
		assert_int_equal(execer_raw(ex, 0, parts, lens, 1), 0);
		sent++;
	}
	/* a multipart message and an empty one: wrong shape */
	const void *mp[2] = {good, good};
	size_t ml[2] = {glen, glen};
	assert_int_equal(execer_raw(ex, 0, mp, ml, 2), 0);
	const void *ep[1] = {good};
	size_t el[1] = {0};
	assert_int_equal(execer_raw(ex, 0, ep, el, 1), 0);
	/* a request naming a participant nobody configured: a clear refusal */
	uint16_t unknown_rm[1] = {999};
	struct pc_result res;
	assert_int_equal(pc_commit_gid(pc, gid, unknown_rm, 1, PC_WAIT_APPLIED, 5000, &res), PC_EREFUSED);
	assert_non_null(strstr(pc_conn_errmsg(pc), "unknown participant"));
	/* The replica survived and the cluster still decides. */
	uint64_t rng = 17;
	struct tx t;
	for (int i = 0; i < 30; i++) {
		run_txn(pc, ex, &rng, 2, &t, TXN_TIMEOUT_MS);
		assert_int_equal(t.outcome, t.want_commit ? PC_COMMITTED : PC_ABORTED);
	}
	assert_true(cluster_alive(c, c->coord[0]));
	assert_int_equal(pc_status_at(pc, 0, t.gid, 2000, &res), 0);
	assert_int_equal(res.outcome, t.outcome == PC_COMMITTED ? PC_ST_COMMITTED : PC_ST_ABORTED);
	/* SIGTERM: a clean exit that reports the count. */
	assert_int_equal(cluster_stop_coord(c, 0), 0);
	long bad = stat_in_log(c, 0, "bad_frames");
	printf("  %d malformed frames and 2 misshapen messages sent; coordinator.0 counted %ld\n", sent, bad);
	assert_true(bad >= sent + 2);
	assert_true(log_has(c, 0, "bad message from client"));
	/* and it comes back from its log */
	assert_int_equal(cluster_start_coord(c, 0), 0);
	uint64_t end = cl_now_ms() + 10000;
	while (pc_status_at(pc, 0, t.gid, 200, &res) == 0 && res.outcome == PC_ST_NO_ANSWER && cl_now_ms() < end)
		;
	assert_int_equal(res.outcome, t.outcome == PC_COMMITTED ? PC_ST_COMMITTED : PC_ST_ABORTED);
	assert_true(log_has(c, 0, "recovered commit log"));
	execer_free(&ex);
	pc_conn_close(&pc);
}

/* Does replica i answer a client with key file `key` (its own connection)
 * within timeout_ms?  Polls; 1 answered, 0 not. */
static int answers(struct cluster *c, const char *key, int i, uint32_t timeout_ms)
{
	setenv("PAXCOMMIT_CLIENT_KEY", key, 1);
	struct pc_conn *pc = NULL;
	char err[300];
	int rc = pc_connect(c->conf, &pc, err, sizeof(err));
	unsetenv("PAXCOMMIT_CLIENT_KEY");
	assert_int_equal(rc, 0);
	uint64_t end = cl_now_ms() + timeout_ms;
	int seen;
	while ((seen = pc_leader_seen_by(pc, i, 300)) < 0 && cl_now_ms() < end)
		;
	pc_conn_close(&pc);
	return seen >= 0;
}

static void sighup_all(struct cluster *c, const char *want_log)
{
	for (int i = 0; i < c->ncoord; i++)
		assert_int_equal(kill(c->coord[i], SIGHUP), 0);
	for (int i = 0; i < c->ncoord; i++) {
		uint64_t end = cl_now_ms() + 10000;
		while (!log_has(c, i, want_log) && cl_now_ms() < end)
			cl_pause_ms(20);
		if (!log_has(c, i, want_log))
			fail_msg("coordinator.%d did not log '%s' after SIGHUP", i, want_log);
	}
}

/* SIGHUP reads the client allow-list again: a key added to it is let in
 * without a restart, and a key taken out is refused, on its open
 * connection too; a directory that cannot be read leaves the list as it
 * was. */
static void test_client_keys_reload(void **state)
{
	struct cluster *c = *state;
	assert_int_equal(cluster_init(c, 3, 2, TIMING), 0);
	start_all(c, 3);
	char cmd[1200], key[400], pub[400], listed[400];
	snprintf(cmd, sizeof(cmd), "%s/paxcommit keygen --dir '%s/keys' late >/dev/null", c->bin, c->dir);
	assert_int_equal(system(cmd), 0);
	snprintf(key, sizeof(key), "%s/keys/late.key", c->dir);
	snprintf(pub, sizeof(pub), "%s/keys/late.pub", c->dir);
	snprintf(listed, sizeof(listed), "%s/keys/clients/late.pub", c->dir);
	char own[400];
	snprintf(own, sizeof(own), "%s/keys/client.key", c->dir);
	assert_true(answers(c, own, 0, 10000));
	assert_false(answers(c, key, 0, 1500)); /* not on the list */
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", pub, listed);
	assert_int_equal(system(cmd), 0);
	sighup_all(c, "read again: 2 keys (was 1)");
	for (int i = 0; i < 3; i++)
		assert_true(answers(c, key, i, 10000));
	/* Taken out while connected: its next request gets no answer. */
	setenv("PAXCOMMIT_CLIENT_KEY", key, 1);
	struct pc_conn *pc = NULL;
	char err[300];
	assert_int_equal(pc_connect(c->conf, &pc, err, sizeof(err)), 0);
	unsetenv("PAXCOMMIT_CLIENT_KEY");
	uint64_t end = cl_now_ms() + 10000;
	while (pc_leader_seen_by(pc, 1, 300) < 0 && cl_now_ms() < end)
		;
	assert_true(pc_leader_seen_by(pc, 1, 2000) >= 0);
	assert_int_equal(unlink(listed), 0);
	sighup_all(c, "read again: 1 keys (was 2)");
	assert_int_equal(pc_leader_seen_by(pc, 1, 1500), -1);
	pc_conn_close(&pc);
	assert_false(answers(c, key, 2, 1500));
	assert_true(answers(c, own, 2, 10000));
	/* A bad key file: the list stays as it was, and says why. */
	snprintf(cmd, sizeof(cmd), "echo 'public = nonsense' > '%s/keys/clients/bad.pub'", c->dir);
	assert_int_equal(system(cmd), 0);
	sighup_all(c, "the client allow-list stays as it was (1 keys)");
	assert_true(answers(c, own, 0, 10000));
	for (int i = 0; i < 3; i++)
		assert_true(cluster_alive(c, c->coord[i]));
	/* The open connection's refused requests were counted. */
	assert_int_equal(cluster_stop_coord(c, 1), 0);
	long bad = stat_in_log(c, 1, "bad_auth");
	print_message("  coordinator.1 refused %ld messages from the key taken off the list\n", bad);
	assert_true(bad >= 1);
}

/* Every line of a /metrics text is a comment or "series value". */
static void check_exposition(const char *text)
{
	int samples = 0;
	for (const char *p = text; *p;) {
		const char *e = strchr(p, '\n');
		assert_non_null(e);
		if (*p != '#') {
			const char *sp = memchr(p, ' ', (size_t)(e - p));
			assert_non_null(sp);
			assert_true(strncmp(p, "paxcommit_", 10) == 0);
			char *end;
			strtod(sp + 1, &end);
			assert_ptr_equal(end, e);
			samples++;
		}
		p = e + 1;
	}
	assert_true(samples > 30);
}

/* GET /metrics on every replica: the figures move as transactions run,
 * and agree with the cluster's state (who leads, what was decided). */
static void test_metrics(void **state)
{
	struct cluster *c = *state;
	assert_int_equal(cluster_init(c, 3, 2, TIMING), 0);
	start_all(c, 3);
	struct pc_conn *pc = connect_to(c);
	int leader = cluster_wait_leader(c, pc, 10000);
	assert_true(leader >= 0);
	static char before[65536], after[65536];
	assert_int_equal(cluster_http_get(c->metrics_port[leader], "/metrics", before, sizeof(before), 5000), 200);
	check_exposition(before);
	double commits0 = cluster_metric(before, "paxcommit_decisions_total{outcome=\"commit\"}");
	double aborts0 = cluster_metric(before, "paxcommit_decisions_total{outcome=\"abort\"}");
	double reqs0 = cluster_metric(before, "paxcommit_commit_request_seconds_count");
	assert_true(commits0 >= 0 && aborts0 >= 0 && reqs0 >= 0);
	struct execer *ex = execer_new(c);
	uint64_t rng = 23;
	struct tx t;
	int committed = 0, aborted = 0;
	for (int i = 0; i < 40; i++) {
		run_txn(pc, ex, &rng, 2, &t, TXN_TIMEOUT_MS);
		assert_int_equal(t.outcome, t.want_commit ? PC_COMMITTED : PC_ABORTED);
		committed += t.outcome == PC_COMMITTED;
		aborted += t.outcome == PC_ABORTED;
	}
	execer_free(&ex);
	assert_int_equal(cluster_http_get(c->metrics_port[leader], "/metrics", after, sizeof(after), 5000), 200);
	check_exposition(after);
	if (getenv("E2E_SHOW_METRICS"))
		fputs(after, stdout);
	double commits = cluster_metric(after, "paxcommit_decisions_total{outcome=\"commit\"}") - commits0;
	double aborts = cluster_metric(after, "paxcommit_decisions_total{outcome=\"abort\"}") - aborts0;
	double reqs = cluster_metric(after, "paxcommit_commit_request_seconds_count") - reqs0;
	double syncs = cluster_metric(after, "paxcommit_log_sync_seconds_count");
	print_message("  leader coordinator.%d: +%.0f commit and +%.0f abort decisions (clients: %d, %d), %.0f requests "
		      "timed, %.0f syncs\n",
		      leader, commits, aborts, committed, aborted, reqs, syncs);
	assert_true(commits >= committed);
	assert_true(aborts >= aborted);
	assert_true(reqs >= committed + aborted);
	assert_true(syncs >= 1);
	assert_true(cluster_metric(after, "paxcommit_log_sync_records_count") == syncs);
	assert_true(cluster_metric(after, "paxcommit_commit_request_seconds_bucket{le=\"+Inf\"}") ==
		    cluster_metric(after, "paxcommit_commit_request_seconds_count"));
	assert_true(cluster_metric(after, "paxcommit_metrics_scrapes_total") >= 1);
	/* Who leads, as every replica sees it. */
	for (int i = 0; i < 3; i++) {
		static char m[65536];
		assert_int_equal(cluster_http_get(c->metrics_port[i], "/metrics", m, sizeof(m), 5000), 200);
		assert_true(cluster_metric(m, "paxcommit_leader") == leader);
		assert_true(cluster_metric(m, "paxcommit_is_leader") == (i == leader));
		assert_true((cluster_metric(m, "paxcommit_ballot") > 0) == (i == leader));
		char info[64];
		snprintf(info, sizeof(info), "paxcommit_replica_info{replica=\"%d\"}", i);
		assert_true(cluster_metric(m, info) == 1);
	}
	/* Only GET /metrics. */
	assert_int_equal(cluster_http_get(c->metrics_port[leader], "/other", after, sizeof(after), 5000), 404);
	/* A replica that stops leading says so. */
	cluster_kill_coord(c, leader);
	int next = cluster_wait_leader(c, pc, 10000);
	assert_true(next >= 0 && next != leader);
	assert_int_equal(cluster_http_get(c->metrics_port[next], "/metrics", after, sizeof(after), 5000), 200);
	assert_true(cluster_metric(after, "paxcommit_is_leader") == 1);
	assert_true(cluster_metric(after, "paxcommit_leader_changes_total") >= 1);
	assert_int_equal(cluster_http_get(c->metrics_port[leader], "/metrics", after, sizeof(after), 1000), -1);
	pc_conn_close(&pc);
}

/* The systemd service protocol without systemd: a datagram socket of our
 * own as NOTIFY_SOCKET.  The replica says READY=1 once it has recovered
 * and listens, WATCHDOG=1 at half of WATCHDOG_USEC from its loop, and
 * STOPPING=1 on SIGTERM. */
static void test_systemd_notify(void **state)
{
	struct cluster *c = *state;
	assert_int_equal(cluster_init(c, 1, 1, TIMING), 0);
	assert_int_equal(cluster_start_part(c, 1), 0);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int pl = snprintf(sa.sun_path, sizeof(sa.sun_path), "%.80s/notify.sock", c->dir);
	assert_true(pl > 0 && (size_t)pl < sizeof(sa.sun_path));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
	setenv("WATCHDOG_USEC", "200000", 1);
	uint64_t t0 = cl_now_ms();
	assert_int_equal(cluster_start_coord(c, 0), 0);
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	int ready = 0, dogs = 0, stopping = 0, dogs_before_ready = 0;
	uint64_t ready_at = 0, end = cl_now_ms() + 15000;
	char msg[1024];
	while (cl_now_ms() < end && !stopping) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0) {
			if (ready && dogs >= 5 && c->coord[0] > 0)
				assert_int_equal(cluster_stop_coord(c, 0), 0); /* SIGTERM; the datagram is queued */
			continue;
		}
		ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
		assert_true(n > 0);
		msg[n] = '\0';
		if (strstr(msg, "READY=1")) {
			ready++;
			ready_at = cl_now_ms();
			assert_non_null(strstr(msg, "STATUS=replica 0 of 1: recovered, listening on tcp://127.0.0.1:"));
		}
		if (strstr(msg, "WATCHDOG=1")) {
			dogs++;
			dogs_before_ready += !ready;
		}
		stopping += strstr(msg, "STOPPING=1") != NULL;
	}
	close(fd);
	print_message("  READY=1 %llu ms after start, %d WATCHDOG=1, STOPPING=1 %s\n",
		      (unsigned long long)(ready_at - t0), dogs, stopping ? "on SIGTERM" : "never");
	assert_int_equal(ready, 1);
	assert_int_equal(dogs_before_ready, 0);
	assert_true(dogs >= 5);
	assert_int_equal(stopping, 1);
	/* It answered once READY: it was listening. */
	assert_int_equal(cluster_start_coord(c, 0), 0);
	struct pc_conn *pc = connect_to(c);
	assert_int_equal(cluster_wait_leader(c, pc, 10000), 0);
	pc_conn_close(&pc);
}

/* The first line of file path holding needle: 1, or 0. */
/* --log-file, and SIGHUP after logrotate's move: the replica writes to a
 * new file of the same name, the moved one keeps what came before, and
 * the cluster goes on deciding. */
static void test_log_file_reopen(void **state)
{
	struct cluster *c = *state;
	assert_int_equal(cluster_init(c, 1, 1, TIMING), 0);
	static char path[400], moved[420];
	snprintf(path, sizeof(path), "%s/replica.log", c->dir);
	snprintf(moved, sizeof(moved), "%s.1", path);
	c->coord_arg[0] = "--log-file";
	c->coord_arg[1] = path;
	assert_int_equal(cluster_start_part(c, 1), 0);
	assert_int_equal(cluster_start_coord(c, 0), 0);
	struct pc_conn *pc = connect_to(c);
	assert_int_equal(cluster_wait_leader(c, pc, 10000), 0);
	uint64_t end = cl_now_ms() + 10000;
	while (!file_has(path, "replica=0 ready") && cl_now_ms() < end)
		cl_pause_ms(20);
	assert_true(file_has(path, "replica=0 ready"));
	assert_int_equal(rename(path, moved), 0);
	assert_int_equal(kill(c->coord[0], SIGHUP), 0);
	end = cl_now_ms() + 10000;
	while (!file_has(path, "SIGHUP: log file") && cl_now_ms() < end)
		cl_pause_ms(20);
	assert_true(file_has(path, "replica=0 SIGHUP: log file"));
	assert_true(file_has(path, "reopened"));
	assert_false(file_has(path, "replica=0 ready"));
	assert_true(file_has(moved, "replica=0 ready"));
	assert_false(file_has(moved, "reopened"));
	wait_agents(c);
	struct execer *ex = execer_new(c);
	uint64_t rng = 5;
	struct tx t;
	run_txn(pc, ex, &rng, 1, &t, TXN_TIMEOUT_MS);
	assert_int_equal(t.outcome, t.want_commit ? PC_COMMITTED : PC_ABORTED);
	execer_free(&ex);
	pc_conn_close(&pc);
	assert_int_equal(cluster_stop_coord(c, 0), 0);
	assert_true(file_has(path, "stopping on signal"));
	/* A log file that cannot be opened: refused at start, exit 2. */
	c->coord_arg[1] = "/nonexistent-dir/replica.log";
	assert_int_equal(cluster_start_coord(c, 0), 0);
	assert_int_equal(cluster_coord_exit(c, 0, 5000), 2);
}

int main(void)
{
	const struct CMUnitTest all[] = {
		cmocka_unit_test_setup_teardown(test_1000_mixed_votes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_horizon, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leader_kill9_mid_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follower_kill9_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_five_replicas_two_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_all_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_minority_down_whole_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_majority_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_single_replica_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backpressure_busy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(test_forged_messages_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full_fail_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_keys_reload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_systemd_notify, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_file_reopen, setup, teardown),
	};
	return e2e_run("e2e_coord", all, sizeof(all) / sizeof(all[0]));
}
