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
