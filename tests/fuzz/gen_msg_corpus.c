/*
 * gen_msg_corpus.c - write the seed inputs of the fuzz_msg target.
 *
 *     cc -std=c11 -D_POSIX_C_SOURCE=200809L -Icommon \
 *        tests/fuzz/gen_msg_corpus.c common/px_msg.c -o /tmp/gen_msg_corpus
 *     /tmp/gen_msg_corpus tests/fuzz/corpus/msg
 *
 * Writes one valid frame of every message type (seed-<type>.bin), a few
 * edge-case valid frames, and a few malformed ones (bad-*.bin).  The rest
 * of the corpus directory is grown by the fuzzer itself.  Running it again
 * overwrites the seeds with identical bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "px_byte.h"
#include "px_msg.h"
#include "px_update.h"

#define STR(lit) px_str_of(lit, (uint32_t)(sizeof(lit) - 1))
#define BUF_CAP 8192

static void write_file(const char *dir, const char *name, const uint8_t *b,
		       size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(b, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static size_t encode(const struct px_msg *m, uint8_t *buf)
{
	size_t n = 0;
	int err = px_encode(m, buf, BUF_CAP, &n);

	if (err) {
		fprintf(stderr, "encode %s: %s\n", px_type_name(m->type),
			px_codec_strerror(err));
		exit(1);
	}
	return n;
}

static void emit(const char *dir, const char *prefix, const struct px_msg *m)
{
	uint8_t buf[BUF_CAP];
	char name[64];

	snprintf(name, sizeof(name), "%s-%s.bin", prefix,
		 px_type_name(m->type));
	write_file(dir, name, buf, encode(m, buf));
}

static void set_pset(struct px_pset *s, unsigned n, unsigned first)
{
	unsigned i;

	s->n = (uint16_t)n;
	for (i = 0; i < n; i++)
		s->rm[i] = (uint16_t)(first + i);
}

static uint32_t list(uint8_t *buf, size_t cap, const struct px_str *v,
		     unsigned n)
{
	struct px_wcur w;
	unsigned i;

	px_wcur_init(&w, buf, cap);
	for (i = 0; i < n; i++)
		px_put_str(&w, v[i].p, v[i].len);
	return (uint32_t)(w.p - buf);
}

int main(int argc, char **argv)
{
	struct px_str gid = STR("pxc-0001-0000000042");
	struct px_msg *m = calloc(1, sizeof(*m));
	uint8_t cols[256], cells[256], buf[BUF_CAP];
	char maxgid[PX_GID_MAX];
	const char *dir;
	size_t n;
	int t;

	if (argc != 2 || !m) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	memset(maxgid, 'G', sizeof(maxgid));

	for (t = 1; t < PX_MSG_TYPE_MAX_; t++) {
		memset(m, 0, sizeof(*m));
		m->type = (uint8_t)t;
		switch (t) {
		case PX_MSG_1A:
			m->u.m1a.gid = gid;
			m->u.m1a.rm = 2;
			m->u.m1a.bal = 7;
			m->u.m1a.pset.n = 1;
			m->u.m1a.pset.rm[0] = 2;
			break;
		case PX_MSG_1B:
			m->u.m1b.gid = gid;
			m->u.m1b.rm = 3;
			m->u.m1b.bal = m->u.m1b.mbal = 9;
			m->u.m1b.vbal = 4;
			m->u.m1b.vval = PX_VAL_PREPARED;
			m->u.m1b.flags = PX_ACC_OK | PX_ACC_DECIDED;
			m->u.m1b.outcome = PX_OUT_COMMIT;
			set_pset(&m->u.m1b.pset, 3, 1);
			break;
		case PX_MSG_2A:
			m->u.m2a.gid = gid;
			m->u.m2a.rm = 1;
			m->u.m2a.val = PX_VAL_PREPARED;
			set_pset(&m->u.m2a.pset, 3, 1);
			break;
		case PX_MSG_2B:
			m->u.m2b.gid = gid;
			m->u.m2b.rm = 1;
			m->u.m2b.val = PX_VAL_ABORTED;
			m->u.m2b.flags = PX_ACC_OK;
			set_pset(&m->u.m2b.pset, 3, 1);
			break;
		case PX_MSG_DECISION:
			m->u.decision.gid = gid;
			m->u.decision.outcome = PX_OUT_COMMIT;
			set_pset(&m->u.decision.pset, 3, 1);
			break;
		case PX_MSG_DECISION_ACK:
			m->u.decision_ack.gid = gid;
			m->u.decision_ack.rm = 2;
			m->u.decision_ack.outcome = PX_OUT_COMMIT;
			break;
		case PX_MSG_FORGET:
			m->u.forget.gid = gid;
			m->u.forget.outcome = PX_OUT_ABORT;
			break;
		case PX_MSG_HEARTBEAT:
			m->u.heartbeat.replica = 1;
			m->u.heartbeat.leader = 0xFF;
			m->u.heartbeat.maxbal = 12;
			m->u.heartbeat.horizon = 1000;
			m->u.heartbeat.hears = 0x03;
			m->u.heartbeat.heard_by = 0x01;
			break;
		case PX_MSG_SYNC_REQ:
			m->u.sync_req.bal = 12;
			break;
		case PX_MSG_SYNC:
			m->u.sync.cursor = 99;
			m->u.sync.count = 2;
			m->u.sync.e[0].gid = STR("pxc-0001-0000000040");
			set_pset(&m->u.sync.e[0].pset, 2, 1);
			m->u.sync.e[1].gid = gid;
			m->u.sync.e[1].outcome = PX_OUT_ABORT;
			set_pset(&m->u.sync.e[1].pset, 3, 1);
			break;
		case PX_MSG_COMMIT_REQ:
			m->u.commit_req.req = 1001;
			m->u.commit_req.gid = gid;
			m->u.commit_req.wait = PX_WAIT_APPLIED;
			set_pset(&m->u.commit_req.pset, 2, 1);
			break;
		case PX_MSG_ROLLBACK_REQ:
			m->u.rollback_req.req = 1002;
			m->u.rollback_req.gid = gid;
			set_pset(&m->u.rollback_req.pset, 1, 2);
			break;
		case PX_MSG_STATUS_REQ:
			m->u.status_req.req = 1003;
			m->u.status_req.gid = gid;
			break;
		case PX_MSG_OUTCOME:
			m->u.outcome.req = 1001;
			m->u.outcome.gid = gid;
			m->u.outcome.status = PX_ST_NOT_LEADER;
			m->u.outcome.leader = 2;
			m->u.outcome.reason = STR("ask replica 2");
			break;
		case PX_MSG_EXEC:
			m->u.exec.req = 1004;
			m->u.exec.gid = gid;
			m->u.exec.stmt = 1;
			m->u.exec.timeout_ms = 2000;
			m->u.exec.sql =
				STR("UPDATE acct SET bal = $1 WHERE id = $2");
			m->u.exec.nparams = 3;
			m->u.exec.params[0] = STR("100");
			m->u.exec.params[1] = STR("");
			m->u.exec.params[2] = px_str_of(NULL, PX_NULL_LEN);
			break;
		case PX_MSG_EXEC_RESULT: {
			const struct px_str c[] = {STR("id"), STR("owner")};
			const struct px_str v[] = {
				STR("1"), STR("alice"), STR("2"),
				px_str_of(NULL, PX_NULL_LEN)};
			struct px_mexec_result *r = &m->u.exec_result;

			r->req = 1004;
			r->gid = gid;
			r->status = PX_EXEC_OK;
			r->ncols = 2;
			r->cols = cols;
			r->cols_len = list(cols, sizeof(cols), c, 2);
			r->nrows = 2;
			r->cells = cells;
			r->cells_len = list(cells, sizeof(cells), v, 4);
			break;
		}
		case PX_MSG_PREPARE:
			m->u.prepare.gid = gid;
			set_pset(&m->u.prepare.pset, 3, 1);
			break;
		case PX_MSG_VOTE:
			m->u.vote.gid = gid;
			m->u.vote.rm = 2;
			m->u.vote.val = PX_VAL_ABORTED;
			m->u.vote.reason = STR("0A000 cannot PREPARE a transaction that has executed LISTEN");
			break;
		case PX_MSG_PING:
			m->u.ping.req = 1005;
			break;
		case PX_MSG_PONG:
			m->u.pong.req = 1005;
			m->u.pong.kind = PX_NODE_AGENT;
			m->u.pong.id = 2;
			m->u.pong.cluster = STR("bank");
			m->u.pong.name = STR("savings");
			break;
		}
		emit(dir, "seed", m);
	}

	/* valid edge cases */
	memset(m, 0, sizeof(*m));
	m->type = PX_MSG_2A;
	m->u.m2a.gid = px_str_of(maxgid, PX_GID_MAX);
	m->u.m2a.val = PX_VAL_ABORTED;
	m->u.m2a.bal = UINT32_MAX;
	set_pset(&m->u.m2a.pset, PX_PSET_MAX, 100);
	emit(dir, "edge-maxgid-maxpset", m);

	memset(m, 0, sizeof(*m));
	m->type = PX_MSG_1B;
	m->u.m1b.gid = gid;
	m->u.m1b.flags = PX_ACC_BELOW_HORIZON;
	emit(dir, "edge-emptypset", m);

	memset(m, 0, sizeof(*m));
	m->type = PX_MSG_EXEC_RESULT;
	m->u.exec_result.gid = gid;
	m->u.exec_result.status = PX_EXEC_SQLERR;
	m->u.exec_result.sqlstate = STR("40001");
	m->u.exec_result.reason = STR("could not serialize access");
	emit(dir, "edge-sqlerr", m);

	memset(m, 0, sizeof(*m));
	m->type = PX_MSG_SYNC;
	m->u.sync.done = 1;
	emit(dir, "edge-empty", m);

	/* malformed frames, derived from a valid 2a */
	memset(m, 0, sizeof(*m));
	m->type = PX_MSG_2A;
	m->u.m2a.gid = gid;
	m->u.m2a.val = PX_VAL_PREPARED;
	set_pset(&m->u.m2a.pset, 3, 1);
	n = encode(m, buf);

	buf[0] ^= 0xFF;
	write_file(dir, "bad-magic.bin", buf, n);
	buf[0] ^= 0xFF;
	buf[2] = PX_VERSION + 1;
	write_file(dir, "bad-version.bin", buf, n);
	buf[2] = PX_VERSION;
	buf[3] = PX_MSG_TYPE_MAX_;
	write_file(dir, "bad-type.bin", buf, n);
	buf[3] = PX_MSG_2A;
	write_file(dir, "bad-truncated.bin", buf, n - 3);
	px_le32_store(buf + 4, 0xFFFFFFF0u);
	write_file(dir, "bad-hugelen.bin", buf, n);
	px_le32_store(buf + 4, (uint32_t)(n - PX_HDR_LEN));
	/* pset ids swapped: 2, 1, 3 */
	px_le16_store(buf + n - 6, 2);
	px_le16_store(buf + n - 4, 1);
	write_file(dir, "bad-pset-order.bin", buf, n);
	px_le16_store(buf + n - 6, 1);
	px_le16_store(buf + n - 4, 2);
	/* string length that would wrap */
	px_le32_store(buf + PX_HDR_LEN, 0xFFFFFFF0u);
	write_file(dir, "bad-gidlen.bin", buf, n);

	free(m);
	return 0;
}
