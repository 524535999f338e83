/*
 * cluster.h - a local paxcommit cluster of real processes for end-to-end
 * tests: coordinator replicas (build/bin/paxcommit-coordinator) and scripted
 * test participants (build/tests/test_agent), on free loopback ports, in a
 * fresh temporary directory.  Processes are started with fork/exec and
 * stopped by pid; nothing else on the machine is touched.
 *
 * Environment: PAXCOMMIT_BIN (default build/bin), PAXCOMMIT_TEST_BIN
 * (default build/tests); PAXCOMMIT_KEEP=1 keeps the directory (logs).
 */
#ifndef E2E_CLUSTER_H
#define E2E_CLUSTER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "paxcommit.h"

#define CL_MAX_COORD 5
#define CL_MAX_PART 4

struct cluster {
	char dir[256];
	char conf[320];
	int ncoord, npart;
	pid_t coord[CL_MAX_COORD];
	pid_t part[CL_MAX_PART];
	char bin[256], tbin[256];
	const char *coord_arg[4]; /* extra coordinator arguments (NULL-terminated) */
	char mounted[300];        /* a tmpfs the test mounted (unmounted by destroy) */
	const char *part_arg;     /* one extra test_agent argument, or NULL */
	int metrics_port[CL_MAX_COORD]; /* each replica's /metrics on 127.0.0.1 */
};

/* GET http://127.0.0.1:port/path: the status code (and the body, NUL-
 * terminated, in out), or -1 if nothing answered within timeout_ms. */
int cluster_http_get(int port, const char *path, char *out, size_t cap, uint32_t timeout_ms);
/* The value of the sample `series` (name, or name{labels} exactly as
 * exposed) in a /metrics text, or -1 if absent. */
double cluster_metric(const char *text, const char *series);

/* Make the directory and config: ncoord replicas, npart participants named
 * p1..pN with ids 1..N; `timing` is extra [cluster] lines (may be NULL).
 * Returns 0 or -1 (message on stderr). */
int cluster_init(struct cluster *c, int ncoord, int npart, const char *timing);
int cluster_start_coord(struct cluster *c, int i);
int cluster_start_part(struct cluster *c, int i); /* i = 1..npart */
/* SIGKILL a process and reap it. */
void cluster_kill_coord(struct cluster *c, int i);
/* SIGTERM, wait (deadline); returns the exit status, or -1. */
int cluster_stop_coord(struct cluster *c, int i);
/* Kill everything still running, remove the directory. */
void cluster_destroy(struct cluster *c);

/* The leader a majority of the live replicas agree on, waiting up to
 * timeout_ms; -1 if none. */
int cluster_wait_leader(struct cluster *c, struct pc_conn *pc, uint32_t timeout_ms);
/* Wait up to timeout_ms for coordinator i to exit by itself; returns its
 * exit code (128+signal if killed), or -1 if it is still running. */
int cluster_coord_exit(struct cluster *c, int i, uint32_t timeout_ms);
/* Mount a tmpfs of `kb` KiB on coordinator i's data_dir; -1 if this
 * machine does not allow it. */
int cluster_mount_small(struct cluster *c, int i, unsigned kb);
int cluster_grow_mount(struct cluster *c, unsigned kb);
/* 1 if the process is still running (not exited). */
int cluster_alive(struct cluster *c, pid_t pid);
/* Path of a process's log file: "coordinator.N" / "participant.pN". */
void cluster_log_path(const struct cluster *c, const char *name, char *out, size_t cap);

/* Sends EXEC to test participants (one per thread). */
struct execer;
struct execer *execer_new(struct cluster *c);
void execer_free(struct execer **e);
/* Run statement `sql` ("ok", "abort" or "fail") as statement stmt of gid
 * on participant rm; returns the EXEC_RESULT status (PX_EXEC_*) or -1 on
 * timeout. */
int execer_run(struct execer *e, const char *gid, uint16_t rm, uint32_t stmt, const char *sql, uint32_t timeout_ms);
/* Send raw bytes to a coordinator's endpoint from a fresh client socket
 * (malformed-frame tests); nparts > 1 sends a multipart message. */
int execer_raw(struct execer *e, int coord, const void *const *parts, const size_t *lens, int nparts);

/* What participant i applied for gid according to its journal: 'c'
 * commit, 'a' abort, 0 nothing (yet). */
int cluster_applied(struct cluster *c, int part, const char *gid);

/* The last value of "key=N" in a log file (the daemons' stats lines), or
 * -1 if there is none. */
long cluster_log_stat(const char *path, const char *key);

/* Monotonic milliseconds. */
uint64_t cl_now_ms(void);
/* Sleep ms: the interval of a poll loop that has its own deadline. */
void cl_pause_ms(unsigned ms);

#endif
