#!/usr/bin/python3
"""TLS on an SSL listener (server authentication only), next to a PLAINTEXT one.

Certificates are made at test time (tls_certs.Pki: a CA, a server certificate for localhost and
127.0.0.1, an untrusted CA).
- kcat, confluent_kafka, kafka-python and kafkajs produce and read back over SSL, verifying the
  broker's certificate against the CA (and the host name, where the client does);
- a client trusting another CA fails the handshake cleanly (the broker logs it and keeps
  serving);
- a large fetch over TLS returns the records byte for byte as produced over PLAINTEXT (the
  read-and-encrypt path for file ranges; the broker logs that kernel TLS is not in use here and
  sends no byte with sendfile() on the TLS connection);
- plaintext Kafka bytes, random bytes and a truncated ClientHello on the TLS port close that
  connection only; the broker keeps serving both listeners; a stalled handshake is cut after the
  handshake timeout; failures are counted in kaffa_network_tls_handshake_failures_total;
- 300 pipelined requests in one write (beyond the in-flight limit) are answered in order;
- an encrypted key with ssl.key.password works; a wrong password, a missing keystore file, a key
  that does not match the certificate, a JKS keystore type and a missing keystore all refuse to
  start with one line naming the setting.
"""

import os
import random
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker, run_kaffa  # noqa: E402
import client_io as cio  # noqa: E402
import kafka_wire as kw  # noqa: E402
from tls_certs import Pki, PkiTestCase, stop_broker_and_remove  # noqa: E402

TOPIC = "tls-t"
BIG_TOPIC = "tls-big"
DEADLINE_S = 30.0


def listener_address(broker, name):
    m = broker.wait_for_log(r"kaffa ready listener=%s://([^\s]+):(\d+)" % name)
    return "%s:%s" % (m.group(1), m.group(2))


def tls_listener_overrides(keystore, extra=None):
    o = {"listeners": "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
         "ssl.keystore.type": "PEM", "ssl.keystore.location": keystore}
    o.update(extra or {})
    return o


def read_until_closed(sock, deadline_s=DEADLINE_S):
    """Reads until EOF or reset; True if the peer closed within the deadline."""
    sock.settimeout(deadline_s)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    except socket.timeout:
        return False
    return True


def client_hello():
    """The bytes of a real TLS ClientHello (Python's ssl module through memory BIOs)."""
    ctx = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:  # waits for the ServerHello: the ClientHello is out
        pass
    return outgoing.read()


class TlsClientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kaffa-tls-")
        cls.pki = Pki(cls.tmp)
        cls.broker = KaffaBroker(tls_listener_overrides(cls.pki.server())).start()
        cls.plain = listener_address(cls.broker, "PLAINTEXT")
        cls.tls = listener_address(cls.broker, "SSL")
        cls.tls_port = int(cls.tls.rsplit(":", 1)[1])
        for topic, parts in ((TOPIC, 1), (BIG_TOPIC, 1)):
            with kw.connect(cls.broker) as conn:
                conn.send(kw.create_topics_v0(1, [(topic, parts, 1)]))
                conn.read_response()

    @classmethod
    def tearDownClass(cls):
        stop_broker_and_remove(cls.broker, cls.tmp)

    def rdkafka_conf(self, ca=None):
        return {"security.protocol": "SSL", "ssl.ca.location": ca or self.pki.ca_cert}

    def test_confluent_kafka(self):
        records = [(0, b"c%d" % i, b"confluent-tls-%d" % i, [("h", b"v")]) for i in range(20)]
        cio.confluent_produce(self.tls, TOPIC, records, extra=self.rdkafka_conf())
        got = cio.confluent_consume(self.tls, [(TOPIC, 0)], extra=self.rdkafka_conf())
        pairs = {(r.key, r.value) for r in got[(TOPIC, 0)]}
        self.assertTrue({(k, v) for _, k, v, _ in records} <= pairs)

    def test_kafka_python(self):
        conf = {"security_protocol": "SSL", "ssl_cafile": self.pki.ca_cert,
                "ssl_check_hostname": True}
        records = [(0, b"kp%d" % i, b"kafka-python-tls-%d" % i, []) for i in range(10)]
        cio.kafka_python_produce(self.tls, TOPIC, records, extra=conf)
        got = cio.kafka_python_consume(self.tls, [(TOPIC, 0)], extra=conf)
        values = {r.value for r in got[(TOPIC, 0)]}
        self.assertTrue({v for _, _, v, _ in records} <= values)

    def test_kafkajs(self):
        opts = {"ssl": {"ca": self.pki.ca_cert}}
        records = [(0, None, b"kafkajs-tls-%d" % i, []) for i in range(5)]
        meta = cio.kafkajs_produce(self.tls, TOPIC, records, options=opts)
        self.assertEqual(meta[0]["errorCode"], 0)
        got = cio.kafkajs_fetch(self.tls, [(TOPIC, 0)], options=opts)
        values = {r.value for r in got[(TOPIC, 0)]}
        self.assertTrue({v for _, _, v, _ in records} <= values)
        with self.assertRaises(AssertionError):
            cio.kafkajs_produce(self.tls, TOPIC, records,
                                options={"ssl": {"ca": self.pki.untrusted_ca_cert}})

    def test_kcat(self):
        args = ["-X", "security.protocol=SSL", "-X", "ssl.ca.location=%s" % self.pki.ca_cert]
        records = [(b"k%d" % i, b"kcat-tls-%d" % i) for i in range(10)]
        cio.kcat_produce(self.tls, TOPIC, 0, records, [], extra_args=args)
        got = cio.kcat_consume(self.tls, TOPIC, extra_args=args)
        pairs = {(r.key, r.value) for r in got[(TOPIC, 0)]}
        self.assertTrue(set(records) <= pairs)
        # Metadata over TLS advertises the TLS listener's own address.
        md = subprocess.run([cio.kcat_path(), "-b", self.tls, "-L", "-t", TOPIC] + args,
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(md.returncode, 0, md.stderr)
        self.assertIn(":%d" % self.tls_port, md.stdout)

    def test_untrusted_server_certificate_fails_cleanly(self):
        mark = self.broker.log_mark()
        bad = subprocess.run([cio.kcat_path(), "-b", self.tls, "-L", "-m", "5",
                              "-X", "security.protocol=SSL",
                              "-X", "ssl.ca.location=%s" % self.pki.untrusted_ca_cert],
                             capture_output=True, text=True, timeout=60)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("certificate verify failed", bad.stderr)
        self.broker.wait_for_log(r"TLS handshake failed: .*unknown ca", since=mark)
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient
        admin = AdminClient(dict(self.rdkafka_conf(self.pki.untrusted_ca_cert),
                                 **{"bootstrap.servers": self.tls}))
        with self.assertRaises(KafkaException):
            admin.list_topics(timeout=5)
        self.assertTrue(self.broker.alive())

    def test_large_fetch_is_byte_identical(self):
        rng = random.Random(7)
        records = [(0, b"big-%d" % i, rng.randbytes(300 * 1024), []) for i in range(24)]
        cio.confluent_produce(self.plain, BIG_TOPIC, records,
                              extra={"message.max.bytes": 1000000})
        before = self.broker.metric("kaffa_network_sendfile_bytes_total")
        conf = dict(self.rdkafka_conf(), **{"fetch.max.bytes": 8 * 1024 * 1024,
                                            "max.partition.fetch.bytes": 8 * 1024 * 1024})
        got = cio.confluent_consume(self.tls, [(BIG_TOPIC, 0)], extra=conf)
        self.assertEqual([(r.key, r.value) for r in got[(BIG_TOPIC, 0)]],
                         [(k, v) for _, k, v, _ in records])
        kp = cio.kafka_python_consume(self.tls, [(BIG_TOPIC, 0)],
                                      extra={"security_protocol": "SSL",
                                             "ssl_cafile": self.pki.ca_cert})
        self.assertEqual([r.value for r in kp[(BIG_TOPIC, 0)]], [v for _, _, v, _ in records])
        # No kernel TLS on this machine: file ranges were read and encrypted, not sendfile()d.
        self.broker.wait_for_log(r"kernel TLS offload not available")
        self.assertEqual(self.broker.metric("kaffa_network_sendfile_bytes_total"), before)
        # The same fetch over PLAINTEXT stays zero-copy.
        cio.confluent_consume(self.plain, [(BIG_TOPIC, 0)])
        self.assertGreater(self.broker.metric("kaffa_network_sendfile_bytes_total"),
                           before + 24 * 300 * 1024)

    def assert_still_serving(self):
        self.assertTrue(self.broker.alive())
        with kw.connect(self.broker) as conn:
            conn.send(kw.api_versions_v0(5))
            conn.read_response()
        ctx = ssl.create_default_context(cafile=self.pki.ca_cert)
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=DEADLINE_S) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(kw.api_versions_v0(6))
                head = s.recv(8)
                self.assertEqual(len(head), 8)
                self.assertEqual(int.from_bytes(head[4:8], "big"), 6)  # correlation id

    def test_plaintext_and_garbage_on_tls_port_close_that_connection(self):
        for payload in (kw.api_versions_v0(1), random.Random(3).randbytes(4096),
                        b"\x16\x03\x01\xff\xff" + b"\x00" * 100):
            mark = self.broker.log_mark()
            with socket.create_connection(("127.0.0.1", self.tls_port), timeout=DEADLINE_S) as s:
                s.sendall(payload)
                self.assertTrue(read_until_closed(s), payload[:16])
            self.broker.wait_for_log(r"TLS handshake failed", since=mark)
        self.assert_still_serving()

    def test_truncated_client_hello_closes_that_connection(self):
        hello = client_hello()
        self.assertGreater(len(hello), 40)
        mark = self.broker.log_mark()
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=DEADLINE_S) as s:
            s.sendall(hello[:len(hello) // 2])
            s.shutdown(socket.SHUT_WR)
            self.assertTrue(read_until_closed(s))
        self.broker.wait_for_log(r"TLS handshake failed", since=mark)
        self.assert_still_serving()

    def test_stalled_handshake_times_out(self):
        # Half a ClientHello and then nothing: the broker gives up after its handshake timeout
        # (10 s) and closes the connection.
        hello = client_hello()
        mark = self.broker.log_mark()
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=DEADLINE_S) as s:
            s.sendall(hello[:len(hello) // 2])
            self.assertTrue(read_until_closed(s))
        self.broker.wait_for_log(r"TLS handshake timed out", since=mark)

    def test_pipelined_requests_answered_in_order(self):
        # More requests than the per-connection in-flight limit in one write: back-pressure and
        # ordering over TLS as on plaintext.
        ctx = ssl.create_default_context(cafile=self.pki.ca_cert)
        n = 300
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=DEADLINE_S) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"".join(kw.api_versions_v0(1000 + i) for i in range(n)))
                data = b""
                got = []
                while len(got) < n:
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, "closed after %d responses" % len(got))
                    data += chunk
                    while len(data) >= 4 and len(data) >= 4 + int.from_bytes(data[:4], "big"):
                        size = int.from_bytes(data[:4], "big")
                        got.append(int.from_bytes(data[4:8], "big"))
                        data = data[4 + size:]
                self.assertEqual(got, [1000 + i for i in range(n)])

    def test_handshake_failures_are_counted(self):
        before = self.broker.metric("kaffa_network_tls_handshake_failures_total")
        with socket.create_connection(("127.0.0.1", self.tls_port), timeout=DEADLINE_S) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            read_until_closed(s)
        deadline = time.monotonic() + DEADLINE_S
        while self.broker.metric("kaffa_network_tls_handshake_failures_total") <= before:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)


class TlsStartupTest(PkiTestCase):
    def serve(self, overrides):
        args = ["serve", "--override", "admin.listeners=",
                "--override", "log.dirs=%s" % os.path.join(self.tmp, "data")]
        for k, v in overrides.items():
            args += ["--override", "%s=%s" % (k, v)]
        return run_kaffa(args, timeout=60)

    def assert_refused(self, overrides, setting, why):
        r = self.serve(overrides)
        self.assertEqual(r.returncode, 2, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if "configuration error" in ln]
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(setting, lines[0])
        self.assertRegex(lines[0], why)

    def test_encrypted_key_with_password(self):
        keystore = self.pki.server("enc", password="key-secret")
        with KaffaBroker(tls_listener_overrides(keystore, {"ssl.key.password": "key-secret"})) \
                as broker:
            tls = listener_address(broker, "SSL")
            host, port = tls.rsplit(":", 1)
            ctx = ssl.create_default_context(cafile=self.pki.ca_cert)
            with socket.create_connection((host, int(port)), timeout=DEADLINE_S) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    self.assertIn((("commonName", "localhost"),), s.getpeercert()["subject"])
        self.assert_refused(tls_listener_overrides(keystore, {"ssl.key.password": "wrong"}),
                            "ssl.key.password", "decrypt")
        self.assert_refused(tls_listener_overrides(keystore), "ssl.key.password", "decrypt")

    def test_bad_keystores_refuse_to_start(self):
        good = self.pki.server("good")
        self.assert_refused(tls_listener_overrides(os.path.join(self.tmp, "missing.pem")),
                            "ssl.keystore.location", "cannot read")
        empty = os.path.join(self.tmp, "empty.pem")
        with open(empty, "w") as f:
            f.write("not a pem file\n")
        self.assert_refused(tls_listener_overrides(empty), "ssl.keystore.location", "key")
        # A key that does not belong to the certificate.
        mismatched = os.path.join(self.tmp, "mismatched.pem")
        with open(mismatched, "w") as out:
            for part in (self.pki.path("ca.key"), self.pki.path("good.pem")):
                with open(part) as f:
                    out.write(f.read())
        self.assert_refused(tls_listener_overrides(mismatched), "ssl.keystore.location",
                            "does not match")
        self.assert_refused(tls_listener_overrides(good, {"ssl.keystore.type": "JKS"}),
                            "ssl.keystore.type", "JKS.*not supported.*PEM")
        self.assert_refused(tls_listener_overrides(good, {"ssl.keystore.type": "PKCS12"}),
                            "ssl.keystore.type", "PKCS12.*not supported")
        self.assert_refused({"listeners": "SSL://127.0.0.1:0"}, "ssl.keystore.location",
                            "needs a key")
        self.assert_refused(tls_listener_overrides(good, {"ssl.client.auth": "maybe"}),
                            "ssl.client.auth", "none, requested or required")
        self.assert_refused(tls_listener_overrides(good, {"ssl.enabled.protocols": "SSLv3"}),
                            "ssl.enabled.protocols", "unknown protocol")
        self.assert_refused(tls_listener_overrides(good, {"ssl.cipher.suites": "NOPE"}),
                            "ssl.cipher.suites", "unknown cipher suite")
        self.assert_refused(tls_listener_overrides(good, {"ssl.nonsense": "1"}),
                            "ssl.nonsense", "unknown setting")
        self.assert_refused(
            tls_listener_overrides(good, {"ssl.endpoint.identification.algorithm": "http"}),
            "ssl.endpoint.identification.algorithm", "not https")
        # A per-listener setting wins over the broker-wide one.
        with KaffaBroker(tls_listener_overrides(
                os.path.join(self.tmp, "missing.pem"),
                {"listener.name.ssl.ssl.keystore.location": good})) as broker:
            listener_address(broker, "SSL")

    def test_pem_in_config_and_protocol_settings(self):
        self.pki.server("inline")
        with open(self.pki.path("inline.key")) as f:
            key = f.read()
        with open(self.pki.path("inline.pem")) as f:
            chain = f.read()
        overrides = {"listeners": "SSL://127.0.0.1:0", "ssl.keystore.type": "PEM",
                     "ssl.keystore.key": key, "ssl.keystore.certificate.chain": chain,
                     "ssl.enabled.protocols": "TLSv1.2",
                     "ssl.cipher.suites": "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"}
        with KaffaBroker(overrides) as broker:
            host, port = listener_address(broker, "SSL").rsplit(":", 1)
            ctx = ssl.create_default_context(cafile=self.pki.ca_cert)
            with socket.create_connection((host, int(port)), timeout=DEADLINE_S) as raw:
                with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    self.assertEqual(s.version(), "TLSv1.2")
                    self.assertEqual(s.cipher()[0], "ECDHE-ECDSA-AES128-GCM-SHA256")


if __name__ == "__main__":
    unittest.main()
