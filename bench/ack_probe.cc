// AckProbe: the group's pending list and last-delivered-id, read from outside the daemon.
#include "bench/ack_probe.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string_view>
#include <vector>

namespace auditq::bench {

StreamId parseStreamId(const char* text, size_t len) {
  const std::string_view s(text, len);
  const auto dash = s.find('-');
  StreamId id{0, 0};
  for (char ch : s.substr(0, dash)) {
    id.first = id.first * 10 + static_cast<uint64_t>(ch - '0');
  }
  if (dash != std::string_view::npos) {
    for (char ch : s.substr(dash + 1)) {
      id.second = id.second * 10 + static_cast<uint64_t>(ch - '0');
    }
  }
  return id;
}

namespace {

redisReply* reply(redisContext* c) {
  void* r = nullptr;
  if (redisGetReply(c, &r) != REDIS_OK || r == nullptr) {
    throw std::runtime_error("ack probe: Redis connection lost");
  }
  return static_cast<redisReply*>(r);
}

// The group's last-delivered-id from XINFO GROUPS (0-0 when the group is not there yet).
StreamId lastDelivered(const redisReply* groups, const std::string& group) {
  for (size_t g = 0; groups->type == REDIS_REPLY_ARRAY && g < groups->elements; ++g) {
    const redisReply* kv = groups->element[g];
    std::string_view name, last;
    for (size_t i = 0; i + 1 < kv->elements; i += 2) {
      const std::string_view key(kv->element[i]->str, kv->element[i]->len);
      const redisReply* v = kv->element[i + 1];
      if (key == "name") {
        name = {v->str, v->len};
      } else if (key == "last-delivered-id") {
        last = {v->str, v->len};
      }
    }
    if (name == group) {
      return parseStreamId(last.data(), last.size());
    }
  }
  return {0, 0};
}

} // namespace

void AckProbe::poll(redisContext* c) {
  if (outstanding_.empty()) {
    return;
  }
  const char* info[] = {"XINFO", "GROUPS", stream_.c_str()};
  redisAppendCommandArgv(c, 3, info, nullptr);
  redisReply* groups = reply(c);
  const StreamId delivered = lastDelivered(groups, group_);
  freeReplyObject(groups);
  // Delivered entries only: one still to be read is not pending either.
  asked_.clear();
  for (size_t i = 0; i < outstanding_.size(); ++i) {
    if (outstanding_[i].id <= delivered) {
      const char* one[] = {"XPENDING",
                           stream_.c_str(),
                           group_.c_str(),
                           outstanding_[i].text.c_str(),
                           outstanding_[i].text.c_str(),
                           "1"};
      redisAppendCommandArgv(c, 6, one, nullptr);
      asked_.push_back(i);
    }
  }
  std::vector<bool> acked(outstanding_.size(), false);
  for (size_t i : asked_) {
    redisReply* r = reply(c);
    acked[i] = r->type == REDIS_REPLY_ARRAY && r->elements == 0;
    freeReplyObject(r);
  }
  const auto now = Clock::now();
  size_t kept = 0;
  for (size_t i = 0; i < outstanding_.size(); ++i) {
    if (acked[i]) {
      latencies_.push_back(
          std::chrono::duration<double, std::milli>(now - outstanding_[i].at).count());
    } else {
      if (kept != i) { // a self-move would empty the id's text
        outstanding_[kept] = std::move(outstanding_[i]);
      }
      ++kept;
    }
  }
  outstanding_.resize(kept, Sent{});
}

double percentile(std::vector<double>& sample, double p) {
  if (sample.empty()) {
    return 0;
  }
  std::sort(sample.begin(), sample.end());
  const auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sample.size())));
  return sample[std::min(sample.size() - 1, rank == 0 ? 0 : rank - 1)];
}

} // namespace auditq::bench
