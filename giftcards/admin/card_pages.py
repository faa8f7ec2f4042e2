"""The card admin's own pages: selling a card, the actions on a card's page, revealing a code
and the CSV export. Each checks its permission, finds the card through the scoped queryset
(another business's card is a 404), calls one service and reports what it did or why not."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from clients.models import User
from clients.tenancy import Actor, Tenant
from giftcards import services
from giftcards.admin import export
from giftcards.admin.access import without_business
from giftcards.admin.actions import CARD_ACTIONS, CONFIRM_FIELD, amount_text, status_text
from giftcards.admin.forms import SellForm
from giftcards.admin.ledger import LEDGER_ROWS_ON_CARD_PAGE
from giftcards.exceptions import GiftCardError
from giftcards.models import CardEmail, GiftCard

REVEAL_MESSAGE = "Revealed the full code."
SALES_SESSION_KEY = "giftcards.admin.sales"
SALES_KEPT = 20  # recent sale tokens remembered per session
EMAILS_ON_CARD_PAGE = 10
ALREADY_SOLD = (
    "This sale was already recorded (the form was sent twice): gift card {card} was sold "
    "once, no second card was sold."
)
CODE_SHOWN = "The code of this card was shown once, when it was sold; it stays masked from now on."


def card_admin_url(name: str, card: GiftCard | str, *args) -> str:
    """An admin URL of a card. Public ids may hold "_", which the admin's URLs escape."""
    pk = card.pk if isinstance(card, GiftCard) else card
    return reverse(f"admin:giftcards_giftcard_{name}", args=[quote(pk), *args])


SELL_ERROR_FIELDS = {
    "code": "code",
    "balance_cents": "amount",
    "amount_cents": "amount",
    "currency_code": "currency_code",
    "balance_max_cents": "balance_max",
    "status": "status",
    "client": "client",
    "market": "market",
    "gift_card_recipient": "recipient_email",
}


class CardPagesMixin:
    """Mixed into GiftCardAdmin (a BusinessScopedAdmin)."""

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("export/", wrap(self.export_view), name=f"{prefix}_export"),
            path(
                "<path:object_id>/act/<str:action>/",
                wrap(self.card_action_view),
                name=f"{prefix}_act",
            ),
            path("<path:object_id>/reveal/", wrap(self.reveal_view), name=f"{prefix}_reveal"),
            path("sold/<str:token>/", wrap(self.sold_view), name=f"{prefix}_sold"),
            *super().get_urls(),
        ]

    def change_url(self, card) -> str:
        return card_admin_url("change", card)

    # ------------------------------------------------------------------ the card's page

    def card_page_context(self, request, card: GiftCard) -> dict[str, Any]:
        from django.contrib.admin.models import LogEntry
        from django.contrib.contenttypes.models import ContentType

        actions = []
        for action in CARD_ACTIONS.values():
            if request.user.has_perm(action.permission) and action.applies(card):
                actions.append(
                    {
                        "name": action.name,
                        "label": action.label,
                        "help": action.help,
                        "danger": action.danger,
                        "url": card_admin_url("act", card, action.name),
                        "form": action.form(card=card, auto_id=f"id_{action.name}_%s"),
                    }
                )
        can_reveal = request.user.has_perm("giftcards.reveal_code_giftcard")
        reveals = []
        if can_reveal:
            reveals = list(
                LogEntry.objects.filter(
                    content_type=ContentType.objects.get_for_model(GiftCard),
                    object_id=card.pk,
                    change_message=REVEAL_MESSAGE,
                )
                .select_related("user")
                .order_by("-action_time")[:5]
            )
        can_see_emails = request.user.has_perm("giftcards.view_cardemail")
        emails = []
        if can_see_emails:
            emails = list(
                CardEmail.objects.filter(card=card).order_by("-created_at", "-id")[
                    :EMAILS_ON_CARD_PAGE
                ]
            )
        return {
            "card": card,
            "card_actions": actions,
            "can_see_emails": can_see_emails,
            "card_emails": emails,
            "card_expired": card.is_expired(),
            "time_zone": timezone.get_current_timezone_name(),
            "formatted_balance": amount_text(card.balance_cents, card),
            "formatted_initial": amount_text(card.initial_balance_cents, card),
            "can_reveal": can_reveal,
            "reveal_url": card_admin_url("reveal", card),
            "reveals": reveals,
            "ledger_rows": card.ledger.count(),
            "ledger_rows_shown": LEDGER_ROWS_ON_CARD_PAGE,
            "ledger_url": f"{reverse('admin:giftcards_balancelog_changelist')}?card__in={card.pk}",
        }

    def card_action_view(self, request, object_id, action):
        spec = CARD_ACTIONS.get(action)
        # A GET is taken only by the actions that ask first, and it never fills in their
        # confirmation page (see action_page).
        allowed = ("GET", "POST") if spec is not None and spec.confirm else ("POST",)
        if request.method not in allowed:
            return HttpResponseNotAllowed(allowed)
        if spec is None:
            raise Http404("No such action.")
        card = self.get_object_or_404(request, unquote(object_id))
        if not (self.has_view_permission(request, card) and request.user.has_perm(spec.permission)):
            raise PermissionDenied
        if request.method == "GET":
            return self.action_page(request, spec, card)
        form = spec.form(request.POST, card=card)
        if not form.is_valid():
            for field, errors in form.errors.items():
                label = form.fields[field].label if field in form.fields else ""
                for error in errors:
                    prefix = f"{spec.label}: {label} — " if label else f"{spec.label}: "
                    self.message_user(request, f"{prefix}{error}", messages.ERROR)
            return redirect(self.change_url(card))
        if spec.confirm is not None:
            asked = self.confirmation(request, spec, card, form)
            if asked is not None:
                return asked
        try:
            done = spec.run(card, form.cleaned_data, Actor.for_user(request.user))
        except GiftCardError as exc:
            self.message_user(
                request, f"{spec.label} refused: {exc.message} Nothing was changed.", messages.ERROR
            )
        else:
            self.log_change(request, card, f"{spec.label}: {done}")
            self.message_user(request, done, messages.SUCCESS)
        return redirect(self.change_url(card))

    def action_page(self, request, spec, card: GiftCard) -> HttpResponse:
        """A GET of an action's URL. Its query is ignored: a confirmation page is only ever
        built from a form posted with a CSRF token, so a link cannot choose what a real-looking
        page asks staff to confirm. An action with fields to fill in shows its empty form,
        which posts as the card page's does; the others lead to the card's page."""
        form = spec.form(card=card, auto_id=f"id_{spec.name}_%s")
        if not form.visible_fields() or not spec.applies(card):
            return redirect(self.change_url(card))
        return TemplateResponse(
            request,
            "admin/giftcards/giftcard/action_form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"{spec.label}: {card.masked_code}",
                "subtitle": None,
                "card": card,
                "action": spec,
                "form": form,
                "action_url": card_admin_url("act", card, spec.name),
                "change_url": self.change_url(card),
            },
        )

    def confirmation(self, request, spec, card: GiftCard, form) -> HttpResponse | None:
        """The page that asks before `spec` runs, or None when this request is the confirmed
        POST of that page for the card as it still is."""
        if not spec.applies(card):
            self.message_user(
                request,
                f"{spec.label} does not apply to this card now (it is {status_text(card)}). "
                "Nothing was changed.",
                messages.ERROR,
            )
            return redirect(self.change_url(card))
        version = services.card_version(card)
        confirmed = request.POST.get(CONFIRM_FIELD) == "yes"
        if confirmed and request.POST.get("seen") == version:
            return None
        # What the page states must still hold when it is confirmed: a card changed since
        # (a debit at a till) is asked about again, with its new figures.
        changed_since = confirmed
        hidden = [(name, form.data.get(name, "")) for name in form.fields if name in form.data]
        if not form.data.get("idempotency_key"):
            hidden = [item for item in hidden if item[0] != "idempotency_key"]
            hidden.append(("idempotency_key", form.initial["idempotency_key"]))
        return TemplateResponse(
            request,
            "admin/giftcards/giftcard/confirm_action.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"{spec.label}: {card.masked_code}?",
                "subtitle": None,
                "card": card,
                "action": spec,
                "changes": spec.confirm(card, form.cleaned_data),
                "reason": form.cleaned_data.get("reason", ""),
                "hidden": hidden,
                "seen": version,
                "confirm_field": CONFIRM_FIELD,
                "changed_since": changed_since,
                "action_url": card_admin_url("act", card, spec.name),
                "change_url": self.change_url(card),
            },
        )

    def reveal_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        card = self.get_object_or_404(request, unquote(object_id))
        if not request.user.has_perm("giftcards.reveal_code_giftcard"):
            raise PermissionDenied
        self.log_change(request, card, REVEAL_MESSAGE)
        return self.full_code_page(
            request, "admin/giftcards/giftcard/reveal.html", card, title=f"Code of {card}"
        )

    def full_code_page(self, request, template: str, card: GiftCard, **context):
        """A page that shows a card's full code: never stored by a browser or a proxy."""
        response = TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "card": card,
                "code": card.code,
                "change_url": self.change_url(card),
                **context,
            },
        )
        response["Cache-Control"] = "no-store"
        return response

    # ------------------------------------------------------------------ selling

    def sell_fieldsets(self, request):
        card = ["code", "amount", "currency_code", "status", "mode"]
        if request.user.is_superuser:
            card.insert(0, "business")
        return [
            (None, {"fields": card}),
            ("Holder", {"fields": ["client", "recipient_email", "reference"]}),
            (
                "Rules",
                {"fields": ["expires_on", "market", "balance_max", "single_use", "rechargeable"]},
            ),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if not request.user.is_superuser and (
            refused := without_business(self, request, "sell cards")
        ):
            return refused
        form = SellForm(request.POST or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            token = form.cleaned_data["sale_token"] or uuid.uuid4().hex
            try:
                sale, replayed = self.sell_once(request, token, form.cleaned_data)
            except GiftCardError as exc:
                form.add_error(SELL_ERROR_FIELDS.get(exc.field), exc.message)
            else:
                return self.after_sale(request, token, sale, replayed)
        fieldsets = self.sell_fieldsets(request)
        admin_form = helpers.AdminForm(form, fieldsets, {}, model_admin=self)
        context = {
            **self.admin_site.each_context(request),
            "title": "Sell a gift card",
            "subtitle": None,
            "adminform": admin_form,
            "object_id": None,
            "original": None,
            "is_popup": False,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        return self.render_change_form(request, context, add=True, form_url=form_url)

    # One sale per form. The sales a session made are kept in it by token; reading and
    # writing them happens under a lock on the user's row, so the two requests of a double
    # click run one after the other and the second finds the first one's sale. The sold page
    # is a redirect (post/redirect/get), so a refresh re-sends nothing, and it shows a
    # generated code only the first time it is opened.

    def _stored_sales(self, request) -> dict[str, dict]:
        """This session's sales as stored now (not as loaded when the request began); call
        inside a transaction that holds the user's row lock."""
        list(User.objects.select_for_update().filter(pk=request.user.pk).values_list("pk"))
        stored = type(request.session)(request.session.session_key)
        return dict(stored.get(SALES_SESSION_KEY, {}))

    def _store_sales(self, request, sales: dict[str, dict]) -> None:
        request.session[SALES_SESSION_KEY] = dict(list(sales.items())[-SALES_KEPT:])
        request.session.save()  # inside the lock's transaction: the next request sees it

    def sell_once(self, request, token: str, data) -> tuple[dict, bool]:
        """Sell unless this token already sold; returns the sale and whether it was a replay."""
        with transaction.atomic():
            sales = self._stored_sales(request)
            if token in sales:
                return sales[token], True
            card, code = self.sell(request, data)
            self.log_addition(request, card, "Sold.")
            sale = {"card": card.pk, "code_pending": code is not None}
            self._store_sales(request, {**sales, token: sale})
        return sale, False

    def after_sale(self, request, token: str, sale: dict, replayed: bool):
        if sale["code_pending"]:  # the generated code has not been shown yet
            return redirect(reverse("admin:giftcards_giftcard_sold", args=[token]))
        card = self.get_object_or_404(request, sale["card"])
        if replayed:
            self.message_user(request, ALREADY_SOLD.format(card=card.masked_code), messages.WARNING)
        else:
            price = amount_text(card.balance_cents, card)
            self.message_user(
                request, f"Sold gift card {card.masked_code} for {price}.", messages.SUCCESS
            )
        return HttpResponseRedirect(self.change_url(card))

    def sold_view(self, request, token):
        """Shows a generated code once; afterwards the same URL leads to the masked card."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        with transaction.atomic():
            sales = self._stored_sales(request)
            sale = sales.get(token)
            if sale is None:
                raise Http404("No such sale.")
            show_code = sale["code_pending"]
            if show_code:
                self._store_sales(request, {**sales, token: {**sale, "code_pending": False}})
        card = self.get_object_or_404(request, sale["card"])
        if not show_code:
            self.message_user(request, CODE_SHOWN, messages.INFO)
            return HttpResponseRedirect(self.change_url(card))
        price = amount_text(card.initial_balance_cents, card)
        return self.full_code_page(
            request,
            "admin/giftcards/giftcard/sold.html",
            card,
            title="Card sold",
            sold=f"Sold gift card {card.masked_code} for {price}.",
        )

    def sell(self, request, data) -> tuple[GiftCard, str | None]:
        """Issue the card; returns it and its code when the code was generated (to show once)."""
        business = data["business"] if request.user.is_superuser else request.user.business
        tenant = Tenant(business=business, mode=data["mode"])
        actor = Actor.for_user(request.user)
        with transaction.atomic():  # a refused card leaves no new recipient behind
            recipient = None
            if data.get("recipient_email"):
                recipient = services.recipient_find_or_create(
                    tenant=tenant, email=data["recipient_email"]
                )
            card = services.card_issue(
                tenant=tenant,
                actor=actor,
                balance_cents=data["balance_cents"],
                currency_code=data["currency_code"],
                code=data["code"] or None,
                status=data["status"],
                balance_max_cents=data["balance_max_cents"],
                single_use=data["single_use"],
                rechargeable=data["rechargeable"],
                expires_at=data["expires_at"],
                reference=data["reference"],
                client=data["client"],
                recipient=recipient,
                market=data["market"],
            )
        return card, (None if data["code"] else card.code)

    # ------------------------------------------------------------------ export

    def export_view(self, request):
        if not (
            self.has_view_permission(request) and request.user.has_perm("giftcards.export_giftcard")
        ):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return redirect(f"{reverse('admin:giftcards_giftcard_changelist')}?e=1")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return export.csv_response(changelist.queryset, f"gift-cards-{stamp}.csv")
