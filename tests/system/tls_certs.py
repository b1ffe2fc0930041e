"""Test certificates for TLS listeners, made at test time with the `openssl` command line.

Pki(dir) creates, in a directory the caller owns:
- a CA ("Kaffa Test CA") and an untrusted one ("Untrusted CA");
- server(name, serial): a key + certificate for localhost / 127.0.0.1 signed by the CA, written
  as one PEM keystore file (key first, then the certificate), Kafka's PEM keystore layout (other
  names with `sans`; `client_auth` also allows it as a client certificate, as a broker's own
  certificate is when it connects to another broker);
- client(cn, ca=...): a client certificate "CN=<cn>,OU=Test,O=Acme" signed by the CA (or the
  untrusted CA), as separate key and certificate files (what clients take).
EC P-256 keys: fast to make, understood by every client under test.
"""

import os
import shutil
import subprocess
import tempfile
import unittest

SUBJECT_OU, SUBJECT_O = "Test", "Acme"


def _openssl(*args, stdin=None):
    r = subprocess.run(["openssl"] + list(args), input=stdin, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("openssl %s failed:\n%s" % (" ".join(args), r.stderr.decode()))
    return r.stdout


class Pki:
    def __init__(self, directory):
        self.dir = directory
        self.ca_cert, self.ca_key = self._ca("ca", "Kaffa Test CA")
        self.untrusted_ca_cert, self.untrusted_ca_key = self._ca("untrusted-ca", "Untrusted CA")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _key(self, name):
        key = self.path(name + ".key")
        _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-out", key)
        return key

    def _ca(self, name, cn):
        key = self._key(name)
        cert = self.path(name + ".pem")
        _openssl("req", "-x509", "-new", "-key", key, "-out", cert, "-days", "2",
                 "-subj", "/CN=%s" % cn, "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        return cert, key

    def _sign(self, name, subject, serial, extensions, ca_cert, ca_key):
        key = self._key(name)
        csr = self.path(name + ".csr")
        cert = self.path(name + ".pem")
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            f.write("[v3]\nbasicConstraints=CA:FALSE\n%s\n" % extensions)
        _openssl("req", "-new", "-key", key, "-out", csr, "-subj", subject)
        _openssl("x509", "-req", "-in", csr, "-CA", ca_cert, "-CAkey", ca_key, "-out", cert,
                 "-days", "2", "-set_serial", str(serial), "-extfile", ext, "-extensions", "v3")
        return key, cert

    def server(self, name="server", serial=1000, cn="localhost", password=None,
               sans="DNS:localhost,IP:127.0.0.1", client_auth=False):
        """-> path of a PEM keystore (private key + certificate). With `password` the key is
        PKCS#8-encrypted (ssl.key.password)."""
        usage = "serverAuth,clientAuth" if client_auth else "serverAuth"
        key, cert = self._sign(name, "/CN=%s/OU=%s/O=%s" % (cn, SUBJECT_OU, SUBJECT_O), serial,
                               "subjectAltName=%s\nextendedKeyUsage=%s" % (sans, usage),
                               self.ca_cert, self.ca_key)
        if password is not None:
            enc = self.path(name + ".enc.key")
            _openssl("pkcs8", "-topk8", "-in", key, "-out", enc, "-v2", "aes-256-cbc",
                     "-passout", "pass:%s" % password)
            key = enc
        keystore = self.path(name + ".keystore.pem")
        with open(keystore, "w") as out:
            for part in (key, cert):
                with open(part) as f:
                    out.write(f.read())
        return keystore

    def client(self, cn, serial=2000, trusted=True):
        """-> (certificate path, key path) of a client certificate CN=<cn>,OU=Test,O=Acme."""
        ca = (self.ca_cert, self.ca_key) if trusted else (self.untrusted_ca_cert,
                                                          self.untrusted_ca_key)
        name = "client-%s-%s" % (cn, "trusted" if trusted else "untrusted")
        key, cert = self._sign(name, "/O=%s/OU=%s/CN=%s" % (SUBJECT_O, SUBJECT_OU, cn), serial,
                               "extendedKeyUsage=clientAuth", *ca)
        return cert, key

    @staticmethod
    def subject(cn):
        """The RFC 2253 subject Kaffa sees for client(cn)."""
        return "CN=%s,OU=%s,O=%s" % (cn, SUBJECT_OU, SUBJECT_O)


class PkiTestCase(unittest.TestCase):
    """A test class with `pki` in a temporary directory `tmp` of its own, removed at the end."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kaffa-%s-" % cls.__name__.lower())
        cls.pki = Pki(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)


def stop_broker_and_remove(broker, directory):
    """tearDownClass of the TLS tests: stops the broker (checking a clean exit), removes its data
    and the certificate directory."""
    try:
        broker.stop_and_check()
    finally:
        broker.cleanup()
        shutil.rmtree(directory, ignore_errors=True)


def rdkafka_ssl_conf(pki, cert=None):
    """librdkafka settings for SSL with the test CA, and a client certificate when given."""
    conf = {"security.protocol": "SSL", "ssl.ca.location": pki.ca_cert}
    if cert is not None:
        conf.update({"ssl.certificate.location": cert[0], "ssl.key.location": cert[1]})
    return conf
