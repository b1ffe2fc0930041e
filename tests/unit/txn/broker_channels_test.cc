// BrokerChannels: one thread per destination broker, made on its first job; a thread left idle
// ends (its broker keeps no thread) and the next job makes a new one; stop() ends them all. The
// destinations cannot be reached (a port nothing listens on): every job is delivered without a
// connection, which is what `deliver` is told.
#include "txn/broker_channels.h"

#include <gtest/gtest.h>

#include <atomic>

#include "eventually_testing.h"

namespace kaffa::txn {
namespace {

using kaffa::testing::eventually;

TEST(BrokerChannels, AnIdleThreadEndsAndTheNextJobStartsAnother) {
  std::atomic<int> delivered{0};
  std::atomic<int> unreachable{0};
  cluster::ReplicaFetcherSettings settings;
  settings.request_timeout_ms = 1000;
  BrokerChannels<int> channels(
      "test", settings, 8,
      [&](int32_t, cluster::BrokerConnection* conn, std::vector<int>& jobs) {
        if (conn == nullptr) unreachable += static_cast<int>(jobs.size());
        delivered += static_cast<int>(jobs.size());
      },
      /*idle_ms=*/50);
  const cluster::BrokerEndpoint nowhere{"REPLICATION", "127.0.0.1", 1, "PLAINTEXT"};
  ASSERT_TRUE(channels.enqueue(2, nowhere, 1));
  ASSERT_TRUE(channels.enqueue(3, nowhere, 2));
  EXPECT_TRUE(eventually([&] { return delivered == 2; }));
  EXPECT_EQ(unreachable.load(), 2);
  // Both idle: their threads end.
  EXPECT_TRUE(eventually([&] { return channels.threads() == 0; }));
  // A new job for broker 2 gets a thread again (none is left to take it), and is delivered.
  ASSERT_TRUE(channels.enqueue(2, nowhere, 3));
  EXPECT_TRUE(eventually([&] { return delivered == 3; }));
  channels.stop();
  EXPECT_FALSE(channels.enqueue(2, nowhere, 4));  // stopping: dropped
  EXPECT_EQ(delivered.load(), 3);
}

}  // namespace
}  // namespace kaffa::txn
