"""JSON parsing that keeps numbers exact (decimals become Decimal, never float) and refuses
text no store can hold (giftcards/text.py), naming the member it is in."""

import json
from decimal import Decimal

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

from giftcards import text as text_rules


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class DecimalJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", "utf-8")
        try:
            text = stream.read().decode(encoding) if stream is not None else ""
            data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        # Every string, whatever made it: a declared charset such as utf-7 decodes to lone
        # surrogates without any \u escape.
        refuse_bad_text(data)
        return data


def refuse_bad_text(data) -> None:
    """A 400 in the plain API's shape naming the top-level member that holds bad text."""
    found = text_rules.find_in_json(data)
    if found is None:
        return
    path, reason = found
    if path and isinstance(data, dict):
        raise ValidationError({str(path[0]): [reason]}, code=text_rules.CODE)
    raise ParseError(reason, code=text_rules.CODE)
