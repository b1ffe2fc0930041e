#!/usr/bin/python3
"""A log directory that fails while the broker runs (Kafka's offline log directories).

The failure is made for real: the directory is removed and a regular file put in its place, so
that every later file operation in it fails (ENOTDIR), as on a disk that went away.

- single node, two directories: a segment roll in the broken one fails the produce with
  KAFKA_STORAGE_ERROR and takes that directory offline. DescribeLogDirs lists it with
  KAFKA_STORAGE_ERROR; its partition answers Produce and Fetch with KAFKA_STORAGE_ERROR and
  Metadata with no leader and this broker as offline replica; `kaffa cluster log-dirs` shows the
  error and /metrics `kaffa_log_dir_offline` the directory; the other directory's partition keeps
  serving, new topics are placed there, and no move goes to or from the broken one;
- a recovery checkpoint that cannot be written takes its directory offline with no client
  request; when that is the first directory (the broker's own metadata), the broker halts with
  exit code 1, as Kafka does;
- a directory unusable at start-up (a file where it should be) starts offline: the broker
  serves the other one, answers KAFKA_STORAGE_ERROR for the partitions whose logs it cannot see,
  and does not make them again elsewhere; with the disk back, their records read back;
- three brokers: the leader of a replicated partition loses the directory holding it; the
  controller moves the leadership to another in-sync replica and takes it out of the ISR, acks=all
  producers go on, and every record acknowledged before and after reads back. A broker started
  with that directory still unusable reports the replica offline: it is not made again, and the
  replica stays out of the ISR.
"""

import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import client_io as cio  # noqa: E402
import fetch_wire as fw  # noqa: E402
import kafka_records as kr  # noqa: E402
from cluster_etcd import wait_until  # noqa: E402
from cluster_harness import KaffaCluster  # noqa: E402
from kaffa_harness import KaffaBroker, run_kaffa  # noqa: E402

KAFKA_STORAGE_ERROR = 56
LEADER_NOT_AVAILABLE = 5
OFFLINE = r"log directory .* is offline"


def break_dir(path):
    """The directory gone and a regular file in its place: every operation in it fails."""
    shutil.rmtree(path)
    with open(path, "w") as f:
        f.write("not a directory\n")


def hide_dir(path):
    """The directory set aside and a regular file in its place; returns where it is kept."""
    saved = path + ".saved"
    os.rename(path, saved)
    with open(path, "w") as f:
        f.write("not a directory\n")
    return saved


def partitions_in(directory, topic):
    prefix = topic + "-"
    return sorted(int(n[len(prefix):]) for n in os.listdir(directory)
                  if n.startswith(prefix) and n[len(prefix):].isdigit())


def produce(conn, topic, partition, value):
    """Produce v9, acks=all, one batch; the partition's answer dict."""
    corr = conn.next_corr()
    batch = kr.encode_batch([(None, value, ())])
    r = fw.parse_produce_response(conn.round_trip(
        fw.produce_request(corr, 9, [(topic, [(partition, batch)])]), corr, "Produce v9"))
    return r["partitions"][(topic, partition)]


def fetch(conn, topic_id, partition):
    """Fetch v13 from offset 0; the partition's answer dict."""
    corr = conn.next_corr()
    r = fw.parse_fetch_response(conn.round_trip(
        fw.fetch_request(corr, 13, [(topic_id, [(partition, 0, 1 << 20)])]), corr,
        "Fetch v13"))
    return r["partitions"][(topic_id, partition)]


def metadata_partitions(conn, topic):
    """Metadata v12: {partition: (leader, leader epoch)}."""
    corr = conn.next_corr()
    return fw.parse_metadata_topics(conn.round_trip(
        fw.metadata_request(corr, [topic]), corr, "Metadata v12"))[topic]["leaders"]


class SingleNodeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kaffa-logdirfail-")
        self.dirs = [os.path.join(self.tmp, d) for d in ("a", "b")]
        self.broker = None

    def tearDown(self):
        if self.broker is not None:
            self.broker.kill()  # before its directories go (a broker left running by a failure)
            self.broker.cleanup()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, **overrides):
        self.broker = KaffaBroker(overrides=dict({"log.dirs": ",".join(self.dirs)},
                                                 **overrides)).start()
        return self.broker

    def create(self, name, partitions, configs=None):
        from confluent_kafka.admin import AdminClient, NewTopic
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1,
                                      config=configs or {})])[name].result(timeout=30)

    def test_a_failed_directory_goes_offline_and_the_other_keeps_serving(self):
        b = self.start()
        a_dir, b_dir = self.dirs
        # One batch per segment: the next append in a partition rolls a new segment file.
        self.create("t", 2, {"segment.bytes": "2000"})
        self.assertEqual((partitions_in(a_dir, "t"), partitions_in(b_dir, "t")), ([0], [1]))
        value = b"v" * 1500
        with kr.connect(b) as conn:
            for p in (0, 1):
                self.assertEqual(produce(conn, "t", p, value)["error_code"], 0)
            topic_id = fw.topic_ids(conn, ["t"])["t"]
            break_dir(b_dir)
            got = produce(conn, "t", 1, value)
            self.assertEqual(got["error_code"], KAFKA_STORAGE_ERROR, got)
            b.wait_for_log(OFFLINE)
            self.assertEqual(produce(conn, "t", 1, value)["error_code"], KAFKA_STORAGE_ERROR)
            self.assertEqual(fetch(conn, topic_id, 1)["error_code"], KAFKA_STORAGE_ERROR)
            dirs = {path: (error, topics) for error, path, topics in conn.describe_log_dirs()}
            self.assertEqual(dirs[b_dir], (KAFKA_STORAGE_ERROR, {}))
            self.assertEqual(dirs[a_dir][0], 0)
            self.assertEqual(sorted(dirs[a_dir][1]["t"]), [0])
            leaders = metadata_partitions(conn, "t")
            self.assertEqual(leaders[1][0], -1)
            self.assertNotEqual(leaders[0][0], -1)
            # The other directory: its partition rolls, takes records and reads them back.
            for _ in range(3):
                self.assertEqual(produce(conn, "t", 0, value)["error_code"], 0)
            part = fetch(conn, topic_id, 0)
            self.assertEqual(part["error_code"], 0)
            self.assertEqual(part["high_watermark"], 4)
            self.assertEqual(len(kr.decode_batches(part["records"])), 4)
            # No move goes to or from the offline directory.
            self.assertEqual(conn.alter_replica_log_dirs({b_dir: {"t": [0]}}),
                             {("t", 0): KAFKA_STORAGE_ERROR})
            self.assertEqual(conn.alter_replica_log_dirs({a_dir: {"t": [1]}}),
                             {("t", 1): KAFKA_STORAGE_ERROR})
        # `kaffa cluster log-dirs` shows the error, and /metrics which directory is offline.
        r = run_kaffa(["-b", b.bootstrap, "--json", "cluster", "log-dirs"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({d["log_dir"]: d["error"] for d in json.loads(r.stdout)},
                         {a_dir: "", b_dir: "KAFKA_STORAGE_ERROR"})
        self.assertEqual([b.metric("kaffa_log_dir_offline", '{dir="%s"}' % d) for d in self.dirs],
                         [0, 1])
        # New partitions go to the directory still online.
        self.create("u", 2)
        self.assertEqual(partitions_in(a_dir, "u"), [0, 1])
        cio.confluent_produce(b.bootstrap, "u", [(i % 2, None, b"x%d" % i, ()) for i in range(4)])
        self.assertTrue(b.alive())
        self.assertEqual(b.stop(), 0)

    def test_an_unwritable_checkpoint_takes_its_directory_offline(self):
        b = self.start(**{"log.flush.offset.checkpoint.interval.ms": "100"})
        a_dir, b_dir = self.dirs
        self.create("t", 2)
        self.assertEqual(partitions_in(b_dir, "t"), [1])
        break_dir(b_dir)
        line = b.wait_for_log(OFFLINE)
        self.assertIn(b_dir, line.group(0))
        with kr.connect(b) as conn:
            self.assertEqual(produce(conn, "t", 1, b"x")["error_code"], KAFKA_STORAGE_ERROR)
            self.assertEqual(produce(conn, "t", 0, b"x")["error_code"], 0)
        self.assertTrue(b.alive())

    def test_the_first_directory_failing_halts_the_broker(self):
        b = self.start(**{"log.flush.offset.checkpoint.interval.ms": "100"})
        self.create("t", 2)
        break_dir(self.dirs[0])
        self.assertEqual(b.proc.wait(timeout=60), 1)
        self.assertIn("halting: the metadata log directory", b.log_text())


    def test_a_directory_unusable_at_start_up_starts_offline(self):
        b = self.start()
        a_dir, b_dir = self.dirs
        self.create("t", 2)
        records = [(p, None, b"r%d-%d" % (p, i), ()) for p in (0, 1) for i in range(10)]
        cio.confluent_produce(b.bootstrap, "t", records)
        self.assertEqual(b.stop(), 0)
        saved = hide_dir(b_dir)
        b.restart()
        b.wait_for_log(r"log directory .* is offline from the start")
        with kr.connect(b) as conn:
            topic_id = fw.topic_ids(conn, ["t"])["t"]
            self.assertEqual(produce(conn, "t", 1, b"x")["error_code"], KAFKA_STORAGE_ERROR)
            self.assertEqual(fetch(conn, topic_id, 1)["error_code"], KAFKA_STORAGE_ERROR)
            self.assertEqual(metadata_partitions(conn, "t")[1][0], -1)
            dirs = {path: error for error, path, _ in conn.describe_log_dirs()}
            self.assertEqual(dirs, {a_dir: 0, b_dir: KAFKA_STORAGE_ERROR})
            part = fetch(conn, topic_id, 0)
            self.assertEqual((part["error_code"], part["high_watermark"]), (0, 10))
        self.assertEqual(partitions_in(a_dir, "t"), [0])  # t-1 was not made again here
        self.assertEqual(b.stop(), 0)
        os.remove(b_dir)
        os.rename(saved, b_dir)
        b.restart()
        got = cio.confluent_consume(b.bootstrap, [("t", 0), ("t", 1)])
        self.assertEqual([r.value for r in got[("t", 1)]], [r[2] for r in records if r[0] == 1])


class ClusterTest(unittest.TestCase):
    def test_a_leader_losing_its_directory_hands_the_partition_over(self):
        tmp = tempfile.mkdtemp(prefix="kaffa-logdirfail-")
        dirs = {n: [os.path.join(tmp, "b%d-%s" % (n, d)) for d in ("a", "b")]
                for n in (1, 2, 3)}
        try:
            with KaffaCluster(3, per_broker={n: {
                    "log.dirs": ",".join(d), "log.flush.offset.checkpoint.interval.ms": "100"}
                    for n, d in dirs.items()}) as cluster:
                topic = "replicated"
                cluster.create_topic(topic, 1, 3, configs={"min.insync.replicas": "2"})
                cluster.wait_full_isr(topic)
                leader = cluster.leader(topic, 0)
                a_dir, b_dir = dirs[leader.node_id]
                # The leader's log into its second directory, so that losing it spares the first.
                with kr.connect(leader) as conn:
                    if partitions_in(b_dir, topic) != [0]:
                        self.assertEqual(conn.alter_replica_log_dirs({b_dir: {topic: [0]}}),
                                         {(topic, 0): 0})
                        wait_until(lambda: partitions_in(b_dir, topic) == [0],
                                   "the leader's log moved to " + b_dir)
                before = [(0, None, b"before-%d" % i, ()) for i in range(50)]
                cio.confluent_produce(cluster.bootstrap, topic, before)  # acks=all
                break_dir(b_dir)
                leader.wait_for_log(OFFLINE)
                others = {n for n in dirs if n != leader.node_id}
                cluster.wait_isr(topic, 0, lambda p: p["leader"] in others and
                                 leader.node_id not in p["isr"],
                                 "the leadership of %s-0 moved off broker %d" %
                                 (topic, leader.node_id))
                after = [(0, None, b"after-%d" % i, ()) for i in range(50)]
                cio.confluent_produce(cluster.bootstrap, topic, after)
                got = cio.confluent_consume(cluster.bootstrap, [(topic, 0)])[(topic, 0)]
                self.assertEqual([r.value for r in got], [r[2] for r in before + after])
                self.assertTrue(leader.alive())
                # Restarted with the directory still unusable: the replica stays offline.
                self.assertEqual(leader.stop(), 0)
                leader.restart()
                leader.wait_for_log(r"reporting 1 replicas as offline")
                cio.confluent_produce(cluster.bootstrap, topic, after)
                p = cluster.wait_isr(topic, 0, lambda p: leader.node_id not in p["isr"],
                                     "broker %d out of the ISR" % leader.node_id)
                self.assertIn(p["leader"], others)
                self.assertEqual(partitions_in(a_dir, topic), [])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
