/*
 * pc_coord.c - the client library's side of the coordinators: leader
 * finding, commit / rollback requests with a deadline, status.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "paxcommit.h"
#include "pc_internal.h"
#include "px_config.h"
#include "px_gid.h"
#include "px_msg.h"
#include "px_net.h"

uint64_t pc_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t pc_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int pc_fail(struct pc_conn *c, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return code;
}

static uint64_t random_id(void)
{
	uint64_t v = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
			v = 0;
		close(fd);
	}
	if (!v) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		v = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)getpid() ^ ((uint64_t)ts.tv_sec << 40);
	}
	return v;
}

/*
 * One ZeroMQ context (one I/O thread) for every connection of a process:
 * with many connections in many threads, one I/O thread sends and receives
 * several of their messages per wakeup, where a context per connection
 * would wake one thread per message.  The context is created by the first
 * pc_connect and ended by the last pc_conn_close (of the same process: a
 * forked child starts its own, as a ZeroMQ context must not cross fork).
 */
static pthread_mutex_t g_zmu = PTHREAD_MUTEX_INITIALIZER;
static void *g_zctx;
static unsigned g_zrefs;
static pid_t g_zpid;

static void *zctx_get(void)
{
	pthread_mutex_lock(&g_zmu);
	if (g_zctx && g_zpid != getpid()) { /* inherited across fork: not ours to use or end */
		g_zctx = NULL;
		g_zrefs = 0;
	}
	if (!g_zctx) {
		g_zctx = zmq_ctx_new();
		g_zpid = getpid();
	}
	void *z = g_zctx;
	if (z)
		g_zrefs++;
	pthread_mutex_unlock(&g_zmu);
	return z;
}

static void zctx_put(void *z)
{
	pthread_mutex_lock(&g_zmu);
	int last = z == g_zctx && --g_zrefs == 0;
	if (last)
		g_zctx = NULL;
	pthread_mutex_unlock(&g_zmu);
	if (last)
		zmq_ctx_term(z);
}

int pc_connect(const char *config_path, struct pc_conn **out, char *err, size_t errcap)
{
	*out = NULL;
	struct pc_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		if (errcap)
			snprintf(err, errcap, "out of memory");
		return PC_ENOMEM;
	}
	c->leader = -1;
	c->real_leader = -1;
	if (px_config_load(config_path, &c->cfg, err, errcap)) {
		free(c);
		return PC_ECONFIG;
	}
	c->zctx = zctx_get();
	if (!c->zctx) {
		if (errcap)
			snprintf(err, errcap, "zmq_ctx_new: %s", zmq_strerror(zmq_errno()));
		pc_conn_close(&c);
		return PC_ENET;
	}
	if (px_keyring_load(&c->keys, &c->cfg, px_addr_of(PX_NODE_CLIENT, 0), NULL, err, errcap)) {
		pc_conn_close(&c);
		return PC_ECONFIG;
	}
	struct px_net_config nc = {.self = px_addr_of(PX_NODE_CLIENT, 0), .bind = NULL, .hwm = 1000, .queue_unconnected = 1,
				   .keys = &c->keys};
	if (px_net_new(c->zctx, &nc, &c->net, err, errcap)) {
		pc_conn_close(&c);
		return PC_ENET;
	}
	for (uint8_t i = 0; i < c->cfg.ncoord; i++)
		if (px_net_add_peer(c->net, px_addr_of(PX_NODE_REPLICA, i), c->cfg.coord[i].endpoint, err, errcap)) {
			pc_conn_close(&c);
			return PC_ENET;
		}
	for (uint16_t i = 0; i < c->cfg.npart; i++)
		if (px_net_add_peer(c->net, px_addr_of(PX_NODE_AGENT, c->cfg.part[i].id), c->cfg.part[i].endpoint, err,
				    errcap)) {
			pc_conn_close(&c);
			return PC_ENET;
		}
	c->items_cap = (size_t)c->cfg.ncoord + c->cfg.npart;
	c->items = calloc(c->items_cap, sizeof(*c->items));
	if (!c->items) {
		pc_conn_close(&c);
		return PC_ENOMEM;
	}
	c->exec_timeout_ms = 30000;
	c->commit_timeout_ms = 30000;
	/* With CURVE the replicas and agents take a client's gids only with
	 * its key id in them (px_auth.h). */
	c->client_id = c->keys.curve ? px_key_id(c->keys.pub) : random_id();
	c->seq = random_id() >> 16; /* 48 random bits: see pc_internal.h */
	*out = c;
	return PC_OK;
}

void pc_conn_close(struct pc_conn **cp)
{
	struct pc_conn *c = *cp;
	if (!c)
		return;
	px_net_destroy(&c->net);
	free(c->items);
	if (c->zctx)
		zctx_put(c->zctx);
	px_keyring_free(&c->keys);
	px_config_free(&c->cfg);
	free(c);
	*cp = NULL;
}

const char *pc_conn_errmsg(const struct pc_conn *c)
{
	return c ? c->err : "no connection";
}

const char *pc_cluster_name(const struct pc_conn *c)
{
	return c->cfg.name;
}

uint16_t pc_participant_id(const struct pc_conn *c, const char *name)
{
	const struct px_config_part *p = px_config_part_by_name(&c->cfg, name);
	return p ? p->id : 0;
}

size_t pc_new_gid(struct pc_conn *c, char *buf, size_t cap)
{
	return px_gid_make(buf, cap, c->cfg.name, pc_wall_ms(), c->client_id, ++c->seq);
}

size_t pc_new_gid_xa(struct pc_conn *c, char *buf, size_t cap)
{
	return px_gid_make_xa(buf, cap, c->cfg.name, pc_wall_ms(), c->client_id, ++c->seq);
}

static int send_msg(struct pc_conn *c, int replica, const struct px_msg *m)
{
	uint8_t buf[2048];
	size_t len;
	int e = px_encode(m, buf, sizeof(buf), &len);
	if (e)
		return pc_fail(c, PC_EINVAL, "cannot encode request: %s", px_codec_strerror(e));
	/* Batched: the request rides in one message with frames queued for
	 * the same replica (an XA-style commit's votes). */
	px_net_batch(c->net, px_addr_of(PX_NODE_REPLICA, (uint64_t)replica), buf, len);
	px_net_flush(c->net);
	return 0;
}

/* Queue the XA-style votes of c->votes for the replicas in mask. */
static void queue_votes_to(struct pc_conn *c, unsigned mask)
{
	for (int r = 0; r < c->cfg.ncoord; r++) {
		if (!(mask & (1u << r)))
			continue;
		struct px_addr to = px_addr_of(PX_NODE_REPLICA, (uint64_t)r);
		size_t off = 0;
		const uint8_t *f;
		size_t fl;
		while (px_net_split(c->votes, c->votes_len, &off, &f, &fl) == 1)
			px_net_batch(c->net, to, f, fl);
	}
}

/* Decision acks of one wait=applied commit: the agents send them to the
 * client that ran the statements as well as to the replicas. */
struct acks {
	const struct px_pset *ps;
	uint64_t mask;   /* pset indexes that acknowledged */
	uint8_t outcome; /* what they acknowledged */
	uint8_t off;     /* two outcomes acknowledged (agreement broken): wait for the leader */
};

/* Count one decision ack; 1 once every participant acknowledged one outcome. */
static int ack_in(struct acks *ak, struct px_addr from, const struct px_mdecision_ack *a, const char *gid, size_t glen)
{
	if (ak->off || from.kind != PX_NODE_AGENT || from.id != a->rm || a->gid.len != glen ||
	    memcmp(a->gid.p, gid, glen) || (a->outcome != PX_OUT_COMMIT && a->outcome != PX_OUT_ABORT))
		return 0;
	for (uint16_t i = 0; i < ak->ps->n; i++)
		if (ak->ps->rm[i] == a->rm) {
			if (ak->mask && ak->outcome != a->outcome) {
				ak->off = 1;
				return 0;
			}
			ak->outcome = a->outcome;
			ak->mask |= 1ull << i;
		}
	return ak->ps->n && ak->mask == (1ull << ak->ps->n) - 1; /* n <= PX_PSET_MAX (32) */
}

/* Wait until a reply arrives or `until` (monotonic ms).  Returns 1 and the
 * decoded OUTCOME for gid (views into the transport's buffer, valid until
 * the next call), 2 when every participant acknowledged one outcome to us
 * (ak, when given, then holds it), 0 on timeout, or a PC_E* code. */
static int wait_outcome(struct pc_conn *c, const char *gid, uint64_t until, struct px_msg *m, int *from,
			struct acks *ak)
{
	size_t glen = strlen(gid);
	for (;;) {
		struct px_addr fa;
		const uint8_t *data;
		size_t len;
		int r;
		while ((r = px_net_recv(c->net, &fa, &data, &len)) == 1) {
			size_t off = 0;
			const uint8_t *frame;
			size_t flen;
			while (px_net_split(data, len, &off, &frame, &flen) == 1) {
				if (px_decode(frame, flen, m))
					continue;
				if (m->type == PX_MSG_VOTE && fa.kind == PX_NODE_AGENT && fa.id == m->u.vote.rm &&
				    m->u.vote.val == PX_VAL_ABORTED && m->u.vote.reason.len && !c->vote_why[0] &&
				    m->u.vote.gid.len == glen && !memcmp(m->u.vote.gid.p, gid, glen)) {
					const struct px_config_part *p = px_config_part_by_id(&c->cfg, m->u.vote.rm);
					snprintf(c->vote_why, sizeof(c->vote_why), "participant %s: %.*s", p ? p->name : "?",
						 (int)m->u.vote.reason.len, m->u.vote.reason.p);
					continue;
				}
				if (m->type == PX_MSG_DECISION_ACK && ak) {
					if (ack_in(ak, fa, &m->u.decision_ack, gid, glen))
						return 2;
					continue;
				}
				if (m->type != PX_MSG_OUTCOME) {
					if (c->side)
						c->side(c->side_ctx, fa, m);
					if (c->side_done)
						return 3;
					continue;
				}
				if (m->u.outcome.gid.len != glen || memcmp(m->u.outcome.gid.p, gid, glen))
					continue; /* a late reply about an earlier gid */
				*from = (int)fa.id;
				return 1;
			}
		}
		if (r < 0 && errno != EINTR)
			return pc_fail(c, PC_ENET, "receive: %s", zmq_strerror(errno));
		if (pc_mono_ms() >= until)
			return 0;
		int e = pc_poll(c, until);
		if (e)
			return e;
	}
}

int pc_poll(struct pc_conn *c, uint64_t until)
{
	uint64_t now = pc_mono_ms();
	if (now >= until)
		return 0;
	/* the peers sent to so far (px_net_pollitems); nothing else can answer */
	size_t n = px_net_pollitems(c->net, c->items, c->items_cap);
	if (zmq_poll(c->items, (int)n, (long)(until - now)) < 0) {
		if (zmq_errno() != EINTR)
			return pc_fail(c, PC_ENET, "zmq_poll: %s", zmq_strerror(zmq_errno()));
		return 0;
	}
	px_net_polled(c->net, c->items, n);
	return 0;
}

static void copy_reason(struct pc_result *res, const struct px_moutcome *o)
{
	size_t l = o->reason.len > PC_REASON_MAX ? PC_REASON_MAX : o->reason.len;
	memcpy(res->reason, o->reason.p, l);
	res->reason[l] = 0;
}

static int make_pset(struct pc_conn *c, const uint16_t *rms, size_t nrms, struct px_pset *ps)
{
	if (!rms || nrms == 0 || nrms > PX_PSET_MAX)
		return pc_fail(c, PC_EINVAL, "a transaction needs 1..%u participants, not %zu", PX_PSET_MAX, nrms);
	ps->n = 0;
	for (size_t i = 0; i < nrms; i++) {
		/* insertion sort: small sets */
		size_t j = ps->n;
		while (j > 0 && ps->rm[j - 1] > rms[i]) {
			ps->rm[j] = ps->rm[j - 1];
			j--;
		}
		if (j > 0 && ps->rm[j - 1] == rms[i])
			return pc_fail(c, PC_EINVAL, "participant %u named twice", rms[i]);
		ps->rm[j] = rms[i];
		ps->n++;
	}
	return 0;
}

static int check_gid(struct pc_conn *c, const char *gid)
{
	uint64_t birth;
	size_t plen;
	size_t glen = gid ? strlen(gid) : 0;
	if (!gid || px_gid_parse(gid, glen, &birth, &plen) || plen != strlen(c->cfg.name) ||
	    memcmp(gid, c->cfg.name, plen))
		return pc_fail(c, PC_EINVAL, "'%s' is not a gid of cluster %s", gid ? gid : "(null)", c->cfg.name);
	return 0;
}

/* 1 if replica i failed to answer us within the last PC_SILENT_MS. */
static int recently_silent(const struct pc_conn *c, int i)
{
	return c->silent_at[i] && pc_mono_ms() - c->silent_at[i] < PC_SILENT_MS;
}

/* Commit (abort == 0) or roll back, with retries; see paxcommit.h. */
/* Clear res and c's error; check gid and the participants into *ps. */
/* Where to send the next request, once `via` answered (or took) this one;
 * named: the leader its answer names, or -1.  A follower passes requests on
 * to its leader, so while the leader has been silent to us lately, we keep
 * going through the follower that answered. */
static void settle_leader(struct pc_conn *c, int via, int named)
{
	int lead = named >= 0 ? named : c->leader;
	if (lead < 0 || lead == via) {
		c->leader = via;
		if (named >= 0)
			c->real_leader = -1;
		return;
	}
	uint64_t now = pc_mono_ms();
	if (recently_silent(c, lead)) {
		if (c->real_leader != lead || c->leader != via)
			c->via_since = now;
		c->leader = via;
		c->real_leader = lead;
		return;
	}
	c->leader = lead;
	c->real_leader = -1;
}

static int decide_start(struct pc_conn *c, const char *gid, const uint16_t *rms, size_t nrms, struct pc_result *res,
			struct px_pset *ps)
{
	memset(res, 0, sizeof(*res));
	res->leader = -1;
	c->err[0] = 0;
	int e = check_gid(c, gid);
	return e ? e : make_pset(c, rms, nrms, ps);
}

int pc_decide(struct pc_conn *c, const char *gid, const uint16_t *rms, size_t nrms, int wait, int abort, int flags,
		  uint32_t timeout_ms, struct pc_result *res)
{
	struct px_msg m;
	memset(&m, 0, sizeof(m));
	struct px_pset ps;
	int e = decide_start(c, gid, rms, nrms, res, &ps);
	if (e)
		return e;
	uint64_t req = ++c->req;
	if (abort) {
		m.type = PX_MSG_ROLLBACK_REQ;
		m.u.rollback_req.req = req;
		m.u.rollback_req.gid = px_str_of(gid, (uint32_t)strlen(gid));
		m.u.rollback_req.pset = ps;
	} else {
		m.type = PX_MSG_COMMIT_REQ;
		m.u.commit_req.req = req;
		m.u.commit_req.gid = px_str_of(gid, (uint32_t)strlen(gid));
		m.u.commit_req.wait = wait == PC_WAIT_DECIDED ? PX_WAIT_DECIDED : PX_WAIT_APPLIED;
		if (flags & PC_DECIDE_PREPARE_SENT)
			m.u.commit_req.wait |= PX_WAIT_PREPARE_SENT;
		m.u.commit_req.pset = ps;
	}
	int n = c->cfg.ncoord;
	if (c->real_leader >= 0 && pc_mono_ms() - c->via_since >= PC_SILENT_MS) {
		c->leader = c->real_leader; /* try the leader itself again */
		c->real_leader = -1;
	}
	int target = c->leader >= 0 ? c->leader : 0;
	/* A silent target is given up for the next replica after this long; a
	 * follower then points us at the leader it trusts.  A leader that no
	 * longer hears a majority (or is heard by none) is deposed by check
	 * quorum within about lease + 2 heartbeats, so by then the follower
	 * knows its successor. */
	uint64_t patience = c->cfg.lease_ms + 2u * c->cfg.heartbeat_ms + 50u;
	uint64_t start = pc_mono_ms(), deadline = start + timeout_ms;
	uint64_t next_send = start, backoff = 5;
	struct acks ak = {.ps = &ps};
	int busy = 0;   /* the last answer was "busy" */
	int silent = 0; /* no answer since the last send */
	/* The target was silent: ask every replica not silent lately at once,
	 * not one after another.  With one replica down and the leader cut
	 * off, one follower may be all we reach: one at a time, it came only
	 * after two rounds of patience (the simulator's client-minority). */
	int fanout = 0;
	int sends = 0;
	if (flags & PC_DECIDE_ASK_LATER)
		next_send = start + PC_ASK_LEADER_MS;
	if (!abort && (flags & PC_DECIDE_ACKS_HERE) && wait != PC_WAIT_DECIDED) {
		if (flags & PC_DECIDE_PREPARE_SENT)
			/* The participants have PREPARE from us and ack to us: the
			 * leader decides from their votes alone, and a commit
			 * request only costs it a message.  Ask it only if the acks
			 * are slow to come, and then for its answer.  (An abort's
			 * reason is the client's own, a failed statement; the
			 * leader's answer names none.) */
			next_send = start + PC_ASK_LEADER_MS;
		else
			m.u.commit_req.wait |= PX_WAIT_ACKS_TO_CLIENT; /* no OUTCOME for an applied commit */
	}
	for (;;) {
		uint64_t now = pc_mono_ms();
		if (now >= deadline) {
			res->outcome = PC_UNKNOWN;
			snprintf(res->reason, sizeof(res->reason), "no decision within %u ms%s", timeout_ms,
				 busy ? " (the leader is busy: too many undecided transactions)" : "");
			return 0;
		}
		if (now >= next_send) {
			if (sends++ && m.type == PX_MSG_COMMIT_REQ)
				/* Asking again: perhaps an ack was lost, so the
				 * leader's answer is wanted after all. */
				m.u.commit_req.wait &= (uint8_t)~PX_WAIT_ACKS_TO_CLIENT;
			if (c->votes_len) /* asking: perhaps a vote was lost */
				queue_votes_to(c, (1u << n) - 1);
			for (int i = 0; i < n; i++)
				if (i == target || (fanout && !recently_silent(c, i)))
					if ((e = send_msg(c, i, &m)))
						return e;
			next_send = now + patience;
			silent = 1; /* until the target answers */
		}
		struct px_msg r;
		int from = -1;
		uint64_t until = next_send < deadline ? next_send : deadline;
		int got = wait_outcome(c, gid, until, &r, &from, !abort && wait != PC_WAIT_DECIDED ? &ak : NULL);
		if (got < 0)
			return got;
		if (got == 3) { /* a majority of acceptors accepted every `prepared` vote */
			res->outcome = PC_COMMITTED;
			if (sends)
				settle_leader(c, target, -1);
			res->leader = c->leader;
			return 0;
		}
		if (got == 2) {
			/* Every participant applied it: that is wait=applied. */
			res->outcome = ak.outcome == PX_OUT_COMMIT ? PC_COMMITTED : PC_ABORTED;
			if (sends)
				settle_leader(c, target, -1);
			res->leader = c->leader;
			return 0;
		}
		if (got == 0) {
			if (silent && pc_mono_ms() >= next_send) {
				c->silent_at[target] = pc_mono_ms();
				target = (target + 1) % n; /* silent: try the next replica, and the others */
				fanout = 1;
			}
			continue;
		}
		silent = 0;
		fanout = 0;
		if (from >= 0 && from < n)
			c->silent_at[from] = 0; /* it answers again */
		const struct px_moutcome *o = &r.u.outcome;
		if (o->leader < n)
			res->leader = o->leader;
		busy = o->status == PX_ST_BUSY;
		switch (o->status) {
		case PX_ST_COMMITTED:
		case PX_ST_ABORTED:
			res->outcome = o->status == PX_ST_COMMITTED ? PC_COMMITTED : PC_ABORTED;
			copy_reason(res, o);
			settle_leader(c, from, o->leader < n ? o->leader : -1);
			return 0;
		case PX_ST_NOT_LEADER:
			/* Go where it points, or to the next replica if it knows no
			 * leader; back off a little so that an election in progress
			 * is not flooded.  But not back to a replica that was just
			 * silent to us: a follower passes the request on to the
			 * leader it names, so we ask that follower again until it
			 * names another (a new leader) or PC_SILENT_MS has passed;
			 * and with no leader named, we skip silent replicas. */
			if (o->leader < n && o->leader != from) {
				target = recently_silent(c, o->leader) ? from : o->leader;
			} else {
				target = (from + 1) % n;
				/* (ending at `from` itself if every other was silent) */
				for (int i = 1; i < n && recently_silent(c, (from + i) % n); i++)
					target = (from + i + 1) % n;
			}
			c->leader = o->leader < n ? o->leader : -1;
			next_send = pc_mono_ms() + backoff;
			backoff = backoff < 200 ? backoff * 2 : 200;
			break;
		case PX_ST_BUSY:
			next_send = pc_mono_ms() + 50 + backoff;
			backoff = backoff < 200 ? backoff * 2 : 200;
			break;
		case PX_ST_ERROR:
			copy_reason(res, o);
			return pc_fail(c, PC_EREFUSED, "coordinator.%d refused %s: %s", from, gid, res->reason);
		case PX_ST_UNKNOWN_GID:
			/* Forgotten without an outcome (given up long ago). */
			res->outcome = PC_UNKNOWN;
			copy_reason(res, o);
			return 0;
		default:
			break; /* UNDECIDED: keep waiting */
		}
	}
}

int pc_commit_gid(struct pc_conn *c, const char *gid, const uint16_t *rms, size_t nrms, int wait,
		  uint32_t timeout_ms, struct pc_result *res)
{
	return pc_decide(c, gid, rms, nrms, wait, 0, 0, timeout_ms, res);
}

int pc_rollback_gid(struct pc_conn *c, const char *gid, const uint16_t *rms, size_t nrms, uint32_t timeout_ms,
		    struct pc_result *res)
{
	return pc_decide(c, gid, rms, nrms, PC_WAIT_DECIDED, 1, 0, timeout_ms, res);
}

/* Ask replicas [lo, hi) about gid; see pc_status. */
static int ask_status(struct pc_conn *c, int lo, int hi, const char *gid, uint32_t timeout_ms, struct pc_result *res)
{
	memset(res, 0, sizeof(*res));
	res->leader = -1;
	c->err[0] = 0;
	int e = check_gid(c, gid);
	if (e)
		return e;
	struct px_msg m = {.type = PX_MSG_STATUS_REQ};
	m.u.status_req.req = ++c->req;
	m.u.status_req.gid = px_str_of(gid, (uint32_t)strlen(gid));
	int asked = hi - lo, answered = 0, unknown = 0;
	uint8_t seen[NREP_MAX] = {0};
	uint64_t deadline = pc_mono_ms() + timeout_ms;
	for (int i = lo; i < hi; i++)
		if ((e = send_msg(c, i, &m)))
			return e;
	res->outcome = PC_ST_NO_ANSWER;
	while (answered < asked) {
		struct px_msg r;
		int from = -1;
		int got = wait_outcome(c, gid, deadline, &r, &from, NULL);
		if (got < 0)
			return got;
		if (got == 0)
			break;
		if (from < lo || from >= hi || seen[from] || r.u.outcome.req != m.u.status_req.req)
			continue;
		seen[from] = 1;
		answered++;
		const struct px_moutcome *o = &r.u.outcome;
		if (o->leader < c->cfg.ncoord)
			res->leader = o->leader;
		switch (o->status) {
		case PX_ST_COMMITTED:
		case PX_ST_ABORTED:
			res->outcome = o->status == PX_ST_COMMITTED ? PC_ST_COMMITTED : PC_ST_ABORTED;
			copy_reason(res, o);
			return 0;
		case PX_ST_UNKNOWN_GID:
			unknown++;
			break;
		case PX_ST_ERROR:
			copy_reason(res, o);
			return pc_fail(c, PC_EREFUSED, "coordinator.%d refused status of %s: %s", from, gid, res->reason);
		default:
			break;
		}
		res->outcome = PC_ST_UNDECIDED;
		/* For one replica its own word counts; for the cluster, only a
		 * majority of "no record" means unknown. */
		if (unknown * 2 > (asked == 1 ? 0 : c->cfg.ncoord)) {
			res->outcome = PC_ST_UNKNOWN_GID;
			copy_reason(res, o);
			if (asked > 1)
				return 0;
		}
	}
	return 0;
}

int pc_status(struct pc_conn *c, const char *gid, uint32_t timeout_ms, struct pc_result *res)
{
	return ask_status(c, 0, c->cfg.ncoord, gid, timeout_ms, res);
}

int pc_status_at(struct pc_conn *c, int replica, const char *gid, uint32_t timeout_ms, struct pc_result *res)
{
	if (replica < 0 || replica >= c->cfg.ncoord)
		return pc_fail(c, PC_EINVAL, "no coordinator.%d", replica);
	return ask_status(c, replica, replica + 1, gid, timeout_ms, res);
}

int pc_leader_seen_by(struct pc_conn *c, int replica, uint32_t timeout_ms)
{
	/* A status question about a fresh gid nobody knows: every reply names
	 * the leader its sender trusts. */
	char gid[PX_GID_MAX + 1];
	if (!px_gid_make(gid, sizeof(gid), c->cfg.name, pc_wall_ms(), 0, 0))
		return -1;
	struct pc_result res;
	if (pc_status_at(c, replica, gid, timeout_ms, &res) || res.outcome == PC_ST_NO_ANSWER)
		return -1;
	return res.leader;
}

/* An XA-style commit learns from the acceptors (Faster Paxos Commit): a
 * majority of them each accepted `prepared` at ballot 0 for every
 * participant means every participant's `prepared` is chosen. */
struct xa_learn {
	struct pc_conn *c;
	const char *gid;
	size_t glen, n;
	const uint16_t *rms;
	uint64_t got[NREP_MAX]; /* per acceptor: participants (by index) accepted */
};

static void xa_2b_in(void *ctx, struct px_addr from, const struct px_msg *m)
{
	struct xa_learn *x = ctx;
	if (m->type != PX_MSG_2B || from.kind != PX_NODE_REPLICA || from.id >= (uint64_t)x->c->cfg.ncoord)
		return;
	const struct px_m2b *b = &m->u.m2b;
	if (b->gid.len != x->glen || memcmp(b->gid.p, x->gid, x->glen) || b->bal != 0 ||
	    b->val != PX_VAL_PREPARED || !(b->flags & PX_ACC_OK))
		return;
	for (size_t i = 0; i < x->n; i++)
		if (x->rms[i] == b->rm)
			x->got[from.id] |= 1ULL << i;
	uint64_t all = x->n >= 64 ? ~0ULL : (1ULL << x->n) - 1;
	int k = 0;
	for (int r = 0; r < x->c->cfg.ncoord; r++)
		k += (x->got[r] & all) == all;
	if (k >= x->c->cfg.ncoord / 2 + 1)
		x->c->side_done = 1;
}

/* The replicas an XA-style commit's first votes go to: a majority, the
 * leader we know first, then the ones after it, but none that lately failed
 * to send its 2b's (unless too few others are left). */
static unsigned xa_majority(struct pc_conn *c)
{
	int n = c->cfg.ncoord, need = n / 2 + 1, first = c->leader >= 0 ? c->leader : 0;
	uint64_t now = pc_mono_ms();
	unsigned mask = 0;
	for (int pass = 0; pass < 2 && need; pass++)
		for (int k = 0; k < n && need; k++) {
			int r = (first + k) % n;
			int failed = c->no2b_at[r] && now - c->no2b_at[r] < PC_SILENT_MS;
			if ((mask & (1u << r)) || (pass == 0 && failed && r != first))
				continue;
			mask |= 1u << r;
			need--;
		}
	return mask;
}

int pc_xa_decide(struct pc_conn *c, const char *gid, const uint16_t *rms, size_t nrms, uint8_t val,
		 struct pc_result *res)
{
	struct px_pset ps;
	int e = decide_start(c, gid, rms, nrms, res, &ps);
	if (e)
		return e;
	/* PX_PSET_MAX votes of at most a few hundred bytes each */
	uint8_t *votes = malloc((size_t)ps.n * 512u);
	if (!votes)
		return pc_fail(c, PC_ENOMEM, "out of memory");
	size_t vl = 0;
	for (uint16_t i = 0; i < ps.n; i++) {
		struct px_msg v;
		memset(&v, 0, sizeof(v));
		v.type = PX_MSG_2A;
		v.u.m2a.gid = px_str_of(gid, (uint32_t)strlen(gid));
		v.u.m2a.rm = ps.rm[i];
		v.u.m2a.bal = 0;
		v.u.m2a.val = val;
		v.u.m2a.pset = ps;
		size_t len;
		if ((e = px_encode(&v, votes + vl, 512u, &len))) {
			free(votes);
			return pc_fail(c, PC_EINVAL, "cannot encode a vote: %s", px_codec_strerror(e));
		}
		vl += len;
	}
	struct xa_learn x = {.c = c, .gid = gid, .glen = strlen(gid), .n = ps.n, .rms = ps.rm};
	unsigned thrifty = 0;
	c->votes = votes;
	c->votes_len = vl;
	c->side = val == PX_VAL_PREPARED ? xa_2b_in : NULL;
	c->side_ctx = &x;
	c->side_done = 0;
	int flags = PC_DECIDE_PREPARE_SENT;
	if (val == PX_VAL_PREPARED) {
		/* The votes to a majority from the leader we know; the acceptors
		 * tell us a commit, so the leader is asked only if their 2b
		 * are late (then the votes go to every replica again). */
		thrifty = xa_majority(c);
		queue_votes_to(c, thrifty);
		px_net_flush(c->net);
		flags |= PC_DECIDE_ASK_LATER;
	}
	e = pc_decide(c, gid, ps.rm, ps.n, PC_WAIT_DECIDED, val != PX_VAL_PREPARED, flags, c->commit_timeout_ms, res);
	if (!e && res->outcome == PC_COMMITTED) {
		/* A commit is learned from the 2b's of the majority the votes went
		 * to, unless one of them failed to send its own: then the votes
		 * went to every replica, after PC_ASK_LEADER_MS.  Leave that one
		 * out of the next majorities for a while. */
		uint64_t all = ps.n >= 64 ? ~0ULL : (1ULL << ps.n) - 1, now = pc_mono_ms();
		for (int r = 0; r < c->cfg.ncoord; r++)
			if (thrifty & (1u << r))
				c->no2b_at[r] = (x.got[r] & all) == all ? 0 : now;
	}
	c->votes = NULL;
	c->votes_len = 0;
	c->side = NULL;
	c->side_ctx = NULL;
	c->side_done = 0;
	free(votes);
	return e;
}

void pc_xa_ack(struct pc_conn *c, const char *gid, const uint16_t *rms, size_t nrms, uint8_t outcome)
{
	int to = c->leader >= 0 ? c->leader : 0;
	for (size_t i = 0; i < nrms; i++) {
		struct px_msg a;
		memset(&a, 0, sizeof(a));
		a.type = PX_MSG_DECISION_ACK;
		a.u.decision_ack.gid = px_str_of(gid, (uint32_t)strlen(gid));
		a.u.decision_ack.rm = rms[i];
		a.u.decision_ack.outcome = outcome;
		uint8_t buf[512];
		size_t len;
		if (px_encode(&a, buf, sizeof(buf), &len) == 0)
			px_net_batch(c->net, px_addr_of(PX_NODE_REPLICA, (uint64_t)to), buf, len);
	}
	/* Not waited for: a lost ack costs the agents a check at the leader's
	 * retransmission time, nothing more. */
	px_net_flush(c->net);
}
