"""Error reports to Sentry, when SENTRY_DSN is set (settings call `init`; nothing is imported
otherwise). Django and Celery integrations; no personal data, no request bodies, no local
variables, and every event goes through `before_send`, which takes out what must never leave
the service:

- gift card codes: values under code-like keys, code filter values in URLs and query strings
  (as the access log does, giftcards_project/gunicorn_logging.py), and anything shaped like a
  code in any text, shown masked as the service shows codes (`****NB6C`): groups of four
  joined by dashes or spaces (`K7QM-X2PD-9RTA-WF3H-NB6C`, `k7qm x2pd 9rta wf3h`), and runs of
  8 to 40 letters and digits in one case, all digits or all capitals (`60064912345678`,
  `SUMMERGIFTCARD`, `k7qmx2pd9rtawf3hnb6c`; a 32-hex request id too). Mixed-case runs
  (public ids) and lower-case words are kept;
- credentials: the Authorization, Cookie and API key headers, cookies, any value under a
  key that names a secret, key, token, password or signature;
- request bodies (also never read by the SDK: max_request_body_size="never").
"""

from __future__ import annotations

import os
import re
from typing import Any

from giftcards_project.gunicorn_logging import redact_query, redact_text

FILTERED = "[Filtered]"
MASK = "****"
# Keys whose value is never sent, wherever they appear in an event (headers, extra data,
# breadcrumbs' data, contexts). Matched on the lower-cased key with `-` read as `_`.
SECRET_KEY = re.compile(
    r"^(code|codes|code_.*|.*card_code.*|.*authorization.*|.*cookie.*|.*api_?key.*|"
    r".*password.*|.*passwd.*|.*secret.*|.*token.*|.*signature.*|.*session.*|.*csrf.*|"
    r"x_api_key|idempotency_key)$"
)
# A generated code and its like: groups of 4 letters or digits joined by dashes, any case
# (`K7QM-X2PD-9RTA`, `k7qm-x2pd`).
DASHED_CODE = re.compile(r"(?<![A-Za-z0-9-])[A-Za-z0-9]{4}(?:-[A-Za-z0-9]{4}){1,9}(?![A-Za-z0-9-])")
# The same grouped by spaces (`K7QM X2PD 9RTA`): each group capitals and digits, or lower
# case with a digit, so the words of a sentence around it are not taken in.
_GROUP = r"(?:[A-Z0-9]{4}|(?=[a-z]{0,3}[0-9])[a-z0-9]{4})"
SPACED_CODE = re.compile(rf"(?<![A-Za-z0-9-]){_GROUP}(?:[^\S\n]+{_GROUP}){{1,9}}(?![A-Za-z0-9-])")
# A normalised code or a code typed in one case: 8 to 40 letters and digits.
PLAIN_CODE = re.compile(r"(?<![A-Za-z0-9])[A-Za-z0-9]{8,40}(?![A-Za-z0-9])")
# Parts of an event Sentry needs intact (hex ids, versions); they hold no code.
STRUCTURAL = frozenset(
    {"event_id", "trace_id", "span_id", "parent_span_id", "release", "dist", "sdk"}
)


def code_like(run: str) -> bool:
    """Whether a run of letters and digits (separators taken out) could be a code: 8 to 40
    of them, all digits, letters and digits in one case, or all capitals. Mixed case is
    left (public ids like `rSnVGKkHSGCYfalfOuae1g`); so are lower-case words (`constraint`),
    which would otherwise leave no message readable."""
    if not 8 <= len(run) <= 40 or not run.isalnum() or not run.isascii():
        return False
    if run.isdigit():
        return True
    if run != run.upper() and run != run.lower():
        return False
    return run.isupper() or any(char.isdigit() for char in run)


def _masked(match: re.Match) -> str:
    return MASK + re.sub(r"[\s-]", "", match.group(0))[-4:]


def _plain(match: re.Match) -> str:
    return _masked(match) if code_like(match.group(0)) else match.group(0)


def scrub_text(text: str) -> str:
    """Text with code filter values redacted and anything shaped like a code masked."""
    text = redact_text(text)
    text = DASHED_CODE.sub(_masked, text)
    text = SPACED_CODE.sub(_masked, text)
    return PLAIN_CODE.sub(_plain, text)


def _secret(key: object) -> bool:
    return isinstance(key, str) and bool(SECRET_KEY.match(key.lower().replace("-", "_")))


def scrub(value: Any) -> Any:
    """Any part of an event, scrubbed throughout (dicts, lists, strings)."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {
            key: FILTERED if _secret(key) else item if key in STRUCTURAL else scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


def _scrub_request(request: dict) -> dict:
    request = dict(request)
    request.pop("data", None)
    request.pop("cookies", None)
    url = request.get("url")
    query = request.get("query_string")
    if isinstance(query, str):
        request["query_string"] = redact_query(query, url or "")
    elif isinstance(query, dict):
        request["query_string"] = {
            name: "[redacted]" if redact_query(f"{name}=x", url or "") != f"{name}=x" else item
            for name, item in query.items()
        }
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {
            name: FILTERED if _secret(name) else value for name, value in headers.items()
        }
    return request


def before_send(event: dict, hint: dict | None = None) -> dict:
    """Sentry's hook for every error event and transaction: returns the event scrubbed."""
    if isinstance(event.get("request"), dict):
        event = {**event, "request": _scrub_request(event["request"])}
    return scrub(event)


def before_breadcrumb(crumb: dict, hint: dict | None = None) -> dict:
    return scrub(crumb)


def init(dsn: str) -> None:
    """Start the SDK for this process (web or Celery worker). SENTRY_ENVIRONMENT and
    SENTRY_RELEASE are read by the SDK itself; SENTRY_TRACES_SAMPLE_RATE (default 0: no
    performance traces) is the share of requests traced."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        max_request_body_size="never",
        # A frame's variables may hold a code under any name: never sent.
        include_local_variables=False,
        before_send=before_send,
        before_send_transaction=before_send,
        before_breadcrumb=before_breadcrumb,
        traces_sample_rate=float(os.environ.get("SENTRY_TRACES_SAMPLE_RATE") or 0),
    )
