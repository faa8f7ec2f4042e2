"""Money in one place: integer minor units, parsing of major units, and display via Babel."""

from __future__ import annotations

import functools
from decimal import Decimal, DecimalException, Inexact, InvalidOperation, localcontext

from babel.core import Locale, get_global
from babel.numbers import get_currency_precision, parse_pattern

# Formatting puts the symbol first with the currency's own separators ("$34.80", "€150,00",
# "¥2,500"), so each currency is formatted in a locale that writes it natively. Currencies not
# listed use the business's locale.
CURRENCY_LOCALES = {
    "USD": "en_US",
    "EUR": "de_DE",
    "GBP": "en_GB",
    "JPY": "en_US",  # "¥", where ja_JP would print the full-width "￥"
    "CAD": "en_CA",
    "AUD": "en_AU",
    "NZD": "en_NZ",
    "CHF": "de_CH",
    "SEK": "sv_SE",
    "NOK": "nb_NO",
    "DKK": "da_DK",
    "PLN": "pl_PL",
    "BRL": "pt_BR",
    "MXN": "es_MX",
    "INR": "en_IN",
}
SYMBOL_FIRST_PATTERN = "¤#,##0.00"


class MoneyError(ValueError):
    """An amount that cannot be represented exactly in the currency."""


@functools.cache
def _current_currencies() -> frozenset[str]:
    """ISO 4217 codes that some territory uses today (no historical or fund codes)."""
    codes = set()
    for entries in get_global("territory_currencies").values():
        for code, _start, end, tender in entries:
            if end is None and tender:
                codes.add(code)
    return frozenset(codes)


def is_known_currency(code: object) -> bool:
    return isinstance(code, str) and code in _current_currencies()


@functools.cache
def exponent(currency_code: str) -> int:
    """Number of decimals of the currency's minor unit (2 for USD, 0 for JPY, 3 for BHD)."""
    return get_currency_precision(currency_code)


def to_minor(amount: Decimal | int | str, currency_code: str) -> int:
    """Major units -> minor units, exactly. Too many decimals is an error, never a rounding."""
    try:
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"{amount!r} is not a number.") from exc
    if not value.is_finite():
        raise MoneyError(f"{amount!r} is not a finite number.")
    try:
        # scaleb works to the context's 28 digits: a longer or huge input would be rounded
        # (or overflow) without a word, unless rounding is an error.
        with localcontext() as context:
            context.traps[Inexact] = True
            scaled = value.scaleb(exponent(currency_code))
    except DecimalException as exc:
        raise MoneyError(f"{amount!r} cannot be represented exactly in {currency_code}.") from exc
    if scaled != scaled.to_integral_value():
        raise MoneyError(
            f"{currency_code} amounts have at most {exponent(currency_code)} decimal places."
        )
    return int(scaled)


def to_major(cents: int, currency_code: str) -> Decimal:
    """Minor units -> a Decimal in major units with the currency's decimals."""
    digits = exponent(currency_code)
    return Decimal(cents).scaleb(-digits).quantize(Decimal(1).scaleb(-digits))


def to_float(cents: int | None, currency_code: str) -> float | None:
    """For `*_float` display fields only; never used in arithmetic."""
    return None if cents is None else float(to_major(cents, currency_code))


def major_number(cents: int, currency_code: str) -> int | float:
    """A JSON number in major units: an integer when whole (`25`), else a decimal (`25.5`)."""
    value = to_major(cents, currency_code)
    if value == value.to_integral_value():
        return int(value)
    return float(value)


@functools.cache
def _pattern_and_locale(currency_code: str, locale: str) -> tuple:
    """Babel's parsed pattern and locale, once per currency and locale (format_currency
    would look both up on every call)."""
    return parse_pattern(SYMBOL_FIRST_PATTERN), Locale.parse(
        CURRENCY_LOCALES.get(currency_code, locale)
    )


def format_cents(cents: int | None, currency_code: str, locale: str = "en_US") -> str | None:
    if cents is None:
        return None
    pattern, babel_locale = _pattern_and_locale(currency_code, locale)
    return pattern.apply(
        to_major(cents, currency_code), babel_locale, currency=currency_code, currency_digits=True
    )
