# paxcommit - see README.md.  `make test` and `make demo` install missing
# Debian packages first (scripts/deps.sh), so a fresh Debian 12 machine
# needs nothing else.

CC      ?= cc
BUILD   ?= build
EXTRA_CFLAGS ?=
EXTRA_LDFLAGS ?=
CFLAGS  := -std=c11 -Wall -Wextra -Werror -O2 -g -D_POSIX_C_SOURCE=200809L $(EXTRA_CFLAGS)
LDFLAGS := $(EXTRA_LDFLAGS)
INC     := -Icommon -Icoordinator -Iparticipant -Icommitlog -Iclient

# The pure protocol core: no zmq, no libpq, no <unistd.h>, no clock.
CORE_SRCS := common/px_msg.c common/px_gid.c common/px_auth.c common/px_clock.c common/px_map.c common/px_update.c \
	coordinator/px_rec.c coordinator/px_replica.c coordinator/px_acceptor.c \
	coordinator/px_learner.c participant/pa_core.c participant/pa_sql.c
# Headers of the core: everything in these folders but the transport and the
# config reader, which are edges (they include zmq.h / read files).
EDGE_HDRS := common/px_net.h common/px_config.h common/px_log.h common/px_keys.h common/px_metrics.h common/px_notify.h
CORE_HDRS := $(filter-out $(EDGE_HDRS),$(wildcard common/*.h coordinator/*.h participant/*.h))
ALL_HDRS  := $(wildcard common/*.h coordinator/*.h participant/*.h commitlog/*.h client/*.h)
# The commit log library (I/O through a method table; posix, memory, crash
# and fault backends).
CL_SRCS   := $(wildcard commitlog/*.c)
# The cluster configuration reader: reads a file through libinih, so it is
# not part of the pure core.
CONF_SRCS := common/px_config.c
# The ZeroMQ transport every process uses.
NET_SRCS  := common/px_net.c common/px_keys.c
# The daemons' log lines, their Prometheus endpoint (libmicrohttpd) and
# the systemd service protocol (libsystemd).
LOG_SRCS  := common/px_log.c common/px_metrics.c common/px_notify.c
# The client library (libpaxcommit).
CLIENT_SRCS := client/pc_coord.c client/pc_txn.c
CL_HDRS   := $(wildcard commitlog/*.h)
SIM_SRCS  := $(wildcard tests/sim/*.c)
SIM_HDRS  := $(wildcard tests/sim/*.h)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

CORE_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRCS))
CL_OBJS   := $(patsubst %.c,$(BUILD)/obj/%.o,$(CL_SRCS))
CONF_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(CONF_SRCS))
NET_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(NET_SRCS))
LOG_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(LOG_SRCS))
CLIENT_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(CLIENT_SRCS))
# Reached only through pattern rules: keep make from deleting them.
.SECONDARY: $(LOG_OBJS) $(CONF_OBJS) $(CL_OBJS) $(NET_OBJS) $(CLIENT_OBJS) $(LIBPC_PIC)
# The same core with a planted bug, to prove the simulator's checker bites.
# Bugs (PX_PLANT_BUG): 1 quorum of one, 2 2b counted across ballots,
# 3 2b sent before its record is durable, 4 recovery ignores accepted values,
# 5 the checkpoint snapshot forgets promises, 6 an XA-style gid its client
# left is never recovered, 7 a replica takes on gids born in the future,
# 8 `aborted` 2b counted across ballots, 9 a 1a leaves before its round
# record is durable (a restart reuses the ballot), 10 an agent votes
# `aborted` at ballot 0 for an ambiguous gid, 12 an agent ignores a lost
# session (its next statement would BEGIN anew), 13 a learner makes its
# acceptor hold a gid it refuses below the horizon, 14 no check quorum,
# 15 a follower does not pass a client's request on to its leader, 16 an
# agent's first votes go to a majority only even after one was late (a
# follower cut off slows most commits to resend_ms), 17 a leader sends
# PREPAREs and decisions to a participant that was late only directly (a
# participant the leader cannot reach slows commits), 18 a follower passes an
# XA-style client's request on without its votes (a client that reaches one
# follower only stalls to txn_timeout_ms), 19 a commit request puts off the
# recovery of a gid whose recovery began (its timeout restarts, its next
# step waits while the client keeps asking), 20 a leader ignores a vote that
# only a follower's 2b reports (an agent that reaches one follower only
# stalls to txn_timeout_ms).  11 the commit log's recovery
# accepts a record whose CRC fails (its commit log is built with the flag).
# 18 and 19 are masked since the leader takes votes a follower's 2b reports
# (20): no gray seed found catches them now; their code stays, unlisted.
PLANTED   := 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 20
PLANTED_SIMS := $(foreach b,$(PLANTED),$(BUILD)/tests/paxcommit-sim-bug$(b))
# Bugs planted in the commit log: its objects are built with the flag too.
PLANTED_CL := 11

SIM       := $(BUILD)/bin/paxcommit-sim
COORD     := $(BUILD)/bin/paxcommit-coordinator
AGENT     := $(BUILD)/bin/paxcommit-participant
CLI       := $(BUILD)/bin/paxcommit
DEMO_BANK := $(BUILD)/bin/paxcommit-demo-bank
PG_INC    := -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
# The daemon with planted bugs, for tests/e2e/planted.sh: core bug 1 (quorum
# of one), and daemon bug 1 (amnesia: restart ignores the commit log).
COORD_BUG1 := $(BUILD)/planted-bug1/paxcommit-coordinator
COORD_DBUG1 := $(BUILD)/planted-daemon-bug1/paxcommit-coordinator
# The agent with planted bug 1: a dirty session's reset never rides ahead
# of its next query (tests/e2e/planted.sh, e2e_pg_hostile).
AGENT_ABUG1 := $(BUILD)/planted-agent-bug1/paxcommit-participant
LIBPC     := $(BUILD)/lib/libpaxcommit.a
CHAOS_CLIENT := $(BUILD)/tests/chaos_client
# The chaos suite's EIO nemesis: fsync fails and the unsynced data is lost.
EIO_SHIM  := $(BUILD)/tests/libpx_eio.so
# The daemon with planted bug 2: a failed sync of the commit log is logged
# and ignored, as if the data were durable (tests/chaos/planted.sh).
COORD_DBUG2 := $(BUILD)/planted-daemon-bug2/paxcommit-coordinator
LIBPC_SO  := $(BUILD)/lib/libpaxcommit.so
# The shared library's objects: the same sources, position-independent.
LIBPC_SRCS := $(CLIENT_SRCS) $(NET_SRCS) $(CONF_SRCS) $(CORE_SRCS)
LIBPC_PIC  := $(patsubst %.c,$(BUILD)/obj-pic/%.o,$(LIBPC_SRCS))
TEST_AGENT := $(BUILD)/tests/test_agent
E2E_SRCS  := $(wildcard tests/e2e/e2e_*.c)
E2E_BINS  := $(patsubst tests/e2e/%.c,$(BUILD)/tests/%,$(E2E_SRCS))
E2E_LIB   := tests/e2e/cluster.c tests/e2e/pgc.c
REPLAY_MSG := $(BUILD)/tests/replay_msg
REPLAY_CL  := $(BUILD)/tests/replay_commitlog
REPLAY_SQL := $(BUILD)/tests/replay_sql
REPLAY_CONF := $(BUILD)/tests/replay_config
BENCH_CL   := $(BUILD)/bin/bench_commitlog
BENCH_BANK := $(BUILD)/bin/bench_bank
BENCH_DECIDE := $(BUILD)/bin/bench_decide

# Simulator workload of `make test-sim`: seeds per replica count.
SIM_SEEDS ?= 4000
# ... and the window of new seeds (from the commit hash) each run adds.
SIM_WINDOW ?= 2000
# Gray mode (tests/sim/gray.sh): seeds at 3 and 5 replicas, fixed and window.
SIM_GRAY_SEEDS ?= 300
SIM_GRAY_WINDOW ?= 300

.PHONY: install test-install man all test test-unit test-sim test-model test-e2e test-chaos test-fuzz-replay test-fuzz deps demo asan valgrind fuzz clean check-core-purity \
	check-commitlog-purity bench bench-commitlog soak

all: $(BUILD)/libpxcore.a $(COORD) $(AGENT) $(CLI) $(DEMO_BANK) $(COORD_BUG1) $(COORD_DBUG1) $(AGENT_ABUG1) $(LIBPC) $(LIBPC_SO) $(TEST_AGENT) $(E2E_BINS) $(SIM) $(UNIT_BINS) $(REPLAY_MSG) $(REPLAY_CL) $(REPLAY_SQL) $(REPLAY_CONF) $(BENCH_CL) $(BENCH_BANK) $(BENCH_DECIDE) $(PLANTED_SIMS) $(CHAOS_CLIENT) $(EIO_SHIM) $(COORD_DBUG2)

$(BUILD)/obj/%.o: %.c $(ALL_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) -c $< -o $@

$(BUILD)/libpxcore.a: $(CORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(SIM): $(SIM_SRCS) $(SIM_HDRS) $(CORE_OBJS) $(CL_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) -Itests/sim $(SIM_SRCS) $(CORE_OBJS) $(CL_OBJS) -o $@ $(LDFLAGS)

$(COORD): coordinator/coordinator_main.c $(CORE_OBJS) $(CL_OBJS) $(CONF_OBJS) $(NET_OBJS) $(LOG_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) $^ -o $@ -lzmq -linih -lmicrohttpd -lsystemd -lpthread $(LDFLAGS)

# The client library: the client code plus the shared pieces it uses.
$(AGENT): participant/agent_main.c $(CORE_OBJS) $(CONF_OBJS) $(NET_OBJS) $(LOG_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) $(PG_INC) $^ -o $@ -lpq -lzmq -linih -lmicrohttpd -lsystemd -lpthread $(LDFLAGS)

$(CLI): client/paxcommit_cli.c client/cli_top.c $(LIBPC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) $(PG_INC) $^ -o $@ -lpq -lzmq -linih $(LDFLAGS)

$(DEMO_BANK): client/demo_bank.c $(LIBPC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) $(PG_INC) $^ -o $@ -lpq -lzmq -linih -lpthread $(LDFLAGS)

$(COORD_BUG1): coordinator/coordinator_main.c $(patsubst %.c,$(BUILD)/obj-bug1/%.o,$(CORE_SRCS)) $(CL_OBJS) $(CONF_OBJS) $(NET_OBJS) $(LOG_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) $^ -o $@ -lzmq -linih -lmicrohttpd -lsystemd -lpthread $(LDFLAGS)

$(COORD_DBUG1): coordinator/coordinator_main.c $(CORE_OBJS) $(CL_OBJS) $(CONF_OBJS) $(NET_OBJS) $(LOG_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DPX_PLANT_DAEMON_BUG=1 $(INC) $^ -o $@ -lzmq -linih -lmicrohttpd -lsystemd -lpthread $(LDFLAGS)

$(COORD_DBUG2): coordinator/coordinator_main.c $(CORE_OBJS) $(CL_SRCS) $(CONF_OBJS) $(NET_OBJS) $(LOG_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DPX_PLANT_DAEMON_BUG=2 $(INC) $^ -o $@ -lzmq -linih -lmicrohttpd -lsystemd -lpthread $(LDFLAGS)

$(EIO_SHIM): tests/chaos/eio_shim.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -shared $< -o $@ -ldl -lpthread

$(AGENT_ABUG1): participant/agent_main.c $(CORE_OBJS) $(CONF_OBJS) $(NET_OBJS) $(LOG_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DPX_PLANT_AGENT_BUG=1 $(INC) $(PG_INC) $^ -o $@ -lpq -lzmq -linih -lmicrohttpd -lsystemd -lpthread $(LDFLAGS)

$(LIBPC): $(CLIENT_OBJS) $(NET_OBJS) $(CONF_OBJS) $(CORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/obj-pic/%.o: %.c $(ALL_HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC $(INC) -c $< -o $@

$(LIBPC_SO): $(LIBPC_PIC) client/libpaxcommit.map
	@mkdir -p $(dir $@)
	$(CC) -shared -Wl,-soname,libpaxcommit.so.0 -Wl,--version-script=client/libpaxcommit.map $(LIBPC_PIC) -o $@.0 -lzmq -linih $(LDFLAGS)
	ln -sf libpaxcommit.so.0 $@

$(TEST_AGENT): tests/e2e/test_agent.c $(CORE_OBJS) $(CONF_OBJS) $(NET_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) $^ -o $@ -lzmq -linih $(LDFLAGS)

$(BUILD)/tests/e2e_%: tests/e2e/e2e_%.c $(E2E_LIB) tests/e2e/cluster.h tests/e2e/pgc.h tests/e2e/e2e_run.h $(LIBPC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) $(PG_INC) -Itests/e2e $< $(E2E_LIB) $(LIBPC) -o $@ -lcmocka -lpq -lzmq -linih -lpthread $(LDFLAGS)

# The objects of planted bug N: the core, and the commit log if N is in
# PLANTED_CL, built with -DPX_PLANT_BUG=N.
planted_objs = $(patsubst %.c,$(BUILD)/obj-bug$(1)/%.o,$(CORE_SRCS)) \
	$(if $(filter $(1),$(PLANTED_CL)),$(patsubst %.c,$(BUILD)/obj-bug$(1)/%.o,$(CL_SRCS)),$(CL_OBJS))
define planted_rules
$(BUILD)/obj-bug$(1)/%.o: %.c $(CORE_HDRS) $(CL_HDRS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) -DPX_PLANT_BUG=$(1) $$(INC) -c $$< -o $$@

$(BUILD)/tests/paxcommit-sim-bug$(1): $(SIM_SRCS) $(SIM_HDRS) $(call planted_objs,$(1))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(CFLAGS) $$(INC) -Itests/sim $(SIM_SRCS) $(call planted_objs,$(1)) -o $$@ $$(LDFLAGS)
endef
$(foreach b,$(PLANTED),$(eval $(call planted_rules,$(b))))

$(BUILD)/tests/test_%: tests/unit/test_%.c $(CORE_OBJS) $(CL_OBJS) $(CONF_OBJS) $(NET_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) $< $(CORE_OBJS) $(CL_OBJS) $(CONF_OBJS) $(NET_OBJS) -o $@ -lcmocka -linih -lzmq $(LDFLAGS)

$(REPLAY_MSG): tests/fuzz/replay.c tests/fuzz/fuzz_msg.c $(CORE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) tests/fuzz/replay.c tests/fuzz/fuzz_msg.c $(CORE_OBJS) -o $@ $(LDFLAGS)

$(REPLAY_CL): tests/fuzz/replay.c tests/fuzz/fuzz_commitlog.c $(CL_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) tests/fuzz/replay.c tests/fuzz/fuzz_commitlog.c $(CL_OBJS) -o $@ $(LDFLAGS)

$(REPLAY_SQL): tests/fuzz/replay.c tests/fuzz/fuzz_sql.c participant/pa_sql.c participant/pa_sql.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) tests/fuzz/replay.c tests/fuzz/fuzz_sql.c participant/pa_sql.c -o $@ $(LDFLAGS)

$(REPLAY_CONF): tests/fuzz/replay.c tests/fuzz/fuzz_config.c $(CONF_OBJS) $(CORE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) tests/fuzz/replay.c tests/fuzz/fuzz_config.c $(CONF_OBJS) $(CORE_OBJS) -o $@ -linih $(LDFLAGS)

$(BENCH_BANK): bench/bench_bank.c $(LIBPC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) $(PG_INC) $^ -o $@ -lpq -lzmq -linih -lpthread $(LDFLAGS)

$(CHAOS_CLIENT): tests/chaos/chaos_client.c $(LIBPC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) $(PG_INC) $^ -o $@ -lpq -lzmq -linih -lpthread $(LDFLAGS)

$(BENCH_DECIDE): bench/bench_decide.c tests/e2e/cluster.c tests/e2e/cluster.h $(LIBPC)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) -Itests/e2e bench/bench_decide.c tests/e2e/cluster.c $(LIBPC) -o $@ -lzmq -linih -lpthread $(LDFLAGS)

$(BENCH_CL): bench/bench_commitlog.c $(CL_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) bench/bench_commitlog.c $(CL_OBJS) -o $@ $(LDFLAGS)

deps:
	@bash scripts/deps.sh

test: deps
	$(MAKE) all
	$(MAKE) check-core-purity check-commitlog-purity test-unit test-install test-fuzz-replay test-fuzz test-sim test-model test-e2e test-chaos

# The core must stay pure: fail if it includes I/O headers or reads a clock.
check-core-purity:
	@! grep -nE '#include *<(zmq|libpq-fe|unistd|time|sys/time|fcntl)\.h>|\b(clock_gettime|gettimeofday|time\(|rand\(|random\()' \
		$(CORE_SRCS) $(CORE_HDRS) || { echo "core purity check failed (above)"; exit 1; }
	@echo "core purity: ok"

# Only the posix backend of the commit log may talk to the operating system.
check-commitlog-purity:
	@! grep -nE '#include *<(zmq|libpq-fe|unistd|fcntl|dirent|sys/stat|sys/types)\.h>' \
		$(filter-out commitlog/cl_io_posix.c,$(CL_SRCS)) $(CL_HDRS) \
		|| { echo "commitlog purity check failed (above)"; exit 1; }
	@echo "commitlog purity: ok"

test-unit: $(UNIT_BINS) $(BUILD)/tests/so_smoke
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done
	LD_LIBRARY_PATH=$(BUILD)/lib $(BUILD)/tests/so_smoke

# The shared client library links and loads.
$(BUILD)/tests/so_smoke: tests/unit/so_smoke.c $(LIBPC_SO)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) $< -L$(BUILD)/lib -lpaxcommit -o $@ $(LDFLAGS)

# End-to-end: real coordinator processes over ZeroMQ on loopback, with the
# scripted test participant (tests/e2e/test_agent.c).
test-e2e: $(COORD) $(AGENT) $(CLI) $(TEST_AGENT) $(E2E_BINS) $(COORD_BUG1) $(COORD_DBUG1) $(AGENT_ABUG1)
	@set -e; for t in $(E2E_BINS); do echo "== $$t"; PAXCOMMIT_BIN=$(BUILD)/bin PAXCOMMIT_TEST_BIN=$(BUILD)/tests $$t; done
	@bash tests/e2e/planted.sh $(BUILD)/tests/e2e_coord $(BUILD)/tests $(dir $(COORD_BUG1)) $(dir $(COORD_DBUG1)) \
		$(BUILD)/tests/e2e_pg_hostile $(BUILD)/bin $(AGENT_ABUG1)

# Real processes on simulated hosts (network namespaces, iptables; root):
# tests/chaos/chaos.py.  Quick mode by default; CHAOS_MINUTES=60 for the
# long mode, CHAOS_SEED=S to replay a schedule.  Then the checker must catch
# the planted daemon bugs.
CHAOS = /usr/bin/python3 tests/chaos/chaos.py --bin $(BUILD)/bin --test-bin $(BUILD)/tests
test-chaos: $(COORD) $(AGENT) $(CLI) $(CHAOS_CLIENT) $(EIO_SHIM) $(COORD_BUG1) $(COORD_DBUG1) $(COORD_DBUG2)
	$(CHAOS) $(if $(CHAOS_MINUTES),--minutes $(CHAOS_MINUTES)) $(if $(CHAOS_SEED),--seed $(CHAOS_SEED))
	@bash tests/chaos/planted.sh "$(CHAOS)" $(dir $(COORD_DBUG1)) $(dir $(COORD_BUG1)) $(dir $(COORD_DBUG2))

test-fuzz-replay: $(REPLAY_MSG) $(REPLAY_CL) $(REPLAY_SQL) $(REPLAY_CONF)
	$(REPLAY_MSG) tests/fuzz/corpus/msg
	$(REPLAY_CL) tests/fuzz/corpus/commitlog
	$(REPLAY_SQL) tests/fuzz/corpus/sql
	$(REPLAY_CONF) tests/fuzz/corpus/config

# By hand: millions of new seeds (SOAK_SECONDS, default 3600).
soak: $(SIM)
	@bash tests/sim/soak.sh $(SIM)

test-sim: $(SIM) $(PLANTED_SIMS)
	@bash tests/sim/run.sh $(SIM) $(SIM_SEEDS) $(SIM_WINDOW)
	@bash tests/sim/gray.sh $(SIM) $(SIM_GRAY_SEEDS) $(SIM_GRAY_WINDOW)
	@bash tests/sim/planted.sh $(PLANTED_SIMS)

# The SPIN model of the protocol (tests/model/README.md): needs spin and gcc only.
test-model:
	@bash tests/model/run.sh

# Sanitizer build: everything above under ASan + UBSan, in its own tree.
# Memory checking with valgrind: the unit tests, then e2e_coord with every
# daemon under valgrind (PAXCOMMIT_WRAP).  Fails on any valgrind report.
# Timing-bound e2e tests may fail under valgrind's slowdown: those failures
# are shown, not counted.
VALGRIND := valgrind -q --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect
valgrind: deps all
	@set -e; for t in $(UNIT_BINS); do echo "== valgrind $$t"; $(VALGRIND) --error-exitcode=99 $$t >/dev/null; done
	@rm -rf $(BUILD)/vg && mkdir -p $(BUILD)/vg
	-PAXCOMMIT_WRAP="$(VALGRIND) --log-file=$(abspath $(BUILD))/vg/vg.%p" PAXCOMMIT_BIN=$(BUILD)/bin \
		PAXCOMMIT_TEST_BIN=$(BUILD)/tests $(BUILD)/tests/e2e_coord
	@n=$$(find $(BUILD)/vg -type f -size +0 | wc -l); echo "valgrind: $$(ls $(BUILD)/vg | wc -l) daemon runs, $$n with a report"; \
		if [ $$n -gt 0 ]; then find $(BUILD)/vg -type f -size +0 -exec cat {} +; exit 1; fi

asan: deps
	$(MAKE) BUILD=build/asan EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" SIM_SEEDS=$(or $(ASAN_SIM_SEEDS),300) SIM_WINDOW=$(or $(ASAN_SIM_WINDOW),100) \
		all check-core-purity check-commitlog-purity test-unit test-fuzz-replay test-sim test-e2e

# Coverage-guided fuzzing with clang's libFuzzer: the wire decoder,
# commit-log recovery, the config reader and the agent's statement
# classifier, FUZZ_TIME seconds each; new inputs join the corpus.
# `make test` runs the same fuzzers for FUZZ_CI_TIME seconds each
# (test-fuzz), from the saved corpus, keeping nothing new.
FUZZ_TIME ?= 60
FUZZ_CI_TIME ?= 20
FUZZ_CC := clang -std=c11 -g -O1 -D_POSIX_C_SOURCE=200809L -fsanitize=fuzzer,address,undefined $(INC)
FUZZERS := msg commitlog config sql
fuzz_srcs_msg := common/px_msg.c
fuzz_srcs_commitlog := $(CL_SRCS)
fuzz_srcs_config := $(CONF_SRCS) $(CORE_SRCS)
fuzz_srcs_sql := participant/pa_sql.c
fuzz_libs_config := -linih

$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(ALL_HDRS) $(CL_SRCS) $(CORE_SRCS) $(CONF_SRCS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $< $(fuzz_srcs_$*) -o $@ $(fuzz_libs_$*)

fuzz: deps
	$(MAKE) $(foreach f,$(FUZZERS),$(BUILD)/fuzz/fuzz_$(f))
	@mkdir -p tests/fuzz/corpus/config tests/fuzz/corpus/sql
	@set -e; for f in $(FUZZERS); do \
		$(BUILD)/fuzz/fuzz_$$f -max_total_time=$(FUZZ_TIME) -max_len=4096 tests/fuzz/corpus/$$f; done

# Bounded fuzzing for CI: a scratch copy of each corpus, so that a run adds
# nothing to the tree; a crash leaves its input in $(BUILD)/fuzz-ci.
test-fuzz: $(foreach f,$(FUZZERS),$(BUILD)/fuzz/fuzz_$(f))
	@set -e; for f in $(FUZZERS); do \
		rm -rf $(BUILD)/fuzz-ci/$$f && mkdir -p $(BUILD)/fuzz-ci/$$f && cp tests/fuzz/corpus/$$f/* $(BUILD)/fuzz-ci/$$f/; \
		echo "== fuzz_$$f for $(FUZZ_CI_TIME) s"; \
		if ! (cd $(BUILD)/fuzz-ci && ../fuzz/fuzz_$$f -max_total_time=$(FUZZ_CI_TIME) -max_len=4096 \
			-print_final_stats=1 $$f > $$f.log 2>&1); then tail -40 $(BUILD)/fuzz-ci/$$f.log; exit 1; fi; \
		grep -E "^stat::(number_of_executed_units|new_units_added)" $(BUILD)/fuzz-ci/$$f.log; \
	done

# Benchmarks (numbers, never pass/fail).  BENCH_DIR: where the log's files
# go (default: a temp dir on the disk of /tmp).
bench: deps
	$(MAKE) all
	$(MAKE) bench-commitlog
	@bash bench/run.sh
bench-commitlog: $(BENCH_CL)
	$(BENCH_CL) $(BENCH_DIR)

demo: deps
	$(MAKE) all
	@bash scripts/demo.sh

# make install [PREFIX=/usr/local] [DESTDIR=...]: the daemons (sbin), the
# tool (bin), man pages, libpaxcommit.so (soname libpaxcommit.so.0) and .a, paxcommit.h,
# paxcommit.pc for pkg-config, sql/ and the example config (share/paxcommit),
# and the systemd units (lib/systemd/system).
VERSION    := 0.1.0
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR    ?= $(PREFIX)/share/paxcommit
UNITDIR    ?= $(PREFIX)/lib/systemd/system
UNITS      := paxcommit-coordinator@.service paxcommit-participant@.service
MANDIR     ?= $(PREFIX)/share/man
# Man pages: the three programs' from their own --help (help2man), so they
# stay in step with it; paxcommit.conf(5) is written by hand, and
# tests/install/check.sh fails if it misses a key the config reader knows.
MANPAGES   := $(BUILD)/man/paxcommit.1 $(BUILD)/man/paxcommit-coordinator.8 $(BUILD)/man/paxcommit-participant.8
man: $(MANPAGES)
$(BUILD)/man/paxcommit.1: $(CLI)
	@mkdir -p $(dir $@)
	help2man -N --version-string=$(VERSION) -s 1 -n "distributed transactions over PostgreSQL, decided by Paxos Commit" $< > $@
$(BUILD)/man/paxcommit-coordinator.8: $(COORD)
	@mkdir -p $(dir $@)
	help2man -N --version-string=$(VERSION) -s 8 -n "paxcommit coordinator replica" $< > $@
$(BUILD)/man/paxcommit-participant.8: $(AGENT)
	@mkdir -p $(dir $@)
	help2man -N --version-string=$(VERSION) -s 8 -n "paxcommit participant agent beside a PostgreSQL database" $< > $@
install: $(COORD) $(AGENT) $(CLI) $(LIBPC) $(LIBPC_SO) etc/paxcommit.pc.in $(UNITS:%=etc/systemd/%.in) $(MANPAGES)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(DATADIR)/sql
	install -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/paxcommit
	install -m 0755 $(COORD) $(AGENT) $(DESTDIR)$(SBINDIR)/
	install -m 0755 $(LIBPC_SO).0 $(DESTDIR)$(LIBDIR)/libpaxcommit.so.0
	ln -sf libpaxcommit.so.0 $(DESTDIR)$(LIBDIR)/libpaxcommit.so
	install -m 0644 $(LIBPC) $(DESTDIR)$(LIBDIR)/libpaxcommit.a
	install -m 0644 client/paxcommit.h $(DESTDIR)$(INCLUDEDIR)/paxcommit.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(VERSION)|' etc/paxcommit.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/paxcommit.pc
	install -m 0644 sql/participant.sql sql/demo_bank.sql sql/README.md $(DESTDIR)$(DATADIR)/sql/
	install -m 0644 etc/cluster.conf.example $(DESTDIR)$(DATADIR)/cluster.conf.example
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8
	install -m 0644 $(BUILD)/man/paxcommit.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 etc/paxcommit.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(BUILD)/man/paxcommit-coordinator.8 $(BUILD)/man/paxcommit-participant.8 $(DESTDIR)$(MANDIR)/man8/
	install -d $(DESTDIR)$(UNITDIR)
	for u in $(UNITS); do sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' etc/systemd/$$u.in \
		> $(DESTDIR)$(UNITDIR)/$$u && chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; done

# Installs into a scratch DESTDIR and builds a program against it with
# pkg-config, static and shared (tests/install/check.sh); then runs three
# replicas from the installed unit under a systemd-like supervisor
# (tests/install/service.sh).
test-install: $(COORD) $(AGENT) $(CLI) $(LIBPC) $(LIBPC_SO) $(MANPAGES)
	bash tests/install/check.sh
	bash tests/install/service.sh

clean:
	rm -rf build
