#!/usr/bin/python3
"""Certificate reload without a restart, Kafka's way: a dynamic broker config update of
listener.name.<l>.ssl.keystore.location (IncrementalAlterConfigs, raw protocol; AlterConfigs via
confluent_kafka's AdminClient).

- the keystore file replaced in place and the same path set again: new connections present the
  new certificate (serial and subject, read with Python's ssl module); a connection opened before
  keeps working with the old one;
- a path to a new file works the same way; validate_only checks without swapping;
- a bad file (no key, missing file, JKS type) is INVALID_REQUEST (a KRaft broker's code) naming
  the setting, and the current certificate stays;
- a TLS setting that is not reloadable (ssl.client.auth) and an unknown listener are
  INVALID_REQUEST "Cannot update these configs dynamically";
- the dynamic value outlives the process, as Kafka's dynamic broker configs do: after kill -9
  and after a clean restart the broker presents the certificate set dynamically, not the one of
  its static settings (`__kaffa_metadata/dynamic-broker-configs`, mode 0600); a damaged file
  stops start-up.
"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import kafka_wire as kw  # noqa: E402
from tls_certs import Pki, stop_broker_and_remove  # noqa: E402

INCREMENTAL_ALTER_CONFIGS = 44
BROKER_RESOURCE = 4
SET, DELETE = 0, 1
INVALID_REQUEST = 42
KEYSTORE = "listener.name.ssl.ssl.keystore.location"


def incremental_alter(ep, configs, validate_only=False, corr=11):
    """IncrementalAlterConfigs v0 on broker "0": configs [(name, op, value)] -> (error, message)."""
    body = kw.header_v1(INCREMENTAL_ALTER_CONFIGS, 0, corr)
    body += kw.array([(BROKER_RESOURCE, "0", configs)],
                     lambda r: kw.i8(r[0]) + kw.string(r[1]) + kw.array(
                         r[2], lambda c: kw.string(c[0]) + kw.i8(c[1]) + kw.string(c[2])))
    body += kw.i8(1 if validate_only else 0)
    with kw.connect(ep) as conn:
        conn.send(kw.frame(body))
        _, data = conn.read_response()
    r = kw.Reader(data)
    r.i32()
    (result,) = r.array(lambda r: (r.i16(), r.string(), r.i8(), r.string()))
    return result[0], result[1]


class TlsReloadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kaffa-tls-reload-")
        cls.pki = Pki(cls.tmp)
        cls.keystore = os.path.join(cls.tmp, "live.keystore.pem")
        shutil.copy(cls.pki.server("first", serial=1000, cn="localhost"), cls.keystore)
        cls.broker = KaffaBroker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
            "listener.name.ssl.ssl.keystore.type": "PEM",
            "listener.name.ssl.ssl.keystore.location": cls.keystore}).start()
        m = cls.broker.wait_for_log(r"kaffa ready listener=SSL://([^\s]+):(\d+)")
        cls.tls = (m.group(1), int(m.group(2)))

    @classmethod
    def tearDownClass(cls):
        stop_broker_and_remove(cls.broker, cls.tmp)

    def connect(self):
        ctx = ssl.create_default_context(cafile=self.pki.ca_cert)
        raw = socket.create_connection(self.tls, timeout=30)
        return ctx.wrap_socket(raw, server_hostname="localhost")

    def serial(self):
        with self.connect() as s:
            return int(s.getpeercert()["serialNumber"], 16)

    @staticmethod
    def api_versions_works(s, corr):
        s.sendall(kw.api_versions_v0(corr))
        head = b""
        while len(head) < 8:
            chunk = s.recv(8 - len(head))
            if not chunk:
                return False
            head += chunk
        size = int.from_bytes(head[:4], "big")
        left = size - 4
        while left > 0:
            left -= len(s.recv(min(left, 65536)))
        return int.from_bytes(head[4:8], "big") == corr

    def test_reload(self):
        # Ordered steps on one broker: each starts from the certificate the previous one left.
        self.assertEqual(self.serial(), 1000)
        old = self.connect()
        try:
            self.assertTrue(self.api_versions_works(old, 1))

            # Same path, file replaced in place.
            shutil.copy(self.pki.server("second", serial=1001, cn="localhost"), self.keystore)
            mark = self.broker.log_mark()
            self.assertEqual(incremental_alter(self.broker, [(KEYSTORE, SET, self.keystore)]),
                             (0, None))
            self.broker.wait_for_log(r"listener SSL: TLS context reloaded: .*serial 03E9",
                                     since=mark)
            self.assertEqual(self.serial(), 1001)
            self.assertTrue(self.api_versions_works(old, 2))  # still on the old session
            self.assertEqual(int(old.getpeercert()["serialNumber"], 16), 1000)

            # validate_only: checked, not swapped.
            third = self.pki.server("third", serial=1002, cn="localhost")
            self.assertEqual(incremental_alter(self.broker, [(KEYSTORE, SET, third)],
                                               validate_only=True), (0, None))
            self.assertEqual(self.serial(), 1001)

            # Bad keystores are refused and the current certificate stays.
            garbage = os.path.join(self.tmp, "garbage.pem")
            with open(garbage, "w") as f:
                f.write("-----BEGIN NOTHING-----\n")
            for configs, why in (
                    ([(KEYSTORE, SET, garbage)], "keystore.location"),
                    ([(KEYSTORE, SET, os.path.join(self.tmp, "missing"))], "cannot read"),
                    ([("listener.name.ssl.ssl.keystore.type", SET, "JKS")], "not supported")):
                error, message = incremental_alter(self.broker, configs)
                self.assertEqual(error, INVALID_REQUEST, message)
                self.assertIn(why, message)
            self.assertEqual(self.serial(), 1001)

            # Not reloadable, or not a TLS listener of this broker.
            for name in ("listener.name.ssl.ssl.client.auth", "ssl.keystore.location",
                         "listener.name.plaintext.ssl.keystore.location"):
                error, message = incremental_alter(self.broker, [(name, SET, "x")])
                self.assertEqual(error, INVALID_REQUEST, name)
                self.assertIn("Cannot update these configs dynamically", message)

            # A new path, through AlterConfigs (confluent_kafka's AdminClient).
            from confluent_kafka.admin import AdminClient, ConfigResource
            admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
            res = ConfigResource("broker", "0", set_config={KEYSTORE: third})
            admin.alter_configs([res])[res].result(timeout=30)
            self.assertEqual(self.serial(), 1002)
            self.assertTrue(self.api_versions_works(old, 3))
        finally:
            old.close()

        # Restarts keep the dynamic keystore (third, serial 1002), not the static one.
        stored = os.path.join(self.broker.log_dir, "__kaffa_metadata", "dynamic-broker-configs")
        self.assertEqual(os.stat(stored).st_mode & 0o777, 0o600)
        for crash in (True, False):
            if crash:
                self.broker.kill9()
            else:
                self.broker.stop()
            self.broker.restart()  # its log starts afresh
            m = self.broker.wait_for_log(r"kaffa ready listener=SSL://([^\s]+):(\d+)")
            TlsReloadTest.tls = (m.group(1), int(m.group(2)))
            self.assertEqual(self.serial(), 1002, "after %s" % ("kill -9" if crash else "stop"))
        self.broker.stop()
        with open(stored, "a") as f:
            f.write("junk\n")
        proc = subprocess.run(self.broker.command(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("dynamic-broker-configs is damaged", proc.stderr)
        os.remove(stored)
        self.broker.restart()


if __name__ == "__main__":
    unittest.main()
