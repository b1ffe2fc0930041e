#!/usr/bin/python3
"""Client quotas (KIP-546's AlterClientQuotas 49 and DescribeClientQuotas 48; byte-rate
throttling, KIP-219) on real brokers, with raw requests (none of the test clients has these
admin calls).

Single node:
- Setting quotas for a client id, a user's default and a user + client pair; Kafka's refusals
  (INVALID_REQUEST) for bad keys, values and entities, each entry on its own; validate_only
  stores nothing; describe filters (exact, default, any; strict); the quotas survive a restart.
- `kaffa quota set|list|delete` round trip, with a refusal reported.
- A producer over its producer_byte_rate gets a throttle time in its answer, and its connection
  reads its next request only once that time is over; another client id is not throttled. A
  consumer whose answer would take it over its consumer_byte_rate gets an empty answer with the
  throttle time, as in Kafka. Removing the quota ends it.
Cluster of three: a quota set through broker 1 is described by brokers 2 and 3, and by broker 2
after a restart.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import KaffaCluster, wait_until  # noqa: E402
from kaffa_harness import KaffaBroker, run_kaffa  # noqa: E402
import json  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402
from kafka_wire import (i8, i16, i32, string, array, compact_string, uvarint, frame,  # noqa: E402
                        header_v1, header_v2, Reader)

INVALID_REQUEST = 42
UNSUPPORTED_VERSION = 35
DEFAULT = None  # the <default> entity name


def compact_array(items, enc):
    return uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def f64(v):
    import struct
    return struct.pack(">d", v)


def entity_enc(e):
    return compact_array(e, lambda kv: compact_string(kv[0]) + compact_string(kv[1]) + uvarint(0))


def call(broker, api_key, body, client_id="kaffa-systest"):
    with kw.Connection(broker.host, broker.port, timeout=30) as conn:
        corr = conn.next_corr()
        conn.send(frame(header_v2(api_key, 1, corr, client_id) + body))
        got, data = conn.read_response(flexible_header=True)
        assert got == corr
        return Reader(data)


def alter(broker, entries, validate_only=False):
    """entries: [(entity [(type, name)], ops [(key, value or None to remove)])] ->
    [(error_code, message)] in order."""
    body = compact_array(entries, lambda e: entity_enc(e[0]) + compact_array(
        e[1], lambda op: compact_string(op[0]) + f64(op[1] or 0) + i8(op[1] is None)
        + uvarint(0)) + uvarint(0)) + i8(validate_only) + uvarint(0)
    r = call(broker, 49, body)
    r.i32()

    def entry(r):
        code, message = r.i16(), r.compact_string()
        r.compact_array(lambda r: (r.compact_string(), r.compact_string(), r.skip_tags()))
        r.skip_tags()
        return code, message
    return r.compact_array(entry)


def describe(broker, components, strict=False):
    """components: [(type, match_type, match)] -> (error, {entity tuple: {key: value}})."""
    body = compact_array(components, lambda c: compact_string(c[0]) + i8(c[1])
                         + compact_string(c[2]) + uvarint(0)) + i8(strict) + uvarint(0)
    r = call(broker, 48, body)
    r.i32()
    error = r.i16()
    r.compact_string()

    def entry(r):
        entity = tuple(r.compact_array(lambda r: (r.compact_string(), r.compact_string(),
                                                  r.skip_tags())[:2]))
        values = dict(r.compact_array(lambda r: (r.compact_string(), r.take(8), r.skip_tags())[:2]))
        r.skip_tags()
        import struct
        return entity, {k: struct.unpack(">d", v)[0] for k, v in values.items()}
    entries = r.compact_array(entry)
    return error, dict(entries or [])


def produce(conn, client_id, topic, value_size):
    """Produce v7 of one batch; (error, throttle_time_ms, seconds from sending to the answer)."""
    corr = conn.next_corr()
    batch = kr.encode_batch([(None, b"x" * value_size, [])])
    body = string(None) + i16(1) + i32(30000) + array(
        [topic], lambda t: string(t) + array([0], lambda p: i32(p) + i32(len(batch)) + batch))
    start = time.monotonic()
    data = conn.round_trip(frame(header_v1(0, 7, corr, client_id) + body), corr, "Produce")
    took = time.monotonic() - start
    (throttle,) = __import__("struct").unpack(">i", data[-4:])
    return kr.parse_produce_response(data, 7)[(topic, 0)]["error_code"], throttle, took


class SingleNodeQuotaTest(unittest.TestCase):
    def test_alter_describe_and_restart(self):
        with KaffaBroker() as b:
            results = alter(b, [
                ([("client-id", "app")], [("producer_byte_rate", 2048.0)]),
                ([("user", DEFAULT)], [("consumer_byte_rate", 4096.0)]),
                ([("user", "alice"), ("client-id", "app")], [("producer_byte_rate", 1024.0),
                                                             ("consumer_byte_rate", 512.0)]),
                ([("user", "bob")], [("request_percentage", 50.0)]),
                ([("user", "bob")], [("producer_byte_rate", 1.5)]),
                ([("user", "carol")], [("producer_byte_rate", 0.0)]),
                ([("group", "g")], [("producer_byte_rate", 10.0)]),
                ([], [("producer_byte_rate", 10.0)]),
                ([("user", "dave")], [("made_up", 10.0)]),
            ])
            self.assertEqual([code for code, _ in results], [0, 0, 0] + [INVALID_REQUEST] * 6)
            self.assertIn("not supported", results[3][1])
            self.assertEqual(alter(b, [([("user", "erin")], [("producer_byte_rate", 9.0)])],
                                   validate_only=True), [(0, None)])

            want = {
                (("client-id", "app"),): {"producer_byte_rate": 2048.0},
                (("user", None),): {"consumer_byte_rate": 4096.0},
                (("user", "alice"), ("client-id", "app")): {"producer_byte_rate": 1024.0,
                                                            "consumer_byte_rate": 512.0},
            }
            self.assertEqual(describe(b, []), (0, want))
            self.assertEqual(describe(b, [("user", 0, "alice")]), (0, {
                (("user", "alice"), ("client-id", "app")): want[(("user", "alice"),
                                                                  ("client-id", "app"))]}))
            self.assertEqual(describe(b, [("user", 0, "alice")], strict=True), (0, {}))
            self.assertEqual(describe(b, [("user", 1, None)]), (0, {
                (("user", None),): {"consumer_byte_rate": 4096.0}}))
            self.assertEqual(len(describe(b, [("client-id", 2, None)])[1]), 2)
            self.assertEqual(describe(b, [("user", 0, None)])[0], INVALID_REQUEST)
            self.assertEqual(describe(b, [("group", 2, None)])[0], UNSUPPORTED_VERSION)

            b.stop_and_check()
            b.restart()
            self.assertEqual(describe(b, []), (0, want))
            # Removing every value removes the entity.
            self.assertEqual(alter(b, [([("client-id", "app")], [("producer_byte_rate", None)])]),
                             [(0, None)])
            self.assertNotIn((("client-id", "app"),), describe(b, [])[1])

    def test_the_cli(self):
        with KaffaBroker() as b:
            cli = ["-b", b.bootstrap]

            def kaffa(*args):
                r = run_kaffa(cli + ["quota"] + list(args))
                self.assertEqual(r.returncode, 0, r.stderr)
                return r.stdout
            self.assertEqual(kaffa("set", "--client-id", "rep", "producer_byte_rate=1048576"),
                             "Set the quotas of client-id=rep\n")
            kaffa("set", "--user-default", "consumer_byte_rate=5000")
            listed = json.loads(kaffa("--json", "list"))
            self.assertEqual(sorted(listed, key=json.dumps), sorted([
                {"entity": {"client-id": "rep"}, "quotas": {"producer_byte_rate": 1048576}},
                {"entity": {"user": None}, "quotas": {"consumer_byte_rate": 5000}}],
                key=json.dumps))
            self.assertEqual(json.loads(kaffa("--json", "list", "--user-default")), [
                {"entity": {"user": None}, "quotas": {"consumer_byte_rate": 5000}}])
            refused = run_kaffa(cli + ["quota", "set", "--user", "bob", "request_percentage=5"])
            self.assertEqual(refused.returncode, 1)
            self.assertIn("not supported", refused.stderr)
            kaffa("delete", "--client-id", "rep")
            self.assertEqual(describe(b, []), (0, {
                (("user", None),): {"consumer_byte_rate": 5000.0}}))

    def test_a_producer_and_a_consumer_over_their_quotas_are_throttled(self):
        with KaffaBroker() as b:
            with kw.Connection(b.host, b.port) as conn:
                conn.create_topics([("q", 1, 1)])
            # 10 KB/s; a 115 KB batch is measured over 10 s at least: about 1.5 s of throttle.
            self.assertEqual(alter(b, [([("client-id", "slow")], [
                ("producer_byte_rate", 10000.0), ("consumer_byte_rate", 10000.0)])]), [(0, None)])
            with kr.DataConnection(b.host, b.port) as conn:
                self.assertEqual(produce(conn, "fast", "q", 115000)[:2], (0, 0))
                error, throttle, _ = produce(conn, "slow", "q", 115000)
                throttle_first = throttle
                self.assertEqual(error, 0)
                self.assertGreater(throttle, 0)
                self.assertLessEqual(throttle, 11000)
                # The connection reads nothing more until the throttle time is over.
                error, again, took = produce(conn, "slow", "q", 10)
                self.assertEqual(error, 0)
                self.assertGreaterEqual(took, throttle / 1000.0 - 0.2, (throttle, took))
                self.assertGreater(again, 0, "still over the quota")

            with kw.Connection(b.host, b.port, timeout=30) as conn:
                corr = conn.next_corr()
                req = kr.fetch_v4_request(corr, [("q", [(0, 0, 1 << 20)])])
                # fetch_v4_request names the default client id: send it as "slow".
                req = frame(header_v1(1, 4, corr, "slow") + req[4 + len(header_v1(1, 4, corr)):])
                data = conn.round_trip(req, corr, "Fetch")
                (throttle,) = __import__("struct").unpack(">i", data[:4])
                # As Kafka: the answer (capped at the quota's 10 s, 100 KB, but the first batch
                # is sent whole: 115 KB) would take the rate over the quota, so it goes empty
                # with the throttle time, and the bytes are not counted.
                self.assertEqual(kr.parse_fetch_v4_response(data), {})
                self.assertGreater(throttle, 0)

            got = b.metrics(*['kaffa_quota_%s{quota="%s_byte_rate"}' % (m, q)
                              for m in ("throttled_responses_total", "throttle_ms_total")
                              for q in ("producer", "consumer")])
            self.assertEqual(got['kaffa_quota_throttled_responses_total{quota="producer_byte_rate"}'], 2)
            self.assertEqual(got['kaffa_quota_throttled_responses_total{quota="consumer_byte_rate"}'], 1)
            self.assertGreaterEqual(got['kaffa_quota_throttle_ms_total{quota="producer_byte_rate"}'],
                                    throttle_first)
            self.assertGreater(got['kaffa_quota_throttle_ms_total{quota="consumer_byte_rate"}'], 0)
            self.assertEqual(alter(b, [([("client-id", "slow")], [
                ("producer_byte_rate", None), ("consumer_byte_rate", None)])]), [(0, None)])
            with kr.DataConnection(b.host, b.port) as conn:
                self.assertEqual(produce(conn, "slow", "q", 115000)[:2], (0, 0))


class ClusterQuotaTest(unittest.TestCase):
    def test_a_quota_set_through_one_broker_holds_on_all(self):
        with KaffaCluster(3) as c:
            self.assertEqual(alter(c.broker(1), [([("user", "alice")], [
                ("producer_byte_rate", 5000.0)])]), [(0, None)])
            want = (0, {(("user", "alice"),): {"producer_byte_rate": 5000.0}})
            self.assertEqual(describe(c.broker(1), []), want)
            for n in (2, 3):
                wait_until(lambda: describe(c.broker(n), []) == want,
                           "broker %d to describe alice's quota" % n)
            c.broker(2).kill9()
            c.restart(c.broker(2))
            self.assertEqual(describe(c.broker(2), []), want)
            self.assertFalse(os.path.exists(os.path.join(
                c.broker(1).log_dir, "__kaffa_metadata", "client-quotas")))


if __name__ == "__main__":
    unittest.main()
