// Private to pg/: the libpqxx objects behind pg::Connection, and the one place libpqxx
// exceptions become pg::Error.
#pragma once

#include <pqxx/pqxx>
#include <pqxx/tablewriter>

#include "pg/connection.h"

namespace auditq::pg {

struct Connection::Impl {
  explicit Impl(const std::string& conninfo) : conn(conninfo) {}
  pqxx::connection conn;
};

// libpqxx 6.4 throws some of its specific exception classes without the SQLSTATE (42501
// permission denied among them, seen in tests/integration/ops_test.cc): take it back from the
// class, so that such failures are classified by code like every other.
inline std::string sqlstateOf(const pqxx::sql_error& e) {
  if (!e.sqlstate().empty()) {
    return e.sqlstate();
  }
  const pqxx::sql_error* p = &e;
  if (dynamic_cast<const pqxx::insufficient_privilege*>(p)) return "42501";
  if (dynamic_cast<const pqxx::undefined_table*>(p)) return "42P01";
  if (dynamic_cast<const pqxx::undefined_column*>(p)) return "42703";
  if (dynamic_cast<const pqxx::undefined_function*>(p)) return "42883";
  if (dynamic_cast<const pqxx::syntax_error*>(p)) return "42601";
  if (dynamic_cast<const pqxx::disk_full*>(p)) return "53100";
  if (dynamic_cast<const pqxx::out_of_memory*>(p)) return "53200";
  if (dynamic_cast<const pqxx::insufficient_resources*>(p)) return "53000";
  if (dynamic_cast<const pqxx::unique_violation*>(p)) return "23505";
  if (dynamic_cast<const pqxx::check_violation*>(p)) return "23514";
  if (dynamic_cast<const pqxx::not_null_violation*>(p)) return "23502";
  if (dynamic_cast<const pqxx::foreign_key_violation*>(p)) return "23503";
  if (dynamic_cast<const pqxx::integrity_constraint_violation*>(p)) return "23000";
  if (dynamic_cast<const pqxx::data_exception*>(p)) return "22000";
  if (dynamic_cast<const pqxx::feature_not_supported*>(p)) return "0A000";
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
