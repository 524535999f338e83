/*
 * px_log.c - see px_log.h.
 */
#include "px_log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int g_level = PX_LOG_INFO;
static char g_name[80] = "?";

void px_log_name(const char *name)
{
	snprintf(g_name, sizeof(g_name), "%s", name);
}

void px_log_set_level(int level)
{
	g_level = level;
}

int px_log_level(void)
{
	return g_level;
}

int px_log_parse_level(const char *s)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

void px_logf(int level, const char *fmt, ...)
{
	if (level > g_level)
		return;
	static const char *const names[] = {"ERROR", "WARN", "INFO", "DEBUG"};
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char line[1200];
	int n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s %s ", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000L, g_name,
			 names[level < 0 ? 0 : level > 3 ? 3 : level]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);
}

static char g_path[4096];

int px_log_open(const char *path, char *err, size_t errcap)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errcap, "log file %s: %s", path, strerror(errno));
		return -1;
	}
	fflush(stderr);
	if (fd != 2 && dup2(fd, 2) < 0) {
		snprintf(err, errcap, "log file %s: dup2: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (fd != 2)
		close(fd);
	if (path != g_path)
		snprintf(g_path, sizeof(g_path), "%s", path);
	return 0;
}

int px_log_reopen(char *err, size_t errcap)
{
	return g_path[0] ? px_log_open(g_path, err, errcap) : 0;
}

const char *px_log_path(void)
{
	return g_path[0] ? g_path : NULL;
}

uint64_t px_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
