"""Admission control refuses at once rather than queueing, and gives its slots back."""

import pytest

from sportapp_core.adapters.web.admission import AdmissionLimit
from sportapp_core.services.errors import Overloaded


def test_admits_up_to_the_limit_and_refuses_the_next() -> None:
    limit = AdmissionLimit(2)

    with limit.admitted(), limit.admitted(), pytest.raises(Overloaded), limit.admitted():
        pass


def test_a_slot_is_given_back_even_when_the_request_fails() -> None:
    limit = AdmissionLimit(1)

    with pytest.raises(RuntimeError), limit.admitted():
        raise RuntimeError("boom")

    with limit.admitted():
        pass


def test_the_limit_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        AdmissionLimit(0)
