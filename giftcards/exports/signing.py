"""The download link of a finished export:
`<api>/exports/<id>/download?expires=<unix seconds>&signature=<signature>`.

The signature is Django's (django.core.signing, keyed by the secret key, salted for this use)
over the export's id and the moment the link ends, which is the export's `expires_at`: every
read of the export shows the same link, and it stops working when the file is removed. A
link is only half of a download: the request also needs an API key of the export's business
and mode (the view checks it).
"""

from __future__ import annotations

import enum
from datetime import datetime
from urllib.parse import urlencode

from django.core import signing
from django.utils import timezone
from django.utils.crypto import constant_time_compare

SALT = "giftcards.exports.download"


class Verdict(enum.Enum):
    VALID = "valid"
    FORGED = "forged"  # missing, malformed or changed
    EXPIRED = "expired"


def _signature(export_id: str, expires: int) -> str:
    return signing.Signer(salt=SALT).signature(f"{export_id}:{expires}")


def query(export_id: str, expires_at: datetime) -> str:
    """The link's query string."""
    expires = int(expires_at.timestamp())
    return urlencode({"expires": expires, "signature": _signature(export_id, expires)})


def check(export_id: str, expires: str | None, signature: str | None) -> Verdict:
    """Whether a link's parameters are the ones signed for this export, and still current."""
    if not expires or not signature or not expires.isdigit() or len(expires) > 12:
        return Verdict.FORGED
    if not constant_time_compare(signature, _signature(export_id, int(expires))):
        return Verdict.FORGED
    if timezone.now().timestamp() >= int(expires):
        return Verdict.EXPIRED
    return Verdict.VALID
