"""Raw encoders/decoders for the consumer group protocol of KIP-848 and the flexible group APIs
that go with it (system tests only):

    heartbeat(corr, group, member_id, epoch, topics=None, owned=None, rebalance_timeout_ms=-1,
              assignor=None, instance_id=None, regex=None, version=0)
                                                                   ConsumerGroupHeartbeat v0-1
    parse_heartbeat(body) -> dict(error_code, error_message, member_id, member_epoch,
                                  interval_ms, assignment: None | {topic_id: [partition, ...]})
    describe(corr, groups, include_operations=False, version=0)    ConsumerGroupDescribe v0-1
    parse_describe(body, version=0) -> [dict(error_code, error_message, group_id, state, group_epoch,
                                  assignment_epoch, assignor, operations, members=[dict(member_id,
                                  instance_id, epoch, client_id, client_host, topics,
                                  assignment={(topic_name, topic_id): [p]}, target=...,
                                  type (v1+))])]
    offset_commit_v9(corr, group, epoch, member_id, [(topic, [(partition, offset)])], version=9)
    parse_offset_commit_v9(body) -> {(topic, partition): error_code}
    offset_fetch_v9(corr, group, member_id, epoch, [(topic, [partition])] | None)
    parse_offset_fetch_v9(body) -> (group error, {(topic, partition): (offset, error)})
    list_groups_v5(corr, states=(), types=()) / parse_list_groups_v5 -> (error, {id: (state, type,
                                                                          protocol_type)})
    create_partitions_v0(corr, topic, count) / parse_create_partitions_v0 -> {topic: error}
    offset_delete_v0(corr, group, [(topic, [partition])]) / parse_offset_delete_v0
        -> (group error, {(topic, partition): error})

Owned partitions and assignments name topics by id (16 bytes), as the protocol does.
"""

from fetch_wire import compact_array, tags
from kafka_wire import (Reader, array, compact_string, frame, header_v1, header_v2, i8, i32,
                        i64, string)

CONSUMER_GROUP_HEARTBEAT = 68
CONSUMER_GROUP_DESCRIBE = 69

UNKNOWN_SERVER_ERROR = -1
INVALID_REQUEST = 42
GROUP_ID_NOT_FOUND = 69
UNKNOWN_MEMBER_ID = 25
INCONSISTENT_GROUP_PROTOCOL = 23
NON_EMPTY_GROUP = 68
UNSUPPORTED_VERSION = 35
FENCED_MEMBER_EPOCH = 110
UNRELEASED_INSTANCE_ID = 111
UNSUPPORTED_ASSIGNOR = 112
STALE_MEMBER_EPOCH = 113
INVALID_REGULAR_EXPRESSION = 128
GROUP_AUTHORIZATION_FAILED = 30
GROUP_SUBSCRIBED_TO_TOPIC = 86


def _compact_nullable_array(items, enc):
    return b"\x00" if items is None else compact_array(items, enc)


def _topic_partitions(tp):
    topic_id, partitions = tp
    assert len(topic_id) == 16
    return topic_id + compact_array(list(partitions), i32) + tags()


def heartbeat(corr, group, member_id, epoch, topics=None, owned=None, rebalance_timeout_ms=-1,
              assignor=None, instance_id=None, rack_id=None, regex=None, version=0):
    """owned: None (not said) or {topic_id: [partitions]}; regex: v1 only."""
    body = (compact_string(group) + compact_string(member_id) + i32(epoch)
            + compact_string(instance_id) + compact_string(rack_id) + i32(rebalance_timeout_ms)
            + _compact_nullable_array(topics, compact_string))
    if version >= 1:
        body += compact_string(regex)
    body += (compact_string(assignor)
            + _compact_nullable_array(None if owned is None else sorted(owned.items()),
                                      _topic_partitions)
            + tags())
    return frame(header_v2(CONSUMER_GROUP_HEARTBEAT, version, corr) + body)


def _assignment(r):
    out = {}
    for _ in range(r.uvarint() - 1):
        topic_id = r.take(16)
        out[topic_id] = sorted(r.compact_array(lambda x: x.i32()))
        r.skip_tags()
    return out


def parse_heartbeat(body):
    r = Reader(body)
    out = {"throttle": r.i32(), "error_code": r.i16(), "error_message": r.compact_string(),
           "member_id": r.compact_string(), "member_epoch": r.i32(), "interval_ms": r.i32()}
    present = r.i8()
    out["assignment"] = None
    if present >= 0:
        out["assignment"] = _assignment(r)
        r.skip_tags()
    r.skip_tags()
    return out


def describe(corr, groups, include_operations=False, version=0):
    body = compact_array(groups, compact_string) + i8(1 if include_operations else 0) + tags()
    return frame(header_v2(CONSUMER_GROUP_DESCRIBE, version, corr) + body)


def _named_assignment(r):
    out = {}
    for _ in range(r.uvarint() - 1):
        topic_id = r.take(16)
        name = r.compact_string()
        out[(name, topic_id)] = sorted(r.compact_array(lambda x: x.i32()))
        r.skip_tags()
    r.skip_tags()
    return out


def parse_describe(body, version=0):
    r = Reader(body)
    r.i32()

    def member(x):
        m = {"member_id": x.compact_string(), "instance_id": x.compact_string(),
             "rack_id": x.compact_string(), "epoch": x.i32(), "client_id": x.compact_string(),
             "client_host": x.compact_string(),
             "topics": x.compact_array(lambda y: y.compact_string()),
             "regex": x.compact_string(), "assignment": _named_assignment(x),
             "target": _named_assignment(x)}
        if version >= 1:
            m["type"] = x.i8()
        x.skip_tags()
        return m

    def group(x):
        g = {"error_code": x.i16(), "error_message": x.compact_string(),
             "group_id": x.compact_string(), "state": x.compact_string(),
             "group_epoch": x.i32(), "assignment_epoch": x.i32(),
             "assignor": x.compact_string(), "members": x.compact_array(member),
             "operations": x.i32()}
        x.skip_tags()
        return g
    groups = r.compact_array(group)
    r.skip_tags()
    return groups


def offset_commit_v9(corr, group, epoch, member_id, topics, version=9):
    """OffsetCommit v8/v9 (flexible): topics [(name, [(partition, offset)])]."""
    def part(p):
        return i32(p[0]) + i64(p[1]) + i32(-1) + compact_string("") + tags()

    def topic(t):
        return compact_string(t[0]) + compact_array(t[1], part) + tags()
    body = (compact_string(group) + i32(epoch) + compact_string(member_id) + compact_string(None)
            + compact_array(topics, topic) + tags())
    return frame(header_v2(8, version, corr) + body)


def parse_offset_commit_v9(body):
    r = Reader(body)
    r.i32()
    out = {}

    def part(x):
        p = (x.i32(), x.i16())
        x.skip_tags()
        return p

    def topic(x):
        name = x.compact_string()
        for p, e in x.compact_array(part):
            out[(name, p)] = e
        x.skip_tags()
    r.compact_array(topic)
    return out


def offset_fetch_v9(corr, group, member_id, epoch, topics):
    def topic(t):
        return compact_string(t[0]) + compact_array(t[1], i32) + tags()

    def grp(_):
        return (compact_string(group) + compact_string(member_id) + i32(epoch)
                + _compact_nullable_array(topics, topic) + tags())
    body = compact_array([0], grp) + i8(0) + tags()
    return frame(header_v2(9, 9, corr) + body)


def parse_offset_fetch_v9(body):
    r = Reader(body)
    r.i32()
    offsets = {}
    errors = []

    def part(x, name):
        p, off = x.i32(), x.i64()
        x.i32()  # leader epoch
        x.compact_string()  # metadata
        offsets[(name, p)] = (off, x.i16())
        x.skip_tags()

    def topic(x):
        name = x.compact_string()
        x.compact_array(lambda y: part(y, name))
        x.skip_tags()

    def grp(x):
        x.compact_string()
        x.compact_array(topic)
        errors.append(x.i16())
        x.skip_tags()
    r.compact_array(grp)
    return errors[0], offsets


def list_groups_v5(corr, states=(), types=()):
    body = (compact_array(list(states), compact_string) + compact_array(list(types), compact_string)
            + tags())
    return frame(header_v2(16, 5, corr) + body)


def parse_list_groups_v5(body):
    r = Reader(body)
    r.i32()
    error = r.i16()
    out = {}

    def grp(x):
        gid, ptype, state, gtype = (x.compact_string(), x.compact_string(), x.compact_string(),
                                    x.compact_string())
        x.skip_tags()
        out[gid] = (state, gtype, ptype)
    r.compact_array(grp)
    return error, out


def create_partitions_v0(corr, topic, count):
    body = array([topic], lambda t: string(t) + i32(count) + i32(-1)) + i32(30000) + i8(0)
    return frame(header_v1(37, 0, corr) + body)


def parse_create_partitions_v0(body):
    r = Reader(body)
    r.i32()
    return dict(r.array(lambda x: (x.string(), x.i16(), x.string())[:2]))


def offset_delete_v0(corr, group, topics):
    body = string(group) + array(topics, lambda t: string(t[0]) + array(t[1], i32))
    return frame(header_v1(47, 0, corr) + body)


def parse_offset_delete_v0(body):
    r = Reader(body)
    error = r.i16()
    r.i32()
    out = {}

    def topic(x):
        name = x.string()
        for p, e in x.array(lambda y: (y.i32(), y.i16())):
            out[(name, p)] = e
    r.array(topic)
    return error, out


def round_trip(conn, make, parse, *args, flexible=True, **kw):
    """Sends make(corr, *args, **kw) on a kafka_wire.Connection and parses the answer."""
    corr = conn.next_corr()
    conn.send(make(corr, *args, **kw))
    got, body = conn.read_response(flexible_header=flexible)
    assert got == corr, (got, corr)
    return parse(body)

