"""consulta's public API: flask-restful resources over the read model's queries.

Each answer leaves its resource as a response already (``json_response``, the one ProblemApi makes
of a returned dict): flask-restful hands a response on as it is, where a dict first goes through
``Resource.dispatch_request``'s content negotiation, which parses the Accept header against
representations these resources do not have (7% of a ``GET`` by id in its process, measured).
"""

from __future__ import annotations

from flask import Response
from flask_restful import Resource

from sportapp_consulta.bootstrap import ConsultaComponents
from sportapp_core.adapters.web.problems import json_response
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

# Built once: a schema's construction costs more than the dump of one user.
_PAGE_QUERY = PageQuerySchema()
_USER_PAGE = UserPageSchema()
_USER = UserSchema()
_ELIGIBILITY_QUERY = EligibilityQuerySchema()
_ELIGIBILITY = EligibilitySchema()


class _ServiceResource(Resource):  # type: ignore[misc]
    def __init__(self, services: ConsultaComponents) -> None:
        self.services = services


class UserList(_ServiceResource):
    """``GET /user-queries/users?after=&limit=``: users by keyset pages."""

    def get(self) -> Response:
        query = load_query(_PAGE_QUERY)
        page = self.services.views.users_page(after=query["after"], limit=query["limit"])
        return json_response(_USER_PAGE.dump(page))


class User(_ServiceResource):
    """``GET /user-queries/users/<id>``."""

    def get(self, user_id: int) -> Response:
        user = self.services.views.user(user_id)
        if user is None:
            raise UserNotFound(user_id)
        return json_response(_USER.dump(user))


class EmailCheck(_ServiceResource):
    """``GET /user-queries/users/check?correo=``: could this address register now?"""

    def get(self) -> Response:
        query = load_query(_ELIGIBILITY_QUERY)
        eligibility = can_register(query["email"], self.services.views)
        return json_response(_ELIGIBILITY.dump(eligibility))
