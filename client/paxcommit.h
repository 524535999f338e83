/*
 * paxcommit.h - the paxcommit client library.
 *
 * An application runs one distributed transaction like this:
 *
 *     struct pc_txn *t;
 *     pc_begin(conn, &t);                        no round trip: makes a gid
 *     pc_exec(t, "checking", "UPDATE ...", n, params, &rows);   on participant
 *     pc_exec(t, "savings", "UPDATE ...", n, params, &rows);    ... and another
 *     pc_commit(t, PC_WAIT_APPLIED, &res);       atomic across both
 *     pc_txn_free(&t);
 *
 * Statements run inside a PostgreSQL transaction on each participant's
 * agent; pc_commit asks the coordinator replicas to decide (Paxos Commit),
 * finding the leader and re-asking another replica when one dies.  The
 * lower-level pc_commit_gid / pc_rollback_gid / pc_status talk to the
 * coordinators about any gid.
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
	PC_ENOMEM = -5,
	PC_ESQL = -6,    /* the statement failed in PostgreSQL: see pc_rows_sqlstate/error;
			    the transaction is doomed (pc_commit will roll it back) */
	PC_EBUSY = -7,   /* the participant has no free connection: roll back, retry later */
	PC_ETIMEOUT = -8, /* no answer in time; the transaction is doomed */
	PC_EDOOMED = -9  /* an earlier statement failed: only rollback is possible */
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
 * *out, or a PC_E* code with a message in err (errcap bytes).  All the
 * connections of a process share one ZeroMQ context (one I/O thread); a
 * process that forks uses connections made after the fork in the child.
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

/* Default deadlines of pc_exec and pc_commit / pc_rollback (ms; both 30000
 * by default). */
void pc_set_timeouts(struct pc_conn *c, uint32_t exec_ms, uint32_t commit_ms);

/* ------------------------------------------------ transactions */

struct pc_txn;
struct pc_rows;

/*
 * Begin a transaction: makes its gid, sends nothing.  *out is the
 * caller's; free it with pc_txn_free() after pc_commit / pc_rollback (or
 * to abandon it: the participants roll an abandoned transaction back after
 * their idle timeout).  A transaction belongs to its connection and is used
 * from that connection's thread.
 */
int pc_begin(struct pc_conn *c, struct pc_txn **out);
void pc_txn_free(struct pc_txn **t);
const char *pc_txn_gid(const struct pc_txn *t);

/*
 * Run one statement on the named participant, with nparams text parameters
 * ($1, $2, ...; NULL for SQL NULL).  The first statement on a participant
 * opens its PostgreSQL transaction.  Returns 0 and, if rows is not NULL,
 * *rows (the result, possibly no rows; free with pc_rows_free), or:
 *   PC_ESQL     PostgreSQL refused it; *rows (if asked) holds the SQLSTATE
 *               and message; the transaction is doomed;
 *   PC_EBUSY    the participant has no free connection: doomed;
 *   PC_ETIMEOUT no answer within the exec timeout: doomed;
 *   PC_EDOOMED  an earlier statement failed;
 *   PC_EINVAL   unknown participant, or the statement or a parameter is
 *               over its size limit (1 MiB each, 128 parameters): nothing
 *               was sent, but the transaction is doomed all the same (a
 *               commit would leave out a statement the caller asked for).
 * Statements on one participant run in order; the library never sends a
 * statement twice.
 */
int pc_exec(struct pc_txn *t, const char *participant, const char *sql, int nparams, const char *const *params,
	    struct pc_rows **rows);

/* One statement of pc_exec_parallel: inputs, then rc (0 or a PC_E* code as
 * pc_exec returns) and rows (the caller frees them with pc_rows_free). */
struct pc_stmt {
	const char *participant;
	const char *sql;
	int nparams;
	const char *const *params;
	int rc;
	struct pc_rows *rows;
};

/*
 * Run n statements, each on a different participant, at the same time:
 * all are sent, then all answers awaited (one exec timeout).  Returns 0 if
 * every one succeeded, else the first failed statement's code
 * (pc_conn_errmsg describes the last failure); each stmts[i].rc tells its
 * own.  Any failure dooms the
 * transaction, as with pc_exec.
 */
int pc_exec_parallel(struct pc_txn *t, struct pc_stmt *stmts, int n);

/*
 * Commit: asks the coordinators to decide, waits (commit timeout) for the
 * outcome, PC_WAIT_APPLIED by default (0).  A doomed transaction is rolled
 * back instead and reports PC_ABORTED with the failed statement's error as
 * reason.  A transaction that ran no statement commits trivially.  Returns
 * 0 with res->outcome, or a PC_E* code (nothing was decided by this call).
 */
int pc_commit(struct pc_txn *t, int wait, struct pc_result *res);
/*
 * Run n statements (each on a different participant, at once) and commit,
 * in one round trip: the statements and the PREPAREs leave together, the
 * way CockroachDB's parallel commits overlap the last writes with the
 * commit.  The caller commits whatever the statements return: a statement
 * that fails makes its participant vote `aborted`, so the outcome is
 * PC_ABORTED with that statement's error as res->reason.  Returns like
 * pc_commit; each stmts[i].rc and rows are filled when the statement's
 * result came before the outcome (with PC_COMMITTED and no result seen, rc
 * is 0 and rows NULL: the statement ran).  PC_EINVAL for bad arguments
 * (nothing sent; the transaction is doomed).
 */
int pc_exec_commit(struct pc_txn *t, struct pc_stmt *stmts, int n, int wait, struct pc_result *res);
/* Roll back everywhere; res->outcome is PC_ABORTED (or PC_COMMITTED if a
 * commit already won, or PC_UNKNOWN at the deadline). */
int pc_rollback(struct pc_txn *t, struct pc_result *res);

/*
 * XA-style transactions: the application keeps its own libpq connections.
 * It runs each participant's statements and PREPARE TRANSACTION itself;
 * paxcommit only decides.  The client casts each participant's vote, so
 * the participants' agents never vote on such a transaction (they only
 * finish what the application leaves prepared).
 *
 *   pc_begin_xa(pc, &t);
 *   pc_xa_name(t, "checking", name, sizeof(name));   for each participant
 *   BEGIN; ...; PREPARE TRANSACTION '<name>'          on its connection
 *   pc_xa_commit(t, &res)   (or pc_xa_rollback if a PREPARE failed)
 *   COMMIT PREPARED '<name>' (or ROLLBACK PREPARED)   on each connection
 *   pc_xa_done(t)
 *
 * pc_exec, pc_commit and the like refuse an XA-style transaction
 * (PC_EINVAL), and the pc_xa_ calls refuse any other.
 */
int pc_begin_xa(struct pc_conn *c, struct pc_txn **t);
/* The prepared-transaction name of participant's part of t, into buf (at
 * most 200 bytes, [A-Za-z0-9_] only); adds participant to t.  Returns 0 or
 * PC_EINVAL (unknown participant, buf too small, too many participants). */
int pc_xa_name(struct pc_txn *t, const char *participant, char *buf, size_t cap);
/* Every participant named is prepared: vote for them and wait (commit
 * timeout) for the decision.  Returns like pc_commit; with PC_COMMITTED run
 * COMMIT PREPARED on every participant, with PC_ABORTED ROLLBACK PREPARED
 * (where prepared); with PC_UNKNOWN nothing (the coordinators finish it,
 * and the agents apply it).  The decision is durable at a majority of
 * replicas: it no longer depends on this process. */
int pc_xa_commit(struct pc_txn *t, struct pc_result *res);
/* Vote `aborted` for every participant named: the outcome is PC_ABORTED.
 * Then roll back each participant's work (ROLLBACK, or ROLLBACK PREPARED). */
int pc_xa_rollback(struct pc_txn *t, struct pc_result *res);
/* The outcome is applied on every participant: tell the coordinators, so
 * that they forget t at once.  Optional: without it, the participants'
 * agents check and finish t after a retransmission time.  Call it only
 * once COMMIT PREPARED (or ROLLBACK PREPARED) succeeded on every
 * participant: the coordinators then forget t, and a participant still
 * holding it prepared long after (past the GC horizon) would be rolled back
 * by presumed abort.  If one failed, do not call it: the agents finish it. */
int pc_xa_done(struct pc_txn *t);

/* Result accessors.  Strings stay valid until pc_rows_free. */
int pc_rows_ncols(const struct pc_rows *r);
int pc_rows_nrows(const struct pc_rows *r);
const char *pc_rows_colname(const struct pc_rows *r, int col);
/* The value as text, or NULL for SQL NULL (or out of range). */
const char *pc_rows_value(const struct pc_rows *r, int row, int col);
/* For PC_ESQL: the five-character SQLSTATE and PostgreSQL's message. */
const char *pc_rows_sqlstate(const struct pc_rows *r);
const char *pc_rows_error(const struct pc_rows *r);
void pc_rows_free(struct pc_rows **r);

#ifdef __cplusplus
}
#endif

#endif
