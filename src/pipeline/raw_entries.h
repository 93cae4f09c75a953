// The entries of a batch exactly as Redis delivered them (stream, id, fields, delivery count),
// packed into one reusable buffer. A batch keeps them so that a batch PostgreSQL rejects can
// be split and re-decoded (pg rows are already collapsed per session and cannot be split), and
// so that dead letters can be copied to a Redis stream after the commit.
#pragma once

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
};

class RawEntries {
public:
  void add(std::string_view stream, std::string_view id, std::span<const std::string_view> fields,
           int64_t deliveries) {
    Record r{static_cast<uint32_t>(ends_.size()), static_cast<uint32_t>(fields.size()), deliveries};
    push(stream);
    push(id);
    for (auto f : fields) {
      push(f);
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
    return RawEntry{piece(r.first), piece(r.first + 1), scratch, r.deliveries};
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
