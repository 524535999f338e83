/*
 * pgc.h - end-to-end tests over real PostgreSQL: a local cluster made by
 * scripts/devcluster (initdb'd PostgreSQL instances run as the postgres
 * user, coordinator replicas, participant agents) in a fresh temporary
 * directory, and libpq helpers to look at the databases.  Shared by the
 * e2e_pg*.c suites.  Include after <cmocka.h>.
 */
#ifndef E2E_PGC_H
#define E2E_PGC_H

#include <sys/types.h>

#include <libpq-fe.h>

#include "paxcommit.h"

struct pgc {
	char base[256]; /* the test's temporary directory */
	char dir[300];  /* the cluster's directory (devcluster --dir) */
	char conf[320];
	int up;
};

/* Run scripts/devcluster with these arguments and --dir; returns its exit status. */
int dc(struct pgc *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* cmocka setup / teardown: a struct pgc in *state; teardown stops the
 * cluster and removes the directory (unless PAXCOMMIT_KEEP is set). */
int setup(void **state);
int teardown(void **state);
/* Bring up ncoord replicas and npart participants (a, b, c), and wait
 * until every agent takes transactions. */
void up(struct pgc *c, int ncoord, int npart);
struct pc_conn *connect_to(struct pgc *c);
/* pc_exec_commit of one statement on a and one on b (wait=applied), then
 * free the rows and *t; returns the outcome (PC_COMMITTED, ...). */
int exec_commit_ab(struct pc_txn **t, const char *on_a, const char *on_b);
/* The role the agents log in as (scripts/devcluster, sql/participant.sql):
 * no superuser rights. */
#define AGENT_ROLE "paxcommit_agent"
/* A libpq connection of our own to participant `name`'s database, as the
 * superuser postgres (for the tests' setup and inspection). */
PGconn *own_conn(struct pgc *c, const char *name);
/* The same, with the conninfo's own role (the agents'): what an XA-style
 * client uses, since only the role that prepared a transaction (or a
 * superuser) may finish it. */
PGconn *xa_conn(struct pgc *c, const char *name);
/* One statement on `name`'s database; the first value of the first row
 * (static buffer), "" if none; an error fails the test. */
const char *sql(struct pgc *c, const char *name, const char *q);
long sql_long(struct pgc *c, const char *name, const char *q);
/* Prepared transactions of `name`'s database. */
long in_doubt(struct pgc *c, const char *name);
void wait_no_doubt(struct pgc *c, const char *const *names, int n, uint32_t timeout_ms);
void wait_agents(struct pgc *c, const char *const *names, int n);
/* The pid in DIR/<name>.pid, or -1. */
pid_t pid_of(struct pgc *c, const char *name);
/* The /metrics port devcluster gave `name` (coordinator.N, participant.X), or -1. */
int metrics_port_of(struct pgc *c, const char *name);
/* The replica a majority of n trusts as leader (-1 after 10 s). */
int leader_of(struct pc_conn *pc, int n);

#endif
