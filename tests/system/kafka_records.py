"""Record batches (magic v2) and the data-path requests, written by hand for the system tests.

Builds on kafka_wire (framing, primitive encoders, Reader). Contents:

- crc32c(): CRC-32C (Castagnoli), table driven, as the record batch CRC uses it.
- encode_batch() / decode_batches(): Kafka's record batch v2 (uncompressed or gzip) and a strict
  decoder that verifies the CRC and the batch length of every batch it returns.
- Produce v2/v3-v8 requests and their responses, Fetch v4 requests and responses, ListOffsets v1
  requests and responses, and a Connection subclass with round-trip helpers.

Everything is Kafka's public wire format (apache/kafka clients/src/main/resources/common/message).
"""

import gzip
import struct
import time

import kafka_wire as kw
from kafka_wire import i8, i16, i32, i64, string, array, frame, header_v1, Reader

PRODUCE = 0
FETCH = 1
LIST_OFFSETS = 2

# Kafka error codes the tests look for
NONE = 0
OFFSET_OUT_OF_RANGE = 1
CORRUPT_MESSAGE = 2
UNKNOWN_TOPIC_OR_PARTITION = 3
MESSAGE_TOO_LARGE = 10
UNSUPPORTED_VERSION = 35

EARLIEST = -2
LATEST = -1

CODEC_NONE = 0
CODEC_GZIP = 1

# ---- CRC-32C ----

_CRC32C_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC32C_TABLE.append(_c)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    table = _CRC32C_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the standard check value


# ---- varints (zig-zag, as records use them) ----

def varint(v):
    return kw.uvarint((v << 1) ^ (v >> 63) if v < 0 else v << 1)


def _read_varint(r):
    u = r.uvarint()
    return (u >> 1) ^ -(u & 1)


def _nbytes(b):
    if b is None:
        return varint(-1)
    return varint(len(b)) + b


# ---- record batch v2 ----

def encode_record(offset_delta, timestamp_delta, key, value, headers=()):
    body = (i8(0) + varint(timestamp_delta) + varint(offset_delta) + _nbytes(key) + _nbytes(value)
            + varint(len(headers))
            + b"".join(varint(len(hk)) + hk + _nbytes(hv)
                       for hk, hv in ((k.encode() if isinstance(k, str) else k, v)
                                      for k, v in headers)))
    return varint(len(body)) + body


def encode_batch(records, base_offset=0, base_timestamp=None, codec=CODEC_NONE,
                 producer_id=-1, producer_epoch=-1, base_sequence=-1, partition_leader_epoch=-1,
                 transactional=False):
    """records: list of (key, value, headers) or (key, value, headers, timestamp_ms).
    Returns the batch bytes with a correct length and CRC32C."""
    if base_timestamp is None:
        base_timestamp = int(time.time() * 1000)
    encoded = []
    max_ts = base_timestamp
    for i, rec in enumerate(records):
        key, value, headers = rec[:3]
        ts = rec[3] if len(rec) > 3 else base_timestamp
        max_ts = max(max_ts, ts)
        encoded.append(encode_record(i, ts - base_timestamp, key, value, headers))
    payload = b"".join(encoded)
    if codec == CODEC_GZIP:
        payload = gzip.compress(payload)
    elif codec != CODEC_NONE:
        raise ValueError("only none and gzip are encoded here")
    attributes = codec | (0x10 if transactional else 0)
    after_crc = (i16(attributes) + i32(len(records) - 1) + i64(base_timestamp) + i64(max_ts)
                 + i64(producer_id) + i16(producer_epoch) + i32(base_sequence)
                 + i32(len(records)) + payload)
    crc = crc32c(after_crc)
    after_length = i32(partition_leader_epoch) + i8(2) + struct.pack(">I", crc) + after_crc
    return i64(base_offset) + i32(len(after_length)) + after_length


class Batch:
    """One decoded batch: header fields, the records, and its raw bytes."""

    def __init__(self, raw, base_offset, last_offset_delta, attributes, base_timestamp,
                 max_timestamp, records):
        self.raw = raw
        self.base_offset = base_offset
        self.last_offset_delta = last_offset_delta
        self.attributes = attributes
        self.base_timestamp = base_timestamp
        self.max_timestamp = max_timestamp
        self.records = records  # list of dicts: offset, timestamp, key, value, headers

    @property
    def last_offset(self):
        return self.base_offset + self.last_offset_delta

    def __repr__(self):
        return "Batch(base=%d, last=%d, n=%d, %d bytes)" % (
            self.base_offset, self.last_offset, len(self.records), len(self.raw))


def _decode_records(payload, count, base_offset, base_timestamp):
    r = Reader(payload)
    out = []
    for _ in range(count):
        length = _read_varint(r)
        end = r.pos + length
        r.i8()  # attributes
        ts = base_timestamp + _read_varint(r)
        off = base_offset + _read_varint(r)
        kl = _read_varint(r)
        key = None if kl < 0 else r.take(kl)
        vl = _read_varint(r)
        value = None if vl < 0 else r.take(vl)
        headers = []
        for _ in range(_read_varint(r)):
            hk = r.take(_read_varint(r)).decode()
            hl = _read_varint(r)
            headers.append((hk, None if hl < 0 else r.take(hl)))
        if r.pos != end:
            raise ValueError("record length %d does not match its contents" % length)
        out.append({"offset": off, "timestamp": ts, "key": key, "value": value,
                    "headers": headers})
    if not r.done():
        raise ValueError("%d bytes after the last record of a batch" % (len(payload) - r.pos))
    return out


def decode_batches(data, allow_partial_tail=True, records=True):
    """Decodes consecutive batches. Each returned batch has a verified CRC. A truncated batch at
    the end (Fetch may cut the last one) is dropped when allow_partial_tail. records=False: the
    batch headers only (any codec; Batch.records is then None)."""
    out = []
    pos = 0
    while pos < len(data):
        if len(data) - pos < 61:
            if allow_partial_tail:
                break
            raise ValueError("%d stray bytes at %d" % (len(data) - pos, pos))
        base_offset, length = struct.unpack_from(">qi", data, pos)
        if length < 49:
            raise ValueError("batch length %d at %d" % (length, pos))
        if pos + 12 + length > len(data):
            if allow_partial_tail:
                break
            raise ValueError("truncated batch at %d" % pos)
        raw = data[pos:pos + 12 + length]
        _, magic, crc = struct.unpack_from(">ibI", raw, 12)
        if magic != 2:
            raise ValueError("magic %d at %d" % (magic, pos))
        if crc32c(raw[21:]) != crc:
            raise ValueError("CRC mismatch in batch at %d (base offset %d)" % (pos, base_offset))
        (attributes, last_delta, base_ts, max_ts, _pid, _pe, _seq,
         count) = struct.unpack_from(">hiqqqhii", raw, 21)
        payload = raw[61:]
        codec = attributes & 7
        if not records:
            out.append(Batch(raw, base_offset, last_delta, attributes, base_ts, max_ts, None))
            pos += len(raw)
            continue
        if codec == CODEC_GZIP:
            payload = gzip.decompress(payload)
        elif codec != CODEC_NONE:
            raise ValueError("codec %d is not decoded here" % codec)
        if attributes & 0x20:  # control batch (transactions): keep it, but without records
            recs = []
        else:
            recs = _decode_records(payload, count, base_offset, base_ts)
        out.append(Batch(raw, base_offset, last_delta, attributes, base_ts, max_ts, recs))
        pos += len(raw)
    return out


# ---- Produce ----

def produce_request(correlation_id, version, topics, acks=-1, timeout_ms=30000,
                    transactional_id=None):
    """Produce v0-v8 (non-flexible). topics: [(name, [(partition, records_bytes_or_None)])]."""
    assert 0 <= version <= 8

    def part(p):
        idx, records = p
        return i32(idx) + (i32(-1) if records is None else i32(len(records)) + records)

    def topic(t):
        return string(t[0]) + array(t[1], part)
    body = b""
    if version >= 3:
        body += string(transactional_id)
    body += i16(acks) + i32(timeout_ms) + array(topics, topic)
    return frame(header_v1(PRODUCE, version, correlation_id) + body)


def parse_produce_response(body, version):
    """-> {(topic, partition): dict(error_code, base_offset, log_append_time, log_start_offset,
    error_message)}; also checks the body is consumed exactly."""
    r = Reader(body)
    out = {}

    def partition(r, name):
        p = {"index": r.i32(), "error_code": r.i16(), "base_offset": r.i64()}
        if version >= 2:
            p["log_append_time"] = r.i64()
        if version >= 5:
            p["log_start_offset"] = r.i64()
        if version >= 8:
            p["record_errors"] = r.array(lambda r: (r.i32(), r.string()))
            p["error_message"] = r.string()
        out[(name, p["index"])] = p

    def topic(r):
        name = r.string()
        r.array(lambda r: partition(r, name))
    r.array(topic)
    if version >= 1:
        r.i32()  # throttle_time_ms
    if not r.done():
        raise ValueError("%d trailing bytes after a Produce v%d response"
                         % (len(body) - r.pos, version))
    return out


# ---- Fetch v4 ----

def fetch_v4_request(correlation_id, topics, max_wait_ms=0, min_bytes=0, max_bytes=64 << 20,
                     isolation_level=0):
    """topics: [(name, [(partition, fetch_offset, partition_max_bytes)])]."""
    def part(p):
        return i32(p[0]) + i64(p[1]) + i32(p[2])

    def topic(t):
        return string(t[0]) + array(t[1], part)
    body = (i32(-1) + i32(max_wait_ms) + i32(min_bytes) + i32(max_bytes) + i8(isolation_level)
            + array(topics, topic))
    return frame(header_v1(FETCH, 4, correlation_id) + body)


def parse_fetch_v4_response(body):
    """-> {(topic, partition): dict(error_code, high_watermark, last_stable_offset, records)}."""
    r = Reader(body)
    r.i32()  # throttle
    out = {}

    def partition(r, name):
        p = {"index": r.i32(), "error_code": r.i16(), "high_watermark": r.i64(),
             "last_stable_offset": r.i64()}
        r.array(lambda r: (r.i64(), r.i64()))  # aborted transactions
        n = r.i32()
        p["records"] = b"" if n < 0 else r.take(n)
        out[(name, p["index"])] = p

    def topic(r):
        name = r.string()
        r.array(lambda r: partition(r, name))
    r.array(topic)
    if not r.done():
        raise ValueError("%d trailing bytes after a Fetch v4 response" % (len(body) - r.pos))
    return out


# ---- ListOffsets v1 ----

def list_offsets_v1_request(correlation_id, topics):
    """topics: [(name, [(partition, timestamp)])]; timestamp -1 latest, -2 earliest."""
    def part(p):
        return i32(p[0]) + i64(p[1])

    def topic(t):
        return string(t[0]) + array(t[1], part)
    return frame(header_v1(LIST_OFFSETS, 1, correlation_id) + i32(-1) + array(topics, topic))


def parse_list_offsets_v1_response(body):
    r = Reader(body)
    out = {}

    def partition(r, name):
        p = {"index": r.i32(), "error_code": r.i16(), "timestamp": r.i64(), "offset": r.i64()}
        out[(name, p["index"])] = p

    def topic(r):
        name = r.string()
        r.array(lambda r: partition(r, name))
    r.array(topic)
    if not r.done():
        raise ValueError("%d trailing bytes after a ListOffsets v1 response" % (len(body) - r.pos))
    return out


# ---- a connection with round trips ----

class DataConnection(kw.Connection):
    def produce(self, topics, version=7, acks=-1, timeout_ms=30000):
        corr = self.next_corr()
        body = self.round_trip(produce_request(corr, version, topics, acks, timeout_ms), corr,
                               "Produce v%d" % version)
        return parse_produce_response(body, version)

    def produce_one(self, topic, partition, batch, version=7):
        """Produces one batch; returns the partition's response dict."""
        return self.produce([(topic, [(partition, batch)])], version)[(topic, partition)]

    def fetch(self, topics, max_wait_ms=0, min_bytes=0, max_bytes=64 << 20):
        corr = self.next_corr()
        body = self.round_trip(fetch_v4_request(corr, topics, max_wait_ms, min_bytes, max_bytes),
                               corr, "Fetch v4")
        return parse_fetch_v4_response(body)

    def list_offsets(self, topic, partitions_timestamps):
        corr = self.next_corr()
        body = self.round_trip(list_offsets_v1_request(corr, [(topic, partitions_timestamps)]),
                               corr, "ListOffsets v1")
        return parse_list_offsets_v1_response(body)

    def log_end(self, topic, partition):
        p = self.list_offsets(topic, [(partition, LATEST)])[(topic, partition)]
        if p["error_code"] != 0:
            raise AssertionError("ListOffsets latest %s-%d: error %d"
                                 % (topic, partition, p["error_code"]))
        return p["offset"]

    def log_start(self, topic, partition):
        p = self.list_offsets(topic, [(partition, EARLIEST)])[(topic, partition)]
        if p["error_code"] != 0:
            raise AssertionError("ListOffsets earliest %s-%d: error %d"
                                 % (topic, partition, p["error_code"]))
        return p["offset"]

    def read_all_batches(self, topic, partition, start=0, records=True):
        """Every batch from `start` to the high watermark, by repeated Fetch v4 (each batch's CRC
        is verified). Returns (batches, high_watermark)."""
        batches = []
        offset = start
        while True:
            p = self.fetch([(topic, [(partition, offset, 16 << 20)])])[(topic, partition)]
            if p["error_code"] != 0:
                raise AssertionError("Fetch %s-%d at %d: error %d"
                                     % (topic, partition, offset, p["error_code"]))
            hw = p["high_watermark"]
            got = [b for b in decode_batches(p["records"], records=records)
                   if b.last_offset >= offset]
            batches += got
            if got:
                offset = got[-1].last_offset + 1
            if offset >= hw:
                return batches, hw
            if not got:  # Kafka always returns at least one whole batch (KIP-74)
                raise AssertionError("Fetch %s-%d at %d returns no batch below the high watermark"
                                     " %d" % (topic, partition, offset, hw))


def connect(broker):
    return DataConnection(broker.host, broker.port)
