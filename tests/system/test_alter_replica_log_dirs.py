#!/usr/bin/python3
"""Moving a replica to another log directory (AlterReplicaLogDirs, KIP-113).

- a partition moved while librdkafka keeps producing to it (acks=all): the broker answers at
  once, logs the move when done, and afterwards the log is in the other directory only (no future
  or deleted directory left), every acknowledged record reads back at its offset with its key,
  value and headers, and so after a restart;
- a move cut short by a stop goes on at the next start from the copy it had made (cut first
  where it stops agreeing with the log): after SIGTERM without checking the copy again (it was
  synced and checkpointed), after SIGKILL too, and it finishes with every record in place;
- with replica.alter.log.dirs.io.max.bytes.per.second low, DescribeLogDirs shows the future log
  (is_future_key, its lag) in the destination while the copy waits; raised as a dynamic broker
  config, the move finishes; asking for the log's own directory instead cancels a move;
  `kaffa cluster move-log-dir` sends the same request and reports each partition's outcome;
- errors as Kafka's: a path not in log.dirs is LOG_DIR_NOT_FOUND, an unknown partition
  UNKNOWN_TOPIC_OR_PARTITION (CLUSTER_AUTHORIZATION_FAILED without ALTER on the cluster:
  test_acl_matrix);
- in a cluster of three brokers with two directories each, the leader's and a follower's replica
  move while a producer writes with acks=all: the ISR stays whole, the three replicas end with
  identical batches, and every acknowledged record reads back;
- `kaffa reassign start --plan` with Kafka's "log_dirs": a kept replica moves to the directory
  named, a new one is created in the one named for it (not where placement would put it), and a
  "log_dirs" list of the wrong length is refused before anything is sent.
"""

import json
import os
import re
import shutil
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import client_io as cio  # noqa: E402
import cluster_checks as cc  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402
from cluster_etcd import wait_until  # noqa: E402
from cluster_harness import KaffaCluster  # noqa: E402
from kaffa_harness import KaffaBroker, run_kaffa  # noqa: E402

TOPIC = "mv"
LOG_DIR_NOT_FOUND = 57
UNKNOWN_TOPIC_OR_PARTITION = 3


def entries(directory, topic):
    return sorted(n for n in os.listdir(directory) if n.startswith(topic + "-"))


class ContinuousProducer(threading.Thread):
    """Produces to one partition with acks=all until stopped; keeps every acknowledged
    (offset, key, value, headers)."""

    def __init__(self, bootstrap, topic, partition):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.partition = bootstrap, topic, partition
        self.acked, self.errors = [], []
        self.stopping = threading.Event()

    def run(self):
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": self.bootstrap, "acks": "all", "linger.ms": 2,
                      "enable.idempotence": True, "message.timeout.ms": 30000})
        n = 0

        def on_delivery(headers):
            def done(err, msg):
                if err is not None:
                    self.errors.append(err)
                else:  # a delivery report carries no headers: those sent
                    self.acked.append(cio.Rec(msg.offset(), msg.key(), msg.value(), headers))
            return done
        while not self.stopping.is_set():
            headers = (("n", b"%d" % n),)
            p.produce(self.topic, key=b"live-%d" % n, value=b"v" * 512 + b"%d" % n,
                      headers=list(headers), partition=self.partition,
                      on_delivery=on_delivery(headers))
            n += 1
            p.poll(0.001 if n % 100 == 0 else 0)
        if p.flush(30):
            self.errors.append("undelivered after flush")

    def started(self):
        self.start()
        wait_until(lambda: len(self.acked) >= 200, "the producer to get going")
        return self

    def stop_after_more(self, what):
        """Once 200 more records are acknowledged: stops; every acknowledged record, by offset
        (AssertionError on any delivery error)."""
        before = len(self.acked)
        wait_until(lambda: len(self.acked) >= before + 200, what)
        self.stopping.set()
        self.join(60)
        if self.errors:
            raise AssertionError("delivery errors: %r" % self.errors[:5])
        return sorted(self.acked)


class AlterReplicaLogDirsTest(unittest.TestCase):
    def assertRecords(self, got, expected):
        """Equal record lists, the first difference named (difflib is too slow for these)."""
        for i, (g, e) in enumerate(zip(got, expected)):
            if g != e:
                self.fail("record %d of %d differs: got %r, expected %r"
                          % (i, len(expected), g[:2] + (g[2][-12:],), e[:2] + (e[2][-12:],)))
        self.assertEqual(len(got), len(expected))

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kaffa-systest-alterdirs-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.d0, self.d1 = (os.path.join(self.tmp, d) for d in ("d0", "d1"))

    def broker(self, **overrides):
        b = KaffaBroker(overrides=dict({"log.dirs": self.d0 + "," + self.d1,
                                        "log.segment.bytes": "262144"}, **overrides))
        self.addCleanup(b.cleanup)
        self.addCleanup(b.kill)
        return b

    def produce_first(self, b, count=3000):
        records = [(0, b"k%d" % i, b"x" * 700 + b"%d" % i, [("i", b"%d" % i)])
                   for i in range(count)]
        with kw.connect(b) as conn:
            self.assertEqual(conn.create_topics([(TOPIC, 2, 1)]), {TOPIC: 0})
        cio.confluent_produce(b.bootstrap, TOPIC, records)
        self.assertEqual(entries(self.d0, TOPIC), [TOPIC + "-0"])
        return [cio.Rec(i, k, v, cio.norm_headers(h)) for i, (_, k, v, h) in enumerate(records)]

    def test_a_log_moves_while_it_is_written(self):
        with self.broker() as b:
            expected = self.produce_first(b)
            producer = ContinuousProducer(b.bootstrap, TOPIC, 0).started()
            self.addCleanup(producer.stopping.set)
            with kw.connect(b) as conn:
                self.assertEqual(conn.alter_replica_log_dirs({self.d1: {TOPIC: [0]}}),
                                 {(TOPIC, 0): 0})
            b.wait_for_log(r"moved mv-0 from %s to %s" % (self.d0, self.d1))
            expected += producer.stop_after_more("appends to the moved log")

            self.assertEqual(entries(self.d0, TOPIC), [])
            self.assertEqual(entries(self.d1, TOPIC), [TOPIC + "-0", TOPIC + "-1"])
            self.assertNotRegex(b.log_text(), r"moving mv-0.*failed|index entries not written")
            with kw.connect(b) as conn:
                listed = {path: topics.get(TOPIC, {}) for _, path, topics in
                          conn.describe_log_dirs()}
            self.assertEqual(listed[self.d0], {})
            self.assertEqual({p: f for p, (_, _, f) in listed[self.d1].items()}, {0: 0, 1: 0})
            self.assertRecords(cio.confluent_consume(b.bootstrap, [(TOPIC, 0)])[(TOPIC, 0)],
                               expected)

        with self.broker() as b:
            self.assertRecords(cio.confluent_consume(b.bootstrap, [(TOPIC, 0)])[(TOPIC, 0)],
                               expected)
            self.assertEqual(entries(self.d1, TOPIC), [TOPIC + "-0", TOPIC + "-1"])

    def test_a_cut_move_continues_from_its_copy(self):
        throttled = {"replica.alter.log.dirs.io.max.bytes.per.second": "1"}
        b = self.broker(**throttled).start()
        expected = self.produce_first(b)
        with kw.connect(b) as conn:
            self.assertEqual(conn.alter_replica_log_dirs({self.d1: {TOPIC: [0]}}),
                             {(TOPIC, 0): 0})
        b.wait_for_log(r"moving mv-0 to ")
        future_dir = os.path.join(self.d1, next(
            n for n in wait_until(lambda: [n for n in entries(self.d1, TOPIC)
                                           if n.endswith("-future")], "the future log")))
        wait_until(lambda: any(n.endswith(".log") and
                               os.path.getsize(os.path.join(future_dir, n)) > 0
                               for n in os.listdir(future_dir)), "the first copy step")
        continuing = (r"moving mv-0 to %s \(continuing a copy up to offset ([0-9]+); ([0-9]+) "
                      r"batches checked\)" % re.escape(self.d1))
        # A clean stop syncs the copy and records it as durable: nothing of it is checked again.
        self.assertEqual(b.stop(), 0)
        b = self.broker(**throttled).start()
        m = b.wait_for_log(continuing)
        self.assertGreater(int(m.group(1)), 0)
        self.assertEqual(m.group(2), "0")
        b.kill9()  # a crash: the copy so far stays, unfinished

        with self.broker() as b:
            b.wait_for_log(r"moved mv-0 from %s to %s" % (self.d0, self.d1))
            self.assertGreater(int(re.search(continuing, b.log_text()).group(1)), 0)
            self.assertEqual(entries(self.d0, TOPIC), [])
            self.assertEqual(entries(self.d1, TOPIC), [TOPIC + "-0", TOPIC + "-1"])
            self.assertRecords(cio.confluent_consume(b.bootstrap, [(TOPIC, 0)])[(TOPIC, 0)],
                               expected)

    def test_a_throttled_move_shows_its_future_log_and_can_be_cancelled(self):
        with self.broker(**{"replica.alter.log.dirs.io.max.bytes.per.second": "1"}) as b:
            expected = self.produce_first(b)
            with kw.connect(b) as conn:
                self.assertEqual(conn.alter_replica_log_dirs({self.d1: {TOPIC: [0]}}),
                                 {(TOPIC, 0): 0})

            def future():
                with kw.connect(b) as conn:
                    for _, path, topics in conn.describe_log_dirs():
                        if path == self.d1 and 0 in topics.get(TOPIC, {}):
                            return topics[TOPIC][0]
            # Held back by the quota after its first step: in the destination as a future log.
            wait_until(lambda: (future() or (0,))[0] > 0, "the first copy step")
            size, lag, is_future = future()
            self.assertEqual(is_future, 1)
            self.assertGreater(lag, 0)
            self.assertEqual(len([n for n in entries(self.d1, TOPIC) if n.endswith("-future")]), 1)

            # The log's own directory cancels the move.
            with kw.connect(b) as conn:
                self.assertEqual(conn.alter_replica_log_dirs({self.d0: {TOPIC: [0]}}),
                                 {(TOPIC, 0): 0})
            wait_until(lambda: future() is None, "the cancelled move's future log to go")
            wait_until(lambda: entries(self.d1, TOPIC) == [TOPIC + "-1"],
                       "the future directory to be removed")

            # Again, with the CLI, and the quota raised (a dynamic broker config): the move
            # finishes.
            r = run_kaffa(["-b", b.bootstrap, "cluster", "move-log-dir", "-B", "0", "--dir",
                           self.d1, TOPIC + ":0"])
            self.assertEqual((r.returncode, r.stdout.strip()),
                             (0, "mv:0: moving to %s on broker 0" % self.d1), r.stderr)
            wait_until(lambda: future() is not None, "the future log")
            r = run_kaffa(["-b", b.bootstrap, "config", "set", "broker", "0",
                           "replica.alter.log.dirs.io.max.bytes.per.second=1000000000"])
            self.assertEqual(r.returncode, 0, r.stderr)
            b.wait_for_log(r"moved mv-0 from %s to %s" % (self.d0, self.d1))
            self.assertEqual(entries(self.d0, TOPIC), [])
            self.assertRecords(cio.confluent_consume(b.bootstrap, [(TOPIC, 0)])[(TOPIC, 0)],
                               expected)

    def test_errors(self):
        with self.broker() as b:
            with kw.connect(b) as conn:
                self.assertEqual(conn.create_topics([(TOPIC, 1, 1)]), {TOPIC: 0})
                answer = conn.alter_replica_log_dirs({
                    os.path.join(self.tmp, "elsewhere"): {TOPIC: [0]},
                    self.d1 + "/": {TOPIC: [5], "nosuch": [0]},
                })
            self.assertEqual(answer, {(TOPIC, 0): LOG_DIR_NOT_FOUND,
                                      (TOPIC, 5): UNKNOWN_TOPIC_OR_PARTITION,
                                      ("nosuch", 0): UNKNOWN_TOPIC_OR_PARTITION})
            self.assertEqual(entries(self.d0, TOPIC), [TOPIC + "-0"])
            self.assertEqual(entries(self.d1, TOPIC), [])
            # The CLI reports the error and fails.
            r = run_kaffa(["-b", b.bootstrap, "cluster", "move-log-dir", "-B", "0", "--dir",
                           os.path.join(self.tmp, "elsewhere"), TOPIC + ":0"])
            self.assertEqual(r.returncode, 1)
            self.assertIn("mv:0:", r.stderr)


def batches_in(directory, topic, p):
    """The batches of the log files of topic-p in `directory`."""
    out = []
    base = os.path.join(directory, "%s-%d" % (topic, p))
    for name in sorted(n for n in os.listdir(base) if n.endswith(".log")):
        with open(os.path.join(base, name), "rb") as f:
            out += kr.decode_batches(f.read(), allow_partial_tail=True)
    return out


class ClusterMoveTest(unittest.TestCase):
    """Three brokers with two log directories each: self.dirs[n] = [a, b]."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kaffa-systest-alterdirs-cluster-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.dirs = {n: [os.path.join(self.tmp, "b%d%s" % (n, x)) for x in "ab"]
                     for n in (1, 2, 3)}

    def cluster(self, **settings):
        return KaffaCluster(3, per_broker={n: dict({"log.dirs": ",".join(d)}, **settings)
                                           for n, d in self.dirs.items()})

    def test_leader_and_follower_replicas_move_while_written(self):
        dirs = self.dirs
        topic = "mv-rf3"
        first = [(0, b"k%d" % i, b"f%d" % i, None) for i in range(2000)]
        with self.cluster(**{"log.segment.bytes": "65536"}) as cluster:
            cluster.create_topic(topic, 1, 3)
            leader = cluster.wait_full_isr(topic)[0]["leader"]
            follower = next(n for n in (1, 2, 3) if n != leader)
            cio.confluent_produce(cluster.bootstrap, topic, first)
            expected = [cio.Rec(i, k, v, ()) for i, (_, k, v, _) in enumerate(first)]
            at = {n: next(i for i, d in enumerate(ds) if entries(d, topic))
                  for n, ds in dirs.items()}

            producer = ContinuousProducer(cluster.bootstrap, topic, 0).started()
            self.addCleanup(producer.stopping.set)
            for n in (leader, follower):
                target = dirs[n][1 - at[n]]
                with kw.connect(cluster.broker(n)) as conn:
                    self.assertEqual(conn.alter_replica_log_dirs({target: {topic: [0]}}),
                                     {(topic, 0): 0})
            for n in (leader, follower):
                cluster.broker(n).wait_for_log(r"moved mv-rf3-0 from %s to %s"
                                               % (dirs[n][at[n]], dirs[n][1 - at[n]]))
            expected += producer.stop_after_more("appends after the moves")
            cluster.wait_full_isr(topic)

            now = {n: 1 - at[n] if n in (leader, follower) else at[n] for n in dirs}
            for n, ds in dirs.items():
                self.assertEqual(entries(ds[now[n]], topic), [topic + "-0"], n)
                self.assertEqual(entries(ds[1 - now[n]], topic), [], n)
            state = {}

            def identical():
                logs = {"broker %d" % n: batches_in(dirs[n][now[n]], topic, 0) for n in dirs}
                state["diff"] = cc.replica_difference(logs)
                return state["diff"] is None
            wait_until(identical, "identical replicas", describe=lambda: state.get("diff"))
            got = cio.confluent_consume(cluster.bootstrap, [(topic, 0)])[(topic, 0)]
            self.assertEqual(len(got), len(expected))
            self.assertTrue(got == expected, "the records read back differ from those acked")

    def test_a_reassignment_plan_places_replicas_in_its_log_dirs(self):
        dirs = self.dirs
        topic = "mv-plan"
        records = [(0, b"k%d" % i, b"v%d" % i, None) for i in range(500)]
        with self.cluster() as cluster:
            cluster.create_topic(topic, 1, 2)
            before = cluster.wait_full_isr(topic)[0]["replicas"]
            cio.confluent_produce(cluster.bootstrap, topic, records)
            kept, dropped = before
            new = next(n for n in (1, 2, 3) if n not in before)
            at = next(i for i, d in enumerate(dirs[kept]) if entries(d, topic))
            # A new replica goes to the directory holding the fewest partitions, the first of
            # two empty ones: the plan names the second.
            plan = {"version": 1, "partitions": [{
                "topic": topic, "partition": 0, "replicas": [kept, new],
                "log_dirs": [dirs[kept][1 - at], dirs[new][1]]}]}
            path = os.path.join(self.tmp, "plan.json")

            plan["partitions"][0]["log_dirs"].pop()
            with open(path, "w") as f:
                json.dump(plan, f)
            r = run_kaffa(["-b", cluster.bootstrap, "reassign", "start", "--plan", path])
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertIn("one directory (or \"any\") per replica", r.stderr)

            plan["partitions"][0]["log_dirs"].append(dirs[new][1])
            with open(path, "w") as f:
                json.dump(plan, f)
            r = run_kaffa(["-b", cluster.bootstrap, "reassign", "start", "--plan", path])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("%s:0: moving to %s on broker %d" % (topic, dirs[new][1], new),
                          r.stdout)
            self.assertIn("%s:0: moving to %s on broker %d" % (topic, dirs[kept][1 - at], kept),
                          r.stdout)

            def placed():
                return all(
                    entries(dirs[n][i], topic) == [topic + "-0"] and
                    entries(dirs[n][1 - i], topic) == []
                    for n, i in ((kept, 1 - at), (new, 1))) and not any(
                    entries(d, topic) for d in dirs[dropped])
            wait_until(placed, "the replicas in the plan's directories, none on %d" % dropped,
                       describe=lambda: {d: entries(d, topic) for ds in dirs.values()
                                         for d in ds})
            self.assertEqual(cluster.wait_full_isr(topic)[0]["replicas"], [kept, new])
            got = cio.confluent_consume(cluster.bootstrap, [(topic, 0)])[(topic, 0)]
            self.assertEqual([(r.key, r.value) for r in got], [(k, v) for _, k, v, _ in records])


if __name__ == "__main__":
    unittest.main()
