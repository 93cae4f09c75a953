// SectionReader: key-by-key reading of one YAML section with environment overrides.
#include "config/reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

#include "config/url.h"
#include "core/text.h"

namespace auditq::config {
namespace {

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

std::string markOf(const std::string& origin, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) {
    return origin;
  }
  return fmt::format("{}:{}:{}", origin, mark.line + 1, mark.column + 1);
}

} // namespace

SectionReader::SectionReader(std::string section, const YAML::Node& node, const std::string& origin,
                             const Environment& env, std::vector<EffectiveValue>& effective)
    : section_(std::move(section)), node_(node), origin_(origin), env_(env), effective_(effective) {
  if (node_ && !node_.IsNull() && !node_.IsMap()) {
    failing_where_ = markOf(origin_, node_);
    throw ConfigError(fmt::format("{}: {}: must be a mapping of keys", failing_where_, section_));
  }
}

std::string SectionReader::envName(std::string_view key) const {
  return fmt::format("AUDITQ_{}_{}", upper(section_), upper(key));
}

void SectionReader::alias(std::string_view key, std::string env_name) {
  aliases_.emplace_back(std::string(key), std::move(env_name));
}

SectionReader::Raw SectionReader::lookup(std::string_view key) {
  consumed_.emplace(key);
  Raw raw;
  const std::string name = envName(key);
  auto env_it = env_.find(name);
  if (env_it == env_.end()) {
    for (const auto& [alias_key, alias_env] : aliases_) {
      if (alias_key == key && env_.count(alias_env) != 0) {
        env_it = env_.find(alias_env);
        break;
      }
    }
  }
  if (env_it != env_.end()) {
    raw.found = true;
    raw.text = env_it->second;
    raw.where = "env " + env_it->first;
  } else if (node_ && node_.IsMap() && node_[std::string(key)]) {
    raw.node = node_[std::string(key)];
    raw.from_file = true;
    raw.found = !raw.node.IsNull();
    raw.where = markOf(origin_, raw.node);
    if (raw.node.IsScalar()) {
      raw.text = raw.node.Scalar();
    }
  }
  failing_where_ = raw.where.empty() ? origin_ : raw.where;
  return raw;
}

void SectionReader::fail(std::string_view key, const std::string& rule) const {
  throw ConfigError(fmt::format("{}: {}.{}: {}", failing_where_, section_, key, rule));
}

void SectionReader::record(std::string_view key, std::string value, const Raw& raw) {
  std::string source = "default";
  if (raw.found) {
    source = raw.from_file ? "file " + raw.where : raw.where;
  }
  effective_.push_back({fmt::format("{}.{}", section_, key), std::move(value), std::move(source)});
}

void SectionReader::integer(std::string_view key, int64_t& value, int64_t min, int64_t max) {
  Raw raw = lookup(key);
  if (raw.found) {
    int64_t parsed = 0;
    if ((raw.from_file && !raw.node.IsScalar()) || !core::parseInteger(raw.text, parsed)) {
      fail(key, fmt::format("must be an integer, got '{}'", raw.text));
    }
    value = parsed;
  }
  if (value < min || value > max) {
    fail(key, fmt::format("must be {}..{}, got {}", min, max, value));
  }
  record(key, std::to_string(value), raw);
}

void SectionReader::size(std::string_view key, int64_t& value, int64_t min, int64_t max) {
  Raw raw = lookup(key);
  if (raw.found) {
    std::string_view text = raw.text;
    int64_t unit = 1;
    for (auto [suffix, factor] :
         {std::pair{"KiB", int64_t{1} << 10}, std::pair{"MiB", int64_t{1} << 20},
          std::pair{"GiB", int64_t{1} << 30}}) {
      if (text.ends_with(suffix)) {
        text.remove_suffix(3);
        unit = factor;
        break;
      }
    }
    int64_t parsed = 0;
    if ((raw.from_file && !raw.node.IsScalar()) || !core::parseInteger(text, parsed) ||
        parsed > INT64_MAX / unit) {
      fail(key,
           fmt::format("must be a byte count, optionally with KiB/MiB/GiB, got '{}'", raw.text));
    }
    value = parsed * unit;
  }
  if (value < min || value > max) {
    fail(key, fmt::format("must be {}..{} bytes, got {}", min, max, value));
  }
  record(key, std::to_string(value), raw);
}

void SectionReader::duration(std::string_view key, int64_t& value, int64_t min, int64_t max) {
  Raw raw = lookup(key);
  if (raw.found) {
    int64_t parsed = 0;
    const bool off = raw.text == "off" || raw.text == "0";
    if ((raw.from_file && !raw.node.IsScalar()) ||
        (!off && !core::parseDurationSeconds(raw.text, parsed))) {
      fail(key,
           fmt::format("must be a duration such as 90d, 12w, 36h, or off, got '{}'", raw.text));
    }
    value = parsed;
  }
  if (value != 0 && (value < min || value > max)) {
    fail(key, fmt::format("must be off or {}..{} seconds, got {}", min, max, value));
  }
  record(key, value == 0 ? "off" : std::to_string(value) + "s", raw);
}

void SectionReader::boolean(std::string_view key, bool& value) {
  Raw raw = lookup(key);
  if (raw.found) {
    if (raw.from_file && !raw.node.IsScalar()) {
      fail(key, "must be true or false");
    }
    if (raw.text == "true") {
      value = true;
    } else if (raw.text == "false") {
      value = false;
    } else {
      fail(key, fmt::format("must be true or false, got '{}'", raw.text));
    }
  }
  record(key, value ? "true" : "false", raw);
}

SectionReader::Raw SectionReader::text(std::string_view key, std::string& value) {
  Raw raw = lookup(key);
  if (raw.found) {
    if (raw.from_file && !raw.node.IsScalar()) {
      fail(key, "must be a string");
    }
    value = raw.text;
  }
  return raw;
}

void SectionReader::string(std::string_view key, std::string& value) {
  const Raw raw = text(key, value);
  record(key, value, raw);
}

void SectionReader::secret(std::string_view key, std::string& value) {
  const Raw raw = text(key, value);
  record(key, value.empty() ? "" : "****", raw);
}

void SectionReader::choice(std::string_view key, std::string& value,
                           std::initializer_list<std::string_view> allowed) {
  string(key, value);
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
    fail(key, fmt::format("must be one of {}, got '{}'", fmt::join(allowed, "|"), value));
  }
}

void SectionReader::stringList(std::string_view key, std::vector<std::string>& value,
                               bool may_be_empty) {
  Raw raw = lookup(key);
  if (raw.found) {
    value.clear();
    if (raw.from_file && raw.node.IsSequence()) {
      for (const auto& item : raw.node) {
        if (!item.IsScalar()) {
          fail(key, "must be a list of strings");
        }
        value.push_back(item.Scalar());
      }
    } else if (raw.from_file && !raw.node.IsScalar()) {
      fail(key, "must be a list of strings");
    } else {
      std::string_view text = raw.text;
      while (!text.empty()) {
        const auto comma = text.find(',');
        std::string_view item = text.substr(0, comma);
        while (!item.empty() && item.front() == ' ') {
          item.remove_prefix(1);
        }
        while (!item.empty() && item.back() == ' ') {
          item.remove_suffix(1);
        }
        value.emplace_back(item);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
      }
    }
  }
  if (value.empty() && !may_be_empty) {
    fail(key, "must name at least one entry");
  }
  for (const auto& item : value) {
    if (item.empty()) {
      fail(key, "must not contain an empty entry");
    }
  }
  record(key, fmt::format("{}", fmt::join(value, ",")), raw);
}

void SectionReader::url(std::string_view key, std::string& value,
                        std::string (*check)(std::string_view)) {
  Raw raw = lookup(key);
  if (raw.found) {
    if (raw.from_file && !raw.node.IsScalar()) {
      fail(key, "must be a URL string");
    }
    value = raw.text;
  }
  if (std::string rule = check(value); !rule.empty()) {
    fail(key, fmt::format("{}, got '{}'", rule, maskUrl(value)));
  }
  record(key, maskUrl(value), raw);
}

void SectionReader::finish() {
  if (node_ && node_.IsMap()) {
    for (const auto& item : node_) {
      if (!item.first.IsScalar()) {
        failing_where_ = markOf(origin_, item.first);
        fail("?", "a key must be a word, not a list or a mapping");
      }
      const std::string name = item.first.as<std::string>();
      if (consumed_.count(name) == 0) {
        failing_where_ = markOf(origin_, item.first);
        fail(name, "unknown key");
      }
    }
  }
  const std::string prefix = fmt::format("AUDITQ_{}_", upper(section_));
  for (const auto& [name, text] : env_) {
    if (name.starts_with(prefix)) {
      const std::string key_upper = name.substr(prefix.size());
      const bool known = std::any_of(consumed_.begin(), consumed_.end(),
                                     [&](const std::string& k) { return upper(k) == key_upper; });
      if (!known) {
        failing_where_ = "env " + name;
        std::string key = key_upper; // named as in the file: batch.max_entries
        std::transform(key.begin(), key.end(), key.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        fail(key, "unknown key");
      }
    }
  }
}

} // namespace auditq::config
