// The Redis model's commands.
#include "sim/redis_model.h"

namespace auditq::sim {

EntryId RedisModel::xadd(const std::string& stream, std::vector<std::string> fields,
                         int64_t now_ms) {
  StreamState& s = streams_[stream];
  EntryId id{static_cast<uint64_t>(now_ms), 0};
  if (!(s.last_id < id)) {
    id = EntryId{s.last_id.ms, s.last_id.seq + 1};
  }
  s.last_id = id;
  s.entries[id] = StoredEntry{std::move(fields)};
  return id;
}

bool RedisModel::createGroup(const std::string& stream, const std::string& id) {
  StreamState& s = streams_[stream]; // MKSTREAM
  if (s.group) {
    return false;
  }
  GroupState g;
  if (id == "$") {
    g.last_delivered = s.last_id;
  } else if (id != "0") {
    g.last_delivered = *EntryId::parse(id);
  }
  s.group = g;
  return true;
}

bool RedisModel::groupExists(const std::string& stream) const {
  auto it = streams_.find(stream);
  return it != streams_.end() && it->second.group.has_value();
}

int64_t RedisModel::entriesAfter(const std::string& stream, const EntryId& id) const {
  auto it = streams_.find(stream);
  if (it == streams_.end()) {
    return 0;
  }
  int64_t n = 0;
  for (auto e = it->second.entries.upper_bound(id); e != it->second.entries.end(); ++e) {
    ++n;
  }
  return n;
}

bool RedisModel::readNew(const std::vector<std::string>& streams, const std::string& consumer,
                         size_t count, int64_t now, std::vector<ReplyEntry>& out) {
  for (const auto& name : streams) {
    if (!groupExists(name)) {
      return false;
    }
  }
  for (const auto& name : streams) {
    StreamState& s = streams_[name];
    GroupState& g = *s.group;
    size_t n = 0;
    for (auto e = s.entries.upper_bound(g.last_delivered); e != s.entries.end() && n < count;
         ++e, ++n) {
      g.last_delivered = e->first;
      g.pel[e->first] = PendingEntry{consumer, 1, now};
      out.push_back(ReplyEntry{name, e->first, &e->second.fields, 1});
    }
  }
  return true;
}

bool RedisModel::readPending(const std::string& stream, const std::string& consumer,
                             const EntryId& after, size_t count, int64_t now,
                             std::vector<ReplyEntry>& out) {
  if (!groupExists(stream)) {
    return false;
  }
  StreamState& s = streams_[stream];
  size_t n = 0;
  for (auto p = s.group->pel.upper_bound(after); p != s.group->pel.end() && n < count; ++p) {
    if (p->second.consumer != consumer) {
      continue;
    }
    ++n;
    p->second.deliveries++;
    p->second.delivered_at = now;
    auto e = s.entries.find(p->first);
    out.push_back(ReplyEntry{stream, p->first, e == s.entries.end() ? nullptr : &e->second.fields,
                             p->second.deliveries});
  }
  return true;
}

bool RedisModel::listPending(const std::string& stream, const std::string& consumer,
                             const std::optional<EntryId>& after, size_t count,
                             std::vector<std::pair<EntryId, int64_t>>& out) const {
  if (!groupExists(stream)) {
    return false;
  }
  const GroupState& g = *streams_.at(stream).group;
  auto p = after ? g.pel.upper_bound(*after) : g.pel.begin();
  for (; p != g.pel.end() && out.size() < count; ++p) {
    if (p->second.consumer == consumer) {
      out.emplace_back(p->first, p->second.deliveries);
    }
  }
  return true;
}

bool RedisModel::autoclaim(const std::string& stream, const std::string& consumer, int64_t min_idle,
                           const EntryId& cursor, size_t count, int64_t now,
                           std::vector<ReplyEntry>& out, EntryId& next, int64_t& deleted) {
  if (!groupExists(stream)) {
    return false;
  }
  StreamState& s = streams_[stream];
  GroupState& g = *s.group;
  next = EntryId{};
  deleted = 0;
  size_t claimed = 0;
  size_t scanned = 0;
  for (auto p = g.pel.lower_bound(cursor); p != g.pel.end();) {
    if (claimed == count || scanned == count * 10) {
      next = p->first;
      break;
    }
    ++scanned;
    if (now - p->second.delivered_at < min_idle) {
      ++p;
      continue;
    }
    auto e = s.entries.find(p->first);
    if (e == s.entries.end()) {
      ++deleted;
      p = g.pel.erase(p);
      continue;
    }
    p->second.consumer = consumer;
    p->second.deliveries++;
    p->second.delivered_at = now;
    out.push_back(ReplyEntry{stream, p->first, &e->second.fields, p->second.deliveries});
    ++claimed;
    ++p;
  }
  return true;
}

bool RedisModel::claimJustId(const std::string& stream, const std::string& consumer,
                             const std::vector<EntryId>& ids, int64_t now) {
  if (!groupExists(stream)) {
    return false;
  }
  GroupState& g = *streams_[stream].group;
  for (const auto& id : ids) {
    auto p = g.pel.find(id);
    if (p != g.pel.end()) {
      p->second.consumer = consumer;
      p->second.delivered_at = now;
    }
  }
  return true;
}

bool RedisModel::ack(const std::string& stream, const std::vector<EntryId>& ids) {
  if (!groupExists(stream)) {
    return false;
  }
  GroupState& g = *streams_[stream].group;
  for (const auto& id : ids) {
    g.pel.erase(id);
  }
  return true;
}

size_t RedisModel::pendingCount() const {
  size_t n = 0;
  for (const auto& [name, s] : streams_) {
    n += s.group ? s.group->pel.size() : 0;
  }
  return n;
}

} // namespace auditq::sim
