// Running it for real, on a private stack (it stops PostgreSQL and turns TLS on): the HTTP
// endpoints and the Prometheus text, readiness following PostgreSQL, systemd's READY/WATCHDOG/
// STOPPING over a real notify socket, the append-only writer role, PostgreSQL TLS with
// verify-full against a throwaway CA, a Redis ACL user holding exactly the documented commands,
// and secrets kept out of logs, metrics, /readyz and check-config.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "http/client.h"
#include "integration/notify_socket.h"
#include "integration/pipeline_support.h"
#include "integration/private_stack.h"
#include "prometheus_check.h"

namespace auditq::test {
namespace {

using namespace std::chrono_literals;

class Ops : public PipelineFixture {
protected:
  static void SetUpTestSuite() { private_stack::start(); }
  static void TearDownTestSuite() { private_stack::stop(); }
};

TEST_F(Ops, EndpointsServeHealthReadinessAndParseableMetrics) {
  auto daemon = startWithHttp({{"AUDITQ_LOG_FORMAT", "json"}});
  ASSERT_TRUE(waitStatus("/readyz", 200, 15s)) << daemon->stderrText();
  constexpr int kGood = 20;
  for (int i = 0; i < kGood; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  xadd({"type", "session_updated", "session_id", "not-a-uuid", "ts", "1700000000000"});
  xadd({"type", "session_updated", "session_id", "nope", "ts", "1700000000000"});
  ASSERT_TRUE(waitFor([&] { return events() == kGood && pending() == 0; })) << daemon->stderrText();

  const auto health = get("/healthz");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(health.body, "ok\n");
  const auto ready = get("/readyz");
  EXPECT_EQ(ready.status, 200u);
  EXPECT_EQ(ready.content_type, "application/json");
  EXPECT_NE(ready.body.find(R"("ready":true)"), std::string::npos) << ready.body;
  EXPECT_EQ(get("/nothing-here").status, 404u);

  // Group pending and lag are sampled every 200 ms: wait for a sample after the commit.
  ParsedMetrics m;
  const std::string s = fmt::format(R"({{stream="{}"}})", stream_);
  ASSERT_TRUE(waitFor(
      [&] {
        const auto r = get("/metrics");
        m = parsePrometheus(r.body);
        return r.status == 200 && m.value("auditq_consumer_group_pending" + s) == 0 &&
               m.value("auditq_consumer_group_lag" + s) == 0;
      },
      10s));
  const auto r = get("/metrics");
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  m = parsePrometheus(r.body);
  ASSERT_TRUE(m.problems.empty()) << m.problems.front() << "\n" << r.body;
  EXPECT_EQ(m.value("auditq_entries_read_total" + s), kGood + 2);
  EXPECT_EQ(m.value("auditq_entries_committed_total" + s), kGood);
  EXPECT_EQ(m.value(fmt::format(
                R"(auditq_entries_dead_lettered_total{{stream="{}",reason="bad_uuid"}})", stream_)),
            2);
  EXPECT_EQ(m.value(fmt::format(
                R"(auditq_entries_dead_lettered_total{{stream="{}",reason="bad_json"}})", stream_)),
            0);
  const double batches = m.value("auditq_batches_total");
  EXPECT_GE(batches, 1);
  EXPECT_EQ(m.value("auditq_batch_entries_count"), batches);
  EXPECT_EQ(m.value("auditq_batch_entries_sum"), kGood + 2);
  EXPECT_EQ(m.value("auditq_commit_duration_seconds_count"), batches);
  EXPECT_EQ(m.value("auditq_end_to_end_latency_seconds_count"), kGood + 2);
  EXPECT_EQ(m.types.at("auditq_end_to_end_latency_seconds"), "histogram");
  const double newest = m.value("auditq_last_committed_entry_timestamp_seconds" + s);
  const double now =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(newest, now, 60);
  EXPECT_GE(m.value("auditq_end_to_end_lag_seconds" + s), 0);
  EXPECT_EQ(m.value("auditq_ready"), 1);
  EXPECT_EQ(m.value(R"(auditq_postgres_breaker_state{state="closed"})"), 1);
  EXPECT_EQ(m.value(R"(auditq_postgres_breaker_state{state="open"})"), 0);
  EXPECT_GE(m.value("auditq_postgres_connections_total"), 1);
  EXPECT_EQ(m.value("auditq_redis_reconnects_total"), 0);
  EXPECT_GT(m.value("process_resident_memory_bytes"), 1e6);
  EXPECT_EQ(m.value(R"(auditq_build_info{version="0.1.0"})"), 1);
  // Prometheus's own checker and linter on the same live text; and every metric and label the
  // shipped dashboard and alerting rules name is one this text has.
  const std::string live = writeTempFile(r.body, ".prom");
  const auto promtool = runProcess({"/bin/sh", "-c", "promtool check metrics < " + live});
  EXPECT_EQ(promtool.exit_code, 0) << "promtool check metrics: " << promtool.out << promtool.err;
  const std::string src = AUDITQ_SOURCE_DIR;
  const auto queries =
      runProcess({src + "/tests/prometheus/check_queries.py", "--metrics", live,
                  src + "/docs/grafana/auditq.json", src + "/docs/prometheus/alerts.yaml"});
  EXPECT_EQ(queries.exit_code, 0) << queries.out << queries.err;
  std::filesystem::remove(live);

  // `auditq healthcheck` (the container's HEALTHCHECK) reads the same endpoints.
  const std::map<std::string, std::string> at = {
      {"AUDITQ_HTTP_LISTEN", fmt::format("127.0.0.1:{}", port_)}};
  const auto hc = runAuditq({"healthcheck"}, at);
  EXPECT_EQ(hc.exit_code, 0) << hc.err;
  EXPECT_EQ(hc.out, "ok\n");
  EXPECT_EQ(runAuditq({"healthcheck", "--ready"}, at).exit_code, 0);
  stopDaemon(*daemon);
  // log.format json: every line one JSON object with the timestamp, level and event.
  std::istringstream lines(daemon->stderrText());
  int parsed = 0;
  for (std::string line; std::getline(lines, line); ++parsed) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    EXPECT_TRUE(j.contains("ts") && j.contains("level") && j.contains("event")) << line;
  }
  EXPECT_GE(parsed, 4); // starting, listening, connected, ready, stopped...
  const auto gone = runAuditq({"healthcheck"}, at);
  EXPECT_EQ(gone.exit_code, 1);
  EXPECT_NE(gone.err.find("no answer"), std::string::npos) << gone.err;
  EXPECT_EQ(runAuditq({"healthcheck"}, {{"AUDITQ_HTTP_LISTEN", ""}}).exit_code, 2);
}

TEST_F(Ops, PostgresWarningsAreLogLinesNotRawStderr) {
  // An operator's trigger that RAISEs a WARNING on every insert: libpq's default would print it
  // raw on stderr, between the JSON lines.
  db_.scalar("CREATE FUNCTION warn_on_insert() RETURNS trigger LANGUAGE plpgsql AS "
             "$$BEGIN RAISE WARNING 'audit rows arrived'; RETURN NULL; END$$");
  db_.scalar("CREATE TRIGGER warn_on_insert AFTER INSERT ON sync_events "
             "FOR EACH STATEMENT EXECUTE FUNCTION warn_on_insert()");
  createGroup();
  xadd(entryWithState(newUuid(), 1));
  auto daemon = startDaemon({{"AUDITQ_LOG_FORMAT", "json"}});
  ASSERT_TRUE(waitFor([&] { return events() == 1 && pending() == 0; })) << daemon->stderrText();
  stopDaemon(*daemon);
  std::istringstream lines(daemon->stderrText());
  int notices = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(j.is_object()) << line;
    if (j.value("event", "") == "postgres_notice") {
      ++notices;
      EXPECT_NE(j.value("message", "").find("audit rows arrived"), std::string::npos) << line;
    }
  }
  EXPECT_GE(notices, 1) << daemon->stderrText();
}

TEST_F(Ops, StatusShowsEachStreamAndExitsOneWhenSomethingNeedsAttention) {
  auto daemon = startWithHttp();
  ASSERT_TRUE(waitStatus("/readyz", 200, 15s)) << daemon->stderrText();
  constexpr int kGood = 30;
  for (int i = 0; i < kGood; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  ASSERT_TRUE(waitFor([&] { return events() == kGood && pending() == 0; })) << daemon->stderrText();
  const std::string listen = fmt::format("127.0.0.1:{}", port_);
  auto status = [&](std::vector<std::string> args, std::map<std::string, std::string> extra = {}) {
    extra.emplace("AUDITQ_HTTP_LISTEN", listen);
    args.insert(args.begin(), "status");
    return runAuditq(args, daemonEnv(extra));
  };
  // Healthy: exit 0, and the figures are the stream's and the group's.
  auto st = status({"--json"});
  auto j = nlohmann::json::parse(st.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << st.out << st.err;
  EXPECT_EQ(st.exit_code, 0) << st.out;
  EXPECT_EQ(j["healthy"], true);
  ASSERT_EQ(j["streams"].size(), 1u);
  const auto& s = j["streams"][0];
  EXPECT_EQ(s["name"], stream_);
  EXPECT_EQ(s["entries"], kGood);
  EXPECT_EQ(s["group_exists"], true);
  EXPECT_EQ(s["lag"], 0);
  EXPECT_EQ(s["pending"], 0);
  ASSERT_EQ(s["consumers"].size(), 1u);
  EXPECT_EQ(s["consumers"][0]["pending"], 0);
  auto newest = redis_->command({"XREVRANGE", stream_, "+", "-", "COUNT", "1"});
  EXPECT_EQ(s["newest_committed"], std::string(newest->element[0]->element[0]->str));
  EXPECT_EQ(j["daemon"]["ready"], true);
  EXPECT_EQ(j["daemon"]["breaker"], "closed");
  const auto text = status({});
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find(stream_), std::string::npos) << text.out;

  // A dead letter: exit 1, saying which reason and where to look.
  xadd({"type", "session_updated", "session_id", "nope", "ts", "1700000000000"});
  ASSERT_TRUE(waitFor([&] {
    return count("SELECT count(*) FROM auditq_dead_letters WHERE stream = '" + stream_ + "'") ==
               1 &&
           pending() == 0;
  }));
  st = status({"--json"});
  j = nlohmann::json::parse(st.out, nullptr, false);
  EXPECT_EQ(st.exit_code, 1) << st.out;
  EXPECT_EQ(j["streams"][0]["dead_letters_last_hour"]["bad_uuid"], 1) << st.out;
  ASSERT_EQ(j["attention"].size(), 1u) << st.out;
  EXPECT_NE(j["attention"][0].get<std::string>().find("auditq dlq list"), std::string::npos);

  // The daemon gone and entries waiting in a stream with no group: each said, exit 1.
  stopDaemon(*daemon);
  const std::string other = stream_ + ":other";
  redis_->command({"XADD", other, "*", "type", "session_updated"});
  st = status({"--json"}, {{"AUDITQ_CONSUMER_STREAMS", stream_ + "," + other}});
  j = nlohmann::json::parse(st.out, nullptr, false);
  EXPECT_EQ(st.exit_code, 1);
  std::string all;
  for (const auto& a : j["attention"]) {
    all += a.get<std::string>() + "\n";
  }
  EXPECT_NE(all.find("no daemon answers at http.listen " + listen), std::string::npos) << all;
  EXPECT_NE(all.find(other + ": no consumer group"), std::string::npos) << all;
  EXPECT_EQ(j["streams"][1]["entries"], 1);
  // Servers that cannot be reached: said, exit 1, and still one JSON object.
  st = status({"--json", "--no-daemon"}, {{"REDIS_URL", "redis://127.0.0.1:1/0"}});
  j = nlohmann::json::parse(st.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << st.out << st.err;
  EXPECT_EQ(st.exit_code, 1);
  EXPECT_EQ(j["redis"]["readable"], false);
  EXPECT_EQ(j["postgres"]["readable"], true);
  // A Redis user refused XINFO: the refusal is said, not read as "no consumer group".
  ASSERT_EQ(
      redis_->command({"ACL", "SETUSER", "noxinfo", "on", ">noxinfo-pw", "~*", "+@all", "-xinfo"})
          ->type,
      REDIS_REPLY_STATUS);
  std::string url = redisUrl();
  url.insert(url.find("://") + 3, "noxinfo:noxinfo-pw@");
  st = status({"--json", "--no-daemon"}, {{"REDIS_URL", url}});
  j = nlohmann::json::parse(st.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << st.out << st.err;
  EXPECT_EQ(st.exit_code, 1);
  EXPECT_EQ(j["redis"]["readable"], false) << st.out;
  EXPECT_NE(st.out.find("NOPERM"), std::string::npos) << st.out;
  EXPECT_EQ(st.out.find("no consumer group"), std::string::npos) << st.out;
  redis_->command({"ACL", "DELUSER", "noxinfo"});
}

TEST_F(Ops, AListenAddressInUseIsAClearStartupFailure) {
  auto first = startWithHttp();
  ASSERT_NE(port_, 0);
  const auto second =
      runAuditq({"run"},
                daemonEnv({{"AUDITQ_HTTP_LISTEN", fmt::format("127.0.0.1:{}", port_)},
                           {"AUDITQ_CONSUMER_NAME", consumer_ + "-2"}}),
                20s);
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("http_listen_failed"), std::string::npos) << second.err;
  EXPECT_NE(second.err.find("http.listen"), std::string::npos) << second.err;
  stopDaemon(*first);
}

TEST_F(Ops, ReadinessAndSystemdFollowPostgres) {
  NotifySocket notify;
  std::vector<std::string> seen;
  // The URL carries a password (trust auth ignores it): it must show up nowhere.
  const std::string secret = "pg-secret-" + uniqueName("pw");
  std::string url = db_.url();
  url.insert(url.find('@'), ":" + secret);
  private_stack::run({"stop-pg", "fast"});
  auto daemon = startWithHttp(
      {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "1000000"}, {"DATABASE_URL", url}});
  // Redis is there, PostgreSQL is not: the watchdog is fed, READY=1 is not sent, not ready.
  const auto early = notify.receive(2500ms);
  EXPECT_GE(countContaining(early, "WATCHDOG=1"), 3u);
  EXPECT_EQ(countContaining(early, "READY=1"), 0u);
  auto not_ready = get("/readyz");
  EXPECT_EQ(not_ready.status, 503u);
  EXPECT_NE(not_ready.body.find("postgres_failing"), std::string::npos) << not_ready.body;
  EXPECT_NE(not_ready.body.find(R"("ready":false)"), std::string::npos) << not_ready.body;
  EXPECT_EQ(parsePrometheus(get("/metrics").body).value("auditq_ready"), 0);

  private_stack::run({"start-pg"});
  EXPECT_TRUE(notify.waitFor("READY=1", 15s, seen)) << daemon->stderrText();
  EXPECT_TRUE(waitStatus("/readyz", 200, 10s)) << get("/readyz").body;

  // PostgreSQL goes away while nothing is written: the idle writers' pings notice.
  private_stack::run({"stop-pg", "fast"});
  EXPECT_TRUE(waitStatus("/readyz", 503, 10s)) << get("/readyz").body;
  const auto m = parsePrometheus(get("/metrics").body);
  EXPECT_EQ(m.value("auditq_postgres_reachable"), 0);
  const auto readyz = get("/readyz").body;
  private_stack::run({"start-pg"});
  EXPECT_TRUE(waitStatus("/readyz", 200, 15s)) << get("/readyz").body;
  const auto m2 = parsePrometheus(get("/metrics").body);
  EXPECT_GE(m2.value("auditq_postgres_reconnects_total"), 1);
  const auto metrics = get("/metrics").body;

  daemon->signal(SIGTERM);
  EXPECT_TRUE(notify.waitFor("STOPPING=1", 10s, seen));
  EXPECT_EQ(daemon->wait(30s), 0) << daemon->stderrText();
  const auto err = daemon->stderrText();
  EXPECT_NE(err.find("postgres_unreachable"), std::string::npos) << err;
  EXPECT_NE(err.find("postgres_reachable"), std::string::npos) << err;
  for (const auto* text : {&err, &readyz, &metrics}) {
    EXPECT_EQ(text->find(secret), std::string::npos) << *text;
  }
  const auto check = runAuditq({"check-config"}, {{"DATABASE_URL", url}});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_EQ(check.out.find(secret), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("postgres.url"), std::string::npos) << check.out;
}

TEST_F(Ops, TheWriterRoleAppendsButCannotRewriteTheAuditTrail) {
  const std::string role = uniqueName("writer");
  db_.scalar(fmt::format("CREATE ROLE {} LOGIN IN ROLE auditq_writer", role));
  std::string url = db_.url();
  url.replace(url.find("://") + 3, url.find('@') - url.find("://") - 3, role);
  const std::string session = newUuid();
  xadd(entryWithState(session, 1));
  xadd(entryWithState(session, 2));
  xadd({"type", "session_deleted", "session_id", newUuid(), "ts", "1700000000000"});
  xadd({"type", "session_updated", "session_id", "bad", "ts", "1700000000000"});
  auto daemon = startDaemon({{"DATABASE_URL", url}});
  ASSERT_TRUE(waitFor([&] { return events() == 3 && pending() == 0; })) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(count("SELECT count(*) FROM auditq_dead_letters"), 1);
  EXPECT_EQ(
      count(fmt::format("SELECT max(version) FROM sync_sessions WHERE session_id = '{}'", session)),
      2);

  auto as_writer = std::make_unique<pqxx::connection>(url);
  for (const char* sql :
       {"UPDATE sync_events SET event_type = 'forged'", "DELETE FROM sync_events",
        "TRUNCATE sync_events", "DELETE FROM auditq_dead_letters", "DROP TABLE sync_events",
        "UPDATE auditq_dead_letters SET reason = 'x'"}) {
    pqxx::nontransaction tx(*as_writer);
    try {
      tx.exec(sql);
      ADD_FAILURE() << "the writer role may not: " << sql;
    } catch (const pqxx::insufficient_privilege& e) {
      // 42501 (libpqxx 6.4 leaves sqlstate() empty for this class).
      SUCCEED() << e.what();
    }
  }
  EXPECT_EQ(events(), 3);
  // What operators run with the daemon's credentials works too.
  const std::map<std::string, std::string> env = {{"DATABASE_URL", url}, {"REDIS_URL", redisUrl()}};
  const auto list = runAuditq({"dlq", "list"}, env);
  EXPECT_EQ(list.exit_code, 0) << list.err;
  const auto replay = runAuditq({"dlq", "replay", "--all"}, env);
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  const auto recover = runAuditq({"--recover", "--dry-run", "--all"}, env);
  EXPECT_EQ(recover.exit_code, 0) << recover.err;
  const auto status = runAuditq({"migrate", "status"}, env);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  as_writer.reset();

  // A login role without auditq_writer: permission denied is an operator's problem (logged at
  // error, by SQLSTATE), never a reason to drop or dead-letter the entries.
  const std::string outsider = uniqueName("outsider");
  db_.scalar(fmt::format("CREATE ROLE {} LOGIN", outsider));
  std::string outsider_url = db_.url();
  outsider_url.replace(outsider_url.find("://") + 3,
                       outsider_url.find('@') - outsider_url.find("://") - 3, outsider);
  xadd(entryWithState(newUuid(), 1));
  auto refused =
      startDaemon({{"DATABASE_URL", outsider_url}, {"AUDITQ_SHUTDOWN_TIMEOUT_MS", "1000"}});
  EXPECT_TRUE(waitFor(
      [&] {
        const auto err = refused->stderrText();
        return err.find("postgres_write_failed") != std::string::npos;
      },
      15s))
      << refused->stderrText();
  const auto err = refused->stderrText();
  EXPECT_NE(err.find("class=needs_operator sqlstate=42501"), std::string::npos) << err;
  EXPECT_EQ(pending(), 2); // the new entry, and the dead letter replayed above
  refused->signal(SIGTERM);
  EXPECT_EQ(refused->wait(20s), 1); // the shutdown timed out with the batch still uncommitted
  EXPECT_EQ(pending(), 2);
  EXPECT_EQ(events(), 3);
  db_.scalar(fmt::format("DROP ROLE {}", outsider));
  db_.scalar(fmt::format("DROP OWNED BY {}; DROP ROLE {}", role, role));
}

// openssl in a shell: a throwaway CA and a server certificate for DNS:localhost only.
void makeCertificates(const std::string& dir, const std::string& name) {
  const auto r = runProcess(
      {"/bin/sh", "-ec",
       fmt::format("cd {0}; "
                   "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN={1}-ca "
                   "  -keyout {1}-ca.key -out {1}-ca.crt 2>/dev/null; "
                   "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost "
                   "  -keyout {1}.key -out {1}.csr 2>/dev/null; "
                   "printf 'subjectAltName=DNS:localhost\\n' > {1}.ext; "
                   "openssl x509 -req -in {1}.csr -CA {1}-ca.crt -CAkey {1}-ca.key "
                   "  -CAcreateserial -days 2 -extfile {1}.ext -out {1}.crt 2>/dev/null; "
                   "chmod 600 {1}.key",
                   dir, name)},
      {}, 60s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(Ops, PostgresTlsWithVerifyFull) {
  char dir_template[] = "/tmp/auditq-tls-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  makeCertificates(dir, "server");
  makeCertificates(dir, "other"); // another CA, that did not sign the server's certificate
  if (getuid() == 0) {
    // The server runs as postgres and must own its key.
    ASSERT_EQ(runProcess({"/bin/chown", "-R", "postgres", dir}).exit_code, 0);
    ASSERT_EQ(runProcess({"/bin/chmod", "755", dir}).exit_code, 0);
  }
  auto admin = pqxx::connection(adminPgUrl());
  {
    pqxx::nontransaction tx(admin);
    tx.exec(fmt::format("ALTER SYSTEM SET ssl_cert_file = '{}/server.crt'", dir));
    tx.exec(fmt::format("ALTER SYSTEM SET ssl_key_file = '{}/server.key'", dir));
    tx.exec("ALTER SYSTEM SET ssl = on");
    tx.exec("SELECT pg_reload_conf()");
  }
  // postgresql://postgres@127.0.0.1:<port>/<db> -> the same through "localhost" with TLS.
  const std::string url = db_.url();
  const auto host_at = url.find("127.0.0.1");
  ASSERT_NE(host_at, std::string::npos) << url;
  // `auditq check-config --connect` through `host` with sslmode `mode` and the CA `ca`.
  auto connect = [&](const std::string& host, const std::string& mode, const std::string& ca) {
    std::string u = url;
    u.replace(host_at, 9, host);
    u += fmt::format("?sslmode={}&sslrootcert={}/{}-ca.crt", mode, dir, ca);
    return std::make_pair(u, runAuditq({"check-config", "--connect"},
                                       {{"DATABASE_URL", u}, {"REDIS_URL", redisUrl()}}));
  };
  ASSERT_TRUE(waitFor(
      [&] { return connect("localhost", "verify-full", "server").second.exit_code == 0; }, 10s));

  // The daemon's connections really are encrypted.
  const auto good = connect("localhost", "verify-full", "server").first;
  auto daemon =
      startDaemon({{"DATABASE_URL", good}, {"AUDITQ_POSTGRES_APPLICATION_NAME", "auditq-tls"}});
  xadd(entryWithState(newUuid(), 1));
  ASSERT_TRUE(waitFor([&] { return events() == 1 && pending() == 0; })) << daemon->stderrText();
  EXPECT_EQ(db_.scalar("SELECT bool_and(s.ssl)::text || count(*) FROM pg_stat_ssl s JOIN "
                       "pg_stat_activity a USING (pid) WHERE a.application_name = 'auditq-tls'"),
            "true3"); // postgres.writers = 2, and the control connection (group positions)
  stopDaemon(*daemon);

  // A certificate from another CA, or a name the certificate does not carry: refused.
  const auto wrong_ca = connect("localhost", "verify-full", "other").second;
  EXPECT_EQ(wrong_ca.exit_code, 1);
  EXPECT_NE(wrong_ca.out.find("certificate verify failed"), std::string::npos) << wrong_ca.out;
  const auto wrong_name = connect("127.0.0.1", "verify-full", "server").second;
  EXPECT_EQ(wrong_name.exit_code, 1);
  EXPECT_NE(wrong_name.out.find("does not match host name"), std::string::npos) << wrong_name.out;
  // verify-ca checks the chain but not the name.
  EXPECT_EQ(connect("127.0.0.1", "verify-ca", "server").second.exit_code, 0);
}

// The ACL rule documented in config/redis-acl.conf for `name` (auditq, auditq-tools), with
// the given password.
std::vector<std::string> documentedAcl(const std::string& name, const std::string& password) {
  std::ifstream in(std::string(AUDITQ_SOURCE_DIR) + "/config/redis-acl.conf");
  std::string line;
  std::vector<std::string> rules;
  while (std::getline(in, line)) {
    if (line.rfind("user " + name + " ", 0) != 0) {
      continue;
    }
    std::istringstream words(line);
    std::string word;
    words >> word >> word; // "user auditq"
    while (words >> word) {
      rules.push_back(word.rfind('>', 0) == 0 ? ">" + password : word);
    }
  }
  return rules;
}

TEST_F(Ops, ARedisAclUserWithTheDocumentedCommandsIsEnough) {
  const auto rules = documentedAcl("auditq", "acl-secret-pw");
  ASSERT_GT(rules.size(), 10u) << "config/redis-acl.conf has no user line for auditq";
  const std::string user = uniqueName("acl");
  std::vector<std::string_view> args = {"ACL", "SETUSER", user};
  args.insert(args.end(), rules.begin(), rules.end());
  auto reply = redis_->command(args);
  ASSERT_EQ(reply->type, REDIS_REPLY_STATUS) << (reply->str != nullptr ? reply->str : "");
  const auto tool_rules = documentedAcl("auditq-tools", "tools-secret-pw");
  ASSERT_GT(tool_rules.size(), 8u) << "config/redis-acl.conf has no user line for auditq-tools";
  const std::string tools = uniqueName("tools");
  std::vector<std::string_view> tool_args = {"ACL", "SETUSER", tools};
  tool_args.insert(tool_args.end(), tool_rules.begin(), tool_rules.end());
  reply = redis_->command(tool_args);
  ASSERT_EQ(reply->type, REDIS_REPLY_STATUS) << (reply->str != nullptr ? reply->str : "");
  // The documented key patterns: streams under sync:, session keys under session:.
  stream_ = "sync:" + uniqueName("acl");
  std::string url = redisUrl();
  url.insert(url.find("://") + 3, user + ":acl-secret-pw@");
  const std::string keys = "session:" + uniqueName("k");

  // An entry left pending by a consumer that is gone, so the claim path runs too.
  redis_->command({"XGROUP", "CREATE", stream_, group_, "0", "MKSTREAM"});
  xadd(entryWithState(newUuid(), 1));
  redis_->command({"XREADGROUP", "GROUP", group_, "gone", "COUNT", "1", "STREAMS", stream_, ">"});
  const std::string session = newUuid();
  xadd(entryWithState(session, 1));
  xadd({"type", "session_updated", "session_id", "bad", "ts", "1700000000000"});
  auto daemon = startWithHttp({{"REDIS_URL", url},
                               {"AUDITQ_DEAD_LETTER_STREAM_COPY", "true"},
                               {"AUDITQ_CONSUMER_CLAIM_IDLE_MS", "1000"},
                               {"AUDITQ_POSTGRES_STATEMENT_TIMEOUT_MS", "500"},
                               {"AUDITQ_CONSUMER_CLAIM_INTERVAL_MS", "200"},
                               {"AUDITQ_CONSUMER_DELETE_IDLE_MS", "1000"}});
  ASSERT_TRUE(waitFor([&] { return events() == 2 && pending() == 0; })) << daemon->stderrText();
  ASSERT_TRUE(waitFor(
      [&] {
        auto n = redis_->command({"XLEN", stream_ + ":dlq"});
        return n->type == REDIS_REPLY_INTEGER && n->integer == 1;
      },
      10s));
  // The consumer that held the claimed entry has nothing left and is removed.
  ASSERT_TRUE(waitFor(
      [&] {
        auto c = redis_->command({"XINFO", "CONSUMERS", stream_, group_});
        return c->type == REDIS_REPLY_ARRAY && c->elements == 1;
      },
      10s))
      << daemon->stderrText();
  const auto metrics = get("/metrics").body;
  const auto m = parsePrometheus(metrics);
  EXPECT_EQ(m.value("auditq_entries_reclaimed_total"), 1);
  EXPECT_EQ(m.value("auditq_consumers_deleted_total"), 1);
  EXPECT_TRUE(waitFor(
      [&] {
        return parsePrometheus(get("/metrics").body)
                   .value(fmt::format(R"(auditq_consumer_group_pending{{stream="{}"}})",
                                      stream_)) == 0;
      },
      5s));
  // `auditq status` with the daemon's own user reads every figure (no NOPERM): exit 1 only
  // for the dead letter.
  const auto st = runAuditq(
      {"status", "--json"},
      daemonEnv({{"REDIS_URL", url}, {"AUDITQ_HTTP_LISTEN", fmt::format("127.0.0.1:{}", port_)}}));
  const auto sj = nlohmann::json::parse(st.out, nullptr, false);
  ASSERT_TRUE(sj.is_object()) << st.out << st.err;
  EXPECT_EQ(st.exit_code, 1);
  EXPECT_EQ(sj["redis"]["readable"], true) << st.out;
  EXPECT_EQ(sj["streams"][0]["entries"], 3) << st.out;
  EXPECT_EQ(sj["streams"][0]["dead_letters_last_hour"]["bad_uuid"], 1) << st.out;
  EXPECT_EQ(sj["attention"].size(), 1u) << st.out;
  stopDaemon(*daemon);
  const auto err = daemon->stderrText();
  EXPECT_EQ(err.find("NOPERM"), std::string::npos) << err;
  EXPECT_EQ(err.find("acl-secret-pw"), std::string::npos) << err;

  // The daemon's user can neither read nor write session keys.
  config::RedisConfig as_daemon;
  as_daemon.url = url;
  auto daemon_client = redis::BlockingClient::connect(as_daemon);
  const std::string session_key = keys + ":x";
  const std::vector<std::vector<std::string_view>> forbidden = {{"GET", session_key},
                                                                {"SET", session_key, "{}"}};
  for (const auto& cmd : forbidden) {
    auto r = daemon_client.command(cmd);
    ASSERT_EQ(r->type, REDIS_REPLY_ERROR) << cmd[0];
    EXPECT_TRUE(std::string_view(r->str).starts_with("NOPERM")) << r->str;
  }

  // recover (SCRIPT LOAD, SET NX, EVALSHA, XGROUP CREATE) and dlq replay (EVAL: XADD and a
  // marker key) as the tools' user.
  std::string tools_url = redisUrl();
  tools_url.insert(tools_url.find("://") + 3, tools + ":tools-secret-pw@");
  const std::map<std::string, std::string> env = {
      {"REDIS_URL", tools_url},
      {"DATABASE_URL", db_.url()},
      {"AUDITQ_CONSUMER_STREAMS", stream_},
      {"AUDITQ_CONSUMER_GROUP", group_},
      {"AUDITQ_RECOVER_KEY_TEMPLATE", keys + ":{session_id}"}};
  auto rec = runAuditq({"--recover", "--all"}, env);
  EXPECT_EQ(rec.exit_code, 0) << rec.out << rec.err;
  EXPECT_EQ(redis_->command({"EXISTS", keys + ":" + session})->integer, 1) << rec.out;
  rec = runAuditq({"--recover", "--all"}, env); // now through the version-guard script
  EXPECT_EQ(rec.exit_code, 0) << rec.out << rec.err;
  const auto replay = runAuditq({"dlq", "replay", "--all"}, env);
  EXPECT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(redis_->command({"XLEN", stream_})->integer, 4);

  // A wrong password: not ready, a clear log line, and the password nowhere.
  std::string bad = redisUrl();
  bad.insert(bad.find("://") + 3, user + ":wrong-pw-xyz@");
  auto refused = startWithHttp({{"REDIS_URL", bad}});
  EXPECT_TRUE(
      waitFor([&] { return refused->stderrText().find("WRONGPASS") != std::string::npos; }, 10s))
      << refused->stderrText();
  EXPECT_NE(refused->stderrText().find("error redis_unavailable"), std::string::npos)
      << refused->stderrText();
  EXPECT_NE(refused->stderrText().find("class=needs_operator code=WRONGPASS"), std::string::npos)
      << refused->stderrText();
  const auto r = get("/readyz");
  EXPECT_EQ(r.status, 503u);
  EXPECT_NE(r.body.find("redis_unreachable"), std::string::npos) << r.body;
  stopDaemon(*refused);
  EXPECT_EQ(refused->stderrText().find("wrong-pw-xyz"), std::string::npos) << refused->stderrText();
  redis_->command({"ACL", "DELUSER", user});
}

} // namespace
} // namespace auditq::test
