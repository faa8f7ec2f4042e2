"""The JSON:API clients of tests/giftcards/jsonapi, for the import tests."""

from tests.giftcards.jsonapi.conftest import (  # noqa: F401  (fixtures)
    anonymous,
    api,
    fresh_throttles,
    other_api,
    test_mode_api,
)
