/*
 * px_log.h - the daemons' log lines: one line per event on stderr,
 *
 *     2026-11-22T04:32:45.325123Z coordinator.0 INFO replica=0 ballot=4 ...
 *
 * (UTC time with microseconds, process name, level, message).  Not part of
 * the pure core: it reads the clock.  One process-wide setting, set once at
 * startup, before any thread starts.
 */
#ifndef PX_LOG_H
#define PX_LOG_H

#include <stddef.h>
#include <stdint.h>

enum px_log_level { PX_LOG_ERROR = 0, PX_LOG_WARN = 1, PX_LOG_INFO = 2, PX_LOG_DEBUG = 3 };

/* The process name printed on every line, e.g. "coordinator.0" (copied). */
void px_log_name(const char *name);
/* Lines above this level are dropped (default PX_LOG_INFO). */
void px_log_set_level(int level);
int px_log_level(void);
/* "error", "warn", "info" or "debug" -> the level, or -1. */
int px_log_parse_level(const char *s);
void px_logf(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* --log-file PATH: open PATH (append, created 0640) onto stderr, so that
 * every line (libraries' too) goes there.  px_log_reopen opens the same
 * path again (SIGHUP, after logrotate moved the file); without a log file
 * it does nothing.  0, or -1 with err set (the old stderr stays). */
int px_log_open(const char *path, char *err, size_t errcap);
int px_log_reopen(char *err, size_t errcap);
/* The log file, or NULL (stderr as started). */
const char *px_log_path(void);

/* Wall-clock milliseconds since the epoch. */
uint64_t px_wall_ms(void);

#endif
