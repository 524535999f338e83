/*
 * px_net.c - the ZeroMQ transport (see px_net.h).
 */
#include "px_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "px_keys.h"
#include "px_map.h"
#include "px_msg.h"

#define ID_REPLICA 0x01u
#define ID_AGENT 0x02u

struct peer {
	struct px_addr who;
	void *sock;
	int used; /* a client sent it something: poll it */
};

struct client {
	struct px_key k; /* routing id bytes (first member: px_map item) */
	uint64_t id;     /* 0: slot free */
	uint64_t key;    /* CURVE: the key id it authenticated with */
};

/* The ZAP handler (RFC 27) of a CURVE server: a thread answering
 * libzmq's requests on inproc://zeromq.zap.01 with the role of the key. */
struct zap {
	pthread_t th;
	void *rep;
	int pipe[2]; /* writing a byte stops the thread */
	const struct px_keyring *keys;
	pthread_mutex_t mu; /* held over keys->client while read or replaced */
	int running;
};

struct selfmsg {
	uint8_t *p;
	size_t len;
};

#define BATCH_DESTS 64
#define BATCH_BYTES (256u * 1024)

struct batch {
	struct px_addr to;
	uint8_t *buf;
	size_t len, cap;
	uint32_t frames;
};

struct px_net {
	struct px_net_config cfg;
	struct batch batch[BATCH_DESTS];
	int nbatch;
	struct batch lazy[BATCH_DESTS]; /* lazy sends (px_net_queue) */
	int nlazy;
	uint64_t lazy_due; /* they leave by then (0: none queued) */
	uint64_t tend_at;  /* next px_net_tick that tends the DEALERs */
	void *zctx;
	void *router; /* NULL for clients */
	struct peer *peer;
	size_t npeer;
	/* client routing ids */
	struct client *cli; /* ring of cfg.max_clients */
	struct px_map climap;
	uint64_t *allow; /* CURVE server: the allow-list's key ids, sorted */
	size_t nallow;
	uint64_t next_cli;
	/* messages to self */
	struct selfmsg *selfq;
	size_t qhead, qlen, qcap;
	uint8_t *selfcur; /* the self message handed out last */
	/* the message handed out last */
	zmq_msg_t cur;
	int cur_open;
	size_t rr; /* next socket to read (fairness) */
	/* px_net_polled: sockets the last poll found readable (bit 0: the
	 * ROUTER of a replica or agent; bit s: a client's peer s); only those
	 * are tried.  Trying an empty ZeroMQ socket costs a system call. */
	uint64_t ready;
	int use_ready;
	struct zap zap;
	int curve;
	struct px_net_stats st;
};

static void drain_more(void *s);

static void set_err(char *err, size_t cap, const char *fmt, const char *a, const char *b)
{
	if (cap)
		snprintf(err, cap, fmt, a, b);
}

static int sockopt_int(void *s, int opt, int v)
{
	return zmq_setsockopt(s, opt, &v, sizeof(v));
}

static size_t routing_id(struct px_addr a, uint8_t *out)
{
	if (a.kind == PX_NODE_REPLICA) {
		out[0] = ID_REPLICA;
		out[1] = (uint8_t)a.id;
		return 2;
	}
	if (a.kind == PX_NODE_AGENT) {
		out[0] = ID_AGENT;
		out[1] = (uint8_t)(a.id & 0xFF);
		out[2] = (uint8_t)(a.id >> 8);
		return 3;
	}
	return 0;
}

/* How long a connection may go without the peer's kernel acknowledging
 * what was sent, and how long a connect may take: 3 heartbeats, within
 * 250 ms .. 3 s. */
static int link_timeout_ms(const struct px_net *n)
{
	int t = 3 * (int)n->cfg.heartbeat_ms;
	return t < 250 ? 250 : t > 3000 ? 3000 : t;
}

/*
 * No ZMTP heartbeats (ZMQ_HEARTBEAT_IVL): libzmq 4.3.4, Debian 12's,
 * aborts the whole process ("Assertion failed: !_io_error
 * (src/stream_engine_base.cpp:331)") when a heartbeat timer fires on a
 * connection that stopped reading because its receive queue was full and
 * then broke.  A replica resumed after a stall, with its peers' messages
 * piled up and their connections gone, did (tests/unit/test_net.c makes
 * that moment).  What the heartbeats gave, a dead connection torn down
 * soon so that the DEALER reconnects, comes from the kernel instead:
 * ZMQ_TCP_MAXRT sets TCP_USER_TIMEOUT, so a connection whose data the
 * peer has not acknowledged for link_timeout_ms is closed (and
 * reconnected).  An idle connection across a partition is not torn down,
 * and needs not be: nothing waits on it.  Liveness of peers is the
 * protocol's own heartbeats' business.
 */
static int common_opts(struct px_net *n, void *s)
{
	return sockopt_int(s, ZMQ_LINGER, 0) || sockopt_int(s, ZMQ_SNDHWM, (int)n->cfg.hwm) ||
	       sockopt_int(s, ZMQ_RCVHWM, (int)n->cfg.hwm) || sockopt_int(s, ZMQ_TCP_MAXRT, link_timeout_ms(n));
}

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_DOMAIN "paxcommit"

/* The User-Id a ZAP reply gives an authenticated peer: "r<id>" a replica,
 * "p<id>" a participant, "c<key id, 16 hex>" a client. */
static void user_id_of(struct px_addr who, char *out, size_t cap)
{
	if (who.kind == PX_NODE_REPLICA)
		snprintf(out, cap, "r%u", (unsigned)who.id);
	else if (who.kind == PX_NODE_AGENT)
		snprintf(out, cap, "p%u", (unsigned)who.id);
	else
		snprintf(out, cap, "c%016llx", (unsigned long long)who.id);
}

/* Parse a User-Id back: 1 and *who, or 0. */
static int parse_user_id(const char *u, struct px_addr *who)
{
	if (!u || !u[0] || !u[1])
		return 0;
	uint64_t v = 0;
	int hex = u[0] == 'c';
	size_t n = 0;
	for (const char *p = u + 1; *p; p++, n++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' : hex && *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
		if (d < 0 || n >= 16)
			return 0;
		v = v * (hex ? 16 : 10) + (uint64_t)d;
	}
	if (u[0] == 'r' && v < 256)
		*who = px_addr_of(PX_NODE_REPLICA, v);
	else if (u[0] == 'p' && v <= 0xFFFF)
		*who = px_addr_of(PX_NODE_AGENT, v);
	else if (hex && n == 16)
		*who = px_addr_of(PX_NODE_CLIENT, v);
	else
		return 0;
	return 1;
}

static void zap_answer(struct zap *z)
{
	zmq_msg_t f[8];
	int nf = 0, more = 1;
	while (more && nf < 8) {
		zmq_msg_init(&f[nf]);
		int rc;
		while ((rc = zmq_msg_recv(&f[nf], z->rep, 0)) < 0 && zmq_errno() == EINTR)
			;
		if (rc < 0) {
			zmq_msg_close(&f[nf]);
			break;
		}
		more = zmq_msg_more(&f[nf]);
		nf++;
	}
	if (more)
		drain_more(z->rep);
	/* version, request id, domain, address, identity, mechanism, credentials */
	const char *status = "400", *text = "no such key";
	char user[32] = "";
	if (nf >= 7 && zmq_msg_size(&f[5]) == 5 && memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 &&
	    zmq_msg_size(&f[6]) == PX_KEY_LEN) {
		struct px_addr who;
		pthread_mutex_lock(&z->mu);
		int known = px_keyring_role(z->keys, zmq_msg_data(&f[6]), &who);
		pthread_mutex_unlock(&z->mu);
		if (known) {
			status = "200";
			text = "OK";
			user_id_of(who, user, sizeof(user));
		}
	} else {
		text = "CURVE only";
	}
	if (nf >= 2) {
		zmq_send(z->rep, "1.0", 3, ZMQ_SNDMORE);
		zmq_send(z->rep, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
		zmq_send(z->rep, status, 3, ZMQ_SNDMORE);
		zmq_send(z->rep, text, strlen(text), ZMQ_SNDMORE);
		zmq_send(z->rep, user, strlen(user), ZMQ_SNDMORE);
		zmq_send(z->rep, "", 0, 0);
	}
	for (int i = 0; i < nf; i++)
		zmq_msg_close(&f[i]);
}

static void *zap_main(void *arg)
{
	struct zap *z = arg;
	for (;;) {
		zmq_pollitem_t it[2] = {{.socket = z->rep, .events = ZMQ_POLLIN},
					{.fd = z->pipe[0], .events = ZMQ_POLLIN}};
		if (zmq_poll(it, 2, -1) < 0) {
			if (zmq_errno() == EINTR)
				continue;
			break;
		}
		if (it[1].revents & ZMQ_POLLIN)
			break;
		if (it[0].revents & ZMQ_POLLIN)
			zap_answer(z);
	}
	return NULL;
}

static int zap_start(struct zap *z, void *zctx, const struct px_keyring *keys, char *err, size_t errcap)
{
	z->keys = keys;
	z->pipe[0] = z->pipe[1] = -1;
	z->rep = zmq_socket(zctx, ZMQ_REP);
	if (!z->rep || sockopt_int(z->rep, ZMQ_LINGER, 0)) {
		set_err(err, errcap, "zap socket: %s%s", zmq_strerror(zmq_errno()), "");
		return -1;
	}
	if (zmq_bind(z->rep, ZAP_ENDPOINT)) {
		set_err(err, errcap, "bind " ZAP_ENDPOINT ": %s%s (one CURVE server per ZeroMQ context)",
			zmq_strerror(zmq_errno()), "");
		return -1;
	}
	if (pipe(z->pipe)) {
		set_err(err, errcap, "pipe: %s%s", strerror(errno), "");
		return -1;
	}
	/* The thread takes no signals (it inherits this mask): a daemon's
	 * SIGTERM handler must run on its main thread, and a signal that broke
	 * the REP socket's blocking receive mid-request would leave it unable
	 * to answer, and every later handshake waiting. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(&z->th, NULL, zap_main, z);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		set_err(err, errcap, "%s%s", "cannot start the ZAP thread", "");
		return -1;
	}
	z->running = 1;
	return 0;
}

static void zap_stop(struct zap *z)
{
	if (z->running) {
		ssize_t w;
		do
			w = write(z->pipe[1], "x", 1);
		while (w < 0 && errno == EINTR);
		pthread_join(z->th, NULL);
		z->running = 0;
	}
	if (z->rep)
		zmq_close(z->rep);
	z->rep = NULL;
	for (int i = 0; i < 2; i++)
		if (z->pipe[i] >= 0)
			close(z->pipe[i]);
	z->pipe[0] = z->pipe[1] = -1;
}

static uint64_t *sorted_ids(const uint8_t (*keys)[PX_KEY_LEN], size_t nk);

int px_net_new(void *zctx, const struct px_net_config *cfg, struct px_net **out, char *err, size_t errcap)
{
	*out = NULL;
	struct px_net *n = calloc(1, sizeof(*n));
	if (!n) {
		set_err(err, errcap, "%s%s", "out of memory", "");
		return -1;
	}
	n->cfg = *cfg;
	if (!n->cfg.hwm)
		n->cfg.hwm = 10000;
	if (!n->cfg.max_clients)
		n->cfg.max_clients = 65536;
	if (!n->cfg.heartbeat_ms)
		n->cfg.heartbeat_ms = 1000;
	n->cfg.bind = NULL; /* not kept */
	n->zctx = zctx;
	n->curve = cfg->keys && cfg->keys->curve;
	n->zap.pipe[0] = n->zap.pipe[1] = -1;
	pthread_mutex_init(&n->zap.mu, NULL);
	px_map_init(&n->climap);
	if (cfg->bind && n->curve) {
		n->allow = sorted_ids((const uint8_t(*)[PX_KEY_LEN])cfg->keys->client, cfg->keys->nclient);
		n->nallow = cfg->keys->nclient;
		if (!n->allow) {
			set_err(err, errcap, "%s%s", "out of memory", "");
			goto fail;
		}
	}
	/* Only a bound ROUTER hears from clients. */
	n->cli = cfg->bind ? calloc(n->cfg.max_clients, sizeof(*n->cli)) : NULL;
	n->peer = calloc(PX_NET_PEERS_MAX, sizeof(*n->peer));
	if ((cfg->bind && !n->cli) || !n->peer) {
		set_err(err, errcap, "%s%s", "out of memory", "");
		goto fail;
	}
	if (cfg->bind && n->curve && zap_start(&n->zap, zctx, cfg->keys, err, errcap))
		goto fail;
	if (cfg->bind) {
		n->router = zmq_socket(zctx, ZMQ_ROUTER);
		/* A peer that restarts reconnects with the same routing id: let the
		 * new connection take it over from the dead one.  Bound the size of
		 * what a peer may send, so a hostile or broken one cannot make us
		 * allocate without limit. */
		/* With CURVE, who sent a message comes from its key (the ZAP
		 * handler's User-Id), and the peers set no routing id: the
		 * ROUTER makes one up per connection, so none is taken over
		 * (ZMQ_ROUTER_HANDOVER would let any authenticated client
		 * claim a live client's). */
		int64_t maxmsg = (int64_t)PX_FRAME_MAX;
		if (!n->router || common_opts(n, n->router) || sockopt_int(n->router, ZMQ_ROUTER_HANDOVER, !n->curve) ||
		    zmq_setsockopt(n->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) ||
		    (n->curve && (sockopt_int(n->router, ZMQ_CURVE_SERVER, 1) ||
				  zmq_setsockopt(n->router, ZMQ_CURVE_SECRETKEY, cfg->keys->sec, PX_KEY_LEN) ||
				  zmq_setsockopt(n->router, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN))))) {
			set_err(err, errcap, "router socket: %s%s", zmq_strerror(zmq_errno()), "");
			goto fail;
		}
		if (zmq_bind(n->router, cfg->bind)) {
			char what[300];
			snprintf(what, sizeof(what), "bind %s", cfg->bind);
			set_err(err, errcap, "%s: %s", what, zmq_strerror(zmq_errno()));
			goto fail;
		}
	}
	*out = n;
	return 0;
fail:
	px_net_destroy(&n);
	return -1;
}

void px_net_destroy(struct px_net **np)
{
	struct px_net *n = *np;
	if (!n)
		return;
	if (n->cur_open)
		zmq_msg_close(&n->cur);
	if (n->router)
		zmq_close(n->router);
	zap_stop(&n->zap);
	for (size_t i = 0; i < n->npeer; i++)
		zmq_close(n->peer[i].sock);
	for (size_t i = 0; i < n->qlen; i++)
		free(n->selfq[(n->qhead + i) % n->qcap].p);
	for (int i = 0; i < BATCH_DESTS; i++) {
		free(n->batch[i].buf);
		free(n->lazy[i].buf);
	}
	free(n->selfq);
	free(n->selfcur);
	px_map_free(&n->climap);
	free(n->allow);
	pthread_mutex_destroy(&n->zap.mu);
	free(n->cli);
	free(n->peer);
	free(n);
	*np = NULL;
}

int px_net_add_peer(struct px_net *n, struct px_addr who, const char *endpoint, char *err, size_t errcap)
{
	if (n->npeer == PX_NET_PEERS_MAX || (who.kind != PX_NODE_REPLICA && who.kind != PX_NODE_AGENT)) {
		set_err(err, errcap, "%s%s", "too many peers or bad peer kind", "");
		return -1;
	}
	const uint8_t *server_key = NULL;
	if (n->curve && !(server_key = px_keyring_peer(n->cfg.keys, who))) {
		set_err(err, errcap, "%s%s", "no public key for that peer", "");
		return -1;
	}
	void *s = zmq_socket(n->zctx, ZMQ_DEALER);
	uint8_t rid[4];
	size_t rlen = n->curve ? 0 : routing_id(n->cfg.self, rid);
	int64_t maxmsg = (int64_t)PX_FRAME_MAX;
	/* ZMQ_IMMEDIATE: queue only to a completed connection, so nothing piles
	 * up for a dead peer to be delivered, stale, when it comes back. */
	/* ZMQ_CONNECT_TIMEOUT: without it a connect made while the peer is
	 * unreachable waits out the kernel's SYN backoff (1, 2, 4, 8, 16 s),
	 * so a partition healed after 20 s left the link down for up to 16 s
	 * more.  Bounded, a new attempt is made every second or so. */
	int cto = link_timeout_ms(n);
	if (!s || common_opts(n, s) || sockopt_int(s, ZMQ_IMMEDIATE, n->cfg.queue_unconnected ? 0 : 1) || sockopt_int(s, ZMQ_RECONNECT_IVL, 50) ||
	    sockopt_int(s, ZMQ_RECONNECT_IVL_MAX, 1000) || sockopt_int(s, ZMQ_CONNECT_TIMEOUT, cto) ||
	    zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) ||
	    (rlen && zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, rlen)) ||
	    (server_key && (zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_key, PX_KEY_LEN) ||
			    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, n->cfg.keys->pub, PX_KEY_LEN) ||
			    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, n->cfg.keys->sec, PX_KEY_LEN)))) {
		set_err(err, errcap, "dealer socket: %s%s", zmq_strerror(zmq_errno()), "");
		if (s)
			zmq_close(s);
		return -1;
	}
	if (zmq_connect(s, endpoint)) {
		set_err(err, errcap, "connect %s: %s", endpoint, zmq_strerror(zmq_errno()));
		zmq_close(s);
		return -1;
	}
	n->peer[n->npeer].who = who;
	n->peer[n->npeer].sock = s;
	n->npeer++;
	return 0;
}

static struct client *client_by_id(struct px_net *n, uint64_t id)
{
	if (!id)
		return NULL;
	struct client *c = &n->cli[(id - 1) % n->cfg.max_clients];
	return c->id == id ? c : NULL;
}

static uint64_t client_of(struct px_net *n, const uint8_t *rid, size_t len)
{
	struct px_str key = px_str_of((const char *)rid, (uint32_t)len);
	struct client *c = px_map_get(&n->climap, key);
	if (c)
		return c->id;
	uint64_t id = ++n->next_cli;
	c = &n->cli[(id - 1) % n->cfg.max_clients];
	if (c->id)
		px_map_del(&n->climap, &c->k); /* the oldest client's slot is reused */
	px_key_set(&c->k, key);
	c->id = id;
	if (px_map_put(&n->climap, c)) {
		c->id = 0;
		return 0;
	}
	return id;
}

static int self_addr(const struct px_net *n, struct px_addr to)
{
	return to.kind == n->cfg.self.kind && to.id == n->cfg.self.id && to.kind != PX_NODE_CLIENT;
}

static void count_sent(struct px_net *n, const void *data, size_t len)
{
	const uint8_t *p = data;
	if (len >= PX_HDR_LEN && p[3] < PX_MSG_TYPE_MAX_)
		n->st.sent_type[p[3]]++;
}

uint64_t px_net_proto_sent(const struct px_net *n)
{
	uint64_t t = 0;
	for (int i = 0; i < PX_MSG_TYPE_MAX_; i++)
		if (i != PX_MSG_HEARTBEAT && i != PX_MSG_SYNC_REQ && i != PX_MSG_SYNC)
			t += n->st.sent_type[i];
	return t;
}

int px_net_send(struct px_net *n, struct px_addr to, const void *data, size_t len)
{
	if (self_addr(n, to)) {
		if (n->qlen == n->qcap) {
			size_t nc = n->qcap ? n->qcap * 2 : 64;
			struct selfmsg *q = malloc(nc * sizeof(*q));
			if (!q)
				goto drop;
			for (size_t i = 0; i < n->qlen; i++)
				q[i] = n->selfq[(n->qhead + i) % n->qcap];
			free(n->selfq);
			n->selfq = q;
			n->qcap = nc;
			n->qhead = 0;
		}
		uint8_t *p = malloc(len ? len : 1);
		if (!p)
			goto drop;
		memcpy(p, data, len);
		n->selfq[(n->qhead + n->qlen) % n->qcap] = (struct selfmsg){p, len};
		n->qlen++;
		n->st.sent++;
		return 0;
	}
	if (to.kind == PX_NODE_CLIENT) {
		struct client *c = n->router ? client_by_id(n, to.id) : NULL;
		if (!c)
			goto drop;
		if (zmq_send(n->router, c->k.s, c->k.len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
			goto drop;
		if (zmq_send(n->router, data, len, ZMQ_DONTWAIT) < 0)
			goto drop;
		n->st.sent++;
		count_sent(n, data, len);
		return 0;
	}
	for (size_t i = 0; i < n->npeer; i++)
		if (n->peer[i].who.kind == to.kind && n->peer[i].who.id == to.id) {
			n->peer[i].used = 1;
			if (zmq_send(n->peer[i].sock, data, len, ZMQ_DONTWAIT) < 0)
				goto drop;
			n->st.sent++;
			count_sent(n, data, len);
			return 0;
		}
drop:
	n->st.send_dropped++;
	return -1;
}

static void batch_send(struct px_net *n, struct batch *b)
{
	if (!b->len)
		return;
	if (b->frames == 1) {
		px_net_send(n, b->to, b->buf, b->len);
	} else {
		/* px_net_send counts the first frame's type; count the rest */
		uint64_t before = n->st.sent;
		px_net_send(n, b->to, b->buf, b->len);
		if (n->st.sent != before) {
			size_t off = 0;
			const uint8_t *f;
			size_t fl;
			int first = 1;
			while (px_net_split(b->buf, b->len, &off, &f, &fl) == 1) {
				if (!first)
					count_sent(n, f, fl);
				first = 0;
			}
			n->st.sent += b->frames - 1;
		}
	}
	b->len = 0;
	b->frames = 0;
}

static struct batch *batch_of(struct batch *set, int nset, struct px_addr to)
{
	for (int i = 0; i < nset; i++)
		if (set[i].to.kind == to.kind && set[i].to.id == to.id)
			return &set[i];
	return NULL;
}

/* Append len bytes (whole frames) to to's batch in set. */
static void batch_add(struct px_net *n, struct batch *set, int *nset, struct px_addr to, const void *frame,
		      size_t len, uint32_t frames)
{
	struct batch *b = batch_of(set, *nset, to);
	if (!b) {
		if (*nset == BATCH_DESTS) {
			px_net_send(n, to, frame, len); /* too many destinations: unbatched */
			return;
		}
		b = &set[(*nset)++];
		b->to = to;
		b->len = 0;
		b->frames = 0;
	}
	if (b->len && b->len + len > BATCH_BYTES)
		batch_send(n, b);
	if (b->len + len > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->len + len)
			nc *= 2;
		uint8_t *nb = realloc(b->buf, nc);
		if (!nb) {
			batch_send(n, b);
			px_net_send(n, to, frame, len);
			return;
		}
		b->buf = nb;
		b->cap = nc;
	}
	memcpy(b->buf + b->len, frame, len);
	b->len += len;
	b->frames += frames;
}

void px_net_batch(struct px_net *n, struct px_addr to, const void *frame, size_t len)
{
	if (self_addr(n, to))
		px_net_send(n, to, frame, len);
	else
		batch_add(n, n->batch, &n->nbatch, to, frame, len, 1);
}

void px_net_queue(struct px_net *n, const struct px_send *s, const uint8_t *arena, uint64_t now)
{
	if (!s->lazy || self_addr(n, s->to)) {
		px_net_batch(n, s->to, arena + s->off, s->len);
		return;
	}
	batch_add(n, n->lazy, &n->nlazy, s->to, arena + s->off, s->len, 1);
	if (!n->lazy_due)
		n->lazy_due = now + PX_NET_LAZY_MS;
}

uint64_t px_net_lazy_due(const struct px_net *n)
{
	return n->lazy_due;
}

void px_net_flush(struct px_net *n)
{
	for (int i = 0; i < n->nbatch; i++) {
		/* Lazy frames for the same destination ride along for free,
		 * first (they are older). */
		struct batch *b = &n->batch[i], *l = batch_of(n->lazy, n->nlazy, b->to);
		if (l && l->len && b->len) {
			batch_add(n, n->lazy, &n->nlazy, l->to, b->buf, b->len, b->frames);
			b->len = 0;
			b->frames = 0;
			batch_send(n, l);
		} else {
			batch_send(n, b);
		}
	}
	n->nbatch = 0;
	int lazy_left = 0;
	for (int i = 0; i < n->nlazy; i++)
		lazy_left |= n->lazy[i].len != 0;
	if (!lazy_left)
		n->lazy_due = 0; /* they all rode along */
}

void px_net_flush_lazy(struct px_net *n)
{
	for (int i = 0; i < n->nlazy; i++)
		batch_send(n, &n->lazy[i]);
	n->nlazy = 0;
	n->lazy_due = 0;
}

size_t px_net_pollitems(struct px_net *n, zmq_pollitem_t *items, size_t cap)
{
	size_t k = 0;
	if (n->router) {
		if (cap)
			items[k++] = (zmq_pollitem_t){.socket = n->router, .events = ZMQ_POLLIN};
		return k;
	}
	for (size_t i = 0; i < n->npeer && k < cap; i++)
		if (n->peer[i].used)
			items[k++] = (zmq_pollitem_t){.socket = n->peer[i].sock, .events = ZMQ_POLLIN};
	return k;
}

void px_net_tick(struct px_net *n, uint64_t now)
{
	if (n->lazy_due && now >= n->lazy_due)
		px_net_flush_lazy(n);
	if (now < n->tend_at)
		return;
	n->tend_at = now + PX_NET_TEND_MS;
	for (size_t i = 0; i < n->npeer; i++) {
		int ev = 0;
		size_t sz = sizeof(ev);
		while (zmq_getsockopt(n->peer[i].sock, ZMQ_EVENTS, &ev, &sz) == 0 && (ev & ZMQ_POLLIN)) {
			zmq_msg_t m;
			zmq_msg_init(&m);
			int rc = zmq_msg_recv(&m, n->peer[i].sock, ZMQ_DONTWAIT);
			zmq_msg_close(&m);
			if (rc < 0)
				break;
			n->st.bad_shape++;
		}
	}
}

int px_net_pending(const struct px_net *n)
{
	return n->qlen != 0;
}

static void drain_more(void *s)
{
	int more = 1;
	size_t sz = sizeof(more);
	while (zmq_getsockopt(s, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
		zmq_msg_t m;
		zmq_msg_init(&m);
		int rc = zmq_msg_recv(&m, s, ZMQ_DONTWAIT);
		zmq_msg_close(&m);
		if (rc < 0)
			break;
	}
}

/* Who sent a message that came with routing id r (rl bytes), with CURVE
 * off: the routing id says it.  1, or 0 (counted) if it is of no kind. */
static int from_routing_id(struct px_net *n, const uint8_t *r, size_t rl, struct px_addr *from)
{
	if (rl == 2 && r[0] == ID_REPLICA)
		*from = px_addr_of(PX_NODE_REPLICA, r[1]);
	else if (rl == 3 && r[0] == ID_AGENT)
		*from = px_addr_of(PX_NODE_AGENT, (uint64_t)r[1] | (uint64_t)r[2] << 8);
	else if (rl >= 1 && rl <= PX_GID_MAX && r[0] == 0)
		*from = px_addr_of(PX_NODE_CLIENT, client_of(n, r, rl));
	else {
		n->st.bad_identity++;
		return 0;
	}
	return !(from->kind == PX_NODE_CLIENT && from->id == 0); /* 0: out of memory */
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* The key ids of the allow-list, sorted: from_key refuses a client whose
 * key left it after its handshake.  A new array, or NULL out of memory. */
static uint64_t *sorted_ids(const uint8_t (*keys)[PX_KEY_LEN], size_t nk)
{
	uint64_t *a = malloc((nk ? nk : 1) * sizeof(*a));
	if (!a)
		return NULL;
	for (size_t i = 0; i < nk; i++)
		a[i] = px_key_id(keys[i]);
	qsort(a, nk, sizeof(*a), cmp_u64);
	return a;
}

static int allowed(const struct px_net *n, uint64_t key_id)
{
	return n->nallow && bsearch(&key_id, n->allow, n->nallow, sizeof(key_id), cmp_u64) != NULL;
}

int px_net_reload_clients(struct px_net *n, struct px_keyring *k, const char *dir, size_t *was, size_t *now, char *err,
			  size_t errcap)
{
	if (!n->curve || !n->router || k != n->cfg.keys) {
		set_err(err, errcap, "%s%s", "no client allow-list here (security = none, or not a server)", "");
		return -1;
	}
	uint8_t(*nk)[PX_KEY_LEN] = NULL;
	size_t nn = 0;
	if (px_keyring_read_clients(dir, &nk, &nn, err, errcap))
		return -1;
	uint64_t *ids = sorted_ids((const uint8_t(*)[PX_KEY_LEN])nk, nn);
	if (!ids) {
		free(nk);
		set_err(err, errcap, "%s%s", "out of memory", "");
		return -1;
	}
	free(n->allow);
	n->allow = ids;
	n->nallow = nn;
	pthread_mutex_lock(&n->zap.mu);
	uint8_t(*old)[PX_KEY_LEN] = k->client;
	*was = k->nclient;
	k->client = nk;
	k->nclient = nn;
	pthread_mutex_unlock(&n->zap.mu);
	free(old);
	*now = nn;
	return 0;
}

/* With CURVE on: the key the message m came with says who sent it; the
 * routing id only tells clients' connections apart.  1, or 0 (counted). */
static int from_key(struct px_net *n, zmq_msg_t *m, const uint8_t *r, size_t rl, struct px_addr *from)
{
	struct px_addr who;
	if (!parse_user_id(zmq_msg_gets(m, "User-Id"), &who)) {
		n->st.bad_auth++; /* no ZAP verdict: never taken */
		return 0;
	}
	if (who.kind != PX_NODE_CLIENT) {
		*from = who;
		return 1;
	}
	if (rl < 1 || rl > PX_GID_MAX || r[0] != 0) {
		n->st.bad_identity++; /* a client that set a routing id of its own */
		return 0;
	}
	if (!allowed(n, who.id)) {
		n->st.bad_auth++; /* its key left the allow-list since it connected */
		return 0;
	}
	uint64_t id = client_of(n, r, rl);
	struct client *c = client_by_id(n, id);
	if (!c)
		return 0;
	c->key = who.id;
	*from = px_addr_of(PX_NODE_CLIENT, id);
	return 1;
}

/* Read one message from the router: 1 got one, 0 nothing, -1 error. */
static int recv_router(struct px_net *n, struct px_addr *from)
{
	for (;;) {
		zmq_msg_t rid;
		zmq_msg_init(&rid);
		if (zmq_msg_recv(&rid, n->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&rid);
			return errno == EAGAIN ? 0 : -1;
		}
		int more = 0;
		size_t sz = sizeof(more);
		zmq_getsockopt(n->router, ZMQ_RCVMORE, &more, &sz);
		if (!more) {
			zmq_msg_close(&rid);
			n->st.bad_shape++;
			continue;
		}
		if (zmq_msg_recv(&n->cur, n->router, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&rid);
			return errno == EAGAIN ? 0 : -1;
		}
		n->cur_open = 1;
		more = 0;
		zmq_getsockopt(n->router, ZMQ_RCVMORE, &more, &sz);
		int ok = 1;
		if (more) {
			drain_more(n->router);
			n->st.bad_shape++;
			ok = 0;
		} else if (zmq_msg_size(&n->cur) == 0) {
			n->st.bad_shape++;
			ok = 0;
		}
		if (ok) {
			const uint8_t *r = zmq_msg_data(&rid);
			size_t rl = zmq_msg_size(&rid);
			ok = n->curve ? from_key(n, &n->cur, r, rl, from) : from_routing_id(n, r, rl, from);
		}
		zmq_msg_close(&rid);
		if (ok)
			return 1;
	}
}

static int recv_dealer(struct px_net *n, size_t i, struct px_addr *from)
{
	for (;;) {
		if (zmq_msg_recv(&n->cur, n->peer[i].sock, ZMQ_DONTWAIT) < 0)
			return errno == EAGAIN ? 0 : -1;
		n->cur_open = 1;
		int more = 0;
		size_t sz = sizeof(more);
		zmq_getsockopt(n->peer[i].sock, ZMQ_RCVMORE, &more, &sz);
		if (more) {
			drain_more(n->peer[i].sock);
			n->st.bad_shape++;
			continue;
		}
		if (zmq_msg_size(&n->cur) == 0) {
			n->st.bad_shape++;
			continue;
		}
		*from = n->peer[i].who;
		return 1;
	}
}

int px_net_recv(struct px_net *n, struct px_addr *from, const uint8_t **data, size_t *len)
{
	if (n->cur_open) {
		zmq_msg_close(&n->cur);
		n->cur_open = 0;
	}
	free(n->selfcur);
	n->selfcur = NULL;
	if (n->qlen) {
		struct selfmsg m = n->selfq[n->qhead];
		n->qhead = (n->qhead + 1) % n->qcap;
		n->qlen--;
		n->selfcur = m.p;
		*from = n->cfg.self;
		*data = m.p;
		*len = m.len;
		n->st.received++;
		return 1;
	}
	size_t nsock = n->router ? 1 : n->npeer; /* see px_net_pollitems */
	for (size_t k = 0; k < nsock; k++) {
		size_t s = (n->rr + k) % nsock;
		if (!n->router && !n->peer[s].used)
			continue;
		if (n->use_ready && s < 64 && !((n->ready >> s) & 1))
			continue;
		zmq_msg_init(&n->cur);
		n->cur_open = 1;
		int rc;
		if (n->router)
			rc = recv_router(n, from);
		else
			rc = recv_dealer(n, s, from);
		if (rc == 1) {
			/* Next call starts at the same socket: a burst is read in
			 * order; the caller bounds how much it reads per round. */
			n->rr = s;
			*data = zmq_msg_data(&n->cur);
			*len = zmq_msg_size(&n->cur);
			n->st.received++;
			return 1;
		}
		zmq_msg_close(&n->cur);
		n->cur_open = 0;
		if (rc < 0)
			return -1;
		if (s < 64)
			n->ready &= ~(1ULL << s); /* drained: not again until the next poll */
	}
	return 0;
}

void px_net_polled(struct px_net *n, const zmq_pollitem_t *items, size_t nitems)
{
	/* bit s: the router (s = 0, replicas and agents) or peer s (clients) */
	size_t nsock = n->router ? 1 : n->npeer;
	n->use_ready = nsock <= 64; /* more sockets (many participants): try all */
	n->ready = 0;
	for (size_t k = 0, s = 0; n->use_ready && k < nitems; k++) {
		if (!(items[k].revents & ZMQ_POLLIN))
			continue;
		if (n->router) {
			if (items[k].socket == n->router)
				n->ready |= 1;
			continue;
		}
		/* items are the used peers in order (px_net_pollitems) */
		while (s < nsock && n->peer[s].sock != items[k].socket)
			s++;
		if (s < nsock)
			n->ready |= 1ULL << s;
	}
}

int px_net_split(const uint8_t *data, size_t len, size_t *off, const uint8_t **frame, size_t *flen)
{
	if (*off >= len)
		return 0;
	size_t rest = len - *off;
	const uint8_t *p = data + *off;
	if (rest < PX_HDR_LEN) {
		*off = len;
		return -1;
	}
	uint32_t plen = (uint32_t)p[4] | (uint32_t)p[5] << 8 | (uint32_t)p[6] << 16 | (uint32_t)p[7] << 24;
	if (plen > rest - PX_HDR_LEN) {
		/* Not a whole frame: hand the rest out as one frame, so that the
		 * decoder names the error. */
		*frame = p;
		*flen = rest;
		*off = len;
		return 1;
	}
	*frame = p;
	*flen = PX_HDR_LEN + plen;
	*off += *flen;
	return 1;
}

int px_net_curve_client(void *s, const struct px_keyring *k, const uint8_t *server_key)
{
	if (!k || !k->curve)
		return 0;
	if (!server_key)
		return -1;
	return zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_key, PX_KEY_LEN) ||
	       zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, k->pub, PX_KEY_LEN) ||
	       zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, k->sec, PX_KEY_LEN);
}

uint64_t px_net_client_key(const struct px_net *n, uint64_t client)
{
	if (!n->curve || !n->cli || !client)
		return 0;
	const struct client *c = &n->cli[(client - 1) % n->cfg.max_clients];
	return c->id == client ? c->key : 0;
}

const struct px_net_stats *px_net_stats(const struct px_net *n)
{
	return &n->st;
}

int px_net_free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t al = sizeof(a);
	int port = 0;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}
