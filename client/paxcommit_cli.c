/*
 * paxcommit_cli.c - the command-line tool `paxcommit`.
 *
 *   paxcommit --config FILE exec -p NAME 'SQL' [-p NAME 'SQL' ...]
 *   paxcommit --config FILE status GID
 *   paxcommit --config FILE cluster
 *   paxcommit --config FILE in-doubt
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
#include <unistd.h>
#include <fcntl.h>

#include <libpq-fe.h>

#include "paxcommit.h"
#include "px_config.h"

enum { X_COMMITTED = 0, X_ABORTED = 1, X_USAGE = 2, X_UNKNOWN = 3 };

static void usage_main(FILE *f)
{
	fprintf(f,
		"usage: paxcommit --config FILE COMMAND [ARGS]\n"
		"\n"
		"Commands:\n"
		"  exec -p NAME 'SQL' [-p NAME 'SQL' ...]   run one distributed transaction\n"
		"  status GID                              what the coordinators know of GID\n"
		"  cluster                                 replicas, leader, participants\n"
		"  in-doubt                                prepared paxcommit transactions\n"
		"\n"
		"`paxcommit --config FILE COMMAND --help` describes one command.\n"
		"Exit status: 0 success (exec: committed), 1 failure (exec: aborted),\n"
		"2 bad usage or configuration, 3 unknown (exec: no outcome before the deadline).\n");
}

static void usage_exec(FILE *f)
{
	fprintf(f,
		"usage: paxcommit --config FILE exec [--wait decided|applied] [--timeout MS]\n"
		"                 -p NAME 'SQL' [-p NAME 'SQL' ...]\n"
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
		"--timeout MS: deadline of each step (default 30000).\n");
}

static int cmd_exec(struct pc_conn *pc, int argc, char **argv)
{
	int wait = PC_WAIT_APPLIED;
	uint32_t timeout = 30000;
	const char *names[256], *sqls[256];
	int n = 0;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--help")) {
			usage_exec(stdout);
			return 0;
		} else if (!strcmp(argv[i], "-p") && i + 2 < argc) {
			if (n == 256) {
				fprintf(stderr, "paxcommit exec: at most 256 statements\n");
				return X_USAGE;
			}
			names[n] = argv[i + 1];
			sqls[n] = argv[i + 2];
			n++;
			i += 2;
		} else if (!strcmp(argv[i], "--wait") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "decided"))
				wait = PC_WAIT_DECIDED;
			else if (!strcmp(argv[i], "applied"))
				wait = PC_WAIT_APPLIED;
			else {
				fprintf(stderr, "paxcommit exec: --wait is decided or applied, not '%s'\n", argv[i]);
				return X_USAGE;
			}
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			char *end;
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 1 || v > 86400000) {
				fprintf(stderr, "paxcommit exec: --timeout must be 1..86400000 ms\n");
				return X_USAGE;
			}
			timeout = (uint32_t)v;
		} else {
			fprintf(stderr, "paxcommit exec: unexpected '%s' (see --help)\n", argv[i]);
			return X_USAGE;
		}
	}
	if (n == 0) {
		fprintf(stderr, "paxcommit exec: no statements (-p NAME 'SQL'; see --help)\n");
		return X_USAGE;
	}
	for (int i = 0; i < n; i++)
		if (!pc_participant_id(pc, names[i])) {
			fprintf(stderr, "paxcommit exec: no participant '%s' in the configuration\n", names[i]);
			return X_USAGE;
		}
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

static int cmd_status(struct pc_conn *pc, int argc, char **argv)
{
	if (argc != 1 || !strcmp(argv[0], "--help")) {
		FILE *f = argc == 1 ? stdout : stderr;
		fprintf(f, "usage: paxcommit --config FILE status GID\n\n"
			   "Ask every coordinator replica about GID and print one of\n"
			   "  committed GID | aborted GID | undecided GID | unknown-gid GID | no-answer GID\n"
			   "Exit status: 0 committed, 1 aborted, 3 anything else, 2 bad usage.\n");
		return argc == 1 ? 0 : X_USAGE;
	}
	struct pc_result res;
	if (pc_status(pc, argv[0], 5000, &res)) {
		fprintf(stderr, "paxcommit status: %s\n", pc_conn_errmsg(pc));
		return X_USAGE;
	}
	static const char *names[] = {"?", "committed", "aborted", "undecided", "unknown-gid", "no-answer"};
	printf("%s %s\n", names[res.outcome >= 1 && res.outcome <= 5 ? res.outcome : 0], argv[0]);
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
	if (argc)
		return help_or_usage(argv[0], "usage: paxcommit --config FILE cluster\n\n"
			   "One line per coordinator replica (up or down, and whom it trusts as leader),\n"
			   "a line `leader: coordinator.N` (the leader a majority of replicas trusts, or\n"
			   "`leader: none`), and one line per participant agent (reachable or not).\n"
			   "Exit status: 0 if there is a leader and every participant is reachable, else 1.\n");
	int votes[5] = {0}, leader = -1, ok = 1;
	for (int i = 0; i < cfg->ncoord; i++) {
		int l = pc_leader_seen_by(pc, i, 500);
		if (l >= 0 && l < cfg->ncoord) {
			votes[l]++;
			printf("coordinator.%d %s up, trusts coordinator.%d\n", i, cfg->coord[i].endpoint, l);
		} else {
			printf("coordinator.%d %s %s\n", i, cfg->coord[i].endpoint,
			       reachable(cfg->coord[i].endpoint, 300) ? "up, trusts no leader" : "down");
		}
	}
	for (int l = 0; l < cfg->ncoord; l++)
		if (votes[l] * 2 > cfg->ncoord)
			leader = l;
	if (leader >= 0)
		printf("leader: coordinator.%d\n", leader);
	else {
		printf("leader: none\n");
		ok = 0;
	}
	for (uint16_t i = 0; i < cfg->npart; i++) {
		int r = reachable(cfg->part[i].endpoint, 500);
		printf("participant.%s %s %s\n", cfg->part[i].name, cfg->part[i].endpoint, r ? "reachable" : "unreachable");
		ok &= r;
	}
	return ok ? 0 : 1;
}

static int cmd_in_doubt(const struct px_config *cfg, int argc, char **argv)
{
	if (argc)
		return help_or_usage(argv[0], "usage: paxcommit --config FILE in-doubt\n\n"
			   "Connect to every participant's database (its conninfo) and list the prepared\n"
			   "transactions of this cluster (gid prefix `NAME_`) with their age:\n"
			   "  participant.X GID AGE\n"
			   "and a last line `in-doubt: N`.  Exit status: 0 if every database answered,\n"
			   "1 otherwise.\n");
	int rc = 0;
	long total = 0;
	char prefix[80];
	snprintf(prefix, sizeof(prefix), "%s_", cfg->name);
	for (uint16_t i = 0; i < cfg->npart; i++) {
		const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
		const char *vals[] = {cfg->part[i].conninfo, "5", "paxcommit-cli", NULL};
		PGconn *db = PQconnectdbParams(keys, vals, 1);
		if (PQstatus(db) != CONNECTION_OK) {
			fprintf(stderr, "participant.%s: cannot connect: %s", cfg->part[i].name, PQerrorMessage(db));
			PQfinish(db);
			rc = 1;
			continue;
		}
		const char *pv[1] = {prefix};
		PGresult *r = PQexecParams(db,
					   "SELECT gid, date_trunc('second', now() - prepared)::text FROM pg_prepared_xacts "
					   "WHERE database = current_database() AND starts_with(gid, $1) ORDER BY prepared",
					   1, NULL, pv, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			fprintf(stderr, "participant.%s: %s", cfg->part[i].name, PQerrorMessage(db));
			rc = 1;
		} else {
			for (int k = 0; k < PQntuples(r); k++)
				printf("participant.%s %s %s\n", cfg->part[i].name, PQgetvalue(r, k, 0), PQgetvalue(r, k, 1));
			total += PQntuples(r);
		}
		PQclear(r);
		PQfinish(db);
	}
	printf("in-doubt: %ld\n", total);
	return rc;
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
	if (strcmp(cmd, "exec") && strcmp(cmd, "status") && strcmp(cmd, "cluster") && strcmp(cmd, "in-doubt")) {
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
	if (!strcmp(cmd, "in-doubt")) {
		rc = cmd_in_doubt(&cfg, argc - i, argv + i);
	} else {
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
		else
			rc = cmd_cluster(pc, &cfg, argc - i, argv + i);
		pc_conn_close(&pc);
	}
	px_config_free(&cfg);
	return rc;
}
