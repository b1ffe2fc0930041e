#!/usr/bin/python3
"""Bad and hostile consumer-group requests on raw sockets (group_wire.py), checked against the
error codes Kafka answers:

- OffsetCommit for an unknown topic / a partition beyond the topic's count ->
  UNKNOWN_TOPIC_OR_PARTITION per partition, the valid partition of the same request is stored;
- OffsetCommit with a wrong generation from a member of a Stable group -> ILLEGAL_GENERATION;
  with an unknown member id -> UNKNOWN_MEMBER_ID; a "simple" commit (generation -1, no member)
  to a group that has members -> UNKNOWN_MEMBER_ID; none of them stored;
- JoinGroup v4/v5 with an empty member id -> MEMBER_ID_REQUIRED carrying a member id; rejoining
  with it succeeds (leader, generation >= 1); JoinGroup v3 and older never answer
  MEMBER_ID_REQUIRED;
- commit metadata over offset.metadata.max.bytes (4096) -> OFFSET_METADATA_TOO_LARGE for that
  partition only (exactly 4096 is fine);
- session timeout outside [group.min.session.timeout.ms, group.max.session.timeout.ms] ->
  INVALID_SESSION_TIMEOUT;
- Heartbeat from an unknown member -> UNKNOWN_MEMBER_ID, with a wrong generation ->
  ILLEGAL_GENERATION; JoinGroup with an empty group id -> INVALID_GROUP_ID; a join with a protocol the group
  does not support -> INCONSISTENT_GROUP_PROTOCOL;
- a flood of 200 JoinGroup v5 from one connection into one group (new members and made-up
  member ids, pipelined) is answered in order (MEMBER_ID_REQUIRED / UNKNOWN_MEMBER_ID), another
  group keeps its member, generation, state and committed offsets, and the flooded group is
  usable afterwards.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase  # noqa: E402
import group_util as gu  # noqa: E402
import group_wire as gw  # noqa: E402

TOPIC = "bad-t"


class GroupBadInputTest(BrokerTestCase):
    BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0",
                        "group.min.session.timeout.ms": "1000"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        gu.create_topic(cls.broker, TOPIC, 3)

    def conn(self):
        c = gw.connect(self.broker)
        self.addCleanup(c.close)
        return c

    def assertErr(self, got, want, what):
        self.assertEqual(got, want, "%s: got %s, Kafka answers %s"
                         % (what, gw.err_name(got), gw.err_name(want)))

    def stable_member(self, conn, group, session_timeout_ms=30000):
        """One raw member that joined (v5) and synced as leader: (member_id, generation)."""
        j = conn.join_as_new_member(group, [TOPIC], session_timeout_ms=session_timeout_ms)
        self.assertErr(j["error"], 0, "JoinGroup rejoin with the assigned member id")
        self.assertEqual(j["leader"], j["member_id"])
        s = conn.sync(3, group, j["generation"], j["member_id"],
                      [(j["member_id"], gw.consumer_assignment({TOPIC: [0, 1, 2]}))])
        self.assertErr(s["error"], 0, "SyncGroup of the leader")
        self.assertEqual(gw.parse_consumer_assignment(s["assignment"]), {TOPIC: [0, 1, 2]})
        return j["member_id"], j["generation"]

    # ---- OffsetCommit ----

    def test_commit_unknown_topic_or_partition(self):
        c = self.conn()
        for v in (2, 5, 7):
            group = "bad-unknown-v%d" % v
            res = c.commit(v, group, {"no-such-topic": [(0, 5, ""), (1, 6, "")],
                                      TOPIC: [(99, 7, ""), (0, 8, "m")]})
            self.assertEqual(res, {("no-such-topic", 0): gw.UNKNOWN_TOPIC_OR_PARTITION,
                                   ("no-such-topic", 1): gw.UNKNOWN_TOPIC_OR_PARTITION,
                                   (TOPIC, 99): gw.UNKNOWN_TOPIC_OR_PARTITION,
                                   (TOPIC, 0): 0}, "OffsetCommit v%d" % v)
            gerr, offs = c.fetch_offsets(5, group, {TOPIC: [0, 1], "no-such-topic": [0]})
            self.assertEqual(gerr, 0)
            self.assertEqual(offs[(TOPIC, 0)], (8, "m", 0))
            self.assertEqual(offs[(TOPIC, 1)][0], -1)
            self.assertEqual(offs[("no-such-topic", 0)][0], -1)

    def test_commit_wrong_generation_and_member(self):
        c = self.conn()
        group = "bad-gen"
        member, gen = self.stable_member(c, group)
        res = c.commit(7, group, {TOPIC: [(0, 10, "")]}, generation=gen + 1, member_id=member)
        self.assertErr(res[(TOPIC, 0)], gw.ILLEGAL_GENERATION, "commit with generation+1")
        res = c.commit(7, group, {TOPIC: [(0, 11, "")]}, generation=gen - 1, member_id=member)
        self.assertErr(res[(TOPIC, 0)], gw.ILLEGAL_GENERATION, "commit with generation-1")
        res = c.commit(7, group, {TOPIC: [(0, 12, "")]}, generation=gen, member_id="nobody")
        self.assertErr(res[(TOPIC, 0)], gw.UNKNOWN_MEMBER_ID, "commit from an unknown member")
        res = c.commit(2, group, {TOPIC: [(0, 13, "")]})
        self.assertErr(res[(TOPIC, 0)], gw.UNKNOWN_MEMBER_ID,
                       "simple commit (generation -1) to a group with members")
        _, offs = c.fetch_offsets(5, group, {TOPIC: [0]})
        self.assertEqual(offs[(TOPIC, 0)][0], -1, "a rejected commit was stored")
        res = c.commit(7, group, {TOPIC: [(0, 14, "ok")]}, generation=gen, member_id=member)
        self.assertErr(res[(TOPIC, 0)], 0, "commit with the right generation")
        _, offs = c.fetch_offsets(5, group, {TOPIC: [0]})
        self.assertEqual(offs[(TOPIC, 0)], (14, "ok", 0))
        self.assertErr(c.heartbeat(3, group, gen, member)["error"], 0, "heartbeat")

    def test_offset_metadata_too_large(self):
        c = self.conn()
        group = "bad-meta"
        res = c.commit(7, group, {TOPIC: [(0, 1, "x" * 4097), (1, 2, "y" * 4096)]})
        self.assertErr(res[(TOPIC, 0)], gw.OFFSET_METADATA_TOO_LARGE, "4097 bytes of metadata")
        self.assertErr(res[(TOPIC, 1)], 0, "4096 bytes of metadata")
        _, offs = c.fetch_offsets(5, group, {TOPIC: [0, 1]})
        self.assertEqual(offs[(TOPIC, 0)][0], -1)
        self.assertEqual(offs[(TOPIC, 1)], (2, "y" * 4096, 0))

    def test_empty_group_id(self):
        c = self.conn()
        # Kafka accepts the empty group id for OffsetCommit/OffsetFetch (legacy clients), not
        # for the membership APIs
        res = c.commit(2, "", {TOPIC: [(0, 1, "")]})
        self.assertErr(res[(TOPIC, 0)], 0, "OffsetCommit with group id ''")
        j = c.join(5, "", member_id="")
        self.assertErr(j["error"], gw.INVALID_GROUP_ID, "JoinGroup with group id ''")

    # ---- JoinGroup ----

    def test_member_id_required_then_rejoin(self):
        c = self.conn()
        for v in (4, 5):
            group = "bad-mir-v%d" % v
            meta = gw.consumer_subscription([TOPIC])
            first = c.join(v, group, member_id="", protocols=[("range", meta)])
            self.assertErr(first["error"], gw.MEMBER_ID_REQUIRED, "JoinGroup v%d, no id" % v)
            self.assertTrue(first["member_id"], "MEMBER_ID_REQUIRED without a member id")
            self.assertEqual(first["generation"], -1)
            self.assertEqual(first["members"], [])
            second = c.join(v, group, member_id=first["member_id"], protocols=[("range", meta)])
            self.assertErr(second["error"], 0, "JoinGroup v%d rejoin" % v)
            self.assertEqual(second["member_id"], first["member_id"])
            self.assertEqual(second["leader"], first["member_id"])
            self.assertGreaterEqual(second["generation"], 1)
            self.assertEqual(second["protocol"], "range")
            self.assertEqual([(m["member_id"], m["metadata"]) for m in second["members"]],
                             [(first["member_id"], meta)])
        for v in (0, 1, 3):
            group = "bad-old-v%d" % v
            j = c.join(v, group, member_id="")
            self.assertErr(j["error"], 0, "JoinGroup v%d with an empty member id" % v)
            self.assertTrue(j["member_id"])
            self.assertEqual(j["leader"], j["member_id"])

    def test_invalid_session_timeout(self):
        c = self.conn()
        for v in (0, 3, 5):
            for st in (999, 0, -1, 1800001):
                j = c.join(v, "bad-session", member_id="", session_timeout_ms=st)
                self.assertErr(j["error"], gw.INVALID_SESSION_TIMEOUT,
                               "JoinGroup v%d session timeout %d" % (v, st))
        d = c.describe(1, ["bad-session"])["bad-session"]
        self.assertIn(d["state"], ("Dead", "Empty"))
        self.assertEqual(d["members"], [])

    # ---- Heartbeat ----

    def test_heartbeat_unknown_member_and_generation(self):
        c = self.conn()
        group = "bad-hb"
        member, gen = self.stable_member(c, group)
        self.assertErr(c.heartbeat(3, group, gen, "not-a-member")["error"], gw.UNKNOWN_MEMBER_ID,
                       "heartbeat from an unknown member")
        self.assertErr(c.heartbeat(0, group, gen, "")["error"], gw.UNKNOWN_MEMBER_ID,
                       "heartbeat v0 with an empty member id")
        self.assertErr(c.heartbeat(3, group, gen + 5, member)["error"], gw.ILLEGAL_GENERATION,
                       "heartbeat with a wrong generation")
        self.assertErr(c.heartbeat(3, group, gen, member)["error"], 0, "heartbeat")
        err = c.heartbeat(3, "bad-hb-no-such-group", 1, "nobody")["error"]
        # Kafka <= 3.x answers UNKNOWN_MEMBER_ID, the 4.0 coordinator GROUP_ID_NOT_FOUND
        self.assertIn(err, (gw.UNKNOWN_MEMBER_ID, gw.GROUP_ID_NOT_FOUND), gw.err_name(err))
        d = c.describe(1, [group])[group]
        self.assertEqual((d["state"], [m["member_id"] for m in d["members"]]),
                         ("Stable", [member]))

    # ---- flood ----

    def test_join_flood_leaves_other_group_alone(self):
        keeper = self.conn()
        kgroup = "bad-keeper"
        kmember, kgen = self.stable_member(keeper, kgroup)
        kcommit = {TOPIC: [(0, 100, "keep-0"), (1, 200, "keep-1"), (2, 300, "keep-2")]}
        res = keeper.commit(7, kgroup, kcommit, generation=kgen, member_id=kmember)
        self.assertEqual(set(res.values()), {0})

        fgroup = "bad-flood"
        flood = self.conn()
        n = 200
        frames, kinds = [], []
        first_corr = 1000
        for i in range(n):
            bogus = i % 4 == 3
            kinds.append(bogus)
            frames.append(gw.join_group(first_corr + i, 5, fgroup,
                                        member_id="made-up-%d" % i if bogus else "",
                                        session_timeout_ms=1000, rebalance_timeout_ms=1000,
                                        protocols=[("range", gw.consumer_subscription([TOPIC]))]))
        flood.send(b"".join(frames))
        ids = set()
        for i in range(n):
            resp = flood.read_response()
            self.assertIsNotNone(resp, "connection closed after %d of %d flood answers" % (i, n))
            corr, body = resp
            self.assertEqual(corr, first_corr + i, "flood answers out of order")
            j = gw.parse_join_group(body, 5)
            if kinds[i]:
                self.assertErr(j["error"], gw.UNKNOWN_MEMBER_ID, "flood join #%d (made-up id)" % i)
            else:
                self.assertErr(j["error"], gw.MEMBER_ID_REQUIRED, "flood join #%d (new)" % i)
                self.assertTrue(j["member_id"])
                ids.add(j["member_id"])
        self.assertEqual(len(ids), n - n // 4, "member ids handed out are not distinct")

        # a join with a protocol the keeper group does not support is refused and changes nothing
        odd = self.conn()
        j = odd.join(5, kgroup, member_id="", protocols=[("roundrobin", b"")])
        self.assertErr(j["error"], gw.INCONSISTENT_GROUP_PROTOCOL, "join with another protocol")

        # the keeper group is untouched: same member, generation, state, offsets
        self.assertErr(keeper.heartbeat(3, kgroup, kgen, kmember)["error"], 0,
                       "keeper heartbeat after the flood")
        d = keeper.describe(1, [kgroup])[kgroup]
        self.assertEqual((d["state"], [m["member_id"] for m in d["members"]]),
                         ("Stable", [kmember]))
        gerr, offs = keeper.fetch_offsets(5, kgroup, {TOPIC: [0, 1, 2]})
        self.assertEqual(gerr, 0)
        self.assertEqual(offs, {(TOPIC, p): (o, m, 0) for p, o, m in kcommit[TOPIC]})

        # the flooded group still works: a real member gets in (once the pending ids expire)
        fresh = self.conn()
        j = fresh.join_as_new_member(fgroup, [TOPIC], session_timeout_ms=5000,
                                     rebalance_timeout_ms=20000)
        self.assertErr(j["error"], 0, "join into the flooded group")
        self.assertEqual([m["member_id"] for m in j["members"]], [j["member_id"]])
        self.assertTrue(self.broker.alive())


if __name__ == "__main__":
    unittest.main()
