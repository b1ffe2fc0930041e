"""Hand-written Kafka wire encoding for the system tests (no client library).

Only what the tests need: request framing with header v1/v2, ApiVersions v0/v3, Metadata v0-v2,
CreateTopics v0, and a reader for responses. Everything big-endian, as Kafka's protocol is.
"""

import socket
import struct

API_VERSIONS = 18
METADATA = 3
CREATE_TOPICS = 19
DELETE_TOPICS = 20

IO_DEADLINE_S = 30.0  # a safety net for reads; tests never rely on it expiring


# ---- primitive encoders ----

def i8(v):
    return struct.pack(">b", v)


def i16(v):
    return struct.pack(">h", v)


def i32(v):
    return struct.pack(">i", v)


def i64(v):
    return struct.pack(">q", v)


def uvarint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def string(s):
    """INT16-length string; None is the null string (-1)."""
    if s is None:
        return i16(-1)
    b = s.encode() if isinstance(s, str) else s
    return i16(len(b)) + b


def compact_string(s):
    if s is None:
        return uvarint(0)
    b = s.encode() if isinstance(s, str) else s
    return uvarint(len(b) + 1) + b


def array(items, enc):
    if items is None:
        return i32(-1)
    return i32(len(items)) + b"".join(enc(x) for x in items)


# ---- requests ----

def header_v1(api_key, version, correlation_id, client_id="kaffa-systest"):
    return i16(api_key) + i16(version) + i32(correlation_id) + string(client_id)


def header_v2(api_key, version, correlation_id, client_id="kaffa-systest"):
    return header_v1(api_key, version, correlation_id, client_id) + uvarint(0)


def frame(payload):
    return i32(len(payload)) + payload


def api_versions_v0(correlation_id, client_id="kaffa-systest"):
    return frame(header_v1(API_VERSIONS, 0, correlation_id, client_id))


def api_versions_v3(correlation_id, software_name, software_version, client_id="kaffa-systest"):
    body = compact_string(software_name) + compact_string(software_version) + uvarint(0)
    return frame(header_v2(API_VERSIONS, 3, correlation_id, client_id) + body)


def metadata_request(correlation_id, version, topics):
    """Metadata v0-v3 (non-flexible, no allow_auto_topic_creation): topics None = all (v1+)."""
    assert 0 <= version <= 3
    body = array(topics, string)
    return frame(header_v1(METADATA, version, correlation_id) + body)


def create_topics_v0(correlation_id, topics, timeout_ms=30000):
    """topics: list of (name, partitions, replication_factor)."""
    def topic(t):
        name, partitions, rf = t
        return string(name) + i32(partitions) + i16(rf) + array([], None) + array([], None)
    return frame(header_v1(CREATE_TOPICS, 0, correlation_id) + array(topics, topic)
                 + i32(timeout_ms))


# ---- response reading ----

class Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("response truncated: want %d bytes at %d of %d"
                             % (n, self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def i8(self):
        return struct.unpack(">b", self.take(1))[0]

    def i16(self):
        return struct.unpack(">h", self.take(2))[0]

    def i32(self):
        return struct.unpack(">i", self.take(4))[0]

    def i64(self):
        return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        shift = 0
        v = 0
        while True:
            b = self.take(1)[0]
            v |= (b & 0x7F) << shift
            if not b & 0x80:
                return v
            shift += 7

    def string(self):
        n = self.i16()
        return None if n < 0 else self.take(n).decode()

    def compact_string(self):
        n = self.uvarint()
        return None if n == 0 else self.take(n - 1).decode()

    def array(self, item):
        n = self.i32()
        return None if n < 0 else [item(self) for _ in range(n)]

    def compact_array(self, item):
        n = self.uvarint()
        return None if n == 0 else [item(self) for _ in range(n - 1)]

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())

    def done(self):
        return self.pos == len(self.data)


def parse_api_versions_v0(body):
    """Body of an ApiVersions v0 response -> (error_code, {api_key: (min, max)}); the whole body
    must be consumed (the v0 layout has no trailing fields)."""
    r = Reader(body)
    err = r.i16()
    keys = r.array(lambda r: (r.i16(), r.i16(), r.i16()))
    if not r.done():
        raise ValueError("%d trailing bytes after an ApiVersions v0 body" % (len(body) - r.pos))
    return err, {k: (lo, hi) for k, lo, hi in keys}


def parse_api_versions_v3(body):
    r = Reader(body)
    err = r.i16()

    def entry(r):
        e = (r.i16(), r.i16(), r.i16())
        r.skip_tags()
        return e
    keys = r.compact_array(entry)
    throttle = r.i32()
    r.skip_tags()
    if not r.done():
        raise ValueError("%d trailing bytes after an ApiVersions v3 body" % (len(body) - r.pos))
    return err, {k: (lo, hi) for k, lo, hi in keys}, throttle


def parse_metadata(body, version):
    """Metadata response v0-v2 -> dict(brokers, cluster_id, controller_id, topics)."""
    assert 0 <= version <= 2
    r = Reader(body)

    def broker(r):
        b = {"node_id": r.i32(), "host": r.string(), "port": r.i32()}
        if version >= 1:
            b["rack"] = r.string()
        return b
    out = {"brokers": r.array(broker), "cluster_id": None, "controller_id": None}
    if version >= 2:
        out["cluster_id"] = r.string()
    if version >= 1:
        out["controller_id"] = r.i32()

    def partition(r):
        return {"error_code": r.i16(), "index": r.i32(), "leader": r.i32(),
                "replicas": r.array(lambda r: r.i32()), "isr": r.array(lambda r: r.i32())}

    def topic(r):
        t = {"error_code": r.i16(), "name": r.string()}
        if version >= 1:
            t["is_internal"] = r.i8() != 0
        t["partitions"] = r.array(partition)
        return t
    out["topics"] = r.array(topic)
    if not r.done():
        raise ValueError("%d trailing bytes after a Metadata v%d body" % (len(body) - r.pos, version))
    return out


def parse_create_topics_v0(body):
    r = Reader(body)
    return {name: err for name, err in r.array(lambda r: (r.string(), r.i16()))}


# ---- connections ----

class Connection:
    """A blocking TCP connection to the broker speaking raw frames."""

    def __init__(self, host, port, timeout=IO_DEADLINE_S):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._corr = 100

    def next_corr(self):
        """A fresh correlation id for the next request."""
        self._corr += 1
        return self._corr

    def round_trip(self, data, corr, what):
        """Sends one request frame and returns the body of its answer (classic header), checking
        the correlation id; a close instead of an answer fails the test."""
        self.send(data)
        resp = self.read_response()
        if resp is None:
            raise AssertionError("connection closed instead of answering %s" % what)
        got, body = resp
        if got != corr:
            raise AssertionError("%s: correlation id %d, want %d" % (what, got, corr))
        return body

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        """n bytes, or None if the peer closed the connection first (EOF or reset)."""
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except ConnectionResetError:
                return None
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def read_frame(self):
        """The next response frame's bytes (without the size prefix), or None at EOF."""
        head = self.recv_exact(4)
        if head is None:
            return None
        (size,) = struct.unpack(">i", head)
        if size < 0:
            raise ValueError("negative response size %d" % size)
        data = self.recv_exact(size)
        if data is None:
            raise ValueError("connection closed inside a response of %d bytes" % size)
        return data

    def read_response(self, flexible_header=False):
        """(correlation_id, body) of the next response, or None at EOF."""
        data = self.read_frame()
        if data is None:
            return None
        r = Reader(data)
        corr = r.i32()
        if flexible_header:
            r.skip_tags()
        return corr, data[r.pos:]

    def expect_closed(self):
        """True when the broker closes the connection without sending anything more."""
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            return True
        return data == b""

    def api_versions(self, correlation_id=1):
        self.send(api_versions_v0(correlation_id))
        resp = self.read_response()
        if resp is None:
            raise AssertionError("connection closed instead of answering ApiVersions v0")
        corr, body = resp
        if corr != correlation_id:
            raise AssertionError("correlation id %d, want %d" % (corr, correlation_id))
        return parse_api_versions_v0(body)

    def metadata(self, topics, version=2, correlation_id=1):
        self.send(metadata_request(correlation_id, version, topics))
        resp = self.read_response()
        if resp is None:
            raise AssertionError("connection closed instead of answering Metadata v%d" % version)
        corr, body = resp
        if corr != correlation_id:
            raise AssertionError("correlation id %d, want %d" % (corr, correlation_id))
        return parse_metadata(body, version)

    def create_topics(self, topics, correlation_id=1):
        self.send(create_topics_v0(correlation_id, topics))
        resp = self.read_response()
        if resp is None:
            raise AssertionError("connection closed instead of answering CreateTopics v0")
        corr, body = resp
        if corr != correlation_id:
            raise AssertionError("correlation id %d, want %d" % (corr, correlation_id))
        return parse_create_topics_v0(body)

    def describe_log_dirs(self, correlation_id=1):
        """DescribeLogDirs v1 for every partition: [(error, path, {topic: {partition: (size,
        offset_lag, is_future)}})], one entry per log directory in the broker's order."""
        self.send(frame(header_v1(35, 1, correlation_id) + i32(-1)))
        corr, data = self.read_response()
        if corr != correlation_id:
            raise AssertionError("correlation id %d, want %d" % (corr, correlation_id))
        r = Reader(data)
        r.i32()  # throttle

        def partition(r):
            return (r.i32(), r.i64(), r.i64(), r.i8())
        dirs = r.array(lambda r: (r.i16(), r.string(),
                                  r.array(lambda r: (r.string(), r.array(partition)))))
        if not r.done():
            raise AssertionError("DescribeLogDirs v1: bytes left over")
        return [(error, path, {name: {p[0]: p[1:] for p in ps} for name, ps in topics})
                for error, path, topics in dirs]

    def alter_replica_log_dirs(self, moves, correlation_id=1):
        """AlterReplicaLogDirs v1: moves {path: {topic: [partitions]}} -> {(topic, partition):
        error code}."""
        body = array(list(moves.items()), lambda d: string(d[0]) + array(
            list(d[1].items()), lambda t: string(t[0]) + array(t[1], i32)))
        self.send(frame(header_v1(34, 1, correlation_id) + body))
        corr, data = self.read_response()
        if corr != correlation_id:
            raise AssertionError("correlation id %d, want %d" % (corr, correlation_id))
        r = Reader(data)
        r.i32()  # throttle
        topics = r.array(lambda r: (r.string(), r.array(lambda r: (r.i32(), r.i16()))))
        if not r.done():
            raise AssertionError("AlterReplicaLogDirs v1: bytes left over")
        return {(t, p): e for t, ps in topics for p, e in ps}


def connect(broker):
    return Connection(broker.host, broker.port)
