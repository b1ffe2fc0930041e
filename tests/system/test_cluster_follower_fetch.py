#!/usr/bin/python3
"""Fetching from the closest replica (KIP-392) with librdkafka's client.rack.

Three brokers in racks r1, r2, r3 with replica.selector.class set to Kafka's rack-aware
selector; topic "near" on [1, 2, 3] (broker 1 leads). 500 records are produced with acks=all.
- A consumer with client.rack=r2 reads all of them, in order; broker 2 (a follower) is the one
  that sent them: its kaffa_topic_bytes_out_total for the topic grows, broker 3's stays 0 (a
  follower serves no replication).
- A consumer without a rack reads from the leader: broker 2's and 3's counters do not move.
- A consumer in rack r1 (the leader's) reads from the leader too.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import KaffaCluster  # noqa: E402

SELECTOR = "org.apache.kafka.common.replica.RackAwareReplicaSelector"
N = 500


def bytes_out(broker):
    return broker.metric("kaffa_topic_bytes_out_total", '{topic="near"}') or 0


def consume_all(bootstrap, group, rack=None):
    from confluent_kafka import Consumer, TopicPartition
    conf = {"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest"}
    if rack:
        conf["client.rack"] = rack
    c = Consumer(conf)
    got = []
    try:
        c.assign([TopicPartition("near", 0, 0)])
        empty = 0
        while len(got) < N and empty < 60:
            msgs = c.consume(num_messages=N, timeout=0.5)
            empty = empty + 1 if not msgs else 0
            for m in msgs:
                if m.error() is None:
                    got.append(m.value())
    finally:
        c.close()
    return got


class FollowerFetchTest(unittest.TestCase):
    def test_a_consumer_reads_from_the_replica_in_its_rack(self):
        racks = {n: {"broker.rack": "r%d" % n} for n in (1, 2, 3)}
        with KaffaCluster(3, overrides={"replica.selector.class": SELECTOR},
                          per_broker=racks) as c:
            c.create_topic("near", 1, assignment=[[1, 2, 3]])
            c.wait_full_isr("near")
            from confluent_kafka import Producer
            p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all", "linger.ms": 5})
            values = [b"v%04d" % i for i in range(N)]
            for v in values:
                p.produce("near", value=v, partition=0)
            self.assertEqual(p.flush(30), 0)
            c.wait_full_isr("near")

            self.assertEqual((bytes_out(c.broker(2)), bytes_out(c.broker(3))), (0, 0))
            self.assertEqual(consume_all(c.bootstrap, "in-r2", rack="r2"), values)
            served = bytes_out(c.broker(2))
            self.assertGreater(served, N * 5, "broker 2 sent the records")
            self.assertEqual(bytes_out(c.broker(3)), 0)

            self.assertEqual(consume_all(c.bootstrap, "no-rack"), values)
            self.assertEqual(consume_all(c.bootstrap, "in-r1", rack="r1"), values)
            self.assertEqual((bytes_out(c.broker(2)), bytes_out(c.broker(3))), (served, 0))


if __name__ == "__main__":
    unittest.main()
