#!/usr/bin/python3
"""kcat (librdkafka 2.0.2) metadata listing against a real broker."""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase  # noqa: E402
import kafka_wire as kw  # noqa: E402

KCAT = shutil.which("kcat") or shutil.which("kafkacat")


class KcatTest(BrokerTestCase):
    @classmethod
    def setUpClass(cls):
        if KCAT is None:
            raise RuntimeError("kcat is not installed (apt-get install kcat)")
        super().setUpClass()

    def kcat(self, *args):
        r = subprocess.run([KCAT, "-b", self.broker.bootstrap, "-m", "30"] + list(args),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, "kcat %s failed:\n%s\n%s" % (args, r.stdout, r.stderr))
        return r

    def kcat_json(self, *args):
        r = self.kcat("-L", "-J", *args)
        return json.loads(r.stdout)

    def create(self, *topics):
        with kw.connect(self.broker) as conn:
            result = conn.create_topics(list(topics))
        self.assertEqual(result, {t[0]: 0 for t in topics})

    def check_broker(self, md):
        self.assertEqual(md["brokers"], [{"id": 0, "name": "127.0.0.1:%d" % self.broker.port}])
        self.assertEqual(md["controllerid"], 0)
        self.assertEqual(md["originating_broker"]["id"], 0)

    def test_list_shows_broker_and_topics(self):
        self.create(("kcat-a", 1, 1), ("kcat-b", 3, 1))
        md = self.kcat_json()
        self.check_broker(md)
        topics = {t["topic"]: t for t in md["topics"]}
        self.assertIn("kcat-a", topics)
        self.assertIn("kcat-b", topics)
        b = topics["kcat-b"]
        self.assertNotIn("error", b)
        self.assertEqual(sorted(p["partition"] for p in b["partitions"]), [0, 1, 2])
        for p in b["partitions"]:
            self.assertEqual(p["leader"], 0)
            self.assertEqual(p["replicas"], [{"id": 0}])
            self.assertEqual(p["isrs"], [{"id": 0}])

    def test_list_one_topic(self):
        self.create(("kcat-one", 4, 1), ("kcat-other", 1, 1))
        md = self.kcat_json("-t", "kcat-one")
        self.check_broker(md)
        self.assertEqual([t["topic"] for t in md["topics"]], ["kcat-one"])
        self.assertEqual(len(md["topics"][0]["partitions"]), 4)

    def test_plain_text_listing(self):
        self.create(("kcat-text", 2, 1))
        out = self.kcat("-L", "-t", "kcat-text").stdout
        self.assertIn("1 brokers:", out)
        self.assertIn("broker 0 at 127.0.0.1:%d" % self.broker.port, out)
        self.assertIn('topic "kcat-text" with 2 partitions:', out)

    def test_listing_reflects_deletion(self):
        self.create(("kcat-gone", 1, 1))
        self.assertIn("kcat-gone", [t["topic"] for t in self.kcat_json()["topics"]])
        with kw.connect(self.broker) as conn:
            conn.send(kw.frame(kw.header_v1(kw.DELETE_TOPICS, 0, 3)
                               + kw.array(["kcat-gone"], kw.string) + kw.i32(30000)))
            corr, body = conn.read_response()
            self.assertEqual(corr, 3)
            r = kw.Reader(body)
            self.assertEqual(r.array(lambda r: (r.string(), r.i16())), [("kcat-gone", 0)])
        self.assertNotIn("kcat-gone", [t["topic"] for t in self.kcat_json()["topics"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
