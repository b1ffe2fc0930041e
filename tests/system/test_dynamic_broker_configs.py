#!/usr/bin/python3
"""Dynamic broker configs (KIP-226) on a single broker: the log settings that are the defaults of
topic configs, changed without a restart as kafka-configs.sh --entity-type brokers does, on the
cluster-wide default (resource "", --entity-default) and on the broker's own resource (its id).

- DescribeConfigs: a topic's inherited value shows the dynamic source (DYNAMIC_DEFAULT_BROKER_CONFIG,
  then DYNAMIC_BROKER_CONFIG once the broker's own value is set, which wins), with synonyms; the
  broker resource shows the same and the setting as not read-only; resource "" lists the defaults
  that are set.
- Effect: message.max.bytes lowered at "" refuses a larger record (MESSAGE_TOO_LARGE) at once,
  except on a topic with its own max.message.bytes; log.segment.bytes and log.retention.ms set at
  "" roll and delete segments of an existing topic; log.cleanup.policy=compact makes it
  compacted (keyless records refused, closed segments cleaned);
  log.cleaner.io.max.bytes.per.second holds the cleaner back until it is lifted; a change of
  log.cleaner.threads or log.cleaner.backoff.ms restarts the cleaner threads (at most double or
  half the threads in force);
  max.connections.per.ip.overrides
  refuses new connections from an address while open ones stay served.
- kafka-python's admin client sets a cluster-wide default.
- Both layers survive a restart; legacy AlterConfigs on "" replaces the whole default set;
  validate_only changes nothing; a bad value, a static setting and a TLS store setting on "" are
  INVALID_REQUEST with Kafka's messages (a KRaft broker's code for refused broker configs).
"""

import gc
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import config_wire as cw  # noqa: E402
import kafka_wire as kw  # noqa: E402
from cluster_harness import wait_until  # noqa: E402
from kaffa_harness import BrokerTestCase  # noqa: E402

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from kafka.admin import ConfigResource as KpConfigResource  # noqa: E402
from kafka.admin import ConfigResourceType, KafkaAdminClient  # noqa: E402

TIMEOUT_S = 30


class DynamicBrokerConfigsTest(BrokerTestCase):
    # Retention and the cleaner run often, so that dynamic values show within the test.
    BROKER_OVERRIDES = {"num.partitions": "1", "log.retention.check.interval.ms": "100",
                        "log.cleaner.backoff.ms": "100"}

    def setUp(self):
        self.admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        self.addCleanup(gc.collect)

    def tearDown(self):
        # Every test starts from no dynamic values.
        self.assertEqual(cw.alter(self.broker, [(cw.BROKER, "", {}), (cw.BROKER, "0", {})]),
                         [(0, None), (0, None)])

    def create(self, name, config=None):
        (f,) = self.admin.create_topics([NewTopic(name, 1, 1, config=config or {})],
                                        operation_timeout=10).values()
        self.assertIsNone(f.result(timeout=TIMEOUT_S))

    def set(self, resource, configs, op=cw.SET, validate_only=False, conn=None):
        (result,) = cw.incremental_alter(
            conn or self.broker,
            [(cw.BROKER, resource, [(k, op, v) for k, v in configs.items()])], validate_only)
        return result

    def describe(self, rtype, name, names=None):
        error, entries = cw.describe(self.broker, rtype, name, names)
        self.assertEqual(error, 0)
        return entries

    def produce(self, topic, size):
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "linger.ms": 0})
        reports = []
        p.produce(topic, value=b"x" * size, on_delivery=lambda err, msg: reports.append(err))
        self.assertEqual(p.flush(TIMEOUT_S), 0)
        return reports[0]

    def produce_keyed(self, topic):
        """40 records of 200 bytes over two keys, one request each."""
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "linger.ms": 0})
        for i in range(40):
            p.produce(topic, key=b"k%d" % (i % 2), value=b"v" * 200)
            p.flush(TIMEOUT_S)
        self.assertEqual(p.flush(TIMEOUT_S), 0)

    def log_bytes(self, topic):
        part = os.path.join(self.broker.log_dir, topic + "-0")
        return sum(os.path.getsize(os.path.join(part, f)) for f in os.listdir(part)
                   if f.endswith(".log"))

    def test_describe_shows_both_layers(self):
        self.create("dyn-describe")
        self.assertEqual(self.set("", {"log.retention.ms": "3600000"}), (0, None))
        e = self.describe(cw.TOPIC, "dyn-describe", ["retention.ms"])["retention.ms"]
        self.assertEqual(e[:3], ("3600000", 0, cw.DYNAMIC_DEFAULT_BROKER))
        self.assertEqual(e[3][0], ("log.retention.ms", "3600000", cw.DYNAMIC_DEFAULT_BROKER))
        self.assertEqual(self.describe(cw.BROKER, ""),
                         {"log.retention.ms": ("3600000", 0, cw.DYNAMIC_DEFAULT_BROKER,
                                               [("log.retention.ms", "3600000",
                                                 cw.DYNAMIC_DEFAULT_BROKER)])})

        self.assertEqual(self.set("0", {"log.retention.ms": "7200000"}), (0, None))
        e = self.describe(cw.TOPIC, "dyn-describe", ["retention.ms"])["retention.ms"]
        self.assertEqual(e[:3], ("7200000", 0, cw.DYNAMIC_BROKER))
        self.assertEqual([s[2] for s in e[3][:2]], [cw.DYNAMIC_BROKER, cw.DYNAMIC_DEFAULT_BROKER])
        b = self.describe(cw.BROKER, "0", ["log.retention.ms", "log.dirs"])
        self.assertEqual(b["log.retention.ms"][:3], ("7200000", 0, cw.DYNAMIC_BROKER))
        self.assertEqual(b["log.dirs"][1], 1)  # static: read-only

        # A topic's own value still wins.
        self.create("dyn-own", {"retention.ms": "1000"})
        e = self.describe(cw.TOPIC, "dyn-own", ["retention.ms"])["retention.ms"]
        self.assertEqual(e[:3], ("1000", 0, cw.TOPIC_CONFIG))

        self.assertEqual(self.set("0", {"log.retention.ms": None}, cw.DELETE), (0, None))
        e = self.describe(cw.TOPIC, "dyn-describe", ["retention.ms"])["retention.ms"]
        self.assertEqual(e[:3], ("3600000", 0, cw.DYNAMIC_DEFAULT_BROKER))

        # A coarser form counts only where no finer one is given; shown as milliseconds.
        self.assertEqual(self.set("", {"log.retention.ms": None}, cw.DELETE), (0, None))
        self.assertEqual(self.set("0", {"log.retention.hours": "3"}), (0, None))
        e = self.describe(cw.TOPIC, "dyn-describe", ["retention.ms"])["retention.ms"]
        self.assertEqual(e[:3], ("10800000", 0, cw.DYNAMIC_BROKER))

    def test_message_max_bytes_applies_at_once(self):
        self.create("dyn-size")
        self.create("dyn-size-own", {"max.message.bytes": "100000"})
        self.assertIsNone(self.produce("dyn-size", 5000))
        self.assertEqual(self.set("", {"message.max.bytes": "2000"}), (0, None))
        err = self.produce("dyn-size", 5000)
        self.assertIsNotNone(err)
        self.assertEqual(err.code(), KafkaError.MSG_SIZE_TOO_LARGE)
        self.assertIsNone(self.produce("dyn-size-own", 5000))
        # The broker's own value wins over the default.
        self.assertEqual(self.set("0", {"message.max.bytes": "10000"}), (0, None))
        self.assertIsNone(self.produce("dyn-size", 5000))
        self.assertEqual(self.set("0", {"message.max.bytes": None}, cw.DELETE), (0, None))
        self.assertEqual(self.produce("dyn-size", 5000).code(), KafkaError.MSG_SIZE_TOO_LARGE)
        self.assertEqual(self.set("", {"message.max.bytes": None}, cw.DELETE), (0, None))
        self.assertIsNone(self.produce("dyn-size", 5000))

    def test_segment_and_retention_settings_apply_to_an_existing_topic(self):
        self.create("dyn-retention")
        self.assertEqual(self.set("", {"log.segment.bytes": "1024"}), (0, None))
        for _ in range(6):
            self.assertIsNone(self.produce("dyn-retention", 700))
        segments = [f for f in os.listdir(os.path.join(self.broker.log_dir, "dyn-retention-0"))
                    if f.endswith(".log")]
        self.assertGreaterEqual(len(segments), 3, segments)
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "dyn"})
        self.addCleanup(c.close)
        tp = TopicPartition("dyn-retention", 0)
        self.assertEqual(c.get_watermark_offsets(tp, timeout=TIMEOUT_S), (0, 6))
        self.assertEqual(self.set("", {"log.retention.ms": "1"}), (0, None))
        wait_until(lambda: c.get_watermark_offsets(tp, timeout=TIMEOUT_S)[0] >= 5,
                   what="retention deleting the closed segments")

    def test_cleanup_policy_compact_by_default(self):
        """log.cleanup.policy=compact set at "" makes an existing topic compacted: keys are
        required, and the cleaner shrinks its closed segments."""
        self.create("dyn-compact")
        # The records go in while the topic is still delete-only, so that `before` is their whole
        # size: a cleaner already at work during the produce would leave less than half to take.
        self.assertEqual(self.set("", {"log.segment.bytes": "1024"}), (0, None))
        self.produce_keyed("dyn-compact")
        before = self.log_bytes("dyn-compact")
        self.assertEqual(self.set("", {"log.cleanup.policy": "compact"}), (0, None))
        e = self.describe(cw.TOPIC, "dyn-compact", ["cleanup.policy"])["cleanup.policy"]
        self.assertEqual(e[:3], ("compact", 0, cw.DYNAMIC_DEFAULT_BROKER))
        self.assertEqual(self.produce("dyn-compact", 100).code(), KafkaError.INVALID_RECORD)
        wait_until(lambda: self.log_bytes("dyn-compact") < before / 2,
                   what="the cleaner compacting the topic")

    def test_cleaner_io_bound_holds_the_cleaner_until_lifted(self):
        """log.cleaner.io.max.bytes.per.second set at "" to 100 bytes/s: the cleaner sleeps
        before it has read the dirty segments (counted in /metrics); once the bound is deleted it
        wakes at once and compacts."""
        throttled = "kaffa_log_cleaner_throttled_seconds_total"
        self.create("dyn-slow", {"cleanup.policy": "compact", "segment.bytes": "1024"})
        self.assertEqual(self.set("", {"log.cleaner.io.max.bytes.per.second": "100"}), (0, None))
        slept, runs = self.broker.metric(throttled), self.broker.metric("kaffa_log_cleaner_runs_total")
        self.produce_keyed("dyn-slow")
        before = self.log_bytes("dyn-slow")
        wait_until(lambda: self.broker.metric(throttled) > slept, what="the cleaner held back")
        self.assertEqual(self.broker.metric("kaffa_log_cleaner_runs_total"), runs)
        self.assertEqual(self.set("", {"log.cleaner.io.max.bytes.per.second": None}, cw.DELETE),
                         (0, None))
        wait_until(lambda: self.log_bytes("dyn-slow") < before / 2,
                   what="the cleaner compacting once the bound is lifted")
        error, _ = self.set("0", {"log.cleaner.io.max.bytes.per.second": "0"})
        self.assertEqual(error, cw.INVALID_REQUEST)

    def test_connection_limits_apply_to_new_connections(self):
        """max.connections.per.ip.overrides set at "" refuses new connections from this address
        (closed at once); a connection opened before stays and is served; deleting the value
        lets new ones in again."""
        with kw.connect(self.broker) as held:
            self.assertEqual(held.api_versions()[0], 0)
            overrides = "max.connections.per.ip.overrides"
            self.assertEqual(self.set("", {overrides: "127.0.0.1:0"}, conn=held), (0, None))
            with kw.connect(self.broker) as refused:
                self.assertTrue(refused.expect_closed())
            self.assertEqual(held.api_versions()[0], 0)
            self.assertEqual(self.set("", {overrides: None}, cw.DELETE, conn=held), (0, None))
            with kw.connect(self.broker) as again:
                self.assertEqual(again.api_versions()[0], 0)
        error, message = self.set("0", {"max.connections.per.ip": "0"})
        self.assertEqual(error, cw.INVALID_REQUEST)
        self.assertIn("max.connections.per.ip can be set to zero only if", message)

    def test_values_survive_a_restart(self):
        self.create("dyn-restart")
        self.assertEqual(self.set("", {"message.max.bytes": "2000",
                                       "leader.replication.throttled.rate": "5000"}), (0, None))
        self.assertEqual(self.set("0", {"log.retention.bytes": "123456789"}), (0, None))
        self.assertEqual(self.broker.stop(), 0)
        self.broker.restart()
        self.admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        b = self.describe(cw.BROKER, "0", ["message.max.bytes", "log.retention.bytes",
                                           "leader.replication.throttled.rate"])
        self.assertEqual(b["message.max.bytes"][:3], ("2000", 0, cw.DYNAMIC_DEFAULT_BROKER))
        self.assertEqual(b["leader.replication.throttled.rate"][:3],
                         ("5000", 0, cw.DYNAMIC_DEFAULT_BROKER))
        self.assertEqual(b["log.retention.bytes"][:3], ("123456789", 0, cw.DYNAMIC_BROKER))
        self.assertEqual(self.produce("dyn-restart", 5000).code(), KafkaError.MSG_SIZE_TOO_LARGE)

    def test_legacy_alter_replaces_the_default_set(self):
        self.assertEqual(self.set("", {"log.retention.ms": "3600000",
                                       "log.retention.bytes": "1000000"}), (0, None))
        self.assertEqual(cw.alter(self.broker, [(cw.BROKER, "", {"log.retention.bytes": "2000000"})]),
                         [(0, None)])
        self.assertEqual(self.describe(cw.BROKER, ""),
                         {"log.retention.bytes": ("2000000", 0, cw.DYNAMIC_DEFAULT_BROKER,
                                                  [("log.retention.bytes", "2000000",
                                                    cw.DYNAMIC_DEFAULT_BROKER)])})

    def test_kafka_python_sets_the_cluster_wide_default(self):
        """An unmodified client's admin API (kafka-python's AlterConfigs on the broker resource
        "") sets a cluster-wide default (its describe_configs refuses the name "" itself)."""
        a = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap, request_timeout_ms=30000)
        self.addCleanup(a.close)
        resp = a.alter_configs([KpConfigResource(ConfigResourceType.BROKER, "",
                                                 configs={"log.retention.bytes": "5000000"})])
        self.assertEqual([r[0] for r in resp.resources], [0])
        self.assertEqual({n: e[0] for n, e in self.describe(cw.BROKER, "").items()},
                         {"log.retention.bytes": "5000000"})
        self.create("dyn-kp")
        e = self.describe(cw.TOPIC, "dyn-kp", ["retention.bytes"])["retention.bytes"]
        self.assertEqual(e[:3], ("5000000", 0, cw.DYNAMIC_DEFAULT_BROKER))

    def test_refusals_and_validate_only(self):
        self.assertEqual(self.set("", {"log.retention.ms": "60000"}, validate_only=True),
                         (0, None))
        self.assertEqual(self.describe(cw.BROKER, ""), {})
        error, message = self.set("", {"log.retention.ms": "soon"})
        self.assertEqual(error, cw.INVALID_REQUEST)
        self.assertTrue(message.startswith(
            "Invalid value soon for configuration log.retention.ms"), message)
        self.assertEqual(self.set("0", {"min.insync.replicas": "0"})[0], cw.INVALID_REQUEST)
        self.assertEqual(self.set("", {"num.io.threads": "4", "log.retention.ms": "1000"}),
                         (cw.INVALID_REQUEST,
                          "Cannot update these configs dynamically: Set(num.io.threads)"))
        error, message = self.set("", {"listener.name.plaintext.ssl.keystore.location": "/x"})
        self.assertEqual(error, cw.INVALID_REQUEST)
        self.assertEqual(self.set("1", {"log.retention.ms": "1000"})[0], cw.INVALID_REQUEST)
        self.assertEqual(self.describe(cw.BROKER, ""), {})  # nothing refused was kept


class CleanerSettingsTest(BrokerTestCase):
    """The log cleaner's threads and backoff, dynamic as Kafka's LogCleaner reconfigures them.
    The broker starts with a backoff of an hour: its cleaner thread, finding nothing to clean at
    start, sleeps through a compacted topic's records until a change restarts it."""

    BROKER_OVERRIDES = {"num.partitions": "1", "log.cleaner.backoff.ms": "3600000"}
    setUp = DynamicBrokerConfigsTest.setUp
    tearDown = DynamicBrokerConfigsTest.tearDown
    create = DynamicBrokerConfigsTest.create
    set = DynamicBrokerConfigsTest.set
    produce_keyed = DynamicBrokerConfigsTest.produce_keyed
    log_bytes = DynamicBrokerConfigsTest.log_bytes

    def test_a_change_restarts_the_cleaner_threads(self):
        threads = "kaffa_log_cleaner_threads"
        self.assertEqual(self.broker.metric(threads), 1)
        self.create("dyn-backoff", {"cleanup.policy": "compact", "segment.bytes": "1024"})
        self.produce_keyed("dyn-backoff")
        before = self.log_bytes("dyn-backoff")
        # More than double the threads in force is refused with Kafka's message; nothing changes.
        self.assertEqual(self.set("", {"log.cleaner.threads": "3"}),
                         (cw.INVALID_REQUEST, "Log cleaner threads cannot be increased to more "
                          "than double the current value 1"))
        self.assertEqual(self.broker.metric(threads), 1)
        # New threads with a short backoff look for work at once.
        self.assertEqual(self.set("", {"log.cleaner.threads": "2",
                                       "log.cleaner.backoff.ms": "100"}), (0, None))
        self.assertEqual(self.broker.metric(threads), 2)
        wait_until(lambda: self.log_bytes("dyn-backoff") < before / 2,
                   what="the restarted cleaner compacting the topic")
        self.assertEqual(self.set("0", {"log.cleaner.threads": "4"}), (0, None))
        self.assertEqual(self.broker.metric(threads), 4)
        # Back down in halves (tearDown deletes both layers: to 1).
        self.assertEqual(self.set("0", {"log.cleaner.threads": "2"}), (0, None))


if __name__ == "__main__":
    unittest.main()
