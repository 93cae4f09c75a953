// Integration test support: the throwaway servers' URLs (from scripts/dev-stack env), a fresh
// database per test, and running the auditq binary as a subprocess with a hard timeout.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace auditq::test {

// Required environment (set by scripts/test): AUDITQ_TEST_PG_URL, AUDITQ_TEST_REDIS_URL.
std::string adminPgUrl();
std::string redisUrl();
std::string stackDir();
// The auditq binary under test (compiled in by CMake).
std::string auditqBinary();
// A unique lower-case name for this test's database / stream / key prefix.
std::string uniqueName(const std::string& prefix);

// Creates an empty database for one test and drops it (with its connections) on destruction.
class ScratchDatabase {
public:
  ScratchDatabase();
  ~ScratchDatabase();
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }
  // A new connection to the scratch database.
  std::unique_ptr<pqxx::connection> connect() const;
  // Runs a query and returns the first column of the first row as text ("" for NULL).
  std::string scalar(const std::string& sql) const;

private:
  std::string name_;
  std::string url_;
};

struct ProcessResult {
  int exit_code = -1; // -1: killed by the timeout
  std::string out;
  std::string err;
};

// Runs `args` (argv[0] is the program) with `env` added to a clean environment holding only
// PATH and HOME, so nothing from the developer's shell (REDIS_URL, ...) leaks into a test.
ProcessResult runProcess(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env = {},
                         std::chrono::milliseconds timeout = std::chrono::seconds(60));

// Runs `auditq <args>` with AUDITQ_CONFIG unset and the given environment.
ProcessResult runAuditq(const std::vector<std::string>& args,
                        const std::map<std::string, std::string>& env = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A background subprocess; killed (SIGKILL) on destruction if still running.
class Subprocess {
public:
  Subprocess(const std::vector<std::string>& args, const std::map<std::string, std::string>& env);
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  int pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits for exit; returns the exit code, 128+signal if killed, -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  std::string stderrText() const;
  std::string stdoutText() const;

private:
  int pid_ = -1;
  int status_ = -1;
  bool exited_ = false;
  std::string out_path_;
  std::string err_path_;
};

// Writes `text` to a new temporary file and returns its path.
std::string writeTempFile(const std::string& text, const std::string& suffix = ".yaml");

} // namespace auditq::test
