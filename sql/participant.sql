-- participant.sql - what a paxcommit participant database needs.
--
-- Run it in each participant database, as a superuser (or a role with
-- CREATEROLE that may create views in schema public):
--
--     psql -X -v ON_ERROR_STOP=1 -d DBNAME -f sql/participant.sql
--
-- It is idempotent: running it again changes nothing.  The server itself must
-- have max_prepared_transactions > 0 (scripts/devcluster sets 64).
\set ON_ERROR_STOP on

-- The role the participant agent logs in as.  Created without a password:
-- set one (ALTER ROLE paxcommit_agent PASSWORD ...) or use another
-- authentication method in pg_hba.conf.  An existing role is left as it is,
-- except that it is made able to log in.
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'paxcommit_agent') THEN
		CREATE ROLE paxcommit_agent LOGIN;
	ELSE
		ALTER ROLE paxcommit_agent LOGIN;
	END IF;
END
$$;

COMMENT ON ROLE paxcommit_agent IS
'paxcommit participant agent. It runs the statements of distributed transactions, then PREPARE TRANSACTION, '
'then COMMIT PREPARED or ROLLBACK PREPARED as the coordinators decide. Rights it needs: CONNECT on the '
'database; USAGE on the application''s schemas; ownership of, or the grants the statements need '
'(SELECT, INSERT, UPDATE, DELETE, sequences) on, the application''s tables. COMMIT PREPARED and '
'ROLLBACK PREPARED must be run by the role that prepared the transaction or by a superuser, so the agent '
'must prepare, finish and recover its transactions under this one role (its conninfo user). It needs no '
'superuser rights.';

-- CONNECT explicitly, in case PUBLIC's default grant was revoked.
DO $$
BEGIN
	EXECUTE format('GRANT CONNECT ON DATABASE %I TO paxcommit_agent', current_database());
END
$$;
GRANT USAGE ON SCHEMA public TO paxcommit_agent;

-- Prepared transactions of this database whose name has paxcommit's form,
-- <cluster>_<birth ms>_<client>_<seq>_<participant id>: the agent prepares
-- gid G as "G_<its participant id>", because prepared-transaction names are
-- unique per PostgreSQL server and two participants may share a server.
-- A row here holds its locks
-- and the xmin horizon until the coordinators' decision is applied; a row
-- whose age keeps growing past txn_timeout_ms means that something (an agent,
-- a majority of coordinators) is down.
CREATE OR REPLACE VIEW public.paxcommit_in_doubt AS
SELECT p.gid,
       p.prepared,
       now() - p.prepared AS age,
       p.owner,
       p.database
  FROM pg_catalog.pg_prepared_xacts p
 WHERE p.database = current_database()
   AND p.gid ~ '^[A-Za-z0-9]+_[0-9]+_[0-9a-f]{16}_[0-9]+_[0-9]+$'
 ORDER BY p.prepared;

COMMENT ON VIEW public.paxcommit_in_doubt IS
'Prepared transactions of this database with a paxcommit gid, oldest first; age = now() - prepared. '
'Do not COMMIT/ROLLBACK PREPARED them by hand: the coordinators decide, and the agent applies the decision.';

GRANT SELECT ON public.paxcommit_in_doubt TO PUBLIC;
