#!/usr/bin/python3
"""Log compaction (cleanup.policy=compact) against a real broker, with confluent_kafka.

The broker runs with log.cleaner.backoff.ms=200 so that cleaner passes come quickly; every wait
is on an observable condition (segment files on disk, /metrics) with a deadline, never a fixed
sleep.

- 200,000 updates over 1,000 keys, then tombstones for 100 of them, into a topic with
  segment.bytes=64 KiB, min.cleanable.dirty.ratio=0.01, delete.retention.ms=100: once the
  cleaner has shrunk the log, a consumer from the beginning sees offsets strictly increasing, far
  fewer than 200,000 records, and replaying them gives exactly the latest value of each of the
  900 live keys (the 100 deleted keys are absent or end in a tombstone).
- A second round of updates, and the broker is killed (SIGKILL) while the cleaner works on it
  (as soon as `.cleaned`/`.swap` files appear in the partition directory): after a restart no
  `.cleaned`/`.swap` file is left and every live key still has its latest value.
- Updates and tombstones two days old in a topic with delete.retention.ms of an hour: after the
  cleaning that passes them the tombstones are still read (KIP-534: the cleaning wrote their
  batches' delete horizon, about now + 1 h, seen in the segment files), with the records'
  original timestamps.
- An idempotent producer's only batch, superseded by another producer, stays as an empty batch
  (its producer state): consumers read past it, and the same idempotent producer goes on
  producing after the cleaning and a restart without a sequence error.
- __consumer_offsets (offsets.topic.segment.bytes=4096, one partition) is compacted: 1,500
  commits of one group shrink it, and the last committed offset survives a restart, both clean
  and after SIGKILL.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import group_util as gu  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

DEADLINE_S = 120.0
KEYS = 1000
DELETED = 100
SEGMENT_BYTES = 65536
OVERRIDES = {
    "log.cleaner.backoff.ms": "200",
    "auto.create.topics.enable": "false",
    "offsets.topic.num.partitions": "1",
    "offsets.topic.segment.bytes": "4096",
    "log.cleaner.min.cleanable.ratio": "0.05",
}


def wait_until(what, cond, timeout=DEADLINE_S, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(interval)


def partition_dir(broker, topic):
    return os.path.join(broker.log_dir, topic + "-0")


def log_bytes(broker, topic):
    """Bytes of the partition's .log files; one the cleaner's swap removes meanwhile counts 0."""
    d = partition_dir(broker, topic)
    total = 0
    for f in os.listdir(d):
        if f.endswith(".log"):
            try:
                total += os.path.getsize(os.path.join(d, f))
            except FileNotFoundError:
                pass
    return total


def swap_files(broker, topic):
    d = partition_dir(broker, topic)
    return [f for f in os.listdir(d) if f.endswith(".cleaned") or f.endswith(".swap")]


def produce(bootstrap, topic, items, timestamp=0):
    """items: iterable of (key, value or None); returns the count acknowledged. A timestamp
    (ms) other than 0 is every record's CreateTime.
    Batches of at most 16 KiB, as Java's default: a batch is never split, so one larger than a
    64 KiB segment gets a segment of its own, and librdkafka's default (up to 10,000 records,
    about 550 KB here, when acks wait long) could leave the never-cleaned active segment alone
    above what wait_cleaned() allows (seen in CI: a 496,663-byte active segment)."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                  "batch.size": 16384, "enable.idempotence": False,
                  "queue.buffering.max.messages": 500000})
    errors, acked = [], [0]

    def done(err, _msg):
        if err is not None:
            errors.append(err)
        else:
            acked[0] += 1
    n = 0
    for key, value in items:
        while True:
            try:
                p.produce(topic, key=key, value=value, partition=0, on_delivery=done,
                          timestamp=timestamp)
                break
            except BufferError:
                p.poll(0.1)
        n += 1
        if n % 10000 == 0:
            p.poll(0)
    p.flush(DEADLINE_S)
    if errors or acked[0] != n:
        raise AssertionError("produce to %s: %d of %d acked, %r" % (topic, acked[0], n, errors[:3]))
    return n


def consume_all(bootstrap, topic, timestamps=False):
    """[(offset, key, value)] from the beginning to the high watermark; with timestamps,
    [(offset, key, value, timestamp ms)]."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "compaction-reader",
                  "enable.auto.commit": False, "enable.partition.eof": True,
                  "auto.offset.reset": "earliest"})
    out = []
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error() is not None:
                if m.error().code() == -191:  # _PARTITION_EOF
                    return out
                raise AssertionError("consumer error: %s" % m.error())
            item = (m.offset(), m.key(), m.value())
            out.append(item + (m.timestamp()[1],) if timestamps else item)
        raise AssertionError("did not reach the end of %s" % topic)
    finally:
        c.close()


def key(i):
    return b"key-%04d" % i


class CompactionTest(unittest.TestCase):
    def setUp(self):
        self.broker = KaffaBroker(overrides=OVERRIDES)
        self.broker.start()

    def tearDown(self):
        self.broker.stop()
        self.broker.cleanup()

    def create_topic(self, name, delete_retention_ms=100):
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        conf = {"cleanup.policy": "compact", "segment.bytes": str(SEGMENT_BYTES),
                "min.cleanable.dirty.ratio": "0.01",
                "delete.retention.ms": str(delete_retention_ms)}
        admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1, config=conf)],
                            operation_timeout=10)[name].result(timeout=30)

    def check_latest(self, topic, expected, max_records):
        records = consume_all(self.broker.bootstrap, topic)
        offsets = [o for o, _, _ in records]
        self.assertEqual(offsets, sorted(set(offsets)), "offsets must strictly increase")
        self.assertLess(len(records), max_records)
        latest = {}
        for _, k, v in records:
            if v is None:
                latest.pop(k, None)
            else:
                latest[k] = v
        self.assertEqual(len(latest), len(expected))
        self.assertEqual(latest, expected)
        return records

    def cleaned_up_to(self, topic):
        """The cleaner-offset-checkpoint's offset for partition 0 of topic (-1 if none yet)."""
        try:
            with open(os.path.join(self.broker.log_dir, "cleaner-offset-checkpoint")) as f:
                lines = f.read().split("\n")
        except FileNotFoundError:
            return -1
        for line in lines[2:]:
            parts = line.split()
            if len(parts) == 3 and parts[0] == topic and parts[1] == "0":
                return int(parts[2])
        return -1

    def wait_cleaned(self, topic):
        """Until the partition's .log files are below 8 segments (the live keys take ~1.5)."""
        try:
            wait_until("the cleaner to shrink %s" % topic,
                       lambda: log_bytes(self.broker, topic) < 8 * SEGMENT_BYTES)
        except AssertionError as e:
            # In the message itself, so that a CI log that keeps only the failure shows the state.
            d = partition_dir(self.broker, topic)
            cleaner = [ln for ln in self.broker.metrics_text().splitlines()
                       if ln.startswith("kaffa_log_cleaner")]
            lines = [ln for ln in self.broker.log_lines() if "cleaner" in ln or "error" in ln]
            print("broker log:\n%s" % self.broker.log_text()[-20000:], file=sys.stderr)
            raise AssertionError("%s\nsegments: %s\ncleaner metrics: %s\ncleaner log lines "
                                 "(last 15):\n%s" % (
                                     e, sorted((f, os.path.getsize(os.path.join(d, f)))
                                               for f in os.listdir(d)),
                                     cleaner, "\n".join(lines[-15:]))) from None

    def test_latest_value_per_key_and_kill_during_cleaning(self):
        topic = "compacted"
        self.create_topic(topic)
        expected = {}

        def updates(rounds, first_key=0):
            for r in range(rounds):
                for i in range(first_key, KEYS):
                    v = b"value-%04d-round-%03d-" % (i, r) + b"x" * 20
                    expected[key(i)] = v
                    yield key(i), v
        produce(self.broker.bootstrap, topic, updates(200))
        self.assertGreater(self.broker.metric("kaffa_topic_bytes_in_total", '{topic="compacted"}'),
                           100 * SEGMENT_BYTES)

        def tombstones():
            for i in range(DELETED):
                expected.pop(key(i))
                yield key(i), None
        produce(self.broker.bootstrap, topic, tombstones())
        self.wait_cleaned(topic)
        self.assertGreaterEqual(self.broker.metric("kaffa_log_cleaner_runs_total"), 1)
        self.assertEqual(self.broker.metric("kaffa_log_cleaner_failures_total"), 0)
        self.assertTrue(os.path.exists(os.path.join(self.broker.log_dir,
                                                    "cleaner-offset-checkpoint")))
        records = self.check_latest(topic, expected, 20000)
        print("first round: %d records after cleaning 200,000 updates and %d tombstones"
              % (len(records), DELETED), file=sys.stderr)

        # Second round; SIGKILL as soon as the cleaner writes or swaps files.
        runs = self.broker.metric("kaffa_log_cleaner_runs_total")
        produce(self.broker.bootstrap, topic, updates(60, DELETED))
        seen = []

        def cleaner_busy():
            seen.extend(swap_files(self.broker, topic))
            return seen or self.broker.metric("kaffa_log_cleaner_runs_total") > runs + 1
        wait_until("the cleaner to start on the second round", cleaner_busy, interval=0.002)
        self.broker.kill9()
        print("killed with cleaner files %s" % sorted(set(seen))[:6], file=sys.stderr)
        self.broker.restart()
        self.assertEqual(swap_files(self.broker, topic), [])
        self.check_latest(topic, expected, 200000)
        # And it goes on cleaning after the restart.
        self.wait_cleaned(topic)
        self.check_latest(topic, expected, 20000)

    def test_tombstones_with_old_timestamps_stay_delete_retention_after_cleaning(self):
        # Records two days old, delete.retention.ms one hour: the cleaning that removes the
        # values the tombstones supersede keeps the tombstones and writes their delete horizon
        # (KIP-534) into the batch header; consumers read the original timestamps back.
        topic = "compacted"
        self.create_topic(topic, delete_retention_ms=3600000)
        started = int(time.time() * 1000)
        old = started - 2 * 86400000
        expected = {}

        def updates(first_key=0):
            for r in range(30):
                for i in range(first_key, KEYS):
                    v = b"v-%d-%d-" % (i, r) + b"z" * 30
                    expected[key(i)] = v
                    yield key(i), v
        produce(self.broker.bootstrap, topic, updates(), timestamp=old)

        def tombstones():
            for i in range(DELETED):
                expected.pop(key(i))
                yield key(i), None
        produce(self.broker.bootstrap, topic, tombstones(), timestamp=old + 1)
        # Updates of the live keys after the tombstones, so that their segments roll and get
        # cleaned.
        produce(self.broker.bootstrap, topic, updates(DELETED), timestamp=old + 2)
        last_tombstone = 30 * KEYS + DELETED - 1
        wait_until("the cleaner to pass the tombstones",
                   lambda: self.cleaned_up_to(topic) > last_tombstone)
        records = consume_all(self.broker.bootstrap, topic, timestamps=True)
        deletes = {k: (o, ts) for o, k, v, ts in records if v is None}
        self.assertEqual(sorted(deletes), [key(i) for i in range(DELETED)])
        self.assertEqual({ts for _, ts in deletes.values()}, {old + 1})
        self.assertEqual({ts for _, _, v, ts in records if v is not None}, {old + 2})
        latest = {}
        for _, k, v, _ in records:
            latest[k] = v
        self.assertEqual({k: v for k, v in latest.items() if v is not None}, expected)

        def horizons():
            """Batch headers of the partition's segment files with the delete horizon bit."""
            found = []
            d = partition_dir(self.broker, topic)
            for f in sorted(os.listdir(d)):
                if not f.endswith(".log"):
                    continue
                try:
                    with open(os.path.join(d, f), "rb") as fh:
                        data = fh.read()
                except FileNotFoundError:  # swapped away by a cleaning meanwhile
                    continue
                pos = 0
                while pos + 61 <= len(data):
                    attrs = int.from_bytes(data[pos + 21:pos + 23], "big")
                    if attrs & 0x40:
                        found.append(int.from_bytes(data[pos + 27:pos + 35], "big"))
                    pos += 12 + int.from_bytes(data[pos + 8:pos + 12], "big")
            return found
        found = wait_until("batches with a delete horizon in the segment files", horizons)
        now = int(time.time() * 1000)  # after every horizon found was written
        for h in found:
            self.assertGreaterEqual(h, started + 3600000 - 1000)  # stamped during this test
            self.assertLessEqual(h, now + 3600000)

    def test_idempotent_producer_batches_and_consumers_after_cleaning(self):
        # A fixed port: the idempotent producer reconnects to the restarted broker by itself.
        self.broker.stop()
        self.broker.cleanup()
        port = gu.free_port()
        self.broker = KaffaBroker(overrides=dict(
            OVERRIDES, listeners="PLAINTEXT://127.0.0.1:%d" % port)).start()
        topic = "compacted"
        self.create_topic(topic)
        idem = Producer({"bootstrap.servers": self.broker.bootstrap, "enable.idempotence": True,
                         "linger.ms": 0})
        errors = []

        def done(err, _msg):
            if err is not None:
                errors.append(err)
        idem.produce(topic, key=b"shared", value=b"from-idempotent", partition=0,
                     on_delivery=done)
        idem.flush(30)
        expected = {b"shared": b"last"}

        def others():
            yield b"shared", b"last"
            for r in range(30):
                for i in range(KEYS):
                    v = b"v-%d-%d-" % (i, r) + b"y" * 30
                    expected[key(i)] = v
                    yield key(i), v
        produce(self.broker.bootstrap, topic, others())
        self.wait_cleaned(topic)

        def first_batch():
            with open(os.path.join(partition_dir(self.broker, topic), "%020d.log" % 0), "rb") as f:
                head = f.read(61)
            return (int.from_bytes(head[0:8], "big"),
                    int.from_bytes(head[43:51], "big", signed=True) >= 0,
                    int.from_bytes(head[57:61], "big"))
        # The idempotent producer's batch (offset 0) is kept, empty: its producer id stays known.
        wait_until("the idempotent producer's batch to be emptied",
                   lambda: first_batch()[2] == 0)
        self.assertEqual(first_batch(), (0, True, 0))
        self.check_latest(topic, expected, 20000)
        idem.produce(topic, key=b"after", value=b"cleaning", partition=0, on_delivery=done)
        idem.flush(30)
        self.broker.stop_and_check()
        self.broker.restart()
        expected[b"after"] = b"cleaning"
        self.check_latest(topic, expected, 20000)
        idem.produce(topic, key=b"after", value=b"restart", partition=0, on_delivery=done)
        idem.flush(60)
        self.assertEqual(errors, [])
        expected[b"after"] = b"restart"
        self.check_latest(topic, expected, 20000)

    def test_consumer_offsets_are_compacted_and_survive_restart(self):
        topic = "compacted"
        self.create_topic(topic)
        produce(self.broker.bootstrap, topic, ((b"k", b"v") for _ in range(10)))
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "committer",
                      "enable.auto.commit": False})
        last = 0
        try:
            for i in range(1, 1501):
                last = i
                res = c.commit(offsets=[TopicPartition(topic, 0, i)], asynchronous=False)
                self.assertIsNone(res[0].error)
        finally:
            c.close()
        written = 1500 * 100  # at least ~100 bytes per commit record batch
        wait_until("__consumer_offsets to be compacted",
                   lambda: log_bytes(self.broker, "__consumer_offsets") < written / 5)

        def committed():
            c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": "committer",
                          "enable.auto.commit": False})
            try:
                return c.committed([TopicPartition(topic, 0)], timeout=30)[0].offset
            finally:
                c.close()
        self.assertEqual(committed(), last)
        self.broker.stop_and_check()
        self.broker.restart()
        self.assertEqual(committed(), last)
        self.broker.kill9()
        self.broker.restart()
        self.assertEqual(committed(), last)


if __name__ == "__main__":
    unittest.main()
