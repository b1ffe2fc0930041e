#!/usr/bin/python3
"""Transactions in a cluster of three brokers (librdkafka's transactional producer).

Topic "ctx" has three partitions led by brokers 1, 2 and 3, so every transaction's markers go
to the other brokers with WriteTxnMarkers; __transaction_state has three partitions (RF 3).
- Commit, abort, commit over all three partitions plus sent offsets: a read_committed consumer
  reads exactly the committed records; the group's committed offset is the one sent with the
  committed transaction, not the aborted one (the offsets partition may be led by any broker).
- Coordinator failover: with a transaction open, the broker leading the transactional id's
  __transaction_state partition is killed (kill -9). A new producer with the same id, answered by
  the new coordinator (which loaded the partition), fences the old producer: the open
  transaction is aborted (never visible to read_committed) and the new one commits.
- A broker that stops answering (SIGSTOP: its connections stay open, requests go unanswered)
  holds back only the markers bound for it: with two transactions of one coordinator committed,
  one on a partition of the silent broker and one on another broker's, the second becomes
  stable while the first waits (PrepareCommit) until the silent broker answers again. The
  inter-broker request timeout is 5 minutes, so markers queued behind the silent broker's
  request would wait longer than the test does.
- KIP-890 verification across brokers (raw requests): a partition leader asks the transactional
  id's coordinator on another broker (AddPartitionsToTxn v5, verify_only) before a producer's
  first transactional batch there. Before the partition is added and after the transaction
  committed, the batch is refused with INVALID_TXN_STATE and the last stable offset does not
  hang; once added, it is appended.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from cluster_harness import KaffaCluster  # noqa: E402
from test_transactions import (consume_all, describe_transaction, produce,  # noqa: E402
                               txn_producer, wait_for)
import kafka_records as kr  # noqa: E402
import txn_wire as tw  # noqa: E402
from test_idempotent_producer import init_producer_id  # noqa: E402
from test_txn_verification import INVALID_TXN_STATE, offsets, txn_batch  # noqa: E402
from test_txn_verification import produce as produce_raw  # noqa: E402

from confluent_kafka import Consumer, TopicPartition  # noqa: E402

TXN_PARTITIONS = 3


def java_hash(s):
    h = 0
    for unit in s.encode("utf-16-be").decode("utf-16-be"):
        h = (31 * h + ord(unit)) & 0xFFFFFFFF
    return h - (1 << 32) if h >= 1 << 31 else h


def txn_partition(txn_id):
    h = java_hash(txn_id)
    return (0 if h == -(1 << 31) else abs(h)) % TXN_PARTITIONS


def coordinator_and_other_leader(c, topic, txn_id):
    """Creates `topic` (3 partitions, each broker leading one) and the transactional id's
    coordinator; returns (coordinator, leader, partition) for a partition the coordinator does
    not lead."""
    c.create_topic(topic, 3, assignment=[[1, 2, 3], [2, 3, 1], [3, 1, 2]])
    c.wait_full_isr(topic)
    txn_producer(c.bootstrap, txn_id)  # makes __transaction_state, loads the id
    coordinator = c.leader("__transaction_state", txn_partition(txn_id))
    part = next(i for i in range(3) if i + 1 != coordinator.node_id)
    leader = c.leader(topic, part)
    assert leader.node_id != coordinator.node_id
    return coordinator, leader, part


class ClusterTransactionsTest(unittest.TestCase):
    def cluster(self):
        return KaffaCluster(3, overrides={
            "transaction.state.log.num.partitions": str(TXN_PARTITIONS),
            "offsets.topic.num.partitions": "3",
            "group.initial.rebalance.delay.ms": "0"})

    def test_markers_reach_partitions_on_other_brokers(self):
        with self.cluster() as c:
            c.create_topic("ctx", 3, assignment=[[1, 2, 3], [2, 3, 1], [3, 1, 2]])
            c.wait_full_isr("ctx")
            consumer = Consumer({"bootstrap.servers": c.bootstrap, "group.id": "ceos",
                                 "enable.auto.commit": False})
            p = txn_producer(c.bootstrap, "t-cluster")
            for i, commit in enumerate((True, False, True)):
                p.begin_transaction()
                for part in range(3):
                    produce(p, "ctx", ["%s%d-%d" % ("c" if commit else "a", i, part)], part)
                p.send_offsets_to_transaction([TopicPartition("ctx", 0, 10 + i)],
                                              consumer.consumer_group_metadata(), 30)
                if commit:
                    p.commit_transaction(30)
                else:
                    p.abort_transaction(30)
            got = consume_all(c.bootstrap, "ctx", 3, True)
            self.assertEqual(got, {part: ["c0-%d" % part, "c2-%d" % part] for part in range(3)})
            committed = consumer.committed([TopicPartition("ctx", 0)], timeout=10)[0].offset
            self.assertEqual(committed, 12)
            consumer.close()

    def test_coordinator_failover_fences_the_open_transaction(self):
        with self.cluster() as c:
            c.create_topic("ha", 1, assignment=[[1, 2, 3]])
            c.wait_full_isr("ha")
            old = txn_producer(c.bootstrap, "t-ha")
            c.wait_full_isr("__transaction_state")
            old.begin_transaction()
            produce(old, "ha", ["zombie"], 0)
            coordinator = c.leader("__transaction_state", txn_partition("t-ha"))
            coordinator.kill9()
            c.wait_leaders("__transaction_state", exclude=(coordinator.node_id,))
            c.wait_leaders("ha", exclude=(coordinator.node_id,))
            new = txn_producer(c.bootstrap, "t-ha")
            new.begin_transaction()
            produce(new, "ha", ["live"], 0)
            new.commit_transaction(30)
            self.assertEqual(consume_all(c.bootstrap, "ha", 1, True), {0: ["live"]})
            self.assertEqual(consume_all(c.bootstrap, "ha", 1, False), {0: ["zombie", "live"]})

    def test_a_silent_broker_holds_back_only_its_own_markers(self):
        with KaffaCluster(3, overrides={
                "transaction.state.log.num.partitions": "1",
                "transaction.state.log.replication.factor": "1",
                "broker.session.timeout.ms": "120000",
                "replica.socket.timeout.ms": "300000"}) as c:
            held = txn_producer(c.bootstrap, "t-held")  # makes __transaction_state
            coordinator = c.leader("__transaction_state", 0)
            silent, other = [b for b in c.brokers if b is not coordinator]
            c.create_topic("quiet", 2, replication_factor=1,
                           assignment=[[silent.node_id], [other.node_id]])
            c.wait_leaders("quiet")
            free = txn_producer(",".join("%s:%d" % (b.host, b.port) for b in (coordinator, other)),
                                "t-free")
            held.begin_transaction()
            produce(held, "quiet", ["held"], 0)
            free.begin_transaction()
            produce(free, "quiet", ["free"], 1)

            def stable_end(broker, partition):
                with kr.connect(broker) as conn:
                    return conn.fetch([("quiet", [(partition, 0, 1 << 20)])])[
                        ("quiet", partition)]["last_stable_offset"]

            silent.freeze()
            try:
                held.commit_transaction(30)  # answered once PrepareCommit is written
                free.commit_transaction(30)
                wait_for("the free transaction's marker",
                         lambda: stable_end(other, 1) == 2)  # its record, then the marker
                self.assertEqual(describe_transaction(coordinator, "t-held")[1], "PrepareCommit")
            finally:
                silent.thaw()
            wait_for("the held transaction to complete",
                     lambda: describe_transaction(coordinator, "t-held")[1] == "CompleteCommit")
            self.assertEqual(stable_end(silent, 0), 2)

    def test_leaders_verify_with_the_coordinator_on_another_broker(self):
        with self.cluster() as c:
            coordinator, leader, part = coordinator_and_other_leader(c, "vfy", "t-verify")
            with tw.connect(coordinator) as coord, kr.connect(leader) as data:
                err, pid, epoch = init_producer_id(coord, 1, coord.next_corr(), "t-verify")
                self.assertEqual(err, 0)
                r = produce_raw(data, txn_batch(pid, epoch, 0, b"early"), "t-verify", "vfy", part)
                self.assertEqual(r["error_code"], INVALID_TXN_STATE, r)
                self.assertEqual(offsets(data, "vfy", part), (0, 0))

                self.assertEqual(coord.add_partitions("t-verify", pid, epoch, {"vfy": [part]}),
                                 {("vfy", part): 0})
                r = produce_raw(data, txn_batch(pid, epoch, 0, b"in"), "t-verify", "vfy", part)
                self.assertEqual((r["error_code"], r["base_offset"]), (0, 0))
                self.assertEqual(coord.end_txn("t-verify", pid, epoch, True), 0)
                wait_for("the commit marker", lambda: offsets(data, "vfy", part) == (2, 2))
                wait_for("CompleteCommit", lambda: describe_transaction(
                    coordinator, "t-verify")[1] == "CompleteCommit")

                r = produce_raw(data, txn_batch(pid, epoch, 1, b"late"), "t-verify", "vfy", part)
                self.assertEqual(r["error_code"], INVALID_TXN_STATE, r)
                self.assertEqual(offsets(data, "vfy", part), (2, 2))

    def test_verification_survives_an_idle_close(self):
        """The coordinator closes the leader's verification connection once it has been idle for
        connections.max.idle.ms; the next transaction's first batch is verified on a new
        connection at once (no NETWORK_EXCEPTION, so no NOT_ENOUGH_REPLICAS to retry)."""
        with KaffaCluster(3, overrides={
                "transaction.state.log.num.partitions": str(TXN_PARTITIONS),
                "connections.max.idle.ms": "1500"}) as c:
            coordinator, leader, part = coordinator_and_other_leader(c, "idle", "t-idle")

            def one_transaction(sequence, value):
                with tw.connect(coordinator) as coord, kr.connect(leader) as data:
                    self.assertEqual(coord.add_partitions("t-idle", pid, epoch, {"idle": [part]}),
                                     {("idle", part): 0})
                    r = produce_raw(data, txn_batch(pid, epoch, sequence, value), "t-idle",
                                    "idle", part)
                    self.assertEqual(r["error_code"], 0, r)
                    self.assertEqual(coord.end_txn("t-idle", pid, epoch, True), 0)
                wait_for("CompleteCommit", lambda: describe_transaction(
                    coordinator, "t-idle")[1] == "CompleteCommit")

            with tw.connect(coordinator) as coord:
                err, pid, epoch = init_producer_id(coord, 1, coord.next_corr(), "t-idle")
            self.assertEqual(err, 0)
            one_transaction(0, b"first")
            # Only the brokers' own connections are left to go idle; the coordinator closes the
            # leader's verification connection after 1.5 s.
            mark = coordinator.log_mark()
            coordinator.wait_for_log(r"closing connection .* idle for", since=mark)
            one_transaction(1, b"after-idle")
            failures = leader.metric("kaffa_txn_verification_failures_total") or 0
            self.assertEqual(failures, 0)


if __name__ == "__main__":
    unittest.main()
