-- migrations/schema.sql: the schema after every migration (scripts/dump-schema writes it).
--
-- PostgreSQL database dump
--



SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: sync_mode; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.sync_mode AS ENUM (
    'per_participant',
    'per_cycle',
    'per_group',
    'global',
    'count_up'
);


--
-- Name: sync_status; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.sync_status AS ENUM (
    'pending',
    'running',
    'paused',
    'expired',
    'completed',
    'cancelled'
);


--
-- Name: auditq_detach_partition(text, text, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.auditq_detach_partition(parent text, name text, drop_it boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO '$user', 'public'
    AS $$
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


--
-- Name: auditq_ensure_partition(text, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.auditq_ensure_partition(parent text, at_ms bigint, width_ms bigint) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO '$user', 'public'
    AS $$
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


--
-- Name: auditq_entry_ms(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.auditq_entry_ms(id text) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $_$
  SELECT CASE WHEN id !~ '^[0-9]{1,20}-[0-9]{1,20}$' THEN 0
              WHEN split_part(id, '-', 1)::numeric > 9223372036854775807 THEN 9223372036854775807
              ELSE split_part(id, '-', 1)::bigint END
$_$;


--
-- Name: FUNCTION auditq_entry_ms(id text); Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON FUNCTION public.auditq_entry_ms(id text) IS 'auditq: the millisecond part of a Redis entry id as bigint (at most 2^63-1; 0 for what is not an id).';


--
-- Name: auditq_entry_seq(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.auditq_entry_seq(id text) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $_$
  SELECT CASE WHEN id ~ '^[0-9]{1,20}-[0-9]{1,20}$'
                   AND split_part(id, '-', 1)::numeric <= 9223372036854775807
                   AND split_part(id, '-', 2)::numeric <= 9223372036854775807
              THEN split_part(id, '-', 2)::bigint END
$_$;


--
-- Name: auditq_prunable_partitions(bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.auditq_prunable_partitions(before_ms bigint, max_age_s bigint) RETURNS TABLE(parent text, name text, lo_ms numeric, hi_ms numeric, holds_snapshot boolean)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO '$user', 'public'
    AS $$
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


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: auditq_batches; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auditq_batches (
    id bigint NOT NULL,
    chain text NOT NULL,
    seq bigint NOT NULL,
    streams text[] NOT NULL,
    first_ms bigint NOT NULL,
    last_ms bigint NOT NULL,
    row_count integer NOT NULL,
    rows_digest bytea NOT NULL,
    prev_digest bytea,
    digest bytea NOT NULL,
    committed_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: TABLE auditq_batches; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.auditq_batches IS 'auditq: a digest of every committed batch''s sync_events rows, chained per writer; checked by auditq verify.';


--
-- Name: auditq_batch_ids; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.auditq_batch_ids
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: auditq_batch_ids; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.auditq_batch_ids OWNED BY public.auditq_batches.id;


--
-- Name: auditq_dead_letters; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auditq_dead_letters (
    id bigint NOT NULL,
    stream text NOT NULL,
    entry_id text NOT NULL,
    entry_ms bigint NOT NULL,
    fields jsonb NOT NULL,
    reason text NOT NULL,
    error text,
    delivery_count bigint DEFAULT 1 NOT NULL,
    first_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    dead_lettered_at timestamp with time zone DEFAULT now() NOT NULL,
    replayed_at timestamp with time zone,
    replayed_as text
)
PARTITION BY RANGE (entry_ms);


--
-- Name: TABLE auditq_dead_letters; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.auditq_dead_letters IS 'auditq: stream entries that can never be written, with the reason; partitioned by entry_ms.';


--
-- Name: COLUMN auditq_dead_letters.entry_ms; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.auditq_dead_letters.entry_ms IS 'auditq: milliseconds part of the entry id (at most 2^63-1): the partition key.';


--
-- Name: COLUMN auditq_dead_letters.fields; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.auditq_dead_letters.fields IS 'The entry''s raw field/value pairs in order, as [[name, value], ...]; bytes that are not UTF-8 are kept as {"base64": ...}; a name or value longer than dead_letter.max_field_bytes as {"cut": ..., "length": N, "sha256_of_rest": ...}; fields past 16 times that as a last {"omitted_fields": n, "bytes": m, "sha256": ...}.';


--
-- Name: COLUMN auditq_dead_letters.reason; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.auditq_dead_letters.reason IS 'Reason code from the closed list in docs/reliability.md.';


--
-- Name: COLUMN auditq_dead_letters.replayed_as; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.auditq_dead_letters.replayed_as IS 'auditq: the stream entry id the letter was replayed as (auditq dlq replay).';


--
-- Name: auditq_dead_letter_ids; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.auditq_dead_letter_ids
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


--
-- Name: auditq_dead_letter_ids; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.auditq_dead_letter_ids OWNED BY public.auditq_dead_letters.id;


--
-- Name: auditq_dead_letters_legacy; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auditq_dead_letters_legacy (
    id bigint DEFAULT nextval('public.auditq_dead_letter_ids'::regclass) NOT NULL,
    stream text NOT NULL,
    entry_id text NOT NULL,
    entry_ms bigint NOT NULL,
    fields jsonb NOT NULL,
    reason text NOT NULL,
    error text,
    delivery_count bigint DEFAULT 1 NOT NULL,
    first_seen_at timestamp with time zone DEFAULT now() NOT NULL,
    dead_lettered_at timestamp with time zone DEFAULT now() NOT NULL,
    replayed_at timestamp with time zone,
    replayed_as text
);


--
-- Name: auditq_partitions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auditq_partitions (
    parent text NOT NULL,
    name text NOT NULL,
    lo_ms numeric,
    hi_ms numeric,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    detached_at timestamp with time zone
);


--
-- Name: TABLE auditq_partitions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.auditq_partitions IS 'auditq: the partitions auditq made, their entry_ms ranges [lo_ms, hi_ms), and when retention detached them.';


--
-- Name: auditq_schema_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auditq_schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: auditq_stream_starts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auditq_stream_starts (
    stream text NOT NULL,
    group_name text NOT NULL,
    start_id text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: TABLE auditq_stream_starts; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.auditq_stream_starts IS 'auditq: the entry id each stream''s consumer group first started after; where a group lost before any commit is re-created.';


--
-- Name: auditq_tombstones; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auditq_tombstones (
    session_id uuid NOT NULL,
    deleted_at timestamp with time zone NOT NULL,
    stream text,
    entry_id text,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL
);


--
-- Name: TABLE auditq_tombstones; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.auditq_tombstones IS 'auditq: sessions deleted by a session_deleted event; never restored by --recover.';


--
-- Name: COLUMN auditq_tombstones.recorded_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.auditq_tombstones.recorded_at IS 'auditq: when the tombstone was committed.';


--
-- Name: sync_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sync_events (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    session_id uuid NOT NULL,
    event_type character varying(50) NOT NULL,
    participant_id uuid,
    group_id uuid,
    time_remaining_ms integer,
    time_elapsed_ms integer,
    cycle_number integer,
    "timestamp" timestamp with time zone DEFAULT now() NOT NULL,
    state_snapshot jsonb,
    metadata jsonb DEFAULT '{}'::jsonb,
    stream text,
    entry_id text,
    version bigint,
    entry_ms bigint NOT NULL,
    entry_seq bigint,
    batch_id bigint DEFAULT (NULLIF(current_setting('auditq.batch'::text, true), ''::text))::bigint
)
PARTITION BY RANGE (entry_ms);


--
-- Name: TABLE sync_events; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.sync_events IS 'Append-only audit trail: one row per accepted stream entry, partitioned by entry_ms.';


--
-- Name: COLUMN sync_events.state_snapshot; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_events.state_snapshot IS 'Full session state after the event (JSONB: same object, key order not kept).';


--
-- Name: COLUMN sync_events.stream; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_events.stream IS 'auditq: Redis stream the entry was read from.';


--
-- Name: COLUMN sync_events.entry_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_events.entry_id IS 'auditq: Redis stream entry id as text ("<ms>-<seq>"), for readers; entry_ms and entry_seq are the same id as numbers.';


--
-- Name: COLUMN sync_events.version; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_events.version IS 'auditq: session state version after the event.';


--
-- Name: COLUMN sync_events.entry_ms; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_events.entry_ms IS 'auditq: milliseconds part of the entry id: the partition key, the same on every redelivery.';


--
-- Name: COLUMN sync_events.entry_seq; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_events.entry_seq IS 'auditq: sequence part of the entry id; (stream, entry_ms, entry_seq) makes redelivery a no-op.';


--
-- Name: COLUMN sync_events.batch_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_events.batch_id IS 'auditq: the committed batch (auditq_batches) whose digest covers this row; NULL for rows from before migration 0007.';


--
-- Name: sync_events_legacy; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sync_events_legacy (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    session_id uuid NOT NULL,
    event_type character varying(50) NOT NULL,
    participant_id uuid,
    group_id uuid,
    time_remaining_ms integer,
    time_elapsed_ms integer,
    cycle_number integer,
    "timestamp" timestamp with time zone DEFAULT now() NOT NULL,
    state_snapshot jsonb,
    metadata jsonb DEFAULT '{}'::jsonb,
    stream text,
    entry_id text,
    version bigint,
    entry_ms bigint NOT NULL,
    entry_seq bigint,
    batch_id bigint DEFAULT NULL,
    CONSTRAINT auditq_legacy_bound CHECK (((entry_ms IS NOT NULL) AND (entry_ms < '<day-ms>'::bigint)))
);


--
-- Name: TABLE sync_events_legacy; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.sync_events_legacy IS 'Append-only audit trail: one row per accepted stream entry.';


--
-- Name: COLUMN sync_events_legacy.state_snapshot; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_events_legacy.state_snapshot IS 'Full session state after the event (JSONB: same object, key order not kept).';


--
-- Name: COLUMN sync_events_legacy.stream; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_events_legacy.stream IS 'auditq: Redis stream the entry was read from.';


--
-- Name: COLUMN sync_events_legacy.entry_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_events_legacy.entry_id IS 'auditq: Redis stream entry id; (stream, entry_id) makes redelivery a no-op.';


--
-- Name: COLUMN sync_events_legacy.version; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_events_legacy.version IS 'auditq: session state version after the event.';


--
-- Name: sync_participants; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sync_participants (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    session_id uuid NOT NULL,
    participant_id uuid NOT NULL,
    total_time_ms integer NOT NULL,
    group_id uuid,
    total_cycles integer DEFAULT 0,
    total_time_active_ms integer DEFAULT 0,
    added_at timestamp with time zone DEFAULT now() NOT NULL,
    first_active_at timestamp with time zone,
    last_active_at timestamp with time zone,
    metadata jsonb DEFAULT '{}'::jsonb,
    version bigint,
    snapshot_stream text,
    snapshot_entry_id text
)
WITH (fillfactor='50');


--
-- Name: TABLE sync_participants; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.sync_participants IS 'One row per session and participant: the latest known totals.';


--
-- Name: COLUMN sync_participants.version; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_participants.version IS 'auditq: state version this row was projected from.';


--
-- Name: COLUMN sync_participants.snapshot_stream; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_participants.snapshot_stream IS 'auditq: stream of the entry whose state this row was projected from.';


--
-- Name: COLUMN sync_participants.snapshot_entry_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_participants.snapshot_entry_id IS 'auditq: entry id whose state this row was projected from (the tie-break between equal versions).';


--
-- Name: sync_sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.sync_sessions (
    session_id uuid NOT NULL,
    sync_mode public.sync_mode NOT NULL,
    time_per_cycle_ms integer,
    increment_ms integer DEFAULT 0,
    max_time_ms integer,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    completed_at timestamp with time zone,
    final_status public.sync_status,
    total_cycles integer DEFAULT 0,
    total_participants integer DEFAULT 0,
    metadata jsonb DEFAULT '{}'::jsonb,
    last_updated_at timestamp with time zone DEFAULT now(),
    version bigint,
    status public.sync_status,
    deleted_at timestamp with time zone,
    last_event_at timestamp with time zone,
    snapshot_stream text,
    snapshot_entry_id text
)
WITH (fillfactor='50');


--
-- Name: TABLE sync_sessions; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.sync_sessions IS 'One row per timer session: the latest known summary, projected from the newest state version.';


--
-- Name: COLUMN sync_sessions.final_status; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_sessions.final_status IS 'Terminal status (completed, cancelled, expired) once reached; NULL while live.';


--
-- Name: COLUMN sync_sessions.version; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_sessions.version IS 'auditq: state version this row was projected from; older or equal versions never overwrite it.';


--
-- Name: COLUMN sync_sessions.status; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_sessions.status IS 'auditq: status in the newest state.';


--
-- Name: COLUMN sync_sessions.deleted_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_sessions.deleted_at IS 'auditq: tombstone time of a session_deleted event; recovery never restores such a session.';


--
-- Name: COLUMN sync_sessions.last_event_at; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_sessions.last_event_at IS 'auditq: event time of the newest state.';


--
-- Name: COLUMN sync_sessions.snapshot_stream; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_sessions.snapshot_stream IS 'auditq: stream of the sync_events row holding the newest state.';


--
-- Name: COLUMN sync_sessions.snapshot_entry_id; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_sessions.snapshot_entry_id IS 'auditq: entry id of the sync_events row holding the newest state.';


--
-- Name: auditq_dead_letters_legacy; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auditq_dead_letters ATTACH PARTITION public.auditq_dead_letters_legacy FOR VALUES FROM (MINVALUE) TO ('<day-ms>');


--
-- Name: sync_events_legacy; Type: TABLE ATTACH; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_events ATTACH PARTITION public.sync_events_legacy FOR VALUES FROM (MINVALUE) TO ('<day-ms>');


--
-- Name: auditq_dead_letters id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auditq_dead_letters ALTER COLUMN id SET DEFAULT nextval('public.auditq_dead_letter_ids'::regclass);


--
-- Name: auditq_batches auditq_batches_chain_seq_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auditq_batches
    ADD CONSTRAINT auditq_batches_chain_seq_key UNIQUE (chain, seq);


--
-- Name: auditq_batches auditq_batches_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auditq_batches
    ADD CONSTRAINT auditq_batches_pkey PRIMARY KEY (id);


--
-- Name: auditq_dead_letters auditq_dead_letters_entry_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auditq_dead_letters
    ADD CONSTRAINT auditq_dead_letters_entry_key UNIQUE (stream, entry_id, entry_ms);


--
-- Name: auditq_dead_letters auditq_dead_letters_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auditq_dead_letters
    ADD CONSTRAINT auditq_dead_letters_pkey PRIMARY KEY (id, entry_ms);


--
-- Name: auditq_dead_letters_legacy auditq_dead_letters_legacy_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auditq_dead_letters_legacy
    ADD CONSTRAINT auditq_dead_letters_legacy_pkey PRIMARY KEY (id, entry_ms);


--
-- Name: auditq_dead_letters_legacy auditq_dead_letters_legacy_stream_entry_id_entry_ms_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auditq_dead_letters_legacy
    ADD CONSTRAINT auditq_dead_letters_legacy_stream_entry_id_entry_ms_key UNIQUE (stream, entry_id, entry_ms);


--
-- Name: auditq_partitions auditq_partitions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auditq_partitions
    ADD CONSTRAINT auditq_partitions_pkey PRIMARY KEY (parent, name);


--
-- Name: auditq_schema_migrations auditq_schema_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auditq_schema_migrations
    ADD CONSTRAINT auditq_schema_migrations_pkey PRIMARY KEY (version);


--
-- Name: auditq_stream_starts auditq_stream_starts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auditq_stream_starts
    ADD CONSTRAINT auditq_stream_starts_pkey PRIMARY KEY (stream, group_name);


--
-- Name: auditq_tombstones auditq_tombstones_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auditq_tombstones
    ADD CONSTRAINT auditq_tombstones_pkey PRIMARY KEY (session_id);


--
-- Name: sync_events_legacy sync_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_events_legacy
    ADD CONSTRAINT sync_events_pkey PRIMARY KEY (id);


--
-- Name: sync_events_legacy sync_events_stream_entry_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_events_legacy
    ADD CONSTRAINT sync_events_stream_entry_id_key UNIQUE (stream, entry_id);


--
-- Name: sync_participants sync_participants_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_participants
    ADD CONSTRAINT sync_participants_pkey PRIMARY KEY (id);


--
-- Name: sync_participants sync_participants_session_id_participant_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_participants
    ADD CONSTRAINT sync_participants_session_id_participant_id_key UNIQUE (session_id, participant_id);


--
-- Name: sync_sessions sync_sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_sessions
    ADD CONSTRAINT sync_sessions_pkey PRIMARY KEY (session_id);


--
-- Name: idx_auditq_dead_letters_dead_lettered_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_auditq_dead_letters_dead_lettered_at ON ONLY public.auditq_dead_letters USING btree (dead_lettered_at);


--
-- Name: auditq_dead_letters_legacy_dead_lettered_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auditq_dead_letters_legacy_dead_lettered_at_idx ON public.auditq_dead_letters_legacy USING btree (dead_lettered_at);


--
-- Name: idx_auditq_dead_letters_not_replayed; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_auditq_dead_letters_not_replayed ON ONLY public.auditq_dead_letters USING btree (id) WHERE (replayed_at IS NULL);


--
-- Name: auditq_dead_letters_legacy_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auditq_dead_letters_legacy_id_idx ON public.auditq_dead_letters_legacy USING btree (id) WHERE (replayed_at IS NULL);


--
-- Name: idx_auditq_dead_letters_reason; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_auditq_dead_letters_reason ON ONLY public.auditq_dead_letters USING btree (reason);


--
-- Name: auditq_dead_letters_legacy_reason_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX auditq_dead_letters_legacy_reason_idx ON public.auditq_dead_letters_legacy USING btree (reason);


--
-- Name: idx_auditq_batches_committed_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_auditq_batches_committed_at ON public.auditq_batches USING btree (committed_at);


--
-- Name: idx_auditq_tombstones_recorded_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_auditq_tombstones_recorded_at ON public.auditq_tombstones USING btree (recorded_at);


--
-- Name: idx_sync_events_event_type; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_sync_events_event_type ON ONLY public.sync_events USING btree (event_type);


--
-- Name: idx_sync_events_participant_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_sync_events_participant_id ON ONLY public.sync_events USING btree (participant_id) WHERE (participant_id IS NOT NULL);


--
-- Name: idx_sync_events_session_timestamp; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_sync_events_session_timestamp ON ONLY public.sync_events USING btree (session_id, "timestamp" DESC);


--
-- Name: idx_sync_events_timestamp; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_sync_events_timestamp ON ONLY public.sync_events USING btree ("timestamp" DESC);


--
-- Name: idx_sync_participants_group_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_sync_participants_group_id ON public.sync_participants USING btree (group_id) WHERE (group_id IS NOT NULL);


--
-- Name: idx_sync_participants_session_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_sync_participants_session_id ON public.sync_participants USING btree (session_id);


--
-- Name: idx_sync_sessions_created_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_sync_sessions_created_at ON public.sync_sessions USING btree (created_at DESC);


--
-- Name: idx_sync_sessions_final_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_sync_sessions_final_status ON public.sync_sessions USING btree (final_status) WHERE (final_status IS NOT NULL);


--
-- Name: idx_sync_sessions_sync_mode; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_sync_sessions_sync_mode ON public.sync_sessions USING btree (sync_mode);


--
-- Name: sync_events_entry_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX sync_events_entry_key ON ONLY public.sync_events USING btree (stream, entry_ms, entry_seq);


--
-- Name: sync_events_legacy_entry_key; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX sync_events_legacy_entry_key ON public.sync_events_legacy USING btree (stream, entry_ms, entry_seq);


--
-- Name: sync_events_legacy_event_type; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sync_events_legacy_event_type ON public.sync_events_legacy USING btree (event_type);


--
-- Name: sync_events_legacy_participant_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sync_events_legacy_participant_id ON public.sync_events_legacy USING btree (participant_id) WHERE (participant_id IS NOT NULL);


--
-- Name: sync_events_legacy_session_timestamp; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sync_events_legacy_session_timestamp ON public.sync_events_legacy USING btree (session_id, "timestamp" DESC);


--
-- Name: sync_events_legacy_timestamp; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX sync_events_legacy_timestamp ON public.sync_events_legacy USING btree ("timestamp" DESC);


--
-- Name: auditq_dead_letters_legacy_dead_lettered_at_idx; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.idx_auditq_dead_letters_dead_lettered_at ATTACH PARTITION public.auditq_dead_letters_legacy_dead_lettered_at_idx;


--
-- Name: auditq_dead_letters_legacy_id_idx; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.idx_auditq_dead_letters_not_replayed ATTACH PARTITION public.auditq_dead_letters_legacy_id_idx;


--
-- Name: auditq_dead_letters_legacy_pkey; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.auditq_dead_letters_pkey ATTACH PARTITION public.auditq_dead_letters_legacy_pkey;


--
-- Name: auditq_dead_letters_legacy_reason_idx; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.idx_auditq_dead_letters_reason ATTACH PARTITION public.auditq_dead_letters_legacy_reason_idx;


--
-- Name: auditq_dead_letters_legacy_stream_entry_id_entry_ms_key; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.auditq_dead_letters_entry_key ATTACH PARTITION public.auditq_dead_letters_legacy_stream_entry_id_entry_ms_key;


--
-- Name: sync_events_legacy_entry_key; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.sync_events_entry_key ATTACH PARTITION public.sync_events_legacy_entry_key;


--
-- Name: sync_events_legacy_event_type; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.idx_sync_events_event_type ATTACH PARTITION public.sync_events_legacy_event_type;


--
-- Name: sync_events_legacy_participant_id; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.idx_sync_events_participant_id ATTACH PARTITION public.sync_events_legacy_participant_id;


--
-- Name: sync_events_legacy_session_timestamp; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.idx_sync_events_session_timestamp ATTACH PARTITION public.sync_events_legacy_session_timestamp;


--
-- Name: sync_events_legacy_timestamp; Type: INDEX ATTACH; Schema: public; Owner: -
--

ALTER INDEX public.idx_sync_events_timestamp ATTACH PARTITION public.sync_events_legacy_timestamp;


--
-- PostgreSQL database dump complete
--


