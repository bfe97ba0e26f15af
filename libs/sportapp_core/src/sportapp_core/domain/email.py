"""E-mail addresses as a value object, validated and normalised offline by ``email-validator``."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import email_validator
from email_validator import rfc_constants

from sportapp_core.domain.errors import InvalidEmail

MAX_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64

# Most addresses are plain ASCII: a dot-atom local part and a host name of letters, digits and
# hyphens. For those, one regular expression and a few comparisons decide what email-validator
# would, at a tenth of its cost (it checks every character against Unicode tables, IDNA and IP
# address forms, ~30 us an address here, parsed at every edge). Anything else -- non-ASCII,
# quoted or over-long local parts, Punycode or "ab--" labels, special-use domains, lengths near a
# limit -- goes to email-validator, which stays the judge: tests/unit/core/test_email.py checks
# that the plain path never answers differently from it.
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~-"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_ADDRESS = re.compile(rf"([{_ATEXT}]+(?:\.[{_ATEXT}]+)*)@((?:{_LABEL}\.)+{_LABEL})")
# RFC 5890's reserved "??--" labels (Punycode's "xn--" among them): email-validator's to judge.
_RESERVED_LABEL = re.compile(r"(?:^|\.)..--")
# The mailbox names RFC 2142 calls case-insensitive ("info", "postmaster", ...), which
# email-validator writes in lower case: email-validator's to judge. A release without the list
# does not lower them either.
_CASE_INSENSITIVE_MAILBOXES = frozenset(getattr(rfc_constants, "CASE_INSENSITIVE_MAILBOX_NAMES", ()))


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
        # Composed first: IDNA maps some characters before it normalises (U+0345, the Greek iota
        # subscript, becomes a spacing iota), so a decomposed domain could name another host than
        # the same domain composed, and one person would hold two addresses.
        stripped = unicodedata.normalize("NFC", raw.strip())
        local_part, domain, ascii_domain = _plain_parts(stripped) or _validated_parts(stripped)
        local_part = unicodedata.normalize("NFC", local_part)
        value = f"{local_part}@{domain}"
        ascii_domain = ascii_domain.lower()
        if len(value.encode("utf-8")) > MAX_LENGTH:
            raise InvalidEmail(f"The e-mail address is longer than {MAX_LENGTH} bytes.")
        if len(local_part.encode("utf-8")) > MAX_LOCAL_PART_LENGTH:
            raise InvalidEmail(
                f"The part before the @-sign is longer than {MAX_LOCAL_PART_LENGTH} bytes."
            )
        return cls(value=value, canonical=f"{local_part.casefold()}@{ascii_domain}")

    def __str__(self) -> str:
        return self.value


def _plain_parts(address: str) -> tuple[str, str, str] | None:
    """Local part, domain and ASCII domain of a plain ASCII address email-validator accepts, or
    None when ``address`` is not plain (email-validator decides; it may still be valid)."""
    match = _PLAIN_ADDRESS.fullmatch(address)
    if match is None or len(address) > MAX_LENGTH or len(match[1]) > MAX_LOCAL_PART_LENGTH:
        return None
    domain = match[2].lower()
    if not domain[-1].isalpha() or _RESERVED_LABEL.search(domain):
        return None  # an all-numeric top-level label, or a reserved one
    if match[1].lower() in _CASE_INSENSITIVE_MAILBOXES:
        return None  # written in lower case by email-validator
    for special in email_validator.SPECIAL_USE_DOMAIN_NAMES:
        if domain == special or domain.endswith("." + special):
            return None
    return match[1], domain, domain


def _validated_parts(address: str) -> tuple[str, str, str]:
    """Local part, domain (Unicode form) and ASCII domain, as email-validator judges them."""
    try:
        checked = email_validator.validate_email(
            address, check_deliverability=False, allow_smtputf8=True
        )
    except (email_validator.EmailNotValidError, UnicodeError) as error:
        raise InvalidEmail(str(error)) from None
    return checked.local_part, checked.domain, checked.ascii_domain


def normalise_email(raw: object) -> str:
    """Return the normal form of ``raw``; raise :class:`InvalidEmail` if it is not an address."""
    return EmailAddress.parse(raw).value
