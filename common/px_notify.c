/*
 * px_notify.c - see px_notify.h.  libsystemd's sd_notify speaks the
 * protocol; it does nothing when NOTIFY_SOCKET is unset.
 */
#include "px_notify.h"

#include <stdio.h>
#include <systemd/sd-daemon.h>

static uint64_t g_every_ms; /* half the watchdog interval; 0: none */
static uint64_t g_next;

void px_notify_ready(const char *status)
{
	uint64_t usec = 0;
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		g_every_ms = usec / 2000u;
		if (!g_every_ms)
			g_every_ms = 1;
	}
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void px_notify_status(const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

uint64_t px_notify_tick(uint64_t now_ms)
{
	if (!g_every_ms)
		return 0;
	if (now_ms >= g_next) {
		sd_notify(0, "WATCHDOG=1");
		g_next = now_ms + g_every_ms;
	}
	return g_next;
}

void px_notify_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=stopping: draining");
}
