// XREADGROUP / XGROUP / XACK over the asynchronous connections.
#include "redis/stream_reader.h"

#include <optional>

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

// Our group's counts in an XINFO GROUPS reply: one flat name/value array per group (RESP2).
std::optional<GroupSample> groupSample(redisReply* reply, std::string_view group_name) {
  if (reply->type != REDIS_REPLY_ARRAY) {
    return std::nullopt;
  }
  for (size_t g = 0; g < reply->elements; ++g) {
    redisReply* group = reply->element[g];
    GroupSample sample;
    bool ours = false;
    for (size_t f = 0; f + 1 < group->elements; f += 2) {
      const auto name = text(group->element[f]);
      redisReply* value = group->element[f + 1];
      if (name == "name") {
        ours = text(value) == group_name;
      } else if (name == "pending" && value->type == REDIS_REPLY_INTEGER) {
        sample.pending = value->integer;
      } else if (name == "lag" && value->type == REDIS_REPLY_INTEGER) {
        sample.lag = value->integer;
      }
    }
    if (ours) {
      return sample;
    }
  }
  return std::nullopt;
}

} // namespace

StreamReader::StreamReader(boost::asio::io_context& io, const config::RedisConfig& redis,
                           const config::ConsumerConfig& consumer, std::string consumer_name)
    : io_(io), redis_(redis), consumer_(consumer), consumer_name_(std::move(consumer_name)) {
  arg_storage_.reserve(8); // args_ holds views into these: they must never reallocate
}

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

void StreamReader::start(Done done) {
  stop();
  const Endpoint ep = endpointFrom(redis_);
  const std::chrono::milliseconds timeout(redis_.connect_timeout_ms);
  reader_ = AsyncConnection::create(io_, ep, timeout);
  control_ = AsyncConnection::create(io_, ep, timeout);
  // Every start drains our own pending list again: entries delivered to us before a crash or
  // a reconnect are still ours and come first.
  pending_cursor_.assign(consumer_.streams.size(), "0");
  claim_cursor_.assign(consumer_.streams.size(), std::string());
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
  for (size_t i = 0; i < claim_cursor_.size(); ++i) {
    if (!claim_cursor_[i].empty()) {
      readClaimed(i, count, block, std::move(visit), std::move(done));
      return;
    }
  }
  counts_.clear();
  counts_pos_ = 0;
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
    // Their delivery counts first, in the same round trip: XPENDING over the same part of our
    // pending list, which the XREADGROUP right behind it then reads (and counts once more).
    const std::string& cursor = pending_cursor_[draining];
    arg_storage_.push_back(cursor == "0" ? std::string("-") : "(" + cursor);
    std::string_view pending_args[] = {"XPENDING",
                                       consumer_.streams[draining],
                                       consumer_.group,
                                       arg_storage_[2],
                                       "+",
                                       arg_storage_[0],
                                       consumer_name_};
    reader_->command(pending_args, commandTimeout(), [this](redisReply* reply, std::string_view) {
      if (reply != nullptr) {
        rememberCounts(reply, 1);
      }
    });
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
    visited += visitEntries(text(per_stream->element[0]), per_stream->element[1], visit);
  }
  return visited;
}

size_t StreamReader::visitEntries(std::string_view stream, redisReply* entries,
                                  const EntryVisitor& visit) {
  // entries: [[id, [f, v, ...]], ...]
  if (entries->type != REDIS_REPLY_ARRAY) {
    return 0;
  }
  size_t stream_index = 0;
  while (stream_index < consumer_.streams.size() && consumer_.streams[stream_index] != stream) {
    ++stream_index;
  }
  size_t visited = 0;
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
    visit(EntryView{stream, id, fields_, deliveriesOf(id)});
    ++visited;
    if (stream_index < pending_cursor_.size() && !pending_cursor_[stream_index].empty()) {
      pending_cursor_[stream_index].assign(id);
    }
  }
  return visited;
}

void StreamReader::rememberCounts(redisReply* reply, int64_t extra) {
  // XPENDING extended form: [[id, consumer, idle ms, delivery count], ...], in id order.
  counts_.clear();
  counts_pos_ = 0;
  if (reply->type != REDIS_REPLY_ARRAY) {
    return;
  }
  for (size_t i = 0; i < reply->elements; ++i) {
    redisReply* row = reply->element[i];
    if (row->type != REDIS_REPLY_ARRAY || row->elements < 4 ||
        row->element[3]->type != REDIS_REPLY_INTEGER) {
      continue;
    }
    if (auto id = core::EntryId::parse(text(row->element[0]))) {
      counts_.emplace_back(*id, row->element[3]->integer + extra);
    }
  }
}

int64_t StreamReader::deliveriesOf(std::string_view id_text) {
  // New entries (">") are on their first delivery; re-read ones were counted just before.
  if (counts_pos_ == counts_.size()) {
    return 1; // nothing (left) to look up: no parsing per entry on the live path
  }
  const auto id = core::EntryId::parse(id_text);
  if (!id) {
    return 1;
  }
  while (counts_pos_ < counts_.size() && counts_[counts_pos_].first < *id) {
    ++counts_pos_;
  }
  if (counts_pos_ < counts_.size() && counts_[counts_pos_].first == *id) {
    return std::max<int64_t>(1, counts_[counts_pos_].second);
  }
  return 1;
}

void StreamReader::requestClaim() {
  for (auto& cursor : claim_cursor_) {
    if (cursor.empty()) {
      cursor = "0-0";
    }
  }
}

void StreamReader::readClaimed(size_t index, size_t count, std::chrono::milliseconds block,
                               EntryVisitor visit,
                               std::function<void(size_t, std::string_view)> done) {
  const std::string& stream = consumer_.streams[index];
  arg_storage_.clear();
  arg_storage_.push_back(std::to_string(consumer_.claim_idle_ms));
  arg_storage_.push_back(std::to_string(std::max<size_t>(1, count)));
  std::string_view args[] = {"XAUTOCLAIM",   stream,          consumer_.group,
                             consumer_name_, arg_storage_[0], claim_cursor_[index],
                             "COUNT",        arg_storage_[1]};
  reader_->command(args, commandTimeout(),
                   [this, index, count, block, visit = std::move(visit),
                    done = std::move(done)](redisReply* reply, std::string_view error) mutable {
                     if (reply == nullptr) {
                       done(0, error);
                       return;
                     }
                     // [next cursor, [[id, fields], ...], [deleted id, ...]]
                     if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 2) {
                       // NOGROUP and the like: the normal read that follows deals with it.
                       claim_cursor_[index].clear();
                       read(count, block, std::move(visit), std::move(done));
                       return;
                     }
                     const std::string_view next = text(reply->element[0]);
                     claim_cursor_[index] = next == "0-0" ? std::string() : std::string(next);
                     if (reply->elements > 2 && reply->element[2]->type == REDIS_REPLY_ARRAY &&
                         reply->element[2]->elements > 0) {
                       const size_t gone = reply->element[2]->elements;
                       claimed_deleted_ += gone;
                       core::log::warn("pending_entries_deleted",
                                       {{"stream", consumer_.streams[index]},
                                        {"count", gone},
                                        {"effect", "trimmed from the stream before any "
                                                   "consumer committed them: lost"}});
                     }
                     redisReply* entries = reply->element[1];
                     if (entries->type != REDIS_REPLY_ARRAY || entries->elements == 0) {
                       read(count, block, std::move(visit), std::move(done)); // next stream or
                                                                              // the normal read
                       return;
                     }
                     // Keep the claimed entries while XPENDING tells their delivery counts
                     // (XAUTOCLAIM does not return them; it has already counted this one).
                     claimed_entries_.clear();
                     std::vector<std::string_view> fields;
                     for (size_t e = 0; e < entries->elements; ++e) {
                       redisReply* entry = entries->element[e];
                       if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2) {
                         continue;
                       }
                       fields.clear();
                       if (entry->element[1]->type == REDIS_REPLY_ARRAY) {
                         for (size_t f = 0; f < entry->element[1]->elements; ++f) {
                           fields.push_back(text(entry->element[1]->element[f]));
                         }
                       }
                       claimed_entries_.add(consumer_.streams[index], text(entry->element[0]),
                                            fields, 1);
                     }
                     claimed_ += claimed_entries_.size();
                     visitClaimed(index, std::move(visit), std::move(done));
                   });
}

void StreamReader::visitClaimed(size_t index, EntryVisitor visit,
                                std::function<void(size_t, std::string_view)> done) {
  std::vector<std::string_view> scratch;
  const std::string first(claimed_entries_.get(0, scratch).id);
  const std::string last(claimed_entries_.get(claimed_entries_.size() - 1, scratch).id);
  const std::string n = std::to_string(claimed_entries_.size() * 2);
  std::string_view args[] = {
      "XPENDING", consumer_.streams[index], consumer_.group, first, last, n, consumer_name_};
  reader_->command(args, commandTimeout(),
                   [this, index, visit = std::move(visit),
                    done = std::move(done)](redisReply* reply, std::string_view error) {
                     if (reply == nullptr) {
                       done(0, error); // the claimed entries stay in our pending list
                       return;
                     }
                     rememberCounts(reply, 0);
                     core::log::info("entries_claimed",
                                     {{"stream", consumer_.streams[index]},
                                      {"count", claimed_entries_.size()},
                                      {"idle_ms_at_least", consumer_.claim_idle_ms}});
                     std::vector<std::string_view> scratch;
                     for (size_t i = 0; i < claimed_entries_.size(); ++i) {
                       const auto e = claimed_entries_.get(i, scratch);
                       visit(EntryView{e.stream, e.id, e.fields, deliveriesOf(e.id)});
                     }
                     done(claimed_entries_.size(), {});
                   });
}

void StreamReader::deleteIdleConsumers(
    std::function<void(int64_t deleted, std::string_view error)> done) {
  // Atomic: between reading XINFO and deleting, no command can give the consumer entries.
  static constexpr std::string_view kScript = R"(
local info = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if type(info) ~= 'table' or info.err then return 0 end
local deleted = 0
for _, c in ipairs(info) do
  local f = {}
  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
  if f.name ~= ARGV[3] and f.pending == 0 and f.idle >= tonumber(ARGV[2]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f.name)
    deleted = deleted + 1
  end
end
return deleted)";
  auto remaining = std::make_shared<size_t>(consumer_.streams.size());
  auto total = std::make_shared<int64_t>(0);
  auto first_error = std::make_shared<std::string>();
  auto shared_done = std::make_shared<decltype(done)>(std::move(done));
  const std::string idle = std::to_string(consumer_.delete_idle_ms);
  for (const auto& stream : consumer_.streams) {
    std::string_view args[] = {"EVAL", kScript, "1", stream, consumer_.group, idle, consumer_name_};
    control_->command(
        args, commandTimeout(),
        [remaining, total, first_error, shared_done](redisReply* reply, std::string_view error) {
          if (reply == nullptr) {
            *first_error = error;
          } else if (reply->type == REDIS_REPLY_INTEGER) {
            *total += reply->integer;
          } else if (reply->type == REDIS_REPLY_ERROR) {
            *first_error = text(reply);
          }
          if (--*remaining == 0) {
            (*shared_done)(*total, *first_error);
          }
        });
  }
}

void StreamReader::sampleGroups(
    std::function<void(std::span<const GroupSample>, std::string_view error)> done) {
  struct State {
    std::vector<GroupSample> samples;
    size_t remaining = 0;
    std::string error;
    std::function<void(std::span<const GroupSample>, std::string_view)> done;
  };
  auto state = std::make_shared<State>();
  state->samples.resize(consumer_.streams.size());
  state->remaining = consumer_.streams.size();
  state->done = std::move(done);
  for (size_t i = 0; i < consumer_.streams.size(); ++i) {
    std::string_view args[] = {"XINFO", "GROUPS", consumer_.streams[i]};
    control_->command(args, commandTimeout(),
                      [this, state, i](redisReply* reply, std::string_view error) {
                        if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
                          state->error = reply == nullptr ? error : text(reply);
                        } else if (auto sample = groupSample(reply, consumer_.group)) {
                          state->samples[i] = *sample;
                        }
                        if (--state->remaining == 0) {
                          state->done(state->samples, state->error);
                        }
                      });
  }
}

void StreamReader::copyDeadLetters(const pipeline::Batch& batch,
                                   const config::DeadLetterConfig& dead_letter, Done done) {
  auto remaining = std::make_shared<size_t>(1); // one for this loop, released at its end
  auto first_error = std::make_shared<std::string>();
  auto shared_done = std::make_shared<Done>(std::move(done));
  auto finish = [remaining, first_error, shared_done] {
    if (--*remaining == 0) {
      (*shared_done)(*first_error);
    }
  };
  const std::string maxlen = std::to_string(dead_letter.stream_maxlen);
  std::vector<std::string_view> scratch;
  std::string target;
  for (size_t i = 0; i < batch.raw().size(); ++i) {
    const auto reason = batch.deadLetterReason(i);
    if (!reason) {
      continue;
    }
    const auto e = batch.raw().get(i, scratch);
    target.assign(e.stream).append(dead_letter.stream_suffix);
    args_.clear();
    args_.push_back("XADD");
    args_.push_back(target);
    if (dead_letter.stream_maxlen > 0) {
      args_.push_back("MAXLEN");
      args_.push_back("~");
      args_.push_back(maxlen);
    }
    args_.push_back("*");
    args_.insert(args_.end(), e.fields.begin(), e.fields.end());
    if (e.fields.size() % 2 == 1) {
      args_.push_back(""); // a dangling name gets an empty value: XADD needs pairs
    }
    args_.push_back("auditq_reason");
    args_.push_back(core::reasonName(*reason));
    args_.push_back("auditq_source_id");
    args_.push_back(e.id);
    ++*remaining;
    control_->command(
        args_, commandTimeout(), [first_error, finish](redisReply* reply, std::string_view error) {
          if (reply == nullptr && first_error->empty()) {
            *first_error = error;
          } else if (reply != nullptr && reply->type == REDIS_REPLY_ERROR && first_error->empty()) {
            *first_error = text(reply);
          }
          finish();
        });
  }
  finish();
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
