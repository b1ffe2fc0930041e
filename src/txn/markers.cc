#include "txn/markers.h"

#include <atomic>

#include "base/clock.h"
#include "base/log.h"
#include "coordinator/group_coordinator.h"

namespace kaffa::txn {

using protocol::ErrorCode;

struct MarkerWriter::Progress {
  Marker marker;
  std::atomic<size_t> remaining{0};
  std::function<void()> done;
};

void MarkerWriter::write(const Marker& m, const std::set<TopicPartition>& partitions,
                         std::function<void()> done) {
  if (partitions.empty()) return done();
  auto progress = std::make_shared<Progress>();
  progress->marker = m;
  progress->remaining = partitions.size();
  progress->done = std::move(done);
  for (const auto& tp : partitions) deliver(progress, tp);
}

void MarkerWriter::deliver(std::shared_ptr<Progress> progress, TopicPartition tp) {
  auto finished = [progress] {
    if (progress->remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) progress->done();
  };
  auto retry = [this, progress, tp](size_t loop) {
    schedule_(loop, retry_backoff_ms_, [this, progress, tp] { deliver(progress, tp); });
  };
  auto local = partitions_.get(tp.first, tp.second);
  if (local && (local->is_leader() || !remote_)) {
    return write_local(progress->marker, tp, [finished, retry, loop = local->shard()](ErrorCode e) {
      if (e == ErrorCode::none) return finished();
      retry(loop);
    });
  }
  if (!remote_) {  // a single node without the partition: its topic was deleted
    log::info("transaction markers: {}-{} no longer exists", tp.first, tp.second);
    return finished();
  }
  remote_(progress->marker, tp, [finished, retry](bool written) {
    if (written) return finished();
    retry(0);
  });
}

void MarkerWriter::write_local(const Marker& m, const TopicPartition& tp,
                               std::function<void(ErrorCode)> done) {
  auto p = partitions_.get(tp.first, tp.second);
  if (!p) return done(ErrorCode::unknown_topic_or_partition);
  post_(p->shard(), [this, p, m, done = std::move(done)]() mutable {
    auto out = p->append_marker(m.producer_id, m.producer_epoch, m.coordinator_epoch, m.commit,
                                clock::wall_ms());
    if (out.error == ErrorCode::invalid_producer_epoch ||
        out.error == ErrorCode::transaction_coordinator_fenced) {
      log::warn("transaction markers: {}-{} refused the marker of producer {} epoch {}: {}",
                p->topic(), p->index(), m.producer_id, m.producer_epoch, out.message);
      return done(ErrorCode::none);
    }
    if (out.error != ErrorCode::none) return done(out.error);
    p->when_replicated(out.last_offset + 1, [this, p, m, done = std::move(done)](ErrorCode e) {
      if (e != ErrorCode::none) return done(e);
      if (p->topic() != coordinator::kOffsetsTopic || !offsets_done_) return done(e);
      offsets_done_(p->index(), m.producer_id, m.commit, [done] { done(ErrorCode::none); });
    });
  });
}

}  // namespace kaffa::txn
