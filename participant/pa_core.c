/*
 * pa_core.c - participant agent core: exec, prepare and vote, apply
 * decisions, idle rollback, and recovery of prepared gids.
 */
#include "pa_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_gid.h"
#include "px_map.h"

/* How long first votes go to every replica after one that went to a
 * majority was decided late or not at all (see struct pa_core, `all_until`). */
#define PA_ALL_MS 10000u
/* Longest wait between two tries of a decided outcome that PostgreSQL
 * refused to apply (COMMIT PREPARED failing with an error). */
#define PA_APPLY_BACKOFF_MAX_MS 10000u

enum pa_state {
	PA_OPEN = 1,      /* PostgreSQL transaction open, idle */
	PA_EXEC,          /* a statement is running */
	PA_DOOMED,        /* a statement failed: will vote aborted */
	PA_ROLLING,       /* ROLLBACK of the open transaction running */
	PA_PREPARING,     /* PREPARE TRANSACTION running */
	PA_INDOUBT,       /* PREPARE's result was lost: vote nothing, check later */
	PA_CHECKING,      /* asking pg_prepared_xacts */
	PA_PREPARED,      /* prepared; waiting for the decision */
	PA_FINISHING,     /* COMMIT / ROLLBACK PREPARED running */
	PA_GONE,          /* rolled back: votes aborted */
	PA_DONE           /* decision applied and acknowledged */
};

struct pa_txn {
	struct px_key k;
	uint8_t state;
	uint8_t vote;       /* ballot-0 value sent, PX_VAL_NONE if none */
	uint8_t outcome;    /* decision to apply, PX_OUT_NONE if not known */
	uint8_t want_vote;  /* a prepare request is waiting on a running action */
	uint8_t want_abort; /* ... and it asked to roll back */
	uint8_t late_result; /* the client takes the running statement's result with the ack */
	uint8_t unknown;    /* replicas answering UNKNOWN_GID (bitmask) */
	uint8_t ambiguous;  /* maybe voted by an earlier incarnation: see pa_config */
	uint8_t presumed;   /* outcome ABORT presumed from a majority's UNKNOWN_GID */
	uint8_t thrifty;    /* its first vote went to a majority only ... */
	uint64_t voted_at;  /* ... then */
	struct px_pset pset; /* n == 0: not known (found by a scan) */
	uint64_t token;     /* of the running database action */
	uint64_t ptoken;    /* PREPARE pipelined behind the running statement, 0: none */
	uint32_t next_stmt; /* number of the next statement to run */
	uint64_t last;      /* last activity */
	uint64_t prepared_at; /* when it became PA_PREPARED here (0: not yet) */
	uint64_t next;      /* next retransmission */
	struct px_addr exec_to;
	uint64_t exec_req;
	uint8_t decider;    /* 1 + id of the replica whose DECISION we apply; 0: not known */
	uint8_t acks;       /* acks sent: a decision that comes again means ours was lost */
	uint8_t lost;       /* the session of its open transaction ended (it is GONE) */
	uint8_t cancelled;  /* a cancel of the running statement was asked */
	uint8_t abandon;    /* its client stopped waiting: roll back after the statement */
	uint8_t apply_fails; /* tries of the outcome that PostgreSQL refused */
	uint64_t deadline;  /* PA_EXEC: the client waits for the result until then (0: no limit) */
	uint64_t retry_at;  /* after a refused try of the outcome: the next one */
	uint8_t final;      /* on the `done` list (GONE or DONE), else on `live` */
	struct pa_txn *lprev, *lnext; /* that list */
};

/* A doubly linked list of transactions. */
struct pa_list {
	struct pa_txn *head, *tail;
};

struct pa_core {
	struct pa_config cfg;
	struct pa_stats st;
	struct px_map txns;
	/* The timer visits only `live` transactions; finished ones wait on
	 * `done`, oldest first, until they may be forgotten. */
	struct pa_list live, done;
	uint64_t now, start, next_token, next_scan, scan_token;
	size_t nopen;
	/* Thrifty ballot 0: a first vote goes to a majority only: the replica
	 * that last sent a decision (1 + id; 0: none yet) and the n/2 after it
	 * in id order.  Every agent picks the same ones, so one follower hears
	 * every instance of a gid and answers them in one 2b, and the other
	 * followers are spared the work.  A repeated vote goes to all.  So do
	 * first votes until `all_until`, once a thrifty one was decided late
	 * (resend_ms / 4 or more: perhaps by the leader's recovery) or not at
	 * all (we vote again: our timer, or the leader's PREPARE sent again):
	 * perhaps a follower it went to is down.  (Moving on to other
	 * followers instead would need to know which one failed: a gid
	 * decided late tells only that some participant's vote missed a
	 * majority, and agents that each moved their own way would scatter
	 * one gid's votes so that no follower holds all of them.) */
	uint8_t leader_hint;
	uint64_t all_until;
	uint64_t future_logged_at, future_quiet; /* see future() */
	uint8_t draining; /* pa_core_drain: no new gids */
};

static void pa_log(struct pa_core *c, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

static void pa_log(struct pa_core *c, const char *fmt, ...)
{
	if (!c->cfg.log)
		return;
	char line[512];
	int n = snprintf(line, sizeof(line), "participant=%u ", c->cfg.rm);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	c->cfg.log(c->cfg.log_ctx, line);
}

struct pa_core *pa_core_new(const struct pa_config *cfg)
{
	if (cfg->nreplicas == 0 || cfg->nreplicas > 8 || cfg->resend_ms == 0 || cfg->max_open == 0)
		return NULL;
	struct pa_core *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cfg = *cfg;
	px_map_init(&c->txns);
	return c;
}

void pa_core_destroy(struct pa_core **cp)
{
	struct pa_core *c = *cp;
	if (!c)
		return;
	size_t pos = 0;
	struct pa_txn *t;
	while ((t = px_map_next(&c->txns, &pos)))
		free(t);
	px_map_free(&c->txns);
	free(c);
	*cp = NULL;
}

const struct pa_stats *pa_core_stats(const struct pa_core *c)
{
	return &c->st;
}

size_t pa_core_tracked(const struct pa_core *c)
{
	return c->txns.n;
}

size_t pa_core_in_doubt(const struct pa_core *c, uint64_t *oldest_ms)
{
	size_t n = 0;
	uint64_t first = 0;
	for (const struct pa_txn *t = c->live.head; t; t = t->lnext)
		if (t->prepared_at && (t->state == PA_PREPARED || t->state == PA_FINISHING)) {
			n++;
			if (!first || t->prepared_at < first)
				first = t->prepared_at;
		}
	*oldest_ms = n ? c->now - first : 0;
	return n;
}

void pa_core_drain(struct pa_core *c)
{
	if (!c->draining)
		pa_log(c, "draining: new transactions are refused, %zu unfinished go on", pa_core_unfinished(c));
	c->draining = 1;
}

size_t pa_core_unfinished(const struct pa_core *c)
{
	size_t n = 0;
	for (const struct pa_txn *t = c->live.head; t; t = t->lnext)
		n++;
	return n;
}

static int is_open(uint8_t s)
{
	return s == PA_OPEN || s == PA_EXEC || s == PA_DOOMED || s == PA_ROLLING || s == PA_PREPARING;
}

static struct px_str gid_of(const struct pa_txn *t)
{
	return px_str_of(t->k.s, t->k.len);
}

/* Could an earlier incarnation of this agent, or this one before it forgot
 * the gid, have voted on it?  (See pa_config.remember_ms.) */
static int ambiguous(const struct pa_core *c, struct px_str gid)
{
	uint64_t birth;
	if (px_gid_parse(gid.p, gid.len, &birth, NULL))
		return 1;
	return birth < c->start + c->cfg.skew_ms || birth + c->cfg.remember_ms < c->now;
}

/* A gid this agent does not track, born more than max_future_ms ahead of
 * its clock: refuse it (count it, and log one line a second at most).  It
 * would never become ambiguous, so tracking it would stop the forgetting of
 * finished gids for good.  Refusing votes nothing, which is always safe (the
 * leader's recovery decides); a dropped DECISION is sent again, and a scan
 * still finds what PostgreSQL holds prepared.  A gid already tracked is
 * never refused.  Returns how far ahead it is (ms), or 0. */
static uint64_t future(struct pa_core *c, struct px_str gid, const char *what)
{
	uint32_t bound = c->cfg.max_future_ms ? c->cfg.max_future_ms : PX_GID_MAX_FUTURE_MS;
	uint64_t ahead = px_gid_ahead_ms(gid.p, gid.len, c->now);
	if (ahead <= bound || px_map_get(&c->txns, gid))
		return 0;
	c->st.future_gids++;
	if (c->future_logged_at && c->now < c->future_logged_at + 1000) {
		c->future_quiet++;
		return ahead;
	}
	pa_log(c,
	       "gid=%.*s refused %s: born %llu ms ahead of this participant's clock, more than the %u ms a "
	       "client's clock may be ahead (%llu more refused since the last such line)",
	       (int)gid.len, gid.p, what, (unsigned long long)ahead, bound, (unsigned long long)c->future_quiet);
	c->future_logged_at = c->now ? c->now : 1;
	c->future_quiet = 0;
	return ahead;
}

#if defined(PX_PLANT_BUG)
#define PA_PLANT_BUG_IS(n) (PX_PLANT_BUG == (n))
#else
#define PA_PLANT_BUG_IS(n) 0
#endif

static int is_final(uint8_t s)
{
	return s == PA_GONE || s == PA_DONE;
}

static void list_unlink(struct pa_list *l, struct pa_txn *t)
{
	if (t->lprev)
		t->lprev->lnext = t->lnext;
	else
		l->head = t->lnext;
	if (t->lnext)
		t->lnext->lprev = t->lprev;
	else
		l->tail = t->lprev;
	t->lprev = t->lnext = NULL;
}

static void list_append(struct pa_list *l, struct pa_txn *t)
{
	t->lprev = l->tail;
	t->lnext = NULL;
	if (l->tail)
		l->tail->lnext = t;
	else
		l->head = t;
	l->tail = t;
}

static struct pa_txn *txn_new(struct pa_core *c, struct px_str gid, uint8_t state)
{
	struct pa_txn *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	px_key_set(&t->k, gid);
	t->state = state;
	t->last = c->now;
	if (state == PA_PREPARED)
		t->prepared_at = c->now;
	if (px_map_put(&c->txns, t)) {
		free(t);
		return NULL;
	}
	if (is_open(state))
		c->nopen++;
	t->final = (uint8_t)is_final(state);
	list_append(t->final ? &c->done : &c->live, t);
	return t;
}

static void set_state(struct pa_core *c, struct pa_txn *t, uint8_t s)
{
	int was = is_open(t->state), will = is_open(s);
	if (was && !will)
		c->nopen--;
	if (!was && will)
		c->nopen++;
	t->state = s;
	t->last = c->now;
	if (s == PA_PREPARED && !t->prepared_at)
		t->prepared_at = c->now;
	if (t->final != is_final(s)) {
		list_unlink(t->final ? &c->done : &c->live, t);
		t->final = (uint8_t)is_final(s);
		list_append(t->final ? &c->done : &c->live, t);
	}
}

static void txn_drop(struct pa_core *c, struct pa_txn *t)
{
	if (is_open(t->state))
		c->nopen--;
	list_unlink(t->final ? &c->done : &c->live, t);
	px_map_del(&c->txns, &t->k);
	free(t);
}

static void db(struct pa_core *c, struct px_update *u, struct pa_txn *t, uint8_t kind)
{
	struct pa_db_action *a = px_update_db(u);
	if (!a)
		return;
	a->kind = kind;
	a->token = t->token = ++c->next_token;
	a->gid_off = px_update_copy(u, t->k.s, t->k.len);
	a->gid_len = t->k.len;
}

static void to_replicas(struct pa_core *c, struct px_update *u, const struct px_msg *m)
{
	for (uint8_t i = 0; i < c->cfg.nreplicas; i++)
		px_update_send(u, px_addr_of(PX_NODE_REPLICA, i), m, 0);
}

/* Send m to a majority of acceptors: the likely leader and the ones after
 * it.  Any majority can choose a value; the rest need not hear
 * a first vote, and save a write, a sync and the messages. */
static void to_majority(struct pa_core *c, struct px_update *u, struct pa_txn *t, const struct px_msg *m)
{
	uint8_t n = c->cfg.nreplicas, lead = (uint8_t)(c->leader_hint - 1);
	for (uint8_t k = 0; k <= n / 2; k++)
		px_update_send(u, px_addr_of(PX_NODE_REPLICA, (uint8_t)((lead + k) % n)), m, 0);
	t->thrifty = 1;
	t->voted_at = c->now;
}

/* A vote that went to a majority only was decided late or not at all:
 * first votes go to every replica for a while. */
static void thrifty_failed(struct pa_core *c, struct pa_txn *t)
{
	if (!t->thrifty || c->now - t->voted_at < c->cfg.resend_ms / 4)
		return; /* (a vote again at once: a second PREPARE came) */
	t->thrifty = 0;
	if (c->now >= c->all_until)
		pa_log(c, "gid=%s no decision within %llu ms of a vote to a majority of replicas: first votes go to "
			  "every replica for %u ms",
		       t->k.s, (unsigned long long)(c->now - t->voted_at), PA_ALL_MS);
	c->all_until = c->now + PA_ALL_MS;
}

/* Tell the client that ran statements here why this participant votes
 * `aborted` (its outcome would otherwise say only "aborted"). */
static void tell_why(struct pa_core *c, struct px_update *u, struct pa_txn *t, struct px_str why)
{
	if (t->exec_to.kind != PX_NODE_CLIENT || !why.len)
		return;
	struct px_msg m = {.type = PX_MSG_VOTE};
	m.u.vote.gid = gid_of(t);
	m.u.vote.rm = c->cfg.rm;
	m.u.vote.val = PX_VAL_ABORTED;
	m.u.vote.reason = px_str_of(why.p, why.len > PX_REASON_MAX ? PX_REASON_MAX : why.len);
	px_update_send(u, t->exec_to, &m, 0);
}

static const char lost_why[] = "the database session of this transaction was lost (connection closed, backend "
			       "terminated or server restarted): PostgreSQL rolled it back";

/* The ballot-0 vote: 2a(gid, rm, 0, val, pset) to the acceptors. */
static void vote(struct pa_core *c, struct px_update *u, struct pa_txn *t, uint8_t val)
{
	if (!t->pset.n)
		return; /* set unknown (found by a scan): the leader will recover it */
	if (px_gid_is_xa(t->k.s, t->k.len))
		return; /* its client votes for us: ballot 0 has one proposer */
	int again = t->vote == val; /* a retransmission: no decision came */
	if (t->vote == PX_VAL_NONE) {
		if (val == PX_VAL_PREPARED)
			c->st.prepared++;
		else
			c->st.voted_aborted++;
		if (val == PX_VAL_ABORTED && t->lost)
			tell_why(c, u, t, px_str_of(lost_why, (uint32_t)strlen(lost_why)));
	}
	t->vote = val;
	struct px_msg m = {.type = PX_MSG_2A};
	m.u.m2a.gid = gid_of(t);
	m.u.m2a.rm = c->cfg.rm;
	m.u.m2a.bal = 0;
	m.u.m2a.val = val;
	m.u.m2a.pset = t->pset;
	if (again || !c->leader_hint || c->leader_hint > c->cfg.nreplicas || c->cfg.nreplicas < 3 ||
	    (c->now < c->all_until && !PA_PLANT_BUG_IS(16))) { /* planted bug 16: always thrifty */
		to_replicas(c, u, &m);
		if (again)
			thrifty_failed(c, t); /* no decision came */
	} else {
		to_majority(c, u, t, &m);
	}
	t->next = c->now + c->cfg.resend_ms;
}

static void ack(struct pa_core *c, struct px_update *u, struct pa_txn *t)
{
	struct px_msg m = {.type = PX_MSG_DECISION_ACK};
	m.u.decision_ack.gid = gid_of(t);
	m.u.decision_ack.rm = c->cfg.rm;
	m.u.decision_ack.outcome = t->outcome;
	/* To the replica that sent the decision; to every replica when the
	 * outcome came another way, or when the decision comes again (our ack
	 * did not arrive: a link to the leader may be cut one way, and a
	 * follower passes an ack on to the leader). */
	if (t->decider && !t->acks++)
		/* lazy: the client has its own ack; the leader only forgets */
		px_update_send_lazy(u, px_addr_of(PX_NODE_REPLICA, (uint64_t)(t->decider - 1)), &m);
	else
		to_replicas(c, u, &m);
	/* And to the client that ran the statements here: with an ack from
	 * every participant it knows the outcome is applied everywhere, one
	 * hop before the leader could tell it (wait=applied). */
	if (t->exec_to.kind == PX_NODE_CLIENT)
		px_update_send(u, t->exec_to, &m, 0);
	set_state(c, t, PA_DONE);
}

static void exec_reply(struct px_update *u, struct px_addr to, uint64_t req, struct px_str gid, uint8_t status,
		       const char *reason)
{
	struct px_msg m = {.type = PX_MSG_EXEC_RESULT};
	m.u.exec_result.req = req;
	m.u.exec_result.gid = gid;
	m.u.exec_result.status = status;
	m.u.exec_result.reason = px_str_of(reason, (uint32_t)strlen(reason));
	px_update_send(u, to, &m, 0);
}

static void on_exec(struct pa_core *c, struct px_update *u, struct px_addr from, const struct px_msg *msg)
{
	const struct px_mexec *m = &msg->u.exec;
	struct pa_txn *t = px_map_get(&c->txns, m->gid);
	if (!t) {
		if (m->stmt != 0) {
			/* Earlier statements ran in a transaction this agent no
			 * longer has (restart, idle rollback, or it is forgotten). */
			exec_reply(u, from, m->req, m->gid, PX_EXEC_ERROR,
				   "transaction unknown here (participant restarted or rolled it back); roll back");
			return;
		}
		if (px_gid_is_xa(m->gid.p, m->gid.len)) {
			/* Its client runs its statements itself and votes for us. */
			exec_reply(u, from, m->req, m->gid, PX_EXEC_ERROR,
				   "an XA-style transaction runs on the client's own database connection, not here");
			return;
		}
		uint64_t ahead = future(c, m->gid, "exec");
		if (ahead) {
			char why[200];
			snprintf(why, sizeof(why),
				 "clock skew: transaction born %llu ms ahead of this participant's clock, more than "
				 "the %u ms allowed; check the client's clock",
				 (unsigned long long)ahead,
				 c->cfg.max_future_ms ? c->cfg.max_future_ms : PX_GID_MAX_FUTURE_MS);
			exec_reply(u, from, m->req, m->gid, PX_EXEC_ERROR, why);
			return;
		}
		if (ambiguous(c, m->gid)) {
			/* It may have run (and been voted on) before: never twice. */
			exec_reply(u, from, m->req, m->gid, PX_EXEC_ERROR,
				   "transaction began before this participant (re)started, or too long ago; roll back");
			return;
		}
		if (c->draining) {
			exec_reply(u, from, m->req, m->gid, PX_EXEC_BUSY,
				   "participant is shutting down (draining): no new transactions");
			return;
		}
		if (c->nopen >= c->cfg.max_open) {
			exec_reply(u, from, m->req, m->gid, PX_EXEC_BUSY, "no free database connection");
			return;
		}
		t = txn_new(c, m->gid, PA_OPEN);
		if (!t) {
			u->oom = 1;
			return;
		}
	}
	if (m->stmt < t->next_stmt)
		return; /* a duplicate: it ran (or runs) once, its result went back */
	const char *why = NULL;
	switch (t->state) {
	case PA_OPEN:
		if (m->stmt > t->next_stmt) {
			/* A statement went missing: the transaction is incomplete. */
			why = "statement out of order: an earlier statement was lost; transaction aborted";
			set_state(c, t, PA_DOOMED);
		}
		break;
	case PA_EXEC:
		why = "a statement of this transaction is still running";
		break;
	case PA_DOOMED:
		why = "transaction is aborted by an earlier error";
		break;
	case PA_GONE:
		why = t->lost ? lost_why : "transaction was rolled back";
		break;
	default:
		why = "transaction is already committing";
		break;
	}
	if (why) {
		exec_reply(u, from, m->req, m->gid, PX_EXEC_ERROR, why);
		return;
	}
	/* Hand the driver the EXEC frame itself, re-encoded in the arena. */
	uint32_t off, len;
	if (px_update_encode(u, msg, &off, &len))
		return;
	db(c, u, t, PA_DB_EXEC);
	if (u->ndb) {
		u->db[u->ndb - 1].msg_off = off;
		u->db[u->ndb - 1].msg_len = len;
	}
	t->next_stmt = m->stmt + 1;
	t->exec_to = from;
	t->exec_req = m->req;
	t->deadline = m->timeout_ms ? c->now + m->timeout_ms : 0;
	t->cancelled = 0;
	set_state(c, t, PA_EXEC);
}

/* Cancel t's running statement (once): nobody waits for its result, or the
 * gid is decided abort, and a statement can run for as long as it likes
 * while it holds a pooled session and its locks. */
static void cancel(struct pa_core *c, struct px_update *u, struct pa_txn *t, const char *why)
{
	if (t->state != PA_EXEC || t->cancelled)
		return;
	struct pa_db_action *a = px_update_db(u);
	if (!a)
		return;
	a->kind = PA_DB_CANCEL;
	a->token = 0; /* no result of its own: t->token stays the statement's */
	a->gid_off = px_update_copy(u, t->k.s, t->k.len);
	a->gid_len = t->k.len;
	t->cancelled = 1;
	c->st.cancels++;
	pa_log(c, "gid=%s cancelling statement %u: %s", t->k.s, t->next_stmt - 1, why);
}

static void start_prepare(struct pa_core *c, struct px_update *u, struct pa_txn *t, int abort)
{
	if (abort || t->state == PA_DOOMED) {
		db(c, u, t, PA_DB_ROLLBACK);
		set_state(c, t, PA_ROLLING);
	} else {
		db(c, u, t, PA_DB_PREPARE);
		set_state(c, t, PA_PREPARING);
	}
}

static void check(struct pa_core *c, struct px_update *u, struct pa_txn *t)
{
	db(c, u, t, PA_DB_CHECK);
	set_state(c, t, PA_CHECKING);
}

static void on_prepare(struct pa_core *c, struct px_update *u, const struct px_mprepare *m)
{
	if (future(c, m->gid, "prepare"))
		return;
	struct pa_txn *t = px_map_get(&c->txns, m->gid);
	if (!t) {
		/* Not ours now: ask PostgreSQL whether it is prepared. */
		t = txn_new(c, m->gid, PA_CHECKING);
		if (!t) {
			u->oom = 1;
			return;
		}
		t->pset = m->pset;
		t->want_vote = 1;
		t->ambiguous = (uint8_t)ambiguous(c, m->gid);
		check(c, u, t);
		return;
	}
	if (!t->pset.n)
		t->pset = m->pset;
	switch (t->state) {
	case PA_OPEN:
	case PA_DOOMED:
		start_prepare(c, u, t, m->abort & PX_PREPARE_ABORT);
		break;
	case PA_EXEC:
		if (!(m->abort & PX_PREPARE_ABORT) && !t->want_abort && !t->ptoken) {
			/* Pipelined: the driver runs PREPARE TRANSACTION right
			 * behind the statement, in the same round trip to
			 * PostgreSQL.  Its contract (pa_core.h): that PREPARE
			 * succeeds only if the statement did. */
			uint64_t exec_token = t->token;
			db(c, u, t, PA_DB_PREPARE);
			t->ptoken = t->token;
			t->token = exec_token;
			t->late_result = (m->abort & PX_PREPARE_LATE_RESULTS) != 0;
		} else if (!t->ptoken) {
			t->want_vote = 1;
			t->want_abort |= m->abort & PX_PREPARE_ABORT;
			if (m->abort & PX_PREPARE_ABORT)
				cancel(c, u, t, "the transaction is being rolled back");
		}
		break;
	case PA_PREPARED:
		vote(c, u, t, PX_VAL_PREPARED);
		break;
	case PA_GONE:
		vote(c, u, t, PX_VAL_ABORTED);
		break;
	case PA_INDOUBT:
		t->want_vote = 1;
		check(c, u, t);
		break;
	case PA_CHECKING:
		t->want_vote = 1; /* the check's result votes */
		break;
	default: /* an action is running, or done: its result will tell */
		break;
	}
}

static void finish(struct pa_core *c, struct px_update *u, struct pa_txn *t)
{
	db(c, u, t, t->outcome == PX_OUT_COMMIT ? PA_DB_COMMIT_PREPARED : PA_DB_ROLLBACK_PREPARED);
	set_state(c, t, PA_FINISHING);
}

/* A decision (or a learned outcome) for gid. */
static void on_outcome(struct pa_core *c, struct px_update *u, struct px_str gid, uint8_t outcome, int decider)
{
	if (future(c, gid, "decision"))
		return;
	struct pa_txn *t = px_map_get(&c->txns, gid);
	int fresh = !t;
	if (fresh && !(t = txn_new(c, gid, PA_CHECKING))) {
		u->oom = 1;
		return;
	}
	/* The first decision of a gid we voted for comes from the leader; one
	 * that comes again, or for a gid we did not vote for (an XA-style
	 * one, or one we forgot), may come through a follower, which passes
	 * decisions on: no hint of the leader. */
	int from_leader = !fresh && t->vote != PX_VAL_NONE && !t->decider && decider >= 0;
	t->decider = decider >= 0 ? (uint8_t)(decider + 1) : 0;
	if (t->thrifty)
		thrifty_failed(c, t); /* decided late: perhaps by the leader's recovery */
	if (from_leader || (decider >= 0 && !c->leader_hint))
		c->leader_hint = t->decider;
	if (fresh) {
		t->outcome = outcome;
		check(c, u, t);
		return;
	}
	if (t->outcome && t->outcome != outcome) {
		pa_log(c, "gid=%s CONFLICTING DECISION %u after %u", t->k.s, outcome, t->outcome);
		return;
	}
	t->outcome = outcome;
	switch (t->state) {
	case PA_PREPARED:
		if (c->now >= t->retry_at) /* else the timer tries again then */
			finish(c, u, t);
		break;
	case PA_INDOUBT:
		check(c, u, t);
		break;
	case PA_OPEN:
	case PA_DOOMED:
		if (outcome == PX_OUT_ABORT) {
			db(c, u, t, PA_DB_ROLLBACK);
			set_state(c, t, PA_ROLLING);
		} else {
			pa_log(c, "gid=%s commit decided but the transaction is not prepared here", t->k.s);
		}
		break;
	case PA_GONE:
		if (outcome == PX_OUT_ABORT)
			ack(c, u, t);
		else
			pa_log(c, "gid=%s commit decided but this participant rolled back", t->k.s);
		break;
	case PA_DONE:
		ack(c, u, t);
		break;
	case PA_EXEC:
		/* An abort never waits for a running statement. */
		if (outcome == PX_OUT_ABORT)
			cancel(c, u, t, "the transaction is decided abort");
		break;
	default: /* an action is running; its result applies the outcome */
		break;
	}
}

/* The session of a gid's open transaction ended while no action ran on it
 * (the driver reports a running action as PA_DB_LOST itself). PostgreSQL
 * has rolled the transaction back, so its earlier statements are gone: it
 * must never carry on in a new transaction, and it votes `aborted`. */
static void on_lost(struct pa_core *c, struct px_update *u, const struct pa_event *ev)
{
	struct pa_txn *t = px_map_get(&c->txns, ev->gid);
	if (!t || (t->state != PA_OPEN && t->state != PA_DOOMED))
		return;
	c->st.sessions_lost++;
	pa_log(c, "gid=%s database session lost with the transaction open (%.*s): rolled back, will vote aborted",
	       t->k.s, (int)ev->reason.len, ev->reason.p);
	t->lost = 1;
	set_state(c, t, PA_GONE);
	if (t->outcome == PX_OUT_ABORT)
		ack(c, u, t);
}

/* Anyone may ask who answers at this agent's endpoint (paxcommit cluster). */
/* No vote for gid yet: a PREPARE for it from a replica is the leader's
 * first one, not one sent again through a follower. */
static int first_prepare(struct pa_core *c, struct px_str gid)
{
	const struct pa_txn *t = px_map_get(&c->txns, gid);
	return !t || t->vote == PX_VAL_NONE;
}

static void on_ping(struct pa_core *c, struct px_update *u, struct px_addr from, const struct px_mping *m)
{
	struct px_msg p = {.type = PX_MSG_PONG};
	p.u.pong.req = m->req;
	p.u.pong.kind = PX_NODE_AGENT;
	p.u.pong.id = c->cfg.rm;
	const char *cl = c->cfg.cluster ? c->cfg.cluster : "", *nm = c->cfg.name ? c->cfg.name : "";
	p.u.pong.cluster = px_str_of(cl, (uint32_t)strnlen(cl, PX_NAME_MAX));
	p.u.pong.name = px_str_of(nm, (uint32_t)strnlen(nm, PX_NAME_MAX));
	px_update_send(u, from, &p, 0);
}

static void on_status(struct pa_core *c, struct px_update *u, struct px_addr from, const struct px_moutcome *m)
{
	if (future(c, m->gid, "outcome"))
		return;
	struct pa_txn *t = px_map_get(&c->txns, m->gid);
	if (!t || from.kind != PX_NODE_REPLICA || from.id >= c->cfg.nreplicas)
		return;
	if (m->status == PX_ST_COMMITTED || m->status == PX_ST_ABORTED) {
		on_outcome(c, u, m->gid, m->status == PX_ST_COMMITTED ? PX_OUT_COMMIT : PX_OUT_ABORT, -1);
		return;
	}
	if (m->status != PX_ST_UNKNOWN_GID || t->state != PA_PREPARED)
		return;
	t->unknown |= (uint8_t)(1u << from.id);
	int n = 0;
	for (uint8_t b = t->unknown; b; b &= (uint8_t)(b - 1))
		n++;
	if (n >= c->cfg.nreplicas / 2 + 1) {
		/* A majority will never accept this gid and none knows an
		 * outcome: it cannot commit.  Presumed abort. */
		pa_log(c, "gid=%s unknown to a majority of coordinators: rolling back", t->k.s);
		t->outcome = PX_OUT_ABORT;
		t->presumed = 1;
		finish(c, u, t);
	}
}

static void on_db(struct pa_core *c, struct px_update *u, const struct pa_event *ev)
{
	if (ev->token == c->scan_token && ev->token) {
		c->scan_token = 0;
		if (ev->status != PA_DB_OK)
			return;
		size_t found = 0;
		for (size_t i = 0; i < ev->ngids; i++) {
			if (px_map_get(&c->txns, ev->gids[i]))
				continue;
			struct pa_txn *t = txn_new(c, ev->gids[i], PA_PREPARED);
			if (!t) {
				u->oom = 1;
				return;
			}
			t->next = c->now; /* ask the coordinators at the next tick */
			found++;
		}
		if (found)
			pa_log(c, "scan: %zu prepared transaction(s) to resolve", found);
		return;
	}
	/* Find the gid whose action this is: by its gid when the driver gives
	 * it (constant time), else by searching the tokens. */
	struct pa_txn *t = NULL;
	if (ev->gid.len) {
		t = px_map_get(&c->txns, ev->gid);
		if (t && t->token != ev->token)
			t = NULL; /* an older action of that gid: ignore its result */
	} else {
		size_t pos = 0;
		while ((t = px_map_next(&c->txns, &pos)))
			if (t->token == ev->token)
				break;
	}
	if (!t)
		return;
	t->token = 0;
	switch (t->state) {
	case PA_EXEC:
		/* The statement's result to the client; lazily when the client
		 * takes it with the ack (late_result: only with a pipelined
		 * PREPARE). */
		if (ev->result && t->late_result)
			px_update_send_lazy(u, t->exec_to, ev->result);
		else if (ev->result)
			px_update_send(u, t->exec_to, ev->result, 0);
		else if (ev->status == PA_DB_LOST)
			exec_reply(u, t->exec_to, t->exec_req, gid_of(t), PX_EXEC_ERROR,
				   "database connection lost; transaction rolled back");
		if (ev->status == PA_DB_LOST)
			t->lost = 1;
		if (t->ptoken) {
			/* PREPARE is already running behind the statement: its
			 * result decides the vote (a failed statement makes it
			 * fail; a lost connection loses it too). */
			t->token = t->ptoken;
			t->ptoken = 0;
			t->want_vote = 0;
			set_state(c, t, PA_PREPARING);
			break;
		}
		set_state(c, t, ev->status == PA_DB_OK ? PA_OPEN : ev->status == PA_DB_FAILED ? PA_DOOMED : PA_GONE);
		if (t->want_vote) {
			t->want_vote = 0;
			if (t->state == PA_GONE)
				vote(c, u, t, PX_VAL_ABORTED);
			else
				start_prepare(c, u, t, t->want_abort);
		} else if ((t->outcome == PX_OUT_ABORT || t->abandon) && t->state != PA_GONE) {
			db(c, u, t, PA_DB_ROLLBACK);
			set_state(c, t, PA_ROLLING);
		}
		break;
	case PA_ROLLING:
		/* Done, failed or lost: a lost connection rolls it back too. */
		set_state(c, t, PA_GONE);
		if (t->outcome == PX_OUT_ABORT)
			ack(c, u, t);
		else
			vote(c, u, t, PX_VAL_ABORTED);
		break;
	case PA_PREPARING:
		if (ev->status == PA_DB_OK) {
			set_state(c, t, PA_PREPARED);
			vote(c, u, t, PX_VAL_PREPARED);
			if (t->outcome) /* the decision came while we prepared */
				finish(c, u, t);
		} else if (ev->status == PA_DB_FAILED) {
			set_state(c, t, PA_GONE);
			if (ev->reason.len) {
				char why[PX_REASON_MAX + 1];
				int n = snprintf(why, sizeof(why), "PREPARE TRANSACTION failed: %.*s", (int)ev->reason.len,
						 ev->reason.p);
				pa_log(c, "gid=%s %s; voting aborted", t->k.s, why);
				if (t->vote == PX_VAL_NONE)
					tell_why(c, u, t, px_str_of(why, n < 0 ? 0 : n >= (int)sizeof(why) ? sizeof(why) - 1 : (uint32_t)n));
			}
			vote(c, u, t, PX_VAL_ABORTED);
			if (t->outcome == PX_OUT_ABORT)
				ack(c, u, t);
		} else {
			/* Not known whether PREPARE happened: vote nothing. */
			set_state(c, t, PA_INDOUBT);
			t->next = c->now + c->cfg.resend_ms;
		}
		break;
	case PA_CHECKING:
		if (ev->status != PA_DB_OK) {
			set_state(c, t, PA_INDOUBT);
			t->next = c->now + c->cfg.resend_ms;
			break;
		}
		if (ev->prepared) {
			set_state(c, t, PA_PREPARED);
			if (t->outcome)
				finish(c, u, t);
			else if (t->want_vote)
				vote(c, u, t, PX_VAL_PREPARED);
			t->next = c->now + c->cfg.resend_ms;
		} else if (t->presumed) {
			/* Presumed abort, and PostgreSQL no longer holds it
			 * prepared: what this agent knew was a stale view (a
			 * scan's), and whoever finished it (an XA-style client)
			 * knew the outcome.  A majority's UNKNOWN_GID proves no
			 * commit only while it is still prepared here (README,
			 * "Status and presumed abort"): state nothing. */
			pa_log(c, "gid=%s no longer prepared here: finished by someone else, outcome not known here",
			       t->k.s);
			txn_drop(c, t);
			return;
		} else if (t->outcome) {
			ack(c, u, t); /* not prepared here: already applied */
		} else if (t->ambiguous
#if defined(PX_PLANT_BUG) && PX_PLANT_BUG == 10
			   && 0 /* planted bug for the simulator's self-test: vote aborted for an ambiguous gid */
#endif
		) {
			/* Not prepared now, but it may have been prepared, voted
			 * and finished before we knew it: vote nothing. */
			pa_log(c, "gid=%s not prepared here, and this agent cannot tell whether it voted: "
				  "leaving it to the coordinators' recovery", t->k.s);
			c->st.ambiguous++;
			txn_drop(c, t);
			return;
		} else {
			/* Neither open here nor prepared, and this agent has not
			 * voted on it: certainly gone. */
			set_state(c, t, PA_GONE);
			if (t->want_vote)
				vote(c, u, t, PX_VAL_ABORTED);
		}
		t->want_vote = 0;
		break;
	case PA_FINISHING:
		if (ev->status == PA_DB_OK) {
			if (t->outcome == PX_OUT_COMMIT)
				c->st.committed++;
			else
				c->st.rolled_back++;
			if (t->presumed)
				c->st.presumed_aborts++;
			if (t->apply_fails)
				pa_log(c, "gid=%s %s applied after %u refused tries", t->k.s,
				       t->outcome == PX_OUT_COMMIT ? "COMMIT" : "ROLLBACK", t->apply_fails);
			ack(c, u, t);
		} else if (ev->status == PA_DB_FAILED) {
			check(c, u, t); /* "does not exist": ack only once a check agrees */
		} else {
			set_state(c, t, PA_PREPARED);
			t->next = c->now + c->cfg.resend_ms;
			if (ev->reason.len) {
				/* PostgreSQL refused it (an error, not a lost
				 * connection): say so once, and try again less and
				 * less often rather than every resend_ms for ever. */
				if (t->apply_fails < 255)
					t->apply_fails++;
				if (t->apply_fails == 1) {
					c->st.apply_failures++;
					pa_log(c, "gid=%s %s PREPARED refused by PostgreSQL: %.*s; retrying with backoff",
					       t->k.s, t->outcome == PX_OUT_COMMIT ? "COMMIT" : "ROLLBACK",
					       (int)ev->reason.len, ev->reason.p);
				}
				uint64_t b = (uint64_t)c->cfg.resend_ms << (t->apply_fails < 7 ? t->apply_fails : 7);
				t->retry_at = c->now + (b < PA_APPLY_BACKOFF_MAX_MS ? b : PA_APPLY_BACKOFF_MAX_MS);
				t->next = t->retry_at;
			}
		}
		break;
	default:
		break;
	}
}

static void tick(struct pa_core *c, struct px_update *u)
{
	if (c->cfg.scan_ms && c->now >= c->next_scan && !c->scan_token) {
		struct pa_db_action *a = px_update_db(u);
		if (a) {
			a->kind = PA_DB_SCAN;
			a->token = c->scan_token = ++c->next_token;
		}
		c->next_scan = c->now + c->cfg.scan_ms;
	}
	/* Only live transactions need the timer: a step may move t to `done`
	 * (or drop it), so its successor is taken first. */
	struct pa_txn *t, *next;
	for (t = c->live.head; t; t = next) {
		next = t->lnext;
		switch (t->state) {
		case PA_OPEN:
		case PA_DOOMED:
			if (c->now >= t->last + c->cfg.idle_timeout_ms) {
				pa_log(c, "gid=%s idle for %u ms: rolling back", t->k.s, c->cfg.idle_timeout_ms);
				c->st.idle_rollbacks++;
				db(c, u, t, PA_DB_ROLLBACK);
				set_state(c, t, PA_ROLLING);
			}
			break;
		case PA_EXEC:
			/* (With a PREPARE behind the statement its client has
			 * committed: it waits for the outcome, not the result.) */
			if (t->deadline && c->now >= t->deadline && !t->cancelled && !t->ptoken) {
				t->abandon = 1; /* roll back once the statement ends */
				cancel(c, u, t, "its client stopped waiting for the result");
			}
			break;
		case PA_PREPARED:
			if (t->outcome && t->retry_at && c->now >= t->retry_at) {
				finish(c, u, t); /* a refused outcome's next try */
				break;
			}
			if (c->now >= t->next) {
				if (t->vote == PX_VAL_PREPARED)
					vote(c, u, t, PX_VAL_PREPARED);
				struct px_msg m = {.type = PX_MSG_STATUS_REQ};
				m.u.status_req.req = t->k.h;
				m.u.status_req.gid = gid_of(t);
				to_replicas(c, u, &m);
				t->next = c->now + c->cfg.resend_ms;
			}
			break;
		case PA_INDOUBT:
			if (c->now >= t->next)
				check(c, u, t);
			break;
		default:
			break;
		}
	}
	/* Finished gids are remembered until they are ambiguous anyway, so
	 * that a late request cannot get a second, different vote.  Oldest
	 * finished first; the first that must stay ends the walk. */
	while (c->done.head && ambiguous(c, gid_of(c->done.head)))
		txn_drop(c, c->done.head);
	px_update_timer(u, c->now + (c->cfg.resend_ms < 100 ? c->cfg.resend_ms : 100));
}

void pa_core_step(struct pa_core *c, const struct pa_event *ev, struct px_update *u)
{
	if (ev->now > c->now)
		c->now = ev->now;
	switch (ev->kind) {
	case PA_EV_START:
		c->start = c->now;
		c->next_scan = c->now;
		tick(c, u);
		return;
	case PA_EV_TIMER:
		tick(c, u);
		return;
	case PA_EV_DB:
		on_db(c, u, ev);
		break;
	case PA_EV_LOST:
		if (!PA_PLANT_BUG_IS(12)) /* planted bug 12: a lost session is ignored */
			on_lost(c, u, ev);
		break;
	case PA_EV_MSG: {
		const struct px_msg *m = ev->msg;
		switch (m->type) {
		case PX_MSG_EXEC:
			if (ev->from.kind == PX_NODE_CLIENT)
				on_exec(c, u, ev->from, m);
			break;
		case PX_MSG_PREPARE:
			/* A replica's first PREPARE of a gid comes from the
			 * leader (one sent again may come through a follower):
			 * the likely leader for our thrifty first votes, once a
			 * decision named one. */
			if (c->leader_hint && ev->from.kind == PX_NODE_REPLICA && ev->from.id < c->cfg.nreplicas &&
			    first_prepare(c, m->u.prepare.gid))
				c->leader_hint = (uint8_t)(ev->from.id + 1);
			on_prepare(c, u, &m->u.prepare);
			break;
		case PX_MSG_DECISION:
			if (ev->from.kind == PX_NODE_REPLICA &&
			    (m->u.decision.outcome == PX_OUT_COMMIT || m->u.decision.outcome == PX_OUT_ABORT))
				on_outcome(c, u, m->u.decision.gid, m->u.decision.outcome, (int)ev->from.id);
			break;
		case PX_MSG_OUTCOME:
			on_status(c, u, ev->from, &m->u.outcome);
			break;
		case PX_MSG_PING:
			on_ping(c, u, ev->from, &m->u.ping);
			break;
		default:
			c->st.bad_msgs++;
			break;
		}
		break;
	}
	default:
		break;
	}
	px_update_timer(u, c->now + (c->cfg.resend_ms < 100 ? c->cfg.resend_ms : 100));
}
