// The entries of a batch exactly as Redis delivered them (stream, id, fields, delivery count),
// packed into one reusable buffer. A batch keeps them so that a batch PostgreSQL rejects can
// be split and re-decoded (pg rows are already collapsed per session and cannot be split), and
// so that dead letters can be copied to a Redis stream after the commit.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace auditq::pipeline {

struct RawEntry {
  std::string_view stream;
  std::string_view id;
  std::span<const std::string_view> fields; // name, value, ...
  int64_t deliveries = 1;
  bool capped = false; // fields cut to a budget (a too_large entry): never decoded again
};

class RawEntries {
public:
  void add(std::string_view stream, std::string_view id, std::span<const std::string_view> fields,
           int64_t deliveries) {
    addCapped(stream, id, fields, deliveries, SIZE_MAX, false);
  }

  // Keeps each field up to `max_field_bytes` and all of them up to 16 times that: an entry too
  // large to write is never held whole (its dead letter row has the digests of what was cut).
  // `capped` marks an entry already cut.
  void addCapped(std::string_view stream, std::string_view id,
                 std::span<const std::string_view> fields, int64_t deliveries,
                 size_t max_field_bytes, bool capped = false) {
    const size_t budget = max_field_bytes == SIZE_MAX ? SIZE_MAX : max_field_bytes * 16;
    Record r{static_cast<uint32_t>(ends_.size()), 0, deliveries, capped};
    push(stream);
    push(id);
    size_t used = 0;
    for (auto f : fields) {
      const size_t keep = std::min(f.size(), max_field_bytes);
      if (used + keep > budget) {
        r.capped = true;
        break;
      }
      r.capped = r.capped || keep < f.size();
      push(f.substr(0, keep));
      used += keep;
      ++r.fields;
    }
    records_.push_back(r);
  }

  size_t size() const { return records_.size(); }
  size_t bytes() const { return text_.size(); }

  // Entry `i`; the views stay valid until the next add() or clear(). `scratch` holds the field
  // views (reused by the caller to avoid an allocation per call).
  RawEntry get(size_t i, std::vector<std::string_view>& scratch) const {
    const Record& r = records_[i];
    scratch.clear();
    for (uint32_t f = 0; f < r.fields; ++f) {
      scratch.push_back(piece(r.first + 2 + f));
    }
    return RawEntry{piece(r.first), piece(r.first + 1), scratch, r.deliveries, r.capped};
  }

  void clear() {
    text_.clear();
    ends_.clear();
    records_.clear();
  }

private:
  struct Record {
    uint32_t first; // index into ends_ of the stream name; id and fields follow
    uint32_t fields;
    int64_t deliveries;
    bool capped;
  };
  void push(std::string_view s) {
    text_.append(s);
    ends_.push_back(text_.size());
  }
  std::string_view piece(uint32_t k) const {
    const size_t begin = k == 0 ? 0 : ends_[k - 1];
    return std::string_view(text_).substr(begin, ends_[k] - begin);
  }

  std::string text_;
  std::vector<size_t> ends_;
  std::vector<Record> records_;
};

} // namespace auditq::pipeline
