// Appending a JSON string literal (quoted, escaped) to a std::string or fmt::memory_buffer.
// Bytes are copied as they are: the caller guarantees UTF-8 where JSON requires it.
#pragma once

#include <string_view>

namespace auditq::core {

template <typename Buffer>
void appendJsonString(Buffer& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
    case '"':
    case '\\':
      out.push_back('\\');
      out.push_back(c);
      break;
    case '\n':
      out.push_back('\\');
      out.push_back('n');
      break;
    case '\t':
      out.push_back('\\');
      out.push_back('t');
      break;
    case '\r':
      out.push_back('\\');
      out.push_back('r');
      break;
    default:
      if (u < 0x20) {
        for (char h : {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]}) {
          out.push_back(h);
        }
      } else {
        out.push_back(c);
      }
    }
  }
  out.push_back('"');
}

} // namespace auditq::core
