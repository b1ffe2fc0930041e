#!/usr/bin/python3
"""Idempotent producer: InitProducerId, sequence checks, and exactly-once across kill -9.

(a) InitProducerId v1 and v4 hand out distinct, increasing producer ids with epoch 0; after a
    kill -9 and after a clean restart every new id is above every id handed out before (ids are
    reserved durably); a transactional id gets one from the same blocks, then a new epoch of it.
(b) Raw Produce with producer ids: a retried batch is answered with its original base offset and
    not stored again; a sequence gap gets OUT_OF_ORDER_SEQUENCE_NUMBER (45); a new epoch must
    start at sequence 0; an older epoch gets INVALID_PRODUCER_EPOCH (47). After a kill -9 (state
    rebuilt from the log) and after a clean restart (from the snapshot) the last batch's retry is
    still recognised.
(c) librdkafka (confluent_kafka, enable.idempotence=true) and (d) kafkajs (idempotent: true) send
    the numbers 0..N-1 to one partition of a topic with small segments while the broker is
    kill -9'd and restarted several times on the same port: the partition then holds every number
    exactly once, in order.
"""

import os
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import client_io as cio  # noqa: E402
import group_util as gu  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402

INIT_PRODUCER_ID = 22
KILLS = 4
DEADLINE_S = 120.0
IDEMPOTENT_JS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js",
                             "idempotent_producer.mjs")


def init_producer_id(conn, version, corr, transactional_id=None):
    """InitProducerId v1 (classic) or v4 (flexible) -> (error_code, producer_id, epoch)."""
    if version < 2:
        body = kw.header_v1(INIT_PRODUCER_ID, version, corr) + kw.string(transactional_id) + kw.i32(60000)
    else:
        body = (kw.header_v2(INIT_PRODUCER_ID, version, corr) + kw.compact_string(transactional_id)
                + kw.i32(60000) + kw.i64(-1) + kw.i16(-1) + kw.uvarint(0))
    conn.send(kw.frame(body))
    resp = conn.read_response()
    if resp is None:
        raise AssertionError("connection closed instead of answering InitProducerId v%d" % version)
    got, data = resp
    if got != corr:
        raise AssertionError("correlation id %d, want %d" % (got, corr))
    if version >= 2:
        data = data[1:]  # the response header's empty tagged fields
    _throttle, error, pid, epoch = struct.unpack(">ihqh", data[:16])
    return error, pid, epoch


def create_topic(bootstrap, name, configs=None):
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    fut = admin.create_topics([NewTopic(name, 1, 1, config=configs or {})])[name]
    fut.result(timeout=30)


def read_values(broker, topic):
    with kr.connect(broker) as conn:
        batches, _hw = conn.read_all_batches(topic, 0)
    return [int(r["value"]) for b in batches for r in b.records]


def assert_exactly_once(test, values, count):
    dups = len(values) - len(set(values))
    test.assertEqual(dups, 0, "%d duplicated numbers" % dups)
    test.assertEqual(values, list(range(count)),
                     "first difference at index %s" % next(
                         (i for i, v in enumerate(values) if v != i), len(values)))


class InitProducerIdAndSequences(unittest.TestCase):
    def setUp(self):
        self.broker = KaffaBroker().start()
        self.addCleanup(self.broker.cleanup)

    def ids(self, n, version):
        out = []
        with kw.connect(self.broker) as conn:
            for i in range(n):
                err, pid, epoch = init_producer_id(conn, version, 10 + i)
                self.assertEqual((err, epoch), (0, 0))
                out.append(pid)
        return out

    def test_producer_ids_are_unique_and_never_reused(self):
        seen = self.ids(5, 1) + self.ids(5, 4)
        self.assertEqual(seen, sorted(set(seen)))
        self.broker.kill9()
        self.broker.restart()
        after_crash = self.ids(3, 4)
        self.assertGreater(min(after_crash), max(seen))
        self.assertEqual(self.broker.stop(), 0)
        self.broker.restart()
        after_stop = self.ids(3, 1)
        self.assertGreater(min(after_stop), max(after_crash))
        # A transactional id gets its id from the same blocks, then keeps it with a new epoch.
        with kw.connect(self.broker) as conn:
            err, pid, epoch = init_producer_id(conn, 1, 99, transactional_id="txn-1")
            self.assertEqual((err, epoch), (0, 0))
            self.assertGreater(pid, max(after_stop))
            self.assertEqual(init_producer_id(conn, 4, 100, transactional_id="txn-1"), (0, pid, 1))

    def produce(self, conn, pid, epoch, seq, values):
        batch = kr.encode_batch([(None, str(v).encode(), []) for v in values], producer_id=pid,
                                producer_epoch=epoch, base_sequence=seq)
        return conn.produce_one("idem", 0, batch, version=8)

    def test_retries_gaps_and_epochs(self):
        create_topic(self.broker.bootstrap, "idem")
        pid = self.ids(1, 4)[0]
        with kr.connect(self.broker) as conn:
            self.assertEqual(self.produce(conn, pid, 0, 0, [0, 1, 2])["base_offset"], 0)
            self.assertEqual(self.produce(conn, pid, 0, 3, [3, 4])["base_offset"], 3)
            retry = self.produce(conn, pid, 0, 3, [3, 4])
            self.assertEqual((retry["error_code"], retry["base_offset"]), (0, 3))
            gap = self.produce(conn, pid, 0, 7, [7])
            self.assertEqual(gap["error_code"], 45)
            self.assertIn("Out of order sequence", gap["error_message"] or "")
            self.assertEqual(self.produce(conn, pid, 1, 5, [5])["error_code"], 45)  # new epoch at 5
            self.assertEqual(self.produce(conn, pid, 1, 0, [5])["base_offset"], 5)
            self.assertEqual(self.produce(conn, pid, 0, 5, [6])["error_code"], 47)
            self.assertEqual(conn.log_end("idem", 0), 6)

        # Crash: the state comes back from the log (no snapshot covers the last batches).
        self.broker.kill9()
        self.broker.restart()
        with kr.connect(self.broker) as conn:
            retry = self.produce(conn, pid, 1, 0, [5])
            self.assertEqual((retry["error_code"], retry["base_offset"]), (0, 5))
            self.assertEqual(self.produce(conn, pid, 0, 5, [6])["error_code"], 47)
            self.assertEqual(self.produce(conn, pid, 1, 1, [6])["base_offset"], 6)
        # Clean restart: from the snapshot written at close.
        self.assertEqual(self.broker.stop(), 0)
        self.broker.restart()
        with kr.connect(self.broker) as conn:
            retry = self.produce(conn, pid, 1, 1, [6])
            self.assertEqual((retry["error_code"], retry["base_offset"]), (0, 6))
            self.assertEqual(conn.log_end("idem", 0), 7)
        self.assertEqual(read_values(self.broker, "idem"), [0, 1, 2, 3, 4, 5, 6])


class ExactlyOnceAcrossCrashes(unittest.TestCase):
    """A fixed port, so that the clients reconnect to the restarted broker by themselves."""

    def setUp(self):
        self.port = gu.free_port()
        self.broker = KaffaBroker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:%d" % self.port,
            "num.network.threads": "2"}).start()
        self.addCleanup(self.broker.cleanup)

    def crash_while(self, progress, total, alive):
        """kill -9 and restart the broker KILLS times, each after more progress was acked."""
        for k in range(1, KILLS + 1):
            deadline = time.monotonic() + DEADLINE_S
            while progress() < total * k // (KILLS + 1):
                if not alive():
                    return
                if time.monotonic() > deadline:
                    raise AssertionError("no progress to kill %d: %d acked" % (k, progress()))
                time.sleep(0.02)
            self.broker.kill9()
            self.broker.restart()

    def test_librdkafka_idempotent(self):
        from confluent_kafka import KafkaException, Producer
        topic, count = "exactly-once-rdkafka", 30000
        create_topic(self.broker.bootstrap, topic, {"segment.bytes": "65536"})
        acked = [0]
        errors = []

        def on_delivery(err, _msg):
            if err is not None:
                errors.append(str(err))
            else:
                acked[0] += 1

        producer = Producer({
            "bootstrap.servers": self.broker.bootstrap, "enable.idempotence": True,
            "acks": "all", "linger.ms": 5, "batch.num.messages": 200,
            "message.timeout.ms": 120000, "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 500,
            "error_cb": lambda e: errors.append("fatal: %s" % e) if e.fatal() else None})
        done = threading.Event()

        def produce_all():
            try:
                for i in range(count):
                    while True:
                        try:
                            producer.produce(topic, str(i).encode(), partition=0,
                                             on_delivery=on_delivery)
                            break
                        except BufferError:
                            producer.poll(0.05)
                    producer.poll(0)
                producer.flush(DEADLINE_S)
            except KafkaException as e:
                errors.append(str(e))
            finally:
                done.set()

        t = threading.Thread(target=produce_all, daemon=True)
        t.start()
        self.crash_while(lambda: acked[0], count, lambda: not done.is_set())
        self.assertTrue(done.wait(DEADLINE_S), "producer did not finish")
        self.assertEqual(errors, [])
        self.assertEqual(acked[0], count)
        assert_exactly_once(self, read_values(self.broker, topic), count)

    def test_kafkajs_idempotent(self):
        topic, count = "exactly-once-kafkajs", 6000
        create_topic(self.broker.bootstrap, topic, {"segment.bytes": "65536"})
        proc = subprocess.Popen(
            [cio.node_path(), IDEMPOTENT_JS, self.broker.bootstrap, topic, str(count), "20"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, KAFFA_JS_DIR=cio.JS_DIR))
        self.addCleanup(proc.stderr.close)
        self.addCleanup(proc.stdout.close)
        self.addCleanup(lambda: proc.poll() is None and proc.kill())
        acked = [0]
        lines = []

        def read():
            for line in proc.stdout:
                lines.append(line.strip())
                if line.startswith("acked "):
                    acked[0] = int(line.split()[1])

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        self.crash_while(lambda: acked[0], count, lambda: proc.poll() is None)
        proc.wait(timeout=DEADLINE_S)
        reader.join(timeout=10)
        self.assertEqual(proc.returncode, 0, "kafkajs producer failed: %s\n%s"
                         % (lines[-3:], proc.stderr.read()))
        self.assertEqual(lines[-1], "done")
        assert_exactly_once(self, read_values(self.broker, topic), count)


if __name__ == "__main__":
    unittest.main()
