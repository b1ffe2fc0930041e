"""A cluster for the system tests: one etcd, several `kaffa` brokers on loopback.

    with KaffaCluster(3) as cluster:          # etcd + brokers 1..3, waits for 3 live brokers
        cluster.bootstrap                     # "127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3"
        cluster.create_topic("t", 3, 3, configs={"min.insync.replicas": "2"})
        cluster.wait_full_isr("t")
        leader = cluster.leader("t", 0)       # a ClusterBroker
        leader.kill9(); leader.restart()      # same node.id, data dir and port
        leader.freeze(); leader.thaw()        # SIGSTOP / SIGCONT

- EtcdServer (cluster_etcd.py): etcd on free ports with its own data directory.
- ClusterBroker: a KaffaBroker (kaffa_harness.py) with node.id and metadata.store set; its first
  start takes a free port from the OS, every restart binds that same port again so that clients'
  bootstrap lists stay valid (as with a real broker's fixed listener).
- KaffaCluster: starts etcd and the brokers, stops everything (also on failure), and waits for
  conditions seen through Metadata v1 requests sent to each live broker (brokers, leaders, ISR).

Every wait polls a condition until a deadline (the deadline is a safety net, never a timing
assertion) and fails with what it saw last. Cleanup: processes are killed and directories removed
in __exit__, and kaffa_harness's atexit hook kills any broker still running.
"""

import json
import signal
import struct
import sys

from cluster_etcd import EtcdServer, free_port, wait_until, WAIT_S  # noqa: F401 (re-exported)
from kaffa_harness import KaffaBroker, run_kaffa
import kafka_wire as kw

# Settings every cluster broker gets unless the test overrides them: short sessions and lag times
# so that failures are detected within seconds, small internal topics.
CLUSTER_DEFAULTS = {
    "broker.session.timeout.ms": "3000",
    "replica.lag.time.max.ms": "3000",
    "leader.imbalance.check.interval.seconds": "5",
    "replica.fetch.backoff.ms": "200",
    "controlled.shutdown.retry.backoff.ms": "500",
    "offsets.topic.replication.factor": "3",
    "offsets.topic.num.partitions": "3",
    "group.initial.rebalance.delay.ms": "0",
}


# ---- brokers ----

class ClusterBroker(KaffaBroker):
    """A broker of a KaffaCluster. `node_id` is its node.id; restart() keeps its port. It
    listens on `host` (127.0.0.1); `command_prefix` runs it through another program (e.g.
    nsenter into a network namespace)."""

    def __init__(self, node_id, overrides, host="127.0.0.1", command_prefix=(), **kwargs):
        super().__init__(overrides=overrides, **kwargs)
        self.node_id = node_id
        self.bind_host = host
        self.command_prefix = list(command_prefix)
        self.fixed_port = None
        self.frozen = False
        if "listeners" in self._defaults:
            self._defaults["listeners"] = "PLAINTEXT://%s:0" % host

    def command(self):
        return self.command_prefix + super().command()

    def start(self):
        super().start()
        if self.fixed_port is None and "listeners" in self._defaults:
            self.fixed_port = self.port
            self._defaults["listeners"] = "PLAINTEXT://%s:%d" % (self.bind_host, self.port)
        return self

    def freeze(self):
        """SIGSTOP: alive (the kernel still accepts connections) but silent. The cluster's
        waits leave a frozen broker out (it cannot answer)."""
        self.proc.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self):
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)
        self.frozen = False

    def kill(self):
        if self.alive():
            self.proc.send_signal(signal.SIGCONT)  # a frozen process still dies of SIGKILL
        self.frozen = False
        super().kill()

    def kill9(self):
        self.frozen = False
        return super().kill9()

    def __repr__(self):
        return "broker %d (%s)" % (self.node_id, "port %s" % self.port if self.alive() else "down")


def metadata(broker, topics=None):
    """Metadata v1 asked of one broker: {brokers: {id: (host, port, rack)}, controller_id,
    topics: {name: {error_code, partitions: {index: {leader, replicas, isr, error_code}}}}}.
    Always asks for all topics (naming a topic in Metadata v1 would auto-create it) and keeps
    those in `topics` (None: all)."""
    with kw.Connection(broker.host, broker.port, timeout=10) as conn:
        md = conn.metadata(None, version=1)
    if topics is not None:
        md["topics"] = [t for t in md["topics"] if t["name"] in topics]
    return {
        "brokers": {b["node_id"]: (b["host"], b["port"], b.get("rack")) for b in md["brokers"]},
        "controller_id": md["controller_id"],
        "topics": {t["name"]: {"error_code": t["error_code"],
                               "partitions": {p["index"]: p for p in t["partitions"]}}
                   for t in md["topics"]},
    }


def find_coordinator(broker, group):
    """FindCoordinator v0 for a group: (error_code, node_id, host, port)."""
    with kw.Connection(broker.host, broker.port, timeout=10) as conn:
        corr = conn.next_corr()
        body = conn.round_trip(kw.frame(kw.header_v1(10, 0, corr) + kw.string(group)), corr,
                               "FindCoordinator v0")
    r = kw.Reader(body)
    return r.i16(), r.i32(), r.string(), r.i32()


def java_string_hash(s):
    """Java's String.hashCode (the group -> __consumer_offsets partition mapping)."""
    h = 0
    for ch in s.encode("utf-16-be").decode("utf-16-be"):
        h = (31 * h + ord(ch)) & 0xFFFFFFFF
    return struct.unpack(">i", struct.pack(">I", h))[0]


def offsets_partition(group, partitions):
    """The __consumer_offsets partition of a group (Kafka: abs(hashCode) % partitions)."""
    return abs(java_string_hash(group)) % partitions


class KaffaCluster:
    """etcd plus brokers 1..n. `overrides` go to every broker (after CLUSTER_DEFAULTS);
    `per_broker` = {node_id: {setting: value}} on top."""

    def __init__(self, n=3, overrides=None, per_broker=None, prefix="/kaffa",
                 etcd_host="127.0.0.1", broker_host=None, command_prefix=None):
        self.n = n
        self.prefix = prefix
        self.etcd = EtcdServer(host=etcd_host)
        self.brokers = []
        for node_id in range(1, n + 1):
            o = dict(CLUSTER_DEFAULTS)
            o.update(overrides or {})
            o.update({"metadata.store": self.etcd.url, "node.id": str(node_id)})
            if prefix != "/kaffa":
                o["metadata.store.prefix"] = prefix
            o.update((per_broker or {}).get(node_id, {}))
            self.brokers.append(ClusterBroker(
                node_id, o, host=broker_host(node_id) if broker_host else "127.0.0.1",
                command_prefix=command_prefix(node_id) if command_prefix else ()))

    # ---- lifecycle ----

    def start(self):
        self.etcd.start()
        for b in self.brokers:
            b.start()
        self.wait_brokers()
        return self

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            sys.stderr.write(self.post_mortem())
            self.cleanup()
            raise

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.stop_all_checked()
            else:
                sys.stderr.write(self.post_mortem())
        finally:
            self.cleanup()
        return False

    def post_mortem(self, lines=60):
        """The end of every broker's log (this run and the one before), the brokers' views and
        the etcd records: printed when a test fails, before everything is removed."""
        out = ["\n==== cluster state at the failure ====", self.describe()]
        for b in self.brokers:
            for n, text in enumerate(b.previous_logs[-1:] + [b.log_text()]):
                tail = text.splitlines()[-lines:]
                out.append("---- broker %d %s (last %d lines) ----" % (
                    b.node_id, "previous run" if n == 0 and b.previous_logs else "log",
                    len(tail)))
                out += tail
        out += ["---- etcd %s ----" % self.prefix, self.etcd.dump(self.prefix)]
        return "\n".join(out) + "\n"

    def stop_all_checked(self):
        """SIGTERM to every live broker (in turn: each a controlled shutdown); each must exit 0."""
        bad = []
        for b in self.brokers:
            if b.alive():
                b.thaw()
                code = b.stop()
                if code != 0:
                    bad.append("%r exited with %s; log tail:\n%s"
                               % (b, code, "\n".join(b.log_lines()[-30:])))
        if bad:
            raise AssertionError("unclean cluster shutdown:\n" + "\n".join(bad))

    def cleanup(self):
        for b in self.brokers:
            b.kill()
            b.cleanup()
        self.etcd.cleanup()

    # ---- brokers ----

    def broker(self, node_id):
        return self.brokers[node_id - 1]

    def live(self):
        """The brokers running and not frozen."""
        return [b for b in self.brokers if b.alive() and not b.frozen]

    @property
    def bootstrap(self):
        """Every broker's address (also of brokers down now: clients skip those)."""
        return ",".join("%s:%d" % (b.bind_host, b.fixed_port) for b in self.brokers
                        if b.fixed_port)

    def restart(self, b):
        """Restarts a broker that was killed or stopped and waits until every live broker
        lists it again."""
        b.restart()
        self.wait_brokers()
        return b

    # ---- views ----

    def metadata_from(self, broker, topics=None):
        return metadata(broker, topics)

    def describe(self, topics=None):
        """Each live broker's view (brokers, controller, leaders/ISRs), for failure messages."""
        out = []
        for b in self.live():
            try:
                md = metadata(b, topics)
                parts = []
                for name, t in sorted(md["topics"].items()):
                    if t["error_code"]:
                        parts.append("%s: error %d" % (name, t["error_code"]))
                    for i, p in sorted(t["partitions"].items()):
                        parts.append("%s-%d leader=%d replicas=%s isr=%s err=%d" % (
                            name, i, p["leader"], p["replicas"], p["isr"], p["error_code"]))
                out.append("  %r sees brokers %s controller %s; %s" % (
                    b, sorted(md["brokers"]), md["controller_id"], "; ".join(parts)))
            except (OSError, ValueError, AssertionError) as e:
                out.append("  %r: Metadata failed: %r" % (b, e))
        return "\n" + "\n".join(out)

    # ---- waits ----

    def wait_brokers(self, timeout=WAIT_S):
        """Until every live broker lists exactly the live brokers (ids and ports) and names a
        live controller."""
        want = {b.node_id: b.port for b in self.live()}

        def ok():
            for b in self.live():
                md = metadata(b)
                got = {i: port for i, (_host, port, _rack) in md["brokers"].items()}
                if got != want or md["controller_id"] not in want:
                    return False
            return True
        wait_until(ok, "every live broker to list brokers %s and a live controller" % want,
                   timeout, describe=lambda: self.describe([]) + "\netcd:\n" + self.etcd.dump(
                       self.prefix))

    def partitions(self, topic, via=None):
        """{index: partition dict} of `topic` as one live broker (or `via`) sees it."""
        b = via or self.live()[0]
        t = metadata(b, [topic])["topics"].get(topic)
        if t is None or t["error_code"] != 0:
            raise AssertionError("%r: topic %s: %r" % (b, topic, t))
        return t["partitions"]

    def _agreed(self, topic, check):
        """The partitions of `topic` if every live broker reports the same leaders and ISRs and
        `check(partitions)` holds for them, else None."""
        views = []
        for b in self.live():
            t = metadata(b, [topic])["topics"].get(topic)
            if t is None or t["error_code"] != 0 or not t["partitions"]:
                return None
            views.append({i: (p["leader"], tuple(p["replicas"]), tuple(sorted(p["isr"])))
                          for i, p in t["partitions"].items()})
        if any(v != views[0] for v in views):
            return None
        parts = {i: {"leader": l, "replicas": list(r), "isr": list(isr)}
                 for i, (l, r, isr) in views[0].items()}
        return parts if check(parts) else None

    def wait_leaders(self, topic, timeout=WAIT_S, exclude=()):
        """Until every live broker agrees that each partition has a live leader (not in
        `exclude`, node ids); returns {index: partition}."""
        live = {b.node_id for b in self.live()} - set(exclude)
        return wait_until(
            lambda: self._agreed(topic, lambda ps: all(p["leader"] in live for p in ps.values())),
            "a live leader (one of %s) for every partition of %s, seen alike by all live brokers"
            % (sorted(live), topic), timeout, describe=lambda: self.describe([topic]))

    def wait_full_isr(self, topic, timeout=WAIT_S):
        """Until every partition of `topic` has a live leader and all its replicas in the ISR,
        seen alike by every live broker; returns {index: partition}."""
        live = {b.node_id for b in self.live()}

        def full(ps):
            return all(p["leader"] in live and sorted(p["isr"]) == sorted(p["replicas"])
                       for p in ps.values())
        return wait_until(lambda: self._agreed(topic, full),
                          "every replica of %s in the ISR, with a live leader" % topic, timeout,
                          describe=lambda: self.describe([topic]))

    def wait_preferred_leaders(self, topic, timeout=WAIT_S):
        """wait_full_isr, and each partition led by its first replica: where the controller moves
        leadership once a restarted broker is back in the ISR."""
        live = {b.node_id for b in self.live()}

        def settled(ps):
            return all(p["leader"] == p["replicas"][0] and p["leader"] in live and
                       sorted(p["isr"]) == sorted(p["replicas"]) for p in ps.values())
        return wait_until(lambda: self._agreed(topic, settled),
                          "every partition of %s led by its preferred replica, ISR full" % topic,
                          timeout, describe=lambda: self.describe([topic]))

    def wait_isr(self, topic, index, pred, what, timeout=WAIT_S):
        """Until every live broker agrees on partition `index` and pred(partition) holds;
        returns the partition."""
        got = wait_until(lambda: self._agreed(topic, lambda ps: index in ps and pred(ps[index])),
                         what, timeout, describe=lambda: self.describe([topic]))
        return got[index]

    def leader(self, topic, index):
        """The ClusterBroker leading partition `index` (once all live brokers agree on one)."""
        ps = self.wait_leaders(topic)
        return self.broker(ps[index]["leader"])

    # ---- admin ----

    def admin(self):
        from confluent_kafka.admin import AdminClient
        return AdminClient({"bootstrap.servers": self.bootstrap})

    def create_topic(self, name, partitions, replication_factor=3, configs=None,
                     assignment=None):
        """CreateTopics through confluent_kafka's AdminClient; waits until every live broker
        knows the topic with a leader for each partition."""
        from confluent_kafka.admin import NewTopic
        if assignment is not None:
            nt = NewTopic(name, num_partitions=len(assignment),
                          replica_assignment=assignment, config=configs or {})
        else:
            nt = NewTopic(name, num_partitions=partitions,
                          replication_factor=replication_factor, config=configs or {})
        admin = self.admin()  # referenced until the result is in (else it is destroyed first)
        fut = admin.create_topics([nt], operation_timeout=30, request_timeout=30)[name]
        fut.result(timeout=60)  # raises KafkaException with the broker's error
        return self.wait_leaders(name)

    def cluster_info(self):
        """`kaffa cluster info --json` against the cluster; the parsed JSON."""
        p = run_kaffa(["cluster", "info", "--json", "-b", self.bootstrap])
        if p.returncode != 0:
            raise AssertionError("kaffa cluster info -> %d: %s" % (p.returncode, p.stderr))
        return json.loads(p.stdout)
