// Redis stream entry id parsing and printing.
#include "core/entry_id.h"

#include <charconv>

#include <fmt/format.h>

namespace auditq::core {
namespace {

bool parseU64(std::string_view s, uint64_t& out) {
  if (s.empty()) {
    return false;
  }
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

} // namespace

std::optional<EntryId> EntryId::parse(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    return std::nullopt;
  }
  EntryId id;
  if (!parseU64(text.substr(0, dash), id.ms) || !parseU64(text.substr(dash + 1), id.seq)) {
    return std::nullopt;
  }
  return id;
}

std::string EntryId::toString() const {
  return fmt::format("{}-{}", ms, seq);
}

} // namespace auditq::core
