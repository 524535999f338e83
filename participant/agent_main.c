/*
 * agent_main.c - paxcommit-participant, the agent beside one PostgreSQL
 * database.
 *
 * A thin driver of the pure agent core (pa_core.h).  One thread, one
 * zmq_poll loop; the PostgreSQL connections are in the same poll set
 * (PQsocket), used through libpq's asynchronous API.  Connections:
 *   - `pool` of them can be borrowed by a gid: from its first EXEC
 *     (which opens the transaction with BEGIN) until its PREPARE TRANSACTION
 *     (or ROLLBACK) finishes.  The core refuses new gids beyond `pool`
 *     ("busy").
 *   - one more, and any idle unborrowed one, serves the rest: COMMIT
 *     PREPARED, ROLLBACK PREPARED, and the pg_prepared_xacts check and scan.
 * A connection that breaks fails its running action as "lost" (the core
 * then knows the session's transaction is gone, or checks), and is
 * reconnected with exponential backoff (100 ms up to 1 s).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>
#include <zmq.h>

#include "pa_core.h"
#include "px_clock.h"
#include "px_config.h"
#include "px_gid.h"
#include "px_msg.h"
#include "px_log.h"
#include "px_metrics.h"
#include "px_notify.h"
#include "pa_sql.h"
#include "px_auth.h"
#include "px_keys.h"
#include "px_net.h"
#include "px_update.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };
#define LV_ERROR PX_LOG_ERROR
#define LV_WARN PX_LOG_WARN
#define LV_INFO PX_LOG_INFO
#define LV_DEBUG PX_LOG_DEBUG
#define logf_ px_logf

#define MIN_SERVER_VERSION 110000 /* starts_with(), PREPARE semantics we rely on */
#define RESULT_MAX (PX_FRAME_MAX - 4096u)
#define STATS_EVERY_MS 10000u
#define CLOCK_WARN_MS 200u /* a wall clock this far off is logged (a step) */

static volatile sig_atomic_t g_stop;
static const char *g_name = "?";

static volatile sig_atomic_t g_reload; /* SIGHUP: read the client allow-list again */

/* SIGTERM / SIGINT: the first drains (no new gids; the unfinished ones
 * finish, for at most --drain-timeout), a second one stops at once. */
static void on_signal(int s)
{
	if (s == SIGHUP)
		g_reload = 1;
	else if (g_stop < 2)
		g_stop++;
}

#define DRAIN_DEFAULT_MS 5000u


static void core_log(void *ctx, const char *line)
{
	(void)ctx;
	logf_(strstr(line, "CONFLICTING") ? LV_WARN : LV_INFO, "%s", line);
}

/* One database action of the core, copied out of the update. */
struct job {
	uint8_t kind;
	uint64_t token;
	char gid[PX_GID_MAX + 1];
	uint8_t gid_len;
	uint8_t *frame; /* PA_DB_EXEC: the EXEC frame */
	uint32_t flen;
	/* PA_DB_EXEC: a PREPARE of the same gid that goes out right behind the
	 * statement, in one pipeline (pa_core.h states the contract). */
	struct job *then;
	/* PA_DB_PREPARE: 1 = its statement failed (exec_failed), so ROLLBACK
	 * instead; 2 = it was sent behind a statement that then failed (maybe
	 * after PostgreSQL ran it: result too large), so undo a successful
	 * PREPARE with ROLLBACK PREPARED.  Either way it reports PA_DB_FAILED,
	 * or PA_DB_LOST. */
	uint8_t must_fail;
	uint8_t undoing; /* that ROLLBACK PREPARED is running */
	uint8_t piped;   /* sent in its statement's pipeline */
	/* J_CANCEL: the connection whose statement to cancel, and that
	 * statement's job (the cancel is dropped if it no longer runs) */
	int target;
	const struct job *target_job;
	struct job *next;
};

/* The driver's own jobs, beside the core's PA_DB_* actions: no result
 * event goes to the core for them. */
enum { J_CANCEL = 100 /* SELECT pg_cancel_backend(pid of the target) */ };

enum conn_state { C_DOWN = 0, C_IDLE = 1, C_BUSY = 2 };

struct conn {
	int idx;
	PGconn *pg;
	int state;
	int flush;    /* PQflush wants POLLOUT */
	int borrowed; /* gid below owns it */
	int began;    /* BEGIN sent for the borrower */
	int exec_failed; /* the borrower's last statement failed: its PREPARE must not */
	char gid[PX_GID_MAX + 1];
	struct job *job; /* running */
	int step;        /* EXEC: 0 BEGIN running, 1 statement running */
	int pipeline;    /* in pipeline mode: [BEGIN,] statement[, PREPARE], sync */
	int pdiscard;    /* the pipeline's first query is DISCARD ALL (dirty) */
	int pbegin;      /* the pipeline's next query is BEGIN */
	int pends;       /* pipeline: queries whose results ended so far */
	struct job *q, *qtail; /* more work of the borrower */
	/* result of the running query */
	PGresult *res;
	int err;
	char sqlstate[6];
	char errmsg[PX_REASON_MAX + 1];
	uint64_t retry_at, backoff;
	int warned;
	int resetting; /* DISCARD ALL running: the session goes back to the pool clean */
	int dirty;     /* a borrower's session state may remain: reset before any other use */
	uint64_t dirty_at;
	/* The running statement's rows, gathered one row at a time (libpq's
	 * single-row mode), so that a result over the limit is refused
	 * without ever being held whole. */
	uint8_t *cols, *cells;
	size_t clen, ccap, vlen, vcap;
	int nf;         /* columns, -1 before the first row description */
	uint32_t nrows;
	int too_big;    /* over RESULT_MAX: rows are dropped, the statement cancelled */
	uint64_t sent_us; /* when its last query went out (metrics), 0: none */
};

struct agent {
	struct px_config cfg;
	const struct px_config_part *me;
	struct pa_core *pa;
	struct px_update u;
	size_t db_done; /* actions of u already taken */
	struct px_net *net;
	void *zctx;
	struct conn *conn;
	int nconn;
	int allow_superuser; /* --allow-superuser */
	struct job *svc, *svc_tail;   /* waiting for any free connection */
	struct job *newq, *newq_tail; /* first EXEC of a gid, waiting for a connection */
	uint64_t now, timer_at, stats_at;
	struct px_clock clock;     /* now comes from it */
	uint64_t clock_warned_at;  /* last "clock:" warning, 0 while in step */
	struct pa_stats last;
	uint64_t bad_frames;
	uint64_t refused, refused_logged_at; /* messages the sender's role may not send (px_auth.h) */
	struct px_keyring keys;
	uint64_t resets_piped, resets_alone; /* DISCARD ALLs ahead of other work, and on their own */
	/* /metrics (px_metrics.h) */
	struct px_metrics *metrics;
	struct px_hist pg_h[PA_DB_CANCEL + 1]; /* a database action's last round trip, by kind; [0]: other */
	uint64_t scans, scan_found;              /* pg_prepared_xacts scans, and the gids they listed */
	char prefix[PX_CFG_NAME_MAX + 2]; /* "<cluster>_" */
	char suffix[8];                   /* "_<participant id>" */
	char options[1024];               /* libpq `options`: the conninfo's, plus lock_timeout */
	/* Why the database cannot be reached, while no connection is up: new
	 * statements are refused at once with it, and it is logged again
	 * every DB_DOWN_LOG_MS while it lasts. */
	char db_err[256];
	uint64_t db_err_logged_at;
};

#define DB_DOWN_LOG_MS 30000u
#define DB_BACKOFF_MAX_MS 1000u /* reconnect backoff: 100 ms doubling to this */

/*
 * The name of a gid's prepared transaction in PostgreSQL: the gid plus
 * "_<participant id>".  PostgreSQL's prepared-transaction names are unique
 * per server, not per database, and two participants may be two databases
 * of one server.  Returns -1 if it does not fit PostgreSQL's 199 bytes.
 */
static int pg_gid(const struct agent *a, const struct job *j, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%s%s", j->gid, a->suffix);
	return n < 0 || (size_t)n >= cap || n > 199 ? -1 : 0;
}

static uint64_t clock_now(struct agent *a)
{
	/* Paced by the monotonic clock, slewing towards the wall clock
	 * (common/px_clock.h): a step of the host's clock neither freezes this
	 * daemon nor expires all its timers at once; it never goes back. */
	struct timespec m, w;
	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &w);
	uint64_t wall = (uint64_t)w.tv_sec * 1000000u + (uint64_t)w.tv_nsec / 1000u;
	uint64_t steps = a->clock.steps;
	a->now = px_clock_read(&a->clock, (uint64_t)m.tv_sec * 1000000u + (uint64_t)m.tv_nsec / 1000u, wall);
	int64_t off = px_clock_offset_ms(&a->clock, wall);
	uint64_t mag = (uint64_t)(off < 0 ? -off : off);
	if (a->clock.steps != steps) {
		px_logf(PX_LOG_WARN, "clock: the wall clock is more than %u s ahead of this daemon's clock; joined it at once",
			PX_CLOCK_STEP_MS / 1000u);
	} else if (mag >= CLOCK_WARN_MS && (!a->clock_warned_at || a->now - a->clock_warned_at >= 10000u)) {
		px_logf(PX_LOG_WARN,
			"clock: the wall clock is %lld ms %s this daemon's clock (a step); following it at %u%% "
			"(about %llu s to go)",
			(long long)mag, off < 0 ? "behind" : "ahead of", PX_CLOCK_SLEW_PPM / 10000u,
			(unsigned long long)(mag * 1000000u / PX_CLOCK_SLEW_PPM / 1000u));
		a->clock_warned_at = a->now;
	} else if (mag < CLOCK_WARN_MS / 2 && a->clock_warned_at) {
		px_logf(PX_LOG_INFO, "clock: back in step with the wall clock (%lld ms)", (long long)off);
		a->clock_warned_at = 0;
	}
	return a->now;
}

static void push(struct job **h, struct job **t, struct job *j)
{
	j->next = NULL;
	if (*t)
		(*t)->next = j;
	else
		*h = j;
	*t = j;
}

static struct job *pop(struct job **h, struct job **t)
{
	struct job *j = *h;
	if (j) {
		*h = j->next;
		if (!*h)
			*t = NULL;
	}
	return j;
}

static void job_free(struct job *j)
{
	if (j) {
		job_free(j->then);
		free(j->frame);
		free(j);
	}
}

static void step_db_why(struct agent *a, const struct job *j, uint8_t status, uint8_t prepared,
			const struct px_msg *result, const struct px_str *gids, size_t ngids, const char *why)
{
	struct pa_event ev = {.kind = PA_EV_DB,
			      .reason = px_str_of(why ? why : "", why ? (uint32_t)strlen(why) : 0),
			      .now = clock_now(a),
			      .token = j->token,
			      .gid = px_str_of(j->gid, j->gid_len),
			      .status = status,
			      .prepared = prepared,
			      .result = result,
			      .gids = gids,
			      .ngids = ngids};
	pa_core_step(a->pa, &ev, &a->u);
}

static void step_db(struct agent *a, const struct job *j, uint8_t status, uint8_t prepared,
		    const struct px_msg *result, const struct px_str *gids, size_t ngids)
{
	step_db_why(a, j, status, prepared, result, gids, ngids, NULL);
}

/* Refuse a gid's statement that was never sent (result for the client,
 * reason why), as a lost one: nothing of it ran here. */
static void exec_refuse(struct agent *a, struct job *j, const char *why)
{
	struct px_msg m, r = {.type = PX_MSG_EXEC_RESULT};
	if (px_decode(j->frame, j->flen, &m) || m.type != PX_MSG_EXEC) {
		step_db(a, j, PA_DB_LOST, 0, NULL, NULL, 0);
		return;
	}
	r.u.exec_result.req = m.u.exec.req;
	r.u.exec_result.gid = px_str_of(j->gid, j->gid_len);
	r.u.exec_result.status = PX_EXEC_ERROR;
	r.u.exec_result.reason = px_str_of(why, (uint32_t)strlen(why));
	step_db(a, j, PA_DB_LOST, 0, &r, NULL, 0);
}

/* ------------------------------------------------------- connections */

static int conn_connect(struct agent *a, struct conn *c)
{
	/* `options` (after the conninfo, so ours wins, with the conninfo's own
	 * options kept in it): lock_timeout is a startup setting, so that
	 * DISCARD ALL (RESET ALL) at each return to the pool restores it. */
	const char *keys[] = {"dbname", "connect_timeout", "application_name", "options", NULL};
	const char *vals[] = {a->me->conninfo, "3", "paxcommit-participant", a->options, NULL};
	c->pg = PQconnectdbParams(keys, vals, 1);
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK) {
		const char *why = c->pg ? strtok(PQerrorMessage(c->pg), "\n") : "out of memory";
		snprintf(a->db_err, sizeof(a->db_err), "%s", why ? why : "cannot connect");
		uint64_t now = clock_now(a);
		if (!c->warned || px_log_level() >= LV_DEBUG)
			logf_(LV_WARN, "database connection %d: cannot connect: %s", c->idx, a->db_err);
		else if (now >= a->db_err_logged_at + DB_DOWN_LOG_MS) {
			/* keep saying why, not only once */
			int up = 0;
			for (int i = 0; i < a->nconn; i++)
				up += a->conn[i].state != C_DOWN;
			logf_(LV_WARN, "database still unavailable (%d of %d connections up): %s", up, a->nconn,
			      a->db_err);
			a->db_err_logged_at = now;
		}
		if (!c->warned)
			a->db_err_logged_at = now;
		c->warned = 1;
		PQfinish(c->pg);
		c->pg = NULL;
		/* capped at DB_BACKOFF_MAX_MS: a restarted PostgreSQL is back in
		 * service within that of accepting connections */
		c->backoff = c->backoff ? (c->backoff * 2 > DB_BACKOFF_MAX_MS ? DB_BACKOFF_MAX_MS : c->backoff * 2) : 100;
		c->retry_at = clock_now(a) + c->backoff;
		return -1;
	}
	PQsetnonblocking(c->pg, 1);
	if (c->warned)
		logf_(LV_INFO, "database connection %d: connected again", c->idx);
	c->warned = 0;
	c->backoff = 0;
	c->state = C_IDLE;
	return 0;
}

static void finish_job(struct agent *a, struct conn *c, uint8_t status, uint8_t prepared, const struct px_msg *result,
		       const struct px_str *gids, size_t ngids);

/* The connection broke: every action on it is "lost". */
static void conn_broken(struct agent *a, struct conn *c, const char *why)
{
	char whybuf[PX_REASON_MAX + 1]; /* why may be PQerrorMessage(c->pg), freed below */
	snprintf(whybuf, sizeof(whybuf), "%s", why);
	why = whybuf;
	logf_(LV_WARN, "database connection %d lost%s%s: %s", c->idx, c->borrowed ? " (gid=" : "",
	      c->borrowed ? c->gid : "", why);
	if (c->res) {
		PQclear(c->res);
		c->res = NULL;
	}
	PQfinish(c->pg);
	c->pg = NULL;
	c->state = C_DOWN;
	c->flush = 0;
	c->pipeline = 0;
	c->backoff = 100;
	c->retry_at = clock_now(a) + c->backoff;
	c->warned = 1;
	if (c->job)
		finish_job(a, c, PA_DB_LOST, 0, NULL, NULL, 0);
	struct job *j;
	while ((j = pop(&c->q, &c->qtail))) {
		step_db(a, j, PA_DB_LOST, 0, NULL, NULL, 0);
		if (j->then)
			step_db(a, j->then, PA_DB_LOST, 0, NULL, NULL, 0);
		job_free(j);
	}
	if (c->borrowed) {
		/* Whatever was open on this session is rolled back, even with
		 * no statement running: the gid must never go on in a new
		 * transaction without its earlier statements. */
		char gid[PX_GID_MAX + 1];
		snprintf(gid, sizeof(gid), "%s", c->gid);
		c->borrowed = 0;
		struct pa_event ev = {.kind = PA_EV_LOST,
				      .now = clock_now(a),
				      .gid = px_str_of(gid, (uint32_t)strlen(gid)),
				      .reason = px_str_of(why, (uint32_t)strcspn(why, "\n"))};
		pa_core_step(a->pa, &ev, &a->u);
	}
	c->borrowed = 0;
	c->began = 0;
	c->exec_failed = 0;
	c->resetting = 0;
	c->dirty = 0; /* a new session starts clean */
	c->pdiscard = 0;
}

/* A query was queued on c: mark it busy and push it out (PQflush may need
 * POLLOUT for the rest).  Returns 0, or -1 with the connection broken. */
static uint64_t mono_us(void)
{
	struct timespec m;
	clock_gettime(CLOCK_MONOTONIC, &m);
	return (uint64_t)m.tv_sec * 1000000u + (uint64_t)m.tv_nsec / 1000u;
}

static int sent(struct agent *a, struct conn *c)
{
	c->sent_us = mono_us();
	c->state = C_BUSY;
	c->err = 0;
	int f = PQflush(c->pg);
	if (f < 0) {
		conn_broken(a, c, PQerrorMessage(c->pg));
		return -1;
	}
	c->flush = f == 1;
	return 0;
}

/* Planted agent bug 1 (tests/e2e/planted.sh): a dirty session's DISCARD
 * ALL is never sent ahead of its next query, only on its own once idle. */
#if defined(PX_PLANT_AGENT_BUG) && PX_PLANT_AGENT_BUG == 1
#define DISCARD_AHEAD 0
#else
#define DISCARD_AHEAD 1
#endif

/* nparams >= 0: the extended query protocol, which runs exactly one
 * statement (so "UPDATE ...; COMMIT" cannot sneak a COMMIT in); -1: the
 * simple protocol, for the agent's own statements.  On a dirty session,
 * DISCARD ALL goes ahead of it in one pipeline (see send_pipelined). */
static int send_sql(struct agent *a, struct conn *c, const char *sql, int nparams, const char *const *params)
{
	c->pbegin = 0;
	c->pdiscard = 0;
	if (c->dirty && DISCARD_AHEAD) { /* the reset rides ahead of it (send_pipelined) */
		if (!PQenterPipelineMode(c->pg) || !PQsendQueryParams(c->pg, "DISCARD ALL", 0, NULL, NULL, NULL, NULL, 0) ||
		    !PQsendQueryParams(c->pg, sql, nparams > 0 ? nparams : 0, NULL, params, NULL, NULL, 0) ||
		    !PQpipelineSync(c->pg)) {
			conn_broken(a, c, PQerrorMessage(c->pg));
			return -1;
		}
		c->dirty = 0;
		a->resets_piped++;
		c->pipeline = 1;
		c->pdiscard = 1;
		c->pends = 0;
		return sent(a, c);
	}
	int ok = nparams >= 0 ? PQsendQueryParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0)
			      : PQsendQuery(c->pg, sql);
	if (!ok) {
		conn_broken(a, c, PQerrorMessage(c->pg));
		return -1;
	}
	return sent(a, c);
}

/* A prepared transaction belongs to the role current at its PREPARE, and
 * only that role (or a superuser) may finish it.  A client's SET ROLE (the
 * agent's role may be a member of others) would leave the agent a prepared
 * transaction it cannot COMMIT PREPARED: in doubt for good.  So the agent
 * goes back to its own role, inside the transaction, just before every
 * PREPARE TRANSACTION it sends. */
#define PREPARE_AS_AGENT "RESET ROLE"

/* One pipeline: DISCARD ALL (if the session is dirty), BEGIN (begin),
 * the statement, RESET ROLE and PREPARE TRANSACTION (prepare: its SQL)
 * and one sync
 * point, so that PostgreSQL answers all of it with one write, and the
 * agent wakes once.  A failed statement makes PostgreSQL skip the PREPARE
 * (PGRES_PIPELINE_ABORTED) and leaves the transaction failed, not ended:
 * query_done then rolls it back before it reports the PREPARE failed.
 * DISCARD ALL first in the segment runs and commits on its own before
 * BEGIN (PostgreSQL commits a statement that refuses a transaction block
 * at once); if it fails, PostgreSQL skips the rest, and conn_io closes the
 * session, so nothing runs in a session that was not reset. */
static int send_pipelined(struct agent *a, struct conn *c, int begin, const char *sql, int nparams,
			  const char *const *params, const char *prepare)
{
	int discard = c->dirty && DISCARD_AHEAD;
	if (!PQenterPipelineMode(c->pg) ||
	    (discard && !PQsendQueryParams(c->pg, "DISCARD ALL", 0, NULL, NULL, NULL, NULL, 0)) ||
	    (begin && !PQsendQueryParams(c->pg, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)) ||
	    !PQsendQueryParams(c->pg, sql, nparams, NULL, params, NULL, NULL, 0) ||
	    (prepare && !PQsendQueryParams(c->pg, PREPARE_AS_AGENT, 0, NULL, NULL, NULL, NULL, 0)) ||
	    (prepare && !PQsendQueryParams(c->pg, prepare, 0, NULL, NULL, NULL, NULL, 0)) || !PQpipelineSync(c->pg)) {
		conn_broken(a, c, PQerrorMessage(c->pg));
		return -1;
	}
	if (discard)
		c->dirty = 0;
	a->resets_piped += (uint64_t)discard;
	c->pipeline = 1;
	c->pdiscard = discard;
	c->pbegin = begin;
	c->pends = 0;
	return sent(a, c);
}

/* Start job j on connection c (idle). */
static void start_job(struct agent *a, struct conn *c, struct job *j)
{
	c->job = j;
	char sql[PX_GID_MAX + 64], pgid[PX_GID_MAX + 16];
	if (j->kind != PA_DB_EXEC && j->kind != PA_DB_ROLLBACK && j->kind != PA_DB_SCAN && pg_gid(a, j, pgid, sizeof(pgid))) {
		/* too long for PostgreSQL with the suffix: it cannot be prepared */
		finish_job(a, c, j->kind == PA_DB_CHECK ? PA_DB_OK : PA_DB_FAILED, 0, NULL, NULL, 0);
		return;
	}
	switch (j->kind) {
	case PA_DB_EXEC:
		/* The first statement of a gid goes out together with its BEGIN,
		 * and a pipelined PREPARE right behind it: one round trip
		 * instead of two or three. */
		int first = !c->began;
		c->pipeline = 0;
		c->step = 1;
		{
			struct px_msg m;
			if (px_decode(j->frame, j->flen, &m) || m.type != PX_MSG_EXEC) {
				finish_job(a, c, PA_DB_FAILED, 0, NULL, NULL, 0);
				return;
			}
			const char *bad = pa_sql_forbidden(m.u.exec.sql.p, m.u.exec.sql.len);
			if (bad || memchr(m.u.exec.sql.p, 0, m.u.exec.sql.len)) {
				char why[200];
				if (bad)
					snprintf(why, sizeof(why),
						 "%s is not allowed: paxcommit begins, prepares and ends the transaction itself; "
						 "transaction aborted", bad);
				else /* libpq would cut it there */
					snprintf(why, sizeof(why), "the statement contains a NUL byte; transaction aborted");
				struct px_msg r = {.type = PX_MSG_EXEC_RESULT};
				r.u.exec_result.req = m.u.exec.req;
				r.u.exec_result.gid = px_str_of(j->gid, j->gid_len);
				r.u.exec_result.status = PX_EXEC_ERROR;
				r.u.exec_result.reason = px_str_of(why, (uint32_t)strlen(why));
				finish_job(a, c, PA_DB_FAILED, 0, &r, NULL, 0);
				return;
			}
			/* libpq wants NUL-terminated strings: one block for all */
			size_t need = m.u.exec.sql.len + 1;
			for (uint16_t i = 0; i < m.u.exec.nparams; i++)
				if (m.u.exec.params[i].len != PX_NULL_LEN)
					need += m.u.exec.params[i].len + 1;
			char *blk = malloc(need);
			const char **pv = malloc(sizeof(*pv) * (m.u.exec.nparams + 1u));
			if (!blk || !pv) {
				free(blk);
				free(pv);
				finish_job(a, c, PA_DB_FAILED, 0, NULL, NULL, 0);
				return;
			}
			char *p = blk;
			memcpy(p, m.u.exec.sql.p, m.u.exec.sql.len);
			p[m.u.exec.sql.len] = 0;
			const char *stmt = p;
			p += m.u.exec.sql.len + 1;
			for (uint16_t i = 0; i < m.u.exec.nparams; i++) {
				if (m.u.exec.params[i].len == PX_NULL_LEN) {
					pv[i] = NULL;
					continue;
				}
				memcpy(p, m.u.exec.params[i].p, m.u.exec.params[i].len);
				p[m.u.exec.params[i].len] = 0;
				pv[i] = p;
				p += m.u.exec.params[i].len + 1;
			}
			c->began = 1;
			c->clen = c->vlen = 0;
			c->nf = -1;
			c->nrows = 0;
			c->too_big = 0;
			int sent_ok;
			if (j->then && pg_gid(a, j->then, pgid, sizeof(pgid)) == 0) {
				snprintf(sql, sizeof(sql), "PREPARE TRANSACTION '%s'", pgid);
				j->then->piped = 1;
				sent_ok = send_pipelined(a, c, first, stmt, m.u.exec.nparams, pv, sql) == 0;
			} else if (first) {
				sent_ok = send_pipelined(a, c, 1, stmt, m.u.exec.nparams, pv, NULL) == 0;
			} else {
				sent_ok = send_sql(a, c, stmt, m.u.exec.nparams, pv) == 0;
			}
			/* Rows one at a time (see struct conn).  With BEGIN ahead
			 * of it in the pipeline, once BEGIN's results are in
			 * (conn_io): single-row mode applies to the query whose
			 * results come next. */
			if (sent_ok && !c->pbegin && !c->pdiscard)
				PQsetSingleRowMode(c->pg);
			free(blk);
			free(pv);
		}
		return;
	case PA_DB_PREPARE:
		/* After a failed statement the core asks PREPARE only when it
		 * was pipelined, and counts on it failing (pa_core.h), whatever
		 * the failure was (one PostgreSQL never saw, too). */
		if (c->exec_failed) {
			j->must_fail = 1;
			send_sql(a, c, "ROLLBACK", -1, NULL);
			return;
		}
		/* One simple query, two statements (the last result is the
		 * PREPARE's; a failed RESET leaves the transaction failed and
		 * open, which query_done rolls back). */
		snprintf(sql, sizeof(sql), PREPARE_AS_AGENT "; PREPARE TRANSACTION '%s'", pgid); /* gids are [A-Za-z0-9_] */
		send_sql(a, c, sql, -1, NULL);
		return;
	case PA_DB_ROLLBACK:
		send_sql(a, c, "ROLLBACK", -1, NULL);
		return;
	case PA_DB_COMMIT_PREPARED:
	case PA_DB_ROLLBACK_PREPARED:
		snprintf(sql, sizeof(sql), "%s PREPARED '%s'", j->kind == PA_DB_COMMIT_PREPARED ? "COMMIT" : "ROLLBACK",
			 pgid);
		send_sql(a, c, sql, -1, NULL);
		return;
	case PA_DB_CHECK: {
		const char *pv[1] = {pgid};
		send_sql(a, c, "SELECT 1 FROM pg_prepared_xacts WHERE gid = $1 AND database = current_database()", 1,
			 pv);
		return;
	}
	case J_CANCEL: {
		/* Only if the target still runs that statement: its session may
		 * have moved on (a cancel that comes a moment too late can still
		 * hit the next query; that query then fails, which dooms its
		 * gid: an abort, never half a commit). */
		struct conn *t = &a->conn[j->target];
		if (t->state != C_BUSY || t->job != j->target_job || !t->pg) {
			finish_job(a, c, PA_DB_OK, 0, NULL, NULL, 0);
			return;
		}
		char pid[16];
		snprintf(pid, sizeof(pid), "%d", PQbackendPID(t->pg));
		const char *pv[1] = {pid};
		send_sql(a, c, "SELECT pg_cancel_backend($1::int)", 1, pv);
		return;
	}
	case PA_DB_SCAN: {
		const char *pv[1] = {a->prefix};
		send_sql(a, c,
			 "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1)",
			 1, pv);
		return;
	}
	default:
		finish_job(a, c, PA_DB_FAILED, 0, NULL, NULL, 0);
	}
}

/* A session serves another gid or a COMMIT PREPARED only in a known
 * state: whatever a client's statements changed (SET search_path, SET
 * ROLE, SET SESSION AUTHORIZATION, statement_timeout,
 * default_transaction_*, session_replication_role, lock_timeout, session
 * advisory locks, LISTEN, prepared statements, temporary tables) is
 * undone first, as poolers do, with DISCARD ALL.  A session released by
 * its gid is marked dirty (conn_dirty); its next query carries the
 * DISCARD ALL ahead of it in one pipeline (send_sql, send_pipelined), so
 * under load the reset costs PostgreSQL no round trip of its own.  One
 * left idle and dirty for RESET_IDLE_MS is reset on its own (conn_reset,
 * from the main loop), so that a client's advisory locks, LISTENs and
 * temporary tables do not outlive it for long.  A reset that fails closes
 * the session instead (query_done, conn_io). */
#define RESET_IDLE_MS 50

static void conn_dirty(struct agent *a, struct conn *c)
{
	if (!c->dirty)
		c->dirty_at = clock_now(a);
	c->dirty = 1;
}

static void conn_reset(struct agent *a, struct conn *c)
{
	c->dirty = 0;
	c->resetting = 1;
	a->resets_alone++;
	if (send_sql(a, c, "DISCARD ALL", -1, NULL) == 0)
		return;
	c->resetting = 0; /* send_sql broke the connection */
}

/* Cancel the statement running on c (its job now): a job of our own on a
 * service connection, ahead of the other service work. */
static void request_cancel(struct agent *a, struct conn *c)
{
	struct job *k = calloc(1, sizeof(*k));
	if (!k) {
		logf_(LV_ERROR, "out of memory");
		exit(EXIT_RUNTIME);
	}
	k->kind = J_CANCEL;
	k->target = c->idx;
	k->target_job = c->job;
	k->next = a->svc;
	a->svc = k;
	if (!a->svc_tail)
		a->svc_tail = k;
}

static int all_down(const struct agent *a)
{
	for (int i = 0; i < a->nconn; i++)
		if (a->conn[i].state != C_DOWN)
			return 0;
	return 1;
}

static struct conn *borrowed_by(struct agent *a, const char *gid)
{
	for (int i = 0; i < a->nconn; i++)
		if (a->conn[i].borrowed && !strcmp(a->conn[i].gid, gid))
			return &a->conn[i];
	return NULL;
}

static struct conn *free_conn(struct agent *a)
{
	for (int i = 0; i < a->nconn; i++)
		if (a->conn[i].state == C_IDLE && !a->conn[i].borrowed)
			return &a->conn[i];
	return NULL;
}

/* Give waiting work to idle connections: new gids first, then service. */
static void dispatch_waiting(struct agent *a)
{
	struct conn *c;
	if (a->newq && all_down(a)) {
		/* No session at all: say so now, rather than let the client
		 * wait its whole timeout for one. */
		char why[PX_REASON_MAX];
		snprintf(why, sizeof(why), "database unavailable: %s; transaction rolled back",
			 a->db_err[0] ? a->db_err : "no connection");
		struct job *j;
		while ((j = pop(&a->newq, &a->newq_tail))) {
			exec_refuse(a, j, why);
			if (j->then) /* never sent: certainly not prepared */
				step_db(a, j->then, PA_DB_FAILED, 0, NULL, NULL, 0);
			job_free(j);
		}
	}
	while (a->newq && (c = free_conn(a))) {
		struct job *j = pop(&a->newq, &a->newq_tail);
		c->borrowed = 1;
		c->began = 0;
		c->exec_failed = 0;
		snprintf(c->gid, sizeof(c->gid), "%s", j->gid);
		start_job(a, c, j);
	}
	while (a->svc && (c = free_conn(a)))
		start_job(a, c, pop(&a->svc, &a->svc_tail));
}

/* A borrowed connection's job finished: next of its queue, or release. */
static void conn_next(struct agent *a, struct conn *c, uint8_t kind, uint8_t status)
{
	if (c->state == C_DOWN)
		return;
	c->state = C_IDLE;
	if ((kind == PA_DB_PREPARE || kind == PA_DB_ROLLBACK) ||
	    (kind == PA_DB_EXEC && status == PA_DB_LOST)) {
		/* The gid's transaction is prepared or gone: release. */
		struct job *j;
		while ((j = pop(&c->q, &c->qtail)))
			push(&a->svc, &a->svc_tail, j); /* (nothing should be queued) */
		c->borrowed = 0;
		c->began = 0;
		conn_dirty(a, c);
		return;
	}
	if (c->borrowed && c->q)
		start_job(a, c, pop(&c->q, &c->qtail));
}

static void finish_job(struct agent *a, struct conn *c, uint8_t status, uint8_t prepared, const struct px_msg *result,
		       const struct px_str *gids, size_t ngids)
{
	struct job *j = c->job;
	c->job = NULL;
	if (c->state != C_DOWN)
		c->state = C_IDLE;
	if (c->sent_us) {
		px_hist_observe(&a->pg_h[j->kind <= PA_DB_CANCEL ? j->kind : 0], (double)(mono_us() - c->sent_us) / 1e6);
		c->sent_us = 0;
	}
	if (j->kind == PA_DB_SCAN && status == PA_DB_OK) {
		a->scans++;
		a->scan_found += ngids;
	}
	/* PostgreSQL's words for a PREPARE or an outcome it refused. */
	char why[PX_REASON_MAX + 1];
	why[0] = 0;
	if (status != PA_DB_OK && c->err && c->errmsg[0] &&
	    (j->kind == PA_DB_PREPARE || j->kind == PA_DB_COMMIT_PREPARED || j->kind == PA_DB_ROLLBACK_PREPARED))
		snprintf(why, sizeof(why), "%s%s%.400s", c->sqlstate, c->sqlstate[0] ? " " : "", c->errmsg);
	if (j->kind < J_CANCEL)
		step_db_why(a, j, status, prepared, result, gids, ngids, why[0] ? why : NULL);
	uint8_t kind = j->kind;
	struct job *p = j->then;
	j->then = NULL;
	job_free(j);
	if (kind == PA_DB_EXEC)
		c->exec_failed = status != PA_DB_OK; /* a PREPARE after it then rolls back (start_job) */
	if (p) { /* the PREPARE behind this statement */
		c->job = p;
		if (c->state == C_DOWN) {
			finish_job(a, c, PA_DB_LOST, 0, NULL, NULL, 0);
		} else if (p->piped) {
			/* Already sent: its results follow in the pipeline. */
			if (status != PA_DB_OK)
				p->must_fail = 2;
			c->state = C_BUSY;
			c->err = 0;
			c->sqlstate[0] = 0;
			c->errmsg[0] = 0;
			c->pdiscard = 0;
			c->pbegin = 0;
			c->pends = 0;
		} else {
			start_job(a, c, p);
		}
		return;
	}
	if (c->borrowed)
		conn_next(a, c, kind, status);
}

/* Append a length-prefixed string (PX_NULL_LEN for NULL) to a buffer. */
static int put_str(uint8_t **buf, size_t *len, size_t *cap, const char *p, uint32_t n, int is_null)
{
	size_t need = 4 + (is_null ? 0 : n);
	if (*len + need > RESULT_MAX)
		return -1;
	if (*len + need > *cap) {
		size_t nc = *cap ? *cap * 2 : 4096;
		while (nc < *len + need)
			nc *= 2;
		uint8_t *nb = realloc(*buf, nc);
		if (!nb)
			return -1;
		*buf = nb;
		*cap = nc;
	}
	uint32_t l = is_null ? PX_NULL_LEN : n;
	uint8_t *q = *buf + *len;
	q[0] = (uint8_t)l;
	q[1] = (uint8_t)(l >> 8);
	q[2] = (uint8_t)(l >> 16);
	q[3] = (uint8_t)(l >> 24);
	if (!is_null)
		memcpy(q + 4, p, n);
	*len += need;
	return 0;
}

/* Rows of the running statement, as libpq hands them over (one row at a
 * time in single-row mode, or all at once if that mode did not take):
 * appended to c's buffers, and r freed.  Past the limit the rows are
 * dropped, and the statement is cancelled: its transaction is doomed
 * anyway, and PostgreSQL need not send the rest. */
static void rows_in(struct agent *a, struct conn *c, PGresult *r)
{
	int nf = PQnfields(r), nt = PQntuples(r);
	int bad = c->too_big;
	if (!bad && c->nf < 0) {
		c->nf = nf;
		bad = nf > (int)PX_COLS_MAX;
		for (int f = 0; f < nf && !bad; f++) {
			const char *nm = PQfname(r, f);
			bad = put_str(&c->cols, &c->clen, &c->ccap, nm, (uint32_t)strlen(nm), 0);
		}
	}
	for (int t = 0; t < nt && !bad; t++) {
		for (int f = 0; f < nf && !bad; f++)
			bad = put_str(&c->cells, &c->vlen, &c->vcap, PQgetvalue(r, t, f), (uint32_t)PQgetlength(r, t, f),
				      PQgetisnull(r, t, f)) ||
			      c->clen + c->vlen > RESULT_MAX;
		c->nrows++;
	}
	PQclear(r);
	if (bad && !c->too_big) {
		c->too_big = 1;
		free(c->cols);
		free(c->cells);
		c->cols = c->cells = NULL;
		c->clen = c->ccap = c->vlen = c->vcap = 0;
		logf_(LV_INFO, "gid=%s result over %u bytes or %u columns: dropping its rows, cancelling the statement",
		      c->gid, RESULT_MAX, PX_COLS_MAX);
		request_cancel(a, c);
	}
}

static void exec_done(struct agent *a, struct conn *c)
{
	struct job *j = c->job;
	struct px_msg m;
	if (px_decode(j->frame, j->flen, &m) || m.type != PX_MSG_EXEC) {
		finish_job(a, c, PA_DB_FAILED, 0, NULL, NULL, 0);
		return;
	}
	struct px_msg r = {.type = PX_MSG_EXEC_RESULT};
	r.u.exec_result.req = m.u.exec.req;
	r.u.exec_result.gid = px_str_of(j->gid, j->gid_len);
	uint8_t status = PA_DB_OK;
	/* With its PREPARE behind it in one pipeline, the statement ends
	 * before PostgreSQL reports the transaction state (ACTIVE until the
	 * sync): the PREPARE's result tells then. */
	PGTransactionStatusType ts = PQtransactionStatus(c->pg);
	if (c->too_big) {
		/* The statement ran (or was cancelled), but its result cannot
		 * be sent: doom the gid rather than let a client commit
		 * without seeing it. */
		r.u.exec_result.status = PX_EXEC_ERROR;
		static const char too_big[] =
			"result too large (more than 32 MiB or 1024 columns); transaction aborted";
		r.u.exec_result.reason = px_str_of(too_big, (uint32_t)strlen(too_big));
		status = PA_DB_FAILED;
	} else if (c->err) {
		r.u.exec_result.status = PX_EXEC_SQLERR;
		r.u.exec_result.sqlstate = px_str_of(c->sqlstate, strlen(c->sqlstate) == 5 ? 5 : 0);
		r.u.exec_result.reason = px_str_of(c->errmsg, (uint32_t)strlen(c->errmsg));
		status = PA_DB_FAILED;
	} else if (ts != PQTRANS_INTRANS && ts != PQTRANS_ACTIVE) {
		/* The statement left the transaction block (or failed it
		 * without an error): whatever it did, this gid cannot commit,
		 * and nothing more runs for it outside the block. */
		static const char left[] = "the statement ended the transaction block (PostgreSQL reports no open "
					   "transaction): paxcommit begins, prepares and ends transactions itself; "
					   "transaction aborted";
		logf_(LV_WARN, "gid=%s statement %u left the transaction block; transaction doomed", c->gid,
		      m.u.exec.stmt);
		r.u.exec_result.status = PX_EXEC_ERROR;
		r.u.exec_result.reason = px_str_of(left, (uint32_t)strlen(left));
		status = PA_DB_FAILED;
	} else {
		r.u.exec_result.status = PX_EXEC_OK;
		if (c->nf >= 0) {
			r.u.exec_result.ncols = (uint16_t)c->nf;
			r.u.exec_result.cols = c->cols;
			r.u.exec_result.cols_len = (uint32_t)c->clen;
			r.u.exec_result.nrows = c->nrows;
			r.u.exec_result.cells = c->cells;
			r.u.exec_result.cells_len = (uint32_t)c->vlen;
		}
	}
	finish_job(a, c, status, 0, &r, NULL, 0);
	/* keep the buffers (reused by the next statement) unless large */
	if (c->ccap > (1u << 20) || c->vcap > (1u << 20)) {
		free(c->cols);
		free(c->cells);
		c->cols = c->cells = NULL;
		c->ccap = c->vcap = 0;
	}
	c->clen = c->vlen = 0;
	c->nf = -1;
	c->nrows = 0;
}

/* The running query of c has produced all its results. */
static void query_done(struct agent *a, struct conn *c)
{
	struct job *j = c->job;
	PGresult *res = c->res;
	c->res = NULL;
	if (!j) { /* the reset of a session back in the pool */
		PQclear(res);
		c->state = C_IDLE;
		if (c->resetting && c->err) {
			char why[PX_REASON_MAX + 64];
			snprintf(why, sizeof(why), "DISCARD ALL failed (%.5s %.400s): closing the session", c->sqlstate,
				 c->errmsg);
			conn_broken(a, c, why);
		}
		c->resetting = 0;
		return;
	}
	switch (j->kind) {
	case PA_DB_EXEC:
		if (c->step == 0) { /* BEGIN done */
			PQclear(res);
			if (c->err) {
				finish_job(a, c, PA_DB_LOST, 0, NULL, NULL, 0);
				return;
			}
			c->state = C_IDLE;
			start_job(a, c, j);
			return;
		}
		PQclear(res); /* the rows came through rows_in */
		exec_done(a, c);
		return;
	case PA_DB_PREPARE: {
		/* A PREPARE TRANSACTION in a failed transaction rolls back, with
		 * no error: only its command tag tells. */
		int ok = !c->err && res && !strcmp(PQcmdStatus(res), "PREPARE TRANSACTION");
		PQclear(res);
		if (j->undoing) { /* ROLLBACK PREPARED of a statement that failed */
			finish_job(a, c, c->err ? PA_DB_LOST : PA_DB_FAILED, 0, NULL, NULL, 0);
		} else if (j->must_fail == 2 && ok) {
			char sql[PX_GID_MAX + 64], pgid[PX_GID_MAX + 16];
			j->undoing = 1;
			if (pg_gid(a, j, pgid, sizeof(pgid)) == 0) {
				snprintf(sql, sizeof(sql), "ROLLBACK PREPARED '%s'", pgid);
				send_sql(a, c, sql, -1, NULL);
			} else {
				finish_job(a, c, PA_DB_LOST, 0, NULL, NULL, 0);
			}
		} else if (j->must_fail == 1) { /* its ROLLBACK */
			finish_job(a, c, c->err ? PA_DB_LOST : PA_DB_FAILED, 0, NULL, NULL, 0);
		} else if (!ok && PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
			/* Skipped behind a failed statement in its pipeline: the
			 * transaction is failed but still open. */
			j->must_fail = 1;
			send_sql(a, c, "ROLLBACK", -1, NULL);
		} else {
			finish_job(a, c, ok ? PA_DB_OK : PA_DB_FAILED, 0, NULL, NULL, 0);
		}
		return;
	}
	case PA_DB_ROLLBACK:
		PQclear(res);
		finish_job(a, c, c->err ? PA_DB_FAILED : PA_DB_OK, 0, NULL, NULL, 0);
		return;
	case PA_DB_COMMIT_PREPARED:
	case PA_DB_ROLLBACK_PREPARED: {
		PQclear(res);
		/* 42704 undefined_object: "prepared transaction ... does not
		 * exist".  Anything else (e.g. 55006, busy): not known. */
		int refused = c->err && strcmp(c->sqlstate, "42704");
		finish_job(a, c, !c->err ? PA_DB_OK : !refused ? PA_DB_FAILED : PA_DB_LOST, 0, NULL, NULL, 0);
		/* Sessions here are in a known state, but a refusal is worth a
		 * clean one before the next try. */
		if (refused && c->state == C_IDLE && !c->borrowed)
			conn_dirty(a, c);
		return;
	}
	case J_CANCEL:
		PQclear(res);
		finish_job(a, c, PA_DB_OK, 0, NULL, NULL, 0);
		return;
	case PA_DB_CHECK: {
		int prepared = !c->err && res && PQntuples(res) > 0;
		PQclear(res);
		finish_job(a, c, c->err ? PA_DB_LOST : PA_DB_OK, (uint8_t)prepared, NULL, NULL, 0);
		return;
	}
	case PA_DB_SCAN: {
		size_t n = !c->err && res ? (size_t)PQntuples(res) : 0;
		struct px_str *g = calloc(n + 1, sizeof(*g));
		size_t k = 0;
		size_t sl = strlen(a->suffix);
		for (size_t i = 0; g && i < n; i++) {
			/* ours: "<gid>_<our id>"; hand the core the gid */
			const char *v = PQgetvalue(res, (int)i, 0);
			int l = PQgetlength(res, (int)i, 0);
			if (l > (int)sl && !memcmp(v + l - (int)sl, a->suffix, sl) && l - (int)sl <= (int)PX_GID_MAX)
				g[k++] = px_str_of(v, (uint32_t)(l - (int)sl));
		}
		finish_job(a, c, c->err || !g ? PA_DB_LOST : PA_DB_OK, 0, NULL, g, k);
		free(g);
		PQclear(res);
		return;
	}
	default:
		PQclear(res);
		finish_job(a, c, PA_DB_FAILED, 0, NULL, NULL, 0);
	}
}

/* Socket of c is ready: read what there is, finish the query if done. */
static void conn_io(struct agent *a, struct conn *c, int readable, int writable)
{
	if (c->state == C_IDLE) {
		/* Nothing asked: EOF or an error means the server went away. */
		if (readable && (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD))
			conn_broken(a, c, PQerrorMessage(c->pg));
		return;
	}
	if (c->state != C_BUSY)
		return;
	if (writable && c->flush) {
		int f = PQflush(c->pg);
		if (f < 0) {
			conn_broken(a, c, PQerrorMessage(c->pg));
			return;
		}
		c->flush = f == 1;
	}
	if (!readable)
		return;
	if (!PQconsumeInput(c->pg)) {
		conn_broken(a, c, PQerrorMessage(c->pg));
		return;
	}
	while (!PQisBusy(c->pg)) {
		PGresult *r = PQgetResult(c->pg);
		if (!r) {
			if (PQstatus(c->pg) == CONNECTION_BAD) {
				conn_broken(a, c, PQerrorMessage(c->pg));
				return;
			}
			if (!c->pipeline) {
				query_done(a, c);
				return;
			}
			/* The end of one query's results; the sync ends it all,
			 * except that the statement's end, with its PREPARE behind
			 * it, finishes the statement. */
			c->pends++;
			if ((c->pdiscard || c->pbegin) && c->pends == c->pdiscard + c->pbegin && c->job &&
			    c->job->kind == PA_DB_EXEC)
				PQsetSingleRowMode(c->pg); /* the statement's results come next */
			if (c->pends == c->pdiscard + c->pbegin + 1 && c->job && c->job->kind == PA_DB_EXEC &&
			    c->job->then && c->job->then->piped) {
				query_done(a, c);
				if (c->state != C_BUSY)
					return;
			}
			continue;
		}
		ExecStatusType st = PQresultStatus(r);
		if (c->pipeline) {
			if (st == PGRES_PIPELINE_SYNC) {
				PQclear(r);
				c->pipeline = 0;
				if (!PQexitPipelineMode(c->pg)) {
					conn_broken(a, c, PQerrorMessage(c->pg));
					return;
				}
				query_done(a, c);
				return;
			}
			if (st == PGRES_PIPELINE_ABORTED) { /* an earlier query failed: its error is kept */
				c->err = 1;
				PQclear(r);
				continue;
			}
			if (c->pdiscard && c->pends == 0) { /* DISCARD ALL's */
				if (st != PGRES_COMMAND_OK) {
					/* PostgreSQL skips the rest: nothing ran unreset */
					char why[PX_REASON_MAX + 64];
					const char *ss = PQresultErrorField(r, PG_DIAG_SQLSTATE);
					const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
					snprintf(why, sizeof(why), "DISCARD ALL failed (%.5s %.400s): closing the session",
						 ss ? ss : "", msg ? msg : PQerrorMessage(c->pg));
					PQclear(r);
					conn_broken(a, c, why);
					return;
				}
				PQclear(r);
				continue;
			}
			if (c->pbegin && c->pends == c->pdiscard && st == PGRES_COMMAND_OK) {
				PQclear(r); /* BEGIN's */
				continue;
			}
		}
		if (st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR) {
			if (!c->err) {
				c->err = 1;
				const char *ss = PQresultErrorField(r, PG_DIAG_SQLSTATE);
				snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", ss ? ss : "");
				const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
				snprintf(c->errmsg, sizeof(c->errmsg), "%s", msg ? msg : PQerrorMessage(c->pg));
			}
			PQclear(r);
		} else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
			/* The protocol would wait for data from, or send data to, a
			 * client that is not there: close the session (the gid's
			 * transaction is then lost, and it aborts). */
			PQclear(r);
			conn_broken(a, c, "COPY from or to the client is not supported; session closed");
			return;
		} else if (c->job && c->job->kind == PA_DB_EXEC && c->step == 1 &&
			   (st == PGRES_SINGLE_TUPLE || st == PGRES_TUPLES_OK)) {
			rows_in(a, c, r);
		} else {
			if (c->res)
				PQclear(c->res);
			c->res = r; /* keep the last one */
		}
	}
}

/* ------------------------------------------------------ core actions */

/* A PREPARE of a gid whose statement has not been sent yet (it waits for a
 * connection, or behind another statement) rides on that statement: both
 * leave in one pipeline.  Returns 1 if attached. */
static int pipe_behind(struct agent *a, struct job *p)
{
	struct job *last = NULL;
	struct conn *c = borrowed_by(a, p->gid);
	if (c) {
		last = c->qtail; /* the gid's own queue: its last job */
	} else {
		for (struct job *j = a->newq; j; j = j->next) /* every gid's first statement */
			if (!strcmp(j->gid, p->gid))
				last = j;
	}
	if (!last || last->kind != PA_DB_EXEC || last->then)
		return 0;
	last->then = p;
	return 1;
}

static void take_action(struct agent *a, size_t k)
{
	struct pa_db_action act = a->u.db[k];
	struct job *j = calloc(1, sizeof(*j));
	if (!j) {
		logf_(LV_ERROR, "out of memory");
		exit(EXIT_RUNTIME);
	}
	j->kind = act.kind;
	j->token = act.token;
	j->gid_len = act.gid_len;
	if (act.gid_len)
		memcpy(j->gid, a->u.arena + act.gid_off, act.gid_len);
	if (act.msg_len) {
		j->frame = malloc(act.msg_len);
		if (!j->frame) {
			logf_(LV_ERROR, "out of memory");
			exit(EXIT_RUNTIME);
		}
		memcpy(j->frame, a->u.arena + act.msg_off, act.msg_len);
		j->flen = act.msg_len;
	}
	struct conn *c;
	switch (j->kind) {
	case PA_DB_EXEC:
		if ((c = borrowed_by(a, j->gid))) {
			if (c->state == C_IDLE && !c->job)
				start_job(a, c, j);
			else
				push(&c->q, &c->qtail, j);
		} else {
			push(&a->newq, &a->newq_tail, j);
		}
		break;
	case PA_DB_PREPARE:
	case PA_DB_ROLLBACK:
		if (j->kind == PA_DB_PREPARE && pipe_behind(a, j))
			break;
		if ((c = borrowed_by(a, j->gid))) {
			if (c->state == C_IDLE && !c->job)
				start_job(a, c, j);
			else
				push(&c->q, &c->qtail, j);
		} else {
			/* No open transaction here (never began, or its session
			 * died): PREPARE certainly fails; ROLLBACK has nothing to do. */
			step_db(a, j, j->kind == PA_DB_PREPARE ? PA_DB_FAILED : PA_DB_OK, 0, NULL, NULL, 0);
			job_free(j);
		}
		break;
	case PA_DB_CANCEL:
		if ((c = borrowed_by(a, j->gid)) && c->state == C_BUSY && c->job && c->job->kind == PA_DB_EXEC) {
			request_cancel(a, c);
		} else {
			/* Still waiting for a connection: it never runs. */
			struct job *prev = NULL, *w = a->newq;
			while (w && strcmp(w->gid, j->gid)) {
				prev = w;
				w = w->next;
			}
			if (w) {
				if (prev)
					prev->next = w->next;
				else
					a->newq = w->next;
				if (a->newq_tail == w)
					a->newq_tail = prev;
				exec_refuse(a, w, "statement cancelled before it started (its client stopped waiting, or "
						  "the transaction is decided abort); transaction rolled back");
				if (w->then)
					step_db(a, w->then, PA_DB_FAILED, 0, NULL, NULL, 0);
				job_free(w);
			}
		}
		job_free(j);
		break;
	default:
		push(&a->svc, &a->svc_tail, j);
	}
}

/* Carry out the update: database actions (which may step the core again
 * and add more), then messages, then the timer. */
static void flush_update(struct agent *a)
{
	for (;;) {
		if (a->u.oom) {
			logf_(LV_ERROR, "out of memory in the core; stopping");
			exit(EXIT_RUNTIME);
		}
		while (a->db_done < a->u.ndb)
			take_action(a, a->db_done++);
		dispatch_waiting(a);
		if (a->db_done == a->u.ndb)
			break;
	}
	/* Lazy sends (an ack to the leader, a statement result the client
	 * takes with the ack) may wait: see px_net_queue. */
	uint64_t now = clock_now(a);
	for (size_t k = 0; k < a->u.nnow; k++)
		px_net_queue(a->net, &a->u.now[k], a->u.arena, now);
	for (size_t k = 0; k < a->u.nheld; k++)
		px_net_queue(a->net, &a->u.held[k], a->u.arena, now);
	px_net_flush(a->net); /* one ZeroMQ message per destination */
	a->timer_at = px_update_next_timer(&a->u, a->timer_at);
	px_update_reset(&a->u);
	a->db_done = 0;
}

/* ----------------------------------------------------------- startup */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: paxcommit-participant --config FILE --name NAME [--log-level LEVEL] [--log-file PATH]\n"
		"                             [--allow-superuser]\n"
		"\n"
		"Run the participant agent [participant.NAME] of the cluster described in FILE\n"
		"(see paxcommit.conf(5), or docs/configuration.md).  It connects to PostgreSQL with the\n"
		"section's conninfo, keeps `pool` connections (plus one for commits and\n"
		"recovery), and binds the section's endpoint.\n"
		"\n"
		"At startup it checks the server: PostgreSQL 11 or later, and\n"
		"max_prepared_transactions at least `pool`, and a conninfo role without\n"
		"superuser rights (sql/participant.sql creates paxcommit_agent).  If PostgreSQL\n"
		"is not reachable it retries with backoff; connections that drop later are\n"
		"reopened the same way.\n"
		"\n"
		"  --config FILE      cluster configuration (INI)\n"
		"  --name NAME        which [participant.NAME] this process is\n"
		"  --log-level LEVEL  error, warn, info (default) or debug\n"
		"  --log-file PATH    log to PATH (appended) instead of stderr; SIGHUP opens it\n"
		"                     again (after logrotate moved it)\n"
		"  --drain-timeout MS on SIGTERM, refuse new transactions and let the unfinished\n"
		"                     ones finish for at most MS milliseconds (default 5000;\n"
		"                     0: stop at once); a second SIGTERM stops at once\n"
		"  --allow-superuser  run even if the conninfo's role is a superuser (not advised:\n"
		"                     every client's statements would run with its rights)\n"
		"  --help             this text\n"
		"\n"
		"SIGHUP reopens the log file and reads the client allow-list ([cluster]\n"
		"client_keys) again.\n"
		"Exit status: 0 stopped by SIGTERM/SIGINT; 1 runtime failure; 2 bad arguments,\n"
		"configuration, or PostgreSQL settings (the message says what to set).\n");
}

/* Connect connection 0 (waiting for the server with backoff) and check the
 * server's version and settings. */
static int check_server(struct agent *a)
{
	struct conn *c = &a->conn[0];
	while (!g_stop) {
		if (conn_connect(a, c) == 0)
			break;
		uint64_t wait = c->backoff;
		struct timespec ts = {(time_t)(wait / 1000), (long)(wait % 1000) * 1000000L};
		nanosleep(&ts, NULL); /* waiting for the server to come up, not for us */
	}
	if (g_stop)
		return EXIT_OK;
	int ver = PQserverVersion(c->pg);
	if (ver < MIN_SERVER_VERSION) {
		logf_(LV_ERROR, "PostgreSQL %d.%d is too old: paxcommit needs PostgreSQL 11 or later", ver / 10000,
		      ver % 10000);
		return EXIT_USAGE;
	}
	PGresult *r = PQexec(c->pg, "SHOW max_prepared_transactions");
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		logf_(LV_ERROR, "cannot read max_prepared_transactions: %s", PQerrorMessage(c->pg));
		PQclear(r);
		return EXIT_RUNTIME;
	}
	long mpt = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if (mpt < (long)a->me->pool) {
		logf_(LV_ERROR,
		      "max_prepared_transactions is %ld on this server, and this participant's pool is %u: set "
		      "max_prepared_transactions = %u (or more) in postgresql.conf and restart PostgreSQL%s",
		      mpt, a->me->pool, a->me->pool * 2 > 64 ? a->me->pool * 2 : 64,
		      mpt == 0 ? " (0 disables prepared transactions, which paxcommit needs)" : "");
		return EXIT_USAGE;
	}
	/* Least privilege: the agent needs no superuser rights
	 * (sql/participant.sql), and a superuser agent would run every
	 * client's statements with them.  The server reports is_superuser at
	 * connection start. */
	const char *su = PQparameterStatus(c->pg, "is_superuser");
	int super = su && !strcmp(su, "on");
	if (super && !a->allow_superuser) {
		logf_(LV_ERROR,
		      "the conninfo's role '%s' is a superuser: the agent runs every client's statements as that role. "
		      "Log in as a role without superuser rights (sql/participant.sql creates paxcommit_agent; set "
		      "user=paxcommit_agent in [participant.%s] conninfo), or start with --allow-superuser",
		      PQuser(c->pg), a->me->name);
		return EXIT_USAGE;
	}
	logf_(LV_INFO, "PostgreSQL %d.%d, max_prepared_transactions %ld, pool %u, role %s%s", ver / 10000, ver % 10000,
	      mpt, a->me->pool, PQuser(c->pg), super ? " (superuser: --allow-superuser)" : "");
	return EXIT_OK;
}

/* Count a message its sender's role may not send (px_auth.h); one line a
 * second at most. */
static void refuse(struct agent *a, struct px_addr from, const struct px_msg *m, const char *why)
{
	a->refused++;
	uint64_t now = clock_now(a);
	if (a->refused_logged_at && now - a->refused_logged_at < 1000)
		return;
	a->refused_logged_at = now ? now : 1;
	struct px_str g = px_msg_gid(m);
	logf_(LV_WARN, "refused %s from %s %" PRIu64 " gid=%.*s: %s (dropped; %" PRIu64 " refused in all)",
	      px_type_name(m->type),
	      from.kind == PX_NODE_REPLICA ? "coordinator" : from.kind == PX_NODE_AGENT ? "participant" : "client",
	      from.id, (int)(g.len > 200 ? 200 : g.len), g.p ? g.p : "", why, a->refused);
}

static void log_stats(struct agent *a, const char *why)
{
	const struct pa_stats *s = pa_core_stats(a->pa);
	const struct px_net_stats *ns = px_net_stats(a->net);
	int up = 0, borrowed = 0;
	for (int i = 0; i < a->nconn; i++) {
		up += a->conn[i].state != C_DOWN;
		borrowed += a->conn[i].borrowed;
	}
	logf_(LV_INFO,
	      "stats%s: tracked=%zu prepared=%" PRIu64 " voted_aborted=%" PRIu64 " committed=%" PRIu64
	      " rolled_back=%" PRIu64 " idle_rollbacks=%" PRIu64 " resolved_by_scan=%" PRIu64 " presumed_aborts=%" PRIu64
	      " bad_frames=%" PRIu64 " bad_msgs=%" PRIu64 " bad_identity=%" PRIu64 " bad_auth=%" PRIu64 " refused=%" PRIu64
	      " send_dropped=%" PRIu64 " connections_up=%d/%d borrowed=%d proto_sent=%" PRIu64
	      " sessions_lost=%" PRIu64 " cancels=%" PRIu64 " apply_failures=%" PRIu64 " future_gids=%" PRIu64 " ambiguous=%" PRIu64
	      " resets_piped=%" PRIu64 " resets_alone=%" PRIu64,
	      why, pa_core_tracked(a->pa), s->prepared, s->voted_aborted, s->committed, s->rolled_back,
	      s->idle_rollbacks, s->resolved_by_scan, s->presumed_aborts, a->bad_frames + ns->bad_shape, s->bad_msgs,
	      ns->bad_identity, ns->bad_auth, a->refused, ns->send_dropped, up, a->nconn, borrowed, px_net_proto_sent(a->net), s->sessions_lost, s->cancels,
	      s->apply_failures, s->future_gids, s->ambiguous, a->resets_piped, a->resets_alone);
	a->last = *s;
}

static void build_metrics(void *ctx, struct px_mtext *t)
{
	struct agent *a = ctx;
	const struct pa_stats *s = pa_core_stats(a->pa);
	const struct px_net_stats *ns = px_net_stats(a->net);
	int up = 0, borrowed = 0, busy = 0;
	for (int i = 0; i < a->nconn; i++) {
		up += a->conn[i].state != C_DOWN;
		busy += a->conn[i].state == C_BUSY;
		borrowed += a->conn[i].borrowed;
	}
	char l[PX_CFG_NAME_MAX + 40];
	snprintf(l, sizeof(l), "participant=\"%s\",id=\"%u\"", a->me->name, (unsigned)a->me->id);
	px_mt_family(t, "paxcommit_participant_info", "gauge", "This participant agent: its name and id, 1");
	px_mt_u64(t, "paxcommit_participant_info", l, 1);
	px_mt_counter(t, "paxcommit_agent_prepared_total", "Transactions prepared (PREPARE TRANSACTION succeeded)", s->prepared);
	px_mt_counter(t, "paxcommit_agent_voted_aborted_total", "Transactions this agent voted to abort", s->voted_aborted);
	px_mt_counter(t, "paxcommit_agent_committed_total", "COMMIT PREPARED applied", s->committed);
	px_mt_counter(t, "paxcommit_agent_rolled_back_total", "Decided aborts applied (ROLLBACK PREPARED or ROLLBACK)",
		      s->rolled_back);
	px_mt_counter(t, "paxcommit_agent_idle_rollbacks_total", "Open transactions rolled back after agent_idle_timeout_ms",
		      s->idle_rollbacks);
	uint64_t oldest_ms = 0;
	size_t indoubt = pa_core_in_doubt(a->pa, &oldest_ms);
	px_mt_gauge(t, "paxcommit_agent_in_doubt", "Transactions prepared here and not yet finished", (double)indoubt);
	px_mt_gauge(t, "paxcommit_agent_in_doubt_oldest_seconds", "How long the oldest of them has been prepared here",
		    (double)oldest_ms / 1000.0);
	px_mt_gauge(t, "paxcommit_agent_tracked", "Gids this agent tracks (open, prepared, or finished and remembered)",
		    (double)pa_core_tracked(a->pa));
	px_mt_gauge(t, "paxcommit_agent_pool_size", "PostgreSQL sessions this agent keeps: pool, plus one for its own scans and checks", (double)a->nconn);
	px_mt_gauge(t, "paxcommit_agent_pool_up", "PostgreSQL sessions connected", (double)up);
	px_mt_gauge(t, "paxcommit_agent_pool_in_use", "Sessions running a statement or held by an open transaction",
		    (double)(busy > borrowed ? busy : borrowed));
	static const char *const kinds[] = {"other", "exec", "prepare", "commit_prepared", "rollback_prepared",
					    "rollback", "check", "scan", "cancel"};
	px_mt_family(t, "paxcommit_agent_pg_seconds", "histogram",
		     "From the agent's last query of a database action to PostgreSQL's answer, by action");
	for (size_t k = 0; k <= PA_DB_CANCEL; k++) {
		char lb[48];
		snprintf(lb, sizeof(lb), "action=\"%s\"", kinds[k]);
		px_mt_hist_samples(t, "paxcommit_agent_pg_seconds", lb, &a->pg_h[k]);
	}
	px_mt_counter(t, "paxcommit_agent_scans_total", "Scans of pg_prepared_xacts", a->scans);
	px_mt_counter(t, "paxcommit_agent_scan_found_total", "This cluster's prepared gids the scans listed", a->scan_found);
	px_mt_counter(t, "paxcommit_agent_resolved_by_scan_total", "Prepared gids found by a scan and then finished",
		      s->resolved_by_scan);
	px_mt_counter(t, "paxcommit_agent_presumed_aborts_total", "Gids a majority of replicas did not know: rolled back",
		      s->presumed_aborts);
	px_mt_counter(t, "paxcommit_agent_apply_failures_total", "Decided outcomes PostgreSQL refused to apply (retried)",
		      s->apply_failures);
	px_mt_counter(t, "paxcommit_agent_sessions_lost_total", "Open transactions whose session ended", s->sessions_lost);
	px_mt_counter(t, "paxcommit_agent_cancels_total", "Statements cancelled", s->cancels);
	px_mt_counter(t, "paxcommit_agent_ambiguous_total", "Gids perhaps voted by an earlier incarnation: left to recovery",
		      s->ambiguous);
	const struct px_mt_reason refused[] = {{"bad_frame", a->bad_frames + ns->bad_shape}, {"bad_message", s->bad_msgs},
					       {"bad_identity", ns->bad_identity},       {"bad_auth", ns->bad_auth},
					       {"role", a->refused},                     {"future_gid", s->future_gids}};
	px_mt_daemon(t, refused, sizeof(refused) / sizeof(refused[0]), ns->send_dropped,
		     (double)px_clock_offset_ms(&a->clock, px_wall_ms() * 1000u) / 1000.0, a->metrics);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
					     {"name", required_argument, NULL, 'n'},
					     {"log-level", required_argument, NULL, 'l'},
					     {"log-file", required_argument, NULL, 'L'},
					     {"allow-superuser", no_argument, NULL, 'S'},
					     {"drain-timeout", required_argument, NULL, 'D'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *config = NULL, *name = NULL;
	int o, allow_superuser = 0;
	unsigned long drain_ms = DRAIN_DEFAULT_MS;
	while ((o = getopt_long(argc, argv, "c:n:l:h", opts, NULL)) != -1) {
		switch (o) {
		case 'D': {
			char *end;
			errno = 0;
			drain_ms = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || drain_ms > 3600000ul) {
				fprintf(stderr, "paxcommit-participant: --drain-timeout '%s': milliseconds, 0 to 3600000\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		}
		case 'c':
			config = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'l':
			if (px_log_parse_level(optarg) >= 0)
				px_log_set_level(px_log_parse_level(optarg));
			else {
				fprintf(stderr, "paxcommit-participant: unknown --log-level '%s'\n", optarg);
				return EXIT_USAGE;
			}
			break;
		case 'S':
			allow_superuser = 1;
			break;
		case 'L': {
			char lerr[4200];
			if (px_log_open(optarg, lerr, sizeof(lerr))) {
				fprintf(stderr, "paxcommit-participant: --log-file: %s\n", lerr);
				return EXIT_USAGE;
			}
			break;
		}
		case 'h':
			usage(stdout);
			return EXIT_OK;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc || !config || !name) {
		fprintf(stderr, "paxcommit-participant: --config and --name are required (see --help)\n");
		return EXIT_USAGE;
	}
	g_name = name;
	char pname[80];
	snprintf(pname, sizeof(pname), "participant.%s", name);
	px_log_name(pname);
	struct agent a;
	memset(&a, 0, sizeof(a));
	a.allow_superuser = allow_superuser;
	char err[1200];
	if (px_config_load(config, &a.cfg, err, sizeof(err))) {
		fprintf(stderr, "paxcommit-participant: %s\n", err);
		return EXIT_USAGE;
	}
	a.me = px_config_part_by_name(&a.cfg, name);
	if (!a.me) {
		fprintf(stderr, "paxcommit-participant: %s has no [participant.%s]\n", config, name);
		return EXIT_USAGE;
	}
	snprintf(a.prefix, sizeof(a.prefix), "%s_", a.cfg.name);
	/* A lock wait longer than the transaction timeout fails the statement
	 * (the transaction is doomed and aborts) instead of hanging: two
	 * distributed transactions waiting on each other's rows in different
	 * databases form a deadlock no single PostgreSQL can see.  Set at
	 * connection start (conn_connect), keeping the conninfo's own
	 * options. */
	{
		const char *user_opts = "";
		PQconninfoOption *co = PQconninfoParse(a.me->conninfo, NULL);
		for (PQconninfoOption *o = co; o && o->keyword; o++)
			if (!strcmp(o->keyword, "options") && o->val)
				user_opts = o->val;
		int n = snprintf(a.options, sizeof(a.options), "%s%s-c lock_timeout=%u", user_opts, user_opts[0] ? " " : "",
				 a.cfg.txn_timeout_ms);
		PQconninfoFree(co);
		if (n < 0 || (size_t)n >= sizeof(a.options)) {
			fprintf(stderr, "paxcommit-participant: %s: [participant.%s] conninfo options are too long\n", config,
				name);
			return EXIT_USAGE;
		}
	}
	snprintf(a.suffix, sizeof(a.suffix), "_%u", a.me->id);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	a.nconn = (int)a.me->pool + 1;
	a.conn = calloc((size_t)a.nconn, sizeof(*a.conn));
	if (!a.conn)
		return EXIT_RUNTIME;
	for (int i = 0; i < a.nconn; i++) {
		a.conn[i].idx = i;
		a.conn[i].nf = -1;
	}
	logf_(LV_INFO, "starting: cluster %s, participant id %u, endpoint %s, pool %u", a.cfg.name, a.me->id,
	      a.me->endpoint, a.me->pool);
	int rc = check_server(&a);
	if (rc || g_stop) {
		for (int i = 0; i < a.nconn; i++)
			PQfinish(a.conn[i].pg);
		free(a.conn);
		px_config_free(&a.cfg);
		return rc;
	}
	for (int i = 1; i < a.nconn; i++)
		conn_connect(&a, &a.conn[i]);

	struct pa_config pc = {
		.rm = a.me->id,
		.nreplicas = a.cfg.ncoord,
		.idle_timeout_ms = a.cfg.agent_idle_timeout_ms,
		.resend_ms = a.cfg.resend_ms,
		.scan_ms = 10000,
		.max_open = a.me->pool,
		/* A transaction may live at most the coordinators' GC horizon. */
		.remember_ms = (uint32_t)(a.cfg.horizon_ms > UINT32_MAX ? UINT32_MAX : a.cfg.horizon_ms),
		.skew_ms = PX_GID_MAX_FUTURE_MS, /* the agent takes no gid born further ahead */
		.cluster = a.cfg.name,
		.name = a.me->name,
		.log = core_log,
	};
	a.pa = pa_core_new(&pc);
	if (!a.pa)
		return EXIT_RUNTIME;
	px_update_init(&a.u);
	a.zctx = zmq_ctx_new();
	if (px_keyring_load(&a.keys, &a.cfg, px_addr_of(PX_NODE_AGENT, a.me->id), NULL, err, sizeof(err))) {
		logf_(LV_ERROR, "%s", err);
		return EXIT_USAGE;
	}
	if (a.keys.curve)
		logf_(LV_INFO, "security curve: %zu client keys allowed (%s)", a.keys.nclient, a.cfg.client_keys);
	else
		logf_(LV_INFO, "security none: every endpoint is loopback or ipc");
	struct px_net_config nc = {.self = px_addr_of(PX_NODE_AGENT, a.me->id), .bind = a.me->endpoint, .keys = &a.keys};
	if (!a.zctx || px_net_new(a.zctx, &nc, &a.net, err, sizeof(err))) {
		logf_(LV_ERROR, "%s", err);
		return EXIT_USAGE;
	}
	for (uint8_t i = 0; i < a.cfg.ncoord; i++)
		if (px_net_add_peer(a.net, px_addr_of(PX_NODE_REPLICA, i), a.cfg.coord[i].endpoint, err, sizeof(err))) {
			logf_(LV_ERROR, "coordinator.%u: %s", i, err);
			return EXIT_USAGE;
		}
	for (size_t k = 0; k <= PA_DB_CANCEL; k++)
		px_hist_init(&a.pg_h[k], PX_HIST_SECONDS, PX_HIST_SECONDS_N);
	if (a.me->metrics[0]) {
		if (px_metrics_start(a.me->metrics, &a.metrics, err, sizeof(err))) {
			logf_(LV_ERROR, "%s (metrics in [participant.%s] of %s)", err, a.me->name, config);
			return EXIT_USAGE;
		}
		logf_(LV_INFO, "metrics at http://%s/metrics", a.me->metrics);
	}
	struct pa_event sev = {.kind = PA_EV_START, .now = clock_now(&a)};
	pa_core_step(a.pa, &sev, &a.u);
	flush_update(&a);
	logf_(LV_INFO, "ready");
	{
		char st[400];
		snprintf(st, sizeof(st), "participant %s: listening on %s", a.me->name, a.me->endpoint);
		px_notify_ready(st);
	}
	a.stats_at = clock_now(&a) + STATS_EVERY_MS;

	/* the transport's sockets (1 + replicas <= 6), then the connections */
	zmq_pollitem_t *items = calloc(9 + (size_t)a.nconn, sizeof(*items));
	int *item_conn = calloc(9 + (size_t)a.nconn, sizeof(*item_conn));
	if (!items || !item_conn)
		return EXIT_RUNTIME;
	uint64_t poll_idle_at = 0;
	uint64_t drain_until = 0; /* draining (SIGTERM) until then */
	for (;;) {
		if (g_stop && !drain_until) {
			uint64_t t = clock_now(&a);
			drain_until = t + drain_ms + 1;
			if (drain_ms) {
				px_notify_stopping();
				logf_(LV_INFO, "SIGTERM: draining for at most %lu ms (%zu unfinished transactions)", drain_ms,
				      pa_core_unfinished(a.pa));
				pa_core_drain(a.pa);
			}
		}
		if (drain_until) {
			int running = 0;
			for (int i = 0; i < a.nconn; i++)
				running += a.conn[i].state == C_BUSY;
			size_t left = pa_core_unfinished(a.pa);
			if (g_stop > 1 || !drain_ms || (!left && !running)) {
				if (drain_ms)
					logf_(LV_INFO, "drained: %s", g_stop > 1 ? "a second signal, stopping now"
									: "every transaction here finished");
				break;
			}
			if (clock_now(&a) >= drain_until) {
				logf_(LV_WARN, "drain timeout after %lu ms: stopping with %zu unfinished transactions (open ones roll "
				      "back; prepared ones stay prepared and are finished after the restart)",
				      drain_ms, left);
				break;
			}
		}
		if (g_reload) {
			g_reload = 0;
			size_t was, now_n;
			if (px_log_reopen(err, sizeof(err)))
				logf_(LV_ERROR, "SIGHUP: %s (logging on to the old file)", err);
			else if (px_log_path())
				logf_(LV_INFO, "SIGHUP: log file %s reopened", px_log_path());
			if (!a.keys.curve)
				logf_(LV_WARN, "SIGHUP: security = none, no client allow-list to read");
			else if (px_net_reload_clients(a.net, &a.keys, a.cfg.client_keys, &was, &now_n, err, sizeof(err)))
				logf_(LV_ERROR, "SIGHUP: the client allow-list stays as it was (%zu keys): %s", a.keys.nclient, err);
			else
				logf_(LV_INFO, "SIGHUP: client allow-list %s read again: %zu keys (was %zu)", a.cfg.client_keys,
				      now_n, was);
		}
		size_t n = px_net_pollitems(a.net, items, 8);
		size_t nz = n;
		uint64_t now = clock_now(&a);
		long timeout = 1000;
		/* Busy connections every round; idle ones (a server restart shows
		 * as EOF there) a few times a second: polling 40 idle sockets
		 * every round cost more than the agent's own work. */
		int idle_too = now >= poll_idle_at;
		if (idle_too)
			poll_idle_at = now + 200;
		else if (poll_idle_at - now < (uint64_t)timeout)
			timeout = (long)(poll_idle_at - now);
		for (int i = 0; i < a.nconn; i++) {
			struct conn *c = &a.conn[i];
			if (c->state == C_BUSY || (idle_too && c->state != C_DOWN)) {
				items[n] = (zmq_pollitem_t){.fd = PQsocket(c->pg),
							    .events = (short)(ZMQ_POLLIN | (c->flush ? ZMQ_POLLOUT : 0))};
				item_conn[n++] = i;
			} else if (c->state == C_DOWN) {
				long w = c->retry_at > now ? (long)(c->retry_at - now) : 0;
				if (w < timeout)
					timeout = w;
			}
			if (c->state == C_IDLE && c->dirty && !c->borrowed) {
				uint64_t due = c->dirty_at + RESET_IDLE_MS;
				long w = due > now ? (long)(due - now) : 0;
				if (w < timeout)
					timeout = w;
			}
		}
		timeout = px_wait_ms(timeout, now, a.timer_at);
		timeout = px_wait_ms(timeout, now, px_net_lazy_due(a.net));
		timeout = px_wait_ms(timeout, now, px_notify_tick(now));
		if (drain_until && timeout > 50)
			timeout = 50; /* look at the drain's progress often */
		if (a.metrics)
			items[n] = (zmq_pollitem_t){.fd = px_metrics_fd(a.metrics), .events = ZMQ_POLLIN};
		if (zmq_poll(items, (int)n + (a.metrics != NULL), timeout) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			logf_(LV_ERROR, "zmq_poll: %s", zmq_strerror(zmq_errno()));
			return EXIT_RUNTIME;
		}
		px_net_polled(a.net, items, nz);
		if (a.metrics && (items[n].revents & ZMQ_POLLIN))
			px_metrics_serve(a.metrics, build_metrics, &a);
		for (size_t k = nz; k < n; k++)
			if (items[k].revents)
				conn_io(&a, &a.conn[item_conn[k]], items[k].revents & ZMQ_POLLIN,
					items[k].revents & ZMQ_POLLOUT);
		for (unsigned k = 0; k < 1024; k++) {
			struct px_addr from;
			const uint8_t *data;
			size_t len;
			int r = px_net_recv(a.net, &from, &data, &len);
			if (r <= 0)
				break;
			size_t off = 0;
			const uint8_t *frame;
			size_t flen;
			int s;
			while ((s = px_net_split(data, len, &off, &frame, &flen)) != 0) {
				struct px_msg m;
				int e = s < 0 ? PX_ETRUNC : px_decode(frame, flen, &m);
				if (e) {
					if (a.bad_frames++ % 1000 == 0)
						logf_(LV_WARN, "bad message from %s %" PRIu64 ": %s (dropped; %" PRIu64
							       " bad in all)",
						      from.kind == PX_NODE_REPLICA ? "coordinator" : "client", from.id,
						      px_codec_strerror(e), a.bad_frames);
					if (s < 0)
						break;
					continue;
				}
				const char *why = px_auth_refuse(
					PX_NODE_AGENT, from,
					from.kind == PX_NODE_CLIENT ? px_net_client_key(a.net, from.id) : 0,
					a.cfg.ncoord, &m);
				if (why) {
					refuse(&a, from, &m, why);
					continue;
				}
				struct pa_event ev = {.kind = PA_EV_MSG, .now = clock_now(&a), .from = from, .msg = &m};
				pa_core_step(a.pa, &ev, &a.u);
			}
		}
		now = clock_now(&a);
		for (int i = 0; i < a.nconn; i++)
			if (a.conn[i].state == C_DOWN && a.conn[i].retry_at <= now)
				conn_connect(&a, &a.conn[i]);
			else if (a.conn[i].state == C_IDLE && a.conn[i].dirty && !a.conn[i].borrowed &&
				 now >= a.conn[i].dirty_at + RESET_IDLE_MS)
				conn_reset(&a, &a.conn[i]); /* left idle: reset it now */
		if (!a.timer_at || now >= a.timer_at) {
			a.timer_at = 0;
			struct pa_event ev = {.kind = PA_EV_TIMER, .now = now};
			pa_core_step(a.pa, &ev, &a.u);
		}
		flush_update(&a);
		px_net_tick(a.net, clock_now(&a));
		if (now >= a.stats_at) {
			if (memcmp(pa_core_stats(a.pa), &a.last, sizeof(a.last)))
				log_stats(&a, "");
			a.stats_at = now + STATS_EVERY_MS;
		}
	}
	if (!drain_ms)
		px_notify_stopping(); /* (a drain said so as it began) */
	log_stats(&a, " at shutdown");
	logf_(LV_INFO, "stopping on signal");
	for (int i = 0; i < a.nconn; i++)
		PQfinish(a.conn[i].pg);
	px_metrics_stop(&a.metrics);
	px_net_flush_lazy(a.net);
	px_net_destroy(&a.net);
	zmq_ctx_term(a.zctx);
	px_keyring_free(&a.keys);
	pa_core_destroy(&a.pa);
	px_update_free(&a.u);
	px_config_free(&a.cfg);
	free(items);
	free(item_conn);
	free(a.conn);
	return EXIT_OK;
}
