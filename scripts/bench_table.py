"""Medians of the benchmark runs, peloton beside ShareDB, as a markdown table."""
import json
import os
import statistics
import sys

runs_file, clients, docs, seconds, rounds = sys.argv[1:6]
runs = [json.loads(line) for line in open(runs_file) if line.strip()]


def median(kind, server, key, **match):
    values = [
        r["result"][key]
        for r in runs
        if r["kind"] == kind and r["server"] == server
        and all(r.get(k) == v for k, v in match.items())
        and r["result"].get(key) is not None
    ]
    return statistics.median(values) if values else None


def fmt(value, unit=""):
    if value is None:
        return "—"
    if isinstance(value, float) and value < 100:
        return f"{value:.2f}{unit}"
    return f"{value:,.0f}{unit}"


def ratio(peloton, sharedb, higher_is_better):
    if not peloton or not sharedb:
        return "—"
    return f"{(peloton / sharedb if higher_is_better else sharedb / peloton):.1f}×"


cpu = "unknown"
try:
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
except OSError:
    pass

print(f"Machine: {os.cpu_count()} cores, {cpu}. Load: {clients} clients × {docs} docs, "
      f"closed loop, {seconds} s per run after 2 s of warm-up, medians of {rounds} runs per server, "
      "runs alternating. Ratio: how many times better peloton is.\n")
print("peloton's server CPU is read from its own `/metrics` (process_cpu_seconds_total), "
      "ShareDB's from `/proc`.\n")
print("| figure | ShareDB 7 (Node) | peloton | ratio |")
print("|---|---:|---:|---:|")
backings = sorted({r["backing"] for r in runs if r["kind"] == "load"}, key=lambda b: b != "memory")
for backing in backings:
    label = "in memory" if backing == "memory" else "MongoDB + Redis"
    rows = [
        ("committed ops/s", "ops_per_sec", True, ""),
        ("ack latency p50", "ack_p50_ms", False, " ms"),
        ("ack latency p99", "ack_p99_ms", False, " ms"),
        ("fan-out latency p50", "fanout_p50_ms", False, " ms"),
        ("fan-out latency p99", "fanout_p99_ms", False, " ms"),
        ("server CPU per committed op", "server_cpu_us_per_op", False, " µs"),
    ]
    for name, key, higher, unit in rows:
        s = median("load", "sharedb", key, backing=backing)
        p = median("load", "peloton", key, backing=backing)
        print(f"| {name}, {label} | {fmt(s, unit)} | {fmt(p, unit)} | {ratio(p, s, higher)} |")
    # peloton's own figure, from its /metrics (ShareDB has none).
    q = median("load", "peloton", "server_queue_depth_mean", backing=backing)
    if q is not None:
        print(f"| outbound messages per write (peloton's /metrics), {label} | – | {fmt(q, '')} | |")
for n in (1000, 10000, 100000):
    s = median("idle", "sharedb", "kib_per_client", n=n)
    p = median("idle", "peloton", "kib_per_client", n=n)
    procs = median("idle", "peloton", "processes", n=n) or median("idle", "sharedb", "processes", n=n)
    where = f" over {procs:.0f} server processes" if procs else ""
    if s is None and p is None:
        continue  # not measured in this run (BENCH_ONLY)
    print(f"| memory per idle subscribed client, {n:,} clients{where} | {fmt(s, ' KiB')} | {fmt(p, ' KiB')} | {ratio(p, s, False)} |")
for label, what in (("model", "a page with a 100-document query"),
                    ("for", "the same lists from a plain Vec through `<For>` and row components, no model"),
                    ("plain", "the same lists from a plain Vec written out, no model")):
    p = median("ssr", "peloton", "rps", label=label)
    print(f"| SSR of {what} (wrk, 16 connections) | — (no SSR) | {fmt(p, ' req/s')} | — |")
    p = median("ssr", "peloton", "cpu_us_per_page", label=label)
    print(f"| server CPU per page, {what} | — | {fmt(p, ' µs')} | — |")
# The model's part of that page, in process (criterion; µs).
for label, what in (("load", "load a 100-document query into a page's model"),
                    ("load_read", "the same, then read its documents as values"),
                    ("load_read_bundle", "the same, then write the page's bundle")):
    p = median("page_model", "peloton", "median_ms", label=label)
    if p is not None:
        print(f"| {what} (in process, no HTTP, no Leptos) | — | {fmt(p * 1000, ' µs')} | — |")
history = {label: median("history", "peloton", "median_ms", label=label)
           for label in ("milestones_every_1000", "no_milestones")}
if any(v is not None for v in history.values()):
    print(f"| snapshot at a random version of a 100,000-op document, milestones every 1,000 "
          f"| — | {fmt(history['milestones_every_1000'], ' ms')} | — |")
    print(f"| the same without milestones (replayed from version 0) "
          f"| — | {fmt(history['no_milestones'], ' ms')} | — |")
for label, theirs, what in (
        ("apply_trace", "apply_trace", "json0 apply of the 5,000-op editing trace"),
        ("apply_trace_unindexed", "apply_trace",
         "the same through `json0::apply` on a bare `Value` (offsets counted from each string's start)"),
        ("transform_trace", "transform_trace", "json0 transform of its 2,500 concurrent pairs, both ways")):
    s = median("json0", "sharedb", "median_ms", label=theirs)
    p = median("json0", "peloton", "median_ms", label=label)
    if s is not None or p is not None:
        print(f"| {what} (ShareDB's column: npm ot-json0) | {fmt(s, ' ms')} | {fmt(p, ' ms')} | {ratio(p, s, False)} |")
def hostile(scenario, label, key):
    values = [r["result"][key] for r in runs if r["kind"] == "hostile" and r["scenario"] == scenario
              and r["label"] == label and r["result"].get(key) is not None]
    return statistics.median(values) if values else None


if any(r["kind"] == "hostile" for r in runs):
    print("\nHostile clients (peloton, default limits; medians):\n")
    print("| figure | well-behaved only | with hostile clients | with ÷ without |")
    print("|---|---:|---:|---:|")

    def row(name, scenario, clean, bad, key, unit=""):
        a, b = hostile(scenario, clean, key), hostile(scenario, bad, key)
        share = f"{b / a:.2f}" if a and b else "—"
        print(f"| {name} | {fmt(a, unit)} | {fmt(b, unit)} | {share} |")

    row("fan-out p99, 10,000 subscribers on 100 docs, 200 ops/s; 1% stop reading",
        "fanout", "none", "stalled", "fanout_p99_ms", " ms")
    row("fan-out p50, the same", "fanout", "none", "stalled", "fanout_p50_ms", " ms")
    row("ack p99 of 50 closed-loop clients; one more connection floods",
        "flood", "none", "flooding", "ack_p99_ms", " ms")
    row("committed ops/s of those 50 clients", "flood", "none", "flooding", "ops_per_sec")
    before = hostile("backlog", "stalled", "rss_before_kib")
    peak = hostile("backlog", "stalled", "rss_peak_kib")
    end = hostile("backlog", "stalled", "rss_end_kib")
    unbounded = hostile("backlog", "stalled", "unbounded_backlog_kib")
    closed = hostile("backlog", "stalled", "stalled_closed_by_server")
    print(f"\nServer memory while 100 subscribers of one document stop reading and 16 KiB ops arrive at "
          f"100/s for {seconds} s: RSS {fmt(before, ' KiB')} before, {fmt(peak, ' KiB')} at its highest, "
          f"{fmt(end, ' KiB')} once the server has closed them; kept for every stalled client, the "
          f"backlog would have been {fmt(unbounded, ' KiB')}. Stalled connections closed by the server "
          f"(close 1013): {fmt(closed)} of 100.")

def scale(server, scenario, key):
    values = [r["result"][key] for r in runs if r["kind"] == "scale" and r["server"] == server
              and r["scenario"] == scenario and r["result"].get(key) is not None]
    return statistics.median(values) if values else None


if any(r["kind"] == "scale" for r in runs):
    print("\nAt scale (medians; server CPU per op from /proc/<pid>/stat):\n")
    print("peloton's server CPU is read from its own `/metrics` (process_cpu_seconds_total), "
          "ShareDB's from `/proc`.\n")
    print("| figure | ShareDB 7 (Node) | peloton | ratio |")
    print("|---|---:|---:|---:|")

    def scale_row(name, scenario, key, unit="", higher=False):
        s, p = scale("sharedb", scenario, key), scale("peloton", scenario, key)
        print(f"| {name} | {fmt(s, unit)} | {fmt(p, unit)} | {ratio(p, s, higher) if s else '—'} |")

    scale_row("one live query, 1,000 subscribers, 1,000 docs, 50 ops/s: update p50", "query", "update_p50_ms", " ms")
    scale_row("the same: update p99", "query", "update_p99_ms", " ms")
    scale_row("the same: server CPU per op", "query", "server_cpu_ms_per_op", " ms")
    scale_row("the same: updates delivered in the run", "query", "samples", "", True)
    scale_row("the same: server CPU per update delivered", "query", "server_cpu_us_per_message", " µs")
    scale_row("one document, 10,000 subscribers, 20 ops/s: fan-out p50", "fanout", "fanout_p50_ms", " ms")
    scale_row("the same: fan-out p99", "fanout", "fanout_p99_ms", " ms")
    scale_row("the same: server CPU per op", "fanout", "server_cpu_ms_per_op", " ms")
    scale_row("the same: server CPU per message delivered in time", "fanout", "server_cpu_us_per_message", " µs")
    scale_row("the same: messages delivered in the run", "fanout", "fanout_samples", "", True)

failed = [r for r in runs if r["kind"] == "load" and not r["result"].get("verified", True)]
if failed:
    print("\nVERIFICATION FAILED in some runs:")
    for r in failed:
        print(f"- {r['server']} ({r['backing']}): {r['result'].get('verification_error')}")
else:
    print("\nEvery run verified that no acknowledged op was lost or applied twice, and that every "
          "subscriber received every op of its document in order and ended at its final version.")
dups = {s: sum(r["result"].get("duplicates", 0) for r in runs if r["kind"] == "load" and r["server"] == s)
        for s in ("sharedb", "peloton")}
print(f"Ops delivered twice to a subscriber (clients ignore them): ShareDB {dups['sharedb']}, "
      f"peloton {dups['peloton']}.")
