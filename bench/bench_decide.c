/*
 * bench_decide.c - B3: coordinator-only decisions per second.  Three
 * coordinator replicas (real processes, real commit logs) and two scripted
 * participants that vote `prepared` at once (tests/e2e/test_agent --instant,
 * no database); N client threads each ask, one after another, for commits
 * of fresh gids over both participants with wait=decided.  Prints one JSON
 * line.  The first second is a warm-up.
 *
 *   bench_decide [--seconds S] [--clients N] [--window W] [--replicas R]
 * (N load threads, each with W commit requests in flight)
 *   bench_decide --count K [--replicas R]
 *
 * --count K runs K commits one after another (one client), stops every
 * process, and adds up the protocol messages they sent (their shutdown
 * `proto_sent`; heartbeats and sync excluded) plus the client's one request
 * per commit: messages per committed transaction, printed beside Gray and
 * Lamport's figures for N = 2 participants and F = (R-1)/2.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/wait.h>

#include "cluster.h"
#include "paxcommit.h"
#include "px_config.h"
#include "px_gid.h"
#include "px_msg.h"
#include "px_keys.h"
#include "px_net.h"

#include <zmq.h>

static struct cluster g_c;
static volatile int g_measure, g_stop;

struct worker {
	long decided, other;
	double *lat;
	size_t nlat;
};

#define LAT_MAX 1000000

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* One load thread: its own transport to the replicas, `window` commit
 * requests in flight (new gids, wait=decided), following "not the leader"
 * hints.  A raw protocol client, so that the load generator is not what is
 * measured. */
static int g_window = 32, g_reps = 3;

struct slot {
	char gid[200];
	uint64_t req;
	double t0;
	int measured;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	void *z = zmq_ctx_new();
	struct px_net *net;
	char err[300];
	struct px_config cfg;
	struct px_keyring keys;
	if (px_config_load(g_c.conf, &cfg, err, sizeof(err)) ||
	    px_keyring_load(&keys, &cfg, px_addr_of(PX_NODE_CLIENT, 0), NULL, err, sizeof(err))) {
		fprintf(stderr, "bench_decide: %s\n", err);
		return NULL;
	}
	struct px_net_config nc = {.self = px_addr_of(PX_NODE_CLIENT, 0), .hwm = 100000, .queue_unconnected = 1,
				   .keys = &keys};
	if (px_net_new(z, &nc, &net, err, sizeof(err)))
		return NULL;
	for (uint8_t i = 0; i < cfg.ncoord; i++)
		px_net_add_peer(net, px_addr_of(PX_NODE_REPLICA, i), cfg.coord[i].endpoint, err, sizeof(err));
	zmq_pollitem_t items[8];
	struct slot *s = calloc((size_t)g_window, sizeof(*s));
	/* With CURVE the gids carry the key's id (px_auth.h), which every
	 * worker shares: the workers' seq ranges keep their gids apart. */
	uint64_t seq = keys.curve ? ((uint64_t)(uintptr_t)w & 0xFFFFFFu) << 24 : 0, req = 0,
		 cid = keys.curve ? px_key_id(keys.pub) : (uint64_t)(uintptr_t)w * 2654435761u;
	int leader = 0;
	struct px_pset ps = {.n = 2, .rm = {1, 2}};
	uint8_t buf[512];
	size_t len;
	/* map req -> slot: req % window */
	for (int k = 0; k < g_window; k++) {
		px_gid_make(s[k].gid, sizeof(s[k].gid), cfg.name, (uint64_t)time(NULL) * 1000u, cid, ++seq);
		s[k].req = 0;
	}
	while (!g_stop) {
		for (int k = 0; k < g_window; k++)
			if (!s[k].req) {
				struct timespec ts;
				clock_gettime(CLOCK_REALTIME, &ts);
				px_gid_make(s[k].gid, sizeof(s[k].gid), cfg.name,
					    (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u, cid, ++seq);
				s[k].req = (++req) * (uint64_t)g_window + (uint64_t)k;
				s[k].t0 = now_ms();
				s[k].measured = g_measure;
				struct px_msg m = {.type = PX_MSG_COMMIT_REQ};
				m.u.commit_req.req = s[k].req;
				m.u.commit_req.gid = px_str_of(s[k].gid, (uint32_t)strlen(s[k].gid));
				m.u.commit_req.wait = PX_WAIT_DECIDED;
				m.u.commit_req.pset = ps;
				if (px_encode(&m, buf, sizeof(buf), &len) == 0)
					px_net_send(net, px_addr_of(PX_NODE_REPLICA, (uint64_t)leader), buf, len);
			}
		size_t ni = px_net_pollitems(net, items, 8); /* the replicas sent to */
		zmq_poll(items, (int)ni, 100);
		struct px_addr from;
		const uint8_t *data;
		size_t dl;
		while (px_net_recv(net, &from, &data, &dl) == 1) {
		size_t off = 0;
		const uint8_t *fr;
		size_t fl;
		while (px_net_split(data, dl, &off, &fr, &fl) == 1) {
			struct px_msg r;
			if (px_decode(fr, fl, &r) || r.type != PX_MSG_OUTCOME)
				continue;
			int k = (int)(r.u.outcome.req % (uint64_t)g_window);
			if (s[k].req != r.u.outcome.req)
				continue;
			if (r.u.outcome.status == PX_ST_NOT_LEADER) {
				if (r.u.outcome.leader < g_reps)
					leader = r.u.outcome.leader;
				s[k].req = 0; /* ask again, with a new gid */
				continue;
			}
			double dt = now_ms() - s[k].t0;
			if (s[k].measured && g_measure && !g_stop) {
				if (r.u.outcome.status == PX_ST_COMMITTED) {
					w->decided++;
					if (w->nlat < LAT_MAX)
						w->lat[w->nlat++] = dt;
				} else {
					w->other++;
				}
			}
			s[k].req = 0;
		}
		}
	}
	free(s);
	px_config_free(&cfg);
	px_net_destroy(&net);
	zmq_ctx_term(z);
	px_keyring_free(&keys);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int count_messages(int reps, int k)
{
	struct pc_conn *pc;
	char err[600];
	if (pc_connect(g_c.conf, &pc, err, sizeof(err)))
		return 1;
	uint16_t rms[2] = {1, 2};
	int ok = 0;
	for (int i = 0; i < k; i++) {
		char gid[200];
		pc_new_gid(pc, gid, sizeof(gid));
		struct pc_result r;
		if (pc_commit_gid(pc, gid, rms, 2, PC_WAIT_APPLIED, 10000, &r) == 0 && r.outcome == PC_COMMITTED)
			ok++;
	}
	pc_conn_close(&pc);
	long total = ok; /* the client's commit requests */
	char path[400], name[40];
	for (int i = 0; i < reps; i++) {
		cluster_stop_coord(&g_c, i);
		snprintf(name, sizeof(name), "coordinator.%d", i);
		cluster_log_path(&g_c, name, path, sizeof(path));
		long v = cluster_log_stat(path, "proto_sent");
		fprintf(stderr, "  coordinator.%d sent %ld\n", i, v);
		total += v;
	}
	for (int i = 0; i < g_c.npart; i++)
		if (g_c.part[i] > 0) {
			kill(g_c.part[i], SIGTERM);
			waitpid(g_c.part[i], NULL, 0);
			g_c.part[i] = 0;
		}
	for (int i = 1; i <= 2; i++) {
		snprintf(name, sizeof(name), "participant.p%d", i);
		cluster_log_path(&g_c, name, path, sizeof(path));
		long v = cluster_log_stat(path, "proto_sent");
		fprintf(stderr, "  participant.p%d sent %ld\n", i, v);
		total += v;
	}
	int F = (reps - 1) / 2, N = 2;
	printf("{\"system\": \"messages\", \"label\": \"messages per committed transaction, %d replicas, 2 participants\", "
	       "\"committed\": %d, \"messages\": %ld, \"per_txn\": %.2f, \"paxos_commit\": %d, \"faster_paxos_commit\": %d}\n",
	       reps, ok, total, ok ? (double)total / ok : 0, (N + 1) * (F + 3) - 2, N * (2 * F + 3));
	cluster_destroy(&g_c);
	return ok == k ? 0 : 1;
}

int main(int argc, char **argv)
{
	int secs = 5, clients = 2, reps = 3, count = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--seconds"))
			secs = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--clients"))
			clients = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--replicas"))
			reps = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--count"))
			count = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--window"))
			g_window = atoi(argv[i + 1]);
	}
	if (clients < 1 || clients > 256 || secs < 1 || g_window < 1 || g_window > 4096)
		return 2;
	g_reps = reps;
	if (cluster_init(&g_c, reps, 2, "heartbeat_ms = 50\nlease_ms = 300\ntxn_timeout_ms = 3000\nmax_live = 100000"))
		return 1;
	g_c.part_arg = "--instant";
	if (!count) { /* no line per decision while measuring throughput */
		g_c.coord_arg[0] = "--log-level";
		g_c.coord_arg[1] = "warn";
	}
	for (int i = 1; i <= 2; i++)
		cluster_start_part(&g_c, i);
	for (int i = 0; i < reps; i++)
		cluster_start_coord(&g_c, i);
	struct pc_conn *pc;
	char err[600];
	if (pc_connect(g_c.conf, &pc, err, sizeof(err)) || cluster_wait_leader(&g_c, pc, 10000) < 0) {
		fprintf(stderr, "bench_decide: no leader\n");
		cluster_destroy(&g_c);
		return 1;
	}
	pc_conn_close(&pc);
	if (count > 0)
		return count_messages(reps, count);
	struct worker *w = calloc((size_t)clients, sizeof(*w));
	pthread_t th[256];
	for (int i = 0; i < clients; i++) {
		w[i].lat = malloc(sizeof(double) * LAT_MAX);
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	struct timespec warm = {1, 0}, run = {secs, 0};
	nanosleep(&warm, NULL);
	double t0 = now_ms();
	g_measure = 1;
	nanosleep(&run, NULL);
	g_measure = 0;
	double el = (now_ms() - t0) / 1000.0;
	g_stop = 1;
	for (int i = 0; i < clients; i++)
		pthread_join(th[i], NULL);
	long decided = 0, other = 0;
	size_t n = 0;
	for (int i = 0; i < clients; i++) {
		decided += w[i].decided;
		other += w[i].other;
		n += w[i].nlat;
	}
	double *lat = malloc(sizeof(double) * (n + 1));
	size_t k = 0;
	for (int i = 0; i < clients; i++) {
		memcpy(lat + k, w[i].lat, sizeof(double) * w[i].nlat);
		k += w[i].nlat;
		free(w[i].lat);
	}
	qsort(lat, n, sizeof(double), cmp);
	printf("{\"system\": \"B3\", \"label\": \"B3 coordinator-only, %d replicas\", \"clients\": %d, \"window\": %d, \"seconds\": %.2f, "
	       "\"committed\": %ld, \"aborted\": %ld, \"errors\": 0, \"tps\": %.1f, \"p50_ms\": %.3f, \"p99_ms\": %.3f}\n",
	       reps, clients, g_window, el, decided, other, (double)decided / el, n ? lat[n / 2] : 0,
	       n ? lat[(size_t)((double)n * 0.99)] : 0);
	free(lat);
	free(w);
	cluster_destroy(&g_c);
	return 0;
}
