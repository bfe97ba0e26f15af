"""Reading request bodies and query strings through marshmallow schemas, with the right errors."""

from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import Schema

from sportapp_core.adapters.web.problems import Problem


def load_json(schema: Schema) -> dict[str, Any]:
    """The request's JSON body, loaded by ``schema``: 415 if it is not JSON, 400 if it does not
    parse or is not an object, 422 (marshmallow's ValidationError) if a field is wrong."""
    if request.mimetype != "application/json":
        raise Problem(
            415, "Send the body as application/json.", headers={"Accept-Post": "application/json"}
        )
    body = request.get_json(silent=True)
    if body is None:
        raise Problem(400, "The body is not valid JSON.", code="malformed-json")
    if not isinstance(body, dict):
        raise Problem(400, "The body must be a JSON object.", code="malformed-json")
    loaded: dict[str, Any] = schema.load(body)
    return loaded


def load_query(schema: Schema) -> dict[str, Any]:
    """The query string, loaded by ``schema`` (422 on a wrong or unknown parameter)."""
    loaded: dict[str, Any] = schema.load(request.args.to_dict())
    return loaded
