#!/usr/bin/python3
"""SASL over TLS: a SASL_SSL listener with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, next to a
PLAINTEXT one (where the SCRAM users are created, as in test_sasl_scram).

- confluent_kafka, kafka-python, kafkajs, @platformatic/kafka and kcat authenticate with each
  mechanism over TLS (verifying the broker's certificate), produce and read back; sarama with
  PLAIN (its SCRAM needs a SCRAM library of the application's);
- a wrong password and an unknown user fail cleanly (the broker logs the SASL failure);
- a client that does not trust the broker's certificate fails in the TLS handshake, before SASL;
- the SASL gate applies over TLS: a Metadata request before authentication closes the
  connection.
"""

import os
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import client_io as cio  # noqa: E402
import kafka_wire as kw  # noqa: E402
from test_sasl_scram import SHA256, SHA512, alter, salted  # noqa: E402
from tls_certs import Pki, stop_broker_and_remove  # noqa: E402

TOPIC = "sasl-ssl-t"
JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="admin" password="admin-secret" user_carol="carol-secret";')
# user -> (mechanism, password)
USERS = {"carol": ("PLAIN", "carol-secret"), "alice": ("SCRAM-SHA-256", "alice-pw"),
         "bob": ("SCRAM-SHA-512", "bob-pw")}


class Endpoint:
    def __init__(self, host, port):
        self.host, self.port = host, port


class SaslSslTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kaffa-sasl-ssl-")
        cls.pki = Pki(cls.tmp)
        cls.broker = KaffaBroker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0",
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
            "listener.name.sasl_ssl.plain.sasl.jaas.config": JAAS,
            "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
            "listener.name.sasl_ssl.ssl.keystore.location": cls.pki.server()}).start()
        m = cls.broker.wait_for_log(r"kaffa ready listener=SASL_SSL://([^\s]+):(\d+)")
        cls.host, cls.port = m.group(1), int(m.group(2))
        cls.bootstrap = "%s:%d" % (cls.host, cls.port)
        plain = Endpoint(cls.broker.host, cls.broker.port)
        with kw.connect(plain) as conn:
            assert conn.create_topics([(TOPIC, 1, 1)]) == {TOPIC: 0}
        ups = []
        for name, mech, pw in (("alice", SHA256, "alice-pw"), ("bob", SHA512, "bob-pw")):
            salt = os.urandom(16)
            ups.append((name, mech, 4096, salt, salted(mech, pw, salt, 4096)))
        assert alter(plain, ups) == {"alice": (0, None), "bob": (0, None)}

    @classmethod
    def tearDownClass(cls):
        stop_broker_and_remove(cls.broker, cls.tmp)

    def rdkafka_conf(self, user, password=None, ca=None):
        mech, pw = USERS.get(user, ("PLAIN", "x"))
        return {"security.protocol": "SASL_SSL", "ssl.ca.location": ca or self.pki.ca_cert,
                "sasl.mechanisms": mech, "sasl.username": user,
                "sasl.password": password or pw}

    def rdkafka_can_connect(self, conf):
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient
        admin = AdminClient(dict(conf, **{"bootstrap.servers": self.bootstrap}))
        try:
            admin.list_topics(timeout=5)
            return True
        except KafkaException:
            return False

    def test_confluent_kafka_every_mechanism(self):
        for user in USERS:
            records = [(0, None, b"%s-ssl-%d" % (user.encode(), i), []) for i in range(5)]
            cio.confluent_produce(self.bootstrap, TOPIC, records, extra=self.rdkafka_conf(user))
            got = cio.confluent_consume(self.bootstrap, [(TOPIC, 0)],
                                        extra=self.rdkafka_conf(user))
            self.assertTrue({r[2] for r in records} <= {r.value for r in got[(TOPIC, 0)]})
        for user, password in (("alice", "wrong"), ("carol", "wrong"), ("nobody", "x")):
            mark = self.broker.log_mark()
            self.assertFalse(self.rdkafka_can_connect(self.rdkafka_conf(user, password)))
            self.broker.wait_for_log(r"SASL .* authentication failed", since=mark)
        mark = self.broker.log_mark()
        self.assertFalse(self.rdkafka_can_connect(
            self.rdkafka_conf("alice", ca=self.pki.untrusted_ca_cert)))
        self.broker.wait_for_log(r"TLS handshake failed", since=mark)
        self.assertTrue(self.broker.alive())

    def test_platformatic_every_mechanism(self):
        missing = cio.platformatic_missing()
        if missing:
            self.skipTest(missing)
        for user, (mech, pw) in USERS.items():
            topic = "plt-ssl-" + user
            with kw.connect(Endpoint(self.broker.host, self.broker.port)) as conn:
                self.assertEqual(conn.create_topics([(topic, 1, 1)]), {topic: 0})
            options = {"tls": {"ca": self.pki.ca_cert},
                       "sasl": {"mechanism": mech, "username": user, "password": pw}}
            value = b"plt-ssl-" + user.encode()
            cio.platformatic_produce(self.bootstrap, topic, [(0, None, value, ())],
                                     options=options)
            got, _ = cio.platformatic_consume(self.bootstrap, topic, [topic], 1, options=options)
            self.assertEqual([r.value for r in got[(topic, 0)]], [value], mech)

    def test_sarama_plain(self):
        options = {"tls": {"ca": self.pki.ca_cert},
                   "sasl": {"username": "carol", "password": "carol-secret"}}
        offsets = cio.sarama_produce(self.bootstrap, TOPIC, [(0, None, b"sarama-ssl", ())],
                                     options=options)
        got = cio.sarama_consume(self.bootstrap, [(TOPIC, 0)], options=options)
        self.assertEqual(got[(TOPIC, 0)][offsets[0][1]].value, b"sarama-ssl")
        with self.assertRaisesRegex(AssertionError, "(?i)SASL|auth"):
            cio.sarama_produce(self.bootstrap, TOPIC, [(0, None, b"x", ())], options=dict(
                options, sasl={"username": "carol", "password": "wrong"}))

    def test_kafka_python(self):
        from kafka import KafkaProducer
        from kafka.errors import KafkaError, NoBrokersAvailable
        for user, (mech, pw) in USERS.items():
            conf = {"security_protocol": "SASL_SSL", "ssl_cafile": self.pki.ca_cert,
                    "sasl_mechanism": mech, "sasl_plain_username": user,
                    "sasl_plain_password": pw, "api_version_auto_timeout_ms": 30000}
            records = [(0, None, b"kp-%s" % user.encode(), [])]
            cio.kafka_python_produce(self.bootstrap, TOPIC, records, extra=conf)
            got = cio.kafka_python_consume(self.bootstrap, [(TOPIC, 0)], extra=conf)
            self.assertIn(b"kp-%s" % user.encode(), {r.value for r in got[(TOPIC, 0)]})
            bad = dict(conf, sasl_plain_password="wrong", api_version_auto_timeout_ms=5000)
            mark = self.broker.log_mark()
            # kafka-python's SASL refusal is a closed connection: no broker available.
            with self.assertRaises((NoBrokersAvailable, KafkaError)):
                KafkaProducer(bootstrap_servers=self.bootstrap, **bad).close()
            self.broker.wait_for_log(r"SASL .* authentication failed", since=mark)

    def test_kafkajs(self):
        for user, mechanism in (("carol", "plain"), ("alice", "scram-sha-256"),
                                ("bob", "scram-sha-512")):
            opts = {"ssl": {"ca": self.pki.ca_cert},
                    "sasl": {"mechanism": mechanism, "username": user,
                             "password": USERS[user][1]}}
            records = [(0, None, b"js-%s" % user.encode(), [])]
            meta = cio.kafkajs_produce(self.bootstrap, TOPIC, records, options=opts)
            self.assertEqual(meta[0]["errorCode"], 0)
            got = cio.kafkajs_fetch(self.bootstrap, [(TOPIC, 0)], options=opts)
            self.assertIn(b"js-%s" % user.encode(), {r.value for r in got[(TOPIC, 0)]})
            opts["sasl"]["password"] = "wrong"
            with self.assertRaises(AssertionError) as ctx:
                cio.kafkajs_produce(self.bootstrap, TOPIC, records, options=opts)
            self.assertIn("SASL", str(ctx.exception))

    def test_kcat(self):
        for user in ("carol", "bob"):
            mech, pw = USERS[user]
            args = ["-X", "security.protocol=SASL_SSL",
                    "-X", "ssl.ca.location=%s" % self.pki.ca_cert, "-X", "sasl.mechanisms=%s" % mech, "-X", "sasl.username=%s" % user]
            records = [(b"k", b"kcat-%s" % user.encode())]
            cio.kcat_produce(self.bootstrap, TOPIC, 0, records, [],
                             extra_args=args + ["-X", "sasl.password=%s" % pw])
            got = cio.kcat_consume(self.bootstrap, TOPIC,
                                   extra_args=args + ["-X", "sasl.password=%s" % pw])
            self.assertIn(b"kcat-%s" % user.encode(), {r.value for r in got[(TOPIC, 0)]})
            bad = subprocess.run([cio.kcat_path(), "-b", self.bootstrap, "-L", "-m", "5"] + args
                                 + ["-X", "sasl.password=wrong"],
                                 capture_output=True, text=True, timeout=60)
            self.assertNotEqual(bad.returncode, 0)
            self.assertIn("Authentication failed", bad.stderr + bad.stdout)

    def test_sasl_gate_applies_over_tls(self):
        ctx = ssl.create_default_context(cafile=self.pki.ca_cert)
        mark = self.broker.log_mark()
        with socket.create_connection((self.host, self.port), timeout=30) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(kw.metadata_request(1, 1, [TOPIC]))
                s.settimeout(30)
                self.assertEqual(s.recv(4), b"")  # closed without an answer
        self.broker.wait_for_log(r"API key 3 before SASL authentication", since=mark)


if __name__ == "__main__":
    unittest.main()
