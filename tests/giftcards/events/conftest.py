"""Events fixtures: a receiver on 127.0.0.1 and webhooks of the test tenant pointing at it."""

from __future__ import annotations

import pytest

from giftcards.events import webhooks
from tests.giftcards.events.receiver import Receiver


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def loopback_http(settings):
    """Loopback receivers allowed (the development and test setting), short timeouts."""
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    settings.WEBHOOK_TIMEOUT = 2
    settings.WEBHOOK_CONNECT_TIMEOUT = 1
    return settings


@pytest.fixture
def make_webhook(tenant, actor, receiver, loopback_http):
    def make(topic="gift_cards.balance_change", **kwargs):
        kwargs.setdefault("callback_url", receiver.url)
        return webhooks.webhook_create(
            tenant=kwargs.pop("tenant", tenant), actor=actor, topic=topic, **kwargs
        )

    return make
