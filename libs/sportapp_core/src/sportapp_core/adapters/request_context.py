"""The id of the request being served, for logs and for the calls it makes to other services."""

from __future__ import annotations

import contextvars

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "sportapp_request_id", default=None
)
