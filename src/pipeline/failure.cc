// SQLSTATE classification.
#include "pipeline/failure.h"

#include "pipeline/circuit_breaker.h"

namespace auditq::pipeline {

std::string_view failureClassName(FailureClass c) {
  switch (c) {
  case FailureClass::Transient:
    return "transient";
  case FailureClass::RowRejected:
    return "row_rejected";
  case FailureClass::NeedsOperator:
    return "needs_operator";
  }
  return "unknown";
}

FailureClass classifySqlstate(std::string_view sqlstate) {
  if (sqlstate.size() != 5) {
    return FailureClass::Transient; // no SQLSTATE: the connection failed, not the statement
  }
  const std::string_view cls = sqlstate.substr(0, 2);
  if (cls == "22" || cls == "23" || cls == "54") {
    // 22 data exception, 23 integrity constraint, 54 program limit (a row too big to index, a
    // document too deeply nested): the same rows fail the same way, other rows would not.
    return FailureClass::RowRejected;
  }
  if (cls == "08" || cls == "53" || cls == "57" || cls == "58" || cls == "40" || cls == "55" ||
      cls == "25" || cls == "XX") {
    // 08 connection, 53 resources, 57 operator intervention (shutdown, cancel, 57P01-57P03),
    // 58 system I/O, 40 rollbacks (40001 serialization, 40P01 deadlock), 55 lock not available,
    // 25 transaction state (25P02 in failed transaction after a lost statement), XX internal:
    // none is a property of the rows, so the same batch may succeed on retry.
    return FailureClass::Transient;
  }
  // 42 (undefined table/column: not migrated), 28 (authentication), 3D (no database), 0A, and
  // everything else: retrying the same statement fails the same way until someone acts.
  return FailureClass::NeedsOperator;
}

std::string_view breakerStateName(CircuitBreaker::State state) {
  switch (state) {
  case CircuitBreaker::State::Closed:
    return "closed";
  case CircuitBreaker::State::Open:
    return "open";
  case CircuitBreaker::State::HalfOpen:
    return "half_open";
  }
  return "unknown";
}

FailureClass classifyRedisError(std::string_view error, std::string_view& code) {
  static constexpr std::string_view kOperatorCodes[] = {"NOPERM",    "WRONGPASS", "NOAUTH",
                                                        "WRONGTYPE", "READONLY",  "MISCONF"};
  // A reply's code is its first word; auditq puts the reply after "<what>: ", so a code is a
  // whole word at the start or after ": ".
  for (auto c : kOperatorCodes) {
    for (size_t at = error.find(c); at != std::string_view::npos; at = error.find(c, at + 1)) {
      const bool starts = at == 0 || (at >= 2 && error.substr(at - 2, 2) == ": ");
      const size_t end = at + c.size();
      const bool ends = end == error.size() || error[end] == ' ';
      if (starts && ends) {
        code = c;
        return FailureClass::NeedsOperator;
      }
    }
  }
  code = {};
  return FailureClass::Transient;
}

} // namespace auditq::pipeline
