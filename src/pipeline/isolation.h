// Isolating the entries PostgreSQL refuses (SQLSTATE 22, 23, 54) by halving the batch: a part
// that commits is done, a refused part is halved again, a refused single entry goes to the dead
// letters. With one poison entry in n that is about 2*log2(n) small transactions, never n.
// Pure: the writer asks for the next part, writes it, and reports what PostgreSQL said.
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

namespace auditq::pipeline {

class IsolationPlan {
public:
  struct Range {
    size_t begin = 0;
    size_t end = 0; // exclusive
    size_t size() const { return end - begin; }
    bool operator==(const Range&) const = default;
  };

  // For a batch of `entries` (>= 1) that PostgreSQL refused as a whole.
  explicit IsolationPlan(size_t entries) {
    if (entries == 1) {
      todo_.push_back({0, 1});
    } else {
      split({0, entries});
    }
  }

  // The part to write next; nullopt once every part is decided.
  std::optional<Range> next() const {
    return todo_.empty() ? std::nullopt : std::optional(todo_.back());
  }
  // next() committed.
  void committed() { todo_.pop_back(); }
  // next() was refused for its rows. Returns true when it is a single entry: dead-letter it
  // (it is then decided); a larger part is halved and its halves come next.
  bool refused() {
    const Range r = todo_.back();
    todo_.pop_back();
    if (r.size() == 1) {
      return true;
    }
    split(r);
    return false;
  }

private:
  void split(Range r) {
    const size_t mid = r.begin + r.size() / 2;
    todo_.push_back({mid, r.end}); // the first half goes first
    todo_.push_back({r.begin, mid});
  }
  std::vector<Range> todo_;
};

} // namespace auditq::pipeline
