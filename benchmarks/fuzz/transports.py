"""What the fuzzers send, and how: a request, and transports that deliver it to a server on
this machine over HTTP or to the project in-process through Django's test client."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from typing import Protocol


@dataclass
class Call:
    method: str
    path: str  # percent-encoded, without the query
    query: str  # percent-encoded
    headers: dict[str, str]
    body: bytes | None

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path

    def describe(self) -> str:
        body = self.body[:400] if self.body else b""
        headers = {k: v for k, v in self.headers.items() if k != "Authorization"}
        return f"{self.method} {self.target} headers={headers} body={body!r}"


class Transport(Protocol):
    def send(self, call: Call) -> tuple[int, dict[str, str], bytes]: ...


class HttpTransport:
    """One keep-alive connection to a server on this machine, re-opened when it drops."""

    def __init__(self, host: str, port: int, timeout: float = 30):
        self.host, self.port, self.timeout = host, port, timeout
        self.connection: http.client.HTTPConnection | None = None

    def send(self, call: Call) -> tuple[int, dict[str, str], bytes]:
        for attempt in (1, 2):
            if self.connection is None:
                self.connection = http.client.HTTPConnection(
                    self.host, self.port, timeout=self.timeout
                )
            try:
                self.connection.request(
                    call.method, call.target, body=call.body, headers=call.headers
                )
                response = self.connection.getresponse()
                body = b"" if call.method == "HEAD" else response.read()
                headers = {name.lower(): value for name, value in response.getheaders()}
                if headers.get("connection", "").lower() == "close":
                    self.close()
                return response.status, headers, body
            except (http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


class DjangoTransport:
    """Django's test client, in-process; a server error comes back as its 500 response."""

    def __init__(self):
        from django.test import Client

        self.client = Client(raise_request_exception=False)

    def send(self, call: Call) -> tuple[int, dict[str, str], bytes]:
        headers = dict(call.headers)
        content_type = headers.pop("Content-Type", "")
        response = self.client.generic(
            call.method,
            call.target,
            data=call.body or b"",
            content_type=content_type,
            headers=headers,
        )
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return response.status_code, {k.lower(): v for k, v in response.items()}, body
