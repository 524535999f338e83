-- demo_bank.sql - the demo's schema and data: 1,000 accounts of 1,000 each.
-- Run it in each participant database of the demo (a and b); it is
-- idempotent, and re-running it resets the balances:
--
--     psql -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p PORT -U postgres -d paxcommit -f sql/demo_bank.sql
--
-- A bank transfer of AMOUNT from account FROM in database a to account TO in
-- database b is one distributed transaction with one statement on each:
--
--     on a:  UPDATE accounts SET balance = balance - $2 WHERE id = $1   -- $1 = FROM, $2 = AMOUNT
--     on b:  UPDATE accounts SET balance = balance + $2 WHERE id = $1   -- $1 = TO,   $2 = AMOUNT
--
-- The CHECK makes an overdraft fail on a, so a votes `aborted` and neither
-- side changes.  The sum of all balances over a and b stays 2,000,000.
\set ON_ERROR_STOP on

BEGIN;
-- A prepared transaction still holding a lock on accounts would make the DROP
-- wait for ever: fail instead (see the view paxcommit_in_doubt).
SET LOCAL lock_timeout = '10s';

DROP TABLE IF EXISTS accounts;
CREATE TABLE accounts (
	id      int    PRIMARY KEY,
	balance bigint NOT NULL CHECK (balance >= 0)
);
INSERT INTO accounts (id, balance)
SELECT g, 1000 FROM generate_series(1, 1000) AS g;

-- The agent's role (sql/participant.sql), when it exists, gets what a
-- transfer needs.
DO $$
BEGIN
	IF EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'paxcommit_agent') THEN
		GRANT SELECT, UPDATE ON accounts TO paxcommit_agent;
	END IF;
END
$$;
COMMIT;

ANALYZE accounts;
