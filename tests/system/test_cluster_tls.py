#!/usr/bin/python3
"""Replication over TLS: followers reach their leaders' SSL inter-broker listener.

Three brokers, each with a PLAINTEXT listener (clients and the test harness) and an SSL one named
by inter.broker.listener.name, with ssl.client.auth=required and its own certificate (CN=broker<N>)
signed by the test CA; a principal mapping rule makes it User:broker<N>.

- A topic with three replicas: records produced with acks=all are in every replica's log files,
  byte for byte, with the ISR full; each broker logged the other two brokers' certificates as
  TLS clients of its SSL listener (the followers came over TLS, authenticated by certificate).
- With an ACL authorizer, followers authenticated by certificate (User:broker<N>, not super
  users) are refused (CLUSTER_AUTHORIZATION_FAILED) until an ACL grants them CLUSTER_ACTION on
  the cluster; then every replica catches up.
- Hostname verification (ssl.endpoint.identification.algorithm=https, Kafka's default): in a
  second cluster the leader's certificate names only localhost while it is registered at
  127.0.0.1, so its follower refuses the handshake ("IP address mismatch"), logs it, and never
  joins the ISR; the follower with the check turned off ("") replicates.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import acl_wire as aw  # noqa: E402
import client_io as cio  # noqa: E402
import cluster_checks as cc  # noqa: E402
from cluster_harness import KaffaCluster, free_port  # noqa: E402
from tls_certs import PkiTestCase  # noqa: E402

RULES = "RULE:^O=Acme,OU=Test,CN=([^,]+)$/$1/,DEFAULT"


def tls_cluster(pki, n, sans=None, identification=None, extra=None):
    """n brokers: PLAINTEXT for clients and the harness, SSL for replication. `sans` and
    `identification` map node ids to their certificate's names and their
    ssl.endpoint.identification.algorithm."""
    per_broker, plain_ports = {}, {}
    for i in range(1, n + 1):
        plain_ports[i] = free_port()
        keystore = pki.server("broker%d" % i, serial=3000 + i, cn="broker%d" % i,
                              client_auth=True,
                              sans=(sans or {}).get(i, "DNS:localhost,IP:127.0.0.1"))
        per_broker[i] = {
            "listeners": "PLAINTEXT://127.0.0.1:%d,SSL://127.0.0.1:%d" % (plain_ports[i],
                                                                          free_port()),
            "listener.name.ssl.ssl.keystore.type": "PEM",
            "listener.name.ssl.ssl.keystore.location": keystore}
        if i in (identification or {}):
            per_broker[i]["listener.name.ssl.ssl.endpoint.identification.algorithm"] = \
                identification[i]
    cluster = KaffaCluster(n, overrides={
        "inter.broker.listener.name": "SSL",
        "listener.name.ssl.ssl.truststore.type": "PEM",
        "listener.name.ssl.ssl.truststore.location": pki.ca_cert,
        "listener.name.ssl.ssl.client.auth": "required",
        "listener.name.ssl.ssl.principal.mapping.rules": RULES,
        "offsets.topic.replication.factor": str(n), **(extra or {})}, per_broker=per_broker)
    for b in cluster.brokers:
        b.fixed_port = plain_ports[b.node_id]  # the cluster's bootstrap (PLAINTEXT)
    return cluster


class ClusterTlsTest(PkiTestCase):
    def test_followers_replicate_over_tls_with_client_certificates(self):
        with tls_cluster(self.pki, 3) as c:
            c.create_topic("tls-t", 3, 3)
            records = [(p, b"k%d" % i, b"v%d" % i, []) for i in range(300) for p in range(3)]
            cio.confluent_produce(c.bootstrap, "tls-t", records, extra={"acks": "all"})
            c.wait_full_isr("tls-t")
            for p in range(3):
                batches = cc.wait_replicas_identical(c, "tls-t", p)
                self.assertEqual(sum(len(b.records) for b in batches), 300)
            for b in c.brokers:
                for other in c.brokers:
                    if other is b:
                        continue
                    b.wait_for_log(r"on listener SSL: TLS client certificate 'O=Acme,OU=Test,"
                                   r"CN=broker%d', principal User:broker%d" % (other.node_id,
                                                                           other.node_id))

    def test_followers_may_be_granted_cluster_action_instead_of_being_super_users(self):
        authorizer = {"authorizer.class.name":
                      "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                      "super.users": "User:ANONYMOUS"}  # the PLAINTEXT listener: test and admin
        with tls_cluster(self.pki, 3, extra=authorizer) as c:
            c.create_topic("acl-t", 1, 3, assignment=[[1, 2, 3]])
            cio.confluent_produce(c.bootstrap, "acl-t", [(0, None, b"v", [])] * 30)
            c.wait_isr("acl-t", 0, lambda p: sorted(p["isr"]) == [1],
                       "the ISR to shrink to the leader (its followers are not authorized)")
            leader = c.broker(1)
            with aw.connect(leader) as conn:
                grants = [aw.acl(aw.CLUSTER, aw.CLUSTER_NAME, aw.CLUSTER_ACTION, "User:broker%d" % i)
                          for i in (1, 2, 3)]
                self.assertEqual(conn.create_acls(grants), [(0, None)] * 3)
            c.wait_isr("acl-t", 0, lambda p: sorted(p["isr"]) == [1, 2, 3],
                       "the followers to rejoin the ISR once granted CLUSTER_ACTION")
            batches = cc.wait_replicas_identical(c, "acl-t", 0)
            self.assertEqual(sum(len(b.records) for b in batches), 30)

    def test_a_leader_certificate_without_the_registered_host_is_refused(self):
        # Broker 2's certificate names localhost only; it is registered at 127.0.0.1. Broker 1
        # checks the name (the default), broker 3 does not.
        with tls_cluster(self.pki, 3, sans={2: "DNS:localhost"},
                         identification={3: ""}) as c:
            c.create_topic("names", 1, 3, assignment=[[2, 1, 3]])
            cio.confluent_produce(c.bootstrap, "names", [(0, None, b"v", [])] * 10)
            c.broker(1).wait_for_log(r"replica fetcher: leader 2: TLS handshake with "
                                     r"127\.0\.0\.1:\d+ failed: certificate verify failed: "
                                     r"IP address mismatch")
            c.wait_isr("names", 0, lambda p: sorted(p["isr"]) == [2, 3],
                       "the ISR to be brokers 2 and 3 (broker 1 refuses broker 2's certificate)")
            cc.wait_replicas_identical(c, "names", 0, replicas=[2, 3])
            self.assertEqual(sorted(c.partitions("names")[0]["isr"]), [2, 3])


if __name__ == "__main__":
    unittest.main()
