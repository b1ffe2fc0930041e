#!/usr/bin/python3
"""A leader cut off from the other brokers and from etcd, but still reachable by its producer,
stops acknowledging acks=all writes; after healing no acknowledged record is lost.

Needs network namespaces: the test re-runs itself under `unshare -rn` (a user and network
namespace of its own, no privileges needed) and builds this topology there:

    test process, producers, etcd (10.200.0.1 on the hub's lo)      <- the "hub" namespace
       |  veth 10.200.i.1 <-> 10.200.i.2, IP forwarding on in the hub
    broker i in its own network namespace (i = 1..3), default route via the hub

Cutting broker L off = blackhole routes in L's namespace to etcd and to the other brokers: its
packets to them vanish (also its answers to their connections), while the hub (the producer's
side) still reaches it. Healing = removing those routes. Skipped, with the reason, where
unprivileged network namespaces are not allowed.

Scenario: RF=3, min.insync.replicas=2, one partition led by L; an idempotent librdkafka producer
runs throughout with every broker as bootstrap. L is cut off. Raw Produce requests (acks=-1,
timeout 2 s) sent to L over the hub must be answered with an error, never acknowledged. The
other two must elect a new leader (L's lease expires) and the producer must get
acknowledgements from it. After healing L must rejoin the ISR as a follower with the same log
files as the others (what it took alone is truncated away); every acknowledged record must be
on every replica at its offset.
"""

import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cluster_checks as cc  # noqa: E402
import kafka_records as kr  # noqa: E402
from cluster_harness import KaffaCluster, wait_until  # noqa: E402

INSIDE = "KAFFA_TEST_IN_NETNS"
HUB_ETCD = "10.200.0.1"
PROGRESS = 200


def netns_problem():
    """None if unprivileged user+network namespaces work here, else why not."""
    for tool in ("unshare", "nsenter", "ip"):
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool):
            return "%s is not installed" % tool
    try:
        p = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "unshare -rn failed: %r" % e
    if p.returncode != 0:
        return "unshare -rn is not allowed here: %s" % p.stderr.decode().strip()
    return None


def ip(*args, ns_pid=None):
    cmd = ["ip"] + list(args)
    if ns_pid is not None:
        cmd = ["nsenter", "-t", str(ns_pid), "-n", "--"] + cmd
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if p.returncode != 0:
        raise AssertionError("%s -> %d: %s" % (" ".join(cmd), p.returncode, p.stderr))


class Topology:
    """The hub (this process's namespace) and one network namespace per broker, each held open
    by a `sleep` process."""

    def __init__(self, n):
        self.holders = {}
        ip("link", "set", "lo", "up")
        ip("addr", "add", HUB_ETCD + "/32", "dev", "lo")
        with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
            f.write("1\n")
        for i in range(1, n + 1):
            holder = subprocess.Popen(["unshare", "-n", "--", "sleep", "100000"])
            self.holders[i] = holder
            wait_until(lambda: os.readlink("/proc/%d/ns/net" % holder.pid)
                       != os.readlink("/proc/self/ns/net"), "namespace of broker %d" % i)
            ip("link", "add", "vb%d" % i, "type", "veth", "peer", "name", "eth0", "netns",
               str(holder.pid))
            ip("addr", "add", "10.200.%d.1/24" % i, "dev", "vb%d" % i)
            ip("link", "set", "vb%d" % i, "up")
            pid = holder.pid
            ip("addr", "add", "%s/24" % self.host(i), "dev", "eth0", ns_pid=pid)
            ip("link", "set", "eth0", "up", ns_pid=pid)
            ip("link", "set", "lo", "up", ns_pid=pid)
            ip("route", "add", "default", "via", "10.200.%d.1" % i, ns_pid=pid)

    @staticmethod
    def host(i):
        return "10.200.%d.2" % i

    def prefix(self, i):
        return ["nsenter", "-t", str(self.holders[i].pid), "-n", "--"]

    def cut_routes(self, i):
        return [HUB_ETCD + "/32"] + ["%s/32" % self.host(j) for j in self.holders if j != i]

    def cut(self, i):
        for dst in self.cut_routes(i):
            ip("route", "add", "blackhole", dst, ns_pid=self.holders[i].pid)

    def heal(self, i):
        for dst in self.cut_routes(i):
            ip("route", "del", "blackhole", dst, ns_pid=self.holders[i].pid)

    def close(self):
        for h in self.holders.values():
            h.kill()
            h.wait()


class NetworkPartitionTest(unittest.TestCase):
    def test_cut_off_leader_stops_acknowledging(self):
        problem = netns_problem() if os.environ.get(INSIDE) != "1" else None
        if problem:
            self.skipTest("network namespaces unavailable: " + problem)
        if os.environ.get(INSIDE) != "1":
            self.run_inside_namespace()
            return
        topo = Topology(3)
        self.addCleanup(topo.close)
        cluster = KaffaCluster(3, overrides={"auto.leader.rebalance.enable": "false"},
                               etcd_host=HUB_ETCD, broker_host=topo.host,
                               command_prefix=topo.prefix)
        cluster.__enter__()
        ok = False
        try:
            self.scenario(cluster, topo)
            ok = True
        finally:
            cluster.__exit__(None if ok else AssertionError, None, None)

    def run_inside_namespace(self):
        env = dict(os.environ, **{INSIDE: "1"})
        p = subprocess.run(["unshare", "-rn", "--", sys.executable, os.path.abspath(__file__),
                            "-v"], env=env, capture_output=True, text=True, timeout=330)
        sys.stderr.write(p.stderr)
        self.assertEqual(p.returncode, 0, "the test inside the network namespace failed "
                         "(its output is above)")

    def scenario(self, c, topo):
        topic = "cut"
        c.create_topic(topic, 1, 3, configs={"min.insync.replicas": "2"})
        leader = c.wait_full_isr(topic)[0]["leader"]
        # Requests in flight to the cut-off leader are given up after socket.timeout.ms (and the
        # broker must answer each within request.timeout.ms): then the client retries elsewhere.
        prod = cc.AckedProducer(c.bootstrap, topic, 1, tag="cut",
                                extra={"request.timeout.ms": 5000, "socket.timeout.ms": 10000})
        prod.start()
        self.addCleanup(prod.abandon)
        prod.wait_acks(PROGRESS)

        topo.cut(leader)
        cut_broker = c.broker(leader)
        unacked = self.produce_to_cut_leader(cut_broker, topic)

        others = [b for b in c.live() if b is not cut_broker]
        from cluster_harness import metadata
        state = {}

        def new_leader():
            views = [metadata(b, [topic])["topics"][topic]["partitions"][0] for b in others]
            state["views"] = views
            lead = {v["leader"] for v in views}
            return len(lead) == 1 and lead.pop() in [b.node_id for b in others]
        wait_until(new_leader, "brokers %s to elect a new leader for %s-0 after cutting off %d"
                   % ([b.node_id for b in others], topic, leader), describe=lambda: state)
        prod.wait_acks(prod.n_acked() + PROGRESS, timeout=90, what="from the new leader ")

        topo.heal(leader)
        c.wait_full_isr(topic)
        prod.wait_acks(prod.n_acked() + PROGRESS, what="after healing ")
        acked, errors = prod.finish()
        self.assertEqual(errors, [])
        logs = cc.check_acked(c, topic, 1, acked)
        leaked = [r["offset"] for b in logs[0] for r in b.records if r["value"] in unacked]
        self.assertEqual(leaked, [], "records the cut-off leader never acknowledged are in the "
                         "agreed log at offsets %s (it is readable data nobody was told of)"
                         % leaked)

    def produce_to_cut_leader(self, broker, topic):
        """Sends acks=-1 produce requests (timeout 2 s) to the cut-off leader; each must be
        answered, and with an error (Kafka: REQUEST_TIMED_OUT once timeout_ms passed without the
        ISR, or NOT_LEADER_OR_FOLLOWER once fenced). Returns the values sent."""
        values = set()
        with kr.DataConnection(broker.host, broker.port, timeout=20) as conn:
            for i in range(3):
                v = b"sent-to-cut-leader-%d" % i
                values.add(v)
                try:
                    res = conn.produce([(topic, [(0, kr.encode_batch([(None, v, ())]))])],
                                       acks=-1, timeout_ms=2000)[(topic, 0)]
                except OSError as e:
                    raise AssertionError(
                        "the cut-off leader %d did not answer an acks=all produce with timeout_ms="
                        "2000 within 20 s (%r); Kafka answers REQUEST_TIMED_OUT once timeout_ms "
                        "passed" % (broker.node_id, e))
                sys.stderr.write("acks=all produce %d to the cut-off leader: %r\n" % (i, res))
                self.assertNotEqual(res["error_code"], 0, "the cut-off leader %d acknowledged an "
                                    "acks=all write: %r" % (broker.node_id, res))
        return values

if __name__ == "__main__":
    unittest.main()
