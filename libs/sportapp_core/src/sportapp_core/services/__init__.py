"""Use cases and the ports they need."""

from sportapp_core.services.queries import Eligibility, can_register, get_user, list_users
from sportapp_core.services.registration import RegisterUser, Registration, register_user
from sportapp_core.services.write_store import WriteStoreRegistrations

__all__ = [
    "Eligibility",
    "RegisterUser",
    "Registration",
    "WriteStoreRegistrations",
    "can_register",
    "get_user",
    "list_users",
    "register_user",
]
