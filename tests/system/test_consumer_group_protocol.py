#!/usr/bin/python3
"""The consumer group protocol of KIP-848 (ConsumerGroupHeartbeat, ConsumerGroupDescribe) against
a real broker: raw requests for the protocol's rules — the coordinator's assignment, revocation
before reassignment, member epochs, Kafka's errors, OffsetCommit/OffsetFetch v9 member epochs,
ListGroups v5 types, DeleteGroups, the session timeout, new partitions, the range assignor and
the switch that turns the protocol off — and @platformatic/kafka's consumer with
groupProtocol 'consumer' (two members sharing a topic, one leaving).
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase, KaffaBroker  # noqa: E402
import client_io as cio  # noqa: E402
import config_wire as cw  # noqa: E402
import fetch_wire as fw  # noqa: E402
import group_wire as gw  # noqa: E402
import kafka_wire as kw  # noqa: E402
import kip848_wire as k  # noqa: E402

TIMEOUT = 30000


def create(conn, topics):
    res = conn.create_topics(topics)
    if any(res.values()):
        raise AssertionError("CreateTopics failed: %r" % res)


class Heartbeats:
    """Raw ConsumerGroupHeartbeat and ConsumerGroupDescribe for the test classes."""

    def hb(self, conn, group, member_id, epoch, **kw_):
        return k.round_trip(conn, k.heartbeat, k.parse_heartbeat, group, member_id, epoch, **kw_)

    def join(self, conn, group, topics, **kw_):
        r = self.hb(conn, group, "", 0, topics=topics, owned={}, rebalance_timeout_ms=TIMEOUT,
                    **kw_)
        self.assertEqual(r["error_code"], 0, r)
        return r

    def describe(self, conn, group):
        (d,) = k.round_trip(conn, k.describe, k.parse_describe, [group])
        return d

    def settle(self, conn, group, members):
        """Heartbeats members ({member_id: [epoch, {topic_id: [p]}]}, updated in place), each
        giving up what it is asked to, until the group is Stable."""
        for _ in range(10):
            for mid, state in members.items():
                r = self.hb(conn, group, mid, state[0], owned=state[1])
                self.assertEqual(r["error_code"], 0, r)
                state[0] = r["member_epoch"]
                if r["assignment"] is not None:
                    state[1] = r["assignment"]
            if self.describe(conn, group)["state"] == "Stable":
                return
        self.fail("group %s did not settle: %r" % (group, self.describe(conn, group)))


class ConsumerGroupProtocolTest(Heartbeats, BrokerTestCase):
    BROKER_OVERRIDES = {"group.consumer.heartbeat.interval.ms": "250",
                        "group.consumer.min.heartbeat.interval.ms": "100",
                        "group.consumer.session.timeout.ms": "8000",
                        "group.consumer.min.session.timeout.ms": "1000",
                        "group.initial.rebalance.delay.ms": "0"}

    def test_assignment_revocation_and_epochs(self):
        with kw.connect(self.broker) as conn:
            create(conn, [("cgp-t", 4, 1)])
            tid = fw.topic_ids(conn, ["cgp-t"])["cgp-t"]
            a = self.join(conn, "cgp-g1", ["cgp-t"])
            self.assertTrue(a["member_id"])
            self.assertEqual(a["member_epoch"], 1)
            self.assertEqual(a["interval_ms"], 250)
            self.assertEqual(a["assignment"], {tid: [0, 1, 2, 3]})
            aid = a["member_id"]
            # A steady heartbeat: same epoch, no assignment sent.
            r = self.hb(conn, "cgp-g1", aid, 1, owned={tid: [0, 1, 2, 3]})
            self.assertEqual((r["error_code"], r["member_epoch"], r["assignment"]), (0, 1, None))

            # B joins: epoch 2, but its partitions are still A's, so it gets none yet.
            b = self.join(conn, "cgp-g1", ["cgp-t"])
            bid = b["member_id"]
            self.assertEqual((b["member_epoch"], b["assignment"]), (2, {}))
            d = self.describe(conn, "cgp-g1")
            self.assertEqual((d["state"], d["group_epoch"], d["assignment_epoch"]),
                             ("Reconciling", 2, 2))
            # A is asked to revoke half: it stays at epoch 1 with the half it keeps.
            r = self.hb(conn, "cgp-g1", aid, 1, owned={tid: [0, 1, 2, 3]})
            self.assertEqual(r["member_epoch"], 1)
            kept = r["assignment"][tid]
            self.assertEqual(len(kept), 2)
            given = sorted(set(range(4)) - set(kept))
            # Until A stops owning them, B still gets nothing and A is not moved on.
            r = self.hb(conn, "cgp-g1", bid, 2, owned={})
            self.assertEqual((r["member_epoch"], r["assignment"]), (2, None))
            r = self.hb(conn, "cgp-g1", aid, 1, owned={tid: [0, 1, 2, 3]})
            self.assertEqual((r["member_epoch"], r["assignment"]), (1, None))
            # A has revoked them: it moves to epoch 2; then B gets the released partitions.
            r = self.hb(conn, "cgp-g1", aid, 1, owned={tid: kept})
            self.assertEqual((r["error_code"], r["member_epoch"], r["assignment"]), (0, 2, None))
            r = self.hb(conn, "cgp-g1", bid, 2, owned={})
            self.assertEqual((r["member_epoch"], r["assignment"]), (2, {tid: given}))
            r = self.hb(conn, "cgp-g1", bid, 2, owned={tid: given})
            self.assertEqual((r["member_epoch"], r["assignment"]), (2, None))

            d = self.describe(conn, "cgp-g1")
            self.assertEqual(d["error_code"], 0)
            self.assertEqual((d["state"], d["group_epoch"], d["assignment_epoch"], d["assignor"]),
                             ("Stable", 2, 2, "uniform"))
            members = {m["member_id"]: m for m in d["members"]}
            self.assertEqual(set(members), {aid, bid})
            self.assertEqual(members[aid]["assignment"], {("cgp-t", tid): kept})
            self.assertEqual(members[bid]["assignment"], {("cgp-t", tid): given})
            self.assertEqual(members[bid]["target"], {("cgp-t", tid): given})
            self.assertEqual(members[aid]["topics"], ["cgp-t"])
            self.assertEqual(members[aid]["epoch"], 2)
            self.assertEqual(members[aid]["client_host"], "/127.0.0.1")
            # v1 adds the member type (KIP-1099): 1, the consumer protocol.
            (d1,) = k.round_trip(conn, k.describe, lambda b: k.parse_describe(b, 1), ["cgp-g1"],
                                 version=1)
            self.assertEqual(sorted(m["type"] for m in d1["members"]), [1, 1])
            self.assertEqual({m["member_id"]: m["assignment"] for m in d1["members"]},
                             {mid: m["assignment"] for mid, m in members.items()})

            # A lost answer: a member one epoch behind owning a subset is accepted...
            r = self.hb(conn, "cgp-g1", aid, 1, owned={tid: kept})
            self.assertEqual((r["error_code"], r["member_epoch"]), (0, 2))
            # ...an epoch from the future, or the previous one owning more, is fenced.
            for epoch, owns in ((3, kept), (1, [0, 1, 2, 3])):
                r = self.hb(conn, "cgp-g1", aid, epoch, owned={tid: owns})
                self.assertEqual(r["error_code"], k.FENCED_MEMBER_EPOCH, r)

            # B leaves: the group epoch moves on and A is given everything.
            r = self.hb(conn, "cgp-g1", bid, -1)
            self.assertEqual((r["error_code"], r["member_id"], r["member_epoch"]), (0, bid, -1))
            r = self.hb(conn, "cgp-g1", aid, 2, owned={tid: kept})
            self.assertEqual((r["member_epoch"], r["assignment"]), (3, {tid: [0, 1, 2, 3]}))
            r = self.hb(conn, "cgp-g1", bid, 2, owned={})
            self.assertEqual(r["error_code"], k.UNKNOWN_MEMBER_ID)

    def test_request_errors(self):
        with kw.connect(self.broker) as conn:
            create(conn, [("cgp-e", 1, 1)])
            bad = [
                (dict(group="", member_id="", epoch=0, topics=["cgp-e"], owned={},
                      rebalance_timeout_ms=TIMEOUT), k.INVALID_REQUEST),
                (dict(group="cgp-e", member_id="", epoch=0, topics=None, owned={},
                      rebalance_timeout_ms=TIMEOUT), k.INVALID_REQUEST),
                (dict(group="cgp-e", member_id="", epoch=0, topics=["cgp-e"], owned={}),
                 k.INVALID_REQUEST),
                (dict(group="cgp-e", member_id="", epoch=0, topics=["cgp-e"], owned=None,
                      rebalance_timeout_ms=TIMEOUT), k.INVALID_REQUEST),
                (dict(group="cgp-e", member_id="", epoch=3), k.INVALID_REQUEST),
                (dict(group="cgp-e", member_id="m", epoch=-3), k.INVALID_REQUEST),
                (dict(group="cgp-e", member_id="", epoch=0, topics=["cgp-e"], owned={},
                      rebalance_timeout_ms=TIMEOUT, assignor="sticky"), k.UNSUPPORTED_ASSIGNOR),
                (dict(group="cgp-none", member_id="m", epoch=4), k.GROUP_ID_NOT_FOUND),
            ]
            for req, want in bad:
                r = self.hb(conn, req.pop("group"), req.pop("member_id"), req.pop("epoch"), **req)
                self.assertEqual(r["error_code"], want, (req, r))
                self.assertTrue(r["error_message"], r)
            self.join(conn, "cgp-e", ["cgp-e"])
            r = self.hb(conn, "cgp-e", "nobody", 1, owned={})
            self.assertEqual(r["error_code"], k.UNKNOWN_MEMBER_ID)
            r = self.hb(conn, "cgp-e", "nobody", -1)
            self.assertEqual(r["error_code"], k.UNKNOWN_MEMBER_ID)

            # A classic JoinGroup cannot join a consumer group with members...
            corr = conn.next_corr()
            j = gw.parse_join_group(conn.round_trip(gw.join_group(corr, 0, "cgp-e"), corr,
                                                    "JoinGroup"), 0)
            self.assertEqual(j["error"], k.INCONSISTENT_GROUP_PROTOCOL)
            # ...and a consumer member cannot join a classic group with members.
            corr = conn.next_corr()
            j = gw.parse_join_group(conn.round_trip(gw.join_group(corr, 0, "cgp-classic"), corr,
                                                    "JoinGroup"), 0)
            self.assertEqual(j["error"], 0)
            r = self.hb(conn, "cgp-classic", "", 0, topics=["cgp-e"], owned={},
                        rebalance_timeout_ms=TIMEOUT)
            self.assertEqual(r["error_code"], k.GROUP_ID_NOT_FOUND)
            d = self.describe(conn, "cgp-classic")
            self.assertEqual(d["error_code"], k.GROUP_ID_NOT_FOUND)

    def test_offsets_carry_member_epochs(self):
        with kw.connect(self.broker) as conn:
            create(conn, [("cgp-o", 2, 1)])
            a = self.join(conn, "cgp-go", ["cgp-o"])
            aid, epoch = a["member_id"], a["member_epoch"]
            commit = [("cgp-o", [(0, 5), (1, 7)])]

            def committed(member_id, member_epoch):
                return k.round_trip(conn, k.offset_fetch_v9, k.parse_offset_fetch_v9, "cgp-go",
                                    member_id, member_epoch, [("cgp-o", [0, 1])])

            r = k.round_trip(conn, k.offset_commit_v9, k.parse_offset_commit_v9, "cgp-go", epoch,
                             aid, commit)
            self.assertEqual(r, {("cgp-o", 0): 0, ("cgp-o", 1): 0})
            for member, e, want in [(aid, epoch + 1, k.STALE_MEMBER_EPOCH),
                                    ("nobody", epoch, k.UNKNOWN_MEMBER_ID),
                                    ("", -1, k.UNKNOWN_MEMBER_ID)]:
                r = k.round_trip(conn, k.offset_commit_v9, k.parse_offset_commit_v9, "cgp-go", e,
                                 member, commit)
                self.assertEqual(set(r.values()), {want}, (member, e))
            r = k.round_trip(conn, k.offset_commit_v9, k.parse_offset_commit_v9, "cgp-go", epoch,
                             aid, commit, version=8)
            self.assertEqual(set(r.values()), {k.UNSUPPORTED_VERSION})

            self.assertEqual(committed(aid, epoch),
                             (0, {("cgp-o", 0): (5, 0), ("cgp-o", 1): (7, 0)}))
            self.assertEqual(committed(None, -1)[1][("cgp-o", 1)], (7, 0))
            self.assertEqual(committed(aid, epoch + 1)[0], k.STALE_MEMBER_EPOCH)
            self.assertEqual(committed("nobody", 1)[0], k.UNKNOWN_MEMBER_ID)

            # Once the group is empty, a commit without a member is an admin's.
            self.hb(conn, "cgp-go", aid, -1)
            r = k.round_trip(conn, k.offset_commit_v9, k.parse_offset_commit_v9, "cgp-go", -1, "",
                             [("cgp-o", [(0, 9)])])
            self.assertEqual(r, {("cgp-o", 0): 0})
            self.assertEqual(committed(None, -1)[1][("cgp-o", 0)], (9, 0))

    def test_list_describe_and_delete(self):
        with kw.connect(self.broker) as conn:
            create(conn, [("cgp-l", 1, 1)])
            a = self.join(conn, "cgp-gl", ["cgp-l"])
            err, groups = k.round_trip(conn, k.list_groups_v5, k.parse_list_groups_v5,
                                       types=["consumer"])
            self.assertEqual(err, 0)
            self.assertEqual(groups.get("cgp-gl"), ("Stable", "consumer", "consumer"))
            self.assertTrue(all(t == "consumer" for _, t, _ in groups.values()), groups)
            _, classic = k.round_trip(conn, k.list_groups_v5, k.parse_list_groups_v5,
                                      types=["Classic"])
            self.assertNotIn("cgp-gl", classic)
            _, stable = k.round_trip(conn, k.list_groups_v5, k.parse_list_groups_v5,
                                     states=["stable"])
            self.assertIn("cgp-gl", stable)

            corr = conn.next_corr()
            dg = gw.parse_describe_groups(conn.round_trip(gw.describe_groups(corr, 0, ["cgp-gl"]),
                                                          corr, "DescribeGroups"), 0)
            self.assertEqual(dg["cgp-gl"]["state"], "Dead")

            def delete():
                corr = conn.next_corr()
                return gw.parse_delete_groups(conn.round_trip(
                    gw.delete_groups(corr, 0, ["cgp-gl"]), corr, "DeleteGroups"), 0)["cgp-gl"]
            self.assertEqual(delete(), k.NON_EMPTY_GROUP)
            # OffsetDelete: a consumer group without offsets exists; its topic is subscribed.
            err, parts = k.round_trip(conn, k.offset_delete_v0, k.parse_offset_delete_v0,
                                      "cgp-gl", [("cgp-l", [0])], flexible=False)
            self.assertEqual((err, parts), (0, {("cgp-l", 0): k.GROUP_SUBSCRIBED_TO_TOPIC}))
            self.hb(conn, "cgp-gl", a["member_id"], -1)
            self.assertEqual(self.describe(conn, "cgp-gl")["state"], "Empty")
            self.assertEqual(delete(), 0)
            self.assertEqual(self.describe(conn, "cgp-gl")["error_code"], k.GROUP_ID_NOT_FOUND)

    def test_session_timeout_and_new_partitions(self):
        with kw.connect(self.broker) as conn:
            create(conn, [("cgp-s", 2, 1)])
            tid = fw.topic_ids(conn, ["cgp-s"])["cgp-s"]
            a = self.join(conn, "cgp-gs", ["cgp-s"])
            aid = a["member_id"]
            self.assertEqual(a["assignment"], {tid: [0, 1]})
            mark = self.broker.log_mark()
            b = self.join(conn, "cgp-gs", ["cgp-s"])
            # B falls silent: its session (8 s) ends and it is removed, while A heartbeats as a
            # member does (giving up what it is asked to) and keeps its place.
            owned, epoch = [0, 1], 1
            gone = r"member %s of consumer group cgp-gs is removed: its session" % b["member_id"]
            deadline = time.monotonic() + 60
            while True:
                self.assertLess(time.monotonic(), deadline, "B was never removed")
                r = self.hb(conn, "cgp-gs", aid, epoch, owned={tid: owned})
                self.assertEqual(r["error_code"], 0, r)
                epoch = r["member_epoch"]
                if r["assignment"] is not None:
                    owned = r["assignment"][tid]
                if self.broker.count_log(gone, since=mark):
                    break
                try:
                    self.broker.wait_for_log(gone, since=mark, timeout=0.25)
                except AssertionError:
                    pass
            r = self.hb(conn, "cgp-gs", aid, epoch, owned={tid: owned})
            if r["assignment"] is not None:
                owned = r["assignment"][tid]
            self.assertEqual((r["member_epoch"], owned), (3, [0, 1]))
            self.assertEqual(self.describe(conn, "cgp-gs")["state"], "Stable")
            # More partitions: the next heartbeat sees them and they are assigned.
            res = k.round_trip(conn, k.create_partitions_v0, k.parse_create_partitions_v0,
                               "cgp-s", 4, flexible=False)
            self.assertEqual(res, {"cgp-s": 0})
            r = self.hb(conn, "cgp-gs", aid, 3, owned={tid: [0, 1]})
            self.assertEqual((r["member_epoch"], r["assignment"]), (4, {tid: [0, 1, 2, 3]}))
            self.hb(conn, "cgp-gs", aid, -1)

    def test_member_that_does_not_revoke_is_removed(self):
        with kw.connect(self.broker) as conn:
            create(conn, [("cgp-rv", 2, 1)])
            tid = fw.topic_ids(conn, ["cgp-rv"])["cgp-rv"]
            a = self.hb(conn, "cgp-grv", "", 0, topics=["cgp-rv"], owned={},
                        rebalance_timeout_ms=1000)
            aid = a["member_id"]
            mark = self.broker.log_mark()
            b = self.join(conn, "cgp-grv", ["cgp-rv"])
            r = self.hb(conn, "cgp-grv", aid, 1, owned={tid: [0, 1]})
            self.assertEqual(len(r["assignment"][tid]), 1)  # asked to give one up
            # A keeps heartbeating but never gives it up: its rebalance timeout (1 s) removes it.
            self.broker.wait_for_log(r"member %s of consumer group cgp-grv is removed: it did not "
                                     r"revoke" % aid, since=mark, timeout=20)
            r = self.hb(conn, "cgp-grv", aid, 1, owned={tid: [0, 1]})
            self.assertEqual(r["error_code"], k.UNKNOWN_MEMBER_ID)
            r = self.hb(conn, "cgp-grv", b["member_id"], b["member_epoch"], owned={})
            self.assertEqual(r["assignment"], {tid: [0, 1]})

    def test_v1_topic_regex_and_client_member_ids(self):
        with kw.connect(self.broker) as conn:
            create(conn, [("cgp-rx-a", 2, 1), ("cgp-other", 1, 1)])
            v1 = dict(version=1, rebalance_timeout_ms=TIMEOUT, owned={})
            # v1: the client names itself (KIP-1082); a regex must compile.
            r = self.hb(conn, "cgp-grx", "", 0, regex="cgp-rx-.*", **v1)
            self.assertEqual(r["error_code"], k.INVALID_REQUEST, r)
            r = self.hb(conn, "cgp-grx", "m-rx", 0, regex="cgp-rx-(", **v1)
            self.assertEqual(r["error_code"], k.INVALID_REGULAR_EXPRESSION, r)
            self.assertIn("cgp-rx-(", r["error_message"])
            r = self.hb(conn, "cgp-grx", "m-rx", 0, **v1)
            self.assertEqual(r["error_code"], k.INVALID_REQUEST, r)  # neither names nor regex
            # A regex alone subscribes to the topics whose whole name matches it.
            r = self.hb(conn, "cgp-grx", "m-rx", 0, regex="cgp-rx-.*", **v1)
            self.assertEqual((r["error_code"], r["member_id"]), (0, "m-rx"))
            ids = fw.topic_ids(conn, ["cgp-rx-a", "cgp-other"])
            self.assertEqual(r["assignment"], {ids["cgp-rx-a"]: [0, 1]})
            epoch, owned = r["member_epoch"], r["assignment"]
            # A topic created later that matches joins the subscription at the next heartbeat.
            create(conn, [("cgp-rx-b", 1, 1)])
            ids.update(fw.topic_ids(conn, ["cgp-rx-b"]))
            r = self.hb(conn, "cgp-grx", "m-rx", epoch, owned=owned, version=1)
            self.assertEqual(r["member_epoch"], epoch + 1)
            self.assertEqual(r["assignment"], {ids["cgp-rx-a"]: [0, 1], ids["cgp-rx-b"]: [0]})
            d = self.describe(conn, "cgp-grx")
            (m,) = d["members"]
            self.assertEqual((m["regex"], m["topics"]), ("cgp-rx-.*", []))
            # ".*" matches every topic but the internal ones (__consumer_offsets exists now).
            r = self.hb(conn, "cgp-grx-all", "m-all", 0, regex=".*", **v1)
            names = {name for name, _ in self.describe(conn, "cgp-grx-all")["members"][0]
                     ["assignment"]}
            self.assertIn("cgp-other", names)
            self.assertFalse(any(n.startswith("__") for n in names), names)
            self.hb(conn, "cgp-grx-all", "m-all", -1, version=1)
            self.hb(conn, "cgp-grx", "m-rx", -1, version=1)

    def test_range_assignor(self):
        with kw.connect(self.broker) as conn:
            create(conn, [("cgp-r1", 3, 1), ("cgp-r2", 3, 1)])
            ids = fw.topic_ids(conn, ["cgp-r1", "cgp-r2"])
            topics = ["cgp-r1", "cgp-r2"]
            a = self.join(conn, "cgp-gr", topics, assignor="range")
            b = self.join(conn, "cgp-gr", topics, assignor="range")
            members = {a["member_id"]: [a["member_epoch"], a["assignment"]],
                       b["member_id"]: [b["member_epoch"], b["assignment"]]}
            self.settle(conn, "cgp-gr", members)
            owned = {mid: state[1] for mid, state in members.items()}
            d = self.describe(conn, "cgp-gr")
            self.assertEqual((d["state"], d["assignor"]), ("Stable", "range"))
            first, second = sorted(owned)
            # Range: per topic, the first member (by id) takes partitions 0-1, the second 2.
            self.assertEqual(owned[first], {ids["cgp-r1"]: [0, 1], ids["cgp-r2"]: [0, 1]})
            self.assertEqual(owned[second], {ids["cgp-r1"]: [2], ids["cgp-r2"]: [2]})

    def test_static_member_rejoins_its_place(self):
        with kw.connect(self.broker) as conn:
            create(conn, [("cgp-st", 2, 1)])
            tid = fw.topic_ids(conn, ["cgp-st"])["cgp-st"]
            a = self.join(conn, "cgp-gst", ["cgp-st"], instance_id="inst-a")
            self.assertEqual(a["assignment"], {tid: [0, 1]})
            # A second member with the same instance id while the first is in: refused.
            r = self.hb(conn, "cgp-gst", "", 0, topics=["cgp-st"], owned={},
                        rebalance_timeout_ms=TIMEOUT, instance_id="inst-a")
            self.assertEqual(r["error_code"], k.UNRELEASED_INSTANCE_ID)
            # A temporary leave (-2) keeps the place; the new incarnation takes its partitions.
            r = self.hb(conn, "cgp-gst", a["member_id"], -2, instance_id="inst-a")
            self.assertEqual((r["error_code"], r["member_epoch"]), (0, -2))
            r = self.hb(conn, "cgp-gst", "", 0, topics=["cgp-st"], owned={},
                        rebalance_timeout_ms=TIMEOUT, instance_id="inst-a")
            self.assertEqual(r["error_code"], 0, r)
            self.assertNotEqual(r["member_id"], a["member_id"])
            self.assertEqual(r["assignment"], {tid: [0, 1]})
            d = self.describe(conn, "cgp-gst")
            self.assertEqual([(m["member_id"], m["instance_id"]) for m in d["members"]],
                             [(r["member_id"], "inst-a")])
            self.hb(conn, "cgp-gst", r["member_id"], -1, instance_id="inst-a")

    @unittest.skipIf(cio.platformatic_missing(), cio.platformatic_missing())
    def test_platformatic_consumer_protocol(self):
        with kw.connect(self.broker) as conn:
            create(conn, [("cgp-plt", 4, 1)])
        res = cio.platformatic({"op": "kip848", "broker": self.broker.bootstrap,
                                "group": "cgp-plt-g", "topic": "cgp-plt", "partitions": 4,
                                "count": 16})
        everything = ["cgp-plt/%d" % p for p in range(4)]
        self.assertEqual(res["errors"], [])
        self.assertEqual(res["alone"], everything)
        a, b = res["shared"]
        self.assertEqual(sorted(a + b), everything)
        self.assertEqual((len(a), len(b)), (2, 2))
        records = {"cgp-plt/%d/%d" % (p, o) for p in range(4) for o in range(4)}
        self.assertEqual(set(res["reads"][0]) | set(res["reads"][1]), records)
        for owned, reads in zip(res["shared"], res["reads"]):
            self.assertLessEqual({r for r in records if r.rsplit("/", 1)[0] in owned}, set(reads))
        self.assertEqual(res["after"], everything)
        # B's records since its last commit may come again to A: at least once.
        self.assertLessEqual({"cgp-plt/%d/%d" % (p, o) for p in range(4) for o in range(4, 8)},
                             set(res["tail"]))
        with kw.connect(self.broker) as conn:
            err, offsets = k.round_trip(conn, k.offset_fetch_v9, k.parse_offset_fetch_v9,
                                        "cgp-plt-g", None, -1, [("cgp-plt", [0, 1, 2, 3])])
        self.assertEqual(err, 0)
        self.assertEqual({tp: o for tp, (o, _) in offsets.items()},
                         {("cgp-plt", p): 8 for p in range(4)})


class ConsumerGroupRestartTest(Heartbeats, unittest.TestCase):
    """Membership, epochs and assignments are in __consumer_offsets: they survive a crash."""

    def test_members_survive_kill9_and_leaves_stay_done(self):
        with KaffaBroker(overrides={"group.consumer.heartbeat.interval.ms": "250",
                                    "group.consumer.min.heartbeat.interval.ms": "100",
                                    "group.consumer.session.timeout.ms": "30000",
                                    "group.consumer.min.session.timeout.ms": "1000"}) as b:
            self.broker = b
            with kw.connect(b) as conn:
                create(conn, [("cgp-dur", 4, 1)])
                tid = fw.topic_ids(conn, ["cgp-dur"])["cgp-dur"]
                m1 = self.join(conn, "cgp-gdur", ["cgp-dur"])
                m2 = self.join(conn, "cgp-gdur", ["cgp-dur"], instance_id="static-2")
                members = {m1["member_id"]: [m1["member_epoch"], m1["assignment"]],
                           m2["member_id"]: [m2["member_epoch"], m2["assignment"]]}
                self.settle(conn, "cgp-gdur", members)
                before = self.describe(conn, "cgp-gdur")
                k.round_trip(conn, k.offset_commit_v9, k.parse_offset_commit_v9, "cgp-gdur",
                             members[m1["member_id"]][0], m1["member_id"], [("cgp-dur", [(0, 3)])])
            b.kill9()
            b.restart()
            with kw.connect(b) as conn:
                after = self.describe(conn, "cgp-gdur")
                self.assertEqual(after["error_code"], 0, after)
                self.assertEqual(after["group_epoch"], before["group_epoch"])
                self.assertEqual(after["assignment_epoch"], before["assignment_epoch"])
                key = lambda d: {m["member_id"]: (m["epoch"], m["instance_id"], m["assignment"],
                                                  m["target"], m["topics"]) for m in d["members"]}
                self.assertEqual(key(after), key(before))
                # The members go on where they were: same ids, their epochs accepted; the
                # subscription metadata was kept too, so the group epoch does not move.
                self.settle(conn, "cgp-gdur", members)
                self.assertEqual(self.describe(conn, "cgp-gdur")["group_epoch"],
                                 before["group_epoch"])
                self.assertEqual(sorted(p for _, ps in members.values() for p in ps[tid]),
                                 [0, 1, 2, 3])
                err, offsets = k.round_trip(conn, k.offset_fetch_v9, k.parse_offset_fetch_v9,
                                            "cgp-gdur", m1["member_id"],
                                            members[m1["member_id"]][0], [("cgp-dur", [0])])
                self.assertEqual((err, offsets[("cgp-dur", 0)]), (0, (3, 0)))
                # m1 leaves for good, the static member leaves its place open.
                self.hb(conn, "cgp-gdur", m1["member_id"], -1)
                r = self.hb(conn, "cgp-gdur", m2["member_id"], -2, instance_id="static-2")
                self.assertEqual(r["member_epoch"], -2)
            b.kill9()
            b.restart()
            with kw.connect(b) as conn:
                d = self.describe(conn, "cgp-gdur")
                self.assertEqual([(m["member_id"], m["epoch"]) for m in d["members"]],
                                 [(m2["member_id"], -2)])
                # The static member's next incarnation takes its place and partitions.
                r = self.hb(conn, "cgp-gdur", "", 0, topics=["cgp-dur"], owned={},
                            rebalance_timeout_ms=TIMEOUT, instance_id="static-2")
                self.assertEqual(r["error_code"], 0, r)
                self.hb(conn, "cgp-gdur", r["member_id"], -1, instance_id="static-2")
                corr = conn.next_corr()
                res = gw.parse_delete_groups(conn.round_trip(
                    gw.delete_groups(corr, 0, ["cgp-gdur"]), corr, "DeleteGroups"), 0)
                self.assertEqual(res["cgp-gdur"], 0)
            b.kill9()
            b.restart()
            with kw.connect(b) as conn:
                self.assertEqual(self.describe(conn, "cgp-gdur")["error_code"],
                                 k.GROUP_ID_NOT_FOUND)


class RefusedWriteTest(Heartbeats, unittest.TestCase):
    """A heartbeat whose records the offsets partition refuses (here: over its max.message.bytes)
    is undone: the group stays what the log says, before and after a crash."""

    def test_refused_join_leaves_the_group_as_the_log_has_it(self):
        with KaffaBroker() as b:
            with kw.connect(b) as conn:
                create(conn, [("cgp-big", 4, 1)])
                m1 = self.join(conn, "cgp-gbig", ["cgp-big"])
                members = {m1["member_id"]: [m1["member_epoch"], m1["assignment"]]}
                self.settle(conn, "cgp-gbig", members)
                before = self.describe(conn, "cgp-gbig")
                (res,) = cw.incremental_alter(conn, [(cw.TOPIC, "__consumer_offsets", [
                    ("max.message.bytes", cw.SET, "1000")])])
                self.assertEqual(res[0], 0, res)
                # Its member record names 20 long topics: a batch of more than 1000 bytes.
                many = ["cgp-big"] + ["cgp-absent-%02d-%s" % (i, "x" * 60) for i in range(20)]
                r = self.hb(conn, "cgp-gbig", "", 0, topics=many, owned={},
                            rebalance_timeout_ms=TIMEOUT)
                self.assertEqual(r["error_code"], k.UNKNOWN_SERVER_ERROR, r)
                self.assertEqual(self.describe(conn, "cgp-gbig"), before)
                # The member in the group goes on at its epoch (its heartbeats write nothing).
                self.settle(conn, "cgp-gbig", members)
                self.assertEqual(self.describe(conn, "cgp-gbig"), before)
            b.kill9()
            b.restart()
            with kw.connect(b) as conn:
                after = self.describe(conn, "cgp-gbig")
                self.assertEqual((after["group_epoch"], [m["member_id"] for m in after["members"]]),
                                 (before["group_epoch"], [m1["member_id"]]))
                (res,) = cw.incremental_alter(conn, [(cw.TOPIC, "__consumer_offsets", [
                    ("max.message.bytes", cw.DELETE, "")])])
                self.assertEqual(res[0], 0, res)
                r = self.hb(conn, "cgp-gbig", "", 0, topics=many, owned={},
                            rebalance_timeout_ms=TIMEOUT)
                self.assertEqual(r["error_code"], 0, r)
                self.assertEqual(self.describe(conn, "cgp-gbig")["group_epoch"],
                                 before["group_epoch"] + 1)


class KindChangeRestartTest(Heartbeats, unittest.TestCase):
    def test_classic_group_replaces_an_empty_consumer_group_for_good(self):
        with KaffaBroker(overrides={"group.initial.rebalance.delay.ms": "0"}) as b:
            self.broker = b
            with kw.connect(b) as conn:
                create(conn, [("cgp-kind", 1, 1)])
                m = self.join(conn, "cgp-kind-g", ["cgp-kind"])
                self.hb(conn, "cgp-kind-g", m["member_id"], -1)
                corr = conn.next_corr()
                j = gw.parse_join_group(conn.round_trip(gw.join_group(corr, 0, "cgp-kind-g"),
                                                        corr, "JoinGroup"), 0)
                self.assertEqual(j["error"], 0)
            b.kill9()
            b.restart()
            with kw.connect(b) as conn:
                self.assertEqual(self.describe(conn, "cgp-kind-g")["error_code"],
                                 k.GROUP_ID_NOT_FOUND)
                _, groups = k.round_trip(conn, k.list_groups_v5, k.parse_list_groups_v5)
                self.assertEqual(groups["cgp-kind-g"][1], "classic")


class EmptyGroupCleanupTest(Heartbeats, unittest.TestCase):
    def test_empty_group_without_offsets_is_deleted(self):
        with KaffaBroker(overrides={"offsets.retention.check.interval.ms": "300"}) as b:
            self.broker = b
            with kw.connect(b) as conn:
                create(conn, [("cgp-c", 1, 1)])
                kept = self.join(conn, "cgp-kept", ["cgp-c"])
                k.round_trip(conn, k.offset_commit_v9, k.parse_offset_commit_v9, "cgp-kept",
                             kept["member_epoch"], kept["member_id"], [("cgp-c", [(0, 1)])])
                gone = self.join(conn, "cgp-gone", ["cgp-c"])
                mark = b.log_mark()
                self.hb(conn, "cgp-kept", kept["member_id"], -1)
                self.hb(conn, "cgp-gone", gone["member_id"], -1)
                b.wait_for_log(r"deleting empty consumer group cgp-gone", since=mark, timeout=20)
                self.assertEqual(self.describe(conn, "cgp-gone")["error_code"],
                                 k.GROUP_ID_NOT_FOUND)
                # One with committed offsets stays (until they expire).
                self.assertEqual(self.describe(conn, "cgp-kept")["state"], "Empty")
            b.stop_and_check()
            b.restart()
            with kw.connect(b) as conn:
                self.assertEqual(self.describe(conn, "cgp-gone")["error_code"],
                                 k.GROUP_ID_NOT_FOUND)
                self.assertEqual(self.describe(conn, "cgp-kept")["state"], "Empty")


class ConsumerProtocolOffTest(unittest.TestCase):
    def test_not_offered_when_turned_off(self):
        with KaffaBroker(overrides={"group.coordinator.rebalance.protocols": "classic"}) as b:
            with kw.connect(b) as conn:
                _, apis = conn.api_versions()
                self.assertNotIn(k.CONSUMER_GROUP_HEARTBEAT, apis)
                self.assertNotIn(k.CONSUMER_GROUP_DESCRIBE, apis)
                r = k.round_trip(conn, k.heartbeat, k.parse_heartbeat, "g", "", 0, topics=["t"],
                                 owned={}, rebalance_timeout_ms=TIMEOUT)
                self.assertEqual(r["error_code"], k.UNSUPPORTED_VERSION)
        with KaffaBroker() as b:
            with kw.connect(b) as conn:
                _, apis = conn.api_versions()
                self.assertEqual(apis[k.CONSUMER_GROUP_HEARTBEAT], (0, 1))
                self.assertEqual(apis[k.CONSUMER_GROUP_DESCRIBE], (0, 1))


if __name__ == "__main__":
    unittest.main()
