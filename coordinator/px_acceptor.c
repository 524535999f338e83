/*
 * px_acceptor.c - the acceptor of every instance (gid, participant).
 *
 * Rules (protocol.md section 3), per instance with state (mbal, vbal, vval):
 *   1a(b), b >= mbal, b > 0:  mbal := b; log PROMISE; reply 1b(b, vbal, vval)
 *   2a(b, v), b >= mbal:      mbal := vbal := b; vval := v; log ACCEPT; reply 2b
 * Every 1b/2b goes out in update.held, i.e. only after its record is synced.
 *
 * Extra rules:
 *   - ballot 0 belongs to participant `rm` alone and carries one value: a
 *     second, different value at ballot 0 is refused and logged;
 *   - a gid's participant set is fixed by the first 2a this acceptor takes;
 *     a 2a naming another set is refused (so all chosen values of one gid
 *     name the same set: any two majorities share an acceptor);
 *   - garbage collection: a forgotten gid leaves a tombstone while its birth
 *     is above the durable horizon; an unknown gid born below the horizon is
 *     refused for ever (horizon = this replica's clock - horizon_ms, logged
 *     before use).  So no old duplicate can revive a forgotten gid;
 *   - a gid born more than max_future_ms ahead of this replica's clock, that
 *     it holds nothing for, is refused: dropped and counted, no txn and no
 *     tombstone made (px_future in px_replica.c says why that is safe).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_gid.h"
#include "px_internal.h"

struct px_inst *px_inst_get(struct px_txn *t, uint16_t rm, int create)
{
	for (uint8_t i = 0; i < t->ninst; i++)
		if (t->inst[i].rm == rm)
			return &t->inst[i];
	if (!create || t->ninst >= PX_PSET_MAX)
		return NULL;
	struct px_inst *in = &t->inst[t->ninst++];
	memset(in, 0, sizeof(*in));
	in->rm = rm;
	return in;
}

static void see_ballot(struct px_replica *r, uint32_t b)
{
	if (b > r->maxbal_seen)
		r->maxbal_seen = b;
}

/* Known to this acceptor (not just to its learner). */
static struct px_txn *acc_txn(struct px_replica *r, struct px_str gid)
{
	struct px_txn *t = px_txn_get(r, gid);
	return t && t->acc_known ? t : NULL;
}

/* For a gid this acceptor does not know: tombstone or horizon flags, or 0
 * when it may take the gid on. */
static uint8_t unknown_flags(struct px_replica *r, struct px_str gid, uint64_t birth, uint8_t *outcome)
{
	struct px_tomb *tb = px_tomb_get(r, gid);
	*outcome = PX_OUT_NONE;
	if (tb) {
		*outcome = tb->outcome;
		return PX_ACC_FORGOTTEN | (tb->outcome ? PX_ACC_DECIDED : 0);
	}
	if (birth < r->horizon)
		return PX_ACC_BELOW_HORIZON;
	return 0;
}

static struct px_txn *acc_take(struct px_replica *r, struct px_update *u, struct px_str gid, uint64_t birth)
{
	struct px_txn *t = px_txn_get(r, gid);
	if (!t)
		t = px_txn_new(r, gid, birth);
	if (!t) {
		u->oom = 1;
		return NULL;
	}
	t->acc_known = 1;
	return t;
}

int px_pset_known(const struct px_replica *r, const struct px_pset *s)
{
	if (!r->cfg.rms)
		return 1;
	for (uint16_t i = 0; i < s->n; i++) {
		uint16_t lo = 0, hi = r->cfg.nrms;
		while (lo < hi) {
			uint16_t mid = (uint16_t)((lo + hi) / 2);
			if (r->cfg.rms[mid] < s->rm[i])
				lo = (uint16_t)(mid + 1);
			else
				hi = mid;
		}
		if (lo == r->cfg.nrms || r->cfg.rms[lo] != s->rm[i])
			return 0;
	}
	return 1;
}

/* Highest promise covering instance `in` (NULL: the whole gid). */
static uint32_t promised(const struct px_txn *t, const struct px_inst *in)
{
	uint32_t b = t->gmbal;
	if (in && in->mbal > b)
		b = in->mbal;
	if (!in)
		for (uint8_t i = 0; i < t->ninst; i++)
			if (t->inst[i].mbal > b)
				b = t->inst[i].mbal;
	return b;
}

/*
 * 1a for one instance, or with rm == PX_RM_ANY for every instance of the
 * gid at once (a leader that does not know the participants yet).  A
 * whole-gid promise with no participant set known means this acceptor has
 * accepted nothing for the gid and will accept nothing below the ballot.
 */
void px_acc_1a(struct px_replica *r, struct px_update *u, struct px_addr from, const struct px_m1a *m)
{
	uint64_t birth;
	if (px_gid_birth(r, m->gid, &birth))
		return;
	int any = m->rm == PX_RM_ANY;
	if (m->bal == 0 || (!any && (!px_pset_valid(&m->pset) || !px_pset_has(&m->pset, m->rm)))) {
		r->st.bad_msgs++;
		px_log(r, "gid=%.*s bad message: 1a for rm %u ballot %u", (int)m->gid.len, m->gid.p, m->rm,
		       m->bal);
		return;
	}
	see_ballot(r, m->bal);
	struct px_msg out = {.type = PX_MSG_1B};
	struct px_m1b *b = &out.u.m1b;
	b->gid = m->gid;
	b->rm = m->rm;
	b->bal = m->bal;
	struct px_txn *t = acc_txn(r, m->gid);
	if (!t) {
		b->flags = unknown_flags(r, m->gid, birth, &b->outcome);
		if (b->flags) {
			px_update_send(u, from, &out, 1);
			return;
		}
		if (px_future(r, m->gid, birth, "1a"))
			return; /* no promise, nothing reported */
	}
	t = acc_take(r, u, m->gid, birth);
	if (!t)
		return;
	if (!any && t->pset.n && !px_pset_eq(&t->pset, &m->pset)) {
		b->flags = PX_ACC_PSET_CONFLICT;
		r->st.conflicts++;
		px_log(r, "gid=%.*s refused 1a: participant set differs from the first one seen",
		       (int)m->gid.len, m->gid.p);
		b->pset = t->pset; /* tell the leader which set we hold */
		if (t->outcome) {
			b->flags |= PX_ACC_DECIDED;
			b->outcome = t->outcome;
		}
		px_update_send(u, from, &out, 1);
		return;
	}
	struct px_inst *in = any ? NULL : px_inst_get(t, m->rm, 1);
	if (!any && !in)
		return;
	if (m->bal >= promised(t, in)) {
		if (m->bal > promised(t, in) || (!any && !t->pset.n)) {
			if (any) {
				t->gmbal = m->bal;
			} else {
				t->pset = m->pset; /* the promise fixes the set here too */
				in->mbal = m->bal;
			}
			struct px_rec rec = {.type = PX_REC_PROMISE, .gid = m->gid, .rm = m->rm, .bal = m->bal,
					     .pset = t->pset};
			if (px_rec_put(u, &rec))
				return;
		}
		b->flags = PX_ACC_OK;
	}
	b->mbal = promised(t, in);
	if (in) {
		b->vbal = in->vbal;
		b->vval = in->vval;
	}
	b->pset = t->pset;
	if (t->outcome) {
		b->flags |= PX_ACC_DECIDED;
		b->outcome = t->outcome;
	}
	px_update_send(u, from, &out, 1);
}

#if defined(PX_PLANT_BUG) && PX_PLANT_BUG == 3
/* Planted bug for the simulator's self-test: 2b leaves before its record
 * is durable. */
#define HELD_2B 0
#else
#define HELD_2B 1
#endif

/* 2b goes to the leader we trust, and to a replica that proposed.
 * deferred: it may wait for a later sync (see more_votes_due). */
static void send_2b(struct px_replica *r, struct px_update *u, struct px_addr from, const struct px_msg *out,
		    int deferred)
{
	struct px_addr to[2];
	int n = 0;
	if (r->leader != PX_NO_LEADER)
		to[n++] = px_addr_of(PX_NODE_REPLICA, r->leader);
	/* A replica that proposed; and the client that voted for an XA-style
	 * gid, which learns a commit from a majority of acceptors (Faster
	 * Paxos Commit) without waiting for the leader. */
	if ((from.kind == PX_NODE_REPLICA && from.id != r->leader) || from.kind == PX_NODE_CLIENT)
		to[n++] = from;
	for (int k = 0; k < n; k++) {
		if (deferred && HELD_2B)
			px_update_send_deferred(u, to[k], out);
		else
			px_update_send(u, to[k], out, HELD_2B);
	}
}

/* Is a ballot-0 vote for another instance of t's set still to come here?
 * Some instance has accepted nothing, and no leader has started to recover
 * the gid.  The leader cannot decide before every instance's 2b, so a 2b
 * for this one need not cost a sync of its own: the sync for the last
 * vote covers it (or the driver's deadline, a few ms).  That holds while
 * every agent sends its first vote to the same majority; after an agent's
 * repeated vote moved its choice, its votes and the others' meet only at
 * the leader, and each deferred 2b would wait for the deadline.  So a
 * committed gid whose set never completed here (found at FORGET) stops
 * the deferring for PX_DEFER_OFF_MS, as long as the agents keep such a
 * choice. */
#define PX_DEFER_OFF_MS 10000u

static int more_votes_due(struct px_txn *t)
{
	if (!t->pset.n || t->gmbal)
		return 0;
	for (uint16_t i = 0; i < t->pset.n; i++) {
		const struct px_inst *in = px_inst_get(t, t->pset.rm[i], 0);
		if (!in || (in->vval == PX_VAL_NONE && in->mbal == 0))
			return 1;
	}
	return 0;
}

void px_acc_2a(struct px_replica *r, struct px_update *u, struct px_addr from, const struct px_m2a *m)
{
	uint64_t birth;
	if (px_gid_birth(r, m->gid, &birth))
		return;
	/* Ballot 0 is the participant's own vote, and it has exactly one
	 * proposer: the participant's agent, or for an XA-style gid the client
	 * that prepared the participant itself (agents never vote on those).
	 * Higher ballots come from replicas. */
	int from_agent = from.kind == PX_NODE_AGENT, from_client = from.kind == PX_NODE_CLIENT;
	int xa = px_gid_is_xa(m->gid.p, m->gid.len);
	/* A ballot-0 vote that a replica passes on: an XA-style client's,
	 * which a follower passes on with its request (px_learner.c,
	 * relay_xa_votes), or one a follower accepted and reported in its 2b,
	 * which the leader's own acceptor takes (px_lrn_2b, take_relayed_vote).
	 * Either is the voter's own: ballot 0 has no other proposer, and
	 * replicas are authenticated. */
	int relayed = m->bal == 0 && from.kind == PX_NODE_REPLICA && from.id < r->cfg.n && from.id != r->cfg.id;
	int voter = xa ? from_client || relayed : (from_agent && from.id == m->rm) || relayed;
	if ((m->bal == 0) != (from_agent || from_client || relayed) || (m->bal == 0 && !voter) ||
	    !px_pset_valid(&m->pset) || !px_pset_has(&m->pset, m->rm) || !px_pset_known(r, &m->pset) ||
	    m->val == PX_VAL_NONE) {
		r->st.bad_msgs++;
		px_log(r, "gid=%.*s bad message: 2a rm %u ballot %u from %s %llu", (int)m->gid.len, m->gid.p,
		       m->rm, m->bal, from_agent ? "agent" : from_client ? "client" : "replica",
		       (unsigned long long)from.id);
		return;
	}
	see_ballot(r, m->bal);
	int logged = 0;
	struct px_msg out = {.type = PX_MSG_2B};
	struct px_m2b *b = &out.u.m2b;
	b->gid = m->gid;
	b->rm = m->rm;
	b->bal = m->bal;
	b->val = m->val;
	struct px_txn *t = acc_txn(r, m->gid);
	if (!t) {
		b->flags = unknown_flags(r, m->gid, birth, &b->outcome);
		if (b->flags) {
			send_2b(r, u, from, &out, 0);
			if (from_agent && b->outcome) {
				struct px_msg d = {.type = PX_MSG_DECISION};
				d.u.decision.gid = m->gid;
				d.u.decision.outcome = b->outcome;
				d.u.decision.pset = m->pset;
				px_update_send(u, from, &d, 0);
			}
			return;
		}
		if (px_future(r, m->gid, birth, "2a"))
			return; /* no 2b: the vote counts nowhere from here */
		t = acc_take(r, u, m->gid, birth);
		if (!t)
			return;
	}
	struct px_inst *in = NULL;
	if (t->pset.n && !px_pset_eq(&t->pset, &m->pset)) {
		b->flags = PX_ACC_PSET_CONFLICT;
		r->st.conflicts++;
		px_log(r, "gid=%.*s refused 2a: participant set differs from the first one seen",
		       (int)m->gid.len, m->gid.p);
	} else if ((in = px_inst_get(t, m->rm, 1)) && m->bal < promised(t, in)) {
		/* Refused for a higher promise.  The set is not ours to keep
		 * from a refused value, but naming it lets a leader that
		 * promised the whole gid learn its participants. */
		if (!t->pset.n)
			t->pset = m->pset;
	} else if (in) {
		if (m->bal == 0 && in->vval != PX_VAL_NONE && in->vbal == 0 && in->vval != m->val) {
			b->flags = PX_ACC_VAL_CONFLICT;
			r->st.conflicts++;
			px_log(r, "gid=%.*s refused 2a: second value at ballot 0 from participant %u",
			       (int)m->gid.len, m->gid.p, m->rm);
		} else {
			if (in->vval != m->val || in->vbal != m->bal || in->mbal != m->bal) {
				if (!t->pset.n)
					t->pset = m->pset;
				in->mbal = in->vbal = m->bal;
				in->vval = m->val;
				struct px_rec rec = {.type = PX_REC_ACCEPT, .gid = m->gid, .rm = m->rm,
						     .bal = m->bal, .val = m->val, .pset = m->pset};
				if (px_rec_put(u, &rec))
					return;
				logged = 1;
			}
			b->flags = PX_ACC_OK;
		}
	}
	b->mbal = promised(t, in);
	b->pset = t->pset;
	if (t->outcome) {
		b->flags |= PX_ACC_DECIDED;
		b->outcome = t->outcome;
	}
	/* The first votes of a gid's set: no sync of their own (a `prepared`
	 * only; an `aborted` decides at once). */
	int deferred = m->bal == 0 && b->flags == PX_ACC_OK && m->val == PX_VAL_PREPARED &&
		       r->now >= r->defer_off_until && more_votes_due(t);
	if (deferred && logged)
		px_rec_lazy(u);
	send_2b(r, u, from, &out, deferred);
	if (from_agent && t->outcome) {
		/* The agent is retransmitting its vote: tell it what we know. */
		struct px_msg d = {.type = PX_MSG_DECISION};
		d.u.decision.gid = m->gid;
		d.u.decision.outcome = t->outcome;
		d.u.decision.pset = t->pset.n ? t->pset : m->pset;
		px_update_send(u, from, &d, 0);
	}
}

/* A leader sends its DECISION to the replicas only when it sends it again
 * (some participant's ack is late): its own may not reach that participant
 * (a link cut one way), so a follower passes it on.  The participants ack
 * to us; px_lrn_ack passes the acks on to the leader. */
static void relay_decision(struct px_replica *r, struct px_update *u, const struct px_mdecision *m)
{
	if (px_is_leader(r) || !px_pset_known(r, &m->pset))
		return;
	struct px_msg d = {.type = PX_MSG_DECISION};
	d.u.decision = *m;
	r->st.relayed++;
	px_send_agents(r, u, &m->pset, &d);
}

void px_acc_decision(struct px_replica *r, struct px_update *u, const struct px_mdecision *m)
{
	uint64_t birth;
	uint8_t oc;
	if (px_gid_birth(r, m->gid, &birth))
		return;
	if ((m->outcome != PX_OUT_COMMIT && m->outcome != PX_OUT_ABORT) || !px_pset_valid(&m->pset)) {
		r->st.bad_msgs++;
		return;
	}
	struct px_txn *t = px_txn_get(r, m->gid);
	if ((!t || !t->acc_known) && unknown_flags(r, m->gid, birth, &oc))
		return; /* forgotten already, or too old to matter */
	if (!t && px_future(r, m->gid, birth, "decision"))
		return; /* the leader sends it again */
	if (t && t->outcome) {
		if (t->outcome != m->outcome)
			px_log(r, "gid=%.*s CONFLICTING DECISION %u after %u", (int)m->gid.len, m->gid.p,
			       m->outcome, t->outcome);
		else
			relay_decision(r, u, m);
		return;
	}
	t = acc_take(r, u, m->gid, birth);
	if (!t)
		return;
	if (!t->pset.n)
		t->pset = m->pset;
	px_lrn_learn(r, u, t, m->outcome, "decision message");
	if (t->outcome == m->outcome)
		relay_decision(r, u, m);
}

void px_acc_forget(struct px_replica *r, struct px_update *u, const struct px_mforget *m)
{
	uint64_t birth;
	if (px_gid_birth(r, m->gid, &birth) || m->outcome > PX_OUT_ABORT)
		return;
	struct px_txn *t = px_txn_get(r, m->gid);
	uint8_t outcome = t && t->outcome ? t->outcome : m->outcome;
	if (!t && (px_tomb_get(r, m->gid) || birth < r->horizon))
		return;
	if (!t && px_future(r, m->gid, birth, "forget"))
		return; /* no tombstone: it could not be pruned before that birth */
	struct px_rec rec = {.type = PX_REC_FORGET, .gid = m->gid, .outcome = outcome};
	if (px_rec_put(u, &rec))
		return;
	struct px_key k;
	px_key_set(&k, m->gid);
	if (t && outcome == PX_OUT_COMMIT && t->acc_known && more_votes_due(t)) {
		/* every participant voted prepared, some not here: see
		 * more_votes_due */
		r->st.defer_misses++;
		r->defer_off_until = r->now + PX_DEFER_OFF_MS;
	}
	if (t) {
		for (uint8_t i = 0; i < (t->lead ? t->lead->nwait : 0); i++) {
			struct px_waiter *w = &t->lead->w[i];
			uint8_t st = outcome == PX_OUT_COMMIT  ? PX_ST_COMMITTED
				     : outcome == PX_OUT_ABORT ? PX_ST_ABORTED
							       : PX_ST_UNKNOWN_GID;
			px_reply(u, w->to, w->req, m->gid, st, r->leader, outcome ? "" : "forgotten");
		}
		px_txn_drop(r, t);
	}
	px_tomb_add(r, &k, birth, outcome);
	r->st.forgotten++;
}

/* The live gids after `cursor`, oldest first, PX_SYNC_MAX at a time. */
void px_acc_sync_req(struct px_replica *r, struct px_update *u, struct px_addr from,
		     const struct px_msync_req *m)
{
	see_ballot(r, m->bal);
	struct px_txn *sel[PX_SYNC_MAX];
	size_t nsel = 0, more = 0, pos = 0;
	struct px_txn *t;
	while ((t = px_map_next(&r->txns, &pos))) {
		if (!t->acc_known || t->seq <= m->cursor)
			continue;
		if (nsel == PX_SYNC_MAX && t->seq > sel[nsel - 1]->seq) {
			more = 1;
			continue;
		}
		if (nsel == PX_SYNC_MAX) {
			more = 1;
			nsel--;
		}
		size_t i = nsel++;
		while (i > 0 && sel[i - 1]->seq > t->seq) {
			sel[i] = sel[i - 1];
			i--;
		}
		sel[i] = t;
	}
	struct px_msg *out = malloc(sizeof(*out));
	if (!out) {
		u->oom = 1;
		return;
	}
	out->type = PX_MSG_SYNC;
	out->u.sync.cursor = nsel ? sel[nsel - 1]->seq : m->cursor;
	out->u.sync.done = !more;
	out->u.sync.count = (uint16_t)nsel;
	for (size_t i = 0; i < nsel; i++) {
		out->u.sync.e[i].gid = px_txn_gid(sel[i]);
		out->u.sync.e[i].outcome = sel[i]->outcome;
		out->u.sync.e[i].pset = sel[i]->pset;
	}
	px_update_send(u, from, out, 1);
	free(out);
	/* Re-send our 2b for undecided instances so a new leader can count them. */
	for (size_t i = 0; i < nsel; i++) {
		t = sel[i];
		if (t->outcome)
			continue;
		for (uint8_t j = 0; j < t->ninst; j++) {
			const struct px_inst *in = &t->inst[j];
			if (in->vval == PX_VAL_NONE)
				continue;
			struct px_msg b = {.type = PX_MSG_2B};
			b.u.m2b.gid = px_txn_gid(t);
			b.u.m2b.rm = in->rm;
			b.u.m2b.bal = in->vbal;
			b.u.m2b.val = in->vval;
			b.u.m2b.flags = PX_ACC_OK;
			b.u.m2b.mbal = in->mbal;
			b.u.m2b.pset = t->pset;
			px_update_send(u, from, &b, 1);
		}
	}
}

void px_acc_status(struct px_replica *r, struct px_update *u, struct px_addr from,
		   const struct px_mstatus_req *m)
{
	uint64_t birth;
	if (px_gid_birth(r, m->gid, &birth)) {
		px_reply(u, from, m->req, m->gid, PX_ST_ERROR, r->leader, "malformed gid");
		return;
	}
	struct px_txn *t = acc_txn(r, m->gid);
	if (!t && px_txn_get(r, m->gid) && px_txn_get(r, m->gid)->outcome)
		t = px_txn_get(r, m->gid); /* learnt by our learner, not yet logged */
	uint8_t oc = PX_OUT_NONE, fl = 0;
	uint64_t ahead = t ? 0 : px_future(r, m->gid, birth, "status request");
	if (ahead) {
		/* Not UNKNOWN_GID: it will be taken on once the clock nears its
		 * birth.  And nothing tracked for it (px_lrn_asked). */
		char why[200];
		snprintf(why, sizeof(why),
			 "gid born %llu ms ahead of this replica's clock, more than the %u ms allowed: nothing is "
			 "known or kept for it",
			 (unsigned long long)ahead, r->cfg.max_future_ms);
		px_reply(u, from, m->req, m->gid, PX_ST_ERROR, r->leader, why);
		return;
	}
	if (t)
		oc = t->outcome;
	else
		fl = unknown_flags(r, m->gid, birth, &oc);
	if (oc) {
		px_reply(u, from, m->req, m->gid, oc == PX_OUT_COMMIT ? PX_ST_COMMITTED : PX_ST_ABORTED,
			 r->leader, "");
	} else if (fl) {
		/* Forgotten without outcome, or never seen and too old: this
		 * acceptor will never accept it (the horizon is durable).  But
		 * one acceptor is not a majority: a leader still tracks what an
		 * agent holds prepared, so that it gets finished. */
		if (px_is_leader(r) && from.kind == PX_NODE_AGENT)
			px_lrn_asked(r, u, from, m->gid, birth);
		px_reply(u, from, m->req, m->gid, PX_ST_UNKNOWN_GID, r->leader,
			 fl & PX_ACC_FORGOTTEN ? "forgotten" : "older than the gc horizon");
	} else {
		if (px_is_leader(r))
			px_lrn_asked(r, u, from, m->gid, birth);
		px_reply(u, from, m->req, m->gid, PX_ST_UNDECIDED, r->leader, "");
	}
}

static void prune_tombs(struct px_replica *r)
{
	size_t pos = 0, n = 0;
	struct px_tomb *tb;
	struct px_tomb **dead = malloc(sizeof(*dead) * (r->tombs.n + 1));
	if (!dead)
		return; /* retry at the next horizon step */
	while ((tb = px_map_next(&r->tombs, &pos)))
		if (tb->birth < r->horizon)
			dead[n++] = tb;
	for (size_t i = 0; i < n; i++) {
		px_map_del(&r->tombs, &dead[i]->k);
		free(dead[i]);
	}
	free(dead);
}

void px_acc_tick(struct px_replica *r, struct px_update *u)
{
	if (r->cfg.horizon_ms == 0 || r->now <= r->cfg.horizon_ms)
		return;
	uint64_t cand = r->now - r->cfg.horizon_ms;
	uint64_t step = r->cfg.horizon_ms / 8 ? r->cfg.horizon_ms / 8 : 1;
	if (r->horizon_seq > r->durable_seq || cand < r->horizon_pending + step)
		return;
	struct px_rec rec = {.type = PX_REC_HORIZON, .u64 = cand};
	if (px_rec_put(u, &rec))
		return;
	r->horizon_pending = cand;
	r->horizon_seq = u->rec_seq;
}

void px_acc_persisted(struct px_replica *r)
{
	if (r->horizon_pending > r->horizon && r->durable_seq >= r->horizon_seq) {
		r->horizon = r->horizon_pending;
		prune_tombs(r);
	}
}

int px_acc_replay(struct px_replica *r, const struct px_rec *rec)
{
	uint64_t birth = 0;
	struct px_txn *t = NULL;
	if (rec->type <= PX_REC_FORGET) {
		if (px_gid_parse(rec->gid.p, rec->gid.len, &birth, NULL))
			return -1;
		t = px_txn_get(r, rec->gid);
	}
	switch (rec->type) {
	case PX_REC_PROMISE:
	case PX_REC_ACCEPT:
	case PX_REC_DECISION: {
		if (!t && !(t = px_txn_new(r, rec->gid, birth)))
			return -1;
		t->acc_known = 1;
		if (rec->type == PX_REC_DECISION) {
			t->outcome = rec->outcome;
			if (!t->pset.n)
				t->pset = rec->pset;
			break;
		}
		if (!t->pset.n)
			t->pset = rec->pset;
		see_ballot(r, rec->bal);
		if (rec->rm == PX_RM_ANY) {
			if (rec->bal > t->gmbal)
				t->gmbal = rec->bal;
			break;
		}
		struct px_inst *in = px_inst_get(t, rec->rm, 1);
		if (!in)
			return -1;
		if (rec->bal > in->mbal)
			in->mbal = rec->bal;
		if (rec->type == PX_REC_ACCEPT) {
			in->vbal = rec->bal;
			in->vval = rec->val;
		}
		see_ballot(r, rec->bal);
		break;
	}
	case PX_REC_FORGET: {
		struct px_key k;
		px_key_set(&k, rec->gid);
		if (t)
			px_txn_drop(r, t);
		px_tomb_add(r, &k, birth, rec->outcome);
		break;
	}
	case PX_REC_HORIZON:
		if (rec->u64 > r->horizon) {
			r->horizon = r->horizon_pending = rec->u64;
			prune_tombs(r);
		}
		break;
	case PX_REC_ROUND:
		if (rec->u64 > r->round)
			r->round = rec->u64;
		break;
	default:
		return -1;
	}
	return 0;
}

/* One record for the snapshot. */
static int snap(struct px_update *u, uint8_t type, const struct px_txn *t, uint16_t rm, uint32_t bal,
		uint8_t val, uint8_t outcome)
{
	struct px_rec rec = {.type = type, .gid = px_txn_gid(t), .rm = rm, .bal = bal, .val = val,
			     .outcome = outcome, .pset = t->pset};
	return px_rec_put(u, &rec);
}

int px_replica_snapshot(const struct px_replica *r, struct px_update *u)
{
	struct px_rec rec = {.type = PX_REC_ROUND, .u64 = r->round};
	if (px_rec_put(u, &rec))
		return -1;
	/* The horizon goes first: replaying a tombstone compares with it. */
	struct px_rec hz = {.type = PX_REC_HORIZON, .u64 = r->horizon};
	if (px_rec_put(u, &hz))
		return -1;
	size_t pos = 0;
	const struct px_txn *t;
	while ((t = px_map_next(&r->txns, &pos))) {
		if (!t->acc_known)
			continue; /* learner-only: nothing durable */
		if (t->gmbal && snap(u, PX_REC_PROMISE, t, PX_RM_ANY, t->gmbal, 0, 0))
			return -1;
		for (uint8_t i = 0; i < t->ninst; i++) {
			const struct px_inst *in = &t->inst[i];
			if (in->vval != PX_VAL_NONE && snap(u, PX_REC_ACCEPT, t, in->rm, in->vbal, in->vval, 0))
				return -1;
#if defined(PX_PLANT_BUG) && PX_PLANT_BUG == 5
			/* Planted bug for the simulator's self-test: the snapshot
			 * forgets promises. */
			continue;
#endif
			if (in->mbal > (in->vval != PX_VAL_NONE ? in->vbal : 0) &&
			    snap(u, PX_REC_PROMISE, t, in->rm, in->mbal, 0, 0))
				return -1;
		}
		if (t->outcome && snap(u, PX_REC_DECISION, t, 0, 0, 0, t->outcome))
			return -1;
	}
	pos = 0;
	const struct px_tomb *tb;
	while ((tb = px_map_next(&r->tombs, &pos))) {
		struct px_rec f = {.type = PX_REC_FORGET, .gid = px_str_of(tb->k.s, tb->k.len),
				   .outcome = tb->outcome};
		if (px_rec_put(u, &f))
			return -1;
	}
	return 0;
}
