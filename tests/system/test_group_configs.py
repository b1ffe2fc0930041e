#!/usr/bin/python3
"""Per-group configs (Kafka 4's GroupConfig, KIP-848) against a real broker, with raw
IncrementalAlterConfigs v0 and DescribeConfigs v1 on GROUP resources (type 32):

(a) consumer.heartbeat.interval.ms set for one group is what its members are told to use; other
    groups keep the broker's. DescribeConfigs shows the group's own value (GROUP_CONFIG, 8) and
    the broker's (DEFAULT_CONFIG, 5). DELETE gives the broker's back.
(b) consumer.session.timeout.ms set for one group: its silent member is removed after that
    long, while a member of another group, as silent, is kept (the broker's 60 s).
(c) Kafka's checks answer INVALID_CONFIG with its messages: below the broker's
    group.consumer.min.* or above its max.*, an unknown name. validate_only changes nothing.
(d) The configs survive kill -9 and a restart.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import kafka_wire as kw  # noqa: E402
import kip848_wire as k  # noqa: E402

GROUP = 32
SET, DELETE = 0, 1
INVALID_CONFIG = 40
GROUP_CONFIG, DEFAULT_CONFIG = 8, 5
DEADLINE_S = 30


def alter_request(corr, resources, validate_only=False):
    """IncrementalAlterConfigs v0: resources [(type, name, [(config, op, value)])]."""
    body = kw.header_v1(44, 0, corr)
    body += kw.array(resources,
                     lambda r: kw.i8(r[0]) + kw.string(r[1]) + kw.array(
                         r[2], lambda c: kw.string(c[0]) + kw.i8(c[1]) + kw.string(c[2])))
    body += kw.i8(1 if validate_only else 0)
    return kw.frame(body)


def alter_results(body):
    """-> [(error, message, type, name)] of an IncrementalAlterConfigs v0 answer."""
    r = kw.Reader(body)
    r.i32()
    return r.array(lambda r: (r.i16(), r.string(), r.i8(), r.string()))


def alter(conn, group, configs, validate_only=False):
    """IncrementalAlterConfigs v0 of one group: configs [(name, op, value)] -> (error, message)."""
    corr = conn.next_corr()
    body = conn.round_trip(alter_request(corr, [(GROUP, group, configs)], validate_only), corr,
                           "IncrementalAlterConfigs")
    (result,) = alter_results(body)
    return result[0], result[1]


def describe(conn, group):
    """DescribeConfigs v1 of one group -> (error, {name: (value, source)})."""
    corr = conn.next_corr()
    body = kw.header_v1(32, 1, corr) + kw.array(
        [group], lambda g: kw.i8(GROUP) + kw.string(g) + kw.i32(-1)) + kw.i8(0)
    r = kw.Reader(conn.round_trip(kw.frame(body), corr, "DescribeConfigs"))
    r.i32()
    out = {}

    def entry(r):
        name, value = r.string(), r.string()
        r.i8()  # read only
        source = r.i8()
        r.i8()  # sensitive
        r.array(lambda r: (r.string(), r.string(), r.i8()))  # synonyms
        out[name] = (value, source)

    def resource(r):
        err = r.i16()
        r.string(), r.i8(), r.string()  # message, type, name
        r.array(entry)
        return err
    (err,) = r.array(resource)
    return err, out


class GroupConfigsTest(unittest.TestCase):
    def setUp(self):
        self.broker = KaffaBroker(overrides={
            "group.consumer.min.session.timeout.ms": "1000",
            "group.consumer.session.timeout.ms": "60000",
            "group.consumer.min.heartbeat.interval.ms": "100",
            "group.consumer.heartbeat.interval.ms": "5000"}).start()
        self.addCleanup(self.broker.cleanup)
        self.addCleanup(self.broker.stop_and_check)
        with kw.connect(self.broker) as conn:
            self.assertEqual(conn.create_topics([("gc-t", 2, 1)]), {"gc-t": 0})

    def join(self, conn, group):
        r = k.round_trip(conn, k.heartbeat, k.parse_heartbeat, group, "", 0, topics=["gc-t"],
                         owned={}, rebalance_timeout_ms=30000)
        self.assertEqual(r["error_code"], 0, r)
        return r

    def test_heartbeat_interval_describe_delete_and_restart(self):
        with kw.connect(self.broker) as conn:
            self.assertEqual(alter(conn, "gc-g", [("consumer.heartbeat.interval.ms", SET,
                                                   "7000")]), (0, None))
            self.assertEqual(self.join(conn, "gc-g")["interval_ms"], 7000)
            self.assertEqual(self.join(conn, "gc-other")["interval_ms"], 5000)
            self.assertEqual(describe(conn, "gc-g"), (0, {
                "consumer.heartbeat.interval.ms": ("7000", GROUP_CONFIG),
                "consumer.session.timeout.ms": ("60000", DEFAULT_CONFIG)}))
        self.broker.kill9()
        self.broker.restart()
        with kw.connect(self.broker) as conn:
            self.assertEqual(describe(conn, "gc-g")[1]["consumer.heartbeat.interval.ms"],
                             ("7000", GROUP_CONFIG))
            self.assertEqual(self.join(conn, "gc-g")["interval_ms"], 7000)
            self.assertEqual(alter(conn, "gc-g", [("consumer.heartbeat.interval.ms", DELETE,
                                                   "")]), (0, None))
            self.assertEqual(describe(conn, "gc-g")[1]["consumer.heartbeat.interval.ms"],
                             ("5000", DEFAULT_CONFIG))
            self.assertEqual(self.join(conn, "gc-g")["interval_ms"], 5000)

    def test_a_groups_session_timeout_removes_its_silent_member(self):
        with kw.connect(self.broker) as conn:
            self.assertEqual(alter(conn, "gc-short", [("consumer.session.timeout.ms", SET,
                                                       "2000"),
                                                      ("consumer.heartbeat.interval.ms", SET,
                                                       "500")]), (0, None))
            short = self.join(conn, "gc-short")
            long_ = self.join(conn, "gc-long")
            deadline = time.monotonic() + DEADLINE_S
            while True:  # neither member heartbeats again
                (d,) = k.round_trip(conn, k.describe, k.parse_describe, ["gc-short"])
                if not d["members"]:
                    break
                self.assertLess(time.monotonic(), deadline, d)
                time.sleep(0.2)  # poll interval
            (d,) = k.round_trip(conn, k.describe, k.parse_describe, ["gc-long"])
            self.assertEqual([m["member_id"] for m in d["members"]], [long_["member_id"]])
            r = k.round_trip(conn, k.heartbeat, k.parse_heartbeat, "gc-short",
                             short["member_id"], short["member_epoch"], owned={})
            self.assertEqual(r["error_code"], k.UNKNOWN_MEMBER_ID, r)

    def test_kafkas_checks(self):
        with kw.connect(self.broker) as conn:
            self.assertEqual(alter(conn, "gc-bad", [("consumer.session.timeout.ms", SET, "500")]),
                             (INVALID_CONFIG, "consumer.session.timeout.ms must be greater than "
                              "or equal to group.consumer.min.session.timeout.ms"))
            self.assertEqual(alter(conn, "gc-bad", [("consumer.heartbeat.interval.ms", SET,
                                                     "20000")]),
                             (INVALID_CONFIG, "consumer.heartbeat.interval.ms must be less than "
                              "or equal to group.consumer.max.heartbeat.interval.ms"))
            self.assertEqual(alter(conn, "gc-bad", [("share.record.lock.duration.ms", SET,
                                                     "30000")]),
                             (INVALID_CONFIG, "Unknown group config name: "
                              "share.record.lock.duration.ms"))
            # No group config is a list: APPEND and SUBTRACT get Kafka's message, names known or
            # not.
            for op, name in ((2, "APPEND"), (3, "SUBTRACT")):
                for key in ("consumer.session.timeout.ms", "no.such.config"):
                    self.assertEqual(alter(conn, "gc-bad", [(key, op, "1")]), (
                        INVALID_CONFIG, "Can't %s to key %s because its type is not LIST."
                        % (name, key)))
            self.assertEqual(alter(conn, "gc-bad", [("consumer.session.timeout.ms", SET, "9000")],
                                   validate_only=True), (0, None))
            self.assertEqual(describe(conn, "gc-bad")[1]["consumer.session.timeout.ms"],
                             ("60000", DEFAULT_CONFIG))


if __name__ == "__main__":
    unittest.main()
