"""A real loopback HTTP server that records what the sidecar forwards to it.

It can be stopped and started again on the same port, to play a forward target that goes
down for a while (connection refused) and comes back.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    content_type: str
    body: bytes


class Recorder:
    """``start()``/``stop()`` any number of times; ``received`` keeps every request."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Recorder:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                with recorder.lock:
                    recorder.received.append(
                        Received(self.path, self.headers.get("Content-Type", ""), body)
                    )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.send_header("Connection", "close")  # so stop() leaves no live connection
                self.end_headers()
                self.close_connection = True

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            assert self._thread is not None
            self._thread.join(timeout=5)
            self._server = None

    def clear(self) -> None:
        with self.lock:
            self.received.clear()

    def wait_for(self, done: Callable[[list[Received]], bool], timeout: float) -> bool:
        """Polls until ``done(received)`` holds; False after ``timeout`` seconds."""
        stop = time.monotonic() + timeout
        while time.monotonic() < stop:
            with self.lock:
                if done(list(self.received)):
                    return True
            time.sleep(0.05)
        return False
