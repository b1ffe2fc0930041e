#!/usr/bin/python3
"""The cluster harness itself (cluster_harness.py, cluster_checks.py), so that a failing cluster
test points at the broker and not at its tools:

- EtcdServer: healthy after start; a key written survives kill -9 and restart on the same ports;
  cleanup() ends the process and removes its directory.
- ClusterBroker: three brokers pointed at one etcd run with node ids 1..3 (the ready line says
  so), distinct ports and log directories; SIGSTOP really stops a broker (state T in /proc) and
  SIGCONT resumes it (it answers ApiVersions again); restart() after kill -9 binds the same port.
- replica_batches(): the batches read from a broker's segment files are byte for byte those a
  Fetch returns, before and after a kill -9 and restart; replica_difference() names the first
  batch where two replicas differ.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster_checks as cc  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402
from cluster_harness import ClusterBroker, EtcdServer, wait_until  # noqa: E402


def proc_state(pid):
    """The one-letter state of a process from /proc/<pid>/stat (R, S, T, ...)."""
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


class EtcdServerTest(unittest.TestCase):
    def test_start_kill_restart_cleanup(self):
        etcd = EtcdServer()
        self.addCleanup(etcd.cleanup)
        etcd.start()
        self.assertTrue(etcd.alive())
        self.assertEqual(etcd.get_prefix("/systest/"), {})
        etcd.put("/systest/a", "1")
        self.assertEqual(etcd.get_prefix("/systest/"), {"/systest/a": "1"})
        port = etcd.client_port
        etcd.kill9()
        self.assertFalse(etcd.alive())
        self.assertRaises(OSError, etcd.get_prefix, "/systest/")
        etcd.restart()
        self.assertEqual(etcd.client_port, port)
        self.assertEqual(etcd.get_prefix("/systest/"), {"/systest/a": "1"})
        pid, tmp = etcd.proc.pid, etcd.tmp
        etcd.cleanup()
        self.assertFalse(os.path.exists(tmp))
        self.assertFalse(os.path.exists("/proc/%d" % pid) and proc_state(pid) != "Z")


class ClusterBrokerTest(unittest.TestCase):
    def test_three_brokers_distinct_ids_ports_dirs_freeze_restart(self):
        etcd = EtcdServer()
        self.addCleanup(etcd.cleanup)
        etcd.start()
        brokers = [ClusterBroker(i, {"metadata.store": etcd.url, "node.id": str(i)})
                   for i in (1, 2, 3)]
        for b in brokers:
            self.addCleanup(b.cleanup)
            self.addCleanup(b.kill)
            b.start()
        for b in brokers:
            b.wait_for_log(r"kaffa ready .* node\.id=%d " % b.node_id, timeout=1)
        self.assertEqual(len({b.port for b in brokers}), 3)
        self.assertEqual(len({b.log_dir for b in brokers}), 3)

        b = brokers[1]
        b.freeze()
        wait_until(lambda: proc_state(b.proc.pid) == "T", "SIGSTOP to stop broker 2")
        b.thaw()
        wait_until(lambda: proc_state(b.proc.pid) != "T", "SIGCONT to resume broker 2")
        with kw.connect(b) as conn:
            self.assertEqual(conn.api_versions()[0], 0)

        port = b.port
        self.assertEqual(b.kill9(), -9)
        b.restart()
        self.assertEqual(b.port, port, "restart() must bind the first run's port")
        b.wait_for_log(r"kaffa ready .* node\.id=2 ", timeout=1)
        for b in brokers:
            b.stop_and_check()


class ReplicaLogReaderTest(unittest.TestCase):
    def test_files_match_fetch_across_restart(self):
        # A single node (no metadata.store): the reader only needs a broker's log files.
        b = ClusterBroker(1, {"node.id": "1"})
        self.addCleanup(b.cleanup)
        self.addCleanup(b.kill)
        b.start()
        with kw.connect(b) as conn:
            self.assertEqual(conn.create_topics([("reader", 1, 1)]), {"reader": 0})
        with kr.connect(b) as conn:
            for i in range(5):
                recs = [(b"k%d" % j, b"v-%d-%d" % (i, j) * (j + 1), ()) for j in range(i + 1)]
                res = conn.produce_one("reader", 0, kr.encode_batch(recs))
                self.assertEqual(res["error_code"], 0, res)
            fetched, hw = conn.read_all_batches("reader", 0)
        self.assertEqual(hw, 15)

        def files_match():
            on_disk = cc.replica_batches(b, "reader", 0)
            return [x.raw for x in on_disk] == [x.raw for x in fetched]
        wait_until(files_match, "the segment files to hold the fetched batches")
        b.kill9()
        b.restart()
        on_disk = cc.replica_batches(b, "reader", 0)
        self.assertEqual([x.raw for x in on_disk], [x.raw for x in fetched])
        cc.check_contiguous(on_disk, "reader-0")
        self.assertEqual(on_disk[4].records[4]["value"], b"v-4-4" * 5)

        self.assertIsNone(cc.replica_difference({"a": on_disk, "b": list(on_disk)}))
        diff = cc.replica_difference({"a": on_disk, "b": on_disk[:3]})
        self.assertIn("batch #3", diff)
        b.stop_and_check()


if __name__ == "__main__":
    unittest.main()
