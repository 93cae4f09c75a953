#include "pipeline/failure.h"

#include <gtest/gtest.h>

namespace auditq::pipeline {
namespace {

TEST(ClassifySqlstate, DataAndConstraintErrorsRejectRows) {
  EXPECT_EQ(classifySqlstate("22P02"), FailureClass::RowRejected); // invalid text representation
  EXPECT_EQ(classifySqlstate("22003"), FailureClass::RowRejected); // numeric out of range
  EXPECT_EQ(classifySqlstate("23505"), FailureClass::RowRejected); // unique violation
  EXPECT_EQ(classifySqlstate("23502"), FailureClass::RowRejected); // not null violation
}

TEST(ClassifySqlstate, PassingFailuresAreTransient) {
  for (const char* s : {"08006", "08001", "40001", "40P01", "53300", "53100", "57P01", "57P02",
                        "57P03", "57014", "25P02", "55P03", "58030", "XX000"}) {
    EXPECT_EQ(classifySqlstate(s), FailureClass::Transient) << s;
  }
}

TEST(ClassifySqlstate, NoSqlstateMeansTheConnectionFailed) {
  EXPECT_EQ(classifySqlstate(""), FailureClass::Transient);
}

TEST(ClassifySqlstate, SchemaAndPermissionErrorsNeedAnOperator) {
  for (const char* s : {"42P01", "42703", "42501", "28P01", "3D000", "0A000"}) {
    EXPECT_EQ(classifySqlstate(s), FailureClass::NeedsOperator) << s;
  }
}

} // namespace
} // namespace auditq::pipeline
