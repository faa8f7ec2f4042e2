"""Webhooks in the admin (managers): saved and deleted through `giftcards.events.webhooks`,
disabled, enabled and reset from the list or their page, with their latest calls."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import capfirst

from clients.tenancy import Actor
from giftcards import codes
from giftcards.admin.catalogue import CatalogueAdmin, CatalogueForm, delete_selected
from giftcards.admin.filters import DisabledFilter, TopicFilter
from giftcards.admin.forms import StorableJSONField
from giftcards.admin.ledger import when
from giftcards.events import payloads, topics, webhooks
from giftcards.models import CircuitState, Delivery, EventCallback, Webhook

CALLBACKS_ON_PAGE = 20
SECRET_REVEALED = "Revealed the shared secret."


def webhook_admin_url(name: str, webhook: Webhook, *args) -> str:
    return reverse(f"admin:giftcards_webhook_{name}", args=[quote(webhook.pk), *args])


# ---------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class WebhookAction:
    """One service call on webhooks, offered in the list and on a webhook's page."""

    name: str
    label: str
    run: Callable[..., Webhook]
    done: str  # formatted with the number of webhooks
    applies: Callable[[Webhook], bool]
    help: str
    danger: bool = False


WEBHOOK_ACTIONS = {
    action.name: action
    for action in [
        WebhookAction(
            "disable",
            "Disable",
            webhooks.webhook_disable,
            "Disabled {count} webhook(s): pending deliveries wait, and events make no "
            "deliveries for it until it is enabled again.",
            lambda webhook: not webhook.is_disabled,
            "Stop calling it. Events that happen while it is disabled are not sent later.",
            danger=True,
        ),
        WebhookAction(
            "enable",
            "Enable",
            webhooks.webhook_enable,
            "Enabled {count} webhook(s): what waited is sent now.",
            lambda webhook: webhook.is_disabled,
            "Call it again; pending deliveries are sent at once.",
        ),
        WebhookAction(
            "reset_circuit",
            "Reset circuit",
            webhooks.webhook_reset_circuit,
            "Reset the circuit of {count} webhook(s): what waited is sent now.",
            lambda webhook: True,
            "Close the circuit and clear the failure count; waiting deliveries and retries "
            "are sent at once.",
        ),
    ]
}


def _list_action(spec: WebhookAction):
    def action(modeladmin, request, queryset):
        modeladmin.run_webhook_action(request, spec, modeladmin.scope(request, queryset))

    action.__name__ = f"{spec.name}_webhooks"
    return admin.action(permissions=["change"], description=f"{spec.label} selected webhooks")(
        action
    )


# ---------------------------------------------------------------------------- form

INCLUDABLE = sorted(set().union(*payloads.INCLUDES.values()))


class WebhookForm(CatalogueForm):
    """Checked by `webhook_validate`, so a refused callback URL shows next to its field."""

    topic = forms.ChoiceField(choices=[(name, name) for name in topics.TOPICS])
    include_resources = forms.MultipleChoiceField(
        choices=[(name, name) for name in INCLUDABLE],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Related resources sent with each call (gift card topics only).",
    )
    metadata = StorableJSONField(required=False)
    validate = staticmethod(webhooks.webhook_validate)
    row_argument = "webhook"
    service_fields = webhooks.FIELDS

    class Meta:
        model = Webhook
        fields = (
            "business",
            "mode",
            "name",
            "topic",
            "callback_url",
            "include_resources",
            "reference",
            "reference_origin",
            "metadata",
        )
        labels = {"callback_url": "Callback URL"}
        help_texts = {
            "callback_url": "An https URL on the public internet. It is checked when saved "
            "and again before every call.",
        }
        widgets = {"callback_url": forms.TextInput(attrs={"class": "vURLField"})}


# ---------------------------------------------------------------------------- admin


@admin.register(Webhook)
class WebhookAdmin(CatalogueAdmin):
    form = WebhookForm
    service_create = staticmethod(webhooks.webhook_create)
    service_update = staticmethod(webhooks.webhook_update)
    service_delete = staticmethod(webhooks.webhook_delete)
    change_form_template = "admin/giftcards/webhook/change_form.html"
    actions = [delete_selected, *(_list_action(spec) for spec in WEBHOOK_ACTIONS.values())]

    list_display = (
        "label",
        "topic",
        "callback_url",
        "circuit_state",
        "circuit_failure_count",
        "disabled",
        "business",
        "mode",
        "created",
    )
    list_filter = (TopicFilter, "circuit_state", DisabledFilter, "mode", "business")
    list_select_related = ("business",)
    search_fields = ("name", "callback_url")
    search_help_text = "A webhook's name or a part of its callback URL."
    readonly_fields = (
        "masked_secret",
        "circuit_state",
        "circuit_failure_count",
        "disabled_since",
        "created",
        "updated",
    )

    def get_fieldsets(self, request, obj=None):
        subscription = ["business", "mode", "name", "topic", "callback_url", "include_resources"]
        references = ("References", {"fields": ["reference", "reference_origin", "metadata"]})
        if obj is None:
            return [(None, {"fields": subscription}), references]
        return [
            (None, {"fields": subscription}),
            ("Signing", {"fields": ["masked_secret"]}),
            (
                "State",
                {"fields": [("circuit_state", "circuit_failure_count"), "disabled_since"]},
            ),
            references,
            ("Audit", {"fields": [("created", "updated")]}),
        ]

    # ------------------------------------------------------------------ columns

    @admin.display(description="name", ordering="name")
    def label(self, webhook):
        return webhook.name or "(no name)"

    @admin.display(description="disabled", boolean=True, ordering="disabled_at")
    def disabled(self, webhook):
        return webhook.is_disabled

    @admin.display(description="created", ordering="created_at")
    def created(self, webhook):
        return when(webhook.created_at)

    @admin.display(description="updated")
    def updated(self, webhook):
        return when(webhook.updated_at)

    @admin.display(description="disabled since")
    def disabled_since(self, webhook):
        return when(webhook.disabled_at) if webhook.disabled_at else "not disabled"

    @admin.display(description="shared secret")
    def masked_secret(self, webhook):
        return codes.mask(webhook.shared_secret[-4:])

    # ------------------------------------------------------------------ the page

    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/act/<str:action>/",
                wrap(self.webhook_action_view),
                name=f"{prefix}_act",
            ),
            path(
                "<path:object_id>/reveal/", wrap(self.reveal_secret_view), name=f"{prefix}_reveal"
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        webhook = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if webhook is not None and self.has_view_permission(request, webhook):
            extra.update(self.webhook_page_context(request, webhook))
        return super().change_view(request, object_id, form_url, extra)

    def webhook_page_context(self, request, webhook: Webhook) -> dict:
        can_change = self.has_change_permission(request, webhook)
        actions = [
            {
                "name": spec.name,
                "label": spec.label,
                "help": spec.help,
                "danger": spec.danger,
                "url": webhook_admin_url("act", webhook, spec.name),
            }
            for spec in WEBHOOK_ACTIONS.values()
            if can_change and spec.applies(webhook)
        ]
        callbacks = (
            EventCallback.objects.filter(webhook=webhook)
            .select_related("event")
            .order_by("-created_at", "-id")[:CALLBACKS_ON_PAGE]
        )
        user = request.user
        filtered = f"?webhook={webhook.pk}"
        return {
            "webhook": webhook,
            "webhook_actions": actions,
            "circuit_open": webhook.circuit_state == CircuitState.OPEN,
            "masked_secret": self.masked_secret(webhook),
            "can_reveal": can_change,
            "reveal_url": webhook_admin_url("reveal", webhook),
            "callbacks": [
                {"time": when(callback.created_at), "callback": callback} for callback in callbacks
            ],
            "callbacks_shown": CALLBACKS_ON_PAGE,
            "time_zone": timezone.get_current_timezone_name(),
            "callbacks_url": reverse("admin:giftcards_eventcallback_changelist") + filtered
            if user.has_perm("giftcards.view_eventcallback")
            else None,
            "deliveries_url": reverse("admin:giftcards_delivery_changelist") + filtered
            if user.has_perm("giftcards.view_delivery")
            else None,
        }

    def run_webhook_action(self, request, spec: WebhookAction, rows: Iterable[Webhook]) -> None:
        actor = Actor.for_user(request.user)
        count = 0
        for webhook in rows:
            spec.run(webhook=webhook, actor=actor)
            self.log_change(request, webhook, f"{spec.label}.")
            count += 1
        self.message_user(request, spec.done.format(count=count), messages.SUCCESS)

    def webhook_action_view(self, request, object_id, action):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        spec = WEBHOOK_ACTIONS.get(action)
        if spec is None:
            raise Http404("No such action.")
        webhook = self.get_object_or_404(request, unquote(object_id))
        if not self.has_change_permission(request, webhook):
            raise PermissionDenied
        self.run_webhook_action(request, spec, [webhook])
        return redirect(webhook_admin_url("change", webhook))

    def reveal_secret_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        webhook = self.get_object_or_404(request, unquote(object_id))
        if not self.has_change_permission(request, webhook):
            raise PermissionDenied
        self.log_change(request, webhook, SECRET_REVEALED)
        response = TemplateResponse(
            request,
            "admin/giftcards/webhook/reveal_secret.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"Shared secret of {webhook}",
                "webhook": webhook,
                "secret": webhook.shared_secret,
                "change_url": webhook_admin_url("change", webhook),
            },
        )
        response["Cache-Control"] = "no-store"  # like a revealed card code: never kept
        return response

    # ------------------------------------------------------------------ deleting

    def get_deleted_objects(self, objs, request):
        # The service deletes a webhook's deliveries and callbacks with it. Their admins are
        # read-only, so Django would refuse the deletion for want of their delete permission,
        # and would list every callback (thousands, for a busy webhook): count them instead.
        objs = list(objs)
        opts = self.opts
        listed = [
            format_html(
                '{}: <a href="{}">{}</a>',
                capfirst(opts.verbose_name),
                webhook_admin_url("change", webhook),
                webhook,
            )
            for webhook in objs
        ]
        counts = {
            str(opts.verbose_name_plural): len(objs),
            str(Delivery._meta.verbose_name_plural): Delivery.objects.filter(
                webhook__in=objs
            ).count(),
            str(EventCallback._meta.verbose_name_plural): EventCallback.objects.filter(
                webhook__in=objs
            ).count(),
        }
        return listed, {name: count for name, count in counts.items() if count}, set(), []
