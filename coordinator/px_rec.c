/*
 * px_rec.c - the replica's log records.
 *
 * One layout for every type (fields a type does not use are zero):
 *   type u8 | gid_len u8 | gid | rm u16 | bal u32 | val u8 | outcome u8 |
 *   pset_n u16 | pset_n * u16 | u64
 * all little-endian.  The commit log frames and checksums each record.
 */
#include <string.h>

#include "px_internal.h"

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 4;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return p + 8;
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

int px_rec_put(struct px_update *u, const struct px_rec *rec)
{
	if (rec->gid.len > PX_GID_MAX || rec->pset.n > PX_PSET_MAX)
		return -1;
	uint32_t len = 1 + 1 + rec->gid.len + 2 + 4 + 1 + 1 + 2 + 2u * rec->pset.n + 8;
	uint8_t *p = px_update_rec(u, len);
	if (!p)
		return -1;
	*p++ = rec->type;
	*p++ = (uint8_t)rec->gid.len;
	if (rec->gid.len)
		memcpy(p, rec->gid.p, rec->gid.len);
	p += rec->gid.len;
	p = put16(p, rec->rm);
	p = put32(p, rec->bal);
	*p++ = rec->val;
	*p++ = rec->outcome;
	p = put16(p, rec->pset.n);
	for (uint16_t i = 0; i < rec->pset.n; i++)
		p = put16(p, rec->pset.rm[i]);
	put64(p, rec->u64);
	return 0;
}

int px_rec_get(const uint8_t *p, size_t len, struct px_rec *rec)
{
	memset(rec, 0, sizeof(*rec));
	if (len < 2)
		return -1;
	rec->type = p[0];
	size_t glen = p[1];
	if (rec->type < PX_REC_PROMISE || rec->type > PX_REC_ROUND || glen > PX_GID_MAX)
		return -1;
	size_t fixed = 2 + glen + 2 + 4 + 1 + 1 + 2;
	if (len < fixed)
		return -1;
	rec->gid.p = (const char *)p + 2;
	rec->gid.len = (uint32_t)glen;
	const uint8_t *q = p + 2 + glen;
	rec->rm = (uint16_t)get_le(q, 2);
	rec->bal = (uint32_t)get_le(q + 2, 4);
	rec->val = q[6];
	rec->outcome = q[7];
	rec->pset.n = (uint16_t)get_le(q + 8, 2);
	if (rec->pset.n > PX_PSET_MAX || len != fixed + 2u * rec->pset.n + 8)
		return -1;
	q += 10;
	for (uint16_t i = 0; i < rec->pset.n; i++, q += 2)
		rec->pset.rm[i] = (uint16_t)get_le(q, 2);
	rec->u64 = get_le(q, 8);
	if (rec->val > PX_VAL_ABORTED || rec->outcome > PX_OUT_ABORT)
		return -1;
	return 0;
}
