"""Raw wire encoders/decoders for Kafka's classic consumer-group APIs (system tests only).

Non-flexible versions only (simple to encode by hand and what most clients send):
FindCoordinator v1, JoinGroup v0-v5, SyncGroup v0-v3, Heartbeat v0-v3, LeaveGroup v0-v2,
OffsetCommit v2-v7, OffsetFetch v1-v5, DescribeGroups v0-v4, ListGroups v0-v2, DeleteGroups v0-v1.
Layouts follow Kafka's message schemas (clients/src/main/resources/common/message/*.json).

Also the consumer embedded protocol (ConsumerProtocolSubscription / ConsumerProtocolAssignment
v0), so tests can hand the broker real subscription metadata and read assignments.
"""


import kafka_wire as kw
from kafka_wire import i8, i16, i32, i64, string, array, frame, header_v1, Reader

OFFSET_COMMIT = 8
OFFSET_FETCH = 9
FIND_COORDINATOR = 10
JOIN_GROUP = 11
HEARTBEAT = 12
LEAVE_GROUP = 13
SYNC_GROUP = 14
DESCRIBE_GROUPS = 15
LIST_GROUPS = 16
DELETE_GROUPS = 42

# Kafka error codes used by the group tests.
NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
OFFSET_METADATA_TOO_LARGE = 12
COORDINATOR_LOAD_IN_PROGRESS = 14
COORDINATOR_NOT_AVAILABLE = 15
NOT_COORDINATOR = 16
ILLEGAL_GENERATION = 22
INCONSISTENT_GROUP_PROTOCOL = 23
INVALID_GROUP_ID = 24
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69
MEMBER_ID_REQUIRED = 79
GROUP_MAX_SIZE_REACHED = 81

ERROR_NAMES = {v: k for k, v in dict(globals()).items()
               if k.isupper() and isinstance(v, int) and k not in (
                   "OFFSET_COMMIT", "OFFSET_FETCH", "FIND_COORDINATOR", "JOIN_GROUP", "HEARTBEAT",
                   "LEAVE_GROUP", "SYNC_GROUP", "DESCRIBE_GROUPS", "LIST_GROUPS",
                   "DELETE_GROUPS")}


def err_name(code):
    return "%s(%d)" % (ERROR_NAMES.get(code, "?"), code)


def nbytes(b):
    """INT32-length bytes; None is null (-1)."""
    if b is None:
        return i32(-1)
    return i32(len(b)) + b


# ---- consumer embedded protocol ----

def consumer_subscription(topics, user_data=None):
    """ConsumerProtocolSubscription v0."""
    return i16(0) + array(topics, string) + nbytes(user_data)


def consumer_assignment(assignment, user_data=None):
    """ConsumerProtocolAssignment v0; assignment: {topic: [partitions]}."""
    return (i16(0) + array(sorted(assignment.items()),
                           lambda tp: string(tp[0]) + array(tp[1], i32))
            + nbytes(user_data))


def parse_consumer_assignment(data):
    """-> {topic: [partitions]} (empty dict for empty bytes)."""
    if not data:
        return {}
    r = Reader(data)
    r.i16()
    topics = r.array(lambda r: (r.string(), r.array(lambda r: r.i32())))
    return {t: ps for t, ps in (topics or [])}


def _bytes(r):
    n = r.i32()
    return None if n < 0 else r.take(n)


# ---- requests ----

def find_coordinator_v1(corr, key, key_type=0):
    return frame(header_v1(FIND_COORDINATOR, 1, corr) + string(key) + i8(key_type))


def join_group(corr, version, group, member_id="", session_timeout_ms=10000,
               rebalance_timeout_ms=10000, protocol_type="consumer", protocols=None,
               group_instance_id=None):
    """JoinGroup v0-v5. protocols: [(name, metadata bytes)]."""
    assert 0 <= version <= 5
    if protocols is None:
        protocols = [("range", consumer_subscription(["t"]))]
    body = string(group) + i32(session_timeout_ms)
    if version >= 1:
        body += i32(rebalance_timeout_ms)
    body += string(member_id)
    if version >= 5:
        body += string(group_instance_id)
    body += string(protocol_type) + array(protocols, lambda p: string(p[0]) + nbytes(p[1]))
    return frame(header_v1(JOIN_GROUP, version, corr) + body)


def parse_join_group(body, version):
    r = Reader(body)
    out = {"throttle_ms": r.i32() if version >= 2 else 0}
    out["error"] = r.i16()
    out["generation"] = r.i32()
    out["protocol"] = r.string()
    out["leader"] = r.string()
    out["member_id"] = r.string()

    def member(r):
        m = {"member_id": r.string()}
        if version >= 5:
            m["group_instance_id"] = r.string()
        m["metadata"] = _bytes(r)
        return m
    out["members"] = r.array(member)
    _check_done(r, "JoinGroup", version)
    return out


def sync_group(corr, version, group, generation, member_id, assignments=(),
               group_instance_id=None):
    """SyncGroup v0-v3; assignments: [(member_id, bytes)]."""
    assert 0 <= version <= 3
    body = string(group) + i32(generation) + string(member_id)
    if version >= 3:
        body += string(group_instance_id)
    body += array(list(assignments), lambda a: string(a[0]) + nbytes(a[1]))
    return frame(header_v1(SYNC_GROUP, version, corr) + body)


def parse_sync_group(body, version):
    r = Reader(body)
    out = {"throttle_ms": r.i32() if version >= 1 else 0}
    out["error"] = r.i16()
    out["assignment"] = _bytes(r)
    _check_done(r, "SyncGroup", version)
    return out


def heartbeat(corr, version, group, generation, member_id, group_instance_id=None):
    assert 0 <= version <= 3
    body = string(group) + i32(generation) + string(member_id)
    if version >= 3:
        body += string(group_instance_id)
    return frame(header_v1(HEARTBEAT, version, corr) + body)


def parse_heartbeat(body, version):
    r = Reader(body)
    out = {"throttle_ms": r.i32() if version >= 1 else 0}
    out["error"] = r.i16()
    _check_done(r, "Heartbeat", version)
    return out


def leave_group(corr, version, group, member_id):
    assert 0 <= version <= 2
    return frame(header_v1(LEAVE_GROUP, version, corr) + string(group) + string(member_id))


def parse_leave_group(body, version):
    r = Reader(body)
    out = {"throttle_ms": r.i32() if version >= 1 else 0}
    out["error"] = r.i16()
    _check_done(r, "LeaveGroup", version)
    return out


def offset_commit(corr, version, group, topics, generation=-1, member_id="",
                  group_instance_id=None, retention_ms=-1):
    """OffsetCommit v2-v7. topics: {topic: [(partition, offset, metadata)]}."""
    assert 2 <= version <= 7
    body = string(group) + i32(generation) + string(member_id)
    if version >= 7:
        body += string(group_instance_id)
    if 2 <= version <= 4:
        body += i64(retention_ms)

    def part(p):
        partition, offset, metadata = p
        b = i32(partition) + i64(offset)
        if version >= 6:
            b += i32(-1)  # committed_leader_epoch
        return b + string(metadata)
    body += array(sorted(topics.items()), lambda t: string(t[0]) + array(t[1], part))
    return frame(header_v1(OFFSET_COMMIT, version, corr) + body)


def parse_offset_commit(body, version):
    """-> {(topic, partition): error_code}."""
    r = Reader(body)
    if version >= 3:
        r.i32()
    out = {}
    for name, parts in r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16())))):
        for p, err in parts:
            out[(name, p)] = err
    _check_done(r, "OffsetCommit", version)
    return out


def offset_fetch(corr, version, group, topics):
    """OffsetFetch v1-v5; topics: {topic: [partitions]} or None (all, v2+)."""
    assert 1 <= version <= 5
    body = string(group)
    if topics is None:
        body += i32(-1)
    else:
        body += array(sorted(topics.items()), lambda t: string(t[0]) + array(t[1], i32))
    return frame(header_v1(OFFSET_FETCH, version, corr) + body)


def parse_offset_fetch(body, version):
    """-> (group error, {(topic, partition): (offset, metadata, error)})."""
    r = Reader(body)
    if version >= 3:
        r.i32()

    def part(r):
        p = r.i32()
        off = r.i64()
        if version >= 5:
            r.i32()
        return p, off, r.string(), r.i16()
    out = {}
    for name, parts in r.array(lambda r: (r.string(), r.array(part))):
        for p, off, md, err in parts:
            out[(name, p)] = (off, md, err)
    gerr = r.i16() if version >= 2 else 0
    _check_done(r, "OffsetFetch", version)
    return gerr, out


def describe_groups(corr, version, groups):
    assert 0 <= version <= 4
    body = array(groups, string)
    if version >= 3:
        body += i8(0)  # include_authorized_operations
    return frame(header_v1(DESCRIBE_GROUPS, version, corr) + body)


def parse_describe_groups(body, version):
    """-> {group_id: {error, state, protocol_type, protocol, members: [...]}}."""
    r = Reader(body)
    if version >= 1:
        r.i32()

    def member(r):
        m = {"member_id": r.string()}
        if version >= 4:
            m["group_instance_id"] = r.string()
        m["client_id"] = r.string()
        m["client_host"] = r.string()
        m["metadata"] = _bytes(r)
        m["assignment"] = _bytes(r)
        return m

    def group(r):
        g = {"error": r.i16(), "group_id": r.string(), "state": r.string(),
             "protocol_type": r.string(), "protocol": r.string(), "members": r.array(member)}
        if version >= 3:
            g["authorized_operations"] = r.i32()
        return g
    groups = r.array(group)
    _check_done(r, "DescribeGroups", version)
    return {g["group_id"]: g for g in groups}


def list_groups(corr, version):
    assert 0 <= version <= 2
    return frame(header_v1(LIST_GROUPS, version, corr))


def parse_list_groups(body, version):
    r = Reader(body)
    if version >= 1:
        r.i32()
    err = r.i16()
    groups = r.array(lambda r: (r.string(), r.string()))
    _check_done(r, "ListGroups", version)
    return err, dict(groups)


def delete_groups(corr, version, groups):
    assert 0 <= version <= 1
    return frame(header_v1(DELETE_GROUPS, version, corr) + array(groups, string))


def parse_delete_groups(body, version):
    r = Reader(body)
    r.i32()
    res = r.array(lambda r: (r.string(), r.i16()))
    _check_done(r, "DeleteGroups", version)
    return dict(res)


def _check_done(r, what, version):
    if not r.done():
        raise ValueError("%d trailing bytes after a %s v%d response body"
                         % (len(r.data) - r.pos, what, version))


# ---- a connection with round-trip helpers ----

class GroupConnection(kw.Connection):
    def find_coordinator(self, group):
        c = self.next_corr()
        body = self.round_trip(find_coordinator_v1(c, group), c, "FindCoordinator v1")
        r = Reader(body)
        r.i32()
        return {"error": r.i16(), "message": r.string(), "node_id": r.i32(), "host": r.string(),
                "port": r.i32()}

    def join(self, version, group, **kw_):
        c = self.next_corr()
        body = self.round_trip(join_group(c, version, group, **kw_), c, "JoinGroup v%d" % version)
        return parse_join_group(body, version)

    def sync(self, version, group, generation, member_id, assignments=(), **kw_):
        c = self.next_corr()
        body = self.round_trip(sync_group(c, version, group, generation, member_id, assignments,
                                         **kw_), c, "SyncGroup v%d" % version)
        return parse_sync_group(body, version)

    def heartbeat(self, version, group, generation, member_id, **kw_):
        c = self.next_corr()
        body = self.round_trip(heartbeat(c, version, group, generation, member_id, **kw_), c,
                              "Heartbeat v%d" % version)
        return parse_heartbeat(body, version)

    def leave(self, version, group, member_id):
        c = self.next_corr()
        body = self.round_trip(leave_group(c, version, group, member_id), c,
                              "LeaveGroup v%d" % version)
        return parse_leave_group(body, version)

    def commit(self, version, group, topics, **kw_):
        c = self.next_corr()
        body = self.round_trip(offset_commit(c, version, group, topics, **kw_), c,
                              "OffsetCommit v%d" % version)
        return parse_offset_commit(body, version)

    def fetch_offsets(self, version, group, topics):
        c = self.next_corr()
        body = self.round_trip(offset_fetch(c, version, group, topics), c,
                              "OffsetFetch v%d" % version)
        return parse_offset_fetch(body, version)

    def describe(self, version, groups):
        c = self.next_corr()
        body = self.round_trip(describe_groups(c, version, groups), c,
                              "DescribeGroups v%d" % version)
        return parse_describe_groups(body, version)

    def list(self, version=1):
        c = self.next_corr()
        body = self.round_trip(list_groups(c, version), c, "ListGroups v%d" % version)
        return parse_list_groups(body, version)

    def delete(self, version, groups):
        c = self.next_corr()
        body = self.round_trip(delete_groups(c, version, groups), c,
                              "DeleteGroups v%d" % version)
        return parse_delete_groups(body, version)

    def join_as_new_member(self, group, topics, version=5, session_timeout_ms=10000,
                           rebalance_timeout_ms=10000, protocol="range"):
        """JoinGroup v4+: the MEMBER_ID_REQUIRED round then the real join. Returns the second
        response (the caller asserts on its error)."""
        meta = consumer_subscription(topics)
        first = self.join(version, group, member_id="", session_timeout_ms=session_timeout_ms,
                          rebalance_timeout_ms=rebalance_timeout_ms,
                          protocols=[(protocol, meta)])
        if first["error"] != MEMBER_ID_REQUIRED:
            return first
        return self.join(version, group, member_id=first["member_id"],
                         session_timeout_ms=session_timeout_ms,
                         rebalance_timeout_ms=rebalance_timeout_ms,
                         protocols=[(protocol, meta)])


def connect(broker):
    return GroupConnection(broker.host, broker.port)
