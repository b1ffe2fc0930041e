#include "broker/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <tuple>

namespace kaffa::broker {
namespace {

TEST(Config, DefaultsServeLocalhost9092) {
  BrokerConfig c;
  ASSERT_FALSE(load_config({}, {}, c));
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].name, "PLAINTEXT");
  EXPECT_EQ(c.listeners[0].host, "localhost");
  EXPECT_EQ(c.listeners[0].port, 9092);
  EXPECT_EQ(c.log_dir, "./kaffa-data");
  EXPECT_EQ(c.socket_request_max_bytes, 104857600);
  EXPECT_EQ(c.fetch_max_bytes, 8 << 20);
  EXPECT_TRUE(c.auto_create_topics_enable);
}

TEST(Config, PropertiesFileSyntax) {
  std::map<std::string, std::string> p;
  std::string error;
  ASSERT_TRUE(
      parse_properties("# comment\n! other\nnum.partitions = 3\nlog.dirs: /tmp/x\n"
                       "listeners PLAINTEXT://127.0.0.1:0,\\\n  \n",
                       p, error))
      << error;
  EXPECT_EQ(p["num.partitions"], "3");
  EXPECT_EQ(p["log.dirs"], "/tmp/x");
  EXPECT_EQ(p["listeners"], "PLAINTEXT://127.0.0.1:0,");
}

TEST(Config, OverridesWinOverFile) {
  BrokerConfig c;
  ASSERT_FALSE(load_config({{"num.partitions", "3"}}, {"num.partitions=5"}, c));
  EXPECT_EQ(c.num_partitions, 5);
}

TEST(Config, UnknownSettingIsAnError) {
  BrokerConfig c;
  auto err = load_config({{"no.such.setting", "1"}}, {}, c);
  ASSERT_TRUE(err);
  EXPECT_NE(err->message.find("no.such.setting"), std::string::npos);
}

TEST(Config, KafkasSettingsWithoutUseAreLeftOutWithANotice) {
  BrokerConfig c;
  ASSERT_FALSE(
      load_config({{"process.roles", "broker,controller"},
                   {"num.io.threads", "8"},
                   {"controller.listener.names", "CONTROLLER"},
                   {"listeners", "PLAINTEXT://:9092,CONTROLLER://:9093"},
                   {"listener.security.protocol.map", "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"},
                   {"advertised.listeners", "PLAINTEXT://h:9092,CONTROLLER://h:9093"},
                   {"share.coordinator.state.topic.min.isr", "1"},
                   {"zookeeper.ssl.keystore.password", "s3cr3t"}},
                  {}, c));
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].name, "PLAINTEXT");
  ASSERT_EQ(c.advertised_listeners.size(), 1u);
  EXPECT_EQ(c.advertised_listeners[0].name, "PLAINTEXT");
  EXPECT_EQ(c.kafka_only.size(), 5u);
  ASSERT_EQ(c.notices.size(), 5u);  // CONTROLLER not bound, and the four others
  EXPECT_NE(c.notices[0].find("listener CONTROLLER is not bound"), std::string::npos);
  EXPECT_NE(c.notices[1].find("num.io.threads=8 has no effect"), std::string::npos);
  EXPECT_EQ(c.raw.count("num.io.threads"), 0u);  // not described as a setting of Kaffa's
  EXPECT_EQ(c.notices[4].find("s3cr3t"), std::string::npos);  // a password is not echoed
  EXPECT_NE(c.notices[4].find("zookeeper.ssl.keystore.password=[hidden]"), std::string::npos);

  for (const char* refused :
       {"process.roles=controller", "zookeeper.connect=zk:2181",
        "controller.quorum.voters=1@a:9093,2@b:9093", "remote.log.storage.system.enable=true"}) {
    BrokerConfig b;
    EXPECT_TRUE(load_config({}, {refused}, b)) << refused;
  }
  // With metadata.store, a quorum list is only left out.
  BrokerConfig clustered;
  EXPECT_FALSE(load_config(
      {}, {"metadata.store=etcd://127.0.0.1:2379", "controller.quorum.voters=1@a:9093,2@b:9093"},
      clustered));
}

TEST(Config, MalformedValuesAreErrors) {
  for (const char* o :
       {"num.partitions=abc", "num.partitions=0", "auto.create.topics.enable=yes",
        "listeners=localhost:9092", "listeners=PLAINTEXT://h:70000", "socket.request.max.bytes=-1",
        "fetch.max.bytes=1023", "log.level=loud", "bad"}) {
    BrokerConfig c;
    EXPECT_TRUE(load_config({}, {o}, c)) << o;
  }
}

// Kafka's rule: an inter-broker request may not time out before a follower's fetch could answer.
TEST(Config, ReplicaSocketTimeoutCoversTheFetchWait) {
  BrokerConfig c;
  ASSERT_FALSE(load_config({{"replica.socket.timeout.ms", "600000"}}, {}, c));
  EXPECT_EQ(c.cluster.replica_socket_timeout_ms, 600000);
  const auto err = load_config(
      {{"replica.socket.timeout.ms", "400"}, {"replica.fetch.wait.max.ms", "500"}}, {}, c);
  ASSERT_TRUE(err);
  EXPECT_NE(err->message.find("replica.socket.timeout.ms"), std::string::npos);
}

TEST(Config, ConnectionLimitsPerAddress) {
  BrokerConfig c;
  ASSERT_FALSE(load_config({}, {}, c));
  EXPECT_EQ(c.max_connections_per_ip, 2147483647);
  EXPECT_TRUE(c.max_connections_per_ip_overrides.empty());
  ASSERT_FALSE(
      load_config({{"max.connections.per.ip", "0"},
                   {"max.connections.per.ip.overrides", " localhost : 5, 10.1.2.3:0,::1:7,"}},
                  {}, c));
  EXPECT_EQ(c.max_connections_per_ip, 0);
  const std::map<std::string, int32_t> want{{"127.0.0.1", 5}, {"10.1.2.3", 0}, {"::1", 7}};
  EXPECT_EQ(c.max_connections_per_ip_overrides, want);
  // Kafka's rule: zero only with overrides.
  auto err = load_config({{"max.connections.per.ip", "0"}}, {}, c);
  ASSERT_TRUE(err);
  EXPECT_NE(err->message.find("max.connections.per.ip.overrides"), std::string::npos);
  for (const char* bad :
       {"10.1.2.3", "10.1.2.3:x", ":5", "10.1.2.3:-1", "no-such-host.invalid:3"}) {
    BrokerConfig d;
    EXPECT_TRUE(load_config({{"max.connections.per.ip.overrides", bad}}, {}, d)) << bad;
  }
}

// Kafka's socket settings are applied (they used to be left out with a notice): its defaults,
// -1 for the kernel's own sizing, and 0, which Java's sockets would throw on, refused at start.
TEST(Config, SocketBuffersAndBacklog) {
  BrokerConfig c;
  ASSERT_FALSE(load_config({}, {}, c));
  EXPECT_EQ(c.socket_send_buffer_bytes, 102400);
  EXPECT_EQ(c.socket_receive_buffer_bytes, -1);  // Kafka: 102400 (docs/PERFORMANCE.md)
  EXPECT_EQ(c.socket_listen_backlog_size, 50);
  EXPECT_EQ(c.cluster.replica_socket_receive_buffer_bytes, 65536);
  ASSERT_FALSE(load_config({{"socket.send.buffer.bytes", "-1"},
                            {"socket.receive.buffer.bytes", "262144"},
                            {"socket.listen.backlog.size", "1024"},
                            {"replica.socket.receive.buffer.bytes", "-1"}},
                           {}, c));
  EXPECT_EQ(c.socket_send_buffer_bytes, -1);
  EXPECT_EQ(c.socket_receive_buffer_bytes, 262144);
  EXPECT_EQ(c.socket_listen_backlog_size, 1024);
  EXPECT_EQ(c.cluster.replica_socket_receive_buffer_bytes, -1);
  EXPECT_TRUE(c.notices.empty());  // settings of Kaffa's now, not Kafka's left-out names
  EXPECT_EQ(c.raw.count("socket.send.buffer.bytes"), 1u);
  for (const char* name : {"socket.send.buffer.bytes", "socket.receive.buffer.bytes",
                           "replica.socket.receive.buffer.bytes"}) {
    BrokerConfig b;
    const auto err = load_config({{name, "0"}}, {}, b);
    ASSERT_TRUE(err) << name;
    EXPECT_NE(err->message.find(std::string(name) + " must be -1"), std::string::npos)
        << err->message;
    EXPECT_TRUE(load_config({{name, "-2"}}, {}, b)) << name;
  }
  for (const char* bad : {"0", "-1", "x"}) {
    BrokerConfig b;
    EXPECT_TRUE(load_config({{"socket.listen.backlog.size", bad}}, {}, b)) << bad;
  }
}

TEST(Config, TransactionVerificationIsOnByDefault) {
  BrokerConfig c;
  ASSERT_FALSE(load_config({}, {}, c));
  EXPECT_TRUE(c.txn.verify_partitions);
  ASSERT_FALSE(load_config({{"transaction.partition.verification.enable", "false"}}, {}, c));
  EXPECT_FALSE(c.txn.verify_partitions);
  EXPECT_TRUE(load_config({{"transaction.partition.verification.enable", "maybe"}}, {}, c));
}

TEST(Config, ConsumerGroupProtocolSettings) {
  BrokerConfig c;
  ASSERT_FALSE(load_config({}, {}, c));
  EXPECT_TRUE(c.group.consumer_protocol_enabled);
  EXPECT_EQ(c.group.consumer_session_timeout_ms, 45000);
  EXPECT_EQ(c.group.consumer_heartbeat_interval_ms, 5000);
  EXPECT_EQ(c.group.consumer_assignors, (std::vector<std::string>{"uniform", "range"}));
  ASSERT_FALSE(load_config({{"group.consumer.assignors",
                             "org.apache.kafka.coordinator.group.assignor.RangeAssignor, uniform"},
                            {"group.coordinator.rebalance.protocols", "classic"}},
                           {}, c));
  EXPECT_EQ(c.group.consumer_assignors, (std::vector<std::string>{"range", "uniform"}));
  EXPECT_FALSE(c.group.consumer_protocol_enabled);
  EXPECT_TRUE(load_config({{"group.consumer.assignors", "sticky"}}, {}, c));
  EXPECT_TRUE(load_config({{"group.consumer.assignors", ""}}, {}, c));
  EXPECT_TRUE(load_config({{"group.coordinator.rebalance.protocols", "consumer"}}, {}, c));
  EXPECT_TRUE(load_config({{"group.coordinator.rebalance.protocols", "classic,share"}}, {}, c));
  const auto err = load_config({{"group.consumer.heartbeat.interval.ms", "45000"}}, {}, c);
  ASSERT_TRUE(err);
  EXPECT_NE(err->message.find("group.consumer.heartbeat.interval.ms"), std::string::npos);
  // Kafka's bounds of the session timeout and heartbeat interval (also those of each group).
  EXPECT_FALSE(load_config({}, {}, c));
  EXPECT_EQ(
      (std::tuple(c.group.consumer_min_session_timeout_ms, c.group.consumer_max_session_timeout_ms,
                  c.group.consumer_min_heartbeat_interval_ms,
                  c.group.consumer_max_heartbeat_interval_ms)),
      (std::tuple(45000, 60000, 5000, 15000)));
  const auto low = load_config({{"group.consumer.session.timeout.ms", "30000"}}, {}, c);
  ASSERT_TRUE(low);
  EXPECT_EQ(low->message,
            "group.consumer.session.timeout.ms must be greater than or equal to "
            "group.consumer.min.session.timeout.ms");
  EXPECT_FALSE(load_config({{"group.consumer.session.timeout.ms", "30000"},
                            {"group.consumer.min.session.timeout.ms", "10000"}},
                           {}, c));
  EXPECT_EQ(c.group.consumer_session_timeout_ms, 30000);
}

TEST(Config, FetchMaxBytesIsKafkasBrokerSetting) {
  BrokerConfig c;
  ASSERT_FALSE(load_config({{"fetch.max.bytes", "57671680"}}, {}, c));
  EXPECT_EQ(c.fetch_max_bytes, 57671680);
}

TEST(Config, NamedListenersTakeTheirProtocolFromTheMap) {
  BrokerConfig c;
  ASSERT_FALSE(load_config({},
                           {"listeners=internal://127.0.0.1:0,EXTERNAL://:9093",
                            "listener.security.protocol.map=INTERNAL:PLAINTEXT,external:plaintext",
                            "advertised.listeners=EXTERNAL://kafka.example:19093",
                            "inter.broker.listener.name=internal"},
                           c));
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].name, "INTERNAL");
  EXPECT_EQ(c.listeners[1].security_protocol, "PLAINTEXT");
  EXPECT_EQ(c.inter_broker_listener_name, "INTERNAL");

  const std::pair<std::vector<std::string>, const char*> bad[] = {
      {{"listeners=OTHER://:9092"}, "OTHER has no security protocol"},
      {{"listeners=SSL://:9093"}, "listener SSL: listener.name.ssl.ssl.keystore.location: a TLS "},
      {{"listeners=SASL_SSL://:9093"}, "listener.name.sasl_ssl.plain.sasl.jaas.config is not set"},
      {{"ssl.keystore.type=PEM", "listeners=SSL://:9093"}, "needs a key and certificate"},
      {{"ssl.bogus=1"}, "unknown setting 'ssl.bogus'"},
      {{"listener.name.nope.ssl.client.auth=none"}, "names no listener"},
      {{"listeners=SASL_PLAINTEXT://:9093"},
       "listener.name.sasl_plaintext.plain.sasl.jaas.config is not set"},
      {{"sasl.enabled.mechanisms=GSSAPI"}, "GSSAPI is not supported"},
      {{"listener.name.x.plain.sasl.jaas.config=Module required user_a=x;"}, "must be quoted"},
      {{"listener.security.protocol.map=A:TLS"}, "is not NAME:PROTOCOL"},
      {{"listener.security.protocol.map=A:SSL,a:PLAINTEXT"}, "appears twice"},
      {{"advertised.listeners=OTHER://h:1"}, "not in listeners"},
      {{"inter.broker.listener.name=NOPE"}, "not in listeners"},
      {{"listeners=BAD NAME://:1"}, "may hold only"}};
  for (const auto& [overrides, expected] : bad) {
    BrokerConfig b;
    auto err = load_config({}, overrides, b);
    ASSERT_TRUE(err) << overrides[0];
    EXPECT_NE(err->message.find(expected), std::string::npos) << err->message;
  }
}

TEST(Config, SaslListenerWithPlainUsers) {
  BrokerConfig c;
  ASSERT_FALSE(load_config(
      {{"listener.name.client.plain.sasl.jaas.config",
        "org.apache.kafka.common.security.plain.PlainLoginModule required user_alice=\"pw\";"}},
      {"listeners=CLIENT://:0", "listener.security.protocol.map=CLIENT:SASL_PLAINTEXT"}, c));
  EXPECT_EQ(c.listeners[0].security_protocol, "SASL_PLAINTEXT");
  ASSERT_EQ(c.plain_users.count("CLIENT"), 1u);
  EXPECT_EQ(c.plain_users["CLIENT"]->at("alice"), "pw");
  EXPECT_EQ(c.raw.count("listener.name.client.plain.sasl.jaas.config"), 0u);  // a secret
}

TEST(Config, OAuthBearerValidatorPerListener) {
  const std::string keys = ::testing::TempDir() + "kaffa-jwks.json";
  {
    // A 2048-bit RSA key's modulus of the right size is enough to be parsed as a key.
    std::ofstream out(keys);
    out << R"({"keys":[{"kty":"RSA","kid":"k","e":"AQAB","n":")" << std::string(342, 'w')
        << "Q\"}]}";
  }
  const std::string handler =
      "org.apache.kafka.common.security.oauthbearer."
      "OAuthBearerValidatorCallbackHandler";
  const std::vector<std::string> listeners = {
      "listeners=A://:0,B://:0", "listener.security.protocol.map=A:SASL_PLAINTEXT,B:SASL_PLAINTEXT",
      "sasl.enabled.mechanisms=OAUTHBEARER"};
  BrokerConfig c;
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.begin(), listeners.begin(), listeners.end());
    return more;
  };
  // Unsigned tokens (Kafka's default validator), with A's JAAS options.
  ASSERT_FALSE(load_config({{"listener.name.a.oauthbearer.sasl.jaas.config",
                             "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule "
                             "required unsecuredValidatorRequiredScope=\"kafka\";"}},
                           with({}), c));
  ASSERT_EQ(c.oauthbearer.size(), 2u);
  EXPECT_FALSE(c.oauthbearer["A"]->keys);
  EXPECT_EQ(c.oauthbearer["A"]->required_scopes, std::vector<std::string>{"kafka"});
  EXPECT_TRUE(c.oauthbearer["B"]->required_scopes.empty());
  // Signed tokens: the key set is read; its checks come from sasl.oauthbearer.*.
  BrokerConfig s;
  ASSERT_FALSE(load_config(
      {},
      with({"sasl.oauthbearer.jwks.endpoint.url=file://" + keys,
            "listener.name.a.oauthbearer.sasl.server.callback.handler."
            "class=" +
                handler,
            "sasl.oauthbearer.expected.audience=x, y", "sasl.oauthbearer.clock.skew.seconds=5"}),
      s));
  ASSERT_TRUE(s.oauthbearer["A"]->keys);
  EXPECT_FALSE(s.oauthbearer["B"]->keys);  // as Kafka: unsigned without the handler, noticed
  ASSERT_EQ(s.notices.size(), 1u);
  EXPECT_NE(s.notices[0].find("listener B takes unsigned OAUTHBEARER tokens"), std::string::npos);
  EXPECT_EQ(s.oauthbearer["A"]->expected_audience, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(s.oauthbearer["A"]->clock_skew_ms, 5000);
  // The same settings for one listener (Kafka's listener.name.<l>.oauthbearer. prefix) win there.
  BrokerConfig p;
  const std::string a = "listener.name.a.oauthbearer.";
  ASSERT_FALSE(load_config(
      {},
      with({a + "sasl.server.callback.handler.class=" + handler,
            a + "sasl.oauthbearer.jwks.endpoint.url=file://" + keys,
            a + "sasl.oauthbearer.expected.issuer=https://idp",
            a + "sasl.oauthbearer.clock.skew.seconds=7", "sasl.oauthbearer.clock.skew.seconds=9",
            a + "sasl.oauthbearer.jwks.endpoint.refresh.ms=60000"}),
      p));
  ASSERT_TRUE(p.oauthbearer["A"]->keys);
  EXPECT_EQ(p.oauthbearer["A"]->expected_issuer, "https://idp");
  EXPECT_EQ(p.oauthbearer["A"]->clock_skew_ms, 7000);
  EXPECT_FALSE(p.oauthbearer["B"]->keys);
  ASSERT_EQ(p.notices.size(), 1u);  // the refresh: no notice about B, whose URL is not set
  EXPECT_NE(p.notices[0].find("key set once"), std::string::npos) << p.notices[0];
  // Kafka's settings for fetching keys over HTTP and for a broker's own login: noticed, no effect.
  BrokerConfig k;
  ASSERT_FALSE(load_config({},
                           with({"sasl.oauthbearer.jwks.endpoint.refresh.ms=60000",
                                 "sasl.login.refresh.window.factor=0.8"}),
                           k));
  ASSERT_EQ(k.notices.size(), 2u);
  EXPECT_NE((k.notices[0] + k.notices[1]).find("key set once"), std::string::npos);

  const std::pair<std::vector<std::string>, const char*> bad[] = {
      {{"sasl.oauthbearer.jwks.endpoint.url=https://idp/keys"}, "must be a file: URL"},
      {{"sasl.oauthbearer.jwks.endpoint.url=file:///nonexistent/jwks",
        "listener.name.b.oauthbearer.sasl.server.callback.handler.class=" + handler},
       "cannot read"},
      {{"listener.name.a.oauthbearer.sasl.server.callback.handler.class=" + handler},
       "sasl.oauthbearer.jwks.endpoint.url is not set"},
      {{"listener.name.a.oauthbearer.sasl.server.callback.handler.class=com.Other"},
       "the only server callback handler"},
      {{"sasl.mechanism.inter.broker.protocol=OAUTHBEARER"}, "is not supported"},
      {{"sasl.oauthbearer.clock.skew.seconds=-1"}, "seconds >= 0"},
      {{"listener.name.a.oauthbearer.sasl.oauthbearer.clock.skew.seconds=x"}, "seconds >= 0"},
      {{"listener.name.a.oauthbearer.sasl.oauthbearer.no.such=1"}, "unknown setting"}};
  for (const auto& [overrides, expected] : bad) {
    BrokerConfig b;
    auto err = load_config({}, with(overrides), b);
    ASSERT_TRUE(err) << overrides[0];
    EXPECT_NE(err->message.find(expected), std::string::npos) << err->message;
  }
  std::remove(keys.c_str());
}

TEST(Config, ListenersParseIpv6AndAnyHost) {
  std::vector<Listener> l;
  std::string error;
  ASSERT_TRUE(parse_listeners("PLAINTEXT://[::1]:9092", l, error)) << error;
  EXPECT_EQ(l[0].host, "::1");
  ASSERT_TRUE(parse_listeners("PLAINTEXT://:9093", l, error)) << error;
  EXPECT_EQ(l[0].host, "");
  EXPECT_EQ(l[0].port, 9093);
}

}  // namespace
}  // namespace kaffa::broker

namespace kaffa::broker {
namespace {

TEST(Config, LogRollHoursAppliesUnlessLogRollMsIsGiven) {
  BrokerConfig a;
  ASSERT_FALSE(load_config({}, {"log.roll.hours=2"}, a));
  EXPECT_EQ(a.log_roll_ms, 2 * 3600000);
  BrokerConfig b;
  ASSERT_FALSE(load_config({{"log.roll.ms", "5000"}}, {"log.roll.hours=2"}, b));
  EXPECT_EQ(b.log_roll_ms, 5000);
}

TEST(Config, LogDirsListsEveryDirectoryOnce) {
  BrokerConfig a;
  ASSERT_FALSE(load_config({{"log.dirs", " /d1, /d2 ,/d3"}}, {}, a));
  EXPECT_EQ(a.log_dirs, (std::vector<std::string>{"/d1", "/d2", "/d3"}));
  EXPECT_EQ(a.log_dir, "/d1");  // the broker's metadata goes there
  BrokerConfig b;
  const auto twice = load_config({{"log.dirs", "/d1,/d2,/d1/"}}, {}, b);
  ASSERT_TRUE(twice);
  EXPECT_NE(twice->message.find("named twice"), std::string::npos) << twice->message;
  BrokerConfig c;
  EXPECT_TRUE(load_config({{"log.dirs", " , "}}, {}, c));
  // Kafka: log.dir is used only when log.dirs is not set.
  BrokerConfig d;
  ASSERT_FALSE(load_config({{"log.dir", "/only"}}, {}, d));
  EXPECT_EQ(d.log_dirs, (std::vector<std::string>{"/only"}));
  BrokerConfig e;
  ASSERT_FALSE(load_config({{"log.dir", "/only"}, {"log.dirs", "/x,/y"}}, {}, e));
  EXPECT_EQ(e.log_dirs, (std::vector<std::string>{"/x", "/y"}));
  BrokerConfig f;
  ASSERT_FALSE(load_config({}, {}, f));
  EXPECT_EQ(f.log_dirs, (std::vector<std::string>{"./kaffa-data"}));
}

}  // namespace
}  // namespace kaffa::broker
