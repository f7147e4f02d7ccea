#include "client/cli_output.h"

#include "gtest/gtest.h"

namespace mvkv::client {
namespace {

TEST(CliOutputTest, BytesJsonEscapesQuotesControlAndHighBytes) {
  EXPECT_EQ(BytesJson("a\"b\\c\n\x80\xff").dump(-1, ' ', true),
            "\"a\\\"b\\\\c\\n\\u0080\\u00ff\"");
}

TEST(CliOutputTest, BytesJsonDecodesBackToTheSameBytes) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const nlohmann::ordered_json parsed =
      nlohmann::ordered_json::parse(BytesJson(all).dump(-1, ' ', true));
  // One code point per byte: decode the UTF-8 back to bytes.
  const std::string utf8 = parsed.get<std::string>();
  std::string bytes;
  for (std::size_t i = 0; i < utf8.size(); ++i) {
    const unsigned char c = utf8[i];
    if (c < 0x80) {
      bytes.push_back(static_cast<char>(c));
    } else {
      bytes.push_back(static_cast<char>(((c & 0x1f) << 6) | (utf8[++i] & 0x3f)));
    }
  }
  EXPECT_EQ(bytes, all);
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
