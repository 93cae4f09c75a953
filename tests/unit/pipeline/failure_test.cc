#include "pipeline/failure.h"

#include <gtest/gtest.h>

#include "pipeline/circuit_breaker.h"

namespace auditq::pipeline {
namespace {

TEST(ClassifySqlstate, DataAndConstraintErrorsRejectRows) {
  EXPECT_EQ(classifySqlstate("22P02"), FailureClass::RowRejected); // invalid text representation
  EXPECT_EQ(classifySqlstate("22003"), FailureClass::RowRejected); // numeric out of range
  EXPECT_EQ(classifySqlstate("23505"), FailureClass::RowRejected); // unique violation
  EXPECT_EQ(classifySqlstate("23502"), FailureClass::RowRejected); // not null violation
  EXPECT_EQ(classifySqlstate("23514"), FailureClass::RowRejected); // check violation
  EXPECT_EQ(classifySqlstate("54000"), FailureClass::RowRejected); // index row too large
  EXPECT_EQ(classifySqlstate("54001"), FailureClass::RowRejected); // too deeply nested
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

using Breaker = CircuitBreaker;
using std::chrono::milliseconds;

Breaker breaker(int64_t threshold) {
  return Breaker(threshold, Backoff(100, 1000, 7));
}

TEST(CircuitBreaker, StaysClosedBelowTheThreshold) {
  auto b = breaker(3);
  const auto t0 = Breaker::Clock::now();
  EXPECT_FALSE(b.onFailure(t0));
  EXPECT_FALSE(b.onFailure(t0));
  EXPECT_EQ(b.state(), Breaker::State::Closed);
  EXPECT_TRUE(b.tryAcquire(t0));
  b.onSuccess(); // a success resets the count
  EXPECT_FALSE(b.onFailure(t0));
  EXPECT_FALSE(b.onFailure(t0));
  EXPECT_EQ(b.state(), Breaker::State::Closed);
}

TEST(CircuitBreaker, OpensAtTheThresholdAndLetsOneProbeThroughAtTheProbeTime) {
  auto b = breaker(2);
  const auto t0 = Breaker::Clock::now();
  EXPECT_FALSE(b.onFailure(t0));
  EXPECT_TRUE(b.onFailure(t0)); // opened
  EXPECT_EQ(b.state(), Breaker::State::Open);
  EXPECT_LE(b.nextProbe(), t0 + milliseconds(100));
  EXPECT_FALSE(b.tryAcquire(t0 - milliseconds(1)));
  const auto probe_at = b.nextProbe();
  EXPECT_TRUE(b.tryAcquire(probe_at)); // the one probe
  EXPECT_EQ(b.state(), Breaker::State::HalfOpen);
  EXPECT_FALSE(b.tryAcquire(probe_at)); // nobody else while it runs
  EXPECT_FALSE(b.tryAcquire(probe_at + milliseconds(5000)));
}

TEST(CircuitBreaker, AFailedProbeReopensWithALongerCeiling) {
  auto b = breaker(1);
  auto now = Breaker::Clock::now();
  EXPECT_TRUE(b.onFailure(now));
  for (int i = 0; i < 20; ++i) {
    now = b.nextProbe();
    ASSERT_TRUE(b.tryAcquire(now));
    EXPECT_FALSE(b.onFailure(now)); // already open: not "opened" again
    EXPECT_EQ(b.state(), Breaker::State::Open);
    EXPECT_LE(b.nextProbe(), now + milliseconds(1000)); // capped at max_ms
  }
}

TEST(CircuitBreaker, ASuccessfulProbeClosesIt) {
  auto b = breaker(1);
  const auto t0 = Breaker::Clock::now();
  b.onFailure(t0);
  ASSERT_TRUE(b.tryAcquire(b.nextProbe()));
  EXPECT_TRUE(b.onSuccess()); // closed an open breaker
  EXPECT_EQ(b.state(), Breaker::State::Closed);
  EXPECT_TRUE(b.tryAcquire(t0));
  EXPECT_FALSE(b.onSuccess()); // already closed
}

TEST(CircuitBreaker, StateNames) {
  EXPECT_EQ(breakerStateName(Breaker::State::Closed), "closed");
  EXPECT_EQ(breakerStateName(Breaker::State::Open), "open");
  EXPECT_EQ(breakerStateName(Breaker::State::HalfOpen), "half_open");
}

TEST(ClassifyRedisError, AclAndPasswordErrorsNeedAnOperator) {
  std::string_view code;
  EXPECT_EQ(classifyRedisError("AUTH refused: WRONGPASS invalid username-password pair", code),
            FailureClass::NeedsOperator);
  EXPECT_EQ(code, "WRONGPASS");
  EXPECT_EQ(classifyRedisError("XGROUP CREATE sync:events: NOPERM this user has no permissions "
                               "to run the 'xgroup|create' command",
                               code),
            FailureClass::NeedsOperator);
  EXPECT_EQ(code, "NOPERM");
  EXPECT_EQ(classifyRedisError("NOAUTH Authentication required.", code),
            FailureClass::NeedsOperator);
  EXPECT_EQ(classifyRedisError("XREADGROUP: WRONGTYPE Operation against a key holding the wrong "
                               "kind of value",
                               code),
            FailureClass::NeedsOperator);
  EXPECT_EQ(code, "WRONGTYPE");
}

TEST(ClassifyRedisError, EverythingElsePasses) {
  std::string_view code = "x";
  for (const char* e : {"Connection refused", "Server closed the connection",
                        "XREADGROUP: LOADING Redis is loading the dataset in memory",
                        "command timed out after 5000 ms", "BUSY Redis is busy running a script",
                        // the words inside another word or message text do not count
                        "stream NOPERMS: no", "XADD my:NOPERM:stream: OK", ""}) {
    EXPECT_EQ(classifyRedisError(e, code), FailureClass::Transient) << e;
    EXPECT_TRUE(code.empty()) << e;
  }
}

} // namespace
} // namespace auditq::pipeline
