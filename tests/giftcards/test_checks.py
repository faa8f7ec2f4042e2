"""Deploy checks on the code key: production needs one of its own, independent of
SECRET_KEY."""

from __future__ import annotations

import pytest
from django.core import checks

from tests.test_settings import manage

PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "production-checks-want-a-random-secret-" + "x7Qp" * 6,
    "DJANGO_ALLOWED_HOSTS": "giftcards.example.com",
    "REDIS_URL": "",
}
CODE_KEY = "a-code-key-of-its-own-" + "K3w9" * 7


def deploy_ids() -> set[str]:
    return {message.id for message in checks.run_checks(include_deployment_checks=True)}


@pytest.mark.parametrize(
    ("debug", "key", "expected", "absent"),
    [
        (False, "", {"giftcards.E001"}, {"giftcards.E002", "giftcards.W002"}),
        (False, "insecure-development-key-only-for-debug-mode", {"giftcards.E002"}, set()),
        (False, "short-key", {"giftcards.W002"}, {"giftcards.E001", "giftcards.E002"}),
        (False, "k" * 48, set(), {"giftcards.E001", "giftcards.E002", "giftcards.W002"}),
        (True, "insecure-development-key-only-for-debug-mode", set(), {"giftcards.E002"}),
    ],
)
def test_deploy_checks_on_the_code_key(settings, debug, key, expected, absent):
    settings.DEBUG = debug
    settings.GIFTCARD_CODE_KEY = key
    found = deploy_ids()
    assert expected <= found
    assert not absent & found


def test_production_without_a_code_key_refuses_to_start(tmp_path):
    """Before any check runs: settings.py stops (giftcards_project/production_checks.py)."""
    result = manage(tmp_path, "check", "--deploy", **PRODUCTION)

    assert result.returncode == 78  # EX_CONFIG
    assert "GIFTCARD_CODE_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_with_a_code_key_passes_it_and_never_uses_the_secret_key(tmp_path):
    code = (
        "from django.conf import settings as s; "
        "print(repr(s.GIFTCARD_CODE_KEY), s.GIFTCARD_CODE_OLD_KEYS)"
    )
    keyed = manage(
        tmp_path,
        "shell",
        "-c",
        code,
        GIFTCARD_CODE_KEY=CODE_KEY,
        GIFTCARD_CODE_OLD_KEYS="old-1, old-2",
        **PRODUCTION,
    )
    checked = manage(tmp_path, "check", "--deploy", GIFTCARD_CODE_KEY=CODE_KEY, **PRODUCTION)

    assert keyed.stdout.strip().splitlines()[-1] == f"'{CODE_KEY}' ['old-1', 'old-2']"
    assert "giftcards.E001" not in checked.stderr + checked.stdout
    assert "giftcards.W002" not in checked.stderr + checked.stdout


def test_debug_mode_uses_the_fixed_development_key_whatever_the_secret_key(tmp_path):
    code = "from django.conf import settings as s; print(s.GIFTCARD_CODE_KEY)"
    result = manage(tmp_path, "shell", "-c", code, DJANGO_SECRET_KEY="s" * 50)

    assert result.stdout.strip().splitlines()[-1] == "insecure-development-key-only-for-debug-mode"
