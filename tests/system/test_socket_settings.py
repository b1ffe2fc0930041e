#!/usr/bin/python3
"""Kafka's socket settings on a real broker, read from outside with ss(8) (the kernel's view):

- Defaults: the listening socket's backlog is socket.listen.backlog.size (50, Kafka's) and an
  accepted client connection's send buffer socket.send.buffer.bytes (102400, Kafka's, which the
  kernel doubles); socket.receive.buffer.bytes is -1 (Kafka: 102400, see docs/PERFORMANCE.md),
  so the listener's receive buffer is the one a fresh socket of this machine gets.
- Values given are applied as given (send 150000, receive 120000, backlog 7), the receive buffer
  on the listening socket and so on every connection it accepts.
- -1 leaves the send buffer to the kernel: the connection's is not fixed at the default.
"""

import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import kafka_wire as kw  # noqa: E402
from kaffa_harness import KaffaBroker  # noqa: E402
from kernel_sockets import ss  # noqa: E402


def listener(broker):
    """(backlog, receive buffer) of the broker's listening socket."""
    (columns, mem), = ss("-l", "sport = :%d" % broker.port)
    assert columns[0] == "LISTEN", columns
    return int(columns[2]), mem["rb"]  # for a listener, Send-Q is the backlog


def accepted(broker):
    """(send buffer, receive buffer) of the connection the broker accepted from this test's one
    client connection, once a request has gone both ways over it."""
    with kw.connect(broker) as conn:
        conn.api_versions()
        (_, mem), = ss("state", "established", "sport = :%d" % broker.port)
        return mem["tb"], mem["rb"]


def kernels_receive_buffer():
    """SO_RCVBUF of a fresh TCP socket on this machine."""
    with socket.socket() as fresh:
        return fresh.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


class SocketSettingsTest(unittest.TestCase):

    def test_defaults(self):
        with KaffaBroker() as broker:
            self.assertEqual(listener(broker), (50, kernels_receive_buffer()))
            send, _ = accepted(broker)
            self.assertEqual(send, 2 * 102400)

    def test_values_given(self):
        with KaffaBroker(overrides={"socket.send.buffer.bytes": "150000",
                                    "socket.receive.buffer.bytes": "120000",
                                    "socket.listen.backlog.size": "7"}) as broker:
            self.assertEqual(listener(broker), (7, 2 * 120000))
            self.assertEqual(accepted(broker), (2 * 150000, 2 * 120000))

    def test_minus_one_leaves_the_send_buffer_to_the_kernel(self):
        with KaffaBroker(overrides={"socket.send.buffer.bytes": "-1"}) as broker:
            send, _ = accepted(broker)
            self.assertNotEqual(send, 2 * 102400)


if __name__ == "__main__":
    unittest.main()
