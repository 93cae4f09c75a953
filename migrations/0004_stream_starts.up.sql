-- 0004: where each stream's consumer group first started. A group found missing later (Redis
-- flushed or restarted empty, the key deleted) is re-created after the newest entry id of the
-- stream committed in PostgreSQL; before anything was committed, at this recorded start, never
-- at consumer.start_id ("$") again, which would skip what was written meanwhile.
CREATE TABLE auditq_stream_starts (
    stream      TEXT NOT NULL,
    group_name  TEXT NOT NULL,
    start_id    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (stream, group_name)
);

COMMENT ON TABLE auditq_stream_starts IS 'auditq: the entry id each stream''s consumer group first started after; where a group lost before any commit is re-created.';

GRANT SELECT, INSERT ON auditq_stream_starts TO auditq_writer;
