// The consumer's Redis commands, as RESP, and their replies, as events.
#include "redis/consumer_link.h"

#include <fmt/format.h>

#include "core/log.h"
#include "redis/sentinel_watch.h"

namespace auditq::redis {
namespace {

// Removes other consumers idle for at least ARGV[2] ms that hold nothing, atomically: between
// reading XINFO and deleting, no command can give the consumer entries.
constexpr std::string_view kDeleteIdleScript = R"(
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

} // namespace

ConsumerLink::ConsumerLink(boost::asio::io_context& io, const config::Config& cfg,
                           std::string consumer_name, pipeline::Consumer& core, Now now,
                           std::function<void()> after_event)
    : io_(io), cfg_(cfg), consumer_name_(std::move(consumer_name)), core_(core),
      now_(std::move(now)), after_event_(std::move(after_event)),
      endpoint_(endpointFrom(cfg.redis)) {
  arg_storage_.reserve(8); // args_ holds views into these: they must never reallocate
  if (!endpoint_.sentinels.empty()) {
    watch_ = SentinelWatch::start(
        io_, endpoint_, std::chrono::milliseconds(cfg_.redis.connect_timeout_ms),
        [this] { event([&](pipeline::Consumer& c) { c.redisPrimaryChanged(now_()); }); });
  }
}

ConsumerLink::~ConsumerLink() {
  if (watch_) {
    watch_->stop();
  }
  close();
}

bool ConsumerLink::connected() const {
  return reader_ && reader_->connected() && control_ && control_->connected();
}

bool ConsumerLink::execute(const pipeline::Command& cmd) {
  return std::visit(
      [this](const auto& c) -> bool {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, pipeline::ConnectRedis>) {
          connect(c.epoch);
        } else if constexpr (std::is_same_v<T, pipeline::CloseRedis>) {
          close();
        } else if constexpr (std::is_same_v<T, pipeline::CheckGroup>) {
          checkGroup(c.stream);
        } else if constexpr (std::is_same_v<T, pipeline::CreateGroup>) {
          createGroup(c.stream, c.start_id);
        } else if constexpr (std::is_same_v<T, pipeline::ListPending>) {
          listPending(c);
        } else if constexpr (std::is_same_v<T, pipeline::ReadPending>) {
          readPending(c);
        } else if constexpr (std::is_same_v<T, pipeline::ReadClaimed>) {
          readClaimed(c);
        } else if constexpr (std::is_same_v<T, pipeline::ReadNew>) {
          readNew(c);
        } else if constexpr (std::is_same_v<T, pipeline::CopyDeadLetters>) {
          copyDeadLetters(c.batch);
        } else if constexpr (std::is_same_v<T, pipeline::AckBatch>) {
          ack(c.batch);
        } else if constexpr (std::is_same_v<T, pipeline::TouchBatch>) {
          touch(c.batch);
        } else if constexpr (std::is_same_v<T, pipeline::PingRedis>) {
          ping(c.reader);
        } else if constexpr (std::is_same_v<T, pipeline::DeleteIdleConsumers>) {
          deleteIdleConsumers();
        } else {
          return false;
        }
        return true;
      },
      cmd);
}

void ConsumerLink::connect(uint64_t epoch) {
  close();
  epoch_ = epoch;
  const std::chrono::milliseconds t(cfg_.redis.connect_timeout_ms);
  // Named after the consumer, so CLIENT LIST tells which connection is which.
  reader_ = AsyncConnection::create(io_, endpoint_, t, clientName("reader"));
  control_ = AsyncConnection::create(io_, endpoint_, t, clientName("control"));
  // Lost while nothing is outstanding on it: only the disconnect callback says so.
  for (auto* conn : {&reader_, &control_}) {
    (*conn)->onDisconnect([this, epoch](std::string_view error) { fail(epoch, error); });
  }
  reader_->connect([this, epoch](std::string_view error) {
    if (!error.empty()) {
      fail(epoch, error);
      return;
    }
    control_->connect([this, epoch](std::string_view error2) {
      if (!error2.empty()) {
        fail(epoch, error2);
        return;
      }
      if (epoch == epoch_) {
        event([&](pipeline::Consumer& c) { c.redisConnected(epoch, now_()); });
      }
    });
  });
}

std::string ConsumerLink::clientName(std::string_view role) const {
  std::string name = fmt::format("auditq:{}:{}", consumer_name_, role);
  for (char& c : name) {
    if (c == ' ' || c == '\n' || c == '\r') {
      c = '_'; // CLIENT SETNAME takes no spaces
    }
  }
  return name;
}

void ConsumerLink::close() {
  // Callbacks of the old connections carry the old epoch and are ignored from here on.
  epoch_ = 0;
  if (reader_) {
    reader_->close();
  }
  if (control_) {
    control_->close();
  }
}

void ConsumerLink::fail(uint64_t epoch, std::string_view error) {
  if (epoch == 0 || epoch != epoch_) {
    return;
  }
  const std::string why(error); // the view may die with the connection we close next
  close();
  event([&](pipeline::Consumer& c) { c.redisFailed(epoch, why, now_()); });
}

void ConsumerLink::send(On on, std::span<const std::string_view> args,
                        std::chrono::milliseconds timeout, Reply on_reply) {
  const uint64_t epoch = epoch_;
  auto& conn = on == On::Reader ? reader_ : control_;
  if (epoch == 0 || !conn) {
    boost::asio::post(io_, [this, epoch] { fail(epoch, "not connected"); });
    return;
  }
  conn->command(
      args, timeout,
      [this, epoch, on_reply = std::move(on_reply)](redisReply* reply, std::string_view error) {
        if (epoch != epoch_) {
          return; // connections replaced meanwhile
        }
        if (reply == nullptr) {
          fail(epoch, error);
          return;
        }
        on_reply(reply);
      });
}

std::optional<size_t> ConsumerLink::streamIndex(std::string_view name) const {
  for (size_t i = 0; i < cfg_.consumer.streams.size(); ++i) {
    if (cfg_.consumer.streams[i] == name) {
      return i;
    }
  }
  return std::nullopt;
}

void ConsumerLink::checkGroup(size_t stream) {
  const uint64_t epoch = epoch_;
  std::string_view args[] = {"XINFO", "GROUPS", cfg_.consumer.streams[stream]};
  send(On::Control, args, timeout(), [this, epoch, stream](redisReply* r) {
    if (r->type == REDIS_REPLY_ERROR && !replyText(r).starts_with("ERR no such key")) {
      fail(epoch, fmt::format("XINFO GROUPS {}: {}", cfg_.consumer.streams[stream], replyText(r)));
      return;
    }
    const bool exists = findGroup(r, cfg_.consumer.group).has_value();
    event([&](pipeline::Consumer& c) { c.groupChecked(epoch, stream, exists, now_()); });
  });
}

void ConsumerLink::createGroup(size_t stream, const std::string& start_id) {
  const uint64_t epoch = epoch_;
  const std::string& name = cfg_.consumer.streams[stream];
  std::string_view args[] = {"XGROUP", "CREATE", name, cfg_.consumer.group, start_id, "MKSTREAM"};
  send(On::Control, args, timeout(), [this, epoch, stream](redisReply* r) {
    if (r->type == REDIS_REPLY_ERROR && !replyText(r).starts_with("BUSYGROUP")) {
      fail(epoch, fmt::format("XGROUP CREATE {}: {}", cfg_.consumer.streams[stream], replyText(r)));
    }
  });
  // Where it stands now (BUSYGROUP: someone created it first) and how much is after it.
  std::string_view info[] = {"XINFO", "GROUPS", name};
  send(On::Control, info, timeout(), [this, epoch, stream](redisReply* r) {
    // (Had the XGROUP CREATE above failed, the connections would be closed and this reply
    // ignored.)
    const auto g = findGroup(r, cfg_.consumer.group);
    if (!g) {
      fail(epoch, fmt::format("XINFO GROUPS {}: {}", cfg_.consumer.streams[stream],
                              r->type == REDIS_REPLY_ERROR ? replyText(r)
                                                           : std::string_view("no such group")));
      return;
    }
    event([&](pipeline::Consumer& c) {
      c.groupCreated(epoch, stream, g->last_delivered.value_or(core::EntryId{}), g->lag, now_());
    });
  });
}

void ConsumerLink::listPending(const pipeline::ListPending& cmd) {
  const uint64_t epoch = epoch_;
  arg_storage_.clear();
  arg_storage_.push_back(cmd.from_start ? std::string("-") : "(" + cmd.after.toString());
  arg_storage_.push_back(std::to_string(std::max<size_t>(cmd.count, 1)));
  std::string_view args[] = {"XPENDING",
                             cfg_.consumer.streams[cmd.stream],
                             cfg_.consumer.group,
                             arg_storage_[0],
                             "+",
                             arg_storage_[1],
                             consumer_name_};
  const size_t stream = cmd.stream;
  send(On::Reader, args, timeout(), [this, epoch, stream](redisReply* r) {
    if (isGroupGone(r)) {
      event([&](pipeline::Consumer& c) { c.readNoGroup(epoch, stream, now_()); });
    } else if (r->type == REDIS_REPLY_ERROR) {
      fail(epoch, fmt::format("XPENDING: {}", replyText(r)));
    } else {
      const auto pending = parsePending(r);
      event([&](pipeline::Consumer& c) { c.pendingListed(epoch, stream, pending, now_()); });
    }
  });
}

void ConsumerLink::readPending(const pipeline::ReadPending& cmd) {
  const uint64_t epoch = epoch_;
  arg_storage_.clear();
  arg_storage_.push_back(std::to_string(std::max<size_t>(cmd.count, 1)));
  arg_storage_.push_back(cmd.after.toString());
  std::string_view args[] = {
      "XREADGROUP",   "GROUP",         cfg_.consumer.group, consumer_name_,
      "COUNT",        arg_storage_[0], "STREAMS",           cfg_.consumer.streams[cmd.stream],
      arg_storage_[1]};
  const size_t stream = cmd.stream;
  send(On::Reader, args, timeout(), [this, epoch, stream](redisReply* r) {
    if (isGroupGone(r)) {
      event([&](pipeline::Consumer& c) { c.readNoGroup(epoch, stream, now_()); });
    } else if (r->type == REDIS_REPLY_ERROR) {
      fail(epoch, fmt::format("XREADGROUP: {}", replyText(r)));
    } else {
      entries_.collectRead(r);
      pipeline::ReadResult result;
      result.kind = pipeline::ReadKind::Pending;
      result.stream = stream;
      event(
          [&](pipeline::Consumer& c) { c.entriesRead(epoch, result, entries_.entries(), now_()); });
    }
  });
}

void ConsumerLink::readClaimed(const pipeline::ReadClaimed& cmd) {
  const uint64_t epoch = epoch_;
  arg_storage_.clear();
  arg_storage_.push_back(std::to_string(cmd.min_idle_ms));
  arg_storage_.push_back(std::to_string(std::max<size_t>(cmd.count, 1)));
  const std::string& name = cfg_.consumer.streams[cmd.stream];
  std::string_view args[] = {
      "XAUTOCLAIM", name,    cfg_.consumer.group, consumer_name_, arg_storage_[0],
      cmd.cursor,   "COUNT", arg_storage_[1]};
  const size_t stream = cmd.stream;
  send(On::Reader, args, timeout(), [this, epoch, stream](redisReply* r) {
    if (isGroupGone(r)) {
      event([&](pipeline::Consumer& c) { c.readNoGroup(epoch, stream, now_()); });
      return;
    }
    const auto claimed = parseAutoclaim(r);
    if (!claimed) {
      fail(epoch, fmt::format("XAUTOCLAIM: {}", r->type == REDIS_REPLY_ERROR
                                                    ? replyText(r)
                                                    : std::string_view("unexpected reply")));
      return;
    }
    const std::string& name = cfg_.consumer.streams[stream];
    entries_.collectEntries(name, claimed->entries);
    pipeline::ReadResult result;
    result.kind = pipeline::ReadKind::Claimed;
    result.stream = stream;
    result.next_cursor = claimed->next_cursor;
    result.deleted = claimed->deleted;
    if (entries_.size() == 0) {
      event([&](pipeline::Consumer& c) { c.entriesRead(epoch, result, {}, now_()); });
      return;
    }
    // XAUTOCLAIM does not say how often each entry was delivered (it counted this one):
    // XPENDING over the claimed range does, before they are handed over.
    entries_.copy();
    const auto all = entries_.entries();
    arg_storage_.clear();
    arg_storage_.push_back(std::string(all.front().id));
    arg_storage_.push_back(std::string(all.back().id));
    arg_storage_.push_back(std::to_string(all.size() * 2));
    std::string_view pending_args[] = {
        "XPENDING",      name,          cfg_.consumer.group, arg_storage_[0], arg_storage_[1],
        arg_storage_[2], consumer_name_};
    send(On::Reader, pending_args, timeout(), [this, epoch, result](redisReply* pr) {
      if (pr->type == REDIS_REPLY_ERROR && !isGroupGone(pr)) {
        fail(epoch, fmt::format("XPENDING: {}", replyText(pr)));
        return;
      }
      entries_.setDeliveries(parsePending(pr));
      event(
          [&](pipeline::Consumer& c) { c.entriesRead(epoch, result, entries_.entries(), now_()); });
    });
  });
}

void ConsumerLink::readNew(const pipeline::ReadNew& cmd) {
  const uint64_t epoch = epoch_;
  args_.clear();
  arg_storage_.clear();
  arg_storage_.push_back(std::to_string(std::max<size_t>(cmd.count, 1)));
  arg_storage_.push_back(std::to_string(cmd.block_ms));
  args_.insert(args_.end(), {"XREADGROUP", "GROUP", cfg_.consumer.group, consumer_name_, "COUNT",
                             arg_storage_[0]});
  if (cmd.block_ms > 0) {
    args_.insert(args_.end(), {"BLOCK", arg_storage_[1]});
  }
  args_.push_back("STREAMS");
  for (const auto& s : cfg_.consumer.streams) {
    args_.push_back(s);
  }
  for (size_t i = 0; i < cfg_.consumer.streams.size(); ++i) {
    args_.push_back(">");
  }
  send(On::Reader, args_, timeout(cmd.block_ms), [this, epoch](redisReply* r) {
    if (isGroupGone(r)) {
      // Which stream is not said reliably (UNBLOCKED names none): every group is checked.
      event([&](pipeline::Consumer& c) { c.readNoGroup(epoch, std::nullopt, now_()); });
    } else if (r->type == REDIS_REPLY_ERROR) {
      fail(epoch, fmt::format("XREADGROUP: {}", replyText(r)));
    } else {
      entries_.collectRead(r);
      pipeline::ReadResult result;
      result.kind = pipeline::ReadKind::New;
      event(
          [&](pipeline::Consumer& c) { c.entriesRead(epoch, result, entries_.entries(), now_()); });
    }
  });
}

void ConsumerLink::perStream(pipeline::Batch* batch, std::string_view what, bool errors_fail,
                             const std::function<void(const pipeline::StreamIds&)>& build,
                             std::function<void(std::vector<size_t> gone)> done) {
  struct State {
    size_t remaining = 1; // released at the end of the loop
    std::vector<size_t> gone;
    std::function<void(std::vector<size_t>)> done;
  };
  auto state = std::make_shared<State>();
  state->done = std::move(done);
  auto finish = [state] {
    if (--state->remaining == 0) {
      state->done(std::move(state->gone));
    }
  };
  const uint64_t epoch = epoch_;
  for (const auto& ids : batch->acks()) {
    if (ids.size() == 0) {
      continue;
    }
    build(ids);
    ++state->remaining;
    const auto stream = streamIndex(ids.stream());
    send(On::Control, args_, timeout(),
         [this, epoch, state, stream, finish, what, errors_fail](redisReply* r) {
           if (isGroupGone(r)) {
             if (stream) {
               state->gone.push_back(*stream);
             }
           } else if (r->type == REDIS_REPLY_ERROR) {
             if (errors_fail) {
               fail(epoch, fmt::format("{}: {}", what, replyText(r)));
               return;
             }
             core::log::warn("redis_command_refused", {{"command", what}, {"error", replyText(r)}});
           }
           finish();
         });
  }
  finish();
}

void ConsumerLink::ack(pipeline::Batch* batch) {
  const uint64_t epoch = epoch_;
  perStream(
      batch, "XACK", true,
      [this](const pipeline::StreamIds& ids) {
        args_.clear();
        args_.push_back("XACK");
        args_.push_back(ids.stream());
        args_.push_back(cfg_.consumer.group);
        for (size_t i = 0; i < ids.size(); ++i) {
          args_.push_back(ids.id(i));
        }
      },
      [this, epoch, batch](std::vector<size_t> gone) {
        // Acknowledged, or the group is gone (a re-created group never delivered them to us).
        event([&](pipeline::Consumer& c) {
          c.acked(epoch, batch, now_());
          for (size_t s : gone) {
            c.groupMissing(epoch, s, now_());
          }
        });
      });
}

void ConsumerLink::touch(pipeline::Batch* batch) {
  const uint64_t epoch = epoch_;
  // Refused (an ACL without XCLAIM): only the protection against a takeover is missing, so
  // say so and go on.
  perStream(
      batch, "XCLAIM", false,
      [this](const pipeline::StreamIds& ids) {
        args_.clear();
        for (std::string_view a : {std::string_view("XCLAIM"), std::string_view(ids.stream()),
                                   std::string_view(cfg_.consumer.group),
                                   std::string_view(consumer_name_), std::string_view("0")}) {
          args_.push_back(a);
        }
        for (size_t i = 0; i < ids.size(); ++i) {
          args_.push_back(ids.id(i));
        }
        args_.push_back("JUSTID");
      },
      [this, epoch](std::vector<size_t> gone) {
        if (!gone.empty()) {
          event([&](pipeline::Consumer& c) {
            for (size_t s : gone) {
              c.groupMissing(epoch, s, now_());
            }
          });
        }
      });
}

void ConsumerLink::copyDeadLetters(pipeline::Batch* batch) {
  const uint64_t epoch = epoch_;
  const auto& dl = cfg_.dead_letter;
  struct State {
    size_t remaining = 1;
    std::string first_error;
  };
  auto state = std::make_shared<State>();
  auto finish = [this, state, epoch, batch] {
    if (--state->remaining > 0) {
      return;
    }
    if (!state->first_error.empty()) {
      core::log::warn("dead_letter_copy_failed",
                      {{"error", state->first_error},
                       {"effect", "the dead letters are in PostgreSQL; their stream copy is "
                                  "missing"}});
    }
    event([&](pipeline::Consumer& c) { c.deadLettersCopied(epoch, batch, now_()); });
  };
  const std::string maxlen = std::to_string(dl.stream_maxlen);
  std::vector<std::string_view> scratch;
  std::string target;
  for (size_t i = 0; i < batch->raw().size(); ++i) {
    const auto reason = batch->deadLetterReason(i);
    if (!reason) {
      continue;
    }
    const auto e = batch->raw().get(i, scratch);
    target.assign(e.stream).append(dl.stream_suffix);
    args_.clear();
    args_.insert(args_.end(), {"XADD", target});
    if (dl.stream_maxlen > 0) {
      args_.insert(args_.end(), {"MAXLEN", "~", maxlen});
    }
    args_.push_back("*");
    args_.insert(args_.end(), e.fields.begin(), e.fields.end());
    if (e.fields.size() % 2 == 1) {
      args_.push_back(""); // a dangling name gets an empty value: XADD needs pairs
    }
    args_.insert(args_.end(),
                 {"auditq_reason", core::reasonName(*reason), "auditq_source_id", e.id});
    ++state->remaining;
    send(On::Control, args_, timeout(), [state, finish](redisReply* r) {
      if (r->type == REDIS_REPLY_ERROR && state->first_error.empty()) {
        state->first_error = replyText(r);
      }
      finish();
    });
  }
  finish();
}

void ConsumerLink::ping(bool reader) {
  std::string_view args[] = {"PING"};
  // A reply is all it takes; a missing one times out and closes the connections.
  send(On::Control, args, timeout(), [](redisReply*) {});
  if (reader) {
    send(On::Reader, args, timeout(), [](redisReply*) {});
  }
}

void ConsumerLink::deleteIdleConsumers() {
  const std::string idle = std::to_string(cfg_.consumer.delete_idle_ms);
  for (const auto& stream : cfg_.consumer.streams) {
    std::string_view args[] = {"EVAL", kDeleteIdleScript, "1", stream, cfg_.consumer.group,
                               idle,   consumer_name_};
    send(On::Control, args, timeout(), [this](redisReply* r) {
      if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
        consumers_deleted_ += static_cast<uint64_t>(r->integer);
        core::log::info(
            "idle_consumers_deleted",
            {{"count", r->integer}, {"idle_ms_at_least", cfg_.consumer.delete_idle_ms}});
      } else if (r->type == REDIS_REPLY_ERROR) {
        core::log::warn("idle_consumer_check_failed", {{"error", replyText(r)}});
      }
    });
  }
}

void ConsumerLink::sampleGroups(std::function<void(std::span<const GroupInfo>)> done) {
  struct State {
    std::vector<GroupInfo> groups;
    size_t remaining = 0;
    std::function<void(std::span<const GroupInfo>)> done;
  };
  auto state = std::make_shared<State>();
  state->groups.resize(cfg_.consumer.streams.size());
  state->remaining = cfg_.consumer.streams.size();
  state->done = std::move(done);
  for (size_t i = 0; i < cfg_.consumer.streams.size(); ++i) {
    std::string_view args[] = {"XINFO", "GROUPS", cfg_.consumer.streams[i]};
    send(On::Control, args, timeout(), [this, state, i](redisReply* r) {
      if (auto g = findGroup(r, cfg_.consumer.group)) {
        state->groups[i] = *g;
      }
      if (--state->remaining == 0) {
        state->done(state->groups);
      }
    });
  }
}

} // namespace auditq::redis
