"""The plain API's shapes (seed 000): camelCase, epoch milliseconds, major units."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from clients.models import Business, Client
from giftcards import money, services
from giftcards.fields import StrictBooleanField, StrictCharField
from giftcards.models import PUBLIC_ID_PATTERN, BalanceLog, GiftCard, Status
from giftcards.plain_api.fields import (
    EpochMillisField,
    ExpireDateField,
    MajorAmountField,
    StrictIntegerField,
    epoch_ms,
)

ACTIVE, DELETED, EXPIRED = "Active", "Deleted", "Expired"


def plain_status(row: Mapping, now: dt.datetime) -> str:
    if row["deleted_at"] is not None:
        return DELETED
    if row["expires_at"] is not None and row["expires_at"] <= now:
        return EXPIRED
    return ACTIVE


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, naming them; accepts (and ignores) the read-only fields
    listed in `echoed_read_only`, which a client may echo back from a GET."""

    echoed_read_only: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            extra = set(data) - set(self.fields) - self.echoed_read_only
            unknown = {
                name: [serializers.ErrorDetail("Unknown field.", code="unknown_field")]
                for name in sorted(extra)
            }
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


# ---------------------------------------------------------------------------- gift cards


GIFT_CARD_COLUMNS = (
    "id",
    "business_id",
    "mode",
    "client_id",
    "currency_code",
    "initial_balance_cents",
    "balance_cents",
    "deleted_at",
    "expires_at",
    "purchase_date",
    "created_at",
    "updated_at",
    "created_by",
    "modified_by",
)


def gift_card_data(card: GiftCard | Mapping, business: Business, zone=None) -> dict[str, Any]:
    """A card as seed 000 shows it. `card` is a card, or a row of GIFT_CARD_COLUMNS (lists
    read `.values()`: no model instances to build); `zone` saves a list looking up the
    business's time zone per card."""
    row = card if isinstance(card, Mapping) else card.__dict__
    currency = row["currency_code"]
    return {
        "active": row["deleted_at"] is None,
        "amount": money.major_number(row["initial_balance_cents"], currency),
        "balanceAmount": money.major_number(row["balance_cents"], currency),
        "businessId": row["business_id"],
        "clientId": row["client_id"],
        "createdDate": epoch_ms(row["created_at"]),
        "createdUser": row["created_by"],
        "expireDate": ExpireDateField.day_of(row["expires_at"], zone or business.tzinfo),
        "giftCardUUId": row["id"],
        "modifiedDate": epoch_ms(row["updated_at"]),
        "modifiedUser": row["modified_by"],
        "purchaseDate": epoch_ms(row["purchase_date"]),
        "status": plain_status(row, timezone.now()),
    }


class GiftCardWriteSerializer(StrictSerializer):
    """`POST /giftcards`: creates without `giftCardUUId`, updates with it.

    Context: tenant, actor, currency_code (the card's, or the business's for a new card),
    business, and `card` when updating.
    """

    echoed_read_only = frozenset({"createdDate", "createdUser", "modifiedDate", "modifiedUser"})

    giftCardUUId = serializers.RegexField(PUBLIC_ID_PATTERN, required=False, allow_null=True)
    active = StrictBooleanField()
    amount = MajorAmountField()
    balanceAmount = MajorAmountField()
    businessId = StrictIntegerField()
    # Null only on an update of a card that has none (made through the JSON:API or the admin):
    # kept as is.
    clientId = StrictIntegerField(allow_null=True)
    # Null only on an update of a card that has none (a draft from the JSON:API): kept as is.
    purchaseDate = EpochMillisField(allow_null=True)
    status = serializers.ChoiceField(choices=[ACTIVE, DELETED, EXPIRED])
    expireDate = ExpireDateField(required=False, allow_null=True)

    def validate_giftCardUUId(self, value: str | None) -> str | None:
        if value is not None and self.context.get("card") is None:
            raise serializers.ValidationError(
                "No gift card with this giftCardUUId.", code="does_not_exist"
            )
        return value

    def validate_businessId(self, value: int) -> int:
        if value != self.context["tenant"].business.pk:
            raise serializers.ValidationError(
                "This is not the business of your API key.", code="wrong_business"
            )
        return value

    def validate_clientId(self, value: int | None) -> Client | None:
        card = self.context.get("card")
        if value is None:
            if card is None or card.client_id is not None:
                raise serializers.ValidationError(
                    "This field may not be null."
                    if card is None
                    else f"This card belongs to client {card.client_id}: send that clientId "
                    "(or another client's).",
                    code="null" if card is None else "client_required",
                )
            return None
        client = Client.objects.for_tenant(self.context["tenant"]).filter(pk=value).first()
        if client is None:
            raise serializers.ValidationError(f"No client with id {value}.", code="does_not_exist")
        if not client.active and (card is None or card.client_id != client.pk):
            raise serializers.ValidationError(f"Client {value} is deleted.", code="client_deleted")
        return client

    def validate(self, attrs):
        card = self.context.get("card")
        if card is None and attrs["purchaseDate"] is None:
            raise serializers.ValidationError(
                {"purchaseDate": ["This field may not be null."]}, code="null"
            )
        if card is None and attrs["balanceAmount"] > attrs["amount"]:
            raise serializers.ValidationError(
                {"balanceAmount": ["Cannot exceed amount when the card is created."]},
                code="exceeds_amount",
            )
        if card is not None and attrs["amount"] != card.initial_balance_cents:
            raise serializers.ValidationError(
                {
                    "amount": [
                        "The amount (initial balance) cannot change after the card is issued."
                    ]
                },
                code="immutable",
            )
        sent_day = attrs.get("expireDate")
        if card is not None and sent_day and self._same_day(sent_day, card.expires_at):
            # The day as a GET showed it: keep the stored moment (a card expired at 10:00
            # through "Expired" shows today, and must not come back to life until midnight).
            attrs["expireDate"] = card.expires_at
        expires_at = attrs.get("expireDate", card.expires_at if card else None)
        wants_active = attrs["status"] == ACTIVE and not self._wants_deleted(attrs)
        if wants_active and expires_at is not None and expires_at <= timezone.now():
            day = self._day(expires_at)
            raise serializers.ValidationError(
                {
                    "status": [
                        f'The card expired on {day}: send a later expireDate to make it "Active", '
                        'or status "Expired".'
                    ]
                },
                code="card_expired",
            )
        return attrs

    def _day(self, moment: dt.datetime | None) -> str | None:
        return ExpireDateField.day_of(moment, self.context["business"].tzinfo)

    def _same_day(self, sent: dt.datetime, stored: dt.datetime | None) -> bool:
        return stored is not None and self._day(sent) == self._day(stored)

    @staticmethod
    def _wants_deleted(data) -> bool:
        return not data["active"] or data["status"] == DELETED

    def change_set(self, card: GiftCard | None) -> services.CardChanges:
        """What the validated body asks of the card (after `card_issue` for a new one), for
        one `services.card_change`."""
        data = self.validated_data
        deleted = self._wants_deleted(data)
        attributes = {}
        if card is not None:
            attributes["client"] = data["clientId"]
            sent = data["purchaseDate"]
            if sent is not None and epoch_ms(sent) != epoch_ms(card.purchase_date):
                attributes["purchase_date"] = sent  # to the millisecond, as the API shows it
            if "expireDate" in data:
                attributes["expires_at"] = data["expireDate"]
        return services.CardChanges(
            restore=card is not None and not deleted,
            attributes=attributes,
            balance_cents=data["balanceAmount"],
            balance_note=(
                "balanceAmount set through the plain API."
                if card is not None
                else "Opening balance below the amount, set through the plain API."
            ),
            reopen_redeemed=data["status"] == ACTIVE,
            expire_now=data["status"] == EXPIRED,
            soft_delete=deleted,
        )

    def issue_arguments(self) -> dict[str, Any]:
        """`services.card_issue`'s arguments for a new card: the plain API has no draft, its
        cards are purchased and activated at once."""
        data = self.validated_data
        return {
            "balance_cents": data["amount"],
            "status": Status.ACTIVE,
            "client": data["clientId"],
            "purchase_date": data["purchaseDate"],
            "expires_at": data.get("expireDate"),
        }


# ---------------------------------------------------------------------------- clients

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
MAX_PAGE = 10**9  # keeps the offset (page x pageSize) far from any column's limit
_WHOLE_NUMBER = re.compile(r"^[0-9]{1,18}$")


def page_parameters(params) -> tuple[int, int]:
    """(page, pageSize) of a list's query string: page from 1 (default 1) to MAX_PAGE,
    pageSize from 1 to MAX_PAGE_SIZE (default DEFAULT_PAGE_SIZE). Each is a whole number
    given at most once; anything else is a 400 naming the parameter."""
    values, errors = {}, {}
    for name, default, largest in (
        ("page", 1, MAX_PAGE),
        ("pageSize", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
    ):
        sent = params.getlist(name)
        if not sent:
            values[name] = default
            continue
        if len(sent) > 1 or not _WHOLE_NUMBER.match(sent[0].strip()):
            message = "Must be a whole number, given once."
            errors[name] = [serializers.ErrorDetail(message, code="invalid")]
            continue
        value = int(sent[0].strip())
        if value < 1:
            errors[name] = [serializers.ErrorDetail("Must be at least 1.", code="min_value")]
        elif value > largest:
            message = f"Must be at most {largest}."
            errors[name] = [serializers.ErrorDetail(message, code="max_value")]
        values[name] = value
    if errors:
        raise serializers.ValidationError(errors)
    return values["page"], values["pageSize"]


def client_data(client: Client) -> dict[str, Any]:
    return {
        "clientId": client.pk,
        "businessId": client.business_id,
        "firstName": client.first_name,
        "lastName": client.last_name,
        "fullName": client.full_name,
        "emailAddress": client.email or None,
        "cellPhone": client.phone or None,
        "active": client.active,
        "createdDate": epoch_ms(client.created_at),
        "createdUser": client.created_by,
        "modifiedDate": epoch_ms(client.modified_at),
        "modifiedUser": client.modified_by,
    }


class ClientWriteSerializer(StrictSerializer):
    """`POST /clients`: creates without `clientId`, updates the given fields with it."""

    echoed_read_only = frozenset(
        {"fullName", "createdDate", "createdUser", "modifiedDate", "modifiedUser"}
    )
    FIELD_MAP = {
        "firstName": "first_name",
        "lastName": "last_name",
        "emailAddress": "email",
        "cellPhone": "phone",
        "active": "active",
    }

    clientId = StrictIntegerField(required=False, allow_null=True)
    businessId = StrictIntegerField(required=False)
    firstName = StrictCharField(max_length=100)
    lastName = StrictCharField(max_length=100)
    emailAddress = serializers.EmailField(required=False, allow_null=True, allow_blank=True)
    cellPhone = StrictCharField(max_length=40, required=False, allow_null=True, allow_blank=True)
    active = StrictBooleanField(required=False)

    def validate_businessId(self, value: int) -> int:
        if value != self.context["tenant"].business.pk:
            raise serializers.ValidationError(
                "This is not the business of your API key.", code="wrong_business"
            )
        return value

    def model_fields(self) -> dict[str, Any]:
        """The validated body as the client services' keyword arguments."""
        return {
            self.FIELD_MAP[name]: ("" if value is None else value)
            for name, value in self.validated_data.items()
            if name in self.FIELD_MAP
        }


# ---------------------------------------------------------------------------- payments


def payment_data(entry: BalanceLog, card: GiftCard, refunds: list[BalanceLog]) -> dict[str, Any]:
    """A payment is a debit row of the ledger; its refunds (partial ones too) link to it.
    `refunded` is true once they give all of it back."""
    currency = card.currency_code
    refunded = sum(refund.amount_cents for refund in refunds)
    last = max(refunds, key=lambda refund: (refund.created_at, refund.pk), default=None)
    return {
        "paymentId": entry.pk,
        "giftCardUUId": entry.card_id,
        "amount": money.major_number(-entry.amount_cents, currency),
        "balanceAmount": money.major_number(entry.balance_after_cents, currency),
        "invoiceId": entry.order_reference or None,
        "paymentDate": epoch_ms(entry.occurred_at or entry.created_at),
        "comment": entry.note or None,
        "refunded": refunded >= -entry.amount_cents,
        "refundedDate": epoch_ms(last.created_at) if last is not None else None,
        "refundedAmount": money.major_number(refunded, currency),
        "refunds": [refund_data(refund, card) for refund in refunds],
        "createdDate": epoch_ms(entry.created_at),
        "createdUser": entry.actor_name,
    }


def refund_data(refund: BalanceLog, card: GiftCard) -> dict[str, Any]:
    """A refund row of the ledger, as `POST /payments/{paymentId}/refunds` returns it."""
    currency = card.currency_code
    return {
        "refundId": refund.pk,
        "paymentId": refund.refund_of_id,
        "giftCardUUId": refund.card_id,
        "amount": money.major_number(refund.amount_cents, currency),
        "balanceAmount": money.major_number(refund.balance_after_cents, currency),
        "refundDate": epoch_ms(refund.created_at),
        "comment": refund.note or None,
        "createdUser": refund.actor_name,
    }


class PaymentWriteSerializer(StrictSerializer):
    """`POST /payments`: pays `amount` with the card (a debit in the ledger). Only the fields
    below; the payment's read-only fields are refused."""

    giftCardUUId = serializers.RegexField(PUBLIC_ID_PATTERN)
    # In major units: the view's service converts it with the card's currency, under its lock.
    amount = MajorAmountField(allow_zero=False, major=True)
    invoiceId = serializers.CharField(
        max_length=255, required=False, allow_null=True, allow_blank=True
    )
    paymentDate = EpochMillisField(required=False, allow_null=True)
    comment = StrictCharField(max_length=1000, required=False, allow_null=True, allow_blank=True)

    def to_internal_value(self, data):
        invoice = data.get("invoiceId") if isinstance(data, Mapping) else None
        if isinstance(invoice, int) and not isinstance(invoice, bool):
            # Invoice numbers are often sent as integers.
            data = {**data, "invoiceId": str(invoice)}
        return super().to_internal_value(data)


class RefundWriteSerializer(StrictSerializer):
    """`POST /payments/{paymentId}/refunds`: gives back `amount` of the payment."""

    # In major units: the service converts it with the card's currency, under its lock.
    amount = MajorAmountField(allow_zero=False, major=True)
    comment = StrictCharField(max_length=1000, required=False, allow_null=True, allow_blank=True)
