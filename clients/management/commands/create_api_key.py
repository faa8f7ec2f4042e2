"""Create an API key for a business; prints the secret alone on the last line (shown once)."""

from django.core.management.base import BaseCommand, CommandError

from clients.models import Business
from clients.services import api_key_create
from clients.tenancy import Mode


class Command(BaseCommand):
    help = "Create an API key. Prints the secret key alone on its last line; it is shown once."

    def add_arguments(self, parser):
        parser.add_argument("--business", type=int, required=True, help="business id")
        parser.add_argument("--name", required=True, help="shown as createdUser/modifiedUser")
        parser.add_argument("--mode", choices=Mode.values, default=Mode.LIVE)

    def handle(self, *args, business, name, mode, **options):
        try:
            owner = Business.objects.get(pk=business)
        except Business.DoesNotExist as exc:
            raise CommandError(f"No business with id {business}.") from exc
        if not name.strip() or len(name) > 50:
            raise CommandError("The key name must be 1 to 50 characters.")
        api_key, secret = api_key_create(business=owner, name=name.strip(), mode=mode)
        self.stderr.write(
            f"Created {mode} key {api_key.name!r} for {owner.name!r}. "
            "Store the secret now: it cannot be shown again."
        )
        self.stdout.write(secret)
