/*
 * sim.c - the simulated world: event queue, network with faults, fake disk,
 * simulated PostgreSQL, clients, and the invariant checker.
 *
 * Invariants checked (protocol.md section 7, those that hold without a real
 * PostgreSQL):
 *   agreement   every outcome any process states for a gid (decision and
 *               forget messages, 1b/2b/sync reports, replies to clients,
 *               acks, COMMIT/ROLLBACK PREPARED applied) is the same;
 *   stability   the same check spans crashes and restarts;
 *   validity    when COMMIT is first stated, every participant of the gid
 *               holds it prepared (or committed);
 *   atomicity   at the end, a gid is committed on all its participants or
 *               on none, and a committed transaction ran every statement
 *               its client saw succeed;
 *   client truth  COMMITTED with wait=applied: committed everywhere at that
 *               moment; COMMITTED / ABORTED agree with the outcome;
 *   liveness    after faults stop and the network heals, within SETTLE_MS
 *               every client finishes, nothing stays prepared, and every
 *               replica has garbage-collected every gid;
 *   future gids a gid born more than the clock-skew bound ahead of every
 *               clock (sent by a misbehaving client) leaves nothing at any
 *               replica.
 */
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "pa_core.h"
#include "sim_disk.h"
#include "px_gid.h"
#include "px_map.h"
#include "px_msg.h"
#include "px_replica.h"

#define MAXNODES 24
#define FAULT_MS 8000u   /* faults are injected during [0, FAULT_MS) */
#define SETTLE_MS 30000u /* the stated bound: all settled this long after */
#define GRAY_FAULTS 4      /* gray mode: faults per seed, one at a time */
#define GRAY_SLACK_MS 100u /* gray mode: a transaction's own time, on top of the bound */
/* Gray mode: a fault of a follower only slows no commit begun this long
 * after its start (2 x resend_ms: every vote in flight at the start has been
 * sent again, and whoever sent it knows to leave that follower out). */
#define GRAY_SETTLE(w) (2ull * (w)->resend_ms)
#define CLIENT_DEADLINE_MS 4000u
#define SIM_SILENT_MS 2000u /* the client library's PC_SILENT_MS */
/* How far ahead of a replica's or agent's clock a client's may be (README
 * "gid format"; PX_GID_MAX_FUTURE_MS in the daemons).  It is the agents'
 * restart margin (skew_ms) here too, and clocks differ by up to 300 ms. */
#define SIM_MAX_FUTURE_MS 300u
#define FUTURE_MAX 16 /* future-born gids sent in one run */

/* ------------------------------------------------------------------ rng */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* ---------------------------------------------------------- structures */

enum ev_type { EV_DELIVER = 1, EV_TIMER, EV_SYNC, EV_DB, EV_CRASH, EV_RESTART, EV_CLIENT, EV_PART, EV_HEAL, EV_FUTURE,
	       EV_GRAY };

struct ev {
	uint64_t t, seq;
	uint8_t type;
	uint8_t node;
	uint32_t inc;
	struct px_addr from;
	uint8_t *data;
	uint32_t len;
	uint64_t arg;
	struct dbact *act;
};

enum node_kind { K_REP = 1, K_AGENT, K_CLIENT };

struct heldmsg {
	struct px_addr to;
	uint8_t *p;
	uint32_t len;
	size_t barrier;
	uint8_t lazy; /* deferred: need not cost a sync of its own */
};

/* PG_LEFT: a statement left the transaction block (a COMMIT or ROLLBACK
 * got past the agent's refusal); the session is outside any block, so
 * what runs next would run in autocommit. */
enum pg_state { PG_OPEN = 1, PG_PREPARED, PG_COMMITTED, PG_ABORTED, PG_LEFT };

struct pgtx {
	struct px_key k;
	uint8_t state;
	uint8_t failed;  /* a statement failed: PREPARE will roll back */
	uint8_t was_prepared;
	uint32_t stmts;  /* statements that ran in this PostgreSQL transaction */
	uint8_t sess_lost; /* its session ended: a statement now would BEGIN anew */
};

struct dbact {
	uint8_t kind;
	uint64_t token;
	char gid[PX_GID_MAX + 1];
	uint8_t gid_len;
	uint8_t *frame;
	uint32_t flen;
	int cancelled;
	int stop;    /* EXEC: the agent asked to cancel it; unless too late, it fails */
	uint64_t at; /* when it completes */
	struct dbact *next;
};

enum client_state { C_IDLE = 1, C_EXEC, C_XPREP, C_COMMIT, C_POLL, C_DONE, C_DEAD };

struct truth {
	struct px_key k;
	struct px_pset pset;
	uint8_t learned;
	uint8_t answered;
	uint8_t wait;
	uint8_t rollback;
	uint32_t ok_stmts[9]; /* per participant id: statements the client saw succeed
				 (exec_commit: statements it sent) */
	uint8_t exec_commit;  /* statements, PREPARE and commit request sent at once */
	uint8_t xa;           /* XA-style: the client prepares and votes itself */
	uint8_t refused;      /* replicas whose acceptor said it refuses the gid for ever */
	char how[96];
};

struct client {
	uint8_t state;
	int done;
	uint64_t id, seq, req;
	uint64_t begin, deadline, next_send, wake;
	int pending, failed, polls;
	uint8_t target;
	uint8_t redirect; /* next send goes to target as is */
	uint8_t fanout;   /* the target was silent: ask every replica not silent lately at once,
			     as the client library does (one may be all a client reaches) */
	uint8_t sent;     /* the last request went out (not deferred): silence counts */
	/* When each replica last failed to answer (0: it answers): as the
	 * client library (PC_SILENT_MS), a "not the leader" naming one silent
	 * lately keeps the client on the follower that passes requests on. */
	uint64_t silent_at[PX_REPLICAS_MAX];
	uint8_t asked_rollback;
	uint8_t asked; /* commit requests sent for the current gid */
	uint8_t todo[9]; /* statements still to run, per participant */
	uint32_t stmt[9]; /* next statement number, per participant */
	uint64_t outstanding[9]; /* req of the statement awaiting its result */
	uint16_t acked;          /* participants (pset index) that acknowledged ... */
	uint8_t ack_outcome;     /* ... this outcome to the client (wait=applied) */
	uint8_t xa_vote[9];      /* XA-style: the client's vote, per participant */
	uint16_t xa_got[MAXNODES]; /* ... pset indexes each acceptor's 2b accepted `prepared` for */
	/* As the client library: when each replica last failed to send the
	 * 2b's of the first votes that went to it (0: it sent them), and the
	 * replicas the current gid's first votes went to. */
	uint64_t no2b_at[PX_REPLICAS_MAX];
	uint8_t xa_sent;
	struct truth *tr;
};

struct node {
	uint8_t kind;
	int idx; /* replica id, participant id, or client index */
	int up;
	uint32_t inc;
	uint64_t skew;
	uint64_t timer_at;
	struct px_update u;
	/* replica: its commit log (sim_disk.c); PERSISTED seq = durable log
	 * seq - the log's last seq at START */
	struct px_replica *rep;
	struct sdisk *disk;
	uint64_t checkpoints;
	int syncing;
	int dfr_pending; /* a sync for deferred held messages is scheduled */
	uint64_t eager_upto; /* sdisk_appended after the last record that is not lazy */
	struct heldmsg *held;
	size_t nheld, capheld;
	/* agent */
	struct pa_core *pa;
	struct px_map pg;
	struct dbact *acts;
	int restarted;      /* replica: up again after a crash, no 1a sent since */
	uint32_t bal_used;  /* replica: highest ballot any incarnation sent a 1a or 2a with */
	uint32_t bal_inc;   /* ... and that incarnation */
	/* client */
	struct client c;
};

struct world {
	struct sim_opts o;
	struct sim_result *res;
	uint64_t rng;
	uint64_t now, seq;
	struct ev **heap;
	size_t nheap, capheap;
	struct node n[MAXNODES];
	int nn, R, M, C;
	uint16_t rms[8];
	struct px_map truths;
	struct px_map insts; /* struct insttrack */
	uint8_t blocked[MAXNODES][MAXNODES];
	uint64_t block_until;
	int faults_on;
	/* fault intensities of this seed */
	unsigned p_drop, p_dup, p_delay, p_crash, p_part, p_die; /* per mille */
	unsigned p_crash_send; /* per 10000 messages: crash the sender just after */
	unsigned p_disk_fault; /* per mille of syncs: a write or fsync fails */
	uint32_t disk_ms;      /* fsync latency bound */
	/* timing of this seed: short timeouts make leaders duel */
	uint32_t hb_ms, lease_ms, timeout_ms, resend_ms;
	/* gids born far in the future that a client sent (EV_FUTURE) */
	char future[FUTURE_MAX][200];
	int nfuture;
	/* Swarm testing: the fault kinds this seed uses (F_* bits).  Each
	 * seed switches whole kinds on or off, so that rare combinations
	 * (say, late messages with no crashes at all) get runs of their own. */
	uint32_t swarm;
	/* Gray mode (sim_opts.gray): long one-way and partial faults, one at
	 * a time, with no other fault; commits must go on during each. */
	int gray_on, gray_kind, gray_target;
	int gray_client; /* the client whose links the fault cuts (its commits count), or -1 */
	uint16_t gray_agent; /* the participant whose links the fault cuts (its transactions count), or 0 */
	uint64_t gray_start, gray_heal_at, last_commit;
	uint64_t gray_stall; /* the longest stall of the current fault */
	uint64_t gray_commits; /* commits answered during the current fault */
	uint64_t gray_forced_aborts; /* aborts answered then that recovery chose */
	/* commits begun once the fault is GRAY_SETTLE_MS old: count, total time */
	uint64_t gray_late_n, gray_late_ms, gray_late_slow; /* slow: took resend_ms or more */
};

/* Fault kinds, each on or off per seed (sim_run).  The B_* kinds are
 * targeted (FoundationDB's BUGGIFY): they steer a seed into a rare path. */
enum {
	F_DROP = 1u << 0, F_DUP = 1u << 1, F_DELAY = 1u << 2, F_PART = 1u << 3,
	F_CRASH_REP = 1u << 4, F_CRASH_AGENT = 1u << 5, F_CLIENT_DIE = 1u << 6, F_CRASH_SEND = 1u << 7,
	F_DISK = 1u << 8, F_LOST_SESSION = 1u << 9, F_FUTURE = 1u << 10, F_LEAVE_BLOCK = 1u << 11,
	B_PREPARE_CRASH = 1u << 12, /* an agent restarts in the middle of a PREPARE */
	B_ROUND_CRASH = 1u << 13,   /* a replica restarts right after a round bump */
	B_LATE = 1u << 14,          /* messages held back past the GC horizon */
	B_ABORT_HIGH = 1u << 15,    /* slow first votes: recovery aborts at higher ballots */
	B_XA_DIE = 1u << 16,        /* XA-style clients die at every step */
	F_NKINDS = 17
};
const char *const sim_cov_names[COV_N] = {
	"ambiguous", "presumed_abort", "give_up", "bump_after_restart", "lost_session", "left_block",
	"abort_high_ballot", "below_horizon", "prepare_crash", "xa_death", "round_crash",
	"client_asked"};

static const char *const fault_names[F_NKINDS] = {
	"drop", "dup", "delay", "partition", "crash-replica", "crash-agent", "client-death", "crash-on-send",
	"disk-fault", "lost-session", "future-gids", "leave-block", "b-prepare-crash", "b-round-crash", "b-late",
	"b-abort-high", "b-xa-die"};

static int on(const struct world *w, uint32_t kind)
{
	return w->faults_on && (w->swarm & kind);
}

static uint64_t rnd(struct world *w, uint64_t n)
{
	return n ? rng_next(&w->rng) % n : 0;
}

static int chance(struct world *w, unsigned per_mille)
{
	return rnd(w, 1000) < per_mille;
}

static void violation(struct world *w, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

static void violation(struct world *w, const char *fmt, ...)
{
	char buf[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (!w->res->violations)
		snprintf(w->res->first_violation, sizeof(w->res->first_violation), "t=%" PRIu64 " %s", w->now,
			 buf);
	w->res->violations++;
	if (w->o.trace)
		fprintf(w->o.out, "%8" PRIu64 " VIOLATION %s\n", w->now, buf);
}

static const char *node_name(struct world *w, int i, char *buf, size_t cap)
{
	struct node *nd = &w->n[i];
	snprintf(buf, cap, "%s.%d", nd->kind == K_REP ? "coordinator" : nd->kind == K_AGENT ? "participant" : "client",
		 nd->idx);
	return buf;
}

static void trace(struct world *w, const char *fmt, ...)
#if defined(__GNUC__)
	__attribute__((format(printf, 2, 3)))
#endif
	;

static void trace(struct world *w, const char *fmt, ...)
{
	if (!w->o.trace)
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(w->o.out, "%8" PRIu64 " ", w->now);
	vfprintf(w->o.out, fmt, ap);
	fputc('\n', w->o.out);
	va_end(ap);
}

static void core_log(void *ctx, const char *line)
{
	struct world *w = ctx;
	trace(w, "  log %s", line);
}

/* ---------------------------------------------------------- event heap */

static int ev_less(const struct ev *a, const struct ev *b)
{
	return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static struct ev *ev_new(struct world *w, uint64_t t, uint8_t type, int node)
{
	struct ev *e = calloc(1, sizeof(*e));
	if (!e) {
		fprintf(stderr, "sim: out of memory\n");
		exit(2);
	}
	e->t = t;
	e->seq = ++w->seq;
	e->type = type;
	e->node = (uint8_t)node;
	e->inc = node >= 0 && node < w->nn ? w->n[node].inc : 0;
	if (w->nheap == w->capheap) {
		w->capheap = w->capheap ? w->capheap * 2 : 1024;
		w->heap = realloc(w->heap, w->capheap * sizeof(*w->heap));
		if (!w->heap)
			exit(2);
	}
	size_t i = w->nheap++;
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!ev_less(e, w->heap[p]))
			break;
		w->heap[i] = w->heap[p];
		i = p;
	}
	w->heap[i] = e;
	return e;
}

static struct ev *ev_pop(struct world *w)
{
	if (!w->nheap)
		return NULL;
	struct ev *top = w->heap[0], *last = w->heap[--w->nheap];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const struct ev *mv = last;
		if (l < w->nheap && ev_less(w->heap[l], mv))
			m = l, mv = w->heap[l];
		if (r < w->nheap && ev_less(w->heap[r], mv))
			m = r;
		if (m == i)
			break;
		w->heap[i] = w->heap[m];
		i = m;
	}
	if (w->nheap)
		w->heap[i] = last;
	return top;
}

static void ev_free(struct ev *e)
{
	free(e->data);
	free(e);
}

/* ----------------------------------------------------------- addresses */

static int node_of(struct world *w, struct px_addr a, uint32_t *inc)
{
	*inc = UINT32_MAX;
	switch (a.kind) {
	case PX_NODE_REPLICA:
		return a.id < (uint64_t)w->R ? (int)a.id : -1;
	case PX_NODE_AGENT:
		return a.id >= 1 && a.id <= (uint64_t)w->M ? w->R + (int)a.id - 1 : -1;
	case PX_NODE_CLIENT: {
		uint64_t i = a.id & 0xFF;
		*inc = (uint32_t)(a.id >> 8);
		return i < (uint64_t)w->C ? w->R + w->M + (int)i : -1;
	}
	}
	return -1;
}

static struct px_addr addr_of(struct world *w, int i)
{
	struct node *nd = &w->n[i];
	if (nd->kind == K_REP)
		return px_addr_of(PX_NODE_REPLICA, (uint64_t)nd->idx);
	if (nd->kind == K_AGENT)
		return px_addr_of(PX_NODE_AGENT, (uint64_t)nd->idx);
	return px_addr_of(PX_NODE_CLIENT, (uint64_t)nd->idx | ((uint64_t)nd->inc << 8));
}

static uint64_t clock_of(struct world *w, int i)
{
	return w->now + w->n[i].skew;
}

/* ------------------------------------------------------------- checker */

static struct truth *truth_get(struct world *w, struct px_str gid)
{
	return px_map_get(&w->truths, gid);
}

static struct pgtx *pg_get(struct node *a, struct px_str gid)
{
	return px_map_get(&a->pg, gid);
}

/* Participant rm's agent node, which holds its database model (XA-style
 * clients work on that database directly). */
static struct node *agent_node(struct world *w, uint16_t rm)
{
	return &w->n[w->R + rm - 1];
}

/*
 * Consensus per instance, seen from outside: every 2b that accepts (bal,
 * val) is counted here by acceptor.  A value is chosen once a majority
 * accepted it at one ballot.  Two values chosen for one instance is a
 * violation; a chosen value also fixes the gid's outcome, which every
 * process must then agree with (even if none has learned it yet).
 */
struct accslot {
	uint32_t bal;
	uint8_t val;
	uint8_t mask;
};

struct insttrack {
	struct px_key k; /* "<gid>/<rm>" */
	uint8_t chosen;
	uint32_t chosen_bal;
	uint8_t n;
	struct accslot s[16];
};

static int popc(uint8_t x)
{
	int n = 0;
	for (; x; x &= (uint8_t)(x - 1))
		n++;
	return n;
}

static struct insttrack *inst_track(struct world *w, struct px_str gid, uint16_t rm, int create)
{
	char key[PX_GID_MAX + 8];
	int n = snprintf(key, sizeof(key), "%.*s/%u", (int)gid.len, gid.p, rm);
	if (n <= 0 || n > (int)PX_GID_MAX)
		return NULL;
	struct px_str ks = px_str_of(key, (uint32_t)n);
	struct insttrack *it = px_map_get(&w->insts, ks);
	if (it || !create)
		return it;
	it = calloc(1, sizeof(*it));
	if (!it)
		exit(2);
	px_key_set(&it->k, ks);
	if (px_map_put(&w->insts, it))
		exit(2);
	return it;
}

/* Somebody states `outcome` for gid. */
static void claim(struct world *w, struct px_str gid, uint8_t outcome, const char *who)
{
	if (outcome != PX_OUT_COMMIT && outcome != PX_OUT_ABORT)
		return;
	struct truth *tr = truth_get(w, gid);
	if (!tr) {
		violation(w, "%s states an outcome for a gid no client began: %.*s", who, (int)gid.len, gid.p);
		return;
	}
	if (tr->learned == PX_OUT_NONE) {
		if (outcome == PX_OUT_ABORT && !strncmp(who, "coordinator.", 12)) {
			/* A replica decides ABORT only once `aborted` is chosen
			 * for some instance of the gid (under any set): by a
			 * majority at one ballot. */
			int chosen = 0;
			for (uint16_t rm = 1; rm <= w->M && !chosen; rm++) {
				struct insttrack *it = inst_track(w, gid, rm, 0);
				chosen = it && it->chosen == PX_VAL_ABORTED;
			}
			if (!chosen)
				violation(w, "learned but not chosen: %s states ABORT for %s, but aborted is chosen for no participant",
					  who, tr->k.s);
		}
		if (outcome == PX_OUT_COMMIT) {
			/* Learn only what was chosen: prepared, by a majority
			 * at one ballot, for every participant. */
			for (uint16_t i = 0; i < tr->pset.n; i++) {
				struct insttrack *it = inst_track(w, gid, tr->pset.rm[i], 0);
				if (!it || it->chosen != PX_VAL_PREPARED)
					violation(w, "learned but not chosen: %s states COMMIT for %s, but prepared is not chosen for participant %u",
						  who, tr->k.s, tr->pset.rm[i]);
			}
			for (uint16_t i = 0; i < tr->pset.n; i++) {
				struct pgtx *p = pg_get(&w->n[w->R + tr->pset.rm[i] - 1], gid);
				if (!p || (p->state != PG_PREPARED && p->state != PG_COMMITTED))
					violation(w, "validity: %s states COMMIT for %s but participant %u is %s", who,
						  tr->k.s, tr->pset.rm[i], !p ? "unaware" : p->state == PG_OPEN ? "open" : "rolled back");
			}
		}
		tr->learned = outcome;
		snprintf(tr->how, sizeof(tr->how), "%s at t=%" PRIu64, who, w->now);
		trace(w, "  learned %s %s (%s)", tr->k.s, outcome == PX_OUT_COMMIT ? "COMMIT" : "ABORT", who);
	} else if (tr->learned != outcome) {
		violation(w, "agreement: %s states %s for %s, but %s stated %s", who,
			  outcome == PX_OUT_COMMIT ? "COMMIT" : "ABORT", tr->k.s, tr->how,
			  tr->learned == PX_OUT_COMMIT ? "COMMIT" : "ABORT");
	}
}

static uint8_t status_outcome(uint8_t st)
{
	return st == PX_ST_COMMITTED ? PX_OUT_COMMIT : st == PX_ST_ABORTED ? PX_OUT_ABORT : PX_OUT_NONE;
}

static void accepted(struct world *w, int acceptor, const struct px_m2b *b)
{
	struct insttrack *it = inst_track(w, b->gid, b->rm, 1);
	if (!it)
		return;
	struct accslot *sl = NULL;
	for (uint8_t i = 0; i < it->n; i++)
		if (it->s[i].bal == b->bal && it->s[i].val == b->val)
			sl = &it->s[i];
	if (!sl) {
		/* One value per ballot: a ballot has one proposer (the
		 * participant at ballot 0, one replica above), which proposes
		 * one value.  Two values accepted at one ballot mean a proposer
		 * that reused a ballot (lost its round record) or voted twice
		 * (an agent that forgot its vote). */
		for (uint8_t i = 0; i < it->n; i++)
			if (it->s[i].bal == b->bal)
				violation(w, "one value per ballot: instance %s accepted both prepared and aborted at ballot %u",
					  it->k.s, b->bal);
		if (it->n == 16)
			return;
		sl = &it->s[it->n++];
		sl->bal = b->bal;
		sl->val = b->val;
	}
	sl->mask |= (uint8_t)(1u << acceptor);
	if (popc(sl->mask) < w->R / 2 + 1)
		return;
	if (it->chosen && it->chosen != sl->val) {
		violation(w, "consensus: instance %s chose %s at ballot %u and %s at ballot %u", it->k.s,
			  it->chosen == PX_VAL_PREPARED ? "prepared" : "aborted", it->chosen_bal,
			  sl->val == PX_VAL_PREPARED ? "prepared" : "aborted", sl->bal);
		return;
	}
	if (it->chosen)
		return;
	it->chosen = sl->val;
	it->chosen_bal = sl->bal;
	/* What the acceptors chose decides the gid. */
	struct truth *tr = truth_get(w, b->gid);
	if (!tr)
		return;
	if (sl->val == PX_VAL_ABORTED) {
		claim(w, b->gid, PX_OUT_ABORT, "the acceptors (a participant's abort was chosen)");
		return;
	}
	for (uint16_t i = 0; i < tr->pset.n; i++) {
		struct insttrack *o = inst_track(w, b->gid, tr->pset.rm[i], 0);
		if (!o || o->chosen != PX_VAL_PREPARED)
			return;
	}
	claim(w, b->gid, PX_OUT_COMMIT, "the acceptors (prepared chosen for every participant)");
}

/* A refusal for ever (below the horizon, or forgotten with no outcome) is
 * one: presumed abort counts on it.  The acceptor that stated one never
 * promises or accepts anything for the gid after it. */
static void refusal(struct world *w, int from, struct px_str gid, uint8_t flags, const char *what)
{
	if (w->n[from].kind != K_REP)
		return;
	struct truth *tr = truth_get(w, gid);
	if (!tr)
		return;
	uint8_t bit = (uint8_t)(1u << w->n[from].idx);
	if ((flags & PX_ACC_OK) && (tr->refused & bit))
		violation(w, "refusal broken: coordinator.%d sends a %s with its %s for %s, which it refused for ever before",
			  w->n[from].idx, what, strcmp(what, "1b") ? "vote accepted" : "promise", tr->k.s);
	if ((flags & PX_ACC_BELOW_HORIZON) || ((flags & PX_ACC_FORGOTTEN) && !(flags & PX_ACC_DECIDED)))
		tr->refused |= bit;
}

/* Every message that leaves a process is checked for what it states. */
static void inspect(struct world *w, int from, const struct px_msg *m)
{
	char who[64], nb[32];
	snprintf(who, sizeof(who), "%s (%s)", node_name(w, from, nb, sizeof(nb)), px_type_name(m->type));
	switch (m->type) {
	case PX_MSG_DECISION:
		claim(w, m->u.decision.gid, m->u.decision.outcome, who);
		break;
	case PX_MSG_OUTCOME:
		claim(w, m->u.outcome.gid, status_outcome(m->u.outcome.status), who);
		break;
	case PX_MSG_1B:
		if (m->u.m1b.flags & PX_ACC_DECIDED)
			claim(w, m->u.m1b.gid, m->u.m1b.outcome, who);
		if (m->u.m1b.flags & PX_ACC_BELOW_HORIZON)
			w->res->cov[COV_BELOW_HORIZON]++;
		refusal(w, from, m->u.m1b.gid, m->u.m1b.flags, "1b");
		break;
	case PX_MSG_2B:
		if (m->u.m2b.flags & PX_ACC_DECIDED)
			claim(w, m->u.m2b.gid, m->u.m2b.outcome, who);
		if ((m->u.m2b.flags & PX_ACC_OK) && w->n[from].kind == K_REP)
			accepted(w, w->n[from].idx, &m->u.m2b);
		if ((m->u.m2b.flags & PX_ACC_OK) && m->u.m2b.bal > 0 && m->u.m2b.val == PX_VAL_ABORTED)
			w->res->cov[COV_ABORT_HIGH]++;
		if (m->u.m2b.flags & PX_ACC_BELOW_HORIZON)
			w->res->cov[COV_BELOW_HORIZON]++;
		refusal(w, from, m->u.m2b.gid, m->u.m2b.flags, "2b");
		break;
	case PX_MSG_FORGET:
		claim(w, m->u.forget.gid, m->u.forget.outcome, who);
		break;
	case PX_MSG_DECISION_ACK:
		claim(w, m->u.decision_ack.gid, m->u.decision_ack.outcome, who);
		break;
	case PX_MSG_SYNC:
		for (uint16_t i = 0; i < m->u.sync.count; i++)
			claim(w, m->u.sync.e[i].gid, m->u.sync.e[i].outcome, who);
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------------- network */

static uint8_t *dup_bytes(const void *p, size_t len)
{
	uint8_t *q = malloc(len ? len : 1);
	if (!q)
		exit(2);
	memcpy(q, p, len);
	return q;
}

static void net_send(struct world *w, int from, struct px_addr to, const uint8_t *frame, uint32_t len)
{
	struct px_msg *m = malloc(sizeof(*m));
	if (!m)
		exit(2);
	int err = px_decode(frame, len, m);
	if (err) {
		violation(w, "codec: a core produced a frame that does not decode: %s", px_codec_strerror(err));
		free(m);
		return;
	}
	inspect(w, from, m);
	uint32_t inc;
	int dst = node_of(w, to, &inc);
	char a[32], b[32];
	if (dst < 0) {
		trace(w, "%s -> ? %s dropped: no such node", node_name(w, from, a, sizeof(a)), px_type_name(m->type));
		free(m);
		return;
	}
	w->res->msgs++;
	int self = dst == from;
	int acc_reply = m->type == PX_MSG_1B || m->type == PX_MSG_2B;
	int lead_msg = m->type == PX_MSG_1A || m->type == PX_MSG_2A;
	if (lead_msg && w->n[from].kind == K_REP) {
		/* A proposer's ballots are its own and never reused: a restart
		 * must come back above every ballot an earlier incarnation used
		 * (its round record is durable before its 1a leaves). */
		struct node *fn = &w->n[from];
		uint32_t bal = m->type == PX_MSG_1A ? m->u.m1a.bal : m->u.m2a.bal;
		if (bal && fn->bal_used && fn->bal_inc != fn->inc && bal <= fn->bal_used)
			violation(w, "ballot reuse: coordinator.%d (incarnation %u) sends %s at ballot %u, but incarnation %u "
				     "already used ballot %u",
				  fn->idx, fn->inc, px_type_name(m->type), bal, fn->bal_inc, fn->bal_used);
		if (bal > fn->bal_used || (bal && fn->bal_inc != fn->inc && bal == fn->bal_used)) {
			fn->bal_used = bal;
			fn->bal_inc = fn->inc;
		}
	}
	if (m->type == PX_MSG_1A && w->n[from].kind == K_REP && w->n[from].restarted) {
		w->res->cov[COV_BUMP_RESTART]++;
		w->n[from].restarted = 0;
	}
	int unsynced = w->n[from].kind == K_REP && sdisk_appended(w->n[from].disk) > sdisk_durable(w->n[from].disk);
	if (w->faults_on && w->n[from].kind == K_REP && w->o.crash_replicas &&
	    (rnd(w, 10000) < w->p_crash_send ||
	     (acc_reply && unsynced && (w->swarm & (F_CRASH_SEND | F_CRASH_REP)) && chance(w, 100)) ||
	     (lead_msg && on(w, B_ROUND_CRASH) && chance(w, unsynced ? 250 : 30)))) {
		/* Crash right after this message leaves, above all when an
		 * acceptor's reply leaves with writes not yet synced: those
		 * writes are lost (the window a durability bug falls into).
		 * Targeted: a leader's 1a or 2a, just after the round bump
		 * that made its ballot (a restart must not reuse it). */
		if (lead_msg && on(w, B_ROUND_CRASH))
			w->res->cov[COV_ROUND_CRASH]++;
		struct ev *ce = ev_new(w, w->now, EV_CRASH, from);
		ce->inc = UINT32_MAX;
	}
	int copies = 1;
	uint64_t delay = self ? 0 : 1 + rnd(w, 3);
	const char *fate = "";
	if (!self && w->gray_on && w->blocked[from][dst]) {
		copies = 0;
		fate = " [partitioned]";
	} else if (!self && w->faults_on) {
		if (w->blocked[from][dst]) {
			copies = 0;
			fate = " [partitioned]";
		} else if (chance(w, w->p_drop)) {
			copies = 0;
			fate = " [dropped]";
			w->res->dropped++;
		} else if (chance(w, w->p_dup)) {
			copies = 2;
			fate = " [duplicated]";
			w->res->duplicated++;
		}
		if (copies && chance(w, w->p_delay)) {
			delay += 10 + rnd(w, 500);
			w->res->delayed++;
		}
		/* Targeted: a message held back until the GC horizon (6 s in
		 * these runs) has passed its gid's birth. */
		if (copies && on(w, B_LATE) && chance(w, 20)) {
			delay += 3000 + rnd(w, 6000);
			w->res->delayed++;
		}
		/* Targeted: a first vote slower than the transaction timeout,
		 * so that recovery proposes `aborted` at a higher ballot while
		 * it is still on the way. */
		if (copies && on(w, B_ABORT_HIGH) && m->type == PX_MSG_2A && m->u.m2a.bal == 0 && chance(w, 300)) {
			delay += w->timeout_ms + rnd(w, 2 * (uint64_t)w->timeout_ms + 1);
			w->res->delayed++;
		}
	}
	if (w->o.trace) {
		const char *gid = "";
		int glen = 0;
		switch (m->type) {
		case PX_MSG_1A: gid = m->u.m1a.gid.p; glen = (int)m->u.m1a.gid.len; break;
		case PX_MSG_1B: gid = m->u.m1b.gid.p; glen = (int)m->u.m1b.gid.len; break;
		case PX_MSG_2A: gid = m->u.m2a.gid.p; glen = (int)m->u.m2a.gid.len; break;
		case PX_MSG_2B: gid = m->u.m2b.gid.p; glen = (int)m->u.m2b.gid.len; break;
		case PX_MSG_DECISION: gid = m->u.decision.gid.p; glen = (int)m->u.decision.gid.len; break;
		case PX_MSG_DECISION_ACK: gid = m->u.decision_ack.gid.p; glen = (int)m->u.decision_ack.gid.len; break;
		case PX_MSG_FORGET: gid = m->u.forget.gid.p; glen = (int)m->u.forget.gid.len; break;
		case PX_MSG_COMMIT_REQ: gid = m->u.commit_req.gid.p; glen = (int)m->u.commit_req.gid.len; break;
		case PX_MSG_ROLLBACK_REQ: gid = m->u.rollback_req.gid.p; glen = (int)m->u.rollback_req.gid.len; break;
		case PX_MSG_STATUS_REQ: gid = m->u.status_req.gid.p; glen = (int)m->u.status_req.gid.len; break;
		case PX_MSG_OUTCOME: gid = m->u.outcome.gid.p; glen = (int)m->u.outcome.gid.len; break;
		case PX_MSG_EXEC: gid = m->u.exec.gid.p; glen = (int)m->u.exec.gid.len; break;
		case PX_MSG_EXEC_RESULT: gid = m->u.exec_result.gid.p; glen = (int)m->u.exec_result.gid.len; break;
		case PX_MSG_PREPARE: gid = m->u.prepare.gid.p; glen = (int)m->u.prepare.gid.len; break;
		default: break;
		}
		char extra[96] = "";
		if (m->type == PX_MSG_2A || m->type == PX_MSG_2B)
			snprintf(extra, sizeof(extra), " rm=%u bal=%u val=%u flags=%u", m->type == PX_MSG_2A ? m->u.m2a.rm : m->u.m2b.rm,
				 m->type == PX_MSG_2A ? m->u.m2a.bal : m->u.m2b.bal, m->type == PX_MSG_2A ? m->u.m2a.val : m->u.m2b.val,
				 m->type == PX_MSG_2B ? m->u.m2b.flags : 0);
		else if (m->type == PX_MSG_1A)
			snprintf(extra, sizeof(extra), " rm=%u bal=%u", m->u.m1a.rm, m->u.m1a.bal);
		else if (m->type == PX_MSG_1B)
			snprintf(extra, sizeof(extra), " rm=%u bal=%u mbal=%u vbal=%u vval=%u flags=%u", m->u.m1b.rm,
				 m->u.m1b.bal, m->u.m1b.mbal, m->u.m1b.vbal, m->u.m1b.vval, m->u.m1b.flags);
		else if (m->type == PX_MSG_OUTCOME)
			snprintf(extra, sizeof(extra), " status=%u", m->u.outcome.status);
		else if (m->type == PX_MSG_DECISION)
			snprintf(extra, sizeof(extra), " outcome=%u", m->u.decision.outcome);
		if (m->type != PX_MSG_HEARTBEAT)
			trace(w, "%s -> %s %s %.*s%s%s", node_name(w, from, a, sizeof(a)), node_name(w, dst, b, sizeof(b)),
			      px_type_name(m->type), glen, gid, extra, fate);
	}
	free(m);
	for (int i = 0; i < copies; i++) {
		struct ev *e = ev_new(w, w->now + delay + (uint64_t)i * rnd(w, 50), EV_DELIVER, dst);
		e->from = addr_of(w, from);
		e->data = dup_bytes(frame, len);
		e->len = len;
		if (inc != UINT32_MAX)
			e->inc = inc; /* a reply to an older client incarnation is dropped */
	}
}

/* ---------------------------------------------------- driving a core */

static void schedule_timer(struct world *w, int i, uint64_t at_local)
{
	struct node *nd = &w->n[i];
	if (!at_local)
		return;
	uint64_t at = at_local > nd->skew ? at_local - nd->skew : 0;
	if (at < w->now)
		at = w->now;
	if (nd->timer_at && nd->timer_at <= at && nd->timer_at >= w->now)
		return; /* an earlier timer is pending; it will ask again */
	nd->timer_at = at;
	struct ev *e = ev_new(w, at, EV_TIMER, i);
	e->arg = at;
}

static void release_held(struct world *w, int i)
{
	struct node *nd = &w->n[i];
	size_t keep = 0;
	for (size_t k = 0; k < nd->nheld; k++) {
		struct heldmsg *h = &nd->held[k];
		if (h->barrier <= sdisk_durable(nd->disk)) {
			net_send(w, i, h->to, h->p, h->len);
			free(h->p);
		} else {
			nd->held[keep++] = *h;
		}
	}
	nd->nheld = keep;
}

/* The daemon's DEFER_SYNC_MS. */
#define SIM_DEFER_MS 5u

static void start_sync(struct world *w, int i)
{
	struct node *nd = &w->n[i];
	/* As the daemon: lazy records alone (decisions, forgets, a gid's
	 * first votes) wait for the next sync something else needs.  (The
	 * daemon also syncs them after 50 ms; here they may wait longer, so
	 * crashes lose more.)  Deferred held messages wait for it too, at
	 * most SIM_DEFER_MS. */
	int held_eager = 0;
	for (size_t k = 0; k < nd->nheld; k++)
		held_eager |= !nd->held[k].lazy;
	if (nd->syncing || sdisk_appended(nd->disk) == sdisk_durable(nd->disk))
		return;
	if (sdisk_durable(nd->disk) >= nd->eager_upto && !held_eager) {
		if (nd->nheld && !nd->dfr_pending) {
			nd->dfr_pending = 1;
			struct ev *e = ev_new(w, w->now + SIM_DEFER_MS, EV_SYNC, i);
			e->arg = 1;
		}
		return;
	}
	nd->syncing = 1;
	uint64_t lat = 1 + rnd(w, w->disk_ms);
	/* Targeted: now and then an fsync stalls, so that the others'
	 * answers overtake this replica's own durable write (a leader's 2a
	 * can then leave before its own promise and round are on disk). */
	if (on(w, B_ROUND_CRASH) && chance(w, 100))
		lat += 10 + rnd(w, 40);
	ev_new(w, w->now + lat, EV_SYNC, i);
}

static void db_schedule(struct world *w, int i, const struct pa_db_action *a, const struct px_update *u);

/* Carry out what a core asked for in its update. */
static void apply_update(struct world *w, int i)
{
	struct node *nd = &w->n[i];
	struct px_update *u = &nd->u;
	if (u->oom) {
		fprintf(stderr, "sim: core out of memory\n");
		exit(2);
	}
	if (u->enc_err)
		violation(w, "a core built a message that does not encode: %s", px_codec_strerror(u->enc_err));
	for (size_t k = 0; k < u->nrec; k++) {
		int rc = sdisk_append(nd->disk, u->arena + u->rec[k].off, u->rec[k].len);
		if (rc)
			violation(w, "coordinator.%d: append to the commit log failed (%d)", nd->idx, rc);
		if (!u->rec[k].lazy)
			nd->eager_upto = sdisk_appended(nd->disk);
	}
	/* The round's records are written now and synced later (EV_SYNC): a
	 * crash in between finds them on the disk, unsynced. */
	if (u->nrec) {
		int rc = sdisk_write(nd->disk);
		if (rc)
			violation(w, "coordinator.%d: write to the commit log failed (%d)", nd->idx, rc);
	}
	for (size_t k = 0; k < u->nnow; k++)
		net_send(w, i, u->now[k].to, u->arena + u->now[k].off, u->now[k].len);
	for (size_t k = 0; k < u->nheld; k++) {
		if (nd->nheld == nd->capheld) {
			nd->capheld = nd->capheld ? nd->capheld * 2 : 64;
			nd->held = realloc(nd->held, nd->capheld * sizeof(*nd->held));
			if (!nd->held)
				exit(2);
		}
		struct heldmsg *h = &nd->held[nd->nheld++];
		h->to = u->held[k].to;
		h->p = dup_bytes(u->arena + u->held[k].off, u->held[k].len);
		h->len = u->held[k].len;
		h->barrier = sdisk_appended(nd->disk);
		h->lazy = u->held[k].lazy;
	}
	for (size_t k = 0; k < u->ndb; k++)
		db_schedule(w, i, &u->db[k], u);
	uint64_t timer = u->timer;
	px_update_reset(u);
	release_held(w, i); /* those whose records are durable */
	if (nd->kind == K_REP)
		start_sync(w, i); /* for the rest, and for records that are not lazy */
	schedule_timer(w, i, timer);
}

/*
 * Checkpoint a replica's disk now and then: when everything is synced and
 * nothing is held, replace the whole log with the core's snapshot, as the
 * commit log's compaction does.  Later crashes then restart from it.
 */
static void maybe_checkpoint(struct world *w, int i)
{
	struct node *nd = &w->n[i];
	uint64_t logged = sdisk_appended(nd->disk) - sdisk_base(nd->disk);
	if (nd->syncing || sdisk_durable(nd->disk) < nd->eager_upto || nd->nheld ||
	    logged < (w->o.stress ? 8u : 64u) || !chance(w, w->o.stress ? 500 : 100))
		return;
	struct px_update snapu;
	px_update_init(&snapu);
	if (px_replica_snapshot(nd->rep, &snapu)) {
		fprintf(stderr, "sim: snapshot out of memory\n");
		exit(2);
	}
	int rc = sdisk_checkpoint(nd->disk, &snapu);
	if (rc)
		violation(w, "coordinator.%d: checkpoint failed (%d)", nd->idx, rc);
	nd->checkpoints++;
	w->res->checkpoints++;
	trace(w, "coordinator.%d checkpoint: log replaced by a %zu-record snapshot (%zu segments left)", nd->idx,
	      snapu.nrec, sdisk_segments(nd->disk));
	px_update_free(&snapu);
	if (w->faults_on && w->o.crash_replicas && chance(w, w->o.stress ? 500 : 100)) {
		/* ... and restart from that snapshot soon. */
		struct ev *ce = ev_new(w, w->now + rnd(w, 20), EV_CRASH, i);
		ce->inc = UINT32_MAX;
	}
}

static void rep_step(struct world *w, int i, struct px_event *ev)
{
	struct node *nd = &w->n[i];
	ev->now = clock_of(w, i);
	px_replica_step(nd->rep, ev, &nd->u);
	apply_update(w, i);
}

static void pa_step(struct world *w, int i, struct pa_event *ev)
{
	struct node *nd = &w->n[i];
	ev->now = clock_of(w, i);
	pa_core_step(nd->pa, ev, &nd->u);
	apply_update(w, i);
}

/* ------------------------------------------------ simulated PostgreSQL */

static struct pgtx *pg_take(struct node *a, struct px_str gid)
{
	struct pgtx *p = pg_get(a, gid);
	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		exit(2);
	px_key_set(&p->k, gid);
	if (px_map_put(&a->pg, p))
		exit(2);
	return p;
}

static void db_schedule(struct world *w, int i, const struct pa_db_action *a, const struct px_update *u)
{
	struct node *nd = &w->n[i];
	if (a->kind == PA_DB_CANCEL) {
		/* The running statement of the gid is cancelled, unless the cancel
		 * comes too late (half the time): it then fails when it ends. */
		for (struct dbact *o = nd->acts; o; o = o->next)
			if (!o->cancelled && o->kind == PA_DB_EXEC && o->gid_len == a->gid_len &&
			    !memcmp(o->gid, u->arena + a->gid_off, a->gid_len) && chance(w, 500))
				o->stop = 1;
		return;
	}
	struct dbact *d = calloc(1, sizeof(*d));
	if (!d)
		exit(2);
	d->kind = a->kind;
	d->token = a->token;
	if (a->kind != PA_DB_SCAN) {
		memcpy(d->gid, u->arena + a->gid_off, a->gid_len);
		d->gid_len = a->gid_len;
	}
	if (a->msg_len) {
		d->frame = dup_bytes(u->arena + a->msg_off, a->msg_len);
		d->flen = a->msg_len;
	}
	uint64_t lat = a->kind == PA_DB_PREPARE || a->kind == PA_DB_COMMIT_PREPARED ? 2 + rnd(w, 5) : 1 + rnd(w, 3);
	d->at = w->now + lat;
	/* One connection per gid runs its actions in order: a PREPARE
	 * pipelined behind a running statement completes after it. */
	for (struct dbact *o = nd->acts; o; o = o->next)
		if (!o->cancelled && o->kind == PA_DB_EXEC && o->gid_len == d->gid_len &&
		    !memcmp(o->gid, d->gid, d->gid_len) && o->at >= d->at)
			d->at = o->at + 1;
	d->next = nd->acts;
	nd->acts = d;
	struct ev *e = ev_new(w, d->at, EV_DB, i);
	e->act = d;
	/* Targeted: the agent restarts while its PREPARE runs. */
	if (d->kind == PA_DB_PREPARE && on(w, B_PREPARE_CRASH) && chance(w, 150)) {
		struct ev *ce = ev_new(w, w->now + rnd(w, d->at - w->now + 1), EV_CRASH, i);
		ce->inc = UINT32_MAX;
	}
}

/* Apply an action's effect on the database; returns its status. */
static uint8_t db_effect(struct world *w, int i, struct dbact *d, uint8_t *prepared, struct px_msg *result,
			 struct px_msg *exec)
{
	struct node *nd = &w->n[i];
	struct px_str gid = px_str_of(d->gid, d->gid_len);
	struct pgtx *p = d->kind == PA_DB_SCAN ? NULL : pg_get(nd, gid);
	char who[48];
	snprintf(who, sizeof(who), "participant.%d (database)", nd->idx);
	int lost = on(w, F_LOST_SESSION) && chance(w, 10);
	switch (d->kind) {
	case PA_DB_EXEC: {
		if (!exec || px_decode(d->frame, d->flen, exec) || exec->type != PX_MSG_EXEC) {
			violation(w, "agent handed a bad EXEC frame to the database");
			return PA_DB_FAILED;
		}
		if (!p) {
			p = pg_take(nd, gid);
		} else if (p->state == PG_ABORTED && p->sess_lost && !p->was_prepared) {
			/* As a driver does that takes any session for it: a new
			 * session, a new BEGIN, without the statements before. */
			trace(w, "  participant.%d: %s runs on a new session (a new BEGIN)", nd->idx, p->k.s);
			p->state = PG_OPEN;
			p->stmts = 0;
			p->failed = 0;
			p->sess_lost = 0;
		} else if (p->state == PG_LEFT) {
			violation(w, "isolation: a statement of %s ran outside its transaction block on participant %d "
				     "(the agent carried on after a statement left it)",
				  p->k.s, nd->idx);
			return PA_DB_FAILED;
		} else if (p->state != PG_OPEN) {
			return PA_DB_FAILED;
		}
		if (p->state == 0)
			p->state = PG_OPEN;
		result->type = PX_MSG_EXEC_RESULT;
		memset(&result->u.exec_result, 0, sizeof(result->u.exec_result));
		result->u.exec_result.req = exec->u.exec.req;
		result->u.exec_result.gid = gid;
		if (lost) {
			p->state = PG_ABORTED; /* the session died with the connection */
			p->sess_lost = 1;
			return PA_DB_LOST;
		}
		if (on(w, F_LEAVE_BLOCK) && chance(w, 40)) {
			/* The statement ended the block (a COMMIT or ROLLBACK the
			 * refusal missed); the driver sees the transaction state
			 * PostgreSQL reports and fails the statement. */
			p->state = PG_LEFT;
			w->res->cov[COV_LEFT_BLOCK]++;
			result->u.exec_result.status = PX_EXEC_ERROR;
			result->u.exec_result.reason = px_str_of("the statement ended the transaction block", 41);
			return PA_DB_FAILED;
		}
		if (d->stop) {
			p->failed = 1;
			result->u.exec_result.status = PX_EXEC_SQLERR;
			result->u.exec_result.sqlstate = px_str_of("57014", 5);
			result->u.exec_result.reason = px_str_of("canceling statement due to user request", 39);
			return PA_DB_FAILED;
		}
		if (p->failed || (exec->u.exec.sql.len == 4 && !memcmp(exec->u.exec.sql.p, "fail", 4))) {
			p->failed = 1;
			result->u.exec_result.status = PX_EXEC_SQLERR;
			result->u.exec_result.sqlstate = px_str_of("23505", 5);
			result->u.exec_result.reason = px_str_of("duplicate key", 13);
			return PA_DB_FAILED;
		}
		p->stmts++;
		result->u.exec_result.status = PX_EXEC_OK;
		return PA_DB_OK;
	}
	case PA_DB_PREPARE:
		if (p && p->state == PG_LEFT) {
			/* PREPARE TRANSACTION outside a block prepares nothing:
			 * PostgreSQL warns and tags it ROLLBACK, and the driver
			 * reads the tag (agent_main.c): failed. */
			p->state = PG_ABORTED;
			return PA_DB_FAILED;
		}
		if (!p || p->state != PG_OPEN)
			return PA_DB_FAILED;
		if (p->failed || chance(w, 50)) { /* e.g. a deferred constraint fails */
			p->state = PG_ABORTED;
			return PA_DB_FAILED;
		}
		if (lost) {
			if (chance(w, 500)) {
				p->state = PG_PREPARED;
				p->was_prepared = 1;
			} else {
				p->state = PG_ABORTED;
				p->sess_lost = 1;
			}
			return PA_DB_LOST;
		}
		p->state = PG_PREPARED;
		p->was_prepared = 1;
		return PA_DB_OK;
	case PA_DB_COMMIT_PREPARED:
	case PA_DB_ROLLBACK_PREPARED: {
		if (!p || p->state != PG_PREPARED)
			return PA_DB_FAILED;
		int commit = d->kind == PA_DB_COMMIT_PREPARED;
		if (lost && chance(w, 500))
			return PA_DB_LOST; /* not applied */
		struct truth *tr = truth_get(w, gid);
		if (commit && tr && p->stmts != tr->ok_stmts[nd->idx])
			violation(w, "atomicity: %s commits on participant %d with %u statements, its client saw %u succeed",
				  tr->k.s, nd->idx, p->stmts, tr->ok_stmts[nd->idx]);
		claim(w, gid, commit ? PX_OUT_COMMIT : PX_OUT_ABORT, who);
		p->state = commit ? PG_COMMITTED : PG_ABORTED;
		return lost ? PA_DB_LOST : PA_DB_OK;
	}
	case PA_DB_ROLLBACK:
		if (p && (p->state == PG_OPEN || p->state == PG_LEFT))
			p->state = PG_ABORTED;
		return PA_DB_OK;
	case PA_DB_CHECK:
		*prepared = p && p->state == PG_PREPARED;
		return lost ? PA_DB_LOST : PA_DB_OK;
	case PA_DB_SCAN:
		return PA_DB_OK;
	}
	return PA_DB_FAILED;
}

static void unlink_act(struct node *nd, struct dbact *d)
{
	for (struct dbact **pp = &nd->acts; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			return;
		}
}

/* Fault: the session of one open transaction with no action running ends
 * (backend terminated, idle_in_transaction_session_timeout): PostgreSQL
 * rolls it back, and the driver tells the agent's core. */
static void lose_idle_session(struct world *w, int i)
{
	struct node *nd = &w->n[i];
	size_t pos = 0;
	struct pgtx *p;
	while ((p = px_map_next(&nd->pg, &pos))) {
		if (p->state != PG_OPEN)
			continue;
		int busy = 0;
		for (struct dbact *o = nd->acts; o && !busy; o = o->next)
			busy = !o->cancelled && o->gid_len == p->k.len && !memcmp(o->gid, p->k.s, p->k.len);
		if (busy)
			continue;
		p->state = PG_ABORTED;
		p->sess_lost = 1;
		w->res->cov[COV_LOST_SESSION]++;
		struct pa_event ev = {.kind = PA_EV_LOST, .gid = px_str_of(p->k.s, p->k.len),
				      .reason = px_str_of("terminated", 10)};
		pa_step(w, i, &ev);
		return;
	}
}

static void on_db_done(struct world *w, int i, struct dbact *d)
{
	struct node *nd = &w->n[i];
	unlink_act(nd, d);
	if (d->cancelled) {
		free(d->frame);
		free(d);
		return;
	}
	struct px_msg *result = calloc(1, sizeof(*result)), *exec = calloc(1, sizeof(*exec));
	if (!result || !exec)
		exit(2);
	uint8_t prepared = 0;
	uint8_t st = db_effect(w, i, d, &prepared, result, exec);
	struct pa_event ev = {.kind = PA_EV_DB, .token = d->token, .status = st, .prepared = prepared};
	/* Half the time the gid is given (the daemons' way), half the time the
	 * core searches by token: both paths stay tested. */
	if (d->kind != PA_DB_SCAN && (d->token & 1))
		ev.gid = px_str_of(d->gid, d->gid_len);
	if (d->kind == PA_DB_EXEC && result->type == PX_MSG_EXEC_RESULT && st != PA_DB_LOST)
		ev.result = result;
	struct px_str *gids = NULL;
	if (d->kind == PA_DB_SCAN) {
		gids = malloc(sizeof(*gids) * (nd->pg.n + 1));
		if (!gids)
			exit(2);
		size_t pos = 0;
		struct pgtx *p;
		while ((p = px_map_next(&nd->pg, &pos)))
			if (p->state == PG_PREPARED)
				gids[ev.ngids++] = px_str_of(p->k.s, p->k.len);
		ev.gids = gids;
	}
	pa_step(w, i, &ev);
	free(gids);
	free(result);
	free(exec);
	free(d->frame);
	free(d);
	if (on(w, F_LOST_SESSION) && chance(w, 20))
		lose_idle_session(w, i);
}

/* -------------------------------------------------------------- clients */

static void client_wake(struct world *w, int i, uint64_t at)
{
	struct node *nd = &w->n[i];
	nd->c.wake = at;
	ev_new(w, at, EV_CLIENT, i);
}

static void client_send(struct world *w, int i, struct px_addr to, const struct px_msg *m)
{
	uint8_t buf[2048];
	size_t len;
	if (px_encode(m, buf, sizeof(buf), &len)) {
		violation(w, "client: encode failed");
		return;
	}
	net_send(w, i, to, buf, (uint32_t)len);
}

static void client_exec(struct world *w, int i, uint16_t rm)
{
	struct client *c = &w->n[i].c;
	struct px_msg m = {.type = PX_MSG_EXEC};
	m.u.exec.req = ++c->req;
	m.u.exec.gid = px_str_of(c->tr->k.s, c->tr->k.len);
	m.u.exec.stmt = c->stmt[rm]++;
	c->outstanding[rm] = m.u.exec.req;
	int fail = chance(w, 30);
	m.u.exec.sql = fail ? px_str_of("fail", 4) : px_str_of("update accounts", 15);
	/* Now and then a client that waits only a moment for the result: the
	 * agent cancels the statement and rolls back at that deadline. */
	if (!c->tr->exec_commit && chance(w, 20))
		m.u.exec.timeout_ms = (uint32_t)(1 + rnd(w, 4));
	c->todo[rm]--;
	if (c->tr->exec_commit)
		c->tr->ok_stmts[rm]++; /* committing means it succeeded */
	client_send(w, i, px_addr_of(PX_NODE_AGENT, rm), &m);
}

static void client_commit(struct world *w, int i);

static void client_begin(struct world *w, int i)
{
	struct node *nd = &w->n[i];
	struct client *c = &nd->c;
	if (c->done >= w->o.txns && !(w->o.gray && w->now < w->gray_heal_at)) {
		c->state = C_DONE;
		return;
	}
	struct truth *tr = calloc(1, sizeof(*tr));
	if (!tr)
		exit(2);
	char gid[200];
	/* XA-style (docs/client-api.md "XA-style transactions"): the client runs its
	 * statements and PREPARE on the databases itself and votes for them. */
	tr->xa = chance(w, 200);
	size_t glen = (tr->xa ? px_gid_make_xa : px_gid_make)(gid, sizeof(gid), "sim", clock_of(w, i), c->id, ++c->seq);
	if (!glen)
		exit(2);
	px_key_set(&tr->k, px_str_of(gid, (uint32_t)glen));
	/* A random non-empty participant set, ascending. */
	int want = 1 + (int)rnd(w, (uint64_t)(w->M < 3 ? w->M : 3));
	uint8_t pick[9] = {0};
	while (tr->pset.n < want) {
		uint16_t rm = (uint16_t)(1 + rnd(w, (uint64_t)w->M));
		if (!pick[rm]) {
			pick[rm] = 1;
			tr->pset.n++;
		}
	}
	tr->pset.n = 0;
	for (uint16_t rm = 1; rm <= w->M; rm++)
		if (pick[rm])
			tr->pset.rm[tr->pset.n++] = rm;
	tr->wait = chance(w, 700) ? PX_WAIT_APPLIED : PX_WAIT_DECIDED;
	tr->rollback = chance(w, 80);
	if (px_map_put(&w->truths, tr))
		exit(2);
	c->tr = tr;
	c->state = C_EXEC;
	c->begin = w->now;
	c->failed = 0;
	c->pending = 0;
	c->polls = 0;
	c->asked_rollback = 0;
	c->acked = 0;
	c->ack_outcome = 0;
	/* As pc_exec_commit does: one statement per participant, sent with
	 * the PREPAREs and the commit request, results not awaited. */
	tr->exec_commit = !tr->xa && !tr->rollback && chance(w, 300);
	w->res->txns++;
	trace(w, "client.%d begins %s%s", nd->idx, tr->k.s, tr->xa ? " (XA)" : "");
	memset(c->xa_got, 0, sizeof(c->xa_got));
	if (tr->xa) {
		/* One statement per participant on the client's own session,
		 * then PREPARE, whose results come at C_XPREP's wake. */
		tr->wait = PX_WAIT_DECIDED; /* the client applies the outcome */
		for (uint16_t k = 0; k < tr->pset.n; k++) {
			struct pgtx *p = pg_take(agent_node(w, tr->pset.rm[k]), px_str_of(tr->k.s, tr->k.len));
			p->state = PG_OPEN;
			p->stmts = 1;
			tr->ok_stmts[tr->pset.rm[k]] = 1;
		}
		c->state = C_XPREP;
		client_wake(w, i, w->now + 1 + rnd(w, 5));
		return;
	}
	/* Statements run one at a time per participant, in parallel across them. */
	memset(c->stmt, 0, sizeof(c->stmt));
	for (uint16_t k = 0; k < tr->pset.n; k++) {
		c->todo[tr->pset.rm[k]] = tr->exec_commit ? 1 : (uint8_t)(1 + rnd(w, 2));
		c->pending++;
		client_exec(w, i, tr->pset.rm[k]);
	}
	if (tr->exec_commit) {
		c->pending = 0;
		client_commit(w, i);
		return;
	}
	c->deadline = w->now + 2000;
	client_wake(w, i, c->deadline);
}

static void client_request(struct world *w, int i)
{
	struct client *c = &w->n[i].c;
	struct truth *tr = c->tr;
	struct px_msg m;
	memset(&m, 0, sizeof(m));
	int defer = 0; /* no commit request yet (see below) */
	if (c->asked_rollback) {
		m.type = PX_MSG_ROLLBACK_REQ;
		m.u.rollback_req.req = ++c->req;
		m.u.rollback_req.gid = px_str_of(tr->k.s, tr->k.len);
		m.u.rollback_req.pset = tr->pset;
	}
	if (tr->xa) {
		/* The client's ballot-0 votes, as pc_xa_commit sends them: to a
		 * majority starting at the leader it knows, to every replica
		 * when asking again. */
		if (!c->asked) { /* as the library's xa_majority */
			int need = w->R / 2 + 1;
			c->xa_sent = 0;
			for (int pass = 0; pass < 2 && need; pass++)
				for (int k = 0; k < w->R && need; k++) {
					int r = (c->target + k) % w->R;
					int failed = c->no2b_at[r] && w->now - c->no2b_at[r] < 2000;
					if ((c->xa_sent & (1u << r)) || (pass == 0 && failed && k))
						continue;
					c->xa_sent |= (uint8_t)(1u << r);
					need--;
				}
		}
		uint8_t to = c->asked ? (uint8_t)((1u << w->R) - 1) : c->xa_sent;
		for (uint16_t k = 0; k < tr->pset.n; k++) {
			struct px_msg v = {.type = PX_MSG_2A};
			v.u.m2a.gid = px_str_of(tr->k.s, tr->k.len);
			v.u.m2a.rm = tr->pset.rm[k];
			v.u.m2a.bal = 0;
			v.u.m2a.val = c->xa_vote[tr->pset.rm[k]];
			v.u.m2a.pset = tr->pset;
			for (int r = 0; r < w->R; r++)
				if (to & (1u << r))
					client_send(w, i, px_addr_of(PX_NODE_REPLICA, (uint64_t)r), &v);
		}
		c->asked = 1;
		if (!c->asked_rollback) {
			m.type = PX_MSG_COMMIT_REQ;
			m.u.commit_req.req = ++c->req;
			m.u.commit_req.gid = px_str_of(tr->k.s, tr->k.len);
			m.u.commit_req.wait = PX_WAIT_DECIDED | PX_WAIT_PREPARE_SENT;
			m.u.commit_req.pset = tr->pset;
		}
	} else if (!c->asked_rollback) {
		m.type = PX_MSG_COMMIT_REQ;
		m.u.commit_req.req = ++c->req;
		m.u.commit_req.gid = px_str_of(tr->k.s, tr->k.len);
		m.u.commit_req.wait = tr->wait;
		m.u.commit_req.pset = tr->pset;
		/* As the client library does: every participant ran our
		 * statements and acks here, so the leader need not answer an
		 * applied commit; asking again, the client wants the answer. */
		if (tr->wait == PX_WAIT_APPLIED && !c->asked && chance(w, 2))
			m.u.commit_req.wait |= PX_WAIT_ACKS_TO_CLIENT;
		/* As the library's pc_exec_commit with wait=applied does: the
		 * participants have PREPARE from the client and ack to it, so
		 * the first commit request waits until the acks are late (the
		 * leader decides from the votes alone). */
		defer = tr->exec_commit && tr->wait == PX_WAIT_APPLIED && !c->asked && chance(w, 2);
		c->asked = 1;
		if (tr->exec_commit || chance(w, 500)) {
			/* As the client library does: PREPARE straight to the
			 * participants, in parallel with the commit request,
			 * which says so (the leader then holds its own). */
			m.u.commit_req.wait |= PX_WAIT_PREPARE_SENT;
			struct px_msg p = {.type = PX_MSG_PREPARE};
			p.u.prepare.gid = m.u.commit_req.gid;
			p.u.prepare.pset = tr->pset;
			if (tr->exec_commit && tr->wait == PX_WAIT_APPLIED && chance(w, 2))
				p.u.prepare.abort = PX_PREPARE_LATE_RESULTS; /* as the library does */
			for (uint16_t k = 0; k < tr->pset.n; k++)
				client_send(w, i, px_addr_of(PX_NODE_AGENT, tr->pset.rm[k]), &p);
		}
	}
	c->sent = (uint8_t)!defer;
	if (!defer)
		for (int r = 0; r < w->R; r++)
			if (r == c->target ||
			    (c->fanout && !(c->silent_at[r] && w->now - c->silent_at[r] < SIM_SILENT_MS)))
				client_send(w, i, px_addr_of(PX_NODE_REPLICA, (uint64_t)r), &m);
	/* A silent replica is given up for the next after this long: as the
	 * client library's patience in gray mode (a leader deposed by check
	 * quorum is known to be within about lease + 2 heartbeats). */
	c->next_send = w->now + (defer ? 200 : w->o.gray ? w->lease_ms + 2 * w->hb_ms : 300);
	client_wake(w, i, c->next_send);
}

static void client_commit(struct world *w, int i)
{
	struct client *c = &w->n[i].c;
	c->asked_rollback = (uint8_t)(c->failed || c->tr->rollback);
	c->asked = 0;
	c->redirect = 0; /* a redirect was for the last transaction's request */
	c->fanout = 0;
	c->state = C_COMMIT;
	c->deadline = w->now + CLIENT_DEADLINE_MS;
	client_request(w, i);
}

static void client_next(struct world *w, int i)
{
	struct client *c = &w->n[i].c;
	c->done++;
	c->state = C_IDLE;
	client_wake(w, i, w->now + 1 + rnd(w, 20));
}

/* 1 if an ABORTED answer was the workload's own choice: the client asked
 * to roll back, or a participant (or an XA-style client for it) voted
 * aborted, which is chosen at ballot 0.  Not an abort by recovery. */
static int abort_by_choice(struct world *w, const struct client *c)
{
	if (c->asked_rollback)
		return 1;
	const struct truth *tr = c->tr;
	for (uint16_t k = 0; k < tr->pset.n; k++) {
		struct insttrack *it = inst_track(w, px_str_of(tr->k.s, tr->k.len), tr->pset.rm[k], 0);
		if (it && it->chosen == PX_VAL_ABORTED && it->chosen_bal == 0)
			return 1;
	}
	return 0;
}

/* Gray mode: an outcome answered (COMMITTED or ABORTED: the workload
 * rolls back on purpose too, and a transaction caught by the fault may be
 * aborted).  The stall of the current fault is the longest time without
 * one, counted from the fault's start.  gray_end also fails a fault whose
 * answers were aborts by recovery and no commit (a cluster that aborts
 * what it cannot finish, quickly, answers without deciding anything); a
 * client whose every transaction in the fault rolled back or had a
 * participant vote aborted is not that. */
/* A seed takes some 50,000 events (a stress seed a few times that): one
 * that takes this many is in a storm, which would otherwise run for ever
 * (5 replicas, seed 1305, before the leader took each relayed vote once). */
#define SIM_STEP_LIMIT 5000000u

/* Where the stall that ends now began: the last counted outcome, or the
 * fault's start.  A fault that counts one agent's or one client's
 * transactions only starts the clock no earlier than the begin of the
 * transaction waiting (begin): a time when none of those was in flight
 * is the workload's gap, not a stall (seed 3458: no transaction of the
 * cut agent began for 345 ms). */
static uint64_t gray_from(const struct world *w, uint64_t begin)
{
	uint64_t from = w->last_commit > w->gray_start ? w->last_commit : w->gray_start;
	if ((w->gray_agent || w->gray_client >= 0) && begin > from)
		from = begin;
	return from;
}

static void gray_answer(struct world *w, int i, int committed)
{
	if (!w->gray_on || (w->gray_client >= 0 && i != w->gray_client))
		return;
	if (w->gray_agent && !px_pset_has(&w->n[i].c.tr->pset, w->gray_agent))
		return;
	w->gray_commits += committed != 0;
	if (committed && w->n[i].c.begin >= w->gray_start + GRAY_SETTLE(w)) {
		w->gray_late_n++;
		w->gray_late_ms += w->now - w->n[i].c.begin;
		w->gray_late_slow += w->now - w->n[i].c.begin >= w->resend_ms;
	}
	w->gray_forced_aborts += !committed && !abort_by_choice(w, &w->n[i].c);
	uint64_t from = gray_from(w, w->n[i].c.begin);
	if (w->now - from > w->gray_stall)
		w->gray_stall = w->now - from;
	w->last_commit = w->now;
}

static void client_answer(struct world *w, int i, uint8_t status)
{
	struct client *c = &w->n[i].c;
	struct truth *tr = c->tr;
	tr->answered = status;
	trace(w, "client.%d answer %s for %s", w->n[i].idx,
	      status == PX_ST_COMMITTED ? "COMMITTED" : status == PX_ST_ABORTED ? "ABORTED" : "UNKNOWN", tr->k.s);
	if (status == PX_ST_COMMITTED) {
		w->res->committed++;
		gray_answer(w, i, 1);
		if (c->asked_rollback)
			violation(w, "client truth: %s asked to roll back but got COMMITTED", tr->k.s);
		if (tr->wait == PX_WAIT_APPLIED)
			for (uint16_t k = 0; k < tr->pset.n; k++) {
				struct pgtx *p = pg_get(&w->n[w->R + tr->pset.rm[k] - 1], px_str_of(tr->k.s, tr->k.len));
				if (!p || p->state != PG_COMMITTED)
					violation(w, "client truth: %s COMMITTED with wait=applied, not yet committed on participant %u",
						  tr->k.s, tr->pset.rm[k]);
			}
	} else if (status == PX_ST_ABORTED) {
		w->res->aborted++;
		gray_answer(w, i, 0);
	} else {
		w->res->unknown++;
	}
}

/* A client dies (its process ends); it restarts later with new gids. */
static void client_die(struct world *w, int i)
{
	struct node *nd = &w->n[i];
	struct client *c = &nd->c;
	trace(w, "client.%d dies", nd->idx);
	if (c->tr && c->tr->xa && c->state != C_DONE)
		w->res->cov[COV_XA_DIE]++;
	if (c->state == C_XPREP)
		/* Its sessions close: an open transaction rolls back, unless
		 * its PREPARE was already on the way. */
		for (uint16_t k = 0; k < c->tr->pset.n; k++) {
			struct pgtx *p = pg_get(agent_node(w, c->tr->pset.rm[k]), px_str_of(c->tr->k.s, c->tr->k.len));
			if (p && p->state == PG_OPEN) {
				int prep = chance(w, 500);
				p->state = prep ? PG_PREPARED : PG_ABORTED;
				p->was_prepared |= (uint8_t)prep;
			}
		}
	c->state = C_DEAD;
	nd->inc++;
	struct ev *e = ev_new(w, w->now + 200 + rnd(w, 1500), EV_RESTART, i);
	e->inc = nd->inc;
}

/* Targeted: an XA-style client dies at any of its steps (open, prepared,
 * voted, decided, part applied). */
static int xa_dies(struct world *w, int i)
{
	struct client *c = &w->n[i].c;
	return on(w, B_XA_DIE) && c->tr && c->tr->xa && c->state != C_DONE && c->state != C_DEAD && chance(w, 120);
}

/* XA-style: the client applies the outcome on its own sessions and acks
 * for each participant; now and then it leaves one (as if it died), for
 * the agents to finish from the leader's DECISION. */
static int xa_apply(struct world *w, int i, uint8_t outcome)
{
	struct node *nd = &w->n[i];
	struct client *c = &nd->c;
	struct truth *tr = c->tr;
	struct px_str gid = px_str_of(tr->k.s, tr->k.len);
	char who[48];
	snprintf(who, sizeof(who), "client.%d (XA)", nd->idx);
	for (uint16_t k = 0; k < tr->pset.n; k++) {
		uint16_t rm = tr->pset.rm[k];
		struct pgtx *p = pg_get(agent_node(w, rm), gid);
		if (outcome == PX_OUT_COMMIT && (!p || (p->state != PG_PREPARED && p->state != PG_COMMITTED)))
			violation(w, "validity: %s told COMMIT for %s, but participant %u is not prepared", who, tr->k.s, rm);
		if (chance(w, 100))
			continue; /* left to the agents */
		if (xa_dies(w, i)) {
			client_die(w, i); /* part applied */
			return 1;
		}
		if (p && p->state == PG_PREPARED) {
			if (outcome == PX_OUT_COMMIT && p->stmts != tr->ok_stmts[rm])
				violation(w, "atomicity: %s commits on participant %u with %u statements, its client ran %u",
					  tr->k.s, rm, p->stmts, tr->ok_stmts[rm]);
			claim(w, gid, outcome, who);
			p->state = outcome == PX_OUT_COMMIT ? PG_COMMITTED : PG_ABORTED;
		}
		struct px_msg a = {.type = PX_MSG_DECISION_ACK};
		a.u.decision_ack.gid = gid;
		a.u.decision_ack.rm = rm;
		a.u.decision_ack.outcome = outcome;
		client_send(w, i, px_addr_of(PX_NODE_REPLICA, c->target), &a);
	}
	return 0;
}

/* XA-style: PREPARE's results on the client's own sessions; then the votes. */
static void xa_prepared(struct world *w, int i)
{
	struct client *c = &w->n[i].c;
	struct truth *tr = c->tr;
	for (uint16_t k = 0; k < tr->pset.n; k++) {
		uint16_t rm = tr->pset.rm[k];
		struct pgtx *p = pg_get(agent_node(w, rm), px_str_of(tr->k.s, tr->k.len));
		if (!tr->rollback && p && p->state == PG_OPEN && !chance(w, 50)) {
			p->state = PG_PREPARED;
			p->was_prepared = 1;
			c->xa_vote[rm] = PX_VAL_PREPARED;
		} else {
			if (p && p->state == PG_OPEN)
				p->state = PG_ABORTED; /* a failed PREPARE rolls back */
			c->xa_vote[rm] = PX_VAL_ABORTED;
			c->failed = 1;
		}
	}
	client_commit(w, i);
}

/* The client has its outcome: ask once more by status, then move on. */
static void client_decided(struct world *w, int i, uint8_t status)
{
	struct client *c = &w->n[i].c;
	if (c->tr->xa && status == PX_ST_COMMITTED) {
		/* as pc_xa_decide: leave a replica that failed to 2b out of the
		 * next first votes for a while */
		for (int r = 0; r < w->R; r++)
			if (c->xa_sent & (1u << r))
				c->no2b_at[r] = c->xa_got[r] == (uint16_t)((1u << c->tr->pset.n) - 1) ? 0 : w->now;
	}
	if (c->tr->xa && xa_apply(w, i, status_outcome(status)))
		return;
	client_answer(w, i, status);
	c->state = C_POLL;
	c->polls = 2;
	client_wake(w, i, w->now + 1);
}

/* A refusal for clock skew of a gid some client began: every clock here is
 * within the bound of every other, so none may come. */
static void check_skew_refusal(struct world *w, const struct px_msg *m)
{
	struct px_str gid = {0}, why = {0};
	if (m->type == PX_MSG_EXEC_RESULT && m->u.exec_result.status == PX_EXEC_ERROR) {
		gid = m->u.exec_result.gid;
		why = m->u.exec_result.reason;
	} else if (m->type == PX_MSG_OUTCOME && m->u.outcome.status == PX_ST_ERROR) {
		gid = m->u.outcome.gid;
		why = m->u.outcome.reason;
	}
	char r[256];
	snprintf(r, sizeof(r), "%.*s", (int)why.len, why.p ? why.p : "");
	if (gid.len && truth_get(w, gid) && strstr(r, "ms ahead of this"))
		violation(w, "clock skew: %.*s refused, though its client's clock is within the bound: %s", (int)gid.len,
			  gid.p, r);
}

static void client_on_msg(struct world *w, int i, struct px_addr from, const struct px_msg *m)
{
	struct node *nd = &w->n[i];
	struct client *c = &nd->c;
	struct truth *tr = c->tr;
	check_skew_refusal(w, m);
	if (!tr)
		return;
	if (m->type == PX_MSG_EXEC_RESULT && c->state == C_EXEC && px_str_eq(m->u.exec_result.gid, px_str_of(tr->k.s, tr->k.len))) {
		if (from.kind != PX_NODE_AGENT || from.id < 1 || from.id > 8 ||
		    m->u.exec_result.req != c->outstanding[from.id])
			return; /* a duplicate, or a reply to something else */
		c->outstanding[from.id] = 0;
		if (m->u.exec_result.status != PX_EXEC_OK) {
			c->failed = 1;
			c->todo[from.id] = 0;
		} else {
			tr->ok_stmts[from.id]++;
		}
		if (c->todo[from.id]) {
			client_exec(w, i, (uint16_t)from.id);
			return;
		}
		c->pending--;
		if (c->pending == 0)
			client_commit(w, i);
		return;
	}
	if (m->type == PX_MSG_DECISION_ACK && c->state == C_COMMIT && tr->wait == PX_WAIT_APPLIED &&
	    !c->asked_rollback && from.kind == PX_NODE_AGENT && from.id == m->u.decision_ack.rm &&
	    px_str_eq(m->u.decision_ack.gid, px_str_of(tr->k.s, tr->k.len))) {
		/* As the client library does: an ack from every participant is
		 * the outcome, applied everywhere. */
		uint8_t oc = m->u.decision_ack.outcome;
		if (oc != PX_OUT_COMMIT && oc != PX_OUT_ABORT)
			return;
		if (c->ack_outcome && c->ack_outcome != oc)
			violation(w, "agreement: %s acknowledged as %u and as %u by participants", tr->k.s, c->ack_outcome, oc);
		c->ack_outcome = oc;
		for (uint16_t k = 0; k < tr->pset.n; k++)
			if (tr->pset.rm[k] == from.id)
				c->acked |= (uint16_t)(1u << k);
		if (c->acked == (uint16_t)((1u << tr->pset.n) - 1))
			client_decided(w, i, oc == PX_OUT_COMMIT ? PX_ST_COMMITTED : PX_ST_ABORTED);
		return;
	}
	if (m->type == PX_MSG_2B && tr->xa && c->state == C_COMMIT && !c->asked_rollback &&
	    from.kind == PX_NODE_REPLICA && from.id < (uint64_t)w->R && px_str_eq(m->u.m2b.gid, px_str_of(tr->k.s, tr->k.len))) {
		/* As pc_xa_commit does (Faster Paxos Commit): `prepared`
		 * accepted at ballot 0 for every participant by a majority of
		 * acceptors is a commit. */
		const struct px_m2b *b = &m->u.m2b;
		if (b->bal != 0 || b->val != PX_VAL_PREPARED || !(b->flags & PX_ACC_OK))
			return;
		for (uint16_t k = 0; k < tr->pset.n; k++)
			if (tr->pset.rm[k] == b->rm)
				c->xa_got[from.id] |= (uint16_t)(1u << k);
		int maj = 0;
		for (int r = 0; r < w->R; r++)
			maj += c->xa_got[r] == (uint16_t)((1u << tr->pset.n) - 1);
		if (maj >= w->R / 2 + 1)
			client_decided(w, i, PX_ST_COMMITTED);
		return;
	}
	if (m->type != PX_MSG_OUTCOME || !px_str_eq(m->u.outcome.gid, px_str_of(tr->k.s, tr->k.len)))
		return;
	uint8_t st = m->u.outcome.status;
	if (from.kind == PX_NODE_REPLICA && from.id < PX_REPLICAS_MAX) {
		c->silent_at[from.id] = 0; /* it answers again */
		c->fanout = 0;
	}
	if (c->state == C_COMMIT) {
		switch (st) {
		case PX_ST_COMMITTED:
		case PX_ST_ABORTED:
			client_decided(w, i, st);
			break;
		case PX_ST_UNKNOWN_GID:
			client_answer(w, i, 0);
			client_next(w, i);
			break;
		case PX_ST_NOT_LEADER: {
			uint8_t named = m->u.outcome.leader;
			if (named < w->R && from.kind == PX_NODE_REPLICA && c->silent_at[named] &&
			    w->now - c->silent_at[named] < SIM_SILENT_MS)
				c->target = (uint8_t)from.id;
			else
				c->target = named < w->R ? named : (uint8_t)((c->target + 1) % w->R);
			c->redirect = 1;
			c->next_send = w->now + 20;
			client_wake(w, i, c->next_send);
			break;
		}
		case PX_ST_BUSY:
			c->redirect = 1;
			c->next_send = w->now + 200;
			client_wake(w, i, c->next_send);
			break;
		case PX_ST_ERROR:
			violation(w, "client: error reply for %s: %.*s", tr->k.s, (int)m->u.outcome.reason.len,
				  m->u.outcome.reason.p);
			break;
		default:
			break;
		}
	}
}

static void client_tick(struct world *w, int i)
{
	struct node *nd = &w->n[i];
	struct client *c = &nd->c;
	if (w->now < c->wake)
		return;
	if ((w->faults_on && chance(w, w->p_die)) || xa_dies(w, i)) {
		client_die(w, i);
		return;
	}
	switch (c->state) {
	case C_IDLE:
		client_begin(w, i);
		break;
	case C_XPREP:
		xa_prepared(w, i);
		break;
	case C_EXEC:
		if (w->now >= c->deadline) { /* exec results lost: roll back */
			c->failed = 1;
			client_commit(w, i);
		}
		break;
	case C_COMMIT:
		if (w->now >= c->deadline) {
			client_answer(w, i, 0);
			c->state = C_POLL;
			c->polls = 4;
			client_wake(w, i, w->now + 1);
		} else if (w->now >= c->next_send) {
			if (!c->redirect && c->sent) {
				/* as the library: only a request sent and not
				 * answered makes its target silent (a deferred one,
				 * PC_DECIDE_ASK_LATER, was never sent) */
				c->silent_at[c->target] = w->now;
				c->target = (uint8_t)((c->target + 1) % w->R);
				c->fanout = 1;
			}
			c->redirect = 0;
			client_request(w, i);
		}
		break;
	case C_POLL:
		if (c->polls-- <= 0) {
			client_next(w, i);
			break;
		}
		for (int r = 0; r < w->R; r++) {
			struct px_msg m = {.type = PX_MSG_STATUS_REQ};
			m.u.status_req.req = ++c->req;
			m.u.status_req.gid = px_str_of(c->tr->k.s, c->tr->k.len);
			client_send(w, i, px_addr_of(PX_NODE_REPLICA, (uint64_t)r), &m);
		}
		/* gray mode: a steady stream of commits, so that a stall shows */
		client_wake(w, i, w->now + (w->o.gray ? 20 : 300));
		break;
	default:
		break;
	}
}

/* ------------------------------------------------------ crash / restart */

static struct px_replica_config rep_cfg(struct world *w, int id)
{
	struct px_replica_config cfg = {
		.id = (uint8_t)id,
		.n = (uint8_t)w->R,
		.heartbeat_ms = w->hb_ms,
		.lease_ms = w->lease_ms,
		.txn_timeout_ms = w->timeout_ms,
		.resend_ms = w->resend_ms,
		.sync_ms = 1500,
		.horizon_ms = 6000,
		.max_live = 10000,
		.max_future_ms = SIM_MAX_FUTURE_MS,
		.rms = w->rms,
		.nrms = (uint16_t)w->M,
		.log = core_log,
		.log_ctx = w,
	};
	return cfg;
}

static void node_start(struct world *w, int i)
{
	struct node *nd = &w->n[i];
	char nb[32];
	nd->up = 1;
	nd->timer_at = 0;
	px_update_init(&nd->u);
	trace(w, "%s starts", node_name(w, i, nb, sizeof(nb)));
	nd->restarted = nd->inc > 0;
	if (nd->kind == K_REP) {
		struct px_replica_config cfg = rep_cfg(w, nd->idx);
		nd->rep = px_replica_new(&cfg);
		if (!nd->rep)
			exit(2);
		if (!nd->disk && !(nd->disk = sdisk_new()))
			exit(2);
		const struct px_str *recs = NULL;
		size_t nrecs = 0;
		char err[300];
		if (sdisk_open(nd->disk, &recs, &nrecs, err, sizeof(err))) {
			violation(w, "coordinator.%d cannot recover its commit log: %s", nd->idx, err);
			nd->up = 0;
			return;
		}
		if (sdisk_violation(nd->disk))
			violation(w, "coordinator.%d: commit log recovery: %s", nd->idx, sdisk_violation(nd->disk));
		nd->eager_upto = sdisk_appended(nd->disk);
		struct px_event ev = {.kind = PX_EV_START, .recs = recs, .nrecs = nrecs};
		ev.now = clock_of(w, i);
		if (px_replica_step(nd->rep, &ev, &nd->u))
			violation(w, "coordinator.%d cannot restart from its log", nd->idx);
		apply_update(w, i);
	} else if (nd->kind == K_AGENT) {
		struct pa_config cfg = {
			.rm = (uint16_t)nd->idx,
			.nreplicas = (uint8_t)w->R,
			.idle_timeout_ms = 3000,
			.resend_ms = 200,
			.scan_ms = 2000,
			.max_open = 1000,
			.remember_ms = 6000,
			.skew_ms = SIM_MAX_FUTURE_MS,
			.max_future_ms = SIM_MAX_FUTURE_MS,
			.log = core_log,
			.log_ctx = w,
		};
		nd->pa = pa_core_new(&cfg);
		if (!nd->pa)
			exit(2);
		struct pa_event ev = {.kind = PA_EV_START};
		pa_step(w, i, &ev);
	} else {
		nd->c.id = rng_next(&w->rng);
		nd->c.seq = 0;
		nd->c.tr = NULL;
		nd->c.target = (uint8_t)rnd(w, (uint64_t)w->R);
		nd->c.state = C_IDLE;
		/* Clients come once the cluster is up (agents refuse gids born
		 * before they started, see pa_config.remember_ms). */
		client_wake(w, i, w->now + (w->now ? 0 : 500) + rnd(w, 50));
	}
}

static void node_crash(struct world *w, int i)
{
	struct node *nd = &w->n[i];
	char nb[32];
	if (!nd->up)
		return;
	trace(w, "%s CRASHES", node_name(w, i, nb, sizeof(nb)));
	w->res->crashes++;
	nd->up = 0;
	nd->inc++;
	if (nd->kind == K_REP) {
		const struct px_replica_stats *st = px_replica_stats(nd->rep);
		w->res->recoveries += st->recoveries;
		w->res->leader_changes += st->leader_changes;
		w->res->forgotten += st->forgotten;
		w->res->cov[COV_GIVE_UP] += st->give_ups;
		w->res->cov[COV_CLIENT_ASKED] += st->client_asked;
		px_replica_destroy(&nd->rep);
		if (sdisk_crash(nd->disk, rng_next(&w->rng))) /* unsynced writes: lost, torn, reordered */
			exit(2);
		nd->syncing = 0;
		nd->dfr_pending = 0;
		for (size_t k = 0; k < nd->nheld; k++)
			free(nd->held[k].p);
		nd->nheld = 0;
	} else if (nd->kind == K_AGENT) {
		w->res->presumed_aborts += pa_core_stats(nd->pa)->presumed_aborts;
		w->res->cov[COV_AMBIGUOUS] += pa_core_stats(nd->pa)->ambiguous;
		for (struct dbact *d = nd->acts; d; d = d->next)
			if (!d->cancelled && d->kind == PA_DB_PREPARE)
				w->res->cov[COV_PREPARE_CRASH]++;
		pa_core_destroy(&nd->pa);
		/* Statements in flight either reached the database or not. */
		for (struct dbact *d = nd->acts; d; d = d->next) {
			if (!d->cancelled && chance(w, 500)) {
				uint8_t prepared;
				struct px_msg *r = calloc(1, sizeof(*r)), *x = calloc(1, sizeof(*x));
				if (!r || !x)
					exit(2);
				db_effect(w, i, d, &prepared, r, x);
				free(r);
				free(x);
			}
			d->cancelled = 1;
		}
		/* The sessions die: open transactions roll back. */
		size_t pos = 0;
		struct pgtx *p;
		while ((p = px_map_next(&nd->pg, &pos)))
			if (p->state == PG_OPEN || p->state == PG_LEFT) {
				p->state = PG_ABORTED;
				p->sess_lost = 1;
			}
	}
	px_update_free(&nd->u);
	struct ev *e = ev_new(w, w->now + 50 + rnd(w, 2500), EV_RESTART, i);
	e->inc = nd->inc;
}

/* -------------------------------------------------------------- faults */

static void schedule_faults(struct world *w)
{
	/* Crashes and partitions at random times in the fault window. */
	for (int i = 0; i < w->R + w->M; i++) {
		if (w->n[i].kind == K_REP && (!w->o.crash_replicas || !(w->swarm & F_CRASH_REP)))
			continue;
		if (w->n[i].kind == K_AGENT && !(w->swarm & F_CRASH_AGENT))
			continue;
		uint64_t t = rnd(w, FAULT_MS);
		int k = 0;
		while (t < FAULT_MS && k++ < 4) {
			if (chance(w, w->p_crash)) {
				struct ev *e = ev_new(w, t, EV_CRASH, i);
				e->inc = UINT32_MAX; /* whatever incarnation is up */
			}
			t += 500 + rnd(w, FAULT_MS / 2);
		}
	}
	uint64_t t = rnd(w, 1000);
	while (t < FAULT_MS) {
		if (chance(w, w->p_part))
			ev_new(w, t, EV_PART, -1);
		t += 300 + rnd(w, 2000);
	}
	/* Half the seeds: a client sends messages for gids born far ahead. */
	if ((w->swarm & F_FUTURE) && chance(w, 500))
		for (int k = (int)rnd(w, 4); k >= 0; k--)
			ev_new(w, rnd(w, FAULT_MS), EV_FUTURE, w->R + w->M + (int)rnd(w, (uint64_t)w->C));
}

/* A client (buggy, or with a clock days ahead) sends messages for two gids
 * born far beyond the bound ahead of every clock: PREPARE to every agent, a
 * commit or rollback request and an XA-style vote to every replica.  They
 * must leave nothing anywhere (final_checks): not a txn, not a tombstone. */
static void future_gids(struct world *w, int i)
{
	if (w->nfuture + 2 > FUTURE_MAX)
		return;
	uint64_t birth = clock_of(w, i) + 86400000ULL * (1 + rnd(w, 10000)), id = rng_next(&w->rng);
	char *g = w->future[w->nfuture++], *gx = w->future[w->nfuture++];
	if (!px_gid_make(g, 200, "sim", birth, id, 1) || !px_gid_make_xa(gx, 200, "sim", birth, id, 2))
		exit(2);
	struct px_pset ps = {0};
	for (uint16_t rm = 1; rm <= w->M && rm <= 3; rm++)
		ps.rm[ps.n++] = rm;
	trace(w, "client.%d sends future-born gids %s and %s", w->n[i].idx, g, gx);
	struct px_msg m = {.type = PX_MSG_PREPARE};
	m.u.prepare.gid = px_str_of(g, (uint32_t)strlen(g));
	m.u.prepare.pset = ps;
	for (uint16_t k = 0; k < ps.n; k++)
		client_send(w, i, px_addr_of(PX_NODE_AGENT, ps.rm[k]), &m);
	for (int r = 0; r < w->R; r++) {
		struct px_addr to = px_addr_of(PX_NODE_REPLICA, (uint64_t)r);
		if (chance(w, 500)) {
			m = (struct px_msg){.type = PX_MSG_COMMIT_REQ};
			m.u.commit_req.gid = px_str_of(g, (uint32_t)strlen(g));
			m.u.commit_req.wait = PX_WAIT_DECIDED;
			m.u.commit_req.pset = ps;
		} else {
			m = (struct px_msg){.type = PX_MSG_ROLLBACK_REQ};
			m.u.rollback_req.gid = px_str_of(g, (uint32_t)strlen(g));
			m.u.rollback_req.pset = ps;
		}
		client_send(w, i, to, &m);
		m = (struct px_msg){.type = PX_MSG_2A};
		m.u.m2a.gid = px_str_of(gx, (uint32_t)strlen(gx));
		m.u.m2a.rm = ps.rm[0];
		m.u.m2a.val = PX_VAL_PREPARED;
		m.u.m2a.pset = ps;
		client_send(w, i, to, &m);
	}
}

static void partition(struct world *w)
{
	int n = w->R + w->M + w->C;
	memset(w->blocked, 0, sizeof(w->blocked));
	int kind = (int)rnd(w, 3);
	if (kind == 0) { /* isolate one process, both ways */
		int v = (int)rnd(w, (uint64_t)n);
		for (int j = 0; j < n; j++)
			w->blocked[v][j] = w->blocked[j][v] = 1;
	} else if (kind == 1) { /* split the replicas in two groups */
		uint32_t side = (uint32_t)rnd(w, 1u << w->R);
		for (int a = 0; a < w->R; a++)
			for (int b = 0; b < w->R; b++)
				if (((side >> a) & 1) != ((side >> b) & 1))
					w->blocked[a][b] = 1;
	} else { /* one-way: some links drop in one direction only */
		for (int k = 0; k < 3; k++) {
			int a = (int)rnd(w, (uint64_t)n), b = (int)rnd(w, (uint64_t)n);
			w->blocked[a][b] = 1;
		}
	}
	w->res->partitions++;
	uint64_t dur = 100 + rnd(w, 2000);
	w->block_until = w->now + dur;
	trace(w, "PARTITION kind=%d for %" PRIu64 " ms", kind, dur);
	ev_new(w, w->block_until, EV_PART, -2);
}

/* ------------------------------------------------------------ gray mode */

/* Long faults that leave a connected majority with every participant and
 * client, one at a time (sim_opts.gray): each is aimed at the leader of the
 * moment, and commits must go on within the stated bound while it lasts. */
enum {
	G_LEADER_DEAF,          /* nothing reaches the leader; it still sends */
	G_LEADER_MUTE,          /* nothing the leader sends arrives; it still hears */
	G_LEADER_DEAF_REPLICAS, /* the leader hears no replica (clients, agents yes) */
	G_LEADER_MUTE_REPLICAS, /* no replica hears the leader */
	G_LEADER_TO_FOLLOWER,   /* one link leader -> follower cut */
	G_FOLLOWER_TO_LEADER,   /* one link follower -> leader cut */
	G_BRIDGE,               /* leader <-> one follower cut both ways */
	G_ISOLATE_LEADER,       /* the leader cut off both ways */
	G_ISOLATE_FOLLOWER,     /* one follower cut off both ways */
	G_AGENT_TO_LEADER,      /* one agent cannot send to the leader */
	G_LEADER_TO_AGENT,      /* the leader cannot send to one agent */
	G_CLIENT_TO_LEADER,     /* one client cannot send to the leader */
	G_LEADER_TO_CLIENT,     /* the leader cannot send to one client */
	G_CLIENT_CUT_LEADER,    /* one client and the leader cut both ways */
	G_CLIENT_MINORITY,      /* one client reaches one follower only (every agent still) */
	G_AGENT_MINORITY,       /* one agent reaches one follower only (every client still) */
	G_N
};
_Static_assert(G_N == SIM_GRAY_KINDS, "sim.h's SIM_GRAY_KINDS");
const char *const sim_gray_names[SIM_GRAY_KINDS] = {
	"leader-deaf", "leader-mute", "leader-deaf-to-replicas", "leader-mute-to-replicas", "leader-to-follower",
	"follower-to-leader", "bridge", "isolate-leader", "isolate-follower", "agent-to-leader", "leader-to-agent",
	"client-to-leader", "leader-to-client", "client-cut-leader", "client-minority", "agent-minority"};

/* The leader most up replicas trust (the lowest id if none is). */
static int gray_leader(struct world *w)
{
	int votes[8] = {0}, best = 0;
	for (int i = 0; i < w->R; i++)
		if (w->n[i].up) {
			uint8_t l = px_replica_leader(w->n[i].rep);
			if (l < w->R)
				votes[l]++;
		}
	for (int l = 1; l < w->R; l++)
		if (votes[l] > votes[best])
			best = l;
	return best;
}

static void gray_begin(struct world *w)
{
	int n = w->R + w->M + w->C, L = gray_leader(w);
	int f = (L + 1 + (int)rnd(w, (uint64_t)(w->R - 1))) % w->R; /* a follower */
	int a = w->R + (int)rnd(w, (uint64_t)w->M), c = w->R + w->M + (int)rnd(w, (uint64_t)w->C);
	int k = (int)rnd(w, G_N);
	memset(w->blocked, 0, sizeof(w->blocked));
	for (int j = 0; j < n; j++) {
		switch (k) {
		case G_LEADER_DEAF: w->blocked[j][L] = 1; break;
		case G_LEADER_MUTE: w->blocked[L][j] = 1; break;
		case G_LEADER_DEAF_REPLICAS: w->blocked[j][L] = j < w->R; break;
		case G_LEADER_MUTE_REPLICAS: w->blocked[L][j] = j < w->R; break;
		case G_ISOLATE_LEADER: w->blocked[j][L] = w->blocked[L][j] = 1; break;
		case G_ISOLATE_FOLLOWER: w->blocked[j][f] = w->blocked[f][j] = 1; break;
		default: break;
		}
	}
	if (k == G_LEADER_TO_FOLLOWER || k == G_BRIDGE)
		w->blocked[L][f] = 1;
	if (k == G_FOLLOWER_TO_LEADER || k == G_BRIDGE)
		w->blocked[f][L] = 1;
	if (k == G_AGENT_TO_LEADER)
		w->blocked[a][L] = 1;
	if (k == G_LEADER_TO_AGENT)
		w->blocked[L][a] = 1;
	if (k == G_CLIENT_TO_LEADER)
		w->blocked[c][L] = 1;
	if (k == G_LEADER_TO_CLIENT || k == G_CLIENT_CUT_LEADER)
		w->blocked[L][c] = 1;
	if (k == G_CLIENT_CUT_LEADER)
		w->blocked[c][L] = 1;
	for (int j = 0; k == G_CLIENT_MINORITY && j < w->R; j++)
		if (j != f)
			w->blocked[c][j] = w->blocked[j][c] = 1;
	for (int j = 0; k == G_AGENT_MINORITY && j < w->R; j++)
		if (j != f)
			w->blocked[a][j] = w->blocked[j][a] = 1;
	/* ... and one agent's on the commits of transactions it is in */
	w->gray_agent = k == G_AGENT_MINORITY ? (uint16_t)(a - w->R + 1) : 0;
	/* A fault of one client's links is measured on that client's commits
	 * (the others' would hide its stall). */
	w->gray_client =
		k == G_CLIENT_TO_LEADER || k == G_LEADER_TO_CLIENT || k == G_CLIENT_CUT_LEADER || k == G_CLIENT_MINORITY ? c : -1;
	for (int j = 0; j < n; j++)
		w->blocked[j][j] = 0;
	w->gray_on = 1;
	w->gray_kind = k;
	w->gray_target = L;
	w->gray_start = w->now;
	w->gray_stall = 0;
	w->gray_commits = 0;
	w->gray_forced_aborts = 0;
	w->gray_late_n = w->gray_late_ms = w->gray_late_slow = 0;
	w->res->gray_faults++;
	w->res->gray_by_kind[k]++;
	trace(w, "GRAY %s begins: leader coordinator.%d, follower coordinator.%d, participant.%d, client.%d",
	      sim_gray_names[k], L, f, a - w->R + 1, c - w->R - w->M);
}

/* The bound on a stall: the 2 x lease + resend, plus one
 * transaction's own time in the simulated cluster. */
static uint64_t gray_bound(const struct world *w)
{
	return 2ull * w->lease_ms + w->resend_ms + GRAY_SLACK_MS;
}

/* Does a gray fault of this kind depose the leader (check quorum)? */
static int gray_deposes(int k)
{
	return k == G_LEADER_DEAF || k == G_LEADER_MUTE || k == G_LEADER_DEAF_REPLICAS || k == G_LEADER_MUTE_REPLICAS ||
	       k == G_ISOLATE_LEADER;
}

static void gray_end(struct world *w)
{
	if (!w->gray_on)
		return;
	if (w->gray_agent || w->gray_client >= 0) {
		/* the counted transactions still waiting */
		for (int i = 0; i < w->nn; i++) {
			const struct client *c = &w->n[i].c;
			if (w->n[i].kind != K_CLIENT || !c->tr || c->state == C_IDLE || c->state == C_DONE ||
			    c->state == C_DEAD || (w->gray_client >= 0 && i != w->gray_client) ||
			    (w->gray_agent && !px_pset_has(&c->tr->pset, w->gray_agent)))
				continue;
			uint64_t from = gray_from(w, c->begin);
			if (w->now - from > w->gray_stall)
				w->gray_stall = w->now - from;
		}
	} else {
		uint64_t from = gray_from(w, 0);
		if (w->now - from > w->gray_stall)
			w->gray_stall = w->now - from;
	}
	uint64_t b = gray_bound(w);
	trace(w, "GRAY %s ends after %" PRIu64 " ms: longest stall %" PRIu64 " ms (bound %" PRIu64 ")",
	      sim_gray_names[w->gray_kind], w->now - w->gray_start, w->gray_stall, b);
	if (w->gray_stall > w->res->gray_stall_by_kind[w->gray_kind])
		w->res->gray_stall_by_kind[w->gray_kind] = w->gray_stall;
	/* as a fraction of the bound, so that seeds of different timing compare */
	uint32_t permille = (uint32_t)(w->gray_stall * 1000 / b);
	if (permille > w->res->gray_worst_permille)
		w->res->gray_worst_permille = permille;
	if (!w->gray_commits && w->gray_forced_aborts)
		violation(w, "liveness under a gray fault: %s (leader coordinator.%d): no commit in %" PRIu64
			     " ms, %" PRIu64 " aborted by recovery",
			  sim_gray_names[w->gray_kind], w->gray_target, w->now - w->gray_start, w->gray_forced_aborts);
	if (w->gray_stall > b)
		violation(w, "liveness under a gray fault: %s (leader coordinator.%d) stalled outcomes for %" PRIu64
			     " ms, more than 2 x lease_ms (%u) + resend_ms (%u) + %u",
			  sim_gray_names[w->gray_kind], w->gray_target, w->gray_stall, w->lease_ms, w->resend_ms,
			  GRAY_SLACK_MS);
	/* A fault that leaves the leader leading (a follower cut off, a link
	 * of the leader's to one follower, agent or client cut) must not slow
	 * commits down either, once those in flight at its start are through:
	 * e.g. votes sent first to a majority that includes a cut follower and
	 * to every replica only resend_ms later, or a PREPARE the leader cannot
	 * deliver sent through the followers only when it is sent again.  At
	 * most a quarter of the commits begun then may take resend_ms. */
	uint64_t mean = w->gray_late_n ? w->gray_late_ms / w->gray_late_n : 0;
	trace(w, "GRAY %s: %" PRIu64 " commits begun after %llu ms, mean %" PRIu64 " ms, %" PRIu64 " took resend_ms (%u) or more",
	      sim_gray_names[w->gray_kind], w->gray_late_n, (unsigned long long)GRAY_SETTLE(w), mean, w->gray_late_slow,
	      w->resend_ms);
	if (!gray_deposes(w->gray_kind) && w->gray_late_n >= 20 && w->gray_late_slow * 4 > w->gray_late_n)
		violation(w, "throughput under a gray fault: %s (leader coordinator.%d): %" PRIu64 " of the %" PRIu64
			     " commits begun %llu ms into it took resend_ms (%u) or more",
			  sim_gray_names[w->gray_kind], w->gray_target, w->gray_late_slow, w->gray_late_n,
			  (unsigned long long)GRAY_SETTLE(w), w->resend_ms);
	w->gray_on = 0;
	memset(w->blocked, 0, sizeof(w->blocked));
}

/* The schedule: GRAY_FAULTS faults, each long (many leases), with healed
 * gaps between them; returns when the last one ends. */
static uint64_t schedule_gray(struct world *w)
{
	uint64_t t = 1000 + rnd(w, 500);
	for (int k = 0; k < GRAY_FAULTS; k++) {
		uint64_t dur = 4ull * gray_bound(w) + rnd(w, 2000);
		struct ev *e = ev_new(w, t, EV_GRAY, -1);
		e->arg = 1;
		e = ev_new(w, t + dur, EV_GRAY, -1);
		e->arg = 0;
		t += dur + 500 + rnd(w, 1000);
	}
	return t;
}

/* ------------------------------------------------------------ the run */

static int settled(struct world *w)
{
	for (int i = 0; i < w->nn; i++) {
		struct node *nd = &w->n[i];
		if (!nd->up)
			return 0;
		if (nd->kind == K_CLIENT && nd->c.state != C_DONE)
			return 0;
		if (nd->kind == K_REP && px_replica_live(nd->rep))
			return 0;
		if (nd->kind == K_AGENT) {
			size_t pos = 0;
			struct pgtx *p;
			while ((p = px_map_next(&nd->pg, &pos)))
				if (p->state == PG_PREPARED)
					return 0;
		}
	}
	return 1;
}

static void final_checks(struct world *w)
{
	size_t pos = 0;
	struct truth *tr;
	while ((tr = px_map_next(&w->truths, &pos))) {
		struct px_str gid = px_str_of(tr->k.s, tr->k.len);
		int ncommit = 0, nprep = 0;
		for (uint16_t k = 0; k < tr->pset.n; k++) {
			struct pgtx *p = pg_get(&w->n[w->R + tr->pset.rm[k] - 1], gid);
			if (p && p->state == PG_COMMITTED)
				ncommit++;
			if (p && p->state == PG_PREPARED)
				nprep++;
		}
		if (nprep)
			violation(w, "in doubt: %s still prepared on %d participant(s) %u ms after healing", tr->k.s, nprep,
				  SETTLE_MS);
		if (ncommit && ncommit != tr->pset.n)
			violation(w, "atomicity: %s committed on %d of %u participants", tr->k.s, ncommit, tr->pset.n);
		if (ncommit && tr->learned != PX_OUT_COMMIT)
			violation(w, "atomicity: %s committed but its outcome is %u", tr->k.s, tr->learned);
		if (tr->answered == PX_ST_COMMITTED && ncommit != tr->pset.n)
			violation(w, "client truth: %s answered COMMITTED but committed on %d of %u", tr->k.s, ncommit,
				  tr->pset.n);
		if (tr->answered == PX_ST_ABORTED && ncommit)
			violation(w, "client truth: %s answered ABORTED but committed somewhere", tr->k.s);
	}
	for (int i = 0; i < w->nn; i++) {
		struct node *nd = &w->n[i];
		if (nd->kind == K_CLIENT && nd->c.state != C_DONE)
			violation(w, "liveness: client.%d did not finish (%d of %d done) within %u ms of healing", nd->idx,
				  nd->c.done, w->o.txns, SETTLE_MS);
		if (nd->kind == K_REP && nd->up && px_replica_live(nd->rep))
			violation(w, "liveness: coordinator.%d still holds %zu live gids %u ms after healing, e.g. %s",
				  nd->idx, px_replica_live(nd->rep), SETTLE_MS, px_replica_some_live(nd->rep));
		for (int k = 0; nd->kind == K_REP && nd->up && k < w->nfuture; k++)
			if (px_replica_knows(nd->rep, px_str_of(w->future[k], (uint32_t)strlen(w->future[k]))))
				violation(w, "future gid: coordinator.%d keeps state for %s, born far ahead of every clock",
					  nd->idx, w->future[k]);
	}
}

static void heal(struct world *w)
{
	trace(w, "HEAL: faults stop, crashed processes restart");
	w->faults_on = 0;
	memset(w->blocked, 0, sizeof(w->blocked));
	for (int i = 0; i < w->nn; i++) {
		struct node *nd = &w->n[i];
		if (!nd->up) {
			struct ev *e = ev_new(w, w->now, EV_RESTART, i);
			e->inc = nd->inc;
		}
	}
}

static void dispatch(struct world *w, struct ev *e)
{
	int i = e->node;
	struct node *nd = i < w->nn ? &w->n[i] : NULL;
	switch (e->type) {
	case EV_PART:
		if (e->node == (uint8_t)-1 && w->faults_on)
			partition(w);
		else if (w->now >= w->block_until)
			memset(w->blocked, 0, sizeof(w->blocked));
		return;
	case EV_CRASH:
		if (w->faults_on)
			node_crash(w, i);
		return;
	case EV_HEAL:
		heal(w);
		return;
	case EV_GRAY:
		if (e->arg)
			gray_begin(w);
		else
			gray_end(w);
		return;
	case EV_DB:
		if (nd->up)
			on_db_done(w, i, e->act);
		else
			unlink_act(nd, e->act), free(e->act->frame), free(e->act);
		e->act = NULL;
		return;
	case EV_RESTART:
		if (!nd->up && e->inc == nd->inc)
			node_start(w, i);
		else if (nd->kind == K_CLIENT && nd->c.state == C_DEAD && e->inc == nd->inc) {
			nd->c.done++; /* the abandoned transaction */
			node_start(w, i);
		}
		return;
	default:
		break;
	}
	if (!nd || !nd->up || e->inc != nd->inc)
		return;
	if (nd->kind == K_CLIENT && nd->c.state == C_DEAD)
		return;
	switch (e->type) {
	case EV_DELIVER: {
		struct px_msg *m = malloc(sizeof(*m));
		if (!m)
			exit(2);
		if (px_decode(e->data, e->len, m)) {
			violation(w, "codec: delivered frame does not decode");
		} else if (nd->kind == K_REP) {
			struct px_event ev = {.kind = PX_EV_MSG, .from = e->from, .msg = m};
			rep_step(w, i, &ev);
		} else if (nd->kind == K_AGENT) {
			struct pa_event ev = {.kind = PA_EV_MSG, .from = e->from, .msg = m};
			pa_step(w, i, &ev);
		} else {
			client_on_msg(w, i, e->from, m);
		}
		free(m);
		break;
	}
	case EV_TIMER:
		if (e->arg != nd->timer_at)
			break;
		nd->timer_at = 0;
		if (nd->kind == K_REP) {
			struct px_event ev = {.kind = PX_EV_TIMER};
			rep_step(w, i, &ev);
		} else if (nd->kind == K_AGENT) {
			struct pa_event ev = {.kind = PA_EV_TIMER};
			pa_step(w, i, &ev);
		}
		break;
	case EV_SYNC: {
		if (e->arg == 1)
			nd->dfr_pending = 0; /* the deadline of deferred messages */
		else
			nd->syncing = 0;
		int fault = 0;
		if (w->faults_on && w->o.crash_replicas && chance(w, w->p_disk_fault))
			fault = chance(w, 500) ? EIO : ENOSPC;
		if (sdisk_sync(nd->disk, fault)) {
			if (!fault)
				violation(w, "coordinator.%d: commit log sync failed without a fault", nd->idx);
			/* A failed fsync is not retried: fail-stop, restart from disk. */
			trace(w, "coordinator.%d: fsync fails (%s): stops and restarts from its log", nd->idx,
			      fault == EIO ? "EIO" : "ENOSPC");
			w->res->disk_faults++;
			node_crash(w, i);
			break;
		}
		struct px_event ev = {.kind = PX_EV_PERSISTED,
				      .seq = sdisk_durable(nd->disk) - sdisk_base(nd->disk)};
		release_held(w, i);
		rep_step(w, i, &ev);
		start_sync(w, i);
		maybe_checkpoint(w, i);
		break;
	}
	case EV_CLIENT:
		client_tick(w, i);
		break;
	case EV_FUTURE:
		if (w->faults_on)
			future_gids(w, i);
		break;
	default:
		break;
	}
}

static void cleanup(struct world *w)
{
	for (size_t k = 0; k < w->nheap; k++) {
		if (w->heap[k]->type == EV_DB && w->heap[k]->act) {
			free(w->heap[k]->act->frame);
			free(w->heap[k]->act);
		}
		ev_free(w->heap[k]);
	}
	free(w->heap);
	for (int i = 0; i < w->nn; i++) {
		struct node *nd = &w->n[i];
		if (nd->rep) {
			const struct px_replica_stats *st = px_replica_stats(nd->rep);
			w->res->recoveries += st->recoveries;
			w->res->leader_changes += st->leader_changes;
			w->res->forgotten += st->forgotten;
			w->res->cov[COV_GIVE_UP] += st->give_ups;
			w->res->cov[COV_CLIENT_ASKED] += st->client_asked;
		}
		if (nd->pa) {
			w->res->presumed_aborts += pa_core_stats(nd->pa)->presumed_aborts;
			w->res->cov[COV_AMBIGUOUS] += pa_core_stats(nd->pa)->ambiguous;
		}
		if (nd->disk) {
			struct sdisk_stats ds;
			sdisk_stats(nd->disk, &ds);
			w->res->torn_writes += ds.torn_writes;
			w->res->reorders += ds.reorders;
			w->res->torn_tails += ds.torn_tails;
			w->res->crc_cuts += ds.crc_cuts;
			w->res->reorder_cuts += ds.reorder_cuts;
		}
		px_replica_destroy(&nd->rep);
		pa_core_destroy(&nd->pa);
		if (nd->up)
			px_update_free(&nd->u);
		sdisk_free(&nd->disk);
		for (size_t k = 0; k < nd->nheld; k++)
			free(nd->held[k].p);
		free(nd->held);
		size_t pos = 0;
		struct pgtx *p;
		while ((p = px_map_next(&nd->pg, &pos)))
			free(p);
		px_map_free(&nd->pg); /* in-flight actions were freed with the heap */
	}
	size_t pos = 0;
	struct truth *tr;
	while ((tr = px_map_next(&w->truths, &pos)))
		free(tr);
	px_map_free(&w->truths);
	pos = 0;
	struct insttrack *it;
	while ((it = px_map_next(&w->insts, &pos)))
		free(it);
	px_map_free(&w->insts);
}

int sim_run(const struct sim_opts *o, struct sim_result *res)
{
	struct world *w = calloc(1, sizeof(*w));
	if (!w)
		return -1;
	memset(res, 0, sizeof(*res));
	w->o = *o;
	w->res = res;
	w->rng = o->seed * 0x2545F4914F6CDD1DULL + 1;
	w->R = o->replicas;
	w->M = o->participants;
	w->C = o->clients;
	w->nn = w->R + w->M + w->C;
	if (w->nn > MAXNODES || w->M > 8 || w->R > 5 || w->R < 1) {
		free(w);
		return -1;
	}
	for (int k = 0; k < w->M; k++)
		w->rms[k] = (uint16_t)(k + 1);
	px_map_init(&w->truths);
	px_map_init(&w->insts);
	w->faults_on = o->faults && !o->gray;
	/* Each seed gets its own timing, and fault intensities from calm to
	 * stormy. */
	w->hb_ms = 20 + (uint32_t)rnd(w, 100);
	w->lease_ms = w->hb_ms * (2 + (uint32_t)rnd(w, 5));
	w->timeout_ms = 100 + (uint32_t)rnd(w, 1400);
	w->resend_ms = 50 + (uint32_t)rnd(w, 250);
	w->disk_ms = 1 + (uint32_t)rnd(w, 3);
	if (o->stress) {
		w->disk_ms = 1 + (uint32_t)rnd(w, 20);
		/* Recovery storms: leaders start phase 1 while the votes are
		 * still in flight, and leadership flaps. */
		w->hb_ms = 5 + (uint32_t)rnd(w, 20);
		w->lease_ms = w->hb_ms * 2 + (uint32_t)rnd(w, 10);
		w->timeout_ms = 5 + (uint32_t)rnd(w, 60);
		w->resend_ms = 5 + (uint32_t)rnd(w, 40);
	}
	if (o->faults && !o->gray) {
		/* Swarm: a quarter of the seeds use every fault kind, the
		 * others each kind with even odds. */
		if (chance(w, 250))
			w->swarm = (1u << F_NKINDS) - 1;
		else
			for (unsigned k = 0; k < F_NKINDS; k++)
				if (chance(w, 500))
					w->swarm |= 1u << k;
		w->p_drop = (unsigned)rnd(w, o->stress ? 300 : 150);
		w->p_dup = (unsigned)rnd(w, 100);
		w->p_delay = (unsigned)rnd(w, 150);
		w->p_crash = (unsigned)rnd(w, 700);
		w->p_part = (unsigned)rnd(w, 700);
		w->p_die = (unsigned)rnd(w, 30);
		w->p_crash_send = (unsigned)rnd(w, o->stress ? 30 : 5);
		w->p_disk_fault = (unsigned)rnd(w, 10);
		if (!(w->swarm & F_DROP))
			w->p_drop = 0;
		if (!(w->swarm & F_DUP))
			w->p_dup = 0;
		if (!(w->swarm & F_DELAY))
			w->p_delay = 0;
		if (!(w->swarm & F_PART))
			w->p_part = 0;
		if (!(w->swarm & F_CLIENT_DIE))
			w->p_die = 0;
		if (!(w->swarm & F_CRASH_SEND))
			w->p_crash_send = 0;
		if (!(w->swarm & F_DISK))
			w->p_disk_fault = 0;
	}
	res->swarm = w->swarm;
	for (int i = 0; i < w->nn; i++) {
		struct node *nd = &w->n[i];
		nd->kind = i < w->R ? K_REP : i < w->R + w->M ? K_AGENT : K_CLIENT;
		nd->idx = i < w->R ? i : i < w->R + w->M ? i - w->R + 1 : i - w->R - w->M;
		nd->skew = 1000000 + rnd(w, 200); /* clocks differ by up to 200 ms */
		px_map_init(&nd->pg);
	}
	/* Client 0's clock runs ahead of every replica's and agent's by just
	 * under the bound: its gids must fare as the others'. */
	uint64_t slowest = UINT64_MAX;
	for (int i = 0; i < w->R + w->M; i++)
		if (w->n[i].skew < slowest)
			slowest = w->n[i].skew;
	w->n[w->R + w->M].skew = slowest + SIM_MAX_FUTURE_MS - 1;
	if (o->trace && o->faults) {
		char kinds[512] = "";
		for (unsigned k = 0; k < F_NKINDS; k++)
			if (w->swarm & (1u << k))
				snprintf(kinds + strlen(kinds), sizeof(kinds) - strlen(kinds), " %s", fault_names[k]);
		trace(w, "faults of this seed:%s", kinds);
	}
	for (int i = 0; i < w->nn; i++)
		node_start(w, i);
	uint64_t heal_at = o->faults ? FAULT_MS : 0;
	if (o->gray) {
		heal_at = w->gray_heal_at = schedule_gray(w);
	} else if (o->faults) {
		schedule_faults(w);
		ev_new(w, heal_at, EV_HEAL, -1);
	}
	uint64_t end = heal_at + SETTLE_MS;
	uint64_t next_settle_check = 0, steps0 = res->steps;
	struct ev *e;
	while ((e = ev_pop(w))) {
		if (e->t > end) {
			if (e->type == EV_DB && e->act) { /* cleanup frees only the heap's */
				free(e->act->frame);
				free(e->act);
			}
			ev_free(e);
			break;
		}
		w->now = e->t;
		res->steps++;
		dispatch(w, e);
		ev_free(e);
		if (res->steps - steps0 > SIM_STEP_LIMIT) {
			violation(w, "message storm: %" PRIu64 " events by t=%" PRIu64 " ms and the seed goes on "
				     "(messages or timers that beget each other); stopped",
				  res->steps - steps0, w->now);
			break;
		}
		if (!w->faults_on && w->now >= heal_at && w->now >= next_settle_check) {
			next_settle_check = w->now + 50;
			if (settled(w))
				break;
		}
	}
	res->end_time = w->now;
	res->settle_time = w->now > heal_at ? w->now - heal_at : 0;
	final_checks(w);
	cleanup(w);
	res->cov[COV_PRESUMED] = res->presumed_aborts;
	free(w);
	return res->violations ? 1 : 0;
}
