"""AlterConfigs, IncrementalAlterConfigs and DescribeConfigs on the wire (the Debian clients
cannot send the second, nor name the cluster-wide broker resource "", nor show every field of the
third): resources and entries as tuples."""

import contextlib

import kafka_wire as kw


def _connection(target):
    """A new connection to a broker, or an open kafka_wire.Connection used as is (left open)."""
    if isinstance(target, kw.Connection):
        return contextlib.nullcontext(target)
    return kw.connect(target)

TOPIC, BROKER = 2, 4                 # resource types
SET, DELETE = 0, 1                   # IncrementalAlterConfigs operations
INVALID_CONFIG, INVALID_REQUEST = 40, 42
# DescribeConfigs config sources
TOPIC_CONFIG, DYNAMIC_BROKER, DYNAMIC_DEFAULT_BROKER, STATIC_BROKER, DEFAULT = 1, 2, 3, 4, 5


def incremental_alter(broker, resources, validate_only=False):
    """IncrementalAlterConfigs v0: resources [(type, name, [(config, op, value)])] ->
    [(error, message)] in order. `broker` may also be an open connection."""
    with _connection(broker) as conn:
        corr = conn.next_corr()
        body = kw.header_v1(44, 0, corr)
        body += kw.array(resources,
                         lambda r: kw.i8(r[0]) + kw.string(r[1]) + kw.array(
                             r[2], lambda c: kw.string(c[0]) + kw.i8(c[1]) + kw.string(c[2])))
        body += kw.i8(1 if validate_only else 0)
        r = kw.Reader(conn.round_trip(kw.frame(body), corr, "IncrementalAlterConfigs"))
    r.i32()
    return [(e, m) for e, m, _, _ in r.array(lambda r: (r.i16(), r.string(), r.i8(), r.string()))]


def alter(broker, resources, validate_only=False):
    """Legacy AlterConfigs v0, which replaces each resource's whole set: resources
    [(type, name, {config: value})] -> [(error, message)] in order."""
    with kw.connect(broker) as conn:
        corr = conn.next_corr()
        body = kw.header_v1(33, 0, corr)
        body += kw.array(resources, lambda r: kw.i8(r[0]) + kw.string(r[1]) + kw.array(
            sorted(r[2].items()), lambda c: kw.string(c[0]) + kw.string(c[1])))
        body += kw.i8(1 if validate_only else 0)
        r = kw.Reader(conn.round_trip(kw.frame(body), corr, "AlterConfigs"))
    r.i32()
    return [(e, m) for e, m, _, _ in r.array(lambda r: (r.i16(), r.string(), r.i8(), r.string()))]


def describe(broker, rtype, name, names=None):
    """DescribeConfigs v1 of one resource, with synonyms -> (error, {config: (value, read_only,
    source, [(synonym, value, source)])})."""
    with kw.connect(broker) as conn:
        corr = conn.next_corr()
        keys = kw.i32(-1) if names is None else kw.array(names, kw.string)
        body = kw.header_v1(32, 1, corr) + kw.array(
            [name], lambda n: kw.i8(rtype) + kw.string(n) + keys) + kw.i8(1)
        r = kw.Reader(conn.round_trip(kw.frame(body), corr, "DescribeConfigs"))
    r.i32()
    out = {}

    def entry(r):
        config, value, read_only, source = r.string(), r.string(), r.i8(), r.i8()
        r.i8()  # sensitive
        synonyms = r.array(lambda r: (r.string(), r.string(), r.i8()))
        out[config] = (value, read_only, source, synonyms)

    def resource(r):
        error = r.i16()
        r.string(), r.i8(), r.string()
        r.array(entry)
        return error
    (error,) = r.array(resource)
    return error, out
