/*
 * px_msg.h - the one wire message set of paxcommit.
 *
 * Every process (coordinator replica, participant agent, client) speaks
 * these messages.  A frame is
 *
 *     header:  magic u16 | version u8 | type u8 | length u32   (8 bytes, LE)
 *     payload: `length` bytes of fixed-width little-endian fields and
 *              length-prefixed strings (u32 length, then bytes, no NUL)
 *
 * The decoded form (struct px_msg) holds *views* into the frame for every
 * string: a decoded message is valid only as long as the buffer it was
 * decoded from, and the decoder never allocates.  The encoder writes into
 * a caller buffer and never allocates either.
 *
 * Field order per type is documented at each struct below; px_msg.c is the
 * only place that knows it.
 */
#ifndef PX_MSG_H
#define PX_MSG_H

#include <stddef.h>
#include <stdint.h>

#define PX_MAGIC 0x5850u /* bytes 'P' 'X' on the wire */
#define PX_VERSION 1u
#define PX_HDR_LEN 8u

/* Limits.  Every one is enforced by the decoder and the encoder. */
#define PX_GID_MAX 199u         /* bytes; PostgreSQL requires gid < 200 */
#define PX_PSET_MAX 32u         /* participants in one transaction */
#define PX_REASON_MAX 512u      /* human-readable reason / error text */
#define PX_SQL_MAX (1u << 20)   /* one statement */
#define PX_PARAMS_MAX 128u      /* parameters of one statement */
#define PX_PARAM_MAX (1u << 20) /* one parameter value */
#define PX_SQLSTATE_LEN 5u
#define PX_COLS_MAX 1024u
#define PX_SYNC_MAX 64u         /* entries in one SYNC reply */
#define PX_FRAME_MAX (32u << 20) /* whole frame, header included */
#define PX_NULL_LEN 0xFFFFFFFFu /* string length meaning SQL NULL */
#define PX_NAME_MAX 63u         /* cluster and participant names (PONG) */

enum px_type {
	/* Paxos Commit between agents and coordinator replicas */
	PX_MSG_1A = 1,        /* leader -> acceptors */
	PX_MSG_1B = 2,        /* acceptor -> leader */
	PX_MSG_2A = 3,        /* agent (ballot 0) or leader (ballot > 0) -> acceptors */
	PX_MSG_2B = 4,        /* acceptor -> leader (and client) */
	PX_MSG_DECISION = 5,  /* leader -> agents and acceptors */
	PX_MSG_DECISION_ACK = 6, /* agent -> leader */
	PX_MSG_FORGET = 7,    /* leader -> acceptors: every agent acknowledged */
	/* replica to replica */
	PX_MSG_HEARTBEAT = 8,
	PX_MSG_SYNC_REQ = 9,  /* new leader -> acceptors: list your live gids */
	PX_MSG_SYNC = 10,     /* acceptor -> leader */
	/* client <-> coordinator */
	PX_MSG_COMMIT_REQ = 11,
	PX_MSG_ROLLBACK_REQ = 12,
	PX_MSG_STATUS_REQ = 13, /* also sent by agents during recovery */
	PX_MSG_OUTCOME = 14,    /* reply to the three requests above */
	/* client / leader <-> agent */
	PX_MSG_EXEC = 15,
	PX_MSG_EXEC_RESULT = 16,
	PX_MSG_PREPARE = 17,
	PX_MSG_VOTE = 18,
	/* anyone -> replica or agent: who answers at this endpoint? */
	PX_MSG_PING = 19,
	PX_MSG_PONG = 20,
	PX_MSG_TYPE_MAX_ = 21 /* not a type */
};

/* Value of one Paxos instance (gid, participant). */
enum px_val { PX_VAL_NONE = 0, PX_VAL_PREPARED = 1, PX_VAL_ABORTED = 2 };

/* Outcome of a transaction. */
enum px_outcome {
	PX_OUT_NONE = 0,   /* not decided (or not known here) */
	PX_OUT_COMMIT = 1,
	PX_OUT_ABORT = 2
};

/* Flags in 1b and 2b. */
enum px_acc_flag {
	PX_ACC_OK = 1u << 0,           /* promise given (1b) / value accepted (2b) */
	PX_ACC_DECIDED = 1u << 1,      /* `outcome` holds the decision */
	PX_ACC_FORGOTTEN = 1u << 2,    /* gid is garbage-collected (tombstone) */
	PX_ACC_BELOW_HORIZON = 1u << 3, /* gid unknown and older than the GC horizon */
	PX_ACC_PSET_CONFLICT = 1u << 4, /* 2a named a different participant set */
	PX_ACC_VAL_CONFLICT = 1u << 5   /* second, different value at ballot 0 */
};

/* Status in OUTCOME replies. */
enum px_status {
	PX_ST_COMMITTED = 1,
	PX_ST_ABORTED = 2,
	PX_ST_UNDECIDED = 3,  /* known, not decided yet */
	PX_ST_UNKNOWN_GID = 4, /* a majority has no record: forgotten or never seen */
	PX_ST_NOT_LEADER = 5, /* ask `leader` instead */
	PX_ST_BUSY = 6,       /* too many undecided transactions: retry later */
	PX_ST_ERROR = 7       /* see reason */
};

/* Wait level of a commit request, with an optional flag in the same byte. */
enum px_wait { PX_WAIT_DECIDED = 1, PX_WAIT_APPLIED = 2 };
/* COMMIT_REQ wait flag: the client sent PREPARE to every participant
 * itself, so the leader sends its own only if no decision comes in time. */
#define PX_WAIT_PREPARE_SENT 0x80u
/* COMMIT_REQ wait flag, with PX_WAIT_APPLIED: every participant acknowledges
 * to the client itself (it sent them its statements), so the leader sends
 * no OUTCOME for a commit that all participants acknowledged.  A client
 * that asks again (it missed an ack) asks without the flag. */
#define PX_WAIT_ACKS_TO_CLIENT 0x40u

/* Result status of EXEC. */
enum px_exec_status {
	PX_EXEC_OK = 1,    /* statement ran; rows (maybe zero) follow */
	PX_EXEC_SQLERR = 2, /* PostgreSQL error: sqlstate + reason; the gid is doomed */
	PX_EXEC_BUSY = 3,  /* no free connection */
	PX_EXEC_ERROR = 4  /* agent-side error (limits, unknown gid state, ...) */
};

/* A view of bytes inside a frame.  len == PX_NULL_LEN means SQL NULL (only
 * where a field says it is nullable).  `p` is not NUL-terminated. */
struct px_str {
	const char *p;
	uint32_t len;
};

/* Participant set: ids strictly ascending, 1..PX_PSET_MAX entries on the
 * wire (n == 0 only where a field says "may be empty"). */
struct px_pset {
	uint16_t n;
	uint16_t rm[PX_PSET_MAX];
};

/*
 * Payloads.  Wire order is the struct's field order; u8/u16/u32/u64 are
 * little-endian; px_str is u32 length + bytes; px_pset is u16 count + count
 * u16 ids.
 */

/* 1A: gid, rm u16, bal u32, pset (may be empty: a probe, rm == 0xFFFF).
 * The acceptor adopts the set with its promise, so every acceptor holding
 * state for an instance knows the gid's participants. */
struct px_m1a {
	struct px_str gid;
	uint16_t rm;
	uint32_t bal;
	struct px_pset pset;
};

/* 1B: gid, rm u16, bal u32 (the 1a's), mbal u32 (acceptor's promise),
 *     vbal u32, vval u8, flags u8, outcome u8, pset (may be empty).
 * vbal is meaningful only when vval != NONE. */
struct px_m1b {
	struct px_str gid;
	uint16_t rm;
	uint32_t bal;
	uint32_t mbal;
	uint32_t vbal;
	uint8_t vval;
	uint8_t flags;
	uint8_t outcome;
	struct px_pset pset;
};

/* 2A: gid, rm u16, bal u32, val u8, pset */
struct px_m2a {
	struct px_str gid;
	uint16_t rm;
	uint32_t bal;
	uint8_t val;
	struct px_pset pset;
};

/* 2B: gid, rm u16, bal u32, val u8, flags u8, mbal u32, outcome u8,
 *     pset (the acceptor's stored set; may be empty) */
struct px_m2b {
	struct px_str gid;
	uint16_t rm;
	uint32_t bal;
	uint8_t val;
	uint8_t flags;
	uint32_t mbal;
	uint8_t outcome;
	struct px_pset pset;
};

/* DECISION: gid, outcome u8, pset */
struct px_mdecision {
	struct px_str gid;
	uint8_t outcome;
	struct px_pset pset;
};

/* DECISION_ACK: gid, rm u16, outcome u8 (what the agent applied) */
struct px_mdecision_ack {
	struct px_str gid;
	uint16_t rm;
	uint8_t outcome;
};

/* FORGET: gid, outcome u8 (PX_OUT_NONE: the gid was given up as unknown to
 * a majority below the gc horizon; no outcome exists) */
struct px_mforget {
	struct px_str gid;
	uint8_t outcome;
};

/* HEARTBEAT: replica u8, leader u8 (whom the sender trusts; 0xFF none),
 *            maxbal u32 (highest ballot the sender has seen), horizon u64,
 *            hears u8 (bit i: the sender heard replica i within its lease,
 *            itself included), heard_by u8 (bit i: replica i, heard within
 *            the lease, said in its last heartbeat that it hears the sender;
 *            the sender's own bit set) */
struct px_mheartbeat {
	uint8_t replica;
	uint8_t leader;
	uint32_t maxbal;
	uint64_t horizon;
	uint8_t hears;
	uint8_t heard_by;
};

/* SYNC_REQ: bal u32 (the asking leader's ballot), cursor u64 */
struct px_msync_req {
	uint32_t bal;
	uint64_t cursor;
};

/* SYNC: cursor u64 (pass it back to continue), done u8, count u16, then
 * count entries of { gid, outcome u8, pset (may be empty: not known) } */
struct px_sync_entry {
	struct px_str gid;
	uint8_t outcome;
	struct px_pset pset;
};
struct px_msync {
	uint64_t cursor;
	uint8_t done;
	uint16_t count;
	struct px_sync_entry e[PX_SYNC_MAX];
};

/* COMMIT_REQ: req u64, gid, wait u8 (PX_WAIT_*, with the flags
 * PX_WAIT_PREPARE_SENT and PX_WAIT_ACKS_TO_CLIENT), pset */
struct px_mcommit_req {
	uint64_t req;
	struct px_str gid;
	uint8_t wait;
	struct px_pset pset;
};

/* ROLLBACK_REQ: req u64, gid, pset */
struct px_mrollback_req {
	uint64_t req;
	struct px_str gid;
	struct px_pset pset;
};

/* STATUS_REQ: req u64, gid */
struct px_mstatus_req {
	uint64_t req;
	struct px_str gid;
};

/* OUTCOME: req u64, gid, status u8, leader u8 (0xFF unknown), reason */
struct px_moutcome {
	uint64_t req;
	struct px_str gid;
	uint8_t status;
	uint8_t leader;
	struct px_str reason;
};

/* EXEC: req u64, gid, stmt u32, timeout_ms u32, sql, nparams u16, then
 * nparams strings (nullable).  timeout_ms: how long the client waits for
 * the result (0: no limit); the agent cancels a statement still running
 * then, since nobody waits for it.  stmt numbers the statements of one gid at one participant
 * from 0: the agent runs statement k only after 0..k-1, drops duplicates,
 * and refuses a gid it does not know unless stmt is 0 (so a statement is
 * never run twice, and never run in a new transaction that lost the
 * earlier ones). */
struct px_mexec {
	uint64_t req;
	struct px_str gid;
	uint32_t stmt;
	uint32_t timeout_ms;
	struct px_str sql;
	uint16_t nparams;
	struct px_str params[PX_PARAMS_MAX];
};

/* EXEC_RESULT: req u64, gid, status u8, sqlstate (exactly 5 bytes, or 0
 *   bytes), reason, ncols u16, ncols column-name strings, nrows u32, then
 *   nrows*ncols cell strings (nullable), row-major.
 * The decoded form keeps the column names and cells as one validated byte
 * range each; walk them with px_str_next(). */
struct px_mexec_result {
	uint64_t req;
	struct px_str gid;
	uint8_t status;
	struct px_str sqlstate;
	struct px_str reason;
	uint16_t ncols;
	const uint8_t *cols; /* ncols strings */
	uint32_t cols_len;
	uint32_t nrows;
	const uint8_t *cells; /* nrows*ncols strings */
	uint32_t cells_len;
};

/* PREPARE: gid, abort u8 (PX_PREPARE_* bits), pset */
#define PX_PREPARE_ABORT 1u        /* roll back and vote aborted */
#define PX_PREPARE_LATE_RESULTS 2u /* (from a client) the results of statements
				      still running may come with the ack of
				      the decision, which the client awaits */
struct px_mprepare {
	struct px_str gid;
	uint8_t abort; /* PX_PREPARE_* */
	struct px_pset pset;
};

/* VOTE: gid, rm u16, val u8, reason (informational copy of the ballot-0
 * vote, agent -> client: an `aborted` vote says why, e.g. PostgreSQL's
 * SQLSTATE and message when PREPARE TRANSACTION failed) */
struct px_mvote {
	struct px_str gid;
	uint16_t rm;
	uint8_t val;
	struct px_str reason;
};

/* PING: req u64.  Asks the process bound at an endpoint who it is, so that
 * a tool can tell a misdirected endpoint (another node, or another
 * cluster's) from a healthy one: a client's DEALER cannot see who answers
 * it, only which endpoint it connected to. */
struct px_mping {
	uint64_t req;
};

/* PONG: req u64 (the ping's), kind u8 (PX_NODE_REPLICA or PX_NODE_AGENT of
 *   px_update.h), id u16 (the replica's or participant's id), cluster (the
 *   cluster name), name (the participant's name; empty for a replica, whose
 *   name is coordinator.<id>).  Names are at most PX_NAME_MAX bytes and may
 *   be empty (a driver that does not know them). */
struct px_mpong {
	uint64_t req;
	uint8_t kind;
	uint16_t id;
	struct px_str cluster;
	struct px_str name;
};

struct px_msg {
	uint8_t type; /* enum px_type */
	union {
		struct px_m1a m1a;
		struct px_m1b m1b;
		struct px_m2a m2a;
		struct px_m2b m2b;
		struct px_mdecision decision;
		struct px_mdecision_ack decision_ack;
		struct px_mforget forget;
		struct px_mheartbeat heartbeat;
		struct px_msync_req sync_req;
		struct px_msync sync;
		struct px_mcommit_req commit_req;
		struct px_mrollback_req rollback_req;
		struct px_mstatus_req status_req;
		struct px_moutcome outcome;
		struct px_mexec exec;
		struct px_mexec_result exec_result;
		struct px_mprepare prepare;
		struct px_mvote vote;
		struct px_mping ping;
		struct px_mpong pong;
	} u;
};

/* Error codes of the codec: 0 is success. */
enum px_codec_err {
	PX_EOK = 0,
	PX_EMAGIC = 1,     /* header magic is wrong */
	PX_EVERSION = 2,   /* unsupported version */
	PX_ETYPE = 3,      /* unknown message type */
	PX_ETRUNC = 4,     /* frame or field shorter than it says */
	PX_ETRAILING = 5,  /* bytes left after the last field */
	PX_ETOOLONG = 6,   /* a string or count over its limit */
	PX_EVALUE = 7,     /* an enum field out of range, or an invalid pset */
	PX_ESPACE = 8,     /* encoder: output buffer too small */
	PX_ELENGTH = 9     /* header length disagrees with the frame size */
};

/* Name of a codec error, e.g. "truncated".  Never NULL. */
const char *px_codec_strerror(int err);

/* Name of a message type, e.g. "2b"; "unknown" for anything else. */
const char *px_type_name(int type);

/*
 * Decode one whole frame (header + payload, exactly `len` bytes) into *out.
 * Returns PX_EOK or a px_codec_err.  On error *out is unspecified.  The
 * views in *out point into `buf` and stay valid while `buf` does.
 */
int px_decode(const void *buf, size_t len, struct px_msg *out);

/*
 * Encode *m into buf (capacity cap).  On success returns PX_EOK and sets
 * *outlen to the frame size.  Checks every limit the decoder checks, so a
 * frame that encodes always decodes.
 */
int px_encode(const struct px_msg *m, void *buf, size_t cap, size_t *outlen);

/*
 * Walk a string list (EXEC_RESULT cols / cells): *pos starts at 0; each call
 * stores the next string in *s and returns 1, or returns 0 at the end.  The
 * range was validated by px_decode.
 */
int px_str_next(const uint8_t *base, uint32_t len, uint32_t *pos, struct px_str *s);

/* The gid a message is about (empty for heartbeat, sync_req, sync, ping and
 * pong). */
struct px_str px_msg_gid(const struct px_msg *m);

/* Helpers. */
static inline struct px_str px_str_of(const char *p, uint32_t len)
{
	struct px_str s = {p, len};
	return s;
}
int px_str_eq(struct px_str a, struct px_str b);
/* 1 if the pset is valid: 1..PX_PSET_MAX ids, strictly ascending. */
int px_pset_valid(const struct px_pset *s);
int px_pset_eq(const struct px_pset *a, const struct px_pset *b);
int px_pset_has(const struct px_pset *s, uint16_t rm);

#endif
