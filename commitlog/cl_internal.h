/*
 * cl_internal.h - the log's state, shared by cl_log.c (appending, syncing,
 * segments), cl_recover.c (opening) and cl_snapshot.c (checkpoints).
 */
#ifndef CL_INTERNAL_H
#define CL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "cl_format.h"
#include "cl_io.h"
#include "cl_log.h"

/* A segment boundary inside the append buffer: the record at buffer offset
 * `off`, with seq `seq`, starts a new segment. */
struct cl_break {
	size_t off;
	uint64_t seq;
};

/* A checkpoint being written (between begin and commit/abort). */
struct cl_ckpt {
	int active;
	struct cl_file *f; /* the temp file */
	uint64_t seq;      /* the snapshot covers records 1..seq */
	uint64_t count;    /* records added */
	uint64_t off;      /* where the next flush of buf goes */
	uint64_t body_len;
	uint32_t body_crc;
	uint8_t *buf;      /* added records not yet written */
	size_t blen, bcap;
};

struct cl_log {
	struct cl_io *io;
	uint64_t seg_size;
	uint32_t max_record;
	unsigned flags;

	int err;        /* 0, or the error that made the log FAILED */
	char msg[320];  /* the last error, for people */

	/* Segment files on disk: their first seqs, ascending.  The last one is
	 * the active segment, open in `active`, with records up to woff. */
	uint64_t *segs;
	size_t nsegs, capsegs;
	struct cl_file *active;
	uint64_t woff;
	int active_v2; /* the active segment is of version 2: frames may be flagged */

	uint64_t last_seq;    /* last record appended */
	uint64_t durable_seq; /* last record known durable */
	uint64_t snap_seq;    /* the snapshot covers 1..snap_seq */

	/* Records appended since the last sync, framed, ready to write.  The
	 * first bwritten bytes were written already (cl_log_write), not synced;
	 * they all belong to the active segment (before any break). */
	uint8_t *buf;
	size_t blen, bcap, bwritten;
	struct cl_break *breaks;
	size_t nbreaks, capbreaks;
	uint64_t fill; /* bytes the segment being filled holds once buf is written */

	struct cl_ckpt ck;
	struct cl_recovery rec;
};

#if defined(__GNUC__) || defined(__clang__)
#define CL_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CL_PRINTF(f, a)
#endif

/* Set the message (printf-style) and return code, without failing the log
 * (for argument errors). */
int cl__error(struct cl_log *log, int code, const char *fmt, ...) CL_PRINTF(3, 4);
/* Make the log FAILED with code (the first failure is kept) and return it. */
int cl__fail(struct cl_log *log, int code, const char *fmt, ...) CL_PRINTF(3, 4);
/* Fail the log because an I/O method returned errno value e while doing
 * `what` on `file` (offset off, or UINT64_MAX for none). */
int cl__io_fail(struct cl_log *log, int e, const char *what, const char *file, uint64_t off);

/* "log-<20 digits>.seg", plus ".tmp" if tmp. */
void cl__seg_name(char *buf, uint64_t first_seq, int tmp);
/* Frame a record into p (CL_FRAME_HDR + len bytes). */
void cl__frame_put(uint8_t *p, uint8_t type, const void *data, uint32_t len);
/* Create segment first_seq (temp file, preallocate, header, sync, rename,
 * sync the directory) and make it the active segment. */
int cl__seg_create(struct cl_log *log, uint64_t first_seq);
/* Append first_seq to the segment list. */
int cl__segs_push(struct cl_log *log, uint64_t first_seq);
/* Unlink the segments whose records are all covered by the snapshot
 * (never the active one); *removed counts them.  Does not sync the
 * directory. */
int cl__drop_covered(struct cl_log *log, uint32_t *removed);

/* cl_recover.c: everything cl_log_open does after allocating the log. */
int cl__recover(struct cl_log *log, cl_replay_fn fn, void *ctx);
/* cl_snapshot.c: read and replay the snapshot file; sets log->snap_seq. */
int cl__snapshot_load(struct cl_log *log, cl_replay_fn fn, void *ctx);
/* cl_snapshot.c: free the checkpoint in progress, if any (no I/O but close). */
void cl__ckpt_free(struct cl_log *log);

#endif
