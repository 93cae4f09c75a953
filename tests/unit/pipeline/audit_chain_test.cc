// auditq verify's rules on hand-made chains: each kind of tampering is named on the right batch.
#include "pipeline/audit_chain.h"

#include <gtest/gtest.h>

#include "pipeline/sha256.h"

namespace auditq::pipeline {
namespace {

std::string rowsDigest(const std::string& rows) {
  Sha256 h;
  h.update(rows);
  return h.hex();
}

// A chain of `n` untouched batches of 3 rows each.
std::vector<BatchRecord> chain(const std::string& name, int n, int64_t first_id = 1) {
  std::vector<BatchRecord> out;
  std::string prev;
  for (int i = 0; i < n; ++i) {
    BatchRecord b;
    b.id = first_id + i;
    b.chain = name;
    b.seq = i + 1;
    b.first_ms = 1000 * (i + 1);
    b.row_count = 3;
    b.rows_digest = rowsDigest(name + std::to_string(i));
    b.prev_digest = prev;
    b.digest = chainDigest(prev, b.rows_digest);
    b.committed_at = "2026-12-02T00:00:0" + std::to_string(i);
    b.rows_now = 3;
    b.rows_digest_now = b.rows_digest;
    prev = b.digest;
    out.push_back(b);
  }
  return out;
}

TEST(AuditChain, UntouchedChainsPass) {
  auto records = chain("a/0", 5);
  auto other = chain("a/1", 4, 100);
  records.insert(records.end(), other.begin(), other.end());
  const auto r = checkChains(records, 0);
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(r.batches, 9);
  EXPECT_EQ(r.chains, 2);
  EXPECT_EQ(r.rows, 27);
}

TEST(AuditChain, ChangedDeletedAndAddedRowsAreNamed) {
  auto records = chain("a/0", 5);
  records[1].rows_digest_now = rowsDigest("forged");
  records[2].rows_now = 2;
  records[3].rows_now = 4;
  records[4].rows_now = 0;
  records[4].rows_digest_now.clear();
  const auto r = checkChains(records, 0);
  ASSERT_EQ(r.findings.size(), 4u);
  EXPECT_EQ(r.findings[0].batch_id, 2);
  EXPECT_EQ(r.findings[0].problem, "its rows were changed");
  EXPECT_EQ(r.findings[1].problem, "1 of its 3 rows were deleted");
  EXPECT_EQ(r.findings[2].problem, "1 rows were added to it");
  EXPECT_EQ(r.findings[3].problem, "all 3 of its rows were deleted");
}

TEST(AuditChain, AMissingRecordAndAChangedRecordBreakTheChain) {
  auto records = chain("a/0", 5);
  records.erase(records.begin() + 2); // seq 3 gone, rows and all
  auto r = checkChains(records, 0);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].seq, 4);
  EXPECT_NE(r.findings[0].problem.find("batches 3..3 of chain a/0 are missing"), std::string::npos);

  records = chain("a/0", 3);
  records[1].rows_digest = rowsDigest("rewritten to match forged rows");
  records[1].rows_digest_now = records[1].rows_digest;
  r = checkChains(records, 0);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].batch_id, 2);
  EXPECT_NE(r.findings[0].problem.find("does not follow"), std::string::npos);

  records = chain("a/0", 3);
  records[2].prev_digest = records[0].digest; // relinked past a record
  records[2].digest = chainDigest(records[2].prev_digest, records[2].rows_digest);
  r = checkChains(records, 0);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].batch_id, 3);
}

TEST(AuditChain, RetentionStartsTheChainAtTheOldestBatchKept) {
  auto records = chain("a/0", 6);
  records.erase(records.begin(), records.begin() + 3); // pruned with their partitions
  records[0].rows_now = 1; // straddled the pruned partition's end: lost rows to retention
  const auto r = checkChains(records, records[0].first_ms + 1);
  EXPECT_TRUE(r.findings.empty()) << r.findings[0].problem;
  EXPECT_EQ(r.batches, 3);
}

} // namespace
} // namespace auditq::pipeline
