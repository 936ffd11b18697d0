#!/usr/bin/env python3
"""Hostile input corpus, black-box: the real `meta_db serve` over a synth catalogue, on SQLite or MongoDB.

Each case is sent as it would arrive from a hostile client (raw sockets where http.client would refuse to send it):
malformed and deeply nested JSON, huge numbers, invalid UTF-8, NUL bytes, SQL and operator injection in field names,
values, sort keys and projections, path traversal in static and /docs URLs (percent-encoded, backslashes, NUL, a
symlink out of the web root), oversized and too many headers, request smuggling shapes, slowloris-style slow headers
and slow bodies, a flood of connections. Checked: every answer is a 4xx (or the connection is closed for a slow
client; a value that merely looks like an injection is a legal string and matches nothing: 200 with 0 results), no
5xx ever, the catalogue dumped through the API is identical before and after, the server still answers /health after
every case and exits 0 on SIGTERM. docs/security.md "Hostile input" is the table of these cases.

Usage: hostile_input_test.py --binary build/meta_db [--backend sqlite|mongodb] [--table] (--table prints the
markdown table of the docs). Prints one line per check and finally "N passed, N failed".
"""
import argparse
import json
import os
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

HEADER_TIMEOUT = 2  # serve --header-timeout for this run, so the slow-client cases stay short
MAX_CONNECTIONS = 64


def json_cases():
    """(name, method, path, body bytes, expected: '4xx' or 'empty200')."""
    deep_array = b'{"collection":"series","filter":{"a":' + b"[" * 100000 + b"]" * 100000 + b"}}"
    deep_filter = {"collection": "series", "filter": {}}
    node = deep_filter["filter"]
    for _ in range(60):
        node["$and"] = [{}]
        node = node["$and"][0]
    node["modality"] = "CT"
    not_chain = {"modality": "CT"}
    for _ in range(200):
        not_chain = {"$nor": [not_chain]}
    q = lambda body: json.dumps(body).encode()  # noqa: E731
    cases = [
        ("malformed JSON: unterminated object", "POST", "/query", b'{"collection": "series"', "4xx"),
        ("malformed JSON: trailing comma", "POST", "/query", b'{"collection": "series",}', "4xx"),
        ("malformed JSON: empty body", "POST", "/query", b"", "4xx"),
        ("JSON not an object (array)", "POST", "/query", b"[]", "4xx"),
        ("JSON not an object (string)", "POST", "/researchers", b'"x"', "4xx"),
        ("JSON two documents", "POST", "/query", b'{"collection":"series"}{"collection":"series"}', "4xx"),
        ("JSON with comments", "POST", "/query", b'{"collection":"series" /* x */}', "4xx"),
        ("deeply nested JSON: 100000 arrays", "POST", "/query", deep_array, "4xx"),
        ("deeply nested filter: 60 $and levels", "POST", "/query", q(deep_filter), "4xx"),
        ("deeply nested filter: 200 $nor levels", "POST", "/query", q(not_chain), "4xx"),
        ("huge number 1e400 in a filter", "POST", "/query", b'{"collection":"series","filter":{"series_number":1e400}}',
         "4xx_or_empty200"),
        ("huge integer limit", "POST", "/query", b'{"collection":"series","limit":99999999999999999999999}', "4xx"),
        ("negative skip", "POST", "/query", q({"collection": "series", "skip": -1}), "4xx"),
        ("limit as float 1e30", "POST", "/query", q({"collection": "series", "limit": 1e30}), "4xx"),
        ("int64 overflow in a value", "POST", "/query",
         b'{"collection":"series","filter":{"series_number":{"$gt":-9223372036854775809}}}', "any4xx_or_200"),
        ("invalid UTF-8 in a filter value", "POST", "/query",
         b'{"collection":"series","filter":{"modality":"\xff\xfe\xc3"}}', "4xx"),
        ("invalid UTF-8 in a field name", "POST", "/query", b'{"collection":"series","filter":{"\xc0\xaf":1}}', "4xx"),
        ("invalid UTF-8 in a researcher name", "POST", "/researchers",
         b'{"researcher_id":"r\xff","name":"\xed\xa0\x80"}', "4xx"),
        ("lone surrogate escape in a created document", "POST", "/researchers",
         b'{"researcher_id":"x\\ud800","name":"y"}', "4xx"),
        ("NUL byte raw in the body", "POST", "/query", b'{"collection":"series\x00"}', "4xx"),
        ("NUL escape in a field name", "POST", "/query", q({"collection": "series", "filter": {"mod\u0000ality": "CT"}}),
         "4xx"),
        ("NUL escape in a value", "POST", "/query", q({"collection": "series", "filter": {"modality": "C\u0000T"}}),
         "empty200"),
        ("NUL escape in a researcher_id", "POST", "/researchers", q({"researcher_id": "a\u0000b", "name": "n"}), "4xx"),
        ("SQL injection in a field name", "POST", "/query",
         q({"collection": "series", "filter": {"modality') OR 1=1; DROP TABLE series; --": "CT"}}), "4xx_or_empty200"),
        ("SQL injection in a metadata path", "POST", "/query",
         q({"collection": "series", "filter": {"metadata.Modality\"') OR 1=1 --": "CT"}}), "4xx_or_empty200"),
        ("JSON-path injection in a metadata path", "POST", "/query",
         q({"collection": "series", "filter": {"metadata.$[0]": 1}}), "4xx"),
        ("SQL injection in a value", "POST", "/query",
         q({"collection": "series", "filter": {"modality": "CT' OR '1'='1"}}), "empty200"),
        ("SQL injection in a $regex", "POST", "/query",
         q({"collection": "series", "filter": {"modality": {"$regex": "') OR 1=1 --"}}}), "4xx_or_empty200"),
        ("SQL injection in a sort key", "POST", "/query",
         q({"collection": "series", "sort": {"modality; DROP TABLE series": 1}}), "literal"),
        ("sort direction as SQL", "POST", "/query", q({"collection": "series", "sort": {"modality": "1; DROP"}}), "4xx"),
        ("SQL injection in a projection", "POST", "/query",
         q({"collection": "series", "projection": {"modality) FROM series; --": 1}}), "literal"),
        ("SQL injection in the collection name", "POST", "/query", q({"collection": "series; DROP TABLE series"}),
         "4xx"),
        ("operator injection: $where", "POST", "/query",
         q({"collection": "series", "filter": {"$where": "sleep(10000)"}}), "4xx"),
        ("operator injection: $expr", "POST", "/query", q({"collection": "series", "filter": {"$expr": {"$eq": [1, 1]}}}),
         "4xx"),
        ("operator injection: $function", "POST", "/query",
         q({"collection": "series", "filter": {"a": {"$function": {"body": "x", "args": [], "lang": "js"}}}}), "4xx"),
        ("operator injection: unknown operator", "POST", "/query", q({"collection": "series", "filter": {"a": {"$foo": 1}}}),
         "4xx"),
        ("operator injection: $-prefixed field", "POST", "/query", q({"collection": "series", "filter": {"$gt": 1}}),
         "4xx"),
        ("operator in a created document's field name", "POST", "/researchers",
         q({"researcher_id": "inj1", "name": "n", "$set": {"x": 1}}), "4xx"),
        ("operator as a created document's value", "POST", "/researchers",
         q({"researcher_id": {"$gt": ""}, "name": "n"}), "4xx"),
        ("dotted field in a created document", "POST", "/collections", q({"name": "inj2", "a.b": 1}), "4xx"),
        ("projection with an operator", "POST", "/query", q({"collection": "series", "projection": {"$where": 1}}),
         "4xx"),
        ("$regex catastrophic pattern", "POST", "/query",
         q({"collection": "series", "filter": {"modality": {"$regex": "(a+)+$"}}}), "4xx_or_empty200"),
        ("$regex invalid pattern", "POST", "/query", q({"collection": "series", "filter": {"modality": {"$regex": "(["}}}),
         "4xx"),
        ("$in with 100000 values", "POST", "/query",
         q({"collection": "series", "filter": {"modality": {"$in": [str(i) for i in range(100000)]}}}), "4xx"),
        ("job with 200000 accession numbers (body over 1 MiB)", "POST", "/jobs",
         q({"researcher_id": "x", "name": "j", "accession_numbers": ["A%07d" % i for i in range(200000)]}), "4xx"),
        ("wrong content type", "POST", "/query", None, "4xx"),
    ]
    return cases


def url_cases():
    """(name, raw target, expected) for GET requests."""
    return [
        ("percent-encoded traversal", "/..%2f..%2f..%2fetc%2fpasswd", "4xx"),
        ("double-dot segments encoded", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "4xx"),
        ("raw traversal under /ui", "/ui/../../../../etc/passwd", "4xx_or_spa"),
        ("traversal under /assets", "/assets/../../../../../etc/passwd", "4xx_or_spa"),
        ("double-encoded traversal", "/%252e%252e/%252e%252e/etc/passwd", "4xx"),
        ("backslash traversal", "/..%5c..%5c..%5cetc%5cpasswd", "4xx"),
        ("NUL byte in a static path", "/index.html%00.js", "4xx"),
        ("NUL byte in /docs", "/docs/swagger-ui.css%00", "4xx"),
        ("traversal in /docs", "/docs/..%2f..%2f..%2f..%2fetc%2fpasswd", "4xx"),
        ("absolute path target", "//etc/passwd", "4xx"),
        ("symlink to a file outside the web root", "/outside-file", "4xx"),
        ("symlink to a directory outside the web root", "/outside-dir/passwd", "4xx"),
        ("overlong UTF-8 dot-dot", "/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "4xx"),
        ("invalid percent-encoding", "/studies?limit=%zz", "4xx"),
        ("invalid UTF-8 in a query parameter", "/series?modality=%ff%fe", "4xx_or_empty200"),
        ("NUL in a query parameter value", "/series?modality=C%00T", "4xx_or_empty200"),
        ("SQL injection in a metadata query parameter name", "/series?metadata.Foo')%20OR%201=1--=1", "4xx"),
        ("SQL injection in sort", "/series?sort=modality;DROP%20TABLE%20series", "literal"),
        ("unknown query parameter", "/series?$where=1", "4xx"),
        ("huge limit", "/series?limit=99999999999999999999", "4xx"),
        ("bad ObjectId", "/studies/../../etc", "4xx"),
        ("bad ObjectId with NUL", "/studies/0000000000000000000000%00", "4xx"),
    ]


def raw_cases(port):
    """(name, raw bytes, expected) sent on a fresh connection."""
    big_header = b"X-Big: " + b"a" * (64 * 1024) + b"\r\n"
    many_headers = b"".join(b"X-H%d: v\r\n" % i for i in range(200))
    long_url = b"/series?modality=" + b"a" * (100 * 1024)
    host = b"Host: 127.0.0.1:%d\r\n" % port
    return [
        ("oversized header (64 KiB)", b"GET /health HTTP/1.1\r\n" + host + big_header + b"\r\n", "4xx"),
        ("200 header fields", b"GET /health HTTP/1.1\r\n" + host + many_headers + b"\r\n", "4xx"),
        ("100 KiB request target", b"GET " + long_url + b" HTTP/1.1\r\n" + host + b"\r\n", "4xx"),
        ("Content-Length and Transfer-Encoding (smuggling)",
         b"POST /query HTTP/1.1\r\n" + host + b"Content-Type: application/json\r\nContent-Length: 4\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "4xx_or_close"),
        ("two Content-Length values",
         b"POST /query HTTP/1.1\r\n" + host + b"Content-Type: application/json\r\nContent-Length: 2\r\n"
         b"Content-Length: 30\r\n\r\n{}", "4xx"),
        ("negative Content-Length", b"POST /query HTTP/1.1\r\n" + host + b"Content-Length: -1\r\n\r\n", "4xx"),
        ("bad chunk size", b"POST /query HTTP/1.1\r\n" + host + b"Content-Type: application/json\r\n"
         b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", "4xx"),
        ("body over the limit (chunked, 2 MiB)", b"POST /query HTTP/1.1\r\n" + host +
         b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
         (b"100000\r\n" + b" " * 0x100000 + b"\r\n") * 2 + b"0\r\n\r\n", "4xx_or_close"),
        ("Content-Length over the limit", b"POST /query HTTP/1.1\r\n" + host +
         b"Content-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n", "4xx"),
        ("NUL in a header value", b"GET /health HTTP/1.1\r\n" + host + b"X-A: a\x00b\r\n\r\n", "4xx"),
        ("invalid UTF-8 in a header value", b"GET /series HTTP/1.1\r\n" + host + b"X-A: \xff\xfe\r\n\r\n", "ok_any"),
        ("bare LF line endings and garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64, "4xx_or_close"),
        ("HTTP/2 preface on HTTP/1.1", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "4xx_or_close"),
        ("unknown method", b"BREW /series HTTP/1.1\r\n" + host + b"\r\n", "4xx"),
        ("absolute-form target", b"GET http://evil.example/series HTTP/1.1\r\n" + host + b"\r\n", "4xx"),
        ("HTTP/9.9", b"GET /health HTTP/9.9\r\n" + host + b"\r\n", "4xx_or_close"),
    ]


def status_of(raw):
    try:
        return int(raw.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def accepts(expected, status, body):
    """Whether an answer fits what the case expects; never a 5xx."""
    if status is not None and status >= 500:
        return False
    if expected == "4xx":
        return status is not None and 400 <= status < 500
    if expected == "4xx_or_close":
        return status is None or 400 <= status < 500
    if expected == "empty200":
        return status == 200 and json.loads(body)["total"] == 0
    if expected == "4xx_or_empty200":
        return (status is not None and 400 <= status < 500) or (status == 200 and json.loads(body)["total"] == 0)
    if expected == "4xx_or_spa":  # the dashboard's index.html for a /ui route, never the target file
        return status is not None and (400 <= status < 500 or (status == 200 and b"root:" not in body))
    if expected == "any4xx_or_200":
        return status is not None and (400 <= status < 500 or status == 200)
    if expected == "literal":  # a legal (odd) field name: the query runs, the name taken literally
        return status is not None and (400 <= status < 500 or status == 200)
    if expected == "ok_any":
        return status is not None and status < 500
    return False


def make_web_root(workdir):
    """A web root with an index.html and two symlinks that lead out of it."""
    root = os.path.join(workdir, "web")
    os.makedirs(os.path.join(root, "assets"))
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!doctype html><title>t</title>")
    with open(os.path.join(root, "assets", "app.js"), "w") as f:
        f.write("console.log(1)")
    secret_dir = os.path.join(workdir, "secret")
    os.makedirs(secret_dir)
    with open(os.path.join(secret_dir, "passwd"), "w") as f:
        f.write("root:x:0:0:secret\n")
    os.symlink(os.path.join(secret_dir, "passwd"), os.path.join(root, "outside-file"))
    os.symlink(secret_dir, os.path.join(root, "outside-dir"))
    return root


def slow_headers(server, results, rows):
    """Headers trickled one byte every 0.5 s: closed once --header-timeout passes, whatever keeps coming."""
    start = time.time()
    closed_after = None
    with socket.create_connection(("127.0.0.1", server.port), timeout=HEADER_TIMEOUT + 10) as sock:
        payload = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
        try:
            for byte in payload:
                sock.sendall(bytes([byte]))
                time.sleep(0.5)
                if time.time() - start > HEADER_TIMEOUT + 8:
                    break
            sock.recv(100)
        except OSError:
            pass
        try:
            got = sock.recv(100)
            closed_after = time.time() - start if not got else None
        except OSError:
            closed_after = time.time() - start
    ok = closed_after is not None and closed_after < HEADER_TIMEOUT + 5
    results.check(ok, f"slowloris headers: closed after {closed_after and round(closed_after, 1)} s")
    rows.append(("slowloris: headers at 2 bytes/s", "closed after %.1f s (header timeout %d s)"
                 % (closed_after or -1, HEADER_TIMEOUT)))


def slow_body(server, results, rows):
    """A body at 2 bytes/s: 408 (or closed) once the grace has passed and the rate is under the minimum."""
    start = time.time()
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=HEADER_TIMEOUT + 15) as sock:
        sock.sendall(b"POST /query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n")
        try:
            for _ in range(200):
                sock.sendall(b" ")
                time.sleep(0.5)
                if time.time() - start > HEADER_TIMEOUT + 12:
                    break
        except OSError:
            pass
        try:
            answer = sock.recv(4096)
        except OSError:
            pass
    took = time.time() - start
    status = status_of(answer)
    ok = took < HEADER_TIMEOUT + 10 and (status is None or 400 <= status < 500)
    results.check(ok, f"slow body: {status} after {took:.1f} s")
    rows.append(("slow body: 2 bytes/s of a 5000-byte body", f"{status or 'closed'} after {took:.1f} s"))


def flood(server, results, rows):
    """3x --max-connections sockets at once: the excess answered 503 or closed; a connection opened before keeps
    working during the flood; afterwards new connections work again."""
    import http.client
    keeper = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    keeper.request("GET", "/health")
    keeper.getresponse().read()
    sockets, refused, accepted = [], 0, 0
    for _ in range(3 * MAX_CONNECTIONS):
        try:
            sockets.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
        except OSError:
            refused += 1
    time.sleep(0.5)
    for sock in sockets:
        sock.setblocking(False)
        try:
            data = sock.recv(4096)
            if data.startswith(b"HTTP/1.1 503"):
                refused += 1
            elif data == b"":
                refused += 1
        except BlockingIOError:
            accepted += 1  # held open by the server, waiting for a request
        except OSError:
            refused += 1
    keeper.request("GET", "/health")
    kept = keeper.getresponse()
    kept_status = kept.status
    kept.read()
    keeper.close()
    for sock in sockets:
        sock.close()
    time.sleep(0.5)
    after = server.request("GET", "/health")[0]
    ok = accepted <= MAX_CONNECTIONS and refused >= 2 * MAX_CONNECTIONS - 1 and kept_status == 200 and after == 200
    results.check(ok, f"flood of {3 * MAX_CONNECTIONS}: {accepted} held, {refused} refused (503/closed), "
                      f"existing connection {kept_status}, afterwards {after}")
    rows.append((f"flood: {3 * MAX_CONNECTIONS} connections (--max-connections {MAX_CONNECTIONS})",
                 f"{accepted} held, {refused} answered 503 and closed; an open keep-alive connection answered "
                 f"{kept_status} during it; new connections {after} after"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.environ.get("META_DB_BIN", "build/meta_db"))
    parser.add_argument("--backend", default=os.environ.get("META_DB_TEST_BACKEND", "sqlite"))
    parser.add_argument("--table", action="store_true")
    args = parser.parse_args()
    results = harness.Results("hostile_input")
    work = harness.workdir("meta_db_hostile_")
    uri = harness.store_uri(args.backend, work, "hostile")
    if uri is None:
        print("hostile_input_test: needs a MongoDB server: set META_DB_TEST_MONGO_URI")
        return 0
    server = None
    rows = []
    try:
        harness.make_catalogue(args.binary, work, uri)
        web_root = make_web_root(work)
        server = harness.Server(args.binary, uri, work,
                                ["--web-root", web_root, "--header-timeout", str(HEADER_TIMEOUT),
                                 "--max-connections", str(MAX_CONNECTIONS)])
        before = harness.dump_catalogue(server)
        results.check(len(before["instances"]) > 0, f"catalogue has {len(before['instances'])} instances")

        for name, method, path, body, expected in json_cases():
            headers = {"Content-Type": "text/plain"} if body is None else None
            try:
                status, hdrs, answer = server.request(method, path, body if body is not None else b"{}", headers)
            except OSError as error:
                status, hdrs, answer = None, {}, str(error).encode()
            ok = accepts(expected, status, answer)
            results.check(ok, f"{name}: {status} {answer[:120]!r}")
            rows.append((name, f"{status} {error_code(answer)}"))
            results.check(server.request("GET", "/health")[0] == 200, f"  /health after '{name}'")
        for name, target, expected in url_cases():
            answer = server.raw(b"GET " + target.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            status = status_of(answer)
            body = answer.split(b"\r\n\r\n", 1)[-1]
            ok = accepts(expected, status, body) and b"root:" not in answer
            results.check(ok, f"{name} ({target[:60]}): {status}")
            rows.append((f"{name} `{target[:50]}`", f"{status} {error_code(body)}"))
        for name, data, expected in raw_cases(server.port):
            answer = server.raw(data)
            status = status_of(answer)
            ok = accepts(expected, status, answer)
            results.check(ok, f"{name}: {status if status else 'closed'} {answer[:80]!r}")
            rows.append((name, f"{status or 'closed without an answer'}"))
            results.check(server.request("GET", "/health")[0] == 200, f"  /health after '{name}'")

        threads = [threading.Thread(target=fn, args=(server, results, rows)) for fn in (slow_headers, slow_body)]
        for thread in threads:
            thread.start()
        # While the slow clients hold their connections, others are served.
        t0 = time.time()
        status = server.request("GET", "/health")[0]
        results.check(status == 200 and time.time() - t0 < 1, "/health answers while slow clients are connected")
        for thread in threads:
            thread.join()
        flood(server, results, rows)

        # Every answer carries the safe-default headers.
        for path in ["/health", "/series", "/docs", "/", "/no-such-route"]:
            status, hdrs, _ = server.request("GET", path)
            ok = (hdrs.get("x-content-type-options") == "nosniff" and hdrs.get("referrer-policy") == "no-referrer"
                  and "default-src 'self'" in hdrs.get("content-security-policy", "") and "cache-control" in hdrs)
            results.check(ok, f"security headers on GET {path} ({status}): cache-control {hdrs.get('cache-control')}")
        results.check(server.request("GET", "/series")[1].get("cache-control") == "no-store",
                      "API answers are Cache-Control: no-store")

        after = harness.dump_catalogue(server)
        for name in before:
            results.check(before[name] == after[name], f"catalogue unchanged: {name}")
        results.check(server.alive(), "server still running")
        code = server.stop()
        results.check(code == 0, f"serve exits 0 on SIGTERM (got {code})")
        if results.failed:
            print(server.tail())
        server = None
    except Exception as error:  # a broken setup is a failure, reported with the server's last words
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
    if args.table:
        print("| input | answer |\n| --- | --- |")
        for name, answer in rows:
            print(f"| {name} | {answer} |")
    return results.finish()


def error_code(body):
    try:
        return json.loads(body)["error"]["code"]
    except Exception:
        return ""


if __name__ == "__main__":
    sys.exit(main())
