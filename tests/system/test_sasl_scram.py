#!/usr/bin/python3
"""SASL/SCRAM-SHA-256 and SCRAM-SHA-512 with credentials managed through KIP-554's APIs.

- AlterUserScramCredentials (raw protocol; the client computes the salted password with PBKDF2)
  creates users; DescribeUserScramCredentials lists their mechanisms and iterations; Kafka's
  per-user errors: RESOURCE_NOT_FOUND, UNACCEPTABLE_CREDENTIAL (iterations, empty name),
  UNSUPPORTED_SASL_MECHANISM, DUPLICATE_RESOURCE.
- confluent_kafka, kafka-python, kafkajs and kcat authenticate with both mechanisms, produce and
  read back; a wrong password and an unknown user fail cleanly.
- Credentials survive a restart (kill -9 included); a deleted credential no longer authenticates.
- `kaffa user set|list|delete` manage them (human and JSON output, exit codes).
"""

import base64
import json
import hashlib
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker, run_kaffa  # noqa: E402
import client_io as cio  # noqa: E402
import kafka_wire as kw  # noqa: E402

DESCRIBE = 50
ALTER = 51
SHA256, SHA512 = 1, 2
TOPIC = "scram-t"
USERS = {"alice": (SHA256, "alice-pw", 4096), "bob": (SHA512, "bob-pw", 8192)}


class Endpoint:
    def __init__(self, host, port):
        self.host, self.port = host, port


def cbytes(b):
    return kw.uvarint(len(b) + 1) + b


def salted(mechanism, password, salt, iterations):
    algo = "sha256" if mechanism == SHA256 else "sha512"
    return hashlib.pbkdf2_hmac(algo, password.encode(), salt, iterations)


def roundtrip(ep, body):
    """Sends one flexible request; a Reader positioned after throttle_time_ms of the answer."""
    with kw.connect(ep) as conn:
        conn.send(kw.frame(body))
        _, data = conn.read_response(flexible_header=True)
    r = kw.Reader(data)
    r.i32()
    return r


def alter(ep, upsertions=(), deletions=(), corr=7):
    """upsertions: [(name, mechanism, iterations, salt, salted)], deletions: [(name, mechanism)]
    -> {user: (error, message)}."""
    body = kw.header_v2(ALTER, 0, corr)
    body += kw.uvarint(len(deletions) + 1) + b"".join(
        kw.compact_string(n) + kw.i8(m) + kw.uvarint(0) for n, m in deletions)
    body += kw.uvarint(len(upsertions) + 1) + b"".join(
        kw.compact_string(n) + kw.i8(m) + kw.i32(i) + cbytes(s) + cbytes(p) + kw.uvarint(0)
        for n, m, i, s, p in upsertions)
    r = roundtrip(ep, body + kw.uvarint(0))

    def result(r):
        user, err, msg = r.compact_string(), r.i16(), r.compact_string()
        r.skip_tags()
        return user, (err, msg)
    return dict(r.compact_array(result))


def describe(ep, users=None, corr=8):
    """-> (error, {user: (error, [(mechanism, iterations)])})."""
    body = kw.header_v2(DESCRIBE, 0, corr)
    if users is None:
        body += kw.uvarint(0)
    else:
        body += kw.uvarint(len(users) + 1) + b"".join(
            kw.compact_string(u) + kw.uvarint(0) for u in users)
    r = roundtrip(ep, body + kw.uvarint(0))
    error = r.i16()
    r.compact_string()

    def info(r):
        m, i = r.i8(), r.i32()
        r.skip_tags()
        return m, i

    def result(r):
        user, err = r.compact_string(), r.i16()
        r.compact_string()
        infos = r.compact_array(info)
        r.skip_tags()
        return user, (err, infos)
    return error, dict(r.compact_array(result))


class SaslScramTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = KaffaBroker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
            "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512"}).start()
        cls.find_endpoints()
        with kw.connect(cls.plain) as conn:
            assert conn.create_topics([(TOPIC, 1, 1)]) == {TOPIC: 0}
        ups = []
        for name, (mech, pw, iters) in USERS.items():
            salt = os.urandom(16)
            ups.append((name, mech, iters, salt, salted(mech, pw, salt, iters)))
        assert alter(cls.plain, ups) == {"alice": (0, None), "bob": (0, None)}

    @classmethod
    def find_endpoints(cls):
        m = cls.broker.wait_for_log(r"kaffa ready listener=SASL_PLAINTEXT://([^\s]+):(\d+)")
        cls.sasl = Endpoint(m.group(1), int(m.group(2)))
        cls.plain = Endpoint(cls.broker.host, cls.broker.port)
        cls.bootstrap = "%s:%d" % (cls.sasl.host, cls.sasl.port)

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop_and_check()
        cls.broker.cleanup()

    @staticmethod
    def mech_name(mech):
        return "SCRAM-SHA-256" if mech == SHA256 else "SCRAM-SHA-512"

    def rdkafka_conf(self, user, password=None):
        mech, pw, _ = USERS.get(user, (SHA256, "x", 0))
        return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": self.mech_name(mech),
                "sasl.username": user, "sasl.password": password or pw}

    def rdkafka_can_connect(self, user, password=None):
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient
        admin = AdminClient(dict(self.rdkafka_conf(user, password),
                                 **{"bootstrap.servers": self.bootstrap}))
        try:
            admin.list_topics(timeout=5)
            return True
        except KafkaException:
            return False

    def test_describe_and_alter_errors(self):
        error, res = describe(self.plain)
        self.assertEqual(error, 0)
        self.assertEqual(res, {"alice": (0, [(SHA256, 4096)]), "bob": (0, [(SHA512, 8192)])})
        _, res = describe(self.plain, ["bob", "nobody", "alice", "alice"])
        self.assertEqual(res["bob"], (0, [(SHA512, 8192)]))
        self.assertEqual(res["nobody"][0], 91)
        self.assertEqual(res["alice"][0], 92)
        bad = alter(self.plain, [("carol", SHA256, 100, b"s", b"p"), ("", SHA256, 4096, b"s", b"p"),
                                 ("dave", 9, 4096, b"s", b"p"),
                                 ("erin", SHA256, 4096, b"s", b"p"),
                                 ("erin", SHA256, 4096, b"s", b"p")],
                    deletions=[("frank", SHA512)])
        self.assertEqual({u: e for u, (e, _) in bad.items()},
                         {"carol": 93, "": 93, "dave": 33, "erin": 92, "frank": 91})
        self.assertIn("4096", bad["carol"][1])
        self.assertEqual(set(describe(self.plain)[1]), {"alice", "bob"})  # nothing changed

    def test_confluent_kafka_both_mechanisms(self):
        for user in ("alice", "bob"):
            records = [(0, None, b"%s-%d" % (user.encode(), i), []) for i in range(5)]
            cio.confluent_produce(self.bootstrap, TOPIC, records, extra=self.rdkafka_conf(user))
            got = cio.confluent_consume(self.bootstrap, [(TOPIC, 0)],
                                        extra=self.rdkafka_conf(user))
            self.assertTrue({r[2] for r in records} <= {r.value for r in got[(TOPIC, 0)]})
        self.assertFalse(self.rdkafka_can_connect("alice", "wrong"))
        self.assertFalse(self.rdkafka_can_connect("mallory", "alice-pw"))

    def test_kafka_python(self):
        from kafka import KafkaProducer
        from kafka.errors import NoBrokersAvailable
        for user in ("alice", "bob"):
            mech, pw, _ = USERS[user]
            conf = dict(bootstrap_servers=self.bootstrap, security_protocol="SASL_PLAINTEXT",
                        sasl_mechanism=self.mech_name(mech), sasl_plain_username=user,
                        sasl_plain_password=pw, api_version_auto_timeout_ms=30000)
            p = KafkaProducer(acks="all", **conf)
            md = p.send(TOPIC, value=b"kafka-python-" + user.encode()).get(timeout=30)
            p.close()
            self.assertGreaterEqual(md.offset, 0)
        with self.assertRaises(NoBrokersAvailable):
            KafkaProducer(**dict(conf, sasl_plain_password="wrong",
                                 api_version_auto_timeout_ms=5000))

    def test_kafkajs(self):
        for user, mechanism in (("alice", "scram-sha-256"), ("bob", "scram-sha-512")):
            sasl = {"mechanism": mechanism, "username": user, "password": USERS[user][1]}
            req = {"op": "produce", "broker": self.bootstrap, "topic": TOPIC, "codec": "none",
                   "sasl": sasl, "records": [{"partition": 0, "key": None,
                                              "value": base64.b64encode(b"js").decode(),
                                              "headers": []}]}
            self.assertEqual(cio.run_data_ops(req)["metadata"][0]["errorCode"], 0)
        req["sasl"] = dict(sasl, password="wrong")
        with self.assertRaises(AssertionError) as ctx:
            cio.run_data_ops(req)
        self.assertIn("SASL", str(ctx.exception))

    def test_kcat(self):
        args = [cio.kcat_path(), "-b", self.bootstrap, "-X", "security.protocol=SASL_PLAINTEXT",
                "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=bob", "-L", "-m", "5"]
        ok = subprocess.run(args + ["-X", "sasl.password=bob-pw"], capture_output=True,
                            text=True, timeout=60)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        self.assertIn(TOPIC, ok.stdout)
        bad = subprocess.run(args + ["-X", "sasl.password=nope"], capture_output=True,
                             text=True, timeout=60)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("Authentication failed", bad.stderr + bad.stdout)

    def test_kaffa_user_cli(self):
        b = ["-b", "%s:%d" % (self.plain.host, self.plain.port)]
        r = run_kaffa(["user", "set", "carol", "--mechanism", "SCRAM-SHA-512",
                       "--iterations", "5000", "--password-stdin"] + b, input="carol-pw\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Set SCRAM credentials of user carol", r.stdout)
        r = run_kaffa(["user", "list", "carol"] + b)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"carol\s+SCRAM-SHA-512\s+5000")
        r = run_kaffa(["user", "list", "--json"] + b)
        users = {u["user"]: u["credentials"] for u in json.loads(r.stdout)}
        self.assertEqual(users["carol"], [{"mechanism": "SCRAM-SHA-512", "iterations": 5000}])
        USERS["carol"] = (SHA512, "carol-pw", 5000)
        try:
            self.assertTrue(self.rdkafka_can_connect("carol"))
            r = run_kaffa(["user", "delete", "carol"] + b)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertFalse(self.rdkafka_can_connect("carol"))
        finally:
            del USERS["carol"]
        r = run_kaffa(["user", "list", "carol"] + b)
        self.assertEqual(r.returncode, 1)
        self.assertIn("does not exist", r.stderr)
        r = run_kaffa(["user", "set", "dan", "--password", "x", "--iterations", "10"] + b)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Iterations must be between 4096 and 16384", r.stderr)
        r = run_kaffa(["user", "list", "-X", "security.protocol=SASL_PLAINTEXT",
                       "-X", "sasl.mechanism=SCRAM-SHA-256"] + b)
        self.assertEqual(r.returncode, 2)
        self.assertIn("PLAIN only", r.stderr)

    def test_zz_credentials_survive_restart_and_deletion(self):
        self.broker.kill9()
        self.broker.restart()
        self.__class__.find_endpoints()
        self.assertTrue(self.rdkafka_can_connect("bob"))
        self.assertEqual(alter(self.plain, deletions=[("bob", SHA512)]), {"bob": (0, None)})
        self.assertFalse(self.rdkafka_can_connect("bob"))
        self.assertEqual(self.broker.stop(), 0)
        self.broker.restart()
        self.__class__.find_endpoints()
        self.assertEqual(describe(self.plain)[1], {"alice": (0, [(SHA256, 4096)])})
        self.assertTrue(self.rdkafka_can_connect("alice"))


if __name__ == "__main__":
    unittest.main()
