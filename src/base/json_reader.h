// A small JSON reader (RFC 8259) to go with the writer in json.h: parses a whole document into a
// tree of json::Value, and finds where one value ends in a stream of concatenated values.
//
// Numbers keep their text, so int64 values round-trip exactly; `as_int64` also accepts a string
// of digits because protobuf's JSON mapping (etcd's gateway) writes 64-bit integers as strings.
// Accessors never throw: a missing member or a value of another type reads as null / empty / 0.
// Nesting deeper than kMaxDepth is an error (garbage cannot exhaust the stack).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kaffa::json {

class Value {
 public:
  enum class Type { null, boolean, number, string, array, object };
  using Member = std::pair<std::string, Value>;

  Value() = default;
  static Value make_bool(bool b);
  static Value make_number(std::string text);
  static Value make_string(std::string s);
  static Value make_array(std::vector<Value> items);
  static Value make_object(std::vector<Member> members);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::null; }
  bool is_object() const { return type_ == Type::object; }
  bool is_array() const { return type_ == Type::array; }
  bool is_string() const { return type_ == Type::string; }

  // The member `key` of an object, or nullptr (absent, or this is not an object).
  const Value* find(std::string_view key) const;
  // Like find, but a shared null value when absent.
  const Value& operator[](std::string_view key) const;
  const std::vector<Value>& items() const { return items_; }       // array elements
  const std::vector<Member>& members() const { return members_; }  // object members, in order

  // The string (empty for any other type).
  const std::string& as_string() const { return text_if(Type::string); }
  // An integral number, or a string holding one; nullopt otherwise (or out of range).
  std::optional<int64_t> as_int64() const;
  std::optional<uint64_t> as_uint64() const;
  // as_int64 with a default (absent members read as `fallback`).
  int64_t int64_or(int64_t fallback) const { return as_int64().value_or(fallback); }
  bool as_bool() const { return type_ == Type::boolean && flag_; }
  // The number's text as written (empty for other types).
  const std::string& number_text() const { return text_if(Type::number); }

 private:
  const std::string& text_if(Type t) const;

  Type type_ = Type::null;
  bool flag_ = false;
  std::string text_;  // string contents, or a number's text
  std::vector<Value> items_;
  std::vector<Member> members_;
};

inline constexpr int kMaxDepth = 64;

// Parses one JSON value filling all of `text` (whitespace around it allowed). On failure returns
// nullopt and, when `error` is given, says what and where.
std::optional<Value> parse(std::string_view text, std::string* error = nullptr);

// For a stream of concatenated JSON values (optionally separated by whitespace): the length of
// the first complete value at the start of `buf` after leading whitespace, that whitespace
// included; 0 when `buf` holds only whitespace or an incomplete value. Only objects and arrays
// are delimited this way (scalars at the top level need a separator to be complete, and are
// reported as complete only when followed by whitespace). Does not validate: parse() does.
size_t complete_value_length(std::string_view buf);

}  // namespace kaffa::json
