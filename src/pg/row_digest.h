// The digest of a batch's sync_events rows as `auditq verify` recomputes it from the stored rows:
// one SQL aggregate over rows `e`. The writers compute the same in auditq from the values they
// write (pipeline/row_digest.h, Batch::rowDigests); tests hold the two together.
//
// Each row's canonical text: every column but batch_id, in a fixed order, separated by 0x1f,
// NULL as \N, the time as microseconds since the epoch (independent of TimeZone and DateStyle),
// jsonb in PostgreSQL's own normalised text. rows_digest = SHA-256 of the rows' SHA-256s in
// (stream bytewise, entry_ms, entry_seq) order.
#pragma once

namespace auditq::pg {

// clang-format off
#define AUDITQ_ROW_CANON(e)                                                                        \
  "concat_ws(E'\\x1f', coalesce(" e ".stream, '\\N'), " e ".entry_ms::text, "                      \
  "coalesce(" e ".entry_seq::text, '\\N'), coalesce(" e ".entry_id, '\\N'), " e ".id::text, "      \
  e ".session_id::text, " e ".event_type, coalesce(" e ".participant_id::text, '\\N'), "           \
  "coalesce(" e ".group_id::text, '\\N'), coalesce(" e ".time_remaining_ms::text, '\\N'), "        \
  "coalesce(" e ".time_elapsed_ms::text, '\\N'), coalesce(" e ".cycle_number::text, '\\N'), "      \
  "(extract(epoch FROM " e ".\"timestamp\") * 1000000)::bigint::text, "                            \
  "coalesce(" e ".state_snapshot::text, '\\N'), coalesce(" e ".metadata::text, '\\N'), "           \
  "coalesce(" e ".version::text, '\\N'))"
// clang-format on

// The aggregate over rows aliased `e`, a bytea (a string literal, to splice into statements).
#define AUDITQ_ROWS_DIGEST                                                                         \
  "sha256(coalesce(string_agg(sha256(convert_to(" AUDITQ_ROW_CANON(                                \
      "e") ", 'UTF8')), ''::bytea "                                                                \
           "ORDER BY e.stream COLLATE \"C\", e.entry_ms, e.entry_seq), ''::bytea))"

} // namespace auditq::pg
