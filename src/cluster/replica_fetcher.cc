#include "cluster/replica_fetcher.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <optional>
#include <thread>
#include <vector>

#include "base/clock.h"
#include "base/log.h"
#include "cluster/fetch_session_client.h"
#include "cluster/replica_fetcher_connection.h"
#include "protocol/error_codes.h"
#include "protocol/messages/fetch.h"
#include "protocol/messages/offset_for_leader_epoch.h"
#include "record/batch.h"

namespace kaffa::cluster {
namespace {

using protocol::ErrorCode;

constexpr int16_t kFetchKey = 1;
constexpr int16_t kFetchVersion = 12;
constexpr int16_t kOffsetForLeaderEpochKey = 23;
constexpr int16_t kOffsetForLeaderEpochVersion = 4;
constexpr int kMaxTruncationRounds = 64;

// Bytes of the whole batches at the start of [data, data + n) (a leader may cut the last one).
size_t whole_batches(const uint8_t* data, size_t n) {
  size_t pos = 0;
  while (pos < n) {
    record::BatchHeader h;
    if (!record::parse_header(data + pos, n - pos, h) || h.total_size() > n - pos) break;
    pos += h.total_size();
  }
  return pos;
}

}  // namespace

TruncationStep truncation_step(Partition& p, int32_t epoch, int32_t leader_epoch,
                               int64_t leader_end) {
  TruncationStep s;
  if (p.is_leader() || p.leader_epoch() != epoch) {
    s.stale = true;
    return s;
  }
  int64_t target = p.log_end_offset();
  s.done = true;
  if (leader_end < 0) {
    target = p.high_watermark();  // the leader knows nothing of our epochs
  } else {
    const auto [mine, my_end] = p.end_offset_for_epoch(leader_epoch);
    if (mine < 0) {
      target = std::min(leader_end, p.log_end_offset());
    } else if (mine != leader_epoch) {
      target = my_end;  // step back to the end of our largest epoch below the leader's answer
      s.done = false;
    } else {
      target = std::min(leader_end, my_end);
    }
  }
  p.truncate_to(target);
  s.log_end = p.log_end_offset();
  if (!s.done) {
    const auto latest = p.latest_epoch();
    if (!latest) {
      s.done = true;
    } else {
      s.ask_epoch = *latest;
    }
  }
  return s;
}

// One fetcher thread: the partitions it follows from one leader, and its connection.
class ReplicaFetcher::Worker {
 public:
  Worker(const ReplicaFetcherSettings& settings, Post post, int32_t leader)
      : settings_(settings), post_(std::move(post)), leader_(leader) {
    thread_ = std::thread([this] {
      run();
      ended_ = true;
    });
  }
  ~Worker() { stop(); }

  void add(std::shared_ptr<Partition> p, int32_t epoch, BrokerEndpoint endpoint) {
    std::lock_guard lock(mu_);
    Entry e;
    e.partition = std::move(p);
    e.epoch = epoch;
    e.id = ++next_id_;
    entries_[{e.partition->topic(), e.partition->index()}] = std::move(e);
    endpoint_ = std::move(endpoint);
    cv_.notify_all();
  }
  void remove(const std::string& topic, int32_t index) {
    std::lock_guard lock(mu_);
    entries_.erase({topic, index});
  }
  // What add() was given for a partition, taken out (to follow it on another thread).
  struct Followed {
    std::shared_ptr<Partition> partition;
    int32_t epoch = 0;
    BrokerEndpoint endpoint;
  };
  std::optional<Followed> take(const std::string& topic, int32_t index) {
    std::lock_guard lock(mu_);
    auto it = entries_.find({topic, index});
    if (it == entries_.end()) return std::nullopt;
    Followed f{std::move(it->second.partition), it->second.epoch, endpoint_};
    entries_.erase(it);
    return f;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
  }
  // Tells the thread to stop (interrupting a blocked call) without waiting for it.
  void request_stop() {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
    cv_.notify_all();
    conn_.interrupt();
  }
  // Whether the thread has ended (joining it does not wait).
  bool ended() const { return ended_; }
  void stop() {
    request_stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  struct Entry {
    std::shared_ptr<Partition> partition;
    int32_t epoch = 0;
    uint64_t id = 0;
    bool truncated = false;
    int64_t fetch_offset = 0;
    int64_t delayed_until = 0;  // steady ms
    bool caught_up = false;     // at the leader's high watermark after the last answer
  };
  // Connection failures repeat every backoff while they last: logged once a minute.
  log::RepeatedWarning connect_warning_;

  void run();
  bool truncate(std::vector<Entry>& entries);
  bool fetch(std::vector<Entry>& entries);
  void back_off(Entry& e, const char* why, ErrorCode error);
  void write_back(const std::vector<Entry>& entries);
  bool stopping() {
    std::lock_guard lock(mu_);
    return stop_;
  }
  void sleep_ms(int64_t ms) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return stop_; });
  }

  // Runs fn(partition) on the partition's owner loop and waits for its result; nullopt when
  // stopping first. The posted task owns what it touches, so a late run is harmless.
  template <class T, class F>
  std::optional<T> on_owner(const std::shared_ptr<Partition>& p, F fn) {
    struct Call {
      std::mutex mu;
      std::condition_variable cv;
      std::optional<T> value;
    };
    auto call = std::make_shared<Call>();
    post_(p->shard(), [call, p, fn = std::move(fn)]() mutable {
      T v = fn(*p);
      std::lock_guard lock(call->mu);
      call->value = std::move(v);
      call->cv.notify_all();
    });
    std::unique_lock lock(call->mu);
    while (!call->value) {
      if (call->cv.wait_for(lock, std::chrono::milliseconds(100)) == std::cv_status::timeout &&
          stopping()) {
        return std::nullopt;
      }
    }
    return std::move(call->value);
  }

  const ReplicaFetcherSettings settings_;
  Post post_;
  const int32_t leader_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::map<std::pair<std::string, int32_t>, Entry> entries_;
  BrokerEndpoint endpoint_;
  uint64_t next_id_ = 0;
  BrokerConnection conn_;  // fetcher thread only (interrupt() from stop())
  BrokerEndpoint connected_to_;
  FetchSessionClient session_;  // fetcher thread only; its leader's fetch session (KIP-227)
  std::atomic<bool> ended_{false};
  std::thread thread_;
};

bool connect_inter_broker(BrokerConnection& conn, const BrokerEndpoint& endpoint,
                          const ReplicaFetcherSettings& settings, std::string* error) {
  const auto& protocol = endpoint.security_protocol;
  const bool wants_tls = protocol == "SSL" || protocol == "SASL_SSL";
  const bool wants_sasl = protocol == "SASL_PLAINTEXT" || protocol == "SASL_SSL";
  std::shared_ptr<const net::TlsContext> tls;
  if (wants_tls && settings.tls) tls = settings.tls();
  if ((protocol != "PLAINTEXT" && !wants_tls && !wants_sasl) || (wants_tls && !tls) ||
      (wants_sasl && settings.sasl_mechanism.empty())) {
    *error = fmt::format(
        "its listener {} is {}, for which this broker has no settings (ssl.* and a SASL login of "
        "that listener)",
        endpoint.listener, protocol);
    return false;
  }
  conn.set_receive_buffer(settings.receive_buffer_bytes);
  return conn.connect(endpoint.host, endpoint.port, settings.request_timeout_ms, tls, error) &&
         (!wants_sasl || conn.login(settings.sasl_mechanism, settings.sasl_username,
                                    settings.sasl_password, settings.request_timeout_ms, error));
}

void ReplicaFetcher::Worker::run() {
  for (;;) {
    std::vector<Entry> work;
    BrokerEndpoint endpoint;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !entries_.empty(); });
      if (stop_) return;
      for (const auto& [key, e] : entries_) work.push_back(e);
      endpoint = endpoint_;
    }
    if (!conn_.connected() || !(endpoint == connected_to_)) {
      std::string error;
      if (!connect_inter_broker(conn_, endpoint, settings_, &error)) {
        connect_warning_.warn(fmt::format("replica fetcher: leader {}: {}", leader_, error),
                              clock::steady_ms());
        sleep_ms(settings_.backoff_ms);
        continue;
      }
      connect_warning_.clear(fmt::format("replica fetcher: connected to leader {}", leader_));
      connected_to_ = endpoint;
      session_.reset();  // maybe another process: start with a full fetch
    }
    bool ok = truncate(work);
    if (ok) ok = fetch(work);
    write_back(work);
    if (!ok) {
      conn_.close();
      if (!stopping()) sleep_ms(settings_.backoff_ms);
    }
  }
}

void ReplicaFetcher::Worker::write_back(const std::vector<Entry>& entries) {
  std::lock_guard lock(mu_);
  for (const auto& e : entries) {
    auto it = entries_.find({e.partition->topic(), e.partition->index()});
    if (it != entries_.end() && it->second.id == e.id) it->second = e;  // not replaced meanwhile
  }
}

void ReplicaFetcher::Worker::back_off(Entry& e, const char* why, ErrorCode error) {
  log::info("replica fetcher: {}-{} from leader {}: {} (error {}); backing off",
            e.partition->topic(), e.partition->index(), leader_, why, protocol::code(error));
  e.truncated = false;
  e.delayed_until = clock::steady_ms() + settings_.backoff_ms;
}

bool ReplicaFetcher::Worker::truncate(std::vector<Entry>& entries) {
  const int64_t now = clock::steady_ms();
  std::map<std::pair<std::string, int32_t>, std::pair<Entry*, int32_t>> pending;  // -> ask epoch
  for (auto& e : entries) {
    if (e.truncated || e.delayed_until > now) continue;
    // Where to start: the latest epoch of the local log (none: an empty log, nothing to cut).
    auto start = on_owner<std::pair<std::optional<int32_t>, int64_t>>(
        e.partition,
        [](Partition& p) { return std::make_pair(p.latest_epoch(), p.log_end_offset()); });
    if (!start) return false;
    if (!start->first || start->second == e.partition->log_start_snapshot()) {
      e.truncated = true;
      e.fetch_offset = start->second;
      continue;
    }
    pending[{e.partition->topic(), e.partition->index()}] = {&e, *start->first};
  }
  for (int round = 0; round < kMaxTruncationRounds && !pending.empty(); ++round) {
    protocol::OffsetForLeaderEpochRequest req;
    req.replica_id = settings_.self;
    for (const auto& [key, entry] : pending) {
      if (req.topics.empty() || req.topics.back().topic != key.first) {
        req.topics.emplace_back().topic = key.first;
      }
      auto& part = req.topics.back().partitions.emplace_back();
      part.partition = key.second;
      part.current_leader_epoch = entry.first->epoch;
      part.leader_epoch = entry.second;
    }
    protocol::OffsetForLeaderEpochResponse resp;
    std::shared_ptr<std::string> answer;
    std::string error;
    if (!conn_.call(kOffsetForLeaderEpochKey, kOffsetForLeaderEpochVersion, req, resp,
                    settings_.request_timeout_ms, answer, &error)) {
      if (!stopping()) {
        log::warn("replica fetcher: OffsetForLeaderEpoch to leader {}: {}", leader_, error);
      }
      return false;
    }
    for (const auto& t : resp.topics) {
      for (const auto& r : t.partitions) {
        auto it = pending.find({t.topic, r.partition});
        if (it == pending.end()) continue;
        Entry& e = *it->second.first;
        const auto err = static_cast<ErrorCode>(r.error_code);
        if (err != ErrorCode::none) {
          back_off(e, "OffsetForLeaderEpoch refused", err);
          pending.erase(it);
          continue;
        }
        auto step = on_owner<TruncationStep>(
            e.partition, [epoch = e.epoch, le = r.leader_epoch, end = r.end_offset](Partition& p) {
              return truncation_step(p, epoch, le, end);
            });
        if (!step) return false;
        if (step->stale || step->done) {
          e.truncated = !step->stale;
          e.fetch_offset = step->log_end;
          if (step->stale) e.delayed_until = clock::steady_ms() + settings_.backoff_ms;
          pending.erase(it);
        } else {
          it->second.second = step->ask_epoch;
        }
      }
    }
  }
  for (auto& [key, entry] : pending) back_off(*entry.first, "no answer", ErrorCode::none);
  return true;
}

bool ReplicaFetcher::Worker::fetch(std::vector<Entry>& entries) {
  const int64_t now = clock::steady_ms();
  protocol::FetchRequest req;
  req.replica_id = settings_.self;
  req.max_wait_ms = settings_.wait_max_ms;
  req.min_bytes = settings_.min_bytes;
  req.max_bytes = settings_.response_max_bytes;
  std::map<std::pair<std::string, int32_t>, Entry*> asked;
  int64_t next_ready = now + settings_.backoff_ms;
  // KIP-73: while the follower quota is exceeded, throttled replicas that are behind are left
  // out of this fetch (Kafka's shouldFollowerThrottle); with nothing else to ask, the thread
  // backs off as Kafka's does.
  ReplicationQuota* quota = settings_.quota.get();
  const bool over_quota = quota != nullptr && quota->exceeded(now);
  for (auto& e : entries) {
    if (!e.truncated || e.delayed_until > now) {
      next_ready = std::min(next_ready, std::max(e.delayed_until, now + 10));
      continue;
    }
    if (over_quota && !e.caught_up && e.partition->follower_throttled()) {
      quota->count_held_back();
      continue;
    }
    const std::string& topic = e.partition->topic();
    if (req.topics.empty() || req.topics.back().topic != topic) {
      req.topics.emplace_back().topic = topic;
    }
    auto& part = req.topics.back().partitions.emplace_back();
    part.partition = e.partition->index();
    part.current_leader_epoch = e.epoch;
    part.fetch_offset = e.fetch_offset;
    part.log_start_offset = e.partition->log_start_snapshot();
    part.partition_max_bytes = settings_.fetch_max_bytes;
    asked[{topic, part.partition}] = &e;
  }
  if (asked.empty()) {
    sleep_ms(next_ready - now);
    return true;
  }
  session_.prepare(req);  // incremental once the leader gave a session
  protocol::FetchResponse resp;
  std::shared_ptr<std::string> answer;
  std::string error;
  if (!conn_.call(kFetchKey, kFetchVersion, req, resp,
                  settings_.wait_max_ms + settings_.request_timeout_ms, answer, &error)) {
    if (!stopping()) log::warn("replica fetcher: Fetch from leader {}: {}", leader_, error);
    session_.reset();
    return false;
  }
  if (!session_.handle(resp)) {
    log::info("replica fetcher: leader {} refused fetch session (error {}); starting a new one",
              leader_, resp.error_code);
    return true;
  }
  if (resp.error_code != 0) {
    for (auto& [key, e] : asked)
      back_off(*e, "fetch refused", static_cast<ErrorCode>(resp.error_code));
    return true;
  }
  for (const auto& t : resp.responses) {
    for (auto& r : t.partitions) {
      auto it = asked.find({t.topic, r.partition_index});
      if (it == asked.end()) continue;
      Entry& e = *it->second;
      const auto err = static_cast<ErrorCode>(r.error_code);
      if (err == ErrorCode::offset_out_of_range && r.log_start_offset > e.fetch_offset) {
        // The leader's log starts after everything we have: start over there.
        auto leo = on_owner<int64_t>(
            e.partition, [epoch = e.epoch, start = r.log_start_offset](Partition& p) -> int64_t {
              if (p.is_leader() || p.leader_epoch() != epoch) return -1;
              p.truncate_fully_and_start_at(start);
              return p.log_end_offset();
            });
        if (!leo) return false;
        if (*leo < 0) {
          back_off(e, "role changed", err);
        } else {
          e.fetch_offset = *leo;
        }
        continue;
      }
      if (err != ErrorCode::none) {
        back_off(e, "fetch refused", err);
        continue;
      }
      const std::string_view bytes = r.records ? r.records->bytes : std::string_view{};
      const size_t n = whole_batches(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
      const int64_t hw = r.high_watermark;
      const int64_t log_start = r.log_start_offset;
      if (quota != nullptr && e.partition->follower_throttled()) {
        quota->record(static_cast<int64_t>(bytes.size()), clock::steady_ms());
      }
      e.caught_up = e.fetch_offset >= hw;
      if (n == 0) {
        post_(e.partition->shard(), [p = e.partition, epoch = e.epoch, hw, log_start] {
          if (!p->is_leader() && p->leader_epoch() == epoch) p->follow_leader(hw, log_start);
        });
        continue;
      }
      auto* data = reinterpret_cast<uint8_t*>(const_cast<char*>(bytes.data()));
      auto out = on_owner<std::pair<ErrorCode, int64_t>>(
          e.partition, [answer, data, n, hw, log_start, epoch = e.epoch](Partition& p) {
            (void)answer;  // owns the bytes at `data` until the append ran
            const auto a = p.append_replicated(data, n, hw, log_start, epoch, clock::wall_ms());
            return std::make_pair(a.error, p.log_end_offset());
          });
      if (!out) return false;
      if (out->first != ErrorCode::none) {
        back_off(e, "replicated append refused", out->first);
      } else {
        e.fetch_offset = out->second;
        e.caught_up = e.fetch_offset >= hw;
      }
    }
  }
  return true;
}

ReplicaFetcher::ReplicaFetcher(ReplicaFetcherSettings settings, Post post)
    : settings_(settings), post_(std::move(post)), fetchers_(std::max(settings.num_fetchers, 1)) {}

ReplicaFetcher::~ReplicaFetcher() {
  shutdown();
}

ReplicaFetcher::WorkerKey ReplicaFetcher::worker_key(const Key& key, int32_t leader) const {
  const auto index = static_cast<int32_t>(
      (std::hash<std::string>{}(key.first) * 31 + static_cast<size_t>(key.second)) %
      static_cast<size_t>(fetchers_));
  return {leader, index};
}

ReplicaFetcher::Worker& ReplicaFetcher::worker_locked(const WorkerKey& wk) {
  auto& worker = workers_[wk];
  if (!worker) worker = std::make_shared<Worker>(settings_, post_, wk.first);
  return *worker;
}

void ReplicaFetcher::follow(std::shared_ptr<Partition> partition, int32_t leader,
                            BrokerEndpoint endpoint, int32_t leader_epoch) {
  std::lock_guard lock(mu_);
  if (stopped_) return;
  const Key key{partition->topic(), partition->index()};
  const WorkerKey wk = worker_key(key, leader);
  if (auto it = where_.find(key); it != where_.end() && it->second != wk) {
    if (auto w = workers_.find(it->second); w != workers_.end()) {
      w->second->remove(key.first, key.second);
    }
  }
  worker_locked(wk).add(std::move(partition), leader_epoch, std::move(endpoint));
  where_[key] = wk;
}

void ReplicaFetcher::unfollow(const std::string& topic, int32_t index) {
  std::lock_guard lock(mu_);
  auto it = where_.find({topic, index});
  if (it == where_.end()) return;
  if (auto w = workers_.find(it->second); w != workers_.end()) w->second->remove(topic, index);
  where_.erase(it);
}

void ReplicaFetcher::retire_idle() {
  std::lock_guard lock(mu_);
  retire_idle_locked();
}

void ReplicaFetcher::retire_idle_locked() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (it->second->size() != 0) {
      ++it;
      continue;
    }
    it->second->request_stop();
    retired_.push_back(std::move(it->second));
    it = workers_.erase(it);
  }
  std::erase_if(retired_, [](const std::shared_ptr<Worker>& w) {
    if (!w->ended()) return false;
    w->stop();  // joins at once
    return true;
  });
}

void ReplicaFetcher::resize(int32_t fetchers) {
  fetchers = std::max(fetchers, 1);
  std::lock_guard lock(mu_);
  if (stopped_ || fetchers == fetchers_) return;
  fetchers_ = fetchers;
  size_t moved = 0;
  for (auto& [key, wk] : where_) {
    const WorkerKey next = worker_key(key, wk.first);
    if (next == wk) continue;
    auto w = workers_.find(wk);
    auto f = w == workers_.end() ? std::nullopt : w->second->take(key.first, key.second);
    if (!f) continue;
    worker_locked(next).add(std::move(f->partition), f->epoch, std::move(f->endpoint));
    wk = next;
    ++moved;
  }
  retire_idle_locked();
  log::info("replica fetcher: {} threads per leader; {} partitions moved, {} threads now",
            fetchers_, moved, workers_.size());
}

size_t ReplicaFetcher::followed() const {
  std::lock_guard lock(mu_);
  return where_.size();
}

size_t ReplicaFetcher::threads() const {
  std::lock_guard lock(mu_);
  return workers_.size();
}

void ReplicaFetcher::shutdown() {
  std::map<WorkerKey, std::shared_ptr<Worker>> workers;
  std::vector<std::shared_ptr<Worker>> retired;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    workers.swap(workers_);
    retired.swap(retired_);
    where_.clear();
  }
  for (auto& [key, w] : workers) w->request_stop();
  for (auto& [key, w] : workers) w->stop();
  for (auto& w : retired) w->stop();
}

}  // namespace kaffa::cluster
