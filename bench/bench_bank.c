/*
 * bench_bank.c - the bank transfer of the demo (sql/demo_bank.sql), run by
 * N client threads for S seconds by one "system", reporting throughput and
 * latency (p50, p99) as one JSON line on stdout.
 *
 *   bench_bank --config FILE --system SYS --clients N --seconds S
 *              [--wait applied|decided] [--exec-commit] [--label TEXT]
 *
 * The systems (each client thread has its own connections):
 *   B0   one plain transaction on database a: BEGIN, UPDATE -, UPDATE +,
 *        COMMIT.  The floor of PostgreSQL itself.
 *   B1   naive client-driven 2PC over databases a and b with libpq: each
 *        step sent to both at once, then both results read: BEGIN, UPDATE,
 *        PREPARE TRANSACTION, COMMIT PREPARED.  Nothing about the decision is
 *        durable; a client death leaves transactions in doubt.
 *   B1L  single-coordinator durable 2PC, as Citus does it: B1, plus the
 *        commit record written (INSERT, autocommit) in the coordinator's own
 *        PostgreSQL database (participant c's server, table
 *        bench_commit_records) between PREPARE and COMMIT PREPARED.  It
 *        blocks when that coordinator dies.
 *   B2   paxcommit: pc_begin, pc_exec_parallel of the two UPDATEs (a and b
 *        at once), pc_commit with --wait (applied by default); with
 *        --exec-commit, pc_exec_commit: the two UPDATEs and the commit in
 *        one round trip.
 * "commit_p50_ms" is the p50 of the commit step alone (B1, B1L: PREPARE to
 * COMMIT PREPARED; B2: pc_commit; 0 with --exec-commit, which has no
 * separate step).  BENCH_SLOW_MS=N prints the gid of every B2 transfer
 * slower than N ms, to look for in the daemons' logs.
 * Accounts are chosen at random among 1000 in each database; an overdraft
 * aborts (counted, not timed).  The first second is a warm-up, not counted.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "paxcommit.h"
#include "px_config.h"

#define MAXC 256
#define LAT_MAX 2000000

enum sys { S_B0, S_B1, S_B1L, S_B2 };

static const char *g_config;
static enum sys g_sys;
static int g_clients = 1, g_seconds = 5, g_wait = PC_WAIT_APPLIED;
static int g_exec_commit; /* B2: pc_exec_commit (updates and commit in one round trip) */
static int g_xa;          /* B2: XA-style, the client's own libpq connections */
static double g_slow_ms;  /* BENCH_SLOW_MS: print the gids of slower B2 transactions */
static const char *g_label = "";
static char g_ci[3][1024]; /* conninfo of participants a, b, c */
static volatile int g_measure, g_stop;

struct worker {
	int id;
	uint64_t seed;
	long committed, aborted, errors;
	double *lat; /* ms */
	double *lat2; /* ms of the commit phase alone (B1, B1L, B2) */
	size_t nlat;
	char err[300];
};

/* The machine's busy CPU time so far, in ms (all CPUs; /proc/stat's user,
 * nice, system, irq and softirq; not steal), or -1.  Everything of a run (the
 * clients, PostgreSQL, the agents and coordinators) runs on this machine,
 * so busy time over committed transactions is what one costs, whatever
 * the neighbours do to the clock. */
static double busy_ms(void)
{
	FILE *f = fopen("/proc/stat", "r");
	if (!f)
		return -1;
	unsigned long long v[8] = {0};
	int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		       &v[6], &v[7]);
	fclose(f);
	if (n != 8)
		return -1;
	long hz = sysconf(_SC_CLK_TCK);
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6]) * 1000.0 / (double)(hz > 0 ? hz : 100);
}

/* This process's own CPU time so far (all threads), in ms. */
static double self_ms(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000.0 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000.0;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static uint64_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

static PGconn *db(int i)
{
	const char *k[] = {"dbname", NULL}, *v[] = {g_ci[i], NULL};
	PGconn *c = PQconnectdbParams(k, v, 1);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "bench_bank: connect: %s", PQerrorMessage(c));
		exit(1);
	}
	/* as the agents do: a distributed deadlock ends in an abort, not a hang */
	PQclear(PQexec(c, "SET lock_timeout = 3000"));
	if (g_xa && !PQenterPipelineMode(c)) { /* XA-style sessions stay in it */
		fprintf(stderr, "bench_bank: pipeline mode: %s", PQerrorMessage(c));
		exit(1);
	}
	return c;
}

/* Send sql (with params) on every conn of cs at once, then read every
 * result.  Returns 0 if all succeeded. */
static int all(PGconn **cs, int n, const char *const *sqls, const char *const (*params)[2], int nparams)
{
	int ok = 1;
	for (int i = 0; i < n; i++)
		if (!PQsendQueryParams(cs[i], sqls[i], nparams, NULL, nparams ? params[i] : NULL, NULL, NULL, 0))
			ok = 0;
	for (int i = 0; i < n; i++) {
		PGresult *r;
		while ((r = PQgetResult(cs[i]))) {
			int st = PQresultStatus(r);
			if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
				ok = 0;
			PQclear(r);
		}
	}
	return ok ? 0 : -1;
}

/* Read a pipeline's results up to its Sync; returns how many statements
 * answered, and clears *ok if one failed. */
static int pipe_drain(PGconn *c, int *ok)
{
	int q = 0;
	for (;;) {
		PGresult *r = PQgetResult(c);
		if (!r) {
			if (PQstatus(c) != CONNECTION_OK) {
				*ok = 0;
				return q;
			}
			continue; /* the end of one statement's results */
		}
		int st = PQresultStatus(r);
		PQclear(r);
		if (st == PGRES_PIPELINE_SYNC)
			return q;
		if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
			*ok = 0;
		q++;
	}
}

/* sql alone, in pipeline mode: one round trip. */
static int pipe_exec(PGconn *c, const char *sql)
{
	int ok = PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0) && PQpipelineSync(c);
	if (ok)
		pipe_drain(c, &ok);
	return ok;
}

/* XA-style: on each of cs[0..n), in pipeline mode, BEGIN, sqls[i] with
 * params[i], PREPARE TRANSACTION names[i], then one Sync: one round trip,
 * all at once.  A failure leaves that session's transaction open and
 * failed, or prepared; ok[i] says whether PREPARE succeeded. */
static void xa_prepare(PGconn **cs, int n, const char *const *sqls, const char *const (*params)[2],
		       char (*names)[256], int *ok)
{
	for (int i = 0; i < n; i++) {
		char prep[600];
		snprintf(prep, sizeof(prep), "PREPARE TRANSACTION '%s'", names[i]);
		ok[i] = PQsendQueryParams(cs[i], "BEGIN", 0, NULL, NULL, NULL, NULL, 0) &&
			PQsendQueryParams(cs[i], sqls[i], 2, NULL, params[i], NULL, NULL, 0) &&
			PQsendQueryParams(cs[i], prep, 0, NULL, NULL, NULL, NULL, 0) && PQpipelineSync(cs[i]);
	}
	for (int i = 0; i < n; i++) {
		if (pipe_drain(cs[i], &ok[i]) != 3)
			ok[i] = 0;
		if (PQtransactionStatus(cs[i]) != PQTRANS_IDLE) /* failed before PREPARE */
			pipe_exec(cs[i], "ROLLBACK");
	}
}

/* XA-style: COMMIT (or ROLLBACK) PREPARED names[i] on each cs[i], at
 * once; a rollback only where PREPARE succeeded (prepared[i]).  Returns 1
 * if every one succeeded. */
static int xa_finish(PGconn **cs, int n, char (*names)[256], const int *prepared, int commit)
{
	int ok = 1, sent[2] = {0, 0};
	for (int i = 0; i < n && i < 2; i++) {
		if (!commit && !prepared[i])
			continue;
		char q[600];
		snprintf(q, sizeof(q), "%s PREPARED '%s'", commit ? "COMMIT" : "ROLLBACK", names[i]);
		sent[i] = PQsendQueryParams(cs[i], q, 0, NULL, NULL, NULL, NULL, 0) && PQpipelineSync(cs[i]);
		ok &= sent[i];
	}
	for (int i = 0; i < n && i < 2; i++)
		if (sent[i])
			pipe_drain(cs[i], &ok);
	return ok;
}

static void rollback_all(PGconn **cs, int n)
{
	for (int i = 0; i < n; i++)
		PQclear(PQexec(cs[i], "ROLLBACK"));
}

static void *work(void *arg)
{
	struct worker *w = arg;
	PGconn *cs[3] = {NULL, NULL, NULL};
	struct pc_conn *pc = NULL;
	if (g_sys == S_B2) {
		char err[600];
		if (pc_connect(g_config, &pc, err, sizeof(err))) {
			fprintf(stderr, "bench_bank: %s\n", err);
			exit(1);
		}
	}
	if (g_sys != S_B2 || g_xa) {
		cs[0] = db(0);
		if (g_sys != S_B0)
			cs[1] = db(1);
		if (g_sys == S_B1L)
			cs[2] = db(2);
	}
	uint64_t seq = 0;
	while (!g_stop) {
		char ida[16], idb[16], amt[16], gid[128];
		uint64_t x = rnd(&w->seed), y = rnd(&w->seed);
		int a = 1 + (int)(x % 1000), b = 1 + (int)(y % 1000);
		if (g_sys == S_B0 && a == b)
			b = a % 1000 + 1;
		if (g_sys == S_B0 && a > b) { /* one lock order: no deadlocks */
			int t = a;
			a = b;
			b = t;
		}
		snprintf(ida, sizeof(ida), "%d", a);
		snprintf(idb, sizeof(idb), "%d", b);
		snprintf(amt, sizeof(amt), "%d", 1 + (int)(rnd(&w->seed) % 20));
		int measured = g_measure;
		double t0 = now_ms(), t1 = 0;
		int committed = 0, failed = 0;
		if (g_sys == S_B0) {
			const char *p1[2] = {ida, amt}, *p2[2] = {idb, amt};
			PGresult *r = PQexec(cs[0], "BEGIN");
			PQclear(r);
			r = PQexecParams(cs[0], "UPDATE accounts SET balance = balance - $2 WHERE id = $1", 2, NULL, p1, NULL,
					 NULL, 0);
			failed = PQresultStatus(r) != PGRES_COMMAND_OK;
			PQclear(r);
			if (!failed) {
				r = PQexecParams(cs[0], "UPDATE accounts SET balance = balance + $2 WHERE id = $1", 2, NULL, p2,
						 NULL, NULL, 0);
				failed = PQresultStatus(r) != PGRES_COMMAND_OK;
				PQclear(r);
			}
			r = PQexec(cs[0], failed ? "ROLLBACK" : "COMMIT");
			committed = !failed && PQresultStatus(r) == PGRES_COMMAND_OK;
			PQclear(r);
		} else if (g_sys == S_B1 || g_sys == S_B1L) {
			snprintf(gid, sizeof(gid), "bench_%d_%llu_%ld", w->id, (unsigned long long)++seq, (long)time(NULL));
			const char *begin[2] = {"BEGIN", "BEGIN"};
			/* money flows a -> b or b -> a at random, so neither side drains */
			int fwd = (int)(rnd(&w->seed) & 1);
			const char *minus = "UPDATE accounts SET balance = balance - $2 WHERE id = $1",
				   *plus = "UPDATE accounts SET balance = balance + $2 WHERE id = $1";
			const char *upd[2] = {fwd ? minus : plus, fwd ? plus : minus};
			const char *const params[2][2] = {{ida, amt}, {idb, amt}};
			char prep[200], comm[200];
			snprintf(prep, sizeof(prep), "PREPARE TRANSACTION '%s'", gid);
			snprintf(comm, sizeof(comm), "COMMIT PREPARED '%s'", gid);
			const char *preps[2] = {prep, prep}, *comms[2] = {comm, comm};
			if (all(cs, 2, begin, NULL, 0) || all(cs, 2, upd, params, 2)) {
				rollback_all(cs, 2);
				failed = 1;
			} else if ((t1 = now_ms()) > 0 && all(cs, 2, preps, NULL, 0)) {
				/* a failed PREPARE rolled back; roll back the other */
				for (int i = 0; i < 2; i++) {
					char rb[200];
					snprintf(rb, sizeof(rb), "ROLLBACK PREPARED '%s'", gid);
					PQclear(PQexec(cs[i], rb));
				}
				failed = 1;
			} else {
				if (g_sys == S_B1L) {
					const char *pv[1] = {gid};
					PGresult *r = PQexecParams(cs[2], "INSERT INTO bench_commit_records(gid) VALUES ($1)", 1,
								   NULL, pv, NULL, NULL, 0);
					if (PQresultStatus(r) != PGRES_COMMAND_OK)
						failed = 1;
					PQclear(r);
				}
				if (!failed && all(cs, 2, comms, NULL, 0) == 0)
					committed = 1;
				else
					failed = 1;
			}
		} else {
			struct pc_txn *t;
			if ((g_xa ? pc_begin_xa : pc_begin)(pc, &t)) {
				w->errors++;
				break;
			}
			const char *p1[2] = {ida, amt}, *p2[2] = {idb, amt};
			int fwd = (int)(rnd(&w->seed) & 1);
			const char *minus = "UPDATE accounts SET balance = balance - $2 WHERE id = $1",
				   *plus = "UPDATE accounts SET balance = balance + $2 WHERE id = $1";
			/* both updates at once, as B1 does; the direction at random */
			struct pc_stmt st[2] = {{.participant = "a", .sql = fwd ? minus : plus, .nparams = 2, .params = p1},
						{.participant = "b", .sql = fwd ? plus : minus, .nparams = 2, .params = p2}};
			struct pc_result r;
			int e;
			if (g_xa) {
				/* XA-style: BEGIN, the UPDATE and PREPARE on the
				 * client's own connections, one round trip each; the
				 * coordinators decide; then COMMIT PREPARED here. */
				char names[2][256];
				int ok[2] = {0, 0};
				const char *sqls[2] = {st[0].sql, st[1].sql};
				const char *const params[2][2] = {{ida, amt}, {idb, amt}};
				e = pc_xa_name(t, "a", names[0], sizeof(names[0]));
				if (!e)
					e = pc_xa_name(t, "b", names[1], sizeof(names[1]));
				if (!e) {
					xa_prepare(cs, 2, sqls, params, names, ok);
					t1 = now_ms();
					e = ok[0] && ok[1] ? pc_xa_commit(t, &r) : pc_xa_rollback(t, &r);
				}
				if (!e && r.outcome != PC_UNKNOWN) {
					if (xa_finish(cs, 2, names, ok, r.outcome == PC_COMMITTED))
						pc_xa_done(t);
					else if (r.outcome == PC_COMMITTED)
						e = -1; /* the agents will finish it; not counted */
				}
			} else if (g_exec_commit) {
				e = pc_exec_commit(t, st, 2, g_wait, &r);
			} else {
				pc_exec_parallel(t, st, 2);
				t1 = now_ms();
				e = pc_commit(t, g_wait, &r);
			}
			pc_rows_free(&st[0].rows);
			pc_rows_free(&st[1].rows);
			if (g_slow_ms > 0 && now_ms() - t0 > g_slow_ms) /* to find it in the daemons' logs */
				fprintf(stderr, "bench_bank: slow: %s took %.1f ms\n", pc_txn_gid(t), now_ms() - t0);
			committed = e == 0 && r.outcome == PC_COMMITTED;
			failed = !committed;
			if (e)
				snprintf(w->err, sizeof(w->err), "%s", pc_conn_errmsg(pc));
			pc_txn_free(&t);
		}
		double dt = now_ms() - t0;
		if (measured && g_measure && !g_stop) {
			if (committed) {
				w->committed++;
				if (w->nlat < LAT_MAX) {
					w->lat2[w->nlat] = t1 > 0 ? now_ms() - t1 : 0;
					w->lat[w->nlat++] = dt;
				}
			} else if (failed) {
				w->aborted++;
			}
		}
	}
	for (int i = 0; i < 3; i++)
		if (cs[i])
			PQfinish(cs[i]);
	pc_conn_close(&pc);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *sys = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			g_config = argv[++i];
		else if (!strcmp(argv[i], "--system") && i + 1 < argc)
			sys = argv[++i];
		else if (!strcmp(argv[i], "--clients") && i + 1 < argc)
			g_clients = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			g_seconds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--label") && i + 1 < argc)
			g_label = argv[++i];
		else if (!strcmp(argv[i], "--exec-commit"))
			g_exec_commit = 1;
		else if (!strcmp(argv[i], "--xa"))
			g_xa = 1;
		else if (!strcmp(argv[i], "--wait") && i + 1 < argc)
			g_wait = !strcmp(argv[++i], "decided") ? PC_WAIT_DECIDED : PC_WAIT_APPLIED;
		else {
			fprintf(stderr, "usage: bench_bank --config FILE --system B0|B1|B1L|B2 --clients N --seconds S "
					"[--wait applied|decided] [--exec-commit] [--xa] [--label TEXT]\n");
			return 2;
		}
	}
	if (!g_config || !sys || g_clients < 1 || g_clients > MAXC || g_seconds < 1)
		return 2;
	if (getenv("BENCH_SLOW_MS"))
		g_slow_ms = atof(getenv("BENCH_SLOW_MS"));
	g_sys = !strcmp(sys, "B0") ? S_B0 : !strcmp(sys, "B1") ? S_B1 : !strcmp(sys, "B1L") ? S_B1L : S_B2;
	struct px_config cfg;
	char err[1200];
	if (px_config_load(g_config, &cfg, err, sizeof(err))) {
		fprintf(stderr, "bench_bank: %s\n", err);
		return 2;
	}
	for (int i = 0; i < 3 && i < cfg.npart; i++)
		snprintf(g_ci[i], sizeof(g_ci[i]), "%s", cfg.part[i].conninfo);
	px_config_free(&cfg);
	struct worker *w = calloc((size_t)g_clients, sizeof(*w));
	pthread_t th[MAXC];
	for (int i = 0; i < g_clients; i++) {
		w[i].id = i;
		w[i].seed = 12345u + (uint64_t)i * 7919u;
		w[i].lat = malloc(sizeof(double) * LAT_MAX);
		w[i].lat2 = malloc(sizeof(double) * LAT_MAX);
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	struct timespec warm = {1, 0};
	nanosleep(&warm, NULL);
	double t0 = now_ms(), b0 = busy_ms(), s0 = self_ms();
	g_measure = 1;
	struct timespec run = {g_seconds, 0};
	nanosleep(&run, NULL);
	g_measure = 0;
	double secs = (now_ms() - t0) / 1000.0, busy = b0 >= 0 ? busy_ms() - b0 : -1, self = self_ms() - s0;
	g_stop = 1;
	for (int i = 0; i < g_clients; i++)
		pthread_join(th[i], NULL);
	long committed = 0, aborted = 0, errors = 0;
	size_t n = 0;
	for (int i = 0; i < g_clients; i++) {
		committed += w[i].committed;
		aborted += w[i].aborted;
		errors += w[i].errors;
		n += w[i].nlat;
		if (w[i].err[0])
			fprintf(stderr, "bench_bank: client %d: %s\n", i, w[i].err);
	}
	double *all_lat = malloc(sizeof(double) * (n + 1)), *all_lat2 = malloc(sizeof(double) * (n + 1));
	size_t k = 0;
	for (int i = 0; i < g_clients; i++) {
		memcpy(all_lat + k, w[i].lat, sizeof(double) * w[i].nlat);
		memcpy(all_lat2 + k, w[i].lat2, sizeof(double) * w[i].nlat);
		k += w[i].nlat;
		free(w[i].lat);
		free(w[i].lat2);
	}
	qsort(all_lat, n, sizeof(double), cmp);
	qsort(all_lat2, n, sizeof(double), cmp);
	double p50 = n ? all_lat[n / 2] : 0, p99 = n ? all_lat[(size_t)((double)n * 0.99)] : 0;
	double c50 = n ? all_lat2[n / 2] : 0;
	printf("{\"system\": \"%s\", \"label\": \"%s\", \"clients\": %d, \"seconds\": %.2f, \"committed\": %ld, "
	       "\"aborted\": %ld, \"errors\": %ld, \"tps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"commit_p50_ms\": %.3f, "
	       "\"cpu_ms_per_txn\": %.3f, \"client_cpu_ms_per_txn\": %.3f}\n",
	       sys, g_label, g_clients, secs, committed, aborted, errors, (double)committed / secs, p50, p99, c50,
	       busy >= 0 && committed ? busy / (double)committed : 0.0, committed ? self / (double)committed : 0.0);
	free(all_lat);
	free(all_lat2);
	free(w);
	return 0;
}
