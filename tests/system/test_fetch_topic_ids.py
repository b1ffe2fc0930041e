#!/usr/bin/python3
"""Fetch v13-17 against a real broker with raw requests: topics by id (KIP-516).

(a) Every version from 13 to 17 reads a partition's batches by the topic's id (from Metadata
    v12), answering the id back with the high watermark and the bytes produced.
(b) An id the broker does not know (a random one, and the id of a deleted topic) answers
    UNKNOWN_TOPIC_ID for each of its partitions, while the other topic of the same request is
    served.
(c) v15+ carries the replica id in the tagged replica_state: a consumer (none given) reads up to
    the high watermark like before.
(d) Without READ on the topic (ACL authorizer), a fetch by id answers TOPIC_AUTHORIZATION_FAILED.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import fetch_wire as fw  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402
import acl_wire as aw  # noqa: E402
from test_txn_offset_commit import start_acl_broker  # noqa: E402

UNKNOWN_TOPIC_ID = 100
TOPIC_AUTHORIZATION_FAILED = 29


def fetch(conn, version, topics, **kw_args):
    corr = conn.next_corr()
    body = conn.round_trip(fw.fetch_request(corr, version, topics, **kw_args), corr,
                           "Fetch v%d" % version)
    return fw.parse_fetch_response(body)


class FetchTopicIdsTest(unittest.TestCase):
    def setUp(self):
        self.broker = KaffaBroker().start()
        self.addCleanup(self.broker.cleanup)
        self.addCleanup(self.broker.stop_and_check)

    def produce(self, topic, partition, values):
        batch = kr.encode_batch([(None, v, ()) for v in values])
        with kr.connect(self.broker) as conn:
            p = conn.produce_one(topic, partition, batch)
        self.assertEqual(p["error_code"], 0)
        return batch

    def test_every_version_reads_by_topic_id(self):
        with kw.connect(self.broker) as conn:
            self.assertEqual(conn.create_topics([("by-id", 2, 1)]), {"by-id": 0})
            ids = fw.topic_ids(conn, ["by-id"])
        tid = ids["by-id"]
        self.assertNotEqual(tid, bytes(16))
        batch = self.produce("by-id", 1, [b"one", b"two"])
        with kw.connect(self.broker) as conn:
            for version in range(13, 18):
                with self.subTest(version=version):
                    r = fetch(conn, version, [(tid, [(0, 0, 1 << 20), (1, 0, 1 << 20)])])
                    self.assertEqual(r["error_code"], 0)
                    self.assertEqual(sorted(r["partitions"]), [(tid, 0), (tid, 1)])
                    p0, p1 = r["partitions"][(tid, 0)], r["partitions"][(tid, 1)]
                    self.assertEqual((p0["error_code"], p0["high_watermark"], p0["records"]),
                                     (0, 0, b""))
                    self.assertEqual((p1["error_code"], p1["high_watermark"]), (0, 2))
                    got = kr.decode_batches(p1["records"])
                    self.assertEqual([x["value"] for b in got for x in b.records],
                                     [b"one", b"two"])
                    self.assertEqual(len(p1["records"]), len(batch))
                    self.assertIsNone(p1["current_leader"])  # no hints without an error
                    self.assertEqual(r["node_endpoints"], {})

    def test_unknown_ids_answer_unknown_topic_id(self):
        with kw.connect(self.broker) as conn:
            self.assertEqual(conn.create_topics([("kept", 1, 1), ("gone", 1, 1)]),
                             {"kept": 0, "gone": 0})
            ids = fw.topic_ids(conn, ["kept", "gone"])
        self.produce("kept", 0, [b"x"])
        from confluent_kafka.admin import AdminClient
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        admin.delete_topics(["gone"])["gone"].result(timeout=30)
        made_up = bytes(range(1, 17))
        with kw.connect(self.broker) as conn:
            for version in (13, 16, 17):
                r = fetch(conn, version, [(made_up, [(0, 0, 1 << 20), (3, 0, 1 << 20)]),
                                          (ids["gone"], [(0, 0, 1 << 20)]),
                                          (ids["kept"], [(0, 0, 1 << 20)])])
                errors = {(t, p): x["error_code"] for (t, p), x in r["partitions"].items()}
                self.assertEqual(errors, {(made_up, 0): UNKNOWN_TOPIC_ID,
                                          (made_up, 3): UNKNOWN_TOPIC_ID,
                                          (ids["gone"], 0): UNKNOWN_TOPIC_ID,
                                          (ids["kept"], 0): 0}, version)
                self.assertEqual(r["partitions"][(ids["kept"], 0)]["high_watermark"], 1)

    def test_replica_state_of_a_consumer(self):
        with kw.connect(self.broker) as conn:
            self.assertEqual(conn.create_topics([("rs", 1, 1)]), {"rs": 0})
            tid = fw.topic_ids(conn, ["rs"])["rs"]
        self.produce("rs", 0, [b"a"])
        with kw.connect(self.broker) as conn:
            # v15+: no replica_id field; the tagged replica_state is absent for a consumer
            r = fetch(conn, 15, [(tid, [(0, 0, 1 << 20)])])
            p = r["partitions"][(tid, 0)]
            self.assertEqual((p["error_code"], p["high_watermark"]), (0, 1))
            self.assertEqual(len(kr.decode_batches(p["records"])), 1)


class FetchTopicIdsAclTest(unittest.TestCase):
    def test_fetch_by_id_needs_read(self):
        broker = start_acl_broker(self)
        with aw.connect(broker, "admin", "admin-secret") as admin:  # the super user
            corr = admin.next_corr()
            body = admin.round_trip(kw.create_topics_v0(corr, [("secret", 1, 1)]), corr,
                                    "CreateTopics")
            self.assertEqual(kw.parse_create_topics_v0(body), {"secret": 0})
            tid = fw.topic_ids(admin, ["secret"])["secret"]
            r = fetch(admin, 13, [(tid, [(0, 0, 1 << 20)])])
            self.assertEqual(r["partitions"][(tid, 0)]["error_code"], 0)
        with aw.connect(broker, "alice", "alice-secret") as alice:  # no ACL on the topic
            r = fetch(alice, 13, [(tid, [(0, 0, 1 << 20)])])
            self.assertEqual(r["partitions"][(tid, 0)]["error_code"], TOPIC_AUTHORIZATION_FAILED)
            with aw.connect(broker, "admin", "admin-secret") as admin:
                self.assertEqual([e for e, _ in admin.create_acls(
                    [aw.acl(aw.TOPIC, "secret", aw.READ, "User:alice")])], [0])
            r = fetch(alice, 13, [(tid, [(0, 0, 1 << 20)])])
            self.assertEqual(r["partitions"][(tid, 0)]["error_code"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
