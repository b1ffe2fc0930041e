#!/usr/bin/python3
"""Incremental fetch sessions (KIP-227) against a real broker, with raw Fetch v17 requests as the
Java consumer sends them:

(a) A full fetch with session epoch 0 gets a session id and every partition. Incremental fetches
    (the id, epochs 1, 2, ...) list only what changed, and are answered only with partitions that
    have something new: records, or a high watermark other than the one last sent. A parked
    incremental fetch wakes on a produce to any partition of the session.
(b) A partition that returned records goes to the end of the session's order.
(c) forgotten_topics_data drops partitions from the session.
(d) Another epoch answers INVALID_FETCH_SESSION_EPOCH, an unknown id FETCH_SESSION_ID_NOT_FOUND;
    a full fetch naming the session (epoch -1) closes it.
(e) Each incremental fetch is authorized again: READ taken away mid-session answers
    TOPIC_AUTHORIZATION_FAILED for the session's partition.
(f) With max.incremental.fetch.session.cache.slots=1, a second client gets no session (id 0) and
    is served in full; with 0 slots, no client gets one.
"""

import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
from test_txn_offset_commit import start_acl_broker  # noqa: E402
import acl_wire as aw  # noqa: E402
import fetch_wire as fw  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402

FETCH_SESSION_ID_NOT_FOUND = 70
INVALID_FETCH_SESSION_EPOCH = 71
TOPIC_AUTHORIZATION_FAILED = 29
V = 17
MAX = 1 << 20


def fetch(conn, topics, **kw_args):
    corr = conn.next_corr()
    body = conn.round_trip(fw.fetch_request(corr, V, topics, **kw_args), corr, "Fetch v17")
    return fw.parse_fetch_response(body)


def values(p):
    return [r["value"] for b in kr.decode_batches(p["records"] or b"") for r in b.records]


class Base(unittest.TestCase):
    overrides = {}

    def setUp(self):
        self.broker = KaffaBroker(overrides=self.overrides).start()
        self.addCleanup(self.broker.cleanup)
        self.addCleanup(self.broker.stop_and_check)
        with kw.connect(self.broker) as conn:
            self.assertEqual(conn.create_topics([("fs", 3, 1)]), {"fs": 0})
            self.tid = fw.topic_ids(conn, ["fs"])["fs"]

    def produce(self, partition, value):
        with kr.connect(self.broker) as conn:
            p = conn.produce_one("fs", partition, kr.encode_batch([(None, value, ())]))
        self.assertEqual(p["error_code"], 0)

    def full(self, conn, offsets, epoch=0, session_id=0):
        return fetch(conn, [(self.tid, [(p, o, MAX) for p, o in offsets])],
                     session_id=session_id, session_epoch=epoch)


class FetchSessionTest(Base):
    def test_incremental_fetches_answer_what_changed(self):
        for p in range(3):
            self.produce(p, b"first-%d" % p)
        t = self.tid
        with kw.connect(self.broker) as conn:
            r = self.full(conn, [(0, 0), (1, 0), (2, 0)])
            sid = r["session_id"]
            self.assertNotEqual(sid, 0)
            self.assertEqual(r["order"], [(t, 0), (t, 1), (t, 2)])
            self.assertEqual([values(r["partitions"][(t, p)]) for p in range(3)],
                             [[b"first-0"], [b"first-1"], [b"first-2"]])
            # Epoch 1 moves the offsets on: nothing new anywhere, an empty answer.
            r = fetch(conn, [(t, [(0, 1, MAX), (1, 1, MAX), (2, 1, MAX)])], session_id=sid,
                      session_epoch=1)
            self.assertEqual((r["error_code"], r["session_id"], r["order"]), (0, sid, []))
            # Something for partition 1 only: only it is answered, though nothing was listed.
            self.produce(1, b"second-1")
            r = fetch(conn, [], session_id=sid, session_epoch=2)
            self.assertEqual(r["order"], [(t, 1)])
            p1 = r["partitions"][(t, 1)]
            self.assertEqual((values(p1), p1["high_watermark"]), ([b"second-1"], 2))
            # It returned records: it went last, after partition 2.
            self.produce(1, b"third-1")
            self.produce(2, b"second-2")
            r = fetch(conn, [(t, [(1, 2, MAX)])], session_id=sid, session_epoch=3)
            self.assertEqual(r["order"], [(t, 2), (t, 1)])
            self.assertEqual(values(r["partitions"][(t, 2)]), [b"second-2"])
            # A parked incremental fetch wakes on a produce to a partition it did not list.
            done = {}
            corr = conn.next_corr()
            conn.send(fw.fetch_request(corr, V, [(t, [(1, 3, MAX), (2, 2, MAX)])],
                                       max_wait_ms=20000, min_bytes=1, session_id=sid,
                                       session_epoch=4))

            def read():
                got, body = conn.read_response()  # parse_fetch_response reads the header tags
                done["corr"], done["r"] = got, fw.parse_fetch_response(body)
            reader = threading.Thread(target=read)
            reader.start()
            self.produce(0, b"second-0")
            reader.join(30)
            self.assertEqual(done.get("corr"), corr)
            r = done["r"]
            self.assertEqual(r["order"], [(t, 0)])
            self.assertEqual(values(r["partitions"][(t, 0)]), [b"second-0"])

    def test_forgotten_partitions_and_session_errors(self):
        t = self.tid
        with kw.connect(self.broker) as conn:
            sid = self.full(conn, [(0, 0), (1, 0), (2, 0)])["session_id"]
            self.assertNotEqual(sid, 0)
            # Partition 0 is forgotten: new records there are not answered any more.
            r = fetch(conn, [], session_id=sid, session_epoch=1, forgotten=[(t, [0])])
            self.assertEqual((r["error_code"], r["order"]), (0, []))
            self.produce(0, b"x")
            self.produce(2, b"y")
            r = fetch(conn, [], session_id=sid, session_epoch=2)
            self.assertEqual(r["order"], [(t, 2)])
            # Another epoch, or an unknown id: the whole answer is the error, without a session.
            r = fetch(conn, [], session_id=sid, session_epoch=7)
            self.assertEqual((r["error_code"], r["session_id"], r["order"]),
                             (INVALID_FETCH_SESSION_EPOCH, 0, []))
            r = fetch(conn, [], session_id=sid ^ 0x5A5A, session_epoch=1)
            self.assertEqual((r["error_code"], r["session_id"]), (FETCH_SESSION_ID_NOT_FOUND, 0))
            # The right epoch still works; a full fetch with epoch -1 naming it closes it.
            r = fetch(conn, [], session_id=sid, session_epoch=3)
            self.assertEqual((r["error_code"], r["session_id"]), (0, sid))
            r = self.full(conn, [(1, 0)], epoch=-1, session_id=sid)
            self.assertEqual((r["error_code"], r["session_id"], r["order"]), (0, 0, [(t, 1)]))
            r = fetch(conn, [], session_id=sid, session_epoch=4)
            self.assertEqual(r["error_code"], FETCH_SESSION_ID_NOT_FOUND)


class FetchSessionAclTest(unittest.TestCase):
    def test_each_incremental_fetch_is_authorized_again(self):
        broker = start_acl_broker(self)
        grant = [aw.acl(aw.TOPIC, "fs-acl", aw.READ, "User:alice")]
        with aw.connect(broker, "admin", "admin-secret") as admin:
            corr = admin.next_corr()
            body = admin.round_trip(kw.create_topics_v0(corr, [("fs-acl", 1, 1)]), corr,
                                    "CreateTopics")
            self.assertEqual(kw.parse_create_topics_v0(body), {"fs-acl": 0})
            tid = fw.topic_ids(admin, ["fs-acl"])["fs-acl"]
            self.assertEqual([e for e, _ in admin.create_acls(grant)], [0])
        with aw.connect(broker, "alice", "alice-secret") as alice:
            r = fetch(alice, [(tid, [(0, 0, MAX)])], session_id=0, session_epoch=0)
            sid = r["session_id"]
            self.assertNotEqual(sid, 0)
            self.assertEqual(r["partitions"][(tid, 0)]["error_code"], 0)
            # READ is taken away: the session's partition answers TOPIC_AUTHORIZATION_FAILED.
            with aw.connect(broker, "admin", "admin-secret") as admin:
                self.assertEqual([len(m) for _, _, m in admin.delete_acls(
                    [aw.acl_filter(name="fs-acl")])], [1])
            r = fetch(alice, [], session_id=sid, session_epoch=1)
            self.assertEqual(r["order"], [(tid, 0)])
            self.assertEqual(r["partitions"][(tid, 0)]["error_code"], TOPIC_AUTHORIZATION_FAILED)
            self.assertFalse(r["partitions"][(tid, 0)]["records"])


class FetchSessionCacheLimitTest(Base):
    overrides = {"max.incremental.fetch.session.cache.slots": "1"}

    def test_a_full_cache_serves_full_fetches_without_a_session(self):
        self.produce(0, b"v")
        t = self.tid
        with kw.connect(self.broker) as first, kw.connect(self.broker) as second:
            self.assertNotEqual(self.full(first, [(0, 0), (1, 0)])["session_id"], 0)
            r = self.full(second, [(0, 0), (1, 0)])
            self.assertEqual((r["error_code"], r["session_id"]), (0, 0))
            self.assertEqual(values(r["partitions"][(t, 0)]), [b"v"])
        self.assertEqual(self.broker.metrics("kaffa_fetch_sessions",
                                             "kaffa_fetch_session_partitions"),
                         {"kaffa_fetch_sessions": 1, "kaffa_fetch_session_partitions": 2})


class NoFetchSessionsTest(Base):
    overrides = {"max.incremental.fetch.session.cache.slots": "0"}

    def test_no_slots_no_sessions(self):
        with kw.connect(self.broker) as conn:
            r = self.full(conn, [(0, 0)])
            self.assertEqual((r["error_code"], r["session_id"], r["order"]),
                             (0, 0, [(self.tid, 0)]))


if __name__ == "__main__":
    unittest.main()
