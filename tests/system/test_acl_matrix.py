#!/usr/bin/python3
"""The authorization matrix: every API the broker advertises, three ways.

A broker with only a SASL_PLAINTEXT listener (PLAIN users admin, alice, bob), the ACL authorizer
on (authorizer.class.name), super.users=User:admin. The list of APIs is taken from the broker's
own ApiVersions answer, so an API added later without an entry here fails the test. For each:

1. unauthenticated: the request closes the connection (the SASL gate);
2. alice without ACLs: refused with Kafka's error code (TOPIC_/GROUP_/CLUSTER_AUTHORIZATION_FAILED
   where Kafka answers it; a list of all topics or groups leaves the resource out);
3. after admin grants alice the ACL Kafka's KafkaApis checks: the same request succeeds. Then
   alice's ACLs are removed again (DeleteAcls), so each case starts from none.

ApiVersions, SaslHandshake and SaslAuthenticate need no authorization (as Kafka): they are listed
in EXEMPT and checked to work for alice. /metrics counts the refusals.
"""

import os
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import acl_wire as aw  # noqa: E402
import group_wire as gw  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402
from acl_matrix_cases import ALICE, T, T_DEL, G, G_DEL, G_OD, cases  # noqa: E402

JAAS = aw.plain_jaas(alice="alice-secret", bob="bob-secret")
EXEMPT = {17: "SaslHandshake", 18: "ApiVersions", 36: "SaslAuthenticate"}


class AclMatrixTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = KaffaBroker(overrides={
            "listeners": "SASL_PLAINTEXT://127.0.0.1:0",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
            "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
            "super.users": "User:admin",
            "group.initial.rebalance.delay.ms": "0",
            "log.level": "debug"}).start()
        cls.ep = aw.Endpoint(cls.broker.host, cls.broker.port)
        with cls.admin() as conn:
            for t in (T, T_DEL):
                corr = conn.next_corr()
                body = conn.round_trip(kw.create_topics_v0(corr, [(t, 1, 1)]), corr, "CreateTopics")
                assert kw.parse_create_topics_v0(body) == {t: 0}
            corr = conn.next_corr()
            batch = kr.encode_batch([(b"k", b"v", ())])
            body = conn.round_trip(kr.produce_request(corr, 3, [(T, [(0, batch)])], acks=1), corr,
                                   "Produce")
            assert [p["error_code"] for p in kr.parse_produce_response(body, 3).values()] == [0]
            for g in (G, G_DEL, G_OD):
                corr = conn.next_corr()
                body = conn.round_trip(gw.offset_commit(corr, 2, g, {T: [(0, 1, "")]}), corr,
                                       "OffsetCommit")
                assert list(gw.parse_offset_commit(body, 2).values()) == [0]

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop_and_check()
        cls.broker.cleanup()

    @classmethod
    def admin(cls):
        return aw.connect(cls.ep, "admin", "admin-secret")

    def alice(self):
        return aw.connect(self.ep, "alice", "alice-secret")

    def call(self, conn, case):
        corr = conn.next_corr()
        conn.send(case.request(corr))
        resp = conn.read_response(flexible_header=case.flexible)
        self.assertIsNotNone(resp, "%s: connection closed instead of an answer" % case.name)
        self.assertEqual(resp[0], corr, case.name)
        return case.outcome(resp[1])

    def advertised(self):
        with aw.connect(self.ep) as conn:
            err, keys = conn.api_versions()
        self.assertEqual(err, 0)
        return set(keys)

    def test_every_advertised_api_is_in_the_matrix(self):
        covered = {c.key for c in cases()} | set(EXEMPT)
        advertised = self.advertised()
        self.assertEqual(advertised - covered, set(),
                         "advertised APIs without an authorization case")
        self.assertEqual(covered - advertised, set(), "matrix cases for APIs not advertised")

    def test_exempt_apis_work_without_acls(self):
        with self.alice() as conn:  # login used SaslHandshake and SaslAuthenticate
            err, keys = conn.api_versions(correlation_id=conn.next_corr())
            self.assertEqual(err, 0)
            self.assertIn(29, keys)

    def test_matrix(self):
        advertised = self.advertised()
        denials_before = self.denials()
        for case in cases():
            self.assertIn(case.key, advertised, case.name)
            with self.subTest(api=case.name):
                # 1. Unauthenticated: the SASL gate closes the connection.
                with aw.connect(self.ep) as conn:
                    conn.send(case.request(conn.next_corr()))
                    self.assertIsNone(conn.read_response(flexible_header=case.flexible),
                                      "%s answered before authentication" % case.name)
                # 2. alice without ACLs: refused.
                with self.alice() as conn:
                    self.assertEqual(self.call(conn, case), case.denied,
                                     "%s without ACLs" % case.name)
                # 3. With the ACLs Kafka requires: allowed.
                with self.admin() as admin:
                    self.assertEqual([e for e, _ in admin.create_acls(case.grants)],
                                     [0] * len(case.grants))
                    try:
                        with self.alice() as conn:
                            self.assertEqual(self.call(conn, case), case.allowed,
                                             "%s with %s" % (case.name, case.grants))
                    finally:
                        res = admin.delete_acls([aw.acl_filter(principal=ALICE)])
                        self.assertEqual(res[0][0], 0)
        self.assertGreater(self.denials(), denials_before)
        self.assertTrue(self.broker.count_log(r"authorization denied: principal=User:alice") > 0)

    def test_deny_wins_and_wildcards(self):
        with self.admin() as admin:
            admin.create_acls([aw.acl(aw.TOPIC, "*", aw.ALL, "User:*"),
                               aw.acl(aw.TOPIC, "mx-", aw.READ, "User:bob", aw.DENY,
                                      pattern=aw.PREFIXED)])
            try:
                fetch = [c for c in cases() if c.key == 1][0]
                with aw.connect(self.ep, "bob", "bob-secret") as conn:
                    self.assertEqual(self.call(conn, fetch), [29])
                with self.alice() as conn:
                    self.assertEqual(self.call(conn, fetch), [0])
            finally:
                admin.delete_acls([aw.acl_filter(principal="User:*"),
                                   aw.acl_filter(principal="User:bob")])

    def denials(self):
        text = urllib.request.urlopen(self.broker.admin_url + "/metrics", timeout=10).read().decode()
        total = 0
        for line in text.splitlines():
            if line.startswith("kaffa_authorization_denials_total{"):
                total += int(float(line.split()[-1]))
        return total


if __name__ == "__main__":
    unittest.main()
