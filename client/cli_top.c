/*
 * cli_top.c - `paxcommit top`: every daemon's /metrics, live, in one
 * terminal.
 *
 * It scrapes the `metrics` address of every [coordinator.N] and
 * [participant.X] of the configuration each interval, and prints one line
 * per daemon: the counters as rates over the interval, the gauges as they
 * are, and the commit-request latency's quantiles from the histogram's
 * buckets over the interval (as Prometheus' histogram_quantile would, to
 * the bucket's upper bound).  Plain text, so it works over any terminal
 * and in a pipe; on a terminal each frame replaces the last.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "px_config.h"

int cli_top(const struct px_config *cfg, int argc, char **argv);

#define TOP_BODY_MAX (1u << 20)
#define TOP_WAIT_MS 1000

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* GET /metrics from "host:port" (IPv4, or [IPv6]).  The body, malloc'd, or
 * NULL with why set. */
static char *scrape(const char *addr, char *why, size_t whycap)
{
	char host[160], port[16];
	const char *colon = strrchr(addr, ':');
	if (!colon || (size_t)(colon - addr) >= sizeof(host) || strlen(colon + 1) >= sizeof(port)) {
		snprintf(why, whycap, "bad address %s", addr);
		return NULL;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	snprintf(port, sizeof(port), "%s", colon + 1);
	if (host[0] == '[') {
		size_t n = strlen(host);
		if (n < 2 || host[n - 1] != ']') {
			snprintf(why, whycap, "bad address %s", addr);
			return NULL;
		}
		memmove(host, host + 1, n - 2);
		host[n - 2] = 0;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai;
	if (getaddrinfo(host, port, &hints, &ai)) {
		snprintf(why, whycap, "bad address %s", addr);
		return NULL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		snprintf(why, whycap, "socket: %s", strerror(errno));
		return NULL;
	}
	uint64_t deadline = mono_ms() + TOP_WAIT_MS;
	int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc && errno != EINPROGRESS) {
		snprintf(why, whycap, "%s", strerror(errno));
		close(fd);
		return NULL;
	}
	char req[256];
	int rn = snprintf(req, sizeof(req), "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n", addr);
	size_t sent = 0, len = 0, cap = 65536;
	char *buf = malloc(cap);
	if (!buf) {
		close(fd);
		snprintf(why, whycap, "out of memory");
		return NULL;
	}
	for (;;) {
		uint64_t now = mono_ms();
		if (now >= deadline) {
			snprintf(why, whycap, "no answer within %d ms", TOP_WAIT_MS);
			goto fail;
		}
		struct pollfd p = {.fd = fd, .events = (short)(sent < (size_t)rn ? POLLOUT : POLLIN)};
		int pr = poll(&p, 1, (int)(deadline - now));
		if (pr < 0 && errno != EINTR) {
			snprintf(why, whycap, "poll: %s", strerror(errno));
			goto fail;
		}
		if (pr <= 0)
			continue;
		if (sent < (size_t)rn) {
			ssize_t w = send(fd, req + sent, (size_t)rn - sent, MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				snprintf(why, whycap, "%s", strerror(errno));
				goto fail;
			}
			if (w > 0)
				sent += (size_t)w;
			continue;
		}
		if (len + 1 >= cap) {
			if (cap >= TOP_BODY_MAX) {
				snprintf(why, whycap, "answer over %u bytes", TOP_BODY_MAX);
				goto fail;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				snprintf(why, whycap, "out of memory");
				goto fail;
			}
			buf = nb;
			cap *= 2;
		}
		ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r < 0) {
			snprintf(why, whycap, "%s", strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = 0;
	int code = 0;
	if (sscanf(buf, "HTTP/%*d.%*d %d", &code) != 1 || code != 200) {
		snprintf(why, whycap, "HTTP status %d", code);
		free(buf);
		return NULL;
	}
	char *body = strstr(buf, "\r\n\r\n");
	if (!body) {
		snprintf(why, whycap, "no body");
		free(buf);
		return NULL;
	}
	memmove(buf, body + 4, strlen(body + 4) + 1);
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

/* The value of the sample `series` (name, or name{labels} exactly as
 * written), or -1 if the text has none. */
static double metric(const char *text, const char *series)
{
	size_t n = strlen(series);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, series, n) && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* A histogram's cumulative buckets: le bounds and counts. */
#define TOP_LE_MAX 32
struct hist {
	int n;
	double le[TOP_LE_MAX];
	double cum[TOP_LE_MAX];
};

static void hist_read(const char *text, const char *name, struct hist *h)
{
	h->n = 0;
	char pre[160];
	int pn = snprintf(pre, sizeof(pre), "%s_bucket{le=\"", name);
	for (const char *p = text; p && *p && h->n < TOP_LE_MAX; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, pre, (size_t)pn))
			continue;
		const char *q = p + pn;
		double le = !strncmp(q, "+Inf", 4) ? 1e300 : strtod(q, NULL);
		const char *sp = strstr(q, "} ");
		if (!sp)
			continue;
		h->le[h->n] = le;
		h->cum[h->n++] = strtod(sp + 2, NULL);
	}
}

/* The q-quantile of (now - before), to the upper bound of its bucket, in
 * seconds; -1 if nothing was observed in between. */
static double hist_quantile(const struct hist *now, const struct hist *before, double q)
{
	if (!now->n)
		return -1;
	double total = now->cum[now->n - 1] - (before->n == now->n ? before->cum[now->n - 1] : 0);
	if (total <= 0)
		return -1;
	for (int i = 0; i < now->n; i++) {
		double c = now->cum[i] - (before->n == now->n ? before->cum[i] : 0);
		if (c >= q * total)
			return now->le[i];
	}
	return now->le[now->n - 1];
}

static void fmt_seconds(char *out, size_t cap, double s)
{
	if (s < 0)
		snprintf(out, cap, "-");
	else if (s >= 1e299)
		snprintf(out, cap, ">10s");
	else if (s < 1e-3)
		snprintf(out, cap, "%.0fus", s * 1e6);
	else if (s < 1)
		snprintf(out, cap, "%.1fms", s * 1e3);
	else
		snprintf(out, cap, "%.1fs", s);
}

/* One daemon's last two scrapes. */
struct daemon_view {
	const char *kind; /* "coordinator" or "participant" */
	char name[64];
	const char *addr;
	char *now, *before; /* texts, or NULL */
	char why[200];
};

static double rate(const struct daemon_view *d, const char *series, double secs)
{
	double a = metric(d->now, series), b = d->before ? metric(d->before, series) : -1;
	if (a < 0)
		return -1;
	if (b < 0 || secs <= 0)
		return -1;
	return (a - b) / secs;
}

static void fmt_num(char *out, size_t cap, double v)
{
	if (v < 0)
		snprintf(out, cap, "-");
	else if (v >= 100 || v == (double)(long long)v)
		snprintf(out, cap, "%.0f", v);
	else
		snprintf(out, cap, "%.1f", v);
}

static void usage_top(FILE *f)
{
	fprintf(f, "usage: paxcommit --config FILE top [--interval SECONDS] [--count N]\n"
		   "\n"
		   "Scrape /metrics of every coordinator and participant agent that has a\n"
		   "`metrics` address in FILE, every SECONDS (default 1, 0.1 to 3600), and\n"
		   "print one line per daemon: rates over the interval, gauges as they are.\n"
		   "  coordinators: up, leader (* marks the one that leads), ballot, commit and\n"
		   "    abort decisions per second, live gids, busy refusals per second, and\n"
		   "    the commit-request latency's p50 and p99 over the interval (to the\n"
		   "    histogram bucket's upper bound);\n"
		   "  participants: up, prepared, committed and rolled back per second,\n"
		   "    transactions in doubt and the oldest one's age, sessions in use/pool.\n"
		   "A daemon that does not answer within 1 s shows as down, with the reason.\n"
		   "--count N: stop after N frames (default: until interrupted).\n"
		   "Exit status: 0 every daemon answered in the last frame, 1 some did not,\n"
		   "2 bad usage or no daemon has a metrics address.\n");
}

static void frame(struct daemon_view *d, int nd, double secs, const char *cluster, int clear)
{
	if (clear)
		fputs("\033[H\033[2J", stdout);
	time_t t = time(NULL);
	struct tm tm;
	char when[32];
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("paxcommit top: cluster %s, rates over %.1f s, %s\n\n", cluster, secs, when);
	printf("%-14s %-5s %-7s %-7s %9s %8s %6s %7s %8s %8s\n", "COORDINATOR", "UP", "LEADER", "BALLOT", "COMMIT/s",
	       "ABORT/s", "LIVE", "BUSY/s", "REQ p50", "REQ p99");
	for (int i = 0; i < nd; i++) {
		if (strcmp(d[i].kind, "coordinator"))
			continue;
		if (!d[i].now) {
			printf("%-14s %-5s %s\n", d[i].name, "down", d[i].why);
			continue;
		}
		char leader[16], ballot[24], c[24], a[24], live[24], busy[24], p50[16], p99[16];
		double l = metric(d[i].now, "paxcommit_leader");
		snprintf(leader, sizeof(leader), "%s%s", l < 0 ? "none" : "",
			 metric(d[i].now, "paxcommit_is_leader") == 1 ? "*" : "");
		if (l >= 0)
			snprintf(leader, sizeof(leader), "%.0f%s", l, metric(d[i].now, "paxcommit_is_leader") == 1 ? " *" : "");
		fmt_num(ballot, sizeof(ballot), metric(d[i].now, "paxcommit_ballot"));
		fmt_num(c, sizeof(c), rate(&d[i], "paxcommit_decisions_total{outcome=\"commit\"}", secs));
		fmt_num(a, sizeof(a), rate(&d[i], "paxcommit_decisions_total{outcome=\"abort\"}", secs));
		fmt_num(live, sizeof(live), metric(d[i].now, "paxcommit_live_transactions"));
		double b1 = rate(&d[i], "paxcommit_busy_total{limit=\"max_live\"}", secs),
		       b2 = rate(&d[i], "paxcommit_busy_total{limit=\"max_live_per_client\"}", secs);
		fmt_num(busy, sizeof(busy), b1 < 0 || b2 < 0 ? -1 : b1 + b2);
		struct hist hn, hb = {0};
		hist_read(d[i].now, "paxcommit_commit_request_seconds", &hn);
		if (d[i].before)
			hist_read(d[i].before, "paxcommit_commit_request_seconds", &hb);
		fmt_seconds(p50, sizeof(p50), d[i].before ? hist_quantile(&hn, &hb, 0.5) : -1);
		fmt_seconds(p99, sizeof(p99), d[i].before ? hist_quantile(&hn, &hb, 0.99) : -1);
		printf("%-14s %-5s %-7s %-7s %9s %8s %6s %7s %8s %8s\n", d[i].name, "up", leader, ballot, c, a, live, busy,
		       p50, p99);
	}
	printf("\n%-14s %-5s %8s %9s %11s %9s %8s %8s\n", "PARTICIPANT", "UP", "PREP/s", "COMMIT/s", "ROLLBACK/s",
	       "IN-DOUBT", "OLDEST", "POOL");
	for (int i = 0; i < nd; i++) {
		if (strcmp(d[i].kind, "participant"))
			continue;
		if (!d[i].now) {
			printf("%-14s %-5s %s\n", d[i].name, "down", d[i].why);
			continue;
		}
		char p[24], c[24], r[24], dbt[24], old[16], pool[40];
		fmt_num(p, sizeof(p), rate(&d[i], "paxcommit_agent_prepared_total", secs));
		fmt_num(c, sizeof(c), rate(&d[i], "paxcommit_agent_committed_total", secs));
		fmt_num(r, sizeof(r), rate(&d[i], "paxcommit_agent_rolled_back_total", secs));
		fmt_num(dbt, sizeof(dbt), metric(d[i].now, "paxcommit_agent_in_doubt"));
		double o = metric(d[i].now, "paxcommit_agent_in_doubt_oldest_seconds");
		fmt_seconds(old, sizeof(old), metric(d[i].now, "paxcommit_agent_in_doubt") > 0 ? o : -1);
		snprintf(pool, sizeof(pool), "%.0f/%.0f", metric(d[i].now, "paxcommit_agent_pool_in_use"),
			 metric(d[i].now, "paxcommit_agent_pool_size"));
		printf("%-14s %-5s %8s %9s %11s %9s %8s %8s\n", d[i].name, "up", p, c, r, dbt, old, pool);
	}
	fflush(stdout);
}

int cli_top(const struct px_config *cfg, int argc, char **argv)
{
	double interval = 1.0;
	long count = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage_top(stdout);
			return 0;
		}
		char *end;
		if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
			interval = strtod(argv[++i], &end);
			if (*end || end == argv[i] || !(interval >= 0.1 && interval <= 3600)) {
				fprintf(stderr, "paxcommit top: --interval '%s': seconds, 0.1 to 3600\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			count = strtol(argv[++i], &end, 10);
			if (*end || end == argv[i] || count < 1 || count > 1000000) {
				fprintf(stderr, "paxcommit top: --count '%s': 1 to 1000000 frames\n", argv[i]);
				return 2;
			}
		} else {
			fprintf(stderr, "paxcommit top: unknown argument '%s'\n", argv[i]);
			usage_top(stderr);
			return 2;
		}
	}
	int nd = 0;
	struct daemon_view *d = calloc((size_t)cfg->ncoord + cfg->npart + 1, sizeof(*d));
	if (!d)
		return 1;
	for (int i = 0; i < cfg->ncoord; i++)
		if (cfg->coord[i].metrics[0]) {
			d[nd].kind = "coordinator";
			snprintf(d[nd].name, sizeof(d[nd].name), "%d", i);
			d[nd++].addr = cfg->coord[i].metrics;
		}
	for (int i = 0; i < cfg->npart; i++)
		if (cfg->part[i].metrics[0]) {
			d[nd].kind = "participant";
			snprintf(d[nd].name, sizeof(d[nd].name), "%s", cfg->part[i].name);
			d[nd++].addr = cfg->part[i].metrics;
		}
	if (!nd) {
		fprintf(stderr, "paxcommit top: no [coordinator.N] or [participant.X] has a `metrics` address\n");
		free(d);
		return 2;
	}
	int clear = isatty(STDOUT_FILENO);
	int rc = 0;
	for (int i = 0; i < nd; i++)
		d[i].now = scrape(d[i].addr, d[i].why, sizeof(d[i].why));
	uint64_t last = mono_ms(); /* (a down daemon took its timeout) */
	for (long f = 0; !count || f < count; f++) {
		uint64_t next = last + (uint64_t)(interval * 1000.0);
		for (uint64_t now = mono_ms(); now < next; now = mono_ms()) {
			struct timespec ts = {(time_t)((next - now) / 1000), (long)((next - now) % 1000) * 1000000L};
			nanosleep(&ts, NULL); /* the interval the user asked for */
		}
		uint64_t at = mono_ms();
		rc = 0;
		for (int i = 0; i < nd; i++) {
			free(d[i].before);
			d[i].before = d[i].now;
			d[i].now = scrape(d[i].addr, d[i].why, sizeof(d[i].why));
			if (!d[i].now) {
				rc = 1;
				free(d[i].before);
				d[i].before = NULL;
			}
		}
		frame(d, nd, (double)(at - last) / 1000.0, cfg->name, clear);
		last = at;
	}
	for (int i = 0; i < nd; i++) {
		free(d[i].now);
		free(d[i].before);
	}
	free(d);
	return rc;
}
