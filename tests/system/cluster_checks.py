"""What the cluster tests check data against: each replica's log files read from disk, a
producer that remembers every acknowledgement, and a group consumer that reads everything.

- replica_batches(broker, topic, p): the batches of one replica, read from its segment files
  (`<log.dirs>/<topic>-<p>/*.log`, in base-offset order) and decoded with kafka_records (CRC
  checked). Replicas of a partition must hold the same batches byte for byte: a follower stores
  the leader's batches unchanged (base offset and partition leader epoch included).
- wait_replicas_identical(cluster, topic, p): polls the replicas' files until they agree (a
  follower may still be catching up), else fails naming the first batch where they differ.
- check_acked(...): every acknowledged (partition, offset, value) is in every replica's log at
  that offset, exactly once, and offsets are contiguous.
- AckedProducer: librdkafka (confluent_kafka) producer in a thread, acks=all, idempotent by
  default, at most `window` records outstanding; keeps (partition, offset, value) of every
  acknowledgement and every delivery error.
- group_read_all(): a consumer in a group that reads until it has seen each partition's end.
- GroupReader: a group member reading and committing in a thread while brokers come and go;
  committed_offsets(): what the group has committed, as a broker reports it.
"""

import collections
import glob
import os
import sys
import threading
import time

import kafka_records as kr
from cluster_harness import wait_until, WAIT_S


# ---- replicas on disk ----

def partition_dir(broker, topic, p):
    return os.path.join(broker.log_dir, "%s-%d" % (topic, p))


def replica_batches(broker, topic, p, records=True):
    """The batches of a replica's log files. Batches are cut at the first incomplete one (a
    write may be in progress while the broker runs)."""
    files = sorted(glob.glob(os.path.join(partition_dir(broker, topic, p), "*.log")))
    out = []
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        out += kr.decode_batches(data, allow_partial_tail=True, records=records)
    return out


def _summary(batches):
    if not batches:
        return "empty"
    return "%d batches, offsets %d..%d" % (len(batches), batches[0].base_offset,
                                           batches[-1].last_offset)


def replica_difference(logs):
    """None if every replica holds the same batches, else a description of the first
    difference. logs: {name: [Batch]}."""
    names = sorted(logs)
    ref_name = names[0]
    ref = logs[ref_name]
    for name in names[1:]:
        other = logs[name]
        for i in range(max(len(ref), len(other))):
            a = ref[i] if i < len(ref) else None
            b = other[i] if i < len(other) else None
            if a is None or b is None or a.raw != b.raw:
                return ("%s and %s differ at batch #%d: %r vs %r (%s; %s)" % (
                    ref_name, name, i, a, b, "%s: %s" % (ref_name, _summary(ref)),
                    "%s: %s" % (name, _summary(other))))
    return None


def wait_replicas_identical(cluster, topic, p, replicas=None, timeout=WAIT_S):
    """Until the log files of every replica of topic-p (node ids; default: from Metadata) hold
    the same batches. Returns the batches (with records)."""
    if replicas is None:
        replicas = cluster.partitions(topic)[p]["replicas"]
    state = {}

    def same():
        logs = {"broker %d" % r: replica_batches(cluster.broker(r), topic, p) for r in replicas}
        state["diff"] = replica_difference(logs)
        state["logs"] = logs
        return state["diff"] is None
    wait_until(same, "the replicas %s of %s-%d to hold identical batches" % (replicas, topic, p),
               timeout, describe=lambda: state.get("diff"))
    return next(iter(state["logs"].values()))


def check_contiguous(batches, what):
    """Offsets strictly increasing without gaps, each record at the offset its batch says."""
    nxt = batches[0].base_offset if batches else 0
    for b in batches:
        if b.base_offset != nxt:
            raise AssertionError("%s: batch at %d, expected %d (a gap or a repeat)"
                                 % (what, b.base_offset, nxt))
        offs = [r["offset"] for r in b.records]
        if offs != list(range(b.base_offset, b.last_offset + 1)):
            raise AssertionError("%s: batch %r has record offsets %s" % (what, b, offs[:10]))
        nxt = b.last_offset + 1


def check_acked(cluster, topic, partitions, acked):
    """Every acknowledged (partition, offset, value) is, on every replica of its partition, the
    record at exactly that offset, and its value occurs once in the log. Waits for the replicas
    to agree first. Returns {p: [Batch]} (the agreed logs)."""
    by_part = collections.defaultdict(dict)
    for p, off, value in acked:
        if off in by_part[p]:
            raise AssertionError("%s-%d: offset %d acknowledged twice (%r and %r)"
                                 % (topic, p, off, by_part[p][off], value))
        by_part[p][off] = value
    logs = {}
    for p in range(partitions):
        batches = wait_replicas_identical(cluster, topic, p)
        what = "%s-%d" % (topic, p)
        check_contiguous(batches, what)
        stored = {}
        counts = collections.Counter()
        for b in batches:
            for r in b.records:
                stored[r["offset"]] = r["value"]
                counts[r["value"]] += 1
        lost = [(off, v) for off, v in sorted(by_part[p].items()) if stored.get(off) != v]
        if lost:
            raise AssertionError(
                "%s: %d of %d acknowledged records are not at their acknowledged offset on the "
                "replicas (log: %s); first: %s" % (
                    what, len(lost), len(by_part[p]), _summary(batches),
                    ", ".join("offset %d acked %r, stored %r" % (o, v, stored.get(o))
                              for o, v in lost[:5])))
        dups = [v for v in by_part[p].values() if counts[v] != 1]
        if dups:
            raise AssertionError("%s: %d acknowledged values occur more than once in the log "
                                 "(duplicates from retries), e.g. %r" % (what, len(dups), dups[:5]))
        logs[p] = batches
    sys.stderr.write("%s: %d acknowledged records checked on every replica; logs: %s\n" % (
        topic, len(acked), "; ".join("%d: %s" % (p, _summary(b)) for p, b in logs.items())))
    return logs


# ---- producing ----

class AckedProducer(threading.Thread):
    """Produces value b"<tag>-<n>" round-robin over `partitions` until stopped, with at most
    `window` records unacknowledged. acked: [(partition, offset, value)]; errors: [(value,
    KafkaError)]."""

    def __init__(self, bootstrap, topic, partitions, tag="r", window=200, extra=None):
        super().__init__(daemon=True)
        from confluent_kafka import Producer
        conf = {"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                "linger.ms": 5, "compression.type": "none", "message.timeout.ms": 120000,
                "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500,
                "retry.backoff.ms": 100, "topic.metadata.refresh.interval.ms": 1000}
        conf.update(extra or {})
        conf["error_cb"] = self._client_error
        self.client_errors = []  # librdkafka's error callback: fatal (idempotence) errors above all
        self.crash = None
        self.producer = Producer(conf)
        self.topic = topic
        self.partitions = partitions
        self.tag = tag.encode()
        self.window = window
        self.acked = []
        self.errors = []
        self.cond = threading.Condition()
        self.stopping = threading.Event()
        self.sent = 0

    def _done(self, err, msg):
        with self.cond:
            if err is None:
                self.acked.append((msg.partition(), msg.offset(), msg.value()))
            else:
                self.errors.append((msg.value(), err))
            self.cond.notify_all()

    def _client_error(self, err):
        with self.cond:
            self.client_errors.append(err)
            self.cond.notify_all()

    def fatal(self):
        with self.cond:
            return [e for e in self.client_errors if e.fatal()] + (
                [self.crash] if self.crash else [])

    def outstanding(self):
        with self.cond:
            return self.sent - len(self.acked) - len(self.errors)

    def run(self):
        try:
            self._produce_loop()
        except Exception as e:  # noqa: BLE001 - e.g. KafkaException after a fatal error
            with self.cond:
                self.crash = e
                self.cond.notify_all()

    def _produce_loop(self):
        while not self.stopping.is_set():
            if self.outstanding() >= self.window:
                self.producer.poll(0.05)  # serves delivery reports; returns on the first
                continue
            value = b"%s-%08d" % (self.tag, self.sent)
            try:
                self.producer.produce(self.topic, value=value, partition=self.sent %
                                      self.partitions, on_delivery=self._done)
            except BufferError:
                self.producer.poll(0.05)
                continue
            with self.cond:
                self.sent += 1
            self.producer.poll(0)
        self.producer.poll(0)

    def wait_acks(self, n, timeout=WAIT_S, what=""):
        """Until at least n records are acknowledged in total."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.acked) < n:
                left = deadline - time.monotonic()
                fatal = [e for e in self.client_errors if e.fatal()]
                if left <= 0 or fatal or self.crash:
                    raise AssertionError(
                        "producer: %d of %d acknowledgements %s%s(sent %d; delivery errors %d: %s; "
                        "client errors: %s; %s)" % (
                            len(self.acked), n, "within %ss " % timeout if left <= 0 else
                            "before a fatal error ", what, self.sent, len(self.errors),
                            self.errors[-3:], self.client_errors[-5:],
                            "producer thread died: %r" % self.crash if self.crash else "alive"))
                self.cond.wait(left)

    def n_acked(self):
        with self.cond:
            return len(self.acked)

    def finish(self, timeout=WAIT_S * 2):
        """Stops producing, waits for every outstanding record's delivery report; returns
        (acked, errors)."""
        self.stopping.set()
        self.join(timeout=30)
        left = self.producer.flush(timeout)
        if left:
            raise AssertionError("producer: %d records still undelivered %ss after the end"
                                 % (left, timeout))
        self.producer = None  # ends librdkafka's threads (no reconnects to brokers that stop)
        fatal = self.fatal()
        if fatal:
            raise AssertionError("producer: fatal errors %s (acknowledged %d, delivery errors %s)"
                                 % (fatal, len(self.acked), self.errors[:3]))
        with self.cond:
            return list(self.acked), list(self.errors)

    def abandon(self):
        """Stops without waiting (cleanup on failure)."""
        self.stopping.set()
        self.join(timeout=30)
        if self.producer is not None:
            self.producer.purge(in_queue=True, in_flight=True, blocking=False)
            self.producer.poll(0)
            self.producer = None


# ---- consuming ----

def group_read_all(bootstrap, topic, ends, group, timeout=WAIT_S, commit=True):
    """Joins `group` (subscribe), reads until every partition p has delivered offset ends[p]-1;
    commits synchronously at the end when `commit`. Returns {p: {offset: value}}; a record read
    twice at the same offset must carry the same value."""
    from confluent_kafka import Consumer
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "auto.offset.reset": "earliest", "enable.auto.commit": False,
                  "session.timeout.ms": 10000, "topic.metadata.refresh.interval.ms": 1000})
    got = collections.defaultdict(dict)
    try:
        c.subscribe([topic])
        pending = {p for p, end in ends.items() if end > 0}
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError(
                    "group %s: partitions %s not read to their ends %s within %ss; read %s"
                    % (group, sorted(pending), ends, timeout,
                       {p: len(v) for p, v in got.items()}))
            for m in c.consume(num_messages=500, timeout=0.5):
                if m.error() is not None:
                    if m.error().retriable() or not m.error().fatal():
                        continue  # e.g. a partition's leader moving: the client retries
                    raise AssertionError("group %s: consumer error %s" % (group, m.error()))
                p, off = m.partition(), m.offset()
                if off in got[p] and got[p][off] != m.value():
                    raise AssertionError("%s-%d offset %d read as %r and later %r"
                                         % (topic, p, off, got[p][off], m.value()))
                got[p][off] = m.value()
                if off + 1 >= ends.get(p, 0):
                    pending.discard(p)
        if commit:
            c.commit(asynchronous=False)
        return got
    finally:
        c.close()


class GroupReader(threading.Thread):
    """A member of `group` (confluent_kafka, subscribe) reading `topic` in a thread while the
    cluster changes, committing synchronously about every `commit_every` seconds. A commit the
    coordinator refuses for a moment (moving, loading) is counted in commit_failures and made
    again later. finish(ends) reads on until every partition p has delivered ends[p]-1, commits
    until a commit succeeds, and returns {p: {offset: value}} (a record read twice must carry the
    same value)."""

    def __init__(self, bootstrap, topic, group, commit_every=0.3):
        super().__init__(daemon=True)
        self.bootstrap, self.topic, self.group = bootstrap, topic, group
        self.commit_every = commit_every
        self.got = collections.defaultdict(dict)
        self.commits = 0
        self.commit_failures = []
        self.crash = None
        self.cond = threading.Condition()
        self.ends = None  # set by finish()
        self.done = threading.Event()

    def run(self):
        from confluent_kafka import Consumer, KafkaException
        c = Consumer({"bootstrap.servers": self.bootstrap, "group.id": self.group,
                      "auto.offset.reset": "earliest", "enable.auto.commit": False,
                      "session.timeout.ms": 10000, "topic.metadata.refresh.interval.ms": 1000})
        try:
            c.subscribe([self.topic])
            last_commit = time.monotonic()
            dirty = False
            while True:
                for m in c.consume(num_messages=500, timeout=0.2):
                    if m.error() is not None:
                        if m.error().fatal():
                            raise AssertionError("consumer error %s" % m.error())
                        continue  # e.g. a partition's leader moving: the client retries
                    self._record(m.partition(), m.offset(), m.value())
                    dirty = True
                if dirty and time.monotonic() - last_commit >= self.commit_every:
                    try:
                        c.commit(asynchronous=False)
                        dirty = False
                        with self.cond:
                            self.commits += 1
                    except KafkaException as e:
                        with self.cond:
                            self.commit_failures.append(e.args[0])
                    last_commit = time.monotonic()
                if self._reached() and not dirty:
                    break
        except Exception as e:  # noqa: BLE001 - reported by finish()
            self.crash = e
        finally:
            c.close()
            self.done.set()

    def _record(self, p, off, value):
        with self.cond:
            if off in self.got[p] and self.got[p][off] != value:
                self.crash = AssertionError("%s-%d offset %d read as %r and later %r"
                                            % (self.topic, p, off, self.got[p][off], value))
            self.got[p][off] = value

    def _reached(self):
        with self.cond:
            return self.ends is not None and all(
                end == 0 or end - 1 in self.got.get(p, {}) for p, end in self.ends.items())

    def finish(self, ends, timeout=WAIT_S * 2):
        with self.cond:
            self.ends = dict(ends)
        if not self.done.wait(timeout):
            raise AssertionError("group %s: not read to the ends %s within %ss; read %s"
                                 % (self.group, ends, timeout,
                                    {p: len(v) for p, v in self.got.items()}))
        if self.crash:
            raise AssertionError("group reader of %s failed: %r" % (self.group, self.crash))
        with self.cond:
            return {p: dict(v) for p, v in self.got.items()}


def committed_offsets(bootstrap, topic, partitions, group):
    """The group's committed offset of each partition, as a broker reports it (-1001: none)."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        tps = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        c.close()


def partition_ends(acked, partitions):
    """{p: one past the highest acknowledged offset} over all partitions (0 if none)."""
    ends = {p: 0 for p in range(partitions)}
    for p, off, _v in acked:
        ends[p] = max(ends[p], off + 1)
    return ends
