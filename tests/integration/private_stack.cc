// The private stack: scripts/dev-stack driven with its own AUDITQ_STACK_DIR.
#include "integration/private_stack.h"

#include <stdlib.h>

#include <gtest/gtest.h>

#include "integration/support.h"

namespace auditq::test::private_stack {
namespace {

using namespace std::chrono_literals;

std::string g_dir;

std::map<std::string, std::string> stackEnv() {
  return {
      {"AUDITQ_STACK_DIR", g_dir}, {"AUDITQ_STACK_FAST", "1"}, {"AUDITQ_STACK_REDIS_AOF", "yes"}};
}

std::string exportedValue(const std::string& env_text, const std::string& name) {
  const auto at = env_text.find("export " + name + "=");
  if (at == std::string::npos) {
    return {};
  }
  const auto begin = at + 8 + name.size();
  return env_text.substr(begin, env_text.find('\n', begin) - begin);
}

} // namespace

void run(const std::vector<std::string>& args) {
  std::vector<std::string> cmd = {std::string(AUDITQ_SOURCE_DIR) + "/scripts/dev-stack"};
  cmd.insert(cmd.end(), args.begin(), args.end());
  const auto r = runProcess(cmd, stackEnv(), 120s);
  ASSERT_EQ(r.exit_code, 0) << "dev-stack " << args[0] << ": " << r.err;
}

std::string exported(const std::string& name) {
  const auto env =
      runProcess({std::string(AUDITQ_SOURCE_DIR) + "/scripts/dev-stack", "env"}, stackEnv());
  return exportedValue(env.out, name);
}

void start() {
  char dir[] = "/tmp/auditq-private-stack-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  g_dir = dir;
  run({"up"});
  setenv("AUDITQ_TEST_PG_URL", exported("AUDITQ_TEST_PG_URL").c_str(), 1);
  setenv("AUDITQ_TEST_REDIS_URL", exported("AUDITQ_TEST_REDIS_URL").c_str(), 1);
}

void stop() {
  run({"down"});
}

} // namespace auditq::test::private_stack
