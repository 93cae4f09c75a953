// Failure classification: what a database or Redis failure means for the entries it touched.
// Pure: by SQLSTATE class, never by matching error text.
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

} // namespace auditq::pipeline
