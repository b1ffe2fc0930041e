#!/usr/bin/python3
"""The `kaffa` client verbs (topic, config, produce, consume, group, cluster) against a real broker.

Every verb runs as a subprocess of the binary under test (KAFFA_BIN) with `-b <broker>`; human
output is checked by its table rows, `--json` output by parsing it. Also: a 100,000-line file
round-trips byte for byte through `kaffa produce` piped into `kaffa consume`; a group's lag from
`group describe` equals produced minus consumed; errors exit 1 (Kafka) or 2 (usage) with a
message on stderr; a progress line appears only when stderr is a terminal.
"""

import json
import os
import pty
import random
import re
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase, kaffa_bin  # noqa: E402
import kafka_wire as kw  # noqa: E402
import kip848_wire as k  # noqa: E402

DEADLINE_S = 60.0


class CliTest(BrokerTestCase):
    BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0", "num.partitions": "1"}

    def kaffa(self, *args, rc=0, input=None, timeout=120):
        """Runs `kaffa ARGS -b BROKER`; asserts the exit code; returns (stdout, stderr)."""
        cmd = [kaffa_bin()] + list(args) + ["-b", self.broker.bootstrap]
        p = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout,
                           stdin=None if input is not None else subprocess.DEVNULL)
        out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, rc, "%s -> %d\nstdout: %s\nstderr: %s"
                         % (" ".join(args), p.returncode, out[:2000], err[:2000]))
        return out, err

    def jkaffa(self, *args):
        return json.loads(self.kaffa(*args, "--json")[0])

    def table(self, out):
        """Rows of a human table (split on runs of 2+ spaces), header first."""
        return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines() if line.strip()]

    # ---- topics and configs ----

    def test_topic_lifecycle(self):
        out, _ = self.kaffa("topic", "create", "t-life", "-p", "3", "-c", "retention.ms=3600000")
        self.assertEqual(out, "Created topic t-life.\n")
        _, err = self.kaffa("topic", "create", "t-life", rc=1)
        self.assertIn("TOPIC_ALREADY_EXISTS", err)
        self.assertIn(["t-life", "3", "1"], self.table(self.kaffa("topic", "list")[0]))
        listed = {t["name"]: t for t in self.jkaffa("topic", "list")}
        self.assertEqual(listed["t-life"], {"name": "t-life", "partitions": 3,
                                            "replication_factor": 1})
        self.assertNotIn("__consumer_offsets", listed)
        self.assertIn("__consumer_offsets", self.kaffa("topic", "list", "--internal")[0])

        self.kaffa("produce", "t-life", "-p", "1", input=b"a\nb\n")
        out, _ = self.kaffa("topic", "describe", "t-life")
        self.assertIn("Topic: t-life  Partitions: 3  Replication factor: 1", out)
        rows = self.table(out)
        header = rows.index(["PARTITION", "LEADER", "REPLICAS", "ISR", "LOG-START", "LOG-END"])
        self.assertEqual(rows[header + 2], ["1", "0", "0", "0", "0", "2"])
        self.assertIn(["retention.ms", "3600000", "DYNAMIC_TOPIC_CONFIG"], rows)
        d = self.jkaffa("topic", "describe", "t-life")
        self.assertEqual([p["log_end_offset"] for p in d["partitions"]], [0, 2, 0])
        self.assertEqual(d["partitions"][0]["replicas"], [0])
        self.assertEqual(d["partitions"][0]["isr"], [0])
        conf = {c["name"]: c for c in d["configs"]}
        self.assertEqual(conf["retention.ms"]["value"], "3600000")

        self.assertEqual(self.kaffa("topic", "delete", "t-life")[0], "Deleted topic t-life.\n")
        self.assertNotIn("t-life", [t["name"] for t in self.jkaffa("topic", "list")])
        _, err = self.kaffa("topic", "describe", "t-life", rc=1)
        self.assertEqual(err, "kaffa: topic t-life does not exist\n")
        _, err = self.kaffa("topic", "delete", "t-life", rc=1)
        self.assertIn("UNKNOWN_TOPIC_OR_PART", err)

    def test_add_partitions(self):
        self.kaffa("topic", "create", "t-grow", "-p", "2")
        out, _ = self.kaffa("topic", "add-partitions", "t-grow", "-p", "4")
        self.assertEqual(out, "Topic t-grow now has 4 partitions.\n")
        self.assertEqual(self.jkaffa("topic", "describe", "t-grow")["partition_count"], 4)
        _, err = self.kaffa("topic", "add-partitions", "t-grow", "-p", "3", rc=1)
        self.assertIn("INVALID_PARTITIONS", err)

    def test_config_get_set(self):
        self.kaffa("topic", "create", "t-conf", "-c", "retention.ms=1234")
        rows = self.table(self.kaffa("config", "get", "topic", "t-conf")[0])
        self.assertEqual(rows[0], ["NAME", "VALUE", "SOURCE", "READ-ONLY"])
        self.assertIn(["retention.ms", "1234", "DYNAMIC_TOPIC_CONFIG", "no"], rows)
        self.assertIn(["cleanup.policy", "delete", "DEFAULT_CONFIG", "no"], rows)

        out, _ = self.kaffa("config", "set", "topic", "t-conf", "cleanup.policy=compact",
                            "segment.ms=60000")
        self.assertIn("Set cleanup.policy=compact on topic t-conf.", out)

        def overrides():
            got = self.jkaffa("config", "get", "topic", "t-conf", "--overrides")
            self.assertEqual((got["resource"], got["name"]), ("topic", "t-conf"))
            return {c["name"]: c["value"] for c in got["configs"]}
        # AlterConfigs replaces the whole set: the earlier override must have been kept.
        self.assertEqual(overrides(), {"retention.ms": "1234", "cleanup.policy": "compact",
                                       "segment.ms": "60000"})
        self.kaffa("config", "set", "topic", "t-conf", "--delete", "segment.ms")
        self.assertEqual(overrides(), {"retention.ms": "1234", "cleanup.policy": "compact"})
        _, err = self.kaffa("config", "set", "topic", "t-conf", "no.such.config=1", rc=1)
        self.assertIn("alter configs of topic t-conf", err)

        broker = self.jkaffa("config", "get", "broker", "0")
        names = {c["name"]: c for c in broker["configs"]}
        self.assertIn("num.partitions", names)
        self.assertIn("log.dirs", names)
        _, err = self.kaffa("config", "get", "broker", "zero", rc=2)
        self.assertIn("numeric id", err)

    def test_config_set_alters_incrementally(self):
        # IncrementalAlterConfigs, as kafka-configs.sh: each key on its own (no read-merge-write
        # through AlterConfigs, which could lose a concurrent change), on a broker's own resource
        # at that broker.
        def calls(api):
            return self.broker.metric("kaffa_requests_total", '{api="%s",version="0"}' % api) or 0
        self.kaffa("topic", "create", "t-incr", "-c", "retention.ms=1234")
        before = calls("IncrementalAlterConfigs"), calls("AlterConfigs")
        self.kaffa("config", "set", "topic", "t-incr", "segment.ms=60000")
        self.kaffa("config", "set", "broker", "0", "log.cleaner.backoff.ms=20000")
        self.assertEqual((calls("IncrementalAlterConfigs"), calls("AlterConfigs")),
                         (before[0] + 2, before[1]))
        got = self.jkaffa("config", "get", "topic", "t-incr", "--overrides")
        self.assertEqual({c["name"]: c["value"] for c in got["configs"]},
                         {"retention.ms": "1234", "segment.ms": "60000"})
        got = self.jkaffa("config", "get", "broker", "0", "--overrides")
        self.assertEqual({c["name"]: (c["value"], c["source"]) for c in got["configs"]},
                         {"log.cleaner.backoff.ms": ("20000", "DYNAMIC_BROKER_CONFIG")})
        self.kaffa("config", "set", "broker", "0", "--delete", "log.cleaner.backoff.ms")
        self.assertEqual(self.jkaffa("config", "get", "broker", "0", "--overrides")["configs"], [])
        _, err = self.kaffa("config", "set", "broker", "7", "num.io.threads=4", rc=1)
        self.assertIn("no such broker", err)

    def test_config_cluster_defaults(self):
        # The broker resource "" (every broker's default), which librdkafka cannot name.
        def configs(*resource, overrides=False):
            got = self.jkaffa("config", "get", *resource, *(["-o"] if overrides else []))
            return {c["name"]: (c["value"], c["source"]) for c in got["configs"]}
        dyn = "DYNAMIC_DEFAULT_BROKER_CONFIG"
        out, _ = self.kaffa("config", "set", "cluster", "log.retention.ms=3600000")
        self.assertEqual(out, "Set log.retention.ms=3600000 on the cluster-wide broker defaults.\n")
        self.kaffa("config", "set", "cluster", "log.segment.bytes=10485760")
        self.assertEqual(configs("cluster", overrides=True),
                         {"log.retention.ms": ("3600000", dyn),
                          "log.segment.bytes": ("10485760", dyn)})
        # The broker applies it.
        self.assertEqual(configs("broker", "0")["log.retention.ms"], ("3600000", dyn))
        rows = self.table(self.kaffa("config", "get", "cluster")[0])
        self.assertIn(["log.retention.ms", "3600000", dyn, "no"], rows)
        self.kaffa("config", "set", "cluster", "--delete", "log.retention.ms")
        self.assertEqual(configs("cluster"), {"log.segment.bytes": ("10485760", dyn)})
        self.assertEqual(configs("broker", "0")["log.retention.ms"],
                         ("604800000", "DEFAULT_CONFIG"))
        self.kaffa("config", "set", "cluster", "--delete", "log.segment.bytes")
        self.assertEqual(configs("cluster"), {})
        # Kafka's refusals; usage errors.
        _, err = self.kaffa("config", "set", "cluster", "num.partitions=3", rc=1)
        self.assertIn("alter configs of the cluster-wide broker defaults", err)
        self.assertIn("(INVALID_REQUEST)", err)
        _, err = self.kaffa("config", "get", "cluster", "extra", rc=2)
        self.assertIn("unexpected argument 'extra'", err)
        _, err = self.kaffa("config", "get", "topic", rc=2)
        self.assertIn("name the topic", err)

    def test_cluster_info(self):
        out, _ = self.kaffa("cluster", "info")
        self.assertRegex(out, r"Cluster id:\s+\S{22}\n")
        self.assertRegex(out, r"Partitions:\s+\d+ \(0 under-replicated, 0 offline\)\n")
        info = self.jkaffa("cluster", "info")
        leads = info["partitions"]
        self.assertGreater(leads, 0)
        self.assertIn(["0", "127.0.0.1", str(self.broker.port), "yes", str(leads)],
                      self.table(out))
        self.assertEqual(info["brokers"], [{"id": 0, "host": "127.0.0.1",
                                            "port": self.broker.port,
                                            "leader_partitions": leads}])
        self.assertEqual(info["under_replicated_partitions"], 0)
        self.assertEqual(info["offline_partitions"], 0)
        self.assertEqual(info["controller"], 0)
        self.assertEqual(info["topics"], len(self.jkaffa("topic", "list")))

    # ---- produce and consume ----

    def test_roundtrip_100k_lines_through_pipes(self):
        rnd = random.Random(7)
        lines = []
        for i in range(100000):
            kind = i % 5
            lines.append(b"" if kind == 0 else b"%d %s\t\xc3\xbc%s" % (
                i, b"x" * rnd.randint(0, 120), b" key:sep:like" if kind == 3 else b""))
        data = b"\n".join(lines) + b"\n"
        self.kaffa("topic", "create", "t-rt", "-p", "1")
        cons = subprocess.Popen([kaffa_bin(), "consume", "t-rt", "--from", "beginning", "-n",
                                 "100000", "-b", self.broker.bootstrap],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        prod = subprocess.Popen([kaffa_bin(), "produce", "t-rt", "--compression", "lz4", "-b",
                                 self.broker.bootstrap], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pout, perr = prod.communicate(data, timeout=120)
        self.assertEqual(prod.returncode, 0, perr)
        self.assertEqual((pout, perr), (b"", b""))  # quiet in pipes: no progress line
        cout, cerr = cons.communicate(timeout=120)
        self.assertEqual(cons.returncode, 0, cerr)
        self.assertEqual(cerr, b"")
        self.assertEqual(len(cout), len(data))
        self.assertTrue(cout == data, "consumed bytes differ from the produced file")
        ends = self.jkaffa("topic", "describe", "t-rt")["partitions"]
        self.assertEqual(ends[0]["log_end_offset"], 100000)

    def test_keys_headers_formats_and_positions(self):
        self.kaffa("topic", "create", "t-fmt", "-p", "1")
        before = int(time.time() * 1000)
        out, _ = self.kaffa("produce", "t-fmt", "-k", "::", "-H", "src=cli", "-H", "n=1",
                            "--acks", "1", "--json", input=b"k1::v1\nk2::v2::x\nnokey\n")
        self.assertEqual(json.loads(out), {"topic": "t-fmt", "records": 3, "delivered": 3,
                                           "failed": 0})
        time.sleep(0.05)
        after = int(time.time() * 1000)
        self.kaffa("produce", "-f", "-", "t-fmt", input=b"late\n")

        out, _ = self.kaffa("consume", "t-fmt", "--from", "beginning", "-e",
                            "--format", "%t|%p|%o|%k|%v|%h|%%\\n")
        self.assertEqual(out, "t-fmt|0|0|k1|v1|src=cli,n=1|%\n"
                              "t-fmt|0|1|k2|v2::x|src=cli,n=1|%\n"
                              "t-fmt|0|2||nokey|src=cli,n=1|%\n"
                              "t-fmt|0|3||late||%\n")
        recs = [json.loads(line) for line in
                self.kaffa("consume", "t-fmt", "--from", "beginning", "-e", "--json")[0]
                .splitlines()]
        self.assertEqual(recs[0]["key"], "k1")
        self.assertIsNone(recs[2]["key"])
        self.assertEqual(recs[1]["headers"], [{"key": "src", "value": "cli"},
                                              {"key": "n", "value": "1"}])
        self.assertTrue(before <= recs[0]["timestamp"] <= after)
        ts = self.kaffa("consume", "t-fmt", "--from", "beginning", "-n", "1", "--format", "%T")[0]
        self.assertEqual(int(ts), recs[0]["timestamp"])

        def values(*args):
            return self.kaffa("consume", "t-fmt", "-e", *args)[0].splitlines()
        self.assertEqual(values("--from", "2"), ["nokey", "late"])
        self.assertEqual(values("--from", "@%d" % after), ["late"])
        self.assertEqual(values("--from", "@%d" % (after + 3600 * 1000)), [])
        self.assertEqual(values("--from", "end"), [])
        self.assertEqual(values("--from", "beginning", "-p", "0", "-n", "2"), ["v1", "v2::x"])

        # --json stays valid JSON for any bytes: invalid UTF-8 becomes U+FFFD.
        self.kaffa("produce", "t-utf", input=b"caf\xc3\xa9 \xff\x01\n")
        out, _ = self.kaffa("consume", "t-utf", "--from", "beginning", "-e", "--json")
        self.assertEqual(json.loads(out)["value"], "caf\u00e9 \ufffd\u0001")

    def test_progress_line_only_on_a_terminal(self):
        master, slave = pty.openpty()
        try:
            p = subprocess.run([kaffa_bin(), "produce", "t-tty", "-b", self.broker.bootstrap],
                               input=b"".join(b"%d\n" % i for i in range(1000)),
                               stdout=subprocess.PIPE, stderr=slave, timeout=60)
            os.close(slave)
            slave = None
            self.assertEqual(p.returncode, 0)
            text = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                text += chunk
            self.assertIn(b"produced 1000 records", text)
        finally:
            os.close(master)
            if slave is not None:
                os.close(slave)

    # ---- groups ----

    def produce_keyed(self, topic, n):
        self.kaffa("produce", topic, "-k", ":",
                   input=b"".join(b"k%d:v%d\n" % (i, i) for i in range(n)))

    def describe(self, group):
        return self.jkaffa("group", "describe", group)

    def test_group_lag_reset_and_delete(self):
        self.kaffa("topic", "create", "t-lag", "-p", "3")
        self.produce_keyed("t-lag", 300)
        self.kaffa("group", "reset-offsets", "g-lag", "--topic", "t-lag", "--to-earliest",
                   "--execute")
        d = self.describe("g-lag")
        self.assertEqual((d["state"], d["total_lag"]), ("Empty", 300))
        self.assertEqual(sum(o["log_end_offset"] for o in d["offsets"]), 300)

        out, _ = self.kaffa("consume", "t-lag", "-g", "g-lag", "-n", "120")
        self.assertEqual(len(out.splitlines()), 120)
        d = self.describe("g-lag")
        self.assertEqual(d["total_lag"], 300 - 120)
        self.assertEqual(sum(o["committed_offset"] for o in d["offsets"]), 120)
        for o in d["offsets"]:
            self.assertEqual(o["lag"], o["log_end_offset"] - o["committed_offset"])
        rows = self.table(self.kaffa("group", "describe", "g-lag")[0])
        self.assertRegex(" ".join(rows[0]), r"Group: g-lag .*State: Empty .*Total lag: 180")
        self.assertIn(["TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "MEMBER"], rows)
        self.assertIn(["g-lag", "Empty", "consumer"], self.table(self.kaffa("group", "list")[0]))
        self.assertIn({"group": "g-lag", "state": "Empty", "type": "consumer"},
                      self.jkaffa("group", "list"))

        # A dry run changes nothing; --execute does.
        out, err = self.kaffa("group", "reset-offsets", "g-lag", "--topic", "t-lag",
                              "--to-latest")
        self.assertIn("dry run", err)
        self.assertEqual(self.table(out)[0], ["TOPIC", "PARTITION", "CURRENT", "NEW"])
        self.assertEqual(self.describe("g-lag")["total_lag"], 180)
        plan = self.jkaffa("group", "reset-offsets", "g-lag", "--topic", "t-lag:0,2",
                           "--to-offset", "1", "--execute")
        self.assertEqual([(o["partition"], o["new_offset"]) for o in plan["offsets"]],
                         [(0, 1), (2, 1)])
        self.kaffa("group", "reset-offsets", "g-lag", "--topic", "t-lag", "--to-latest",
                   "--execute")
        self.assertEqual(self.describe("g-lag")["total_lag"], 0)
        self.assertEqual(self.kaffa("consume", "t-lag", "-g", "g-lag", "-e")[0], "")

        out, _ = self.kaffa("group", "delete", "g-lag", "--topic", "t-lag:1")
        self.assertEqual(out, "Deleted the committed offsets of group g-lag for 1 partitions.\n")
        self.assertEqual(sorted(o["partition"] for o in self.describe("g-lag")["offsets"]), [0, 2])
        self.assertEqual(self.kaffa("group", "delete", "g-lag")[0], "Deleted group g-lag.\n")
        _, err = self.kaffa("group", "describe", "g-lag", rc=1)
        self.assertEqual(err, "kaffa: group g-lag does not exist\n")
        _, err = self.kaffa("group", "delete", "g-lag", rc=1)
        self.assertIn("GROUP_ID_NOT_FOUND", err)

    def test_active_group(self):
        self.kaffa("topic", "create", "t-act", "-p", "2")
        self.produce_keyed("t-act", 50)
        cons = subprocess.Popen([kaffa_bin(), "consume", "t-act", "-g", "g-act", "--from",
                                 "beginning", "-b", self.broker.bootstrap],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            # All 50 records arrive (the consumer flushes stdout whenever it is idle).
            lines = [cons.stdout.readline() for _ in range(50)]
            self.assertEqual(sorted(lines), sorted(b"v%d\n" % i for i in range(50)))
            deadline = time.monotonic() + DEADLINE_S
            while True:
                d = self.describe("g-act")
                if d["state"] == "Stable" and len(d["members"]) == 1:
                    break
                self.assertLess(time.monotonic(), deadline, d)
                time.sleep(0.2)
            member = d["members"][0]
            self.assertEqual(member["client_id"], "kaffa-cli")
            self.assertEqual(sorted(a["partition"] for a in member["assignment"]), [0, 1])
            rows = self.table(self.kaffa("group", "describe", "g-act")[0])
            self.assertIn(["MEMBER", "CLIENT-ID", "HOST", "PARTITIONS"], rows)
            self.assertIn(member["member_id"], [r[0] for r in rows])
            _, err = self.kaffa("group", "reset-offsets", "g-act", "--topic", "t-act",
                                "--to-earliest", "--execute", rc=1)
            self.assertIn("g-act is Stable with 1 members", err)
            _, err = self.kaffa("group", "delete", "g-act", rc=1)
            self.assertIn("NON_EMPTY_GROUP", err)
        finally:
            cons.send_signal(signal.SIGINT)
            out, err = cons.communicate(timeout=60)
        self.assertEqual(cons.returncode, 0, err)
        self.assertEqual(out, b"")
        d = self.describe("g-act")
        self.assertEqual((d["state"], d["total_lag"], d["members"]), ("Empty", 0, []))

    def test_consumer_protocol_group(self):
        # A group of the consumer protocol (KIP-848), which librdkafka 2.0's DescribeGroups shows
        # as Dead: `group describe` asks its coordinator with ConsumerGroupDescribe.
        self.kaffa("topic", "create", "t-848", "-p", "2")
        self.produce_keyed("t-848", 10)
        with kw.connect(self.broker) as conn:
            r = k.round_trip(conn, k.heartbeat, k.parse_heartbeat, "g-848", "", 0,
                             topics=["t-848"], owned={}, rebalance_timeout_ms=30000)
            self.assertEqual(r["error_code"], 0, r)
            mid, epoch = r["member_id"], r["member_epoch"]
            r = k.round_trip(conn, k.heartbeat, k.parse_heartbeat, "g-848", mid, epoch,
                             owned=r["assignment"])
            self.assertEqual(r["error_code"], 0, r)
            res = k.round_trip(conn, k.offset_commit_v9, k.parse_offset_commit_v9, "g-848",
                               epoch, mid, [("t-848", [(0, 1), (1, 2)])])
            self.assertEqual(res, {("t-848", 0): 0, ("t-848", 1): 0})
            d = self.describe("g-848")
            self.assertEqual((d["state"], d["protocol"], d["type"], d["group_epoch"],
                              d["assignment_epoch"], d["assignor"]),
                             ("Stable", "consumer", "consumer", epoch, epoch, "uniform"))
            (m,) = d["members"]
            self.assertEqual(m["member_id"], mid)
            self.assertEqual([(a["topic"], a["partition"]) for a in m["assignment"]],
                             [("t-848", 0), ("t-848", 1)])
            self.assertEqual(d["total_lag"], 10 - 3)
            self.assertEqual({o["partition"]: o["member_id"] for o in d["offsets"]},
                             {0: mid, 1: mid})
            rows = self.table(self.kaffa("group", "describe", "g-848")[0])
            self.assertRegex(" ".join(rows[0]), r"State: Stable .*Protocol: consumer .*"
                             r"Assignor: uniform .*Members: 1")
            self.assertIn([mid, "kaffa-systest", "/127.0.0.1", "t-848-0,t-848-1"],
                          [r[:4] for r in rows if r[0] == mid])
            # Once it leaves, the group is Empty and its offsets are still shown.
            k.round_trip(conn, k.heartbeat, k.parse_heartbeat, "g-848", mid, -1)
        d = self.describe("g-848")
        self.assertEqual((d["state"], d["protocol"], d["members"], d["total_lag"]),
                         ("Empty", "consumer", [], 7))

    # ---- errors ----

    def test_errors(self):
        for args in (["topic", "create"], ["consume", "t", "--from", "sideways"],
                     ["consume", "t", "--format", "%z"], ["produce", "t", "--acks", "7"],
                     ["config", "get", "topic"], ["config", "get", "group", "g"],
                     ["group", "reset-offsets", "g", "--topic", "t"], ["no-such-verb"],
                     ["topic", "list", "-X", "no.such.property=1"]):
            _, err = self.kaffa(*args, rc=2)
            self.assertTrue(err.strip(), args)
        _, err = self.kaffa("consume", "t-missing", "-e", rc=1)
        self.assertEqual(err, "kaffa: topic t-missing does not exist\n")
        self.kaffa("topic", "create", "t-err", "-p", "1", "-c", "max.message.bytes=200")
        _, err = self.kaffa("produce", "t-err", "-p", "5", input=b"x\n", rc=1)
        self.assertIn("no partition 5", err)
        _, err = self.kaffa("produce", "t-err", input=b"y" * 1000 + b"\n", rc=1)
        self.assertIn("1 of 1 records failed", err)
        self.assertIn("MSG_SIZE_TOO_LARGE", err)
        start = time.monotonic()
        p = subprocess.run([kaffa_bin(), "topic", "list", "-b", "127.0.0.1:1"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("is a broker reachable at 127.0.0.1:1", p.stderr)
        self.assertLess(time.monotonic() - start, 10)


if __name__ == "__main__":
    unittest.main()
