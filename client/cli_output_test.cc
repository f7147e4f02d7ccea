#include "client/cli_output.h"

#include "gtest/gtest.h"

namespace mvkv::client {
namespace {

TEST(CliOutputTest, JsonStringEscapesQuotesControlAndHighBytes) {
  EXPECT_EQ(JsonString("a\"b\\c\n\x80"), "\"a\\\"b\\\\c\\u000a\\u0080\"");
}

TEST(CliOutputTest, ParsesAScriptSkippingBlankAndCommentLines) {
  auto script =
      ParseScript("# t\nget a\n\nput a 1\ndel b\nscan a z 10\ncommit\n");
  ASSERT_TRUE(script.ok()) << script.status();
  ASSERT_EQ(script->size(), 5u);
  EXPECT_EQ((*script)[1].verb, "put");
  EXPECT_EQ((*script)[1].args[1], "1");
}

TEST(CliOutputTest, RefusesUnknownOperationsAndWrongArity) {
  EXPECT_FALSE(ParseScript("frobnicate a\n").ok());
  EXPECT_FALSE(ParseScript("put a\n").ok());
  EXPECT_FALSE(ParseScript("scan a b notanumber\n").ok());
}

}  // namespace
}  // namespace mvkv::client
