// Structured logging on spdlog: an event name plus key=value fields, rendered as text or as
// one JSON object per line. Fields are formatted only when the level is enabled.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace auditq::core::log {

enum class Format { Text, Json };

// The levels a line is written at (spdlog's, without its header in every file that logs).
enum class Level { Debug, Info, Warn, Error };

struct Field {
  using Value = std::variant<std::string_view, int64_t, uint64_t, double, bool>;
  std::string_view key;
  Value value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  template <typename I>
  requires std::is_integral_v<I> Field(std::string_view k, I v) : key(k) {
    if constexpr (std::is_signed_v<I>) {
      value = static_cast<int64_t>(v);
    } else {
      value = static_cast<uint64_t>(v);
    }
  }
};

// Installs the process-wide stderr logger. `level` is one of trace, debug, info, warn, error,
// critical, off (validated by config; anything else falls back to info).
void setup(std::string_view level, Format format);
void setLevel(std::string_view level);

// Renders "event k=v ..." (text) or "\"event\":\"...\",\"k\":..." (the body of a JSON object).
std::string render(std::string_view event, std::initializer_list<Field> fields);

void write(Level level, std::string_view event, std::initializer_list<Field> fields);

inline void debug(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::Debug, event, fields);
}
inline void info(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::Info, event, fields);
}
inline void warn(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::Warn, event, fields);
}
inline void error(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::Error, event, fields);
}

} // namespace auditq::core::log
