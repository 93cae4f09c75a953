// Redis stream entry ids ("<ms>-<seq>"): parsing, ordering and the time they carry.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace auditq::core {

struct EntryId {
  uint64_t ms = 0;
  uint64_t seq = 0;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy misreads the synthesized comparisons
  auto operator<=>(const EntryId&) const = default;

  // Parses the canonical "<ms>-<seq>" form Redis returns. Anything else (no dash, empty parts,
  // signs, overflow) yields nullopt: entry ids come from Redis, so a bad one is a protocol error.
  static std::optional<EntryId> parse(std::string_view text);
  std::string toString() const;
};

} // namespace auditq::core
