#!/usr/bin/python3
"""run_scenarios: runs Kaffa's standard benchmark scenarios and writes a Markdown table.

Each throughput scenario runs `kaffa_bench --json` against a Release `kaffa serve` (started here
on free ports with a fresh data directory) and the same load with `--mock` (librdkafka's
in-process mock cluster), alternating Kaffa and reference runs, --runs times each. Medians are
compared as a ratio Kaffa / reference measured in this run. The acks=all scenario is compared with
a disk probe (1 MiB writes with fdatasync after each, into the data directory's filesystem).
Other scenarios measure the broker itself: idle RSS and exec-to-accepting time, 10,000
partitions, 5,000 idle connections, restart after kill -9.

Python 3 standard library only. See bench/README.md ("Standard scenarios") and
docs/PERFORMANCE.md. A benchmark, not a test: nothing here asserts a speed. The exit code is 0
when every run completed (whatever the figures), 1 otherwise.

    bench/run_scenarios.py --kaffa build/rel/src/tools/kaffa \\
        --bench build/rel/bench/kaffa_bench --runs 3 --out perf.md
"""

import argparse
import json
import mmap
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "system"))

import kaffa_harness  # noqa: E402  (tests/system: starts and stops `kaffa serve`)
from scenario_table import NAMES, fmt, probes_text, table  # noqa: E402

MIB = 1 << 20
FDS_PER_PARTITION = 1  # descriptors `kaffa serve` holds per written partition (its active .log)
BENCH_TIMEOUT_S = 900


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


# ---- machine and probes ----

def machine_info(data_dir):
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "loadavg_start": os.getloadavg(),
            "rlimit_nofile": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["mem_gib"] = round(int(line.split()[1]) / (1 << 20), 1)
                    break
    except OSError:
        pass
    # The filesystem holding the data directory (longest mount point that prefixes it).
    best = ("", "", "")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                dev, mnt, fstype = line.split()[:3]
                if data_dir.startswith(mnt) and len(mnt) > len(best[1]):
                    best = (dev, mnt, fstype)
    except OSError:
        pass
    info["data_fs"] = {"device": best[0], "mount": best[1], "type": best[2],
                       "free_gib": round(shutil.disk_usage(data_dir).free / (1 << 30), 1)}
    return info


def disk_probe(directory, total_bytes, sync):
    """MB/s of sequential 1 MiB writes (page-aligned buffer) into a new file, with fdatasync
    after every write when `sync`."""
    buf = mmap.mmap(-1, MIB)
    buf.write(b"k" * MIB)
    path = os.path.join(directory, "disk-probe-%d.bin" % os.getpid())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunks = max(1, total_bytes // MIB)
        t0 = time.perf_counter()
        for _ in range(chunks):
            os.write(fd, buf)
            if sync:
                os.fdatasync(fd)
        dt = time.perf_counter() - t0
    finally:
        os.close(fd)
        os.unlink(path)
    return {"mb_per_s": chunks * MIB / 1e6 / dt, "bytes": chunks * MIB, "seconds": dt,
            "fdatasync_per_mib": sync}


def memory_touch_probe(total_bytes):
    """MB/s of writing one byte per 4 KiB page into fresh anonymous memory, then again into the
    same (now resident) pages: the cost of memory the kernel has to provide, which is what a
    broker appending into new page-cache pages pays (on a VM with free page reporting, the host
    backs such pages afresh)."""
    pages = max(1, total_bytes // 4096)
    out = {}
    m = mmap.mmap(-1, pages * 4096)
    for label in ("first_touch_mb_per_s", "second_touch_mb_per_s"):
        t0 = time.perf_counter()
        for off in range(0, pages * 4096, 4096):
            m[off] = 1
        out[label] = pages * 4096 / 1e6 / (time.perf_counter() - t0)
    m.close()
    return out


def settle():
    """Every run starts from the same state: no dirty page cache (the kernel would write the
    earlier runs' gigabytes back during this one, on the same two cores; seen: 1.15 M, then
    0.66 M, then 0.51 M records/s in three identical produce runs) and an empty page cache when
    /proc/sys/vm/drop_caches may be written (root). On this VM the host takes back free memory
    (free page reporting): with the page cache grown over earlier runs, new pages came from
    memory the host had to back afresh, and the copy into them took 89% of the broker's samples
    (2.2 broker CPU s per GB instead of 0.3-0.4). Applied before every run of both sides."""
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
    except OSError:
        pass


def loopback_probe(total_bytes):
    """MB/s of one TCP stream over 127.0.0.1, 1 MiB sends, page-aligned buffers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    received = [0]

    def sink():
        conn, _ = srv.accept()
        rbuf = mmap.mmap(-1, MIB)
        with conn:
            while True:
                n = conn.recv_into(rbuf)
                if n == 0:
                    break
                received[0] += n

    t = threading.Thread(target=sink)
    t.start()
    sbuf = mmap.mmap(-1, MIB)
    chunks = max(1, total_bytes // MIB)
    with socket.create_connection(srv.getsockname()) as c:
        t0 = time.perf_counter()
        for _ in range(chunks):
            c.sendall(sbuf)
        c.shutdown(socket.SHUT_WR)
        t.join()
        dt = time.perf_counter() - t0
    srv.close()
    return {"mb_per_s": received[0] / 1e6 / dt, "bytes": received[0], "seconds": dt}


# ---- processes ----

def proc_status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def wait_accepting(host, port, timeout=30.0):
    """Polls connect() until the port accepts; returns the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1):
                return time.monotonic()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.001)


class Runner:

    def __init__(self, args):
        self.a = args
        self.scale = args.scale
        self.tmp = tempfile.mkdtemp(prefix="kaffa-scenarios-", dir=args.tmp)
        self.results = {}   # scenario -> dict
        self.failures = []
        self.brokers = []

    # ---- helpers ----

    def n(self, standard, minimum=1000):
        return max(minimum, int(standard * self.scale))

    def broker(self, overrides=None):
        overrides = dict(self.a.settings, **(overrides or {}))
        b = kaffa_harness.KaffaBroker(overrides=overrides)
        b.start()
        self.brokers.append(b)
        return b

    def close(self, b):
        try:
            if b.alive():
                b.stop()
        finally:
            b.kill()
            b.cleanup()
            if b in self.brokers:
                self.brokers.remove(b)

    def bench(self, args, broker=None, timeout=120):
        """One kaffa_bench --json run; returns its parsed JSON (with "ok") or a failure dict.
        `timeout` (kaffa_bench --timeout) also bounds the creation of the topic."""
        cmd = [self.a.bench, "--json", "--timeout", str(timeout)] + [str(x) for x in args]
        settle()
        if broker is not None:
            cmd += ["--brokers", broker.bootstrap, "--broker-pid", str(broker.proc.pid)]
        elif "--brokers" not in args:
            cmd += ["--mock"]
        t0 = time.monotonic()
        try:
            p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=BENCH_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return {"ok": False, "errors": ["timed out"], "command": " ".join(cmd)}
        lines = [l for l in p.stdout.splitlines() if l.strip()]
        try:
            res = json.loads(lines[-1])
        except (IndexError, ValueError):
            res = {"ok": False, "errors": ["exit %d, no JSON: %s" % (p.returncode, p.stderr[-2000:])]}
        res["command"] = " ".join(cmd)
        res["elapsed_s"] = time.monotonic() - t0
        if p.returncode != 0:
            res["ok"] = False
        return res

    def record(self, name, **fields):
        self.results.setdefault(name, {}).update(fields)

    def check(self, name, run):
        if not run.get("ok", False):
            msg = "%s: %s (%s)" % (name, "; ".join(run.get("errors", [])), run.get("command", ""))
            self.failures.append(msg)
            log("FAILED " + msg)

    def pairs(self, name, kaffa_args, mock_args, broker, metric, timeout=120):
        """--runs alternating Kaffa / mock runs with fresh topics; returns (kaffa runs, mock runs).

        A run whose consumers never got their assignment is made again (twice at most, on either
        side, recorded as "setup_retries"): librdkafka 2.0's mock cluster now and then never
        answers one member's JoinGroup. Nothing is timed before the assignment."""
        kaffa, mock = [], []
        for i in range(self.a.runs):
            for side, runs in (("kaffa", kaffa), ("mock", mock)):
                for attempt in range(3):
                    topic = "%s-%s-%d%s" % (name, side, i, "-retry%d" % attempt if attempt else "")
                    args = (kaffa_args if side == "kaffa" else mock_args) + ["--topic", topic]
                    r = self.bench(args, broker if side == "kaffa" else None, timeout=timeout)
                    r["setup_retries"] = attempt
                    if r.get("ok") or not any("were not assigned" in e for e in r.get("errors", [])):
                        break
                    log("%s %s run %d: consumers not assigned, made again" % (name, side, i + 1))
                self.check(name, r)
                r["value"] = metric(r) if r.get("ok") else None
                runs.append(r)
                log("%s %s run %d: %s" % (name, side, i + 1, fmt(r["value"])))
        return kaffa, mock

    # ---- scenarios ----

    def s_idle(self):
        # Exec to accepting twice per run: on a fresh data directory (the first start creates
        # __consumer_offsets) and again on the same directory after a clean stop (the usual case).
        runs = []
        for i in range(self.a.runs):
            b = kaffa_harness.KaffaBroker(overrides=dict(self.a.settings))
            self.brokers.append(b)
            t0 = time.monotonic()
            b.start()  # returns once `kaffa ready` is logged
            fresh_ms = (wait_accepting(b.host, b.port) - t0) * 1e3
            b.stop()
            t0 = time.monotonic()
            b.restart()
            t_ready = time.monotonic()
            t_accept = wait_accepting(b.host, b.port)
            # An idle period of the broker's own (timers, maintenance loop) before sampling RSS.
            time.sleep(self.a.idle_seconds)
            run = {"fresh_dir_accepting_ms": fresh_ms, "ready_ms": (t_ready - t0) * 1e3,
                   "accepting_ms": (t_accept - t0) * 1e3,
                   "rss_kib": proc_status_kib(b.proc.pid, "VmRSS"),
                   "peak_rss_kib": proc_status_kib(b.proc.pid, "VmHWM"), "ok": True}
            self.close(b)
            runs.append(run)
            log("idle run %d: accepting after %.1f ms (fresh data dir %.1f ms), RSS %.1f MiB" %
                (i + 1, run["accepting_ms"], fresh_ms, run["rss_kib"] / 1024))
        self.record("idle", runs=runs,
                    accepting_ms=median(r["accepting_ms"] for r in runs),
                    fresh_dir_accepting_ms=median(r["fresh_dir_accepting_ms"] for r in runs),
                    rss_mib=median(r["rss_kib"] / 1024 for r in runs))

    def s_produce(self, name, size, records):
        common = ["-p", 6, "-s", size, "-n", records, "--acks", 1]
        k, m = self.pairs(name, common, common, self.main, lambda r: r["produce"]["records_per_s"])
        self.record(name, kaffa=k, reference=m, kaffa_median=median(r["value"] for r in k),
                    reference_median=median(r["value"] for r in m), unit="records/s",
                    reference_name="mock")

    def s_acks_all(self):
        name = "produce_1k_acks_all"
        records = self.n(300_000)
        probe_bytes = max(8 * MIB, int(256 * MIB * self.scale))
        kaffa, probes, buffered = [], [], []
        for i in range(self.a.runs):
            settle()  # as before every kaffa_bench run (see bench())
            p = disk_probe(self.main.log_dir, probe_bytes, sync=True)
            probes.append(p)
            log("%s disk fdatasync/MiB run %d: %.1f MB/s" % (name, i + 1, p["mb_per_s"]))
            q = disk_probe(self.main.log_dir, probe_bytes, sync=False)
            buffered.append(q)
            log("%s disk buffered run %d: %.1f MB/s" % (name, i + 1, q["mb_per_s"]))
            r = self.bench(["-p", 6, "-s", 1024, "-n", records, "--acks", "all",
                            "--topic", "%s-%d" % (name, i)], self.main)
            self.check(name, r)
            r["value"] = r["produce"]["mb_per_s"] if r.get("ok") else None
            kaffa.append(r)
            log("%s kaffa run %d: %s MB/s" % (name, i + 1, fmt(r["value"])))
        self.record(name, kaffa=kaffa, reference=probes, buffered_probe=buffered,
                    kaffa_median=median(r["value"] for r in kaffa),
                    reference_median=median(p["mb_per_s"] for p in probes),
                    buffered_median=median(p["mb_per_s"] for p in buffered), unit="MB/s",
                    reference_name="disk fdatasync per MiB")

    def s_replicated(self):
        # Three brokers and etcd on this machine (cluster_harness.py, as the cluster tests), a
        # topic of 6 partitions with 3 replicas and min.insync.replicas=2: every acknowledged
        # record was appended and fsynced by the leader and fetched by both followers. The
        # reference is the single broker's acks=all in the same run (no replication): the ratio
        # is what replication costs on two cores shared by four servers and the client.
        name = "replicated_acks_all"
        from cluster_harness import KaffaCluster  # noqa: E402 (tests/system)
        if not os.access("/usr/bin/etcd", os.X_OK):
            self.record(name, error="no /usr/bin/etcd (Debian's etcd-server): skipped")
            log("%s: skipped, no etcd" % name)
            return
        records = self.n(300_000)
        rf3, single = [], []
        with KaffaCluster(3, overrides=dict(self.a.settings,
                                            **{"offsets.topic.replication.factor": "3"})) as cluster:
            for i in range(self.a.runs):
                topic = "%s-%d" % (name, i)
                cluster.create_topic(topic, 6, 3, configs={"min.insync.replicas": "2"})
                cluster.wait_full_isr(topic)
                r = self.bench(["-p", 6, "-s", 1024, "-n", records, "--acks", "all",
                                "--topic", topic, "--brokers", cluster.bootstrap], None)
                self.check(name, r)
                r["value"] = r["produce"]["mb_per_s"] if r.get("ok") else None
                rf3.append(r)
                q = self.bench(["-p", 6, "-s", 1024, "-n", records, "--acks", "all",
                                "--topic", "%s-single-%d" % (name, i)], self.main)
                self.check(name, q)
                q["value"] = q["produce"]["mb_per_s"] if q.get("ok") else None
                single.append(q)
                log("%s run %d: RF=3 %s MB/s, single broker %s MB/s" %
                    (name, i + 1, fmt(r["value"]), fmt(q["value"])))
        self.record(name, kaffa=rf3, reference=single, unit="MB/s",
                    kaffa_median=median(r["value"] for r in rf3),
                    reference_median=median(r["value"] for r in single),
                    reference_name="single broker, acks=all, same run")

    def s_consume(self, name, consumers, assign):
        # The mock keeps only the last 5 MiB of a partition: 3,500 records of 1 KiB per
        # partition, over enough partitions to make the read last long enough to time, spread
        # evenly (no sticky partitioning, which would fill a few partitions at a time).
        partitions = self.a.consume_partitions
        records = max(consumers * 100, int(partitions * 3500 * min(1.0, self.scale)))
        common = ["-p", partitions, "-s", 1024, "-n", records, "--acks", 1,
                  "--consumers", consumers, "--consume-after-produce",
                  "-X", "sticky.partitioning.linger.ms=0"]
        if assign:
            common.append("--assign")
        k, m = self.pairs(name, common, common, self.main, lambda r: r["consume"]["records_per_s"],
                          timeout=30)
        cpu = lambda runs: median(r["broker"]["cpu_s_per_gb"] for r in runs if r.get("ok"))
        self.record(name, kaffa=k, reference=m, kaffa_median=median(r["value"] for r in k),
                    reference_median=median(r["value"] for r in m), unit="records/s",
                    reference_name="mock", broker_cpu_s_per_gb=cpu(k), mock_cpu_s_per_gb=cpu(m),
                    client_cpu_s_per_gb=median(r["client"]["cpu_s_per_gb"] for r in k if r.get("ok")))

    def s_e2e(self):
        name = "e2e_latency"
        rate = int(self.a.e2e_mb_per_s * 1e6 / 1024)
        duration = max(1.0, 10.0 * self.scale)
        runs = []
        for i in range(self.a.runs):
            r = self.bench(["-p", 6, "-s", 1024, "-d", duration, "--rate", rate, "--acks", 1,
                            "--linger-ms", self.a.e2e_linger_ms, "--consumers", 1, "--assign",
                            "--topic", "%s-%d" % (name, i)], self.main)
            self.check(name, r)
            r["value"] = r["consume"]["end_to_end_latency_ms"]["p99"] if r.get("ok") else None
            runs.append(r)
            log("%s run %d: p99 %s ms" % (name, i + 1, fmt(r["value"])))
        ok = [r for r in runs if r.get("ok")]
        self.record(name, kaffa=runs, kaffa_median=median(r["value"] for r in runs), unit="ms",
                    rate_records_per_s=rate, duration_s=duration, linger_ms=self.a.e2e_linger_ms,
                    achieved_mb_per_s=median(r["produce"]["mb_per_s"] for r in ok),
                    p50_median=median(r["consume"]["end_to_end_latency_ms"]["p50"] for r in ok),
                    p999_median=median(r["consume"]["end_to_end_latency_ms"]["p99_9"] for r in ok))

    def s_connections(self):
        name = "connections_5k"
        count = self.a.idle_connections
        records = self.n(500_000)
        args = ["-p", 6, "-s", 1024, "-n", records, "--acks", 1]
        pid = self.main.proc.pid
        with_c, without = [], []
        for i in range(self.a.runs):
            r = self.bench(args + ["--topic", "%s-without-%d" % (name, i)], self.main)
            self.check(name, r)
            r["value"] = r["produce"]["records_per_s"] if r.get("ok") else None
            without.append(r)
            # Counted by the broker's own accept counter: its descriptor count also moves while
            # the last run's connections are still being closed.
            accepted_before = self.main.metric("kaffa_connections_total")
            socks = []
            try:
                for _ in range(count):
                    socks.append(socket.create_connection((self.main.host, self.main.port)))
                deadline = time.monotonic() + 30
                while self.main.metric("kaffa_connections_total") < accepted_before + count:
                    if time.monotonic() > deadline:
                        raise RuntimeError("broker did not accept %d connections" % count)
                    time.sleep(0.05)
                fds = len(os.listdir("/proc/%d/fd" % pid))
                r = self.bench(args + ["--topic", "%s-with-%d" % (name, i)], self.main)
                r["broker_fds"] = fds
            except (OSError, RuntimeError) as e:
                r = {"ok": False, "errors": [str(e)]}
            finally:
                for s in socks:
                    s.close()
            self.check(name, r)
            r["value"] = r["produce"]["records_per_s"] if r.get("ok") else None
            with_c.append(r)
            log("%s run %d: without %s, with %s records/s" %
                (name, i + 1, fmt(without[-1]["value"]), fmt(r["value"])))
        self.record(name, kaffa=with_c, reference=without, connections=count,
                    kaffa_median=median(r["value"] for r in with_c),
                    reference_median=median(r["value"] for r in without), unit="records/s",
                    reference_name="same producer without them")

    def s_partitions(self):
        name = "partitions_10k"
        # The broker keeps one descriptor open per written partition (its active segment's .log):
        # with the descriptor limit this process could get, fewer partitions may fit.
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        fit = (nofile - 2048) // FDS_PER_PARTITION - 50  # 50: __consumer_offsets
        parts = self.a.many_partitions
        if parts > fit:
            parts = max(100, fit // 1000 * 1000)
            log("%s: RLIMIT_NOFILE %d fits about %d partitions at %d descriptors each: using %d" %
                (name, nofile, fit, FDS_PER_PARTITION, parts))
        records = self.n(1_000_000)
        b = self.broker()
        try:
            t0 = time.monotonic()
            setup = self.bench(["-p", parts, "-s", 1024, "-n", 1000, "--acks", 1, "--topic", "many"], b,
                               timeout=self.a.create_timeout)
            create_s = time.monotonic() - t0
            self.check(name, setup)
            log("%s: topic of %d partitions created and 1000 records written in %.1f s" %
                (name, parts, create_s))
            many, six = [], []
            for i in range(self.a.runs):
                for runs, args in ((many, ["-p", parts, "--topic", "many"]),
                                   (six, ["-p", 6, "--topic", "six-%d" % i])):
                    r = self.bench(args + ["-s", 1024, "-n", records, "--acks", 1], b)
                    self.check(name, r)
                    r["value"] = r["produce"]["records_per_s"] if r.get("ok") else None
                    runs.append(r)
                log("%s run %d: %d partitions %s, 6 partitions %s records/s" %
                    (name, i + 1, parts, fmt(many[-1]["value"]), fmt(six[-1]["value"])))
            peak = proc_status_kib(b.proc.pid, "VmHWM")
            broker_fds = len(os.listdir("/proc/%d/fd" % b.proc.pid))
            rss = proc_status_kib(b.proc.pid, "VmRSS")
        finally:
            self.close(b)
        self.record(name, kaffa=many, reference=six, partitions=parts, create_and_first_run_s=create_s,
                    requested_partitions=self.a.many_partitions, rlimit_nofile=nofile,
                    broker_fds=broker_fds,
                    kaffa_median=median(r["value"] for r in many),
                    reference_median=median(r["value"] for r in six), unit="records/s",
                    reference_name="6 partitions, same broker", peak_rss_mib=peak / 1024,
                    rss_mib=rss / 1024)

    def s_restart(self):
        name = "restart"
        parts = self.a.restart_partitions
        gib = self.a.restart_gib if self.a.restart_gib is not None else 10.0 * self.scale
        records = max(parts * 10, int(gib * (1 << 30) / 1024))
        b = self.broker()
        runs = []
        try:
            r = self.bench(["-p", parts, "-s", 1024, "-n", records, "--acks", 1, "--topic", "fill"], b,
                           timeout=self.a.create_timeout)
            self.check(name, r)
            fill = {k: r.get(k) for k in ("ok", "errors", "command", "elapsed_s", "produce")}
            log("%s: wrote %.2f GiB over %d partitions in %.1f s" % (name, gib, parts, r["elapsed_s"]))
            for i in range(self.a.runs):
                b.kill9()
                t0 = time.monotonic()
                b.restart()  # returns once `kaffa ready` is logged
                t_ready = time.monotonic()
                t_accept = wait_accepting(b.host, b.port)
                lines = b.log_lines()
                opened = [l for l in lines if "opened " in l and " partitions" in l]
                # Partitions whose log was scanned and repaired ("recovered T-P: scanned ...").
                recovered = [l for l in lines if "recovered " in l]
                runs.append({"ok": True, "ready_s": t_ready - t0, "accepting_s": t_accept - t0,
                             "opened": opened[-1] if opened else None,
                             "partitions_recovered": len(recovered), "recovered_example": recovered[:2]})
                log("%s run %d: serving after %.3f s" % (name, i + 1, t_accept - t0))
            # Serving means serving the data: the topic still answers a produce and consume.
            check = self.bench(["-s", 1024, "-n", 1000, "--acks", 1, "--consumers", 1, "--assign",
                                "--topic", "fill"], b)
            self.check(name, check)
        finally:
            self.close(b)
        self.record(name, kaffa=runs, fill=fill, gib=gib, partitions=parts, records=records,
                    after_restart_check_ok=check.get("ok"),
                    kaffa_median=median(r["accepting_s"] for r in runs), unit="s",
                    first_s=runs[0]["accepting_s"] if runs else None)

    # ---- driver ----

    def run(self):
        info = machine_info(self.tmp)
        try:
            info["loopback"] = loopback_probe(max(64 * MIB, int(2048 * MIB * self.scale)))
        except OSError as e:
            info["loopback"] = {"error": str(e)}
        info["memory_touch"] = memory_touch_probe(max(16 * MIB, int(512 * MIB * self.scale)))
        self.info = info
        log("machine: %s" % json.dumps(info))
        only = self.a.only
        todo = [n for n in NAMES if not only or n in only]
        needs_main = set(todo) & {"produce_1k", "produce_100b", "produce_1k_acks_all",
                                  "replicated_acks_all", "consume_1", "consume_group3",
                                  "e2e_latency", "connections_5k"}
        self.main = self.broker() if needs_main else None
        try:
            for n in todo:
                log("scenario %s" % n)
                try:
                    self.dispatch(n)
                except Exception as e:  # one broken scenario must not hide the others
                    self.failures.append("%s: %r" % (n, e))
                    log("FAILED %s: %r" % (n, e))
                    self.record(n, error=repr(e))
        finally:
            for b in list(self.brokers):
                self.close(b)
            shutil.rmtree(self.tmp, ignore_errors=True)
        info["loadavg_end"] = os.getloadavg()

    def dispatch(self, n):
        if n == "idle":
            self.s_idle()
        elif n == "produce_1k":
            self.s_produce(n, 1024, self.n(1_000_000))
        elif n == "produce_100b":
            self.s_produce(n, 100, self.n(3_000_000))
        elif n == "produce_1k_acks_all":
            self.s_acks_all()
        elif n == "replicated_acks_all":
            self.s_replicated()
        elif n == "consume_1":
            self.s_consume(n, 1, True)
        elif n == "consume_group3":
            self.s_consume(n, 3, False)
        elif n == "e2e_latency":
            self.s_e2e()
        elif n == "connections_5k":
            self.s_connections()
        elif n == "partitions_10k":
            self.s_partitions()
        elif n == "restart":
            self.s_restart()


def main():
    ap = argparse.ArgumentParser(description="Runs Kaffa's standard benchmark scenarios (see docs/PERFORMANCE.md)")
    ap.add_argument("--kaffa", default=os.environ.get("KAFFA_BIN"), help="kaffa binary (Release build)")
    ap.add_argument("--bench", default=os.environ.get("KAFFA_BENCH_BIN"), help="kaffa_bench binary")
    ap.add_argument("--runs", type=int, default=3, help="repetitions of each side (default 3)")
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of the standard sizes (default 1)")
    ap.add_argument("--only", default="", help="comma-separated scenarios: " + ",".join(NAMES))
    ap.add_argument("--out", help="write the Markdown here (and the raw figures to OUT with .json)")
    ap.add_argument("--tmp", default=None, help="directory for probe files (default: system temp)")
    ap.add_argument("--consume-partitions", type=int, default=128)
    ap.add_argument("--e2e-mb-per-s", type=float, default=100.0, help="rate of the latency scenario")
    ap.add_argument("--e2e-linger-ms", type=int, default=1, help="producer linger.ms of the latency scenario")
    ap.add_argument("--idle-connections", type=int, default=5000)
    ap.add_argument("--idle-seconds", type=float, default=2.0,
                    help="how long the idle broker runs before its RSS is read (default 2)")
    ap.add_argument("--many-partitions", type=int, default=10000)
    ap.add_argument("--restart-partitions", type=int, default=1000)
    ap.add_argument("--create-timeout", type=int, default=900,
                    help="seconds allowed to create the topics of many partitions (default 900)")
    ap.add_argument("--restart-gib", type=float, default=None, help="data before kill -9 (default 10 x scale)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a broker setting for every Kaffa broker of the run (repeatable)")
    a = ap.parse_args()
    a.settings = {}
    for item in a.set:
        name, eq, value = item.partition("=")
        if not eq or not name:
            ap.error("--set takes NAME=VALUE, got %r" % item)
        a.settings[name] = value
    if not a.kaffa or not a.bench:
        ap.error("give --kaffa and --bench (or KAFFA_BIN and KAFFA_BENCH_BIN)")
    a.kaffa, a.bench = os.path.abspath(a.kaffa), os.path.abspath(a.bench)
    a.only = [s for s in a.only.split(",") if s]
    unknown = [s for s in a.only if s not in NAMES]
    if unknown:
        ap.error("unknown scenario(s) %s; known: %s" % (", ".join(unknown), ", ".join(NAMES)))
    if a.runs < 1:
        ap.error("--runs must be >= 1")
    os.environ["KAFFA_BIN"] = a.kaffa
    # Thousands of sockets here, and in the broker (which inherits the limit) three descriptors
    # per partition (log, index, time index) besides one per connection.
    want = max(a.idle_connections + 4096,
               FDS_PER_PARTITION * max(a.many_partitions, a.restart_partitions) + 4096)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), max(hard, want)))
    except (ValueError, OSError):  # not allowed to raise the hard limit: as far as it goes
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, want), hard), hard))

    r = Runner(a)
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    r.run()
    info = r.info
    md = ["# Kaffa standard scenarios, %s" % started, "",
          "Machine: %s, %s cores, %s GiB, Linux %s; data on %s (%s). Load average %s at the start, %s at the end."
          % (info.get("cpu", "?"), info["nproc"], info.get("mem_gib", "?"), info["kernel"],
             info["data_fs"]["device"], info["data_fs"]["type"],
             " ".join("%.2f" % x for x in info["loadavg_start"]),
             " ".join("%.2f" % x for x in info["loadavg_end"])),
          "Runs: %d per side, alternating Kaffa and reference; scale %g." % (a.runs, a.scale)
          + ("" if not a.settings else " Broker settings: %s." %
             ", ".join("%s=%s" % kv for kv in sorted(a.settings.items()))), "",
          table(r.results, a.runs), probes_text(info, r.results)]
    if r.failures:
        md += ["Failures:", ""] + ["- " + f.replace("\n", " ")[:500] for f in r.failures] + [""]
    text = "\n".join(md)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
        raw = {"started": started, "args": {k: v for k, v in vars(a).items()}, "machine": info,
               "results": r.results, "failures": r.failures}
        with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
            json.dump(raw, f, indent=1)
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
