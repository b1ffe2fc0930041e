// Logging facade. spdlog stays behind log.cc so that only one translation unit pays for it.
//
// One line per event on stderr, in one of two formats (set_format, broker setting `log.format`):
//   text  `2026-11-26T18:25:45.123+00:00 info [14166] message`
//   json  `{"ts":"2026-11-26T18:25:45.123Z","level":"info","thread":14166,"msg":"message"}`
//         (one JSON object per line, for log shippers; invalid UTF-8 in a message becomes U+FFFD)
//
// Threading: every function may be called from any thread; set_format before the first line.
#pragma once

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace kaffa::log {

enum class Level { trace = 0, debug = 1, info = 2, warn = 3, error = 4, off = 5 };

// Current threshold; changeable at runtime (request-level debug logging can be switched on).
void set_level(Level level);
Level level();
bool parse_level(std::string_view name, Level& out);
inline bool enabled(Level l) {
  return l >= level();
}
void write(Level l, std::string_view message);

enum class Format { text, json };
void set_format(Format f);
bool parse_format(std::string_view name, Format& out);

template <class... A>
void trace(fmt::format_string<A...> f, A&&... a) {
  if (enabled(Level::trace)) write(Level::trace, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void debug(fmt::format_string<A...> f, A&&... a) {
  if (enabled(Level::debug)) write(Level::debug, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void info(fmt::format_string<A...> f, A&&... a) {
  if (enabled(Level::info)) write(Level::info, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void warn(fmt::format_string<A...> f, A&&... a) {
  if (enabled(Level::warn)) write(Level::warn, fmt::format(f, std::forward<A>(a)...));
}
template <class... A>
void error(fmt::format_string<A...> f, A&&... a) {
  if (enabled(Level::error)) write(Level::error, fmt::format(f, std::forward<A>(a)...));
}

// A warning that may repeat for as long as a condition lasts (a peer that keeps refusing a
// connection): logged at once and whenever its text changes; the same text again at most once per
// `interval_ms`, saying how often it recurred meanwhile. clear() ends the condition: if anything
// was logged, one info line says so. Not thread-safe: one per owner (thread).
class RepeatedWarning {
 public:
  explicit RepeatedWarning(int64_t interval_ms = 60000) : interval_ms_(interval_ms) {}
  void warn(std::string message, int64_t now_ms);
  void clear(std::string_view what);

 private:
  int64_t interval_ms_;
  std::string last_;
  int64_t next_ms_ = 0;  // the same text is logged again from then on
  int64_t repeats_ = 0;  // since it was last logged
};

}  // namespace kaffa::log
