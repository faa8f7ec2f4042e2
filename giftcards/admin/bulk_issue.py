"""Bulk issue in the card admin: a manager issues a batch of alike cards (one form, one
service call, one transaction) and gets their codes once, as a printable sheet and a CSV.

The codes are never stored in clear. The session keeps, under the form's one-time token, the
ids of the batch's cards and whether their codes were shown; the sheet decrypts the codes
from the cards the first time it is opened (recorded on every card as a code reveal), and
offers them as a CSV that the sheet's own form fetches with a POST, once, within
CSV_WINDOW_SECONDS of that showing. Reloading the sheet shows the masked codes only.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.models import ADDITION, CHANGE, LogEntry
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from clients.models import User
from clients.tenancy import Actor, Mode, Tenant
from giftcards import money, services
from giftcards.admin.access import require_perms, without_business
from giftcards.admin.card_pages import REVEAL_MESSAGE, card_admin_url
from giftcards.admin.export import _text as csv_text
from giftcards.admin.forms import BulkIssueForm
from giftcards.exceptions import GiftCardError
from giftcards.models import GiftCard

# Issuing a batch and seeing its codes: the sale's permission and the code reveal's (both
# the managers'; cashiers sell one card at a time and never see a code twice).
PERMISSIONS = ("giftcards.add_giftcard", "giftcards.reveal_code_giftcard")
SESSION_KEY = "giftcards.admin.bulk_issues"
BATCHES_KEPT = 5  # recent batch tokens remembered per session
CSV_WINDOW_SECONDS = 15 * 60
ISSUED_MESSAGE = "Issued in a batch of {count} (bulk issue)."
ALREADY_ISSUED = (
    "This batch was already issued (the form was sent twice); no more cards were issued."
)
CODES_SHOWN = (
    "The codes of this batch were shown once, when it was issued; they stay masked from now "
    "on. A lost code can be revealed on its card's page (the reveal is recorded)."
)
CSV_GONE = (
    "The CSV of this batch is no longer available: it is handed out once, within "
    f"{CSV_WINDOW_SECONDS // 60} minutes of the sheet being shown."
)
ERROR_FIELDS = {
    "count": "count",
    "balance_cents": "amount",
    "amount_cents": "amount",
    "currency_code": "currency_code",
    "status": "status",
    "expires_at": "expires_on",
    "market": "market",
    "tag": "tag",
    "reference": "reference_prefix",
}
FIELDSETS = [
    (None, {"fields": ["count", "amount", "currency_code", "status"]}),
    ("Rules", {"fields": ["expires_on", "market", "tag", "reference_prefix"]}),
]
CSV_HEADER = ["code", "amount", "currency", "status", "expires_on", "reference", "id"]


class BulkIssueMixin:
    """Mixed into GiftCardAdmin (a BusinessScopedAdmin) before its other page mixins."""

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("bulk-issue/", wrap(self.bulk_issue_view), name=f"{prefix}_bulk_issue"),
            path(
                "bulk-issue/<str:token>/", wrap(self.bulk_sheet_view), name=f"{prefix}_bulk_sheet"
            ),
            path(
                "bulk-issue/<str:token>/csv/",
                wrap(self.bulk_csv_view),
                name=f"{prefix}_bulk_csv",
            ),
            *super().get_urls(),
        ]

    def can_bulk_issue(self, request) -> bool:
        user = request.user
        return user.business_id is not None and user.has_perms(PERMISSIONS)

    # ------------------------------------------------------------------ the form

    def bulk_issue_view(self, request):
        require_perms(request, PERMISSIONS)
        if refused := without_business(self, request, "issue cards"):
            return refused
        business = request.user.business
        form = BulkIssueForm(request.POST or None, business=business)
        if request.method == "POST" and form.is_valid():
            token = form.cleaned_data["batch_token"] or uuid.uuid4().hex
            try:
                replayed = self._issue_once(request, token, form.cleaned_data)
            except GiftCardError as exc:
                form.add_error(ERROR_FIELDS.get(exc.field), exc.message)
            else:
                if replayed:
                    self.message_user(request, ALREADY_ISSUED, messages.WARNING)
                return redirect(reverse("admin:giftcards_giftcard_bulk_sheet", args=[token]))
        admin_form = helpers.AdminForm(form, FIELDSETS, {}, model_admin=self)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Issue a batch of gift cards",
            "subtitle": None,
            "adminform": admin_form,
            "errors": helpers.AdminErrorList(form, []),
            "media": self.media + admin_form.media,
            "add": True,
            "change": False,
            "has_view_permission": self.has_view_permission(request),
            "business": business,
        }
        return TemplateResponse(request, "admin/giftcards/giftcard/bulk_issue.html", context)

    # One batch per form, as one sale per form (card_pages.py): the batches a session issued
    # are kept in it by token, read and written under a lock on the user's row, so the two
    # requests of a double click run one after the other and the second finds the first's.

    def _stored_session(self, request) -> dict:
        """This session's data as stored now (not as loaded when the request began); call
        inside a transaction (it holds the user's row lock until the transaction ends)."""
        list(User.objects.select_for_update().filter(pk=request.user.pk).values_list("pk"))
        return dict(type(request.session)(request.session.session_key).items())

    def _store_batches(self, request, stored: dict, batches: dict[str, dict]) -> None:
        # What another request of this session stored since this one began (a sale) is kept:
        # this request's copy of the session was loaded before it waited for the lock.
        for key, value in stored.items():
            if key != SESSION_KEY:
                request.session[key] = value
        request.session[SESSION_KEY] = dict(list(batches.items())[-BATCHES_KEPT:])
        request.session.save()  # inside the lock's transaction: the next request sees it

    def _issue_once(self, request, token: str, data) -> bool:
        """Issue the batch unless this token already did; returns whether it was a replay."""
        with transaction.atomic():
            stored = self._stored_session(request)
            batches = dict(stored.get(SESSION_KEY, {}))
            if token in batches:
                return True
            business = request.user.business
            cards = services.cards_issue_many(
                tenant=Tenant(business=business, mode=Mode.LIVE),
                actor=Actor.for_user(request.user),
                count=data["count"],
                balance_cents=data["balance_cents"],
                currency_code=data["currency_code"],
                status=data["status"],
                expires_at=data["expires_at"],
                market=data["market"],
                tags=[data["tag"]] if data["tag"] else [],
                reference_prefix=data["reference_prefix"],
            )
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=cards,
                action_flag=ADDITION,
                change_message=ISSUED_MESSAGE.format(count=len(cards)),
            )
            batches[token] = {
                "business": business.pk,
                "cards": [card.pk for card in cards],
                "shown_at": None,
                "csv_taken": False,
            }
            self._store_batches(request, stored, batches)
        return False

    # ------------------------------------------------------------------ the sheet

    def _batch_cards(self, request, batch: dict) -> list[GiftCard]:
        """The batch's cards in issue order (one query), within the staff user's scope."""
        found = {
            card.pk: card
            for card in self.get_queryset(request).filter(
                pk__in=batch["cards"], business_id=batch["business"]
            )
        }
        return [found[pk] for pk in batch["cards"] if pk in found]

    def bulk_sheet_view(self, request, token):
        """The batch's codes, the first time it is opened; afterwards the masked cards."""
        require_perms(request, PERMISSIONS)
        with transaction.atomic():
            stored = self._stored_session(request)
            batches = dict(stored.get(SESSION_KEY, {}))
            batch = batches.get(token)
            if batch is None:
                raise Http404("No such batch.")
            show_codes = batch["shown_at"] is None
            cards = self._batch_cards(request, batch)
            if show_codes:
                batch = {**batch, "shown_at": timezone.now().isoformat()}
                self._store_batches(request, stored, {**batches, token: batch})
                LogEntry.objects.log_actions(
                    user_id=request.user.pk,
                    queryset=cards,
                    action_flag=CHANGE,
                    change_message=REVEAL_MESSAGE,
                )
        if not show_codes:
            self.message_user(request, CODES_SHOWN, messages.INFO)
        business = cards[0].business if cards else request.user.business
        rows = [
            {
                "card": card,
                "code": card.code if show_codes else card.masked_code,
                "amount": money.format_cents(
                    card.initial_balance_cents, card.currency_code, business.locale
                ),
                "expires_on": _expiry_day(card, business),
                "url": card_admin_url("change", card),
            }
            for card in cards
        ]
        response = TemplateResponse(
            request,
            "admin/giftcards/giftcard/bulk_sheet.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"Batch of {len(rows)} gift cards",
                "subtitle": None,
                "rows": rows,
                "show_codes": show_codes,
                "business": business,
                "time_zone": business.timezone if business else "UTC",
                "csv_url": reverse("admin:giftcards_giftcard_bulk_csv", args=[token]),
                "csv_minutes": CSV_WINDOW_SECONDS // 60,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    def bulk_csv_view(self, request, token):
        """The codes of a batch whose sheet was just shown, as CSV: once, within the window."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        require_perms(request, PERMISSIONS)
        sheet = reverse("admin:giftcards_giftcard_bulk_sheet", args=[token])
        with transaction.atomic():
            stored = self._stored_session(request)
            batches = dict(stored.get(SESSION_KEY, {}))
            batch = batches.get(token)
            if batch is None:
                raise Http404("No such batch.")
            shown_at = batch["shown_at"]
            available = (
                shown_at is not None
                and not batch["csv_taken"]
                and timezone.now() - datetime.fromisoformat(shown_at)
                <= timedelta(seconds=CSV_WINDOW_SECONDS)
            )
            if available:
                taken = {**batches, token: {**batch, "csv_taken": True}}
                self._store_batches(request, stored, taken)
                cards = self._batch_cards(request, batch)
        if not available:
            self.message_user(request, CSV_GONE, messages.WARNING)
            return redirect(sheet)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_HEADER)
        for card in cards:
            writer.writerow(
                [
                    card.code,
                    str(money.to_major(card.initial_balance_cents, card.currency_code)),
                    card.currency_code,
                    card.status,
                    _expiry_day(card, card.business),
                    csv_text(card.reference),
                    card.pk,
                ]
            )
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="gift-card-batch-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response


def _expiry_day(card: GiftCard, business) -> str:
    """The last day the card is valid, in the business's time zone ("" without expiry)."""
    if card.expires_at is None:
        return ""
    return card.expires_at.astimezone(business.tzinfo).date().isoformat()
