"""JSON:API serializers, one module per resource family: they validate request documents."""
