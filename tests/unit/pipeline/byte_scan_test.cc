// The 16-bytes-at-a-time scans against the byte-at-a-time definition: every special byte at
// every position of strings long enough to cross several blocks and end in a partial one.
#include "pipeline/byte_scan.h"

#include <gtest/gtest.h>

#include <string>

namespace auditq::pipeline {
namespace {

size_t slowJson(std::string_view s, size_t i) {
  for (; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\' || c < 0x20) {
      return i;
    }
  }
  return s.size();
}

size_t slowCopy(std::string_view s, size_t i) {
  for (; i < s.size(); ++i) {
    if (s[i] == '\\' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
      return i;
    }
  }
  return s.size();
}

// Ordinary bytes, UTF-8 and 0x7F-0xFF among them (unsigned comparison: none is below 0x20).
std::string filler(size_t n) {
  static const std::string kBytes = "abc {}[]:,0123456789\x7F\x80\xC3\xA9\xE2\x82\xAC\xFF/'";
  std::string s;
  for (size_t k = 0; k < n; ++k) {
    s.push_back(kBytes[(k * 7) % kBytes.size()]);
  }
  return s;
}

TEST(ByteScan, FindsEverySpecialByteAtEveryPositionFromEveryStart) {
  std::string specials = "\"\\\n\r\t";
  for (int c = 0; c < 0x20; ++c) {
    specials.push_back(static_cast<char>(c));
  }
  for (size_t len = 0; len <= 50; ++len) {
    const std::string plain = filler(len);
    for (size_t from = 0; from <= len; ++from) {
      ASSERT_EQ(scan::jsonSpecial(plain, from), len) << len << " " << from;
      ASSERT_EQ(scan::copySpecial(plain, from), len) << len << " " << from;
    }
    for (size_t at = 0; at < len; ++at) {
      for (char special : specials) {
        std::string s = plain;
        s[at] = special;
        for (size_t from = 0; from <= len; from += 3) {
          ASSERT_EQ(scan::jsonSpecial(s, from), slowJson(s, from))
              << "len " << len << " at " << at << " byte " << int(special) << " from " << from;
          ASSERT_EQ(scan::copySpecial(s, from), slowCopy(s, from))
              << "len " << len << " at " << at << " byte " << int(special) << " from " << from;
        }
      }
    }
  }
}

TEST(ByteScan, FindsTheFirstOfSeveral) {
  const std::string s = filler(40) + "\t" + filler(5) + "\"" + filler(20) + "\\";
  EXPECT_EQ(scan::jsonSpecial(s, 0), 40u);
  EXPECT_EQ(scan::jsonSpecial(s, 41), 46u);
  EXPECT_EQ(scan::jsonSpecial(s, 47), 67u);
  EXPECT_EQ(scan::copySpecial(s, 0), 40u);
  EXPECT_EQ(scan::copySpecial(s, 41), 67u);
}

} // namespace
} // namespace auditq::pipeline
