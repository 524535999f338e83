/* The daemons' clock: paced by the monotonic clock, following the wall clock.
 *
 * Gid birth times are wall-clock milliseconds, so a replica and an agent must
 * keep a clock near the wall clock.  But a host's wall clock can step: an NTP
 * correction, an operator's `date -s`, a VM resumed from a snapshot.  Followed
 * as is, a step back would freeze the daemon (its clock never goes back) for
 * as long as the step, and all that time it would refuse gids born "ahead";
 * a step forward would expire every lease and timeout at once.
 *
 * So the daemon's clock advances with the monotonic clock, and slews towards
 * the wall clock at PX_CLOCK_SLEW_PPM (5 %) of the time that passes: a step
 * of 8 s is followed in 160 s, and until then the daemon keeps the time it
 * had.  It never goes back.  A wall clock more than PX_CLOCK_STEP_MS ahead is
 * joined at once (a daemon started with a clock far behind would otherwise
 * refuse every client for hours); further behind, it still slews.
 *
 * Pure: the caller reads the clocks and passes the readings in (so the
 * simulator and the unit tests can drive it). */
#ifndef PX_CLOCK_H
#define PX_CLOCK_H

#include <stdint.h>

#define PX_CLOCK_SLEW_PPM 50000u  /* 5 % */
#define PX_CLOCK_STEP_MS  60000u  /* join a wall clock this far ahead at once */

struct px_clock {
	uint64_t now_us;   /* the daemon's clock, microseconds since the epoch */
	uint64_t mono_us;  /* the monotonic reading that now_us goes with */
	uint64_t credit;   /* monotonic µs × PPM not yet spent on slewing */
	uint64_t steps;    /* times the wall clock was joined at once */
	int started;
};

/* Advance the clock to fresh readings (both in microseconds; mono from
 * CLOCK_MONOTONIC, wall from CLOCK_REALTIME).  Returns the daemon's time in
 * milliseconds since the epoch; it never decreases. */
uint64_t px_clock_read(struct px_clock *c, uint64_t mono_us, uint64_t wall_us);

/* The wall clock minus the daemon's clock, in milliseconds, at the last
 * reading's wall time (positive: the wall clock is ahead). */
int64_t px_clock_offset_ms(const struct px_clock *c, uint64_t wall_us);

#endif
