"""The read side's ports: consulta's read model, its projection's transaction and status, and
whatever knows whether an address is taken."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol

from sportapp_core.domain import EmailAddress, UserRegistered


@dataclass(frozen=True, slots=True)
class StoredPosition:
    """How far a projection got, when, and how late its latest batch was (ms from record to view)."""

    position: int
    updated_at: datetime | None = None
    lag_ms: float | None = None


class ProjectionTransaction(Protocol):
    """One read-model transaction: the views and the position commit together or not at all."""

    def __enter__(self) -> ProjectionTransaction: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def advance(self, *, expected: int, to: int, at: datetime, lag_ms: float) -> bool:
        """Move the position from ``expected`` to ``to``; False (and no change) if it is not ``expected``."""
        ...

    def add_users(self, events: Sequence[UserRegistered], projected_at: datetime) -> int:
        """Add a view row per event whose user is not in the view yet; return how many were added."""
        ...

    def commit(self) -> None:
        """Make the transaction's writes durable."""
        ...


class ReadModel(Protocol):
    """consulta's own store: the views and each projection's position."""

    def position(self, name: str) -> StoredPosition:
        """The committed position of projection ``name`` (0 before its first batch)."""
        ...

    def transaction(self, name: str) -> ProjectionTransaction:
        """A write transaction for projection ``name``, rolled back on exit unless committed."""
        ...


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    """What one projector knows: position, the feed's head, and whether it ever caught up."""

    position: int = 0
    head: int | None = None
    lag_ms: float | None = None
    feed_up: bool | None = None
    caught_up: bool = False
    races_lost: int = 0
    last_error: str | None = None
    # When the read model last moved forward, or was found holding every event known: a projection
    # that knows of newer events and has not moved since long is stuck (a bug, a gap it cannot
    # cross), which its health must say rather than keep answering ready on old views.
    progressed_at: datetime | None = None

    @property
    def lag_events(self) -> int | None:
        """Events recorded but not projected yet, as of the last pull."""
        return None if self.head is None else max(0, self.head - self.position)


class ProjectionObserver(Protocol):
    """Where a projector reports what it does (metrics); called from the projector's thread."""

    def status_changed(self, status: ProjectionStatus) -> None:
        """The projector's status after a round."""
        ...

    def batch_applied(self, applied: int, lags_s: Sequence[float]) -> None:
        """A batch was committed: how many views it added, each event's record-to-view lag."""
        ...

    def race_lost(self) -> None:
        """Another projector stored the batch first; this one rolled back."""
        ...


class EmailRegistry(Protocol):
    """Anything that knows whether an address is taken: the write store or a read model."""

    def is_registered(self, email: EmailAddress) -> bool:
        """Whether ``email`` is taken."""
        ...
