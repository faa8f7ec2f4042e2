"""The plain API (seed 000): gift cards, clients and payments, scoped to the API key.

Ids in the URL that are not the caller's are 404s; ids in a body that are not the caller's
are 400s naming the field. Either way nothing reveals that another business's row exists.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping

from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from clients.auth import ApiKeyScopedView
from clients.models import Client
from clients.services import client_create, client_soft_delete, client_update
from giftcards import exceptions, services
from giftcards.idempotency import idempotent, ledger_key
from giftcards.models import PUBLIC_ID_PATTERN, BalanceLog, GiftCard
from giftcards.parsers import DecimalJSONParser
from giftcards.plain_api import serializers as s
from giftcards.plain_api.errors import plain_exception_handler
from giftcards.plain_api.fields import ID_MESSAGE, parse_id
from giftcards.plain_api.schema import (
    CLIENT_PAGE_PARAMETERS,
    COUNT,
    ClientShape,
    GiftCardShape,
    PaymentShape,
    RefundShape,
    document,
)
from giftcards.preconditions import card_etag, conditional_read, if_match
from giftcards.throttling import ApiKeyRateThrottle, StopAtFirstRefusal

_PUBLIC_ID = re.compile(PUBLIC_ID_PATTERN)
Kind = BalanceLog.Kind


def _one(queryset):
    """The row a primary-key filter finds, or None (no ORDER BY for a single row)."""
    found = list(queryset.order_by()[:1])
    return found[0] if found else None


class PlainApiView(StopAtFirstRefusal, ApiKeyScopedView, APIView):
    parser_classes = [DecimalJSONParser]
    renderer_classes = [JSONRenderer]
    throttle_classes = [ApiKeyRateThrottle]
    # Domain error fields -> this API's field names, where a view differs from the default.
    error_fields: dict[str, str] = {}
    # A view of one resource: its GET answers with a body-hash ETag, and a 304 to a matching
    # If-None-Match (giftcards.preconditions).
    single_resource = False

    def get_exception_handler(self):
        return plain_exception_handler

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.single_resource:
            return conditional_read(request, response)
        return response

    def context(self, **extra):
        business = self.tenant.business
        return {
            "tenant": self.tenant,
            "actor": self.actor,
            "business": business,
            "currency_code": business.currency_code,
            **extra,
        }

    def body(self) -> Mapping:
        data = self.request.data
        if not isinstance(data, Mapping):
            raise ValidationError(
                {"non_field_errors": ["The body must be a JSON object."]}, code="not_an_object"
            )
        return data

    def cards(self) -> QuerySet[GiftCard]:
        return GiftCard.objects.for_tenant(self.tenant)

    def shown_cards(self) -> QuerySet[GiftCard]:
        """Cards to show: only what `gift_card_data` reads (no codes, no metadata to decode)."""
        return self.cards().only(*s.GIFT_CARD_COLUMNS)

    def card_from_url(self, card_id: str) -> GiftCard:
        if not _PUBLIC_ID.match(card_id):
            raise ValidationError(
                {"giftCardUUId": ["Not a gift card id (22 characters of URL-safe base64)."]},
                code="invalid_id",
            )
        card = _one(self.shown_cards().filter(pk=card_id))
        if card is None:
            raise Http404("No gift card with this giftCardUUId.")
        return card

    def card_response(self, card: GiftCard, status_code: int = status.HTTP_200_OK) -> Response:
        """One card, with its ETag (send it back in If-Match to update only that version)."""
        response = Response(s.gift_card_data(card, self.tenant.business), status=status_code)
        response["ETag"] = card_etag(card)
        return response

    def card_id_from_body(self, value) -> str:
        """A body's gift card id, checked for shape only: the service looks it up (through the
        tenant) when it locks it, and an unknown one is a 400 naming the field."""
        if not isinstance(value, str) or not _PUBLIC_ID.match(value):
            raise ValidationError(
                {"giftCardUUId": ["No gift card with this giftCardUUId."]}, code="does_not_exist"
            )
        return value

    def card_from_body(self, value) -> GiftCard | None:
        """The card a body refers to, or None (the serializer then names the field)."""
        if isinstance(value, str) and _PUBLIC_ID.match(value):
            return self.cards().filter(pk=value).first()
        return None

    def client_from_url(self, client_id: str) -> Client:
        pk = parse_id(client_id)
        if pk is None:
            raise ValidationError({"clientId": [ID_MESSAGE]}, code="invalid_id")
        client = _one(Client.objects.for_tenant(self.tenant).filter(pk=pk))
        if client is None:
            raise Http404("No client with this clientId.")
        return client

    def client_from_body(self, value) -> Client:
        pk = parse_id(value)
        if pk is None:
            raise ValidationError({"clientId": [ID_MESSAGE]}, code="invalid_id")
        client = Client.objects.for_tenant(self.tenant).filter(pk=pk).first()
        if client is None:
            raise ValidationError(
                {"clientId": [f"No client with id {value}."]}, code="does_not_exist"
            )
        return client


# ---------------------------------------------------------------------------- gift cards


class GiftCardSaveView(PlainApiView):
    """POST /giftcards: create (no giftCardUUId, 201) or update (with it, 200)."""

    @document(
        request=s.GiftCardWriteSerializer,
        ok=201,
        shape=GiftCardShape,
        updates=True,
        idempotent=True,
        if_match=True,
        description="Creates a card (201), or updates the card named by giftCardUUId (200).",
    )
    @idempotent
    def post(self, request):
        data = self.body()
        card_id = data.get("giftCardUUId")
        card = self.card_from_body(card_id) if card_id is not None else None
        context = self.context(card=card)
        if card is not None:
            context["currency_code"] = card.currency_code
        serializer = s.GiftCardWriteSerializer(instance=card, data=data, context=context)
        serializer.is_valid(raise_exception=True)
        key = ledger_key(request, "plain")
        issued = (
            None if card else services.card_issued_with(tenant=self.tenant, idempotency_key=key)
        )
        if issued is not None:  # a retry of a create whose response was never stored
            return self.card_response(issued, status.HTTP_201_CREATED)
        with transaction.atomic():
            if card is None:
                card = services.card_issue(
                    tenant=self.tenant,
                    actor=self.actor,
                    idempotency_key=key,
                    **serializer.issue_arguments(),
                )
                created, versions = True, None
            else:
                created, versions = False, if_match(request)
            result = services.card_change(
                card=card.pk,
                tenant=self.tenant,
                actor=self.actor,
                changes=serializer.change_set(None if created else card),
                if_match=versions,
                # An update's balance write carries the key into the ledger, so a retry that
                # runs again (its first response was never stored) replays it instead of
                # writing the balance over the payments made since. A create's key is on its
                # issue row already.
                idempotency_key=None if created else key,
            )
        return self.card_response(
            result.card, status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class GiftCardDetailView(PlainApiView):
    """GET /giftcards/{id} (deleted cards too, as "Deleted"); DELETE soft-deletes."""

    single_resource = True

    @document(shape=GiftCardShape, path=["card_id"], not_modified=True)
    def get(self, request, card_id):
        return self.card_response(self.card_from_url(card_id))

    @document(shape=GiftCardShape, path=["card_id"], description="Soft-deletes the card.")
    def delete(self, request, card_id):
        card = self.card_from_url(card_id)
        card = services.card_soft_delete(card=card.pk, tenant=self.tenant, actor=self.actor)
        return Response(s.gift_card_data(card, self.tenant.business))


class ClientGiftCardsView(PlainApiView):
    """GET /giftcards/client/{clientId}: the client's cards that are not deleted, oldest
    first."""

    @document(shape=GiftCardShape, many=True, path=["client_id"])
    def get(self, request, client_id):
        pk = parse_id(client_id)
        if pk is None:
            raise ValidationError({"clientId": [ID_MESSAGE]}, code="invalid_id")
        # The tenant's cards of that client id: a client of another tenant has none of them.
        cards = self.cards().not_deleted().filter(client_id=pk).order_by("created_at", "id")
        rows = list(cards.values(*s.GIFT_CARD_COLUMNS))
        if not rows:
            self.client_from_url(client_id)  # no cards, or no such client here (404)
        business = self.tenant.business
        zone = business.tzinfo
        return Response([s.gift_card_data(row, business, zone) for row in rows])


# ---------------------------------------------------------------------------- clients


def listed_clients(view: PlainApiView) -> QuerySet[Client]:
    """The clients GET /clients lists and GET /clients/count counts: the active ones."""
    return Client.objects.for_tenant(view.tenant).filter(active=True)


class ClientListView(PlainApiView):
    """GET /clients (active ones, a page at a time); POST /clients creates or updates by
    clientId."""

    @document(
        shape=ClientShape,
        many=True,
        parameters=CLIENT_PAGE_PARAMETERS,
        description=(
            "The active clients, oldest first, a page at a time: `page` (from 1) and `pageSize` "
            f"(1 to {s.MAX_PAGE_SIZE}, default {s.DEFAULT_PAGE_SIZE}). A page past the last is "
            "an empty array; GET /clients/count says how many there are."
        ),
    )
    def get(self, request):
        page, size = s.page_parameters(request.query_params)
        clients = listed_clients(self).order_by("id")[(page - 1) * size : page * size]
        return Response([s.client_data(client) for client in clients])

    @document(
        request=s.ClientWriteSerializer,
        ok=201,
        shape=ClientShape,
        updates=True,
        description="Creates a client (201), or updates the client named by clientId (200).",
    )
    def post(self, request):
        data = self.body()
        client_id = data.get("clientId")
        client = None
        if client_id is not None:
            client = self.client_from_body(client_id)
        serializer = s.ClientWriteSerializer(
            instance=client, data=data, context=self.context(), partial=client is not None
        )
        serializer.is_valid(raise_exception=True)
        if client is None:
            saved = client_create(tenant=self.tenant, actor=self.actor, **serializer.model_fields())
        else:
            saved = client_update(client=client, actor=self.actor, **serializer.model_fields())
        return Response(
            s.client_data(saved),
            status=status.HTTP_200_OK if client is not None else status.HTTP_201_CREATED,
        )


class ClientCountView(PlainApiView):
    """GET /clients/count: how many clients GET /clients lists (the active ones)."""

    @document(
        shape=COUNT,
        description="The number of active clients: what GET /clients lists, over all pages.",
    )
    def get(self, request):
        return Response(listed_clients(self).count())


class ClientDetailView(PlainApiView):
    """GET /clients/{clientId}; DELETE soft-deletes."""

    single_resource = True

    @document(shape=ClientShape, path=["client_id"], not_modified=True)
    def get(self, request, client_id):
        return Response(s.client_data(self.client_from_url(client_id)))

    @document(shape=ClientShape, path=["client_id"], description="Soft-deletes the client.")
    def delete(self, request, client_id):
        client = self.client_from_url(client_id)
        return Response(s.client_data(client_soft_delete(client=client, actor=self.actor)))


# ---------------------------------------------------------------------------- payments


class PaymentCreateView(PlainApiView):
    """POST /payments: pay with a card (a debit in the ledger)."""

    error_fields = {
        "card": "giftCardUUId",
        "status": "giftCardUUId",
        "expires_at": "giftCardUUId",
        "deleted_at": "giftCardUUId",
        "balance_cents": "amount",
    }
    # The card is named in the body: an unknown one is bad input, not a missing route.
    error_statuses = {exceptions.CardNotFound: status.HTTP_400_BAD_REQUEST}

    @document(request=s.PaymentWriteSerializer, ok=201, shape=PaymentShape, idempotent=True)
    @idempotent
    def post(self, request):
        data = self.body()
        serializer = s.PaymentWriteSerializer(data=data, context=self.context())
        serializer.is_valid(raise_exception=True)
        payment = serializer.validated_data
        change = services.card_debit(
            card=self.card_id_from_body(payment["giftCardUUId"]),
            tenant=self.tenant,
            amount=payment["amount"],
            actor=self.actor,
            idempotency_key=ledger_key(request, "plain"),
            order_reference=payment.get("invoiceId") or "",
            note=payment.get("comment") or "",
            occurred_at=payment.get("paymentDate"),
        )
        body = s.payment_data(change.entry, change.card, refunds=[])
        return Response(body, status=status.HTTP_201_CREATED)


class CardPaymentsView(PlainApiView):
    """GET /payments/giftCard/{id}: the card's payments, newest first, with their refunds."""

    @document(shape=PaymentShape, many=True, path=["card_id"])
    def get(self, request, card_id):
        card = self.card_from_url(card_id)
        # Payments and refunds in one read, oldest first: each refund follows its payment.
        rows = BalanceLog.objects.filter(card=card, kind__in=[Kind.DEBIT, Kind.REFUND])
        payments, refunds = [], defaultdict(list)
        for row in rows.order_by("created_at", "id"):
            if row.kind == Kind.DEBIT:
                payments.append(row)
            else:
                refunds[row.refund_of_id].append(row)
        return Response(
            [s.payment_data(entry, card, refunds[entry.pk]) for entry in reversed(payments)]
        )


class PaymentView(PlainApiView):
    """What the calls on one payment share: finding it through the key's tenant."""

    def payment_from_url(self, payment_id: str) -> BalanceLog:
        pk = parse_id(payment_id)
        if pk is None:
            raise ValidationError({"paymentId": [ID_MESSAGE]}, code="invalid_id")
        payment = _one(
            BalanceLog.objects.payments()
            .filter(pk=pk, card__business=self.tenant.business, card__mode=self.tenant.mode)
            .select_related("card")
        )
        if payment is None:
            raise Http404("No payment with this paymentId.")
        return payment

    def refunds_of(self, payment: BalanceLog) -> list[BalanceLog]:
        return list(payment.refunds.order_by("created_at", "id"))


class PaymentDetailView(PaymentView):
    """GET /payments/{paymentId}: the payment with its refunds.

    DELETE /payments/{paymentId}: refund what remains of the payment; when nothing remains,
    a 409 (a retry with the first request's `Idempotency-Key` gets the first response
    instead). It takes no body: a part is refunded through POST /payments/{paymentId}/refunds.
    """

    single_resource = True

    @document(shape=PaymentShape, path=["payment_id"], not_modified=True)
    def get(self, request, payment_id):
        payment = self.payment_from_url(payment_id)
        return Response(s.payment_data(payment, payment.card, self.refunds_of(payment)))

    @document(
        shape=PaymentShape,
        path=["payment_id"],
        idempotent=True,
        description=(
            "Refunds what remains of the payment (all of it when nothing was refunded yet). "
            "To refund part of it, POST to /payments/{paymentId}/refunds."
        ),
    )
    @idempotent
    def delete(self, request, payment_id):
        payment = self.payment_from_url(payment_id)
        self.refuse_a_part(request, payment)
        key = ledger_key(request, "plain")
        with transaction.atomic():  # all the response needs, read before the commit
            change = services.card_refund(
                payment=payment,
                tenant=self.tenant,
                actor=self.actor,
                # Keyed apart from a part's refund: a key once used for a part, sent again
                # here once its stored response is gone, refunds the rest, not "the part again".
                idempotency_key=f"{key}:rest" if key else None,
            )
            refunds = self.refunds_of(payment)
        return Response(s.payment_data(payment, change.card, refunds))

    @staticmethod
    def refuse_a_part(request, payment: BalanceLog) -> None:
        """A DELETE that says anything (a body other than an empty object, a query parameter)
        may mean a part of the payment: it is refused, never taken as "all of it"."""
        data = request.data if request.body.strip() else {}
        if not request.query_params and isinstance(data, Mapping) and not data:
            return  # no body, or an empty object
        sent = {*request.query_params, *(data if isinstance(data, Mapping) else ())}
        message = (
            "DELETE refunds all that remains of a payment and takes no body or parameters. "
            f'To refund part of it, POST {{"amount": ...}} to /payments/{payment.pk}/refunds.'
        )
        raise ValidationError(
            {"amount" if "amount" in sent else "detail": [message]}, code="refund_takes_no_body"
        )


class PaymentRefundsView(PaymentView):
    """POST /payments/{paymentId}/refunds: refund part of a payment (never more than remains
    of it, a 422 that says how much); GET: its refunds, oldest first."""

    @document(
        request=s.RefundWriteSerializer,
        ok=201,
        shape=RefundShape,
        path=["payment_id"],
        idempotent=True,
        description="Refunds `amount` of the payment; its refunds never exceed it in total.",
    )
    @idempotent
    def post(self, request, payment_id):
        payment = self.payment_from_url(payment_id)
        serializer = s.RefundWriteSerializer(data=self.body(), context=self.context())
        serializer.is_valid(raise_exception=True)
        change = services.card_refund(
            payment=payment,
            tenant=self.tenant,
            actor=self.actor,
            amount=serializer.validated_data["amount"],
            note=serializer.validated_data.get("comment") or "",
            idempotency_key=ledger_key(request, "plain"),
        )
        return Response(s.refund_data(change.entry, change.card), status=status.HTTP_201_CREATED)

    @document(shape=RefundShape, many=True, path=["payment_id"])
    def get(self, request, payment_id):
        payment = self.payment_from_url(payment_id)
        refunds = self.refunds_of(payment)
        return Response([s.refund_data(refund, payment.card) for refund in refunds])
