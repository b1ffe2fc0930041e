#!/usr/bin/env python3
"""Runs a fuzzer for a bounded time from a small seed corpus, in a temporary directory it removes
after: `run_fuzz.py FUZZER SECONDS [requests|sasl|tls|etcd|records|log]`. The request-decoder seeds are valid
request frames (so that libFuzzer starts past the header); the SASL seeds are token sequences
(first byte picks the mechanism, 0xFF separates tokens) and JAAS text; the TLS seeds are real
ClientHellos (TLS 1.2 and 1.3, from Python's ssl module) after the byte that picks the delivery
piece size; the etcd seeds are gateway answers (HTTP plus JSON) after the byte that picks a split
point; the record seeds are produced batches (plain, gzip, idempotent, transactional, several)
after the byte that picks the validation options; the log seeds are segment files (batches, torn
tails, indexes good and bad) after the byte that picks the recovery point."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile


def header(key, version, corr, flexible):
    h = struct.pack(">hhih", key, version, corr, 4) + b"seed"
    return h + (b"\x00" if flexible else b"")


def seeds():
    yield header(18, 0, 1, False)
    yield header(18, 3, 2, True) + b"\x05kcat\x061.7.0\x00"
    yield header(3, 0, 3, False) + struct.pack(">i", 1) + struct.pack(">h", 1) + b"t"
    yield header(3, 4, 4, False) + struct.pack(">i", -1) + b"\x01"
    yield header(3, 9, 5, True) + b"\x02\x02t\x00\x01\x00\x00\x00"
    yield header(3, 12, 6, True) + b"\x02" + bytes(16) + b"\x02t\x00\x01\x00\x00"
    yield header(19, 5, 7, True) + b"\x02\x02t\xff\xff\xff\xff\xff\xff\x01\x01\x00\x00\x00\x75\x30\x00\x00"
    yield header(20, 4, 8, True) + b"\x02\x02t\x00\x00\x75\x30\x00"
    yield header(0, 9, 9, True) + b"\x00\xff\xff\x00\x00\x75\x30\x01\x00"
    yield header(1, 12, 10, True) + bytes(30) + b"\x00"


def sasl_seeds():
    yield b"\x00\x00u\x00wrong"
    yield b"\x00u\x00u\x00x\xff\x00u\x00y"
    yield b"\x01n,,n=u,r=abc\xffc=biws,r=abcservernonce,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    yield b"\x02n,a=u,n=u,r=x\xffc=biws,r=xservernonce,p=AAAA\xffagain"
    yield b"\x01y,,n=someone=2Celse,r=n"
    yield (b'\x00org.apache.kafka.common.security.plain.PlainLoginModule required '
           b'user_a="b" username="c";')
    # OAUTHBEARER: 3 checks signed tokens (RS256, kid "k"), 4 takes unsigned ones.
    unsigned = b"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1IiwiZXhwIjo0MTAyNDQ0ODAwfQ."
    yield b"\x04n,,\x01auth=Bearer " + unsigned + b"\x01\x01"
    yield b"\x04n,a=u,\x01x=1\x01auth=Bearer " + unsigned[:-1] + b"x\x01\x01\xff\x01"
    yield (b"\x03n,,\x01auth=Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ."
           b"eyJzdWIiOiJ1IiwiaWF0IjoxLCJleHAiOjQxMDI0NDQ4MDB9.c2ln\x01\x01\xff\x01")


def etcd_seeds():
    # First byte: where the response is split into two reads; then an HTTP response.
    body = (b'{"header":{"revision":"7"},"kvs":[{"key":"YQ==","create_revision":"2",'
            b'"mod_revision":"7","version":"3","value":"MQ=="}],"count":"1"}')
    yield b"\x10HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    watch = (b'{"result":{"header":{"revision":"5"},"events":[{"kv":{"key":"YQ==",'
             b'"mod_revision":"4"}},{"type":"DELETE","kv":{"key":"YQ==","mod_revision":"5"}}]}}\n'
             b'{"result":{"canceled":true,"compact_revision":"5"}}\n')
    yield (b"\x30HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n" % len(watch)
           + watch + b"\r\n0\r\nGrpc-Trailer-Content-Type: application/grpc\r\n\r\n")
    txn = (b'{"header":{"revision":"3"},"succeeded":true,"responses":[{"response_put":'
           b'{"header":{"revision":"3"},"prev_kv":{"key":"YQ=="}}},{"response_delete_range":'
           b'{"deleted":"1"}},{"response_range":{"kvs":[]}}]}')
    yield b"\x05HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(txn) + txn
    err = b'{"error":"etcdserver: requested lease not found","code":5}'
    yield b"\x00HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n" % len(err) + err


def varint(n):
    """Zigzag varint (records' lengths, deltas and counts)."""
    z = (n << 1) ^ (n >> 63)
    out = b""
    while z >= 0x80:
        out += bytes([(z & 0x7F) | 0x80])
        z >>= 7
    return out + bytes([z])


def record(offset_delta, key, value, ts_delta=0, headers=()):
    body = b"\x00" + varint(ts_delta) + varint(offset_delta)
    body += varint(-1) if key is None else varint(len(key)) + key
    body += varint(-1) if value is None else varint(len(value)) + value
    body += varint(len(headers))
    for hk, hv in headers:
        body += varint(len(hk)) + hk + (varint(-1) if hv is None else varint(len(hv)) + hv)
    return varint(len(body)) + body


def batch(records, attributes=0, section=None, producer=(-1, -1, -1), ts=1700000000000, base=0):
    """A v2 batch with a zero CRC: the targets' mode bit 0 sets length, magic and CRC."""
    section = b"".join(records) if section is None else section
    pid, epoch, seq = producer
    after_length = (struct.pack(">ib", 0, 2) + struct.pack(">I", 0)
                    + struct.pack(">hiqqqhii", attributes, len(records) - 1, ts, ts, pid, epoch,
                                  seq, len(records)) + section)
    return struct.pack(">qi", base, len(after_length)) + after_length


def record_seeds():
    # First byte: options (bit 0 fixes the framing; keys, LogAppendTime, timestamp window, a
    # small max.message.bytes), then a partition's records field.
    import gzip
    plain = [record(0, b"k", b"v"), record(1, None, b"value", 5),
             record(2, b"key", None, -3, [(b"h", b"x"), (b"n", None)])]
    yield b"\x01" + batch(plain)
    yield b"\x03" + batch([record(0, b"k1", b"v1"), record(1, b"k2", None)])
    yield b"\x05" + batch(plain[:1], producer=(7, 0, 0))
    yield b"\x09" + batch(plain, attributes=0x10, producer=(7, 1, 3))
    yield b"\x01" + batch(plain, attributes=1, section=gzip.compress(b"".join(plain)))
    yield b"\x00" + batch(plain) + batch(plain[:1])
    yield b"\x11" + batch([record(0, b"k", b"v" * 600)])


def log_seeds():
    # First byte: bit 0 frames the .log part's batches, bit 1 trusts the segment (recovery point
    # from bit 2, else from the bits above); then the .log, .index and .timeindex lengths (u16
    # each), the .log, the .index (relative offset, position), the .timeindex (timestamp,
    # relative offset) and the leader-epoch-checkpoint text.
    recs = [record(0, b"k", b"v"), record(1, b"k2", b"v2", 1), record(2, b"k3", None, 2)]
    log = batch(recs, base=0) + batch(recs[:1], base=3, ts=1700000000100)
    log += batch(recs[:2], base=4, ts=1700000000200)
    second = len(batch(recs, base=0))
    index = struct.pack(">ii", 3, second)
    timeindex = struct.pack(">qi", 1700000000100, 3)

    def seed(mode, log_bytes, index_bytes=b"", time_bytes=b"", epochs=b""):
        return (bytes([mode]) + struct.pack(">HHH", len(log_bytes), len(index_bytes),
                                            len(time_bytes))
                + log_bytes + index_bytes + time_bytes + epochs)
    yield seed(0x01, log)
    yield seed(0x07, log, index, timeindex, b"0\n1\n0 0\n")
    yield seed(0x03 | (4 << 3), log, index, timeindex, b"0\n2\n0 0\n3 4\n")
    yield seed(0x01, log[:-7])  # a torn last batch
    yield seed(0x06, log, struct.pack(">ii", 9, 4096), struct.pack(">qi", -1, 77),
               b"0\n2\n5 9\n2 1\n")
    yield seed(0x00, log, epochs=b"0\n1\n7 99999999999\n")


def tls_seeds():
    import ssl
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ctx.maximum_version = version
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = outgoing.read()
        yield b"\xff" + hello
        yield b"\x00" + hello[:len(hello) // 2]
    yield b"\x01" + struct.pack(">i", 20) + b"\x00\x12" + b"\x00" * 18  # a Kafka frame


SEEDS = {"requests": seeds, "sasl": sasl_seeds, "tls": tls_seeds, "etcd": etcd_seeds,
         "records": record_seeds, "log": log_seeds}


def main():
    fuzzer, seconds = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "30"
    corpus_seeds = SEEDS[sys.argv[3] if len(sys.argv) > 3 else "requests"]
    work = tempfile.mkdtemp(prefix="kaffa-fuzz-")
    # Files a target writes per input (log_recovery_fuzz), on tmpfs when there is one; removed
    # here, also when the target crashed.
    scratch = tempfile.mkdtemp(prefix="kaffa-fuzz-scratch-",
                               dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        corpus = os.path.join(work, "corpus")
        os.makedirs(corpus)
        for i, s in enumerate(corpus_seeds()):
            with open(os.path.join(corpus, f"seed{i}"), "wb") as f:
                f.write(s)
        cmd = [fuzzer, f"-max_total_time={seconds}", "-rss_limit_mb=4096", "-max_len=65536",
               "-print_final_stats=1", f"-artifact_prefix={work}/", corpus]
        rc = subprocess.call(cmd, cwd=work, env=dict(os.environ, KAFFA_FUZZ_SCRATCH=scratch))
        if rc != 0:
            for name in os.listdir(work):
                if name.startswith(("crash-", "leak-", "timeout-", "oom-")):
                    with open(os.path.join(work, name), "rb") as f:
                        print(f"{name}: {f.read().hex()}")
        return rc
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
