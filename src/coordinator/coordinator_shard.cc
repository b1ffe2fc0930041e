#include "coordinator/coordinator_shard.h"

#include <algorithm>
#include <chrono>

#include "base/log.h"
#include "coordinator/consumer_group_records.h"
#include "coordinator/group_manager.h"
#include "coordinator/offset_store.h"
#include "coordinator/records.h"
#include "coordinator/replay.h"
#include "record/batch.h"
#include "record/builder.h"
#include "record/records.h"

namespace kaffa::coordinator {
namespace {

// A write's error as the client should see it: a lost leadership is NOT_COORDINATOR (it looks
// the coordinator up again), a fenced producer epoch INVALID_PRODUCER_EPOCH, too few in-sync
// replicas or a storage failure COORDINATOR_NOT_AVAILABLE.
protocol::ErrorCode coordinator_error(protocol::ErrorCode e) {
  using protocol::ErrorCode;
  if (e == ErrorCode::none || e == ErrorCode::invalid_producer_epoch) return e;
  if (e == ErrorCode::not_leader_or_follower) return ErrorCode::not_coordinator;
  if (e == ErrorCode::message_too_large) return ErrorCode::record_list_too_large;
  return ErrorCode::coordinator_not_available;
}

}  // namespace

CoordinatorShard::CoordinatorShard(int32_t index, std::shared_ptr<cluster::Partition> partition,
                                   const GroupConfig& config, Schedule schedule)
    : index_(index),
      partition_(std::move(partition)),
      config_(config),
      schedule_(std::move(schedule)),
      offsets_(std::make_unique<OffsetStore>()),
      groups_(std::make_unique<GroupManager>(*this)) {}

CoordinatorShard::~CoordinatorShard() = default;

int64_t CoordinatorShard::now_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void CoordinatorShard::schedule(int64_t delay_ms, std::function<void()> fn) {
  schedule_(loop(), delay_ms, std::move(fn));
}

void CoordinatorShard::write(std::vector<Record> records,
                             std::function<void(protocol::ErrorCode)> done) {
  write_batch(std::move(records), std::nullopt,
              [done = std::move(done)](protocol::ErrorCode e, int64_t) { done(e); });
}

protocol::ErrorCode CoordinatorShard::write_refusal() const {
  return coordinator_error(partition_->append_refusal(/*acks_all=*/true));
}

void CoordinatorShard::write_batch(std::vector<Record> records, std::optional<TxnProducer> producer,
                                   WriteDone done) {
  if (const auto e = try_append(std::move(records), std::move(producer), done);
      e != protocol::ErrorCode::none) {
    done(e, -1);
  }
}

protocol::ErrorCode CoordinatorShard::append(std::vector<Record> records,
                                             std::function<void(protocol::ErrorCode)> done) {
  WriteDone d = [done = std::move(done)](protocol::ErrorCode e, int64_t) { done(e); };
  return try_append(std::move(records), std::nullopt, d);
}

protocol::ErrorCode CoordinatorShard::try_append(std::vector<Record> records,
                                                 std::optional<TxnProducer> producer,
                                                 WriteDone& done) {
  if (records.empty()) {
    done(protocol::ErrorCode::none, -1);
    return protocol::ErrorCode::none;
  }
  const int64_t now = now_ms();
  std::vector<record::BuildRecord> batch;
  batch.reserve(records.size());
  for (auto& r : records) {
    record::BuildRecord b;
    b.key = std::move(r.key);
    b.value = std::move(r.value);
    b.timestamp = now;
    batch.push_back(std::move(b));
  }
  record::BuildOptions opts;
  if (producer) {
    opts.producer_id = producer->producer_id;
    opts.producer_epoch = producer->producer_epoch;
    opts.transactional = true;
  }
  std::string bytes = record::build_batch(batch, opts);
  // As Kafka's coordinator: acks=all (every in-sync replica has it, and on local disk).
  auto out = partition_->append(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size(), now,
                                /*acks_all=*/true, cluster::Partition::AppendOrigin::coordinator,
                                producer ? producer->guard : std::nullopt);
  if (out.error != protocol::ErrorCode::none) {
    log::warn("group coordinator: write to {}-{} failed: {} {}", partition_->topic(),
              partition_->index(), static_cast<int>(out.error), out.message);
    return coordinator_error(out.error);
  }
  // Replicated and durable before the change becomes visible; completions come in order.
  partition_->when_replicated(
      out.last_offset + 1, [done = std::move(done), base = out.base_offset](protocol::ErrorCode e) {
        const auto error = coordinator_error(e);
        done(error, error == protocol::ErrorCode::none ? base : -1);
      });
  return protocol::ErrorCode::none;
}

void CoordinatorShard::complete_transaction(int64_t producer_id, bool commit) {
  log::debug("group coordinator: {} the transactional offsets of producer {} in {}-{}",
             commit ? "committing" : "aborting", producer_id, partition_->topic(), index_);
  offsets_->complete_transaction(producer_id, commit);
}

void CoordinatorShard::load() {
  // Up to the log end, as Kafka's coordinator: a new leader's high watermark may still lag
  // behind records every in-sync replica has (followers learn it one fetch late).
  load_from(partition_->log_start_offset(), partition_->log_end_offset(), 0);
}

void CoordinatorShard::load_from(int64_t offset, int64_t end, int64_t records) {
  // Replays the partition from its start: committed offsets and group metadata, the later record
  // of a key replacing the earlier one, tombstones deleting. At most kLoadSliceBytes per turn of
  // the loop, so that the loop's other partitions (and the admin API on loop 0) are served while
  // a large offsets partition loads.
  constexpr int64_t kLoadSliceBytes = 4 << 20;
  std::string scratch;
  const auto next = replay_batches(*partition_, offset, end, kLoadSliceBytes,
                                   [&](const record::BatchHeader&, const uint8_t* batch, size_t n) {
                                     replay_batch(batch, n, scratch, records);
                                   });
  const bool failed = !next;
  if (failed) {
    log::error("group coordinator: cannot read {}-{} at {}", partition_->topic(), index_, offset);
  } else {
    offset = *next;
  }
  // Markers the transaction side appended while this shard loaded (on this loop, so none can
  // come between the end of the last slice and loaded()) are replayed too.
  if (offset >= end && !failed) end = std::max(end, partition_->log_end_offset());
  if (offset < end && !failed) {
    return schedule(0, [this, offset, end, records] { load_from(offset, end, records); });
  }
  groups_->on_loaded();
  loaded_.store(true, std::memory_order_release);
  if (records > 0) {
    log::info("group coordinator: loaded {}-{} ({} records)", partition_->topic(), index_, records);
  }
}

void CoordinatorShard::replay_batch(const uint8_t* batch, size_t size, std::string& scratch,
                                    int64_t& records) {
  record::BatchHeader h;
  record::parse_header(batch, size, h);
  if (h.is_control()) {
    // A transaction marker: key INT16 version, INT16 type (0 abort, 1 commit); other control
    // records do not concern offsets.
    record::for_each_record(batch, size, scratch, [&](const record::Record& rec) {
      ++records;
      if (!rec.key || rec.key->size() < 4) return;
      const auto* k = reinterpret_cast<const uint8_t*>(rec.key->data());
      const int type = (k[2] << 8) | k[3];
      if (type == 0 || type == 1) offsets_->complete_transaction(h.producer_id, type == 1);
    });
    return;
  }
  const bool transactional = h.is_transactional() && h.producer_id >= 0;
  record::for_each_record(batch, size, scratch, [&](const record::Record& rec) {
    ++records;
    if (!rec.key) return;
    std::string error;
    if (consumer_records::is_consumer_group_key(*rec.key)) {
      consumer_records::Decoded c;
      if (!consumer_records::decode(*rec.key, rec.value, c, &error)) {
        log::warn("group coordinator: skipping record at {} of {}-{}: {}", rec.offset,
                  partition_->topic(), index_, error);
        return;
      }
      groups_->consumer().replay(c);
      return;
    }
    records::Decoded d;
    if (!records::decode(*rec.key, rec.value, d, &error)) {
      log::warn("group coordinator: skipping record at {} of {}-{}: {}", rec.offset,
                partition_->topic(), index_, error);
      return;
    }
    if (d.kind == records::Decoded::Kind::group_metadata) {
      groups_->replay(d.group, d.group_value);
      return;
    }
    if (d.offset) d.offset->record_offset = rec.offset;
    if (transactional && d.offset) {
      offsets_->apply_pending(h.producer_id, d.group, d.topic, d.partition, std::move(*d.offset));
    } else {
      offsets_->apply(d.group, d.topic, d.partition, std::move(d.offset));
    }
  });
}

void CoordinatorShard::expire_offsets() {
  if (!loaded_) return;
  // As Kafka's cleanup: an empty consumer group without committed offsets is deleted.
  // They go from memory once their tombstones are in the log (else the next round tries again).
  std::vector<Record> forgotten;
  std::vector<std::string> ids;
  for (const ConsumerGroup* g : groups_->consumer().groups()) {
    if (!g->empty() || offsets_->has_offsets(g->id())) continue;
    ids.push_back(g->id());
    for (auto& t : groups_->consumer().tombstones(g->id())) forgotten.push_back(std::move(t));
  }
  if (!forgotten.empty() &&
      append(std::move(forgotten), [](protocol::ErrorCode) {}) == protocol::ErrorCode::none) {
    for (const auto& id : ids) {
      log::info("group coordinator: deleting empty consumer group {}", id);
      groups_->consumer().remove_group(id);
    }
  }
  const int64_t retention_ms = config_.offsets_retention_minutes * 60 * 1000;
  auto tombstones = offsets_->expired_records(
      now_ms(), retention_ms,
      [this](const std::string& group) { return groups_->offset_expiry(group); });
  if (tombstones.empty()) return;
  // Apply what the tombstones say once they are durable.
  std::vector<records::Decoded> changes;
  for (const auto& t : tombstones) {
    records::Decoded d;
    if (records::decode(t.key, std::nullopt, d, nullptr)) changes.push_back(std::move(d));
  }
  log::info("group coordinator: expiring {} committed offsets in {}-{}", changes.size(),
            partition_->topic(), index_);
  write(std::move(tombstones), [this, changes = std::move(changes)](protocol::ErrorCode e) {
    if (e != protocol::ErrorCode::none) return;
    for (const auto& d : changes) offsets_->apply(d.group, d.topic, d.partition, std::nullopt);
  });
}

}  // namespace kaffa::coordinator
