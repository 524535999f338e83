/*
 * e2e_pg.c - end-to-end tests over real PostgreSQL: a local cluster made by
 * scripts/devcluster (initdb'd PostgreSQL instances run as the postgres
 * user, coordinator replicas, participant agents), the client library, and
 * libpq to look at the databases.  Processes are killed through devcluster
 * (by pid) or stopped/continued by pid from its pid files.
 */
#include <errno.h>
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
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_run.h"
#include <libpq-fe.h>

#include "paxcommit.h"
#include "px_config.h"
#include "cluster.h"

#include "pgc.h"

/* ------------------------------------------------------------------ */

static void test_commit_two_and_three(void **state)
{
	struct pgc *c = *state;
	up(c, 3, 3);
	const char *names[] = {"a", "b", "c"};
	for (int i = 0; i < 3; i++)
		sql(c, names[i], "CREATE TABLE t(id int PRIMARY KEY, v text)");
	struct pc_conn *pc = connect_to(c);
	struct pc_txn *t;
	struct pc_result r;
	assert_int_equal(pc_begin(pc, &t), 0);
	assert_int_equal(pc_exec(t, "a", "INSERT INTO t VALUES (1, 'one')", 0, NULL, NULL), 0);
	const char *p[2] = {"1", "one"};
	assert_int_equal(pc_exec(t, "b", "INSERT INTO t VALUES ($1, $2)", 2, p, NULL), 0);
	assert_int_equal(pc_commit(t, PC_WAIT_APPLIED, &r), 0);
	assert_int_equal(r.outcome, PC_COMMITTED);
	pc_txn_free(&t);
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t WHERE id = 1"), 1);
	assert_int_equal(sql_long(c, "b", "SELECT count(*) FROM t WHERE id = 1"), 1);
	assert_int_equal(sql_long(c, "c", "SELECT count(*) FROM t WHERE id = 1"), 0);
	assert_int_equal(pc_begin(pc, &t), 0);
	/* all three at once */
	struct pc_stmt st[3];
	for (int i = 0; i < 3; i++)
		st[i] = (struct pc_stmt){.participant = names[i], .sql = "INSERT INTO t VALUES (2, 'two')"};
	assert_int_equal(pc_exec_parallel(t, st, 3), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(st[i].rc, 0);
		pc_rows_free(&st[i].rows);
	}
	/* rows come back through exec */
	struct pc_rows *rows;
	assert_int_equal(pc_exec(t, "c", "SELECT id, v, NULL::text AS n FROM t", 0, NULL, &rows), 0);
	assert_int_equal(pc_rows_nrows(rows), 1);
	assert_int_equal(pc_rows_ncols(rows), 3);
	assert_string_equal(pc_rows_colname(rows, 1), "v");
	assert_string_equal(pc_rows_value(rows, 0, 1), "two");
	assert_null(pc_rows_value(rows, 0, 2));
	pc_rows_free(&rows);
	assert_int_equal(pc_commit(t, PC_WAIT_APPLIED, &r), 0);
	assert_int_equal(r.outcome, PC_COMMITTED);
	pc_txn_free(&t);
	for (int i = 0; i < 3; i++)
		assert_int_equal(sql_long(c, names[i], "SELECT count(*) FROM t WHERE id = 2"), 1);
	wait_no_doubt(c, names, 3, 5000);
	/* One participant twice in one call is refused before anything is
	 * sent, and dooms the transaction: its earlier statement must not
	 * commit without the ones refused. */
	assert_int_equal(pc_begin(pc, &t), 0);
	assert_int_equal(pc_exec(t, "a", "INSERT INTO t VALUES (3, 'three')", 0, NULL, NULL), 0);
	struct pc_stmt twice[2] = {{.participant = "a", .sql = "SELECT 1"}, {.participant = "a", .sql = "SELECT 2"}};
	assert_int_equal(pc_exec_parallel(t, twice, 2), PC_EINVAL);
	assert_int_equal(pc_commit(t, PC_WAIT_APPLIED, &r), 0);
	assert_int_equal(r.outcome, PC_ABORTED);
	pc_txn_free(&t);
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t WHERE id = 3"), 0);
	/* devcluster.state names another build now (as when comparing builds):
	 * `start` must refuse while the old process runs, and keep its pid file,
	 * so that `kill` still finds it. */
	char cmd[800];
	snprintf(cmd, sizeof(cmd), "sed -i 's|^coordinator_bin=.*$|&.other|' '%s/devcluster.state'", c->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_not_equal(dc(c, "start coordinator.2"), 0);
	snprintf(cmd, sizeof(cmd), "sed -i 's|^\\(coordinator_bin=.*\\)\\.other$|\\1|' '%s/devcluster.state'", c->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(dc(c, "kill coordinator.2"), 0);
	assert_int_equal(dc(c, "start coordinator.2"), 0);
	/* Ten more commits with the statements (pc_exec_commit), twelve in all.
	 * The participants have PREPARE from the client and ack to it, and the
	 * leader decides from their votes alone: a client that gets every ack
	 * in time sends the coordinators no commit request at all. */
	for (int k = 0; k < 10; k++) {
		char q[80];
		snprintf(q, sizeof(q), "INSERT INTO t VALUES (%d, 'x')", 100 + k);
		assert_int_equal(pc_begin(pc, &t), 0);
		assert_int_equal(exec_commit_ab(&t, q, q), PC_COMMITTED);
	}
	assert_int_equal(sql_long(c, "b", "SELECT count(*) FROM t WHERE id >= 100"), 10);
	pc_conn_close(&pc);
	/* `down` stops daemons that run from a binary other than the one
	 * devcluster.state names now, too (it used to leave them running) */
	pid_t cpid[3];
	for (int i = 0; i < 3; i++) {
		char name[32];
		snprintf(name, sizeof(name), "coordinator.%d", i);
		cpid[i] = pid_of(c, name);
		assert_true(cpid[i] > 0);
	}
	snprintf(cmd, sizeof(cmd), "sed -i 's|^coordinator_bin=.*$|&.other|' '%s/devcluster.state'", c->dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(dc(c, "down"), 0); /* the replicas log their counts as they stop */
	c->up = 0;
	for (int i = 0; i < 3; i++) {
		uint64_t end = cl_now_ms() + 10000;
		while (kill(cpid[i], 0) == 0 && cl_now_ms() < end)
			cl_pause_ms(20);
		if (kill(cpid[i], 0) == 0)
			fail_msg("coordinator.%d (pid %ld) still runs after down", i, (long)cpid[i]);
	}
	long asked = 0;
	for (int i = 0; i < 3; i++) {
		char path[400];
		snprintf(path, sizeof(path), "%s/coordinator.%d.log", c->dir, i);
		long v = cluster_log_stat(path, "commit_reqs");
		assert_true(v >= 0);
		asked += v;
	}
	/* a few may have been slow enough to ask (a loaded machine) */
	if (asked > 4)
		fail_msg("%ld commit requests for 12 commits whose every participant acked", asked);
	/* Both agents send their first votes to the same two replicas, so a
	 * deferred 2b (the first vote of a gid) leaves with the sync of the
	 * second, not at the 5 ms deadline (a few may, on a loaded machine). */
	long deferred = 0, late = 0;
	for (int i = 0; i < 3; i++) {
		char path[400];
		snprintf(path, sizeof(path), "%s/coordinator.%d.log", c->dir, i);
		long v = cluster_log_stat(path, "deferred"), w = cluster_log_stat(path, "deferred_late");
		assert_true(v >= 0 && w >= 0);
		deferred += v;
		late += w;
	}
	print_message("  deferred 2b: %ld, sent at the deadline: %ld\n", deferred, late);
	if (deferred < 1 || late > 4)
		fail_msg("%ld deferred 2b for 12 commits, %ld of them sent at the deadline", deferred, late);
}

static void test_sql_error_aborts_everywhere(void **state)
{
	struct pgc *c = *state;
	up(c, 3, 2);
	const char *names[] = {"a", "b"};
	for (int i = 0; i < 2; i++)
		sql(c, names[i], "CREATE TABLE t(id int PRIMARY KEY)");
	struct pc_conn *pc = connect_to(c);
	struct pc_txn *t;
	struct pc_result r;
	assert_int_equal(pc_begin(pc, &t), 0);
	assert_int_equal(pc_exec(t, "a", "INSERT INTO t VALUES (10)", 0, NULL, NULL), 0);
	struct pc_rows *rows;
	assert_int_equal(pc_exec(t, "b", "INSERT INTO no_such_table VALUES (10)", 0, NULL, &rows), PC_ESQL);
	assert_string_equal(pc_rows_sqlstate(rows), "42P01");
	assert_non_null(strstr(pc_rows_error(rows), "no_such_table"));
	pc_rows_free(&rows);
	assert_int_equal(pc_exec(t, "a", "INSERT INTO t VALUES (11)", 0, NULL, NULL), PC_EDOOMED);
	assert_int_equal(pc_commit(t, PC_WAIT_APPLIED, &r), 0);
	assert_int_equal(r.outcome, PC_ABORTED);
	assert_non_null(strstr(r.reason, "no_such_table"));
	pc_txn_free(&t);
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t"), 0);
	assert_int_equal(sql_long(c, "b", "SELECT count(*) FROM t"), 0);
	/* limits: a clear error, nothing sent */
	assert_int_equal(pc_begin(pc, &t), 0);
	char *big = malloc((1u << 20) + 10);
	memset(big, 'x', (1u << 20) + 9);
	big[(1u << 20) + 9] = 0;
	assert_int_equal(pc_exec(t, "a", big, 0, NULL, NULL), PC_EINVAL);
	assert_non_null(strstr(pc_conn_errmsg(pc), "limit"));
	free(big);
	/* ... and the transaction is doomed */
	assert_int_equal(pc_exec(t, "a", "SELECT 1", 0, NULL, NULL), PC_EDOOMED);
	pc_txn_free(&t);
	assert_int_equal(pc_begin(pc, &t), 0);
	assert_int_equal(pc_exec(t, "nobody", "SELECT 1", 0, NULL, NULL), PC_EINVAL);
	pc_txn_free(&t);
	/* transaction control behind the coordinators' back is refused */
	assert_int_equal(pc_begin(pc, &t), 0);
	assert_int_equal(pc_exec(t, "a", "INSERT INTO t VALUES (20)", 0, NULL, NULL), 0);
	assert_int_equal(pc_exec(t, "b", "  /* sneaky */ commit", 0, NULL, NULL), PC_EREFUSED);
	assert_non_null(strstr(pc_conn_errmsg(pc), "not allowed"));
	assert_int_equal(pc_commit(t, PC_WAIT_APPLIED, &r), 0);
	assert_int_equal(r.outcome, PC_ABORTED);
	pc_txn_free(&t);
	assert_int_equal(pc_begin(pc, &t), 0);
	assert_int_equal(pc_exec(t, "a", "INSERT INTO t VALUES (21); COMMIT", 0, NULL, NULL), PC_ESQL);
	assert_int_equal(pc_rollback(t, &r), 0);
	assert_int_equal(r.outcome, PC_ABORTED);
	pc_txn_free(&t);
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t"), 0);

	/* pc_exec_commit: the statements and the commit in one round trip */
	assert_int_equal(pc_begin(pc, &t), 0);
	struct pc_stmt st[2] = {{.participant = "a", .sql = "INSERT INTO t VALUES (30) RETURNING id"},
				{.participant = "b", .sql = "INSERT INTO t VALUES (30)"}};
	assert_int_equal(pc_exec_commit(t, st, 2, PC_WAIT_APPLIED, &r), 0);
	assert_int_equal(r.outcome, PC_COMMITTED);
	assert_int_equal(st[0].rc, 0);
	assert_int_equal(st[1].rc, 0);
	if (st[0].rows) /* the result came before the outcome (it normally does) */
		assert_string_equal(pc_rows_value(st[0].rows, 0, 0), "30");
	pc_rows_free(&st[0].rows);
	pc_rows_free(&st[1].rows);
	pc_txn_free(&t);
	/* wait=applied: visible on both at once */
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t WHERE id = 30"), 1);
	assert_int_equal(sql_long(c, "b", "SELECT count(*) FROM t WHERE id = 30"), 1);
	/* a failing statement makes its participant vote aborted: nothing
	 * anywhere, and the reason names the error */
	assert_int_equal(pc_begin(pc, &t), 0);
	struct pc_stmt st2[2] = {{.participant = "a", .sql = "INSERT INTO t VALUES (31)"},
				 {.participant = "b", .sql = "INSERT INTO t VALUES (30)"}};
	assert_int_equal(pc_exec_commit(t, st2, 2, PC_WAIT_APPLIED, &r), 0);
	assert_int_equal(r.outcome, PC_ABORTED);
	assert_int_not_equal(st2[1].rc, 0);
	if (st2[1].rows) {
		assert_string_equal(pc_rows_sqlstate(st2[1].rows), "23505");
		assert_non_null(strstr(r.reason, "duplicate key"));
	}
	pc_rows_free(&st2[0].rows);
	pc_rows_free(&st2[1].rows);
	pc_txn_free(&t);
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t WHERE id = 31"), 0);
	/* PostgreSQL skipped b's PREPARE behind the error, which leaves the
	 * transaction failed but open: the agent rolled it back before it
	 * voted, so none of its sessions still holds one */
	assert_int_equal(sql_long(c, "b", "SELECT count(*) FROM pg_stat_activity WHERE state LIKE 'idle in transaction%'"), 0);
	/* after earlier statements of the same transaction */
	assert_int_equal(pc_begin(pc, &t), 0);
	assert_int_equal(pc_exec(t, "a", "INSERT INTO t VALUES (40)", 0, NULL, NULL), 0);
	struct pc_stmt st3 = {.participant = "b", .sql = "INSERT INTO t VALUES (40)"};
	assert_int_equal(pc_exec_commit(t, &st3, 1, PC_WAIT_DECIDED, &r), 0);
	assert_int_equal(r.outcome, PC_COMMITTED);
	pc_rows_free(&st3.rows);
	pc_txn_free(&t);
	/* bad arguments: refused, nothing sent; an unknown participant aborts */
	assert_int_equal(pc_begin(pc, &t), 0);
	struct pc_stmt st4[2] = {{.participant = "a", .sql = "INSERT INTO t VALUES (50)"},
				 {.participant = "a", .sql = "INSERT INTO t VALUES (51)"}};
	assert_int_equal(pc_exec_commit(t, st4, 2, PC_WAIT_APPLIED, &r), PC_EINVAL);
	assert_int_equal(pc_commit(t, PC_WAIT_APPLIED, &r), 0); /* refused: doomed */
	assert_int_equal(r.outcome, PC_ABORTED);
	pc_txn_free(&t);
	assert_int_equal(pc_begin(pc, &t), 0);
	struct pc_stmt st5[2] = {{.participant = "a", .sql = "INSERT INTO t VALUES (52)"},
				 {.participant = "nobody", .sql = "SELECT 1"}};
	assert_int_equal(pc_exec_commit(t, st5, 2, PC_WAIT_APPLIED, &r), 0);
	assert_int_equal(r.outcome, PC_ABORTED);
	assert_int_equal(st5[1].rc, PC_EINVAL);
	assert_non_null(strstr(r.reason, "nobody"));
	pc_rows_free(&st5[0].rows);
	pc_txn_free(&t);
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t WHERE id >= 50"), 0);
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t WHERE id = 40"), 1);
	/* The agent pipelines PREPARE TRANSACTION behind the statement; a
	 * statement that fails in the agent, not in PostgreSQL, must still
	 * keep that PREPARE from preparing what ran before it: refused (a
	 * COMMIT inside), after an earlier statement and as the first one;
	 * and a result too large to send (PostgreSQL ran it, and prepared). */
	char wide[8192];
	int wl = snprintf(wide, sizeof(wide), "INSERT INTO t VALUES (62) RETURNING id");
	for (int i = 0; i < 1100; i++) /* more columns than a result may carry */
		wl += snprintf(wide + wl, sizeof(wide) - (size_t)wl, ",id");
	static const struct {
		const char *before, *on_a, *on_b; /* before: a statement on a first, or NULL */
	} cases[] = {{"INSERT INTO t VALUES (60)", "COMMIT", "INSERT INTO t VALUES (60)"},
		     {NULL, "ROLLBACK", "INSERT INTO t VALUES (61)"},
		     {NULL, NULL, "INSERT INTO t VALUES (62)"}}; /* NULL on_a: the wide one */
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		assert_int_equal(pc_begin(pc, &t), 0);
		if (cases[k].before)
			assert_int_equal(pc_exec(t, "a", cases[k].before, 0, NULL, NULL), 0);
		assert_int_equal(exec_commit_ab(&t, cases[k].on_a ? cases[k].on_a : wide, cases[k].on_b), PC_ABORTED);
	}
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t WHERE id >= 60"), 0);
	assert_int_equal(sql_long(c, "b", "SELECT count(*) FROM t WHERE id >= 60"), 0);
	/* wait=decided: applied soon after */
	wait_no_doubt(c, names, 2, 5000);
	assert_int_equal(sql_long(c, "b", "SELECT count(*) FROM t WHERE id = 40"), 1);
	pc_conn_close(&pc);
}

static void test_prepare_votes_abort(void **state)
{
	struct pgc *c = *state;
	up(c, 3, 2);
	sql(c, "a", "CREATE TABLE t(id int PRIMARY KEY)");
	sql(c, "b", "CREATE TABLE parent(id int PRIMARY KEY)");
	sql(c, "b", "CREATE TABLE child(id int PRIMARY KEY, ref int REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)");
	struct pc_conn *pc = connect_to(c);
	struct pc_txn *t;
	struct pc_result r;
	assert_int_equal(pc_begin(pc, &t), 0);
	assert_int_equal(pc_exec(t, "a", "INSERT INTO t VALUES (1)", 0, NULL, NULL), 0);
	/* fine now; the deferred foreign key fails at PREPARE TRANSACTION */
	assert_int_equal(pc_exec(t, "b", "INSERT INTO child VALUES (1, 42)", 0, NULL, NULL), 0);
	assert_int_equal(pc_commit(t, PC_WAIT_APPLIED, &r), 0);
	assert_int_equal(r.outcome, PC_ABORTED);
	pc_txn_free(&t);
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t"), 0);
	assert_int_equal(sql_long(c, "b", "SELECT count(*) FROM child"), 0);
	const char *names[] = {"a", "b"};
	wait_no_doubt(c, names, 2, 5000);
	pc_conn_close(&pc);
}

/* ------------------------------------------------ XA-style */

/* q on db; returns 1 if it succeeded. */
static int run(PGconn *db, const char *q)
{
	PGresult *r = PQexec(db, q);
	int st = PQresultStatus(r);
	PQclear(r);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fprintf(stderr, "(%s: %s)\n", q, PQerrorMessage(db)); /* expected for some */
	return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* XA-style: on db, BEGIN, `stmt`, PREPARE TRANSACTION as pc_xa_name says
 * for participant; name gets the name.  Returns 1 if PREPARE succeeded. */
static int xa_prepare_on(struct pc_txn *t, PGconn *db, const char *participant, const char *stmt, char *name,
			 size_t cap)
{
	char q[400];
	assert_int_equal(pc_xa_name(t, participant, name, cap), 0);
	assert_true(run(db, "BEGIN"));
	if (!run(db, stmt)) {
		assert_true(run(db, "ROLLBACK"));
		return 0;
	}
	snprintf(q, sizeof(q), "PREPARE TRANSACTION '%s'", name);
	return run(db, q);
}

static void finish_on(PGconn *db, const char *name, int commit)
{
	char q[400];
	snprintf(q, sizeof(q), "%s PREPARED '%s'", commit ? "COMMIT" : "ROLLBACK", name);
	assert_true(run(db, q));
}

/* XA-style transactions over real PostgreSQL: the test is the
 * application, with its own connections.  A commit and a rollback by the
 * book; then two applications that stop half way (the connections stay,
 * as a dead client's prepared transactions would): one prepared both
 * participants and never voted, one learned COMMITTED and never ran
 * COMMIT PREPARED.  The coordinators abort the first (recovery: no vote)
 * and the agents roll it back (their scan) and commit the second (the
 * leader's DECISION at the retransmission time). */
static void test_xa_style(void **state)
{
	struct pgc *c = *state;
	up(c, 3, 2);
	sql(c, "a", "CREATE TABLE t(id int PRIMARY KEY)");
	sql(c, "b", "CREATE TABLE t(id int PRIMARY KEY)");
	sql(c, "b", "INSERT INTO t VALUES (2)");
	PGconn *a = xa_conn(c, "a"), *b = xa_conn(c, "b");
	struct pc_conn *pc = connect_to(c);
	struct pc_txn *t;
	struct pc_result r;
	char na[256], nb[256];

	/* 1: commit */
	assert_int_equal(pc_begin_xa(pc, &t), 0);
	assert_int_equal(pc_exec(t, "a", "SELECT 1", 0, NULL, NULL), PC_EINVAL); /* not through the agents */
	assert_true(xa_prepare_on(t, a, "a", "INSERT INTO t VALUES (1)", na, sizeof(na)));
	assert_true(xa_prepare_on(t, b, "b", "INSERT INTO t VALUES (1)", nb, sizeof(nb)));
	assert_int_equal(pc_xa_commit(t, &r), 0);
	assert_int_equal(r.outcome, PC_COMMITTED);
	finish_on(a, na, 1);
	finish_on(b, nb, 1);
	assert_int_equal(pc_xa_done(t), 0);
	pc_txn_free(&t);
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t WHERE id = 1"), 1);
	assert_int_equal(sql_long(c, "b", "SELECT count(*) FROM t WHERE id = 1"), 1);

	/* 2: b fails (duplicate key): roll back */
	assert_int_equal(pc_begin_xa(pc, &t), 0);
	assert_true(xa_prepare_on(t, a, "a", "INSERT INTO t VALUES (2)", na, sizeof(na)));
	assert_false(xa_prepare_on(t, b, "b", "INSERT INTO t VALUES (2)", nb, sizeof(nb)));
	assert_int_equal(pc_xa_rollback(t, &r), 0);
	assert_int_equal(r.outcome, PC_ABORTED);
	finish_on(a, na, 0);
	assert_int_equal(pc_xa_done(t), 0);
	pc_txn_free(&t);
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t WHERE id = 2"), 0);

	/* 3: prepared everywhere, never voted */
	assert_int_equal(pc_begin_xa(pc, &t), 0);
	assert_true(xa_prepare_on(t, a, "a", "INSERT INTO t VALUES (3)", na, sizeof(na)));
	assert_true(xa_prepare_on(t, b, "b", "INSERT INTO t VALUES (3)", nb, sizeof(nb)));
	pc_txn_free(&t);
	/* 4: committed, never applied */
	PGconn *a2 = xa_conn(c, "a"), *b2 = xa_conn(c, "b");
	assert_int_equal(pc_begin_xa(pc, &t), 0);
	assert_true(xa_prepare_on(t, a2, "a", "INSERT INTO t VALUES (4)", na, sizeof(na)));
	assert_true(xa_prepare_on(t, b2, "b", "INSERT INTO t VALUES (4)", nb, sizeof(nb)));
	assert_int_equal(pc_xa_commit(t, &r), 0);
	assert_int_equal(r.outcome, PC_COMMITTED);
	pc_txn_free(&t);
	assert_int_equal(in_doubt(c, "a"), 2);
	const char *names[] = {"a", "b"};
	wait_no_doubt(c, names, 2, 40000);
	for (int k = 0; k < 2; k++) {
		const char *p = k ? "b" : "a";
		assert_int_equal(sql_long(c, p, "SELECT count(*) FROM t WHERE id = 3"), 0);
		assert_int_equal(sql_long(c, p, "SELECT count(*) FROM t WHERE id = 4"), 1);
	}
	PQfinish(a);
	PQfinish(b);
	PQfinish(a2);
	PQfinish(b2);
	pc_conn_close(&pc);
}

/* ------------------------------------------------ bank transfers */

struct bank {
	struct pgc *c;
	volatile int stop;
	long committed, aborted, unknown, errors;
	pthread_mutex_t mu;
	uint64_t seed;
};

static void *transfers(void *arg)
{
	struct bank *b = arg;
	struct pc_conn *pc;
	char err[600];
	if (pc_connect(b->c->conf, &pc, err, sizeof(err)))
		return NULL;
	pc_set_timeouts(pc, 5000, 15000);
	uint64_t s = b->seed;
	while (!b->stop) {
		s = s * 6364136223846793005ULL + 1442695040888963407ULL;
		char ida[16], idb[16], amt[16];
		snprintf(ida, sizeof(ida), "%d", 1 + (int)((s >> 33) % 1000));
		snprintf(idb, sizeof(idb), "%d", 1 + (int)((s >> 13) % 1000));
		snprintf(amt, sizeof(amt), "%d", 1 + (int)((s >> 45) % 50));
		int fwd = (s >> 60) & 1;
		struct pc_txn *t;
		if (pc_begin(pc, &t))
			break;
		const char *p1[2] = {ida, amt}, *p2[2] = {idb, amt};
		if (pc_exec(t, fwd ? "a" : "b", "UPDATE accounts SET balance = balance - $2 WHERE id = $1", 2, p1, NULL) == 0)
			pc_exec(t, fwd ? "b" : "a", "UPDATE accounts SET balance = balance + $2 WHERE id = $1", 2, p2, NULL);
		struct pc_result r;
		int e = pc_commit(t, PC_WAIT_APPLIED, &r);
		pthread_mutex_lock(&b->mu);
		if (e)
			b->errors++;
		else if (r.outcome == PC_COMMITTED)
			b->committed++;
		else if (r.outcome == PC_ABORTED)
			b->aborted++;
		else
			b->unknown++;
		pthread_mutex_unlock(&b->mu);
		pc_txn_free(&t);
	}
	pc_conn_close(&pc);
	return NULL;
}

static long committed(struct bank *b)
{
	pthread_mutex_lock(&b->mu);
	long n = b->committed;
	pthread_mutex_unlock(&b->mu);
	return n;
}

static void wait_commits(struct bank *b, long n, uint32_t timeout_ms)
{
	uint64_t end = cl_now_ms() + timeout_ms;
	while (committed(b) < n) {
		if (cl_now_ms() > end)
			fail_msg("transfers stalled at %ld commits (wanted %ld)", committed(b), n);
		cl_pause_ms(20);
	}
}

static long long bank_total(struct pgc *c)
{
	return atoll(sql(c, "a", "SELECT sum(balance) FROM accounts")) +
	       atoll(sql(c, "b", "SELECT sum(balance) FROM accounts"));
}

static void load_bank(struct pgc *c)
{
	/* sql/demo_bank.sql is a psql script */
	struct px_config cfg;
	char err[600];
	assert_int_equal(px_config_load(c->conf, &cfg, err, sizeof(err)), 0);
	for (int i = 0; i < 2; i++) {
		const struct px_config_part *p = px_config_part_by_name(&cfg, i ? "b" : "a");
		assert_non_null(p);
		char cmd[1600];
		snprintf(cmd, sizeof(cmd), "psql -X -q -v ON_ERROR_STOP=1 -d '%s' -f sql/demo_bank.sql >>'%s/devcluster.out' 2>&1",
			 p->conninfo, c->base);
		assert_int_equal(system(cmd), 0);
	}
	px_config_free(&cfg);
}

static void test_leader_kill9_bank(void **state)
{
	struct pgc *c = *state;
	up(c, 3, 2);
	load_bank(c);
	long long before = bank_total(c);
	struct pc_conn *pc = connect_to(c);
	int leader = leader_of(pc, 3);
	assert_true(leader >= 0);
	struct bank b = {.c = c, .seed = 99};
	pthread_mutex_init(&b.mu, NULL);
	pthread_t th[2];
	for (int i = 0; i < 2; i++) {
		b.seed = 99 + (uint64_t)i;
		assert_int_equal(pthread_create(&th[i], NULL, transfers, &b), 0);
	}
	wait_commits(&b, 100, 30000);
	uint64_t t0 = cl_now_ms();
	assert_int_equal(dc(c, "kill coordinator.%d", leader), 0);
	long at = committed(&b);
	wait_commits(&b, at + 1, 20000);
	uint64_t gap = cl_now_ms() - t0;
	wait_commits(&b, at + 200, 60000);
	b.stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	const char *names[] = {"a", "b"};
	wait_no_doubt(c, names, 2, 20000);
	long long after = bank_total(c);
	printf("  leader coordinator.%d killed after %ld transfers; next commit %llu ms later; %ld committed, %ld "
	       "aborted, %ld unknown; total %lld -> %lld\n",
	       leader, at, (unsigned long long)gap, b.committed, b.aborted, b.unknown, before, after);
	assert_int_equal(b.errors, 0);
	assert_true(after == before);
	pc_conn_close(&pc);
}

/* Freeze agent a, so that b prepares and votes while a cannot; run the
 * commit on a thread. */
struct bg_commit {
	struct pgc *c;
	char gid[200];
	int rc, outcome;
	struct pc_conn *pc;
	struct pc_txn *t;
};

static void *bg_commit_main(void *arg)
{
	struct bg_commit *g = arg;
	struct pc_result r;
	g->rc = pc_commit(g->t, PC_WAIT_APPLIED, &r);
	g->outcome = g->rc ? 0 : r.outcome;
	return NULL;
}

/* Bring up 3 coordinators and 2 participants, and start a transaction on a
 * and b whose commit is running while agent a is stopped and b holds it
 * prepared.  Returns with a still stopped. */
static void prepared_on_b(struct pgc *c, struct bg_commit *g, pthread_t *th)
{
	up(c, 3, 2);
	memset(g, 0, sizeof(*g));
	sql(c, "a", "CREATE TABLE t(id int PRIMARY KEY)");
	sql(c, "b", "CREATE TABLE t(id int PRIMARY KEY)");
	g->c = c;
	g->pc = connect_to(c);
	pc_set_timeouts(g->pc, 5000, 60000);
	assert_int_equal(pc_begin(g->pc, &g->t), 0);
	snprintf(g->gid, sizeof(g->gid), "%s", pc_txn_gid(g->t));
	assert_int_equal(pc_exec(g->t, "a", "INSERT INTO t VALUES (7)", 0, NULL, NULL), 0);
	assert_int_equal(pc_exec(g->t, "b", "INSERT INTO t VALUES (7)", 0, NULL, NULL), 0);
	pid_t pa = pid_of(c, "participant.a");
	assert_true(pa > 0);
	assert_int_equal(kill(pa, SIGSTOP), 0);
	assert_int_equal(pthread_create(th, NULL, bg_commit_main, g), 0);
	uint64_t end = cl_now_ms() + 10000;
	while (in_doubt(c, "b") == 0) {
		if (cl_now_ms() > end) {
			kill(pa, SIGCONT);
			fail_msg("b never prepared %s", g->gid);
		}
		cl_pause_ms(10);
	}
}

static void finish_prepared(struct pgc *c, struct bg_commit *g, pthread_t th)
{
	pthread_join(th, NULL);
	const char *names[] = {"a", "b"};
	wait_no_doubt(c, names, 2, 30000);
	long ra = sql_long(c, "a", "SELECT count(*) FROM t"), rb = sql_long(c, "b", "SELECT count(*) FROM t");
	printf("  %s: client heard %s; rows on a=%ld b=%ld\n", g->gid,
	       g->outcome == PC_COMMITTED ? "COMMITTED" : g->outcome == PC_ABORTED ? "ABORTED" : "UNKNOWN", ra, rb);
	assert_int_equal(ra, rb);
	if (g->outcome == PC_COMMITTED)
		assert_int_equal(ra, 1);
	if (g->outcome == PC_ABORTED)
		assert_int_equal(ra, 0);
	struct pc_result r;
	assert_int_equal(pc_status(g->pc, g->gid, 5000, &r), 0);
	assert_int_equal(r.outcome, ra ? PC_ST_COMMITTED : PC_ST_ABORTED);
	pc_txn_free(&g->t);
	pc_conn_close(&g->pc);
}

static void test_agent_kill9_after_prepare(void **state)
{
	struct pgc *c = *state;
	struct bg_commit g;
	pthread_t th;
	prepared_on_b(c, &g, &th);
	/* b has prepared and voted; kill it before any decision reaches it */
	assert_int_equal(dc(c, "kill participant.b"), 0);
	assert_int_equal(kill(pid_of(c, "participant.a"), SIGCONT), 0);
	assert_true(in_doubt(c, "b") == 1);
	assert_int_equal(dc(c, "start participant.b"), 0);
	finish_prepared(c, &g, th);
}

/* An agent's and a replica's /metrics while a transaction is in doubt,
 * and after it is finished. */
static void test_agent_metrics(void **state)
{
	struct pgc *c = *state;
	struct bg_commit g;
	pthread_t th;
	prepared_on_b(c, &g, &th);
	int pb = metrics_port_of(c, "participant.b"), pa = metrics_port_of(c, "participant.a");
	assert_true(pb > 0 && pa > 0);
	static char m[262144];
	/* b holds it prepared and waits: one in doubt, getting older */
	uint64_t end = cl_now_ms() + 10000;
	double age = -1;
	for (;;) {
		assert_int_equal(cluster_http_get(pb, "/metrics", m, sizeof(m), 5000), 200);
		age = cluster_metric(m, "paxcommit_agent_in_doubt_oldest_seconds");
		if (cluster_metric(m, "paxcommit_agent_in_doubt") == 1 && age >= 0.2)
			break;
		if (cl_now_ms() > end) {
			kill(pid_of(c, "participant.a"), SIGCONT);
			fail_msg("participant.b's metrics never showed the prepared transaction in doubt:\n%.2000s", m);
		}
		cl_pause_ms(50);
	}
	assert_true(cluster_metric(m, "paxcommit_agent_prepared_total") >= 1);
	assert_true(cluster_metric(m, "paxcommit_participant_info{participant=\"b\",id=\"2\"}") == 1);
	assert_true(cluster_metric(m, "paxcommit_agent_scans_total") >= 1);
	assert_true(cluster_metric(m, "paxcommit_agent_pool_size") == 8 + 1); /* pool = 8, and the service session */
	/* a is stopped: its endpoint does not answer */
	assert_int_equal(cluster_http_get(pa, "/metrics", m, sizeof(m), 500), -1);
	assert_int_equal(kill(pid_of(c, "participant.a"), SIGCONT), 0);
	finish_prepared(c, &g, th);
	assert_int_equal(cluster_http_get(pb, "/metrics", m, sizeof(m), 5000), 200);
	double done = cluster_metric(m, "paxcommit_agent_committed_total") + cluster_metric(m, "paxcommit_agent_rolled_back_total");
	double pg = 0;
	static const char *const kinds[] = {"exec", "prepare", "commit_prepared", "rollback_prepared", "rollback"};
	for (int k = 0; k < 5; k++) {
		char series[100];
		snprintf(series, sizeof(series), "paxcommit_agent_pg_seconds_count{action=\"%s\"}", kinds[k]);
		pg += cluster_metric(m, series);
	}
	print_message("  participant.b: in doubt for %.2f s, then finished (%.0f applied); %.0f database actions timed\n",
		      age, done, pg);
	assert_true(cluster_metric(m, "paxcommit_agent_in_doubt") == 0);
	assert_true(done >= 1);
	assert_true(pg >= 3); /* the statement, its PREPARE, the outcome */
	/* a replica's view of the same transaction */
	int pc0 = metrics_port_of(c, "coordinator.0");
	assert_true(pc0 > 0);
	assert_int_equal(cluster_http_get(pc0, "/metrics", m, sizeof(m), 5000), 200);
	assert_true(cluster_metric(m, "paxcommit_decisions_total{outcome=\"commit\"}") +
			    cluster_metric(m, "paxcommit_decisions_total{outcome=\"abort\"}") >=
		    1);
}

static void test_postgres_immediate_restart(void **state)
{
	struct pgc *c = *state;
	struct bg_commit g;
	pthread_t th;
	prepared_on_b(c, &g, &th);
	assert_int_equal(dc(c, "kill postgres.b"), 0);
	assert_int_equal(kill(pid_of(c, "participant.a"), SIGCONT), 0);
	assert_int_equal(dc(c, "start postgres.b"), 0);
	finish_prepared(c, &g, th);
}

static void test_client_killed_mid_commit(void **state)
{
	struct pgc *c = *state;
	up(c, 3, 2);
	sql(c, "a", "CREATE TABLE t(id int PRIMARY KEY)");
	sql(c, "b", "CREATE TABLE t(id int PRIMARY KEY)");
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(fds[0]);
		struct pc_conn *pc;
		char err[600];
		if (pc_connect(c->conf, &pc, err, sizeof(err)))
			_exit(2);
		struct pc_txn *t;
		if (pc_begin(pc, &t) || pc_exec(t, "a", "INSERT INTO t VALUES (5)", 0, NULL, NULL) ||
		    pc_exec(t, "b", "INSERT INTO t VALUES (5)", 0, NULL, NULL))
			_exit(3);
		char line[256];
		int n = snprintf(line, sizeof(line), "%s\n", pc_txn_gid(t));
		if (write(fds[1], line, (size_t)n) != n)
			_exit(4);
		struct pc_result r;
		pc_commit(t, PC_WAIT_APPLIED, &r); /* killed in here */
		_exit(0);
	}
	close(fds[1]);
	char gid[256] = {0};
	/* b is frozen first, so the commit cannot finish before the kill */
	pid_t pb = pid_of(c, "participant.b");
	assert_true(pb > 0);
	ssize_t n = read(fds[0], gid, sizeof(gid) - 1);
	close(fds[0]);
	assert_true(n > 0);
	gid[strcspn(gid, "\n")] = 0;
	assert_int_equal(kill(pb, SIGSTOP), 0);
	/* the commit request reached the leader once a has prepared */
	uint64_t end = cl_now_ms() + 10000;
	while (in_doubt(c, "a") == 0) {
		if (cl_now_ms() > end) {
			kill(pb, SIGCONT);
			kill(child, SIGKILL);
			/* Seen once in many runs and not reproduced: say what the
			 * daemons saw, for next time. */
			char cmd[1200];
			snprintf(cmd, sizeof(cmd), "grep -h '%s\\|WARN\\|ERROR' '%s'/participant.a.log '%s'/coordinator.*.log | tail -40",
				 gid, c->dir, c->dir);
			if (system(cmd) != 0)
				fprintf(stderr, "(nothing in the logs)\n");
			fail_msg("a never prepared %s", gid);
		}
		cl_pause_ms(10);
	}
	kill(child, SIGKILL); /* mid-commit */
	int st;
	waitpid(child, &st, 0);
	assert_int_equal(kill(pb, SIGCONT), 0);
	/* The coordinators finish it without the client. */
	struct pc_conn *pc = connect_to(c);
	struct pc_result r;
	end = cl_now_ms() + 30000;
	for (;;) {
		assert_int_equal(pc_status(pc, gid, 3000, &r), 0);
		if (r.outcome == PC_ST_COMMITTED || r.outcome == PC_ST_ABORTED)
			break;
		if (cl_now_ms() > end)
			fail_msg("%s not finished (status %d)", gid, r.outcome);
		cl_pause_ms(50);
	}
	const char *names[] = {"a", "b"};
	wait_no_doubt(c, names, 2, 30000);
	long ra = sql_long(c, "a", "SELECT count(*) FROM t"), rb = sql_long(c, "b", "SELECT count(*) FROM t");
	printf("  client killed mid-commit of %s: %s; rows a=%ld b=%ld\n", gid,
	       r.outcome == PC_ST_COMMITTED ? "committed" : "aborted", ra, rb);
	assert_int_equal(ra, rb);
	assert_int_equal(ra, r.outcome == PC_ST_COMMITTED ? 1 : 0);
	pc_conn_close(&pc);
}

/* A client that walks away from an open transaction: its agent rolls it
 * back after agent_idle_timeout_ms, also while other clients keep that
 * agent busy (its timer must not be pushed back by every message). */
static void test_idle_rollback_under_load(void **state)
{
	struct pgc *c = *state;
	up(c, 3, 2);
	sql(c, "a", "CREATE TABLE t(id int PRIMARY KEY, v int)");
	sql(c, "a", "INSERT INTO t VALUES (1, 0)");
	/* a 1 s idle timeout for agent a */
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "sed -i 's/^\\[cluster\\]$/[cluster]\\nagent_idle_timeout_ms = 1000/' '%s'", c->conf);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(dc(c, "kill participant.a"), 0);
	assert_int_equal(dc(c, "start participant.a"), 0);
	static const char *const a_only[] = {"a"};
	wait_agents(c, a_only, 1);

	struct pc_conn *gone = connect_to(c), *busy = connect_to(c);
	struct pc_txn *t;
	assert_int_equal(pc_begin(gone, &t), 0);
	assert_int_equal(pc_exec(t, "a", "UPDATE t SET v = 1 WHERE id = 1", 0, NULL, NULL), 0);
	pc_txn_free(&t); /* walked away: never committed nor rolled back */
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'"),
			 1);
	/* Keep agent a busy (a statement every few ms) until the open
	 * transaction is gone, or fail after 10 s. */
	uint64_t t0 = cl_now_ms(), end = t0 + 10000;
	int n = 0;
	for (;;) {
		struct pc_txn *x;
		struct pc_result r;
		assert_int_equal(pc_begin(busy, &x), 0);
		assert_int_equal(pc_exec(x, "a", "SELECT 1", 0, NULL, NULL), 0);
		assert_int_equal(pc_rollback(x, &r), 0);
		pc_txn_free(&x);
		n++;
		if (n % 10 == 0 &&
		    sql_long(c, "a", "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'") == 0)
			break;
		if (cl_now_ms() > end)
			fail_msg("the abandoned transaction is still open after %d busy transactions in 10 s", n);
	}
	printf("  abandoned transaction rolled back %llu ms later, during %d other transactions\n",
	       (unsigned long long)(cl_now_ms() - t0), n);
	sql(c, "a", "SET lock_timeout = 2000");
	assert_int_equal(sql_long(c, "a", "SELECT v FROM t WHERE id = 1"), 0);
	pc_conn_close(&gone);
	pc_conn_close(&busy);
}

static void test_max_prepared_zero(void **state)
{
	struct pgc *c = *state;
	up(c, 1, 2);
	sql(c, "b", "ALTER SYSTEM SET max_prepared_transactions = 0");
	assert_int_equal(dc(c, "kill participant.b"), 0);
	/* a clean stop: crash recovery of prepared transactions would need
	 * max_prepared_transactions > 0 */
	char stop[900];
	snprintf(stop, sizeof(stop),
		 "runuser -u postgres -- \"$(pg_config --bindir)/pg_ctl\" -D '%s/pg.b' -m fast -w stop >>'%s/devcluster.out' 2>&1",
		 c->dir, c->base);
	assert_int_equal(system(stop), 0);
	assert_int_equal(dc(c, "start postgres.b"), 0);
	assert_string_equal(sql(c, "b", "SHOW max_prepared_transactions"), "0");
	char cmd[900];
	const char *bin = getenv("PAXCOMMIT_BIN");
	snprintf(cmd, sizeof(cmd), "%s/paxcommit-participant --config '%s' --name b 2>&1", bin ? bin : "build/bin", c->conf);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char out[4096] = {0};
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = 0;
	int st = pclose(p);
	printf("  agent on a server with max_prepared_transactions = 0 exits %d: %s", WEXITSTATUS(st),
	       strstr(out, "ERROR") ? strstr(out, "ERROR") : out);
	assert_int_equal(WEXITSTATUS(st), 2);
	assert_non_null(strstr(out, "set max_prepared_transactions ="));
}

/* n transactions, each INSERT INTO t VALUES (i) on a and on b, from
 * `first`: every one commits, and both tables then hold first - 1 + n rows. */
static void commit_inserts(struct pgc *c, int first, int n)
{
	struct pc_conn *pc = connect_to(c);
	pc_set_timeouts(pc, 5000, 10000);
	for (int i = first; i < first + n; i++) {
		struct pc_txn *t;
		assert_int_equal(pc_begin(pc, &t), 0);
		char q[64];
		snprintf(q, sizeof(q), "INSERT INTO t VALUES (%d)", i);
		assert_int_equal(exec_commit_ab(&t, q, q), PC_COMMITTED);
	}
	pc_conn_close(&pc);
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t"), first - 1 + n);
	assert_int_equal(sql_long(c, "b", "SELECT count(*) FROM t"), first - 1 + n);
}

/* Set the conninfo of [participant.NAME] in the cluster config to what
 * devcluster wrote, plus suffix (a previous suffix is dropped; a keyword
 * given again in the suffix wins, as libpq takes the last). */
static void set_conninfo_suffix(struct pgc *c, const char *name, const char *suffix)
{
	FILE *f = fopen(c->conf, "r");
	assert_non_null(f);
	static char text[65536];
	size_t n = 0;
	char line[1200], sect[128];
	snprintf(sect, sizeof(sect), "[participant.%s]", name);
	int in = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '[')
			in = !strncmp(line, sect, strlen(sect));
		if (in && !strncmp(line, "conninfo = ", 11)) {
			line[strcspn(line, "\n")] = 0;
			char *end = strstr(line, "user=" AGENT_ROLE); /* devcluster's conninfo ends so */
			assert_non_null(end);
			end[strlen("user=" AGENT_ROLE)] = 0;
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s%s\n", line, suffix);
		} else {
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", line);
		}
		assert_true(n < sizeof(text));
	}
	fclose(f);
	f = fopen(c->conf, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Run paxcommit-participant --name NAME with `flags` in the background;
 * read its log into out until a line holds `until` or it exits (then
 * *exit_status is its status, else -1 and *pid its pid, still running). */
static FILE *agent_until(struct pgc *c, const char *name, const char *flags, const char *until, char *out, size_t cap,
			 pid_t *pid, int *exit_status)
{
	char cmd[1200], line[1024];
	const char *bin = getenv("PAXCOMMIT_BIN");
	snprintf(cmd, sizeof(cmd),
		 "echo $$; timeout 30 %s/paxcommit-participant --config '%s' --name %s %s 2>&1 & p=$!; echo $p; wait $p; "
		 "echo \"exit=$?\"",
		 bin ? bin : "build/bin", c->conf, name, flags);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(line, sizeof(line), p)); /* the shell */
	assert_non_null(fgets(line, sizeof(line), p)); /* timeout, which passes SIGTERM on */
	*pid = (pid_t)atol(line);
	assert_true(*pid > 0);
	*exit_status = -1;
	size_t n = 0;
	out[0] = 0;
	while (fgets(line, sizeof(line), p)) {
		if (!strncmp(line, "exit=", 5)) {
			*exit_status = atoi(line + 5);
			break;
		}
		n += (size_t)snprintf(out + n, cap - n, "%s", line);
		if (n >= cap - 1 || (until && strstr(line, until)))
			break;
	}
	return p;
}

/* Rule: libpq's sslmode and friends pass through the conninfo untouched:
 * with sslmode=require against a PostgreSQL that has a self-signed
 * certificate, every session of the agent is encrypted (pg_stat_ssl), and
 * transactions commit as before.  The same conninfo against a server
 * without SSL is refused by libpq, and the agent says why. */
static void test_sslmode_require(void **state)
{
	struct pgc *c = *state;
	up(c, 1, 2);
	sql(c, "a", "CREATE TABLE t(id int PRIMARY KEY)");
	sql(c, "b", "CREATE TABLE t(id int PRIMARY KEY)");
	char cmd[1600];
	/* a self-signed certificate for postgres.a, then ssl = on */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s/pg.a' && openssl req -new -x509 -days 2 -nodes -subj /CN=localhost -keyout server.key "
		 "-out server.crt >>'%s/devcluster.out' 2>&1 && chmod 600 server.key && chown postgres: server.key server.crt",
		 c->dir, c->base);
	assert_int_equal(system(cmd), 0);
	sql(c, "a", "ALTER SYSTEM SET ssl = on");
	sql(c, "a", "SELECT pg_reload_conf()");
	uint64_t until = cl_now_ms() + 10000;
	while (strcmp(sql(c, "a", "SHOW ssl"), "on") && cl_now_ms() < until)
		cl_pause_ms(50);
	assert_string_equal(sql(c, "a", "SHOW ssl"), "on");
	/* both participants' conninfo asks for SSL; both agents restart with
	 * it (b's server has none: libpq refuses) */
	set_conninfo_suffix(c, "a", " sslmode=require");
	set_conninfo_suffix(c, "b", " sslmode=require");
	assert_int_equal(dc(c, "kill participant.a"), 0);
	assert_int_equal(dc(c, "start participant.a"), 0);
	assert_int_equal(dc(c, "kill participant.b"), 0);
	/* the agent keeps retrying a database it cannot reach (it may come
	 * up later); read its log until libpq's reason shows, then stop it */
	char out[8192], line[1024];
	pid_t agent;
	int st;
	FILE *p = agent_until(c, "b", "", "SSL", out, sizeof(out), &agent, &st);
	kill(agent, SIGTERM);
	while (fgets(line, sizeof(line), p))
		;
	pclose(p);
	printf("  agent b, sslmode=require against a server without SSL: %s",
	       strstr(out, "WARN") ? strstr(out, "WARN") : out);
	assert_int_equal(st, -1); /* still retrying, not exited */
	assert_non_null(strstr(out, "SSL was required"));
	assert_null(strstr(out, "ready"));
	/* b back without sslmode */
	set_conninfo_suffix(c, "b", "");
	assert_int_equal(dc(c, "start participant.b"), 0);
	static const char *const both[] = {"a", "b"};
	wait_agents(c, both, 2);
	commit_inserts(c, 1, 20);
	long enc = sql_long(c, "a",
			    "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
			    "WHERE a.application_name = 'paxcommit-participant' AND s.ssl");
	long plain = sql_long(c, "a",
			      "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
			      "WHERE a.application_name = 'paxcommit-participant' AND NOT s.ssl");
	printf("  participant a's sessions: %ld over SSL, %ld without\n", enc, plain);
	assert_true(enc >= 1);
	assert_int_equal(plain, 0);
}

/* Rule: the agent refuses to run as a superuser (exit 2, saying which
 * role and what to do) unless --allow-superuser; with it, it runs and
 * says so.  devcluster's agents log in as paxcommit_agent, no superuser. */
/* A datagram on fd that contains want, within timeout_ms (others are
 * skipped); the last one read is kept for notified_last_has. */
static char g_notified[1024];
static int notified(int fd, const char *want, uint32_t timeout_ms)
{
	uint64_t end = cl_now_ms() + timeout_ms;
	while (cl_now_ms() < end) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		if (poll(&pf, 1, 100) <= 0)
			continue;
		ssize_t n = recv(fd, g_notified, sizeof(g_notified) - 1, 0);
		if (n <= 0)
			return 0;
		g_notified[n] = '\0';
		if (strstr(g_notified, want))
			return 1;
	}
	return 0;
}

static int notified_last_has(const char *s)
{
	return strstr(g_notified, s) != NULL;
}

static void test_agent_refuses_superuser(void **state)
{
	struct pgc *c = *state;
	up(c, 1, 2);
	assert_string_equal(sql(c, "a", "SELECT rolsuper::text FROM pg_roles WHERE rolname = '" AGENT_ROLE "'"),
			    "false");
	/* devcluster's own agents: their sessions are the agent role's */
	assert_int_equal(sql_long(c, "a",
				  "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
				  "'paxcommit-participant' AND usename <> '" AGENT_ROLE "'"),
			 0);
	sql(c, "a", "CREATE TABLE t(id int PRIMARY KEY)");
	sql(c, "b", "CREATE TABLE t(id int PRIMARY KEY)");
	assert_int_equal(dc(c, "kill participant.a"), 0);
	set_conninfo_suffix(c, "a", " user=postgres");
	char out[8192], line[512];
	pid_t pid;
	int st;
	FILE *p = agent_until(c, "a", "", NULL, out, sizeof(out), &pid, &st);
	pclose(p);
	printf("  agent a as postgres: exit %d: %s", st, strstr(out, "ERROR") ? strstr(out, "ERROR") : out);
	assert_int_equal(st, 2);
	assert_non_null(strstr(out, "the conninfo's role 'postgres' is a superuser"));
	assert_non_null(strstr(out, "--allow-superuser"));
	assert_null(strstr(out, "ready"));
	/* told to: it runs, says so, and transactions commit through it.  It
	 * speaks the systemd protocol, on a NOTIFY_SOCKET of the test's own. */
	int nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(nfd >= 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int pl = snprintf(sa.sun_path, sizeof(sa.sun_path), "%.90s/notify.sock", c->base);
	assert_true(pl > 0 && (size_t)pl < sizeof(sa.sun_path));
	assert_int_equal(bind(nfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
	p = agent_until(c, "a", "--allow-superuser", "ready", out, sizeof(out), &pid, &st);
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(st, -1);
	assert_true(notified(nfd, "READY=1", 5000));
	assert_true(notified_last_has("STATUS=participant a: listening on tcp://127.0.0.1:"));
	assert_non_null(strstr(out, "role postgres (superuser: --allow-superuser)"));
	static const char *const only_a[] = {"a"};
	wait_agents(c, only_a, 1);
	commit_inserts(c, 1, 5);
	/* SIGHUP: the agent reads its client allow-list again and goes on */
	kill(pid, SIGHUP);
	int reread = 0;
	uint64_t until = cl_now_ms() + 15000;
	while (!reread && cl_now_ms() < until && fgets(line, sizeof(line), p))
		reread = strstr(line, "SIGHUP: client allow-list") && strstr(line, "read again: 1 keys (was 1)");
	assert_true(reread);
	commit_inserts(c, 6, 5);
	kill(pid, SIGTERM);
	while (fgets(line, sizeof(line), p))
		;
	pclose(p);
	assert_true(notified(nfd, "STOPPING=1", 5000));
	close(nfd);
	/* back as the agent role */
	set_conninfo_suffix(c, "a", "");
	assert_int_equal(dc(c, "start participant.a"), 0);
	static const char *const both[] = {"a", "b"};
	wait_agents(c, both, 2);
}

/* Whether file `path` has a line with `needle`. */
static int file_has_line(const char *path, const char *needle)
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

/* SIGTERM drains an agent: a transaction open on it goes on to commit,
 * a new one is refused as "shutting down", and the agent exits by itself
 * once nothing is left, well before --drain-timeout (5 s). */
static void test_agent_sigterm_drains(void **state)
{
	struct pgc *c = *state;
	up(c, 3, 2);
	sql(c, "a", "CREATE TABLE t(id int PRIMARY KEY)");
	sql(c, "b", "CREATE TABLE t(id int PRIMARY KEY)");
	struct pc_conn *pc = connect_to(c);
	struct pc_txn *t = NULL, *t2 = NULL;
	assert_int_equal(pc_begin(pc, &t), 0);
	assert_int_equal(pc_exec(t, "a", "INSERT INTO t VALUES (1)", 0, NULL, NULL), 0);
	assert_int_equal(pc_exec(t, "b", "INSERT INTO t VALUES (1)", 0, NULL, NULL), 0);
	pid_t pa = pid_of(c, "participant.a");
	assert_true(pa > 0);
	char logp[400];
	snprintf(logp, sizeof(logp), "%s/participant.a.log", c->dir);
	assert_int_equal(kill(pa, SIGTERM), 0);
	uint64_t end = cl_now_ms() + 4000;
	while (!file_has_line(logp, "draining") && cl_now_ms() < end)
		cl_pause_ms(10);
	assert_true(file_has_line(logp, "draining"));
	/* still running: its open transaction holds it */
	assert_int_equal(kill(pa, 0), 0);
	assert_int_equal(pc_begin(pc, &t2), 0);
	int rc = pc_exec(t2, "a", "INSERT INTO t VALUES (2)", 0, NULL, NULL);
	print_message("  new transaction while a drains: rc=%d (%s)\n", rc, pc_conn_errmsg(pc));
	assert_int_equal(rc, PC_EBUSY);
	assert_non_null(strstr(pc_conn_errmsg(pc), "shutting down"));
	pc_txn_free(&t2);
	assert_int_equal(kill(pa, 0), 0);
	struct pc_result r;
	assert_int_equal(pc_commit(t, PC_WAIT_APPLIED, &r), 0);
	assert_int_equal(r.outcome, PC_COMMITTED);
	pc_txn_free(&t);
	/* nothing is left on a: it stops of itself, before the drain timeout */
	end = cl_now_ms() + 4000;
	while (kill(pa, 0) == 0 && cl_now_ms() < end)
		cl_pause_ms(10);
	assert_int_not_equal(kill(pa, 0), 0);
	assert_true(file_has_line(logp, "drained: every transaction here finished"));
	assert_false(file_has_line(logp, "drain timeout"));
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t"), 1);
	assert_int_equal(sql_long(c, "b", "SELECT count(*) FROM t"), 1);
	assert_int_equal(in_doubt(c, "a"), 0);
	assert_int_equal(dc(c, "start participant.a"), 0);
	pc_conn_close(&pc);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("e2e_pg: needs root (to run PostgreSQL as the postgres user); skipped\n");
		return 0;
	}
	const struct CMUnitTest all[] = {
		cmocka_unit_test_setup_teardown(test_commit_two_and_three, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sql_error_aborts_everywhere, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prepare_votes_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xa_style, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leader_kill9_bank, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_kill9_after_prepare, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_postgres_immediate_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_killed_mid_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_idle_rollback_under_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_prepared_zero, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sslmode_require, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_refuses_superuser, setup, teardown),
		cmocka_unit_test_setup_teardown(test_agent_sigterm_drains, setup, teardown),
	};
	return e2e_run("e2e_pg", all, sizeof(all) / sizeof(all[0]));
}
