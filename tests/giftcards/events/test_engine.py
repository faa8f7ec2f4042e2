"""The kick after a commit: one delayed dispatch per interval and process, never an error
for the request whose money moved."""

from __future__ import annotations

import logging

import pytest

from giftcards import services
from giftcards.events import engine, tasks


@pytest.fixture
def queued(monkeypatch):
    """The dispatch tasks queued (the broker is the edge: replaced by a list)."""
    sent = []
    monkeypatch.setattr(tasks.dispatch, "apply_async", lambda **kw: sent.append(kw))
    monkeypatch.setattr(engine, "KICK_INTERVAL", 60)  # a slow machine stays within it
    engine.reset()
    yield sent
    engine.reset()


@pytest.mark.django_db(transaction=True)
def test_a_commit_with_events_queues_one_delayed_dispatch(make_card, actor, queued):
    card = make_card()
    assert queued == [{"countdown": 60}]
    for _ in range(5):
        services.card_debit(card=card, amount_cents=1, actor=actor)
    assert len(queued) == 1  # within the interval: the queued dispatch will see them


def test_nothing_is_queued_before_the_commit(make_card, queued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        make_card()
    assert queued == []
    for callback in callbacks:
        callback()
    assert len(queued) == 1


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_fails_is_logged_and_left_alone_for_a_while(
    make_card, actor, monkeypatch, caplog
):
    calls = []

    def refuse(**kwargs):
        calls.append(kwargs)
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.dispatch, "apply_async", refuse)
    engine.reset()
    with caplog.at_level(logging.WARNING):
        card = make_card()  # the money moves; the kick's failure is only logged
        services.card_debit(card=card, amount_cents=1, actor=actor)
    engine.reset()
    assert len(calls) == 1
    assert "Could not queue the event dispatch (ConnectionError: broker down)" in caplog.text
    card.refresh_from_db()
    assert card.balance_cents == 9_999
