"""Helpers for the consumer-group system tests: group members as processes (group_member.py for
confluent_kafka and kafka-python, js/group_member.mjs for kafkajs) whose stdout event lines are
collected by a thread, with waits on conditions (deadlines are safety nets only)."""

import collections
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import client_io as cio
import kafka_wire as kw

HERE = os.path.dirname(os.path.abspath(__file__))
MEMBER_PY = os.path.join(HERE, "group_member.py")
MEMBER_JS = os.path.join(HERE, "js", "group_member.mjs")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

WAIT_S = 60.0

_live = set()


def _parts(text):
    return {int(x) for x in text.split(",") if x != ""}


class Member:
    """A group member process. Event lines are parsed into:
    events: [(kind, payload)] in order; records: {p: [offsets]}; commits: {p: last committed};
    assigned: current partition set (A adds, V and L remove)."""

    def __init__(self, cmd, name, env=None):
        self.name = name
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        _live.add(self.proc)
        self.cond = threading.Condition()
        self.events = []
        self.records = collections.defaultdict(list)
        self.commits = {}
        self.assigned = set()
        self.assign_marks = []
        self.eof = False
        self.stderr_lines = []
        self.nrecords = 0
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._read_err, daemon=True).start()

    def _read_err(self):
        for raw in iter(self.proc.stderr.readline, b""):
            self.stderr_lines.append(raw.decode("utf-8", "replace").rstrip())
            if os.environ.get("KAFFA_TEST_DEBUG"):
                sys.stderr.write("[%s] %s" % (self.name, raw.decode("utf-8", "replace")))

    def _read(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            kind, _, rest = line.partition(" ")
            with self.cond:
                if kind == "R":
                    p, o = rest.split()
                    self.records[int(p)].append(int(o))
                    self.nrecords += 1
                elif kind == "C":
                    for item in rest.split(","):
                        p, o = item.split(":")
                        self.commits[int(p)] = int(o)
                    self.events.append((kind, rest, self.nrecords))
                elif kind == "A":
                    self.assigned |= _parts(rest)
                    self.events.append((kind, _parts(rest), self.nrecords))
                    for p in _parts(rest):
                        # (event index, partition, records of p read before this assignment)
                        self.assign_marks.append((len(self.events) - 1, p, len(self.records[p])))
                elif kind in ("V", "L"):
                    self.assigned -= _parts(rest)
                    self.events.append((kind, _parts(rest), self.nrecords))
                else:
                    self.events.append((kind, rest, self.nrecords))
                if os.environ.get("KAFFA_TEST_DEBUG") and kind != "R":
                    sys.stderr.write("[%s] %s\n" % (self.name, line))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    # ---- waiting ----

    def wait(self, pred, what, timeout=WAIT_S):
        """Waits until pred(self) is true (called under the lock)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self):
                left = deadline - time.monotonic()
                if left <= 0 or (self.eof and not pred(self)):
                    raise AssertionError("%s: %s %s; events %r; stderr:\n%s"
                                         % (self.name, "exited before" if self.eof else
                                            "timed out waiting for", what,
                                            self.events[-30:], "\n".join(self.stderr_lines[-30:])))
                self.cond.wait(min(left, 0.5))

    def kinds(self):
        with self.cond:
            return [e[0] for e in self.events]

    def snapshot(self):
        with self.cond:
            return (len(self.events), {p: list(v) for p, v in self.records.items()},
                    dict(self.commits), set(self.assigned))

    # ---- control ----

    def request_close(self):
        try:
            self.proc.stdin.write(b"close\n")
            self.proc.stdin.flush()
            self.proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass

    def close(self, timeout=WAIT_S):
        """Asks for a clean close (commit + LeaveGroup) and waits for exit code 0."""
        try:
            self.proc.stdin.write(b"close\n")
            self.proc.stdin.flush()
            self.proc.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("%s did not exit within %ss of `close`; events %r; stderr:\n%s"
                                 % (self.name, timeout, self.events[-20:],
                                    "\n".join(self.stderr_lines[-30:])))
        self.wait(lambda m: m.eof, "stdout EOF")
        self._release()
        if code != 0:
            raise AssertionError("%s exited %d; stderr:\n%s"
                                 % (self.name, code, "\n".join(self.stderr_lines[-40:])))
        return code

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.wait(lambda m: m.eof, "stdout EOF")
        self._release()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        with self.cond:
            self.cond.wait_for(lambda: self.eof, 5)
        self._release()

    def _release(self):
        _live.discard(self.proc)
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except (OSError, ValueError):
                pass


def close_all(members):
    """Asks every member to close at once, then waits for each (exit code 0)."""
    for m in members:
        m.request_close()
    for m in members:
        m.close()


def commits_reached(members, ends):
    return all(max([m.commits.get(p, 0) for m in members]) >= end for p, end in ends.items())


def kill_all_members():
    for p in list(_live):
        if p.poll() is None:
            p.kill()
            p.wait()
        _live.discard(p)


def py_member(bootstrap, group, topic, name, client="confluent", strategy="range",
              session_ms=6000, rate=0, batch=200):
    cmd = [PYTHON, MEMBER_PY, "--client", client, "--bootstrap", bootstrap, "--group", group,
           "--topic", topic, "--client-id", name, "--strategy", strategy,
           "--session-ms", str(session_ms), "--rate", str(rate), "--batch", str(batch)]
    m = Member(cmd, name)
    m.wait(lambda m: any(e[0] == "READY" for e in m.events), "READY")
    return m


def js_member(bootstrap, group, topic, name, session_ms=6000):
    node = cio.node_path()
    env = dict(os.environ, KAFFA_JS_DIR=cio.JS_DIR)
    cmd = [node, MEMBER_JS, bootstrap, group, topic, name, str(session_ms)]
    m = Member(cmd, name, env=env)
    m.wait(lambda m: any(e[0] == "READY" for e in m.events), "READY")
    return m


# ---- conditions over several members ----

def wait_all(members, pred, what, timeout=WAIT_S):
    """Waits until pred(members) holds, re-checking whenever any member reports something."""
    deadline = time.monotonic() + timeout
    while True:
        for m in members:
            m.cond.acquire()
        try:
            if pred(members):
                return
            dead = [m.name for m in members if m.eof]
        finally:
            for m in reversed(members):
                m.cond.release()
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out waiting for %s; members: %s" % (what, "; ".join(
                "%s assigned=%s records=%d last events=%r" % (m.name, sorted(m.assigned),
                                                              m.nrecords, m.events[-8:])
                for m in members)))
        if dead and not pred(members):
            pass  # a dead member may be expected (kill -9); keep waiting on the others
        # wake on the first member's condition; the others are polled within 0.2 s
        with members[0].cond:
            members[0].cond.wait(min(left, 0.2))


def all_offsets(members, extra=()):
    """{p: collections.Counter(offset -> times read)} over all members (and extra record dicts)."""
    out = collections.defaultdict(collections.Counter)
    for m in members:
        for p, offs in m.records.items():
            out[p].update(offs)
    for recs in extra:
        for p, offs in recs.items():
            out[p].update(offs)
    return out


def covered(members, ends, extra=()):
    seen = all_offsets(members, extra)
    return all(len(set(seen.get(p, ())) & set(range(end))) == end for p, end in ends.items())


def missing(members, ends, extra=()):
    seen = all_offsets(members, extra)
    return {p: end - len(set(seen.get(p, ())) & set(range(end))) for p, end in ends.items()
            if len(set(seen.get(p, ())) & set(range(end))) != end}


# ---- broker side ----

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def create_topic(broker, topic, partitions):
    with kw.connect(broker) as conn:
        res = conn.create_topics([(topic, partitions, 1)])
    if res.get(topic):
        raise AssertionError("CreateTopics %s: error %r" % (topic, res))


def produce_spread(broker, topic, partitions, per_partition, tag=b""):
    """per_partition records into each partition with acks=all; returns {p: end offset}."""
    recs = []
    for i in range(per_partition):
        for p in range(partitions):
            recs.append((p, None, b"%s%d-%d" % (tag, p, i), ()))
    res = cio.confluent_produce(broker.bootstrap, topic, recs, extra={"linger.ms": 20,
                                                                      "batch.num.messages": 5000})
    ends = collections.Counter()
    for p, off in res:
        ends[p] = max(ends[p], off + 1)
    return dict(ends)


def committed(bootstrap, group, topic, partitions):
    """OffsetFetch through confluent_kafka Consumer.committed() (no join): {p: offset or None}."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                  "enable.auto.commit": False})
    try:
        res = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=30)
        out = {}
        for tp in res:
            if tp.error is not None:
                raise AssertionError("committed(%s): %s" % (group, tp.error))
            out[tp.partition] = tp.offset if tp.offset >= 0 else None
        return out
    finally:
        c.close()


def check_shared_by_two(test, topic, members, partitions, per_partition):
    """Two members of one group, each {"generation", "owned": ["T/P"], "records": ["T/P/offset"]},
    read a topic of `partitions` x `per_partition` records: one generation, disjoint halves that
    cover the topic, every record read, and each member read all of its own partitions' records
    (a fetch sent before the rebalance may also hand a member records of a partition it then
    lost: clients deliver them, so those are not refused)."""
    a, b = members
    test.assertEqual(a["generation"], b["generation"])
    test.assertEqual(sorted(a["owned"] + b["owned"]),
                     sorted("%s/%d" % (topic, p) for p in range(partitions)))
    test.assertEqual(len(a["owned"]), partitions // 2)
    everything = {"%s/%d/%d" % (topic, p, o) for p in range(partitions)
                  for o in range(per_partition)}
    test.assertEqual(set(a["records"]) | set(b["records"]), everything)
    for m in (a, b):
        own = {r for r in everything if r.rsplit("/", 1)[0] in m["owned"]}
        test.assertLessEqual(own, set(m["records"]), m)
