"""A real gunicorn with gunicorn.conf.py, LOG_FORMAT=json and two workers sharing a
PROMETHEUS_MULTIPROC_DIR: each request's JSON lines (the application's and the access log's)
carry the id its answer carries, and /metrics adds up what every worker counted."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests import caches
from tests.observability.conftest import parse, value

ROOT = Path(__file__).resolve().parent.parent.parent
CODE = "K7QM-X2PD-9RTA-WF3H-NB6C"


@pytest.fixture
def gunicorn(tmp_path):
    """Starts gunicorn; yields (request function, access log path, stderr path)."""
    port = caches.closed_port()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    access_log, error_log = tmp_path / "access.log", tmp_path / "stderr.log"
    env = {
        **os.environ,
        "LOG_FORMAT": "json",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        # A cache that refuses: /readyz logs why it is not ready.
        "REDIS_URL": f"redis://127.0.0.1:{caches.closed_port()}/0",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_THREADS": "2",
        "GUNICORN_ACCESS_LOG": str(access_log),
    }
    with error_log.open("w") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,
        )

        def request(path: str, headers=None) -> http.client.HTTPResponse:
            deadline = time.monotonic() + 60
            while True:
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    connection.request("GET", path, headers=headers or {})
                    response = connection.getresponse()
                    response.body = response.read()
                    connection.close()
                    return response
                except ConnectionRefusedError:
                    assert server.poll() is None, error_log.read_text()
                    assert time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.2)

        try:
            yield request, access_log, error_log
        finally:
            server.terminate()
            server.wait(timeout=30)


def json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def test_json_lines_of_each_request_carry_the_id_of_its_answer(gunicorn):
    request, access_log, error_log = gunicorn
    honoured = request("/readyz", {"X-Request-ID": "probe-7"})
    replaced = request("/readyz", {"X-Request-ID": "probe 7; " + "x" * 250})
    lookup = request(f"/api/gift_cards?filter[code_eq]={CODE}")  # 401: no API key
    # Each thread writes its access line after its response has gone.
    deadline = time.monotonic() + 10
    while len(json_lines(access_log)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)

    answers = [honoured, replaced, lookup]
    assert [answer.status for answer in answers] == [503, 503, 401]
    ids = [answer.getheader("X-Request-ID") for answer in answers]
    assert ids[0] == "probe-7"
    assert len(ids[1]) == 32 and ids[1] != "probe-7"
    app_lines, access_lines = json_lines(error_log), json_lines(access_log)
    for ident in ids:
        # The application's line (the readiness warning, Django's 401) and the access line.
        assert [line for line in app_lines if line["request_id"] == ident], app_lines
        (access,) = [line for line in access_lines if line["request_id"] == ident]
        assert access["logger"] == "gunicorn.access"
        assert ident in access["message"]
    assert len(access_lines) == 3
    assert {line["status"] for line in access_lines} == {"503", "401"}
    # Lines of the master and workers outside any request have no id; every line is JSON.
    assert all(line.startswith("{") for line in error_log.read_text().splitlines())
    everything = error_log.read_text() + access_log.read_text()
    assert CODE not in everything and CODE.replace("-", "") not in everything


def test_metrics_add_up_every_workers_counts(gunicorn):
    request, _, _ = gunicorn
    for _ in range(12):
        assert request("/healthz").status == 200

    scrapes = [parse(request("/metrics").body.decode()) for _ in range(4)]
    counts = {
        value(
            samples,
            "giftcards_http_request_duration_seconds_count",
            route="healthz",
            method="GET",
            status="2xx",
        )
        for samples in scrapes
    }
    # Whichever worker answered the scrape, it reports all twelve.
    assert counts == {12.0}
