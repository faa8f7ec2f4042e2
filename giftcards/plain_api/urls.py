"""Routes of the plain API as seed 000 has them, with GET /clients/count (as TimeTap has it)
and GET /payments/{paymentId}; a trailing slash is optional."""

from django.urls import re_path

from giftcards.plain_api import views

urlpatterns = [
    re_path(r"^giftcards/?$", views.GiftCardSaveView.as_view(), name="plain-giftcard-save"),
    re_path(
        r"^giftcards/client/(?P<client_id>[^/]+)/?$",
        views.ClientGiftCardsView.as_view(),
        name="plain-client-giftcards",
    ),
    re_path(
        r"^giftcards/(?P<card_id>[^/]+)/?$",
        views.GiftCardDetailView.as_view(),
        name="plain-giftcard-detail",
    ),
    re_path(r"^clients/?$", views.ClientListView.as_view(), name="plain-clients"),
    # Before the client routes: `count` is not a client id.
    re_path(r"^clients/count/?$", views.ClientCountView.as_view(), name="plain-client-count"),
    re_path(
        r"^clients/(?P<client_id>[^/]+)/?$",
        views.ClientDetailView.as_view(),
        name="plain-client-detail",
    ),
    re_path(r"^payments/?$", views.PaymentCreateView.as_view(), name="plain-payments"),
    re_path(
        r"^payments/giftCard/(?P<card_id>[^/]+)/?$",
        views.CardPaymentsView.as_view(),
        name="plain-card-payments",
    ),
    re_path(
        r"^payments/(?P<payment_id>[^/]+)/refunds/?$",
        views.PaymentRefundsView.as_view(),
        name="plain-payment-refunds",
    ),
    re_path(
        r"^payments/(?P<payment_id>[^/]+)/?$",
        views.PaymentDetailView.as_view(),
        name="plain-payment-detail",
    ),
]
