// The digest chains' rules (see audit_chain.h).
#include "pipeline/audit_chain.h"

#include <fmt/format.h>

#include "pipeline/sha256.h"

namespace auditq::pipeline {
namespace {

std::string unhex(const std::string& hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  auto nibble = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>((nibble(hex[i]) << 4) | nibble(hex[i + 1])));
  }
  return out;
}

} // namespace

std::string chainDigest(const std::string& prev_hex, const std::string& rows_hex) {
  Sha256 h;
  h.update(unhex(prev_hex));
  h.update(unhex(rows_hex));
  return h.hex();
}

ChainReport checkChains(const std::vector<BatchRecord>& records, int64_t kept_from_ms) {
  ChainReport report;
  const BatchRecord* prev = nullptr;
  for (const auto& r : records) {
    auto flag = [&](std::string problem) {
      report.findings.push_back({r.id, r.chain, r.seq, r.committed_at, std::move(problem)});
    };
    const bool starts_chain = prev == nullptr || prev->chain != r.chain;
    if (starts_chain) {
      ++report.chains;
    } else if (r.seq != prev->seq + 1) {
      flag(fmt::format("batches {}..{} of chain {} are missing (records deleted, with their rows "
                       "or not)",
                       prev->seq + 1, r.seq - 1, r.chain));
    } else if (r.prev_digest != prev->digest) {
      flag("its record names a previous digest that is not the previous record's (a record "
           "was changed)");
    }
    if (chainDigest(r.prev_digest, r.rows_digest) != r.digest) {
      flag("its record's digest does not follow from its rows digest (the record was changed)");
    }
    if (r.first_ms >= kept_from_ms) {
      if (r.rows_now == 0) {
        flag(fmt::format("all {} of its rows were deleted", r.row_count));
      } else if (r.rows_now < r.row_count) {
        flag(fmt::format("{} of its {} rows were deleted", r.row_count - r.rows_now, r.row_count));
      } else if (r.rows_now > r.row_count) {
        flag(fmt::format("{} rows were added to it", r.rows_now - r.row_count));
      } else if (r.rows_digest_now != r.rows_digest) {
        flag("its rows were changed");
      }
    }
    ++report.batches;
    report.rows += r.rows_now;
    prev = &r;
  }
  return report;
}

} // namespace auditq::pipeline
