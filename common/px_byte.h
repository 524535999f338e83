/*
 * px_byte.h - bounded little-endian cursors for building and parsing frames.
 *
 * A cursor carries a sticky error: the first failure is kept in `err`, the
 * cursor stops moving and every later get returns zero and every later put
 * writes nothing.  Callers can therefore run a straight line of gets or
 * puts and look at `err` once at the end.
 *
 * Nothing here casts a byte pointer to a wider type; values are assembled
 * with shifts, so the buffers need no alignment.
 */
#ifndef PX_BYTE_H
#define PX_BYTE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "px_msg.h"

struct px_wcur {
	uint8_t *p;
	size_t left;
	int err;
};

struct px_rcur {
	const uint8_t *p;
	size_t left;
	int err;
};

static inline void px_wcur_init(struct px_wcur *w, void *buf, size_t cap)
{
	w->p = buf;
	w->left = cap;
	w->err = 0;
}

static inline void px_rcur_init(struct px_rcur *r, const void *buf, size_t len)
{
	r->p = buf;
	r->left = len;
	r->err = 0;
}

/*
 * Record an error on a read cursor; the first one wins.  Once failed, the
 * cursor reports nothing left so that no further byte is consumed.
 */
static inline void px_rfail(struct px_rcur *r, int err)
{
	if (!r->err)
		r->err = err;
	r->left = 0;
}

/*
 * Record an error on a write cursor.  A value error (anything but
 * PX_ESPACE) replaces an earlier PX_ESPACE, so a caller learns that the
 * input is invalid whatever the size of its buffer; otherwise the first
 * error wins.
 */
static inline void px_wfail(struct px_wcur *w, int err)
{
	if (!w->err || (w->err == PX_ESPACE && err != PX_ESPACE))
		w->err = err;
	w->left = 0;
}

/* Plain stores and loads on a byte pointer known to have room. */
static inline void px_le16_store(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void px_le32_store(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void px_le64_store(uint8_t *p, uint64_t v)
{
	px_le32_store(p, (uint32_t)v);
	px_le32_store(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t px_le16_load(const uint8_t *p)
{
	return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t px_le32_load(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t px_le64_load(const uint8_t *p)
{
	return (uint64_t)px_le32_load(p) | (uint64_t)px_le32_load(p + 4) << 32;
}

/* ---- write side ---- */

/* Reserve n bytes; NULL (and PX_ESPACE) if they do not fit. */
static inline uint8_t *px_put_reserve(struct px_wcur *w, size_t n)
{
	uint8_t *p;

	if (w->err)
		return NULL;
	if (n > w->left) {
		px_wfail(w, PX_ESPACE);
		return NULL;
	}
	p = w->p;
	w->p += n;
	w->left -= n;
	return p;
}

static inline void px_put_u8(struct px_wcur *w, uint8_t v)
{
	uint8_t *p = px_put_reserve(w, 1);

	if (p)
		p[0] = v;
}

static inline void px_put_u16(struct px_wcur *w, uint16_t v)
{
	uint8_t *p = px_put_reserve(w, 2);

	if (p)
		px_le16_store(p, v);
}

static inline void px_put_u32(struct px_wcur *w, uint32_t v)
{
	uint8_t *p = px_put_reserve(w, 4);

	if (p)
		px_le32_store(p, v);
}

static inline void px_put_u64(struct px_wcur *w, uint64_t v)
{
	uint8_t *p = px_put_reserve(w, 8);

	if (p)
		px_le64_store(p, v);
}

static inline void px_put_bytes(struct px_wcur *w, const void *src, size_t n)
{
	uint8_t *p = px_put_reserve(w, n);

	if (p && n)
		memcpy(p, src, n);
}

/*
 * Length-prefixed string: u32 length, then the bytes.  A length of
 * PX_NULL_LEN (SQL NULL) is written alone.  No limit is checked here.
 */
static inline void px_put_str(struct px_wcur *w, const char *s, uint32_t len)
{
	px_put_u32(w, len);
	if (len != PX_NULL_LEN)
		px_put_bytes(w, s, len);
}

/* ---- read side ---- */

/* Consume n bytes; NULL (and PX_ETRUNC) if fewer remain. */
static inline const uint8_t *px_get_bytes(struct px_rcur *r, size_t n)
{
	const uint8_t *p;

	if (r->err)
		return NULL;
	if (n > r->left) {
		px_rfail(r, PX_ETRUNC);
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static inline uint8_t px_get_u8(struct px_rcur *r)
{
	const uint8_t *p = px_get_bytes(r, 1);

	return p ? p[0] : 0;
}

static inline uint16_t px_get_u16(struct px_rcur *r)
{
	const uint8_t *p = px_get_bytes(r, 2);

	return p ? px_le16_load(p) : 0;
}

static inline uint32_t px_get_u32(struct px_rcur *r)
{
	const uint8_t *p = px_get_bytes(r, 4);

	return p ? px_le32_load(p) : 0;
}

static inline uint64_t px_get_u64(struct px_rcur *r)
{
	const uint8_t *p = px_get_bytes(r, 8);

	return p ? px_le64_load(p) : 0;
}

/*
 * Length-prefixed string as a view into the buffer.  A length above `max`
 * fails with PX_ETOOLONG, except PX_NULL_LEN when `nullable` is set, which
 * yields {NULL, PX_NULL_LEN}.  The limit is checked before the length is
 * compared with what remains; the length is never added to a pointer or
 * position before it is known to fit.  On failure *s is {NULL, 0}.
 * Returns the cursor's error.
 */
static inline int px_get_str(struct px_rcur *r, uint32_t max, int nullable,
			     struct px_str *s)
{
	uint32_t len = px_get_u32(r);
	const uint8_t *p;

	s->p = NULL;
	s->len = 0;
	if (r->err)
		return r->err;
	if (len == PX_NULL_LEN && nullable) {
		s->len = PX_NULL_LEN;
		return 0;
	}
	if (len > max) {
		px_rfail(r, PX_ETOOLONG);
		return r->err;
	}
	p = px_get_bytes(r, len);
	if (!p)
		return r->err;
	s->p = (const char *)p;
	s->len = len;
	return 0;
}

#endif
