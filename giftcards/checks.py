"""System checks (`manage.py check --deploy` and every start): settings that would quietly
weaken the guards against guessing codes."""

from django.conf import settings
from django.core import checks

PER_PROCESS_CACHES = ("locmem", "dummy")


@checks.register(checks.Tags.security, deploy=True)
def shared_throttle_cache(app_configs, **kwargs):
    backend = settings.CACHES["default"]["BACKEND"].lower()
    if any(name in backend for name in PER_PROCESS_CACHES):
        return [
            checks.Warning(
                "The cache is per process: the /balance and code-lookup throttles count each "
                "server process separately, multiplying the guesses allowed.",
                hint="Set REDIS_URL so every process shares the counts.",
                id="giftcards.W001",
            )
        ]
    return []
