#!/usr/bin/python3
"""Replication over SASL: followers log in to their leaders' SASL inter-broker listener.

- SASL_SSL with SCRAM-SHA-512 (sasl.mechanism.inter.broker.protocol), each broker's login in
  listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config: once the brokers' SCRAM user is made
  through one broker (AlterUserScramCredentials, kept in etcd for all), a topic with three
  replicas gets a full ISR and records produced with acks=all are identical in every replica's
  log files.
- SASL_PLAINTEXT with PLAIN: a broker whose own password is wrong logs its refused login and
  stays out of the ISR of the partition it follows, while the others replicate.
- A broker whose inter-broker mechanism is not enabled, or that has no login for it, refuses to
  start, naming the setting.
"""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import client_io as cio  # noqa: E402
import cluster_checks as cc  # noqa: E402
from cluster_harness import ClusterBroker, KaffaCluster, free_port  # noqa: E402
from test_sasl_scram import Endpoint, alter, salted  # noqa: E402
from tls_certs import PkiTestCase  # noqa: E402

SHA512 = 2
SCRAM_JAAS = ('org.apache.kafka.common.security.scram.ScramLoginModule required '
              'username="kaffa-broker" password="%s";')
PLAIN_JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
              'username="kaffa-broker" password="%s" user_kaffa-broker="broker-secret";')


def sasl_cluster(protocol, settings, per_broker_extra=None):
    """Three brokers: PLAINTEXT for clients and the harness, `protocol` (SASL_SSL or
    SASL_PLAINTEXT) named by inter.broker.listener.name."""
    per_broker, plain_ports = {}, {}
    for i in (1, 2, 3):
        plain_ports[i] = free_port()
        per_broker[i] = {"listeners": "PLAINTEXT://127.0.0.1:%d,%s://127.0.0.1:%d" % (
            plain_ports[i], protocol, free_port())}
        per_broker[i].update((per_broker_extra or {}).get(i, {}))
    overrides = {"inter.broker.listener.name": protocol}
    overrides.update(settings)
    cluster = KaffaCluster(3, overrides=overrides, per_broker=per_broker)
    for b in cluster.brokers:
        b.fixed_port = plain_ports[b.node_id]  # the cluster's bootstrap (PLAINTEXT)
    return cluster


class ClusterSaslTest(PkiTestCase):
    def test_scram_over_tls_between_brokers(self):
        keystore = self.pki.server("brokers", client_auth=True)
        settings = {
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": SCRAM_JAAS % "broker-secret",
            "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
            "listener.name.sasl_ssl.ssl.keystore.location": keystore,
            "listener.name.sasl_ssl.ssl.truststore.type": "PEM",
            "listener.name.sasl_ssl.ssl.truststore.location": self.pki.ca_cert}
        with sasl_cluster("SASL_SSL", settings) as c:
            salt = os.urandom(16)
            b1 = c.broker(1)
            self.assertEqual(alter(Endpoint(b1.host, b1.port),
                                   [("kaffa-broker", SHA512, 4096, salt,
                                     salted(SHA512, "broker-secret", salt, 4096))]),
                             {"kaffa-broker": (0, None)})
            c.create_topic("scram-t", 3, 3)
            records = [(p, None, b"v%d" % i, []) for i in range(200) for p in range(3)]
            cio.confluent_produce(c.bootstrap, "scram-t", records, extra={"acks": "all"})
            c.wait_full_isr("scram-t")
            for p in range(3):
                batches = cc.wait_replicas_identical(c, "scram-t", p)
                self.assertEqual(sum(len(b.records) for b in batches), 200)

    def test_a_wrong_password_keeps_a_follower_out(self):
        settings = {"sasl.enabled.mechanisms": "PLAIN",
                    "sasl.mechanism.inter.broker.protocol": "PLAIN",
                    "listener.name.sasl_plaintext.plain.sasl.jaas.config":
                        PLAIN_JAAS % "broker-secret"}
        wrong = {3: {"listener.name.sasl_plaintext.plain.sasl.jaas.config": PLAIN_JAAS % "nope"}}
        with sasl_cluster("SASL_PLAINTEXT", settings, wrong) as c:
            c.create_topic("plain-t", 1, 3, assignment=[[1, 2, 3]])
            cio.confluent_produce(c.bootstrap, "plain-t", [(0, None, b"v", [])] * 20)
            c.broker(3).wait_for_log(r"replica fetcher: leader 1: SASL PLAIN login to "
                                     r"127\.0\.0\.1:\d+ as kaffa-broker failed")
            c.wait_isr("plain-t", 0, lambda p: sorted(p["isr"]) == [1, 2],
                       "the ISR to be brokers 1 and 2 (broker 3 cannot log in)")
            cc.wait_replicas_identical(c, "plain-t", 0, replicas=[1, 2])

            # Start-up checks, with a fourth node id against the same etcd.
            base = dict(c.broker(1)._overrides)
            base.update({"node.id": "4", "listeners": "PLAINTEXT://127.0.0.1:0,"
                         "SASL_PLAINTEXT://127.0.0.1:0"})
            for change, message in (
                    ({"sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-256"},
                     "sasl.mechanism.inter.broker.protocol SCRAM-SHA-256 is not in "
                     "sasl.enabled.mechanisms"),
                    ({"listener.name.sasl_plaintext.plain.sasl.jaas.config":
                      "org.apache.kafka.common.security.plain.PlainLoginModule required "
                      "user_kaffa-broker=\"broker-secret\";"},
                     "listener.name.sasl_plaintext.plain.sasl.jaas.config")):
                o = dict(base)
                o.update(change)
                b = ClusterBroker(4, o)
                self.addCleanup(b.cleanup)
                p = subprocess.run(b.command(), stdin=subprocess.DEVNULL, capture_output=True,
                                   text=True, timeout=120)
                self.assertNotEqual(p.returncode, 0, p.stderr[-2000:])
                self.assertIn(message, p.stderr)
                self.assertNotIn("kaffa ready", p.stderr)


if __name__ == "__main__":
    unittest.main()
