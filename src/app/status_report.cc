#include "app/status_report.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/json_text.h"

namespace auditq::app::status {
namespace {

// The age of an entry id (its milliseconds are the time Redis added it), never negative.
int64_t ageMs(const core::EntryId& id, int64_t now_ms) {
  return std::max<int64_t>(0, now_ms - static_cast<int64_t>(id.ms));
}

int64_t deadLetterTotal(const Stream& s) {
  int64_t n = 0;
  for (const auto& [reason, count] : s.dead_letters_last_hour) {
    n += count;
  }
  return n;
}

} // namespace

std::string humanDuration(int64_t ms) {
  if (ms < 1000) {
    return fmt::format("{} ms", ms);
  }
  const int64_t s = ms / 1000;
  if (s < 120) {
    return fmt::format("{} s", s);
  }
  if (s < 3600) {
    return fmt::format("{} min", s / 60);
  }
  if (s < 86400) {
    return fmt::format("{} h {} min", s / 3600, s % 3600 / 60);
  }
  return fmt::format("{} d {} h", s / 86400, s % 86400 / 3600);
}

std::vector<std::string> attention(const Report& r, const Limits& limits) {
  std::vector<std::string> out;
  if (!r.redis_error.empty()) {
    out.push_back(fmt::format("Redis cannot be read ({}): {}", r.redis_where, r.redis_error));
  }
  if (!r.postgres_error.empty()) {
    out.push_back(
        fmt::format("PostgreSQL cannot be read ({}): {}", r.postgres_where, r.postgres_error));
  }
  for (const auto& s : r.streams) {
    if (r.redis_error.empty() && !s.group_exists) {
      out.push_back(fmt::format("{}: no consumer group '{}' (auditq has not started on this "
                                "stream, or Redis lost it: a running daemon re-creates it)",
                                s.name, r.group));
    }
    if (s.oldest_pending && ageMs(*s.oldest_pending, r.now_ms) > limits.max_pending_age_ms) {
      out.push_back(fmt::format("{}: the oldest pending entry ({}) was written {} ago and is "
                                "still not acknowledged",
                                s.name, s.oldest_pending->toString(),
                                humanDuration(ageMs(*s.oldest_pending, r.now_ms))));
    }
    const int64_t waiting = s.lag.value_or(0);
    if (waiting > 0 && s.group_exists) {
      int64_t idle = INT64_MAX;
      for (const auto& c : s.consumers) {
        idle = std::min(idle, c.idle_ms);
      }
      if (s.consumers.empty()) {
        out.push_back(
            fmt::format("{}: {} entries waiting and no consumer in the group", s.name, waiting));
      } else if (idle > limits.max_consumer_idle_ms) {
        out.push_back(fmt::format("{}: {} entries waiting and no consumer has read for {}", s.name,
                                  waiting, humanDuration(idle)));
      }
      if (s.newest_committed && ageMs(*s.newest_committed, r.now_ms) > limits.max_commit_age_ms) {
        out.push_back(fmt::format("{}: {} entries waiting and the newest committed entry was "
                                  "written {} ago",
                                  s.name, waiting,
                                  humanDuration(ageMs(*s.newest_committed, r.now_ms))));
      }
    }
    if (const int64_t dead = deadLetterTotal(s); dead > 0) {
      std::string reasons;
      for (const auto& [reason, count] : s.dead_letters_last_hour) {
        reasons += fmt::format("{}{} {}", reasons.empty() ? "" : ", ", count, reason);
      }
      out.push_back(fmt::format("{}: {} dead letters in the last hour ({}): auditq dlq list "
                                "--stream {}",
                                s.name, dead, reasons, s.name));
    }
  }
  const auto& d = r.daemon;
  if (d.checked && !d.answered) {
    out.push_back(fmt::format("no daemon answers at http.listen {}: {}", d.listen, d.error));
  } else if (d.checked && !d.ready) {
    std::string reasons;
    for (const auto& reason : d.reasons) {
      reasons += (reasons.empty() ? "" : ", ") + reason;
    }
    out.push_back(fmt::format("the daemon at {} is not ready: {}", d.listen, reasons));
  }
  return out;
}

std::string renderText(const Report& r, const std::vector<std::string>& attention) {
  std::string out;
  auto line = [&](const std::string& text) {
    out += text;
    out += '\n';
  };
  line(fmt::format("Redis       {}{}", r.redis_where,
                   r.redis_error.empty() ? "" : "  (cannot be read)"));
  line(fmt::format("PostgreSQL  {}{}", r.postgres_where,
                   r.postgres_error.empty() ? "" : "  (cannot be read)"));
  const auto& d = r.daemon;
  if (!d.checked) {
    line("daemon      not asked (http.listen empty, or --no-daemon)");
  } else if (!d.answered) {
    line(fmt::format("daemon      {}: no answer", d.listen));
  } else {
    line(fmt::format("daemon      {}: {}, Redis {}, PostgreSQL {}, breaker {}", d.listen,
                     d.ready ? "ready" : "NOT READY", d.redis, d.postgres, d.breaker));
  }
  line("");
  line(fmt::format("{:<24} {:>10} {:>8} {:>8} {:>15} {:>22} {:>10}",
                   "stream (group " + r.group + ")", "entries", "lag", "pending", "oldest pending",
                   "newest committed", "dead 1 h"));
  for (const auto& s : r.streams) {
    const std::string oldest =
        s.oldest_pending ? humanDuration(ageMs(*s.oldest_pending, r.now_ms)) : "-";
    const std::string newest =
        s.newest_committed ? humanDuration(ageMs(*s.newest_committed, r.now_ms)) + " ago" : "-";
    line(fmt::format("{:<24} {:>10} {:>8} {:>8} {:>15} {:>22} {:>10}", s.name,
                     s.length ? std::to_string(*s.length) : "?",
                     !s.group_exists ? "no group"
                     : s.lag         ? std::to_string(*s.lag)
                                     : "?",
                     s.pending, oldest, newest, deadLetterTotal(s)));
    for (const auto& c : s.consumers) {
      line(fmt::format("  consumer {}: {} pending, idle {}", c.name, c.pending,
                       humanDuration(c.idle_ms)));
    }
    for (const auto& [reason, count] : s.dead_letters_last_hour) {
      line(fmt::format("  dead letters in the last hour: {} {}", count, reason));
    }
  }
  line("");
  if (attention.empty()) {
    line("healthy");
  } else {
    line("needs attention:");
    for (const auto& a : attention) {
      line("  - " + a);
    }
  }
  return out;
}

std::string renderJson(const Report& r, const std::vector<std::string>& attention) {
  std::string out;
  auto str = [&](std::string_view key, std::string_view value) {
    core::appendJsonString(out, key);
    out.push_back(':');
    core::appendJsonString(out, value);
  };
  auto num = [&](std::string_view key, int64_t value) {
    core::appendJsonString(out, key);
    out += fmt::format(":{}", value);
  };
  auto optNum = [&](std::string_view key, std::optional<int64_t> value) {
    core::appendJsonString(out, key);
    out += value ? fmt::format(":{}", *value) : std::string(":null");
  };
  auto strings = [&](std::string_view key, const std::vector<std::string>& values) {
    core::appendJsonString(out, key);
    out += ":[";
    for (size_t i = 0; i < values.size(); ++i) {
      out += i ? "," : "";
      core::appendJsonString(out, values[i]);
    }
    out += "]";
  };
  auto optId = [&](std::string_view key, const std::optional<core::EntryId>& id) {
    if (id) {
      str(key, id->toString());
      out.push_back(',');
      num(std::string(key) + "_age_ms", ageMs(*id, r.now_ms));
    } else {
      core::appendJsonString(out, key);
      out += ":null,";
      core::appendJsonString(out, std::string(key) + "_age_ms");
      out += ":null";
    }
  };
  out += fmt::format(R"({{"healthy":{},)", attention.empty());
  strings("attention", attention);
  out += ",";
  num("now_ms", r.now_ms);
  out += ",";
  str("group", r.group);
  out += R"(,"redis":{)";
  str("where", r.redis_where);
  out += fmt::format(R"(,"readable":{}}},"postgres":{{)", r.redis_error.empty());
  str("where", r.postgres_where);
  out += fmt::format(R"(,"readable":{}}},"daemon":{{)", r.postgres_error.empty());
  const auto& d = r.daemon;
  out += fmt::format(R"("checked":{},)", d.checked);
  str("listen", d.listen);
  out += fmt::format(R"(,"answered":{},"ready":{},)", d.answered, d.ready);
  str("redis", d.redis);
  out += ",";
  str("postgres", d.postgres);
  out += ",";
  str("breaker", d.breaker);
  out += ",";
  strings("reasons", d.reasons);
  out += R"(},"streams":[)";
  for (size_t i = 0; i < r.streams.size(); ++i) {
    const auto& s = r.streams[i];
    out += i ? ",{" : "{";
    str("name", s.name);
    out += ",";
    optNum("entries", s.length);
    out += fmt::format(R"(,"group_exists":{},)", s.group_exists);
    optNum("lag", s.lag);
    out += ",";
    num("pending", s.pending);
    out += ",";
    optId("oldest_pending", s.oldest_pending);
    out += ",";
    optId("newest_committed", s.newest_committed);
    out += R"(,"consumers":[)";
    for (size_t j = 0; j < s.consumers.size(); ++j) {
      out += j ? ",{" : "{";
      str("name", s.consumers[j].name);
      out += fmt::format(R"(,"pending":{},"idle_ms":{}}})", s.consumers[j].pending,
                         s.consumers[j].idle_ms);
    }
    out += R"(],"dead_letters_last_hour":{)";
    bool first = true;
    for (const auto& [reason, count] : s.dead_letters_last_hour) {
      out += first ? "" : ",";
      first = false;
      num(reason, count);
    }
    out += "}}";
  }
  out += "]}\n";
  return out;
}

} // namespace auditq::app::status
