"""Finding cards by their full code without the code ever travelling in a URL.

A GET search (`?q=...`) lands in access logs and browser history, and codes are secrets
outside the APIs. So the search boxes of the card list and the ledger POST to a small find
view: a code of the user's business opens its card (or that card's ledger rows); a term
shaped like a code that matches nothing comes back as a generic message; anything else
(names, emails, last 4 characters, references) becomes the usual `?q=` search. A full code
that still arrives by GET (an old bookmark) works, but the page is rendered as if the
cards had been picked by id, so the code is echoed into no link or search box.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.views.main import ERROR_FLAG, PAGE_VAR, SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, QueryDict
from django.urls import path, reverse

from giftcards import codes

NO_MATCH = "No card matches that search. Check the code and try again."
FILTERS_FIELD = "_changelist_filters"
MAX_MATCHES = 50  # a superuser may see one code in many businesses; a page is plenty


def clean_term(value: object) -> str:
    """A search term as typed, without NUL characters (PostgreSQL refuses them in text)."""
    return str(value or "").replace("\x00", "").strip()


def looks_like_code(term: str) -> bool:
    try:
        codes.well_formed(term)
    except codes.InvalidCode:
        return False
    return True


class CodeSearchMixin:
    """Mixed into a business-scoped admin whose rows are cards or belong to a card."""

    #: The lookup from this model to the card's code hash, and to the card's primary key.
    card_path = ""
    #: The changelist parameter that shows given cards' rows ("id__in", "card__in").
    cards_param = "id__in"
    #: Whether one matching card opens its page (the card list) or stays a list.
    opens_single_card = False

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_find"
        return [
            path("find/", self.admin_site.admin_view(self.find_view), name=name),
            *super().get_urls(),
        ]

    # ------------------------------------------------------------------ matching

    def code_matches(self, request, term: str) -> list[str]:
        """Primary keys of the cards in the user's scope whose code is `term`."""
        prefix = f"{self.card_path}__" if self.card_path else ""
        return list(
            self.get_queryset(request)
            .filter(**{f"{prefix}code_hash__in": codes.lookup_hashes(term)})
            .order_by(f"{prefix}pk")
            .values_list(f"{prefix}pk", flat=True)
            .distinct()[:MAX_MATCHES]
        )

    def search_finds_rows(self, request, term: str) -> bool:
        results, _ = self.get_search_results(request, self.get_queryset(request), term)
        return results.exists()

    def card_page_url(self, pk: str) -> str:
        raise NotImplementedError

    def _changelist_url(self, params: QueryDict) -> str:
        url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        return f"{url}?{params.urlencode()}" if params else url

    @staticmethod
    def _without_search(params: QueryDict) -> QueryDict:
        params = params.copy()
        for name in (SEARCH_VAR, PAGE_VAR, ERROR_FLAG):
            params.pop(name, None)
        return params

    # ------------------------------------------------------------------ views

    def find_view(self, request):
        """The search box's target (POST, CSRF-checked by admin_view). Always redirects."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        term = clean_term(request.POST.get(SEARCH_VAR))
        params = self._without_search(QueryDict(request.POST.get(FILTERS_FIELD, "")))
        popup = IS_POPUP_VAR in params
        if term and looks_like_code(term):
            found = self.code_matches(request, term)
            if len(found) == 1 and self.opens_single_card and not popup:
                return HttpResponseRedirect(self.card_page_url(found[0]))
            if found:
                params[self.cards_param] = ",".join(found)
                return HttpResponseRedirect(self._changelist_url(params))
            if not self.search_finds_rows(request, term):
                self.message_user(request, NO_MATCH, messages.WARNING)
                return HttpResponseRedirect(self._changelist_url(params))
        if term:
            params[SEARCH_VAR] = term
        return HttpResponseRedirect(self._changelist_url(params))

    def prepare_code_search(self, request) -> HttpResponseRedirect | None:
        """Before a GET changelist renders: a full code in `?q=` opens its card, or is
        swapped for the matching cards' ids (nothing when none match), so the page never
        repeats the code. Returns a response to send instead of the list, or None."""
        raw = request.GET.get(SEARCH_VAR, "")
        term = clean_term(raw)
        if term != raw:  # NULs or padding: search for what was meant
            request.GET = request.GET.copy()
            request.GET[SEARCH_VAR] = term
        if not term or not looks_like_code(term) or not self.has_view_permission(request):
            return None  # without the permission the list itself answers 403
        found = self.code_matches(request, term)
        popup = IS_POPUP_VAR in request.GET
        if len(found) == 1 and self.opens_single_card and not popup:
            return HttpResponseRedirect(self.card_page_url(found[0]))
        if not found and self.search_finds_rows(request, term):
            return None  # a name or a reference that merely looks like a code
        if not found:
            self.message_user(request, NO_MATCH, messages.WARNING)
        params = self._without_search(request.GET)
        params[self.cards_param] = ",".join(found)  # "" matches nothing
        request.GET = params
        return None

    def code_search_context(self, request) -> dict:
        """What the search box template needs: where to post and the filters to keep."""
        return {
            "find_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_find"),
            "search_filters": self._without_search(request.GET).urlencode(),
        }
