/*
 * px_replica.h - the pure core of one coordinator replica.
 *
 * A replica is an acceptor for every Paxos Commit instance (gid, participant)
 * and, while it trusts itself as leader, the learner that decides
 * transactions and finishes stuck ones.  It performs no I/O: no sockets, no
 * files, no clock, no randomness of its own.  A driver (the daemon, or the
 * simulator) feeds it events and carries out the returned struct px_update:
 *
 *     px_replica_step(r, &event, &update);
 *     append update.rec[*] to the log, sync once
 *     step PX_EV_PERSISTED with update.rec_seq
 *     send update.now[*] (any time) and update.held[*] (only after the sync)
 *
 * Client requests (commit / rollback / status) arrive as PX_EV_MSG events
 * whose sender is a PX_NODE_CLIENT address.
 */
#ifndef PX_REPLICA_H
#define PX_REPLICA_H

#include <stddef.h>
#include <stdint.h>

#include "px_msg.h"
#include "px_update.h"

#define PX_REPLICAS_MAX 5u
#define PX_RM_ANY 0xFFFFu /* 1a with this rm: phase 1 for every instance of a gid */
#define PX_NO_LEADER 0xFFu

struct px_replica;

struct px_replica_config {
	uint8_t id; /* 0..n-1 */
	uint8_t n;  /* 1, 3 or 5 */
	uint32_t heartbeat_ms;  /* heartbeat period */
	uint32_t lease_ms;      /* a replica unheard for this long is not trusted */
	uint32_t txn_timeout_ms; /* undecided this long: the leader finishes it */
	uint32_t resend_ms;     /* retransmission period of unanswered requests */
	uint32_t sync_ms;       /* leader re-collects live gids this often */
	uint64_t horizon_ms;    /* unknown gids born longer ago are refused */
	uint32_t max_live;      /* at most this many live transactions (busy) */
	/* ... and at most this many whose gids carry one client field (with
	 * CURVE on, the client's key id): one client cannot fill max_live.
	 * 0: max_live. */
	uint32_t max_live_client;
	/* A gid this replica holds nothing for, born more than this many ms
	 * ahead of its clock, is refused (PX_GID_MAX_FUTURE_MS when 0): its
	 * txn or tombstone could not be dropped before that birth. */
	uint32_t max_future_ms;
	const uint16_t *rms;    /* known participant ids (sorted); NULL: any */
	uint16_t nrms;
	const char *cluster;    /* the cluster name a PONG gives; NULL: empty */
	/* Optional sink for notable events (one line, no newline).  Called
	 * synchronously from px_replica_step. */
	void (*log)(void *ctx, const char *line);
	void *log_ctx;
};

enum px_event_kind {
	PX_EV_START = 1,     /* recs: everything persisted before, in order */
	PX_EV_MSG = 2,       /* from, msg: a decoded message */
	PX_EV_PERSISTED = 3, /* seq: every record up to seq is durable */
	PX_EV_TIMER = 4      /* the time asked for in update.timer has come */
};

struct px_event {
	uint8_t kind;
	uint64_t now; /* milliseconds; the driver's clock, never decreasing */
	struct px_addr from;
	const struct px_msg *msg;
	uint64_t seq;
	const struct px_str *recs;
	size_t nrecs;
};

/* Counters, for logs, metrics and the simulator's summary. */
struct px_replica_stats {
	uint64_t decided_commit, decided_abort;
	uint64_t recoveries;     /* phase-1 rounds started for stuck gids */
	uint64_t leader_changes; /* times this replica became leader */
	uint64_t forgotten;      /* gids garbage-collected here */
	uint64_t bad_msgs;       /* dropped: malformed gid, unknown rm, ... */
	uint64_t conflicts;      /* pset or ballot-0 value conflicts refused */
	uint64_t busy;           /* requests refused by backpressure */
	uint64_t busy_client;    /* ... of them, by the client's own quota */
	uint64_t commit_reqs;    /* commit requests received (a client that gets
				  * every participant's ack sends none) */
	uint64_t defer_misses;   /* committed gids whose set never completed
				  * here after a deferred first vote */
	uint64_t future_gids;    /* messages refused for a gid born more than
				  * max_future_ms ahead of this replica's clock */
	uint64_t give_ups;       /* gids given up (FORGET without an outcome) */
	uint64_t client_asked;   /* gids unknown here past txn_timeout_ms taken on for a client's status request */
	uint64_t quorum_losses;  /* times this replica stopped hearing a majority
				  * (CheckQuorum: it stops leading) */
	uint64_t relayed;        /* messages passed on between the leader and the
				  * participants (a link cut one way) */
	uint64_t relayed_reqs;   /* client commit / rollback requests a follower
				  * passed on to its leader (and answers back) */
};

/* Create a replica.  Copies cfg (rms must outlive the replica).  Returns
 * NULL on invalid config or out of memory. */
struct px_replica *px_replica_new(const struct px_replica_config *cfg);
void px_replica_destroy(struct px_replica **r);

/*
 * Apply one event.  Effects are appended to *u (see px_update.h).
 * Returns 0; PX_EV_START returns -1 if a record is corrupt (the driver must
 * not go on).  An out-of-memory condition sets u->oom; the driver should
 * fail-stop (restart from the log).
 */
int px_replica_step(struct px_replica *r, const struct px_event *ev, struct px_update *u);

/* Introspection for drivers, tests and the simulator. */
uint8_t px_replica_leader(const struct px_replica *r); /* trusted leader */
/* The ballot this replica leads at, 0 while it does not lead. */
uint32_t px_replica_ballot(const struct px_replica *r);
const struct px_replica_stats *px_replica_stats(const struct px_replica *r);
/* Outcome this replica knows for gid (decided or tombstone): PX_OUT_*. */
int px_replica_outcome(const struct px_replica *r, struct px_str gid);
size_t px_replica_live(const struct px_replica *r);       /* live gids */
/* One live gid (for diagnostics), or NULL. */
const char *px_replica_some_live(const struct px_replica *r);
size_t px_replica_tombstones(const struct px_replica *r); /* forgotten gids kept */
/* 1 if this replica holds anything for gid: a live txn or a tombstone. */
int px_replica_knows(const struct px_replica *r, struct px_str gid);
/* The durable GC horizon: unknown gids born before it are refused (ms). */
uint64_t px_replica_horizon(const struct px_replica *r);

/*
 * Checkpoint: append to u->rec the records that rebuild this replica's
 * durable state (round, horizon, promises, accepted values, decisions,
 * tombstones).  Starting a replica from these records alone gives the same
 * acceptor state as replaying the whole log.  Call it between batches,
 * after the batch's records are synced; the records it emits may then
 * replace every segment written so far.  Returns 0, or -1 out of memory.
 */
int px_replica_snapshot(const struct px_replica *r, struct px_update *u);

/* Record types of the log (coordinator/px_rec.c). */
enum px_rec_type {
	PX_REC_PROMISE = 1,  /* gid, rm, mbal */
	PX_REC_ACCEPT = 2,   /* gid, rm, bal, val, pset */
	PX_REC_DECISION = 3, /* gid, outcome, pset */
	PX_REC_FORGET = 4,   /* gid, outcome */
	PX_REC_HORIZON = 5,  /* horizon (ms) */
	PX_REC_ROUND = 6     /* highest leader round this replica may have used */
};

/*
 * Read one log record far enough to tell what it says about an outcome:
 * returns its PX_REC_* type, or 0 if it does not decode.  For a DECISION or
 * a FORGET, *gid (pointing into p) and *outcome (PX_OUT_*) are set.  For
 * tools that read a stopped replica's log (--dump-decisions).
 */
int px_rec_peek(const uint8_t *p, size_t len, struct px_str *gid, uint8_t *outcome);

#endif
