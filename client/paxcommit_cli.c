/*
 * paxcommit_cli.c - the command-line tool `paxcommit`.
 *
 *   paxcommit --config FILE exec -p NAME {'SQL'|-f SQLFILE} [-p NAME ...]
 *   paxcommit --config FILE status GID
 *   paxcommit --config FILE cluster
 *   paxcommit --config FILE in-doubt [--json]
 *   paxcommit --config FILE resolve GID [--timeout MS]
 *   paxcommit keygen [--dir DIR] NAME...
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include <libpq-fe.h>
#include <zmq.h>

#include "paxcommit.h"
#include "px_config.h"
#include "px_keys.h"
#include "px_msg.h"
#include "px_net.h"

enum { X_COMMITTED = 0, X_ABORTED = 1, X_USAGE = 2, X_UNKNOWN = 3 };

int cli_top(const struct px_config *cfg, int argc, char **argv); /* cli_top.c */

static void usage_main(FILE *f)
{
	fprintf(f,
		"usage: paxcommit --config FILE COMMAND [ARGS]\n"
		"\n"
		"Commands:\n"
		"  exec -p NAME {'SQL'|-f FILE} [-p ...]    run one distributed transaction\n"
		"  status [--json] GID                     what the coordinators know of GID\n"
		"  cluster [--json]                        replicas, leader, participants\n"
		"  in-doubt [--json]                       prepared transactions, and the coordinators' view\n"
		"  resolve GID [--timeout MS]              finish GID now (normal recovery) and wait\n"
		"  top [--interval S] [--count N]          every daemon's /metrics, live\n"
		"\n"
		"usage: paxcommit keygen [--dir DIR] NAME...   CURVE key pairs (no --config)\n"
		"\n"
		"`paxcommit --config FILE COMMAND --help` describes one command.\n"
		"Exit status: 0 success (exec: committed), 1 failure (exec: aborted),\n"
		"2 bad usage or configuration, 3 unknown (exec: no outcome before the deadline).\n");
}

static void usage_exec(FILE *f)
{
	fprintf(f,
		"usage: paxcommit --config FILE exec [--wait decided|applied] [--timeout MS]\n"
		"                 -p NAME {'SQL'|-f SQLFILE} [-p NAME {'SQL'|-f SQLFILE} ...]\n"
		"\n"
		"Run the statements, in order, each on its participant, as ONE distributed\n"
		"transaction, then commit it.  Rows a statement returns are printed as\n"
		"tab-separated lines, prefixed by the participant's name.  The last line is\n"
		"  committed GID            (exit 0)\n"
		"  aborted GID: REASON      (exit 1; e.g. a statement failed)\n"
		"  unknown GID              (exit 3; no outcome before the deadline; the\n"
		"                            coordinators still finish it: see `status`)\n"
		"--wait applied (default): return once every participant has committed;\n"
		"--wait decided: once the decision is durable at a majority of replicas.\n"
		"--timeout MS: deadline of each step (default 30000).\n"
		"-f SQLFILE: read that statement from SQLFILE (`-f -`: standard input, for\n"
		"one statement only).  The whole file is one statement, less one trailing\n"
		"newline, of at most %u bytes.  One argument can hold at most 128 KiB\n"
		"(131072 bytes with its NUL, Linux's MAX_ARG_STRLEN: a longer one fails with\n"
		"\"Argument list too long\"), so -f is the way to pass larger statements.\n"
		"Exit status 2, with nothing run: bad usage, an unknown participant, or an\n"
		"SQLFILE that cannot be read, is empty, holds a NUL byte or is over the limit.\n",
		PX_SQL_MAX);
}

/*
 * The statement in file `path` ("-": standard input), NUL-terminated, in a
 * malloc'd buffer: the whole file, less one trailing newline (\n or \r\n).
 * NULL after a message on stderr when it cannot be read, is empty, holds a
 * NUL (pc_exec takes a C string: it would cut the statement short) or is
 * over PX_SQL_MAX.  Reads at most PX_SQL_MAX + 3 bytes, so a huge file or an
 * endless pipe is refused without reading it all.
 */
static char *read_sql(const char *path)
{
	int is_stdin = !strcmp(path, "-");
	const char *shown = is_stdin ? "standard input" : path;
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "paxcommit exec: cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	size_t cap = (size_t)PX_SQL_MAX + 3, len = 0;
	char *buf = malloc(cap + 1);
	if (!buf) {
		fprintf(stderr, "paxcommit exec: out of memory reading %s\n", shown);
		if (!is_stdin)
			fclose(f);
		return NULL;
	}
	while (len < cap) {
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	int bad = ferror(f);
	int e = errno;
	if (!is_stdin)
		fclose(f);
	if (bad) {
		fprintf(stderr, "paxcommit exec: cannot read %s: %s\n", shown, strerror(e));
		free(buf);
		return NULL;
	}
	int more = len == cap;
	if (!more && len > 0 && buf[len - 1] == '\n') {
		len--;
		if (len > 0 && buf[len - 1] == '\r')
			len--;
	}
	buf[len] = '\0';
	if (more || len > PX_SQL_MAX) {
		fprintf(stderr,
			"paxcommit exec: %s is over the statement limit of %u bytes; split the "
			"statement\n",
			shown, PX_SQL_MAX);
		free(buf);
		return NULL;
	}
	if (len == 0 || memchr(buf, '\0', len)) {
		fprintf(stderr, "paxcommit exec: %s %s\n", shown,
			len == 0 ? "is empty: no statement to run" : "contains a NUL byte, which SQL text cannot hold");
		free(buf);
		return NULL;
	}
	return buf;
}

static int run_exec(struct pc_conn *pc, const char *const *names, const char *const *sqls, int n, int wait,
		    uint32_t timeout);

static int cmd_exec(struct pc_conn *pc, int argc, char **argv)
{
	int wait = PC_WAIT_APPLIED;
	uint32_t timeout = 30000;
	const char *names[256], *sqls[256];
	char *owned[256]; /* statements read with -f */
	int n = 0, nowned = 0, rc = -1, from_stdin = 0;
	for (int i = 0; rc < 0 && i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			usage_exec(stdout);
			rc = 0;
		} else if (!strcmp(argv[i], "-p") && i + 3 < argc && !strcmp(argv[i + 2], "-f")) {
			if (n == 256) {
				fprintf(stderr, "paxcommit exec: at most 256 statements\n");
				rc = X_USAGE;
			} else if (!strcmp(argv[i + 3], "-") && from_stdin++) {
				fprintf(stderr, "paxcommit exec: -f - (standard input) may be given only once\n");
				rc = X_USAGE;
			} else if (!(owned[nowned] = read_sql(argv[i + 3]))) {
				rc = X_USAGE;
			} else {
				names[n] = argv[i + 1];
				sqls[n++] = owned[nowned++];
				i += 3;
			}
		} else if (!strcmp(argv[i], "-p") && i + 2 < argc) {
			if (n == 256) {
				fprintf(stderr, "paxcommit exec: at most 256 statements\n");
				rc = X_USAGE;
			} else {
				names[n] = argv[i + 1];
				sqls[n++] = argv[i + 2];
				i += 2;
			}
		} else if (!strcmp(argv[i], "--wait") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "decided"))
				wait = PC_WAIT_DECIDED;
			else if (!strcmp(argv[i], "applied"))
				wait = PC_WAIT_APPLIED;
			else {
				fprintf(stderr, "paxcommit exec: --wait is decided or applied, not '%s'\n", argv[i]);
				rc = X_USAGE;
			}
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 1 || v > 86400000) {
				fprintf(stderr, "paxcommit exec: --timeout must be 1..86400000 ms\n");
				rc = X_USAGE;
			} else {
				timeout = (uint32_t)v;
			}
		} else {
			fprintf(stderr, "paxcommit exec: unexpected '%s' (see --help)\n", argv[i]);
			rc = X_USAGE;
		}
	}
	if (rc < 0 && n == 0) {
		fprintf(stderr, "paxcommit exec: no statements (-p NAME 'SQL' or -p NAME -f SQLFILE; see --help)\n");
		rc = X_USAGE;
	}
	for (int i = 0; rc < 0 && i < n; i++)
		if (!pc_participant_id(pc, names[i])) {
			fprintf(stderr, "paxcommit exec: no participant '%s' in the configuration\n", names[i]);
			rc = X_USAGE;
		}
	if (rc < 0)
		rc = run_exec(pc, names, sqls, n, wait, timeout);
	for (int i = 0; i < nowned; i++)
		free(owned[i]);
	return rc;
}

static int run_exec(struct pc_conn *pc, const char *const *names, const char *const *sqls, int n, int wait,
		    uint32_t timeout)
{
	pc_set_timeouts(pc, timeout, timeout);
	struct pc_txn *t;
	if (pc_begin(pc, &t)) {
		fprintf(stderr, "paxcommit exec: %s\n", pc_conn_errmsg(pc));
		return X_ABORTED;
	}
	for (int i = 0; i < n; i++) {
		struct pc_rows *rows = NULL;
		int e = pc_exec(t, names[i], sqls[i], 0, NULL, &rows);
		if (e == 0) {
			for (int r = 0; r < pc_rows_nrows(rows); r++) {
				printf("%s", names[i]);
				for (int c = 0; c < pc_rows_ncols(rows); c++) {
					const char *v = pc_rows_value(rows, r, c);
					printf("\t%s", v ? v : "NULL");
				}
				printf("\n");
			}
		} else {
			fprintf(stderr, "paxcommit exec: %s\n", pc_conn_errmsg(pc));
		}
		pc_rows_free(&rows);
		if (e)
			break; /* the transaction is doomed: commit rolls it back */
	}
	struct pc_result res;
	int e = pc_commit(t, wait, &res);
	int rc;
	if (e) {
		printf("unknown %s\n", pc_txn_gid(t));
		fprintf(stderr, "paxcommit exec: commit failed: %s\n", pc_conn_errmsg(pc));
		rc = X_UNKNOWN;
	} else if (res.outcome == PC_COMMITTED) {
		printf("committed %s\n", pc_txn_gid(t));
		rc = X_COMMITTED;
	} else if (res.outcome == PC_ABORTED) {
		printf("aborted %s: %s\n", pc_txn_gid(t), res.reason[0] ? res.reason : "aborted");
		rc = X_ABORTED;
	} else {
		printf("unknown %s\n", pc_txn_gid(t));
		rc = X_UNKNOWN;
	}
	pc_txn_free(&t);
	return rc;
}

static void json_str(FILE *f, const char *s);

static int cmd_status(struct pc_conn *pc, int argc, char **argv)
{
	int json = argc == 2 && !strcmp(argv[0], "--json");
	if (json) {
		argc--;
		argv++;
	}
	if (argc != 1 || !strcmp(argv[0], "--help")) {
		FILE *f = argc == 1 ? stdout : stderr;
		fprintf(f, "usage: paxcommit --config FILE status [--json] GID\n\n"
			   "Ask every coordinator replica about GID and print one of\n"
			   "  committed GID | aborted GID | undecided GID | unknown-gid GID | no-answer GID\n"
			   "--json prints {\"gid\": GID, \"status\": \"committed\"|..., \"leader\": N or null}.\n"
			   "Exit status: 0 committed, 1 aborted, 3 anything else, 2 bad usage.\n");
		return argc == 1 ? 0 : X_USAGE;
	}
	struct pc_result res;
	if (pc_status(pc, argv[0], 5000, &res)) {
		fprintf(stderr, "paxcommit status: %s\n", pc_conn_errmsg(pc));
		return X_USAGE;
	}
	static const char *names[] = {"?", "committed", "aborted", "undecided", "unknown-gid", "no-answer"};
	const char *name = names[res.outcome >= 1 && res.outcome <= 5 ? res.outcome : 0];
	if (json) {
		printf("{\"gid\": ");
		json_str(stdout, argv[0]);
		if (res.leader >= 0)
			printf(", \"status\": \"%s\", \"leader\": %d}\n", name, res.leader);
		else
			printf(", \"status\": \"%s\", \"leader\": null}\n", name);
	} else {
		printf("%s %s\n", name, argv[0]);
	}
	return res.outcome == PC_ST_COMMITTED ? 0 : res.outcome == PC_ST_ABORTED ? 1 : X_UNKNOWN;
}

/* Can a TCP (or ipc) connection to a ZeroMQ endpoint be opened?  A bound
 * agent accepts one; nothing is sent. */
static int reachable(const char *endpoint, int timeout_ms)
{
	int fd = -1, ok = 0;
	if (!strncmp(endpoint, "ipc://", 6)) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", endpoint + 6);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (fd >= 0)
			close(fd);
		return ok;
	}
	if (strncmp(endpoint, "tcp://", 6))
		return 0;
	char host[256];
	snprintf(host, sizeof(host), "%s", endpoint + 6);
	char *colon = strrchr(host, ':');
	if (!colon)
		return 0;
	*colon = 0;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	if (getaddrinfo(host, colon + 1, &hints, &ai) || !ai)
		return 0;
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd >= 0) {
		fcntl(fd, F_SETFL, O_NONBLOCK);
		int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
		if (r == 0) {
			ok = 1;
		} else if (errno == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			if (poll(&p, 1, timeout_ms) == 1) {
				int err = 0;
				socklen_t l = sizeof(err);
				ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0 && err == 0;
			}
		}
		close(fd);
	}
	freeaddrinfo(ai);
	return ok;
}

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Who answered a PING at one endpoint. */
struct pong {
	int got;
	uint8_t kind;
	uint16_t id;
	char cluster[PX_NAME_MAX + 1], name[PX_NAME_MAX + 1];
};

/* Copy a name off the wire, for printing: control bytes become '?'. */
static void copy_name(char *dst, struct px_str s)
{
	uint32_t n = s.len > PX_NAME_MAX ? PX_NAME_MAX : s.len;
	for (uint32_t i = 0; i < n; i++)
		dst[i] = (unsigned char)s.p[i] < 0x20 || s.p[i] == 0x7f ? '?' : s.p[i];
	dst[n] = '\0';
}

/* One PING to send: to endpoint ep, as if it were node `who` (with CURVE,
 * the DEALER expects who's key there), its PONG into *out. */
struct probe {
	struct px_addr who;
	const char *ep;
	struct pong *out;
};

#define PROBE_NETS_MAX 64

/*
 * Send every probe at once and wait up to timeout_ms for the PONGs.  A
 * px_net holds one DEALER per node, so probes that name the same node go
 * into transports of their own; a PONG's transport and sender say which
 * probe it answers.  Returns 0, or -1 with a message on stderr.
 */
static int ping_round(void *z, const struct px_keyring *keys, struct probe *pr, size_t npr, int timeout_ms)
{
	char err[600];
	struct px_net *net[PROBE_NETS_MAX] = {0};
	size_t *at = calloc(npr ? npr : 1, sizeof(*at)); /* probe -> its transport */
	zmq_pollitem_t *items = calloc(npr ? npr : 1, sizeof(*items));
	int nnet = 0, rc = -1;
	if (!at || !items) {
		fprintf(stderr, "paxcommit cluster: out of memory\n");
		goto out;
	}
	uint64_t req = (uint64_t)getpid() << 20 | (uint64_t)(mono_ms() & 0xFFFFF);
	struct px_msg m = {.type = PX_MSG_PING, .u.ping.req = req};
	uint8_t buf[64];
	size_t len;
	if (px_encode(&m, buf, sizeof(buf), &len))
		goto out;
	for (size_t i = 0; i < npr; i++) {
		/* the first transport that has no DEALER for this node yet */
		int k = 0;
		for (; k < nnet; k++) {
			size_t j = 0;
			while (j < i && !(at[j] == (size_t)k && pr[j].who.kind == pr[i].who.kind && pr[j].who.id == pr[i].who.id))
				j++;
			if (j == i)
				break;
		}
		if (k == PROBE_NETS_MAX)
			continue;
		if (k == nnet) {
			struct px_net_config nc = {.self = px_addr_of(PX_NODE_CLIENT, 0), .queue_unconnected = 1, .keys = keys};
			if (px_net_new(z, &nc, &net[nnet], err, sizeof(err))) {
				fprintf(stderr, "paxcommit cluster: %s\n", err);
				goto out;
			}
			nnet++;
		}
		at[i] = (size_t)k;
		if (px_net_add_peer(net[k], pr[i].who, pr[i].ep, err, sizeof(err))) {
			fprintf(stderr, "paxcommit cluster: %s\n", err);
			goto out;
		}
		px_net_send(net[k], pr[i].who, buf, len);
	}
	size_t missing = npr;
	uint64_t until = mono_ms() + (uint64_t)timeout_ms;
	while (missing > 0) {
		for (int k = 0; k < nnet; k++) {
			struct px_addr from;
			const uint8_t *data;
			size_t dlen;
			while (missing > 0 && px_net_recv(net[k], &from, &data, &dlen) == 1) {
				size_t off = 0;
				const uint8_t *frame;
				size_t flen;
				while (px_net_split(data, dlen, &off, &frame, &flen) == 1) {
					struct px_msg r;
					if (px_decode(frame, flen, &r) || r.type != PX_MSG_PONG || r.u.pong.req != req)
						continue;
					struct pong *p = NULL;
					for (size_t i = 0; i < npr && !p; i++)
						if (at[i] == (size_t)k && pr[i].who.kind == from.kind && pr[i].who.id == from.id)
							p = pr[i].out;
					if (!p || p->got)
						continue;
					p->got = 1;
					p->kind = r.u.pong.kind;
					p->id = r.u.pong.id;
					copy_name(p->cluster, r.u.pong.cluster);
					copy_name(p->name, r.u.pong.name);
					missing--;
				}
			}
		}
		uint64_t now = mono_ms();
		if (missing == 0 || now >= until)
			break;
		size_t n = 0;
		for (int k = 0; k < nnet; k++)
			n += px_net_pollitems(net[k], items + n, npr - n);
		if (zmq_poll(items, (int)n, (long)(until - now > 20 ? 20 : until - now)) < 0 && zmq_errno() != EINTR) {
			fprintf(stderr, "paxcommit cluster: zmq_poll: %s\n", zmq_strerror(zmq_errno()));
			goto out;
		}
	}
	rc = 0;
out:
	for (int k = 0; k < nnet; k++)
		px_net_destroy(&net[k]);
	free(items);
	free(at);
	return rc;
}

/*
 * PING every coordinator (co[i]) and participant (pa[i]) endpoint at once
 * and wait up to timeout_ms for their PONGs.  A TCP connect only shows that
 * something listens: a swapped or mistyped endpoint reaches another agent,
 * which would then run statements meant for this one.  Our own transport
 * has one DEALER per endpoint, so a reply's sender address is the endpoint
 * that answered; the PONG says who answered there.
 * With CURVE a DEALER talks only to the holder of the key it expects, so a
 * misdirected endpoint does not answer at all; for each endpoint that did
 * not, a second round asks it with every other node's key, and the PONG
 * that comes names who is really there.  Returns 0, or -1 with a message
 * on stderr.
 */
static int ping_all(const struct px_config *cfg, struct pong *co, struct pong *pa, int timeout_ms)
{
	char err[600];
	void *z = zmq_ctx_new();
	struct px_keyring keys = {0};
	size_t nodes = (size_t)cfg->ncoord + cfg->npart;
	struct probe *pr = calloc(nodes * nodes, sizeof(*pr));
	struct pong *extra = calloc(nodes * nodes, sizeof(*extra));
	int rc = -1;
	if (!z || !pr || !extra) {
		fprintf(stderr, "paxcommit cluster: out of memory\n");
		goto out;
	}
	if (px_keyring_load(&keys, cfg, px_addr_of(PX_NODE_CLIENT, 0), NULL, err, sizeof(err))) {
		fprintf(stderr, "paxcommit cluster: %s\n", err);
		goto out;
	}
	for (size_t i = 0; i < nodes; i++) {
		pr[i].who = i < cfg->ncoord ? px_addr_of(PX_NODE_REPLICA, (uint64_t)i)
					    : px_addr_of(PX_NODE_AGENT, cfg->part[i - cfg->ncoord].id);
		pr[i].ep = i < cfg->ncoord ? cfg->coord[i].endpoint : cfg->part[i - cfg->ncoord].endpoint;
		pr[i].out = i < cfg->ncoord ? &co[i] : &pa[i - cfg->ncoord];
	}
	if (ping_round(z, &keys, pr, nodes, timeout_ms))
		goto out;
	size_t n = 0;
	for (size_t i = 0; keys.curve && i < nodes; i++) {
		if (pr[i].out->got)
			continue;
		for (size_t j = 0; j < nodes; j++)
			if (j != i) {
				pr[nodes + n].who = pr[j].who;
				pr[nodes + n].ep = pr[i].ep;
				pr[nodes + n].out = &extra[n];
				n++;
			}
	}
	if (n && ping_round(z, &keys, pr + nodes, n, timeout_ms / 2))
		goto out;
	for (size_t k = 0; k < n; k++) {
		if (!extra[k].got)
			continue;
		/* probe k asked endpoint pr[nodes + k].ep: whose is it? */
		for (size_t i = 0; i < nodes; i++)
			if (pr[i].ep == pr[nodes + k].ep && !pr[i].out->got)
				*pr[i].out = extra[k];
	}
	rc = 0;
out:
	free(pr);
	free(extra);
	if (z)
		zmq_ctx_term(z);
	px_keyring_free(&keys);
	return rc;
}

/* "participant.a (id 1) of cluster dev": who a PONG says answered. */
static void describe(char *out, size_t cap, const struct pong *p)
{
	char who[PX_NAME_MAX + 40];
	if (p->kind == PX_NODE_REPLICA)
		snprintf(who, sizeof(who), "coordinator.%u", (unsigned)p->id);
	else if (p->name[0])
		snprintf(who, sizeof(who), "participant.%s (id %u)", p->name, (unsigned)p->id);
	else
		snprintf(who, sizeof(who), "participant id %u", (unsigned)p->id);
	if (p->cluster[0])
		snprintf(out, cap, "%s of cluster %s", who, p->cluster);
	else
		snprintf(out, cap, "%s of an unnamed cluster", who);
}

/* A command that takes no arguments got some: its help on stdout (exit 0)
 * for --help, else on stderr as a usage error. */
static int help_or_usage(const char *arg, const char *text)
{
	int help = !strcmp(arg, "--help");
	fputs(text, help ? stdout : stderr);
	return help ? 0 : X_USAGE;
}

static int cmd_cluster(struct pc_conn *pc, const struct px_config *cfg, int argc, char **argv)
{
	int json = argc == 1 && !strcmp(argv[0], "--json");
	if (argc && !json)
		return help_or_usage(argv[0], "usage: paxcommit --config FILE cluster [--json]\n\n"
			   "Asks every coordinator replica and participant agent who it is (a ping),\n"
			   "then prints one line per replica (up or down, and whom it trusts as leader),\n"
			   "a line `leader: coordinator.N` (the leader a majority of replicas trusts, or\n"
			   "`leader: none`), and one line per participant agent:\n"
			   "  participant.X ENDPOINT healthy (participant.X, id N)\n"
			   "  participant.X ENDPOINT misdirected: answered as participant.Y (id M) of cluster C\n"
			   "  participant.X ENDPOINT reachable, but no paxcommit agent answers\n"
			   "  participant.X ENDPOINT unreachable\n"
			   "An endpoint where another node (or another cluster's) answers is\n"
			   "`misdirected`; fix the endpoint in the configuration.  --json prints one\n"
			   "object: {\"coordinators\": [{\"id\", \"endpoint\", \"state\": up|down|misdirected|\n"
			   "no-answer, \"trusts\": N or null, \"detail\"}], \"leader\": N or null,\n"
			   "\"participants\": [{\"name\", \"id\", \"endpoint\", \"state\": healthy|misdirected|\n"
			   "no-agent|unreachable, \"detail\"}], \"ok\": true|false}.\n"
			   "Exit status: 0 if there is a leader, no endpoint is misdirected and every\n"
			   "participant is healthy, else 1.\n");
	struct pong co[PX_CFG_COORD_MAX];
	memset(co, 0, sizeof(co));
	struct pong *pa = calloc(cfg->npart, sizeof(*pa));
	if (!pa || ping_all(cfg, co, pa, 1000)) {
		free(pa);
		return 1;
	}
	int votes[5] = {0}, leader = -1, ok = 1;
	char who[200];
	if (json)
		printf("{\"coordinators\": [");
	for (int i = 0; i < cfg->ncoord; i++) {
		const struct pong *p = &co[i];
		const char *state, *detail = "";
		int l = -1;
		if (p->got && (p->kind != PX_NODE_REPLICA || p->id != i || strcmp(p->cluster, cfg->name))) {
			describe(who, sizeof(who), p);
			state = "misdirected";
			detail = who;
			ok = 0;
		} else if (p->got) {
			l = pc_leader_seen_by(pc, i, 500);
			if (l >= 0 && l < cfg->ncoord)
				votes[l]++;
			else
				l = -1;
			state = "up";
		} else if (!reachable(cfg->coord[i].endpoint, 300)) {
			state = "down";
		} else {
			state = "no-answer";
			detail = cfg->security == PX_SECURITY_CURVE
					 ? "up, but no paxcommit coordinator answers (with CURVE: nothing there holds a key of this cluster)"
					 : "up, but no paxcommit coordinator answers";
		}
		if (json) {
			printf("%s{\"id\": %d, \"endpoint\": ", i ? ", " : "", i);
			json_str(stdout, cfg->coord[i].endpoint);
			printf(", \"state\": \"%s\", \"trusts\": ", state);
			if (l >= 0)
				printf("%d", l);
			else
				printf("null");
			printf(", \"detail\": ");
			json_str(stdout, detail);
			printf("}");
		} else if (!strcmp(state, "misdirected")) {
			printf("coordinator.%d %s misdirected: answered as %s\n", i, cfg->coord[i].endpoint, who);
		} else if (!strcmp(state, "up") && l >= 0) {
			printf("coordinator.%d %s up, trusts coordinator.%d\n", i, cfg->coord[i].endpoint, l);
		} else if (!strcmp(state, "up")) {
			printf("coordinator.%d %s up, trusts no leader\n", i, cfg->coord[i].endpoint);
		} else {
			printf("coordinator.%d %s %s\n", i, cfg->coord[i].endpoint, *detail ? detail : "down");
		}
	}
	for (int l = 0; l < cfg->ncoord; l++)
		if (votes[l] * 2 > cfg->ncoord)
			leader = l;
	if (leader < 0)
		ok = 0;
	if (json) {
		printf("], \"leader\": ");
		if (leader >= 0)
			printf("%d", leader);
		else
			printf("null");
		printf(", \"participants\": [");
	} else if (leader >= 0) {
		printf("leader: coordinator.%d\n", leader);
	} else {
		printf("leader: none\n");
	}
	for (uint16_t i = 0; i < cfg->npart; i++) {
		const struct px_config_part *c = &cfg->part[i];
		const struct pong *p = &pa[i];
		const char *state, *detail = "";
		if (p->got && p->kind == PX_NODE_AGENT && p->id == c->id && !strcmp(p->cluster, cfg->name) &&
		    !strcmp(p->name, c->name)) {
			state = "healthy";
		} else if (p->got) {
			describe(who, sizeof(who), p);
			state = "misdirected";
			detail = who;
		} else if (!reachable(c->endpoint, 500)) {
			state = "unreachable";
		} else {
			state = "no-agent";
			detail = cfg->security == PX_SECURITY_CURVE ? "reachable, but no paxcommit agent answers "
								      "(with CURVE: nothing there holds a key of this cluster)"
								    : "reachable, but no paxcommit agent answers";
		}
		if (strcmp(state, "healthy"))
			ok = 0;
		if (json) {
			printf("%s{\"name\": ", i ? ", " : "");
			json_str(stdout, c->name);
			printf(", \"id\": %u, \"endpoint\": ", (unsigned)c->id);
			json_str(stdout, c->endpoint);
			printf(", \"state\": \"%s\", \"detail\": ", state);
			json_str(stdout, detail);
			printf("}");
		} else if (!strcmp(state, "healthy")) {
			printf("participant.%s %s healthy (participant.%s, id %u)\n", c->name, c->endpoint, p->name,
			       (unsigned)p->id);
		} else if (!strcmp(state, "misdirected")) {
			printf("participant.%s %s misdirected: answered as %s\n", c->name, c->endpoint, who);
		} else {
			printf("participant.%s %s %s\n", c->name, c->endpoint, *detail ? detail : "unreachable");
		}
	}
	if (json)
		printf("], \"ok\": %s}\n", ok ? "true" : "false");
	free(pa);
	return ok ? 0 : 1;
}

/* A JSON string of s (quotes, backslashes and control characters escaped). */
static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static const char *view_name(int st)
{
	static const char *names[] = {"?", "committed", "aborted", "undecided", "unknown", "no-answer"};
	return names[st >= 1 && st <= 5 ? st : 0];
}

/* Participant i's database, with a short connect timeout; NULL (error
 * printed, or put in err) if it does not answer. */
static PGconn *part_db(const struct px_config *cfg, uint16_t i, char *err, size_t errcap)
{
	const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
	const char *vals[] = {cfg->part[i].conninfo, "5", "paxcommit-cli", NULL};
	PGconn *db = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(db) != CONNECTION_OK) {
		snprintf(err, errcap, "participant.%s: cannot connect: %s", cfg->part[i].name, PQerrorMessage(db));
		PQfinish(db);
		return NULL;
	}
	return db;
}

/* This cluster's prepared transactions in participant i's database (gid
 * = only, if not NULL): a result of (gid, age text, age seconds), or NULL
 * with err set. */
static PGresult *prepared_of(const struct px_config *cfg, PGconn *db, uint16_t i, const char *only, char *err,
			     size_t errcap)
{
	/* The agent (and an XA-style client) prepares gid G as G_<participant id>. */
	char prefix[80], suffix[16];
	snprintf(prefix, sizeof(prefix), "%s_", cfg->name);
	snprintf(suffix, sizeof(suffix), "_%u", (unsigned)cfg->part[i].id);
	const char *pv[3] = {prefix, only ? only : "", suffix};
	PGresult *r = PQexecParams(db,
				   "SELECT left(gid, length(gid) - length($3)), date_trunc('second', now() - prepared)::text, "
				   "extract(epoch FROM now() - prepared)::bigint FROM pg_prepared_xacts "
				   "WHERE database = current_database() AND starts_with(gid, $1) "
				   "AND right(gid, length($3)) = $3 AND ($2 = '' OR gid = $2 || $3) "
				   "ORDER BY prepared",
				   3, NULL, pv, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		snprintf(err, errcap, "participant.%s: %s", cfg->part[i].name, PQerrorMessage(db));
		PQclear(r);
		return NULL;
	}
	return r;
}

static int cmd_in_doubt(struct pc_conn *pc, const struct px_config *cfg, int argc, char **argv)
{
	int json = argc == 1 && !strcmp(argv[0], "--json");
	if (argc && !json)
		return help_or_usage(argv[0], "usage: paxcommit --config FILE in-doubt [--json]\n\n"
			   "Connect to every participant's database (its conninfo) and list the prepared\n"
			   "transactions of this cluster (prepared as GID_<participant id>, GID starting\n"
			   "with `NAME_`), oldest first, each with its gid, its age and what the\n"
			   "coordinators say of it:\n"
			   "  participant.X GID AGE committed|aborted|undecided|unknown|no-answer\n"
			   "and a last line `in-doubt: N`.  committed or aborted: the agent has not applied\n"
			   "the outcome yet (is it running?); undecided: the coordinators are deciding;\n"
			   "unknown: no replica knows the gid (its agent will roll it back);\n"
			   "no-answer: no majority of replicas answered.  `paxcommit resolve GID` asks\n"
			   "for one to be finished now.  --json prints one JSON object instead:\n"
			   "  {\"in_doubt\": [{\"participant\", \"gid\", \"age_seconds\", \"coordinators\"}],\n"
			   "   \"total\": N, \"errors\": [\"...\"]}\n"
			   "Exit status: 0 if every database answered, 1 otherwise.\n");
	int rc = 0;
	long total = 0;
	char err[1200];
	if (json)
		printf("{\"in_doubt\": [");
	char **errs = NULL;
	size_t nerr = 0;
	for (uint16_t i = 0; i < cfg->npart; i++) {
		PGconn *db = part_db(cfg, i, err, sizeof(err));
		PGresult *r = db ? prepared_of(cfg, db, i, NULL, err, sizeof(err)) : NULL;
		if (!r) {
			size_t l = strlen(err);
			while (l && err[l - 1] == '\n')
				err[--l] = '\0';
			if (json) {
				char **ne = realloc(errs, (nerr + 1) * sizeof(*ne));
				if (ne && (ne[nerr] = strdup(err)))
					errs = ne, nerr++;
				else if (ne)
					errs = ne;
			} else {
				fprintf(stderr, "%s\n", err);
			}
			rc = 1;
		} else {
			for (int k = 0; k < PQntuples(r); k++) {
				const char *gid = PQgetvalue(r, k, 0);
				struct pc_result res;
				int st = pc_status(pc, gid, 2000, &res) ? PC_ST_NO_ANSWER : res.outcome;
				if (json) {
					printf("%s{\"participant\": ", total ? ", " : "");
					json_str(stdout, cfg->part[i].name);
					printf(", \"gid\": ");
					json_str(stdout, gid);
					printf(", \"age_seconds\": %s, \"coordinators\": \"%s\"}", PQgetvalue(r, k, 2), view_name(st));
				} else {
					printf("participant.%s %s %s %s\n", cfg->part[i].name, gid, PQgetvalue(r, k, 1),
					       view_name(st));
				}
				total++;
			}
			PQclear(r);
		}
		PQfinish(db);
	}
	if (json) {
		printf("], \"total\": %ld, \"errors\": [", total);
		for (size_t k = 0; k < nerr; k++) {
			if (k)
				printf(", ");
			json_str(stdout, errs[k]);
			free(errs[k]);
		}
		printf("]}\n");
		free(errs);
	} else {
		printf("in-doubt: %ld\n", total);
	}
	return rc;
}

/* Where gid is still prepared: the names, into out; the count, or -1 if
 * a database did not answer. */
static int still_prepared(const struct px_config *cfg, const char *gid, char *out, size_t cap)
{
	int n = 0, bad = 0;
	out[0] = '\0';
	char err[1200];
	for (uint16_t i = 0; i < cfg->npart; i++) {
		PGconn *db = part_db(cfg, i, err, sizeof(err));
		PGresult *r = db ? prepared_of(cfg, db, i, gid, err, sizeof(err)) : NULL;
		if (!r)
			bad = 1;
		else if (PQntuples(r) > 0) {
			size_t l = strlen(out);
			snprintf(out + l, cap - l, "%sparticipant.%s", n ? ", " : "", cfg->part[i].name);
			n++;
		}
		PQclear(r);
		PQfinish(db);
	}
	return bad ? -1 : n;
}

static int cmd_resolve(struct pc_conn *pc, const struct px_config *cfg, int argc, char **argv)
{
	long timeout_ms = 30000;
	const char *gid = NULL, *bad = "";
	for (int k = 0; k < argc; k++) {
		if (!strcmp(argv[k], "--timeout") && k + 1 < argc) {
			char *end;
			timeout_ms = strtol(argv[++k], &end, 10);
			if (*end || timeout_ms <= 0) {
				fprintf(stderr, "paxcommit resolve: --timeout wants milliseconds, not '%s'\n", argv[k]);
				return X_USAGE;
			}
		} else if (argv[k][0] != '-' && !gid) {
			gid = argv[k];
		} else {
			gid = NULL;
			bad = argv[k];
			break;
		}
	}
	if (!gid)
		return help_or_usage(bad, "usage: paxcommit --config FILE resolve GID [--timeout MS]\n\n"
			   "Have the coordinators finish GID now, through their normal recovery, and wait\n"
			   "until no participant's database holds it prepared.  A gid older than the\n"
			   "cluster's txn_timeout_ms that the leader does not know is taken up by the\n"
			   "status request itself, and recovered at once: its outcome is the one the\n"
			   "acceptors chose (abort if no participant voted), never one you pick.  A\n"
			   "younger gid is left to its own client until then.  Prints what it did:\n"
			   "  resolved GID committed|aborted: applied on every participant\n"
			   "  GID committed|aborted: still prepared on participant.X after MS ms (is its agent running?)\n"
			   "  GID undecided|unknown|no-answer after MS ms\n"
			   "Exit status: 0 finished everywhere, 3 not before the timeout (default 30000),\n"
			   "2 bad usage.\n");
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	long long start = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, now = start;
	int st = PC_ST_NO_ANSWER;
	char where[1024] = "";
	int left = -1;
	for (;;) {
		struct pc_result res;
		st = pc_status(pc, gid, 2000, &res) ? PC_ST_NO_ANSWER : res.outcome;
		if (st == PC_ST_COMMITTED || st == PC_ST_ABORTED) {
			left = still_prepared(cfg, gid, where, sizeof(where));
			if (left == 0) {
				printf("resolved %s %s: applied on every participant\n", gid, view_name(st));
				return 0;
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		now = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		if (now - start >= timeout_ms)
			break;
		struct timespec pause = {0, 200 * 1000000L};
		nanosleep(&pause, NULL); /* the agents apply the outcome on their own; look again */
	}
	if ((st == PC_ST_COMMITTED || st == PC_ST_ABORTED) && left > 0)
		printf("%s %s: still prepared on %s after %lld ms (is its agent running?)\n", gid, view_name(st), where,
		       now - start);
	else if (st == PC_ST_COMMITTED || st == PC_ST_ABORTED)
		printf("%s %s: a participant's database did not answer after %lld ms\n", gid, view_name(st), now - start);
	else
		printf("%s %s after %lld ms\n", gid, view_name(st), now - start);
	return X_UNKNOWN;
}

static void usage_keygen(FILE *f)
{
	fprintf(f,
		"usage: paxcommit keygen [--dir DIR] NAME...\n"
		"\n"
		"Make a CURVE key pair for each NAME (a coordinator, a participant or a\n"
		"client) and write DIR/NAME.key, the key pair (mode 0600: its secret key\n"
		"never goes into cluster.conf), and DIR/NAME.pub, the public key (0644).\n"
		"Neither may exist yet.  Then, in cluster.conf (docs/operations.md, \"Security\"):\n"
		"  a coordinator or participant: public_key = <its public key> and\n"
		"    key_file = <path of NAME.key on its machine> in its section;\n"
		"  a client: its NAME.pub into the [cluster] client_keys directory of every\n"
		"    coordinator and participant machine, and client_key_file = <NAME.key>\n"
		"    (or PAXCOMMIT_CLIENT_KEY) where it runs.\n"
		"Prints 'NAME public_key = KEY' for each.  DIR defaults to '.'.\n"
		"Exit status: 0 written, 1 failure (nothing left half written), 2 bad usage.\n");
}

static int cmd_keygen(int argc, char **argv)
{
	const char *dir = ".";
	int i = 0;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage_keygen(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			dir = argv[++i];
			continue;
		}
		fprintf(stderr, "paxcommit keygen: unknown option '%s'\n", argv[i]);
		usage_keygen(stderr);
		return X_USAGE;
	}
	if (i == argc) {
		usage_keygen(stderr);
		return X_USAGE;
	}
	for (int k = i; k < argc; k++) {
		const char *nm = argv[k];
		int ok = *nm && strlen(nm) <= 100;
		for (const char *p = nm; ok && *p; p++)
			ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			     *p == '.' || *p == '_' || *p == '-';
		if (!ok || nm[0] == '.') {
			fprintf(stderr, "paxcommit keygen: bad NAME '%s': use 1..100 of A-Z a-z 0-9 . _ -, not starting with '.'\n", nm);
			return X_USAGE;
		}
	}
	for (int k = i; k < argc; k++) {
		char prefix[1200], err[1400], pub[1300];
		snprintf(prefix, sizeof(prefix), "%s/%s", dir, argv[k]);
		if (px_key_generate(prefix, argv[k], err, sizeof(err))) {
			fprintf(stderr, "paxcommit keygen: %s\n", err);
			return 1;
		}
		uint8_t key[PX_KEY_LEN];
		char z[PX_KEY_Z85_LEN + 1];
		snprintf(pub, sizeof(pub), "%s.pub", prefix);
		if (px_key_read_public(pub, key, err, sizeof(err))) {
			fprintf(stderr, "paxcommit keygen: %s\n", err);
			return 1;
		}
		px_z85_encode_key(key, z);
		printf("%s public_key = %s\n", argv[k], z);
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	int i = 1;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			config = argv[++i];
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage_main(stdout);
			return 0;
		} else
			break;
	}
	if (i >= argc) {
		usage_main(stderr);
		return X_USAGE;
	}
	const char *cmd = argv[i++];
	if (!strcmp(cmd, "keygen"))
		return cmd_keygen(argc - i, argv + i);
	if (strcmp(cmd, "exec") && strcmp(cmd, "status") && strcmp(cmd, "cluster") && strcmp(cmd, "in-doubt") &&
	    strcmp(cmd, "resolve") && strcmp(cmd, "top")) {
		fprintf(stderr, "paxcommit: unknown command '%s' (see --help)\n", cmd);
		return X_USAGE;
	}
	if (!config) {
		fprintf(stderr, "paxcommit: --config FILE is required (before the command)\n");
		return X_USAGE;
	}
	struct px_config cfg;
	char err[1200];
	if (px_config_load(config, &cfg, err, sizeof(err))) {
		fprintf(stderr, "paxcommit: %s\n", err);
		return X_USAGE;
	}
	int rc;
	if (!strcmp(cmd, "top")) {
		/* only the daemons' /metrics: no connection to the cluster */
		rc = cli_top(&cfg, argc - i, argv + i);
		px_config_free(&cfg);
		return rc;
	}
	{
		struct pc_conn *pc;
		if (pc_connect(config, &pc, err, sizeof(err))) {
			fprintf(stderr, "paxcommit: %s\n", err);
			px_config_free(&cfg);
			return X_USAGE;
		}
		if (!strcmp(cmd, "exec"))
			rc = cmd_exec(pc, argc - i, argv + i);
		else if (!strcmp(cmd, "status"))
			rc = cmd_status(pc, argc - i, argv + i);
		else if (!strcmp(cmd, "in-doubt"))
			rc = cmd_in_doubt(pc, &cfg, argc - i, argv + i);
		else if (!strcmp(cmd, "resolve"))
			rc = cmd_resolve(pc, &cfg, argc - i, argv + i);
		else
			rc = cmd_cluster(pc, &cfg, argc - i, argv + i);
		pc_conn_close(&pc);
	}
	px_config_free(&cfg);
	return rc;
}
