// Recovery decisions.
#include "pipeline/recover_plan.h"

#include <simdjson.h>

namespace auditq::pipeline {

std::string_view verdictName(RecoverVerdict v) {
  switch (v) {
  case RecoverVerdict::Restore:
    return "restore";
  case RecoverVerdict::Tombstoned:
    return "tombstoned";
  case RecoverVerdict::NoSnapshot:
    return "no_snapshot";
  case RecoverVerdict::Terminal:
    return "terminal";
  case RecoverVerdict::TooOld:
    return "too_old";
  }
  return "unknown";
}

RecoverVerdict judge(const SnapshotRow& row, const RecoverRules& rules) {
  if (row.tombstoned) {
    return RecoverVerdict::Tombstoned; // deleted sessions never come back, whatever the flags
  }
  if (row.terminal && !rules.include_terminal) {
    return RecoverVerdict::Terminal;
  }
  if (!rules.all && row.age_seconds > rules.max_age_seconds) {
    return RecoverVerdict::TooOld;
  }
  if (!rules.all && rules.ttl_from_event && row.age_seconds >= rules.ttl_seconds) {
    return RecoverVerdict::TooOld; // no TTL left: it would expire at once
  }
  // Checked last: the source does not fetch the snapshots of sessions skipped above.
  return row.snapshot ? RecoverVerdict::Restore : RecoverVerdict::NoSnapshot;
}

int64_t ttlFor(const SnapshotRow& row, const RecoverRules& rules) {
  if (!rules.ttl_from_event) {
    return rules.ttl_seconds;
  }
  const int64_t left = rules.ttl_seconds - std::max<int64_t>(row.age_seconds, 0);
  return left >= 1 ? left : rules.ttl_seconds;
}

std::optional<int64_t> snapshotVersion(std::string_view json, std::string_view field) {
  // One parser per thread: recover reads with several threads, and a parser keeps its buffers.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element root;
  int64_t v = 0;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS ||
      root[field].get_int64().get(v) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  return v;
}

void renderKey(std::string& out, std::string_view key_template, std::string_view session_id) {
  static constexpr std::string_view kPlaceholder = "{session_id}";
  out.clear();
  size_t pos = 0;
  for (size_t at = key_template.find(kPlaceholder); at != std::string_view::npos;
       at = key_template.find(kPlaceholder, pos)) {
    out.append(key_template.substr(pos, at - pos));
    out.append(session_id);
    pos = at + kPlaceholder.size();
  }
  out.append(key_template.substr(pos));
}

} // namespace auditq::pipeline
