"""The registration domain: plain Python, no I/O, no frameworks."""

from sportapp_core.domain.email import EmailAddress
from sportapp_core.domain.errors import (
    DomainError,
    EmailTaken,
    IdempotencyKeyReused,
    InvalidEmail,
    InvalidPassword,
    UserNotFound,
)
from sportapp_core.domain.events import UserRegistered
from sportapp_core.domain.users import MAX_ID, NewUser, Password, PasswordPolicy, User

__all__ = [
    "MAX_ID",
    "DomainError",
    "EmailAddress",
    "EmailTaken",
    "IdempotencyKeyReused",
    "InvalidEmail",
    "InvalidPassword",
    "NewUser",
    "Password",
    "PasswordPolicy",
    "User",
    "UserNotFound",
    "UserRegistered",
]
