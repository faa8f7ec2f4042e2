"""Import rows: what each input shape may say, read into `CardRow` and `RecipientRow`.

Three shapes of gift card rows are read:

- this service's JSON:API attributes (`code`, `balance_cents`, `initial_balance_cents`,
  `status`, `expires_at`, ...; a whole resource object `{"type", "attributes"}` is unwrapped,
  and the read-only members an export or a GET shows are ignored);
- seed 000's gift card objects (`giftCardUUId`, `clientId`, `amount`, `balanceAmount`,
  `purchaseDate`, `expireDate`, `status`, `active`, ...), verbatim: amounts in major units of
  the business's currency, dates in epoch milliseconds, the expiry day in the business's
  time zone;
- CSV whose header names JSON:API attributes (README "Imports"), values as text.

A row's natural key is its code, else its `reference` and `reference_origin` (a seed 000
row's old `giftCardUUId`); a row with neither gets one from its position and content.

A JSON row is seed 000's when it has one of its own keys (`SEED_000_KEYS`). Every value is
checked with the strict fields both APIs use; a row with a bad value becomes a list of
messages that name it, never an exception.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rest_framework import serializers

from clients.models import Business
from giftcards import money
from giftcards import text as text_rules
from giftcards.fields import (
    JsonObjectField,
    StrictBooleanField,
    StrictCharField,
    StrictDateTimeField,
    StrictEmailField,
    StrictURLField,
)
from giftcards.jsonapi.documents import GIFT_CARD_ATTRIBUTES, RECIPIENT_ATTRIBUTES
from giftcards.models import PUBLIC_ID_PATTERN, Status
from giftcards.plain_api.fields import (
    MAX_CENTS,
    EpochMillisField,
    ExpireDateField,
    MajorAmountField,
    StrictIntegerField,
)

SEED_000_KEYS = frozenset(
    {"giftCardUUId", "clientId", "businessId", "amount", "balanceAmount", "purchaseDate"}
)
SEED_000_MEMBERS = SEED_000_KEYS | {
    "expireDate",
    "status",
    "active",
    "createdDate",
    "createdUser",
    "modifiedDate",
    "modifiedUser",
    # Not in the seed's gift card, but how a client is found when its id is not.
    "emailAddress",
}
SEED_000_STATUSES = {"Active": Status.ACTIVE, "Expired": Status.ACTIVE, "Deleted": Status.ACTIVE}
IMPORTABLE_STATUSES = (Status.DRAFT, Status.INACTIVE, Status.ACTIVE, Status.REDEEMED)
# The JSON:API members a row may set; the other attributes a document shows are read-only
# and ignored (a GET or an export sent back as it is).
CARD_MEMBERS = frozenset(
    {
        "code",
        "currency_code",
        "initial_balance_cents",
        "balance_cents",
        "balance_max_cents",
        "status",
        "single_use",
        "rechargeable",
        "distribute_discount",
        "image_url",
        "expires_at",
        "purchase_date",
        "created_at",
        "reference",
        "reference_origin",
        "metadata",
        "recipient_email",
        "deleted",
    }
)
CARD_IGNORED = frozenset(GIFT_CARD_ATTRIBUTES) - CARD_MEMBERS | {"id", "updated_at"}
RECIPIENT_MEMBERS = frozenset(
    {"email", "first_name", "last_name", "reference", "reference_origin", "metadata"}
)
RECIPIENT_IGNORED = frozenset(RECIPIENT_ATTRIBUTES) - RECIPIENT_MEMBERS | {"id"}
# The reference_origin of cards whose row had no code nor reference (see CardReader.read),
# and of those whose row had a reference without an origin.
ROW_KEY_ORIGIN = "import-row"
REFERENCE_ORIGIN = "import"
PUBLIC_ID = re.compile(PUBLIC_ID_PATTERN)
# A member name shown back in a message: only what looks like one (a CSV without its header
# line has a row of values, perhaps a code, where the names go).
SHOWN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
# Text an export's CSV wrote with a leading "'" so that spreadsheets do not run it.
FORMULA_GUARDED = re.compile(r"^'[=+\-@\t\r]")
CSV_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def unknown_members(names: set, kind: str) -> list[str]:
    """Messages for members a row may not have, naming only those that look like names."""
    shown = sorted(name for name in names if isinstance(name, str) and SHOWN_NAME.match(name))
    messages = [f"{name}: Unknown {kind}." for name in shown]
    hidden = len(names) - len(shown)
    if hidden:
        messages.append(
            f"{hidden} unknown {kind}(s) whose names are not shown (they do not look like "
            "names: a CSV without its header line?)."
        )
    return messages


def unstorable_text(raw: Mapping) -> str | None:
    """Why a row holds text no store can hold (NUL, a lone surrogate), or None."""
    found = text_rules.find_in_json(dict(raw))
    if found is None:
        return None
    path, reason = found
    where = str(path[0]) if path and isinstance(path[0], str) else "the row"
    return f"{where if SHOWN_NAME.match(where) else 'the row'}: {reason}"


@dataclass
class CardRow:
    """A gift card as an import row describes it (amounts in minor units)."""

    index: int
    currency_code: str
    initial_cents: int
    balance_cents: int
    status: str = Status.ACTIVE
    deleted: bool = False
    expired: bool = False  # seed 000's "Expired": expired by the import at the latest
    card_id: str | None = None  # the id it had (seed 000), kept when free
    code: str | None = None
    balance_max_cents: int | None = None
    single_use: bool = False
    rechargeable: bool = True
    distribute_discount: bool = True
    image_url: str = ""
    purchase_date: datetime | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None
    created_by: str = ""
    reference: str = ""
    reference_origin: str = ""
    metadata: dict = field(default_factory=dict)
    recipient_email: str | None = None
    client_id: int | None = None
    client_email: str | None = None

    @property
    def spent_cents(self) -> int:
        return self.initial_cents - self.balance_cents


@dataclass
class RecipientRow:
    index: int
    email: str
    first_name: str = ""
    last_name: str = ""
    reference: str = ""
    reference_origin: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass
class Refused:
    """A row that cannot be imported, and why (each message names its member)."""

    index: int
    messages: list[str]


class _Fields:
    """The strict fields a row's values go through, built once per import."""

    def __init__(self, business: Business):
        self.business = business
        context = {"business": business, "currency_code": business.currency_code}
        self.fields = {
            "text": StrictCharField(allow_blank=True, max_length=255),
            "code": StrictCharField(max_length=64),
            "url": StrictURLField(allow_blank=True, max_length=2000),
            "email": StrictEmailField(max_length=254),
            "name": StrictCharField(allow_blank=True, max_length=100),
            "boolean": StrictBooleanField(),
            "moment": StrictDateTimeField(),
            "metadata": JsonObjectField(),
            "major": MajorAmountField(),
            "epoch": EpochMillisField(),
            "expire_day": ExpireDateField(),
            "id": StrictIntegerField(),
        }
        for one in self.fields.values():
            one._context = context  # an unbound field's root is itself

    def value(self, kind: str, raw: Any, name: str, errors: list[str]) -> Any:
        try:
            return self.fields[kind].run_validation(raw)
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, list) else [exc.detail]
            errors.extend(f"{name}: {message}" for message in detail)
            return None


def cents(raw: Any, name: str, errors: list[str], *, allow_none: bool = False) -> int | None:
    """A whole number of minor units (JSON:API `*_cents`), 0 or more."""
    if raw is None and allow_none:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_CENTS:
        errors.append(f"{name}: Must be a whole number of cents from 0 to {MAX_CENTS}.")
        return None
    return raw


# ---------------------------------------------------------------------------- gift cards


class CardReader:
    """Reads the gift card rows of one import for one business."""

    def __init__(self, business: Business, *, shape: str = "auto"):
        self.business = business
        self.shape = shape  # "auto", "jsonapi" or "seed000"
        self.fields = _Fields(business)

    def read(self, index: int, raw: Any) -> CardRow | Refused:
        if not isinstance(raw, Mapping):
            return Refused(index, ["The row must be an object."])
        if raw.get("type") == "gift_cards" and isinstance(raw.get("attributes"), Mapping):
            raw = raw["attributes"]
        unstorable = unstorable_text(raw)
        if unstorable:
            return Refused(index, [unstorable])
        shape = self.shape
        if shape == "auto":
            shape = "seed000" if SEED_000_KEYS & set(raw) else "jsonapi"
        errors: list[str] = []
        row = self._seed000(index, raw, errors) if shape == "seed000" else None
        if shape != "seed000":
            row = self._jsonapi(index, raw, errors)
        if errors or row is None:
            return Refused(index, errors or ["The row could not be read."])
        if row.reference and not row.reference_origin:
            # A reference alone is kept; its origin says it came with an import, and the two
            # are the row's key.
            row.reference_origin = REFERENCE_ORIGIN
        if not row.code and not (row.reference and row.reference_origin):
            # No natural key of its own: its position and content are one, so that the same
            # import run again finds the card it made.
            digest = hashlib.sha256(
                json.dumps(raw, sort_keys=True, default=str).encode()
            ).hexdigest()[:16]
            row.reference, row.reference_origin = f"row-{index}-{digest}", ROW_KEY_ORIGIN
        return row

    # -------------------------------------------------------------------- JSON:API attributes

    def _jsonapi(self, index: int, raw: Mapping, errors: list[str]) -> CardRow | None:
        errors.extend(unknown_members(set(raw) - CARD_MEMBERS - CARD_IGNORED, "attribute"))
        value = self.fields.value
        currency = raw.get("currency_code", self.business.currency_code)
        if not money.is_known_currency(currency):
            errors.append(f"currency_code: {currency!r} is not an ISO 4217 currency code.")
        balance = cents(raw.get("balance_cents"), "balance_cents", errors)
        initial = balance  # sold for what it holds, unless the row says otherwise
        if "initial_balance_cents" in raw:
            initial = cents(raw["initial_balance_cents"], "initial_balance_cents", errors)
        status = raw.get("status", Status.ACTIVE)
        if not isinstance(status, str) or status not in IMPORTABLE_STATUSES:
            errors.append(f"status: Must be one of {', '.join(IMPORTABLE_STATUSES)}.")
        row = CardRow(
            index=index,
            currency_code=currency,
            initial_cents=initial or 0,
            balance_cents=balance or 0,
            status=status,
        )
        if "code" in raw and raw["code"] is not None:
            row.code = value("code", raw["code"], "code", errors)
        row.balance_max_cents = cents(
            raw.get("balance_max_cents"), "balance_max_cents", errors, allow_none=True
        )
        for name in ("single_use", "rechargeable", "distribute_discount", "deleted"):
            if raw.get(name) is not None:
                setattr(row, name, value("boolean", raw[name], name, errors))
        for name in ("expires_at", "purchase_date", "created_at"):
            if raw.get(name) is not None:
                setattr(row, name, value("moment", raw[name], name, errors))
        for name in ("reference", "reference_origin"):
            if raw.get(name) is not None:
                setattr(row, name, value("text", raw[name], name, errors) or "")
        if raw.get("image_url") is not None:
            row.image_url = value("url", raw["image_url"], "image_url", errors) or ""
        if raw.get("metadata") is not None:
            row.metadata = value("metadata", raw["metadata"], "metadata", errors) or {}
        if raw.get("recipient_email"):
            row.recipient_email = value("email", raw["recipient_email"], "recipient_email", errors)
        self._check_amounts(row, errors)
        return row

    # -------------------------------------------------------------------- seed 000

    def _seed000(self, index: int, raw: Mapping, errors: list[str]) -> CardRow | None:
        errors.extend(unknown_members(set(raw) - SEED_000_MEMBERS, "field"))
        value = self.fields.value
        for required in ("amount", "balanceAmount"):
            if raw.get(required) is None:
                errors.append(f"{required}: This field is required.")
        initial = value("major", raw.get("amount"), "amount", errors)
        balance = value("major", raw.get("balanceAmount"), "balanceAmount", errors)
        status = raw.get("status", "Active")
        if not isinstance(status, str) or status not in SEED_000_STATUSES:
            errors.append('status: Must be "Active", "Deleted" or "Expired".')
        active = raw.get("active", True)
        if not isinstance(active, bool):
            errors.append("active: Must be true or false.")
        row = CardRow(
            index=index,
            currency_code=self.business.currency_code,
            initial_cents=initial or 0,
            balance_cents=balance or 0,
            deleted=status == "Deleted" or active is False,
        )
        card_id = raw.get("giftCardUUId")
        if card_id is not None:
            if not isinstance(card_id, str) or not PUBLIC_ID.match(card_id):
                errors.append("giftCardUUId: Must be 22 characters of URL-safe base64.")
            else:
                row.card_id = card_id
                # Found again by it, wherever the card ends up.
                row.reference, row.reference_origin = card_id, "giftCardUUId"
        if raw.get("clientId") is not None:
            row.client_id = value("id", raw["clientId"], "clientId", errors)
        if raw.get("emailAddress"):
            row.client_email = value("email", raw["emailAddress"], "emailAddress", errors)
        for member, name in (("purchaseDate", "purchase_date"), ("createdDate", "created_at")):
            if raw.get(member) is not None:
                setattr(row, name, value("epoch", raw[member], member, errors))
        if raw.get("expireDate") is not None:
            row.expires_at = value("expire_day", raw["expireDate"], "expireDate", errors)
        row.expired = status == "Expired"
        if raw.get("createdUser") is not None:
            row.created_by = value("text", raw["createdUser"], "createdUser", errors) or ""
        self._check_amounts(row, errors, initial="amount", balance="balanceAmount")
        return row

    @staticmethod
    def _check_amounts(
        row: CardRow,
        errors: list[str],
        *,
        initial: str = "initial_balance_cents",
        balance: str = "balance_cents",
    ) -> None:
        if row.balance_cents > row.initial_cents:
            errors.append(f"{balance}: Cannot exceed {initial} (what the card was sold for).")
        if row.balance_max_cents is not None and row.balance_cents > row.balance_max_cents:
            errors.append(f"{balance}: Cannot exceed balance_max_cents.")
        if row.status == Status.DRAFT and row.spent_cents:
            errors.append("status: A draft card cannot have been spent.")
        if row.balance_cents == 0 and row.status == Status.ACTIVE and row.initial_cents:
            row.status = Status.REDEEMED  # used up, as a debit to 0 leaves a card


# ---------------------------------------------------------------------------- recipients


class RecipientReader:
    def __init__(self, business: Business):
        self.fields = _Fields(business)

    def read(self, index: int, raw: Any) -> RecipientRow | Refused:
        if not isinstance(raw, Mapping):
            return Refused(index, ["The row must be an object."])
        if raw.get("type") == "gift_card_recipients" and isinstance(raw.get("attributes"), Mapping):
            raw = raw["attributes"]
        unstorable = unstorable_text(raw)
        if unstorable:
            return Refused(index, [unstorable])
        errors = unknown_members(set(raw) - RECIPIENT_MEMBERS - RECIPIENT_IGNORED, "attribute")
        value = self.fields.value
        email = value("email", raw.get("email"), "email", errors)
        row = RecipientRow(index=index, email=email or "")
        for name in ("first_name", "last_name"):
            if raw.get(name) is not None:
                setattr(row, name, value("name", raw[name], name, errors) or "")
        for name in ("reference", "reference_origin"):
            if raw.get(name) is not None:
                setattr(row, name, value("text", raw[name], name, errors) or "")
        if raw.get("metadata") is not None:
            row.metadata = value("metadata", raw["metadata"], "metadata", errors) or {}
        return Refused(index, errors) if errors else row


# ---------------------------------------------------------------------------- CSV


def csv_records(text: str | Iterable[str]) -> Iterator[dict[str, Any]]:
    """The rows of a CSV (a header of JSON:API attribute names), as JSON-typed objects: empty
    cells are left out, `*_cents` become integers, booleans and metadata are read."""
    lines = io.StringIO(text.removeprefix("\ufeff")) if isinstance(text, str) else text
    for record in csv.DictReader(lines, restkey="cells_beyond_the_header"):
        yield {name: _csv_value(name, value) for name, value in record.items() if value}


def _csv_value(name: str, value: Any) -> Any:
    if not isinstance(value, str):  # more cells than the header has names: a list
        return value
    value = value.strip()
    if name.endswith("_cents"):
        return int(value) if value.isascii() and value.isdigit() else value
    if name in ("single_use", "rechargeable", "distribute_discount", "deleted"):
        return CSV_BOOLEANS.get(value.lower(), value)
    if name == "metadata":
        try:
            return json.loads(value)
        except ValueError:
            return value
    if FORMULA_GUARDED.match(value):
        return value[1:]  # an export's CSV guards text a spreadsheet would run: undone
    return value
