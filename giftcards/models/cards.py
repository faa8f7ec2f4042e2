"""Gift cards, their recipients, markets and tags, and the ledger of every balance change.

Only `giftcards.services` writes balances and statuses; the constraints below are the
backstop that holds even if some future code forgets that.
"""

from __future__ import annotations

import base64
import uuid

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone
from simple_history.models import HistoricalRecords

from clients.tenancy import TenantModel, TenantQuerySet
from giftcards import codes, dates


def new_public_id() -> str:
    """A random UUID4 as 22 characters of URL-safe base64 (`rSnVGKkHSGCYfalfOuae1g`)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


PUBLIC_ID_PATTERN = r"^[A-Za-z0-9_-]{22}$"
# A card's moments that only take values every time zone can show (giftcards/dates.py).
SHOWABLE_MOMENTS = ("purchase_date", "expires_at")


class CardHistory(HistoricalRecords):
    """django-simple-history, minus its cost on the hot path: its `post_save` looks the history
    manager up through a descriptor that builds a new manager class on every save (about a
    third of the Python time of a debit). This writes the same historical row with the
    history model and the copied fields looked up once."""

    def create_historical_record(self, instance, history_type, using=None):
        model, fields = self._history_model_and_fields(type(instance))
        history_date = getattr(instance, "_history_date", None) or timezone.now()
        record = model(
            history_date=history_date,
            history_type=history_type,
            history_user=self.get_history_user(instance),
            history_change_reason=self.get_change_reason_for_object(instance, history_type, using),
            history_relation=instance,
            **{attname: getattr(instance, attname) for attname in fields},
        )
        record.save(using=using if self.use_base_model_db else None)

    def _history_model_and_fields(self, sender) -> tuple:
        cached = getattr(self, "_lean_cache", None)
        if cached is None:
            model = getattr(sender, self.manager_name).model
            fields = tuple(field.attname for field in self.fields_included(sender))
            cached = self._lean_cache = (model, fields)
        return cached


def history_user(instance=None, request=None, **kwargs):
    """The staff user behind a change, for the card's history; API keys are not users (their
    name is in `modified_by`)."""
    user = getattr(request, "user", None)
    return user if isinstance(user, AbstractBaseUser) and user.is_authenticated else None


class Status(models.TextChoices):
    DRAFT = "draft", "Draft"
    INACTIVE = "inactive", "Inactive"
    ACTIVE = "active", "Active"
    REDEEMED = "redeemed", "Redeemed"


class Market(TenantModel):
    """An optional grouping of cards with its own currency."""

    name = models.CharField(max_length=200)
    currency_code = models.CharField(max_length=3)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)
        constraints = [
            TenantModel.mode_constraint("giftcards_market_mode_valid"),
            models.CheckConstraint(
                condition=Q(currency_code__regex=r"^[A-Z]{3}$"),
                name="giftcards_market_currency_code_format",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.currency_code})"


class Tag(TenantModel):
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "id")
        constraints = [
            TenantModel.mode_constraint("giftcards_tag_mode_valid"),
            models.UniqueConstraint(
                fields=["business", "mode", "name"], name="giftcards_tag_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class GiftCardRecipient(TenantModel):
    email = models.EmailField()
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    reference = models.CharField(max_length=255, blank=True)
    reference_origin = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("id",)
        constraints = [
            TenantModel.mode_constraint("giftcards_giftcardrecipient_mode_valid"),
            # Per business and mode: a test-mode recipient must not block the live one.
            models.UniqueConstraint(
                "business", "mode", Lower("email"), name="giftcards_giftcardrecipient_email_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.email


class GiftCardQuerySet(TenantQuerySet):
    def not_deleted(self) -> GiftCardQuerySet:
        return self.filter(deleted_at__isnull=True)

    def by_code(self, code: str) -> GiftCardQuerySet:
        return self.filter(code_hash__in=codes.lookup_hashes(code))

    def usable(self, now=None) -> GiftCardQuerySet:
        """Cards whose balance can still be spent: not deleted, not redeemed, not expired."""
        now = now or timezone.now()
        return self.not_deleted().filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
            status__in=[Status.DRAFT, Status.INACTIVE, Status.ACTIVE],
        )


class GiftCard(TenantModel):
    id = models.CharField(primary_key=True, max_length=22, default=new_public_id, editable=False)
    code_hash = models.CharField(max_length=64, editable=False)
    code_encrypted = models.TextField(editable=False)
    code_last4 = models.CharField(max_length=4, editable=False)

    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    deleted_at = models.DateTimeField(null=True, blank=True)
    currency_code = models.CharField(max_length=3)
    initial_balance_cents = models.BigIntegerField()
    balance_cents = models.BigIntegerField()
    balance_max_cents = models.BigIntegerField(null=True, blank=True)
    single_use = models.BooleanField(default=False)
    rechargeable = models.BooleanField(default=True)
    distribute_discount = models.BooleanField(default=True)
    image_url = models.URLField(max_length=2000, blank=True)
    purchase_date = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    reference = models.CharField(max_length=255, blank=True)
    reference_origin = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    client = models.ForeignKey(
        "clients.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="gift_cards"
    )
    recipient = models.ForeignKey(
        GiftCardRecipient,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="gift_cards",
    )
    market = models.ForeignKey(
        Market, null=True, blank=True, on_delete=models.PROTECT, related_name="gift_cards"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="gift_cards")

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.CharField(max_length=150, blank=True, editable=False)
    modified_by = models.CharField(max_length=150, blank=True, editable=False)

    history = CardHistory(
        excluded_fields=["code_hash", "code_encrypted", "code_last4"],
        related_name="versions",
        get_user=history_user,
    )
    objects = GiftCardQuerySet.as_manager()

    class Meta:
        ordering = ("created_at", "id")
        indexes = [
            models.Index(fields=["business", "mode", "created_at"]),
            models.Index(fields=["business", "mode", "status"]),
            models.Index(fields=["business", "expires_at"]),
        ]
        constraints = [
            TenantModel.mode_constraint("giftcards_giftcard_mode_valid"),
            models.CheckConstraint(
                condition=Q(id__regex=PUBLIC_ID_PATTERN), name="giftcards_giftcard_id_format"
            ),
            models.CheckConstraint(
                condition=Q(status__in=Status.values), name="giftcards_giftcard_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(currency_code__regex=r"^[A-Z]{3}$"),
                name="giftcards_giftcard_currency_code_format",
            ),
            # The backstop against overdraft, whatever code runs.
            models.CheckConstraint(
                condition=Q(balance_cents__gte=0), name="giftcards_giftcard_balance_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(initial_balance_cents__gte=0),
                name="giftcards_giftcard_initial_balance_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(balance_max_cents__isnull=True)
                | Q(balance_cents__lte=F("balance_max_cents")),
                name="giftcards_giftcard_balance_within_max",
            ),
            models.UniqueConstraint(
                fields=["business", "code_hash"], name="giftcards_giftcard_code_unique"
            ),
            # Only moments every time zone can show (giftcards/dates.py).
            *(
                models.CheckConstraint(
                    condition=Q(**{f"{name}__isnull": True})
                    | Q(**{f"{name}__range": (dates.EARLIEST, dates.LATEST)}),
                    name=f"giftcards_giftcard_{name}_showable",
                )
                for name in SHOWABLE_MOMENTS
            ),
        ]

    def __str__(self) -> str:
        return f"Gift card {self.masked_code}"

    def validate_constraints(self, exclude=None):
        """A moment outside the accepted range cannot even be compared in Python (converting
        it overflows), so its range constraint is left to the services, which refuse it with
        their own message, and to the database."""
        unshowable = {
            name
            for name in SHOWABLE_MOMENTS
            if getattr(self, name) is not None and not dates.in_range(getattr(self, name))
        }
        super().validate_constraints(exclude={*(exclude or ()), *unshowable})

    @property
    def masked_code(self) -> str:
        return codes.mask(self.code_last4)

    @property
    def code(self) -> str:
        """The full code: for the owning business's API responses only."""
        return codes.decrypt(self.code_encrypted)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())


class LedgerImmutable(Exception):
    """Ledger rows are written once and never updated or deleted."""


class BalanceLogQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise LedgerImmutable("Ledger rows cannot be updated.")

    def delete(self):
        raise LedgerImmutable("Ledger rows cannot be deleted.")

    def payments(self) -> BalanceLogQuerySet:
        return self.filter(kind=BalanceLog.Kind.DEBIT)

    def refunds(self) -> BalanceLogQuerySet:
        return self.filter(kind=BalanceLog.Kind.REFUND)


TRANSFERS = ("transfer_out", "transfer_in")
NOT_TRANSFERS = ("issue", "debit", "recharge", "adjustment", "refund", "pre_import")


class BalanceLog(models.Model):
    """The ledger: one immutable row per balance change, from any entry point."""

    class Kind(models.TextChoices):
        ISSUE = "issue", "Issue"
        DEBIT = "debit", "Debit"
        RECHARGE = "recharge", "Recharge"
        ADJUSTMENT = "adjustment", "Adjustment"
        REFUND = "refund", "Refund"
        TRANSFER_OUT = "transfer_out", "Transfer out"
        TRANSFER_IN = "transfer_in", "Transfer in"
        # What an imported card had spent in the system it came from: its initial amount
        # less its balance when it was imported (the issue row carries the initial amount).
        PRE_IMPORT = "pre_import", "Spent before import"

    card = models.ForeignKey(GiftCard, on_delete=models.PROTECT, related_name="ledger")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    amount_cents = models.BigIntegerField()
    balance_after_cents = models.BigIntegerField()
    order_reference = models.CharField(max_length=255, blank=True)
    # NULL, not "", for "no key": the unique constraint must ignore rows without one.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    # The debit a refund gives back (part of): refunds of one debit never exceed it in total
    # (the services under the card's lock; a trigger in the database, migration 0006).
    refund_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    # The transfer a transfer_out or transfer_in row is half of.
    transfer = models.ForeignKey(
        "giftcards.BalanceTransfer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="entries",
    )
    actor_name = models.CharField(max_length=150, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    api_key = models.ForeignKey(
        "clients.ApiKey", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = BalanceLogQuerySet.as_manager()

    class Meta:
        ordering = ("created_at", "id")
        indexes = [
            models.Index(fields=["card", "created_at"]),
            # Finds the card a keyed create issued (the per-card unique index starts at card).
            models.Index(
                fields=["idempotency_key"],
                condition=Q(idempotency_key__isnull=False, kind="issue"),
                name="giftcards_balancelog_issue_key",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[*NOT_TRANSFERS, *TRANSFERS]),
                name="giftcards_balancelog_kind_valid",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="issue", amount_cents__gte=0)
                    | Q(kind__in=["debit", "transfer_out", "pre_import"], amount_cents__lt=0)
                    | Q(kind__in=["recharge", "refund", "transfer_in"], amount_cents__gt=0)
                    | (Q(kind="adjustment") & ~Q(amount_cents=0))
                ),
                name="giftcards_balancelog_amount_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=Q(balance_after_cents__gte=0),
                name="giftcards_balancelog_balance_after_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(refund_of__isnull=True) | Q(kind="refund"),
                name="giftcards_balancelog_refund_of_only_on_refunds",
            ),
            models.CheckConstraint(
                condition=Q(refund_of__isnull=False) | ~Q(kind="refund"),
                name="giftcards_balancelog_refunds_link_a_debit",
            ),
            models.CheckConstraint(
                condition=Q(transfer__isnull=True, kind__in=NOT_TRANSFERS)
                | Q(transfer__isnull=False, kind__in=TRANSFERS),
                name="giftcards_balancelog_transfer_rows_link_a_transfer",
            ),
            # A transfer is one row out and one row in.
            models.UniqueConstraint(
                fields=["transfer", "kind"],
                condition=Q(transfer__isnull=False),
                name="giftcards_balancelog_one_row_per_transfer_side",
            ),
            models.UniqueConstraint(
                fields=["card", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="giftcards_balancelog_idempotency_key_unique",
            ),
            models.UniqueConstraint(
                fields=["card"],
                condition=Q(kind="issue"),
                name="giftcards_balancelog_one_issue_per_card",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_cents:+d} on {self.card_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise LedgerImmutable("Ledger rows cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerImmutable("Ledger rows cannot be deleted.")
