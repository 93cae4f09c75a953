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
  // The greatest id below this one (0-0 has none and returns itself): XREADGROUP and XPENDING
  // ranges start after an id, so reading from predecessor() includes this id.
  EntryId successor() const { return seq < UINT64_MAX ? EntryId{ms, seq + 1} : EntryId{ms + 1, 0}; }
  EntryId predecessor() const {
    if (seq > 0) {
      return {ms, seq - 1};
    }
    return ms > 0 ? EntryId{ms - 1, UINT64_MAX} : EntryId{};
  }
};

} // namespace auditq::core
