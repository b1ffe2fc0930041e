#!/usr/bin/python3
"""Group state across broker restarts (clean SIGTERM and kill -9), with an active group.

The broker listens on a fixed port (picked free by the test) so that members keep their
bootstrap address across the restart. For each restart kind:

- 2 confluent_kafka members (processes, group_member.py) read a 4-partition topic, committing
  after every batch; once some offsets are committed the broker is restarted under them.
- Every commit a member saw acknowledged before the broker went down is still there afterwards
  (OffsetFetch through Consumer.committed() from a separate client is >= it), the members (same
  processes) rejoin and read to the end, and no record below an acknowledged commit is read a
  second time (a record may be read twice only in the uncommitted tail).
- Offsets committed by 10 groups (spread over the partitions of __consumer_offsets) right before
  the restart are all returned afterwards, exactly.

confluent_kafka 1.7.0's AdminClient has no list_consumer_group_offsets (only list_groups), so
OffsetFetch goes through Consumer.committed().
"""

import collections
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import group_util as gu  # noqa: E402

PARTS = 4


class GroupDurabilityTest(unittest.TestCase):
    def setUp(self):
        self.port = gu.free_port()
        self.broker = KaffaBroker(overrides={
            "listeners": "PLAINTEXT://127.0.0.1:%d" % self.port,
            "group.initial.rebalance.delay.ms": "0",
            "group.min.session.timeout.ms": "1000"})
        self.broker.__enter__()
        self.addCleanup(self.broker.cleanup)
        self.addCleanup(self.broker.kill)
        self.addCleanup(gu.kill_all_members)

    def many_group_commits(self, topic, ngroups):
        from confluent_kafka import Consumer, TopicPartition
        want = {}
        for g in range(ngroups):
            group = "dur-many-%d" % g
            c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": group,
                          "enable.auto.commit": False})
            try:
                offs = [TopicPartition(topic, p, 1 + (g * 7 + p) % 50) for p in range(PARTS)]
                res = c.commit(offsets=offs, asynchronous=False)
                for tp in res:
                    self.assertIsNone(tp.error, "commit for %s: %s" % (group, tp.error))
            finally:
                c.close()
            want[group] = {tp.partition: tp.offset for tp in offs}
        return want

    def check_many(self, topic, want):
        for group, offs in want.items():
            self.assertEqual(gu.committed(self.broker.bootstrap, group, topic, PARTS), offs,
                             "offsets of %s after the restart" % group)

    def run_restart(self, kind):
        topic, group = "dur-%s" % kind, "g-dur-%s" % kind
        gu.create_topic(self.broker, topic, PARTS)
        ends = gu.produce_spread(self.broker, topic, PARTS, 3000)
        total = sum(ends.values())
        many = self.many_group_commits(topic, 10)

        ms = [gu.py_member(self.broker.bootstrap, group, topic, "dur-%s-%d" % (kind, i),
                           session_ms=6000, rate=1500) for i in range(2)]
        gu.wait_all(ms, lambda ms: (all(len(m.assigned) == 2 for m in ms)
                                    and sum(max([m.commits.get(p, 0) for m in ms])
                                            for p in range(PARTS)) >= total // 5),
                    "2 members with 2 partitions each and a fifth committed")

        if kind == "kill9":
            self.broker.kill9()
        else:
            self.broker.stop_and_check()
        # everything read now was acknowledged by the broker that is gone
        acked = collections.defaultdict(int)
        before = {}
        for m in ms:
            snap = m.snapshot()
            before[m.name] = sum(len(v) for v in snap[1].values())
            for p, o in snap[2].items():
                acked[p] = max(acked[p], o)
        self.assertLess(sum(before.values()), total, "restart was not mid-way")
        self.broker.restart()
        self.assertEqual(self.broker.port, self.port)

        got = gu.committed(self.broker.bootstrap, group, topic, PARTS)
        for p, o in acked.items():
            self.assertIsNotNone(got[p], "partition %d: committed offset %d lost" % (p, o))
            self.assertGreaterEqual(got[p], o, "partition %d: committed offset went back from "
                                    "%d to %d" % (p, o, got[p]))
        self.check_many(topic, many)

        # the same member processes carry on to the end
        gu.wait_all(ms, lambda ms: gu.covered(ms, ends), "every record read after the restart")
        for m in ms:
            self.assertFalse(m.eof, "%s died" % m.name)
            self.assertGreater(m.nrecords, 0)
        self.assertGreater(sum(m.nrecords for m in ms), sum(before.values()),
                           "nothing read after the restart")
        seen = gu.all_offsets(ms)
        for p in range(PARTS):
            dup = sorted(o for o, n in seen[p].items() if n > 1)
            low = [o for o in dup if o < acked.get(p, 0)]
            self.assertEqual(low, [], "partition %d: records below the acknowledged commit %d "
                             "read again (%d of them, first %r)"
                             % (p, acked.get(p, 0), len(low), low[:5]))
        gu.wait_all(ms, lambda ms: gu.commits_reached(ms, ends), "commits up to the end")
        gu.close_all(ms)
        self.assertEqual(gu.committed(self.broker.bootstrap, group, topic, PARTS), ends)

        # and once more, with nobody active: committed offsets survive another restart
        if kind == "kill9":
            self.broker.kill9()
        else:
            self.broker.stop_and_check()
        self.broker.restart()
        self.assertEqual(gu.committed(self.broker.bootstrap, group, topic, PARTS), ends)
        self.check_many(topic, many)
        self.broker.stop_and_check()

    def test_clean_restart_with_active_group(self):
        self.run_restart("clean")

    def test_kill9_with_active_group(self):
        self.run_restart("kill9")


if __name__ == "__main__":
    unittest.main()
