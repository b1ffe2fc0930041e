#!/usr/bin/python3
"""confluent-kafka-python (librdkafka 2.0.2) AdminClient against a real broker."""

import gc
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kafka_wire as kw  # noqa: E402
from kaffa_harness import BrokerTestCase  # noqa: E402

from confluent_kafka import KafkaError, KafkaException  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

TIMEOUT_S = 30  # a safety net for futures; the broker answers at once


class ConfluentAdminTest(BrokerTestCase):
    BROKER_OVERRIDES = {"num.partitions": "2"}

    def setUp(self):
        self.admin = AdminClient({"bootstrap.servers": self.broker.bootstrap,
                                  "client.id": "kaffa-systest-confluent",
                                  "socket.timeout.ms": 30000})
        # AdminClient has no close(): drop it (and its connections) before the broker stops.
        self.addCleanup(self.drop_admin)

    def drop_admin(self):
        del self.admin
        gc.collect()

    def create(self, topics, **kwargs):
        """{name: None or KafkaError} for each NewTopic."""
        futures = self.admin.create_topics(topics, operation_timeout=10,
                                           request_timeout=TIMEOUT_S, **kwargs)
        return {name: self.outcome(f) for name, f in futures.items()}

    def delete(self, names):
        futures = self.admin.delete_topics(names, operation_timeout=10, request_timeout=TIMEOUT_S)
        return {name: self.outcome(f) for name, f in futures.items()}

    @staticmethod
    def outcome(future):
        try:
            future.result(timeout=TIMEOUT_S)
            return None
        except KafkaException as e:
            return e.args[0]

    def topics(self):
        return self.admin.list_topics(timeout=TIMEOUT_S).topics

    def assert_error(self, err, code):
        self.assertIsNotNone(err, "expected %s, got success" % code)
        self.assertEqual(err.code(), code, "got %s" % err)

    # ---- tests ----

    def test_list_topics_shows_broker_and_cluster(self):
        md = self.admin.list_topics(timeout=TIMEOUT_S)
        self.assertEqual(list(md.brokers), [0])
        b = md.brokers[0]
        self.assertEqual((b.id, b.host, b.port), (0, "127.0.0.1", self.broker.port))
        self.assertEqual(md.controller_id, 0)
        self.assertRegex(md.cluster_id or "", r"^[A-Za-z0-9_-]{22}$")
        self.assertIn("cluster.id=" + md.cluster_id, self.broker.log_text())
        self.assertEqual(md.orig_broker_id, 0)

    def test_create_with_partitions_and_configs(self):
        result = self.create([
            NewTopic("cfk-four", num_partitions=4, replication_factor=1,
                     config={"retention.ms": "3600000", "cleanup.policy": "compact"}),
            NewTopic("cfk-one", num_partitions=1, replication_factor=1),
        ])
        self.assertEqual(result, {"cfk-four": None, "cfk-one": None})
        topics = self.topics()
        self.assertEqual(sorted(topics["cfk-four"].partitions), [0, 1, 2, 3])
        self.assertEqual(sorted(topics["cfk-one"].partitions), [0])
        for p in topics["cfk-four"].partitions.values():
            self.assertEqual((p.leader, p.replicas, p.isrs), (0, [0], [0]))
            self.assertIsNone(p.error)
        self.assertIsNone(topics["cfk-four"].error)

    def test_create_existing_topic(self):
        self.assertEqual(self.create([NewTopic("cfk-dup", 1, 1)]), {"cfk-dup": None})
        err = self.create([NewTopic("cfk-dup", 3, 1)])["cfk-dup"]
        self.assert_error(err, KafkaError.TOPIC_ALREADY_EXISTS)
        self.assertEqual(len(self.topics()["cfk-dup"].partitions), 1)

    def test_invalid_names(self):
        for name in ("bad name", "a" * 250, "..", "slash/name"):
            err = self.create([NewTopic(name, 1, 1)])[name]
            self.assert_error(err, KafkaError.TOPIC_EXCEPTION)
            self.assertNotIn(name, self.topics())

    def test_replication_factor_above_broker_count(self):
        err = self.create([NewTopic("cfk-rf3", 1, 3)])["cfk-rf3"]
        self.assert_error(err, KafkaError.INVALID_REPLICATION_FACTOR)
        self.assertNotIn("cfk-rf3", self.topics())

    def test_invalid_partition_count(self):
        err = self.create([NewTopic("cfk-zero", 0, 1)])["cfk-zero"]
        self.assert_error(err, KafkaError.INVALID_PARTITIONS)

    def test_invalid_config(self):
        err = self.create([NewTopic("cfk-badcfg", 1, 1, config={"cleanup.policy": "sometimes"})])
        self.assert_error(err["cfk-badcfg"], KafkaError.INVALID_CONFIG)
        err = self.create([NewTopic("cfk-unknowncfg", 1, 1, config={"no.such.config": "1"})])
        self.assert_error(err["cfk-unknowncfg"], KafkaError.INVALID_CONFIG)
        topics = self.topics()
        self.assertNotIn("cfk-badcfg", topics)
        self.assertNotIn("cfk-unknowncfg", topics)

    def test_broker_default_partitions(self):
        # -1: the broker's num.partitions (2 here).
        self.assertEqual(self.create([NewTopic("cfk-default", -1, -1)]), {"cfk-default": None})
        self.assertEqual(len(self.topics()["cfk-default"].partitions), 2)

    def test_validate_only_creates_nothing(self):
        result = self.create([NewTopic("cfk-dry", 3, 1)], validate_only=True)
        self.assertEqual(result, {"cfk-dry": None})
        self.assertNotIn("cfk-dry", self.topics())
        err = self.create([NewTopic("cfk-dry-rf", 3, 3)], validate_only=True)["cfk-dry-rf"]
        self.assert_error(err, KafkaError.INVALID_REPLICATION_FACTOR)
        # and a real creation afterwards works
        self.assertEqual(self.create([NewTopic("cfk-dry", 3, 1)]), {"cfk-dry": None})
        self.assertEqual(len(self.topics()["cfk-dry"].partitions), 3)

    def test_mixed_batch(self):
        self.assertEqual(self.create([NewTopic("cfk-mix-exists", 1, 1)]),
                         {"cfk-mix-exists": None})
        result = self.create([NewTopic("cfk-mix-new", 2, 1), NewTopic("cfk-mix-exists", 1, 1),
                              NewTopic("cfk-mix-rf", 1, 2)])
        self.assertIsNone(result["cfk-mix-new"])
        self.assert_error(result["cfk-mix-exists"], KafkaError.TOPIC_ALREADY_EXISTS)
        self.assert_error(result["cfk-mix-rf"], KafkaError.INVALID_REPLICATION_FACTOR)

    def test_delete_topics(self):
        self.assertEqual(self.create([NewTopic("cfk-del-a", 1, 1), NewTopic("cfk-del-b", 2, 1)]),
                         {"cfk-del-a": None, "cfk-del-b": None})
        topics = self.topics()
        self.assertIn("cfk-del-a", topics)
        self.assertIn("cfk-del-b", topics)
        self.assertEqual(self.delete(["cfk-del-a"]), {"cfk-del-a": None})
        topics = self.topics()
        self.assertNotIn("cfk-del-a", topics)
        self.assertIn("cfk-del-b", topics)
        # deleting again: unknown topic
        err = self.delete(["cfk-del-a"])["cfk-del-a"]
        self.assert_error(err, KafkaError.UNKNOWN_TOPIC_OR_PART)
        # the name can be reused
        self.assertEqual(self.create([NewTopic("cfk-del-a", 3, 1)]), {"cfk-del-a": None})
        self.assertEqual(len(self.topics()["cfk-del-a"].partitions), 3)
        self.assertEqual(self.delete(["cfk-del-a", "cfk-del-b"]),
                         {"cfk-del-a": None, "cfk-del-b": None})
        topics = self.topics()
        self.assertNotIn("cfk-del-a", topics)
        self.assertNotIn("cfk-del-b", topics)

    def test_list_topics_for_one_topic(self):
        self.assertEqual(self.create([NewTopic("cfk-single", 5, 1)]), {"cfk-single": None})
        md = self.admin.list_topics(topic="cfk-single", timeout=TIMEOUT_S)
        self.assertEqual(list(md.topics), ["cfk-single"])
        self.assertEqual(len(md.topics["cfk-single"].partitions), 5)


class DeletionDisabledTest(BrokerTestCase):
    """delete.topic.enable=false: DeleteTopics answers TOPIC_DELETION_DISABLED for every topic,
    named or not (INVALID_REQUEST below v3, as Kafka), and the topic stays."""

    BROKER_OVERRIDES = {"delete.topic.enable": "false"}
    setUp = ConfluentAdminTest.setUp
    drop_admin = ConfluentAdminTest.drop_admin
    create = ConfluentAdminTest.create
    delete = ConfluentAdminTest.delete
    outcome = staticmethod(ConfluentAdminTest.outcome)
    topics = ConfluentAdminTest.topics
    assert_error = ConfluentAdminTest.assert_error

    def test_deletion_is_refused(self):
        self.assertEqual(self.create([NewTopic("cfk-kept", 1, 1)]), {"cfk-kept": None})
        # librdkafka sends DeleteTopics v1, older than the code: INVALID_REQUEST, as from Kafka.
        errors = self.delete(["cfk-kept", "cfk-never-made"])
        self.assert_error(errors["cfk-kept"], KafkaError.INVALID_REQUEST)
        self.assert_error(errors["cfk-never-made"], KafkaError.INVALID_REQUEST)
        self.assertIn("cfk-kept", self.topics())
        for version, code in ((2, 42), (3, KafkaError.TOPIC_DELETION_DISABLED)):
            with kw.connect(self.broker) as conn:
                corr = conn.next_corr()
                body = conn.round_trip(kw.frame(kw.header_v1(20, version, corr) +
                                                kw.array(["cfk-kept"], kw.string) + kw.i32(30000)),
                                       corr, "DeleteTopics v%d" % version)
            reader = kw.Reader(body)
            reader.i32()  # throttle_time_ms
            self.assertEqual(reader.array(lambda r: (r.string(), r.i16())), [("cfk-kept", code)])
        self.assertIn("cfk-kept", self.topics())

if __name__ == "__main__":
    unittest.main(verbosity=2)
