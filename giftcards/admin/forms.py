"""Forms of the card page's actions, of selling a card and of uploading an import. They only
translate input (major units to cents, a day to an end-of-day instant, a file to rows); the
services decide."""

from __future__ import annotations

import csv
import json
import re
import uuid
from datetime import datetime, time

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.widgets import AdminDateWidget, AutocompleteSelect
from django.forms.fields import InvalidJSONInput
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from clients.models import Business, Client
from clients.tenancy import Mode
from giftcards import codes, dates, money, text
from giftcards.imports.rows import csv_records
from giftcards.jsonapi.serializers.imports import MAX_INPUTS as MAX_IMPORT_ROWS
from giftcards.models import GiftCard, Import, Market, Status, Tag
from giftcards.services import bulk_issue

# Plain ASCII digits and at most one decimal point: Decimal() alone would also take "1e3",
# "1_000", "NaN" and full-width digits (U+FF10 to U+FF19).
PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)


def parse_amount(value: str, currency_code: str, *, allow_zero: bool = False) -> int:
    """Major units typed by staff ("12.50", "12,50") -> cents, exactly, or a form error."""
    text = (value or "").strip().replace(" ", "")
    if "," in text and "." not in text:
        text = text.replace(",", ".")  # a decimal comma, as in €12,50
    smallest = "zero or more" if allow_zero else "greater than zero"
    if text.startswith("-") and PLAIN_NUMBER.fullmatch(text[1:]):
        raise forms.ValidationError(f"Enter an amount {smallest}.")
    if not PLAIN_NUMBER.fullmatch(text):
        raise forms.ValidationError("Enter an amount in digits, such as 25 or 25.50.")
    try:
        cents = money.to_minor(text, currency_code)
    except money.MoneyError as exc:
        raise forms.ValidationError(str(exc)) from exc
    if cents == 0 and not allow_zero:
        raise forms.ValidationError(f"Enter an amount {smallest}.")
    return cents


class StorableJSONField(forms.JSONField):
    """The admin's JSON fields (metadata): text no store can hold, typed as escapes, or a
    number too large to be finite (1e999), is a form error; and what was typed is shown back
    as typed, since Django would write the decoded lone surrogate into the page, which no
    UTF-8 page can carry."""

    def to_python(self, value):
        converted = super().to_python(value)
        found = text.find_in_json(converted)
        if found is not None:
            raise forms.ValidationError(found[1], code=text.CODE)
        if text.find_infinite(converted) is not None:
            raise forms.ValidationError(text.INFINITE, code="invalid")
        return converted

    def bound_data(self, data, initial):
        value = super().bound_data(data, initial)
        if not isinstance(value, InvalidJSONInput) and (
            text.find_in_json(value) is not None or text.find_infinite(value) is not None
        ):
            return InvalidJSONInput(data)
        return value

    def prepare_value(self, value):
        shown = super().prepare_value(value)
        if isinstance(shown, str) and text.problem(shown) is not None:
            return json.dumps(value, ensure_ascii=True, cls=self.encoder)
        return shown


class CardActionForm(forms.Form):
    """Base of the forms posted from a card's page. `idempotency_key` is drawn when the form
    is rendered, so a double click or a resubmitted page moves money once."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, card: GiftCard, **kwargs):
        self.card = card
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", f"admin-{uuid.uuid4()}")
        super().__init__(*args, **kwargs)


class AmountForm(CardActionForm):
    amount = forms.CharField(
        label="Amount",
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    note = forms.CharField(label="Note", required=False, max_length=500)

    def clean_amount(self):
        return parse_amount(self.cleaned_data["amount"], self.card.currency_code)


class DebitForm(AmountForm):
    order_reference = forms.CharField(
        label="Order / receipt number", required=False, max_length=255
    )
    field_order = ["amount", "order_reference", "note", "idempotency_key"]


class RechargeForm(AmountForm):
    pass


class AdjustForm(CardActionForm):
    new_balance = forms.CharField(
        label="New balance",
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    reason = forms.CharField(
        label="Reason",
        max_length=500,
        help_text="Required: it is stored with the ledger row.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean_new_balance(self):
        return parse_amount(
            self.cleaned_data["new_balance"], self.card.currency_code, allow_zero=True
        )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("Say why the balance is adjusted.")
        return reason


class TransferForm(AmountForm):
    """Move money from this card to another one the staff member names by its code. The code
    travels only in the POST body; the card it names is looked up in the source card's
    business and mode, by the action, not here."""

    target_code = forms.CharField(
        label="Code of the card to move it to",
        max_length=codes.MAX_LENGTH,
        strip=True,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"}
        ),
    )
    field_order = ["target_code", "amount", "note", "idempotency_key"]

    def __init__(self, *args, card: GiftCard, **kwargs):
        super().__init__(*args, card=card, **kwargs)
        balance = money.format_cents(card.balance_cents, card.currency_code)
        source = f"Taken from {card.masked_code}, whose balance is {balance}."
        self.fields["amount"].help_text = source

    def clean_target_code(self):
        # The shape only (the messages never repeat the code); whose card it is, if anyone's,
        # is for the action to find out.
        try:
            codes.well_formed(self.cleaned_data["target_code"])
        except codes.InvalidCode as exc:
            raise forms.ValidationError(str(exc)) from None
        return self.cleaned_data["target_code"]


class ConfirmForm(CardActionForm):
    """Status triggers, soft delete and restore: nothing to fill in."""


class CardTermsForm(forms.Form):
    """What selling a card and issuing a batch share: the amount, read in the currency the
    card will have; the currency; the last valid day, made the end of that day in the
    business's time zone."""

    amount = forms.CharField(
        label="Amount",
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    currency_code = forms.CharField(
        label="Currency",
        required=False,
        max_length=3,
        help_text="Blank: the market's currency, else the business's.",
    )
    expires_on = forms.DateField(
        label="Expires on",
        required=False,
        widget=AdminDateWidget,
        help_text="Valid through the end of this day, in the business's time zone.",
    )

    def clean_currency_code(self):
        code = self.cleaned_data["currency_code"].strip().upper()
        if code and not money.is_known_currency(code):
            raise forms.ValidationError(f"{code!r} is not an ISO 4217 currency code.")
        return code or None

    def read_terms(self, data: dict, business: Business, amounts: dict, past: str) -> None:
        """Put into `data` each of `amounts` (field -> key) in cents, and `expires_at`;
        `past` says what a day already gone would do."""
        market = data.get("market")
        # The currency the amounts are read in; whether the market takes it is the
        # service's to say (it refuses a mismatch, and the view shows why).
        currency = data.get("currency_code") or (
            market.currency_code if market else business.currency_code
        )
        for name, target in amounts.items():
            raw = data.get(name)
            if raw in (None, ""):
                data[target] = None
                continue
            try:
                data[target] = parse_amount(raw, currency)
            except forms.ValidationError as exc:
                self.add_error(name, exc)
        expires_on = data.get("expires_on")
        data["expires_at"] = (
            datetime.combine(expires_on, time.max, tzinfo=business.tzinfo) if expires_on else None
        )
        if expires_on and expires_on < timezone.now().astimezone(business.tzinfo).date():
            self.add_error("expires_on", f"That day is past: {past}.")
        elif expires_on and not dates.in_range(data["expires_at"]):
            self.add_error(
                "expires_on",
                f"The end of that day in {business.timezone} is outside the moments a card can "
                f"hold ({dates.RANGE_TEXT}).",
            )


SALE_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class SellForm(CardTermsForm):
    """Issue a card. The code is optional: blank draws one (shown once after the sale).

    `sale_token` is drawn when the form is rendered: the view sells once per token, so a
    double click or a resubmitted page does not sell a second card."""

    field_order = [
        "sale_token", "business", "mode", "code", "amount", "currency_code", "status",
        "expires_on", "client", "recipient_email", "market", "reference", "balance_max",
        "single_use", "rechargeable",
    ]  # fmt: skip
    sale_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    business = forms.ModelChoiceField(queryset=Business.objects.all(), required=True)
    mode = forms.ChoiceField(choices=Mode.choices, initial=Mode.LIVE)
    code = forms.CharField(
        label="Code",
        required=False,
        max_length=40,
        help_text="Scan or type the code of a printed card; leave blank to generate one.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
    )
    status = forms.ChoiceField(
        choices=[
            (Status.ACTIVE, "Active: usable now"),
            (Status.INACTIVE, "Inactive: sold, to be activated later"),
            (Status.DRAFT, "Draft: not sold yet"),
        ],
        initial=Status.ACTIVE,
    )
    client = forms.ModelChoiceField(
        queryset=Client.objects.all(),
        required=False,
        widget=AutocompleteSelect(GiftCard._meta.get_field("client"), admin.site),
    )
    recipient_email = forms.EmailField(label="Recipient email", required=False)
    market = forms.ModelChoiceField(queryset=Market.objects.all(), required=False)
    reference = forms.CharField(label="Reference", required=False, max_length=255)
    balance_max = forms.CharField(label="Maximum balance", required=False, max_length=32)
    single_use = forms.BooleanField(required=False)
    rechargeable = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, user, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("sale_token", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        self.user = user
        if not user.is_superuser:
            business = Business.objects.filter(pk=user.business_id)
            self.fields["business"].queryset = business
            self.fields["business"].initial = user.business_id
            self.fields["business"].disabled = True
            self.fields["client"].queryset = Client.objects.filter(business_id=user.business_id)
            self.fields["market"].queryset = Market.objects.filter(business_id=user.business_id)

    def clean(self):
        data = super().clean()
        token = data.get("sale_token")
        if token and not SALE_TOKEN.match(token):
            # It goes into the URL of the page that shows the sale: only the kind the form
            # draws is taken.
            raise forms.ValidationError("This form was altered or is out of date: reload the page.")
        business = data.get("business")
        if business is None:
            return data
        self.read_terms(
            data,
            business,
            {"amount": "balance_cents", "balance_max": "balance_max_cents"},
            past="the card would be sold expired",
        )
        return data


BATCH_TOKEN = re.compile(r"[0-9A-Za-z_-]{1,64}", re.ASCII)


class BulkIssueForm(CardTermsForm):
    """Issue a batch of alike cards with generated codes, in the staff user's business and
    the live mode (the codes are shown once, on a printable sheet, after the issue).

    `batch_token` is drawn when the form is rendered: the view issues once per token, so a
    double click or a resubmitted page does not issue a second batch."""

    field_order = [
        "batch_token", "count", "amount", "currency_code", "status", "expires_on", "tag",
        "market", "reference_prefix",
    ]  # fmt: skip
    batch_token = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    count = forms.IntegerField(
        label="Number of cards",
        min_value=1,
        max_value=bulk_issue.MAX_BATCH,
        initial=10,
        help_text=f"From 1 to {bulk_issue.MAX_BATCH}.",
    )
    amount = forms.CharField(
        label="Amount of each card",
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    status = forms.ChoiceField(
        choices=[
            (Status.INACTIVE, "Inactive: sold, to be activated later"),
            (Status.ACTIVE, "Active: usable now"),
            (Status.DRAFT, "Draft: not sold yet"),
        ],
        initial=Status.INACTIVE,
    )
    tag = forms.ModelChoiceField(queryset=Tag.objects.none(), required=False)
    market = forms.ModelChoiceField(queryset=Market.objects.none(), required=False)
    reference_prefix = forms.CharField(
        label="Reference prefix",
        required=False,
        max_length=bulk_issue.REFERENCE_PREFIX_MAX_LENGTH,
        help_text="Optional. XMAS- gives the cards the references XMAS-0001, XMAS-0002, ...",
    )

    def __init__(self, *args, business: Business, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("batch_token", uuid.uuid4().hex)
        kwargs["initial"].setdefault("currency_code", business.currency_code)
        super().__init__(*args, **kwargs)
        self.business = business
        self.fields["tag"].queryset = Tag.objects.filter(business=business, mode=Mode.LIVE)
        self.fields["market"].queryset = Market.objects.filter(business=business, mode=Mode.LIVE)
        self.fields["market"].label_from_instance = lambda m: f"{m.name} ({m.currency_code})"
        zone = business.timezone
        self.fields["expires_on"].help_text = f"Valid through the end of this day, in {zone}."

    def clean_batch_token(self):
        # The token becomes part of the sheet's URL: a tampered one is replaced (by the view),
        # never echoed.
        token = self.cleaned_data["batch_token"]
        return token if BATCH_TOKEN.fullmatch(token) else ""

    def clean(self):
        data = super().clean()
        self.read_terms(
            data,
            self.business,
            {"amount": "balance_cents"},
            past="the cards would be issued expired",
        )
        return data


class ImportUploadForm(forms.Form):
    """A file of rows to import, read into what `giftcards.imports.jobs.start` takes (rows, or
    the text of a CSV), within the API's limits: IMPORTS_MAX_BODY_BYTES and MAX_INPUTS rows.
    The rows themselves are checked one by one by the dry run the page runs next."""

    file = forms.FileField(
        label="File",
        help_text="A JSON array of objects, or a CSV whose first line names the attributes.",
    )
    shape = forms.ChoiceField(
        label="Shape",
        choices=[
            ("auto", "Auto: CSV for a .csv file, JSON otherwise"),
            ("json", "JSON array: this service's attributes, or seed 000 objects"),
            ("csv", "CSV: a header of attribute names, a row per line"),
            ("timetap", "TimeTap: a JSON array of seed 000 gift card objects"),
        ],
        initial="auto",
    )
    resource_type = forms.ChoiceField(
        label="Rows are",
        choices=[
            (Import.ResourceType.GIFT_CARDS, "Gift cards"),
            (Import.ResourceType.GIFT_CARD_RECIPIENTS, "Gift card recipients"),
        ],
        initial=Import.ResourceType.GIFT_CARDS,
    )

    def clean(self):
        data = super().clean()
        upload, shape = data.get("file"), data.get("shape")
        if upload is None or shape is None:
            return data
        limit = settings.IMPORTS_MAX_BODY_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                {
                    "file": f"The file is {filesizeformat(upload.size)}; at most "
                    f"{filesizeformat(limit)} is taken: split it."
                }
            )
        if shape == "auto":
            shape = "csv" if upload.name.lower().endswith(".csv") else "json"
        if shape == "timetap" and data.get("resource_type") != Import.ResourceType.GIFT_CARDS:
            raise forms.ValidationError({"shape": "TimeTap files hold gift cards, not recipients."})
        try:
            content = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError({"file": "The file is not UTF-8 text."}) from None
        inputs, count = _csv_inputs(content) if shape == "csv" else _json_inputs(content)
        if count == 0:
            raise forms.ValidationError({"file": "The file has no rows."})
        if count > MAX_IMPORT_ROWS:
            raise forms.ValidationError(
                {"file": f"At most {MAX_IMPORT_ROWS} rows per import ({count} in the file)."}
            )
        data["inputs"] = inputs
        data["rows"] = count
        data["format"] = Import.Format.CSV if shape == "csv" else Import.Format.JSON
        data["metadata"] = {"shape": "timetap"} if shape == "timetap" else {}
        data["file_name"] = text.storable(upload.name)[:255]
        return data


def _json_inputs(content: str) -> tuple[list, int]:
    def refuse(constant: str):
        raise ValueError(f"{constant} is not a JSON number")

    try:
        rows = json.loads(content, parse_constant=refuse)
    except (ValueError, RecursionError) as exc:
        raise forms.ValidationError({"file": f"The file is not valid JSON: {exc}"}) from None
    if not isinstance(rows, list):
        raise forms.ValidationError(
            {"file": "The file must hold a JSON array of objects, one per row."}
        )
    # What no store can hold is refused here, as the API refuses it, before it is recorded.
    found = text.find_in_json(rows)
    if found is not None:
        path, reason = found
        raise forms.ValidationError({"file": f"Row {path[0]}: {reason}" if path else reason})
    infinite = text.find_infinite(rows)
    if infinite is not None:
        raise forms.ValidationError({"file": f"Row {infinite[0]}: {text.INFINITE}"})
    return rows, len(rows)


def _csv_inputs(content: str) -> tuple[str, int]:
    reason = text.problem(content, "The file")
    if reason is not None:
        raise forms.ValidationError({"file": reason})
    try:
        count = sum(1 for _ in csv_records(content))
    except csv.Error as exc:
        raise forms.ValidationError({"file": f"The file is not a readable CSV: {exc}"}) from None
    return content, count
