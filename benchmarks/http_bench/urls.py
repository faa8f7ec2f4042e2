"""The project's routes, with the hand-written baselines under /bench/ in front of them (the
project's last route answers any other path)."""

from django.urls import include, path

from benchmarks.http_bench.baselines import debit, jsonapi, plain

baselines = [
    path("jsonapi/gift_cards", jsonapi.gift_card_list),
    path("jsonapi/gift_cards/<str:card_id>", jsonapi.gift_card_detail),
    path("plain/giftcards/client/<str:client_id>", plain.client_cards),
    path("plain/giftcards/<str:card_id>", plain.card_detail),
    path("debit", debit.debit),
]

urlpatterns = [
    path("bench/", include(baselines)),
    path("", include("giftcards_project.urls")),
]

handler404 = "giftcards_project.errors.not_found"
handler500 = "giftcards_project.errors.server_failure"
