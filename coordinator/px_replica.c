/*
 * px_replica.c - lifecycle, event dispatch, leader election and timers of
 * the replica core.
 *
 * Leader election is Omega from heartbeats: every replica heartbeats the
 * others each heartbeat_ms and trusts as leader the lowest id that is alive
 * and hears a majority.  Safety never depends on a unique leader: ballots
 * are partitioned by replica id (b = round * n + id + 1) and a round is
 * logged before any message of its ballot leaves.
 *
 * Liveness under one-way faults (CheckQuorum).  A heartbeat says whom its
 * sender heard within its lease, and who said they hear it.  A replica
 * that hears no majority, or is heard by none, itself included, does not
 * lead, and nobody trusts it: a leader that can still send but no longer
 * receive (a firewall rule, a full queue) is deposed within about
 * lease_ms + 2 heartbeat_ms although its heartbeats keep arriving, and so
 * is one whose heartbeats no longer get out.
 * A replica also trusts a leader it does not hear itself when a peer it
 * hears does hear that leader and trusts it (a link cut one way, or a
 * bridge): it then points clients there instead of leading a second
 * majority of its own.  The relay never goes through more than one peer,
 * so a dead leader cannot be kept alive by replicas vouching for each
 * other.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_gid.h"
#include "px_internal.h"

int px_quorum(const struct px_replica *r)
{
#if defined(PX_PLANT_BUG) && PX_PLANT_BUG == 1
	/* Planted bug for the simulator's self-test: a quorum of one. */
	(void)r;
	return 1;
#else
	return r->cfg.n / 2 + 1;
#endif
}

void px_log(struct px_replica *r, const char *fmt, ...)
{
	if (!r->cfg.log)
		return;
	char line[512];
	int n = snprintf(line, sizeof(line), "replica=%u ballot=%u ", r->cfg.id, r->ballot);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	r->cfg.log(r->cfg.log_ctx, line);
}

struct px_str px_txn_gid(const struct px_txn *t)
{
	return px_str_of(t->k.s, t->k.len);
}

struct px_txn *px_txn_get(struct px_replica *r, struct px_str gid)
{
	return px_map_get(&r->txns, gid);
}

/* The client field of gid as a map key, 0; or -1 (malformed). */
static int client_field(struct px_str gid, char buf[17], struct px_str *out)
{
	uint64_t c;
	if (px_gid_client(gid.p, gid.len, &c))
		return -1;
	static const char hex[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--, c >>= 4)
		buf[i] = hex[c & 15u];
	buf[16] = '\0';
	*out = px_str_of(buf, 16);
	return 0;
}

int px_client_full(const struct px_replica *r, struct px_str gid)
{
	char buf[17];
	struct px_str cf;
	if (client_field(gid, buf, &cf))
		return 0;
	const struct px_quota *q = px_map_get(&r->quotas, cf);
	return q && q->n >= r->cfg.max_live_client;
}

struct px_txn *px_txn_new(struct px_replica *r, struct px_str gid, uint64_t birth)
{
	struct px_txn *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	px_key_set(&t->k, gid);
	t->birth = birth;
	t->seq = ++r->next_seq;
	char buf[17];
	struct px_str cf;
	if (!client_field(gid, buf, &cf)) {
		t->quota = px_map_get(&r->quotas, cf);
		if (!t->quota) {
			t->quota = calloc(1, sizeof(*t->quota));
			if (!t->quota) {
				free(t);
				return NULL;
			}
			px_key_set(&t->quota->k, cf);
			if (px_map_put(&r->quotas, t->quota)) {
				free(t->quota);
				free(t);
				return NULL;
			}
		}
	}
	if (px_map_put(&r->txns, t)) {
		if (t->quota && !t->quota->n)
			free(px_map_del(&r->quotas, &t->quota->k));
		free(t);
		return NULL;
	}
	if (t->quota)
		t->quota->n++;
	return t;
}

void px_txn_drop(struct px_replica *r, struct px_txn *t)
{
	if (t->lead && r->ballot && t->lead->rbal == r->ballot)
		for (uint16_t i = 0; i < t->lead->pset.n && i < PX_PSET_MAX; i++)
			if (t->lead->sent2a[i])
				r->ballot_spent = 1;
	px_map_del(&r->txns, &t->k);
	if (t->quota && !--t->quota->n)
		free(px_map_del(&r->quotas, &t->quota->k));
	free(t->lead);
	free(t);
}

struct px_tomb *px_tomb_get(struct px_replica *r, struct px_str gid)
{
	return px_map_get(&r->tombs, gid);
}

void px_tomb_add(struct px_replica *r, const struct px_key *k, uint64_t birth, uint8_t outcome)
{
	if (birth < r->horizon)
		return; /* the horizon already refuses it */
	struct px_tomb *tb = px_map_get(&r->tombs, px_str_of(k->s, k->len));
	if (tb) {
		if (tb->outcome == PX_OUT_NONE)
			tb->outcome = outcome;
		return;
	}
	tb = malloc(sizeof(*tb));
	if (!tb)
		return; /* losing a tombstone only costs a re-forget later */
	tb->k = *k;
	tb->birth = birth;
	tb->outcome = outcome;
	if (px_map_put(&r->tombs, tb))
		free(tb);
}

int px_gid_birth(struct px_replica *r, struct px_str gid, uint64_t *birth)
{
	if (gid.len == 0 || gid.len > PX_GID_MAX || px_gid_parse(gid.p, gid.len, birth, NULL)) {
		r->st.bad_msgs++;
		px_log(r, "bad message: malformed gid");
		return -1;
	}
	return 0;
}

/*
 * A gid born more than max_future_ms ahead of this replica's clock, for
 * which it holds nothing (no txn, no tombstone): refuse to take it on.  Its
 * txn or tombstone could not be dropped before that birth (the horizon
 * counts from it), so one message naming such a gid, or a client whose
 * clock runs far ahead, would pin memory outside max_live for as long.
 *
 * Refusing is safe: it only ever drops a message before it changed
 * anything, and Paxos Commit tolerates the loss of any message.
 *   - An acceptor that refuses a 2a sends no 2b, and a leader decides only
 *     from a majority of 2b's at one ballot (COMMIT: for every instance of
 *     the set).  If a majority refused, nothing is chosen, so nothing is
 *     decided, COMMIT least of all.  If a minority refused (their clocks
 *     behind the others'), the majority that accepted chose the value as
 *     it would have without them.
 *   - A refused 1a gives no promise and reports nothing.  A refused
 *     DECISION, FORGET or SYNC entry comes again (they are retransmitted
 *     until acknowledged, or recollected), by when the clock has caught up.
 *   - A client's commit or rollback request gets ERROR, which states no
 *     outcome.  A status request gets ERROR too, never UNKNOWN_GID: this
 *     replica will take the gid on once its clock nears the birth, so it
 *     must not say it never will (agents presume abort from a majority of
 *     UNKNOWN_GID).
 * It applies only where a gid would first enter this replica's state.
 * Whatever the replica holds already, replayed records included, is served
 * as before even if its birth now looks ahead (a clock set back across a
 * restart): existing state is never dropped, new state only refused.
 * Returns how far ahead the birth is (ms), or 0 when the gid may be taken on.
 */
uint64_t px_future(struct px_replica *r, struct px_str gid, uint64_t birth, const char *what)
{
#if defined(PX_PLANT_BUG) && PX_PLANT_BUG == 7
	/* Planted bug for the simulator's self-test: a future-born gid is
	 * taken on like any other. */
	(void)r, (void)gid, (void)birth, (void)what;
	return 0;
#endif
	if (birth <= r->now || birth - r->now <= r->cfg.max_future_ms || px_txn_get(r, gid) ||
	    px_tomb_get(r, gid))
		return 0;
	uint64_t ahead = birth - r->now;
	r->st.future_gids++;
	/* One line a second: a flood of them must not flood the log. */
	if (r->future_logged_at && r->now < r->future_logged_at + 1000) {
		r->future_quiet++;
		return ahead;
	}
	px_log(r,
	       "gid=%.*s refused %s: born %llu ms ahead of this replica's clock, more than the %u ms a "
	       "client's clock may be ahead (%llu more refused since the last such line)",
	       (int)gid.len, gid.p, what, (unsigned long long)ahead, r->cfg.max_future_ms,
	       (unsigned long long)r->future_quiet);
	r->future_logged_at = r->now ? r->now : 1;
	r->future_quiet = 0;
	return ahead;
}

int px_is_leader(const struct px_replica *r)
{
	return r->started && r->leader == r->cfg.id && r->ballot != 0;
}

void px_send_replicas(struct px_replica *r, struct px_update *u, const struct px_msg *m, int held)
{
	for (uint8_t i = 0; i < r->cfg.n; i++)
		px_update_send(u, px_addr_of(PX_NODE_REPLICA, i), m, held);
}

void px_send_agents(struct px_replica *r, struct px_update *u, const struct px_pset *s,
		    const struct px_msg *m)
{
	(void)r;
	for (uint16_t i = 0; i < s->n; i++)
		px_update_send(u, px_addr_of(PX_NODE_AGENT, s->rm[i]), m, 0);
}

/* Log a new round so that this replica's ballot exceeds `above`. */
void px_bump_round(struct px_replica *r, struct px_update *u, uint32_t above)
{
	uint64_t round = r->round + 1;
	uint64_t need = above / r->cfg.n + 1;
	if (round < need)
		round = need;
	uint64_t b = round * r->cfg.n + r->cfg.id + 1;
	if (b > UINT32_MAX - 64)
		return; /* ballots exhausted: cannot happen in practice */
	struct px_rec rec = {.type = PX_REC_ROUND, .u64 = round};
	if (px_rec_put(u, &rec))
		return;
	r->round = round;
	r->ballot = (uint32_t)b;
	r->ballot_spent = 0;
	if (r->ballot > r->maxbal_seen)
		r->maxbal_seen = r->ballot;
}

struct px_replica *px_replica_new(const struct px_replica_config *cfg)
{
	if (cfg->n == 0 || cfg->n > PX_REPLICAS_MAX || cfg->n % 2 == 0 || cfg->id >= cfg->n ||
	    cfg->heartbeat_ms == 0 || cfg->lease_ms <= cfg->heartbeat_ms || cfg->resend_ms == 0 ||
	    cfg->max_live == 0)
		return NULL;
	struct px_replica *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->cfg = *cfg;
	if (!r->cfg.max_future_ms)
		r->cfg.max_future_ms = PX_GID_MAX_FUTURE_MS;
	if (!r->cfg.max_live_client || r->cfg.max_live_client > r->cfg.max_live)
		r->cfg.max_live_client = r->cfg.max_live;
	r->leader = PX_NO_LEADER;
	px_map_init(&r->txns);
	px_map_init(&r->tombs);
	px_map_init(&r->quotas);
	return r;
}

void px_replica_destroy(struct px_replica **rp)
{
	struct px_replica *r = *rp;
	if (!r)
		return;
	size_t pos = 0;
	struct px_txn *t;
	while ((t = px_map_next(&r->txns, &pos))) {
		free(t->lead);
		free(t);
	}
	pos = 0;
	struct px_tomb *tb;
	while ((tb = px_map_next(&r->tombs, &pos)))
		free(tb);
	pos = 0;
	struct px_quota *q;
	while ((q = px_map_next(&r->quotas, &pos)))
		free(q);
	px_map_free(&r->txns);
	px_map_free(&r->tombs);
	px_map_free(&r->quotas);
	free(r);
	*rp = NULL;
}

static int heard(const struct px_replica *r, uint8_t i)
{
	return r->last_heard[i] && r->now < r->last_heard[i] + r->cfg.lease_ms;
}

static int popcount8(uint8_t x)
{
	int n = 0;
	for (; x; x &= (uint8_t)(x - 1))
		n++;
	return n;
}

/* Whom this replica heard within the lease, itself included (bit i). */
static uint8_t hears(const struct px_replica *r)
{
	uint8_t m = (uint8_t)(1u << r->cfg.id);
	for (uint8_t i = 0; i < r->cfg.n; i++)
		if (i != r->cfg.id && heard(r, i))
			m |= (uint8_t)(1u << i);
	return m;
}

/* Who hears us: the peers we hear whose last heartbeat said they hear us
 * (as of their lease), and ourselves. */
static uint8_t heard_by(const struct px_replica *r)
{
	uint8_t m = (uint8_t)(1u << r->cfg.id);
	for (uint8_t i = 0; i < r->cfg.n; i++)
		if (i != r->cfg.id && heard(r, i) && (r->peer_hears[i] & (1u << r->cfg.id)))
			m |= (uint8_t)(1u << i);
	return m;
}

static int has_quorum(const struct px_replica *r, uint8_t mask)
{
	uint8_t all = (uint8_t)((1u << r->cfg.n) - 1);
	return popcount8(mask & all) >= px_quorum(r);
}

/* May lead: hears a majority and is heard by one (both ways: a replica
 * that can receive but not send is deposed as one that can send but not
 * receive). */
static int self_eligible(const struct px_replica *r)
{
	return has_quorum(r, hears(r)) && has_quorum(r, heard_by(r));
}

static int peer_eligible(const struct px_replica *r, uint8_t p)
{
	return has_quorum(r, r->peer_hears[p]) && has_quorum(r, r->peer_heard_by[p]);
}

/* Omega with CheckQuorum: the lowest id that is alive, hears a majority
 * and is heard by one -- ourselves; a peer we hear whose last heartbeat
 * said so; or a leader we do not hear that a peer we hear both hears and
 * trusts.  PX_NO_LEADER when none is. */
static uint8_t trusted(const struct px_replica *r)
{
#if defined(PX_PLANT_BUG) && PX_PLANT_BUG == 14
	/* Planted bug for the simulator's self-test: no check quorum (Omega
	 * from heartbeats alone, as before): a leader that can send but not
	 * receive is trusted for as long as the fault lasts. */
	for (uint8_t i = 0; i < r->cfg.n; i++)
		if (i == r->cfg.id || heard(r, i))
			return i;
	return r->cfg.id;
#endif
	for (uint8_t i = 0; i < r->cfg.n; i++) {
		if (i == r->cfg.id) {
			if (self_eligible(r))
				return i;
			continue;
		}
		if (heard(r, i)) {
			if (peer_eligible(r, i))
				return i;
			continue;
		}
		for (uint8_t p = 0; p < r->cfg.n; p++)
			if (p != r->cfg.id && p != i && heard(r, p) && r->peer_leader[p] == i &&
			    (r->peer_hears[p] & (1u << i)) && peer_eligible(r, p))
				return i;
	}
	return PX_NO_LEADER;
}

static void elect(struct px_replica *r, struct px_update *u)
{
	int q = self_eligible(r);
	if (q != r->had_quorum) {
		if (!q) {
			r->st.quorum_losses++;
			px_log(r, "check quorum: this replica hears %d and is heard by %d of %u replicas within "
			       "lease_ms=%u: it does not lead",
			       popcount8(hears(r)), popcount8(heard_by(r)), r->cfg.n, r->cfg.lease_ms);
		} else if (r->started_quorum) {
			px_log(r, "check quorum: this replica hears a majority again");
		}
		r->had_quorum = (uint8_t)q;
		r->started_quorum |= (uint8_t)q;
	}
	uint8_t l = trusted(r);
	if (l == r->leader)
		return;
	uint8_t old = r->leader;
	r->leader = l;
	char was[40] = "";
	if (old != PX_NO_LEADER)
		snprintf(was, sizeof(was), " (was coordinator.%u)", old);
	if (l == PX_NO_LEADER) {
		px_log(r, "leader change: trusting no leader%s: none it hears hears a majority", was);
	} else {
		px_log(r, "leader change: trusting coordinator.%u%s", l, was);
	}
	if (old == r->cfg.id)
		px_lead_end(r, u);
	if (l == r->cfg.id)
		px_lead_begin(r, u);
}

static void heartbeat(struct px_replica *r, struct px_update *u)
{
	struct px_msg m = {.type = PX_MSG_HEARTBEAT};
	m.u.heartbeat.replica = r->cfg.id;
	m.u.heartbeat.leader = r->leader;
	m.u.heartbeat.maxbal = r->maxbal_seen;
	m.u.heartbeat.horizon = r->horizon;
	m.u.heartbeat.hears = hears(r);
	m.u.heartbeat.heard_by = heard_by(r);
	for (uint8_t i = 0; i < r->cfg.n; i++)
		if (i != r->cfg.id)
			px_update_send(u, px_addr_of(PX_NODE_REPLICA, i), &m, 0);
}

static void tick(struct px_replica *r, struct px_update *u)
{
	elect(r, u); /* first: the heartbeat says whom we trust now */
	if (r->now >= r->next_hb) {
		heartbeat(r, u);
		r->next_hb = r->now + r->cfg.heartbeat_ms;
	}
	px_acc_tick(r, u);
	px_lrn_tick(r, u);
	px_update_timer(u, r->next_hb);
}

static int start(struct px_replica *r, const struct px_event *ev, struct px_update *u)
{
	for (size_t i = 0; i < ev->nrecs; i++) {
		struct px_rec rec;
		if (px_rec_get((const uint8_t *)ev->recs[i].p, ev->recs[i].len, &rec) ||
		    px_acc_replay(r, &rec)) {
			px_log(r, "start: record %zu is corrupt", i);
			return -1;
		}
	}
	r->started = 1;
	r->durable_seq = u->rec_seq;
	r->next_hb = r->now;
	px_log(r, "start: %zu records, %zu live gids, %zu tombstones, horizon %llu, round %llu",
	       ev->nrecs, r->txns.n, r->tombs.n, (unsigned long long)r->horizon,
	       (unsigned long long)r->round);
	tick(r, u);
	return 0;
}

static void on_msg(struct px_replica *r, struct px_update *u, struct px_addr from,
		   const struct px_msg *m)
{
	switch (m->type) {
	case PX_MSG_1A:
		if (from.kind == PX_NODE_REPLICA)
			px_acc_1a(r, u, from, &m->u.m1a);
		break;
	case PX_MSG_2A:
		px_acc_2a(r, u, from, &m->u.m2a);
		break;
	case PX_MSG_1B:
		if (from.kind == PX_NODE_REPLICA)
			px_lrn_1b(r, u, from, &m->u.m1b);
		break;
	case PX_MSG_2B:
		if (from.kind == PX_NODE_REPLICA)
			px_lrn_2b(r, u, from, &m->u.m2b);
		break;
	case PX_MSG_DECISION:
		if (from.kind == PX_NODE_REPLICA)
			px_acc_decision(r, u, &m->u.decision);
		break;
	case PX_MSG_DECISION_ACK: /* client: XA-style gids; replica: one passed on */
		px_lrn_ack(r, u, from, &m->u.decision_ack);
		break;
	case PX_MSG_PREPARE:
		/* A leader's PREPARE sent again through us: its own may not
		 * reach the participants (a link cut one way). */
		if (from.kind == PX_NODE_REPLICA && from.id < r->cfg.n && from.id != r->cfg.id &&
		    px_pset_valid(&m->u.prepare.pset) && px_pset_known(r, &m->u.prepare.pset)) {
			r->st.relayed++;
			px_send_agents(r, u, &m->u.prepare.pset, m);
		}
		break;
	case PX_MSG_FORGET:
		if (from.kind == PX_NODE_REPLICA)
			px_acc_forget(r, u, &m->u.forget);
		break;
	case PX_MSG_HEARTBEAT: {
		const struct px_mheartbeat *h = &m->u.heartbeat;
		if (from.kind != PX_NODE_REPLICA || h->replica >= r->cfg.n || h->replica != from.id)
			break;
		r->last_heard[h->replica] = r->now ? r->now : 1;
		r->peer_hears[h->replica] = h->hears;
		r->peer_heard_by[h->replica] = h->heard_by;
		r->peer_leader[h->replica] = h->leader;
		if (h->maxbal > r->maxbal_seen)
			r->maxbal_seen = h->maxbal;
		elect(r, u);
		break;
	}
	case PX_MSG_SYNC_REQ:
		if (from.kind == PX_NODE_REPLICA)
			px_acc_sync_req(r, u, from, &m->u.sync_req);
		break;
	case PX_MSG_SYNC:
		if (from.kind == PX_NODE_REPLICA)
			px_lrn_sync(r, u, from, &m->u.sync);
		break;
	case PX_MSG_COMMIT_REQ:
		r->st.commit_reqs++;
		px_lrn_commit(r, u, from, m->u.commit_req.req, m->u.commit_req.gid,
			      &m->u.commit_req.pset, m->u.commit_req.wait, 0);
		break;
	case PX_MSG_ROLLBACK_REQ:
		px_lrn_commit(r, u, from, m->u.rollback_req.req, m->u.rollback_req.gid,
			      &m->u.rollback_req.pset, PX_WAIT_APPLIED, 1);
		break;
	case PX_MSG_STATUS_REQ:
		px_acc_status(r, u, from, &m->u.status_req);
		break;
	case PX_MSG_OUTCOME: /* the leader's answer to a request we passed on */
		if (from.kind == PX_NODE_REPLICA)
			px_lrn_relay_outcome(r, u, from, m);
		else
			r->st.bad_msgs++;
		break;
	case PX_MSG_PING: { /* who answers at this endpoint (paxcommit cluster) */
		const char *cl = r->cfg.cluster ? r->cfg.cluster : "";
		struct px_msg p = {.type = PX_MSG_PONG};
		p.u.pong.req = m->u.ping.req;
		p.u.pong.kind = PX_NODE_REPLICA;
		p.u.pong.id = r->cfg.id;
		p.u.pong.cluster = px_str_of(cl, (uint32_t)strnlen(cl, PX_NAME_MAX));
		px_update_send(u, from, &p, 0);
		break;
	}
	default:
		r->st.bad_msgs++;
		px_log(r, "bad message: unexpected type %s", px_type_name(m->type));
		break;
	}
}

int px_replica_step(struct px_replica *r, const struct px_event *ev, struct px_update *u)
{
	if (ev->now > r->now)
		r->now = ev->now;
	switch (ev->kind) {
	case PX_EV_START:
		return start(r, ev, u);
	case PX_EV_MSG:
		if (r->started && ev->msg)
			on_msg(r, u, ev->from, ev->msg);
		break;
	case PX_EV_PERSISTED:
		if (ev->seq > r->durable_seq)
			r->durable_seq = ev->seq;
		px_acc_persisted(r);
		break;
	case PX_EV_TIMER:
		if (r->started)
			tick(r, u);
		break;
	default:
		break;
	}
	if (r->started)
		px_update_timer(u, r->next_hb);
	return 0;
}

uint64_t px_replica_horizon(const struct px_replica *r)
{
	return r->horizon;
}

uint8_t px_replica_leader(const struct px_replica *r)
{
	return r->leader;
}

uint32_t px_replica_ballot(const struct px_replica *r)
{
	return r->ballot;
}

const struct px_replica_stats *px_replica_stats(const struct px_replica *r)
{
	return &r->st;
}

int px_replica_outcome(const struct px_replica *r, struct px_str gid)
{
	struct px_txn *t = px_map_get(&r->txns, gid);
	if (t)
		return t->outcome;
	struct px_tomb *tb = px_map_get(&r->tombs, gid);
	return tb ? tb->outcome : PX_OUT_NONE;
}

size_t px_replica_live(const struct px_replica *r)
{
	return r->txns.n;
}

const char *px_replica_some_live(const struct px_replica *r)
{
	size_t pos = 0;
	struct px_txn *t = px_map_next(&r->txns, &pos);
	return t ? t->k.s : NULL;
}

size_t px_replica_tombstones(const struct px_replica *r)
{
	return r->tombs.n;
}

int px_replica_knows(const struct px_replica *r, struct px_str gid)
{
	return px_map_get(&r->txns, gid) || px_map_get(&r->tombs, gid);
}
