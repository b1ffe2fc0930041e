// The broker's transaction coordinator (txn/): its start on a single node and in a cluster, and
// its internal topic __transaction_state.
#include "base/log.h"
#include "broker/broker.h"
#include "cluster/etcd_metadata.h"

namespace kaffa::broker {

cluster::TopicInfo Broker::txn_topic_info(int16_t replication_factor) const {
  const auto& c = config_.txn;
  cluster::TopicInfo t;
  t.name = txn::kTransactionTopic;
  t.partitions = c.num_partitions;
  t.replication_factor = replication_factor;
  t.internal = true;
  t.configs["cleanup.policy"] = "compact";
  t.configs["segment.bytes"] = std::to_string(c.segment_bytes);
  // Never more than the replicas it has: a single node's one replica must be able to write.
  t.configs["min.insync.replicas"] =
      std::to_string(std::min<int32_t>(c.min_isr, replication_factor));
  return t;
}

void Broker::make_txn_coordinator() {
  txn::TxnServices services;
  services.next_producer_id = [this](auto done) { producer_ids_->next_async(std::move(done)); };
  services.post = [this](size_t loop, std::function<void()> fn) {
    server_->post(loop, std::move(fn));
  };
  services.schedule = [this](size_t loop, int64_t delay_ms, std::function<void()> fn) {
    server_->post_after(loop, std::chrono::milliseconds(delay_ms), std::move(fn), false);
  };
  txn_coordinator_ = std::make_unique<txn::TxnCoordinator>(
      config_.txn, *partitions_, std::move(services),
      [this](int32_t partition, int64_t producer_id, bool commit, std::function<void()> done) {
        coordinator_->complete_transaction(partition, producer_id, commit, std::move(done));
      });
}

void Broker::start_txn_coordinator() {
  // As __consumer_offsets: the partition count is fixed once the topic exists, and the topic is
  // made on first use (FindCoordinator or InitProducerId with a transactional id).
  make_txn_coordinator();
  if (auto existing = topics_.find(txn::kTransactionTopic)) {
    if (existing->partitions != config_.txn.num_partitions) {
      log::warn("{} has {} partitions; transaction.state.log.num.partitions={} is ignored",
                txn::kTransactionTopic, existing->partitions, config_.txn.num_partitions);
    }
    txn_coordinator_->start(existing->partitions);
    return;
  }
  txn_coordinator_->start_lazily(config_.txn.num_partitions, [this] {
    std::string error;
    const auto r = create_topic(txn_topic_info(1), nullptr, &error);
    if (r == cluster::TopicRegistry::CreateResult::created) {
      log::info("created {}", txn::kTransactionTopic);
      return true;
    }
    log::error("cannot create {}: {}", txn::kTransactionTopic, error);
    return false;
  });
}

void Broker::start_txn_coordinator_led() {
  make_txn_coordinator();
  txn_coordinator_->markers().set_remote(
      [sender = marker_sender_.get()](const txn::Marker& m, const txn::TopicPartition& tp,
                                      std::function<void(bool)> done) {
        sender->send(m, tp, std::move(done));
      });
  const auto* t = metadata_->image()->topic(txn::kTransactionTopic);
  txn_coordinator_->start_led(t ? t->info.partitions : config_.txn.num_partitions);
  if (!t) return;
  // Leaderships applied before the coordinator existed are replayed (on the owner loops).
  for (int32_t i = 0; i < static_cast<int32_t>(t->partitions.size()); ++i) {
    if (t->partitions[static_cast<size_t>(i)].leader != config_.node_id) continue;
    if (auto p = partitions_->get(txn::kTransactionTopic, i)) {
      server_->post(p->shard(), [this, i, p] {
        if (p->is_leader()) txn_coordinator_->on_leadership(i, true);
      });
    }
  }
}

void Broker::create_txn_topic() {
  const auto& c = config_.txn;
  if (live_brokers() < c.replication_factor) {
    log::warn("cluster: {} needs transaction.state.log.replication.factor={} live brokers, {} are",
              txn::kTransactionTopic, c.replication_factor, live_brokers());
    return;
  }
  if (creating_txn_topic_.exchange(true)) return;
  auto t = txn_topic_info(c.replication_factor);
  t.partitions = txn_coordinator_->partitions();
  create_topic_async(std::move(t), {}, [this](TopicResult r) {
    if (r.error == protocol::ErrorCode::none) {
      log::info("cluster: created {}", txn::kTransactionTopic);
    } else if (r.error != protocol::ErrorCode::topic_already_exists) {
      log::warn("cluster: cannot create {}: {}", txn::kTransactionTopic, r.message);
    }
    creating_txn_topic_ = false;
  });
}

}  // namespace kaffa::broker
