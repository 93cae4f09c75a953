// Decoding and PostgreSQL's jsonb must accept and refuse the same documents: every borderline
// case of tests/jsonb_cases.h against a real server, and through the decoder.
#include <gtest/gtest.h>

#include "integration/support.h"
#include "jsonb_cases.h"
#include "pipeline/decode.h"
#include "pipeline/jsonb_check.h"
#include "pipeline/jsonb_text.h"

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

// The row digests depend on it: auditq prints every document jsonb takes exactly as PostgreSQL
// prints it back (key order and duplicates, spacing, escapes, numbers).
TEST(JsonbParity, AuditqPrintsWhatJsonbPrints) {
  ScratchDatabase db;
  auto conn = db.connect();
  std::vector<std::string> docs = {
      R"({})",
      R"([])",
      R"({"b":1,"a":2,"aa":3,"A":4,"":5})",
      R"({"k":1,"k":2,"j":{"k":3,"k":[1,{"z":0,"y":null}]}})",
      R"(  {  "a" : [ 1 , 2 , [ ] , { } ] ,"b":true,"c":false,"d":null }  )",
      R"({"s":"\" \\ \/ \b \f \n \r \t \u0001 \u001f \u007f \u00e9 \u20ac \ud83d\ude00 é €"})",
      R"({"s":"\u0009","u":"\u0041\u00DF"})",
      R"({"n":[0,-0,0.0,-0.0,1.50,1.5e1,1.50e3,1e2,1E+2,1e-2,1.5e-3,-1.0e-1,123.456e2,0.05e1]})",
      R"({"n":[0e10,0e-5,0.000e2,-0e-3,12345678901234567890123,1e20,1.000000000000000000001]})",
      R"({"n":[9007199254740993,-9223372036854775809,18446744073709551616,1e-7,2.5E-10]})",
      R"({"mixed":[{"b":[],"a":{}},"x",1.0,true],"é":1,"z":1,"ab":1,"b":1})",
      R"({"b":1,"\u0061":2,"a":3,"\u0062b":4,"ab":5,"c\n":[-12,0,-0,7,"plain","e\u0301"]})",
      R"({"session_id":"6f1c2b9e-3a4d-4e5f-8a9b-0c1d2e3f4a5b","version":3,"participants":[{"id":"p","total_time_ms":300000}],"sync_mode":"global"})",
  };
  for (const auto& c : jsonbCases()) {
    if (c.jsonb_takes) {
      docs.push_back(c.json);
    }
  }
  pipeline::JsonbCheck check;
  pipeline::JsonbText text;
  for (const auto& doc : docs) {
    bool exotic = false;
    ASSERT_FALSE(check.check(doc, exotic)) << doc;
    pqxx::nontransaction tx(*conn);
    const std::string pg = tx.exec_params1("SELECT $1::jsonb::text", doc)[0].as<std::string>();
    std::string mine;
    text.render(doc, mine);
    EXPECT_EQ(mine, pg) << "for " << doc.substr(0, 200);
  }
}

} // namespace
} // namespace auditq::test
