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

A consumer group member (confluent_kafka, subscribe) reads and commits throughout (a rolling
restart with consumers: the group's coordinator moves with the offsets partitions' leaders). It
must read every acknowledged record at its offset, with the value produced there, and its last
commit must stand, as the brokers report it, at the end of every partition.
"""

import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster_checks as cc  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402
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
        reader = cc.GroupReader(c.bootstrap, topic, "cs-readers")
        reader.start()
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

        ends = cc.partition_ends(acked, PARTITIONS)
        got = reader.finish(ends)
        missing = [(p, off) for p, off, v in acked if got.get(p, {}).get(off) != v]
        self.assertEqual(missing[:10], [], "%d acknowledged records not read by the group member "
                         "at their offsets" % len(missing))
        self.assertGreater(reader.commits, 3)
        self.assertEqual(cc.committed_offsets(c.bootstrap, topic, PARTITIONS, "cs-readers"), ends,
                         "commit failures on the way: %s" % reader.commit_failures[:5])


class AnswersWhileStoppingTest(unittest.TestCase):
    """After the handover, a client still talking to the stopping broker gets answers on the
    connection it has: NOT_LEADER_OR_FOLLOWER for a Produce, the new leader from Metadata. The
    broker closes the connection once it has been quiet for controlled.shutdown.quiet.ms, then
    exits 0. Before, the connection closed as soon as the handover was done, so a Produce on its
    way was lost unanswered: librdkafka 2.0 then counts it as possibly written, and took the new
    leader's OUT_OF_ORDER_SEQUENCE_NUMBER for the next batch as fatal (seen in the test above)."""

    def test_requests_after_the_handover_are_answered(self):
        with KaffaCluster(3, overrides={"controlled.shutdown.quiet.ms": "2000"}) as c:
            topic = "quiet"
            c.create_topic(topic, 1, 3)
            c.wait_full_isr(topic)
            old = c.leader(topic, 0)
            conn = kw.connect(old)

            def partition():
                corr = conn.next_corr()
                body = conn.round_trip(kw.metadata_request(corr, 1, [topic]), corr, "Metadata")
                return kw.parse_metadata(body, 1)["topics"][0]["partitions"][0]

            mark = old.log_mark()
            old.proc.send_signal(signal.SIGTERM)
            # Busy with requests back to back (never quiet) until the broker has stopped
            # listening, which it does once it leads nothing.
            deadline = time.monotonic() + 60
            while not old.count_log(r"net: stopping: .* served until quiet", since=mark):
                self.assertLess(time.monotonic(), deadline, "no stop with a quiet period")
                partition()
            corr = conn.next_corr()
            batch = kr.encode_batch([(b"k", b"v", ())])
            body = conn.round_trip(kr.produce_request(corr, 7, [(topic, [(0, batch)])], acks=1),
                                   corr, "Produce")
            self.assertEqual(kr.parse_produce_response(body, 7)[(topic, 0)]["error_code"], 6)
            p = partition()
            self.assertNotIn(p["leader"], (old.node_id, -1))
            self.assertNotIn(old.node_id, p["isr"])
            self.assertTrue(conn.expect_closed())  # once quiet for 2 s
            conn.close()
            self.assertEqual(old.stop(), 0)


if __name__ == "__main__":
    unittest.main()
