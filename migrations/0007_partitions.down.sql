-- 0007 down: plain tables again. sync_events_legacy is detached and every row of the other
-- partitions is copied into it (a full copy of everything written since 0007: plan for it on
-- a large store); partitions retention detached for archiving stay as they are. The dead
-- letters are copied back into the 0006 table.
ALTER TABLE sync_events DETACH PARTITION sync_events_legacy;
ALTER TABLE sync_events_legacy DROP CONSTRAINT auditq_legacy_bound;
INSERT INTO sync_events_legacy (id, session_id, event_type, participant_id, group_id,
    time_remaining_ms, time_elapsed_ms, cycle_number, "timestamp", state_snapshot, metadata,
    stream, entry_id, version, entry_ms, entry_seq)
SELECT id, session_id, event_type, participant_id, group_id, time_remaining_ms, time_elapsed_ms,
       cycle_number, "timestamp", state_snapshot, metadata, stream, entry_id, version, entry_ms,
       entry_seq
FROM sync_events;
DROP TABLE sync_events;
ALTER TABLE sync_events_legacy RENAME TO sync_events;
DROP INDEX sync_events_legacy_entry_key;
ALTER TABLE sync_events DROP COLUMN entry_ms, DROP COLUMN entry_seq, DROP COLUMN batch_id;
ALTER INDEX sync_events_legacy_session_timestamp RENAME TO idx_sync_events_session_timestamp;
ALTER INDEX sync_events_legacy_event_type RENAME TO idx_sync_events_event_type;
ALTER INDEX sync_events_legacy_timestamp RENAME TO idx_sync_events_timestamp;
ALTER INDEX sync_events_legacy_participant_id RENAME TO idx_sync_events_participant_id;

ALTER TABLE auditq_dead_letters RENAME TO auditq_dead_letters_0007;
ALTER INDEX idx_auditq_dead_letters_reason RENAME TO auditq_dead_letters_0007_reason;
ALTER INDEX idx_auditq_dead_letters_dead_lettered_at RENAME TO auditq_dead_letters_0007_at;
ALTER INDEX idx_auditq_dead_letters_not_replayed RENAME TO auditq_dead_letters_0007_not_replayed;
ALTER INDEX auditq_dead_letters_pkey RENAME TO auditq_dead_letters_0007_pkey;
CREATE TABLE auditq_dead_letters (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream              TEXT NOT NULL,
    entry_id            TEXT NOT NULL,
    fields              JSONB NOT NULL,
    reason              TEXT NOT NULL,
    error               TEXT,
    delivery_count      BIGINT NOT NULL DEFAULT 1,
    first_seen_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    dead_lettered_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    replayed_at         TIMESTAMPTZ,
    replayed_as         TEXT,
    CONSTRAINT auditq_dead_letters_stream_entry_id_key UNIQUE (stream, entry_id)
);
INSERT INTO auditq_dead_letters (id, stream, entry_id, fields, reason, error, delivery_count,
    first_seen_at, dead_lettered_at, replayed_at, replayed_as)
OVERRIDING SYSTEM VALUE
SELECT id, stream, entry_id, fields, reason, error, delivery_count, first_seen_at,
       dead_lettered_at, replayed_at, replayed_as
FROM auditq_dead_letters_0007;
SELECT setval(pg_get_serial_sequence('auditq_dead_letters', 'id'), coalesce(max(id), 0) + 1, false)
FROM auditq_dead_letters;
DROP TABLE auditq_dead_letters_0007;
CREATE INDEX idx_auditq_dead_letters_reason ON auditq_dead_letters (reason);
CREATE INDEX idx_auditq_dead_letters_dead_lettered_at ON auditq_dead_letters (dead_lettered_at);
CREATE INDEX idx_auditq_dead_letters_not_replayed ON auditq_dead_letters (id) WHERE replayed_at IS NULL;
COMMENT ON TABLE auditq_dead_letters IS 'auditq: stream entries that can never be written, with the reason.';
COMMENT ON COLUMN auditq_dead_letters.fields IS 'The entry''s raw field/value pairs in order, as [[name, value], ...]; bytes that are not UTF-8 are kept as {"base64": ...}; a name or value longer than dead_letter.max_field_bytes as {"cut": ..., "length": N, "sha256_of_rest": ...}; fields past 16 times that as a last {"omitted_fields": n, "bytes": m, "sha256": ...}.';
COMMENT ON COLUMN auditq_dead_letters.reason IS 'Reason code from the closed list in docs/reliability.md.';
COMMENT ON COLUMN auditq_dead_letters.replayed_as IS 'auditq: the stream entry id the letter was replayed as (auditq dlq replay).';
GRANT SELECT, INSERT ON auditq_dead_letters TO auditq_writer;
GRANT UPDATE (replayed_at, replayed_as) ON auditq_dead_letters TO auditq_writer;

DROP FUNCTION auditq_detach_partition(text, text, boolean);
DROP FUNCTION auditq_prunable_partitions(bigint, bigint);
DROP FUNCTION auditq_ensure_partition(text, bigint, bigint);
DROP TABLE auditq_batches;
DROP TABLE auditq_partitions;
DROP FUNCTION auditq_entry_seq(text);
DROP FUNCTION auditq_entry_ms(text);
