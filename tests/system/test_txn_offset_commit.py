#!/usr/bin/python3
"""TxnOffsetCommit (API 28) on a single node, over raw sockets (txn_wire.py, group_wire.py).

The offsets of a TxnOffsetCommit are written as the producer's transactional batch and stay
pending until the transaction's marker: the request answers NONE per partition, but OffsetFetch
does not show the offsets (a plain commit made earlier stays visible) and OffsetFetch v7 with
require_stable answers UNSTABLE_OFFSET_COMMIT for those partitions — also after a restart (the
replay finds the batch without a marker). Kafka's per-partition errors: unknown topics and
partitions, metadata above offset.metadata.max.bytes, an empty group id, a stale producer epoch,
and the v3 member checks (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, FENCED_INSTANCE_ID).
Authorization (a second broker with SASL and ACLs): TRANSACTIONAL_ID WRITE, then GROUP READ, then
TOPIC READ, each with its error code. NOT_COORDINATOR needs a cluster: test_cluster_groups.py.

These raw requests name producer ids no transaction coordinator handed out, so the brokers run
without KIP-890 verification (transaction.partition.verification.enable=false), which would
refuse them: test_txn_verification.py covers that check for TxnOffsetCommit.

Completion (the commit or abort marker making the offsets visible or dropping them) runs through
the transaction coordinator with a real client in test_transactions.py (offsets sent with a
transaction) and test_cluster_transactions.py; the replay rules in coordinator_shard_txn_test.cc.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase, KaffaBroker  # noqa: E402
import acl_wire as aw  # noqa: E402
import group_wire as gw  # noqa: E402
import kafka_wire as kw  # noqa: E402
import txn_wire as tw  # noqa: E402

T = "txn-offsets"
TXN = "txn-1"
PID = 4242


class TxnOffsetCommitTest(BrokerTestCase):
    BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0",
                        "offset.metadata.max.bytes": "16",
                        "transaction.partition.verification.enable": "false"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with kw.connect(cls.broker) as conn:
            assert conn.create_topics([(T, 2, 1)]) == {T: 0}

    def conn(self):
        c = tw.connect(self.broker)
        self.addCleanup(c.close)
        return c

    def group_conn(self):
        c = gw.connect(self.broker)
        self.addCleanup(c.close)
        return c

    def assert_pending(self, group, partitions, committed=None):
        """The partitions' offsets are invisible (or the earlier plain commit shows) and
        require_stable answers UNSTABLE_OFFSET_COMMIT for them."""
        committed = committed or {}
        want = {(T, p): (committed.get(p, -1), "", 0) for p in partitions}
        self.assertEqual(self.group_conn().fetch_offsets(5, group, {T: partitions}), (0, want))
        self.assertEqual(self.conn().fetch_v7(group, {T: partitions}, False), (0, want))
        stable = {(T, p): (-1, "", tw.UNSTABLE_OFFSET_COMMIT) for p in partitions}
        self.assertEqual(self.conn().fetch_v7(group, {T: partitions}, True), (0, stable))

    def test_every_version_answers_none_and_the_offsets_stay_pending(self):
        for version in range(4):
            group = "txn-g-v%d" % version
            with self.subTest(version=version):
                got = self.conn().txn_commit(version, TXN, group, PID, 0,
                                             {T: [(0, 5, "m"), (1, 6, None)]})
                self.assertEqual(got, {(T, 0): 0, (T, 1): 0})
                self.assert_pending(group, [0, 1])
                # All partitions: only committed ones are listed, and none is.
                self.assertEqual(self.conn().fetch_v7(group, None, True), (0, {}))

    def test_plain_commit_stays_visible_while_a_transaction_is_pending(self):
        group = "txn-g-mixed"
        self.assertEqual(self.group_conn().commit(2, group, {T: [(0, 3, "")]}), {(T, 0): 0})
        self.assertEqual(self.conn().txn_commit(3, TXN, group, PID + 1, 0, {T: [(0, 5, "")]}),
                         {(T, 0): 0})
        self.assert_pending(group, [0], committed={0: 3})
        # All partitions with require_stable: the committed partition is listed as unstable.
        self.assertEqual(self.conn().fetch_v7(group, None, True),
                         (0, {(T, 0): (-1, "", tw.UNSTABLE_OFFSET_COMMIT)}))
        self.assertEqual(self.group_conn().commit(2, group, {T: [(1, 4, "")]}), {(T, 1): 0})
        self.assertEqual(self.conn().fetch_v7(group, {T: [1]}, True), (0, {(T, 1): (4, "", 0)}))

    def test_unknown_topics_and_partitions(self):
        got = self.conn().txn_commit(2, TXN, "txn-g-unknown", PID, 0,
                                     {T: [(0, 1, ""), (7, 1, "")], "no-such-topic": [(0, 1, "")]})
        self.assertEqual(got, {(T, 0): 0, (T, 7): gw.UNKNOWN_TOPIC_OR_PARTITION,
                               ("no-such-topic", 0): gw.UNKNOWN_TOPIC_OR_PARTITION})

    def test_metadata_too_large_and_empty_group_id(self):
        got = self.conn().txn_commit(1, TXN, "txn-g-meta", PID, 0,
                                     {T: [(0, 1, "x" * 17), (1, 1, "x" * 16)]})
        self.assertEqual(got, {(T, 0): gw.OFFSET_METADATA_TOO_LARGE, (T, 1): 0})
        self.assert_pending("txn-g-meta", [1])
        got = self.conn().txn_commit(3, TXN, "", PID, 0, {T: [(0, 1, "")], "nope": [(0, 1, "")]})
        self.assertEqual(got, {(T, 0): gw.INVALID_GROUP_ID,
                               ("nope", 0): gw.UNKNOWN_TOPIC_OR_PARTITION})

    def test_stale_producer_epoch_is_fenced(self):
        group = "txn-g-epoch"
        self.assertEqual(self.conn().txn_commit(3, TXN, group, PID + 2, 5, {T: [(0, 1, "")]}),
                         {(T, 0): 0})
        self.assertEqual(self.conn().txn_commit(3, TXN, group, PID + 2, 5, {T: [(0, 2, "")]}),
                         {(T, 0): 0})
        self.assertEqual(self.conn().txn_commit(3, TXN, group, PID + 2, 4, {T: [(0, 3, "")]}),
                         {(T, 0): tw.INVALID_PRODUCER_EPOCH})

    def test_v3_member_checks(self):
        group = "txn-g-members"
        one = {T: [(0, 1, "")]}
        c = self.conn()
        # An absent group is an Empty one: members are unknown, a simple commit is fine.
        self.assertEqual(c.txn_commit(3, TXN, group, PID, 0, one, generation=1, member_id="m"),
                         {(T, 0): gw.UNKNOWN_MEMBER_ID})
        joined = self.group_conn().join_as_new_member(group, [T])
        self.assertEqual(joined["error"], 0)
        member, generation = joined["member_id"], joined["generation"]
        self.assertEqual(c.txn_commit(3, TXN, group, PID, 0, one, generation=generation + 1,
                                      member_id=member), {(T, 0): gw.ILLEGAL_GENERATION})
        self.assertEqual(c.txn_commit(3, TXN, group, PID, 0, one, generation=generation,
                                      member_id="someone-else"), {(T, 0): gw.UNKNOWN_MEMBER_ID})
        self.assertEqual(c.txn_commit(3, TXN, group, PID, 0, one, generation=generation,
                                      member_id=member), {(T, 0): 0})
        # Older producers send neither member nor generation: accepted in a non-empty group.
        self.assertEqual(c.txn_commit(2, TXN, group, PID, 0, one), {(T, 0): 0})

    def test_v3_static_member_fenced(self):
        group = "txn-g-static"
        g = self.group_conn()
        first = g.join(5, group, group_instance_id="inst-1",
                       protocols=[("range", gw.consumer_subscription([T]))])
        self.assertEqual(first["error"], 0)
        got = self.conn().txn_commit(3, TXN, group, PID, 0, {T: [(0, 1, "")]},
                                     generation=first["generation"], member_id="not-the-member",
                                     group_instance_id="inst-1")
        self.assertEqual(got, {(T, 0): tw.FENCED_INSTANCE_ID})

    def test_zz_pending_offsets_survive_a_restart(self):
        group = "txn-g-restart"
        self.assertEqual(self.group_conn().commit(2, group, {T: [(0, 3, "")]}), {(T, 0): 0})
        self.assertEqual(self.conn().txn_commit(3, TXN, group, PID + 3, 0, {T: [(0, 8, "")]}),
                         {(T, 0): 0})
        self.broker.stop()
        self.broker.restart()
        self.assert_pending(group, [0], committed={0: 3})


JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="admin" password="admin-secret" user_admin="admin-secret" '
        'user_alice="alice-secret";')


def start_acl_broker(test, **overrides):
    """A started broker with SASL PLAIN (admin, alice), the ACL authorizer and admin as super
    user, stopped and removed when `test` ends."""
    broker = KaffaBroker(overrides=dict({
        "listeners": "SASL_PLAINTEXT://127.0.0.1:0",
        "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
        "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
        "super.users": "User:admin"}, **overrides)).start()
    test.addCleanup(broker.cleanup)
    test.addCleanup(broker.stop_and_check)
    return broker


class TxnOffsetCommitAuthorizationTest(unittest.TestCase):
    """Kafka's order: TRANSACTIONAL_ID WRITE, GROUP READ, then TOPIC READ per topic."""

    def test_each_refusal_in_kafkas_order(self):
        broker = start_acl_broker(self, **{"transaction.partition.verification.enable": "false"})
        with aw.connect(broker, "admin", "admin-secret") as admin:
            corr = admin.next_corr()
            body = admin.round_trip(kw.create_topics_v0(corr, [(T, 1, 1)]), corr, "CreateTopics")
            self.assertEqual(kw.parse_create_topics_v0(body), {T: 0})
        request = (lambda corr: tw.txn_offset_commit(corr, 3, TXN, "txn-auth", PID, 0,
                                                     {T: [(0, 1, "")]}))
        steps = [
            (None, tw.TRANSACTIONAL_ID_AUTHORIZATION_FAILED),
            (aw.acl(aw.TRANSACTIONAL_ID, TXN, aw.WRITE, "User:alice"),
             aw.GROUP_AUTHORIZATION_FAILED),
            (aw.acl(aw.GROUP, "txn-auth", aw.READ, "User:alice"), aw.TOPIC_AUTHORIZATION_FAILED),
            (aw.acl(aw.TOPIC, T, aw.READ, "User:alice"), 0),
        ]
        for grant, want in steps:
            if grant is not None:
                with aw.connect(broker, "admin", "admin-secret") as admin:
                    self.assertEqual([e for e, _ in admin.create_acls([grant])], [0])
            with aw.connect(broker, "alice", "alice-secret") as alice:
                corr = alice.next_corr()
                alice.send(request(corr))
                got_corr, body = alice.read_response(flexible_header=True)
                self.assertEqual(got_corr, corr)
                self.assertEqual(tw.parse_txn_offset_commit(body, 3), {(T, 0): want},
                                 "after granting %s" % (grant,))


if __name__ == "__main__":
    unittest.main()
