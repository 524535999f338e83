/*
 * px_gid.h - global transaction ids.
 *
 * A gid is   <prefix>_<birth>_<client>_<seq>
 *   prefix  the cluster name: [A-Za-z0-9]+, so recovery touches only this
 *           cluster's prepared transactions
 *   birth   the client's clock at begin, milliseconds since the epoch
 *           (decimal); coordinators use it for the garbage-collection
 *           horizon (see docs/design.md "Garbage collection")
 *   client  the client's random id, 16 hex digits
 *   seq     the client's sequence number (decimal); "x" before it marks an
 *           XA-style gid: the client prepares each participant itself over
 *           its own PostgreSQL connection and casts the ballot-0 votes, so
 *           no agent ever votes on it (docs/client-api.md "XA-style transactions")
 * Whole gid < 200 bytes (PostgreSQL's limit); only [A-Za-z0-9_] appear, so
 * it can be quoted into SQL without escaping.
 */
#ifndef PX_GID_H
#define PX_GID_H

#include <stddef.h>
#include <stdint.h>

#define PX_PREFIX_MAX 63u

/* The largest clock difference a client may have ahead of the replicas and
 * the agents (docs/design.md "gid format").  A gid born further in the future than
 * this, by the receiver's clock, is refused wherever it would first enter a
 * replica's or an agent's state: that state could not be garbage-collected
 * before the birth time comes (the horizon and the agent's "ambiguous" rule
 * both count from it).  It equals the agent's restart margin
 * (pa_config.skew_ms, 1000 ms in the daemon): an agent begins and votes only
 * on gids born less than this after its own clock, so every gid an earlier
 * incarnation voted on was born before its restart plus this margin.  The
 * cores take it through their configs (max_future_ms; 0 means this). */
#define PX_GID_MAX_FUTURE_MS 1000u

/* Write a gid into buf (cap bytes, NUL-terminated).  Returns its length,
 * or 0 if the prefix is invalid or it does not fit. */
size_t px_gid_make(char *buf, size_t cap, const char *prefix, uint64_t birth_ms,
		   uint64_t client, uint64_t seq);
/* The same, for an XA-style gid. */
size_t px_gid_make_xa(char *buf, size_t cap, const char *prefix, uint64_t birth_ms,
		      uint64_t client, uint64_t seq);

/* 1 if gid (len bytes) is a well-formed XA-style gid, else 0. */
int px_gid_is_xa(const char *gid, size_t len);

/* Parse gid (len bytes, not necessarily NUL-terminated).  Returns 0 and sets
 * *birth_ms (and *prefix_len if non-NULL) when the gid is well formed, or -1. */
int px_gid_parse(const char *gid, size_t len, uint64_t *birth_ms, size_t *prefix_len);

/* The client field of gid (len bytes): 0 and *client set, or -1 if the gid
 * is malformed.  With CURVE on, a client's gids carry its key id
 * (px_auth.h), and the replicas and agents check it. */
int px_gid_client(const char *gid, size_t len, uint64_t *client);

/* How far the birth of gid (len bytes) lies ahead of now (ms): 0 if it does
 * not, or if the gid is malformed. */
uint64_t px_gid_ahead_ms(const char *gid, size_t len, uint64_t now);

/* 64-bit FNV-1a of bytes, used for gid hashing. */
uint64_t px_hash(const void *p, size_t len);

#endif
