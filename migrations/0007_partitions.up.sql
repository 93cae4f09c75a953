-- auditq:online
-- 0007: the audit store for years of history.
--
-- sync_events and auditq_dead_letters become range-partitioned by the entry's own time, the
-- millisecond part of its Redis id (entry_ms), which is the same on every redelivery: the
-- unique key (stream, entry_ms, entry_seq) stays a real constraint. entry_id stays as text for
-- readers. The existing sync_events is not copied: its rows get entry_ms/entry_seq in batches of
-- pages (each its own transaction), a CHECK constraint is validated without blocking writes, its
-- new unique index is built CONCURRENTLY, and it is attached as the first partition,
-- sync_events_legacy, covering everything before the migration's day. The only exclusive lock
-- is the last step's rename and attach, which scan nothing. The dead letters (a small table)
-- are copied.
--
-- Each step below runs in its own transaction (`-- auditq:step`); every step can run again
-- after a crash; the last one records the migration in the same transaction.

-- Step 1: the parsed id columns, nullable (no rewrite), and the helpers.
CREATE OR REPLACE FUNCTION auditq_entry_ms(id text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN id !~ '^[0-9]{1,20}-[0-9]{1,20}$' THEN 0
              WHEN split_part(id, '-', 1)::numeric > 9223372036854775807 THEN 9223372036854775807
              ELSE split_part(id, '-', 1)::bigint END
$$;
CREATE OR REPLACE FUNCTION auditq_entry_seq(id text) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN id ~ '^[0-9]{1,20}-[0-9]{1,20}$'
                   AND split_part(id, '-', 1)::numeric <= 9223372036854775807
                   AND split_part(id, '-', 2)::numeric <= 9223372036854775807
              THEN split_part(id, '-', 2)::bigint END
$$;
COMMENT ON FUNCTION auditq_entry_ms(text) IS 'auditq: the millisecond part of a Redis entry id as bigint (at most 2^63-1; 0 for what is not an id).';

CREATE TABLE IF NOT EXISTS auditq_partitions (
    parent      TEXT NOT NULL,
    name        TEXT NOT NULL,
    lo_ms       NUMERIC,  -- NULL: MINVALUE
    hi_ms       NUMERIC,  -- NULL: MAXVALUE
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    detached_at TIMESTAMPTZ,
    PRIMARY KEY (parent, name)
);
COMMENT ON TABLE auditq_partitions IS 'auditq: the partitions auditq made, their entry_ms ranges [lo_ms, hi_ms), and when retention detached them.';

ALTER TABLE sync_events ADD COLUMN IF NOT EXISTS entry_ms bigint,
                        ADD COLUMN IF NOT EXISTS entry_seq bigint,
                        ADD COLUMN IF NOT EXISTS batch_id bigint;

-- Rows an older auditq still running somewhere writes while this migration runs.
CREATE OR REPLACE FUNCTION auditq_fill_entry_columns() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.entry_ms IS NULL THEN
    NEW.entry_ms := auditq_entry_ms(NEW.entry_id);
    NEW.entry_seq := auditq_entry_seq(NEW.entry_id);
  END IF;
  RETURN NEW;
END $$;
DO $$
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = 'sync_events'::regclass) = 'r'
     AND NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'auditq_fill_entry_columns'
                     AND tgrelid = 'sync_events'::regclass) THEN
    CREATE TRIGGER auditq_fill_entry_columns BEFORE INSERT ON sync_events
      FOR EACH ROW EXECUTE FUNCTION auditq_fill_entry_columns();
  END IF;
END $$;

-- auditq:step
-- Step 2: fill them, 2,000 pages (about 16 MB) per transaction, by physical position (a TID
-- range scan each: no pass over the table per batch). Rows only take row locks.
DO $$
DECLARE
  pages bigint;
  p bigint := 0;
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = 'sync_events'::regclass) <> 'r' THEN
    RETURN;
  END IF;
  pages := pg_relation_size('sync_events') / current_setting('block_size')::bigint;
  WHILE p <= pages LOOP
    UPDATE sync_events SET entry_ms = auditq_entry_ms(entry_id),
                           entry_seq = auditq_entry_seq(entry_id)
    WHERE ctid >= format('(%s,0)', p)::tid AND ctid < format('(%s,0)', p + 2000)::tid
      AND entry_ms IS NULL;
    COMMIT;
    p := p + 2000;
  END LOOP;
END $$;

-- auditq:step
-- Step 3: the bound of the legacy partition: the start of the day after its newest entry, or
-- of today when that is later. A CHECK constraint saying so, validated while writes go on
-- (SHARE UPDATE EXCLUSIVE), lets the attach skip its scan.
DO $$
DECLARE
  newest bigint;
  bound bigint;
  day constant bigint := 86400000;
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = 'sync_events'::regclass) <> 'r' THEN
    RETURN;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'auditq_legacy_bound'
                 AND conrelid = 'sync_events'::regclass) THEN
    SELECT max(entry_ms) INTO newest FROM sync_events;
    bound := greatest(floor(extract(epoch FROM now()) * 1000 / day)::bigint * day,
                      coalesce((newest / day + 1) * day, 0));
    EXECUTE format('ALTER TABLE sync_events ADD CONSTRAINT auditq_legacy_bound '
                   'CHECK (entry_ms IS NOT NULL AND entry_ms < %s) NOT VALID', bound);
    DELETE FROM auditq_partitions WHERE parent = 'sync_events' AND name = 'sync_events_legacy';
    INSERT INTO auditq_partitions (parent, name, lo_ms, hi_ms)
    VALUES ('sync_events', 'sync_events_legacy', NULL, bound);
  END IF;
END $$;

-- auditq:step
DO $$
BEGIN
  IF (SELECT relkind FROM pg_class WHERE oid = 'sync_events'::regclass) = 'r' THEN
    ALTER TABLE sync_events VALIDATE CONSTRAINT auditq_legacy_bound;
  END IF;
END $$;

-- auditq:step
-- Step 4: the new unique key, built without blocking writes. A build that died half-way leaves
-- an invalid index: dropped first (fast), then built again.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_index WHERE indexrelid = to_regclass('sync_events_legacy_entry_key')
             AND NOT indisvalid) THEN
    DROP INDEX sync_events_legacy_entry_key;
  END IF;
END $$;

-- auditq:step
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS sync_events_legacy_entry_key
    ON sync_events (stream, entry_ms, entry_seq);

-- auditq:step
-- Step 5, one transaction: the partitioned tables. Nothing here reads the legacy rows.
ALTER TABLE sync_events RENAME TO sync_events_legacy;
DROP TRIGGER auditq_fill_entry_columns ON sync_events_legacy;
DROP FUNCTION auditq_fill_entry_columns();
ALTER TABLE sync_events_legacy ALTER COLUMN entry_ms SET NOT NULL; -- proven by the CHECK: no scan
ALTER INDEX idx_sync_events_session_timestamp RENAME TO sync_events_legacy_session_timestamp;
ALTER INDEX idx_sync_events_event_type RENAME TO sync_events_legacy_event_type;
ALTER INDEX idx_sync_events_timestamp RENAME TO sync_events_legacy_timestamp;
ALTER INDEX idx_sync_events_participant_id RENAME TO sync_events_legacy_participant_id;

-- id keeps its random default but is no longer a key: a unique key on a partitioned table must
-- include the partition key, and (stream, entry_ms, entry_seq) is the row's identity.
CREATE TABLE sync_events (
    id                  UUID NOT NULL DEFAULT gen_random_uuid(),
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
    entry_ms            BIGINT NOT NULL,
    entry_seq           BIGINT,
    -- The batch that committed the row (auditq_batches.id), from the transaction's setting.
    batch_id            BIGINT DEFAULT nullif(current_setting('auditq.batch', true), '')::bigint
) PARTITION BY RANGE (entry_ms);

-- A unique index rather than a constraint: the legacy table's CONCURRENTLY built index matches
-- it and is attached as it is.
CREATE UNIQUE INDEX sync_events_entry_key ON sync_events (stream, entry_ms, entry_seq);
CREATE INDEX idx_sync_events_session_timestamp ON sync_events (session_id, "timestamp" DESC);
CREATE INDEX idx_sync_events_event_type ON sync_events (event_type);
CREATE INDEX idx_sync_events_timestamp ON sync_events ("timestamp" DESC);
CREATE INDEX idx_sync_events_participant_id ON sync_events (participant_id)
    WHERE participant_id IS NOT NULL;

COMMENT ON TABLE sync_events IS 'Append-only audit trail: one row per accepted stream entry, partitioned by entry_ms.';
COMMENT ON COLUMN sync_events.state_snapshot IS 'Full session state after the event (JSONB: same object, key order not kept).';
COMMENT ON COLUMN sync_events.stream IS 'auditq: Redis stream the entry was read from.';
COMMENT ON COLUMN sync_events.entry_id IS 'auditq: Redis stream entry id as text ("<ms>-<seq>"), for readers; entry_ms and entry_seq are the same id as numbers.';
COMMENT ON COLUMN sync_events.version IS 'auditq: session state version after the event.';
COMMENT ON COLUMN sync_events.entry_ms IS 'auditq: milliseconds part of the entry id: the partition key, the same on every redelivery.';
COMMENT ON COLUMN sync_events.entry_seq IS 'auditq: sequence part of the entry id; (stream, entry_ms, entry_seq) makes redelivery a no-op.';
COMMENT ON COLUMN sync_events.batch_id IS 'auditq: the committed batch (auditq_batches) whose digest covers this row; NULL for rows from before migration 0007.';

-- Attaches the existing indexes that match (all of them) and checks the bound from the
-- validated CHECK constraint instead of the rows.
DO $$
BEGIN
  EXECUTE format('ALTER TABLE sync_events ATTACH PARTITION sync_events_legacy '
                 'FOR VALUES FROM (MINVALUE) TO (%s)',
                 (SELECT hi_ms FROM auditq_partitions WHERE name = 'sync_events_legacy'));
END $$;

-- The dead letters: copied into a partitioned table (it holds only what could never be
-- written). Ids keep their values; entry_ms is clamped for ids beyond bigint.
ALTER TABLE auditq_dead_letters RENAME TO auditq_dead_letters_0006;
ALTER INDEX auditq_dead_letters_pkey RENAME TO auditq_dead_letters_0006_pkey;
DROP INDEX idx_auditq_dead_letters_reason, idx_auditq_dead_letters_dead_lettered_at,
           idx_auditq_dead_letters_not_replayed;
CREATE SEQUENCE auditq_dead_letter_ids;
SELECT setval('auditq_dead_letter_ids', coalesce(max(id), 0) + 1, false) FROM auditq_dead_letters_0006;
CREATE TABLE auditq_dead_letters (
    id                  BIGINT NOT NULL DEFAULT nextval('auditq_dead_letter_ids'),
    stream              TEXT NOT NULL,
    entry_id            TEXT NOT NULL,
    entry_ms            BIGINT NOT NULL,
    fields              JSONB NOT NULL,
    reason              TEXT NOT NULL,
    error               TEXT,
    delivery_count      BIGINT NOT NULL DEFAULT 1,
    first_seen_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    dead_lettered_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    replayed_at         TIMESTAMPTZ,
    replayed_as         TEXT,
    PRIMARY KEY (id, entry_ms),
    CONSTRAINT auditq_dead_letters_entry_key UNIQUE (stream, entry_id, entry_ms)
) PARTITION BY RANGE (entry_ms);
ALTER SEQUENCE auditq_dead_letter_ids OWNED BY auditq_dead_letters.id;
CREATE INDEX idx_auditq_dead_letters_reason ON auditq_dead_letters (reason);
CREATE INDEX idx_auditq_dead_letters_dead_lettered_at ON auditq_dead_letters (dead_lettered_at);
CREATE INDEX idx_auditq_dead_letters_not_replayed ON auditq_dead_letters (id) WHERE replayed_at IS NULL;
COMMENT ON TABLE auditq_dead_letters IS 'auditq: stream entries that can never be written, with the reason; partitioned by entry_ms.';
COMMENT ON COLUMN auditq_dead_letters.fields IS 'The entry''s raw field/value pairs in order, as [[name, value], ...]; bytes that are not UTF-8 are kept as {"base64": ...}; a name or value longer than dead_letter.max_field_bytes as {"cut": ..., "length": N, "sha256_of_rest": ...}; fields past 16 times that as a last {"omitted_fields": n, "bytes": m, "sha256": ...}.';
COMMENT ON COLUMN auditq_dead_letters.reason IS 'Reason code from the closed list in docs/reliability.md.';
COMMENT ON COLUMN auditq_dead_letters.replayed_as IS 'auditq: the stream entry id the letter was replayed as (auditq dlq replay).';
COMMENT ON COLUMN auditq_dead_letters.entry_ms IS 'auditq: milliseconds part of the entry id (at most 2^63-1): the partition key.';
DO $$
BEGIN
  EXECUTE format('CREATE TABLE auditq_dead_letters_legacy PARTITION OF auditq_dead_letters '
                 'FOR VALUES FROM (MINVALUE) TO (%s)',
                 (SELECT hi_ms FROM auditq_partitions WHERE name = 'sync_events_legacy'));
  INSERT INTO auditq_partitions (parent, name, lo_ms, hi_ms)
  SELECT 'auditq_dead_letters', 'auditq_dead_letters_legacy', NULL, hi_ms
  FROM auditq_partitions WHERE name = 'sync_events_legacy';
END $$;
-- Letters with ids after the bound get their partitions through auditq_ensure_partition below.

-- Tamper evidence: one row per committed batch, chained per writer (chain): digest =
-- sha256(previous digest || rows_digest); rows_digest is defined in src/pg/row_digest.h (the
-- SHA-256 of each row's canonical text, concatenated in (stream, entry_ms, entry_seq) order,
-- hashed again).
CREATE TABLE auditq_batches (
    id            BIGINT PRIMARY KEY,
    chain         TEXT NOT NULL,
    seq           BIGINT NOT NULL,
    streams       TEXT[] NOT NULL,
    first_ms      BIGINT NOT NULL,
    last_ms       BIGINT NOT NULL,
    row_count     INTEGER NOT NULL,
    rows_digest   BYTEA NOT NULL,
    prev_digest   BYTEA,
    digest        BYTEA NOT NULL,
    committed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (chain, seq)
);
CREATE SEQUENCE auditq_batch_ids OWNED BY auditq_batches.id;
CREATE INDEX idx_auditq_batches_committed_at ON auditq_batches (committed_at);
COMMENT ON TABLE auditq_batches IS 'auditq: a digest of every committed batch''s sync_events rows, chained per writer; checked by auditq verify.';

-- Creates the partition of `parent` holding entry time `at_ms` if none does: the interval
-- (`width_ms`: a day, or a week from Monday) around it, clipped to the partitions that exist.
-- SECURITY DEFINER: the daemon's role (auditq_writer) may add partitions, nothing else. One
-- creator at a time (advisory lock); an empty new table, so ATTACH scans nothing.
CREATE FUNCTION auditq_ensure_partition(parent text, at_ms bigint, width_ms bigint)
RETURNS text LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  offs numeric := 0;
  lo numeric;
  hi numeric;
  bound_lo numeric;
  bound_hi numeric;
  pname text;
BEGIN
  IF parent NOT IN ('sync_events', 'auditq_dead_letters') THEN
    RAISE EXCEPTION 'not an auditq partitioned table: %', parent;
  END IF;
  IF width_ms NOT IN (86400000, 604800000) THEN
    RAISE EXCEPTION 'partition width must be a day or a week, not % ms', width_ms;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('auditq_partitions', 0));
  IF EXISTS (SELECT 1 FROM auditq_partitions p
             WHERE p.parent = auditq_ensure_partition.parent AND p.detached_at IS NULL
               AND (p.lo_ms IS NULL OR p.lo_ms <= at_ms) AND (p.hi_ms IS NULL OR at_ms < p.hi_ms))
  THEN
    RETURN NULL;
  END IF;
  IF width_ms = 604800000 THEN
    offs := 345600000; -- 1970-01-05, a Monday
  END IF;
  lo := floor((at_ms - offs) / width_ms) * width_ms + offs;
  hi := lo + width_ms;
  SELECT max(p.hi_ms) INTO bound_lo FROM auditq_partitions p
  WHERE p.parent = auditq_ensure_partition.parent AND p.detached_at IS NULL AND p.hi_ms <= at_ms;
  SELECT min(p.lo_ms) INTO bound_hi FROM auditq_partitions p
  WHERE p.parent = auditq_ensure_partition.parent AND p.detached_at IS NULL AND p.lo_ms > at_ms;
  lo := greatest(lo, coalesce(bound_lo, lo), 0);
  hi := least(hi, coalesce(bound_hi, hi));
  pname := parent || '_p' || CASE WHEN lo < 253402300800000
                                  THEN to_char(to_timestamp(lo / 1000) AT TIME ZONE 'UTC',
                                               'YYYYMMDD')
                                  ELSE lo::text END;
  IF to_regclass(pname) IS NOT NULL THEN -- a detached one kept for archiving
    pname := pname || '_' || lo::text || '_' || (extract(epoch FROM clock_timestamp()) * 1000)::bigint::text;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING STORAGE)', pname, parent);
  EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', parent, pname,
                 lo, CASE WHEN hi > 9223372036854775807 THEN 'MAXVALUE' ELSE hi::text END);
  INSERT INTO auditq_partitions (parent, name, lo_ms, hi_ms)
  VALUES (parent, pname, lo, CASE WHEN hi > 9223372036854775807 THEN NULL ELSE hi END);
  RETURN pname;
END $$;
REVOKE ALL ON FUNCTION auditq_ensure_partition(text, bigint, bigint) FROM PUBLIC;

-- Partitions retention may remove: attached, entirely before `before_ms`, and holding no
-- newest snapshot of a session --recover could still restore (live, not deleted, its last
-- event within `max_age_s`).
CREATE FUNCTION auditq_prunable_partitions(before_ms bigint, max_age_s bigint)
RETURNS TABLE (parent text, name text, lo_ms numeric, hi_ms numeric, holds_snapshot boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path FROM CURRENT AS $$
  SELECT p.parent, p.name, p.lo_ms, p.hi_ms,
         p.parent = 'sync_events' AND EXISTS (
           SELECT 1 FROM sync_sessions s
           WHERE auditq_entry_ms(s.snapshot_entry_id) >= coalesce(p.lo_ms, 0)
             AND auditq_entry_ms(s.snapshot_entry_id) < p.hi_ms
             AND s.deleted_at IS NULL
             AND NOT coalesce(s.status IN ('completed', 'cancelled', 'expired'), false)
             AND coalesce(s.last_event_at, s.last_updated_at) > now() - make_interval(secs => max_age_s)
             AND NOT EXISTS (SELECT 1 FROM auditq_tombstones t WHERE t.session_id = s.session_id))
  FROM auditq_partitions p
  WHERE p.detached_at IS NULL AND p.hi_ms IS NOT NULL AND p.hi_ms <= before_ms
  ORDER BY p.hi_ms, p.parent
$$;

-- The daemon's retention (it runs as auditq_writer, which may not DETACH): a plain DETACH under
-- a short lock_timeout (the caller retries on the next round), then DROP or keep. The owner's
-- `auditq partitions prune` uses DETACH ... CONCURRENTLY instead.
CREATE FUNCTION auditq_detach_partition(parent text, name text, drop_it boolean)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM auditq_partitions p WHERE p.parent = auditq_detach_partition.parent
                 AND p.name = auditq_detach_partition.name AND p.detached_at IS NULL) THEN
    RAISE EXCEPTION 'not an attached auditq partition: %', name;
  END IF;
  PERFORM set_config('lock_timeout', '1000', true);
  EXECUTE format('ALTER TABLE %I DETACH PARTITION %I', parent, name);
  UPDATE auditq_partitions p SET detached_at = now()
  WHERE p.parent = auditq_detach_partition.parent AND p.name = auditq_detach_partition.name;
  DELETE FROM auditq_batches WHERE last_ms < (SELECT min(coalesce(p.lo_ms, 0)) FROM auditq_partitions p
                                              WHERE p.parent = 'sync_events' AND p.detached_at IS NULL);
  IF drop_it THEN
    EXECUTE format('DROP TABLE %I', name);
  END IF;
END $$;
REVOKE ALL ON FUNCTION auditq_detach_partition(text, text, boolean) FROM PUBLIC;

INSERT INTO auditq_dead_letters (id, stream, entry_id, entry_ms, fields, reason, error,
    delivery_count, first_seen_at, dead_lettered_at, replayed_at, replayed_as)
SELECT id, stream, entry_id, auditq_entry_ms(entry_id), fields, reason, error, delivery_count,
       first_seen_at, dead_lettered_at, replayed_at, replayed_as
FROM auditq_dead_letters_0006
WHERE auditq_entry_ms(entry_id) < (SELECT hi_ms FROM auditq_partitions
                                   WHERE name = 'auditq_dead_letters_legacy');
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT DISTINCT auditq_entry_ms(entry_id) AS ms FROM auditq_dead_letters_0006
           WHERE auditq_entry_ms(entry_id) >= (SELECT hi_ms FROM auditq_partitions
                                               WHERE name = 'auditq_dead_letters_legacy') LOOP
    PERFORM auditq_ensure_partition('auditq_dead_letters', r.ms, 86400000);
  END LOOP;
  INSERT INTO auditq_dead_letters (id, stream, entry_id, entry_ms, fields, reason, error,
      delivery_count, first_seen_at, dead_lettered_at, replayed_at, replayed_as)
  SELECT id, stream, entry_id, auditq_entry_ms(entry_id), fields, reason, error, delivery_count,
         first_seen_at, dead_lettered_at, replayed_at, replayed_as
  FROM auditq_dead_letters_0006
  WHERE auditq_entry_ms(entry_id) >= (SELECT hi_ms FROM auditq_partitions
                                      WHERE name = 'auditq_dead_letters_legacy');
END $$;
DROP TABLE auditq_dead_letters_0006;

-- Today and the next 7 days, ready before any daemon runs (the daemon keeps partitions.premake
-- ahead from then on).
DO $$
DECLARE
  today bigint := floor(extract(epoch FROM now()) * 1000 / 86400000)::bigint * 86400000;
BEGIN
  FOR i IN 0..7 LOOP
    PERFORM auditq_ensure_partition('sync_events', today + i * 86400000, 86400000);
    PERFORM auditq_ensure_partition('auditq_dead_letters', today + i * 86400000, 86400000);
  END LOOP;
END $$;

-- The daemon's role: append and read as before, the batch digests, the partition functions.
GRANT SELECT, INSERT ON sync_events, auditq_dead_letters, auditq_batches TO auditq_writer;
GRANT UPDATE (replayed_at, replayed_as) ON auditq_dead_letters TO auditq_writer;
GRANT SELECT ON auditq_partitions TO auditq_writer;
GRANT USAGE ON SEQUENCE auditq_dead_letter_ids, auditq_batch_ids TO auditq_writer;
GRANT EXECUTE ON FUNCTION auditq_ensure_partition(text, bigint, bigint),
                          auditq_detach_partition(text, text, boolean) TO auditq_writer;
