#include "coordinator/coordinator_shard.h"

#include <unistd.h>

#include <chrono>

#include "base/log.h"
#include "coordinator/group_manager.h"
#include "coordinator/offset_store.h"
#include "coordinator/records.h"
#include "record/batch.h"
#include "record/builder.h"
#include "record/records.h"

namespace kaffa::coordinator {

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
  if (records.empty()) return done(protocol::ErrorCode::none);
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
  std::string bytes = record::build_batch(batch, record::Compression::none);
  // As Kafka's coordinator: acks=all (every in-sync replica has it, and on local disk). Errors as
  // the client should see them: a lost leadership is NOT_COORDINATOR (it looks the coordinator up
  // again), too few in-sync replicas or a storage failure COORDINATOR_NOT_AVAILABLE.
  auto coordinator_error = [](protocol::ErrorCode e) {
    using protocol::ErrorCode;
    if (e == ErrorCode::none) return e;
    if (e == ErrorCode::not_leader_or_follower) return ErrorCode::not_coordinator;
    if (e == ErrorCode::message_too_large) return ErrorCode::record_list_too_large;
    return ErrorCode::coordinator_not_available;
  };
  auto out = partition_->append(reinterpret_cast<uint8_t*>(bytes.data()), bytes.size(), now,
                                /*acks_all=*/true);
  if (out.error != protocol::ErrorCode::none) {
    log::warn("group coordinator: write to {}-{} failed: {} {}", partition_->topic(),
              partition_->index(), static_cast<int>(out.error), out.message);
    return done(coordinator_error(out.error));
  }
  // Replicated and durable before the change becomes visible; completions come in order.
  partition_->when_replicated(out.last_offset + 1,
                              [done = std::move(done), coordinator_error](protocol::ErrorCode e) {
                                done(coordinator_error(e));
                              });
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
  std::string buf;
  int64_t sliced = 0;
  bool failed = false;
  while (offset < end && sliced < kLoadSliceBytes) {
    auto r = partition_->read_to_log_end(offset, 1 << 20, true);
    if (r.error != protocol::ErrorCode::none) {
      log::error("group coordinator: cannot read {}-{} at {}", partition_->topic(), index_, offset);
      failed = true;
      break;
    }
    if (r.bytes == 0) {  // only offsets removed by compaction remain below the end
      offset = end;
      break;
    }
    sliced += r.bytes;
    for (const auto& f : r.records.files) {
      buf.resize(f.length);
      size_t got = 0;
      while (got < f.length) {
        const ssize_t n = ::pread(f.fd, buf.data() + got, f.length - got,
                                  static_cast<off_t>(f.offset + static_cast<int64_t>(got)));
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
      buf.resize(got);
      size_t pos = 0;
      while (pos + record::kBatchHeaderSize <= buf.size()) {
        record::BatchHeader h;
        record::parse_header(reinterpret_cast<const uint8_t*>(buf.data() + pos), buf.size() - pos,
                             h);
        if (h.batch_length < record::kMinBatchLength || pos + h.total_size() > buf.size()) break;
        record::for_each_record(reinterpret_cast<const uint8_t*>(buf.data() + pos), h.total_size(),
                                scratch, [&](const record::Record& rec) {
                                  ++records;
                                  if (!rec.key) return;
                                  records::Decoded d;
                                  std::string error;
                                  if (!records::decode(*rec.key, rec.value, d, &error)) {
                                    log::warn(
                                        "group coordinator: skipping record at {} of {}-{}: {}",
                                        rec.offset, partition_->topic(), index_, error);
                                    return;
                                  }
                                  if (d.kind == records::Decoded::Kind::offset_commit) {
                                    offsets_->apply(d.group, d.topic, d.partition, d.offset);
                                  } else {
                                    groups_->replay(d.group, d.group_value);
                                  }
                                });
        offset = h.last_offset() + 1;
        pos += h.total_size();
      }
    }
  }
  if (offset < end && !failed) {
    return schedule(0, [this, offset, end, records] { load_from(offset, end, records); });
  }
  groups_->on_loaded();
  loaded_.store(true, std::memory_order_release);
  if (records > 0) {
    log::info("group coordinator: loaded {}-{} ({} records)", partition_->topic(), index_, records);
  }
}

void CoordinatorShard::expire_offsets() {
  if (!loaded_) return;
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
