#!/usr/bin/python3
"""A broker frozen with SIGSTOP (alive, its sockets open, but silent) leaves the ISR; produce
continues; after SIGCONT it truncates what it must, catches up and rejoins the ISR.

RF=3, min.insync.replicas=2, replica.lag.time.max.ms=3000, broker.session.timeout.ms=8000 (so a
frozen follower leaves the ISR by the leader's lag check before its lease runs out).

test_frozen_follower: a follower of the partition is frozen while an acks=all producer runs.
The leader must drop it from the ISR (and keep the other two), and acknowledgements must go on
while it is frozen. After SIGCONT it must be back in the ISR, with the same log files as the
others, and every acknowledged record in place. The leader's /metrics follow: one more
under-replicated partition (at min.insync.replicas) and one more ISR shrink while the follower
is out, then one more expansion and the under-replicated count back where it was.

test_frozen_leader: the followers are frozen for a moment while three batches are written to the
leader with acks=1, one after the other (a frozen follower sends no new fetch, so at least the
last is on the leader alone), then the leader is frozen and the followers thawed. The survivors must elect a new leader (its lease ran out) and accept
acks=all writes. After SIGCONT the old leader must become a follower, drop whatever the new
leader does not have (KIP-101 truncation) and rejoin the ISR with byte-identical logs; every
acks=all acknowledgement must be there, and the last acks=1 record must be gone (truncated).
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster_checks as cc  # noqa: E402
import kafka_records as kr  # noqa: E402
from cluster_harness import KaffaCluster  # noqa: E402

PROGRESS = 200


def wait_metrics(broker, pred, what, timeout=30.0):
    """The leader applies an ISR change on its own loop just after the image that Metadata
    answers from: polls /metrics until pred holds."""
    deadline = time.monotonic() + timeout
    while True:
        got = broker.metrics(*REPLICATION)
        if pred(got):
            return got
        if time.monotonic() > deadline:
            raise AssertionError("broker %d /metrics: %s; last %r" % (broker.node_id, what, got))
        time.sleep(0.05)


REPLICATION = ("kaffa_under_replicated_partitions", "kaffa_at_min_isr_partitions",
               "kaffa_under_min_isr_partitions", "kaffa_isr_shrinks_total",
               "kaffa_isr_expands_total", "kaffa_leader_partitions", "kaffa_replica_max_lag")


class IsrTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Sessions outlive the lag time: a frozen follower leaves the ISR because it stops
        # fetching (the leader's replica.lag.time.max.ms check), not because its lease expired.
        cls.cluster = KaffaCluster(3, overrides={"auto.leader.rebalance.enable": "false",
                                                 "broker.session.timeout.ms": "8000"})
        cls.cluster.__enter__()

    @classmethod
    def tearDownClass(cls):
        for b in cls.cluster.brokers:
            if b.alive():
                b.thaw()
        cls.cluster.__exit__(None, None, None)

    def producer(self, topic, tag):
        prod = cc.AckedProducer(self.cluster.bootstrap, topic, 1, tag=tag)
        prod.start()
        self.addCleanup(prod.abandon)
        return prod

    def test_frozen_follower(self):
        c = self.cluster
        topic = "isr-follower"
        c.create_topic(topic, 1, 3, configs={"min.insync.replicas": "2"})
        part = c.wait_full_isr(topic)[0]
        leader = part["leader"]
        frozen = c.broker(next(r for r in part["replicas"] if r != leader))
        others = sorted(r for r in part["replicas"] if r != frozen.node_id)

        prod = self.producer(topic, "fol")
        prod.wait_acks(PROGRESS)
        lead = c.broker(leader)
        before = lead.metrics(*REPLICATION)
        self.assertGreaterEqual(before["kaffa_leader_partitions"], 1, before)
        frozen.freeze()
        try:
            c.wait_isr(topic, 0, lambda p: sorted(p["isr"]) == others and p["leader"] == leader,
                       "broker %d (frozen) to leave the ISR of %s-0, leaving %s led by %d"
                       % (frozen.node_id, topic, others, leader))
            n = prod.n_acked()
            prod.wait_acks(n + PROGRESS, what="with broker %d frozen and out of the ISR "
                           % frozen.node_id)
            out = wait_metrics(lead, lambda m: m["kaffa_isr_shrinks_total"] >
                               before["kaffa_isr_shrinks_total"], "an ISR shrink counted")
            self.assertEqual(out["kaffa_under_replicated_partitions"],
                             before["kaffa_under_replicated_partitions"] + 1, (before, out))
            self.assertEqual(out["kaffa_at_min_isr_partitions"],
                             before["kaffa_at_min_isr_partitions"] + 1, (before, out))
            self.assertEqual(out["kaffa_under_min_isr_partitions"],
                             before["kaffa_under_min_isr_partitions"], (before, out))
        finally:
            frozen.thaw()
        c.wait_isr(topic, 0, lambda p: sorted(p["isr"]) == [1, 2, 3] and p["leader"] == leader,
                   "broker %d back in the ISR of %s-0 (leader still %d)"
                   % (frozen.node_id, topic, leader))
        back = wait_metrics(lead, lambda m: m["kaffa_isr_expands_total"] >
                            before["kaffa_isr_expands_total"], "an ISR expansion counted")
        self.assertEqual(back["kaffa_under_replicated_partitions"],
                         before["kaffa_under_replicated_partitions"], (before, back))
        self.assertEqual(back["kaffa_at_min_isr_partitions"],
                         before["kaffa_at_min_isr_partitions"], (before, back))
        prod.wait_acks(prod.n_acked() + PROGRESS, what="after the thaw ")
        acked, errors = prod.finish()
        self.assertEqual(errors, [])
        cc.check_acked(c, topic, 1, acked)
        # Nothing more is produced: every follower's lag comes down to 0.
        for b in c.live():
            with self.subTest(broker=b.node_id):
                wait_metrics(b, lambda m: m["kaffa_replica_max_lag"] == 0, "replica lag 0")

    def test_frozen_leader(self):
        c = self.cluster
        topic = "isr-leader"
        c.create_topic(topic, 1, 3, configs={"min.insync.replicas": "2"})
        part = c.wait_full_isr(topic)[0]
        old = c.broker(part["leader"])
        followers = [c.broker(r) for r in part["replicas"] if r != old.node_id]

        prod = self.producer(topic, "ldr")
        prod.wait_acks(PROGRESS)
        acked_before, errors = prod.finish()
        self.assertEqual(errors, [])

        # Frozen followers send no new fetch; a fetch each had parked at the leader may still
        # take the first record. The others, appended one after the other (each answered before
        # the next is sent), are on the leader alone.
        lone = [b"acks1-lone-%d" % i for i in range(3)]
        for f in followers:
            f.freeze()
        try:
            with kr.connect(old) as conn:
                for v in lone:
                    res = conn.produce([(topic, [(0, kr.encode_batch([(None, v, ())]))])],
                                       acks=1)[(topic, 0)]
                    self.assertEqual(res["error_code"], 0, "acks=1 produce to leader %r: %r"
                                     % (old, res))
            old.freeze()
        finally:
            for f in followers:
                f.thaw()
        try:
            part = c.wait_isr(
                topic, 0, lambda p: p["leader"] in [f.node_id for f in followers],
                "a new leader for %s-0 among %s after leader %d froze"
                % (topic, [f.node_id for f in followers], old.node_id))
            prod = self.producer(topic, "new")
            prod.wait_acks(PROGRESS, what="from the new leader %d " % part["leader"])
            acked_after, errors = prod.finish()
            self.assertEqual(errors, [])
            # What the new leader took over: normally the first lone record at most. A fetch
            # the leader had not read yet when the followers froze (a loaded machine) is
            # answered with all three, and then nothing diverges.
            taken = [r["value"] for b in cc.replica_batches(c.broker(part["leader"]), topic, 0)
                     for r in b.records if r["value"] in lone]
        finally:
            old.thaw()
        c.wait_full_isr(topic)
        logs = cc.check_acked(c, topic, 1, acked_before + acked_after)
        kept = [r["value"] for b in logs[0] for r in b.records if r["value"] in lone]
        self.assertEqual(kept, taken, "the agreed log's lone acks=1 records are not those the new "
                         "leader had: the old leader did not truncate its divergent tail")
        sys.stderr.write("frozen leader: of its lone acks=1 records, %s were replicated before the "
                         "freeze, the rest truncated after the thaw\n" % kept)

if __name__ == "__main__":
    unittest.main()
