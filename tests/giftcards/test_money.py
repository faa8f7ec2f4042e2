"""Money: exact conversion between major and minor units, formatting, known currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest

from giftcards import money


@pytest.mark.parametrize(
    ("amount", "currency_code", "cents"),
    [
        ("25", "USD", 2_500),
        (25, "USD", 2_500),
        ("25.5", "USD", 2_550),
        (25.5, "USD", 2_550),
        ("0.10", "USD", 10),
        ("0.1", "USD", 10),
        ("25.50", "USD", 2_550),
        ("25.500", "USD", 2_550),  # trailing zeros lose nothing
        (" 25 ", "USD", 2_500),
        (Decimal("34.80"), "USD", 3_480),
        ("0", "USD", 0),
        ("2500", "JPY", 2_500),
        ("2500.0", "JPY", 2_500),
        ("1.234", "BHD", 1_234),
        ("-5", "EUR", -500),
        ("92233720368547758.07", "USD", 2**63 - 1),
    ],
)
def test_to_minor_is_exact(amount, currency_code, cents):
    result = money.to_minor(amount, currency_code)
    assert result == cents
    assert type(result) is int


@pytest.mark.parametrize(
    ("amount", "currency_code"),
    [
        ("25.555", "USD"),
        ("0.001", "USD"),
        (25.555, "USD"),
        (Decimal("0.005"), "EUR"),
        ("2500.5", "JPY"),
        ("0.1", "JPY"),
        ("1.2345", "BHD"),
    ],
)
def test_too_many_decimals_is_an_error_never_a_rounding(amount, currency_code):
    with pytest.raises(money.MoneyError, match=f"{currency_code} amounts have at most"):
        money.to_minor(amount, currency_code)


@pytest.mark.parametrize(
    "amount",
    [
        "",
        "abc",
        "25,50",
        "$25",
        "25 USD",
        "0x10",
        None,
        [],
        "NaN",
        "nan",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        Decimal("NaN"),
        Decimal("Infinity"),
        float("nan"),
        float("inf"),
    ],
)
def test_non_numeric_and_non_finite_amounts_are_errors(amount):
    with pytest.raises(money.MoneyError):
        money.to_minor(amount, "USD")


@pytest.mark.parametrize(
    "amount",
    [
        "1e1000000",  # past Decimal's exponent range
        "1e999999",
        "12345678901234567890123456789.5",  # more digits than Decimal's 28 of precision
        "1.0000000000000000000000000000001",  # too many decimals, hidden past 28 digits
    ],
)
def test_amounts_beyond_decimal_precision_are_errors_not_roundings(amount):
    with pytest.raises(money.MoneyError):
        money.to_minor(amount, "USD")


@pytest.mark.parametrize(
    ("cents", "currency_code", "major"),
    [
        (2_550, "USD", Decimal("25.50")),
        (10, "USD", Decimal("0.10")),
        (-500, "EUR", Decimal("-5.00")),
        (2_500, "JPY", Decimal("2500")),
        (1_234, "BHD", Decimal("1.234")),
        (0, "USD", Decimal("0.00")),
    ],
)
def test_to_major_has_the_currencys_decimals(cents, currency_code, major):
    result = money.to_major(cents, currency_code)
    assert result == major
    assert str(result) == str(major)


@pytest.mark.parametrize("cents", [0, 1, 10, 99, 2_550, 123_456_789, 2**63 - 1])
def test_to_major_and_to_minor_round_trip(cents):
    assert money.to_minor(money.to_major(cents, "USD"), "USD") == cents


def test_major_number_is_an_integer_when_whole():
    assert money.major_number(2_500, "USD") == 25
    assert type(money.major_number(2_500, "USD")) is int
    assert money.major_number(2_550, "USD") == 25.5


def test_exponent_of_currencies():
    assert (money.exponent("USD"), money.exponent("JPY"), money.exponent("BHD")) == (2, 0, 3)


@pytest.mark.parametrize(
    ("cents", "currency_code", "text"),
    [
        (3_480, "USD", "$34.80"),
        (15_000, "EUR", "€150,00"),
        (-500, "EUR", "-€5,00"),
        (2_500, "JPY", "¥2,500"),
        (0, "USD", "$0.00"),
        (123_456_789, "USD", "$1,234,567.89"),
    ],
)
def test_format_cents_puts_the_symbol_first_with_the_currencys_separators(
    cents, currency_code, text
):
    assert money.format_cents(cents, currency_code) == text


def test_format_cents_of_none_is_none():
    assert money.format_cents(None, "USD") is None


@pytest.mark.parametrize("code", ["USD", "EUR", "JPY", "GBP", "BHD", "CHF"])
def test_current_iso_currencies_are_known(code):
    assert money.is_known_currency(code)


@pytest.mark.parametrize(
    "code", ["XYZ", "usd", "Usd", "", "US", "USDD", "DEM", "FRF", "ITL", "XXX", None, 840]
)
def test_unknown_lowercase_empty_and_historical_currencies_are_not_known(code):
    assert not money.is_known_currency(code)
