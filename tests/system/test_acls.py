#!/usr/bin/python3
"""ACL administration and enforcement seen by real clients.

- Without an authorizer, CreateAcls/DescribeAcls/DeleteAcls answer SECURITY_DISABLED (54).
- With one (org.apache.kafka.metadata.authorizer.StandardAuthorizer; User:ANONYMOUS, the
  principal of the PLAINTEXT listener, is the super user here): invalid bindings get
  INVALID_REQUEST per creation while valid ones in the same request are stored; DescribeAcls
  filters (ANY, MATCH, PREFIXED, by principal); DeleteAcls lists what each filter removed.
- kafka-python's KafkaAdminClient create_acls/describe_acls/delete_acls against the same broker
  (Debian's confluent_kafka 1.7 has no ACL admin calls; librdkafka's rd_kafka_CreateAcls & co.
  are exercised by `kaffa acl`, test_cli_acl.py).
- A confluent_kafka producer and consumer authenticated as alice over SASL/PLAIN see
  TOPIC_AUTHORIZATION_FAILED without ACLs, and work once alice has WRITE / READ.
- ACLs survive kill -9 and a restart (`__kaffa_metadata/acls`); a damaged file stops start-up.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import acl_wire as aw  # noqa: E402
import client_io as cio  # noqa: E402
import kafka_wire as kw  # noqa: E402

JAAS = aw.plain_jaas(alice="alice-secret")
DEADLINE_S = 30


class SecurityDisabledTest(unittest.TestCase):
    def test_acl_apis_without_authorizer(self):
        broker = KaffaBroker().start()
        try:
            with aw.connect(broker) as conn:
                self.assertEqual(conn.describe_acls()[0], aw.SECURITY_DISABLED)
                self.assertEqual(conn.create_acls([aw.acl(aw.TOPIC, "t", aw.READ, "User:a")]),
                                 [(aw.SECURITY_DISABLED, "No Authorizer is configured.")])
                self.assertEqual([r[0] for r in conn.delete_acls([aw.acl_filter()])],
                                 [aw.SECURITY_DISABLED])
        finally:
            broker.stop_and_check()
            broker.cleanup()


class AclTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = KaffaBroker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": JAAS,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:ANONYMOUS;User:admin"}).start()
        cls.find_endpoints()
        with aw.connect(cls.plain) as conn:
            assert conn.create_topics([("acl-t", 1, 1)]) == {"acl-t": 0}

    @classmethod
    def find_endpoints(cls):
        cls.sasl = aw.sasl_endpoint(cls.broker)
        cls.plain = aw.Endpoint(cls.broker.host, cls.broker.port)

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop_and_check()
        cls.broker.cleanup()

    def tearDown(self):
        with aw.connect(self.plain) as conn:
            conn.delete_acls([aw.acl_filter()])

    def test_create_validates_each_binding(self):
        good = aw.acl(aw.TOPIC, "orders", aw.READ, "User:alice")
        bad = [aw.acl(aw.TOPIC, "", aw.READ, "User:alice"),              # empty name
               aw.acl(aw.TOPIC, "t", aw.READ, "alice"),                  # no principal type
               aw.acl(aw.TOPIC, "t", aw.ANY_OP, "User:alice"),           # ANY operation
               aw.acl(aw.TOPIC, "t", aw.READ, "User:a", aw.ANY_PERMISSION),
               aw.acl(aw.TOPIC, "t", aw.READ, "User:a", pattern=aw.MATCH),
               aw.acl(aw.CLUSTER, "other", aw.ALTER, "User:a")]          # cluster name
        with aw.connect(self.plain) as conn:
            res = conn.create_acls([good] + bad)
            self.assertEqual(res[0], (0, None))
            self.assertEqual([e for e, _ in res[1:]], [aw.INVALID_REQUEST] * len(bad))
            self.assertIn("kafka-cluster", res[-1][1])
            self.assertEqual(conn.describe_acls(), (0, None, [good]))

    def test_describe_filters_and_delete_lists_matches(self):
        lit = aw.acl(aw.TOPIC, "orders-eu", aw.READ, "User:alice")
        star = aw.acl(aw.TOPIC, "*", aw.DESCRIBE, "User:bob")
        pre = aw.acl(aw.TOPIC, "orders-", aw.WRITE, "User:alice", pattern=aw.PREFIXED)
        grp = aw.acl(aw.GROUP, "g", aw.READ, "User:alice", aw.DENY, host="10.0.0.1")
        with aw.connect(self.plain) as conn:
            self.assertEqual([e for e, _ in conn.create_acls([lit, star, pre, grp])], [0] * 4)
            self.assertEqual(sorted(conn.describe_acls()[2]), sorted([lit, star, pre, grp]))
            match = conn.describe_acls(aw.acl_filter(aw.TOPIC, "orders-eu", aw.MATCH))[2]
            self.assertEqual(sorted(match), sorted([lit, star, pre]))
            literal = conn.describe_acls(aw.acl_filter(aw.TOPIC, "orders-eu", aw.LITERAL))[2]
            self.assertEqual(literal, [lit])
            prefixed = conn.describe_acls(aw.acl_filter(pattern=aw.PREFIXED))[2]
            self.assertEqual(prefixed, [pre])
            by_user = conn.describe_acls(aw.acl_filter(principal="User:alice"))[2]
            self.assertEqual(sorted(by_user), sorted([lit, pre, grp]))
            self.assertEqual(conn.describe_acls(aw.acl_filter(operation=0))[0], aw.INVALID_REQUEST)
            res = conn.delete_acls([aw.acl_filter(aw.GROUP), aw.acl_filter(principal="User:bob"),
                                    aw.acl_filter(permission=0)])
            self.assertEqual(res[0], (0, None, [grp]))
            self.assertEqual(res[1], (0, None, [star]))
            self.assertEqual(res[2][0], aw.INVALID_REQUEST)
            self.assertEqual(sorted(conn.describe_acls()[2]), sorted([lit, pre]))

    def test_kafka_python_admin_client(self):
        from kafka.admin import (KafkaAdminClient, ACL, ACLFilter, ResourcePattern,
                                 ResourcePatternFilter, ResourceType, ACLOperation,
                                 ACLPermissionType, ACLResourcePatternType)
        admin = KafkaAdminClient(bootstrap_servers="%s:%d" % (self.plain.host, self.plain.port),
                                 request_timeout_ms=DEADLINE_S * 1000)
        try:
            acl = ACL("User:carol", "*", ACLOperation.WRITE, ACLPermissionType.ALLOW,
                      ResourcePattern(ResourceType.TOPIC, "kp-topic"))
            res = admin.create_acls([acl])
            self.assertEqual(len(res["succeeded"]), 1, res)
            self.assertEqual(res["failed"], [])
            flt = ACLFilter("User:carol", None, ACLOperation.ANY, ACLPermissionType.ANY,
                            ResourcePatternFilter(ResourceType.ANY, None,
                                                  ACLResourcePatternType.ANY))
            acls, error = admin.describe_acls(flt)
            self.assertEqual(error.errno, 0)
            self.assertEqual([(a.principal, a.operation, a.resource_pattern.resource_name)
                              for a in acls], [("User:carol", ACLOperation.WRITE, "kp-topic")])
            deleted = admin.delete_acls([flt])
            self.assertEqual(len(deleted), 1)
            self.assertEqual(len(deleted[0][1]), 1)
            self.assertEqual(admin.describe_acls(flt)[0], [])
        finally:
            admin.close()

    def sasl_client_conf(self):
        return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
                "sasl.username": "alice", "sasl.password": "alice-secret"}

    def grant(self, bindings):
        with aw.connect(self.plain) as conn:
            self.assertEqual([e for e, _ in conn.create_acls(bindings)], [0] * len(bindings))

    def test_confluent_producer_and_consumer_see_authorization_errors(self):
        from confluent_kafka import Consumer, Producer, KafkaError, TopicPartition
        bootstrap = "%s:%d" % (self.sasl.host, self.sasl.port)
        conf = dict(self.sasl_client_conf(), **{"bootstrap.servers": bootstrap,
                                               "message.timeout.ms": 10000})
        p = Producer(conf)
        errors = []
        p.produce("acl-t", value=b"v", on_delivery=lambda err, msg: errors.append(err))
        p.flush(DEADLINE_S)
        self.assertEqual(len(errors), 1)
        self.assertIsNotNone(errors[0])
        self.assertEqual(errors[0].code(), KafkaError.TOPIC_AUTHORIZATION_FAILED)

        self.grant([aw.acl(aw.TOPIC, "acl-t", aw.WRITE, "User:alice"),
                    aw.acl(aw.CLUSTER, aw.CLUSTER_NAME, aw.IDEMPOTENT_WRITE, "User:alice")])
        cio.confluent_produce(bootstrap, "acl-t", [(0, b"k", b"v", [])],
                              extra=self.sasl_client_conf())

        # The consumer's group offsets need READ on the group first (GROUP_AUTHORIZATION_FAILED).
        self.grant([aw.acl(aw.GROUP, "acl-readers", aw.READ, "User:alice")])
        c = Consumer(dict(self.sasl_client_conf(), **{
            "bootstrap.servers": bootstrap, "group.id": "acl-readers",
            "auto.offset.reset": "earliest", "enable.auto.commit": False}))
        try:
            c.assign([TopicPartition("acl-t", 0, 0)])
            seen = None
            deadline = time.monotonic() + DEADLINE_S
            while seen is None and time.monotonic() < deadline:
                m = c.poll(0.5)
                if m is not None and m.error() is not None:
                    seen = m.error().code()
            self.assertEqual(seen, KafkaError.TOPIC_AUTHORIZATION_FAILED)
        finally:
            c.close()
        self.grant([aw.acl(aw.TOPIC, "acl-t", aw.READ, "User:alice"),
                    aw.acl(aw.GROUP, "kaffa-systest-", aw.READ, "User:alice",
                           pattern=aw.PREFIXED)])  # client_io's reader group
        got = cio.confluent_consume(bootstrap, [("acl-t", 0)], extra=self.sasl_client_conf())
        self.assertGreaterEqual(len(got), 1)

    def test_create_topics_v5_shows_configs_only_with_describe_configs(self):
        def create(conn, name):
            corr = conn.next_corr()
            topic = (kw.compact_string(name) + kw.i32(1) + kw.i16(1) + kw.uvarint(1)
                     + kw.uvarint(2) + kw.compact_string("retention.ms")
                     + kw.compact_string("3600000") + kw.uvarint(0) + kw.uvarint(0))
            conn.send(kw.frame(kw.header_v2(19, 5, corr) + kw.uvarint(2) + topic + kw.i32(30000)
                               + kw.i8(0) + kw.uvarint(0)))
            got, body = conn.read_response(flexible_header=True)
            r = kw.Reader(body)
            r.i32()
            self.assertEqual(r.uvarint(), 2)  # one topic
            self.assertEqual(r.compact_string(), name)
            error = r.i16()
            r.compact_string(), r.i32(), r.i16()

            def config(r):
                c = (r.compact_string(), r.compact_string())
                r.i8(), r.i8(), r.i8()
                r.skip_tags()
                return c
            configs = r.compact_array(config)
            config_error = 0
            for _ in range(r.uvarint()):
                tag, size = r.uvarint(), r.uvarint()
                data = r.take(size)
                if tag == 0:
                    config_error = kw.Reader(data).i16()
            return error, configs, config_error
        self.grant([aw.acl(aw.TOPIC, "acl-v5-", aw.CREATE, "User:alice", pattern=aw.PREFIXED)])
        with aw.connect(self.sasl, "alice", "alice-secret") as conn:
            self.assertEqual(create(conn, "acl-v5-a"), (0, None, aw.TOPIC_AUTHORIZATION_FAILED))
        self.grant([aw.acl(aw.TOPIC, "acl-v5-", aw.DESCRIBE_CONFIGS, "User:alice",
                           pattern=aw.PREFIXED)])
        with aw.connect(self.sasl, "alice", "alice-secret") as conn:
            self.assertEqual(create(conn, "acl-v5-b"), (0, [("retention.ms", "3600000")], 0))

    def test_cluster_authorized_operations(self):
        """DescribeCluster v0 with include_cluster_authorized_operations: alice's bits follow her
        ACLs (DESCRIBE and ALTER here), a super user's are every cluster operation."""
        self.grant([aw.acl(aw.CLUSTER, aw.CLUSTER_NAME, aw.DESCRIBE, "User:alice"),
                    aw.acl(aw.CLUSTER, aw.CLUSTER_NAME, aw.ALTER, "User:alice")])

        def ops(conn):
            corr = conn.next_corr()
            conn.send(kw.frame(kw.header_v2(60, 0, corr) + kw.i8(1) + kw.uvarint(0)))
            got, body = conn.read_response(flexible_header=True)
            r = kw.Reader(body)
            r.i32()
            self.assertEqual(r.i16(), 0)
            r.compact_string(), r.compact_string(), r.i32()

            def broker(r):
                r.i32(), r.compact_string(), r.i32(), r.compact_string()
                r.skip_tags()
            r.compact_array(broker)
            return r.i32()
        with aw.connect(self.sasl, "alice", "alice-secret") as conn:
            self.assertEqual(ops(conn), (1 << aw.DESCRIBE) | (1 << aw.ALTER))
        with aw.connect(self.plain) as conn:
            self.assertEqual(ops(conn), sum(1 << op for op in (5, 7, 8, 9, 10, 11, 12)))

    def test_zz_acls_survive_kill9_and_restart(self):
        keep = [aw.acl(aw.TOPIC, "acl-t", aw.READ, "User:alice"),
                aw.acl(aw.GROUP, "g-", aw.ALL, "User:*", aw.DENY, pattern=aw.PREFIXED,
                       host="127.0.0.1")]
        self.grant(keep + [aw.acl(aw.TOPIC, "gone", aw.WRITE, "User:alice")])
        with aw.connect(self.plain) as conn:
            conn.delete_acls([aw.acl_filter(name="gone")])
        self.broker.kill9()
        self.broker.restart()
        self.__class__.find_endpoints()
        with aw.connect(self.plain) as conn:
            self.assertEqual(sorted(conn.describe_acls()[2]), sorted(keep))
        # The restored ACLs are enforced: alice may describe acl-t (READ implies DESCRIBE).
        with aw.connect(self.sasl, "alice", "alice-secret") as conn:
            md = conn.metadata(["acl-t", "gone"], version=1)
            errors = {t["name"]: t["error_code"] for t in md["topics"]}
            self.assertEqual(errors, {"acl-t": 0, "gone": aw.TOPIC_AUTHORIZATION_FAILED})
        # A damaged file is an error at start-up, never silently an empty ACL set.
        self.assertEqual(self.broker.stop(), 0)
        path = os.path.join(self.broker.log_dir, "__kaffa_metadata", "acls")
        with open(path, "a") as f:
            f.write("garbage\n")
        proc = KaffaBroker(overrides={
            "log.dirs": self.broker.log_dir,
            "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer"})
        with self.assertRaises(Exception):
            proc.start()
        self.assertIn("acls is damaged", proc.log_text())
        proc.kill()
        proc.cleanup()
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text[:-len("garbage\n")])
        self.broker.restart()
        self.__class__.find_endpoints()


if __name__ == "__main__":
    unittest.main()
