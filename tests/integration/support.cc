// Integration test support implementation.
#include "integration/support.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

namespace auditq::test {
namespace {

std::string requiredEnv(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    throw std::runtime_error(fmt::format(
        "{} is not set: run the integration tests through scripts/test (it starts the servers)",
        name));
  }
  return v;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string withDatabase(const std::string& url, const std::string& db) {
  const auto scheme_end = url.find("://") + 3;
  const auto slash = url.find('/', scheme_end);
  const auto q = url.find('?', scheme_end);
  std::string base = url.substr(0, slash == std::string::npos ? q : slash);
  std::string query = q == std::string::npos ? "" : url.substr(q);
  return base + "/" + db + query;
}

int spawn(const std::vector<std::string>& args, const std::map<std::string, std::string>& env,
          const std::string& out_path, const std::string& err_path) {
  std::vector<std::string> env_strings;
  for (const char* keep : {"PATH", "HOME", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
    if (const char* v = std::getenv(keep); v != nullptr && env.count(keep) == 0) {
      env_strings.push_back(fmt::format("{}={}", keep, v));
    }
  }
  for (const auto& [k, v] : env) {
    env_strings.push_back(k + "=" + v);
  }
  std::vector<char*> argv;
  for (const auto& a : args) {
    argv.push_back(const_cast<char*>(a.c_str()));
  }
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_strings) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int in = ::open("/dev/null", O_RDONLY);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

std::string tempPath(const std::string& suffix) {
  static std::atomic<int> counter{0};
  return fmt::format("/tmp/auditq-test-{}-{}{}", getpid(), counter++, suffix);
}

} // namespace

std::string adminPgUrl() {
  return requiredEnv("AUDITQ_TEST_PG_URL");
}
std::string redisUrl() {
  return requiredEnv("AUDITQ_TEST_REDIS_URL");
}
std::string stackDir() {
  return requiredEnv("AUDITQ_STACK_DIR");
}
std::string auditqBinary() {
  return AUDITQ_BINARY;
}

std::string uniqueName(const std::string& prefix) {
  static std::mt19937_64 rng(std::random_device{}() ^ static_cast<uint64_t>(getpid()));
  return fmt::format("{}_{}_{:08x}", prefix, getpid(), static_cast<uint32_t>(rng()));
}

ScratchDatabase::ScratchDatabase() : name_(uniqueName("t")) {
  pqxx::connection admin(adminPgUrl());
  pqxx::nontransaction tx(admin);
  tx.exec("CREATE DATABASE " + tx.quote_name(name_));
  url_ = withDatabase(adminPgUrl(), name_);
}

ScratchDatabase::~ScratchDatabase() {
  try {
    pqxx::connection admin(adminPgUrl());
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_) + " WITH (FORCE)");
  } catch (const std::exception&) {
    // The server may be the thing a fault test stopped; the stack is thrown away anyway.
  }
}

std::unique_ptr<pqxx::connection> ScratchDatabase::connect() const {
  return std::make_unique<pqxx::connection>(url_);
}

std::string ScratchDatabase::scalar(const std::string& sql) const {
  pqxx::connection c(url_);
  pqxx::nontransaction tx(c);
  auto r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null()) {
    return "";
  }
  return r[0][0].as<std::string>();
}

ProcessResult runProcess(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env,
                         std::chrono::milliseconds timeout) {
  Subprocess p(args, env);
  ProcessResult r;
  r.exit_code = p.wait(timeout);
  r.out = p.stdoutText();
  r.err = p.stderrText();
  return r;
}

ProcessResult runAuditq(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env,
                        std::chrono::milliseconds timeout) {
  std::vector<std::string> full{auditqBinary()};
  full.insert(full.end(), args.begin(), args.end());
  return runProcess(full, env, timeout);
}

Subprocess::Subprocess(const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env)
    : out_path_(tempPath(".out")), err_path_(tempPath(".err")) {
  pid_ = spawn(args, env, out_path_, err_path_);
}

Subprocess::~Subprocess() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
  }
  ::unlink(out_path_.c_str());
  ::unlink(err_path_.c_str());
}

bool Subprocess::running() {
  if (exited_) {
    return false;
  }
  if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
    exited_ = true;
  }
  return !exited_;
}

void Subprocess::signal(int sig) {
  if (!exited_) {
    ::kill(pid_, sig);
  }
}

int Subprocess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (WIFEXITED(status_)) {
    return WEXITSTATUS(status_);
  }
  return 128 + WTERMSIG(status_);
}

std::string Subprocess::stderrText() const {
  return readFile(err_path_);
}
std::string Subprocess::stdoutText() const {
  return readFile(out_path_);
}

std::string writeTempFile(const std::string& text, const std::string& suffix) {
  const std::string path = tempPath(suffix);
  std::ofstream(path) << text;
  return path;
}

} // namespace auditq::test
