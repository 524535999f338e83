/*
 * px_config.c - read and check the cluster configuration (see px_config.h).
 *
 * libinih does the INI syntax.  It is fed through our own line reader
 * (ini_parse_stream), because the Debian build gives the handler no line
 * numbers and merges duplicate sections, and because its fixed 200-byte
 * line buffer would silently split a longer line in two.  The reader counts
 * lines, rejects lines that are too long, contain NUL or are indented (libinih
 * would take them as continuation lines), and tracks section headers itself:
 * that catches unknown and duplicate sections (also empty ones) and avoids
 * libinih's 50-byte section name buffer.  libinih processes each line right
 * after reading it, so the reader's count is the line the handler sees.
 */
#include "px_config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_auth.h"

enum sect_kind { S_NONE, S_CLUSTER, S_COORD, S_PART };

enum {
	K_NAME,
	K_HEARTBEAT,
	K_LEASE,
	K_TXN_TIMEOUT,
	K_AGENT_IDLE,
	K_RESEND,
	K_SYNC,
	K_HORIZON,
	K_MAX_LIVE,
	K_MAX_LIVE_CLIENT,
	K_SECURITY,
	K_CLIENT_KEYS,
	K_CLIENT_KEY_FILE,
	K_CLUSTER_N
};
static const char *const cluster_keys[K_CLUSTER_N] = {
	"name", "heartbeat_ms", "lease_ms", "txn_timeout_ms", "agent_idle_timeout_ms",
	"resend_ms", "sync_ms", "horizon_ms", "max_live", "max_live_per_client", "security", "client_keys", "client_key_file",
};

enum { KC_ENDPOINT, KC_DATA_DIR, KC_PUBLIC_KEY, KC_KEY_FILE, KC_METRICS, KC_N };
static const char *const coord_keys[KC_N] = {"endpoint", "data_dir", "public_key", "key_file", "metrics"};

enum { KP_ID, KP_ENDPOINT, KP_CONNINFO, KP_POOL, KP_PUBLIC_KEY, KP_KEY_FILE, KP_METRICS, KP_N };
static const char *const part_keys[KP_N] = {"id", "endpoint", "conninfo", "pool", "public_key", "key_file", "metrics"};

struct part_ent {
	struct px_config_part p;
	int hdr;           /* line of [participant.NAME] */
	int line[KP_N];    /* line of each key, 0 if absent */
};

struct ctx {
	const char *path;
	FILE *f;
	char *buf;
	size_t bufcap;
	int lineno;
	int err_line;      /* -1: no error; 0: whole file; > 0: that line */
	char msg[512];

	enum sect_kind cur;
	int cur_idx;       /* coordinator id or index into parts */
	char cur_name[96]; /* current section name, for messages */

	struct px_config cfg; /* [cluster] values (defaults preset) */
	int cl_hdr;
	int cl_line[K_CLUSTER_N];

	struct px_config_coord co[PX_CFG_COORD_MAX];
	int co_hdr[PX_CFG_COORD_MAX];
	int co_line[PX_CFG_COORD_MAX][KC_N];

	struct part_ent *parts;
	size_t nparts, capparts;
};

#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static void fail(struct ctx *x, int line, const char *fmt, ...)
{
	if (x->err_line >= 0)
		return; /* only the first error counts */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(x->msg, sizeof(x->msg), fmt, ap);
	va_end(ap);
	for (char *p = x->msg; *p; p++) /* quoted file text may hold control characters */
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	x->err_line = line;
}

/* ------------------------------------------------------------ values */

static int parse_num(struct ctx *x, int line, const char *key, const char *v, uint64_t min,
		     uint64_t max, uint64_t *out)
{
	if (*v == '\0') {
		fail(x, line, "%s: empty value, expected a number", key);
		return -1;
	}
	uint64_t n = 0;
	int overflow = 0;
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9') {
			fail(x, line, "%s: '%s' is not a decimal number (digits only, no sign)", key,
			     v);
			return -1;
		}
		unsigned d = (unsigned)(*p - '0');
		if (n > (UINT64_MAX - d) / 10)
			overflow = 1;
		else
			n = n * 10 + d;
	}
	if (overflow || n < min || n > max) {
		fail(x, line, "%s: %s is out of range (%llu..%llu)", key, v,
		     (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = n;
	return 0;
}

static int set_u32(struct ctx *x, int line, const char *key, const char *v, uint32_t min,
		   uint32_t max, uint32_t *out)
{
	uint64_t n;
	if (parse_num(x, line, key, v, min, max, &n) != 0)
		return -1;
	*out = (uint32_t)n;
	return 0;
}

/* metrics = host:port, host an IPv4 address or [IPv6] (no names: the
 * daemon must not depend on a resolver to start). */
static int set_metrics(struct ctx *x, int line, const char *v, char *dst, size_t cap)
{
	char host[128];
	const char *colon = strrchr(v, ':');
	size_t hl = colon ? (size_t)(colon - v) : 0;
	char *end = NULL;
	unsigned long port = colon ? strtoul(colon + 1, &end, 10) : 0;
	int ok = colon && hl > 0 && hl < sizeof(host) && end != colon + 1 && !*end && port >= 1 && port <= 65535 &&
		 strlen(v) < cap;
	if (ok) {
		memcpy(host, v, hl);
		host[hl] = '\0';
		unsigned char a[16];
		if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
			host[hl - 1] = '\0';
			ok = inet_pton(AF_INET6, host + 1, a) == 1;
		} else {
			ok = inet_pton(AF_INET, host, a) == 1;
		}
	}
	if (!ok) {
		fail(x, line, "metrics: '%s' is not host:port (an IPv4 address or [IPv6], and a port 1..65535), "
			      "e.g. metrics = 127.0.0.1:9464", v);
		return -1;
	}
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int set_str(struct ctx *x, int line, const char *key, const char *v, char *dst,
		   size_t cap)
{
	size_t len = strlen(v);
	if (len == 0) {
		fail(x, line, "%s must not be empty", key);
		return -1;
	}
	if (len >= cap) {
		fail(x, line, "%s is too long (%zu characters, at most %zu)", key, len, cap - 1);
		return -1;
	}
	memcpy(dst, v, len + 1);
	return 0;
}

/*
 * The destination of a tcp:// endpoint: HOST and PORT in tcp://HOST:PORT.
 * ZeroMQ also takes tcp://SOURCE;HOST:PORT (connect from SOURCE), and an
 * IPv6 HOST in brackets, tcp://[::1]:PORT.  Returns -1 if there is no port.
 */
static int tcp_split(const char *v, const char **host, size_t *hlen, const char **port)
{
	const char *a = v + 6, *semi = strrchr(a, ';');
	if (semi)
		a = semi + 1;
	const char *colon;
	if (*a == '[') {
		const char *close = strchr(a, ']');
		if (close == NULL || close[1] != ':')
			return -1;
		colon = close + 1;
	} else {
		colon = strrchr(a, ':');
		if (colon == NULL)
			return -1;
	}
	*host = a;
	*hlen = (size_t)(colon - a);
	*port = colon + 1;
	return 0;
}

static int set_endpoint(struct ctx *x, int line, const char *v, char *dst, size_t cap)
{
	if (set_str(x, line, "endpoint", v, dst, cap) != 0)
		return -1;
	if (strncmp(v, "tcp://", 6) != 0 && strncmp(v, "ipc://", 6) != 0) {
		fail(x, line, "endpoint '%s' must start with tcp:// or ipc://", v);
		return -1;
	}
	if (v[6] == '\0') {
		fail(x, line, "endpoint '%s' has no address after the scheme", v);
		return -1;
	}
	for (const char *p = v; *p; p++)
		if (isspace((unsigned char)*p)) {
			fail(x, line, "endpoint '%s' contains whitespace", v);
			return -1;
		}
	if (strncmp(v, "tcp://", 6) != 0)
		return 0;
	const char *host, *port;
	size_t hlen;
	if (tcp_split(v, &host, &hlen, &port) != 0) {
		fail(x, line, "endpoint '%s' has no port: write tcp://HOST:PORT", v);
		return -1;
	}
	if (hlen == 0) {
		fail(x, line, "endpoint '%s' has no host before the port: write tcp://HOST:PORT", v);
		return -1;
	}
	if (strcmp(port, "*") == 0) {
		fail(x, line,
		     "endpoint '%s': port '*' (any free port) cannot be found by the other "
		     "processes; give a fixed port 1..65535",
		     v);
		return -1;
	}
	if (*port == '\0' || strspn(port, "0123456789") != strlen(port)) {
		fail(x, line, "endpoint '%s': port '%s' is not a number (1..65535)", v, port);
		return -1;
	}
	unsigned long n = 0;
	for (const char *p = port; *p && n <= 65535; p++) /* stops once out of range */
		n = n * 10 + (unsigned long)(*p - '0');
	if (n < 1 || n > 65535) {
		fail(x, line, "endpoint '%s': port %s is out of range (1..65535)", v, port);
		return -1;
	}
	return 0;
}

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int set_public_key(struct ctx *x, int line, const char *v, uint8_t *dst)
{
	if (px_z85_decode_key(v, strlen(v), dst) != 0) {
		fail(x, line,
		     "public_key '%s' is not a CURVE public key (40 characters of Z85, as paxcommit "
		     "keygen writes in NAME.pub)",
		     v);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ keys */

static int find_key(const char *const *keys, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(keys[i], name) == 0)
			return i;
	return -1;
}

/* Look the key up in the current section's table and record its line.
 * Returns its index, or -1 after recording an error. */
static int take_key(struct ctx *x, int line, const char *const *keys, int n, int *lines,
		    const char *name)
{
	int k = find_key(keys, n, name);
	if (k < 0) {
		fail(x, line, "unknown key '%s' in [%s]", name, x->cur_name);
		return -1;
	}
	if (lines[k] != 0) {
		fail(x, line, "duplicate key '%s' in [%s] (first at line %d)", name, x->cur_name,
		     lines[k]);
		return -1;
	}
	lines[k] = line;
	return k;
}

static int cluster_key(struct ctx *x, int line, const char *name, const char *v)
{
	struct px_config *c = &x->cfg;
	int k = take_key(x, line, cluster_keys, K_CLUSTER_N, x->cl_line, name);
	const char *key = name;
	switch (k) {
	case K_NAME: {
		size_t len = strlen(v);
		if (len == 0) {
			fail(x, line, "cluster name must not be empty");
			return -1;
		}
		if (len > PX_CFG_NAME_MAX) {
			fail(x, line, "cluster name is too long (%zu characters, at most %u)", len,
			     PX_CFG_NAME_MAX);
			return -1;
		}
		for (size_t i = 0; i < len; i++)
			if (!is_alnum(v[i])) {
				fail(x, line,
				     "cluster name '%s' may contain only letters and digits "
				     "(it is the gid prefix)",
				     v);
				return -1;
			}
		memcpy(c->name, v, len + 1);
		return 0;
	}
	case K_HEARTBEAT: return set_u32(x, line, key, v, 1, UINT32_MAX, &c->heartbeat_ms);
	case K_LEASE: return set_u32(x, line, key, v, 1, UINT32_MAX, &c->lease_ms);
	case K_TXN_TIMEOUT: return set_u32(x, line, key, v, 1, UINT32_MAX, &c->txn_timeout_ms);
	case K_AGENT_IDLE:
		return set_u32(x, line, key, v, 1, UINT32_MAX, &c->agent_idle_timeout_ms);
	case K_RESEND: return set_u32(x, line, key, v, 1, UINT32_MAX, &c->resend_ms);
	case K_SYNC: return set_u32(x, line, key, v, 1, UINT32_MAX, &c->sync_ms);
	case K_HORIZON: return parse_num(x, line, key, v, 1, UINT64_MAX, &c->horizon_ms);
	case K_MAX_LIVE: return set_u32(x, line, key, v, 1, UINT32_MAX, &c->max_live);
	case K_MAX_LIVE_CLIENT: return set_u32(x, line, key, v, 1, UINT32_MAX, &c->max_live_client);
	case K_SECURITY:
		if (strcmp(v, "curve") == 0)
			c->security = PX_SECURITY_CURVE;
		else if (strcmp(v, "none") == 0)
			c->security = PX_SECURITY_NONE;
		else {
			fail(x, line, "security: '%s' is neither 'curve' nor 'none'", v);
			return -1;
		}
		return 0;
	case K_CLIENT_KEYS: return set_str(x, line, key, v, c->client_keys, sizeof(c->client_keys));
	case K_CLIENT_KEY_FILE: return set_str(x, line, key, v, c->client_key_file, sizeof(c->client_key_file));
	default: return -1;
	}
}

static int coord_key(struct ctx *x, int line, const char *name, const char *v)
{
	int id = x->cur_idx;
	struct px_config_coord *co = &x->co[id];
	switch (take_key(x, line, coord_keys, KC_N, x->co_line[id], name)) {
	case KC_ENDPOINT: return set_endpoint(x, line, v, co->endpoint, sizeof(co->endpoint));
	case KC_DATA_DIR: return set_str(x, line, "data_dir", v, co->data_dir, sizeof(co->data_dir));
	case KC_PUBLIC_KEY: return set_public_key(x, line, v, co->public_key);
	case KC_KEY_FILE: return set_str(x, line, "key_file", v, co->key_file, sizeof(co->key_file));
	case KC_METRICS: return set_metrics(x, line, v, co->metrics, sizeof(co->metrics));
	default: return -1;
	}
}

static int part_key(struct ctx *x, int line, const char *name, const char *v)
{
	struct part_ent *e = &x->parts[x->cur_idx];
	struct px_config_part *p = &e->p;
	uint64_t n;
	switch (take_key(x, line, part_keys, KP_N, e->line, name)) {
	case KP_ID:
		if (parse_num(x, line, "id", v, 1, PX_CFG_PART_ID_MAX, &n) != 0)
			return -1;
		p->id = (uint16_t)n;
		return 0;
	case KP_ENDPOINT: return set_endpoint(x, line, v, p->endpoint, sizeof(p->endpoint));
	case KP_CONNINFO:
		return set_str(x, line, "conninfo", v, p->conninfo, sizeof(p->conninfo));
	case KP_POOL: return set_u32(x, line, "pool", v, 1, PX_CFG_POOL_MAX, &p->pool);
	case KP_PUBLIC_KEY: return set_public_key(x, line, v, p->public_key);
	case KP_KEY_FILE: return set_str(x, line, "key_file", v, p->key_file, sizeof(p->key_file));
	case KP_METRICS: return set_metrics(x, line, v, p->metrics, sizeof(p->metrics));
	default: return -1;
	}
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct ctx *x = user;
	(void)section; /* ours (x->cur_name) is exact; libinih's is cut at 49 bytes */
	if (x->err_line >= 0)
		return 0;
	int line = x->lineno, rc = -1;
	switch (x->cur) {
	case S_NONE: fail(x, line, "key '%s' before any [section]", name); break;
	case S_CLUSTER: rc = cluster_key(x, line, name, value); break;
	case S_COORD: rc = coord_key(x, line, name, value); break;
	case S_PART: rc = part_key(x, line, name, value); break;
	}
	return rc == 0;
}

/* ------------------------------------------------------------ sections */

static void section_header(struct ctx *x, const char *s)
{
	int line = x->lineno;
	const char *close = strchr(s, ']');
	if (close == NULL) {
		fail(x, line, "malformed section header (no closing ']')");
		return;
	}
	for (const char *r = close + 1; *r && *r != ';' && *r != '#'; r++)
		if (!isspace((unsigned char)*r)) {
			fail(x, line, "unexpected text after the section header");
			return;
		}
	const char *name = s + 1;
	size_t nl = (size_t)(close - name);
	if (nl >= sizeof(x->cur_name)) {
		fail(x, line, "unknown section [%.*s...] (expected [cluster], [coordinator.N] or "
			      "[participant.NAME])", 40, name);
		return;
	}
	memcpy(x->cur_name, name, nl);
	x->cur_name[nl] = '\0';
	const char *sn = x->cur_name;

	if (strcmp(sn, "cluster") == 0) {
		if (x->cl_hdr) {
			fail(x, line, "duplicate section [cluster] (first at line %d)", x->cl_hdr);
			return;
		}
		x->cl_hdr = line;
		x->cur = S_CLUSTER;
		return;
	}
	if (strncmp(sn, "coordinator.", 12) == 0) {
		const char *d = sn + 12;
		size_t dl = strlen(d);
		int ok = dl > 0 && !(dl > 1 && d[0] == '0');
		for (size_t i = 0; ok && i < dl; i++)
			ok = d[i] >= '0' && d[i] <= '9';
		if (!ok) {
			fail(x, line, "bad section name [%s]: expected [coordinator.N], N = 0..%u", sn,
			     PX_CFG_COORD_MAX - 1);
			return;
		}
		if (dl > 1 || (unsigned)(d[0] - '0') >= PX_CFG_COORD_MAX) {
			fail(x, line,
			     "coordinator id %s out of range: at most %u coordinators, numbered 0..%u",
			     d, PX_CFG_COORD_MAX, PX_CFG_COORD_MAX - 1);
			return;
		}
		int id = d[0] - '0';
		if (x->co_hdr[id]) {
			fail(x, line, "duplicate section [%s] (first at line %d)", sn, x->co_hdr[id]);
			return;
		}
		x->co_hdr[id] = line;
		x->co[id].id = (uint8_t)id;
		x->cur = S_COORD;
		x->cur_idx = id;
		return;
	}
	if (strncmp(sn, "participant.", 12) == 0) {
		const char *pn = sn + 12;
		size_t pl = strlen(pn);
		int ok = pl >= 1 && pl <= PX_CFG_NAME_MAX;
		for (size_t i = 0; ok && i < pl; i++)
			ok = is_alnum(pn[i]) || pn[i] == '_' || pn[i] == '-';
		if (!ok) {
			fail(x, line,
			     "bad participant name '%s' in [%s]: use 1..%u of A-Z a-z 0-9 _ -", pn, sn,
			     PX_CFG_NAME_MAX);
			return;
		}
		for (size_t i = 0; i < x->nparts; i++)
			if (strcmp(x->parts[i].p.name, pn) == 0) {
				fail(x, line, "duplicate section [%s] (first at line %d)", sn,
				     x->parts[i].hdr);
				return;
			}
		if (x->nparts == x->capparts) {
			size_t cap = x->capparts ? 2 * x->capparts : 8;
			struct part_ent *np = realloc(x->parts, cap * sizeof(*np));
			if (np == NULL) {
				fail(x, 0, "out of memory");
				return;
			}
			x->parts = np;
			x->capparts = cap;
		}
		struct part_ent *e = &x->parts[x->nparts];
		memset(e, 0, sizeof(*e));
		memcpy(e->p.name, pn, pl + 1);
		e->p.pool = PX_CFG_DEF_POOL;
		e->hdr = line;
		x->cur = S_PART;
		x->cur_idx = (int)x->nparts++;
		return;
	}
	fail(x, line, "unknown section [%s] (expected [cluster], [coordinator.N] or "
		      "[participant.NAME])", sn);
}

/* fgets-style reader for ini_parse_stream: reads one whole line, checks it,
 * and hands it to libinih only when it fits and nothing has failed. */
static char *reader(char *str, int num, void *stream)
{
	struct ctx *x = stream;
	if (x->err_line >= 0)
		return NULL;
	errno = 0;
	ssize_t n = getline(&x->buf, &x->bufcap, x->f);
	if (n < 0) {
		if (ferror(x->f))
			fail(x, 0, "read error after line %d: %s", x->lineno,
			     strerror(errno ? errno : EIO));
		else if (errno == ENOMEM)
			fail(x, 0, "out of memory");
		return NULL;
	}
	x->lineno++;
	char *line = x->buf;
	size_t len = (size_t)n;
	if (strlen(line) != len) {
		fail(x, x->lineno, "line contains a NUL byte");
		return NULL;
	}
	size_t cl = len;
	if (cl > 0 && line[cl - 1] == '\n')
		cl--;
	if (cl > 0 && line[cl - 1] == '\r')
		cl--;
	if (num < 4 || cl > (size_t)num - 3) {
		fail(x, x->lineno, "line is too long (%zu characters, at most %d)", cl,
		     num < 4 ? 0 : num - 3);
		return NULL;
	}
	const char *p = line;
	if (x->lineno == 1 && len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3; /* libinih skips a UTF-8 BOM */
	const char *s = p;
	while (isspace((unsigned char)*s))
		s++;
	if (*s != '\0' && *s != ';' && *s != '#') {
		if (s != p) {
			fail(x, x->lineno,
			     "indented line (libinih would read it as a continuation of the "
			     "previous value); start keys and section headers in column 1");
			return NULL;
		}
		if (*s == '[') {
			section_header(x, s);
			if (x->err_line >= 0)
				return NULL;
		}
	}
	memcpy(str, line, len + 1);
	return str;
}

/* ------------------------------------------------------------ checks */

static void check_missing(struct ctx *x, int hdr, const char *sect, const char *const *keys,
			  const int *lines, int n, unsigned required_mask)
{
	for (int k = 0; k < n; k++)
		if ((required_mask & (1u << k)) && lines[k] == 0) {
			fail(x, hdr, "[%s] is missing required key '%s'", sect, keys[k]);
			return;
		}
}

static int cmp_part(const void *a, const void *b)
{
	const struct part_ent *pa = a, *pb = b;
	if (pa->p.id != pb->p.id)
		return pa->p.id < pb->p.id ? -1 : 1;
	return (pa->line[KP_ID] > pb->line[KP_ID]) - (pa->line[KP_ID] < pb->line[KP_ID]);
}

static int first_line(int a, int b, int c)
{
	return a ? a : b ? b : c;
}

/*
 * Endpoints in a comparable form.  Two processes cannot bind one address:
 * the second fails to start, and what the cluster sends to it reaches the
 * first, which would run another participant's statements on its own
 * database.  So every endpoint must differ from every other one as an
 * address, not just as text: the host is lower-cased, "localhost" taken as
 * 127.0.0.1, a numeric host canonicalised the way the resolver reads it
 * (127.1, [0:0::1]), the port read as a number.  Host names are not looked
 * up: a load must not wait for DNS.  A wildcard host (*, 0.0.0.0, ::) binds
 * its port on every address, so it clashes with any host on that port.
 */
struct ep_ent {
	int line;
	int ipc, wild;
	unsigned port;
	const char *ep;   /* as written */
	char sect[80];
	char host[PX_CFG_ENDPOINT_MAX + 1]; /* ipc: the path; tcp: the host, normalised */
};

static void ep_norm(struct ep_ent *e)
{
	if (strncmp(e->ep, "ipc://", 6) == 0) {
		e->ipc = 1;
		snprintf(e->host, sizeof(e->host), "%s", e->ep + 6);
		return;
	}
	const char *host, *port;
	size_t hlen;
	if (tcp_split(e->ep, &host, &hlen, &port) != 0) /* checked when read */
		return;
	e->port = (unsigned)strtoul(port, NULL, 10);
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	char *h = e->host;
	for (size_t i = 0; i < hlen; i++)
		h[i] = (char)tolower((unsigned char)host[i]);
	h[hlen] = '\0';
	if (strcmp(h, "localhost") == 0)
		snprintf(e->host, sizeof(e->host), "127.0.0.1");
	struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_family = AF_UNSPEC}, *ai = NULL;
	if (getaddrinfo(h, NULL, &hints, &ai) == 0 && ai) {
		char num[128]; /* an IPv6 address with a scope */
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, num, sizeof(num), NULL, 0, NI_NUMERICHOST) == 0)
			snprintf(e->host, sizeof(e->host), "%s", num);
	}
	if (ai)
		freeaddrinfo(ai);
	e->wild = strcmp(h, "*") == 0 || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0;
}

static int cmp_ep(const void *a, const void *b)
{
	const struct ep_ent *x = a, *y = b;
	if (x->ipc != y->ipc)
		return x->ipc - y->ipc;
	if (x->port != y->port)
		return x->port < y->port ? -1 : 1;
	int c = strcmp(x->host, y->host);
	return c ? c : x->line - y->line;
}

/* Report the clash whose later endpoint comes first in the file. */
static void check_endpoints(struct ctx *x)
{
	size_t n = x->nparts, k = 0;
	for (unsigned i = 0; i < PX_CFG_COORD_MAX; i++)
		n += x->co_hdr[i] != 0;
	struct ep_ent *e = calloc(n, sizeof(*e));
	if (e == NULL) {
		fail(x, 0, "out of memory");
		return;
	}
	for (unsigned i = 0; i < PX_CFG_COORD_MAX; i++)
		if (x->co_hdr[i]) {
			e[k].line = x->co_line[i][KC_ENDPOINT];
			e[k].ep = x->co[i].endpoint;
			snprintf(e[k++].sect, sizeof(e->sect), "coordinator.%u", i);
		}
	for (size_t i = 0; i < x->nparts; i++) {
		e[k].line = x->parts[i].line[KP_ENDPOINT];
		e[k].ep = x->parts[i].p.endpoint;
		snprintf(e[k++].sect, sizeof(e->sect), "participant.%s", x->parts[i].p.name);
	}
	for (size_t i = 0; i < n; i++)
		ep_norm(&e[i]);
	/* one group per port (tcp) or path (ipc), sorted by host, then line */
	qsort(e, n, sizeof(*e), cmp_ep);
	const struct ep_ent *bad = NULL, *other = NULL;
	for (size_t g = 0, h; g < n; g = h) {
		const struct ep_ent *first = &e[g], *wild = NULL;
		for (h = g; h < n && e[h].ipc == e[g].ipc && e[h].port == e[g].port &&
			    (!e[g].ipc || strcmp(e[h].host, e[g].host) == 0);
		     h++) {
			if (e[h].line < first->line)
				first = &e[h];
			if (e[h].wild && (wild == NULL || e[h].line < wild->line))
				wild = &e[h];
		}
		const struct ep_ent *run = NULL; /* first of the entries with this host */
		for (size_t i = g; i < h; i++) {
			const struct ep_ent *p = NULL;
			if (run == NULL || strcmp(run->host, e[i].host) != 0)
				run = &e[i];
			else
				p = run;
			if (p == NULL && e[i].wild && first != &e[i])
				p = first;
			if (p == NULL && wild && wild->line < e[i].line)
				p = wild;
			if (p && (bad == NULL || e[i].line < bad->line)) {
				bad = &e[i];
				other = p;
			}
		}
	}
	if (bad && strcmp(bad->host, other->host) == 0)
		fail(x, bad->line,
		     "endpoint '%s' of [%s] is the same address as '%s' of [%s] (line %d): every "
		     "coordinator and participant needs an endpoint of its own (only one process can "
		     "bind it, and messages meant for the other would reach that one); give one of "
		     "them another %s",
		     bad->ep, bad->sect, other->ep, other->sect, other->line, bad->ipc ? "path" : "port");
	else if (bad)
		fail(x, bad->line,
		     "endpoint '%s' of [%s] and '%s' of [%s] (line %d) share port %u, and '%s' binds "
		     "every address: every coordinator and participant needs an endpoint of its own; "
		     "give one of them another port",
		     bad->ep, bad->sect, other->ep, other->sect, other->line, bad->port,
		     bad->wild ? bad->ep : other->ep);
	free(e);
}

/* 1 if the endpoint can be reached from this host only: ipc://, or a
 * tcp:// host in 127.0.0.0/8 or ::1. */
static int ep_local(const char *ep)
{
	struct ep_ent e = {.ep = ep};
	ep_norm(&e);
	return e.ipc || (!e.wild && (strncmp(e.host, "127.", 4) == 0 || strcmp(e.host, "::1") == 0));
}

/*
 * security = curve (the default): every coordinator and participant names
 * its public key, and no two share one (a key is a role).  security = none
 * is for one host only: every endpoint loopback or ipc.
 */
static void check_security(struct ctx *x)
{
	char sect[96];
	if (x->cfg.security == PX_SECURITY_NONE) {
		int bad_line = 0;
		const char *bad = NULL;
		for (unsigned i = 0; i < PX_CFG_COORD_MAX; i++)
			if (x->co_hdr[i] && !ep_local(x->co[i].endpoint) &&
			    (!bad || x->co_line[i][KC_ENDPOINT] < bad_line)) {
				bad = x->co[i].endpoint;
				bad_line = x->co_line[i][KC_ENDPOINT];
			}
		for (size_t i = 0; i < x->nparts; i++)
			if (!ep_local(x->parts[i].p.endpoint) && (!bad || x->parts[i].line[KP_ENDPOINT] < bad_line)) {
				bad = x->parts[i].p.endpoint;
				bad_line = x->parts[i].line[KP_ENDPOINT];
			}
		if (bad)
			fail(x, bad_line,
			     "endpoint '%s' is not loopback, and security = none (line %d) would let "
			     "anyone who reaches it vote and decide: remove 'security = none' (CURVE is "
			     "the default) and give every coordinator and participant a key pair "
			     "(paxcommit keygen, docs/operations.md, \"Security\")",
			     bad, x->cl_line[K_SECURITY]);
		return;
	}
	for (unsigned i = 0; i < PX_CFG_COORD_MAX; i++)
		if (x->co_hdr[i] && !x->co_line[i][KC_PUBLIC_KEY]) {
			fail(x, x->co_hdr[i],
			     "[coordinator.%u] is missing required key 'public_key' (security = curve, "
			     "the default: make a key pair with paxcommit keygen; docs/operations.md, \"Security\")",
			     i);
			return;
		}
	for (size_t i = 0; i < x->nparts; i++)
		if (!x->parts[i].line[KP_PUBLIC_KEY]) {
			fail(x, x->parts[i].hdr,
			     "[participant.%s] is missing required key 'public_key' (security = curve, "
			     "the default: make a key pair with paxcommit keygen; docs/operations.md, \"Security\")",
			     x->parts[i].p.name);
			return;
		}
	/* every key once */
	size_t n = x->nparts + PX_CFG_COORD_MAX;
	for (size_t a = 0; a < n; a++)
		for (size_t b = a + 1; b < n; b++) {
			const uint8_t *ka = a < PX_CFG_COORD_MAX ? (x->co_hdr[a] ? x->co[a].public_key : NULL)
							       : x->parts[a - PX_CFG_COORD_MAX].p.public_key;
			const uint8_t *kb = b < PX_CFG_COORD_MAX ? (x->co_hdr[b] ? x->co[b].public_key : NULL)
							       : x->parts[b - PX_CFG_COORD_MAX].p.public_key;
			if (!ka || !kb || memcmp(ka, kb, PX_KEY_LEN) != 0)
				continue;
			int line = b < PX_CFG_COORD_MAX ? x->co_line[b][KC_PUBLIC_KEY]
							: x->parts[b - PX_CFG_COORD_MAX].line[KP_PUBLIC_KEY];
			if (a < PX_CFG_COORD_MAX)
				snprintf(sect, sizeof(sect), "coordinator.%zu", a);
			else
				snprintf(sect, sizeof(sect), "participant.%s", x->parts[a - PX_CFG_COORD_MAX].p.name);
			fail(x, line, "public_key is also the key of [%s]: every coordinator and participant needs a key pair of its own", sect);
			return;
		}
}

static void check_all(struct ctx *x)
{
	struct px_config *c = &x->cfg;
	char sect[96];

	if (!x->cl_hdr) {
		fail(x, 0, "missing required section [cluster]");
		return;
	}
	check_missing(x, x->cl_hdr, "cluster", cluster_keys, x->cl_line, K_CLUSTER_N,
		      1u << K_NAME);
	if (c->lease_ms <= c->heartbeat_ms)
		fail(x, first_line(x->cl_line[K_LEASE], x->cl_line[K_HEARTBEAT], x->cl_hdr),
		     "lease_ms (%u) must be greater than heartbeat_ms (%u)", (unsigned)c->lease_ms,
		     (unsigned)c->heartbeat_ms);
	if (c->horizon_ms <= c->txn_timeout_ms)
		fail(x, first_line(x->cl_line[K_HORIZON], x->cl_line[K_TXN_TIMEOUT], x->cl_hdr),
		     "horizon_ms (%llu) must be greater than txn_timeout_ms (%u)",
		     (unsigned long long)c->horizon_ms, (unsigned)c->txn_timeout_ms);
	if (!x->cl_line[K_MAX_LIVE_CLIENT])
		c->max_live_client = c->max_live / 4 ? c->max_live / 4 : 1; /* the default */
	else if (c->max_live_client > c->max_live)
		fail(x, x->cl_line[K_MAX_LIVE_CLIENT], "max_live_per_client (%u) must not exceed max_live (%u)",
		     (unsigned)c->max_live_client, (unsigned)c->max_live);

	unsigned n = 0;
	for (unsigned i = 0; i < PX_CFG_COORD_MAX; i++)
		n += x->co_hdr[i] != 0;
	if (n == 0) {
		fail(x, 0, "no [coordinator.N] section: need 1, 3 or 5 coordinators");
	} else if (n != 1 && n != 3 && n != 5) {
		fail(x, 0, "%u coordinators configured, need 1, 3 or 5", n);
	} else {
		for (unsigned i = 0; i < n; i++) {
			if (x->co_hdr[i])
				continue;
			if (n == 1)
				fail(x, 0, "coordinator 0 expected, coordinator.0 missing");
			else
				fail(x, 0, "coordinators 0..%u expected, coordinator.%u missing", n - 1,
				     i);
			break;
		}
	}
	for (unsigned i = 0; i < PX_CFG_COORD_MAX; i++)
		if (x->co_hdr[i]) {
			snprintf(sect, sizeof(sect), "coordinator.%u", i);
			check_missing(x, x->co_hdr[i], sect, coord_keys, x->co_line[i], KC_N,
				      (1u << KC_ENDPOINT) | (1u << KC_DATA_DIR));
		}

	if (x->nparts == 0) {
		fail(x, 0, "no [participant.NAME] section: need at least one participant");
		return;
	}
	for (size_t i = 0; i < x->nparts; i++) {
		struct part_ent *e = &x->parts[i];
		snprintf(sect, sizeof(sect), "participant.%s", e->p.name);
		check_missing(x, e->hdr, sect, part_keys, e->line, KP_N,
			      (1u << KP_ID) | (1u << KP_ENDPOINT) | (1u << KP_CONNINFO));
	}
	if (x->err_line >= 0)
		return;
	qsort(x->parts, x->nparts, sizeof(*x->parts), cmp_part);
	for (size_t i = 1; i < x->nparts; i++) {
		struct part_ent *a = &x->parts[i - 1], *b = &x->parts[i];
		if (a->p.id == b->p.id) {
			fail(x, b->line[KP_ID], "participant id %u already used by [participant.%s] "
						"(line %d)",
			     (unsigned)b->p.id, a->p.name, a->line[KP_ID]);
			return;
		}
	}
	check_endpoints(x);
	if (x->err_line < 0)
		check_security(x);
}

/* ------------------------------------------------------------ API */

int px_config_load(const char *path, struct px_config *out, char *err, size_t errcap)
{
	memset(out, 0, sizeof(*out));
	if (err && errcap)
		err[0] = '\0';

	struct ctx *x = calloc(1, sizeof(*x));
	if (x == NULL) {
		if (err && errcap)
			snprintf(err, errcap, "%s: out of memory", path);
		return -1;
	}
	x->path = path;
	x->err_line = -1;
	struct px_config *c = &x->cfg;
	c->heartbeat_ms = PX_CFG_DEF_HEARTBEAT_MS;
	c->lease_ms = PX_CFG_DEF_LEASE_MS;
	c->txn_timeout_ms = PX_CFG_DEF_TXN_TIMEOUT_MS;
	c->agent_idle_timeout_ms = PX_CFG_DEF_AGENT_IDLE_TIMEOUT_MS;
	c->resend_ms = PX_CFG_DEF_RESEND_MS;
	c->sync_ms = PX_CFG_DEF_SYNC_MS;
	c->horizon_ms = PX_CFG_DEF_HORIZON_MS;
	c->max_live = PX_CFG_DEF_MAX_LIVE;
	c->security = PX_SECURITY_CURVE;

	x->f = fopen(path, "r");
	if (x->f == NULL) {
		fail(x, 0, "cannot open: %s", strerror(errno));
	} else {
		int rc = ini_parse_stream(reader, x, handler, x);
		if (rc == -2) {
			x->err_line = -1;
			fail(x, 0, "out of memory");
		} else if (rc > 0 && (x->err_line <= 0 || rc < x->err_line)) {
			/* libinih's own syntax error came first */
			x->err_line = -1;
			fail(x, rc, "syntax error: expected [section], key = value or a comment");
		}
		fclose(x->f);
		if (x->err_line < 0)
			check_all(x);
	}
	free(x->buf);

	int ret = 0;
	if (x->err_line < 0) {
		struct px_config_part *parts = malloc(x->nparts * sizeof(*parts));
		if (parts == NULL) {
			fail(x, 0, "out of memory");
		} else {
			*out = x->cfg;
			for (unsigned i = 0; i < PX_CFG_COORD_MAX && x->co_hdr[i]; i++) {
				out->coord[i] = x->co[i];
				out->ncoord = (uint8_t)(i + 1);
			}
			for (size_t i = 0; i < x->nparts; i++)
				parts[i] = x->parts[i].p;
			out->part = parts;
			out->npart = (uint16_t)x->nparts;
		}
	}
	if (x->err_line >= 0) {
		ret = -1;
		if (err && errcap) {
			if (x->err_line > 0)
				snprintf(err, errcap, "%s:%d: %s", path, x->err_line, x->msg);
			else
				snprintf(err, errcap, "%s: %s", path, x->msg);
		}
	}
	free(x->parts);
	free(x);
	return ret;
}

void px_config_free(struct px_config *c)
{
	if (c == NULL)
		return;
	free(c->part);
	memset(c, 0, sizeof(*c));
}

const struct px_config_part *px_config_part_by_name(const struct px_config *c, const char *name)
{
	for (uint16_t i = 0; i < c->npart; i++)
		if (strcmp(c->part[i].name, name) == 0)
			return &c->part[i];
	return NULL;
}

const struct px_config_part *px_config_part_by_id(const struct px_config *c, uint16_t id)
{
	size_t lo = 0, hi = c->npart; /* part is sorted by id */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->part[mid].id == id)
			return &c->part[mid];
		if (c->part[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}
