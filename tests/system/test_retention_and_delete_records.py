#!/usr/bin/python3
"""Retention (retention.ms, retention.bytes) and DeleteRecords against a real broker.

The broker runs with log.retention.check.interval.ms=200 so that retention passes come quickly;
every wait is on a condition with a deadline. Topics use segment.bytes=1024 and one record per
batch (~270 bytes), so a segment holds three records.

- retention.ms: records with timestamps an hour old, then fresh ones; the old segments go, the
  earliest offset (ListOffsets through confluent_kafka's get_watermark_offsets) advances past
  them, every fresh record is still there, and a consumer from the beginning starts at the new
  earliest offset. A topic whose every record is old loses them all (the active segment is
  rolled and deleted) and its earliest offset becomes its latest.
- retention.bytes: the partition's .log files are cut to the limit the way Kafka does (what
  remains is at least the limit, and without its oldest segment it would be below it).
- DeleteRecords (raw v0 and v2; neither confluent-kafka 1.7.0 nor kafka-python 2.0.2 have it):
  low_watermark = the requested offset; ListOffsets earliest equals it; a consumer from the
  beginning starts there; segments wholly below it are gone from disk; -1 means the high
  watermark; above the high watermark OFFSET_OUT_OF_RANGE (1); unknown partition
  UNKNOWN_TOPIC_OR_PARTITION (3); an internal topic INVALID_TOPIC_EXCEPTION (17); a compacted
  topic POLICY_VIOLATION (44). The new log start offset survives a restart.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import kafka_wire as kw  # noqa: E402

from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

DEADLINE_S = 30.0
DELETE_RECORDS = 21
OVERRIDES = {"log.retention.check.interval.ms": "200", "auto.create.topics.enable": "false"}


def create_topic(bootstrap, name, config):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    conf = {"segment.bytes": "1024"}
    conf.update(config)
    fut = admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1,
                                        config=conf)], operation_timeout=10)[name]
    fut.result(timeout=DEADLINE_S)


def produce(bootstrap, topic, count, timestamp_ms=None, size=200):
    """`count` records, one batch each, acks=all; returns their offsets."""
    p = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
                  "batch.num.messages": 1, "enable.idempotence": False})
    offsets, errors = [], []

    def done(err, msg):
        if err is not None:
            errors.append(err)
        else:
            offsets.append(msg.offset())
    for i in range(count):
        kwargs = {"partition": 0, "on_delivery": done}
        if timestamp_ms is not None:
            kwargs["timestamp"] = timestamp_ms
        p.produce(topic, value=(b"%06d" % i) * (size // 6), **kwargs)
        p.flush(DEADLINE_S)  # one record per batch
    if errors or len(offsets) != count:
        raise AssertionError("produce to %s: %r" % (topic, errors[:3]))
    return offsets


def consumer(bootstrap):
    return Consumer({"bootstrap.servers": bootstrap, "group.id": "retention-test",
                     "enable.auto.commit": False, "auto.offset.reset": "earliest",
                     "enable.partition.eof": False})


def watermarks(bootstrap, topic):
    c = consumer(bootstrap)
    try:
        return c.get_watermark_offsets(TopicPartition(topic, 0), timeout=DEADLINE_S)
    finally:
        c.close()


def first_consumed_offset(bootstrap, topic):
    c = consumer(bootstrap)
    try:
        c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            m = c.poll(1.0)
            if m is None:
                continue
            if m.error() is not None:
                raise AssertionError("consumer error: %s" % m.error())
            return m.offset()
        raise AssertionError("nothing consumed from %s" % topic)
    finally:
        c.close()


def segment_files(broker, topic):
    """{base offset: size} of the partition's .log files."""
    d = os.path.join(broker.log_dir, topic + "-0")
    return {int(f[:-4]): os.path.getsize(os.path.join(d, f))
            for f in os.listdir(d) if f.endswith(".log")}


def wait_until(what, cond, timeout=DEADLINE_S):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.1)


def delete_records(broker, topics, version=0, timeout_ms=10000):
    """topics: {name: {partition: offset}} -> {(name, partition): (low_watermark, error)}."""
    flexible = version >= 2
    if flexible:
        def arr(items, enc):
            return kw.uvarint(len(items) + 1) + b"".join(enc(x) for x in items)
        s, tags = kw.compact_string, kw.uvarint(0)
    else:
        arr, s, tags = kw.array, kw.string, b""
    body = arr(list(topics.items()), lambda t: s(t[0]) + arr(
        list(t[1].items()), lambda p: kw.i32(p[0]) + kw.i64(p[1]) + tags) + tags)
    body += kw.i32(timeout_ms) + tags
    header = (kw.header_v2 if flexible else kw.header_v1)(DELETE_RECORDS, version, 7)
    with kw.connect(broker) as conn:
        conn.send(kw.frame(header + body))
        resp = conn.read_response(flexible_header=flexible)
    assert resp is not None, "connection closed instead of answering DeleteRecords"
    corr, data = resp
    assert corr == 7
    r = kw.Reader(data)
    r.i32()  # throttle_time_ms
    out = {}

    def partition(name):
        def read(rr):
            index, low, error = rr.i32(), rr.i64(), rr.i16()
            if flexible:
                rr.skip_tags()
            out[(name, index)] = (low, error)
        return read

    def topic(rr):
        name = rr.compact_string() if flexible else rr.string()
        (rr.compact_array if flexible else rr.array)(partition(name))
        if flexible:
            rr.skip_tags()
    (r.compact_array if flexible else r.array)(topic)
    return out


class RetentionTest(unittest.TestCase):
    def test_time_retention_deletes_old_segments(self):
        with KaffaBroker(overrides=OVERRIDES) as broker:
            b = broker.bootstrap
            create_topic(b, "timed", {"retention.ms": "600000"})
            hour_ago = int(time.time() * 1000) - 3600 * 1000
            produce(b, "timed", 30, timestamp_ms=hour_ago)
            produce(b, "timed", 10)  # now
            # A retention pass may run while the old records are still arriving and delete only
            # part of them; a later pass must take the rest: only the segment holding offset 30
            # may keep old records (segments hold at most 5 batches here).
            low, high = wait_until("old segments of 'timed' to go",
                                   lambda: (lambda w: w if w[0] > 24 else None)(
                                       watermarks(b, "timed")))
            self.assertEqual(high, 40)
            self.assertLessEqual(low, 30)  # every fresh record stays
            files = segment_files(broker, "timed")
            self.assertEqual(min(files), low)
            self.assertEqual(first_consumed_offset(b, "timed"), low)

            # All old: everything goes, the active segment is rolled first.
            create_topic(b, "all-old", {"retention.ms": "600000"})
            produce(b, "all-old", 7, timestamp_ms=hour_ago)
            wait_until("'all-old' to be emptied",
                       lambda: watermarks(b, "all-old") == (7, 7))
            self.assertEqual(segment_files(broker, "all-old"), {7: 0})

            # The broker default (log.retention.hours=168) applies without retention.ms; -1
            # keeps everything.
            week_ago = int(time.time() * 1000) - 8 * 24 * 3600 * 1000
            create_topic(b, "default", {})
            create_topic(b, "kept", {"retention.ms": "-1"})
            produce(b, "default", 7, timestamp_ms=week_ago)
            produce(b, "kept", 7, timestamp_ms=week_ago)
            wait_until("'default' to be emptied", lambda: watermarks(b, "default") == (7, 7))
            time.sleep(1.0)  # several more retention passes
            self.assertEqual(watermarks(b, "kept"), (0, 7))

    def test_size_retention_caps_the_log(self):
        with KaffaBroker(overrides=OVERRIDES) as broker:
            b = broker.bootstrap
            create_topic(b, "sized", {"retention.bytes": "3000", "retention.ms": "-1"})
            produce(b, "sized", 40)

            def cut():
                files = segment_files(broker, "sized")
                total = sum(files.values())
                return files if total - files[min(files)] < 3000 else None
            files = wait_until("'sized' to be cut to retention.bytes", cut)
            self.assertGreaterEqual(sum(files.values()), 3000)
            low, high = watermarks(b, "sized")
            self.assertEqual((low, high), (min(files), 40))
            self.assertEqual(first_consumed_offset(b, "sized"), low)


class DeleteRecordsTest(unittest.TestCase):
    def test_delete_records(self):
        with KaffaBroker(overrides=OVERRIDES) as broker:
            b = broker.bootstrap
            create_topic(b, "dr", {})
            create_topic(b, "dr-all", {})
            create_topic(b, "dr-compact", {"cleanup.policy": "compact"})
            produce(b, "dr", 50)
            produce(b, "dr-all", 10)
            before = segment_files(broker, "dr")
            self.assertGreater(len(before), 10)

            res = delete_records(broker, {"dr": {0: 23}}, version=0)
            self.assertEqual(res, {("dr", 0): (23, 0)})
            self.assertEqual(watermarks(b, "dr"), (23, 50))
            self.assertEqual(first_consumed_offset(b, "dr"), 23)
            bases = sorted(segment_files(broker, "dr"))
            self.assertLessEqual(bases[0], 23)  # the segment holding 23 stays...
            self.assertTrue(len(bases) == 1 or bases[1] > 23)  # ...those below it are gone
            self.assertLess(len(bases), len(before))

            # v2 (flexible), several partitions and errors in one request.
            res = delete_records(broker, {"dr": {0: 51, 1: 0}, "dr-all": {0: -1},
                                          "nope": {0: 1}, "__consumer_offsets": {0: 0},
                                          "dr-compact": {0: 0}}, version=2)
            self.assertEqual(res, {("dr", 0): (-1, 1), ("dr", 1): (-1, 3),
                                   ("dr-all", 0): (10, 0), ("nope", 0): (-1, 3),
                                   ("__consumer_offsets", 0): (-1, 17),
                                   ("dr-compact", 0): (-1, 44)})
            self.assertEqual(watermarks(b, "dr-all"), (10, 10))
            # Never backwards.
            self.assertEqual(delete_records(broker, {"dr": {0: 5}}, version=1),
                             {("dr", 0): (23, 0)})

            # Survives a restart.
            broker.stop_and_check()
            broker.restart()
            b = broker.bootstrap
            self.assertEqual(watermarks(b, "dr"), (23, 50))
            self.assertEqual(first_consumed_offset(b, "dr"), 23)
            self.assertEqual(watermarks(b, "dr-all"), (10, 10))
            # New records after a full deletion keep counting from the old end.
            self.assertEqual(produce(b, "dr-all", 1), [10])
            self.assertEqual(first_consumed_offset(b, "dr-all"), 10)


if __name__ == "__main__":
    unittest.main()
