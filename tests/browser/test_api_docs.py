"""Swagger UI and Redoc in a real browser: both draw both APIs from /api/schema with nothing
but this server's files (drf-spectacular-sidecar's scripts: no CDN, no web fonts, no online
validator), as the development server serves them and as production does (DEBUG off,
WhiteNoise serving what `collectstatic` gathered)."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.management import call_command
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.test import Client
from django.test.utils import override_settings
from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.test_settings import CODE_KEY, SECRET, manage

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
SIDECAR = "drf_spectacular_sidecar/"
# Both pages read the whole document (both APIs, about 700 kB of YAML) before drawing it.
RENDERED = 60_000
# A file name with the hash ManifestStaticFilesStorage puts in it.
# Redoc's own bundle asks cdn.redoc.ly for the Redocly logo under its menu; the page's
# content security policy (templates/drf_spectacular/redoc.html) keeps the browser from
# sending that request, and Redoc leaves the logo out.
REDOCLY_LOGO = frozenset({"https://cdn.redoc.ly/redoc/logo-mini.svg"})
HASHED = re.compile(r"\.[0-9a-f]{12}\.[a-z0-9]+$")


def is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "data":  # inline, never sent anywhere
        return True
    if parts.scheme == "blob":  # made by the page itself: blob:<its origin>/<uuid>
        parts = urlsplit(parts.path)
    return parts.scheme in ("http", "https") and parts.hostname in LOCAL_HOSTS


@dataclass
class Traffic:
    """Every request the page made; those the browser refused to send (its content security
    policy); those that failed otherwise or were answered with an error."""

    requests: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    responses: dict[str, dict[str, str]] = field(default_factory=dict)

    def sent_outside(self) -> list[str]:
        return [url for url in self.requests if not is_local(url) and url not in self.refused]

    def static(self) -> list[str]:
        return [url for url in self.requests if "/static/" in url]


def record(page) -> Traffic:
    traffic = Traffic()
    page.on("request", lambda request: traffic.requests.append(request.url))

    def failed(request) -> None:
        if request.failure == "csp":  # blocked in the browser, never sent
            traffic.refused.append(request.url)
        else:
            traffic.failures.append(f"{request.url} {request.failure}")

    def answered(response) -> None:
        traffic.responses[response.url] = response.headers
        if response.status >= 400:
            traffic.failures.append(f"{response.url} {response.status}")

    page.on("requestfailed", failed)
    page.on("response", answered)
    return traffic


def swagger_operation(page, method: str, path: str):
    """The operation block for `method path`, once Swagger UI has drawn it. Swagger UI draws
    only the operations near the viewport (a virtual list), so the page is scrolled down until
    it appears."""
    block = page.locator(
        f".opblock.opblock-{method.lower()}",
        has=page.locator(f'.opblock-summary-path[data-path="{path}"]'),
    )
    for _ in range(80):
        if block.count():
            block.first.scroll_into_view_if_needed()
            return block.first
        page.evaluate("window.scrollBy(0, window.innerHeight / 2)")
        page.wait_for_timeout(100)
    raise AssertionError(f"Swagger UI drew no operation for {method} {path}")


def check_swagger_ui(page, screenshot, name: str) -> Traffic:
    traffic = record(page)
    page.goto("/api/schema/swagger-ui")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "Gift card service", timeout=RENDERED
    )
    expect(page.locator(".opblock").first).to_be_visible(timeout=RENDERED)
    # The online validator's badge is left out for documents on localhost, so the requests
    # recorded here could not show it; its address is what would be called elsewhere.
    assert page.evaluate("ui.getConfigs().validatorUrl") is None
    jsonapi = swagger_operation(page, "GET", "/api/gift_cards")
    jsonapi.locator(".opblock-summary-control").click()  # its parameters: filters, pages, ...
    expect(jsonapi.locator(".parameters")).to_contain_text("page[size]")
    expect(jsonapi.locator(".parameters")).to_contain_text("filter[q][status_eq]")
    plain = swagger_operation(page, "POST", "/giftcards")
    plain.locator(".opblock-summary-control").click()
    expect(plain.locator(".opblock-body")).to_contain_text("Idempotency-Key")
    page.wait_for_load_state("networkidle")
    screenshot(page, name)
    return traffic


def check_redoc(page, name: str) -> Traffic:
    traffic = record(page)
    page.goto("/api/schema/redoc")

    # Redoc draws every operation; each shows its method and path beside its description.
    for path in ("/api/gift_cards", "/giftcards"):
        endpoint = page.locator("span.http-verb + span", has_text=re.compile(f"^{path}$"))
        expect(endpoint.first).to_be_attached(timeout=RENDERED)
    operation = page.locator('[data-section-id$="/operation/gift_cards_list"]')
    expect(operation).to_contain_text("page[number]")
    operation.evaluate("section => section.scrollIntoView()")  # its top: title and parameters
    page.wait_for_load_state("networkidle")
    # The viewport only: Redoc's page, every operation drawn, is too tall for one picture.
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    return traffic


def assert_served_here(traffic: Traffic, refused: frozenset[str] = frozenset()) -> None:
    assert traffic.requests, "the page made no request at all"
    assert not traffic.sent_outside(), traffic.sent_outside()
    assert set(traffic.refused) <= refused, traffic.refused
    assert not traffic.failures, traffic.failures
    assert any(SIDECAR in url for url in traffic.static()), traffic.requests


# ------------------------------------------------------------------ development settings


def test_swagger_ui_draws_both_apis_from_this_server_only(page, screenshot):
    traffic = check_swagger_ui(page, screenshot, "api-docs-swagger-ui")

    assert_served_here(traffic)
    assert any(urlsplit(url).path == "/api/schema" for url in traffic.requests)


def test_redoc_draws_both_apis_from_this_server_only(page):
    traffic = check_redoc(page, "api-docs-redoc")

    # No web fonts from Google (drf-spectacular's page asks for them) and no logo from Redocly.
    assert_served_here(traffic, refused=REDOCLY_LOGO)
    expect(page.get_by_alt_text("redocly logo")).to_have_count(0)
    assert any(urlsplit(url).path == "/api/schema" for url in traffic.requests)


# ------------------------------------------------------------------ production settings


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def production_storages(tmp_path_factory) -> dict:
    """STORAGES as settings.py sets them with DEBUG off, read from a fresh process."""
    code = "import json; from django.conf import settings as s; print(json.dumps(s.STORAGES))"
    folder = tmp_path_factory.mktemp("production")
    result = manage(
        folder,
        "shell",
        "-c",
        code,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=SECRET,
        GIFTCARD_CODE_KEY=CODE_KEY,
        DJANGO_ALLOWED_HOSTS="127.0.0.1",
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def collected(tmp_path_factory, production_storages):
    """STATIC_ROOT filled by `manage.py collectstatic` with the production storage (hashed
    names, compressed copies, a manifest)."""
    root = tmp_path_factory.mktemp("staticfiles")
    with override_settings(DEBUG=False, STATIC_ROOT=root, STORAGES=production_storages):
        call_command("collectstatic", "--noinput", verbosity=0)
    return root


@pytest.fixture
def production(settings, collected, production_storages):
    settings.DEBUG = False
    settings.STATIC_ROOT = collected
    settings.STORAGES = production_storages
    return collected


@pytest.fixture
def production_server(production):
    """This project's WSGI application as gunicorn runs it, on 127.0.0.1: static files come from
    WhiteNoise (reading STATIC_ROOT), not from the finders that live_server's handler uses."""
    server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False)
    server.set_app(WSGIHandler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_collectstatic_gathers_every_file_the_pages_name(production):
    """Without a browser: each static file the two pages name is in STATIC_ROOT, under its
    hashed name."""
    named = []
    for path in ("/api/schema/swagger-ui", "/api/schema/redoc"):
        html = Client().get(path).content.decode()
        named += re.findall(r'(?:src|href)="/static/([^"]+)"', html)

    assert production.joinpath("staticfiles.json").is_file()
    assert {name.split("/")[0] for name in named} == {SIDECAR.rstrip("/")}
    assert len(named) == 5, named  # icon, stylesheet and two scripts; Redoc's one script
    for name in named:
        assert HASHED.search(name), name
        assert production.joinpath(name).is_file(), name


def test_both_pages_work_with_debug_off_from_collected_files(
    browser, production_server, screenshot
):
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, base_url=production_server
    )
    context.set_default_timeout(15_000)
    try:
        swagger = check_swagger_ui(context.new_page(), screenshot, "api-docs-swagger-ui-production")
        redoc = check_redoc(context.new_page(), "api-docs-redoc-production")
    finally:
        context.close()

    assert_served_here(swagger)
    assert_served_here(redoc, refused=REDOCLY_LOGO)
    for traffic in (swagger, redoc):
        for url in traffic.static():
            # The collected copy, under its hashed name, with WhiteNoise's far-future caching.
            assert HASHED.search(urlsplit(url).path), url
            assert "immutable" in traffic.responses[url].get("cache-control", ""), url
