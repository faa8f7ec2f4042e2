"""Load demo data (idempotent) and print the demo logins and a fresh demo API key."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from clients.models import ApiKey, Business, Client, User
from clients.services import api_key_create, api_key_revoke, business_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import services
from giftcards.models import GiftCard, Market, Status

DEMO_BUSINESS = "Demo Coffee Roasters"
DEMO_KEY_NAME = "demo-pos"
LOGINS = [
    # username, password, role (a staff group of migration clients 0003; None: superuser)
    ("admin", "giftcards-admin", None),
    ("manager", "giftcards-demo", "manager"),
    ("cashier", "giftcards-demo", "cashier"),
    ("viewer", "giftcards-demo", "viewer"),
]
CLIENTS = [
    ("Ada", "Lovelace", "ada@example.com", "+1 555 0100"),
    ("Grace", "Hopper", "grace@example.com", "+1 555 0101"),
    ("Alan", "Turing", "alan@example.com", "+1 555 0102"),
]


class Command(BaseCommand):
    help = "Load demo data (safe to run again) and print the demo logins and API keys."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="allow it with DJANGO_DEBUG off")

    def handle(self, *args, force=False, **options):
        if not settings.DEBUG and not force:
            raise CommandError("Refusing to load demo data with DJANGO_DEBUG off (use --force).")
        with transaction.atomic():
            business = self._business()
            self._users(business)
            if not GiftCard.objects.filter(business=business).exists():
                self._cards(business)
            keys = {mode: self._fresh_key(business, mode) for mode in (Mode.LIVE, Mode.TEST)}

        cards = GiftCard.objects.filter(business=business).count()
        self.stdout.write(f"Demo business: {business.name} (id {business.pk}), {cards} cards.")
        self.stdout.write("Staff admin logins (/admin/):")
        for username, password, role in LOGINS:
            who = f"{role} of {business.name}" if role else "superuser, every business"
            self.stdout.write(f"  {username} / {password}  ({who})")
        self.stdout.write("API keys (send as 'Authorization: Bearer <key>'; new on every run):")
        self.stdout.write(f"  test: {keys[Mode.TEST]}")
        self.stdout.write(f"  live: {keys[Mode.LIVE]}")

    def _business(self) -> Business:
        business = Business.objects.filter(name=DEMO_BUSINESS).first()
        return business or business_create(name=DEMO_BUSINESS, currency_code="USD")

    def _users(self, business: Business) -> None:
        for username, password, role in LOGINS:
            user, _created = User.objects.get_or_create(
                username=username,
                defaults={
                    "is_superuser": role is None,
                    "business": None if role is None else business,
                    "email": f"{username}@example.com",
                },
            )
            # Reset every run, so the logins printed below are always true.
            user.set_password(password)
            user.is_staff = user.is_active = True
            user.save()
            if role:
                user.groups.set([Group.objects.get(name=role)])

    def _fresh_key(self, business: Business, mode: str) -> str:
        # Secrets are stored hashed, so an old demo key cannot be shown again: replace it.
        for old in ApiKey.objects.filter(business=business, name=DEMO_KEY_NAME, mode=mode):
            if not old.revoked:
                api_key_revoke(api_key=old)
        _key, secret = api_key_create(business=business, name=DEMO_KEY_NAME, mode=mode)
        return secret

    def _cards(self, business: Business) -> None:
        tenant = Tenant(business=business, mode=Mode.LIVE)
        actor = Actor.system("demo-loader")
        clients = [
            Client.objects.create(
                business=business,
                mode=Mode.LIVE,
                first_name=first,
                last_name=last,
                email=email,
                phone=phone,
                created_by=actor.name,
                modified_by=actor.name,
            )
            for first, last, email, phone in CLIENTS
        ]
        market = Market.objects.create(
            business=business, mode=Mode.LIVE, name="Europe", currency_code="EUR"
        )
        now = timezone.now()

        def issue(**kwargs):
            kwargs.setdefault("client", clients[0])
            return services.card_issue(tenant=tenant, actor=actor, **kwargs)

        issue(balance_cents=2_500, status=Status.DRAFT, reference="web-order-1001")
        issue(balance_cents=5_000, status=Status.INACTIVE, client=clients[1])
        active = issue(balance_cents=10_000, status=Status.ACTIVE, client=clients[1])
        services.card_debit(card=active, amount_cents=1_250, actor=actor, order_reference="A-1")
        services.card_debit(card=active, amount_cents=2_000, actor=actor, order_reference="A-2")
        services.card_recharge(card=active, amount_cents=5_000, actor=actor)

        redeemed = issue(balance_cents=3_000, status=Status.ACTIVE, client=clients[2])
        services.card_debit(card=redeemed, amount_cents=3_000, actor=actor, order_reference="B-1")

        refunded = issue(balance_cents=4_000, status=Status.ACTIVE, client=clients[2])
        payment = services.card_debit(card=refunded, amount_cents=1_500, actor=actor).entry
        services.card_refund(payment=payment, actor=actor, note="Customer returned the item")
        partly = services.card_debit(
            card=refunded, amount_cents=1_000, actor=actor, order_reference="C-1"
        ).entry
        services.card_refund(
            payment=partly, amount_cents=400, actor=actor, note="One item of the order returned"
        )
        # A customer merges a card into another.
        merged = issue(balance_cents=1_800, status=Status.ACTIVE, client=clients[2])
        services.card_transfer(
            tenant=tenant,
            actor=actor,
            source=merged,
            target=refunded,
            amount_cents=1_800,
            reference="merge-cards",
        )

        issue(balance_cents=7_500, status=Status.ACTIVE, expires_at=now - timedelta(days=3))
        issue(balance_cents=2_000, status=Status.ACTIVE, expires_at=now + timedelta(days=12))
        deleted = issue(balance_cents=1_000, status=Status.ACTIVE)
        services.card_soft_delete(card=deleted, actor=actor)
        issue(balance_cents=15_000, status=Status.ACTIVE, market=market, balance_max_cents=50_000)
        issue(balance_cents=2_000, status=Status.ACTIVE, single_use=True, rechargeable=False)
