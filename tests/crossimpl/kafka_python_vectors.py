#!/usr/bin/python3
"""Writes request/response bodies encoded by kafka-python (2.0.2) as cross-implementation vectors.

Usage: kafka_python_vectors.py OUTDIR

For every Request/Response class that kafka.protocol defines whose API key has a schema file in
schema/api/ and whose version lies within that file's `versions` line, this builds several
instances with deterministic values derived from the class's SCHEMA and writes each `.encode()`d
body to OUTDIR/kafka-python/<key>_<version>_<request|response>_<n>.bin. kaffa_crossimpl_check then
decodes every file with Kaffa's generated code and requires a byte-identical re-encoding.

Needs Debian's /usr/bin/python3 (package python3-kafka provides `kafka`).
"""

import importlib
import inspect
import os
import re
import sys

try:
    from kafka.protocol import types as T
    from kafka.protocol.api import Request, RequestHeader, Response
    from kafka.record.memory_records import MemoryRecordsBuilder
except ImportError as e:  # pragma: no cover - environment problem, say so clearly
    sys.exit(f"kafka_python_vectors.py: cannot import kafka-python ({e}); "
             "run with Debian's /usr/bin/python3 and install the python3-kafka package")

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_API_DIR = os.path.normpath(os.path.join(HERE, "..", "..", "schema", "api"))
MODULES = ["admin", "api", "commit", "fetch", "group", "metadata", "offset", "produce"]
VARIANTS = 3  # instances written per class/version

# Fields that Kafka's message definitions (clients/src/main/resources/common/message/*.json)
# declare nullable, by kafka-python field path, with the first version in which null is allowed.
# kafka-python's types do not carry nullability (its String/Bytes/Array all accept None), so the
# generator needs this table to know where a null is legal. Variant 2 writes null in each of them.
NULLABLE = {
    (0, "request"): {"transactional_id": 3, "topics.partitions.messages": 0},
    (1, "response"): {"topics.partitions.aborted_transactions": 4,
                      "topics.partitions.message_set": 0},
    (3, "request"): {"topics": 1},
    (3, "response"): {"brokers.rack": 1, "cluster_id": 2},
    (8, "request"): {"topics.partitions.metadata": 0},
    (9, "request"): {"topics": 2},
    (9, "response"): {"topics.partitions.metadata": 0},
    # (10, "response") error_message is nullable from v1, but only the excluded v1 class has it.
    (19, "request"): {"create_topic_requests.configs.config_value": 0},
    (19, "response"): {"topic_errors.error_message": 1},
    (32, "request"): {"resources.config_names": 0},
    (32, "response"): {"resources.error_message": 0,
                       "resources.config_entries.config_value": 0,
                       "resources.config_entries.config_synonyms.config_value": 1},
    (33, "request"): {"resources.config_entries.config_value": 0},
    (33, "response"): {"resources.error_message": 0},
    (36, "response"): {"error_message": 0},
    (37, "request"): {"topic_partitions.new_partitions.assignment": 0},
    (37, "response"): {"topic_errors.error_message": 0},
}

# Record-set fields (Kafka type `records`): filled with a real record batch rather than noise.
RECORDS_FIELDS = {(0, "request"): "topics.partitions.messages",
                  (1, "response"): "topics.partitions.message_set"}

# Genuine kafka-python 2.0.2 deviations from Kafka's protocol, left out of the vectors. Each entry
# is (key, kind, version) -> reason. Nothing else is excluded.
EXCLUDED = {
    # admin.py DescribeAclsRequest_v2 / DescribeAclsResponse_v2 reuse the v1 schemas ("Enable
    # flexible version" in the docstring only): Kafka's DescribeAcls v2 is flexible (compact
    # strings and arrays, tagged fields), so the v1 layout cannot be read as v2.
    (29, "request", 2): "kafka-python encodes DescribeAcls v2 in the v1 layout (Kafka: flexible)",
    (29, "response", 2): "kafka-python encodes DescribeAcls v2 in the v1 layout (Kafka: flexible)",
    # kafka/protocol/offset.py OffsetRequest_v4/_v5 declare current_leader_epoch as Int64; Kafka's
    # ListOffsetsRequest.json has CurrentLeaderEpoch int32 (versions 4+). The body is 4 bytes too
    # long, so no correct decoder can read it.
    (2, "request", 4): "kafka-python encodes current_leader_epoch as Int64 (Kafka: int32)",
    (2, "request", 5): "kafka-python encodes current_leader_epoch as Int64 (Kafka: int32)",
    # produce.py ProduceResponse_v8 means to add record_errors and error_message per partition
    # (ProduceResponse.json v8+, inside PartitionProduceResponse), but they sit inside the
    # ('partitions', Array(...)) tuple, where Schema's zip(*fields) silently drops them: the
    # encoded body is the v5-v7 layout.
    (0, "response", 8): "kafka-python drops record_errors/error_message (Kafka: v8+)",
    # commit.py GroupCoordinatorResponse_v1 lacks the leading throttle_time_ms
    # (FindCoordinatorResponse.json: ThrottleTimeMs int32 versions 1+, the first field).
    (10, "response", 1): "kafka-python omits throttle_time_ms (Kafka: v1+)",
    # admin.py DescribeGroupsResponse_v3 closes the groups Array one parenthesis early, so
    # authorized_operations is encoded once after the groups array; DescribeGroupsResponse.json
    # has AuthorizedOperations (versions 3+) inside each DescribedGroup, after Members.
    (15, "response", 3): "kafka-python puts authorized_operations at top level (Kafka: per group)",
}


def schema_versions():
    """{api key: (min, max)} from the `versions` line of each schema/api/NN_name.ks."""
    out = {}
    for name in sorted(os.listdir(SCHEMA_API_DIR)):
        m = re.match(r"^(\d+)_.*\.ks$", name)
        if not m:
            continue
        with open(os.path.join(SCHEMA_API_DIR, name), encoding="utf-8") as f:
            for line in f:
                line = line.split("#", 1)[0].strip()
                v = re.match(r"^versions\s+(\d+)(?:-(\d+))?$", line)
                if v:
                    lo = int(v.group(1))
                    out[int(m.group(1))] = (lo, int(v.group(2)) if v.group(2) else lo)
                    break
            else:
                sys.exit(f"{name}: no versions line")
    return out


def protocol_classes():
    """Yields (key, kind, version, class) for every concrete kafka-python Request/Response."""
    seen = set()
    for modname in MODULES:
        mod = importlib.import_module("kafka.protocol." + modname)
        for name, cls in sorted(vars(mod).items()):
            if not inspect.isclass(cls) or cls in (Request, Response, RequestHeader) or cls in seen:
                continue
            if not issubclass(cls, (Request, Response)):
                continue
            key, ver = getattr(cls, "API_KEY", None), getattr(cls, "API_VERSION", None)
            if not isinstance(key, int) or not isinstance(ver, int):
                continue  # abstract base such as ProduceRequest
            seen.add(cls)
            m = re.search(r"_v(\d+)$", name)
            if m and int(m.group(1)) != ver:
                # kafka-python quirk: ListGroupsRequest_v2 says API_VERSION = 1. The class stands
                # for the version in its name (it sits at index 2 of ListGroupsRequest).
                print(f"note: {modname}.{name} has API_VERSION {ver}; using v{m.group(1)}",
                      file=sys.stderr)
                ver = int(m.group(1))
            yield key, ("request" if issubclass(cls, Request) else "response"), ver, cls


class Values:
    """Deterministic value source: a small LCG so every field gets a different, stable value."""

    INT_RANGES = {T.Int8: (-128, 127), T.Int16: (-32768, 32767),
                  T.Int32: (-2**31, 2**31 - 1), T.Int64: (-2**63, 2**63 - 1)}
    WORDS = ["topic-a", "grp.1", "x", "kaffa_ü", "member-7f3c", "broker.example", "é€😀", "z" * 40]

    def __init__(self, seed):
        self.state = (seed * 2654435761 + 12345) & 0xFFFFFFFF

    def next(self):
        self.state = (self.state * 1103515245 + 12345) & 0x7FFFFFFF
        return self.state >> 8

    def int_for(self, t):
        lo, hi = self.INT_RANGES[t]
        r = self.next()
        pick = r % 8
        if pick == 0:
            return lo
        if pick == 1:
            return hi
        if pick == 2:
            return -1
        if pick == 3:
            return 0
        span = min(hi, 2**20)
        v = (r * 7919) % span
        return -v if pick == 4 and lo < 0 else v

    def string(self, allow_empty):
        r = self.next()
        if allow_empty and r % 4 == 0:
            return ""
        return self.WORDS[r % len(self.WORDS)] + ("" if r % 3 else str(r % 1000))

    def raw_bytes(self, allow_empty):
        r = self.next()
        n = (r % 6) if allow_empty else 1 + r % 6
        return bytes((r >> (i % 16) ^ (i * 37)) & 0xFF for i in range(n))


def record_set(key, kind, version, vals):
    """A real, small record batch in the message format a client uses at this API version."""
    if (key, kind) == (0, "request"):
        magic = 0 if version <= 1 else 1 if version == 2 else 2
    else:
        magic = 0 if version <= 1 else 1 if version <= 3 else 2
    b = MemoryRecordsBuilder(magic=magic, compression_type=0, batch_size=1 << 20)
    for i in range(1 + vals.next() % 2):
        b.append(timestamp=1700000000000 + i if magic else None,
                 key=None if i else b"k%d" % vals.next(), value=b"value-%d" % i, headers=[])
    b.close()
    return bytes(b.buffer())


def uses_string_class(t):
    if t is T.String:
        return True
    if isinstance(t, T.Schema):
        return any(uses_string_class(f) for f in t.fields)
    if isinstance(t, T.Array):
        return uses_string_class(t.array_of)
    return False


VISITED = set()  # (key, kind, field path) met while building, to catch typos in the tables


class Builder:
    def __init__(self, key, kind, version, variant):
        self.key, self.kind, self.version, self.variant = key, kind, version, variant
        self.vals = Values(key * 1000 + version * 10 + variant + (500 if kind == "response" else 0))
        nullable = NULLABLE.get((key, kind), {})
        self.nullable = {p for p, since in nullable.items() if version >= since}
        self.records_path = RECORDS_FIELDS.get((key, kind))

    def array_len(self, depth, index):
        if self.variant == 0:
            return 2 if depth < 2 else 1 + index % 2
        if self.variant == 1:
            return 1 if depth == 0 else (0, 2, 1)[index % 3]
        return 1 if depth < 2 else index % 2

    def value(self, t, path, depth, index):
        VISITED.add((self.key, self.kind, path))
        if path in self.nullable and self.variant == 2:
            return None
        if isinstance(t, T.Schema):
            return tuple(self.value(f, f"{path}.{n}" if path else n, depth, index)
                         for n, f in zip(t.names, t.fields))
        if isinstance(t, T.Array):
            # kafka-python quirk: FetchRequest_v7/_v9/_v11 declare forgotten_topics_data's topic
            # as the String class instead of String('utf-8'), so kafka-python raises TypeError
            # encoding any element. Only an empty forgotten_topics_data is encodable there.
            n = 0 if uses_string_class(t) else self.array_len(depth, index)
            return [self.value(t.array_of, path, depth + 1, i) for i in range(n)]
        if isinstance(t, T.String):
            return self.vals.string(allow_empty=self.variant != 0)
        if t is T.Bytes:
            if path == self.records_path:
                return record_set(self.key, self.kind, self.version, self.vals)
            return self.vals.raw_bytes(allow_empty=self.variant != 0)
        if t is T.Boolean:
            return bool(self.vals.next() & 1)
        if t in Values.INT_RANGES:
            return self.vals.int_for(t)
        raise TypeError(f"unhandled kafka-python type {t!r} at {path}")

    def instance(self, cls):
        fields = [self.value(f, n, 0, 0) for n, f in zip(cls.SCHEMA.names, cls.SCHEMA.fields)]
        return cls(*fields)


def check_body_only():
    """kafka-python Request.encode() must give the body alone (the header is a separate Struct)."""
    from kafka.protocol.metadata import MetadataRequest
    req = MetadataRequest[0](topics=["t"])
    body = req.encode()
    # topics array: INT32 count 1, then STRING "t"; no api key/version/correlation id in front.
    if body != b"\x00\x00\x00\x01\x00\x01t":
        sys.exit(f"kafka-python Request.encode() is not body-only: {body!r}")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = os.path.join(sys.argv[1], "kafka-python")
    os.makedirs(out, exist_ok=True)
    check_body_only()
    ranges = schema_versions()
    written = skipped_range = excluded = 0
    for key, kind, version, cls in sorted(protocol_classes(), key=lambda x: x[:3]):
        if key not in ranges:
            continue
        lo, hi = ranges[key]
        if not lo <= version <= hi:
            skipped_range += 1
            continue
        if (key, kind, version) in EXCLUDED:
            print(f"excluded {key} v{version} {kind}: {EXCLUDED[(key, kind, version)]}",
                  file=sys.stderr)
            excluded += 1
            continue
        for n in range(VARIANTS):
            # Keep the instance alive: kafka-python binds encode() through a weak reference.
            inst = Builder(key, kind, version, n).instance(cls)
            body = inst.encode()
            with open(os.path.join(out, f"{key}_{version}_{kind}_{n}.bin"), "wb") as f:
                f.write(body)
            written += 1
    tables = list(NULLABLE.items()) + [(k, [p]) for k, p in RECORDS_FIELDS.items()]
    for (key, kind), paths in tables:
        for p in paths:
            if (key, kind, p) not in VISITED:
                sys.exit(f"kafka_python_vectors.py: table names {key} {kind} field {p!r}, "
                         "which no kafka-python class has")
    print(f"kafka-python: wrote {written} vectors to {out} "
          f"({skipped_range} class versions outside schema ranges, {excluded} excluded)")


if __name__ == "__main__":
    main()
