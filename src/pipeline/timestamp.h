// Event times: epoch milliseconds or RFC 3339 with an offset, to epoch microseconds (UTC), and
// back to the text PostgreSQL's timestamptz input reads without ambiguity.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace auditq::pipeline {

// Years 0001..9999 only, so every accepted value is also a valid timestamptz.
// Epoch milliseconds: decimal digits, 0..253402300799999. RFC 3339: YYYY-MM-DD('T'|'t'|' ')
// HH:MM:SS[.fraction](Z|z|+HH:MM|-HH:MM); the fraction is rounded to microseconds.
bool parseTimestamp(std::string_view text, int64_t& epoch_us);
bool parseEpochMillis(std::string_view text, int64_t& epoch_us);
bool parseRfc3339(std::string_view text, int64_t& epoch_us);

// Appends "YYYY-MM-DD HH:MM:SS.ffffff+00".
void appendTimestamp(std::string& out, int64_t epoch_us);

} // namespace auditq::pipeline
