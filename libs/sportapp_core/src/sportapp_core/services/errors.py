"""Errors of the service layer that are not about the domain: a dependency that does not answer."""

from __future__ import annotations

from sportapp_core.domain import DomainError


class DependencyUnavailable(DomainError):
    """A service this one needs (the write store, the db service) did not answer in time."""

    code = "dependency-unavailable"

    def __init__(self, dependency: str, retry_after_s: int = 1) -> None:
        super().__init__(f"A service this one needs ({dependency}) is unavailable; retry shortly.")
        self.dependency = dependency
        self.retry_after_s = retry_after_s


class Overloaded(DomainError):
    """This instance already works on as many requests of this kind as it admits at once."""

    code = "overloaded"

    def __init__(self, retry_after_s: int = 1) -> None:
        super().__init__("This instance is at capacity; retry shortly.")
        self.retry_after_s = retry_after_s
