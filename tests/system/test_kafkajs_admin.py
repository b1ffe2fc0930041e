#!/usr/bin/python3
"""kafkajs 2.2.4 admin client against a real broker, through tests/system/js/admin_ops.mjs.

kafkajs comes from tests/js/node_modules (or $KAFFA_JS_DIR/node_modules): run `npm ci` in
tests/js first. Set KAFFA_TEST_DEBUG=1 to see kafkajs's debug log.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from kaffa_harness import KaffaBroker  # noqa: E402

SCRIPT = os.path.join(HERE, "js", "admin_ops.mjs")
JS_DIR = os.path.abspath(os.environ.get("KAFFA_JS_DIR") or os.path.join(HERE, "..", "js"))


class KafkajsAdminTest(unittest.TestCase):
    def setUp(self):
        self.node = shutil.which("node")
        if self.node is None:
            self.fail("node is not installed: kafkajs tests need Node.js")
        kafkajs = os.path.join(JS_DIR, "node_modules", "kafkajs")
        if not os.path.isdir(kafkajs):
            self.fail("kafkajs is not installed: %s is missing; run `npm ci` in %s first"
                      % (kafkajs, JS_DIR))

    def run_script(self, broker, *mode):
        env = dict(os.environ, KAFFA_JS_DIR=JS_DIR)
        r = subprocess.run([self.node, SCRIPT, broker.bootstrap] + list(mode),
                           stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=240, env=env)
        if os.environ.get("KAFFA_TEST_DEBUG"):
            sys.stderr.write(r.stderr)
        self.assertEqual(r.returncode, 0, "admin_ops.mjs failed:\n%s\n%s" % (r.stdout, r.stderr))
        try:
            return json.loads(r.stdout)
        except ValueError:
            self.fail("admin_ops.mjs printed no JSON:\n%s\n%s" % (r.stdout, r.stderr))

    def test_acl_operations(self):
        """createAcls/describeAcls/deleteAcls against the ACL authorizer (the PLAINTEXT
        listener's User:ANONYMOUS is the super user)."""
        with KaffaBroker(overrides={
                "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
                "super.users": "User:ANONYMOUS"}) as broker:
            res = self.run_script(broker, "acl")

        def ok(step):
            self.assertTrue(res[step]["ok"], "%s failed: %s" % (step, res[step].get("error")))
            return res[step]["value"]

        def bindings(described):
            return sorted((r["resourceType"], r["resourceName"], r["resourcePatternType"],
                           a["principal"], a["operation"], a["permissionType"])
                          for r in described["resources"] for a in r["acls"])

        ok("connect")
        ok("acl_create")
        read = (2, "kjs-acl", 3, "User:alice", 3, 3)   # TOPIC LITERAL READ ALLOW
        deny = (3, "kjs-", 4, "User:bob", 2, 2)        # GROUP PREFIXED ALL DENY
        self.assertEqual(bindings(ok("acl_describe")), sorted([read, deny]))
        self.assertEqual(bindings(ok("acl_describe_match")), [deny])
        deleted = ok("acl_delete")["filterResponses"]
        self.assertEqual([(f["errorCode"], len(f["matchingAcls"])) for f in deleted], [(0, 1)])
        self.assertEqual(bindings(ok("acl_describe_after")), [read])

    def test_admin_operations(self):
        with KaffaBroker() as broker:
            res = self.run_script(broker)
            log = broker.log_text()

        def ok(step):
            self.assertIn(step, res)
            self.assertTrue(res[step]["ok"], "%s failed: %s" % (step, res[step].get("error")))
            return res[step]["value"]

        ok("connect")
        self.assertIs(ok("create"), True)
        # kafkajs reports TOPIC_ALREADY_EXISTS as `false`, not as an error.
        self.assertIs(ok("create_existing"), False)

        bad_rf = res["create_bad_rf"]
        self.assertFalse(bad_rf["ok"])
        self.assertEqual(bad_rf["error"]["name"], "KafkaJSAggregateError")
        self.assertEqual([(e["type"], e["code"]) for e in bad_rf["error"]["errors"]],
                         [("INVALID_REPLICATION_FACTOR", 38)])

        self.assertIs(ok("create_validate_only"), True)
        # A fresh broker: exactly the topics the script created (validate-only made none).
        # The broker's internal topic (__consumer_offsets) is listed too, as Kafka does.
        self.assertEqual([t for t in ok("list") if not t.startswith("__")],
                         ["kjs-config", "kjs-three"])

        md = {t["name"]: t["partitions"] for t in ok("metadata")}
        self.assertEqual(sorted(md), ["kjs-config", "kjs-three"])
        self.assertEqual([p["id"] for p in md["kjs-three"]], [0, 1, 2])
        self.assertEqual([p["id"] for p in md["kjs-config"]], [0])
        for parts in md.values():
            for p in parts:
                self.assertEqual((p["leader"], p["replicas"], p["isr"], p["error"]),
                                 (0, [0], [0], 0))

        cluster = ok("cluster")
        self.assertEqual(cluster["brokers"], [{"nodeId": 0, "host": "127.0.0.1",
                                               "port": broker.port}])
        self.assertEqual(cluster["controller"], 0)
        self.assertRegex(log, r"cluster\.id=%s\b" % re.escape(cluster["clusterId"]))

        self.assertIsNone(ok("delete"))
        self.assertEqual([t for t in ok("list_after_delete") if not t.startswith("__")],
                         ["kjs-config"])
        self.assertIn("deleted topic kjs-three", log)

        # UNKNOWN_TOPIC_OR_PARTITION is retriable for kafkajs: it retries, then gives up.
        unknown = res["delete_unknown"]
        self.assertFalse(unknown["ok"])
        self.assertIn("does not host this topic-partition", unknown["error"]["message"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
