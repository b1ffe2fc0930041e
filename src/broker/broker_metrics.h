// The broker's metrics: what it counts on the request path (requests per API and version, latency
// per API, in a metrics::Registry) and what it computes when scraped (network counters, partitions
// and log sizes, bytes in/out per topic, fsync latency, groups and consumer lag).
//
// Names (Prometheus text, all under `kaffa_`):
//   kaffa_requests_total{api,version}            counter   requests dispatched to a handler
//   kaffa_request_latency_seconds{api}           histogram request read -> answer's last byte
//                                                          written (a request held behind
//                                                          earlier ones counts its wait)
//   kaffa_topic_bytes_in_total{topic}            counter   record bytes appended
//   kaffa_topic_bytes_out_total{topic}           counter   record bytes returned to fetches
//   kaffa_network_*                              net::ServerStats (bytes, zero-copy bytes, ...)
//   kaffa_connections_open / _total              gauge / counter
//   kaffa_partitions, kaffa_topic_partitions{topic}
//   kaffa_partition_log_size_bytes{topic,partition}, kaffa_partition_high_watermark{...}
//   kaffa_leader_partitions, kaffa_under_replicated_partitions, kaffa_under_min_isr_partitions,
//     kaffa_at_min_isr_partitions     gauges over the partitions led here (Kafka's ReplicaManager)
//   kaffa_isr_shrinks_total, kaffa_isr_expands_total   counters: ISR changes applied as leader
//   kaffa_replica_max_lag            gauge  followed partitions: leader's HW - log end, largest
//   kaffa_authorization_denials_total{resource_type}  counter  checks refused by the authorizer
//   kaffa_quota_throttled_responses_total{quota}, kaffa_quota_throttle_ms_total{quota}
//     counters: answers over a client quota (producer_byte_rate, consumer_byte_rate), and the
//     throttle time they carried
//   kaffa_fsync_latency_seconds                  histogram (storage::Flusher)
//   kaffa_txn_verification_seconds, kaffa_txn_verification_failures_total   histogram, counter
//     (txn::PartitionVerifier: KIP-890 checks, and those not answered NONE)
//   kaffa_log_cleaner_runs_total, _failures_total, _discarded_total   counters (cleanings
//     installed, failed, discarded because the log changed meanwhile)
//   kaffa_log_cleaner_cleaned_bytes_total, _written_bytes_total, _removed_records_total
//   kaffa_log_cleaner_uncleanable_partitions     gauge  partitions in failure backoff
//   kaffa_log_cleaner_max_dirty_ratio            gauge  highest dirty ratio at the last pass
//   kaffa_groups{state}, kaffa_group_members{group}
//   kaffa_consumer_group_lag{group,topic,partition}  committed offset vs high watermark
//     (at most kMaxLagSeries series; kaffa_consumer_group_lag_truncated says 1 beyond that)
//
// Threading: on_request() runs on the connection's loop and takes no lock; scrape() may be
// called from any thread and completes on some event loop.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/metrics.h"
#include "security/acl.h"

namespace kaffa::broker {

class Broker;

class BrokerMetrics {
 public:
  static constexpr size_t kMaxLagSeries = 10000;

  BrokerMetrics();

  // Counts one request and returns the timer of its latency from `received` (when the connection
  // had read it; handed to the Responder). Keys and versions outside the handler table are
  // counted under "other" and not timed.
  metrics::Timer on_request(int16_t api_key, int16_t api_version,
                            std::chrono::steady_clock::time_point received);

  // SASL outcomes on SASL listeners.
  void on_sasl_success() { sasl_success_->inc(); }
  void on_sasl_failure() { sasl_failure_->inc(); }
  // A request (or one resource of it) refused by the authorizer.
  void on_authorization_denied(security::ResourceType type);
  // An answer throttled for `ms` by a client quota (consumer: consumer_byte_rate, else producer).
  void on_throttled(bool consumer, int32_t ms);

  metrics::Registry& registry() { return registry_; }

  // Renders every metric. With `groups` the coordinator shards are visited on their loops (only
  // while the loops run); `done` receives the text, on some loop or the caller's thread.
  void scrape(Broker& broker, bool groups, std::function<void(std::string)> done);

 private:
  struct ApiSeries {
    int16_t min_version = 0;
    std::vector<metrics::Counter*> by_version;  // index: version - min_version
    metrics::Histogram* latency = nullptr;
  };

  metrics::Registry registry_;
  std::vector<ApiSeries> by_key_;  // index: API key; empty by_version = not handled
  metrics::Counter* other_requests_ = nullptr;
  metrics::Counter* sasl_success_ = nullptr;
  metrics::Counter* sasl_failure_ = nullptr;
  std::vector<metrics::Counter*> denials_;  // index: Kafka's resource type code
  metrics::Counter* throttled_[2] = {};     // producer, consumer
  metrics::Counter* throttle_ms_[2] = {};
};

// The name of an API key ("Produce"), or the number as text when unknown.
std::string api_name(int16_t api_key);

}  // namespace kaffa::broker
