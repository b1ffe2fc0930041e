#!/usr/bin/python3
"""DescribeLogDirs over the raw protocol (no client in Debian has it: kafka-python 2.0.2 and
confluent-kafka 1.9 lack describe_log_dirs): v1 for every partition, v4 (flexible) with a topic
filter and the total and usable bytes.

- the one log directory is reported with its absolute path and no error;
- every hosted partition appears with its segment bytes (a partition holding records is larger
  than an empty one), offset lag 0 and no future log; the internal __consumer_offsets too, once
  a group lookup has created it;
- a filter returns only the named partitions that exist (an unknown one is left out);
- v4 reports the file system's total and usable bytes (usable <= total, both > 0).
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase  # noqa: E402
import group_wire as gw  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402

TOPIC = "logdirs-t"


class DescribeLogDirsTest(BrokerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with kw.connect(cls.broker) as conn:
            assert conn.create_topics([(TOPIC, 3, 1)]) == {TOPIC: 0}
        with kr.connect(cls.broker) as conn:
            batch = kr.encode_batch([(None, b"x" * 1000, [])] * 20)
            assert conn.produce_one(TOPIC, 1, batch)["error_code"] == 0
        with gw.connect(cls.broker) as conn:  # creates __consumer_offsets (as Kafka: first use)
            assert conn.find_coordinator("logdirs-group")["error"] == 0

    def test_v1_all_partitions(self):
        with kw.connect(self.broker) as conn:
            (error, path, parts), = conn.describe_log_dirs()
        self.assertEqual(error, 0)
        self.assertEqual(path, os.path.abspath(self.broker.log_dir))
        self.assertEqual(sorted(parts[TOPIC]), [0, 1, 2])
        self.assertGreater(parts[TOPIC][1][0], 20000)
        self.assertEqual(parts[TOPIC][0][0], 0)
        for size, lag, future in parts[TOPIC].values():
            self.assertEqual((lag, future), (0, 0))
        self.assertIn("__consumer_offsets", parts)

    def test_v4_filter_and_space(self):
        body = kw.header_v2(35, 4, 9)
        body += kw.uvarint(2) + kw.compact_string(TOPIC) + kw.uvarint(3) + kw.i32(1) + kw.i32(7)
        body += kw.uvarint(0) + kw.uvarint(0)
        with kw.connect(self.broker) as conn:
            conn.send(kw.frame(body))
            _, data = conn.read_response(flexible_header=True)
        r = kw.Reader(data)
        r.i32()
        self.assertEqual(r.i16(), 0)

        def partition(r):
            p = (r.i32(), r.i64(), r.i64(), r.i8())
            r.skip_tags()
            return p

        def topic(r):
            t = (r.compact_string(), r.compact_array(partition))
            r.skip_tags()
            return t

        def result(r):
            out = (r.i16(), r.compact_string(), r.compact_array(topic), r.i64(), r.i64())
            r.skip_tags()
            return out
        (error, path, topics, total, usable), = r.compact_array(result)
        r.skip_tags()
        self.assertTrue(r.done())
        self.assertEqual(error, 0)
        self.assertEqual(path, os.path.abspath(self.broker.log_dir))
        self.assertEqual(len(topics), 1)
        name, partitions = topics[0]
        self.assertEqual(name, TOPIC)
        self.assertEqual([p[0] for p in partitions], [1])  # partition 7 does not exist
        self.assertGreater(total, 0)
        self.assertTrue(0 < usable <= total)


if __name__ == "__main__":
    unittest.main()
