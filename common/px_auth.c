/*
 * px_auth.c - message rules by role, Z85 keys (see px_auth.h).
 */
#include "px_auth.h"

#include <string.h>

#include "px_gid.h"

static const char z85_chars[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

static int z85_val(char c)
{
	const char *p = c ? strchr(z85_chars, c) : NULL;
	return p ? (int)(p - z85_chars) : -1;
}

int px_z85_decode_key(const char *s, size_t len, uint8_t out[PX_KEY_LEN])
{
	if (len != PX_KEY_Z85_LEN)
		return -1;
	for (size_t g = 0; g < PX_KEY_Z85_LEN / 5; g++) {
		uint64_t v = 0;
		for (size_t i = 0; i < 5; i++) {
			int d = z85_val(s[g * 5 + i]);
			if (d < 0)
				return -1;
			v = v * 85 + (uint64_t)d;
		}
		if (v > 0xFFFFFFFFu)
			return -1;
		for (size_t i = 0; i < 4; i++)
			out[g * 4 + i] = (uint8_t)(v >> (24 - 8 * i));
	}
	return 0;
}

void px_z85_encode_key(const uint8_t key[PX_KEY_LEN], char out[PX_KEY_Z85_LEN + 1])
{
	for (size_t g = 0; g < PX_KEY_LEN / 4; g++) {
		uint32_t v = (uint32_t)key[g * 4] << 24 | (uint32_t)key[g * 4 + 1] << 16 |
			     (uint32_t)key[g * 4 + 2] << 8 | key[g * 4 + 3];
		for (size_t i = 5; i-- > 0;) {
			out[g * 5 + i] = z85_chars[v % 85];
			v /= 85;
		}
	}
	out[PX_KEY_Z85_LEN] = 0;
}

uint64_t px_key_id(const uint8_t pub[PX_KEY_LEN])
{
	uint64_t v = 0;
	for (size_t i = 0; i < 8; i++)
		v = v << 8 | pub[i];
	return v;
}

/* The gid a message acts on, for the client binding; NULL for others. */
static const struct px_str *gid_of(const struct px_msg *m)
{
	switch (m->type) {
	case PX_MSG_COMMIT_REQ:
		return &m->u.commit_req.gid;
	case PX_MSG_ROLLBACK_REQ:
		return &m->u.rollback_req.gid;
	case PX_MSG_2A:
		return &m->u.m2a.gid;
	case PX_MSG_DECISION_ACK:
		return &m->u.decision_ack.gid;
	case PX_MSG_EXEC:
		return &m->u.exec.gid;
	case PX_MSG_PREPARE:
		return &m->u.prepare.gid;
	default:
		return NULL;
	}
}

static const char *client_rule(uint8_t at, uint64_t key, const struct px_msg *m)
{
	int ok;
	if (at == PX_NODE_REPLICA) {
		switch (m->type) {
		case PX_MSG_COMMIT_REQ:
		case PX_MSG_ROLLBACK_REQ:
		case PX_MSG_STATUS_REQ:
		case PX_MSG_PING:
			ok = 1;
			break;
		case PX_MSG_2A:
			if (m->u.m2a.bal != 0)
				return "a client's 2a above ballot 0";
			ok = px_gid_is_xa(m->u.m2a.gid.p, m->u.m2a.gid.len);
			break;
		case PX_MSG_DECISION_ACK:
			ok = px_gid_is_xa(m->u.decision_ack.gid.p, m->u.decision_ack.gid.len);
			break;
		default:
			ok = 0;
		}
	} else {
		ok = m->type == PX_MSG_EXEC || m->type == PX_MSG_PREPARE || m->type == PX_MSG_PING;
	}
	if (!ok)
		return "not a client's message";
	const struct px_str *g = gid_of(m);
	uint64_t owner;
	if (key && g && (px_gid_client(g->p, g->len, &owner) || owner != key))
		return "not the client's own gid";
	return NULL;
}

const char *px_auth_refuse(uint8_t at, struct px_addr from, uint64_t client_key, uint8_t nreplicas,
			   const struct px_msg *m)
{
	switch (from.kind) {
	case PX_NODE_REPLICA:
		if (from.id >= nreplicas)
			return "no such replica";
		if (at == PX_NODE_REPLICA)
			return NULL;
		switch (m->type) {
		case PX_MSG_PREPARE:
		case PX_MSG_DECISION:
		case PX_MSG_OUTCOME:
		case PX_MSG_PING:
			return NULL;
		default:
			return "not a replica's message to a participant";
		}
	case PX_NODE_AGENT:
		if (at == PX_NODE_AGENT)
			return m->type == PX_MSG_PING ? NULL : "not a participant's message to a participant";
		switch (m->type) {
		case PX_MSG_2A:
			if (m->u.m2a.bal != 0 || m->u.m2a.rm != from.id)
				return "a participant voting for another";
			return NULL;
		case PX_MSG_DECISION_ACK:
			return m->u.decision_ack.rm == from.id ? NULL : "a participant acknowledging for another";
		case PX_MSG_STATUS_REQ:
		case PX_MSG_PING:
			return NULL;
		default:
			return "not a participant's message";
		}
	case PX_NODE_CLIENT:
		return client_rule(at, client_key, m);
	default:
		return "unknown sender";
	}
}
