#!/usr/bin/env python3
"""Latency of POST bodies against a running `meta_db serve`: one keep-alive connection, WARMUP untimed requests,
then N timed ones per body; prints "name p50_ms p99_ms cpu_ms total counts" per body, cpu_ms being the server's
CPU time per timed request (from /proc/PID/stat, so a loaded machine's queueing does not count) when its PID is
given. Usage: cohort_latency.py PORT N FILE.json [SERVER_PID], FILE holding [{"name", "path", "body"}, ...];
ONLY=text runs only the bodies whose name contains it."""
import http.client
import json
import os
import sys
import time

WARMUP = 20


def cpu_seconds(pid):
    if pid is None:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def main():
    port, n, spec = int(sys.argv[1]), int(sys.argv[2]), json.load(open(sys.argv[3]))
    pid = int(sys.argv[4]) if len(sys.argv) > 4 else None
    only = os.environ.get("ONLY", "")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for item in spec:
        if only not in item["name"]:
            continue
        body = json.dumps(item["body"])
        times, answer, cpu_start = [], None, 0.0
        for i in range(WARMUP + n):
            if i == WARMUP:
                cpu_start = cpu_seconds(pid)
            start = time.perf_counter()
            conn.request("POST", item["path"], body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            elapsed = (time.perf_counter() - start) * 1000
            if resp.status != 200:
                raise SystemExit(f"{item['name']}: HTTP {resp.status} {data[:300]!r}")
            if i >= WARMUP:
                times.append(elapsed)
            answer = json.loads(data)
        cpu = (cpu_seconds(pid) - cpu_start) * 1000 / n if pid is not None else float("nan")
        times.sort()
        p50, p99 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]
        extra = answer.get("counts", answer.get("count", ""))
        print(f"{item['name']:<34} {p50:8.3f} {p99:8.3f} {cpu:8.3f}  total={answer.get('total', '-')}  "
              f"{json.dumps(extra)}")


if __name__ == "__main__":
    main()
