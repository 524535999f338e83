/*
 * px_map.h - a hash map from gid to an item the caller owns.
 *
 * Items embed `struct px_key` as their FIRST member; the map stores item
 * pointers only and never frees them.  Open addressing, linear probing,
 * backward-shift deletion (no tombstones), grows by doubling.
 */
#ifndef PX_MAP_H
#define PX_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "px_msg.h"

struct px_key {
	uint64_t h;
	uint8_t len;
	char s[PX_GID_MAX + 1]; /* NUL-terminated copy */
};

struct px_map {
	struct px_key **slot;
	size_t cap; /* power of two, or 0 */
	size_t n;
};

/* Fill *k from a gid view (len must be 1..PX_GID_MAX). */
void px_key_set(struct px_key *k, struct px_str gid);

void px_map_init(struct px_map *m);
/* Frees the slot array only; items are the caller's. */
void px_map_free(struct px_map *m);
/* Returns the item with this gid, or NULL. */
void *px_map_get(const struct px_map *m, struct px_str gid);
/* Inserts item (its key must be set, and absent from the map).
 * Returns 0, or -1 when out of memory. */
int px_map_put(struct px_map *m, void *item);
/* Removes the item with this key if present; returns it or NULL. */
void *px_map_del(struct px_map *m, const struct px_key *k);
/* Iteration: *pos starts at 0; returns the next item or NULL at the end.
 * The map must not change during iteration except by px_map_del of the
 * item just returned, after which iteration must restart or stop. */
void *px_map_next(const struct px_map *m, size_t *pos);

#endif
