/*
 * px_net.h - the ZeroMQ transport every paxcommit process uses.
 *
 * Shape (the same in coordinator replicas, participant agents and clients):
 *   - input: one ROUTER socket bound at the process's own endpoint
 *     (replicas and agents; a client binds nothing);
 *   - output: one DEALER socket per known peer (replicas, agents), connected
 *     to that peer's endpoint.  A reply to a client goes back through the
 *     ROUTER, to the routing id the request came from.  So a replica's or an
 *     agent's DEALERs only send, and are not polled (px_net_pollitems,
 *     px_net_tick); a client's DEALERs are its input too.
 *
 * Who sent a message:
 *   - with CURVE (cfg.keys, security = curve): the key the sender
 *     authenticated with.  The ROUTER is a CURVE server; a ZAP handler
 *     thread (RFC 27) accepts only keys of the keyring (px_keys.h) and
 *     names their role; a message without that verdict is dropped
 *     (bad_auth).  Every DEALER is a CURVE client that knows its peer's
 *     server key, so it talks to the real peer only.  Nobody sets a
 *     routing id; the ROUTER makes one up per connection (no handover).
 *   - with security = none (loopback only): the ZeroMQ routing id the
 *     sender's DEALER set: 0x01 <id u8> is coordinator replica `id`, 0x02
 *     <id u16 LE> is participant `id`.
 * A routing id that starts with 0x00 (the ones a ROUTER makes up for peers
 * that set none) is a client; the transport maps it to an opaque 64-bit
 * client id (a bounded table, oldest entry reused first), and with CURVE
 * remembers its key id (px_net_client_key).  Anything else is dropped and
 * counted.
 *
 * Stale messages: a DEALER is created with ZMQ_IMMEDIATE (unless
 * queue_unconnected), so nothing is
 * queued for a peer that is not connected (the send is dropped and
 * counted), and the queue towards a connected but stalled peer is bounded
 * by the send high-water mark; past it, sends are dropped too.  Lost
 * messages are the protocol's business: every sender retransmits.
 *
 * A message is one ZeroMQ frame holding one or more whole protocol frames
 * back to back (px_msg.h); the receiver walks them with px_net_split().
 *
 * Sending to oneself (a leader's 2a to its own acceptor) goes through an
 * in-process queue that px_net_recv() drains first.
 *
 * Not thread-safe: one px_net is used by one thread.  It owns its sockets;
 * the zmq context is the caller's and must outlive it.
 */
#ifndef PX_NET_H
#define PX_NET_H

#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "px_msg.h"
#include "px_update.h"

struct px_keyring;

#define PX_NET_PEERS_MAX 1100u /* 5 replicas + up to 1024+ participants */

struct px_net_config {
	struct px_addr self;  /* PX_NODE_REPLICA / PX_NODE_AGENT; PX_NODE_CLIENT sets no routing id */
	const char *bind;     /* ROUTER endpoint to bind, or NULL (clients) */
	uint32_t hwm;         /* per-peer send / receive queue bound (messages); 0: 10000 */
	uint32_t max_clients; /* client routing ids remembered; 0: 65536 */
	int heartbeat_ms;     /* the protocol's heartbeat; 3 of them bound a connect and unacknowledged data; 0: 1000 */
	/* 1: queue sends to a peer not connected yet (up to hwm) instead of
	 * dropping them.  Clients set it: their requests are idempotent, and
	 * the first request should not wait for a resend. */
	int queue_unconnected;
	/* CURVE keys (px_keys.h), or NULL / keys->curve == 0 for security =
	 * none.  Caller-owned; must outlive the px_net (the ZAP thread reads
	 * it).  A process's ZeroMQ context holds at most one CURVE server. */
	const struct px_keyring *keys;
};

struct px_net_stats {
	uint64_t received;      /* protocol messages handed out */
	uint64_t sent;
	uint64_t send_dropped;  /* no route, peer not connected, or queue full */
	uint64_t bad_identity;  /* routing id of no known kind */
	uint64_t bad_shape;     /* multi-part or empty messages */
	uint64_t bad_auth;      /* CURVE: a message without a known key (never expected) */
	/* Frames sent to other processes, by message type (self-sends are not
	 * counted): for message-count measurements. */
	uint64_t sent_type[PX_MSG_TYPE_MAX_];
};



struct px_net;

/*
 * Create the sockets (and bind).  Returns 0, or -1 with a message in err
 * (e.g. "bind tcp://127.0.0.1:7000: Address already in use").
 */
int px_net_new(void *zctx, const struct px_net_config *cfg, struct px_net **out, char *err, size_t errcap);
void px_net_destroy(struct px_net **n);

/*
 * Replace the client allow-list (a bound CURVE server: a replica or an
 * agent) with the *.pub files of dir, as a daemon does on SIGHUP.  k must
 * be the keyring the net was made with.  New handshakes see the new list
 * at once; a client whose key left it is refused from its next message on
 * (counted in bad_auth), although its connection stays open.  0 and the
 * number of keys before (*was) and after (*now), or -1 with err: nothing
 * changed.
 */
int px_net_reload_clients(struct px_net *n, struct px_keyring *k, const char *dir, size_t *was, size_t *now, char *err,
			  size_t errcap);

/* Add a peer reached through its own DEALER.  Returns 0, or -1 with err. */
int px_net_add_peer(struct px_net *n, struct px_addr who, const char *endpoint, char *err, size_t errcap);

/*
 * Send `len` bytes (one or more encoded frames) to `to`, never blocking.
 * Returns 0 when queued, or -1 when dropped (unknown destination, peer not
 * connected, queue full); the caller need not care: the protocol resends.
 */
int px_net_send(struct px_net *n, struct px_addr to, const void *data, size_t len);

/*
 * Batching: px_net_batch() queues one frame for `to`, and px_net_flush()
 * sends every destination's queued frames as ONE ZeroMQ message (frames
 * back to back, in order; receivers split them with px_net_split).  A
 * destination's batch is sent early once it reaches 256 KiB.  Self-sends
 * are not batched.
 */
void px_net_batch(struct px_net *n, struct px_addr to, const void *frame, size_t len);
void px_net_flush(struct px_net *n);
/*
 * A core's send (struct px_send, frame in `arena`): px_net_batch(), or
 * for a lazy one a queue of frames that may wait up to PX_NET_LAZY_MS
 * after `now`.  Lazy frames leave, first, with the next px_net_flush()
 * that sends their destination anything else, or with px_net_flush_lazy()
 * once px_net_lazy_due() has passed.  They are messages off every critical
 * path (a leader's FORGET to the other replicas, an agent's ack to the
 * leader): waiting costs the receiver fewer wakeups.
 */
#define PX_NET_LAZY_MS 5u
void px_net_queue(struct px_net *n, const struct px_send *s, const uint8_t *arena, uint64_t now);
/* When lazy frames must leave (px_net_flush_lazy), or 0 if none wait. */
uint64_t px_net_lazy_due(const struct px_net *n);
void px_net_flush_lazy(struct px_net *n);

/* A poll timeout (ms) shortened so that the loop wakes by `at` (0: no
 * deadline). */
static inline long px_wait_ms(long timeout, uint64_t now, uint64_t at)
{
	if (!at)
		return timeout;
	long w = at > now ? (long)(at - now) : 0;
	return w < timeout ? w : timeout;
}

/*
 * Poll items (POLLIN) of the sockets anything can arrive on.  Returns how
 * many were written (at most cap).  Every ZeroMQ socket a poll covers costs
 * libzmq system calls (a command-mailbox check) on each poll, so:
 *   - a replica or agent polls its ROUTER only: peers answer it there, and
 *     its DEALERs only send (px_net_tick looks after them);
 *   - a client polls the DEALERs it has sent something to; the set grows
 *     with its first send to a peer, so call this before each poll.
 */
size_t px_net_pollitems(struct px_net *n, zmq_pollitem_t *items, size_t cap);

/*
 * Once per loop round of a replica or an agent: sends the lazy frames once
 * px_net_lazy_due() has passed, and every PX_NET_TEND_MS lets libzmq
 * process the commands of the send-only DEALERs, which px_net_pollitems
 * leaves out (a reconnection, for one; a send does it too, at most once a
 * millisecond), dropping, counted as bad_shape, anything that arrived on
 * one (no peer of ours sends there).
 */
#define PX_NET_TEND_MS 250u
void px_net_tick(struct px_net *n, uint64_t now);

/* After zmq_poll over px_net_pollitems' items (first nitems of them):
 * px_net_recv then tries only the sockets the poll found readable.  A
 * caller that never calls it has every socket tried each time. */
void px_net_polled(struct px_net *n, const zmq_pollitem_t *items, size_t nitems);

/* 1 if messages to self are waiting (poll with timeout 0). */
int px_net_pending(const struct px_net *n);

/*
 * Receive one message without blocking.  Returns 1 and sets *from, *data,
 * *len (valid until the next px_net_recv or px_net_destroy), or 0 when
 * nothing is ready, or -1 on a ZeroMQ error (errno set; e.g. EINTR).
 * Messages with a bad routing id or shape are dropped (counted) and never
 * returned.
 */
int px_net_recv(struct px_net *n, struct px_addr *from, const uint8_t **data, size_t *len);

/*
 * Walk the protocol frames of one message: *off starts at 0.  Returns 1 and
 * sets *frame and *flen to the next frame (its length read from its header),
 * 0 at the end, -1 if the rest is not a whole frame (the rest is dropped).
 */
int px_net_split(const uint8_t *data, size_t len, size_t *off, const uint8_t **frame, size_t *flen);

/* Make a raw ZeroMQ socket s (before its connect) a CURVE client with k's
 * key pair, of the server whose public key is server_key.  Does nothing
 * (0) when k is NULL or security is none; -1 on an error.  For tools and
 * tests that speak the wire protocol without a px_net. */
int px_net_curve_client(void *s, const struct px_keyring *k, const uint8_t *server_key);

/* With CURVE: the key id (px_key_id) the client `client` (a px_addr id
 * px_net_recv gave) authenticated with; 0 without CURVE or if unknown. */
uint64_t px_net_client_key(const struct px_net *n, uint64_t client);

const struct px_net_stats *px_net_stats(const struct px_net *n);
/* Protocol messages sent to other processes, heartbeat and sync traffic
 * (time-driven, not per transaction) excluded. */
uint64_t px_net_proto_sent(const struct px_net *n);

/* A free TCP port on 127.0.0.1 (bind to port 0 and close), or 0.  For
 * tests and scripts that build endpoints. */
int px_net_free_port(void);

#endif
