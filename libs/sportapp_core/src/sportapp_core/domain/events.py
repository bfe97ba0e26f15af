"""Domain events: facts the write side publishes through its outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sportapp_core.domain.email import EmailAddress


@dataclass(frozen=True, slots=True)
class UserRegistered:
    """A user was registered; the read side projects it into its own model."""

    user_id: int
    email: EmailAddress
    registered_at: datetime

    name = "UserRegistered"

    def to_payload(self) -> dict[str, object]:
        """The event's body as JSON-ready data (never a password or its hash)."""
        return {
            "user_id": self.user_id,
            "email": self.email.value,
            "email_canonical": self.email.canonical,
            "registered_at": self.registered_at.isoformat(),
        }

    @classmethod
    def from_payload(cls, payload: dict[str, object]) -> UserRegistered:
        """Rebuild the event from :meth:`to_payload`'s output."""
        return cls(
            user_id=int(str(payload["user_id"])),
            email=EmailAddress(value=str(payload["email"]), canonical=str(payload["email_canonical"])),
            registered_at=datetime.fromisoformat(str(payload["registered_at"])),
        )
