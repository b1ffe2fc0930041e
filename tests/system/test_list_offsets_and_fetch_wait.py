#!/usr/bin/python3
"""ListOffsets, Fetch long-poll and out-of-range, and Produce's per-partition errors.

- ListOffsets earliest/latest/by timestamp through confluent_kafka (get_watermark_offsets,
  offsets_for_times), kafka-python (beginning_offsets, end_offsets, offsets_for_times), kafkajs
  (admin.fetchTopicOffsets / fetchTopicOffsetsByTimestamp) and raw ListOffsets v1. A timestamp
  between two records gives the first offset whose timestamp is at or after it; one after every
  record gives -1.
- A Fetch parked on an empty partition (raw Fetch v4 with max_wait 120 s, min_bytes 1; and a
  confluent_kafka consumer blocked in consume()) is answered with the record produced after it.
  A parked fetch (answered, still parked, or whose client left) does not hold up SIGTERM.
  A Metadata request pipelined behind a parked fetch on the same connection is answered as of
  when the fetch has been answered, not as of its arrival: sent before a topic was created, it
  lists that topic (a stale answer would name the leaders of its arrival).
- Fetch beyond the log end: raw Fetch answers OFFSET_OUT_OF_RANGE (1); the clients apply
  auto.offset.reset (earliest: read from 0; librdkafka's `error`: the consumer reports it).
- Produce v2 (raw): UNSUPPORTED_VERSION (35) for each partition, nothing stored.
- Produce to an unknown topic or partition (auto.create.topics.enable=false):
  UNKNOWN_TOPIC_OR_PARTITION (3) for that partition, the other partition of the request succeeds.
- A batch above message.max.bytes (Kafka's default 1048588; the broker runs with its default):
  MESSAGE_TOO_LARGE (10), nothing stored; a batch just below the limit is accepted.
- acks=0: no response; the next request on the same connection is answered (its correlation id
  comes first) and sees the acks=0 record.
- The broker's fetch.max.bytes caps every Fetch answer (but never splits a first batch), and a
  consumer still reads everything through the smaller answers.
- A Fetch's max_bytes is spent in request order over partitions owned by different loops: whole
  batches within what is left, a later small batch that fits, only the first non-empty partition
  beyond the budget.
"""

import os
import select
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase, KaffaBroker  # noqa: E402
import kafka_wire as kw  # noqa: E402
import kafka_records as kr  # noqa: E402
import client_io as cio  # noqa: E402

from confluent_kafka import Consumer, KafkaError, TopicPartition  # noqa: E402

DEADLINE_S = 30.0
MESSAGE_MAX_BYTES = 1048588  # Kafka's default message.max.bytes


class ListOffsetsAndFetchWaitTest(BrokerTestCase):
    BROKER_OVERRIDES = {"auto.create.topics.enable": "false"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # topic "ts": 10 records, timestamps T0, T0+1000, ..., T0+9000
        cls.t0 = int(time.time() * 1000) - 3600 * 1000
        with kw.connect(cls.broker) as conn:
            res = conn.create_topics([("ts", 1, 1)])
        assert res == {"ts": 0}, res
        from confluent_kafka import Producer
        p = Producer({"bootstrap.servers": cls.broker.bootstrap, "acks": "all",
                      "linger.ms": 50})
        errors = []
        for i in range(10):
            p.produce("ts", value=b"ts-%d" % i, partition=0, timestamp=cls.t0 + i * 1000,
                      on_delivery=lambda err, msg: errors.append(err) if err else None)
        left = p.flush(DEADLINE_S)
        assert left == 0 and not errors, (left, errors)

    def create(self, name, partitions=1):
        with kw.connect(self.broker) as conn:
            self.assertEqual(conn.create_topics([(name, partitions, 1)]), {name: 0})

    def consumer(self, **extra):
        conf = {"bootstrap.servers": self.broker.bootstrap, "group.id": "kaffa-systest-lo",
                "enable.auto.commit": False, "enable.auto.offset.store": False,
                "enable.partition.eof": False, "socket.timeout.ms": 30000}
        conf.update(extra)
        c = Consumer(conf)
        self.addCleanup(c.close)
        return c

    def consume_n(self, c, n):
        out = []
        deadline = time.monotonic() + DEADLINE_S
        while len(out) < n:
            self.assertLess(time.monotonic(), deadline, "consumed %d of %d" % (len(out), n))
            for m in c.consume(num_messages=n - len(out), timeout=1.0):
                self.assertIsNone(m.error(), m.error() and str(m.error()))
                out.append(m)
        return out

    # ---- ListOffsets ----

    def test_confluent_watermarks_and_offsets_for_times(self):
        c = self.consumer()
        self.assertEqual(c.get_watermark_offsets(TopicPartition("ts", 0), timeout=DEADLINE_S),
                         (0, 10))
        for ts, want in ((self.t0 + 4500, 5), (self.t0 + 4000, 4), (self.t0 - 5, 0),
                         (self.t0 + 9000, 9), (self.t0 + 9001, -1)):
            got = c.offsets_for_times([TopicPartition("ts", 0, ts)], timeout=DEADLINE_S)
            self.assertEqual((got[0].error, got[0].offset), (None, want), "timestamp T0%+d"
                             % (ts - self.t0))

    def test_kafka_python_offsets(self):
        from kafka import KafkaConsumer, TopicPartition as KTP
        c = KafkaConsumer(bootstrap_servers=self.broker.bootstrap, group_id=None,
                          request_timeout_ms=30000)
        self.addCleanup(c.close)
        tp = KTP("ts", 0)
        self.assertEqual(c.beginning_offsets([tp]), {tp: 0})
        self.assertEqual(c.end_offsets([tp]), {tp: 10})
        got = c.offsets_for_times({tp: self.t0 + 4500})[tp]
        self.assertEqual((got.offset, got.timestamp), (5, self.t0 + 5000))
        self.assertIsNone(c.offsets_for_times({tp: self.t0 + 10000})[tp])

    def test_kafkajs_offsets(self):
        res = cio.kafkajs_offsets(self.broker.bootstrap, "ts", self.t0 + 4500)
        self.assertEqual([(x["partition"], x["offset"], x["high"], x["low"]) for x in res["latest"]],
                         [(0, "10", "10", "0")])
        self.assertEqual([(x["partition"], x["offset"]) for x in res["byTimestamp"]], [(0, "5")])

    def test_raw_list_offsets_v1(self):
        with kr.connect(self.broker) as conn:
            got = conn.list_offsets("ts", [(0, kr.EARLIEST)])[("ts", 0)]
            self.assertEqual((got["error_code"], got["offset"]), (0, 0))
            got = conn.list_offsets("ts", [(0, kr.LATEST)])[("ts", 0)]
            self.assertEqual((got["error_code"], got["offset"]), (0, 10))
            got = conn.list_offsets("ts", [(0, self.t0 + 2500)])[("ts", 0)]
            self.assertEqual((got["error_code"], got["offset"], got["timestamp"]),
                             (0, 3, self.t0 + 3000))
            got = conn.list_offsets("ts", [(0, self.t0 + 99999)])[("ts", 0)]
            self.assertEqual((got["error_code"], got["offset"], got["timestamp"]), (0, -1, -1))
            got = conn.list_offsets("ts", [(5, kr.LATEST)])[("ts", 5)]
            self.assertEqual(got["error_code"], kr.UNKNOWN_TOPIC_OR_PARTITION)
            got = conn.list_offsets("no-such", [(0, kr.LATEST)])[("no-such", 0)]
            self.assertEqual(got["error_code"], kr.UNKNOWN_TOPIC_OR_PARTITION)

    # ---- Fetch long-poll ----

    def test_consumer_blocked_in_consume_receives_later_record(self):
        self.create("park-cfk")
        c = self.consumer(**{"fetch.wait.max.ms": 10000})
        c.assign([TopicPartition("park-cfk", 0, 0)])
        polled_once = threading.Event()
        received = []
        errors = []

        def run():
            deadline = time.monotonic() + DEADLINE_S
            while not received and time.monotonic() < deadline:
                for m in c.consume(num_messages=1, timeout=0.5):
                    if m.error():
                        errors.append(m.error())
                    else:
                        received.append(m)
                polled_once.set()
        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.assertTrue(polled_once.wait(DEADLINE_S))
        self.assertEqual(received, [], "a record arrived before any was produced")
        cio.confluent_produce(self.broker.bootstrap, "park-cfk",
                              [(0, b"late-key", b"late-value", (("h", b"1"),))])
        t.join(DEADLINE_S + 5)
        self.assertEqual(errors, [])
        self.assertEqual([(m.offset(), m.key(), m.value(), m.headers()) for m in received],
                         [(0, b"late-key", b"late-value", [("h", b"1")])])

    # ---- out of range ----

    def test_fetch_beyond_end_is_out_of_range(self):
        self.create("oor")
        cio.confluent_produce(self.broker.bootstrap, "oor",
                              [(0, None, b"oor-%d" % i, ()) for i in range(5)])
        with kr.connect(self.broker) as conn:
            p = conn.fetch([("oor", [(0, 100, 1 << 20)])])[("oor", 0)]
            self.assertEqual(p["error_code"], kr.OFFSET_OUT_OF_RANGE)
            self.assertEqual(p["records"], b"")
            p = conn.fetch([("oor", [(0, 5, 1 << 20)])])[("oor", 0)]  # at the end: fine
            self.assertEqual((p["error_code"], p["high_watermark"], p["records"]), (0, 5, b""))

        c = self.consumer(**{"auto.offset.reset": "earliest"})
        c.assign([TopicPartition("oor", 0, 100)])
        msgs = self.consume_n(c, 5)
        self.assertEqual([(m.offset(), m.value()) for m in msgs],
                         [(i, b"oor-%d" % i) for i in range(5)])

        c2 = self.consumer(**{"auto.offset.reset": "error"})
        c2.assign([TopicPartition("oor", 0, 100)])
        deadline = time.monotonic() + DEADLINE_S
        err = None
        while err is None:
            self.assertLess(time.monotonic(), deadline, "no offset-reset error reported")
            for m in c2.consume(num_messages=1, timeout=1.0):
                self.assertIsNotNone(m.error(), "a record was delivered from offset %d"
                                     % m.offset())
                err = m.error()
        self.assertEqual(err.code(), KafkaError._AUTO_OFFSET_RESET, str(err))

        from kafka import KafkaConsumer, TopicPartition as KTP
        kc = KafkaConsumer(bootstrap_servers=self.broker.bootstrap, group_id=None,
                           auto_offset_reset="earliest", request_timeout_ms=30000)
        self.addCleanup(kc.close)
        tp = KTP("oor", 0)
        kc.assign([tp])
        kc.seek(tp, 100)
        got = []
        deadline = time.monotonic() + DEADLINE_S
        while len(got) < 5:
            self.assertLess(time.monotonic(), deadline, "kafka-python read %r" % got)
            for msgs in kc.poll(timeout_ms=1000).values():
                got += [(m.offset, m.value) for m in msgs]
        self.assertEqual(got, [(i, b"oor-%d" % i) for i in range(5)])

    # ---- Produce errors ----

    def test_produce_v2_is_unsupported_per_partition(self):
        self.create("old-produce", 2)
        batch = kr.encode_batch([(None, b"v2-request", [])])
        with kr.connect(self.broker) as conn:
            resp = conn.produce([("old-produce", [(0, batch), (1, batch)])], version=2)
            self.assertEqual({k: v["error_code"] for k, v in resp.items()},
                             {("old-produce", 0): kr.UNSUPPORTED_VERSION,
                              ("old-produce", 1): kr.UNSUPPORTED_VERSION})
            self.assertEqual(conn.log_end("old-produce", 0), 0)
            self.assertEqual(conn.log_end("old-produce", 1), 0)
            # the connection goes on with a supported version
            ok = conn.produce_one("old-produce", 0, batch, version=3)
            self.assertEqual((ok["error_code"], ok["base_offset"]), (0, 0))

    def test_produce_to_unknown_topic_or_partition(self):
        self.create("known")
        batch = kr.encode_batch([(None, b"x", [])])
        with kr.connect(self.broker) as conn:
            resp = conn.produce([("no-such-topic", [(0, batch)]),
                                 ("known", [(0, batch), (7, batch)])])
            self.assertEqual(resp[("no-such-topic", 0)]["error_code"],
                             kr.UNKNOWN_TOPIC_OR_PARTITION, resp)
            self.assertEqual(resp[("known", 7)]["error_code"], kr.UNKNOWN_TOPIC_OR_PARTITION,
                             resp)
            self.assertEqual((resp[("known", 0)]["error_code"],
                              resp[("known", 0)]["base_offset"]), (0, 0))
            md = conn.metadata(["no-such-topic"], version=1)
            self.assertEqual([(t["name"], t["error_code"]) for t in md["topics"]],
                             [("no-such-topic", kr.UNKNOWN_TOPIC_OR_PARTITION)],
                             "Produce must not create the topic")

    def test_batch_above_message_max_bytes(self):
        self.create("big", 2)
        big = kr.encode_batch([(None, os.urandom(MESSAGE_MAX_BYTES), [])])
        self.assertGreater(len(big), MESSAGE_MAX_BYTES)
        small = kr.encode_batch([(None, b"small", [])])
        with kr.connect(self.broker) as conn:
            resp = conn.produce([("big", [(0, big), (1, small)])])
            self.assertEqual(resp[("big", 0)]["error_code"], kr.MESSAGE_TOO_LARGE, resp)
            self.assertEqual(resp[("big", 1)]["error_code"], 0, resp)
            self.assertEqual(conn.log_end("big", 0), 0)
            # just under the limit is fine
            fits = kr.encode_batch([(None, os.urandom(MESSAGE_MAX_BYTES - 200), [])])
            self.assertLessEqual(len(fits), MESSAGE_MAX_BYTES)
            resp = conn.produce_one("big", 0, fits)
            self.assertEqual((resp["error_code"], resp["base_offset"]), (0, 0))
            batches, hw = conn.read_all_batches("big", 0)
            self.assertEqual(hw, 1)
            self.assertEqual(batches[0].raw[16:], fits[16:])

    def test_acks_zero_gets_no_response(self):
        self.create("acks0")
        with kr.connect(self.broker) as conn:
            conn.send(kr.produce_request(501, 7, [("acks0", [(0, kr.encode_batch(
                [(b"a", b"fire-and-forget-%d" % i, []) for i in range(3)]))])], acks=0))
            conn.send(kr.list_offsets_v1_request(502, [("acks0", [(0, kr.LATEST)])]))
            corr, body = conn.read_response()
            self.assertEqual(corr, 502, "the acks=0 Produce was answered")
            got = kr.parse_list_offsets_v1_response(body)[("acks0", 0)]
            self.assertEqual((got["error_code"], got["offset"]), (0, 3))
            # and nothing else arrives: a further request's answer is the next frame
            conn.send(kr.list_offsets_v1_request(503, [("acks0", [(0, kr.EARLIEST)])]))
            corr, body = conn.read_response()
            self.assertEqual(corr, 503)
            batches, _ = conn.read_all_batches("acks0", 0)
            self.assertEqual([r["value"] for b in batches for r in b.records],
                             [b"fire-and-forget-%d" % i for i in range(3)])


class FetchMaxBytesTest(unittest.TestCase):
    """The broker's fetch.max.bytes caps what a Fetch asks for (Kafka's broker setting): with
    64 KiB, a raw Fetch v4 asking for 64 MiB over four partitions of 160 KiB each gets at most
    64 KiB, whole batches, from the start of the first partitions; a first batch larger than the
    cap still comes whole (KIP-74); and a librdkafka consumer reads every record through answers
    that small."""

    CAP = 64 * 1024
    BATCH_VALUE = 20 * 1024
    BATCHES = 8

    def setUp(self):
        self.broker = KaffaBroker(overrides={"fetch.max.bytes": str(self.CAP)})
        self.addCleanup(self.broker.cleanup)
        self.addCleanup(self.broker.kill)
        self.broker.start()

    def test_answers_are_capped_but_consumers_read_everything(self):
        with kw.connect(self.broker) as conn:
            self.assertEqual(conn.create_topics([("capped", 4, 1), ("big", 1, 1)]),
                             {"capped": 0, "big": 0})
        with kr.connect(self.broker) as conn:
            for p in range(4):
                for b in range(self.BATCHES):
                    batch = kr.encode_batch([(None, bytes([p, b]) * (self.BATCH_VALUE // 2), ())])
                    self.assertEqual(conn.produce_one("capped", p, batch)["error_code"], 0)
            got = conn.fetch([("capped", [(p, 0, 1 << 20) for p in range(4)])], max_bytes=64 << 20)
            sizes = [len(got[("capped", p)]["records"]) for p in range(4)]
            self.assertLessEqual(sum(sizes), self.CAP, sizes)
            self.assertGreater(sizes[0], 2 * self.BATCH_VALUE, sizes)  # not one batch each
            for p in range(4):
                part = got[("capped", p)]
                self.assertEqual((part["error_code"], part["high_watermark"]),
                                 (0, self.BATCHES), p)
                batches = kr.decode_batches(part["records"], allow_partial_tail=False)
                self.assertEqual([b.base_offset for b in batches], list(range(len(batches))), p)

            huge = kr.encode_batch([(None, b"x" * (2 * self.CAP), ())])
            self.assertEqual(conn.produce_one("big", 0, huge)["error_code"], 0)
            part = conn.fetch([("big", [(0, 0, 1 << 20)])], max_bytes=64 << 20)[("big", 0)]
            self.assertEqual(part["error_code"], 0)
            self.assertEqual([len(b.raw) for b in kr.decode_batches(part["records"])],
                             [len(huge)])

        got = cio.confluent_consume(self.broker.bootstrap, [("capped", p) for p in range(4)])
        for p in range(4):
            self.assertEqual([(r.offset, r.value[:2]) for r in got[("capped", p)]],
                             [(b, bytes([p, b])) for b in range(self.BATCHES)], p)


class FetchBudgetTest(unittest.TestCase):
    """max_bytes is spent on the partitions in request order, whichever loops own them (the broker
    runs two): a partition gets whole batches within what is left, a later partition whose first
    batch fits the rest still gets it, and only the first non-empty partition may exceed the
    budget, by one batch; 600 partitions come back whole and in order though each loop reads
    them over several turns. Segments of 30,000 bytes put each big batch in a segment of its own, so
    a read spans several files and is cut between them (FetchMaxBytesTest cuts inside one)."""

    BIG = 20 * 1024  # value bytes of the batches of partitions 0, 1 and 3

    @classmethod
    def setUpClass(cls):
        cls.broker = KaffaBroker(overrides={"num.network.threads": "2",
                                            "log.segment.bytes": "30000"})
        cls.broker.start()
        with kw.connect(cls.broker) as conn:
            assert conn.create_topics([("budget", 5, 1)]) == {"budget": 0}
        # Partitions 0, 1, 3: three batches of ~20 KiB; 2: one batch of ~1 KiB; 4: empty.
        cls.sizes = {}
        with kr.connect(cls.broker) as conn:
            for p, (n, value) in {0: (3, cls.BIG), 1: (3, cls.BIG), 2: (1, 1024),
                                  3: (3, cls.BIG)}.items():
                for b in range(n):
                    batch = kr.encode_batch([(None, bytes([p, b]) * (value // 2), ())])
                    assert conn.produce_one("budget", p, batch)["error_code"] == 0
                    cls.sizes.setdefault(p, []).append(len(batch))
        cls.segments = len([f for f in os.listdir(os.path.join(cls.broker.log_dir, "budget-0"))
                            if f.endswith(".log")])

    @classmethod
    def tearDownClass(cls):
        cls.broker.stop_and_check()
        cls.broker.cleanup()

    def batches_got(self, order, max_bytes):
        """Fetches the partitions in `order` from offset 0 -> [batch count per partition]."""
        with kr.connect(self.broker) as conn:
            got = conn.fetch([("budget", [(p, 0, 1 << 20) for p in order])], max_bytes=max_bytes)
        out = []
        for p in order:
            part = got[("budget", p)]
            self.assertEqual(part["error_code"], 0, p)
            batches = kr.decode_batches(part["records"], allow_partial_tail=False)
            self.assertEqual([len(b.raw) for b in batches], self.sizes.get(p, [])[:len(batches)])
            out.append(len(batches))
        return out

    def test_budget_follows_request_order(self):
        self.assertEqual(self.segments, 3)
        two_big = sum(self.sizes[0][:2])
        budget = two_big + self.sizes[2][0] + 100  # room for two big batches and the small one
        self.assertEqual(self.batches_got([0, 1, 2, 3], budget), [2, 0, 1, 0])
        self.assertEqual(self.batches_got([3, 2, 1, 0], budget), [2, 1, 0, 0])
        self.assertEqual(self.batches_got([1, 3, 0, 2], budget), [2, 0, 0, 1])
        self.assertEqual(self.batches_got([0, 1, 2, 3], 64 << 20), [3, 3, 1, 3])

    def test_many_partitions_per_loop(self):
        """600 partitions, about 300 per loop: each loop reads them over several turns."""
        with kw.connect(self.broker) as conn:
            self.assertEqual(conn.create_topics([("wide", 600, 1)]), {"wide": 0})
        batch = kr.encode_batch([(None, b"w" * 100, ())])
        order = [(p * 7) % 600 for p in range(600)]  # not in index order
        with kr.connect(self.broker) as conn:
            got = conn.produce([("wide", [(p, batch) for p in range(600)])])
            self.assertEqual({r["error_code"] for r in got.values()}, {0})

            def with_data(max_bytes):
                got = conn.fetch([("wide", [(p, 0, 1 << 20) for p in order])],
                                 max_bytes=max_bytes)
                return [p for p in order if got[("wide", p)]["records"]]
            self.assertEqual(with_data(64 << 20), order)
            self.assertEqual(with_data(400 * len(batch) + 10), order[:400])

    def test_only_the_first_non_empty_partition_exceeds_the_budget(self):
        self.assertEqual(self.batches_got([4, 0, 2, 1], 10 * 1024), [0, 1, 0, 0])
        self.assertEqual(self.batches_got([2, 0, 1], 10 * 1024), [1, 0, 0])
        self.assertEqual(self.batches_got([4, 1, 3], 1), [0, 1, 0])


class ParkedFetchTest(unittest.TestCase):
    """Raw Fetch v4 long-polls, each with its own broker: the broker's exit at SIGTERM is part of
    the check (the harness allows 30 s, far below the 120 s max_wait_ms used here, so a broker
    that keeps a parked fetch's timer alive until it expires fails the stop)."""

    MAX_WAIT_MS = 120000

    def setUp(self):
        self.broker = KaffaBroker()
        self.addCleanup(self.broker.cleanup)
        self.addCleanup(self.broker.kill)
        self.broker.start()
        with kw.connect(self.broker) as conn:
            self.assertEqual(conn.create_topics([("park", 1, 1)]), {"park": 0})

    def park(self, conn):
        corr = conn.next_corr()
        conn.send(kr.fetch_v4_request(corr, [("park", [(0, 0, 1 << 20)])],
                                      max_wait_ms=self.MAX_WAIT_MS, min_bytes=1))
        return corr

    def test_parked_fetch_gets_the_new_record_then_clean_exit(self):
        with kr.connect(self.broker) as waiter, kr.connect(self.broker) as producer:
            corr = self.park(waiter)
            # a round trip on another connection first (the broker is up and serving)
            self.assertEqual(producer.log_end("park", 0), 0)
            readable, _, _ = select.select([waiter.sock], [], [], 0)
            self.assertEqual(readable, [], "the fetch was answered before any record existed"
                             " (max_wait_ms=%d, min_bytes=1)" % self.MAX_WAIT_MS)
            resp = producer.produce_one("park", 0, kr.encode_batch([(b"k", b"wake-up", [])]))
            self.assertEqual((resp["error_code"], resp["base_offset"]), (0, 0))
            got, body = waiter.read_response()
            self.assertEqual(got, corr)
            p = kr.parse_fetch_v4_response(body)[("park", 0)]
            self.assertEqual((p["error_code"], p["high_watermark"]), (0, 1))
            recs = [r for b in kr.decode_batches(p["records"]) for r in b.records]
            self.assertEqual([(r["offset"], r["key"], r["value"]) for r in recs],
                             [(0, b"k", b"wake-up")])
        # the answered fetch must not keep the broker from exiting
        self.broker.stop_and_check()

    def test_request_behind_a_parked_fetch_is_handled_after_it(self):
        with kr.connect(self.broker) as waiter, kr.connect(self.broker) as other:
            fetch_corr = self.park(waiter)
            meta_corr = waiter.next_corr()
            waiter.send(kw.metadata_request(meta_corr, 1, None))  # all topics
            self.assertEqual(other.log_end("park", 0), 0)  # both requests have long arrived
            self.assertEqual(other.create_topics([("created-later", 1, 1)]), {"created-later": 0})
            resp = other.produce_one("park", 0, kr.encode_batch([(None, b"wake-up", [])]))
            self.assertEqual(resp["error_code"], 0)
            got, _ = waiter.read_response()
            self.assertEqual(got, fetch_corr)
            got, body = waiter.read_response()
            self.assertEqual(got, meta_corr)
            names = sorted(t["name"] for t in kw.parse_metadata(body, 1)["topics"])
            self.assertEqual(names, ["created-later", "park"],
                             "the Metadata request was answered as of its arrival, before the"
                             " fetch ahead of it on its connection had been answered")

    def test_sigterm_with_a_parked_fetch(self):
        with kr.connect(self.broker) as waiter, kr.connect(self.broker) as other:
            corr = self.park(waiter)
            self.assertEqual(other.log_end("park", 0), 0)
            self.broker.stop_and_check()
            # either answered (nothing, no error) or closed
            resp = waiter.read_response()
            if resp is not None:
                got, body = resp
                self.assertEqual(got, corr)
                p = kr.parse_fetch_v4_response(body)[("park", 0)]
                self.assertEqual((p["error_code"], p["records"]), (0, b""))

    def test_client_gone_while_parked_then_clean_exit(self):
        waiter = kr.connect(self.broker)
        self.park(waiter)
        with kr.connect(self.broker) as other:
            self.assertEqual(other.log_end("park", 0), 0)
        waiter.close()
        with kr.connect(self.broker) as producer:
            resp = producer.produce_one("park", 0, kr.encode_batch([(None, b"x", [])]))
            self.assertEqual(resp["error_code"], 0)
        self.assertTrue(self.broker.alive())
        self.broker.stop_and_check()


if __name__ == "__main__":
    unittest.main(verbosity=2)
