#!/usr/bin/python3
"""Cluster smoke test: one etcd, three brokers (node ids 1..3) on loopback, one cluster.

- Every broker's Metadata lists the three brokers with the ports they listen on, the same
  controller (one of them) and the same cluster id; `kaffa cluster info --json` shows the same,
  and, once the topic below is fully replicated, no under-replicated or offline partition.
- A topic with RF=3 and 3 partitions created through one broker: every broker reports it with 3
  distinct replicas per partition, all in the ISR, and the leaders spread over all three brokers
  (Kafka's round-robin placement); explicit replica assignment is honoured as given.
- RF above the number of live brokers: INVALID_REPLICATION_FACTOR (38).
- Records produced through a bootstrap of one broker (acks=all) are consumed through another
  broker's bootstrap, and every replica's log files hold the same batches byte for byte.
- A follower refuses Produce and a consumer's Fetch with NOT_LEADER_OR_FOLLOWER (6).
- Leader hints (KIP-951): a broker without the partition answers Produce v10+ and Fetch v16+
  NOT_LEADER_OR_FOLLOWER with the leader's id and epoch and its address (node_endpoints);
  Produce v9 and Fetch v15 carry none.
- A second broker with a node.id already registered does not join: after waiting out its
  start-up timeout for the registration to expire (it could be a crashed predecessor's) it exits
  with an error naming the id, never ready; the cluster keeps its three brokers.
- A deleted topic disappears from every broker's Metadata and from every broker's disk.
- Followers fetch in incremental fetch sessions: every leader holds one per follower.
- A follower's connections to a leader have replica.socket.receive.buffer.bytes (set to 50000
  for this cluster) as their receive buffer, as the kernel reports it (ss).
- Admin through the store: CreatePartitions adds replicated partitions (3 replicas each, led,
  their logs on every replica's disk); a topic config altered through one broker is described by
  the others, and so is a group's config (KIP-848); DescribeCluster (kafka-python) names the
  three brokers and the controller.
"""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import client_io as cio  # noqa: E402
import cluster_checks as cc  # noqa: E402
import fetch_wire as fw  # noqa: E402
import kafka_records as kr  # noqa: E402
from cluster_harness import ClusterBroker, KaffaCluster, metadata, wait_until  # noqa: E402
from kernel_sockets import ss  # noqa: E402

NOT_LEADER_OR_FOLLOWER = 6
INVALID_REPLICATION_FACTOR = 38


class ClusterBasicTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = KaffaCluster(3, overrides={"replica.socket.receive.buffer.bytes": "50000"})
        cls.cluster.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.cluster.__exit__(None, None, None)

    def test_brokers_controller_cluster_id(self):
        c = self.cluster
        want = {b.node_id: ("127.0.0.1", b.port) for b in c.brokers}
        controllers, ids = set(), set()
        for b in c.brokers:
            md = metadata(b)
            self.assertEqual({i: (h, p) for i, (h, p, _r) in md["brokers"].items()}, want,
                             "broker %d's Metadata brokers" % b.node_id)
            controllers.add(md["controller_id"])
            from kafka_wire import Connection
            with Connection(b.host, b.port) as conn:
                ids.add(conn.metadata([], version=2)["cluster_id"])
        self.assertEqual(len(controllers), 1, "brokers disagree on the controller: %s"
                         % controllers)
        self.assertIn(controllers.pop(), want)
        self.assertEqual(len(ids), 1, "brokers disagree on the cluster id: %s" % ids)
        cluster_id = ids.pop()
        self.assertTrue(cluster_id, "no cluster id in Metadata v2")

        info = c.cluster_info()
        self.assertEqual(info["cluster_id"], cluster_id)
        self.assertIn(info["controller"], want)
        self.assertEqual(sorted((x["id"], x["port"]) for x in info["brokers"]),
                         sorted((i, p) for i, (_h, p) in want.items()))

    def test_rf3_topic_produce_consume_across_brokers(self):
        c = self.cluster
        c.create_topic("basic", 3, 3)
        parts = c.wait_full_isr("basic")
        for i, p in parts.items():
            self.assertEqual(sorted(p["replicas"]), [1, 2, 3], "basic-%d replicas" % i)
        self.assertEqual(sorted(p["leader"] for p in parts.values()), [1, 2, 3],
                         "leaders of the 3 partitions are not spread over the 3 brokers: %s"
                         % parts)

        # kaffa cluster info: partition health (no under-replicated or offline partition) and
        # the leaderships per broker.
        state = {}

        def healthy():
            info = state["info"] = c.cluster_info()
            return (info.get("under_replicated_partitions") == 0
                    and info.get("offline_partitions") == 0
                    and sum(x.get("leader_partitions", 0) for x in info["brokers"])
                    == info.get("partitions"))
        wait_until(healthy, "kaffa cluster info to report every partition led and fully "
                   "replicated", describe=lambda: state)

        b1, b2 = c.broker(1), c.broker(2)
        records = [(i % 3, b"k%d" % i, b"value-%d" % i, ()) for i in range(300)]
        res = cio.confluent_produce(b1.bootstrap, "basic", records)
        got = cio.confluent_consume(b2.bootstrap, [("basic", p) for p in range(3)])
        for i, (part, key, value, _h) in enumerate(records):
            off = res[i][1]
            stored = {r.offset: r for r in got[("basic", part)]}
            self.assertIn(off, stored, "basic-%d offset %d not consumed" % (part, off))
            self.assertEqual((stored[off].key, stored[off].value), (key, value))
        acked = [(part, res[i][1], value) for i, (part, _k, value, _h) in enumerate(records)]
        cc.check_acked(c, "basic", 3, acked)
        # The followers fetch in incremental sessions (KIP-227): each leader holds one per
        # follower fetching from it, with the partitions it follows there.
        for b in c.brokers:
            wait_until(lambda: (b.metric("kaffa_fetch_sessions") or 0) >= 2
                       and (b.metric("kaffa_fetch_session_partitions") or 0) >= 2,
                       "broker %d to hold its followers' fetch sessions" % b.node_id,
                       describe=lambda: b.metrics("kaffa_fetch_sessions",
                                                  "kaffa_fetch_session_partitions"))
        # Each follower's connections to a leader: the receive buffer asked for (the kernel
        # doubles it), not the kernel's own (which it would grow with the traffic).
        for leader in c.brokers:
            for follower in c.brokers:
                if follower is leader:
                    continue
                pid = "pid=%d," % follower.proc.pid
                buffers = [mem["rb"] for cols, mem in ss("-p", "state", "established",
                                                          "dport = :%d" % leader.port)
                           if any(pid in col for col in cols)]
                self.assertTrue(buffers, "no connection from broker %d to broker %d"
                                % (follower.node_id, leader.node_id))
                self.assertEqual(set(buffers), {2 * 50000})

    def test_explicit_assignment_and_bad_replication_factor(self):
        c = self.cluster
        assignment = [[3, 1, 2], [2, 3, 1]]
        c.create_topic("assigned", 2, assignment=assignment)
        parts = c.wait_full_isr("assigned")
        self.assertEqual([parts[i]["replicas"] for i in range(2)], assignment)
        self.assertEqual([parts[i]["leader"] for i in range(2)], [3, 2],
                         "a new partition's leader is its first replica")

        from confluent_kafka import KafkaException
        with self.assertRaises(KafkaException) as cm:
            c.create_topic("too-many-replicas", 1, 4)
        self.assertEqual(cm.exception.args[0].code(), INVALID_REPLICATION_FACTOR,
                         str(cm.exception))

    def test_follower_refuses_produce_and_consumer_fetch(self):
        c = self.cluster
        c.create_topic("leaders-only", 1, 3)
        parts = c.wait_full_isr("leaders-only")
        follower = c.broker(next(r for r in parts[0]["replicas"] if r != parts[0]["leader"]))
        batch = kr.encode_batch([(None, b"to-a-follower", ())])
        with kr.connect(follower) as conn:
            res = conn.produce_one("leaders-only", 0, batch)
            self.assertEqual(res["error_code"], NOT_LEADER_OR_FOLLOWER,
                             "Produce to follower %r: %r" % (follower, res))
            f = conn.fetch([("leaders-only", [(0, 0, 1 << 20)])])[("leaders-only", 0)]
            self.assertEqual(f["error_code"], NOT_LEADER_OR_FOLLOWER,
                             "consumer Fetch from follower %r: %r" % (follower, f))
        # The leader takes it. Metadata names a new partition's leader as soon as the broker has
        # the metadata, a moment before its loop has made the partition lead (the answer is then
        # a retriable NOT_LEADER_OR_FOLLOWER, as clients see it): wait for that, not for a time.
        leader = c.broker(parts[0]["leader"])
        with kr.connect(leader) as conn:
            answers = []

            def accepted():
                answers.append(conn.produce_one("leaders-only", 0, batch)["error_code"])
                self.assertIn(answers[-1], (0, NOT_LEADER_OR_FOLLOWER), answers)
                return answers[-1] == 0
            wait_until(accepted, "leader %r to take the batch" % leader,
                       describe=lambda: "answers: %s" % answers[-5:])

    def test_leader_hints_from_a_broker_without_the_partition(self):
        c = self.cluster
        c.create_topic("hinted", 1, assignment=[[2]])
        c.wait_full_isr("hinted")
        leader = c.broker(2)
        with kr.connect(leader) as conn:
            meta = fw.parse_metadata_topics(conn.round_trip(
                fw.metadata_request(7, ["hinted"]), 7, "Metadata v12"))["hinted"]
        self.assertEqual(meta["leaders"][0][0], 2)
        want_leader = meta["leaders"][0]
        want_endpoints = {2: (leader.host, leader.port, None)}
        batch = kr.encode_batch([(None, b"to-the-wrong-broker", ())])
        for other in (c.broker(1), c.broker(3)):
            with kr.connect(other) as conn:
                for version, hinted in ((9, False), (10, True), (11, True)):
                    corr = conn.next_corr()
                    r = fw.parse_produce_response(conn.round_trip(
                        fw.produce_request(corr, version, [("hinted", [(0, batch)])]), corr,
                        "Produce v%d" % version))
                    p = r["partitions"][("hinted", 0)]
                    self.assertEqual(p["error_code"], NOT_LEADER_OR_FOLLOWER)
                    self.assertEqual((p["current_leader"], r["node_endpoints"]),
                                     (want_leader, want_endpoints) if hinted else (None, {}),
                                     "Produce v%d to broker %d" % (version, other.node_id))
                for version, hinted in ((15, False), (16, True), (17, True)):
                    corr = conn.next_corr()
                    r = fw.parse_fetch_response(conn.round_trip(
                        fw.fetch_request(corr, version, [(meta["topic_id"], [(0, 0, 1 << 20)])]),
                        corr, "Fetch v%d" % version))
                    p = r["partitions"][(meta["topic_id"], 0)]
                    self.assertEqual(p["error_code"], NOT_LEADER_OR_FOLLOWER)
                    self.assertEqual((p["current_leader"], r["node_endpoints"]),
                                     (want_leader, want_endpoints) if hinted else (None, {}),
                                     "Fetch v%d to broker %d" % (version, other.node_id))

    def test_duplicate_node_id_is_refused(self):
        # The newcomer waits for the registration of node 1 to expire (it might be a crashed
        # predecessor's), within its start-up timeout; broker 1 keeps it alive, so the newcomer
        # must give up with an error and never report ready.
        c = self.cluster
        dup = ClusterBroker(1, dict(c.broker(1)._overrides))
        self.addCleanup(dup.cleanup)
        p = subprocess.run(dup.command(), stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=180)
        self.assertNotEqual(p.returncode, 0, "a second broker with node.id 1 ran; log:\n%s"
                            % p.stderr[-3000:])
        self.assertIn("node.id 1 is already registered", p.stderr)
        self.assertNotIn("kaffa ready", p.stderr)
        c.wait_brokers()
        self.assertTrue(c.broker(1).alive())

    def test_delete_topic_everywhere(self):
        c = self.cluster
        c.create_topic("doomed", 2, 3)
        c.wait_full_isr("doomed")
        cio.confluent_produce(c.bootstrap, "doomed", [(p, None, b"x", ()) for p in (0, 1)])
        for b in c.brokers:
            for p in (0, 1):
                self.assertTrue(os.path.isdir(cc.partition_dir(b, "doomed", p)),
                                "no log dir for doomed-%d on broker %d" % (p, b.node_id))
        admin = c.admin()
        admin.delete_topics(["doomed"], operation_timeout=30)["doomed"].result(timeout=60)

        def gone():
            for b in c.brokers:
                # All topics (naming it in Metadata v1 would auto-create it again).
                if "doomed" in metadata(b)["topics"]:
                    return False
                if any(os.path.exists(cc.partition_dir(b, "doomed", p)) for p in (0, 1)):
                    return False
            return True
        wait_until(gone, "topic doomed to disappear from every broker's Metadata and disk",
                   describe=lambda: c.describe() + " dirs: %s" % [
                       (b.node_id, sorted(os.listdir(b.log_dir))) for b in c.brokers])

    def test_admin_through_the_store(self):
        from confluent_kafka.admin import ConfigResource, NewPartitions
        c = self.cluster
        c.create_topic("grown", 1, 3)
        admin = c.admin()
        admin.create_partitions([NewPartitions("grown", 3)], operation_timeout=30)[
            "grown"].result(timeout=60)
        parts = c.wait_full_isr("grown")
        self.assertEqual(sorted(parts), [0, 1, 2])
        for p in (1, 2):
            self.assertEqual(sorted(parts[p]["replicas"]), [1, 2, 3])
            for b in c.brokers:
                wait_until(lambda: os.path.isdir(cc.partition_dir(b, "grown", p)),
                           "grown-%d's log on broker %d" % (p, b.node_id))

        res = ConfigResource(ConfigResource.Type.TOPIC, "grown", {"retention.ms": "3600000"})
        admin.alter_configs([res])[res].result(timeout=60)
        for b in c.brokers:
            from confluent_kafka.admin import AdminClient
            one = AdminClient({"bootstrap.servers": "%s:%d" % (b.host, b.port)})

            def described():
                r = ConfigResource(ConfigResource.Type.TOPIC, "grown")
                got = one.describe_configs([r])[r].result(timeout=30)
                return got["retention.ms"].value == "3600000"
            wait_until(described, "broker %d to describe grown's retention.ms" % b.node_id)

        # A group's config set through one broker is in the store: every broker describes it.
        from kafka_wire import Connection
        from test_group_configs import alter, describe as describe_group
        with Connection(c.brokers[0].host, c.brokers[0].port) as conn:
            self.assertEqual(alter(conn, "shared-g", [("consumer.heartbeat.interval.ms", 0,
                                                       "6000")]), (0, None))
        for b in c.brokers:
            def group_described():
                with Connection(b.host, b.port) as conn:
                    return describe_group(conn, "shared-g")[1].get(
                        "consumer.heartbeat.interval.ms") == ("6000", 8)
            wait_until(group_described, "broker %d to describe shared-g's heartbeat interval"
                       % b.node_id)

        # Two changes of one group and of one topic through two brokers at once: the one that
        # loses the race in the store is applied again to the newest record, so none is lost.
        from test_group_configs import GROUP, alter_request, alter_results
        changes = [[(GROUP, "shared-g", [("consumer.session.timeout.ms", 0, "50000")]),
                    (2, "grown", [("segment.ms", 0, "7200000")])],
                   [(GROUP, "shared-g", [("consumer.heartbeat.interval.ms", 0, "7000")]),
                    (2, "grown", [("max.message.bytes", 0, "200000")])]]
        conns = [Connection(b.host, b.port) for b in c.brokers[1:]]
        try:
            sent = []
            for conn, resources in zip(conns, changes):  # both sent before either is answered
                corr = conn.next_corr()
                conn.send(alter_request(corr, resources))
                sent.append(corr)
            for conn, corr in zip(conns, sent):
                got, body = conn.read_response()
                self.assertEqual(got, corr)
                self.assertEqual([e for e, *_ in alter_results(body)], [0, 0])
        finally:
            for conn in conns:
                conn.close()
        want_group = {"consumer.session.timeout.ms": ("50000", 8),
                      "consumer.heartbeat.interval.ms": ("7000", 8)}
        want_topic = {"retention.ms": "3600000", "segment.ms": "7200000",
                      "max.message.bytes": "200000"}
        for b in c.brokers:
            def both_kept():
                with Connection(b.host, b.port) as conn:
                    group = describe_group(conn, "shared-g")[1]
                one = AdminClient({"bootstrap.servers": "%s:%d" % (b.host, b.port)})
                r = ConfigResource(ConfigResource.Type.TOPIC, "grown")
                topic = one.describe_configs([r])[r].result(timeout=30)
                return (all(group.get(k) == v for k, v in want_group.items())
                        and all(topic[k].value == v for k, v in want_topic.items()))
            wait_until(both_kept, "broker %d to describe every change" % b.node_id,
                       timeout=20)

        from kafka.admin import KafkaAdminClient
        kp = KafkaAdminClient(bootstrap_servers="%s:%d" % (c.brokers[0].host, c.brokers[0].port))
        try:
            described = kp.describe_cluster()
        finally:
            kp.close()
        self.assertEqual(sorted(b["node_id"] for b in described["brokers"]), [1, 2, 3])
        self.assertIn(described["controller_id"], (1, 2, 3))


if __name__ == "__main__":
    unittest.main()
