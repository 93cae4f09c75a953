// The jsonb acceptance check, case by case (the same table a real PostgreSQL is held to in
// tests/integration/jsonb_parity_test.cc).
#include "pipeline/jsonb_check.h"

#include <gtest/gtest.h>

#include <simdjson.h>

#include "jsonb_cases.h"

namespace auditq::pipeline {
namespace {

TEST(JsonbCheck, AgreesWithPostgresOnEveryBorderlineCase) {
  JsonbCheck check;
  for (const auto& c : test::jsonbCases()) {
    bool exotic = false;
    const auto why = check.check(c.json, exotic);
    EXPECT_EQ(!why.has_value(), c.jsonb_takes)
        << c.name << ": " << (why ? *why : "taken") << " (" << c.json.substr(0, 60) << ")";
  }
}

TEST(JsonbCheck, NumbersSimdjsonCannotHoldAreReplacedForReadingOnly) {
  JsonbCheck check;
  const std::string text = R"({"id":123456789012345678901,"f":1e400,"v":7,"s":"1e400"})";
  bool exotic = false;
  ASSERT_FALSE(check.check(text, exotic));
  EXPECT_TRUE(exotic);
  EXPECT_EQ(check.sanitized(text), R"({"id":"#","f":"#","v":7,"s":"1e400"})");
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  EXPECT_EQ(parser.parse(check.sanitized(text)).get(root), simdjson::SUCCESS);
  EXPECT_EQ(int64_t(root["v"]), 7);
}

TEST(JsonbCheck, OrdinaryStatesHaveNoExoticNumbers) {
  JsonbCheck check;
  bool exotic = true;
  ASSERT_FALSE(check.check(R"({"a":[1,-2.5,3e10,0.001],"b":{"c":null,"d":true}})", exotic));
  EXPECT_FALSE(exotic);
}

} // namespace
} // namespace auditq::pipeline
