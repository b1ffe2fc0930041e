#!/usr/bin/python3
"""The HTTP admin API (admin.listeners): /metrics, /health, /v1/... JSON, runtime log level.

- /metrics parses with prometheus_client's text parser; every family has HELP and TYPE; histogram
  buckets are cumulative and end with +Inf == _count;
- its counters move with traffic: producing to a topic raises kaffa_topic_bytes_in_total for it
  and kaffa_requests_total{api="Produce"} and the Produce latency count; acks=all produce shows
  in kaffa_fsync_latency_seconds; a fetch moves the zero-copy (sendfile) bytes and the topic's
  bytes out; partitions and log sizes appear per partition;
- an active group shows in /v1/groups (Stable, 1 member) and in kaffa_group_members, and its
  lag (high watermark - committed offset) in kaffa_consumer_group_lag;
- /health/live, /health/ready and /health answer 200 while serving; /v1/cluster and /v1/topics
  parse and show the listeners and a created topic; unknown paths are 404;
- GET /v1/log-level?set=debug makes every request log a line; set=info stops it;
- garbage HTTP requests get 4xx or a close, and the broker keeps serving both APIs;
- once SIGTERM has been received, /health/ready answers 503 while Kafka connections drain;
- at start-up, while __consumer_offsets is being replayed (60 MB of committed offsets), the admin
  API already answers: /health/live 200, /health/ready 503 "loading"; ready turns 200 only once
  the offsets partition has loaded and never goes back to 503;
- with log.format=json every stderr line is one JSON object with ts, level, thread and msg.
"""

import json
import os
import signal
import socket
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase, KaffaBroker  # noqa: E402
import client_io as cio  # noqa: E402
import group_util as gu  # noqa: E402
import group_wire as gw  # noqa: E402
import kafka_wire as kw  # noqa: E402

TOPIC = "metrics-t"
GROUP = "metrics-g"
DEADLINE_S = 60.0


def http_get(base, path, timeout=30):
    """(status, content type, body text) of GET base+path; 4xx/5xx are returned, not raised."""
    try:
        with urllib.request.urlopen(base + path, timeout=timeout) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def wait_ready(base):
    """Polls /health/ready until 200 (the offsets partitions load after `kaffa ready`)."""
    deadline = time.monotonic() + DEADLINE_S
    while http_get(base, "/health/ready")[0] != 200:
        if time.monotonic() > deadline:
            raise AssertionError("/health/ready never answered 200")
        time.sleep(0.01)


def scrape(base):
    """{(sample name, frozenset(labels)): value} plus the families, from /metrics."""
    from prometheus_client.parser import text_string_to_metric_families
    status, ctype, text = http_get(base, "/metrics")
    assert status == 200, (status, text)
    assert ctype.startswith("text/plain"), ctype
    families = list(text_string_to_metric_families(text))
    samples = {}
    for fam in families:
        for s in fam.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return families, samples, text


def total(samples, name, **labels):
    """Sum of the samples called `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))


def raw_http(port, data, timeout=10):
    """Sends raw bytes to the admin port; returns what comes back until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out


class MetricsAndHealthTest(BrokerTestCase):
    BROKER_OVERRIDES = {"group.initial.rebalance.delay.ms": "0",
                        "group.min.session.timeout.ms": "1000"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.base = cls.broker.admin_url
        wait_ready(cls.base)
        cls.admin_port = int(cls.base.rsplit(":", 1)[1])
        with kw.connect(cls.broker) as conn:
            assert conn.create_topics([(TOPIC, 2, 1)]) == {TOPIC: 0}

    def test_admin_line_is_logged(self):
        self.assertRegex(self.base, r"^http://127\.0\.0\.1:\d+$")
        self.assertNotEqual(self.admin_port, 0)

    def test_metrics_parse_and_counters_move_with_traffic(self):
        families, before, text = scrape(self.base)
        self.assertIn("# TYPE kaffa_requests_total counter", text)
        types = {f.name: f.type for f in families}
        for name, kind in (("kaffa_requests", "counter"),
                           ("kaffa_request_latency_seconds", "histogram"),
                           ("kaffa_topic_bytes_in", "counter"),
                           ("kaffa_network_sendfile_bytes", "counter"),
                           ("kaffa_connections_open", "gauge"),
                           ("kaffa_partitions", "gauge"),
                           ("kaffa_partition_log_size_bytes", "gauge"),
                           ("kaffa_fsync_latency_seconds", "histogram"),
                           ("kaffa_groups", "gauge"),
                           ("kaffa_consumer_group_lag", "gauge")):
            self.assertEqual(types.get(name), kind, name)

        values = [os.urandom(1000) for _ in range(200)]
        cio.confluent_produce(self.broker.bootstrap, TOPIC,
                              [(i % 2, None, v, ()) for i, v in enumerate(values)])
        _, after, _ = scrape(self.base)
        grew = (total(after, "kaffa_topic_bytes_in_total", topic=TOPIC)
                - total(before, "kaffa_topic_bytes_in_total", topic=TOPIC))
        self.assertGreaterEqual(grew, sum(len(v) for v in values))
        self.assertGreater(total(after, "kaffa_requests_total", api="Produce"),
                           total(before, "kaffa_requests_total", api="Produce"))
        self.assertGreater(total(after, "kaffa_request_latency_seconds_count", api="Produce"),
                           total(before, "kaffa_request_latency_seconds_count", api="Produce"))
        self.assertGreater(total(after, "kaffa_fsync_latency_seconds_count"),
                           total(before, "kaffa_fsync_latency_seconds_count"))
        for p in (0, 1):
            self.assertGreaterEqual(
                total(after, "kaffa_partition_log_size_bytes", topic=TOPIC, partition=str(p)),
                sum(len(v) for v in values) // 2)
        self.assertEqual(total(after, "kaffa_topic_partitions", topic=TOPIC), 2)
        self.assertGreaterEqual(total(after, "kaffa_partitions"), 2)
        # A single node leads every partition, each its own whole ISR.
        self.assertEqual(total(after, "kaffa_leader_partitions"), total(after, "kaffa_partitions"))
        for name in ("kaffa_under_replicated_partitions", "kaffa_under_min_isr_partitions",
                     "kaffa_isr_shrinks_total", "kaffa_isr_expands_total"):
            self.assertEqual(total(after, name), 0, name)

        got = cio.confluent_consume(self.broker.bootstrap, [(TOPIC, 0), (TOPIC, 1)])
        self.assertGreaterEqual(sum(len(v) for v in got.values()), len(values))
        _, fetched, _ = scrape(self.base)
        self.assertGreaterEqual(total(fetched, "kaffa_network_sendfile_bytes_total")
                                - total(after, "kaffa_network_sendfile_bytes_total"),
                                sum(len(v) for v in values))
        self.assertGreaterEqual(total(fetched, "kaffa_topic_bytes_out_total", topic=TOPIC),
                                sum(len(v) for v in values))
        self.assertGreater(total(fetched, "kaffa_requests_total", api="Fetch"), 0)
        self.assertGreater(total(fetched, "kaffa_connections_total"), 0)

    def test_histograms_are_cumulative_and_consistent(self):
        with kw.connect(self.broker) as conn:
            conn.metadata([TOPIC])
        families, _, _ = scrape(self.base)
        for fam in families:
            if fam.type != "histogram":
                continue
            series = {}
            for s in fam.samples:
                key = frozenset((k, v) for k, v in s.labels.items() if k != "le")
                series.setdefault(key, {"buckets": []})
                if s.name.endswith("_bucket"):
                    series[key]["buckets"].append((float(s.labels["le"]), s.value))
                elif s.name.endswith("_count"):
                    series[key]["count"] = s.value
            for key, s in series.items():
                buckets = sorted(s["buckets"])
                self.assertEqual(buckets[-1][0], float("inf"), (fam.name, key))
                counts = [c for _, c in buckets]
                self.assertEqual(counts, sorted(counts), (fam.name, key))
                self.assertEqual(buckets[-1][1], s["count"], (fam.name, key))

    def test_health_endpoints(self):
        for path in ("/health/live", "/health/ready", "/health"):
            status, ctype, body = http_get(self.base, path)
            self.assertEqual(status, 200, (path, body))
            self.assertEqual(ctype, "application/json")
            json.loads(body)
        self.assertEqual(json.loads(http_get(self.base, "/health/ready")[2])["status"], "ready")
        status, _, _ = http_get(self.base, "/no/such/path")
        self.assertEqual(status, 404)

    def test_cluster_and_topics_json(self):
        status, _, body = http_get(self.base, "/v1/cluster")
        self.assertEqual(status, 200)
        cluster = json.loads(body)
        self.assertEqual(cluster["node_id"], 0)
        self.assertTrue(cluster["cluster_id"])
        self.assertIn(self.broker.port, [ls["port"] for ls in cluster["listeners"]])
        self.assertIn(self.base, cluster["admin_listeners"])
        status, _, body = http_get(self.base, "/v1/topics")
        self.assertEqual(status, 200)
        topics = {t["name"]: t for t in json.loads(body)}
        self.assertEqual(topics[TOPIC]["partitions"], 2)
        self.assertFalse(topics[TOPIC]["internal"])
        self.assertTrue(topics[TOPIC]["id"])
        self.assertIsInstance(topics[TOPIC]["configs"], dict)
        self.assertTrue(topics["__consumer_offsets"]["internal"])

    def test_active_group_and_lag(self):
        from confluent_kafka import Consumer, TopicPartition
        cio.confluent_produce(self.broker.bootstrap, TOPIC,
                              [(0, None, b"lag-%d" % i, ()) for i in range(10)])
        c = Consumer({"bootstrap.servers": self.broker.bootstrap, "group.id": GROUP,
                      "enable.auto.commit": False, "auto.offset.reset": "earliest",
                      "session.timeout.ms": 6000, "heartbeat.interval.ms": 500})
        self.addCleanup(c.close)
        c.subscribe([TOPIC])
        deadline = time.monotonic() + DEADLINE_S
        while len(c.assignment()) < 2:
            self.assertLess(time.monotonic(), deadline, "no assignment")
            c.poll(0.2)
        c.commit(offsets=[TopicPartition(TOPIC, 0, 3)], asynchronous=False)
        groups = {}
        while groups.get(GROUP, {}).get("state") != "Stable":
            self.assertLess(time.monotonic(), deadline, "group not Stable: %r" % groups)
            status, _, body = http_get(self.base, "/v1/groups")
            self.assertEqual(status, 200, body)
            groups = {g["group_id"]: g for g in json.loads(body)}
            c.poll(0.1)
        self.assertEqual(groups[GROUP]["members"], 1)
        self.assertEqual(groups[GROUP]["protocol_type"], "consumer")
        lo, hi = c.get_watermark_offsets(TopicPartition(TOPIC, 0), timeout=30)
        _, samples, _ = scrape(self.base)
        self.assertEqual(total(samples, "kaffa_group_members", group=GROUP), 1)
        self.assertGreaterEqual(total(samples, "kaffa_groups", state="Stable"), 1)
        self.assertEqual(total(samples, "kaffa_consumer_group_lag", group=GROUP, topic=TOPIC,
                               partition="0"), hi - 3)

    def test_log_level_switch_enables_request_lines(self):
        status, _, body = http_get(self.base, "/v1/log-level")
        self.assertEqual((status, json.loads(body)["level"]), (200, "info"))
        self.assertEqual(http_get(self.base, "/v1/log-level?set=loud")[0], 400)
        try:
            status, _, body = http_get(self.base, "/v1/log-level?set=debug")
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body), {"level": "debug", "previous": "info"})
            mark = self.broker.log_mark()
            with kw.connect(self.broker) as conn:
                conn.metadata([TOPIC])
            self.broker.wait_for_log(r"request conn=\d+ api=3 ", since=mark, timeout=10)
        finally:
            status, _, body = http_get(self.base, "/v1/log-level?set=info")
            self.assertEqual((status, json.loads(body)["level"]), (200, "info"))
        mark = self.broker.log_mark()
        with kw.connect(self.broker) as conn:
            conn.metadata([TOPIC])
        self.assertEqual(self.broker.count_log(r"request conn=", since=mark), 0)

    def test_garbage_requests_do_not_hurt(self):
        cases = [b"garbage\r\n\r\n", b"\x00\x01\x02\x03" * 100 + b"\r\n\r\n",
                 b"GET " + b"A" * 20000 + b" HTTP/1.1\r\n\r\n",
                 b"POST /metrics HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
                 b"GET /metrics HTTP/9.9\r\n\r\n", b"GET /metrics HTTP/1.1\r\nbad header\r\n\r\n",
                 b"\r\n\r\n", b"GET /met", b"", os.urandom(5000)]
        for data in cases:
            out = raw_http(self.admin_port, data)
            self.assertTrue(out == b"" or out.startswith(b"HTTP/1.1 4"), (data[:40], out[:80]))
        # Pipelined requests: one answer, then close.
        out = raw_http(self.admin_port, b"GET /health/live HTTP/1.1\r\n\r\n" * 3)
        self.assertEqual(out.count(b"HTTP/1.1 200 OK"), 1)
        self.assertTrue(self.broker.alive())
        self.assertEqual(http_get(self.base, "/health/ready")[0], 200)
        with kw.connect(self.broker) as conn:
            self.assertEqual(conn.metadata([TOPIC])["topics"][0]["name"], TOPIC)


class ReadinessAtShutdownTest(unittest.TestCase):
    def test_ready_turns_503_when_shutdown_begins(self):
        # A JoinGroup parked for the initial rebalance delay keeps its connection draining.
        broker = KaffaBroker(overrides={"group.initial.rebalance.delay.ms": "600000"})
        self.addCleanup(broker.cleanup)
        self.addCleanup(broker.kill)
        broker.start()
        base = broker.admin_url
        wait_ready(base)
        conn = gw.connect(broker)
        self.addCleanup(conn.close)
        conn.send(gw.join_group(7, 0, "parked-group"))
        deadline = time.monotonic() + DEADLINE_S
        while total(scrape(base)[1], "kaffa_requests_total", api="JoinGroup") < 1:
            self.assertLess(time.monotonic(), deadline, "JoinGroup never dispatched")
            time.sleep(0.05)
        broker.proc.send_signal(signal.SIGTERM)
        broker.wait_for_log(r"net: stopping")
        status, _, body = http_get(base, "/health/ready")
        self.assertEqual(status, 503, body)
        self.assertEqual(json.loads(body)["status"], "stopping")
        self.assertEqual(http_get(base, "/health")[0], 503)
        self.assertEqual(http_get(base, "/health/live")[0], 200)
        conn.close()  # the last Kafka connection goes: the admin listener closes, kaffa exits
        broker.proc.wait(timeout=30)
        self.assertEqual(broker.stop(), 0, broker.log_text())


class ReadinessAtStartupTest(unittest.TestCase):
    PARTITIONS = 100
    COMMITS = 300
    METADATA = "m" * 2000  # 60 MB of offset records to replay

    def test_ready_is_503_until_offsets_are_loaded(self):
        admin_port = gu.free_port()
        broker = KaffaBroker(overrides={"offsets.topic.num.partitions": "1",
                                        "admin.listeners": "http://127.0.0.1:%d" % admin_port})
        self.addCleanup(broker.cleanup)
        broker.start()
        gu.create_topic(broker, "ready-t", self.PARTITIONS)
        with gw.connect(broker) as conn:
            for i in range(self.COMMITS):
                res = conn.commit(2, "ready-g", {"ready-t": [(p, i, self.METADATA) for p in
                                                             range(self.PARTITIONS)]})
                self.assertEqual(set(res.values()), {0})
        self.assertEqual(broker.stop(), 0)

        # Restart in the background; poll the admin API from the moment the process exists.
        started = threading.Thread(target=broker.restart, daemon=True)
        started.start()
        base = "http://127.0.0.1:%d" % admin_port
        seen = []  # (ready status, live status) once the admin listener answers
        deadline = time.monotonic() + DEADLINE_S
        while not seen or seen[-1][0] != 200:
            self.assertLess(time.monotonic(), deadline, "never ready: %s" % seen[-5:])
            try:
                ready = http_get(base, "/health/ready")
                live = http_get(base, "/health/live")[0]
            except (OSError, urllib.error.URLError):
                time.sleep(0.001)  # not listening yet
                continue
            seen.append((ready[0], live, json.loads(ready[2])["status"]))
        started.join(timeout=DEADLINE_S)
        self.assertIn((503, 200, "loading"), seen, "never saw the loading state: %s" % seen[:5])
        self.assertEqual(seen[-1][:2], (200, 200))
        first_ready = next(i for i, s in enumerate(seen) if s[0] == 200)
        self.assertTrue(all(s[0] == 503 for s in seen[:first_ready]))
        broker.wait_for_log(r"group coordinator: loaded __consumer_offsets-0 \(30000 records\)")
        for _ in range(5):
            self.assertEqual(http_get(base, "/health/ready")[0], 200)
        self.assertEqual(broker.stop(), 0)


class JsonLogFormatTest(unittest.TestCase):
    def test_every_line_is_a_json_object(self):
        broker = KaffaBroker(overrides={"log.format": "json", "log.level": "debug"})
        self.addCleanup(broker.cleanup)
        broker.start()
        with kw.connect(broker) as conn:
            conn.metadata([TOPIC])
        broker.wait_for_log(r"request conn=\d+ api=3 ")
        self.assertEqual(broker.stop(), 0)
        lines = broker.log_lines()
        self.assertGreater(len(lines), 3)
        levels = set()
        for line in lines:
            event = json.loads(line)
            self.assertEqual(set(event), {"ts", "level", "thread", "msg"}, line)
            self.assertRegex(event["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertIsInstance(event["thread"], int)
            levels.add(event["level"])
        self.assertTrue({"info", "debug"} <= levels, levels)
        msgs = [json.loads(line)["msg"] for line in lines]
        self.assertTrue(any(m.startswith("kaffa ready listener=") for m in msgs))
        self.assertTrue(any(m.startswith("request conn=") for m in msgs))


if __name__ == "__main__":
    unittest.main()
