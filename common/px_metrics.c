/*
 * px_metrics.c - see px_metrics.h.
 */
#include "px_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const double PX_HIST_SECONDS[] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
				  0.025,   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
const size_t PX_HIST_SECONDS_N = sizeof(PX_HIST_SECONDS) / sizeof(PX_HIST_SECONDS[0]);

void px_hist_init(struct px_hist *h, const double *le, size_t nle)
{
	memset(h, 0, sizeof(*h));
	h->nle = nle < PX_HIST_MAX ? nle : PX_HIST_MAX;
	memcpy(h->le, le, h->nle * sizeof(*le));
}

void px_hist_observe(struct px_hist *h, double v)
{
	size_t i = 0;
	while (i < h->nle && v > h->le[i])
		i++;
	h->bucket[i]++;
	h->count++;
	h->sum += v;
}

/* ------------------------------------------------------------- text */

void px_mt_reset(struct px_mtext *t)
{
	t->len = 0;
	t->oom = 0;
	if (t->p)
		t->p[0] = '\0';
}

void px_mt_free(struct px_mtext *t)
{
	free(t->p);
	memset(t, 0, sizeof(*t));
}

__attribute__((format(printf, 2, 3))) static void put(struct px_mtext *t, const char *fmt, ...)
{
	if (t->oom)
		return;
	for (;;) {
		size_t room = t->cap - t->len;
		va_list ap;
		va_start(ap, fmt);
		int n = t->p ? vsnprintf(t->p + t->len, room, fmt, ap) : -2;
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		if (n == -1) {
			t->oom = 1;
			return;
		}
		size_t nc = t->cap ? t->cap * 2 : 8192;
		while (n > 0 && nc - t->len <= (size_t)n)
			nc *= 2;
		char *np = realloc(t->p, nc);
		if (!np) {
			t->oom = 1;
			return;
		}
		t->p = np;
		t->cap = nc;
	}
}

void px_mt_family(struct px_mtext *t, const char *name, const char *type, const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void px_mt_u64(struct px_mtext *t, const char *name, const char *labels, uint64_t v)
{
	put(t, "%s%s%s%s %" PRIu64 "\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", v);
}

void px_mt_i64(struct px_mtext *t, const char *name, const char *labels, int64_t v)
{
	put(t, "%s%s%s%s %" PRId64 "\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", v);
}

void px_mt_dbl(struct px_mtext *t, const char *name, const char *labels, double v)
{
	put(t, "%s%s%s%s %.9g\n", name, *labels ? "{" : "", labels, *labels ? "}" : "", v);
}

void px_mt_counter(struct px_mtext *t, const char *name, const char *help, uint64_t v)
{
	px_mt_family(t, name, "counter", help);
	px_mt_u64(t, name, "", v);
}

void px_mt_gauge(struct px_mtext *t, const char *name, const char *help, double v)
{
	px_mt_family(t, name, "gauge", help);
	px_mt_dbl(t, name, "", v);
}

void px_mt_hist_samples(struct px_mtext *t, const char *name, const char *labels, const struct px_hist *h)
{
	const char *sep = labels[0] ? "," : "";
	uint64_t cum = 0;
	for (size_t i = 0; i < h->nle; i++) {
		cum += h->bucket[i];
		put(t, "%s_bucket{%s%sle=\"%.9g\"} %" PRIu64 "\n", name, labels, sep, h->le[i], cum);
	}
	cum += h->bucket[h->nle];
	put(t, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels, sep, cum);
	if (labels[0])
		put(t, "%s_sum{%s} %.9g\n%s_count{%s} %" PRIu64 "\n", name, labels, h->sum, name, labels, h->count);
	else
		put(t, "%s_sum %.9g\n%s_count %" PRIu64 "\n", name, h->sum, name, h->count);
}

void px_mt_hist(struct px_mtext *t, const char *name, const char *help, const struct px_hist *h)
{
	px_mt_family(t, name, "histogram", help);
	px_mt_hist_samples(t, name, "", h);
}

void px_mt_daemon(struct px_mtext *t, const struct px_mt_reason *refused, size_t nrefused, uint64_t send_dropped,
		  double clock_offset_s, struct px_metrics *m)
{
	char lb[64];
	px_mt_family(t, "paxcommit_refused_messages_total", "counter", "Messages dropped, by reason");
	for (size_t i = 0; i < nrefused; i++) {
		snprintf(lb, sizeof(lb), "reason=\"%s\"", refused[i].reason);
		px_mt_u64(t, "paxcommit_refused_messages_total", lb, refused[i].n);
	}
	px_mt_counter(t, "paxcommit_send_dropped_total", "Messages not sent: no route, peer not connected, or queue full",
		      send_dropped);
	px_mt_gauge(t, "paxcommit_clock_offset_seconds", "The wall clock minus this daemon's clock", clock_offset_s);
	px_mt_counter(t, "paxcommit_metrics_scrapes_total", "Scrapes of this endpoint answered", px_metrics_scrapes(m));
	px_mt_counter(t, "paxcommit_metrics_stale_scrapes_total", "Scrapes answered with the last text: the loop was busy",
		      px_metrics_stale(m));
}

/* ------------------------------------------------------------- server */

struct px_metrics {
	struct MHD_Daemon *mhd;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pipe[2];       /* a scrape writes a byte; the loop drains */
	uint64_t want;     /* scrapes that asked */
	uint64_t done;     /* the highest `want` the published text answers */
	struct px_mtext pub; /* the published text */
	struct px_mtext build;
	uint64_t scrapes, stale;
};

static int marker;

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	enum MHD_Result rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **state)
{
	(void)version;
	(void)upload;
	struct px_metrics *m = cls;
	if (*state == NULL) {
		*state = &marker; /* headers only so far */
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0; /* a body is not read */
		return MHD_YES;
	}
	static const char text[] = "text/plain; charset=utf-8";
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, "only GET /metrics\n", 18);
	if (strcmp(url, "/metrics") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND, text, "not found: try /metrics\n", 24);
	pthread_mutex_lock(&m->mu);
	uint64_t mine = ++m->want;
	if (write(m->pipe[1], "s", 1) < 0) {
		/* full: the loop has a wake-up waiting already */
	}
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += PX_METRICS_WAIT_MS / 1000;
	until.tv_nsec += (long)(PX_METRICS_WAIT_MS % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while (m->done < mine)
		if (pthread_cond_timedwait(&m->cv, &m->mu, &until) == ETIMEDOUT)
			break;
	m->scrapes++;
	if (m->done < mine)
		m->stale++;
	enum MHD_Result rc = reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", m->pub.p ? m->pub.p : "",
				   m->pub.len);
	pthread_mutex_unlock(&m->mu);
	return rc;
}

static int parse_addr(const char *addr, struct sockaddr_storage *ss, int *v6)
{
	char host[128];
	const char *colon = strrchr(addr, ':');
	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host))
		return -1;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	char *end;
	errno = 0;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port == 0 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	size_t hl = strlen(host);
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*v6 = 1;
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0 : -1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*v6 = 0;
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
}

int px_metrics_start(const char *addr, struct px_metrics **out, char *err, size_t errcap)
{
	*out = NULL;
	struct sockaddr_storage ss;
	int v6 = 0;
	if (parse_addr(addr, &ss, &v6)) {
		snprintf(err, errcap, "metrics address '%s' is not host:port (an IPv4 address, or [IPv6], and a port 1..65535)",
			 addr);
		return -1;
	}
	struct px_metrics *m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errcap, "out of memory");
		return -1;
	}
	pthread_mutex_init(&m->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cv, &ca);
	pthread_condattr_destroy(&ca);
	m->pipe[0] = m->pipe[1] = -1;
	int piped = pipe(m->pipe) == 0;
	for (int k = 0; piped && k < 2; k++)
		piped = fcntl(m->pipe[k], F_SETFL, O_NONBLOCK) == 0 && fcntl(m->pipe[k], F_SETFD, FD_CLOEXEC) == 0;
	if (!piped) {
		snprintf(err, errcap, "pipe: %s", strerror(errno));
		px_metrics_stop(&m);
		return -1;
	}
	/* The server's thread takes no signals: they must reach the loop,
	 * whose poll they interrupt. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	m->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | (v6 ? MHD_USE_IPv6 : 0), 0, NULL, NULL, handle, m,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, 16u,
				  MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
	int e = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!m->mhd) {
		snprintf(err, errcap, "metrics: cannot listen on %s: %s", addr, e ? strerror(e) : "libmicrohttpd refused");
		px_metrics_stop(&m);
		return -1;
	}
	*out = m;
	return 0;
}

int px_metrics_fd(const struct px_metrics *m)
{
	return m->pipe[0];
}

void px_metrics_serve(struct px_metrics *m, void (*build)(void *ctx, struct px_mtext *t), void *ctx)
{
	char buf[64];
	while (read(m->pipe[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&m->mu);
	uint64_t want = m->want;
	pthread_mutex_unlock(&m->mu);
	px_mt_reset(&m->build);
	build(ctx, &m->build);
	pthread_mutex_lock(&m->mu);
	if (!m->build.oom) {
		struct px_mtext t = m->pub;
		m->pub = m->build;
		m->build = t;
	}
	m->done = want;
	pthread_cond_broadcast(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

uint64_t px_metrics_scrapes(struct px_metrics *m)
{
	pthread_mutex_lock(&m->mu);
	uint64_t v = m->scrapes;
	pthread_mutex_unlock(&m->mu);
	return v;
}

uint64_t px_metrics_stale(struct px_metrics *m)
{
	pthread_mutex_lock(&m->mu);
	uint64_t v = m->stale;
	pthread_mutex_unlock(&m->mu);
	return v;
}

void px_metrics_stop(struct px_metrics **mp)
{
	struct px_metrics *m = *mp;
	if (!m)
		return;
	if (m->mhd)
		MHD_stop_daemon(m->mhd);
	for (int k = 0; k < 2; k++)
		if (m->pipe[k] >= 0)
			close(m->pipe[k]);
	pthread_cond_destroy(&m->cv);
	pthread_mutex_destroy(&m->mu);
	px_mt_free(&m->pub);
	px_mt_free(&m->build);
	free(m);
	*mp = NULL;
}
