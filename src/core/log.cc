// spdlog setup and the text/JSON renderers for structured log lines.
#include "core/log.h"

#include "core/json_text.h"

#include <atomic>

#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace auditq::core::log {
namespace {

std::atomic<Format> g_format{Format::Text};

using core::appendJsonString;

void appendValue(fmt::memory_buffer& out, const Field::Value& v, bool json) {
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string_view>) {
          const bool needs_quotes =
              json || x.empty() || x.find_first_of(" \"=\t\n") != std::string_view::npos;
          if (needs_quotes) {
            appendJsonString(out, x);
          } else {
            out.append(x);
          }
        } else if constexpr (std::is_same_v<T, bool>) {
          out.append(std::string_view(x ? "true" : "false"));
        } else {
          fmt::format_to(std::back_inserter(out), "{}", x);
        }
      },
      v);
}

spdlog::level::level_enum parseLevel(std::string_view level) {
  auto parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    return spdlog::level::info;
  }
  return parsed;
}

} // namespace

void setup(std::string_view level, Format format) {
  g_format = format;
  spdlog::drop("auditq"); // setup runs twice: with defaults, then with the loaded config
  auto logger = spdlog::stderr_logger_mt("auditq");
  spdlog::set_default_logger(logger);
  if (format == Format::Json) {
    // The message body is already a sequence of JSON members rendered by render().
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l",%v})", spdlog::pattern_time_type::utc));
  } else {
    logger->set_formatter(std::make_unique<spdlog::pattern_formatter>(
        "%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc));
  }
  setLevel(level);
}

void setLevel(std::string_view level) {
  spdlog::set_level(parseLevel(level));
}

std::string render(std::string_view event, std::initializer_list<Field> fields) {
  fmt::memory_buffer out;
  const bool json = g_format.load(std::memory_order_relaxed) == Format::Json;
  if (json) {
    out.append(std::string_view("\"event\":"));
    appendJsonString(out, event);
    for (const Field& f : fields) {
      out.push_back(',');
      appendJsonString(out, f.key);
      out.push_back(':');
      appendValue(out, f.value, true);
    }
  } else {
    out.append(event);
    for (const Field& f : fields) {
      out.push_back(' ');
      out.append(f.key);
      out.push_back('=');
      appendValue(out, f.value, false);
    }
  }
  return fmt::to_string(out);
}

void write(Level level, std::string_view event, std::initializer_list<Field> fields) {
  static constexpr spdlog::level::level_enum kLevels[] = {spdlog::level::debug, spdlog::level::info,
                                                          spdlog::level::warn, spdlog::level::err};
  const auto spd = kLevels[static_cast<int>(level)];
  auto* logger = spdlog::default_logger_raw();
  if (!logger->should_log(spd)) {
    return;
  }
  logger->log(spd, "{}", render(event, fields));
}

} // namespace auditq::core::log
