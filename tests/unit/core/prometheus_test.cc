#include "core/prometheus.h"

#include <gtest/gtest.h>

#include "prometheus_check.h"

namespace auditq::core {
namespace {

using test::parsePrometheus;

TEST(PrometheusText, CountersGaugesAndLabelsParse) {
  PrometheusText p;
  p.family("auditq_things_total", "counter", "Things.");
  p.sample("auditq_things_total", {{"stream", "a"}}, uint64_t{3});
  p.sample("auditq_things_total", {{"stream", "b"}}, uint64_t{0});
  p.family("auditq_level", "gauge", "A level.");
  p.sample("auditq_level", {}, 1.5);
  const auto m = parsePrometheus(p.text());
  EXPECT_TRUE(m.problems.empty()) << m.problems.front();
  EXPECT_EQ(m.types.at("auditq_things_total"), "counter");
  EXPECT_EQ(m.value(R"(auditq_things_total{stream="a"})"), 3);
  EXPECT_EQ(m.value("auditq_level"), 1.5);
}

TEST(PrometheusText, LabelValuesAndHelpAreEscaped) {
  PrometheusText p;
  p.family("auditq_x", "gauge", "back\\slash and\nnewline");
  p.sample("auditq_x", {{"stream", "quo\"te\\back\nline"}}, int64_t{-2});
  EXPECT_NE(p.text().find(R"(# HELP auditq_x back\\slash and\nnewline)"), std::string::npos);
  EXPECT_NE(p.text().find(R"(auditq_x{stream="quo\"te\\back\nline"} -2)"), std::string::npos)
      << p.text();
  EXPECT_TRUE(parsePrometheus(p.text()).problems.empty()) << p.text();
}

TEST(PrometheusText, HistogramBucketsAreCumulativeWithInfEqualToCount) {
  BucketHistogram h{0.1, 1, 10};
  for (double v : {0.05, 0.1, 0.5, 2.0, 20.0, 30.0}) {
    h.record(v);
  }
  PrometheusText p;
  p.family("auditq_d_seconds", "histogram", "Durations.");
  p.histogram("auditq_d_seconds", {}, h);
  const auto m = parsePrometheus(p.text());
  ASSERT_TRUE(m.problems.empty()) << m.problems.front();
  EXPECT_EQ(m.value(R"(auditq_d_seconds_bucket{le="0.1"})"), 2); // le is inclusive
  EXPECT_EQ(m.value(R"(auditq_d_seconds_bucket{le="1"})"), 3);
  EXPECT_EQ(m.value(R"(auditq_d_seconds_bucket{le="10"})"), 4);
  EXPECT_EQ(m.value(R"(auditq_d_seconds_bucket{le="+Inf"})"), 6);
  EXPECT_EQ(m.value("auditq_d_seconds_count"), 6);
  EXPECT_DOUBLE_EQ(m.value("auditq_d_seconds_sum"), 52.65);
}

TEST(PrometheusText, NonFiniteValuesUseTheFormatsSpelling) {
  PrometheusText p;
  p.family("auditq_g", "gauge", "g");
  p.sample("auditq_g", {{"k", "inf"}}, INFINITY);
  p.sample("auditq_g", {{"k", "nan"}}, NAN);
  EXPECT_NE(p.text().find("auditq_g{k=\"inf\"} +Inf\n"), std::string::npos);
  EXPECT_NE(p.text().find("auditq_g{k=\"nan\"} NaN\n"), std::string::npos);
}

TEST(PrometheusCheck, RefusesWhatAScraperWould) {
  // The checker itself must catch broken text, or the tests using it prove nothing.
  EXPECT_FALSE(parsePrometheus("auditq_x 1\n").problems.empty()); // no TYPE
  EXPECT_FALSE(parsePrometheus("# TYPE auditq_x counter\nauditq_x 1\n").problems.empty());
  EXPECT_FALSE(parsePrometheus("# TYPE a gauge\na{b=\"1} 2\n").problems.empty());
  EXPECT_FALSE(parsePrometheus("# TYPE a gauge\na 1\na 2\n").problems.empty());
  EXPECT_FALSE(
      parsePrometheus("# TYPE h histogram\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 2\n")
          .problems.empty());
  EXPECT_FALSE(parsePrometheus("# TYPE a gauge\na one\n").problems.empty());
}

} // namespace
} // namespace auditq::core
