/*
 * cl_crc32c.h - CRC32C (Castagnoli), the checksum of every log record.
 *
 * The polynomial is 0x1EDC6F41 (reflected 0x82F63B78), with the usual
 * initial value and final xor of 0xFFFFFFFF, as in iSCSI, ext4 and SSE4.2's
 * crc32 instruction.  CRC32C("123456789") == 0xE3069283.
 *
 * The functions are chainable: cl_crc32c(cl_crc32c(0, a, n), b, m) equals
 * the CRC of a followed by b.  Pass 0 to start.
 */
#ifndef CL_CRC32C_H
#define CL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC32C of p[0..n), continuing from crc (0 to start). Uses the SSE4.2
 * instruction when the CPU has it, the table-driven code otherwise. */
uint32_t cl_crc32c(uint32_t crc, const void *p, size_t n);

/* The portable table-driven (slice-by-8) code, whatever the CPU. */
uint32_t cl_crc32c_sw(uint32_t crc, const void *p, size_t n);

/* 1 if cl_crc32c() uses the hardware instruction on this CPU. */
int cl_crc32c_hw_available(void);

/* Row 0 of the slice-by-8 table, so that a test can recompute it. */
const uint32_t *cl_crc32c_table0(void);

#endif
