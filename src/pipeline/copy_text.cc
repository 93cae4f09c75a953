// COPY text escaping: copies runs of ordinary bytes in bulk, escapes the four special ones;
// and the way back, into array literals.
#include "pipeline/copy_text.h"

#include <fmt/format.h>

#include <stdexcept>

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
  for (size_t i = 0; i < rows.size(); ++i) { // ++i: past the field's '\t' or '\n'
    std::string& a = arrays[column];
    if (!first_row) {
      a.push_back(',');
    }
    if (rows.compare(i, 2, "\\N") == 0 &&
        (i + 2 == rows.size() || rows[i + 2] == '\t' || rows[i + 2] == '\n')) {
      a.append("NULL");
      i += 2;
    } else {
      // A value: COPY's escapes undone, then '"' and '\' escaped for the array syntax. Runs of
      // ordinary bytes are copied whole (jsonSpecial stops at every byte that needs a look).
      a.push_back('"');
      for (;;) {
        const size_t special = scan::jsonSpecial(rows, i);
        a.append(rows.data() + i, special - i);
        i = special;
        if (i == rows.size() || rows[i] == '\t' || rows[i] == '\n') {
          break;
        }
        char c = rows[i];
        if (c == '\\' && i + 1 < rows.size()) {
          c = rows[++i];
          c = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
        }
        if (c == '"' || c == '\\') {
          a.push_back('\\');
        }
        a.push_back(c);
        ++i;
      }
      a.push_back('"');
    }
    // Arrays of unequal length would not fail: unnest pads the short ones with NULLs, so a
    // wrong layout would write wrong rows. It is a bug of the caller's: refuse it.
    if (i < rows.size() && rows[i] == '\t') {
      if (++column == columns) {
        throw std::invalid_argument(
            fmt::format("toArrayLiterals: a row has more than {} fields", columns));
      }
    } else {
      if (column + 1 != columns) {
        throw std::invalid_argument(
            fmt::format("toArrayLiterals: a row has {} fields, not {}", column + 1, columns));
      }
      column = 0;
      first_row = false;
    }
  }
  for (auto& a : arrays) {
    a.push_back('}');
  }
}

} // namespace auditq::pipeline::copy
