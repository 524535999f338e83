#include "px_update.h"

#include <stdlib.h>
#include <string.h>

void px_update_init(struct px_update *u)
{
	memset(u, 0, sizeof(*u));
}

void px_update_free(struct px_update *u)
{
	free(u->arena);
	free(u->rec);
	free(u->now);
	free(u->held);
	free(u->db);
	memset(u, 0, sizeof(*u));
}

void px_update_reset(struct px_update *u)
{
	u->alen = 0;
	u->nrec = 0;
	u->nnow = 0;
	u->nheld = 0;
	u->ndb = 0;
	u->timer = 0;
	u->oom = 0;
	u->enc_err = 0;
}

/* Grow a vector of elements of size `sz` to hold n+1. */
static int grow(void **v, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 16;
	void *nv = realloc(*v, nc * sz);
	if (!nv)
		return -1;
	*v = nv;
	*cap = nc;
	return 0;
}

static int arena_reserve(struct px_update *u, size_t len)
{
	if (u->alen + len <= u->acap)
		return 0;
	size_t nc = u->acap ? u->acap : 4096;
	while (nc < u->alen + len)
		nc *= 2;
	if (nc > UINT32_MAX)
		return -1;
	uint8_t *na = realloc(u->arena, nc);
	if (!na)
		return -1;
	u->arena = na;
	u->acap = nc;
	return 0;
}

int px_update_encode(struct px_update *u, const struct px_msg *m, uint32_t *off, uint32_t *len)
{
	/* Try a small frame first, a bigger one only if the message needs it. */
	size_t need = 512, n = 0;
	int err;
	for (;;) {
		if (arena_reserve(u, need)) {
			u->oom = 1;
			return -1;
		}
		err = px_encode(m, u->arena + u->alen, u->acap - u->alen, &n);
		if (err != PX_ESPACE || need >= PX_FRAME_MAX)
			break;
		need = (u->acap - u->alen) * 2;
	}
	if (err) {
		u->enc_err = err;
		return err;
	}
	*off = (uint32_t)u->alen;
	*len = (uint32_t)n;
	u->alen += n;
	return 0;
}

int px_update_send(struct px_update *u, struct px_addr to, const struct px_msg *m, int held)
{
	struct px_send **v = held ? &u->held : &u->now;
	size_t *n = held ? &u->nheld : &u->nnow, *cap = held ? &u->capheld : &u->capnow;
	if (grow((void **)v, cap, *n, sizeof(**v))) {
		u->oom = 1;
		return -1;
	}
	uint32_t off, len;
	int err = px_update_encode(u, m, &off, &len);
	if (err)
		return err;
	(*v)[*n].to = to;
	(*v)[*n].off = off;
	(*v)[*n].len = len;
	(*v)[*n].lazy = 0;
	(*n)++;
	return 0;
}

int px_update_send_lazy(struct px_update *u, struct px_addr to, const struct px_msg *m)
{
	int e = px_update_send(u, to, m, 0);
	if (!e)
		u->now[u->nnow - 1].lazy = 1;
	return e;
}

int px_update_send_deferred(struct px_update *u, struct px_addr to, const struct px_msg *m)
{
	int e = px_update_send(u, to, m, 1);
	if (!e)
		u->held[u->nheld - 1].lazy = 1;
	return e;
}

uint8_t *px_update_rec(struct px_update *u, uint32_t len)
{
	if (arena_reserve(u, len) || grow((void **)&u->rec, &u->caprec, u->nrec, sizeof(*u->rec))) {
		u->oom = 1;
		return NULL;
	}
	u->rec[u->nrec].off = (uint32_t)u->alen;
	u->rec[u->nrec].len = len;
	u->rec[u->nrec].lazy = 0;
	u->nrec++;
	u->rec_seq++;
	uint8_t *p = u->arena + u->alen;
	u->alen += len;
	return p;
}

uint32_t px_update_copy(struct px_update *u, const void *p, size_t len)
{
	if (len > UINT32_MAX || arena_reserve(u, len)) {
		u->oom = 1;
		return UINT32_MAX;
	}
	uint32_t off = (uint32_t)u->alen;
	memcpy(u->arena + off, p, len);
	u->alen += len;
	return off;
}

int px_update_hold_frame(struct px_update *u, struct px_addr to, const uint8_t *p, uint32_t len)
{
	if (grow((void **)&u->held, &u->capheld, u->nheld, sizeof(*u->held)))
		return -1;
	uint32_t off = px_update_copy(u, p, len);
	if (off == UINT32_MAX)
		return -1;
	u->held[u->nheld++] = (struct px_send){.to = to, .off = off, .len = len, .lazy = 0};
	return 0;
}

struct pa_db_action *px_update_db(struct px_update *u)
{
	if (grow((void **)&u->db, &u->capdb, u->ndb, sizeof(*u->db))) {
		u->oom = 1;
		return NULL;
	}
	struct pa_db_action *a = &u->db[u->ndb++];
	memset(a, 0, sizeof(*a));
	return a;
}

void px_update_timer(struct px_update *u, uint64_t at)
{
	if (at && (u->timer == 0 || at < u->timer))
		u->timer = at;
}
