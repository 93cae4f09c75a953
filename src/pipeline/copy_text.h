// Encoding values for PostgreSQL's COPY text format: tab-separated columns, \N for NULL, and
// backslash escapes for backslash, newline, carriage return and tab inside a value; and the
// same rows turned column-wise into array literals, for statements that read them with unnest.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace auditq::pipeline::copy {

// Appends `value` escaped for a COPY text column.
void appendEscaped(std::string& out, std::string_view value);

inline void appendNull(std::string& out) {
  out.append("\\N");
}

inline void appendInt(std::string& out, int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  (void)ec; // 24 bytes always hold an int64
  out.append(buf, end);
}

template <typename Opt>
void appendOptionalInt(std::string& out, const Opt& v) {
  if (v) {
    appendInt(out, *v);
  } else {
    appendNull(out);
  }
}

inline void tab(std::string& out) {
  out.push_back('\t');
}
inline void endRow(std::string& out) {
  out.push_back('\n');
}

// Rows in COPY text format (as rendered above: each line ends in '\n', `columns` fields each)
// as one array literal per column, "{...}" with every value double-quoted and NULL for \N:
// `arrays` is resized to `columns` and each is overwritten, keeping its capacity. A row with
// more or fewer fields than `columns` throws std::invalid_argument (a caller's bug).
void toArrayLiterals(std::string_view rows, size_t columns, std::vector<std::string>& arrays);

} // namespace auditq::pipeline::copy
