// Finding the next byte that needs attention in a run of ordinary text, 16 bytes at a time
// (SSE2, which every x86-64 CPU has; byte by byte elsewhere). COPY escaping, the jsonb check
// and the digests' canonical text each walk every byte of a ~1 KB state: asked one byte at a
// time, that was a quarter of the daemon's instructions per entry (callgrind, see
// docs/performance.md).
#pragma once

#include <cstddef>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace auditq::pipeline::scan {

// The index of the first byte at or after `i` that is '"', '\\' or below 0x20 (what a JSON
// string cannot hold as it is); s.size() when there is none.
inline size_t jsonSpecial(std::string_view s, size_t i) {
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i control = _mm_set1_epi8(0x1F);
  for (; i + 16 <= s.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    const __m128i hit =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                     _mm_cmpeq_epi8(_mm_max_epu8(v, control), control)); // v <= 0x1F, unsigned
    if (const int mask = _mm_movemask_epi8(hit); mask != 0) {
      return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    }
  }
#endif
  for (; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\' || c < 0x20) {
      return i;
    }
  }
  return s.size();
}

// The index of the first byte at or after `i` that COPY text escapes ('\\', '\n', '\r',
// '\t'); s.size() when there is none.
inline size_t copySpecial(std::string_view s, size_t i) {
#if defined(__SSE2__)
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i newline = _mm_set1_epi8('\n');
  const __m128i cr = _mm_set1_epi8('\r');
  const __m128i tab = _mm_set1_epi8('\t');
  for (; i + 16 <= s.size(); i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.data() + i));
    const __m128i hit =
        _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, backslash), _mm_cmpeq_epi8(v, newline)),
                     _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, tab)));
    if (const int mask = _mm_movemask_epi8(hit); mask != 0) {
      return i + static_cast<size_t>(__builtin_ctz(static_cast<unsigned>(mask)));
    }
  }
#endif
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
      return i;
    }
  }
  return s.size();
}

} // namespace auditq::pipeline::scan
