"""Checks real answers against an OpenAPI document's response schemas (OpenAPI 3.0 with
`nullable`, read-only context: write-only members must not appear), and records which
operations were seen, so a test can require every documented operation."""

from __future__ import annotations

import json

from openapi_schema_validator import OAS30ReadValidator


class Conformance:
    """Validates answers against the document's response schemas; records which
    operations were seen."""

    def __init__(self, document: dict):
        self.document = document
        self.seen: set[tuple[str, str]] = set()

    def check(self, method: str, path: str, response) -> None:
        operation = self.document["paths"][path][method]
        status = str(response.status_code)
        assert status in operation["responses"], (method, path, status, response.content[:300])
        self.seen.add((method, path))
        content = operation["responses"][status].get("content")
        if not content:
            assert response.content == b"", (method, path)
            return
        media_type = response["Content-Type"].split(";")[0]
        assert media_type in content, (method, path, media_type)
        schema = content[media_type]["schema"]
        if schema.get("format") == "binary":
            return
        validator = OAS30ReadValidator(
            {**schema, "components": self.document["components"]},
        )
        body = json.loads(response.content)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, (
            f"{method.upper()} {path} {status}: {errors[0].message} at "
            f"{list(errors[0].absolute_path)}"
        )
