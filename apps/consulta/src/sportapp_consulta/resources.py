"""consulta's public API: flask-restful resources over the read model's queries."""

from __future__ import annotations

from typing import Any

from flask_restful import Resource

from sportapp_consulta.bootstrap import Services
from sportapp_core.adapters.sqlalchemy import views
from sportapp_core.adapters.web.requests import load_query
from sportapp_core.domain import UserNotFound
from sportapp_core.schemas import (
    EligibilityQuerySchema,
    EligibilitySchema,
    PageQuerySchema,
    UserPageSchema,
    UserSchema,
)
from sportapp_core.services import can_register


class _ServiceResource(Resource):  # type: ignore[misc]
    def __init__(self, services: Services) -> None:
        self.services = services


class UserList(_ServiceResource):
    """``GET /user-queries/users?after=&limit=``: users by keyset pages."""

    def get(self) -> dict[str, Any]:
        query = load_query(PageQuerySchema())
        page = views.users_page(self.services.engine, after=query["after"], limit=query["limit"])
        return dict(UserPageSchema().dump(page))


class User(_ServiceResource):
    """``GET /user-queries/users/<id>``."""

    def get(self, user_id: int) -> dict[str, Any]:
        user = views.user(self.services.engine, user_id)
        if user is None:
            raise UserNotFound(user_id)
        return dict(UserSchema().dump(user))


class EmailCheck(_ServiceResource):
    """``GET /user-queries/users/check?correo=``: could this address register now?"""

    def get(self) -> dict[str, Any]:
        query = load_query(EligibilityQuerySchema())
        eligibility = can_register(query["email"], self.services.emails)
        return dict(EligibilitySchema().dump(eligibility))
