// FakeEnv: a GroupEnv for unit tests of the group managers — a manual clock whose timers run in
// time order on advance(), and writes that complete at once (with write_result) or, with
// hold_writes, when the test releases them, or are refused outright (append_error). Every write
// appended is kept in `writes`.
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/group_manager.h"
#include "coordinator/records.h"

namespace kaffa::coordinator {

class FakeEnv : public GroupEnv {
 public:
  GroupConfig cfg;
  int64_t clock = 1'000'000;
  bool hold_writes = false;
  protocol::ErrorCode write_result = protocol::ErrorCode::none;
  protocol::ErrorCode refusal = protocol::ErrorCode::none;  // what write_refusal() answers
  // When set, append() refuses every batch with it (nothing is kept in `writes`), though
  // write_refusal() does not foresee it: a storage failure, a batch too large.
  protocol::ErrorCode append_error = protocol::ErrorCode::none;
  std::vector<std::vector<CoordinatorShard::Record>> writes;

  const GroupConfig& config() const override { return cfg; }
  protocol::ErrorCode write_refusal() const override { return refusal; }
  int64_t now_ms() const override { return clock; }
  void schedule(int64_t delay_ms, std::function<void()> fn) override {
    timers_.push_back({clock + delay_ms, seq_++, std::move(fn)});
  }
  protocol::ErrorCode append(std::vector<CoordinatorShard::Record> records,
                             std::function<void(protocol::ErrorCode)> done) override {
    if (refusal != protocol::ErrorCode::none) return refusal;  // as the partition's own check
    if (append_error != protocol::ErrorCode::none) return append_error;
    writes.push_back(std::move(records));
    if (hold_writes) {
      held_.push_back(std::move(done));
    } else {
      done(write_result);
    }
    return protocol::ErrorCode::none;
  }
  void release_writes() {
    auto held = std::move(held_);
    held_.clear();
    for (auto& d : held) d(write_result);
  }
  // Moves the clock forward, running due timers in time order.
  void advance(int64_t ms) {
    const int64_t target = clock + ms;
    for (;;) {
      auto it = std::min_element(timers_.begin(), timers_.end(), [](const auto& a, const auto& b) {
        return a.at != b.at ? a.at < b.at : a.seq < b.seq;
      });
      if (it == timers_.end() || it->at > target) break;
      clock = std::max(clock, it->at);
      auto fn = std::move(it->fn);
      timers_.erase(it);
      fn();
    }
    clock = target;
  }
  // The last GroupMetadata value written for `group` (nullopt: tombstone or none).
  std::optional<protocol::GroupMetadataValue> last_group_value(const std::string& group) const {
    for (auto w = writes.rbegin(); w != writes.rend(); ++w) {
      for (const auto& r : *w) {
        records::Decoded d;
        if (!records::decode(r.key,
                             r.value ? std::optional<std::string_view>(*r.value) : std::nullopt, d,
                             nullptr)) {
          continue;
        }
        if (d.kind == records::Decoded::Kind::group_metadata && d.group == group) {
          return d.group_value;
        }
      }
    }
    return std::nullopt;
  }

 private:
  struct Timer {
    int64_t at;
    uint64_t seq;
    std::function<void()> fn;
  };
  std::vector<Timer> timers_;
  uint64_t seq_ = 0;
  std::vector<std::function<void(protocol::ErrorCode)>> held_;
};

}  // namespace kaffa::coordinator
