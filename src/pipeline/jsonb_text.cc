// jsonb's text output, from the JSON as written (see jsonb_text.h).
#include "pipeline/jsonb_text.h"

#include <algorithm>
#include <cstring>

#include "pipeline/byte_scan.h"
#include "pipeline/jsonb_check.h"

namespace auditq::pipeline {
namespace {

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

void skipSpace(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) {
    ++i;
  }
}

} // namespace

uint32_t JsonbText::add(Kind kind, uint32_t begin, uint32_t len, bool raw) {
  nodes_.push_back(Node{kind, raw, begin, len});
  return static_cast<uint32_t>(nodes_.size() - 1);
}

void JsonbText::string(std::string_view s, size_t& i) {
  ++i; // the opening quote
  if (const size_t end = scan::jsonSpecial(s, i); end < s.size() && s[end] == '"') {
    // No escape: jsonb prints it as written (the check refused control bytes).
    pending_.push_back(
        add(Kind::String, static_cast<uint32_t>(i), static_cast<uint32_t>(end - i), true));
    i = end + 1;
    return;
  }
  const auto begin = static_cast<uint32_t>(text_.size());
  for (;;) {
    const size_t end = scan::jsonSpecial(s, i); // a run with nothing to decode, copied at once
    text_.append(s, i, end - i);
    i = end;
    if (i >= s.size() || s[i] == '"') {
      break;
    }
    if (s[i] != '\\') { // a control byte (JsonbCheck refuses those before this runs)
      text_.push_back(s[i++]);
      continue;
    }
    const char e = s[i + 1];
    switch (e) {
    case 'b':
      text_.push_back('\b');
      break;
    case 'f':
      text_.push_back('\f');
      break;
    case 'n':
      text_.push_back('\n');
      break;
    case 'r':
      text_.push_back('\r');
      break;
    case 't':
      text_.push_back('\t');
      break;
    case 'u': {
      uint32_t cp = static_cast<uint32_t>(jsonEscapeUnit(s, i));
      if (cp >= 0xD800 && cp <= 0xDBFF) { // JsonbCheck saw the low half follow
        const auto low = static_cast<uint32_t>(jsonEscapeUnit(s, i + 6));
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        i += 6;
      }
      appendUtf8(text_, cp);
      i += 6;
      continue;
    }
    default: // " \ /
      text_.push_back(e);
    }
    i += 2;
  }
  ++i; // the closing quote
  const uint32_t id = add(Kind::String, begin, static_cast<uint32_t>(text_.size()) - begin);
  pending_.push_back(id);
}

// numeric_in, then numeric_out: the digits with the exponent applied, the scale as written
// (digits after the point minus the exponent, never below 0), no sign on zero.
void JsonbText::number(std::string_view s, size_t& i) {
  { // A plain integer without leading zeros (not -0) comes out as written.
    size_t j = i + (s[i] == '-' ? 1 : 0);
    const size_t first = j;
    while (j < s.size() && isDigit(s[j])) {
      ++j;
    }
    const bool plain = j > first && (j == s.size() || (s[j] != '.' && s[j] != 'e' && s[j] != 'E'));
    if (plain && (s[first] != '0' || (j == first + 1 && first == i))) {
      pending_.push_back(
          add(Kind::Number, static_cast<uint32_t>(i), static_cast<uint32_t>(j - i), true));
      i = j;
      return;
    }
  }
  const bool negative = s[i] == '-';
  if (negative) {
    ++i;
  }
  digits_.clear();
  int64_t int_digits = 0;
  while (i < s.size() && isDigit(s[i])) {
    digits_.push_back(s[i++]);
    ++int_digits;
  }
  int64_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && isDigit(s[i])) {
      digits_.push_back(s[i++]);
      ++frac_digits;
    }
  }
  int64_t exponent = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool minus = false;
    if (s[i] == '+' || s[i] == '-') {
      minus = s[i] == '-';
      ++i;
    }
    while (i < s.size() && isDigit(s[i])) {
      exponent = std::min<int64_t>(exponent * 10 + (s[i++] - '0'), int64_t{1} << 40);
    }
    if (minus) {
      exponent = -exponent;
    }
  }
  const auto n = static_cast<int64_t>(digits_.size());
  const int64_t point = int_digits + exponent; // digits_[0, point) are the integer part
  const int64_t scale = std::max<int64_t>(0, frac_digits - exponent);
  const auto begin = static_cast<uint32_t>(text_.size());
  const bool zero = digits_.find_first_not_of('0') == std::string::npos;
  if (zero) { // however large the exponent: 0e1000000000 is 0
    text_.push_back('0');
    if (scale > 0) {
      text_.push_back('.');
      text_.append(static_cast<size_t>(scale), '0');
    }
    pending_.push_back(add(Kind::Number, begin, static_cast<uint32_t>(text_.size()) - begin));
    return;
  }
  if (negative) {
    text_.push_back('-');
  }
  auto digit = [&](int64_t k) { return k >= 0 && k < n ? digits_[static_cast<size_t>(k)] : '0'; };
  bool leading = true;
  for (int64_t k = 0; k < point; ++k) {
    const char d = digit(k);
    if (leading && d == '0' && k + 1 < point) {
      continue;
    }
    leading = false;
    text_.push_back(d);
  }
  if (point <= 0) {
    text_.push_back('0');
  }
  if (scale > 0) {
    text_.push_back('.');
    for (int64_t k = 0; k < scale; ++k) {
      text_.push_back(digit(point + k));
    }
  }
  const uint32_t id = add(Kind::Number, begin, static_cast<uint32_t>(text_.size()) - begin);
  pending_.push_back(id);
}

// The innermost open container is complete: its children go to members_, an object's sorted
// as jsonb keeps them (by key length, then bytes; of equal keys the last written).
void JsonbText::close() {
  const Open o = open_.back();
  open_.pop_back();
  Node& node = nodes_[o.node];
  node.begin = static_cast<uint32_t>(members_.size());
  const size_t count = pending_.size() - o.first_pending;
  if (node.kind == Kind::Array) {
    members_.insert(members_.end(), pending_.begin() + o.first_pending, pending_.end());
    node.len = static_cast<uint32_t>(count);
  } else {
    pairs_.clear();
    for (size_t k = o.first_pending; k < pending_.size(); k += 2) {
      pairs_.push_back(Pair{bytes(nodes_[pending_[k]]), static_cast<uint32_t>(k)});
    }
    std::sort(pairs_.begin(), pairs_.end(), [](const Pair& a, const Pair& b) {
      if (a.key.size() != b.key.size()) {
        return a.key.size() < b.key.size();
      }
      if (const int c = a.key.compare(b.key); c != 0) {
        return c < 0;
      }
      return a.pending < b.pending;
    });
    uint32_t kept = 0;
    for (size_t k = 0; k < pairs_.size(); ++k) {
      if (k + 1 < pairs_.size() && pairs_[k].key == pairs_[k + 1].key) {
        continue; // a later duplicate follows: it wins
      }
      members_.push_back(pending_[pairs_[k].pending]);
      members_.push_back(pending_[pairs_[k].pending + 1]);
      ++kept;
    }
    node.len = kept;
  }
  pending_.resize(o.first_pending);
  pending_.push_back(o.node);
}

void JsonbText::emitString(const Node& n, std::string& out) const {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  if (n.raw) {
    out.append(bytes(n));
    out.push_back('"');
    return;
  }
  const uint32_t end = n.begin + n.len;
  const std::string_view text(text_.data(), end);
  for (uint32_t k = n.begin; k < end; ++k) {
    // bytes printed as they are, appended at once
    const auto run = static_cast<uint32_t>(scan::jsonSpecial(text, k));
    if (run > k) {
      out.append(text_, k, run - k);
      k = run;
      if (k == end) {
        break;
      }
    }
    const auto c = static_cast<unsigned char>(text_[k]);
    switch (c) {
    case '\b':
      out.append("\\b");
      break;
    case '\f':
      out.append("\\f");
      break;
    case '\n':
      out.append("\\n");
      break;
    case '\r':
      out.append("\\r");
      break;
    case '\t':
      out.append("\\t");
      break;
    case '"':
      out.append("\\\"");
      break;
    case '\\':
      out.append("\\\\");
      break;
    default:
      if (c < 0x20) {
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 15]);
      } else {
        out.push_back(static_cast<char>(c));
      }
    }
  }
  out.push_back('"');
}

void JsonbText::render(std::string_view s, std::string& out) {
  source_ = s;
  nodes_.clear();
  text_.clear();
  pending_.clear();
  open_.clear();
  members_.clear();
  size_t i = 0;
  for (;;) {
    skipSpace(s, i);
    if (i >= s.size()) {
      break;
    }
    const char c = s[i];
    if (c == '{' || c == '[') {
      const uint32_t id = add(c == '{' ? Kind::Object : Kind::Array, 0, 0);
      open_.push_back(Open{id, static_cast<uint32_t>(pending_.size())});
      ++i;
    } else if (c == '}' || c == ']') {
      close();
      ++i;
    } else if (c == ',' || c == ':') {
      ++i;
    } else if (c == '"') {
      string(s, i);
    } else if (c == 't' || c == 'f' || c == 'n') {
      pending_.push_back(add(c == 't' ? Kind::True : c == 'f' ? Kind::False : Kind::Null, 0, 0));
      i += c == 'f' ? 5 : 4;
    } else {
      number(s, i);
    }
  }
  if (pending_.empty()) {
    return;
  }
  emit_.clear();
  emit_.push_back(Emit{pending_.back(), 0});
  while (!emit_.empty()) {
    const Emit e = emit_.back();
    const Node& n = nodes_[e.node];
    switch (n.kind) {
    case Kind::Null:
      out.append("null");
      break;
    case Kind::True:
      out.append("true");
      break;
    case Kind::False:
      out.append("false");
      break;
    case Kind::String:
      emitString(n, out);
      break;
    case Kind::Number:
      out.append(bytes(n));
      break;
    case Kind::Array:
    case Kind::Object: {
      const bool object = n.kind == Kind::Object;
      if (e.next == 0) {
        out.push_back(object ? '{' : '[');
      }
      if (e.next == n.len) {
        out.push_back(object ? '}' : ']');
        break;
      }
      if (e.next > 0) {
        out.append(", ");
      }
      emit_.back().next = e.next + 1;
      if (object) {
        emitString(nodes_[members_[n.begin + 2 * e.next]], out);
        out.append(": ");
        emit_.push_back(Emit{members_[n.begin + 2 * e.next + 1], 0});
      } else {
        emit_.push_back(Emit{members_[n.begin + e.next], 0});
      }
      continue;
    }
    }
    emit_.pop_back();
  }
}

} // namespace auditq::pipeline
