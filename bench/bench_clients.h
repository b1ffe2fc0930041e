// The librdkafka side of kaffa_bench: options, topic setup, producer and consumer threads.
#pragma once

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "bench_util.h"

namespace kaffa_bench {

constexpr int kStampBytes = 8;  // every record value starts with its send time (ns, little endian)

struct Options {
  std::string brokers = "localhost:9092";
  std::string topic = "kaffa-bench";
  int partitions = 1;
  bool partitions_given = false;
  int record_size = 1024;
  uint64_t records = 100000;  // 0 when --duration is used
  double duration_s = 0;
  std::string acks = "all";
  int linger_ms = 5;
  int batch_size = 1000000;
  std::string compression = "none";
  int producers = 1;
  int consumers = 0;
  bool assign = false;
  bool consume_after =
      false;  // --consume-after-produce: produce first, then time the consumers alone
  std::string group;
  double rate = 0;  // records/s over all producers, 0 = unlimited
  bool mock = false;
  int broker_pid = 0;
  bool json = false;
  bool progress = false;
  double timeout_s = 60;
  bool realtime_clock = false;
  std::vector<std::pair<std::string, std::string>> extra;  // -X key=value for every client
};

// Per-thread counters: written by their own thread only, read by the progress loop.
struct alignas(64) ProducerStats {
  std::atomic<uint64_t> sent{0}, acked{0}, failed{0}, acked_bytes{0};
  Histogram ack_latency;    // only touched by the producer thread until it is joined
  int64_t last_ack_ns = 0;  // mono_ns of the last delivery report
  std::string first_error;  // first delivery or produce error, if any
  std::atomic<bool> done{false};
};

struct alignas(64) ConsumerStats {
  std::atomic<uint64_t> received{0}, bytes{0}, malformed{0};
  std::atomic<int> assigned{0};
  std::atomic<bool> got_assignment{false};
  Histogram e2e_latency;
  int64_t last_recv_ns = 0;
  std::string setup_error;  // written before got_assignment is set
  std::string error;        // first error while consuming; read after the thread is joined
};

// State shared by all client threads of one run.
struct Run {
  Options opt;
  std::string bootstrap;               // effective brokers (the mock cluster's under --mock)
  int partitions = 0;                  // actual partition count of the topic
  std::vector<int64_t> start_offsets;  // high watermark per partition before producing
  std::unique_ptr<std::atomic<int64_t>[]> max_offset;  // highest offset consumed per partition
  std::atomic<bool> stop_producing{false};
  std::atomic<bool> stop_consuming{false};
  std::atomic<bool> release_consumers{
      false};         // --consume-after-produce: paused consumers may fetch
  int64_t t0_ns = 0;  // mono_ns when producing starts
  std::vector<std::unique_ptr<ProducerStats>> pstats;
  std::vector<std::unique_ptr<ConsumerStats>> cstats;
  std::mutex log_mu;

  // Records consumed without duplicates: offsets start..max per partition.
  uint64_t unique_consumed() const;
};

// A client configuration with bootstrap.servers, client.id and the -X properties applied.
// Returns nullptr and sets err on failure.
rd_kafka_conf_t* base_conf(const Run& run, const std::string& client_id, std::string& err);

// Makes sure the topic exists (creating it with --partitions under the admin API, or in the
// mock cluster) and fills run.partitions and run.start_offsets. `rk` is a producer handle.
bool setup_topic(rd_kafka_t* rk, void* mock_cluster, Run& run, std::string& err);

void producer_thread(Run& run, int index, uint64_t quota);
void consumer_thread(Run& run, int index);

}  // namespace kaffa_bench
