/*
 * sim.h - deterministic simulator of a paxcommit cluster.
 *
 * One seed drives everything: N coordinator replicas (the real core and
 * the real commit log, on a simulated disk that loses, tears and reorders
 * unsynced writes on a crash), M participants (the
 * real agent core over a simulated PostgreSQL whose prepared transactions
 * survive crashes), and C clients, on one virtual clock in milliseconds.
 * Every message is encoded and decoded with the real codec.
 */
#ifndef SIM_H
#define SIM_H

#include <stdint.h>
#include <stdio.h>

struct sim_opts {
	uint64_t seed;
	int replicas;      /* 1, 3 or 5 */
	int participants;  /* 2..8 */
	int clients;
	int txns;          /* per client */
	int faults;        /* 0: a calm run */
	int crash_replicas; /* 0: never crash a replica (1-replica "no-crash" schedules) */
	int stress;        /* 1: recovery storms (tiny timeouts, flapping leaders) */
	int gray;          /* 1: gray mode: long one-way and partial faults aimed at
			    * the leader, one at a time and nothing else; commits
			    * must not stall longer than 2 lease + resend (+ slack) */
	int trace;         /* print every event */
	FILE *out;         /* trace and failure output */
};

/* Rare paths the simulator counts, so that a run shows each was exercised
 * (make test-sim fails when one ran zero times). */
enum sim_cov {
	COV_AMBIGUOUS,      /* an agent left an ambiguous gid to recovery */
	COV_PRESUMED,       /* presumed aborts applied */
	COV_GIVE_UP,        /* a leader gave a gid up */
	COV_BUMP_RESTART,   /* a restarted replica took a new ballot */
	COV_LOST_SESSION,   /* a session ended between two statements */
	COV_LEFT_BLOCK,     /* a statement left its transaction block */
	COV_ABORT_HIGH,     /* `aborted` accepted at a ballot above 0 */
	COV_BELOW_HORIZON,  /* an acceptor refused a gid below its horizon */
	COV_PREPARE_CRASH,  /* an agent restarted with a PREPARE in flight */
	COV_XA_DIE,         /* an XA-style client died mid-transaction */
	COV_ROUND_CRASH,    /* a replica crashed right after a round bump */
	COV_CLIENT_ASKED,   /* a client's status request made the leader take on a gid unknown to it */
	COV_N
};
extern const char *const sim_cov_names[COV_N];
#define SIM_GRAY_KINDS 16
extern const char *const sim_gray_names[SIM_GRAY_KINDS];

struct sim_result {
	uint64_t steps;
	uint64_t txns, committed, aborted, unknown; /* client answers */
	uint64_t msgs, dropped, duplicated, delayed, partitions, crashes;
	uint64_t recoveries, leader_changes, forgotten, presumed_aborts, checkpoints, disk_faults;
	/* the replicas' disks (sim_disk.h): writes torn and files reordered by
	 * crashes, torn tails cut by recovery, those cut at a record that
	 * failed its CRC, those that cut whole records after the damage */
	uint64_t torn_writes, reorders, torn_tails, crc_cuts, reorder_cuts;
	uint64_t end_time;     /* virtual ms when the run ended */
	uint64_t settle_time;  /* virtual ms from heal to everything decided */
	uint64_t cov[COV_N];
	uint32_t swarm;        /* fault kinds this seed used */
	/* gray mode: faults run, per kind, and the longest stall per kind (ms);
	 * the worst stall as a fraction of its seed's bound (per mille) */
	uint64_t gray_faults, gray_by_kind[SIM_GRAY_KINDS], gray_stall_by_kind[SIM_GRAY_KINDS];
	uint32_t gray_worst_permille;
	int violations;
	char first_violation[512];
};

/* Run one seed.  Returns 0 when no invariant was violated. */
int sim_run(const struct sim_opts *o, struct sim_result *res);

#endif
