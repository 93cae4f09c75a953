// A flat open-addressing map from session UUID to a slot number, cleared in O(1) by bumping a
// generation, so collapsing a batch to one state per session allocates nothing per entry once
// the table has grown. It grows by itself at half load: no caller-side precondition can make a
// probe loop forever (a batch may hold more entries than the limits that sized it).
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/uuid.h"

namespace auditq::pipeline {

class SessionIndex {
public:
  // Forgets every key; sizes the table for `expected_keys` keys (it never shrinks).
  void reset(size_t expected_keys) {
    size_t want = 16;
    while (want < expected_keys * 2) {
      want *= 2;
    }
    size_ = 0;
    if (want > cells_.size()) {
      cells_.assign(want, Cell{});
      generation_ = 1;
    } else if (++generation_ == 0) { // wrapped: old cells could look current
      cells_.assign(cells_.size(), Cell{});
      generation_ = 1;
    }
  }

  // Returns the slot for `key`, storing `new_slot` if the key is new (then `inserted` is true).
  uint32_t findOrInsert(const Uuid& key, uint32_t new_slot, bool& inserted) {
    if (cells_.empty() || (size_ + 1) * 2 > cells_.size()) {
      grow();
    }
    Cell& c = probe(key);
    if (c.generation == generation_) {
      inserted = false;
      return c.slot;
    }
    c = Cell{key, new_slot, generation_};
    ++size_;
    inserted = true;
    return new_slot;
  }

  size_t size() const { return size_; }

private:
  struct Cell {
    Uuid key;
    uint32_t slot = 0;
    uint32_t generation = 0;
  };

  // The cell holding `key`, else the free cell where it belongs. The table is never full.
  Cell& probe(const Uuid& key) {
    const size_t mask = cells_.size() - 1;
    size_t i = static_cast<size_t>((key.hi ^ (key.lo * 0x9E3779B97F4A7C15ULL)) >> 7) & mask;
    for (;; i = (i + 1) & mask) {
      Cell& c = cells_[i];
      if (c.generation != generation_ || c.key == key) {
        return c;
      }
    }
  }

  void grow() {
    std::vector<Cell> old = std::move(cells_);
    const uint32_t old_generation = generation_;
    cells_.assign(old.empty() ? 16 : old.size() * 2, Cell{});
    generation_ = 1;
    for (const Cell& c : old) {
      if (c.generation == old_generation) {
        probe(c.key) = Cell{c.key, c.slot, generation_};
      }
    }
  }

  std::vector<Cell> cells_;
  uint32_t generation_ = 1;
  size_t size_ = 0;
};

} // namespace auditq::pipeline
