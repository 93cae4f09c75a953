// Borderline JSON documents and whether PostgreSQL 15's jsonb takes them: the unit test checks
// that decoding agrees (pipeline/jsonb_check), the integration test that a real server does.
#pragma once

#include <string>
#include <vector>

namespace auditq::test {

struct JsonbCase {
  std::string name;
  std::string json;
  bool jsonb_takes;
};

inline std::string nested(size_t depth) {
  return "{\"x\":" + std::string(depth - 1, '[') + std::string(depth - 1, ']') + "}";
}

inline std::vector<JsonbCase> jsonbCases() {
  const auto in = [](const std::string& v) { return "{\"x\":" + v + "}"; };
  return {
      {"a huge integer", in("123456789012345678901"), true},
      {"1e400", in("1e400"), true},
      {"a large exponent written with leading zeros", in("1e0000000000000000000001"), true},
      {"131,072 digits before the point", in("1e131071"), true},
      {"a negative one", in("-1e131071"), true},
      {"131,073 digits before the point", in("1e131072"), false},
      {"131,073 digits, the mantissa counting", in("10e131071"), false},
      {"a fraction moved far left", in("0.1e131073"), false},
      {"zero with a huge exponent", in("0e131073"), true},
      {"16,383 digits after the point", in("1e-16383"), true},
      {"16,384 digits after the point", in("1e-16384"), false},
      {"1e-20000", in("1e-20000"), false},
      {"a fraction's digits count", in("0.5e-16383"), false},
      {"trailing zeros count", in("1.50e-16382"), false},
      {"a zero's digits count too", in("0e-16384"), false},
      {"and its fraction", in("0.0e-16383"), false},
      {"an exponent beyond 2^30", in("1e99999999999999999999"), false},
      {"a negative one", in("1e-99999999999999999999"), false},
      {"even for zero", in("0e99999999999999999999"), false},
      {"100e-2", in("100e-2"), true},
      {"1E+5", in("1E+5"), true},
      {"minus zero", in("-0"), true},
      {"a leading zero", in("01"), false},
      {"a point without digits", in("1."), false},
      {"no digit before the point", in(".5"), false},
      {"a lone minus", in("-"), false},
      {"a plus sign", in("+1"), false},
      {"NaN", in("NaN"), false},
      {"a surrogate pair", in("\"\\ud83d\\ude00\""), true},
      {"a lone high surrogate", in("\"\\ud800\""), false},
      {"a lone low surrogate", in("\"\\udc00\""), false},
      {"\\u0000", in("\"\\u0000\""), false},
      {"an escaped tab", in("\"a\\tb\""), true},
      {"a raw tab in a string", in("\"a\tb\""), false},
      {"a raw control byte",
       in("\"a\x01"
          "b\""),
       false},
      {"an unknown escape", in("\"\\x\""), false},
      {"not UTF-8", in("\"\xff\""), false},
      {"a trailing comma", in("[1,]"), false},
      {"a misspelt literal", in("truee"), false},
      {"duplicate keys", "{\"a\":1,\"a\":2}", true},
      {"nested 1,100 deep", nested(1100), true},
      {"nested 10,000 deep", nested(10'000), true},
      {"nested 20,000 deep", nested(20'000), false},
  };
}

} // namespace auditq::test
