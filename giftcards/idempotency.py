"""`Idempotency-Key` for API writes that move money (both APIs).

The first successful response for a key (per API key) is stored with a fingerprint of the
request; a retry with the same key and the same request gets that response again, and the
same key with a different request is refused. Failed requests are not stored, so a client
can correct its input and retry with the same key.
"""

from __future__ import annotations

import functools
import hashlib
import json
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.http import HttpResponse

from clients.models import IdempotencyRecord
from giftcards import exceptions

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAY_HEADER = "Idempotent-Replayed"


class InvalidIdempotencyKey(exceptions.GiftCardError):
    code = "invalid_idempotency_key"
    field = HEADER


def _canonical_numbers(value):
    """Numbers by value, not by spelling: 1, 1.0 and 1e0 are the same amount."""
    if isinstance(value, Decimal):
        return f"#{value.normalize()}" if value.is_finite() else f"#{value}"
    if isinstance(value, dict):
        return {key: _canonical_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical_numbers(item) for item in value]
    return value


def _fingerprint(request) -> str:
    """What the request means: method, path (trailing slash optional, as routed), query and
    the JSON body with keys sorted and numbers by value. Unparseable bodies count as bytes."""
    body = request.body
    try:
        parsed = json.loads(body, parse_float=Decimal, parse_int=Decimal)
        canonical = json.dumps(
            _canonical_numbers(parsed), sort_keys=True, separators=(",", ":")
        ).encode()
    except (ValueError, UnicodeDecodeError, RecursionError, ArithmeticError):
        canonical = body
    target = f"{request.path.rstrip('/')}?{request.META.get('QUERY_STRING', '')}"
    digest = hashlib.sha256()
    for part in (request.method.encode(), target.encode(), canonical):
        digest.update(part)
        digest.update(b"\0")
    return digest.hexdigest()


def _replay(record: IdempotencyRecord, fingerprint: str) -> HttpResponse:
    if record.request_hash != fingerprint:
        raise exceptions.IdempotencyConflict(
            f"{HEADER} {record.key!r} was already used with a different request; "
            "use a new key for a new request.",
            field=HEADER,
        )
    response = HttpResponse(
        record.response_body,
        status=record.status_code,
        content_type=record.content_type,
    )
    if record.location:
        response["Location"] = record.location
    response[REPLAY_HEADER] = "true"
    return response


def idempotent(handler):
    """Decorate a DRF view method (post/patch/delete) to honour `Idempotency-Key`."""

    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise InvalidIdempotencyKey(
                f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters."
            )
        fingerprint = _fingerprint(request)
        records = IdempotencyRecord.objects.filter(api_key=request.auth, key=key)
        try:
            with transaction.atomic():
                earlier = records.first()
                if earlier is not None:
                    return _replay(earlier, fingerprint)
                # Claim the key before doing anything: a concurrent retry now waits on the
                # unique index and then replays, instead of running the request a second time
                # and failing on the state the first one left. A failure rolls the claim back.
                record = IdempotencyRecord.objects.create(
                    api_key=request.auth,
                    key=key,
                    request_hash=fingerprint,
                    status_code=0,
                    response_body="",
                    content_type="",
                )
                response = handler(view, request, *args, **kwargs)
                if not 200 <= response.status_code < 300:
                    record.delete()
                    return response
                response = view.finalize_response(request, response, *args, **kwargs)
                response.render()
                record.status_code = response.status_code
                record.response_body = response.content.decode(response.charset)
                record.content_type = response["Content-Type"]
                record.location = response.get("Location", "")
                record.save(
                    update_fields=["status_code", "response_body", "content_type", "location"]
                )
                return response
        except IntegrityError:
            # A concurrent request with this key committed first; ours was rolled back whole.
            earlier = records.first()
            if earlier is None:
                raise
            return _replay(earlier, fingerprint)

    return wrapper
