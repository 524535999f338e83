/*
 * paxcommit.h - the paxcommit client library.
 *
 * This part talks to the coordinator replicas: it finds the leader, asks
 * it to commit or roll back a distributed transaction (a gid and its
 * participant set), waits for the decision with a deadline, and asks any
 * replica for a gid's status.  (Running statements on the participants,
 * pc_begin / pc_exec, arrives with the participant agent.)
 *
 * Outcomes:
 *   PC_COMMITTED  the coordinators decided COMMIT (with PC_WAIT_APPLIED:
 *                 and every participant has committed it)
 *   PC_ABORTED    they decided ABORT; pc_result.reason may say why
 *   PC_UNKNOWN    the deadline passed first.  The transaction is NOT lost:
 *                 the coordinators still finish it (abort if nobody can
 *                 commit it in the transaction timeout), and pc_status()
 *                 tells the outcome later.
 * Asking for a decision is idempotent, so the library re-sends a request to
 * another replica whenever one is silent or dead; it never re-executes a
 * transaction.
 *
 * Ownership and threads: a struct pc_conn owns its own ZeroMQ context and
 * sockets.  One connection must be used by one thread at a time; separate
 * connections are independent and may be used from different threads at
 * once.  Every pointer argument is borrowed for the duration of the call;
 * results are copied into caller-owned structs.  Nothing here keeps a
 * global state.
 *
 * Errors: functions return 0 when *res holds an outcome, or a negative
 * PC_E* code; pc_conn_errmsg() then says why in words.
 */
#ifndef PAXCOMMIT_H
#define PAXCOMMIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct pc_conn;

enum pc_outcome { PC_COMMITTED = 1, PC_ABORTED = 2, PC_UNKNOWN = 3 };

/* Status of a gid as pc_status() finds it. */
enum pc_status {
	PC_ST_COMMITTED = 1,
	PC_ST_ABORTED = 2,
	PC_ST_UNDECIDED = 3,   /* known and not decided yet (or only some replicas answered) */
	PC_ST_UNKNOWN_GID = 4, /* a majority of replicas has no record of it */
	PC_ST_NO_ANSWER = 5    /* no replica answered before the deadline */
};

/* How long pc_commit_gid waits: until the decision is durable at a majority
 * of replicas, or (default) until every participant has applied it. */
enum pc_wait { PC_WAIT_DECIDED = 1, PC_WAIT_APPLIED = 2 };

enum pc_err {
	PC_OK = 0,
	PC_EINVAL = -1,  /* bad argument (gid, participant set, ...) */
	PC_ECONFIG = -2, /* configuration file unreadable or invalid */
	PC_EREFUSED = -3, /* the coordinators refused the request (reason in errmsg) */
	PC_ENET = -4,    /* ZeroMQ failure */
	PC_ENOMEM = -5
};

#define PC_REASON_MAX 512

struct pc_result {
	int outcome;              /* enum pc_outcome / enum pc_status */
	int leader;               /* the leader the last reply named, or -1 */
	char reason[PC_REASON_MAX + 1];
};

/*
 * Connect to the cluster described by a configuration file (README.md,
 * "Cluster configuration").  Does not wait for any replica: connections are
 * made in the background and requests find a live one.  Returns 0 and
 * *out, or a PC_E* code with a message in err (errcap bytes).
 */
int pc_connect(const char *config_path, struct pc_conn **out, char *err, size_t errcap);
/* Close the connection and free it; sets *c to NULL.  NULL-safe. */
void pc_conn_close(struct pc_conn **c);
/* Message of the last error on c ("" if none); valid until the next call. */
const char *pc_conn_errmsg(const struct pc_conn *c);

/* The cluster name (gid prefix) and the participant id of a name (0 if no
 * such participant). */
const char *pc_cluster_name(const struct pc_conn *c);
uint16_t pc_participant_id(const struct pc_conn *c, const char *name);

/* Make a new gid for this connection into buf (at least 200 bytes).
 * Returns its length, or 0 if cap is too small. */
size_t pc_new_gid(struct pc_conn *c, char *buf, size_t cap);

/*
 * Ask the coordinators to commit gid, whose participants are the ids
 * rms[0..nrms) (any order, no duplicates), and wait at most timeout_ms for
 * the outcome.  Returns 0 with res->outcome set, or PC_EINVAL / PC_EREFUSED
 * (e.g. an unknown participant) / PC_ENET.
 */
int pc_commit_gid(struct pc_conn *c, const char *gid, const uint16_t *rms, size_t nrms, int wait,
		  uint32_t timeout_ms, struct pc_result *res);
/* The same, asking for ABORT; res->outcome is PC_ABORTED unless the
 * transaction was already decided COMMIT (or PC_UNKNOWN at the deadline). */
int pc_rollback_gid(struct pc_conn *c, const char *gid, const uint16_t *rms, size_t nrms, uint32_t timeout_ms,
		    struct pc_result *res);
/* Ask every replica about gid; returns 0 with res->outcome an enum
 * pc_status, or a PC_E* code. */
int pc_status(struct pc_conn *c, const char *gid, uint32_t timeout_ms, struct pc_result *res);

/* Ask only replica `replica` (0..n-1) about gid: its own knowledge.  For
 * tools and tests that compare replicas. */
int pc_status_at(struct pc_conn *c, int replica, const char *gid, uint32_t timeout_ms, struct pc_result *res);

/* Which replica leads, as seen by replica `replica` (-1: none or no answer
 * within timeout_ms).  For tools and tests. */
int pc_leader_seen_by(struct pc_conn *c, int replica, uint32_t timeout_ms);

#ifdef __cplusplus
}
#endif

#endif
