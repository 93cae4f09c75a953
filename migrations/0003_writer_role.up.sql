-- 0003: the auditq_writer role, what the daemon needs and nothing more. The audit trail is
-- append-only for it: INSERT and SELECT on sync_events, never UPDATE, DELETE or TRUNCATE.
-- Grant it to the login role auditq runs as (GRANT auditq_writer TO auditq_app); the role
-- that runs `auditq migrate` owns the tables. Roles are cluster-wide: the role is created once
-- (when missing) and each database that migrates grants it its privileges.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'auditq_writer') THEN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user
                   AND (rolsuper OR rolcreaterole)) THEN
      RAISE EXCEPTION 'role auditq_writer does not exist and % may not create roles', current_user
        USING HINT = 'As a superuser: CREATE ROLE auditq_writer NOLOGIN; then run migrate again.';
    END IF;
    CREATE ROLE auditq_writer NOLOGIN;
  END IF;
END
$$;

-- The pipeline: events and dead letters appended, sessions and participants upserted.
GRANT SELECT, INSERT ON sync_events, auditq_dead_letters, auditq_tombstones TO auditq_writer;
GRANT SELECT, INSERT, UPDATE ON sync_sessions, sync_participants TO auditq_writer;
-- `auditq dlq replay` marks what it re-queued (and locks the letter while it does).
GRANT UPDATE (replayed_at, replayed_as) ON auditq_dead_letters TO auditq_writer;
-- `auditq migrate status` may be run with the daemon's credentials.
GRANT SELECT ON auditq_schema_migrations TO auditq_writer;
