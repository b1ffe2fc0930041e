#!/usr/bin/python3
"""SASL/OAUTHBEARER (KIP-255, KIP-768) with unmodified clients, on one broker with two listeners:

- UNSIGNED: Kafka's default validator of unsecured tokens, requiring the scope "kafka"
  (listener.name.unsigned.oauthbearer.sasl.jaas.config). librdkafka's own unsecured token
  (sasl.oauthbearer.config principal=alice scope=kafka) produces and reads back as User:alice; the
  same token without the scope is refused (insufficient_scope).
- SIGNED: Kafka's OAuthBearerValidatorCallbackHandler with a JSON Web Key Set file written here
  (an RSA key made with python3-cryptography), an expected audience (broker-wide) and issuer (the
  key set and issuer given for this listener only, listener.name.signed.oauthbearer.*). Tokens signed
  here reach the broker through confluent_kafka's oauth_cb, kafka-python's token provider,
  kafkajs's oauthBearerProvider and @platformatic/kafka's token; one signed by another key, an
  expired one, one for another audience or issuer and an unsigned one are refused.
"""

import base64
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import client_io as cio  # noqa: E402
import kafka_wire as kw  # noqa: E402

TOPIC = "oauth-t"
HANDLER = "org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler"
ISSUER = "https://idp.test"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint(n):
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


class Key:
    def __init__(self, kid):
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self):
        pub = self.private.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                "n": uint(pub.n), "e": uint(pub.e)}

    def token(self, sub="svc", aud="kafka", lifetime=600, issuer=ISSUER):
        now = int(time.time())
        header = b64url(json.dumps({"alg": "RS256", "kid": self.kid, "typ": "JWT"}).encode())
        claims = b64url(json.dumps({"sub": sub, "aud": aud, "iss": issuer, "iat": now - 5,
                                    "exp": now + lifetime}).encode())
        signature = self.private.sign(("%s.%s" % (header, claims)).encode(), padding.PKCS1v15(),
                                      hashes.SHA256())
        return "%s.%s.%s" % (header, claims, b64url(signature))


def unsigned_token(sub):
    now = int(time.time())
    return "%s.%s." % (b64url(b'{"alg":"none"}'),
                       b64url(json.dumps({"sub": sub, "iat": now, "exp": now + 600}).encode()))


class SaslOAuthBearerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="kaffa-oauth-")
        cls.key, cls.stranger = Key("k1"), Key("k1")  # the stranger claims the same kid
        jwks = os.path.join(cls.tmp, "jwks.json")
        with open(jwks, "w") as f:
            json.dump({"keys": [cls.key.jwk()]}, f)
        cls.broker = KaffaBroker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:0,UNSIGNED://127.0.0.1:0,SIGNED://127.0.0.1:0",
            "listener.security.protocol.map":
                "PLAINTEXT:PLAINTEXT,UNSIGNED:SASL_PLAINTEXT,SIGNED:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms": "OAUTHBEARER",
            "listener.name.unsigned.oauthbearer.sasl.jaas.config":
                "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
                'unsecuredValidatorRequiredScope="kafka";',
            "listener.name.signed.oauthbearer.sasl.server.callback.handler.class": HANDLER,
            # The key set and issuer for this listener only (Kafka's listener and mechanism
            # prefix), the audience broker-wide.
            "listener.name.signed.oauthbearer.sasl.oauthbearer.jwks.endpoint.url":
                "file://" + jwks,
            "sasl.oauthbearer.expected.audience": "kafka",
            "listener.name.signed.oauthbearer.sasl.oauthbearer.expected.issuer": ISSUER}).start()
        cls.bootstrap = {}
        for name in ("PLAINTEXT", "UNSIGNED", "SIGNED"):
            m = cls.broker.wait_for_log(r"kaffa ready listener=%s://([^\s]+):(\d+)" % name)
            cls.bootstrap[name] = "%s:%s" % (m.group(1), m.group(2))
        host, port = cls.bootstrap["PLAINTEXT"].split(":")
        with kw.Connection(host, int(port)) as conn:
            assert conn.create_topics([(TOPIC, 1, 1)]) == {TOPIC: 0}

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop_and_check()
        cls.broker.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def can_connect(self, listener, conf):
        from confluent_kafka import KafkaException
        from confluent_kafka.admin import AdminClient
        admin = AdminClient(dict(conf, **{"bootstrap.servers": self.bootstrap[listener]}))
        admin.poll(0)  # serves an oauth_cb
        try:
            admin.list_topics(timeout=3)
            return True
        except KafkaException:
            return False

    def round_trip(self, listener, conf, tag):
        records = [(0, None, b"%s-%d" % (tag, i), []) for i in range(3)]
        cio.confluent_produce(self.bootstrap[listener], TOPIC, records, extra=conf)
        got = cio.confluent_consume(self.bootstrap[listener], [(TOPIC, 0)], extra=conf)
        self.assertLessEqual({r[2] for r in records}, {r.value for r in got[(TOPIC, 0)]})

    @staticmethod
    def signed_conf(token):
        return {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "OAUTHBEARER",
                "oauth_cb": lambda _config: (token, time.time() + 600)}

    def test_librdkafka_unsecured_token_with_the_required_scope(self):
        conf = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "OAUTHBEARER",
                "enable.sasl.oauthbearer.unsecure.jwt": True,
                "sasl.oauthbearer.config": "principal=alice scope=kafka"}
        mark = self.broker.log_mark()
        self.round_trip("UNSIGNED", conf, b"alice")
        self.broker.wait_for_log(r"authenticated as User:alice \(OAUTHBEARER\)", since=mark)
        mark = self.broker.log_mark()
        conf["sasl.oauthbearer.config"] = "principal=alice"
        self.assertFalse(self.can_connect("UNSIGNED", conf))
        self.broker.wait_for_log(r"OAUTHBEARER token rejected: scope 'kafka' missing", since=mark)
        # A signed token is not what this listener takes.
        self.assertFalse(self.can_connect("UNSIGNED", self.signed_conf(self.key.token())))

    def test_signed_tokens_through_confluent_kafka(self):
        mark = self.broker.log_mark()
        self.round_trip("SIGNED", self.signed_conf(self.key.token(sub="svc")), b"svc")
        self.broker.wait_for_log(r"authenticated as User:svc \(OAUTHBEARER\)", since=mark)
        for why, token in (("does not verify", self.stranger.token()),
                           ("expired", self.key.token(lifetime=-120)),
                           ("audience", self.key.token(aud="other")),
                           ("issuer", self.key.token(issuer="https://evil.test")),
                           ("alg 'none'", unsigned_token("svc"))):
            mark = self.broker.log_mark()
            self.assertFalse(self.can_connect("SIGNED", self.signed_conf(token)), why)
            line = self.broker.wait_for_log(r"OAUTHBEARER token rejected: (.*)", since=mark)
            self.assertIn(why, line.group(1))

    def test_signed_token_through_kafka_python(self):
        from kafka import KafkaProducer
        from kafka.errors import AuthenticationFailedError, NoBrokersAvailable
        from kafka.oauth.abstract import AbstractTokenProvider

        class Provider(AbstractTokenProvider):
            def __init__(self, token):
                super().__init__()
                self.value = token

            def token(self):
                return self.value

        conf = dict(bootstrap_servers=self.bootstrap["SIGNED"], security_protocol="SASL_PLAINTEXT",
                    sasl_mechanism="OAUTHBEARER", api_version_auto_timeout_ms=30000)
        mark = self.broker.log_mark()
        p = KafkaProducer(acks="all", sasl_oauth_token_provider=Provider(self.key.token("kp")),
                          **conf)
        md = p.send(TOPIC, value=b"kafka-python").get(timeout=30)
        p.close()
        self.assertGreaterEqual(md.offset, 0)
        self.broker.wait_for_log(r"authenticated as User:kp \(OAUTHBEARER\)", since=mark)
        # kafka-python takes the broker's error challenge as an unknown answer, as from Kafka.
        with self.assertRaises((AuthenticationFailedError, NoBrokersAvailable)):
            KafkaProducer(sasl_oauth_token_provider=Provider(self.stranger.token()),
                          **dict(conf, api_version_auto_timeout_ms=5000))

    def test_signed_token_through_the_node_clients(self):
        records = [(0, None, b"js", [])]
        mark = self.broker.log_mark()
        res = cio.run_data_ops({
            "op": "produce", "broker": self.bootstrap["SIGNED"], "topic": TOPIC, "codec": "none",
            "sasl": {"mechanism": "oauthbearer", "token": self.key.token("kjs")},
            "records": [{"partition": 0, "key": None, "value": base64.b64encode(b"js").decode(),
                         "headers": []}]})
        self.assertEqual(res["metadata"][0]["errorCode"], 0)
        self.broker.wait_for_log(r"authenticated as User:kjs \(OAUTHBEARER\)", since=mark)
        if cio.platformatic_missing():
            self.skipTest(cio.platformatic_missing())
        mark = self.broker.log_mark()
        sasl = {"mechanism": "OAUTHBEARER", "token": self.key.token("plt")}
        offsets = cio.platformatic_produce(self.bootstrap["SIGNED"], TOPIC, records,
                                           options={"sasl": sasl})
        self.assertEqual(len(offsets), 1)
        self.broker.wait_for_log(r"authenticated as User:plt \(OAUTHBEARER\)", since=mark)
        with self.assertRaises(AssertionError):
            cio.platformatic_produce(self.bootstrap["SIGNED"], TOPIC, records, options={
                "sasl": dict(sasl, token=self.stranger.token())})


if __name__ == "__main__":
    unittest.main()
