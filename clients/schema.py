"""How the OpenAPI schema (drf-spectacular) describes API key authentication."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "clients.auth.ApiKeyAuthentication"
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "`Authorization: Bearer <key>`. A key belongs to one business and one mode "
                "(live or test); it decides what every call sees and changes."
            ),
        }
