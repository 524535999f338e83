/*
 * demo_bank.c - paxcommit-demo-bank: the demo's workload, an example of the
 * client library.  Several client threads move money between the
 * `accounts` tables (sql/demo_bank.sql) of two participants, one UPDATE on
 * each, as one distributed transaction each, for a while; it prints
 * progress every second, and at the end waits until no transaction is in
 * doubt and compares the total balance before and after.
 *
 * usage: paxcommit-demo-bank --config FILE [--seconds S] [--clients N]
 *                            [--from NAME] [--to NAME]
 * Exit status: 0 if the totals match and nothing is left in doubt, 1 if
 * not, 2 on bad usage.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "paxcommit.h"
#include "px_config.h"

#define MAX_CLIENTS 64
#define ACCOUNTS 1000

static const char *g_config, *g_from = NULL, *g_to = NULL;
static int g_seconds = 20, g_clients = 4;
static volatile int g_stop;
static long g_committed, g_aborted, g_unknown, g_errors;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;

/* transactions whose outcome the client did not hear */
static char (*g_pending)[200];
static size_t g_npending, g_cappending;

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static void *client(void *arg)
{
	uint64_t seed = (uint64_t)(uintptr_t)arg * 7919u + (uint64_t)time(NULL);
	struct pc_conn *pc;
	char err[600];
	if (pc_connect(g_config, &pc, err, sizeof(err))) {
		fprintf(stderr, "demo: %s\n", err);
		return NULL;
	}
	pc_set_timeouts(pc, 2000, 10000);
	while (!g_stop) {
		int forward = rnd(&seed) & 1;
		const char *src = forward ? g_from : g_to, *dst = forward ? g_to : g_from;
		char ida[16], idb[16], amt[16];
		snprintf(ida, sizeof(ida), "%d", 1 + (int)(rnd(&seed) % ACCOUNTS));
		snprintf(idb, sizeof(idb), "%d", 1 + (int)(rnd(&seed) % ACCOUNTS));
		snprintf(amt, sizeof(amt), "%d", 1 + (int)(rnd(&seed) % 100));
		struct pc_txn *t;
		if (pc_begin(pc, &t))
			break;
		const char *p1[2] = {ida, amt}, *p2[2] = {idb, amt};
		/* a debit that would overdraw violates the CHECK: the transfer aborts */
		if (pc_exec(t, src, "UPDATE accounts SET balance = balance - $2 WHERE id = $1", 2, p1, NULL) == 0)
			pc_exec(t, dst, "UPDATE accounts SET balance = balance + $2 WHERE id = $1", 2, p2, NULL);
		struct pc_result res;
		int e = pc_commit(t, PC_WAIT_APPLIED, &res);
		pthread_mutex_lock(&g_mu);
		if (e) {
			g_errors++;
		} else if (res.outcome == PC_COMMITTED) {
			g_committed++;
		} else if (res.outcome == PC_ABORTED) {
			g_aborted++;
		} else {
			g_unknown++;
			if (g_npending == g_cappending) {
				size_t nc = g_cappending ? g_cappending * 2 : 64;
				void *np = realloc(g_pending, nc * sizeof(*g_pending));
				if (np) {
					g_pending = np;
					g_cappending = nc;
				}
			}
			if (g_npending < g_cappending)
				snprintf(g_pending[g_npending++], 200, "%s", pc_txn_gid(t));
		}
		pthread_mutex_unlock(&g_mu);
		pc_txn_free(&t);
	}
	pc_conn_close(&pc);
	return NULL;
}

/* Sum of balances on each participant, and the number of prepared
 * transactions of this cluster; -1 if a database does not answer. */
static int totals(const struct px_config *cfg, long long *sum, long *in_doubt)
{
	*sum = 0;
	*in_doubt = 0;
	char prefix[80];
	snprintf(prefix, sizeof(prefix), "%s_", cfg->name);
	for (uint16_t i = 0; i < cfg->npart; i++) {
		const char *name = cfg->part[i].name;
		if (strcmp(name, g_from) && strcmp(name, g_to))
			continue;
		const char *keys[] = {"dbname", "connect_timeout", NULL};
		const char *vals[] = {cfg->part[i].conninfo, "5", NULL};
		PGconn *db = PQconnectdbParams(keys, vals, 1);
		if (PQstatus(db) != CONNECTION_OK) {
			PQfinish(db);
			return -1;
		}
		PGresult *r = PQexec(db, "SELECT sum(balance) FROM accounts");
		int ok = PQresultStatus(r) == PGRES_TUPLES_OK;
		if (ok)
			*sum += atoll(PQgetvalue(r, 0, 0));
		PQclear(r);
		const char *pv[1] = {prefix};
		r = PQexecParams(db, "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database() "
				     "AND starts_with(gid, $1)", 1, NULL, pv, NULL, NULL, 0);
		ok = ok && PQresultStatus(r) == PGRES_TUPLES_OK;
		if (ok)
			*in_doubt += atol(PQgetvalue(r, 0, 0));
		PQclear(r);
		PQfinish(db);
		if (!ok)
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			g_config = argv[++i];
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			g_seconds = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--clients") && i + 1 < argc)
			g_clients = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--from") && i + 1 < argc)
			g_from = argv[++i];
		else if (!strcmp(argv[i], "--to") && i + 1 < argc)
			g_to = argv[++i];
		else {
			fprintf(stderr, "usage: paxcommit-demo-bank --config FILE [--seconds S] [--clients N] "
					"[--from NAME] [--to NAME]\n");
			return !strcmp(argv[i], "--help") ? 0 : 2;
		}
	}
	if (!g_config || g_seconds < 1 || g_clients < 1 || g_clients > MAX_CLIENTS) {
		fprintf(stderr, "paxcommit-demo-bank: --config is required; 1 <= --clients <= %d\n", MAX_CLIENTS);
		return 2;
	}
	struct px_config cfg;
	char err[1200];
	if (px_config_load(g_config, &cfg, err, sizeof(err))) {
		fprintf(stderr, "paxcommit-demo-bank: %s\n", err);
		return 2;
	}
	if (cfg.npart < 2) {
		fprintf(stderr, "paxcommit-demo-bank: the demo needs two participants\n");
		return 2;
	}
	if (!g_from)
		g_from = cfg.part[0].name;
	if (!g_to)
		g_to = cfg.part[1].name;
	long long before, after;
	long doubt;
	if (totals(&cfg, &before, &doubt)) {
		fprintf(stderr, "paxcommit-demo-bank: cannot read the accounts (load sql/demo_bank.sql)\n");
		return 2;
	}
	printf("total balance before: %lld (participants %s and %s)\n", before, g_from, g_to);
	fflush(stdout);
	pthread_t th[MAX_CLIENTS];
	for (int i = 0; i < g_clients; i++)
		pthread_create(&th[i], NULL, client, (void *)(uintptr_t)(i + 1));
	uint64_t start = mono_ms();
	long last = 0;
	for (int s = 1; s <= g_seconds; s++) {
		while (mono_ms() < start + (uint64_t)s * 1000u) {
			struct timespec ts = {0, 50000000};
			nanosleep(&ts, NULL);
		}
		pthread_mutex_lock(&g_mu);
		long c = g_committed, a = g_aborted, u = g_unknown, e = g_errors;
		pthread_mutex_unlock(&g_mu);
		printf("t=%2ds  committed %6ld  aborted %5ld  unknown %3ld  errors %3ld  (%ld commits/s)\n", s, c, a, u, e,
		       c - last);
		fflush(stdout);
		last = c;
	}
	g_stop = 1;
	for (int i = 0; i < g_clients; i++)
		pthread_join(th[i], NULL);
	/* Transactions whose outcome was not heard are finished by the
	 * coordinators; wait for that, and for nothing to be in doubt. */
	struct pc_conn *pc;
	if (pc_connect(g_config, &pc, err, sizeof(err)) == 0) {
		uint64_t end = mono_ms() + 60000;
		for (size_t i = 0; i < g_npending && mono_ms() < end; i++) {
			struct pc_result r;
			while (mono_ms() < end && pc_status(pc, g_pending[i], 2000, &r) == 0 &&
			       r.outcome != PC_ST_COMMITTED && r.outcome != PC_ST_ABORTED && r.outcome != PC_ST_UNKNOWN_GID) {
				struct timespec ts = {0, 100000000};
				nanosleep(&ts, NULL);
			}
		}
		pc_conn_close(&pc);
	}
	uint64_t end = mono_ms() + 60000;
	int rc;
	while ((rc = totals(&cfg, &after, &doubt)) != 0 || doubt > 0) {
		if (mono_ms() > end)
			break;
		struct timespec ts = {0, 200000000};
		nanosleep(&ts, NULL);
	}
	printf("\ntransactions: %ld committed, %ld aborted, %ld unknown to their client (all since finished), "
	       "%ld errors\n",
	       g_committed, g_aborted, g_unknown, g_errors);
	printf("total balance before: %lld\n", before);
	printf("total balance after:  %lld  %s\n", after, after == before ? "(equal)" : "(DIFFERENT!)");
	printf("prepared transactions left in doubt: %ld\n", rc ? -1 : doubt);
	free(g_pending);
	px_config_free(&cfg);
	return rc == 0 && after == before && doubt == 0 ? 0 : 1;
}
