#!/usr/bin/python3
"""KIP-890 partition verification on a single node, with raw requests (a real client never sends a
transactional batch outside its transaction; a late retry or a buggy one does).

(a) A transactional batch for a partition that is not in the producer's transaction is refused
    with INVALID_TXN_STATE and nothing is written, before the partition is added and again after
    the transaction was aborted (a late batch): the last stable offset does not hang behind it.
    Once added, the batches are appended and the transaction ends normally.
(b) A Produce without a transactional id carrying a transactional batch is refused the same way.
(c) With transaction.partition.verification.enable=false the late batch is appended, and the
    partition's last stable offset stays behind it: the hanging transaction the check prevents.
(e) TxnOffsetCommit: before AddOffsetsToTxn put the group's __consumer_offsets partition in the
    transaction, and after the transaction ended, the offsets are refused with INVALID_TXN_STATE
    and nothing is left pending (OffsetFetch with require_stable answers them as stable); after
    AddOffsetsToTxn they are accepted and pending until the commit makes them the group's.
(d) AddPartitionsToTxn v4-v5 (a broker's request): verify_only answers per partition and per
    transaction (NONE in the transaction; TRANSACTION_ABORTABLE outside it, INVALID_TXN_STATE in
    v4; PRODUCER_FENCED for another epoch; INVALID_PRODUCER_ID_MAPPING for an unknown id) and
    writes nothing; without verify_only the partitions are added.
"""

import os
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import KaffaBroker  # noqa: E402
import kafka_records as kr  # noqa: E402
import txn_wire as tw  # noqa: E402
from test_idempotent_producer import create_topic, init_producer_id  # noqa: E402
from test_transactions import describe_transaction, wait_for  # noqa: E402

TOPIC = "verified"
INVALID_TXN_STATE = 48
INVALID_PRODUCER_ID_MAPPING = 49
PRODUCER_FENCED = 90
TRANSACTION_ABORTABLE = 120


def txn_batch(pid, epoch, seq, value):
    return kr.encode_batch([(None, value, ())], producer_id=pid, producer_epoch=epoch,
                           base_sequence=seq, transactional=True)


def produce(conn, batch, transactional_id, topic=TOPIC, partition=0):
    """Produce v7 of one batch -> the partition's response dict."""
    corr = conn.next_corr()
    body = conn.round_trip(kr.produce_request(corr, 7, [(topic, [(partition, batch)])],
                                              transactional_id=transactional_id),
                           corr, "Produce v7")
    return kr.parse_produce_response(body, 7)[(topic, partition)]


def verification_metrics(broker):
    """(checks made, checks not answered NONE) from the broker's /metrics."""
    text = urllib.request.urlopen(broker.admin_url + "/metrics", timeout=10).read().decode()
    values = dict(line.rsplit(" ", 1) for line in text.splitlines()
                  if line.startswith(("kaffa_txn_verification_seconds_count",
                                      "kaffa_txn_verification_failures_total")))
    return (int(float(values["kaffa_txn_verification_seconds_count"])),
            int(float(values["kaffa_txn_verification_failures_total"])))


def offsets(conn, topic=TOPIC, partition=0):
    """(high watermark, last stable offset) of a partition."""
    corr = conn.next_corr()
    body = conn.round_trip(kr.fetch_v4_request(corr, [(topic, [(partition, 0, 1 << 20)])],
                                               isolation_level=1), corr, "Fetch v4")
    p = kr.parse_fetch_v4_response(body)[(topic, partition)]
    return p["high_watermark"], p["last_stable_offset"]


class VerificationTest(unittest.TestCase):
    def start(self, verify=True):
        self.broker = KaffaBroker(overrides={
            "transaction.partition.verification.enable": "true" if verify else "false"})
        self.broker.__enter__()
        create_topic(self.broker.bootstrap, TOPIC)
        self.conn = tw.connect(self.broker)
        err, self.pid, self.epoch = init_producer_id(self.conn, 1, self.conn.next_corr(),
                                                     transactional_id="vt")
        self.assertEqual(err, 0)

    def tearDown(self):
        try:
            self.conn.close()
            self.assertTrue(self.broker.alive(), self.broker.log_text())
            self.assertEqual(self.broker.stop(), 0, self.broker.log_text())
        finally:
            self.broker.kill()
            self.broker.cleanup()

    def add_and_write_then_abort(self):
        """Adds TOPIC-0, writes two batches (sequences 0 and 1) and aborts: the log ends at 3."""
        self.assertEqual(self.conn.add_partitions("vt", self.pid, self.epoch, {TOPIC: [0]}),
                         {(TOPIC, 0): 0})
        for seq in (0, 1):
            r = produce(self.conn, txn_batch(self.pid, self.epoch, seq, b"in-%d" % seq), "vt")
            self.assertEqual((r["error_code"], r["base_offset"]), (0, seq))
        self.assertEqual(offsets(self.conn)[1], 0)  # the transaction holds the LSO back
        self.assertEqual(self.conn.end_txn("vt", self.pid, self.epoch, False), 0)
        wait_for("the abort marker", lambda: offsets(self.conn) == (3, 3))
        # Until CompleteAbort is written the coordinator answers CONCURRENT_TRANSACTIONS, which
        # the leader passes on as NOT_ENOUGH_REPLICAS (retriable).
        wait_for("CompleteAbort",
                 lambda: describe_transaction(self.broker, "vt")[1] == "CompleteAbort")

    def test_a_batch_outside_its_transaction_is_refused(self):
        self.start()
        self.assertEqual(verification_metrics(self.broker), (0, 0))
        early = produce(self.conn, txn_batch(self.pid, self.epoch, 0, b"early"), "vt")
        self.assertEqual(early["error_code"], INVALID_TXN_STATE, early)
        self.assertEqual(early["base_offset"], -1)
        self.assertEqual(offsets(self.conn), (0, 0))
        self.assertEqual(verification_metrics(self.broker), (1, 1))

        self.add_and_write_then_abort()
        late = produce(self.conn, txn_batch(self.pid, self.epoch, 2, b"late"), "vt")
        self.assertEqual(late["error_code"], INVALID_TXN_STATE, late)
        self.assertEqual(offsets(self.conn), (3, 3))  # nothing written, nothing hanging

        # The next transaction takes the partition again and commits.
        self.assertEqual(self.conn.add_partitions("vt", self.pid, self.epoch, {TOPIC: [0]}),
                         {(TOPIC, 0): 0})
        r = produce(self.conn, txn_batch(self.pid, self.epoch, 2, b"next"), "vt")
        self.assertEqual((r["error_code"], r["base_offset"]), (0, 3))
        self.assertEqual(self.conn.end_txn("vt", self.pid, self.epoch, True), 0)
        wait_for("the commit marker", lambda: offsets(self.conn) == (5, 5))
        # Checked: early (refused), in-0 (its transaction's first batch), late (refused), next.
        self.assertEqual(verification_metrics(self.broker), (4, 2))

    def test_a_transactional_batch_needs_the_transactional_id(self):
        self.start()
        self.assertEqual(self.conn.add_partitions("vt", self.pid, self.epoch, {TOPIC: [0]}),
                         {(TOPIC, 0): 0})
        r = produce(self.conn, txn_batch(self.pid, self.epoch, 0, b"anonymous"), None)
        self.assertEqual(r["error_code"], INVALID_TXN_STATE, r)
        self.assertEqual(offsets(self.conn), (0, 0))

    def test_without_verification_a_late_batch_hangs_the_partition(self):
        self.start(verify=False)
        self.add_and_write_then_abort()
        late = produce(self.conn, txn_batch(self.pid, self.epoch, 2, b"late"), "vt")
        self.assertEqual((late["error_code"], late["base_offset"]), (0, 3))
        # No coordinator knows of this transaction: read_committed readers stop before it.
        self.assertEqual(offsets(self.conn), (4, 3))

    def test_offsets_outside_the_transaction_are_refused(self):
        self.start()
        group = "vgroup"

        def commit_offsets(offset):
            return self.conn.txn_commit(0, "vt", group, self.pid, self.epoch,
                                        {TOPIC: [(0, offset, "")]})

        def fetch(require_stable):
            return self.conn.fetch_v7(group, {TOPIC: [0]}, require_stable)[1][(TOPIC, 0)]

        self.assertEqual(commit_offsets(5), {(TOPIC, 0): INVALID_TXN_STATE})
        self.assertEqual(fetch(True), (-1, "", 0))  # nothing pending
        self.assertEqual(self.conn.add_offsets("vt", self.pid, self.epoch, group), 0)
        self.assertEqual(commit_offsets(6), {(TOPIC, 0): 0})
        self.assertEqual(fetch(True), (-1, "", tw.UNSTABLE_OFFSET_COMMIT))
        self.assertEqual(self.conn.end_txn("vt", self.pid, self.epoch, True), 0)
        wait_for("the committed offset", lambda: fetch(True) == (6, "", 0))
        wait_for("CompleteCommit",
                 lambda: describe_transaction(self.broker, "vt")[1] == "CompleteCommit")
        self.assertEqual(commit_offsets(7), {(TOPIC, 0): INVALID_TXN_STATE})  # late
        self.assertEqual(fetch(True), (6, "", 0))

    def test_brokers_verify_and_add_partitions(self):
        self.start()
        self.assertEqual(self.conn.add_partitions("vt", self.pid, self.epoch, {TOPIC: [0]}),
                         {(TOPIC, 0): 0})
        create_topic(self.broker.bootstrap, "other")
        verify = [("vt", self.pid, self.epoch, True, {TOPIC: [0], "other": [0]}),
                  ("vt-unknown", 5, 0, True, {TOPIC: [0]})]
        top, got = self.conn.add_partitions_batched(5, verify)
        self.assertEqual(top, 0)
        self.assertEqual(got, {("vt", TOPIC, 0): 0,
                               ("vt", "other", 0): TRANSACTION_ABORTABLE,
                               ("vt-unknown", TOPIC, 0): INVALID_PRODUCER_ID_MAPPING})
        top, got = self.conn.add_partitions_batched(
            4, [("vt", self.pid, self.epoch, True, {"other": [0]})])
        self.assertEqual((top, got), (0, {("vt", "other", 0): INVALID_TXN_STATE}))
        top, got = self.conn.add_partitions_batched(
            5, [("vt", self.pid, self.epoch + 1, True, {TOPIC: [0]})])
        self.assertEqual((top, got), (0, {("vt", TOPIC, 0): PRODUCER_FENCED}))
        # Without verify_only the partition joins the transaction.
        top, got = self.conn.add_partitions_batched(
            5, [("vt", self.pid, self.epoch, False, {"other": [0]})])
        self.assertEqual((top, got), (0, {("vt", "other", 0): 0}))
        top, got = self.conn.add_partitions_batched(
            5, [("vt", self.pid, self.epoch, True, {"other": [0]})])
        self.assertEqual((top, got), (0, {("vt", "other", 0): 0}))
        self.assertEqual(offsets(self.conn), (0, 0))  # verifying wrote nothing


if __name__ == "__main__":
    unittest.main()
