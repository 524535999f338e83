/*
 * px_update.h - what a pure protocol core hands back from one step.
 *
 * Both the coordinator replica core (coordinator/px_replica.h) and the
 * participant core (participant/pa_core.h) return their effects in a
 * struct px_update: records to persist, messages to send (now, or only after
 * every record appended so far is persisted), and the next timer.
 *
 * The update ACCUMULATES across steps until the driver calls
 * px_update_reset().  That is group commit: a driver steps every event of one
 * poll round into the same update, appends all records, syncs once, then
 * sends `now` and `held` messages alike.  Frames and records live in the
 * update's arena and stay valid until the next reset.
 */
#ifndef PX_UPDATE_H
#define PX_UPDATE_H

#include <stddef.h>
#include <stdint.h>

#include "px_msg.h"

enum px_node_kind { PX_NODE_REPLICA = 1, PX_NODE_AGENT = 2, PX_NODE_CLIENT = 3 };

/* Who a message is from / to.  Replicas: id 0..n-1.  Agents: the
 * participant id.  Clients: an opaque id chosen by the driver (it maps it
 * to a connection / routing id). */
struct px_addr {
	uint8_t kind;
	uint64_t id;
};

struct px_send {
	struct px_addr to;
	uint32_t off, len; /* encoded frame in the arena */
	uint8_t lazy;      /* now: off every critical path, a driver may hold it a
			      few ms, or until it sends `to` something else.
			      held: it may wait for a later sync, a few ms at
			      most; a driver need not sync for it alone (it
			      still leaves only once rec_seq is durable) */
};

struct px_recref {
	uint32_t off, len; /* encoded record in the arena */
	uint8_t lazy;      /* nothing waits for it: a driver need not sync for it
			      alone (a later sync covers it; a crash may lose it) */
};

/* Database actions of the participant core (unused by the replica). */
enum pa_db_kind {
	PA_DB_EXEC = 1,          /* BEGIN if first use, then run the statement */
	PA_DB_PREPARE = 2,       /* PREPARE TRANSACTION 'gid' */
	PA_DB_COMMIT_PREPARED = 3,
	PA_DB_ROLLBACK_PREPARED = 4,
	PA_DB_ROLLBACK = 5,      /* roll back the open (unprepared) transaction */
	PA_DB_CHECK = 6,         /* is gid in pg_prepared_xacts? */
	PA_DB_SCAN = 7,          /* list this cluster's prepared gids */
	PA_DB_CANCEL = 8         /* cancel the gid's running statement, if it still
				    runs; no result event (the statement's own
				    result, an error once cancelled, follows) */
};

struct pa_db_action {
	uint8_t kind;
	uint64_t token;      /* echoed in the result event */
	uint32_t gid_off;    /* gid in the arena (not NUL-terminated) */
	uint8_t gid_len;
	uint32_t msg_off, msg_len; /* PA_DB_EXEC: the EXEC frame, in the arena */
};

struct px_update {
	uint8_t *arena;
	size_t alen, acap;

	struct px_recref *rec;
	size_t nrec, caprec;
	uint64_t rec_seq; /* sequence number of the last record ever emitted */

	struct px_send *now;
	size_t nnow, capnow;
	struct px_send *held; /* release only once rec_seq is durable */
	size_t nheld, capheld;

	struct pa_db_action *db;
	size_t ndb, capdb;

	uint64_t timer; /* absolute time of the wanted TIMER event; 0 none */
	int oom;        /* an allocation failed: the step's effects are incomplete */
	int enc_err;    /* last px_codec_err of a message that failed to encode (a bug) */
};

void px_update_init(struct px_update *u);
void px_update_free(struct px_update *u);
/* Forget the effects handed out so far (rec_seq keeps counting). */
void px_update_reset(struct px_update *u);

/* Core-side helpers. */
/* Encode m into the arena and queue it; held != 0 puts it in `held`.
 * Returns 0, or a px_codec_err / -1 (out of memory, also sets u->oom). */
int px_update_send(struct px_update *u, struct px_addr to, const struct px_msg *m, int held);
/* px_update_send (not held), marked lazy (see struct px_send). */
int px_update_send_lazy(struct px_update *u, struct px_addr to, const struct px_msg *m);
/* px_update_send (held), marked lazy: deferred to a later sync. */
int px_update_send_deferred(struct px_update *u, struct px_addr to, const struct px_msg *m);
/* Driver side: queue a copy of an encoded frame in `held`, not lazy (to keep
 * a deferred message past the reset of the update it came from).  Returns 0,
 * or -1 out of memory. */
int px_update_hold_frame(struct px_update *u, struct px_addr to, const uint8_t *p, uint32_t len);
/* Encode m into the arena without queuing it (e.g. to hand a frame to a
 * database action).  Returns 0 or an error as px_update_send. */
int px_update_encode(struct px_update *u, const struct px_msg *m, uint32_t *off, uint32_t *len);
/* Reserve len bytes in the arena for a record and return a pointer to fill,
 * or NULL (sets oom).  The record gets sequence ++rec_seq. */
uint8_t *px_update_rec(struct px_update *u, uint32_t len);
/* Copy bytes into the arena; returns the offset, or UINT32_MAX on OOM. */
uint32_t px_update_copy(struct px_update *u, const void *p, size_t len);
struct pa_db_action *px_update_db(struct px_update *u);
void px_update_timer(struct px_update *u, uint64_t at);
/* Driver side: the timer to keep after an update asked for u->timer when
 * `pending` (0: none) was already set.  The earliest wins: a later request
 * must never push back a pending one, or a steady stream of messages would
 * starve the TIMER event. */
static inline uint64_t px_update_next_timer(const struct px_update *u, uint64_t pending)
{
	return u->timer && (!pending || u->timer < pending) ? u->timer : pending;
}

static inline const uint8_t *px_update_ptr(const struct px_update *u, uint32_t off)
{
	return u->arena + off;
}

static inline struct px_addr px_addr_of(uint8_t kind, uint64_t id)
{
	struct px_addr a = {kind, id};
	return a;
}

#endif
