#!/usr/bin/python3
"""Topic authorization in the consumer group protocol (KIP-848), as Kafka does it, with alice over
SASL/PLAIN against a broker running StandardAuthorizer:

- ConsumerGroupHeartbeat needs DESCRIBE on every topic it names: without it the heartbeat answers
  TOPIC_AUTHORIZATION_FAILED and no group is made.
- A topic regex matches only the topics the heartbeat's principal may DESCRIBE; a grant made
  later is picked up at the next heartbeat (the ACL change makes the regex match again).
- ConsumerGroupDescribe answers TOPIC_AUTHORIZATION_FAILED, with Kafka's message and nothing
  else, for a group whose members are assigned a topic the principal may not DESCRIBE.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import acl_wire as aw  # noqa: E402
import fetch_wire as fw  # noqa: E402
import kip848_wire as k  # noqa: E402

ALICE = "User:alice"
TOPIC_AUTHORIZATION_FAILED = 29
TIMEOUT = 30000


class ConsumerGroupTopicAclTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = KaffaBroker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": aw.plain_jaas(
                alice="alice-secret"),
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:ANONYMOUS;User:admin"}).start()
        cls.sasl = aw.sasl_endpoint(cls.broker)
        with cls.admin() as conn:
            res = conn.create_topics([("ca-named", 2, 1), ("ca-rx-open", 1, 1),
                                      ("ca-rx-closed", 1, 1), ("ca-secret", 1, 1)])
            assert not any(res.values()), res
            cls.ids = fw.topic_ids(conn, ["ca-named", "ca-rx-open", "ca-rx-closed", "ca-secret"])

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop_and_check()
        cls.broker.cleanup()

    @classmethod
    def admin(cls):
        """The super user, over the PLAINTEXT listener."""
        return aw.connect(aw.Endpoint(cls.broker.host, cls.broker.port))

    def alice(self):
        return aw.connect(self.sasl, "alice", "alice-secret")

    def grant(self, *acls):
        with self.admin() as conn:
            self.assertEqual([e for e, _ in conn.create_acls(
                [aw.acl(rt, name, op, ALICE) for rt, name, op in acls])], [0] * len(acls))

    def tearDown(self):
        with self.admin() as conn:
            conn.delete_acls([aw.acl_filter()])

    def hb(self, conn, *args, **kw_):
        return k.round_trip(conn, k.heartbeat, k.parse_heartbeat, *args, **kw_)

    def describe(self, conn, group):
        (d,) = k.round_trip(conn, k.describe, k.parse_describe, [group])
        return d

    def test_named_topics_need_describe(self):
        self.grant((aw.GROUP, "ca-g-named", aw.READ))
        with self.alice() as conn:
            r = self.hb(conn, "ca-g-named", "", 0, topics=["ca-named"], owned={},
                        rebalance_timeout_ms=TIMEOUT)
            self.assertEqual(r["error_code"], TOPIC_AUTHORIZATION_FAILED, r)
        with self.admin() as conn:  # nothing was made
            self.assertEqual(self.describe(conn, "ca-g-named")["error_code"],
                             k.GROUP_ID_NOT_FOUND)
        self.grant((aw.TOPIC, "ca-named", aw.DESCRIBE))
        with self.alice() as conn:
            r = self.hb(conn, "ca-g-named", "", 0, topics=["ca-named"], owned={},
                        rebalance_timeout_ms=TIMEOUT)
            self.assertEqual(r["error_code"], 0, r)
            self.assertEqual(r["assignment"], {self.ids["ca-named"]: [0, 1]})
            self.hb(conn, "ca-g-named", r["member_id"], -1)

    def test_regex_matches_only_describable_topics(self):
        self.grant((aw.GROUP, "ca-g-rx", aw.READ), (aw.TOPIC, "ca-rx-open", aw.DESCRIBE))
        with self.alice() as conn:
            r = self.hb(conn, "ca-g-rx", "m-rx", 0, regex="ca-rx-.*", owned={},
                        rebalance_timeout_ms=TIMEOUT, version=1)
            self.assertEqual(r["error_code"], 0, r)
            self.assertEqual(r["assignment"], {self.ids["ca-rx-open"]: [0]})
            epoch, owned = r["member_epoch"], r["assignment"]
            # Nothing changed: the same epoch.
            r = self.hb(conn, "ca-g-rx", "m-rx", epoch, owned=owned, version=1)
            self.assertEqual((r["error_code"], r["member_epoch"]), (0, epoch), r)
            # A grant made now: the next heartbeat matches the regex again and gets the topic.
            self.grant((aw.TOPIC, "ca-rx-closed", aw.DESCRIBE))
            r = self.hb(conn, "ca-g-rx", "m-rx", epoch, owned=owned, version=1)
            self.assertEqual(r["error_code"], 0, r)
            self.assertEqual(r["member_epoch"], epoch + 1)
            self.assertEqual(r["assignment"], {self.ids["ca-rx-open"]: [0],
                                               self.ids["ca-rx-closed"]: [0]})
            self.hb(conn, "ca-g-rx", "m-rx", -1, version=1)

    def test_describe_refuses_groups_with_undescribable_topics(self):
        with self.admin() as conn:  # the super user's member is assigned ca-secret
            r = self.hb(conn, "ca-g-secret", "", 0, topics=["ca-secret"], owned={},
                        rebalance_timeout_ms=TIMEOUT)
            self.assertEqual(r["error_code"], 0, r)
        self.grant((aw.GROUP, "ca-g-secret", aw.DESCRIBE))
        with self.alice() as conn:
            d = self.describe(conn, "ca-g-secret")
            self.assertEqual(
                (d["error_code"], d["error_message"], d["group_id"], d["members"]),
                (TOPIC_AUTHORIZATION_FAILED,
                 "The group has described topic(s) that the client is not authorized to "
                 "describe.", "ca-g-secret", []))
        self.grant((aw.TOPIC, "ca-secret", aw.DESCRIBE))
        with self.alice() as conn:
            d = self.describe(conn, "ca-g-secret")
            self.assertEqual(d["error_code"], 0, d)
            (m,) = d["members"]
            self.assertEqual(m["target"], {("ca-secret", self.ids["ca-secret"]): [0]})


if __name__ == "__main__":
    unittest.main()
