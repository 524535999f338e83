/*
 * test_clock.c - unit tests of the daemons' clock (common/px_clock.c): paced
 * by the monotonic clock, slewing towards the wall clock at 5 %, never back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "px_clock.h"

#define S 1000000ull /* one second in µs */
#define T0 (1796000000ull * S)

/* Advance mono and wall together by total µs in readings every `every` µs;
 * check the clock never goes back.  Returns the last reading (ms). */
static uint64_t run(struct px_clock *c, uint64_t *mono, uint64_t *wall, uint64_t total, uint64_t every)
{
	uint64_t last = px_clock_read(c, *mono, *wall);
	for (uint64_t t = 0; t < total; t += every) {
		*mono += every;
		*wall += every;
		uint64_t now = px_clock_read(c, *mono, *wall);
		assert_true(now >= last);
		last = now;
	}
	return last;
}

/* Rule: the first reading is the wall clock; in step, it stays the wall clock. */
static void test_clock_in_step(void **state)
{
	(void)state;
	struct px_clock c = {0};
	uint64_t mono = 5 * S, wall = T0;
	assert_int_equal(px_clock_read(&c, mono, wall), T0 / 1000);
	uint64_t now = run(&c, &mono, &wall, 10 * S, 1000);
	assert_int_equal(now, wall / 1000);
	assert_int_equal(px_clock_offset_ms(&c, wall), 0);
}

/* Rule: a step of the wall clock 8 s back does not freeze the clock: it
 * keeps running at 95 % until it has caught up, in about 160 s, and it
 * never goes back. */
static void test_clock_step_back_slews(void **state)
{
	(void)state;
	struct px_clock c = {0};
	uint64_t mono = 5 * S, wall = T0;
	run(&c, &mono, &wall, 1 * S, 1000);
	uint64_t before = px_clock_read(&c, mono, wall);
	wall -= 8 * S;
	uint64_t after10 = run(&c, &mono, &wall, 10 * S, 1000);
	/* 10 s passed: the clock moved about 9.5 s, not 0 (frozen) nor -8 s. */
	assert_true(after10 >= before + 9400 && after10 <= before + 9600);
	int64_t off = px_clock_offset_ms(&c, wall);
	assert_true(off <= -7400 && off >= -7600);
	run(&c, &mono, &wall, 155 * S, 1000);
	assert_int_equal(px_clock_offset_ms(&c, wall), 0);
	assert_int_equal(c.steps, 0);
}

/* Rule: a step 8 s forward is followed at 5 % too (leases do not all expire
 * at once); rare readings slew as fast as frequent ones. */
static void test_clock_step_forward_slews(void **state)
{
	(void)state;
	for (int k = 0; k < 2; k++) {
		struct px_clock c = {0};
		uint64_t mono = 5 * S, wall = T0;
		uint64_t every = k ? 50000 : 100; /* every 50 ms, or every 100 µs */
		run(&c, &mono, &wall, 1 * S, every);
		uint64_t before = px_clock_read(&c, mono, wall);
		wall += 8 * S;
		uint64_t after10 = run(&c, &mono, &wall, 10 * S, every);
		assert_true(after10 >= before + 10400 && after10 <= before + 10600);
		run(&c, &mono, &wall, 155 * S, every);
		assert_int_equal(px_clock_offset_ms(&c, wall), 0);
	}
}

/* Rule: a wall clock more than a minute ahead is joined at once. */
static void test_clock_far_ahead_joins(void **state)
{
	(void)state;
	struct px_clock c = {0};
	uint64_t mono = 5 * S, wall = T0;
	run(&c, &mono, &wall, 1 * S, 1000);
	wall += 3600 * S;
	mono += 1000;
	wall += 1000;
	assert_int_equal(px_clock_read(&c, mono, wall), wall / 1000);
	assert_int_equal(c.steps, 1);
	/* A minute behind is slewed, not joined. */
	wall -= 3600 * S;
	uint64_t now = run(&c, &mono, &wall, 1 * S, 1000);
	assert_true(now > T0 / 1000 + 3600 * 1000);
	assert_int_equal(c.steps, 1);
}

/* Rule: a monotonic reading that goes back (it must not, but) never moves
 * the clock back. */
static void test_clock_mono_back(void **state)
{
	(void)state;
	struct px_clock c = {0};
	uint64_t a = px_clock_read(&c, 10 * S, T0);
	uint64_t b = px_clock_read(&c, 9 * S, T0 - 5 * S);
	assert_true(b >= a);
	uint64_t d = px_clock_read(&c, 11 * S, T0 + S);
	assert_true(d >= b);
}

/* Property: under random steps and reading intervals the clock never goes
 * back, never moves faster than 105 % of the monotonic clock (or joins a
 * wall clock far ahead), and ends in step after a calm spell. */
static void test_clock_random(void **state)
{
	(void)state;
	srand(17);
	for (int run_ = 0; run_ < 200; run_++) {
		struct px_clock c = {0};
		uint64_t mono = (uint64_t)(rand() % 1000) * S, wall = T0;
		uint64_t last = px_clock_read(&c, mono, wall);
		uint64_t last_us = c.now_us;
		for (int i = 0; i < 2000; i++) {
			uint64_t dt = (uint64_t)(rand() % 20000);
			mono += dt;
			wall += dt;
			if (rand() % 200 == 0) {
				int64_t jump = (int64_t)(rand() % 20001 - 10000) * 1000;
				wall = (uint64_t)((int64_t)wall + jump);
			}
			uint64_t steps = c.steps;
			uint64_t now = px_clock_read(&c, mono, wall);
			assert_true(now >= last);
			if (c.steps == steps)
				assert_true(c.now_us - last_us <= dt + dt / 20 + 50000);
			last = now;
			last_us = c.now_us;
		}
		/* A calm spell 20 times the offset (plus one second) brings it back. */
		int64_t off = px_clock_offset_ms(&c, wall);
		uint64_t calm = (uint64_t)(off < 0 ? -off : off) * 20u * 1000u + S;
		uint64_t t = run(&c, &mono, &wall, calm, 20000);
		assert_int_equal(t, wall / 1000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock_in_step),
		cmocka_unit_test(test_clock_step_back_slews),
		cmocka_unit_test(test_clock_step_forward_slews),
		cmocka_unit_test(test_clock_far_ahead_joins),
		cmocka_unit_test(test_clock_mono_back),
		cmocka_unit_test(test_clock_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
