// UUIDs as 128-bit values: strict parsing of the canonical 8-4-4-4-12 text, canonical printing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace auditq::pipeline {

struct Uuid {
  uint64_t hi = 0;
  uint64_t lo = 0;
  bool operator==(const Uuid&) const = default;
  auto operator<=>(const Uuid&) const = default;
};

// Accepts exactly 36 characters, hex digits in either case, dashes at 8, 13, 18 and 23.
bool parseUuid(std::string_view text, Uuid& out);

// Appends the lower-case canonical form.
void appendUuid(std::string& out, const Uuid& id);

} // namespace auditq::pipeline
