// A flat open-addressing map from session UUID to a slot number, cleared in O(1) by bumping a
// generation, so collapsing a batch to one state per session allocates nothing per entry.
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/uuid.h"

namespace auditq::pipeline {

class SessionIndex {
public:
  // Forgets every key; sizes the table for up to `max_keys` keys (grows only).
  void reset(size_t max_keys) {
    size_t want = 16;
    while (want < max_keys * 2) {
      want *= 2;
    }
    if (want > cells_.size()) {
      cells_.assign(want, Cell{});
      generation_ = 1;
    } else if (++generation_ == 0) { // wrapped: old cells could look current
      cells_.assign(cells_.size(), Cell{});
      generation_ = 1;
    }
  }

  // Returns the slot for `key`, storing `new_slot` if the key is new (then `inserted` is true).
  // Precondition: fewer than max_keys keys since reset.
  uint32_t findOrInsert(const Uuid& key, uint32_t new_slot, bool& inserted) {
    const size_t mask = cells_.size() - 1;
    size_t i = static_cast<size_t>((key.hi ^ (key.lo * 0x9E3779B97F4A7C15ULL)) >> 7) & mask;
    for (;; i = (i + 1) & mask) {
      Cell& c = cells_[i];
      if (c.generation != generation_) {
        c = Cell{key, new_slot, generation_};
        inserted = true;
        return new_slot;
      }
      if (c.key == key) {
        inserted = false;
        return c.slot;
      }
    }
  }

private:
  struct Cell {
    Uuid key;
    uint32_t slot = 0;
    uint32_t generation = 0;
  };
  std::vector<Cell> cells_;
  uint32_t generation_ = 1;
};

} // namespace auditq::pipeline
