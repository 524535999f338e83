/*
 * px_metrics.h - Prometheus metrics: histograms, the text exposition
 * format (0.0.4), and a small HTTP server for GET /metrics.
 *
 * The server runs libmicrohttpd's own thread.  It never reads a daemon's
 * state itself: a scrape asks the daemon's loop for a fresh text through a
 * pipe (px_metrics_fd), and the loop answers with px_metrics_serve.  A loop
 * that does not answer within PX_METRICS_WAIT_MS (a disk that hangs an
 * fsync, say) gets the last text it published, so a stuck daemon still
 * shows its last figures and paxcommit_metrics_stale_scrapes_total.
 */
#ifndef PX_METRICS_H
#define PX_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define PX_HIST_MAX 20
#define PX_METRICS_WAIT_MS 1000

/* A histogram with fixed upper bounds (le, ascending; +Inf is implied). */
struct px_hist {
	size_t nle;
	double le[PX_HIST_MAX];
	uint64_t bucket[PX_HIST_MAX + 1]; /* per bucket, not cumulative; [nle] is +Inf */
	uint64_t count;
	double sum;
};

void px_hist_init(struct px_hist *h, const double *le, size_t nle);
void px_hist_observe(struct px_hist *h, double v);

/* Bounds for latencies in seconds: 50 us .. 10 s. */
extern const double PX_HIST_SECONDS[];
extern const size_t PX_HIST_SECONDS_N;

/* A growing text buffer in the exposition format.  On out of memory it
 * stops growing and sets oom (the scrape then gets the previous text). */
struct px_mtext {
	char *p;
	size_t len, cap;
	int oom;
};

void px_mt_reset(struct px_mtext *t);
void px_mt_free(struct px_mtext *t);
/* # HELP and # TYPE lines of a family (type: counter, gauge, histogram). */
void px_mt_family(struct px_mtext *t, const char *name, const char *type, const char *help);
/* One sample: name{labels} value.  labels is "" or 'k="v",k2="v2"'. */
void px_mt_u64(struct px_mtext *t, const char *name, const char *labels, uint64_t v);
void px_mt_i64(struct px_mtext *t, const char *name, const char *labels, int64_t v);
void px_mt_dbl(struct px_mtext *t, const char *name, const char *labels, double v);
/* A family with one unlabelled sample. */
void px_mt_counter(struct px_mtext *t, const char *name, const char *help, uint64_t v);
void px_mt_gauge(struct px_mtext *t, const char *name, const char *help, double v);
/* A whole histogram family: _bucket (cumulative), _sum and _count. */
void px_mt_hist(struct px_mtext *t, const char *name, const char *help, const struct px_hist *h);
/* The samples of one labelled histogram of a family (labels as above). */
void px_mt_hist_samples(struct px_mtext *t, const char *name, const char *labels, const struct px_hist *h);

struct px_metrics;

/* The families every daemon has: refused messages by reason, messages not
 * sent, the clock offset, and this endpoint's own scrapes. */
struct px_mt_reason {
	const char *reason;
	uint64_t n;
};
void px_mt_daemon(struct px_mtext *t, const struct px_mt_reason *refused, size_t nrefused, uint64_t send_dropped,
		  double clock_offset_s, struct px_metrics *m);

/* Listen on addr ("host:port", an IPv4 address or [IPv6]).  0, or -1 with
 * err set. */
int px_metrics_start(const char *addr, struct px_metrics **out, char *err, size_t errcap);
/* The fd the loop polls for reading: readable while a scrape waits. */
int px_metrics_fd(const struct px_metrics *m);
/* The loop's answer: drains the fd, calls build(ctx, t) on an emptied
 * buffer, and hands the text to every scrape that waits. */
void px_metrics_serve(struct px_metrics *m, void (*build)(void *ctx, struct px_mtext *t), void *ctx);
/* Scrapes answered, and of them those that got a stale text. */
uint64_t px_metrics_scrapes(struct px_metrics *m);
uint64_t px_metrics_stale(struct px_metrics *m);
void px_metrics_stop(struct px_metrics **m);

#endif
