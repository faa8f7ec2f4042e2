"""The two JSON:API routes that are not a resource's: a card lookup by code, and an export's
download link."""

from __future__ import annotations

from giftcards import codes
from giftcards.exports.writers import CONTENT_TYPES
from giftcards.jsonapi.openapi.document import READ_ERRORS, error_responses, json_body
from giftcards.jsonapi.openapi.resources import MEDIA_TYPE, ref
from giftcards.jsonapi.views.exports import LINK_PARAMETERS
from giftcards.jsonapi.views.gift_cards import LOOKUP_TYPE


def lookup_path(api, viewset) -> dict:
    spec = api.spec(viewset)
    request = {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {
                "type": "object",
                "required": ["type", "attributes"],
                "properties": {
                    "type": {"type": "string", "enum": [LOOKUP_TYPE]},
                    "attributes": {
                        "type": "object",
                        "required": ["code"],
                        "properties": {
                            "code": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": codes.MAX_LENGTH * 2,
                                "description": "The code as printed (case, spaces and dashes "
                                "do not matter).",
                            }
                        },
                        "additionalProperties": False,
                    },
                },
            }
        },
    }
    return {
        "post": api.operation(
            spec,
            "lookup",
            "Find a card by its code",
            {
                "200": json_body(ref(f"{spec.name}ListDocument")),
                **error_responses((*READ_ERRORS, 409, 413, 415, 422)),
            },
            description="What `GET /api/gift_cards?filter[q][code_eq]=` answers, with the "
            "code in the body so it stays out of URLs and logs. The URL may carry the list's "
            "parameters.",
            parameters=api.list_parameters(viewset, spec),
            requestBody={"content": {MEDIA_TYPE: {"schema": request}}, "required": True},
        )
    }


def download_path() -> dict:
    link = {"type": "string", "maxLength": 200}
    return {
        "get": {
            "parameters": [
                {"$ref": "#/components/parameters/Id"},
                *(
                    {"name": name, "in": "query", "required": True, "schema": link}
                    for name in LINK_PARAMETERS
                ),
            ],
            "operationId": "exports_download",
            "summary": "Download an export's file (its signed `attachment_url`)",
            "tags": ["JSON:API: exports"],
            "security": [{"ApiKey": []}],
            "responses": {
                "200": {
                    "description": "The file.",
                    "content": {
                        media.split(";")[0]: {"schema": {"type": "string", "format": "binary"}}
                        for media in CONTENT_TYPES.values()
                    },
                },
                **error_responses((*READ_ERRORS, 403)),
                "410": json_body(ref("ErrorDocument"), "The link expired; the file is gone."),
            },
        },
    }
