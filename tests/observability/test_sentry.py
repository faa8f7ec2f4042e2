"""Sentry reports: codes, credentials, cookies and bodies are scrubbed from every event by
`before_send` (called here with events as the SDK builds them; nothing is sent), and with
SENTRY_DSN unset the SDK is not even imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from giftcards_project.observability.sentry import before_breadcrumb, before_send

ROOT = Path(__file__).resolve().parent.parent.parent
CODE = "K7QM-X2PD-9RTA-WF3H-NB6C"
CHOSEN = "GIFT2026SUMMER"
API_KEY = "gc_live_9f8e7d6c5b4a.Qx1Secret"


def event() -> dict:
    return {
        "event_id": "a" * 32,
        "level": "error",
        "transaction": "/api/gift_cards/<pk>",
        "request": {
            "url": f"https://cards.example/api/gift_cards?filter[code_eq]={CODE}",
            "method": "POST",
            "query_string": f"filter[q][code_in]={CODE},{CHOSEN}&page[size]=5",
            "headers": {
                "Authorization": f"Bearer {API_KEY}",
                "Cookie": "sessionid=abc123; csrftoken=def456",
                "X-Api-Key": API_KEY,
                "Content-Type": "application/json",
                "X-Request-ID": "probe-1",
            },
            "cookies": {"sessionid": "abc123", "csrftoken": "def456"},
            "data": {"code": CODE, "balance_cents": 100},
        },
        "exception": {
            "values": [
                {
                    "type": "DuplicateCode",
                    "value": f"Card {CODE} already exists; normalised {CHOSEN}.",
                    "stacktrace": {"frames": [{"function": "card_issue", "lineno": 7}]},
                }
            ]
        },
        "breadcrumbs": {
            "values": [
                {"category": "query", "message": f"SELECT 1 WHERE code = '{CODE}'"},
                {"category": "httplib", "data": {"url": f"/x?filter[code]={CHOSEN}"}},
            ]
        },
        "extra": {"code": CHOSEN, "api_key": API_KEY, "card_code_last4": "NB6C"},
        "tags": {"route": "plain-payments"},
    }


def test_before_send_scrubs_codes_credentials_cookies_and_bodies():
    scrubbed = before_send(event(), {})
    text = json.dumps(scrubbed)

    for secret in (CODE, CODE.replace("-", ""), CHOSEN, API_KEY, "abc123", "def456"):
        assert secret not in text
    request = scrubbed["request"]
    assert "data" not in request and "cookies" not in request
    assert request["headers"]["Authorization"] == "[Filtered]"
    assert request["headers"]["Cookie"] == "[Filtered]"
    assert request["headers"]["X-Api-Key"] == "[Filtered]"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Request-ID"] == "probe-1"
    assert request["query_string"] == "filter[q][code_in]=[redacted]&page[size]=5"
    assert request["url"].endswith("?filter[code_eq]=[redacted]")
    # A code in a message is masked as the service shows codes: the last four only.
    assert scrubbed["exception"]["values"][0]["value"] == (
        "Card ****NB6C already exists; normalised ****MMER."
    )
    assert scrubbed["extra"]["code"] == "[Filtered]"
    # What helps find the bug stays.
    assert scrubbed["transaction"] == "/api/gift_cards/<pk>"
    assert scrubbed["tags"] == {"route": "plain-payments"}
    assert scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]["lineno"] == 7


def test_breadcrumbs_are_scrubbed_as_they_are_recorded():
    crumb = before_breadcrumb({"category": "log", "message": f"looked {CODE} up"}, {})

    assert crumb["message"] == "looked ****NB6C up"


def test_request_ids_and_card_ids_are_not_taken_for_codes():
    # A mixed-case public id is no code's shape; a 32-hex request id is a valid code (letters
    # and digits, one case), so it is masked: a masked id costs little, a leaked code money.
    event = {"message": "card rSnVGKkHSGCYfalfOuae1g, request 4bf92f3577b34da6a3ce929d0e0e4736"}

    assert before_send(dict(event), {}) == {
        "message": "card rSnVGKkHSGCYfalfOuae1g, request ****4736"
    }


def test_the_ids_sentry_needs_are_kept():
    ids = {
        "event_id": "4bf92f3577b34da6a3ce929d0e0e4736",
        "contexts": {"trace": {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}},
    }

    assert before_send(dict(ids), {}) == ids


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("60064912345678", "****5678"),  # all digits
        ("SUMMERGIFTCARD", "****CARD"),  # all letters
        ("k7qmx2pd9rtawf3hnb6c", "****nb6c"),  # lower case
        ("K7QM X2PD 9RTA WF3H", "****WF3H"),  # grouped by spaces
        ("k7qm-x2pd-9rta", "****9rta"),  # grouped by dashes, lower case
        ("K7QM-X2PD", "****X2PD"),  # two groups: the shortest code
    ],
)
def test_every_shape_a_code_may_take_is_masked(code, shown):
    scrubbed = before_send({"message": f"no card for {code} here"}, {})

    assert scrubbed == {"message": f"no card for {shown} here"}


def test_words_stay_readable():
    kept = {"message": "IntegrityError: duplicate key value violates unique constraint"}

    assert before_send(dict(kept), {}) == kept


def _python(code: str, **env) -> str:
    environment = {name: value for name, value in os.environ.items() if name != "SENTRY_DSN"}
    environment.update(DJANGO_SETTINGS_MODULE="giftcards_project.settings", **env)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def test_without_a_dsn_the_sdk_is_not_imported():
    out = _python("import django, sys; django.setup(); print('sentry_sdk' in sys.modules)")

    assert out == "False"


def test_with_a_dsn_the_sdk_starts_with_the_scrubber_and_no_personal_data():
    out = _python(
        "import django, json, sentry_sdk; django.setup(); o = sentry_sdk.get_client().options; "
        "print(json.dumps([o['send_default_pii'], o['before_send'].__qualname__, "
        "o['max_request_body_size'], o['include_local_variables'], "
        "sorted(i for i in sentry_sdk.get_client().integrations "
        "if i in ('django', 'celery'))]))",
        # A DSN on this machine's closed port: nothing is sent (no event is captured).
        SENTRY_DSN="http://public@127.0.0.1:9/1",
    )

    assert json.loads(out) == [False, "before_send", "never", False, ["celery", "django"]]
