#!/usr/bin/python3
"""Transactions (exactly-once) with librdkafka's transactional producer, on a single node.

(a) Commit and abort: three transactions over two partitions (commit, abort, commit). A
    read_committed consumer reads exactly the committed records, in order; a read_uncommitted one
    reads all of them; each partition holds a control batch (marker) after each transaction.
(b) An open transaction holds read_committed readers back: its record is visible to
    read_uncommitted, not to read_committed, and the last stable offset (ListOffsets with
    read_committed, as librdkafka's query_watermark_offsets asks) stays at the record's offset
    until the commit moves it past. DescribeTransactions and ListTransactions show it Ongoing
    with its partition, then CompleteCommit; an unknown id is TRANSACTIONAL_ID_NOT_FOUND.
(c) Consume-transform-produce: offsets sent with send_offsets_to_transaction are the group's
    committed offsets after a commit, and are not after an abort.
(d) Fencing: a second producer with the same transactional.id aborts the first one's open
    transaction (its record never becomes visible to read_committed) and the first producer
    gets a fatal fencing error.
(e) Timeout: a transaction left open past transaction.timeout.ms is aborted by the broker; the
    last stable offset then moves past it and read_committed never shows it.
(g) kafkajs: a committed, an aborted and a committed transaction with sendOffsets; its read
    committed consumer reads only the committed records, and the group's offset is the one sent.
(f) kill -9 during an open transaction and after a committed one: after the restart the committed
    records are visible, the open transaction still holds read_committed back, and a new producer
    with the same transactional.id aborts it.
(i) The log cleaner on __consumer_offsets (small segments, delete.retention.ms 0): in an
    exactly-once loop (one record out, offsets sent, commit), the markers of the first ten
    transactions lose their records once later commits superseded those transactions' offsets;
    the group's committed offset is the last one sent, also after a restart (the coordinator
    replays the cleaned partition).
(j) DescribeProducers (what kafka-transactions.sh describe-producers and find-hanging ask) lists
    an idempotent producer with its last sequence, and a transactional one with the first offset
    of its open transaction until the commit, then its marker's coordinator epoch; an invalid
    topic name, an unknown topic and an unknown partition answer Kafka's errors.
(k) A read_committed Fetch whose request budget (max_bytes) cuts a partition's data lists only the
    aborted transactions of what it returns, as Kafka bounds the list by the read's end: none
    that begins in the part cut off, and none when the budget leaves the partition nothing.
(h) With an authorizer (SASL PLAIN, ACLs): DescribeTransactions needs DESCRIBE on the
    transactional id and, as in Kafka, lists only the partitions of topics the principal may
    DESCRIBE; ListTransactions lists only the ids it may DESCRIBE.
"""

import json
import os
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import client_io as cio  # noqa: E402
import kafka_records as kr  # noqa: E402
import acl_wire as aw  # noqa: E402
import fetch_wire as fw  # noqa: E402
import kafka_wire as kw  # noqa: E402
import txn_wire as tw  # noqa: E402
from test_txn_offset_commit import start_acl_broker  # noqa: E402

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

DEADLINE_S = 60.0
TRANSACTIONS_JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js",
                               "transactions.mjs")


def create_topic(bootstrap, name, partitions=1):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(timeout=30)


def txn_producer(bootstrap, txn_id, **extra):
    conf = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5}
    conf.update(extra)
    p = Producer(conf)
    p.init_transactions(30)
    return p


def consume_all(bootstrap, topic, partitions, committed_only):
    """Every record of the partitions up to the end the broker reports (the last stable offset
    for read_committed): {partition: [value str, ...]}."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "reader-%s" % time.monotonic_ns(),
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "isolation.level": "read_committed" if committed_only else "read_uncommitted"})
    try:
        c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        out = {p: [] for p in range(partitions)}
        at_end = set()
        deadline = time.monotonic() + DEADLINE_S
        while len(at_end) < partitions:
            if time.monotonic() > deadline:
                raise AssertionError("partitions %s never reached their end" %
                                     (set(range(partitions)) - at_end))
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                if m.error().code() == -191:  # _PARTITION_EOF
                    at_end.add(m.partition())
                    continue
                raise AssertionError(str(m.error()))
            at_end.discard(m.partition())
            out[m.partition()].append(m.value().decode())
        return out
    finally:
        c.close()


def stable_end(bootstrap, topic, partition=0):
    """(last stable offset, high watermark) of a partition, as librdkafka queries them."""
    ends = []
    for level in ("read_committed", "read_uncommitted"):
        c = Consumer({"bootstrap.servers": bootstrap, "group.id": "wm", "isolation.level": level})
        try:
            ends.append(c.get_watermark_offsets(TopicPartition(topic, partition), timeout=10,
                                                cached=False)[1])
        finally:
            c.close()
    return tuple(ends)


def wait_for(what, predicate):
    deadline = time.monotonic() + DEADLINE_S
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def round_trip(broker, conn, body):
    """Sends one request on conn (a new plain connection when None); the response body."""
    if conn is None:
        with kw.connect(broker) as c:
            return round_trip(broker, c, body)
    conn.send(kw.frame(body))
    return conn.read_response(flexible_header=True)[1]


def describe_transaction(broker, txn_id, conn=None):
    """DescribeTransactions v0 (raw): (error, state, producer id, [(topic, [partitions])])."""
    body = kw.header_v2(65, 0, 7) + kw.uvarint(2) + kw.compact_string(txn_id) + kw.uvarint(0)
    data = round_trip(broker, conn, body)
    r = kw.Reader(data)
    r.i32()
    assert r.uvarint() == 2
    error = r.i16()
    r.compact_string()  # the id
    state = r.compact_string()
    r.i32()  # timeout
    r.i64()  # start time
    pid = r.i64()
    r.i16()  # epoch
    topics = []
    for _ in range(r.uvarint() - 1):
        name = r.compact_string()
        topics.append((name, [r.i32() for _ in range(r.uvarint() - 1)]))
        r.uvarint()
    return error, state, pid, topics


def list_transactions(broker, conn=None):
    """ListTransactions v0 (raw): {transactional id: state}."""
    body = kw.header_v2(66, 0, 8) + kw.uvarint(1) + kw.uvarint(1) + kw.uvarint(0)
    data = round_trip(broker, conn, body)
    r = kw.Reader(data)
    r.i32()
    assert r.i16() == 0
    for _ in range(r.uvarint() - 1):
        r.compact_string()
    out = {}
    for _ in range(r.uvarint() - 1):
        txn_id = r.compact_string()
        r.i64()  # producer id
        state = r.compact_string()
        r.uvarint()
        out[txn_id] = state
    return out


def produce(p, topic, values, partition=None):
    for v in values:
        if partition is None:
            p.produce(topic, value=v.encode())
        else:
            p.produce(topic, value=v.encode(), partition=partition)
    p.flush(30)


class TransactionsTest(unittest.TestCase):
    def setUp(self):
        self.broker = KaffaBroker(overrides={
            "transaction.abort.timed.out.transaction.cleanup.interval.ms": "200",
            "transaction.state.log.num.partitions": "5",
            "offsets.topic.num.partitions": "5",
            "group.initial.rebalance.delay.ms": "0"})
        self.broker.__enter__()
        self.bootstrap = self.broker.bootstrap

    def tearDown(self):
        try:
            self.assertTrue(self.broker.alive(), self.broker.log_text())
            self.assertEqual(self.broker.stop(), 0, self.broker.log_text())
        finally:
            self.broker.kill()
            self.broker.cleanup()

    def test_commit_and_abort(self):
        create_topic(self.bootstrap, "tx", 2)
        p = txn_producer(self.bootstrap, "t-commit")
        for i, commit in enumerate((True, False, True)):
            p.begin_transaction()
            for part in (0, 1):
                produce(p, "tx", ["%s%d-%d-%d" % ("c" if commit else "a", i, part, n)
                                  for n in range(5)], part)
            if commit:
                p.commit_transaction(30)
            else:
                p.abort_transaction(30)
        committed = consume_all(self.bootstrap, "tx", 2, True)
        everything = consume_all(self.bootstrap, "tx", 2, False)
        for part in (0, 1):
            want = ["c%d-%d-%d" % (i, part, n) for i in (0, 2) for n in range(5)]
            self.assertEqual(committed[part], want)
            self.assertEqual(len(everything[part]), 15)
            self.assertEqual([v for v in everything[part] if v.startswith("c")], want)
        # One marker per transaction and partition, in the log files.
        with kr.connect(self.broker) as conn:
            batches, _hw = conn.read_all_batches("tx", 0)
        controls = [b for b in batches if b.attributes & 0x20]
        self.assertEqual(len(controls), 3)
        self.assertTrue(all(b.attributes & 0x10 for b in batches))

    def test_open_transaction_holds_back_read_committed(self):
        create_topic(self.bootstrap, "lso")
        plain = Producer({"bootstrap.servers": self.bootstrap})
        produce(plain, "lso", ["before"])
        p = txn_producer(self.bootstrap, "t-lso")
        p.begin_transaction()
        produce(p, "lso", ["open"])
        self.assertEqual(consume_all(self.bootstrap, "lso", 1, False), {0: ["before", "open"]})
        self.assertEqual(consume_all(self.bootstrap, "lso", 1, True), {0: ["before"]})
        self.assertEqual(stable_end(self.bootstrap, "lso"), (1, 2))
        error, state, _pid, topics = describe_transaction(self.broker, "t-lso")
        self.assertEqual((error, state, topics), (0, "Ongoing", [("lso", [0])]))
        self.assertEqual(list_transactions(self.broker), {"t-lso": "Ongoing"})
        p.commit_transaction(30)
        wait_for("the commit to complete",
                 lambda: describe_transaction(self.broker, "t-lso")[1] == "CompleteCommit")
        self.assertEqual(describe_transaction(self.broker, "nobody")[0], 105)
        self.assertEqual(consume_all(self.bootstrap, "lso", 1, True), {0: ["before", "open"]})
        self.assertEqual(stable_end(self.bootstrap, "lso"), (3, 3))  # the marker is offset 2

    def test_describe_producers_shows_the_open_transaction(self):
        create_topic(self.bootstrap, "dp", 2)
        idem = Producer({"bootstrap.servers": self.bootstrap, "enable.idempotence": True})
        produce(idem, "dp", ["i0", "i1", "i2"], 0)
        p = txn_producer(self.bootstrap, "t-dp")
        p.begin_transaction()
        produce(p, "dp", ["t0", "t1"], 1)

        def describe():
            with tw.connect(self.broker) as conn:
                return conn.describe_producers({"dp": [0, 1, 7], "no-such": [0],
                                                "bad name!": [0]})
        got = describe()
        self.assertEqual({k: v[0] for k, v in got.items()},
                         {("dp", 0): 0, ("dp", 1): 0, ("dp", 7): 3, ("no-such", 0): 3,
                          ("bad name!", 0): 17})
        self.assertIn("character", got[("bad name!", 0)][1])
        [i] = got[("dp", 0)][2]
        self.assertEqual((i["producer_epoch"], i["last_sequence"], i["coordinator_epoch"],
                          i["current_txn_start_offset"]), (0, 2, -1, -1))
        self.assertGreater(i["last_timestamp"], 0)
        [t] = got[("dp", 1)][2]
        self.assertNotEqual(t["producer_id"], i["producer_id"])
        self.assertEqual((t["last_sequence"], t["current_txn_start_offset"]), (1, 0))
        p.commit_transaction(30)
        wait_for("the marker", lambda: describe()[("dp", 1)][2][0]["current_txn_start_offset"]
                 == -1)
        [t] = describe()[("dp", 1)][2]
        self.assertGreaterEqual(t["coordinator_epoch"], 0)
        self.assertEqual(t["last_sequence"], 1)

    def test_offsets_commit_with_the_transaction(self):
        create_topic(self.bootstrap, "in")
        create_topic(self.bootstrap, "out")
        plain = Producer({"bootstrap.servers": self.bootstrap})
        produce(plain, "in", [str(n) for n in range(10)])
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "eos",
                             "enable.auto.commit": False, "auto.offset.reset": "earliest",
                             "isolation.level": "read_committed"})
        consumer.subscribe(["in"])
        got = []
        deadline = time.monotonic() + DEADLINE_S
        while len(got) < 10 and time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is not None and not m.error():
                got.append(m.value().decode())
        self.assertEqual(got, [str(n) for n in range(10)])
        p = txn_producer(self.bootstrap, "t-eos")

        def transform(upto, commit):
            p.begin_transaction()
            produce(p, "out", ["x" + v for v in got[:upto]])
            p.send_offsets_to_transaction([TopicPartition("in", 0, upto)],
                                          consumer.consumer_group_metadata(), 30)
            if commit:
                p.commit_transaction(30)
            else:
                p.abort_transaction(30)

        def committed():
            return consumer.committed([TopicPartition("in", 0)], timeout=10)[0].offset

        transform(4, True)
        self.assertEqual(committed(), 4)
        transform(10, False)
        self.assertEqual(committed(), 4)
        transform(10, True)
        self.assertEqual(committed(), 10)
        consumer.close()
        self.assertEqual(consume_all(self.bootstrap, "out", 1, True),
                         {0: ["x" + v for v in got[:4]] + ["x" + v for v in got]})

    def test_second_producer_fences_the_first(self):
        create_topic(self.bootstrap, "fence")
        first = txn_producer(self.bootstrap, "t-fence")
        first.begin_transaction()
        produce(first, "fence", ["zombie"])
        second = txn_producer(self.bootstrap, "t-fence")  # aborts the first one's transaction
        second.begin_transaction()
        produce(second, "fence", ["live"])
        second.commit_transaction(30)
        with self.assertRaises(KafkaException) as raised:
            first.commit_transaction(30)
        self.assertTrue(raised.exception.args[0].fatal(), str(raised.exception))
        self.assertEqual(consume_all(self.bootstrap, "fence", 1, True), {0: ["live"]})

    def test_the_broker_aborts_a_transaction_past_its_timeout(self):
        create_topic(self.bootstrap, "slow")
        p = txn_producer(self.bootstrap, "t-slow", **{"transaction.timeout.ms": 1500})
        p.begin_transaction()
        produce(p, "slow", ["abandoned"])
        self.assertEqual(stable_end(self.bootstrap, "slow"), (0, 1))
        # The abort marker (offset 1) moves the last stable offset past it.
        wait_for("the timed-out transaction's abort", lambda: stable_end(self.bootstrap, "slow")
                 == (2, 2))
        self.assertEqual(consume_all(self.bootstrap, "slow", 1, True), {0: []})
        self.assertEqual(consume_all(self.bootstrap, "slow", 1, False), {0: ["abandoned"]})

    def test_kill9_keeps_transactions(self):
        create_topic(self.bootstrap, "crash")
        done = txn_producer(self.bootstrap, "t-done")
        done.begin_transaction()
        produce(done, "crash", ["kept"])
        done.commit_transaction(30)
        open_txn = txn_producer(self.bootstrap, "t-open")
        open_txn.begin_transaction()
        produce(open_txn, "crash", ["pending"])
        self.broker.kill9()
        self.broker.restart()
        self.bootstrap = self.broker.bootstrap  # a new port
        self.assertEqual(consume_all(self.bootstrap, "crash", 1, True), {0: ["kept"]})
        self.assertEqual(stable_end(self.bootstrap, "crash"), (2, 3))
        again = txn_producer(self.bootstrap, "t-open")  # fences and aborts the open transaction
        again.begin_transaction()
        produce(again, "crash", ["after"])
        again.commit_transaction(30)
        self.assertEqual(consume_all(self.bootstrap, "crash", 1, True), {0: ["kept", "after"]})

    def test_a_fetch_cut_by_its_budget_lists_only_the_aborted_transactions_it_returns(self):
        create_topic(self.bootstrap, "cut", 2)
        first = kr.encode_batch([(None, b"x" * 3000, ())])
        second = kr.encode_batch([(None, b"y" * 1000, ())])
        with kr.connect(self.broker) as conn:
            self.assertEqual(conn.produce_one("cut", 0, first)["error_code"], 0)
            self.assertEqual(conn.produce_one("cut", 1, second)["error_code"], 0)
        p = txn_producer(self.bootstrap, "cut-txn")
        p.begin_transaction()
        produce(p, "cut", ["aborted"], partition=1)  # offset 1 of partition 1, marker at 2
        p.abort_transaction(30)
        with kw.connect(self.broker) as conn:
            tid = fw.topic_ids(conn, ["cut"])["cut"]

            def partition_1(max_bytes):
                corr = conn.next_corr()
                req = fw.fetch_request(corr, 15, [(tid, [(0, 0, 1 << 20), (1, 0, 1 << 20)])],
                                       max_bytes=max_bytes, isolation_level=1)
                r = fw.parse_fetch_response(conn.round_trip(req, corr, "Fetch v15"))
                return r["partitions"][(tid, 1)]

            whole = partition_1(1 << 20)
            self.assertEqual(whole["last_stable_offset"], 3)
            self.assertEqual([first_offset for _pid, first_offset in whole["aborted"]], [1])
            self.assertGreater(len(whole["records"]), len(second))
            # Partition 0's batch, then room for partition 1's first batch only.
            cut = partition_1(len(first) + len(second))
            self.assertEqual(len(cut["records"]), len(second))
            self.assertEqual([x["value"] for b in kr.decode_batches(cut["records"])
                              for x in b.records], [b"y" * 1000])
            self.assertEqual(cut["aborted"], [])
            # Room for partition 0's batch only.
            nothing = partition_1(len(first))
            self.assertFalse(nothing["records"])
            self.assertEqual(nothing["aborted"], [])

    def test_kafkajs(self):
        create_topic(self.bootstrap, "js")
        out = subprocess.run([cio.node_path(), TRANSACTIONS_JS, self.bootstrap, "js", "js-group"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        self.assertEqual(result["values"], ["c%d" % i for i in range(10)])
        self.assertEqual(result["committed"], "3")


class CleanedMarkersTest(unittest.TestCase):
    def test_the_cleaner_removes_markers_of_finished_transactions(self):
        broker = KaffaBroker(overrides={
            "offsets.topic.num.partitions": "1",
            "offsets.topic.segment.bytes": "1024",
            "transaction.state.log.num.partitions": "1",
            "log.cleaner.backoff.ms": "50",
            "log.cleaner.min.cleanable.ratio": "0",
            "log.cleaner.delete.retention.ms": "0",
            "group.initial.rebalance.delay.ms": "0"}).start()
        self.addCleanup(broker.cleanup)
        self.addCleanup(broker.stop_and_check)
        create_topic(broker.bootstrap, "eos-in")
        create_topic(broker.bootstrap, "eos-out")
        group = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "eos",
                          "enable.auto.commit": False})
        p = txn_producer(broker.bootstrap, "t-eos")
        sent = [0]

        def one_transaction():
            sent[0] += 1
            p.begin_transaction()
            produce(p, "eos-out", ["r%d" % sent[0]], 0)
            p.send_offsets_to_transaction([TopicPartition("eos-in", 0, sent[0])],
                                          group.consumer_group_metadata(), 30)
            p.commit_transaction(30)

        def markers():
            """{offset of each control batch of __consumer_offsets-0: its record count}"""
            with kr.connect(broker) as conn:
                batches, _hw = conn.read_all_batches("__consumer_offsets", 0, records=False)
            return {b.base_offset: struct.unpack_from(">i", b.raw, 57)[0]  # records count
                    for b in batches if b.attributes & 0x20}

        for _ in range(10):
            one_transaction()
        first = sorted(markers())
        self.assertEqual(len(first), 10)
        deadline = time.monotonic() + DEADLINE_S
        while any(markers().get(o, 0) for o in first):
            self.assertLess(time.monotonic(), deadline, "markers left: %s" % markers())
            one_transaction()
        self.assertEqual(group.committed([TopicPartition("eos-in", 0)], timeout=10)[0].offset,
                         sent[0])
        group.close()
        p.flush(10)
        broker.stop()
        broker.restart()
        after = Consumer({"bootstrap.servers": broker.bootstrap, "group.id": "eos",
                          "enable.auto.commit": False})
        self.addCleanup(after.close)
        self.assertEqual(after.committed([TopicPartition("eos-in", 0)], timeout=30)[0].offset,
                         sent[0])


class TransactionAuthorizationTest(unittest.TestCase):
    def test_describe_leaves_out_topics_the_principal_may_not_describe(self):
        broker = start_acl_broker(self, **{"transaction.state.log.num.partitions": "1"})
        admin_conf = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "PLAIN",
                      "sasl.username": "admin", "sasl.password": "admin-secret"}
        admin = AdminClient(dict(admin_conf, **{"bootstrap.servers": broker.bootstrap}))
        for f in admin.create_topics([NewTopic("seen", 1, 1), NewTopic("hidden", 2, 1)]).values():
            f.result(timeout=30)
        p = txn_producer(broker.bootstrap, "t-acl", **admin_conf)
        p.begin_transaction()
        produce(p, "seen", ["a"], partition=0)
        produce(p, "hidden", ["b"], partition=1)

        def as_alice():
            with aw.connect(broker, "alice", "alice-secret") as alice:
                return describe_transaction(broker, "t-acl", alice), list_transactions(broker, alice)

        def grant(resource_type, name):
            with aw.connect(broker, "admin", "admin-secret") as a:
                acl = aw.acl(resource_type, name, aw.DESCRIBE, "User:alice")
                self.assertEqual([e for e, _ in a.create_acls([acl])], [0])

        described, listed = as_alice()
        self.assertEqual(described[0], aw.TRANSACTIONAL_ID_AUTHORIZATION_FAILED)
        self.assertEqual(listed, {})
        grant(aw.TRANSACTIONAL_ID, "t-acl")
        (error, state, _pid, topics), listed = as_alice()
        self.assertEqual((error, state, topics), (0, "Ongoing", []))
        self.assertEqual(listed, {"t-acl": "Ongoing"})
        grant(aw.TOPIC, "seen")
        self.assertEqual(as_alice()[0][3], [("seen", [0])])
        with aw.connect(broker, "admin", "admin-secret") as a:
            self.assertEqual(describe_transaction(broker, "t-acl", a)[3],
                             [("hidden", [1]), ("seen", [0])])
        p.commit_transaction(30)


if __name__ == "__main__":
    unittest.main()
