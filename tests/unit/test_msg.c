/*
 * test_msg.c - unit tests of the wire codec (common/px_msg.c).
 *
 * Valid messages are round-tripped through px_encode/px_decode.  Malformed
 * frames are built by hand with the px_byte.h cursors, independently of
 * the encoder, so the tests also pin the wire layout.  Every frame handed
 * to px_decode sits in a heap block of exactly its size, so a sanitizer or
 * valgrind catches any read past its end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "px_byte.h"
#include "px_msg.h"
#include "px_update.h"

#define CAP_SMALL (64u * 1024)
#define S(lit) px_str_of(lit, (uint32_t)(sizeof(lit) - 1))
#define SNULL px_str_of(NULL, PX_NULL_LEN)

static const char GID[] = "pxc-0001-0000000042";
static const uint16_t IDS3[] = {1, 2, 3};

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	assert_non_null(p);
	return p;
}

static struct px_msg *new_msg(void)
{
	struct px_msg *m = xmalloc(sizeof(*m));

	memset(m, 0, sizeof(*m));
	return m;
}

static struct px_pset pset_of(const uint16_t *ids, unsigned n)
{
	struct px_pset s;

	memset(&s, 0, sizeof(s));
	s.n = (uint16_t)n;
	if (n)
		memcpy(s.rm, ids, n * sizeof(ids[0]));
	return s;
}

/* Decode a copy of buf[0..n) held in a block of exactly n bytes. */
static int decode_exact(const uint8_t *buf, size_t n, struct px_msg *out)
{
	uint8_t *copy = xmalloc(n);
	int err;

	if (n)
		memcpy(copy, buf, n);
	err = px_decode(copy, n, out);
	free(copy);
	return err;
}

static int decode_err(const uint8_t *buf, size_t n)
{
	struct px_msg *m = new_msg();
	int err = decode_exact(buf, n, m);

	free(m);
	return err;
}

static int encode_err(const struct px_msg *m)
{
	uint8_t *buf = xmalloc(CAP_SMALL);
	size_t n = 0;
	int err = px_encode(m, buf, CAP_SMALL, &n);

	free(buf);
	return err;
}

/* Build a string list (EXEC_RESULT cols / cells) into buf. */
static uint32_t build_list(uint8_t *buf, size_t cap, const struct px_str *v,
			   unsigned n)
{
	struct px_wcur w;
	unsigned i;

	px_wcur_init(&w, buf, cap);
	for (i = 0; i < n; i++)
		px_put_str(&w, v[i].p, v[i].len);
	assert_int_equal(w.err, 0);
	return (uint32_t)(w.p - buf);
}

/*
 * A realistic message of each type.  EXEC_RESULT keeps its column and cell
 * lists in `scratch`.
 */
static void sample(int type, struct px_msg *m, uint8_t *scratch, size_t cap)
{
	struct px_str gid = S(GID);

	memset(m, 0, sizeof(*m));
	m->type = (uint8_t)type;
	switch (type) {
	case PX_MSG_1A:
		m->u.m1a.gid = gid;
		m->u.m1a.rm = 2;
		m->u.m1a.bal = 7;
		m->u.m1a.pset.n = 2;
		m->u.m1a.pset.rm[0] = 2;
		m->u.m1a.pset.rm[1] = 5;
		break;
	case PX_MSG_1B:
		m->u.m1b.gid = gid;
		m->u.m1b.rm = 3;
		m->u.m1b.bal = 9;
		m->u.m1b.mbal = 9;
		m->u.m1b.vbal = 4;
		m->u.m1b.vval = PX_VAL_PREPARED;
		m->u.m1b.flags = PX_ACC_OK | PX_ACC_DECIDED;
		m->u.m1b.outcome = PX_OUT_COMMIT;
		m->u.m1b.pset = pset_of(IDS3, 3);
		break;
	case PX_MSG_2A:
		m->u.m2a.gid = gid;
		m->u.m2a.rm = 1;
		m->u.m2a.bal = 0;
		m->u.m2a.val = PX_VAL_PREPARED;
		m->u.m2a.pset = pset_of(IDS3, 3);
		break;
	case PX_MSG_2B:
		m->u.m2b.gid = gid;
		m->u.m2b.rm = 1;
		m->u.m2b.bal = 0;
		m->u.m2b.val = PX_VAL_ABORTED;
		m->u.m2b.flags = PX_ACC_OK;
		m->u.m2b.mbal = 0;
		m->u.m2b.outcome = PX_OUT_NONE;
		m->u.m2b.pset = pset_of(IDS3, 3);
		break;
	case PX_MSG_DECISION:
		m->u.decision.gid = gid;
		m->u.decision.outcome = PX_OUT_COMMIT;
		m->u.decision.pset = pset_of(IDS3, 3);
		break;
	case PX_MSG_DECISION_ACK:
		m->u.decision_ack.gid = gid;
		m->u.decision_ack.rm = 2;
		m->u.decision_ack.outcome = PX_OUT_COMMIT;
		break;
	case PX_MSG_FORGET:
		m->u.forget.gid = gid;
		m->u.forget.outcome = PX_OUT_ABORT;
		break;
	case PX_MSG_HEARTBEAT:
		m->u.heartbeat.replica = 1;
		m->u.heartbeat.leader = 0;
		m->u.heartbeat.maxbal = 12;
		m->u.heartbeat.horizon = 123456789012ull;
		m->u.heartbeat.hears = 0x0b;
		m->u.heartbeat.heard_by = 0x13;
		break;
	case PX_MSG_SYNC_REQ:
		m->u.sync_req.bal = 12;
		m->u.sync_req.cursor = 0;
		break;
	case PX_MSG_SYNC:
		m->u.sync.cursor = 99;
		m->u.sync.done = 0;
		m->u.sync.count = 2;
		m->u.sync.e[0].gid = S("pxc-0001-0000000040");
		m->u.sync.e[0].outcome = PX_OUT_NONE;
		m->u.sync.e[0].pset = pset_of(IDS3, 2);
		m->u.sync.e[1].gid = gid;
		m->u.sync.e[1].outcome = PX_OUT_ABORT;
		m->u.sync.e[1].pset = pset_of(IDS3, 3);
		break;
	case PX_MSG_COMMIT_REQ:
		m->u.commit_req.req = 1001;
		m->u.commit_req.gid = gid;
		m->u.commit_req.wait = PX_WAIT_APPLIED;
		m->u.commit_req.pset = pset_of(IDS3, 2);
		break;
	case PX_MSG_ROLLBACK_REQ:
		m->u.rollback_req.req = 1002;
		m->u.rollback_req.gid = gid;
		m->u.rollback_req.pset = pset_of(IDS3 + 1, 1);
		break;
	case PX_MSG_STATUS_REQ:
		m->u.status_req.req = 1003;
		m->u.status_req.gid = gid;
		break;
	case PX_MSG_OUTCOME:
		m->u.outcome.req = 1001;
		m->u.outcome.gid = gid;
		m->u.outcome.status = PX_ST_COMMITTED;
		m->u.outcome.leader = 0;
		m->u.outcome.reason = S("committed");
		break;
	case PX_MSG_EXEC:
		m->u.exec.req = 1004;
		m->u.exec.gid = gid;
		m->u.exec.stmt = 7;
		m->u.exec.timeout_ms = 30000;
		m->u.exec.sql = S("INSERT INTO acct(id, owner) VALUES ($1, $2)");
		m->u.exec.nparams = 2;
		m->u.exec.params[0] = S("42");
		m->u.exec.params[1] = SNULL;
		break;
	case PX_MSG_EXEC_RESULT: {
		const struct px_str cols[] = {S("id"), S("owner")};
		const struct px_str cells[] = {S("1"), S("alice"), S("2"),
					       SNULL};
		struct px_mexec_result *r = &m->u.exec_result;

		r->req = 1004;
		r->gid = gid;
		r->status = PX_EXEC_OK;
		r->sqlstate = S("");
		r->reason = S("");
		r->ncols = 2;
		r->cols = scratch;
		r->cols_len = build_list(scratch, cap / 2, cols, 2);
		r->nrows = 2;
		r->cells = scratch + cap / 2;
		r->cells_len = build_list(scratch + cap / 2, cap / 2, cells, 4);
		break;
	}
	case PX_MSG_PREPARE:
		m->u.prepare.gid = gid;
		m->u.prepare.abort = 0;
		m->u.prepare.pset = pset_of(IDS3, 3);
		break;
	case PX_MSG_VOTE:
		m->u.vote.gid = gid;
		m->u.vote.rm = 2;
		m->u.vote.val = PX_VAL_PREPARED;
		m->u.vote.reason = S("53400 maximum number of prepared transactions reached");
		break;
	case PX_MSG_PING:
		m->u.ping.req = 1005;
		break;
	case PX_MSG_PONG:
		m->u.pong.req = 1005;
		m->u.pong.kind = PX_NODE_AGENT;
		m->u.pong.id = 2;
		m->u.pong.cluster = S("bank");
		m->u.pong.name = S("savings");
		break;
	default:
		fail_msg("no sample for type %d", type);
	}
}

static int list_eq(const uint8_t *a, uint32_t alen, const uint8_t *b,
		   uint32_t blen)
{
	return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Field-by-field comparison of two messages of the same type. */
static void assert_msg_eq(const struct px_msg *a, const struct px_msg *b)
{
	unsigned i;

	assert_int_equal(a->type, b->type);
	switch (a->type) {
	case PX_MSG_1A:
		assert_true(px_str_eq(a->u.m1a.gid, b->u.m1a.gid));
		assert_int_equal(a->u.m1a.rm, b->u.m1a.rm);
		assert_int_equal(a->u.m1a.bal, b->u.m1a.bal);
		assert_true(px_pset_eq(&a->u.m1a.pset, &b->u.m1a.pset));
		break;
	case PX_MSG_1B:
		assert_true(px_str_eq(a->u.m1b.gid, b->u.m1b.gid));
		assert_int_equal(a->u.m1b.rm, b->u.m1b.rm);
		assert_int_equal(a->u.m1b.bal, b->u.m1b.bal);
		assert_int_equal(a->u.m1b.mbal, b->u.m1b.mbal);
		assert_int_equal(a->u.m1b.vbal, b->u.m1b.vbal);
		assert_int_equal(a->u.m1b.vval, b->u.m1b.vval);
		assert_int_equal(a->u.m1b.flags, b->u.m1b.flags);
		assert_int_equal(a->u.m1b.outcome, b->u.m1b.outcome);
		assert_true(px_pset_eq(&a->u.m1b.pset, &b->u.m1b.pset));
		break;
	case PX_MSG_2A:
		assert_true(px_str_eq(a->u.m2a.gid, b->u.m2a.gid));
		assert_int_equal(a->u.m2a.rm, b->u.m2a.rm);
		assert_int_equal(a->u.m2a.bal, b->u.m2a.bal);
		assert_int_equal(a->u.m2a.val, b->u.m2a.val);
		assert_true(px_pset_eq(&a->u.m2a.pset, &b->u.m2a.pset));
		break;
	case PX_MSG_2B:
		assert_true(px_str_eq(a->u.m2b.gid, b->u.m2b.gid));
		assert_int_equal(a->u.m2b.rm, b->u.m2b.rm);
		assert_int_equal(a->u.m2b.bal, b->u.m2b.bal);
		assert_int_equal(a->u.m2b.val, b->u.m2b.val);
		assert_int_equal(a->u.m2b.flags, b->u.m2b.flags);
		assert_int_equal(a->u.m2b.mbal, b->u.m2b.mbal);
		assert_int_equal(a->u.m2b.outcome, b->u.m2b.outcome);
		assert_true(px_pset_eq(&a->u.m2b.pset, &b->u.m2b.pset));
		break;
	case PX_MSG_DECISION:
		assert_true(px_str_eq(a->u.decision.gid, b->u.decision.gid));
		assert_int_equal(a->u.decision.outcome, b->u.decision.outcome);
		assert_true(px_pset_eq(&a->u.decision.pset,
				       &b->u.decision.pset));
		break;
	case PX_MSG_DECISION_ACK:
		assert_true(px_str_eq(a->u.decision_ack.gid,
				      b->u.decision_ack.gid));
		assert_int_equal(a->u.decision_ack.rm, b->u.decision_ack.rm);
		assert_int_equal(a->u.decision_ack.outcome,
				 b->u.decision_ack.outcome);
		break;
	case PX_MSG_FORGET:
		assert_true(px_str_eq(a->u.forget.gid, b->u.forget.gid));
		assert_int_equal(a->u.forget.outcome, b->u.forget.outcome);
		break;
	case PX_MSG_HEARTBEAT:
		assert_int_equal(a->u.heartbeat.replica, b->u.heartbeat.replica);
		assert_int_equal(a->u.heartbeat.leader, b->u.heartbeat.leader);
		assert_int_equal(a->u.heartbeat.maxbal, b->u.heartbeat.maxbal);
		assert_int_equal(a->u.heartbeat.horizon, b->u.heartbeat.horizon);
		assert_int_equal(a->u.heartbeat.hears, b->u.heartbeat.hears);
		assert_int_equal(a->u.heartbeat.heard_by, b->u.heartbeat.heard_by);
		break;
	case PX_MSG_SYNC_REQ:
		assert_int_equal(a->u.sync_req.bal, b->u.sync_req.bal);
		assert_int_equal(a->u.sync_req.cursor, b->u.sync_req.cursor);
		break;
	case PX_MSG_SYNC:
		assert_int_equal(a->u.sync.cursor, b->u.sync.cursor);
		assert_int_equal(a->u.sync.done, b->u.sync.done);
		assert_int_equal(a->u.sync.count, b->u.sync.count);
		for (i = 0; i < a->u.sync.count; i++) {
			assert_true(px_str_eq(a->u.sync.e[i].gid,
					      b->u.sync.e[i].gid));
			assert_int_equal(a->u.sync.e[i].outcome,
					 b->u.sync.e[i].outcome);
			assert_true(px_pset_eq(&a->u.sync.e[i].pset,
					       &b->u.sync.e[i].pset));
		}
		break;
	case PX_MSG_COMMIT_REQ:
		assert_int_equal(a->u.commit_req.req, b->u.commit_req.req);
		assert_true(px_str_eq(a->u.commit_req.gid, b->u.commit_req.gid));
		assert_int_equal(a->u.commit_req.wait, b->u.commit_req.wait);
		assert_true(px_pset_eq(&a->u.commit_req.pset,
				       &b->u.commit_req.pset));
		break;
	case PX_MSG_ROLLBACK_REQ:
		assert_int_equal(a->u.rollback_req.req, b->u.rollback_req.req);
		assert_true(px_str_eq(a->u.rollback_req.gid,
				      b->u.rollback_req.gid));
		assert_true(px_pset_eq(&a->u.rollback_req.pset,
				       &b->u.rollback_req.pset));
		break;
	case PX_MSG_STATUS_REQ:
		assert_int_equal(a->u.status_req.req, b->u.status_req.req);
		assert_true(px_str_eq(a->u.status_req.gid, b->u.status_req.gid));
		break;
	case PX_MSG_OUTCOME:
		assert_int_equal(a->u.outcome.req, b->u.outcome.req);
		assert_true(px_str_eq(a->u.outcome.gid, b->u.outcome.gid));
		assert_int_equal(a->u.outcome.status, b->u.outcome.status);
		assert_int_equal(a->u.outcome.leader, b->u.outcome.leader);
		assert_true(px_str_eq(a->u.outcome.reason, b->u.outcome.reason));
		break;
	case PX_MSG_EXEC:
		assert_int_equal(a->u.exec.req, b->u.exec.req);
		assert_true(px_str_eq(a->u.exec.gid, b->u.exec.gid));
		assert_int_equal(a->u.exec.stmt, b->u.exec.stmt);
		assert_int_equal(a->u.exec.timeout_ms, b->u.exec.timeout_ms);
		assert_true(px_str_eq(a->u.exec.sql, b->u.exec.sql));
		assert_int_equal(a->u.exec.nparams, b->u.exec.nparams);
		for (i = 0; i < a->u.exec.nparams; i++)
			assert_true(px_str_eq(a->u.exec.params[i],
					      b->u.exec.params[i]));
		break;
	case PX_MSG_EXEC_RESULT: {
		const struct px_mexec_result *x = &a->u.exec_result;
		const struct px_mexec_result *y = &b->u.exec_result;

		assert_int_equal(x->req, y->req);
		assert_true(px_str_eq(x->gid, y->gid));
		assert_int_equal(x->status, y->status);
		assert_true(px_str_eq(x->sqlstate, y->sqlstate));
		assert_true(px_str_eq(x->reason, y->reason));
		assert_int_equal(x->ncols, y->ncols);
		assert_true(list_eq(x->cols, x->cols_len, y->cols, y->cols_len));
		assert_int_equal(x->nrows, y->nrows);
		assert_true(
			list_eq(x->cells, x->cells_len, y->cells, y->cells_len));
		break;
	}
	case PX_MSG_PREPARE:
		assert_true(px_str_eq(a->u.prepare.gid, b->u.prepare.gid));
		assert_int_equal(a->u.prepare.abort, b->u.prepare.abort);
		assert_true(px_pset_eq(&a->u.prepare.pset, &b->u.prepare.pset));
		break;
	case PX_MSG_VOTE:
		assert_true(px_str_eq(a->u.vote.gid, b->u.vote.gid));
		assert_int_equal(a->u.vote.rm, b->u.vote.rm);
		assert_int_equal(a->u.vote.val, b->u.vote.val);
		assert_true(px_str_eq(a->u.vote.reason, b->u.vote.reason));
		break;
	case PX_MSG_PING:
		assert_int_equal(a->u.ping.req, b->u.ping.req);
		break;
	case PX_MSG_PONG:
		assert_int_equal(a->u.pong.req, b->u.pong.req);
		assert_int_equal(a->u.pong.kind, b->u.pong.kind);
		assert_int_equal(a->u.pong.id, b->u.pong.id);
		assert_true(px_str_eq(a->u.pong.cluster, b->u.pong.cluster));
		assert_true(px_str_eq(a->u.pong.name, b->u.pong.name));
		break;
	default:
		fail_msg("unexpected type %d", a->type);
	}
}

/*
 * Encode, decode, compare, re-encode: the second encoding must be the same
 * bytes.  Also checks that one byte less of room is PX_ESPACE.  Returns
 * the frame size.
 */
static size_t roundtrip_cap(const struct px_msg *m, size_t cap)
{
	uint8_t *buf = xmalloc(cap), *buf2 = xmalloc(cap), *exact;
	struct px_msg *d = new_msg();
	size_t n = 0, n2 = 0;

	assert_int_equal(px_encode(m, buf, cap, &n), PX_EOK);
	assert_true(n >= PX_HDR_LEN && n <= cap);
	/* decode from a block of exactly n bytes; d's views point into it */
	exact = xmalloc(n);
	memcpy(exact, buf, n);
	assert_int_equal(px_decode(exact, n, d), PX_EOK);
	assert_msg_eq(m, d);
	assert_int_equal(px_encode(d, buf2, cap, &n2), PX_EOK);
	assert_int_equal(n, n2);
	assert_memory_equal(buf, buf2, n);
	assert_int_equal(px_encode(m, buf2, n - 1, &n2), PX_ESPACE);
	free(exact);
	free(d);
	free(buf2);
	free(buf);
	return n;
}

static size_t roundtrip(const struct px_msg *m)
{
	return roundtrip_cap(m, CAP_SMALL);
}

/* ---- hand-built frames ---- */

struct fb {
	uint8_t *b;
	struct px_wcur w;
};

static void fb_begin(struct fb *f, size_t cap, unsigned type)
{
	f->b = malloc(cap);
	assert_non_null(f->b);
	px_wcur_init(&f->w, f->b, cap);
	px_put_u16(&f->w, PX_MAGIC);
	px_put_u8(&f->w, PX_VERSION);
	px_put_u8(&f->w, (uint8_t)type);
	px_put_u32(&f->w, 0); /* patched by fb_end */
}

static void fb_str(struct fb *f, const char *s)
{
	px_put_str(&f->w, s, (uint32_t)strlen(s));
}

/* A string of n copies of c. */
static void fb_fill(struct fb *f, uint32_t n, char c)
{
	uint8_t *p;

	px_put_u32(&f->w, n);
	p = px_put_reserve(&f->w, n);
	assert_non_null(p);
	memset(p, c, n);
}

static void fb_pset(struct fb *f, unsigned n, const uint16_t *ids)
{
	unsigned i;

	px_put_u16(&f->w, (uint16_t)n);
	for (i = 0; i < n; i++)
		px_put_u16(&f->w, ids[i]);
}

static size_t fb_end(struct fb *f)
{
	size_t n;

	assert_int_equal(f->w.err, 0);
	n = (size_t)(f->w.p - f->b);
	px_le32_store(f->b + 4, (uint32_t)(n - PX_HDR_LEN));
	return n;
}

/* Finish, decode, free; returns the decoder's verdict. */
static int fb_decode(struct fb *f)
{
	size_t n = fb_end(f);
	int err = decode_err(f->b, n);

	free(f->b);
	return err;
}

static int raw_1b(uint8_t vval, uint8_t flags, uint8_t outcome,
		  unsigned n, const uint16_t *ids)
{
	struct fb f;

	fb_begin(&f, 512, PX_MSG_1B);
	fb_str(&f, GID);
	px_put_u16(&f.w, 1);
	px_put_u32(&f.w, 5);
	px_put_u32(&f.w, 5);
	px_put_u32(&f.w, 0);
	px_put_u8(&f.w, vval);
	px_put_u8(&f.w, flags);
	px_put_u8(&f.w, outcome);
	fb_pset(&f, n, ids);
	return fb_decode(&f);
}

static int raw_2a(const char *gid, uint8_t val, unsigned n,
		  const uint16_t *ids)
{
	struct fb f;

	fb_begin(&f, 512, PX_MSG_2A);
	fb_str(&f, gid);
	px_put_u16(&f.w, 1);
	px_put_u32(&f.w, 0);
	px_put_u8(&f.w, val);
	fb_pset(&f, n, ids);
	return fb_decode(&f);
}

static int raw_2b(uint8_t val, uint8_t flags, uint8_t outcome, unsigned n,
		  const uint16_t *ids)
{
	struct fb f;

	fb_begin(&f, 512, PX_MSG_2B);
	fb_str(&f, GID);
	px_put_u16(&f.w, 1);
	px_put_u32(&f.w, 0);
	px_put_u8(&f.w, val);
	px_put_u8(&f.w, flags);
	px_put_u32(&f.w, 0);
	px_put_u8(&f.w, outcome);
	fb_pset(&f, n, ids);
	return fb_decode(&f);
}

/* DECISION: gid, outcome, pset; DECISION_ACK: gid, rm, outcome;
 * FORGET: gid, outcome */
static int raw_gid_outcome(unsigned type, uint8_t outcome)
{
	struct fb f;

	fb_begin(&f, 512, type);
	fb_str(&f, GID);
	if (type == PX_MSG_DECISION_ACK)
		px_put_u16(&f.w, 2);
	px_put_u8(&f.w, outcome);
	if (type == PX_MSG_DECISION)
		fb_pset(&f, 3, IDS3);
	return fb_decode(&f);
}

static int raw_sync(uint8_t done, uint16_t count, uint8_t outcome)
{
	struct fb f;
	unsigned i;

	fb_begin(&f, 64 * 1024, PX_MSG_SYNC);
	px_put_u64(&f.w, 7);
	px_put_u8(&f.w, done);
	px_put_u16(&f.w, count);
	for (i = 0; i < count; i++) {
		fb_str(&f, GID);
		px_put_u8(&f.w, outcome);
		fb_pset(&f, 3, IDS3);
	}
	return fb_decode(&f);
}

static int raw_commit_req(uint8_t wait, unsigned n, const uint16_t *ids)
{
	struct fb f;

	fb_begin(&f, 512, PX_MSG_COMMIT_REQ);
	px_put_u64(&f.w, 1);
	fb_str(&f, GID);
	px_put_u8(&f.w, wait);
	fb_pset(&f, n, ids);
	return fb_decode(&f);
}

static int raw_outcome(uint8_t status, uint32_t reason_len)
{
	struct fb f;

	fb_begin(&f, 4096, PX_MSG_OUTCOME);
	px_put_u64(&f.w, 1);
	fb_str(&f, GID);
	px_put_u8(&f.w, status);
	px_put_u8(&f.w, 0xFF);
	fb_fill(&f, reason_len, 'r');
	return fb_decode(&f);
}

static int raw_prepare(uint8_t abort_flag, unsigned n, const uint16_t *ids)
{
	struct fb f;

	fb_begin(&f, 512, PX_MSG_PREPARE);
	fb_str(&f, GID);
	px_put_u8(&f.w, abort_flag);
	fb_pset(&f, n, ids);
	return fb_decode(&f);
}

static int raw_vote(uint8_t val)
{
	struct fb f;

	fb_begin(&f, 512, PX_MSG_VOTE);
	fb_str(&f, GID);
	px_put_u16(&f.w, 2);
	px_put_u8(&f.w, val);
	fb_str(&f, "");
	return fb_decode(&f);
}

/* EXEC_RESULT head up to and including reason; the caller adds the rest. */
static void fb_exec_result_head(struct fb *f, size_t cap, uint8_t status,
				const char *sqlstate)
{
	fb_begin(f, cap, PX_MSG_EXEC_RESULT);
	px_put_u64(&f->w, 9);
	fb_str(f, GID);
	px_put_u8(&f->w, status);
	fb_str(f, sqlstate);
	fb_str(f, "");
}

/* ================================================================ */
/* round trips                                                       */
/* ================================================================ */

static void test_roundtrip_every_type(void **state)
{
	uint8_t scratch[1024];
	struct px_msg *m = new_msg();
	int t;

	(void)state;
	for (t = 1; t < PX_MSG_TYPE_MAX_; t++) {
		sample(t, m, scratch, sizeof(scratch));
		roundtrip(m);
	}
	free(m);
}

/* Pin the byte layout of one frame. */
static void test_wire_layout_1a(void **state)
{
	static const uint8_t want[] = {
		0x50, 0x58, 0x01, 0x01, 0x0f, 0x00, 0x00, 0x00, /* header */
		0x01, 0x00, 0x00, 0x00, 'g',                    /* gid */
		0x34, 0x12,                                     /* rm */
		0x78, 0x56, 0x34, 0x12,                         /* bal */
		0x01, 0x00, 0x09, 0x00,                         /* pset {9} */
	};
	struct px_msg m, d;
	uint8_t buf[64];
	size_t n = 0;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.type = PX_MSG_1A;
	m.u.m1a.gid = S("g");
	m.u.m1a.rm = 0x1234;
	m.u.m1a.bal = 0x12345678;
	m.u.m1a.pset.n = 1;
	m.u.m1a.pset.rm[0] = 9;
	assert_int_equal(px_encode(&m, buf, sizeof(buf), &n), PX_EOK);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(px_decode(want, sizeof(want), &d), PX_EOK);
	assert_int_equal(d.u.m1a.rm, 0x1234);
	assert_int_equal(d.u.m1a.bal, 0x12345678);
	/* the gid is a view into the frame */
	assert_ptr_equal(d.u.m1a.gid.p, (const char *)want + 12);
}

static void test_roundtrip_max_gid_max_pset(void **state)
{
	char gid[PX_GID_MAX];
	struct px_msg *m = new_msg();
	unsigned i;

	(void)state;
	memset(gid, 'G', sizeof(gid));
	m->type = PX_MSG_2A;
	m->u.m2a.gid = px_str_of(gid, PX_GID_MAX);
	m->u.m2a.rm = 0xFFFF;
	m->u.m2a.bal = UINT32_MAX;
	m->u.m2a.val = PX_VAL_ABORTED;
	m->u.m2a.pset.n = PX_PSET_MAX;
	for (i = 0; i < PX_PSET_MAX; i++)
		m->u.m2a.pset.rm[i] = (uint16_t)(i * 2000);
	m->u.m2a.pset.rm[PX_PSET_MAX - 1] = 0xFFFF;
	assert_true(px_pset_valid(&m->u.m2a.pset));
	roundtrip(m);

	m->type = PX_MSG_COMMIT_REQ;
	memset(&m->u, 0, sizeof(m->u));
	m->u.commit_req.req = UINT64_MAX;
	m->u.commit_req.gid = px_str_of(gid, PX_GID_MAX);
	m->u.commit_req.wait = PX_WAIT_DECIDED;
	m->u.commit_req.pset.n = PX_PSET_MAX;
	for (i = 0; i < PX_PSET_MAX; i++)
		m->u.commit_req.pset.rm[i] = (uint16_t)i;
	roundtrip(m);
	free(m);
}

static void test_roundtrip_acceptor_edges(void **state)
{
	struct px_msg *m = new_msg();
	uint8_t scratch[64];

	(void)state;
	/* 1b with no accepted value and an empty pset */
	sample(PX_MSG_1B, m, scratch, sizeof(scratch));
	m->u.m1b.vval = PX_VAL_NONE;
	m->u.m1b.vbal = 0;
	m->u.m1b.outcome = PX_OUT_NONE;
	m->u.m1b.flags = 0;
	m->u.m1b.pset.n = 0;
	roundtrip(m);
	/* every known flag at once */
	m->u.m1b.flags = 0x3F;
	m->u.m1b.bal = m->u.m1b.mbal = m->u.m1b.vbal = UINT32_MAX;
	roundtrip(m);

	/* 2b refusal with an empty stored pset */
	sample(PX_MSG_2B, m, scratch, sizeof(scratch));
	m->u.m2b.val = PX_VAL_NONE;
	m->u.m2b.flags = PX_ACC_PSET_CONFLICT | PX_ACC_FORGOTTEN;
	m->u.m2b.mbal = UINT32_MAX;
	m->u.m2b.outcome = PX_OUT_ABORT;
	m->u.m2b.pset.n = 0;
	roundtrip(m);

	/* heartbeat of a replica that trusts no one */
	sample(PX_MSG_HEARTBEAT, m, scratch, sizeof(scratch));
	m->u.heartbeat.replica = 0xFE;
	m->u.heartbeat.leader = 0xFF;
	m->u.heartbeat.maxbal = UINT32_MAX;
	m->u.heartbeat.horizon = UINT64_MAX;
	m->u.heartbeat.hears = 0xFF;
	m->u.heartbeat.heard_by = 0xFF;
	assert_int_equal(roundtrip(m), PX_HDR_LEN + 16);

	sample(PX_MSG_SYNC_REQ, m, scratch, sizeof(scratch));
	m->u.sync_req.cursor = UINT64_MAX;
	assert_int_equal(roundtrip(m), PX_HDR_LEN + 12);

	/* prepare that dooms the transaction, with a single participant */
	sample(PX_MSG_PREPARE, m, scratch, sizeof(scratch));
	m->u.prepare.abort = 1;
	m->u.prepare.pset.n = 1;
	m->u.prepare.pset.rm[0] = 0;
	roundtrip(m);

	sample(PX_MSG_VOTE, m, scratch, sizeof(scratch));
	m->u.vote.val = PX_VAL_ABORTED;
	roundtrip(m);
	free(m);
}

static void test_roundtrip_sync_full_and_empty(void **state)
{
	char *gids = xmalloc(PX_SYNC_MAX * PX_GID_MAX);
	struct px_msg *m = new_msg();
	unsigned i, j;

	(void)state;
	m->type = PX_MSG_SYNC;
	m->u.sync.cursor = 1;
	m->u.sync.done = 1;
	m->u.sync.count = 0;
	roundtrip(m);

	m->u.sync.done = 0;
	m->u.sync.count = PX_SYNC_MAX;
	for (i = 0; i < PX_SYNC_MAX; i++) {
		struct px_sync_entry *e = &m->u.sync.e[i];

		char *g = gids + i * PX_GID_MAX;

		memset(g, 'a' + (int)(i % 26), PX_GID_MAX);
		e->gid = px_str_of(g, PX_GID_MAX);
		e->outcome = (uint8_t)(i % 3);
		e->pset.n = PX_PSET_MAX;
		for (j = 0; j < PX_PSET_MAX; j++)
			e->pset.rm[j] = (uint16_t)(j + i);
	}
	roundtrip(m);
	free(gids);
	free(m);
}

static void test_roundtrip_outcome(void **state)
{
	char reason[PX_REASON_MAX];
	struct px_msg *m = new_msg();
	uint8_t scratch[64];
	int st;

	(void)state;
	memset(reason, 'x', sizeof(reason));
	sample(PX_MSG_OUTCOME, m, scratch, sizeof(scratch));
	for (st = PX_ST_COMMITTED; st <= PX_ST_ERROR; st++) {
		m->u.outcome.status = (uint8_t)st;
		roundtrip(m);
	}
	m->u.outcome.status = PX_ST_NOT_LEADER;
	m->u.outcome.leader = 0xFF;
	m->u.outcome.reason = px_str_of(reason, PX_REASON_MAX);
	roundtrip(m);
	m->u.outcome.reason = S("");
	roundtrip(m);
	free(m);
}

static void test_roundtrip_exec_params(void **state)
{
	struct px_msg *m = new_msg();
	struct px_msg *d = new_msg();
	uint8_t scratch[64], *buf;
	unsigned i;
	size_t n = 0;

	(void)state;
	sample(PX_MSG_EXEC, m, scratch, sizeof(scratch));
	/* no parameters */
	m->u.exec.nparams = 0;
	roundtrip(m);
	/* the maximum number, mixing NULL, empty and ordinary values */
	m->u.exec.nparams = PX_PARAMS_MAX;
	for (i = 0; i < PX_PARAMS_MAX; i++) {
		if (i % 3 == 0)
			m->u.exec.params[i] = SNULL;
		else if (i % 3 == 1)
			m->u.exec.params[i] = S("");
		else
			m->u.exec.params[i] = S("value");
	}
	roundtrip(m);

	/* NULL and empty survive as different things */
	buf = xmalloc(CAP_SMALL);
	assert_int_equal(px_encode(m, buf, CAP_SMALL, &n), PX_EOK);
	assert_int_equal(px_decode(buf, n, d), PX_EOK);
	assert_int_equal(d->u.exec.params[0].len, PX_NULL_LEN);
	assert_null(d->u.exec.params[0].p);
	assert_int_equal(d->u.exec.params[1].len, 0);
	assert_non_null(d->u.exec.params[1].p);
	assert_false(px_str_eq(d->u.exec.params[0], d->u.exec.params[1]));
	free(buf);
	free(d);
	free(m);
}

static void test_roundtrip_exec_at_limits(void **state)
{
	struct px_msg *m = new_msg();
	uint8_t scratch[64];
	char *big = xmalloc(PX_SQL_MAX);
	size_t cap = PX_SQL_MAX + 2 * PX_PARAM_MAX + 4096;

	(void)state;
	memset(big, 's', PX_SQL_MAX);
	sample(PX_MSG_EXEC, m, scratch, sizeof(scratch));
	m->u.exec.sql = px_str_of(big, PX_SQL_MAX);
	m->u.exec.nparams = 3;
	m->u.exec.params[0] = px_str_of(big, PX_PARAM_MAX);
	m->u.exec.params[1] = SNULL;
	m->u.exec.params[2] = px_str_of(big, PX_PARAM_MAX);
	roundtrip_cap(m, cap);
	free(big);
	free(m);
}

/* Walk a decoded list, comparing with the expected strings. */
static void assert_list(const uint8_t *base, uint32_t len,
			const struct px_str *want, unsigned n)
{
	struct px_str s;
	uint32_t pos = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		assert_int_equal(px_str_next(base, len, &pos, &s), 1);
		assert_true(px_str_eq(s, want[i]));
		if (want[i].len == PX_NULL_LEN)
			assert_null(s.p);
	}
	assert_int_equal(px_str_next(base, len, &pos, &s), 0);
	assert_int_equal(pos, len);
}

static void test_roundtrip_exec_result_rows(void **state)
{
	const struct px_str cols[] = {S("id"), S("owner"), S("note")};
	const struct px_str cells[] = {
		S("1"), S("alice"), SNULL,  /* row 0 */
		S("2"), SNULL,      S(""),  /* row 1 */
		SNULL,  SNULL,      SNULL,  /* row 2 */
	};
	struct px_msg *m = new_msg(), *d = new_msg();
	uint8_t scratch[512], buf[1024];
	struct px_mexec_result *r = &m->u.exec_result;
	size_t n = 0;

	(void)state;
	sample(PX_MSG_EXEC_RESULT, m, scratch, sizeof(scratch));
	r->ncols = 3;
	r->cols_len = build_list(scratch, 256, cols, 3);
	r->nrows = 3;
	r->cells_len = build_list(scratch + 256, 256, cells, 9);
	roundtrip(m);

	assert_int_equal(px_encode(m, buf, sizeof(buf), &n), PX_EOK);
	assert_int_equal(px_decode(buf, n, d), PX_EOK);
	assert_list(d->u.exec_result.cols, d->u.exec_result.cols_len, cols, 3);
	assert_list(d->u.exec_result.cells, d->u.exec_result.cells_len, cells,
		    9);
	free(d);
	free(m);
}

static void test_roundtrip_exec_result_empty(void **state)
{
	struct px_msg *m = new_msg(), *d = new_msg();
	uint8_t scratch[512], buf[1024];
	struct px_mexec_result *r = &m->u.exec_result;
	struct px_str s;
	uint32_t pos = 0;
	size_t n = 0;

	(void)state;
	/* a statement without a result set */
	sample(PX_MSG_EXEC_RESULT, m, scratch, sizeof(scratch));
	r->ncols = 0;
	r->cols = NULL;
	r->cols_len = 0;
	r->nrows = 0;
	r->cells = NULL;
	r->cells_len = 0;
	roundtrip(m);
	assert_int_equal(px_encode(m, buf, sizeof(buf), &n), PX_EOK);
	assert_int_equal(px_decode(buf, n, d), PX_EOK);
	assert_int_equal(d->u.exec_result.cols_len, 0);
	assert_int_equal(d->u.exec_result.cells_len, 0);
	assert_int_equal(px_str_next(d->u.exec_result.cells, 0, &pos, &s), 0);

	/* columns but no rows */
	sample(PX_MSG_EXEC_RESULT, m, scratch, sizeof(scratch));
	r->nrows = 0;
	r->cells_len = 0;
	roundtrip(m);

	/* a PostgreSQL error */
	sample(PX_MSG_EXEC_RESULT, m, scratch, sizeof(scratch));
	r->status = PX_EXEC_SQLERR;
	r->sqlstate = S("23505");
	r->reason = S("duplicate key value violates unique constraint");
	r->ncols = 0;
	r->cols_len = 0;
	r->nrows = 0;
	r->cells_len = 0;
	roundtrip(m);
	free(d);
	free(m);
}

static void test_roundtrip_exec_result_max_cols(void **state)
{
	struct px_msg *m = new_msg();
	struct px_mexec_result *r = &m->u.exec_result;
	struct px_wcur w;
	uint8_t *cols = xmalloc(PX_COLS_MAX * 8);
	uint8_t *cells = xmalloc(PX_COLS_MAX * 8);
	unsigned i;

	(void)state;
	px_wcur_init(&w, cols, PX_COLS_MAX * 8);
	for (i = 0; i < PX_COLS_MAX; i++)
		px_put_str(&w, "c", 1);
	assert_int_equal(w.err, 0);
	m->type = PX_MSG_EXEC_RESULT;
	r->req = 1;
	r->gid = S(GID);
	r->status = PX_EXEC_OK;
	r->ncols = PX_COLS_MAX;
	r->cols = cols;
	r->cols_len = (uint32_t)(w.p - cols);
	px_wcur_init(&w, cells, PX_COLS_MAX * 8);
	for (i = 0; i < PX_COLS_MAX; i++)
		px_put_str(&w, NULL, PX_NULL_LEN);
	assert_int_equal(w.err, 0);
	r->nrows = 1;
	r->cells = cells;
	r->cells_len = (uint32_t)(w.p - cells);
	roundtrip(m);
	free(cells);
	free(cols);
	free(m);
}

/* ================================================================ */
/* header                                                            */
/* ================================================================ */

static size_t sample_frame(int type, uint8_t *buf, size_t cap)
{
	uint8_t scratch[1024];
	struct px_msg *m = new_msg();
	size_t n = 0;

	sample(type, m, scratch, sizeof(scratch));
	assert_int_equal(px_encode(m, buf, cap, &n), PX_EOK);
	free(m);
	return n;
}

static void test_bad_magic(void **state)
{
	uint8_t buf[1024];
	size_t n = sample_frame(PX_MSG_1A, buf, sizeof(buf));

	(void)state;
	buf[0] = 'X';
	buf[1] = 'P'; /* byte-swapped magic */
	assert_int_equal(decode_err(buf, n), PX_EMAGIC);
	buf[0] = 0;
	buf[1] = 0;
	assert_int_equal(decode_err(buf, n), PX_EMAGIC);
	memset(buf, 0, PX_HDR_LEN);
	assert_int_equal(decode_err(buf, PX_HDR_LEN), PX_EMAGIC);
}

static void test_bad_version(void **state)
{
	uint8_t buf[1024];
	size_t n = sample_frame(PX_MSG_2B, buf, sizeof(buf));

	(void)state;
	buf[2] = 0;
	assert_int_equal(decode_err(buf, n), PX_EVERSION);
	buf[2] = PX_VERSION + 1;
	assert_int_equal(decode_err(buf, n), PX_EVERSION);
	buf[2] = 0xFF;
	assert_int_equal(decode_err(buf, n), PX_EVERSION);
}

static void test_unknown_type(void **state)
{
	uint8_t buf[1024];
	size_t n = sample_frame(PX_MSG_HEARTBEAT, buf, sizeof(buf));
	struct px_msg m;
	size_t out = 0;

	(void)state;
	buf[3] = 0;
	assert_int_equal(decode_err(buf, n), PX_ETYPE);
	buf[3] = PX_MSG_TYPE_MAX_;
	assert_int_equal(decode_err(buf, n), PX_ETYPE);
	buf[3] = 0xFF;
	assert_int_equal(decode_err(buf, n), PX_ETYPE);

	/* the encoder refuses them too */
	memset(&m, 0, sizeof(m));
	m.type = 0;
	assert_int_equal(px_encode(&m, buf, sizeof(buf), &out), PX_ETYPE);
	m.type = PX_MSG_TYPE_MAX_;
	assert_int_equal(px_encode(&m, buf, sizeof(buf), &out), PX_ETYPE);
}

static void test_short_header(void **state)
{
	uint8_t buf[1024];
	size_t i;

	(void)state;
	sample_frame(PX_MSG_SYNC_REQ, buf, sizeof(buf));
	for (i = 0; i < PX_HDR_LEN; i++)
		assert_int_equal(decode_err(buf, i), PX_ETRUNC);
	assert_int_equal(px_decode(NULL, 0, NULL), PX_ETRUNC);
}

static void test_header_length_mismatch(void **state)
{
	uint8_t buf[1024];
	size_t n = sample_frame(PX_MSG_DECISION, buf, sizeof(buf));
	uint32_t plen = (uint32_t)(n - PX_HDR_LEN);

	(void)state;
	/* header claims more than the frame has */
	px_le32_store(buf + 4, plen + 1);
	assert_int_equal(decode_err(buf, n), PX_ELENGTH);
	/* header claims less */
	px_le32_store(buf + 4, plen - 1);
	assert_int_equal(decode_err(buf, n), PX_ELENGTH);
	px_le32_store(buf + 4, 0);
	assert_int_equal(decode_err(buf, n), PX_ELENGTH);
	/* header claims more than any frame may hold */
	px_le32_store(buf + 4, PX_FRAME_MAX);
	assert_int_equal(decode_err(buf, n), PX_ETOOLONG);
	px_le32_store(buf + 4, UINT32_MAX);
	assert_int_equal(decode_err(buf, n), PX_ETOOLONG);
	/* right again */
	px_le32_store(buf + 4, plen);
	assert_int_equal(decode_err(buf, n), PX_EOK);
}

static void test_frame_too_long(void **state)
{
	size_t n = (size_t)PX_FRAME_MAX + 1;
	uint8_t *buf = xmalloc(n);
	struct px_msg *m = new_msg();

	(void)state;
	memset(buf, 0, n);
	px_le16_store(buf, PX_MAGIC);
	buf[2] = PX_VERSION;
	buf[3] = PX_MSG_EXEC;
	px_le32_store(buf + 4, (uint32_t)(n - PX_HDR_LEN));
	assert_int_equal(px_decode(buf, n, m), PX_ETOOLONG);
	free(m);
	free(buf);
}

/* An empty payload where fields are due. */
static void test_empty_payload(void **state)
{
	uint8_t hdr[PX_HDR_LEN];
	int t;

	(void)state;
	px_le16_store(hdr, PX_MAGIC);
	hdr[2] = PX_VERSION;
	px_le32_store(hdr + 4, 0);
	for (t = 1; t < PX_MSG_TYPE_MAX_; t++) {
		hdr[3] = (uint8_t)t;
		assert_int_equal(decode_err(hdr, sizeof(hdr)), PX_ETRUNC);
	}
}

/* ================================================================ */
/* truncation and trailing bytes                                     */
/* ================================================================ */

static void test_truncated_every_offset(void **state)
{
	uint8_t buf[1024], cut[1024];
	size_t n, i;
	int t;

	(void)state;
	for (t = 1; t < PX_MSG_TYPE_MAX_; t++) {
		n = sample_frame(t, buf, sizeof(buf));
		for (i = 0; i < n; i++) {
			int want = i < PX_HDR_LEN ? PX_ETRUNC : PX_ELENGTH;

			/* the frame as received, cut short */
			assert_int_equal(decode_err(buf, i), want);
			if (i < PX_HDR_LEN)
				continue;
			/* the header agreeing with the cut: the payload
			 * parser itself must find the missing bytes */
			memcpy(cut, buf, i);
			px_le32_store(cut + 4, (uint32_t)(i - PX_HDR_LEN));
			assert_int_equal(decode_err(cut, i), PX_ETRUNC);
		}
		assert_int_equal(decode_err(buf, n), PX_EOK);
	}
}

static void test_trailing_bytes(void **state)
{
	uint8_t buf[1100];
	size_t n;
	int t;

	(void)state;
	for (t = 1; t < PX_MSG_TYPE_MAX_; t++) {
		n = sample_frame(t, buf, sizeof(buf));
		buf[n] = 0;
		px_le32_store(buf + 4, (uint32_t)(n + 1 - PX_HDR_LEN));
		assert_int_equal(decode_err(buf, n + 1), PX_ETRAILING);
		memset(buf + n, 0xFF, 64);
		px_le32_store(buf + 4, (uint32_t)(n + 64 - PX_HDR_LEN));
		assert_int_equal(decode_err(buf, n + 64), PX_ETRAILING);
	}
}

/* ================================================================ */
/* gid, strings and counts over their limits                         */
/* ================================================================ */

static void test_gid_limits(void **state)
{
	char gid[PX_GID_MAX + 2];
	struct px_msg *m = new_msg();
	uint8_t scratch[64];

	(void)state;
	memset(gid, 'g', sizeof(gid) - 1);
	gid[sizeof(gid) - 1] = 0;
	/* 200 bytes: PostgreSQL would refuse it */
	gid[PX_GID_MAX + 1] = 0;
	assert_int_equal(strlen(gid), 200);
	assert_int_equal(raw_2a(gid, PX_VAL_PREPARED, 3, IDS3), PX_ETOOLONG);
	gid[PX_GID_MAX] = 0;
	assert_int_equal(raw_2a(gid, PX_VAL_PREPARED, 3, IDS3), PX_EOK);
	assert_int_equal(raw_2a("", PX_VAL_PREPARED, 3, IDS3), PX_EVALUE);

	sample(PX_MSG_2A, m, scratch, sizeof(scratch));
	memset(gid, 'g', sizeof(gid));
	m->u.m2a.gid = px_str_of(gid, PX_GID_MAX + 1);
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	m->u.m2a.gid = px_str_of(gid, 0);
	assert_int_equal(encode_err(m), PX_EVALUE);
	m->u.m2a.gid = px_str_of(NULL, PX_NULL_LEN);
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	m->u.m2a.gid = px_str_of(NULL, 5); /* bytes promised, none given */
	assert_int_equal(encode_err(m), PX_EVALUE);

	/* a gid is never nullable */
	{
		struct fb f;

		fb_begin(&f, 64, PX_MSG_STATUS_REQ);
		px_put_u64(&f.w, 1);
		px_put_u32(&f.w, PX_NULL_LEN);
		assert_int_equal(fb_decode(&f), PX_ETOOLONG);
	}
	free(m);
}

static void test_reason_limit(void **state)
{
	char reason[PX_REASON_MAX + 1];
	struct px_msg *m = new_msg();
	uint8_t scratch[64];

	(void)state;
	assert_int_equal(raw_outcome(PX_ST_ERROR, PX_REASON_MAX), PX_EOK);
	assert_int_equal(raw_outcome(PX_ST_ERROR, PX_REASON_MAX + 1),
			 PX_ETOOLONG);

	memset(reason, 'r', sizeof(reason));
	sample(PX_MSG_OUTCOME, m, scratch, sizeof(scratch));
	m->u.outcome.reason = px_str_of(reason, PX_REASON_MAX + 1);
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	m->u.outcome.reason = SNULL; /* not nullable */
	assert_int_equal(encode_err(m), PX_ETOOLONG);

	sample(PX_MSG_EXEC_RESULT, m, scratch, sizeof(scratch));
	m->u.exec_result.reason = px_str_of(reason, PX_REASON_MAX + 1);
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	free(m);
}

static void test_sql_limit(void **state)
{
	struct px_msg *m = new_msg();
	uint8_t scratch[64];
	char *big = xmalloc(PX_SQL_MAX + 1);
	struct fb f;

	(void)state;
	memset(big, 's', PX_SQL_MAX + 1);
	fb_begin(&f, PX_SQL_MAX + 1024, PX_MSG_EXEC);
	px_put_u64(&f.w, 1);
	fb_str(&f, GID);
	px_put_u32(&f.w, 0); /* stmt */
	px_put_u32(&f.w, 0); /* timeout_ms */
	fb_fill(&f, PX_SQL_MAX + 1, 's');
	px_put_u16(&f.w, 0);
	assert_int_equal(fb_decode(&f), PX_ETOOLONG);

	sample(PX_MSG_EXEC, m, scratch, sizeof(scratch));
	m->u.exec.sql = px_str_of(big, PX_SQL_MAX + 1);
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	m->u.exec.sql = SNULL;
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	free(big);
	free(m);
}

static void test_param_limits(void **state)
{
	struct px_msg *m = new_msg();
	uint8_t scratch[64];
	char *big = xmalloc(PX_PARAM_MAX + 1);
	struct fb f;
	unsigned i;

	(void)state;
	memset(big, 'p', PX_PARAM_MAX + 1);
	/* one parameter one byte over */
	fb_begin(&f, PX_PARAM_MAX + 1024, PX_MSG_EXEC);
	px_put_u64(&f.w, 1);
	fb_str(&f, GID);
	px_put_u32(&f.w, 0); /* stmt */
	px_put_u32(&f.w, 0); /* timeout_ms */
	fb_str(&f, "SELECT $1, $2");
	px_put_u16(&f.w, 2);
	px_put_u32(&f.w, PX_NULL_LEN);
	fb_fill(&f, PX_PARAM_MAX + 1, 'p');
	assert_int_equal(fb_decode(&f), PX_ETOOLONG);

	/* too many parameters */
	fb_begin(&f, 4096, PX_MSG_EXEC);
	px_put_u64(&f.w, 1);
	fb_str(&f, GID);
	px_put_u32(&f.w, 0); /* stmt */
	px_put_u32(&f.w, 0); /* timeout_ms */
	fb_str(&f, "SELECT 1");
	px_put_u16(&f.w, PX_PARAMS_MAX + 1);
	for (i = 0; i < PX_PARAMS_MAX + 1; i++)
		px_put_u32(&f.w, PX_NULL_LEN);
	assert_int_equal(fb_decode(&f), PX_ETOOLONG);

	/* the same count with no parameters following: the count is
	 * refused before any parameter is looked for */
	fb_begin(&f, 4096, PX_MSG_EXEC);
	px_put_u64(&f.w, 1);
	fb_str(&f, GID);
	px_put_u32(&f.w, 0); /* stmt */
	px_put_u32(&f.w, 0); /* timeout_ms */
	fb_str(&f, "SELECT 1");
	px_put_u16(&f.w, 0xFFFF);
	assert_int_equal(fb_decode(&f), PX_ETOOLONG);

	sample(PX_MSG_EXEC, m, scratch, sizeof(scratch));
	m->u.exec.params[1] = px_str_of(big, PX_PARAM_MAX + 1);
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	m->u.exec.params[1] = px_str_of(NULL, PX_NULL_LEN - 1);
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	m->u.exec.params[1] = SNULL;
	assert_int_equal(encode_err(m), PX_EOK);
	m->u.exec.nparams = PX_PARAMS_MAX + 1;
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	free(big);
	free(m);
}

static void test_sync_count_limit(void **state)
{
	struct px_msg *m = new_msg();

	(void)state;
	assert_int_equal(raw_sync(0, PX_SYNC_MAX, PX_OUT_NONE), PX_EOK);
	assert_int_equal(raw_sync(0, PX_SYNC_MAX + 1, PX_OUT_NONE),
			 PX_ETOOLONG);

	m->type = PX_MSG_SYNC;
	m->u.sync.count = PX_SYNC_MAX + 1;
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	free(m);
}

/* A length that wraps around if added to a position. */
static void test_huge_string_length(void **state)
{
	struct fb f;

	(void)state;
	/* in a gid: over the gid limit */
	fb_begin(&f, 64, PX_MSG_1A);
	px_put_u32(&f.w, 0xFFFFFFF0u);
	fb_str(&f, "g");
	assert_int_equal(fb_decode(&f), PX_ETOOLONG);

	/* in a statement */
	fb_begin(&f, 128, PX_MSG_EXEC);
	px_put_u64(&f.w, 1);
	fb_str(&f, GID);
	px_put_u32(&f.w, 0); /* stmt */
	px_put_u32(&f.w, 0); /* timeout_ms */
	px_put_u32(&f.w, 0xFFFFFFF0u);
	px_put_u16(&f.w, 0);
	assert_int_equal(fb_decode(&f), PX_ETOOLONG);

	/* in a parameter */
	fb_begin(&f, 128, PX_MSG_EXEC);
	px_put_u64(&f.w, 1);
	fb_str(&f, GID);
	px_put_u32(&f.w, 0); /* stmt */
	px_put_u32(&f.w, 0); /* timeout_ms */
	fb_str(&f, "SELECT $1");
	px_put_u16(&f.w, 1);
	px_put_u32(&f.w, 0xFFFFFFF0u);
	assert_int_equal(fb_decode(&f), PX_ETOOLONG);

	/* in a column name, which has no limit but the frame */
	fb_exec_result_head(&f, 256, PX_EXEC_OK, "");
	px_put_u16(&f.w, 1);
	px_put_u32(&f.w, 0xFFFFFFF0u);
	fb_str(&f, "x");
	px_put_u32(&f.w, 0);
	assert_int_equal(fb_decode(&f), PX_ETRUNC);

	/* a NULL column name is over the limit of a non-nullable string */
	fb_exec_result_head(&f, 256, PX_EXEC_OK, "");
	px_put_u16(&f.w, 1);
	px_put_u32(&f.w, PX_NULL_LEN);
	px_put_u32(&f.w, 0);
	assert_int_equal(fb_decode(&f), PX_ETOOLONG);

	/* in a cell */
	fb_exec_result_head(&f, 256, PX_EXEC_OK, "");
	px_put_u16(&f.w, 1);
	fb_str(&f, "id");
	px_put_u32(&f.w, 1);
	px_put_u32(&f.w, 0xFFFFFFF0u);
	fb_str(&f, "abcdefgh");
	assert_int_equal(fb_decode(&f), PX_ETRUNC);

	/* in the sqlstate */
	fb_begin(&f, 256, PX_MSG_EXEC_RESULT);
	px_put_u64(&f.w, 9);
	fb_str(&f, GID);
	px_put_u8(&f.w, PX_EXEC_SQLERR);
	px_put_u32(&f.w, 0xFFFFFFF0u);
	fb_str(&f, "");
	px_put_u16(&f.w, 0);
	px_put_u32(&f.w, 0);
	assert_int_equal(fb_decode(&f), PX_ETOOLONG);
}

/* A row count that only the remaining bytes can refute. */
static void test_huge_row_count(void **state)
{
	struct fb f;

	(void)state;
	fb_exec_result_head(&f, 256, PX_EXEC_OK, "");
	px_put_u16(&f.w, 2);
	fb_str(&f, "a");
	fb_str(&f, "b");
	px_put_u32(&f.w, UINT32_MAX);
	fb_str(&f, "1");
	fb_str(&f, "2");
	assert_int_equal(fb_decode(&f), PX_ETRUNC);

	fb_exec_result_head(&f, 8192, PX_EXEC_OK, "");
	px_put_u16(&f.w, PX_COLS_MAX);
	{
		unsigned i;

		for (i = 0; i < PX_COLS_MAX; i++)
			fb_str(&f, "");
	}
	px_put_u32(&f.w, UINT32_MAX);
	assert_int_equal(fb_decode(&f), PX_ETRUNC);
}

/* ================================================================ */
/* participant sets                                                  */
/* ================================================================ */

static void test_pset_malformed(void **state)
{
	static const uint16_t unsorted[] = {1, 3, 2};
	static const uint16_t dup[] = {1, 2, 2};
	static const uint16_t desc[] = {5, 4};
	uint16_t many[PX_PSET_MAX + 1];
	unsigned i;

	(void)state;
	for (i = 0; i < PX_PSET_MAX + 1; i++)
		many[i] = (uint16_t)(i + 1);

	assert_int_equal(raw_2a(GID, PX_VAL_PREPARED, 3, IDS3), PX_EOK);
	assert_int_equal(raw_2a(GID, PX_VAL_PREPARED, 3, unsorted), PX_EVALUE);
	assert_int_equal(raw_2a(GID, PX_VAL_PREPARED, 3, dup), PX_EVALUE);
	assert_int_equal(raw_2a(GID, PX_VAL_PREPARED, 2, desc), PX_EVALUE);
	assert_int_equal(raw_2a(GID, PX_VAL_PREPARED, PX_PSET_MAX, many),
			 PX_EOK);
	assert_int_equal(raw_2a(GID, PX_VAL_PREPARED, PX_PSET_MAX + 1, many),
			 PX_ETOOLONG);
	assert_int_equal(raw_2a(GID, PX_VAL_PREPARED, 0, NULL), PX_EVALUE);

	/* the same rules hold in every pset-carrying message */
	assert_int_equal(raw_commit_req(PX_WAIT_DECIDED, 0, NULL), PX_EVALUE);
	assert_int_equal(raw_commit_req(PX_WAIT_DECIDED, 3, dup), PX_EVALUE);
	assert_int_equal(raw_prepare(0, 0, NULL), PX_EVALUE);
	assert_int_equal(raw_prepare(0, 3, unsorted), PX_EVALUE);
	assert_int_equal(raw_1b(PX_VAL_NONE, 0, PX_OUT_NONE, 3, dup),
			 PX_EVALUE);
	assert_int_equal(raw_2b(PX_VAL_NONE, 0, PX_OUT_NONE, PX_PSET_MAX + 1,
				many),
			 PX_ETOOLONG);
	/* a count far beyond the limit with nothing behind it */
	{
		struct fb f;

		fb_begin(&f, 64, PX_MSG_DECISION);
		fb_str(&f, GID);
		px_put_u8(&f.w, PX_OUT_COMMIT);
		px_put_u16(&f.w, 0xFFFF);
		assert_int_equal(fb_decode(&f), PX_ETOOLONG);
	}
}

/* 1b and 2b may carry an empty set; nothing else may. */
static void test_pset_may_be_empty(void **state)
{
	struct px_msg *m = new_msg();
	uint8_t scratch[1024];
	int t;

	(void)state;
	assert_int_equal(raw_1b(PX_VAL_NONE, 0, PX_OUT_NONE, 0, NULL), PX_EOK);
	assert_int_equal(raw_2b(PX_VAL_NONE, 0, PX_OUT_NONE, 0, NULL), PX_EOK);

	for (t = 1; t < PX_MSG_TYPE_MAX_; t++) {
		struct px_pset *p = NULL;
		int want = PX_EVALUE;

		sample(t, m, scratch, sizeof(scratch));
		switch (t) {
		case PX_MSG_1B:
			p = &m->u.m1b.pset;
			want = PX_EOK;
			break;
		case PX_MSG_2B:
			p = &m->u.m2b.pset;
			want = PX_EOK;
			break;
		case PX_MSG_2A:
			p = &m->u.m2a.pset;
			break;
		case PX_MSG_DECISION:
			p = &m->u.decision.pset;
			break;
		case PX_MSG_SYNC:
			p = &m->u.sync.e[1].pset;
			want = PX_EOK;
			break;
		case PX_MSG_1A:
			p = &m->u.m1a.pset;
			want = PX_EOK;
			break;
		case PX_MSG_COMMIT_REQ:
			p = &m->u.commit_req.pset;
			break;
		case PX_MSG_ROLLBACK_REQ:
			p = &m->u.rollback_req.pset;
			break;
		case PX_MSG_PREPARE:
			p = &m->u.prepare.pset;
			break;
		}
		if (!p)
			continue;
		p->n = 0;
		assert_int_equal(encode_err(m), want);
		/* and the other encoder-side pset checks */
		p->n = 3;
		p->rm[0] = 4;
		p->rm[1] = 4;
		p->rm[2] = 5;
		assert_int_equal(encode_err(m), PX_EVALUE);
		p->rm[0] = 6;
		assert_int_equal(encode_err(m), PX_EVALUE);
		p->n = PX_PSET_MAX + 1;
		assert_int_equal(encode_err(m), PX_ETOOLONG);
	}
	free(m);
}

static void test_pset_helpers(void **state)
{
	struct px_pset a = pset_of(IDS3, 3), b = pset_of(IDS3, 3);
	static const uint16_t bad[] = {3, 2};

	(void)state;
	assert_true(px_pset_valid(&a));
	assert_true(px_pset_eq(&a, &b));
	assert_true(px_pset_has(&a, 1));
	assert_true(px_pset_has(&a, 3));
	assert_false(px_pset_has(&a, 0));
	assert_false(px_pset_has(&a, 4));
	/* entries beyond n do not count */
	b.rm[5] = 77;
	assert_true(px_pset_eq(&a, &b));
	assert_false(px_pset_has(&b, 77));
	b.n = 2;
	assert_false(px_pset_eq(&a, &b));
	b = pset_of(bad, 2);
	assert_false(px_pset_valid(&b));
	b.n = 0;
	assert_false(px_pset_valid(&b));
	b = pset_of(IDS3, 1);
	assert_true(px_pset_valid(&b));
	b.n = PX_PSET_MAX + 1;
	assert_false(px_pset_valid(&b));
	assert_false(px_pset_has(&b, 9)); /* bounded walk, no overrun */
}

/* ================================================================ */
/* enum fields                                                       */
/* ================================================================ */

static void test_bad_enum_acceptor(void **state)
{
	(void)state;
	/* 1b */
	assert_int_equal(raw_1b(PX_VAL_ABORTED, 0x3F, PX_OUT_ABORT, 3, IDS3),
			 PX_EOK);
	assert_int_equal(raw_1b(3, 0, PX_OUT_NONE, 3, IDS3), PX_EVALUE);
	assert_int_equal(raw_1b(PX_VAL_NONE, 0x40, PX_OUT_NONE, 3, IDS3),
			 PX_EVALUE);
	assert_int_equal(raw_1b(PX_VAL_NONE, 0x80, PX_OUT_NONE, 3, IDS3),
			 PX_EVALUE);
	assert_int_equal(raw_1b(PX_VAL_NONE, 0, 3, 3, IDS3), PX_EVALUE);
	assert_int_equal(raw_1b(PX_VAL_NONE, 0, 0xFF, 3, IDS3), PX_EVALUE);
	/* 2a: a proposal is never NONE */
	assert_int_equal(raw_2a(GID, PX_VAL_ABORTED, 3, IDS3), PX_EOK);
	assert_int_equal(raw_2a(GID, PX_VAL_NONE, 3, IDS3), PX_EVALUE);
	assert_int_equal(raw_2a(GID, 3, 3, IDS3), PX_EVALUE);
	/* 2b */
	assert_int_equal(raw_2b(PX_VAL_NONE, PX_ACC_VAL_CONFLICT, PX_OUT_NONE,
				3, IDS3),
			 PX_EOK);
	assert_int_equal(raw_2b(4, 0, PX_OUT_NONE, 3, IDS3), PX_EVALUE);
	assert_int_equal(raw_2b(PX_VAL_NONE, 0x41, PX_OUT_NONE, 3, IDS3),
			 PX_EVALUE);
	assert_int_equal(raw_2b(PX_VAL_NONE, 0, 3, 3, IDS3), PX_EVALUE);
	/* vote */
	assert_int_equal(raw_vote(PX_VAL_PREPARED), PX_EOK);
	assert_int_equal(raw_vote(PX_VAL_NONE), PX_EVALUE);
	assert_int_equal(raw_vote(3), PX_EVALUE);
}

static void test_bad_enum_outcome(void **state)
{
	static const unsigned types[] = {PX_MSG_DECISION, PX_MSG_DECISION_ACK,
					 PX_MSG_FORGET};
	unsigned i;

	(void)state;
	for (i = 0; i < 3; i++) {
		assert_int_equal(raw_gid_outcome(types[i], PX_OUT_COMMIT),
				 PX_EOK);
		assert_int_equal(raw_gid_outcome(types[i], PX_OUT_ABORT),
				 PX_EOK);
		/* DECISION and DECISION_ACK carry a decision: NONE is not
		 * one; FORGET may say NONE (the gid was given up) */
		assert_int_equal(raw_gid_outcome(types[i], PX_OUT_NONE),
				 types[i] == PX_MSG_FORGET ? PX_EOK : PX_EVALUE);
		assert_int_equal(raw_gid_outcome(types[i], 3), PX_EVALUE);
	}
	/* SYNC entries may be undecided */
	assert_int_equal(raw_sync(1, 2, PX_OUT_NONE), PX_EOK);
	assert_int_equal(raw_sync(1, 2, 3), PX_EVALUE);
	assert_int_equal(raw_sync(2, 0, PX_OUT_NONE), PX_EVALUE);
}

static void test_bad_enum_client(void **state)
{
	(void)state;
	assert_int_equal(raw_commit_req(PX_WAIT_DECIDED, 3, IDS3), PX_EOK);
	assert_int_equal(raw_commit_req(PX_WAIT_APPLIED, 3, IDS3), PX_EOK);
	assert_int_equal(raw_commit_req(0, 3, IDS3), PX_EVALUE);
	assert_int_equal(raw_commit_req(3, 3, IDS3), PX_EVALUE);
	assert_int_equal(raw_outcome(PX_ST_COMMITTED, 0), PX_EOK);
	assert_int_equal(raw_outcome(PX_ST_ERROR, 0), PX_EOK);
	assert_int_equal(raw_outcome(0, 0), PX_EVALUE);
	assert_int_equal(raw_outcome(PX_ST_ERROR + 1, 0), PX_EVALUE);
	assert_int_equal(raw_prepare(PX_PREPARE_ABORT, 3, IDS3), PX_EOK);
	assert_int_equal(raw_prepare(PX_PREPARE_LATE_RESULTS, 3, IDS3), PX_EOK);
	assert_int_equal(raw_prepare(4, 3, IDS3), PX_EVALUE);
	/* the commit request's flag bits, alone or together */
	assert_int_equal(raw_commit_req(PX_WAIT_APPLIED | PX_WAIT_PREPARE_SENT | PX_WAIT_ACKS_TO_CLIENT, 3, IDS3), PX_EOK);
	assert_int_equal(raw_commit_req(PX_WAIT_ACKS_TO_CLIENT, 3, IDS3), PX_EVALUE);
	assert_int_equal(raw_commit_req(PX_WAIT_APPLIED | 0x20, 3, IDS3), PX_EVALUE);
}

static int raw_exec_status(uint8_t status)
{
	struct fb f;

	fb_exec_result_head(&f, 256, status, "");
	px_put_u16(&f.w, 0);
	px_put_u32(&f.w, 0);
	return fb_decode(&f);
}

static void test_bad_enum_exec_result(void **state)
{
	(void)state;
	assert_int_equal(raw_exec_status(PX_EXEC_OK), PX_EOK);
	assert_int_equal(raw_exec_status(PX_EXEC_ERROR), PX_EOK);
	assert_int_equal(raw_exec_status(0), PX_EVALUE);
	assert_int_equal(raw_exec_status(PX_EXEC_ERROR + 1), PX_EVALUE);
}

/* The encoder refuses every bad enum the decoder refuses. */
static void test_encoder_rejects_bad_enums(void **state)
{
	struct px_msg *m = new_msg();
	uint8_t scratch[1024];

	(void)state;
#define BAD(type, field, value)                                   \
	do {                                                      \
		sample(type, m, scratch, sizeof(scratch));        \
		assert_int_equal(encode_err(m), PX_EOK);          \
		m->u.field = (value);                             \
		assert_int_equal(encode_err(m), PX_EVALUE);       \
	} while (0)
	BAD(PX_MSG_1B, m1b.vval, 3);
	BAD(PX_MSG_1B, m1b.flags, 0x40);
	BAD(PX_MSG_1B, m1b.outcome, 3);
	BAD(PX_MSG_2A, m2a.val, PX_VAL_NONE);
	BAD(PX_MSG_2A, m2a.val, 3);
	BAD(PX_MSG_2B, m2b.val, 3);
	BAD(PX_MSG_2B, m2b.flags, 0xC0);
	BAD(PX_MSG_2B, m2b.outcome, 7);
	BAD(PX_MSG_DECISION, decision.outcome, PX_OUT_NONE);
	BAD(PX_MSG_DECISION_ACK, decision_ack.outcome, 3);
	BAD(PX_MSG_FORGET, forget.outcome, 3);
	BAD(PX_MSG_SYNC, sync.done, 2);
	BAD(PX_MSG_SYNC, sync.e[1].outcome, 3);
	BAD(PX_MSG_COMMIT_REQ, commit_req.wait, 0);
	BAD(PX_MSG_OUTCOME, outcome.status, 0);
	BAD(PX_MSG_OUTCOME, outcome.status, 8);
	BAD(PX_MSG_EXEC_RESULT, exec_result.status, 5);
	BAD(PX_MSG_PREPARE, prepare.abort, 4);
	BAD(PX_MSG_VOTE, vote.val, PX_VAL_NONE);
	BAD(PX_MSG_PONG, pong.kind, PX_NODE_CLIENT);
	BAD(PX_MSG_PONG, pong.kind, 0);
#undef BAD
	free(m);
}

/* ================================================================ */
/* EXEC_RESULT shape                                                 */
/* ================================================================ */

static void test_sqlstate_length(void **state)
{
	struct px_msg *m = new_msg();
	uint8_t scratch[1024];
	struct fb f;

	(void)state;
	fb_exec_result_head(&f, 256, PX_EXEC_SQLERR, "42P01");
	px_put_u16(&f.w, 0);
	px_put_u32(&f.w, 0);
	assert_int_equal(fb_decode(&f), PX_EOK);

	fb_exec_result_head(&f, 256, PX_EXEC_SQLERR, "42P");
	px_put_u16(&f.w, 0);
	px_put_u32(&f.w, 0);
	assert_int_equal(fb_decode(&f), PX_EVALUE);

	fb_exec_result_head(&f, 256, PX_EXEC_SQLERR, "42P011");
	px_put_u16(&f.w, 0);
	px_put_u32(&f.w, 0);
	assert_int_equal(fb_decode(&f), PX_ETOOLONG);

	sample(PX_MSG_EXEC_RESULT, m, scratch, sizeof(scratch));
	m->u.exec_result.sqlstate = S("42P");
	assert_int_equal(encode_err(m), PX_EVALUE);
	m->u.exec_result.sqlstate = S("42P011");
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	m->u.exec_result.sqlstate = SNULL;
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	m->u.exec_result.sqlstate = S("40001");
	assert_int_equal(encode_err(m), PX_EOK);
	free(m);
}

static void test_ncols_limit(void **state)
{
	struct px_msg *m = new_msg();
	uint8_t scratch[1024];
	struct fb f;
	unsigned i;

	(void)state;
	fb_exec_result_head(&f, 16384, PX_EXEC_OK, "");
	px_put_u16(&f.w, PX_COLS_MAX + 1);
	for (i = 0; i < PX_COLS_MAX + 1; i++)
		fb_str(&f, "c");
	px_put_u32(&f.w, 0);
	assert_int_equal(fb_decode(&f), PX_ETOOLONG);

	fb_exec_result_head(&f, 256, PX_EXEC_OK, "");
	px_put_u16(&f.w, 0xFFFF);
	assert_int_equal(fb_decode(&f), PX_ETOOLONG);

	sample(PX_MSG_EXEC_RESULT, m, scratch, sizeof(scratch));
	m->u.exec_result.ncols = PX_COLS_MAX + 1;
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	free(m);
}

static void test_rows_without_columns(void **state)
{
	struct px_msg *m = new_msg();
	uint8_t scratch[1024];
	struct fb f;

	(void)state;
	fb_exec_result_head(&f, 256, PX_EXEC_OK, "");
	px_put_u16(&f.w, 0);
	px_put_u32(&f.w, 1);
	assert_int_equal(fb_decode(&f), PX_EVALUE);

	fb_exec_result_head(&f, 256, PX_EXEC_OK, "");
	px_put_u16(&f.w, 0);
	px_put_u32(&f.w, UINT32_MAX);
	assert_int_equal(fb_decode(&f), PX_EVALUE);

	sample(PX_MSG_EXEC_RESULT, m, scratch, sizeof(scratch));
	m->u.exec_result.ncols = 0;
	m->u.exec_result.cols_len = 0;
	m->u.exec_result.cells_len = 0;
	m->u.exec_result.nrows = 3;
	assert_int_equal(encode_err(m), PX_EVALUE);
	free(m);
}

/* The encoder checks the caller's byte ranges like the decoder would. */
static void test_encoder_checks_lists(void **state)
{
	struct px_msg *m = new_msg();
	struct px_mexec_result *r = &m->u.exec_result;
	uint8_t scratch[1024];
	uint32_t len;

	(void)state;
	sample(PX_MSG_EXEC_RESULT, m, scratch, sizeof(scratch));
	len = r->cols_len;
	r->cols_len = len - 1; /* last name cut */
	assert_int_equal(encode_err(m), PX_EVALUE);
	r->cols_len = len;
	r->ncols = 3; /* more names announced than present */
	assert_int_equal(encode_err(m), PX_EVALUE);
	r->ncols = 1; /* fewer: bytes left over */
	assert_int_equal(encode_err(m), PX_EVALUE);
	r->ncols = 2;
	r->cols = NULL;
	assert_int_equal(encode_err(m), PX_EVALUE);

	sample(PX_MSG_EXEC_RESULT, m, scratch, sizeof(scratch));
	r->nrows = 3; /* cells for two rows only */
	assert_int_equal(encode_err(m), PX_EVALUE);
	r->nrows = UINT32_MAX;
	assert_int_equal(encode_err(m), PX_EVALUE);
	r->nrows = 2;
	r->cells_len += 1;
	assert_int_equal(encode_err(m), PX_EVALUE);
	free(m);
}

/* px_str_next stops, without reading out, on a range it cannot trust. */
static void test_str_next_bounds(void **state)
{
	uint8_t buf[16];
	struct px_str s;
	uint32_t pos;

	(void)state;
	px_le32_store(buf, 0xFFFFFFF0u);
	pos = 0;
	assert_int_equal(px_str_next(buf, 8, &pos, &s), 0);
	px_le32_store(buf, 3);
	memcpy(buf + 4, "abc", 3);
	pos = 0;
	assert_int_equal(px_str_next(buf, 6, &pos, &s), 0);
	pos = 0;
	assert_int_equal(px_str_next(buf, 7, &pos, &s), 1);
	assert_int_equal(s.len, 3);
	assert_memory_equal(s.p, "abc", 3);
	assert_int_equal(pos, 7);
	assert_int_equal(px_str_next(buf, 7, &pos, &s), 0);
	pos = 100;
	assert_int_equal(px_str_next(buf, 7, &pos, &s), 0);
	pos = 0;
	assert_int_equal(px_str_next(NULL, 0, &pos, &s), 0);
}

/* ================================================================ */
/* encoder space and frame size                                      */
/* ================================================================ */

/* Every capacity below the frame size is PX_ESPACE, and nothing is
 * written past the capacity. */
static void test_encoder_no_space(void **state)
{
	uint8_t scratch[1024], buf[1024 + 64];
	struct px_msg *m = new_msg();
	size_t n = 0, cap, i, out;
	int t;

	(void)state;
	for (t = 1; t < PX_MSG_TYPE_MAX_; t++) {
		sample(t, m, scratch, sizeof(scratch));
		assert_int_equal(px_encode(m, buf, 1024, &n), PX_EOK);
		for (cap = 0; cap < n; cap++) {
			memset(buf, 0xA5, sizeof(buf));
			out = 12345;
			assert_int_equal(px_encode(m, buf, cap, &out),
					 PX_ESPACE);
			assert_int_equal(out, 12345);
			for (i = cap; i < sizeof(buf); i++)
				assert_int_equal(buf[i], 0xA5);
		}
		assert_int_equal(px_encode(m, buf, n, &out), PX_EOK);
		assert_int_equal(out, n);
	}
	assert_int_equal(px_encode(m, NULL, 0, &out), PX_ESPACE);
	free(m);
}

/* A value error wins over a buffer that is also too small. */
static void test_encoder_value_error_first(void **state)
{
	uint8_t scratch[1024], buf[16];
	struct px_msg *m = new_msg();
	size_t out;

	(void)state;
	sample(PX_MSG_DECISION, m, scratch, sizeof(scratch));
	m->u.decision.outcome = PX_OUT_NONE;
	assert_int_equal(px_encode(m, buf, sizeof(buf), &out), PX_EVALUE);
	assert_int_equal(px_encode(m, buf, 0, &out), PX_EVALUE);
	sample(PX_MSG_DECISION, m, scratch, sizeof(scratch));
	m->u.decision.pset.n = PX_PSET_MAX + 1;
	assert_int_equal(px_encode(m, buf, sizeof(buf), &out), PX_ETOOLONG);
	free(m);
}

/* Fields each within their limits can still add up to an oversize frame. */
static void test_encoder_frame_too_long(void **state)
{
	size_t cap = (size_t)PX_FRAME_MAX + 4096, out = 0;
	uint8_t *buf = xmalloc(cap);
	char *param = xmalloc(PX_PARAM_MAX);
	struct px_msg *m = new_msg();
	uint8_t scratch[64];
	unsigned i;

	(void)state;
	memset(param, 'v', PX_PARAM_MAX);
	sample(PX_MSG_EXEC, m, scratch, sizeof(scratch));
	m->u.exec.sql = px_str_of(param, PX_SQL_MAX);
	/* sql plus 31 parameters of 1 MiB: a few hundred bytes over */
	m->u.exec.nparams = PX_FRAME_MAX / PX_PARAM_MAX - 1;
	for (i = 0; i < m->u.exec.nparams; i++)
		m->u.exec.params[i] = px_str_of(param, PX_PARAM_MAX);
	assert_int_equal(px_encode(m, buf, cap, &out), PX_ETOOLONG);
	assert_int_equal(px_encode(m, buf, PX_FRAME_MAX, &out), PX_ETOOLONG);
	assert_int_equal(px_encode(m, buf, 4096, &out), PX_ESPACE);
	/* one parameter fewer fits */
	m->u.exec.nparams--;
	assert_int_equal(px_encode(m, buf, cap, &out), PX_EOK);
	assert_true(out <= PX_FRAME_MAX);
	free(m);
	free(param);
	free(buf);
}

/* ================================================================ */
/* PING / PONG                                                       */
/* ================================================================ */

static int raw_pong(uint8_t kind, uint32_t cluster_len, uint32_t name_len)
{
	struct fb f;

	fb_begin(&f, 1024, PX_MSG_PONG);
	px_put_u64(&f.w, 77);
	px_put_u8(&f.w, kind);
	px_put_u16(&f.w, 2);
	fb_fill(&f, cluster_len, 'c');
	fb_fill(&f, name_len, 'n');
	return fb_decode(&f);
}

/* Pin the layout; names up to PX_NAME_MAX, empty ones too; a kind that is
 * neither replica nor agent, or a longer name, is refused both ways. */
static void test_ping_pong(void **state)
{
	static const uint8_t want[] = {
		0x50, 0x58, 0x01, 0x14, 0x16, 0x00, 0x00, 0x00, /* header: PONG, 22 bytes */
		0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* req */
		0x01,                                           /* kind: replica */
		0x02, 0x00,                                     /* id */
		0x03, 0x00, 0x00, 0x00, 'd', 'e', 'v',          /* cluster */
		0x00, 0x00, 0x00, 0x00,                         /* name: none */
	};
	char big[PX_NAME_MAX + 1];
	struct px_msg *m = new_msg(), d;
	uint8_t buf[256], scratch[64];
	size_t n = 0;

	(void)state;
	memset(m, 0, sizeof(*m));
	m->type = PX_MSG_PONG;
	m->u.pong.req = 7;
	m->u.pong.kind = PX_NODE_REPLICA;
	m->u.pong.id = 2;
	m->u.pong.cluster = S("dev");
	assert_int_equal(px_encode(m, buf, sizeof(buf), &n), PX_EOK);
	assert_int_equal(n, sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	assert_int_equal(px_decode(want, sizeof(want), &d), PX_EOK);
	assert_int_equal(d.u.pong.kind, PX_NODE_REPLICA);
	assert_int_equal(d.u.pong.id, 2);
	assert_int_equal(d.u.pong.cluster.len, 3);
	assert_ptr_equal(d.u.pong.cluster.p, (const char *)want + 23);
	assert_int_equal(d.u.pong.name.len, 0);
	assert_int_equal(px_msg_gid(&d).len, 0);

	/* PING is just the request number */
	sample(PX_MSG_PING, m, scratch, sizeof(scratch));
	m->u.ping.req = UINT64_MAX;
	assert_int_equal(roundtrip(m), PX_HDR_LEN + 8);

	assert_int_equal(raw_pong(PX_NODE_AGENT, PX_NAME_MAX, PX_NAME_MAX), PX_EOK);
	assert_int_equal(raw_pong(PX_NODE_AGENT, 0, 0), PX_EOK);
	assert_int_equal(raw_pong(PX_NODE_AGENT, PX_NAME_MAX + 1, 1), PX_ETOOLONG);
	assert_int_equal(raw_pong(PX_NODE_AGENT, 1, PX_NAME_MAX + 1), PX_ETOOLONG);
	assert_int_equal(raw_pong(PX_NODE_CLIENT, 1, 1), PX_EVALUE);
	assert_int_equal(raw_pong(0, 1, 1), PX_EVALUE);
	assert_int_equal(raw_pong(0xFF, 1, 1), PX_EVALUE);

	memset(big, 'x', sizeof(big));
	sample(PX_MSG_PONG, m, scratch, sizeof(scratch));
	m->u.pong.name = px_str_of(big, PX_NAME_MAX);
	roundtrip(m);
	m->u.pong.name = px_str_of(big, PX_NAME_MAX + 1);
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	sample(PX_MSG_PONG, m, scratch, sizeof(scratch));
	m->u.pong.cluster = px_str_of(big, PX_NAME_MAX + 1);
	assert_int_equal(encode_err(m), PX_ETOOLONG);
	free(m);
}

/* ================================================================ */
/* names and small helpers                                           */
/* ================================================================ */

static void test_names(void **state)
{
	int t, e;

	(void)state;
	assert_string_equal(px_type_name(PX_MSG_2B), "2b");
	assert_string_equal(px_type_name(PX_MSG_EXEC_RESULT), "exec_result");
	assert_string_equal(px_type_name(0), "unknown");
	assert_string_equal(px_type_name(PX_MSG_TYPE_MAX_), "unknown");
	assert_string_equal(px_type_name(-1), "unknown");
	for (t = 1; t < PX_MSG_TYPE_MAX_; t++)
		assert_string_not_equal(px_type_name(t), "unknown");

	assert_string_equal(px_codec_strerror(PX_ETRUNC), "truncated");
	assert_string_equal(px_codec_strerror(PX_EOK), "ok");
	for (e = PX_EMAGIC; e <= PX_ELENGTH; e++)
		assert_string_not_equal(px_codec_strerror(e), "unknown error");
	assert_string_equal(px_codec_strerror(-1), "unknown error");
	assert_string_equal(px_codec_strerror(1000), "unknown error");
}

static void test_str_eq(void **state)
{
	(void)state;
	assert_true(px_str_eq(S("abc"), S("abc")));
	assert_false(px_str_eq(S("abc"), S("abd")));
	assert_false(px_str_eq(S("abc"), S("ab")));
	assert_true(px_str_eq(SNULL, SNULL));
	assert_false(px_str_eq(SNULL, S("")));
	assert_true(px_str_eq(S(""), px_str_of(NULL, 0)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_every_type),
		cmocka_unit_test(test_wire_layout_1a),
		cmocka_unit_test(test_roundtrip_max_gid_max_pset),
		cmocka_unit_test(test_roundtrip_acceptor_edges),
		cmocka_unit_test(test_roundtrip_sync_full_and_empty),
		cmocka_unit_test(test_roundtrip_outcome),
		cmocka_unit_test(test_roundtrip_exec_params),
		cmocka_unit_test(test_roundtrip_exec_at_limits),
		cmocka_unit_test(test_roundtrip_exec_result_rows),
		cmocka_unit_test(test_roundtrip_exec_result_empty),
		cmocka_unit_test(test_roundtrip_exec_result_max_cols),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_bad_version),
		cmocka_unit_test(test_unknown_type),
		cmocka_unit_test(test_short_header),
		cmocka_unit_test(test_header_length_mismatch),
		cmocka_unit_test(test_frame_too_long),
		cmocka_unit_test(test_empty_payload),
		cmocka_unit_test(test_truncated_every_offset),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_gid_limits),
		cmocka_unit_test(test_reason_limit),
		cmocka_unit_test(test_sql_limit),
		cmocka_unit_test(test_param_limits),
		cmocka_unit_test(test_sync_count_limit),
		cmocka_unit_test(test_huge_string_length),
		cmocka_unit_test(test_huge_row_count),
		cmocka_unit_test(test_pset_malformed),
		cmocka_unit_test(test_pset_may_be_empty),
		cmocka_unit_test(test_pset_helpers),
		cmocka_unit_test(test_bad_enum_acceptor),
		cmocka_unit_test(test_bad_enum_outcome),
		cmocka_unit_test(test_bad_enum_client),
		cmocka_unit_test(test_bad_enum_exec_result),
		cmocka_unit_test(test_encoder_rejects_bad_enums),
		cmocka_unit_test(test_sqlstate_length),
		cmocka_unit_test(test_ncols_limit),
		cmocka_unit_test(test_rows_without_columns),
		cmocka_unit_test(test_encoder_checks_lists),
		cmocka_unit_test(test_str_next_bounds),
		cmocka_unit_test(test_encoder_no_space),
		cmocka_unit_test(test_encoder_value_error_first),
		cmocka_unit_test(test_encoder_frame_too_long),
		cmocka_unit_test(test_ping_pong),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_str_eq),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
