/*
 * pc_txn.c - the client library's transactions: begin, exec on
 * participants, commit / rollback through the coordinators.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

#include "paxcommit.h"
#include "pc_internal.h"
#include "px_msg.h"

struct pc_txn {
	struct pc_conn *c;
	char gid[PX_GID_MAX + 1];
	struct px_pset pset;      /* participants touched, ascending */
	uint32_t stmt[PX_PSET_MAX]; /* next statement number, per pset entry */
	int doomed;
	char why[PC_REASON_MAX + 1]; /* why it is doomed */
	int xa;             /* XA-style (pc_begin_xa) */
	uint8_t xa_outcome; /* its decision, once known (PX_OUT_*) */
};

struct pc_rows {
	int ncols, nrows;
	char **names;  /* ncols */
	char **cells;  /* nrows * ncols; NULL for SQL NULL */
	char sqlstate[6];
	char *error;
	char *blk;     /* every string, in one block */
};

void pc_set_timeouts(struct pc_conn *c, uint32_t exec_ms, uint32_t commit_ms)
{
	if (exec_ms)
		c->exec_timeout_ms = exec_ms;
	if (commit_ms)
		c->commit_timeout_ms = commit_ms;
}

int pc_begin(struct pc_conn *c, struct pc_txn **out)
{
	*out = NULL;
	struct pc_txn *t = calloc(1, sizeof(*t));
	if (!t)
		return pc_fail(c, PC_ENOMEM, "out of memory");
	t->c = c;
	if (!pc_new_gid(c, t->gid, sizeof(t->gid))) {
		free(t);
		return pc_fail(c, PC_EINVAL, "cannot make a gid");
	}
	*out = t;
	return PC_OK;
}

int pc_begin_xa(struct pc_conn *c, struct pc_txn **out)
{
	*out = NULL;
	struct pc_txn *t = calloc(1, sizeof(*t));
	if (!t)
		return pc_fail(c, PC_ENOMEM, "out of memory");
	t->c = c;
	t->xa = 1;
	if (!pc_new_gid_xa(c, t->gid, sizeof(t->gid))) {
		free(t);
		return pc_fail(c, PC_EINVAL, "cannot make a gid");
	}
	*out = t;
	return PC_OK;
}

void pc_txn_free(struct pc_txn **tp)
{
	free(*tp);
	*tp = NULL;
}

const char *pc_txn_gid(const struct pc_txn *t)
{
	return t->gid;
}

static void doom(struct pc_txn *t, const char *fmt, const char *a, const char *b)
{
	if (!t->doomed && snprintf(t->why, sizeof(t->why), fmt, a, b) >= (int)sizeof(t->why))
		memcpy(t->why + sizeof(t->why) - 4, "...", 4); /* cut long messages */
	t->doomed = 1;
}

/* Index of rm in the touched set, adding it if new; -1 if full. */
static int touch(struct pc_txn *t, uint16_t rm)
{
	int i = 0;
	while (i < t->pset.n && t->pset.rm[i] < rm)
		i++;
	if (i < t->pset.n && t->pset.rm[i] == rm)
		return i;
	if (t->pset.n == PX_PSET_MAX)
		return -1;
	memmove(&t->pset.rm[i + 1], &t->pset.rm[i], sizeof(t->pset.rm[0]) * (size_t)(t->pset.n - i));
	memmove(&t->stmt[i + 1], &t->stmt[i], sizeof(t->stmt[0]) * (size_t)(t->pset.n - i));
	t->pset.rm[i] = rm;
	t->stmt[i] = 0;
	t->pset.n++;
	return i;
}

/* Copy a decoded EXEC_RESULT into a pc_rows. */
static struct pc_rows *rows_of(const struct px_mexec_result *m)
{
	struct pc_rows *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	size_t bytes = m->reason.len + 1;
	uint32_t pos = 0;
	struct px_str s;
	while (px_str_next(m->cols, m->cols_len, &pos, &s))
		bytes += s.len + 1;
	pos = 0;
	while (px_str_next(m->cells, m->cells_len, &pos, &s))
		bytes += s.len == PX_NULL_LEN ? 0 : s.len + 1;
	r->ncols = m->ncols;
	r->nrows = (int)m->nrows;
	r->blk = malloc(bytes);
	r->names = calloc((size_t)m->ncols + 1, sizeof(*r->names));
	r->cells = calloc((size_t)m->ncols * m->nrows + 1, sizeof(*r->cells));
	if (!r->blk || !r->names || !r->cells) {
		pc_rows_free(&r);
		return NULL;
	}
	char *p = r->blk;
	pos = 0;
	for (int i = 0; i < r->ncols && px_str_next(m->cols, m->cols_len, &pos, &s); i++) {
		memcpy(p, s.p, s.len);
		p[s.len] = 0;
		r->names[i] = p;
		p += s.len + 1;
	}
	pos = 0;
	for (size_t i = 0; i < (size_t)m->ncols * m->nrows && px_str_next(m->cells, m->cells_len, &pos, &s); i++) {
		if (s.len == PX_NULL_LEN)
			continue;
		memcpy(p, s.p, s.len);
		p[s.len] = 0;
		r->cells[i] = p;
		p += s.len + 1;
	}
	memcpy(p, m->reason.p, m->reason.len);
	p[m->reason.len] = 0;
	r->error = p;
	if (m->sqlstate.len == 5)
		memcpy(r->sqlstate, m->sqlstate.p, 5);
	return r;
}

/* Send frames to participant rm now, or (batch) queue them for px_net_flush. */
static void to_agent(struct pc_conn *c, uint16_t rm, const void *buf, size_t len, int batch)
{
	if (batch)
		px_net_batch(c->net, px_addr_of(PX_NODE_AGENT, rm), buf, len);
	else
		px_net_send(c->net, px_addr_of(PX_NODE_AGENT, rm), buf, len);
}

/* Encode and send statement st of t (batch: queue it for px_net_flush);
 * sets *req.  Returns 0 or a PC_E*. */
static int exec_send(struct pc_txn *t, struct pc_stmt *st, uint16_t *rm_out, uint64_t *req, int batch)
{
	struct pc_conn *c = t->c;
	const char *participant = st->participant, *sql = st->sql;
	int nparams = st->nparams;
	uint16_t rm = participant ? pc_participant_id(c, participant) : 0;
	if (!rm)
		return pc_fail(c, PC_EINVAL, "no participant '%s' in the cluster configuration",
			       participant ? participant : "(null)");
	size_t sl = sql ? strlen(sql) : 0;
	if (!sql || sl > PX_SQL_MAX)
		return pc_fail(c, PC_EINVAL, "the statement is %zu bytes; the limit is %u", sl, PX_SQL_MAX);
	if (nparams < 0 || nparams > (int)PX_PARAMS_MAX)
		return pc_fail(c, PC_EINVAL, "%d parameters; the limit is %u", nparams, PX_PARAMS_MAX);
	struct px_msg m; /* about 2 KiB (the parameter views) */
	memset(&m, 0, offsetof(struct px_msg, u) + offsetof(struct px_mexec, params));
	m.type = PX_MSG_EXEC;
	for (int i = 0; i < nparams; i++) {
		size_t pl = st->params[i] ? strlen(st->params[i]) : 0;
		if (pl > PX_PARAM_MAX)
			return pc_fail(c, PC_EINVAL, "parameter $%d is %zu bytes; the limit is %u", i + 1, pl,
				       PX_PARAM_MAX);
		m.u.exec.params[i] = st->params[i] ? px_str_of(st->params[i], (uint32_t)pl) : px_str_of(NULL, PX_NULL_LEN);
	}
	int k = touch(t, rm);
	if (k < 0)
		return pc_fail(c, PC_EINVAL, "a transaction may touch at most %u participants", PX_PSET_MAX);
	m.u.exec.req = ++c->req;
	m.u.exec.gid = px_str_of(t->gid, (uint32_t)strlen(t->gid));
	m.u.exec.stmt = t->stmt[k]++;
	/* how long we wait: past that, the agent cancels the statement */
	m.u.exec.timeout_ms = c->exec_timeout_ms;
	m.u.exec.sql = px_str_of(sql, (uint32_t)sl);
	m.u.exec.nparams = (uint16_t)nparams;
	size_t cap = 64 + sl + (size_t)nparams * 4 + PX_GID_MAX, len;
	for (int i = 0; i < nparams; i++)
		cap += m.u.exec.params[i].len == PX_NULL_LEN ? 0 : m.u.exec.params[i].len;
	uint8_t stackbuf[4096], *buf = cap <= sizeof(stackbuf) ? stackbuf : malloc(cap);
	if (!buf)
		return pc_fail(c, PC_ENOMEM, "out of memory");
	int e = px_encode(&m, buf, cap, &len);
	if (!e)
		/* Sent once: statements are numbered and the agent runs each
		 * once; a lost reply dooms the transaction rather than risk
		 * running it twice. */
		to_agent(c, rm, buf, len, batch);
	if (buf != stackbuf)
		free(buf);
	if (e)
		return pc_fail(c, PC_EINVAL, "cannot encode the statement: %s", px_codec_strerror(e));
	*rm_out = rm;
	*req = m.u.exec.req;
	return 0;
}

/* The reply to statement st has come: fill st, doom t on failure. */
static void exec_done(struct pc_txn *t, struct pc_stmt *st, const struct px_mexec_result *er)
{
	struct pc_conn *c = t->c;
	st->rows = rows_of(er);
	if (!st->rows) {
		st->rc = pc_fail(c, PC_ENOMEM, "out of memory");
		doom(t, "%s%s", "out of memory", "");
		return;
	}
	char reason[PC_REASON_MAX + 1];
	snprintf(reason, sizeof(reason), "%.*s", (int)er->reason.len, er->reason.p);
	switch (er->status) {
	case PX_EXEC_OK:
		st->rc = PC_OK;
		return;
	case PX_EXEC_SQLERR:
		doom(t, "statement failed on %s: %s", st->participant, reason);
		st->rc = pc_fail(c, PC_ESQL, "%s: %.*s %s", st->participant, (int)er->sqlstate.len, er->sqlstate.p, reason);
		return;
	case PX_EXEC_BUSY:
		doom(t, "participant %s busy: %s", st->participant, reason);
		st->rc = pc_fail(c, PC_EBUSY, "%s: %s", st->participant, reason);
		return;
	default:
		doom(t, "participant %s: %s", st->participant, reason);
		st->rc = pc_fail(c, PC_EREFUSED, "%s: %s", st->participant, reason);
	}
}

/* Checks of a parallel call before anything is sent: marks every statement
 * pending.  Returns 0 or PC_EINVAL. */
static int stmts_check(struct pc_conn *c, struct pc_stmt *stmts, int n)
{
	c->err[0] = 0;
	if (n < 1 || n > (int)PX_PSET_MAX)
		return pc_fail(c, PC_EINVAL, "1..%u statements at once, not %d", PX_PSET_MAX, n);
	for (int i = 0; i < n; i++) {
		stmts[i].rows = NULL;
		stmts[i].rc = 1; /* pending */
		for (int j = 0; j < i; j++)
			if (stmts[j].participant && stmts[i].participant &&
			    !strcmp(stmts[j].participant, stmts[i].participant))
				return pc_fail(c, PC_EINVAL, "two statements for participant %s in one parallel call",
					       stmts[i].participant);
	}
	return 0;
}

/* Statements of one parallel call waiting for their results (rc == 1). */
struct exec_wait {
	struct pc_txn *t;
	struct pc_stmt *st;
	int n;
	uint16_t rm[PX_PSET_MAX];
	uint64_t req[PX_PSET_MAX];
};

static int pending_of(const struct pc_stmt *st, int n)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += st[i].rc == 1;
	return k;
}

static void exec_result_in(void *ctx, struct px_addr from, const struct px_msg *m)
{
	struct exec_wait *w = ctx;
	if (m->type != PX_MSG_EXEC_RESULT || from.kind != PX_NODE_AGENT)
		return;
	for (int i = 0; i < w->n; i++)
		if (w->st[i].rc == 1 && m->u.exec_result.req == w->req[i] && from.id == w->rm[i])
			exec_done(w->t, &w->st[i], &m->u.exec_result);
}

/* Take the statement results that have arrived, without waiting.  Returns
 * how many statements still wait. */
static int results_in(struct exec_wait *w)
{
	struct px_addr from;
	const uint8_t *data;
	size_t dl;
	while (pending_of(w->st, w->n) && px_net_recv(w->t->c->net, &from, &data, &dl) == 1) {
		size_t off = 0;
		const uint8_t *frame;
		size_t flen;
		struct px_msg x;
		while (px_net_split(data, dl, &off, &frame, &flen) == 1)
			if (px_decode(frame, flen, &x) == 0)
				exec_result_in(w, from, &x);
	}
	return pending_of(w->st, w->n);
}

static int not_xa(struct pc_txn *t)
{
	return t->xa ? pc_fail(t->c, PC_EINVAL, "%s is an XA-style transaction: its statements run on the application's own connections (pc_xa_commit)", t->gid) : 0;
}

int pc_exec_parallel(struct pc_txn *t, struct pc_stmt *stmts, int n)
{
	struct pc_conn *c = t->c;
	if (not_xa(t))
		return PC_EINVAL;
	int ce = stmts_check(c, stmts, n);
	if (ce) { /* statements the caller wanted did not run: see exec_send's callers */
		doom(t, "statements refused: %s%s", c->err, "");
		return ce;
	}
	if (t->doomed) {
		for (int i = 0; i < n; i++)
			stmts[i].rc = PC_EDOOMED;
		return pc_fail(c, PC_EDOOMED, "transaction %s is doomed: %s; roll it back", t->gid, t->why);
	}
	struct exec_wait w = {.t = t, .st = stmts, .n = n};
	int first_err = 0;
	for (int i = 0; i < n; i++) {
		int e = exec_send(t, &stmts[i], &w.rm[i], &w.req[i], 0);
		if (e) {
			/* Refused before sending (a limit, an unknown participant).
			 * Nothing of this statement ran, but the caller's
			 * transaction is now missing a statement it asked for:
			 * committing the others would commit half of it (a debit
			 * without its credit), so it is doomed like any failure. */
			stmts[i].rc = e;
			doom(t, "statement for %s refused: %s", stmts[i].participant ? stmts[i].participant : "(null)",
			     c->err);
			if (!first_err)
				first_err = e;
		}
	}
	uint64_t deadline = pc_mono_ms() + c->exec_timeout_ms;
	for (;;) {
		int pending = results_in(&w);
		if (!pending)
			break;
		if (pc_mono_ms() >= deadline) {
			for (int i = 0; i < n; i++)
				if (stmts[i].rc == 1) {
					doom(t, "no answer from %s within %s", stmts[i].participant, "the exec timeout");
					stmts[i].rc = pc_fail(c, PC_ETIMEOUT, "no answer from participant %s within %u ms",
							      stmts[i].participant, c->exec_timeout_ms);
				}
			break;
		}
		int pe = pc_poll(c, deadline);
		if (pe) {
			for (int i = 0; i < n; i++)
				if (stmts[i].rc == 1)
					stmts[i].rc = pe;
			doom(t, "%s%s", "network failure", "");
			break;
		}
	}
	for (int i = 0; i < n && !first_err; i++)
		if (stmts[i].rc)
			first_err = stmts[i].rc;
	return first_err;
}

int pc_exec(struct pc_txn *t, const char *participant, const char *sql, int nparams, const char *const *params,
	    struct pc_rows **rows)
{
	struct pc_stmt st = {.participant = participant, .sql = sql, .nparams = nparams, .params = params};
	int e = pc_exec_parallel(t, &st, 1);
	if (rows)
		*rows = st.rows;
	else
		pc_rows_free(&st.rows);
	return e;
}

/* pc_commit; batch: frames queued for the participants (pc_exec_commit's
 * statements) leave with the PREPAREs, one ZeroMQ message per participant. */
static int commit_with(struct pc_txn *t, int wait, struct pc_result *res, int batch)
{
	memset(res, 0, sizeof(*res));
	res->leader = -1;
	if (t->pset.n == 0 && !t->doomed) {
		res->outcome = PC_COMMITTED; /* nothing ran anywhere */
		return PC_OK;
	}
	if (t->doomed && t->pset.n == 0) { /* refused before anything was sent */
		res->outcome = PC_ABORTED;
		snprintf(res->reason, sizeof(res->reason), "%s", t->why);
		return PC_OK;
	}
	if (t->doomed) {
		if (batch)
			px_net_flush(t->c->net);
		int e = pc_rollback_gid(t->c, t->gid, t->pset.rm, t->pset.n, t->c->commit_timeout_ms, res);
		if (e == 0 && res->outcome == PC_ABORTED)
			snprintf(res->reason, sizeof(res->reason), "%s", t->why);
		return e;
	}
	/* PREPARE straight to the participants, in parallel with the commit
	 * request to the leader (which sends its own PREPARE too): the votes
	 * start one hop earlier.  The client has decided to commit, so this is
	 * what the leader would ask anyway. */
	struct px_msg p = {.type = PX_MSG_PREPARE};
	p.u.prepare.gid = px_str_of(t->gid, (uint32_t)strlen(t->gid));
	p.u.prepare.pset = t->pset;
	/* pc_exec_commit with wait=applied waits for every participant's ack
	 * anyway: the statements' results may come with it, one message. */
	if (batch && wait != PC_WAIT_DECIDED)
		p.u.prepare.abort = PX_PREPARE_LATE_RESULTS;
	uint8_t buf[512];
	size_t len;
	int sent = px_encode(&p, buf, sizeof(buf), &len) == 0;
	if (sent)
		for (uint16_t i = 0; i < t->pset.n; i++)
			to_agent(t->c, t->pset.rm[i], buf, len, batch);
	if (batch)
		px_net_flush(t->c->net);
	/* Every participant of t ran a statement of ours: it acks here too,
	 * and tells us why if it votes `aborted`. */
	t->c->vote_why[0] = 0;
	int e = pc_decide(t->c, t->gid, t->pset.rm, t->pset.n, wait ? wait : PC_WAIT_APPLIED, 0,
			  PC_DECIDE_ACKS_HERE | (sent ? PC_DECIDE_PREPARE_SENT : 0), t->c->commit_timeout_ms, res);
	if (e == 0 && res->outcome == PC_ABORTED && t->c->vote_why[0])
		snprintf(res->reason, sizeof(res->reason), "%s", t->c->vote_why);
	return e;
}

int pc_exec_commit(struct pc_txn *t, struct pc_stmt *stmts, int n, int wait, struct pc_result *res)
{
	struct pc_conn *c = t->c;
	memset(res, 0, sizeof(*res));
	res->leader = -1;
	if (not_xa(t))
		return PC_EINVAL;
	int ce = stmts_check(c, stmts, n);
	if (ce) { /* nothing sent, but the transaction can no longer commit */
		doom(t, "statements refused: %s%s", c->err, "");
		return ce;
	}
	struct exec_wait w = {.t = t, .st = stmts, .n = n};
	if (!t->doomed)
		for (int i = 0; i < n; i++) {
			int e = exec_send(t, &stmts[i], &w.rm[i], &w.req[i], 1);
			if (e) {
				/* Refused before sending: the caller asked for these
				 * statements and a commit together, so commit nothing. */
				stmts[i].rc = e;
				doom(t, "statement for %s refused: %s", stmts[i].participant ? stmts[i].participant : "(null)",
				     c->err);
			}
		}
	if (t->doomed) { /* commit_with rolls back; statements not sent say so */
		for (int i = 0; i < n; i++)
			if (stmts[i].rc == 1 && !w.req[i])
				stmts[i].rc = PC_EDOOMED;
		if (t->pset.n == 0) { /* nothing reached any participant */
			px_net_flush(c->net);
			res->outcome = PC_ABORTED;
			snprintf(res->reason, sizeof(res->reason), "%s", t->why);
			return 0;
		}
	}
	/* Every agent runs its statement, then PREPAREs as commit_with asks (a
	 * PREPARE that arrives while the statement runs waits for it), so the
	 * statements and the commit share one round trip.  A failed statement
	 * makes its agent vote `aborted`. */
	c->side = exec_result_in;
	c->side_ctx = &w;
	int e = commit_with(t, wait, res, 1);
	results_in(&w); /* results already here but not yet read */
	c->side = NULL;
	c->side_ctx = NULL;
	for (int i = 0; i < n; i++)
		if (stmts[i].rc == 1)
			/* A commit proves the statement ran; its rows were not seen. */
			stmts[i].rc = res->outcome == PC_COMMITTED ? PC_OK
								   : pc_fail(c, PC_ETIMEOUT, "no result from participant %s before the outcome",
									     stmts[i].participant);
	if (!e && res->outcome == PC_ABORTED && t->doomed)
		snprintf(res->reason, sizeof(res->reason), "%s", t->why);
	return e;
}

int pc_commit(struct pc_txn *t, int wait, struct pc_result *res)
{
	memset(res, 0, sizeof(*res));
	res->leader = -1;
	return not_xa(t) ? PC_EINVAL : commit_with(t, wait, res, 0);
}

int pc_rollback(struct pc_txn *t, struct pc_result *res)
{
	memset(res, 0, sizeof(*res));
	res->leader = -1;
	if (not_xa(t))
		return PC_EINVAL;
	if (t->pset.n == 0) {
		res->outcome = PC_ABORTED;
		return PC_OK;
	}
	return pc_rollback_gid(t->c, t->gid, t->pset.rm, t->pset.n, t->c->commit_timeout_ms, res);
}

int pc_xa_name(struct pc_txn *t, const char *participant, char *buf, size_t cap)
{
	struct pc_conn *c = t->c;
	if (!t->xa)
		return pc_fail(c, PC_EINVAL, "%s is not an XA-style transaction (pc_begin_xa)", t->gid);
	uint16_t rm = participant ? pc_participant_id(c, participant) : 0;
	if (!rm)
		return pc_fail(c, PC_EINVAL, "no participant '%s' in the cluster configuration",
			       participant ? participant : "(null)");
	if (t->xa_outcome)
		return pc_fail(c, PC_EINVAL, "%s is decided already", t->gid);
	/* the name the participant's agent gives its own prepared transactions */
	int n = snprintf(buf, cap, "%s_%u", t->gid, rm);
	if (n < 0 || (size_t)n >= cap)
		return pc_fail(c, PC_EINVAL, "a prepared-transaction name needs %d bytes", n + 1);
	if (touch(t, rm) < 0)
		return pc_fail(c, PC_EINVAL, "more than %u participants", PX_PSET_MAX);
	return PC_OK;
}

static int xa_decide(struct pc_txn *t, uint8_t val, struct pc_result *res)
{
	memset(res, 0, sizeof(*res));
	res->leader = -1;
	if (!t->xa)
		return pc_fail(t->c, PC_EINVAL, "%s is not an XA-style transaction (pc_begin_xa)", t->gid);
	if (t->pset.n == 0) {
		res->outcome = val == PX_VAL_PREPARED ? PC_COMMITTED : PC_ABORTED; /* nothing anywhere */
		return PC_OK;
	}
	int e = pc_xa_decide(t->c, t->gid, t->pset.rm, t->pset.n, val, res);
	if (e == 0 && res->outcome != PC_UNKNOWN)
		t->xa_outcome = res->outcome == PC_COMMITTED ? PX_OUT_COMMIT : PX_OUT_ABORT;
	return e;
}

int pc_xa_commit(struct pc_txn *t, struct pc_result *res)
{
	return xa_decide(t, PX_VAL_PREPARED, res);
}

int pc_xa_rollback(struct pc_txn *t, struct pc_result *res)
{
	return xa_decide(t, PX_VAL_ABORTED, res);
}

int pc_xa_done(struct pc_txn *t)
{
	if (!t->xa || !t->xa_outcome)
		return pc_fail(t->c, PC_EINVAL, "%s has no outcome to report applied", t->gid);
	pc_xa_ack(t->c, t->gid, t->pset.rm, t->pset.n, t->xa_outcome);
	return PC_OK;
}

int pc_rows_ncols(const struct pc_rows *r)
{
	return r ? r->ncols : 0;
}

int pc_rows_nrows(const struct pc_rows *r)
{
	return r ? r->nrows : 0;
}

const char *pc_rows_colname(const struct pc_rows *r, int col)
{
	return r && col >= 0 && col < r->ncols ? r->names[col] : NULL;
}

const char *pc_rows_value(const struct pc_rows *r, int row, int col)
{
	if (!r || row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
		return NULL;
	return r->cells[(size_t)row * (size_t)r->ncols + (size_t)col];
}

const char *pc_rows_sqlstate(const struct pc_rows *r)
{
	return r ? r->sqlstate : "";
}

const char *pc_rows_error(const struct pc_rows *r)
{
	return r && r->error ? r->error : "";
}

void pc_rows_free(struct pc_rows **rp)
{
	struct pc_rows *r = *rp;
	if (!r)
		return;
	free(r->names);
	free(r->cells);
	free(r->blk);
	free(r);
	*rp = NULL;
}
