#!/usr/bin/python3
"""Partition reassignment (AlterPartitionReassignments 45, ListPartitionReassignments 46) in a
cluster of four brokers, as kafka-reassign-partitions.sh drives it.

- Replacing a dead broker under load (kafkajs's admin client): topic "moving" has partition 0 on
  [1, 2] and partition 1 on [2, 3]; an idempotent acks=all producer writes all along. Broker 1 is
  killed for good, then partition 0 moves to [3, 4] (away from the dead broker and from broker 2,
  its leader by then) and partition 1 grows to [2, 3, 4]. Every broker's Metadata then shows the
  target replicas, all in sync, nothing is listed as in progress, the removed replica's directory
  is gone from broker 2, and every acknowledged record is at its offset in the log files of every
  new replica (byte-identical batches), and read back by a group consumer.
- Cancelling and refusals (`kaffa reassign` and raw requests): with broker 4 frozen, a
  reassignment of "held" from [1, 2] to [1, 2, 4] cannot complete; ListPartitionReassignments
  shows it (adding [4]) for all partitions and for the partitions asked for (unknown ones left
  out), and so does `kaffa reassign list`; cancelling it (null replicas) restores [1, 2];
  cancelling again is NO_REASSIGNMENT_IN_PROGRESS; unknown partitions, duplicates, unregistered
  brokers and empty lists are refused with Kafka's codes.
- Draining a live broker (`kaffa reassign drain`): the plan moves exactly the replicas on broker 1
  to the least loaded other brokers, in Kafka's plan format; `start --plan` runs it, after which
  no partition is on broker 1, every ISR is full and the records produced before are all there.
  Broker 1 then answers NOT_LEADER_OR_FOLLOWER for the partitions it gave up.
- Moving the coordinator's offsets partition: the __consumer_offsets partition of a group with
  committed offsets is moved so that its leader leaves; the new leader (a replica the move
  created) becomes the coordinator and answers the committed offsets.
- A single node: its own id is the only valid target, and there is nothing to cancel or list.
"""

import json
import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cluster_checks as cc  # noqa: E402
import kafka_records as kr  # noqa: E402
from cluster_harness import (KaffaCluster, find_coordinator, offsets_partition,  # noqa: E402
                             wait_until)
from kaffa_harness import KaffaBroker, run_kaffa  # noqa: E402
import kafka_wire as kw  # noqa: E402
from kafka_wire import i32, compact_string, uvarint, frame, header_v2, Reader  # noqa: E402

SCRIPT = os.path.join(HERE, "js", "admin_ops.mjs")
JS_DIR = os.path.abspath(os.environ.get("KAFFA_JS_DIR") or os.path.join(HERE, "..", "js"))

UNKNOWN_TOPIC_OR_PARTITION = 3
NOT_LEADER_OR_FOLLOWER = 6
INVALID_REPLICA_ASSIGNMENT = 39
NO_REASSIGNMENT_IN_PROGRESS = 85


def compact_array(items, enc):
    if items is None:
        return uvarint(0)
    return uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def flexible_round_trip(broker, api_key, body, what):
    with kw.Connection(broker.host, broker.port, timeout=30) as conn:
        corr = conn.next_corr()
        conn.send(frame(header_v2(api_key, 0, corr) + body))
        got, data = conn.read_response(flexible_header=True)
        if got != corr:
            raise AssertionError("%s: correlation id %d, want %d" % (what, got, corr))
        return Reader(data)


def alter(broker, changes):
    """AlterPartitionReassignments v0; changes: {(topic, partition): replicas or None}.
    Returns (top-level error, {(topic, partition): error})."""
    topics = {}
    for (t, p), replicas in changes.items():
        topics.setdefault(t, []).append((p, replicas))
    body = i32(30000) + compact_array(sorted(topics.items()), lambda t: compact_string(t[0]) + (
        compact_array(t[1], lambda p: i32(p[0]) + compact_array(p[1], i32) + uvarint(0)))
        + uvarint(0)) + uvarint(0)
    r = flexible_round_trip(broker, 45, body, "AlterPartitionReassignments")
    r.i32()  # throttle
    top = r.i16()
    r.compact_string()
    out = {}

    def partition(r, topic):
        index, error = r.i32(), r.i16()
        r.compact_string()
        r.skip_tags()
        out[(topic, index)] = error

    def topic(r):
        name = r.compact_string()
        r.compact_array(lambda r: partition(r, name))
        r.skip_tags()
    r.compact_array(topic)
    return top, out


def list_reassignments(broker, wanted=None):
    """ListPartitionReassignments v0; wanted: {topic: [partitions]} or None (all). Returns
    {(topic, partition): (replicas, adding, removing)}."""
    topics = None if wanted is None else sorted(wanted.items())
    body = i32(30000) + compact_array(topics, lambda t: compact_string(t[0]) + compact_array(
        t[1], i32) + uvarint(0)) + uvarint(0)
    r = flexible_round_trip(broker, 46, body, "ListPartitionReassignments")
    r.i32()
    top = r.i16()
    r.compact_string()
    assert top == 0, "ListPartitionReassignments: error %d" % top
    out = {}

    def ids(r):
        return r.compact_array(lambda r: r.i32())

    def partition(r, topic):
        index = r.i32()
        out[(topic, index)] = (ids(r), ids(r), ids(r))
        r.skip_tags()

    def topic(r):
        name = r.compact_string()
        r.compact_array(lambda r: partition(r, name))
        r.skip_tags()
    r.compact_array(topic)
    return out


def kafkajs_reassign(bootstrap, topics):
    node = shutil.which("node")
    if node is None:
        raise AssertionError("node is not installed: kafkajs tests need Node.js")
    env = dict(os.environ, KAFFA_JS_DIR=JS_DIR)
    r = subprocess.run([node, SCRIPT, bootstrap, "reassign", json.dumps(topics)],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=240,
                       env=env)
    if r.returncode != 0:
        raise AssertionError("admin_ops.mjs failed:\n%s\n%s" % (r.stdout, r.stderr))
    return json.loads(r.stdout)


class ClusterReassignTest(unittest.TestCase):
    def test_replacing_a_dead_broker_under_load(self):
        topic = "moving"
        with KaffaCluster(4, overrides={"auto.leader.rebalance.enable": "false"}) as c:
            c.create_topic(topic, 2, assignment=[[1, 2], [2, 3]])
            c.wait_full_isr(topic)
            prod = cc.AckedProducer(c.bootstrap, topic, 2, tag="mv")
            prod.start()
            finished = False
            try:
                prod.wait_acks(300, what="before broker 1 dies ")
                c.broker(1).kill9()
                c.wait_isr(topic, 0, lambda p: p["leader"] == 2 and p["isr"] == [2],
                           "broker 2 alone leading moving-0")
                prod.wait_acks(prod.n_acked() + 300, what="after broker 1 died ")

                res = kafkajs_reassign(c.broker(3).bootstrap, [{"topic": topic, "partitionAssignment": [
                    {"partition": 0, "replicas": [3, 4]},
                    {"partition": 1, "replicas": [2, 3, 4]}]}])
                self.assertTrue(res["alter"]["ok"], res["alter"])
                self.assertTrue(res["list"]["ok"], res["list"])

                c.wait_isr(topic, 0, lambda p: p["replicas"] == [3, 4] and p["isr"] == [3, 4]
                           and p["leader"] in (3, 4), "moving-0 on brokers 3 and 4, in sync")
                c.wait_isr(topic, 1, lambda p: p["replicas"] == [2, 3, 4]
                           and p["isr"] == [2, 3, 4], "moving-1 on brokers 2, 3 and 4, in sync")
                prod.wait_acks(prod.n_acked() + 300, what="after the reassignment ")
                acked, errors = prod.finish()
                finished = True
            finally:
                if not finished:
                    prod.abandon()
            self.assertEqual(errors, [], "deliveries failed during the move: %s" % errors[:3])
            self.assertEqual(list_reassignments(c.broker(3)), {})

            # Broker 2 no longer holds moving-0 (the dead broker 1 cannot be asked).
            wait_until(lambda: not os.path.exists(cc.partition_dir(c.broker(2), topic, 0)),
                       "broker 2 to remove its replica of moving-0")
            self.assertTrue(os.path.isdir(cc.partition_dir(c.broker(2), topic, 1)))
            logs = cc.check_acked(c, topic, 2, acked)
            self.assertTrue(all(logs[p] for p in (0, 1)))
            ends = cc.partition_ends(acked, 2)
            got = cc.group_read_all(c.bootstrap, topic, ends, "movers")
            missing = [(p, off) for p, off, v in acked if got.get(p, {}).get(off) != v]
            self.assertEqual(missing[:10], [], "%d acknowledged records not read back"
                             % len(missing))

    def test_cancel_list_and_refusals(self):
        topic = "held"
        with KaffaCluster(4, overrides={"broker.session.timeout.ms": "60000"}) as c:
            c.create_topic(topic, 1, assignment=[[1, 2]])
            c.wait_full_isr(topic)
            c.broker(4).freeze()  # registered (a long session) but unable to copy anything
            cli = ["-b", c.broker(1).bootstrap]
            self.assertEqual(kaffa(cli + ["reassign", "start", "held:0=1,2,4"]),
                             "Started the reassignment of held-0\n")
            moving = c.wait_isr(topic, 0, lambda p: p["replicas"] == [1, 2, 4],
                                "held-0 assigned to [1, 2, 4] by every live broker")
            self.assertEqual(sorted(moving["isr"]), [1, 2])
            want = {(topic, 0): ([1, 2, 4], [4], [])}
            self.assertEqual(list_reassignments(c.broker(2)), want)
            self.assertEqual(list_reassignments(c.broker(3), {topic: [0, 5], "nope": [0]}), want)
            self.assertEqual(json.loads(kaffa(cli + ["--json", "reassign", "list"])), [
                {"topic": topic, "partition": 0, "replicas": [1, 2, 4], "adding": [4],
                 "removing": []}])

            self.assertEqual(kaffa(cli + ["reassign", "cancel", "held:0"]),
                             "Cancelled the reassignment of held-0\n")
            back = c.wait_isr(topic, 0, lambda p: p["replicas"] == [1, 2],
                              "held-0 back on [1, 2]")
            self.assertEqual(sorted(back["isr"]), [1, 2])
            self.assertEqual(list_reassignments(c.broker(1)), {})
            self.assertEqual(alter(c.broker(2), {(topic, 0): None}),
                             (0, {(topic, 0): NO_REASSIGNMENT_IN_PROGRESS}))
            refused = run_kaffa(cli + ["reassign", "cancel", "held:0"])
            self.assertEqual(refused.returncode, 1, refused)
            self.assertIn("held-0: No partition reassignment is in progress.", refused.stderr)

            top, errors = alter(c.broker(1), {
                ("nope", 0): [1], (topic, 9): [1], (topic, 0): [1, 1]})
            self.assertEqual((top, errors), (0, {
                ("nope", 0): UNKNOWN_TOPIC_OR_PARTITION, (topic, 9): UNKNOWN_TOPIC_OR_PARTITION,
                (topic, 0): INVALID_REPLICA_ASSIGNMENT}))
            for bad in ([1, 99], []):
                self.assertEqual(alter(c.broker(1), {(topic, 0): bad}),
                                 (0, {(topic, 0): INVALID_REPLICA_ASSIGNMENT}), bad)
            c.broker(4).thaw()
            self.assertEqual(c.partitions(topic)[0]["replicas"], [1, 2])


    def test_draining_a_broker_with_the_cli(self):
        topic = "drained"
        with KaffaCluster(4) as c:
            c.create_topic(topic, 4, assignment=[[1, 2], [2, 3], [3, 1], [4, 2]])
            c.wait_full_isr(topic)
            cli = ["-b", c.broker(2).bootstrap]
            lines = "".join("v%d\n" % i for i in range(200))
            p = run_kaffa(cli + ["produce", topic, "--acks", "all"], input=lines)
            self.assertEqual(p.returncode, 0, p.stderr)

            plan = json.loads(kaffa(cli + ["reassign", "drain", "1"]))
            # Load before: 1:2 2:3 3:2 4:1; broker 1's two replicas go to 4, then to 3 or 4.
            self.assertEqual(plan["version"], 1)
            moves = {(m["topic"], m["partition"]): m["replicas"] for m in plan["partitions"]}
            self.assertEqual(sorted(moves), [(topic, 0), (topic, 2)])
            self.assertEqual(moves[(topic, 0)], [4, 2])  # in broker 1's place: it led
            self.assertEqual(moves[(topic, 2)][0], 3)
            self.assertIn(moves[(topic, 2)][1], (2, 4))
            path = os.path.join(c.broker(2).log_dir, "..", "plan.json")
            with open(path, "w") as f:
                json.dump(plan, f)
            out = kaffa(cli + ["reassign", "start", "--plan", path])
            self.assertEqual(sorted(out.splitlines()), [
                "Started the reassignment of drained-0", "Started the reassignment of drained-2"])

            parts = c.wait_isr(topic, 2, lambda p: 1 not in p["replicas"], "drained-2 off 1")
            parts = wait_until(lambda: c._agreed(topic, lambda ps: all(
                1 not in p["replicas"] and sorted(p["isr"]) == sorted(p["replicas"])
                for p in ps.values())), "no replica of %s on broker 1, every ISR full" % topic)
            self.assertEqual(parts[0]["replicas"], [4, 2])
            self.assertEqual(parts[1]["replicas"], [2, 3])
            self.assertEqual(kaffa(cli + ["--json", "reassign", "list"]), "[]\n")
            self.assertEqual(json.loads(kaffa(cli + ["reassign", "drain", "1"])),
                             {"version": 1, "partitions": []})
            wait_until(lambda: not any(os.path.exists(cc.partition_dir(c.broker(1), topic, i))
                                       for i in range(4)), "broker 1 to delete its replicas")
            # Broker 1 holds none of them now: a client with stale metadata is told to go to the
            # leader (NOT_LEADER_OR_FOLLOWER, as Kafka), not that the partition does not exist.
            with kr.DataConnection(c.broker(1).host, c.broker(1).port) as conn:
                corr = conn.next_corr()
                got = kr.parse_list_offsets_v1_response(conn.round_trip(
                    kr.list_offsets_v1_request(corr, [(topic, [(0, -1), (9, -1)])]), corr,
                    "ListOffsets"))
            self.assertEqual({k: v["error_code"] for k, v in got.items()},
                             {(topic, 0): NOT_LEADER_OR_FOLLOWER,
                              (topic, 9): UNKNOWN_TOPIC_OR_PARTITION})
            got = run_kaffa(cli + ["consume", topic, "--from", "beginning", "-e"])
            self.assertEqual(got.returncode, 0, got.stderr)
            self.assertEqual(sorted(got.stdout.splitlines()), sorted(lines.splitlines()))


class OffsetsMoveTest(unittest.TestCase):
    def test_moving_the_offsets_partition_moves_the_coordinator(self):
        from confluent_kafka import Consumer, TopicPartition
        group, topic = "mover-group", "offsets-data"
        with KaffaCluster(4) as c:
            c.create_topic(topic, 2, assignment=[[1, 2], [2, 3]])
            consumer = Consumer({"bootstrap.servers": c.bootstrap, "group.id": group,
                                 "enable.auto.commit": False})
            try:
                committed = [TopicPartition(topic, 0, 11), TopicPartition(topic, 1, 22)]
                consumer.commit(offsets=committed, asynchronous=False)
            finally:
                consumer.close()
            p = offsets_partition(group, 3)
            before = c.wait_isr("__consumer_offsets", p, lambda x: len(x["isr"]) == 3,
                                "__consumer_offsets-%d in sync" % p)
            old_leader = before["leader"]
            spare = next(b for b in (1, 2, 3, 4) if b not in before["replicas"])
            target = [spare] + [r for r in before["replicas"] if r != old_leader]
            self.assertEqual(alter(c.broker(spare), {("__consumer_offsets", p): target}),
                             (0, {("__consumer_offsets", p): 0}))
            c.wait_isr("__consumer_offsets", p, lambda x: x["replicas"] == target
                       and x["leader"] == spare and sorted(x["isr"]) == sorted(target),
                       "__consumer_offsets-%d on %s, led by broker %d" % (p, target, spare))
            wait_until(lambda: find_coordinator(c.broker(old_leader), group)[:2] == (0, spare),
                       "broker %d to coordinate %s" % (spare, group))
            consumer = Consumer({"bootstrap.servers": c.bootstrap, "group.id": group,
                                 "enable.auto.commit": False})
            try:
                got = consumer.committed([TopicPartition(topic, 0), TopicPartition(topic, 1)],
                                         timeout=30)
            finally:
                consumer.close()
            self.assertEqual([(tp.partition, tp.offset) for tp in got], [(0, 11), (1, 22)])


def kaffa(args):
    """`kaffa ARGS`' stdout; fails unless it exits 0."""
    r = run_kaffa(args)
    if r.returncode != 0:
        raise AssertionError("kaffa %s: exit %d\n%s%s" % (" ".join(args), r.returncode,
                                                           r.stdout, r.stderr))
    return r.stdout


class SingleNodeReassignTest(unittest.TestCase):
    def test_only_itself_is_a_valid_target(self):
        with KaffaBroker(overrides={"node.id": "7"}) as b:
            with kw.Connection(b.host, b.port) as conn:
                conn.create_topics([("one", 1, 1)])
            self.assertEqual(alter(b, {("one", 0): [7]}), (0, {("one", 0): 0}))
            self.assertEqual(alter(b, {("one", 0): [7, 8], ("one", 1): [7]}), (0, {
                ("one", 0): INVALID_REPLICA_ASSIGNMENT, ("one", 1): UNKNOWN_TOPIC_OR_PARTITION}))
            self.assertEqual(alter(b, {("one", 0): None}),
                             (0, {("one", 0): NO_REASSIGNMENT_IN_PROGRESS}))
            self.assertEqual(list_reassignments(b), {})
            self.assertEqual(list_reassignments(b, {"one": [0]}), {})


if __name__ == "__main__":
    unittest.main()
