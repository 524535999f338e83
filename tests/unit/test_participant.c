/*
 * test_participant.c - unit tests of the participant agent core
 * (participant/pa_core.c).
 *
 * The driver plays the agent daemon: it delivers messages (encoded and
 * decoded again, so the core sees views into a real frame), answers the
 * database actions of update.db by token, and decodes update.now so each
 * test can assert what the agent sent.
 */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pa_core.h"
#include "px_gid.h"
#include "px_msg.h"
#include "px_update.h"

#define T0 1000000u
#define RM 1u          /* the participant under test */
#define NREP 3u
#define IDLE_MS 5000u
#define RESEND_MS 200u
#define SCRATCH (64u * 1024)

#define REPLICA(i) px_addr_of(PX_NODE_REPLICA, (i))
#define CLIENT(i) px_addr_of(PX_NODE_CLIENT, (i))
#define SQL "UPDATE acct SET bal = bal - 1 WHERE id = 7"

/* ------------------------------------------------------------ driver */

struct pdrv {
	struct pa_core *c;
	struct px_update u;
	uint64_t now;
	uint8_t leader; /* the replica PREPAREs come from */
};

static void p_open(struct pdrv *d, uint32_t max_open, uint32_t scan_ms)
{
	struct pa_config cfg = {
		.rm = RM,
		.nreplicas = NREP,
		.idle_timeout_ms = IDLE_MS,
		.resend_ms = RESEND_MS,
		.scan_ms = scan_ms,
		.max_open = max_open,
	};
	memset(d, 0, sizeof(*d));
	d->now = T0;
	d->c = pa_core_new(&cfg);
	assert_non_null(d->c);
	px_update_init(&d->u);
}

static void p_close(struct pdrv *d)
{
	pa_core_destroy(&d->c);
	px_update_free(&d->u);
}

static struct px_str mkgid(char *buf, uint64_t seq)
{
	size_t n = px_gid_make(buf, 64, "t", T0, 0x0123456789abcdefULL, seq);
	assert_true(n > 0);
	return px_str_of(buf, (uint32_t)n);
}

static int addr_eq(struct px_addr a, struct px_addr b)
{
	return a.kind == b.kind && a.id == b.id;
}

/* Deliver m from `from`, encoded and decoded from a block of its size. */
static void p_msg(struct pdrv *d, struct px_addr from, const struct px_msg *m)
{
	uint8_t *scratch = malloc(SCRATCH);
	struct px_msg *dec = malloc(sizeof(*dec));
	size_t n = 0;
	assert_non_null(scratch);
	assert_non_null(dec);
	assert_int_equal(px_encode(m, scratch, SCRATCH, &n), PX_EOK);
	uint8_t *frame = malloc(n);
	assert_non_null(frame);
	memcpy(frame, scratch, n);
	free(scratch);
	assert_int_equal(px_decode(frame, n, dec), PX_EOK);
	struct pa_event ev = {.kind = PA_EV_MSG, .now = d->now, .from = from, .msg = dec};
	pa_core_step(d->c, &ev, &d->u);
	free(frame);
	free(dec);
}

static void p_timer(struct pdrv *d, uint64_t now)
{
	d->now = now;
	struct pa_event ev = {.kind = PA_EV_TIMER, .now = now};
	pa_core_step(d->c, &ev, &d->u);
}

/* Report the result of a database action. */
static void p_db(struct pdrv *d, uint64_t token, uint8_t status, uint8_t prepared, const struct px_msg *result)
{
	struct pa_event ev = {.kind = PA_EV_DB, .now = d->now, .token = token, .status = status,
			      .prepared = prepared, .result = result};
	pa_core_step(d->c, &ev, &d->u);
}

/* The only database action in the update; asserts its kind and gid. */
static const struct pa_db_action *only_db(const struct px_update *u, uint8_t kind, struct px_str gid)
{
	assert_int_equal(u->ndb, 1);
	const struct pa_db_action *a = &u->db[0];
	assert_int_equal(a->kind, kind);
	assert_true(a->token != 0);
	if (gid.p)
		assert_true(px_str_eq(px_str_of((const char *)px_update_ptr(u, a->gid_off), a->gid_len), gid));
	return a;
}

static size_t nsent(const struct px_update *u, uint8_t type)
{
	size_t cnt = 0;
	for (size_t i = 0; i < u->nnow; i++) {
		struct px_msg m;
		assert_int_equal(px_decode(px_update_ptr(u, u->now[i].off), u->now[i].len, &m), PX_EOK);
		if (m.type == type)
			cnt++;
	}
	return cnt;
}

static int sent_to(const struct px_update *u, uint8_t type, struct px_addr to, struct px_msg *m)
{
	for (size_t i = 0; i < u->nnow; i++) {
		assert_int_equal(px_decode(px_update_ptr(u, u->now[i].off), u->now[i].len, m), PX_EOK);
		if (m->type == type && addr_eq(u->now[i].to, to))
			return 1;
	}
	return 0;
}

/* Assert a ballot-0 2a(val) from RM for gid went to every replica. */
static void assert_voted(const struct px_update *u, struct px_str gid, uint8_t val, const struct px_pset *ps)
{
	struct px_msg m;
	assert_int_equal(nsent(u, PX_MSG_2A), NREP);
	for (uint8_t i = 0; i < NREP; i++) {
		assert_true(sent_to(u, PX_MSG_2A, REPLICA(i), &m));
		assert_true(px_str_eq(m.u.m2a.gid, gid));
		assert_int_equal(m.u.m2a.rm, RM);
		assert_int_equal(m.u.m2a.bal, 0);
		assert_int_equal(m.u.m2a.val, val);
		assert_true(px_pset_eq(&m.u.m2a.pset, ps));
	}
}

/* ------------------------------------------------------ message builders */

static struct px_pset PSET12 = {2, {1, 2}};

static struct px_msg mexec(struct px_str gid, uint32_t stmt)
{
	struct px_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PX_MSG_EXEC;
	m.u.exec.req = 100 + stmt;
	m.u.exec.gid = gid;
	m.u.exec.stmt = stmt;
	m.u.exec.sql = px_str_of(SQL, (uint32_t)strlen(SQL));
	return m;
}

static struct px_msg mresult(struct px_str gid, uint64_t req, uint8_t status)
{
	struct px_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PX_MSG_EXEC_RESULT;
	m.u.exec_result.req = req;
	m.u.exec_result.gid = gid;
	m.u.exec_result.status = status;
	if (status == PX_EXEC_SQLERR) {
		m.u.exec_result.sqlstate = px_str_of("23505", 5);
		m.u.exec_result.reason = px_str_of("duplicate key", 13);
	}
	return m;
}

static struct px_msg mprepare(struct px_str gid, uint8_t abort)
{
	struct px_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PX_MSG_PREPARE;
	m.u.prepare.gid = gid;
	m.u.prepare.abort = abort;
	m.u.prepare.pset = PSET12;
	return m;
}

static struct px_msg mdecision(struct px_str gid, uint8_t outcome)
{
	struct px_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PX_MSG_DECISION;
	m.u.decision.gid = gid;
	m.u.decision.outcome = outcome;
	m.u.decision.pset = PSET12;
	return m;
}

static struct px_msg moutcome(struct px_str gid, uint64_t req, uint8_t status)
{
	struct px_msg m;
	memset(&m, 0, sizeof(m));
	m.type = PX_MSG_OUTCOME;
	m.u.outcome.req = req;
	m.u.outcome.gid = gid;
	m.u.outcome.status = status;
	m.u.outcome.leader = 0;
	return m;
}

/* ------------------------------------------------------------ scenarios */

/* EXEC stmt 0 of gid from client 9 and answer it with `status`. */
static void exec0(struct pdrv *d, struct px_str gid, uint8_t status)
{
	struct px_msg m = mexec(gid, 0);
	p_msg(d, CLIENT(9), &m);
	uint64_t tok = only_db(&d->u, PA_DB_EXEC, gid)->token;
	px_update_reset(&d->u);
	struct px_msg r = mresult(gid, 100, status == PA_DB_OK ? PX_EXEC_OK : PX_EXEC_SQLERR);
	p_db(d, tok, status, 0, &r);
	px_update_reset(&d->u);
}

/* exec0 OK, then PREPARE; returns the PA_DB_PREPARE token. */
static uint64_t exec_and_prepare(struct pdrv *d, struct px_str gid)
{
	exec0(d, gid, PA_DB_OK);
	struct px_msg m = mprepare(gid, 0);
	p_msg(d, REPLICA(d->leader), &m);
	uint64_t tok = only_db(&d->u, PA_DB_PREPARE, gid)->token;
	assert_int_equal(nsent(&d->u, PX_MSG_2A), 0);
	px_update_reset(&d->u);
	return tok;
}

/* A gid prepared and voted for. */
static void prepared(struct pdrv *d, struct px_str gid)
{
	uint64_t tok = exec_and_prepare(d, gid);
	p_db(d, tok, PA_DB_OK, 0, NULL);
	assert_int_equal(nsent(&d->u, PX_MSG_2A), NREP);
	px_update_reset(&d->u);
}

/* Report a failed action with PostgreSQL's words. */
static void p_db_why(struct pdrv *d, uint64_t token, uint8_t status, const char *why)
{
	struct pa_event ev = {.kind = PA_EV_DB, .now = d->now, .token = token, .status = status,
			      .reason = px_str_of(why, (uint32_t)strlen(why))};
	pa_core_step(d->c, &ev, &d->u);
}

/* The session of gid's open transaction ended. */
static void p_lost(struct pdrv *d, struct px_str gid)
{
	struct pa_event ev = {.kind = PA_EV_LOST, .now = d->now, .gid = gid, .reason = px_str_of("terminated", 10)};
	pa_core_step(d->c, &ev, &d->u);
}

static int has_db(const struct px_update *u, uint8_t kind)
{
	for (size_t i = 0; i < u->ndb; i++)
		if (u->db[i].kind == kind)
			return 1;
	return 0;
}

/* ================================================================ tests */

/* Rule: EXEC stmt 0 runs on the database; its result goes to the client. */
static void test_exec_runs_and_replies(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	struct px_msg m, out;
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	m = mexec(g, 0);
	p_msg(&d, CLIENT(9), &m);
	const struct pa_db_action *a = only_db(&d.u, PA_DB_EXEC, g);
	assert_int_equal(px_decode(px_update_ptr(&d.u, a->msg_off), a->msg_len, &out), PX_EOK);
	assert_int_equal(out.type, PX_MSG_EXEC);
	assert_int_equal(out.u.exec.stmt, 0);
	assert_true(px_str_eq(out.u.exec.sql, m.u.exec.sql));
	assert_int_equal(d.u.nnow, 0);
	uint64_t tok = a->token;
	px_update_reset(&d.u);

	struct px_msg r = mresult(g, 100, PX_EXEC_OK);
	p_db(&d, tok, PA_DB_OK, 0, &r);
	assert_true(sent_to(&d.u, PX_MSG_EXEC_RESULT, CLIENT(9), &out));
	assert_int_equal(out.u.exec_result.req, 100);
	assert_int_equal(out.u.exec_result.status, PX_EXEC_OK);
	assert_true(px_str_eq(out.u.exec_result.gid, g));
	assert_int_equal(pa_core_tracked(d.c), 1);
	p_close(&d);
}

/* Rule: a PREPARE that arrives while the statement runs goes to the
 * driver at once (pipelined behind it); the statement's result goes to the
 * client (lazily when the client said it takes results with the ack), and
 * the PREPARE's result alone decides the vote: `prepared` when it
 * succeeded, `aborted` when the failed statement made it fail. */
static void test_prepare_pipelined_behind_statement(void **state)
{
	(void)state;
	for (int v = 0; v < 4; v++) {
		int fail = v & 1, late = v >> 1;
		struct pdrv d;
		char gb[64];
		struct px_msg m, out;
		p_open(&d, 10, 0);
		struct px_str g = mkgid(gb, 1);
		m = mexec(g, 0);
		p_msg(&d, CLIENT(9), &m);
		uint64_t etok = only_db(&d.u, PA_DB_EXEC, g)->token;
		m = mprepare(g, late ? PX_PREPARE_LATE_RESULTS : 0);
		p_msg(&d, CLIENT(9), &m); /* same batch: the statement has not answered */
		assert_int_equal(d.u.ndb, 2);
		assert_int_equal(d.u.db[1].kind, PA_DB_PREPARE);
		uint64_t ptok = d.u.db[1].token;
		assert_true(ptok != etok);
		px_update_reset(&d.u);

		struct px_msg r = mresult(g, 100, fail ? PX_EXEC_SQLERR : PX_EXEC_OK);
		p_db(&d, etok, fail ? PA_DB_FAILED : PA_DB_OK, 0, &r);
		assert_true(sent_to(&d.u, PX_MSG_EXEC_RESULT, CLIENT(9), &out));
		assert_int_equal(d.u.nnow, 1);
		assert_int_equal(d.u.now[0].lazy, late);
		assert_int_equal(nsent(&d.u, PX_MSG_2A), 0); /* nothing voted before PREPARE answers */
		assert_int_equal(d.u.ndb, 0);                /* no second PREPARE, no ROLLBACK */
		px_update_reset(&d.u);

		p_db(&d, ptok, fail ? PA_DB_FAILED : PA_DB_OK, 0, NULL);
		assert_true(nsent(&d.u, PX_MSG_2A) >= 1);
		for (size_t k = 0; k < d.u.nnow; k++) {
			struct px_msg v;
			assert_int_equal(px_decode(px_update_ptr(&d.u, d.u.now[k].off), d.u.now[k].len, &v), PX_EOK);
			if (v.type == PX_MSG_2A)
				assert_int_equal(v.u.m2a.val, fail ? PX_VAL_ABORTED : PX_VAL_PREPARED);
		}
		p_close(&d);
	}
}

/* Rule: a duplicate EXEC (same stmt) is neither run again nor answered. */
static void test_exec_duplicate_ignored(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	exec0(&d, g, PA_DB_OK);
	struct px_msg m = mexec(g, 0);
	p_msg(&d, CLIENT(9), &m);
	assert_int_equal(d.u.ndb, 0);
	assert_int_equal(d.u.nnow, 0);
	/* control: the next statement does run */
	m = mexec(g, 1);
	p_msg(&d, CLIENT(9), &m);
	only_db(&d.u, PA_DB_EXEC, g);
	p_close(&d);
}

/* Rule: a statement k > 0 of a gid the agent does not have is refused. */
static void test_exec_unknown_gid_refused(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	struct px_msg m, out;
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	m = mexec(g, 1);
	p_msg(&d, CLIENT(9), &m);
	assert_int_equal(d.u.ndb, 0);
	assert_true(sent_to(&d.u, PX_MSG_EXEC_RESULT, CLIENT(9), &out));
	assert_int_equal(out.u.exec_result.req, 101);
	assert_int_equal(out.u.exec_result.status, PX_EXEC_ERROR);
	assert_int_equal(pa_core_tracked(d.c), 0);
	p_close(&d);
}

/* Rule: a statement out of order dooms the transaction: it votes aborted. */
static void test_exec_out_of_order_dooms(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	struct px_msg m, out;
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	exec0(&d, g, PA_DB_OK);
	m = mexec(g, 2); /* statement 1 was lost */
	p_msg(&d, CLIENT(9), &m);
	assert_int_equal(d.u.ndb, 0);
	assert_true(sent_to(&d.u, PX_MSG_EXEC_RESULT, CLIENT(9), &out));
	assert_int_equal(out.u.exec_result.status, PX_EXEC_ERROR);
	px_update_reset(&d.u);

	m = mexec(g, 1); /* the late one no longer runs */
	p_msg(&d, CLIENT(9), &m);
	assert_int_equal(d.u.ndb, 0);
	assert_true(sent_to(&d.u, PX_MSG_EXEC_RESULT, CLIENT(9), &out));
	assert_int_equal(out.u.exec_result.status, PX_EXEC_ERROR);
	px_update_reset(&d.u);

	m = mprepare(g, 0);
	p_msg(&d, REPLICA(0), &m);
	uint64_t tok = only_db(&d.u, PA_DB_ROLLBACK, g)->token;
	px_update_reset(&d.u);
	p_db(&d, tok, PA_DB_OK, 0, NULL);
	assert_voted(&d.u, g, PX_VAL_ABORTED, &PSET12);
	p_close(&d);
}

/* Rule: PREPARE OK -> 2a(0, prepared) to every replica. */
static void test_prepare_ok_votes_prepared(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	uint64_t tok = exec_and_prepare(&d, g);
	p_db(&d, tok, PA_DB_OK, 0, NULL);
	assert_voted(&d.u, g, PX_VAL_PREPARED, &PSET12);
	assert_int_equal(pa_core_stats(d.c)->prepared, 1);
	p_close(&d);
}

/* Rule: PREPARE failed (certainly rolled back) -> 2a(0, aborted). */
static void test_prepare_failed_votes_aborted(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	uint64_t tok = exec_and_prepare(&d, g);
	p_db(&d, tok, PA_DB_FAILED, 0, NULL);
	assert_voted(&d.u, g, PX_VAL_ABORTED, &PSET12);
	assert_int_equal(pa_core_stats(d.c)->voted_aborted, 1);
	p_close(&d);
}

/* Rule: PREPARE's result lost -> no ballot-0 vote at all; check later. */
static void test_prepare_lost_votes_nothing(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	uint64_t tok = exec_and_prepare(&d, g);
	p_db(&d, tok, PA_DB_LOST, 0, NULL);
	assert_int_equal(nsent(&d.u, PX_MSG_2A), 0);
	assert_int_equal(d.u.ndb, 0);
	px_update_reset(&d.u);

	p_timer(&d, T0 + RESEND_MS);
	assert_int_equal(nsent(&d.u, PX_MSG_2A), 0);
	tok = only_db(&d.u, PA_DB_CHECK, g)->token;
	px_update_reset(&d.u);
	/* the check finds it prepared: only now it votes prepared */
	p_db(&d, tok, PA_DB_OK, 1, NULL);
	assert_int_equal(nsent(&d.u, PX_MSG_2A), 0); /* nobody asked for a vote yet */
	struct px_msg m = mprepare(g, 0);
	p_msg(&d, REPLICA(0), &m);
	assert_voted(&d.u, g, PX_VAL_PREPARED, &PSET12);
	p_close(&d);
}

/* Rule: a failed statement dooms the gid: PREPARE rolls back, votes aborted. */
static void test_failed_stmt_rolls_back(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	exec0(&d, g, PA_DB_FAILED);
	struct px_msg m = mprepare(g, 0);
	p_msg(&d, REPLICA(0), &m);
	uint64_t tok = only_db(&d.u, PA_DB_ROLLBACK, g)->token;
	assert_int_equal(nsent(&d.u, PX_MSG_2A), 0);
	px_update_reset(&d.u);
	p_db(&d, tok, PA_DB_OK, 0, NULL);
	assert_voted(&d.u, g, PX_VAL_ABORTED, &PSET12);
	p_close(&d);
}

/* Rule: DECISION commit -> COMMIT PREPARED -> DECISION_ACK to the replica
 * that sent the decision, and to the client that ran the statements. */
static void test_decision_commit_acked(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	struct px_msg m;
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	prepared(&d, g);
	m = mdecision(g, PX_OUT_COMMIT);
	p_msg(&d, REPLICA(0), &m);
	uint64_t tok = only_db(&d.u, PA_DB_COMMIT_PREPARED, g)->token;
	assert_int_equal(nsent(&d.u, PX_MSG_DECISION_ACK), 0);
	px_update_reset(&d.u);

	p_db(&d, tok, PA_DB_OK, 0, NULL);
	assert_int_equal(nsent(&d.u, PX_MSG_DECISION_ACK), 2);
	assert_true(sent_to(&d.u, PX_MSG_DECISION_ACK, CLIENT(9), &m));
	assert_int_equal(m.u.decision_ack.outcome, PX_OUT_COMMIT);
	assert_true(sent_to(&d.u, PX_MSG_DECISION_ACK, REPLICA(0), &m));
	assert_true(px_str_eq(m.u.decision_ack.gid, g));
	assert_int_equal(m.u.decision_ack.rm, RM);
	assert_int_equal(m.u.decision_ack.outcome, PX_OUT_COMMIT);
	assert_int_equal(pa_core_stats(d.c)->committed, 1);
	p_close(&d);
}

/* Rule: once a replica has sent a decision, a first vote goes to a majority
 * only, that replica among them (thrifty ballot 0); a vote repeated because
 * no decision came goes to every replica. */
static void test_thrifty_first_vote(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64], gb2[64];
	struct px_msg m;
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	prepared(&d, g); /* no decision seen yet: to all */
	m = mdecision(g, PX_OUT_COMMIT);
	p_msg(&d, REPLICA(1), &m);
	uint64_t tok = only_db(&d.u, PA_DB_COMMIT_PREPARED, g)->token;
	px_update_reset(&d.u);
	p_db(&d, tok, PA_DB_OK, 0, NULL);
	px_update_reset(&d.u);

	struct px_str g2 = mkgid(gb2, 2);
	tok = exec_and_prepare(&d, g2);
	p_db(&d, tok, PA_DB_OK, 0, NULL);
	assert_int_equal(nsent(&d.u, PX_MSG_2A), NREP / 2 + 1);
	assert_true(sent_to(&d.u, PX_MSG_2A, REPLICA(1), &m));
	assert_int_equal(m.u.m2a.bal, 0);
	assert_int_equal(m.u.m2a.val, PX_VAL_PREPARED);
	px_update_reset(&d.u);

	p_timer(&d, d.now + RESEND_MS); /* no decision: every replica hears it */
	assert_int_equal(nsent(&d.u, PX_MSG_2A), NREP);
	for (uint8_t i = 0; i < NREP; i++)
		assert_true(sent_to(&d.u, PX_MSG_2A, REPLICA(i), &m));
	p_close(&d);
}

/* Decide gid g from replica `from` and finish its COMMIT PREPARED. */
static void decided(struct pdrv *d, struct px_str g, uint8_t from)
{
	struct px_msg m = mdecision(g, PX_OUT_COMMIT);
	p_msg(d, REPLICA(from), &m);
	uint64_t tok = only_db(&d->u, PA_DB_COMMIT_PREPARED, g)->token;
	px_update_reset(&d->u);
	p_db(d, tok, PA_DB_OK, 0, NULL);
	px_update_reset(&d->u);
}

/* A first vote for a new gid (born now, seq): which replicas it went to
 * (bit i: replica i).  Its gid is left in buf. */
static unsigned first_vote_to(struct pdrv *d, char *buf, uint64_t seq)
{
	size_t n = px_gid_make(buf, 64, "t", d->now, 0x0123456789abcdefULL, seq);
	assert_true(n > 0);
	struct px_str g = px_str_of(buf, (uint32_t)n);
	uint64_t tok = exec_and_prepare(d, g);
	p_db(d, tok, PA_DB_OK, 0, NULL);
	unsigned to = 0;
	struct px_msg m;
	for (uint8_t i = 0; i < NREP; i++)
		if (sent_to(&d->u, PX_MSG_2A, REPLICA(i), &m))
			to |= 1u << i;
	px_update_reset(&d->u);
	return to;
}

/* Rule: a first vote goes to the same majority in every agent: the replica
 * that sent the last decision and the ones after it in id order, so that
 * one follower hears every instance of a gid.  Once such a vote had to be
 * repeated (a follower may be down), first votes go to every replica for
 * 10 s; then to the same majority again. */
static void test_thrifty_same_majority_everywhere(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[5][64];
	p_open(&d, 10, 0);
	d.leader = 1;
	struct px_str g1 = mkgid(gb[0], 1);
	prepared(&d, g1); /* no decision seen yet: to all */
	decided(&d, g1, 1);

	assert_int_equal(first_vote_to(&d, gb[1], 2), (1u << 1) | (1u << 2)); /* the leader, then 2 */
	p_timer(&d, d.now + RESEND_MS); /* no decision: to all, and first votes too for a while */
	assert_int_equal(nsent(&d.u, PX_MSG_2A), NREP);
	px_update_reset(&d.u);
	decided(&d, px_str_of(gb[1], (uint32_t)strlen(gb[1])), 1);
	assert_int_equal(first_vote_to(&d, gb[2], 3), (1u << NREP) - 1);
	decided(&d, px_str_of(gb[2], (uint32_t)strlen(gb[2])), 1);
	p_timer(&d, d.now + 9000);
	px_update_reset(&d.u);
	assert_int_equal(first_vote_to(&d, gb[3], 4), (1u << NREP) - 1);
	decided(&d, px_str_of(gb[3], (uint32_t)strlen(gb[3])), 1);

	p_timer(&d, d.now + 1000); /* 10 s on: back to the same majority as every agent */
	px_update_reset(&d.u);
	assert_int_equal(first_vote_to(&d, gb[4], 5), (1u << 1) | (1u << 2));
	p_close(&d);
}

/* Rule: a thrifty first vote decided late (resend_ms / 4 or more: the
 * leader's recovery may finish it before our vote is due again) sends the
 * first votes to every replica too; one decided at once does not.  A vote
 * repeated at once (a second PREPARE right after the first) is no sign of a
 * failed follower. */
static void test_thrifty_late_decision_goes_to_all(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[6][64];
	p_open(&d, 10, 0);
	d.leader = 0;
	struct px_str g1 = mkgid(gb[0], 1);
	prepared(&d, g1);
	decided(&d, g1, 0);
	unsigned thrifty = (1u << 0) | (1u << 1);

	assert_int_equal(first_vote_to(&d, gb[1], 2), thrifty);
	p_timer(&d, d.now + 5); /* decided quickly */
	px_update_reset(&d.u);
	decided(&d, px_str_of(gb[1], (uint32_t)strlen(gb[1])), 0);
	assert_int_equal(first_vote_to(&d, gb[2], 3), thrifty);

	/* a second PREPARE at once: its vote again goes to all, nothing more */
	struct px_str g2 = px_str_of(gb[2], (uint32_t)strlen(gb[2]));
	struct px_msg pm = mprepare(g2, 0);
	p_msg(&d, REPLICA(0), &pm);
	px_update_reset(&d.u);
	decided(&d, g2, 0);
	assert_int_equal(first_vote_to(&d, gb[3], 4), thrifty);

	p_timer(&d, d.now + RESEND_MS / 4); /* decided late */
	px_update_reset(&d.u);
	decided(&d, px_str_of(gb[3], (uint32_t)strlen(gb[3])), 0);
	assert_int_equal(first_vote_to(&d, gb[4], 5), (1u << NREP) - 1);
	p_close(&d);
}

/* Rule: the thrifty majority starts at the leader: a decision passed on by a
 * follower (one that comes again, or for a gid this agent did not vote for)
 * does not make that follower the leader of our first votes; the first
 * decision of a gid we voted for does. */
static void test_thrifty_hint_not_from_relays(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[6][64];
	p_open(&d, 10, 0);
	d.leader = 0;
	struct px_str g1 = mkgid(gb[0], 1);
	prepared(&d, g1);
	decided(&d, g1, 0);
	unsigned thrifty0 = (1u << 0) | (1u << 1);
	assert_int_equal(first_vote_to(&d, gb[1], 2), thrifty0);
	struct px_str g2 = px_str_of(gb[1], (uint32_t)strlen(gb[1]));
	decided(&d, g2, 0);
	/* the same decision again, through follower 2 */
	struct px_msg dm = mdecision(g2, PX_OUT_COMMIT);
	p_msg(&d, REPLICA(2), &dm);
	px_update_reset(&d.u);
	/* a decision of a gid we never voted for, through follower 2 */
	char other[64];
	size_t on = px_gid_make(other, sizeof(other), "t", d.now, 0x0123456789abcdefULL, 77);
	struct px_msg om = mdecision(px_str_of(other, (uint32_t)on), PX_OUT_COMMIT);
	p_msg(&d, REPLICA(2), &om);
	px_update_reset(&d.u);
	assert_int_equal(first_vote_to(&d, gb[2], 3), thrifty0);
	/* a new leader decides a gid we voted for: it leads our first votes */
	decided(&d, px_str_of(gb[2], (uint32_t)strlen(gb[2])), 2);
	d.leader = 2;
	assert_int_equal(first_vote_to(&d, gb[3], 4), (1u << 2) | (1u << 0));
	p_close(&d);
}

/* Rule: COMMIT PREPARED "does not exist" is acked only once a check
 * agrees the gid is no longer prepared. */
static void test_commit_prepared_missing_checked(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	struct px_msg m;
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	prepared(&d, g);
	m = mdecision(g, PX_OUT_COMMIT);
	p_msg(&d, REPLICA(0), &m);
	uint64_t tok = only_db(&d.u, PA_DB_COMMIT_PREPARED, g)->token;
	px_update_reset(&d.u);

	p_db(&d, tok, PA_DB_FAILED, 0, NULL);
	assert_int_equal(nsent(&d.u, PX_MSG_DECISION_ACK), 0);
	tok = only_db(&d.u, PA_DB_CHECK, g)->token;
	px_update_reset(&d.u);

	p_db(&d, tok, PA_DB_OK, 0, NULL); /* not prepared: applied before */
	assert_int_equal(nsent(&d.u, PX_MSG_DECISION_ACK), 2); /* the decider and the client */
	assert_true(sent_to(&d.u, PX_MSG_DECISION_ACK, REPLICA(0), &m));
	assert_int_equal(m.u.decision_ack.outcome, PX_OUT_COMMIT);
	p_close(&d);
}

/* Rule: an agent never votes on an XA-style gid, whose client prepares
 * this participant itself and votes for it (ballot 0 has one proposer):
 * not after a PREPARE that finds it prepared, nor after one that finds it
 * absent; it refuses to run its statements; and it still applies a
 * DECISION for it (the client may have left it prepared). */
static void test_xa_gid_never_voted(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	struct px_msg m, out;
	p_open(&d, 10, 0);
	size_t n = px_gid_make_xa(gb, 64, "t", T0, 0x0123456789abcdefULL, 1);
	struct px_str g = px_str_of(gb, (uint32_t)n);
	m = mexec(g, 0);
	p_msg(&d, CLIENT(9), &m);
	assert_int_equal(d.u.ndb, 0);
	assert_true(sent_to(&d.u, PX_MSG_EXEC_RESULT, CLIENT(9), &out));
	assert_int_equal(out.u.exec_result.status, PX_EXEC_ERROR);
	px_update_reset(&d.u);

	for (int found = 1; found >= 0; found--) {
		m = mprepare(g, 0);
		p_msg(&d, REPLICA(0), &m);
		uint64_t tok = only_db(&d.u, PA_DB_CHECK, g)->token;
		px_update_reset(&d.u);
		p_db(&d, tok, PA_DB_OK, (uint8_t)found, NULL);
		assert_int_equal(nsent(&d.u, PX_MSG_2A), 0);
		px_update_reset(&d.u);
		p_timer(&d, T0 + 10000 * (uint64_t)(2 - found)); /* resend times pass */
		assert_int_equal(nsent(&d.u, PX_MSG_2A), 0);
		px_update_reset(&d.u);
		if (found) { /* prepared here: a decision is applied */
			m = mdecision(g, PX_OUT_COMMIT);
			p_msg(&d, REPLICA(0), &m);
			tok = only_db(&d.u, PA_DB_COMMIT_PREPARED, g)->token;
			px_update_reset(&d.u);
			p_db(&d, tok, PA_DB_OK, 0, NULL);
			assert_true(sent_to(&d.u, PX_MSG_DECISION_ACK, REPLICA(0), &out));
			assert_int_equal(out.u.decision_ack.outcome, PX_OUT_COMMIT);
			px_update_reset(&d.u);
			n = px_gid_make_xa(gb, 64, "t", T0, 0x0123456789abcdefULL, 2);
			g = px_str_of(gb, (uint32_t)n);
		}
	}
	p_close(&d);
}

/* Rule: an idle open transaction is rolled back; a later PREPARE votes
 * aborted. */
static void test_idle_timeout_rolls_back(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	exec0(&d, g, PA_DB_OK);
	p_timer(&d, T0 + IDLE_MS - 1);
	assert_int_equal(d.u.ndb, 0);
	p_timer(&d, T0 + IDLE_MS);
	uint64_t tok = only_db(&d.u, PA_DB_ROLLBACK, g)->token;
	assert_int_equal(pa_core_stats(d.c)->idle_rollbacks, 1);
	px_update_reset(&d.u);
	p_db(&d, tok, PA_DB_OK, 0, NULL);
	assert_int_equal(nsent(&d.u, PX_MSG_2A), 0); /* participants unknown yet */
	px_update_reset(&d.u);

	struct px_msg m = mprepare(g, 0);
	p_msg(&d, REPLICA(0), &m);
	assert_int_equal(d.u.ndb, 0);
	assert_voted(&d.u, g, PX_VAL_ABORTED, &PSET12);
	p_close(&d);
}

/* Rule: a prepared gid found by the START scan is resolved by STATUS_REQ;
 * UNKNOWN_GID from a majority (not from one) means presumed abort. */
static void test_scan_presumed_abort(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	struct px_msg m;
	p_open(&d, 10, 60000);
	struct px_str g = mkgid(gb, 1);
	struct pa_event ev = {.kind = PA_EV_START, .now = d.now};
	pa_core_step(d.c, &ev, &d.u);
	assert_int_equal(d.u.ndb, 1);
	assert_int_equal(d.u.db[0].kind, PA_DB_SCAN);
	uint64_t tok = d.u.db[0].token;
	px_update_reset(&d.u);

	struct pa_event res = {.kind = PA_EV_DB, .now = d.now, .token = tok, .status = PA_DB_OK,
			       .gids = &g, .ngids = 1};
	pa_core_step(d.c, &res, &d.u);
	assert_int_equal(pa_core_tracked(d.c), 1);
	px_update_reset(&d.u);

	p_timer(&d, T0 + 1);
	assert_int_equal(nsent(&d.u, PX_MSG_STATUS_REQ), NREP);
	assert_int_equal(nsent(&d.u, PX_MSG_2A), 0); /* it never voted */
	assert_true(sent_to(&d.u, PX_MSG_STATUS_REQ, REPLICA(1), &m));
	assert_true(px_str_eq(m.u.status_req.gid, g));
	uint64_t req = m.u.status_req.req;
	px_update_reset(&d.u);

	m = moutcome(g, req, PX_ST_UNKNOWN_GID);
	p_msg(&d, REPLICA(0), &m);
	p_msg(&d, REPLICA(0), &m); /* the same replica twice is still one */
	assert_int_equal(d.u.ndb, 0);
	p_msg(&d, REPLICA(2), &m);
	tok = only_db(&d.u, PA_DB_ROLLBACK_PREPARED, g)->token;
	assert_int_equal(pa_core_stats(d.c)->presumed_aborts, 0); /* counted once applied */
	px_update_reset(&d.u);
	p_db(&d, tok, PA_DB_OK, 0, NULL);
	assert_int_equal(pa_core_stats(d.c)->presumed_aborts, 1);
	assert_true(sent_to(&d.u, PX_MSG_DECISION_ACK, REPLICA(0), &m));
	assert_int_equal(m.u.decision_ack.outcome, PX_OUT_ABORT);
	p_close(&d);
}

/* Rule: a presumed abort states ABORT only if PostgreSQL still held the gid
 * prepared after a majority answered UNKNOWN_GID.  A scan saw it prepared;
 * its XA-style client then committed it, acked, and the replicas forgot it
 * past their horizon.  The agent's ROLLBACK PREPARED finds nothing: it must
 * not acknowledge ABORT (the simulator's seed 7348571 at 1 replica). */
static void test_presumed_abort_stale_scan(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	struct px_msg m;
	p_open(&d, 10, 60000);
	size_t n = px_gid_make_xa(gb, 64, "t", T0, 0x0123456789abcdefULL, 1);
	struct px_str g = px_str_of(gb, (uint32_t)n);
	struct pa_event ev = {.kind = PA_EV_START, .now = d.now};
	pa_core_step(d.c, &ev, &d.u);
	uint64_t tok = d.u.db[0].token;
	px_update_reset(&d.u);
	struct pa_event res = {.kind = PA_EV_DB, .now = d.now, .token = tok, .status = PA_DB_OK,
			       .gids = &g, .ngids = 1};
	pa_core_step(d.c, &res, &d.u);
	px_update_reset(&d.u);
	p_timer(&d, T0 + 1);
	assert_true(sent_to(&d.u, PX_MSG_STATUS_REQ, REPLICA(1), &m));
	uint64_t req = m.u.status_req.req;
	px_update_reset(&d.u);
	m = moutcome(g, req, PX_ST_UNKNOWN_GID);
	p_msg(&d, REPLICA(0), &m);
	p_msg(&d, REPLICA(2), &m);
	tok = only_db(&d.u, PA_DB_ROLLBACK_PREPARED, g)->token;
	px_update_reset(&d.u);
	p_db(&d, tok, PA_DB_FAILED, 0, NULL); /* "does not exist" */
	tok = only_db(&d.u, PA_DB_CHECK, g)->token;
	px_update_reset(&d.u);
	p_db(&d, tok, PA_DB_OK, 0, NULL); /* not prepared */
	assert_int_equal(nsent(&d.u, PX_MSG_DECISION_ACK), 0);
	assert_int_equal(pa_core_stats(d.c)->presumed_aborts, 0);
	assert_int_equal(pa_core_tracked(d.c), 0);
	p_close(&d);
}

/* Rule: with max_open transactions open, a new gid's EXEC is BUSY. */
static void test_exec_busy_at_max_open(void **state)
{
	(void)state;
	struct pdrv d;
	char g1b[64], g2b[64];
	struct px_msg m, out;
	p_open(&d, 1, 0);
	struct px_str g1 = mkgid(g1b, 1), g2 = mkgid(g2b, 2);
	exec0(&d, g1, PA_DB_OK);
	m = mexec(g2, 0);
	p_msg(&d, CLIENT(9), &m);
	assert_int_equal(d.u.ndb, 0);
	assert_true(sent_to(&d.u, PX_MSG_EXEC_RESULT, CLIENT(9), &out));
	assert_true(px_str_eq(out.u.exec_result.gid, g2));
	assert_int_equal(out.u.exec_result.status, PX_EXEC_BUSY);
	assert_int_equal(pa_core_tracked(d.c), 1);
	p_close(&d);
}


/* Rule: a draining agent refuses a new gid's first statement (BUSY,
 * "shutting down") and goes on with the ones it has; unfinished counts
 * them until they are done. */
static void test_drain_refuses_new_gids(void **state)
{
	(void)state;
	struct pdrv d;
	char g1b[64], g2b[64];
	struct px_msg m, out;
	p_open(&d, 4, 0);
	struct px_str g1 = mkgid(g1b, 1), g2 = mkgid(g2b, 2);
	exec0(&d, g1, PA_DB_OK);
	assert_int_equal(pa_core_unfinished(d.c), 1);
	pa_core_drain(d.c);
	px_update_reset(&d.u);
	m = mexec(g2, 0);
	p_msg(&d, CLIENT(9), &m);
	assert_int_equal(d.u.ndb, 0);
	assert_true(sent_to(&d.u, PX_MSG_EXEC_RESULT, CLIENT(9), &out));
	assert_true(px_str_eq(out.u.exec_result.gid, g2));
	assert_int_equal(out.u.exec_result.status, PX_EXEC_BUSY);
	assert_non_null(memmem(out.u.exec_result.reason.p, out.u.exec_result.reason.len, "shutting down", 13));
	assert_int_equal(pa_core_tracked(d.c), 1);
	/* the open one's next statement still runs */
	px_update_reset(&d.u);
	m = mexec(g1, 1);
	p_msg(&d, CLIENT(9), &m);
	assert_int_equal(d.u.ndb, 1);
	assert_int_equal(pa_core_unfinished(d.c), 1);
	p_close(&d);
}

/* A restarted agent: a gid born before it started may have been voted on by
 * the previous incarnation, so it never gets an `aborted` vote nor a new
 * transaction; a gid born after the start is this incarnation's alone. */
static void test_restart_ambiguous_gid_no_aborted_vote(void **state)
{
	(void)state;
	struct pdrv d;
	struct pa_config cfg = {.rm = RM, .nreplicas = NREP, .idle_timeout_ms = IDLE_MS,
				.resend_ms = RESEND_MS, .max_open = 8, .remember_ms = 60000, .skew_ms = 100};
	memset(&d, 0, sizeof(d));
	d.now = T0 + 1000; /* the agent (re)starts 1 s after the gids below were born */
	d.c = pa_core_new(&cfg);
	assert_non_null(d.c);
	px_update_init(&d.u);
	struct pa_event st = {.kind = PA_EV_START, .now = d.now};
	pa_core_step(d.c, &st, &d.u);
	px_update_reset(&d.u);

	char b1[64], b2[64];
	struct px_str old = mkgid(b1, 1); /* born at T0 */
	size_t n = px_gid_make(b2, sizeof(b2), "t", T0 + 2000, 0x0123456789abcdefULL, 2);
	struct px_str fresh = px_str_of(b2, (uint32_t)n);

	/* beginning the old gid again is refused: it may have run before */
	struct px_msg e = mexec(old, 0);
	p_msg(&d, CLIENT(9), &e);
	assert_int_equal(d.u.ndb, 0);
	assert_int_equal(nsent(&d.u, PX_MSG_EXEC_RESULT), 1);
	px_update_reset(&d.u);

	/* PREPARE of the old gid: a check, and "not prepared" gives no vote */
	struct px_msg pm = mprepare(old, 0);
	p_msg(&d, REPLICA(0), &pm);
	uint64_t tok = only_db(&d.u, PA_DB_CHECK, old)->token;
	px_update_reset(&d.u);
	p_db(&d, tok, PA_DB_OK, 0, NULL);
	assert_int_equal(nsent(&d.u, PX_MSG_2A), 0);
	px_update_reset(&d.u);

	/* ... but "prepared" gives the prepared vote */
	p_msg(&d, REPLICA(0), &pm);
	tok = only_db(&d.u, PA_DB_CHECK, old)->token;
	px_update_reset(&d.u);
	p_db(&d, tok, PA_DB_OK, 1, NULL);
	assert_voted(&d.u, old, PX_VAL_PREPARED, &PSET12);
	px_update_reset(&d.u);

	/* PREPARE of a fresh gid this agent never saw: certainly gone, aborted */
	pm = mprepare(fresh, 0);
	d.now = T0 + 2500;
	p_msg(&d, REPLICA(0), &pm);
	tok = only_db(&d.u, PA_DB_CHECK, fresh)->token;
	px_update_reset(&d.u);
	p_db(&d, tok, PA_DB_OK, 0, NULL);
	assert_voted(&d.u, fresh, PX_VAL_ABORTED, &PSET12);
	p_close(&d);
}

/* A finished gid is remembered until it is ambiguous anyway: a late
 * duplicate PREPARE after COMMIT must not get an `aborted` vote. */
static void test_finished_gid_late_prepare_no_second_value(void **state)
{
	(void)state;
	struct pdrv d;
	struct pa_config cfg = {.rm = RM, .nreplicas = NREP, .idle_timeout_ms = IDLE_MS,
				.resend_ms = RESEND_MS, .max_open = 8, .remember_ms = 60000, .skew_ms = 0};
	memset(&d, 0, sizeof(d));
	d.now = T0;
	d.c = pa_core_new(&cfg);
	assert_non_null(d.c);
	px_update_init(&d.u);
	char b[64];
	struct px_str gid = mkgid(b, 3);
	prepared(&d, gid);
	struct px_msg dm = mdecision(gid, PX_OUT_COMMIT);
	p_msg(&d, REPLICA(0), &dm);
	uint64_t tok = only_db(&d.u, PA_DB_COMMIT_PREPARED, gid)->token;
	px_update_reset(&d.u);
	p_db(&d, tok, PA_DB_OK, 0, NULL);
	px_update_reset(&d.u);
	/* timers run, the gid is still remembered; a late PREPARE votes nothing */
	p_timer(&d, T0 + 30000);
	px_update_reset(&d.u);
	struct px_msg pm = mprepare(gid, 0);
	p_msg(&d, REPLICA(0), &pm);
	assert_int_equal(nsent(&d.u, PX_MSG_2A), 0);
	assert_int_equal(d.u.ndb, 0);
	px_update_reset(&d.u);
	/* once forgotten (older than remember_ms) it is ambiguous: still no aborted vote */
	p_timer(&d, T0 + 70000);
	px_update_reset(&d.u);
	p_msg(&d, REPLICA(0), &pm);
	tok = only_db(&d.u, PA_DB_CHECK, gid)->token;
	px_update_reset(&d.u);
	p_db(&d, tok, PA_DB_OK, 0, NULL);
	assert_int_equal(nsent(&d.u, PX_MSG_2A), 0);
	p_close(&d);
}

/* Rule: a gid born more than max_future_ms ahead of the agent's clock is
 * never tracked.  Its first statement is refused (clock skew, named in the
 * reason); PREPARE, DECISION and OUTCOME for it are dropped and counted:
 * no database action, nothing sent.  Such a gid would never become
 * ambiguous, so once finished it would stay on the `done` list for good and
 * stop the forgetting of every gid finished after it.  A normal gid still
 * runs, and is forgotten after remember_ms. */
static void test_future_gid_never_tracked(void **state)
{
	(void)state;
	struct pdrv d;
	struct pa_config cfg = {.rm = RM, .nreplicas = NREP, .idle_timeout_ms = IDLE_MS,
				.resend_ms = RESEND_MS, .max_open = 8, .remember_ms = 60000,
				.skew_ms = PX_GID_MAX_FUTURE_MS};
	memset(&d, 0, sizeof(d));
	d.now = T0;
	d.c = pa_core_new(&cfg);
	assert_non_null(d.c);
	px_update_init(&d.u);
	struct pa_event st = {.kind = PA_EV_START, .now = T0 - 10000}; /* started 10 s ago */
	d.now = T0 - 10000;
	pa_core_step(d.c, &st, &d.u);
	d.now = T0;
	px_update_reset(&d.u);
	char gb[64];
	struct px_msg m, out;
	enum { NFUTURE = 1000 };
	for (uint64_t k = 0; k < NFUTURE; k++) {
		uint64_t birth = k == NFUTURE - 1 ? 99999999999999ULL : T0 + PX_GID_MAX_FUTURE_MS + 1 + k * 997;
		size_t n = px_gid_make(gb, sizeof(gb), "t", birth, 0x0123456789abcdefULL, k);
		assert_true(n > 0);
		struct px_str g = px_str_of(gb, (uint32_t)n);
		m = mexec(g, 0);
		p_msg(&d, CLIENT(9), &m);
		assert_int_equal(d.u.ndb, 0);
		assert_true(sent_to(&d.u, PX_MSG_EXEC_RESULT, CLIENT(9), &out));
		assert_int_equal(out.u.exec_result.status, PX_EXEC_ERROR);
		char why[300];
		snprintf(why, sizeof(why), "%.*s", (int)out.u.exec_result.reason.len, out.u.exec_result.reason.p);
		assert_non_null(strstr(why, "clock skew"));
		assert_non_null(strstr(why, "ms ahead of this participant's clock"));
		px_update_reset(&d.u);
		m = mprepare(g, 0);
		p_msg(&d, REPLICA(0), &m);
		m = mdecision(g, PX_OUT_ABORT);
		p_msg(&d, REPLICA(0), &m);
		m = moutcome(g, 1, PX_ST_COMMITTED);
		p_msg(&d, REPLICA(1), &m);
		assert_int_equal(d.u.ndb, 0);
		assert_int_equal(d.u.nnow, 0);
		px_update_reset(&d.u);
	}
	assert_int_equal(pa_core_tracked(d.c), 0);
	assert_int_equal(pa_core_stats(d.c)->future_gids, 4 * NFUTURE);
	assert_int_equal(pa_core_stats(d.c)->voted_aborted, 0);

	/* a normal gid, born at the bound: runs, commits, is forgotten */
	size_t n = px_gid_make(gb, sizeof(gb), "t", T0 + PX_GID_MAX_FUTURE_MS, 0x0123456789abcdefULL, NFUTURE);
	struct px_str g = px_str_of(gb, (uint32_t)n);
	prepared(&d, g);
	m = mdecision(g, PX_OUT_COMMIT);
	p_msg(&d, REPLICA(0), &m);
	uint64_t tok = only_db(&d.u, PA_DB_COMMIT_PREPARED, g)->token;
	px_update_reset(&d.u);
	p_db(&d, tok, PA_DB_OK, 0, NULL);
	assert_int_equal(nsent(&d.u, PX_MSG_DECISION_ACK), 2);
	px_update_reset(&d.u);
	assert_int_equal(pa_core_tracked(d.c), 1);
	p_timer(&d, T0 + PX_GID_MAX_FUTURE_MS + 60000 + 1000);
	assert_int_equal(pa_core_tracked(d.c), 0);
	assert_int_equal(pa_core_stats(d.c)->future_gids, 4 * NFUTURE);
	p_close(&d);
}


/* Rule: a session lost with the transaction open and idle dooms the gid:
 * its next statement is refused (never run in a fresh transaction), and a
 * prepare votes `aborted` and tells the client why. */
static void test_lost_session_dooms(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	struct px_msg m, out;
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	exec0(&d, g, PA_DB_OK);
	p_lost(&d, g);
	assert_int_equal(d.u.ndb, 0);
	assert_int_equal(pa_core_stats(d.c)->sessions_lost, 1);
	px_update_reset(&d.u);
	m = mexec(g, 1);
	p_msg(&d, CLIENT(9), &m);
	assert_int_equal(d.u.ndb, 0); /* nothing runs */
	assert_true(sent_to(&d.u, PX_MSG_EXEC_RESULT, CLIENT(9), &out));
	assert_int_equal(out.u.exec_result.status, PX_EXEC_ERROR);
	assert_non_null(memmem(out.u.exec_result.reason.p, out.u.exec_result.reason.len, "lost", 4));
	px_update_reset(&d.u);
	m = mprepare(g, 0);
	p_msg(&d, CLIENT(9), &m);
	assert_int_equal(d.u.ndb, 0);
	assert_voted(&d.u, g, PX_VAL_ABORTED, &PSET12);
	assert_true(sent_to(&d.u, PX_MSG_VOTE, CLIENT(9), &out));
	assert_int_equal(out.u.vote.val, PX_VAL_ABORTED);
	assert_non_null(memmem(out.u.vote.reason.p, out.u.vote.reason.len, "lost", 4));
	p_close(&d);
}

/* Rule: a PREPARE TRANSACTION that fails with an error votes `aborted`,
 * and the client that ran the statements hears PostgreSQL's words. */
static void test_prepare_failure_reason_to_client(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	struct px_msg out;
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	uint64_t tok = exec_and_prepare(&d, g);
	p_db_why(&d, tok, PA_DB_FAILED, "0A000 cannot PREPARE a transaction that has executed LISTEN");
	assert_voted(&d.u, g, PX_VAL_ABORTED, &PSET12);
	assert_true(sent_to(&d.u, PX_MSG_VOTE, CLIENT(9), &out));
	assert_int_equal(out.u.vote.rm, RM);
	assert_non_null(memmem(out.u.vote.reason.p, out.u.vote.reason.len, "PREPARE TRANSACTION failed: 0A000", 33));
	p_close(&d);
}

/* Rule: a statement still running at its client's deadline is cancelled
 * (once), and its transaction rolled back when it ends. */
static void test_cancel_at_client_deadline(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	struct px_msg m = mexec(g, 0);
	m.u.exec.timeout_ms = 2000;
	p_msg(&d, CLIENT(9), &m);
	uint64_t tok = only_db(&d.u, PA_DB_EXEC, g)->token;
	px_update_reset(&d.u);
	p_timer(&d, T0 + 1999);
	assert_false(has_db(&d.u, PA_DB_CANCEL));
	px_update_reset(&d.u);
	p_timer(&d, T0 + 2000);
	assert_true(has_db(&d.u, PA_DB_CANCEL));
	assert_int_equal(pa_core_stats(d.c)->cancels, 1);
	px_update_reset(&d.u);
	p_timer(&d, T0 + 2500);
	assert_false(has_db(&d.u, PA_DB_CANCEL)); /* once */
	px_update_reset(&d.u);
	struct px_msg r = mresult(g, 100, PX_EXEC_SQLERR);
	p_db(&d, tok, PA_DB_FAILED, 0, &r);
	only_db(&d.u, PA_DB_ROLLBACK, g);
	p_close(&d);
}

/* Rule: an abort decision never waits for a running statement. */
static void test_abort_decision_cancels_statement(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	struct px_msg m = mexec(g, 0);
	p_msg(&d, CLIENT(9), &m);
	uint64_t tok = only_db(&d.u, PA_DB_EXEC, g)->token;
	px_update_reset(&d.u);
	m = mdecision(g, PX_OUT_ABORT);
	p_msg(&d, REPLICA(0), &m);
	assert_true(has_db(&d.u, PA_DB_CANCEL));
	assert_int_equal(d.u.db[0].token, 0); /* no result of its own */
	px_update_reset(&d.u);
	struct px_msg r = mresult(g, 100, PX_EXEC_SQLERR);
	p_db(&d, tok, PA_DB_FAILED, 0, &r); /* cancelled: the statement's token still counts */
	only_db(&d.u, PA_DB_ROLLBACK, g);
	p_close(&d);
}

/* Rule: a decided outcome that PostgreSQL refuses is counted once and
 * tried again with a growing backoff, not at every decision or tick. */
static void test_refused_outcome_backoff(void **state)
{
	(void)state;
	struct pdrv d;
	char gb[64];
	p_open(&d, 10, 0);
	struct px_str g = mkgid(gb, 1);
	prepared(&d, g);
	struct px_msg m = mdecision(g, PX_OUT_COMMIT);
	p_msg(&d, REPLICA(0), &m);
	uint64_t tok = only_db(&d.u, PA_DB_COMMIT_PREPARED, g)->token;
	px_update_reset(&d.u);
	p_db_why(&d, tok, PA_DB_LOST, "42501 permission denied");
	assert_int_equal(pa_core_stats(d.c)->apply_failures, 1);
	px_update_reset(&d.u);
	/* the leader's next DECISION does not try again before the backoff */
	p_msg(&d, REPLICA(0), &m);
	assert_false(has_db(&d.u, PA_DB_COMMIT_PREPARED));
	px_update_reset(&d.u);
	p_timer(&d, T0 + 2 * RESEND_MS - 1);
	assert_false(has_db(&d.u, PA_DB_COMMIT_PREPARED));
	px_update_reset(&d.u);
	p_timer(&d, T0 + 2 * RESEND_MS);
	tok = only_db(&d.u, PA_DB_COMMIT_PREPARED, g)->token;
	px_update_reset(&d.u);
	p_db_why(&d, tok, PA_DB_LOST, "42501 permission denied");
	assert_int_equal(pa_core_stats(d.c)->apply_failures, 1); /* counted once per gid */
	px_update_reset(&d.u);
	p_timer(&d, T0 + 2 * RESEND_MS + 4 * RESEND_MS - 1); /* doubled */
	assert_false(has_db(&d.u, PA_DB_COMMIT_PREPARED));
	px_update_reset(&d.u);
	p_timer(&d, T0 + 2 * RESEND_MS + 4 * RESEND_MS);
	tok = only_db(&d.u, PA_DB_COMMIT_PREPARED, g)->token;
	px_update_reset(&d.u);
	p_db(&d, tok, PA_DB_OK, 0, NULL);
	assert_int_equal(pa_core_stats(d.c)->committed, 1);
	p_close(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_runs_and_replies),
		cmocka_unit_test(test_exec_duplicate_ignored),
		cmocka_unit_test(test_prepare_pipelined_behind_statement),
		cmocka_unit_test(test_exec_unknown_gid_refused),
		cmocka_unit_test(test_exec_out_of_order_dooms),
		cmocka_unit_test(test_prepare_ok_votes_prepared),
		cmocka_unit_test(test_prepare_failed_votes_aborted),
		cmocka_unit_test(test_prepare_lost_votes_nothing),
		cmocka_unit_test(test_failed_stmt_rolls_back),
		cmocka_unit_test(test_decision_commit_acked),
		cmocka_unit_test(test_commit_prepared_missing_checked),
		cmocka_unit_test(test_xa_gid_never_voted),
		cmocka_unit_test(test_thrifty_first_vote),
		cmocka_unit_test(test_thrifty_same_majority_everywhere),
		cmocka_unit_test(test_thrifty_late_decision_goes_to_all),
		cmocka_unit_test(test_thrifty_hint_not_from_relays),
		cmocka_unit_test(test_idle_timeout_rolls_back),
		cmocka_unit_test(test_scan_presumed_abort),
		cmocka_unit_test(test_presumed_abort_stale_scan),
		cmocka_unit_test(test_exec_busy_at_max_open),
		cmocka_unit_test(test_restart_ambiguous_gid_no_aborted_vote),
		cmocka_unit_test(test_finished_gid_late_prepare_no_second_value),
		cmocka_unit_test(test_future_gid_never_tracked),
		cmocka_unit_test(test_lost_session_dooms),
		cmocka_unit_test(test_prepare_failure_reason_to_client),
		cmocka_unit_test(test_cancel_at_client_deadline),
		cmocka_unit_test(test_abort_decision_cancels_statement),
		cmocka_unit_test(test_refused_outcome_backoff),
		cmocka_unit_test(test_drain_refuses_new_gids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
