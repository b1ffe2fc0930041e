#!/usr/bin/python3
"""Group administration: ListGroups / DescribeGroups / OffsetFetch / DeleteGroups through
confluent_kafka AdminClient (1.7.0 has list_groups() only: ListGroups + DescribeGroups) and
kafka-python KafkaAdminClient 2.0.2 (list_consumer_groups, describe_consumer_groups,
list_consumer_group_offsets, delete_consumer_groups), plus raw DescribeGroups/ListGroups.

An active group of 2 in-process confluent_kafka consumers (range assignor) on a 4-partition
topic has read part of the records and committed exactly what it read:
- both admin clients list the group (protocol type "consumer") and describe it Stable, protocol
  "range", with the 2 members, their client ids, and assignments equal to what each consumer
  was given (the assignment bytes decode as ConsumerProtocolAssignment);
- lag = end offset - committed offset per partition equals produced - consumed;
- DeleteGroups of the active group -> NON_EMPTY_GROUP and the offsets stay; after both members
  close (LeaveGroup) the group is Empty, DeleteGroups succeeds, its offsets are gone, it is no
  longer listed, and deleting it again -> GROUP_ID_NOT_FOUND.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase  # noqa: E402
import group_util as gu  # noqa: E402
import group_wire as gw  # noqa: E402

TOPIC = "adm-t"
GROUP = "g-adm"
PARTS = 4
DEADLINE_S = 60.0


class GroupAdminTest(BrokerTestCase):
    BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0",
                        "group.min.session.timeout.ms": "1000"}

    def make_consumer(self, name):
        from confluent_kafka import Consumer
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": GROUP,
                      "client.id": name, "enable.auto.commit": False,
                      "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
                      "heartbeat.interval.ms": 500, "partition.assignment.strategy": "range"})
        c.subscribe([TOPIC])
        return c

    def consume_some(self, consumers, consumed, until):
        """Consumes a few records at a time from each consumer, committing each batch
        synchronously, until until() holds."""
        from confluent_kafka import TopicPartition
        deadline = time.monotonic() + DEADLINE_S
        while not until():
            self.assertLess(time.monotonic(), deadline, "consumers did not settle: %r"
                            % [c.assignment() for c in consumers])
            for c in consumers:
                nxt = {}
                for m in c.consume(num_messages=5, timeout=0.1):
                    self.assertIsNone(m.error())
                    consumed.setdefault(m.partition(), set()).add(m.offset())
                    nxt[m.partition()] = m.offset() + 1
                if nxt:
                    c.commit(offsets=[TopicPartition(TOPIC, p, o) for p, o in nxt.items()],
                             asynchronous=False)

    def kp_admin(self):
        from kafka import KafkaAdminClient
        a = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap, request_timeout_ms=30000)
        self.addCleanup(a.close)
        return a

    def test_admin_views_lag_and_delete(self):
        import kafka.errors as ke
        from confluent_kafka.admin import AdminClient
        from kafka import KafkaConsumer, TopicPartition as KTP

        gu.create_topic(self.broker, TOPIC, PARTS)
        ends = gu.produce_spread(self.broker, TOPIC, PARTS, 2000)
        c1, c2 = self.make_consumer("adm-c1"), self.make_consumer("adm-c2")
        closed = []
        self.addCleanup(lambda: [c.close() for c in (c1, c2) if c not in closed])
        consumed = {}

        def settled():
            a1 = {tp.partition for tp in c1.assignment()}
            a2 = {tp.partition for tp in c2.assignment()}
            return len(a1) == 2 and len(a2) == 2 and (a1 | a2) == set(range(PARTS))
        self.consume_some([c1, c2], consumed, settled)
        target = sum(len(v) for v in consumed.values()) + 100
        self.consume_some([c1, c2], consumed,
                          lambda: sum(len(v) for v in consumed.values()) >= target)
        assigned = {"adm-c1": {tp.partition for tp in c1.assignment()},
                    "adm-c2": {tp.partition for tp in c2.assignment()}}
        n_consumed = sum(len(v) for v in consumed.values())
        self.assertLess(n_consumed, sum(ends.values()))

        # ---- confluent_kafka AdminClient.list_groups ----
        cadmin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        groups = cadmin.list_groups(GROUP, timeout=30)
        self.assertEqual([g.id for g in groups], [GROUP])
        g = groups[0]
        if g.error is not None:
            self.assertEqual(g.error.code(), 0, str(g.error))
        self.assertEqual(g.state, "Stable")
        self.assertEqual(g.protocol_type, "consumer")
        self.assertEqual(g.protocol, "range")
        self.assertEqual(sorted(m.client_id for m in g.members), ["adm-c1", "adm-c2"])
        for m in g.members:
            self.assertEqual(set(gw.parse_consumer_assignment(m.assignment).get(TOPIC, [])),
                             assigned[m.client_id], "assignment of %s" % m.client_id)
        self.assertIn(GROUP, [x.id for x in cadmin.list_groups(timeout=30)])

        # ---- kafka-python KafkaAdminClient ----
        admin = self.kp_admin()
        self.assertIn((GROUP, "consumer"), admin.list_consumer_groups())
        (info,) = admin.describe_consumer_groups([GROUP])
        self.assertEqual((info.error_code, info.group, info.state, info.protocol_type,
                          info.protocol), (0, GROUP, "Stable", "consumer", "range"))
        self.assertEqual(len(info.members), 2)
        for m in info.members:
            parts = {tp.partition for tp in m.member_assignment.partitions()}
            self.assertEqual(parts, assigned[m.client_id])
            self.assertEqual(m.member_metadata.subscription, [TOPIC])

        offsets = admin.list_consumer_group_offsets(GROUP)
        kc = KafkaConsumer(bootstrap_servers=self.broker.bootstrap, group_id=None)
        try:
            end_offsets = kc.end_offsets([KTP(TOPIC, p) for p in range(PARTS)])
        finally:
            kc.close()
        lag = {}
        for p in range(PARTS):
            tp = KTP(TOPIC, p)
            self.assertEqual(end_offsets[tp], ends[p])
            seen = consumed.get(p, set())
            self.assertEqual(seen, set(range(len(seen))), "partition %d read with gaps" % p)
            if seen:
                self.assertEqual(offsets[tp].offset, len(seen),
                                 "committed offset of partition %d" % p)
            else:
                self.assertTrue(tp not in offsets or offsets[tp].offset == -1)
            committed = offsets[tp].offset if tp in offsets and offsets[tp].offset >= 0 else 0
            lag[p] = end_offsets[tp] - committed
            self.assertEqual(lag[p], ends[p] - len(seen))
        self.assertEqual(sum(lag.values()), sum(ends.values()) - n_consumed)

        # ---- delete: refused while active ----
        res = dict(admin.delete_consumer_groups([GROUP]))
        self.assertIs(res[GROUP], ke.NonEmptyGroupError, res)
        self.assertEqual(admin.list_consumer_group_offsets(GROUP), offsets)

        # ---- members leave: Empty, then delete works ----
        for c in (c1, c2):
            c.close()
            closed.append(c)
        (info,) = admin.describe_consumer_groups([GROUP])
        self.assertEqual((info.state, info.members), ("Empty", []))
        self.assertIn(GROUP, [x.id for x in cadmin.list_groups(timeout=30)])
        with gw.connect(self.broker) as conn:
            self.assertEqual(conn.describe(0, [GROUP])[GROUP]["state"], "Empty")
        res = dict(admin.delete_consumer_groups([GROUP]))
        self.assertIs(res[GROUP], ke.NoError, res)
        self.assertEqual(admin.list_consumer_group_offsets(GROUP), {})
        self.assertNotIn(GROUP, [gid for gid, _ in admin.list_consumer_groups()])
        self.assertEqual(gu.committed(self.broker.bootstrap, GROUP, TOPIC, PARTS),
                         {p: None for p in range(PARTS)})
        res = dict(admin.delete_consumer_groups([GROUP]))
        self.assertIs(res[GROUP], ke.GroupIdNotFoundError, res)

    def test_raw_list_and_describe_versions(self):
        """DescribeGroups v0-v4 and ListGroups v0-v2 agree on a group of one raw member."""
        group = "g-raw-desc"
        with gw.connect(self.broker) as conn:
            j = conn.join_as_new_member(group, ["adm-raw"], session_timeout_ms=30000)
            self.assertEqual(j["error"], 0, gw.err_name(j["error"]))
            s = conn.sync(3, group, j["generation"], j["member_id"],
                          [(j["member_id"], gw.consumer_assignment({"adm-raw": [0]}))])
            self.assertEqual(s["error"], 0, gw.err_name(s["error"]))
            for v in range(5):
                d = conn.describe(v, [group, "g-raw-none"])
                self.assertEqual(d[group]["error"], 0)
                self.assertEqual(d[group]["state"], "Stable")
                self.assertEqual(d[group]["protocol_type"], "consumer")
                self.assertEqual(d[group]["protocol"], "range")
                (m,) = d[group]["members"]
                self.assertEqual(m["member_id"], j["member_id"])
                self.assertEqual(m["client_id"], "kaffa-systest")
                self.assertEqual(gw.parse_consumer_assignment(m["assignment"]), {"adm-raw": [0]})
                # an unknown group: Kafka answers Dead (error NONE up to 3.x, GROUP_ID_NOT_FOUND
                # from the 4.0 coordinator)
                self.assertIn(d["g-raw-none"]["error"], (0, gw.GROUP_ID_NOT_FOUND))
                self.assertEqual(d["g-raw-none"]["state"], "Dead")
                self.assertEqual(d["g-raw-none"]["members"], [])
            for v in range(3):
                err, groups = conn.list(v)
                self.assertEqual(err, 0)
                self.assertEqual(groups.get(group), "consumer")
            self.assertEqual(conn.leave(1, group, j["member_id"])["error"], 0)
            self.assertEqual(conn.describe(1, [group])[group]["state"], "Empty")
            self.assertEqual(conn.delete(1, [group]), {group: 0})


if __name__ == "__main__":
    unittest.main()
