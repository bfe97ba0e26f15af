"""E-mail addresses as a value object, validated and normalised offline by ``email-validator``."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import email_validator

from sportapp_core.domain.errors import InvalidEmail

MAX_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64


@dataclass(frozen=True, slots=True)
class EmailAddress:
    """A syntactically valid address in normal form.

    ``value`` is what we show and store (local part as typed but NFC-normalised, domain lower-cased
    in its Unicode form); ``canonical`` is what makes two addresses the same user: the local part
    case-folded and the domain in lower-case IDNA (ASCII) form. The database keeps ``canonical``
    under a unique index.

    An address from outside is made by :meth:`parse`, once, at the edge that received it. Built
    directly, from both forms, it is an address that was parsed before: as a store or db's
    internal API hands it back (it is carried as this type from the edge to the store and back).
    """

    value: str
    canonical: str

    @classmethod
    def parse(cls, raw: object) -> EmailAddress:
        """Validate ``raw`` and return it normalised, or raise :class:`InvalidEmail`."""
        if not isinstance(raw, str):
            raise InvalidEmail("The e-mail address must be a string.")
        if len(raw) > 4 * MAX_LENGTH:
            # Refuse absurd input before handing it to the validator's regexes.
            raise InvalidEmail(f"The e-mail address is longer than {MAX_LENGTH} characters.")
        try:
            checked = email_validator.validate_email(
                raw.strip(), check_deliverability=False, allow_smtputf8=True
            )
        except (email_validator.EmailNotValidError, UnicodeError) as error:
            raise InvalidEmail(str(error)) from None
        local_part = unicodedata.normalize("NFC", checked.local_part)
        value = f"{local_part}@{checked.domain}"
        ascii_domain = checked.ascii_domain.lower()
        if len(value.encode("utf-8")) > MAX_LENGTH:
            raise InvalidEmail(f"The e-mail address is longer than {MAX_LENGTH} bytes.")
        if len(local_part.encode("utf-8")) > MAX_LOCAL_PART_LENGTH:
            raise InvalidEmail(
                f"The part before the @-sign is longer than {MAX_LOCAL_PART_LENGTH} bytes."
            )
        return cls(value=value, canonical=f"{local_part.casefold()}@{ascii_domain}")

    def __str__(self) -> str:
        return self.value


def normalise_email(raw: object) -> str:
    """Return the normal form of ``raw``; raise :class:`InvalidEmail` if it is not an address."""
    return EmailAddress.parse(raw).value
