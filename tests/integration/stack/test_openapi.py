"""The OpenAPI document of the public API: valid OpenAPI 3, complete, and errors as problem+json."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from openapi_spec_validator import validate

from sportapp_stack.openapi import build_openapi

pytestmark = pytest.mark.integration

PUBLIC_OPERATIONS = {
    ("post", "/user-commands/users/register"),
    ("get", "/user-queries/users"),
    ("get", "/user-queries/users/{user_id}"),
    ("get", "/user-queries/users/check"),
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return build_openapi("http://127.0.0.1:8080")


def test_the_document_is_valid_openapi_3(document: dict[str, Any]) -> None:
    validate(document)

    assert document["openapi"].startswith("3.0")


def test_the_document_has_the_public_api_and_nothing_else(document: dict[str, Any]) -> None:
    operations = {(method, path) for path, item in document["paths"].items() for method in item}

    assert operations == PUBLIC_OPERATIONS
    assert not any(path.startswith("/user-db") for path in document["paths"])


def test_every_error_answer_is_problem_json(document: dict[str, Any]) -> None:
    responses = document["components"]["responses"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, answer in operation["responses"].items():
                if int(status) < 400:
                    continue
                name = answer["$ref"].rsplit("/", 1)[-1]
                content = responses[name]["content"]
                assert set(content) == {"application/problem+json"}, (method, path, status)


def test_the_registration_body_is_the_wire_format(document: dict[str, Any]) -> None:
    registration = document["components"]["schemas"]["Registration"]

    assert set(registration["required"]) == {"correo", "clave"}
    assert registration["properties"]["clave"]["writeOnly"] is True


def test_the_registration_body_documents_what_the_domain_checks(document: dict[str, Any]) -> None:
    properties = document["components"]["schemas"]["Registration"]["properties"]

    assert properties["correo"] == {"type": "string", "format": "email", "maxLength": 254}
    assert (properties["clave"]["minLength"], properties["clave"]["maxLength"]) == (8, 128)


def test_every_operation_documents_the_gateways_own_errors(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert {"414", "431", "502", "503", "504"} <= set(operation["responses"]), (method, path)


def test_schemathesis_can_load_the_document(document: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_dict(document)

    assert len(list(schema.get_all_operations())) == len(PUBLIC_OPERATIONS)
