#!/usr/bin/python3
"""Named listeners (listener.security.protocol.map) and per-listener advertised addresses.

A broker with `listeners=INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0,REPLICATION://...`, all
mapped to PLAINTEXT, and an advertised.listeners entry for one of them:
- each listener logs its own `kaffa ready` line; Metadata and FindCoordinator asked on a
  listener give that listener's address (the advertised one where configured), as Kafka does;
- DescribeCluster v0/v1 answers like Metadata on each listener (cluster id, controller, this
  broker at the listener's address); endpoint type 2 (controllers) is MISMATCHED_ENDPOINT_TYPE
  (114), an unknown type UNSUPPORTED_ENDPOINT_TYPE (115);
- a confluent_kafka producer and consumer bootstrapped on the EXTERNAL listener work end to end
  (they follow Metadata, so a wrong address would strand them);
- start-up refuses a listener whose name is not in the map, and a security protocol that is not
  served yet, with a clear message and exit code 2.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker, run_kaffa  # noqa: E402
import client_io as cio  # noqa: E402
import group_wire as gw  # noqa: E402
import kafka_wire as kw  # noqa: E402


class Endpoint:
    def __init__(self, host, port):
        self.host, self.port = host, port


class NamedListenersTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = KaffaBroker(overrides={
            "listeners": "INTERNAL://127.0.0.1:0,external://127.0.0.1:0,REPLICATION://127.0.0.1:0",
            "listener.security.protocol.map":
                "INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT,REPLICATION:PLAINTEXT",
            "advertised.listeners": "REPLICATION://replica.example:19999",
            "inter.broker.listener.name": "REPLICATION"}).start()
        cls.bound = {}
        for name in ("INTERNAL", "EXTERNAL", "REPLICATION"):
            m = cls.broker.wait_for_log(r"kaffa ready listener=%s://([^\s]+):(\d+)" % name)
            cls.bound[name] = Endpoint(m.group(1), int(m.group(2)))

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop_and_check()
        cls.broker.cleanup()

    def metadata_broker(self, listener):
        with kw.connect(self.bound[listener]) as conn:
            brokers = conn.metadata([], version=1)["brokers"]
        self.assertEqual(len(brokers), 1)
        return brokers[0]["host"], brokers[0]["port"]

    def test_each_listener_advertises_itself(self):
        self.assertEqual(sorted(self.bound), ["EXTERNAL", "INTERNAL", "REPLICATION"])
        for name in ("INTERNAL", "EXTERNAL"):
            ep = self.bound[name]
            self.assertEqual(self.metadata_broker(name), (ep.host, ep.port))
        self.assertEqual(self.metadata_broker("REPLICATION"), ("replica.example", 19999))

    def describe_cluster(self, listener, version, endpoint_type=1, ops=False):
        body = kw.header_v2(60, version, 3) + kw.i8(1 if ops else 0)
        if version >= 1:
            body += kw.i8(endpoint_type)
        with kw.connect(self.bound[listener]) as conn:
            conn.send(kw.frame(body + kw.uvarint(0)))
            _, data = conn.read_response(flexible_header=True)
        r = kw.Reader(data)
        r.i32()
        out = {"error": r.i16(), "message": r.compact_string()}
        if version >= 1:
            out["endpoint_type"] = r.i8()
        out["cluster_id"], out["controller"] = r.compact_string(), r.i32()

        def broker(r):
            b = (r.i32(), r.compact_string(), r.i32(), r.compact_string())
            r.skip_tags()
            return b
        out["brokers"] = r.compact_array(broker)
        out["ops"] = r.i32()
        r.skip_tags()
        self.assertTrue(r.done())
        return out

    def test_describe_cluster(self):
        ext = self.bound["EXTERNAL"]
        for version in (0, 1):
            d = self.describe_cluster("EXTERNAL", version)
            self.assertEqual((d["error"], d["controller"]), (0, 0))
            self.assertEqual(len(d["cluster_id"]), 22)
            self.assertEqual(d["brokers"], [(0, ext.host, ext.port, None)])
            self.assertEqual(d["ops"], -2147483648)
        self.assertEqual(self.describe_cluster("REPLICATION", 1)["brokers"],
                         [(0, "replica.example", 19999, None)])
        # Without an authorizer every cluster operation is allowed (Kafka's bit field of CREATE,
        # ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE).
        self.assertEqual(self.describe_cluster("INTERNAL", 0, ops=True)["ops"],
                         sum(1 << op for op in (5, 7, 8, 9, 10, 11, 12)))
        self.assertEqual(self.describe_cluster("EXTERNAL", 1, endpoint_type=2)["error"], 114)
        self.assertEqual(self.describe_cluster("EXTERNAL", 1, endpoint_type=7)["error"], 115)

    def test_find_coordinator_answers_with_the_listener_address(self):
        ep = self.bound["EXTERNAL"]
        conn = gw.connect(ep)
        try:
            coord = conn.find_coordinator("some-group")
        finally:
            conn.close()
        self.assertEqual((coord["host"], coord["port"]), (ep.host, ep.port))

    def test_clients_on_the_external_listener(self):
        ep = self.bound["EXTERNAL"]
        bootstrap = "%s:%d" % (ep.host, ep.port)
        with kw.connect(ep) as conn:
            self.assertEqual(conn.create_topics([("ext-t", 1, 1)]), {"ext-t": 0})
        records = [(0, b"k%d" % i, b"v%d" % i, []) for i in range(20)]
        cio.confluent_produce(bootstrap, "ext-t", records)
        got = cio.confluent_consume(bootstrap, [("ext-t", 0)])
        self.assertEqual([r.value for r in got[("ext-t", 0)]], [b"v%d" % i for i in range(20)])


JAAS_NOBODY = "org.apache.kafka.common.security.plain.PlainLoginModule required;"


class ListenerConfigErrorsTest(unittest.TestCase):
    def test_refused_at_start_up(self):
        for overrides, message in [
                (["listeners=OTHER://127.0.0.1:0"], "OTHER has no security protocol"),
                (["listeners=SASL_SSL://127.0.0.1:0",
                  "listener.name.sasl_ssl.plain.sasl.jaas.config=" + JAAS_NOBODY],
                 "listener.name.sasl_ssl.ssl.keystore.location: a TLS listener needs a key")]:
            args = ["serve"]
            for o in overrides:
                args += ["--override", o]
            r = run_kaffa(args)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(message, r.stderr)


if __name__ == "__main__":
    unittest.main()
