/*
 * pgc.c - see pgc.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "cluster.h"
#include "e2e_run.h"
#include "pgc.h"
#include "px_config.h"

int dc(struct pgc *c, const char *fmt, ...)
{
	char args[512], cmd[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "scripts/devcluster %s --dir '%s' >>'%s/devcluster.out' 2>&1", args, c->dir, c->base);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int setup(void **state)
{
	struct pgc *c = calloc(1, sizeof(*c));
	*state = c;
	return c ? 0 : -1;
}

int teardown(void **state)
{
	struct pgc *c = *state;
	if (c->up)
		dc(c, "down");
	if (c->base[0] && !getenv("PAXCOMMIT_KEEP")) {
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->base);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", c->base);
	} else if (c->base[0]) {
		fprintf(stderr, "kept %s\n", c->base);
	}
	free(c);
	return 0;
}

struct pc_conn *connect_to(struct pgc *c)
{
	return e2e_connect(c->conf);
}

/* pc_exec_commit of one statement on a and one on b (wait=applied), then
 * free the rows and *t; returns the outcome (PC_COMMITTED, ...). */
int exec_commit_ab(struct pc_txn **t, const char *on_a, const char *on_b)
{
	struct pc_result r;
	struct pc_stmt st[2] = {{.participant = "a", .sql = on_a}, {.participant = "b", .sql = on_b}};
	assert_int_equal(pc_exec_commit(*t, st, 2, PC_WAIT_APPLIED, &r), 0);
	pc_rows_free(&st[0].rows);
	pc_rows_free(&st[1].rows);
	pc_txn_free(t);
	return r.outcome;
}

static PGconn *conn_as(struct pgc *c, const char *name, const char *user)
{
	struct px_config cfg;
	char err[600];
	assert_int_equal(px_config_load(c->conf, &cfg, err, sizeof(err)), 0);
	const struct px_config_part *p = px_config_part_by_name(&cfg, name);
	assert_non_null(p);
	/* later keywords override the expanded conninfo's */
	const char *keys[] = {"dbname", "connect_timeout", user ? "user" : NULL, NULL};
	const char *vals[] = {p->conninfo, "5", user, NULL};
	PGconn *db = PQconnectdbParams(keys, vals, 1);
	px_config_free(&cfg);
	if (PQstatus(db) != CONNECTION_OK)
		fail_msg("connect to %s: %s", name, PQerrorMessage(db));
	return db;
}

PGconn *own_conn(struct pgc *c, const char *name)
{
	return conn_as(c, name, "postgres");
}

PGconn *xa_conn(struct pgc *c, const char *name)
{
	return conn_as(c, name, NULL);
}

/* Run one SQL statement on participant `name`'s database; returns the first
 * value of the first row (static buffer), "" if none; fails the test on an
 * error unless may_fail. */
const char *sql(struct pgc *c, const char *name, const char *q)
{
	static char out[256];
	PGconn *db = own_conn(c, name);
	PGresult *r = PQexec(db, q);
	int st = PQresultStatus(r);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
		fail_msg("%s: %s: %s", name, q, PQerrorMessage(db));
	out[0] = 0;
	if (st == PGRES_TUPLES_OK && PQntuples(r) > 0)
		snprintf(out, sizeof(out), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(db);
	return out;
}

long sql_long(struct pgc *c, const char *name, const char *q)
{
	return atol(sql(c, name, q));
}

long in_doubt(struct pgc *c, const char *name)
{
	return sql_long(c, name, "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()");
}

/* Wait until nothing is in doubt on any of the named participants. */
void wait_no_doubt(struct pgc *c, const char *const *names, int n, uint32_t timeout_ms)
{
	uint64_t end = cl_now_ms() + timeout_ms;
	for (;;) {
		long total = 0;
		for (int i = 0; i < n; i++)
			total += in_doubt(c, names[i]);
		if (total == 0)
			return;
		if (cl_now_ms() > end)
			fail_msg("%ld prepared transactions still in doubt after %u ms", total, timeout_ms);
		cl_pause_ms(50);
	}
}

/* Agents refuse gids born before they started (plus a second of clock
 * skew): wait until each takes a fresh transaction. */
void wait_agents(struct pgc *c, const char *const *names, int n)
{
	struct pc_conn *pc = connect_to(c);
	for (int i = 0; i < n; i++) {
		uint64_t end = cl_now_ms() + 20000;
		for (;;) {
			struct pc_txn *t;
			assert_int_equal(pc_begin(pc, &t), 0);
			int e = pc_exec(t, names[i], "SELECT 1", 0, NULL, NULL);
			struct pc_result r;
			assert_int_equal(pc_rollback(t, &r), 0);
			pc_txn_free(&t);
			if (e == 0)
				break;
			if (cl_now_ms() > end)
				fail_msg("participant %s does not take transactions: %s", names[i], pc_conn_errmsg(pc));
			cl_pause_ms(50);
		}
	}
	pc_conn_close(&pc);
}

void up(struct pgc *c, int ncoord, int npart)
{
	snprintf(c->base, sizeof(c->base), "/tmp/paxcommit-pg-XXXXXX");
	assert_non_null(mkdtemp(c->base));
	assert_int_equal(chmod(c->base, 0755), 0); /* the postgres user reaches its data under it */
	snprintf(c->dir, sizeof(c->dir), "%s/dc", c->base);
	snprintf(c->conf, sizeof(c->conf), "%s/cluster.conf", c->dir);
	c->up = 1;
	if (dc(c, "up --coordinators %d --participants %d", ncoord, npart) != 0) {
		char cmd[600];
		snprintf(cmd, sizeof(cmd), "tail -30 '%s/devcluster.out'", c->base);
		if (system(cmd) != 0)
			fprintf(stderr, "(no devcluster output)\n");
		fail_msg("devcluster up failed");
	}
	static const char *const all[] = {"a", "b", "c"};
	wait_agents(c, all, npart);
}

pid_t pid_of(struct pgc *c, const char *name)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/%s.pid", c->dir, name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	long p = -1;
	if (fscanf(f, "%ld", &p) != 1)
		p = -1;
	fclose(f);
	return (pid_t)p;
}

int metrics_port_of(struct pgc *c, const char *name)
{
	char path[400], line[400], key[100];
	snprintf(path, sizeof(path), "%s/devcluster.state", c->dir);
	snprintf(key, sizeof(key), "metrics.%s=", name);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int port = -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			port = atoi(line + strlen(key));
	fclose(f);
	return port;
}

int leader_of(struct pc_conn *pc, int n)
{
	uint64_t end = cl_now_ms() + 10000;
	while (cl_now_ms() < end) {
		int votes[5] = {0};
		for (int i = 0; i < n; i++) {
			int l = pc_leader_seen_by(pc, i, 300);
			if (l >= 0 && l < n && ++votes[l] * 2 > n)
				return l;
		}
		cl_pause_ms(20);
	}
	return -1;
}

