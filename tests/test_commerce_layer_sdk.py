"""The Commerce Layer JS SDK, unmodified but for the URL (tests/sdk/webhooks.mjs), against a
live server: it creates a webhook for `gift_cards.activate`, lists events, reads a card's
events and attachments, creates an attachment and resets a circuit; the webhook it created
then receives a signed call when a card is activated.

Needs Node.js 20 and the SDK installed in tests/sdk (`make test` runs `npm ci` there); skipped
without them, except under CI, where that fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import standardwebhooks

from giftcards import services
from giftcards.events import work
from giftcards.models import Attachment, Status, Webhook

SDK = Path(__file__).resolve().parent / "sdk"


def node() -> str:
    found = shutil.which("node")
    problem = None
    if found is None:
        problem = "Node.js is not installed"
    elif not (SDK / "node_modules" / "@commercelayer" / "sdk").is_dir():
        problem = "the SDK is not installed (make test runs npm ci in tests/sdk)"
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"The Commerce Layer SDK check cannot run under CI: {problem}.")
        pytest.skip(problem)
    return found


def run_sdk(script: str, live_server, api_key, **env: str) -> dict:
    """Runs tests/sdk/<script> against the live server as the key's holder; what it printed."""
    executable = node()
    run = subprocess.run(
        [executable, str(SDK / script)],
        cwd=SDK,
        env={
            "PATH": os.environ.get("PATH", ""),
            "API_URL": f"{live_server.url}/api",
            "API_KEY": api_key[1],
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


@pytest.mark.django_db(transaction=True)
def test_the_commerce_layer_sdk_manages_webhooks_events_and_attachments(
    live_server, settings, receiver, make_card, api_key, actor
):
    settings.WEBHOOK_ALLOW_LOOPBACK_HTTP = True
    card = make_card(status=Status.INACTIVE)
    result = run_sdk(
        "webhooks.mjs", live_server, api_key, CARD_ID=card.pk, CALLBACK_URL=receiver.url
    )

    hook = Webhook.objects.get()
    assert result["webhook"] == {
        "id": str(hook.pk),
        "topic": "gift_cards.activate",
        "callback_url": receiver.url,
        "circuit_state": "closed",
        "has_secret": True,
    }
    assert "gift_cards.activate" in result["events"]
    assert result["event_count"] == len(result["events"]) == 7
    assert result["activate_webhooks"] == [str(hook.pk)]
    assert set(result["card_events"]) == {
        "gift_cards.create",
        "gift_cards.purchase",
        "gift_cards.activate",
        "gift_cards.deactivate",
        "gift_cards.redeem",
        "gift_cards.destroy",
        "gift_cards.balance_change",
    }
    attachment = Attachment.objects.get()
    assert (attachment.attachable_type, attachment.attachable_id) == ("gift_cards", card.pk)
    assert result["card_attachments_before"] == 0
    assert result["card_attachments_after"] == ["Receipt"]
    assert result["included_attachments"] == [str(attachment.pk)]
    assert result["reset"] == {"circuit_state": "closed", "circuit_failure_count": 0}

    # The webhook the SDK made is called, signed, when the card is activated.
    services.card_activate(card=card, actor=actor)
    work.drain()
    call = receiver.wait_for(1)[0]
    payload = standardwebhooks.Webhook(hook.shared_secret).verify(call.body, call.headers)
    assert payload["data"]["id"] == card.pk
    assert payload["meta"]["event"]["name"] == "gift_cards.activate"
