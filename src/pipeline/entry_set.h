// The set of stream entries this process holds (in a batch being filled, written or
// acknowledged), so that no entry is ever held twice: a re-read of the own pending list, an
// XAUTOCLAIM or a re-created group's ">" read may deliver an entry that is already on its way.
// Open addressing with linear probing and backward-shift deletion: no allocation per entry
// once the table has grown to the most entries held at once.
#pragma once

#include <cstdint>
#include <vector>

#include "core/entry_id.h"

namespace auditq::pipeline {

struct EntryKey {
  uint32_t stream = 0; // index into consumer.streams
  core::EntryId id;
  bool operator==(const EntryKey&) const = default;
};

class EntrySet {
public:
  bool contains(const EntryKey& key) const {
    if (size_ == 0) {
      return false;
    }
    for (size_t i = home(key);; i = next(i)) {
      const Cell& c = cells_[i];
      if (!c.used) {
        return false;
      }
      if (c.key == key) {
        return true;
      }
    }
  }

  // Adds `key`; false when it was already there.
  bool insert(const EntryKey& key) {
    if ((size_ + 1) * 2 > cells_.size()) {
      grow();
    }
    for (size_t i = home(key);; i = next(i)) {
      Cell& c = cells_[i];
      if (!c.used) {
        c = Cell{key, true};
        ++size_;
        return true;
      }
      if (c.key == key) {
        return false;
      }
    }
  }

  // Removes `key` if present. Backward shift keeps every probe chain unbroken without
  // tombstones, so lookups never slow down as entries come and go.
  void erase(const EntryKey& key) {
    if (size_ == 0) {
      return;
    }
    size_t i = home(key);
    for (;; i = next(i)) {
      if (!cells_[i].used) {
        return;
      }
      if (cells_[i].key == key) {
        break;
      }
    }
    for (size_t j = next(i);; j = next(j)) {
      if (!cells_[j].used) {
        break;
      }
      const size_t h = home(cells_[j].key);
      // Move cells_[j] into the hole at i unless its home lies cyclically in (i, j].
      const bool stays = i <= j ? (i < h && h <= j) : (i < h || h <= j);
      if (!stays) {
        cells_[i] = cells_[j];
        i = j;
      }
    }
    cells_[i].used = false;
    --size_;
  }

  size_t size() const { return size_; }
  void clear() {
    for (auto& c : cells_) {
      c.used = false;
    }
    size_ = 0;
  }

private:
  struct Cell {
    EntryKey key;
    bool used = false;
  };

  size_t home(const EntryKey& k) const {
    uint64_t h = k.id.ms * 0x9E3779B97F4A7C15ULL ^ (k.id.seq + (uint64_t{k.stream} << 48));
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    return static_cast<size_t>(h) & (cells_.size() - 1);
  }
  size_t next(size_t i) const { return (i + 1) & (cells_.size() - 1); }

  void grow() {
    std::vector<Cell> old = std::move(cells_);
    cells_.assign(old.empty() ? 64 : old.size() * 2, Cell{});
    size_ = 0;
    for (const Cell& c : old) {
      if (c.used) {
        insert(c.key);
      }
    }
  }

  std::vector<Cell> cells_;
  size_t size_ = 0;
};

} // namespace auditq::pipeline
