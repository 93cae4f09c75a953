// Timestamp parsing and printing with civil-date arithmetic (Howard Hinnant's algorithms).
#include "pipeline/timestamp.h"

namespace auditq::pipeline {
namespace {

constexpr int64_t kMinEpochUs = -62135596800LL * 1000000;          // 0001-01-01T00:00:00Z
constexpr int64_t kMaxEpochUs = 253402300799LL * 1000000 + 999999; // 9999-12-31T23:59:59.999999Z

int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civilFromDays(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2 ? 1 : 0;
}

bool isLeap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned daysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at `pos`.
bool digits(std::string_view s, size_t pos, size_t n, unsigned& out) {
  if (pos + n > s.size()) {
    return false;
  }
  out = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') {
      return false;
    }
    out = out * 10 + static_cast<unsigned>(c - '0');
  }
  return true;
}

void appendDigits(std::string& out, uint64_t v, int width) {
  char buf[20];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out.append(buf, static_cast<size_t>(width));
}

} // namespace

bool parseEpochMillis(std::string_view text, int64_t& epoch_us) {
  if (text.empty() || text.size() > 15) {
    return false;
  }
  int64_t ms = 0;
  for (char c : text) {
    if (c < '0' || c > '9') {
      return false;
    }
    ms = ms * 10 + (c - '0');
  }
  if (ms * 1000 > kMaxEpochUs) {
    return false;
  }
  epoch_us = ms * 1000;
  return true;
}

bool parseRfc3339(std::string_view s, int64_t& epoch_us) {
  unsigned year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!digits(s, 0, 4, year) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, month) ||
      s[7] != '-' || !digits(s, 8, 2, day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, hour) || s[13] != ':' || !digits(s, 14, 2, minute) || s[16] != ':' ||
      !digits(s, 17, 2, second)) {
    return false;
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) ||
      hour > 23 || minute > 59 || second > 60) {
    return false;
  }
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const size_t start = pos;
    int64_t scale = 100000;
    bool round_up = false;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      const int digit = s[pos] - '0';
      if (scale > 0) {
        micros += digit * scale;
        scale /= 10;
      } else if (pos == start + 6) {
        round_up = digit >= 5;
      }
      ++pos;
    }
    if (pos == start) {
      return false;
    }
    micros += round_up ? 1 : 0;
  }
  if (pos >= s.size()) {
    return false;
  }
  int64_t offset_s = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    unsigned oh = 0, om = 0;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
      return false;
    }
    offset_s = (s[pos] == '+' ? 1 : -1) * static_cast<int64_t>(oh * 3600 + om * 60);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size()) {
    return false;
  }
  const int64_t days = daysFromCivil(year, month, day);
  const int64_t secs =
      days * 86400 + int64_t{hour} * 3600 + int64_t{minute} * 60 + second - offset_s;
  const int64_t us = secs * 1000000 + micros;
  if (us < kMinEpochUs || us > kMaxEpochUs) {
    return false;
  }
  epoch_us = us;
  return true;
}

bool parseTimestamp(std::string_view text, int64_t& epoch_us) {
  if (!text.empty() && text.size() <= 15 && text.find_first_not_of("0123456789") == text.npos) {
    return parseEpochMillis(text, epoch_us);
  }
  return parseRfc3339(text, epoch_us);
}

void appendTimestamp(std::string& out, int64_t epoch_us) {
  int64_t secs = epoch_us / 1000000;
  int64_t micros = epoch_us % 1000000;
  if (micros < 0) {
    micros += 1000000;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t rem = secs % 86400;
  if (rem < 0) {
    rem += 86400;
    days -= 1;
  }
  int64_t y = 0;
  unsigned m = 0, d = 0;
  civilFromDays(days, y, m, d);
  appendDigits(out, static_cast<uint64_t>(y), 4);
  out.push_back('-');
  appendDigits(out, m, 2);
  out.push_back('-');
  appendDigits(out, d, 2);
  out.push_back(' ');
  appendDigits(out, static_cast<uint64_t>(rem / 3600), 2);
  out.push_back(':');
  appendDigits(out, static_cast<uint64_t>(rem / 60 % 60), 2);
  out.push_back(':');
  appendDigits(out, static_cast<uint64_t>(rem % 60), 2);
  out.push_back('.');
  appendDigits(out, static_cast<uint64_t>(micros), 6);
  out.append("+00");
}

} // namespace auditq::pipeline
