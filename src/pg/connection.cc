// Opening PostgreSQL connections.
#include "pg/connection.h"

#include <fmt/format.h>

#include "config/url.h"
#include "pg/connection_impl.h"

namespace auditq::pg {

Connection::Connection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Connection::~Connection() = default;

std::unique_ptr<Connection> Connection::open(const config::PostgresConfig& postgres) {
  const std::string conninfo = config::postgresConnectionString(postgres);
  try {
    return std::unique_ptr<Connection>(new Connection(std::make_unique<Impl>(conninfo)));
  } catch (const std::exception& e) {
    // libpq's message may quote the connection string; never let a password through.
    std::string message = e.what();
    std::string error;
    if (auto url = config::parseUrl(postgres.url, error);
        url && url->has_password && !url->password.empty()) {
      for (auto pos = message.find(url->password); pos != std::string::npos;
           pos = message.find(url->password)) {
        message.replace(pos, url->password.size(), "****");
      }
    }
    while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) {
      message.pop_back();
    }
    throw Error(fmt::format("cannot connect to PostgreSQL at {}: {}", config::maskUrl(postgres.url),
                            message),
                "");
  }
}

std::string Connection::describe() const {
  auto& c = impl_->conn;
  const char* host = c.hostname();
  return fmt::format("{}:{}/{}", host != nullptr ? host : "", c.port() != nullptr ? c.port() : "",
                     c.dbname() != nullptr ? c.dbname() : "");
}

void Connection::execute(const std::string& sql) {
  mapErrors([&] {
    pqxx::nontransaction tx(impl_->conn);
    tx.exec(sql);
  });
}

} // namespace auditq::pg
