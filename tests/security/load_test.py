#!/usr/bin/env python3
"""Load, black-box and bounded (< 60 s): wrk on loopback against read endpoints of the real `meta_db serve` while an
ingest of a second archive runs into the same store and HTTP writers add researchers, collections and jobs.

Checked: zero 5xx from wrk (counted per answer by reads.lua) and from the writers, every write acknowledged (201, jobs 202);
/health p99 < 50 ms measured with many sequential requests on one keep-alive connection while the workers are
saturated by slow reads (/stats, /fields, a regex over every instance) and, on SQLite, while another process holds
the database's write lock; with one worker and a queue of one, excess requests get an immediate 503 with
Retry-After while /health still answers. The query budget is raised to 30 s: under ASan on a loaded 2-core machine the regex over
every instance takes seconds, and its 504 (budget exceeded, by design) is not what this test looks for. Prints the figures (wrk p50/p99, requests/s, /health p50/p99/max) and
"N passed, N failed". Usage: load_test.py --binary build/meta_db [--backend sqlite|mongodb] [--seconds 15].
"""
import argparse
import http.client
import json
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HEALTH_P99_MS = 50.0


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100.0 * (len(ordered) - 1))))]


def probe_health(port, stop, latencies, statuses):
    """Sequential GET /health on one keep-alive connection until `stop` is set."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    while not stop.is_set():
        t0 = time.perf_counter()
        conn.request("GET", "/health")
        response = conn.getresponse()
        response.read()
        latencies.append((time.perf_counter() - t0) * 1000)
        statuses.append(response.status)
        time.sleep(0.005)
    conn.close()


def writers(port, stop, counts, tag):
    """Adds a researcher, then collections and jobs for it, until `stop` is set; counts answers by status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def post(path, body):
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        counts[response.status] = counts.get(response.status, 0) + 1
        return response.status

    rid = f"load-{tag}-{os.getpid()}"
    post("/researchers", {"researcher_id": rid, "name": "Load", "email": "load@example.org"})
    n = 0
    while not stop.is_set():
        n += 1
        post("/collections", {"name": f"load-{tag}-{os.getpid()}-{n}"})
        post("/jobs", {"researcher_id": rid, "name": f"job {n}", "accession_numbers": [f"ACC-NONE-{n}"]})
    conn.close()


def hold_write_lock(path, seconds):
    """Another process's writer holding SQLite's lock (BEGIN IMMEDIATE) for `seconds`."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    time.sleep(seconds)
    db.execute("ROLLBACK")
    db.close()


def queue_full(server, results):
    """One worker, a queue of one: 8 slow requests at once get 200 for the first two and an immediate 503 with
    Retry-After for the others, while /health (answered on the I/O thread) stays 200."""
    barrier = threading.Barrier(8)
    answers = []

    def slow():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.connect()
        barrier.wait()
        t0 = time.perf_counter()
        conn.request("GET", "/fields?collection=instances")
        response = conn.getresponse()
        response.read()
        answers.append((response.status, response.getheader("Retry-After"), time.perf_counter() - t0))
        conn.close()

    threads = [threading.Thread(target=slow) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    health = server.request("GET", "/health")[0]
    for thread in threads:
        thread.join(90)
    ok = [a for a in answers if a[0] == 200]
    busy = [a for a in answers if a[0] == 503]
    results.check(len(ok) + len(busy) == 8 and 1 <= len(ok) <= 2 and all(a[1] == "1" for a in busy),
                  f"queue full: {len(ok)} x 200, {len(busy)} x 503 with Retry-After "
                  f"({sorted((a[0], a[1]) for a in answers)})")
    fastest_ok = min((a[2] for a in ok), default=0)
    results.check(all(a[2] < fastest_ok for a in busy),
                  f"503s answered at once (slowest {max((a[2] for a in busy), default=0) * 1000:.1f} ms, "
                  f"a 200 took {fastest_ok * 1000:.1f} ms)")
    results.check(health == 200, f"/health {health} while the worker and its queue are taken")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.environ.get("META_DB_BIN", "build/meta_db"))
    parser.add_argument("--backend", default=os.environ.get("META_DB_TEST_BACKEND", "sqlite"))
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    results = harness.Results("load")
    work = harness.workdir("meta_db_load_")
    uri = harness.store_uri(args.backend, work, "load")
    if uri is None:
        print("load_test: needs a MongoDB server: set META_DB_TEST_MONGO_URI")
        return 0
    server = None
    try:
        harness.make_catalogue(args.binary, work, uri, patients=6)
        second = os.path.join(work, "second")
        subprocess.run([args.binary, "synth", "--patients", "6", "--out", second, "--small", "--seed", "7"],
                       check=True, stdout=subprocess.DEVNULL, timeout=120)
        server = harness.Server(args.binary, uri, work, ["--workers", "4", "--queue", "256", "--query-budget-ms", "30000"])
        before = json.loads(server.request("GET", "/stats")[2])

        stop = threading.Event()
        health_ms, health_status, write_counts = [], [], {}
        threads = [threading.Thread(target=probe_health, args=(server.port, stop, health_ms, health_status))]
        threads += [threading.Thread(target=writers, args=(server.port, stop, write_counts, i)) for i in range(2)]
        ingest = subprocess.Popen([args.binary, "ingest", second, "--db", uri, "--quiet"], stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        lockers = []
        if uri.startswith("sqlite:"):
            lockers.append(threading.Thread(target=hold_write_lock, args=(uri[len("sqlite:"):], 3)))
        for thread in threads:
            thread.start()
        lua = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reads.lua")
        wrk = subprocess.Popen(["wrk", "-t2", "-c16", f"-d{args.seconds}s", "--timeout", "20s", "-s", lua,
                                f"http://127.0.0.1:{server.port}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
        time.sleep(args.seconds / 2)
        for locker in lockers:  # a writer holding the lock mid-run: writes wait, /health must not
            locker.start()
        wrk_out, _ = wrk.communicate(timeout=args.seconds + 40)
        stop.set()
        for thread in threads + lockers:
            thread.join(30)
        ingest_err = ingest.communicate(timeout=60)[1].decode(errors="replace")
        match = re.search(r"RESULT (.*)", wrk_out)
        figures = dict(kv.split("=") for kv in match.group(1).split()) if match else {}
        print("wrk:", match.group(0) if match else wrk_out)
        results.check(bool(figures) and int(figures["requests"]) > 0, "wrk ran")
        results.check(figures.get("5xx") == "0", f"zero 5xx from wrk ({figures.get('5xx')})")
        results.check(figures.get("4xx") == "0", f"zero 4xx from wrk ({figures.get('4xx')})")
        results.check(figures.get("errors") == "0", f"no socket errors or timeouts in wrk ({figures.get('errors')})")
        results.check(ingest.returncode == 0, f"concurrent ingest exit {ingest.returncode} {ingest_err[-300:]}")
        # Creates answer 201, jobs 202 (resolved in the background).
        writes_ok = sum(v for k, v in write_counts.items() if k in (201, 202))
        results.check(writes_ok > 0 and all(k in (201, 202) for k in write_counts),
                      f"writers: {write_counts} (all 201/202)")
        p50, p99 = percentile(health_ms, 50), percentile(health_ms, 99)
        print(f"/health: n={len(health_ms)} p50={p50:.2f} ms p99={p99:.2f} ms max={max(health_ms):.2f} ms "
              f"mean={statistics.mean(health_ms):.2f} ms")
        results.check(len(health_ms) >= 200 and all(s == 200 for s in health_status),
                      f"/health always 200 ({len(health_ms)} requests)")
        results.check(p99 < HEALTH_P99_MS, f"/health p99 {p99:.2f} ms < {HEALTH_P99_MS} ms under load")
        status, _, body = server.request("POST", "/query", {"collection": "series", "filter": {}, "limit": 1})
        total = json.loads(body)["total"] if status == 200 else -1
        results.check(total > before["counts"]["series"],
                      f"series after the concurrent ingest: {total}")
        code = server.stop()
        results.check(code == 0, f"serve exits 0 on SIGTERM ({code})")
        if results.failed:
            print(server.tail())
        server = None
        server = harness.Server(args.binary, uri, work, ["--workers", "1", "--queue", "1", "--query-budget-ms", "30000"])
        queue_full(server, results)
        server.stop()
        server = None
    except Exception as error:
        import traceback
        traceback.print_exc()
        results.check(False, f"unexpected: {error}")
        if server:
            print(server.tail())
    finally:
        if server:
            server.stop()
        harness.drop_store(uri)
        harness.remove(work)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())
