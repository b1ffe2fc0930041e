"""scenario_table: the standard scenarios' names and the Markdown table run_scenarios.py writes
from their results (each figure against its target from issue 6, and the raw probes)."""

# name -> one-line description; the order is the order of the runs and of the table.
SCENARIOS = [
    ("idle", "idle broker: RSS and exec to accepting connections"),
    ("produce_1k", "produce 1 KiB records, acks=1, 6 partitions"),
    ("produce_100b", "produce 100 B records, acks=1, 6 partitions"),
    ("produce_1k_acks_all", "produce 1 KiB, acks=all, 6 partitions, vs the disk's fdatasync-per-MiB rate"),
    ("replicated_acks_all", "produce 1 KiB, acks=all, replication factor 3 on 3 local brokers + etcd"),
    ("consume_1", "consume 1 KiB from page cache, 1 consumer (assigned)"),
    ("consume_group3", "consume 1 KiB from page cache, 3-member group"),
    ("e2e_latency", "end-to-end latency at a fixed rate, acks=1"),
    ("connections_5k", "5,000 idle connections + one producer"),
    ("partitions_10k", "many partitions (one topic), produce spread over all"),
    ("restart", "restart after kill -9 with data over 1,000 partitions"),
]
NAMES = [n for n, _ in SCENARIOS]


def fmt(v, unit=""):
    if v is None:
        return "failed"
    if abs(v) >= 1e5:
        s = "{:,.0f}".format(v)
    elif abs(v) >= 100:
        s = "%.0f" % v
    elif abs(v) >= 10:
        s = "%.1f" % v
    else:
        s = "%.3g" % v
    return s + (" " + unit if unit else "")


def ratio_row(res, label, target_ratio, ref_label=None, unit=None):
    k, r = res.get("kaffa_median"), res.get("reference_median")
    unit = unit or res.get("unit", "")
    ratio = k / r if k is not None and r else None
    met = "—" if ratio is None else ("yes" if ratio >= target_ratio else "no")
    ref = fmt(r, unit) + (" (%s)" % (ref_label or res.get("reference_name", "")))
    return [label, fmt(k, unit), ref, "—" if ratio is None else "%.2f" % ratio,
            "≥ %.1f ×" % target_ratio, met]


def limit_row(label, value, unit, limit, ref="—"):
    met = "—" if value is None else ("yes" if value <= limit else "no")
    return [label, fmt(value, unit), ref, "—", "≤ %s %s" % (fmt(limit), unit), met]


def table(results, runs):
    rows = []
    R = results
    if "idle" in R and "error" not in R["idle"]:
        rows.append(limit_row("idle broker RSS", R["idle"]["rss_mib"], "MiB", 20))
        rows.append(limit_row("idle broker: exec to accepting connections (existing data dir)",
                              R["idle"]["accepting_ms"], "ms", 50))
        rows.append(limit_row("idle broker: exec to accepting connections (first start, fresh data dir)",
                              R["idle"]["fresh_dir_accepting_ms"], "ms", 50))
    for n, label in (("produce_1k", "produce 1 KiB, acks=1, 6 partitions"),
                     ("produce_100b", "produce 100 B, acks=1, 6 partitions")):
        if n in R and "error" not in R[n]:
            rows.append(ratio_row(R[n], label, 1.0))
    if "produce_1k_acks_all" in R and "error" not in R["produce_1k_acks_all"]:
        rows.append(ratio_row(R["produce_1k_acks_all"], "produce 1 KiB, acks=all, 6 partitions", 0.8))
    if "replicated_acks_all" in R and "error" not in R["replicated_acks_all"]:
        row = ratio_row(R["replicated_acks_all"], "produce 1 KiB, acks=all, 6 partitions, replication "
                        "factor 3 (3 brokers + etcd on this machine)", 0)
        rows.append(row[:4] + ["— (no target)", "—"])
    for n, label in (("consume_1", "consume 1 KiB from page cache, 1 consumer"),
                     ("consume_group3", "consume 1 KiB from page cache, 3-member group")):
        if n in R and "error" not in R[n]:
            res = R[n]
            rows.append(ratio_row(res, label, 1.5))
            rows.append(limit_row(label + ": broker CPU per GB sent", res["broker_cpu_s_per_gb"], "s/GB",
                                  0.25, "%s s/GB (mock thread)" % fmt(res["mock_cpu_s_per_gb"])))
    if "e2e_latency" in R and "error" not in R["e2e_latency"]:
        e = R["e2e_latency"]
        rows.append(limit_row("end-to-end latency p99 at %s records/s of 1 KiB (%s MB/s achieved), acks=1, "
                              "linger.ms=%s" % ("{:,}".format(e["rate_records_per_s"]),
                                                fmt(e["achieved_mb_per_s"]), e["linger_ms"]),
                              e["kaffa_median"], "ms", 3))
    if "connections_5k" in R and "error" not in R["connections_5k"]:
        c = R["connections_5k"]
        rows.append(ratio_row(c, "%s idle connections + one producer (1 KiB, acks=1)" %
                              "{:,}".format(c["connections"]), 0.9))
    if "partitions_10k" in R and "error" not in R["partitions_10k"]:
        p = R["partitions_10k"]
        rows.append(ratio_row(p, "%s partitions (one topic), produce 1 KiB acks=1 spread over all" %
                              "{:,}".format(p["partitions"]), 0.5))
        rows.append(limit_row("%s partitions: broker peak RSS" % "{:,}".format(p["partitions"]),
                              p["peak_rss_mib"], "MiB", 1024))
    if "restart" in R and "error" not in R["restart"]:
        s = R["restart"]
        rows.append(limit_row("restart after kill -9 with %.2g GiB over %s partitions: exec to serving" %
                              (s["gib"], "{:,}".format(s["partitions"])), s["kaffa_median"], "s", 2))
    for n in NAMES:
        if n in R and "error" in R[n]:
            rows.append([n, "failed: %s" % R[n]["error"].replace("|", "/"), "—", "—", "—", "—"])
    head = ["scenario", "Kaffa (median of %d)" % runs, "reference (median)", "ratio", "target", "met?"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out) + "\n"


def probes_text(info, results):
    lines = []
    lb = info.get("loopback", {})
    if "mb_per_s" in lb:
        lines.append("- loopback TCP, one stream, 1 MiB sends: %s MB/s" % fmt(lb["mb_per_s"]))
    mt = info.get("memory_touch", {})
    if mt:
        lines.append("- fresh anonymous memory, one write per 4 KiB page: first touch %s MB/s, second touch %s MB/s"
                     % (fmt(mt["first_touch_mb_per_s"]), fmt(mt["second_touch_mb_per_s"])))
    a = results.get("produce_1k_acks_all")
    if a and "error" not in a:
        lines.append("- disk, sequential 1 MiB writes with fdatasync after each: %s MB/s (median)" %
                     fmt(a["reference_median"]))
        lines.append("- disk, buffered sequential 1 MiB writes: %s MB/s (median)" % fmt(a["buffered_median"]))
    return "\n".join(lines) + ("\n" if lines else "")
