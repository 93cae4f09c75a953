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

// Runs `fn`, rethrowing any libpqxx (or std) exception as pg::Error with its SQLSTATE.
template <typename Fn>
auto mapErrors(Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const pqxx::sql_error& e) {
    throw Error(e.what(), e.sqlstate());
  } catch (const pqxx::broken_connection& e) {
    throw Error(std::string("connection lost: ") + e.what(), "");
  } catch (const pqxx::in_doubt_error& e) {
    throw Error(std::string("commit in doubt: ") + e.what(), "");
  } catch (const pqxx::failure& e) {
    throw Error(e.what(), "");
  }
}

} // namespace auditq::pg
