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


SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: auditq_dead_letters; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.auditq_dead_letters (
    id bigint NOT NULL,
    stream text NOT NULL,
    entry_id text NOT NULL,
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
-- Name: TABLE auditq_dead_letters; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.auditq_dead_letters IS 'auditq: stream entries that can never be written, with the reason.';


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
-- Name: auditq_dead_letters_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.auditq_dead_letters ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.auditq_dead_letters_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);


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
    version bigint
);


--
-- Name: TABLE sync_events; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON TABLE public.sync_events IS 'Append-only audit trail: one row per accepted stream entry.';


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

COMMENT ON COLUMN public.sync_events.entry_id IS 'auditq: Redis stream entry id; (stream, entry_id) makes redelivery a no-op.';


--
-- Name: COLUMN sync_events.version; Type: COMMENT; Schema: public; Owner: -
--

COMMENT ON COLUMN public.sync_events.version IS 'auditq: session state version after the event.';


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
-- Name: auditq_dead_letters auditq_dead_letters_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auditq_dead_letters
    ADD CONSTRAINT auditq_dead_letters_pkey PRIMARY KEY (id);


--
-- Name: auditq_dead_letters auditq_dead_letters_stream_entry_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.auditq_dead_letters
    ADD CONSTRAINT auditq_dead_letters_stream_entry_id_key UNIQUE (stream, entry_id);


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
-- Name: sync_events sync_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_events
    ADD CONSTRAINT sync_events_pkey PRIMARY KEY (id);


--
-- Name: sync_events sync_events_stream_entry_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.sync_events
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

CREATE INDEX idx_auditq_dead_letters_dead_lettered_at ON public.auditq_dead_letters USING btree (dead_lettered_at);


--
-- Name: idx_auditq_dead_letters_not_replayed; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_auditq_dead_letters_not_replayed ON public.auditq_dead_letters USING btree (id) WHERE (replayed_at IS NULL);


--
-- Name: idx_auditq_dead_letters_reason; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_auditq_dead_letters_reason ON public.auditq_dead_letters USING btree (reason);


--
-- Name: idx_auditq_tombstones_recorded_at; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_auditq_tombstones_recorded_at ON public.auditq_tombstones USING btree (recorded_at);


--
-- Name: idx_sync_events_event_type; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_sync_events_event_type ON public.sync_events USING btree (event_type);


--
-- Name: idx_sync_events_participant_id; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_sync_events_participant_id ON public.sync_events USING btree (participant_id) WHERE (participant_id IS NOT NULL);


--
-- Name: idx_sync_events_session_timestamp; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_sync_events_session_timestamp ON public.sync_events USING btree (session_id, "timestamp" DESC);


--
-- Name: idx_sync_events_timestamp; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idx_sync_events_timestamp ON public.sync_events USING btree ("timestamp" DESC);


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
-- PostgreSQL database dump complete
--


