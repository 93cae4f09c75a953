// A PostgreSQL connection (libpqxx behind a private impl, so nothing outside pg/ sees libpqxx)
// and the error type every pg/ function throws or returns instead of libpqxx's exceptions.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include "config/config.h"

namespace auditq::pg {

// A database failure mapped once from libpqxx. `sqlstate` is the five-character code, or empty
// when the failure happened outside SQL (connection refused or lost).
class Error : public std::runtime_error {
public:
  Error(const std::string& message, std::string sqlstate)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }
  // True for connection-level failures (no SQLSTATE, or class 08).
  bool isConnectionLost() const { return sqlstate_.empty() || sqlstate_.starts_with("08"); }

private:
  std::string sqlstate_;
};

class Connection {
public:
  struct Impl;

  // Connects with the configured URL, connect timeout, application name and TLS mode.
  // Throws Error (with the password masked in its message).
  static std::unique_ptr<Connection> open(const config::PostgresConfig& postgres);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // "host:port/dbname" of the server, for messages.
  std::string describe() const;
  // Runs SQL that returns nothing (several statements allowed) outside any explicit
  // transaction. Throws Error.
  void execute(const std::string& sql);

  Impl& impl() { return *impl_; }

private:
  explicit Connection(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

} // namespace auditq::pg
