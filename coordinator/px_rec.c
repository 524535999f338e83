/*
 * px_rec.c - the replica's log records.
 *
 * One layout for every type (fields a type does not use are zero):
 *   type u8 | gid_len u8 | gid | rm u16 | bal u32 | val u8 | outcome u8 |
 *   pset_n u16 | pset_n * u16 | u64
 * all little-endian, written and read with the cursors of px_byte.h.  The
 * commit log frames and checksums each record.
 */
#include "px_byte.h"
#include "px_internal.h"

#include <string.h>

int px_rec_put(struct px_update *u, const struct px_rec *rec)
{
	if (rec->gid.len > PX_GID_MAX || rec->pset.n > PX_PSET_MAX)
		return -1;
	uint32_t len = 1 + 1 + rec->gid.len + 2 + 4 + 1 + 1 + 2 + 2u * rec->pset.n + 8;
	uint8_t *p = px_update_rec(u, len);
	if (!p)
		return -1;
	struct px_wcur w;
	px_wcur_init(&w, p, len);
	px_put_u8(&w, rec->type);
	px_put_u8(&w, (uint8_t)rec->gid.len);
	px_put_bytes(&w, rec->gid.p, rec->gid.len);
	px_put_u16(&w, rec->rm);
	px_put_u32(&w, rec->bal);
	px_put_u8(&w, rec->val);
	px_put_u8(&w, rec->outcome);
	px_put_u16(&w, rec->pset.n);
	for (uint16_t i = 0; i < rec->pset.n; i++)
		px_put_u16(&w, rec->pset.rm[i]);
	px_put_u64(&w, rec->u64);
	/* A decision, or the forgetting of a decided gid, restates what the
	 * acceptors' durable votes already fix: losing it in a crash only
	 * makes the gid live again, and a leader finishes it once more.  A
	 * FORGET without an outcome is a promise never to accept the gid
	 * (status answers UNKNOWN_GID from it), so it is synced like a vote. */
	if (rec->type == PX_REC_DECISION || (rec->type == PX_REC_FORGET && rec->outcome != PX_OUT_NONE))
		u->rec[u->nrec - 1].lazy = 1;
	return w.err || w.left ? -1 : 0;
}

void px_rec_lazy(struct px_update *u)
{
	if (u->nrec)
		u->rec[u->nrec - 1].lazy = 1;
}

int px_rec_get(const uint8_t *p, size_t len, struct px_rec *rec)
{
	memset(rec, 0, sizeof(*rec));
	struct px_rcur r;
	px_rcur_init(&r, p, len);
	rec->type = px_get_u8(&r);
	uint8_t glen = px_get_u8(&r);
	if (r.err || rec->type < PX_REC_PROMISE || rec->type > PX_REC_ROUND || glen > PX_GID_MAX)
		return -1;
	rec->gid.p = (const char *)px_get_bytes(&r, glen);
	rec->gid.len = glen;
	rec->rm = px_get_u16(&r);
	rec->bal = px_get_u32(&r);
	rec->val = px_get_u8(&r);
	rec->outcome = px_get_u8(&r);
	rec->pset.n = px_get_u16(&r);
	if (r.err || rec->pset.n > PX_PSET_MAX)
		return -1;
	for (uint16_t i = 0; i < rec->pset.n; i++)
		rec->pset.rm[i] = px_get_u16(&r);
	rec->u64 = px_get_u64(&r);
	if (r.err || r.left || rec->val > PX_VAL_ABORTED || rec->outcome > PX_OUT_ABORT)
		return -1;
	return 0;
}

int px_rec_peek(const uint8_t *p, size_t len, struct px_str *gid, uint8_t *outcome)
{
	struct px_rec rec;
	if (px_rec_get(p, len, &rec))
		return 0;
	*gid = rec.gid;
	*outcome = rec.outcome;
	return rec.type;
}
