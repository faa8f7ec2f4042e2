"""A tiny API for the auth tests: cards scoped the way every real endpoint must scope them."""

from django.shortcuts import get_object_or_404
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from giftcards import services
from giftcards.models import GiftCard, Status


class CardList(APIView):
    def get(self, request):
        cards = GiftCard.objects.for_tenant(request.user.tenant)
        return Response({"ids": [card.pk for card in cards]})

    def post(self, request):
        # A write inside an API call: the model history must cope with a key as request.user.
        card = services.card_issue(
            tenant=request.user.tenant,
            actor=request.user.actor,
            balance_cents=int(request.data.get("balance_cents", 1_000)),
            status=Status.ACTIVE,
        )
        return Response({"id": card.pk, "created_by": card.created_by}, status=201)


class CardDetail(APIView):
    def get(self, request, card_id):
        card = get_object_or_404(GiftCard.objects.for_tenant(request.user.tenant), pk=card_id)
        return Response({"id": card.pk})


class Me(APIView):
    def get(self, request):
        tenant = request.user.tenant
        return Response(
            {
                "actor": request.user.actor.name,
                "business": tenant.business.pk,
                "mode": tenant.mode,
            }
        )


urlpatterns = [
    path("cards", CardList.as_view()),
    path("cards/<str:card_id>", CardDetail.as_view()),
    path("me", Me.as_view()),
]
