"""`meta_db serve` as a child process for the Python end-to-end tests: started on a free port (--port 0, the port
read from its start-up line), its output collected, stopped with SIGTERM or killed -9. Tests subclass it with the
requests they make."""
import os
import re
import signal
import subprocess
import threading

_LISTENING = re.compile(r"serving \w+ on http://127\.0\.0\.1:(\d+)")


class ServeProcess:
    """`binary serve --db uri --port 0 --threads 2 *extra`. Waits up to `wait` seconds for the start-up line; with
    `require_start` raises AssertionError (with the output's tail) when it does not come, else `started()` says.
    Every output line goes to `output` and, when `log_path` is given, is appended to that file."""

    def __init__(self, binary, uri, *extra, wait=30, log_path=None, require_start=True):
        self.wait = wait
        self.log = open(log_path, "a") if log_path else None
        self.proc = subprocess.Popen([binary, "serve", "--db", uri, "--port", "0", "--threads", "2", *extra],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)
        self.output, self.port = [], None
        ready = threading.Event()

        def read():
            for line in self.proc.stdout:
                self.output.append(line)
                if self.log is not None:
                    self.log.write(line)
                found = _LISTENING.search(line)
                if found and self.port is None:
                    self.port = int(found.group(1))
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        if not ready.wait(wait) or self.port is None:
            if require_start:
                self.stop()
                raise AssertionError(f"meta_db serve did not start within {wait}s (exit {self.proc.poll()}): "
                                     + "".join(self.output)[-2000:])

    def started(self):
        return self.port is not None

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(self.wait)
        self._finish()

    def stop(self, grace=15):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._finish()

    def _finish(self):
        self.reader.join(5)
        if self.log is not None and not self.log.closed:
            self.log.close()
