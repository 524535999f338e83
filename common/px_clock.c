#include "px_clock.h"

#define CREDIT_MAX (50000ull * 1000000ull)

uint64_t px_clock_read(struct px_clock *c, uint64_t mono_us, uint64_t wall_us)
{
	if (!c->started) {
		c->started = 1;
		c->now_us = wall_us;
		c->mono_us = mono_us;
		c->credit = 0;
		return c->now_us / 1000u;
	}
	uint64_t dt = mono_us > c->mono_us ? mono_us - c->mono_us : 0;
	c->mono_us = mono_us > c->mono_us ? mono_us : c->mono_us;
	c->now_us += dt;
	if (wall_us > c->now_us && wall_us - c->now_us > (uint64_t)PX_CLOCK_STEP_MS * 1000u) {
		c->now_us = wall_us;
		c->credit = 0;
		c->steps++;
		return c->now_us / 1000u;
	}
	if (wall_us == c->now_us) {
		c->credit = 0;
		return c->now_us / 1000u;
	}
	/* Slew: at most PPM of the monotonic time since the last adjustment.
	 * Credit accumulates, so frequent readings slew as fast as rare ones. */
	c->credit += dt * PX_CLOCK_SLEW_PPM;
	if (c->credit > CREDIT_MAX)
		c->credit = CREDIT_MAX; /* at most 50 ms of slew held in reserve */
	uint64_t may = c->credit / 1000000u;
	if (!may)
		return c->now_us / 1000u;
	if (wall_us > c->now_us) {
		uint64_t d = wall_us - c->now_us;
		uint64_t s = d < may ? d : may;
		c->now_us += s;
		c->credit -= s * 1000000u;
	} else {
		/* Behind: run slow, never back.  dt was just added; take back at
		 * most the slew share of it. */
		uint64_t d = c->now_us - wall_us;
		uint64_t s = d < may ? d : may;
		if (s > dt)
			s = dt;
		c->now_us -= s;
		c->credit -= s * 1000000u;
	}
	if (c->now_us == wall_us)
		c->credit = 0;
	return c->now_us / 1000u;
}

int64_t px_clock_offset_ms(const struct px_clock *c, uint64_t wall_us)
{
	return wall_us >= c->now_us ? (int64_t)((wall_us - c->now_us) / 1000u)
				    : -(int64_t)((c->now_us - wall_us) / 1000u);
}
