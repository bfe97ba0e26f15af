"""Domain events: facts the write side publishes through its outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class UserRegistered:
    """A user was registered; the read side projects it into its own model."""

    user_id: int
    email: str
    email_canonical: str
    registered_at: datetime

    name = "UserRegistered"

    def to_payload(self) -> dict[str, object]:
        """The event's body as JSON-ready data (never a password or its hash)."""
        return {
            "user_id": self.user_id,
            "email": self.email,
            "email_canonical": self.email_canonical,
            "registered_at": self.registered_at.isoformat(),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, object]) -> UserRegistered:
        """Rebuild the event from :meth:`to_payload`'s output."""
        return cls(
            user_id=int(str(payload["user_id"])),
            email=str(payload["email"]),
            email_canonical=str(payload["email_canonical"]),
            registered_at=datetime.fromisoformat(str(payload["registered_at"])),
        )
