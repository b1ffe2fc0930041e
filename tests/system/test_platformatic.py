#!/usr/bin/python3
"""@platformatic/kafka 1.35 (a pure-JavaScript client for Kafka 3.5-4.1) against a real broker,
through tests/system/js/platformatic_ops.mjs: its admin client, a consumer group of two, its
idempotent and transactional producers, and consume-transform-produce with offsets committed in
the transaction; SASL PLAIN and SCRAM-SHA-256/512 logins, and its ACL calls against the ACL
authorizer (a user without ACLs refused, then allowed once the admin client granted them). What it writes is read back with confluent_kafka (librdkafka) or raw requests.
Its plain produce and consume paths are in test_produce_consume_clients.py.

The client comes from tests/js/node_modules (npm ci there). It needs Node.js 20.19.4 or later;
on an older Node.js (Debian 12's nodejs is 18) the tests are skipped, saying so. Set
KAFFA_TEST_DEBUG=1 to see its stderr.
"""

import os
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase, KaffaBroker, run_kaffa  # noqa: E402
import acl_wire as aw  # noqa: E402
from test_txn_offset_commit import JAAS  # noqa: E402  (PLAIN users admin and alice)
import client_io as cio  # noqa: E402
import group_util as gu  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402
from test_transactions import consume_all  # noqa: E402

MISSING = cio.platformatic_missing()


def create(broker, topics):
    with kw.connect(broker) as conn:
        res = conn.create_topics(topics)
    if any(res.values()):
        raise AssertionError("CreateTopics failed: %r" % res)


@unittest.skipIf(MISSING, MISSING)
class PlatformaticTest(BrokerTestCase):
    BROKER_OVERRIDES = {"transaction.state.log.num.partitions": "3"}

    def test_admin_client(self):
        res = cio.platformatic({"op": "admin", "broker": self.broker.bootstrap,
                                "topic": "plt-admin", "group": "plt-admin-group"})
        steps = res["steps"]
        errors = {k: v["error"] for k, v in steps.items() if isinstance(v, dict) and "error" in v}
        self.assertEqual(errors, {})
        created = steps["createTopics"][0]
        self.assertEqual((created["name"], created["partitions"], created["replicas"]),
                         ("plt-admin", 2, 1))
        self.assertEqual(steps["metadata"]["id"], created["id"])
        node = 0  # a single node's default node.id
        self.assertEqual(steps["metadata"]["leaders"], [node, node])
        self.assertIn("plt-admin", steps["listTopics"])
        self.assertEqual(steps["metadataAfter"], 3)  # createPartitions: 2 -> 3
        self.assertEqual(steps["describeConfigs"],
                         {"retention.ms": "3600000", "cleanup.policy": "delete"})
        # incremental SET 7200000, then the whole set replaced by retention.ms=5400000
        self.assertEqual(steps["describeConfigsAfter"], ["5400000"])
        self.assertEqual(sorted(o["partition"] for o in steps["produce"]), [0, 1, 2])
        self.assertEqual(steps["listOffsets"], [[0, "2"], [1, "2"], [2, "2"]])
        self.assertEqual(steps["deleteRecords"], [[0, "1"]])
        self.assertEqual(steps["describeLogDirs"], [{"broker": node, "topics": ["plt-admin"]}])
        self.assertEqual(steps["listConsumerGroupOffsets"],
                         [["plt-admin", 0, "1"], ["plt-admin", 1, "2"]])
        self.assertIn("plt-admin-group", steps["listGroups"])
        self.assertEqual(steps["describeGroups"], {"state": "EMPTY", "members": 0})
        self.assertEqual(steps["listConsumerGroupOffsetsAfter"], [["plt-admin", 0, "1"]])
        self.assertNotIn("plt-admin-group", steps["listGroupsAfter"])
        self.assertEqual(steps["describeClientQuotasAfter"], [["producer_byte_rate", 1048576]])
        self.assertNotIn("plt-admin", steps["listTopicsAfter"])

    def test_group_of_two_shares_the_partitions(self):
        create(self.broker, [("plt-pair", 4, 1)])
        res = cio.platformatic({"op": "pair", "broker": self.broker.bootstrap,
                                "group": "plt-pair-group", "topic": "plt-pair", "partitions": 4,
                                "count": 16})
        gu.check_shared_by_two(self, "plt-pair", [
            {"generation": m["generationId"], "owned": m["assigned"], "records": m["records"]}
            for m in res["members"]], 4, 4)

    def test_idempotent_producer(self):
        create(self.broker, [("plt-idem", 2, 1)])
        records = [(i % 2, None, b"idem-%d" % i, ()) for i in range(10)]
        res = cio.platformatic({"op": "produce", "broker": self.broker.bootstrap,
                                "topic": "plt-idem", "codec": "none", "idempotent": True,
                                "records": cio.platformatic_records(records)})
        self.assertGreaterEqual(int(res["producerId"]), 0)
        with kr.connect(self.broker) as conn:
            for p in range(2):
                batches, hw = conn.read_all_batches("plt-idem", p)
                self.assertEqual(hw, 5)
                # producer id and base sequence from the batch header (offsets 43 and 53)
                self.assertEqual([struct.unpack_from(">qhi", b.raw, 43) for b in batches],
                                 [(int(res["producerId"]), 0, 0)])
                self.assertEqual([r["value"] for b in batches for r in b.records],
                                 [v for q, _, v, _ in records if q == p])

    def test_transactions_commit_and_abort(self):
        create(self.broker, [("plt-txn", 3, 1)])
        committed = [(0, b"k", b"commit-0", ()), (1, None, b"commit-1", ())]
        aborted = [(0, None, b"abort-0", ()), (2, None, b"abort-2", ())]
        cio.platformatic({"op": "txn", "broker": self.broker.bootstrap, "topic": "plt-txn",
                          "transactionalId": "plt-txn-id",
                          "commit": cio.platformatic_records(committed),
                          "abort": cio.platformatic_records(aborted)})
        self.assertEqual(consume_all(self.broker.bootstrap, "plt-txn", 3, committed_only=True),
                         {0: ["commit-0"], 1: ["commit-1"], 2: []})
        self.assertEqual(consume_all(self.broker.bootstrap, "plt-txn", 3, committed_only=False),
                         {0: ["commit-0", "abort-0"], 1: ["commit-1"], 2: ["abort-2"]})
        # ... and the platformatic consumer, at read_committed, skips the aborted records too
        rc, _ = cio.platformatic_consume(self.broker.bootstrap, "plt-txn-reader", ["plt-txn"], 2,
                                         isolation="read_committed")
        self.assertEqual(sorted((p, r.value) for (_, p), rs in rc.items() for r in rs),
                         [(0, b"commit-0"), (1, b"commit-1")])

    def test_consume_transform_produce_commits_offsets_in_the_transaction(self):
        create(self.broker, [("plt-eos-in", 2, 1), ("plt-eos-out", 2, 1)])
        records = [(i % 2, None, b"in-%d" % i, ()) for i in range(6)]
        cio.platformatic_produce(self.broker.bootstrap, "plt-eos-in", records)
        res = cio.platformatic({"op": "eos", "broker": self.broker.bootstrap,
                                "group": "plt-eos-group", "from": "plt-eos-in",
                                "to": "plt-eos-out", "transactionalId": "plt-eos-id",
                                "count": 6})
        self.assertEqual(res["copied"], 6)
        got = consume_all(self.broker.bootstrap, "plt-eos-out", 2, committed_only=True)
        self.assertEqual(got, {p: [v.decode() for q, _, v, _ in records if q == p]
                               for p in range(2)})
        # the group's offsets came with the transaction's commit (TxnOffsetCommit)
        from confluent_kafka import Consumer, TopicPartition
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "plt-eos-group"})
        try:
            offsets = c.committed([TopicPartition("plt-eos-in", p) for p in range(2)], timeout=30)
        finally:
            c.close()
        self.assertEqual([(o.partition, o.offset) for o in offsets], [(0, 3), (1, 3)])


@unittest.skipIf(MISSING, MISSING)
class PlatformaticSecurityTest(unittest.TestCase):
    """SASL_PLAINTEXT with PLAIN (admin, alice) and SCRAM (carol: SHA-256, dave: SHA-512, set
    with `kaffa user set` on the PLAINTEXT listener), the ACL authorizer, super user admin."""

    @classmethod
    def setUpClass(cls):
        cls.broker = KaffaBroker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
            "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
            "super.users": "User:admin;User:ANONYMOUS"}).start()
        m = cls.broker.wait_for_log(r"kaffa ready listener=SASL_PLAINTEXT://([^\s]+):(\d+)")
        cls.sasl = "%s:%s" % (m.group(1), m.group(2))
        plain = ["-b", cls.broker.bootstrap]
        for user, mechanism in (("carol", "SCRAM-SHA-256"), ("dave", "SCRAM-SHA-512")):
            r = run_kaffa(["user", "set", user, "--mechanism", mechanism, "--password-stdin"]
                          + plain, input="%s-secret\n" % user)
            assert r.returncode == 0, r.stderr
        create(cls.broker, [("plt-sec", 1, 1)])

    @classmethod
    def tearDownClass(cls):
        try:
            cls.broker.stop_and_check()
        finally:
            cls.broker.cleanup()

    def login(self, user, mechanism):
        return {"mechanism": mechanism, "username": user, "password": "%s-secret" % user}

    def grant(self, user, topic, group):
        acls = [{"resourceType": aw.TOPIC, "resourceName": topic, "resourcePatternType": aw.LITERAL,
                 "principal": "User:" + user, "host": "*", "operation": op,
                 "permissionType": aw.ALLOW} for op in (aw.READ, aw.WRITE, aw.DESCRIBE)]
        acls.append({"resourceType": aw.GROUP, "resourceName": group,
                     "resourcePatternType": aw.LITERAL, "principal": "User:" + user, "host": "*",
                     "operation": aw.READ, "permissionType": aw.ALLOW})
        return acls

    def produce_and_read(self, sasl, topic, group, value):
        cio.platformatic({"op": "produce", "broker": self.sasl, "sasl": sasl, "topic": topic,
                          "records": cio.platformatic_records([(0, None, value, ())])})
        res = cio.platformatic({"op": "consume", "broker": self.sasl, "sasl": sasl,
                                "group": group, "topics": [topic], "count": 1})
        return [cio._unb64(r["value"]) for r in res["records"]]

    def test_each_mechanism_logs_in(self):
        for user, mechanism in (("admin", "PLAIN"), ("carol", "SCRAM-SHA-256"),
                                ("dave", "SCRAM-SHA-512")):
            with self.subTest(mechanism=mechanism):
                topic = "plt-login-%s" % user
                create(self.broker, [(topic, 1, 1)])
                admin = self.login("admin", "PLAIN")
                if user != "admin":
                    cio.platformatic({"op": "acls", "broker": self.sasl, "sasl": admin,
                                      "create": self.grant(user, topic, "g-" + user),
                                      "filter": {"resourceType": aw.GROUP, "resourceName": "none",
                                                 "resourcePatternType": aw.LITERAL,
                                                 "principal": None, "host": None,
                                                 "operation": aw.ANY_OP,
                                                 "permissionType": aw.ANY_PERMISSION}})
                self.assertEqual(self.produce_and_read(self.login(user, mechanism), topic,
                                                       "g-" + user, b"from-" + user.encode()),
                                 [b"from-" + user.encode()])
        with self.assertRaisesRegex(AssertionError, "SASL_AUTHENTICATION_FAILED"):
            cio.platformatic({"op": "produce", "broker": self.sasl, "topic": "plt-sec",
                              "sasl": {"mechanism": "SCRAM-SHA-256", "username": "carol",
                                       "password": "wrong"},
                              "records": cio.platformatic_records([(0, None, b"x", ())])})

    def test_acls_through_the_admin_client(self):
        alice = self.login("alice", "PLAIN")
        with self.assertRaisesRegex(AssertionError, "TOPIC_AUTHORIZATION_FAILED"):
            self.produce_and_read(alice, "plt-sec", "plt-sec-group", b"refused")
        grants = self.grant("alice", "plt-sec", "plt-sec-group")
        topic_filter = {"resourceType": aw.TOPIC, "resourceName": "plt-sec",
                        "resourcePatternType": aw.LITERAL, "principal": "User:alice",
                        "host": None, "operation": aw.ANY_OP,
                        "permissionType": aw.ANY_PERMISSION}
        # create, describe and delete through the client; the group's grant stays
        res = cio.platformatic({"op": "acls", "broker": self.sasl,
                                "sasl": self.login("admin", "PLAIN"), "create": grants,
                                "filter": topic_filter})
        want = sorted((a["resourceType"], a["resourceName"], a["operation"]) for a in grants[:3])
        self.assertEqual(sorted((a["resourceType"], a["resourceName"], a["operation"])
                                for a in res["described"]), want)
        self.assertEqual(len(res["deleted"]), 3)
        self.assertEqual(res["after"], [])
        with self.assertRaisesRegex(AssertionError, "TOPIC_AUTHORIZATION_FAILED"):
            self.produce_and_read(alice, "plt-sec", "plt-sec-group", b"refused")
        # granted again (and kept): alice produces and reads in her group
        cio.platformatic({"op": "acls", "broker": self.sasl, "sasl": self.login("admin", "PLAIN"),
                          "create": grants,
                          "filter": dict(topic_filter, resourceName="nothing-here")})
        self.assertEqual(self.produce_and_read(alice, "plt-sec", "plt-sec-group", b"allowed"),
                         [b"allowed"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
