// UUID parsing and printing.
#include "pipeline/uuid.h"

#include "core/text.h"

namespace auditq::pipeline {
bool parseUuid(std::string_view text, Uuid& out) {
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return false;
  }
  uint64_t words[2] = {0, 0};
  int nibble = 0;
  for (size_t i = 0; i < 36; ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      continue;
    }
    const int d = core::hexDigit(text[i]);
    if (d < 0) {
      return false;
    }
    uint64_t& w = words[nibble / 16];
    w = (w << 4) | static_cast<uint64_t>(d);
    ++nibble;
  }
  out.hi = words[0];
  out.lo = words[1];
  return true;
}

void appendUuid(std::string& out, const Uuid& id) {
  static constexpr char kHex[] = "0123456789abcdef";
  char buf[36];
  int pos = 0;
  for (int nibble = 0; nibble < 32; ++nibble) {
    if (nibble == 8 || nibble == 12 || nibble == 16 || nibble == 20) {
      buf[pos++] = '-';
    }
    const uint64_t w = nibble < 16 ? id.hi : id.lo;
    const int shift = 60 - 4 * (nibble % 16);
    buf[pos++] = kHex[(w >> shift) & 0xf];
  }
  out.append(buf, sizeof(buf));
}

} // namespace auditq::pipeline
