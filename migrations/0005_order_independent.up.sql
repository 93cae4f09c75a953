-- 0005: projections and tombstones that come out the same whatever order the writers commit in.
-- A participant row remembers the snapshot it came from, so that among equal (or absent)
-- versions the later entry id wins, as it already does for sessions; tombstones remember when
-- they were recorded, so a late check can fix the one race no lock order closes (a tombstone
-- and the first state of its session committed at the same moment by two writers).
ALTER TABLE sync_participants ADD COLUMN snapshot_stream TEXT, ADD COLUMN snapshot_entry_id TEXT;
COMMENT ON COLUMN sync_participants.snapshot_stream IS 'auditq: stream of the entry whose state this row was projected from.';
COMMENT ON COLUMN sync_participants.snapshot_entry_id IS 'auditq: entry id whose state this row was projected from (the tie-break between equal versions).';

ALTER TABLE auditq_tombstones ADD COLUMN recorded_at TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE INDEX idx_auditq_tombstones_recorded_at ON auditq_tombstones (recorded_at);
COMMENT ON COLUMN auditq_tombstones.recorded_at IS 'auditq: when the tombstone was committed.';

-- The writers keep the earliest tombstone of a session and keep sync_sessions.deleted_at equal
-- to it.
GRANT UPDATE (deleted_at, stream, entry_id) ON auditq_tombstones TO auditq_writer;
