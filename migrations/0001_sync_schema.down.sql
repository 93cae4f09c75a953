-- 0001_sync_schema down: DROPS THE WHOLE AUDIT SCHEMA AND ITS DATA. This is the only down
-- migration allowed to lose data: it exists to remove auditq from a database entirely.
DROP TABLE IF EXISTS auditq_dead_letters;
DROP TABLE IF EXISTS auditq_tombstones;
DROP TABLE IF EXISTS sync_participants;
DROP TABLE IF EXISTS sync_events;
DROP TABLE IF EXISTS sync_sessions;
DROP TYPE IF EXISTS sync_status;
DROP TYPE IF EXISTS sync_mode;
