// COPY text escaping: copies runs of ordinary bytes in bulk, escapes the four special ones.
#include "pipeline/copy_text.h"

namespace auditq::pipeline::copy {

void appendEscaped(std::string& out, std::string_view value) {
  size_t run_start = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    const char* escape = nullptr;
    switch (c) {
    case '\\':
      escape = "\\\\";
      break;
    case '\n':
      escape = "\\n";
      break;
    case '\r':
      escape = "\\r";
      break;
    case '\t':
      escape = "\\t";
      break;
    default:
      continue;
    }
    out.append(value.data() + run_start, i - run_start);
    out.append(escape, 2);
    run_start = i + 1;
  }
  out.append(value.data() + run_start, value.size() - run_start);
}

} // namespace auditq::pipeline::copy
