#!/usr/bin/python3
"""bench/soak_report.py — the report of bench/soak.sh.

Reads the RSS samples (CSV t_s,rss_kb,phase,sends), the wrk outputs of each read
route (--latency) and the send stream's JSON summary, prints one table: requests/s,
p50/p99 latency and non-2xx per route; jobs sent, accepted, SUCCESS and not final
after the drain; RSS at start, after warm-up, at the end of the load and after the
drain; the least-squares slope of RSS over the samples of the load after warm-up
in KB per minute, KB per 1000 requests and KB per send; and "memory flat": PASS when
the slope is under --max-kb-per-1k per 1000 requests and under --max-kb-per-send per
send (the sends are few next to the reads, so a leak per job would hide in the
per-request figure).
Exit status 0 when memory is flat, the server is healthy and every sent job
reached SUCCESS; 1 otherwise.
"""
import argparse
import csv
import json
import re
import sys


def parse_wrk(path):
    """wrk --latency output -> dict(requests, rps, p50, p99, non2xx, socket_errors)."""
    text = open(path).read()
    r = {"requests": 0, "rps": 0.0, "p50": "?", "p99": "?", "non2xx": 0, "socket_errors": ""}
    m = re.search(r"^\s*(\d+) requests in", text, re.M)
    if m:
        r["requests"] = int(m.group(1))
    m = re.search(r"^Requests/sec:\s*([\d.]+)", text, re.M)
    if m:
        r["rps"] = float(m.group(1))
    for p in ("50", "99"):
        m = re.search(r"^\s+%s(?:\.000)?%%\s+(\S+)" % p, text, re.M)
        if m:
            r["p" + p] = m.group(1)
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    if m:
        r["non2xx"] = int(m.group(1))
    m = re.search(r"Socket errors:(.*)", text)
    if m:
        r["socket_errors"] = m.group(1).strip()
    return r


def least_squares_slope(xs, ys):
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    return sxy / sxx if sxx else 0.0


def mb(kb):
    return "%.1f MB" % (kb / 1024.0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", required=True)
    ap.add_argument("--warmup", type=float, required=True)
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--wrk", action="append", default=[], help="ROUTE=PATH")
    ap.add_argument("--sends", required=True)
    ap.add_argument("--max-kb-per-1k", type=float, required=True)
    ap.add_argument("--max-kb-per-send", type=float, required=True)
    ap.add_argument("--alive", default="yes")
    ap.add_argument("--expect-sends", type=int, default=1, help="0: a reads-only run")
    a = ap.parse_args()

    rows, anon = [], []
    with open(a.csv) as f:
        for row in csv.DictReader(f):
            rows.append((float(row["t_s"]), int(row["rss_kb"]), row["phase"]))
            if row.get("rss_anon_kb"):
                anon.append((row["phase"], int(row["rss_anon_kb"])))
    if not rows:
        print("no RSS samples")
        return 1
    load = [(t, k) for t, k, ph in rows if ph == "load"]
    anon_load = [k for ph, k in anon if ph == "load"]
    in_load = [(t, k) for t, k, ph in rows if ph != "drain"]
    start_kb = rows[0][1]
    warm_kb = load[0][1] if load else start_kb
    end_kb = in_load[-1][1] if in_load else start_kb
    after_drain_kb = rows[-1][1]
    peak_kb = max(k for _, k, _ in rows)

    sends = json.load(open(a.sends))
    routes = []
    total_requests = sends["sent"]
    for spec in a.wrk:
        name, path = spec.rsplit("=", 1)
        w = parse_wrk(path)
        routes.append((name, w))
        total_requests += w["requests"]
    req_per_s = total_requests / a.duration if a.duration > 0 else 0.0

    slope_kb_s = least_squares_slope([t for t, _ in load], [k for _, k in load])
    kb_per_min = slope_kb_s * 60.0
    kb_per_1k = slope_kb_s / req_per_s * 1000.0 if req_per_s > 0 else 0.0
    send_rate = sends["sent"] / sends["send_seconds"] if sends["send_seconds"] > 0 else 0.0
    kb_per_send = slope_kb_s / send_rate if send_rate > 0 else 0.0
    flat = kb_per_1k < a.max_kb_per_1k and kb_per_send < a.max_kb_per_send

    line = "%-44s %s"
    print(line % ("metric", "value"))
    print(line % ("-" * 44, "-" * 28))
    for name, w in routes:
        print(line % (name + " requests/s", "%.0f (%d requests)" % (w["rps"], w["requests"])))
        print(line % (name + " latency p50 / p99", "%s / %s" % (w["p50"], w["p99"])))
        bad = "%d" % w["non2xx"] + ("; socket errors:" + w["socket_errors"] if w["socket_errors"] else "")
        print(line % (name + " non-2xx answers", bad))
    print(line % ("POST /fax sends (202 / other)", "%d (%d / %s)" % (
        sends["sent"], sends["accepted"], json.dumps(sends["rejected"]) if sends["rejected"] else "0")))
    print(line % ("POST /fax latency p50 / p99", "%.1fms / %.1fms" % (
        sends["send_latency_p50_ms"], sends["send_latency_p99_ms"])))
    print(line % ("jobs SUCCESS after drain / sent", "%d / %d (drain %.1f s; not final %d; %s)" % (
        sends["success"], sends["sent"], sends["drain_seconds"], sends["not_final"],
        json.dumps(sends["final_status"], sort_keys=True))))
    print(line % ("all requests (reads + sends)", "%d = %.0f/s" % (total_requests, req_per_s)))
    print(line % ("RSS start / after warm-up (%gs)" % a.warmup, "%s / %s" % (mb(start_kb), mb(warm_kb))))
    print(line % ("RSS end of load / after drain (peak)", "%s / %s (%s)" % (
        mb(end_kb), mb(after_drain_kb), mb(peak_kb))))
    print(line % ("RSS slope after warm-up (%d samples)" % len(load), "%+.1f KB/min" % kb_per_min))
    print(line % ("  = per 1000 requests / per send", "%+.3f KB / %+.2f KB" % (kb_per_1k, kb_per_send)))
    if len(anon) == len(rows):
        print(line % ("  of which anonymous memory (heap, stacks)", "%+.1f KB/min" % (
            least_squares_slope([t for t, _ in load], anon_load) * 60.0)))
    print(line % ("memory flat (< %g KB/1k req, < %g KB/send)" % (a.max_kb_per_1k, a.max_kb_per_send),
                  "PASS" if flat else "FAIL"))
    print(line % ("server healthy after the run", a.alive))

    all_sent_ok = sends["success"] == sends["sent"] and (sends["sent"] > 0 or not a.expect_sends)
    return 0 if (flat and a.alive == "yes" and all_sent_ok) else 1


if __name__ == "__main__":
    sys.exit(main())
