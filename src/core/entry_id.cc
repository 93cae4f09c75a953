// Redis stream entry id parsing and printing.
#include "core/entry_id.h"

#include <fmt/format.h>

#include "core/text.h"

namespace auditq::core {
std::optional<EntryId> EntryId::parse(std::string_view text) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    return std::nullopt;
  }
  EntryId id;
  if (!parseInteger(text.substr(0, dash), id.ms) || !parseInteger(text.substr(dash + 1), id.seq)) {
    return std::nullopt;
  }
  return id;
}

std::string EntryId::toString() const {
  return fmt::format("{}-{}", ms, seq);
}

} // namespace auditq::core
