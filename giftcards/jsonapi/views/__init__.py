"""The JSON:API views (seed 003): gift cards, recipients, markets, tags and card versions;
attachments, webhooks, events and event callbacks (Commerce Layer's).

Every queryset starts at `for_tenant(request.user.tenant)`: another business's or mode's
rows, and soft-deleted cards, are 404s on every route, relationships and includes too.
"""
