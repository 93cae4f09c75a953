// Decoding and PostgreSQL's jsonb must accept and refuse the same documents: every borderline
// case of tests/jsonb_cases.h against a real server, and through the decoder.
#include <gtest/gtest.h>

#include "integration/support.h"
#include "jsonb_cases.h"
#include "pipeline/decode.h"

namespace auditq::test {
namespace {

TEST(JsonbParity, PostgresTakesExactlyWhatDecodingTakes) {
  ScratchDatabase db;
  auto conn = db.connect();
  config::DecodeConfig decode;
  decode.max_entry_bytes = 1 << 20;
  config::ProjectionsConfig projections;
  projections.sessions = projections.participants = false;
  pipeline::Decoder decoder(decode, projections);
  for (const auto& c : jsonbCases()) {
    bool pg_takes = true;
    try {
      pqxx::nontransaction tx(*conn);
      tx.exec_params("SELECT $1::jsonb", c.json);
    } catch (const pqxx::sql_error&) {
      pg_takes = false;
    } catch (const pqxx::failure&) {
      pg_takes = false;
    }
    EXPECT_EQ(pg_takes, c.jsonb_takes) << c.name << ": the table is wrong about PostgreSQL";
    // Through the decoder, as an entry's metadata.
    const std::vector<std::string> fields = {
        "type", "session_updated", "session_id", "6f1c2b9e-3a4d-4e5f-8a9b-0c1d2e3f4a5b",
        "ts",   "1714557601000",   "metadata",   c.json};
    const std::vector<std::string_view> views(fields.begin(), fields.end());
    pipeline::Event event;
    pipeline::Projection projection;
    const auto error = decoder.decode(views, event, projection);
    EXPECT_EQ(!error.has_value(), pg_takes)
        << c.name << ": decoding says " << (error ? std::string(error->detail) : "taken")
        << ", PostgreSQL " << (pg_takes ? "takes it" : "refuses it");
  }
}

} // namespace
} // namespace auditq::test
