// The text PostgreSQL prints for a jsonb value (jsonb_out), computed from the JSON as written:
// object keys sorted by length, then bytes, the last of duplicate keys kept; ", " and ": "
// between items; strings re-escaped as escape_json does (\" \\ \b \f \n \r \t, other control
// characters as \u00xx, everything else as is); numbers as numeric_out prints what numeric_in
// read (the exponent applied, the scale as written: 1.50 stays 1.50, 1.5e1 is 15, -0 is 0).
// The writers digest rows with it (pg/row_digest.h), so that `auditq verify` can recompute the
// same from what the database holds; tests/integration/jsonb_parity_test.cc holds it to a real
// server. Input must have passed JsonbCheck. No recursion; no allocation once warm.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace auditq::pipeline {

class JsonbText {
public:
  // Appends to `out` the jsonb text of `json` (checked by JsonbCheck).
  void render(std::string_view json, std::string& out);

private:
  enum class Kind : uint8_t { Null, True, False, String, Number, Array, Object };
  struct Node {
    Kind kind;
    // String, Number: the bytes are in the JSON as written (printed as they are: a string with
    // no escape, a plain integer), else in text_. Most of a state's strings and numbers are
    // such, and are neither copied nor scanned again.
    bool raw = false;
    uint32_t begin; // String, Number: in the JSON or text_; Array, Object: in members_
    uint32_t len;   // bytes; Array: elements; Object: pairs (key and value in members_)
  };
  struct Open {
    uint32_t node;
    uint32_t first_pending;
  };
  struct Emit {
    uint32_t node;
    uint32_t next;
  };

  uint32_t add(Kind kind, uint32_t begin, uint32_t len, bool raw = false);
  std::string_view bytes(const Node& n) const {
    return (n.raw ? source_ : std::string_view(text_)).substr(n.begin, n.len);
  }
  void string(std::string_view json, size_t& i);
  void number(std::string_view json, size_t& i);
  void close();
  void emitString(const Node& n, std::string& out) const;

  std::string_view source_; // the JSON being rendered
  std::vector<Node> nodes_;
  std::string text_;
  std::vector<uint32_t> pending_; // completed children of the open containers, in order
  std::vector<Open> open_;
  std::vector<uint32_t> members_;
  struct Pair {
    std::string_view key;
    uint32_t pending; // the key's index in pending_ (the value follows it)
  };
  std::vector<Pair> pairs_; // an object's members while they are sorted
  std::vector<Emit> emit_;
  std::string digits_;
};

} // namespace auditq::pipeline
