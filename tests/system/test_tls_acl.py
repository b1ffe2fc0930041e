#!/usr/bin/python3
"""ACLs for mutual-TLS principals: the certificate subject, mapped by ssl.principal.mapping.rules,
is the principal the authorizer judges.

One broker, authorizer on, an SSL listener with ssl.client.auth=required and the rule
RULE:^CN=([^,]*),OU=Test,O=Acme$/$1/L (CN=Alice,... -> User:alice), super.users=User:admin:
- admin (its certificate) creates a topic and manages ACLs over SSL (kafka-python's admin client);
- alice's produce is refused with TOPIC_AUTHORIZATION_FAILED until WRITE is granted to
  User:alice, then it succeeds; an ACL naming the whole subject does not apply (the rule maps it);
- a PLAINTEXT client (User:ANONYMOUS) stays refused after alice's grant.
"""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import client_io as cio  # noqa: E402
from tls_certs import Pki, rdkafka_ssl_conf, stop_broker_and_remove  # noqa: E402

TOPIC = "tls-acl-t"
DEADLINE_S = 30


class TlsAclTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kaffa-tls-acl-")
        cls.pki = Pki(cls.tmp)
        cls.admin = cls.pki.client("admin")
        cls.alice = cls.pki.client("Alice", serial=2001)
        cls.broker = KaffaBroker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL",
            "ssl.keystore.type": "PEM", "ssl.keystore.location": cls.pki.server(),
            "ssl.truststore.type": "PEM", "ssl.truststore.location": cls.pki.ca_cert,
            "ssl.client.auth": "required",
            "ssl.principal.mapping.rules": "RULE:^CN=([^,]*),OU=Test,O=Acme$/$1/L",
            "authorizer.class.name": "kafka.security.authorizer.AclAuthorizer",
            "super.users": "User:admin",
        }).start()
        m = cls.broker.wait_for_log(r"kaffa ready listener=SSL://([^\s]+):(\d+)")
        cls.ssl_bootstrap = "%s:%s" % (m.group(1), m.group(2))

    @classmethod
    def tearDownClass(cls):
        stop_broker_and_remove(cls.broker, cls.tmp)

    def rdkafka_conf(self, cert):
        return rdkafka_ssl_conf(self.pki, cert)

    def admin_client(self):
        from kafka.admin import KafkaAdminClient
        return KafkaAdminClient(bootstrap_servers=self.ssl_bootstrap, security_protocol="SSL",
                                ssl_cafile=self.pki.ca_cert, ssl_certfile=self.admin[0],
                                ssl_keyfile=self.admin[1], ssl_check_hostname=False,
                                request_timeout_ms=DEADLINE_S * 1000)

    def grant_write(self, principal):
        from kafka.admin import (ACL, ACLOperation, ACLPermissionType, ResourcePattern,
                                 ResourceType)
        admin = self.admin_client()
        try:
            res = admin.create_acls([ACL(principal, "*", ACLOperation.WRITE,
                                         ACLPermissionType.ALLOW,
                                         ResourcePattern(ResourceType.TOPIC, TOPIC))])
            self.assertEqual(res["failed"], [])
        finally:
            admin.close()

    def produce_error(self, bootstrap, extra):
        """The delivery error code of one record (None when it was written)."""
        from confluent_kafka import Producer
        conf = {"bootstrap.servers": bootstrap, "message.timeout.ms": 10000,
                "enable.idempotence": False}
        conf.update(extra)
        p = Producer(conf)
        errors = []
        p.produce(TOPIC, value=b"v", partition=0,
                  on_delivery=lambda err, msg: errors.append(err))
        self.assertEqual(p.flush(DEADLINE_S), 0)
        self.assertEqual(len(errors), 1)
        return None if errors[0] is None else errors[0].code()

    def test_certificate_principal_is_authorized_by_acls(self):
        from confluent_kafka import KafkaError
        from kafka.admin import NewTopic
        admin = self.admin_client()
        try:
            admin.create_topics([NewTopic(TOPIC, 1, 1)])  # as the super user
        finally:
            admin.close()
        alice = self.rdkafka_conf(self.alice)
        self.assertEqual(self.produce_error(self.ssl_bootstrap, alice),
                         KafkaError.TOPIC_AUTHORIZATION_FAILED)
        # The subject itself is not the principal: the rule maps it to "alice".
        self.grant_write("User:CN=Alice,OU=Test,O=Acme")
        self.assertEqual(self.produce_error(self.ssl_bootstrap, alice),
                         KafkaError.TOPIC_AUTHORIZATION_FAILED)
        self.grant_write("User:alice")
        self.assertIsNone(self.produce_error(self.ssl_bootstrap, alice))
        # Anonymous PLAINTEXT clients gained nothing.
        self.assertEqual(self.produce_error(self.broker.bootstrap, {}),
                         KafkaError.TOPIC_AUTHORIZATION_FAILED)
        got = cio.confluent_consume(self.ssl_bootstrap, [(TOPIC, 0)],
                                    extra=self.rdkafka_conf(self.admin))
        self.assertEqual(len(got), 1)


if __name__ == "__main__":
    unittest.main()
