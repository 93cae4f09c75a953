// Strict parsing of the small text values every layer reads: whole-string decimal integers
// and hex digits. No locale, no whitespace, no partial matches.
#pragma once

#include <charconv>
#include <cstdint>
#include <string_view>

namespace auditq::core {

// True when all of `text` is one decimal integer in range (an optional leading '-' for signed).
template <typename Int>
bool parseInteger(std::string_view text, Int& out) {
  if (text.empty()) {
    return false;
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

// A duration such as "90s", "15m", "12h", "30d" or "2w" (one integer and one unit) in
// seconds. False for anything else, zero or negative.
inline bool parseDurationSeconds(std::string_view text, int64_t& seconds) {
  if (text.size() < 2) {
    return false;
  }
  int64_t unit = 0;
  switch (text.back()) {
  case 's':
    unit = 1;
    break;
  case 'm':
    unit = 60;
    break;
  case 'h':
    unit = 3600;
    break;
  case 'd':
    unit = 86400;
    break;
  case 'w':
    unit = int64_t{7} * 86400;
    break;
  default:
    return false;
  }
  int64_t n = 0;
  if (!parseInteger(text.substr(0, text.size() - 1), n) || n <= 0 || n > INT64_MAX / unit / 1000) {
    return false;
  }
  seconds = n * unit;
  return true;
}

// 0..15 for a hex digit of either case, -1 otherwise.
inline int hexDigit(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

} // namespace auditq::core
