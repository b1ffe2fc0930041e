#!/usr/bin/python3
"""Mutual TLS: client certificates, ssl.client.auth and ssl.principal.mapping.rules.

Listeners (all next to a PLAINTEXT one):
- SSL      ssl.client.auth=required, rules RULE:^CN=([^,]*),OU=Test,O=Acme$/$1/L,DEFAULT
- OPTIONAL ssl.client.auth=requested, rules DEFAULT
- STRICT   ssl.client.auth=required, rules RULE:^CN=admin,.*$/admin/ (no DEFAULT)

- confluent_kafka, kafka-python, kafkajs and kcat with a certificate signed by the CA produce and
  read back on SSL; the broker logs the connection's principal, the subject mapped by the rules
  (CN=Alice,... -> User:alice);
- without a certificate, or with one from an untrusted CA, the handshake fails cleanly on SSL
  (the broker logs why and keeps serving);
- on OPTIONAL a client without a certificate is served (anonymous) and one with a certificate
  gets the DEFAULT principal, the whole subject;
- on STRICT a certificate no rule applies to is refused after the handshake (logged).
"""

import os
import ssl
import socket
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import client_io as cio  # noqa: E402
import kafka_wire as kw  # noqa: E402
from tls_certs import Pki, rdkafka_ssl_conf, stop_broker_and_remove  # noqa: E402

TOPIC = "mtls-t"


class MutualTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kaffa-mtls-")
        cls.pki = Pki(cls.tmp)
        cls.alice = cls.pki.client("Alice")
        cls.bob = cls.pki.client("bob", serial=2001)
        cls.mallory = cls.pki.client("mallory", trusted=False)
        cls.broker = KaffaBroker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,OPTIONAL://127.0.0.1:0,"
                         "STRICT://127.0.0.1:0",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,OPTIONAL:SSL,"
                                              "STRICT:SSL",
            "ssl.keystore.type": "PEM", "ssl.keystore.location": cls.pki.server(),
            "ssl.truststore.type": "PEM", "ssl.truststore.location": cls.pki.ca_cert,
            "ssl.client.auth": "required",
            "ssl.principal.mapping.rules": "RULE:^CN=([^,]*),OU=Test,O=Acme$/$1/L,DEFAULT",
            "listener.name.optional.ssl.client.auth": "requested",
            "listener.name.optional.ssl.principal.mapping.rules": "DEFAULT",
            "listener.name.strict.ssl.principal.mapping.rules": "RULE:^CN=admin,.*$/admin/",
        }).start()
        cls.addr = {}
        for name in ("SSL", "OPTIONAL", "STRICT"):
            m = cls.broker.wait_for_log(r"kaffa ready listener=%s://([^\s]+):(\d+)" % name)
            cls.addr[name] = (m.group(1), int(m.group(2)))
        cls.bootstrap = "%s:%d" % cls.addr["SSL"]
        with kw.connect(cls.broker) as conn:
            assert conn.create_topics([(TOPIC, 1, 1)]) == {TOPIC: 0}

    @classmethod
    def tearDownClass(cls):
        stop_broker_and_remove(cls.broker, cls.tmp)

    def rdkafka_conf(self, cert=None):
        return rdkafka_ssl_conf(self.pki, cert)

    def rdkafka_can_connect(self, bootstrap, cert):
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient
        admin = AdminClient(dict(self.rdkafka_conf(cert), **{"bootstrap.servers": bootstrap}))
        try:
            admin.list_topics(timeout=5)
            return True
        except KafkaException:
            return False

    def python_tls(self, listener, cert=None):
        """A TLS connection with Python's ssl module; (socket, the broker's answer to
        ApiVersions or None when the connection was closed instead)."""
        ctx = ssl.create_default_context(cafile=self.pki.ca_cert)
        if cert is not None:
            ctx.load_cert_chain(cert[0], cert[1])
        raw = socket.create_connection(self.addr[listener], timeout=30)
        s = ctx.wrap_socket(raw, server_hostname="localhost")
        try:
            s.sendall(kw.api_versions_v0(9))
            head = s.recv(8)
        except (ssl.SSLError, ConnectionError):
            head = b""
        s.close()
        return head[4:8] if len(head) == 8 else None

    def test_confluent_kafka_with_certificate_and_principal(self):
        mark = self.broker.log_mark()
        records = [(0, None, b"mtls-%d" % i, []) for i in range(10)]
        cio.confluent_produce(self.bootstrap, TOPIC, records, extra=self.rdkafka_conf(self.alice))
        got = cio.confluent_consume(self.bootstrap, [(TOPIC, 0)],
                                    extra=self.rdkafka_conf(self.alice))
        self.assertTrue({r[2] for r in records} <= {r.value for r in got[(TOPIC, 0)]})
        self.broker.wait_for_log(
            r"on listener SSL: TLS client certificate 'CN=Alice,OU=Test,O=Acme', "
            r"principal User:alice$", since=mark)

    def test_kafka_python_kafkajs_kcat_with_certificate(self):
        conf = {"security_protocol": "SSL", "ssl_cafile": self.pki.ca_cert,
                "ssl_certfile": self.bob[0], "ssl_keyfile": self.bob[1]}
        cio.kafka_python_produce(self.bootstrap, TOPIC, [(0, None, b"kp-mtls", [])], extra=conf)
        got = cio.kafka_python_consume(self.bootstrap, [(TOPIC, 0)], extra=conf)
        self.assertIn(b"kp-mtls", {r.value for r in got[(TOPIC, 0)]})

        opts = {"ssl": {"ca": self.pki.ca_cert, "cert": self.bob[0], "key": self.bob[1]}}
        meta = cio.kafkajs_produce(self.bootstrap, TOPIC, [(0, None, b"js-mtls", [])],
                                   options=opts)
        self.assertEqual(meta[0]["errorCode"], 0)
        with self.assertRaises(AssertionError):  # no client certificate
            cio.kafkajs_produce(self.bootstrap, TOPIC, [(0, None, b"js-none", [])],
                                options={"ssl": {"ca": self.pki.ca_cert}})

        args = ["-X", "security.protocol=SSL", "-X", "ssl.ca.location=%s" % self.pki.ca_cert,
                "-X", "ssl.certificate.location=%s" % self.bob[0],
                "-X", "ssl.key.location=%s" % self.bob[1]]
        mark = self.broker.log_mark()
        cio.kcat_produce(self.bootstrap, TOPIC, 0, [(b"k", b"kcat-mtls")], [], extra_args=args)
        got = cio.kcat_consume(self.bootstrap, TOPIC, extra_args=args)
        self.assertIn(b"kcat-mtls", {r.value for r in got[(TOPIC, 0)]})
        self.broker.wait_for_log(r"principal User:bob$", since=mark)

    def test_missing_or_untrusted_client_certificate_fails_cleanly(self):
        for cert, why in ((None, r"did not return a certificate"),
                          (self.mallory, r"certificate verify failed|unknown ca")):
            mark = self.broker.log_mark()
            self.assertFalse(self.rdkafka_can_connect(self.bootstrap, cert))
            self.broker.wait_for_log(r"listener SSL: TLS handshake failed: .*(%s)" % why,
                                     since=mark)
            self.assertIsNone(self.python_tls("SSL", cert))
        bad = subprocess.run([cio.kcat_path(), "-b", self.bootstrap, "-L", "-m", "5", "-X",
                              "security.protocol=SSL", "-X",
                              "ssl.ca.location=%s" % self.pki.ca_cert],
                             capture_output=True, text=True, timeout=60)
        self.assertNotEqual(bad.returncode, 0)
        self.assertTrue(self.broker.alive())
        self.assertEqual(self.python_tls("SSL", self.alice), (9).to_bytes(4, "big"))

    def test_requested_client_auth(self):
        self.assertEqual(self.python_tls("OPTIONAL"), (9).to_bytes(4, "big"))
        mark = self.broker.log_mark()
        self.assertEqual(self.python_tls("OPTIONAL", self.alice), (9).to_bytes(4, "big"))
        self.broker.wait_for_log(r"on listener OPTIONAL: TLS client certificate "
                                 r"'CN=Alice,OU=Test,O=Acme', principal "
                                 r"User:CN=Alice,OU=Test,O=Acme$", since=mark)
        # A presented certificate must still be trusted.
        self.assertIsNone(self.python_tls("OPTIONAL", self.mallory))

    def test_no_mapping_rule_applies(self):
        mark = self.broker.log_mark()
        self.assertIsNone(self.python_tls("STRICT", self.alice))
        self.broker.wait_for_log(r"no ssl.principal.mapping.rules rule applies to the client "
                                 r"certificate subject 'CN=Alice,OU=Test,O=Acme'", since=mark)


if __name__ == "__main__":
    unittest.main()
