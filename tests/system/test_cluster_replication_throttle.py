#!/usr/bin/python3
"""Replication quotas (KIP-73) in a cluster of three brokers, set as kafka-reassign-partitions.sh
--throttle sets them: per-broker dynamic configs leader.replication.throttled.rate and
follower.replication.throttled.rate (IncrementalAlterConfigs on each broker's resource), and the
topic configs leader.replication.throttled.replicas and follower.replication.throttled.replicas.

Topic "slow" has one partition on broker 1 holding three batches of 700 KB. Both cases measure
at 10,000 bytes/s, so that once a first batch is copied the quota stays exceeded for a minute and
a half:
- leader side: with broker 1's leader rate set and "*" listed, a reassignment adds broker 2; the
  leader answers the new replica's first fetch with one batch, then holds it back (counted in
  kaffa_replication_throttled_total{side="leader"}), so the copy stays at that batch; once the
  rate is deleted the copy completes and the replicas are byte-identical.
- follower side: with only broker 3's follower rate set and "0:3" listed, adding broker 3 stops
  the same way on the follower (side="follower"), and completes once the rate is deleted.
Also: DescribeConfigs shows a dynamic rate (DYNAMIC_BROKER_CONFIG, not read-only) and it
survives a restart; a negative rate, a malformed replica list and a rate for the cluster-wide
resource "" are refused; other broker configs stay static.
"""

import glob
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cluster_checks as cc  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402
from cluster_harness import KaffaCluster, wait_until  # noqa: E402
from test_cluster_reassign import alter as reassign, list_reassignments  # noqa: E402

TOPIC_RESOURCE, BROKER_RESOURCE = 2, 4
SET, DELETE = 0, 1
INVALID_CONFIG, INVALID_REQUEST = 40, 42
DYNAMIC_BROKER_CONFIG, DEFAULT_CONFIG = 2, 5
LEADER_RATE = "leader.replication.throttled.rate"
FOLLOWER_RATE = "follower.replication.throttled.rate"
LEADER_REPLICAS = "leader.replication.throttled.replicas"
FOLLOWER_REPLICAS = "follower.replication.throttled.replicas"
RATE = "10000"
BATCH = 700000
TOPIC = "slow"


def incremental_alter(broker, resources):
    """IncrementalAlterConfigs v0: resources [(type, name, [(config, op, value)])] ->
    [(error, message)] in order."""
    with kw.connect(broker) as conn:
        corr = conn.next_corr()
        body = kw.header_v1(44, 0, corr)
        body += kw.array(resources,
                         lambda r: kw.i8(r[0]) + kw.string(r[1]) + kw.array(
                             r[2], lambda c: kw.string(c[0]) + kw.i8(c[1]) + kw.string(c[2])))
        body += kw.i8(0)
        r = kw.Reader(conn.round_trip(kw.frame(body), corr, "IncrementalAlterConfigs"))
    r.i32()
    return [(e, m) for e, m, _, _ in r.array(lambda r: (r.i16(), r.string(), r.i8(), r.string()))]


def set_rate(broker, name, value, op=SET):
    (result,) = incremental_alter(broker, [(BROKER_RESOURCE, str(broker.node_id),
                                            [(name, op, value)])])
    return result


def describe_broker(broker, names):
    """DescribeConfigs v1 of the broker's own resource -> {name: (value, read_only, source)}."""
    with kw.connect(broker) as conn:
        corr = conn.next_corr()
        body = kw.header_v1(32, 1, corr) + kw.array(
            [str(broker.node_id)], lambda n: kw.i8(BROKER_RESOURCE) + kw.string(n) + kw.array(
                names, kw.string)) + kw.i8(0)
        r = kw.Reader(conn.round_trip(kw.frame(body), corr, "DescribeConfigs"))
    r.i32()
    out = {}

    def entry(r):
        name, value, read_only, source = r.string(), r.string(), r.i8(), r.i8()
        r.i8()  # sensitive
        r.array(lambda r: (r.string(), r.string(), r.i8()))
        out[name] = (value, read_only, source)

    def resource(r):
        assert r.i16() == 0
        r.string(), r.i8(), r.string()
        r.array(entry)
    r.array(resource)
    return out


def copied(broker):
    """Bytes of topic "slow" partition 0 in broker's segment files."""
    files = glob.glob(os.path.join(cc.partition_dir(broker, TOPIC, 0), "*.log"))
    return sum(os.path.getsize(f) for f in files)


class ReplicationThrottleTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = KaffaCluster(3).__enter__()
        try:
            c = cls.cluster
            c.create_topic(TOPIC, 1, assignment=[[1]])
            with kw.connect(c.broker(1)) as conn:
                for n in range(3):
                    batch = kr.encode_batch([(None, bytes([65 + n]) * BATCH, ())])
                    corr = conn.next_corr()
                    body = conn.round_trip(kr.produce_request(corr, 7, [(TOPIC, [(0, batch)])]),
                                           corr, "Produce")
                    answer = kr.parse_produce_response(body, 7)[(TOPIC, 0)]
                    assert answer["error_code"] == 0, answer
            cls.full = copied(c.broker(1))
        except BaseException:
            cls.cluster.__exit__(*sys.exc_info())
            raise

    @classmethod
    def tearDownClass(cls):
        cls.cluster.__exit__(None, None, None)

    def throttled(self, broker, side):
        return broker.metric("kaffa_replication_throttled_total", '{side="%s"}' % side) or 0

    def set_topic(self, configs):
        (result,) = incremental_alter(self.cluster.broker(1),
                                      [(TOPIC_RESOURCE, TOPIC, configs)])
        self.assertEqual(result, (0, None))

    def held_then_released(self, quota_broker, side, target, rate_name):
        """Reassigns to `target`; the new replica stops after its first batch while
        quota_broker's rate is exceeded, then completes once the rate is deleted."""
        c = self.cluster
        new = c.broker(target[-1])
        before = self.throttled(quota_broker, side)
        top, parts = reassign(c.broker(1), {(TOPIC, 0): target})
        self.assertEqual((top, parts), (0, {(TOPIC, 0): 0}))
        wait_until(lambda: self.throttled(quota_broker, side) >= before + 3,
                   what="the %s side holding the new replica back" % side)
        # One batch per fetch at most: what the quota let through before it was exceeded.
        self.assertLessEqual(copied(new), BATCH + 100)
        self.assertLess(copied(new), self.full)
        self.assertIn((TOPIC, 0), list_reassignments(c.broker(1)))
        self.assertEqual(set_rate(quota_broker, rate_name, None, DELETE), (0, None))
        wait_until(lambda: (TOPIC, 0) not in list_reassignments(c.broker(1)),
                   what="the reassignment completing once the rate is lifted")
        cc.wait_replicas_identical(c, TOPIC, 0, replicas=target)
        self.assertEqual(copied(new), self.full)

    def test_1_leader_side(self):
        leader = self.cluster.broker(1)
        self.assertEqual(set_rate(leader, LEADER_RATE, RATE), (0, None))
        self.set_topic([(LEADER_REPLICAS, SET, "*")])
        got = describe_broker(leader, [LEADER_RATE, FOLLOWER_RATE])
        self.assertEqual(got[LEADER_RATE], (RATE, 0, DYNAMIC_BROKER_CONFIG))
        self.assertEqual(got[FOLLOWER_RATE], ("9223372036854775807", 0, DEFAULT_CONFIG))
        self.held_then_released(leader, "leader", [1, 2], LEADER_RATE)
        self.assertEqual(describe_broker(leader, [LEADER_RATE])[LEADER_RATE][2], DEFAULT_CONFIG)

    def test_2_follower_side(self):
        leader, follower = self.cluster.broker(1), self.cluster.broker(3)
        self.set_topic([(LEADER_REPLICAS, DELETE, None), (FOLLOWER_REPLICAS, SET, "0:3")])
        self.assertEqual(set_rate(follower, FOLLOWER_RATE, RATE), (0, None))
        self.assertEqual(set_rate(leader, LEADER_RATE, RATE), (0, None))  # no replica listed
        held_by_leader = self.throttled(leader, "leader")
        self.held_then_released(follower, "follower", [1, 2, 3], FOLLOWER_RATE)
        self.assertEqual(self.throttled(leader, "leader"), held_by_leader)
        self.assertEqual(set_rate(leader, LEADER_RATE, None, DELETE), (0, None))

    def test_3_dynamic_rate_survives_a_restart(self):
        c = self.cluster
        b = c.broker(2)
        self.assertEqual(set_rate(b, FOLLOWER_RATE, "123456"), (0, None))
        self.assertEqual(b.stop(), 0)
        c.restart(b)
        self.assertEqual(describe_broker(b, [FOLLOWER_RATE])[FOLLOWER_RATE],
                         ("123456", 0, DYNAMIC_BROKER_CONFIG))
        self.assertEqual(set_rate(b, FOLLOWER_RATE, None, DELETE), (0, None))
        self.assertEqual(describe_broker(b, [FOLLOWER_RATE])[FOLLOWER_RATE][2], DEFAULT_CONFIG)

    def test_4_refusals(self):
        b = self.cluster.broker(1)
        error, message = set_rate(b, LEADER_RATE, "-1")
        self.assertEqual(error, INVALID_CONFIG, message)
        (result,) = incremental_alter(b, [(BROKER_RESOURCE, "", [(LEADER_RATE, SET, "1")])])
        self.assertEqual(result[0], INVALID_REQUEST, result)
        error, message = set_rate(b, "num.io.threads", "4")
        self.assertEqual((error, message),
                         (INVALID_REQUEST, "Cannot update these configs dynamically: "
                          "Set(num.io.threads)"))
        (result,) = incremental_alter(b, [(TOPIC_RESOURCE, TOPIC,
                                           [(FOLLOWER_REPLICAS, SET, "0-3")])])
        self.assertEqual(result[0], INVALID_CONFIG, result)
        self.assertIn("must be the literal '*' or a list of replicas", result[1])


if __name__ == "__main__":
    unittest.main()
