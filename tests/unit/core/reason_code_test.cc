#include "core/reason_code.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace auditq::core {
namespace {

TEST(ReasonCode, NamesAreDistinctSnakeCaseAndRoundTrip) {
  std::set<std::string_view> names;
  for (ReasonCode code : kAllReasonCodes) {
    const auto name = reasonName(code);
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_"), std::string_view::npos);
    EXPECT_EQ(reasonFromName(name), code);
  }
}

TEST(ReasonCode, UnknownNameHasNoCode) {
  EXPECT_FALSE(reasonFromName("nope").has_value());
}

TEST(ReasonCode, StoredNamesNeverChange) {
  // These strings are stored in auditq_dead_letters and used in dashboards.
  EXPECT_EQ(reasonName(ReasonCode::MissingField), "missing_field");
  EXPECT_EQ(reasonName(ReasonCode::BadUuid), "bad_uuid");
  EXPECT_EQ(reasonName(ReasonCode::RejectedByDatabase), "rejected_by_database");
  EXPECT_EQ(reasonName(ReasonCode::MaxDeliveries), "max_deliveries");
  EXPECT_EQ(reasonName(ReasonCode::VersionMismatch), "version_mismatch");
}

} // namespace
} // namespace auditq::core
