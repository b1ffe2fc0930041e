#include "base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>

#include "base/json.h"

namespace kaffa::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::atomic<Format> g_format{Format::text};

constexpr const char* kTextPattern = "%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%t] %v";
constexpr std::string_view kLevelNames[] = {"trace", "debug", "info", "warn", "error", "off"};

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
  const std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", std::string_view(buf, n), ms.count() % 1000);
}

spdlog::logger& logger() {
  // stderr keeps stdout free for tools that print data.
  static std::shared_ptr<spdlog::logger> l = [] {
    auto lg = spdlog::stderr_color_mt("kaffa");
    lg->set_pattern(kTextPattern);
    lg->set_level(spdlog::level::trace);
    lg->flush_on(spdlog::level::info);
    return lg;
  }();
  return *l;
}

}  // namespace

void set_level(Level l) {
  g_level.store(l, std::memory_order_relaxed);
}
Level level() {
  return g_level.load(std::memory_order_relaxed);
}

void set_format(Format f) {
  g_format.store(f);
  logger().set_pattern(f == Format::json ? "%v" : kTextPattern);
}

bool parse_format(std::string_view name, Format& out) {
  if (name == "text" || name == "json") {
    out = name == "json" ? Format::json : Format::text;
    return true;
  }
  return false;
}

bool parse_level(std::string_view name, Level& out) {
  static constexpr std::pair<std::string_view, Level> kNames[] = {
      {"trace", Level::trace}, {"debug", Level::debug}, {"info", Level::info},
      {"warn", Level::warn},   {"error", Level::error}, {"off", Level::off}};
  for (auto& [n, l] : kNames) {
    if (n == name) {
      out = l;
      return true;
    }
  }
  return false;
}

void write(Level l, std::string_view message) {
  auto sl = static_cast<spdlog::level::level_enum>(static_cast<int>(l));
  if (g_format.load(std::memory_order_relaxed) == Format::json) {
    json::Writer w;
    w.begin_object()
        .key("ts")
        .value(utc_now())
        .key("level")
        .value(kLevelNames[static_cast<int>(l)])
        .key("thread")
        .value(static_cast<int64_t>(::syscall(SYS_gettid)))
        .key("msg")
        .value(message)
        .end_object();
    logger().log(sl, "{}", w.str());
    return;
  }
  logger().log(sl, "{}", message);
}

void RepeatedWarning::warn(std::string message, int64_t now_ms) {
  if (message == last_ && now_ms < next_ms_) {
    ++repeats_;
    return;
  }
  if (message == last_ && repeats_ > 0) {
    log::warn("{} (again {} times in the last {} s)", message, repeats_, interval_ms_ / 1000);
  } else {
    log::warn("{}", message);
  }
  last_ = std::move(message);
  next_ms_ = now_ms + interval_ms_;
  repeats_ = 0;
}

void RepeatedWarning::clear(std::string_view what) {
  if (last_.empty()) return;
  log::info("{}", what);
  last_.clear();
  repeats_ = 0;
}

}  // namespace kaffa::log
