"""The cases of test_acl_matrix.py: for each API, a request at a simple version, how to read its
outcome, what alice gets without ACLs, the ACLs Kafka's KafkaApis requires, and the outcome then.
Resources (topics, groups) are made by the test's set-up as the super user.
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import acl_wire as aw  # noqa: E402
import fetch_wire as fw  # noqa: E402
import group_wire as gw  # noqa: E402
import kip848_wire as cgw  # noqa: E402
import kafka_records as kr  # noqa: E402
import kafka_wire as kw  # noqa: E402
import txn_wire as tw  # noqa: E402
from kafka_wire import i8, i32, i64, string, array, frame, header_v1, header_v2, Reader  # noqa: E402,E501

ALICE = "User:alice"
T = "mx-topic"          # exists, one record
T_NEW = "mx-created"    # created by alice once allowed
T_DEL = "mx-deleted"    # deleted by alice once allowed
T_AUTO = "mx-auto"      # auto-created by alice's Metadata once allowed
G = "mx-group"          # has a committed offset on T
G_DEL = "mx-group-del"  # deleted by alice once allowed
G_OD = "mx-group-od"    # its offset deleted by alice once allowed
G_CONSUMER = "mx-cgroup"  # a consumer group (KIP-848) alice joins once allowed
TXN = "mx-txn"          # made by alice's InitProducerId once allowed

# ---- small encoders for what other wire modules do not have (lowest simple versions) ----

def compact_array(items, enc):
    return kw.uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def compact_bytes(b):
    return kw.uvarint(len(b) + 1) + b


def first_topic_partition_errors(body, skip_throttle_first, part):
    """[error] of every partition of a response shaped [throttle] topics[name, partitions[...]]."""
    r = Reader(body)
    if skip_throttle_first:
        r.i32()
    out = []
    for _ in range(r.i32()):
        r.string()
        for _ in range(r.i32()):
            out.append(part(r))
    return out


def metadata_v1(corr, topics):
    return kw.metadata_request(corr, 1, topics)


def parse_metadata_topics(body):
    return {t["name"]: t["error_code"] for t in kw.parse_metadata(body, 1)["topics"]}


class Case:
    """One request of the matrix: its bytes, how to read its outcome, what alice gets without
    ACLs, which ACLs make it pass and what it answers then."""

    def __init__(self, key, name, request, outcome, denied, grants, allowed, flexible=False):
        self.key, self.name = key, name
        self.request = request      # corr -> frame bytes
        self.outcome = outcome      # response body -> comparable value
        self.denied = denied        # expected outcome for alice without ACLs
        self.grants = grants        # [acl tuples] for alice
        self.allowed = allowed      # expected outcome after the grants
        self.flexible = flexible    # response header v1


def G_(rt, name, op):
    return aw.acl(rt, name, op, ALICE)


def cases():
    c = []
    batch = kr.encode_batch([(b"k", b"v", ())])

    # 0 Produce v3: WRITE on the topic.
    c.append(Case(0, "Produce", lambda corr: kr.produce_request(corr, 3, [(T, [(0, batch)])], acks=1),
                  lambda b: [p["error_code"] for p in kr.parse_produce_response(b, 3).values()],
                  [29], [G_(aw.TOPIC, T, aw.WRITE)], [0]))
    # 1 Fetch v4: READ on the topic.
    c.append(Case(1, "Fetch", lambda corr: kr.fetch_v4_request(corr, [(T, [(0, 0, 1 << 20)])]),
                  lambda b: [p["error_code"] for p in kr.parse_fetch_v4_response(b).values()],
                  [29], [G_(aw.TOPIC, T, aw.READ)], [0]))
    # 2 ListOffsets v1: DESCRIBE on the topic.
    c.append(Case(2, "ListOffsets", lambda corr: kr.list_offsets_v1_request(corr, [(T, [(0, -1)])]),
                  lambda b: [p["error_code"] for p in kr.parse_list_offsets_v1_response(b).values()],
                  [29], [G_(aw.TOPIC, T, aw.DESCRIBE)], [0]))
    # 3 Metadata v1, all topics: T absent without DESCRIBE, listed with it.
    c.append(Case(3, "Metadata (all topics)", lambda corr: metadata_v1(corr, None),
                  lambda b: T in parse_metadata_topics(b), False,
                  [G_(aw.TOPIC, T, aw.DESCRIBE)], True))
    # 3 Metadata v1, named: TOPIC_AUTHORIZATION_FAILED without DESCRIBE.
    c.append(Case(3, "Metadata (named)", lambda corr: metadata_v1(corr, [T]),
                  lambda b: parse_metadata_topics(b).get(T), 29,
                  [G_(aw.TOPIC, T, aw.DESCRIBE)], 0))
    # 3 Metadata v1 auto-creation: DESCRIBE and CREATE on the topic.
    c.append(Case(3, "Metadata (auto-create)", lambda corr: metadata_v1(corr, [T_AUTO]),
                  lambda b: parse_metadata_topics(b).get(T_AUTO), 29,
                  [G_(aw.TOPIC, T_AUTO, aw.DESCRIBE), G_(aw.TOPIC, T_AUTO, aw.CREATE)], 0))
    # 8 OffsetCommit v2: READ on the group and on the topic.
    c.append(Case(8, "OffsetCommit", lambda corr: gw.offset_commit(corr, 2, G, {T: [(0, 1, "")]}),
                  lambda b: list(gw.parse_offset_commit(b, 2).values()), [30],
                  [G_(aw.GROUP, G, aw.READ), G_(aw.TOPIC, T, aw.READ)], [0]))
    c.append(Case(8, "OffsetCommit (group allowed, topic not)",
                  lambda corr: gw.offset_commit(corr, 2, G, {T: [(0, 1, "")]}),
                  lambda b: list(gw.parse_offset_commit(b, 2).values()), [30],
                  [G_(aw.GROUP, G, aw.READ), G_(aw.TOPIC, "other", aw.READ)], [29]))
    # 9 OffsetFetch v2: DESCRIBE on the group (group-level error) and on the topic.
    c.append(Case(9, "OffsetFetch", lambda corr: gw.offset_fetch(corr, 2, G, {T: [0]}),
                  lambda b: (lambda g, p: (g, [e for _, _, e in p.values()]))(
                      *gw.parse_offset_fetch(b, 2)),
                  (30, []),
                  [G_(aw.GROUP, G, aw.DESCRIBE), G_(aw.TOPIC, T, aw.DESCRIBE)], (0, [0])))
    # 10 FindCoordinator v1 (group key): DESCRIBE on the group.
    c.append(Case(10, "FindCoordinator", lambda corr: gw.find_coordinator_v1(corr, G),
                  lambda b: struct.unpack(">h", b[4:6])[0], 30,
                  [G_(aw.GROUP, G, aw.DESCRIBE)], 0))
    # 11 JoinGroup v1: READ on the group (joins and becomes leader of a new group).
    c.append(Case(11, "JoinGroup",
                  lambda corr: gw.join_group(corr, 1, "mx-join", session_timeout_ms=6000,
                                             rebalance_timeout_ms=6000),
                  lambda b: gw.parse_join_group(b, 1)["error"], 30,
                  [G_(aw.GROUP, "mx-join", aw.READ)], 0))
    # 12 Heartbeat v0, 13 LeaveGroup v0, 14 SyncGroup v0: READ on the group; once allowed the
    # unknown member is the coordinator's own answer (UNKNOWN_MEMBER_ID).
    c.append(Case(12, "Heartbeat", lambda corr: gw.heartbeat(corr, 0, G, 1, "nobody"),
                  lambda b: gw.parse_heartbeat(b, 0)["error"], 30,
                  [G_(aw.GROUP, G, aw.READ)], 25))
    c.append(Case(13, "LeaveGroup", lambda corr: gw.leave_group(corr, 0, G, "nobody"),
                  lambda b: gw.parse_leave_group(b, 0)["error"], 30,
                  [G_(aw.GROUP, G, aw.READ)], 25))
    c.append(Case(14, "SyncGroup", lambda corr: gw.sync_group(corr, 0, G, 1, "nobody"),
                  lambda b: gw.parse_sync_group(b, 0)["error"], 30,
                  [G_(aw.GROUP, G, aw.READ)], 25))
    # 15 DescribeGroups v0: DESCRIBE on the group.
    c.append(Case(15, "DescribeGroups", lambda corr: gw.describe_groups(corr, 0, [G]),
                  lambda b: gw.parse_describe_groups(b, 0)[G]["error"], 30,
                  [G_(aw.GROUP, G, aw.DESCRIBE)], 0))
    # 16 ListGroups v0: only groups alice may DESCRIBE (all of them with DESCRIBE on the cluster).
    c.append(Case(16, "ListGroups", lambda corr: gw.list_groups(corr, 0),
                  lambda b: (lambda e, g: (e, G in g, G_DEL in g))(*gw.parse_list_groups(b, 0)),
                  (0, False, False), [G_(aw.GROUP, G, aw.DESCRIBE)], (0, True, False)))
    c.append(Case(16, "ListGroups (cluster DESCRIBE)", lambda corr: gw.list_groups(corr, 0),
                  lambda b: (lambda e, g: (e, G in g, G_DEL in g))(*gw.parse_list_groups(b, 0)),
                  (0, False, False), [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.DESCRIBE)],
                  (0, True, True)))
    # 19 CreateTopics v0: CREATE on the topic (or the cluster).
    c.append(Case(19, "CreateTopics", lambda corr: kw.create_topics_v0(corr, [(T_NEW, 1, 1)]),
                  lambda b: kw.parse_create_topics_v0(b)[T_NEW], 29,
                  [G_(aw.TOPIC, T_NEW, aw.CREATE)], 0))
    # 20 DeleteTopics v0: DELETE on the topic.
    c.append(Case(20, "DeleteTopics",
                  lambda corr: frame(header_v1(20, 0, corr) + array([T_DEL], string) + i32(30000)),
                  lambda b: dict(Reader(b).array(lambda r: (r.string(), r.i16())))[T_DEL], 29,
                  [G_(aw.TOPIC, T_DEL, aw.DELETE)], 0))
    # 21 DeleteRecords v0: DELETE on the topic.
    c.append(Case(21, "DeleteRecords",
                  lambda corr: frame(header_v1(21, 0, corr) + array(
                      [T], lambda t: string(t) + array([0], lambda p: i32(p) + i64(0))) + i32(30000)),
                  lambda b: first_topic_partition_errors(
                      b, True, lambda r: (r.i32(), r.i64(), r.i16())[2]),
                  [29], [G_(aw.TOPIC, T, aw.DELETE)], [0]))
    # 22 InitProducerId v0: IDEMPOTENT_WRITE on the cluster, or WRITE on any topic.
    init_pid = (lambda corr: frame(header_v1(22, 0, corr) + string(None) + i32(60000)),
                lambda b: struct.unpack(">h", b[4:6])[0])
    c.append(Case(22, "InitProducerId (WRITE on a topic)", *init_pid, 31,
                  [G_(aw.TOPIC, T, aw.WRITE)], 0))
    c.append(Case(22, "InitProducerId (IDEMPOTENT_WRITE)", *init_pid, 31,
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.IDEMPOTENT_WRITE)], 0))
    # 22 InitProducerId v0 with a transactional id: WRITE on the transactional id.
    c.append(Case(22, "InitProducerId (transactional)",
                  lambda corr: frame(header_v1(22, 0, corr) + string(TXN) + i32(60000)),
                  lambda b: struct.unpack(">h", b[4:6])[0], 53,
                  [G_(aw.TRANSACTIONAL_ID, TXN, aw.WRITE)], 0))
    # 23 OffsetForLeaderEpoch v0: DESCRIBE on the topic.
    c.append(Case(23, "OffsetForLeaderEpoch",
                  lambda corr: frame(header_v1(23, 0, corr) + array(
                      [T], lambda t: string(t) + array([0], lambda p: i32(p) + i32(0)))),
                  lambda b: first_topic_partition_errors(
                      b, False, lambda r: (r.i16(), r.i32(), r.i64())[0]),
                  [29], [G_(aw.TOPIC, T, aw.DESCRIBE)], [0]))
    # 24 AddPartitionsToTxn v0: WRITE on the transactional id, then WRITE on each topic. The
    # producer id is not the id's (INVALID_PRODUCER_ID_MAPPING 49): the checks passed.
    c.append(Case(24, "AddPartitionsToTxn",
                  lambda corr: frame(header_v1(24, 0, corr) + string(TXN) + i64(424242)
                                     + kw.i16(0) + array([T], lambda t: string(t)
                                                         + array([0], i32))),
                  lambda b: first_topic_partition_errors(b, True, lambda r: (r.i32(), r.i16())[1]),
                  [53], [G_(aw.TRANSACTIONAL_ID, TXN, aw.WRITE), G_(aw.TOPIC, T, aw.WRITE)],
                  [49]))
    # 24 AddPartitionsToTxn v4 (between brokers, KIP-890 verification): CLUSTER_ACTION on the
    # cluster, else the top-level CLUSTER_AUTHORIZATION_FAILED (31) and no results. The producer
    # id is not the id's (INVALID_PRODUCER_ID_MAPPING 49).
    c.append(Case(24, "AddPartitionsToTxn v4",
                  lambda corr: tw.add_partitions_batched(corr, 4,
                                                         [(TXN, 424242, 0, True, {T: [0]})]),
                  tw.parse_add_partitions_batched, (31, {}),
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.CLUSTER_ACTION)], (0, {(TXN, T, 0): 49}),
                  flexible=True))
    # 25 AddOffsetsToTxn v0: WRITE on the transactional id, READ on the group.
    c.append(Case(25, "AddOffsetsToTxn",
                  lambda corr: frame(header_v1(25, 0, corr) + string(TXN) + i64(424242)
                                     + kw.i16(0) + string(G)),
                  lambda b: struct.unpack(">h", b[4:6])[0], 53,
                  [G_(aw.TRANSACTIONAL_ID, TXN, aw.WRITE), G_(aw.GROUP, G, aw.READ)], 49))
    # 26 EndTxn v0: WRITE on the transactional id.
    c.append(Case(26, "EndTxn",
                  lambda corr: frame(header_v1(26, 0, corr) + string(TXN) + i64(424242)
                                     + kw.i16(0) + i8(0)),
                  lambda b: struct.unpack(">h", b[4:6])[0], 53,
                  [G_(aw.TRANSACTIONAL_ID, TXN, aw.WRITE)], 49))
    # 27 WriteTxnMarkers v0 (between brokers): CLUSTER_ACTION on the cluster. The partition does
    # not exist (UNKNOWN_TOPIC_OR_PARTITION 3): the check passed, nothing is written.
    c.append(Case(27, "WriteTxnMarkers",
                  lambda corr: frame(header_v1(27, 0, corr) + array(
                      [0], lambda _: i64(424242) + kw.i16(0) + i8(1) + array(
                          ["mx-no-such-topic"], lambda t: string(t) + array([0], i32)) + i32(0))),
                  lambda b: (lambda r: [(r.i32(), r.i64(), r.i32(), r.string(), r.i32(), r.i32(),
                                         r.i16())[6]])(Reader(b)),
                  [31], [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.CLUSTER_ACTION)], [3]))
    # 28 TxnOffsetCommit v0: WRITE on the transactional id, READ on the group and the topic.
    # Then KIP-890 verification asks the transaction coordinator, for whom the producer id is not
    # the id's (INVALID_PRODUCER_ID_MAPPING 49): the checks passed.
    c.append(Case(28, "TxnOffsetCommit",
                  lambda corr: tw.txn_offset_commit(corr, 0, "mx-txn", G, 77, 0,
                                                    {T: [(0, 1, "")]}),
                  lambda b: list(tw.parse_txn_offset_commit(b, 0).values()), [53],
                  [G_(aw.TRANSACTIONAL_ID, "mx-txn", aw.WRITE), G_(aw.GROUP, G, aw.READ),
                   G_(aw.TOPIC, T, aw.READ)], [49]))
    # 29 DescribeAcls v1: DESCRIBE on the cluster.
    c.append(Case(29, "DescribeAcls", lambda corr: aw.describe_acls_v1(corr, aw.acl_filter()),
                  lambda b: aw.parse_describe_acls_v1(b)[0], 31,
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.DESCRIBE)], 0))
    # 30 CreateAcls v1 and 31 DeleteAcls v1: ALTER on the cluster.
    other = aw.acl(aw.TOPIC, "x", aw.READ, "User:nobody")
    c.append(Case(30, "CreateAcls", lambda corr: aw.create_acls_v1(corr, [other]),
                  lambda b: [e for e, _ in aw.parse_create_acls_v1(b)], [31],
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.ALTER)], [0]))
    c.append(Case(31, "DeleteAcls",
                  lambda corr: aw.delete_acls_v1(corr, [aw.acl_filter(principal="User:nobody")]),
                  lambda b: [e for e, _, _ in aw.parse_delete_acls_v1(b)], [31],
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.ALTER)], [0]))
    # 32 DescribeConfigs v0: DESCRIBE_CONFIGS on the topic / the group / on the cluster for a
    # broker.
    def describe_configs(rtype, name):
        return lambda corr: frame(header_v1(32, 0, corr) + array(
            [(rtype, name)], lambda x: i8(x[0]) + string(x[1]) + i32(-1)))

    def config_errors(b):
        r = Reader(b)
        r.i32()  # throttle
        assert r.i32() == 1  # one resource
        return r.i16()
    c.append(Case(32, "DescribeConfigs (topic)", describe_configs(2, T), config_errors, 29,
                  [G_(aw.TOPIC, T, aw.DESCRIBE_CONFIGS)], 0))
    c.append(Case(32, "DescribeConfigs (broker)", describe_configs(4, "0"), config_errors, 31,
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.DESCRIBE_CONFIGS)], 0))
    c.append(Case(32, "DescribeConfigs (group)", describe_configs(32, G), config_errors, 30,
                  [G_(aw.GROUP, G, aw.DESCRIBE_CONFIGS)], 0))
    # 33 AlterConfigs v0 (validate only): ALTER_CONFIGS on the topic / the group / the cluster.
    def alter_configs(rtype, name, configs):
        return lambda corr: frame(header_v1(33, 0, corr) + array(
            [(rtype, name)], lambda x: i8(x[0]) + string(x[1]) + array(
                configs, lambda kv: string(kv[0]) + string(kv[1]))) + i8(1))
    c.append(Case(33, "AlterConfigs (topic)", alter_configs(2, T, [("retention.ms", "86400000")]),
                  config_errors, 29, [G_(aw.TOPIC, T, aw.ALTER_CONFIGS)], 0))
    c.append(Case(33, "AlterConfigs (broker)", alter_configs(4, "0", []), config_errors, 31,
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.ALTER_CONFIGS)], 0))
    c.append(Case(33, "AlterConfigs (group)",
                  alter_configs(32, G, [("consumer.heartbeat.interval.ms", "6000")]),
                  config_errors, 30, [G_(aw.GROUP, G, aw.ALTER_CONFIGS)], 0))
    # 34 AlterReplicaLogDirs v1 to a path outside log.dirs: ALTER on the cluster (allowed, the
    # path is LOG_DIR_NOT_FOUND and nothing moves).
    c.append(Case(34, "AlterReplicaLogDirs",
                  lambda corr: frame(header_v1(34, 1, corr) + array(
                      ["/nonexistent"], lambda d: string(d) + array(
                          [(T, [0])], lambda t: string(t[0]) + array(t[1], i32)))),
                  lambda b: first_topic_partition_errors(
                      b, True, lambda r: (r.i32(), r.i16())[1])[0],
                  31, [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.ALTER)], 57))
    # 35 DescribeLogDirs v0: DESCRIBE on the cluster (refused: no directories).
    c.append(Case(35, "DescribeLogDirs",
                  lambda corr: frame(header_v1(35, 0, corr) + i32(-1)),
                  lambda b: (lambda r: (r.i32(), [r.i16() for _ in range(min(r.i32(), 1))])[1])(
                      Reader(b)),
                  [], [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.DESCRIBE)], [0]))
    # 37 CreatePartitions v0 (validate only): ALTER on the topic.
    c.append(Case(37, "CreatePartitions",
                  lambda corr: frame(header_v1(37, 0, corr) + array(
                      [T], lambda t: string(t) + i32(2) + i32(-1)) + i32(30000) + i8(1)),
                  lambda b: (lambda r: (r.i32(), r.i32(), r.string(), r.i16())[3])(Reader(b)), 29,
                  [G_(aw.TOPIC, T, aw.ALTER)], 0))
    # 42 DeleteGroups v0: DELETE on the group.
    c.append(Case(42, "DeleteGroups", lambda corr: gw.delete_groups(corr, 0, [G_DEL]),
                  lambda b: gw.parse_delete_groups(b, 0)[G_DEL], 30,
                  [G_(aw.GROUP, G_DEL, aw.DELETE)], 0))
    # 43 ElectLeaders v1: ALTER on the cluster (top-level error; a single node needs no election).
    c.append(Case(43, "ElectLeaders",
                  lambda corr: frame(header_v1(43, 1, corr) + i8(0) + array(
                      [(T, [0])], lambda x: string(x[0]) + array(x[1], i32)) + i32(30000)),
                  lambda b: (lambda r: (r.i32(), r.i16())[1])(Reader(b)), 31,
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.ALTER)], 0))
    # 44 IncrementalAlterConfigs v0 (validate only): ALTER_CONFIGS.
    def incremental(rtype, name, configs):
        return lambda corr: frame(header_v1(44, 0, corr) + array(
            [(rtype, name)], lambda x: i8(x[0]) + string(x[1]) + array(
                configs, lambda kv: string(kv[0]) + i8(0) + string(kv[1]))) + i8(1))
    c.append(Case(44, "IncrementalAlterConfigs (topic)",
                  incremental(2, T, [("retention.ms", "86400000")]), config_errors, 29,
                  [G_(aw.TOPIC, T, aw.ALTER_CONFIGS)], 0))
    c.append(Case(44, "IncrementalAlterConfigs (broker)", incremental(4, "0", []), config_errors,
                  31, [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.ALTER_CONFIGS)], 0))
    # 45 AlterPartitionReassignments v0 (flexible): ALTER on the cluster (top-level error; on a
    # single node its own id 0 is a valid target).
    target = kw.compact_string(T) + compact_array(
        [0], lambda p: i32(p) + compact_array([0], i32) + kw.uvarint(0)) + kw.uvarint(0)
    c.append(Case(45, "AlterPartitionReassignments",
                  lambda corr: frame(header_v2(45, 0, corr) + i32(30000)
                                     + compact_array([target], lambda t: t) + kw.uvarint(0)),
                  lambda b: (lambda r: (r.i32(), r.i16())[1])(Reader(b)), 31,
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.ALTER)], 0, flexible=True))
    # 46 ListPartitionReassignments v0 (flexible): DESCRIBE on the cluster.
    c.append(Case(46, "ListPartitionReassignments",
                  lambda corr: frame(header_v2(46, 0, corr) + i32(30000) + kw.uvarint(0)
                                     + kw.uvarint(0)),
                  lambda b: (lambda r: (r.i32(), r.i16())[1])(Reader(b)), 31,
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.DESCRIBE)], 0, flexible=True))
    # 47 OffsetDelete v0: DELETE on the group (group-level error) and READ on the topic.
    c.append(Case(47, "OffsetDelete",
                  lambda corr: frame(header_v1(47, 0, corr) + string(G_OD) + array(
                      [T], lambda t: string(t) + array([0], i32))),
                  lambda b: (lambda r: (r.i16(), r.i32(), [
                      e for _, ps in r.array(lambda r: (r.string(), r.array(
                          lambda r: (r.i32(), r.i16())))) for _, e in ps]))(Reader(b)),
                  (30, 0, []), [G_(aw.GROUP, G_OD, aw.DELETE), G_(aw.TOPIC, T, aw.READ)],
                  (0, 0, [0])))
    # 48 DescribeClientQuotas v0: DESCRIBE_CONFIGS on the cluster (top-level error).
    c.append(Case(48, "DescribeClientQuotas",
                  lambda corr: frame(header_v1(48, 0, corr) + i32(0) + i8(0)),
                  lambda b: (lambda r: (r.i32(), r.i16())[1])(Reader(b)), 31,
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.DESCRIBE_CONFIGS)], 0))
    # 49 AlterClientQuotas v0 (validate only): ALTER_CONFIGS on the cluster (per entry).
    c.append(Case(49, "AlterClientQuotas",
                  lambda corr: frame(header_v1(49, 0, corr) + array(
                      [0], lambda _: array([0], lambda _: string("user") + string("carol"))
                      + array([0], lambda _: string("producer_byte_rate")
                              + struct.pack(">d", 1000.0) + i8(0))) + i8(1)),
                  lambda b: (lambda r: (r.i32(), r.i32(), r.i16())[2])(Reader(b)), 31,
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.ALTER_CONFIGS)], 0))
    # 50 DescribeUserScramCredentials v0 (flexible): DESCRIBE on the cluster.
    c.append(Case(50, "DescribeUserScramCredentials",
                  lambda corr: frame(header_v2(50, 0, corr) + kw.uvarint(0) + kw.uvarint(0)),
                  lambda b: (lambda r: (r.i32(), r.i16())[1])(Reader(b)), 31,
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.DESCRIBE)], 0, flexible=True))
    # 51 AlterUserScramCredentials v0 (flexible): ALTER on the cluster.
    upsert = (kw.compact_string("carol") + i8(1) + i32(4096) + compact_bytes(b"salt")
              + compact_bytes(b"x" * 32) + kw.uvarint(0))
    c.append(Case(51, "AlterUserScramCredentials",
                  lambda corr: frame(header_v2(51, 0, corr) + compact_array([], None)
                                     + compact_array([upsert], lambda u: u) + kw.uvarint(0)),
                  lambda b: (lambda r: (r.i32(), r.uvarint(), r.compact_string(), r.i16())[3])(
                      Reader(b)), 31,
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.ALTER)], 0, flexible=True))
    # 60 DescribeCluster v0 (flexible): DESCRIBE on the cluster.
    c.append(Case(60, "DescribeCluster",
                  lambda corr: frame(header_v2(60, 0, corr) + i8(1) + kw.uvarint(0)),
                  lambda b: (lambda r: (r.i32(), r.i16())[1])(Reader(b)), 31,
                  [G_(aw.CLUSTER, aw.CLUSTER_NAME, aw.DESCRIBE)], 0, flexible=True))
    # 61 DescribeProducers v0 (flexible): READ on the topic.
    def producers_error(b):
        r = Reader(b)
        r.i32()
        r.uvarint()  # one topic
        r.compact_string()
        r.uvarint()  # one partition
        r.i32()
        return r.i16()
    c.append(Case(61, "DescribeProducers", lambda corr: tw.describe_producers(corr, {T: [0]}),
                  producers_error, 29, [G_(aw.TOPIC, T, aw.READ)], 0, flexible=True))
    # 75 DescribeTopicPartitions v0 (flexible): DESCRIBE on the topic.
    def first_topic_error(b):
        r = Reader(b)
        r.i32()
        r.uvarint()  # one topic
        return r.i16()
    c.append(Case(75, "DescribeTopicPartitions",
                  lambda corr: fw.describe_topic_partitions_request(corr, [T]),
                  first_topic_error, 29, [G_(aw.TOPIC, T, aw.DESCRIBE)], 0, flexible=True))
    # 68 ConsumerGroupHeartbeat v0 (flexible): READ on the group, DESCRIBE on each subscribed
    # topic; once allowed, a member joins a consumer group of its own (G keeps its committed
    # offset for the other cases).
    c.append(Case(68, "ConsumerGroupHeartbeat",
                  lambda corr: cgw.heartbeat(corr, G_CONSUMER, "", 0, topics=[T], owned={},
                                             rebalance_timeout_ms=30000),
                  lambda b: cgw.parse_heartbeat(b)["error_code"], 30,
                  [G_(aw.GROUP, G_CONSUMER, aw.READ), G_(aw.TOPIC, T, aw.DESCRIBE)], 0,
                  flexible=True))
    # 69 ConsumerGroupDescribe v0 (flexible): DESCRIBE on the group; once allowed, G (a group of
    # committed offsets, not a consumer group) answers GROUP_ID_NOT_FOUND.
    c.append(Case(69, "ConsumerGroupDescribe", lambda corr: cgw.describe(corr, [G]),
                  lambda b: cgw.parse_describe(b)[0]["error_code"], 30,
                  [G_(aw.GROUP, G, aw.DESCRIBE)], 69, flexible=True))
    # 65 DescribeTransactions v0 (flexible): DESCRIBE on the transactional id.
    def txn_state_error(b):
        r = Reader(b)
        r.i32()
        r.uvarint()  # one state
        return r.i16()
    c.append(Case(65, "DescribeTransactions",
                  lambda corr: frame(header_v2(65, 0, corr) + compact_array(
                      [TXN], kw.compact_string) + kw.uvarint(0)),
                  txn_state_error, 53, [G_(aw.TRANSACTIONAL_ID, TXN, aw.DESCRIBE)], 0,
                  flexible=True))
    # 66 ListTransactions v0 (flexible): lists the ids the principal may DESCRIBE (never an error).
    def listed_ids(b):
        r = Reader(b)
        r.i32()
        assert r.i16() == 0
        for _ in range(r.uvarint() - 1):
            r.compact_string()
        ids = []
        for _ in range(r.uvarint() - 1):
            ids.append(r.compact_string())
            r.i64()
            r.compact_string()
            r.uvarint()
        return ids
    c.append(Case(66, "ListTransactions",
                  lambda corr: frame(header_v2(66, 0, corr) + kw.uvarint(1) + kw.uvarint(1)
                                     + kw.uvarint(0)),
                  listed_ids, [], [G_(aw.TRANSACTIONAL_ID, TXN, aw.DESCRIBE)], [TXN],
                  flexible=True))
    return c
