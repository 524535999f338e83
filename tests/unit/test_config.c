/*
 * test_config.c - unit tests of the cluster configuration reader
 * (common/px_config.c).  Each test writes its file under /tmp (mkstemp),
 * loads it and removes it, so the tests need no fixtures and any working
 * directory will do.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "px_auth.h"
#include "px_config.h"

static char g_path[64];
static char g_err[1024];

/* Write len bytes to a fresh temp file (its name in g_path), load it,
 * remove it. */
static int load_bytes(const char *text, size_t len, struct px_config *c)
{
	strcpy(g_path, "/tmp/px_config_test_XXXXXX");
	int fd = mkstemp(g_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	memset(g_err, 'X', sizeof(g_err));
	int rc = px_config_load(g_path, c, g_err, sizeof(g_err));
	unlink(g_path);
	return rc;
}

static int load_text(const char *text, struct px_config *c)
{
	return load_bytes(text, strlen(text), c);
}

/* A public key of its own for test section i, in Z85. */
static void test_key(int i, char out[PX_KEY_Z85_LEN + 1])
{
	uint8_t k[PX_KEY_LEN];
	for (int b = 0; b < (int)PX_KEY_LEN; b++)
		k[b] = (uint8_t)(i * 37 + b);
	px_z85_encode_key(k, out);
}

/* Load text with a public_key line (a distinct key each) after every
 * [coordinator.N] and [participant.NAME] header: security = curve is the
 * default.  Line numbers change; for files that load. */
static int load_keyed(const char *text, struct px_config *c)
{
	static char out[16384];
	size_t o = 0;
	int nkey = 0;
	for (const char *p = text; *p;) {
		const char *eol = strchr(p, '\n');
		size_t len = eol ? (size_t)(eol - p) + 1 : strlen(p);
		assert_true(o + len + 64 < sizeof(out));
		memcpy(out + o, p, len);
		o += len;
		if (!strncmp(p, "[coordinator.", 13) || !strncmp(p, "[participant.", 13)) {
			char z[PX_KEY_Z85_LEN + 1];
			test_key(nkey++, z);
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%spublic_key = %s\n", eol ? "" : "\n", z);
		}
		p += len;
	}
	out[o] = 0;
	return load_text(out, c);
}

/* Rule: the load fails; the message starts with "PATH:LINE: " (or "PATH: "
 * when line is 0) and contains phrase; *c is left empty. */
static void expect_err(const char *text, int line, const char *phrase)
{
	struct px_config c;
	int rc = load_text(text, &c);
	char prefix[128];
	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", g_path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", g_path);
	if (rc == 0 || strncmp(g_err, prefix, strlen(prefix)) != 0 || !strstr(g_err, phrase))
		print_error("expected \"%s...%s...\"\n     got rc=%d \"%s\"\n", prefix, phrase, rc,
			    rc == 0 ? "(success)" : g_err);
	assert_int_not_equal(rc, 0);
	assert_memory_equal(g_err, prefix, strlen(prefix));
	assert_non_null(strstr(g_err, phrase));
	assert_null(c.part);
	assert_int_equal(c.npart, 0);
	assert_int_equal(c.ncoord, 0);
	px_config_free(&c); /* harmless on a failed load */
}

/* A valid minimal cluster, used as a base that tests append to / edit. */
#define CLUSTER "[cluster]\nname = bank\n"
#define COORD0 "[coordinator.0]\nendpoint = tcp://127.0.0.1:7000\ndata_dir = /tmp/c0\n"
#define PART_A "[participant.a]\nid = 1\nendpoint = tcp://127.0.0.1:7100\nconninfo = dbname=a\n"

static const char full_example[] =
	"; paxcommit cluster\n"                                 /* 1 */
	"[cluster]\n"                                           /* 2 */
	"name = bank7\n"                                        /* 3 */
	"heartbeat_ms = 40\n"                                   /* 4 */
	"lease_ms = 250 ; must exceed heartbeat_ms\n"           /* 5 */
	"txn_timeout_ms = 4000\n"                               /* 6 */
	"agent_idle_timeout_ms = 20000\n"                       /* 7 */
	"resend_ms = 150\n"                                     /* 8 */
	"sync_ms = 1500\n"                                      /* 9 */
	"horizon_ms = 10000000000\n"                            /* 10: > 2^32 */
	"max_live = 4242\n"                                     /* 11 */
	"\n"
	"[coordinator.1]\n"
	"endpoint = tcp://10.0.0.2:7000\n"
	"data_dir = /var/lib/paxcommit/c1\n"
	"# comment\n"
	"[coordinator.0]\n"
	"endpoint = tcp://10.0.0.1:7000\n"
	"data_dir = /var/lib/paxcommit/c0\n"
	"[coordinator.2]\n"
	"endpoint = ipc:///run/paxcommit/c2\n"
	"data_dir = data/c2\n"
	"\n"
	"[participant.savings-db_2]\n"
	"id = 65534\n"
	"endpoint = tcp://10.0.1.2:7100\n"
	"conninfo = host=/tmp port=5433 dbname=savings user=px\n"
	"pool = 1024\n"
	"[participant.checking]\n"
	"id = 3\n"
	"endpoint = ipc:///run/paxcommit/checking\n"
	"conninfo = postgresql://px@localhost:5432/checking?sslmode=disable\n"
	"pool = 1\n";

/* Rule: a full valid file sets every field; participants come sorted by id
 * and coordinators by id, whatever the order in the file. */
static void test_full_example(void **state)
{
	(void)state;
	struct px_config c;
	int rc = load_keyed(full_example, &c);
	if (rc != 0)
		print_error("%s\n", g_err);
	assert_int_equal(rc, 0);
	assert_string_equal(c.name, "bank7");
	assert_int_equal(c.heartbeat_ms, 40);
	assert_int_equal(c.lease_ms, 250);
	assert_int_equal(c.txn_timeout_ms, 4000);
	assert_int_equal(c.agent_idle_timeout_ms, 20000);
	assert_int_equal(c.resend_ms, 150);
	assert_int_equal(c.sync_ms, 1500);
	assert_true(c.horizon_ms == 10000000000ULL);
	assert_int_equal(c.max_live, 4242);
	assert_int_equal(c.max_live_client, 4242 / 4); /* the default */

	assert_int_equal(c.ncoord, 3);
	assert_int_equal(c.coord[0].id, 0);
	assert_string_equal(c.coord[0].endpoint, "tcp://10.0.0.1:7000");
	assert_string_equal(c.coord[0].data_dir, "/var/lib/paxcommit/c0");
	assert_int_equal(c.coord[1].id, 1);
	assert_string_equal(c.coord[1].endpoint, "tcp://10.0.0.2:7000");
	assert_string_equal(c.coord[1].data_dir, "/var/lib/paxcommit/c1");
	assert_int_equal(c.coord[2].id, 2);
	assert_string_equal(c.coord[2].endpoint, "ipc:///run/paxcommit/c2");
	assert_string_equal(c.coord[2].data_dir, "data/c2");

	assert_int_equal(c.npart, 2);
	assert_non_null(c.part);
	assert_string_equal(c.part[0].name, "checking");
	assert_int_equal(c.part[0].id, 3);
	assert_string_equal(c.part[0].endpoint, "ipc:///run/paxcommit/checking");
	assert_string_equal(c.part[0].conninfo,
			    "postgresql://px@localhost:5432/checking?sslmode=disable");
	assert_int_equal(c.part[0].pool, 1);
	assert_string_equal(c.part[1].name, "savings-db_2");
	assert_int_equal(c.part[1].id, 65534);
	assert_string_equal(c.part[1].endpoint, "tcp://10.0.1.2:7100");
	assert_string_equal(c.part[1].conninfo, "host=/tmp port=5433 dbname=savings user=px");
	assert_int_equal(c.part[1].pool, 1024);

	/* lookups */
	assert_ptr_equal(px_config_part_by_name(&c, "checking"), &c.part[0]);
	assert_ptr_equal(px_config_part_by_name(&c, "savings-db_2"), &c.part[1]);
	assert_null(px_config_part_by_name(&c, "savings"));
	assert_ptr_equal(px_config_part_by_id(&c, 3), &c.part[0]);
	assert_ptr_equal(px_config_part_by_id(&c, 65534), &c.part[1]);
	assert_null(px_config_part_by_id(&c, 0));
	assert_null(px_config_part_by_id(&c, 4));

	px_config_free(&c);
	assert_null(c.part);
	assert_int_equal(c.npart, 0);
	px_config_free(&c); /* idempotent */
	px_config_free(NULL);
}

/* Rule: every optional key takes its documented default; one coordinator
 * is allowed; CRLF line ends and a UTF-8 BOM are accepted. */
static void test_defaults(void **state)
{
	(void)state;
	struct px_config c;
	int rc = load_keyed("\xEF\xBB\xBF" "[cluster]\r\nname = x\r\n" COORD0 PART_A, &c);
	if (rc != 0)
		print_error("%s\n", g_err);
	assert_int_equal(rc, 0);
	assert_string_equal(c.name, "x");
	assert_int_equal(c.heartbeat_ms, 50);
	assert_int_equal(c.lease_ms, 300);
	assert_int_equal(c.txn_timeout_ms, 5000);
	assert_int_equal(c.agent_idle_timeout_ms, 30000);
	assert_int_equal(c.resend_ms, 200);
	assert_int_equal(c.sync_ms, 2000);
	assert_true(c.horizon_ms == 600000);
	assert_int_equal(c.max_live, 100000);
	assert_int_equal(c.max_live_client, 25000);
	assert_int_equal(c.ncoord, 1);
	assert_int_equal(c.npart, 1);
	assert_int_equal(c.part[0].pool, 8);
	assert_int_equal(c.part[0].id, 1);
	assert_string_equal(c.part[0].conninfo, "dbname=a");
	px_config_free(&c);
}

/* Rule: five coordinators and a 63-character name are accepted. */
static void test_five_coordinators(void **state)
{
	(void)state;
	struct px_config c;
	char text[2048];
	snprintf(text, sizeof(text),
		 "[cluster]\nname = %s\n"
		 "[coordinator.0]\nendpoint = tcp://h:1\ndata_dir = d0\n"
		 "[coordinator.4]\nendpoint = tcp://h:5\ndata_dir = d4\n"
		 "[coordinator.2]\nendpoint = tcp://h:3\ndata_dir = d2\n"
		 "[coordinator.3]\nendpoint = tcp://h:4\ndata_dir = d3\n"
		 "[coordinator.1]\nendpoint = tcp://h:2\ndata_dir = d1\n" PART_A,
		 "A23456789012345678901234567890123456789012345678901234567890123");
	assert_int_equal(load_keyed(text, &c), 0);
	assert_int_equal(strlen(c.name), 63);
	assert_int_equal(c.ncoord, 5);
	for (int i = 0; i < 5; i++) {
		char ep[32];
		snprintf(ep, sizeof(ep), "tcp://h:%d", i + 1);
		assert_int_equal(c.coord[i].id, i);
		assert_string_equal(c.coord[i].endpoint, ep);
	}
	px_config_free(&c);
}

static void test_missing_file(void **state)
{
	(void)state;
	struct px_config c;
	char err[256];
	int rc = px_config_load("/nonexistent/px/cluster.conf", &c, err, sizeof(err));
	assert_int_not_equal(rc, 0);
	assert_string_equal(err, "/nonexistent/px/cluster.conf: cannot open: No such file or directory");
	assert_null(c.part);
	/* a tiny or absent error buffer is fine */
	rc = px_config_load("/nonexistent/px/cluster.conf", &c, err, 4);
	assert_int_not_equal(rc, 0);
	assert_string_equal(err, "/no");
	assert_int_not_equal(px_config_load("/nonexistent/px/cluster.conf", &c, NULL, 0), 0);
}

static void test_unknown_section(void **state)
{
	(void)state;
	expect_err(CLUSTER COORD0 PART_A "[coordinators.1]\n", 10, "unknown section [coordinators.1]");
	expect_err(CLUSTER "[Cluster]\n" COORD0 PART_A, 3, "unknown section [Cluster]");
	expect_err("name = x\n" CLUSTER COORD0 PART_A, 1, "key 'name' before any [section]");
	expect_err(CLUSTER "[coordinator.x]\n" COORD0 PART_A, 3, "bad section name [coordinator.x]");
	expect_err(CLUSTER "[coordinator.01]\n" COORD0 PART_A, 3, "bad section name");
	expect_err(CLUSTER "[coordinator.5]\n" COORD0 PART_A, 3, "coordinator id 5 out of range");
	expect_err(CLUSTER "[coordinator.0\n" PART_A, 3, "no closing ']'");
	expect_err(CLUSTER "[coordinator.0] x\n" PART_A, 3, "unexpected text after the section");
}

static void test_unknown_key(void **state)
{
	(void)state;
	expect_err(CLUSTER "[coordinator.0]\nendpiont = tcp://h:1\n" PART_A, 4,
		   "unknown key 'endpiont' in [coordinator.0]");
	expect_err(CLUSTER "heartbeat = 5\n" COORD0 PART_A, 3, "unknown key 'heartbeat' in [cluster]");
	expect_err(CLUSTER COORD0 PART_A "Pool = 3\n", 10, "unknown key 'Pool' in [participant.a]");
}

static void test_duplicate_key(void **state)
{
	(void)state;
	expect_err(CLUSTER COORD0 "data_dir = /x\n" PART_A, 6,
		   "duplicate key 'data_dir' in [coordinator.0] (first at line 5)");
	expect_err(CLUSTER "name = bank\n" COORD0 PART_A, 3,
		   "duplicate key 'name' in [cluster] (first at line 2)");
}

static void test_duplicate_section(void **state)
{
	(void)state;
	expect_err(CLUSTER COORD0 PART_A "[cluster]\n", 10,
		   "duplicate section [cluster] (first at line 1)");
	expect_err(CLUSTER COORD0 PART_A "[coordinator.0]\n", 10,
		   "duplicate section [coordinator.0] (first at line 3)");
	/* an empty repeat is caught too; libinih alone would merge it */
	expect_err(CLUSTER COORD0 PART_A "[participant.a]\n[participant.b]\n", 10,
		   "duplicate section [participant.a] (first at line 6)");
}

static void test_missing_cluster(void **state)
{
	(void)state;
	expect_err(COORD0 PART_A, 0, "missing required section [cluster]");
	expect_err("", 0, "missing required section [cluster]");
}

static void test_missing_keys(void **state)
{
	(void)state;
	expect_err("\n[cluster]\nheartbeat_ms = 10\n" COORD0 PART_A, 2,
		   "[cluster] is missing required key 'name'");
	expect_err(CLUSTER "[coordinator.0]\nendpoint = tcp://h:1\n" PART_A, 3,
		   "[coordinator.0] is missing required key 'data_dir'");
	expect_err(CLUSTER COORD0 "[participant.a]\nid = 1\nendpoint = tcp://h:2\n", 6,
		   "[participant.a] is missing required key 'conninfo'");
	expect_err(CLUSTER COORD0 "[participant.a]\nendpoint = tcp://h:2\nconninfo = x\n", 6,
		   "[participant.a] is missing required key 'id'");
	expect_err(CLUSTER COORD0 "[participant.a]\nid = 1\nconninfo = x\n", 6,
		   "[participant.a] is missing required key 'endpoint'");
}

static void test_bad_name(void **state)
{
	(void)state;
	expect_err("[cluster]\nname = bank_1\n" COORD0 PART_A, 2,
		   "cluster name 'bank_1' may contain only letters and digits");
	expect_err("[cluster]\nname = my bank\n" COORD0 PART_A, 2, "may contain only letters");
	expect_err("[cluster]\nname =\n" COORD0 PART_A, 2, "cluster name must not be empty");
	expect_err("[cluster]\nname = A234567890123456789012345678901234567890123456789012345678901234\n"
		   COORD0 PART_A, 2, "cluster name is too long (64 characters, at most 63)");
}

static void test_bad_number(void **state)
{
	(void)state;
	expect_err(CLUSTER "heartbeat_ms = 5x\n" COORD0 PART_A, 3,
		   "heartbeat_ms: '5x' is not a decimal number");
	expect_err(CLUSTER "heartbeat_ms = -5\n" COORD0 PART_A, 3,
		   "heartbeat_ms: '-5' is not a decimal number");
	expect_err(CLUSTER "heartbeat_ms = +5\n" COORD0 PART_A, 3, "is not a decimal number");
	expect_err(CLUSTER "heartbeat_ms = 5 0\n" COORD0 PART_A, 3, "is not a decimal number");
	expect_err(CLUSTER "heartbeat_ms = 0x10\n" COORD0 PART_A, 3, "is not a decimal number");
	expect_err(CLUSTER "heartbeat_ms =\n" COORD0 PART_A, 3, "heartbeat_ms: empty value");
	expect_err(CLUSTER "heartbeat_ms = 4294967296\n" COORD0 PART_A, 3,
		   "heartbeat_ms: 4294967296 is out of range (1..4294967295)");
	expect_err(CLUSTER "horizon_ms = 18446744073709551616\n" COORD0 PART_A, 3,
		   "horizon_ms: 18446744073709551616 is out of range");
	expect_err(CLUSTER "max_live = 0\n" COORD0 PART_A, 3, "max_live: 0 is out of range");
	expect_err(CLUSTER "max_live_per_client = 0\n" COORD0 PART_A, 3, "max_live_per_client: 0 is out of range");
	expect_err(CLUSTER "max_live = 10\nmax_live_per_client = 11\n" COORD0 PART_A, 4,
		   "max_live_per_client (11) must not exceed max_live (10)");
	expect_err(CLUSTER COORD0 PART_A "pool = 1025\n", 10, "pool: 1025 is out of range (1..1024)");
	expect_err(CLUSTER COORD0 "[participant.a]\nid = 65535\n", 7,
		   "id: 65535 is out of range (1..65534)");
	expect_err(CLUSTER COORD0 "[participant.a]\nid = 0\n", 7, "id: 0 is out of range");
}

static void test_lease_le_heartbeat(void **state)
{
	(void)state;
	expect_err(CLUSTER "heartbeat_ms = 50\nlease_ms = 40\n" COORD0 PART_A, 4,
		   "lease_ms (40) must be greater than heartbeat_ms (50)");
	expect_err(CLUSTER "lease_ms = 50\nheartbeat_ms = 50\n" COORD0 PART_A, 3,
		   "lease_ms (50) must be greater than heartbeat_ms (50)");
	/* lease_ms left at its default: the line of heartbeat_ms */
	expect_err(CLUSTER "heartbeat_ms = 300\n" COORD0 PART_A, 3,
		   "lease_ms (300) must be greater than heartbeat_ms (300)");
}

static void test_horizon_le_timeout(void **state)
{
	(void)state;
	expect_err(CLUSTER "txn_timeout_ms = 9000\nhorizon_ms = 9000\n" COORD0 PART_A, 4,
		   "horizon_ms (9000) must be greater than txn_timeout_ms (9000)");
	expect_err(CLUSTER "txn_timeout_ms = 700000\n" COORD0 PART_A, 3,
		   "horizon_ms (600000) must be greater than txn_timeout_ms (700000)");
}

#define COORD(n) "[coordinator." #n "]\nendpoint = tcp://h:700" #n "\ndata_dir = d" #n "\n"

static void test_coordinator_ids(void **state)
{
	(void)state;
	expect_err(CLUSTER COORD(0) COORD(2) COORD(4) PART_A, 0,
		   "coordinators 0..2 expected, coordinator.1 missing");
	expect_err(CLUSTER COORD(1) COORD(2) COORD(3) PART_A, 0,
		   "coordinators 0..2 expected, coordinator.0 missing");
	expect_err(CLUSTER COORD(1) PART_A, 0, "coordinator 0 expected, coordinator.0 missing");
	expect_err(CLUSTER PART_A, 0, "no [coordinator.N] section");
}

static void test_coordinator_count(void **state)
{
	(void)state;
	expect_err(CLUSTER COORD(0) COORD(1) PART_A, 0, "2 coordinators configured, need 1, 3 or 5");
	expect_err(CLUSTER COORD(0) COORD(1) COORD(2) COORD(3) PART_A, 0,
		   "4 coordinators configured, need 1, 3 or 5");
}

static void test_no_participants(void **state)
{
	(void)state;
	expect_err(CLUSTER COORD0, 0, "no [participant.NAME] section: need at least one participant");
}

static void test_duplicate_participant_id(void **state)
{
	(void)state;
	expect_err(CLUSTER COORD0 PART_A                                    /* id on line 7 */
		   "[participant.b]\nendpoint = tcp://h:9\nid = 1\nconninfo = dbname=b\n", 12,
		   "participant id 1 already used by [participant.a] (line 7)");
	/* the later line is reported whatever the file order of sections */
	expect_err(CLUSTER COORD0 "[participant.z]\nid = 2\nendpoint = tcp://h:1\nconninfo = z\n"
		   "[participant.b]\nid = 7\nendpoint = tcp://h:2\nconninfo = b\n"
		   "[participant.c]\nid = 2\nendpoint = tcp://h:3\nconninfo = c\n", 15,
		   "participant id 2 already used by [participant.z] (line 7)");
}

static void test_bad_participant_name(void **state)
{
	(void)state;
	expect_err(CLUSTER COORD0 "[participant.a.b]\n", 6, "bad participant name 'a.b'");
	expect_err(CLUSTER COORD0 "[participant.]\n", 6, "bad participant name ''");
	expect_err(CLUSTER COORD0 "[participant.a b]\n", 6, "bad participant name 'a b'");
	/* control characters are shown as '?' */
	expect_err(CLUSTER COORD0 "[participant.a\tb]\n", 6, "bad participant name 'a?b'");
	expect_err(CLUSTER COORD0
		   "[participant.p234567890123456789012345678901234567890123456789012345678901234]\n",
		   6, "bad participant name");
}

/* A 63-character participant name is fine, though libinih's own section
 * buffer holds only 49: the reader tracks sections itself. */
static void test_long_participant_name(void **state)
{
	(void)state;
	struct px_config c;
	const char *nm = "p23456789012345678901234567890123456789012345678901234567890123";
	char text[1024];
	snprintf(text, sizeof(text),
		 CLUSTER COORD0 "[participant.%s]\nid = 9\nendpoint = tcp://h:1\nconninfo = x\n", nm);
	assert_int_equal(load_keyed(text, &c), 0);
	assert_string_equal(c.part[0].name, nm);
	assert_non_null(px_config_part_by_name(&c, nm));
	px_config_free(&c);
}

static void test_bad_endpoint(void **state)
{
	(void)state;
	expect_err(CLUSTER "[coordinator.0]\nendpoint = udp://h:1\n", 4,
		   "endpoint 'udp://h:1' must start with tcp:// or ipc://");
	expect_err(CLUSTER "[coordinator.0]\nendpoint = 127.0.0.1:7000\n", 4,
		   "must start with tcp:// or ipc://");
	expect_err(CLUSTER COORD0 "[participant.a]\nendpoint = tcp://\n", 7,
		   "has no address after the scheme");
	expect_err(CLUSTER COORD0 "[participant.a]\nendpoint = tcp://a b\n", 7,
		   "contains whitespace");
	expect_err(CLUSTER "[coordinator.0]\nendpoint = tcp://h:1\ndata_dir =\n", 5,
		   "data_dir must not be empty");
}

#define PART_A_EP(ep) "[participant.a]\nid = 1\nendpoint = " ep "\nconninfo = dbname=a\n"

/* Rule: metrics = HOST:PORT, HOST a numeric IPv4 address or [IPv6]; the
 * error names the line and shows the form. */
static void test_metrics_address(void **state)
{
	(void)state;
	struct px_config c;
	int rc = load_keyed(CLUSTER COORD0 "metrics = 127.0.0.1:9464\n" PART_A "metrics = [::1]:9465\n", &c);
	if (rc != 0)
		print_error("%s\n", g_err);
	assert_int_equal(rc, 0);
	assert_string_equal(c.coord[0].metrics, "127.0.0.1:9464");
	assert_string_equal(c.part[0].metrics, "[::1]:9465");
	px_config_free(&c);
	rc = load_keyed(CLUSTER COORD0 PART_A, &c);
	assert_int_equal(rc, 0);
	assert_string_equal(c.coord[0].metrics, ""); /* absent: no endpoint */
	px_config_free(&c);
	const char *bad[] = {"localhost:9464", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:94x",
			     ":9464", "[::1:9464", "300.0.0.1:9464", "127.0.0.1:"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[400];
		snprintf(text, sizeof(text), CLUSTER COORD0 "metrics = %s\n" PART_A, bad[i]);
		expect_err(text, 6, "is not host:port");
	}
}

/* Rule: a tcp:// endpoint is HOST:PORT with PORT 1..65535 in decimal; the
 * error names the line and says what to write. */
static void test_endpoint_port(void **state)
{
	(void)state;
	expect_err(CLUSTER COORD0 PART_A_EP("tcp://h:65536"), 8,
		   "endpoint 'tcp://h:65536': port 65536 is out of range (1..65535)");
	expect_err(CLUSTER COORD0 PART_A_EP("tcp://h:99999999999999999999999"), 8,
		   "port 99999999999999999999999 is out of range (1..65535)");
	expect_err(CLUSTER "[coordinator.0]\nendpoint = tcp://127.0.0.1:0\ndata_dir = d\n" PART_A, 4,
		   "endpoint 'tcp://127.0.0.1:0': port 0 is out of range (1..65535)");
	expect_err(CLUSTER COORD0 PART_A_EP("tcp://h:71x"), 8,
		   "endpoint 'tcp://h:71x': port '71x' is not a number (1..65535)");
	expect_err(CLUSTER COORD0 PART_A_EP("tcp://h:-1"), 8, "port '-1' is not a number");
	expect_err(CLUSTER COORD0 PART_A_EP("tcp://h:"), 8, "port '' is not a number");
	expect_err(CLUSTER COORD0 PART_A_EP("tcp://h:*"), 8,
		   "port '*' (any free port) cannot be found by the other processes");
	expect_err(CLUSTER COORD0 PART_A_EP("tcp://h"), 8,
		   "endpoint 'tcp://h' has no port: write tcp://HOST:PORT");
	expect_err(CLUSTER COORD0 PART_A_EP("tcp://[::1]"), 8, "has no port");
	expect_err(CLUSTER COORD0 PART_A_EP("tcp://:7100"), 8,
		   "endpoint 'tcp://:7100' has no host before the port: write tcp://HOST:PORT");

	/* the edges, IPv6 and ZeroMQ's source;destination form are fine */
	struct px_config c;
	assert_int_equal(load_keyed(CLUSTER "[coordinator.0]\nendpoint = tcp://h:65535\ndata_dir = d\n"
				   "[participant.a]\nid = 1\nendpoint = tcp://[::1]:1\nconninfo = x\n"
				   "[participant.b]\nid = 2\nendpoint = tcp://10.0.0.9:0;10.0.0.1:7100\n"
				   "conninfo = x\n", &c), 0);
	assert_string_equal(c.coord[0].endpoint, "tcp://h:65535");
	assert_string_equal(c.part[0].endpoint, "tcp://[::1]:1");
	px_config_free(&c);
}

#define PART_B(ep) "[participant.b]\nid = 2\nendpoint = " ep "\nconninfo = dbname=b\n"

/* Rule: no two participants share an endpoint, however it is spelled; the
 * later line is reported, naming the earlier one and what to change. */
static void test_endpoint_two_participants(void **state)
{
	(void)state;
	/* PART_A's endpoint is on line 8, PART_B's on line 12 */
	expect_err(CLUSTER COORD0 PART_A PART_B("tcp://127.0.0.1:7100"), 12,
		   "endpoint 'tcp://127.0.0.1:7100' of [participant.b] is the same address as "
		   "'tcp://127.0.0.1:7100' of [participant.a] (line 8)");
	expect_err(CLUSTER COORD0 PART_A PART_B("tcp://127.0.0.1:7100"), 12,
		   "give one of them another port");
	expect_err(CLUSTER COORD0 PART_A PART_B("tcp://localhost:7100"), 12,
		   "'tcp://localhost:7100' of [participant.b] is the same address as 'tcp://127.0.0.1:7100'");
	expect_err(CLUSTER COORD0 PART_A PART_B("tcp://LocalHost:7100"), 12, "same address");
	expect_err(CLUSTER COORD0 PART_A PART_B("tcp://127.0.0.1:07100"), 12, "same address");
	expect_err(CLUSTER COORD0 PART_A PART_B("tcp://127.1:7100"), 12, "same address");
	expect_err(CLUSTER COORD0 PART_A PART_B("tcp://10.0.0.9:0;127.0.0.1:7100"), 12, "same address");
	/* a wildcard binds the port on every address */
	expect_err(CLUSTER COORD0 PART_A PART_B("tcp://*:7100"), 12,
		   "'tcp://*:7100' of [participant.b] and 'tcp://127.0.0.1:7100' of [participant.a] "
		   "(line 8) share port 7100, and 'tcp://*:7100' binds every address");
	expect_err(CLUSTER COORD0 PART_B("tcp://0.0.0.0:7100") PART_A, 12,
		   "'tcp://127.0.0.1:7100' of [participant.a] and 'tcp://0.0.0.0:7100' of "
		   "[participant.b] (line 8) share port 7100");
	expect_err(CLUSTER COORD0
		   "[participant.a]\nid = 1\nendpoint = tcp://[::1]:7100\nconninfo = a\n"
		   PART_B("tcp://[0:0::1]:7100"), 12, "same address");
	expect_err(CLUSTER COORD0
		   "[participant.a]\nid = 1\nendpoint = ipc:///run/px/a\nconninfo = a\n"
		   PART_B("ipc:///run/px/a"), 12,
		   "'ipc:///run/px/a' of [participant.b] is the same address as 'ipc:///run/px/a' of "
		   "[participant.a] (line 8): every coordinator and participant needs an endpoint of "
		   "its own");
	expect_err(CLUSTER COORD0
		   "[participant.a]\nid = 1\nendpoint = ipc:///run/px/a\nconninfo = a\n"
		   PART_B("ipc:///run/px/a"), 12, "give one of them another path");

	/* the same port on other hosts, another port, another path: fine */
	struct px_config c;
	assert_int_equal(load_keyed(CLUSTER COORD0 PART_A PART_B("tcp://10.0.0.2:7100")
				   "[participant.c]\nid = 3\nendpoint = tcp://127.0.0.1:7101\nconninfo = c\n"
				   "[participant.d]\nid = 4\nendpoint = ipc:///run/px/d\nconninfo = d\n"
				   "[participant.e]\nid = 5\nendpoint = ipc:///run/px/e\nconninfo = e\n"
				   "[participant.f]\nid = 6\nendpoint = tcp://[::1]:7100\nconninfo = f\n", &c), 0);
	assert_int_equal(c.npart, 6);
	px_config_free(&c);
}

/* Rule: no participant on a coordinator's endpoint, and no two coordinators
 * on one. */
static void test_endpoint_coordinators(void **state)
{
	(void)state;
	/* COORD0's endpoint (tcp://127.0.0.1:7000) is on line 4 */
	expect_err(CLUSTER COORD0 PART_B("tcp://localhost:7000"), 8,
		   "'tcp://localhost:7000' of [participant.b] is the same address as "
		   "'tcp://127.0.0.1:7000' of [coordinator.0] (line 4)");
	/* whichever comes first in the file */
	expect_err(CLUSTER PART_B("tcp://127.0.0.1:7000") COORD0, 8,
		   "'tcp://127.0.0.1:7000' of [coordinator.0] is the same address as "
		   "'tcp://127.0.0.1:7000' of [participant.b] (line 5)");
	expect_err(CLUSTER COORD(0) COORD(1)
		   "[coordinator.2]\nendpoint = tcp://H:7001\ndata_dir = d2\n" PART_A, 10,
		   "'tcp://H:7001' of [coordinator.2] is the same address as 'tcp://h:7001' of "
		   "[coordinator.1] (line 7)");
	/* the first clash in the file is the one reported */
	expect_err(CLUSTER COORD0 PART_A PART_B("tcp://127.0.0.1:7000")
		   "[participant.c]\nid = 3\nendpoint = tcp://127.0.0.1:7100\nconninfo = c\n", 12,
		   "of [coordinator.0] (line 4)");
}

/* Rule: lines libinih would misread are refused with their line number. */
static void test_line_level(void **state)
{
	(void)state;
	expect_err(CLUSTER "  heartbeat_ms = 10\n" COORD0 PART_A, 3, "indented line");
	expect_err(CLUSTER "this is not ini\n" COORD0 PART_A, 3, "syntax error");
	char text[1024];
	char longv[300];
	memset(longv, 'a', 250);
	longv[250] = '\0';
	snprintf(text, sizeof(text), CLUSTER COORD0 "[participant.a]\nconninfo = %s\n", longv);
	expect_err(text, 7, "line is too long (261 characters, at most 197)");
	/* the first error wins, whoever finds it (libinih or the checks) */
	expect_err(CLUSTER "junk\nbogus = 1\n" COORD0 PART_A, 3, "syntax error");
	expect_err(CLUSTER "bogus = 1\njunk\n" COORD0 PART_A, 3, "unknown key 'bogus'");

	struct px_config c;
	static const char nul[] = CLUSTER "heartbeat_ms = 1\0000\n" COORD0 PART_A;
	assert_int_not_equal(load_bytes(nul, sizeof(nul) - 1, &c), 0);
	assert_non_null(strstr(g_err, ":3: line contains a NUL byte"));
	assert_null(c.part);

	/* comments and blank lines may be indented */
	assert_int_equal(load_keyed("  ; indented comment\n\t\n" CLUSTER COORD0 PART_A, &c), 0);
	px_config_free(&c);
}

/* Rule: security = curve is the default and needs every coordinator's and
 * participant's public key, each its own; security = none is refused
 * unless every endpoint is loopback or ipc. */
static void test_security(void **state)
{
	(void)state;
	struct px_config c;
	char k0[PX_KEY_Z85_LEN + 1], k1[PX_KEY_Z85_LEN + 1], text[2048];
	test_key(0, k0);
	test_key(1, k1);
	/* default curve, no keys: the section's header line */
	expect_err(CLUSTER COORD0 PART_A, 3, "[coordinator.0] is missing required key 'public_key' (security = curve");
	snprintf(text, sizeof(text), CLUSTER COORD0 "public_key = %s\n" PART_A, k0);
	expect_err(text, 7, "[participant.a] is missing required key 'public_key'");
	/* keys, both read back */
	snprintf(text, sizeof(text),
		 "[cluster]\nname = b\nclient_keys = /etc/px/clients\nclient_key_file = /etc/px/me.key\n"
		 "[coordinator.0]\nendpoint = tcp://10.1.1.1:7000\ndata_dir = d\npublic_key = %s\nkey_file = /k/c0.key\n"
		 "[participant.a]\nid = 1\nendpoint = tcp://10.1.1.2:7100\nconninfo = x\npublic_key = %s\n"
		 "key_file = /k/a.key\n",
		 k0, k1);
	assert_int_equal(load_text(text, &c), 0);
	assert_int_equal(c.security, PX_SECURITY_CURVE);
	uint8_t want[PX_KEY_LEN];
	assert_int_equal(px_z85_decode_key(k1, PX_KEY_Z85_LEN, want), 0);
	assert_memory_equal(c.part[0].public_key, want, PX_KEY_LEN);
	assert_string_equal(c.coord[0].key_file, "/k/c0.key");
	assert_string_equal(c.part[0].key_file, "/k/a.key");
	assert_string_equal(c.client_keys, "/etc/px/clients");
	assert_string_equal(c.client_key_file, "/etc/px/me.key");
	px_config_free(&c);
	/* one key for two roles */
	snprintf(text, sizeof(text), CLUSTER COORD0 "public_key = %s\n" PART_A "public_key = %s\n", k0, k0);
	expect_err(text, 11, "public_key is also the key of [coordinator.0]");
	/* not a key */
	expect_err(CLUSTER COORD0 "public_key = abc\n" PART_A, 6, "public_key 'abc' is not a CURVE public key");
	expect_err(CLUSTER COORD0 "public_key = ;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;;\n" PART_A, 6,
		   "is not a CURVE public key");
	expect_err("[cluster]\nname = b\nsecurity = tls\n" COORD0 PART_A, 3, "security: 'tls' is neither 'curve' nor 'none'");
	/* none: loopback and ipc only */
	assert_int_equal(load_text("[cluster]\nname = b\nsecurity = none\n" COORD0
				   "[participant.a]\nid = 1\nendpoint = ipc:///tmp/a\nconninfo = x\n"
				   "[participant.b]\nid = 2\nendpoint = tcp://localhost:9\nconninfo = x\n"
				   "[participant.c]\nid = 3\nendpoint = tcp://[::1]:9\nconninfo = x\n"
				   "[participant.d]\nid = 4\nendpoint = tcp://127.9.9.9:9\nconninfo = x\n",
				   &c),
			 0);
	assert_int_equal(c.security, PX_SECURITY_NONE);
	px_config_free(&c);
	expect_err("[cluster]\nname = b\nsecurity = none\n" COORD0 PART_A_EP("tcp://10.0.0.1:7100"), 9,
		   "endpoint 'tcp://10.0.0.1:7100' is not loopback, and security = none (line 3)");
	expect_err("[cluster]\nname = b\nsecurity = none\n[coordinator.0]\nendpoint = tcp://*:7000\ndata_dir = d\n" PART_A, 5,
		   "endpoint 'tcp://*:7000' is not loopback");
	expect_err("[cluster]\nname = b\nsecurity = none\n[coordinator.0]\nendpoint = tcp://db1:7000\ndata_dir = d\n" PART_A, 5,
		   "remove 'security = none'");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_example),
		cmocka_unit_test(test_security),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_five_coordinators),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_unknown_section),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_duplicate_key),
		cmocka_unit_test(test_duplicate_section),
		cmocka_unit_test(test_missing_cluster),
		cmocka_unit_test(test_missing_keys),
		cmocka_unit_test(test_bad_name),
		cmocka_unit_test(test_bad_number),
		cmocka_unit_test(test_lease_le_heartbeat),
		cmocka_unit_test(test_horizon_le_timeout),
		cmocka_unit_test(test_coordinator_ids),
		cmocka_unit_test(test_coordinator_count),
		cmocka_unit_test(test_no_participants),
		cmocka_unit_test(test_duplicate_participant_id),
		cmocka_unit_test(test_bad_participant_name),
		cmocka_unit_test(test_long_participant_name),
		cmocka_unit_test(test_bad_endpoint),
		cmocka_unit_test(test_endpoint_port),
		cmocka_unit_test(test_metrics_address),
		cmocka_unit_test(test_endpoint_two_participants),
		cmocka_unit_test(test_endpoint_coordinators),
		cmocka_unit_test(test_line_level),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
