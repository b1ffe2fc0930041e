#include "base/json.h"

#include <gtest/gtest.h>

namespace kaffa::json {
namespace {

TEST(Json, WritesNestedValuesWithCommas) {
  Writer w;
  w.begin_object();
  w.key("name").value("t1");
  w.key("partitions").value(3);
  w.key("big").value(uint64_t{18446744073709551615u});
  w.key("internal").value(false);
  w.key("none").null();
  w.key("list").begin_array().value(int64_t{-1}).begin_object().end_object().begin_array();
  w.end_array().end_array();
  w.key("configs").begin_object().key("a").value("b").end_object();
  w.end_object();
  EXPECT_EQ(w.str(), R"({"name":"t1","partitions":3,"big":18446744073709551615,"internal":false,)"
                     R"("none":null,"list":[-1,{},[]],"configs":{"a":"b"}})");
}

TEST(Json, EscapesStrings) {
  EXPECT_EQ(quote("a\"b\\c\n\t\x01\x7f é"), "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f é\"");
  Writer w;
  w.begin_array().value("x\"").end_array();
  EXPECT_EQ(w.str(), R"(["x\""])");
}

}  // namespace
}  // namespace kaffa::json

namespace kaffa::json {
namespace {

TEST(JsonQuote, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(quote("a\xc3\xbc"
                  "b"),
            "\"a\xc3\xbc"
            "b\"");  // valid two-byte sequence kept
  EXPECT_EQ(quote("a\xff"
                  "b"),
            "\"a\\ufffdb\"");                                     // stray byte replaced
  EXPECT_EQ(quote("\xe0\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // overlong form rejected
}

}  // namespace
}  // namespace kaffa::json
