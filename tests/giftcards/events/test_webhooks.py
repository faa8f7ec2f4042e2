"""giftcards.events.webhooks' change as an API sends it: attributes and triggers in one
transaction, all or nothing; and a webhook created disabled."""

from __future__ import annotations

import pytest

from giftcards import exceptions
from giftcards.events import webhooks
from giftcards.models import CircuitState, Webhook


def test_a_webhook_can_be_created_disabled(make_webhook):
    assert make_webhook(disabled=True).is_disabled
    assert not make_webhook().is_disabled


def test_attributes_and_triggers_change_together(make_webhook, actor):
    hook = make_webhook()
    Webhook.objects.filter(pk=hook.pk).update(
        circuit_state=CircuitState.OPEN, circuit_failure_count=30
    )
    changed = webhooks.webhook_change(
        webhook=hook, actor=actor, name="paused", disable=True, reset_circuit=True
    )
    stored = Webhook.objects.get(pk=hook.pk)
    assert (stored.name, stored.is_disabled) == ("paused", True)
    assert (stored.circuit_state, stored.circuit_failure_count) == ("closed", 0)
    assert changed.disabled_at == stored.disabled_at
    enabled = webhooks.webhook_change(webhook=stored, actor=actor, enable=True)
    assert not enabled.is_disabled and not Webhook.objects.get(pk=hook.pk).is_disabled


def test_a_refused_change_leaves_the_triggers_undone(make_webhook, actor):
    hook = make_webhook()
    with pytest.raises(exceptions.UnknownTopic):
        webhooks.webhook_change(webhook=hook, actor=actor, disable=True, topic="orders.place")
    assert not Webhook.objects.get(pk=hook.pk).is_disabled


def test_disable_and_enable_at_once_is_refused(make_webhook, actor):
    hook = make_webhook()
    with pytest.raises(exceptions.InvalidValue) as refused:
        webhooks.webhook_change(webhook=hook, actor=actor, disable=True, enable=True)
    assert refused.value.subject == "_enable"
    assert not Webhook.objects.get(pk=hook.pk).is_disabled
