/*
 * paxcommit.pml - a SPIN model of Paxos Commit with paxcommit's extensions.
 *
 * One gid, two participants (rm 0, 1), three acceptors (replicas 0, 1, 2),
 * ballots 0, 1, 2.  Ballot 0 belongs to the proposer of each instance (the
 * participant's agent, or for an XA-style gid the client); ballot 1 to the
 * leader on replica 0, ballot 2 to the leader on replica 1.
 *
 * The network is a set of messages: a send adds a message, a receive does
 * not remove it.  So every message may be delivered any number of times
 * (duplication), in any order (reordering), or never (loss).
 *
 * One replica (chosen at the start) may crash once and restart: it keeps
 * only what it had synced (its log), and its leader (if any) is gone.
 *
 * Variants (-D to spin):
 *   BUG_PRESUMED  the agent presumes abort from its own tracked view;
 *   BUG_QUORUM    the leader learns from a quorum of one acceptor;
 *   CODE_REVIVE   the leader makes a txn for a gid whose tombstone the
 *                 horizon pruned, and px_lrn_learn hands it to its acceptor
 *                 (learner_txn and px_lrn_learn today);
 *   MISTAKE_EARLY_FORGET  FORGET after the first ack, not after all.
 * Sub-models (the same rules, fewer behaviours):
 *   XA_ONLY / PLAIN_ONLY  one kind of gid only (default: either);
 *   VICTIM=n      the replica that may crash (default: any one);
 *   NO_CRASH      no crash at all;
 *   NO_L2         no leader at ballot 2;  NO_L1: none at ballot 1;
 *   NO_AGENTS     the agents take no step;
 *   NO_HORIZON    the horizon never passes;
 *   FOCUS         no leader recovery or sync, no `aborted` client vote,
 *                 agent 1 never scans.
 * The properties are assertions inside the steps (CHECK_CHOSEN, SAY,
 * SAY_WEAK_ABORT and the leaders' one value per ballot).  See README.md.
 */

/* ---------------------------------------------------------------- values */
#define NONE 0
#define P 1 /* prepared */
#define A 2 /* aborted */
#define OC 1 /* outcome commit */
#define OA 2 /* outcome abort */

/* participant sets: none known, {0,1}, {0}, {1} */
#define PS_FULL 1
#define PS_R0 2
#define PS_R1 3
#define HAS(ps, r) ((ps) == PS_FULL || (ps) == PS_R0 + (r))

/* what an acceptor holds for the gid */
#define ABSENT 0 /* nothing (never heard of it, or its tombstone pruned) */
#define LIVE 1   /* a txn it has taken on (acc_known) */
#define TOMB 2   /* a tombstone */

/* a participant's database, for this gid */
#define DB_NONE 0      /* nothing prepared (open or never begun) */
#define DB_ACTIVE 1    /* open transaction (plain gids) */
#define DB_PREP 2      /* prepared */
#define DB_COMMITTED 3 /* COMMIT PREPARED applied */
#define DB_ABORTED 4   /* rolled back */

/* an agent's view of the gid */
#define AG_NONE 0 /* not tracked */
#define AG_OPEN 1 /* its open transaction (plain gids) */
#define AG_PREP 2 /* prepared, outcome not known */
#define AG_GONE 3 /* rolled back before preparing, voted aborted */
#define AG_DONE 4 /* outcome applied and acknowledged */

/* the XA-style client */
#define CS_PREP 0    /* preparing the databases */
#define CS_VOTED_P 1 /* voted prepared */
#define CS_VOTED_A 2 /* voted aborted */

#define ANYR 2 /* rm of a whole-gid 1a */
/* FOCUS (for the bug variants): a sub-model, the same rules with fewer
 * behaviours (no leader recovery or sync, no rollback vote, agent 1 idle),
 * so that DFS reaches a counterexample quickly; one found here is one of
 * the full model. */
#ifdef FOCUS
#define FULL_ON 0
#else
#define FULL_ON 1
#endif
#ifdef NO_HORIZON
#define HORIZON_ON 0
#else
#define HORIZON_ON 1
#endif

/* message bits */
#define OBIT(o) (1 << ((o) - 1))            /* outcome: C 1, A 2 */
#define FBIT(o) (1 << (o))                  /* FORGET: none 1, C 2, A 4 */
#define ANYOK(ps) (1 << (ps)) /* whole-gid 1b OK naming set ps (0: none) */
#define ANYGONE 16            /* whole-gid 1b: below the horizon / forgotten */

#ifdef BUG_QUORUM
#define LQ 1
#else
#define LQ 2
#endif

/* ---------------------------------------------------------------- state */
bit xa; /* the gid is XA-style */

/* databases */
byte db[2];

/* acceptors */
byte ast[3];   /* ABSENT, LIVE, TOMB */
byte apset[3]; /* t->pset */
byte gmbal[3]; /* whole-gid promise */
byte aout[3];  /* t->outcome (LIVE, or the learner's txn), tombstone outcome */
bit below[3];  /* the gid is below this replica's durable horizon */
byte mbal[6];  /* [a*2+r] */
byte vb[6];    /* accepted ballot + 1, 0: none */
byte vv[6];    /* accepted value */
#define MB(a, r) mbal[(a) * 2 + (r)]
#define VB(a, r) vb[(a) * 2 + (r)]
#define VV(a, r) vv[(a) * 2 + (r)]
#define PROM(a, r) (gmbal[a] > MB(a, r) -> gmbal[a] : MB(a, r))
#define MAX3(x, y, z) ((x) >= (y) && (x) >= (z) -> (x) : ((y) >= (z) -> (y) : (z)))
#define PROMANY(a) MAX3(gmbal[a], MB(a, 0), MB(a, 1))

/* the replica that may crash: its durable state, as its log replays */
byte victim;
bit crashed;
byte d_ast, d_apset, d_gmbal, d_aout;
byte d_mbal[2], d_vb[2], d_vv[2];
byte lz_acc;          /* lazy ACCEPT records of ballot-0 votes (bit per rm); their 2b wait */
byte lz_dec, lz_decps; /* lazy DECISION record */
byte lz_fgt;          /* lazy FORGET record (with an outcome) */

/* messages */
byte m2a[6];   /* [r*3+bal] value of the 2a */
byte m2aps[6]; /* its participant set */
#define M2A(r, bb) m2a[(r) * 3 + (bb)]
#define M2APS(r, bb) m2aps[(r) * 3 + (bb)]
byte b2[18]; /* [a*6+r*3+bal] 2b OK: the value accepted (durably) */
#define B2(a, r, bb) b2[(a) * 6 + (r) * 3 + (bb)]
byte ps2b; /* bit per set some 2b names (derived from b2, m2aps) */
bit m1any[3]; /* [bal] whole-gid 1a */
bit m1b[3];   /* [bal] 1a for every instance of the set m1aps[bal] */
byte m1aps[3];
byte b1ok[18]; /* [a*6+r*3+bal] 1b OK: 1 nothing accepted, else 1+2*bal+val */
bit b1gone[9]; /* [a*3+bal] 1b: below the horizon / forgotten without outcome */
bit b1conf[9]; /* [a*3+bal] 1b: the acceptor holds another participant set */
byte b1any[9]; /* [a*3+bal] whole-gid 1b: ANYOK(set), ANYGONE */
#define B1OK(a, r, bb) b1ok[(a) * 6 + (r) * 3 + (bb)]
#define B1GONE(a, bb) b1gone[(a) * 3 + (bb)]
#define B1CONF(a, bb) b1conf[(a) * 3 + (bb)]
#define B1ANY(a, bb) b1any[(a) * 3 + (bb)]
/* What a replica has learned reaches everyone who may be told it: the
 * agents (DECISION, status answers), the client (OUTCOME), the other
 * replicas (DECISION, outcomes reported in 1b/2b).  One bit per outcome. */
byte ann;     /* OBIT */
byte frep;    /* a tombstone's outcome reported in a 1b/2b (OBIT) */
byte unk[2];  /* UNKNOWN_GID to agent r: bit per replica */
byte mack[2]; /* DECISION_ACK for participant r (OBIT) */
byte mfgt;    /* FORGET (FBIT) */
bit creq;     /* the client's commit / rollback request */

/* leaders, by ballot b (1, 2) on replica b-1; index 3 is never active */
byte lact[4];  /* 0 not yet, 1 leading, 2 gone (its replica crashed) */
bit lk_[4];    /* t->lead made (else it exists while its acceptor holds the txn) */
byte lps_[4];  /* t->lead->pset; none: the set its acceptor holds (px_lead_of) */
byte lacked[4];
bit lgave[4];
byte lasker[4]; /* 1 + rm of the agent that asked, 0 none */
byte lsent[8];  /* [b*2+r] value of its 2a, 0 none */
bit lreq[4];    /* a waiter: the client's request */
#define LSENT(b, r) lsent[(b) * 2 + (r)]

/* agents */
byte ag[2];
byte ag_out[2];
bit ag_asked[2];

/* the client */
byte cst;
byte clearn;
byte capp;
bit cacked;

/* ghost */
bit g_abort_said; /* some process stated or applied ABORT */

byte tv, tps, tch, tdef, tok, torec, texist, tcx, tcy, thv; /* scratch, 0 between steps */

/* ---------------------------------------------------------------- properties */
#define CNT(r, bb, v) ((B2(0, r, bb) == (v)) + (B2(1, r, bb) == (v)) + (B2(2, r, bb) == (v)))
#define CH(r, bb, v) (CNT(r, bb, v) >= 2)
#define CHOSEN(r, v) (CH(r, 0, v) || CH(r, 1, v) || CH(r, 2, v))
#define CHP_FULL(r) (CH(r, 0, P) || (CH(r, 1, P) && M2APS(r, 1) == PS_FULL) || (CH(r, 2, P) && M2APS(r, 2) == PS_FULL))
#define COMMIT_CHOSEN (CHP_FULL(0) && CHP_FULL(1))
#define ABORT_CHOSEN (CHOSEN(0, A) || CHOSEN(1, A))

/* consensus per instance, and no abort stated before a commit is chosen */
inline CHECK_CHOSEN() {
	assert(!(CHOSEN(0, P) && CHOSEN(0, A)));
	assert(!(CHOSEN(1, P) && CHOSEN(1, A)));
	assert(!(g_abort_said && COMMIT_CHOSEN))
}

/* A process states (or applies) outcome o: it must be the chosen one. */
inline SAY(o) {
	if
	:: (o) == OC -> assert(COMMIT_CHOSEN)
	:: else -> assert(ABORT_CHOSEN); g_abort_said = 1
	fi
}

/* Presumed abort: nothing need be chosen, but a commit never may be. */
inline SAY_WEAK_ABORT() {
	assert(!COMMIT_CHOSEN);
	g_abort_said = 1
}

/* ---------------------------------------------------------------- durability */
/* Replay of one record into the victim's durable state. */
inline D_ACCEPT(r, bb, v, ps) {
	d_ast = LIVE;
	if :: d_apset == NONE -> d_apset = ps :: else -> skip fi;
	if :: bb > d_mbal[r] -> d_mbal[r] = bb :: else -> skip fi;
	d_vb[r] = bb + 1;
	d_vv[r] = v
}

inline D_FORGET(x, o) {
	if
	:: below[x] -> d_ast = ABSENT; d_aout = NONE
	:: else -> d_ast = TOMB; d_aout = o
	fi;
	d_apset = NONE; d_gmbal = 0;
	d_mbal[0] = 0; d_vb[0] = 0; d_vv[0] = 0;
	d_mbal[1] = 0; d_vb[1] = 0; d_vv[1] = 0
}

/* Sync the victim's log: lazy records become durable (in log order), and
 * the 2b's held for them leave. */
inline FLUSH() {
	if
	:: lz_acc & 1 -> D_ACCEPT(0, 0, P, PS_FULL); B2(victim, 0, 0) = P; ps2b = ps2b | (1 << PS_FULL)
	:: else -> skip
	fi;
	if
	:: lz_acc & 2 -> D_ACCEPT(1, 0, P, PS_FULL); B2(victim, 1, 0) = P; ps2b = ps2b | (1 << PS_FULL)
	:: else -> skip
	fi;
	lz_acc = 0;
	if
	:: lz_dec != NONE ->
		d_ast = LIVE; d_aout = lz_dec;
		if :: d_apset == NONE -> d_apset = lz_decps :: else -> skip fi;
		lz_dec = NONE; lz_decps = NONE
	:: else -> skip
	fi;
	if
	:: lz_fgt != NONE -> D_FORGET(victim, lz_fgt); lz_fgt = NONE
	:: else -> skip
	fi;
	CHECK_CHOSEN()
}

#define TRACKED(x) ((x) == victim && !crashed)

inline SYNC(x) {
	if :: TRACKED(x) -> FLUSH() :: else -> skip fi
}

/* Records.  Synced ones first sync what is before them in the log. */
inline REC_PROMISE(x, rmx, bb) {
	if
	:: TRACKED(x) ->
		FLUSH();
		d_ast = LIVE;
		if :: d_apset == NONE -> d_apset = apset[x] :: else -> skip fi;
		if
		:: rmx == ANYR -> if :: bb > d_gmbal -> d_gmbal = bb :: else -> skip fi
		:: else -> if :: bb > d_mbal[rmx] -> d_mbal[rmx] = bb :: else -> skip fi
		fi
	:: else -> skip
	fi
}

inline REC_ACCEPT(x, r, bb, v, ps) {
	if :: TRACKED(x) -> FLUSH(); D_ACCEPT(r, bb, v, ps) :: else -> skip fi
}

inline REC_DECISION(x, o, ps) { /* lazy */
	if :: TRACKED(x) -> lz_dec = o; lz_decps = ps :: else -> skip fi
}

inline REC_FORGET(x, o) { /* lazy with an outcome, synced without */
	if
	:: TRACKED(x) ->
		if
		:: o != NONE -> lz_fgt = o
		:: else -> FLUSH(); D_FORGET(x, NONE)
		fi
	:: else -> skip
	fi
}

/* ---------------------------------------------------------------- leaders */
/* A leading replica tracks every gid its acceptor holds (px_lead_of on
 * each tick) and starts from the acceptor's set: both are derived here. */
#define LK(b) (lk_[b] || (lact[b] == 1 && ast[(b) - 1] == LIVE))
#define LPS(b) (lps_[b] != NONE -> lps_[b] : (ast[(b) - 1] == LIVE -> apset[(b) - 1] : NONE))
#define LOUT(b) (LK(b) -> aout[(b) - 1] : NONE)
/* its acceptor refuses the gid for ever: forgotten, or unknown below the horizon */
#define GONE_HERE(a) (ast[a] != LIVE && (ast[a] == TOMB || below[a]))
/* learner_txn: may the leader on replica b-1 make a txn for the gid?  Not
 * for a forgotten one (its tombstone); nor, here, for one its acceptor
 * refuses below the horizon.  CODE_REVIVE: as the code did before its fixes,
 * only the tombstone is checked (see README.md, "Findings"). */
#ifdef CODE_REVIVE
#define CAN_TRACK(b) (ast[(b) - 1] != TOMB)
#else
#define CAN_TRACK(b) (ast[(b) - 1] != TOMB && !(ast[(b) - 1] != LIVE && below[(b) - 1]))
#endif
/* replica a has a txn for the gid: its acceptor's, or its leader's */
#define TXN(a) (ast[a] == LIVE || LK((a) + 1))

inline LEAD_CLEAR(b) {
	lk_[b] = 0; lps_[b] = NONE; lacked[b] = 0; lgave[b] = 0; lasker[b] = 0;
	LSENT(b, 0) = NONE; LSENT(b, 1) = NONE; lreq[b] = 0
}

/* px_lead_of: the lead is made (its fields are fresh while it is not) */
#define LEAD_MAKE(b) if :: ast[(b) - 1] != LIVE -> lk_[b] = 1 :: else -> skip fi
/* the acceptor on replica x takes the txn on: lk_ is implied from now on */
#define TAKE(x) ast[x] = LIVE; lk_[(x) + 1] = 0

/* The txn is dropped (or only its lead): a learner-only txn goes with it. */
inline LEAD_RESET(b) {
	LEAD_CLEAR(b);
	if
	:: ast[(b) - 1] == ABSENT -> aout[(b) - 1] = NONE; apset[(b) - 1] = NONE
	:: else -> skip
	fi
}

/*
 * px_lrn_learn at replica x (its txn exists: LIVE, or its leader's).
 * The outcome becomes the txn's; the acceptor logs a DECISION (lazily).
 */
inline LEARN_AT(x, o) {
	if
	:: aout[x] != NONE -> assert(aout[x] == o) /* CONFLICTING DECISION */
	:: else ->
		SAY(o);
		if :: apset[x] == NONE && LK((x) + 1) && LPS((x) + 1) != NONE -> apset[x] = LPS((x) + 1) :: else -> skip fi;
#ifdef CODE_REVIVE
		REC_DECISION(x, o, apset[x]);
		TAKE(x); /* acc_known = 1, whatever the horizon */
#else
		if
		:: ast[x] != LIVE && below[x] -> skip /* stays the learner's: no record, not known to the acceptor */
		:: else -> REC_DECISION(x, o, apset[x]); TAKE(x)
		fi;
#endif
		aout[x] = o;
		ann = ann | OBIT(o) /* DECISION, OUTCOME, status answers, reports */
	fi
}

inline GIVE_UP(b) {
	lgave[b] = 1;
	mfgt = mfgt | FBIT(NONE) /* waiters get UNKNOWN_GID: no outcome */
}

/* ---------------------------------------------------------------- acceptor steps */
#define PENDING(a) (TRACKED(a) && (lz_acc || lz_dec || lz_fgt))
/* the 2a of instance r still to take: a delivery that changes something */
#define PEND2A(a, r, bb) \
	(M2A(r, bb) != NONE && B2(a, r, bb) == NONE && !(TRACKED(a) && (bb) == 0 && (lz_acc & (1 << (r)))) && \
	 !GONE_HERE(a) && !(apset[a] != NONE && (apset[a] != M2APS(r, bb) || (bb) < PROM(a, r))) && \
	 !((bb) == 0 && VB(a, r) == 1 && VV(a, r) != M2A(r, bb)))

/* px_acc_2a: 2a(r, bb) at acceptor a */
inline acc_2a(r, bb) {
	if
	:: PEND2A(a, r, bb) ->
		tv = M2A(r, bb); tps = M2APS(r, bb);
		TAKE(a); /* acc_take */
		if
		:: bb < PROM(a, r) -> apset[a] = tps /* refused for a higher promise; the set is named (unlogged) */
		:: else ->
			tch = (VV(a, r) != tv || VB(a, r) != bb + 1 || MB(a, r) != bb);
			if
			:: tch ->
				if :: apset[a] == NONE -> apset[a] = tps :: else -> skip fi;
				MB(a, r) = bb; VB(a, r) = bb + 1; VV(a, r) = tv
			:: else -> skip
			fi;
			/* a first vote while another instance of the set has nothing here: its 2b waits
			 * for a later sync (only the replica that may crash can tell the difference) */
			tdef = (bb == 0 && aout[a] == NONE && tv == P && TRACKED(a) && gmbal[a] == 0 &&
				((HAS(apset[a], 0) && VB(a, 0) == 0 && MB(a, 0) == 0) ||
				 (HAS(apset[a], 1) && VB(a, 1) == 0 && MB(a, 1) == 0)));
			if
			:: tdef -> if :: tch -> lz_acc = lz_acc | (1 << r) :: else -> skip fi
			:: else ->
				if :: tch -> REC_ACCEPT(a, r, bb, tv, tps) :: else -> SYNC(a) fi;
				B2(a, r, bb) = tv;
				ps2b = ps2b | (1 << tps);
				CHECK_CHOSEN()
			fi
		fi
	:: else -> skip
	fi;
	tv = 0; tps = 0; tch = 0; tdef = 0
}

/* px_acc_1a for instance r of a per-instance 1a at ballot bb (the set m1aps[bb]) */
inline PROMISE_INST(r, bb) {
	if
	:: HAS(m1aps[bb], r) && bb >= PROM(a, r) ->
		if
		:: bb > PROM(a, r) || apset[a] == NONE ->
			apset[a] = m1aps[bb]; MB(a, r) = bb; /* the promise fixes the set too */
			REC_PROMISE(a, r, bb)
		:: else -> skip
		fi;
		tok = tok | (1 << (r))
	:: else -> skip
	fi
}

inline REPLY_INST(r, bb) {
	if
	:: (tok & (1 << (r))) && B1OK(a, r, bb) == 0 -> B1OK(a, r, bb) = (VB(a, r) == 0 -> 1 : 2 * VB(a, r) - 1 + VV(a, r))
	:: else -> skip
	fi
}

/* The leader's 1a's for every instance of its set leave in one message per
 * replica (one ZeroMQ message per destination and round), and are taken in
 * one step. */
inline acc_1a(bb) {
	if
	:: GONE_HERE(a) ->
		SYNC(a);
		if
		:: ast[a] == TOMB && aout[a] != NONE -> frep = frep | OBIT(aout[a])
		:: else -> B1GONE(a, bb) = 1
		fi
	:: else ->
		TAKE(a); /* acc_take */
		if
		:: apset[a] != NONE && apset[a] != m1aps[bb] ->
			SYNC(a);
			if :: aout[a] == NONE -> B1CONF(a, bb) = 1 :: else -> skip /* reported: known to all */ fi
		:: else ->
			tok = 0;
			PROMISE_INST(0, bb); PROMISE_INST(1, bb);
			SYNC(a);
			if :: aout[a] == NONE -> REPLY_INST(0, bb); REPLY_INST(1, bb) :: else -> skip fi
		fi
	fi;
	tok = 0
}

#define INST_NEW(a, r, bb) \
	(HAS(m1aps[bb], r) && ((bb) > PROM(a, r) || ((bb) == PROM(a, r) && apset[a] == NONE) || \
			       (aout[a] == NONE && (bb) >= PROM(a, r) && B1OK(a, r, bb) == 0)))
#define NEW1B(a, bb) \
	(PENDING(a) || \
	 (GONE_HERE(a) -> (ast[a] == TOMB && aout[a] != NONE -> !(frep & OBIT(aout[a])) : !B1GONE(a, bb)) : \
	  (ast[a] != LIVE || \
	   (apset[a] != NONE && apset[a] != m1aps[bb] -> (aout[a] == NONE && !B1CONF(a, bb)) : \
	    (INST_NEW(a, 0, bb) || INST_NEW(a, 1, bb))))))

/* px_acc_1a with rm PX_RM_ANY: phase 1 for the whole gid */
inline acc_1a_any(bb) {
	if
	:: GONE_HERE(a) ->
		SYNC(a);
		if
		:: ast[a] == TOMB && aout[a] != NONE -> frep = frep | OBIT(aout[a])
		:: else -> B1ANY(a, bb) = B1ANY(a, bb) | ANYGONE
		fi
	:: else ->
		TAKE(a); /* acc_take */
		if
		:: bb > PROMANY(a) -> gmbal[a] = bb; REC_PROMISE(a, ANYR, bb); tok = 1
		:: bb == PROMANY(a) -> tok = 1
		:: else -> tok = 0
		fi;
		SYNC(a);
		if :: aout[a] == NONE && tok -> B1ANY(a, bb) = B1ANY(a, bb) | ANYOK(apset[a]) :: else -> skip fi
	fi;
	tok = 0
}

#define NEWANY(a, bb) \
	(PENDING(a) || \
	 (GONE_HERE(a) -> (ast[a] == TOMB && aout[a] != NONE -> !(frep & OBIT(aout[a])) : !(B1ANY(a, bb) & ANYGONE)) : \
	  (ast[a] != LIVE || (bb) > PROMANY(a) || \
	   (aout[a] == NONE && (bb) == PROMANY(a) && !(B1ANY(a, bb) & ANYOK(apset[a]))))))

/* px_acc_forget: FORGET(o) at acceptor a */
inline acc_forget(o) {
	texist = TXN(a);
	torec = (texist && aout[a] != NONE -> aout[a] : o);
	if :: torec != NONE -> SAY(torec) :: else -> skip fi;
	REC_FORGET(a, torec);
	if :: LK(a + 1) -> LEAD_CLEAR(a + 1) :: else -> skip fi; /* the txn goes, and its lead */
	apset[a] = NONE; gmbal[a] = 0;
	MB(a, 0) = 0; VB(a, 0) = 0; VV(a, 0) = 0;
	MB(a, 1) = 0; VB(a, 1) = 0; VV(a, 1) = 0;
	if
	:: below[a] -> ast[a] = ABSENT; aout[a] = NONE /* the horizon refuses it already */
	:: else -> ast[a] = TOMB; aout[a] = torec
	fi;
	texist = 0; torec = 0
}
#define FGT_NEW(a) (TXN(a) || (ast[a] == ABSENT && !below[a]))

/* An outcome reaches replica a: a DECISION (px_acc_decision: taken on
 * unless forgotten or below the horizon), or a report in a 1b/2b to a txn
 * it has (px_lrn_2b, px_lrn_1b: reported). */
inline acc_hear(o) {
	if
	:: !TXN(a) || (ast[a] != LIVE && !GONE_HERE(a)) -> TAKE(a) /* acc_take */
	:: else -> skip
	fi;
	LEARN_AT(a, o)
}

/* a tombstone's outcome reported to the leader on replica a: it learns it
 * and forgets the gid everywhere (px_lrn_2b: reported) */
inline lrn_reported(o) {
	if :: aout[a] == NONE -> LEARN_AT(a, o) :: else -> skip fi;
	mfgt = mfgt | FBIT(o)
}

/* px_lrn_asked: the leader on replica a tracks a gid an agent holds */
inline ASKED(r) {
	if
	:: lact[a + 1] == 1 && CAN_TRACK(a + 1) ->
		LEAD_MAKE(a + 1);
		if :: lasker[a + 1] == 0 -> lasker[a + 1] = (r) + 1 :: else -> skip fi
	:: else -> skip
	fi
}

/* px_acc_status: acceptor a answers agent r's status request */
#define ANS_OUT(a) (aout[a] != NONE && (ast[a] != ABSENT || LK((a) + 1)))
#define ANS_UNK(a) (!ANS_OUT(a) && (ast[a] == TOMB || (ast[a] == ABSENT && below[a])))
#define ASK_NEW(a) (lact[(a) + 1] == 1 && CAN_TRACK((a) + 1) && !ANS_OUT(a) && (!LK((a) + 1) || lasker[(a) + 1] == 0))
#define STAT_NEW(a, r) ((ANS_UNK(a) && !(unk[r] & (1 << (a)))) || ASK_NEW(a))

inline acc_status(r) {
	if
	:: ANS_OUT(a) -> skip /* COMMITTED / ABORTED: known to all already */
	:: else ->
		if
		:: ast[a] == TOMB -> unk[r] = unk[r] | (1 << a)
		:: ast[a] == ABSENT && below[a] -> unk[r] = unk[r] | (1 << a); ASKED(r)
		:: else -> ASKED(r) /* undecided */
		fi
	fi
}

proctype Acceptor(byte a)
{
end:	do
	/* ballot 0: an XA-style client's votes travel together, agents vote apart */
	:: d_step { xa && (PEND2A(a, 0, 0) || PEND2A(a, 1, 0)) -> acc_2a(0, 0); acc_2a(1, 0) }
	:: d_step { !xa && PEND2A(a, 0, 0) -> acc_2a(0, 0) }
	:: d_step { !xa && PEND2A(a, 1, 0) -> acc_2a(1, 0) }
	/* a leader's 2a's and 1a's */
	:: d_step { PEND2A(a, 0, 1) || PEND2A(a, 1, 1) -> acc_2a(0, 1); acc_2a(1, 1) }
	:: d_step { PEND2A(a, 0, 2) || PEND2A(a, 1, 2) -> acc_2a(0, 2); acc_2a(1, 2) }
	:: d_step { m1b[1] && NEW1B(a, 1) -> acc_1a(1) }
	:: d_step { m1b[2] && NEW1B(a, 2) -> acc_1a(2) }
	:: d_step { m1any[1] && NEWANY(a, 1) -> acc_1a_any(1) }
	:: d_step { m1any[2] && NEWANY(a, 2) -> acc_1a_any(2) }
	/* FORGET, outcomes heard, tombstones reported */
	:: d_step { (mfgt & FBIT(NONE)) && FGT_NEW(a) -> acc_forget(NONE) }
	:: d_step { (mfgt & FBIT(OC)) && FGT_NEW(a) -> acc_forget(OC) }
	:: d_step { (mfgt & FBIT(OA)) && FGT_NEW(a) -> acc_forget(OA) }
	:: d_step { (ann & OBIT(OC)) && aout[a] == NONE && (TXN(a) || !GONE_HERE(a)) -> acc_hear(OC) }
	:: d_step { (ann & OBIT(OA)) && aout[a] == NONE && (TXN(a) || !GONE_HERE(a)) -> acc_hear(OA) }
	:: d_step { ast[a] == TOMB && aout[a] != NONE && !(frep & OBIT(aout[a])) -> frep = frep | OBIT(aout[a]) }
	:: d_step { (frep & OBIT(OC)) && LK(a + 1) && (aout[a] == NONE || !(mfgt & FBIT(OC))) -> lrn_reported(OC) }
	:: d_step { (frep & OBIT(OA)) && LK(a + 1) && (aout[a] == NONE || !(mfgt & FBIT(OA))) -> lrn_reported(OA) }
	/* status requests of agents holding the gid prepared */
	:: d_step { ag_asked[0] && STAT_NEW(a, 0) -> acc_status(0) }
	:: d_step { ag_asked[1] && STAT_NEW(a, 1) -> acc_status(1) }
	/* the horizon passes the gid's birth (its HORIZON record synced first);
	 * it changes nothing at a replica that holds the txn, so it is taken
	 * only where it matters */
	:: d_step { HORIZON_ON && !below[a] && ast[a] != LIVE ->
		SYNC(a);
		below[a] = 1;
		if :: ast[a] == TOMB -> ast[a] = ABSENT; aout[a] = NONE :: else -> skip fi; /* pruned */
		if :: TRACKED(a) && d_ast == TOMB -> d_ast = ABSENT; d_aout = NONE :: else -> skip fi }
	od
}

/* ---------------------------------------------------------------- leader steps */
#define H ((b) - 1)
#define L_ON (lact[b] == 1)

/* some majority (LQ with BUG_QUORUM) accepted `aborted` at one ballot, any set */
#define ABQ(r, bb) (CNT(r, bb, A) >= LQ)
#define ABORT_Q (ABQ(0, 0) || ABQ(0, 1) || ABQ(0, 2) || ABQ(1, 0) || ABQ(1, 1) || ABQ(1, 2))
/* every instance of the set accepted `prepared` by a majority at one ballot, under the set */
#define PQ(r, bb) (CNT(r, bb, P) >= LQ && M2APS(r, bb) == LPS(b))
#define PCH(r) (!HAS(LPS(b), r) || PQ(r, 0) || PQ(r, 1) || PQ(r, 2))
#define COMMIT_Q (PCH(0) && PCH(1))

#define ANYCNT(bit) (((B1ANY(0, b) & (bit)) != 0) + ((B1ANY(1, b) & (bit)) != 0) + ((B1ANY(2, b) & (bit)) != 0))
#define ANYHAS(bit) ((B1ANY(0, b) | B1ANY(1, b) | B1ANY(2, b)) & (bit))
/* maybe_give_up: a majority refuses the set for ever (gone, or another set)
 * and a majority refuses the other set for ever (gone, or promised ours) */
#define GC(x) (B1GONE(x, b) || B1CONF(x, b))
#define GP(x, r) (B1GONE(x, b) || B1OK(x, r, b) != 0)
#define GIVEUP_OK(r) (GC(0) + GC(1) + GC(2) >= 2 && GP(0, r) + GP(1, r) + GP(2, r) >= 2)
#define ALLACKED(b) ((!HAS(LPS(b), 0) || (lacked[b] & 1)) && (!HAS(LPS(b), 1) || (lacked[b] & 2)))

/* px_lrn_1b: the 2a of instance r, from the 1b's of acceptors x and y */
inline lead_2a(r, x, y) {
	tcx = B1OK(x, r, b); tcy = B1OK(y, r, b);
	if
	:: tcx >= 2 && tcy >= 2 && (tcx - 2) / 2 == (tcy - 2) / 2 -> assert(tcx == tcy); thv = (tcx - 2) % 2 + 1
	:: tcx >= 2 && (tcy < 2 || (tcx - 2) / 2 > (tcy - 2) / 2) -> thv = (tcx - 2) % 2 + 1
	:: tcy >= 2 && (tcx < 2 || (tcy - 2) / 2 > (tcx - 2) / 2) -> thv = (tcy - 2) % 2 + 1
	:: else -> thv = A /* free: abort */
	fi;
	assert(M2A(r, b) == NONE || (M2A(r, b) == thv && M2APS(r, b) == LPS(b))); /* one value per ballot */
	M2A(r, b) = thv; M2APS(r, b) = LPS(b);
	LEAD_MAKE(b); LSENT(b, r) = thv;
	tcx = 0; tcy = 0; thv = 0
}
#define READY(r, x, y) (HAS(LPS(b), r) && LSENT(b, r) == NONE && B1OK(x, r, b) != 0 && B1OK(y, r, b) != 0)

/* px_lrn_commit */
inline lead_req() {
	LEAD_MAKE(b);
	if :: LPS(b) == NONE -> lps_[b] = PS_FULL :: else -> skip fi;
	lreq[b] = 1
}
#define REQ_NEW (CAN_TRACK(b) && (!LK(b) || !lreq[b]))

/* px_lrn_sync: the live gid entry of acceptor x (a held message: x syncs first) */
inline lead_sync(x) {
	SYNC(x);
	if
	:: ast[H] == TOMB -> mfgt = mfgt | FBIT(aout[H]) /* forgotten here: forget it there too */
	:: ast[H] != TOMB && !CAN_TRACK(b) -> skip
	:: else ->
		LEAD_MAKE(b);
		if :: LPS(b) == NONE && apset[x] != NONE -> lps_[b] = apset[x] :: else -> skip fi;
		if :: aout[x] != NONE && aout[H] == NONE -> LEARN_AT(H, aout[x]) :: else -> skip fi
	fi
}
#define SYNC_NEW(x) \
	((ast[H] == TOMB && !(mfgt & FBIT(aout[H]))) || \
	 (CAN_TRACK(b) && (!LK(b) || (LPS(b) == NONE && apset[x] != NONE) || (aout[x] != NONE && aout[H] == NONE))))

#ifdef MISTAKE_EARLY_FORGET
#define FORGET_NOW(b) 1
#else
#define FORGET_NOW(b) ALLACKED(b)
#endif

/* px_lrn_ack: an ack of the outcome for participant r */
inline lead_ack(r) {
	lacked[b] = lacked[b] | (1 << (r));
	LEAD_MAKE(b);
	if :: FORGET_NOW(b) -> SAY(aout[H]); mfgt = mfgt | FBIT(aout[H]) :: else -> skip fi
}

#define L2BTRACK(X) \
	:: d_step { L_ON && (ps2b & (1 << (X))) && CAN_TRACK(b) && (!LK(b) || LPS(b) == NONE) -> \
		    LEAD_MAKE(b); if :: LPS(b) == NONE -> lps_[b] = X :: else -> skip fi }
#define LSYNC(x) :: d_step { L_ON && ast[x] == LIVE && SYNC_NEW(x) -> lead_sync(x) }
#define LANYPS(X) :: d_step { L_ON && LK(b) && LPS(b) == NONE && ANYHAS(ANYOK(X)) -> LEAD_MAKE(b); lps_[b] = X }
#define L2A(x, y) \
	:: d_step { L_ON && LK(b) && !lgave[b] && (READY(0, x, y) || READY(1, x, y)) -> \
		    if :: READY(0, x, y) -> lead_2a(0, x, y) :: else -> skip fi; \
		    if :: READY(1, x, y) -> lead_2a(1, x, y) :: else -> skip fi }
#define LGIVEUP(r) \
	:: d_step { L_ON && LK(b) && HAS(LPS(b), r) && LOUT(b) == NONE && !lgave[b] && GIVEUP_OK(r) -> GIVE_UP(b) }
#define LACK(r) \
	:: d_step { L_ON && LK(b) && LOUT(b) != NONE && HAS(LPS(b), r) && !(lacked[b] & (1 << (r))) && \
		    (mack[r] & OBIT(aout[H])) -> lead_ack(r) }

proctype Leader(byte b)
{
end:	do
	:: d_step { lact[b] == 0 -> lact[b] = 1 } /* elected: its round gives ballot b */
	/* px_lrn_2b: a 2b makes the gid tracked and names its set; decisions */
	L2BTRACK(PS_FULL) L2BTRACK(PS_R0) L2BTRACK(PS_R1)
	:: d_step { L_ON && LK(b) && LPS(b) != NONE && LOUT(b) == NONE && ABORT_Q -> LEARN_AT(H, OA) }
	:: d_step { L_ON && LK(b) && LPS(b) != NONE && LOUT(b) == NONE && COMMIT_Q -> LEARN_AT(H, OC) }
	/* px_lrn_sync, px_lrn_commit */
#ifndef FOCUS
	LSYNC(0) LSYNC(1) LSYNC(2)
#endif
	:: d_step { L_ON && creq && REQ_NEW -> lead_req() }
	/* recovery with the set unknown: phase 1 for the whole gid */
	:: d_step { FULL_ON && L_ON && LK(b) && LPS(b) == NONE && !lgave[b] && !m1any[b] -> m1any[b] = 1 }
	LANYPS(PS_FULL) LANYPS(PS_R0) LANYPS(PS_R1)
	:: d_step { L_ON && LK(b) && LPS(b) == NONE && LOUT(b) == NONE && !lgave[b] && ANYCNT(ANYGONE) >= 2 ->
		GIVE_UP(b) }
	:: d_step { L_ON && LK(b) && LPS(b) == NONE && LOUT(b) == NONE && !lgave[b] && ANYCNT(ANYOK(NONE)) >= 2 &&
		    ANYCNT(ANYGONE) < 2 && (lasker[b] != 0 || (ast[H] != LIVE && !lreq[b])) ->
		if
		:: lasker[b] != 0 -> lps_[b] = PS_R0 + lasker[b] - 1 /* abort the asker's instance */
		:: else -> LEAD_RESET(b) /* nothing can be chosen below: drop it, wait for the horizon */
		fi }
	/* recovery: phase 1 for every instance of the set, then 2a's */
	:: d_step { FULL_ON && L_ON && LK(b) && LPS(b) != NONE && LOUT(b) == NONE && !lgave[b] && !m1b[b] &&
		    (m1aps[b] == NONE || m1aps[b] == LPS(b)) -> m1b[b] = 1; m1aps[b] = LPS(b) }
	L2A(0, 1) L2A(0, 2) L2A(1, 2)
	LGIVEUP(0) LGIVEUP(1)
	/* acks, and FORGET once every participant acked */
	LACK(0) LACK(1)
	od
}

/* ---------------------------------------------------------------- agents */
/* on_outcome: a DECISION or a status answer with outcome o */
inline agent_outcome(o) {
	if
	:: ag[r] == AG_NONE || ag[r] == AG_PREP ->
		/* check / COMMIT PREPARED / ROLLBACK PREPARED: "not prepared" means applied already */
		if
		:: db[r] == DB_PREP -> SAY(o); db[r] = (o == OC -> DB_COMMITTED : DB_ABORTED)
		:: else -> skip
		fi;
		SAY(o); mack[r] = mack[r] | OBIT(o); ag[r] = AG_DONE; ag_out[r] = o
	:: ag[r] == AG_OPEN ->
		assert(o == OA); /* commit decided, not prepared here */
		db[r] = DB_ABORTED;
		SAY(o); mack[r] = mack[r] | OBIT(o); ag[r] = AG_DONE; ag_out[r] = o
	:: ag[r] == AG_GONE ->
		assert(o == OA); /* commit decided, this participant rolled back */
		SAY(o); mack[r] = mack[r] | OBIT(o); ag[r] = AG_DONE; ag_out[r] = o
	:: else -> assert(ag_out[r] == o) /* CONFLICTING DECISION */
	fi
}

/* on_status: a majority answered UNKNOWN_GID while the agent holds it prepared */
inline agent_presume() {
#ifdef BUG_PRESUMED
	/* today: the agent's tracked view decides; ROLLBACK PREPARED, then ack
	 * ABORT, also when it found nothing to roll back */
	if :: db[r] == DB_PREP -> db[r] = DB_ABORTED :: else -> skip fi;
	SAY_WEAK_ABORT(); mack[r] = mack[r] | OBIT(OA); ag[r] = AG_DONE; ag_out[r] = OA
#else
	/* the database decides, atomically: roll back and state ABORT only if
	 * it still holds the gid prepared; else state nothing, drop it */
	if
	:: db[r] == DB_PREP ->
		db[r] = DB_ABORTED;
		SAY_WEAK_ABORT(); mack[r] = mack[r] | OBIT(OA); ag[r] = AG_DONE; ag_out[r] = OA
	:: else -> ag[r] = AG_NONE
	fi
#endif
}

#define UNKCNT(r) (((unk[r] & 1) != 0) + ((unk[r] & 2) != 0) + ((unk[r] & 4) != 0))

proctype Agent(byte r)
{
end:	do
	/* the periodic scan finds an XA-style gid prepared */
	:: d_step { xa && ag[r] == AG_NONE && db[r] == DB_PREP && (FULL_ON || r == 0) -> ag[r] = AG_PREP; ag_asked[r] = 1 }
	/* plain gid: PREPARE TRANSACTION and the ballot-0 vote */
	:: d_step { ag[r] == AG_OPEN ->
		db[r] = DB_PREP; ag[r] = AG_PREP; ag_asked[r] = 1; M2A(r, 0) = P; M2APS(r, 0) = PS_FULL }
	:: d_step { ag[r] == AG_OPEN ->
		db[r] = DB_ABORTED; ag[r] = AG_GONE; ag_asked[r] = 1; M2A(r, 0) = A; M2APS(r, 0) = PS_FULL }
	:: d_step { (ann & OBIT(OC)) && !(ag[r] == AG_DONE && ag_out[r] == OC) -> agent_outcome(OC) }
	:: d_step { (ann & OBIT(OA)) && !(ag[r] == AG_DONE && ag_out[r] == OA) -> agent_outcome(OA) }
	:: d_step { ag[r] == AG_PREP && UNKCNT(r) >= 2 -> agent_presume() }
	od
}

/* ---------------------------------------------------------------- the client */
#define GOT(x) (B2(x, 0, 0) == P && B2(x, 1, 0) == P)
#define XA2B (GOT(0) + GOT(1) + GOT(2) >= 2)

inline client_apply(r) {
	if
	:: db[r] == DB_PREP -> SAY(clearn); db[r] = (clearn == OC -> DB_COMMITTED : DB_ABORTED)
	:: else -> skip
	fi;
	capp = capp | (1 << r)
}

proctype Client()
{
end:	do
	/* XA-style: PREPARE TRANSACTION on its own connections */
	:: d_step { xa && cst == CS_PREP && db[0] == DB_NONE -> db[0] = DB_PREP }
	:: d_step { xa && cst == CS_PREP && db[1] == DB_NONE -> db[1] = DB_PREP }
	/* pc_xa_commit / pc_xa_rollback: the ballot-0 votes */
	:: d_step { xa && cst == CS_PREP && db[0] == DB_PREP && db[1] == DB_PREP ->
		M2A(0, 0) = P; M2APS(0, 0) = PS_FULL; M2A(1, 0) = P; M2APS(1, 0) = PS_FULL; cst = CS_VOTED_P }
	:: d_step { FULL_ON && xa && cst == CS_PREP ->
		M2A(0, 0) = A; M2APS(0, 0) = PS_FULL; M2A(1, 0) = A; M2APS(1, 0) = PS_FULL; cst = CS_VOTED_A }
	/* the commit / rollback request to a leader */
	:: d_step { (!xa || cst != CS_PREP) && !creq -> creq = 1 }
	/* learning: a majority of acceptors each accepted prepared for both, or OUTCOME */
	:: d_step { xa && cst == CS_VOTED_P && clearn == NONE && XA2B -> clearn = OC; SAY(OC) }
	:: d_step { xa && cst != CS_PREP && clearn == NONE && (ann & OBIT(OC)) -> clearn = OC; SAY(OC) }
	:: d_step { xa && cst != CS_PREP && clearn == NONE && (ann & OBIT(OA)) -> clearn = OA; SAY(OA) }
	/* COMMIT PREPARED / ROLLBACK PREPARED on each database, then pc_xa_done */
	:: d_step { clearn != NONE && !(capp & 1) -> client_apply(0) }
	:: d_step { clearn != NONE && !(capp & 2) -> client_apply(1) }
	:: d_step { capp == 3 && !cacked ->
		SAY(clearn); mack[0] = mack[0] | OBIT(clearn); mack[1] = mack[1] | OBIT(clearn); cacked = 1 }
	/* it voted aborted: it may roll back what it prepared without waiting */
	:: d_step { cst == CS_VOTED_A && clearn == NONE && db[0] == DB_PREP -> db[0] = DB_ABORTED; SAY_WEAK_ABORT() }
	:: d_step { cst == CS_VOTED_A && clearn == NONE && db[1] == DB_PREP -> db[1] = DB_ABORTED; SAY_WEAK_ABORT() }
	od
}

/* ---------------------------------------------------------------- faults */
inline crash() {
	ast[victim] = d_ast; apset[victim] = d_apset; gmbal[victim] = d_gmbal; aout[victim] = d_aout;
	MB(victim, 0) = d_mbal[0]; VB(victim, 0) = d_vb[0]; VV(victim, 0) = d_vv[0];
	MB(victim, 1) = d_mbal[1]; VB(victim, 1) = d_vb[1]; VV(victim, 1) = d_vv[1];
	lz_acc = 0; lz_dec = 0; lz_decps = 0; lz_fgt = 0; /* held 2b's never left */
	if :: lact[victim + 1] == 1 -> lact[victim + 1] = 2 :: else -> skip fi; /* its leader is gone */
	LEAD_CLEAR(victim + 1);
	crashed = 1;
	d_ast = 0; d_apset = 0; d_gmbal = 0; d_aout = 0;
	d_mbal[0] = 0; d_vb[0] = 0; d_vv[0] = 0; d_mbal[1] = 0; d_vb[1] = 0; d_vv[1] = 0
}

proctype Env()
{
end:	do
	:: d_step { !crashed -> crash() }
	:: d_step { !crashed && (lz_acc || lz_dec || lz_fgt) -> FLUSH() } /* a sync (deadline) */
	od
}

init {
	atomic {
#if defined(XA_ONLY)
		xa = 1;
#elif defined(PLAIN_ONLY)
		xa = 0;
#else
		if :: xa = 1 :: xa = 0 fi;
#endif
#if defined(VICTIM)
		victim = VICTIM;
#else
		if :: victim = 0 :: victim = 1 :: victim = 2 fi;
#endif
#ifdef NO_CRASH
		crashed = 1;
#endif
		if
		:: !xa -> db[0] = DB_ACTIVE; db[1] = DB_ACTIVE; ag[0] = AG_OPEN; ag[1] = AG_OPEN
		:: else -> skip
		fi;
		run Acceptor(0); run Acceptor(1); run Acceptor(2);
#ifndef NO_L1
		run Leader(1);
#endif
#ifndef NO_L2
		run Leader(2);
#endif
#ifndef NO_AGENTS
		run Agent(0); run Agent(1);
#endif
		run Client(); run Env()
	}
}
