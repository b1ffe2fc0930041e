// Client quotas: the set's rules (alter, describe, resolve, text) and the byte-rate throttling.
#include "broker/client_quotas.h"

#include <gtest/gtest.h>

#include "broker/quota_manager.h"

namespace kaffa::broker::quotas {
namespace {

using protocol::ErrorCode;

ErrorCode set_one(QuotaSet& set, EntityData entity, std::string key, double value,
                  std::string* message = nullptr) {
  std::string ignored;
  return alter(set, entity, {{std::move(key), value, false}}, message ? message : &ignored);
}

TEST(ClientQuotas, AlterChecksEntitiesKeysAndValuesAsKafka) {
  QuotaSet set;
  std::string why;
  EXPECT_EQ(set_one(set, {}, "producer_byte_rate", 10, &why), ErrorCode::invalid_request);
  EXPECT_EQ(why, "Invalid empty client quota entity");
  for (const EntityData& bad :
       {EntityData{{"user", "a"}, {"user", "b"}}, EntityData{{"group", "g"}},
        EntityData{{"user", ""}}, EntityData{{"ip", "1.2.3.4"}}}) {
    EXPECT_EQ(set_one(set, bad, "producer_byte_rate", 10), ErrorCode::invalid_request);
  }
  const EntityData alice{{"user", "alice"}};
  for (const auto& [key, value] :
       std::vector<std::pair<std::string, double>>{{"producer_byte_rate", 0},
                                                   {"producer_byte_rate", -5},
                                                   {"consumer_byte_rate", 1.5},
                                                   {"request_percentage", 50},
                                                   {"made_up", 1}}) {
    EXPECT_EQ(set_one(set, alice, key, value, &why), ErrorCode::invalid_request) << key;
    EXPECT_FALSE(why.empty());
  }
  EXPECT_TRUE(set.empty()) << "nothing refused is stored";
  std::string message;
  EXPECT_EQ(alter(set, alice, {{"producer_byte_rate", 1, false}, {"producer_byte_rate", 2, false}},
                  &message),
            ErrorCode::invalid_request);

  ASSERT_EQ(set_one(set, alice, "producer_byte_rate", 1000), ErrorCode::none);
  ASSERT_EQ(set_one(set, alice, "consumer_byte_rate", 2000), ErrorCode::none);
  ASSERT_EQ(set.size(), 1u);
  EXPECT_EQ(set.begin()->second,
            (Values{{"consumer_byte_rate", 2000}, {"producer_byte_rate", 1000}}));
  ASSERT_EQ(alter(set, alice, {{"producer_byte_rate", 0, true}, {"consumer_byte_rate", 0, true}},
                  &message),
            ErrorCode::none);
  EXPECT_TRUE(set.empty()) << "an entity without values goes";
}

TEST(ClientQuotas, ResolveFollowsKafkasPrecedence) {
  QuotaSet set;
  const std::optional<std::string> dflt;
  ASSERT_EQ(set_one(set, {{"client-id", dflt}}, "producer_byte_rate", 8), ErrorCode::none);
  auto b = resolve(set, kProducerByteRate, "alice", "app");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->bytes_per_second, 8);
  EXPECT_EQ(b->user, "");
  EXPECT_EQ(b->client_id, "app") << "a default client quota: each client id its own rate";
  ASSERT_EQ(set_one(set, {{"client-id", "app"}}, "producer_byte_rate", 7), ErrorCode::none);
  EXPECT_EQ(resolve(set, kProducerByteRate, "alice", "app")->bytes_per_second, 7);
  ASSERT_EQ(set_one(set, {{"user", dflt}}, "producer_byte_rate", 6), ErrorCode::none);
  EXPECT_EQ(resolve(set, kProducerByteRate, "alice", "app")->bytes_per_second, 6);
  ASSERT_EQ(set_one(set, {{"user", dflt}, {"client-id", "app"}}, "producer_byte_rate", 4),
            ErrorCode::none);
  EXPECT_EQ(resolve(set, kProducerByteRate, "alice", "app")->bytes_per_second, 4);
  ASSERT_EQ(set_one(set, {{"user", "alice"}}, "producer_byte_rate", 3), ErrorCode::none);
  b = resolve(set, kProducerByteRate, "alice", "app");
  EXPECT_EQ(b->bytes_per_second, 3);
  EXPECT_EQ(b->user, "alice");
  EXPECT_EQ(b->client_id, "") << "a user quota: shared by the user's clients";
  ASSERT_EQ(set_one(set, {{"user", "alice"}, {"client-id", "app"}}, "producer_byte_rate", 1),
            ErrorCode::none);
  EXPECT_EQ(resolve(set, kProducerByteRate, "alice", "app")->bytes_per_second, 1);
  EXPECT_EQ(resolve(set, kProducerByteRate, "bob", "other")->bytes_per_second, 6);
  EXPECT_FALSE(resolve(set, kConsumerByteRate, "alice", "app"));
}

TEST(ClientQuotas, DescribeFiltersAndTheTextRoundTrip) {
  QuotaSet set;
  const std::optional<std::string> dflt;
  ASSERT_EQ(set_one(set, {{"user", "alice"}}, "producer_byte_rate", 1), ErrorCode::none);
  ASSERT_EQ(set_one(set, {{"user", dflt}}, "producer_byte_rate", 2), ErrorCode::none);
  ASSERT_EQ(set_one(set, {{"user", "alice"}, {"client-id", "tab\tand\nnewline"}},
                    "consumer_byte_rate", 3),
            ErrorCode::none);
  auto count = [&set](std::vector<Component> filter, bool strict) {
    std::vector<QuotaSet::const_iterator> out;
    std::string message;
    EXPECT_EQ(describe(set, filter, strict, out, &message), ErrorCode::none) << message;
    return out.size();
  };
  EXPECT_EQ(count({}, false), 3u);
  EXPECT_EQ(count({{"user", 0, "alice"}}, false), 2u);
  EXPECT_EQ(count({{"user", 0, "alice"}}, true), 1u);
  EXPECT_EQ(count({{"user", 1, std::nullopt}}, false), 1u);
  EXPECT_EQ(count({{"user", 2, std::nullopt}}, true), 2u);
  EXPECT_EQ(count({{"client-id", 2, std::nullopt}}, false), 1u);
  std::vector<QuotaSet::const_iterator> out;
  std::string message;
  EXPECT_EQ(describe(set, {{"user", 0, std::nullopt}}, false, out, &message),
            ErrorCode::invalid_request);
  EXPECT_EQ(describe(set, {{"user", 0, "a"}, {"user", 2, std::nullopt}}, false, out, &message),
            ErrorCode::invalid_request);
  EXPECT_EQ(describe(set, {{"group", 2, std::nullopt}}, false, out, &message),
            ErrorCode::unsupported_version);

  std::string why;
  auto back = decode(encode(set), &why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(*back, set);
  EXPECT_FALSE(decode("kaffa client quotas v1\n1\n-\t-\tproducer_byte_rate=1\n", &why));
  EXPECT_FALSE(decode("kaffa client quotas v1\n1\n*\t-\tproducer_byte_rate=-1\n", &why));
}

TEST(QuotaManager, ThrottlesByTheExcessOverTheMeasuredSpan) {
  QuotaManager m(11, 1000);
  QuotaSet set;
  ASSERT_EQ(set_one(set, {{"client-id", "slow"}}, "producer_byte_rate", 1000), ErrorCode::none);
  m.replace(set);
  ASSERT_TRUE(m.has_quotas());
  EXPECT_EQ(m.record(kProducerByteRate, "u", "fast", 1 << 20, 0), 0) << "no quota for it";
  // 10 s of span at least: 10,000 bytes at once are exactly the bound.
  EXPECT_EQ(m.record(kProducerByteRate, "u", "slow", 10000, 0), 0);
  // 15,000 over 10 s: 1,500 B/s, half again the bound: 5 s.
  EXPECT_EQ(m.record(kProducerByteRate, "u", "slow", 5000, 100), 5000);
  // Far later, the old windows have left the span.
  EXPECT_EQ(m.record(kProducerByteRate, "u", "slow", 100, 60000), 0);
  // An enormous burst is capped at the whole span (11 windows).
  EXPECT_EQ(m.record(kProducerByteRate, "u", "slow", 1 << 30, 60100), 11000);
  m.replace({});
  EXPECT_FALSE(m.has_quotas());
  EXPECT_EQ(m.record(kProducerByteRate, "u", "slow", 1 << 30, 60200), 0);
}

TEST(QuotaManager, WindowBytesAndTakingBackWhatWasNotSent) {
  QuotaManager m(11, 1000);
  QuotaSet set;
  ASSERT_EQ(set_one(set, {{"client-id", "slow"}}, "consumer_byte_rate", 1000), ErrorCode::none);
  m.replace(set);
  // Kafka's getMaxValueInQuotaWindow: the bound times (samples - 1) windows.
  EXPECT_EQ(m.window_bytes(kConsumerByteRate, "u", "slow"), 10000);
  EXPECT_EQ(m.window_bytes(kConsumerByteRate, "u", "fast"), std::nullopt);
  // Over the bound, then taken back (a throttled fetch sends nothing): the rate is as before.
  EXPECT_GT(m.record(kConsumerByteRate, "u", "slow", 15000, 0), 0);
  m.record(kConsumerByteRate, "u", "slow", -15000, 0);
  EXPECT_EQ(m.record(kConsumerByteRate, "u", "slow", 10000, 0), 0);
}

}  // namespace
}  // namespace kaffa::broker::quotas
