"""Routes of the JSON:API (seed 003), mounted under /api/."""

urlpatterns: list = []
