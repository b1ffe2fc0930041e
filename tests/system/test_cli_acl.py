#!/usr/bin/python3
"""`kaffa acl add|list|remove` (librdkafka 2.0's CreateAcls/DescribeAcls/DeleteAcls) against a
broker with the ACL authorizer: human and --json output, filters, usage errors (exit 2), a Kafka
error (exit 1) for an invalid binding, SECURITY_DISABLED from a broker without an authorizer, and
an authenticated user without ALTER on the cluster refused over SASL_PLAINTEXT.
"""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker, run_kaffa  # noqa: E402

JAAS = ('org.apache.kafka.common.security.plain.PlainLoginModule required '
        'username="admin" password="admin-secret" user_alice="alice-secret";')


class KaffaAclCliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = KaffaBroker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
            "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
            "super.users": "User:ANONYMOUS"}).start()
        sasl = cls.broker.wait_for_log(r"kaffa ready listener=SASL_PLAINTEXT://([^\s]+):(\d+)")
        cls.sasl_bootstrap = "%s:%s" % (sasl.group(1), sasl.group(2))

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop_and_check()
        cls.broker.cleanup()

    def acl(self, *args, bootstrap=None):
        return run_kaffa(["acl"] + list(args) + ["-b", bootstrap or self.broker.bootstrap])

    def listed(self, *args):
        r = self.acl("list", "--json", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)

    def tearDown(self):
        for p in ("User:alice", "User:bob", "User:*"):
            self.acl("remove", "--principal", p)

    def test_add_list_remove(self):
        r = self.acl("add", "--principal", "User:alice", "--operation", "read",
                     "--operation", "WRITE", "--topic", "orders")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("User:alice", r.stdout)
        self.assertIn("WRITE", r.stdout)
        r = self.acl("add", "--principal", "User:bob", "--operation", "all", "--permission", "deny",
                     "--group", "g-", "--resource-pattern-type", "prefixed", "--host", "10.0.0.1")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.acl("add", "--principal", "User:*", "--operation", "describe", "--cluster")
        self.assertEqual(r.returncode, 0, r.stderr)

        all_acls = self.listed()
        self.assertEqual(len(all_acls), 4)
        self.assertIn({"principal": "User:bob", "host": "10.0.0.1", "operation": "ALL",
                       "permission": "DENY", "resource_type": "GROUP", "resource_name": "g-",
                       "pattern_type": "PREFIXED"}, all_acls)
        self.assertIn({"principal": "User:*", "host": "*", "operation": "DESCRIBE",
                       "permission": "ALLOW", "resource_type": "CLUSTER",
                       "resource_name": "kafka-cluster", "pattern_type": "LITERAL"}, all_acls)
        self.assertEqual(len(self.listed("--topic", "orders")), 2)
        self.assertEqual(len(self.listed("--group", "g-1", "--resource-pattern-type", "match")), 1)
        self.assertEqual([a["operation"] for a in self.listed("--principal", "User:alice",
                                                              "--operation", "write")], ["WRITE"])
        human = self.acl("list", "--topic", "orders")
        self.assertEqual(human.returncode, 0)
        self.assertIn("PRINCIPAL", human.stdout.splitlines()[0])

        r = self.acl("remove", "--json", "--topic", "orders", "--operation", "read")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([a["operation"] for a in json.loads(r.stdout)], ["READ"])
        self.assertEqual([a["operation"] for a in self.listed("--topic", "orders")], ["WRITE"])
        r = self.acl("remove", "--principal", "User:nobody")
        self.assertEqual(r.returncode, 0)
        self.assertIn("(no ACLs matched)", r.stdout)

    def test_errors(self):
        r = self.acl("add", "--principal", "alice", "--operation", "read", "--topic", "t")
        self.assertEqual(r.returncode, 1)
        self.assertIn("Could not parse principal", r.stderr)
        self.assertEqual(self.listed(), [])
        for args in (["add", "--operation", "read", "--topic", "t"],             # no principal
                     ["add", "--principal", "User:a", "--topic", "t"],           # no operation
                     ["add", "--principal", "User:a", "--operation", "fly", "--topic", "t"],
                     ["add", "--principal", "User:a", "--operation", "read"],    # no resource
                     ["add", "--principal", "User:a", "--operation", "read", "--topic", "t",
                      "--group", "g"],
                     ["remove"]):                                                # everything
            r = self.acl(*args)
            self.assertEqual(r.returncode, 2, (args, r.stderr))

    def test_user_without_alter_on_cluster_is_refused(self):
        sasl = ["-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=PLAIN",
                "-X", "sasl.username=alice", "-X", "sasl.password=alice-secret"]
        r = self.acl("add", "--principal", "User:alice", "--operation", "all", "--topic", "t",
                     *sasl, bootstrap=self.sasl_bootstrap)
        self.assertEqual(r.returncode, 1)
        self.assertIn("authoriz", r.stderr.lower())
        r = self.acl("list", *sasl, bootstrap=self.sasl_bootstrap)
        self.assertEqual(r.returncode, 1)
        self.assertIn("authoriz", r.stderr.lower())
        self.assertEqual(self.listed(), [])


class KaffaAclCliWithoutAuthorizerTest(unittest.TestCase):
    def test_security_disabled(self):
        broker = KaffaBroker().start()
        try:
            r = run_kaffa(["acl", "list", "-b", broker.bootstrap])
            self.assertEqual(r.returncode, 1)
            self.assertIn("No Authorizer is configured", r.stderr)
        finally:
            broker.stop_and_check()
            broker.cleanup()


if __name__ == "__main__":
    unittest.main()
