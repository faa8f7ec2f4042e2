"""Gunicorn's access log keeps gift card codes out: every atom that carries a query has the
values of code filters replaced, and a real gunicorn serving a code lookup logs none."""

from __future__ import annotations

import datetime as dt
import http.client
import os
import runpy
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from giftcards_project.gunicorn_logging import REDACTED, RedactingLogger, redact_atoms

ROOT = Path(__file__).resolve().parent.parent
CODE = "K7QM-X2PD-9RTA-WF3H-NB6C"


def atoms_for(uri: str, referer: str = "-", headers=()) -> dict:
    path, _, query = uri.partition("?")
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": uri,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": referer,
    }
    request = SimpleNamespace(headers=[("REFERER", referer), *headers])
    response = SimpleNamespace(status="200 OK", sent=12, headers=[("Content-Type", "x")])
    logger = RedactingLogger(Config())
    return logger.atoms(response, request, environ, dt.timedelta(milliseconds=3))


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (f"/api/gift_cards?filter[code_eq]={CODE}", "/api/gift_cards?filter[code_eq]=[redacted]"),
        (
            f"/api/gift_cards?filter[q][code_in]={CODE},ABCD2345&page[size]=5",
            "/api/gift_cards?filter[q][code_in]=[redacted]&page[size]=5",
        ),
        (
            f"/api/gift_cards?filter%5Bq%5D%5Bcode_start%5D={CODE[:9]}",
            "/api/gift_cards?filter%5Bq%5D%5Bcode_start%5D=[redacted]",
        ),
        (f"/api/gift_cards?filter[code]={CODE}", "/api/gift_cards?filter[code]=[redacted]"),
        # Letters spelled as escapes name the same filter.
        (
            f"/api/gift_cards?filter[%63ODE_end]={CODE}",
            "/api/gift_cards?filter[%63ODE_end]=[redacted]",
        ),
        (f"/admin/giftcards/giftcard/?q={CODE}&o=1", "/admin/giftcards/giftcard/?q=[redacted]&o=1"),
        (
            "/api/gift_cards?filter[status]=active&sort=-created_at&q=x",
            "/api/gift_cards?filter[status]=active&sort=-created_at&q=x",
        ),
    ],
)
def test_code_filters_are_redacted_in_the_request_line_and_query(uri, expected):
    atoms = atoms_for(uri)
    assert atoms["r"] == f"GET {expected} HTTP/1.1"
    assert atoms["q"] == expected.partition("?")[2]
    assert atoms["{raw_uri}e"] == expected
    assert atoms["{query_string}e"] == expected.partition("?")[2]
    assert atoms["U"] == uri.partition("?")[0]


def test_a_referer_with_a_code_filter_is_redacted():
    referer = f"https://shop.example/api/gift_cards?filter[q][code_eq]={CODE}#top"
    atoms = atoms_for("/api/gift_cards", referer=referer)
    # The value runs to the next `&` or whitespace: a `#` does not end it (see below).
    expected = "https://shop.example/api/gift_cards?filter[q][code_eq]=[redacted]"
    assert atoms["f"] == atoms["{referer}i"] == atoms["{http_referer}e"] == expected


def test_credentials_never_reach_the_access_log():
    atoms = atoms_for("/payments", headers=[("AUTHORIZATION", "Bearer abc.def")])
    assert atoms["{authorization}i"] == REDACTED
    assert "abc.def" not in repr(atoms)


def test_atoms_without_a_query_are_left_alone():
    atoms = {"r": "GET /healthz HTTP/1.1", "s": "200", "B": 12, "a": "curl/8 (x=y)"}
    assert redact_atoms(atoms) == atoms


def test_the_configured_access_log_line_has_no_code(tmp_path):
    """The access line as gunicorn.conf.py formats it, through the logger's own access()."""
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    config = Config()
    config.set("accesslog", str(tmp_path / "access.log"))
    config.set("access_log_format", settings["access_log_format"])
    config.set("logger_class", settings["logger_class"])
    logger = config.logger_class(config)
    assert isinstance(logger, RedactingLogger)
    uri = f"/api/gift_cards?filter[code_eq]={CODE}"
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": uri,
        "PATH_INFO": "/api/gift_cards",
        "QUERY_STRING": uri.partition("?")[2],
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": f"http://127.0.0.1/?filter[code_eq]={CODE}",
    }
    request = SimpleNamespace(headers=[])
    response = SimpleNamespace(status="401 Unauthorized", sent=0, headers=[])
    logger.access(response, request, environ, dt.timedelta(milliseconds=5))
    line = (tmp_path / "access.log").read_text()
    assert '"GET /api/gift_cards?filter[code_eq]=[redacted] HTTP/1.1" 401' in line
    assert CODE not in line


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorn_serving_code_lookups_logs_no_code(tmp_path):
    """A real gunicorn with gunicorn.conf.py: lookups by code (refused here for want of an API
    key, which needs no database) are logged, their codes are not."""
    port = _free_port()
    access_log = tmp_path / "access.log"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "2",
        "GUNICORN_ACCESS_LOG": str(access_log),
        "GUNICORN_ERROR_LOG": str(tmp_path / "error.log"),
    }
    lookups = [
        f"/api/gift_cards?filter[code_eq]={CODE}",
        f"/api/gift_cards?filter%5Bq%5D%5Bcode_in%5D={CODE}&page%5Bsize%5D=5",
        f"/admin/giftcards/giftcard/?q={CODE}",
    ]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    statuses = []
    try:
        deadline = time.monotonic() + 60
        for uri in lookups:
            while True:
                try:
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    connection.request("GET", uri, headers={"Referer": f"http://x{uri}"})
                    statuses.append(connection.getresponse().status)
                    connection.close()
                    break
                except ConnectionRefusedError:
                    assert server.poll() is None, "gunicorn exited"
                    assert time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.2)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert statuses == [401, 401, 302]
    lines = access_log.read_text().splitlines()
    assert len(lines) == 3
    assert all(REDACTED in line for line in lines)
    assert not [line for line in lines if CODE in line or CODE.replace("-", "") in line]
    # Each thread writes its line after its response has gone: two requests in a row may be
    # logged in either order.
    assert any("filter%5Bq%5D%5Bcode_in%5D=[redacted]&page%5Bsize%5D=5" in line for line in lines)


def test_the_development_servers_request_lines_carry_no_code():
    """`manage.py runserver` logs each request line through `django.server`."""
    import logging

    class Keep(logging.Handler):
        def __init__(self):
            super().__init__()
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    server, kept = logging.getLogger("django.server"), Keep()
    server.addHandler(kept)
    try:
        server.info(
            '"%s" %s %s',
            "GET /api/gift_cards?filter[code]=K7QMX2PD9RTAWF3H&sort=id HTTP/1.1",
            200,
            9,
        )
    finally:
        server.removeHandler(kept)

    assert kept.messages == ['"GET /api/gift_cards?filter[code]=[redacted]&sort=id HTTP/1.1" 200 9']


def test_a_code_after_a_quote_or_a_hash_in_the_query_is_redacted_too():
    """Django parses `code_in='x,CODE` and `code_in=CODE#x` as lookups of CODE."""
    from giftcards_project.gunicorn_logging import redact_text

    for line in (
        "GET /api/gift_cards?filter[q][code_in]='x,K7QM-X2PD-9RTA-WF3H HTTP/1.1",
        'GET /api/gift_cards?filter[q][code_in]="x",K7QM-X2PD-9RTA-WF3H HTTP/1.1',
        "GET /api/gift_cards?sort=id#&filter[code]=K7QM-X2PD-9RTA-WF3H HTTP/1.1",
    ):
        assert "K7QM" not in redact_text(line), line
