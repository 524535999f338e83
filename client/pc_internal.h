/*
 * pc_internal.h - what the client library's files share (not installed).
 */
#ifndef PC_INTERNAL_H
#define PC_INTERNAL_H

#include <stdint.h>

#include "paxcommit.h"
#include "px_config.h"
#include "px_keys.h"
#include "px_net.h"

#include <zmq.h>

struct px_msg;

#define NREP_MAX 5 /* coordinator replicas at most (px_config.h) */

struct pc_conn {
	struct px_config cfg;
	void *zctx;
	struct px_net *net; /* DEALERs to every replica and every participant */
	struct px_keyring keys; /* security = curve: this client's key pair, the servers' keys */
	uint64_t client_id;     /* the gids' client field: with CURVE, its key id (px_auth.h) */
	uint64_t seq;           /* starts at a random value: connections that share a key share client_id */
	uint64_t req;
	int leader; /* last known leader (or the follower that passes our
		     * requests on to it, while it is silent to us), or -1 */
	uint64_t silent_at[NREP_MAX]; /* when each replica last failed to answer */
	/* When each replica last failed to send the 2b's of an XA-style
	 * commit's votes that went to it (0: it sent them): the next votes
	 * go to a majority without it, for PC_SILENT_MS. */
	uint64_t no2b_at[NREP_MAX];
	int real_leader;    /* while `leader` is such a follower: the leader, else -1 */
	uint64_t via_since; /* since when (the leader is tried again after PC_SILENT_MS) */
	uint32_t exec_timeout_ms, commit_timeout_ms;
	zmq_pollitem_t *items; /* room for every socket of net */
	size_t items_cap;
	/* While a commit waits for its outcome, frames that are not OUTCOME
	 * (statement results of pc_exec_commit) go here when set. */
	void (*side)(void *ctx, struct px_addr from, const struct px_msg *m);
	void *side_ctx;
	int side_done; /* set by side: the outcome is known (commit) */
	/* Why a participant voted `aborted` (its VOTE to us), for the gid of
	 * the commit under way: "participant NAME: REASON"; "" if none came. */
	char vote_why[PC_REASON_MAX + 1];
	/* An XA-style commit's ballot-0 votes (frames back to back), sent
	 * again to every replica whenever the request is sent again. */
	const uint8_t *votes;
	size_t votes_len;
	char err[600];
};

/* pc_decide flags: the caller sent PREPARE to every participant itself;
 * every participant ran a statement of this connection's, so it
 * acknowledges the decision here too (wait=applied needs no OUTCOME). */
#define PC_DECIDE_PREPARE_SENT 1
#define PC_DECIDE_ACKS_HERE 2
/* Send the request only after PC_ASK_LEADER_MS (the answer usually comes
 * another way: the acks, or an XA-style commit's 2b). */
#define PC_DECIDE_ASK_LATER 4
/* With both flags, pc_decide sends the commit request only if the acks have
 * not all come within this long. */
#define PC_ASK_LEADER_MS 200u
/* A leader that did not answer is gone around (through a follower, which
 * passes requests on) for this long before it is tried again. */
#define PC_SILENT_MS 2000u
/* Vote val (PX_VAL_*) at ballot 0 for every participant of the XA-style
 * gid, then commit (prepared) or roll it back (aborted) as pc_decide does;
 * a commit is also learned from a majority of acceptors' 2b. */
int pc_xa_decide(struct pc_conn *c, const char *gid, const uint16_t *rms, size_t nrms, uint8_t val,
		 struct pc_result *res);
/* The XA-style gid's outcome is applied at every participant: ack it. */
void pc_xa_ack(struct pc_conn *c, const char *gid, const uint16_t *rms, size_t nrms, uint8_t outcome);
size_t pc_new_gid_xa(struct pc_conn *c, char *buf, size_t cap);
/* Commit (abort == 0) or roll back gid, with retries (pc_commit_gid). */
int pc_decide(struct pc_conn *c, const char *gid, const uint16_t *rms, size_t nrms, int wait, int abort, int flags,
	      uint32_t timeout_ms, struct pc_result *res);
uint64_t pc_mono_ms(void);
uint64_t pc_wall_ms(void);
/* Wait until a socket is readable or `until` (monotonic ms); returns 0 or
 * a PC_E* code. */
int pc_poll(struct pc_conn *c, uint64_t until);
/* Set c's error message; returns code. */
int pc_fail(struct pc_conn *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
