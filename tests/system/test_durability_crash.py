#!/usr/bin/python3
"""Durability: kill -9 under acks=all load, a torn segment tail, and a corrupt produced batch.

(a) A confluent_kafka producer (acks=all, 3 partitions) runs in a thread and records every
    acknowledged (partition, offset, value). Once at least MIN_ACKS are acknowledged the broker
    gets SIGKILL; it is restarted on the same data directory. Every acknowledged record must be
    there at its acknowledged offset; the log itself (raw Fetch, CRC-checked batches) must have
    contiguous, strictly increasing offsets (no batch twice, no gap); and production and
    consumption go on after the restart. (A process kill loses nothing from the page cache, so
    acks=all must mean "kept", fsync or not.)
(b) After a clean stop, the active segment's .log is cut at a random byte inside one of its last
    batches. On restart, every batch before the cut is served byte-identically, nothing after;
    ListOffsets latest is the base offset of the cut batch; a new produce lands exactly there and
    is readable (also after one more restart), i.e. the torn bytes were removed, not appended
    after. The random cut is printed (KAFFA_TEST_SEED reproduces it).
(c) One Produce request (v3 and v7) with a good batch for partition 0 and a batch with one
    flipped byte (CRC32C no longer matches) for partition 1: partition 1 gets CORRUPT_MESSAGE
    (2), partition 0 succeeds, and nothing of the bad batch is stored.
(d) num.recovery.threads.per.data.dir=3 (Kafka's pool that opens the logs at start-up and
    closes them at shutdown): after kill -9 with a torn tail on every third of 12 partitions,
    each partition is recovered to exactly the batches written before, whichever thread opens
    it; the value is shown by DescribeConfigs and may change without a restart (at most double
    or half, with Kafka's message), and the clean shutdown that follows leaves every log whole.
"""

import os
import random
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import kafka_wire as kw  # noqa: E402
import kafka_records as kr  # noqa: E402
import client_io as cio  # noqa: E402
import config_wire as cw  # noqa: E402

MIN_ACKS = 3000
DEADLINE_S = 60.0


def create_topic(broker, name, partitions):
    with kw.connect(broker) as conn:
        res = conn.create_topics([(name, partitions, 1)])
    if res != {name: 0}:
        raise AssertionError("CreateTopics %s: %r" % (name, res))


def segment_path(log_dir, topic, partition):
    return os.path.join(log_dir, "%s-%d" % (topic, partition), "%020d.log" % 0)


class AckedProducer(threading.Thread):
    """Produces to `topic` until stopped, recording each acknowledged (partition, offset, value)."""

    def __init__(self, bootstrap, topic, partitions):
        super().__init__(daemon=True)
        from confluent_kafka import Producer
        self.producer = Producer({
            "bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 2,
            "compression.type": "none", "enable.idempotence": False,
            "message.timeout.ms": 20000, "queue.buffering.max.messages": 20000, "retries": 0,
            "reconnect.backoff.ms": 100, "reconnect.backoff.max.ms": 500})
        self.topic = topic
        self.partitions = partitions
        self.acked = []
        self.failed = 0
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.sent = 0

    def on_delivery(self, err, msg):
        with self.cond:
            if err is None:
                self.acked.append((msg.partition(), msg.offset(), msg.value()))
                self.cond.notify_all()
            else:
                self.failed += 1

    def run(self):
        while not self.stopping.is_set():
            value = b"crash-%08d-" % self.sent + b"x" * (self.sent % 200)
            try:
                self.producer.produce(self.topic, value=value, key=b"%d" % self.sent,
                                      partition=self.sent % self.partitions,
                                      on_delivery=self.on_delivery)
                self.sent += 1
            except BufferError:
                self.producer.poll(0.05)
                continue
            self.producer.poll(0)
        self.producer.poll(0)

    def wait_acks(self, n, timeout=DEADLINE_S):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.acked) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("only %d of %d acks within %ss (failed %d)"
                                         % (len(self.acked), n, timeout, self.failed))
                self.cond.wait(left)

    def finish(self):
        """Stops producing and drops whatever was not acknowledged; returns the acks."""
        self.stopping.set()
        self.join(timeout=30)
        self.producer.purge(in_queue=True, in_flight=True, blocking=False)
        self.producer.poll(0)
        self.producer.flush(1)
        with self.cond:
            return list(self.acked)


class CrashDuringProduceTest(unittest.TestCase):
    def test_kill9_keeps_every_acknowledged_record(self):
        topic = "crash-acks"
        broker = KaffaBroker()
        self.addCleanup(broker.cleanup)
        self.addCleanup(broker.kill)
        broker.start()
        create_topic(broker, topic, 3)
        prod = AckedProducer(broker.bootstrap, topic, 3)
        prod.start()
        try:
            prod.wait_acks(MIN_ACKS)
            code = broker.kill9()
        finally:
            acked = prod.finish()
            del prod
        self.assertEqual(code, -9)
        self.assertGreaterEqual(len(acked), MIN_ACKS)
        # acknowledged offsets are unique per partition
        seen = {}
        for p, off, value in acked:
            self.assertNotIn((p, off), seen, "offset acknowledged twice")
            seen[(p, off)] = value

        broker.restart()
        stored = {}
        with kr.connect(broker) as conn:
            for p in range(3):
                batches, hw = conn.read_all_batches(topic, p)
                nxt = 0
                for b in batches:
                    self.assertEqual(b.base_offset, nxt,
                                     "partition %d: batch at %d, expected %d (gap or repeat)"
                                     % (p, b.base_offset, nxt))
                    offs = [r["offset"] for r in b.records]
                    self.assertEqual(offs, list(range(b.base_offset, b.last_offset + 1)))
                    for r in b.records:
                        stored[(p, r["offset"])] = r["value"]
                    nxt = b.last_offset + 1
                self.assertEqual(nxt, hw, "partition %d: batches end at %d, high watermark %d"
                                 % (p, nxt, hw))
        missing = [(p, o) for (p, o) in seen if (p, o) not in stored]
        self.assertEqual(missing[:10], [], "%d acknowledged records lost after kill -9"
                         % len(missing))
        wrong = [(p, o) for (p, o), v in seen.items() if stored[(p, o)] != v]
        self.assertEqual(wrong[:10], [], "acknowledged offsets hold other values")
        # values within a partition never repeat (no batch written twice)
        for p in range(3):
            vals = [v for (pp, o), v in sorted(stored.items()) if pp == p]
            self.assertEqual(len(vals), len(set(vals)), "partition %d holds a value twice" % p)

        # production and consumption go on
        ends = {p: max([o for (pp, o) in stored if pp == p], default=-1) + 1 for p in range(3)}
        more = [(p, b"after-%d" % i, b"after-restart-%d" % i, ()) for i, p in
                enumerate([0, 1, 2] * 10)]
        reported = cio.confluent_produce(broker.bootstrap, topic, more)
        for i, (p, off) in enumerate(reported):
            self.assertEqual(off, ends[p] + i // 3, "offset of a record produced after restart")
        got = cio.confluent_consume(broker.bootstrap, [(topic, p) for p in range(3)])
        for p in range(3):
            recs = got[(topic, p)]
            self.assertEqual([r.offset for r in recs], list(range(ends[p] + 10)))
            self.assertEqual({r.offset: r.value for r in recs if r.offset < ends[p]},
                             {o: v for (pp, o), v in stored.items() if pp == p})
            self.assertEqual([r.value for r in recs[ends[p]:]],
                             [b"after-restart-%d" % i for i in range(30) if i % 3 == p])
        broker.stop_and_check()


class TornSegmentTest(unittest.TestCase):
    def test_cut_inside_last_batches(self):
        self.run_cut(lambda rng, size: rng.randrange(1, size))

    def test_cut_inside_a_batch_header(self):
        # within the 61-byte batch header (length, CRC, counts): only a partial header remains
        self.run_cut(lambda rng, size: rng.randrange(1, 61))

    def run_cut(self, where):
        """where(rng, batch_size) -> the cut position inside the chosen batch."""
        seed = int(os.environ.get("KAFFA_TEST_SEED") or random.randrange(1 << 30))
        rng = random.Random(seed)
        topic = "torn"
        broker = KaffaBroker()
        self.addCleanup(broker.cleanup)
        self.addCleanup(broker.kill)
        broker.start()
        create_topic(broker, topic, 1)
        sent = []  # (base_offset, batch bytes as sent)
        with kr.connect(broker) as conn:
            for i in range(30):
                n = 1 + i % 4
                batch = kr.encode_batch([(b"k%d-%d" % (i, j), b"torn-%d-%d-" % (i, j) + b"z" * (i * 13),
                                          [("i", b"%d" % i)]) for j in range(n)])
                resp = conn.produce_one(topic, 0, batch)
                self.assertEqual(resp["error_code"], 0, resp)
                base = sent[-1][0] + len(kr.decode_batches(sent[-1][1])[0].records) if sent else 0
                self.assertEqual(resp["base_offset"], base)
                sent.append((base, batch))
        broker.stop_and_check()

        path = segment_path(broker.log_dir, topic, 0)
        size = os.path.getsize(path)
        self.assertEqual(size, sum(len(b) for _, b in sent),
                         "the .log holds the batches byte for byte, so its size is their sum")
        with open(path, "rb") as f:
            on_disk = f.read()
        starts = []
        pos = 0
        for base, b in sent:
            starts.append(pos)
            # stored as sent, except base offset (and the partition leader epoch, not in the CRC)
            self.assertEqual(on_disk[pos:pos + 8], kr.i64(base))
            self.assertEqual(on_disk[pos + 8:pos + 12], b[8:12])
            self.assertEqual(on_disk[pos + 16:pos + len(b)], b[16:])
            pos += len(b)
        k = rng.randrange(len(sent) - 5, len(sent))
        cut = starts[k] + where(rng, len(sent[k][1]))
        print("\n[torn segment] seed=%d: cutting %s at byte %d, inside batch %d (bytes %d-%d)"
              % (seed, path, cut, k, starts[k], starts[k] + len(sent[k][1]) - 1), file=sys.stderr)
        os.truncate(path, cut)

        broker.restart()
        expect_end = sent[k][0]
        with kr.connect(broker) as conn:
            self.assertEqual(conn.log_end(topic, 0), expect_end)
            batches, hw = conn.read_all_batches(topic, 0)
            self.assertEqual(hw, expect_end)
            self.assertEqual([b.base_offset for b in batches], [s[0] for s in sent[:k]])
            for b, (base, raw) in zip(batches, sent[:k]):
                self.assertEqual(b.raw[16:], raw[16:], "batch at %d changed" % base)
            # fetch exactly at the end: nothing, no error
            p = conn.fetch([(topic, [(0, expect_end, 1 << 20)])])[(topic, 0)]
            self.assertEqual((p["error_code"], p["records"]), (0, b""))
            # produce goes on at the right offset
            new = kr.encode_batch([(b"new", b"after-the-cut", [])])
            resp = conn.produce_one(topic, 0, new)
            self.assertEqual((resp["error_code"], resp["base_offset"]), (0, expect_end))
            batches, hw = conn.read_all_batches(topic, 0)
            self.assertEqual(hw, expect_end + 1)
            self.assertEqual(batches[-1].records[0]["value"], b"after-the-cut")
        broker.stop_and_check()
        broker.restart()
        with kr.connect(broker) as conn:
            batches, hw = conn.read_all_batches(topic, 0)
            self.assertEqual(hw, expect_end + 1)
            self.assertEqual([b.base_offset for b in batches],
                             [s[0] for s in sent[:k]] + [expect_end])
        broker.stop_and_check()


class RecoveryThreadsTest(unittest.TestCase):
    PARTITIONS = 12

    def test_logs_recovered_on_three_threads(self):
        topic = "recover-many"
        broker = KaffaBroker(overrides={"num.recovery.threads.per.data.dir": "3"})
        self.addCleanup(broker.cleanup)
        self.addCleanup(broker.kill)
        broker.start()
        create_topic(broker, topic, self.PARTITIONS)
        sent = {}
        with kr.connect(broker) as conn:
            for p in range(self.PARTITIONS):
                sent[p] = []
                for i in range(2 + p % 4):
                    batch = kr.encode_batch([(b"k", b"p%d-b%d" % (p, i), [])])
                    resp = conn.produce_one(topic, p, batch)
                    self.assertEqual((resp["error_code"], resp["base_offset"]), (0, i))
                    sent[p].append(b"p%d-b%d" % (p, i))
        self.assertEqual(broker.kill9(), -9)
        torn = range(0, self.PARTITIONS, 3)
        for p in torn:
            with open(segment_path(broker.log_dir, topic, p), "ab") as f:
                f.write(b"\x07" * 40)  # half a batch header: a write the crash tore

        broker.restart()
        text = broker.log_text()
        for p in torn:
            self.assertRegex(text, r"recovered %s-%d: .*truncated 40 bytes" % (topic, p))

        def check_logs():
            with kr.connect(broker) as conn:
                for p in range(self.PARTITIONS):
                    batches, hw = conn.read_all_batches(topic, p)
                    self.assertEqual(hw, len(sent[p]), "partition %d" % p)
                    self.assertEqual([b.records[0]["value"] for b in batches], sent[p])
        check_logs()

        error, entries = cw.describe(broker, cw.BROKER, "0",
                                     ["num.recovery.threads.per.data.dir"])
        self.assertEqual(error, 0)
        value, read_only, source, _ = entries["num.recovery.threads.per.data.dir"]
        self.assertEqual((value, read_only, source), ("3", 0, cw.STATIC_BROKER))

        def set_threads(value):
            (result,) = cw.incremental_alter(
                broker, [(cw.BROKER, "0", [("num.recovery.threads.per.data.dir", cw.SET, value)])])
            return result
        self.assertEqual(set_threads("6"), (0, None))
        self.assertEqual(set_threads("13"), (
            cw.INVALID_REQUEST, "Dynamic thread count update validation failed for "
            "num.recovery.threads.per.data.dir=13, value should not be greater than double the "
            "current value 6"))
        self.assertEqual(set_threads("0")[0], cw.INVALID_REQUEST)
        error, entries = cw.describe(broker, cw.BROKER, "0",
                                     ["num.recovery.threads.per.data.dir"])
        self.assertEqual(entries["num.recovery.threads.per.data.dir"][:3],
                         ("6", 0, cw.DYNAMIC_BROKER))

        broker.stop_and_check()  # closed on six threads
        broker.restart()
        self.assertNotRegex(broker.log_text(), r"recovered %s-" % topic)
        check_logs()
        broker.stop_and_check()


class CorruptBatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = KaffaBroker()
        cls.broker.__enter__()

    @classmethod
    def tearDownClass(cls):
        cls.broker.__exit__(None, None, None)

    def check(self, version, flip_at):
        topic = "corrupt-v%d-%d" % (version, flip_at)
        create_topic(self.broker, topic, 2)
        with kr.connect(self.broker) as conn:
            # something already in partition 1, so "unchanged" is not just "empty"
            pre = conn.produce_one(topic, 1, kr.encode_batch([(b"pre", b"existing", [])]))
            self.assertEqual((pre["error_code"], pre["base_offset"]), (0, 0))
            good = kr.encode_batch([(b"g", b"good-%d" % i, []) for i in range(3)])
            bad = bytearray(kr.encode_batch([(b"b", b"bad-%d" % i, [("h", b"v")])
                                             for i in range(3)]))
            pos = flip_at if flip_at >= 0 else len(bad) + flip_at
            bad[pos] ^= 0x01
            resp = conn.produce([(topic, [(0, good), (1, bytes(bad))])], version=version)
            self.assertEqual(resp[(topic, 1)]["error_code"], kr.CORRUPT_MESSAGE, resp)
            self.assertEqual(resp[(topic, 0)]["error_code"], 0, resp)
            self.assertEqual(resp[(topic, 0)]["base_offset"], 0, resp)
            self.assertEqual(conn.log_end(topic, 1), 1)
            self.assertEqual(conn.log_end(topic, 0), 3)
            batches, _ = conn.read_all_batches(topic, 1)
            self.assertEqual([r["value"] for b in batches for r in b.records], [b"existing"])
            batches, _ = conn.read_all_batches(topic, 0)
            self.assertEqual([r["value"] for b in batches for r in b.records],
                             [b"good-0", b"good-1", b"good-2"])
            # the connection stays usable, and the partition takes a good batch next
            ok = conn.produce_one(topic, 1, kr.encode_batch([(None, b"next", [])]), version)
            self.assertEqual((ok["error_code"], ok["base_offset"]), (0, 1))
        self.assertTrue(self.broker.alive())

    def test_flipped_value_byte_v3(self):
        self.check(3, -3)

    def test_flipped_value_byte_v7(self):
        self.check(7, -3)

    def test_flipped_attributes_byte_v7(self):
        # byte 22: the low byte of `attributes`, covered by the CRC (now claims gzip)
        self.check(7, 22)

    def test_flipped_crc_byte_v3(self):
        self.check(3, 19)


if __name__ == "__main__":
    unittest.main(verbosity=2)
