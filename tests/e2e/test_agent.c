/*
 * test_agent.c - a scripted participant for end-to-end tests of the
 * coordinators.  NOT the product's agent: it runs the real participant core
 * (participant/pa_core.c) over the real transport (common/px_net.c), but
 * its "database" is a table in memory whose behaviour the statements script:
 *
 *   EXEC "ok"     succeeds
 *   EXEC "abort"  succeeds, but PREPARE will fail: the vote is `aborted`
 *   EXEC "fail"   fails with SQLSTATE 23505: the vote is `aborted`
 *
 * Every COMMIT PREPARED / ROLLBACK PREPARED it applies is appended to the
 * journal file (--journal), one "commit GID" / "abort GID" line, so tests
 * can compare what participants did with what coordinators decided.
 *
 * --instant (for the coordinator benchmark): every gid it is asked about
 * counts as prepared, so it votes `prepared` at once without any EXEC.
 *
 * usage: test_agent --config FILE --name NAME [--journal FILE] [--instant]
 * SIGTERM / SIGINT stop it (exit 0).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "pa_core.h"
#include "px_auth.h"
#include "px_config.h"
#include "px_keys.h"
#include "px_map.h"
#include "px_msg.h"
#include "px_net.h"
#include "px_update.h"

enum { T_OPEN = 1, T_PREPARED, T_COMMITTED, T_ABORTED };

struct tx {
	struct px_key k;
	int state;
	int doomed;
};

static volatile sig_atomic_t g_stop;
static void on_signal(int s)
{
	(void)s;
	g_stop = 1;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *g_name = "?";
static int g_verbose;
static int g_instant;
static void core_log(void *ctx, const char *line)
{
	(void)ctx;
	if (g_verbose)
		fprintf(stderr, "participant.%s %s\n", g_name, line);
}

static struct px_map g_db;
static FILE *g_journal;

static struct tx *tx_get(struct px_str gid, int create)
{
	struct tx *t = px_map_get(&g_db, gid);
	if (t || !create)
		return t;
	t = calloc(1, sizeof(*t));
	if (!t)
		exit(1);
	px_key_set(&t->k, gid);
	if (px_map_put(&g_db, t))
		exit(1);
	return t;
}

static void journal(const char *what, const struct tx *t)
{
	if (g_journal) {
		fprintf(g_journal, "%s %s\n", what, t->k.s);
		fflush(g_journal);
	}
}

/* Run one database action at once and step its result. */
static void run_action(struct pa_core *pa, struct px_update *u, size_t k, uint64_t now)
{
	struct pa_db_action a = u->db[k];
	char gidbuf[PX_GID_MAX + 1];
	if (a.gid_len)
		memcpy(gidbuf, u->arena + a.gid_off, a.gid_len);
	struct px_str gid = px_str_of(gidbuf, a.gid_len);
	struct pa_event ev = {.kind = PA_EV_DB, .now = now, .token = a.token, .status = PA_DB_OK};
	ev.gid = px_str_of(gidbuf, a.gid_len);
	struct px_msg result, exec;
	struct px_str *gids = NULL;
	uint8_t *frame = NULL;
	struct tx *t = a.kind == PA_DB_SCAN ? NULL : tx_get(gid, 0);
	switch (a.kind) {
	case PA_DB_EXEC:
		frame = malloc(a.msg_len);
		if (!frame)
			exit(1);
		memcpy(frame, u->arena + a.msg_off, a.msg_len);
		if (px_decode(frame, a.msg_len, &exec) || exec.type != PX_MSG_EXEC) {
			ev.status = PA_DB_FAILED;
			break;
		}
		if (!t)
			t = tx_get(gid, 1), t->state = T_OPEN;
		memset(&result, 0, sizeof(result));
		result.type = PX_MSG_EXEC_RESULT;
		result.u.exec_result.req = exec.u.exec.req;
		result.u.exec_result.gid = gid;
		if (t->state != T_OPEN) {
			ev.status = PA_DB_FAILED;
			break;
		}
		if (exec.u.exec.sql.len == 4 && !memcmp(exec.u.exec.sql.p, "fail", 4)) {
			t->doomed = 1;
			result.u.exec_result.status = PX_EXEC_SQLERR;
			result.u.exec_result.sqlstate = px_str_of("23505", 5);
			result.u.exec_result.reason = px_str_of("scripted failure", 16);
			ev.status = PA_DB_FAILED;
		} else {
			if (exec.u.exec.sql.len == 5 && !memcmp(exec.u.exec.sql.p, "abort", 5))
				t->doomed = 1;
			result.u.exec_result.status = PX_EXEC_OK;
		}
		ev.result = &result;
		break;
	case PA_DB_PREPARE:
		if (!t || t->state != T_OPEN || t->doomed) {
			if (t && t->state == T_OPEN)
				t->state = T_ABORTED;
			ev.status = PA_DB_FAILED;
		} else {
			t->state = T_PREPARED;
		}
		break;
	case PA_DB_COMMIT_PREPARED:
	case PA_DB_ROLLBACK_PREPARED:
		if (!t || t->state != T_PREPARED) {
			ev.status = PA_DB_FAILED;
		} else {
			t->state = a.kind == PA_DB_COMMIT_PREPARED ? T_COMMITTED : T_ABORTED;
			journal(t->state == T_COMMITTED ? "commit" : "abort", t);
		}
		break;
	case PA_DB_ROLLBACK:
		if (t && t->state == T_OPEN)
			t->state = T_ABORTED;
		break;
	case PA_DB_CHECK:
		if (!t && g_instant) {
			t = tx_get(gid, 1);
			t->state = T_PREPARED;
		}
		ev.prepared = t && t->state == T_PREPARED;
		break;
	case PA_DB_SCAN: {
		gids = malloc(sizeof(*gids) * (g_db.n + 1));
		if (!gids)
			exit(1);
		size_t pos = 0;
		struct tx *x;
		while ((x = px_map_next(&g_db, &pos)))
			if (x->state == T_PREPARED)
				gids[ev.ngids++] = px_str_of(x->k.s, x->k.len);
		ev.gids = gids;
		break;
	}
	default:
		ev.status = PA_DB_FAILED;
	}
	pa_core_step(pa, &ev, u);
	free(gids);
	free(frame);
}

int main(int argc, char **argv)
{
	const char *config = NULL, *name = NULL, *jpath = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config = argv[++i];
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--journal") && i + 1 < argc)
			jpath = argv[++i];
		else if (!strcmp(argv[i], "--verbose"))
			g_verbose = 1;
		else if (!strcmp(argv[i], "--instant"))
			g_instant = 1;
		else {
			fprintf(stderr, "usage: test_agent --config FILE --name NAME [--journal FILE] [--verbose]\n");
			return 2;
		}
	}
	if (!config || !name) {
		fprintf(stderr, "test_agent: --config and --name are required\n");
		return 2;
	}
	g_name = name;
	struct px_config cfg;
	char err[1200];
	if (px_config_load(config, &cfg, err, sizeof(err))) {
		fprintf(stderr, "test_agent: %s\n", err);
		return 2;
	}
	const struct px_config_part *me = px_config_part_by_name(&cfg, name);
	if (!me) {
		fprintf(stderr, "test_agent: %s has no [participant.%s]\n", config, name);
		return 2;
	}
	if (jpath && !(g_journal = fopen(jpath, "a"))) {
		fprintf(stderr, "test_agent: %s: %s\n", jpath, strerror(errno));
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	px_map_init(&g_db);

	void *zctx = zmq_ctx_new();
	struct px_net *net;
	struct px_keyring keys;
	struct px_net_config nc = {.self = px_addr_of(PX_NODE_AGENT, me->id), .bind = me->endpoint, .keys = &keys};
	if (!zctx || px_keyring_load(&keys, &cfg, nc.self, NULL, err, sizeof(err)) ||
	    px_net_new(zctx, &nc, &net, err, sizeof(err))) {
		fprintf(stderr, "test_agent: %s\n", err);
		return 1;
	}
	for (uint8_t i = 0; i < cfg.ncoord; i++)
		if (px_net_add_peer(net, px_addr_of(PX_NODE_REPLICA, i), cfg.coord[i].endpoint, err, sizeof(err))) {
			fprintf(stderr, "test_agent: %s\n", err);
			return 1;
		}
	struct pa_config pc = {
		.rm = me->id,
		.nreplicas = cfg.ncoord,
		.idle_timeout_ms = cfg.agent_idle_timeout_ms,
		.resend_ms = cfg.resend_ms,
		.scan_ms = 2000,
		.max_open = 100000,
		.remember_ms = 60000,
		.skew_ms = 500,
		.max_future_ms = 500, /* at most skew_ms (pa_config) */
		.cluster = cfg.name,
		.name = me->name,
		.log = core_log,
	};
	struct pa_core *pa = pa_core_new(&pc);
	struct px_update u;
	px_update_init(&u);
	if (!pa)
		return 1;
	uint64_t timer_at = 0;
	struct pa_event sev = {.kind = PA_EV_START, .now = wall_ms()};
	pa_core_step(pa, &sev, &u);
	zmq_pollitem_t items[8];
	size_t nitems = px_net_pollitems(net, items, 8);
	fprintf(stderr, "participant.%s (test agent) ready at %s\n", name, me->endpoint);
	while (!g_stop) {
		/* carry out the update: database actions (may add more), then sends */
		for (size_t k = 0; k < u.ndb; k++)
			run_action(pa, &u, k, wall_ms());
		for (size_t k = 0; k < u.nnow; k++)
			px_net_batch(net, u.now[k].to, u.arena + u.now[k].off, u.now[k].len);
		for (size_t k = 0; k < u.nheld; k++)
			px_net_batch(net, u.held[k].to, u.arena + u.held[k].off, u.held[k].len);
		px_net_flush(net);
		timer_at = px_update_next_timer(&u, timer_at);
		px_update_reset(&u);
		uint64_t now = wall_ms();
		long timeout = timer_at ? (timer_at > now ? (long)(timer_at - now) : 0) : 500;
		if (timeout > 500)
			timeout = 500;
		if (zmq_poll(items, (int)nitems, timeout) < 0 && zmq_errno() != EINTR)
			return 1;
		struct px_addr from;
		const uint8_t *data;
		size_t len;
		for (int k = 0; k < 1024 && px_net_recv(net, &from, &data, &len) == 1; k++) {
			size_t off = 0;
			const uint8_t *frame;
			size_t flen;
			while (px_net_split(data, len, &off, &frame, &flen) == 1) {
				struct px_msg m;
				if (px_decode(frame, flen, &m))
					continue;
				const char *why = px_auth_refuse(
					PX_NODE_AGENT, from, from.kind == PX_NODE_CLIENT ? px_net_client_key(net, from.id) : 0,
					cfg.ncoord, &m);
				if (why) {
					fprintf(stderr, "participant.%s refused %s: %s\n", name, px_type_name(m.type), why);
					continue;
				}
				struct pa_event ev = {.kind = PA_EV_MSG, .now = wall_ms(), .from = from, .msg = &m};
				pa_core_step(pa, &ev, &u);
			}
		}
		now = wall_ms();
		if (!timer_at || now >= timer_at) {
			timer_at = 0;
			struct pa_event ev = {.kind = PA_EV_TIMER, .now = now};
			pa_core_step(pa, &ev, &u);
		}
	}
	fprintf(stderr, "participant.%s stats at shutdown: proto_sent=%llu\n", name,
		(unsigned long long)px_net_proto_sent(net));
	px_update_free(&u);
	pa_core_destroy(&pa);
	px_net_destroy(&net);
	zmq_ctx_term(zctx);
	px_keyring_free(&keys);
	size_t pos = 0;
	struct tx *t;
	while ((t = px_map_next(&g_db, &pos))) {
		px_map_del(&g_db, &t->k);
		free(t);
		pos = 0;
	}
	px_map_free(&g_db);
	px_config_free(&cfg);
	if (g_journal)
		fclose(g_journal);
	return 0;
}
