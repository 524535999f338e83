/*
 * cluster.c - see cluster.h.
 */
#include "cluster.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "px_config.h"
#include "px_keys.h"
#include "px_msg.h"
#include "px_net.h"

uint64_t cl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void cl_pause_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Make DIR/keys/NAME.key and .pub; write "public_key = ..." and
 * "key_file = ..." for the config into line (cap bytes).  0 or -1. */
static int make_key(const struct cluster *c, const char *name, char *line, size_t cap)
{
	char prefix[600], pub[700], err[1500];
	uint8_t k[PX_KEY_LEN];
	char z[PX_KEY_Z85_LEN + 1];
	snprintf(prefix, sizeof(prefix), "%s/keys/%s", c->dir, name);
	snprintf(pub, sizeof(pub), "%s.pub", prefix);
	if (px_key_generate(prefix, name, err, sizeof(err)) || px_key_read_public(pub, k, err, sizeof(err))) {
		fprintf(stderr, "cluster: %s\n", err);
		return -1;
	}
	px_z85_encode_key(k, z);
	snprintf(line, cap, "public_key = %s\nkey_file = %s.key\n", z, prefix);
	return 0;
}

int cluster_init(struct cluster *c, int ncoord, int npart, const char *timing)
{
	memset(c, 0, sizeof(*c));
	c->ncoord = ncoord;
	c->npart = npart;
	const char *b = getenv("PAXCOMMIT_BIN"), *t = getenv("PAXCOMMIT_TEST_BIN");
	snprintf(c->bin, sizeof(c->bin), "%s", b ? b : "build/bin");
	snprintf(c->tbin, sizeof(c->tbin), "%s", t ? t : "build/tests");
	snprintf(c->dir, sizeof(c->dir), "/tmp/paxcommit-e2e-XXXXXX");
	if (!mkdtemp(c->dir)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(c->conf, sizeof(c->conf), "%s/cluster.conf", c->dir);
	FILE *f = fopen(c->conf, "w");
	if (!f)
		return -1;
	/* CURVE on, as in production: every process has its key pair, the
	 * tests' clients one key on the allow-list (docs/operations.md, "Security"). */
	char keys[600], line[1400];
	snprintf(keys, sizeof(keys), "%s/keys", c->dir);
	if (mkdir(keys, 0700) || (strcat(keys, "/clients"), mkdir(keys, 0755)) || make_key(c, "client", line, sizeof(line))) {
		fclose(f);
		return -1;
	}
	char from[700], to[700], cmd[1500];
	snprintf(from, sizeof(from), "%s/keys/client.pub", c->dir);
	snprintf(to, sizeof(to), "%s/keys/clients/client.pub", c->dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	if (system(cmd) != 0) {
		fclose(f);
		return -1;
	}
	fprintf(f, "[cluster]\nname = e2e\nclient_keys = %s/keys/clients\nclient_key_file = %s/keys/client.key\n%s\n", c->dir,
		c->dir, timing ? timing : "");
	for (int i = 0; i < ncoord; i++) {
		int port = px_net_free_port();
		char nm[32];
		snprintf(nm, sizeof(nm), "coordinator.%d", i);
		if (make_key(c, nm, line, sizeof(line))) {
			fclose(f);
			return -1;
		}
		c->metrics_port[i] = px_net_free_port();
		fprintf(f, "[coordinator.%d]\nendpoint = tcp://127.0.0.1:%d\ndata_dir = %s/c%d\nmetrics = 127.0.0.1:%d\n%s", i,
			port, c->dir, i, c->metrics_port[i], line);
	}
	for (int i = 1; i <= npart; i++) {
		int port = px_net_free_port();
		char nm[32];
		snprintf(nm, sizeof(nm), "participant.p%d", i);
		if (make_key(c, nm, line, sizeof(line))) {
			fclose(f);
			return -1;
		}
		fprintf(f, "[participant.p%d]\nid = %d\nendpoint = tcp://127.0.0.1:%d\nconninfo = unused\n%s", i, i, port, line);
	}
	fclose(f);
	return 0;
}

void cluster_log_path(const struct cluster *c, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s.log", c->dir, name);
}

static pid_t spawn(const char *logpath, char *const argv[])
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		/* Do not hand the test's own sockets (ZeroMQ's included) to the
		 * child. */
		for (int k = 3; k < 1024; k++)
			close(k);
		/* PAXCOMMIT_WRAP="valgrind --log-file=/tmp/vg.%p ...": every
		 * paxcommit daemon (not the scripted participants) runs under
		 * that command (words split at spaces). */
		const char *wrap = getenv("PAXCOMMIT_WRAP"), *base = strrchr(argv[0], '/');
		if (wrap && *wrap && strncmp(base ? base + 1 : argv[0], "paxcommit-", 10) == 0) {
			char *w = strdup(wrap), *wv[64];
			int n = 0;
			for (char *t = strtok(w, " "); t && n < 32; t = strtok(NULL, " "))
				wv[n++] = t;
			for (int k = 0; argv[k] && n < 63; k++)
				wv[n++] = argv[k];
			wv[n] = NULL;
			execvp(wv[0], wv);
		}
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

int cluster_start_coord(struct cluster *c, int i)
{
	char exe[300], id[8], log[400];
	snprintf(exe, sizeof(exe), "%s/paxcommit-coordinator", c->bin);
	snprintf(id, sizeof(id), "%d", i);
	char name[32];
	snprintf(name, sizeof(name), "coordinator.%d", i);
	cluster_log_path(c, name, log, sizeof(log));
	char *argv[10] = {exe, "--config", c->conf, "--id", id, NULL};
	int k = 0;
	for (; k < 4 && c->coord_arg[k]; k++)
		argv[5 + k] = (char *)c->coord_arg[k];
	if (getenv("PAXCOMMIT_DEBUG")) { /* one log line per message */
		argv[5 + k] = "--log-level";
		argv[6 + k] = "debug";
	}
	c->coord[i] = spawn(log, argv);
	return c->coord[i] > 0 ? 0 : -1;
}

int cluster_start_part(struct cluster *c, int i)
{
	char exe[300], name[16], log[400], journal[400];
	snprintf(exe, sizeof(exe), "%s/test_agent", c->tbin);
	snprintf(name, sizeof(name), "p%d", i);
	char lname[32];
	snprintf(lname, sizeof(lname), "participant.p%d", i);
	cluster_log_path(c, lname, log, sizeof(log));
	snprintf(journal, sizeof(journal), "%s/p%d.journal", c->dir, i);
	char *argv[] = {exe, "--config", c->conf, "--name", name, "--journal", journal, (char *)c->part_arg, NULL};
	c->part[i - 1] = spawn(log, argv);
	return c->part[i - 1] > 0 ? 0 : -1;
}

/* Wait for pid to exit (deadline); returns its wait status or -1. */
static int reap(pid_t pid, uint32_t timeout_ms)
{
	uint64_t end = cl_now_ms() + timeout_ms;
	for (;;) {
		int st;
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r < 0 || cl_now_ms() >= end)
			return -1;
		cl_pause_ms(2);
	}
}

int cluster_alive(struct cluster *c, pid_t pid)
{
	(void)c;
	if (pid <= 0)
		return 0;
	int st;
	return waitpid(pid, &st, WNOHANG) == 0;
}

static void kill_pid(pid_t *p)
{
	if (*p > 0) {
		kill(*p, SIGKILL);
		reap(*p, 10000);
	}
	*p = 0;
}

void cluster_kill_coord(struct cluster *c, int i)
{
	kill_pid(&c->coord[i]);
}

int cluster_stop_coord(struct cluster *c, int i)
{
	pid_t p = c->coord[i];
	if (p <= 0)
		return -1;
	kill(p, SIGTERM);
	int st = reap(p, 10000);
	if (st < 0) {
		kill_pid(&c->coord[i]);
		return -1;
	}
	c->coord[i] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int cluster_coord_exit(struct cluster *c, int i, uint32_t timeout_ms)
{
	if (c->coord[i] <= 0)
		return -1;
	int st = reap(c->coord[i], timeout_ms);
	if (st < 0)
		return -1;
	c->coord[i] = 0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int cluster_mount_small(struct cluster *c, int i, unsigned kb)
{
	char cmd[700];
	snprintf(c->mounted, sizeof(c->mounted), "%s/c%d", c->dir, i);
	if (mkdir(c->mounted, 0755) && errno != EEXIST)
		return -1;
	snprintf(cmd, sizeof(cmd), "mount -t tmpfs -o size=%uk paxcommit-e2e '%s' 2>/dev/null", kb, c->mounted);
	if (system(cmd) != 0) {
		c->mounted[0] = 0;
		return -1;
	}
	return 0;
}

int cluster_grow_mount(struct cluster *c, unsigned kb)
{
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "mount -o remount,size=%uk '%s'", kb, c->mounted);
	return system(cmd) == 0 ? 0 : -1;
}

void cluster_destroy(struct cluster *c)
{
	for (int i = 0; i < c->ncoord; i++)
		kill_pid(&c->coord[i]);
	for (int i = 0; i < c->npart; i++)
		if (c->part[i] > 0) {
			kill(c->part[i], SIGTERM);
			if (reap(c->part[i], 5000) < 0)
				kill_pid(&c->part[i]);
			c->part[i] = 0;
		}
	if (c->mounted[0]) {
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "umount '%s'", c->mounted);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot unmount %s\n", c->mounted);
		c->mounted[0] = 0;
	}
	if (c->dir[0] && !getenv("PAXCOMMIT_KEEP")) {
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", c->dir);
	} else if (c->dir[0]) {
		fprintf(stderr, "kept %s\n", c->dir);
	}
}

int cluster_wait_leader(struct cluster *c, struct pc_conn *pc, uint32_t timeout_ms)
{
	uint64_t end = cl_now_ms() + timeout_ms;
	while (cl_now_ms() < end) {
		int votes[CL_MAX_COORD] = {0}, live = 0;
		for (int i = 0; i < c->ncoord; i++) {
			if (c->coord[i] <= 0)
				continue;
			live++;
			int l = pc_leader_seen_by(pc, i, 200);
			if (l >= 0 && l < c->ncoord)
				votes[l]++;
		}
		for (int l = 0; l < c->ncoord; l++)
			if (votes[l] * 2 > live && c->coord[l] > 0 && votes[l] * 2 > c->ncoord)
				return l;
		cl_pause_ms(10);
	}
	return -1;
}

struct execer {
	void *zctx;
	struct px_net *net;
	struct px_net *raw[CL_MAX_COORD];
	struct px_keyring keys;
	struct cluster *c;
	uint64_t req;
};

struct execer *execer_new(struct cluster *c)
{
	struct execer *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->c = c;
	e->zctx = zmq_ctx_new();
	struct px_config cfg;
	char err[600];
	struct px_net_config nc = {.self = px_addr_of(PX_NODE_CLIENT, 0), .keys = &e->keys};
	if (!e->zctx || px_config_load(c->conf, &cfg, err, sizeof(err)) ||
	    px_keyring_load(&e->keys, &cfg, nc.self, NULL, err, sizeof(err)) || px_net_new(e->zctx, &nc, &e->net, err, sizeof(err))) {
		fprintf(stderr, "execer: %s\n", err);
		exit(1);
	}
	for (uint16_t i = 0; i < cfg.npart; i++)
		px_net_add_peer(e->net, px_addr_of(PX_NODE_AGENT, cfg.part[i].id), cfg.part[i].endpoint, err, sizeof(err));
	px_config_free(&cfg);
	return e;
}

void execer_free(struct execer **ep)
{
	struct execer *e = *ep;
	if (!e)
		return;
	px_net_destroy(&e->net);
	zmq_ctx_term(e->zctx);
	px_keyring_free(&e->keys);
	free(e);
	*ep = NULL;
}

int execer_run(struct execer *e, const char *gid, uint16_t rm, uint32_t stmt, const char *sql, uint32_t timeout_ms)
{
	struct px_msg m = {.type = PX_MSG_EXEC};
	m.u.exec.req = ++e->req;
	m.u.exec.gid = px_str_of(gid, (uint32_t)strlen(gid));
	m.u.exec.stmt = stmt;
	m.u.exec.sql = px_str_of(sql, (uint32_t)strlen(sql));
	uint8_t buf[1024];
	size_t len;
	if (px_encode(&m, buf, sizeof(buf), &len))
		return -1;
	uint64_t end = cl_now_ms() + timeout_ms, resend = 0;
	zmq_pollitem_t items[CL_MAX_PART];
	for (;;) {
		uint64_t now = cl_now_ms();
		if (now >= end)
			return -1;
		if (now >= resend) {
			/* The connection may still be coming up (ZMQ_IMMEDIATE drops
			 * sends until it is): resend; statements are numbered, so
			 * the agent runs it once. */
			px_net_send(e->net, px_addr_of(PX_NODE_AGENT, rm), buf, len);
			resend = now + 100;
		}
		size_t n = px_net_pollitems(e->net, items, CL_MAX_PART); /* the agents sent to */
		zmq_poll(items, (int)n, 20);
		struct px_addr from;
		const uint8_t *data;
		size_t dl;
		while (px_net_recv(e->net, &from, &data, &dl) == 1) {
			size_t off = 0;
			const uint8_t *fr;
			size_t fl;
			while (px_net_split(data, dl, &off, &fr, &fl) == 1) {
				struct px_msg r;
				if (px_decode(fr, fl, &r) || r.type != PX_MSG_EXEC_RESULT ||
				    r.u.exec_result.req != m.u.exec.req)
					continue;
				return r.u.exec_result.status;
			}
		}
	}
}

int execer_raw(struct execer *e, int coord, const void *const *parts, const size_t *lens, int nparts)
{
	struct px_config cfg;
	char err[600];
	if (px_config_load(e->c->conf, &cfg, err, sizeof(err)))
		return -1;
	void *s = zmq_socket(e->zctx, ZMQ_DEALER);
	int zero = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero));
	int rc = px_net_curve_client(s, &e->keys, cfg.coord[coord].public_key);
	if (!rc)
		rc = zmq_connect(s, cfg.coord[coord].endpoint);
	px_config_free(&cfg);
	if (rc) {
		zmq_close(s);
		return -1;
	}
	for (int i = 0; i < nparts && rc >= 0; i++)
		rc = zmq_send(s, parts[i], lens[i], i + 1 < nparts ? ZMQ_SNDMORE : 0);
	/* Let the queue drain before closing (linger 0 would drop it): a
	 * bounded wait on the socket's own event. */
	int ms = 2000;
	zmq_setsockopt(s, ZMQ_LINGER, &ms, sizeof(ms));
	zmq_close(s);
	return rc < 0 ? -1 : 0;
}

int cluster_applied(struct cluster *c, int part, const char *gid)
{
	char path[400];
	snprintf(path, sizeof(path), "%s/p%d.journal", c->dir, part);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[300];
	int what = 0;
	size_t gl = strlen(gid);
	while (fgets(line, sizeof(line), f)) {
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		char *g = sp + 1;
		size_t l = strcspn(g, "\n");
		if (l == gl && !memcmp(g, gid, gl))
			what = line[0] == 'c' ? 'c' : 'a';
	}
	fclose(f);
	return what;
}

long cluster_log_stat(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[4096];
	long v = -1;
	size_t kl = strlen(key);
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, key);
		if (p && p[kl] == '=')
			v = strtol(p + kl + 1, NULL, 10);
	}
	fclose(f);
	return v;
}

int cluster_http_get(int port, const char *path, char *out, size_t cap, uint32_t timeout_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	char req[300];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	size_t len = 0;
	ssize_t r;
	while (len + 1 < cap && (r = read(fd, out + len, cap - 1 - len)) > 0)
		len += (size_t)r;
	close(fd);
	out[len] = '\0';
	int code;
	if (sscanf(out, "HTTP/1.%*d %d", &code) != 1)
		return -1;
	char *body = strstr(out, "\r\n\r\n");
	if (body)
		memmove(out, body + 4, strlen(body + 4) + 1);
	return code;
}

double cluster_metric(const char *text, const char *series)
{
	size_t sl = strlen(series);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, sl) == 0 && p[sl] == ' ')
			return strtod(p + sl + 1, NULL);
	return -1;
}
