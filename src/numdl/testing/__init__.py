"""Test and benchmark support: the op registry and the one table of backend tolerances."""

from numdl.testing.equivalence import check_case
from numdl.testing.registry import CASES, VALUE_KINDS, OpCase, case, copy_inputs
from numdl.testing.tolerances import (
    TOLERANCES,
    TRAINING_TOLERANCES,
    Tolerance,
    assert_backend_close,
)

__all__ = [
    "CASES",
    "TOLERANCES",
    "TRAINING_TOLERANCES",
    "VALUE_KINDS",
    "OpCase",
    "Tolerance",
    "assert_backend_close",
    "case",
    "check_case",
    "copy_inputs",
]
