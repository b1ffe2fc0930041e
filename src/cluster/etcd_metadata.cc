// EtcdMetadata: the public API (posting to the metadata thread) and the lifecycle — start-up,
// registration under a lease, session loss and re-registration, the controller campaign, stop.
#include "cluster/etcd_metadata.h"

#include <asio/post.hpp>
#include <future>

#include "base/log.h"
#include "cluster/etcd_metadata_impl.h"

namespace kaffa::cluster {

// --- public API ---------------------------------------------------------------------------------

EtcdMetadata::EtcdMetadata(EtcdMetadataOptions options)
    : impl_(std::make_shared<Impl>(std::move(options))) {}

EtcdMetadata::~EtcdMetadata() {
  stop();
}

void EtcdMetadata::on_image(std::function<void(ImagePtr, ImagePtr)> fn) {
  impl_->on_image_ = std::move(fn);
}
void EtcdMetadata::on_session_lost(std::function<void()> fn) {
  impl_->on_session_lost_ = std::move(fn);
}
std::optional<std::string> EtcdMetadata::start(std::chrono::milliseconds timeout) {
  return impl_->start(timeout);
}
void EtcdMetadata::stop() {
  impl_->stop();
}
ImagePtr EtcdMetadata::image() const {
  std::lock_guard lock(impl_->mu_);
  return impl_->image_;
}
const std::string& EtcdMetadata::cluster_id() const {
  return impl_->cluster_id_;
}
bool EtcdMetadata::is_controller() const {
  return impl_->is_controller_.load();
}

void EtcdMetadata::create_topic(
    TopicSpec spec, std::function<void(protocol::ErrorCode, std::string, TopicInfo)> done) {
  asio::post(impl_->io_,
             [impl = impl_.get(), spec = std::move(spec), done = std::move(done)]() mutable {
               impl->create_topic(std::move(spec), std::move(done));
             });
}
void EtcdMetadata::delete_topic(std::string name, Done done) {
  asio::post(impl_->io_, [impl = impl_.get(), name = std::move(name), done = std::move(done)] {
    impl->delete_topic(name, done);
  });
}
void EtcdMetadata::set_topic_configs(std::string name, ConfigChange change, Done done) {
  asio::post(impl_->io_,
             [impl = impl_.get(), name = std::move(name), change = std::move(change),
              done = std::move(done)] { impl->set_topic_configs(name, change, done, 5); });
}
void EtcdMetadata::add_partitions(std::string name, int32_t new_count,
                                  std::vector<std::vector<int32_t>> assignment, Done done) {
  asio::post(impl_->io_, [impl = impl_.get(), name = std::move(name), new_count,
                          assignment = std::move(assignment), done = std::move(done)] {
    impl->add_partitions(name, new_count, assignment, done);
  });
}
void EtcdMetadata::alter_partition(const std::string& topic, int32_t index,
                                   const PartitionState& proposed, AlterPartitionDone done) {
  asio::post(impl_->io_, [impl = impl_.get(), topic, index, proposed, done = std::move(done)] {
    impl->alter_partition(topic, index, proposed, done);
  });
}
void EtcdMetadata::elect_leaders(bool unclean,
                                 std::vector<std::pair<std::string, int32_t>> partitions,
                                 std::function<void(std::vector<Election>)> done) {
  asio::post(impl_->io_,
             [impl = impl_.get(), unclean, partitions = std::move(partitions),
              done = std::move(done)] { impl->elect_leaders(unclean, partitions, done); });
}
void EtcdMetadata::set_unclean_leader_election(bool enabled) {
  asio::post(impl_->io_, [impl = impl_.get(), enabled] {
    impl->options_.unclean_leader_election = enabled;
    if (impl->controller_) impl->controller_->set_unclean_leader_election(enabled);
  });
}
void EtcdMetadata::alter_reassignments(std::vector<Reassignment> list,
                                       std::function<void(std::vector<PartitionResult>)> done) {
  asio::post(impl_->io_,
             [impl = impl_.get(), list = std::move(list), done = std::move(done)]() mutable {
               impl->alter_reassignments(std::move(list), std::move(done));
             });
}
void EtcdMetadata::controlled_shutdown(std::chrono::milliseconds timeout,
                                       std::function<void(bool)> done) {
  asio::post(impl_->io_, [impl = impl_.get(), timeout, done = std::move(done)] {
    impl->controlled_shutdown(timeout, done);
  });
}
void EtcdMetadata::report_offline_replicas(
    std::vector<std::pair<protocol::Uuid, int32_t>> replicas) {
  asio::post(impl_->io_, [impl = impl_.get(), replicas = std::move(replicas)]() mutable {
    impl->report_offline_replicas(std::move(replicas));
  });
}
void EtcdMetadata::allocate_producer_ids(int32_t count,
                                         std::function<void(protocol::ErrorCode, int64_t)> done) {
  asio::post(impl_->io_, [impl = impl_.get(), count, done = std::move(done)] {
    impl->allocate_producer_ids(count, done, 100);
  });
}

// --- lifecycle ----------------------------------------------------------------------------------

EtcdMetadata::Impl::Impl(EtcdMetadataOptions options)
    : options_(std::move(options)), work_(asio::make_work_guard(io_)) {
  std::string prefix = options_.prefix;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  keys_.prefix = prefix;
}

std::optional<std::string> EtcdMetadata::Impl::start(std::chrono::milliseconds timeout) {
  if (started_) return "already started";
  started_ = true;
  auto endpoints = etcd::parse_endpoints(options_.endpoints);
  if (!endpoints) return "metadata.store: " + endpoints.error().describe();
  etcd::ClientOptions co;
  co.endpoints = std::move(*endpoints);
  // A keep-alive that hangs must not outlast the lease by much: the session is judged lost only
  // when a keep-alive fails, so the deadline is at most a third of the session (at least 1 s).
  co.request_timeout =
      std::min(options_.request_timeout,
               std::max(std::chrono::milliseconds(1000),
                        std::chrono::milliseconds(options_.session_timeout_ms / 3)));
  client_ = etcd::Client::create(io_.get_executor(), std::move(co));
  Controller::Options copts;
  copts.unclean_leader_election = options_.unclean_leader_election;
  copts.auto_leader_rebalance = options_.auto_leader_rebalance;
  copts.rebalance_interval =
      std::chrono::milliseconds(std::max<int64_t>(options_.leader_imbalance_check_interval_ms, 1));
  controller_ = std::make_unique<Controller>(
      io_, copts,
      [this](const PartitionChange& change, std::function<void(Controller::Outcome)> done) {
        std::vector<etcd::Compare> guard{etcd::Compare::create_revision(
            keys_.controller(), etcd::Compare::Op::equal, controller_create_revision_)};
        write_partition(
            change, std::move(guard),
            [done = std::move(done)](Controller::Outcome o, const PartitionState&) { done(o); });
      });
  thread_ = std::thread([this] { io_.run(); });

  auto promise = std::make_shared<std::promise<std::optional<std::string>>>();
  auto result = promise->get_future();
  const auto deadline = Clock::now() + timeout;
  asio::post(io_, [this, deadline, promise] {
    begin_start(deadline,
                [promise, once = std::make_shared<bool>(false)](std::optional<std::string> r) {
                  if (std::exchange(*once, true)) return;
                  promise->set_value(std::move(r));
                });
  });
  std::optional<std::string> outcome;
  if (result.wait_for(timeout + options_.request_timeout + std::chrono::seconds(1)) !=
      std::future_status::ready) {
    outcome = "etcd metadata store: start-up timed out";
  } else {
    outcome = result.get();
  }
  if (outcome) stop();
  return outcome;
}

void EtcdMetadata::Impl::after(std::chrono::milliseconds delay, std::function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(io_, delay);
  timer->async_wait([this, timer, fn = std::move(fn)](std::error_code ec) {
    if (!ec && !stopping_) fn();
  });
}

void EtcdMetadata::Impl::begin_start(Clock::time_point deadline, StartDone done) {
  init_cluster_id(
      deadline,
      [this, deadline, done] {
        register_broker(deadline, [this, deadline, done](std::optional<std::string> error) {
          if (error) return done(error);
          first_load(deadline, done);
        });
      },
      done);
}

void EtcdMetadata::Impl::first_load(Clock::time_point deadline, StartDone done) {
  load([this, deadline, done](std::optional<etcd::Error> e) {
    if (e) {
      if (Clock::now() >= deadline) return done("etcd: loading metadata: " + e->describe());
      return after(std::chrono::milliseconds(200),
                   [this, deadline, done] { first_load(deadline, done); });
    }
    start_watch(revision_ + 1);
    campaign();
    done(std::nullopt);
  });
}

void EtcdMetadata::Impl::init_cluster_id(Clock::time_point deadline, std::function<void()> next,
                                         StartDone fail) {
  std::string fresh = options_.cluster_id_if_new.empty() ? protocol::Uuid::random().to_base64()
                                                         : options_.cluster_id_if_new;
  etcd::TxnRequest t;
  t.compare.push_back(etcd::Compare::absent(keys_.cluster_id()));
  t.success.emplace_back(etcd::PutRequest{keys_.cluster_id(), fresh});
  t.failure.emplace_back(etcd::RangeRequest::single(keys_.cluster_id()));
  client_->txn(std::move(t), [this, deadline, next, fail, fresh](etcd::Result<etcd::TxnResult> r) {
    if (stopping_) return fail("stopped");
    if (!r) {
      if (Clock::now() >= deadline) return fail("etcd unreachable: " + r.error().describe());
      return after(std::chrono::milliseconds(200),
                   [this, deadline, next, fail] { init_cluster_id(deadline, next, fail); });
    }
    if (r->succeeded) {
      cluster_id_ = fresh;
    } else {
      const auto* range =
          r->responses.empty() ? nullptr : std::get_if<etcd::RangeResult>(&r->responses.front());
      if (range == nullptr || range->kvs.empty()) {
        return init_cluster_id(deadline, next, fail);  // deleted in between
      }
      cluster_id_ = range->kvs.front().value;
    }
    next();
  });
}

void EtcdMetadata::Impl::register_broker(std::optional<Clock::time_point> deadline,
                                         StartDone done) {
  const int64_t ttl = std::max<int64_t>(2, (options_.session_timeout_ms + 999) / 1000);
  etcd::Lease::grant(
      client_, ttl, [this](const etcd::Error& e) { session_lost(e.describe()); },
      [this, deadline, done](etcd::Result<std::shared_ptr<etcd::Lease>> r) {
        if (stopping_) {
          if (r) (*r)->stop();
          return done("stopped");
        }
        if (!r) {
          if (deadline && Clock::now() >= *deadline) {
            return done("etcd: lease grant failed: " + r.error().describe());
          }
          return after(std::chrono::milliseconds(300),
                       [this, deadline, done] { register_broker(deadline, done); });
        }
        lease_ = *r;
        own_leases_.insert(lease_->id());
        write_registration(deadline, done);
      });
}

void EtcdMetadata::Impl::write_registration(std::optional<Clock::time_point> deadline,
                                            StartDone done) {
  if (!lease_->alive()) return register_broker(deadline, done);
  BrokerRegistration reg = options_.self;
  reg.incarnation = lease_->id();
  reg.shutting_down = shutting_down_;
  const std::string key = keys_.broker(reg.id);
  const std::string value = records::encode_broker(reg);
  const int64_t lease = lease_->id();
  auto retry = [this, deadline, done](std::chrono::milliseconds delay, std::string why) {
    if (deadline && Clock::now() >= *deadline) return done(why);
    after(delay, [this, deadline, done] { write_registration(deadline, done); });
  };
  etcd::TxnRequest t;
  t.compare.push_back(etcd::Compare::absent(key));
  t.success.emplace_back(etcd::PutRequest{key, value, lease});
  t.failure.emplace_back(etcd::RangeRequest::single(key));
  client_->txn(std::move(t), [this, key, value, lease, done, retry,
                              id = reg.id](etcd::Result<etcd::TxnResult> r) {
    if (stopping_) return done("stopped");
    if (!r)
      return retry(std::chrono::milliseconds(300), "etcd: registration: " + r.error().describe());
    const auto* range =
        r->responses.empty() ? nullptr : std::get_if<etcd::RangeResult>(&r->responses.front());
    if (r->succeeded || (range && !range->kvs.empty() && range->kvs.front().lease == lease)) {
      registered_ = true;
      log::info("etcd metadata: broker {} registered (lease {:x})", id, lease);
      return done(std::nullopt);
    }
    if (range == nullptr || range->kvs.empty()) return retry(std::chrono::milliseconds(0), "");
    const etcd::KeyValue& held = range->kvs.front();
    if (own_leases_.count(held.lease) == 0) {
      // Another process's registration; a crashed predecessor's expires with its lease.
      return retry(std::chrono::milliseconds(250),
                   "node.id " + std::to_string(id) + " is already registered");
    }
    // Our own registration under an older lease (session lost, key still there): replace it.
    etcd::TxnRequest t2;
    t2.compare.push_back(
        etcd::Compare::mod_revision(key, etcd::Compare::Op::equal, held.mod_revision));
    t2.success.emplace_back(etcd::PutRequest{key, value, lease});
    client_->txn(std::move(t2), [retry](etcd::Result<etcd::TxnResult>) {
      // Whatever happened, the next attempt sees the key as ours or retries.
      retry(std::chrono::milliseconds(0), "etcd: registration replaced concurrently");
    });
  });
}

void EtcdMetadata::Impl::session_lost(const std::string& why) {
  if (stopping_ || !registered_ || (lease_ && lease_->alive())) return;
  log::warn("etcd metadata: broker {} lost its session: {}", options_.self.id, why);
  registered_ = false;
  controller_->deactivate();
  is_controller_ = false;
  if (election_) election_->cancel();
  election_.reset();
  // The old lease may still exist on the server (etcd was unreachable, or it extended the lease
  // when it restarted): revoke it so that its registration and controller key go at once.
  if (lease_) client_->lease_revoke(lease_->id(), [](etcd::Result<etcd::Done>) {});
  if (on_session_lost_) on_session_lost_();
  register_broker(std::nullopt, [this](std::optional<std::string> error) {
    if (!error) campaign();
  });
}

void EtcdMetadata::Impl::campaign() {
  if (stopping_ || !registered_) return;
  auto election = etcd::Election::create(client_, keys_.controller(), lease_->id());
  election_ = election;
  // The callbacks live inside the election: a weak reference, or it would own itself.
  std::weak_ptr<etcd::Election> weak = election;
  auto current = [this, weak] { return !stopping_ && election_ && weak.lock() == election_; };
  election->campaign(
      std::to_string(options_.self.id),
      [this, current](etcd::Result<etcd::KeyValue> r) {
        if (!current()) return;
        if (!r) {
          if (r.error().code == etcd::Error::Code::cancelled) return;
          return after(std::chrono::milliseconds(500), [this, current] {
            if (current()) campaign();
          });
        }
        controller_create_revision_ = r->create_revision;
        is_controller_ = true;
        log::info("etcd metadata: broker {} is the controller", options_.self.id);
        ImagePtr image;
        {
          std::lock_guard lock(mu_);
          image = image_;
        }
        controller_->activate(image);
      },
      [this, current] {
        if (!current()) return;
        log::info("etcd metadata: broker {} is no longer the controller", options_.self.id);
        is_controller_ = false;
        controller_->deactivate();
        campaign();
      });
}

void EtcdMetadata::Impl::stop() {
  if (!thread_.joinable() || stopped_) {
    stopped_ = true;
    return;
  }
  stopped_ = true;
  auto promise = std::make_shared<std::promise<void>>();
  auto finished = promise->get_future();
  asio::post(io_, [this, promise] { finish_stop([promise] { promise->set_value(); }); });
  finished.wait_for(options_.request_timeout * 2 + std::chrono::seconds(1));
  work_.reset();
  io_.stop();
  thread_.join();
}

void EtcdMetadata::Impl::finish_stop(std::function<void()> done) {
  stopping_ = true;
  controller_->deactivate();
  is_controller_ = false;
  auto close_all = [this, done] {
    if (watch_) watch_->cancel();
    watch_.reset();
    client_->close();
    done();
  };
  auto revoke = [this, close_all] {
    if (!lease_) return close_all();
    auto lease = std::move(lease_);
    lease->close([close_all](etcd::Result<etcd::Done>) { close_all(); });
  };
  if (!election_) return revoke();
  auto election = std::move(election_);
  election->resign([revoke](etcd::Result<etcd::Done>) { revoke(); });
}

}  // namespace kaffa::cluster
