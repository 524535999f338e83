/*
 * px_internal.h - state shared by the replica core's files:
 *   px_replica.c   lifecycle, step dispatch, election (Omega), timers, restart
 *   px_acceptor.c  the acceptor: 1a, 2a, decision, forget, sync, horizon
 *   px_learner.c   the leader/learner: 2b, 1b, decide, recover, client requests
 *   px_rec.c       log record encoding
 */
#ifndef PX_INTERNAL_H
#define PX_INTERNAL_H

#include "px_map.h"
#include "px_replica.h"

#define PX_TALLY 3u  /* ballots counted per instance at once */
#define PX_WAITERS 4u /* clients waiting on one gid */

/* Acceptor state of one instance (gid, rm).  Initially (0, none). */
struct px_inst {
	uint16_t rm;
	uint32_t mbal;
	uint32_t vbal;
	uint8_t vval; /* PX_VAL_NONE: nothing accepted */
};

/* 2b count for one (instance, ballot): at most one value per ballot > 0,
 * and the acceptors refuse a second value at ballot 0. */
struct px_tally {
	uint32_t bal;
	uint8_t val; /* PX_VAL_NONE: slot unused */
	uint8_t mask; /* acceptors that accepted (bal, val) */
};

/* 2b count of `aborted` for one (rm, ballot, participant set). */
struct px_atally {
	uint16_t rm;
	uint32_t bal;
	uint64_t psh; /* hash of the participant set */
	uint8_t mask;
};
#define PX_ATALLY 4u

struct px_waiter {
	struct px_addr to;
	uint64_t req;
	uint8_t wait; /* PX_WAIT_*; 0: a status request */
	uint8_t quiet; /* PX_WAIT_ACKS_TO_CLIENT: no reply to an applied commit */
};

/* Leader/learner state of one gid; only while this replica leads. */
struct px_lead {
	struct px_pset pset;  /* the participant set as the leader sees it; never
				 written into the acceptor's own (px_txn.pset) */
	uint64_t since;       /* when this leader started tracking the gid */
	uint64_t next_resend; /* next retransmission */
	uint8_t prepares;     /* PREPAREs sent (from the second, through the followers too) */
	struct px_tally tally[PX_PSET_MAX][PX_TALLY]; /* by pset index */
	struct px_atally ab[PX_ATALLY]; /* aborts, whatever set they name */
	uint32_t rbal;        /* recovery ballot in use; 0: not recovering */
	uint8_t promised[PX_PSET_MAX]; /* acceptors that promised rbal */
	uint8_t below[PX_PSET_MAX];    /* acceptors below horizon, unknown gid */
	uint8_t took[PX_PSET_MAX];     /* a vote a follower's 2b reported passed on (take_relayed_vote) */
	uint32_t hbal[PX_PSET_MAX];    /* highest accepted ballot among 1b */
	uint8_t hval[PX_PSET_MAX];
	uint8_t cmask;                 /* acceptors refusing our set for `cpset` */
	uint8_t gaveup;                /* FORGET without outcome sent */
	struct px_pset cpset;
	uint8_t sent2a[PX_PSET_MAX];
	uint8_t probe_ok, probe_below; /* whole-gid promises at rbal with no
					  participant set / below the horizon */
	uint64_t acked;       /* decision acks, bit per pset index */
	uint16_t asker_rm;    /* agent that asked about an unknown gid */
	uint8_t has_asker;
	uint8_t client_asked; /* a client asked about it, unknown here past txn_timeout_ms */
	uint8_t requested;    /* a commit/rollback request was seen */
	uint8_t abort_req;    /* it was a rollback */
	uint8_t nwait;
	struct px_waiter w[PX_WAITERS];
};

struct px_txn {
	struct px_key k; /* first member: px_map key */
	uint64_t birth;  /* from the gid */
	uint64_t seq;    /* creation order here, for SYNC cursors */
	struct px_pset pset; /* n == 0: not known yet */
	uint8_t outcome;     /* PX_OUT_NONE until learned */
	uint32_t gmbal;      /* promise for every instance (1a with PX_RM_ANY) */
	uint8_t acc_known;   /* this acceptor holds (or logged) state for it */
	uint8_t ninst;
	struct px_inst inst[PX_PSET_MAX];
	struct px_lead *lead;
	struct px_quota *quota; /* its client's count, or NULL (malformed gid) */
};

/* Live gids per client field of the gid (max_live_client). */
struct px_quota {
	struct px_key k; /* the client field, 16 hex digits */
	uint32_t n;
};

/* A forgotten gid: blocks an old duplicated message from reviving it. */
struct px_tomb {
	struct px_key k;
	uint64_t birth;
	uint8_t outcome;
};

#define PX_RELAYS 256u      /* client requests passed on at once, at most */
#define PX_RELAY_MS 10000u  /* how long the leader's answer is passed back */

/* Late-acking participants a leader remembers (struct px_replica, late_ack). */
#define PX_LATE_ACKS 16
/* ... for this long after a late ack. */
#define PX_LATE_ACK_MS 10000u

struct px_replica {
	struct px_replica_config cfg;
	struct px_replica_stats st;
	uint64_t now;
	int started;
	uint64_t defer_off_until; /* no deferred first votes before (px_acceptor.c) */
	/* Participants whose ack of a decision was late lately (px_learner.c,
	 * send_decision): their decisions go through the followers too. */
	struct {
		uint16_t rm;
		uint64_t until;
	} late_ack[PX_LATE_ACKS];

	/* election */
	uint64_t last_heard[PX_REPLICAS_MAX];
	uint8_t peer_hears[PX_REPLICAS_MAX];  /* whom each peer heard (its last heartbeat) */
	uint8_t peer_heard_by[PX_REPLICAS_MAX]; /* who each peer said hears it */
	uint8_t peer_leader[PX_REPLICAS_MAX]; /* whom each peer trusted (its last heartbeat) */
	/* Client requests this follower passed on to its leader, by gid hash:
	 * the leader's OUTCOME comes back here and goes on to the client (a
	 * client that cannot reach the leader goes through a follower). */
	struct px_relay {
		uint64_t gh;
		uint64_t until;
		struct px_addr to;
	} relays[PX_RELAYS];
	uint8_t had_quorum, started_quorum;   /* CheckQuorum state, for the log and stats */
	uint8_t leader;      /* trusted leader, PX_NO_LEADER before start */
	uint64_t next_hb;
	uint64_t round;      /* leader round (durable once logged) */
	uint32_t ballot;     /* current leader ballot, 0 when not leading */
	uint8_t ballot_spent; /* a gid that got a 2a of ours at `ballot` was dropped:
			       * it may come back (a late message, an agent asking
			       * after its tombstone went), and recovering it again
			       * at this ballot could propose a second value.  The
			       * next recovery takes a fresh ballot first. */
	uint32_t maxbal_seen;
	uint64_t next_sync;

	/* acceptor */
	struct px_map txns;  /* gid -> struct px_txn */
	struct px_map tombs; /* gid -> struct px_tomb */
	struct px_map quotas; /* client field -> struct px_quota */
	uint64_t next_seq;
	uint64_t horizon;         /* durable GC horizon (ms of gid birth) */
	uint64_t horizon_pending; /* logged, not yet durable */
	uint64_t horizon_seq;     /* record seq that makes it durable */
	uint64_t durable_seq;     /* last PX_EV_PERSISTED */

	/* future gids: one log line a second at most (px_future) */
	uint64_t future_logged_at;
	uint64_t future_quiet; /* refusals not logged since */
};

/* px_rec.c */
struct px_rec {
	uint8_t type;
	struct px_str gid;
	uint16_t rm;
	uint32_t bal;
	uint8_t val;
	uint8_t outcome;
	struct px_pset pset;
	uint64_t u64; /* HORIZON: horizon; ROUND: round */
};
int px_rec_put(struct px_update *u, const struct px_rec *rec);
/* Mark the record put last lazy: no sync of its own (struct px_recref). */
void px_rec_lazy(struct px_update *u);
int px_rec_get(const uint8_t *p, size_t len, struct px_rec *rec);

/* px_replica.c */
int px_quorum(const struct px_replica *r);
void px_log(struct px_replica *r, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;
struct px_txn *px_txn_get(struct px_replica *r, struct px_str gid);
struct px_txn *px_txn_new(struct px_replica *r, struct px_str gid, uint64_t birth);
void px_txn_drop(struct px_replica *r, struct px_txn *t);
/* 1 if the client field of gid already has max_live_client live gids. */
int px_client_full(const struct px_replica *r, struct px_str gid);
struct px_tomb *px_tomb_get(struct px_replica *r, struct px_str gid);
void px_tomb_add(struct px_replica *r, const struct px_key *k, uint64_t birth, uint8_t outcome);
int px_gid_birth(struct px_replica *r, struct px_str gid, uint64_t *birth);
uint64_t px_future(struct px_replica *r, struct px_str gid, uint64_t birth, const char *what);
int px_is_leader(const struct px_replica *r);
void px_send_replicas(struct px_replica *r, struct px_update *u, const struct px_msg *m, int held);
int px_pset_known(const struct px_replica *r, const struct px_pset *s);
void px_send_agents(struct px_replica *r, struct px_update *u, const struct px_pset *s,
		    const struct px_msg *m);
struct px_str px_txn_gid(const struct px_txn *t);
void px_bump_round(struct px_replica *r, struct px_update *u, uint32_t above);

/* px_acceptor.c */
void px_acc_1a(struct px_replica *r, struct px_update *u, struct px_addr from, const struct px_m1a *m);
void px_acc_2a(struct px_replica *r, struct px_update *u, struct px_addr from, const struct px_m2a *m);
void px_acc_decision(struct px_replica *r, struct px_update *u, const struct px_mdecision *m);
void px_acc_forget(struct px_replica *r, struct px_update *u, const struct px_mforget *m);
void px_acc_sync_req(struct px_replica *r, struct px_update *u, struct px_addr from,
		     const struct px_msync_req *m);
void px_acc_status(struct px_replica *r, struct px_update *u, struct px_addr from,
		   const struct px_mstatus_req *m);
void px_acc_tick(struct px_replica *r, struct px_update *u);
void px_acc_persisted(struct px_replica *r);
int px_acc_replay(struct px_replica *r, const struct px_rec *rec);
struct px_inst *px_inst_get(struct px_txn *t, uint16_t rm, int create);

/* px_learner.c */
void px_lrn_2b(struct px_replica *r, struct px_update *u, struct px_addr from, const struct px_m2b *m);
void px_lrn_1b(struct px_replica *r, struct px_update *u, struct px_addr from, const struct px_m1b *m);
void px_lrn_ack(struct px_replica *r, struct px_update *u, struct px_addr from,
		const struct px_mdecision_ack *m);
void px_lrn_sync(struct px_replica *r, struct px_update *u, struct px_addr from, const struct px_msync *m);
/* A leader's OUTCOME for a request this follower passed on: to its client. */
void px_lrn_relay_outcome(struct px_replica *r, struct px_update *u, struct px_addr from, const struct px_msg *m);
void px_lrn_commit(struct px_replica *r, struct px_update *u, struct px_addr from, uint64_t req,
		   struct px_str gid, const struct px_pset *pset, uint8_t wait, int abort);
void px_lrn_learn(struct px_replica *r, struct px_update *u, struct px_txn *t, uint8_t outcome,
		  const char *how);
void px_lrn_tick(struct px_replica *r, struct px_update *u);
void px_lrn_asked(struct px_replica *r, struct px_update *u, struct px_addr from, struct px_str gid, uint64_t birth);
void px_lead_begin(struct px_replica *r, struct px_update *u);
void px_lead_end(struct px_replica *r, struct px_update *u);
struct px_lead *px_lead_of(struct px_replica *r, struct px_txn *t);
void px_reply(struct px_update *u, struct px_addr to, uint64_t req, struct px_str gid, uint8_t status,
	      uint8_t leader, const char *reason);

#endif
