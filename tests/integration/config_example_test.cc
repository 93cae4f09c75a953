// config/auditq.yaml documents every key with its default: it must parse, and must give
// exactly the built-in defaults.
#include <gtest/gtest.h>

#include "integration/support.h"

namespace auditq::test {
namespace {

TEST(ConfigExample, DocumentedFileParsesToTheBuiltInDefaults) {
  const std::string path = std::string(AUDITQ_SOURCE_DIR) + "/config/auditq.yaml";
  auto from_file = runAuditq({"check-config", "--config", path});
  ASSERT_EQ(from_file.exit_code, 0) << from_file.err;
  auto defaults = runAuditq({"check-config"});
  ASSERT_EQ(defaults.exit_code, 0) << defaults.err;
  // Same keys and values; only the source column differs.
  auto strip = [](const std::string& out) {
    std::string result;
    size_t pos = out.find('\n') + 1; // skip "configuration OK (...)"
    while (pos < out.size()) {
      const size_t end = out.find('\n', pos);
      std::string line = out.substr(pos, end - pos);
      result += line.substr(0, line.find(" # ")) + "\n";
      pos = end + 1;
    }
    return result;
  };
  EXPECT_EQ(strip(from_file.out), strip(defaults.out));
  // Every key the binary knows is set (documented) in the file: none falls back to default.
  size_t pos = from_file.out.find('\n') + 1;
  int keys = 0;
  while (pos < from_file.out.size()) {
    const size_t end = from_file.out.find('\n', pos);
    const std::string line = from_file.out.substr(pos, end - pos);
    EXPECT_NE(line.find("# file " + path + ":"), std::string::npos) << "not in the file: " << line;
    ++keys;
    pos = end + 1;
  }
  EXPECT_GT(keys, 20);
}

} // namespace
} // namespace auditq::test
