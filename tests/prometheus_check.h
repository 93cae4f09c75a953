// A strict reader of the Prometheus text format (0.0.4) for the tests: checks the syntax of
// every line and the rules a scraper relies on, and returns the samples by series.
// Header-only; shared by the unit tests of the writer and the integration tests of /metrics.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace auditq::test {

struct ParsedMetrics {
  std::vector<std::string> problems;              // empty when the text is valid
  std::map<std::string, std::string> types;       // family -> counter, gauge, histogram...
  std::map<std::string, double> samples;          // "name{a=\"x\",b=\"y\"}" (as written)
  double value(const std::string& series) const { // NaN when absent
    const auto it = samples.find(series);
    return it == samples.end() ? std::nan("") : it->second;
  }
};

inline ParsedMetrics parsePrometheus(const std::string& text) {
  ParsedMetrics m;
  static const std::regex kHelp(R"(^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) .*$)");
  static const std::regex kType(
      R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  static const std::regex kSample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")(,[a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*")*\})? ([^ ]+)$)");
  std::set<std::string> helped;
  std::map<std::string, double> last_bucket; // histogram series without le -> last cumulative
  std::istringstream in(text);
  std::string line;
  int n = 0;
  if (text.empty() || text.back() != '\n') {
    m.problems.push_back("the text must end with a newline");
  }
  while (std::getline(in, line)) {
    ++n;
    std::smatch g;
    if (line.empty()) {
      continue;
    }
    if (std::regex_match(line, g, kHelp)) {
      if (!helped.insert(g[1]).second) {
        m.problems.push_back("line " + std::to_string(n) + ": second HELP for " + g[1].str());
      }
      continue;
    }
    if (std::regex_match(line, g, kType)) {
      if (m.types.count(g[1]) != 0) {
        m.problems.push_back("line " + std::to_string(n) + ": second TYPE for " + g[1].str());
      }
      m.types[g[1]] = g[2];
      if (g[2] == "counter" && !g[1].str().ends_with("_total")) {
        m.problems.push_back("counter " + g[1].str() + " does not end in _total");
      }
      continue;
    }
    if (line[0] == '#') {
      continue; // a comment
    }
    if (!std::regex_match(line, g, kSample)) {
      m.problems.push_back("line " + std::to_string(n) + ": not a sample: " + line);
      continue;
    }
    const std::string name = g[1];
    const std::string value_text = g[g.size() - 1];
    char* end = nullptr;
    double value = std::strtod(value_text.c_str(), &end);
    if (value_text == "+Inf") {
      value = INFINITY;
    } else if (value_text == "-Inf") {
      value = -INFINITY;
    } else if (value_text == "NaN") {
      value = NAN;
    } else if (end == nullptr || *end != '\0') {
      m.problems.push_back("line " + std::to_string(n) + ": bad value " + value_text);
    }
    std::string family = name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s(suffix);
      if (m.types.count(family) == 0 && name.ends_with(s) &&
          m.types.count(name.substr(0, name.size() - s.size())) != 0) {
        family = name.substr(0, name.size() - s.size());
      }
    }
    if (m.types.count(family) == 0) {
      m.problems.push_back("line " + std::to_string(n) + ": no TYPE before " + name);
    }
    const std::string series = name + g[2].str();
    if (!m.samples.emplace(series, value).second) {
      m.problems.push_back("line " + std::to_string(n) + ": duplicate series " + series);
    }
    if (m.types[family] == "counter" && !(value >= 0)) {
      m.problems.push_back("line " + std::to_string(n) + ": negative counter " + series);
    }
    if (name.ends_with("_bucket") && m.types[family] == "histogram") {
      // Buckets are cumulative: never decreasing within one series (labels other than le).
      const std::string key = std::regex_replace(g[2].str(), std::regex(R"(,?le="[^"]*")"), "");
      const auto it = last_bucket.find(family + key);
      if (it != last_bucket.end() && value < it->second) {
        m.problems.push_back("line " + std::to_string(n) + ": bucket decreases in " + series);
      }
      last_bucket[family + key] = value;
    }
  }
  return m;
}

} // namespace auditq::test
