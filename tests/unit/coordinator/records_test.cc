#include "coordinator/records.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/messages/group_metadata_value.h"

namespace kaffa::coordinator {
namespace {

using records::Decoded;

std::string hex(std::string_view s) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string with_version(int16_t version, std::string body) {
  std::string out;
  out += static_cast<char>((static_cast<uint16_t>(version) >> 8) & 0xff);
  out += static_cast<char>(static_cast<uint16_t>(version) & 0xff);
  return out + body;
}

protocol::GroupMetadataValue sample_group() {
  protocol::GroupMetadataValue v;
  v.protocol_type = "consumer";
  v.generation = 7;
  v.protocol = "range";
  v.leader = "m-1";
  v.current_state_timestamp = 1700000000000;
  protocol::GroupMetadataValue::MemberMetadata m;
  m.member_id = "m-1";
  m.group_instance_id = "instance-1";
  m.client_id = "client";
  m.client_host = "/127.0.0.1";
  m.rebalance_timeout = 300000;
  m.session_timeout = 45000;
  m.subscription = std::string("\x00\x01sub", 5);
  m.assignment = std::string("\x00\x02", 2);
  v.members.push_back(m);
  m.member_id = "m-2";
  m.group_instance_id.reset();
  v.members.push_back(m);
  return v;
}

// What a version of GroupMetadataValue keeps of `v` (fields it lacks take their defaults).
protocol::GroupMetadataValue as_of_version(protocol::GroupMetadataValue v, int16_t version) {
  if (version < 2) v.current_state_timestamp = -1;
  for (auto& m : v.members) {
    if (version < 3) m.group_instance_id.reset();
    if (version < 1) m.rebalance_timeout = -1;
  }
  return v;
}

TEST(CoordinatorRecords, OffsetCommitKeyIsKafkasVersionOneLayout) {
  const std::string key = records::offset_commit_key("g", "t", 3);
  EXPECT_EQ(hex(key),
            "0001"        // key version 1: an offset commit
            "000167"      // group "g"
            "000174"      // topic "t"
            "00000003");  // partition 3
}

TEST(CoordinatorRecords, OffsetCommitValueIsKafkasVersionThreeLayout) {
  CommittedOffset v{5, -1, "", 7, -1};
  EXPECT_EQ(hex(records::offset_commit_value(v)),
            "0003"                // value version 3 (no expire timestamp)
            "0000000000000005"    // offset
            "ffffffff"            // leader epoch -1
            "0000"                // metadata ""
            "0000000000000007");  // commit timestamp
}

TEST(CoordinatorRecords, OffsetCommitValueWithExpiryIsVersionOne) {
  CommittedOffset v{5, 9, "m", 7, 8};
  EXPECT_EQ(hex(records::offset_commit_value(v)),
            "0001"                // value version 1 (explicit expiry; no leader epoch)
            "0000000000000005"    // offset
            "00016d"              // metadata "m"
            "0000000000000007"    // commit timestamp
            "0000000000000008");  // expire timestamp
}

TEST(CoordinatorRecords, GroupMetadataKeyIsVersionTwo) {
  EXPECT_EQ(hex(records::group_metadata_key("grp")),
            "0002"
            "0003677270");
}

TEST(CoordinatorRecords, EmptyGroupMetadataValueLayout) {
  protocol::GroupMetadataValue v;
  v.protocol_type = "";
  v.generation = 0;
  v.protocol.reset();
  v.leader.reset();
  v.current_state_timestamp = 42;
  EXPECT_EQ(hex(records::group_metadata_value(v)),
            "0003"              // value version 3
            "0000"              // protocol type ""
            "00000000"          // generation
            "ffff"              // protocol null
            "ffff"              // leader null
            "000000000000002a"  // current state timestamp
            "00000000");        // no members
}

TEST(CoordinatorRecords, OffsetCommitRoundTripsThroughBothWrittenVersions) {
  for (const CommittedOffset& v :
       {CommittedOffset{42, 3, "meta", 1000, -1}, CommittedOffset{42, -1, "meta", 1000, 5000}}) {
    Decoded d;
    std::string error;
    const std::string key = records::offset_commit_key("group", "topic", 11);
    const std::string value = records::offset_commit_value(v);
    ASSERT_TRUE(records::decode(key, value, d, &error)) << error;
    EXPECT_EQ(d.kind, Decoded::Kind::offset_commit);
    EXPECT_EQ(d.group, "group");
    EXPECT_EQ(d.topic, "topic");
    EXPECT_EQ(d.partition, 11);
    ASSERT_TRUE(d.offset);
    EXPECT_EQ(*d.offset, v);
  }
}

TEST(CoordinatorRecords, DecodesEveryOffsetCommitKeyAndValueVersion) {
  const std::string key_body = records::offset_commit_key("g", "t", 1).substr(2);
  // Bodies of OffsetCommitValue v0..v4, hand-built: offset 9, epoch 4 (v3+), metadata "x",
  // commit 10, expire 20 (v1 only); v4 ends with an empty tagged-field section.
  const std::string off = std::string("\0\0\0\0\0\0\0\x09", 8);
  const std::string epoch = std::string("\0\0\0\x04", 4);
  const std::string meta = std::string("\0\x01x", 3);
  const std::string commit = std::string("\0\0\0\0\0\0\0\x0a", 8);
  const std::string expire = std::string("\0\0\0\0\0\0\0\x14", 8);
  const std::string values[] = {
      with_version(0, off + meta + commit),
      with_version(1, off + meta + commit + expire),
      with_version(2, off + meta + commit),
      with_version(3, off + epoch + meta + commit),
      with_version(4, off + epoch + std::string("\x02x", 2) + commit + std::string("\0", 1)),
  };
  const CommittedOffset expected[] = {{9, -1, "x", 10, -1},
                                      {9, -1, "x", 10, 20},
                                      {9, -1, "x", 10, -1},
                                      {9, 4, "x", 10, -1},
                                      {9, 4, "x", 10, -1}};
  for (int16_t kv : {0, 1}) {
    for (size_t i = 0; i < 5; ++i) {
      Decoded d;
      std::string error;
      ASSERT_TRUE(records::decode(with_version(kv, key_body), values[i], d, &error))
          << "key v" << kv << " value v" << i << ": " << error;
      ASSERT_TRUE(d.offset);
      EXPECT_EQ(*d.offset, expected[i]) << "value v" << i;
    }
  }
}

TEST(CoordinatorRecords, GroupMetadataRoundTripsAtEveryVersion) {
  const auto group = sample_group();
  for (int16_t version = 0; version <= 4; ++version) {
    Decoded d;
    std::string error;
    const std::string value = records::group_metadata_value(group, version);
    ASSERT_TRUE(records::decode(records::group_metadata_key("my-group"), value, d, &error))
        << "v" << version << ": " << error;
    EXPECT_EQ(d.kind, Decoded::Kind::group_metadata);
    EXPECT_EQ(d.group, "my-group");
    ASSERT_TRUE(d.group_value);
    EXPECT_EQ(*d.group_value, as_of_version(group, version)) << "v" << version;
    EXPECT_EQ(records::group_metadata_value(*d.group_value, version), value);
  }
}

TEST(CoordinatorRecords, TombstonesDecodeWithoutValue) {
  Decoded d;
  ASSERT_TRUE(records::decode(records::offset_commit_key("g", "t", 0), std::nullopt, d, nullptr));
  EXPECT_EQ(d.kind, Decoded::Kind::offset_commit);
  EXPECT_FALSE(d.offset);
  ASSERT_TRUE(records::decode(records::group_metadata_key("g"), std::nullopt, d, nullptr));
  EXPECT_EQ(d.kind, Decoded::Kind::group_metadata);
  EXPECT_EQ(d.group, "g");
  EXPECT_FALSE(d.group_value);
}

TEST(CoordinatorRecords, RejectsUnknownVersions) {
  Decoded d;
  std::string error;
  // Key version 3 is Kafka's ConsumerGroupMetadataKey: a record type Kaffa does not keep.
  EXPECT_FALSE(
      records::decode(with_version(3, std::string("\0\x01g", 3)), std::nullopt, d, &error));
  EXPECT_NE(error.find("unknown record type"), std::string::npos) << error;
  EXPECT_FALSE(records::decode(with_version(-1, ""), std::nullopt, d, &error));
  const std::string key = records::offset_commit_key("g", "t", 0);
  const std::string v3 = records::offset_commit_value({1, -1, "", 2, -1});
  EXPECT_FALSE(records::decode(key, with_version(5, v3.substr(2)), d, &error));
  EXPECT_FALSE(records::decode(key, with_version(-1, v3.substr(2)), d, &error));
  const std::string g3 = records::group_metadata_value(sample_group());
  EXPECT_FALSE(
      records::decode(records::group_metadata_key("g"), with_version(5, g3.substr(2)), d, &error));
}

TEST(CoordinatorRecords, RejectsTrailingBytes) {
  Decoded d;
  const std::string key = records::offset_commit_key("g", "t", 0);
  const std::string value = records::offset_commit_value({1, -1, "", 2, -1});
  EXPECT_FALSE(records::decode(key + "x", value, d, nullptr));
  EXPECT_FALSE(records::decode(key, value + "x", d, nullptr));
  EXPECT_FALSE(records::decode(records::group_metadata_key("g") + "x", std::nullopt, d, nullptr));
}

TEST(CoordinatorRecords, RejectsTruncationAtEveryByte) {
  struct Case {
    std::string key;
    std::string value;
  };
  std::vector<Case> cases = {
      {records::offset_commit_key("group", "topic", 7),
       records::offset_commit_value({1, 2, "metadata", 3, -1})},
      {records::offset_commit_key("group", "topic", 7),
       records::offset_commit_value({1, 2, "metadata", 3, 4})},
  };
  for (int16_t version = 0; version <= 4; ++version) {
    cases.push_back({records::group_metadata_key("group"),
                     records::group_metadata_value(sample_group(), version)});
  }
  for (const auto& c : cases) {
    Decoded d;
    ASSERT_TRUE(records::decode(c.key, c.value, d, nullptr));
    for (size_t n = 0; n < c.key.size(); ++n) {
      std::string error;
      EXPECT_FALSE(records::decode(std::string_view(c.key).substr(0, n), c.value, d, &error))
          << "key cut at " << n;
      EXPECT_FALSE(error.empty());
    }
    for (size_t n = 0; n < c.value.size(); ++n) {
      std::string error;
      EXPECT_FALSE(records::decode(c.key, std::string_view(c.value).substr(0, n), d, &error))
          << "value cut at " << n << " of " << hex(c.value);
      EXPECT_FALSE(error.empty());
    }
  }
}

}  // namespace
}  // namespace kaffa::coordinator
