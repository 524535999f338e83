/*
 * px_notify.h - the systemd service protocol (sd_notify), for Type=notify
 * units: READY=1 once a daemon has recovered and listens, WATCHDOG=1 from
 * its loop while WatchdogSec= is set, STOPPING=1 when it drains.  Without
 * NOTIFY_SOCKET (not started by systemd) every call does nothing.
 */
#ifndef PX_NOTIFY_H
#define PX_NOTIFY_H

#include <stdint.h>

/* READY=1 with a STATUS= line; reads the watchdog interval. */
void px_notify_ready(const char *status);
/* A STATUS= line alone. */
void px_notify_status(const char *status);
/* From the loop: sends WATCHDOG=1 if half the interval has passed since the
 * last.  Returns the time (ms, on now_ms's clock) of the next one, or 0
 * when no watchdog is asked for. */
uint64_t px_notify_tick(uint64_t now_ms);
void px_notify_stopping(void);

#endif
