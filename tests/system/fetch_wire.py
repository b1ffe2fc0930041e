"""The flexible forms of Fetch (v13-17: topics by id) and Produce (v9-11), with the tagged
KIP-951 leader hints of their responses, for raw-request system tests.

    fetch_request(corr, version, [(topic_id bytes, [(partition, offset, max_bytes)])], ...)
    parse_fetch_response(body) -> dict(error_code, session_id, node_endpoints,
                                       partitions={(topic_id, partition): dict(...)},
                                       order=[(topic_id, partition)] as answered)
    produce_request(corr, version, [(name, [(partition, records)])], acks)
    parse_produce_response(body) -> dict(node_endpoints, partitions={(name, partition): dict})

    topic_ids(conn, [name, ...]) -> {name: topic id bytes}   (Metadata v12)
    describe_topic_partitions_request(corr, names, limit, cursor) / parse_describe_topic_partitions

node_endpoints: {node_id: (host, port, rack)}; a partition's current_leader: (leader_id,
leader_epoch), or None when the tag is absent.
"""

from kafka_wire import Reader, compact_string, frame, header_v2, i8, i16, i32, i64, uvarint

FETCH = 1
PRODUCE = 0


def compact_array(items, enc):
    return uvarint(len(items) + 1) + b"".join(enc(x) for x in items)


def tags(fields=()):
    """Tagged fields: [(tag, bytes)] in tag order."""
    return uvarint(len(fields)) + b"".join(uvarint(t) + uvarint(len(d)) + d for t, d in fields)


def compact_bytes(b):
    return uvarint(0) if b is None else uvarint(len(b) + 1) + b


def fetch_request(corr, version, topics, max_wait_ms=0, min_bytes=0, max_bytes=64 << 20,
                  isolation_level=0, replica_id=-1, session_id=0, session_epoch=-1, forgotten=()):
    """Fetch v13-17. topics: [(topic_id 16 bytes, [(partition, fetch_offset, max_bytes)])];
    forgotten: [(topic_id, [partition])] (a fetch session's partitions to drop, KIP-227).
    replica_id is the field up to v14 and the tagged replica_state from v15."""
    assert 13 <= version <= 17

    def part(p):
        return (i32(p[0]) + i32(-1) + i64(p[1]) + i32(-1) + i64(-1) + i32(p[2]) + tags())

    def topic(t):
        assert len(t[0]) == 16
        return t[0] + compact_array(t[1], part) + tags()
    body = b""
    if version <= 14:
        body += i32(replica_id)
    body += (i32(max_wait_ms) + i32(min_bytes) + i32(max_bytes) + i8(isolation_level)
             + i32(session_id) + i32(session_epoch) + compact_array(topics, topic)
             + compact_array(list(forgotten),
                             lambda f: f[0] + compact_array(f[1], i32) + tags())
             + compact_string(""))
    if version >= 15 and replica_id != -1:
        body += tags([(1, i32(replica_id) + i64(-1) + tags())])
    else:
        body += tags()
    return frame(header_v2(FETCH, version, corr) + body)


def read_tags(r, handlers):
    """Reads a tagged-field section; handlers: {tag: fn(Reader of the field's bytes)}."""
    for _ in range(r.uvarint()):
        tag = r.uvarint()
        data = r.take(r.uvarint())
        if tag in handlers:
            handlers[tag](Reader(data))


def current_leader(out):
    def read(r):
        out["current_leader"] = (r.i32(), r.i32())
    return read


def node_endpoints(out):
    def read(r):
        def endpoint(r):
            node, host, port, rack = r.i32(), r.compact_string(), r.i32(), r.compact_string()
            read_tags(r, {})
            out[node] = (host, port, rack)
        r.compact_array(endpoint)
    return read


def parse_fetch_response(body):
    r = Reader(body)
    read_tags(r, {})  # response header v1
    out = {"throttle_time_ms": r.i32(), "error_code": r.i16(), "session_id": r.i32(),
           "partitions": {}, "order": [], "node_endpoints": {}}

    def partition(r, tid):
        p = {"index": r.i32(), "error_code": r.i16(), "high_watermark": r.i64(),
             "last_stable_offset": r.i64(), "log_start_offset": r.i64(), "current_leader": None}

        def aborted(r):
            a = (r.i64(), r.i64())
            read_tags(r, {})
            return a
        p["aborted"] = r.compact_array(aborted)
        p["preferred_read_replica"] = r.i32()
        n = r.uvarint()
        p["records"] = None if n == 0 else r.take(n - 1)
        read_tags(r, {1: current_leader(p)})
        out["partitions"][(tid, p["index"])] = p
        out["order"].append((tid, p["index"]))

    def topic(r):
        tid = r.take(16)
        r.compact_array(lambda r: partition(r, tid))
        read_tags(r, {})
    r.compact_array(topic)
    read_tags(r, {0: node_endpoints(out["node_endpoints"])})
    if not r.done():
        raise ValueError("%d trailing bytes after a Fetch response" % (len(body) - r.pos))
    return out


def produce_request(corr, version, topics, acks=-1, timeout_ms=30000):
    """Produce v9-11. topics: [(name, [(partition, records bytes)])]."""
    assert 9 <= version <= 11

    def part(p):
        return i32(p[0]) + compact_bytes(p[1]) + tags()

    def topic(t):
        return compact_string(t[0]) + compact_array(t[1], part) + tags()
    body = (compact_string(None) + i16(acks) + i32(timeout_ms) + compact_array(topics, topic)
            + tags())
    return frame(header_v2(PRODUCE, version, corr) + body)


def parse_produce_response(body):
    r = Reader(body)
    read_tags(r, {})  # response header v1
    out = {"partitions": {}, "node_endpoints": {}}

    def partition(r, name):
        p = {"index": r.i32(), "error_code": r.i16(), "base_offset": r.i64(),
             "log_append_time": r.i64(), "log_start_offset": r.i64(), "current_leader": None}

        def record_error(r):
            e = (r.i32(), r.compact_string())
            read_tags(r, {})
            return e
        p["record_errors"] = r.compact_array(record_error)
        p["error_message"] = r.compact_string()
        read_tags(r, {0: current_leader(p)})
        out["partitions"][(name, p["index"])] = p

    def topic(r):
        name = r.compact_string()
        r.compact_array(lambda r: partition(r, name))
        read_tags(r, {})
    r.compact_array(topic)
    out["throttle_time_ms"] = r.i32()
    read_tags(r, {0: node_endpoints(out["node_endpoints"])})
    if not r.done():
        raise ValueError("%d trailing bytes after a Produce response" % (len(body) - r.pos))
    return out


def metadata_request(corr, names):
    """Metadata v12 for the named topics (no auto-creation)."""
    body = (compact_array(names, lambda n: bytes(16) + compact_string(n) + tags())
            + i8(0) + i8(0) + tags())
    return frame(header_v2(3, 12, corr) + body)


def parse_metadata_topics(body):
    """Metadata v12 -> {name: dict(error_code, topic_id, leaders={partition: (leader, epoch)})}."""
    r = Reader(body)
    read_tags(r, {})  # response header v1
    r.i32()  # throttle

    def broker(r):
        r.i32(), r.compact_string(), r.i32(), r.compact_string()
        read_tags(r, {})
    r.compact_array(broker)
    r.compact_string()  # cluster id
    r.i32()  # controller
    out = {}

    def topic(r):
        t = {"error_code": r.i16()}
        name = r.compact_string()
        t["topic_id"] = r.take(16)
        r.i8()  # is_internal
        t["leaders"] = {}

        def partition(r):
            r.i16()
            index, leader, epoch = r.i32(), r.i32(), r.i32()
            for _ in range(3):  # replicas, isr, offline replicas
                r.compact_array(lambda r: r.i32())
            read_tags(r, {})
            t["leaders"][index] = (leader, epoch)
        r.compact_array(partition)
        r.i32()  # authorized operations
        read_tags(r, {})
        out[name] = t
    r.compact_array(topic)
    read_tags(r, {})
    return out


def topic_ids(conn, names):
    """{name: topic id bytes} through Metadata v12 on a kafka_wire.Connection."""
    corr = conn.next_corr()
    topics = parse_metadata_topics(conn.round_trip(metadata_request(corr, names), corr,
                                                   "Metadata v12"))
    return {n: t["topic_id"] for n, t in topics.items()}


def describe_topic_partitions_request(corr, names, limit=2000, cursor=None):
    """DescribeTopicPartitions v0; cursor: (topic, partition) or None."""
    body = compact_array(names, lambda n: compact_string(n) + tags()) + i32(limit)
    if cursor is None:
        body += i8(-1)
    else:
        body += i8(1) + compact_string(cursor[0]) + i32(cursor[1]) + tags()
    return frame(header_v2(75, 0, corr) + body + tags())


def parse_describe_topic_partitions(body):
    """-> (topics [dict(error_code, name, topic_id, is_internal, operations, partitions=[dict(
    index, error_code, leader, epoch, replicas, isr, elr, last_known_elr, offline)])],
    next_cursor (topic, partition) or None)."""
    r = Reader(body)
    read_tags(r, {})  # response header v1
    r.i32()  # throttle
    ints = (lambda r: r.compact_array(lambda r: r.i32()))

    def partition(r):
        p = {"error_code": r.i16(), "index": r.i32(), "leader": r.i32(), "epoch": r.i32(),
             "replicas": ints(r), "isr": ints(r), "elr": ints(r), "last_known_elr": ints(r),
             "offline": ints(r)}
        read_tags(r, {})
        return p

    def topic(r):
        t = {"error_code": r.i16(), "name": r.compact_string(), "topic_id": r.take(16),
             "is_internal": r.i8() != 0, "partitions": r.compact_array(partition)}
        t["operations"] = r.i32()
        read_tags(r, {})
        return t
    topics = r.compact_array(topic)
    cursor = None
    if r.i8() >= 0:
        cursor = (r.compact_string(), r.i32())
        read_tags(r, {})
    read_tags(r, {})
    if not r.done():
        raise ValueError("%d trailing bytes after DescribeTopicPartitions" % (len(body) - r.pos))
    return topics, cursor


def describe_topic_partitions(conn, names, limit=2000, cursor=None):
    corr = conn.next_corr()
    return parse_describe_topic_partitions(conn.round_trip(
        describe_topic_partitions_request(corr, names, limit, cursor), corr,
        "DescribeTopicPartitions"))
