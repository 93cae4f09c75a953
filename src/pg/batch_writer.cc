// The batch transaction. Column lists here must match the row layouts that pipeline/batch.cc
// and pipeline/decode.cc render.
#include "pg/batch_writer.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <future>
#include <iterator>
#include <tuple>

#include <fmt/format.h>

#include "core/clock.h"
#include "core/entry_id.h"
#include "core/log.h"
#include "pg/connection_impl.h"
#include "pipeline/copy_text.h"
#include "pipeline/row_digest.h"
#include "pipeline/sha256.h"

namespace auditq::pg {
namespace {

constexpr std::array<const char*, 16> kEventColumns = {"id",
                                                       "session_id",
                                                       "event_type",
                                                       "participant_id",
                                                       "group_id",
                                                       "time_remaining_ms",
                                                       "time_elapsed_ms",
                                                       "cycle_number",
                                                       "\"timestamp\"",
                                                       "state_snapshot",
                                                       "metadata",
                                                       "stream",
                                                       "entry_id",
                                                       "version",
                                                       "entry_ms",
                                                       "entry_seq"};

// Nothing here outlives a transaction, so that writing works through a pooler in transaction
// mode (pgbouncer pool_mode = transaction), where consecutive transactions may run on different
// server sessions: statements are unnamed (no prepared statement left in a session), the
// statement timeout is SET LOCAL, and a batch that needs a staging table makes it, if that
// session has none yet, in its own first statement (no extra round trip; ON COMMIT DELETE ROWS
// empties it, whichever client's transaction filled it). Names carry the layout's version:
// sessions shared with another auditq release through a pooler keep each release's own tables.
//
// A small batch touches no temporary table at all (kUnnestMaxBytes): at every commit of a
// transaction that touched one, PostgreSQL truncates every ON COMMIT DELETE ROWS table of the
// session (files, their TOAST tables and indexes), which cost a third of the server's CPU per
// batch of one entry.
constexpr const char* kStageEvents = R"(
CREATE TEMP TABLE IF NOT EXISTS auditq_stage1_events (
    id uuid, session_id uuid, event_type varchar(50), participant_id uuid, group_id uuid,
    time_remaining_ms integer, time_elapsed_ms integer, cycle_number integer,
    "timestamp" timestamptz, state_snapshot jsonb, metadata jsonb, stream text, entry_id text,
    version bigint, entry_ms bigint, entry_seq bigint) ON COMMIT DELETE ROWS;)";
constexpr const char* kStageProjections = R"(
CREATE TEMP TABLE IF NOT EXISTS auditq_stage1_sessions (
    session_id uuid, sync_mode sync_mode, time_per_cycle_ms integer, increment_ms integer,
    max_time_ms integer, created_at timestamptz, started_at timestamptz, completed_at timestamptz,
    final_status sync_status, total_cycles integer, total_participants integer,
    last_updated_at timestamptz, status sync_status, version bigint, last_event_at timestamptz,
    snapshot_stream text, snapshot_entry_id text) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS auditq_stage1_participants (
    session_id uuid, participant_id uuid, total_time_ms integer, group_id uuid,
    total_cycles integer, total_time_active_ms integer, added_at timestamptz,
    first_active_at timestamptz, last_active_at timestamptz, version bigint,
    snapshot_stream text, snapshot_entry_id text) ON COMMIT DELETE ROWS;)";
constexpr const char* kStageTombstones = R"(
CREATE TEMP TABLE IF NOT EXISTS auditq_stage1_tombstones (
    session_id uuid, deleted_at timestamptz, stream text, entry_id text) ON COMMIT DELETE ROWS;)";
constexpr const char* kStageDeadLetters = R"(
CREATE TEMP TABLE IF NOT EXISTS auditq_stage1_dead_letters (
    stream text, entry_id text, entry_ms bigint, entry_seq bigint, fields jsonb, reason text,
    error text, delivery_count bigint) ON COMMIT DELETE ROWS;)";

// An entry already dead-lettered (by another consumer that took it over) is never also an
// event: one final place per entry.
constexpr const char* kInsertStagedEvents = R"(
INSERT INTO sync_events (id, session_id, event_type, participant_id, group_id,
                         time_remaining_ms, time_elapsed_ms, cycle_number, "timestamp",
                         state_snapshot, metadata, stream, entry_id, version, entry_ms, entry_seq)
SELECT id, session_id, event_type, participant_id, group_id, time_remaining_ms, time_elapsed_ms,
       cycle_number, "timestamp", state_snapshot, metadata, stream, entry_id, version, entry_ms,
       entry_seq
FROM auditq_stage1_events s
WHERE NOT EXISTS (SELECT 1 FROM auditq_dead_letters d
                  WHERE d.stream = s.stream AND d.entry_id = s.entry_id
                    AND d.entry_ms = s.entry_ms)
ON CONFLICT (stream, entry_ms, entry_seq) DO NOTHING
RETURNING stream, entry_ms, entry_seq)";

// An entry already in sync_events is never also dead-lettered: one delivered too often
// (max_deliveries) may have been committed by a run that died before its XACK.
constexpr const char* kInsertDeadLetters = R"(
INSERT INTO auditq_dead_letters (stream, entry_id, entry_ms, fields, reason, error,
                                 delivery_count)
SELECT d.stream, d.entry_id, d.entry_ms, d.fields, d.reason, d.error, d.delivery_count
FROM auditq_stage1_dead_letters d
WHERE NOT EXISTS (SELECT 1 FROM sync_events e
                  WHERE e.stream = d.stream AND e.entry_ms = d.entry_ms
                    AND e.entry_seq = d.entry_seq)
ON CONFLICT (stream, entry_id, entry_ms) DO NOTHING)";

// Where an entry stands among the states of a session: its version (none: below every
// version), then its entry id numerically, then its stream. A state is written only over one
// that stands lower, so the rows come out the same whatever order batches commit in.
#define AUDITQ_STANDING(v, stream, id)                                                             \
  "(coalesce(" v ", -1), coalesce(split_part(" id ", '-', 1)::numeric, -1), "                      \
  "coalesce(split_part(" id ", '-', 2)::numeric, -1), coalesce(" stream ", ''))"

// The earliest tombstone of a session wins (by time, then entry id), whichever commits first.
// Rows are locked in session order, as everywhere else.
constexpr const char* kInsertTombstones = R"(
INSERT INTO auditq_tombstones AS t (session_id, deleted_at, stream, entry_id)
SELECT DISTINCT ON (session_id) session_id, deleted_at, stream, entry_id
FROM auditq_stage1_tombstones
ORDER BY session_id, deleted_at, split_part(entry_id, '-', 1)::numeric,
         split_part(entry_id, '-', 2)::numeric, stream
ON CONFLICT (session_id) DO UPDATE SET
    deleted_at = EXCLUDED.deleted_at, stream = EXCLUDED.stream, entry_id = EXCLUDED.entry_id
WHERE (EXCLUDED.deleted_at, split_part(EXCLUDED.entry_id, '-', 1)::numeric,
       split_part(EXCLUDED.entry_id, '-', 2)::numeric, EXCLUDED.stream)
    < (t.deleted_at, coalesce(split_part(t.entry_id, '-', 1)::numeric, -1),
       coalesce(split_part(t.entry_id, '-', 2)::numeric, -1), coalesce(t.stream, '')))";

// With tombstones in the batch, session rows are touched twice (deleted_at, then the upsert):
// lock every one the batch touches first, in session order, in one statement, so that two
// writers never hold each other's rows (no 40P01).
constexpr const char* kLockSessions = R"(
SELECT 1 FROM sync_sessions
WHERE session_id IN (SELECT session_id FROM auditq_stage1_tombstones
                     UNION {session_ids})
ORDER BY session_id FOR UPDATE)";

constexpr const char* kMarkDeletedSessions = R"(
UPDATE sync_sessions s SET deleted_at = t.deleted_at
FROM auditq_tombstones t
WHERE t.session_id = s.session_id AND s.deleted_at IS DISTINCT FROM t.deleted_at
  AND t.session_id IN (SELECT session_id FROM auditq_stage1_tombstones))";

// A newer state (AUDITQ_STANDING) overwrites; an equal or older one never does. ORDER BY keeps
// the lock order stable across writers and instances, so concurrent batches do not deadlock.
// {rows}: the batch's rows, `st` (projectionRows).
constexpr const char* kUpsertSessions = R"(
INSERT INTO sync_sessions AS s (session_id, sync_mode, time_per_cycle_ms, increment_ms,
    max_time_ms, created_at, started_at, completed_at, final_status, total_cycles,
    total_participants, last_updated_at, status, version, last_event_at, snapshot_stream,
    snapshot_entry_id, deleted_at)
SELECT st.session_id, st.sync_mode, st.time_per_cycle_ms, st.increment_ms, st.max_time_ms,
       st.created_at, st.started_at, st.completed_at, st.final_status, st.total_cycles,
       st.total_participants, COALESCE(st.last_updated_at, now()), st.status, st.version,
       st.last_event_at, st.snapshot_stream, st.snapshot_entry_id, t.deleted_at
FROM {rows} LEFT JOIN auditq_tombstones t ON t.session_id = st.session_id
ORDER BY st.session_id
ON CONFLICT (session_id) DO UPDATE SET
    sync_mode = EXCLUDED.sync_mode, time_per_cycle_ms = EXCLUDED.time_per_cycle_ms,
    increment_ms = EXCLUDED.increment_ms, max_time_ms = EXCLUDED.max_time_ms,
    started_at = EXCLUDED.started_at, completed_at = EXCLUDED.completed_at,
    final_status = EXCLUDED.final_status, total_cycles = EXCLUDED.total_cycles,
    total_participants = EXCLUDED.total_participants, last_updated_at = EXCLUDED.last_updated_at,
    status = EXCLUDED.status, version = EXCLUDED.version, last_event_at = EXCLUDED.last_event_at,
    snapshot_stream = EXCLUDED.snapshot_stream, snapshot_entry_id = EXCLUDED.snapshot_entry_id,
    deleted_at = COALESCE(EXCLUDED.deleted_at, s.deleted_at)
WHERE )" AUDITQ_STANDING("EXCLUDED.version", "EXCLUDED.snapshot_stream",
                         "EXCLUDED.snapshot_entry_id") " > " AUDITQ_STANDING("s.version",
                                                                             "s.snapshot_stream",
                                                                             "s.snapshot_entry_id");

constexpr const char* kUpsertParticipants = R"(
INSERT INTO sync_participants AS p (session_id, participant_id, total_time_ms, group_id,
    total_cycles, total_time_active_ms, added_at, first_active_at, last_active_at, version,
    snapshot_stream, snapshot_entry_id)
SELECT st.session_id, st.participant_id, st.total_time_ms, st.group_id, st.total_cycles,
       st.total_time_active_ms, st.added_at, st.first_active_at, st.last_active_at, st.version,
       st.snapshot_stream, st.snapshot_entry_id
FROM {rows} ORDER BY st.session_id, st.participant_id
ON CONFLICT (session_id, participant_id) DO UPDATE SET
    total_time_ms = EXCLUDED.total_time_ms, group_id = EXCLUDED.group_id,
    total_cycles = EXCLUDED.total_cycles, total_time_active_ms = EXCLUDED.total_time_active_ms,
    first_active_at = COALESCE(p.first_active_at, EXCLUDED.first_active_at),
    last_active_at = COALESCE(EXCLUDED.last_active_at, p.last_active_at),
    version = EXCLUDED.version, snapshot_stream = EXCLUDED.snapshot_stream,
    snapshot_entry_id = EXCLUDED.snapshot_entry_id
WHERE )" AUDITQ_STANDING("EXCLUDED.version", "EXCLUDED.snapshot_stream",
                         "EXCLUDED.snapshot_entry_id") " > " AUDITQ_STANDING("p.version",
                                                                             "p.snapshot_stream",
                                                                             "p.snapshot_entry_id");
#undef AUDITQ_STANDING

// The columns of pipeline::Batch's session and participant rows, in order, with their types.
struct Column {
  const char* name;
  const char* type;
};
constexpr std::array<Column, 17> kSessionColumns = {{{"session_id", "uuid"},
                                                     {"sync_mode", "sync_mode"},
                                                     {"time_per_cycle_ms", "integer"},
                                                     {"increment_ms", "integer"},
                                                     {"max_time_ms", "integer"},
                                                     {"created_at", "timestamptz"},
                                                     {"started_at", "timestamptz"},
                                                     {"completed_at", "timestamptz"},
                                                     {"final_status", "sync_status"},
                                                     {"total_cycles", "integer"},
                                                     {"total_participants", "integer"},
                                                     {"last_updated_at", "timestamptz"},
                                                     {"status", "sync_status"},
                                                     {"version", "bigint"},
                                                     {"last_event_at", "timestamptz"},
                                                     {"snapshot_stream", "text"},
                                                     {"snapshot_entry_id", "text"}}};
constexpr std::array<Column, 12> kParticipantColumns = {{{"session_id", "uuid"},
                                                         {"participant_id", "uuid"},
                                                         {"total_time_ms", "integer"},
                                                         {"group_id", "uuid"},
                                                         {"total_cycles", "integer"},
                                                         {"total_time_active_ms", "integer"},
                                                         {"added_at", "timestamptz"},
                                                         {"first_active_at", "timestamptz"},
                                                         {"last_active_at", "timestamptz"},
                                                         {"version", "bigint"},
                                                         {"snapshot_stream", "text"},
                                                         {"snapshot_entry_id", "text"}}};
constexpr std::array<const char*, 4> kTombstoneStageColumns = {"session_id", "deleted_at", "stream",
                                                               "entry_id"};
constexpr std::array<const char*, 8> kDeadLetterStageColumns = {
    "stream", "entry_id", "entry_ms", "entry_seq", "fields", "reason", "error", "delivery_count"};

// The batch's record, chained to the previous batch of the same writer ({chain}): the rows
// digest ({digest}, hex) computed by the writer from the rows it inserted (pipeline/
// row_digest.h), the digest SHA-256(previous digest || rows digest). Values are filled in as
// quoted literals: the statement travels with the COMMIT, in one round trip.
constexpr const char* kRecordBatch = R"(
INSERT INTO auditq_batches (id, chain, seq, streams, first_ms, last_ms, row_count, rows_digest,
                            prev_digest, digest)
SELECT current_setting('auditq.batch')::bigint, {chain}, coalesce(p.seq, 0) + 1,
       {streams}::text[], {first}, {last}, {count}, decode({digest}, 'hex'), p.digest,
       sha256(coalesce(p.digest, ''::bytea) || decode({digest}, 'hex'))
FROM (SELECT 1) one
LEFT JOIN LATERAL (SELECT q.seq, q.digest FROM auditq_batches q WHERE q.chain = {chain}
                   ORDER BY q.seq DESC LIMIT 1) p ON true;)";

// notify.enabled: one notification per stream of the batch, with the ids it committed.
constexpr const char* kNotifyBatch = R"(
SELECT pg_notify({channel}, json_build_object('stream', e.stream,
                                       'first', (min(ARRAY[e.entry_ms, e.entry_seq]))[1] || '-' ||
                                                (min(ARRAY[e.entry_ms, e.entry_seq]))[2],
                                       'last', (max(ARRAY[e.entry_ms, e.entry_seq]))[1] || '-' ||
                                               (max(ARRAY[e.entry_ms, e.entry_seq]))[2],
                                       'rows', count(*))::text)
FROM sync_events e
WHERE e.stream = ANY({streams}::text[]) AND e.entry_ms BETWEEN {first} AND {last}
  AND e.batch_id = current_setting('auditq.batch')::bigint
GROUP BY e.stream;)";

constexpr const char* kCheckSchema =
    "SELECT 'sync_events'::regclass, 'sync_sessions'::regclass, 'sync_participants'::regclass, "
    "'auditq_dead_letters'::regclass, 'auditq_tombstones'::regclass, 'auditq_batches'::regclass, "
    "'auditq_partitions'::regclass, 'auditq_batch_ids'::regclass";

// libpq is handed about this much per call: big enough to amortise the call, small enough that
// libpqxx's copy of each chunk stays cheap.
constexpr size_t kChunkBytes = size_t{256} << 10;

// COPY `rows` (complete lines) into `table`. libpqxx 6.4 only accepts pre-encoded COPY lines
// through tablewriter::write_raw_line (stream_to's is private), which appends the final newline
// itself: hand it chunks of whole lines without their last '\n'.
template <size_t N>
void copyRows(pqxx::transaction_base& tx, const char* table,
              const std::array<const char*, N>& columns, const std::string& rows,
              std::string& chunk) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  pqxx::tablewriter writer(tx, table, columns.begin(), columns.end());
#pragma GCC diagnostic pop
  size_t pos = 0;
  while (pos < rows.size()) {
    size_t end = std::min(rows.size(), pos + kChunkBytes);
    if (end < rows.size()) {
      end = rows.rfind('\n', end - 1) + 1;
      if (end <= pos) { // a single line longer than the chunk
        end = rows.find('\n', pos) + 1;
      }
    }
    chunk.assign(rows, pos, end - pos - 1); // drop the line's '\n': write_raw_line adds it
    writer.write_raw_line(chunk);
    pos = end;
  }
  writer.complete();
}

template <size_t N>
constexpr std::array<const char*, N> names(const std::array<Column, N>& columns) {
  std::array<const char*, N> out{};
  for (size_t i = 0; i < N; ++i) {
    out[i] = columns[i].name;
  }
  return out;
}

// Up to this many bytes of session and participant rows, a batch sends them as one array per
// column, read with unnest, in the COMMIT's round trip; more, it COPYs them to staging tables.
// Arrays spare a small batch the truncation of the temporary tables at commit (see
// kStageEvents); COPY parses faster per row, which wins once the truncation is spread over
// enough rows. The two cost the same at about 300 entries (≈250 KB of these rows; paired
// backlog runs with batch.max_entries 100, 300 and 1000, 2026-12-03: docs/performance.md).
constexpr size_t kUnnestMaxBytes = size_t{256} << 10;

bool projectionsAsArrays(const pipeline::Batch& batch) {
  return batch.sessionRows().size() + batch.participantRows().size() <= kUnnestMaxBytes;
}

// The batch's session or participant rows as the upserts read them (`st`): either unnest of one
// array literal per column (`arrays` is scratch space kept across batches), or the staging
// table they were COPYed to.
template <size_t N>
std::string projectionRows(pqxx::transaction_base& tx, bool as_arrays, const char* staging,
                           const std::string& rows, const std::array<Column, N>& columns,
                           std::vector<std::string>& arrays) {
  if (!as_arrays) {
    return fmt::format("{} st", staging);
  }
  pipeline::copy::toArrayLiterals(rows, N, arrays);
  std::string out = "unnest(";
  for (size_t i = 0; i < N; ++i) {
    fmt::format_to(std::back_inserter(out), "{}{}::{}[]", i == 0 ? "" : ", ", tx.quote(arrays[i]),
                   columns[i].type);
  }
  out.append(") AS st(");
  for (size_t i = 0; i < N; ++i) {
    out.append(i == 0 ? "" : ", ").append(columns[i].name);
  }
  out.push_back(')');
  return out;
}

} // namespace

struct BatchWriter::Impl {
  const config::PostgresConfig& postgres;
  const config::ProjectionsConfig& projections;
  WriterOptions options;
  std::unique_ptr<Connection> conn;
  std::string chunk;
  std::string streams;             // the batch's streams as a text[] literal
  std::string last;                // the statements sent with the COMMIT
  std::vector<std::string> arrays; // a batch's rows, one array literal per column
  // The batch's row digests, computed here (the writer's thread) rather than on the event loop.
  pipeline::RowDigester digester;
  std::vector<pipeline::RowDigester::RowDigest> digests;
  // Entry-time ranges [lo, hi) the partitions of sync_events and auditq_dead_letters both
  // cover, as last read; a batch with an entry outside them has its partitions made first.
  std::vector<std::pair<int64_t, int64_t>> covered;
};

BatchWriter::BatchWriter(const config::PostgresConfig& postgres,
                         const config::ProjectionsConfig& projections, WriterOptions options)
    : impl_(std::make_unique<Impl>(
          Impl{postgres, projections, std::move(options), nullptr, {}, {}, {}, {}, {}, {}, {}})) {}

BatchWriter::~BatchWriter() = default;

bool BatchWriter::connected() const {
  return impl_->conn && impl_->conn->impl().conn.is_open();
}

static void fail(WriteOutcome& outcome, const Error& e) {
  outcome.committed = false;
  outcome.sqlstate = e.sqlstate();
  outcome.failure = pipeline::classifySqlstate(e.sqlstate());
  outcome.message = e.what();
}

bool BatchWriter::connect(WriteOutcome& outcome) {
  if (connected()) {
    return true;
  }
  impl_->conn.reset();
  try {
    auto conn = Connection::open(impl_->postgres);
    // A database auditq cannot write to (not migrated) fails here, not at the first batch, so
    // that readiness says so. Nothing else is set up: see kCreateStaging.
    conn->execute(kCheckSchema);
    impl_->conn = std::move(conn);
    return true;
  } catch (const Error& e) {
    fail(outcome, e);
    return false;
  }
}

namespace {

// Thrown inside the transaction when the fast path must be redone on the staged path.
struct RedoStaged {};

// One final place per entry, under any interleaving of writers and instances: a batch with
// dead letters holds its streams' lock exclusively, a batch of events holds it shared. So a
// dead letter's NOT EXISTS (sync_events) and an event's check against auditq_dead_letters each
// see the other's commit, never both miss it. Locks are taken in stream order.
//
// With `check_dead_lettered` (the fast path), the same round trip then asks whether an event of
// the batch is a dead letter already (taken over and dead-lettered by another consumer), and
// the answer is returned: then the fast path cannot be used. Asked after the lock is granted
// (each statement of the string has its own snapshot), it sees every dead letter committed
// before, and none can commit after until this transaction ends.
bool beginBatch(pqxx::transaction_base& tx, const pipeline::Batch& batch, bool staged,
                int64_t statement_timeout_ms, bool check_dead_lettered, std::string& ids) {
  // The timeout first, so that it covers the locks below; the rows' batch_id default reads
  // auditq.batch, the digest finds the rows by it; the staging tables' "already exists,
  // skipping" notices (rare paths, kStageEvents) are not worth a line on stderr per batch.
  std::string sql =
      fmt::format("BEGIN;"
                  "SELECT set_config('statement_timeout', '{}', true), "
                  "set_config('client_min_messages', 'warning', true);"
                  "SELECT set_config('auditq.batch', nextval('auditq_batch_ids')::text, true);",
                  statement_timeout_ms);
  std::vector<std::string> keys;
  for (const auto& ids : batch.acks()) {
    keys.push_back("auditq_entries:" + ids.stream());
  }
  std::sort(keys.begin(), keys.end());
  if (staged && batch.events() > 0) {
    sql += kStageEvents;
  }
  if (!projectionsAsArrays(batch)) {
    sql += kStageProjections;
  }
  if (batch.deadLetters() > 0) {
    sql += kStageDeadLetters;
  }
  if (!batch.tombstoneRows().empty()) {
    sql += kStageTombstones;
  }
  const char* fn =
      batch.deadLetters() > 0 ? "pg_advisory_xact_lock" : "pg_advisory_xact_lock_shared";
  for (const auto& k : keys) {
    fmt::format_to(std::back_inserter(sql), "SELECT {}(hashtextextended({}, 0));", fn, tx.quote(k));
  }
  if (!check_dead_lettered) {
    tx.exec(sql);
    return false;
  }
  sql += "SELECT false";
  for (const auto& s : batch.acks()) {
    ids.clear();
    ids.push_back('{');
    for (size_t i = 0; i < s.size(); ++i) {
      if (i > 0) {
        ids.push_back(',');
      }
      ids.append(s.id(i));
    }
    ids.push_back('}');
    fmt::format_to(std::back_inserter(sql),
                   " OR EXISTS (SELECT 1 FROM auditq_dead_letters WHERE stream = {} "
                   "AND entry_id = ANY({}::text[]) AND entry_ms BETWEEN {} AND {})",
                   tx.quote(s.stream()), tx.quote(ids), batch.minEntryMs(), batch.maxEntryMs());
  }
  const auto r = tx.exec(sql);
  return !r.empty() && r[0][0].as<bool>();
}

// Adds `name` to a text[] literal being built ("{" so far, or "{...,..."), quoted for the
// array syntax; the caller closes it with '}'.
void addArrayElement(std::string& literal, std::string_view name) {
  if (literal.size() > 1) {
    literal.push_back(',');
  }
  literal.push_back('"');
  for (char ch : name) {
    if (ch == '"' || ch == '\\') {
      literal.push_back('\\');
    }
    literal.push_back(ch);
  }
  literal.push_back('"');
}

// The batch's streams as a text[] literal.
void streamsLiteral(const pipeline::Batch& batch, std::string& out) {
  out = "{";
  for (const auto& ids : batch.acks()) {
    addArrayElement(out, ids.stream());
  }
  out.push_back('}');
}

// What the batch's record says about the rows it inserted: all its events on the fast path,
// those the staged INSERT returned otherwise.
struct InsertedRows {
  int64_t count = 0;
  int64_t first_ms = INT64_MAX;
  int64_t last_ms = 0;
  std::string streams; // text[] literal
  std::string digest;  // hex: SHA-256 of the rows' SHA-256s in (stream, ms, seq) order
};

void digestInserted(const pipeline::Batch& batch,
                    const std::vector<pipeline::RowDigester::RowDigest>& rows,
                    const pqxx::result* inserted, InsertedRows& out) {
  using Key = std::tuple<std::string_view, int64_t, int64_t>;
  std::vector<Key> returned;
  if (inserted != nullptr) {
    returned.reserve(inserted->size());
    for (const auto& row : *inserted) {
      returned.emplace_back(std::string_view(row[0].c_str(), row[0].size()), row[1].as<int64_t>(),
                            row[2].as<int64_t>());
    }
    std::sort(returned.begin(), returned.end());
  }
  std::vector<uint32_t> order;
  order.reserve(rows.size());
  for (uint32_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    if (inserted == nullptr || std::binary_search(returned.begin(), returned.end(),
                                                  Key{batch.digestStream(r.stream), r.ms, r.seq})) {
      order.push_back(i);
    }
  }
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    const auto& x = rows[a];
    const auto& y = rows[b];
    return std::tuple(std::string_view(batch.digestStream(x.stream)), x.ms, x.seq) <
           std::tuple(std::string_view(batch.digestStream(y.stream)), y.ms, y.seq);
  });
  pipeline::Sha256 sha;
  out.streams = "{";
  uint32_t last_stream = UINT32_MAX;
  for (uint32_t i : order) {
    const auto& r = rows[i];
    sha.update(std::string_view(reinterpret_cast<const char*>(r.sha.data()), r.sha.size()));
    out.first_ms = std::min(out.first_ms, r.ms);
    out.last_ms = std::max(out.last_ms, r.ms);
    if (r.stream != last_stream) { // sorted by stream: each appears once, in a run
      addArrayElement(out.streams, batch.digestStream(r.stream));
      last_stream = r.stream;
    }
  }
  out.streams.push_back('}');
  out.count = static_cast<int64_t>(order.size());
  out.digest = sha.hex();
}

// BEGIN, and ROLLBACK unless the COMMIT was sent: pqxx::work would spend a round trip of its
// own on each (see writeTransaction).
class ExplicitTransaction {
public:
  explicit ExplicitTransaction(pqxx::connection& c) : conn_(c), tx_(c) {}
  ExplicitTransaction(const ExplicitTransaction&) = delete;
  ExplicitTransaction& operator=(const ExplicitTransaction&) = delete;
  ~ExplicitTransaction() {
    if (!committed_) {
      try {
        tx_.exec("ROLLBACK"); // outside a transaction block, a warning only
      } catch (const std::exception&) {
        // Never leave a session inside an aborted transaction for the next batch: closed, the
        // writer reconnects (a lost connection is closed already).
        conn_.disconnect();
      }
    }
  }
  pqxx::transaction_base& tx() { return tx_; }
  // Sends `sql` (statements ending in ';') and COMMIT, in one round trip. When a statement
  // fails, those after it (the COMMIT too) are skipped: the destructor rolls back.
  void commitWith(std::string& sql) {
    sql += "COMMIT";
    tx_.exec(sql);
    committed_ = true;
  }

private:
  pqxx::connection& conn_;
  pqxx::nontransaction tx_;
  bool committed_ = false;
};

// The batch in as few round trips as libpq allows (a COPY cannot share one): BEGIN with the
// set-up, the locks and the dead-letter check; each COPY; then every statement whose answer is
// not needed, with the COMMIT. The statements after the COPYs run in the order they always
// did: dead letters, tombstones, the sessions they lock, sessions, participants, the record.
void writeTransaction(pqxx::connection& c, const pipeline::Batch& batch, bool staged,
                      int64_t statement_timeout_ms, const WriterOptions& options,
                      const std::shared_future<void>& digesting,
                      const std::vector<pipeline::RowDigester::RowDigest>& digests,
                      WriteOutcome& outcome, std::string& chunk, std::string& streams,
                      std::string& last, std::vector<std::string>& arrays) {
  pqxx::result inserted_rows;
  ExplicitTransaction xact(c);
  auto& tx = xact.tx();
  const bool fast = !staged && batch.events() > 0;
  if (beginBatch(tx, batch, staged, statement_timeout_ms, fast, chunk)) {
    throw RedoStaged{};
  }
  if (batch.events() > 0) {
    if (!staged) {
      copyRows(tx, "sync_events", kEventColumns, batch.eventRows(), chunk);
    } else {
      copyRows(tx, "auditq_stage1_events", kEventColumns, batch.eventRows(), chunk);
      inserted_rows = tx.exec(kInsertStagedEvents);
      outcome.duplicates = batch.events() - inserted_rows.size();
    }
  }
  last.clear();
  if (batch.deadLetters() > 0) {
    copyRows(tx, "auditq_stage1_dead_letters", kDeadLetterStageColumns, batch.deadLetterRows(),
             chunk);
    last.append(kInsertDeadLetters).append(";");
  }
  const bool tombstones = !batch.tombstoneRows().empty();
  if (tombstones) {
    copyRows(tx, "auditq_stage1_tombstones", kTombstoneStageColumns, batch.tombstoneRows(), chunk);
    last.append(kInsertTombstones).append(";");
  }
  const bool as_arrays = projectionsAsArrays(batch);
  if (!as_arrays) {
    if (!batch.sessionRows().empty()) {
      copyRows(tx, "auditq_stage1_sessions", names(kSessionColumns), batch.sessionRows(), chunk);
    }
    if (!batch.participantRows().empty()) {
      copyRows(tx, "auditq_stage1_participants", names(kParticipantColumns),
               batch.participantRows(), chunk);
    }
  }
  // Events only (no projections) has neither: nothing to render.
  const std::string sessions = batch.sessionRows().empty() && !tombstones
                                   ? std::string()
                                   : projectionRows(tx, as_arrays, "auditq_stage1_sessions",
                                                    batch.sessionRows(), kSessionColumns, arrays);
  if (tombstones) {
    fmt::format_to(
        std::back_inserter(last), fmt::runtime(kLockSessions),
        fmt::arg("session_ids", as_arrays
                                    ? fmt::format("SELECT unnest({}::uuid[])", tx.quote(arrays[0]))
                                    : "SELECT session_id FROM auditq_stage1_sessions"));
    last.append(";").append(kMarkDeletedSessions).append(";");
  }
  if (!batch.sessionRows().empty()) {
    fmt::format_to(std::back_inserter(last), fmt::runtime(kUpsertSessions),
                   fmt::arg("rows", sessions));
    last.append(";");
  }
  if (!batch.participantRows().empty()) {
    fmt::format_to(
        std::back_inserter(last), fmt::runtime(kUpsertParticipants),
        fmt::arg("rows", projectionRows(tx, as_arrays, "auditq_stage1_participants",
                                        batch.participantRows(), kParticipantColumns, arrays)));
    last.append(";");
  }
  if (batch.events() > 0) {
    streamsLiteral(batch, streams);
    if (options.digests) {
      digesting.wait();
    }
    if (options.digests && !digests.empty()) {
      InsertedRows ins;
      digestInserted(batch, digests, staged ? &inserted_rows : nullptr, ins);
      if (ins.count > 0) {
        fmt::format_to(std::back_inserter(last), fmt::runtime(kRecordBatch),
                       fmt::arg("chain", tx.quote(options.chain)),
                       fmt::arg("streams", tx.quote(ins.streams)), fmt::arg("first", ins.first_ms),
                       fmt::arg("last", ins.last_ms), fmt::arg("count", ins.count),
                       fmt::arg("digest", tx.quote(ins.digest)));
      }
    }
    if (options.notify) {
      fmt::format_to(std::back_inserter(last), fmt::runtime(kNotifyBatch),
                     fmt::arg("channel", tx.quote(options.notify_channel)),
                     fmt::arg("streams", tx.quote(streams)), fmt::arg("first", batch.minEntryMs()),
                     fmt::arg("last", batch.maxEntryMs()));
    }
  }
  xact.commitWith(last);
}

} // namespace

void BatchWriter::loadCoverage() {
  auto& c = impl_->conn->impl().conn;
  pqxx::nontransaction tx(c);
  // Ranges both tables cover: each table's attached partitions merged where they touch, then
  // intersected.
  std::vector<std::pair<int64_t, int64_t>> per[2];
  for (const auto& row :
       tx.exec("SELECT parent = 'sync_events', coalesce(lo_ms, -9223372036854775808)::bigint, "
               "coalesce(hi_ms, 9223372036854775807)::bigint FROM auditq_partitions "
               "WHERE detached_at IS NULL ORDER BY 1, 2")) {
    auto& v = per[row[0].as<bool>() ? 0 : 1];
    const auto lo = row[1].as<int64_t>();
    const auto hi = row[2].as<int64_t>();
    if (!v.empty() && v.back().second == lo) {
      v.back().second = hi;
    } else {
      v.emplace_back(lo, hi);
    }
  }
  impl_->covered.clear();
  for (const auto& a : per[0]) {
    for (const auto& b : per[1]) {
      const int64_t lo = std::max(a.first, b.first);
      const int64_t hi = std::min(a.second, b.second);
      if (lo < hi) {
        impl_->covered.emplace_back(lo, hi);
      }
    }
  }
}

void BatchWriter::ensurePartitions(const pipeline::Batch& batch) {
  const auto within = [&](int64_t lo_ms, int64_t hi_ms) {
    for (const auto& [lo, hi] : impl_->covered) {
      // hi == INT64_MAX: MAXVALUE, which includes INT64_MAX itself
      if (lo <= lo_ms && (hi_ms < hi || hi == INT64_MAX)) {
        return true;
      }
    }
    return false;
  };
  if (within(batch.minEntryMs(), batch.maxEntryMs())) {
    return;
  }
  loadCoverage();
  if (within(batch.minEntryMs(), batch.maxEntryMs())) {
    return;
  }
  auto& c = impl_->conn->impl().conn;
  for (const auto& ids : batch.acks()) {
    for (size_t i = 0; i < ids.size(); ++i) {
      const auto id = core::EntryId::parse(ids.id(i)).value_or(core::EntryId{});
      const auto ms = static_cast<int64_t>(std::min(id.ms, static_cast<uint64_t>(INT64_MAX)));
      if (within(ms, ms)) {
        continue;
      }
      std::vector<std::string> made;
      {
        pqxx::work tx(c);
        tx.exec(fmt::format("SELECT set_config('statement_timeout', '{}', true)",
                            impl_->postgres.statement_timeout_ms));
        for (const char* parent : {"sync_events", "auditq_dead_letters"}) {
          const auto r = tx.exec_params1("SELECT auditq_ensure_partition($1, $2, $3)", parent, ms,
                                         impl_->options.partition_width_ms);
          if (!r[0].is_null()) {
            made.emplace_back(r[0].c_str());
          }
        }
        tx.commit();
      }
      for (const auto& name : made) {
        core::log::info("partition_created", {{"partition", name}, {"on_demand_for", ids.id(i)}});
      }
      loadCoverage();
    }
  }
}

WriteOutcome BatchWriter::write(const pipeline::Batch& batch) {
  WriteOutcome outcome;
  if (!connect(outcome)) {
    return outcome;
  }
  auto& c = impl_->conn->impl().conn;
  std::string& chunk = impl_->chunk;
  const auto started = std::chrono::steady_clock::now();
  try {
    // Optimistic: duplicates only follow a crash or a lost XACK, so COPY straight into
    // sync_events; only when the unique key says some rows are already there, redo the whole
    // transaction with the staged ON CONFLICT path (cheaper than a savepoint on every batch).
    // The rows' digests are computed on a thread of their own while this one writes: the
    // writer mostly waits on PostgreSQL, and the digests are needed only at the end.
    std::shared_future<void> digesting;
    if (impl_->options.digests) {
      digesting = std::async(std::launch::async, [this, &batch] {
                    impl_->digester.digestBatch(batch, impl_->digests);
                  }).share();
    }
    struct Join { // never leave with the digests still being computed over `batch`
      const std::shared_future<void>& f;
      ~Join() {
        if (f.valid()) {
          f.wait();
        }
      }
    } join{digesting};
    bool staged = false;
    for (;;) {
      try {
        mapErrors([&] {
          ensurePartitions(batch);
          writeTransaction(c, batch, staged, impl_->postgres.statement_timeout_ms, impl_->options,
                           digesting, impl_->digests, outcome, chunk, impl_->streams, impl_->last,
                           impl_->arrays);
        });
        break;
      } catch (const RedoStaged&) {
        staged = true; // the transaction was rolled back as `tx` went out of scope
      } catch (const Error& e) {
        if (e.sqlstate() != "23505" || staged) {
          throw;
        }
        staged = true;
      }
    }
    outcome.committed = true;
    outcome.duration_us = std::chrono::duration_cast<std::chrono::microseconds>(
                              std::chrono::steady_clock::now() - started)
                              .count();
    outcome.committed_at_us = core::epochMicros();
  } catch (const Error& e) {
    fail(outcome, e);
    // 25006: a read-only session (a standby, reached by a multi-host URL without
    // target_session_attrs=read-write): the next connection lets libpq choose again.
    if (e.isConnectionLost() || !c.is_open() || e.sqlstate() == "25006") {
      impl_->conn.reset(); // reconnect on the next write
    }
  }
  return outcome;
}

bool BatchWriter::ping(WriteOutcome& outcome) {
  if (!connect(outcome)) {
    return false;
  }
  try {
    impl_->conn->execute("SELECT 1");
    return true;
  } catch (const Error& e) {
    fail(outcome, e);
    if (e.isConnectionLost() || !impl_->conn->impl().conn.is_open()) {
      impl_->conn.reset();
    }
    return false;
  }
}

} // namespace auditq::pg
