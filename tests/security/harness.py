"""Shared by the security and load tests: a synth catalogue on the store under test and a real `meta_db serve`.

The store: SQLite by default; MongoDB when --backend mongodb (or META_DB_TEST_BACKEND=mongodb) and
META_DB_TEST_MONGO_URI names a server (each run uses its own database and drops it). Everything on 127.0.0.1.
"""
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse

COLLECTIONS = ["researchers", "collections", "studies", "series", "instances", "jobs"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def store_uri(backend, workdir, name):
    """The --db URI for this run, or None when MongoDB is wanted but no server is given (the test then skips)."""
    if backend == "sqlite":
        return "sqlite:" + os.path.join(workdir, name + ".sqlite")
    server = os.environ.get("META_DB_TEST_MONGO_URI", "").strip()
    if not server:
        return None
    parts = urllib.parse.urlsplit(server)
    database = f"{name}_{os.getpid()}_{int(time.time())}"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def drop_store(uri):
    if not uri or not uri.startswith("mongodb"):
        return
    try:
        import pymongo
        client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=3000)
        client.drop_database(urllib.parse.urlsplit(uri).path.lstrip("/"))
        client.close()
    except Exception as error:  # the database is throwaway; say so and go on
        print(f"note: could not drop {uri}: {error}")


def make_catalogue(binary, workdir, uri, patients=4):
    archive = os.path.join(workdir, "archive")
    subprocess.run([binary, "synth", "--patients", str(patients), "--out", archive, "--small"], check=True,
                   stdout=subprocess.DEVNULL, timeout=120)
    subprocess.run([binary, "ingest", archive, "--db", uri, "--quiet"], check=True, stdout=subprocess.DEVNULL,
                   timeout=300)
    return archive


class Server:
    """`meta_db serve` on a free port; stderr (the access log) goes to a file, read on failure."""

    def __init__(self, binary, uri, workdir, extra=()):
        self.port = free_port()
        self.log_path = os.path.join(workdir, f"serve-{self.port}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([binary, "serve", "--db", uri, "--port", str(self.port), *extra],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}: {self.tail()}")
            try:
                if self.request("GET", "/health")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("serve did not answer /health within 30 s")

    def tail(self, lines=30):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])

    def request(self, method, path, body=None, headers=None, timeout=30):
        """One request on its own connection: (status, headers dict lower-cased, body bytes)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
            if isinstance(body, str):
                body = body.encode()
            hdrs = {"Content-Type": "application/json"} if body is not None else {}
            hdrs.update(headers or {})
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in hdrs.items():
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            conn.close()

    def raw(self, data, timeout=10, read_until_close=True):
        """Sends raw bytes; returns what came back before the server closed (or the timeout)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            sock.sendall(data)
            chunks = []
            try:
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    if not read_until_close:
                        break
            except socket.timeout:
                pass
            return b"".join(chunks)

    def alive(self):
        return self.proc.poll() is None

    def stop(self, wait=60):
        """SIGTERM; the exit takes at most the grace period (10 s) plus the store calls running then (each bounded
        by --query-budget-ms)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        return self.proc.returncode


def dump_catalogue(server):
    """Every document of every collection, through the API (POST /query, paged), plus the error register."""
    out = {}
    for name in COLLECTIONS:
        docs = []
        skip = 0
        while True:
            status, _, body = server.request("POST", "/query", {"collection": name, "filter": {}, "skip": skip,
                                                                "limit": 1000, "sort": {"_id": 1}})
            if status != 200:
                raise RuntimeError(f"dump of {name}: {status} {body[:200]!r}")
            page = json.loads(body)
            docs.extend(page["results"])
            skip += 1000
            if skip >= page["total"]:
                break
        out[name] = docs
    status, _, body = server.request("GET", "/errors?limit=1000")
    out["errors"] = json.loads(body) if status == 200 else status
    return out


class Results:
    def __init__(self, name):
        self.name, self.passed, self.failed = name, 0, 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
            print(f"ok   {what}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL {what}", flush=True)
        return ok

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1


def workdir(prefix):
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o755)
    return path


def remove(path):
    shutil.rmtree(path, ignore_errors=True)
