/*
 * cl_snapshot.c - checkpoints: writing a snapshot, compacting the log, and
 * loading the snapshot at startup.
 *
 * A checkpoint goes through these steps; after a crash between any two of
 * them, recovery finds a consistent state:
 *
 *   1. sync the log, so that the snapshot's seq S is durable in the log
 *      too (recovery then never sees a snapshot ahead of its log);
 *   2. write "snapshot.tmp": header placeholder, the records, then the
 *      header (seq S, record count, body length and CRC);
 *      -> crash: the old snapshot and all segments are intact; the temp
 *         file is deleted at startup;
 *   3. fsync "snapshot.tmp";
 *   4. rename it over "snapshot" (atomic);
 *   5. fsync the directory;
 *      -> crash before 5 completes: either the old or the new snapshot is
 *         found, each whole (synced in 3), and the segments they need are
 *         all there (nothing is deleted before 5);
 *   6. unlink every segment whose records are all <= S (never the active
 *      one), then fsync the directory;
 *      -> crash: some covered segments may remain or come back; recovery
 *         skips and deletes them.
 */
#include "cl_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cl_crc32c.h"

/* Written to the temp file once this much is buffered. */
#define CKPT_FLUSH (1u << 20)

/* ---- loading ---- */

static int snap_corrupt(struct cl_log *log, uint64_t off, const char *what)
{
	return cl__fail(log, CL_ECORRUPT, CL_SNAP_NAME " offset %" PRIu64 ": %s", off, what);
}

/* Check the whole snapshot in b[0..n), then replay its records. */
static int snapshot_parse(struct cl_log *log, const uint8_t *b, size_t n, cl_replay_fn fn,
			  void *ctx)
{
	uint64_t seq, count, body_len, i;
	size_t p;

	if (n < CL_SNAP_HDR)
		return snap_corrupt(log, 0, "file shorter than a snapshot header");
	if (cl_get32(b) != CL_SNAP_MAGIC)
		return snap_corrupt(log, 0, "not a snapshot (bad magic)");
	if (cl_crc32c(0, b, 36) != cl_get32(b + 36))
		return snap_corrupt(log, 0, "snapshot header CRC mismatch");
	if (cl_get32(b + 4) != CL_SNAP_VERSION)
		return cl__fail(log, CL_EVERSION,
				CL_SNAP_NAME ": format version %" PRIu32 ", this code reads %u",
				cl_get32(b + 4), CL_SNAP_VERSION);
	seq = cl_get64(b + 8);
	count = cl_get64(b + 16);
	body_len = cl_get64(b + 24);
	if (body_len != n - CL_SNAP_HDR)
		return cl__fail(log, CL_ECORRUPT,
				CL_SNAP_NAME ": %zu bytes, but the header says %" PRIu64, n,
				CL_SNAP_HDR + body_len);
	if (cl_crc32c(0, b + CL_SNAP_HDR, n - CL_SNAP_HDR) != cl_get32(b + 32))
		return snap_corrupt(log, CL_SNAP_HDR, "body CRC mismatch");

	/* Check every frame before replaying any. */
	p = CL_SNAP_HDR;
	for (i = 0; i < count; i++) {
		uint32_t len;

		if (n - p < CL_FRAME_HDR)
			return snap_corrupt(log, p, "fewer records than the header says");
		len = cl_get32(b + p);
		if (b[p + 8] == 0)
			return snap_corrupt(log, p, "record type 0");
		if (len > n - p - CL_FRAME_HDR)
			return snap_corrupt(log, p, "record runs past the end of the file");
		if (cl_crc32c(0, b + p + 8, (size_t)len + 1) != cl_get32(b + p + 4))
			return snap_corrupt(log, p, "record CRC mismatch");
		p += CL_FRAME_HDR + (size_t)len;
	}
	if (p != n)
		return snap_corrupt(log, p, "bytes after the last record");

	p = CL_SNAP_HDR;
	for (i = 0; i < count; i++) {
		struct cl_record r;
		int rc;

		r.seq = seq;
		r.len = cl_get32(b + p);
		r.type = b[p + 8];
		r.data = b + p + CL_FRAME_HDR;
		r.snapshot = 1;
		rc = fn ? fn(ctx, &r) : 0;
		if (rc)
			return cl__fail(log, CL_ECANCELED,
					"replay stopped by the callback (%d) in the snapshot", rc);
		p += CL_FRAME_HDR + (size_t)r.len;
	}
	log->snap_seq = seq;
	log->rec.snapshot_seq = seq;
	log->rec.snapshot_records = count;
	return 0;
}

int cl__snapshot_load(struct cl_log *log, cl_replay_fn fn, void *ctx)
{
	struct cl_io *io = log->io;
	struct cl_file *f = NULL;
	uint8_t *b = NULL;
	uint64_t n = 0;
	size_t got = 0;
	int err = 0, e;

	e = io->open(io->ctx, CL_SNAP_NAME, 0, &f);
	if (e)
		return cl__io_fail(log, e, "open", CL_SNAP_NAME, UINT64_MAX);
	e = io->size(io->ctx, f, &n);
	if (e)
		err = cl__io_fail(log, e, "size", CL_SNAP_NAME, UINT64_MAX);
	else if (n > SIZE_MAX - 1 || !(b = malloc(n ? (size_t)n : 1)))
		err = cl__fail(log, CL_ENOMEM, CL_SNAP_NAME ": out of memory reading %" PRIu64 " bytes",
			       n);
	if (!err && n) {
		e = io->read(io->ctx, f, 0, b, (size_t)n, &got);
		if (e)
			err = cl__io_fail(log, e, "read", CL_SNAP_NAME, 0);
		else if (got != n)
			err = cl__fail(log, CL_EIO, CL_SNAP_NAME ": read %zu bytes of %" PRIu64, got, n);
	}
	if (!err)
		err = snapshot_parse(log, b, (size_t)n, fn, ctx);
	free(b);
	io->close(io->ctx, f);
	return err;
}

/* ---- writing ---- */

void cl__ckpt_free(struct cl_log *log)
{
	if (log->ck.f)
		log->io->close(log->io->ctx, log->ck.f);
	free(log->ck.buf);
	memset(&log->ck, 0, sizeof(log->ck));
}

static int ckpt_flush(struct cl_log *log)
{
	struct cl_ckpt *ck = &log->ck;
	int e;

	if (!ck->blen)
		return 0;
	e = log->io->write(log->io->ctx, ck->f, ck->off, ck->buf, ck->blen);
	if (e)
		return cl__io_fail(log, e, "write", CL_SNAP_TMP, ck->off);
	ck->off += ck->blen;
	ck->blen = 0;
	return 0;
}

int cl_log_checkpoint_begin(struct cl_log *log, uint64_t *seq)
{
	int err, e;

	if (log->err)
		return CL_EFAILED;
	if (log->ck.active)
		return cl__error(log, CL_ESTATE, "a checkpoint is already being written");
	err = cl_log_sync(log, NULL);
	if (err)
		return err;
	e = log->io->open(log->io->ctx, CL_SNAP_TMP, CL_IO_CREATE | CL_IO_TRUNC, &log->ck.f);
	if (e)
		return cl__io_fail(log, e, "create", CL_SNAP_TMP, UINT64_MAX);
	log->ck.active = 1;
	log->ck.seq = log->last_seq;
	log->ck.off = CL_SNAP_HDR;
	if (seq)
		*seq = log->ck.seq;
	return 0;
}

int cl_log_checkpoint_add(struct cl_log *log, uint8_t type, const void *data, uint32_t len)
{
	struct cl_ckpt *ck = &log->ck;
	size_t size = CL_FRAME_HDR + (size_t)len;

	if (log->err)
		return CL_EFAILED;
	if (!ck->active)
		return cl__error(log, CL_ESTATE, "no checkpoint is being written");
	if (type == 0)
		return cl__error(log, CL_EINVAL, "record type 0 is reserved");
	if (len > log->max_record)
		return cl__error(log, CL_EINVAL, "record of %" PRIu32 " bytes exceeds max_record %" PRIu32,
				 len, log->max_record);
	if (ck->blen + size > ck->bcap) {
		size_t cap = ck->bcap ? ck->bcap : 4096;
		uint8_t *p;

		while (cap < ck->blen + size)
			cap *= 2;
		p = realloc(ck->buf, cap);
		if (!p)
			return cl__error(log, CL_ENOMEM, "out of memory in a checkpoint");
		ck->buf = p;
		ck->bcap = cap;
	}
	cl__frame_put(ck->buf + ck->blen, type, data, len);
	ck->body_crc = cl_crc32c(ck->body_crc, ck->buf + ck->blen, size);
	ck->blen += size;
	ck->body_len += size;
	ck->count++;
	return ck->blen >= CKPT_FLUSH ? ckpt_flush(log) : 0;
}

int cl_log_checkpoint_commit(struct cl_log *log)
{
	struct cl_ckpt *ck = &log->ck;
	struct cl_io *io = log->io;
	uint8_t hdr[CL_SNAP_HDR];
	uint32_t removed = 0;
	int err, e;

	if (log->err)
		return CL_EFAILED;
	if (!ck->active)
		return cl__error(log, CL_ESTATE, "no checkpoint is being written");
	err = ckpt_flush(log);
	if (err)
		return err;
	cl_put32(hdr, CL_SNAP_MAGIC);
	cl_put32(hdr + 4, CL_SNAP_VERSION);
	cl_put64(hdr + 8, ck->seq);
	cl_put64(hdr + 16, ck->count);
	cl_put64(hdr + 24, ck->body_len);
	cl_put32(hdr + 32, ck->body_crc);
	cl_put32(hdr + 36, cl_crc32c(0, hdr, 36));
	e = io->write(io->ctx, ck->f, 0, hdr, sizeof(hdr));
	if (e)
		return cl__io_fail(log, e, "write of the snapshot header", CL_SNAP_TMP, 0);
	e = io->sync(io->ctx, ck->f);
	if (e)
		return cl__io_fail(log, e, "sync", CL_SNAP_TMP, UINT64_MAX);
	io->close(io->ctx, ck->f);
	ck->f = NULL;
	e = io->rename(io->ctx, CL_SNAP_TMP, CL_SNAP_NAME);
	if (e)
		return cl__io_fail(log, e, "rename to " CL_SNAP_NAME, CL_SNAP_TMP, UINT64_MAX);
	log->snap_seq = ck->seq;
	cl__ckpt_free(log);
	e = io->sync_dir(io->ctx);
	if (e)
		return cl__io_fail(log, e, "sync of the directory after renaming", CL_SNAP_NAME,
				   UINT64_MAX);
	/* The new snapshot is durable: the segments it covers can go. */
	err = cl__drop_covered(log, &removed);
	if (!err && removed) {
		e = io->sync_dir(io->ctx);
		if (e)
			err = cl__io_fail(log, e, "sync of the directory after deleting segments",
					  "the log directory", UINT64_MAX);
	}
	return err;
}

int cl_log_checkpoint_abort(struct cl_log *log)
{
	int e;

	if (!log->ck.active)
		return log->err ? CL_EFAILED
				: cl__error(log, CL_ESTATE, "no checkpoint is being written");
	cl__ckpt_free(log);
	if (log->err) /* a failed log does no more I/O; the next open cleans up */
		return CL_EFAILED;
	e = log->io->unlink(log->io->ctx, CL_SNAP_TMP);
	if (e && e != ENOENT)
		return cl__io_fail(log, e, "unlink", CL_SNAP_TMP, UINT64_MAX);
	return 0;
}

int cl_log_checkpoint(struct cl_log *log, const struct cl_iov *recs, size_t n)
{
	int err;

	if (log->err)
		return CL_EFAILED;
	for (size_t i = 0; i < n; i++) {
		if (recs[i].type == 0)
			return cl__error(log, CL_EINVAL, "record type 0 is reserved");
		if (recs[i].len > log->max_record)
			return cl__error(log, CL_EINVAL, "record of %" PRIu32
					 " bytes exceeds max_record %" PRIu32, recs[i].len,
					 log->max_record);
	}
	err = cl_log_checkpoint_begin(log, NULL);
	for (size_t i = 0; !err && i < n; i++)
		err = cl_log_checkpoint_add(log, recs[i].type, recs[i].data, recs[i].len);
	if (!err)
		err = cl_log_checkpoint_commit(log);
	if (err && log->ck.active)
		cl_log_checkpoint_abort(log);
	return err;
}
