// Output helpers of the client verbs: tables, JSON, the progress line.
#include <chrono>
#include <cstdio>

#include "tools/cli_common.h"

namespace kaffa::cli {
namespace {

int64_t mono_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Length of the valid UTF-8 sequence at s[i] (1-4), or 0 when it is not one.
size_t utf8_len(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  unsigned c = b(i);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(i + 1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    if (c == 0xE0 && b(i + 1) < 0xA0) return 0;   // overlong
    if (c == 0xED && b(i + 1) >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    if (c == 0xF0 && b(i + 1) < 0x90) return 0;
    if (c == 0xF4 && b(i + 1) >= 0x90) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

Progress::Progress(const char* verb, bool enabled)
    : verb_(verb), on_(enabled && stderr_is_terminal()), start_ns_(mono_ns()) {}

void Progress::tick(uint64_t n) {
  if (!on_) return;
  int64_t now = mono_ns();
  if (now - last_ns_ < 500'000'000) return;
  last_ns_ = now;
  show(n);
}

void Progress::done(uint64_t n) {
  if (!on_) return;
  show(n);
  std::fputc('\n', stderr);
}

void Progress::show(uint64_t n) {
  double secs = static_cast<double>(mono_ns() - start_ns_) / 1e9;
  double rate = secs > 0 ? static_cast<double>(n) / secs : 0;
  std::fprintf(stderr, "\r%s %llu records (%.0f/s)   ", verb_, static_cast<unsigned long long>(n),
               rate);
}

void Table::print() const {
  std::vector<size_t> width;
  for (const auto& r : rows_) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string line;
  for (const auto& r : rows_) {
    line.clear();
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line.append(width[i] - r[i].size() + 2, ' ');
    }
    line += '\n';
    std::fputs(line.c_str(), stdout);
  }
}

void json_escape(std::string& out, std::string_view s) {
  static const char* hex = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    char ch = s[i];
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      // Valid UTF-8 passes through; any other byte becomes U+FFFD, keeping the JSON valid.
      size_t n = utf8_len(s, i);
      if (n == 0) {
        out += "\\ufffd";
      } else {
        out.append(s.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void Json::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!first_.empty()) {
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
}

Json& Json::begin_object() {
  before_value();
  out_ += '{';
  first_.push_back(true);
  return *this;
}
Json& Json::end_object() {
  out_ += '}';
  first_.pop_back();
  return *this;
}
Json& Json::begin_array() {
  before_value();
  out_ += '[';
  first_.push_back(true);
  return *this;
}
Json& Json::end_array() {
  out_ += ']';
  first_.pop_back();
  return *this;
}
Json& Json::key(const std::string& k) {
  before_value();
  json_escape(out_, k);
  out_ += ':';
  after_key_ = true;
  return *this;
}
Json& Json::str(std::string_view s) {
  before_value();
  json_escape(out_, s);
  return *this;
}
Json& Json::num(int64_t v) {
  before_value();
  out_ += std::to_string(v);
  return *this;
}
Json& Json::boolean(bool v) {
  before_value();
  out_ += v ? "true" : "false";
  return *this;
}
Json& Json::null() {
  before_value();
  out_ += "null";
  return *this;
}
Json& Json::opt_bytes(const void* p, size_t n) {
  if (!p) return null();
  return str(std::string_view(static_cast<const char*>(p), n));
}
void Json::print() const {
  std::fputs(out_.c_str(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace kaffa::cli
