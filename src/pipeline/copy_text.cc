// COPY text escaping: copies runs of ordinary bytes in bulk, escapes the four special ones;
// and the way back, into array literals.
#include "pipeline/copy_text.h"

#include "pipeline/byte_scan.h"

namespace auditq::pipeline::copy {

void appendEscaped(std::string& out, std::string_view value) {
  size_t run_start = 0;
  for (size_t i = scan::copySpecial(value, 0); i < value.size();
       i = scan::copySpecial(value, run_start)) {
    out.append(value.data() + run_start, i - run_start);
    const char c = value[i];
    out.push_back('\\');
    out.push_back(c == '\\' ? '\\' : c == '\n' ? 'n' : c == '\r' ? 'r' : 't');
    run_start = i + 1;
  }
  out.append(value.data() + run_start, value.size() - run_start);
}

void toArrayLiterals(std::string_view rows, size_t columns, std::vector<std::string>& arrays) {
  arrays.resize(columns);
  for (auto& a : arrays) {
    a.assign(1, '{');
  }
  size_t column = 0;
  bool first_row = true;
  for (size_t i = 0; i < rows.size();) {
    std::string& a = arrays[column];
    if (!first_row) {
      a.push_back(',');
    }
    if (rows.compare(i, 2, "\\N") == 0 &&
        (i + 2 == rows.size() || rows[i + 2] == '\t' || rows[i + 2] == '\n')) {
      a.append("NULL");
      i += 2;
    } else {
      // A value: COPY's escapes undone, then '"' and '\' escaped for the array syntax.
      a.push_back('"');
      for (; i < rows.size() && rows[i] != '\t' && rows[i] != '\n'; ++i) {
        char c = rows[i];
        if (c == '\\' && i + 1 < rows.size()) {
          c = rows[++i];
          c = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
        }
        if (c == '"' || c == '\\') {
          a.push_back('\\');
        }
        a.push_back(c);
      }
      a.push_back('"');
    }
    if (i < rows.size() && rows[i] == '\t') {
      ++column;
      ++i;
    } else { // end of the row
      column = 0;
      first_row = false;
      ++i;
    }
    if (column >= columns) { // more fields than columns: the caller's layout is wrong
      column = columns - 1;
    }
  }
  for (auto& a : arrays) {
    a.push_back('}');
  }
}

} // namespace auditq::pipeline::copy
