/*
 * sim_disk.c - a simulated replica's disk: the real commit log
 * (commitlog/cl_log.h) over an in-memory directory, behind the crash
 * backend (a crash drops every unsynced write and may tear the last one)
 * and the fault backend (a chosen write or fsync fails with EIO/ENOSPC).
 * So every simulated crash runs the log's real recovery.
 */
#include "sim_disk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_io_crash.h"
#include "cl_io_fault.h"
#include "cl_log.h"

struct sdisk {
	struct cl_io_mem *mem;
	struct cl_io_crash *crash;
	struct cl_io_fault *fault;
	struct cl_log *log;
	uint64_t base; /* last seq at open */
	/* records recovered by the last open (copies) */
	uint8_t **rec;
	uint32_t *len;
	size_t n, cap;
	struct px_str *views;
};

struct sdisk *sdisk_new(void)
{
	struct sdisk *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
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

static void drop_records(struct sdisk *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->rec[i]);
	d->n = 0;
}

void sdisk_free(struct sdisk **dp)
{
	struct sdisk *d = *dp;
	if (!d)
		return;
	cl_log_close(&d->log);
	drop_records(d);
	free(d->rec);
	free(d->len);
	free(d->views);
	cl_io_fault_destroy(&d->fault);
	cl_io_crash_destroy(&d->crash);
	cl_io_mem_destroy(&d->mem);
	free(d);
	*dp = NULL;
}

static int keep(void *ctx, const struct cl_record *r)
{
	struct sdisk *d = ctx;
	if (d->n == d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 256;
		uint8_t **nr = realloc(d->rec, nc * sizeof(*nr));
		if (!nr)
			return ENOMEM;
		d->rec = nr;
		uint32_t *nl = realloc(d->len, nc * sizeof(*nl));
		if (!nl)
			return ENOMEM;
		d->len = nl;
		d->cap = nc;
	}
	d->rec[d->n] = malloc(r->len ? r->len : 1);
	if (!d->rec[d->n])
		return ENOMEM;
	memcpy(d->rec[d->n], r->data, r->len);
	d->len[d->n] = r->len;
	d->n++;
	return 0;
}

int sdisk_open(struct sdisk *d, const struct px_str **recs, size_t *n, char *err, size_t errcap)
{
	cl_log_close(&d->log);
	cl_io_fault_disarm(d->fault);
	drop_records(d);
	/* Small segments, so that rollover and multi-segment recovery run. */
	struct cl_config cfg = {.io = cl_io_fault_io(d->fault), .segment_size = 4096};
	int rc = cl_log_open(&cfg, keep, d, &d->log);
	if (rc) {
		snprintf(err, errcap, "%s: %s", cl_strerror(rc), d->log ? cl_log_errmsg(d->log) : "");
		return rc;
	}
	free(d->views);
	d->views = malloc(sizeof(*d->views) * (d->n + 1));
	if (!d->views)
		return CL_ENOMEM;
	for (size_t i = 0; i < d->n; i++)
		d->views[i] = px_str_of((const char *)d->rec[i], d->len[i]);
	*recs = d->views;
	*n = d->n;
	d->base = cl_log_last_seq(d->log);
	return 0;
}

int sdisk_append(struct sdisk *d, const void *p, uint32_t len)
{
	return cl_log_append(d->log, 1, p, len, NULL);
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
	return rc;
}

size_t sdisk_segments(const struct sdisk *d)
{
	return d->log ? cl_log_segment_count(d->log) : 0;
}

int sdisk_crash(struct sdisk *d, uint64_t seed)
{
	cl_log_close(&d->log);
	struct cl_crash_plan plan = {.mode = CL_CRASH_DROP, .tear = -1, .garbage = -1, .dir_ops = -1};
	return cl_io_crash_crash(d->crash, seed, &plan);
}
