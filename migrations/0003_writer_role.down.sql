-- 0003 down: take the privileges back. The role itself stays: it is cluster-wide and other
-- databases may use it (DROP ROLE auditq_writer by hand once no database grants it anything).
REVOKE ALL ON sync_events, auditq_dead_letters, auditq_tombstones, sync_sessions,
  sync_participants, auditq_schema_migrations FROM auditq_writer;
