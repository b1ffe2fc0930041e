#!/usr/bin/python3
"""Consumer groups survive the failover of their coordinator without losing committed offsets.

__consumer_offsets has RF=3 (offsets.topic.replication.factor=3, 3 partitions). The group's
coordinator is the leader of partition abs(hashCode(group)) % 3 of __consumer_offsets:
FindCoordinator asked of any broker must name exactly that broker.

1. A member (confluent_kafka, subscribe) reads half of each partition of a 3-partition RF=3
   topic and commits those offsets synchronously; it stays in the group.
2. The coordinator gets SIGKILL. The survivors must name a new, live coordinator (the new leader
   of the offsets partition). The committed offsets, asked through the survivors, are those of
   step 1. The member (still running) reads on to the end and commits again; the commit must
   succeed with the new coordinator (retried while the client rediscovers it).
3. The killed broker restarts and rejoins the ISR of __consumer_offsets; then the coordinator of
   that moment gets SIGKILL too. The committed offsets are still the ends; a new member of the
   group starts exactly there: it reads only records produced afterwards.

A consumer group of KIP-848's protocol keeps its members, epochs and assignments across the
failover: its records are on every in-sync replica of the offsets partition, and the new
coordinator replays them (ConsumerProtocolFailoverTest, raw heartbeats).
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster_checks as cc  # noqa: E402
import fetch_wire as fw  # noqa: E402
import group_util as gu  # noqa: E402
import kafka_wire as kw  # noqa: E402
import txn_wire as tw  # noqa: E402
from test_consumer_group_protocol import Heartbeats  # noqa: E402
from cluster_harness import (KaffaCluster, find_coordinator, offsets_partition,  # noqa: E402
                             wait_until, WAIT_S)

TOPIC = "grp-data"
GROUP = "failover-group"
PARTITIONS = 3
PER_PARTITION = 100
COORDINATOR_NOT_AVAILABLE = 15


def agreed_coordinator(c, exclude=(), group=GROUP):
    """The coordinator every live broker names for the group, which must be the leader of the
    group's __consumer_offsets partition (and live, not in `exclude`)."""
    op = offsets_partition(group, 3)
    state = {}

    def agreed():
        leader = c.wait_leaders("__consumer_offsets", exclude=exclude)[op]["leader"]
        answers = {b.node_id: find_coordinator(b, group) for b in c.live()}
        state["answers"], state["leader"] = answers, leader
        want = (0, leader, c.broker(leader).bind_host, c.broker(leader).port)
        return leader if all(a == want for a in answers.values()) else None
    node = wait_until(agreed, "every broker to name the leader of __consumer_offsets-%d as "
                      "coordinator of %s" % (op, group), describe=lambda: state)
    return c.broker(node)


class GroupFailoverTest(unittest.TestCase):
    def test_committed_offsets_survive_coordinator_failover(self):
        with KaffaCluster(3) as cluster:
            self.scenario(cluster)

    def coordinator(self, c, exclude=(), group=GROUP):
        return agreed_coordinator(c, exclude, group)

    def scenario(self, c):
        from confluent_kafka import Consumer
        c.create_topic(TOPIC, PARTITIONS, 3)
        c.wait_full_isr(TOPIC)
        ends = gu.produce_spread(c.broker(1), TOPIC, PARTITIONS, PER_PARTITION)
        self.assertEqual(ends, {p: PER_PARTITION for p in range(PARTITIONS)})

        member = Consumer({"bootstrap.servers": c.bootstrap, "group.id": GROUP,
                           "auto.offset.reset": "earliest", "enable.auto.commit": False,
                           "session.timeout.ms": 10000,
                           "topic.metadata.refresh.interval.ms": 1000})
        self.addCleanup(member.close)
        member.subscribe([TOPIC])
        half = PER_PARTITION // 2
        seen = {p: set() for p in range(PARTITIONS)}
        self.read_until(member, seen, lambda: all(len(s) >= half for s in seen.values()),
                        "the member to read half of each partition")
        # Commit exactly `half` per partition (it may have read further).
        self.commit(member, {p: half for p in range(PARTITIONS)})
        offsets = c.wait_full_isr("__consumer_offsets")
        self.assertEqual(sorted(offsets), [0, 1, 2])
        for i, p in offsets.items():
            self.assertEqual(sorted(p["replicas"]), [1, 2, 3],
                             "__consumer_offsets-%d must have 3 replicas "
                             "(offsets.topic.replication.factor=3, 3 brokers live when the first "
                             "group needed it)" % i)
        first = self.coordinator(c)
        self.assertEqual(gu.committed(c.bootstrap, GROUP, TOPIC, PARTITIONS),
                         {p: half for p in range(PARTITIONS)})

        first.kill9()
        second = self.coordinator(c, exclude=[first.node_id])
        self.assertNotEqual(second.node_id, first.node_id)
        survivors = ",".join(b.bootstrap for b in c.live())
        self.assertEqual(gu.committed(survivors, GROUP, TOPIC, PARTITIONS),
                         {p: half for p in range(PARTITIONS)},
                         "committed offsets after the coordinator %d died" % first.node_id)

        self.read_until(member, seen, lambda: all(len(s) == PER_PARTITION for s in seen.values()),
                        "the member to read every record after the failover")
        self.commit(member, {p: PER_PARTITION for p in range(PARTITIONS)})
        member.close()
        self.assertEqual(gu.committed(survivors, GROUP, TOPIC, PARTITIONS),
                         {p: PER_PARTITION for p in range(PARTITIONS)})

        c.restart(first)
        c.wait_full_isr("__consumer_offsets")
        third = self.coordinator(c)
        third.kill9()
        self.coordinator(c, exclude=[third.node_id])
        survivors = ",".join(b.bootstrap for b in c.live())
        self.assertEqual(gu.committed(survivors, GROUP, TOPIC, PARTITIONS),
                         {p: PER_PARTITION for p in range(PARTITIONS)},
                         "committed offsets after the second coordinator failover (broker %d)"
                         % third.node_id)

        more = gu.produce_spread(c.live()[0], TOPIC, PARTITIONS, 5, tag=b"late-")
        self.assertEqual(more, {p: PER_PARTITION + 5 for p in range(PARTITIONS)})
        got = cc.group_read_all(survivors, TOPIC, more, GROUP, commit=False)
        for p in range(PARTITIONS):
            self.assertEqual(sorted(got[p]), list(range(PER_PARTITION, PER_PARTITION + 5)),
                             "partition %d: a new member must start at the committed offset %d"
                             % (p, PER_PARTITION))
        c.restart(third)

    def read_until(self, member, seen, done, what):
        deadline = time.monotonic() + WAIT_S
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError("timed out waiting for %s; read %s"
                                     % (what, {p: len(s) for p, s in seen.items()}))
            for m in member.consume(num_messages=100, timeout=0.5):
                if m.error() is None:
                    seen[m.partition()].add(m.offset())

    def commit(self, member, offsets):
        """Synchronous commit of {p: next offset}; retried while the coordinator moves."""
        from confluent_kafka import KafkaException, TopicPartition
        tps = [TopicPartition(TOPIC, p, off) for p, off in offsets.items()]
        errors = []

        def attempt():
            member.poll(0)  # serves the group protocol (rejoin after a coordinator change)
            try:
                res = member.commit(offsets=tps, asynchronous=False)
            except KafkaException as e:
                errors.append(e.args[0])
                return False
            bad = [tp for tp in res if tp.error is not None]
            errors.extend(tp.error for tp in bad)
            return not bad
        wait_until(attempt, "a synchronous commit of %s" % offsets,
                   describe=lambda: "errors: %s" % errors[-5:])


class ConsumerProtocolFailoverTest(Heartbeats, unittest.TestCase):
    def test_members_survive_coordinator_failover(self):
        group, topic = "kip848-failover", "kip848-data"
        with KaffaCluster(3) as c:
            c.create_topic(topic, 4, 3)
            c.wait_full_isr(topic)
            find_coordinator(c.broker(1), group)  # makes __consumer_offsets, as a client would
            first = agreed_coordinator(c, group=group)
            c.wait_full_isr("__consumer_offsets")
            with kw.connect(first) as conn:
                tid = fw.topic_ids(conn, [topic])[topic]
                m1 = self.join(conn, group, [topic])
                m2 = self.join(conn, group, [topic])
                members = {m1["member_id"]: [m1["member_epoch"], m1["assignment"]],
                           m2["member_id"]: [m2["member_epoch"], m2["assignment"]]}
                self.settle(conn, group, members)
                before = self.describe(conn, group)
            first.kill9()
            second = agreed_coordinator(c, exclude=[first.node_id], group=group)
            self.assertNotEqual(second.node_id, first.node_id)
            with kw.connect(second) as conn:
                after = self.describe(conn, group)
                self.assertEqual(after["error_code"], 0, after)
                self.assertEqual(
                    {m["member_id"]: (m["epoch"], sorted(m["assignment"].values()))
                     for m in after["members"]},
                    {m["member_id"]: (m["epoch"], sorted(m["assignment"].values()))
                     for m in before["members"]})
                # The members heartbeat on with their ids and epochs, and still share the topic.
                self.settle(conn, group, members)
                self.assertEqual(sorted(p for _, a in members.values() for p in a[tid]),
                                 [0, 1, 2, 3])
            c.restart(first)


class ConsumerProtocolWithoutEnoughReplicasTest(Heartbeats, unittest.TestCase):
    def test_a_refused_join_is_undone(self):
        """With min.insync.replicas=2 and the coordinator alone in the ISR of the group's offsets
        partition, a join is answered COORDINATOR_NOT_AVAILABLE and leaves nothing behind: the
        group keeps its one member and its epoch (as Kafka's coordinator reverts a failed write),
        while the member's steady heartbeats are answered. Once the other replicas are back, the
        join takes the next epoch."""
        group, topic = "kip848-min-isr", "kip848-min-isr-data"
        with KaffaCluster(3, overrides={"min.insync.replicas": "2",
                                        "replica.lag.time.max.ms": "2000"}) as c:
            c.create_topic(topic, 2, 3)
            find_coordinator(c.broker(1), group)  # makes __consumer_offsets, as a client would
            coordinator = agreed_coordinator(c, group=group)
            c.wait_full_isr("__consumer_offsets")
            op = offsets_partition(group, 3)
            with kw.connect(coordinator) as conn:
                a = self.join(conn, group, [topic])
                members = {a["member_id"]: [a["member_epoch"], a["assignment"]]}
                self.settle(conn, group, members)
                before = self.describe(conn, group)
                others = [b for b in c.brokers if b.node_id != coordinator.node_id]
                for b in others:
                    b.kill9()
                c.wait_isr("__consumer_offsets", op, lambda p: p["isr"] == [coordinator.node_id],
                           "the ISR of __consumer_offsets-%d shrinking to its leader" % op)
                r = self.hb(conn, group, "", 0, topics=[topic], owned={},
                            rebalance_timeout_ms=30000)
                self.assertEqual(r["error_code"], COORDINATOR_NOT_AVAILABLE, r)
                after = self.describe(conn, group)
                self.assertEqual((after["group_epoch"], [m["member_id"] for m in after["members"]]),
                                 (before["group_epoch"], list(members)))
                (mid, (epoch, assignment)), = members.items()
                r = self.hb(conn, group, mid, epoch, owned=assignment)
                self.assertEqual((r["error_code"], r["member_epoch"]), (0, epoch), r)
                for b in others:
                    c.restart(b)
                c.wait_full_isr("__consumer_offsets")
                b = self.join(conn, group, [topic])
                self.assertEqual(b["member_epoch"], before["group_epoch"] + 1, b)


class CoordinatorWithoutReplicaTest(unittest.TestCase):
    def test_commit_for_a_partition_the_coordinator_does_not_host(self):
        """OffsetCommit checks that the partition exists in the cluster, as Kafka's metadata
        cache does, not that the coordinator holds a replica of it (it did before: any group
        whose coordinator was not a replica of its topic got UNKNOWN_TOPIC_OR_PARTITION)."""
        from confluent_kafka import Consumer, TopicPartition
        with KaffaCluster(3) as c:
            c.create_topic("solo", 1, assignment=[[1]])
            group = None
            for i in range(100):
                name = "elsewhere-%d" % i
                err, node, _h, _p = wait_until(
                    lambda: (lambda a: a if a[0] == 0 else None)(find_coordinator(c.broker(1),
                                                                                  name)),
                    "a coordinator for %s" % name)
                if node != 1:
                    group = name
                    break
            self.assertIsNotNone(group)
            consumer = Consumer({"bootstrap.servers": c.bootstrap, "group.id": group,
                                 "enable.auto.commit": False})
            try:
                result = consumer.commit(offsets=[TopicPartition("solo", 0, 5)],
                                         asynchronous=False)
                self.assertEqual([(tp.topic, tp.partition, tp.offset, tp.error)
                                  for tp in result], [("solo", 0, 5, None)])
                got = consumer.committed([TopicPartition("solo", 0)], timeout=30)
                self.assertEqual(got[0].offset, 5)
            finally:
                consumer.close()
            # A broker that is not the group's coordinator answers NOT_COORDINATOR per partition
            # (here TxnOffsetCommit, as OffsetCommit does).
            b = c.broker(1)
            with tw.TxnConnection(b.host, b.port) as conn:
                self.assertEqual(conn.txn_commit(3, "txn-x", group, 7, 0, {"solo": [(0, 6, "")]}),
                                 {("solo", 0): 16})


if __name__ == "__main__":
    unittest.main()
