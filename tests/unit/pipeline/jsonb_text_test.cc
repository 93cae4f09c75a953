// jsonb's text output from the JSON as written, on cases whose PostgreSQL output the parity
// test (tests/integration/jsonb_parity_test.cc) checks against a real server.
#include "pipeline/jsonb_text.h"

#include <gtest/gtest.h>

namespace auditq::pipeline {
namespace {

std::string render(std::string_view json) {
  JsonbText t;
  std::string out;
  t.render(json, out);
  return out;
}

TEST(JsonbText, SortsKeysByLengthThenBytesAndKeepsTheLastDuplicate) {
  EXPECT_EQ(render(R"({"b":1,"a":2,"aa":3,"A":4,"":5})"),
            R"({"": 5, "A": 4, "a": 2, "b": 1, "aa": 3})");
  EXPECT_EQ(render(R"({"k":1,"k":2,"j":{"k":3,"k":[1]}})"), R"({"j": {"k": [1]}, "k": 2})");
  EXPECT_EQ(render(R"(  { "a" : [ 1 , [ ] , { } ] }  )"), R"({"a": [1, [], {}]})");
  // Keys written with and without escapes compare by what they decode to.
  EXPECT_EQ(render(R"({"b":1,"\u0061":2,"a":3,"\u0062b":4,"ab":5})"),
            R"({"a": 3, "b": 1, "ab": 5, "bb": 4})");
}

TEST(JsonbText, PrintsNumbersAsNumericDoes) {
  EXPECT_EQ(render(R"([1.50,1.5e1,1.50e3,1e2,1E+2,1e-2,1.5e-3,-1.0e-1,123.456e2,0.05e1])"),
            "[1.50, 15, 1500, 100, 100, 0.01, 0.0015, -0.10, 12345.6, 0.5]");
  EXPECT_EQ(render(R"([-0,0.0,-0.0,0e10,0e-3,12345678901234567890123])"),
            "[0, 0.0, 0.0, 0, 0.000, 12345678901234567890123]");
}

TEST(JsonbText, ReEscapesStringsAsEscapeJsonDoes) {
  EXPECT_EQ(render(R"(["\u0001\u001f\/\u00e9\ud83d\ude00","\b\f\n\r\t\"\\"])"),
            "[\"\\u0001\\u001f/\xc3\xa9\xf0\x9f\x98\x80\", \"\\b\\f\\n\\r\\t\\\"\\\\\"]");
}

} // namespace
} // namespace auditq::pipeline
