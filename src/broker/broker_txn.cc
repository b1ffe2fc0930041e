// The broker's transaction coordinator (txn/): its start on a single node and in a cluster, and
// its internal topic __transaction_state.
#include "base/log.h"
#include "broker/broker.h"
#include "cluster/etcd_metadata.h"

namespace kaffa::broker {

cluster::TopicInfo Broker::txn_topic_info(int16_t replication_factor) const {
  const auto& c = config_.txn;
  auto t = internal_topic_info(txn::kTransactionTopic, c.num_partitions, replication_factor,
                               c.segment_bytes);
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
  txn_verifier_ = std::make_unique<txn::PartitionVerifier>(*txn_coordinator_);
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
  txn_coordinator_->start_lazily(config_.txn.num_partitions,
                                 [this] { return create_internal_topic(txn_topic_info(1)); });
}

void Broker::start_txn_coordinator_led() {
  make_txn_coordinator();
  txn_coordinator_->markers().set_remote(
      [sender = marker_sender_.get()](const txn::Marker& m, const txn::TopicPartition& tp,
                                      std::function<void(bool)> done) {
        sender->send(m, tp, std::move(done));
      });
  txn_verifier_->set_remote(marker_sender_->settings(), marker_sender_->leader_of());
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
  auto t = txn_topic_info(config_.txn.replication_factor);
  t.partitions = txn_coordinator_->partitions();
  create_internal_topic_async(std::move(t), "transaction.state.log.replication.factor",
                              creating_txn_topic_);
}

}  // namespace kaffa::broker
