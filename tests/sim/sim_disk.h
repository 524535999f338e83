/*
 * sim_disk.h - a simulated replica's disk (see sim_disk.c).
 * Errors are enum cl_err codes (commitlog/cl_log.h).
 */
#ifndef SIM_DISK_H
#define SIM_DISK_H

#include <stddef.h>
#include <stdint.h>

#include "px_msg.h"
#include "px_update.h"

struct sdisk;

struct sdisk *sdisk_new(void);
void sdisk_free(struct sdisk **d);
/* (Re)open the log and recover it.  *recs (n of them) stay valid until the
 * next open or free.  On error err says why. */
int sdisk_open(struct sdisk *d, const struct px_str **recs, size_t *n, char *err, size_t errcap);
int sdisk_append(struct sdisk *d, const void *p, uint32_t len);
uint64_t sdisk_appended(const struct sdisk *d); /* last log seq */
uint64_t sdisk_durable(const struct sdisk *d);  /* durable log seq */
uint64_t sdisk_base(const struct sdisk *d);     /* last log seq at open */
/* Sync; fault != 0 makes the first write or fsync of it fail with that
 * errno (the log is then FAILED: the owner must restart). */
int sdisk_sync(struct sdisk *d, int fault);
/* Replace everything logged so far with the records of snap. */
int sdisk_checkpoint(struct sdisk *d, const struct px_update *snap);
size_t sdisk_segments(const struct sdisk *d);
/* Power loss: close the log; unsynced writes are dropped, the last may be
 * torn (random, from seed). */
int sdisk_crash(struct sdisk *d, uint64_t seed);

#endif
