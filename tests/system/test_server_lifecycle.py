#!/usr/bin/python3
"""The `kaffa` command line and the broker's life: version, help, configuration errors,
properties files, signals, meta.properties and the cluster id across restarts."""

import os
import resource
import shutil
import signal
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerStartError, KaffaBroker, run_kaffa  # noqa: E402
import group_wire as gw  # noqa: E402
import kafka_wire as kw  # noqa: E402


def read_properties(path):
    props = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                props[k.strip()] = v.strip()
    return props


class CommandLineTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="kaffa-systest-cli-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def serve_args(self, *overrides):
        args = ["serve", "--override", "listeners=PLAINTEXT://127.0.0.1:0",
                "--override", "log.dirs=" + os.path.join(self.tmp, "data")]
        for o in overrides:
            args += ["--override", o]
        return args

    def test_version(self):
        r = run_kaffa(["--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout + r.stderr, r"kaffa \d+\.\d+\.\d+")

    def test_serve_help(self):
        r = run_kaffa(["serve", "--help"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--override", r.stdout)

    def test_help_config_lists_settings(self):
        r = run_kaffa(["serve", "--help-config"])
        self.assertEqual(r.returncode, 0, r.stderr)
        for name in ("listeners", "log.dirs", "num.partitions", "socket.request.max.bytes"):
            self.assertIn(name, r.stdout)

    def test_no_subcommand_is_an_error(self):
        r = run_kaffa([])
        self.assertNotEqual(r.returncode, 0)

    def test_unknown_setting_is_refused(self):
        r = run_kaffa(self.serve_args("no.such.setting=1"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no.such.setting", r.stderr)
        self.assertRegex(r.stderr, r"unknown setting")
        self.assertNotIn("kaffa ready", r.stderr)

    def test_malformed_value_is_refused(self):
        r = run_kaffa(self.serve_args("num.partitions=abc"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("num.partitions", r.stderr)
        self.assertIn("abc", r.stderr)
        self.assertNotIn("kaffa ready", r.stderr)

    def test_override_without_equals_is_refused(self):
        r = run_kaffa(self.serve_args("num.partitions"))
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("num.partitions", r.stderr)

    def test_unknown_setting_in_properties_file_is_refused(self):
        path = os.path.join(self.tmp, "bad.properties")
        with open(path, "w") as f:
            f.write("num.partitions=2\nnot.a.kaffa.setting=yes\n")
        r = run_kaffa(["serve", path] + self.serve_args()[1:])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not.a.kaffa.setting", r.stderr)

    def test_kafka_settings_that_would_mislead_are_refused(self):
        """Kafka's settings Kaffa leaves out are refused where that would give something else
        than asked for: a controller-only node, ZooKeeper, a KRaft quorum of several nodes
        without metadata.store, tiered storage."""
        for setting, says in (("process.roles=controller", "no controller-only role"),
                              ("zookeeper.connect=localhost:2181", "without ZooKeeper"),
                              ("controller.quorum.voters=1@a:9093,2@b:9093", "metadata.store"),
                              ("remote.log.storage.system.enable=true", "tiered storage")):
            r = run_kaffa(self.serve_args(setting))
            self.assertNotEqual(r.returncode, 0, setting)
            self.assertIn(says, r.stderr, setting)
            self.assertNotIn("kaffa ready", r.stderr, setting)

    def test_missing_properties_file_is_refused(self):
        r = run_kaffa(["serve", os.path.join(self.tmp, "absent.properties")])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("absent.properties", r.stdout + r.stderr)

    def test_port_in_use_fails_to_start(self):
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        r = run_kaffa(["serve", "--override", "listeners=PLAINTEXT://127.0.0.1:%d" % port,
                       "--override", "log.dirs=" + os.path.join(self.tmp, "data")])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(str(port), r.stderr)
        self.assertNotIn("kaffa ready", r.stderr)


class LifecycleTest(unittest.TestCase):
    def test_properties_file_is_honoured(self):
        tmp = tempfile.mkdtemp(prefix="kaffa-systest-props-")
        self.addCleanup(shutil.rmtree, tmp, True)
        props = {"listeners": "PLAINTEXT://127.0.0.1:0", "num.partitions": "3",
                 "log.dirs": os.path.join(tmp, "data")}
        with KaffaBroker(properties=props) as broker:
            with kw.connect(broker) as conn:
                # Metadata v1 asking for an unknown topic creates it (auto.create.topics.enable).
                md = conn.metadata(["auto-three"], version=1)
                (topic,) = md["topics"]
                self.assertEqual(topic["name"], "auto-three")
                self.assertEqual(topic["error_code"], 0)
                self.assertEqual(sorted(p["index"] for p in topic["partitions"]), [0, 1, 2])
                for p in topic["partitions"]:
                    self.assertEqual(p["leader"], 0)
                    self.assertEqual(p["replicas"], [0])
                    self.assertEqual(p["isr"], [0])
            broker.wait_for_log(r"auto-created topic auto-three with 3 partitions")
        self.assertTrue(os.path.isfile(os.path.join(tmp, "data", "meta.properties")))

    def test_a_kafka_kraft_properties_file_starts_a_broker(self):
        """The settings of Kafka's own config/kraft/server.properties (a combined broker and
        controller): Kaffa starts a broker with them, binds no CONTROLLER listener, and logs a
        notice for each Kafka setting it leaves out."""
        tmp = tempfile.mkdtemp(prefix="kaffa-systest-kraft-")
        self.addCleanup(shutil.rmtree, tmp, True)
        props = {
            "process.roles": "broker,controller", "node.id": "1",
            "controller.quorum.voters": "1@127.0.0.1:9093",
            "listeners": "PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0",
            "inter.broker.listener.name": "PLAINTEXT",
            "advertised.listeners": "CONTROLLER://127.0.0.1:9093",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,"
                                              "SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL",
            "num.network.threads": "3", "num.io.threads": "8",
            "socket.send.buffer.bytes": "102400", "socket.receive.buffer.bytes": "102400",
            "socket.request.max.bytes": "104857600", "log.dirs": os.path.join(tmp, "logs"),
            "num.partitions": "1", "num.recovery.threads.per.data.dir": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1", "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1", "log.retention.hours": "168",
            "log.segment.bytes": "1073741824", "log.retention.check.interval.ms": "300000"}
        with KaffaBroker(properties=props) as broker:
            broker.wait_for_log(r"listener CONTROLLER is not bound")
            broker.wait_for_log(r"setting num\.io\.threads=8 has no effect")
            broker.wait_for_log(r"setting process\.roles=broker,controller has no effect")
            with kw.connect(broker) as conn:
                md = conn.metadata(["kraft-file"], version=1)
                self.assertEqual([(b["node_id"], b["port"]) for b in md["brokers"]],
                                 [(1, broker.port)])
                self.assertEqual(md["topics"][0]["error_code"], 0)

    def test_override_beats_properties_file(self):
        with KaffaBroker(properties={"num.partitions": "3"},
                         overrides={"num.partitions": "2"}) as broker:
            with kw.connect(broker) as conn:
                (topic,) = conn.metadata(["auto-two"], version=1)["topics"]
                self.assertEqual(len(topic["partitions"]), 2)

    def test_auto_create_disabled(self):
        with KaffaBroker(overrides={"auto.create.topics.enable": "false"}) as broker:
            with kw.connect(broker) as conn:
                (topic,) = conn.metadata(["not-created"], version=1)["topics"]
                self.assertEqual(topic["error_code"], 3)  # UNKNOWN_TOPIC_OR_PARTITION
                topics = conn.metadata(None, version=1, correlation_id=2)["topics"]
                # Only the broker's internal topics exist: nothing was auto-created.
                self.assertEqual([t["name"] for t in topics if not t["is_internal"]], [])

    def test_connections_per_address_are_limited(self):
        """max.connections.per.ip: a connection beyond it is closed at once, and once one has
        closed the address may connect again; max.connections.per.ip.overrides names a host's
        own limit (with 0 for everyone else, only the hosts named may connect)."""
        with KaffaBroker(overrides={"max.connections.per.ip": "2"}) as broker:
            first, second = kw.connect(broker), kw.connect(broker)
            try:
                for conn in (first, second):
                    self.assertEqual(conn.api_versions()[0], 0)
                with kw.connect(broker) as third:
                    self.assertTrue(third.expect_closed())
                broker.wait_for_log(r"refusing connection from 127\.0\.0\.1:\d+: the address "
                                    r"already has the configured maximum of 2 connections")
                first.close()
                # Once the broker has seen the close, a new connection is served.
                deadline = time.monotonic() + 30
                while True:
                    with kw.connect(broker) as again:
                        again.send(kw.api_versions_v0(1))
                        if again.read_response() is not None:
                            break
                    self.assertLess(time.monotonic(), deadline, "never accepted again")
            finally:
                second.close()
        with KaffaBroker(overrides={"max.connections.per.ip": "0",
                                    "max.connections.per.ip.overrides": "localhost:1"}) as broker:
            with kw.connect(broker) as one:
                self.assertEqual(one.api_versions()[0], 0)
                with kw.connect(broker) as two:
                    self.assertTrue(two.expect_closed())

    def test_sigterm_exits_cleanly(self):
        broker = KaffaBroker()
        try:
            broker.start()
            with kw.connect(broker) as conn:  # an open, idle connection must not block shutdown
                conn.api_versions()
                self.assertEqual(broker.stop(signal.SIGTERM), 0, broker.log_text())
                self.assertTrue(conn.expect_closed())
        finally:
            broker.kill()
            broker.cleanup()

    def test_sigint_exits_cleanly(self):
        broker = KaffaBroker()
        try:
            broker.start()
            with kw.connect(broker) as conn:
                conn.api_versions()
            self.assertEqual(broker.stop(signal.SIGINT), 0, broker.log_text())
            self.assertRegex(broker.log_text(), r"kaffa stopped")
        finally:
            broker.kill()
            broker.cleanup()

    def test_sigterm_right_after_ready(self):
        # A supervisor may stop the broker as soon as it reports ready: the signal must already
        # be handled then (exit 0), never kill the process by its default action (-15).
        codes = []
        for _ in range(20):
            broker = KaffaBroker()
            try:
                broker.start()
                codes.append(broker.stop(signal.SIGTERM))
            finally:
                broker.kill()
                broker.cleanup()
        self.assertEqual(codes, [0] * 20)

    def test_cluster_id_survives_restart(self):
        tmp = tempfile.mkdtemp(prefix="kaffa-systest-restart-")
        self.addCleanup(shutil.rmtree, tmp, True)
        data = os.path.join(tmp, "data")
        with KaffaBroker(log_dir=data) as broker:
            with kw.connect(broker) as conn:
                first = conn.metadata(None, version=2)["cluster_id"]
            self.assertIn("cluster.id=" + first, broker.log_text())
        meta = os.path.join(data, "meta.properties")
        self.assertTrue(os.path.isfile(meta), "meta.properties not written in log.dirs")
        props = read_properties(meta)
        self.assertEqual(props.get("cluster.id"), first)
        self.assertEqual(props.get("node.id"), "0")
        # Kafka cluster ids: 22 characters of URL-safe base64 (a UUID).
        self.assertRegex(first, r"^[A-Za-z0-9_-]{22}$")

        with KaffaBroker(log_dir=data) as broker:
            with kw.connect(broker) as conn:
                self.assertEqual(conn.metadata(None, version=2)["cluster_id"], first)
        self.assertEqual(read_properties(meta).get("cluster.id"), first)

        with KaffaBroker() as other:  # a fresh directory gets a fresh id
            with kw.connect(other) as conn:
                self.assertNotEqual(conn.metadata(None, version=2)["cluster_id"], first)

    def test_node_id_mismatch_refuses_to_start(self):
        tmp = tempfile.mkdtemp(prefix="kaffa-systest-nodeid-")
        self.addCleanup(shutil.rmtree, tmp, True)
        data = os.path.join(tmp, "data")
        with KaffaBroker(log_dir=data):
            pass
        broker = KaffaBroker(log_dir=data, overrides={"node.id": "5"})
        try:
            with self.assertRaises(BrokerStartError) as cm:
                broker.start()
            self.assertRegex(str(cm.exception), r"node\.id")
            self.assertNotEqual(broker.proc.wait(timeout=30), 0)
        finally:
            broker.kill()
            broker.cleanup()

    def test_offsets_topic_is_created_on_first_use(self):
        # As Kafka: __consumer_offsets is made by the first group lookup or group request, not by
        # the broker's start (which then creates nothing).
        def offsets_dirs(broker):
            return [n for n in os.listdir(broker.log_dir) if n.startswith("__consumer_offsets-")]
        with KaffaBroker(overrides={"offsets.topic.num.partitions": "5"}) as broker:
            self.assertEqual(offsets_dirs(broker), [])
            with kw.connect(broker) as conn:
                md = conn.metadata(None, version=1)
            self.assertNotIn("__consumer_offsets", [t["name"] for t in md["topics"]])
            with gw.connect(broker) as conn:
                fc = conn.find_coordinator("g1")
            self.assertEqual((fc["error"], fc["node_id"], fc["port"]), (0, 0, broker.port))
            self.assertEqual(len(offsets_dirs(broker)), 5)
        with KaffaBroker() as broker:  # a group request without a lookup first
            with gw.connect(broker) as conn:
                error, _ = conn.fetch_offsets(2, "g2", None)
            self.assertEqual(error, 0)
            self.assertEqual(len(offsets_dirs(broker)), 50)
            self.assertEqual(broker.stop(), 0)
            broker.restart()  # the existing topic is loaded at start
            with gw.connect(broker) as conn:
                error, _ = conn.fetch_offsets(2, "g2", None)
            self.assertEqual(error, 0)

    def test_node_id_is_advertised(self):
        with KaffaBroker(overrides={"node.id": "7"}) as broker:
            with kw.connect(broker) as conn:
                md = conn.metadata(None, version=1)
                self.assertEqual(md["brokers"], [{"node_id": 7, "host": "127.0.0.1",
                                                  "port": broker.port, "rack": None}])
                self.assertEqual(md["controller_id"], 7)


class DescriptorTest(unittest.TestCase):
    """A broker holds one descriptor per written partition, and raises its soft open file limit
    to the hard one: 1,000 written partitions work under a soft limit of 512."""

    PARTITIONS = 1000

    def test_many_partitions_under_a_low_soft_limit(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 4 * self.PARTITIONS:
            self.skipTest("hard open file limit %d" % hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))  # inherited by the broker
        try:
            with KaffaBroker() as broker:
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
                self.check_many_partitions(broker)
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    def check_many_partitions(self, broker):
        from confluent_kafka.admin import AdminClient, NewTopic
        import client_io
        with open("/proc/%d/limits" % broker.proc.pid) as f:
            line = [l for l in f if l.startswith("Max open files")][0]
        self.assertEqual(line.split()[3], line.split()[4], line)  # soft == hard
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        fut = admin.create_topics([NewTopic("many", self.PARTITIONS, 1)])["many"]
        fut.result(60)
        records = [(p, None, b"v%d" % p, None) for p in range(self.PARTITIONS)]
        offsets = client_io.confluent_produce(broker.bootstrap, "many", records)
        self.assertEqual(offsets, [(p, 0) for p in range(self.PARTITIONS)])
        # Every partition's log is written and open: about one descriptor each (the rest
        # are __consumer_offsets, sockets, the event loops and the threads' own).
        fds = len(os.listdir("/proc/%d/fd" % broker.proc.pid))
        self.assertLess(fds, self.PARTITIONS * 1.2 + 200, fds)
        got = client_io.confluent_consume(
            broker.bootstrap, [("many", p) for p in range(0, self.PARTITIONS, 97)])
        for (t, p), recs in got.items():
            self.assertEqual([r.value for r in recs], [b"v%d" % p])


if __name__ == "__main__":
    unittest.main(verbosity=2)
