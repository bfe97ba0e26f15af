"""The one error model: every error becomes an RFC 9457 problem+json response, in one place.

flask-restful's ``Api`` routes the errors of its own resources to ``Api.handle_error`` and leaves
``app.errorhandler`` for the other routes; :class:`ProblemApi` and :func:`install_problem_handlers`
send both to :func:`problem_from_exception`, so every route answers errors the same way, also with
``TESTING=False`` and no debug mode. No response ever carries a stack trace.
"""

from __future__ import annotations

import json as stdlib_json
import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import flask_restful
from flask import Flask, Response, json
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from sportapp_core.domain import (
    DomainError,
    EmailTaken,
    IdempotencyKeyReused,
    InvalidEmail,
    InvalidPassword,
    UserNotFound,
)
from sportapp_core.schemas import public_field_name, validation_messages
from sportapp_core.services.errors import DependencyUnavailable, Overloaded

logger = logging.getLogger(__name__)

# flask-restful's own output_json: no sorted keys, no app context.
json_text = stdlib_json.dumps
PROBLEM_MIMETYPE = "application/problem+json"
JSON_MIMETYPE = "application/json"
PROBLEM_BASE = "https://sportapp.dev/problems/"

_DOMAIN_STATUS: Mapping[type[DomainError], int] = {
    InvalidEmail: 422,
    InvalidPassword: 422,
    EmailTaken: 409,
    # IETF Idempotency-Key draft: a key reused with another payload is 422.
    IdempotencyKeyReused: 422,
    UserNotFound: 404,
    DependencyUnavailable: 503,
    Overloaded: 503,
}


class Problem(Exception):
    """An error to answer with a given status, raised from a resource or a request hook."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        errors: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or HTTPStatus(status).phrase.lower().replace(" ", "-")
        self.errors = errors
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def problem_response(problem: Problem) -> Response:
    """Render ``problem`` as problem+json."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + problem.code,
        "title": HTTPStatus(problem.status).phrase,
        "status": problem.status,
        "detail": problem.detail,
        **problem.extra,
    }
    if problem.errors:
        body["errors"] = problem.errors
    response = Response(json.dumps(body), status=problem.status, mimetype=PROBLEM_MIMETYPE)
    for name, value in problem.headers.items():
        response.headers[name] = value
    return response


def problem_from_exception(error: BaseException) -> Problem:
    """Translate any exception into the :class:`Problem` a client should see."""
    if isinstance(error, Problem):
        return error
    if isinstance(error, ValidationError):
        return Problem(
            422,
            "The request has invalid fields.",
            code="validation-failed",
            errors=validation_messages(error),
        )
    if isinstance(error, DomainError):
        status = next(
            (code for kind, code in _DOMAIN_STATUS.items() if isinstance(error, kind)), 422
        )
        headers: dict[str, str] = {}
        errors = {public_field_name(error.field): [error.detail]} if error.field and status == 422 else None
        if isinstance(error, DependencyUnavailable | Overloaded):
            headers["Retry-After"] = str(error.retry_after_s)
        return Problem(status, error.detail, code=error.code, errors=errors, headers=headers)
    if isinstance(error, HTTPException) and error.code is not None:
        headers = {}
        if error.code == 405 and error.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
        return Problem(error.code, error.description or HTTPStatus(error.code).phrase, headers=headers)
    logger.error("unhandled error", exc_info=(type(error), error, error.__traceback__))
    return Problem(500, "The server could not complete the request.")


def handle_exception(error: BaseException) -> Response:
    """Flask error handler: any exception to problem+json."""
    return problem_response(problem_from_exception(error))


class ProblemApi(flask_restful.Api):  # type: ignore[misc]
    """flask-restful's Api, answering its resources' errors with problem+json, and JSON always.

    Our resources speak JSON only, so the answer is JSON whatever the Accept header says (as
    flask-restful answers with its default media type when nothing matches): the negotiation is
    skipped, it cost as much as a simple read's query.
    """

    def handle_error(self, e: Exception) -> Response:
        """Route flask-restful's errors to the one error model."""
        return handle_exception(e)

    def make_response(
        self,
        data: Any,
        code: int = 200,
        headers: Mapping[str, str] | None = None,
        **_negotiation: Any,
    ) -> Response:
        """``data`` as a JSON response, with the status and headers the resource gave."""
        return json_response(data, code, headers)


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``data`` as the JSON response every resource answers with (:meth:`ProblemApi.make_response`
    makes it of what a resource returns; a resource may return it itself)."""
    response = Response(json_text(data) + "\n", status=status, mimetype=JSON_MIMETYPE)
    if headers:
        response.headers.extend(headers)
    return response


def install_problem_handlers(app: Flask) -> None:
    """Answer every error of non-flask-restful routes (404, 405, 413, ...) with problem+json."""
    app.config["TRAP_HTTP_EXCEPTIONS"] = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.register_error_handler(Exception, handle_exception)
