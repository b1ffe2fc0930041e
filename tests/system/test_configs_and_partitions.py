#!/usr/bin/python3
"""DescribeConfigs, AlterConfigs, IncrementalAlterConfigs and CreatePartitions through
confluent-kafka-python (librdkafka 2.0.2) and kafka-python 2.0.2 AdminClients, kcat and producers:
values and sources read back, INVALID_CONFIG, changes taking effect without a restart, and
surviving one."""

import gc
import glob
import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase, KaffaBroker  # noqa: E402
import kafka_records as kr  # noqa: E402

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition  # noqa
from confluent_kafka.admin import (AdminClient, ConfigResource, ConfigSource,  # noqa: E402
                                   NewPartitions, NewTopic)
from kafka.admin import ConfigResource as KpConfigResource  # noqa: E402
from kafka.admin import ConfigResourceType, KafkaAdminClient  # noqa: E402
from kafka.admin import NewPartitions as KpNewPartitions  # noqa: E402

TIMEOUT_S = 30
KCAT = shutil.which("kcat") or shutil.which("kafkacat")
OVERRIDES = {"num.partitions": "1", "log.segment.bytes": "536870912"}


def outcome(future):
    try:
        return future.result(timeout=TIMEOUT_S), None
    except KafkaException as e:
        return None, e.args[0]


class ConfigsMixin:
    def admin(self):
        a = AdminClient({"bootstrap.servers": self.broker.bootstrap, "socket.timeout.ms": 30000})
        self.addCleanup(gc.collect)
        return a

    def create(self, admin, name, partitions=1, config=None):
        (f,) = admin.create_topics([NewTopic(name, partitions, 1, config=config or {})],
                                   operation_timeout=10).values()
        self.assertEqual(outcome(f), (None, None))

    def describe(self, admin, rtype, name):
        (f,) = admin.describe_configs([ConfigResource(rtype, name)],
                                      request_timeout=TIMEOUT_S).values()
        entries, err = outcome(f)
        self.assertIsNone(err)
        return entries

    def alter(self, admin, name, configs):
        (f,) = admin.alter_configs([ConfigResource(ConfigResource.Type.TOPIC, name,
                                                   set_config=configs)],
                                   request_timeout=TIMEOUT_S).values()
        return outcome(f)[1]

    def produce(self, topic, partition, value, **conf):
        p = Producer({"bootstrap.servers": self.broker.bootstrap, "linger.ms": 0, **conf})
        reports = []
        p.produce(topic, value=value, partition=partition,
                  on_delivery=lambda err, msg: reports.append((err, msg)))
        self.assertEqual(p.flush(TIMEOUT_S), 0)
        ((err, msg),) = reports
        return err, msg

    def stored_codecs(self, topic, partition):
        """The codec (attributes bits 0-2) of each batch in the partition's segment files."""
        out = []
        for path in sorted(glob.glob(os.path.join(self.broker.log_dir, "%s-%d" % (
                topic, partition), "*.log"))):
            with open(path, "rb") as f:
                out += [b.attributes & 7 for b in kr.decode_batches(f.read(), records=False)]
        return out

    def consume_one(self, topic, partition):
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "cfg-" + topic,
                      "enable.auto.commit": False})
        try:
            c.assign([TopicPartition(topic, partition, 0)])
            msg = c.poll(TIMEOUT_S)
            self.assertIsNotNone(msg)
            self.assertIsNone(msg.error())
            return msg
        finally:
            c.close()


class ConfluentConfigsTest(ConfigsMixin, BrokerTestCase):
    BROKER_OVERRIDES = OVERRIDES

    def test_describe_topic_values_and_sources(self):
        a = self.admin()
        self.create(a, "cfg-describe", config={"retention.ms": "1234"})
        e = self.describe(a, ConfigResource.Type.TOPIC, "cfg-describe")
        self.assertEqual(e["retention.ms"].value, "1234")
        self.assertEqual(e["retention.ms"].source, ConfigSource.DYNAMIC_TOPIC_CONFIG.value)
        self.assertEqual(e["segment.bytes"].value, "536870912")
        self.assertEqual(e["segment.bytes"].source, ConfigSource.STATIC_BROKER_CONFIG.value)
        self.assertEqual(e["max.message.bytes"].value, "1048588")
        self.assertEqual(e["max.message.bytes"].source, ConfigSource.DEFAULT_CONFIG.value)
        self.assertEqual(e["cleanup.policy"].value, "delete")
        self.assertIn("unclean.leader.election.enable", e)
        synonyms = e["segment.bytes"].synonyms
        self.assertIn("log.segment.bytes", synonyms)

    def test_describe_unknown_topic_and_broker(self):
        a = self.admin()
        (f,) = a.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "cfg-none")]).values()
        self.assertEqual(outcome(f)[1].code(), KafkaError.UNKNOWN_TOPIC_OR_PART)
        e = self.describe(a, ConfigResource.Type.BROKER, "0")
        self.assertEqual(e["num.partitions"].value, "1")
        self.assertEqual(e["num.partitions"].source, ConfigSource.STATIC_BROKER_CONFIG.value)
        self.assertEqual(e["message.max.bytes"].source, ConfigSource.DEFAULT_CONFIG.value)
        self.assertFalse(e["message.max.bytes"].is_read_only)  # a dynamic broker config
        self.assertTrue(e["num.partitions"].is_read_only)
        (f,) = a.alter_configs([ConfigResource(ConfigResource.Type.BROKER, "0",
                                               set_config={"num.partitions": "3"})]).values()
        self.assertEqual(outcome(f)[1].code(), KafkaError.INVALID_REQUEST)

    def test_alter_invalid_and_replacing(self):
        a = self.admin()
        self.create(a, "cfg-alter", config={"retention.ms": "1234"})
        err = self.alter(a, "cfg-alter", {"segment.bytes": "10"})
        self.assertEqual(err.code(), KafkaError.INVALID_CONFIG)
        self.assertIn("at least 14", err.str())
        err = self.alter(a, "cfg-alter", {"cleanup.policy": "bogus"})
        self.assertEqual(err.code(), KafkaError.INVALID_CONFIG)
        self.assertEqual(self.alter(a, "cfg-none", {"retention.ms": "1"}).code(),
                         KafkaError.UNKNOWN_TOPIC_OR_PART)
        # AlterConfigs replaces the whole set: retention.ms goes back to its default.
        self.assertIsNone(self.alter(a, "cfg-alter", {"cleanup.policy": "compact"}))
        e = self.describe(a, ConfigResource.Type.TOPIC, "cfg-alter")
        self.assertEqual(e["cleanup.policy"].value, "compact")
        self.assertEqual(e["retention.ms"].source, ConfigSource.DEFAULT_CONFIG.value)

    def test_max_message_bytes_takes_effect(self):
        a = self.admin()
        self.create(a, "cfg-size")
        err, _ = self.produce("cfg-size", 0, b"x" * 5000)
        self.assertIsNone(err)
        self.assertIsNone(self.alter(a, "cfg-size", {"max.message.bytes": "2000"}))
        err, _ = self.produce("cfg-size", 0, b"x" * 5000)
        self.assertIsNotNone(err)
        self.assertEqual(err.code(), KafkaError.MSG_SIZE_TOO_LARGE)

    def test_compression_type_takes_effect(self):
        """compression.type other than producer re-encodes what is stored (as Kafka does); the
        records read back are those sent."""
        a = self.admin()
        self.create(a, "cfg-codec", config={"compression.type": "gzip"})
        self.assertIsNone(self.produce("cfg-codec", 0, b"g" * 1000)[0])  # sent uncompressed
        self.assertIsNone(self.alter(a, "cfg-codec", {"compression.type": "uncompressed"}))
        self.assertIsNone(self.produce("cfg-codec", 0, b"u" * 1000, **{
            "compression.codec": "lz4"})[0])
        self.assertIsNone(self.alter(a, "cfg-codec", {"compression.type": "producer"}))
        self.assertIsNone(self.produce("cfg-codec", 0, b"p" * 1000, **{
            "compression.codec": "lz4"})[0])
        self.assertEqual(self.stored_codecs("cfg-codec", 0), [1, 0, 3])  # gzip, none, lz4
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "cfg-codec",
                      "enable.auto.commit": False})
        try:
            c.assign([TopicPartition("cfg-codec", 0, 0)])
            got = []
            while len(got) < 3:
                msg = c.poll(TIMEOUT_S)
                self.assertIsNotNone(msg)
                self.assertIsNone(msg.error())
                got.append(msg.value())
        finally:
            c.close()
        self.assertEqual(got, [b"g" * 1000, b"u" * 1000, b"p" * 1000])

    def test_segment_bytes_takes_effect(self):
        a = self.admin()
        self.create(a, "cfg-roll")
        self.assertIsNone(self.alter(a, "cfg-roll", {"segment.bytes": "1000"}))
        for _ in range(4):
            self.assertIsNone(self.produce("cfg-roll", 0, b"y" * 600)[0])
        logs = glob.glob(os.path.join(self.broker.log_dir, "cfg-roll-0", "*.log"))
        self.assertGreaterEqual(len(logs), 3, logs)

    def test_create_partitions(self):
        a = self.admin()
        self.create(a, "cfg-grow")
        (f,) = a.create_partitions([NewPartitions("cfg-grow", 3)]).values()
        self.assertEqual(outcome(f), (None, None))
        self.assertEqual(len(a.list_topics(timeout=TIMEOUT_S).topics["cfg-grow"].partitions), 3)
        for count, code in ((3, KafkaError.INVALID_PARTITIONS), (2, KafkaError.INVALID_PARTITIONS)):
            (f,) = a.create_partitions([NewPartitions("cfg-grow", count)]).values()
            self.assertEqual(outcome(f)[1].code(), code)
        (f,) = a.create_partitions([NewPartitions("cfg-none", 3)]).values()
        self.assertEqual(outcome(f)[1].code(), KafkaError.UNKNOWN_TOPIC_OR_PART)
        (f,) = a.create_partitions([NewPartitions("cfg-grow", 4, [[7]])]).values()
        self.assertEqual(outcome(f)[1].code(), KafkaError.INVALID_REPLICA_ASSIGNMENT)
        (f,) = a.create_partitions([NewPartitions("cfg-grow", 4, [[0]])],
                                   validate_only=True).values()
        self.assertEqual(outcome(f), (None, None))
        self.assertEqual(len(a.list_topics(timeout=TIMEOUT_S).topics["cfg-grow"].partitions), 3)
        err, msg = self.produce("cfg-grow", 2, b"on-new-partition")
        self.assertIsNone(err)
        self.assertEqual(self.consume_one("cfg-grow", 2).value(), b"on-new-partition")
        if KCAT is None:
            raise RuntimeError("kcat is not installed (apt-get install kcat)")
        r = subprocess.run([KCAT, "-b", self.broker.bootstrap, "-L", "-J", "-t", "cfg-grow"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        (t,) = json.loads(r.stdout)["topics"]
        self.assertEqual(sorted(p["partition"] for p in t["partitions"]), [0, 1, 2])


class KafkaPythonConfigsTest(ConfigsMixin, BrokerTestCase):
    BROKER_OVERRIDES = OVERRIDES

    def kp_admin(self):
        a = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap, request_timeout_ms=30000)
        self.addCleanup(a.close)
        return a

    def test_describe_alter_and_grow(self):
        self.create(self.admin(), "kp-cfg")
        a = self.kp_admin()
        resp = a.alter_configs([KpConfigResource(ConfigResourceType.TOPIC, "kp-cfg",
                                                 configs={"retention.ms": "5000"})])
        ((code, _msg, _type, name),) = resp.resources
        self.assertEqual((code, name), (0, "kp-cfg"))
        resp = a.alter_configs([KpConfigResource(ConfigResourceType.TOPIC, "kp-cfg",
                                                 configs={"retention.ms": "x"})])
        self.assertEqual(resp.resources[0][0], 40)  # INVALID_CONFIG
        (resp,) = a.describe_configs([KpConfigResource(ConfigResourceType.TOPIC, "kp-cfg")],
                                     include_synonyms=True)
        ((code, _msg, _type, name, entries),) = resp.resources
        self.assertEqual(code, 0)
        by_name = {e[0]: e for e in entries}
        self.assertEqual(by_name["retention.ms"][1], "5000")
        self.assertEqual(by_name["retention.ms"][3], 1)  # config_source TOPIC_CONFIG
        a.create_partitions({"kp-cfg": KpNewPartitions(2)})
        self.assertEqual(len(self.admin().list_topics(timeout=TIMEOUT_S)
                             .topics["kp-cfg"].partitions), 2)
        self.assertIsNone(self.produce("kp-cfg", 1, b"kp")[0])


class BrokerCompressionTest(ConfigsMixin, BrokerTestCase):
    BROKER_OVERRIDES = dict(OVERRIDES, **{"compression.type": "zstd"})

    def test_the_brokers_compression_type_is_the_default(self):
        a = self.admin()
        self.create(a, "cfg-zstd")
        self.create(a, "cfg-as-sent", config={"compression.type": "producer"})
        for t in ("cfg-zstd", "cfg-as-sent"):
            self.assertIsNone(self.produce(t, 0, b"z" * 1000)[0])
            self.assertEqual(self.consume_one(t, 0).value(), b"z" * 1000)
        self.assertEqual(self.stored_codecs("cfg-zstd", 0), [4])
        self.assertEqual(self.stored_codecs("cfg-as-sent", 0), [0])
        e = self.describe(a, ConfigResource.Type.TOPIC, "cfg-zstd")
        self.assertEqual(e["compression.type"].value, "zstd")
        self.assertEqual(e["compression.type"].source, ConfigSource.STATIC_BROKER_CONFIG.value)


class RestartTest(ConfigsMixin, unittest.TestCase):
    def test_configs_and_partitions_survive_restart(self):
        with KaffaBroker(overrides=OVERRIDES) as broker:
            self.broker = broker
            a = self.admin()
            self.create(a, "cfg-durable")
            self.assertIsNone(self.alter(a, "cfg-durable", {"max.message.bytes": "3000"}))
            (f,) = a.create_partitions([NewPartitions("cfg-durable", 4)]).values()
            self.assertEqual(outcome(f), (None, None))
            del a
            gc.collect()
            broker.stop_and_check()
            broker.restart()
            a = self.admin()
            e = self.describe(a, ConfigResource.Type.TOPIC, "cfg-durable")
            self.assertEqual(e["max.message.bytes"].value, "3000")
            self.assertEqual(len(a.list_topics(timeout=TIMEOUT_S)
                                 .topics["cfg-durable"].partitions), 4)
            self.assertIsNone(self.produce("cfg-durable", 3, b"after-restart")[0])
            err, _ = self.produce("cfg-durable", 3, b"z" * 5000)
            self.assertEqual(err.code(), KafkaError.MSG_SIZE_TOO_LARGE)
            del a
            gc.collect()


if __name__ == "__main__":
    unittest.main()
