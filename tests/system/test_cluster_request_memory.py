#!/usr/bin/python3
"""queued.max.request.bytes in a cluster: acks=all produce under a budget it fills.

Three brokers with socket.request.max.bytes = queued.max.request.bytes = 600,000 and a topic of
RF 3. Two Produce requests of about 400 KB each, acks=-1, sent at once on two connections to the
leader, hold more than the budget between them: the leader reads no further request until some
memory comes back, the followers' next fetches included, and those fetches are what the acks=all
wait needs. As in Kafka, a Produce gives its memory back once its records are appended, not when
it is answered, so both are acknowledged (without that they wait until their timeout and answer
REQUEST_TIMED_OUT). Then every broker's gauge of queued request bytes is back at 0, and a broker
with queued.max.request.bytes below socket.request.max.bytes refuses to start, as Kafka.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402
from cluster_harness import KaffaCluster  # noqa: E402
from kaffa_harness import BrokerStartError, KaffaBroker  # noqa: E402

BUDGET = "600000"


class RequestMemoryTest(unittest.TestCase):
    def test_acks_all_under_a_full_budget(self):
        with KaffaCluster(3, overrides={"socket.request.max.bytes": BUDGET,
                                        "queued.max.request.bytes": BUDGET}) as c:
            topic = "mem"
            c.create_topic(topic, 1, 3, configs={"min.insync.replicas": "3"})
            c.wait_full_isr(topic)
            leader = c.leader(topic, 0)
            conns = [kw.connect(leader) for _ in range(2)]
            try:
                sent = []
                for n, conn in enumerate(conns):
                    batch = kr.encode_batch([(None, bytes([65 + n]) * 400000, ())])
                    corr = conn.next_corr()
                    conn.send(kr.produce_request(corr, 7, [(topic, [(0, batch)])], acks=-1,
                                                 timeout_ms=20000))
                    sent.append(corr)
                for conn, corr in zip(conns, sent):
                    got, body = conn.read_response()
                    self.assertEqual(got, corr)
                    answer = kr.parse_produce_response(body, 7)[(topic, 0)]
                    self.assertEqual(answer["error_code"], 0, answer)
            finally:
                for conn in conns:
                    conn.close()
            for b in c.brokers:
                self.assertEqual(b.metric("kaffa_network_queued_request_bytes"), 0,
                                 "broker %d" % b.node_id)

    def test_a_budget_below_the_request_size_is_refused(self):
        broker = KaffaBroker(overrides={"queued.max.request.bytes": "1000"})
        try:
            with self.assertRaises(BrokerStartError) as e:
                broker.start()
            self.assertIn("queued.max.request.bytes must be larger or equal to "
                          "socket.request.max.bytes", str(e.exception))
        finally:
            broker.kill()
            broker.cleanup()


if __name__ == "__main__":
    unittest.main()
