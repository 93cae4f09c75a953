// Failure classification: what a database or Redis failure means for the entries it touched.
// Pure: by SQLSTATE class, or by the code word a Redis error reply starts with.
#pragma once

#include <string_view>

namespace auditq::pipeline {

enum class FailureClass {
  Transient,     // passes by itself (connection, serialization, resources, shutdown): retry
  RowRejected,   // the data itself is refused (SQLSTATE 22, 23): isolate and dead-letter
  NeedsOperator, // schema or permissions wrong (42, 28, ...): keep pending, retry slowly, alert
};

std::string_view failureClassName(FailureClass c);

// Maps a five-character SQLSTATE (empty: no SQL error, e.g. the connection dropped).
FailureClass classifySqlstate(std::string_view sqlstate);

// A Redis failure as auditq reports it ("AUTH refused: WRONGPASS ...", "XREADGROUP: NOPERM
// ..."): NeedsOperator when it carries the code of a reply only an operator can fix (NOPERM,
// WRONGPASS, NOAUTH: the ACL user or its password; WRONGTYPE: a stream name taken by another
// key; READONLY: a replica; MISCONF: persistence broken), else Transient (connection lost,
// timeouts, LOADING, BUSY...). `code` gets the operator code found, if any.
FailureClass classifyRedisError(std::string_view error, std::string_view& code);

} // namespace auditq::pipeline
