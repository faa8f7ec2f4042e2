"""The kick after a commit: a delayed dispatch published by a thread of its own, a few a
second at most, so no request ever waits for the broker or fails because of it."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from giftcards import services
from giftcards.events import engine, tasks

WAIT = 10  # seconds; only a safety net against a hung test, never asserted on


def wait_for(condition) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, "the publisher did not publish"
        time.sleep(0.01)


@pytest.fixture
def published(monkeypatch):
    """The dispatch tasks published (the broker is the edge: replaced by a list)."""
    sent = []
    monkeypatch.setattr(tasks.dispatch, "apply_async", lambda **kw: sent.append(kw))
    yield sent
    wait_for(lambda: not engine._wanted.is_set())  # nothing left for the next test


@pytest.mark.django_db(transaction=True)
def test_a_commit_with_events_publishes_a_delayed_dispatch(make_card, actor, published):
    card = make_card()
    wait_for(lambda: published)
    assert published[0] == {"countdown": engine.KICK_INTERVAL}
    for _ in range(20):
        services.card_debit(card=card, amount_cents=1, actor=actor)
    wait_for(lambda: not engine._wanted.is_set())
    # Twenty commits, a handful of messages: each covers every event committed before it runs.
    assert 1 <= len(published) <= 21


def test_nothing_is_published_before_the_commit(
    make_card, published, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        make_card()
    time.sleep(engine.KICK_INTERVAL * 3)
    assert published == []
    for callback in callbacks:
        callback()
    wait_for(lambda: published)


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_hangs_never_holds_the_request(make_card, actor, monkeypatch):
    release = threading.Event()
    publishing = threading.Event()
    callers = []

    def hang(**kwargs):
        callers.append(threading.current_thread())
        publishing.set()
        release.wait(WAIT)

    monkeypatch.setattr(tasks.dispatch, "apply_async", hang)
    card = make_card()
    publishing.wait(WAIT)
    # The publisher is stuck on the broker; money keeps moving and each commit returns.
    for _ in range(3):
        services.card_debit(card=card, amount_cents=1, actor=actor)
    assert not release.is_set()
    assert threading.current_thread() not in callers  # the broker is the publisher's alone
    release.set()
    card.refresh_from_db()
    assert card.balance_cents == 9_997


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_fails_is_logged_and_retried_later(make_card, monkeypatch, caplog):
    failed = threading.Event()

    def refuse(**kwargs):
        failed.set()
        raise ConnectionError("broker down")

    monkeypatch.setattr(engine, "BROKER_BACKOFF", 0.01)
    monkeypatch.setattr(tasks.dispatch, "apply_async", refuse)
    with caplog.at_level(logging.WARNING):
        make_card()
        failed.wait(WAIT)
        wait_for(lambda: "broker down" in caplog.text)
    assert "Could not queue dispatch (ConnectionError: broker down)" in caplog.text


def test_a_sweep_is_asked_for_through_the_same_thread(monkeypatch):
    swept = []
    monkeypatch.setattr(tasks.sweep, "apply_async", lambda **kw: swept.append(kw))
    engine.kick_sweep()
    wait_for(lambda: swept)
