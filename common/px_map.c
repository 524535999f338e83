#include "px_map.h"

#include <stdlib.h>
#include <string.h>

#include "px_gid.h"

void px_key_set(struct px_key *k, struct px_str gid)
{
	size_t len = gid.len > PX_GID_MAX ? PX_GID_MAX : gid.len;
	memcpy(k->s, gid.p, len);
	k->s[len] = '\0';
	k->len = (uint8_t)len;
	k->h = px_hash(k->s, len);
}

void px_map_init(struct px_map *m)
{
	m->slot = NULL;
	m->cap = 0;
	m->n = 0;
}

void px_map_free(struct px_map *m)
{
	free(m->slot);
	px_map_init(m);
}

static int key_eq(const struct px_key *k, uint64_t h, const char *s, size_t len)
{
	return k->h == h && k->len == len && memcmp(k->s, s, len) == 0;
}

void *px_map_get(const struct px_map *m, struct px_str gid)
{
	if (m->cap == 0 || gid.len == 0 || gid.len > PX_GID_MAX)
		return NULL;
	uint64_t h = px_hash(gid.p, gid.len);
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		struct px_key *k = m->slot[i];
		if (!k)
			return NULL;
		if (key_eq(k, h, gid.p, gid.len))
			return k;
	}
}

static void insert_slot(struct px_key **slot, size_t cap, struct px_key *k)
{
	size_t i = k->h & (cap - 1);
	while (slot[i])
		i = (i + 1) & (cap - 1);
	slot[i] = k;
}

int px_map_put(struct px_map *m, void *item)
{
	if ((m->n + 1) * 4 > m->cap * 3) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		struct px_key **ns = calloc(ncap, sizeof(*ns));
		if (!ns)
			return -1;
		for (size_t i = 0; i < m->cap; i++)
			if (m->slot[i])
				insert_slot(ns, ncap, m->slot[i]);
		free(m->slot);
		m->slot = ns;
		m->cap = ncap;
	}
	insert_slot(m->slot, m->cap, item);
	m->n++;
	return 0;
}

void *px_map_del(struct px_map *m, const struct px_key *key)
{
	if (m->cap == 0)
		return NULL;
	size_t mask = m->cap - 1, i = key->h & mask;
	struct px_key *found = NULL;
	for (;; i = (i + 1) & mask) {
		struct px_key *k = m->slot[i];
		if (!k)
			return NULL;
		if (key_eq(k, key->h, key->s, key->len)) {
			found = k;
			break;
		}
	}
	/* Backward-shift: move later entries of the probe run into the hole. */
	size_t hole = i;
	m->slot[hole] = NULL;
	for (size_t j = (hole + 1) & mask; m->slot[j]; j = (j + 1) & mask) {
		size_t home = m->slot[j]->h & mask;
		/* Entry at j may move to hole if hole lies cyclically in [home, j). */
		int movable = (j > hole) ? (home <= hole || home > j) : (home <= hole && home > j);
		if (movable) {
			m->slot[hole] = m->slot[j];
			m->slot[j] = NULL;
			hole = j;
		}
	}
	m->n--;
	return found;
}

void *px_map_next(const struct px_map *m, size_t *pos)
{
	while (*pos < m->cap) {
		struct px_key *k = m->slot[(*pos)++];
		if (k)
			return k;
	}
	return NULL;
}
