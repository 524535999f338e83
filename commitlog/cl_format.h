/*
 * cl_format.h - the on-disk format of the commit log (internal).
 *
 * All integers are little-endian.
 *
 * Record frame (log segments and snapshot alike):
 *     len  u32   payload length, with bit 31 (CL_LEN_SYNCED) as a flag in
 *                version-2 segments only
 *     crc  u32   CRC32C over type and payload, XOR CL_CRC_SYNCED when the
 *                flag is set (so the CRC covers the flag too)
 *     type u8    1..255 (0 never appears in a record)
 *     payload    len bytes
 * A frame of nine zero bytes cannot be a record (type 0, and the CRC of a
 * zero type byte is not 0); preallocated space reads as zeros, so zeros
 * where a record would start mean "no more records".
 *
 * The flag (version 2): "when this frame was written, every byte before it
 * in its segment was durable".  The log sets it on the first record written
 * after a sync (and after recovery, which syncs).  Recovery uses it to tell
 * a crash's damage from corruption: a crash damages only what was written
 * after the last sync, so no flagged frame can follow its damage, while a
 * flagged frame after damage proves that the damaged bytes had been synced.
 *
 * Segment file "log-<first seq, 20 digits>.seg", header of 24 bytes:
 *     magic u32 "CLSG" | version u32 (1 or 2) | first_seq u64 |
 *     reserved u32 (0) | crc u32 (CRC32C of the 20 bytes before it)
 * then record frames; record k (0-based) of the segment has seq
 * first_seq + k.  A segment may be followed by zeros (preallocation).
 * Segments are created as "<name>.tmp", synced, then renamed into place,
 * so a segment's header is either whole and durable or the file is absent.
 * New segments are version 2; version 1 (no flags) is still read, and a
 * version-1 last segment is appended to without flags.
 *
 * Snapshot file "snapshot", header of 40 bytes:
 *     magic u32 "CLSN" | version u32 | seq u64 | count u64 | body_len u64 |
 *     body_crc u32 (CRC32C of the body) | crc u32 (of the 36 bytes before)
 * then the body: count record frames, body_len bytes in all, and nothing
 * after.  Written as "snapshot.tmp", synced, renamed over "snapshot".
 */
#ifndef CL_FORMAT_H
#define CL_FORMAT_H

#include <stdint.h>

#define CL_SEG_MAGIC 0x47534C43u  /* "CLSG" */
#define CL_SNAP_MAGIC 0x4E534C43u /* "CLSN" */
#define CL_SEG_VERSION 2u     /* segments written now */
#define CL_SEG_VERSION_MIN 1u /* oldest segment version read */
#define CL_SNAP_VERSION 1u

#define CL_LEN_SYNCED 0x80000000u /* in a frame's len: everything before it was durable */
#define CL_CRC_SYNCED 0x53594E43u /* XORed into the CRC of a flagged frame ("SYNC") */

#define CL_FRAME_HDR 9u
#define CL_SEG_HDR 24u
#define CL_SNAP_HDR 40u

#define CL_SNAP_NAME "snapshot"
#define CL_SNAP_TMP "snapshot.tmp"
#define CL_SEG_PREFIX "log-"
#define CL_SEG_SUFFIX ".seg"
#define CL_TMP_SUFFIX ".tmp"
#define CL_SEG_DIGITS 20
/* "log-" + 20 digits + ".seg" + ".tmp" + NUL */
#define CL_NAME_MAX 40

static inline void cl_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void cl_put64(uint8_t *p, uint64_t v)
{
	cl_put32(p, (uint32_t)v);
	cl_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t cl_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t cl_get64(const uint8_t *p)
{
	return (uint64_t)cl_get32(p) | (uint64_t)cl_get32(p + 4) << 32;
}

#endif
