/*
 * chaos_client - the chaos suite's workload and history recorder
 * (tests/chaos/chaos.py runs it in the client's network namespace).
 *
 * Threads run bank transfers between two participants through paxcommit:
 * through the agents (pc_exec + pc_commit, or pc_exec_commit) and XA-style
 * (its own libpq connections, PREPARE TRANSACTION, pc_xa_commit).  Every
 * transfer also appends a row naming its gid to chaos_log on both
 * databases, so that a lost or doubled commit shows up beyond the totals.
 * Every operation is written to the history, one whole line at a time:
 *   start <t_ms> <threads> <accounts> <seed>
 *   op <id> <thread> <agent|xa> <gid|-> <t_invoke_ms> <t_complete_ms> <ok|fail|info>
 *      <src> <dst> <acct_src> <acct_dst> <amount> <reason>
 *   resolve <id> <gid> <committed|aborted|unknown_gid|unresolved> <t_ms>
 *   end <t_ms> <ops> <ok> <fail> <info>
 * ok = COMMITTED, fail = ABORTED, info = unknown.  A commit is never retried
 * blindly: an unknown outcome is asked with pc_status after the run.
 *
 * --verify HISTORY asks the cluster for every acknowledged outcome again
 * (after the suite killed every replica) and reports any that changed.
 */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "paxcommit.h"

#define MAX_DB 2
#define GID_CAP 220

static const char *g_config, *g_stop_file;
static int g_threads = 4, g_accounts = 8, g_xa_percent = 20, g_ndb;
static uint32_t g_commit_ms = 3000;
static double g_seconds = 60, g_resolve_s = 60;
/* --verify: the cluster may forget a gid born this long ago (its GC
 * horizon); HORIZON_SLACK_MS covers the daemons' clocks. */
static uint64_t g_horizon_ms = 600000;
#define HORIZON_SLACK_MS 15000u
static uint64_t g_seed;
static char g_dbname[MAX_DB][64];
static const char *g_dbinfo[MAX_DB];
static FILE *g_hist;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t g_next_op = 1, g_nok, g_nfail, g_ninfo;
static volatile sig_atomic_t g_sig;
static uint64_t g_deadline_ms;

struct pending {
	uint64_t op;
	char gid[GID_CAP];
	uint64_t at;  /* when the UNKNOWN was heard (ms) */
	int resolved; /* its resolve line is written */
};
static struct pending *g_pend;
static size_t g_npend, g_cappend;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int stopping(void)
{
	return g_sig || now_ms() >= g_deadline_ms || (g_stop_file && access(g_stop_file, F_OK) == 0);
}

static void on_signal(int s)
{
	(void)s;
	g_sig = 1;
}

/* One history line, whole, under the lock. */
static void hist_line(const char *line)
{
	pthread_mutex_lock(&g_mu);
	fputs(line, g_hist);
	fflush(g_hist);
	pthread_mutex_unlock(&g_mu);
}

static void clean_reason(char *dst, size_t cap, const char *src)
{
	size_t n = 0;
	for (; src && *src && n + 1 < cap && n < 200; src++)
		dst[n++] = (*src == '\t' || *src == '\n' || *src == '\r') ? ' ' : *src;
	if (!n)
		dst[n++] = '-';
	dst[n] = 0;
}

struct op {
	uint64_t id;
	int thread, xa;
	const char *src, *dst;
	int asrc, adst, amount;
	uint64_t t0;
	char gid[GID_CAP];
};

static void record(struct op *o, const char *outcome, const char *reason)
{
	char r[256], line[1024];
	clean_reason(r, sizeof(r), reason);
	snprintf(line, sizeof(line), "op\t%" PRIu64 "\t%d\t%s\t%s\t%" PRIu64 "\t%" PRIu64 "\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n",
		 o->id, o->thread, o->xa ? "xa" : "agent", o->gid[0] ? o->gid : "-", o->t0, now_ms(), outcome, o->src,
		 o->dst, o->asrc, o->adst, o->amount, r);
	hist_line(line);
	pthread_mutex_lock(&g_mu);
	if (!strcmp(outcome, "ok"))
		g_nok++;
	else if (!strcmp(outcome, "fail"))
		g_nfail++;
	else
		g_ninfo++;
	if (!strcmp(outcome, "info") && o->gid[0]) {
		if (g_npend == g_cappend) {
			size_t nc = g_cappend ? g_cappend * 2 : 64;
			void *np = realloc(g_pend, nc * sizeof(*g_pend));
			if (np) {
				g_pend = np;
				g_cappend = nc;
			}
		}
		if (g_npend < g_cappend) {
			g_pend[g_npend].op = o->id;
			snprintf(g_pend[g_npend].gid, GID_CAP, "%s", o->gid);
			g_pend[g_npend].at = now_ms();
			g_pend[g_npend].resolved = 0;
			g_npend++;
		}
	}
	pthread_mutex_unlock(&g_mu);
}

static const char *outcome_word(int outcome)
{
	return outcome == PC_COMMITTED ? "ok" : outcome == PC_ABORTED ? "fail" : "info";
}

/* ------------------------------------------------------- agents' path */

static void agent_op(struct pc_conn *pc, struct op *o, uint64_t *seed)
{
	struct pc_txn *t;
	if (pc_begin(pc, &t)) {
		record(o, "fail", pc_conn_errmsg(pc));
		return;
	}
	snprintf(o->gid, sizeof(o->gid), "%s", pc_txn_gid(t));
	char as[16], ad[16], am[16], nam[16], opid[24];
	snprintf(as, sizeof(as), "%d", o->asrc);
	snprintf(ad, sizeof(ad), "%d", o->adst);
	snprintf(am, sizeof(am), "%d", o->amount);
	snprintf(nam, sizeof(nam), "-%d", o->amount);
	snprintf(opid, sizeof(opid), "%" PRIu64, o->id);
	int wait = rnd(seed) & 1 ? PC_WAIT_APPLIED : PC_WAIT_DECIDED;
	struct pc_result res;
	memset(&res, 0, sizeof(res));
	int e;
	if (rnd(seed) % 10 < 3) {
		/* One statement per participant, sent with the PREPAREs. */
		const char *ps[5] = {as, am, o->gid, opid, o->src}, *pd[5] = {ad, am, o->gid, opid, o->dst};
		struct pc_stmt st[2] = {
			{o->src,
			 "WITH u AS (UPDATE chaos_accounts SET balance = balance - $2::bigint WHERE id = $1::int "
			 "RETURNING id) INSERT INTO chaos_log(gid, op, delta, db) SELECT $3::text, $4::bigint, "
			 "-$2::bigint, $5::text FROM u",
			 5, ps, 0, NULL},
			{o->dst,
			 "WITH u AS (UPDATE chaos_accounts SET balance = balance + $2::bigint WHERE id = $1::int "
			 "RETURNING id) INSERT INTO chaos_log(gid, op, delta, db) SELECT $3::text, $4::bigint, "
			 "$2::bigint, $5::text FROM u",
			 5, pd, 0, NULL}};
		e = pc_exec_commit(t, st, 2, wait, &res);
		pc_rows_free(&st[0].rows);
		pc_rows_free(&st[1].rows);
	} else {
		const char *p1[2] = {as, am}, *p2[2] = {ad, am};
		const char *l1[4] = {o->gid, opid, nam, o->src}, *l2[4] = {o->gid, opid, am, o->dst};
		const char *ins = "INSERT INTO chaos_log(gid, op, delta, db) VALUES ($1, $2, $3, $4)";
		/* A failed statement dooms the transaction: pc_commit then rolls it back. */
		if (!pc_exec(t, o->src, "UPDATE chaos_accounts SET balance = balance - $2 WHERE id = $1", 2, p1, NULL) &&
		    !pc_exec(t, o->dst, "UPDATE chaos_accounts SET balance = balance + $2 WHERE id = $1", 2, p2, NULL) &&
		    !pc_exec(t, o->src, ins, 4, l1, NULL))
			pc_exec(t, o->dst, ins, 4, l2, NULL);
		e = pc_commit(t, wait, &res);
	}
	if (e)
		record(o, "info", pc_conn_errmsg(pc)); /* nothing decided by the call; maybe before it */
	else
		record(o, outcome_word(res.outcome), res.reason);
	pc_txn_free(&t);
}

/* ------------------------------------------------------------ XA-style */

static int sql_ok(PGconn *db, const char *sql, int np, const char *const *params)
{
	PGresult *r = PQexecParams(db, sql, np, NULL, params, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return ok;
}

static void xa_op(struct pc_conn *pc, PGconn **dbs, struct op *o)
{
	struct pc_txn *t;
	if (pc_begin_xa(pc, &t)) {
		record(o, "fail", pc_conn_errmsg(pc));
		return;
	}
	snprintf(o->gid, sizeof(o->gid), "%s", pc_txn_gid(t));
	const char *names[2] = {o->src, o->dst};
	int accts[2] = {o->asrc, o->adst};
	char xname[2][GID_CAP];
	int prepared[2] = {0, 0}, ok = 1;
	char why[256] = "";
	for (int k = 0; k < 2 && ok; k++) {
		int d = !strcmp(names[k], g_dbname[0]) ? 0 : 1;
		PGconn *db = dbs[d];
		if (pc_xa_name(t, names[k], xname[k], sizeof(xname[k]))) {
			snprintf(why, sizeof(why), "pc_xa_name: %s", pc_conn_errmsg(pc));
			ok = 0;
			break;
		}
		char a[16], delta[16], opid[24], sql[520];
		snprintf(a, sizeof(a), "%d", accts[k]);
		snprintf(delta, sizeof(delta), "%d", k == 0 ? -o->amount : o->amount);
		snprintf(opid, sizeof(opid), "%" PRIu64, o->id);
		const char *pu[2] = {a, delta}, *pl[4] = {o->gid, opid, delta, names[k]};
		snprintf(sql, sizeof(sql), "PREPARE TRANSACTION '%s'", xname[k]);
		if (!db || PQstatus(db) != CONNECTION_OK || !sql_ok(db, "BEGIN", 0, NULL) ||
		    !sql_ok(db, "UPDATE chaos_accounts SET balance = balance + $2::bigint WHERE id = $1::int", 2, pu) ||
		    !sql_ok(db, "INSERT INTO chaos_log(gid, op, delta, db) VALUES ($1, $2, $3, $4)", 4, pl) ||
		    !sql_ok(db, sql, 0, NULL)) {
			snprintf(why, sizeof(why), "%s: %s", names[k], db ? PQerrorMessage(db) : "no connection");
			if (db && PQstatus(db) == CONNECTION_OK)
				sql_ok(db, "ROLLBACK", 0, NULL);
			ok = 0;
			break;
		}
		prepared[k] = 1;
	}
	struct pc_result res;
	memset(&res, 0, sizeof(res));
	int e = ok ? pc_xa_commit(t, &res) : pc_xa_rollback(t, &res);
	if (e) {
		record(o, "info", pc_conn_errmsg(pc));
	} else {
		/* Apply the outcome where prepared; on failure the agents finish it. */
		int applied = 1;
		for (int k = 0; k < 2; k++) {
			if (!prepared[k] || res.outcome == PC_UNKNOWN)
				continue;
			int d = !strcmp(names[k], g_dbname[0]) ? 0 : 1;
			char sql[520];
			snprintf(sql, sizeof(sql), "%s PREPARED '%s'", res.outcome == PC_COMMITTED ? "COMMIT" : "ROLLBACK",
				 xname[k]);
			if (!dbs[d] || !sql_ok(dbs[d], sql, 0, NULL))
				applied = 0;
		}
		if (res.outcome == PC_COMMITTED && applied)
			pc_xa_done(t);
		record(o, outcome_word(res.outcome), ok ? res.reason : why);
	}
	pc_txn_free(&t);
}

/* ------------------------------------------------------------- threads */

static struct pc_conn *connect_retry(void)
{
	char err[512] = "";
	while (!stopping()) {
		struct pc_conn *pc = NULL;
		if (pc_connect(g_config, &pc, err, sizeof(err)) == 0) {
			pc_set_timeouts(pc, 2000, g_commit_ms);
			return pc;
		}
		sleep_ms(200);
	}
	fprintf(stderr, "chaos_client: cannot connect with %s: %s\n", g_config, err);
	return NULL;
}

static void *worker(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t seed = g_seed * 0x9E3779B97F4A7C15ULL + (uint64_t)id * 7919u + 1;
	struct pc_conn *pc = connect_retry();
	PGconn *dbs[MAX_DB] = {NULL, NULL};
	if (!pc)
		return (void *)1;
	while (!stopping()) {
		struct op o;
		memset(&o, 0, sizeof(o));
		pthread_mutex_lock(&g_mu);
		o.id = g_next_op++;
		pthread_mutex_unlock(&g_mu);
		o.thread = id;
		int fwd = rnd(&seed) & 1;
		o.src = fwd ? g_dbname[0] : g_dbname[1];
		o.dst = fwd ? g_dbname[1] : g_dbname[0];
		/* The account on the first database is any; the one on the second
		 * is the thread's own (a slice of the accounts, when there are at
		 * least as many as threads).  Two transfers then never wait for
		 * each other's rows in both databases: a cycle across databases,
		 * which no PostgreSQL can see, would last until the 2 s statement
		 * timeout and, with every thread queued behind its rows, stop
		 * commits for that long whatever the faults do.  Contention on the
		 * first database (and a prepared gid's locks there) stays. */
		int a0 = 1 + (int)(rnd(&seed) % (uint64_t)g_accounts);
		int slice = g_accounts / g_threads;
		int a1 = slice ? 1 + id * slice + (int)(rnd(&seed) % (uint64_t)slice)
			       : 1 + (int)(rnd(&seed) % (uint64_t)g_accounts);
		o.asrc = fwd ? a0 : a1;
		o.adst = fwd ? a1 : a0;
		o.amount = 1 + (int)(rnd(&seed) % 10);
		o.xa = g_ndb == 2 && (int)(rnd(&seed) % 100) < g_xa_percent;
		o.t0 = now_ms();
		if (o.xa) {
			for (int d = 0; d < 2; d++)
				if (!dbs[d] || PQstatus(dbs[d]) != CONNECTION_OK) {
					PQfinish(dbs[d]);
					dbs[d] = PQconnectdb(g_dbinfo[d]);
				}
			xa_op(pc, dbs, &o);
		} else {
			agent_op(pc, &o, &seed);
		}
	}
	for (int d = 0; d < 2; d++)
		PQfinish(dbs[d]);
	pc_conn_close(&pc);
	return NULL;
}

/* The final answer pc_status gives for gid, or "unresolved". */
static const char *status_word(struct pc_conn *pc, const char *gid)
{
	struct pc_result res;
	memset(&res, 0, sizeof(res));
	int rc = pc_status(pc, gid, 2000, &res);
	if (rc >= 0 && res.outcome == PC_ST_COMMITTED)
		return "committed";
	if (rc >= 0 && res.outcome == PC_ST_ABORTED)
		return "aborted";
	if (rc >= 0 && res.outcome == PC_ST_UNKNOWN_GID)
		return "unknown_gid";
	return "unresolved";
}

static void resolve_line(uint64_t op, const char *gid, const char *st)
{
	char line[400];
	snprintf(line, sizeof(line), "resolve\t%" PRIu64 "\t%s\t%s\t%" PRIu64 "\n", op, gid, st, now_ms());
	hist_line(line);
}

/*
 * While the workload runs: ask about each UNKNOWN from 6 s after it was
 * heard (twice the suite's txn_timeout_ms: recovery has had its turn),
 * every 500 ms, until pc_status gives a final answer.  As an application
 * would, and well within the GC horizon: asked only after a long run, a
 * gid past the horizon answers "unknown gid" whatever its outcome was.
 */
#define RESOLVE_AFTER_MS 6000u
static void *resolver(void *arg)
{
	(void)arg;
	struct pc_conn *pc = connect_retry();
	while (pc && !stopping()) {
		for (size_t i = 0;; i++) {
			uint64_t op = 0;
			char gid[GID_CAP];
			pthread_mutex_lock(&g_mu);
			int more = i < g_npend;
			int due = more && !g_pend[i].resolved && now_ms() >= g_pend[i].at + RESOLVE_AFTER_MS;
			if (due) {
				op = g_pend[i].op;
				snprintf(gid, sizeof(gid), "%s", g_pend[i].gid);
			}
			pthread_mutex_unlock(&g_mu);
			if (!more || stopping())
				break;
			if (!due)
				continue;
			const char *st = status_word(pc, gid);
			if (strcmp(st, "unresolved")) {
				resolve_line(op, gid, st);
				pthread_mutex_lock(&g_mu);
				g_pend[i].resolved = 1;
				pthread_mutex_unlock(&g_mu);
			}
		}
		sleep_ms(500);
	}
	pc_conn_close(&pc);
	return NULL;
}

/* Ask the outcome of every unknown one not resolved yet, within the
 * resolve budget. */
static void resolve_all(void)
{
	g_sig = 0;
	g_stop_file = NULL;
	g_deadline_ms = now_ms() + (uint64_t)(g_resolve_s * 1000) + 30000;
	struct pc_conn *pc = connect_retry();
	uint64_t until = now_ms() + (uint64_t)(g_resolve_s * 1000);
	size_t nres = 0;
	for (size_t i = 0; i < g_npend; i++) {
		if (g_pend[i].resolved) {
			nres++;
			continue;
		}
		const char *st = "unresolved";
		while (pc) {
			st = status_word(pc, g_pend[i].gid);
			if (strcmp(st, "unresolved") || now_ms() >= until)
				break;
			sleep_ms(500);
		}
		nres += strcmp(st, "unresolved") != 0;
		resolve_line(g_pend[i].op, g_pend[i].gid, st);
	}
	pc_conn_close(&pc);
	printf("chaos_client: ops=%" PRIu64 " ok=%" PRIu64 " fail=%" PRIu64 " info=%" PRIu64 " resolved=%zu unresolved=%zu\n",
	       g_next_op - 1, g_nok, g_nfail, g_ninfo, nres, g_npend - nres);
}

/* -------------------------------------------------------------- verify */

/* The birth (ms) in a gid <prefix>_<birth>_<client>_<seq>, or 0. */
static uint64_t gid_birth(const char *gid)
{
	const char *p = strchr(gid, '_');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

static int verify(const char *path, uint32_t timeout_ms)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "chaos_client: %s: %s\n", path, strerror(errno));
		return 1;
	}
	g_deadline_ms = now_ms() + 60000;
	struct pc_conn *pc = connect_retry();
	if (!pc) {
		fclose(f);
		return 1;
	}
	char line[2048];
	uint64_t checked = 0, matched = 0, bad = 0, unknown = 0, undecided = 0, noans = 0, past = 0, presumed = 0;
	uint64_t past_late = 0; /* of past: crossed the horizon during this pass */
	uint64_t vstart = now_ms();
	while (fgets(line, sizeof(line), f)) {
		char *w[16];
		int n = 0;
		for (char *p = strtok(line, "\t\n"); p && n < 16; p = strtok(NULL, "\t\n"))
			w[n++] = p;
		const char *gid = NULL, *op = NULL;
		int want = 0;
		if (n >= 8 && !strcmp(w[0], "op") && strcmp(w[4], "-")) {
			op = w[1], gid = w[4];
			want = !strcmp(w[7], "ok") ? PC_ST_COMMITTED : !strcmp(w[7], "fail") ? PC_ST_ABORTED : 0;
		} else if (n >= 4 && !strcmp(w[0], "resolve")) {
			op = w[1], gid = w[2];
			want = !strcmp(w[3], "committed") ? PC_ST_COMMITTED : !strcmp(w[3], "aborted") ? PC_ST_ABORTED : 0;
		}
		if (!want)
			continue;
		checked++;
		int got = PC_ST_NO_ANSWER;
		for (int k = 0; k < 3; k++) {
			struct pc_result res;
			memset(&res, 0, sizeof(res));
			if (pc_status(pc, gid, timeout_ms, &res) >= 0)
				got = res.outcome;
			if (got != PC_ST_NO_ANSWER && got != PC_ST_UNDECIDED)
				break;
		}
		if (got == want) {
			matched++;
		} else if (got == PC_ST_COMMITTED || got == PC_ST_ABORTED) {
			bad++;
			printf("verify: MISMATCH op=%s gid=%s expected=%s got=%s\n", op, gid,
			       want == PC_ST_COMMITTED ? "committed" : "aborted", got == PC_ST_COMMITTED ? "committed" : "aborted");
		} else if (got == PC_ST_UNKNOWN_GID && gid_birth(gid) + g_horizon_ms <= now_ms() + HORIZON_SLACK_MS) {
			/* Forgotten past the GC horizon, as documented.  The
			 * horizon moves on while this pass runs (hundreds of
			 * thousands of gids take minutes), so it is compared
			 * with the time of this answer, not the pass's start. */
			past++;
			if (gid_birth(gid) + g_horizon_ms > vstart + HORIZON_SLACK_MS)
				past_late++;
		} else if (got == PC_ST_UNKNOWN_GID && want == PC_ST_ABORTED) {
			/* "Never accepted": presumed abort, the same outcome
			 * (docs/design.md "Status and presumed abort").  Counted apart. */
			presumed++;
			printf("verify: PRESUMED-ABORT op=%s gid=%s\n", op, gid);
		} else if (got == PC_ST_UNKNOWN_GID) {
			unknown++;
			printf("verify: UNKNOWN op=%s gid=%s expected=%s\n", op, gid,
			       want == PC_ST_COMMITTED ? "committed" : "aborted");
		} else if (got == PC_ST_UNDECIDED) {
			/* An outcome the cluster acknowledged, no longer known:
			 * lost (a replica that forgot its log answers so). */
			undecided++;
			printf("verify: UNDECIDED op=%s gid=%s expected=%s\n", op, gid,
			       want == PC_ST_COMMITTED ? "committed" : "aborted");
		} else {
			noans++;
		}
	}
	fclose(f);
	pc_conn_close(&pc);
	printf("verify: checked=%" PRIu64 " matched=%" PRIu64 " mismatched=%" PRIu64 " unknown_gid=%" PRIu64
	       " undecided=%" PRIu64 " no_answer=%" PRIu64 " past_horizon=%" PRIu64 " presumed_abort=%" PRIu64
	       " past_horizon_during_pass=%" PRIu64 " pass_ms=%" PRIu64 "\n",
	       checked, matched, bad, unknown, undecided, noans, past, presumed, past_late, now_ms() - vstart);
	return bad ? 1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: chaos_client --config FILE --history FILE [--seconds S] [--threads N] [--accounts K]\n"
		   "                    [--xa-percent P] [--db NAME=CONNINFO]... [--stop-file PATH] [--seed N]\n"
		   "                    [--commit-timeout-ms MS] [--resolve-seconds S]\n"
		   "       chaos_client --config FILE --verify HISTORY [--timeout-ms MS] [--horizon-ms MS]\n"
		   "The chaos suite's workload: bank transfers between two participants through\n"
		   "paxcommit, every operation recorded in the history (see the source's head).\n"
		   "Exit status: 0 ok, 1 failure (--verify: an outcome changed), 2 usage.\n");
}

int main(int argc, char **argv)
{
	const char *hist = NULL, *ver = NULL;
	uint32_t vtimeout = 3000;
	g_seed = (uint64_t)time(NULL);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		}
		if (!v) {
			fprintf(stderr, "chaos_client: %s needs a value\n", a);
			return 2;
		}
		i++;
		if (!strcmp(a, "--config"))
			g_config = v;
		else if (!strcmp(a, "--history"))
			hist = v;
		else if (!strcmp(a, "--verify"))
			ver = v;
		else if (!strcmp(a, "--seconds"))
			g_seconds = atof(v);
		else if (!strcmp(a, "--threads"))
			g_threads = atoi(v);
		else if (!strcmp(a, "--accounts"))
			g_accounts = atoi(v);
		else if (!strcmp(a, "--xa-percent"))
			g_xa_percent = atoi(v);
		else if (!strcmp(a, "--stop-file"))
			g_stop_file = v;
		else if (!strcmp(a, "--seed"))
			g_seed = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--commit-timeout-ms"))
			g_commit_ms = (uint32_t)atoi(v);
		else if (!strcmp(a, "--resolve-seconds"))
			g_resolve_s = atof(v);
		else if (!strcmp(a, "--horizon-ms"))
			g_horizon_ms = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--timeout-ms"))
			vtimeout = (uint32_t)atoi(v);
		else if (!strcmp(a, "--db")) {
			const char *eq = strchr(v, '=');
			if (!eq || g_ndb == MAX_DB || eq - v >= (long)sizeof(g_dbname[0]) || eq == v) {
				fprintf(stderr, "chaos_client: --db takes NAME=CONNINFO, at most twice\n");
				return 2;
			}
			snprintf(g_dbname[g_ndb], sizeof(g_dbname[0]), "%.*s", (int)(eq - v), v);
			g_dbinfo[g_ndb++] = eq + 1;
		} else {
			fprintf(stderr, "chaos_client: unknown option %s\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (!g_config || (!hist && !ver) || g_threads < 1 || g_threads > 64 || g_accounts < 1 || g_seed == 0) {
		usage(stderr);
		return 2;
	}
	if (ver)
		return verify(ver, vtimeout);
	if (g_ndb < 2) {
		snprintf(g_dbname[0], sizeof(g_dbname[0]), "a");
		snprintf(g_dbname[1], sizeof(g_dbname[1]), "b");
		g_ndb = 0; /* no XA-style operations without connections */
	}
	g_hist = fopen(hist, "a");
	if (!g_hist) {
		fprintf(stderr, "chaos_client: %s: %s\n", hist, strerror(errno));
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	g_deadline_ms = now_ms() + (uint64_t)(g_seconds * 1000);
	char line[200];
	snprintf(line, sizeof(line), "start\t%" PRIu64 "\t%d\t%d\t%" PRIu64 "\n", now_ms(), g_threads, g_accounts, g_seed);
	hist_line(line);
	pthread_t th[64];
	int failed = 0;
	for (int i = 0; i < g_threads; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i)) {
			fprintf(stderr, "chaos_client: cannot start thread %d\n", i);
			g_threads = i;
			failed = 1;
			break;
		}
	pthread_t rth;
	int have_rth = pthread_create(&rth, NULL, resolver, NULL) == 0;
	for (int i = 0; i < g_threads; i++) {
		void *r = NULL;
		pthread_join(th[i], &r);
		failed |= r != NULL;
	}
	if (have_rth)
		pthread_join(rth, NULL);
	resolve_all();
	snprintf(line, sizeof(line), "end\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\n", now_ms(),
		 g_next_op - 1, g_nok, g_nfail, g_ninfo);
	hist_line(line);
	fclose(g_hist);
	free(g_pend);
	return failed ? 1 : 0;
}
