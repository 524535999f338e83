/*
 * cl_io_crash.h - a backend that simulates power loss.
 *
 * It wraps another backend (normally cl_io_mem) and forwards every call, so
 * reads see everything written, as they would from the page cache.  It
 * also remembers what is durable:
 *   - per file: its bytes as of the last successful sync(), plus the list
 *     of writes, truncations and allocations made since;
 *   - for the directory: the names as of the last successful sync_dir(),
 *     plus the creations, renames and unlinks made since.
 *
 * cl_io_crash_crash() then replaces the wrapped directory by what a machine
 * would find after power loss at that instant, as chosen by a plan and a
 * seed (deterministic: the same history, plan and seed give the same
 * result):
 *   - the directory: the durable names, plus a prefix of the namespace
 *     operations made since the last sync_dir() (a journaling file system
 *     commits them in order);
 *   - each file: its durable bytes, then, depending on the mode:
 *       CL_CRASH_DROP: every unsynced change is dropped, except that the
 *         last unsynced write of the whole directory may survive torn;
 *       CL_CRASH_PREFIX: for every file, a prefix (in issue order) of its
 *         unsynced changes survives, the last write of it possibly torn;
 *       CL_CRASH_PAGES: what a disk and a page cache do: every unsynced
 *         write is cut into pages (plan->page bytes, at multiples of it in
 *         the file), and each page, on its own, reaches the disk whole, is
 *         lost, or is torn; so a later page may persist while an earlier
 *         one does not (reordering).  Unsynced size changes survive as an
 *         issue-order prefix;
 *   - a torn write keeps a prefix of its bytes; the rest of its range is
 *     either left as it was or, with garbage, overwritten by random bytes.
 *     A torn page keeps a prefix of its bytes; the rest of the page's part
 *     of the write is left as it was, zeroed, or (garbage) random.
 * Bytes that no unsynced write covers are never changed: what was synced
 * stays intact unless the owner overwrote it since.
 *
 * After a crash every file opened before it is dead: its methods fail with
 * EIO (close still works), and the new state counts as durable.
 */
#ifndef CL_IO_CRASH_H
#define CL_IO_CRASH_H

#include <stdint.h>

#include "cl_io.h"

struct cl_io_crash;

enum cl_crash_mode {
	CL_CRASH_DROP = 0,  /* unsynced changes lost; the last write may be torn */
	CL_CRASH_PREFIX = 1, /* a prefix of each file's unsynced changes survives */
	CL_CRASH_PAGES = 2   /* each unsynced page persists, is lost or is torn, on its own */
};

struct cl_crash_plan {
	int mode;       /* enum cl_crash_mode */
	long tear;      /* bytes kept of the torn write: -1 random, else capped at its length */
	int garbage;    /* -1 random; 0 the rest of the torn range is untouched; 1 garbage */
	long dir_ops;   /* namespace ops kept since the last sync_dir: -1 random, else capped */
	long page;      /* CL_CRASH_PAGES: page size in bytes; <= 0: 512 */
};

/* What the crashes so far did to unsynced writes (cumulative). */
struct cl_crash_stats {
	uint64_t crashes;
	uint64_t writes;    /* unsynced writes found at a crash */
	uint64_t kept;      /* writes (PAGES: pages) that survived whole */
	uint64_t torn;      /* writes (PAGES: pages) that survived in part */
	uint64_t lost;      /* writes (PAGES: pages) that did not survive at all */
	uint64_t reordered; /* files in which a crash kept bytes of a write or
			     * page after one it did not keep whole */
};

/*
 * Wrap `inner`, which must outlive the result.  The files already in inner
 * count as durable.  Returns 0 and *out, or ENOMEM / an error of inner.
 */
int cl_io_crash_new(struct cl_io *inner, struct cl_io_crash **out);
struct cl_io *cl_io_crash_io(struct cl_io_crash *c);
/* Close the files opened through it first.  Leaves inner as it is. */
void cl_io_crash_destroy(struct cl_io_crash **c);

/*
 * Simulate power loss now, following plan (NULL: everything random) with
 * the random choices drawn from seed.  Returns 0, or an error of inner or
 * ENOMEM (the state of inner is then undefined).
 */
int cl_io_crash_crash(struct cl_io_crash *c, uint64_t seed, const struct cl_crash_plan *plan);

/* Bytes written (by write) and not yet synced, over all files. */
uint64_t cl_io_crash_unsynced(const struct cl_io_crash *c);

/* What the crashes made so far did (counted since cl_io_crash_new). */
void cl_io_crash_stats(const struct cl_io_crash *c, struct cl_crash_stats *out);

#endif
