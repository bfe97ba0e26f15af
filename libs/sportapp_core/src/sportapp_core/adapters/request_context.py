"""The request being served: its id (for logs and for the calls it makes to other services) and
when it arrived (for the deadline of the calls it makes)."""

from __future__ import annotations

import contextvars

current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "sportapp_request_id", default=None
)

# time.monotonic() when the request arrived; None outside a request.
current_request_arrived: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "sportapp_request_arrived", default=None
)
