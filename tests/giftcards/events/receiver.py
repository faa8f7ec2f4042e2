"""A webhook receiver on 127.0.0.1 for tests and scripts: it records every request (method,
path, headers, the raw body) and answers as told: a status per call, a delay, a redirect, a
body that trickles in, garbage."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.time)  # when the body was read: latencies


@dataclass
class Plan:
    """How to answer the next calls: `statuses` in turn (the last one repeats), after
    `delay` seconds, with `body`; or `respond(handler)` to do anything else."""

    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    respond: Callable | None = None


class Receiver:
    def __init__(self):
        self.received: list[Received] = []
        self.plan = Plan()
        self._lock = threading.Lock()
        self._served = 0
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.request_body = self.rfile.read(length)  # for `respond`
                with receiver._lock:
                    receiver.received.append(
                        Received("POST", self.path, dict(self.headers.items()), body)
                    )
                    index = receiver._served
                    receiver._served += 1
                    plan = receiver.plan
                if plan.respond is not None:
                    plan.respond(self)
                    return
                if plan.delay:
                    time.sleep(plan.delay)
                status = plan.statuses[min(index, len(plan.statuses) - 1)]
                self.send_response(status)
                for name, value in plan.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(plan.body)))
                self.end_headers()
                self.wfile.write(plan.body)

            def log_message(self, format, *args):  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self) -> list[Received]:
        """The requests received so far (a copy: the server goes on appending)."""
        with self._lock:
            return list(self.received)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.01)
        raise AssertionError(f"Received {len(self.received)} calls, not {count}, in {timeout} s")
