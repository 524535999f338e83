/*
 * px_learner.c - the leader: learner, decider, finisher of stuck gids, and
 * the replica that serves commit / rollback requests.
 *
 * Decision rule (protocol.md section 3), counted per ballot, never across:
 *   COMMIT iff every participant of the set has `prepared` accepted by a
 *          majority at one ballot;
 *   ABORT  iff some participant has `aborted` accepted by a majority at one
 *          ballot.
 * Only 2b's naming the gid's participant set are counted.
 *
 * A gid undecided for txn_timeout_ms (or 2 x resend_ms with every vote
 * accepted at our own acceptor: voted_here) is finished with the leader's ballot:
 * 1a to all acceptors, and once a majority promised, 2a with the value of
 * the highest accepted ballot among them, or `aborted` if none accepted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_gid.h"
#include "px_internal.h"

#if defined(PX_PLANT_BUG)
#define PX_PLANT_BUG_IS(n) (PX_PLANT_BUG == (n))
#else
#define PX_PLANT_BUG_IS(n) 0
#endif

static int popcount8(uint8_t x)
{
	int n = 0;
	for (; x; x &= (uint8_t)(x - 1))
		n++;
	return n;
}

static int pidx(const struct px_pset *s, uint16_t rm)
{
	for (uint16_t i = 0; i < s->n; i++)
		if (s->rm[i] == rm)
			return i;
	return -1;
}

void px_reply(struct px_update *u, struct px_addr to, uint64_t req, struct px_str gid, uint8_t status,
	      uint8_t leader, const char *reason)
{
	struct px_msg m = {.type = PX_MSG_OUTCOME};
	m.u.outcome.req = req;
	m.u.outcome.gid = gid;
	m.u.outcome.status = status;
	m.u.outcome.leader = leader;
	m.u.outcome.reason = px_str_of(reason, (uint32_t)strlen(reason));
	px_update_send(u, to, &m, 0);
}

struct px_lead *px_lead_of(struct px_replica *r, struct px_txn *t)
{
	if (!px_is_leader(r))
		return NULL;
	if (!t->lead) {
		t->lead = calloc(1, sizeof(*t->lead));
		if (!t->lead)
			return NULL;
		t->lead->since = r->now;
	}
	if (!t->lead->pset.n && t->pset.n)
		t->lead->pset = t->pset; /* start from what our acceptor holds */
	return t->lead;
}

/* 1 for an XA-style gid: its client prepares the participants and votes
 * for them, and applies the outcome; so no PREPARE goes to an agent (an
 * agent never votes on it), and DECISION only at the retransmission time,
 * for an agent to finish what the client left. */
static int is_xa(const struct px_txn *t)
{
	return px_gid_is_xa(t->k.s, t->k.len);
}

static int all_acked(const struct px_txn *t)
{
	if (!t->lead)
		return 0;
	uint64_t all = t->lead->pset.n >= 64 ? ~0ULL : (1ULL << t->lead->pset.n) - 1;
	return (t->lead->acked & all) == all;
}

/* Reply to every waiter whose condition now holds. */
static void answer(struct px_replica *r, struct px_update *u, struct px_txn *t)
{
	struct px_lead *l = t->lead;
	if (!l || !t->outcome)
		return;
	uint8_t st = t->outcome == PX_OUT_COMMIT ? PX_ST_COMMITTED : PX_ST_ABORTED;
	int applied = all_acked(t);
	uint8_t keep = 0;
	for (uint8_t i = 0; i < l->nwait; i++) {
		struct px_waiter *w = &l->w[i];
		if (w->wait == PX_WAIT_APPLIED && !applied) {
			l->w[keep++] = *w;
			continue;
		}
		if (w->wait == PX_WAIT_APPLIED && w->quiet && st == PX_ST_COMMITTED)
			continue; /* the participants' acks told the client */
		px_reply(u, w->to, w->req, px_txn_gid(t), st, r->cfg.id, "");
	}
	l->nwait = keep;
}

/* Participant rm did not vote or ack a decision in time: perhaps our link
 * to it is cut one way.  Remember it for PX_LATE_ACK_MS. */
static void late_ack(struct px_replica *r, uint16_t rm)
{
	int slot = 0;
	for (int i = 0; i < PX_LATE_ACKS; i++) {
		if (r->late_ack[i].rm == rm && r->late_ack[i].until) {
			slot = i;
			break;
		}
		if (r->late_ack[i].until < r->late_ack[slot].until)
			slot = i; /* else the one that expires first */
	}
	if (r->now >= r->late_ack[slot].until || r->late_ack[slot].rm != rm)
		px_log(r, "participant %u was late to vote or to ack a decision: PREPAREs and decisions to it go "
			  "through the followers too for %u ms",
		       rm, PX_LATE_ACK_MS);
	r->late_ack[slot].rm = rm;
	r->late_ack[slot].until = r->now + PX_LATE_ACK_MS;
}

/* Some participant of t acked a decision late lately. */
static int has_late_ack(const struct px_replica *r, const struct px_txn *t)
{
	for (int i = 0; i < PX_LATE_ACKS && !PX_PLANT_BUG_IS(17); i++) /* planted bug 17: never */
		if (r->now < r->late_ack[i].until && px_pset_has(&t->lead->pset, r->late_ack[i].rm))
			return 1;
	return 0;
}

/* DECISION to the participants that have not acked it, and with `replicas`
 * to the followers too, which pass it on to the participants: sent again
 * (an ack is late) or to a participant that acked late lately, whose link
 * from us may be cut. */
static void send_decision(struct px_replica *r, struct px_update *u, struct px_txn *t, int replicas)
{
	if (!t->lead->pset.n)
		return; /* participants not known yet: a later 1b/2b/sync names them */
	struct px_msg m = {.type = PX_MSG_DECISION};
	m.u.decision.gid = px_txn_gid(t);
	m.u.decision.outcome = t->outcome;
	m.u.decision.pset = t->lead->pset;
	for (uint16_t i = 0; i < t->lead->pset.n; i++)
		if (!(t->lead && (t->lead->acked >> i) & 1))
			px_update_send(u, px_addr_of(PX_NODE_AGENT, t->lead->pset.rm[i]), &m, 0);
	if (replicas)
		for (uint8_t i = 0; i < r->cfg.n; i++)
			if (i != r->cfg.id)
				px_update_send(u, px_addr_of(PX_NODE_REPLICA, i), &m, 0);
}

void px_lrn_learn(struct px_replica *r, struct px_update *u, struct px_txn *t, uint8_t outcome,
		  const char *how)
{
	if (t->outcome && t->outcome != outcome) {
		px_log(r, "gid=%s CONFLICTING DECISION %u after %u (%s)", t->k.s, outcome, t->outcome, how);
		return;
	}
	if (t->outcome)
		return;
#if defined(PX_PLANT_BUG) && PX_PLANT_BUG == 13
	/* Planted bug for the simulator's self-test: the acceptor takes on
	 * a gid it refuses below its horizon when its learner learns it. */
	if (1) {
#else
	if (t->acc_known || t->birth >= r->horizon) {
#endif
		/* Our acceptor takes the decision's set if it has none yet (it
		 * has then accepted nothing, so fixing its set is safe). */
		if (!t->pset.n && t->lead && t->lead->pset.n)
			t->pset = t->lead->pset;
		struct px_rec rec = {.type = PX_REC_DECISION, .gid = px_txn_gid(t), .outcome = outcome,
				     .pset = t->pset};
		if (px_rec_put(u, &rec))
			return;
		t->acc_known = 1;
	}
	/* Else our acceptor never held the gid and refuses it below its
	 * horizon, for ever: it may have answered UNKNOWN_GID for it.  The
	 * outcome stays the learner's (no record: it is chosen at a majority
	 * of the others, durably), or the acceptor would hold the gid again
	 * and take a late vote on it. */
	t->outcome = outcome;
	if (!t->lead)
		return;
	if (outcome == PX_OUT_COMMIT)
		r->st.decided_commit++;
	else
		r->st.decided_abort++;
	px_log(r, "gid=%s decided %s (%s)", t->k.s, outcome == PX_OUT_COMMIT ? "commit" : "abort", how);
	if (!is_xa(t)) /* the replicas learn it with FORGET, unless ... */
		send_decision(r, u, t, has_late_ack(r, t));
	t->lead->next_resend = r->now + r->cfg.resend_ms;
	answer(r, u, t);
}

/* Is every instance decided?  Learn the outcome if so. */
static void check(struct px_replica *r, struct px_update *u, struct px_txn *t)
{
	struct px_lead *l = t->lead;
	if (t->outcome || !t->lead->pset.n || !l)
		return;
	int q = px_quorum(r), all = 1;
	for (uint16_t i = 0; i < t->lead->pset.n; i++) {
		uint8_t chosen = PX_VAL_NONE;
#if defined(PX_PLANT_BUG) && PX_PLANT_BUG == 2
		/* Planted bug for the simulator's self-test: count across ballots. */
		uint8_t m[3] = {0, 0, 0};
		for (unsigned k = 0; k < PX_TALLY; k++)
			m[l->tally[i][k].val] |= l->tally[i][k].mask;
		if (popcount8(m[PX_VAL_ABORTED]) >= q)
			chosen = PX_VAL_ABORTED;
		else if (popcount8(m[PX_VAL_PREPARED]) >= q)
			chosen = PX_VAL_PREPARED;
#else
		for (unsigned k = 0; k < PX_TALLY; k++)
			if (l->tally[i][k].val != PX_VAL_NONE && popcount8(l->tally[i][k].mask) >= q)
				chosen = l->tally[i][k].val;
#endif
		if (chosen == PX_VAL_ABORTED) {
			px_lrn_learn(r, u, t, PX_OUT_ABORT, "participant aborted");
			return;
		}
		if (chosen != PX_VAL_PREPARED)
			all = 0;
	}
	if (all)
		px_lrn_learn(r, u, t, PX_OUT_COMMIT, "all prepared");
}

/* An acceptor reports an outcome.  A tombstone's outcome means every
 * participant acknowledged it already: forget the gid everywhere. */
static void reported(struct px_replica *r, struct px_update *u, struct px_txn *t, uint8_t flags,
		     uint8_t outcome, const struct px_pset *pset)
{
	if (t->lead && !t->lead->pset.n && px_pset_valid(pset))
		t->lead->pset = *pset;
	px_lrn_learn(r, u, t, outcome, flags & PX_ACC_FORGOTTEN ? "acceptor forgot it" : "acceptor knew");
	if ((flags & PX_ACC_FORGOTTEN) && t->lead) {
		struct px_msg f = {.type = PX_MSG_FORGET};
		f.u.forget.gid = px_txn_gid(t);
		f.u.forget.outcome = outcome;
		px_send_replicas(r, u, &f, 0);
	}
}

/* The gid as this leader tracks it, made if need be.  what: the message
 * (a 2b, a sync entry, a status request), for the log. */
static struct px_txn *learner_txn(struct px_replica *r, struct px_update *u, struct px_str gid, const char *what)
{
	struct px_txn *t = px_txn_get(r, gid);
	uint64_t birth;
	if (!t) {
		if (px_tomb_get(r, gid) || px_gid_birth(r, gid, &birth))
			return NULL;
		/* Nothing counted, so nothing decided from it (px_future). */
		if (px_future(r, gid, birth, what))
			return NULL;
		t = px_txn_new(r, gid, birth);
		if (!t) {
			u->oom = 1;
			return NULL;
		}
	}
	if (!px_lead_of(r, t)) {
		if (px_is_leader(r))
			u->oom = 1;
		return NULL;
	}
	return t;
}

/* Count an aborted 2b; returns 1 once a majority accepted it at one
 * ballot under one participant set. */

static int count_abort(struct px_replica *r, struct px_lead *l, struct px_addr from, const struct px_m2b *m)
{
	uint64_t psh = px_hash(m->pset.rm, sizeof(m->pset.rm[0]) * m->pset.n);
	struct px_atally *slot = NULL, *low = NULL;
	for (unsigned k = 0; k < PX_ATALLY; k++) {
		struct px_atally *a = &l->ab[k];
#if defined(PX_PLANT_BUG) && PX_PLANT_BUG == 8
		/* Planted bug for the simulator's self-test: `aborted` 2b's
		 * counted across ballots. */
		if (a->mask && a->rm == m->rm && a->psh == psh) {
#else
		if (a->mask && a->rm == m->rm && a->bal == m->bal && a->psh == psh) {
#endif
			slot = a;
			break;
		}
		if (!a->mask) {
			if (!slot)
				slot = a;
		} else if (!low || a->bal < low->bal) {
			low = a;
		}
	}
	if (!slot)
		slot = low;
	if (!(slot->mask && slot->rm == m->rm && slot->psh == psh &&
	      (slot->bal == m->bal || (PX_PLANT_BUG_IS(8))))) {
		slot->rm = m->rm;
		slot->bal = m->bal;
		slot->psh = psh;
		slot->mask = 0;
	}
	slot->mask |= (uint8_t)(1u << from.id);
	return popcount8(slot->mask) >= px_quorum(r);
}

static void maybe_give_up(struct px_replica *r, struct px_update *u, struct px_txn *t, int i);

/*
 * A follower's 2b reports a ballot-0 vote it accepted that our own acceptor
 * has not seen: the voter (an agent, or an XA-style client) may reach that
 * follower only, and not us (a link cut, an agent that reaches a minority).
 * Then only that follower holds the vote, and with a third replica down or
 * cut too no majority ever accepts it at ballot 0: the gid waited for
 * recovery at txn_timeout_ms (chaos seed 541746210: an agent cut from the
 * leader while another replica was killed stalled commits 9.1 s, 3 s per
 * batch).  Our acceptor takes the vote as the voter's own (px_acc_2a): a
 * ballot-0 value has one proposer, and the follower is authenticated; it
 * is what the voter's 2a would have done arriving late, so nothing else
 * changes.  Only while our acceptor has nothing for the instance and has
 * promised no higher ballot (px_acc_2a checks again).  Agents send their
 * first vote to a majority that includes the leader they know, so this is
 * rare while the leader hears them.
 */
static void take_relayed_vote(struct px_replica *r, struct px_update *u, struct px_txn *t, struct px_addr from,
			      const struct px_m2b *m)
{
	if (PX_PLANT_BUG_IS(20) || m->bal != 0 || m->val == PX_VAL_NONE || from.id == r->cfg.id)
		return;
	/* once per instance: our acceptor may refuse it (below its horizon,
	 * say), and each 2b of those we passed it to would pass it on again;
	 * px_acc_2a checks the vote itself (its set, our promises) */
	int i = pidx(&t->lead->pset, m->rm);
	if (i < 0 || t->lead->took[i] || t->outcome || t->gmbal)
		return;
	const struct px_inst *in = px_inst_get(t, m->rm, 0);
	if (in && (in->vval != PX_VAL_NONE || in->mbal))
		return;
	t->lead->took[i] = 1;
	struct px_m2a v = {.gid = m->gid, .rm = m->rm, .bal = 0, .val = m->val, .pset = m->pset};
	r->st.relayed++;
	px_acc_2a(r, u, from, &v);
	/* The follower and we are a majority of 3 only: with more replicas,
	 * the others take it too (each once: their 2b's come to us). */
	if (r->cfg.n / 2 + 1 > 2) {
		struct px_msg f = {.type = PX_MSG_2A};
		f.u.m2a = v;
		for (uint8_t k = 0; k < r->cfg.n; k++)
			if (k != r->cfg.id && k != from.id)
				px_update_send(u, px_addr_of(PX_NODE_REPLICA, k), &f, 0);
	}
}

void px_lrn_2b(struct px_replica *r, struct px_update *u, struct px_addr from, const struct px_m2b *m)
{
	if (from.id >= r->cfg.n)
		return;
	if ((m->flags & PX_ACC_DECIDED) && m->outcome) {
		struct px_txn *t = px_txn_get(r, m->gid);
		if (t)
			reported(r, u, t, m->flags, m->outcome, &m->pset);
		return;
	}
	if (!(m->flags & PX_ACC_OK)) {
		struct px_txn *t = px_txn_get(r, m->gid);
		if ((m->flags & (PX_ACC_BELOW_HORIZON | PX_ACC_FORGOTTEN)) && px_is_leader(r) && t && t->lead &&
		    t->lead->rbal && m->bal == t->lead->rbal) {
			/* Our recovery 2a met an acceptor that will never take
			 * the gid (below its horizon, or forgotten without an
			 * outcome): it counts as refusing for ever, as in a 1b.
			 * Ignoring it made the leader resend its 2a for ever. */
			int i = pidx(&t->lead->pset, m->rm);
			if (i >= 0) {
				t->lead->below[i] |= (uint8_t)(1u << from.id);
				maybe_give_up(r, u, t, i);
			}
			return;
		}
		/* Our recovery 2a was refused for a higher promise: take a
		 * higher ballot and start phase 1 again. */
		if (px_is_leader(r) && t && t->lead && t->lead->rbal && m->bal == t->lead->rbal &&
		    m->mbal > r->ballot) {
			px_bump_round(r, u, m->mbal);
			t->lead->next_resend = 0;
		}
		return;
	}
	if (!px_is_leader(r))
		return;
	struct px_txn *t = learner_txn(r, u, m->gid, "2b");
	if (!t)
		return;
	if (!t->lead->pset.n && px_pset_valid(&m->pset))
		t->lead->pset = m->pset;
	take_relayed_vote(r, u, t, from, m);
	if (m->val == PX_VAL_ABORTED && px_pset_valid(&m->pset) && px_pset_has(&m->pset, m->rm) &&
	    count_abort(r, t->lead, from, m)) {
		/* `aborted` chosen under any set S decides ABORT: a commit would
		 * need every instance of the same S chosen `prepared` (all
		 * chosen values of a gid name one set), this one included. */
		px_lrn_learn(r, u, t, PX_OUT_ABORT, "participant aborted");
		return;
	}
	int i = pidx(&t->lead->pset, m->rm);
	if (i < 0 || !px_pset_eq(&t->lead->pset, &m->pset) || m->val == PX_VAL_NONE)
		return;
	struct px_tally *ts = t->lead->tally[i], *slot = NULL, *low = NULL;
	for (unsigned k = 0; k < PX_TALLY; k++) {
		if (ts[k].val == m->val && ts[k].bal == m->bal) {
			slot = &ts[k];
			break;
		}
		if (ts[k].val == PX_VAL_NONE) {
			if (!slot)
				slot = &ts[k];
		} else if (!low || ts[k].bal < low->bal) {
			low = &ts[k];
		}
	}
	if (!slot || (slot->val != PX_VAL_NONE && !(slot->val == m->val && slot->bal == m->bal))) {
		if (!low || low->bal >= m->bal)
			return; /* older than everything counted: useless */
		slot = low;
	}
	if (slot->val != m->val || slot->bal != m->bal) {
		slot->val = m->val;
		slot->bal = m->bal;
		slot->mask = 0;
	}
	slot->mask |= (uint8_t)(1u << from.id);
	check(r, u, t);
}

static void give_up(struct px_replica *r, struct px_update *u, struct px_txn *t, const char *why)
{
	/* No value is chosen and a majority will never accept one (it is below
	 * their horizon, or promised our ballot with nothing accepted and we
	 * propose nothing).  Whoever holds the gid prepared will hear
	 * UNKNOWN_GID from a majority.  Tell every acceptor to drop it. */
	if (t->lead->gaveup)
		return;
	t->lead->gaveup = 1;
	r->st.give_ups++;
	px_log(r, "gid=%s given up: %s", t->k.s, why);
	struct px_msg m = {.type = PX_MSG_FORGET};
	m.u.forget.gid = px_txn_gid(t);
	m.u.forget.outcome = PX_OUT_NONE;
	px_send_replicas(r, u, &m, 0);
	for (uint8_t i = 0; i < t->lead->nwait; i++)
		px_reply(u, t->lead->w[i].to, t->lead->w[i].req, px_txn_gid(t), PX_ST_UNKNOWN_GID, r->cfg.id, why);
	t->lead->nwait = 0;
	t->lead->next_resend = r->now + r->cfg.resend_ms;
}

/*
 * Give the gid up only when no value of it can be chosen any more, and any
 * value chosen before was acknowledged by every participant.  Acceptors
 * below their horizon (or holding a tombstone) refuse it for ever and hold
 * nothing unacknowledged; an acceptor that fixed set P never accepts under
 * another.  So: a majority must refuse our set for ever (below + those
 * holding the other set) AND a majority must refuse the other set for ever
 * (below + those that promised us under ours).
 */
static void maybe_give_up(struct px_replica *r, struct px_update *u, struct px_txn *t, int i)
{
	struct px_lead *l = t->lead;
	int q = px_quorum(r);
	if (t->outcome || popcount8(l->below[i] | l->cmask) < q || popcount8(l->below[i] | l->promised[i]) < q)
		return;
	give_up(r, u, t, l->cmask ? "a majority refuses it for ever (gc horizon or another set)"
				  : "unknown to a majority below the gc horizon");
}

static void send_2a(struct px_replica *r, struct px_update *u, struct px_txn *t, int i)
{
	struct px_msg m = {.type = PX_MSG_2A};
	m.u.m2a.gid = px_txn_gid(t);
	m.u.m2a.rm = t->lead->pset.rm[i];
	m.u.m2a.bal = t->lead->rbal;
	m.u.m2a.val = t->lead->hval[i];
	m.u.m2a.pset = t->lead->pset;
	px_send_replicas(r, u, &m, 0);
}

void px_lrn_1b(struct px_replica *r, struct px_update *u, struct px_addr from, const struct px_m1b *m)
{
	struct px_txn *t = px_txn_get(r, m->gid);
	if (!t || !t->lead || from.id >= r->cfg.n)
		return;
	struct px_lead *l = t->lead;
	uint8_t bit = (uint8_t)(1u << from.id);
	if ((m->flags & PX_ACC_DECIDED) && m->outcome) {
		reported(r, u, t, m->flags, m->outcome, &m->pset);
		return;
	}
	int gone = (m->flags & (PX_ACC_BELOW_HORIZON | PX_ACC_FORGOTTEN)) != 0;
	if (t->outcome && !l->pset.n && m->rm == PX_RM_ANY && gone) {
		/* Decided, with participants unknown here, and a majority will
		 * never take the gid again.  Some acceptor of each chosen
		 * value's majority dropped it, so it got a FORGET: every
		 * participant acknowledged (or nothing was chosen).  Forget it
		 * too, or it stays live for ever asking for its set. */
		l->probe_below |= bit;
		if (popcount8(l->probe_below) >= px_quorum(r) && !l->gaveup) {
			l->gaveup = 1;
			px_log(r, "gid=%s decided %s, participants unknown, and a majority forgot it: forgetting it", t->k.s,
			       t->outcome == PX_OUT_COMMIT ? "commit" : "abort");
			struct px_msg f = {.type = PX_MSG_FORGET};
			f.u.forget.gid = px_txn_gid(t);
			f.u.forget.outcome = t->outcome;
			px_send_replicas(r, u, &f, 0);
		}
		return;
	}
	if (l->rbal == 0 || m->bal != l->rbal)
		return;
	if (!(m->flags & PX_ACC_OK) && !gone && m->mbal > l->rbal && m->mbal > r->ballot) {
		px_bump_round(r, u, m->mbal);
		l->next_resend = 0; /* retry at the next tick with the new ballot */
		return;
	}
	if (m->rm == PX_RM_ANY) {
		if (gone)
			l->probe_below |= bit;
		else if (m->flags & PX_ACC_OK) {
			if (!t->lead->pset.n && px_pset_valid(&m->pset))
				t->lead->pset = m->pset; /* recover its instances next */
			else if (!m->pset.n)
				l->probe_ok |= bit;
		}
		return;
	}
	int i = pidx(&t->lead->pset, m->rm);
	if (i < 0)
		return;
	if ((m->flags & PX_ACC_PSET_CONFLICT) && px_pset_valid(&m->pset)) {
		/* A majority fixed another set: only that set can ever be
		 * chosen, so recover under it. */
		if (!l->cpset.n || !px_pset_eq(&l->cpset, &m->pset)) {
			l->cpset = m->pset;
			l->cmask = 0;
		}
		l->cmask |= bit;
		if (popcount8(l->cmask) >= px_quorum(r)) {
			px_log(r, "gid=%s a majority holds another participant set: recovering under it", t->k.s);
			t->lead->pset = l->cpset;
			memset(l->tally, 0, sizeof(l->tally));
			l->acked = 0;
			/* A fresh ballot: a 2a of ours at this one may name the old set. */
			px_bump_round(r, u, r->ballot);
			l->next_resend = 0;
			l->cmask = 0;
			memset(&l->cpset, 0, sizeof(l->cpset));
		} else {
			maybe_give_up(r, u, t, i);
		}
		return;
	}
	if (gone) {
		l->below[i] |= bit;
		maybe_give_up(r, u, t, i);
		return;
	}
	if (!(m->flags & PX_ACC_OK) || !px_pset_eq(&m->pset, &t->lead->pset))
		return; /* a promise fixes the acceptor's set to ours: anything else is stale */
	l->promised[i] |= bit;
	maybe_give_up(r, u, t, i);
	if (l->gaveup)
		return;
	/* Once our 2a left, its value is fixed: one value per ballot. */
	int higher = !l->sent2a[i] && m->vval != PX_VAL_NONE &&
		     (l->hval[i] == PX_VAL_NONE || m->vbal > l->hbal[i]);
#if defined(PX_PLANT_BUG) && PX_PLANT_BUG == 4
	higher = 0; /* planted bug for the simulator's self-test: ignore accepted values */
#endif
	if (higher) {
		l->hbal[i] = m->vbal;
		l->hval[i] = m->vval;
	}
	if (!l->sent2a[i] && popcount8(l->promised[i]) >= px_quorum(r)) {
		if (l->hval[i] == PX_VAL_NONE)
			l->hval[i] = PX_VAL_ABORTED; /* free: abort */
		l->sent2a[i] = 1;
		send_2a(r, u, t, i);
	}
}

void px_lrn_ack(struct px_replica *r, struct px_update *u, struct px_addr from,
		const struct px_mdecision_ack *m)
{
	struct px_txn *t = px_txn_get(r, m->gid);
	int relayed = from.kind == PX_NODE_REPLICA;
	if (relayed && (from.id >= r->cfg.n || from.id == r->cfg.id))
		return;
	if (!px_is_leader(r)) {
		/* A follower passes an agent's or client's ack on to the
		 * leader: it came here because the leader's link may be cut. */
		if (!relayed && r->leader != PX_NO_LEADER && r->leader != r->cfg.id) {
			struct px_msg a = {.type = PX_MSG_DECISION_ACK};
			a.u.decision_ack = *m;
			r->st.relayed++;
			px_update_send(u, px_addr_of(PX_NODE_REPLICA, r->leader), &a, 0);
		}
		return;
	}
	/* An XA-style gid's client applied the outcome itself and acks for
	 * the participants it finished; a follower passes on either. */
	if (!t || !t->lead || !t->outcome ||
	    (relayed ? 0
		     : from.kind == PX_NODE_CLIENT ? !is_xa(t) : from.kind != PX_NODE_AGENT || from.id != m->rm))
		return;
	int i = pidx(&t->lead->pset, m->rm);
	if (i < 0)
		return;
	if (m->outcome != t->outcome) {
		px_log(r, "gid=%s participant %u applied %u, decision is %u", t->k.s, m->rm, m->outcome,
		       t->outcome);
		return;
	}
	if ((t->lead->acked >> i) & 1)
		return;
	t->lead->acked |= 1ULL << i;
	if (!all_acked(t))
		return;
	answer(r, u, t);
	struct px_msg f = {.type = PX_MSG_FORGET};
	f.u.forget.gid = px_txn_gid(t);
	f.u.forget.outcome = t->outcome;
	/* Lazy: nobody waits for it, so a follower may get many at once. */
	for (uint8_t k = 0; k < r->cfg.n; k++)
		px_update_send_lazy(u, px_addr_of(PX_NODE_REPLICA, k), &f);
}

void px_lrn_sync(struct px_replica *r, struct px_update *u, struct px_addr from, const struct px_msync *m)
{
	if (!px_is_leader(r))
		return;
	for (uint16_t i = 0; i < m->count; i++) {
		const struct px_sync_entry *e = &m->e[i];
		struct px_tomb *tb = px_tomb_get(r, e->gid);
		if (tb && !px_txn_get(r, e->gid)) {
			struct px_msg f = {.type = PX_MSG_FORGET};
			f.u.forget.gid = e->gid;
			f.u.forget.outcome = tb->outcome;
			px_update_send(u, from, &f, 0);
			continue;
		}
		struct px_txn *t = learner_txn(r, u, e->gid, "sync entry");
		if (!t)
			continue;
		if (!t->lead->pset.n && px_pset_valid(&e->pset))
			t->lead->pset = e->pset;
		if (e->outcome)
			px_lrn_learn(r, u, t, e->outcome, "sync");
	}
	if (!m->done && from.id < PX_REPLICAS_MAX) {
		struct px_msg q = {.type = PX_MSG_SYNC_REQ};
		q.u.sync_req.bal = r->ballot;
		q.u.sync_req.cursor = m->cursor;
		px_update_send(u, from, &q, 0);
	}
}

/* quiet: PX_WAIT_ACKS_TO_CLIENT (see answer). */
static void add_waiter(struct px_lead *l, struct px_addr to, uint64_t req, uint8_t wait, uint8_t quiet)
{
	for (uint8_t i = 0; i < l->nwait; i++)
		if (l->w[i].to.kind == to.kind && l->w[i].to.id == to.id && l->w[i].req == req) {
			l->w[i].quiet &= quiet; /* asked again without it: answer */
			return;
		}
	if (l->nwait == PX_WAITERS) /* the oldest asker will ask again */
		memmove(l->w, l->w + 1, sizeof(l->w[0]) * (PX_WAITERS - 1)), l->nwait--;
	l->w[l->nwait].to = to;
	l->w[l->nwait].req = req;
	l->w[l->nwait].wait = wait;
	l->w[l->nwait].quiet = quiet;
	l->nwait++;
}

/* again: sent before and no vote came from some participant: send it
 * through the followers too, for a link from us to it that is cut one way. */
static void send_prepare(struct px_replica *r, struct px_update *u, struct px_txn *t, int again)
{
	if (is_xa(t))
		return; /* recovery (a higher ballot) decides a vote that never came */
	struct px_msg p = {.type = PX_MSG_PREPARE};
	p.u.prepare.gid = px_txn_gid(t);
	p.u.prepare.abort = t->lead->abort_req;
	p.u.prepare.pset = t->lead->pset;
	px_send_agents(r, u, &t->lead->pset, &p);
	for (uint8_t i = 0; again && i < r->cfg.n; i++)
		if (i != r->cfg.id)
			px_update_send(u, px_addr_of(PX_NODE_REPLICA, i), &p, 0);
}

void px_lrn_relay_outcome(struct px_replica *r, struct px_update *u, struct px_addr from, const struct px_msg *m)
{
	const struct px_moutcome *o = &m->u.outcome;
	if (from.kind != PX_NODE_REPLICA || from.id >= r->cfg.n || from.id == r->cfg.id || !o->gid.len)
		return;
	uint64_t gh = px_hash(o->gid.p, o->gid.len);
	struct px_relay *rl = &r->relays[gh % PX_RELAYS];
	if (rl->gh != gh || !rl->until || rl->until < r->now)
		return; /* not ours, or long ago: the client asked again elsewhere */
	r->st.relayed_reqs++;
	px_update_send(u, rl->to, m, 0);
	if (o->status != PX_ST_UNDECIDED && o->status != PX_ST_BUSY)
		rl->until = 0; /* final (or a redirect): nothing more to pass on */
}

/*
 * A follower passing an XA-style gid's request on to the leader also passes
 * on the ballot-0 votes its acceptor accepted for it, as the same 2a's, to
 * every other acceptor (with five, the client may reach one follower only).
 * Only the client sends those votes, and it came here because it cannot
 * reach the leader: its votes may have reached a minority of acceptors
 * only (this one), so that no majority ever accepts them at ballot 0, and
 * the gid, holding its participants' locks, would wait for recovery at
 * txn_timeout_ms.  The leader's acceptor takes them as the client's own
 * (px_acc_2a), and their 2b's with ours make the majority.  The request
 * follows the votes on the client's one connection, so they are here
 * first.  (Chaos: a replica's disk full and the client cut from the leader
 * stalled commits 2.7 s.)
 */
static void relay_xa_votes(struct px_replica *r, struct px_update *u, struct px_str gid, const struct px_pset *pset)
{
	if (!px_gid_is_xa(gid.p, gid.len))
		return;
	const struct px_txn *t = px_txn_get(r, gid);
	if (!t || !t->pset.n || !px_pset_eq(&t->pset, pset))
		return;
	for (uint8_t j = 0; j < t->ninst; j++) {
		const struct px_inst *in = &t->inst[j];
		if (in->vval == PX_VAL_NONE || in->vbal != 0)
			continue;
		struct px_msg v = {.type = PX_MSG_2A};
		v.u.m2a.gid = gid;
		v.u.m2a.rm = in->rm;
		v.u.m2a.bal = 0;
		v.u.m2a.val = in->vval;
		v.u.m2a.pset = t->pset;
		for (uint8_t k = 0; k < r->cfg.n; k++)
			if (k != r->cfg.id) {
				r->st.relayed++;
				px_update_send(u, px_addr_of(PX_NODE_REPLICA, k), &v, 0);
			}
	}
}

void px_lrn_commit(struct px_replica *r, struct px_update *u, struct px_addr from, uint64_t req,
		   struct px_str gid, const struct px_pset *pset, uint8_t wait, int abort)
{
	uint64_t birth;
	uint8_t wait0 = wait;
	int prepare_sent = (wait & PX_WAIT_PREPARE_SENT) != 0;
	uint8_t quiet = (wait & PX_WAIT_ACKS_TO_CLIENT) != 0;
	wait &= (uint8_t)~(PX_WAIT_PREPARE_SENT | PX_WAIT_ACKS_TO_CLIENT);
	if (wait != PX_WAIT_DECIDED)
		wait = PX_WAIT_APPLIED;
	if (px_gid_is_xa(gid.p, gid.len))
		wait = PX_WAIT_DECIDED; /* its client applies the outcome (a rollback too) */
	if (!px_is_leader(r)) {
#if defined(PX_PLANT_BUG) && PX_PLANT_BUG == 15
		if (0) /* planted: a follower never passes a client's request on */
#else
		if (from.kind == PX_NODE_CLIENT && r->leader < r->cfg.n && r->leader != r->cfg.id &&
		    gid.len && gid.len <= PX_GID_MAX && px_pset_valid(pset))
#endif
		{
			/* Pass it on to the leader we trust, and its answer back:
			 * the client may be unable to reach the leader (it came
			 * here because the leader was silent to it).  And still
			 * point the client at the leader: it may be we that
			 * cannot reach the leader (a link cut one way). */
			struct px_msg f;
			memset(&f, 0, sizeof(f));
			if (abort) {
				f.type = PX_MSG_ROLLBACK_REQ;
				f.u.rollback_req.req = req;
				f.u.rollback_req.gid = gid;
				f.u.rollback_req.pset = *pset;
			} else {
				f.type = PX_MSG_COMMIT_REQ;
				f.u.commit_req.req = req;
				f.u.commit_req.gid = gid;
				f.u.commit_req.wait = wait0;
				f.u.commit_req.pset = *pset;
			}
			uint64_t gh = px_hash(gid.p, gid.len);
			struct px_relay *rl = &r->relays[gh % PX_RELAYS];
			rl->gh = gh;
			rl->to = from;
			rl->until = r->now + PX_RELAY_MS;
			r->st.relayed_reqs++;
			if (!PX_PLANT_BUG_IS(18))
				relay_xa_votes(r, u, gid, pset);
			px_update_send(u, px_addr_of(PX_NODE_REPLICA, r->leader), &f, 0);
		}
		px_reply(u, from, req, gid, PX_ST_NOT_LEADER, r->leader == r->cfg.id ? PX_NO_LEADER : r->leader,
			 "not the leader");
		return;
	}
	if (px_gid_birth(r, gid, &birth)) {
		px_reply(u, from, req, gid, PX_ST_ERROR, r->cfg.id, "malformed gid");
		return;
	}
	if (!px_pset_valid(pset)) {
		px_reply(u, from, req, gid, PX_ST_ERROR, r->cfg.id, "invalid participant set");
		return;
	}
	if (r->cfg.rms)
		for (uint16_t i = 0; i < pset->n; i++) {
			uint16_t j = 0;
			while (j < r->cfg.nrms && r->cfg.rms[j] != pset->rm[i])
				j++;
			if (j == r->cfg.nrms) {
				px_reply(u, from, req, gid, PX_ST_ERROR, r->cfg.id, "unknown participant");
				return;
			}
		}
	struct px_txn *t = px_txn_get(r, gid);
	struct px_tomb *tb = t ? NULL : px_tomb_get(r, gid);
	if (tb) {
		px_reply(u, from, req, gid,
			 tb->outcome == PX_OUT_COMMIT ? PX_ST_COMMITTED
			 : tb->outcome == PX_OUT_ABORT ? PX_ST_ABORTED
						       : PX_ST_UNKNOWN_GID,
			 r->cfg.id, tb->outcome ? "" : "forgotten");
		return;
	}
	uint64_t ahead = t ? 0 : px_future(r, gid, birth, abort ? "rollback request" : "commit request");
	if (ahead) {
		/* ERROR states no outcome: the client reports the refusal. */
		char why[240];
		snprintf(why, sizeof(why),
			 "gid born %llu ms ahead of this replica's clock, more than the %u ms a client's clock may be "
			 "ahead: check the client's clock",
			 (unsigned long long)ahead, r->cfg.max_future_ms);
		px_reply(u, from, req, gid, PX_ST_ERROR, r->cfg.id, why);
		return;
	}
	if (!t) {
		if (r->txns.n >= r->cfg.max_live) {
			r->st.busy++;
			px_reply(u, from, req, gid, PX_ST_BUSY, r->cfg.id, "too many undecided transactions");
			return;
		}
		if (px_client_full(r, gid)) {
			r->st.busy++;
			r->st.busy_client++;
			px_reply(u, from, req, gid, PX_ST_BUSY, r->cfg.id,
				 "too many undecided transactions of this client (max_live_per_client)");
			return;
		}
		t = px_txn_new(r, gid, birth);
		if (!t) {
			u->oom = 1;
			return;
		}
	}
	struct px_lead *l = px_lead_of(r, t);
	if (!l) {
		u->oom = 1;
		return;
	}
	if (t->lead->pset.n && !px_pset_eq(&t->lead->pset, pset)) {
		/* Another set is known for this gid: a client naming two sets,
		 * or a gid a leader began to abort for an agent that asked
		 * about it before the request came.  Acceptors fix one set per
		 * gid, so the outcome is still one: wait for it. */
		r->st.conflicts++;
		px_log(r, "gid=%s request names a different participant set than the one known", t->k.s);
		add_waiter(l, from, req, wait, quiet);
		answer(r, u, t);
		return;
	}
	if (!t->lead->pset.n)
		t->lead->pset = *pset;
	/* The participants get txn_timeout_ms from the request to vote.  Not
	 * so for a gid whose recovery began (an agent holding it prepared
	 * asked about it, say): its promises may refuse those votes already,
	 * and recovery, which now knows the set, finishes it at once.  (The
	 * simulator's client-minority: an XA-style gid's 2 s stall.) */
	if (!l->requested && !(l->rbal && !PX_PLANT_BUG_IS(19)))
		l->since = r->now;
	l->requested = 1;
	l->abort_req |= (uint8_t)(abort != 0);
	add_waiter(l, from, req, wait, quiet);
	if (t->outcome) {
		answer(r, u, t);
		return;
	}
	/* The client's own PREPAREs usually make ours redundant: then ours
	 * go out only at the retransmission time (px_lrn_tick). */
	if (!prepare_sent || abort)
		send_prepare(r, u, t, (l->prepares < UINT8_MAX && l->prepares++ > 0) || has_late_ack(r, t));
	/* Not while recovering: a client asking again and again (through a
	 * follower, every few ms) would put recovery's next step off for as
	 * long as it asks. */
	if (!l->rbal || PX_PLANT_BUG_IS(19))
		l->next_resend = r->now + r->cfg.resend_ms;
}

void px_lrn_asked(struct px_replica *r, struct px_update *u, struct px_addr from, struct px_str gid, uint64_t birth)
{
	/* An agent holds an undecided gid prepared: track it (and who asked),
	 * so that it gets finished after the timeout even if nobody here
	 * knows its participants.
	 * A client asks about a gid no replica may have heard of: one it gave
	 * up on before its commit request or any vote got through (a
	 * partition).  Nothing else would ever decide it, and its status
	 * would stay "undecided" until the horizon.  Once txn_timeout_ms past
	 * its birth it is tracked, so that recovery finishes it at once (phase
	 * 1 binds any vote still on its way) and the next status request gets
	 * the outcome.  A younger one may still be on its way: not tracked, so
	 * that status requests alone cannot fill max_live for long. */
	if (from.kind == PX_NODE_CLIENT) {
		if (px_txn_get(r, gid) || r->now < birth + r->cfg.txn_timeout_ms)
			return;
	} else if (from.kind != PX_NODE_AGENT) {
		return;
	}
	if (!px_txn_get(r, gid) &&
	    (r->txns.n >= r->cfg.max_live || (from.kind == PX_NODE_CLIENT && px_client_full(r, gid))))
		return;
	struct px_txn *t = learner_txn(r, u, gid, "status request");
	if (from.kind == PX_NODE_CLIENT) {
		if (t && !t->lead->requested && t->lead->since > birth)
			t->lead->since = birth; /* undecided since its birth, as far as we know */
		if (t && !t->lead->client_asked) {
			t->lead->client_asked = 1;
			r->st.client_asked++;
			px_log(r, "gid=%s a client asks about it, unknown here %llu ms after its birth: recovering it",
			       t->k.s, (unsigned long long)(r->now - birth));
		}
		return;
	}
	if (t && !t->lead->has_asker) {
		t->lead->has_asker = 1;
		t->lead->asker_rm = (uint16_t)from.id;
	}
}

static void send_1a(struct px_replica *r, struct px_update *u, struct px_txn *t, uint16_t rm)
{
	struct px_msg m = {.type = PX_MSG_1A};
	m.u.m1a.gid = px_txn_gid(t);
	m.u.m1a.rm = rm;
	m.u.m1a.bal = r->ballot;
	if (rm != PX_RM_ANY)
		m.u.m1a.pset = t->lead->pset;
#if defined(PX_PLANT_BUG) && PX_PLANT_BUG == 9
	/* Planted bug for the simulator's self-test: the 1a leaves before
	 * its ballot's round record is durable, so a restart can reuse it. */
	px_send_replicas(r, u, &m, 0);
#else
	px_send_replicas(r, u, &m, 1); /* held: the ballot's round is being logged */
#endif
}

/* Finish an undecided gid with this leader's ballot.  Returns 1 if the
 * gid was dropped. */
static int recover(struct px_replica *r, struct px_update *u, struct px_txn *t)
{
	struct px_lead *l = t->lead;
	if (l->gaveup)
		return 0; /* our own FORGET drops it */
	if (l->rbal == r->ballot && r->now < l->next_resend)
		return 0; /* a new ballot starts at once, a retry waits */
	l->next_resend = r->now + r->cfg.resend_ms;
	if (l->rbal != r->ballot && r->ballot_spent) {
		/* This ballot proposed values for a gid since dropped: should
		 * this be that gid again, it must not get a second value at
		 * the same ballot (one value per ballot).  A fresh one. */
		px_bump_round(r, u, r->ballot);
		if (r->ballot_spent)
			return 0; /* the round record could not be logged: retry */
		px_log(r, "gid=%s recovery takes a fresh ballot %u (the last one proposed for a gid since forgotten)",
		       t->k.s, r->ballot);
	}
	if (l->rbal != r->ballot) {
		l->rbal = r->ballot;
		memset(l->promised, 0, sizeof(l->promised));
		memset(l->below, 0, sizeof(l->below));
		memset(l->hbal, 0, sizeof(l->hbal));
		memset(l->hval, 0, sizeof(l->hval));
		memset(l->sent2a, 0, sizeof(l->sent2a));
		l->probe_ok = l->probe_below = 0;
		r->st.recoveries++;
		px_log(r, "gid=%s recovery: undecided for %llu ms, phase 1 at ballot %u", t->k.s,
		       (unsigned long long)(r->now - l->since), r->ballot);
	}
	if (!t->lead->pset.n) {
		/* Participants unknown: phase 1 for the whole gid. */
		int q = px_quorum(r);
		if (popcount8(l->probe_below) >= q) {
			give_up(r, u, t, "unknown to a majority below the gc horizon");
			return 0;
		}
		if (popcount8(l->probe_ok) < q) {
			send_1a(r, u, t, PX_RM_ANY);
			return 0;
		}
		/* A majority promised our ballot for every instance and has
		 * accepted nothing: no value is chosen below it.  (Leaders
		 * with higher ballots still may choose: giving up here would
		 * not be safe; proposing, below, is.)  With no participant
		 * configured to finish (a test core), wait for the horizon. */
		if (!l->has_asker && !r->cfg.nrms) {
			if (!t->acc_known && !l->nwait) {
				px_txn_drop(r, t);
				return 1;
			}
			return 0;
		}
		/* Only the asking agent is known: finish its instance (with
		 * nothing accepted at a majority, that aborts the gid).  No
		 * agent asked (a client did, or followers hold promises for
		 * it, left by another leader's recovery): finish the instance
		 * of the first configured participant the same way.  The set
		 * it fixes at the acceptors is not the gid's own, so any vote
		 * under the real one is refused from then on: the outcome is
		 * abort either way, every acceptor drops the gid with the
		 * decision's FORGET, and a status request gets the outcome.
		 * (Before, such a gid waited for the horizon, and promises
		 * held by followers whose horizon had not passed it stayed
		 * live for ever.) */
		t->lead->pset.n = 1;
		t->lead->pset.rm[0] = l->has_asker ? l->asker_rm : r->cfg.rms[0];
		if (!l->has_asker)
			px_log(r, "gid=%s no participant known to a majority: finishing participant %u's instance (it aborts the gid)",
			       t->k.s, (unsigned)t->lead->pset.rm[0]);
	}
	for (uint16_t i = 0; i < t->lead->pset.n; i++) {
		if (l->sent2a[i])
			send_2a(r, u, t, i);
		else
			send_1a(r, u, t, t->lead->pset.rm[i]);
	}
	return 0;
}

/* Every participant of the gid has a vote accepted at our own acceptor:
 * each has voted, so recovery proposes those votes (our acceptor is one of
 * the promises, and it is the first to answer) and decides at once.  Such a
 * gid that is still undecided after two retransmission periods lost its
 * 2b's with a failed leader (the thrifty first votes went to it and one
 * follower): it holds the participants' locks, and waiting for
 * txn_timeout_ms would stall whoever needs them. */
static int voted_here(const struct px_replica *r, const struct px_txn *t)
{
	const struct px_lead *l = t->lead;
	if (!t->pset.n || !px_pset_eq(&t->pset, &l->pset) || r->now < l->since + 2u * r->cfg.resend_ms)
		return 0;
	for (uint16_t i = 0; i < t->pset.n; i++) {
		const struct px_inst *in = NULL;
		for (uint8_t j = 0; j < t->ninst && !in; j++)
			if (t->inst[j].rm == t->pset.rm[i])
				in = &t->inst[j];
		if (!in || in->vval == PX_VAL_NONE)
			return 0;
	}
	return 1;
}

void px_lrn_tick(struct px_replica *r, struct px_update *u)
{
	if (!px_is_leader(r))
		return;
	if (r->now >= r->next_sync) {
		struct px_msg q = {.type = PX_MSG_SYNC_REQ};
		q.u.sync_req.bal = r->ballot;
		q.u.sync_req.cursor = 0;
		px_send_replicas(r, u, &q, 0);
		r->next_sync = r->now + r->cfg.sync_ms;
	}
	/* Collect first: recover() may drop a gid, which reorders the map. */
	size_t pos = 0, n = 0;
	struct px_txn *t, **all = malloc(sizeof(*all) * (r->txns.n + 1));
	if (!all) {
		u->oom = 1;
		return;
	}
	while ((t = px_map_next(&r->txns, &pos)))
		all[n++] = t;
	for (size_t i = 0; i < n; i++) {
		t = all[i];
		struct px_lead *l = px_lead_of(r, t);
		if (!l) {
			u->oom = 1;
			break;
		}
		if (t->outcome) {
			if (r->now >= l->next_resend) {
				if (l->pset.n) {
					for (uint16_t k = 0; k < l->pset.n && !is_xa(t); k++)
						if (!((l->acked >> k) & 1))
							late_ack(r, l->pset.rm[k]);
					send_decision(r, u, t, 1);
				}
				else /* decided, participants unknown here: ask the acceptors */
					send_1a(r, u, t, PX_RM_ANY);
				l->next_resend = r->now + r->cfg.resend_ms;
			}
		} else if (r->now >= l->since + r->cfg.txn_timeout_ms || voted_here(r, t)) {
#if defined(PX_PLANT_BUG) && PX_PLANT_BUG == 6
			/* Planted bug for the simulator's self-test: an XA-style
			 * gid whose client left is never finished. */
			if (is_xa(t))
				continue;
#endif
			recover(r, u, t);
		} else if (l->requested && r->now >= l->next_resend) {
			for (uint16_t k = 0; k < l->pset.n && !is_xa(t); k++) {
				const struct px_inst *in = px_inst_get(t, l->pset.rm[k], 0);
				if (!in || in->vval == PX_VAL_NONE)
					late_ack(r, l->pset.rm[k]); /* no vote here yet */
			}
			send_prepare(r, u, t, l->prepares < UINT8_MAX && l->prepares++ > 0);
			l->next_resend = r->now + r->cfg.resend_ms;
		}
	}
	free(all);
}

void px_lead_begin(struct px_replica *r, struct px_update *u)
{
	px_bump_round(r, u, r->maxbal_seen);
	r->st.leader_changes++;
	px_log(r, "became leader with ballot %u", r->ballot);
	r->next_sync = r->now; /* collect undecided gids at the next tick */
}

void px_lead_end(struct px_replica *r, struct px_update *u)
{
	size_t pos = 0, n = 0;
	struct px_txn *t, **drop = malloc(sizeof(*drop) * (r->txns.n + 1));
	while ((t = px_map_next(&r->txns, &pos))) {
		if (!t->lead)
			continue;
		for (uint8_t i = 0; i < t->lead->nwait; i++)
			px_reply(u, t->lead->w[i].to, t->lead->w[i].req, px_txn_gid(t), PX_ST_NOT_LEADER,
				 r->leader, "leader changed");
		free(t->lead);
		t->lead = NULL;
		if (!t->acc_known && drop)
			drop[n++] = t;
	}
	for (size_t i = 0; i < n; i++)
		px_txn_drop(r, drop[i]);
	free(drop);
	r->ballot = 0;
	px_log(r, "no longer leader");
}
