/*
 * cl_log.c - the log's life cycle, appending, group commit and segments.
 *
 * Appending only frames records into a buffer (no I/O).  cl_log_sync()
 * writes the buffer with one write per segment it touches and makes it
 * durable with one sync per segment, so a batch of records costs one
 * write and one fdatasync in the common case.  cl_log_write() may write
 * the part of the buffer that goes to the active segment earlier, without
 * a sync; cl_log_sync() then writes only the rest.
 *
 * Segment rollover happens inside cl_log_sync: the records that belong to
 * the old segment are written and synced first, and only then is the next
 * segment created (temp file, preallocation, header, sync, rename, sync of
 * the directory).  So every segment but the last is complete and durable
 * before a later one exists, which is what lets recovery treat damage in
 * an earlier segment as corruption, never as a torn write (cl_recover.c).
 *
 * Any failed I/O call makes the log FAILED: nothing is retried (after a
 * failed fdatasync the kernel may have dropped the dirty pages, so a retry
 * that succeeds proves nothing), and every later call says CL_EFAILED.
 */
#include "cl_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_crc32c.h"

const char *cl_strerror(int err)
{
	switch (err) {
	case CL_OK:
		return "success";
	case CL_EIO:
		return "I/O error";
	case CL_ENOSPC:
		return "no space left on device";
	case CL_ECORRUPT:
		return "log corrupt";
	case CL_EVERSION:
		return "unknown log format version";
	case CL_EFAILED:
		return "log failed earlier; reopen it from disk";
	case CL_ENOMEM:
		return "out of memory";
	case CL_EINVAL:
		return "invalid argument";
	case CL_ESTATE:
		return "not allowed in the current state";
	case CL_ECANCELED:
		return "recovery stopped by the replay callback";
	default:
		return "unknown error";
	}
}

/* ---- errors ---- */

static void set_msg(struct cl_log *log, const char *fmt, va_list ap)
{
	vsnprintf(log->msg, sizeof(log->msg), fmt, ap);
}

int cl__error(struct cl_log *log, int code, const char *fmt, ...)
{
	va_list ap;

	if (log->err) /* keep the message of the failure */
		return code;
	va_start(ap, fmt);
	set_msg(log, fmt, ap);
	va_end(ap);
	return code;
}

int cl__fail(struct cl_log *log, int code, const char *fmt, ...)
{
	va_list ap;

	if (log->err)
		return code;
	log->err = code;
	va_start(ap, fmt);
	set_msg(log, fmt, ap);
	va_end(ap);
	return code;
}

static int map_errno(int e)
{
	switch (e) {
	case ENOSPC:
#ifdef EDQUOT
	case EDQUOT:
#endif
		return CL_ENOSPC;
	case ENOMEM:
		return CL_ENOMEM;
	default:
		return CL_EIO;
	}
}

int cl__io_fail(struct cl_log *log, int e, const char *what, const char *file, uint64_t off)
{
	if (off == UINT64_MAX)
		return cl__fail(log, map_errno(e), "%s: %s failed: %s", file, what, strerror(e));
	return cl__fail(log, map_errno(e), "%s offset %" PRIu64 ": %s failed: %s", file, off,
			what, strerror(e));
}

/* ---- names, frames, segments ---- */

void cl__seg_name(char *buf, uint64_t first_seq, int tmp)
{
	snprintf(buf, CL_NAME_MAX, CL_SEG_PREFIX "%020" PRIu64 CL_SEG_SUFFIX "%s", first_seq,
		 tmp ? CL_TMP_SUFFIX : "");
}

void cl__frame_put(uint8_t *p, uint8_t type, const void *data, uint32_t len)
{
	uint32_t crc = cl_crc32c(0, &type, 1);

	if (len)
		crc = cl_crc32c(crc, data, len);
	cl_put32(p, len);
	cl_put32(p + 4, crc);
	p[8] = type;
	if (len)
		memcpy(p + CL_FRAME_HDR, data, len);
}

/* Room for one more segment in the list. */
static int segs_reserve(struct cl_log *log)
{
	size_t cap;
	uint64_t *v;

	if (log->nsegs < log->capsegs)
		return 0;
	cap = log->capsegs ? log->capsegs * 2 : 16;
	v = realloc(log->segs, cap * sizeof(*v));
	if (!v)
		return CL_ENOMEM;
	log->segs = v;
	log->capsegs = cap;
	return 0;
}

int cl__segs_push(struct cl_log *log, uint64_t first_seq)
{
	if (segs_reserve(log))
		return CL_ENOMEM;
	log->segs[log->nsegs++] = first_seq;
	return 0;
}

int cl__seg_create(struct cl_log *log, uint64_t first_seq)
{
	struct cl_io *io = log->io;
	char tmp[CL_NAME_MAX], name[CL_NAME_MAX];
	uint8_t hdr[CL_SEG_HDR];
	struct cl_file *f = NULL;
	int e, err;

	cl__seg_name(tmp, first_seq, 1);
	cl__seg_name(name, first_seq, 0);
	if (segs_reserve(log)) /* so that recording it below cannot fail */
		return cl__fail(log, CL_ENOMEM, "%s: out of memory", name);

	memset(hdr, 0, sizeof(hdr));
	cl_put32(hdr, CL_SEG_MAGIC);
	cl_put32(hdr + 4, CL_SEG_VERSION);
	cl_put64(hdr + 8, first_seq);
	cl_put32(hdr + 20, cl_crc32c(0, hdr, 20));

	e = io->open(io->ctx, tmp, CL_IO_CREATE | CL_IO_TRUNC, &f);
	if (e)
		return cl__io_fail(log, e, "create", tmp, UINT64_MAX);
	if (!(log->flags & CL_NO_PREALLOC) && io->allocate) {
		e = io->allocate(io->ctx, f, log->seg_size);
		if (e) {
			err = cl__io_fail(log, e, "preallocate", tmp, UINT64_MAX);
			goto close_tmp;
		}
	}
	e = io->write(io->ctx, f, 0, hdr, sizeof(hdr));
	if (e) {
		err = cl__io_fail(log, e, "write of the segment header", tmp, 0);
		goto close_tmp;
	}
	e = io->sync(io->ctx, f);
	if (e) {
		err = cl__io_fail(log, e, "sync", tmp, UINT64_MAX);
		goto close_tmp;
	}
	e = io->rename(io->ctx, tmp, name);
	if (e) {
		err = cl__io_fail(log, e, "rename into place", tmp, UINT64_MAX);
		goto close_tmp;
	}
	/* From here the file is the newest segment, whatever happens. */
	log->segs[log->nsegs++] = first_seq;
	if (log->active)
		io->close(io->ctx, log->active);
	log->active = f;
	log->active_v2 = 1;
	log->woff = CL_SEG_HDR;
	e = io->sync_dir(io->ctx);
	if (e)
		return cl__io_fail(log, e, "sync of the directory after creating", name,
				   UINT64_MAX);
	return 0;

close_tmp: /* the temp file is removed by the next open */
	io->close(io->ctx, f);
	return err;
}

int cl__drop_covered(struct cl_log *log, uint32_t *removed)
{
	char name[CL_NAME_MAX];
	size_t k = 0;
	int e;

	/* Segment i holds seqs segs[i] .. segs[i+1]-1: covered when
	 * segs[i+1]-1 <= snap_seq.  The last (active) segment always stays. */
	while (k + 1 < log->nsegs && log->segs[k + 1] - 1 <= log->snap_seq) {
		cl__seg_name(name, log->segs[k], 0);
		e = log->io->unlink(log->io->ctx, name);
		if (e && e != ENOENT) {
			memmove(log->segs, log->segs + k, (log->nsegs - k) * sizeof(*log->segs));
			log->nsegs -= k;
			return cl__io_fail(log, e, "unlink of a segment covered by the snapshot",
					   name, UINT64_MAX);
		}
		k++;
		(*removed)++;
	}
	memmove(log->segs, log->segs + k, (log->nsegs - k) * sizeof(*log->segs));
	log->nsegs -= k;
	return 0;
}

/* ---- open / close ---- */

int cl_log_open(const struct cl_config *cfg, cl_replay_fn fn, void *ctx, struct cl_log **out)
{
	struct cl_log *log = calloc(1, sizeof(*log));

	*out = log;
	if (!log)
		return CL_ENOMEM;
	log->io = cfg->io;
	log->seg_size = cfg->segment_size ? cfg->segment_size : CL_SEGMENT_SIZE_DEFAULT;
	log->max_record = cfg->max_record ? cfg->max_record : CL_RECORD_MAX_DEFAULT;
	log->flags = cfg->flags;
	if (!cfg->io || log->seg_size < CL_SEGMENT_SIZE_MIN ||
	    log->max_record > CL_RECORD_MAX_LIMIT)
		return cl__fail(log, CL_EINVAL,
				"bad configuration: io %s, segment_size %" PRIu64
				" (min %u), max_record %" PRIu32 " (max %u)",
				cfg->io ? "set" : "missing", log->seg_size, CL_SEGMENT_SIZE_MIN,
				log->max_record, CL_RECORD_MAX_LIMIT);
	return cl__recover(log, fn, ctx);
}

void cl_log_close(struct cl_log **logp)
{
	struct cl_log *log = *logp;

	if (!log)
		return;
	cl__ckpt_free(log);
	if (log->active)
		log->io->close(log->io->ctx, log->active);
	free(log->segs);
	free(log->buf);
	free(log->breaks);
	free(log);
	*logp = NULL;
}

/* ---- appending ---- */

static int check_append(struct cl_log *log, uint8_t type, uint32_t len)
{
	if (log->err)
		return CL_EFAILED;
	if (log->ck.active)
		return cl__error(log, CL_ESTATE, "append while a checkpoint is being written");
	if (type == 0)
		return cl__error(log, CL_EINVAL, "record type 0 is reserved");
	if (len > log->max_record)
		return cl__error(log, CL_EINVAL, "record of %" PRIu32 " bytes exceeds max_record %" PRIu32,
				 len, log->max_record);
	return 0;
}

/* Make room for `bytes` more in buf and `nbreaks` more breaks. */
static int reserve(struct cl_log *log, size_t bytes, size_t nbreaks)
{
	if (bytes > SIZE_MAX / 2 - log->blen)
		return CL_ENOMEM;
	if (log->blen + bytes > log->bcap) {
		size_t cap = log->bcap ? log->bcap : 4096;
		uint8_t *p;

		while (cap < log->blen + bytes)
			cap *= 2;
		p = realloc(log->buf, cap);
		if (!p)
			return CL_ENOMEM;
		log->buf = p;
		log->bcap = cap;
	}
	if (log->nbreaks + nbreaks > log->capbreaks) {
		size_t cap = log->capbreaks ? log->capbreaks : 4;
		struct cl_break *v;

		while (cap < log->nbreaks + nbreaks)
			cap *= 2;
		v = realloc(log->breaks, cap * sizeof(*v));
		if (!v)
			return CL_ENOMEM;
		log->breaks = v;
		log->capbreaks = cap;
	}
	return 0;
}

/* Frame one record into the buffer (room reserved), starting a new
 * segment first if it would not fit in the current one.  A segment holds
 * at least one record, so a record longer than the segment size gets a
 * segment of its own. */
static void push(struct cl_log *log, uint8_t type, const void *data, uint32_t len)
{
	uint64_t size = CL_FRAME_HDR + (uint64_t)len;
	uint8_t *p = log->buf + log->blen;

	if (log->fill > CL_SEG_HDR && log->fill + size > log->seg_size) {
		log->breaks[log->nbreaks].off = log->blen;
		log->breaks[log->nbreaks].seq = log->last_seq + 1;
		log->nbreaks++;
		log->fill = CL_SEG_HDR;
	}
	cl__frame_put(p, type, data, len);
	/* The first record since the last sync will be written right after
	 * durable bytes (a new segment's header is durable too): flag it
	 * (cl_format.h), so that recovery can tell later damage before it
	 * from a crash's. */
	if (log->blen == 0 && log->active_v2) {
		cl_put32(p, len | CL_LEN_SYNCED);
		cl_put32(p + 4, cl_get32(p + 4) ^ CL_CRC_SYNCED);
	}
	log->blen += (size_t)size;
	log->fill += size;
	log->last_seq++;
}

int cl_log_append(struct cl_log *log, uint8_t type, const void *data, uint32_t len,
		  uint64_t *seq)
{
	int err = check_append(log, type, len);

	if (!err && reserve(log, CL_FRAME_HDR + (size_t)len, 1))
		err = cl__error(log, CL_ENOMEM, "out of memory for an append of %" PRIu32 " bytes", len);
	if (err)
		return err;
	push(log, type, data, len);
	if (seq)
		*seq = log->last_seq;
	return 0;
}

int cl_log_appendv(struct cl_log *log, const struct cl_iov *recs, size_t n, uint64_t *last_seq)
{
	size_t bytes = 0;
	int err = 0;

	for (size_t i = 0; !err && i < n; i++) {
		err = check_append(log, recs[i].type, recs[i].len);
		if (!err && bytes > SIZE_MAX / 2 - CL_FRAME_HDR - recs[i].len)
			err = cl__error(log, CL_ENOMEM, "batch too large");
		bytes += CL_FRAME_HDR + (size_t)recs[i].len;
	}
	if (!err && reserve(log, bytes, n))
		err = cl__error(log, CL_ENOMEM, "out of memory for a batch of %zu records", n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++)
		push(log, recs[i].type, recs[i].data, recs[i].len);
	if (last_seq)
		*last_seq = log->last_seq;
	return 0;
}

/* ---- syncing ---- */

/* Write buf[from..to) at the end of the active segment, but for its first
 * `done` bytes, which were written before (cl_log_write). */
static int write_part(struct cl_log *log, size_t from, size_t to, size_t done)
{
	char name[CL_NAME_MAX];
	int e;

	if (to - from <= done)
		return 0;
	e = log->io->write(log->io->ctx, log->active, log->woff, log->buf + from + done,
			   to - from - done);
	if (e) {
		cl__seg_name(name, log->segs[log->nsegs - 1], 0);
		return cl__io_fail(log, e, "write", name, log->woff);
	}
	log->woff += to - from - done;
	return 0;
}

/* Write buf[from..to) (its first `done` bytes written already) at the end
 * of the active segment and sync it. */
static int write_chunk(struct cl_log *log, size_t from, size_t to, size_t done)
{
	char name[CL_NAME_MAX];
	int e;

	if (to == from)
		return 0;
	e = write_part(log, from, to, done);
	if (e)
		return e;
	e = log->io->sync(log->io->ctx, log->active);
	if (e) {
		cl__seg_name(name, log->segs[log->nsegs - 1], 0);
		return cl__io_fail(log, e, "sync", name, UINT64_MAX);
	}
	return 0;
}

int cl_log_write(struct cl_log *log)
{
	size_t to;
	int err;

	if (log->err)
		return CL_EFAILED;
	/* Only what goes to the active segment: the next one may be created
	 * only once this one is synced (cl_log_sync does that). */
	to = log->nbreaks ? log->breaks[0].off : log->blen;
	err = write_part(log, 0, to, log->bwritten);
	if (!err)
		log->bwritten = to;
	return err;
}

int cl_log_sync(struct cl_log *log, uint64_t *durable_seq)
{
	size_t from = 0;
	int err = 0;

	if (log->err)
		return CL_EFAILED;
	for (size_t i = 0; !err && i < log->nbreaks; i++) {
		err = write_chunk(log, from, log->breaks[i].off, i ? 0 : log->bwritten);
		if (!err) {
			log->durable_seq = log->breaks[i].seq - 1;
			err = cl__seg_create(log, log->breaks[i].seq);
		}
		from = log->breaks[i].off;
	}
	if (!err)
		err = write_chunk(log, from, log->blen, log->nbreaks ? 0 : log->bwritten);
	if (err)
		return err;
	log->durable_seq = log->last_seq;
	log->blen = 0;
	log->bwritten = 0;
	log->nbreaks = 0;
	if (durable_seq)
		*durable_seq = log->durable_seq;
	return 0;
}

/* ---- accessors ---- */

uint64_t cl_log_last_seq(const struct cl_log *log)
{
	return log->last_seq;
}

uint64_t cl_log_durable_seq(const struct cl_log *log)
{
	return log->durable_seq;
}

uint64_t cl_log_snapshot_seq(const struct cl_log *log)
{
	return log->snap_seq;
}

size_t cl_log_segment_count(const struct cl_log *log)
{
	return log->nsegs;
}

int cl_log_error(const struct cl_log *log)
{
	return log->err;
}

const char *cl_log_errmsg(const struct cl_log *log)
{
	return log->msg;
}

const struct cl_recovery *cl_log_recovery(const struct cl_log *log)
{
	return &log->rec;
}
