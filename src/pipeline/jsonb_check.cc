// The jsonb acceptance check: a state machine over the bytes.
#include "pipeline/jsonb_check.h"

#include <simdjson.h>

#include "core/text.h"
#include "pipeline/byte_scan.h"

namespace auditq::pipeline {
namespace {

constexpr int64_t kMaxDscale = 16'383;          // NUMERIC_DSCALE_MAX
constexpr int64_t kMaxIntegerDigits = 131'072;  // (NUMERIC_WEIGHT_MAX + 1) * 4
constexpr int64_t kMaxExponent = 1'073'741'823; // INT_MAX / 2, beyond which numeric refuses

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}
bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

} // namespace

int jsonEscapeUnit(std::string_view text, size_t i) {
  if (i + 6 > text.size() || text[i] != '\\' || text[i + 1] != 'u') {
    return -1;
  }
  int v = 0;
  for (size_t k = i + 2; k < i + 6; ++k) {
    const int h = core::hexDigit(text[k]);
    if (h < 0) {
      return -1;
    }
    v = v * 16 + h;
  }
  return v;
}

std::optional<std::string_view> JsonbCheck::string(std::string_view text, size_t& i) {
  ++i; // the opening quote
  while ((i = scan::jsonSpecial(text, i)) < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"') {
      ++i;
      return std::nullopt;
    }
    if (c < 0x20) {
      return "a control character not escaped in a string";
    }
    // a backslash
    if (i + 1 >= text.size()) {
      break;
    }
    const char e = text[i + 1];
    if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
        e == 't') {
      i += 2;
      continue;
    }
    if (e != 'u') {
      return "an invalid escape in a string";
    }
    const int unit = jsonEscapeUnit(text, i);
    if (unit < 0) {
      return "an invalid \\u escape in a string";
    }
    if (unit == 0) {
      return "\\u0000, which jsonb refuses";
    }
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
      return "a low surrogate escape without a high one";
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      const int low = jsonEscapeUnit(text, i + 6);
      if (low < 0xDC00 || low > 0xDFFF) {
        return "a high surrogate escape without a low one";
      }
      i += 12;
      continue;
    }
    i += 6;
  }
  return "an unterminated string";
}

std::optional<std::string_view> JsonbCheck::number(std::string_view text, size_t& i, bool& exotic) {
  if (text[i] == '-') {
    ++i;
  }
  const size_t int_begin = i;
  if (i < text.size() && text[i] == '0') {
    ++i;
  } else if (i < text.size() && isDigit(text[i])) {
    while (i < text.size() && isDigit(text[i])) {
      ++i;
    }
  } else {
    return "a malformed number";
  }
  const size_t int_end = i;
  size_t frac_begin = i;
  size_t frac_end = i;
  if (i < text.size() && text[i] == '.') {
    frac_begin = ++i;
    while (i < text.size() && isDigit(text[i])) {
      ++i;
    }
    frac_end = i;
    if (frac_end == frac_begin) {
      return "a malformed number";
    }
  }
  int64_t exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      negative = text[i] == '-';
      ++i;
    }
    if (i >= text.size() || !isDigit(text[i])) {
      return "a malformed number";
    }
    while (i < text.size() && isDigit(text[i])) {
      if (exponent <= kMaxExponent) { // saturate, as strtol does
        exponent = exponent * 10 + (text[i] - '0');
      }
      ++i;
    }
    if (exponent >= kMaxExponent) {
      return "a number out of numeric's range";
    }
    exponent = negative ? -exponent : exponent;
  }
  // numeric's range: the digits after the point as written, once the exponent moves it, and
  // the significant digits before it.
  const int64_t int_digits = static_cast<int64_t>(int_end - int_begin);
  const int64_t frac_digits = static_cast<int64_t>(frac_end - frac_begin);
  if (frac_digits - exponent > kMaxDscale) {
    return "a number out of numeric's range (too many digits after the point)";
  }
  int64_t first_nonzero = -1;
  for (size_t k = int_begin; k < frac_end; ++k) {
    if (text[k] >= '1' && text[k] <= '9') {
      first_nonzero = static_cast<int64_t>(k < int_end ? k - int_begin : k - int_begin - 1);
      break;
    }
  }
  if (first_nonzero >= 0 && int_digits + exponent - first_nonzero > kMaxIntegerDigits) {
    return "a number out of numeric's range (too many digits before the point)";
  }
  if (int_digits > 18 || exponent > 300 || exponent < -300 || int_digits + frac_digits > 40) {
    exotic = true;
  }
  return std::nullopt;
}

std::optional<std::string_view> JsonbCheck::check(std::string_view text, bool& exotic_numbers) {
  exotic_numbers = false;
  if (!simdjson::validate_utf8(text.data(), text.size())) {
    return "not UTF-8";
  }
  stack_.clear();
  size_t i = 0;
  enum class Want { Value, KeyOrEnd, Key, Colon, CommaOrEnd, ValueOrEnd } want = Want::Value;
  for (;;) {
    while (i < text.size() && isSpace(text[i])) {
      ++i;
    }
    if (i >= text.size()) {
      if (stack_.empty() && want == Want::CommaOrEnd) {
        return std::nullopt;
      }
      return "ends too early";
    }
    const char c = text[i];
    if (want == Want::CommaOrEnd) {
      if (stack_.empty()) {
        return "text after the value";
      }
      if (c == ',') {
        ++i;
        want = stack_.back() == '{' ? Want::Key : Want::Value;
        continue;
      }
      if ((c == '}' && stack_.back() == '{') || (c == ']' && stack_.back() == '[')) {
        ++i;
        stack_.pop_back();
        continue; // still CommaOrEnd, for the enclosing container
      }
      return "a missing comma or closing bracket";
    }
    if (want == Want::Colon) {
      if (c != ':') {
        return "a missing colon";
      }
      ++i;
      want = Want::Value;
      continue;
    }
    if (want == Want::KeyOrEnd || want == Want::Key) {
      if (c == '}' && want == Want::KeyOrEnd) {
        ++i;
        stack_.pop_back();
        want = Want::CommaOrEnd;
        continue;
      }
      if (c != '"') {
        return "a key that is not a string";
      }
      if (auto why = string(text, i)) {
        return why;
      }
      want = Want::Colon;
      continue;
    }
    // A value (or, right after '[', the end of the array).
    if (c == ']' && want == Want::ValueOrEnd) {
      ++i;
      stack_.pop_back();
      want = Want::CommaOrEnd;
      continue;
    }
    if (c == '{' || c == '[') {
      if (stack_.size() >= kMaxJsonDepth) {
        return "nested more than 10,000 deep";
      }
      stack_.push_back(c);
      ++i;
      want = c == '{' ? Want::KeyOrEnd : Want::ValueOrEnd;
      continue;
    }
    if (c == '"') {
      if (auto why = string(text, i)) {
        return why;
      }
    } else if (c == '-' || isDigit(c)) {
      if (auto why = number(text, i, exotic_numbers)) {
        return why;
      }
    } else if (text.substr(i, 4) == "true" || text.substr(i, 4) == "null") {
      i += 4;
    } else if (text.substr(i, 5) == "false") {
      i += 5;
    } else {
      return "an unexpected character";
    }
    // A literal must end here: "truee" or "1x" are not values.
    if (i < text.size() && !isSpace(text[i]) && text[i] != ',' && text[i] != ']' &&
        text[i] != '}') {
      return "an unexpected character after a value";
    }
    want = Want::CommaOrEnd;
  }
}

const std::string& JsonbCheck::sanitized(std::string_view text) {
  sanitized_.clear();
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '"') {
      const size_t begin = i;
      string(text, i); // checked already: it ends
      sanitized_.append(text.substr(begin, i - begin));
      continue;
    }
    if (c == '-' || isDigit(c)) {
      const size_t begin = i;
      bool exotic = false;
      number(text, i, exotic);
      if (exotic) {
        sanitized_.append("\"#\"");
      } else {
        sanitized_.append(text.substr(begin, i - begin));
      }
      continue;
    }
    sanitized_.push_back(c);
    ++i;
  }
  return sanitized_;
}

} // namespace auditq::pipeline
