/*
 * coordinator_main.c - paxcommit-coordinator, one coordinator replica.
 *
 * A thin driver of the pure core (px_replica.h): one thread, one zmq_poll
 * loop.  Each round:
 *   1. read every message that is ready (at most BATCH_MAX), decode, step;
 *      step the timer if it is due;
 *   2. send the core's `now` messages (they never wait for the disk);
 *   3. append the round's records to the commit log and sync once (group
 *      commit), step PERSISTED, repeat while that step adds records;
 *   4. send the `held` messages: everything they depend on is durable;
 *   5. checkpoint when the log has grown enough.
 * A failed write or sync stops the process at once, before any reply that
 * depends on it leaves (fail-stop); a restart recovers from the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "cl_log.h"
#include "px_clock.h"
#include "px_config.h"
#include "px_gid.h"
#include "px_msg.h"
#include "px_log.h"
#include "px_metrics.h"
#include "px_notify.h"
#include "px_auth.h"
#include "px_keys.h"
#include "px_net.h"
#include "px_replica.h"
#include "px_update.h"

/* Exit codes (also in --help and docs/operations.md). */
enum {
	EXIT_OK = 0,      /* stopped by SIGTERM / SIGINT */
	EXIT_RUNTIME = 1, /* ZeroMQ failure, out of memory */
	EXIT_USAGE = 2,   /* bad arguments or configuration */
	EXIT_RECOVER = 3, /* the commit log cannot be recovered */
	EXIT_DISK = 4     /* a write or sync failed: fail-stop */
};

#define BATCH_MAX 1024u            /* messages read per round */
#define CHECKPOINT_RECORDS 100000u /* default: checkpoint after this many records */
#define STATS_EVERY_MS 10000u
#define REQ_SLOTS 4096u         /* commit requests timed at once, at most (metrics) */
#define BAD_LOG_EVERY_MS 1000u

#define LV_ERROR PX_LOG_ERROR
#define LV_WARN PX_LOG_WARN
#define CLOCK_WARN_MS 200u /* a wall clock this far off is logged (a step) */
#define LV_INFO PX_LOG_INFO
#define LV_DEBUG PX_LOG_DEBUG
#define logf_ px_logf

static volatile sig_atomic_t g_stop;
static unsigned g_id;
static unsigned long g_ckpt_records = CHECKPOINT_RECORDS;
static unsigned long g_segment_mb = 64;

static volatile sig_atomic_t g_reload; /* SIGHUP: read the client allow-list again */

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		g_reload = 1;
	else
		g_stop = 1;
}


static void core_log(void *ctx, const char *line)
{
	(void)ctx;
	/* Conflicts and refusals are warnings; the rest is the normal story
	 * (leader changes, recovery ballots, decisions, give-ups). */
	int lv = strstr(line, "CONFLICTING") || strstr(line, "refused") || strstr(line, "bad message") ||
			 strstr(line, "corrupt")
		     ? LV_WARN
		     : LV_INFO;
	logf_(lv, "%s", line);
}

struct recs {
	uint8_t **p;
	struct px_str *v;
	size_t n, cap;
};

static int keep_rec(void *ctx, const struct cl_record *r)
{
	struct recs *rs = ctx;
	if (rs->n == rs->cap) {
		size_t nc = rs->cap ? rs->cap * 2 : 1024;
		uint8_t **np = realloc(rs->p, nc * sizeof(*np));
		if (!np)
			return ENOMEM;
		rs->p = np;
		struct px_str *nv = realloc(rs->v, nc * sizeof(*nv));
		if (!nv)
			return ENOMEM;
		rs->v = nv;
		rs->cap = nc;
	}
	uint8_t *c = malloc(r->len ? r->len : 1);
	if (!c)
		return ENOMEM;
	memcpy(c, r->data, r->len);
	rs->p[rs->n] = c;
	rs->v[rs->n] = px_str_of((const char *)c, r->len);
	rs->n++;
	return 0;
}

static void recs_free(struct recs *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->p[i]);
	free(rs->p);
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

struct daemon {
	struct px_config cfg;
	struct px_replica *rep;
	struct px_update u;
	struct cl_io_posix *io;
	struct cl_log *log;
	uint64_t base;      /* log seq at start: core seq = log seq - base */
	uint64_t last_ckpt; /* log seq of the last checkpoint */
	void *zctx;
	struct px_net *net;
	uint16_t *rms;
	uint64_t now;              /* from clock */
	struct px_clock clock;
	uint64_t clock_warned_at;  /* last "clock:" warning, 0 while in step */
	uint64_t timer_at;
	uint64_t lazy_since; /* lazy records appended and not synced since (0: none) */
	int dirty;           /* records appended and not synced */
	/* Deferred held messages (copies, in dfr.held): they leave after the
	 * next sync, at the latest DEFER_SYNC_MS after dfr_since. */
	struct px_update dfr;
	uint64_t dfr_since;
	uint64_t syncs, deferred, deferred_late; /* stats: syncs, deferred messages, those sent at DEFER_SYNC_MS */
	/* counters */
	uint64_t bad_frames, bad_logged_at, bad_suppressed;
	uint64_t refused; /* messages the sender's role may not send (px_auth.h) */
	struct px_keyring keys;
	uint64_t checkpoints;
	uint64_t stats_at;
	struct px_replica_stats last_st;
	/* /metrics (px_metrics.h) */
	struct px_metrics *metrics;
	struct px_hist fsync_h;   /* cl_log_sync, seconds */
	struct px_hist batch_h;   /* records made durable by one sync */
	struct px_hist commit_h;  /* commit request to its final OUTCOME here, seconds */
	uint64_t unsynced;        /* records appended since the last sync */
	struct req_seen {
		uint64_t cli, req, t_us; /* t_us 0: free */
	} reqs[REQ_SLOTS];
};

static uint64_t mono_us(void)
{
	struct timespec m;
	clock_gettime(CLOCK_MONOTONIC, &m);
	return (uint64_t)m.tv_sec * 1000000u + (uint64_t)m.tv_nsec / 1000u;
}

static struct req_seen *req_slot(struct daemon *d, uint64_t cli, uint64_t req)
{
	return &d->reqs[(cli * 0x9E3779B97F4A7C15ull ^ req * 0xC2B2AE3D27D4EB4Full) % REQ_SLOTS];
}

/* A commit or rollback request from client cli arrived (metrics). */
static void req_arrived(struct daemon *d, uint64_t cli, uint64_t req)
{
	struct req_seen *r = req_slot(d, cli, req);
	if (r->t_us && r->cli == cli && r->req == req)
		return; /* a retransmission: the first arrival counts */
	*r = (struct req_seen){.cli = cli, .req = req, .t_us = mono_us()};
}

/* An OUTCOME frame goes to client cli: a final one ends its request's time. */
static void req_answered(struct daemon *d, uint64_t cli, const uint8_t *frame, size_t len)
{
	struct px_msg m;
	/* Most sends are not outcomes: look at the header's type byte before
	 * decoding the whole frame. */
	if (len < PX_HDR_LEN || frame[3] != PX_MSG_OUTCOME)
		return;
	if (px_decode(frame, len, &m) || m.type != PX_MSG_OUTCOME ||
	    (m.u.outcome.status != PX_ST_COMMITTED && m.u.outcome.status != PX_ST_ABORTED))
		return;
	struct req_seen *r = req_slot(d, cli, m.u.outcome.req);
	if (!r->t_us || r->cli != cli || r->req != m.u.outcome.req)
		return;
	px_hist_observe(&d->commit_h, (double)(mono_us() - r->t_us) / 1e6);
	r->t_us = 0;
}

static uint64_t clock_now(struct daemon *d)
{
	/* Paced by the monotonic clock, slewing towards the wall clock
	 * (common/px_clock.h): a step of the host's clock neither freezes this
	 * daemon nor expires all its timers at once; it never goes back. */
	struct timespec m, w;
	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &w);
	uint64_t wall = (uint64_t)w.tv_sec * 1000000u + (uint64_t)w.tv_nsec / 1000u;
	uint64_t steps = d->clock.steps;
	d->now = px_clock_read(&d->clock, (uint64_t)m.tv_sec * 1000000u + (uint64_t)m.tv_nsec / 1000u, wall);
	int64_t off = px_clock_offset_ms(&d->clock, wall);
	uint64_t mag = (uint64_t)(off < 0 ? -off : off);
	if (d->clock.steps != steps) {
		px_logf(PX_LOG_WARN, "clock: the wall clock is more than %u s ahead of this daemon's clock; joined it at once",
			PX_CLOCK_STEP_MS / 1000u);
	} else if (mag >= CLOCK_WARN_MS && (!d->clock_warned_at || d->now - d->clock_warned_at >= 10000u)) {
		px_logf(PX_LOG_WARN,
			"clock: the wall clock is %lld ms %s this daemon's clock (a step); following it at %u%% "
			"(about %llu s to go)",
			(long long)mag, off < 0 ? "behind" : "ahead of", PX_CLOCK_SLEW_PPM / 10000u,
			(unsigned long long)(mag * 1000000u / PX_CLOCK_SLEW_PPM / 1000u));
		d->clock_warned_at = d->now;
	} else if (mag < CLOCK_WARN_MS / 2 && d->clock_warned_at) {
		px_logf(PX_LOG_INFO, "clock: back in step with the wall clock (%lld ms)", (long long)off);
		d->clock_warned_at = 0;
	}
	return d->now;
}

static const char *g_dump_dir; /* --dump-decisions */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: paxcommit-coordinator --config FILE --id N [--log-level LEVEL]\n"
		"                             [--log-file PATH] [--checkpoint-records N] [--segment-mb N]\n"
		"       paxcommit-coordinator --dump-decisions DATA_DIR\n"
		"\n"
		"Run coordinator replica N of the cluster described in FILE (see\n"
		"paxcommit.conf(5), or docs/configuration.md).  The replica binds the endpoint of its\n"
		"[coordinator.N] section and keeps its commit log in that section's data_dir\n"
		"(created if missing; one replica per directory).\n"
		"\n"
		"  --config FILE      cluster configuration (INI)\n"
		"  --id N             which [coordinator.N] this process is\n"
		"  --log-level LEVEL  error, warn, info (default: one line per decision,\n"
		"                     leader change, recovery, checkpoint) or debug\n"
		"  --log-file PATH    log to PATH (appended) instead of stderr; SIGHUP opens it\n"
		"                     again (after logrotate moved it)\n"
		"  --checkpoint-records N\n"
		"                     replace the log with a snapshot of the live state\n"
		"                     after N records (default 100000): bounds disk use\n"
		"                     and restart time\n"
		"  --segment-mb N     size of one commit-log segment file, preallocated\n"
		"                     (default 64)\n"
		"  --dump-decisions DATA_DIR\n"
		"                     print every outcome the commit log in DATA_DIR holds,\n"
		"                     one line each: 'decision|forget GID commit|abort|none'\n"
		"                     (the replica must be stopped; forensics and the\n"
		"                     chaos suite's agreement check)\n"
		"  --help             this text\n"
		"\n"
		"Logs go to stderr (or --log-file), one line per event: time, replica, ballot, gid.\n"
		"SIGHUP reopens the log file and reads the client allow-list ([cluster]\n"
		"client_keys) again.\n"
		"Exit status: 0 stopped by SIGTERM/SIGINT; 1 runtime failure (ZeroMQ, memory);\n"
		"2 bad arguments or configuration; 3 the commit log cannot be recovered;\n"
		"4 a disk write or sync failed (fail-stop: nothing unsynced was acknowledged;\n"
		"restart the process once the disk is fixed).\n");
}

static int parse_args(int argc, char **argv, const char **config, long *id)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"id", required_argument, NULL, 'i'},
					     {"log-level", required_argument, NULL, 'l'},
					     {"log-file", required_argument, NULL, 'L'},
					     {"checkpoint-records", required_argument, NULL, 'k'},
					     {"segment-mb", required_argument, NULL, 's'},
					     {"dump-decisions", required_argument, NULL, 'd'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;
	*config = NULL;
	*id = -1;
	while ((c = getopt_long(argc, argv, "c:i:l:k:s:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			g_dump_dir = optarg;
			break;
		case 'c':
			*config = optarg;
			break;
		case 'i': {
			char *end;
			errno = 0;
			*id = strtol(optarg, &end, 10);
			if (errno || *end || *id < 0 || *id >= (long)PX_CFG_COORD_MAX) {
				fprintf(stderr, "paxcommit-coordinator: --id must be 0..%u, not '%s'\n",
					PX_CFG_COORD_MAX - 1, optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 'k': {
			char *end;
			errno = 0;
			g_ckpt_records = strtoul(optarg, &end, 10);
			if (errno || *end || g_ckpt_records < 100 || g_ckpt_records > 100000000ul) {
				fprintf(stderr, "paxcommit-coordinator: --checkpoint-records must be 100..100000000, not '%s'\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 's': {
			char *end;
			errno = 0;
			g_segment_mb = strtoul(optarg, &end, 10);
			if (errno || *end || g_segment_mb < 1 || g_segment_mb > 1024) {
				fprintf(stderr, "paxcommit-coordinator: --segment-mb must be 1..1024, not '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 'l':
			if (px_log_parse_level(optarg) >= 0)
				px_log_set_level(px_log_parse_level(optarg));
			else {
				fprintf(stderr, "paxcommit-coordinator: unknown --log-level '%s' (error, warn, info, debug)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'L': {
			char err[4200];
			if (px_log_open(optarg, err, sizeof(err))) {
				fprintf(stderr, "paxcommit-coordinator: --log-file: %s\n", err);
				return EXIT_USAGE;
			}
			break;
		}
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "paxcommit-coordinator: unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (g_dump_dir)
		return EXIT_OK;
	if (!*config || *id < 0) {
		fprintf(stderr, "paxcommit-coordinator: --config and --id are required (see --help)\n");
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Count a frame that did not decode; log at most one line a second. */
static const char *kind_name(uint8_t k);

static void bad_frame(struct daemon *d, struct px_addr from, const char *why)
{
	d->bad_frames++;
	if (d->now - d->bad_logged_at < BAD_LOG_EVERY_MS && d->bad_logged_at) {
		d->bad_suppressed++;
		return;
	}
	logf_(LV_WARN, "replica=%u bad message from %s %" PRIu64 ": %s (dropped; %" PRIu64 " bad in all, %" PRIu64
		       " lines suppressed)",
	      g_id, kind_name(from.kind), from.id, why, d->bad_frames, d->bad_suppressed);
	d->bad_logged_at = d->now ? d->now : 1;
	d->bad_suppressed = 0;
}

/* Count a message its sender's role may not send (px_auth.h); the same one
 * line a second as bad_frame. */
static void refuse(struct daemon *d, struct px_addr from, const struct px_msg *m, const char *why)
{
	d->refused++;
	if (d->now - d->bad_logged_at < BAD_LOG_EVERY_MS && d->bad_logged_at) {
		d->bad_suppressed++;
		return;
	}
	struct px_str g = px_msg_gid(m);
	logf_(LV_WARN,
	      "replica=%u refused %s from %s %" PRIu64 " gid=%.*s: %s (dropped; %" PRIu64 " refused in all, %" PRIu64
	      " lines suppressed)",
	      g_id, px_type_name(m->type), kind_name(from.kind), from.id, (int)(g.len > 200 ? 200 : g.len),
	      g.p ? g.p : "", why, d->refused, d->bad_suppressed);
	d->bad_logged_at = d->now ? d->now : 1;
	d->bad_suppressed = 0;
}

static void fail_stop(struct daemon *d, const char *what)
{
	logf_(LV_ERROR, "replica=%u %s failed: %s: %s; stopping (fail-stop) without sending anything that depends on it",
	      g_id, what, cl_strerror(cl_log_error(d->log)), cl_log_errmsg(d->log));
	exit(EXIT_DISK);
}

static const char *kind_name(uint8_t k)
{
	return k == PX_NODE_REPLICA ? "coordinator" : k == PX_NODE_AGENT ? "participant" : k == PX_NODE_CLIENT ? "client" : "?";
}

/* --log-level debug: one line per message (heartbeats excepted). */
static void trace_msg(const char *dir, struct px_addr who, const uint8_t *frame, size_t len)
{
	struct px_msg m;
	if (px_log_level() < LV_DEBUG || px_decode(frame, len, &m) || m.type == PX_MSG_HEARTBEAT)
		return;
	struct px_str g = px_msg_gid(&m);
	char extra[80] = "";
	if (m.type == PX_MSG_2A)
		snprintf(extra, sizeof(extra), " rm=%u bal=%u val=%u", m.u.m2a.rm, m.u.m2a.bal, m.u.m2a.val);
	else if (m.type == PX_MSG_2B)
		snprintf(extra, sizeof(extra), " rm=%u bal=%u val=%u flags=%u", m.u.m2b.rm, m.u.m2b.bal, m.u.m2b.val,
			 m.u.m2b.flags);
	else if (m.type == PX_MSG_1A || m.type == PX_MSG_1B)
		snprintf(extra, sizeof(extra), " rm=%u bal=%u", m.type == PX_MSG_1A ? m.u.m1a.rm : m.u.m1b.rm,
			 m.type == PX_MSG_1A ? m.u.m1a.bal : m.u.m1b.bal);
	else if (m.type == PX_MSG_OUTCOME)
		snprintf(extra, sizeof(extra), " status=%u leader=%u", m.u.outcome.status, m.u.outcome.leader);
	logf_(LV_DEBUG, "replica=%u %s %s %s %" PRIu64 " gid=%.*s%s", g_id, dir, px_type_name(m.type), kind_name(who.kind),
	      who.id, (int)g.len, g.p, extra);
}

static void oom_stop(const char *where)
{
	logf_(LV_ERROR, "replica=%u out of memory%s; stopping", g_id, where);
	exit(EXIT_RUNTIME);
}

static void send_range(struct daemon *d, const struct px_update *u, const struct px_send *s, size_t from, size_t to)
{
	/* One ZeroMQ message per destination for the whole range (lazy sends:
	 * FORGET to the other replicas, see px_net_queue). */
	for (size_t k = from; k < to; k++) {
		trace_msg("send", s[k].to, u->arena + s[k].off, s[k].len);
		if (d->metrics && s[k].to.kind == PX_NODE_CLIENT)
			req_answered(d, s[k].to.id, u->arena + s[k].off, s[k].len);
		px_net_queue(d->net, &s[k], u->arena, clock_now(d));
	}
	px_net_flush(d->net);
}

/* Lazy records (decisions, forgets) wait at most this long for a sync that
 * something else needs, then get their own. */
#define LAZY_SYNC_MS 50u
/* Deferred held messages (a gid's first votes) wait at most this long. */
#define DEFER_SYNC_MS 5u

/* Keep the round's held messages, all deferred, for the next sync. */
static void defer_held(struct daemon *d, struct px_update *u)
{
	for (size_t k = 0; k < u->nheld; k++)
		if (px_update_hold_frame(&d->dfr, u->held[k].to, u->arena + u->held[k].off, u->held[k].len))
			oom_stop("");
	d->deferred += u->nheld;
	u->nheld = 0;
	if (d->dfr.nheld && !d->dfr_since)
		d->dfr_since = clock_now(d);
}

/* Send (send != 0: everything they wait for is durable) or drop the
 * deferred messages. */
static void release_deferred(struct daemon *d, int send)
{
	if (send)
		send_range(d, &d->dfr, d->dfr.held, 0, d->dfr.nheld);
	px_update_reset(&d->dfr);
	d->dfr_since = 0;
}

/* Sync the commit log, send what was deferred to it, and tell the core
 * what is durable. */
static void sync_log(struct daemon *d)
{
	uint64_t durable, t0 = mono_us();
	if (cl_log_sync(d->log, &durable))
		fail_stop(d, "commit log write and sync");
	px_hist_observe(&d->fsync_h, (double)(mono_us() - t0) / 1e6);
	px_hist_observe(&d->batch_h, (double)d->unsynced);
	d->unsynced = 0;
	d->syncs++;
	d->lazy_since = 0;
	d->dirty = 0;
	release_deferred(d, 1);
	struct px_event ev = {.kind = PX_EV_PERSISTED, .now = clock_now(d), .seq = durable - d->base};
	px_replica_step(d->rep, &ev, &d->u);
	if (d->u.oom)
		oom_stop(" in the core");
}

/* Persist the round's records, then send; see the file comment. */
static void flush_round(struct daemon *d)
{
	struct px_update *u = &d->u;
	size_t rec_done = 0, now_done = 0;
	if (u->oom)
		oom_stop(" in the core");
	if (u->enc_err)
		logf_(LV_ERROR, "replica=%u the core built a message that does not encode: %s (bug)", g_id,
		      px_codec_strerror(u->enc_err));
	for (;;) {
		send_range(d, u, u->now, now_done, u->nnow);
		now_done = u->nnow;
		int eager = 0;
		for (; rec_done < u->nrec; rec_done++) {
			int rc = cl_log_append(d->log, 1, u->arena + u->rec[rec_done].off, u->rec[rec_done].len, NULL);
			if (rc)
				fail_stop(d, "commit log append");
			eager |= !u->rec[rec_done].lazy;
			d->dirty = 1;
			d->unsynced++;
		}
		if (!d->dirty)
			break; /* everything appended is durable */
		int held_eager = 0;
		for (size_t k = 0; k < u->nheld; k++)
			held_eager |= !u->held[k].lazy;
		/* Only lazy records (decisions, forgets, a gid's first votes)
		 * and deferred messages: no sync for them alone; the next
		 * sync, or LAZY_SYNC_MS / DEFER_SYNC_MS, makes them durable
		 * (and sends those messages). */
		if (!eager && !held_eager) {
			if (!d->lazy_since)
				d->lazy_since = clock_now(d);
			defer_held(d, u); /* takes them out of u */
			break;
		}
		sync_log(d);
	}
	/* Every record is durable now: release what waited for it. */
	send_range(d, u, u->held, 0, u->nheld);
	d->timer_at = px_update_next_timer(u, d->timer_at);
	px_update_reset(u);
}

static void maybe_checkpoint(struct daemon *d)
{
	uint64_t last = cl_log_last_seq(d->log);
	if (last - d->last_ckpt < g_ckpt_records)
		return;
	struct px_update snap;
	px_update_init(&snap);
	if (px_replica_snapshot(d->rep, &snap)) {
		logf_(LV_WARN, "replica=%u checkpoint skipped: out of memory", g_id);
		px_update_free(&snap);
		return;
	}
	struct cl_iov *v = malloc(sizeof(*v) * (snap.nrec + 1));
	if (!v) {
		px_update_free(&snap);
		return;
	}
	for (size_t k = 0; k < snap.nrec; k++)
		v[k] = (struct cl_iov){.type = 1, .data = snap.arena + snap.rec[k].off, .len = snap.rec[k].len};
	int rc = cl_log_checkpoint(d->log, v, snap.nrec);
	free(v);
	if (rc)
		fail_stop(d, "checkpoint");
	d->last_ckpt = last;
	d->checkpoints++;
	logf_(LV_INFO, "replica=%u checkpoint at log seq %" PRIu64 ": %zu records, %zu segment files left", g_id, last,
	      snap.nrec, cl_log_segment_count(d->log));
	px_update_free(&snap);
}

static void log_stats(struct daemon *d, const char *why)
{
	const struct px_replica_stats *s = px_replica_stats(d->rep);
	const struct px_net_stats *ns = px_net_stats(d->net);
	logf_(LV_INFO,
	      "replica=%u stats%s: leader=%u live=%zu tombstones=%zu committed=%" PRIu64 " aborted=%" PRIu64
	      " recoveries=%" PRIu64 " forgotten=%" PRIu64 " busy=%" PRIu64 " busy_client=%" PRIu64 " bad_frames=%" PRIu64 " bad_msgs=%" PRIu64
	      " bad_identity=%" PRIu64 " bad_auth=%" PRIu64 " refused=%" PRIu64 " send_dropped=%" PRIu64 " checkpoints=%" PRIu64 " log_segments=%zu"
	      " horizon_age_ms=%" PRIu64 " proto_sent=%" PRIu64 " commit_reqs=%" PRIu64 " syncs=%" PRIu64
	      " deferred=%" PRIu64 " deferred_late=%" PRIu64 " defer_misses=%" PRIu64 " future_gids=%" PRIu64 " give_ups=%" PRIu64 " client_asked=%" PRIu64
	      " quorum_losses=%" PRIu64 " relayed=%" PRIu64 " relayed_reqs=%" PRIu64 " clock_offset_ms=%" PRId64,
	      g_id, why, px_replica_leader(d->rep), px_replica_live(d->rep), px_replica_tombstones(d->rep),
	      s->decided_commit, s->decided_abort, s->recoveries, s->forgotten, s->busy, s->busy_client,
	      d->bad_frames + ns->bad_shape, s->bad_msgs, ns->bad_identity, ns->bad_auth, d->refused, ns->send_dropped, d->checkpoints,
	      cl_log_segment_count(d->log),
	      px_replica_horizon(d->rep) ? d->now - px_replica_horizon(d->rep) : 0, px_net_proto_sent(d->net),
	      s->commit_reqs, d->syncs, d->deferred, d->deferred_late, s->defer_misses, s->future_gids, s->give_ups, s->client_asked,
	      s->quorum_losses, s->relayed, s->relayed_reqs, px_clock_offset_ms(&d->clock, px_wall_ms() * 1000u));
	d->last_st = *s;
}

/* GET /metrics: everything the stats line has, in Prometheus names. */
static void build_metrics(void *ctx, struct px_mtext *t)
{
	struct daemon *d = ctx;
	const struct px_replica_stats *s = px_replica_stats(d->rep);
	const struct px_net_stats *ns = px_net_stats(d->net);
	uint8_t leader = px_replica_leader(d->rep);
	char l[64];
	snprintf(l, sizeof(l), "replica=\"%u\"", g_id);
	px_mt_family(t, "paxcommit_replica_info", "gauge", "This replica: its id, 1");
	px_mt_u64(t, "paxcommit_replica_info", l, 1);
	px_mt_family(t, "paxcommit_decisions_total", "counter", "Outcomes this replica learned, by outcome");
	px_mt_u64(t, "paxcommit_decisions_total", "outcome=\"commit\"", s->decided_commit);
	px_mt_u64(t, "paxcommit_decisions_total", "outcome=\"abort\"", s->decided_abort);
	px_mt_gauge(t, "paxcommit_live_transactions", "Gids undecided, or decided and not yet acknowledged by every participant",
		    (double)px_replica_live(d->rep));
	px_mt_gauge(t, "paxcommit_tombstones", "Forgotten gids remembered until the horizon", (double)px_replica_tombstones(d->rep));
	px_mt_gauge(t, "paxcommit_leader", "The replica this one trusts as leader, -1 for none",
		    leader == PX_NO_LEADER ? -1.0 : (double)leader);
	px_mt_gauge(t, "paxcommit_is_leader", "1 while this replica leads", px_replica_ballot(d->rep) ? 1.0 : 0.0);
	px_mt_gauge(t, "paxcommit_ballot", "The ballot this replica leads at, 0 while it does not lead",
		    (double)px_replica_ballot(d->rep));
	px_mt_counter(t, "paxcommit_leader_changes_total", "Times this replica became leader", s->leader_changes);
	px_mt_counter(t, "paxcommit_quorum_losses_total", "Times this replica stopped hearing a majority", s->quorum_losses);
	px_mt_counter(t, "paxcommit_recoveries_total", "Phase-1 rounds started for stuck gids", s->recoveries);
	px_mt_counter(t, "paxcommit_give_ups_total", "Gids forgotten without an outcome", s->give_ups);
	px_mt_counter(t, "paxcommit_forgotten_total", "Gids garbage-collected here", s->forgotten);
	px_mt_counter(t, "paxcommit_commit_requests_total", "Commit requests received", s->commit_reqs);
	px_mt_counter(t, "paxcommit_relayed_requests_total", "Client requests a follower passed on to its leader",
		      s->relayed_reqs);
	px_mt_family(t, "paxcommit_busy_total", "counter", "Requests refused by backpressure, by limit");
	px_mt_u64(t, "paxcommit_busy_total", "limit=\"max_live\"", s->busy - s->busy_client);
	px_mt_u64(t, "paxcommit_busy_total", "limit=\"max_live_per_client\"", s->busy_client);
	px_mt_counter(t, "paxcommit_log_syncs_total", "Commit-log syncs", d->syncs);
	px_mt_hist(t, "paxcommit_log_sync_seconds", "Time of one commit-log write and sync", &d->fsync_h);
	px_mt_hist(t, "paxcommit_log_sync_records", "Records one sync made durable (group commit)", &d->batch_h);
	px_mt_gauge(t, "paxcommit_log_segments", "Commit-log segment files", (double)cl_log_segment_count(d->log));
	px_mt_counter(t, "paxcommit_log_checkpoints_total", "Commit-log checkpoints", d->checkpoints);
	px_mt_hist(t, "paxcommit_commit_request_seconds",
		   "From a commit or rollback request's arrival to the final outcome this replica sent for it", &d->commit_h);
	px_mt_gauge(t, "paxcommit_horizon_age_seconds", "Age of the garbage-collection horizon",
		    px_replica_horizon(d->rep) ? (double)(d->now - px_replica_horizon(d->rep)) / 1000.0 : 0.0);
	const struct px_mt_reason refused[] = {
		{"bad_frame", d->bad_frames + ns->bad_shape}, {"bad_message", s->bad_msgs}, {"bad_identity", ns->bad_identity},
		{"bad_auth", ns->bad_auth},                   {"role", d->refused},         {"conflict", s->conflicts},
		{"future_gid", s->future_gids}};
	px_mt_daemon(t, refused, sizeof(refused) / sizeof(refused[0]), ns->send_dropped,
		     (double)px_clock_offset_ms(&d->clock, px_wall_ms() * 1000u) / 1000.0, d->metrics);
}

static void handle_message(struct daemon *d, struct px_addr from, const uint8_t *data, size_t len)
{
	size_t off = 0;
	const uint8_t *frame;
	size_t flen;
	int rc;
	while ((rc = px_net_split(data, len, &off, &frame, &flen)) != 0) {
		if (rc < 0) {
			bad_frame(d, from, "trailing bytes shorter than a header");
			break;
		}
		struct px_msg m;
		int err = px_decode(frame, flen, &m);
		if (err) {
			bad_frame(d, from, px_codec_strerror(err));
			continue;
		}
		trace_msg("recv", from, frame, flen);
		const char *why = px_auth_refuse(PX_NODE_REPLICA, from,
						 from.kind == PX_NODE_CLIENT ? px_net_client_key(d->net, from.id) : 0,
						 d->cfg.ncoord, &m);
		if (why) {
			refuse(d, from, &m, why);
			continue;
		}
		if (d->metrics && from.kind == PX_NODE_CLIENT &&
		    (m.type == PX_MSG_COMMIT_REQ || m.type == PX_MSG_ROLLBACK_REQ))
			req_arrived(d, from.id, m.type == PX_MSG_COMMIT_REQ ? m.u.commit_req.req : m.u.rollback_req.req);
		struct px_event ev = {.kind = PX_EV_MSG, .now = clock_now(d), .from = from, .msg = &m};
		px_replica_step(d->rep, &ev, &d->u);
	}
}

/* One replica per directory: a second process on it would corrupt it.
 * Takes DIR/LOCK; returns the locked fd, or -1 with errno set.  The fd
 * holds the lock until it is closed (for a replica, its whole life). */
static int lock_data_dir(const char *dir)
{
	char lockp[PATH_MAX];
	snprintf(lockp, sizeof(lockp), "%s/LOCK", dir);
	int fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		close(fd);
		errno = e;
		fd = -1;
	}
	return fd;
}

static int open_log(struct daemon *d, const char *dir)
{
	int rc = cl_io_posix_new(dir, &d->io);
	if (rc) {
		logf_(LV_ERROR, "replica=%u data_dir %s: %s", g_id, dir, strerror(rc));
		return EXIT_RECOVER;
	}
	if (lock_data_dir(dir) < 0) {
		logf_(LV_ERROR, "replica=%u data_dir %s is in use by another process (%s)", g_id, dir, strerror(errno));
		return EXIT_USAGE;
	}
	struct recs rs = {0};
	struct cl_config lc = {.io = cl_io_posix_io(d->io), .segment_size = (uint64_t)g_segment_mb << 20};
	uint64_t t0 = px_wall_ms();
	rc = cl_log_open(&lc, keep_rec, &rs, &d->log);
	if (rc) {
		logf_(LV_ERROR, "replica=%u cannot recover the commit log in %s: %s: %s", g_id, dir, cl_strerror(rc),
		      d->log ? cl_log_errmsg(d->log) : "");
		recs_free(&rs);
		return EXIT_RECOVER;
	}
	const struct cl_recovery *rec = cl_log_recovery(d->log);
	logf_(LV_INFO,
	      "replica=%u recovered commit log %s in %" PRIu64 " ms: snapshot at seq %" PRIu64 " (%" PRIu64
	      " records), %" PRIu64 " log records, %u segments, torn tail %" PRIu64 " bytes (%" PRIu64
	      " unsynced records after the damage cut with it)",
	      g_id, dir, px_wall_ms() - t0, rec->snapshot_seq, rec->snapshot_records, rec->log_records, rec->segments,
	      rec->dropped_bytes, rec->dropped_records);
	d->base = cl_log_last_seq(d->log);
	d->last_ckpt = rec->snapshot_seq;
	struct px_event ev = {.kind = PX_EV_START, .now = clock_now(d), .recs = rs.v, .nrecs = rs.n};
#if defined(PX_PLANT_DAEMON_BUG) && PX_PLANT_DAEMON_BUG == 1
	/* Planted bug for the end-to-end harness's self-test: amnesia, the
	 * recovered records are not replayed into the core. */
	ev.nrecs = 0;
#endif
	rc = px_replica_step(d->rep, &ev, &d->u);
	recs_free(&rs);
	if (rc) {
		logf_(LV_ERROR, "replica=%u the commit log in %s holds a record the core cannot read", g_id, dir);
		return EXIT_RECOVER;
	}
	return EXIT_OK;
}

static const char *outcome_word(uint8_t o)
{
	return o == PX_OUT_COMMIT ? "commit" : o == PX_OUT_ABORT ? "abort" : "none";
}

static int dump_rec(void *ctx, const struct cl_record *r)
{
	uint64_t *bad = ctx;
	struct px_str gid;
	uint8_t out;
	int type = px_rec_peek(r->data, r->len, &gid, &out);
	if (!type)
		(*bad)++;
	else if (type == PX_REC_DECISION || type == PX_REC_FORGET)
		printf("%s %.*s %s\n", type == PX_REC_DECISION ? "decision" : "forget", (int)gid.len, gid.p,
		       outcome_word(out));
	return 0;
}

/* --dump-decisions: read the log of a stopped replica and print its
 * outcomes.  Exit 0, 2 (no such directory, or in use), 3 (unreadable). */
static int dump_decisions(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "paxcommit-coordinator: --dump-decisions %s: not a directory\n", dir);
		return EXIT_USAGE;
	}
	int fd = lock_data_dir(dir);
	if (fd < 0) {
		fprintf(stderr, "paxcommit-coordinator: %s is in use by a running replica (%s)\n", dir, strerror(errno));
		return EXIT_USAGE;
	}
	struct cl_io_posix *io = NULL;
	int rc = cl_io_posix_new(dir, &io);
	if (rc) {
		fprintf(stderr, "paxcommit-coordinator: %s: %s\n", dir, strerror(rc));
		close(fd);
		return EXIT_RECOVER;
	}
	uint64_t bad = 0;
	struct cl_log *log = NULL;
	struct cl_config lc = {.io = cl_io_posix_io(io), .segment_size = (uint64_t)g_segment_mb << 20};
	rc = cl_log_open(&lc, dump_rec, &bad, &log);
	if (rc)
		fprintf(stderr, "paxcommit-coordinator: cannot recover the commit log in %s: %s: %s\n", dir,
			cl_strerror(rc), log ? cl_log_errmsg(log) : "");
	else if (bad)
		fprintf(stderr, "paxcommit-coordinator: %s: %" PRIu64 " records the core cannot read\n", dir, bad);
	cl_log_close(&log);
	cl_io_posix_destroy(&io);
	close(fd);
	if (fflush(stdout) || ferror(stdout))
		return EXIT_FAILURE;
	return rc || bad ? EXIT_RECOVER : EXIT_OK;
}

int main(int argc, char **argv)
{
	const char *config;
	long id;
	int rc = parse_args(argc, argv, &config, &id);
	if (rc)
		return rc;
	if (g_dump_dir)
		return dump_decisions(g_dump_dir);
	g_id = (unsigned)id;
	char pname[32];
	snprintf(pname, sizeof(pname), "coordinator.%u", g_id);
	px_log_name(pname);
	struct daemon d;
	memset(&d, 0, sizeof(d));
	char err[1200];
	if (px_config_load(config, &d.cfg, err, sizeof(err))) {
		fprintf(stderr, "paxcommit-coordinator: %s\n", err);
		return EXIT_USAGE;
	}
	if (id >= d.cfg.ncoord) {
		fprintf(stderr, "paxcommit-coordinator: %s has no [coordinator.%ld] (it names %u coordinators, 0..%u)\n",
			config, id, d.cfg.ncoord, d.cfg.ncoord - 1u);
		return EXIT_USAGE;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	d.rms = malloc(sizeof(*d.rms) * d.cfg.npart);
	if (!d.rms)
		return EXIT_RUNTIME;
	for (uint16_t i = 0; i < d.cfg.npart; i++)
		d.rms[i] = d.cfg.part[i].id; /* sorted by the config reader */
	struct px_replica_config rc_ = {
		.id = (uint8_t)id,
		.n = d.cfg.ncoord,
		.heartbeat_ms = d.cfg.heartbeat_ms,
		.lease_ms = d.cfg.lease_ms,
		.txn_timeout_ms = d.cfg.txn_timeout_ms,
		.resend_ms = d.cfg.resend_ms,
		.sync_ms = d.cfg.sync_ms,
		.horizon_ms = d.cfg.horizon_ms,
		.max_live = d.cfg.max_live,
		.max_live_client = d.cfg.max_live_client,
		.max_future_ms = PX_GID_MAX_FUTURE_MS,
		.rms = d.rms,
		.nrms = d.cfg.npart,
		.cluster = d.cfg.name,
		.log = core_log,
	};
	d.rep = px_replica_new(&rc_);
	if (!d.rep) {
		fprintf(stderr, "paxcommit-coordinator: invalid replica configuration in %s\n", config);
		return EXIT_USAGE;
	}
	px_update_init(&d.u);
	px_update_init(&d.dfr);
	const struct px_config_coord *me = &d.cfg.coord[id];
	logf_(LV_INFO, "replica=%u starting: cluster %s, %u replicas, endpoint %s, data_dir %s", g_id, d.cfg.name,
	      d.cfg.ncoord, me->endpoint, me->data_dir);
	rc = open_log(&d, me->data_dir);
	if (rc)
		return rc;

	d.zctx = zmq_ctx_new();
	if (!d.zctx) {
		logf_(LV_ERROR, "replica=%u zmq_ctx_new: %s", g_id, zmq_strerror(zmq_errno()));
		return EXIT_RUNTIME;
	}
	if (px_keyring_load(&d.keys, &d.cfg, px_addr_of(PX_NODE_REPLICA, (uint64_t)id), NULL, err, sizeof(err))) {
		logf_(LV_ERROR, "replica=%u %s", g_id, err);
		return EXIT_USAGE;
	}
	if (d.keys.curve)
		logf_(LV_INFO, "replica=%u security curve: %zu client keys allowed (%s)", g_id, d.keys.nclient,
		      d.cfg.client_keys);
	else
		logf_(LV_INFO, "replica=%u security none: every endpoint is loopback or ipc", g_id);
	struct px_net_config nc = {.self = px_addr_of(PX_NODE_REPLICA, (uint64_t)id), .bind = me->endpoint, .keys = &d.keys};
	if (px_net_new(d.zctx, &nc, &d.net, err, sizeof(err))) {
		logf_(LV_ERROR, "replica=%u %s", g_id, err);
		return EXIT_USAGE;
	}
	for (uint8_t i = 0; i < d.cfg.ncoord; i++)
		if (i != id && px_net_add_peer(d.net, px_addr_of(PX_NODE_REPLICA, i), d.cfg.coord[i].endpoint, err,
					       sizeof(err))) {
			logf_(LV_ERROR, "replica=%u coordinator.%u: %s", g_id, i, err);
			return EXIT_USAGE;
		}
	for (uint16_t i = 0; i < d.cfg.npart; i++)
		if (px_net_add_peer(d.net, px_addr_of(PX_NODE_AGENT, d.cfg.part[i].id), d.cfg.part[i].endpoint, err,
				    sizeof(err))) {
			logf_(LV_ERROR, "replica=%u participant.%s: %s", g_id, d.cfg.part[i].name, err);
			return EXIT_USAGE;
		}
	px_hist_init(&d.fsync_h, PX_HIST_SECONDS, PX_HIST_SECONDS_N);
	px_hist_init(&d.commit_h, PX_HIST_SECONDS, PX_HIST_SECONDS_N);
	static const double batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
	px_hist_init(&d.batch_h, batch_le, sizeof(batch_le) / sizeof(batch_le[0]));
	if (me->metrics[0]) {
		if (px_metrics_start(me->metrics, &d.metrics, err, sizeof(err))) {
			logf_(LV_ERROR, "replica=%u %s (metrics in [coordinator.%u] of %s)", g_id, err, g_id, config);
			return EXIT_USAGE;
		}
		logf_(LV_INFO, "replica=%u metrics at http://%s/metrics", g_id, me->metrics);
	}
	flush_round(&d); /* whatever START produced */
	logf_(LV_INFO, "replica=%u ready", g_id);
	{
		char st[400];
		snprintf(st, sizeof(st), "replica %u of %u: recovered, listening on %s", g_id, d.cfg.ncoord, me->endpoint);
		px_notify_ready(st);
	}
	d.stats_at = clock_now(&d) + STATS_EVERY_MS;

	zmq_pollitem_t items[2];
	size_t nitems = px_net_pollitems(d.net, items, 1); /* the ROUTER */
	if (d.metrics)
		items[nitems++] = (zmq_pollitem_t){.fd = px_metrics_fd(d.metrics), .events = ZMQ_POLLIN};
	while (!g_stop) {
		if (g_reload) {
			g_reload = 0;
			size_t was, now_n;
			if (px_log_reopen(err, sizeof(err)))
				logf_(LV_ERROR, "replica=%u SIGHUP: %s (logging on to the old file)", g_id, err);
			else if (px_log_path())
				logf_(LV_INFO, "replica=%u SIGHUP: log file %s reopened", g_id, px_log_path());
			if (!d.keys.curve)
				logf_(LV_WARN, "replica=%u SIGHUP: security = none, no client allow-list to read", g_id);
			else if (px_net_reload_clients(d.net, &d.keys, d.cfg.client_keys, &was, &now_n, err, sizeof(err)))
				logf_(LV_ERROR, "replica=%u SIGHUP: the client allow-list stays as it was (%zu keys): %s", g_id,
				      d.keys.nclient, err);
			else
				logf_(LV_INFO, "replica=%u SIGHUP: client allow-list %s read again: %zu keys (was %zu)", g_id,
				      d.cfg.client_keys, now_n, was);
		}
		uint64_t now = clock_now(&d);
		long timeout = px_wait_ms(1000, now, d.timer_at);
		timeout = px_wait_ms(timeout, now, d.lazy_since ? d.lazy_since + LAZY_SYNC_MS : 0);
		timeout = px_wait_ms(timeout, now, d.dfr_since ? d.dfr_since + DEFER_SYNC_MS : 0);
		timeout = px_wait_ms(timeout, now, px_net_lazy_due(d.net));
		timeout = px_wait_ms(timeout, now, px_notify_tick(now));
		if (px_net_pending(d.net))
			timeout = 0;
		if (zmq_poll(items, (int)nitems, timeout) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			logf_(LV_ERROR, "replica=%u zmq_poll: %s", g_id, zmq_strerror(zmq_errno()));
			return EXIT_RUNTIME;
		}
		px_net_polled(d.net, items, nitems);
		if (d.metrics && (items[nitems - 1].revents & ZMQ_POLLIN))
			px_metrics_serve(d.metrics, build_metrics, &d);
		for (unsigned k = 0; k < BATCH_MAX; k++) {
			struct px_addr from;
			const uint8_t *data;
			size_t len;
			int r = px_net_recv(d.net, &from, &data, &len);
			if (r == 0)
				break;
			if (r < 0) {
				if (errno == EINTR)
					break;
				logf_(LV_ERROR, "replica=%u receive: %s", g_id, zmq_strerror(errno));
				return EXIT_RUNTIME;
			}
			handle_message(&d, from, data, len);
		}
		now = clock_now(&d);
		if (!d.timer_at || now >= d.timer_at) {
			d.timer_at = 0;
			struct px_event ev = {.kind = PX_EV_TIMER, .now = now};
			px_replica_step(d.rep, &ev, &d.u);
		}
		flush_round(&d);
		int late = d.dfr_since && clock_now(&d) >= d.dfr_since + DEFER_SYNC_MS;
		if (late || (d.lazy_since && clock_now(&d) >= d.lazy_since + LAZY_SYNC_MS)) {
			if (late)
				d.deferred_late += d.dfr.nheld;
			sync_log(&d);
			flush_round(&d);
		}
		px_net_tick(d.net, clock_now(&d));
		maybe_checkpoint(&d);
		if (now >= d.stats_at) {
			const struct px_replica_stats *s = px_replica_stats(d.rep);
			if (memcmp(s, &d.last_st, sizeof(*s)))
				log_stats(&d, "");
			d.stats_at = now + STATS_EVERY_MS;
		}
	}
	px_notify_stopping();
	log_stats(&d, " at shutdown");
	uint64_t durable_at_stop;
	int synced = cl_log_sync(d.log, &durable_at_stop) == 0; /* lazy records too */
	if (!synced)
		logf_(LV_WARN, "replica=%u final sync of the commit log failed", g_id);
	release_deferred(&d, synced);
	px_update_free(&d.dfr);
	logf_(LV_INFO, "replica=%u stopping on signal; everything acknowledged is durable", g_id);
	px_metrics_stop(&d.metrics);
	px_net_flush_lazy(d.net);
	px_net_destroy(&d.net);
	zmq_ctx_term(d.zctx);
	px_keyring_free(&d.keys);
	cl_log_close(&d.log);
	cl_io_posix_destroy(&d.io);
	px_replica_destroy(&d.rep);
	px_update_free(&d.u);
	px_config_free(&d.cfg);
	free(d.rms);
	return EXIT_OK;
}
