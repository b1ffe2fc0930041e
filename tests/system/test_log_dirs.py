#!/usr/bin/python3
"""Several log directories (`log.dirs=a,b`, Kafka's JBOD) and each directory's lock.

- a topic's partitions are spread over the directories, each log in exactly one; both
  directories get meta.properties with the same cluster id and a .lock;
- DescribeLogDirs lists each directory with the partitions it holds, as on disk, and so does
  `kaffa cluster log-dirs` (each broker of a cluster asked for its own); /metrics gives each
  directory's partitions, log bytes and file system space;
- a second broker on one of those directories does not start, and the first keeps serving;
- the directories listed in another order are refused while the broker's metadata would not be in
  the first; with a directory added, the records written before are read back with librdkafka,
  the new directory gets meta.properties and takes the new partitions;
- a directory whose meta.properties names another cluster stops the start;
- in a cluster of three brokers with two directories each, every broker spreads its replicas
  over its directories; a broker killed and restarted finds them, catches up, and the records
  read back are those produced; after a clean stop each directory's replication checkpoint names
  its own logs with the high watermark.
"""

import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import client_io as cio  # noqa: E402
import kafka_wire as kw  # noqa: E402
from cluster_harness import KaffaCluster  # noqa: E402
from kaffa_harness import BrokerStartError, KaffaBroker, run_kaffa  # noqa: E402

TOPIC = "jbod"


def cluster_id_of(directory):
    with open(os.path.join(directory, "meta.properties")) as f:
        props = dict(line.strip().split("=", 1) for line in f if "=" in line)
    return props["cluster.id"]


def partitions_in(directory, topic):
    prefix = topic + "-"
    return sorted(int(n[len(prefix):]) for n in os.listdir(directory)
                  if n.startswith(prefix) and n[len(prefix):].isdigit())


def cli_log_dirs(bootstrap, *args):
    """`kaffa cluster log-dirs --json`: {(broker, dir): {(topic, partition): size}}."""
    r = run_kaffa(["-b", bootstrap, "--json", "cluster", "log-dirs"] + list(args))
    assert r.returncode == 0, r.stderr
    return {(d["broker"], d["log_dir"]): {(p["topic"], p["partition"]): p["size"]
                                          for p in d["partitions"]}
            for d in json.loads(r.stdout)}


def read_checkpoint(path):
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == "0" and int(lines[1]) == len(lines) - 2, lines[:2]
    return {(t, int(p)): int(o) for t, p, o in (line.split() for line in lines[2:])}


def logs_in(directory):
    return sum(1 for n in os.listdir(directory)
               if "-" in n and n.rsplit("-", 1)[1].isdigit())


class LogDirsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kaffa-systest-jbod-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.dirs = [os.path.join(self.tmp, d) for d in ("d0", "d1", "d2")]

    def broker(self, dirs, **overrides):
        b = KaffaBroker(overrides=dict({"log.dirs": ",".join(dirs)}, **overrides))
        self.addCleanup(b.cleanup)
        self.addCleanup(b.kill)
        return b

    def refused(self, dirs, pattern):
        b = self.broker(dirs)
        with self.assertRaises(BrokerStartError):
            b.start()
        self.assertNotEqual(b.proc.wait(timeout=30), 0)
        self.assertRegex(b.log_text(), pattern)

    def test_partitions_spread_over_the_directories_and_stay_there(self):
        d0, d1, d2 = self.dirs
        records = [(p, b"k%d" % i, b"v%d-%d" % (p, i), None) for p in range(4) for i in range(25)]
        with self.broker([d0, d1]) as b:
            with kw.connect(b) as conn:
                self.assertEqual(conn.create_topics([(TOPIC, 4, 1)]), {TOPIC: 0})
            cio.confluent_produce(b.bootstrap, TOPIC, records)
            self.assertEqual(partitions_in(d0, TOPIC), [0, 2])
            self.assertEqual(partitions_in(d1, TOPIC), [1, 3])
            self.assertEqual(cluster_id_of(d0), cluster_id_of(d1))
            self.assertTrue(os.path.isfile(os.path.join(d1, ".lock")))

            with kw.connect(b) as conn:
                listed = conn.describe_log_dirs()
            self.assertEqual([(e, p) for e, p, _ in listed], [(0, d0), (0, d1)])
            for (_, path, topics) in listed:
                self.assertEqual(sorted(topics.get(TOPIC, {})), partitions_in(path, TOPIC))
                for size, lag, future in topics[TOPIC].values():
                    self.assertGreater(size, 61)  # at least one batch
                    self.assertEqual((lag, future), (0, 0))

            # The CLI shows the same, per broker and directory (kafka-log-dirs.sh --describe).
            shown = cli_log_dirs(b.bootstrap, "-t", TOPIC)
            self.assertEqual({k: sorted(p for _, p in v) for k, v in shown.items()},
                             {(0, d0): [0, 2], (0, d1): [1, 3]})

            # And /metrics, per directory.
            for d in (d0, d1):
                label = '{dir="%s"}' % d
                self.assertEqual(b.metric("kaffa_log_dir_partitions", label), 2)
                self.assertEqual(b.metric("kaffa_log_dir_log_size_bytes", label),
                                 sum(topics[TOPIC][p][0] for _, path, topics in listed
                                     if path == d for p in topics[TOPIC]))
                total = b.metric("kaffa_log_dir_total_bytes", label)
                self.assertGreater(total, 0)
                self.assertLessEqual(b.metric("kaffa_log_dir_usable_bytes", label), total)

            # One broker per directory: the second does not start, the first keeps serving.
            self.refused([d2, d1], r"in use by another broker process")
            self.assertEqual(len(cio.confluent_consume(b.bootstrap, [(TOPIC, 1)])[(TOPIC, 1)]), 25)

        # The broker's own metadata must stay in the first directory.
        self.refused([d1, d0], r"__kaffa_metadata.*list it first")

        # A third directory: the old logs are found where they are, the new go there first.
        with self.broker([d0, d1, d2]) as b:
            got = cio.confluent_consume(b.bootstrap, [(TOPIC, p) for p in range(4)])
            for p in range(4):
                self.assertEqual([r.value for r in got[(TOPIC, p)]],
                                 [v for q, _, v, _ in records if q == p])
            self.assertEqual(cluster_id_of(d2), cluster_id_of(d0))
            # Kafka's placement: each new log where the fewest are, the first listed on a tie
            # (the reader may have made __consumer_offsets meanwhile: counted as it is).
            counts = [logs_in(d) for d in self.dirs]
            expected = [[], [], []]
            for p in range(3):
                least = counts.index(min(counts))
                expected[least].append(p)
                counts[least] += 1
            self.assertEqual(expected[2][:2], [0, 1])  # the empty directory takes the first two
            with kw.connect(b) as conn:
                self.assertEqual(conn.create_topics([("later", 3, 1)]), {"later": 0})
            self.assertEqual([partitions_in(d, "later") for d in self.dirs], expected)
            with kw.connect(b) as conn:
                listed = conn.describe_log_dirs()
            self.assertEqual([p for _, p, _ in listed], [d0, d1, d2])
            self.assertEqual([sorted(t.get("later", {})) for _, _, t in listed], expected)

    def test_a_directory_of_another_cluster_stops_the_start(self):
        d0, d1, _ = self.dirs
        with self.broker([d0]):
            pass
        with self.broker([d1]):
            pass
        shutil.rmtree(os.path.join(d1, "__kaffa_metadata"), True)  # only meta.properties tells
        self.assertNotEqual(cluster_id_of(d0), cluster_id_of(d1))
        self.refused([d0, d1], r"belongs to cluster")



class ClusterLogDirsTest(unittest.TestCase):
    def test_each_broker_spreads_its_replicas_over_its_directories(self):
        tmp = tempfile.mkdtemp(prefix="kaffa-systest-jbod-cluster-")
        self.addCleanup(shutil.rmtree, tmp, True)
        dirs = {n: [os.path.join(tmp, "b%d%s" % (n, x)) for x in "ab"] for n in (1, 2, 3)}
        topic = "jbod-rf3"
        records = [(p, None, b"r%d-%d" % (p, i), None) for p in range(4) for i in range(30)]
        with KaffaCluster(3, per_broker={n: {"log.dirs": ",".join(d)}
                                         for n, d in dirs.items()}) as cluster:
            cluster.create_topic(topic, 4, 3)
            cluster.wait_full_isr(topic)
            for a, b in dirs.values():
                self.assertEqual(sorted(partitions_in(a, topic) + partitions_in(b, topic)),
                                 [0, 1, 2, 3])
                self.assertEqual(len(partitions_in(a, topic)), 2)  # where the fewest are
            victim = cluster.broker(2)
            victim.kill9()
            cio.confluent_produce(cluster.bootstrap, topic, records)
            before = {n: (partitions_in(a, topic), partitions_in(b, topic))
                      for n, (a, b) in dirs.items()}
            cluster.restart(victim)
            # Leadership returns to the restarted broker once it is back in the ISR: a read
            # before that could ask a leader about to step down.
            cluster.wait_preferred_leaders(topic)
            self.assertEqual({n: (partitions_in(a, topic), partitions_in(b, topic))
                              for n, (a, b) in dirs.items()}, before)
            shown = cli_log_dirs(cluster.bootstrap, "-t", topic)
            self.assertEqual(shown, {(n, d): {(topic, p): shown[(n, d)][(topic, p)]
                                              for p in partitions_in(d, topic)}
                                     for n, ds in dirs.items() for d in ds})
            got = cio.confluent_consume(cluster.bootstrap, [(topic, p) for p in range(4)])
            for p in range(4):
                self.assertEqual([r.value for r in got[(topic, p)]],
                                 [v for q, _, v, _ in records if q == p])
        # Stopped cleanly: each directory's checkpoint names its own logs, at the watermark.
        for a, b in dirs.values():
            for d in (a, b):
                marks = read_checkpoint(os.path.join(d, "replication-offset-checkpoint"))
                own = {(topic, p) for p in partitions_in(d, topic)}
                self.assertEqual({k for k in marks if k[0] == topic}, own, d)
                for key in own:
                    self.assertEqual(marks[key], 30, (d, key))


if __name__ == "__main__":
    unittest.main()
