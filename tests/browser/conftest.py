"""Real headless Chromium (Debian's `chromium` package) driven by Playwright for Python,
against pytest-django's live server. Screenshots go to test-artifacts/ (ignored by git).

Without Chromium the tests skip loudly, except under CI, where they fail: `make test`
installs it (apt-get install chromium) when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group

from clients.models import User
from clients.services import business_create

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
PASSWORD = "browser-test-password-1"
SKIP_BANNER = "!!! BROWSER TESTS SKIPPED: "
_skipped: list[str] = []


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -r requirements.txt)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"{CHROMIUM} is missing (apt-get install chromium; `make test` does it as root)"
    return None


@pytest.fixture(scope="module")
def browser():
    problem = _missing()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"Browser tests need Chromium under CI: {problem}", pytrace=False)
        _skipped.append(problem)
        pytest.skip(f"{SKIP_BANNER}{problem}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread, which makes Django refuse ORM
    # calls from the test itself; allow them only while this module's browser is up.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_server.url)
    context.set_default_timeout(15_000)
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture
def screenshot(request):
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def roles(transactional_db):
    """The role groups: a transactional test's flush removes what the migration created."""
    migration = importlib.import_module("clients.migrations.0003_staff_roles")
    migration.create_roles(apps)


@pytest.fixture
def shop(transactional_db):
    return business_create(name="Corner Books", currency_code="USD")


@pytest.fixture
def staff_user(roles, shop):
    def make(role: str) -> User:
        user = User.objects.create_user(
            username=f"{role}-browser", password=PASSWORD, is_staff=True, business=shop
        )
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def log_in():
    def enter(page, user: User) -> None:
        page.goto("/admin/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/admin/")

    return enter


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Under pytest-xdist (`--dist loadgroup`, as `make test` runs it) every browser test goes
    to one worker and runs there in a row, so Chromium starts once per run, not once for each
    stretch of browser tests a worker happens to be sent. Tried first: xdist reads the group
    in its own hook. Without xdist the marker does nothing."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.xdist_group("browser"))


def pytest_terminal_summary(terminalreporter):
    # Read from the skip reports, not only from _skipped: under pytest-xdist the skip happens
    # in a worker process, and only its report reaches the process that prints this.
    reasons = list(_skipped)
    for report in terminalreporter.stats.get("skipped", []):
        message = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        if SKIP_BANNER in message:
            reasons.append(message.split(SKIP_BANNER, 1)[1])
    if reasons:
        terminalreporter.write_sep("!", "BROWSER TESTS WERE SKIPPED", red=True, bold=True)
        terminalreporter.write_line(f"Reason: {reasons[0]}", red=True)
