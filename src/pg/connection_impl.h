// Private to pg/: the libpqxx objects behind pg::Connection, and the one place libpqxx
// exceptions become pg::Error.
#pragma once

#include <pqxx/pqxx>
#include <pqxx/tablewriter>

#include <string_view>

#include "core/log.h"
#include "pg/connection.h"

namespace auditq::pg {

// PostgreSQL's notices and warnings (a ROLLBACK with no transaction left, a RAISE in an
// operator's trigger) go to the log as postgres_notice: without a handler, libpq printed them
// raw on stderr, between the JSON lines a log collector parses. (Registering any handler
// replaces libpq's printing; this one logs and stops there.)
class NoticeToLog final : public pqxx::errorhandler {
public:
  explicit NoticeToLog(pqxx::connection_base& c) : pqxx::errorhandler(c) {}
  bool operator()(const char msg[]) noexcept override {
    std::string_view m(msg);
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) {
      m.remove_suffix(1);
    }
    try {
      core::log::info("postgres_notice", {{"message", m}});
    } catch (...) { // nothing may leave a libpq callback
    }
    return false;
  }
};

struct Connection::Impl {
  explicit Impl(const std::string& conninfo) : conn(conninfo), notices(conn) {}
  pqxx::connection conn;
  NoticeToLog notices; // declared after conn: unregisters before conn closes
};

// libpqxx 6.4 throws some of its specific exception classes without the SQLSTATE (42501
// permission denied among them, seen in tests/integration/ops_test.cc): take it back from the
// class, so that such failures are classified by code like every other.
template <typename T>
bool isA(const pqxx::sql_error& e) {
  return dynamic_cast<const T*>(&e) != nullptr;
}

inline std::string sqlstateOf(const pqxx::sql_error& e) {
  if (!e.sqlstate().empty()) {
    return e.sqlstate();
  }
  struct ByClass {
    bool (*matches)(const pqxx::sql_error&);
    const char* sqlstate;
  };
  // Most specific first.
  static constexpr ByClass kByClass[] = {
      {isA<pqxx::insufficient_privilege>, "42501"},
      {isA<pqxx::undefined_table>, "42P01"},
      {isA<pqxx::undefined_column>, "42703"},
      {isA<pqxx::undefined_function>, "42883"},
      {isA<pqxx::syntax_error>, "42601"},
      {isA<pqxx::disk_full>, "53100"},
      {isA<pqxx::out_of_memory>, "53200"},
      {isA<pqxx::insufficient_resources>, "53000"},
      {isA<pqxx::unique_violation>, "23505"},
      {isA<pqxx::check_violation>, "23514"},
      {isA<pqxx::not_null_violation>, "23502"},
      {isA<pqxx::foreign_key_violation>, "23503"},
      {isA<pqxx::integrity_constraint_violation>, "23000"},
      {isA<pqxx::data_exception>, "22000"},
      {isA<pqxx::feature_not_supported>, "0A000"},
  };
  for (const auto& c : kByClass) {
    if (c.matches(e)) {
      return c.sqlstate;
    }
  }
  return "";
}

// Runs `fn`, rethrowing any libpqxx (or std) exception as pg::Error with its SQLSTATE.
template <typename Fn>
auto mapErrors(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const pqxx::sql_error& e) {
    throw Error(e.what(), sqlstateOf(e));
  } catch (const pqxx::serialization_failure& e) {
    throw Error(e.what(), "40001");
  } catch (const pqxx::deadlock_detected& e) {
    throw Error(e.what(), "40P01");
  } catch (const pqxx::transaction_rollback& e) {
    throw Error(e.what(), "40000");
  } catch (const pqxx::broken_connection& e) {
    throw Error(std::string("connection lost: ") + e.what(), "");
  } catch (const pqxx::in_doubt_error& e) {
    throw Error(std::string("commit in doubt: ") + e.what(), "");
  } catch (const pqxx::failure& e) {
    throw Error(e.what(), "");
  }
}

} // namespace auditq::pg
