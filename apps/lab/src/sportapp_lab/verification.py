"""After every run: is each acknowledged registration stored exactly once, and visible to consulta?

Reads the write store and consulta's read model directly (SQLAlchemy, read-only queries), not
through the services: the check must not depend on the parts it checks.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from sportapp_core.adapters.sqlalchemy.read_model import user_views
from sportapp_core.adapters.sqlalchemy.tables import outbox, users
from sportapp_core.domain import EmailAddress, InvalidEmail
from sportapp_lab.records import RequestRecord


@dataclass(frozen=True, slots=True)
class Verification:
    """What the stores hold of the run's registrations, against what clients were told."""

    acknowledged: int
    lost: int
    lost_in_write_store: int
    lost_in_read_model: int
    duplicated: int
    refused_but_stored: int
    stored_unacknowledged: int
    acknowledged_id_mismatch: int
    # Acknowledged registrations whose address the load did not record (a JTL without the saved
    # variables): nothing can say whether they were stored, so they are counted, not assumed safe.
    acknowledged_unverifiable: int
    read_model_caught_up: bool
    read_model_lags_ms: list[float] = field(default_factory=list)
    lost_examples: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """The counts the report carries (everything but the examples and the lags)."""
        return {
            key: value for key, value in asdict(self).items() if isinstance(value, int)
            and not isinstance(value, bool)
        }


def verify_registrations(
    records: Sequence[RequestRecord],
    *,
    store_url: str,
    read_store_url: str,
    catch_up_timeout_s: float = 15.0,
) -> Verification:
    """Compare what clients saw in ``records`` with the write store and the read model.

    Waits up to ``catch_up_timeout_s`` for the read model to hold every stored user of the run
    (consulta is eventually consistent: only what it still lacks after that counts as lost).
    """
    acknowledged: dict[str, RequestRecord] = {}
    unverifiable = sum(
        1 for r in records if r.kind == "register" and r.ok and r.email is None and not r.invalid_email
    )
    refused: set[str] = set()
    attempted: set[str] = set()
    for record in records:
        if record.kind != "register" or record.email is None:
            continue
        canonical = _canonical(record.email)
        if canonical is None:
            continue  # an invalid address cannot be stored: the unique column holds valid ones only
        attempted.add(canonical)
        if record.ok:
            acknowledged[canonical] = record
        elif record.status is not None and 400 <= record.status < 500:
            refused.add(canonical)

    write_engine, read_engine = create_engine(store_url), create_engine(read_store_url)
    try:
        stored = _stored_users(write_engine, attempted)
        events_per_user = _events_per_user(write_engine, {row[0] for row in stored})
        deadline = time.monotonic() + catch_up_timeout_s
        while True:
            projected = _projected_users(read_engine, attempted)
            stored_emails = {email for _, email in stored}
            caught_up = stored_emails <= {email for email, _ in projected}
            if caught_up or time.monotonic() >= deadline:
                break
            time.sleep(0.2)
    finally:
        write_engine.dispose()
        read_engine.dispose()

    store_counts = Counter(email for _, email in stored)
    store_ids = {email: user_id for user_id, email in stored}
    read_counts = Counter(email for email, _ in projected)
    lost_write = [email for email in acknowledged if email not in store_counts]
    lost_read = [email for email in acknowledged if email not in read_counts]
    duplicated = (
        sum(count - 1 for count in store_counts.values() if count > 1)
        + sum(count - 1 for count in events_per_user.values() if count > 1)
        + sum(count - 1 for count in read_counts.values() if count > 1)
    )
    mismatched = sum(
        1
        for email, record in acknowledged.items()
        if email in store_ids and record.user_id is not None and str(store_ids[email]) != str(record.user_id)
    )
    return Verification(
        acknowledged=len(acknowledged),
        lost=len(set(lost_write) | set(lost_read)),
        lost_in_write_store=len(lost_write),
        lost_in_read_model=len(lost_read),
        duplicated=duplicated,
        refused_but_stored=sum(1 for email in refused - set(acknowledged) if email in store_counts),
        stored_unacknowledged=sum(
            1 for email in store_counts if email not in acknowledged and email not in refused
        ),
        acknowledged_id_mismatch=mismatched,
        acknowledged_unverifiable=unverifiable,
        read_model_caught_up=caught_up,
        read_model_lags_ms=[lag for email, lag in projected if email in acknowledged],
        lost_examples=sorted(set(lost_write) | set(lost_read))[:10],
    )


def _canonical(raw: str) -> str | None:
    try:
        return EmailAddress.parse(raw).canonical
    except InvalidEmail:
        return None


def _chunks(values: set[str], size: int = 500) -> list[list[str]]:
    ordered = sorted(values)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def _stored_users(engine: Engine, emails: set[str]) -> list[tuple[int, str]]:
    rows: list[tuple[int, str]] = []
    with engine.connect() as connection:
        for chunk in _chunks(emails):
            query = select(users.c.id, users.c.email_canonical).where(users.c.email_canonical.in_(chunk))
            rows.extend((int(row.id), str(row.email_canonical)) for row in connection.execute(query))
    return rows


def _events_per_user(engine: Engine, user_ids: set[int]) -> Counter[int]:
    # Payloads are JSON text, so the count per user id is made here rather than in SQL.
    counts: Counter[int] = Counter()
    if not user_ids:
        return counts
    with engine.connect() as connection:
        for row in connection.execute(select(outbox.c.payload).where(outbox.c.name == "UserRegistered")):
            payload: dict[str, Any] = json.loads(row.payload)
            user_id = int(payload["user_id"])
            if user_id in user_ids:
                counts[user_id] += 1
    return counts


def _projected_users(engine: Engine, emails: set[str]) -> list[tuple[str, float]]:
    rows: list[tuple[str, float]] = []
    with engine.connect() as connection:
        for chunk in _chunks(emails):
            query = select(
                user_views.c.email_canonical, user_views.c.created_at, user_views.c.projected_at
            ).where(user_views.c.email_canonical.in_(chunk))
            for row in connection.execute(query):
                lag_ms = (row.projected_at - row.created_at).total_seconds() * 1000
                rows.append((str(row.email_canonical), round(lag_ms, 2)))
    return rows
