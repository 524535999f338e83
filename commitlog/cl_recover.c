/*
 * cl_recover.c - opening a log: find the files, replay, repair a torn tail.
 *
 * The rules, and why they hold:
 *
 * 1. Temp files ("snapshot.tmp", "log-*.seg.tmp") are leftovers of a
 *    checkpoint or a segment creation that did not reach its rename.
 *    Nothing refers to them: they are deleted.
 *
 * 2. The snapshot, if any, was synced before it was renamed into place, so
 *    it is whole: any damage in it is corruption (CL_ECORRUPT), never
 *    repaired.  It covers seqs 1..S.
 *
 * 3. Segments sort by their first seq.  A segment whose records are all
 *    covered by the snapshot (the next segment starts at or below S+1) is
 *    not read, and is deleted: it is a leftover of a checkpoint that
 *    crashed before or while deleting it.  The last segment always stays.
 *    The remaining segments must continue the snapshot (the first one starts
 *    at or below S+1; at 1 without a snapshot) and each other (each starts
 *    right after the last record of the one before), or records are
 *    missing: corruption.
 *
 * 4. Inside a segment, records are read one after the other from the
 *    header on, each checked: type not 0, length within max_record and
 *    within the file, CRC32C.  Reading stops at the first position p that
 *    does not hold a valid record.  If everything from p to the end of the
 *    file is zero, p is simply the end of the log (preallocated space, or a
 *    file that ends exactly there).
 *
 * 5. Otherwise the bytes from p on are damage, and the question is whether
 *    they can be a crash's (to cut off) or must be corruption (to report).
 *    A crash damages only what was written since the last sync: the end of
 *    the last segment, from some offset D on, where D is at or before p.
 *    But inside that end it may do anything a disk does: lose a write,
 *    keep part of one, or keep a later page of it and lose an earlier one,
 *    so valid records may follow the damage.  So:
 *    - in a segment that is not the last: corruption.  A segment is synced
 *      whole before the next one is created (cl_log.c), so its end was
 *      durable and no crash can tear it;
 *    - in the last segment, if a valid record after p carries the flag
 *      (version-2 segments, cl_format.h): corruption.  The flag says that
 *      every byte before that record was durable when it was written, p
 *      included, so p was synced and its record went bad afterwards (and
 *      may have been acknowledged).  No flagged record can follow a crash's
 *      damage: the log flags only the first record written after a sync,
 *      at the durable end D, and D <= p;
 *    - in a version-1 last segment (no flags), if a valid record starts
 *      anywhere after p: corruption, the rule of version 1;
 *    - otherwise, a torn tail: the file is cut at p (truncated, then
 *      preallocated again), and the bytes dropped (p up to the last
 *      non-zero byte), what was found at p and the whole records found
 *      after it (written, never synced) are reported in struct cl_recovery.
 *    Valid frames after p are found by trying every byte offset after p,
 *    then hopping from frame to frame.  Corruption is a hard error naming
 *    the file and offset; it is never skipped, because skipping could
 *    silently lose an acknowledged record.  The CL_SALVAGE_TAIL flag lets
 *    an operator cut at p in the last segment anyway.
 *
 * 6. Everything recovered is then made durable (fdatasync of the last
 *    segment, fsync of the directory): records written before a process
 *    crash may still sit in the page cache, and the owner will act on what
 *    it replayed as if it were durable.
 *
 * What cannot be told apart: damage to records that no flagged record
 * follows (the records of the last sync before the crash, or of a sync
 * whose successor's flagged record was lost too) looks like a crash's and
 * is cut off, with whatever valid records follow it.  No log without a
 * separately stored end pointer can tell these apart; the flag stores the
 * end pointer of each sync in the next one.  (Version 1 reported a hole
 * followed by valid records as corruption, so a replica whose unsynced
 * pages persisted out of order could not start.)
 */
#include "cl_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_crc32c.h"

/* ---- the directory listing ---- */

struct listing {
	uint64_t *segs;
	size_t nsegs, capsegs;
	char **tmps;
	size_t ntmps, captmps;
	int has_snapshot;
	int err;          /* CL_ENOMEM or CL_ECORRUPT */
	char bad[CL_NAME_MAX + 64]; /* CL_ECORRUPT: the offending name */
};

static int is_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* Parse "log-<20 digits>.seg" (tail == "") or with ".tmp" (tail ==
 * ".tmp").  Returns 1 and *seq on a match, 0 if the name is something else,
 * -1 if it is a segment name whose number is out of range. */
static int parse_seg(const char *name, const char *tail, uint64_t *seq)
{
	size_t plen = strlen(CL_SEG_PREFIX), slen = strlen(CL_SEG_SUFFIX);
	size_t tlen = strlen(tail);
	uint64_t v = 0;

	if (strlen(name) != plen + CL_SEG_DIGITS + slen + tlen ||
	    strncmp(name, CL_SEG_PREFIX, plen) != 0 || !is_digits(name + plen, CL_SEG_DIGITS) ||
	    strncmp(name + plen + CL_SEG_DIGITS, CL_SEG_SUFFIX, slen) != 0 ||
	    strcmp(name + plen + CL_SEG_DIGITS + slen, tail) != 0)
		return 0;
	for (size_t i = 0; i < CL_SEG_DIGITS; i++) {
		unsigned d = (unsigned)(name[plen + i] - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v == 0)
		return -1;
	*seq = v;
	return 1;
}

static int on_name(void *arg, const char *name)
{
	struct listing *l = arg;
	uint64_t seq;
	int kind;

	if (l->err)
		return 0;
	if (strcmp(name, CL_SNAP_NAME) == 0) {
		l->has_snapshot = 1;
		return 0;
	}
	kind = parse_seg(name, "", &seq);
	if (kind < 0) {
		l->err = CL_ECORRUPT;
		snprintf(l->bad, sizeof(l->bad), "%.*s: segment name out of range", CL_NAME_MAX,
			 name);
		return 0;
	}
	if (kind > 0) {
		if (l->nsegs == l->capsegs) {
			size_t cap = l->capsegs ? l->capsegs * 2 : 16;
			uint64_t *v = realloc(l->segs, cap * sizeof(*v));

			if (!v) {
				l->err = CL_ENOMEM;
				return 0;
			}
			l->segs = v;
			l->capsegs = cap;
		}
		l->segs[l->nsegs++] = seq;
		return 0;
	}
	if (strcmp(name, CL_SNAP_TMP) == 0 || parse_seg(name, CL_TMP_SUFFIX, &seq) != 0) {
		char *copy = malloc(strlen(name) + 1);

		if (l->ntmps == l->captmps) {
			size_t cap = l->captmps ? l->captmps * 2 : 4;
			char **v = realloc(l->tmps, cap * sizeof(*v));

			if (!v) {
				free(copy);
				l->err = CL_ENOMEM;
				return 0;
			}
			l->tmps = v;
			l->captmps = cap;
		}
		if (!copy) {
			l->err = CL_ENOMEM;
			return 0;
		}
		strcpy(copy, name);
		l->tmps[l->ntmps++] = copy;
	}
	/* Any other name is not ours: left alone. */
	return 0;
}

static void listing_free(struct listing *l)
{
	for (size_t i = 0; i < l->ntmps; i++)
		free(l->tmps[i]);
	free(l->tmps);
	free(l->segs);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- reading a segment ---- */

/* Read the whole file f into *buf (grown as needed); *size gets its size. */
static int read_all(struct cl_log *log, struct cl_file *f, const char *name, uint8_t **buf,
		    size_t *cap, size_t *size)
{
	struct cl_io *io = log->io;
	uint64_t n = 0;
	size_t got = 0;
	int e;

	e = io->size(io->ctx, f, &n);
	if (e)
		return cl__io_fail(log, e, "size", name, UINT64_MAX);
	if (n > SIZE_MAX - 1)
		return cl__fail(log, CL_ENOMEM, "%s: %" PRIu64 " bytes do not fit in memory", name, n);
	if (n > *cap || !*buf) {
		uint8_t *p = realloc(*buf, n ? (size_t)n : 1);

		if (!p)
			return cl__fail(log, CL_ENOMEM, "%s: out of memory reading %" PRIu64 " bytes",
					name, n);
		*buf = p;
		*cap = (size_t)n;
	}
	if (n) {
		e = io->read(io->ctx, f, 0, *buf, (size_t)n, &got);
		if (e)
			return cl__io_fail(log, e, "read", name, 0);
		if (got != n)
			return cl__fail(log, CL_EIO, "%s: read %zu bytes of %" PRIu64, name, got, n);
	}
	*size = (size_t)n;
	return 0;
}

/* What frame_check finds at a position. */
enum frame_state {
	FRAME_OK = CL_DAMAGE_NONE,
	FRAME_SHORT = CL_DAMAGE_SHORT,       /* fewer bytes left than a frame header */
	FRAME_ZERO = CL_DAMAGE_ZERO,         /* an all-zero frame header */
	FRAME_TYPE0 = CL_DAMAGE_TYPE0,       /* type 0 */
	FRAME_TOO_LONG = CL_DAMAGE_TOO_LONG, /* length above max_record */
	FRAME_PAST_END = CL_DAMAGE_PAST_END, /* length runs past the end of the file */
	FRAME_CRC = CL_DAMAGE_CRC            /* CRC mismatch */
};

/* A segment's frames: where they are, and how they are read. */
struct frames {
	const uint8_t *b;
	size_t n;
	uint32_t max; /* max_record */
	int v2;       /* version 2: frames may carry CL_LEN_SYNCED */
};

/* A frame's payload length, without the flag. */
static uint32_t frame_len(const struct frames *s, size_t p)
{
	uint32_t len = cl_get32(s->b + p);

	return s->v2 ? len & ~CL_LEN_SYNCED : len;
}

/* Is there a valid record frame at p?  If so, *flen gets its size and
 * *synced (if not NULL) whether it carries the flag. */
static int frame_check(const struct frames *s, size_t p, size_t *flen, int *synced)
{
	const uint8_t *b = s->b;
	uint32_t raw, len, crc, want;
	int flag;

	if (s->n - p < CL_FRAME_HDR)
		return FRAME_SHORT;
	raw = cl_get32(b + p);
	crc = cl_get32(b + p + 4);
	if (b[p + 8] == 0)
		return raw == 0 && crc == 0 ? FRAME_ZERO : FRAME_TYPE0;
	flag = s->v2 && (raw & CL_LEN_SYNCED);
	len = flag ? raw & ~CL_LEN_SYNCED : raw;
	if (len > s->max)
		return FRAME_TOO_LONG;
	if (len > s->n - p - CL_FRAME_HDR)
		return FRAME_PAST_END;
	want = cl_crc32c(0, b + p + 8, (size_t)len + 1) ^ (flag ? CL_CRC_SYNCED : 0);
#if defined(PX_PLANT_BUG) && PX_PLANT_BUG == 11
	/* Planted bug 11: a record whose CRC fails is taken for a good one. */
	want = crc;
#endif
	if (want != crc)
		return FRAME_CRC;
	*flen = CL_FRAME_HDR + (size_t)len;
	if (synced)
		*synced = flag;
	return FRAME_OK;
}

/* Describe what frame_check found at p for an error message. */
static const char *frame_why(int state, const struct frames *s, size_t p, char *why,
			     size_t whylen)
{
	switch (state) {
	case FRAME_SHORT:
		snprintf(why, whylen, "partial record header (%zu bytes)", s->n - p);
		return why;
	case FRAME_ZERO:
		return "zero bytes where a record should start, then non-zero bytes";
	case FRAME_TYPE0:
		return "record type 0";
	case FRAME_TOO_LONG:
		snprintf(why, whylen, "record length %" PRIu32 " exceeds max_record", frame_len(s, p));
		return why;
	case FRAME_PAST_END:
		snprintf(why, whylen, "record length %" PRIu32 " runs past the end of the file",
			 frame_len(s, p));
		return why;
	default:
		return "CRC mismatch";
	}
}

/* The first offset in [from, n) where a valid record starts, or n. */
static size_t find_valid_record(const struct frames *s, size_t from)
{
	size_t flen;

	for (size_t q = from; q + CL_FRAME_HDR <= s->n; q++) {
		if (s->b[q + 8] == 0) /* cheap: type 0 is never a record */
			continue;
		if (frame_check(s, q, &flen, NULL) == FRAME_OK)
			return q;
	}
	return s->n;
}

/* From q, a valid frame, to the end of the file: hop from frame to frame,
 * and over what is not a frame to the next one.  *count gets the frames
 * seen; returns the offset of the first flagged one, or n. */
static size_t walk_after(const struct frames *s, size_t q, uint64_t *count)
{
	size_t flen, first = s->n;
	int synced;

	*count = 0;
	while (q < s->n) {
		if (frame_check(s, q, &flen, &synced) == FRAME_OK) {
			if (synced && first == s->n)
				first = q;
			(*count)++;
			q += flen;
		} else {
			q = find_valid_record(s, q + 1);
		}
	}
	return first;
}

/* One past the last non-zero byte of b[from..n), or from if all are zero. */
static size_t nonzero_end(const uint8_t *b, size_t n, size_t from)
{
	while (n > from && b[n - 1] == 0)
		n--;
	return n;
}

static int deliver(struct cl_log *log, cl_replay_fn fn, void *ctx, uint64_t seq,
		   const uint8_t *frame, size_t flen)
{
	struct cl_record r;
	int rc;

	if (!fn)
		return 0;
	r.seq = seq;
	r.len = (uint32_t)(flen - CL_FRAME_HDR);
	r.type = frame[8];
	r.data = frame + CL_FRAME_HDR;
	r.snapshot = 0;
	rc = fn(ctx, &r);
	if (rc)
		return cl__fail(log, CL_ECANCELED, "replay stopped by the callback (%d) at seq %" PRIu64,
				rc, seq);
	return 0;
}

/* Check a segment's header: magic, CRC, version (*version gets it), first
 * seq. */
static int check_header(struct cl_log *log, const char *name, const uint8_t *b, size_t n,
			uint64_t first, uint32_t *version)
{
	if (n < CL_SEG_HDR)
		return cl__fail(log, CL_ECORRUPT,
				"%s offset 0: file of %zu bytes is shorter than a segment header", name,
				n);
	if (cl_get32(b) != CL_SEG_MAGIC)
		return cl__fail(log, CL_ECORRUPT, "%s offset 0: not a segment (bad magic)", name);
	if (cl_crc32c(0, b, 20) != cl_get32(b + 20))
		return cl__fail(log, CL_ECORRUPT, "%s offset 0: segment header CRC mismatch", name);
	*version = cl_get32(b + 4);
	if (*version < CL_SEG_VERSION_MIN || *version > CL_SEG_VERSION)
		return cl__fail(log, CL_EVERSION, "%s: segment format version %" PRIu32
				", this code reads %u to %u", name, *version, CL_SEG_VERSION_MIN,
				CL_SEG_VERSION);
	if (cl_get64(b + 8) != first)
		return cl__fail(log, CL_ECORRUPT,
				"%s offset 8: header says first seq %" PRIu64 ", the name says %" PRIu64,
				name, cl_get64(b + 8), first);
	return 0;
}

/* Cut the last segment at `at` (rule 5). */
static int cut_tail(struct cl_log *log, struct cl_file *f, const char *name, uint64_t at,
		    uint64_t dropped, int state, uint64_t records)
{
	struct cl_io *io = log->io;
	int e;

	/* Not synced here: the sync of the last segment at the end of
	 * recovery (rule 6) makes the cut durable. */
	e = io->truncate(io->ctx, f, at);
	if (e)
		return cl__io_fail(log, e, "truncate of a torn tail", name, at);
	if (!(log->flags & CL_NO_PREALLOC) && io->allocate) {
		e = io->allocate(io->ctx, f, log->seg_size);
		if (e)
			return cl__io_fail(log, e, "preallocate", name, UINT64_MAX);
	}
	log->rec.dropped_bytes = dropped;
	log->rec.dropped_offset = at;
	log->rec.dropped_damage = state;
	log->rec.dropped_records = records;
	snprintf(log->rec.dropped_file, sizeof(log->rec.dropped_file), "%s", name);
	return 0;
}

/*
 * Read segment `first` (rules 4 and 5), replay its records above the
 * snapshot, and return in *next the seq after its last record.  The last
 * segment stays open as the active one.
 */
static int read_segment(struct cl_log *log, uint64_t first, int is_last, cl_replay_fn fn,
			void *ctx, uint8_t **buf, size_t *cap, uint64_t *next)
{
	struct cl_io *io = log->io;
	char name[CL_NAME_MAX], why[96];
	struct cl_file *f = NULL;
	struct frames fr;
	size_t n = 0, p, flen = 0, end, q, syn;
	uint64_t seq = first, after = 0;
	uint32_t version = 0;
	int err, e, state = FRAME_OK;

	cl__seg_name(name, first, 0);
	e = io->open(io->ctx, name, 0, &f);
	if (e)
		return cl__io_fail(log, e, "open", name, UINT64_MAX);
	err = read_all(log, f, name, buf, cap, &n);
	if (!err)
		err = check_header(log, name, *buf, n, first, &version);
	fr.b = *buf;
	fr.n = n;
	fr.max = log->max_record;
	fr.v2 = version >= 2;
	p = CL_SEG_HDR;
	while (!err) {
		state = frame_check(&fr, p, &flen, NULL);
		if (state != FRAME_OK)
			break;
		if (seq > log->snap_seq) {
			err = deliver(log, fn, ctx, seq, *buf + p, flen);
			log->rec.log_records++;
		}
		p += flen;
		seq++;
	}
	if (err)
		goto close;

	end = nonzero_end(*buf, n, p);
	if (end > p) {
		/* Damage from p on: torn tail or corruption (rule 5). */
		if (!is_last) {
			err = cl__fail(log, CL_ECORRUPT,
				       "%s offset %zu: %s, in a segment that is not the last: "
				       "corruption in the middle of the log",
				       name, p, frame_why(state, &fr, p, why, sizeof(why)));
			goto close;
		}
		q = find_valid_record(&fr, p + 1);
		syn = q < n ? walk_after(&fr, q, &after) : n;
		if (q < n && !(log->flags & CL_SALVAGE_TAIL)) {
			/* Version 1: any valid record after the damage.  Version
			 * 2: a flagged one, written when p was durable. */
			if (!fr.v2) {
				err = cl__fail(log, CL_ECORRUPT,
					       "%s offset %zu: %s, followed by a valid record at offset "
					       "%zu: corruption in the middle of the log",
					       name, p, frame_why(state, &fr, p, why, sizeof(why)), q);
				goto close;
			}
			if (syn < n) {
				err = cl__fail(log, CL_ECORRUPT,
					       "%s offset %zu: %s, followed by a valid record at offset "
					       "%zu written after offset %zu was durable: corruption in "
					       "the middle of the log",
					       name, p, frame_why(state, &fr, p, why, sizeof(why)), syn, p);
				goto close;
			}
		}
		err = cut_tail(log, f, name, p, end - p, state, q < n ? after : 0);
		if (err)
			goto close;
	}
	log->rec.segments++;
	*next = seq;
	if (is_last) {
		log->active = f;
		log->active_v2 = fr.v2;
		log->woff = p;
		return 0;
	}
close:
	io->close(io->ctx, f);
	return err;
}

/* Rule 3: which segments to read, and the continuity checks. */
static int replay_segments(struct cl_log *log, const struct listing *l, cl_replay_fn fn,
			   void *ctx)
{
	uint64_t s = log->snap_seq, next = 0;
	char name[CL_NAME_MAX];
	uint8_t *buf = NULL;
	size_t cap = 0, i0 = 0;
	int err = 0;

	if (l->nsegs == 0) {
		if (s > 0)
			return cl__fail(log, CL_ECORRUPT,
					"the snapshot covers records up to seq %" PRIu64
					" but there is no log segment",
					s);
		log->last_seq = s;
		return cl__seg_create(log, s + 1);
	}
	for (size_t i = 0; i < l->nsegs; i++)
		if (cl__segs_push(log, l->segs[i]))
			return cl__fail(log, CL_ENOMEM, "out of memory");
	while (i0 + 1 < l->nsegs && l->segs[i0 + 1] - 1 <= s)
		i0++;
	for (size_t i = i0; !err && i < l->nsegs; i++) {
		uint64_t first = l->segs[i];

		cl__seg_name(name, first, 0);
		if (i == i0 && s == 0 && first != 1)
			err = cl__fail(log, CL_ECORRUPT,
				       "%s: the log starts at seq %" PRIu64
				       " and there is no snapshot: records 1..%" PRIu64 " are missing",
				       name, first, first - 1);
		else if (i == i0 && first > s + 1)
			err = cl__fail(log, CL_ECORRUPT,
				       "%s: the log starts at seq %" PRIu64 " but the snapshot covers "
				       "only up to %" PRIu64 ": records are missing",
				       name, first, s);
		else if (i > i0 && first != next)
			err = cl__fail(log, CL_ECORRUPT,
				       "%s: starts at seq %" PRIu64 " but the previous segment ends "
				       "at seq %" PRIu64 ": %s",
				       name, first, next - 1,
				       first > next ? "records are missing" : "segments overlap");
		if (!err)
			err = read_segment(log, first, i + 1 == l->nsegs, fn, ctx, &buf, &cap, &next);
	}
	free(buf);
	if (err)
		return err;
	log->last_seq = next - 1;
	if (log->last_seq < s) {
		cl__seg_name(name, l->segs[l->nsegs - 1], 0);
		return cl__fail(log, CL_ECORRUPT,
				"%s: the log ends at seq %" PRIu64
				", before the snapshot's seq %" PRIu64 ": records are missing",
				name, log->last_seq, s);
	}
	return 0;
}

int cl__recover(struct cl_log *log, cl_replay_fn fn, void *ctx)
{
	struct cl_io *io = log->io;
	struct listing l;
	char name[CL_NAME_MAX];
	int err = 0, e;

	memset(&l, 0, sizeof(l));
	e = io->list(io->ctx, on_name, &l);
	if (e)
		err = cl__io_fail(log, e, "listing", "the log directory", UINT64_MAX);
	else if (l.err == CL_ENOMEM)
		err = cl__fail(log, CL_ENOMEM, "out of memory listing the log directory");
	else if (l.err)
		err = cl__fail(log, l.err, "%s", l.bad);

	/* Rule 1: leftover temp files. */
	for (size_t i = 0; !err && i < l.ntmps; i++) {
		e = io->unlink(io->ctx, l.tmps[i]);
		if (e && e != ENOENT)
			err = cl__io_fail(log, e, "unlink of a leftover temp file", l.tmps[i],
					  UINT64_MAX);
		log->rec.removed++;
	}
	/* Rule 2: the snapshot. */
	if (!err && l.has_snapshot)
		err = cl__snapshot_load(log, fn, ctx);
	/* Rules 3-5: the segments. */
	if (!err) {
		if (l.nsegs)
			qsort(l.segs, l.nsegs, sizeof(*l.segs), cmp_u64);
		err = replay_segments(log, &l, fn, ctx);
	}
	listing_free(&l);
	if (!err)
		err = cl__drop_covered(log, &log->rec.removed);

	/* Rule 6: make what was recovered durable. */
	if (!err) {
		cl__seg_name(name, log->segs[log->nsegs - 1], 0);
		e = io->sync(io->ctx, log->active);
		if (e)
			err = cl__io_fail(log, e, "sync", name, UINT64_MAX);
	}
	if (!err) {
		e = io->sync_dir(io->ctx);
		if (e)
			err = cl__io_fail(log, e, "sync", "the log directory", UINT64_MAX);
	}
	if (err)
		return err;
	log->durable_seq = log->last_seq;
	log->fill = log->woff;
	log->rec.last_seq = log->last_seq;
	return 0;
}
