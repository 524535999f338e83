/*
 * test_auth.c - security: Z85 keys, who may send what (common/px_auth.c),
 * key files and the keyring (common/px_keys.c), and px_net with CURVE: a
 * ROUTER that takes only the keys of its keyring, and takes the sender's
 * role from its key, never from its routing id.  Real ZeroMQ sockets over
 * loopback TCP.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zmq.h>

#include "px_auth.h"
#include "px_config.h"
#include "px_gid.h"
#include "px_keys.h"
#include "px_net.h"

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Rule: our Z85 is ZeroMQ's, both ways, and refuses what is not Z85 of a
 * 32-byte key. */
static void test_z85(void **state)
{
	(void)state;
	srand((unsigned)time(NULL));
	for (int i = 0; i < 200; i++) {
		uint8_t k[PX_KEY_LEN], back[PX_KEY_LEN];
		for (size_t b = 0; b < PX_KEY_LEN; b++)
			k[b] = (uint8_t)rand();
		if (i == 0)
			memset(k, 0xFF, sizeof(k));
		char ours[PX_KEY_Z85_LEN + 1], theirs[PX_KEY_Z85_LEN + 1];
		px_z85_encode_key(k, ours);
		assert_non_null(zmq_z85_encode(theirs, k, PX_KEY_LEN));
		assert_string_equal(ours, theirs);
		assert_int_equal(px_z85_decode_key(ours, strlen(ours), back), 0);
		assert_memory_equal(back, k, PX_KEY_LEN);
	}
	uint8_t k[PX_KEY_LEN];
	assert_int_not_equal(px_z85_decode_key("abc", 3, k), 0);
	assert_int_not_equal(px_z85_decode_key("0000000000000000000000000000000000000000x", 41, k), 0);
	assert_int_not_equal(px_z85_decode_key("000000000000000000000000000000000000000;", 40, k), 0);
	assert_int_not_equal(px_z85_decode_key("0000000000000000000000000000000000000 00", 40, k), 0);
	/* "#####" is 85^5 - 1 > 2^32 - 1 */
	assert_int_not_equal(px_z85_decode_key("#####00000000000000000000000000000000000", 40, k), 0);
	uint8_t id[PX_KEY_LEN] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 0xff};
	assert_true(px_key_id(id) == 0x123456789abcdef0ULL);
}

static struct px_msg msg_2a(const char *gid, uint16_t rm, uint32_t bal)
{
	struct px_msg m = {.type = PX_MSG_2A};
	m.u.m2a.gid = px_str_of(gid, (uint32_t)strlen(gid));
	m.u.m2a.rm = rm;
	m.u.m2a.bal = bal;
	m.u.m2a.val = PX_VAL_PREPARED;
	return m;
}

static struct px_msg msg_gid(uint8_t type, const char *gid)
{
	struct px_msg m = {.type = type};
	struct px_str g = px_str_of(gid, (uint32_t)strlen(gid));
	switch (type) {
	case PX_MSG_COMMIT_REQ: m.u.commit_req.gid = g; break;
	case PX_MSG_ROLLBACK_REQ: m.u.rollback_req.gid = g; break;
	case PX_MSG_STATUS_REQ: m.u.status_req.gid = g; break;
	case PX_MSG_DECISION: m.u.decision.gid = g; break;
	case PX_MSG_DECISION_ACK: m.u.decision_ack.gid = g; break;
	case PX_MSG_EXEC: m.u.exec.gid = g; break;
	case PX_MSG_PREPARE: m.u.prepare.gid = g; break;
	case PX_MSG_FORGET: m.u.forget.gid = g; break;
	case PX_MSG_1A: m.u.m1a.gid = g; break;
	default: break;
	}
	return m;
}

#define R PX_NODE_REPLICA
#define A PX_NODE_AGENT

/* Rule: each role may send only its own messages, a participant votes only
 * for itself, and an authenticated client acts only on its own gids. */
static void test_rules(void **state)
{
	(void)state;
	const uint64_t me = 0x00000000000000abULL, other = 0x1111111111111111ULL;
	char mine[128], mine_xa[128], theirs_xa[128];
	px_gid_make(mine, sizeof(mine), "c", 1000, me, 1);
	px_gid_make_xa(mine_xa, sizeof(mine_xa), "c", 1000, me, 2);
	px_gid_make_xa(theirs_xa, sizeof(theirs_xa), "c", 1000, other, 3);
	struct px_addr rep0 = px_addr_of(R, 0), rep9 = px_addr_of(R, 9), ag3 = px_addr_of(A, 3),
		       cli = px_addr_of(PX_NODE_CLIENT, 77);
	struct px_msg m;

	/* replicas: anything among themselves; a configured id only */
	m = msg_gid(PX_MSG_DECISION, mine);
	assert_null(px_auth_refuse(R, rep0, 0, 3, &m));
	assert_null(px_auth_refuse(A, rep0, 0, 3, &m));
	assert_non_null(px_auth_refuse(A, rep9, 0, 3, &m)); /* the issue's forged "replica 9" */
	assert_non_null(px_auth_refuse(R, px_addr_of(R, 3), 0, 3, &m));
	m = msg_gid(PX_MSG_1A, mine);
	assert_null(px_auth_refuse(R, rep0, 0, 3, &m));
	assert_non_null(px_auth_refuse(A, rep0, 0, 3, &m));

	/* a participant: its own ballot-0 vote and ack */
	m = msg_2a(mine, 3, 0);
	assert_null(px_auth_refuse(R, ag3, 0, 3, &m));
	m = msg_2a(mine, 4, 0);
	assert_non_null(px_auth_refuse(R, ag3, 0, 3, &m));
	m = msg_2a(mine, 3, 1);
	assert_non_null(px_auth_refuse(R, ag3, 0, 3, &m));
	m = msg_gid(PX_MSG_DECISION_ACK, mine);
	m.u.decision_ack.rm = 3;
	assert_null(px_auth_refuse(R, ag3, 0, 3, &m));
	m.u.decision_ack.rm = 5;
	assert_non_null(px_auth_refuse(R, ag3, 0, 3, &m));
	m = msg_gid(PX_MSG_DECISION, mine);
	assert_non_null(px_auth_refuse(R, ag3, 0, 3, &m));
	assert_non_null(px_auth_refuse(A, ag3, 0, 3, &m));
	m = msg_gid(PX_MSG_STATUS_REQ, mine);
	assert_null(px_auth_refuse(R, ag3, 0, 3, &m));

	/* a client, authenticated (key id me) */
	m = msg_gid(PX_MSG_COMMIT_REQ, mine);
	assert_null(px_auth_refuse(R, cli, me, 3, &m));
	assert_non_null(px_auth_refuse(R, cli, other, 3, &m));
	m = msg_2a(mine_xa, 3, 0);
	assert_null(px_auth_refuse(R, cli, me, 3, &m));
	m = msg_2a(theirs_xa, 3, 0);
	assert_non_null(px_auth_refuse(R, cli, me, 3, &m));
	m = msg_2a(mine, 3, 0); /* an agent-path gid: only the agent votes */
	assert_non_null(px_auth_refuse(R, cli, me, 3, &m));
	m = msg_2a(mine_xa, 3, 1);
	assert_non_null(px_auth_refuse(R, cli, me, 3, &m));
	m = msg_gid(PX_MSG_DECISION_ACK, mine_xa);
	assert_null(px_auth_refuse(R, cli, me, 3, &m));
	m = msg_gid(PX_MSG_STATUS_REQ, theirs_xa); /* anyone may ask */
	assert_null(px_auth_refuse(R, cli, me, 3, &m));
	static const uint8_t forbidden[] = {PX_MSG_1A, PX_MSG_1B, PX_MSG_2B, PX_MSG_DECISION, PX_MSG_FORGET,
					    PX_MSG_HEARTBEAT, PX_MSG_SYNC_REQ, PX_MSG_SYNC, PX_MSG_OUTCOME};
	for (size_t i = 0; i < sizeof(forbidden); i++) {
		m = msg_gid(forbidden[i], mine_xa);
		assert_non_null(px_auth_refuse(R, cli, me, 3, &m));
		assert_non_null(px_auth_refuse(R, cli, 0, 3, &m));
		assert_non_null(px_auth_refuse(A, cli, me, 3, &m));
	}
	/* at an agent */
	m = msg_gid(PX_MSG_EXEC, mine);
	assert_null(px_auth_refuse(A, cli, me, 3, &m));
	assert_non_null(px_auth_refuse(A, cli, other, 3, &m));
	assert_null(px_auth_refuse(A, cli, 0, 3, &m)); /* security = none: no binding */
	m = msg_gid(PX_MSG_PREPARE, mine);
	assert_null(px_auth_refuse(A, cli, me, 3, &m));
	assert_null(px_auth_refuse(A, rep0, 0, 3, &m));
	m = msg_gid(PX_MSG_EXEC, "not a gid");
	assert_non_null(px_auth_refuse(A, cli, me, 3, &m));
}

static char g_dir[64];

static void mkdir_tmp(void)
{
	strcpy(g_dir, "/tmp/px_auth_test_XXXXXX");
	assert_non_null(mkdtemp(g_dir));
}

static void rm_tmp(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
	assert_int_equal(system(cmd), 0);
}

static void gen(const char *name)
{
	char prefix[256], err[512];
	snprintf(prefix, sizeof(prefix), "%s/%s", g_dir, name);
	if (px_key_generate(prefix, name, err, sizeof(err)))
		fail_msg("%s", err);
}

static void path_of(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", g_dir, name);
}

/* Rule: key files are written with ssh's modes, read back, and refused
 * when too open, mixed up or tampered with; an existing one is never
 * overwritten. */
static void test_key_files(void **state)
{
	(void)state;
	mkdir_tmp();
	gen("n1");
	char kp[256], pp[256], err[512];
	path_of(kp, sizeof(kp), "n1.key");
	path_of(pp, sizeof(pp), "n1.pub");
	struct stat st;
	assert_int_equal(stat(kp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(pp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	uint8_t pub[PX_KEY_LEN], sec[PX_KEY_LEN], pub2[PX_KEY_LEN];
	assert_int_equal(px_key_read_pair(kp, pub, sec, err, sizeof(err)), 0);
	assert_int_equal(px_key_read_public(pp, pub2, err, sizeof(err)), 0);
	assert_memory_equal(pub, pub2, PX_KEY_LEN);
	/* again: refused, the old pair kept */
	char prefix[256];
	snprintf(prefix, sizeof(prefix), "%s/n1", g_dir);
	assert_int_not_equal(px_key_generate(prefix, "n1", err, sizeof(err)), 0);
	assert_non_null(strstr(err, "exists already"));
	assert_int_equal(px_key_read_pair(kp, pub2, sec, err, sizeof(err)), 0);
	assert_memory_equal(pub, pub2, PX_KEY_LEN);
	/* mixed up */
	assert_int_not_equal(px_key_read_pair(pp, pub2, sec, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "not a key pair"));
	assert_int_not_equal(px_key_read_public(kp, pub2, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "holds a secret key"));
	/* too open */
	assert_int_equal(chmod(kp, 0640), 0);
	assert_int_not_equal(px_key_read_pair(kp, pub2, sec, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(chmod(kp, 0600), 0);
	/* a public line that is not the secret key's */
	gen("n2");
	char kp2[256];
	path_of(kp2, sizeof(kp2), "n2.key");
	char z1[PX_KEY_Z85_LEN + 1], cmd[1024];
	px_z85_encode_key(pub, z1);
	FILE *f = fopen(kp2, "r");
	char line[256], secline[256] = "";
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "secret", 6))
			snprintf(secline, sizeof(secline), "%s", line);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/bad.key", g_dir);
	f = fopen(cmd, "w");
	fprintf(f, "public = %s\n%s", z1, secline);
	fclose(f);
	assert_int_equal(chmod(cmd, 0600), 0);
	assert_int_not_equal(px_key_read_pair(cmd, pub2, sec, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "not the secret key's"));
	/* garbage */
	f = fopen(cmd, "w");
	fprintf(f, "# x\npublic = %s\nsecrets = 1\n", z1);
	fclose(f);
	assert_int_not_equal(px_key_read_pair(cmd, pub2, sec, err, sizeof(err)), 0);
	assert_non_null(strstr(err, ":3:"));
	assert_int_not_equal(px_key_read_public("/nonexistent/x.pub", pub2, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "/nonexistent/x.pub"));
	rm_tmp();
}

/* A cluster config with curve keys for coordinators 0..2 (c0..c2),
 * participants 1 and 2 (p1, p2) and clients cl1 (allowed) and cl2 (not on
 * the allow-list).  Endpoints from ports[]. */
static void write_cluster(const char *conf, const int *ports)
{
	const char *names[] = {"c0", "c1", "c2", "p1", "p2", "cl1", "cl2"};
	char z[7][PX_KEY_Z85_LEN + 1];
	for (int i = 0; i < 7; i++) {
		gen(names[i]);
		char p[256], err[512];
		uint8_t k[PX_KEY_LEN];
		snprintf(p, sizeof(p), "%s/%s.pub", g_dir, names[i]);
		assert_int_equal(px_key_read_public(p, k, err, sizeof(err)), 0);
		px_z85_encode_key(k, z[i]);
	}
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/clients && cp %s/cl1.pub %s/clients/", g_dir, g_dir, g_dir);
	assert_int_equal(system(cmd), 0);
	FILE *f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "[cluster]\nname = t\nclient_keys = %s/clients\nclient_key_file = %s/cl1.key\n", g_dir, g_dir);
	for (int i = 0; i < 3; i++)
		fprintf(f, "[coordinator.%d]\nendpoint = tcp://127.0.0.1:%d\ndata_dir = %s/d%d\npublic_key = %s\nkey_file = %s/c%d.key\n",
			i, ports[i], g_dir, i, z[i], g_dir, i);
	for (int i = 0; i < 2; i++)
		fprintf(f, "[participant.p%d]\nid = %d\nendpoint = tcp://127.0.0.1:%d\nconninfo = x\npublic_key = %s\nkey_file = %s/p%d.key\n",
			i + 1, i + 1, ports[3 + i], z[3 + i], g_dir, i + 1);
	fclose(f);
}

/* Rule: the keyring knows every role's key and the allow-list, and a
 * process's key file must hold the key the config names for it. */
static void test_keyring(void **state)
{
	(void)state;
	mkdir_tmp();
	int ports[5] = {7001, 7002, 7003, 7004, 7005};
	char conf[256], err[1024];
	snprintf(conf, sizeof(conf), "%s/cluster.conf", g_dir);
	write_cluster(conf, ports);
	struct px_config cfg;
	if (px_config_load(conf, &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	struct px_keyring k;
	if (px_keyring_load(&k, &cfg, px_addr_of(R, 1), NULL, err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(k.curve, 1);
	assert_int_equal(k.nclient, 1);
	assert_memory_equal(k.pub, cfg.coord[1].public_key, PX_KEY_LEN);
	struct px_addr who;
	assert_int_equal(px_keyring_role(&k, cfg.coord[2].public_key, &who), 1);
	assert_true(who.kind == R && who.id == 2);
	assert_int_equal(px_keyring_role(&k, cfg.part[1].public_key, &who), 1);
	assert_true(who.kind == A && who.id == 2);
	char p[256];
	uint8_t cl[PX_KEY_LEN];
	snprintf(p, sizeof(p), "%s/cl1.pub", g_dir);
	assert_int_equal(px_key_read_public(p, cl, err, sizeof(err)), 0);
	assert_int_equal(px_keyring_role(&k, cl, &who), 1);
	assert_true(who.kind == PX_NODE_CLIENT && who.id == px_key_id(cl));
	snprintf(p, sizeof(p), "%s/cl2.pub", g_dir);
	assert_int_equal(px_key_read_public(p, cl, err, sizeof(err)), 0);
	assert_int_equal(px_keyring_role(&k, cl, &who), 0);
	assert_ptr_equal(px_keyring_peer(&k, px_addr_of(A, 2)), k.part[1].pub);
	assert_null(px_keyring_peer(&k, px_addr_of(A, 3)));
	px_keyring_free(&k);
	/* the wrong key file for this replica */
	snprintf(p, sizeof(p), "%s/c0.key", g_dir);
	assert_int_not_equal(px_keyring_load(&k, &cfg, px_addr_of(R, 1), p, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "is not [coordinator.1]'s public_key"));
	/* a client: its key from the environment first */
	snprintf(p, sizeof(p), "%s/cl2.key", g_dir);
	setenv("PAXCOMMIT_CLIENT_KEY", p, 1);
	assert_int_equal(px_keyring_load(&k, &cfg, px_addr_of(PX_NODE_CLIENT, 0), NULL, err, sizeof(err)), 0);
	assert_memory_equal(k.pub, cl, PX_KEY_LEN);
	assert_int_equal(k.nclient, 0);
	px_keyring_free(&k);
	unsetenv("PAXCOMMIT_CLIENT_KEY");
	px_config_free(&cfg);
	rm_tmp();
}

/* Wait up to ms for one message at n; 1 and *from, or 0. */
static int recv_one(struct px_net *n, int ms, struct px_addr *from, char *body, size_t cap)
{
	uint64_t until = mono_ms() + (uint64_t)ms;
	for (;;) {
		const uint8_t *d;
		size_t len;
		if (px_net_recv(n, from, &d, &len) == 1) {
			snprintf(body, cap, "%.*s", (int)len, (const char *)d);
			return 1;
		}
		uint64_t now = mono_ms();
		if (now >= until)
			return 0;
		zmq_pollitem_t it[4];
		size_t ni = px_net_pollitems(n, it, 4);
		zmq_poll(it, (int)ni, (long)(until - now));
		px_net_polled(n, it, ni);
	}
}

/* A raw DEALER to endpoint with CURVE keys (pub/sec NULL: plain), and a
 * routing id (NULL: none); sends body. */
static void *raw_dealer(void *z, const char *ep, const uint8_t *server, const uint8_t *pub, const uint8_t *sec,
			const void *rid, size_t rlen, const char *body)
{
	void *s = zmq_socket(z, ZMQ_DEALER);
	int zero = 0;
	assert_int_equal(zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof(zero)), 0);
	if (pub) {
		assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server, PX_KEY_LEN), 0);
		assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, pub, PX_KEY_LEN), 0);
		assert_int_equal(zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, sec, PX_KEY_LEN), 0);
	}
	if (rid)
		assert_int_equal(zmq_setsockopt(s, ZMQ_ROUTING_ID, rid, rlen), 0);
	assert_int_equal(zmq_connect(s, ep), 0);
	assert_int_equal(zmq_send(s, body, strlen(body), 0), (int)strlen(body));
	return s;
}

static void read_pair(const char *name, uint8_t *pub, uint8_t *sec)
{
	char p[256], err[512];
	snprintf(p, sizeof(p), "%s/%s.key", g_dir, name);
	assert_int_equal(px_key_read_pair(p, pub, sec, err, sizeof(err)), 0);
}

/* Rule: a CURVE ROUTER (replica 0) hears the keys of its keyring only, and
 * names each sender by its key: a client that sets routing id 0x01 0x01
 * ("replica 1") is not taken for one, a key off the allow-list and a plain
 * (non-CURVE) peer are not heard at all, and px_net's own DEALERs (replica
 * 1, a participant, a client) are heard as what their keys say. */
static void test_net_curve(void **state)
{
	(void)state;
	mkdir_tmp();
	int ports[5];
	for (int i = 0; i < 5; i++)
		ports[i] = px_net_free_port();
	char conf[256], err[1024], ep[64];
	snprintf(conf, sizeof(conf), "%s/cluster.conf", g_dir);
	write_cluster(conf, ports);
	snprintf(ep, sizeof(ep), "tcp://127.0.0.1:%d", ports[0]);
	struct px_config cfg;
	if (px_config_load(conf, &cfg, err, sizeof(err)))
		fail_msg("%s", err);
	void *z = zmq_ctx_new();
	struct px_keyring k0, k1, kp, kc;
	assert_int_equal(px_keyring_load(&k0, &cfg, px_addr_of(R, 0), NULL, err, sizeof(err)), 0);
	assert_int_equal(px_keyring_load(&k1, &cfg, px_addr_of(R, 1), NULL, err, sizeof(err)), 0);
	assert_int_equal(px_keyring_load(&kp, &cfg, px_addr_of(A, 2), NULL, err, sizeof(err)), 0);
	assert_int_equal(px_keyring_load(&kc, &cfg, px_addr_of(PX_NODE_CLIENT, 0), NULL, err, sizeof(err)), 0);
	struct px_net *srv, *n1, *np, *nc;
	struct px_net_config c0 = {.self = px_addr_of(R, 0), .bind = ep, .keys = &k0, .heartbeat_ms = 100};
	if (px_net_new(z, &c0, &srv, err, sizeof(err)))
		fail_msg("%s", err);
	/* a second CURVE server in the same context is refused, clearly */
	struct px_net *again;
	char ep2[64];
	snprintf(ep2, sizeof(ep2), "tcp://127.0.0.1:%d", ports[1]);
	struct px_net_config c1b = {.self = px_addr_of(R, 1), .bind = ep2, .keys = &k1};
	assert_int_not_equal(px_net_new(z, &c1b, &again, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "one CURVE server per ZeroMQ context"));

	/* forgers first: none of them may be heard */
	uint8_t cl1p[PX_KEY_LEN], cl1s[PX_KEY_LEN], cl2p[PX_KEY_LEN], cl2s[PX_KEY_LEN];
	read_pair("cl1", cl1p, cl1s);
	read_pair("cl2", cl2p, cl2s);
	const uint8_t fake_replica[2] = {0x01, 0x01};
	void *f1 = raw_dealer(z, ep, cfg.coord[0].public_key, cl1p, cl1s, fake_replica, 2, "forged-replica");
	void *f2 = raw_dealer(z, ep, cfg.coord[0].public_key, cl2p, cl2s, NULL, 0, "not-allowed");
	void *f3 = raw_dealer(z, ep, NULL, NULL, NULL, fake_replica, 2, "plain");
	/* a client with the allowed key */
	void *f4 = raw_dealer(z, ep, cfg.coord[0].public_key, cl1p, cl1s, NULL, 0, "client-ok");
	struct px_addr from;
	char body[64];
	assert_int_equal(recv_one(srv, 3000, &from, body, sizeof(body)), 1);
	assert_string_equal(body, "client-ok");
	assert_int_equal(from.kind, PX_NODE_CLIENT);
	assert_true(px_net_client_key(srv, from.id) == px_key_id(cl1p));
	/* the forgers' messages, had they come, came before client-ok's
	 * handshake finished; give them 500 ms more */
	assert_int_equal(recv_one(srv, 500, &from, body, sizeof(body)), 0);
	assert_true(px_net_stats(srv)->bad_identity >= 1); /* the client claiming a replica's id */

	/* px_net's own DEALERs */
	struct px_net_config cr1 = {.self = px_addr_of(R, 1), .keys = &k1}, cp = {.self = px_addr_of(A, 2), .keys = &kp},
			     cc = {.self = px_addr_of(PX_NODE_CLIENT, 0), .keys = &kc, .queue_unconnected = 1};
	assert_int_equal(px_net_new(z, &cr1, &n1, err, sizeof(err)), 0);
	assert_int_equal(px_net_new(z, &cp, &np, err, sizeof(err)), 0);
	assert_int_equal(px_net_new(z, &cc, &nc, err, sizeof(err)), 0);
	assert_int_equal(px_net_add_peer(n1, px_addr_of(R, 0), ep, err, sizeof(err)), 0);
	assert_int_equal(px_net_add_peer(np, px_addr_of(R, 0), ep, err, sizeof(err)), 0);
	assert_int_equal(px_net_add_peer(nc, px_addr_of(R, 0), ep, err, sizeof(err)), 0);
	struct {
		struct px_net *n;
		const char *body;
		uint8_t kind;
		uint64_t id;
	} senders[] = {{n1, "from-r1", R, 1}, {np, "from-p2", A, 2}, {nc, "from-client", PX_NODE_CLIENT, 0}};
	for (int i = 0; i < 3; i++) {
		/* resend until heard: a DEALER drops sends until connected */
		int got = 0;
		uint64_t until = mono_ms() + 5000;
		while (!got && mono_ms() < until) {
			px_net_send(senders[i].n, px_addr_of(R, 0), senders[i].body, strlen(senders[i].body));
			got = recv_one(srv, 100, &from, body, sizeof(body));
		}
		assert_int_equal(got, 1);
		assert_string_equal(body, senders[i].body);
		assert_int_equal(from.kind, senders[i].kind);
		if (senders[i].kind != PX_NODE_CLIENT)
			assert_true(from.id == senders[i].id);
		else
			assert_true(px_net_client_key(srv, from.id) == px_key_id(kc.pub));
	}
	/* a DEALER for a peer the keyring has no key for */
	assert_int_not_equal(px_net_add_peer(nc, px_addr_of(A, 9), ep, err, sizeof(err)), 0);
	assert_int_equal(px_net_stats(srv)->bad_auth, 0);
	zmq_close(f1);
	zmq_close(f2);
	zmq_close(f3);
	zmq_close(f4);
	px_net_destroy(&n1);
	px_net_destroy(&np);
	px_net_destroy(&nc);
	px_net_destroy(&srv);
	zmq_ctx_term(z);
	px_keyring_free(&k0);
	px_keyring_free(&k1);
	px_keyring_free(&kp);
	px_keyring_free(&kc);
	px_config_free(&cfg);
	rm_tmp();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_z85),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_keyring),
		cmocka_unit_test(test_net_curve),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
