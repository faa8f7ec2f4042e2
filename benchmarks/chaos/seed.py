"""The storm's demo data, made through the public services as load_demo makes it: one
business, a live API key (only its hash is stored; the secret is returned once), and active
cards, most of them rechargeable, a few with little money (their debits are refused)."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.chaos.storm import Card
from clients.services import api_key_create, business_create
from clients.tenancy import Actor, Mode, Tenant
from giftcards import catalogue, services
from giftcards.models import Status


@dataclass(frozen=True)
class Seeded:
    business_id: int
    secret: str
    cards: list[Card]


def seed(*, cards: int, run: str) -> Seeded:
    actor = Actor.system("chaos-seed")
    business = business_create(name=f"Chaos {run}", currency_code="USD", locale="en_US")
    tenant = Tenant(business=business, mode=Mode.LIVE)
    _key, secret = api_key_create(business=business, name=f"chaos-{run}", mode=Mode.LIVE)
    tags = [catalogue.tag_create(tenant=tenant, actor=actor, name=name) for name in ("a", "b")]
    made = []
    for i in range(cards):
        card = services.card_issue(
            tenant=tenant,
            actor=actor,
            balance_cents=3_000 if i % 7 == 6 else 200_000,
            status=Status.ACTIVE,
            rechargeable=i % 4 != 3,
            reference=f"chaos-{i}",
            tags=[tags[i % 2]],
        )
        made.append(Card(id=card.pk, code=card.code, rechargeable=card.rechargeable))
    return Seeded(business_id=business.pk, secret=secret, cards=made)
