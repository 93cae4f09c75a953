-- A recovery dataset written straight into the audit tables, the way the daemon writes them:
-- {live} live sessions, {terminal} completed ones and {tombstoned} deleted ones, each with
-- {events} events (versions 1..{events}) whose state carries a ~{pad}-byte payload, the newest
-- one {age_seconds} s old; sync_sessions holds each session's newest snapshot reference.
-- Used by `scripts/bench recover` and the recovery tests, which fill in the named fields.
INSERT INTO sync_events (session_id, event_type, "timestamp", state_snapshot, metadata, stream,
                         entry_id, version, entry_ms, entry_seq)
SELECT md5('{seed}' || s)::uuid,
       'session_updated',
       now() - make_interval(secs => {age_seconds} + {events} - v),
       jsonb_build_object('session_id', md5('{seed}' || s)::uuid, 'sync_mode', 'global',
                          'status', CASE WHEN s > {live} AND s <= {live} + {terminal}
                                          AND v = {events} THEN 'completed' ELSE 'running' END,
                          'version', v, 'total_time_ms', 300000, 'pad', repeat('x', {pad})),
       '{{}}',
       '{stream}',
       (1700000000000 + s * {events} + v)::text || '-0',
       v,
       1700000000000 + s * {events} + v,
       0
FROM generate_series(1, {live} + {terminal} + {tombstoned}) AS s,
     generate_series(1, {events}) AS v;

INSERT INTO sync_sessions (session_id, sync_mode, status, version, last_event_at,
                           last_updated_at, snapshot_stream, snapshot_entry_id)
SELECT DISTINCT ON (session_id) session_id, 'global', (state_snapshot->>'status')::sync_status,
       version, "timestamp", "timestamp", stream, entry_id
FROM sync_events WHERE stream = '{stream}'
ORDER BY session_id, version DESC;

INSERT INTO auditq_tombstones (session_id, deleted_at, stream, entry_id)
SELECT md5('{seed}' || s)::uuid, now(), '{stream}', 'tomb-' || s
FROM generate_series({live} + {terminal} + 1, {live} + {terminal} + {tombstoned}) AS s;

UPDATE sync_sessions s SET deleted_at = t.deleted_at
FROM auditq_tombstones t WHERE t.session_id = s.session_id;

ANALYZE sync_events;
ANALYZE sync_sessions;
