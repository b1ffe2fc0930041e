#!/usr/bin/python3
"""Leader failover under acks=all load: nothing acknowledged is ever lost.

A topic with RF=3, 3 partitions, min.insync.replicas=2. An idempotent librdkafka producer
(confluent_kafka, acks=all, retries within message.timeout.ms) produces without pause. ROUNDS
times in a row: once the producer has made progress since the last round, the leader of one
partition (partition round % 3) is killed with SIGKILL; the survivors must elect a new leader for
it (seen alike by both); the producer must get acknowledgements again; the killed broker is
restarted on its data directory and must rejoin the ISR of every partition.

Then the producer stops (every outstanding record gets its delivery report), and after the
cluster settles (full ISR everywhere):
- every replica's log files hold the same batches, byte for byte;
- every acknowledged (partition, offset, value) is on every replica at exactly that offset,
  offsets are contiguous, and no acknowledged value is stored twice (idempotence across
  failovers);
- no delivery failed (the producer's retries must ride out each failover);
- a consumer in a group reads every acknowledged record at its offset.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster_checks as cc  # noqa: E402
from cluster_harness import KaffaCluster  # noqa: E402

ROUNDS = int(os.environ.get("KAFFA_FAILOVER_ROUNDS", "10"))
PARTITIONS = 3
PROGRESS = 150  # acknowledgements between two kills


class FailoverTest(unittest.TestCase):
    def test_kill9_leader_repeatedly_under_acks_all(self):
        with KaffaCluster(3) as cluster:
            self.run_rounds(cluster)

    def run_rounds(self, cluster):
        topic = "failover"
        cluster.create_topic(topic, PARTITIONS, 3, configs={"min.insync.replicas": "2"})
        cluster.wait_full_isr(topic)
        prod = cc.AckedProducer(cluster.bootstrap, topic, PARTITIONS, tag="fo")
        prod.start()
        finished = False
        try:
            for rnd in range(ROUNDS):
                prod.wait_acks(prod.n_acked() + PROGRESS, what="before round %d " % rnd)
                p = rnd % PARTITIONS
                victim = cluster.leader(topic, p)
                victim.kill9()
                parts = cluster.wait_leaders(topic, exclude=[victim.node_id])
                new = parts[p]["leader"]
                self.assertNotEqual(new, victim.node_id)
                self.assertIn(new, parts[p]["replicas"])
                prod.wait_acks(prod.n_acked() + PROGRESS,
                               what="after killing broker %d (round %d) " % (victim.node_id, rnd))
                cluster.restart(victim)
                cluster.wait_full_isr(topic)
            prod.wait_acks(prod.n_acked() + PROGRESS, what="after the last round ")
            acked, errors = prod.finish()
            finished = True
        finally:
            if not finished:
                prod.abandon()

        self.assertEqual(errors, [], "%d deliveries failed (first: %s) although the idempotent "
                         "producer retries through failovers" % (len(errors), errors[:3]))
        self.assertGreaterEqual(len(acked), PROGRESS * (2 * ROUNDS + 1))
        cluster.wait_full_isr(topic)
        cc.check_acked(cluster, topic, PARTITIONS, acked)

        ends = cc.partition_ends(acked, PARTITIONS)
        got = cc.group_read_all(cluster.bootstrap, topic, ends, "failover-readers")
        missing = [(p, off) for p, off, v in acked if got.get(p, {}).get(off) != v]
        self.assertEqual(missing[:10], [], "%d acknowledged records not read by the group "
                         "consumer at their offsets" % len(missing))


if __name__ == "__main__":
    unittest.main()
