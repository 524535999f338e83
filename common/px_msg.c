/*
 * px_msg.c - encoder and decoder of the paxcommit wire messages.
 *
 * Both directions are straight lines of cursor operations (px_byte.h) in
 * the field order documented in px_msg.h.  Validation is folded into the
 * same lines: a failed check is recorded on the cursor like a short read,
 * so the error returned is the one of the first bad field in wire order.
 * Encoder and decoder apply the same checks, through the shared predicates
 * below, so whatever encodes also decodes.
 *
 * Decoding a frame:
 *   - len < PX_HDR_LEN                         PX_ETRUNC
 *   - magic, version, type                     PX_EMAGIC, PX_EVERSION, PX_ETYPE
 *   - len > PX_FRAME_MAX, or the header length
 *     field > PX_FRAME_MAX - PX_HDR_LEN         PX_ETOOLONG
 *   - header length != len - PX_HDR_LEN        PX_ELENGTH (in both directions:
 *     a frame shorter than its header claims is a length disagreement,
 *     not PX_ETRUNC, which is kept for fields running past the payload)
 *   - then the payload; a field running past its end is PX_ETRUNC and
 *     bytes left over after the last field are PX_ETRAILING.
 *
 * String limits are checked before the string is compared with what
 * remains, so an over-limit length is PX_ETOOLONG even when the frame is
 * also short.  Strings without a limit of their own (column names, cells)
 * are bounded by the frame only.
 */
#include <string.h>

#include "px_byte.h"
#include "px_msg.h"
#include "px_update.h" /* enum px_node_kind */

/* Largest length a non-nullable string without a limit of its own may
 * carry; anything bigger cannot fit in a frame anyway. */
#define PX_STR_ANY (PX_NULL_LEN - 1u)

#define PX_ACC_KNOWN                                  \
	(PX_ACC_OK | PX_ACC_DECIDED | PX_ACC_FORGOTTEN |  \
	 PX_ACC_BELOW_HORIZON | PX_ACC_PSET_CONFLICT |    \
	 PX_ACC_VAL_CONFLICT)

/* ---- value checks shared by both directions ---- */

static int val_ok(unsigned v)
{
	return v == PX_VAL_NONE || v == PX_VAL_PREPARED || v == PX_VAL_ABORTED;
}

/* A vote or a proposal: never NONE. */
static int vote_ok(unsigned v)
{
	return v == PX_VAL_PREPARED || v == PX_VAL_ABORTED;
}

static int outcome_ok(unsigned v)
{
	return v == PX_OUT_NONE || v == PX_OUT_COMMIT || v == PX_OUT_ABORT;
}

/* DECISION and DECISION_ACK carry a decided outcome. */
static int decided_ok(unsigned v)
{
	return v == PX_OUT_COMMIT || v == PX_OUT_ABORT;
}

static int flags_ok(unsigned v)
{
	return (v & ~(unsigned)PX_ACC_KNOWN) == 0;
}

static int status_ok(unsigned v)
{
	return v >= PX_ST_COMMITTED && v <= PX_ST_ERROR;
}

static int wait_ok(unsigned v)
{
	v &= ~(PX_WAIT_PREPARE_SENT | PX_WAIT_ACKS_TO_CLIENT);
	return v == PX_WAIT_DECIDED || v == PX_WAIT_APPLIED;
}

static int exec_status_ok(unsigned v)
{
	return v >= PX_EXEC_OK && v <= PX_EXEC_ERROR;
}

static int bool_ok(unsigned v)
{
	return v <= 1;
}

/* Who answers a PING: a replica or an agent (a client binds nothing). */
static int node_kind_ok(unsigned v)
{
	return v == PX_NODE_REPLICA || v == PX_NODE_AGENT;
}

/* Ids strictly ascending (which also rules out duplicates). */
static int pset_sorted(const struct px_pset *s)
{
	unsigned i;

	for (i = 1; i < s->n; i++)
		if (s->rm[i - 1] >= s->rm[i])
			return 0;
	return 1;
}

/* ---- decoder helpers ---- */

static void rcheck(struct px_rcur *r, int ok)
{
	if (!ok)
		px_rfail(r, PX_EVALUE);
}

/* gid: 1..PX_GID_MAX bytes. */
static void get_gid(struct px_rcur *r, struct px_str *s)
{
	if (px_get_str(r, PX_GID_MAX, 0, s))
		return;
	rcheck(r, s->len > 0);
}

static void get_pset(struct px_rcur *r, struct px_pset *s, int may_be_empty)
{
	unsigned i;

	s->n = px_get_u16(r);
	if (r->err)
		return;
	if (s->n > PX_PSET_MAX) {
		px_rfail(r, PX_ETOOLONG);
		s->n = 0;
		return;
	}
	for (i = 0; i < s->n; i++)
		s->rm[i] = px_get_u16(r);
	rcheck(r, s->n > 0 || may_be_empty);
	rcheck(r, pset_sorted(s));
}

/* Skip `count` strings; they stay in the frame as one range. */
static void get_str_list(struct px_rcur *r, uint64_t count, int nullable,
			 const uint8_t **base, uint32_t *len)
{
	const uint8_t *start = r->p;
	struct px_str s;
	uint64_t i;

	*base = NULL;
	*len = 0;
	if (r->err)
		return;
	/* Every string takes at least its 4-byte length: refuse a count the
	 * rest of the frame cannot hold before looping over it. */
	if (count > r->left / 4) {
		px_rfail(r, PX_ETRUNC);
		return;
	}
	for (i = 0; i < count && !r->err; i++)
		px_get_str(r, PX_STR_ANY, nullable, &s);
	if (r->err)
		return;
	*base = start;
	/* A frame is at most PX_FRAME_MAX bytes, so this fits. */
	*len = (uint32_t)(r->p - start);
}

/* ---- decoders, one per type ---- */

static int dec_1a(struct px_rcur *r, struct px_m1a *m)
{
	memset(m, 0, sizeof(*m));
	get_gid(r, &m->gid);
	m->rm = px_get_u16(r);
	m->bal = px_get_u32(r);
	get_pset(r, &m->pset, 1);
	return r->err;
}

static int dec_1b(struct px_rcur *r, struct px_m1b *m)
{
	memset(m, 0, sizeof(*m));
	get_gid(r, &m->gid);
	m->rm = px_get_u16(r);
	m->bal = px_get_u32(r);
	m->mbal = px_get_u32(r);
	m->vbal = px_get_u32(r);
	m->vval = px_get_u8(r);
	rcheck(r, val_ok(m->vval));
	m->flags = px_get_u8(r);
	rcheck(r, flags_ok(m->flags));
	m->outcome = px_get_u8(r);
	rcheck(r, outcome_ok(m->outcome));
	get_pset(r, &m->pset, 1);
	return r->err;
}

static int dec_2a(struct px_rcur *r, struct px_m2a *m)
{
	memset(m, 0, sizeof(*m));
	get_gid(r, &m->gid);
	m->rm = px_get_u16(r);
	m->bal = px_get_u32(r);
	m->val = px_get_u8(r);
	rcheck(r, vote_ok(m->val));
	get_pset(r, &m->pset, 0);
	return r->err;
}

static int dec_2b(struct px_rcur *r, struct px_m2b *m)
{
	memset(m, 0, sizeof(*m));
	get_gid(r, &m->gid);
	m->rm = px_get_u16(r);
	m->bal = px_get_u32(r);
	m->val = px_get_u8(r);
	rcheck(r, val_ok(m->val));
	m->flags = px_get_u8(r);
	rcheck(r, flags_ok(m->flags));
	m->mbal = px_get_u32(r);
	m->outcome = px_get_u8(r);
	rcheck(r, outcome_ok(m->outcome));
	get_pset(r, &m->pset, 1);
	return r->err;
}

static int dec_decision(struct px_rcur *r, struct px_mdecision *m)
{
	memset(m, 0, sizeof(*m));
	get_gid(r, &m->gid);
	m->outcome = px_get_u8(r);
	rcheck(r, decided_ok(m->outcome));
	get_pset(r, &m->pset, 0);
	return r->err;
}

static int dec_decision_ack(struct px_rcur *r, struct px_mdecision_ack *m)
{
	memset(m, 0, sizeof(*m));
	get_gid(r, &m->gid);
	m->rm = px_get_u16(r);
	m->outcome = px_get_u8(r);
	rcheck(r, decided_ok(m->outcome));
	return r->err;
}

static int dec_forget(struct px_rcur *r, struct px_mforget *m)
{
	memset(m, 0, sizeof(*m));
	get_gid(r, &m->gid);
	m->outcome = px_get_u8(r);
	rcheck(r, outcome_ok(m->outcome)); /* NONE: given up, see px_msg.h */
	return r->err;
}

static int dec_heartbeat(struct px_rcur *r, struct px_mheartbeat *m)
{
	memset(m, 0, sizeof(*m));
	m->replica = px_get_u8(r);
	m->leader = px_get_u8(r);
	m->maxbal = px_get_u32(r);
	m->horizon = px_get_u64(r);
	m->hears = px_get_u8(r);
	m->heard_by = px_get_u8(r);
	return r->err;
}

static int dec_sync_req(struct px_rcur *r, struct px_msync_req *m)
{
	memset(m, 0, sizeof(*m));
	m->bal = px_get_u32(r);
	m->cursor = px_get_u64(r);
	return r->err;
}

static int dec_sync(struct px_rcur *r, struct px_msync *m)
{
	unsigned i;

	m->cursor = px_get_u64(r);
	m->done = px_get_u8(r);
	rcheck(r, bool_ok(m->done));
	m->count = px_get_u16(r);
	if (r->err) {
		m->count = 0;
		return r->err;
	}
	if (m->count > PX_SYNC_MAX) {
		m->count = 0;
		px_rfail(r, PX_ETOOLONG);
		return r->err;
	}
	for (i = 0; i < m->count && !r->err; i++) {
		struct px_sync_entry *e = &m->e[i];

		get_gid(r, &e->gid);
		e->outcome = px_get_u8(r);
		rcheck(r, outcome_ok(e->outcome));
		get_pset(r, &e->pset, 1); /* empty: participants not known yet */
	}
	return r->err;
}

static int dec_commit_req(struct px_rcur *r, struct px_mcommit_req *m)
{
	memset(m, 0, sizeof(*m));
	m->req = px_get_u64(r);
	get_gid(r, &m->gid);
	m->wait = px_get_u8(r);
	rcheck(r, wait_ok(m->wait));
	get_pset(r, &m->pset, 0);
	return r->err;
}

static int dec_rollback_req(struct px_rcur *r, struct px_mrollback_req *m)
{
	memset(m, 0, sizeof(*m));
	m->req = px_get_u64(r);
	get_gid(r, &m->gid);
	get_pset(r, &m->pset, 0);
	return r->err;
}

static int dec_status_req(struct px_rcur *r, struct px_mstatus_req *m)
{
	memset(m, 0, sizeof(*m));
	m->req = px_get_u64(r);
	get_gid(r, &m->gid);
	return r->err;
}

static int dec_outcome(struct px_rcur *r, struct px_moutcome *m)
{
	memset(m, 0, sizeof(*m));
	m->req = px_get_u64(r);
	get_gid(r, &m->gid);
	m->status = px_get_u8(r);
	rcheck(r, status_ok(m->status));
	m->leader = px_get_u8(r);
	px_get_str(r, PX_REASON_MAX, 0, &m->reason);
	return r->err;
}

static int dec_exec(struct px_rcur *r, struct px_mexec *m)
{
	unsigned i;

	m->req = px_get_u64(r);
	get_gid(r, &m->gid);
	m->stmt = px_get_u32(r);
	m->timeout_ms = px_get_u32(r);
	px_get_str(r, PX_SQL_MAX, 0, &m->sql);
	m->nparams = px_get_u16(r);
	if (r->err) {
		m->nparams = 0;
		return r->err;
	}
	if (m->nparams > PX_PARAMS_MAX) {
		m->nparams = 0;
		px_rfail(r, PX_ETOOLONG);
		return r->err;
	}
	for (i = 0; i < m->nparams && !r->err; i++)
		px_get_str(r, PX_PARAM_MAX, 1, &m->params[i]);
	return r->err;
}

static int dec_exec_result(struct px_rcur *r, struct px_mexec_result *m)
{
	memset(m, 0, sizeof(*m));
	m->req = px_get_u64(r);
	get_gid(r, &m->gid);
	m->status = px_get_u8(r);
	rcheck(r, exec_status_ok(m->status));
	/* sqlstate: longer than 5 is over the limit, 1..4 is malformed */
	if (!px_get_str(r, PX_SQLSTATE_LEN, 0, &m->sqlstate))
		rcheck(r, m->sqlstate.len == 0 ||
				  m->sqlstate.len == PX_SQLSTATE_LEN);
	px_get_str(r, PX_REASON_MAX, 0, &m->reason);
	m->ncols = px_get_u16(r);
	if (!r->err && m->ncols > PX_COLS_MAX)
		px_rfail(r, PX_ETOOLONG);
	get_str_list(r, m->ncols, 0, &m->cols, &m->cols_len);
	m->nrows = px_get_u32(r);
	rcheck(r, m->ncols > 0 || m->nrows == 0);
	/* ncols <= PX_COLS_MAX, so the product fits in 64 bits */
	get_str_list(r, (uint64_t)m->nrows * m->ncols, 1, &m->cells,
		     &m->cells_len);
	return r->err;
}

static int dec_prepare(struct px_rcur *r, struct px_mprepare *m)
{
	memset(m, 0, sizeof(*m));
	get_gid(r, &m->gid);
	m->abort = px_get_u8(r);
	rcheck(r, m->abort <= (PX_PREPARE_ABORT | PX_PREPARE_LATE_RESULTS));
	get_pset(r, &m->pset, 0);
	return r->err;
}

static int dec_vote(struct px_rcur *r, struct px_mvote *m)
{
	memset(m, 0, sizeof(*m));
	get_gid(r, &m->gid);
	m->rm = px_get_u16(r);
	m->val = px_get_u8(r);
	rcheck(r, vote_ok(m->val));
	px_get_str(r, PX_REASON_MAX, 0, &m->reason);
	return r->err;
}

static int dec_ping(struct px_rcur *r, struct px_mping *m)
{
	memset(m, 0, sizeof(*m));
	m->req = px_get_u64(r);
	return r->err;
}

static int dec_pong(struct px_rcur *r, struct px_mpong *m)
{
	memset(m, 0, sizeof(*m));
	m->req = px_get_u64(r);
	m->kind = px_get_u8(r);
	rcheck(r, node_kind_ok(m->kind));
	m->id = px_get_u16(r);
	px_get_str(r, PX_NAME_MAX, 0, &m->cluster);
	px_get_str(r, PX_NAME_MAX, 0, &m->name);
	return r->err;
}

static int dec_payload(struct px_rcur *r, struct px_msg *m)
{
	switch (m->type) {
	case PX_MSG_1A:
		return dec_1a(r, &m->u.m1a);
	case PX_MSG_1B:
		return dec_1b(r, &m->u.m1b);
	case PX_MSG_2A:
		return dec_2a(r, &m->u.m2a);
	case PX_MSG_2B:
		return dec_2b(r, &m->u.m2b);
	case PX_MSG_DECISION:
		return dec_decision(r, &m->u.decision);
	case PX_MSG_DECISION_ACK:
		return dec_decision_ack(r, &m->u.decision_ack);
	case PX_MSG_FORGET:
		return dec_forget(r, &m->u.forget);
	case PX_MSG_HEARTBEAT:
		return dec_heartbeat(r, &m->u.heartbeat);
	case PX_MSG_SYNC_REQ:
		return dec_sync_req(r, &m->u.sync_req);
	case PX_MSG_SYNC:
		return dec_sync(r, &m->u.sync);
	case PX_MSG_COMMIT_REQ:
		return dec_commit_req(r, &m->u.commit_req);
	case PX_MSG_ROLLBACK_REQ:
		return dec_rollback_req(r, &m->u.rollback_req);
	case PX_MSG_STATUS_REQ:
		return dec_status_req(r, &m->u.status_req);
	case PX_MSG_OUTCOME:
		return dec_outcome(r, &m->u.outcome);
	case PX_MSG_EXEC:
		return dec_exec(r, &m->u.exec);
	case PX_MSG_EXEC_RESULT:
		return dec_exec_result(r, &m->u.exec_result);
	case PX_MSG_PREPARE:
		return dec_prepare(r, &m->u.prepare);
	case PX_MSG_VOTE:
		return dec_vote(r, &m->u.vote);
	case PX_MSG_PING:
		return dec_ping(r, &m->u.ping);
	case PX_MSG_PONG:
		return dec_pong(r, &m->u.pong);
	}
	return PX_ETYPE;
}

int px_decode(const void *buf, size_t len, struct px_msg *out)
{
	const uint8_t *b = buf;
	struct px_rcur r;
	uint32_t plen;
	int err;

	if (len < PX_HDR_LEN)
		return PX_ETRUNC;
	if (px_le16_load(b) != PX_MAGIC)
		return PX_EMAGIC;
	if (b[2] != PX_VERSION)
		return PX_EVERSION;
	if (b[3] == 0 || b[3] >= PX_MSG_TYPE_MAX_)
		return PX_ETYPE;
	plen = px_le32_load(b + 4);
	if (len > PX_FRAME_MAX || plen > PX_FRAME_MAX - PX_HDR_LEN)
		return PX_ETOOLONG;
	if (plen != len - PX_HDR_LEN)
		return PX_ELENGTH;

	out->type = b[3];
	px_rcur_init(&r, b + PX_HDR_LEN, plen);
	err = dec_payload(&r, out);
	if (err)
		return err;
	if (r.left)
		return PX_ETRAILING;
	return PX_EOK;
}

/* ---- encoder helpers ---- */

static void wcheck(struct px_wcur *w, int ok)
{
	if (!ok)
		px_wfail(w, PX_EVALUE);
}

/*
 * Checked string put: over `max` is PX_ETOOLONG unless it is a permitted
 * NULL; bytes claimed but missing (p == NULL) are PX_EVALUE.
 */
static void put_str(struct px_wcur *w, struct px_str s, uint32_t max,
		    int nullable)
{
	if (s.len == PX_NULL_LEN && nullable) {
		px_put_u32(w, PX_NULL_LEN);
		return;
	}
	if (s.len > max) {
		px_wfail(w, PX_ETOOLONG);
		return;
	}
	if (s.len && !s.p) {
		px_wfail(w, PX_EVALUE);
		return;
	}
	px_put_str(w, s.p, s.len);
}

static void put_gid(struct px_wcur *w, struct px_str s)
{
	put_str(w, s, PX_GID_MAX, 0);
	wcheck(w, s.len > 0);
}

static void put_pset(struct px_wcur *w, const struct px_pset *s,
		     int may_be_empty)
{
	unsigned i;

	if (s->n > PX_PSET_MAX) {
		px_wfail(w, PX_ETOOLONG);
		return;
	}
	px_put_u16(w, s->n);
	for (i = 0; i < s->n; i++)
		px_put_u16(w, s->rm[i]);
	wcheck(w, s->n > 0 || may_be_empty);
	wcheck(w, pset_sorted(s));
}

/*
 * Copy a string list (EXEC_RESULT cols / cells) after checking that the
 * range holds exactly `count` well-formed strings, as the decoder will.
 */
static void put_str_list(struct px_wcur *w, const uint8_t *base, uint32_t len,
			 uint64_t count, int nullable)
{
	struct px_rcur r;
	struct px_str s;
	uint64_t i;

	if (len && !base) {
		px_wfail(w, PX_EVALUE);
		return;
	}
	if (count > len / 4) {
		px_wfail(w, PX_EVALUE);
		return;
	}
	px_rcur_init(&r, base, len);
	for (i = 0; i < count && !r.err; i++)
		px_get_str(&r, PX_STR_ANY, nullable, &s);
	if (r.err || r.left) {
		px_wfail(w, PX_EVALUE);
		return;
	}
	px_put_bytes(w, base, len);
}

/* ---- encoders, one per type ---- */

static void enc_1a(struct px_wcur *w, const struct px_m1a *m)
{
	put_gid(w, m->gid);
	px_put_u16(w, m->rm);
	px_put_u32(w, m->bal);
	put_pset(w, &m->pset, 1);
}

static void enc_1b(struct px_wcur *w, const struct px_m1b *m)
{
	put_gid(w, m->gid);
	px_put_u16(w, m->rm);
	px_put_u32(w, m->bal);
	px_put_u32(w, m->mbal);
	px_put_u32(w, m->vbal);
	wcheck(w, val_ok(m->vval));
	px_put_u8(w, m->vval);
	wcheck(w, flags_ok(m->flags));
	px_put_u8(w, m->flags);
	wcheck(w, outcome_ok(m->outcome));
	px_put_u8(w, m->outcome);
	put_pset(w, &m->pset, 1);
}

static void enc_2a(struct px_wcur *w, const struct px_m2a *m)
{
	put_gid(w, m->gid);
	px_put_u16(w, m->rm);
	px_put_u32(w, m->bal);
	wcheck(w, vote_ok(m->val));
	px_put_u8(w, m->val);
	put_pset(w, &m->pset, 0);
}

static void enc_2b(struct px_wcur *w, const struct px_m2b *m)
{
	put_gid(w, m->gid);
	px_put_u16(w, m->rm);
	px_put_u32(w, m->bal);
	wcheck(w, val_ok(m->val));
	px_put_u8(w, m->val);
	wcheck(w, flags_ok(m->flags));
	px_put_u8(w, m->flags);
	px_put_u32(w, m->mbal);
	wcheck(w, outcome_ok(m->outcome));
	px_put_u8(w, m->outcome);
	put_pset(w, &m->pset, 1);
}

static void enc_decision(struct px_wcur *w, const struct px_mdecision *m)
{
	put_gid(w, m->gid);
	wcheck(w, decided_ok(m->outcome));
	px_put_u8(w, m->outcome);
	put_pset(w, &m->pset, 0);
}

static void enc_decision_ack(struct px_wcur *w,
			     const struct px_mdecision_ack *m)
{
	put_gid(w, m->gid);
	px_put_u16(w, m->rm);
	wcheck(w, decided_ok(m->outcome));
	px_put_u8(w, m->outcome);
}

static void enc_forget(struct px_wcur *w, const struct px_mforget *m)
{
	put_gid(w, m->gid);
	wcheck(w, outcome_ok(m->outcome)); /* NONE: given up, see px_msg.h */
	px_put_u8(w, m->outcome);
}

static void enc_heartbeat(struct px_wcur *w, const struct px_mheartbeat *m)
{
	px_put_u8(w, m->replica);
	px_put_u8(w, m->leader);
	px_put_u32(w, m->maxbal);
	px_put_u64(w, m->horizon);
	px_put_u8(w, m->hears);
	px_put_u8(w, m->heard_by);
}

static void enc_sync_req(struct px_wcur *w, const struct px_msync_req *m)
{
	px_put_u32(w, m->bal);
	px_put_u64(w, m->cursor);
}

static void enc_sync(struct px_wcur *w, const struct px_msync *m)
{
	unsigned i;

	px_put_u64(w, m->cursor);
	wcheck(w, bool_ok(m->done));
	px_put_u8(w, m->done);
	if (m->count > PX_SYNC_MAX) {
		px_wfail(w, PX_ETOOLONG);
		return;
	}
	px_put_u16(w, m->count);
	for (i = 0; i < m->count; i++) {
		const struct px_sync_entry *e = &m->e[i];

		put_gid(w, e->gid);
		wcheck(w, outcome_ok(e->outcome));
		px_put_u8(w, e->outcome);
		put_pset(w, &e->pset, 1);
	}
}

static void enc_commit_req(struct px_wcur *w, const struct px_mcommit_req *m)
{
	px_put_u64(w, m->req);
	put_gid(w, m->gid);
	wcheck(w, wait_ok(m->wait));
	px_put_u8(w, m->wait);
	put_pset(w, &m->pset, 0);
}

static void enc_rollback_req(struct px_wcur *w,
			     const struct px_mrollback_req *m)
{
	px_put_u64(w, m->req);
	put_gid(w, m->gid);
	put_pset(w, &m->pset, 0);
}

static void enc_status_req(struct px_wcur *w, const struct px_mstatus_req *m)
{
	px_put_u64(w, m->req);
	put_gid(w, m->gid);
}

static void enc_outcome(struct px_wcur *w, const struct px_moutcome *m)
{
	px_put_u64(w, m->req);
	put_gid(w, m->gid);
	wcheck(w, status_ok(m->status));
	px_put_u8(w, m->status);
	px_put_u8(w, m->leader);
	put_str(w, m->reason, PX_REASON_MAX, 0);
}

static void enc_exec(struct px_wcur *w, const struct px_mexec *m)
{
	unsigned i;

	px_put_u64(w, m->req);
	put_gid(w, m->gid);
	px_put_u32(w, m->stmt);
	px_put_u32(w, m->timeout_ms);
	put_str(w, m->sql, PX_SQL_MAX, 0);
	if (m->nparams > PX_PARAMS_MAX) {
		px_wfail(w, PX_ETOOLONG);
		return;
	}
	px_put_u16(w, m->nparams);
	for (i = 0; i < m->nparams; i++)
		put_str(w, m->params[i], PX_PARAM_MAX, 1);
}

static void enc_exec_result(struct px_wcur *w,
			    const struct px_mexec_result *m)
{
	px_put_u64(w, m->req);
	put_gid(w, m->gid);
	wcheck(w, exec_status_ok(m->status));
	px_put_u8(w, m->status);
	put_str(w, m->sqlstate, PX_SQLSTATE_LEN, 0);
	wcheck(w, m->sqlstate.len == 0 || m->sqlstate.len == PX_SQLSTATE_LEN);
	put_str(w, m->reason, PX_REASON_MAX, 0);
	if (m->ncols > PX_COLS_MAX) {
		px_wfail(w, PX_ETOOLONG);
		return;
	}
	px_put_u16(w, m->ncols);
	put_str_list(w, m->cols, m->cols_len, m->ncols, 0);
	wcheck(w, m->ncols > 0 || m->nrows == 0);
	px_put_u32(w, m->nrows);
	put_str_list(w, m->cells, m->cells_len, (uint64_t)m->nrows * m->ncols,
		     1);
}

static void enc_prepare(struct px_wcur *w, const struct px_mprepare *m)
{
	put_gid(w, m->gid);
	wcheck(w, m->abort <= (PX_PREPARE_ABORT | PX_PREPARE_LATE_RESULTS));
	px_put_u8(w, m->abort);
	put_pset(w, &m->pset, 0);
}

static void enc_vote(struct px_wcur *w, const struct px_mvote *m)
{
	put_gid(w, m->gid);
	px_put_u16(w, m->rm);
	wcheck(w, vote_ok(m->val));
	px_put_u8(w, m->val);
	put_str(w, m->reason, PX_REASON_MAX, 0);
}

static void enc_ping(struct px_wcur *w, const struct px_mping *m)
{
	px_put_u64(w, m->req);
}

static void enc_pong(struct px_wcur *w, const struct px_mpong *m)
{
	px_put_u64(w, m->req);
	wcheck(w, node_kind_ok(m->kind));
	px_put_u8(w, m->kind);
	px_put_u16(w, m->id);
	put_str(w, m->cluster, PX_NAME_MAX, 0);
	put_str(w, m->name, PX_NAME_MAX, 0);
}

static void enc_payload(struct px_wcur *w, const struct px_msg *m)
{
	switch (m->type) {
	case PX_MSG_1A:
		enc_1a(w, &m->u.m1a);
		break;
	case PX_MSG_1B:
		enc_1b(w, &m->u.m1b);
		break;
	case PX_MSG_2A:
		enc_2a(w, &m->u.m2a);
		break;
	case PX_MSG_2B:
		enc_2b(w, &m->u.m2b);
		break;
	case PX_MSG_DECISION:
		enc_decision(w, &m->u.decision);
		break;
	case PX_MSG_DECISION_ACK:
		enc_decision_ack(w, &m->u.decision_ack);
		break;
	case PX_MSG_FORGET:
		enc_forget(w, &m->u.forget);
		break;
	case PX_MSG_HEARTBEAT:
		enc_heartbeat(w, &m->u.heartbeat);
		break;
	case PX_MSG_SYNC_REQ:
		enc_sync_req(w, &m->u.sync_req);
		break;
	case PX_MSG_SYNC:
		enc_sync(w, &m->u.sync);
		break;
	case PX_MSG_COMMIT_REQ:
		enc_commit_req(w, &m->u.commit_req);
		break;
	case PX_MSG_ROLLBACK_REQ:
		enc_rollback_req(w, &m->u.rollback_req);
		break;
	case PX_MSG_STATUS_REQ:
		enc_status_req(w, &m->u.status_req);
		break;
	case PX_MSG_OUTCOME:
		enc_outcome(w, &m->u.outcome);
		break;
	case PX_MSG_EXEC:
		enc_exec(w, &m->u.exec);
		break;
	case PX_MSG_EXEC_RESULT:
		enc_exec_result(w, &m->u.exec_result);
		break;
	case PX_MSG_PREPARE:
		enc_prepare(w, &m->u.prepare);
		break;
	case PX_MSG_VOTE:
		enc_vote(w, &m->u.vote);
		break;
	case PX_MSG_PING:
		enc_ping(w, &m->u.ping);
		break;
	case PX_MSG_PONG:
		enc_pong(w, &m->u.pong);
		break;
	default:
		px_wfail(w, PX_ETYPE);
		break;
	}
}

/*
 * The cursor is limited to min(cap, PX_FRAME_MAX).  Running out of room
 * is PX_ETOOLONG when that limit was PX_FRAME_MAX (the frame itself is
 * over the limit) and PX_ESPACE when it was the caller's buffer.  Any
 * value error takes precedence over both, so an invalid message is
 * reported as such whatever the buffer size.  Bytes up to cap may have
 * been written on failure, never beyond.
 */
int px_encode(const struct px_msg *m, void *buf, size_t cap, size_t *outlen)
{
	size_t limit = cap < PX_FRAME_MAX ? cap : PX_FRAME_MAX;
	struct px_wcur w;
	uint8_t *hdr;

	px_wcur_init(&w, buf, limit);
	hdr = px_put_reserve(&w, PX_HDR_LEN);
	enc_payload(&w, m);
	if (w.err == PX_ESPACE && limit == PX_FRAME_MAX)
		return PX_ETOOLONG;
	if (w.err)
		return w.err;

	px_le16_store(hdr, PX_MAGIC);
	hdr[2] = PX_VERSION;
	hdr[3] = m->type;
	/* limit <= PX_FRAME_MAX, so the payload length fits in 32 bits */
	px_le32_store(hdr + 4, (uint32_t)(w.p - hdr - PX_HDR_LEN));
	*outlen = (size_t)(w.p - hdr);
	return PX_EOK;
}

/* ---- string lists and helpers ---- */

int px_str_next(const uint8_t *base, uint32_t len, uint32_t *pos,
		struct px_str *s)
{
	struct px_rcur r;

	/* px_decode validated the range; still never step outside it. */
	if (!base || *pos >= len)
		return 0;
	px_rcur_init(&r, base + *pos, len - *pos);
	if (px_get_str(&r, PX_STR_ANY, 1, s))
		return 0;
	*pos = (uint32_t)(r.p - base);
	return 1;
}

int px_str_eq(struct px_str a, struct px_str b)
{
	if (a.len != b.len)
		return 0;
	if (a.len == PX_NULL_LEN || a.len == 0)
		return 1;
	if (!a.p || !b.p)
		return a.p == b.p;
	return memcmp(a.p, b.p, a.len) == 0;
}

int px_pset_valid(const struct px_pset *s)
{
	return s->n >= 1 && s->n <= PX_PSET_MAX && pset_sorted(s);
}

int px_pset_eq(const struct px_pset *a, const struct px_pset *b)
{
	unsigned i;

	if (a->n != b->n || a->n > PX_PSET_MAX)
		return 0;
	for (i = 0; i < a->n; i++)
		if (a->rm[i] != b->rm[i])
			return 0;
	return 1;
}

int px_pset_has(const struct px_pset *s, uint16_t rm)
{
	unsigned i, n = s->n < PX_PSET_MAX ? s->n : PX_PSET_MAX;

	for (i = 0; i < n; i++)
		if (s->rm[i] == rm)
			return 1;
	return 0;
}

const char *px_codec_strerror(int err)
{
	switch (err) {
	case PX_EOK:
		return "ok";
	case PX_EMAGIC:
		return "bad magic";
	case PX_EVERSION:
		return "unsupported version";
	case PX_ETYPE:
		return "unknown message type";
	case PX_ETRUNC:
		return "truncated";
	case PX_ETRAILING:
		return "trailing bytes";
	case PX_ETOOLONG:
		return "over limit";
	case PX_EVALUE:
		return "invalid value";
	case PX_ESPACE:
		return "no space";
	case PX_ELENGTH:
		return "length mismatch";
	}
	return "unknown error";
}

const char *px_type_name(int type)
{
	switch (type) {
	case PX_MSG_1A:
		return "1a";
	case PX_MSG_1B:
		return "1b";
	case PX_MSG_2A:
		return "2a";
	case PX_MSG_2B:
		return "2b";
	case PX_MSG_DECISION:
		return "decision";
	case PX_MSG_DECISION_ACK:
		return "decision_ack";
	case PX_MSG_FORGET:
		return "forget";
	case PX_MSG_HEARTBEAT:
		return "heartbeat";
	case PX_MSG_SYNC_REQ:
		return "sync_req";
	case PX_MSG_SYNC:
		return "sync";
	case PX_MSG_COMMIT_REQ:
		return "commit_req";
	case PX_MSG_ROLLBACK_REQ:
		return "rollback_req";
	case PX_MSG_STATUS_REQ:
		return "status_req";
	case PX_MSG_OUTCOME:
		return "outcome";
	case PX_MSG_EXEC:
		return "exec";
	case PX_MSG_EXEC_RESULT:
		return "exec_result";
	case PX_MSG_PREPARE:
		return "prepare";
	case PX_MSG_VOTE:
		return "vote";
	case PX_MSG_PING:
		return "ping";
	case PX_MSG_PONG:
		return "pong";
	}
	return "unknown";
}

struct px_str px_msg_gid(const struct px_msg *m)
{
	switch (m->type) {
	case PX_MSG_1A: return m->u.m1a.gid;
	case PX_MSG_1B: return m->u.m1b.gid;
	case PX_MSG_2A: return m->u.m2a.gid;
	case PX_MSG_2B: return m->u.m2b.gid;
	case PX_MSG_DECISION: return m->u.decision.gid;
	case PX_MSG_DECISION_ACK: return m->u.decision_ack.gid;
	case PX_MSG_FORGET: return m->u.forget.gid;
	case PX_MSG_COMMIT_REQ: return m->u.commit_req.gid;
	case PX_MSG_ROLLBACK_REQ: return m->u.rollback_req.gid;
	case PX_MSG_STATUS_REQ: return m->u.status_req.gid;
	case PX_MSG_OUTCOME: return m->u.outcome.gid;
	case PX_MSG_EXEC: return m->u.exec.gid;
	case PX_MSG_EXEC_RESULT: return m->u.exec_result.gid;
	case PX_MSG_PREPARE: return m->u.prepare.gid;
	case PX_MSG_VOTE: return m->u.vote.gid;
	default: return px_str_of("", 0);
	}
}
