/*
 * pa_core.h - the pure core of a participant agent (resource manager).
 *
 * The core decides what to run on PostgreSQL and which votes and acks to
 * send; it does no I/O.  The driver (the agent daemon, or the simulator)
 * runs the database actions it asks for in update.db[*] and reports each
 * result as a PA_EV_DB event with the action's token.
 *
 * A PREPARE that arrives while a statement runs is handed to the driver
 * at once (PA_DB_PREPARE while the gid's PA_DB_EXEC is still running), so
 * that PREPARE TRANSACTION can follow the statement in the same round trip.
 * The driver's contract for such a pipelined PREPARE: it reports the
 * statement's result first and the PREPARE's second, and the PREPARE
 * reports PA_DB_OK only if the statement's result was PA_DB_OK (a failed
 * statement leaves the transaction rolled back: PA_DB_FAILED; a lost
 * connection: PA_DB_LOST).
 *
 * The agent keeps no durable state of its own: PostgreSQL's prepared
 * transactions and the coordinators hold everything.  Its ballot-0 vote
 * obeys protocol.md section 3: `prepared` only after PREPARE succeeded (or a
 * check shows the gid prepared), `aborted` only once the transaction is
 * certainly gone and certainly never voted `prepared` (see remember_ms), and
 * nothing when it cannot tell: the leader's recovery then decides.
 */
#ifndef PA_CORE_H
#define PA_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "px_msg.h"
#include "px_update.h"

struct pa_core;

struct pa_config {
	uint16_t rm;              /* this participant's id */
	uint8_t nreplicas;        /* coordinator replicas, ids 0..n-1 */
	uint32_t idle_timeout_ms; /* open transactions idle this long roll back */
	uint32_t resend_ms;       /* vote / status retransmission period */
	uint32_t scan_ms;         /* pg_prepared_xacts scan period */
	uint32_t max_open;        /* gids with an open PostgreSQL transaction */
	/* Ballot 0 carries one value per instance, but a restarted agent (or
	 * one that dropped a finished gid from memory) cannot tell whether it
	 * voted before.  A gid born before this agent started (+ skew_ms), or
	 * more than remember_ms ago, is "ambiguous": the agent never votes
	 * `aborted` for it and refuses to begin it; it votes `prepared` only
	 * when PostgreSQL shows it prepared.  Finished gids are remembered
	 * until they become ambiguous. */
	uint32_t remember_ms;
	uint32_t skew_ms;
	/* A gid this agent does not track, born more than this many ms ahead
	 * of its clock (PX_GID_MAX_FUTURE_MS when 0), is refused: EXEC gets an
	 * error, PREPARE, DECISION and OUTCOME are dropped and counted.  Such
	 * a gid would never become ambiguous, so it could never be forgotten.
	 * skew_ms must be at least this (px_gid.h says why). */
	uint32_t max_future_ms;
	/* What a PONG names (the cluster, this participant); NULL: empty.  The
	 * strings must outlive the core. */
	const char *cluster, *name;
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
};

enum pa_event_kind {
	PA_EV_START = 1, /* scan for prepared gids and resolve them */
	PA_EV_MSG = 2,   /* from, msg */
	PA_EV_DB = 3,    /* result of a database action */
	PA_EV_TIMER = 4,
	PA_EV_LOST = 5   /* gid: the session of its open transaction ended (the
			    connection closed, the backend was terminated, the
			    server restarted): PostgreSQL rolled it back */
};

enum pa_db_status {
	PA_DB_OK = 1,
	PA_DB_FAILED = 2, /* an error, and the transaction is certainly rolled
			     back (or, for COMMIT/ROLLBACK PREPARED: no such gid) */
	PA_DB_LOST = 3    /* connection lost: the outcome is not known */
};

struct pa_event {
	uint8_t kind;
	uint64_t now;
	struct px_addr from;
	const struct px_msg *msg;
	/* PA_EV_DB */
	uint64_t token;
	struct px_str gid;         /* the action's gid (len 0: unknown; the core then searches) */
	uint8_t status;            /* enum pa_db_status */
	uint8_t prepared;          /* PA_DB_CHECK: 1 if the gid is prepared */
	const struct px_msg *result; /* PA_DB_EXEC: EXEC_RESULT for the client */
	const struct px_str *gids; /* PA_DB_SCAN: prepared gids of this cluster */
	size_t ngids;
	/* PA_EV_DB of a failed PREPARE / COMMIT PREPARED / ROLLBACK PREPARED,
	 * and PA_EV_LOST: why, in words ("SQLSTATE message"); may be empty */
	struct px_str reason;
};

struct pa_stats {
	uint64_t prepared, voted_aborted, committed, rolled_back;
	uint64_t idle_rollbacks, resolved_by_scan, presumed_aborts, bad_msgs;
	uint64_t sessions_lost;  /* open transactions whose session ended */
	uint64_t cancels;        /* statements cancelled (client gone, or abort) */
	uint64_t apply_failures; /* decided outcomes PostgreSQL refused to apply */
	uint64_t future_gids; /* refused: born more than max_future_ms ahead */
	uint64_t ambiguous;   /* not prepared, maybe voted before: left to recovery */
};

struct pa_core *pa_core_new(const struct pa_config *cfg);
void pa_core_destroy(struct pa_core **c);
/* Apply one event; effects are appended to *u. */
void pa_core_step(struct pa_core *c, const struct pa_event *ev, struct px_update *u);
const struct pa_stats *pa_core_stats(const struct pa_core *c);
size_t pa_core_tracked(const struct pa_core *c);
/* Transactions prepared here and not yet finished (waiting for, or
 * applying, the decision); *oldest_ms: the age of the oldest, 0 if none. */
size_t pa_core_in_doubt(const struct pa_core *c, uint64_t *oldest_ms);
/* Shutting down: from now on a new gid's first statement is refused
 * (PX_EXEC_BUSY, "shutting down"); the transactions already here go on. */
void pa_core_drain(struct pa_core *c);
/* Transactions here not yet finished: open, preparing, or prepared and
 * waiting for (or applying) the decision. */
size_t pa_core_unfinished(const struct pa_core *c);

#endif
