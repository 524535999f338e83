/*
 * fuzz_commitlog.c - fuzz target of the commit log's recovery.
 *
 * The input becomes the files of a log directory (in-memory backend): one
 * or two segments and maybe a snapshot, and recovery runs over them.  It
 * must never crash, and every record it replays must really be in the
 * files: frame number seq - first of a segment whose name says it starts
 * at first (or the next frame of the snapshot), with that length, type and
 * payload, and a CRC32C that matches, as computed here by a bitwise
 * implementation independent of the library (in a version-2 segment, with
 * the length's flag bit and the CRC's XOR for it).
 * A successful recovery must also be stable: opening again replays the
 * same records and cuts nothing; appending a record then works and the
 * record is replayed by the next open.  Any violation aborts.
 *
 * Input layout:
 *   byte 0     flags:
 *                0x01 segment 1 gets a valid header (else its bytes are raw)
 *                0x02 a second segment exists
 *                0x04 segment 2 gets a valid header
 *                0x08 a snapshot exists
 *                0x10 the snapshot gets a valid header over its body
 *                0x20 no preallocation
 *                0x40 CL_SALVAGE_TAIL
 *                0x80 max_record 64 (else 4096)
 *   byte 1     first seq of segment 2, minus 1
 *   byte 2     snapshot seq (with 0x10)
 *   bytes 3-8  u16 LE lengths of the segment 1, segment 2, snapshot parts
 *              (15 bits; the top bit of the first one: the segments'
 *              valid headers say format version 2, else 1)
 *   the parts, in that order (each cut to what is left)
 *
 * Built with -fsanitize=fuzzer for fuzzing, or linked with replay.c to run
 * a saved corpus without libFuzzer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cl_io.h"
#include "cl_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

static uint32_t ref_crc32c(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
	}
	return ~crc;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A copy of one file as it was before an open. */
struct file {
	uint8_t *b;
	size_t n;
	size_t pos; /* snapshot: where the next record replayed must be */
	int present;
};

#define SEGS_MAX 8

struct verify {
	struct file seg[SEGS_MAX], snap;
	uint64_t first[SEGS_MAX]; /* first seq of seg[i], from its name */
	size_t nsegs;
	uint64_t seg2_first;
	uint64_t count, last_log_seq;
	uint64_t last_type, last_len; /* of the last log record replayed */
};

/* Format version 2 (segments only): bit 31 of a frame's length is a flag,
 * and a flagged frame's CRC is XORed with this. */
#define LEN_SYNCED 0x80000000u
#define CRC_SYNCED 0x53594E43u

/* A frame's length field, without the flag if v2. */
static uint32_t len_of(const uint8_t *b, size_t pos, int v2)
{
	return get32(b + pos) & (v2 ? ~LEN_SYNCED : ~0u);
}

/* Does the frame at b[pos..n) hold exactly rec, with a good CRC? */
static int frame_is(const uint8_t *b, size_t n, size_t pos, int v2, const struct cl_record *r)
{
	uint32_t len, x;

	if (pos > n || n - pos < 9)
		return 0;
	len = len_of(b, pos, v2);
	x = v2 && (get32(b + pos) & LEN_SYNCED) ? CRC_SYNCED : 0;
	return len == r->len && len <= n - pos - 9 && b[pos + 8] == r->type && r->type != 0 &&
	       (len == 0 || memcmp(b + pos + 9, r->data, len) == 0) &&
	       (ref_crc32c(0, b + pos + 8, (size_t)len + 1) ^ x) == get32(b + pos + 4);
}

/* Is f a segment of format version 2 (by its header)? */
static int seg_v2(const struct file *f)
{
	return f->n >= 24 && get32(f->b + 4) == 2;
}

/* Offset of frame number k (0-based) of a segment, walking the length
 * fields from the header on; SIZE_MAX if the walk leaves the file. */
static size_t frame_at(const struct file *f, uint64_t k)
{
	size_t pos = 24;
	int v2 = seg_v2(f);

	for (; k > 0; k--) {
		if (pos > f->n || f->n - pos < 9 || len_of(f->b, pos, v2) > f->n - pos - 9)
			return SIZE_MAX;
		pos += 9 + (size_t)len_of(f->b, pos, v2);
	}
	return pos;
}

static int verify_fn(void *ctx, const struct cl_record *r)
{
	struct verify *v = ctx;
	int found = 0;

	v->count++;
	if (r->snapshot) {
		/* snapshot records come in file order */
		check(v->snap.present && frame_is(v->snap.b, v->snap.n, v->snap.pos, 0, r));
		v->snap.pos += 9 + (size_t)r->len;
		return 0;
	}
	check(r->seq > v->last_log_seq); /* in order */
	v->last_log_seq = r->seq;
	/* record seq s is frame s - first of a segment starting at first */
	for (size_t i = 0; i < v->nsegs && !found; i++) {
		size_t pos;

		if (v->first[i] > r->seq)
			continue;
		pos = frame_at(&v->seg[i], r->seq - v->first[i]);
		found = pos != SIZE_MAX && frame_is(v->seg[i].b, v->seg[i].n, pos,
						    seg_v2(&v->seg[i]), r);
	}
	check(found);
	v->last_type = r->type;
	v->last_len = r->len;
	return 0;
}

static void load(struct cl_io_mem *mem, const char *name, struct file *f, size_t start)
{
	uint8_t *d;
	size_t n;

	free(f->b);
	memset(f, 0, sizeof(*f));
	if (cl_io_mem_view(mem, name, &d, &n) != 0)
		return;
	f->b = malloc(n ? n : 1);
	check(f->b != NULL);
	if (n)
		memcpy(f->b, d, n);
	f->n = n;
	f->pos = start;
	f->present = 1;
}

struct names {
	struct verify *v;
	struct cl_io_mem *mem;
};

/* Take a copy of every segment file ("log-<20 digits>.seg"). */
static int add_segment(void *arg, const char *name)
{
	struct names *nm = arg;
	struct verify *v = nm->v;
	unsigned long long first;
	char tail;

	if (strlen(name) != 28 || sscanf(name, "log-%20llu.se%c", &first, &tail) != 2 ||
	    tail != 'g' || v->nsegs == SEGS_MAX)
		return 0;
	v->first[v->nsegs] = first;
	load(nm->mem, name, &v->seg[v->nsegs], 24);
	v->nsegs++;
	return 0;
}

/* Open the log with a fresh verifier over the current files. */
static int open_verified(struct cl_io_mem *mem, const struct cl_config *cfg, struct verify *v,
			 struct cl_log **log)
{
	struct cl_io *io = cl_io_mem_io(mem);
	struct names nm = {v, mem};

	for (size_t i = 0; i < v->nsegs; i++) {
		free(v->seg[i].b);
		memset(&v->seg[i], 0, sizeof(v->seg[i]));
	}
	v->nsegs = 0;
	check(io->list(io->ctx, add_segment, &nm) == 0);
	load(mem, "snapshot", &v->snap, 40);
	v->count = 0;
	v->last_log_seq = 0;
	return cl_log_open(cfg, verify_fn, v, log);
}

static void segment_header(uint8_t *h, uint64_t first, uint32_t version)
{
	memset(h, 0, 24);
	memcpy(h, "CLSG", 4);
	put32(h + 4, version);
	put64(h + 8, first);
	put32(h + 20, ref_crc32c(0, h, 20));
}

/* Write a file made of an optional valid header and raw bytes. */
static void make_file(struct cl_io_mem *mem, const char *name, const uint8_t *hdr, size_t hlen,
		      const uint8_t *body, size_t blen)
{
	uint8_t *b = malloc(hlen + blen + 1);

	check(b != NULL);
	if (hlen)
		memcpy(b, hdr, hlen);
	if (blen)
		memcpy(b + hlen, body, blen);
	check(cl_io_mem_set(mem, name, b, hlen + blen) == 0);
	free(b);
}

/* Count the frames of a snapshot body, for a valid header over it. */
static uint64_t count_frames(const uint8_t *b, size_t n)
{
	uint64_t k = 0;
	size_t p = 0;

	while (p + 9 <= n) {
		uint32_t len = get32(b + p);

		if (len > n - p - 9)
			break;
		p += 9 + (size_t)len;
		k++;
	}
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cl_io_mem *mem;
	struct cl_config cfg;
	struct cl_log *log = NULL;
	struct verify v;
	char seg2[40];
	const uint8_t *part[3];
	size_t plen[3], left, off = 9;
	uint8_t flags, hdr[40];
	uint32_t version;
	uint64_t last, count;
	int rc;

	if (size < 9)
		return 0;
	flags = data[0];
	memset(&v, 0, sizeof(v));
	v.seg2_first = (uint64_t)data[1] + 1;
	left = size - off;
	version = data[4] & 0x80 ? 2 : 1;
	for (int i = 0; i < 3; i++) {
		plen[i] = ((size_t)data[3 + 2 * i] | (size_t)data[4 + 2 * i] << 8) & 0x7fff;
		if (plen[i] > left)
			plen[i] = left;
		part[i] = data + off;
		off += plen[i];
		left -= plen[i];
	}
	snprintf(seg2, sizeof(seg2), "log-%020llu.seg", (unsigned long long)v.seg2_first);

	mem = cl_io_mem_new();
	check(mem != NULL);
	segment_header(hdr, 1, version);
	make_file(mem, "log-00000000000000000001.seg", hdr, flags & 0x01 ? 24 : 0, part[0],
		  plen[0]);
	if ((flags & 0x02) && v.seg2_first != 1) {
		segment_header(hdr, v.seg2_first, version);
		make_file(mem, seg2, hdr, flags & 0x04 ? 24 : 0, part[1], plen[1]);
	}
	if (flags & 0x08) {
		if (flags & 0x10) {
			memset(hdr, 0, sizeof(hdr));
			memcpy(hdr, "CLSN", 4);
			put32(hdr + 4, 1);
			put64(hdr + 8, data[2]);
			put64(hdr + 16, count_frames(part[2], plen[2]));
			put64(hdr + 24, plen[2]);
			put32(hdr + 32, ref_crc32c(0, part[2], plen[2]));
			put32(hdr + 36, ref_crc32c(0, hdr, 36));
		}
		make_file(mem, "snapshot", hdr, flags & 0x10 ? 40 : 0, part[2], plen[2]);
	}

	memset(&cfg, 0, sizeof(cfg));
	cfg.io = cl_io_mem_io(mem);
	cfg.segment_size = 512;
	cfg.max_record = flags & 0x80 ? 64 : 4096;
	cfg.flags = (flags & 0x20 ? CL_NO_PREALLOC : 0) | (flags & 0x40 ? CL_SALVAGE_TAIL : 0);

	rc = open_verified(mem, &cfg, &v, &log);
	check(log != NULL);
#ifdef CL_FUZZ_VERBOSE /* -DCL_FUZZ_VERBOSE: what each input does */
	fprintf(stderr, "open: %s, %llu records, last seq %llu, dropped %llu: %s\n", cl_strerror(rc),
		(unsigned long long)v.count, (unsigned long long)cl_log_last_seq(log),
		(unsigned long long)cl_log_recovery(log)->dropped_bytes, cl_log_errmsg(log));
#endif
	if (rc != 0) {
		/* refused: a named error and a message */
		check(rc == CL_ECORRUPT || rc == CL_EVERSION);
		check(cl_log_error(log) == rc && cl_log_errmsg(log)[0] != '\0');
		check(cl_log_append(log, 1, "x", 1, NULL) == CL_EFAILED);
		goto out;
	}
	last = cl_log_last_seq(log);
	count = v.count;
	check(cl_log_recovery(log)->last_seq == last);
	check(cl_log_recovery(log)->snapshot_records + cl_log_recovery(log)->log_records == count);

	/* stable: the same again, nothing more to cut */
	cl_log_close(&log);
	rc = open_verified(mem, &cfg, &v, &log);
	check(rc == 0);
	check(cl_log_last_seq(log) == last && v.count == count);
	check(cl_log_recovery(log)->dropped_bytes == 0);

	/* and the log goes on */
	check(cl_log_append(log, 7, "appended", 8, NULL) == 0);
	check(cl_log_sync(log, NULL) == 0);
	cl_log_close(&log);
	rc = open_verified(mem, &cfg, &v, &log);
	check(rc == 0);
	check(cl_log_last_seq(log) == last + 1 && v.last_log_seq == last + 1);
	check(v.last_type == 7 && v.last_len == 8);
out:
	cl_log_close(&log);
	cl_io_mem_destroy(&mem);
	for (size_t i = 0; i < v.nsegs; i++)
		free(v.seg[i].b);
	free(v.snap.b);
	return 0;
}
