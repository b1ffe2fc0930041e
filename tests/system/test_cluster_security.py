#!/usr/bin/python3
"""ACLs and SCRAM credentials in a cluster: one etcd, three brokers with an ACL authorizer, each
with a PLAINTEXT listener (replication; User:ANONYMOUS is a super user) and a SASL_PLAINTEXT one
(PLAIN for admin and alice, SCRAM-SHA-256 for users made at run time).

- A SCRAM user made through one broker (AlterUserScramCredentials) is listed by every broker's
  DescribeUserScramCredentials and authenticates against each broker alone; deleting a credential
  that no broker has gives RESOURCE_NOT_FOUND whichever broker is asked; deleted through another
  broker, the user no longer authenticates anywhere.
- An ACL created through one broker (CreateAcls) is listed by every broker's DescribeAcls and
  enforced by each: alice, refused on every partition before, then writes to three partitions led
  by three different brokers; deleted through a third broker, every broker refuses her again.
- A record damaged by hand in etcd (garbage in <prefix>/acls) is logged by every broker, which
  keeps enforcing the set it had; a change through a broker then fails (UNKNOWN_SERVER_ERROR)
  rather than overwrite it; a valid record written over it is taken by every broker.
- A restarted broker takes both from the metadata store before it is ready, and no broker keeps
  them in a file of its own.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import acl_wire as aw  # noqa: E402
from cluster_harness import KaffaCluster, free_port, wait_until  # noqa: E402
from test_sasl_scram import SHA256, Endpoint, alter, describe, salted  # noqa: E402

JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="admin" password="admin-secret" user_admin="admin-secret" '
        'user_alice="alice-secret";')
TOPIC = "sec-t"
RESOURCE_NOT_FOUND = 91
TOPIC_AUTHORIZATION_FAILED = 29
UNKNOWN_SERVER_ERROR = -1


class ClusterSecurityTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Fixed ports for both listeners, so that a restarted broker is found where it was.
        cls.sasl_ports = {i: free_port() for i in (1, 2, 3)}
        plain_ports = {i: free_port() for i in (1, 2, 3)}
        per_broker = {i: {"listeners": "PLAINTEXT://127.0.0.1:%d,SASL_PLAINTEXT://127.0.0.1:%d" % (
            plain_ports[i], cls.sasl_ports[i])} for i in (1, 2, 3)}
        cls.cluster = KaffaCluster(3, overrides={
            "inter.broker.listener.name": "PLAINTEXT",
            "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:ANONYMOUS;User:admin"}, per_broker=per_broker)
        for b in cls.cluster.brokers:
            b.fixed_port = plain_ports[b.node_id]  # the cluster's bootstrap (PLAINTEXT)
        cls.cluster.__enter__()
        cls.cluster.create_topic(TOPIC, 3, 3)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.__exit__(None, None, None)

    def plain(self, b):
        return Endpoint(b.host, b.port)

    def sasl(self, b):
        return Endpoint("127.0.0.1", self.sasl_ports[b.node_id])

    def scram_can_connect(self, b, user, password):
        """Whether `user` authenticates with SCRAM-SHA-256 to broker b, bootstrapped alone."""
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient
        admin = AdminClient({"bootstrap.servers": "127.0.0.1:%d" % self.sasl_ports[b.node_id],
                             "security.protocol": "SASL_PLAINTEXT",
                             "sasl.mechanisms": "SCRAM-SHA-256", "sasl.username": user,
                             "sasl.password": password})
        try:
            admin.list_topics(timeout=5)
            return True
        except KafkaException:
            return False

    def users_of(self, b):
        error, users = describe(self.plain(b))
        self.assertEqual(error, 0)
        return users

    def acls_of(self, b):
        with aw.connect(self.plain(b)) as conn:
            error, _message, acls = conn.describe_acls()
        self.assertEqual(error, 0)
        return sorted(acls)

    def alice_writes(self):
        """{partition: error code or 0} of one record written by alice (SASL/PLAIN, acks=all) to
        each partition of TOPIC, whose leaders are three different brokers."""
        from confluent_kafka import Producer
        bootstrap = ",".join("127.0.0.1:%d" % p for p in self.sasl_ports.values())
        p = Producer({"bootstrap.servers": bootstrap, "security.protocol": "SASL_PLAINTEXT",
                      "sasl.mechanisms": "PLAIN", "sasl.username": "alice",
                      "sasl.password": "alice-secret", "message.timeout.ms": 15000,
                      "enable.idempotence": False, "acks": "all"})
        out = {}

        def done(err, msg):
            out[msg.partition()] = 0 if err is None else err.code()
        for partition in range(3):
            p.produce(TOPIC, value=b"v", partition=partition, on_delivery=done)
        p.flush(60)
        return out

    def test_a_scram_user_made_through_one_broker_authenticates_on_every_broker(self):
        c = self.cluster
        salt = os.urandom(16)
        self.assertEqual(alter(self.plain(c.broker(1)),
                               [("carol", SHA256, 4096, salt,
                                 salted(SHA256, "carol-pw", salt, 4096))]),
                         {"carol": (0, None)})
        for b in c.brokers:
            wait_until(lambda: self.users_of(b).get("carol") == (0, [(SHA256, 4096)]),
                       "%r to list carol's credential" % b)
            self.assertTrue(self.scram_can_connect(b, "carol", "carol-pw"), b)
            self.assertFalse(self.scram_can_connect(b, "carol", "wrong"), b)
        # Whether a credential exists is decided on the stored set, through any broker.
        self.assertEqual(alter(self.plain(c.broker(2)), deletions=[("dave", SHA256)])["dave"][0],
                         RESOURCE_NOT_FOUND)
        self.assertEqual(alter(self.plain(c.broker(3)), deletions=[("carol", SHA256)]),
                         {"carol": (0, None)})
        for b in c.brokers:
            wait_until(lambda: "carol" not in self.users_of(b), "%r to drop carol" % b)
            self.assertFalse(self.scram_can_connect(b, "carol", "carol-pw"), b)

    def test_an_acl_made_through_one_broker_is_enforced_by_every_broker(self):
        c = self.cluster
        leaders = {c.leader(TOPIC, i).node_id for i in range(3)}
        self.assertEqual(leaders, {1, 2, 3}, c.describe([TOPIC]))
        self.assertEqual(self.alice_writes(), {i: TOPIC_AUTHORIZATION_FAILED for i in range(3)})
        grant = [aw.acl(aw.TOPIC, TOPIC, aw.WRITE, "User:alice")]
        with aw.connect(self.sasl(c.broker(2)), "admin", "admin-secret") as conn:
            self.assertEqual(conn.create_acls(grant), [(0, None)])
        for b in c.brokers:
            wait_until(lambda: self.acls_of(b) == grant, "%r to list the ACL" % b)
        self.assertEqual(self.alice_writes(), {0: 0, 1: 0, 2: 0})

        with aw.connect(self.sasl(c.broker(3)), "admin", "admin-secret") as conn:
            self.assertEqual(conn.delete_acls([aw.acl_filter(principal="User:alice")]),
                             [(0, None, grant)])
        for b in c.brokers:
            wait_until(lambda: self.acls_of(b) == [], "%r to drop the ACL" % b)
        self.assertEqual(self.alice_writes(), {i: TOPIC_AUTHORIZATION_FAILED for i in range(3)})

    def test_y_a_damaged_record_keeps_the_sets_in_use(self):
        c = self.cluster
        keep = [aw.acl(aw.TOPIC, "kept", aw.READ, "User:alice")]
        with aw.connect(self.plain(c.broker(1))) as conn:
            self.assertEqual(conn.create_acls(keep), [(0, None)])
        for b in c.brokers:
            wait_until(lambda: self.acls_of(b) == keep, "%r to list the ACL" % b)
        marks = {b.node_id: b.log_mark() for b in c.brokers}
        c.etcd.put(c.prefix + "/acls", "not the ACL store's text\n")
        for b in c.brokers:
            b.wait_for_log(r"cluster: the ACLs in the metadata store \(revision \d+\) are damaged: "
                           r".*keeping the ones in use", since=marks[b.node_id])
            self.assertEqual(self.acls_of(b), keep, b)
        with aw.connect(self.plain(c.broker(2))) as conn:
            [(error, message)] = conn.create_acls([aw.acl(aw.TOPIC, "t", aw.READ, "User:x")])
        self.assertEqual(error, UNKNOWN_SERVER_ERROR, message)
        self.assertIn("not the ACL store's text", c.etcd.get_prefix(c.prefix + "/acls")[
            c.prefix + "/acls"])
        c.etcd.put(c.prefix + "/acls", "kaffa-acls 1\n0\n")
        for b in c.brokers:
            wait_until(lambda: self.acls_of(b) == [], "%r to take the repaired (empty) set" % b)

    def test_zz_a_restarted_broker_takes_both_from_the_store(self):
        c = self.cluster
        keep = [aw.acl(aw.GROUP, "g-", aw.READ, "User:alice", pattern=aw.PREFIXED)]
        with aw.connect(self.plain(c.broker(3))) as conn:
            self.assertEqual(conn.create_acls(keep), [(0, None)])
        salt = os.urandom(16)
        self.assertEqual(alter(self.plain(c.broker(3)),
                               [("erin", SHA256, 4096, salt,
                                 salted(SHA256, "erin-pw", salt, 4096))]),
                         {"erin": (0, None)})
        b = c.broker(1)
        b.kill9()
        c.restart(b)
        # Ready means the first metadata image was applied: no wait here.
        self.assertEqual(self.acls_of(b), keep)
        self.assertEqual(self.users_of(b).get("erin"), (0, [(SHA256, 4096)]))
        self.assertTrue(self.scram_can_connect(b, "erin", "erin-pw"))
        for broker in c.brokers:
            meta = os.path.join(broker.log_dir, "__kaffa_metadata")
            for name in ("acls", "scram-credentials"):
                self.assertFalse(os.path.exists(os.path.join(meta, name)), (broker, name))


if __name__ == "__main__":
    unittest.main()
