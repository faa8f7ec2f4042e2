"""Gift card codes: normalising, keyed lookup, encryption at rest, masking and lookup by code."""

from __future__ import annotations

import hashlib
import random

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from clients.tenancy import Mode, Tenant
from giftcards import codes, exceptions, selectors, services
from giftcards.models import GiftCard

CODE = "Gift-2024 Spring-K7QM"


@pytest.mark.parametrize(
    ("code", "normal"),
    [
        ("abcd-efgh", "ABCDEFGH"),
        ("ABCD EFGH", "ABCDEFGH"),
        ("  abcd -- efgh  ", "ABCDEFGH"),
        ("ab\tcd\nef-gh", "ABCDEFGH"),
        ("K7QM-X2PD-9RTA-WF3H-NB6C", "K7QMX2PD9RTAWF3HNB6C"),
        ("ABCDEFGH", "ABCDEFGH"),
    ],
)
def test_normalise_upper_cases_and_drops_spaces_and_dashes(code, normal):
    assert codes.normalise(code) == normal


@pytest.mark.parametrize(
    "variant",
    [
        "GIFT2024SPRINGK7QM",
        "gift2024springk7qm",
        "gift 2024 spring k7qm",
        "G-I-F-T 2024-spring-K7QM",
    ],
)
def test_lookup_hash_is_equal_for_equivalent_codes(variant):
    assert codes.lookup_hash(variant) == codes.lookup_hash(CODE)


def test_lookup_hash_differs_for_different_codes():
    assert codes.lookup_hash("GIFT2024SPRINGK7QM") != codes.lookup_hash("GIFT2024SPRINGK7QN")


def test_lookup_hash_is_keyed(settings):
    plain = hashlib.sha256(codes.normalise(CODE).encode()).hexdigest()
    first = codes.lookup_hash(CODE)
    assert first != plain  # a dump plus a dictionary of codes does not give the codes back
    settings.GIFTCARD_CODE_KEY = "another key"
    second = codes.lookup_hash(CODE)
    assert second != first
    assert len(second) == 64
    assert codes.lookup_hash(CODE.lower()) == second  # still deterministic under the new key


def test_encrypt_decrypt_round_trip_keeps_the_code_as_given():
    token = codes.encrypt(CODE)
    assert codes.decrypt(token) == CODE
    assert codes.normalise(CODE) not in token.upper()


def test_encryption_of_the_same_code_differs_each_time():
    assert codes.encrypt(CODE) != codes.encrypt(CODE)


def test_decrypting_with_another_key_is_an_invalid_code(settings):
    token = codes.encrypt(CODE)
    settings.GIFTCARD_CODE_KEY = "another key"
    with pytest.raises(codes.InvalidCode):
        codes.decrypt(token)


def test_mask_shows_only_the_last_four_characters():
    assert codes.mask(codes.last4(CODE)) == "****K7QM"
    assert codes.last4("k7qm-x2pd-nb6c") == "NB6C"


def test_card_shows_its_code_masked_outside_the_apis(make_card):
    card = make_card(code=CODE)
    assert card.masked_code == "****K7QM"
    assert "GIFT" not in str(card)
    assert str(card).endswith("****K7QM")
    assert card.code == CODE


def test_generated_code_validates_and_normalises_to_twenty_characters():
    code = codes.generate()
    assert len(codes.validate(code)) == codes.GENERATED_LENGTH == 20


def test_validate_returns_the_normalised_code():
    assert codes.validate("gift-2024 spring") == "GIFT2024SPRING"


def _row_texts(table: str, column: str, value: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE {column} = %s", [value])
        return [str(cell).upper() for row in cursor.fetchall() for cell in row if cell is not None]


def test_stored_card_row_holds_no_plaintext_code(make_card):
    card = make_card(code=CODE)
    normal = codes.normalise(CODE)
    cells = _row_texts("giftcards_giftcard", "id", card.pk)
    cells += _row_texts(GiftCard.history.model._meta.db_table, "id", card.pk)
    assert cells, "the card and its history were not found"
    for cell in cells:
        assert normal not in cell
        assert CODE.upper() not in cell
        assert "SPRING" not in cell  # not even a large part of it
    stored = GiftCard.objects.filter(pk=card.pk).values("code_hash", "code_last4").get()
    assert stored["code_last4"] == "K7QM"
    assert stored["code_hash"] == codes.lookup_hash(CODE)


@pytest.mark.parametrize(
    "typed", [CODE, "gift2024springk7qm", "GIFT-2024-SPRING-K7QM", " gift 2024 spring k7qm "]
)
def test_card_get_by_code_matches_case_insensitively_ignoring_spaces_and_dashes(
    make_card, tenant, typed
):
    card = make_card(code=CODE)
    assert selectors.card_get_by_code(tenant=tenant, code=typed) == card


@pytest.mark.parametrize("typed", ["GIFT2024SPRINGK7QX", "", "  - ", None, 12345678])
def test_card_get_by_code_finds_nothing_for_another_or_no_code(make_card, tenant, typed):
    make_card(code=CODE)
    assert selectors.card_get_by_code(tenant=tenant, code=typed) is None


def test_card_get_by_code_never_crosses_businesses(make_card, tenant, other_business):
    other_tenant = Tenant(business=other_business, mode=Mode.LIVE)
    mine = make_card(code=CODE)
    assert selectors.card_get_by_code(tenant=other_tenant, code=CODE) is None
    theirs = make_card(code=CODE, tenant=other_tenant)
    assert selectors.card_get_by_code(tenant=tenant, code=CODE) == mine
    assert selectors.card_get_by_code(tenant=other_tenant, code=CODE) == theirs


def test_card_get_by_code_never_crosses_modes(make_card, business):
    make_card(code=CODE)
    test_mode = Tenant(business=business, mode=Mode.TEST)
    assert selectors.card_get_by_code(tenant=test_mode, code=CODE) is None


def test_generated_codes_of_issued_cards_are_found_by_code(make_card, tenant):
    card = make_card()
    assert selectors.card_get_by_code(tenant=tenant, code=card.code.lower()) == card


def test_generated_code_is_never_stored_in_plaintext(make_card, actor, tenant):
    card = services.card_issue(tenant=tenant, actor=actor, balance_cents=100)
    normal = codes.normalise(card.code)
    for cell in _row_texts("giftcards_giftcard", "id", card.pk):
        assert normal not in cell
        assert normal[:8] not in cell


# ---------------------------------------------------------------------------- strength


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("AAAAAAAA", "one character repeated"),
        ("7777-7777-7777", "one character repeated"),
        ("12345678", "simple sequence"),
        ("ABCDEFGH", "simple sequence"),
        ("abcd-efgh-ijkl", "simple sequence"),
        ("87654321", "simple sequence"),
        ("HGFEDCBA", "simple sequence"),
        ("6789ABCD", "simple sequence"),
        ("ABABABAB", "short pattern repeated"),
        ("12341234", "short pattern repeated"),
        ("GIFT-GIFT-GIFT", "short pattern repeated"),
        ("XYZXYZXY", "short pattern repeated"),
        ("AABBCCDD", f"at least {codes.MIN_DISTINCT} different characters"),
        ("1122-3344-1122", f"at least {codes.MIN_DISTINCT} different characters"),
    ],
)
def test_weak_codes_are_refused_saying_why(code, why):
    with pytest.raises(codes.InvalidCode, match=why):
        codes.validate(code)


@pytest.mark.parametrize(
    "code", ["GIFT2024SPRING", "K7QM-X2PD", "BOOKCLUB", "COFFEE24", "AB12CD34", "SUMMER-2025"]
)
def test_codes_of_ordinary_strength_are_accepted(code):
    assert codes.validate(code) == codes.normalise(code)


def test_a_weak_code_is_still_well_formed_enough_to_look_up():
    assert codes.well_formed("1234-5678") == "12345678"
    with pytest.raises(codes.InvalidCode, match="at least 8"):
        codes.well_formed("ABC-123")


# The smallest draw is the weakest code (one symbol twenty times), which is drawn again.
@hypothesis_settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.large_base_example],
)
@given(st.randoms(use_true_random=False))
def test_generated_codes_always_pass_validation(rng):
    """Whatever the random source draws (Hypothesis tries all-equal and repeating draws),
    a generated code is one a client could have chosen."""
    code = codes.generate(rng)
    assert codes.validate(code) == codes.normalise(code)
    assert len(codes.normalise(code)) == codes.GENERATED_LENGTH
    assert set(codes.normalise(code)) <= set(codes.ALPHABET)


class _Replaying(random.Random):
    """A random source that first draws the same symbol twenty times, then as usual."""

    def __init__(self):
        super().__init__(7)
        self.repeats = codes.GENERATED_LENGTH

    def choice(self, seq):
        if self.repeats:
            self.repeats -= 1
            return seq[0]
        return super().choice(seq)


def test_a_weak_draw_is_drawn_again():
    code = codes.generate(_Replaying())
    assert codes.normalise(code) != codes.ALPHABET[0] * codes.GENERATED_LENGTH
    codes.validate(code)


# ---------------------------------------------------------------------------- keys


def test_the_current_key_is_first_and_old_keys_follow(settings):
    settings.GIFTCARD_CODE_KEY = "key-b"
    settings.GIFTCARD_CODE_OLD_KEYS = ["key-a", "key-b", " ", "key-z"]
    assert codes.keys() == ("key-b", "key-a", "key-z")
    settings.GIFTCARD_CODE_OLD_KEYS = "key-a, key-z"
    assert codes.keys() == ("key-b", "key-a", "key-z")


def test_without_a_code_key_nothing_is_encrypted_or_hashed(settings):
    settings.GIFTCARD_CODE_KEY = ""
    for call in (codes.encrypt, codes.lookup_hash, codes.lookup_hashes):
        with pytest.raises(ImproperlyConfigured, match="GIFTCARD_CODE_KEY"):
            call(CODE)


def test_the_code_key_is_not_the_secret_key(settings):
    token = codes.encrypt(CODE)
    digest = codes.lookup_hash(CODE)
    settings.SECRET_KEY = "a rotated secret key " * 3
    assert codes.decrypt(token) == CODE
    assert codes.lookup_hash(CODE) == digest


def test_codes_under_an_old_key_still_decrypt_and_match(settings):
    settings.GIFTCARD_CODE_KEY = "key-a"
    token, old_hash = codes.encrypt(CODE), codes.lookup_hash(CODE)
    settings.GIFTCARD_CODE_KEY, settings.GIFTCARD_CODE_OLD_KEYS = "key-b", ["key-a"]
    assert codes.decrypt(token) == CODE
    assert codes.decrypt_noting_key(token) == (CODE, False)
    assert codes.lookup_hashes(CODE.lower()) == [codes.lookup_hash(CODE), old_hash]
    assert codes.lookup_hash(CODE) != old_hash
    new = codes.encrypt(CODE)
    assert codes.decrypt_noting_key(new) == (CODE, True)
    settings.GIFTCARD_CODE_OLD_KEYS = []
    assert codes.decrypt(new) == CODE
    with pytest.raises(codes.InvalidCode):
        codes.decrypt(token)


def test_lookups_by_code_are_one_query_whatever_the_number_of_keys(
    make_card, tenant, settings, django_assert_num_queries
):
    settings.GIFTCARD_CODE_KEY = "key-a"
    card = make_card(code=CODE)
    settings.GIFTCARD_CODE_KEY, settings.GIFTCARD_CODE_OLD_KEYS = "key-c", ["key-b", "key-a"]
    with django_assert_num_queries(1):
        assert selectors.card_get_by_code(tenant=tenant, code=CODE.lower()) == card


def test_a_chosen_code_taken_under_an_old_key_is_refused(make_card, settings):
    settings.GIFTCARD_CODE_KEY = "key-a"
    make_card(code=CODE)
    settings.GIFTCARD_CODE_KEY, settings.GIFTCARD_CODE_OLD_KEYS = "key-b", ["key-a"]
    with pytest.raises(exceptions.DuplicateCode):
        make_card(code=CODE.lower())
    assert GiftCard.objects.count() == 1
