/*
 * test_gid_map.c - unit tests of gids (common/px_gid.c), the gid hash map
 * (common/px_map.c) and the replica's log records (coordinator/px_rec.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_gid.h"
#include "px_internal.h"
#include "px_map.h"
#include "px_update.h"

#define CLI 0x0123456789abcdefULL

static int parse(const char *s, uint64_t *birth)
{
	return px_gid_parse(s, strlen(s), birth, NULL);
}

/* ================================================================ gids */

/* Rule: px_gid_make writes <prefix>_<birth>_<16 hex>_<seq> and parses back. */
static void test_gid_round_trip(void **state)
{
	(void)state;
	char buf[256];
	uint64_t birth = 0;
	size_t plen = 0;
	size_t n = px_gid_make(buf, sizeof(buf), "bank7", 1700000000123ULL, CLI, 42);
	assert_string_equal(buf, "bank7_1700000000123_0123456789abcdef_42");
	assert_int_equal(n, strlen(buf));
	assert_int_equal(px_gid_parse(buf, n, &birth, &plen), 0);
	assert_int_equal(birth, 1700000000123ULL);
	assert_int_equal(plen, 5);

	n = px_gid_make(buf, sizeof(buf), "X", UINT64_MAX, UINT64_MAX, UINT64_MAX);
	assert_true(n > 0);
	assert_int_equal(px_gid_parse(buf, n, &birth, NULL), 0);
	assert_true(birth == UINT64_MAX);

	/* parse uses only len bytes: no NUL needed */
	n = px_gid_make(buf, sizeof(buf), "t", 5, 1, 9);
	buf[n] = 'Z';
	assert_int_equal(px_gid_parse(buf, n, &birth, NULL), 0);
	assert_int_equal(birth, 5);
}

/* Rule: an XA-style gid carries "x" before its seq; px_gid_is_xa tells it
 * from a plain gid, and both parse with the same birth. */
static void test_gid_xa_mark(void **state)
{
	(void)state;
	char buf[256];
	uint64_t birth = 0;
	size_t n = px_gid_make_xa(buf, sizeof(buf), "bank7", 1700000000123ULL, CLI, 42);
	assert_string_equal(buf, "bank7_1700000000123_0123456789abcdef_x42");
	assert_int_equal(px_gid_parse(buf, n, &birth, NULL), 0);
	assert_int_equal(birth, 1700000000123ULL);
	assert_int_equal(px_gid_is_xa(buf, n), 1);
	n = px_gid_make(buf, sizeof(buf), "bank7", 1700000000123ULL, CLI, 42);
	assert_int_equal(px_gid_is_xa(buf, n), 0);
	assert_int_equal(px_gid_is_xa("bank7_1_0123456789abcdef_x", 26), 0); /* no digits */
	assert_int_equal(px_gid_is_xa("bank7_1_0123456789abcdef_xx1", 28), 0);
	assert_int_equal(px_gid_is_xa("bank7_1_0123456789abcdef_1x", 27), 0);
}

/* Rule: px_gid_make refuses bad prefixes and gids that do not fit. */
static void test_gid_make_rejects(void **state)
{
	(void)state;
	char buf[256], prefix[80];
	assert_int_equal(px_gid_make(buf, sizeof(buf), "", 1, CLI, 1), 0);
	assert_int_equal(px_gid_make(buf, sizeof(buf), "a_b", 1, CLI, 1), 0);
	assert_int_equal(px_gid_make(buf, sizeof(buf), "a-b", 1, CLI, 1), 0);
	memset(prefix, 'p', PX_PREFIX_MAX + 1);
	prefix[PX_PREFIX_MAX + 1] = '\0';
	assert_int_equal(px_gid_make(buf, sizeof(buf), prefix, 1, CLI, 1), 0);
	prefix[PX_PREFIX_MAX] = '\0';
	assert_true(px_gid_make(buf, sizeof(buf), prefix, 1, CLI, 1) > 0);
	/* buffer too small */
	assert_int_equal(px_gid_make(buf, 10, "t", 1, CLI, 1), 0);
}

/* Rule: px_gid_parse rejects every malformed gid. */
static void test_gid_parse_rejects(void **state)
{
	(void)state;
	uint64_t b;
	char big[260];
	static const char *bad[] = {
		"",
		"_1000_0123456789abcdef_1",            /* empty prefix */
		"a-b_1000_0123456789abcdef_1",         /* non-alnum prefix */
		"a b_1000_0123456789abcdef_1",
		"x_y_1000_0123456789abcdef_1",         /* '_' in prefix */
		"t_1000_0123456789abcdef",             /* missing field */
		"t_0123456789abcdef_1",
		"t",
		"t___",
		"t__0123456789abcdef_1",               /* empty birth */
		"t_1000_0123456789abcdef_",            /* empty seq */
		"t_1000_0123456789abcde_1",            /* 15 hex digits */
		"t_1000_0123456789abcdef0_1",          /* 17 hex digits */
		"t_1000_0123456789ABCDEF_1",           /* upper-case hex */
		"t_1000_0123456789abcdeg_1",           /* not hex */
		"t_10a0_0123456789abcdef_1",           /* non-digit birth */
		"t_-100_0123456789abcdef_1",
		"t_1000_0123456789abcdef_1x",          /* non-digit seq */
		"t_18446744073709551616_0123456789abcdef_1", /* birth overflows */
		"t_99999999999999999999_0123456789abcdef_1",
		"t_1000_0123456789abcdef_18446744073709551616", /* seq overflows */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		b = 7;
		if (parse(bad[i], &b) != -1)
			fail_msg("accepted malformed gid \"%s\"", bad[i]);
		assert_int_equal(b, 7);
	}
	/* the largest birth still parses */
	assert_int_equal(parse("t_18446744073709551615_0123456789abcdef_1", &b), 0);
	assert_true(b == UINT64_MAX);

	/* a prefix of PX_PREFIX_MAX (63) parses, one more does not; longer
	 * gids (up to and over PostgreSQL's 200-byte limit) never parse */
	static const size_t plen[] = {63, 64};
	for (size_t i = 0; i < 2; i++) {
		const char *tail = "_1_0123456789abcdef_1";
		size_t tl = strlen(tail);
		memset(big, 'p', sizeof(big));
		memcpy(big + plen[i], tail, tl);
		assert_int_equal(px_gid_parse(big, plen[i] + tl, &b, NULL), plen[i] <= PX_PREFIX_MAX ? 0 : -1);
	}
	static const size_t lens[] = {199, 200, 201, 250};
	for (size_t i = 0; i < 4; i++) {
		const char *tail = "_1_0123456789abcdef_1";
		size_t tl = strlen(tail);
		memset(big, 'p', sizeof(big));
		memcpy(big + lens[i] - tl, tail, tl);
		assert_int_equal(px_gid_parse(big, lens[i], &b, NULL), -1);
	}
}

/* ================================================================= map */

struct item {
	struct px_key k; /* first member */
	int v;
};

static struct item *item_new(const char *s, int v)
{
	struct item *it = malloc(sizeof(*it));
	assert_non_null(it);
	px_key_set(&it->k, px_str_of(s, (uint32_t)strlen(s)));
	it->v = v;
	return it;
}

static struct px_str key_str(int i, char *buf)
{
	int n = snprintf(buf, 32, "key%d", i);
	return px_str_of(buf, (uint32_t)n);
}

/* Rule: get finds exactly the keys present, across growth and deletions
 * in the middle of probe runs. */
static void test_map_many_keys(void **state)
{
	(void)state;
	enum { N = 10000 };
	struct px_map m;
	struct item **items = calloc(N, sizeof(*items));
	char buf[32];
	assert_non_null(items);
	px_map_init(&m);
	assert_null(px_map_get(&m, px_str_of("key1", 4)));
	for (int i = 0; i < N; i++) {
		key_str(i, buf);
		items[i] = item_new(buf, i);
		assert_int_equal(px_map_put(&m, items[i]), 0);
	}
	assert_int_equal(m.n, N);
	for (int i = 0; i < N; i += 3) {
		struct px_key k;
		px_key_set(&k, key_str(i, buf));
		assert_ptr_equal(px_map_del(&m, &k), items[i]);
		assert_null(px_map_del(&m, &k)); /* gone already */
	}
	assert_int_equal(m.n, N - (N + 2) / 3);
	for (int i = 0; i < N; i++) {
		struct item *got = px_map_get(&m, key_str(i, buf));
		if (i % 3 == 0)
			assert_null(got);
		else {
			assert_ptr_equal(got, items[i]);
			assert_int_equal(got->v, i);
		}
	}
	/* iteration visits every remaining item once */
	size_t pos = 0, seen = 0;
	struct item *it;
	while ((it = px_map_next(&m, &pos))) {
		assert_true(it->v % 3 != 0);
		seen++;
	}
	assert_int_equal(seen, m.n);
	/* the rest can be deleted too, leaving an empty map */
	for (int i = 0; i < N; i++) {
		struct px_key k;
		px_key_set(&k, key_str(i, buf));
		struct item *got = px_map_del(&m, &k);
		assert_true(i % 3 == 0 ? got == NULL : got == items[i]);
	}
	assert_int_equal(m.n, 0);
	pos = 0;
	assert_null(px_map_next(&m, &pos));
	for (int i = 0; i < N; i++)
		free(items[i]);
	free(items);
	px_map_free(&m);
}

/* Rule: backward-shift deletion keeps a probe run that wraps around the
 * end of the table reachable. */
static void test_map_wrapping_run(void **state)
{
	(void)state;
	enum { K = 8 };
	struct px_map m;
	struct item *items[K];
	char buf[32];
	int found = 0;
	px_map_init(&m);
	/* keys whose home is one of the last two of the 64 initial slots */
	for (int i = 0; found < K; i++) {
		struct px_str s = key_str(i, buf);
		uint64_t h = px_hash(s.p, s.len) & 63;
		if (h >= 62)
			items[found++] = item_new(buf, i);
	}
	for (int i = 0; i < K; i++)
		assert_int_equal(px_map_put(&m, items[i]), 0);
	assert_int_equal(m.cap, 64);
	for (int d = 0; d < K; d += 2) { /* delete every other one, front first */
		assert_ptr_equal(px_map_del(&m, &items[d]->k), items[d]);
		for (int i = 0; i < K; i++) {
			void *got = px_map_get(&m, px_str_of(items[i]->k.s, items[i]->k.len));
			assert_ptr_equal(got, (i <= d && i % 2 == 0) ? NULL : items[i]);
		}
	}
	for (int i = 0; i < K; i++)
		free(items[i]);
	px_map_free(&m);
}

/* ============================================================= records */

/* Rule: every record type survives px_rec_put / px_rec_get unchanged. */
static void test_rec_round_trip(void **state)
{
	(void)state;
	char gb[64];
	struct px_update u;
	struct px_rec in, out;
	size_t n = px_gid_make(gb, sizeof(gb), "t", 1000000, CLI, 3);
	struct px_str g = px_str_of(gb, (uint32_t)n);
	px_update_init(&u);
	struct px_rec recs[] = {
		{.type = PX_REC_PROMISE, .gid = g, .rm = 7, .bal = 5, .pset = {2, {7, 9}}},
		{.type = PX_REC_PROMISE, .gid = g, .rm = 0xFFFF, .bal = 0xFFFFFFF0u},
		{.type = PX_REC_ACCEPT, .gid = g, .rm = 9, .bal = 0, .val = PX_VAL_ABORTED, .pset = {2, {7, 9}}},
		{.type = PX_REC_DECISION, .gid = g, .outcome = PX_OUT_COMMIT, .pset = {3, {1, 300, 65000}}},
		{.type = PX_REC_FORGET, .gid = g, .outcome = PX_OUT_NONE},
		{.type = PX_REC_HORIZON, .u64 = 0x0102030405060708ULL},
		{.type = PX_REC_ROUND, .u64 = UINT64_MAX},
	};
	size_t nr = sizeof(recs) / sizeof(recs[0]);
	for (size_t i = 0; i < nr; i++)
		assert_int_equal(px_rec_put(&u, &recs[i]), 0);
	assert_int_equal(u.nrec, nr);
	assert_int_equal(u.rec_seq, nr);
	for (size_t i = 0; i < nr; i++) {
		in = recs[i];
		assert_int_equal(px_rec_get(px_update_ptr(&u, u.rec[i].off), u.rec[i].len, &out), 0);
		assert_int_equal(out.type, in.type);
		assert_true(px_str_eq(out.gid, in.gid));
		assert_int_equal(out.rm, in.rm);
		assert_int_equal(out.bal, in.bal);
		assert_int_equal(out.val, in.val);
		assert_int_equal(out.outcome, in.outcome);
		assert_int_equal(out.pset.n, in.pset.n);
		assert_memory_equal(out.pset.rm, in.pset.rm, in.pset.n * sizeof(in.pset.rm[0]));
		assert_true(out.u64 == in.u64);
	}
	/* too long a gid or set is refused at put */
	struct px_rec bad = recs[0];
	bad.pset.n = PX_PSET_MAX + 1;
	assert_int_equal(px_rec_put(&u, &bad), -1);
	bad = recs[0];
	bad.gid.len = PX_GID_MAX + 1;
	assert_int_equal(px_rec_put(&u, &bad), -1);
	assert_int_equal(u.nrec, nr);
	px_update_free(&u);
}

/* Rule: px_rec_get refuses truncated, extended or out-of-range records. */
static void test_rec_rejects(void **state)
{
	(void)state;
	char gb[64];
	struct px_update u;
	struct px_rec rec, out;
	size_t n = px_gid_make(gb, sizeof(gb), "t", 1000000, CLI, 3);
	px_update_init(&u);
	memset(&rec, 0, sizeof(rec));
	rec.type = PX_REC_ACCEPT;
	rec.gid = px_str_of(gb, (uint32_t)n);
	rec.rm = 2;
	rec.bal = 4;
	rec.val = PX_VAL_PREPARED;
	rec.pset.n = 2;
	rec.pset.rm[0] = 1;
	rec.pset.rm[1] = 2;
	assert_int_equal(px_rec_put(&u, &rec), 0);
	uint32_t len = u.rec[0].len;
	/* a copy with one spare byte, in a block of exactly its size */
	uint8_t *p = malloc(len + 1);
	assert_non_null(p);
	memcpy(p, px_update_ptr(&u, u.rec[0].off), len);
	p[len] = 0;
	assert_int_equal(px_rec_get(p, len, &out), 0);

	for (uint32_t l = 0; l < len; l++) {
		uint8_t *t = malloc(l ? l : 1);
		assert_non_null(t);
		memcpy(t, p, l);
		if (px_rec_get(t, l, &out) != -1)
			fail_msg("accepted a record truncated to %u of %u bytes", l, len);
		free(t);
	}
	assert_int_equal(px_rec_get(p, len + 1, &out), -1); /* trailing byte */

	uint8_t save;
	save = p[0];
	p[0] = 0;
	assert_int_equal(px_rec_get(p, len, &out), -1); /* type 0 */
	p[0] = PX_REC_ROUND + 1;
	assert_int_equal(px_rec_get(p, len, &out), -1); /* unknown type */
	p[0] = save;
	size_t q = 2 + n; /* rm u16 | bal u32 | val u8 | outcome u8 | pset_n */
	save = p[q + 6];
	p[q + 6] = PX_VAL_ABORTED + 1;
	assert_int_equal(px_rec_get(p, len, &out), -1); /* val out of range */
	p[q + 6] = save;
	save = p[q + 7];
	p[q + 7] = PX_OUT_ABORT + 1;
	assert_int_equal(px_rec_get(p, len, &out), -1); /* outcome out of range */
	p[q + 7] = save;
	save = p[q + 8];
	p[q + 8] = 3; /* pset count disagrees with the length */
	assert_int_equal(px_rec_get(p, len, &out), -1);
	p[q + 8] = save;
	save = p[1];
	p[1] = 200; /* gid longer than PX_GID_MAX */
	assert_int_equal(px_rec_get(p, len, &out), -1);
	p[1] = save;
	assert_int_equal(px_rec_get(p, len, &out), 0); /* control: restored */
	free(p);
	px_update_free(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gid_round_trip),
		cmocka_unit_test(test_gid_xa_mark),
		cmocka_unit_test(test_gid_make_rejects),
		cmocka_unit_test(test_gid_parse_rejects),
		cmocka_unit_test(test_map_many_keys),
		cmocka_unit_test(test_map_wrapping_run),
		cmocka_unit_test(test_rec_round_trip),
		cmocka_unit_test(test_rec_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
