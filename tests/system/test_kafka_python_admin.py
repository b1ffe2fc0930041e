#!/usr/bin/python3
"""kafka-python 2.0.2 KafkaAdminClient and KafkaConsumer metadata against a real broker.

kafka-python guesses the broker release from the ApiVersions answer (protocol-notes trap 4); these
tests let it guess (no api_version=) and record what it chose, so a broken guess shows up as a
failure with the guessed version in the message. Its debug log goes to the test's stderr when
KAFFA_TEST_DEBUG=1.
"""

import logging
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase  # noqa: E402

from kafka import KafkaConsumer  # noqa: E402
from kafka.admin import KafkaAdminClient, NewTopic  # noqa: E402
from kafka.errors import (InvalidReplicationFactorError, KafkaError, InvalidTopicError,  # noqa: E402
                          TopicAlreadyExistsError, UnknownTopicOrPartitionError)

TIMEOUT_MS = 30000

if os.environ.get("KAFFA_TEST_DEBUG"):
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)


class KafkaPythonAdminTest(BrokerTestCase):
    BROKER_OVERRIDES = {"num.partitions": "2"}

    def setUp(self):
        self.admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap,
                                      client_id="kaffa-systest-kafka-python",
                                      request_timeout_ms=TIMEOUT_MS)
        self.addCleanup(self.admin.close)

    def consumer(self):
        c = KafkaConsumer(bootstrap_servers=self.broker.bootstrap,
                          client_id="kaffa-systest-kafka-python-consumer",
                          request_timeout_ms=TIMEOUT_MS + 1000,
                          api_version_auto_timeout_ms=TIMEOUT_MS,
                          enable_auto_commit=False)
        self.addCleanup(c.close)
        return c

    def create_one(self, topic, validate_only=False):
        """0 on success, else the error code of the response (kafka-python 2.0.2 raises the
        error named in the response; the exception carries the class's errno)."""
        try:
            resp = self.admin.create_topics([topic], timeout_ms=TIMEOUT_MS,
                                            validate_only=validate_only)
        except KafkaError as e:
            self.assertIn("topic='%s'" % topic.name, str(e))
            return e.errno
        ((name, code, *_),) = resp.topic_errors
        self.assertEqual(name, topic.name)
        return code

    def test_broker_version_guess(self):
        # kafka-python's guess from our advertised ranges; it picks request versions from it.
        version = self.admin.config["api_version"]
        self.assertGreaterEqual(version, (1, 0, 0),
                                "kafka-python guessed broker version %s" % (version,))

    def test_create_list_delete(self):
        self.assertEqual(self.create_one(NewTopic("kp-a", 3, 1)), 0)
        self.assertEqual(self.create_one(NewTopic("kp-b", 1, 1,
                                                  topic_configs={"retention.ms": "60000"})), 0)
        topics = self.admin.list_topics()
        self.assertIn("kp-a", topics)
        self.assertIn("kp-b", topics)
        described = {t["topic"]: t for t in self.admin.describe_topics(["kp-a"])}
        self.assertEqual(len(described["kp-a"]["partitions"]), 3)
        self.assertEqual(described["kp-a"]["error_code"], 0)

        resp = self.admin.delete_topics(["kp-a"], timeout_ms=TIMEOUT_MS)
        self.assertEqual(resp.topic_error_codes, [("kp-a", 0)])
        topics = self.admin.list_topics()
        self.assertNotIn("kp-a", topics)
        self.assertIn("kp-b", topics)

    def test_create_errors(self):
        self.assertEqual(self.create_one(NewTopic("kp-dup", 1, 1)), 0)
        self.assertEqual(self.create_one(NewTopic("kp-dup", 1, 1)), TopicAlreadyExistsError.errno)
        self.assertEqual(self.create_one(NewTopic("kp bad", 1, 1)), InvalidTopicError.errno)
        self.assertEqual(self.create_one(NewTopic("kp-rf", 1, 3)),
                         InvalidReplicationFactorError.errno)
        self.assertNotIn("kp-rf", self.admin.list_topics())

    def test_validate_only(self):
        self.assertEqual(self.create_one(NewTopic("kp-dry", 2, 1), validate_only=True), 0)
        self.assertNotIn("kp-dry", self.admin.list_topics())

    def test_delete_unknown(self):
        with self.assertRaises(UnknownTopicOrPartitionError) as cm:
            self.admin.delete_topics(["kp-never"], timeout_ms=TIMEOUT_MS)
        self.assertIn("topic='kp-never', error_code=3", str(cm.exception))

    def test_consumer_metadata(self):
        self.assertEqual(self.create_one(NewTopic("kp-cons", 4, 1)), 0)
        c = self.consumer()
        self.assertIn("kp-cons", c.topics())
        self.assertEqual(c.partitions_for_topic("kp-cons"), {0, 1, 2, 3})

    def test_consumer_partitions_after_admin_changes(self):
        c = self.consumer()
        self.assertEqual(self.create_one(NewTopic("kp-later", 2, 1)), 0)
        # topics() fetches fresh metadata each call
        self.assertIn("kp-later", c.topics())
        self.assertEqual(c.partitions_for_topic("kp-later"), {0, 1})


if __name__ == "__main__":
    unittest.main(verbosity=2)
