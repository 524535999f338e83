/*
 * e2e_pg_future.c - gids born in the future, over real PostgreSQL (README
 * "Garbage collection": a gid born more than PX_GID_MAX_FUTURE_MS ahead of
 * a receiver's clock is refused).  A raw ZeroMQ client socket, speaking
 * the wire protocol with the project's own encoder, sends an agent and a
 * coordinator hundreds of messages for gids of the cluster's prefix born
 * far ahead; the test then checks that the coordinator refused the commit
 * requests naming the clock, that the daemons still commit, and that
 * neither kept anything for those gids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <zmq.h>

#include "cluster.h"
#include "e2e_run.h"
#include "paxcommit.h"
#include "pgc.h"
#include "px_config.h"
#include "px_gid.h"
#include "px_keys.h"
#include "px_msg.h"
#include "px_net.h"

#define NFUT 300           /* gids of each kind */
/* The gids' client field: our client key's id (with CURVE a replica or
 * an agent takes a client's gids only with it, px_auth.h). */
static uint64_t g_client_id;
static struct px_keyring g_keys;
#define STATS_WAIT_MS 30000 /* the daemons log stats every 10 s */

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A DEALER to endpoint that the daemon sees as a client: like px_net's
 * client sockets it sets no routing id, so the daemon's ROUTER makes one up
 * (first byte 0), which px_net maps to a client. */
static void *client_socket(void *zctx, const char *endpoint, const uint8_t *server_key)
{
	void *s = zmq_socket(zctx, ZMQ_DEALER);
	assert_non_null(s);
	assert_int_equal(px_net_curve_client(s, &g_keys, server_key), 0);
	int zero = 0, hwm = 100000;
	assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)), 0);
	assert_int_equal(zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm)), 0);
	assert_int_equal(zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm)), 0);
	assert_int_equal(zmq_connect(s, endpoint), 0);
	return s;
}

static void send_frame(void *s, const struct px_msg *m)
{
	uint8_t buf[2048];
	size_t len = 0;
	assert_int_equal(px_encode(m, buf, sizeof(buf), &len), PX_EOK);
	assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
}

/* Gid k of a kind (seq base + k): born one minute ahead, or in year 5138. */
static void future_gid(char *buf, const char *prefix, uint64_t now, int k, uint64_t base, int xa)
{
	uint64_t birth = k % 3 == 0 ? 99999999999999ULL : now + 60000 + (uint64_t)k;
	size_t n = (xa ? px_gid_make_xa : px_gid_make)(buf, 200, prefix, birth, g_client_id, base + (uint64_t)k);
	assert_true(n > 0);
}

/* The last "stats:" line of a daemon's log (not the one at shutdown) into
 * line; 0 if there is none yet. */
static int last_stats(struct pgc *c, const char *daemon, char *line, size_t cap)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/%s.log", c->dir, daemon);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char buf[4096];
	int found = 0;
	while (fgets(buf, sizeof(buf), f))
		if (strstr(buf, " stats: ")) {
			snprintf(line, cap, "%s", buf);
			found = 1;
		}
	fclose(f);
	return found;
}

/* The number after " key=" in line, or -1. */
static long field(const char *line, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), " %s=", key);
	const char *p = strstr(line, pat);
	return p ? atol(p + strlen(pat)) : -1;
}

/* Poll daemon's log, with a deadline, for a stats line whose future_gids
 * is `want`: the daemon has then counted every refusal the test caused, and
 * the line shows its state after them.  0 and the line, or -1 (line: the
 * last stats line seen). */
static int wait_stats(struct pgc *c, const char *daemon, long want, char *line, size_t cap)
{
	uint64_t end = cl_now_ms() + STATS_WAIT_MS;
	line[0] = 0;
	for (;;) {
		if (last_stats(c, daemon, line, cap) && field(line, "future_gids") == want)
			return 0;
		if (cl_now_ms() > end)
			return -1;
		cl_pause_ms(200);
	}
}

struct problems {
	int n;
	char msg[8][600];
};

static void problem(struct problems *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct problems *p, const char *fmt, ...)
{
	if (p->n == 8)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p->msg[p->n++], sizeof(p->msg[0]), fmt, ap);
	va_end(ap);
}

/*
 * 1 coordinator, participants a and b.  To agent a: NFUT PREPAREs of
 * future-born gids.  To the coordinator: NFUT commit requests and NFUT
 * ballot-0 votes (2a of XA-style gids, which a client may cast) of others.
 * Then (a) every commit request is answered ERROR naming the clock; (b) a
 * normal transaction commits on a and b; (c) the coordinator answers a
 * status request for each of those gids with the clock error (it holds
 * neither a txn nor a tombstone for any: either would answer), and the
 * daemons' stats lines count the refusals and show no live gid and fewer
 * tombstones than NFUT at the coordinator, and fewer than NFUT gids
 * tracked by agent a (the normal ones it remembers).  Every check runs; the test fails at the end with
 * all that went wrong.
 */
static void test_future_gids_leave_no_state(void **state)
{
	struct pgc *c = *state;
	up(c, 1, 2);
	sql(c, "a", "CREATE TABLE t(id int PRIMARY KEY)");
	sql(c, "b", "CREATE TABLE t(id int PRIMARY KEY)");
	struct px_config cfg;
	char err[600];
	assert_int_equal(px_config_load(c->conf, &cfg, err, sizeof(err)), 0);
	const struct px_config_part *pa = px_config_part_by_name(&cfg, "a"), *pb = px_config_part_by_name(&cfg, "b");
	assert_non_null(pa);
	assert_non_null(pb);
	struct px_pset ps = {.n = 2};
	ps.rm[0] = pa->id < pb->id ? pa->id : pb->id;
	ps.rm[1] = pa->id < pb->id ? pb->id : pa->id;
	void *zctx = zmq_ctx_new();
	assert_non_null(zctx);
	assert_int_equal(px_keyring_load(&g_keys, &cfg, px_addr_of(PX_NODE_CLIENT, 0), NULL, err, sizeof(err)), 0);
	g_client_id = g_keys.curve ? px_key_id(g_keys.pub) : 0xf00df00df00df00dULL;
	void *to_coord = client_socket(zctx, cfg.coord[0].endpoint, cfg.coord[0].public_key);
	void *to_agent = client_socket(zctx, pa->endpoint, pa->public_key);
	struct problems pr = {0};
	uint64_t now = wall_ms();
	char gid[200];

	for (int k = 0; k < NFUT; k++) {
		future_gid(gid, cfg.name, now, k, 0, 0);
		struct px_msg m = {.type = PX_MSG_PREPARE};
		m.u.prepare.gid = px_str_of(gid, (uint32_t)strlen(gid));
		m.u.prepare.pset = ps;
		send_frame(to_agent, &m);

		future_gid(gid, cfg.name, now, k, NFUT, 0);
		m = (struct px_msg){.type = PX_MSG_COMMIT_REQ};
		m.u.commit_req.req = (uint64_t)k + 1;
		m.u.commit_req.gid = px_str_of(gid, (uint32_t)strlen(gid));
		m.u.commit_req.wait = PX_WAIT_DECIDED;
		m.u.commit_req.pset = ps;
		send_frame(to_coord, &m);

		future_gid(gid, cfg.name, now, k, 2 * NFUT, 1);
		m = (struct px_msg){.type = PX_MSG_2A};
		m.u.m2a.gid = px_str_of(gid, (uint32_t)strlen(gid));
		m.u.m2a.rm = pa->id;
		m.u.m2a.bal = 0;
		m.u.m2a.val = PX_VAL_PREPARED;
		m.u.m2a.pset = ps;
		send_frame(to_coord, &m);
	}

	/* (a) every commit request refused, naming the clock */
	int refused = 0, other = 0;
	uint8_t seen[NFUT + 1] = {0};
	uint64_t end = cl_now_ms() + 10000;
	while (refused + other < NFUT && cl_now_ms() < end) {
		zmq_pollitem_t it = {.socket = to_coord, .events = ZMQ_POLLIN};
		if (zmq_poll(&it, 1, 200) <= 0)
			continue;
		uint8_t buf[65536];
		int n = zmq_recv(to_coord, buf, sizeof(buf), 0);
		if (n <= 0 || (size_t)n > sizeof(buf))
			continue;
		size_t off = 0, flen;
		const uint8_t *fr;
		while (px_net_split(buf, (size_t)n, &off, &fr, &flen) > 0) {
			struct px_msg r;
			if (px_decode(fr, flen, &r) != PX_EOK || r.type != PX_MSG_OUTCOME)
				continue; /* a 2b for a vote the acceptor took */
			const struct px_moutcome *o = &r.u.outcome;
			if (o->req < 1 || o->req > NFUT || seen[o->req])
				continue;
			seen[o->req] = 1;
			char why[600];
			snprintf(why, sizeof(why), "%.*s", (int)o->reason.len, o->reason.p);
			if (o->status == PX_ST_ERROR && strstr(why, "ahead of this replica's clock")) {
				refused++;
			} else if (other++ == 0) {
				problem(&pr, "(a) commit request of %.*s answered with status %u (reason '%s'), want ERROR naming the clock",
					(int)o->gid.len, o->gid.p, o->status, why);
			}
		}
	}
	printf("commit requests of future-born gids: %d refused naming the clock, %d answered otherwise\n", refused,
	       other);
	if (refused != NFUT)
		problem(&pr, "(a) %d of %d commit requests refused naming the clock (%d answered otherwise)", refused,
			NFUT, other);

	/* (b) the daemons still commit */
	struct pc_conn *pcn = connect_to(c);
	struct pc_txn *t;
	assert_int_equal(pc_begin(pcn, &t), 0);
	int oc = exec_commit_ab(&t, "INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)");
	if (oc != PC_COMMITTED)
		problem(&pr, "(b) a normal transaction ended with outcome %d, want committed", oc);
	if (sql_long(c, "a", "SELECT count(*) FROM t") != 1 || sql_long(c, "b", "SELECT count(*) FROM t") != 1)
		problem(&pr, "(b) the normal transaction's rows are not on both participants");

	/* (c) nothing kept: the coordinator answers from a txn or a tombstone
	 * when it has one, else with the clock error */
	int nostate = 0, known = 0;
	for (int kind = 0; kind < 3; kind++)
		for (int k = 0; k < NFUT; k++) {
			future_gid(gid, cfg.name, now, k, (uint64_t)kind * NFUT, kind == 2);
			struct pc_result res;
			int e = pc_status_at(pcn, 0, gid, 2000, &res);
			if (e == PC_EREFUSED && strstr(pc_conn_errmsg(pcn), "ahead of this replica's clock")) {
				nostate++;
			} else if (known++ == 0) {
				problem(&pr, "(c) status of %s: %d, outcome %d (%s), want the clock error", gid, e, res.outcome,
					e ? pc_conn_errmsg(pcn) : res.reason);
			}
		}
	printf("status of future-born gids: %d unknown to the coordinator (clock error), %d known\n", nostate, known);
	pc_conn_close(&pcn);

	char line[4096];
	long want = 2L * NFUT + 3L * NFUT; /* commit requests, votes, status requests */
	if (wait_stats(c, "coordinator.0", want, line, sizeof(line)))
		problem(&pr, "(c) no coordinator stats line with future_gids=%ld within %d ms; last: %s", want,
			STATS_WAIT_MS, line);
	else if (field(line, "live") != 0 || field(line, "tombstones") < 0 || field(line, "tombstones") >= NFUT)
		problem(&pr, "(c) the coordinator keeps state: %s", line);
	printf("coordinator: live=%ld tombstones=%ld future_gids=%ld\n", field(line, "live"), field(line, "tombstones"),
	       field(line, "future_gids"));
	if (wait_stats(c, "participant.a", NFUT, line, sizeof(line)))
		problem(&pr, "(c) no stats line of agent a with future_gids=%d within %d ms; last: %s", NFUT,
			STATS_WAIT_MS, line);
	else if (field(line, "tracked") < 0 || field(line, "tracked") >= NFUT)
		problem(&pr, "(c) agent a keeps state: %s", line);
	printf("agent a: tracked=%ld voted_aborted=%ld future_gids=%ld\n", field(line, "tracked"),
	       field(line, "voted_aborted"), field(line, "future_gids"));

	zmq_close(to_coord);
	zmq_close(to_agent);
	zmq_ctx_term(zctx);
	px_config_free(&cfg);
	px_keyring_free(&g_keys);
	if (pr.n) {
		for (int i = 0; i < pr.n; i++)
			fprintf(stderr, "%s\n", pr.msg[i]);
		fail_msg("%d check(s) failed, first: %s", pr.n, pr.msg[0]);
	}
}

int main(void)
{
	if (geteuid() != 0) {
		printf("e2e_pg_future: needs root (to run PostgreSQL as the postgres user); skipped\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_future_gids_leave_no_state, setup, teardown),
	};
	return e2e_run("e2e_pg_future", tests, sizeof(tests) / sizeof(tests[0]));
}
