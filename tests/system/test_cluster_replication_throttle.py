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
- follower side: with the follower rate set as the cluster-wide default (resource "") and "0:3"
  listed, adding broker 3 stops the same way on the follower (side="follower"), and completes
  once the default is deleted.
Also: DescribeConfigs shows a dynamic rate (DYNAMIC_BROKER_CONFIG, not read-only) and it
survives a restart; a negative rate (on either resource) and a malformed replica list are
refused; other broker configs stay static; a log default set cluster-wide through one broker
(message.max.bytes) is in force on another; and num.replica.fetchers set cluster-wide changes a
follower's fetcher threads while replication goes on.
"""

import glob
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cluster_checks as cc  # noqa: E402
from confluent_kafka import Producer  # noqa: E402
import config_wire as cw  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402
from cluster_harness import KaffaCluster, wait_until  # noqa: E402
from test_cluster_reassign import alter as reassign, list_reassignments  # noqa: E402

from config_wire import (BROKER as BROKER_RESOURCE, DEFAULT as DEFAULT_CONFIG,  # noqa: E402
                         DELETE, DYNAMIC_BROKER as DYNAMIC_BROKER_CONFIG,
                         DYNAMIC_DEFAULT_BROKER, INVALID_CONFIG, INVALID_REQUEST, SET,
                         TOPIC as TOPIC_RESOURCE, incremental_alter)
LEADER_RATE = "leader.replication.throttled.rate"
FOLLOWER_RATE = "follower.replication.throttled.rate"
LEADER_REPLICAS = "leader.replication.throttled.replicas"
FOLLOWER_REPLICAS = "follower.replication.throttled.replicas"
RATE = "10000"
MESSAGE_TOO_LARGE = 10
BATCH = 700000
TOPIC = "slow"


def set_rate(broker, name, value, op=SET, resource=None):
    """Sets or deletes a rate on the broker's own resource, or on `resource` ("" for the
    cluster-wide default) through that broker."""
    name_of = str(broker.node_id) if resource is None else resource
    (result,) = incremental_alter(broker, [(BROKER_RESOURCE, name_of, [(name, op, value)])])
    return result


def describe_broker(broker, names):
    """DescribeConfigs of the broker's own resource -> {name: (value, read_only, source)}."""
    error, entries = cw.describe(broker, BROKER_RESOURCE, str(broker.node_id), names)
    assert error == 0, error
    return {n: e[:3] for n, e in entries.items()}


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

    def held_then_released(self, quota_broker, side, target, rate_name, resource=None):
        """Reassigns to `target`; the new replica stops after its first batch while
        quota_broker's rate is exceeded, then completes once the rate is deleted (from
        quota_broker's resource, or from `resource`)."""
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
        self.assertEqual(set_rate(quota_broker, rate_name, None, DELETE, resource), (0, None))
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

    def test_2_follower_side_by_the_cluster_wide_default(self):
        """The follower rate is set once for every broker (resource "", through broker 1), as
        kafka-configs.sh --entity-default does; broker 3 applies it from the metadata store."""
        leader, follower = self.cluster.broker(1), self.cluster.broker(3)
        self.set_topic([(LEADER_REPLICAS, DELETE, None), (FOLLOWER_REPLICAS, SET, "0:3")])
        self.assertEqual(set_rate(leader, FOLLOWER_RATE, RATE, resource=""), (0, None))
        wait_until(lambda: describe_broker(follower, [FOLLOWER_RATE])[FOLLOWER_RATE] ==
                   (RATE, 0, DYNAMIC_DEFAULT_BROKER), what="broker 3 applying the default")
        self.assertEqual(set_rate(leader, LEADER_RATE, RATE), (0, None))  # no replica listed
        held_by_leader = self.throttled(leader, "leader")
        self.held_then_released(follower, "follower", [1, 2, 3], FOLLOWER_RATE, resource="")
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
        self.assertEqual(error, INVALID_REQUEST, message)
        (result,) = incremental_alter(b, [(BROKER_RESOURCE, "", [(LEADER_RATE, SET, "-1")])])
        self.assertEqual(result[0], INVALID_REQUEST, result)
        error, message = set_rate(b, "num.io.threads", "4")
        self.assertEqual((error, message),
                         (INVALID_REQUEST, "Cannot update these configs dynamically: "
                          "Set(num.io.threads)"))
        (result,) = incremental_alter(b, [(TOPIC_RESOURCE, TOPIC,
                                           [(FOLLOWER_REPLICAS, SET, "0-3")])])
        self.assertEqual(result[0], INVALID_CONFIG, result)
        self.assertIn("must be the literal '*' or a list of replicas", result[1])

    def produce(self, size):
        """A batch of one record of `size` bytes to partition 0's leader, broker 1: its error."""
        with kw.connect(self.cluster.broker(1)) as conn:
            batch = kr.encode_batch([(None, b"m" * size, ())])
            corr = conn.next_corr()
            body = conn.round_trip(kr.produce_request(corr, 7, [(TOPIC, [(0, batch)])]), corr,
                                   "Produce")
        return kr.parse_produce_response(body, 7)[(TOPIC, 0)]["error_code"]

    def test_5_cluster_wide_log_default(self):
        """A log default set on "" through one broker is in force on the others: broker 1, the
        leader, refuses a record above the new message.max.bytes, and takes it once the default
        is deleted through a third broker."""
        c = self.cluster
        leader = c.broker(1)
        size = "message.max.bytes"
        self.assertEqual(self.produce(5000), 0)
        (result,) = incremental_alter(c.broker(2), [(BROKER_RESOURCE, "", [(size, SET, "2000")])])
        self.assertEqual(result, (0, None))
        wait_until(lambda: describe_broker(leader, [size])[size] == ("2000", 0,
                                                                     DYNAMIC_DEFAULT_BROKER),
                   what="broker 1 applying the default")
        self.assertEqual(self.produce(5000), MESSAGE_TOO_LARGE)
        (result,) = incremental_alter(c.broker(3), [(BROKER_RESOURCE, "", [(size, DELETE, None)])])
        self.assertEqual(result, (0, None))
        wait_until(lambda: describe_broker(leader, [size])[size][2] == DEFAULT_CONFIG,
                   what="broker 1 dropping the default")
        self.assertEqual(self.produce(5000), 0)

    def test_6_replica_fetchers_resize(self):
        """num.replica.fetchers set on "" through broker 2: broker 3 follows leader 1 with more
        threads, and every partition still replicates to it; more than double the threads in force
        is refused with Kafka's message; deleting the value goes back to one thread per leader."""
        c = self.cluster
        follower = c.broker(3)
        c.create_topic("fan", 12, assignment=[[1, 3]] * 12)
        c.wait_full_isr("fan")

        def threads():
            return follower.metric("kaffa_replica_fetcher_threads")
        before = threads()
        fetchers = "num.replica.fetchers"
        (result,) = incremental_alter(c.broker(2), [(BROKER_RESOURCE, "", [(fetchers, SET, "2")])])
        self.assertEqual(result, (0, None))
        wait_until(lambda: threads() > before, what="broker 3 starting more fetcher threads")
        p = Producer({"bootstrap.servers": c.bootstrap, "acks": "all", "linger.ms": 0})
        for i in range(12):
            p.produce("fan", value=b"after the resize", partition=i)
        self.assertEqual(p.flush(30), 0)
        wait_until(lambda: all(cc.replica_batches(follower, "fan", i) for i in range(12)),
                   what="every partition replicated to broker 3")
        (result,) = incremental_alter(follower, [(BROKER_RESOURCE, "", [(fetchers, SET, "5")])])
        self.assertEqual(result, (INVALID_REQUEST,
                                  "Dynamic thread count update validation failed for "
                                  "num.replica.fetchers=5, value should not be greater than "
                                  "double the current value 2"))
        (result,) = incremental_alter(follower, [(BROKER_RESOURCE, "", [(fetchers, DELETE, None)])])
        self.assertEqual(result, (0, None))
        wait_until(lambda: threads() == before, what="broker 3 back to one thread per leader")


if __name__ == "__main__":
    unittest.main()
