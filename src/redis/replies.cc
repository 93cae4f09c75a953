// Reply parsing: shapes checked at every level, anything unexpected skipped rather than trusted.
#include "redis/replies.h"

#include <charconv>

namespace auditq::redis {

std::string_view replyText(const redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
                          r->type == REDIS_REPLY_ERROR)
             ? std::string_view(r->str, r->len)
             : std::string_view();
}

bool isNotPrimary(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ERROR) {
    return false;
  }
  const std::string_view text = replyText(r);
  return text.starts_with("READONLY") || text.starts_with("MASTERDOWN");
}

std::optional<std::pair<std::string, int>> parseMasterAddr(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
      r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
    return std::nullopt;
  }
  const std::string_view port_text = replyText(r->element[1]);
  int port = 0;
  const auto [ptr, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port < 1 || port > 65535 ||
      r->element[0]->len == 0) {
    return std::nullopt;
  }
  return std::pair(std::string(replyText(r->element[0])), port);
}

std::string_view roleOf(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
    return {};
  }
  return replyText(r->element[0]);
}

bool isGroupGone(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_ERROR) {
    return false;
  }
  const std::string_view t = replyText(r);
  return t.starts_with("NOGROUP") || t.starts_with("UNBLOCKED");
}

size_t forEachEntry(std::string_view stream, const redisReply* entries,
                    std::vector<std::string_view>& fields,
                    const std::function<void(const pipeline::RawEntry&)>& visit) {
  if (entries == nullptr || entries->type != REDIS_REPLY_ARRAY) {
    return 0;
  }
  size_t visited = 0;
  for (size_t e = 0; e < entries->elements; ++e) {
    const redisReply* entry = entries->element[e];
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) {
      continue;
    }
    const redisReply* kv = entry->element[1];
    fields.clear();
    if (kv->type == REDIS_REPLY_ARRAY) {
      for (size_t f = 0; f < kv->elements; ++f) {
        fields.push_back(replyText(kv->element[f]));
      }
    }
    visit(pipeline::RawEntry{stream, replyText(entry->element[0]), fields, 1});
    ++visited;
  }
  return visited;
}

size_t forEachStreamEntry(const redisReply* reply, std::vector<std::string_view>& fields,
                          const std::function<void(const pipeline::RawEntry&)>& visit) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) {
    return 0; // nil: the BLOCK timed out
  }
  size_t visited = 0;
  for (size_t s = 0; s < reply->elements; ++s) {
    const redisReply* per_stream = reply->element[s];
    if (per_stream->type != REDIS_REPLY_ARRAY || per_stream->elements != 2) {
      continue;
    }
    visited +=
        forEachEntry(replyText(per_stream->element[0]), per_stream->element[1], fields, visit);
  }
  return visited;
}

void ReplyEntries::clear() {
  items_.clear();
  fields_.clear();
  entries_.clear();
}

void ReplyEntries::add(const pipeline::RawEntry& e) {
  items_.push_back(Item{e.stream, e.id, fields_.size(), e.fields.size(), e.deliveries});
  fields_.insert(fields_.end(), e.fields.begin(), e.fields.end());
}

void ReplyEntries::collectRead(const redisReply* reply) {
  clear();
  forEachStreamEntry(reply, scratch_, [this](const pipeline::RawEntry& e) { add(e); });
}

void ReplyEntries::collectEntries(std::string_view stream, const redisReply* entries) {
  clear();
  forEachEntry(stream, entries, scratch_, [this](const pipeline::RawEntry& e) { add(e); });
}

void ReplyEntries::copy() {
  owned_.clear();
  std::vector<std::string_view> f;
  for (const Item& it : items_) {
    owned_.add(it.stream, it.id,
               std::span<const std::string_view>(fields_).subspan(it.first_field, it.fields),
               it.deliveries);
  }
  clear();
  for (size_t i = 0; i < owned_.size(); ++i) {
    add(owned_.get(i, f));
  }
}

void ReplyEntries::setDeliveries(const std::vector<pipeline::PendingInfo>& counts) {
  // Both in id order: one merge pass.
  size_t c = 0;
  for (Item& it : items_) {
    const auto id = core::EntryId::parse(it.id);
    while (id && c < counts.size() && counts[c].id < *id) {
      ++c;
    }
    if (id && c < counts.size() && counts[c].id == *id) {
      it.deliveries = std::max<int64_t>(1, counts[c].deliveries);
    }
  }
}

std::span<const pipeline::RawEntry> ReplyEntries::entries() {
  entries_.clear();
  for (const Item& it : items_) {
    entries_.push_back(pipeline::RawEntry{
        it.stream, it.id,
        std::span<const std::string_view>(fields_).subspan(it.first_field, it.fields),
        it.deliveries});
  }
  return entries_;
}

std::optional<AutoclaimReply> parseAutoclaim(const redisReply* reply) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
    return std::nullopt;
  }
  AutoclaimReply out;
  out.next_cursor = replyText(reply->element[0]);
  if (!core::EntryId::parse(out.next_cursor)) {
    return std::nullopt;
  }
  out.entries = reply->element[1];
  if (reply->elements > 2 && reply->element[2]->type == REDIS_REPLY_ARRAY) {
    out.deleted = static_cast<int64_t>(reply->element[2]->elements);
  }
  return out;
}

std::vector<pipeline::PendingInfo> parsePending(const redisReply* reply) {
  std::vector<pipeline::PendingInfo> out;
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) {
    return out;
  }
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* row = reply->element[i];
    if (row->type != REDIS_REPLY_ARRAY || row->elements < 4 ||
        row->element[3]->type != REDIS_REPLY_INTEGER) {
      continue;
    }
    if (auto id = core::EntryId::parse(replyText(row->element[0]))) {
      out.push_back(pipeline::PendingInfo{*id, row->element[3]->integer});
    }
  }
  return out;
}

std::optional<GroupInfo> findGroup(const redisReply* reply, std::string_view group) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) {
    return std::nullopt;
  }
  for (size_t g = 0; g < reply->elements; ++g) {
    const redisReply* fields = reply->element[g];
    if (fields->type != REDIS_REPLY_ARRAY) {
      continue;
    }
    GroupInfo info;
    bool ours = false;
    for (size_t f = 0; f + 1 < fields->elements; f += 2) {
      const auto name = replyText(fields->element[f]);
      const redisReply* value = fields->element[f + 1];
      if (name == "name") {
        ours = replyText(value) == group;
      } else if (name == "pending" && value->type == REDIS_REPLY_INTEGER) {
        info.pending = value->integer;
      } else if (name == "lag" && value->type == REDIS_REPLY_INTEGER) {
        info.lag = value->integer;
      } else if (name == "last-delivered-id") {
        info.last_delivered = core::EntryId::parse(replyText(value));
      }
    }
    if (ours) {
      return info;
    }
  }
  return std::nullopt;
}

std::vector<ConsumerInfo> parseConsumers(const redisReply* reply) {
  std::vector<ConsumerInfo> out;
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) {
    return out;
  }
  for (size_t c = 0; c < reply->elements; ++c) {
    const redisReply* fields = reply->element[c];
    if (fields->type != REDIS_REPLY_ARRAY) {
      continue;
    }
    ConsumerInfo info;
    for (size_t f = 0; f + 1 < fields->elements; f += 2) {
      const auto name = replyText(fields->element[f]);
      const redisReply* value = fields->element[f + 1];
      if (name == "name") {
        info.name = std::string(replyText(value));
      } else if (name == "pending" && value->type == REDIS_REPLY_INTEGER) {
        info.pending = value->integer;
      } else if (name == "idle" && value->type == REDIS_REPLY_INTEGER) {
        info.idle_ms = value->integer;
      }
    }
    out.push_back(std::move(info));
  }
  return out;
}

std::optional<PendingSummary> parsePendingSummary(const redisReply* reply) {
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY || reply->elements < 2 ||
      reply->element[0]->type != REDIS_REPLY_INTEGER) {
    return std::nullopt;
  }
  PendingSummary out;
  out.count = reply->element[0]->integer;
  if (out.count > 0) {
    out.oldest = core::EntryId::parse(replyText(reply->element[1]));
  }
  return out;
}

} // namespace auditq::redis
