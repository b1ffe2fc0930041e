#include "base/json_reader.h"

#include <gtest/gtest.h>

#include "base/json.h"

namespace kaffa::json {
namespace {

TEST(JsonReader, ParsesNestedDocuments) {
  auto v = parse(R"( {"a": [1, -2.5e3, "x", true, false, null, {}], "b": {"c": "d"}} )");
  ASSERT_TRUE(v);
  ASSERT_TRUE(v->is_object());
  const auto& a = (*v)["a"].items();
  ASSERT_EQ(a.size(), 7u);
  EXPECT_EQ(a[0].as_int64(), 1);
  EXPECT_EQ(a[1].number_text(), "-2.5e3");
  EXPECT_FALSE(a[1].as_int64());
  EXPECT_EQ(a[2].as_string(), "x");
  EXPECT_TRUE(a[3].as_bool());
  EXPECT_FALSE(a[4].as_bool());
  EXPECT_TRUE(a[5].is_null());
  EXPECT_TRUE(a[6].is_object());
  EXPECT_EQ((*v)["b"]["c"].as_string(), "d");
  EXPECT_TRUE((*v)["missing"]["deeper"].is_null());
  EXPECT_EQ((*v)["missing"].int64_or(7), 7);
}

TEST(JsonReader, Int64AsNumberOrStringExactly) {
  auto v = parse(
      R"({"n": 9223372036854775807, "s": "-9223372036854775808", "u": "18446744073709551615",)"
      R"( "big": "9223372036854775808", "x": "12a"})");
  ASSERT_TRUE(v);
  EXPECT_EQ((*v)["n"].as_int64(), INT64_MAX);
  EXPECT_EQ((*v)["s"].as_int64(), INT64_MIN);
  EXPECT_EQ((*v)["u"].as_uint64(), UINT64_MAX);
  EXPECT_FALSE((*v)["big"].as_int64());
  EXPECT_FALSE((*v)["x"].as_int64());
}

TEST(JsonReader, DecodesEscapesAndRoundTripsTheWriter) {
  auto v = parse(R"(["a\"b\\c\/\n\t\u00e9\ud83d\ude00"])");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->items()[0].as_string(), "a\"b\\c/\n\té\xF0\x9F\x98\x80");
  Writer w;
  w.begin_object().key("k\"").value("line\nbreak \x01").key("n").value(int64_t{-5}).end_object();
  auto back = parse(w.str());
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)["k\""].as_string(), "line\nbreak \x01");
  EXPECT_EQ((*back)["n"].as_int64(), -5);
}

TEST(JsonReader, RejectsMalformedInputWithAReason) {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "01", "1.", "-", "\"abc",
                          "\"\\x\"", "\"\\ud800\"", "tru", "{} {}", "\"a\nb\"", "[1 2]", "nul"}) {
    std::string err;
    EXPECT_FALSE(parse(bad, &err)) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
  std::string deep(kMaxDepth + 5, '[');
  deep += std::string(kMaxDepth + 5, ']');
  std::string err;
  EXPECT_FALSE(parse(deep, &err));
  EXPECT_NE(err.find("deep"), std::string::npos);
}

TEST(JsonReader, FindsValueBoundariesInAStream) {
  const std::string stream = " {\"a\":\"}{\\\"\"}\n[1,[2]]\n{\"incomplete\":";
  const size_t first = complete_value_length(stream);
  ASSERT_GT(first, 0u);
  EXPECT_TRUE(parse(stream.substr(0, first)));
  const std::string rest = stream.substr(first);
  const size_t second = complete_value_length(rest);
  EXPECT_EQ(parse(rest.substr(0, second))->items().size(), 2u);
  EXPECT_EQ(complete_value_length(rest.substr(second)), 0u);
  EXPECT_EQ(complete_value_length("  \n"), 0u);
  EXPECT_EQ(complete_value_length("12"), 0u);
  EXPECT_EQ(complete_value_length("12 "), 2u);
}

}  // namespace
}  // namespace kaffa::json
