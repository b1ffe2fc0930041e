#!/usr/bin/python3
"""bench_smoke: keeps kaffa_bench working. Never asserts a speed.

Runs kaffa_bench briefly with 1 producer and 1 consumer
- against a real `kaffa serve` (tests/system/kaffa_harness.py): acks=all, then acks=1 with lz4,
  consumers with --assign (the broker has no consumer-group APIs yet) and --broker-pid;
- against librdkafka's in-process mock cluster (--mock), consumers in a group;
and checks: exit code 0, the JSON result parses, every record was acknowledged and consumed
exactly once, broker CPU was sampled. Also: a text-mode run, and an unreachable broker must fail.

Environment: KAFFA_BIN (broker binary), KAFFA_BENCH_BIN (kaffa_bench binary), both set by CTest;
KAFFA_SYSTEM_DIR (tests/system, defaults to ../tests/system next to this file).
"""

import json
import os
import socket
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("KAFFA_SYSTEM_DIR", os.path.join(HERE, "..", "tests", "system")))

from kaffa_harness import KaffaBroker  # noqa: E402

RECORDS = 3000
RUN_TIMEOUT_S = 120


def bench_bin():
    path = os.environ.get("KAFFA_BENCH_BIN")
    if not path:
        raise RuntimeError("KAFFA_BENCH_BIN is not set: point it at the kaffa_bench binary")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError("KAFFA_BENCH_BIN=%s is not an executable file" % path)
    return path


def run_bench(args, timeout=RUN_TIMEOUT_S):
    cmd = [bench_bin()] + [str(a) for a in args]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)
    return cmd, proc


def free_port():
    """A port nothing listens on (bound then released: good enough for a refused connection)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class BenchSmoke(unittest.TestCase):

    def run_json(self, args, records=RECORDS):
        cmd, proc = run_bench(list(args) + ["--records", records, "--json", "--timeout", 30])
        detail = "command: %s\nexit %s\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(cmd), proc.returncode, proc.stdout, proc.stderr[-4000:])
        self.assertEqual(proc.returncode, 0, detail)
        lines = [l for l in proc.stdout.splitlines() if l.strip()]
        self.assertEqual(len(lines), 1, "expected one JSON line on stdout\n" + detail)
        try:
            res = json.loads(lines[0])
        except ValueError as e:
            self.fail("stdout is not JSON (%s)\n%s" % (e, detail))
        self.assertTrue(res["ok"], detail)
        self.assertEqual(res["errors"], [], detail)
        prod = res["produce"]
        self.assertEqual(prod["records_acked"], records, detail)
        self.assertEqual(prod["records_failed"], 0, detail)
        self.assertEqual(prod["ack_latency_ms"]["samples"], records, detail)
        cons = res["consume"]
        self.assertIsNotNone(cons, detail)
        self.assertTrue(cons["complete"], detail)
        self.assertEqual(cons["unique_records"], records, detail)
        self.assertEqual(cons["records"], records, detail)  # no duplicates in these runs
        self.assertEqual(cons["malformed"], 0, detail)
        self.assertEqual(cons["end_to_end_latency_ms"]["samples"], records, detail)
        for key in ("p50", "p99", "p99_9", "max"):
            self.assertGreaterEqual(cons["end_to_end_latency_ms"][key], 0, detail)
        return res, detail

    def test_real_broker(self):
        with KaffaBroker() as broker:
            pid = broker.proc.pid
            common = ["--brokers", broker.bootstrap, "--producers", 1, "--consumers", 1, "--assign",
                      "--broker-pid", pid, "--record-size", 200]

            res, detail = self.run_json(common + ["--topic", "bench-all", "--partitions", 3, "--acks", "all"])
            self.assertEqual(res["config"]["partitions"], 3, detail)
            self.assertEqual(res["config"]["acks"], "all", detail)
            self.assertEqual(res["broker"]["source"], "pid %d" % pid, detail)
            self.assertGreater(res["broker"]["peak_rss_kib"], 0, detail)
            self.assertGreaterEqual(res["broker"]["cpu_s"], 0, detail)

            res, detail = self.run_json(common + ["--topic", "bench-lz4", "--partitions", 2, "--acks", 1,
                                                  "--compression", "lz4", "--linger-ms", 1])
            self.assertEqual(res["config"]["compression"], "lz4", detail)
            self.assertEqual(res["config"]["partitions"], 2, detail)

            # A second run on an existing topic reads only its own records.
            res, detail = self.run_json(common + ["--topic", "bench-lz4", "--acks", 1, "--compression", "lz4"],
                                        records=500)
            self.assertTrue(broker.alive(), broker.log_text())

    def test_mock_cluster(self):
        res, detail = self.run_json(["--mock", "--topic", "bench-mock", "--partitions", 2, "--producers", 1,
                                     "--consumers", 1, "--record-size", 200, "--acks", "all"])
        self.assertTrue(res["config"]["mock"], detail)
        self.assertEqual(res["config"]["consumer_mode"], "group", detail)
        self.assertEqual(res["broker"]["source"], "mock cluster threads", detail)

    def test_text_output(self):
        cmd, proc = run_bench(["--mock", "--records", 1000, "--record-size", 64])
        detail = "command: %s\nexit %s\nstdout:\n%s\nstderr:\n%s" % (
            " ".join(cmd), proc.returncode, proc.stdout, proc.stderr[-4000:])
        self.assertEqual(proc.returncode, 0, detail)
        self.assertIn("produce: 1000 acked, 0 failed", proc.stdout, detail)
        self.assertIn("ack latency:", proc.stdout, detail)

    def test_unreachable_broker_fails(self):
        cmd, proc = run_bench(["--brokers", "127.0.0.1:%d" % free_port(), "--records", 10, "--json"])
        self.assertNotEqual(proc.returncode, 0, "kaffa_bench succeeded without a broker: %s\n%s"
                            % (" ".join(cmd), proc.stdout))

    def test_bad_option_fails(self):
        cmd, proc = run_bench(["--mock", "--record-size", 4])  # below the 8-byte timestamp
        self.assertNotEqual(proc.returncode, 0, " ".join(cmd))


if __name__ == "__main__":
    unittest.main(verbosity=2)
