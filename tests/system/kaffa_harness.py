"""Starts and stops a real `kaffa` process for the system tests.

The binary comes from the environment variable KAFFA_BIN (CTest sets it). A broker listens on
127.0.0.1 with port 0 (the OS picks a free port) and a fresh temporary log directory; the port is
read from the `kaffa ready listener=...` line the broker writes to stderr. stderr is drained by a
thread for the whole life of the process, so the pipe never fills and tests can wait for (and
assert on) log lines.

Usage:

    with KaffaBroker(overrides={"num.partitions": "3"}) as broker:
        broker.bootstrap            # "127.0.0.1:PORT"
        broker.log_text()           # everything logged so far
    # leaving the block sends SIGTERM, waits, asserts exit code 0, removes the temp dir

Processes are never leaked: __exit__ (also on failure) and an atexit hook kill whatever is still
running.
"""

import atexit
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

READY_RE = re.compile(r"kaffa ready listener=[A-Z0-9_-]+://([^\s]+):(\d+)")
ADMIN_RE = re.compile(r"kaffa admin listener=(http://[^\s\"]+)")
START_DEADLINE_S = 30.0
STOP_DEADLINE_S = 30.0

_live_processes = set()
_live_lock = threading.Lock()


def _kill_leftovers():
    with _live_lock:
        procs = list(_live_processes)
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


atexit.register(_kill_leftovers)


def kaffa_bin():
    """Path of the broker binary from KAFFA_BIN; fails the calling test clearly when unset."""
    path = os.environ.get("KAFFA_BIN")
    if not path:
        raise RuntimeError(  # a failure, never a skip
            "KAFFA_BIN is not set: point it at the kaffa binary "
            "(e.g. KAFFA_BIN=build/src/tools/kaffa /usr/bin/python3 tests/system/test_x.py)")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        raise RuntimeError("KAFFA_BIN=%s is not an executable file" % path)
    return path


def run_kaffa(args, timeout=60, **kwargs):
    """Runs `kaffa ARGS` to completion (for commands that must exit on their own)."""
    if "input" not in kwargs:
        kwargs["stdin"] = subprocess.DEVNULL
    return subprocess.run([kaffa_bin()] + list(args), capture_output=True, text=True,
                          timeout=timeout, **kwargs)


class BrokerStartError(RuntimeError):
    pass


class KaffaBroker:
    """One `kaffa serve` process.

    overrides: settings given as `--override key=value`, in order.
    properties: if given, written to a server.properties file passed as the positional argument.
    log_dir: reuse this directory (the caller owns it) instead of a fresh temporary one.
    The defaults `listeners=PLAINTEXT://127.0.0.1:0` and `log.dirs=<temp>` are added as overrides
    unless the caller sets them itself (in overrides or properties).
    """

    def __init__(self, overrides=None, properties=None, log_dir=None, extra_args=None):
        self._overrides = dict(overrides or {})
        self._properties = properties
        self._extra_args = list(extra_args or [])
        self._tmp = tempfile.mkdtemp(prefix="kaffa-systest-")
        self._owns_log_dir = log_dir is None
        given = set(self._overrides) | set(properties or {})
        if log_dir is None and not ({"log.dirs", "log.dir"} & given):
            log_dir = os.path.join(self._tmp, "data")
        self.log_dir = log_dir
        self._defaults = {}
        if "listeners" not in given:
            self._defaults["listeners"] = "PLAINTEXT://127.0.0.1:0"
        if "admin.listeners" not in given:
            # The default (localhost:9644) would collide between brokers running at once.
            self._defaults["admin.listeners"] = "http://127.0.0.1:0"
        if log_dir is not None and not ({"log.dirs", "log.dir"} & given):
            self._defaults["log.dirs"] = log_dir
        self.proc = None
        self.host = None
        self.port = None
        self.admin_url = None  # "http://127.0.0.1:PORT" of the HTTP admin API, if enabled
        self.returncode = None
        self._lines = []
        self._cond = threading.Condition()
        self._reader = None
        self._eof = False
        self.previous_logs = []  # the stderr text of earlier runs (see restart())

    # ---- lifecycle ----

    def command(self):
        cmd = [kaffa_bin(), "serve"]
        if self._properties is not None:
            path = os.path.join(self._tmp, "server.properties")
            with open(path, "w") as f:
                for k, v in self._properties.items():
                    f.write("%s=%s\n" % (k, v))
            cmd.append(path)
        for k, v in list(self._defaults.items()) + list(self._overrides.items()):
            cmd += ["--override", "%s=%s" % (k, v)]
        return cmd + self._extra_args

    def start(self):
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        with _live_lock:
            _live_processes.add(self.proc)
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        try:
            m = self.wait_for_log(READY_RE, timeout=START_DEADLINE_S)
        except Exception:
            self.kill()
            raise
        self.host, self.port = m.group(1), int(m.group(2))
        # The admin listener is announced before "ready".
        with self._cond:
            admin = [ADMIN_RE.search(line) for line in self._lines]
        admin = [a for a in admin if a]
        self.admin_url = admin[-1].group(1) if admin else None
        return self

    def _drain(self):
        for raw in iter(self.proc.stderr.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\n")
            with self._cond:
                self._lines.append(line)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def stop(self, sig=signal.SIGTERM, timeout=STOP_DEADLINE_S):
        """Sends `sig`, waits for the exit and returns the exit code (does not assert)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("kaffa did not exit within %ss of %s; log:\n%s"
                                     % (timeout, signal.Signals(sig).name, self.log_text()))
        self.returncode = self.proc.returncode
        self._finish()
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self.returncode = self.proc.returncode
            self._finish()

    def kill9(self):
        """SIGKILL: a crash (no shutdown code runs); waits for the exit and returns the code."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=STOP_DEADLINE_S)
        self.returncode = self.proc.returncode
        self._finish()
        return self.returncode

    def restart(self):
        """Starts a new process with the same command line, hence the same data directory,
        after stop() or kill9(). The port is picked afresh (use .bootstrap again). The log of the
        earlier run moves to previous_logs; log_text() then shows the new run only."""
        if self.alive():
            raise RuntimeError("restart() of a running broker: stop() or kill9() it first")
        with self._cond:
            self.previous_logs.append("\n".join(self._lines))
            self._lines = []
            self._eof = False
        self.proc = None
        self.returncode = None
        self.host = self.port = self.admin_url = None
        return self.start()

    def _finish(self):
        if self._reader is not None:
            self._reader.join(timeout=10)
        if self.proc is not None:
            self.proc.stderr.close()
            with _live_lock:
                _live_processes.discard(self.proc)

    def cleanup(self):
        shutil.rmtree(self._tmp, ignore_errors=True)

    def stop_and_check(self, sig=signal.SIGTERM):
        code = self.stop(sig)
        if code != 0:
            raise AssertionError("kaffa exited with code %s after %s (clean shutdown must exit 0);"
                                 " log:\n%s" % (code, signal.Signals(sig).name, self.log_text()))

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                self.stop_and_check()
            else:
                self.kill()
        finally:
            self.kill()
            self.cleanup()
        return False

    # ---- observation ----

    @property
    def bootstrap(self):
        return "%s:%d" % (self.host, self.port)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def metrics_text(self):
        """The admin listener's /metrics (Prometheus text format)."""
        with urllib.request.urlopen(self.admin_url + "/metrics", timeout=10) as r:
            return r.read().decode()

    def metrics(self, *samples):
        """From one scrape of /metrics: {sample: value as a float, or None when absent}. A sample
        is a name with its labels exactly as rendered, e.g. 'kaffa_topic_bytes_in_total{topic="t"}'
        (or the bare name of an unlabelled one)."""
        text = self.metrics_text()
        out = {}
        for s in samples:
            m = re.search(r"^%s (\S+)$" % re.escape(s), text, re.M)
            out[s] = float(m.group(1)) if m else None
        return out

    def metric(self, name, labels=""):
        """One sample of /metrics (see metrics())."""
        return self.metrics(name + labels)[name + labels]

    def log_text(self):
        with self._cond:
            return "\n".join(self._lines)

    def log_lines(self):
        with self._cond:
            return list(self._lines)

    def log_mark(self):
        """A position in the log; pass it as `since` to look only at later lines."""
        with self._cond:
            return len(self._lines)

    def wait_for_log(self, pattern, since=0, timeout=START_DEADLINE_S):
        """Waits until a line (at or after `since`) matches `pattern`; returns the match.

        Raises if the process ends or the deadline passes first."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        pos = since
        with self._cond:
            while True:
                while pos < len(self._lines):
                    m = rx.search(self._lines[pos])
                    pos += 1
                    if m:
                        return m
                if self._eof:
                    raise BrokerStartError(
                        "kaffa exited (code %s) before logging /%s/; log:\n%s"
                        % (self.proc.poll(), rx.pattern, "\n".join(self._lines)))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no log line matching /%s/ within %ss; log:\n%s"
                                         % (rx.pattern, timeout, "\n".join(self._lines)))
                self._cond.wait(left)

    def count_log(self, pattern, since=0):
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        with self._cond:
            return sum(1 for line in self._lines[since:] if rx.search(line))


class BrokerTestCase(unittest.TestCase):
    """One broker per test class (started in setUpClass, stopped and checked in
    tearDownClass). Subclasses set BROKER_OVERRIDES."""

    BROKER_OVERRIDES = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.broker = KaffaBroker(overrides=cls.BROKER_OVERRIDES)
        cls.broker.__enter__()

    @classmethod
    def tearDownClass(cls):
        broker = cls.broker
        try:
            alive = broker.alive()
            code = broker.stop()
            if not alive:
                raise AssertionError("kaffa died during the tests (code %s); log:\n%s"
                                     % (code, broker.log_text()))
            if code != 0:
                raise AssertionError("kaffa exited with code %s after SIGTERM; log:\n%s"
                                     % (code, broker.log_text()))
        finally:
            broker.kill()
            broker.cleanup()
            super().tearDownClass()
