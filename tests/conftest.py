"""Shared fixtures: businesses, tenants, actors, API keys and a card factory."""

from __future__ import annotations

import re

import pytest
from django.db import OperationalError, connection, transaction
from django.test.utils import override_settings

from clients.services import api_key_create, business_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import services
from giftcards.events import webhooks
from giftcards.models import Status
from giftcards_project.celery import app as celery_app
from tests import caches, network_guard
from tests.giftcards.events.receiver import Receiver

network_guard.install()


def pytest_collection_modifyitems(config, items):
    if connection.vendor == "postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL to a postgres:// URL)")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _stays_on_this_machine():
    """Fails a test that tried to reach past loopback (tests/network_guard.py), even if the
    code under test caught the refusal."""
    network_guard.attempts.clear()
    yield
    tried, network_guard.attempts[:] = list(network_guard.attempts), []
    assert not tried, f"Tried to leave this machine: {tried}"


@pytest.fixture(scope="session", autouse=True)
def _tasks_go_nowhere():
    """Tasks queued by the code under test (a commit's kick) go to an in-memory broker; tests
    work events off with `giftcards.events.work.drain()` or start real workers."""
    celery_app.conf.broker_url = "memory://"
    yield


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """On PostgreSQL, each table's ids start in a range of their own (table n at n * 10**7).

    PostgreSQL hands out ids from sequences that a rolled-back test does not rewind, so a
    table's next id depends on every test that ran before on that database, which under
    pytest-xdist (`make test`) changes from run to run. Apart, ids of two tables can never be
    equal by chance: a test that holds a client's id against a recipient's cannot pass or
    fail on the luck of the schedule. SQLite rewinds its ids with the rollback: untouched."""
    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT schemaname, sequencename FROM pg_sequences "
            "WHERE schemaname = current_schema() ORDER BY sequencename"
        )
        for n, (schema, sequence) in enumerate(cursor.fetchall(), start=1):
            name = connection.ops.quote_name(schema) + "." + connection.ops.quote_name(sequence)
            cursor.execute("SELECT setval(%s::regclass, %s, false)", [name, n * 10**7])


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing():
    """Tests only: MD5 instead of PBKDF2's many iterations, for every password the suite sets
    or checks (staff users, demo logins, the live server's logins). Production settings are
    untouched; no test is about the hash itself."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture
def business(db):
    return business_create(name="Acme Books", currency_code="USD")


@pytest.fixture
def other_business(db):
    return business_create(name="Other Shop", currency_code="EUR", locale="de_DE")


@pytest.fixture
def tenant(business):
    return Tenant(business=business, mode=Mode.LIVE)


@pytest.fixture
def actor():
    return Actor.system("tester")


@pytest.fixture
def api_key(business):
    """(ApiKey, secret) of the live mode of `business`."""
    return api_key_create(business=business, name="pos-1", mode=Mode.LIVE)


@pytest.fixture
def make_card(tenant, actor):
    """Issue a card through the services; active with 100.00 USD unless told otherwise."""

    def make(**kwargs):
        kwargs.setdefault("balance_cents", 10_000)
        kwargs.setdefault("status", Status.ACTIVE)
        return services.card_issue(
            tenant=kwargs.pop("tenant", tenant), actor=kwargs.pop("actor", actor), **kwargs
        )

    return make


@pytest.fixture
def redis_cache(settings):
    """The cache is a real Redis (TEST_REDIS_URL), under a key prefix of this test's own."""
    caches.require_redis()
    settings.CACHES = caches.redis_caches(caches.REDIS_URL)
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    yield
    caches.forget(prefix)


@pytest.fixture
def redis_down(settings):
    """The cache is a Redis at a closed port: every call is refused."""
    settings.CACHES = caches.redis_caches(f"redis://127.0.0.1:{caches.closed_port()}/0")


class DatabaseGoneAfterCommit:
    """A fault for `connection.execute_wrapper`: the database goes away the moment the first
    transaction that writes a card or a ledger row commits (a terminated backend, a
    failover). Every later statement fails as a dropped connection does. `gone` says whether
    the commit happened."""

    WRITES = re.compile(r'^\s*(INSERT INTO|UPDATE)\s+"?giftcards_(giftcard|balancelog)"?\s', re.I)

    def __init__(self):
        self.armed = False
        self.gone = False

    def __call__(self, execute, sql, params, many, context):
        if self.gone:
            raise OperationalError("server closed the connection unexpectedly")
        result = execute(sql, params, many, context)
        if not self.armed and connection.in_atomic_block and self.WRITES.match(sql):
            self.armed = True
            transaction.on_commit(self._go)
        return result

    def _go(self):
        self.gone = True


@pytest.fixture
def database_gone_after_commit():
    """Run a request under `with connection.execute_wrapper(fault):`; needs a transactional
    test (django_db(transaction=True)), since only real commits run on_commit callbacks."""
    return DatabaseGoneAfterCommit()


@pytest.fixture
def receiver():
    """A webhook receiver on 127.0.0.1 (tests/giftcards/events/receiver.py)."""
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def loopback_http(settings):
    """Callbacks to this machine allowed (the development and test setting), short timeouts."""
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    settings.WEBHOOK_TIMEOUT = 2
    settings.WEBHOOK_CONNECT_TIMEOUT = 1
    return settings


@pytest.fixture
def make_webhook(tenant, actor, receiver, loopback_http):
    """A webhook made through the service, calling `receiver` unless told otherwise."""

    def make(topic="gift_cards.balance_change", **kwargs):
        kwargs.setdefault("callback_url", receiver.url)
        return webhooks.webhook_create(
            tenant=kwargs.pop("tenant", tenant), actor=actor, topic=topic, **kwargs
        )

    return make
