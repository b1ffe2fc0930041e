// Test support for the etcd-backed metadata store: one real etcd and several EtcdMetadata
// instances in this process, each acting as one broker (its own thread and etcd client).
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "cluster/etcd/etcd_testing.h"
#include "cluster/etcd_metadata.h"
#include "eventually_testing.h"

namespace kaffa::cluster::testing {

using namespace std::chrono_literals;

using kaffa::testing::eventually;

// Waits for a callback-delivered value.
template <class T>
struct Awaited {
  std::shared_ptr<std::promise<T>> promise = std::make_shared<std::promise<T>>();
  std::future<T> future = promise->get_future();
  std::function<void(T)> callback() {
    return [p = promise](T v) { p->set_value(std::move(v)); };
  }
  T get(std::chrono::milliseconds deadline = 20s) {
    EXPECT_EQ(future.wait_for(deadline), std::future_status::ready) << "no answer in time";
    return future.get();
  }
};

struct Result {
  protocol::ErrorCode error = protocol::ErrorCode::unknown_server_error;
  std::string message;
};

class MetadataClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KAFFA_REQUIRE_ETCD();
    etcd_ = std::make_unique<etcd::testing::EtcdProcess>();
    std::string err;
    ASSERT_TRUE(etcd_->start(&err)) << err;
  }
  void TearDown() override { brokers_.clear(); }

  EtcdMetadataOptions options(int32_t id) const {
    EtcdMetadataOptions o;
    o.endpoints = "etcd://127.0.0.1:" + std::to_string(etcd_->client_port());
    o.prefix = "/test";
    o.self.id = id;
    o.self.endpoints.push_back({"PLAINTEXT", "127.0.0.1", 9000 + id, "PLAINTEXT"});
    o.self.inter_broker_listener = "PLAINTEXT";
    o.session_timeout_ms = 2000;
    o.request_timeout = 2s;
    o.auto_leader_rebalance = false;
    return o;
  }
  // Starts broker `id` (replacing a stopped one of that id).
  EtcdMetadata& start(int32_t id, std::function<void(EtcdMetadataOptions&)> tweak = {}) {
    auto o = options(id);
    if (tweak) tweak(o);
    auto m = std::make_unique<EtcdMetadata>(std::move(o));
    auto error = m->start(10s);
    EXPECT_FALSE(error.has_value()) << *error;
    auto& ref = *m;
    brokers_[id] = std::move(m);
    return ref;
  }
  // Starts brokers 1..n and waits until every one of them sees all n.
  void start_all(int n) {
    for (int i = 1; i <= n; ++i) start(i);
    EXPECT_TRUE(all_see([n](const MetadataImage& i) {
      return i.brokers.size() == static_cast<size_t>(n);
    })) << "the brokers never all saw each other";
  }
  EtcdMetadata& broker(int32_t id) { return *brokers_.at(id); }
  void stop(int32_t id) {
    brokers_.at(id)->stop();
    brokers_.erase(id);
  }
  // Every running broker's image satisfies `check`.
  bool all_see(const std::function<bool(const MetadataImage&)>& check,
               std::chrono::milliseconds deadline = 20s) {
    return eventually(
        [&] {
          for (auto& [id, m] : brokers_) {
            auto image = m->image();
            if (!image || !check(*image)) return false;
          }
          return true;
        },
        deadline);
  }

  Result create(int32_t via, const std::string& name, int32_t partitions, int16_t rf,
                std::vector<std::vector<int32_t>> assignment = {}) {
    EtcdMetadata::TopicSpec spec;
    spec.info.name = name;
    spec.info.partitions = partitions;
    spec.info.replication_factor = rf;
    spec.assignment = std::move(assignment);
    Awaited<Result> r;
    auto cb = r.callback();
    broker(via).create_topic(std::move(spec),
                             [cb](protocol::ErrorCode e, std::string m, TopicInfo) {
                               cb(Result{e, std::move(m)});
                             });
    return r.get();
  }
  static EtcdMetadata::Done done_into(Awaited<Result>& r) {
    auto cb = r.callback();
    return [cb](protocol::ErrorCode e, std::string m) { cb(Result{e, std::move(m)}); };
  }

  std::unique_ptr<etcd::testing::EtcdProcess> etcd_;
  std::map<int32_t, std::unique_ptr<EtcdMetadata>> brokers_;
};

}  // namespace kaffa::cluster::testing
