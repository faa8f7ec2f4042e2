"""`Idempotency-Key` for API writes (both APIs): the one story, in three steps.

1. **Claim** (before the operation, its own short transaction): the key is recorded for the
   API key with a fingerprint of the request. A key already claimed answers at once: its
   stored response again (same request), a 422 (a different request), or a 409 while the
   first request is still running. A claim left by a request that died is taken over after
   `ABANDONED_AFTER`.
2. **Operate**: the view's one service call, in its own transaction, holding the card's lock
   only for the money move. The key also goes on the ledger row (namespaced per API key), and
   the ledger's unique (card, key) makes the money move itself idempotent: even a retry
   that takes over an abandoned claim finds the row under the lock and moves nothing again.
3. **Store** (after the commit): the response is kept on the claim for the retries to come.
   A failed request (4xx) releases the claim, so a client can correct its input and retry
   with the same key.

At rest, the request's fingerprint and the stored response (which may hold a card's full
code) are encrypted with the code key (`codes.encrypt`), and `rotate_code_key` re-encrypts
them with the cards. Encrypting keeps a replay byte-for-byte the first response; re-rendering
from a reference could not (the card may have changed since). A record that no configured key
opens is taken over like an abandoned claim: the request runs again, and the ledger key keeps
its money move single.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from datetime import timedelta
from decimal import Decimal

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.http import HttpResponse
from django.utils import timezone

from clients.models import IdempotencyRecord
from giftcards import codes, exceptions

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
REPLAY_HEADER = "Idempotent-Replayed"
logger = logging.getLogger(__name__)


ABANDONED_AFTER = timedelta(seconds=60)


class InvalidIdempotencyKey(exceptions.GiftCardError):
    code = "invalid_idempotency_key"
    subject = "idempotency_key"


class RequestInProgress(exceptions.GiftCardError):
    """Another request with this key has not finished yet (retry later)."""

    code = "idempotency_key_in_use"
    subject = "idempotency_key"


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


def _opened(record: IdempotencyRecord) -> tuple[str, str] | None:
    """The record's fingerprint and stored body in clear, or None when no configured code key
    decrypts them."""
    try:
        fingerprint = codes.decrypt(record.request_hash)
        body = codes.decrypt(record.response_body) if record.status_code else ""
    except codes.InvalidCode:
        return None
    return fingerprint, body


def _replay(record: IdempotencyRecord, body: str) -> HttpResponse:
    response = HttpResponse(
        body,
        status=record.status_code,
        content_type=record.content_type,
    )
    if record.location:
        response["Location"] = record.location
    response[REPLAY_HEADER] = "true"
    return response


def _claim(api_key, key: str, fingerprint: str) -> IdempotencyRecord | HttpResponse:
    """Step 1: our claim on the key, or the answer to give instead of running."""
    records = IdempotencyRecord.objects.filter(api_key=api_key, key=key)
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                api_key=api_key,
                key=key,
                request_hash=codes.encrypt(fingerprint),
                status_code=0,
                response_body="",
                content_type="",
            )
    except IntegrityError:
        earlier = records.first()  # claimed before, or concurrently
        if earlier is None:
            raise
    abandoned = timezone.now() - ABANDONED_AFTER
    opened = _opened(earlier)
    if opened is None:
        logger.error(
            "%s %r: the stored record cannot be decrypted with the configured code keys; "
            "the request runs again.",
            HEADER,
            key,
        )
        if earlier.status_code or earlier.created_at < abandoned:
            return _take_over(records, earlier, fingerprint, request_hash=earlier.request_hash)
    else:
        stored_fingerprint, body = opened
        if stored_fingerprint != fingerprint:
            raise exceptions.IdempotencyConflict(
                f"{HEADER} {key!r} was already used with a different request; "
                "use a new key for a new request.",
                subject="idempotency_key",
            )
        if earlier.status_code:
            return _replay(earlier, body)
        if earlier.created_at < abandoned:
            return _take_over(
                records, earlier, fingerprint, status_code=0, created_at__lt=abandoned
            )
    raise RequestInProgress(
        f"A request with {HEADER} {key!r} is still being processed; retry in a moment."
    )


def _take_over(records, earlier: IdempotencyRecord, fingerprint: str, **unchanged):
    """Claim `earlier` for this request if it is still as read (`unchanged`): of two retries
    taking over at once, one runs and the other is told to wait."""
    taken = records.filter(pk=earlier.pk, **unchanged).update(
        request_hash=codes.encrypt(fingerprint),
        status_code=0,
        response_body="",
        created_at=timezone.now(),
    )
    if not taken:
        raise RequestInProgress(
            f"A request with {HEADER} {earlier.key!r} is still being processed; retry in a moment."
        )
    earlier.refresh_from_db()
    return earlier


def _release(claim: IdempotencyRecord) -> None:
    """Give the key back after a request that did not succeed, so its retry runs at once.

    A request that failed because its database connection died cannot release on that
    connection: it tries once more on a new one. If the database is unreachable the claim
    stays and is taken over after ABANDONED_AFTER. Releasing is safe even when a move did
    commit before the failure (a commit whose answer was lost): the ledger's copy of the key
    replays it instead of moving the money again."""
    for attempt in range(2):
        try:
            IdempotencyRecord.objects.filter(pk=claim.pk).delete()
            return
        except DatabaseError:
            if attempt or connection.in_atomic_block:
                logger.warning(
                    "Could not release %s %r; it is taken over after %s.",
                    HEADER,
                    claim.key,
                    ABANDONED_AFTER,
                )
                return
            connection.close()


def ledger_key(request, api: str) -> str | None:
    """The request's key as the ledger records it: namespaced per API and API key (the
    ledger's key is unique per card, whoever wrote it)."""
    key = request.headers.get(HEADER)
    if not key:
        return None
    digest = hashlib.sha256(key.strip().encode()).hexdigest()[:40]
    return f"{api}:{request.auth.pk}:{digest}"


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
        claim = _claim(request.auth, key, _fingerprint(request))
        if isinstance(claim, HttpResponse):
            return claim
        try:
            response = handler(view, request, *args, **kwargs)  # step 2
        except BaseException:
            _release(claim)
            raise
        if not 200 <= response.status_code < 300:
            _release(claim)
            return response
        response = view.finalize_response(request, response, *args, **kwargs)
        response.render()
        # Step 3. The money has moved: a failure to store is not the client's problem (a
        # retry takes the claim over later and the ledger key replays the move).
        try:
            IdempotencyRecord.objects.filter(pk=claim.pk).update(
                status_code=response.status_code,
                response_body=codes.encrypt(response.content.decode(response.charset)),
                content_type=response["Content-Type"],
                location=response.get("Location", ""),
            )
        except DatabaseError:
            logger.exception("Could not store the response for %s %r", HEADER, key)
        return response

    wrapper.idempotent = True  # read by the OpenAPI documents

    return wrapper
