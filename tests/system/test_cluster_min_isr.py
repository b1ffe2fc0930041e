#!/usr/bin/python3
"""With two of three brokers down, acks=all produce fails with NOT_ENOUGH_REPLICAS (19), never a
false acknowledgement; committed data stays readable from the survivor once it leads.

Topic "mi", RF=3, min.insync.replicas=2, explicit assignment: partition 0 = [S, A, B] (led by the
survivor S all along), partition 1 = [A, S, B] (led by A, which dies: S must take over). Records
are produced with acks=all and the cluster settles (full ISR). Then A and B get SIGKILL at once.

- Once the survivor is the only ISR member and leader of both partitions, a raw Produce v7 with
  acks=-1 gets error 19 for each partition, and the log end (ListOffsets latest) does not move:
  the refused batch was not appended. librdkafka (acks=all, retries=0) reports the same error in
  its delivery report, and no delivery succeeds.
- acks=1 still succeeds (min.insync.replicas applies to acks=all only, as in Kafka).
- Every record acknowledged before the kill is read back from the survivor (Fetch as a consumer
  sends it, up to the high watermark), at its offset; none of the refused records is readable.
- After A restarts and rejoins the ISR, acks=all succeeds again.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import client_io as cio  # noqa: E402
import kafka_records as kr  # noqa: E402
from cluster_harness import KaffaCluster  # noqa: E402

NOT_ENOUGH_REPLICAS = 19
S, A, B = 1, 2, 3


class MinIsrTest(unittest.TestCase):
    def test_two_of_three_down(self):
        with KaffaCluster(3, overrides={"auto.leader.rebalance.enable": "false"}) as cluster:
            self.scenario(cluster)

    def scenario(self, c):
        topic = "mi"
        c.create_topic(topic, 2, assignment=[[S, A, B], [A, S, B]],
                       configs={"min.insync.replicas": "2"})
        c.wait_full_isr(topic)
        records = [(i % 2, None, b"committed-%d" % i, ()) for i in range(400)]
        res = cio.confluent_produce(c.bootstrap, topic, records)
        c.wait_full_isr(topic)

        c.broker(A).kill9()
        c.broker(B).kill9()
        survivor = c.broker(S)
        for p in (0, 1):
            c.wait_isr(topic, p, lambda x: x["leader"] == S and x["isr"] == [S],
                       "broker %d alone leading %s-%d with ISR [%d]" % (S, topic, p, S))

        with kr.connect(survivor) as conn:
            ends = {p: conn.log_end(topic, p) for p in (0, 1)}
            batch = kr.encode_batch([(None, b"must-not-be-acknowledged", ())])
            out = conn.produce([(topic, [(0, batch), (1, batch)])], acks=-1)
            for p in (0, 1):
                self.assertEqual(out[(topic, p)]["error_code"], NOT_ENOUGH_REPLICAS,
                                 "acks=all produce to %s-%d with ISR [%d]: %r"
                                 % (topic, p, S, out[(topic, p)]))
                self.assertEqual(conn.log_end(topic, p), ends[p],
                                 "%s-%d: the log end moved after a refused acks=all produce"
                                 % (topic, p))

        from confluent_kafka import KafkaError, Producer
        delivered, failed = [], []
        prod = Producer({"bootstrap.servers": survivor.bootstrap, "acks": "all", "retries": 0,
                         "message.timeout.ms": 20000, "enable.idempotence": False})
        for p in (0, 1):
            prod.produce(topic, value=b"librdkafka-refused", partition=p,
                         on_delivery=lambda err, msg: (failed if err else delivered).append(
                             (msg.partition(), err)))
        self.assertEqual(prod.flush(60), 0)
        self.assertEqual(delivered, [], "false acknowledgements with one in-sync replica")
        self.assertEqual(sorted((p, e.code()) for p, e in failed),
                         [(0, KafkaError.NOT_ENOUGH_REPLICAS), (1, KafkaError.NOT_ENOUGH_REPLICAS)],
                         "delivery reports: %r" % failed)

        with kr.connect(survivor) as conn:
            out = conn.produce([(topic, [(0, kr.encode_batch([(None, b"acks1", ())]))])], acks=1)
            self.assertEqual(out[(topic, 0)]["error_code"], 0, "acks=1 with ISR [S]: %r" % out)

        # A consumer's Fetch (v4, replica id -1) from the survivor, up to its high watermark.
        stored = {}
        with kr.connect(survivor) as conn:
            for p in (0, 1):
                batches, _hw = conn.read_all_batches(topic, p)
                stored[p] = {r["offset"]: r["value"] for b in batches for r in b.records}
        for i, (p, _k, value, _h) in enumerate(records):
            off = res[i][1]
            self.assertEqual(stored[p].get(off), value,
                             "%s-%d offset %d (acknowledged) read from the survivor"
                             % (topic, p, off))
        refused = [v for p in (0, 1) for v in stored[p].values()
                   if v in (b"must-not-be-acknowledged", b"librdkafka-refused")]
        self.assertEqual(refused, [], "refused records are readable")

        c.restart(c.broker(A))
        for p in (0, 1):
            c.wait_isr(topic, p, lambda x: sorted(x["isr"]) == [S, A],
                       "broker %d back in the ISR of %s-%d" % (A, topic, p))
        cio.confluent_produce(c.bootstrap, topic, [(p, None, b"after", ()) for p in (0, 1)])


if __name__ == "__main__":
    unittest.main()
