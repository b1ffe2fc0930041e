"""Raw wire encoders/decoders for transactions (system tests only): TxnOffsetCommit v0-v3
(flexible from v3), OffsetFetch v7 (flexible, with require_stable), AddPartitionsToTxn v0 (a
client's) and v4-v5 (a broker's, batched, with verify_only), AddOffsetsToTxn v0, EndTxn v0,
DescribeProducers v0 (flexible).
Layouts follow Kafka's message schemas (clients/src/main/resources/common/message/*.json).
"""

import kafka_wire as kw
from kafka_wire import i8, i16, i32, i64, string, array, frame, header_v1, header_v2, Reader

OFFSET_FETCH = 9
ADD_PARTITIONS_TO_TXN = 24
ADD_OFFSETS_TO_TXN = 25
END_TXN = 26
TXN_OFFSET_COMMIT = 28
DESCRIBE_PRODUCERS = 61

# Kafka error codes the transactional group tests use (besides group_wire's).
INVALID_PRODUCER_EPOCH = 47
TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53
FENCED_INSTANCE_ID = 82
UNSTABLE_OFFSET_COMMIT = 88

TAGS = kw.uvarint(0)  # an empty tagged-field section


def compact_array(items, enc):
    return kw.uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def txn_offset_commit(corr, version, transactional_id, group, producer_id, producer_epoch,
                      topics, generation=-1, member_id="", group_instance_id=None):
    """TxnOffsetCommit v0-v3. topics: {topic: [(partition, offset, metadata)]}."""
    assert 0 <= version <= 3
    flexible = version >= 3
    s = kw.compact_string if flexible else string
    arr = compact_array if flexible else array
    tags = TAGS if flexible else b""
    body = s(transactional_id) + s(group) + i64(producer_id) + i16(producer_epoch)
    if version >= 3:
        body += i32(generation) + s(member_id) + s(group_instance_id)

    def part(p):
        partition, offset, metadata = p
        b = i32(partition) + i64(offset)
        if version >= 2:
            b += i32(-1)  # committed_leader_epoch
        return b + s(metadata) + tags
    body += arr(sorted(topics.items()), lambda t: s(t[0]) + arr(t[1], part) + tags) + tags
    header = header_v2 if flexible else header_v1
    return frame(header(TXN_OFFSET_COMMIT, version, corr) + body)


def flexible_topic_errors(r):
    """A compact array of topics [name, partitions[index, error_code]] with tagged fields ->
    [(name, [(partition, error_code)])]."""
    def part(r):
        p, err = r.i32(), r.i16()
        r.skip_tags()
        return p, err

    def topic(r):
        name, parts = r.compact_string(), r.compact_array(part)
        r.skip_tags()
        return name, parts
    return r.compact_array(topic)


def parse_txn_offset_commit(body, version):
    """-> {(topic, partition): error_code}."""
    r = Reader(body)
    r.i32()  # throttle_time_ms
    out = {}
    if version >= 3:
        topics = flexible_topic_errors(r)
        r.skip_tags()
    else:
        topics = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
    for name, parts in topics:
        for p, err in parts:
            out[(name, p)] = err
    if not r.done():
        raise ValueError("trailing bytes after a TxnOffsetCommit v%d response" % version)
    return out


def offset_fetch_v7(corr, group, topics, require_stable):
    """OffsetFetch v7; topics: {topic: [partitions]} or None (all committed partitions)."""
    body = kw.compact_string(group)
    if topics is None:
        body += kw.uvarint(0)
    else:
        body += compact_array(sorted(topics.items()), lambda t: kw.compact_string(t[0])
                              + compact_array(t[1], i32) + TAGS)
    body += i8(1 if require_stable else 0) + TAGS
    return frame(header_v2(OFFSET_FETCH, 7, corr) + body)


def parse_offset_fetch_v7(body):
    """-> (group error, {(topic, partition): (offset, metadata, error)})."""
    r = Reader(body)
    r.i32()  # throttle_time_ms

    def part(r):
        p, off = r.i32(), r.i64()
        r.i32()  # committed_leader_epoch
        md, err = r.compact_string(), r.i16()
        r.skip_tags()
        return p, off, md, err

    def topic(r):
        name, parts = r.compact_string(), r.compact_array(part)
        r.skip_tags()
        return name, parts
    out = {}
    for name, parts in r.compact_array(topic):
        for p, off, md, err in parts:
            out[(name, p)] = (off, md, err)
    gerr = r.i16()
    r.skip_tags()
    if not r.done():
        raise ValueError("trailing bytes after an OffsetFetch v7 response")
    return gerr, out


def add_partitions_v0(corr, transactional_id, producer_id, producer_epoch, topics):
    """AddPartitionsToTxn v0 (a client's). topics: {topic: [partitions]}."""
    body = (string(transactional_id) + i64(producer_id) + i16(producer_epoch)
            + array(sorted(topics.items()), lambda t: string(t[0]) + array(t[1], i32)))
    return frame(header_v1(ADD_PARTITIONS_TO_TXN, 0, corr) + body)


def parse_add_partitions_v0(body):
    """-> {(topic, partition): error_code}."""
    r = Reader(body)
    r.i32()  # throttle_time_ms
    out = {}
    for name, parts in r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16())))):
        for p, err in parts:
            out[(name, p)] = err
    if not r.done():
        raise ValueError("trailing bytes after an AddPartitionsToTxn v0 response")
    return out


def add_partitions_batched(corr, version, transactions):
    """AddPartitionsToTxn v4/v5 (a broker's). transactions: [(transactional_id, producer_id,
    producer_epoch, verify_only, {topic: [partitions]})]."""
    assert version in (4, 5)

    def txn(t):
        tid, pid, epoch, verify_only, topics = t
        return (kw.compact_string(tid) + i64(pid) + i16(epoch) + i8(1 if verify_only else 0)
                + compact_array(sorted(topics.items()), lambda x: kw.compact_string(x[0])
                                + compact_array(x[1], i32) + TAGS) + TAGS)
    body = compact_array(transactions, txn) + TAGS
    return frame(header_v2(ADD_PARTITIONS_TO_TXN, version, corr) + body)


def parse_add_partitions_batched(body):
    """-> (top-level error, {(transactional_id, topic, partition): error_code})."""
    r = Reader(body)
    r.i32()  # throttle_time_ms
    top = r.i16()
    out = {}

    def txn(r):
        tid, topics = r.compact_string(), flexible_topic_errors(r)
        r.skip_tags()
        for name, parts in topics:
            for p, err in parts:
                out[(tid, name, p)] = err
    r.compact_array(txn)
    r.skip_tags()
    if not r.done():
        raise ValueError("trailing bytes after an AddPartitionsToTxn v4+ response")
    return top, out


def add_offsets_v0(corr, transactional_id, producer_id, producer_epoch, group):
    body = string(transactional_id) + i64(producer_id) + i16(producer_epoch) + string(group)
    return frame(header_v1(ADD_OFFSETS_TO_TXN, 0, corr) + body)


def end_txn_v0(corr, transactional_id, producer_id, producer_epoch, commit):
    body = string(transactional_id) + i64(producer_id) + i16(producer_epoch) + i8(int(commit))
    return frame(header_v1(END_TXN, 0, corr) + body)


def describe_producers(corr, topics):
    """DescribeProducers v0. topics: {topic: [partition, ...]}."""
    body = compact_array(sorted(topics.items()),
                         lambda t: kw.compact_string(t[0])
                         + compact_array(t[1], i32) + TAGS) + TAGS
    return frame(header_v2(DESCRIBE_PRODUCERS, 0, corr) + body)


def parse_describe_producers(body):
    """-> {(topic, partition): (error_code, error_message, [dict(producer_id, producer_epoch,
    last_sequence, last_timestamp, coordinator_epoch, current_txn_start_offset)])}."""
    r = Reader(body)
    r.skip_tags()  # response header v1
    r.i32()  # throttle
    out = {}

    def producer(r):
        p = {"producer_id": r.i64(), "producer_epoch": r.i32(), "last_sequence": r.i32(),
             "last_timestamp": r.i64(), "coordinator_epoch": r.i32(),
             "current_txn_start_offset": r.i64()}
        r.skip_tags()
        return p

    def topic(r):
        name = r.compact_string()

        def part(r):
            index, error, message = r.i32(), r.i16(), r.compact_string()
            out[(name, index)] = (error, message, r.compact_array(producer))
            r.skip_tags()
        r.compact_array(part)
        r.skip_tags()
    r.compact_array(topic)
    r.skip_tags()
    if not r.done():
        raise ValueError("%d trailing bytes after a DescribeProducers response" % (len(body) - r.pos))
    return out


class TxnConnection(kw.Connection):
    def add_partitions(self, transactional_id, producer_id, producer_epoch, topics):
        c = self.next_corr()
        body = self.round_trip(add_partitions_v0(c, transactional_id, producer_id, producer_epoch,
                                                 topics), c, "AddPartitionsToTxn v0")
        return parse_add_partitions_v0(body)

    def add_partitions_batched(self, version, transactions):
        c = self.next_corr()
        self.send(add_partitions_batched(c, version, transactions))
        resp = self.read_response(flexible_header=True)
        if resp is None:
            raise AssertionError("connection closed instead of answering AddPartitionsToTxn")
        assert resp[0] == c, "AddPartitionsToTxn: correlation id %d, want %d" % (resp[0], c)
        return parse_add_partitions_batched(resp[1])

    def add_offsets(self, transactional_id, producer_id, producer_epoch, group):
        c = self.next_corr()
        return self.error_of(add_offsets_v0(c, transactional_id, producer_id, producer_epoch,
                                            group), c, "AddOffsetsToTxn v0")

    def end_txn(self, transactional_id, producer_id, producer_epoch, commit):
        c = self.next_corr()
        return self.error_of(end_txn_v0(c, transactional_id, producer_id, producer_epoch,
                                        commit), c, "EndTxn v0")

    def txn_commit(self, version, transactional_id, group, producer_id, producer_epoch, topics,
                   **kw_):
        c = self.next_corr()
        self.send(txn_offset_commit(c, version, transactional_id, group, producer_id,
                                    producer_epoch, topics, **kw_))
        resp = self.read_response(flexible_header=version >= 3)
        if resp is None:
            raise AssertionError("connection closed instead of answering TxnOffsetCommit")
        assert resp[0] == c, "TxnOffsetCommit: correlation id %d, want %d" % (resp[0], c)
        return parse_txn_offset_commit(resp[1], version)

    def fetch_v7(self, group, topics, require_stable):
        c = self.next_corr()
        self.send(offset_fetch_v7(c, group, topics, require_stable))
        resp = self.read_response(flexible_header=True)
        if resp is None:
            raise AssertionError("connection closed instead of answering OffsetFetch v7")
        assert resp[0] == c, "OffsetFetch: correlation id %d, want %d" % (resp[0], c)
        return parse_offset_fetch_v7(resp[1])

    def describe_producers(self, topics):
        corr = self.next_corr()
        return parse_describe_producers(
            self.round_trip(describe_producers(corr, topics), corr, "DescribeProducers"))

    def error_of(self, data, corr, what):
        """The error code of a response shaped [throttle_time_ms, error_code]."""
        r = Reader(self.round_trip(data, corr, what))
        r.i32()  # throttle_time_ms
        return r.i16()


def connect(broker):
    return TxnConnection(broker.host, broker.port)
