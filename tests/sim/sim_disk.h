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

/* What a disk saw, counted since sdisk_new. */
struct sdisk_stats {
	uint64_t torn_writes;  /* writes (pages) that crashes kept in part */
	uint64_t reorders;     /* crashes that kept a later write or page of a
				* file and not all of an earlier one */
	uint64_t torn_tails;   /* recoveries that cut a torn tail */
	uint64_t crc_cuts;     /* ... whose first bad frame failed its CRC */
	uint64_t reorder_cuts; /* ... that cut whole records after the damage */
	uint64_t checks;       /* recoveries checked against the shadow */
};

struct sdisk *sdisk_new(void);
void sdisk_free(struct sdisk **d);
/* (Re)open the log and recover it.  *recs (n of them) stay valid until the
 * next open or free.  On error err says why.  On success the recovered
 * records have been checked against the shadow of what was appended (see
 * sdisk_violation). */
int sdisk_open(struct sdisk *d, const struct px_str **recs, size_t *n, char *err, size_t errcap);
/* After a successful sdisk_open: NULL, or what the recovered log got wrong
 * (a record that differs from the one appended at its position, a durable
 * record missing, a record never appended). */
const char *sdisk_violation(const struct sdisk *d);
int sdisk_append(struct sdisk *d, const void *p, uint32_t len);
/* Write what was appended (no sync): a crash from now on may keep any part
 * of it. */
int sdisk_write(struct sdisk *d);
uint64_t sdisk_appended(const struct sdisk *d); /* last log seq */
uint64_t sdisk_durable(const struct sdisk *d);  /* durable log seq */
uint64_t sdisk_base(const struct sdisk *d);     /* last log seq at open */
/* Sync; fault != 0 makes the first write or fsync of it fail with that
 * errno (the log is then FAILED: the owner must restart). */
int sdisk_sync(struct sdisk *d, int fault);
/* Replace everything logged so far with the records of snap. */
int sdisk_checkpoint(struct sdisk *d, const struct px_update *snap);
size_t sdisk_segments(const struct sdisk *d);
/* Power loss: close the log; what was written and not synced is lost,
 * kept, torn or reordered, as the seed says (sim_disk.c). */
int sdisk_crash(struct sdisk *d, uint64_t seed);
void sdisk_stats(const struct sdisk *d, struct sdisk_stats *out);

#endif
