"""registro's commands: flask-restful resources over the ``register_user`` use case."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_restful import Resource
from marshmallow import ValidationError

from sportapp_core.adapters.web.problems import Problem
from sportapp_core.adapters.web.requests import load_json
from sportapp_core.schemas import RegistrationSchema, UserSchema
from sportapp_core.services import RegisterUser, register_user
from sportapp_core.services.registration import MAX_IDEMPOTENCY_KEY_LENGTH
from sportapp_registro.bootstrap import RegistroComponents

IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
REGISTER_PATH = "/user-commands/users/register"
# Built once: building a schema costs more than loading one body with it.
_REGISTRATION = RegistrationSchema()
_USER = UserSchema()


class Register(Resource):  # type: ignore[misc]
    """``POST /user-commands/users/register``: register a user, idempotently with a key."""

    def __init__(self, services: RegistroComponents) -> None:
        self.services = services

    def post(self) -> tuple[dict[str, Any], int, dict[str, str]]:
        # Admitted already: the admission gate refuses what would wait too long, before Flask.
        try:
            body = load_json(_REGISTRATION)
        except ValidationError as error:
            if self.services.on_invalid_email is not None and "correo" in error.messages_dict:
                self.services.on_invalid_email()
            raise
        registration = register_user(
            RegisterUser(body["email"], body["password"], _idempotency_key()),
            store=self.services.store,
            hasher=self.services.hasher,
        )
        headers = {"Location": f"/user-queries/users/{registration.user.id}"}
        if registration.replayed:
            headers["Idempotent-Replayed"] = "true"
        return _USER.dump(registration.user), 201, headers


def _idempotency_key() -> str | None:
    key = request.headers.get(IDEMPOTENCY_KEY_HEADER)
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_LENGTH or not key.isprintable():
        raise Problem(
            400,
            f"The Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY_LENGTH} printable characters.",
            code="bad-idempotency-key",
        )
    return key


class FaultMode(Resource):  # type: ignore[misc]
    """``PUT /faults/error-mode`` ``{"enabled": bool}``: the experiment's error switch."""

    def __init__(self, services: RegistroComponents) -> None:
        self.services = services

    def get(self) -> dict[str, bool]:
        assert self.services.faults is not None
        return {"enabled": self.services.faults.on}

    def put(self) -> dict[str, bool]:
        assert self.services.faults is not None
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
            raise Problem(422, "Send {\"enabled\": true|false}.", errors={"enabled": ["Required."]})
        self.services.faults.turn(body["enabled"])
        return {"enabled": self.services.faults.on}
