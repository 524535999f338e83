/*
 * sim_disk.c - a simulated replica's disk: the real commit log
 * (commitlog/cl_log.h) over an in-memory directory, behind the crash
 * backend and the fault backend (a chosen write or fsync fails with
 * EIO/ENOSPC).  So every simulated crash runs the log's real recovery.
 *
 * Writes reach the device before they are synced: the owner writes each
 * round's records (sdisk_write, cl_log_write) as soon as it appends them,
 * and syncs later (sdisk_sync).  A crash in between finds them unsynced,
 * and does to them what power loss does (cl_io_crash.h), chosen by the
 * crash's seed:
 *   - a quarter of crashes lose every unsynced write;
 *   - a quarter lose all but the last, which may survive torn (a prefix,
 *     maybe followed by garbage), so a later write persists while earlier
 *     ones do not;
 *   - a quarter keep an issue-order prefix of each file's unsynced writes,
 *     the last kept one maybe torn;
 *   - a quarter cut every unsynced write into 512-byte pages, and each
 *     page on its own persists, is lost, or is torn (a prefix of it, the
 *     rest as it was, zeroed or garbage): reordered pages.
 * Synced data is never touched (the contract of fdatasync).
 *
 * The shadow: every record appended, by position (seq), and the records
 * of the last checkpoint.  Every recovery is checked against it: the
 * recovered records must be byte-identical to the appended ones at their
 * positions, include every record that was durable when the log was
 * closed, and include nothing that was never appended.
 */
#include "sim_disk.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_io_crash.h"
#include "cl_io_fault.h"
#include "cl_log.h"

/* Records in one arena: record k is b[off[k] .. off[k+1]). */
struct recs {
	uint8_t *b;
	size_t blen, bcap;
	size_t *off; /* n + 1 entries */
	size_t n, cap;
};

static int recs_push(struct recs *r, const void *p, uint32_t len)
{
	if (r->n + 2 > r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 256;
		size_t *no = realloc(r->off, nc * sizeof(*no));
		if (!no)
			return ENOMEM;
		r->off = no;
		r->cap = nc;
	}
	if (r->blen + len > r->bcap) {
		size_t nc = r->bcap ? r->bcap : 4096;
		while (nc < r->blen + len)
			nc *= 2;
		uint8_t *nb = realloc(r->b, nc);
		if (!nb)
			return ENOMEM;
		r->b = nb;
		r->bcap = nc;
	}
	if (len)
		memcpy(r->b + r->blen, p, len);
	r->off[0] = 0;
	r->blen += len;
	r->off[++r->n] = r->blen;
	return 0;
}

static void recs_cut(struct recs *r, size_t n)
{
	if (n < r->n) {
		r->n = n;
		r->blen = n ? r->off[n] : 0;
	}
}

static void recs_free(struct recs *r)
{
	free(r->b);
	free(r->off);
	memset(r, 0, sizeof(*r));
}

static const uint8_t *recs_at(const struct recs *r, size_t k, uint32_t *len)
{
	*len = (uint32_t)(r->off[k + 1] - r->off[k]);
	return r->b + r->off[k];
}

struct sdisk {
	struct cl_io_mem *mem;
	struct cl_io_crash *crash;
	struct cl_io_fault *fault;
	struct cl_log *log;
	uint64_t base; /* last seq at open */
	/* records recovered by the last open */
	struct recs got;
	uint64_t *got_seq;
	uint8_t *got_snap, *got_type;
	size_t got_cap;
	struct px_str *views;
	/* the shadow */
	struct recs sh;      /* log records first .. first + sh.n - 1 */
	uint64_t sh_first;
	struct recs sh_snap; /* the records of the last checkpoint */
	uint64_t sh_snap_seq;
	int sh_unknown;      /* a checkpoint failed: the disk may hold either */
	uint64_t must;       /* durable seq when the log was last closed */
	char viol[300];
	struct sdisk_stats st;
};

struct sdisk *sdisk_new(void)
{
	struct sdisk *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->sh_first = 1;
	d->mem = cl_io_mem_new();
	if (!d->mem || cl_io_crash_new(cl_io_mem_io(d->mem), &d->crash))
		goto fail;
	d->fault = cl_io_fault_new(cl_io_crash_io(d->crash));
	if (!d->fault)
		goto fail;
	return d;
fail:
	sdisk_free(&d);
	return NULL;
}

void sdisk_free(struct sdisk **dp)
{
	struct sdisk *d = *dp;
	if (!d)
		return;
	cl_log_close(&d->log);
	recs_free(&d->got);
	free(d->got_seq);
	free(d->got_snap);
	free(d->got_type);
	free(d->views);
	recs_free(&d->sh);
	recs_free(&d->sh_snap);
	cl_io_fault_destroy(&d->fault);
	cl_io_crash_destroy(&d->crash);
	cl_io_mem_destroy(&d->mem);
	free(d);
	*dp = NULL;
}

static int keep(void *ctx, const struct cl_record *r)
{
	struct sdisk *d = ctx;
	size_t k = d->got.n;
	if (k == d->got_cap) {
		size_t nc = d->got_cap ? d->got_cap * 2 : 256;
		uint64_t *ns = realloc(d->got_seq, nc * sizeof(*ns));
		if (!ns)
			return ENOMEM;
		d->got_seq = ns;
		uint8_t *nf = realloc(d->got_snap, nc);
		if (!nf)
			return ENOMEM;
		d->got_snap = nf;
		uint8_t *nt = realloc(d->got_type, nc);
		if (!nt)
			return ENOMEM;
		d->got_type = nt;
		d->got_cap = nc;
	}
	if (recs_push(&d->got, r->data, r->len))
		return ENOMEM;
	d->got_seq[k] = r->seq;
	d->got_snap[k] = r->snapshot;
	d->got_type[k] = r->type;
	return 0;
}

/* First byte where a and b differ (both of length n). */
static size_t first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i = 0;
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* Check what the open recovered against the shadow; fills d->viol. */
static void check_recovery(struct sdisk *d)
{
	uint64_t S = cl_log_snapshot_seq(d->log), L = cl_log_last_seq(d->log);
	uint64_t appended = d->sh_first + d->sh.n - 1;
	size_t k = 0, nsnap = 0;
	uint32_t a, b;

	d->viol[0] = '\0';
	if (d->sh_unknown)
		return;
	d->st.checks++;
	if (S != d->sh_snap_seq) {
		snprintf(d->viol, sizeof(d->viol), "recovered a snapshot of seq %" PRIu64 ", the last checkpoint's is %" PRIu64,
			 S, d->sh_snap_seq);
		return;
	}
	for (; k < d->got.n && d->got_snap[k]; k++, nsnap++) {
		const uint8_t *g = recs_at(&d->got, k, &a);
		if (nsnap >= d->sh_snap.n) {
			snprintf(d->viol, sizeof(d->viol), "the snapshot holds more than the %zu records checkpointed",
				 d->sh_snap.n);
			return;
		}
		const uint8_t *w = recs_at(&d->sh_snap, nsnap, &b);
		if (a != b || memcmp(g, w, a) || d->got_type[k] != 1) {
			snprintf(d->viol, sizeof(d->viol), "snapshot record %zu differs from the one checkpointed", nsnap);
			return;
		}
	}
	if (nsnap != d->sh_snap.n) {
		snprintf(d->viol, sizeof(d->viol), "the snapshot holds %zu of the %zu records checkpointed", nsnap,
			 d->sh_snap.n);
		return;
	}
	if (L < d->must) {
		snprintf(d->viol, sizeof(d->viol),
			 "lost durable records: recovered up to seq %" PRIu64 ", but seq %" PRIu64 " was durable", L, d->must);
		return;
	}
	if (L > appended) {
		snprintf(d->viol, sizeof(d->viol), "recovered up to seq %" PRIu64 ", but only %" PRIu64 " were appended", L,
			 appended);
		return;
	}
	if (d->got.n - k != L - S) {
		snprintf(d->viol, sizeof(d->viol), "recovered %zu log records for seqs %" PRIu64 "..%" PRIu64, d->got.n - k,
			 S + 1, L);
		return;
	}
	for (uint64_t seq = S + 1; k < d->got.n; k++, seq++) {
		const uint8_t *g = recs_at(&d->got, k, &a);
		if (d->got_seq[k] != seq || seq < d->sh_first) {
			snprintf(d->viol, sizeof(d->viol), "recovered a record as seq %" PRIu64 " where seq %" PRIu64 " belongs",
				 d->got_seq[k], seq);
			return;
		}
		const uint8_t *w = recs_at(&d->sh, (size_t)(seq - d->sh_first), &b);
		if (a != b || memcmp(g, w, a < b ? a : b) || d->got_type[k] != 1) {
			snprintf(d->viol, sizeof(d->viol),
				 "recovered record seq %" PRIu64 " (%" PRIu32 " bytes) differs from the one appended (%" PRIu32
				 " bytes, first difference at byte %zu; durable was up to %" PRIu64 ")",
				 seq, a, b, first_diff(g, w, a < b ? a : b), d->must);
			return;
		}
	}
}

int sdisk_open(struct sdisk *d, const struct px_str **recs, size_t *n, char *err, size_t errcap)
{
	if (d->log)
		d->must = cl_log_durable_seq(d->log); /* a restart without power loss */
	cl_log_close(&d->log);
	cl_io_fault_disarm(d->fault);
	d->got.n = 0;
	d->got.blen = 0;
	/* Small segments, so that rollover and multi-segment recovery run. */
	struct cl_config cfg = {.io = cl_io_fault_io(d->fault), .segment_size = 4096};
	int rc = cl_log_open(&cfg, keep, d, &d->log);
	if (rc) {
		snprintf(err, errcap, "%s: %s", cl_strerror(rc), d->log ? cl_log_errmsg(d->log) : "");
		return rc;
	}
	const struct cl_recovery *rec = cl_log_recovery(d->log);
	if (rec->dropped_bytes) {
		d->st.torn_tails++;
		d->st.crc_cuts += rec->dropped_damage == CL_DAMAGE_CRC;
		d->st.reorder_cuts += rec->dropped_records > 0;
	}
	check_recovery(d);
	/* What was not recovered is gone: the next appends take its seqs. */
	uint64_t L = cl_log_last_seq(d->log);
	if (!d->sh_unknown)
		recs_cut(&d->sh, L >= d->sh_first ? (size_t)(L - d->sh_first + 1) : 0);
	free(d->views);
	d->views = malloc(sizeof(*d->views) * (d->got.n + 1));
	if (!d->views)
		return CL_ENOMEM;
	for (size_t i = 0; i < d->got.n; i++) {
		uint32_t len;
		const uint8_t *p = recs_at(&d->got, i, &len);
		d->views[i] = px_str_of((const char *)p, len);
	}
	*recs = d->views;
	*n = d->got.n;
	d->base = L;
	return 0;
}

const char *sdisk_violation(const struct sdisk *d)
{
	return d->viol[0] ? d->viol : NULL;
}

int sdisk_append(struct sdisk *d, const void *p, uint32_t len)
{
	int rc = cl_log_append(d->log, 1, p, len, NULL);
	if (rc)
		return rc;
	if (!d->sh_unknown && recs_push(&d->sh, p, len))
		return CL_ENOMEM;
	return 0;
}

int sdisk_write(struct sdisk *d)
{
	return cl_log_write(d->log);
}

uint64_t sdisk_appended(const struct sdisk *d)
{
	return d->log ? cl_log_last_seq(d->log) : 0;
}

uint64_t sdisk_durable(const struct sdisk *d)
{
	return d->log ? cl_log_durable_seq(d->log) : 0;
}

uint64_t sdisk_base(const struct sdisk *d)
{
	return d->base;
}

int sdisk_sync(struct sdisk *d, int fault)
{
	if (fault)
		cl_io_fault_arm(d->fault, CL_FAULT_WRITE | CL_FAULT_SYNC, 1, fault, 0);
	int rc = cl_log_sync(d->log, NULL);
	cl_io_fault_disarm(d->fault);
	return rc;
}

int sdisk_checkpoint(struct sdisk *d, const struct px_update *snap)
{
	struct cl_iov *v = malloc(sizeof(*v) * (snap->nrec + 1));
	if (!v)
		return CL_ENOMEM;
	for (size_t k = 0; k < snap->nrec; k++) {
		v[k].type = 1;
		v[k].data = snap->arena + snap->rec[k].off;
		v[k].len = snap->rec[k].len;
	}
	int rc = cl_log_checkpoint(d->log, v, snap->nrec);
	free(v);
	if (rc) {
		d->sh_unknown = 1;
		return rc;
	}
	/* The snapshot replaces every record up to the last one appended. */
	d->sh_snap_seq = cl_log_snapshot_seq(d->log);
	d->sh_first = d->sh_snap_seq + 1;
	d->sh.n = 0;
	d->sh.blen = 0;
	d->sh_snap.n = 0;
	d->sh_snap.blen = 0;
	for (size_t k = 0; k < snap->nrec; k++)
		if (recs_push(&d->sh_snap, snap->arena + snap->rec[k].off, snap->rec[k].len)) {
			d->sh_unknown = 1;
			return CL_ENOMEM;
		}
	return 0;
}

size_t sdisk_segments(const struct sdisk *d)
{
	return d->log ? cl_log_segment_count(d->log) : 0;
}

int sdisk_crash(struct sdisk *d, uint64_t seed)
{
	struct cl_crash_stats before, after;
	if (d->log)
		d->must = cl_log_durable_seq(d->log);
	cl_log_close(&d->log);
	struct cl_crash_plan plan = {.mode = CL_CRASH_DROP, .tear = -1, .garbage = -1, .dir_ops = -1, .page = 512};
	switch (seed % 4) {
	case 0:
		plan.tear = 0; /* every unsynced write lost */
		plan.garbage = 0;
		break;
	case 1:
		break; /* the last write may survive torn */
	case 2:
		plan.mode = CL_CRASH_PREFIX;
		break;
	default:
		plan.mode = CL_CRASH_PAGES;
		break;
	}
	cl_io_crash_stats(d->crash, &before);
	int rc = cl_io_crash_crash(d->crash, seed, &plan);
	cl_io_crash_stats(d->crash, &after);
	d->st.torn_writes += after.torn - before.torn;
	d->st.reorders += after.reordered - before.reordered;
	return rc;
}

void sdisk_stats(const struct sdisk *d, struct sdisk_stats *out)
{
	*out = d->st;
}
