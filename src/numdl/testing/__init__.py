"""Test and benchmark support: the op registry, the one table of backend tolerances, and
the peak-memory probe for the file-fuzzing tests (:mod:`numdl.testing.memory`)."""

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
