// XREADGROUP / XGROUP / XACK over the asynchronous connections.
#include "redis/stream_reader.h"

#include <fmt/format.h>

#include "core/log.h"

namespace auditq::redis {
namespace {

bool isError(redisReply* r, std::string_view prefix) {
  return r != nullptr && r->type == REDIS_REPLY_ERROR &&
         std::string_view(r->str, r->len).starts_with(prefix);
}

std::string_view text(redisReply* r) {
  return r != nullptr && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
                          r->type == REDIS_REPLY_ERROR)
             ? std::string_view(r->str, r->len)
             : std::string_view();
}

} // namespace

StreamReader::StreamReader(boost::asio::io_context& io, const config::RedisConfig& redis,
                           const config::ConsumerConfig& consumer, std::string consumer_name)
    : io_(io), redis_(redis), consumer_(consumer), consumer_name_(std::move(consumer_name)) {}

bool StreamReader::connected() const {
  return reader_ && reader_->connected() && control_ && control_->connected();
}

void StreamReader::stop() {
  if (reader_) {
    reader_->close();
  }
  if (control_) {
    control_->close();
  }
}

void StreamReader::cancelRead() {
  if (reader_) {
    reader_->close();
  }
}

void StreamReader::start(Done done) {
  stop();
  const Endpoint ep = endpointFrom(redis_);
  const std::chrono::milliseconds timeout(redis_.connect_timeout_ms);
  reader_ = AsyncConnection::create(io_, ep, timeout);
  control_ = AsyncConnection::create(io_, ep, timeout);
  // Every start drains our own pending list again: entries delivered to us before a crash or
  // a reconnect are still ours and come first.
  pending_cursor_.assign(consumer_.streams.size(), "0");
  auto shared_done = std::make_shared<Done>(std::move(done));
  reader_->connect([this, shared_done](std::string_view error) {
    if (!error.empty()) {
      (*shared_done)(error);
      return;
    }
    control_->connect([this, shared_done](std::string_view error2) {
      if (!error2.empty()) {
        (*shared_done)(error2);
        return;
      }
      createGroups(0, *shared_done);
    });
  });
}

void StreamReader::createGroups(size_t index, const Done& done) {
  if (index == consumer_.streams.size()) {
    done("");
    return;
  }
  const std::string& stream = consumer_.streams[index];
  std::string_view args[] = {"XGROUP",        "CREATE",           stream,
                             consumer_.group, consumer_.start_id, "MKSTREAM"};
  control_->command(
      args, std::chrono::milliseconds(redis_.command_timeout_ms),
      [this, index, done](redisReply* reply, std::string_view error) {
        if (reply == nullptr) {
          done(error);
        } else if (reply->type == REDIS_REPLY_ERROR && !isError(reply, "BUSYGROUP")) {
          done(fmt::format("XGROUP CREATE {}: {}", consumer_.streams[index], text(reply)));
        } else {
          if (reply->type != REDIS_REPLY_ERROR) {
            core::log::info("consumer_group_created", {{"stream", consumer_.streams[index]},
                                                       {"group", consumer_.group},
                                                       {"start_id", consumer_.start_id}});
          }
          createGroups(index + 1, done);
        }
      });
}

void StreamReader::recreateGroup(std::string_view stream, const std::function<void()>& then) {
  ++groups_recreated_;
  core::log::error("consumer_group_missing",
                   {{"stream", stream},
                    {"group", consumer_.group},
                    {"action", "recreating; entries Redis lost with it cannot be read"}});
  std::string_view args[] = {"XGROUP",        "CREATE",           stream,
                             consumer_.group, consumer_.start_id, "MKSTREAM"};
  control_->command(args, std::chrono::milliseconds(redis_.command_timeout_ms),
                    [then](redisReply*, std::string_view) { then(); });
}

void StreamReader::read(size_t count, std::chrono::milliseconds block, EntryVisitor visit,
                        std::function<void(size_t, std::string_view)> done) {
  // Which streams still have our own pending entries to drain?
  size_t draining = consumer_.streams.size();
  for (size_t i = 0; i < pending_cursor_.size(); ++i) {
    if (!pending_cursor_[i].empty()) {
      draining = i;
      break;
    }
  }
  args_.clear();
  arg_storage_.clear();
  arg_storage_.push_back(std::to_string(std::max<size_t>(1, count)));
  arg_storage_.push_back(std::to_string(std::max<int64_t>(1, block.count())));
  args_.insert(args_.end(),
               {"XREADGROUP", "GROUP", consumer_.group, consumer_name_, "COUNT", arg_storage_[0]});
  const bool live = draining == consumer_.streams.size();
  if (live) {
    if (block.count() > 0) {
      args_.insert(args_.end(), {"BLOCK", arg_storage_[1]});
    }
    args_.push_back("STREAMS");
    for (const auto& s : consumer_.streams) {
      args_.push_back(s);
    }
    for (size_t i = 0; i < consumer_.streams.size(); ++i) {
      args_.push_back(">");
    }
  } else {
    args_.insert(args_.end(), {"STREAMS", consumer_.streams[draining], pending_cursor_[draining]});
  }
  const auto timeout = (live ? block : std::chrono::milliseconds(0)) +
                       std::chrono::milliseconds(redis_.command_timeout_ms);
  reader_->command(args_, timeout,
                   [this, draining, live, count, block, visit = std::move(visit),
                    done = std::move(done)](redisReply* reply, std::string_view error) mutable {
                     if (reply == nullptr) {
                       done(0, error);
                       return;
                     }
                     if (isError(reply, "NOGROUP") || isError(reply, "UNBLOCKED")) {
                       // Redis lost the group (flushed, the key deleted, or restarted without
                       // persistence): recreate it and read again; our pending list went with it.
                       const std::string stream =
                           live ? std::string() : consumer_.streams[draining];
                       auto again = [this, count, block, visit, done]() mutable {
                         read(count, block, std::move(visit), std::move(done));
                       };
                       if (!live) {
                         pending_cursor_[draining].clear();
                         recreateGroup(stream, again);
                       } else {
                         // We do not know which stream answered NOGROUP: recreate all (BUSYGROUP is
                         // fine).
                         auto remaining = std::make_shared<size_t>(consumer_.streams.size());
                         for (const auto& s : consumer_.streams) {
                           recreateGroup(s, [remaining, again]() mutable {
                             if (--*remaining == 0) {
                               again();
                             }
                           });
                         }
                       }
                       return;
                     }
                     if (reply->type == REDIS_REPLY_ERROR) {
                       done(0, fmt::format("XREADGROUP: {}", text(reply)));
                       return;
                     }
                     const size_t visited = parseReply(reply, visit);
                     if (!live) {
                       if (visited == 0) {
                         pending_cursor_[draining].clear(); // drained: this stream goes live
                       }
                     }
                     done(visited, {});
                   });
}

size_t StreamReader::parseReply(redisReply* reply, const EntryVisitor& visit) {
  // Reply: nil (timeout) or [[stream, [[id, [f, v, ...]], ...]], ...]
  if (reply->type != REDIS_REPLY_ARRAY) {
    return 0;
  }
  size_t visited = 0;
  for (size_t s = 0; s < reply->elements; ++s) {
    redisReply* per_stream = reply->element[s];
    if (per_stream->type != REDIS_REPLY_ARRAY || per_stream->elements != 2) {
      continue;
    }
    const std::string_view stream = text(per_stream->element[0]);
    redisReply* entries = per_stream->element[1];
    if (entries->type != REDIS_REPLY_ARRAY) {
      continue;
    }
    size_t stream_index = 0;
    while (stream_index < consumer_.streams.size() && consumer_.streams[stream_index] != stream) {
      ++stream_index;
    }
    for (size_t e = 0; e < entries->elements; ++e) {
      redisReply* entry = entries->element[e];
      if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) {
        continue;
      }
      const std::string_view id = text(entry->element[0]);
      redisReply* kv = entry->element[1];
      fields_.clear();
      // A pending entry that was trimmed from the stream comes back with nil fields: it is
      // still delivered (and will be dead-lettered as having no fields) so it gets acked.
      if (kv->type == REDIS_REPLY_ARRAY) {
        for (size_t f = 0; f < kv->elements; ++f) {
          fields_.push_back(text(kv->element[f]));
        }
      }
      visit(EntryView{stream, id, fields_});
      ++visited;
      if (stream_index < pending_cursor_.size() && !pending_cursor_[stream_index].empty()) {
        pending_cursor_[stream_index].assign(id);
      }
    }
  }
  return visited;
}

void StreamReader::ack(std::span<const pipeline::StreamIds> ids, Done done) {
  auto remaining = std::make_shared<size_t>(0);
  auto first_error = std::make_shared<std::string>();
  for (const auto& s : ids) {
    if (s.size() > 0) {
      ++*remaining;
    }
  }
  if (*remaining == 0) {
    done("");
    return;
  }
  auto shared_done = std::make_shared<Done>(std::move(done));
  for (const auto& s : ids) {
    if (s.size() == 0) {
      continue;
    }
    args_.clear();
    args_.push_back("XACK");
    args_.push_back(s.stream());
    args_.push_back(consumer_.group);
    for (size_t i = 0; i < s.size(); ++i) {
      args_.push_back(s.id(i));
    }
    control_->command(
        args_, std::chrono::milliseconds(redis_.command_timeout_ms),
        [remaining, first_error, shared_done](redisReply* reply, std::string_view error) {
          if (reply == nullptr && first_error->empty()) {
            *first_error = error;
          } else if (reply != nullptr && reply->type == REDIS_REPLY_ERROR && first_error->empty()) {
            *first_error = text(reply);
          }
          if (--*remaining == 0) {
            (*shared_done)(*first_error);
          }
        });
  }
}

} // namespace auditq::redis
