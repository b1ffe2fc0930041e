"""etcd and polling for the cluster tests (cluster_harness.py builds on this).

- wait_until(pred, what): polls a condition until a deadline (the deadline is a safety net, never
  a timing assertion) and fails naming what it waited for and the last state seen.
- EtcdServer: one etcd member (Debian's etcd-server) alone in its cluster, on free ports of one
  address with its own data directory; ready when /health says so; kill -9, freeze/thaw,
  restart on the same ports and data; keys read and written through the v3 JSON gateway (for
  failure messages and the harness self-test). An atexit hook kills any etcd still running.
"""

import atexit
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

ETCD_BIN = "/usr/bin/etcd"
WAIT_S = 60.0
POLL_S = 0.1  # polling interval of the condition waits (not a synchronisation sleep)

_live_etcds = set()


def _kill_etcds():
    for p in list(_live_etcds):
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_kill_etcds)


def free_port(host="127.0.0.1"):
    """A free TCP port on `host` (bound, then released; the caller binds it right away)."""
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_until(pred, what, timeout=WAIT_S, describe=None):
    """Polls pred() until it returns something true (returned) or the deadline passes (failure
    naming `what` and, if given, describe() of the last state). Exceptions of pred() count as
    "not yet" and are reported if the deadline passes."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            v = pred()
            if v:
                return v
            last_exc = None
        except (OSError, ValueError, AssertionError) as e:
            last_exc = e
        if time.monotonic() >= deadline:
            state = ""
            if describe is not None:
                try:
                    state = "\nlast state: %s" % describe()
                except Exception as e:  # noqa: BLE001 - the description is best effort
                    state = "\n(describing the state failed: %r)" % e
            if last_exc is not None:
                state += "\nlast error: %r" % last_exc
            raise AssertionError("timed out after %ss waiting for %s%s" % (timeout, what, state))
        time.sleep(POLL_S)



# ---- etcd ----

class EtcdServer:
    """One etcd member alone in its cluster, on `host` (127.0.0.1) with free client and peer
    ports."""

    def __init__(self, name="kaffa-systest", host="127.0.0.1"):
        if not os.access(ETCD_BIN, os.X_OK):
            raise RuntimeError("%s missing: the cluster tests need Debian's etcd-server "
                               "(scripts/deps.sh installs it)" % ETCD_BIN)
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="kaffa-etcd-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.log_path = os.path.join(self.tmp, "etcd.log")
        self.host = host
        self.client_port = free_port(host)
        self.peer_port = free_port(host)
        self.proc = None
        self._log = None

    @property
    def endpoint(self):
        return "%s:%d" % (self.host, self.client_port)

    @property
    def url(self):
        """The metadata.store value of the brokers."""
        return "etcd://" + self.endpoint

    def command(self):
        client = "http://%s:%d" % (self.host, self.client_port)
        peer = "http://%s:%d" % (self.host, self.peer_port)
        return [ETCD_BIN, "--name", self.name, "--data-dir", self.data_dir,
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "%s=%s" % (self.name, peer), "--log-level", "warn"]

    def start(self, timeout=WAIT_S):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        _live_etcds.add(self.proc)
        try:
            wait_until(self._healthy, "etcd %s to report healthy" % self.endpoint, timeout,
                       describe=self.log_tail)
        except BaseException:
            self.kill9()
            raise
        return self

    def _healthy(self):
        if self.proc.poll() is not None:
            raise AssertionError("etcd exited with code %s; log:\n%s"
                                 % (self.proc.returncode, self.log_tail()))
        with urllib.request.urlopen("http://%s/health" % self.endpoint, timeout=2) as r:
            return json.loads(r.read().decode()).get("health") == "true"

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()
            _live_etcds.discard(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self.kill9()

    def freeze(self):
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self):
        self.proc.send_signal(signal.SIGCONT)

    def restart(self):
        """Same ports and data directory (after kill9() or stop())."""
        if self.alive():
            raise RuntimeError("restart() of a running etcd")
        return self.start()

    def cleanup(self):
        if self.alive():
            self.thaw()
        self.kill9()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log_tail(self, n=40):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no etcd log)"
        return "\n".join(lines[-n:])

    def get_prefix(self, prefix):
        """{key: value} of every key under `prefix`, through the v3 JSON gateway."""
        key = prefix.encode()
        end = key[:-1] + bytes([key[-1] + 1])
        body = json.dumps({"key": base64.b64encode(key).decode(),
                           "range_end": base64.b64encode(end).decode()}).encode()
        req = urllib.request.Request("http://%s/v3/kv/range" % self.endpoint, data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            kvs = json.loads(r.read().decode()).get("kvs", [])
        return {base64.b64decode(kv["key"]).decode(): base64.b64decode(kv.get("value", "")).decode()
                for kv in kvs}

    def put(self, key, value):
        """Writes one key through the v3 JSON gateway."""
        body = json.dumps({"key": base64.b64encode(key.encode()).decode(),
                           "value": base64.b64encode(value.encode()).decode()}).encode()
        req = urllib.request.Request("http://%s/v3/kv/put" % self.endpoint, data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            r.read()

    def dump(self, prefix="/kaffa"):
        """The keys under `prefix` as text, for failure messages."""
        try:
            return "\n".join("%s = %s" % kv for kv in sorted(self.get_prefix(prefix).items()))
        except (OSError, ValueError) as e:
            return "(etcd not readable: %r)" % e
