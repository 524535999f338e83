/*
 * test_net.c - the transport (common/px_net.c) over real ZeroMQ sockets on
 * loopback.
 *
 * A process whose receive queue is full when a peer's connection breaks
 * must not die.  libzmq 4.3.4 (Debian 12) aborts then ("Assertion failed:
 * !_io_error (src/stream_engine_base.cpp:331)") when ZMTP heartbeats are
 * on: the engine that stopped reading marks the I/O error, and the next
 * heartbeat timer writes anyway.  A replica resumed after a SIGSTOP, with
 * its peers' messages piled up and their connections timed out, hit it
 * (the chaos suite's pause-leader, 2 of 2 times in one run).  The test
 * makes that moment: a child holds a px_net ROUTER, is stopped, a peer
 * floods it past its high-water mark and closes, the child is continued,
 * and it must live through 25 heartbeat intervals.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "px_net.h"

#define HB_MS 20

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void pause_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The child: bind, say "r"eady; say "g"ot once something arrives; wait
 * for "c"ontinue; live 25 heartbeat intervals without reading; exit 0.
 * raw: a bare ROUTER with ZMTP heartbeats instead of px_net (the control:
 * it shows that the scenario reaches libzmq's assertion). */
static int child_main(const char *ep, int to_parent, int from_parent, int raw)
{
	void *zctx = zmq_ctx_new();
	struct px_net *n = NULL;
	void *r = NULL;
	char err[256];
	zmq_pollitem_t items[4];
	size_t ni = 1;
	if (raw) {
		int hwm = 50, ivl = HB_MS, tmo = 3 * HB_MS;
		r = zmq_socket(zctx, ZMQ_ROUTER);
		if (zmq_setsockopt(r, ZMQ_RCVHWM, &hwm, sizeof(hwm)) || zmq_setsockopt(r, ZMQ_HEARTBEAT_IVL, &ivl, sizeof(ivl)) ||
		    zmq_setsockopt(r, ZMQ_HEARTBEAT_TIMEOUT, &tmo, sizeof(tmo)) || zmq_bind(r, ep))
			return 3;
		items[0] = (zmq_pollitem_t){.socket = r, .events = ZMQ_POLLIN};
	} else {
		struct px_net_config cfg = {.self = {PX_NODE_REPLICA, 0}, .bind = ep, .hwm = 50, .heartbeat_ms = HB_MS};
		if (px_net_new(zctx, &cfg, &n, err, sizeof(err))) {
			fprintf(stderr, "child: %s\n", err);
			return 3;
		}
		ni = px_net_pollitems(n, items, 4);
	}
	char c = 'r';
	if (write(to_parent, &c, 1) != 1)
		return 3;
	uint64_t deadline = mono_ms() + 5000;
	while (!(items[0].revents & ZMQ_POLLIN) && mono_ms() < deadline) {
		zmq_poll(items, (int)ni, 100);
	}
	if (!(items[0].revents & ZMQ_POLLIN))
		return 5;
	c = 'g';
	if (write(to_parent, &c, 1) != 1 || read(from_parent, &c, 1) != 1)
		return 3;
	/* Not a synchronisation: the window in which the heartbeat timer
	 * would fire on the broken connection. */
	pause_ms(25 * HB_MS);
	if (r)
		zmq_close(r);
	px_net_destroy(&n);
	zmq_ctx_term(zctx);
	return 0;
}

static int pick_port(void)
{
	return 20000 + (int)(((unsigned)getpid() * 7919u + (unsigned)mono_ms()) % 20000u);
}

/* Stop a child holding a ROUTER, flood it past its hwm, close, continue
 * it.  Returns its wait status. */
static int stall_flood_break(int raw)
{
	char ep[64];
	int status = 0;
	for (int attempt = 0; attempt < 5; attempt++) {
		snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", pick_port() + attempt);
		int up[2], down[2];
		assert_int_equal(pipe(up), 0);
		assert_int_equal(pipe(down), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(up[0]);
			close(down[1]);
			_exit(child_main(ep, up[1], down[0], raw));
		}
		close(up[1]);
		close(down[0]);
		char c = 0;
		if (read(up[0], &c, 1) != 1) {
			/* bind failed (port taken): try another port */
			waitpid(pid, &status, 0);
			close(up[0]);
			close(down[1]);
			continue;
		}
		void *zctx = zmq_ctx_new();
		void *d = zmq_socket(zctx, ZMQ_DEALER);
		uint8_t rid[2] = {0x01, 0x01}; /* replica 1 */
		int big = 100000, linger = 1000;
		assert_int_equal(zmq_setsockopt(d, ZMQ_ROUTING_ID, rid, 2), 0);
		assert_int_equal(zmq_setsockopt(d, ZMQ_SNDHWM, &big, sizeof(big)), 0);
		assert_int_equal(zmq_setsockopt(d, ZMQ_LINGER, &linger, sizeof(linger)), 0);
		assert_int_equal(zmq_connect(d, ep), 0);
		assert_int_equal(zmq_send(d, "hello", 5, 0), 5);
		assert_int_equal(read(up[0], &c, 1), 1);
		assert_int_equal(c, 'g');
		/* Stop the child; pile up far more than its hwm of 50; close. */
		assert_int_equal(kill(pid, SIGSTOP), 0);
		char msg[100];
		memset(msg, 'x', sizeof(msg));
		int sent = 0;
		for (int i = 0; i < 20000; i++)
			if (zmq_send(d, msg, sizeof(msg), ZMQ_DONTWAIT) == (int)sizeof(msg))
				sent++;
		assert_true(sent > 1000);
		zmq_close(d);
		zmq_ctx_term(zctx); /* flushes into the kernel, or gives up after the linger */
		assert_int_equal(kill(pid, SIGCONT), 0);
		c = 'c';
		assert_int_equal(write(down[1], &c, 1), 1);
		uint64_t deadline = mono_ms() + 10000;
		pid_t w = 0;
		while ((w = waitpid(pid, &status, WNOHANG)) == 0 && mono_ms() < deadline)
			pause_ms(10);
		if (w == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("the child did not end within 10 s");
		}
		close(up[0]);
		close(down[1]);
		return status;
	}
	fail_msg("no free port found");
	return -1;
}

/* Rule: a full receive queue and a broken connection do not kill the
 * process (the libzmq heartbeat assertion); the process goes on. */
static void test_full_queue_broken_peer_no_abort(void **state)
{
	(void)state;
	int status = stall_flood_break(0);
	if (WIFSIGNALED(status))
		fail_msg("the process died of signal %d (libzmq's heartbeat assertion?) after its full queue's peer went away",
			 WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* The control: the same moment kills a process whose ROUTER has ZMTP
 * heartbeats on, so the test above reaches the bug it guards against.  A
 * libzmq without the bug makes this a skip, not a failure. */
static void test_control_zmtp_heartbeat_aborts(void **state)
{
	(void)state;
	int status = stall_flood_break(1);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		fprintf(stderr, "note: this libzmq survives the moment with ZMTP heartbeats on\n");
		skip();
	}
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_zmtp_heartbeat_aborts),
		cmocka_unit_test(test_full_queue_broken_peer_no_abort),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
