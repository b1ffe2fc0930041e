#include "txn/txn_rules.h"

#include <gtest/gtest.h>

#include "txn/txn_metadata.h"

namespace kaffa::txn {
namespace {

using protocol::ErrorCode;
using Action = rules::Decision::Action;

TxnMetadata empty_producer(int64_t pid = 7, int16_t epoch = 3) {
  TxnMetadata m;
  m.producer_id = pid;
  m.producer_epoch = epoch;
  m.last_producer_epoch = static_cast<int16_t>(epoch - 1);
  m.state = TxnState::empty;
  m.last_update_ms = 100;
  return m;
}

TxnMetadata ongoing(std::set<TopicPartition> parts = {{"a", 0}}) {
  auto m = empty_producer();
  m.state = TxnState::ongoing;
  m.partitions = std::move(parts);
  m.start_ms = 200;
  m.timeout_ms = 1000;
  return m;
}

TEST(TxnRules, FirstInitAllocatesAProducerThenStartsAtEpochZero) {
  auto d = rules::init_producer_id(nullptr, 5000, -1, -1, 10);
  EXPECT_EQ(d.action, Action::new_producer);
  auto m = rules::new_producer(nullptr, 42, 5000, 10);
  EXPECT_EQ(m.producer_id, 42);
  EXPECT_EQ(m.producer_epoch, 0);
  EXPECT_EQ(m.state, TxnState::empty);
  EXPECT_EQ(m.timeout_ms, 5000);
  EXPECT_EQ(m.previous_producer_id, -1);
}

TEST(TxnRules, InitAgainBumpsTheEpochAndClearsTheLastTransaction) {
  auto current = empty_producer();
  current.state = TxnState::complete_commit;
  current.partitions = {{"a", 1}};
  auto d = rules::init_producer_id(&current, 9000, -1, -1, 50);
  ASSERT_EQ(d.action, Action::write);
  EXPECT_EQ(d.next.producer_id, 7);
  EXPECT_EQ(d.next.producer_epoch, 4);
  EXPECT_EQ(d.next.last_producer_epoch, 3);
  EXPECT_EQ(d.next.state, TxnState::empty);
  EXPECT_TRUE(d.next.partitions.empty());
  EXPECT_EQ(d.next.timeout_ms, 9000);
}

TEST(TxnRules, InitFencesAnOngoingTransaction) {
  auto current = ongoing();
  auto d = rules::init_producer_id(&current, 9000, -1, -1, 50);
  ASSERT_EQ(d.action, Action::fence);
  EXPECT_EQ(d.next.state, TxnState::prepare_abort);
  EXPECT_EQ(d.next.producer_epoch, 4);  // the old producer's epoch is stale now
  EXPECT_EQ(d.next.partitions, current.partitions);
}

TEST(TxnRules, InitWhilePreparingIsConcurrent) {
  auto current = ongoing();
  current.state = TxnState::prepare_commit;
  EXPECT_EQ(rules::init_producer_id(&current, 9000, -1, -1, 50).error,
            ErrorCode::concurrent_transactions);
}

TEST(TxnRules, InitWithAnExhaustedEpochTakesANewProducerId) {
  auto current = empty_producer(7, rules::kMaxEpoch - 1);
  EXPECT_EQ(rules::init_producer_id(&current, 9000, -1, -1, 50).action, Action::new_producer);
  auto m = rules::new_producer(&current, 8, 9000, 50);
  EXPECT_EQ(m.previous_producer_id, 7);
  EXPECT_EQ(m.producer_epoch, 0);
}

TEST(TxnRules, InitNamingAnotherProducerIsFenced) {
  auto current = empty_producer();
  EXPECT_EQ(rules::init_producer_id(&current, 9000, 6, 3, 50).error, ErrorCode::producer_fenced);
  EXPECT_EQ(rules::init_producer_id(&current, 9000, 7, 1, 50).error, ErrorCode::producer_fenced);
  // The current producer may bump; a retry of the bump it got is answered again.
  EXPECT_EQ(rules::init_producer_id(&current, 9000, 7, 3, 50).action, Action::write);
  auto retry = rules::init_producer_id(&current, 9000, 7, 2, 50);
  EXPECT_EQ(retry.action, Action::answer);
  EXPECT_EQ(retry.error, ErrorCode::none);
}

TEST(TxnRules, AddPartitionsStartsAndExtendsATransaction) {
  auto current = empty_producer();
  auto d = rules::add_partitions(&current, 7, 3, {{"a", 0}, {"b", 2}}, 300);
  ASSERT_EQ(d.action, Action::write);
  EXPECT_EQ(d.next.state, TxnState::ongoing);
  EXPECT_EQ(d.next.start_ms, 300);
  EXPECT_EQ(d.next.partitions, (std::set<TopicPartition>{{"a", 0}, {"b", 2}}));
  // Nothing new: nothing to write.
  auto again = rules::add_partitions(&d.next, 7, 3, {{"a", 0}}, 400);
  EXPECT_EQ(again.action, Action::answer);
  EXPECT_EQ(again.error, ErrorCode::none);
  // A new partition keeps the start time.
  auto more = rules::add_partitions(&d.next, 7, 3, {{"c", 0}}, 500);
  ASSERT_EQ(more.action, Action::write);
  EXPECT_EQ(more.next.start_ms, 300);
  EXPECT_EQ(more.next.partitions.size(), 3u);
}

TEST(TxnRules, AddPartitionsRefusals) {
  auto current = ongoing();
  EXPECT_EQ(rules::add_partitions(nullptr, 7, 3, {{"a", 0}}, 1).error,
            ErrorCode::invalid_producer_id_mapping);
  EXPECT_EQ(rules::add_partitions(&current, 8, 3, {{"a", 0}}, 1).error,
            ErrorCode::invalid_producer_id_mapping);
  EXPECT_EQ(rules::add_partitions(&current, 7, 2, {{"a", 0}}, 1).error, ErrorCode::producer_fenced);
  current.state = TxnState::prepare_abort;
  EXPECT_EQ(rules::add_partitions(&current, 7, 3, {{"a", 0}}, 1).error,
            ErrorCode::concurrent_transactions);
}

TEST(TxnRules, VerifyAnswersPerPartitionAndWritesNothing) {
  using V = std::vector<ErrorCode>;
  const std::vector<TopicPartition> asked = {{"a", 0}, {"b", 0}};
  const auto current = ongoing();
  EXPECT_EQ(rules::verify_partitions(&current, 7, 3, asked),
            (V{ErrorCode::none, ErrorCode::transaction_abortable}));
  EXPECT_EQ(rules::verify_partitions(nullptr, 7, 3, asked),
            V(2, ErrorCode::invalid_producer_id_mapping));
  EXPECT_EQ(rules::verify_partitions(&current, 8, 3, asked),
            V(2, ErrorCode::invalid_producer_id_mapping));
  EXPECT_EQ(rules::verify_partitions(&current, 7, 2, asked), V(2, ErrorCode::producer_fenced));
  auto preparing = current;
  preparing.state = TxnState::prepare_abort;
  EXPECT_EQ(rules::verify_partitions(&preparing, 7, 3, asked),
            V(2, ErrorCode::concurrent_transactions));
  // A finished transaction holds no partition any more, even if its set were still filled.
  auto done = current;
  done.state = TxnState::complete_abort;
  EXPECT_EQ(rules::verify_partitions(&done, 7, 3, asked), V(2, ErrorCode::transaction_abortable));
}

TEST(TxnRules, EndTxnPreparesThenCompletes) {
  auto current = ongoing({{"a", 0}, {"b", 1}});
  auto d = rules::end_txn(&current, 7, 3, true, 600);
  ASSERT_EQ(d.action, Action::prepare);
  EXPECT_EQ(d.next.state, TxnState::prepare_commit);
  EXPECT_EQ(d.next.partitions.size(), 2u);
  auto done = rules::complete(d.next, 700);
  EXPECT_EQ(done.state, TxnState::complete_commit);
  EXPECT_TRUE(done.partitions.empty());
  EXPECT_EQ(done.last_update_ms, 700);
  auto aborted = rules::complete(rules::end_txn(&current, 7, 3, false, 600).next, 700);
  EXPECT_EQ(aborted.state, TxnState::complete_abort);
}

TEST(TxnRules, EndTxnRetriesAndWrongStates) {
  auto m = empty_producer();
  EXPECT_EQ(rules::end_txn(&m, 7, 3, true, 1).error, ErrorCode::invalid_txn_state);
  m.state = TxnState::complete_commit;
  EXPECT_EQ(rules::end_txn(&m, 7, 3, true, 1).error, ErrorCode::none);
  EXPECT_EQ(rules::end_txn(&m, 7, 3, false, 1).error, ErrorCode::invalid_txn_state);
  m.state = TxnState::prepare_abort;
  EXPECT_EQ(rules::end_txn(&m, 7, 3, false, 1).error, ErrorCode::concurrent_transactions);
  EXPECT_EQ(rules::end_txn(&m, 7, 3, true, 1).error, ErrorCode::invalid_txn_state);
  EXPECT_EQ(rules::end_txn(&m, 7, 2, false, 1).error, ErrorCode::producer_fenced);
}

TEST(TxnRules, TimeoutAndExpiry) {
  auto m = ongoing();  // started at 200 with a 1000 ms timeout
  EXPECT_FALSE(rules::timed_out(m, 1200));
  EXPECT_TRUE(rules::timed_out(m, 1201));
  auto fenced = rules::fence(m, 1201);
  EXPECT_EQ(fenced.producer_epoch, 4);
  EXPECT_EQ(fenced.state, TxnState::prepare_abort);
  EXPECT_FALSE(rules::expired(m, 1'000'000, 1000));  // ongoing ids never expire
  auto idle = empty_producer();                      // last used at 100
  EXPECT_FALSE(rules::expired(idle, 1100, 1000));
  EXPECT_TRUE(rules::expired(idle, 1101, 1000));
}

TEST(TxnRecords, RoundTripAndKafkaLayout) {
  TxnMetadata m;
  m.producer_id = 7;
  m.producer_epoch = 2;
  m.timeout_ms = 60000;
  m.state = TxnState::ongoing;
  m.partitions = {{"a", 0}};
  m.last_update_ms = 9;
  m.start_ms = 8;
  const std::string key = records::key("t");
  EXPECT_EQ(key, std::string("\x00\x00\x00\x01t", 5));
  const std::string value = records::value(m);
  const std::string expected = std::string("\x00\x00", 2) +                          // version 0
                               std::string("\x00\x00\x00\x00\x00\x00\x00\x07", 8) +  // producer
                               std::string("\x00\x02", 2) +                          // epoch
                               std::string("\x00\x00\xea\x60", 4) +                  // timeout
                               std::string("\x01", 1) +                              // Ongoing
                               std::string("\x00\x00\x00\x01", 4) +
                               std::string(
                                   "\x00\x01"
                                   "a",
                                   3) +
                               std::string("\x00\x00\x00\x01", 4) +
                               std::string("\x00\x00\x00\x00", 4) +  // partition 0
                               std::string("\x00\x00\x00\x00\x00\x00\x00\x09", 8) +
                               std::string("\x00\x00\x00\x00\x00\x00\x00\x08", 8);
  EXPECT_EQ(value, expected);
  std::string id;
  TxnMetadata back;
  std::string error;
  ASSERT_TRUE(records::decode(key, value, &id, &back, &error)) << error;
  EXPECT_EQ(id, "t");
  m.last_producer_epoch = back.last_producer_epoch;  // not stored
  EXPECT_EQ(back, m);
  // A tombstone names the id and leaves the metadata alone.
  TxnMetadata untouched;
  ASSERT_TRUE(records::decode(key, std::nullopt, &id, &untouched, &error));
  EXPECT_EQ(untouched, TxnMetadata{});
  // Damage is reported, not applied.
  EXPECT_FALSE(records::decode(key, value.substr(0, 10), &id, &back, &error));
  EXPECT_FALSE(records::decode(std::string("\x00\x05\x00\x01t", 5), value, &id, &back, &error));
  std::string bad_state = value;
  bad_state[2 + 8 + 2 + 4] = 9;
  EXPECT_FALSE(records::decode(key, bad_state, &id, &back, &error));
}

}  // namespace
}  // namespace kaffa::txn
