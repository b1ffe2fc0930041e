#!/usr/bin/python3
"""ElectLeaders (API 43) in a cluster, as kafka-leader-election.sh uses it.

Topic "pref", RF=3, one partition assigned [1, 2, 3] (broker 1 is its preferred leader), with
automatic rebalancing off so that only the request moves leadership. Broker 1 is killed (broker
2 or 3 takes over, leader epoch + 1), restarted and waits in the ISR. Then:
- a preferred election (v1, type 0) for the partition answers NONE at the top and for the
  partition, and every broker's Metadata names broker 1 leader again;
- the same request again answers ELECTION_NOT_NEEDED (84);
- an unknown partition answers UNKNOWN_TOPIC_OR_PARTITION (3);
- an unclean election (type 1) for a partition that has a leader answers ELECTION_NOT_NEEDED.

A topic's own unclean.leader.election.enable (the brokers' is false): "dirty" (true) and "clean"
(unset) on [1, 2]; broker 2 is frozen until the ISRs are [1], then broker 1 is killed and broker 2
thawed. The controller makes broker 2 leader of dirty-0 (ISR [2]) and leaves clean-0 without a
leader, until unclean.leader.election.enable is set cluster-wide (a dynamic broker config on
resource ""): then broker 2 leads clean-0 too.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import KaffaCluster  # noqa: E402
import config_wire as cw  # noqa: E402
import kafka_wire as kw  # noqa: E402
from kafka_wire import i8, i32, string, array, frame, header_v1, Reader  # noqa: E402

ELECTION_NOT_NEEDED = 84
UNKNOWN_TOPIC_OR_PARTITION = 3


def elect(broker, election_type, partitions):
    """ElectLeaders v1: (top-level error, {(topic, partition): error})."""
    with kw.Connection(broker.host, broker.port, timeout=30) as conn:
        corr = conn.next_corr()
        body = conn.round_trip(frame(header_v1(43, 1, corr) + i8(election_type) + array(
            partitions, lambda tp: string(tp[0]) + array(tp[1], i32)) + i32(30000)), corr,
            "ElectLeaders")
    r = Reader(body)
    r.i32()  # throttle
    top = r.i16()
    out = {}
    for _ in range(r.i32()):
        topic = r.string()
        for _ in range(r.i32()):
            p = r.i32()
            out[(topic, p)] = r.i16()
            r.string()  # message (nullable)
    return top, out


class ElectLeadersTest(unittest.TestCase):
    def test_preferred_election(self):
        with KaffaCluster(3, overrides={"auto.leader.rebalance.enable": "false"}) as c:
            c.create_topic("pref", 1, assignment=[[1, 2, 3]])
            before = c.wait_full_isr("pref")[0]
            self.assertEqual(before["leader"], 1)
            c.broker(1).kill9()
            c.wait_isr("pref", 0, lambda x: x["leader"] in (2, 3), "a new leader of pref-0")
            c.restart(c.broker(1))
            moved = c.wait_full_isr("pref")[0]
            self.assertIn(moved["leader"], (2, 3), "nothing may move leadership back by itself")

            top, results = elect(c.broker(2), 0, [("pref", [0])])
            self.assertEqual((top, results), (0, {("pref", 0): 0}))
            c.wait_isr("pref", 0, lambda x: x["leader"] == 1, "broker 1 leading pref-0 again")

            top, results = elect(c.broker(3), 0, [("pref", [0, 7])])
            self.assertEqual(top, 0)
            self.assertEqual(results, {("pref", 0): ELECTION_NOT_NEEDED,
                                       ("pref", 7): UNKNOWN_TOPIC_OR_PARTITION})
            top, results = elect(c.broker(1), 1, [("pref", [0])])
            self.assertEqual(results, {("pref", 0): ELECTION_NOT_NEEDED})

    def test_a_topics_own_unclean_election_setting(self):
        with KaffaCluster(3) as c:
            c.create_topic("dirty", 1, assignment=[[1, 2]],
                           configs={"unclean.leader.election.enable": "true"})
            c.create_topic("clean", 1, assignment=[[1, 2]])
            c.wait_full_isr("dirty")
            c.wait_full_isr("clean")
            c.broker(2).freeze()
            for t in ("dirty", "clean"):
                c.wait_isr(t, 0, lambda p: p["isr"] == [1], "%s-0 in sync on broker 1 only" % t)
            c.broker(1).kill9()
            c.broker(2).thaw()
            c.wait_isr("dirty", 0, lambda p: p["leader"] == 2 and p["isr"] == [2],
                       "broker 2 leading dirty-0 after an unclean election")
            c.wait_isr("clean", 0, lambda p: p["leader"] == -1 and p["isr"] == [1],
                       "clean-0 without a leader, waiting for broker 1")
            # The operator's way out without broker 1: unclean election for every topic, as a
            # cluster-wide dynamic broker config (kafka-configs.sh --entity-default).
            self.assertEqual(cw.incremental_alter(c.broker(3), [(cw.BROKER, "", [(
                "unclean.leader.election.enable", cw.SET, "true")])]), [(0, None)])
            c.wait_isr("clean", 0, lambda p: p["leader"] == 2 and p["isr"] == [2],
                       "broker 2 leading clean-0 once unclean election is the default")


if __name__ == "__main__":
    unittest.main()
