#!/usr/bin/python3
"""Consumer groups with kafka-python 2.0.2, kafkajs 2.2.4 and kcat (balanced consumer, -G).

- kafka-python: 2 KafkaConsumer members (separate processes, group_member.py --client kafkapy)
  share a 4-partition topic (2 each, disjoint), commit synchronously after every batch, close;
  OffsetFetch shows exactly what they committed; a new member resumes at those offsets.
- kafkajs: 2 members (js/group_member.mjs, consumer.run with eachMessage) split the partitions
  and read everything; their auto-commits reach the end offsets (checked with OffsetFetch).
- kcat -G: one balanced consumer with -e reads everything; a second run of the same group after
  more records were produced reads only the new records (kcat commits on close).
"""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase  # noqa: E402
import client_io as cio  # noqa: E402
import group_util as gu  # noqa: E402

ALL4 = set(range(4))


def split_between(ms, parts):
    sets = [m.assigned for m in ms]
    if not all(sets):
        return False
    union = set().union(*sets)
    return union == parts and sum(len(s) for s in sets) == len(parts)


class OtherClientsGroupsTest(BrokerTestCase):
    BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0",
                        "group.min.session.timeout.ms": "1000"}

    def tearDown(self):
        gu.kill_all_members()

    def test_kafka_python_group_commit_and_resume(self):
        topic, group = "kp-grp", "g-kp"
        gu.create_topic(self.broker, topic, 4)
        ends = gu.produce_spread(self.broker, topic, 4, 1500)
        total = sum(ends.values())
        run1 = [gu.py_member(self.broker.bootstrap, group, topic, "kp-%d" % i, client="kafkapy",
                             rate=1000) for i in range(2)]
        gu.wait_all(run1, lambda ms: (split_between(ms, ALL4)
                                      and all(len(m.assigned) == 2 for m in ms)
                                      and sum(max([m.commits.get(p, 0) for m in ms])
                                              for p in ALL4) >= total // 5),
                    "2 kafka-python members with 2 partitions each and some commits")
        gu.close_all(run1)
        consumed1 = gu.all_offsets(run1)
        self.assertLess(sum(len(c) for c in consumed1.values()), total)
        reported = {}
        for m in run1:
            for p, o in m.commits.items():
                reported[p] = max(reported.get(p, 0), o)
        got = gu.committed(self.broker.bootstrap, group, topic, 4)
        self.assertEqual(got, {p: reported.get(p) for p in ALL4})

        m3 = gu.py_member(self.broker.bootstrap, group, topic, "kp-3", client="kafkapy")
        m3.wait(lambda m: gu.covered(run1 + [m], ends), "the rest of the records")
        m3.wait(lambda m: gu.commits_reached([m], {p: e for p, e in ends.items()
                                                   if (got[p] or 0) < e}), "commits to the end")
        m3.close()
        for p in ALL4:
            offs = sorted(m3.records.get(p, ()))
            start = got[p] or 0
            if start < ends[p]:
                self.assertEqual(offs[0], start, "partition %d: resumed at %d, committed %d"
                                 % (p, offs[0], start))
            else:
                self.assertEqual(offs, [])
        self.assertEqual(gu.committed(self.broker.bootstrap, group, topic, 4), ends)

    def test_kafkajs_group(self):
        topic, group = "js-grp", "g-js"
        gu.create_topic(self.broker, topic, 4)
        ends = gu.produce_spread(self.broker, topic, 4, 500)
        ms = [gu.js_member(self.broker.bootstrap, group, topic, "kjs-%d" % i, session_ms=6000)
              for i in range(2)]
        gu.wait_all(ms, lambda ms: split_between(ms, ALL4), "2 kafkajs members sharing 4 partitions")
        gu.wait_all(ms, lambda ms: gu.covered(ms, ends), "every record read")

        def committed_to_end(ms):
            return all(max([m.commits.get(p, 0) for m in ms]) == ends[p] for p in ALL4)
        gu.wait_all(ms, committed_to_end, "auto-commits up to the end offsets")
        gu.close_all(ms)
        self.assertEqual(gu.committed(self.broker.bootstrap, group, topic, 4), ends)

    def kcat_group_read(self, group, topic):
        r = subprocess.run([cio.kcat_path(), "-b", self.broker.bootstrap, "-G", group, topic,
                            "-e", "-q", "-f", "%p %o\\n", "-X", "auto.offset.reset=earliest",
                            "-X", "session.timeout.ms=6000"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, "kcat -G failed:\n%s" % r.stderr.decode("replace"))
        out = {}
        for line in r.stdout.decode().splitlines():
            p, o = line.split()
            out.setdefault(int(p), []).append(int(o))
        return out

    def test_kcat_balanced_consumer(self):
        topic, group = "kc-grp", "g-kc"
        gu.create_topic(self.broker, topic, 3)
        ends = gu.produce_spread(self.broker, topic, 3, 200)
        got = self.kcat_group_read(group, topic)
        self.assertEqual({p: sorted(v) for p, v in got.items()},
                         {p: list(range(ends[p])) for p in range(3)})
        self.assertEqual(gu.committed(self.broker.bootstrap, group, topic, 3), ends)
        ends2 = gu.produce_spread(self.broker, topic, 3, 30, tag=b"more")
        got2 = self.kcat_group_read(group, topic)
        self.assertEqual({p: sorted(v) for p, v in got2.items()},
                         {p: list(range(ends[p], ends2[p])) for p in range(3)})


if __name__ == "__main__":
    unittest.main()
