#!/usr/bin/python3
"""SASL/PLAIN on a SASL_PLAINTEXT listener, next to a PLAINTEXT one.

Raw protocol (what each client path relies on):
- before authentication only ApiVersions, SaslHandshake and SaslAuthenticate pass: a Metadata
  request closes the connection;
- SaslHandshake v1 with a mechanism that is not enabled: UNSUPPORTED_SASL_MECHANISM (33) listing
  PLAIN, then the connection closes; SaslHandshake on the PLAINTEXT listener: ILLEGAL_SASL_STATE
  (34), the connection stays usable;
- SaslHandshake v1 + SaslAuthenticate v0 (classic) and v2 (flexible): a good password
  authenticates and Metadata then works; a wrong password and an unknown user both get
  SASL_AUTHENTICATION_FAILED (58) with the same message, then the connection closes; a second
  handshake is ILLEGAL_SASL_STATE and closes;
- SaslHandshake v0 then raw token frames (kafka-python's way): a good token gets an empty raw
  answer and the connection goes on with Kafka requests; a malformed token closes it;
- /metrics counts successes and failures in kaffa_sasl_authentications_total.
Clients: confluent_kafka (librdkafka), kafka-python, kafkajs and kcat produce and read back over
the SASL listener with PLAIN, and fail cleanly with a wrong password; so does `kaffa user list`
(its own client, for the KIP-554 requests librdkafka 2.0 lacks).
Per listener: listener.name.<l>.sasl.enabled.mechanisms gives one listener its own list (PLAIN on
one, SCRAM-SHA-512 on the other, each refusing the other's); naming no listener stops start-up.
"""

import os
import subprocess
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker, run_kaffa  # noqa: E402
import client_io as cio  # noqa: E402
import kafka_wire as kw  # noqa: E402

SASL_HANDSHAKE = 17
SASL_AUTHENTICATE = 36
JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="admin" password="admin-secret" '
        'user_admin="admin-secret" user_alice="alice-secret";')
TOPIC = "sasl-t"
FAILED_MESSAGE = "Authentication failed: Invalid username or password"


class Endpoint:
    def __init__(self, host, port):
        self.host, self.port = host, port


def plain_token(user, password):
    return b"\0" + user.encode() + b"\0" + password.encode()


def handshake(conn, version, mechanism, corr=1):
    conn.send(kw.frame(kw.header_v1(SASL_HANDSHAKE, version, corr) + kw.string(mechanism)))
    resp = conn.read_response()
    if resp is None:
        return None
    r = kw.Reader(resp[1])
    return r.i16(), r.array(lambda r: r.string())


def authenticate(conn, version, token, corr=2):
    """SaslAuthenticate v0/v1 (classic) or v2 (flexible) -> (error, message, auth bytes)."""
    if version < 2:
        body = kw.header_v1(SASL_AUTHENTICATE, version, corr) + kw.i32(len(token)) + token
    else:
        body = (kw.header_v2(SASL_AUTHENTICATE, version, corr) + kw.uvarint(len(token) + 1)
                + token + kw.uvarint(0))
    conn.send(kw.frame(body))
    resp = conn.read_response(flexible_header=version >= 2)
    if resp is None:
        return None
    r = kw.Reader(resp[1])
    error = r.i16()
    if version < 2:
        message = r.string()
        data = r.take(r.i32())
    else:
        message = r.compact_string()
        data = r.take(r.uvarint() - 1)
    if version >= 1:
        r.i64()  # session_lifetime_ms
    return error, message, data


class SaslPlainTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = KaffaBroker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS}).start()
        sasl = cls.broker.wait_for_log(r"kaffa ready listener=SASL_PLAINTEXT://([^\s]+):(\d+)")
        cls.sasl_ep = Endpoint(sasl.group(1), int(sasl.group(2)))
        cls.plain_ep = Endpoint(cls.broker.host, cls.broker.port)  # the first listener
        cls.sasl_bootstrap = "%s:%d" % (cls.sasl_ep.host, cls.sasl_ep.port)
        with kw.connect(cls.plain_ep) as conn:
            assert conn.create_topics([(TOPIC, 1, 1)]) == {TOPIC: 0}

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop_and_check()
        cls.broker.cleanup()

    def sasl_conn(self):
        return kw.connect(self.sasl_ep)

    # ---- raw protocol ----

    def test_requests_before_authentication_close_the_connection(self):
        with self.sasl_conn() as conn:
            conn.send(kw.api_versions_v0(1))
            self.assertIsNotNone(conn.read_response())  # ApiVersions passes
            conn.send(kw.metadata_request(2, 1, None))
            self.assertIsNone(conn.read_response())

    def test_unsupported_mechanism_and_plaintext_listener(self):
        with self.sasl_conn() as conn:
            self.assertEqual(handshake(conn, 1, "SCRAM-SHA-256"), (33, ["PLAIN"]))
            self.assertTrue(conn.expect_closed())
        with kw.connect(self.plain_ep) as conn:
            self.assertEqual(handshake(conn, 1, "PLAIN"), (34, []))
            self.assertEqual(conn.metadata([TOPIC])["topics"][0]["error_code"], 0)

    def test_handshake_v1_and_authenticate(self):
        for version in (0, 1, 2):
            with self.sasl_conn() as conn:
                self.assertEqual(handshake(conn, 1, "PLAIN"), (0, ["PLAIN"]))
                self.assertEqual(authenticate(conn, version, plain_token("alice", "alice-secret")),
                                 (0, None, b""))
                self.assertEqual(conn.metadata([TOPIC], correlation_id=3)["topics"][0]["name"],
                                 TOPIC)
        answers = []
        for user, password in (("alice", "wrong"), ("mallory", "alice-secret")):
            with self.sasl_conn() as conn:
                self.assertEqual(handshake(conn, 1, "PLAIN")[0], 0)
                answers.append(authenticate(conn, 1, plain_token(user, password)))
                self.assertTrue(conn.expect_closed())
        self.assertEqual(answers, [(58, FAILED_MESSAGE, b"")] * 2)
        with self.sasl_conn() as conn:
            self.assertEqual(handshake(conn, 1, "PLAIN")[0], 0)
            self.assertEqual(handshake(conn, 1, "PLAIN", corr=2), (34, ["PLAIN"]))
            self.assertTrue(conn.expect_closed())

    def test_raw_tokens_after_handshake_v0(self):
        with self.sasl_conn() as conn:
            self.assertEqual(handshake(conn, 0, "PLAIN"), (0, ["PLAIN"]))
            conn.send(kw.frame(plain_token("alice", "alice-secret")))
            self.assertEqual(conn.read_frame(), b"")
            self.assertEqual(conn.metadata([TOPIC])["topics"][0]["name"], TOPIC)
        for token in (plain_token("alice", "nope"), b"garbage", b"", os.urandom(300)):
            with self.sasl_conn() as conn:
                self.assertEqual(handshake(conn, 0, "PLAIN")[0], 0)
                conn.send(kw.frame(token))
                self.assertTrue(conn.expect_closed(), token[:20])
        self.assertTrue(self.broker.alive())

    def test_metrics_count_outcomes(self):
        before = self.sasl_counts()
        with self.sasl_conn() as conn:
            handshake(conn, 1, "PLAIN")
            authenticate(conn, 1, plain_token("alice", "alice-secret"))
        with self.sasl_conn() as conn:
            handshake(conn, 1, "PLAIN")
            authenticate(conn, 1, plain_token("alice", "bad"))
        after = self.sasl_counts()
        self.assertEqual(after["success"] - before["success"], 1)
        self.assertEqual(after["failure"] - before["failure"], 1)

    def sasl_counts(self):
        from prometheus_client.parser import text_string_to_metric_families
        text = urllib.request.urlopen(self.broker.admin_url + "/metrics", timeout=30).read()
        out = {}
        for fam in text_string_to_metric_families(text.decode()):
            if fam.name == "kaffa_sasl_authentications":
                for s in fam.samples:
                    if s.name.endswith("_total"):
                        out[s.labels["result"]] = s.value
        return out

    def test_kaffa_cli_own_client(self):
        args = ["user", "list", "--json", "-b", self.sasl_bootstrap, "-X",
                "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=PLAIN", "-X",
                "sasl.username=alice"]
        ok = run_kaffa(args + ["-X", "sasl.password=alice-secret"])
        self.assertEqual((ok.returncode, ok.stdout.strip()), (0, "[]"), ok.stderr)
        bad = run_kaffa(args + ["-X", "sasl.password=wrong"])
        self.assertEqual(bad.returncode, 1)
        self.assertIn("SASL authentication with %s failed: %s" % (self.sasl_bootstrap,
                                                                 FAILED_MESSAGE), bad.stderr)

    # ---- clients ----

    def rdkafka_conf(self, password="alice-secret"):
        return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN",
                "sasl.username": "alice", "sasl.password": password}

    def test_confluent_kafka(self):
        records = [(0, b"c%d" % i, b"confluent-%d" % i, []) for i in range(10)]
        cio.confluent_produce(self.sasl_bootstrap, TOPIC, records, extra=self.rdkafka_conf())
        got = cio.confluent_consume(self.sasl_bootstrap, [(TOPIC, 0)], extra=self.rdkafka_conf())
        values = [r.value for r in got[(TOPIC, 0)]]
        self.assertTrue(set(v for _, _, v, _ in records) <= set(values))
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient
        admin = AdminClient(dict(self.rdkafka_conf("wrong"), **{
            "bootstrap.servers": self.sasl_bootstrap}))
        mark = self.broker.log_mark()
        with self.assertRaises(KafkaException):
            admin.list_topics(timeout=5)
        self.broker.wait_for_log(r"SASL PLAIN authentication failed .*user 'alice'", since=mark)

    def test_kafka_python(self):
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition
        from kafka.errors import NoBrokersAvailable
        conf = dict(bootstrap_servers=self.sasl_bootstrap, security_protocol="SASL_PLAINTEXT",
                    sasl_mechanism="PLAIN", sasl_plain_username="alice",
                    sasl_plain_password="alice-secret", api_version_auto_timeout_ms=30000)
        p = KafkaProducer(acks="all", **conf)
        md = p.send(TOPIC, key=b"kp", value=b"kafka-python").get(timeout=30)
        p.close()
        c = KafkaConsumer(consumer_timeout_ms=10000, **conf)
        tp = TopicPartition(TOPIC, 0)
        c.assign([tp])
        c.seek(tp, md.offset)
        got = next(iter(c))
        c.close()
        self.assertEqual(got.value, b"kafka-python")
        # kafka-python sends raw tokens (SaslHandshake v0): a refusal can only close the
        # connection, which it reports as no broker available.
        bad = dict(conf, sasl_plain_password="wrong", api_version_auto_timeout_ms=5000)
        mark = self.broker.log_mark()
        with self.assertRaises(NoBrokersAvailable):
            KafkaProducer(**bad)
        self.broker.wait_for_log(r"SASL PLAIN authentication failed", since=mark)

    def test_kafkajs(self):
        sasl = {"mechanism": "plain", "username": "alice", "password": "alice-secret"}
        req = {"op": "produce", "broker": self.sasl_bootstrap, "topic": TOPIC, "codec": "none",
               "sasl": sasl, "records": [{"partition": 0, "key": None,
                                          "value": "a2Fma2Fqcw==", "headers": []}]}
        meta = cio.run_data_ops(req)["metadata"]
        self.assertEqual(meta[0]["errorCode"], 0)
        req["sasl"] = dict(sasl, password="wrong")
        with self.assertRaises(AssertionError) as ctx:
            cio.run_data_ops(req)
        self.assertIn("SASL", str(ctx.exception))

    def test_kcat(self):
        kcat = cio.kcat_path()
        args = [kcat, "-b", self.sasl_bootstrap, "-X", "security.protocol=SASL_PLAINTEXT",
                "-X", "sasl.mechanisms=PLAIN", "-X", "sasl.username=alice"]
        ok = subprocess.run(args + ["-X", "sasl.password=alice-secret", "-L", "-t", TOPIC],
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn('topic "%s"' % TOPIC, ok.stdout)
        self.assertIn(":%d" % self.sasl_ep.port, ok.stdout)  # the SASL listener's address
        bad = subprocess.run(args + ["-X", "sasl.password=wrong", "-L", "-m", "5"],
                             capture_output=True, text=True, timeout=60)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("Authentication failed", bad.stderr + bad.stdout)


class PerListenerMechanismsTest(unittest.TestCase):
    def test_each_listener_offers_its_own_mechanisms(self):
        broker = KaffaBroker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:0,INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0",
            "listener.security.protocol.map":
                "PLAINTEXT:PLAINTEXT,INTERNAL:SASL_PLAINTEXT,EXTERNAL:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.internal.sasl.enabled.mechanisms": "PLAIN",
            "listener.name.internal.plain.sasl.jaas.config": JAAS}).start()
        try:
            ends = {}
            for name in ("INTERNAL", "EXTERNAL"):
                m = broker.wait_for_log(r"kaffa ready listener=%s://([^\s]+):(\d+)" % name)
                ends[name] = Endpoint(m.group(1), int(m.group(2)))
            with kw.connect(ends["INTERNAL"]) as conn:
                self.assertEqual(handshake(conn, 1, "PLAIN"), (0, ["PLAIN"]))
            with kw.connect(ends["INTERNAL"]) as conn:
                self.assertEqual(handshake(conn, 1, "SCRAM-SHA-512"), (33, ["PLAIN"]))
            with kw.connect(ends["EXTERNAL"]) as conn:
                self.assertEqual(handshake(conn, 1, "SCRAM-SHA-512"), (0, ["SCRAM-SHA-512"]))
            with kw.connect(ends["EXTERNAL"]) as conn:
                self.assertEqual(handshake(conn, 1, "PLAIN"), (33, ["SCRAM-SHA-512"]))
        finally:
            broker.stop_and_check()
            broker.cleanup()
        bad = KaffaBroker(overrides={"listener.name.nowhere.sasl.enabled.mechanisms": "PLAIN"})
        try:
            p = subprocess.run(bad.command(), stdin=subprocess.DEVNULL, capture_output=True,
                               text=True, timeout=60)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("listener.name.nowhere.sasl.enabled.mechanisms' names no listener",
                          p.stderr)
        finally:
            bad.cleanup()


if __name__ == "__main__":
    unittest.main()
