"""HTTP requests to the server under test (127.0.0.1 only), one connection each (gunicorn's
sync workers close every connection)."""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass

from benchmarks.http_bench import CPU_HEADER

JSONAPI = "application/vnd.api+json"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float  # wall time seen by the client
    cpu_ms: float | None  # the server thread's CPU time for this request

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self):
        return json.loads(self.body)


class Api:
    """Requests with the benchmark's API key to the server on `port`."""

    def __init__(self, port: int, secret: str):
        self.port = port
        self.auth = {"Authorization": f"Bearer {secret}"}

    def call(self, method: str, path: str, body=None, media_type: str = "application/json"):
        headers = {**self.auth, "Accept": media_type}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = media_type
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        seconds = time.perf_counter() - started
        headers_in = {name.lower(): value for name, value in response.getheaders()}
        cpu = headers_in.get(CPU_HEADER.lower())
        return Reply(response.status, data, headers_in, seconds, int(cpu) / 1000 if cpu else None)

    def get(self, path: str, media_type: str = "application/json") -> Reply:
        return self.call("GET", path, media_type=media_type)
