/*
 * fuzz_msg.c - fuzz target of the wire codec.
 *
 * Any input px_decode accepts must re-encode, and the encoding must be
 * a fixed point: encode(decode(x)) decodes again and encodes to the same
 * bytes.  The codec has exactly one encoding per message, so the
 * re-encoding must in fact equal the input.  Any violation aborts.
 *
 * Built with -fsanitize=fuzzer for fuzzing, or linked with replay.c to
 * run a saved corpus without libFuzzer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "px_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if (!ok)
		abort();
}

/* Walk a string list to its end; it must hold exactly `count` strings. */
static void walk_list(const uint8_t *base, uint32_t len, uint64_t count,
		      int nullable)
{
	struct px_str s;
	uint32_t pos = 0;
	uint64_t n = 0;
	volatile uint8_t sink = 0;

	while (px_str_next(base, len, &pos, &s)) {
		check(pos <= len);
		if (s.len == PX_NULL_LEN) {
			check(nullable && s.p == NULL);
		} else {
			check(s.p != NULL || s.len == 0);
			/* touch both ends so a bad view is caught */
			if (s.len) {
				sink ^= (uint8_t)s.p[0];
				sink ^= (uint8_t)s.p[s.len - 1];
			}
		}
		n++;
	}
	(void)sink;
	check(pos == len);
	check(n == count);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct px_msg *m, *m2;
	uint8_t *enc, *enc2;
	size_t n = 0, n2 = 0;

	m = malloc(sizeof(*m));
	m2 = malloc(sizeof(*m2));
	/* room for the input plus slack; a valid frame fits in `size` */
	enc = malloc(size + 64);
	enc2 = malloc(size + 64);
	check(m && m2 && enc && enc2);

	if (px_decode(data, size, m) == PX_EOK) {
		check(strcmp(px_type_name(m->type), "unknown") != 0);
		if (m->type == PX_MSG_EXEC_RESULT) {
			const struct px_mexec_result *r = &m->u.exec_result;

			walk_list(r->cols, r->cols_len, r->ncols, 0);
			walk_list(r->cells, r->cells_len,
				  (uint64_t)r->nrows * r->ncols, 1);
		}

		check(px_encode(m, enc, size + 64, &n) == PX_EOK);
		check(n == size && memcmp(enc, data, size) == 0);
		/* one byte short must be refused, not overrun */
		if (n > 0)
			check(px_encode(m, enc2, n - 1, &n2) == PX_ESPACE);

		check(px_decode(enc, n, m2) == PX_EOK);
		check(px_encode(m2, enc2, size + 64, &n2) == PX_EOK);
		check(n2 == n && memcmp(enc, enc2, n) == 0);
	}

	free(enc2);
	free(enc);
	free(m2);
	free(m);
	return 0;
}
