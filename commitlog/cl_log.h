/*
 * cl_log.h - the durable commit log: an append-only sequence of records in
 * segment files, with group commit, crash recovery and checkpoints.
 *
 * Records are numbered 1, 2, 3, ... (the sequence number, "seq").  A record
 * is a type (1..255) and a payload of 0..max_record bytes.
 *
 * Writing is split from making durable (group commit):
 *
 *     cl_log_append(log, ...)          as many times as there are records,
 *     cl_log_sync(log, &durable_seq)   once: one write and one fdatasync,
 *
 * and every record up to durable_seq survives any later crash.  A driver
 * of a protocol core (coordinator/px_replica.h) appends every record of an
 * update, syncs once, and steps PX_EV_PERSISTED with the core's own count:
 * core seq = log seq - the log's last seq at startup.
 *
 * Recovery (cl_log_open) replays the snapshot, then every record after it,
 * in order, through a callback; see README.md for the rules that tell a
 * torn tail (cut off and reported) from corruption (a hard error).  A
 * crash may lose, tear or reorder whatever was written and not synced;
 * recovery returns every durable record and a prefix of the others, each
 * whole and unchanged.
 *
 * Checkpoint: the owner writes its live state as a set of records; they
 * replace every record up to the current seq, and the log files those
 * records lived in are deleted, so disk use stays bounded.
 *
 * Errors: every function returning int returns 0 or a positive enum cl_err
 * code; cl_log_errmsg() says what happened in words, with file names and
 * offsets.  A failed write, sync, rename or unlink is never retried or
 * ignored: the log becomes FAILED, and every later call returns CL_EFAILED.
 * The owner must then stop acknowledging anything, close the log and
 * reopen it from disk (normally: restart the process).
 *
 * A log is not thread-safe; use it from one thread at a time.  The library
 * has no global mutable state: separate logs are independent.
 */
#ifndef CL_LOG_H
#define CL_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "cl_io.h"

enum cl_err {
	CL_OK = 0,
	CL_EIO = 1,       /* a read, write, sync, rename or unlink failed */
	CL_ENOSPC = 2,    /* no space left on the device (or quota) */
	CL_ECORRUPT = 3,  /* damage recovery must not repair (names file and offset) */
	CL_EVERSION = 4,  /* a file of an unknown format version */
	CL_EFAILED = 5,   /* the log failed earlier: close it, reopen from disk */
	CL_ENOMEM = 6,    /* out of memory (an append: nothing was done; I/O: FAILED) */
	CL_EINVAL = 7,    /* bad argument: type 0, record too long, bad config */
	CL_ESTATE = 8,    /* not now: e.g. append during a checkpoint */
	CL_ECANCELED = 9  /* the replay callback stopped recovery */
};

/* A short constant description of an error code ("unknown error" else). */
const char *cl_strerror(int err);

#define CL_SEGMENT_SIZE_DEFAULT (64u * 1024 * 1024)
#define CL_RECORD_MAX_DEFAULT (1u * 1024 * 1024)
#define CL_RECORD_MAX_LIMIT (256u * 1024 * 1024)
#define CL_SEGMENT_SIZE_MIN 64u

enum cl_flags {
	/* Do not preallocate segment files.  By default each new segment is
	 * allocated to segment_size at creation, so that an fdatasync after
	 * an append flushes only data, not a new file size. */
	CL_NO_PREALLOC = 1u << 0,
	/* Operator's repair switch, off by default: treat the first bad record
	 * of the last segment as a torn tail even if records that prove it
	 * durable follow it (they are cut off and counted in dropped_bytes).
	 * Use it only after deciding that those records were never
	 * acknowledged, e.g. in a segment of format version 1 after a crash
	 * that persisted a later page of an unsynced write but not an earlier
	 * one (version 2 cuts that case by itself). */
	CL_SALVAGE_TAIL = 1u << 1
};

struct cl_config {
	struct cl_io *io;      /* borrowed; must outlive the log */
	/* Roll over at this size (at least CL_SEGMENT_SIZE_MIN); 0: default. */
	uint64_t segment_size;
	/* Longest payload (at most CL_RECORD_MAX_LIMIT); 0: default.  Recovery
	 * treats a longer length as damage, so never lower it below the
	 * longest record already written. */
	uint32_t max_record;
	unsigned flags;        /* enum cl_flags */
};

/* One record as recovery replays it. */
struct cl_record {
	uint64_t seq;        /* log record: its seq; snapshot record: the snapshot's seq */
	const uint8_t *data; /* payload; valid only during the callback */
	uint32_t len;
	uint8_t type;        /* 1..255 */
	uint8_t snapshot;    /* 1: a record of the snapshot; 0: a log record */
};

/* Called once per record, snapshot records first, then log records in seq
 * order.  Return 0 to go on; anything else stops recovery (CL_ECANCELED). */
typedef int (*cl_replay_fn)(void *ctx, const struct cl_record *rec);

/* A record to append or to put in a checkpoint. */
struct cl_iov {
	uint8_t type; /* 1..255 (0 is reserved: zeros on disk mean "no record") */
	const void *data;
	uint32_t len;
};

/* What recovery found where it cut a torn tail (struct cl_recovery). */
enum cl_damage {
	CL_DAMAGE_NONE = 0,     /* nothing was cut */
	CL_DAMAGE_SHORT = 1,    /* a partial frame header at the end of the file */
	CL_DAMAGE_ZERO = 2,     /* zeros where a record should start, then non-zero bytes */
	CL_DAMAGE_TYPE0 = 3,    /* a frame header with type 0 */
	CL_DAMAGE_TOO_LONG = 4, /* a length above max_record */
	CL_DAMAGE_PAST_END = 5, /* a length that runs past the end of the file */
	CL_DAMAGE_CRC = 6       /* a whole frame whose CRC does not match */
};

/* What recovery found, for logs and tests. */
struct cl_recovery {
	uint64_t snapshot_seq;     /* seq the snapshot covers; 0: no snapshot */
	uint64_t snapshot_records; /* records replayed from the snapshot */
	uint64_t log_records;      /* records replayed from the segments */
	uint64_t last_seq;         /* the last seq recovered (next append: +1) */
	uint32_t segments;         /* segment files read */
	uint32_t removed;          /* leftover files removed: temp files, covered segments */
	uint64_t dropped_bytes;    /* torn tail cut off the last segment (0: none):
				    * dropped_offset up to its last non-zero byte */
	uint64_t dropped_offset;   /* where the cut was made */
	char dropped_file[40];     /* in which file ("" if none) */
	int dropped_damage;        /* enum cl_damage: what was found at dropped_offset */
	uint64_t dropped_records;  /* whole records found after the damage and cut with it
				    * (written, never synced: a crash kept a later page
				    * of them and not an earlier one) */
};

struct cl_log;

/*
 * Open the log in cfg->io's directory (an empty directory starts a new log)
 * and recover it: delete leftover temp files, replay the snapshot and every
 * durable record after it through fn(ctx, rec), cut a torn tail off the last
 * segment, delete segments the snapshot covers, and make everything it
 * recovered durable (fdatasync of the last segment, fsync of the directory),
 * so that every replayed record counts as durable.
 *
 * On return *out is a handle to pass to cl_log_close(), whatever the result
 * (it is NULL only if memory ran out).  On an error the handle is FAILED
 * and cl_log_errmsg() says why; the records fn received must then be
 * discarded.  fn may be NULL (the records are checked, not delivered).
 * cfg is copied; cfg->io is borrowed.
 */
int cl_log_open(const struct cl_config *cfg, cl_replay_fn fn, void *ctx, struct cl_log **out);

/*
 * Release the log and set *log to NULL.  Writes nothing: records appended
 * since the last successful cl_log_sync() are not made durable (they may or
 * may not be found by the next recovery).  A checkpoint in progress is
 * abandoned (its temp file is removed by the next open).
 */
void cl_log_close(struct cl_log **log);

/*
 * Append one record (copied; the caller keeps data).  It is durable only
 * after a later cl_log_sync() succeeds.  *seq (if not NULL) gets its seq.
 * Does no I/O.  Errors: CL_EINVAL (type 0, len > max_record), CL_ENOMEM,
 * CL_ESTATE (a checkpoint is in progress), CL_EFAILED.  On error nothing was
 * appended and the log is unchanged.
 */
int cl_log_append(struct cl_log *log, uint8_t type, const void *data, uint32_t len,
		  uint64_t *seq);

/* Append n records, all or none; *last_seq gets the seq of the last one. */
int cl_log_appendv(struct cl_log *log, const struct cl_iov *recs, size_t n, uint64_t *last_seq);

/*
 * Write every appended record and make it durable: one write per segment
 * touched and one fdatasync of each (rolling over to new segments as
 * needed).  *durable_seq (if not NULL) gets cl_log_durable_seq().  With
 * nothing appended since the last sync it does no I/O.
 * Errors: CL_EIO, CL_ENOSPC, CL_ENOMEM (the log is then FAILED), CL_EFAILED.
 */
int cl_log_sync(struct cl_log *log, uint64_t *durable_seq);

/*
 * Write the records appended since the last write or sync that belong to
 * the active segment, without making them durable (no fdatasync): they
 * reach the file (the page cache, and perhaps part of them the disk) before
 * cl_log_sync(), which then writes only the rest and syncs.  Records past
 * a segment rollover wait for cl_log_sync(), which must sync a segment
 * before it creates the next.  durable_seq does not change.  A crash may
 * keep any part of what was written and not synced, in any order; recovery
 * then returns whole records of it, a prefix in seq order, or none.
 * Errors: CL_EIO, CL_ENOSPC (the log is then FAILED), CL_EFAILED.
 */
int cl_log_write(struct cl_log *log);

/* The seq of the last record appended (or recovered); 0 if none ever. */
uint64_t cl_log_last_seq(const struct cl_log *log);
/* Every record up to this seq is durable.  Never decreases; still
 * meaningful once the log is FAILED. */
uint64_t cl_log_durable_seq(const struct cl_log *log);
/* The seq the current snapshot covers (0: none). */
uint64_t cl_log_snapshot_seq(const struct cl_log *log);
/* Segment files the log currently has on disk. */
size_t cl_log_segment_count(const struct cl_log *log);

/*
 * Checkpoint, in three steps:
 *   cl_log_checkpoint_begin: syncs the log; the snapshot will cover every
 *       record up to *seq (= cl_log_last_seq()), and starts a temp file;
 *   cl_log_checkpoint_add: one record of the owner's live state as of seq
 *       (copied); as many as needed;
 *   cl_log_checkpoint_commit: completes the temp file, fsyncs it, renames
 *       it over the current snapshot, fsyncs the directory, then deletes
 *       every segment whose records are all covered, and fsyncs the
 *       directory again.
 * Between begin and commit/abort, appends fail with CL_ESTATE.  A crash at
 * any point leaves either the old snapshot and its segments or the new
 * snapshot and (a superset of) the remaining segments; both recover.
 * cl_log_checkpoint_abort discards the temp file.
 * Errors: as cl_log_sync; any I/O error makes the log FAILED.
 */
int cl_log_checkpoint_begin(struct cl_log *log, uint64_t *seq);
int cl_log_checkpoint_add(struct cl_log *log, uint8_t type, const void *data, uint32_t len);
int cl_log_checkpoint_commit(struct cl_log *log);
int cl_log_checkpoint_abort(struct cl_log *log);
/* All three steps with the records recs[0..n). */
int cl_log_checkpoint(struct cl_log *log, const struct cl_iov *recs, size_t n);

/* 0 while the log works; once FAILED, the error that failed it. */
int cl_log_error(const struct cl_log *log);
/* A message for people about the last error ("" if none); valid until the
 * next call on the log. */
const char *cl_log_errmsg(const struct cl_log *log);
/* What the recovery in cl_log_open found; valid until cl_log_close. */
const struct cl_recovery *cl_log_recovery(const struct cl_log *log);

#endif
