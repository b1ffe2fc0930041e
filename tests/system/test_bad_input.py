#!/usr/bin/python3
"""Malformed and hostile input on raw sockets against a live broker.

For every bad case: (a) the offending connection gets Kafka's error answer or is closed (read ->
EOF), (b) the broker logged exactly one line about that connection, (c) a connection opened
before the bad one still answers ApiVersions v0 correctly, and (d) the process is still alive
(checked after each case, and tearDownClass checks a clean SIGTERM exit 0).
"""

import os
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from kaffa_harness import BrokerTestCase  # noqa: E402
import kafka_wire as kw  # noqa: E402

# What the broker advertises so far (handler_table.cc).
EXPECTED_RANGES = {3: (0, 12), 18: (0, 3), 19: (0, 7), 20: (0, 6)}
UNSUPPORTED_VERSION = 35
INVALID_REQUEST = 42


class BadInputMixin:
    """Helpers shared by the test classes below (each has its own broker)."""

    def open_healthy(self):
        """A connection that has completed one round trip, so it is surely established."""
        conn = kw.connect(self.broker)
        self.addCleanup(conn.close)
        self.check_api_versions_ok(conn, correlation_id=1)
        return conn

    def check_api_versions_ok(self, conn, correlation_id):
        err, ranges = conn.api_versions(correlation_id)
        self.assertEqual(err, 0)
        for key, rng in EXPECTED_RANGES.items():
            self.assertEqual(ranges.get(key), rng, "advertised range of API key %d" % key)

    def send_quietly(self, conn, data):
        """Sends, tolerating the broker closing first (it may reject after the first bytes)."""
        try:
            conn.send(data)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def assert_rejected(self, payload, log_pattern, shutdown_write=False):
        """Sends `payload` on a fresh connection and checks (a)-(d) for a closing rejection."""
        healthy = self.open_healthy()
        mark = self.broker.log_mark()
        bad = kw.connect(self.broker)
        self.addCleanup(bad.close)
        peer = "127.0.0.1:%d" % bad.sock.getsockname()[1]
        self.send_quietly(bad, payload)
        if shutdown_write:
            bad.sock.shutdown(socket.SHUT_WR)
        # (a) closed without an answer
        self.assertTrue(bad.expect_closed(), "the broker answered instead of closing")
        # (b) one log line about this connection
        self.broker.wait_for_log(log_pattern, since=mark)
        about = [l for l in self.broker.log_lines()[mark:] if peer in l]
        self.assertEqual(len(about), 1, "log lines about %s: %r" % (peer, about))
        self.assertRegex(about[0], log_pattern)
        # (c) the older connection still works
        self.check_api_versions_ok(healthy, correlation_id=2)
        # (d) alive
        self.assertTrue(self.broker.alive(), "kaffa died:\n" + self.broker.log_text())


class BadInputTest(BadInputMixin, BrokerTestCase):
    BROKER_OVERRIDES = {"socket.request.max.bytes": "65536"}

    # ---- garbage ----

    def test_http_request_instead_of_kafka(self):
        # "GET " read as a size is 1195725856, far above the limit.
        self.assert_rejected(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
                             r"request size 1195725856 outside \[0, 65536\]")

    def test_garbage_inside_a_well_sized_frame(self):
        # API key 0xdead (negative) with junk after it.
        self.assert_rejected(kw.frame(b"\xde\xad\xbe\xef" * 8), r"unknown API key")

    def test_negative_length(self):
        self.assert_rejected(kw.i32(-1), r"request size -1 outside")

    def test_most_negative_length(self):
        self.assert_rejected(kw.i32(-2 ** 31) + b"xyz", r"request size -2147483648 outside")

    # ---- header problems ----

    def test_unknown_api_key(self):
        self.assert_rejected(kw.frame(kw.header_v1(999, 0, 7)), r"unknown API key \(api key 999\)")

    def test_unsupported_metadata_version_closes(self):
        payload = kw.frame(kw.header_v2(kw.METADATA, 99, 7) + kw.uvarint(1) + kw.uvarint(0)
                           + kw.i8(1) + kw.uvarint(0))
        self.assert_rejected(payload, r"API key 3 version 99 is not supported")

    def test_header_shorter_than_correlation_id(self):
        self.assert_rejected(kw.frame(kw.i16(18) + kw.i16(0) + kw.i16(0)), r"truncated header")

    def test_client_id_length_beyond_frame(self):
        # INT16 length 32767 but only three bytes of client id follow.
        payload = kw.frame(kw.i16(18) + kw.i16(0) + kw.i32(5) + kw.i16(32767) + b"abc")
        self.assert_rejected(payload, r"malformed header")

    # ---- body problems ----

    def test_truncated_metadata_body(self):
        # Metadata v1 announcing 5 topics, and the frame ends there.
        payload = kw.frame(kw.header_v1(kw.METADATA, 1, 9) + kw.i32(5))
        self.assert_rejected(payload, r"malformed 3 v1 request")

    def test_truncated_create_topics_body(self):
        whole = kw.create_topics_v0(9, [("cut-short", 1, 1)])[4:]
        payload = kw.frame(whole[:-7])  # drops timeout_ms and part of the configs array
        self.assert_rejected(payload, r"malformed 19 v0 request")

    def test_frame_cut_short_by_client(self):
        # The size promises 100 bytes; 20 arrive and the client half-closes. The broker closes
        # the connection (this is logged at debug level only: the client went away).
        healthy = self.open_healthy()
        bad = kw.connect(self.broker)
        self.addCleanup(bad.close)
        bad.send(kw.i32(100) + kw.header_v1(18, 0, 3)[:20].ljust(20, b"\0"))
        bad.sock.shutdown(socket.SHUT_WR)
        self.assertTrue(bad.expect_closed())
        self.check_api_versions_ok(healthy, correlation_id=2)
        self.assertTrue(self.broker.alive())

    # ---- answered with an error code ----

    def test_api_versions_above_max_answers_v0_layout(self):
        healthy = self.open_healthy()
        with kw.connect(self.broker) as conn:
            # A future flexible version: header v2, a body we do not know.
            conn.send(kw.frame(kw.header_v2(kw.API_VERSIONS, 99, 4242)
                               + kw.compact_string("x") + kw.compact_string("1") + kw.uvarint(0)))
            data = conn.read_frame()
            self.assertIsNotNone(data, "closed instead of answering ApiVersions v99")
            # Response header v0 = correlation id only; body v0 = error, INT32 array count,
            # 6 bytes per entry; nothing else (no throttle time, no tagged fields).
            corr, err, n = struct.unpack(">ihi", data[:10])
            self.assertEqual(corr, 4242)
            self.assertEqual(err, UNSUPPORTED_VERSION)
            self.assertGreater(n, 0)
            self.assertEqual(len(data), 4 + 2 + 4 + 6 * n, "exact v0 layout")
            entries = [struct.unpack(">hhh", data[10 + 6 * i:16 + 6 * i]) for i in range(n)]
            self.assertIn((18, 0, 3), entries)
            # The client retries with a version we speak, on the same connection.
            self.check_api_versions_ok(conn, correlation_id=4243)
        self.check_api_versions_ok(healthy, correlation_id=2)

    def test_api_versions_v3_invalid_software_name(self):
        with kw.connect(self.broker) as conn:
            conn.send(kw.api_versions_v3(11, "bad name!", "1.0"))
            corr, body = conn.read_response()  # header v0 even though v3 is flexible
            self.assertEqual(corr, 11)
            err, _, _ = kw.parse_api_versions_v3(body)
            self.assertEqual(err, INVALID_REQUEST)
            conn.send(kw.api_versions_v3(12, "kaffa-systest", "1.0-beta"))
            corr, body = conn.read_response()
            self.assertEqual(corr, 12)
            err, ranges, throttle = kw.parse_api_versions_v3(body)
            self.assertEqual(err, 0)
            self.assertEqual(throttle, 0)
            for key, rng in EXPECTED_RANGES.items():
                self.assertEqual(ranges.get(key), rng)
        self.assertTrue(self.broker.alive())

    def test_api_versions_v3_invalid_software_version(self):
        with kw.connect(self.broker) as conn:
            conn.send(kw.api_versions_v3(13, "kaffa-systest", "1.0-"))
            corr, body = conn.read_response()
            self.assertEqual(corr, 13)
            self.assertEqual(kw.parse_api_versions_v3(body)[0], INVALID_REQUEST)

    # ---- legal but unusual ----

    def test_client_id_of_30_kb_is_answered(self):
        with kw.connect(self.broker) as conn:
            conn.send(kw.api_versions_v0(77, client_id="c" * 30000))
            corr, body = conn.read_response()
            self.assertEqual(corr, 77)
            err, ranges = kw.parse_api_versions_v0(body)
            self.assertEqual(err, 0)
            self.assertEqual(ranges[18], (0, 3))

    def test_null_client_id_is_answered(self):
        with kw.connect(self.broker) as conn:
            conn.send(kw.api_versions_v0(78, client_id=None))
            corr, body = conn.read_response()
            self.assertEqual(corr, 78)
            self.assertEqual(kw.parse_api_versions_v0(body)[0], 0)

    def pipelined(self, count):
        with kw.connect(self.broker) as conn:
            corrs = [1000 + 3 * i for i in range(count)]  # ascending, not consecutive
            data = b"".join(kw.api_versions_v0(c) if i % 2 == 0
                            else kw.metadata_request(c, 1, [])
                            for i, c in enumerate(corrs))
            conn.send(data)
            for i, want in enumerate(corrs):
                resp = conn.read_response()
                self.assertIsNotNone(resp, "closed after %d of %d responses" % (i, count))
                corr, body = resp
                self.assertEqual(corr, want, "response %d out of order" % i)
                if i % 2 == 0:
                    self.assertEqual(kw.parse_api_versions_v0(body)[0], 0)
                else:
                    md = kw.parse_metadata(body, 1)
                    self.assertEqual(md["topics"], [])  # empty list in v1 = no topics
                    self.assertEqual(len(md["brokers"]), 1)

    def test_pipelined_50_requests_in_one_send(self):
        self.pipelined(50)

    def test_pipelined_beyond_the_inflight_limit(self):
        # connection.max.inflight.requests defaults to 64: reading pauses and resumes.
        self.pipelined(500)


class OversizedFrameTest(BadInputMixin, BrokerTestCase):
    BROKER_OVERRIDES = {"socket.request.max.bytes": "1024"}

    def test_frame_over_the_limit_is_rejected(self):
        self.assert_rejected(kw.i32(2048) + b"\0" * 2048, r"request size 2048 outside \[0, 1024\]")

    def test_frame_exactly_at_the_limit_is_answered(self):
        header = kw.header_v1(kw.API_VERSIONS, 0, 5, client_id="")
        client_id = "x" * (1024 - len(header))
        request = kw.api_versions_v0(5, client_id=client_id)
        self.assertEqual(len(request), 4 + 1024)
        with kw.connect(self.broker) as conn:
            conn.send(request)
            corr, body = conn.read_response()
            self.assertEqual(corr, 5)
            self.assertEqual(kw.parse_api_versions_v0(body)[0], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
