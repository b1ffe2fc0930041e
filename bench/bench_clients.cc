#include "bench_clients.h"

#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "bench_report.h"

namespace kaffa_bench {

namespace {

bool set(rd_kafka_conf_t* conf, const std::string& k, const std::string& v, std::string& err) {
  char buf[512];
  if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), buf, sizeof buf) != RD_KAFKA_CONF_OK) {
    err = k + "=" + v + ": " + buf;
    return false;
  }
  return true;
}

void put_stamp(char* p, int64_t ns) {
  auto v = static_cast<uint64_t>(ns);
  for (int i = 0; i < kStampBytes; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

int64_t get_stamp(const void* payload) {
  auto* p = static_cast<const unsigned char*>(payload);
  uint64_t v = 0;
  for (int i = 0; i < kStampBytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return static_cast<int64_t>(v);
}

void bump(std::atomic<uint64_t>& a, uint64_t n = 1) {
  // Single writer: a plain load + store, no locked read-modify-write.
  a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

void log_line(Run& run, const std::string& s) {
  std::lock_guard lk(run.log_mu);
  std::fprintf(stderr, "kaffa_bench: %s\n", s.c_str());
}

// The first topic entry of an all-topics metadata answer with this name, or nullptr.
const rd_kafka_metadata_topic_t* find_topic(const rd_kafka_metadata_t* md,
                                            const std::string& name) {
  for (int i = 0; i < md->topic_cnt; ++i) {
    if (name == md->topics[i].topic) return &md->topics[i];
  }
  return nullptr;
}

// Partition count of the topic once every partition has a leader; 0 while not there yet,
// -1 on a metadata error (err set). All-topics metadata never auto-creates the topic.
int ready_partitions(rd_kafka_t* rk, const std::string& topic, std::string& err) {
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, nullptr, &md, 5000);
  if (e) {
    err = std::string("metadata: ") + rd_kafka_err2str(e);
    return -1;
  }
  int n = 0;
  if (const auto* t = find_topic(md, topic); t && !t->err) {
    n = t->partition_cnt;
    for (int i = 0; i < t->partition_cnt; ++i) {
      if (t->partitions[i].err || t->partitions[i].leader < 0) n = 0;
    }
  }
  rd_kafka_metadata_destroy(md);
  return n;
}

bool create_topic(rd_kafka_t* rk, const Run& run, std::string& err) {
  char buf[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(run.opt.topic.c_str(), run.opt.partitions, 1, buf, sizeof buf);
  if (!nt) {
    err = std::string("NewTopic: ") + buf;
    return false;
  }
  // Thousands of partitions take a broker a while to create: --timeout bounds the wait.
  const int timeout_ms = static_cast<int>(std::max(15.0, run.opt.timeout_s) * 1000);
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, buf, sizeof buf);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
  bool ok = false;
  if (!ev) {
    err = "CreateTopics: no answer within " + std::to_string(timeout_ms / 1000 + 5) + " s";
  } else if (rd_kafka_event_error(ev)) {
    err = std::string("CreateTopics: ") + rd_kafka_event_error_string(ev);
  } else {
    size_t cnt = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &cnt);
    ok = true;
    for (size_t i = 0; i < cnt; ++i) {
      auto e = rd_kafka_topic_result_error(res[i]);
      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        const char* s = rd_kafka_topic_result_error_string(res[i]);
        err = std::string("CreateTopics: ") + (s ? s : rd_kafka_err2str(e));
        ok = false;
      }
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy(nt);
  return ok;
}

}  // namespace

uint64_t Run::unique_consumed() const {
  uint64_t n = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t m = max_offset[p].load(std::memory_order_relaxed);
    if (m >= start_offsets[p]) n += static_cast<uint64_t>(m - start_offsets[p] + 1);
  }
  return n;
}

rd_kafka_conf_t* base_conf(const Run& run, const std::string& client_id, std::string& err) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  bool ok =
      set(conf, "bootstrap.servers", run.bootstrap, err) && set(conf, "client.id", client_id, err);
  for (const auto& [k, v] : run.opt.extra) ok = ok && set(conf, k, v, err);
  if (!ok) {
    rd_kafka_conf_destroy(conf);
    return nullptr;
  }
  return conf;
}

bool setup_topic(rd_kafka_t* rk, void* mock_cluster, Run& run, std::string& err) {
  const Options& o = run.opt;
  int n = ready_partitions(rk, o.topic, err);
  if (n < 0) return false;
  if (n == 0) {
    if (mock_cluster) {
      auto e = rd_kafka_mock_topic_create(static_cast<rd_kafka_mock_cluster_t*>(mock_cluster),
                                          o.topic.c_str(), o.partitions, 1);
      if (e) {
        err = std::string("mock topic create: ") + rd_kafka_err2str(e);
        return false;
      }
    } else if (!create_topic(rk, run, err)) {
      return false;
    }
    const double wait_s = std::max(15.0, o.timeout_s);
    auto deadline = mono_ns() + static_cast<int64_t>(wait_s * 1e9);
    while ((n = ready_partitions(rk, o.topic, err)) == 0 && mono_ns() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (n <= 0) {
      if (n == 0)
        err =
            "topic " + o.topic + " has no leader for every partition within " + secs(wait_s) + " s";
      return false;
    }
  } else if (o.partitions_given && n != o.partitions) {
    log_line(run, "topic " + o.topic + " exists with " + std::to_string(n) + " partitions (not " +
                      std::to_string(o.partitions) + "); using it as it is");
  }
  run.partitions = n;
  run.start_offsets.assign(static_cast<size_t>(n), 0);
  run.max_offset = std::make_unique<std::atomic<int64_t>[]>(static_cast<size_t>(n));
  for (int p = 0; p < n; ++p) {
    int64_t lo = 0, hi = 0;
    auto e = rd_kafka_query_watermark_offsets(rk, o.topic.c_str(), p, &lo, &hi, 10000);
    if (e) {
      err = "ListOffsets of partition " + std::to_string(p) + ": " + rd_kafka_err2str(e);
      return false;
    }
    run.start_offsets[static_cast<size_t>(p)] = hi;
    run.max_offset[p].store(hi - 1);
  }
  return true;
}

// ---- producer ----

namespace {
struct ProducerCtx {
  Run* run;
  ProducerStats* st;
  bool counting = true;  // false once the drain timed out: later (purge) reports are ignored
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* c = static_cast<ProducerCtx*>(opaque);
  if (!c->counting) return;
  // One clock read per report when the stamps are monotonic (clock reads are a visible share of
  // the load generator's CPU at a million records per second).
  const bool realtime = c->run->opt.realtime_clock;
  const int64_t now = mono_ns();
  const int64_t now_stamp = realtime ? stamp_ns(true) : now;
  c->st->last_ack_ns = now;
  if (m->err) {
    bump(c->st->failed);
    if (c->st->first_error.empty())
      c->st->first_error = std::string("delivery: ") + rd_kafka_err2str(m->err);
    return;
  }
  bump(c->st->acked);
  bump(c->st->acked_bytes, m->len);
  if (m->len >= static_cast<size_t>(kStampBytes))
    c->st->ack_latency.record(now_stamp - get_stamp(m->payload));
}
}  // namespace

void producer_thread(Run& run, int index, uint64_t quota) {
  const Options& o = run.opt;
  ProducerStats& st = *run.pstats[static_cast<size_t>(index)];
  ProducerCtx ctx{&run, &st};
  std::string err;
  rd_kafka_conf_t* conf = base_conf(run, "kaffa-bench-producer-" + std::to_string(index), err);
  bool ok = conf && set(conf, "acks", o.acks, err) &&
            set(conf, "linger.ms", std::to_string(o.linger_ms), err) &&
            set(conf, "batch.size", std::to_string(o.batch_size), err) &&
            set(conf, "compression.type", o.compression, err) &&
            set(conf, "message.timeout.ms",
                std::to_string(static_cast<int64_t>(o.timeout_s * 1000)), err);
  rd_kafka_t* rk = nullptr;
  if (ok) {
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &ctx);
    char buf[512];
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, buf, sizeof buf);
    if (!rk) err = buf;
    conf = nullptr;  // owned by rk now (or freed by the failed rd_kafka_new)
  }
  if (conf) rd_kafka_conf_destroy(conf);
  if (!rk) {
    st.first_error = "producer: " + err;
    st.done = true;
    return;
  }
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, o.topic.c_str(), nullptr);

  std::vector<char> value(static_cast<size_t>(o.record_size));
  for (size_t i = kStampBytes; i < value.size(); ++i) value[i] = static_cast<char>('a' + i % 26);

  const double per_producer_rate = o.rate > 0 ? o.rate / o.producers : 0;
  const int64_t start = mono_ns();
  const int64_t end =
      o.duration_s > 0 ? start + static_cast<int64_t>(o.duration_s * 1e9) : INT64_MAX;
  uint64_t n = 0;
  while (!run.stop_producing.load(std::memory_order_relaxed)) {
    if (quota && n >= quota) break;
    int64_t now = mono_ns();
    if (now >= end) break;
    if (per_producer_rate > 0) {
      auto due = start + static_cast<int64_t>(static_cast<double>(n) * 1e9 / per_producer_rate);
      if (due >= end) break;
      if (due - now > 200'000) {
        rd_kafka_poll(rk, 0);
        std::this_thread::sleep_for(
            std::chrono::nanoseconds(std::min<int64_t>(due - now, 100'000'000)));
        continue;
      }
    }
    put_stamp(value.data(), o.realtime_clock ? stamp_ns(true) : now);
    if (rd_kafka_produce(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, value.data(),
                         value.size(), nullptr, 0, nullptr) != 0) {
      auto e = rd_kafka_last_error();
      if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(rk, 1);  // wait for deliveries to make room, then retry with a new stamp
        continue;
      }
      if (st.first_error.empty()) st.first_error = std::string("produce: ") + rd_kafka_err2str(e);
      bump(st.failed);
      ++n;
      continue;
    }
    ++n;
    bump(st.sent);
    if ((n & 255) == 0) rd_kafka_poll(rk, 0);
  }
  // Drain: wait for every outstanding delivery report.
  auto deadline = mono_ns() + static_cast<int64_t>(o.timeout_s * 1e9);
  while (rd_kafka_outq_len(rk) > 0 && mono_ns() < deadline) rd_kafka_flush(rk, 100);
  rd_kafka_poll(rk, 0);
  if (int left = rd_kafka_outq_len(rk); left > 0) {
    // Not delivered in time: every record without a report counts as failed.
    uint64_t reported = st.acked.load() + st.failed.load();
    uint64_t sent = st.sent.load();
    if (sent > reported) bump(st.failed, sent - reported);
    if (st.first_error.empty())
      st.first_error = std::to_string(left) + " requests/records undelivered at the timeout";
    ctx.counting = false;
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
  }
  rd_kafka_topic_destroy(rkt);
  rd_kafka_destroy(rk);
  st.done = true;
}

// ---- consumer ----

namespace {
struct ConsumerCtx {
  Run* run;
  ConsumerStats* st;
  rd_kafka_topic_partition_list_t* held = nullptr;  // assignment waiting for the release
};

// Assigns `parts` now, or under --consume-after-produce until the run releases the consumers
// keeps a copy to assign then, so that joining the group is not part of the timing. (Pausing
// instead is no good: librdkafka 2.0 resumes a paused partition's fetching only at the broker
// thread's next wake-up, up to a second later.)
rd_kafka_resp_err_t assign_or_hold(rd_kafka_t* rk, ConsumerCtx& c,
                                   const rd_kafka_topic_partition_list_t* parts) {
  if (c.run->opt.consume_after && !c.run->release_consumers.load(std::memory_order_acquire)) {
    if (c.held) rd_kafka_topic_partition_list_destroy(c.held);
    c.held = rd_kafka_topic_partition_list_copy(parts);
    // In a group, the rebalance goes on only once the member has assigned something: nothing
    // for now (a member waiting for its assign call would block the next rebalance).
    return c.run->opt.assign ? RD_KAFKA_RESP_ERR_NO_ERROR : rd_kafka_assign(rk, nullptr);
  }
  return rd_kafka_assign(rk, parts);
}

// Applies a held assignment once the run has released the consumers.
void assign_if_released(rd_kafka_t* rk, ConsumerCtx& c) {
  if (!c.held || !c.run->release_consumers.load(std::memory_order_acquire)) return;
  if (auto e = rd_kafka_assign(rk, c.held); e && c.st->error.empty()) {
    c.st->error = std::string("assign: ") + rd_kafka_err2str(e);
  }
  rd_kafka_topic_partition_list_destroy(c.held);
  c.held = nullptr;
}

void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                  void* opaque) {
  auto* c = static_cast<ConsumerCtx*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (int i = 0; i < parts->cnt; ++i) {
      int32_t p = parts->elems[i].partition;
      if (p >= 0 && p < c->run->partitions)
        parts->elems[i].offset = c->run->start_offsets[static_cast<size_t>(p)];
    }
    assign_or_hold(rk, *c, parts);
    c->st->assigned = parts->cnt;
    c->st->got_assignment = true;
  } else {
    if (c->held) rd_kafka_topic_partition_list_destroy(c->held);
    c->held = nullptr;
    rd_kafka_assign(rk, nullptr);
    c->st->assigned = 0;
  }
}

constexpr size_t kConsumeBatch = 1024;

// Counts one consumer's messages into its stats, a batch at a time.
struct MessageTally {
  Run& run;
  ConsumerStats& st;
  size_t want;  // the value size every record should have
  int64_t last_log_ns = 0;

  // `now_stamp` is read once per batch, after every message of it was taken from the queue:
  // each had arrived by then, as with a clock read per message taken.
  void count(rd_kafka_message_t* const* msgs, size_t n, int64_t now_stamp, int index) {
    uint64_t records = 0, bytes = 0, malformed = 0;
    for (size_t i = 0; i < n; ++i) {
      const rd_kafka_message_t* m = msgs[i];
      if (m->err) {
        report(m, index);
        continue;
      }
      int32_t p = m->partition;
      if (p < 0 || p >= run.partitions || m->offset < run.start_offsets[static_cast<size_t>(p)])
        continue;
      ++records;
      bytes += m->len;
      if (m->len != want || m->len < static_cast<size_t>(kStampBytes)) {
        ++malformed;
      } else {
        st.e2e_latency.record(now_stamp - get_stamp(m->payload));
      }
      auto& mx = run.max_offset[p];
      int64_t cur = mx.load(std::memory_order_relaxed);
      while (m->offset > cur &&
             !mx.compare_exchange_weak(cur, m->offset, std::memory_order_relaxed)) {
      }
    }
    if (records == 0) return;
    bump(st.received, records);
    bump(st.bytes, bytes);
    if (malformed) bump(st.malformed, malformed);
    st.last_recv_ns = mono_ns();
  }

  // At most one line a second per consumer: a broker that is down repeats its error.
  void report(const rd_kafka_message_t* m, int index) {
    int64_t now = mono_ns();
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF || now - last_log_ns < 1'000'000'000) return;
    last_log_ns = now;
    std::string what = rd_kafka_message_errstr(m);
    if (m->rkt)
      what = std::string(rd_kafka_topic_name(m->rkt)) + " [" + std::to_string(m->partition) +
             "]: " + what;
    log_line(run, "consumer " + std::to_string(index) + ": " + what);
    if (st.error.empty()) st.error = "consumer " + std::to_string(index) + ": " + what;
  }
};
}  // namespace

void consumer_thread(Run& run, int index) {
  const Options& o = run.opt;
  ConsumerStats& st = *run.cstats[static_cast<size_t>(index)];
  ConsumerCtx ctx{&run, &st};
  std::string err;
  rd_kafka_conf_t* conf = base_conf(run, "kaffa-bench-consumer-" + std::to_string(index), err);
  // group.id is needed by rd_kafka_assign() too (librdkafka 2.0: "Unknown group" without it);
  // nothing is committed. auto.offset.reset=error: a consumer that falls out of the retained log
  // (the mock cluster keeps 5 MiB per partition) is reported instead of silently skipping records.
  bool ok = conf && set(conf, "group.id", o.group, err) &&
            set(conf, "enable.auto.commit", "false", err) &&
            set(conf, "enable.auto.offset.store", "false", err) &&
            set(conf, "enable.partition.eof", "false", err) &&
            set(conf, "auto.offset.reset", "error", err);
  rd_kafka_t* rk = nullptr;
  if (ok) {
    if (!o.assign) rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, &ctx);
    char buf[512];
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, buf, sizeof buf);
    if (!rk) err = buf;
    conf = nullptr;
  }
  if (conf) rd_kafka_conf_destroy(conf);
  if (!rk) {
    st.setup_error = "consumer: " + err;
    st.got_assignment = true;  // do not keep the run waiting for it
    return;
  }
  rd_kafka_poll_set_consumer(rk);
  if (o.consume_after) {
    // Learn the topic's leaders (and connect) before being counted as ready: otherwise the
    // first fetch waits for librdkafka's once-a-second scan of topics without a leader.
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, o.topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
      rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
  }

  if (o.assign) {
    // Manual assignment: partition p goes to consumer p % consumers, from the start offset.
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(run.partitions);
    for (int p = index; p < run.partitions; p += o.consumers) {
      rd_kafka_topic_partition_list_add(parts, o.topic.c_str(), p)->offset =
          run.start_offsets[static_cast<size_t>(p)];
    }
    if (auto e = assign_or_hold(rk, ctx, parts))
      st.setup_error = std::string("assign: ") + rd_kafka_err2str(e);
    st.assigned = parts->cnt;
    rd_kafka_topic_partition_list_destroy(parts);
    st.got_assignment = true;
  } else {
    rd_kafka_topic_partition_list_t* sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, o.topic.c_str(), RD_KAFKA_PARTITION_UA);
    if (auto e = rd_kafka_subscribe(rk, sub)) {
      st.setup_error = std::string("subscribe: ") + rd_kafka_err2str(e);
      st.got_assignment = true;
    }
    rd_kafka_topic_partition_list_destroy(sub);
  }

  // Messages are taken from the queue in batches: one poll per message (a queue lock, two clock
  // reads and the counter updates each) made this thread the limit of a read from the page
  // cache, at about 1 M records/s whatever the broker. The first message of a batch is waited
  // for; the rest are only what is already queued, so a batch adds no latency.
  rd_kafka_queue_t* queue = rd_kafka_queue_get_consumer(rk);
  std::vector<rd_kafka_message_t*> batch(kConsumeBatch);
  MessageTally tally{run, st, static_cast<size_t>(o.record_size)};
  while (!run.stop_consuming.load(std::memory_order_relaxed)) {
    assign_if_released(rk, ctx);
    // A held consumer polls often so that it starts within a millisecond of its release.
    batch[0] = rd_kafka_consumer_poll(rk, ctx.held ? 1 : 100);
    if (!batch[0]) continue;
    ssize_t more = rd_kafka_consume_batch_queue(queue, 0, batch.data() + 1, batch.size() - 1);
    size_t n = 1 + static_cast<size_t>(std::max<ssize_t>(more, 0));
    tally.count(batch.data(), n, stamp_ns(o.realtime_clock), index);
    for (size_t i = 0; i < n; ++i) rd_kafka_message_destroy(batch[i]);
  }
  rd_kafka_queue_destroy(queue);
  if (ctx.held) rd_kafka_topic_partition_list_destroy(ctx.held);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
}

}  // namespace kaffa_bench
