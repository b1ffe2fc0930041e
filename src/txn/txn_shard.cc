#include "txn/txn_shard.h"

#include "base/clock.h"
#include "base/log.h"
#include "coordinator/replay.h"
#include "record/builder.h"
#include "record/records.h"

namespace kaffa::txn {

using protocol::ErrorCode;
using Action = rules::Decision::Action;

TxnShard::TxnShard(int32_t index, std::shared_ptr<cluster::Partition> partition,
                   const TxnConfig& config, TxnServices& services)
    : index_(index),
      partition_(std::move(partition)),
      config_(config),
      services_(services),
      coordinator_epoch_(partition_->leader_epoch()) {}

TxnShard::~TxnShard() {
  *retired_ = true;
}

int64_t TxnShard::now_ms() const {
  return clock::wall_ms();
}

void TxnShard::later(int64_t delay_ms, std::function<void()> fn) {
  services_.schedule(loop(), delay_ms, [retired = retired_, fn = std::move(fn)] {
    if (!*retired) fn();
  });
}

const TxnMetadata* TxnShard::find(const std::string& id) const {
  auto it = txns_.find(id);
  return it == txns_.end() ? nullptr : &it->second;
}

void TxnShard::persist(const std::string& id, std::optional<TxnMetadata> next, Done done) {
  const int64_t now = now_ms();
  record::BuildRecord r;
  r.key = records::key(id);
  if (next) r.value = records::value(*next);
  r.timestamp = now;
  std::string bytes = record::build_batch({r}, record::Compression::none);
  // As Kafka's coordinator: acks=all. A lost leadership is NOT_COORDINATOR (the client looks the
  // coordinator up again); anything else COORDINATOR_NOT_AVAILABLE (it retries).
  auto as_client_error = [](ErrorCode e) {
    if (e == ErrorCode::none || e == ErrorCode::not_coordinator) return e;
    return e == ErrorCode::not_leader_or_follower ? ErrorCode::not_coordinator
                                                  : ErrorCode::coordinator_not_available;
  };
  auto out = partition_->append(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size(), now,
                                /*acks_all=*/true);
  if (out.error != ErrorCode::none) {
    log::warn("transaction coordinator: write to {}-{} failed: {} {}", partition_->topic(), index_,
              static_cast<int>(out.error), out.message);
    return done(as_client_error(out.error));
  }
  pending_.insert(id);
  partition_->when_replicated(out.last_offset + 1,
                              [this, retired = retired_, id, next = std::move(next),
                               done = std::move(done), as_client_error](ErrorCode e) mutable {
                                if (*retired) return done(ErrorCode::not_coordinator);
                                pending_.erase(id);
                                if (e == ErrorCode::none) {
                                  if (next) {
                                    txns_[id] = std::move(*next);
                                  } else {
                                    txns_.erase(id);
                                  }
                                }
                                done(as_client_error(e));
                              });
}

void TxnShard::init_producer_id(const std::string& id, int32_t timeout_ms, int64_t producer_id,
                                int16_t producer_epoch, IdDone done) {
  if (pending_.count(id) != 0) return done(ErrorCode::concurrent_transactions, -1, -1);
  const TxnMetadata* current = find(id);
  auto d = rules::init_producer_id(current, timeout_ms, producer_id, producer_epoch, now_ms());
  switch (d.action) {
    case Action::answer:
      if (d.error != ErrorCode::none) return done(d.error, -1, -1);
      return done(ErrorCode::none, current->producer_id, current->producer_epoch);
    case Action::write:
    case Action::prepare:
      return persist(id, d.next, [next = d.next, done = std::move(done)](ErrorCode e) {
        if (e != ErrorCode::none) return done(e, -1, -1);
        done(ErrorCode::none, next.producer_id, next.producer_epoch);
      });
    case Action::fence:
      log::info("transaction coordinator: fencing producer {} of {}: aborting its transaction",
                current->producer_id, id);
      return persist(id, d.next, [this, id, done = std::move(done)](ErrorCode e) {
        if (e != ErrorCode::none) return done(e, -1, -1);
        write_markers(id);
        done(ErrorCode::concurrent_transactions, -1, -1);
      });
    case Action::new_producer:
      break;
  }
  pending_.insert(id);
  services_.next_producer_id([this, retired = retired_, id, timeout_ms, done = std::move(done)](
                                 std::optional<int64_t> pid, std::string why) mutable {
    services_.post(
        loop(), [this, retired, id, timeout_ms, pid, why = std::move(why), done = std::move(done)] {
          if (*retired) return done(ErrorCode::not_coordinator, -1, -1);
          pending_.erase(id);
          if (!pid) {
            log::error("transaction coordinator: cannot reserve a producer id: {}", why);
            return done(ErrorCode::coordinator_not_available, -1, -1);
          }
          auto next = rules::new_producer(find(id), *pid, timeout_ms, now_ms());
          persist(id, next, [next, done](ErrorCode e) {
            if (e != ErrorCode::none) return done(e, -1, -1);
            done(ErrorCode::none, next.producer_id, next.producer_epoch);
          });
        });
  });
}

void TxnShard::add_partitions(const std::string& id, int64_t producer_id, int16_t producer_epoch,
                              std::vector<TopicPartition> partitions, Done done) {
  if (pending_.count(id) != 0) return done(ErrorCode::concurrent_transactions);
  auto d = rules::add_partitions(find(id), producer_id, producer_epoch, partitions, now_ms());
  if (d.action == Action::answer) return done(d.error);
  persist(id, std::move(d.next), std::move(done));
}

void TxnShard::end_txn(const std::string& id, int64_t producer_id, int16_t producer_epoch,
                       bool commit, Done done) {
  if (pending_.count(id) != 0) return done(ErrorCode::concurrent_transactions);
  auto d = rules::end_txn(find(id), producer_id, producer_epoch, commit, now_ms());
  if (d.action == Action::answer) return done(d.error);
  persist(id, std::move(d.next), [this, id, done = std::move(done)](ErrorCode e) {
    if (e == ErrorCode::none) write_markers(id);
    done(e);
  });
}

void TxnShard::write_markers(const std::string& id) {
  const TxnMetadata* m = find(id);
  if (m == nullptr || !m->preparing()) return;
  Marker marker;
  marker.producer_id = m->producer_id;
  marker.producer_epoch = m->producer_epoch;
  marker.coordinator_epoch = coordinator_epoch_;
  marker.commit = m->state == TxnState::prepare_commit;
  services_.markers->write(marker, m->partitions, [this, retired = retired_, id] {
    services_.post(loop(), [this, retired, id] {
      if (!*retired) complete(id);
    });
  });
}

void TxnShard::complete(const std::string& id) {
  const TxnMetadata* m = find(id);
  if (m == nullptr || !m->preparing()) return;
  if (pending_.count(id) != 0)
    return later(config_.abort_interval_ms / 10 + 1, [this, id] { complete(id); });
  persist(id, rules::complete(*m, now_ms()), [this, id](ErrorCode e) {
    if (e == ErrorCode::none || e == ErrorCode::not_coordinator) return;
    // The markers are written; only the completion record is missing. Try again.
    later(1000, [this, id] { complete(id); });
  });
}

void TxnShard::abort_timed_out() {
  if (!loaded()) return;
  const int64_t now = now_ms();
  std::vector<std::string> ids;
  for (const auto& [id, m] : txns_) {
    if (rules::timed_out(m, now) && pending_.count(id) == 0) ids.push_back(id);
  }
  for (const auto& id : ids) {
    const TxnMetadata& m = txns_[id];
    log::info(
        "transaction coordinator: aborting the transaction of {} (producer {}): it is "
        "older than its timeout of {} ms",
        id, m.producer_id, m.timeout_ms);
    persist(id, rules::fence(m, now), [this, id](ErrorCode e) {
      if (e == ErrorCode::none) write_markers(id);
    });
  }
}

void TxnShard::expire_ids() {
  if (!loaded()) return;
  const int64_t now = now_ms();
  std::vector<std::string> ids;
  for (const auto& [id, m] : txns_) {
    if (rules::expired(m, now, config_.id_expiration_ms) && pending_.count(id) == 0) {
      ids.push_back(id);
    }
  }
  for (const auto& id : ids) {
    log::info("transaction coordinator: transactional id {} expired", id);
    persist(id, std::nullopt, [](ErrorCode) {});
  }
}

void TxnShard::load() {
  load_from(partition_->log_start_offset(), partition_->log_end_offset());
}

void TxnShard::load_from(int64_t offset, int64_t end) {
  std::string scratch;
  constexpr int64_t kLoadSliceBytes = 4 << 20;
  const auto next = coordinator::replay_batches(
      *partition_, offset, end, kLoadSliceBytes,
      [&](const record::BatchHeader&, const uint8_t* batch, size_t n) {
        record::for_each_record(batch, n, scratch, [&](const record::Record& rec) {
          if (!rec.key) return;
          std::string id;
          TxnMetadata m;
          std::string error;
          if (!records::decode(*rec.key, rec.value, &id, &m, &error)) {
            log::warn("transaction coordinator: skipping record at {} of {}-{}: {}", rec.offset,
                      partition_->topic(), index_, error);
            return;
          }
          if (rec.value) {
            txns_[id] = std::move(m);
          } else {
            txns_.erase(id);
          }
        });
      });
  if (!next) {
    log::error("transaction coordinator: cannot read {}-{} at {}", partition_->topic(), index_,
               offset);
  } else if (*next < end) {
    return later(0, [this, from = *next, end] { load_from(from, end); });
  }
  loaded_.store(true, std::memory_order_release);
  size_t resumed = 0;
  for (const auto& [id, m] : txns_) {
    if (m.preparing()) {
      write_markers(id);
      ++resumed;
    }
  }
  if (!txns_.empty()) {
    log::info(
        "transaction coordinator: loaded {}-{} ({} transactional ids, {} transactions "
        "completing)",
        partition_->topic(), index_, txns_.size(), resumed);
  }
}

}  // namespace kaffa::txn
