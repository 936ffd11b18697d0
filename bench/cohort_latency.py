#!/usr/bin/env python3
"""Latency of POST bodies against a running `meta_db serve`: one keep-alive connection, WARMUP untimed requests,
then N timed ones per body; prints "name p50_ms p99_ms total counts" per body. Usage:
cohort_latency.py PORT N FILE.json, FILE holding [{"name", "path", "body"}, ...]."""
import http.client
import json
import sys
import time

WARMUP = 20


def main():
    port, n, spec = int(sys.argv[1]), int(sys.argv[2]), json.load(open(sys.argv[3]))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for item in spec:
        body = json.dumps(item["body"])
        times, answer = [], None
        for i in range(WARMUP + n):
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
        times.sort()
        p50, p99 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]
        extra = answer.get("counts", answer.get("count", ""))
        print(f"{item['name']:<34} {p50:8.3f} {p99:8.3f}  total={answer.get('total', '-')}  {json.dumps(extra)}")


if __name__ == "__main__":
    main()
