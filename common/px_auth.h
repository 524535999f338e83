/*
 * px_auth.h - who may send what: the rules a replica and an agent apply to
 * every message, by the sender's authenticated role.  Pure (no I/O).
 *
 * With `security = curve` (docs/design.md "Security"), the transport (px_net.h)
 * learns each sender's role from its CURVE public key, through the ZAP
 * handler: the key of replica N, of participant X, or one on the client
 * allow-list.  A routing id is never taken as proof of anything.  On top of
 * that, px_auth_refuse() says whether that role may send that message:
 *
 *   at a replica, from
 *     a replica      anything;
 *     a participant  its own ballot-0 vote (2a, rm = itself), its own
 *                    DECISION_ACK, STATUS_REQ, PING;
 *     a client       COMMIT_REQ, ROLLBACK_REQ, STATUS_REQ, PING, and for an
 *                    XA-style gid the ballot-0 2a and the DECISION_ACK;
 *   at an agent, from
 *     a replica      PREPARE, DECISION, OUTCOME, PING;
 *     a client       EXEC, PREPARE, PING;
 *     a participant  PING.
 *
 * A client's key id (px_key_id: the first 8 bytes of its public key) is the
 * client field of every gid it makes (px_gid.h), so an authenticated client
 * may act on its own gids only: COMMIT_REQ, ROLLBACK_REQ, 2a, DECISION_ACK,
 * EXEC and PREPARE name a gid whose client field is the sender's key id.
 * Anyone may ask STATUS_REQ of any gid.  With security off (loopback only),
 * the key id is 0 and that binding is not checked.
 *
 * Z85 (ZeroMQ RFC 32) is the text form of keys: 40 characters for 32 bytes.
 */
#ifndef PX_AUTH_H
#define PX_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "px_msg.h"
#include "px_update.h"

#define PX_KEY_LEN 32u
#define PX_KEY_Z85_LEN 40u

/* Decode 40 Z85 characters (len must be 40) into 32 bytes.  0, or -1 if
 * the text is not Z85 of that length. */
int px_z85_decode_key(const char *s, size_t len, uint8_t out[PX_KEY_LEN]);
/* Encode 32 bytes as 40 Z85 characters and a NUL. */
void px_z85_encode_key(const uint8_t key[PX_KEY_LEN], char out[PX_KEY_Z85_LEN + 1]);

/* A client's key id: its public key's first 8 bytes, big-endian (so the
 * gid's 16 hex digits are the key's first 16 hex digits). */
uint64_t px_key_id(const uint8_t pub[PX_KEY_LEN]);

/*
 * NULL if a receiver of kind `at` (PX_NODE_REPLICA or PX_NODE_AGENT) takes
 * message m from `from`, or a short reason why not ("role", "not its own
 * vote", "not its gid").  client_key: the sender's key id when it is an
 * authenticated client, else 0 (not checked).  nreplicas: the cluster's
 * replica count (a replica id at or past it is refused).
 */
const char *px_auth_refuse(uint8_t at, struct px_addr from, uint64_t client_key, uint8_t nreplicas,
			   const struct px_msg *m);

#endif
