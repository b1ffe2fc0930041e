#!/usr/bin/python3
"""DescribeTopicPartitions v0 (KIP-966; Kafka 3.7+ admin clients describe topics with it) with raw
requests against a real broker (max.request.partition.size.limit=5).

(a) Named topics come back in name order with their ids, partitions (leader, epoch, replicas,
    ISR, empty ELR lists), an unknown topic with UNKNOWN_TOPIC_OR_PARTITION and a bad name with
    INVALID_TOPIC_EXCEPTION; a page full after a topic names the next one in next_cursor, as
    Kafka does, even when that one does not exist.
(b) Pages: with a limit of 3 partitions (or the broker's 5), following next_cursor from page to
    page lists every partition of every topic exactly once, in order; a cursor into the middle
    of a topic starts there.
(c) No topics named: all topics; a cursor with a negative partition, or naming a topic outside
    the named ones, is INVALID_REQUEST for every named topic.
(d) With the ACL authorizer: a named topic without DESCRIBE is TOPIC_AUTHORIZATION_FAILED (no id,
    after the others); the list of all topics leaves it out.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase  # noqa: E402
import acl_wire as aw  # noqa: E402
import fetch_wire as fw  # noqa: E402
import kafka_wire as kw  # noqa: E402
from test_txn_offset_commit import start_acl_broker  # noqa: E402

UNKNOWN_TOPIC_OR_PARTITION = 3
INVALID_TOPIC_EXCEPTION = 17
TOPIC_AUTHORIZATION_FAILED = 29
INVALID_REQUEST = 42
TOPICS = [("dtp-a", 4), ("dtp-b", 1), ("dtp-c", 6)]


class DescribeTopicPartitionsTest(BrokerTestCase):
    BROKER_OVERRIDES = {"max.request.partition.size.limit": "5"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with kw.connect(cls.broker) as conn:
            assert conn.create_topics([(n, p, 1) for n, p in TOPICS]) == {n: 0 for n, _ in TOPICS}
            cls.ids = fw.topic_ids(conn, [n for n, _ in TOPICS])

    def describe(self, names, limit=2000, cursor=None):
        with kw.connect(self.broker) as conn:
            return fw.describe_topic_partitions(conn, names, limit, cursor)

    def test_named_topics(self):
        names = ["dtp-b", "no-such", "bad name!", "dtp-a"]
        topics, cursor = self.describe(names)
        # dtp-a and dtp-b fill the broker's limit of 5: the next page starts at the next name
        self.assertEqual(cursor, ("no-such", 0))
        self.assertEqual([(t["name"], t["error_code"]) for t in topics],
                         [("bad name!", INVALID_TOPIC_EXCEPTION), ("dtp-a", 0), ("dtp-b", 0)])
        rest, cursor = self.describe(names, cursor=cursor)
        self.assertEqual([(t["name"], t["error_code"]) for t in rest],
                         [("no-such", UNKNOWN_TOPIC_OR_PARTITION)])
        self.assertIsNone(cursor)
        a, b = topics[1], topics[2]
        self.assertEqual((a["topic_id"], b["topic_id"]), (self.ids["dtp-a"], self.ids["dtp-b"]))
        self.assertEqual([p["index"] for p in a["partitions"]], [0, 1, 2, 3])
        leader = a["partitions"][0]["leader"]
        for p in a["partitions"] + b["partitions"]:
            self.assertEqual((p["error_code"], p["leader"], p["replicas"], p["isr"], p["elr"],
                              p["last_known_elr"], p["offline"]),
                             (0, leader, [leader], [leader], [], [], []))
        self.assertNotEqual(a["operations"], -2147483648)  # filled in

    def pages(self, names, limit):
        seen, cursor, calls = [], None, 0
        while True:
            topics, cursor = self.describe(names, limit, cursor)
            calls += 1
            for t in topics:
                self.assertEqual(t["error_code"], 0, t)
                seen += [(t["name"], p["index"]) for p in t["partitions"]]
            if cursor is None:
                return seen, calls
            self.assertLess(calls, 20)

    def test_pages_follow_the_cursor(self):
        everything = [(n, p) for n, count in TOPICS for p in range(count)]
        # 11 partitions: limit 3 -> pages of 3 (a cursor inside dtp-a, after dtp-b, inside dtp-c)
        self.assertEqual(self.pages([n for n, _ in TOPICS], 3), (everything, 4))
        # the broker's limit (5) caps a larger request
        self.assertEqual(self.pages([n for n, _ in TOPICS], 100), (everything, 3))
        topics, cursor = self.describe([n for n, _ in TOPICS], 3)
        self.assertEqual(cursor, ("dtp-a", 3))
        # a page that ends exactly with a topic points at the next one, partition 0
        topics, cursor = self.describe([n for n, _ in TOPICS], 5, ("dtp-a", 0))
        self.assertEqual([t["name"] for t in topics], ["dtp-a", "dtp-b"])
        self.assertEqual(cursor, ("dtp-c", 0))
        topics, cursor = self.describe(["dtp-c"], 2, ("dtp-c", 3))
        self.assertEqual([p["index"] for p in topics[0]["partitions"]], [3, 4])
        self.assertEqual(cursor, ("dtp-c", 5))

    def test_all_topics_and_bad_cursors(self):
        seen, _ = self.pages([], 100)
        self.assertEqual([x for x in seen if x[0].startswith("dtp-")],
                         [(n, p) for n, count in TOPICS for p in range(count)])
        for cursor in (("dtp-a", -1), ("dtp-z", 0)):
            topics, next_cursor = self.describe(["dtp-a", "dtp-b"], 10, cursor)
            self.assertEqual([(t["name"], t["error_code"], t["partitions"]) for t in topics],
                             [("dtp-a", INVALID_REQUEST, []), ("dtp-b", INVALID_REQUEST, [])])
            self.assertIsNone(next_cursor)


class DescribeTopicPartitionsAclTest(unittest.TestCase):
    def test_describe_needs_describe(self):
        broker = start_acl_broker(self)
        with aw.connect(broker, "admin", "admin-secret") as admin:
            corr = admin.next_corr()
            body = admin.round_trip(kw.create_topics_v0(corr, [("open", 1, 1), ("closed", 2, 1)]),
                                    corr, "CreateTopics")
            self.assertEqual(kw.parse_create_topics_v0(body), {"open": 0, "closed": 0})
            self.assertEqual([e for e, _ in admin.create_acls(
                [aw.acl(aw.TOPIC, "open", aw.DESCRIBE, "User:alice")])], [0])
        with aw.connect(broker, "alice", "alice-secret") as alice:
            topics, _ = fw.describe_topic_partitions(alice, ["closed", "open"])
            self.assertEqual([(t["name"], t["error_code"], t["topic_id"]) for t in topics],
                             [("open", 0, topics[0]["topic_id"]),
                              ("closed", TOPIC_AUTHORIZATION_FAILED, bytes(16))])
            topics, _ = fw.describe_topic_partitions(alice, [])
            self.assertEqual([t["name"] for t in topics], ["open"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
