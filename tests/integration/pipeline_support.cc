// PipelineFixture implementation.
#include "integration/pipeline_support.h"

#include <signal.h>

#include <atomic>
#include <random>
#include <regex>
#include <thread>

#include <fmt/format.h>

namespace auditq::test {

std::string newUuid() {
  static std::mt19937_64 rng(std::random_device{}());
  const uint64_t a = rng();
  const uint64_t b = rng();
  return fmt::format("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", a >> 32, (a >> 16) & 0xffff,
                     a & 0xfff, b >> 52, b & 0xffffffffffffULL);
}

void PipelineFixture::SetUp() {
  auto migrate = runAuditq({"migrate", "up"}, {{"DATABASE_URL", db_.url()}});
  ASSERT_EQ(migrate.exit_code, 0) << migrate.err;
  stream_ = uniqueName("stream");
  group_ = uniqueName("group");
  consumer_ = uniqueName("consumer");
  config::RedisConfig rc;
  rc.url = redisUrl();
  redis_ = std::make_unique<redis::BlockingClient>(redis::BlockingClient::connect(rc));
}

std::map<std::string, std::string>
PipelineFixture::daemonEnv(const std::map<std::string, std::string>& extra) const {
  std::map<std::string, std::string> env = {
      {"DATABASE_URL", db_.url()},
      {"REDIS_URL", redisUrl()},
      {"AUDITQ_CONSUMER_STREAMS", stream_},
      {"AUDITQ_CONSUMER_GROUP", group_},
      {"AUDITQ_CONSUMER_NAME", consumer_},
      {"AUDITQ_CONSUMER_START_ID", "0"},
      {"AUDITQ_CONSUMER_BLOCK_MS", "200"},
      {"AUDITQ_RETRY_MAX_MS", "500"},
      // Test binaries run in parallel: each daemon's HTTP listener takes any free port.
      {"AUDITQ_HTTP_LISTEN", "127.0.0.1:0"}};
  for (const auto& [k, v] : extra) {
    env[k] = v;
  }
  return env;
}

std::unique_ptr<Subprocess>
PipelineFixture::startDaemon(const std::map<std::string, std::string>& extra) {
  return std::make_unique<Subprocess>(std::vector<std::string>{auditqBinary(), "run"},
                                      daemonEnv(extra));
}

std::unique_ptr<Subprocess>
PipelineFixture::startWithHttp(std::map<std::string, std::string> extra) {
  extra.emplace("AUDITQ_HTTP_LISTEN", "127.0.0.1:0");
  extra.emplace("AUDITQ_HTTP_SAMPLE_INTERVAL_MS", "200");
  extra.emplace("AUDITQ_POSTGRES_PING_INTERVAL_MS", "200");
  auto daemon = startDaemon(extra);
  // Text (port=N) or JSON ("port":N) log lines.
  static const std::regex kPort(R"(http_listening.*?port["=:]+(\d+))");
  std::smatch m;
  std::string err;
  EXPECT_TRUE(waitFor(
      [&] {
        err = daemon->stderrText();
        return std::regex_search(err, m, kPort);
      },
      std::chrono::seconds(10)))
      << err;
  port_ = m.empty() ? 0 : static_cast<uint16_t>(std::stoi(m[1]));
  return daemon;
}

http::GetResult PipelineFixture::get(const std::string& path) {
  return http::get("127.0.0.1", port_, path, std::chrono::seconds(5));
}

bool PipelineFixture::waitStatus(const std::string& path, unsigned status,
                                 std::chrono::milliseconds timeout) {
  return waitFor([&] { return get(path).status == status; }, timeout);
}

double PipelineFixture::metric(const std::string& name) {
  const std::string body = get("/metrics").body;
  const std::string key = "\n" + name + " ";
  const auto at = body.find(key);
  return at == std::string::npos ? -1 : std::stod(body.substr(at + key.size()));
}

void PipelineFixture::stopDaemon(Subprocess& daemon) {
  daemon.signal(SIGTERM);
  const int rc = daemon.wait(std::chrono::seconds(30));
  EXPECT_EQ(rc, 0) << daemon.stderrText();
}

std::string PipelineFixture::xadd(const std::vector<std::string>& fields,
                                  const std::string& stream) {
  std::vector<std::string_view> args = {"XADD", stream.empty() ? stream_ : stream, "*"};
  args.insert(args.end(), fields.begin(), fields.end());
  auto reply = redis_->command(args);
  EXPECT_EQ(reply->type, REDIS_REPLY_STRING) << (reply->str != nullptr ? reply->str : "");
  return std::string(reply->str, reply->len);
}

void PipelineFixture::createGroup(const std::string& id) {
  auto reply = redis_->command({"XGROUP", "CREATE", stream_, group_, id, "MKSTREAM"});
  ASSERT_NE(reply->type, REDIS_REPLY_ERROR) << reply->str;
}

std::vector<std::string> PipelineFixture::entryWithState(const std::string& session, int version,
                                                         const std::string& status,
                                                         const std::string& type) const {
  const std::string participant = "aaaaaaaa-0000-4000-8000-" + session.substr(24);
  const std::string state = fmt::format(
      R"({{"session_id":"{}","sync_mode":"per_participant","status":"{}","version":{},)"
      R"("participants":[{{"participant_id":"{}","participant_index":0,"total_time_ms":300000,)"
      R"("time_used_ms":{},"time_remaining_ms":{},"cycle_count":{},"is_active":true,)"
      R"("has_expired":false,"group_id":null}}],"total_time_ms":300000,"increment_ms":0,)"
      R"("created_at":"2024-05-01T09:00:00Z","updated_at":"2024-05-01T10:00:{:02}Z"}})",
      session, status, version, participant, version * 100, 300000 - version * 100, version,
      version % 60);
  return {"type",       type,
          "session_id", session,
          "ts",         std::to_string(1714557600000 + version),
          "version",    std::to_string(version),
          "state",      state};
}

std::vector<std::string> PipelineFixture::entryNow(const std::string& session, int version,
                                                   const std::string& status,
                                                   const std::string& type) const {
  auto f = entryWithState(session, version, status, type);
  f[5] = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
  return f;
}

std::vector<std::string> PipelineFixture::addRecentSessions(int count, int versions) {
  std::vector<std::string> sessions;
  for (int i = 0; i < count; ++i) {
    sessions.push_back(newUuid());
  }
  for (int v = 1; v <= versions; ++v) { // pipelined, a version at a time
    for (const auto& s : sessions) {
      const auto fields = entryNow(s, v);
      std::vector<std::string_view> args = {"XADD", stream_, "*"};
      args.insert(args.end(), fields.begin(), fields.end());
      redis_->append(args);
    }
    for (size_t i = 0; i < sessions.size(); ++i) {
      EXPECT_EQ(redis_->reply()->type, REDIS_REPLY_STRING);
    }
  }
  return sessions;
}

long long PipelineFixture::pending(const std::string& stream) {
  std::vector<std::string_view> args = {"XPENDING", stream.empty() ? stream_ : stream, group_};
  auto reply = redis_->command(args);
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1) {
    return -1;
  }
  return reply->element[0]->integer;
}

long long PipelineFixture::events() const {
  return count(fmt::format("SELECT count(*) FROM sync_events WHERE stream = '{}'", stream_));
}

long long PipelineFixture::count(const std::string& sql) const {
  return std::stoll(db_.scalar(sql));
}

bool PipelineFixture::waitFor(const std::function<bool()>& condition,
                              std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return condition();
}

} // namespace auditq::test
