// A small streaming JSON writer for the admin API: objects, arrays, strings (UTF-8 passed
// through, control characters and quotes escaped), integers, booleans and null. Commas are
// placed automatically. No reader.
//
// Usage:
//   json::Writer w;
//   w.begin_object();
//   w.key("name").value("t1");
//   w.key("partitions").value(3);
//   w.end_object();
//   w.str();  // {"name":"t1","partitions":3}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kaffa::json {

// The string as a JSON string literal, quotes included.
std::string quote(std::string_view s);

class Writer {
 public:
  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  Writer& key(std::string_view k);
  Writer& value(std::string_view v);
  Writer& value(const char* v) { return value(std::string_view(v)); }
  Writer& value(const std::string& v) { return value(std::string_view(v)); }
  Writer& value(int64_t v);
  Writer& value(int32_t v) { return value(static_cast<int64_t>(v)); }
  Writer& value(uint64_t v);
  Writer& value(bool v);
  Writer& null();

  const std::string& str() const { return out_; }

 private:
  void before_value();
  std::string out_;
  std::vector<bool> first_;  // per open container: nothing written in it yet
  bool after_key_ = false;
};

}  // namespace kaffa::json
