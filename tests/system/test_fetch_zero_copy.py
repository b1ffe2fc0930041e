#!/usr/bin/python3
"""Fetch sends record bytes with sendfile(): ~8 MiB produced into one partition and consumed
with confluent_kafka (large fetch sizes) must show up as bytes_sendfile >= 8 MiB in the line the
broker logs at shutdown. kcat then reads the same data again, so the counter must reach at
least twice that.
"""

import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import kafka_wire as kw  # noqa: E402
import client_io as cio  # noqa: E402

MiB = 1 << 20
VALUE_SIZE = 16 * 1024
COUNT = (8 * MiB) // VALUE_SIZE + 8  # a little over 8 MiB of values


def sendfile_bytes(log_text):
    found = re.findall(r"bytes_sendfile=(\d+)", log_text)
    if not found:
        raise AssertionError("no bytes_sendfile=N in the broker log:\n" + log_text[-4000:])
    return int(found[-1])


class FetchZeroCopyTest(unittest.TestCase):
    def test_consumed_bytes_go_through_sendfile(self):
        topic = "zero-copy"
        broker = KaffaBroker()
        self.addCleanup(broker.cleanup)
        self.addCleanup(broker.kill)
        broker.start()
        with kw.connect(broker) as conn:
            self.assertEqual(conn.create_topics([(topic, 1, 1)]), {topic: 0})
        values = [os.urandom(VALUE_SIZE) for _ in range(COUNT)]
        records = [(0, b"%d" % i, v, ()) for i, v in enumerate(values)]
        cio.confluent_produce(broker.bootstrap, topic, records,
                              extra={"linger.ms": 20, "batch.size": 1000000})
        got = cio.confluent_consume(broker.bootstrap, [(topic, 0)],
                                    extra={"fetch.max.bytes": 64 * MiB,
                                           "max.partition.fetch.bytes": 16 * MiB,
                                           "receive.message.max.bytes": 80 * MiB})
        recs = got[(topic, 0)]
        self.assertEqual([r.offset for r in recs], list(range(COUNT)))
        self.assertTrue(all(r.value == v for r, v in zip(recs, values)),
                        "a consumed value differs from the produced one")
        r = subprocess.run([cio.kcat_path(), "-C", "-b", broker.bootstrap, "-t", topic, "-p", "0",
                            "-o", "beginning", "-e", "-q", "-m", "30", "-f", "%o %S\\n",
                            "-X", "fetch.max.bytes=67108864",
                            "-X", "max.partition.fetch.bytes=16777216",
                            "-X", "receive.message.max.bytes=83886080"],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(),
                         ["%d %d" % (i, VALUE_SIZE) for i in range(COUNT)])
        broker.stop_and_check()
        total = sendfile_bytes(broker.log_text())
        self.assertGreaterEqual(total, 2 * 8 * MiB,
                                "only %d bytes went through sendfile() for two reads of %d bytes"
                                " of values" % (total, COUNT * VALUE_SIZE))


if __name__ == "__main__":
    unittest.main(verbosity=2)
