// COPY text escaping: copies runs of ordinary bytes in bulk, escapes the four special ones.
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

} // namespace auditq::pipeline::copy
