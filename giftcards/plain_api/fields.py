"""Strict input fields for the plain API: JSON types as the seed documents them, no guessing."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from giftcards import dates, money

# Larger amounts are refused before they can overflow a 64-bit column.
MAX_CENTS = 10**13
# The last moment the service accepts (giftcards/dates.py): 9999-12-31T00:00:00Z.
MAX_EPOCH_MS = (dates.LATEST - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(
    milliseconds=1
)
# ASCII digits only (`\d` would accept "²"), and few enough that int() is cheap and safe.
_DIGITS = re.compile(r"^[0-9]{1,19}$")
MAX_ID = 2**63 - 1
ID_MESSAGE = "Must be a whole number from 1."
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A number written as a string: "25", "25.5", "-3"; no exponent, no "Infinity".
_PLAIN_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
# Epoch milliseconds before this are another format sent by mistake: 20300101 (YYYYMMDD) or
# 1900000000 (seconds) would otherwise be read as a moment of January 1970.
EARLIEST_EXPIRY_MS = 946684800000  # 2000-01-01T00:00:00Z


def parse_id(value) -> int | None:
    """A positive 64-bit id from a JSON integer or a string of digits, else None."""
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        return None
    return value


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def epoch_ms(value: dt.datetime | None) -> int | None:
    # Integer arithmetic: float timestamps lose the last millisecond now and then.
    return None if value is None else (value - EPOCH) // dt.timedelta(milliseconds=1)


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]+$"}]})
class StrictIntegerField(serializers.Field):
    """A JSON integer (or a string of digits); never a boolean or a fraction."""

    default_error_messages = {
        "invalid": "Must be a whole number.",
        "min_value": "Must be positive.",
        "max_value": f"Must be at most {MAX_ID}.",
    }

    def to_internal_value(self, data):
        value = parse_id(data)
        if value is None:
            if isinstance(data, int) and not isinstance(data, bool):
                self.fail("min_value" if data < 1 else "max_value")
            self.fail("invalid")
        return value

    def to_representation(self, value):
        return value


@extend_schema_field(
    {
        "oneOf": [{"type": "number"}, {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}],
        "description": 'Major units: 25, 25.5 or "25"; no more decimals than the currency has.',
    }
)
class MajorAmountField(serializers.Field):
    """An amount in major units (`25`, `"25"`, `25.5`) -> integer minor units.

    The currency comes from the serializer context. More decimals than the currency has is an
    error, never a rounding. With `major=True` the value stays a Decimal in major units, for
    a service that converts it with the card's currency under the card's lock.
    """

    default_error_messages = {
        "invalid": "Must be a number in major units, such as 25 or 25.50.",
        "negative": "Cannot be negative.",
        "zero": "Must be greater than zero.",
        "too_large": "Is too large.",
    }

    def __init__(self, *, allow_zero: bool = True, major: bool = False, **kwargs):
        self.allow_zero = allow_zero
        self.major = major
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float | Decimal | str):
            self.fail("invalid")
        if isinstance(data, str) and not _PLAIN_NUMBER.match(data.strip()):
            self.fail("invalid")
        if self.major:
            return self._major(data)
        currency = self.context["currency_code"]
        try:
            cents = money.to_minor(data, currency)
        except money.MoneyError as exc:
            raise serializers.ValidationError(str(exc), code="invalid") from exc
        if cents < 0:
            self.fail("negative")
        if cents == 0 and not self.allow_zero:
            self.fail("zero")
        if cents > MAX_CENTS:
            self.fail("too_large")
        return cents

    def _major(self, data) -> Decimal:
        try:
            value = Decimal(str(data).strip())
        except ArithmeticError:
            self.fail("invalid")
        if not value.is_finite():
            self.fail("invalid")
        if value < 0:
            self.fail("negative")
        if value == 0 and not self.allow_zero:
            self.fail("zero")
        return value


@extend_schema_field({"type": "integer", "format": "int64", "description": "Epoch milliseconds."})
class EpochMillisField(serializers.Field):
    """Milliseconds since 1970-01-01T00:00:00Z, as the seed's dates are."""

    default_error_messages = {
        "invalid": "Must be a date in epoch milliseconds (an integer).",
        "out_of_range": f"Must be a moment in epoch milliseconds {dates.RANGE_TEXT}.",
    }

    def to_internal_value(self, data):
        if isinstance(data, str) and _DIGITS.match(data.strip()):
            data = int(data.strip())
        if isinstance(data, bool) or not isinstance(data, int) or data < 0:
            self.fail("invalid")
        if data > MAX_EPOCH_MS:
            self.fail("out_of_range")
        return EPOCH + dt.timedelta(milliseconds=data)

    def to_representation(self, value):
        return epoch_ms(value)


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "format": "date"}, {"type": "integer", "format": "int64"}],
        "nullable": True,
        "description": "The last valid day (YYYY-MM-DD) or epoch milliseconds within it.",
    }
)
class ExpireDateField(serializers.Field):
    """The expiry day, "YYYY-MM-DD" (or epoch milliseconds), in the business's time zone.

    The card is valid through the end of that day, so the stored `expires_at` is the next
    midnight there.
    """

    default_error_messages = {
        "invalid": 'Must be a date as "YYYY-MM-DD", epoch milliseconds, or null.',
        "implausible": (
            "{value} in epoch milliseconds is {moment:%Y-%m-%d %H:%M} UTC: send the day as "
            '"YYYY-MM-DD", or the moment in milliseconds.'
        ),
        "out_of_range": (
            "The card would expire at the end of {day} in the business's time zone, outside "
            f"the moments accepted ({dates.RANGE_TEXT})."
        ),
    }

    def to_internal_value(self, data):
        tz = self.context["business"].tzinfo
        if isinstance(data, str) and _DATE.match(data.strip()):
            try:
                day = dt.date.fromisoformat(data.strip())
            except ValueError:
                self.fail("invalid")
        else:
            epoch = EpochMillisField(error_messages={"invalid": self.error_messages["invalid"]})
            moment = epoch.to_internal_value(data)
            if moment < EPOCH + dt.timedelta(milliseconds=EARLIEST_EXPIRY_MS):
                self.fail("implausible", value=data, moment=moment)
            day = moment.astimezone(tz).date()
        if day >= dt.date.max:
            self.fail("out_of_range", day=day)
        expires_at = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        if not dates.in_range(expires_at):
            self.fail("out_of_range", day=day)
        return expires_at

    @staticmethod
    def day_of(expires_at: dt.datetime | None, tz) -> str | None:
        if expires_at is None:
            return None
        # Step back in absolute time, then look at the wall clock: zones whose clocks jump at
        # midnight have no 23:59:59.999999 on some days.
        last_valid_moment = (expires_at - dt.timedelta(microseconds=1)).astimezone(tz)
        return last_valid_moment.date().isoformat()
