#!/usr/bin/python3
"""Consumer groups with confluent_kafka (librdkafka 2.0.2) members, each its own process
(group_member.py), so that `kill -9` is a real crash.

- 3 members (range assignor) on a 6-partition topic settle on exactly 2 partitions each; they
  read 60,000 records produced beforehand with acks=all; one member is killed with SIGKILL
  mid-way, the 2 others take its partitions over once its session expires and every record is
  read at least once; a partition taken over is re-read from the victim's last commit (no gap,
  nothing before the commit).
- Members that close (commit + LeaveGroup) and are replaced resume exactly at the committed
  offsets (OffsetFetch agrees with what was committed; nothing below it is read again).
- cooperative-sticky: a 2nd member joining makes the 1st give up only the partitions that move
  (incremental on_revoke/on_assign), never its whole assignment. (confluent_kafka 1.7.0 has no
  Consumer.rebalance_protocol(); incrementality is observed through the callbacks instead.)

Broker: group.initial.rebalance.delay.ms=0 and group.min.session.timeout.ms=1000 so that the
session expiry after the kill takes ~3 s.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase  # noqa: E402
import group_util as gu  # noqa: E402

ALL6 = set(range(6))


class ConfluentGroupsTest(BrokerTestCase):
    BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0",
                        "group.min.session.timeout.ms": "1000"}

    def tearDown(self):
        gu.kill_all_members()

    def member(self, group, topic, name, **kw):
        m = gu.py_member(self.broker.bootstrap, group, topic, name, **kw)
        self.addCleanup(m.kill)
        return m

    def test_three_members_kill9_takeover(self):
        topic, group = "cg-main", "g-main"
        gu.create_topic(self.broker, topic, 6)
        ends = gu.produce_spread(self.broker, topic, 6, 10000)
        self.assertEqual(ends, {p: 10000 for p in range(6)})
        total = sum(ends.values())

        members = [self.member(group, topic, "cfk-%d" % i, session_ms=3000, rate=2500)
                   for i in range(3)]

        def two_each(ms):
            sets = [m.assigned for m in ms]
            return (all(len(s) == 2 for s in sets) and set().union(*sets) == ALL6)
        gu.wait_all(members, two_each, "3 members with 2 partitions each")
        victim, survivors = members[2], members[:2]
        # every member got its 2 partitions through the assignment callback
        for m in members:
            self.assertIn("A", m.kinds())

        # kill -9 the victim once it has committed something in this assignment
        stable_mark = len(victim.events)
        victim.wait(lambda m: any(e[0] == "C" for e in m.events[stable_mark:]),
                    "a commit in the 3-member generation")
        marks = [len(s.events) for s in survivors]
        victim.kill9()
        snaps = [m.snapshot() for m in members]
        vassigned = snaps[2][3]
        consumed_at_kill = sum(len(set(v)) for sn in snaps for v in sn[1].values())
        self.assertLess(consumed_at_kill, total, "the kill did not happen mid-way")
        self.assertEqual(len(vassigned), 2)
        # per partition: the last acknowledged commit and the highest offset read by anyone
        acked = {p: max(sn[2].get(p, 0) for sn in snaps) for p in ALL6}
        read_to = {p: max([max(sn[1].get(p) or [-1]) for sn in snaps]) + 1 for p in ALL6}

        # the survivors take the victim's partitions over after its session expired
        def three_each(ms):
            sets = [m.assigned for m in ms]
            return all(len(s) == 3 for s in sets) and set().union(*sets) == ALL6
        gu.wait_all(survivors, three_each, "2 survivors with 3 partitions each")
        gu.wait_all(survivors, lambda ms: gu.covered(members, ends),
                    "every record read at least once")

        # taken-over partitions resume at the victim's last commit (no gap, nothing older)
        for vp in sorted(vassigned):
            firsts = []
            for s, mark in zip(survivors, marks):
                with s.cond:
                    for idx, p, nbefore in s.assign_marks:
                        if idx >= mark and p == vp and len(s.records[p]) > nbefore:
                            firsts.append(s.records[p][nbefore])
                            break
            self.assertTrue(firsts, "nobody read partition %d after the kill" % vp)
            first = firsts[0]
            self.assertGreaterEqual(first, acked[vp],
                                    "partition %d re-read from %d, below the acknowledged commit"
                                    " %d" % (vp, first, acked[vp]))
            self.assertLessEqual(first, read_to[vp], "partition %d resumed at %d after a gap "
                                 "(read up to %d before the kill)" % (vp, first, read_to[vp] - 1))

        gu.wait_all(survivors, lambda ms: gu.commits_reached(ms, ends), "commits up to the end")
        gu.close_all(survivors)
        self.assertEqual(gu.committed(self.broker.bootstrap, group, topic, 6), ends)

    def test_restart_resumes_from_committed(self):
        topic, group = "cg-resume", "g-resume"
        gu.create_topic(self.broker, topic, 6)
        ends = gu.produce_spread(self.broker, topic, 6, 3000)
        total = sum(ends.values())

        run1 = [self.member(group, topic, "cfk-r1-%d" % i, rate=2000) for i in range(2)]
        gu.wait_all(run1, lambda ms: (all(len(m.assigned) == 3 for m in ms)
                                      and sum(max([m.commits.get(p, 0) for m in ms])
                                              for p in range(6)) >= total // 4),
                    "2 members with 3 partitions each and a quarter committed")
        gu.close_all(run1)
        consumed1 = gu.all_offsets(run1)
        self.assertLess(sum(len(c) for c in consumed1.values()), total,
                        "run 1 read everything before it was closed")
        reported = {}
        for m in run1:
            for p, o in m.commits.items():
                reported[p] = max(reported.get(p, 0), o)
        got = gu.committed(self.broker.bootstrap, group, topic, 6)
        for p in range(6):
            self.assertEqual(got[p], reported.get(p),
                             "OffsetFetch of partition %d after the clean close" % p)
            # nothing unread is committed (a batch whose commit failed in a rebalance may be
            # left uncommitted: that is the tail run 2 reads again)
            if consumed1.get(p):
                self.assertLessEqual(reported.get(p, 0), max(consumed1[p]) + 1,
                                     "partition %d: read up to %d, committed %r"
                                     % (p, max(consumed1[p]), reported.get(p)))

        run2 = [self.member(group, topic, "cfk-r2-%d" % i) for i in range(2)]
        gu.wait_all(run2, lambda ms: gu.covered(run1 + run2, ends),
                    "run 1 + run 2 reading everything")
        gu.wait_all(run2, lambda ms: gu.commits_reached(run1 + run2, ends),
                    "commits up to the end")
        gu.close_all(run2)
        consumed2 = gu.all_offsets(run2)
        for p in range(6):
            start = got[p] or 0
            offs = sorted(consumed2.get(p, ()))
            if start >= ends[p]:
                self.assertEqual(offs, [], "partition %d fully committed but re-read" % p)
                continue
            self.assertTrue(offs, "partition %d not read in run 2" % p)
            self.assertEqual(offs[0], start,
                             "partition %d: run 2 started at %d, committed offset is %d"
                             % (p, offs[0], start))
        self.assertEqual(gu.committed(self.broker.bootstrap, group, topic, 6), ends)

    def test_cooperative_sticky_incremental(self):
        topic, group = "cg-coop", "g-coop"
        gu.create_topic(self.broker, topic, 6)
        ends = gu.produce_spread(self.broker, topic, 6, 2000)
        m1 = self.member(group, topic, "cfk-coop-1", strategy="cooperative-sticky", rate=1000)
        m1.wait(lambda m: m.assigned == ALL6, "all 6 partitions")
        mark = len(m1.events)
        m2 = self.member(group, topic, "cfk-coop-2", strategy="cooperative-sticky", rate=1000)

        def split(ms):
            a, b = ms[0].assigned, ms[1].assigned
            return a and b and not (a & b) and (a | b) == ALL6
        gu.wait_all([m1, m2], split, "the 6 partitions split between 2 cooperative members")
        # let the 2nd member read something so the rebalance has surely finished
        m2.wait(lambda m: m.nrecords > 0, "records")
        with m1.cond:
            after = m1.events[mark:]
            kept = set(m1.assigned)
        revoked = set()
        for kind, parts, _ in after:
            if kind in ("V", "L"):
                self.assertNotEqual(parts, ALL6, "cooperative member 1 had its whole "
                                    "assignment revoked: %r" % after)
                self.assertFalse(parts & kept, "member 1 revoked %r but still owns %r"
                                 % (parts, kept))
                revoked |= parts
            if kind == "L":
                self.fail("member 1 lost its partitions: %r" % after)
        self.assertTrue(kept, "member 1 kept nothing")
        self.assertEqual(revoked, set(m2.assigned), "member 1 revoked exactly what moved")
        self.assertEqual(kept | revoked, ALL6)
        # member 1 kept reading its retained partitions across the rebalance
        base = after[-1][2] if after else 0
        m1.wait(lambda m: m.nrecords > base, "more records after the rebalance")
        gu.wait_all([m1, m2], lambda ms: gu.covered(ms, ends), "everything read")
        gu.close_all([m1, m2])


if __name__ == "__main__":
    unittest.main()
