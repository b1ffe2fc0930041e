#include "txn/partition_verifier.h"

#include <algorithm>
#include <map>

#include "base/log.h"
#include "protocol/messages/add_partitions_to_txn.h"
#include "protocol/messages/api_versions.h"
#include "txn/txn_config.h"
#include "txn/txn_rules.h"

namespace kaffa::txn {

using protocol::ErrorCode;

void PartitionVerifier::set_remote(cluster::ReplicaFetcherSettings settings, LeaderOf leader_of) {
  leader_of_ = std::move(leader_of);
  channels_ = std::make_unique<BrokerChannels<Job>>(
      "transaction verification", std::move(settings), kMaxBatch,
      [this](int32_t broker, cluster::BrokerConnection* conn, std::vector<Job>& jobs) {
        deliver(broker, conn, jobs);
      });
}

void PartitionVerifier::stop() {
  if (channels_) channels_->stop();
}

std::pair<ErrorCode, std::string> PartitionVerifier::for_produce(ErrorCode e) {
  switch (e) {
    case ErrorCode::invalid_txn_state:
      return {e, "Partition was not added to the transaction"};
    case ErrorCode::concurrent_transactions:
    case ErrorCode::network_exception:
    case ErrorCode::coordinator_load_in_progress:
    case ErrorCode::coordinator_not_available:
    case ErrorCode::not_coordinator:
      return {ErrorCode::not_enough_replicas,
              "Unable to verify the partition has been added to the transaction (error " +
                  std::to_string(protocol::code(e)) + " from the coordinator)"};
    default:
      return {e, {}};
  }
}

void PartitionVerifier::finish(const Job& job, ErrorCode coordinator_error) {
  ErrorCode e = coordinator_error;
  if (e == ErrorCode::transaction_abortable || e == ErrorCode::cluster_authorization_failed) {
    e = ErrorCode::invalid_txn_state;
  } else if (e == ErrorCode::producer_fenced) {
    e = ErrorCode::invalid_producer_epoch;
  }
  latency_.observe_since(job.start);
  if (e != ErrorCode::none) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    log::debug("transaction verification of {}-{} for {}: coordinator answered {}", job.tp.first,
               job.tp.second, job.transactional_id, protocol::code(coordinator_error));
  }
  job.done(e);
}

void PartitionVerifier::verify(const std::string& transactional_id, int64_t producer_id,
                               int16_t producer_epoch, TopicPartition tp, Done done) {
  Job job{transactional_id, producer_id,     producer_epoch,
          std::move(tp),    std::move(done), std::chrono::steady_clock::now()};
  coordinator_.with_shard(
      transactional_id, [this, job = std::move(job)](TxnShard* shard, ErrorCode e) mutable {
        if (shard != nullptr) {
          const auto errors = rules::verify_partitions(
              shard->find(job.transactional_id), job.producer_id, job.producer_epoch, {job.tp});
          return finish(job, errors[0]);
        }
        if (e == ErrorCode::not_coordinator && channels_) return verify_remote(std::move(job));
        finish(job, e);
      });
}

void PartitionVerifier::verify_remote(Job job) {
  const TopicPartition coordinator{kTransactionTopic,
                                   coordinator_.partition_for(job.transactional_id)};
  const auto leader = leader_of_(coordinator);
  if (!leader) return finish(job, ErrorCode::coordinator_not_available);
  auto& channels = *channels_;
  if (!channels.enqueue(leader->first, leader->second, job)) {
    finish(job, ErrorCode::coordinator_not_available);  // shutting down
  }
}

int16_t PartitionVerifier::version_of(int32_t broker_id, cluster::BrokerConnection& conn) {
  {
    std::lock_guard lock(versions_mu_);
    if (const auto it = versions_.find(broker_id); it != versions_.end()) return it->second;
  }
  protocol::ApiVersionsRequest req;
  protocol::ApiVersionsResponse resp;
  std::shared_ptr<std::string> answer;
  std::string error;
  if (!conn.call(18, 0, req, resp, channels_->settings().request_timeout_ms, answer, &error)) {
    log::warn("transaction verification: ApiVersions to broker {} failed: {}", broker_id, error);
    return -1;
  }
  int16_t version = 0;
  for (const auto& k : resp.api_keys) {
    if (k.api_key == 24) version = k.max_version;
  }
  std::lock_guard lock(versions_mu_);
  if (version >= 4) {
    versions_[broker_id] = version;
    warned_.erase(broker_id);
  } else if (warned_.insert(broker_id).second) {
    log::warn(
        "transaction verification: broker {} speaks AddPartitionsToTxn up to v{}: the "
        "partitions of the transactions it coordinates are not verified",
        broker_id, version);
  }
  return version;
}

void PartitionVerifier::deliver(int32_t broker_id, cluster::BrokerConnection* conn,
                                std::vector<Job>& jobs) {
  const int16_t version = conn == nullptr ? int16_t{-1} : version_of(broker_id, *conn);
  if (version >= 0 && version < 4) {
    for (const auto& job : jobs) finish(job, ErrorCode::none);  // not verified (above)
    return;
  }
  std::vector<ErrorCode> errors(jobs.size(), ErrorCode::network_exception);
  // One transaction per id; a second producer (or epoch) for an id already in the request waits
  // for a retry (Kafka answers it NETWORK_EXCEPTION too).
  protocol::AddPartitionsToTxnRequest req;
  std::map<std::string, size_t> index;  // id -> req.transactions
  std::vector<bool> sent(jobs.size(), false);
  for (size_t i = 0; i < jobs.size(); ++i) {
    const Job& job = jobs[i];
    auto [it, added] = index.try_emplace(job.transactional_id, req.transactions.size());
    if (added) {
      auto& t = req.transactions.emplace_back();
      t.transactional_id = job.transactional_id;
      t.producer_id = job.producer_id;
      t.producer_epoch = job.producer_epoch;
      t.verify_only = true;
    }
    auto& t = req.transactions[it->second];
    if (t.producer_id != job.producer_id || t.producer_epoch != job.producer_epoch) continue;
    sent[i] = true;
    auto topic = std::find_if(t.topics.begin(), t.topics.end(),
                              [&](const auto& x) { return x.name == job.tp.first; });
    if (topic == t.topics.end()) {
      topic = t.topics.emplace(t.topics.end());
      topic->name = job.tp.first;
    }
    topic->partitions.push_back(job.tp.second);
  }
  protocol::AddPartitionsToTxnResponse resp;
  std::shared_ptr<std::string> answer;
  std::string error;
  if (version < 0) {
    // Unreachable (logged): NETWORK_EXCEPTION, retried by the client.
  } else if (!conn->call(24, std::min<int16_t>(version, 5), req, resp,
                         channels_->settings().request_timeout_ms, answer, &error)) {
    log::warn("transaction verification: AddPartitionsToTxn to broker {} failed: {}", broker_id,
              error);
    std::lock_guard lock(versions_mu_);
    versions_.erase(broker_id);  // the connection is closed: ask the next one again
  } else if (resp.error_code != 0) {
    log::warn("transaction verification: broker {} answered error {}", broker_id, resp.error_code);
    std::fill(errors.begin(), errors.end(), static_cast<ErrorCode>(resp.error_code));
  } else {
    std::map<std::pair<std::string, TopicPartition>, ErrorCode> by_partition;
    for (const auto& r : resp.results_by_transaction) {
      for (const auto& t : r.topic_results) {
        for (const auto& p : t.results) {
          by_partition[{r.transactional_id, {t.name, p.partition_index}}] =
              static_cast<ErrorCode>(p.partition_error_code);
        }
      }
    }
    for (size_t i = 0; i < jobs.size(); ++i) {
      const auto it = by_partition.find({jobs[i].transactional_id, jobs[i].tp});
      if (sent[i] && it != by_partition.end()) errors[i] = it->second;
    }
  }
  for (size_t i = 0; i < jobs.size(); ++i) finish(jobs[i], errors[i]);
}

}  // namespace kaffa::txn
