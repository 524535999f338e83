/*
 * cl_io_fault.h - a backend that fails chosen calls of another one.
 *
 * Every call is forwarded to the wrapped backend, except the one chosen to
 * fail: it returns the chosen errno value (ENOSPC, EIO, ...) without
 * reaching the wrapped backend, so nothing of it happens.  Calls are
 * counted per kind; arming names the kinds that count, which matching call
 * fails (the 1st, 2nd, ... from the moment of arming), and whether every
 * later matching call fails too (a full disk stays full; a dead disk stays
 * dead).
 */
#ifndef CL_IO_FAULT_H
#define CL_IO_FAULT_H

#include <stdint.h>

#include "cl_io.h"

enum cl_fault_kind {
	CL_FAULT_WRITE = 1u << 0,    /* write */
	CL_FAULT_RESIZE = 1u << 1,   /* truncate, allocate */
	CL_FAULT_SYNC = 1u << 2,     /* sync of a file */
	CL_FAULT_SYNC_DIR = 1u << 3, /* sync_dir */
	CL_FAULT_NAMES = 1u << 4,    /* open with CL_IO_CREATE, rename, unlink */
	CL_FAULT_READ = 1u << 5,     /* read, size, list, open without CL_IO_CREATE */
	CL_FAULT_MUTATE = 0x1Fu,     /* everything that changes the disk */
	CL_FAULT_ANY = 0x3Fu
};

struct cl_io_fault;

/* Wrap inner (which must outlive the result).  NULL if out of memory. */
struct cl_io_fault *cl_io_fault_new(struct cl_io *inner);
struct cl_io *cl_io_fault_io(struct cl_io_fault *f);
void cl_io_fault_destroy(struct cl_io_fault **f);

/*
 * From now on, the nth (1-based) call of a kind in `kinds` fails with err;
 * with sticky, so does every matching call after it.  Re-arming replaces
 * the previous setting and restarts the count.
 */
void cl_io_fault_arm(struct cl_io_fault *f, unsigned kinds, uint64_t nth, int err, int sticky);
void cl_io_fault_disarm(struct cl_io_fault *f);
/* Calls of the given kinds seen since creation (failed ones included). */
uint64_t cl_io_fault_calls(const struct cl_io_fault *f, unsigned kinds);
/* Calls failed on purpose since creation. */
uint64_t cl_io_fault_injected(const struct cl_io_fault *f);

#endif
