#!/usr/bin/python3
"""OffsetForLeaderEpoch (v0, v2 classic, v4 flexible) against a broker holding 7 records.

- epoch 0 (every partition's epoch on a single node) ends at the log end offset (7), with the
  epoch in v1+ answers; an epoch the partition never had answers -1/-1 (UNDEFINED);
- current_leader_epoch above the partition's epoch is UNKNOWN_LEADER_EPOCH (75); -1 is "not
  given"; an unknown partition is UNKNOWN_TOPIC_OR_PARTITION (3), the others in the same request
  still answered;
- after a restart the answer is the same (the epoch and the log survive).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402

API = 23
TOPIC = "ofle"


def request(conn, version, parts, corr=5):
    """parts: [(topic, partition, current_leader_epoch, leader_epoch)] ->
    {(topic, partition): (error, leader_epoch, end_offset)}."""
    topics = {}
    for t, p, cur, ep in parts:
        topics.setdefault(t, []).append((p, cur, ep))
    flexible = version >= 4

    def part(x):
        p, cur, ep = x
        b = kw.i32(p) + (kw.i32(cur) if version >= 2 else b"") + kw.i32(ep)
        return b + (kw.uvarint(0) if flexible else b"")

    if flexible:
        body = kw.header_v2(API, version, corr) + kw.i32(-1)
        body += kw.uvarint(len(topics) + 1) + b"".join(
            kw.compact_string(t) + kw.uvarint(len(ps) + 1) + b"".join(part(x) for x in ps)
            + kw.uvarint(0) for t, ps in topics.items()) + kw.uvarint(0)
    else:
        body = kw.header_v1(API, version, corr) + (kw.i32(-1) if version >= 3 else b"")
        body += kw.array(list(topics.items()),
                         lambda tp: kw.string(tp[0]) + kw.array(tp[1], part))
    conn.send(kw.frame(body))
    _, data = conn.read_response(flexible_header=flexible)
    r = kw.Reader(data)
    if version >= 2:
        r.i32()
    out = {}

    def partition(r, topic):
        err, p = r.i16(), r.i32()
        ep = r.i32() if version >= 1 else None
        off = r.i64()
        if flexible:
            r.skip_tags()
        out[(topic, p)] = (err, ep, off)

    def topic(r):
        name = r.compact_string() if flexible else r.string()
        (r.compact_array if flexible else r.array)(lambda r: partition(r, name))
        if flexible:
            r.skip_tags()
    (r.compact_array if flexible else r.array)(topic)
    return out


class OffsetForLeaderEpochTest(unittest.TestCase):
    def setUp(self):
        self.broker = KaffaBroker().start()
        self.addCleanup(self.broker.cleanup)
        with kw.connect(self.broker) as conn:
            self.assertEqual(conn.create_topics([(TOPIC, 2, 1)]), {TOPIC: 0})
        with kr.connect(self.broker) as conn:
            batch = kr.encode_batch([(None, b"v%d" % i, []) for i in range(7)])
            self.assertEqual(conn.produce_one(TOPIC, 0, batch)["error_code"], 0)

    def check(self):
        with kw.connect(self.broker) as conn:
            self.assertEqual(request(conn, 0, [(TOPIC, 0, -1, 0), (TOPIC, 1, -1, 0)]),
                             {(TOPIC, 0): (0, None, 7), (TOPIC, 1): (0, None, 0)})
            self.assertEqual(
                request(conn, 2, [(TOPIC, 0, 0, 0), (TOPIC, 1, 3, 0), ("nope", 0, -1, 0)], 6),
                {(TOPIC, 0): (0, 0, 7), (TOPIC, 1): (75, -1, -1), ("nope", 0): (3, -1, -1)})
            self.assertEqual(request(conn, 4, [(TOPIC, 0, -1, 0)], 7),
                             {(TOPIC, 0): (0, 0, 7)})
            self.assertEqual(request(conn, 4, [(TOPIC, 0, -1, 4)], 8), {(TOPIC, 0): (0, -1, -1)})
            self.assertEqual(request(conn, 3, [(TOPIC, 9, -1, 0)], 9), {(TOPIC, 9): (3, -1, -1)})

    def test_answers_and_errors_survive_restart(self):
        self.check()
        self.broker.kill9()
        self.broker.restart()
        self.check()


if __name__ == "__main__":
    unittest.main()
