// Reads one YAML section key by key: environment override first, then the file, else the
// default already in the struct; records each effective value and refuses unknown keys.
// Private to config/: nothing outside sees yaml-cpp.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "config/config.h"

namespace auditq::config {

class SectionReader {
public:
  // `node` is the section's map (or null when the file has no such section).
  SectionReader(std::string section, const YAML::Node& node, const std::string& origin,
                const Environment& env, std::vector<EffectiveValue>& effective);

  void integer(std::string_view key, int64_t& value, int64_t min, int64_t max);
  // Like integer, but also accepts a KiB/MiB/GiB suffix ("4MiB").
  void size(std::string_view key, int64_t& value, int64_t min, int64_t max);
  // Seconds: a number with an s/m/h/d/w suffix ("90d"), or "off" (0).
  void duration(std::string_view key, int64_t& value, int64_t min, int64_t max);
  void boolean(std::string_view key, bool& value);
  void string(std::string_view key, std::string& value);
  // A string never shown: recorded as "****" when set.
  void secret(std::string_view key, std::string& value);
  void choice(std::string_view key, std::string& value,
              std::initializer_list<std::string_view> allowed);
  // A list: a YAML sequence in the file, comma-separated in the environment. Must be non-empty.
  // A list from a YAML sequence or a comma-separated string; empty only if `may_be_empty`.
  void stringList(std::string_view key, std::vector<std::string>& value, bool may_be_empty = false);
  // A URL checked by `check` (returns the broken rule or ""); shown masked.
  void url(std::string_view key, std::string& value, std::string (*check)(std::string_view));
  // An extra environment variable that sets this key when the AUDITQ_ one is absent.
  void alias(std::string_view key, std::string env_name);

  // Throws ConfigError naming the first key in the file that no reader call consumed.
  void finish();

  [[noreturn]] void fail(std::string_view key, const std::string& rule) const;

private:
  struct Raw {
    bool found = false;
    std::string text;
    std::string where; // "file:line:col" or "env NAME"
    bool from_file = false;
    YAML::Node node; // meaningful only when from_file
  };
  Raw lookup(std::string_view key);
  // A scalar's text into `value` when the key is set; the caller records it.
  Raw text(std::string_view key, std::string& value);
  void record(std::string_view key, std::string value, const Raw& raw);
  std::string envName(std::string_view key) const;

  std::string section_;
  YAML::Node node_;
  const std::string& origin_;
  const Environment& env_;
  std::vector<EffectiveValue>& effective_;
  std::set<std::string, std::less<>> consumed_;
  std::vector<std::pair<std::string, std::string>> aliases_;
  std::string failing_where_;
};

} // namespace auditq::config
