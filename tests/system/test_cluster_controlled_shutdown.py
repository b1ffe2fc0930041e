#!/usr/bin/python3
"""Controlled shutdown of each broker in turn under load: no produce errors beyond retries.

RF=3, 3 partitions, min.insync.replicas=2, an idempotent acks=all librdkafka producer running
throughout. broker.session.timeout.ms is long (30 s) while the producer's message.timeout.ms is
short (10 s): a broker that just vanished would leave its partitions leaderless for the whole
session and the producer's records would time out. So the test passes only if SIGTERM really
moves leadership away first (and revokes the broker's registration, so that the restart with
the same node.id is accepted at once).

For broker 1, 2, 3 in turn: SIGTERM, the broker must exit 0; the two others must agree on new
leaders from the ISR for every partition; the producer must get acknowledgements while the
broker is down; restart; the broker must be listed again and rejoin every ISR.
At the end: no delivery failed, every acknowledged record is on every replica at its offset
exactly once, and the replicas' log files are identical.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster_checks as cc  # noqa: E402
from cluster_harness import KaffaCluster  # noqa: E402

PARTITIONS = 3
PROGRESS = 150


class ControlledShutdownTest(unittest.TestCase):
    def test_each_broker_in_turn_under_load(self):
        with KaffaCluster(3, overrides={"broker.session.timeout.ms": "30000"}) as cluster:
            self.scenario(cluster)

    def scenario(self, c):
        topic = "cs"
        c.create_topic(topic, PARTITIONS, 3, configs={"min.insync.replicas": "2"})
        c.wait_full_isr(topic)
        prod = cc.AckedProducer(c.bootstrap, topic, PARTITIONS, tag="cs",
                                extra={"message.timeout.ms": 10000})
        prod.start()
        finished = False
        try:
            for b in c.brokers:
                prod.wait_acks(prod.n_acked() + PROGRESS, what="before stopping broker %d "
                               % b.node_id)
                code = b.stop()
                self.assertEqual(code, 0, "broker %d exited with %s after SIGTERM; log tail:\n%s"
                                 % (b.node_id, code, "\n".join(b.log_lines()[-30:])))
                c.wait_leaders(topic, exclude=[b.node_id])
                prod.wait_acks(prod.n_acked() + PROGRESS, what="with broker %d stopped "
                               % b.node_id)
                self.assertEqual(prod.errors, [], "delivery failures around the controlled "
                                 "shutdown of broker %d" % b.node_id)
                c.restart(b)
                c.wait_full_isr(topic)
            acked, errors = prod.finish()
            finished = True
        finally:
            if not finished:
                prod.abandon()
        self.assertEqual(errors, [], "%d deliveries failed: %s" % (len(errors), errors[:3]))
        cc.check_acked(c, topic, PARTITIONS, acked)


if __name__ == "__main__":
    unittest.main()
