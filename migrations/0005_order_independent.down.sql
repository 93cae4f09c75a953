-- 0005 down: the tie-break columns and the tombstones' recording time go.
REVOKE UPDATE (deleted_at, stream, entry_id) ON auditq_tombstones FROM auditq_writer;
DROP INDEX idx_auditq_tombstones_recorded_at;
ALTER TABLE auditq_tombstones DROP COLUMN recorded_at;
ALTER TABLE sync_participants DROP COLUMN snapshot_stream, DROP COLUMN snapshot_entry_id;
