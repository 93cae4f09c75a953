// libFuzzer target: configuration text through the YAML reader and every validation. Bad
// configuration must end in ConfigError (exit 2), never a crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)auditq::config::parseConfig(text, "fuzz", {});
  } catch (const auditq::config::ConfigError&) {
    // refused, as it should be
  }
  return 0;
}
