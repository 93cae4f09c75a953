// Whether PostgreSQL's jsonb takes a text, by PostgreSQL 15's own rules, so that decoding
// refuses exactly what the database would refuse (no bisection per batch for a row jsonb
// rejects) and accepts exactly what it stores (no dead letter for valid JSON simdjson cannot
// hold). Measured against a real server; tests/integration/jsonb_parity_test.cc keeps the two
// from drifting:
//   - syntax as PostgreSQL's JSON lexer has it (RFC 8259: no leading zeros, no "1." or ".5", no
//     trailing commas, only space, tab, CR and LF between tokens);
//   - strings: no raw byte below 0x20, escapes among \" \\ \/ \b \f \n \r \t \uXXXX, no
//     \u0000 (jsonb refuses it), a high surrogate escape followed by a low one and a low one
//     never alone, valid UTF-8;
//   - numbers within numeric's range: at most 16,383 digits after the decimal point (as
//     written, once the exponent is applied: 0.5e-16383 has 16,384) and at most 131,072
//     significant digits before it, and an exponent below 2^30 in magnitude;
//   - nesting at most 10,000 deep (PostgreSQL takes 10,000 with its default max_stack_depth
//     and exceeds it at 20,000).
// Linear time, no recursion, no allocation once the depth stack has grown.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace auditq::pipeline {

inline constexpr size_t kMaxJsonDepth = 10'000;

// The code unit of the "\uXXXX" escape at text[i] (i at the backslash), or -1.
int jsonEscapeUnit(std::string_view text, size_t i);

class JsonbCheck {
public:
  // nullopt when jsonb takes `text`, else why not. `exotic_numbers` is set when it holds a
  // number simdjson cannot represent (over 18 integer digits, an exponent beyond +-300): then
  // parse sanitized() instead.
  std::optional<std::string_view> check(std::string_view text, bool& exotic_numbers);

  // `text` (checked) with every exotic number replaced by the string "#": for reading the known
  // fields only (a known field holding such a number then has the wrong type, as it should).
  const std::string& sanitized(std::string_view text);

private:
  std::optional<std::string_view> string(std::string_view text, size_t& i);
  std::optional<std::string_view> number(std::string_view text, size_t& i, bool& exotic);

  std::vector<char> stack_; // '{' or '['
  std::string sanitized_;
};

} // namespace auditq::pipeline
