#!/usr/bin/python3
"""Every producing client x every codec, read back by every consuming client.

Producers: confluent_kafka (librdkafka 2.0.2), kafka-python 2.0.2, kafkajs 2.2.4 (node script
js/data_ops.mjs), @platformatic/kafka 1.35 (js/platformatic_ops.mjs), sarama 1.22 (Go,
tests/go/sarama_ops, a SyncProducer set to Kafka 2.1), kcat -P. Codecs: none, gzip, snappy, lz4, zstd. Each (producer, codec) pair
writes 20 records to its own 3-partition topic `pc-<producer>-<codec>` with explicit partitions,
keys (binary), null keys, null values, empty values, and headers (none, one, an empty value,
several with a repeated name); confluent/kafka-python/kafkajs use acks=all, kcat -X acks=all.

Consumers: confluent_kafka Consumer (assign() from the beginning), kafka-python KafkaConsumer
(assign + seek_to_beginning), kafkajs (its own Fetch request through data_ops.mjs: the kafkajs
consumer needs consumer-group APIs, which the broker does not have yet), kcat -C -e with a format
string, sarama (a partition consumer per partition), @platformatic/kafka (a consumer-group member reading every topic from the earliest
offsets; it fetches with Fetch v17, topics by id). Every consumer must read every topic byte-identically (keys, values, headers), in order,
at offsets 0..n-1 per partition — so each client reads what the others wrote.

Raw check: every stored batch of a topic carries the codec its producer was asked for (a broker
that makes librdkafka silently stop compressing shows up here, see protocol-notes trap 3).

Client limits, not broker behaviour:
- kafkajs has only gzip built in (snappy/lz4/zstd need extra codec packages): kafkajs produces
  with none and gzip only; the kafkajs reader (raw Fetch decoding by kafkajs) also only reads the
  topics whose codec it can decompress (none, gzip).
- kafka-python needs python3 codec modules for snappy/lz4/zstd (python-snappy, lz4, zstandard);
  the combinations whose module is missing are skipped, named in the skip message. No api_version
  is passed to kafka-python: it detects the broker from ApiVersions.
- kcat: -Z turns empty keys/values into NULL, so kcat records have no empty non-null value; its
  -H headers apply to a whole invocation, so kcat runs once per partition with that partition's
  header set; header values stay printable for its %h output.
- @platformatic/kafka needs Node.js 20.19.4 or later (Debian 12's nodejs is 18: then its
  producer and consumer are skipped, named in the skip message) and has zstd only from Node.js
  22.15 (node:zlib): on older Node.js it produces and reads the other codecs. Its snappy
  decoder takes raw snappy blocks only (as librdkafka, kcat and itself write them), not the
  xerial framing kafka-python writes (the same bytes confluent_kafka, kafka-python and kcat read
  back here): it does not read the kafka-python snappy topic.
- kafkajs returns headers as an object: a repeated name becomes a list, so only the order among
  values of one name is observable through kafkajs.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import kafka_wire as kw  # noqa: E402
import kafka_records as kr  # noqa: E402
import client_io as cio  # noqa: E402

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
CODEC_IDS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}
PRODUCERS = ["confluent", "kafkapy", "kafkajs", "platformatic", "sarama", "kcat"]
PLATFORMATIC_MISSING = cio.platformatic_missing()  # why it cannot run here, or None
PLATFORMATIC_CODECS = [] if PLATFORMATIC_MISSING else cio.platformatic_codecs()
PARTITIONS = 3
N = 20

HEADER_SETS = [
    (),
    (("h1", b"v1"),),
    (("empty", b""),),
    (("a", b"1"), ("a", b"dup"), ("b", b"x y~")),
]


def topic_name(producer, codec):
    return "pc-%s-%s" % (producer, codec)


def producer_supports(producer, codec):
    if producer == "kafkajs":
        return codec in ("none", "gzip")
    if producer == "kafkapy":
        return cio.kafka_python_available_codecs()[codec]
    if producer == "platformatic":
        return codec in PLATFORMATIC_CODECS
    return True


def make_records(producer, codec):
    """[(partition, key, value, headers)] in production order."""
    recs = []
    for i in range(N):
        p = i % PARTITIONS
        tag = ("%s-%s-%d" % (producer, codec, i)).encode()
        if producer == "kcat":
            headers = HEADER_SETS[[0, 2, 3][p]]  # one header set per kcat invocation
            key = None if i % 5 == 1 else b"k\x00\xff" + tag
            value = None if i % 7 == 3 else b"v|" + tag + bytes(range(32, 200)) + b"abc" * i
        else:
            headers = HEADER_SETS[i % 4]
            key = None if i % 5 == 1 else b"k\x00\xff\n" + tag
            if i % 7 == 3:
                value = None
            elif i % 11 == 5:
                value = b""
            else:
                value = b"v\x00\n|" + tag + bytes(range(256)) + b"abc" * (i * 20)
        recs.append((p, key, value, headers))
    return recs


def expected_by_partition(topic, records):
    out = {(topic, p): [] for p in range(PARTITIONS)}
    for p, key, value, headers in records:
        lst = out[(topic, p)]
        lst.append(cio.Rec(len(lst), key, value, tuple(headers)))
    return out


class ProduceConsumeClientsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.broker = KaffaBroker(overrides={"num.partitions": str(PARTITIONS)})
        cls.broker.__enter__()
        cls.produced = {}      # topic -> records
        cls.produce_errors = {}  # (producer, codec) -> message
        cls.reported = {}      # topic -> what the producer reported
        try:
            combos = [(p, c) for p in PRODUCERS for c in CODECS if producer_supports(p, c)]
            with kw.connect(cls.broker) as conn:
                res = conn.create_topics([(topic_name(p, c), PARTITIONS, 1) for p, c in combos])
            if any(res.values()):
                raise AssertionError("CreateTopics failed: %r" % res)
            for producer, codec in combos:
                topic = topic_name(producer, codec)
                records = make_records(producer, codec)
                try:
                    cls.reported[topic] = cls.produce(producer, codec, topic, records)
                    cls.produced[topic] = records
                except Exception as e:  # noqa: BLE001 — recorded, asserted in test_producers
                    cls.produce_errors[(producer, codec)] = "%s: %s" % (type(e).__name__, e)
        except BaseException:
            cls.broker.kill()
            cls.broker.cleanup()
            raise

    @classmethod
    def produce(cls, producer, codec, topic, records):
        b = cls.broker.bootstrap
        if producer == "confluent":
            return cio.confluent_produce(b, topic, records, codec)
        if producer == "kafkapy":
            return cio.kafka_python_produce(b, topic, records, codec)
        if producer == "kafkajs":
            return cio.kafkajs_produce(b, topic, records, codec)
        if producer == "platformatic":
            return cio.platformatic_produce(b, topic, records, codec)
        if producer == "sarama":
            return cio.sarama_produce(b, topic, records, codec)
        for p in range(PARTITIONS):
            mine = [(k, v) for part, k, v, h in records if part == p]
            headers = [h for part, k, v, h in records if part == p][0]
            cio.kcat_produce(b, topic, p, mine, headers, codec)
        return None

    @classmethod
    def tearDownClass(cls):
        broker = cls.broker
        try:
            alive = broker.alive()
            code = broker.stop()
            if not alive:
                raise AssertionError("kaffa died during the tests (code %s); log:\n%s"
                                     % (code, broker.log_text()))
            if code != 0:
                raise AssertionError("kaffa exited with code %s after SIGTERM; log:\n%s"
                                     % (code, broker.log_text()))
        finally:
            broker.kill()
            broker.cleanup()

    # ---- helpers ----

    def all_partitions(self, codecs=CODECS):
        return [(t, p) for t in sorted(self.produced) for p in range(PARTITIONS)
                if t.rsplit("-", 1)[1] in codecs]

    def check_read(self, reader, got, view=None):
        """got: {(topic, p): [Rec]} from one consumer; compares every produced topic."""
        for (topic, p) in sorted(got):
            if topic not in self.produced:
                continue
            want = expected_by_partition(topic, self.produced[topic])[(topic, p)]
            have = got[(topic, p)]
            if view is not None:
                want = [r._replace(headers=view(r.headers)) for r in want]
            with self.subTest(reader=reader, topic=topic, partition=p):
                self.assertEqual(len(have), len(want),
                                 "%s read %d records from %s-%d, %d were produced"
                                 % (reader, len(have), topic, p, len(want)))
                for h, w in zip(have, want):
                    self.assertEqual(h, w, "%s: %s-%d offset %d differs" % (reader, topic, p,
                                                                           w.offset))

    # ---- tests ----

    def test_producers_succeeded_and_report_offsets(self):
        self.assertEqual(self.produce_errors, {})
        for topic, reported in self.reported.items():
            exp = expected_by_partition(topic, self.produced[topic])
            if topic.startswith("pc-kafkajs-"):
                # kafkajs: one batch per partition, metadata gives its base offset
                self.assertEqual(sorted((m["partition"], m["errorCode"], m["baseOffset"])
                                        for m in reported),
                                 [(p, 0, "0") for p in range(PARTITIONS)], topic)
            elif topic.startswith("pc-platformatic-"):
                # one batch per partition; the client reports each batch's base offset
                self.assertEqual(reported, [(p, 0) for p in range(PARTITIONS)], topic)
            elif reported is not None:
                # per record: the offset the broker assigned is its index in the partition
                want = []
                counters = [0] * PARTITIONS
                for p, *_ in self.produced[topic]:
                    want.append((p, counters[p]))
                    counters[p] += 1
                self.assertEqual(reported, want, topic)
            with kr.connect(self.broker) as conn:
                for p in range(PARTITIONS):
                    self.assertEqual(conn.log_end(topic, p), len(exp[(topic, p)]), topic)
                    self.assertEqual(conn.log_start(topic, p), 0, topic)

    def test_stored_batches_use_the_requested_codec(self):
        with kr.connect(self.broker) as conn:
            for topic in sorted(self.produced):
                codec = topic.rsplit("-", 1)[1]
                # librdkafka (and so kcat) sends a batch uncompressed when compressing would not
                # shrink it, e.g. a lone small record when linger.ms expires early on a loaded
                # machine: each batch is stored with the requested codec or none, and the topic
                # has batches with the codec.
                used = set()
                for p in range(PARTITIONS):
                    batches, hw = conn.read_all_batches(topic, p, records=False)
                    with self.subTest(topic=topic, partition=p):
                        self.assertTrue(batches)
                        codecs = {b.attributes & 7 for b in batches}
                        used |= codecs
                        self.assertLessEqual(codecs, {CODEC_IDS[codec], 0},
                                             "compression of the stored batches of %s-%d"
                                             % (topic, p))
                        # contiguous offsets, no overlap, no gap
                        nxt = 0
                        for b in batches:
                            self.assertEqual(b.base_offset, nxt, batches)
                            nxt = b.last_offset + 1
                        self.assertEqual(nxt, hw)
                self.assertIn(CODEC_IDS[codec], used, "no %s batch stored in %s" % (codec, topic))

    def test_raw_fetch_decodes_uncompressed_and_gzip(self):
        got = {}
        with kr.connect(self.broker) as conn:
            for t, p in self.all_partitions(("none", "gzip")):
                batches, _ = conn.read_all_batches(t, p)
                got[(t, p)] = [cio.Rec(r["offset"], r["key"], r["value"], tuple(r["headers"]))
                               for b in batches for r in b.records]
        self.check_read("raw-fetch-v4", got)

    def test_confluent_consumer_reads_everything(self):
        got = cio.confluent_consume(self.broker.bootstrap, self.all_partitions())
        self.check_read("confluent_kafka", got)

    def test_kafka_python_consumer_reads_everything(self):
        avail = [c for c, ok in cio.kafka_python_available_codecs().items() if ok]
        got = cio.kafka_python_consume(self.broker.bootstrap, self.all_partitions(avail))
        self.check_read("kafka-python", got)
        missing = [c for c in CODECS if c not in avail]
        if missing:
            print("\n[note] kafka-python read only the %s topics: its python codec modules for %s"
                  " are missing" % (avail, missing), file=sys.stderr)

    def test_kafkajs_reads_everything_it_can_decompress(self):
        got = cio.kafkajs_fetch(self.broker.bootstrap, self.all_partitions(("none", "gzip")))
        self.check_read("kafkajs", got, view=cio.kafkajs_headers_view)

    def test_platformatic_consumer_reads_everything_it_can_decompress(self):
        if PLATFORMATIC_MISSING:
            self.skipTest(PLATFORMATIC_MISSING)
        partitions = [(t, p) for t, p in self.all_partitions(PLATFORMATIC_CODECS)
                      if t != topic_name("kafkapy", "snappy")]  # xerial framing: see above
        topics = sorted({t for t, _ in partitions})
        count = sum(len(self.produced[t]) for t in topics)
        got, committed = cio.platformatic_consume(self.broker.bootstrap, "pc-platformatic-reader",
                                                  topics, count)
        for t, p in partitions:
            got.setdefault((t, p), [])
        self.check_read("@platformatic/kafka", got)
        # each partition's committed offset is its log end: the member committed what it read
        ends = {t: [len(expected_by_partition(t, self.produced[t])[(t, p)])
                    for p in range(PARTITIONS)] for t in topics}
        self.assertEqual({t: [int(o) for o in committed[t]] for t in topics}, ends)

    def test_sarama_consumer_reads_everything(self):
        got = cio.sarama_consume(self.broker.bootstrap, self.all_partitions())
        self.check_read("sarama", got)

    def test_platformatic_producer(self):
        if PLATFORMATIC_MISSING:
            self.skipTest(PLATFORMATIC_MISSING)
        self.assertIn(topic_name("platformatic", "lz4"), self.produced)

    def test_kcat_consumer_reads_everything(self):
        got = {}
        for topic in sorted(self.produced):
            got.update(cio.kcat_consume(self.broker.bootstrap, topic))
            for p in range(PARTITIONS):
                got.setdefault((topic, p), [])
        self.check_read("kcat", got)

    def test_kafka_python_producer_codecs(self):
        missing = [c for c, ok in cio.kafka_python_available_codecs().items() if not ok]
        if missing:
            self.skipTest("kafka-python cannot produce %s here: its python codec modules are"
                          " missing (python-snappy / lz4 / zstandard)" % missing)


if __name__ == "__main__":
    unittest.main(verbosity=2)
