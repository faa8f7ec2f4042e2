"""Conditional requests for both APIs: `ETag`, `If-Match` on card writes and
`If-None-Match` (304 Not Modified) on single-resource reads.

Both APIs let a client write a card's balance directly (`balance_cents`, `balanceAmount`;
the plain API even requires it on every update), which the ledger records as an
adjustment. A client that sends back a card it read before a till debited it would silently
undo that debit. A single card's responses carry an `ETag` holding the card's version (it
changes with every write, balance changes included); an update sent with `If-Match` is
refused with 412, writing nothing, when the card has changed since. The services check it on
the locked row (`services.lock_card`); this module only speaks HTTP.

A representation can change without the card's version changing: the JSON:API card shows its
recipient's email, its market's name and its tags, each changed through its own resource, and
`fields[...]` and `include` change the document itself. So the `ETag` of a single-resource
GET is a strong validator of the bytes sent: a hash of the media type and the encoded body.
For a card it is prefixed with the card's version, `"<version>-<body hash>"`, so the same tag
serves both preconditions:

- `If-None-Match` (GET and HEAD) compares whole tags, weakly as RFC 9110 asks (`W/` is
  ignored on both sides); `*` matches any current representation. A match is a 304 with no
  body. The lookup runs first, so another tenant's id stays a 404.
- `If-Match` (card writes) compares the version part only: a card update is refused when the
  card changed, not when a related resource or the requested fields did. A bare version (the
  `ETag` of a write's response) is accepted as well.
"""

from __future__ import annotations

import hashlib

from django.http import HttpResponseNotModified
from django.utils.http import parse_etags

from giftcards.models import GiftCard
from giftcards.services import card_version

HEADER = "If-Match"
READS = frozenset({"GET", "HEAD"})
# Sent with every response that carries a body-hash ETag: tenant data (never for shared
# caches), to be revalidated with If-None-Match before each reuse.
CACHE_CONTROL = "private, no-cache"
# Representation metadata a 304 leaves out (RFC 9110 15.4.5); Content-Location is kept.
# Content-Length is set again to the 200's.
_BODY_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "content-language", "content-range"}
)
_SEPARATOR = "-"


def card_etag(card: GiftCard) -> str:
    return card_version(card)


def _version_of(tag: str) -> str:
    """The card version a tag names: `"<version>-<hash>"` -> `"<version>"`; a bare version as
    it is."""
    opaque = tag[1:-1]
    version, separator, _ = opaque.partition(_SEPARATOR)
    return f'"{version}"' if separator else tag


def if_match(request) -> frozenset[str] | None:
    """The card versions `If-Match` accepts; None when absent or `*` (any version). Weak tags
    never match (If-Match compares strongly); a header naming no valid tag matches nothing."""
    sent = request.headers.get(HEADER)
    if sent is None or sent.strip() == "*":
        return None
    return frozenset(_version_of(tag) for tag in parse_etags(sent) if not tag.startswith("W/"))


def representation_etag(content: bytes, media_type: str, version: str | None = None) -> str:
    """A strong ETag of these bytes in this media type, prefixed by a card's version."""
    digest = hashlib.sha256(media_type.encode() + b"\n" + content).hexdigest()[:32]
    if version is None:
        return f'"{digest}"'
    return f'"{version.strip(chr(34))}{_SEPARATOR}{digest}"'


def none_match(request, etag: str) -> bool:
    """Whether `If-None-Match` names `etag` (weak comparison) or is `*`."""
    sent = request.headers.get("If-None-Match")
    if sent is None:
        return False
    tags = parse_etags(sent)
    if tags == ["*"]:
        return True
    current = etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == current for tag in tags)


def conditional_read(request, response):
    """A single-resource GET or HEAD response (DRF, finalized), given its ETag: the 200 as
    rendered, or a 304 when `If-None-Match` names it. A response that is not a 200 is left
    as it is (preconditions apply only to what would otherwise succeed).

    A card view sets `ETag` to the card's version before this runs; it becomes the prefix of
    the body's tag."""
    if request.method not in READS or response.status_code != 200:
        return response
    response.render()
    version = response.get("ETag")
    etag = representation_etag(response.content, response.get("Content-Type", ""), version)
    response["ETag"] = etag
    response["Cache-Control"] = CACHE_CONTROL
    if not none_match(request, etag):
        return response
    not_modified = HttpResponseNotModified()
    for name, value in response.items():
        if name.lower() not in _BODY_HEADERS:
            not_modified[name] = value
    # The 200's length, as RFC 9110 8.6 allows: without it, CommonMiddleware would add
    # `Content-Length: 0`, which a 304 must not send.
    not_modified["Content-Length"] = str(len(response.content))
    not_modified.cookies = response.cookies
    return not_modified
