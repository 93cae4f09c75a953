#include "core/log.h"

#include <gtest/gtest.h>

namespace auditq::core::log {
namespace {

TEST(Log, RendersTextAsEventAndKeyValuePairs) {
  setup("info", Format::Text);
  EXPECT_EQ(render("batch_committed", {{"stream", "sync:events"}, {"rows", 12}, {"ok", true}}),
            "batch_committed stream=sync:events rows=12 ok=true");
}

TEST(Log, QuotesTextValuesWithSpaces) {
  setup("info", Format::Text);
  EXPECT_EQ(render("e", {{"error", "connection refused"}}), R"(e error="connection refused")");
}

TEST(Log, RendersJsonMembersWithEscaping) {
  setup("info", Format::Json);
  EXPECT_EQ(render("e", {{"msg", "a\"b\\c\nd\x01"}, {"n", -3}}),
            R"("event":"e","msg":"a\"b\\c\nd\u0001","n":-3)");
  setup("info", Format::Text);
}

} // namespace
} // namespace auditq::core::log
