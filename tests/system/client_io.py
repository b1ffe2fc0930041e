"""Producing and consuming with the real clients, for the data-path system tests.

Every consumer here returns the same shape, so tests can compare what different clients read:

    {(topic, partition): [Rec(offset, key, value, headers), ...]}   in offset order

with key/value bytes or None and headers a tuple of (name str, value bytes or None) in wire
order. Consumers read each partition from its beginning up to its high watermark as the broker
reports it at the start of the read (every read here happens after production finished), with
deadlines as safety nets only.
"""

import base64
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
JS_DIR = os.path.abspath(os.environ.get("KAFFA_JS_DIR") or os.path.join(HERE, "..", "js"))
DATA_OPS = os.path.join(HERE, "js", "data_ops.mjs")
PLATFORMATIC_OPS = os.path.join(HERE, "js", "platformatic_ops.mjs")
KCAT = shutil.which("kcat") or shutil.which("kafkacat")

DEADLINE_S = 60.0

Rec = collections.namedtuple("Rec", "offset key value headers")


def norm_headers(headers):
    return tuple((k, None if v is None else bytes(v)) for k, v in (headers or ()))


# ---- confluent_kafka (librdkafka) ----

def confluent_produce(bootstrap, topic, records, codec="none", extra=None):
    """records: [(partition, key, value, headers)] produced in order with acks=all.
    Returns [(partition, offset)] per record in input order; raises on any delivery error."""
    from confluent_kafka import Producer
    conf = {"bootstrap.servers": bootstrap, "acks": "all", "compression.type": codec,
            "linger.ms": 5, "message.timeout.ms": 30000, "enable.idempotence": False}
    conf.update(extra or {})
    p = Producer(conf)
    results = [None] * len(records)
    errors = []

    def cb(i):
        def done(err, msg):
            if err is not None:
                errors.append((i, err))
            else:
                results[i] = (msg.partition(), msg.offset())
        return done
    for i, (part, key, value, headers) in enumerate(records):
        kwargs = {"partition": part, "on_delivery": cb(i)}
        if headers:
            kwargs["headers"] = list(headers)
        p.produce(topic, value=value, key=key, **kwargs)
        p.poll(0)
    left = p.flush(DEADLINE_S)
    if left or errors:
        raise AssertionError("confluent_kafka produce to %s (%s): %d undelivered, errors %r"
                             % (topic, codec, left, errors[:5]))
    return results


def confluent_watermarks(c, topic, partition):
    """get_watermark_offsets, asked again while the partition's leadership moves: librdkafka
    returns NOT_LEADER_FOR_PARTITION or LEADER_NOT_AVAILABLE to this call rather than retrying
    it (after a restart, the controller's rebalance hands leaderships back at any moment)."""
    from confluent_kafka import KafkaError, KafkaException, TopicPartition
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            return c.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
        except KafkaException as e:
            err = e.args[0]
            moving = err.code() in (KafkaError.NOT_LEADER_FOR_PARTITION,
                                    KafkaError.LEADER_NOT_AVAILABLE)
            if not moving or time.monotonic() > deadline:
                raise
            time.sleep(0.1)  # a back-off while the client refreshes its metadata


def confluent_consume(bootstrap, partitions, extra=None):
    """partitions: [(topic, partition)]. assign() from the beginning, read to the high
    watermark of each."""
    from confluent_kafka import Consumer, TopicPartition, OFFSET_BEGINNING
    conf = {"bootstrap.servers": bootstrap, "group.id": "kaffa-systest-cfk-reader",
            "enable.auto.commit": False, "enable.auto.offset.store": False,
            "auto.offset.reset": "earliest", "enable.partition.eof": False,
            "socket.timeout.ms": 30000}
    conf.update(extra or {})
    c = Consumer(conf)
    c.poll(0)  # serves an oauth_cb (OAUTHBEARER) before the first request needs its token
    try:
        ends = {}
        for t, p in partitions:
            ends[(t, p)] = confluent_watermarks(c, t, p)[1]
        out = {tp: [] for tp in partitions}
        c.assign([TopicPartition(t, p, OFFSET_BEGINNING) for t, p in partitions])
        pending = {tp for tp in partitions if ends[tp] > 0}
        deadline = time.monotonic() + DEADLINE_S
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError("confluent_kafka consumer: no end reached for %r; got %r"
                                     % (sorted(pending), {tp: len(v) for tp, v in out.items()}))
            for m in c.consume(num_messages=1000, timeout=1.0):
                if m.error() is not None:
                    raise AssertionError("confluent_kafka consumer error: %s" % m.error())
                tp = (m.topic(), m.partition())
                out[tp].append(Rec(m.offset(), m.key(), m.value(), norm_headers(m.headers())))
                if m.offset() + 1 >= ends[tp]:
                    pending.discard(tp)
        return out
    finally:
        c.close()


# ---- kafka-python ----

def kafka_python_available_codecs():
    import kafka.codec as kc
    return {"none": True, "gzip": kc.has_gzip(), "snappy": kc.has_snappy(),
            "lz4": kc.has_lz4(), "zstd": kc.has_zstd()}


def kafka_python_produce(bootstrap, topic, records, codec="none", extra=None):
    from kafka import KafkaProducer
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                      compression_type=None if codec == "none" else codec,
                      linger_ms=5, request_timeout_ms=30000, max_block_ms=30000, **(extra or {}))
    try:
        futures = []
        for part, key, value, headers in records:
            futures.append(p.send(topic, value=value, key=key, partition=part,
                                  headers=list(headers)))
        p.flush(timeout=DEADLINE_S)
        return [(f.get(timeout=DEADLINE_S).partition, f.get(timeout=DEADLINE_S).offset)
                for f in futures]
    finally:
        p.close(timeout=10)


def kafka_python_consume(bootstrap, partitions, extra=None):
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                      auto_offset_reset="earliest", request_timeout_ms=30000,
                      consumer_timeout_ms=1000, fetch_max_wait_ms=200, **(extra or {}))
    try:
        tps = [TopicPartition(t, p) for t, p in partitions]
        c.assign(tps)
        ends = c.end_offsets(tps)
        c.seek_to_beginning(*tps)
        out = {tp: [] for tp in partitions}
        pending = {(tp.topic, tp.partition) for tp in tps if ends[tp] > 0}
        deadline = time.monotonic() + DEADLINE_S
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError("kafka-python consumer: no end reached for %r; got %r"
                                     % (sorted(pending), {tp: len(v) for tp, v in out.items()}))
            for tp, msgs in c.poll(timeout_ms=1000, max_records=5000).items():
                key = (tp.topic, tp.partition)
                for m in msgs:
                    out[key].append(Rec(m.offset, m.key, m.value, norm_headers(m.headers)))
                    if m.offset + 1 >= ends[tp]:
                        pending.discard(key)
        return out
    finally:
        c.close()


# ---- kafkajs (node script) ----

def node_path():
    node = shutil.which("node")
    if node is None:
        raise AssertionError("node is not installed: kafkajs tests need Node.js")
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "kafkajs")):
        raise AssertionError("kafkajs is not installed in %s: run `npm ci` there" % JS_DIR)
    return node


def run_node_ops(script, client, request, timeout=180):
    """Runs one op of a node script (data_ops.mjs, platformatic_ops.mjs) and returns its JSON
    answer; raises when the script failed or answered ok=false."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(request, f)
        path = f.name
    name = os.path.basename(script)
    try:
        env = dict(os.environ, KAFFA_JS_DIR=JS_DIR)
        r = subprocess.run([shutil.which("node") or "node", script, path],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout, env=env)
    finally:
        os.unlink(path)
    if os.environ.get("KAFFA_TEST_DEBUG"):
        sys.stderr.write(r.stderr)
    if r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s\n%s" % (name, r.returncode, r.stdout, r.stderr))
    try:
        res = json.loads(r.stdout)
    except ValueError:
        raise AssertionError("%s printed no JSON:\n%s\n%s" % (name, r.stdout, r.stderr))
    if not res.get("ok"):
        raise AssertionError("%s %s failed: %s" % (client, request["op"], json.dumps(res["error"])))
    return res


def run_data_ops(request):
    node_path()
    return run_node_ops(DATA_OPS, "kafkajs", request)


def _b64(b):
    return None if b is None else base64.b64encode(b).decode()


def _unb64(s):
    return None if s is None else base64.b64decode(s)


def kafkajs_produce(bootstrap, topic, records, codec="none", options=None):
    """One producer.send() with acks=-1; returns kafkajs's per-partition metadata. `options`:
    connection settings merged into the request ("ssl", "sasl"; see data_ops.mjs)."""
    req = {"op": "produce", "broker": bootstrap, "topic": topic, "codec": codec, **(options or {}),
           "records": [{"partition": p, "key": _b64(k), "value": _b64(v),
                        "headers": [[hk, _b64(hv)] for hk, hv in h]}
                       for p, k, v, h in records]}
    return run_data_ops(req)["metadata"]


def kafkajs_headers_view(headers):
    """Headers as kafkajs decodes them: an object, a repeated name becoming a list (so the order
    between different names is not observable through kafkajs)."""
    out = {}
    for k, v in headers:
        if k not in out:
            out[k] = v
        elif isinstance(out[k], list):
            out[k].append(v)
        else:
            out[k] = [out[k], v]
    return out


def kafkajs_fetch(bootstrap, partitions, options=None):
    """Reads with kafkajs's Fetch (see data_ops.mjs). Headers are returned as a dict (see
    kafkajs_headers_view), not as a tuple."""
    by_topic = collections.OrderedDict()
    for t, p in partitions:
        by_topic.setdefault(t, []).append(p)
    res = run_data_ops({"op": "fetch", "broker": bootstrap, **(options or {}),
                        "topics": [{"topic": t, "partitions": ps} for t, ps in by_topic.items()]})
    out = {}
    for t, p in partitions:
        part = res["partitions"]["%s/%d" % (t, p)]
        out[(t, p)] = [Rec(r["offset"], _unb64(r["key"]), _unb64(r["value"]),
                           {k: ([_unb64(x) for x in v] if isinstance(v, list) else _unb64(v))
                            for k, v in r["headers"].items()})
                       for r in part["records"]]
    return out


def kafkajs_offsets(bootstrap, topic, timestamp):
    return run_data_ops({"op": "offsets", "broker": bootstrap, "topic": topic,
                         "timestamp": timestamp})


# ---- @platformatic/kafka (node script) ----

PLATFORMATIC_MIN_NODE = (20, 19, 4)  # the package's "engines"


def platformatic_missing():
    """Why @platformatic/kafka cannot run here (None when it can): it needs Node.js 20.19.4 or
    later, which Debian 12's own nodejs package (18) is not."""
    node = shutil.which("node")
    if node is None:
        return "node is not installed"
    out = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    version = tuple(int(x) for x in re.findall(r"\d+", out)[:3])
    if version < PLATFORMATIC_MIN_NODE:
        return "@platformatic/kafka needs Node.js >= %s, this is %s" % (
            ".".join(map(str, PLATFORMATIC_MIN_NODE)), out)
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "@platformatic", "kafka")):
        raise AssertionError("@platformatic/kafka is not installed in %s: run `npm ci` there"
                             % JS_DIR)
    return None


def platformatic_codecs():
    """The codecs @platformatic/kafka has on this Node.js: zstd comes from node:zlib (22.15+)."""
    node = shutil.which("node")
    zstd = node is not None and subprocess.run(
        [node, "-e", "process.exit(require('zlib').zstdCompressSync ? 0 : 1)"]).returncode == 0
    return ["none", "gzip", "snappy", "lz4"] + (["zstd"] if zstd else [])


def platformatic(request, timeout=180):
    return run_node_ops(PLATFORMATIC_OPS, "@platformatic/kafka", request, timeout)


def platformatic_records(records):
    return [{"partition": p, "key": _b64(k), "value": _b64(v),
             "headers": [[hk, _b64(hv)] for hk, hv in h]} for p, k, v, h in records]


def platformatic_produce(bootstrap, topic, records, codec="none", idempotent=False,
                         options=None):
    """One producer.send() with acks=-1; returns [(partition, base offset)] as the client
    reports them (one batch per partition). `options`: "sasl", "tls" (platformatic_ops.mjs)."""
    res = platformatic({"op": "produce", "broker": bootstrap, "topic": topic, "codec": codec,
                        "idempotent": idempotent, "records": platformatic_records(records),
                        **(options or {})})
    return sorted((o["partition"], int(o["offset"])) for o in res["offsets"])


def platformatic_consume(bootstrap, group, topics, count, isolation="read_uncommitted",
                         options=None):
    """One member of `group` reads `count` records of `topics` from the earliest offsets and
    commits each; returns ({(topic, partition): [Rec]}, the committed offsets it lists)."""
    res = platformatic({"op": "consume", "broker": bootstrap, "group": group, "topics": topics,
                        "count": count, "isolation": isolation, **(options or {})})
    out = {}
    for r in res["records"]:
        out.setdefault((r["topic"], r["partition"]), []).append(
            Rec(r["offset"], _unb64(r["key"]), _unb64(r["value"]),
                tuple((k, _unb64(v)) for k, v in r["headers"])))
    return out, res["committed"]


# ---- sarama (Go, tests/go/sarama_ops) ----

def sarama_ops_path():
    path = os.environ.get("KAFFA_SARAMA_OPS")
    if not path or not os.path.isfile(path):
        raise AssertionError(
            "the sarama_ops binary is missing (KAFFA_SARAMA_OPS=%r): it is built with the project"
            " when golang-go and golang-github-shopify-sarama-dev are installed" % path)
    return path


def sarama(request, timeout=180):
    """Runs one op of sarama_ops (its request on stdin) and returns its JSON answer."""
    r = subprocess.run([sarama_ops_path()], input=json.dumps(request), capture_output=True,
                       text=True, timeout=timeout)
    if os.environ.get("KAFFA_TEST_DEBUG"):
        sys.stderr.write(r.stderr)
    if r.returncode != 0:
        raise AssertionError("sarama_ops exited %d:\n%s\n%s" % (r.returncode, r.stdout, r.stderr))
    try:
        res = json.loads(r.stdout)
    except ValueError:
        raise AssertionError("sarama_ops printed no JSON:\n%s\n%s" % (r.stdout, r.stderr))
    if not res.get("ok"):
        raise AssertionError("sarama %s failed: %s" % (request["op"], res.get("error")))
    return res


def sarama_produce(bootstrap, topic, records, codec="none", idempotent=False, options=None):
    """One SyncProducer.SendMessages (acks=all); returns [(partition, offset)] per record.
    `options`: "sasl" (PLAIN), "tls" (sarama_ops)."""
    res = sarama({"op": "produce", "broker": bootstrap, "topic": topic, "codec": codec,
                  "idempotent": idempotent, "records": platformatic_records(records),
                  **(options or {})})
    return [tuple(o) for o in res["offsets"]]


def sarama_consume(bootstrap, partitions, options=None):
    """A partition consumer per partition, from the oldest offset to the high watermark."""
    res = sarama({"op": "consume", "broker": bootstrap, "partitions": [list(tp) for tp in partitions],
                  **(options or {})})
    out = {tuple(tp): [] for tp in partitions}
    for r in res["records"]:
        out[(r["topic"], r["partition"])].append(
            Rec(r["offset"], _unb64(r["key"]), _unb64(r["value"]),
                tuple((k, _unb64(v)) for k, v in r["headers"])))
    return out


# ---- kcat ----

def kcat_path():
    if KCAT is None:
        raise AssertionError("kcat is not installed (apt-get install kcat)")
    return KCAT


MSG_DELIM = b"\x1e"
KEY_DELIM = b"\x1f"


def kcat_produce(bootstrap, topic, partition, records, headers, codec="none", extra_args=()):
    """kcat -P: records [(key, value)] with -K/-D delimiters and -Z (an empty key or value is
    sent as NULL, so kcat cannot send an empty non-null one); `headers` (-H) apply to every
    record of one invocation. Neither may contain the delimiters \\x1e and \\x1f."""
    data = b""
    for key, value in records:
        for b in (key, value):
            assert b is None or (b and MSG_DELIM not in b and KEY_DELIM not in b), b
        data += (key or b"") + KEY_DELIM + (value or b"") + MSG_DELIM
    cmd = [kcat_path(), "-P", "-b", bootstrap, "-t", topic, "-p", str(partition),
           "-D", "\\x1e", "-K", "\\x1f", "-Z", "-X", "compression.codec=%s" % codec,
           "-X", "acks=all", "-m", "30"] + list(extra_args)
    for k, v in headers:
        assert v is not None
        cmd += ["-H", "%s=%s" % (k, v.decode())]
    r = subprocess.run(cmd, input=data, capture_output=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("kcat -P %s failed (%d):\n%s" % (topic, r.returncode,
                                                            r.stderr.decode("replace")))


_KCAT_HEAD = re.compile(rb"(\d+) (-?\d+) (-?\d+) (-?\d+) ")


def parse_kcat_output(data):
    """Parses the output of kcat -f '%p %o %K %S %k%s %h\\n' (lengths make keys and values
    binary safe; header values must not contain ',' '=' or a newline)."""
    out = collections.defaultdict(list)
    pos = 0
    while pos < len(data):
        m = _KCAT_HEAD.match(data, pos)
        if not m:
            raise AssertionError("unparsable kcat output at %d: %r" % (pos, data[pos:pos + 80]))
        part, off, klen, vlen = (int(x) for x in m.groups())
        pos = m.end()
        key = None if klen < 0 else data[pos:pos + klen]
        pos += max(klen, 0)
        value = None if vlen < 0 else data[pos:pos + vlen]
        pos += max(vlen, 0)
        if data[pos:pos + 1] != b" ":
            raise AssertionError("kcat output: no separator after the value at %d: %r"
                                 % (pos, data[pos:pos + 80]))
        end = data.index(b"\n", pos + 1)
        hdr_text = data[pos + 1:end]
        pos = end + 1
        headers = []
        if hdr_text:
            for item in hdr_text.split(b","):
                if b"=" in item:
                    k, v = item.split(b"=", 1)
                    headers.append((k.decode(), v))
                else:
                    headers.append((item.decode(), None))
        out[part].append(Rec(off, key, value, tuple(headers)))
    return out


def kcat_consume(bootstrap, topic, extra_args=()):
    """kcat -C -e from the beginning of every partition of `topic` -> {(topic, p): [Rec]}."""
    r = subprocess.run([kcat_path(), "-C", "-b", bootstrap, "-t", topic, "-o", "beginning",
                        "-e", "-q", "-m", "30", "-f", "%p %o %K %S %k%s %h\\n"] + list(extra_args),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    if r.returncode != 0:
        raise AssertionError("kcat -C %s failed (%d):\n%s" % (topic, r.returncode,
                                                            r.stderr.decode("replace")))
    return {(topic, p): recs for p, recs in parse_kcat_output(r.stdout).items()}
