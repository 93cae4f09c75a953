// Prometheus text exposition format (version 0.0.4): a writer for metric families and samples,
// and a histogram with fixed bucket bounds. Pure and allocation-free once warm: the daemon
// renders its own counters into a reused string on each scrape, no registry, no locks.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

namespace auditq::core {

// Cumulative-bucket histogram with fixed upper bounds (ascending) plus +Inf. Not thread-safe:
// one owner records and renders.
class BucketHistogram {
public:
  explicit BucketHistogram(std::initializer_list<double> bounds)
      : bounds_(bounds), counts_(bounds.size() + 1, 0) {}

  void record(double v) {
    size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) {
      ++i;
    }
    ++counts_[i];
    ++count_;
    sum_ += v;
  }

  std::span<const double> bounds() const { return bounds_; }
  // Observations in bucket i alone (i == bounds().size(): above the last bound).
  uint64_t bucketCount(size_t i) const { return counts_[i]; }
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  double sum_ = 0;
};

struct Label {
  std::string_view name;
  std::string_view value;
};

class PrometheusText {
public:
  void clear() { out_.clear(); }
  const std::string& text() const { return out_; }

  // "# HELP" and "# TYPE" lines; `type` is counter, gauge, histogram or untyped.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_.append("# HELP ").append(name).push_back(' ');
    for (char c : help) { // help text escapes only backslash and newline
      if (c == '\\') {
        out_.append("\\\\");
      } else if (c == '\n') {
        out_.append("\\n");
      } else {
        out_.push_back(c);
      }
    }
    out_.append("\n# TYPE ").append(name).push_back(' ');
    out_.append(type).push_back('\n');
  }

  void sample(std::string_view name, std::initializer_list<Label> labels, double value) {
    series(name, labels, {});
    appendValue(value);
  }
  void sample(std::string_view name, std::initializer_list<Label> labels, uint64_t value) {
    series(name, labels, {});
    fmt::format_to(std::back_inserter(out_), "{}\n", value);
  }
  void sample(std::string_view name, std::initializer_list<Label> labels, int64_t value) {
    series(name, labels, {});
    fmt::format_to(std::back_inserter(out_), "{}\n", value);
  }

  // The _bucket (cumulative, le="..."), _sum and _count series of one histogram.
  void histogram(std::string_view name, std::initializer_list<Label> labels,
                 const BucketHistogram& h) {
    const auto bounds = h.bounds();
    histogram(
        name, labels, bounds,
        [&h, bounds](double le) {
          uint64_t n = 0;
          for (size_t i = 0; i < bounds.size() && bounds[i] <= le; ++i) {
            n += h.bucketCount(i);
          }
          return n;
        },
        h.sum(), h.count());
  }

  // The same from any histogram that can say how many observations are <= a bound.
  template <typename CountAtMost>
  void histogram(std::string_view name, std::initializer_list<Label> labels,
                 std::span<const double> bounds, CountAtMost count_at_most, double sum,
                 uint64_t count) {
    for (size_t i = 0; i <= bounds.size(); ++i) {
      le_.clear();
      if (i < bounds.size()) {
        fmt::format_to(std::back_inserter(le_), "{}", bounds[i]);
      } else {
        le_ = "+Inf";
      }
      suffixed_.assign(name).append("_bucket");
      series(suffixed_, labels, Label{"le", le_});
      fmt::format_to(std::back_inserter(out_), "{}\n",
                     i < bounds.size() ? count_at_most(bounds[i]) : count);
    }
    suffixed_.assign(name).append("_sum");
    series(suffixed_, labels, {});
    appendValue(sum);
    suffixed_.assign(name).append("_count");
    series(suffixed_, labels, {});
    fmt::format_to(std::back_inserter(out_), "{}\n", count);
  }

private:
  void series(std::string_view name, std::initializer_list<Label> labels, Label extra) {
    out_.append(name);
    if (labels.size() == 0 && extra.name.empty()) {
      out_.push_back(' ');
      return;
    }
    out_.push_back('{');
    bool first = true;
    auto put = [&](const Label& l) {
      if (!first) {
        out_.push_back(',');
      }
      first = false;
      out_.append(l.name).append("=\"");
      for (char c : l.value) { // label values escape backslash, quote and newline
        if (c == '\\' || c == '"') {
          out_.push_back('\\');
          out_.push_back(c);
        } else if (c == '\n') {
          out_.append("\\n");
        } else {
          out_.push_back(c);
        }
      }
      out_.push_back('"');
    };
    for (const auto& l : labels) {
      put(l);
    }
    if (!extra.name.empty()) {
      put(extra);
    }
    out_.append("} ");
  }

  void appendValue(double v) {
    if (std::isnan(v)) {
      out_.append("NaN\n");
    } else if (std::isinf(v)) {
      out_.append(v > 0 ? "+Inf\n" : "-Inf\n");
    } else {
      fmt::format_to(std::back_inserter(out_), "{}\n", v);
    }
  }

  std::string out_;
  std::string le_;
  std::string suffixed_;
};

} // namespace auditq::core
