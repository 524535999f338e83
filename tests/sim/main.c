/*
 * paxcommit-sim - run the deterministic simulator over many seeds, or
 * replay one seed with a readable trace.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: paxcommit-sim [options]\n"
		"  --seed S           run exactly one seed (replay)\n"
		"  --first S          first seed of a batch (default 1)\n"
		"  --seeds N          seeds per replica count (default 100)\n"
		"  --replicas LIST    replica counts, e.g. 3 or 1,3,5 (default 1,3,5)\n"
		"  --participants M   participants (default: 2..4 by seed)\n"
		"  --clients C        clients (default 3)\n"
		"  --txns T           transactions per client (default 8)\n"
		"  --no-faults        a calm network, no crashes\n"
		"  --no-replica-crash never crash a coordinator replica\n"
		"  --stress           recovery storms: tiny timeouts, flapping leaders\n"
		"                     (default: every 4th seed)\n"
		"  --gray             gray mode: long one-way and partial faults aimed at the\n"
		"                     leader, one at a time and nothing else; a seed fails\n"
		"                     if commits stall longer than 2 lease + resend (+ slack)\n"
		"  --trace            print every event of the run (use with --seed)\n"
		"  --expect-violation exit 0 only if some seed violates an invariant\n"
		"                     (used to prove that the checker catches planted bugs)\n"
		"exit status: 0 all seeds clean, 1 a violation (or none with\n"
		"--expect-violation), 2 usage error\n");
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*v = x;
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t first = 1, nseeds = 100, one = 0, participants = 0, clients = 3, txns = 8;
	int have_one = 0, faults = 1, crash_rep = 1, trace = 0, expect = 0, stress = -1, gray = 0;
	int reps[3] = {1, 3, 5}, nreps = 3;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t x;
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--trace")) {
			trace = 1;
		} else if (!strcmp(a, "--no-faults")) {
			faults = 0;
		} else if (!strcmp(a, "--gray")) {
			gray = 1;
		} else if (!strcmp(a, "--stress")) {
			stress = 1;
		} else if (!strcmp(a, "--no-replica-crash")) {
			crash_rep = 0;
		} else if (!strcmp(a, "--expect-violation")) {
			expect = 1;
		} else if (v && !strcmp(a, "--replicas")) {
			nreps = 0;
			char buf[64];
			snprintf(buf, sizeof(buf), "%s", v);
			for (char *tok = strtok(buf, ","); tok && nreps < 3; tok = strtok(NULL, ",")) {
				if (parse_u64(tok, &x) || (x != 1 && x != 3 && x != 5)) {
					fprintf(stderr, "paxcommit-sim: --replicas takes 1, 3 or 5 (got '%s')\n", tok);
					return 2;
				}
				reps[nreps++] = (int)x;
			}
			i++;
		} else if (v && (!strcmp(a, "--seed") || !strcmp(a, "--first") || !strcmp(a, "--seeds") ||
				 !strcmp(a, "--participants") || !strcmp(a, "--clients") || !strcmp(a, "--txns"))) {
			if (parse_u64(v, &x)) {
				fprintf(stderr, "paxcommit-sim: %s needs a number (got '%s')\n", a, v);
				return 2;
			}
			if (!strcmp(a, "--seed"))
				one = x, have_one = 1;
			else if (!strcmp(a, "--first"))
				first = x;
			else if (!strcmp(a, "--seeds"))
				nseeds = x;
			else if (!strcmp(a, "--participants"))
				participants = x;
			else if (!strcmp(a, "--clients"))
				clients = x;
			else
				txns = x;
			i++;
		} else {
			fprintf(stderr, "paxcommit-sim: unknown argument '%s'\n", a);
			usage(stderr);
			return 2;
		}
	}
	if (participants > 8 || clients < 1 || clients > 8 || (participants && participants < 1)) {
		fprintf(stderr, "paxcommit-sim: participants 1..8, clients 1..8\n");
		return 2;
	}
	if (have_one) {
		first = one;
		nseeds = 1;
	}
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct sim_result tot;
	memset(&tot, 0, sizeof(tot));
	uint64_t seeds = 0, bad = 0, max_settle = 0;
	for (int r = 0; r < nreps; r++) {
		for (uint64_t s = first; s < first + nseeds; s++) {
			struct sim_opts o = {
				.seed = s,
				.replicas = reps[r],
				.participants = participants ? (int)participants : 2 + (int)(s % 3),
				.clients = (int)clients,
				.txns = (int)txns,
				.faults = faults,
				.crash_replicas = crash_rep,
				.stress = gray ? 0 : stress >= 0 ? stress : s % 4 == 3,
				.gray = gray,
				.trace = trace,
				.out = stdout,
			};
			struct sim_result res;
			int rc = sim_run(&o, &res);
			seeds++;
			tot.steps += res.steps;
			tot.txns += res.txns;
			tot.committed += res.committed;
			tot.aborted += res.aborted;
			tot.unknown += res.unknown;
			tot.msgs += res.msgs;
			tot.dropped += res.dropped;
			tot.duplicated += res.duplicated;
			tot.delayed += res.delayed;
			tot.partitions += res.partitions;
			tot.crashes += res.crashes;
			tot.recoveries += res.recoveries;
			tot.leader_changes += res.leader_changes;
			tot.forgotten += res.forgotten;
			tot.presumed_aborts += res.presumed_aborts;
			tot.checkpoints += res.checkpoints;
			tot.disk_faults += res.disk_faults;
			tot.torn_writes += res.torn_writes;
			tot.reorders += res.reorders;
			tot.torn_tails += res.torn_tails;
			tot.crc_cuts += res.crc_cuts;
			tot.reorder_cuts += res.reorder_cuts;
			tot.violations += res.violations;
			for (int k = 0; k < COV_N; k++)
				tot.cov[k] += res.cov[k];
			tot.gray_faults += res.gray_faults;
			for (int k = 0; k < SIM_GRAY_KINDS; k++) {
				tot.gray_by_kind[k] += res.gray_by_kind[k];
				if (res.gray_stall_by_kind[k] > tot.gray_stall_by_kind[k])
					tot.gray_stall_by_kind[k] = res.gray_stall_by_kind[k];
			}
			if (res.gray_worst_permille > tot.gray_worst_permille)
				tot.gray_worst_permille = res.gray_worst_permille;
			if (res.settle_time > max_settle && faults)
				max_settle = res.settle_time;
			if (rc) {
				bad++;
				if (!expect || bad <= 3)
					printf("FAIL seed=%" PRIu64 " replicas=%d: %s\n"
					       "     replay: paxcommit-sim --seed %" PRIu64 " --replicas %d%s%s --trace\n",
					       s, reps[r], res.first_violation, s, reps[r],
					       faults ? (crash_rep ? "" : " --no-replica-crash") : " --no-faults",
					       gray ? " --gray" : stress > 0 ? " --stress" : "");
				if (expect)
					goto done; /* one is proof enough */
			}
		}
	}
done:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("sim: seeds=%" PRIu64 " replicas=", seeds);
	for (int r = 0; r < nreps; r++)
		printf("%s%d", r ? "," : "", reps[r]);
	printf(" steps=%" PRIu64 " (%.0f/seed) txns=%" PRIu64 " committed=%" PRIu64 " aborted=%" PRIu64
	       " unknown=%" PRIu64 " msgs=%" PRIu64 " faults: dropped=%" PRIu64 " duplicated=%" PRIu64
	       " delayed=%" PRIu64 " partitions=%" PRIu64 " crashes=%" PRIu64 " | recoveries=%" PRIu64
	       " leader_changes=%" PRIu64 " forgotten=%" PRIu64 " presumed_aborts=%" PRIu64 " checkpoints=%" PRIu64
	       " fsync_failures=%" PRIu64 " torn_writes=%" PRIu64 " reorders=%" PRIu64 " torn_tails=%" PRIu64
	       " crc_cuts=%" PRIu64 " reorder_cuts=%" PRIu64
	       " max_settle_ms=%" PRIu64 " violations=%d failing_seeds=%" PRIu64 " time=%.1fs seeds/min=%.0f\n",
	       tot.steps, seeds ? (double)tot.steps / (double)seeds : 0.0, tot.txns, tot.committed, tot.aborted,
	       tot.unknown, tot.msgs, tot.dropped, tot.duplicated, tot.delayed, tot.partitions, tot.crashes,
	       tot.recoveries, tot.leader_changes, tot.forgotten, tot.presumed_aborts, tot.checkpoints,
	       tot.disk_faults, tot.torn_writes, tot.reorders, tot.torn_tails, tot.crc_cuts, tot.reorder_cuts, max_settle,
	       tot.violations,
	       bad, secs, secs > 0 ? (double)seeds * 60.0 / secs : 0.0);
	/* How often each rare path ran (tests/sim/run.sh fails on a zero). */
	printf("sim-coverage:");
	for (int k = 0; k < COV_N; k++)
		printf(" %s=%" PRIu64, sim_cov_names[k], tot.cov[k]);
	printf(" torn_tails=%" PRIu64 " crc_cuts=%" PRIu64 "\n", tot.torn_tails, tot.crc_cuts);
	if (gray) {
		/* Per kind: faults run, and the longest stall in ms (each seed
		 * has its own lease; the worst against its own bound follows). */
		printf("sim-gray: faults=%" PRIu64 " worst_stall_vs_bound=%.2f", tot.gray_faults,
		       tot.gray_worst_permille / 1000.0);
		for (int k = 0; k < SIM_GRAY_KINDS; k++)
			printf(" %s=%" PRIu64 "/%" PRIu64 "ms", sim_gray_names[k], tot.gray_by_kind[k],
			       tot.gray_stall_by_kind[k]);
		printf("\n");
	}
	if (expect)
		return bad ? 0 : 1;
	return bad ? 1 : 0;
}
