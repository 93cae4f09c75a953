// The circuit breaker in front of PostgreSQL, shared by the writers. Closed: every writer
// writes (each backs off on its own after a failure). After `failure_threshold` consecutive
// failed writes it opens: nobody writes until the probe time, then exactly one writer probes
// (half-open) with a real batch; its success closes the breaker, its failure reopens it with a
// longer delay (capped exponential backoff, full jitter). So a PostgreSQL that is down sees one
// attempt per backoff interval, not one per writer per interval.
// Pure logic with the time passed in; the caller serialises access.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include "pipeline/backoff.h"

namespace auditq::pipeline {

class CircuitBreaker {
public:
  using Clock = std::chrono::steady_clock;
  enum class State { Closed, Open, HalfOpen };

  CircuitBreaker(int64_t failure_threshold, Backoff backoff)
      : threshold_(failure_threshold), backoff_(backoff) {}

  // May the caller write now? Closed: yes. Open: only once the probe time has come, and then
  // only the first caller (the breaker turns half-open). Half-open: no (a probe is running).
  bool tryAcquire(Clock::time_point now) {
    if (state_ == State::Closed) {
      return true;
    }
    if (state_ == State::Open && now >= next_probe_) {
      state_ = State::HalfOpen;
      return true;
    }
    return false;
  }

  // A write reached PostgreSQL and was answered (committed, or refused for its rows).
  // Returns true when this closed an open breaker.
  bool onSuccess() {
    const bool was_open = state_ != State::Closed;
    state_ = State::Closed;
    failures_ = 0;
    backoff_.reset();
    return was_open;
  }

  // A write failed for a reason that is not the rows'. Returns true when this opened the
  // breaker (it was closed).
  bool onFailure(Clock::time_point now) {
    ++failures_;
    if (state_ == State::Closed && failures_ < threshold_) {
      return false;
    }
    const bool opened = state_ == State::Closed;
    state_ = State::Open;
    next_probe_ = now + std::chrono::milliseconds(backoff_.nextMs());
    return opened;
  }

  State state() const { return state_; }
  Clock::time_point nextProbe() const { return next_probe_; }

private:
  int64_t threshold_;
  Backoff backoff_;
  State state_ = State::Closed;
  int64_t failures_ = 0;
  Clock::time_point next_probe_{};
};

std::string_view breakerStateName(CircuitBreaker::State state);

} // namespace auditq::pipeline
