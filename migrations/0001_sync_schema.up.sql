-- 0001_sync_schema: the reference application's audit schema (sync_sessions, sync_events,
-- sync_participants, their enums, indexes and comments) plus what auditq needs to make writes
-- idempotent and recovery exact: sync_events.(stream, entry_id, version), the session's
-- version, status, tombstone and newest snapshot, and the dead-letter and tombstone tables.
-- No foreign keys between the audit tables, deliberately: an event may arrive before anything
-- created its session row, and deleting a session must never delete its audit trail.

CREATE TYPE sync_mode AS ENUM ('per_participant', 'per_cycle', 'per_group', 'global', 'count_up');
CREATE TYPE sync_status AS ENUM ('pending', 'running', 'paused', 'expired', 'completed', 'cancelled');

-- fillfactor 50: session and participant rows are updated on every state change; the free
-- space lets those updates stay on the same page (HOT) instead of bloating the indexes.
CREATE TABLE sync_sessions (
    session_id          UUID PRIMARY KEY,
    sync_mode           sync_mode NOT NULL,
    time_per_cycle_ms   INTEGER,
    increment_ms        INTEGER DEFAULT 0,
    max_time_ms         INTEGER,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at          TIMESTAMPTZ,
    completed_at        TIMESTAMPTZ,
    final_status        sync_status,
    total_cycles        INTEGER DEFAULT 0,
    total_participants  INTEGER DEFAULT 0,
    metadata            JSONB DEFAULT '{}',
    last_updated_at     TIMESTAMPTZ DEFAULT now(),
    version             BIGINT,
    status              sync_status,
    deleted_at          TIMESTAMPTZ,
    last_event_at       TIMESTAMPTZ,
    snapshot_stream     TEXT,
    snapshot_entry_id   TEXT
) WITH (fillfactor = 50);

CREATE INDEX idx_sync_sessions_created_at ON sync_sessions (created_at DESC);
CREATE INDEX idx_sync_sessions_final_status ON sync_sessions (final_status)
    WHERE final_status IS NOT NULL;
CREATE INDEX idx_sync_sessions_sync_mode ON sync_sessions (sync_mode);

COMMENT ON TABLE sync_sessions IS 'One row per timer session: the latest known summary, projected from the newest state version.';
COMMENT ON COLUMN sync_sessions.final_status IS 'Terminal status (completed, cancelled, expired) once reached; NULL while live.';
COMMENT ON COLUMN sync_sessions.version IS 'auditq: state version this row was projected from; older or equal versions never overwrite it.';
COMMENT ON COLUMN sync_sessions.status IS 'auditq: status in the newest state.';
COMMENT ON COLUMN sync_sessions.deleted_at IS 'auditq: tombstone time of a session_deleted event; recovery never restores such a session.';
COMMENT ON COLUMN sync_sessions.last_event_at IS 'auditq: event time of the newest state.';
COMMENT ON COLUMN sync_sessions.snapshot_stream IS 'auditq: stream of the sync_events row holding the newest state.';
COMMENT ON COLUMN sync_sessions.snapshot_entry_id IS 'auditq: entry id of the sync_events row holding the newest state.';

CREATE TABLE sync_events (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id          UUID NOT NULL,
    event_type          VARCHAR(50) NOT NULL,
    participant_id      UUID,
    group_id            UUID,
    time_remaining_ms   INTEGER,
    time_elapsed_ms     INTEGER,
    cycle_number        INTEGER,
    "timestamp"         TIMESTAMPTZ NOT NULL DEFAULT now(),
    state_snapshot      JSONB,
    metadata            JSONB DEFAULT '{}',
    stream              TEXT,
    entry_id            TEXT,
    version             BIGINT,
    CONSTRAINT sync_events_stream_entry_id_key UNIQUE (stream, entry_id)
);

CREATE INDEX idx_sync_events_session_timestamp ON sync_events (session_id, "timestamp" DESC);
CREATE INDEX idx_sync_events_event_type ON sync_events (event_type);
CREATE INDEX idx_sync_events_timestamp ON sync_events ("timestamp" DESC);
CREATE INDEX idx_sync_events_participant_id ON sync_events (participant_id)
    WHERE participant_id IS NOT NULL;

COMMENT ON TABLE sync_events IS 'Append-only audit trail: one row per accepted stream entry.';
COMMENT ON COLUMN sync_events.state_snapshot IS 'Full session state after the event (JSONB: same object, key order not kept).';
COMMENT ON COLUMN sync_events.stream IS 'auditq: Redis stream the entry was read from.';
COMMENT ON COLUMN sync_events.entry_id IS 'auditq: Redis stream entry id; (stream, entry_id) makes redelivery a no-op.';
COMMENT ON COLUMN sync_events.version IS 'auditq: session state version after the event.';

CREATE TABLE sync_participants (
    id                      UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id              UUID NOT NULL,
    participant_id          UUID NOT NULL,
    total_time_ms           INTEGER NOT NULL,
    group_id                UUID,
    total_cycles            INTEGER DEFAULT 0,
    total_time_active_ms    INTEGER DEFAULT 0,
    added_at                TIMESTAMPTZ NOT NULL DEFAULT now(),
    first_active_at         TIMESTAMPTZ,
    last_active_at          TIMESTAMPTZ,
    metadata                JSONB DEFAULT '{}',
    version                 BIGINT,
    CONSTRAINT sync_participants_session_id_participant_id_key UNIQUE (session_id, participant_id)
) WITH (fillfactor = 50);

CREATE INDEX idx_sync_participants_session_id ON sync_participants (session_id);
CREATE INDEX idx_sync_participants_group_id ON sync_participants (group_id)
    WHERE group_id IS NOT NULL;

COMMENT ON TABLE sync_participants IS 'One row per session and participant: the latest known totals.';
COMMENT ON COLUMN sync_participants.version IS 'auditq: state version this row was projected from.';

-- Authoritative tombstones: a session_deleted event may arrive before (or without) any state
-- that would create the session row, and recovery must still never resurrect that session.
CREATE TABLE auditq_tombstones (
    session_id  UUID PRIMARY KEY,
    deleted_at  TIMESTAMPTZ NOT NULL,
    stream      TEXT,
    entry_id    TEXT
);

COMMENT ON TABLE auditq_tombstones IS 'auditq: sessions deleted by a session_deleted event; never restored by --recover.';

CREATE TABLE auditq_dead_letters (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream              TEXT NOT NULL,
    entry_id            TEXT NOT NULL,
    fields              JSONB NOT NULL,
    reason              TEXT NOT NULL,
    error               TEXT,
    delivery_count      INTEGER NOT NULL DEFAULT 1,
    first_seen_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    dead_lettered_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    replayed_at         TIMESTAMPTZ,
    CONSTRAINT auditq_dead_letters_stream_entry_id_key UNIQUE (stream, entry_id)
);

CREATE INDEX idx_auditq_dead_letters_reason ON auditq_dead_letters (reason);
CREATE INDEX idx_auditq_dead_letters_dead_lettered_at ON auditq_dead_letters (dead_lettered_at);

COMMENT ON TABLE auditq_dead_letters IS 'auditq: stream entries that can never be written, with the reason.';
COMMENT ON COLUMN auditq_dead_letters.fields IS 'The entry''s raw field/value pairs in order, as [[name, value], ...]; bytes that are not UTF-8 are kept as {"base64": ...}.';
COMMENT ON COLUMN auditq_dead_letters.reason IS 'Reason code from the closed list in docs/reliability.md.';
