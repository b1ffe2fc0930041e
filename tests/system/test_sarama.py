#!/usr/bin/python3
"""Shopify/sarama 1.22 (Debian's golang-github-shopify-sarama-dev; the Go client) against a real
broker, through tests/go/sarama_ops (built with the project): its ClusterAdmin, a consumer group
of two members, and its idempotent producer. Its plain produce (every codec) and consume paths are
in test_produce_consume_clients.py.

sarama speaks the API versions of the Kafka version it is configured for; sarama_ops sets Kafka
2.1 (sarama's default, 0.8.2, produces the legacy message format: UNSUPPORTED_VERSION, as from
Kafka 4). sarama 1.22 has no transactions (they came in sarama 1.37).
"""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase  # noqa: E402
import client_io as cio  # noqa: E402
import group_util as gu  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402


class SaramaTest(BrokerTestCase):
    @classmethod
    def setUpClass(cls):
        cio.sarama_ops_path()  # fails at once, naming the missing packages
        super().setUpClass()

    def test_cluster_admin(self):
        steps = cio.sarama({"op": "admin", "broker": self.broker.bootstrap, "topic": "srm-admin",
                            "group": "srm-admin-group"})["steps"]
        errors = {k: v["error"] for k, v in steps.items() if isinstance(v, dict) and "error" in v}
        self.assertEqual(errors, {})
        self.assertEqual(steps["listTopics"], {"partitions": 2, "rf": 1})
        self.assertEqual(steps["describeTopics"], {"errorCode": 0, "partitions": 2})
        self.assertEqual(steps["describeConfig"], {"retention.ms": "3600000"})
        self.assertEqual(steps["describeConfigAfter"], "7200000")
        # createPartitions took the topic to 3: the produce step wrote to partition 2 too
        self.assertEqual(steps["produce"]["offsets"],
                         [[0, 0], [1, 0], [2, 0], [0, 1], [1, 1], [2, 1]])
        # deleteRecords before offset 1 of partition 0: the group read the other 5 records
        group = steps["group"]
        self.assertEqual(sorted(group["members"][0]["records"]),
                         ["srm-admin/0/1", "srm-admin/1/0", "srm-admin/1/1", "srm-admin/2/0",
                          "srm-admin/2/1"])
        self.assertEqual(group["committed"], {"srm-admin/%d" % p: 2 for p in range(3)})
        self.assertIn("srm-admin-group:consumer", steps["listConsumerGroups"])
        self.assertEqual(steps["describeConsumerGroups"],
                         {"errorCode": 0, "state": "Empty", "protocolType": "consumer", "members": 0})
        self.assertIs(steps["listTopicsAfter"], False)  # deleted

    def test_group_of_two_shares_the_partitions(self):
        with kw.connect(self.broker) as conn:
            self.assertEqual(conn.create_topics([("srm-pair", 4, 1)]), {"srm-pair": 0})
        records = [(i % 4, None, b"p%d" % i, ()) for i in range(16)]
        res = cio.sarama({"op": "group", "broker": self.broker.bootstrap, "group": "srm-pair-group",
                          "topics": ["srm-pair"], "count": 16, "members": 2,
                          "records": cio.platformatic_records(records)})
        gu.check_shared_by_two(self, "srm-pair", [
            {"generation": m["generation"], "owned": m["claims"], "records": m["records"]}
            for m in res["members"]], 4, 4)
        self.assertEqual(res["committed"], {"srm-pair/%d" % p: 4 for p in range(4)})

    def test_idempotent_producer(self):
        with kw.connect(self.broker) as conn:
            self.assertEqual(conn.create_topics([("srm-idem", 2, 1)]), {"srm-idem": 0})
        records = [(i % 2, b"k%d" % i, b"idem-%d" % i, (("h", b"x"),)) for i in range(10)]
        offsets = cio.sarama_produce(self.broker.bootstrap, "srm-idem", records, idempotent=True)
        self.assertEqual(offsets, [(i % 2, i // 2) for i in range(10)])
        with kr.connect(self.broker) as conn:
            pids = set()
            for p in range(2):
                batches, hw = conn.read_all_batches("srm-idem", p)
                self.assertEqual(hw, 5)
                # producer id, epoch and base sequence from the batch header (offset 43)
                ids = [struct.unpack_from(">qhi", b.raw, 43) for b in batches]
                self.assertTrue(all(pid >= 0 and epoch == 0 for pid, epoch, _ in ids), ids)
                self.assertEqual(ids[0][2], 0)
                pids |= {pid for pid, _, _ in ids}
                self.assertEqual([r["value"] for b in batches for r in b.records],
                                 [v for q, _, v, _ in records if q == p])
            self.assertEqual(len(pids), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
