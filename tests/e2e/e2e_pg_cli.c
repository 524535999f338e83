/*
 * e2e_pg_cli.c - end-to-end tests of the `paxcommit` tool over real
 * PostgreSQL: a devcluster (tests/e2e/pgc.h) and the built tool
 * ($PAXCOMMIT_BIN/paxcommit) run through the shell, its output and exit
 * status checked, the databases looked at with libpq.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_run.h"
#include "paxcommit.h"
#include "px_config.h"
#include "px_msg.h"

#include "pgc.h"

static char g_out[64 * 1024]; /* the last run's stdout and stderr */

/* Run `paxcommit --config CONF ARGS` through sh (ARGS may redirect); its
 * output in g_out (cut at 64 KiB); returns its exit status. */
static int cli(const char *conf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int cli(const char *conf, const char *fmt, ...)
{
	const char *bin = getenv("PAXCOMMIT_BIN");
	char args[1024], cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "'%s/paxcommit' --config '%s' %s 2>&1", bin && *bin ? bin : "build/bin", conf,
		 args);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = 0, got;
	char skip[4096];
	while ((got = fread(g_out + n, 1, sizeof(g_out) - 1 - n, p)) > 0)
		n += got;
	while (fread(skip, 1, sizeof(skip), p) > 0) /* past 64 KiB: drain, so it can exit */
		;
	g_out[n] = '\0';
	int st = pclose(p);
	print_message("  $ paxcommit %s -> %d\n%s", args, WIFEXITED(st) ? WEXITSTATUS(st) : -1, g_out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The last output contains the formatted text, or the test fails. */
static void saw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void saw(const char *fmt, ...)
{
	char want[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(want, sizeof(want), fmt, ap);
	va_end(ap);
	if (!strstr(g_out, want))
		fail_msg("expected \"%s\" in the output above", want);
}

/* Endpoint of a section ("participant.a", "coordinator.0") in c->conf. */
static void endpoint_of(struct pgc *c, const char *sect, char *out, size_t cap)
{
	struct px_config cfg;
	char err[600];
	if (px_config_load(c->conf, &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	const char *ep = NULL;
	if (!strncmp(sect, "coordinator.", 12))
		ep = cfg.coord[atoi(sect + 12)].endpoint;
	else if (px_config_part_by_name(&cfg, sect + 12))
		ep = px_config_part_by_name(&cfg, sect + 12)->endpoint;
	assert_non_null(ep);
	snprintf(out, cap, "%s", ep);
	px_config_free(&cfg);
}

/* Write a copy of c->conf to path (under the test's directory) with the
 * endpoint of [s1] set to e1 and, if s2, that of [s2] to e2. */
static void conf_with(struct pgc *c, const char *path, const char *s1, const char *e1, const char *s2,
		      const char *e2)
{
	FILE *in = fopen(c->conf, "r"), *out = fopen(path, "w");
	assert_non_null(in);
	assert_non_null(out);
	char line[512], sect[128] = "";
	int done = 0;
	while (fgets(line, sizeof(line), in)) {
		if (line[0] == '[')
			sscanf(line, "[%127[^]]", sect);
		if (!strncmp(line, "endpoint", 8) && !strcmp(sect, s1)) {
			fprintf(out, "endpoint = %s\n", e1);
			done++;
		} else if (!strncmp(line, "endpoint", 8) && s2 && !strcmp(sect, s2)) {
			fprintf(out, "endpoint = %s\n", e2);
			done++;
		} else {
			fputs(line, out);
		}
	}
	fclose(in);
	assert_int_equal(fclose(out), 0);
	assert_int_equal(done, s2 ? 2 : 1);
}

/* `paxcommit cluster` asks who answers: with participants a and b swapped
 * in the configuration, both are reachable (a TCP connect succeeds, which
 * is all it checked before) but each endpoint is the other agent's, and it
 * says so and exits 1; with the right configuration it says healthy and
 * exits 0. */
static void test_cluster_names_who_answers(void **state)
{
	struct pgc *c = *state;
	up(c, 1, 2);
	char ea[256], eb[256], e0[256], path[400], alias[300];
	endpoint_of(c, "participant.a", ea, sizeof(ea));
	endpoint_of(c, "participant.b", eb, sizeof(eb));
	endpoint_of(c, "coordinator.0", e0, sizeof(e0));

	snprintf(path, sizeof(path), "%s/swapped.conf", c->base);
	conf_with(c, path, "participant.a", eb, "participant.b", ea);
	assert_int_equal(cli(path, "cluster"), 1);
	saw("participant.a %s misdirected: answered as participant.b (id 2) of cluster dev\n", eb);
	saw("participant.b %s misdirected: answered as participant.a (id 1) of cluster dev\n", ea);
	saw("leader: coordinator.0\n");

	assert_int_equal(cli(c->conf, "cluster"), 0);
	saw("coordinator.0 %s up, trusts coordinator.0\n", e0);
	saw("leader: coordinator.0\n");
	saw("participant.a %s healthy (participant.a, id 1)\n", ea);
	saw("participant.b %s healthy (participant.b, id 2)\n", eb);
	assert_int_equal(cli(c->conf, "cluster --json"), 0);
	saw("{\"coordinators\": [{\"id\": 0, \"endpoint\": \"%s\", \"state\": \"up\", \"trusts\": 0, \"detail\": \"\"}], "
	    "\"leader\": 0, \"participants\": [{\"name\": \"a\", \"id\": 1, \"endpoint\": \"%s\", \"state\": \"healthy\", "
	    "\"detail\": \"\"}, {\"name\": \"b\", \"id\": 2, \"endpoint\": \"%s\", \"state\": \"healthy\", \"detail\": \"\"}], "
	    "\"ok\": true}\n",
	    e0, ea, eb);
	assert_int_equal(cli(c->conf, "status --json dev_1_0123456789abcdef_1"), 3);
	saw("{\"gid\": \"dev_1_0123456789abcdef_1\", \"status\": \"unknown-gid\", \"leader\": ");

	/* a coordinator's endpoint where an agent answers, and the other way round */
	snprintf(path, sizeof(path), "%s/coord-swapped.conf", c->base);
	conf_with(c, path, "coordinator.0", ea, "participant.a", e0);
	assert_int_equal(cli(path, "cluster"), 1);
	saw("coordinator.0 %s misdirected: answered as participant.a (id 1) of cluster dev\n", ea);
	saw("participant.a %s misdirected: answered as coordinator.0 of cluster dev\n", e0);
	saw("leader: none\n");
	saw("participant.b %s healthy (participant.b, id 2)\n", eb);
	assert_int_equal(cli(path, "cluster --json"), 1);
	saw("\"state\": \"misdirected\", \"trusts\": null, \"detail\": \"participant.a (id 1) of cluster dev\"}], \"leader\": null");
	saw("\"ok\": false}\n");

	/* b on a's address spelled another way: refused when the file is read */
	snprintf(alias, sizeof(alias), "tcp://localhost:%s", strrchr(ea, ':') + 1);
	snprintf(path, sizeof(path), "%s/alias.conf", c->base);
	conf_with(c, path, "participant.b", alias, NULL, NULL);
	assert_int_equal(cli(path, "cluster"), 2);
	saw("paxcommit: %s:", path);
	saw("endpoint '%s' of [participant.b] is the same address as '%s' of [participant.a]", alias, ea);
	saw("give one of them another port");
}

/* Write text, then n bytes of fill, then tail to path. */
static void write_sql(const char *path, const char *text, size_t n, char fill, const char *tail)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	for (size_t i = 0; i < n; i++)
		fputc(fill, f);
	fputs(tail, f);
	assert_int_equal(fclose(f), 0);
}

/* exec -f FILE and -f - (standard input): a 300 KiB statement, more than
 * one argument can carry, commits; a missing file, a file over the
 * statement limit and standard input twice are refused with exit 2 and
 * nothing run. */
static void test_exec_sql_from_file(void **state)
{
	struct pgc *c = *state;
	up(c, 1, 2);
	sql(c, "a", "CREATE TABLE big(id int PRIMARY KEY, v text)");
	sql(c, "b", "CREATE TABLE big(id int PRIMARY KEY, v text)");
	const size_t big = 300 * 1024;
	char q1[400], q2[400], q3[400], q4[400], none[400];
	snprintf(q1, sizeof(q1), "%s/q1.sql", c->base);
	write_sql(q1, "INSERT INTO big VALUES (1, '", big, 'x', "')\n");
	assert_int_equal(cli(c->conf, "exec -p a -f '%s' -p b 'INSERT INTO big VALUES (1, repeat($$y$$, 3))'", q1),
			 0);
	saw("committed dev_");
	assert_int_equal(sql_long(c, "a", "SELECT length(v) FROM big WHERE id = 1"), (long)big);
	assert_int_equal(sql_long(c, "b", "SELECT length(v) FROM big WHERE id = 1"), 3);

	snprintf(q2, sizeof(q2), "%s/q2.sql", c->base);
	write_sql(q2, "INSERT INTO big VALUES (2, '", big, 'z', "')\n");
	assert_int_equal(cli(c->conf, "exec -p b 'SELECT 1' -p a -f - < '%s'", q2), 0);
	saw("committed dev_");
	assert_int_equal(sql_long(c, "a", "SELECT length(v) FROM big WHERE id = 2 AND v LIKE 'zzz%%'"), (long)big);

	/* exactly the limit, with the one trailing newline that is not part of it */
	const char *head = "SELECT length('", *tail = "')";
	size_t fill = PX_SQL_MAX - strlen(head) - strlen(tail);
	snprintf(q3, sizeof(q3), "%s/q3.sql", c->base);
	write_sql(q3, head, fill, 'w', "')\n");
	assert_int_equal(cli(c->conf, "exec -p a -f '%s'", q3), 0);
	saw("a\t%zu\n", fill);
	saw("committed dev_");

	/* refused, nothing run */
	snprintf(none, sizeof(none), "%s/no-such.sql", c->base);
	assert_int_equal(cli(c->conf, "exec -p a -f '%s'", none), 2);
	saw("cannot open %s: No such file or directory", none);
	snprintf(q4, sizeof(q4), "%s/q4.sql", c->base);
	write_sql(q4, head, fill + 1, 'w', "')\n");
	assert_int_equal(cli(c->conf, "exec -p a -f '%s'", q4), 2);
	saw("%s is over the statement limit of %u bytes", q4, PX_SQL_MAX);
	assert_int_equal(cli(c->conf, "exec -p a -f - -p b -f - < '%s'", q2), 2);
	saw("-f - (standard input) may be given only once");
	assert_int_equal(cli(c->conf, "exec -p a -f '%s' -p b 'SELECT 1'", none), 2);
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM big"), 2);
	assert_int_equal(in_doubt(c, "a") + in_doubt(c, "b"), 0);
}

/* `paxcommit in-doubt` lists what a database holds prepared, with the
 * coordinators' view, and `paxcommit resolve` has it finished by the normal
 * recovery: with the agent frozen it says where the outcome still waits,
 * and once the agent runs, that it is applied. */
/* Transfers in the background while `top` watches. */
struct load {
	struct pgc *c;
	volatile int stop;
	int committed;
};

static void *load_main(void *arg)
{
	struct load *l = arg;
	struct pc_conn *pc = connect_to(l->c);
	for (int i = 0; i < 5000 && !l->stop; i++) {
		struct pc_txn *t = NULL;
		if (pc_begin(pc, &t))
			break;
		if (exec_commit_ab(&t, "UPDATE n SET v = v + 1", "UPDATE n SET v = v + 1") == PC_COMMITTED)
			l->committed++;
	}
	pc_conn_close(&pc);
	return NULL;
}

/* The line of g_out that starts with `first` and a space, or NULL. */
static const char *line_of(const char *first)
{
	size_t n = strlen(first);
	for (const char *p = g_out; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, first, n) && p[n] == ' ')
			return p;
	return NULL;
}

/* `top`: every daemon up, one leader, commits per second on the leader and
 * on the agents while transfers run; a stopped agent shows as down (exit 1). */
static void test_top(void **state)
{
	struct pgc *c = *state;
	up(c, 3, 2);
	sql(c, "a", "CREATE TABLE n(v int); INSERT INTO n VALUES (0)");
	sql(c, "b", "CREATE TABLE n(v int); INSERT INTO n VALUES (0)");
	struct load l = {.c = c};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, load_main, &l), 0);
	int rc = cli(c->conf, "top --interval 1 --count 2");
	l.stop = 1;
	pthread_join(th, NULL);
	print_message("  %d transfers committed meanwhile\n", l.committed);
	assert_int_equal(rc, 0);
	saw("COORDINATOR");
	saw("PARTICIPANT");
	int leaders = 0;
	double leader_commits = -1;
	for (int i = 0; i < 3; i++) {
		char id[4];
		snprintf(id, sizeof(id), "%d", i);
		const char *ln = line_of(id);
		assert_non_null(ln);
		char f[10][24];
		int nf = sscanf(ln, "%23s %23s %23s %23s %23s %23s %23s", f[0], f[1], f[2], f[3], f[4], f[5], f[6]);
		assert_true(nf >= 5);
		assert_string_equal(f[1], "up");
		if (!strcmp(f[3], "*")) { /* "LEADER" is "N *" on the leader */
			leaders++;
			leader_commits = strtod(f[5], NULL);
		}
	}
	assert_int_equal(leaders, 1);
	assert_true(leader_commits > 0);
	for (int i = 0; i < 2; i++) {
		const char *ln = line_of(i ? "b" : "a");
		assert_non_null(ln);
		char f[5][24];
		assert_int_equal(sscanf(ln, "%23s %23s %23s %23s", f[0], f[1], f[2], f[3]), 4);
		assert_string_equal(f[1], "up");
		assert_true(strtod(f[2], NULL) > 0); /* prepared per second */
		assert_true(strtod(f[3], NULL) > 0); /* committed per second */
	}
	/* a stopped agent: down, and exit 1 */
	pid_t pb = pid_of(c, "participant.b");
	assert_true(pb > 0);
	assert_int_equal(kill(pb, SIGSTOP), 0);
	rc = cli(c->conf, "top --interval 0.2 --count 1");
	kill(pb, SIGCONT);
	assert_int_equal(rc, 1);
	const char *ln = line_of("b");
	assert_non_null(ln);
	assert_non_null(strstr(ln, "down"));
	assert_int_equal(cli(c->conf, "top --count 0"), 2);
	assert_int_equal(cli(c->conf, "top --help"), 0);
	saw("usage: paxcommit --config FILE top");
}

static void test_in_doubt_and_resolve(void **state)
{
	struct pgc *c = *state;
	up(c, 3, 2);
	sql(c, "a", "CREATE TABLE t(id int PRIMARY KEY)");
	pid_t pa = pid_of(c, "participant.a");
	assert_true(pa > 0);
	/* A gid of this cluster, prepared on a by a client that then went away
	 * before asking for a decision: nobody voted on it. */
	struct pc_conn *pc = connect_to(c);
	char gid[PX_GID_MAX + 1];
	assert_true(pc_new_gid(pc, gid, sizeof(gid)) > 0);
	pc_conn_close(&pc);
	assert_int_equal(kill(pa, SIGSTOP), 0);
	PGconn *db = xa_conn(c, "a");
	char q[400];
	PGresult *r = PQexec(db, "BEGIN");
	PQclear(r);
	r = PQexec(db, "INSERT INTO t VALUES (1)");
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	snprintf(q, sizeof(q), "PREPARE TRANSACTION '%s_1'", gid); /* as an XA-style client names it on a (id 1) */
	r = PQexec(db, q);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
	PQfinish(db);

	assert_int_equal(cli(c->conf, "in-doubt"), 0);
	saw("participant.a %s 00:00:0", gid);
	saw("in-doubt: 1\n");
	assert_int_equal(cli(c->conf, "in-doubt --json"), 0);
	saw("{\"in_doubt\": [{\"participant\": \"a\", \"gid\": \"%s\", \"age_seconds\": ", gid);
	saw("\"total\": 1, \"errors\": []}\n");
	assert_int_equal(cli(c->conf, "resolve --help"), 0);
	saw("never one you pick");
	assert_int_equal(cli(c->conf, "resolve"), 2);
	/* The recovery decides (abort: nobody voted), but a's agent is frozen. */
	assert_int_equal(cli(c->conf, "resolve %s --timeout 8000", gid), 3);
	saw("%s aborted: still prepared on participant.a after", gid);
	saw("(is its agent running?)");
	assert_int_equal(cli(c->conf, "in-doubt"), 0);
	saw("participant.a %s 00:00:", gid);
	saw(" aborted\nin-doubt: 1\n");
	assert_int_equal(kill(pa, SIGCONT), 0);
	assert_int_equal(cli(c->conf, "resolve %s", gid), 0);
	saw("resolved %s aborted: applied on every participant", gid);
	assert_int_equal(in_doubt(c, "a"), 0);
	assert_int_equal(sql_long(c, "a", "SELECT count(*) FROM t"), 0);
	assert_int_equal(cli(c->conf, "in-doubt"), 0);
	saw("in-doubt: 0\n");
}

/* Rule: `paxcommit keygen` writes NAME.key (0600) and NAME.pub (0644),
 * prints the public key it wrote, never overwrites a key, and refuses a
 * bad name with exit status 2. */
static void test_keygen(void **state)
{
	(void)state;
	char dir[] = "/tmp/paxcommit-keygen-XXXXXX", path[256], line[256], pub[128] = "";
	assert_non_null(mkdtemp(dir));
	assert_int_equal(cli("/nonexistent.conf", "keygen --dir '%s' coordinator.0 app-1", dir), 0);
	struct stat st;
	snprintf(path, sizeof(path), "%s/coordinator.0.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(path, sizeof(path), "%s/app-1.pub", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "public = ", 9))
			snprintf(pub, sizeof(pub), "%.*s", (int)strcspn(line + 9, "\n"), line + 9);
	fclose(f);
	assert_int_equal(strlen(pub), 40);
	saw("app-1 public_key = %s", pub);
	/* again: refused, the key kept */
	assert_int_equal(cli("/nonexistent.conf", "keygen --dir '%s' app-1", dir), 1);
	saw("exists already");
	assert_int_equal(cli("/nonexistent.conf", "keygen --dir '%s' '../x'", dir), 2);
	saw("bad NAME");
	assert_int_equal(cli("/nonexistent.conf", "keygen --dir '%s'", dir), 2);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("e2e_pg_cli: needs root (to run PostgreSQL as the postgres user); skipped\n");
		return 0;
	}
	const struct CMUnitTest all[] = {
		cmocka_unit_test_setup_teardown(test_cluster_names_who_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_sql_from_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_doubt_and_resolve, setup, teardown),
		cmocka_unit_test_setup_teardown(test_top, setup, teardown),
		cmocka_unit_test(test_keygen),
	};
	return e2e_run("e2e_pg_cli", all, sizeof(all) / sizeof(all[0]));
}
