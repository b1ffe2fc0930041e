#!/usr/bin/python3
"""One consumer-group member as its own process, for the group system tests (so `kill -9` is a
real crash). Driven through stdin, reports on stdout, one event per line, flushed at once:

    READY                         the consumer object exists and subscribe() was called
    A <p,p,...>                   on_assign: partitions given (for cooperative: only the new ones)
    V <p,p,...>                   on_revoke: partitions taken away
    L <p,p,...>                   on_lost (confluent only, when the callback exists)
    R <p> <o>                     one record consumed (partition, offset)
    C <p>:<o>,...                 a synchronous commit of these offsets (next offset to read)
                                  succeeded
    CE <error>                    a commit failed (the records stay uncommitted)
    X <text>                      an error event from the client (informational)
    BYE                           close() returned; the process exits 0 right after

stdin: a line `close` makes the member commit what it consumed, close() (LeaveGroup) and exit.
EOF on stdin does the same.

Every batch of records is committed synchronously after it was printed, so at any time the
committed offsets are those of the last `C` lines, and only the records after them (the
"uncommitted tail") can be read again by a member that takes a partition over.

Options: --client confluent|kafkapy, --bootstrap, --group, --topic, --strategy
(range|roundrobin|cooperative-sticky), --session-ms, --rate (records per second at most, 0 = no
limit; a throttle so that a test can act "mid-way", never used as synchronisation).
"""

import argparse
import sys
import threading
import time

stop = threading.Event()


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def watch_stdin():
    for line in sys.stdin:
        if line.strip() == "close":
            break
    stop.set()


class Throttle:
    def __init__(self, rate):
        self.rate = rate
        self.start = time.monotonic()
        self.count = 0

    def wait(self, n):
        """Called after n more records; blocks while ahead of the allowed rate (or stop)."""
        self.count += n
        if self.rate <= 0:
            return
        ahead = self.count / self.rate - (time.monotonic() - self.start)
        if ahead > 0:
            stop.wait(ahead)


def parts_text(parts):
    return ",".join(str(p) for p in sorted(parts))


def run_confluent(args):
    from confluent_kafka import Consumer, KafkaException, TopicPartition
    conf = {
        "bootstrap.servers": args.bootstrap,
        "group.id": args.group,
        "client.id": args.client_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": args.session_ms,
        "heartbeat.interval.ms": max(100, args.session_ms // 4),
        "partition.assignment.strategy": args.strategy,
        "enable.partition.eof": False,
        "topic.metadata.refresh.interval.ms": 2000,
        "reconnect.backoff.max.ms": 500,
        "error_cb": lambda e: out("X %s" % str(e).replace("\n", " ")),
    }
    c = Consumer(conf)

    def on_assign(consumer, parts):
        out("A %s" % parts_text(tp.partition for tp in parts))

    def on_revoke(consumer, parts):
        out("V %s" % parts_text(tp.partition for tp in parts))

    def on_lost(consumer, parts):
        out("L %s" % parts_text(tp.partition for tp in parts))

    c.subscribe([args.topic], on_assign=on_assign, on_revoke=on_revoke, on_lost=on_lost)
    out("READY")
    throttle = Throttle(args.rate)
    while not stop.is_set():
        msgs = c.consume(num_messages=args.batch, timeout=0.2)
        nxt = {}
        for m in msgs:
            if m.error() is not None:
                out("X %s" % str(m.error()).replace("\n", " "))
                continue
            out("R %d %d" % (m.partition(), m.offset()))
            nxt[m.partition()] = m.offset() + 1
        if nxt:
            commit_confluent(c, args.topic, nxt, TopicPartition, KafkaException)
            throttle.wait(len(msgs))
    c.close()
    out("BYE")


def commit_confluent(c, topic, nxt, TopicPartition, KafkaException):
    try:
        res = c.commit(offsets=[TopicPartition(topic, p, o) for p, o in sorted(nxt.items())],
                       asynchronous=False)
    except KafkaException as e:
        out("CE %s" % str(e).replace("\n", " "))
        return
    bad = [tp for tp in (res or []) if tp.error is not None]
    if bad:
        out("CE %s" % ",".join("%d:%s" % (tp.partition, tp.error) for tp in bad))
        good = {tp.partition for tp in res if tp.error is None}
        nxt = {p: o for p, o in nxt.items() if p in good}
    if nxt:
        out("C %s" % ",".join("%d:%d" % (p, o) for p, o in sorted(nxt.items())))


def run_kafkapy(args):
    from kafka import KafkaConsumer, TopicPartition, OffsetAndMetadata
    from kafka.consumer.subscription_state import ConsumerRebalanceListener
    from kafka.errors import KafkaError

    class Listener(ConsumerRebalanceListener):
        def on_partitions_revoked(self, revoked):
            out("V %s" % parts_text(tp.partition for tp in revoked))

        def on_partitions_assigned(self, assigned):
            out("A %s" % parts_text(tp.partition for tp in assigned))

    strategies = {"range": "RangePartitionAssignor",
                  "roundrobin": "RoundRobinPartitionAssignor"}
    import kafka.coordinator.assignors.range as rng
    import kafka.coordinator.assignors.roundrobin as rr
    assignor = {"range": rng.RangePartitionAssignor,
                "roundrobin": rr.RoundRobinPartitionAssignor}[args.strategy]
    assert args.strategy in strategies
    c = KafkaConsumer(bootstrap_servers=args.bootstrap, group_id=args.group,
                      client_id=args.client_id, enable_auto_commit=False,
                      auto_offset_reset="earliest", session_timeout_ms=args.session_ms,
                      heartbeat_interval_ms=max(100, args.session_ms // 4),
                      partition_assignment_strategy=[assignor], request_timeout_ms=30000,
                      fetch_max_wait_ms=200, metadata_max_age_ms=2000)
    c.subscribe([args.topic], listener=Listener())
    out("READY")
    throttle = Throttle(args.rate)
    while not stop.is_set():
        polled = c.poll(timeout_ms=200, max_records=args.batch)
        nxt = {}
        n = 0
        for tp, msgs in polled.items():
            for m in msgs:
                out("R %d %d" % (m.partition, m.offset))
                nxt[m.partition] = m.offset + 1
                n += 1
        if nxt:
            try:
                c.commit({TopicPartition(args.topic, p): OffsetAndMetadata(o, "")
                          for p, o in nxt.items()})
                out("C %s" % ",".join("%d:%d" % (p, o) for p, o in sorted(nxt.items())))
            except KafkaError as e:
                out("CE %s" % str(e).replace("\n", " "))
            throttle.wait(n)
    c.close(autocommit=False)
    out("BYE")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", default="confluent", choices=["confluent", "kafkapy"])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--client-id", default="kaffa-systest-member")
    ap.add_argument("--strategy", default="range")
    ap.add_argument("--session-ms", type=int, default=6000)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--batch", type=int, default=200)
    args = ap.parse_args()
    threading.Thread(target=watch_stdin, daemon=True).start()
    if args.client == "confluent":
        run_confluent(args)
    else:
        run_kafkapy(args)


if __name__ == "__main__":
    main()
