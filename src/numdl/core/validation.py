"""Argument checks shared by every public function.

Each check names the offending argument and states what was expected, so a user reading the
message knows which argument to fix and how. Checks never copy or mutate their input; they
return the array (converted with ``np.asarray`` where the function accepts array-likes).

Errors follow Python conventions: ``TypeError`` for a wrong kind of object or dtype,
``ValueError`` for a wrong shape, size or range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

FLOAT_DTYPES: tuple[np.dtype, ...] = (np.dtype(np.float32), np.dtype(np.float64))


def _describe_dtypes(dtypes: Sequence[np.dtype]) -> str:
    return " or ".join(str(d) for d in dtypes)


def as_array(x: Any, name: str) -> np.ndarray:
    """Return ``x`` as a plain ndarray (no copy for arrays); reject what NumPy cannot convert.

    ndarray subclasses (``np.matrix``, ``np.memmap``) become plain views of the same memory,
    so in-place updates still reach the caller and every backend reads the same numbers
    (a kernel or ``reshape`` would otherwise meet the subclass's semantics). Masked arrays
    are a ``TypeError``: their mask would be silently ignored.
    """
    if type(x) is np.ndarray:
        if x.dtype.kind == "O":
            raise TypeError(f"{name} must be a numeric array, got an object array")
        return x  # NumPy arrays pass as they are (no copy)
    if hasattr(x, "__cuda_array_interface__"):
        return x  # device arrays (CuPy) on the CUDA backend
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name} must be a plain array, got a masked array (the mask would be ignored); "
            "fill the masked entries first (numpy.ma.filled)"
        )
    if isinstance(x, np.ndarray):
        return as_array(x.view(np.ndarray), name)
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like, got {type(x).__name__}") from exc
    if arr.dtype == object:
        raise TypeError(f"{name} must be a numeric array, got an object array")
    return arr


def check_float_array(
    x: Any,
    name: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    dtypes: Sequence[np.dtype] = FLOAT_DTYPES,
    convert: bool = False,
) -> np.ndarray:
    """Check that ``x`` is a floating array of an accepted dtype (and ``ndim`` when given).

    With ``convert=True`` integer and boolean array-likes are converted to float64 first
    (for the friendly mathematical helpers); the hot paths use ``convert=False`` so a wrong
    dtype is an error rather than a silent copy.
    """
    arr = as_array(x, name)
    if convert and arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    if arr.dtype not in dtypes:
        raise TypeError(f"{name} must have dtype {_describe_dtypes(dtypes)}, got {arr.dtype}")
    if ndim is not None:
        check_ndim(arr, name, ndim)
    return arr


def check_ndim(x: np.ndarray, name: str, ndim: int | tuple[int, ...]) -> None:
    """Raise ``ValueError`` unless ``x.ndim`` is ``ndim`` (or one of them)."""
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if x.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{name} must be {want}, got shape {x.shape} ({x.ndim}-D)")


def check_shape(x: np.ndarray, name: str, shape: tuple[int | None, ...]) -> None:
    """Raise ``ValueError`` unless ``x.shape`` matches ``shape`` (``None`` matches any size)."""
    got = x.shape
    if got == shape:  # the common case, checked first: this runs on every hot-path call
        return
    if len(got) != len(shape) or any(
        want is not None and g != want for g, want in zip(got, shape, strict=True)
    ):
        pretty = "(" + ", ".join("*" if s is None else str(s) for s in shape)
        pretty += ",)" if len(shape) == 1 else ")"
        raise ValueError(f"{name} must have shape {pretty}, got {got}")


def check_same_dtype(x: np.ndarray, name: str, reference: np.ndarray, ref_name: str) -> None:
    """Raise ``TypeError`` unless ``x`` has the dtype of ``reference`` (no silent promotion)."""
    if x.dtype != reference.dtype:
        raise TypeError(
            f"{name} must have the dtype of {ref_name} ({reference.dtype}), got {x.dtype}"
        )


def check_writeable_contiguous(x: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` unless ``x`` can be updated in place through a flat view."""
    if not x.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous to be updated in place")
    if not getattr(x.flags, "writeable", True):  # CuPy arrays have no read-only mode
        raise ValueError(f"{name} must be writeable to be updated in place")


def check_labels(y: Any, name: str, n_rows: int, n_classes: int) -> np.ndarray:
    """Check integer class labels: shape ``(n_rows,)``, values in ``[0, n_classes)``."""
    arr = as_array(y, name)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must hold integer class labels, got dtype {arr.dtype}")
    check_shape(arr, name, (n_rows,))
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(
            f"{name} must hold labels in [0, {n_classes}), got values in [{arr.min()}, {arr.max()}]"
        )
    return arr


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """Check a finite real scalar that is > 0 (or >= 0 with ``allow_zero``)."""
    value = check_real(value, name)
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value}")
    return value


def check_in_range(
    value: float, name: str, low: float, high: float, *, closed: str = "left"
) -> float:
    """Check ``value`` lies between ``low`` and ``high``; ``closed`` names the closed ends.

    ``closed`` is ``"left"`` (low <= value < high), ``"right"``, ``"both"`` or ``"neither"``.
    """
    value = check_real(value, name)
    lo_ok = value >= low if closed in ("left", "both") else value > low
    hi_ok = value <= high if closed in ("right", "both") else value < high
    if not (lo_ok and hi_ok):
        left = "[" if closed in ("left", "both") else "("
        right = "]" if closed in ("right", "both") else ")"
        raise ValueError(f"{name} must be in {left}{low}, {high}{right}, got {value}")
    return value


def check_real(value: Any, name: str) -> float:
    """Check a finite real scalar and return it as ``float``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:  # an int beyond float range, e.g. 10**400
        raise ValueError(f"{name} must be finite, got {_short(value)}") from None
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def check_int(
    value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Check an integer scalar (bools rejected) with optional bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {_short(value)}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {_short(value)}")
    return value


def _short(value: Any) -> str:
    """``value`` for a message: integers of more than 20 digits as ``~1e400``."""
    if isinstance(value, (int, np.integer)) and abs(int(value)) >= 10**20:
        digits = len(str(abs(int(value)))) - 1
        return f"{'-' if value < 0 else ''}~1e{digits} (an integer of {digits + 1} digits)"
    return str(value)


def normalize_axis(axis: int, ndim: int, name: str = "axis") -> int:
    """Return ``axis`` as a non-negative index into ``ndim`` dimensions."""
    axis = check_int(axis, name)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for an array of {ndim} dimension(s)")
    return axis % ndim


def as_generator(rng: Any, name: str = "rng") -> np.random.Generator:
    """A Generator as given, or a new one seeded with the non-negative integer ``rng``."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)):
        raise TypeError(
            f"{name} must be a numpy.random.Generator or an integer seed, got {type(rng).__name__}"
        )
    return np.random.default_rng(check_int(rng, name, minimum=0))


def is_sequence(value: Any) -> bool:
    """True for a list, tuple or array of values (not a string): an axis list, a size tuple."""
    return isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str)


def check_bool(value: Any, name: str) -> bool:
    """Check a flag is a real boolean (``True``/``False`` or a NumPy bool), never a truthy object.

    ``bool("False")`` is True; a flag given as a string, number or array is an error instead.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")


def check_representable(value: float, name: str, dtype: Any, *, nonzero: bool = False) -> float:
    """Check that the scalar ``value`` stays finite (and non-zero) when cast to ``dtype``.

    The kernels compute in the arrays' dtype, so ``eps=1e-50`` is 0 in float32 and ``lr=1e39``
    is inf: accepted, either would turn every parameter into NaN.
    """
    dt = np.dtype(dtype)
    with np.errstate(over="ignore", under="ignore"):
        cast = dt.type(value)
    if not np.isfinite(cast):
        raise ValueError(f"{name}={value} overflows to {cast} in {dt}; use a smaller value")
    if nonzero and value != 0 and cast == 0:
        tiny = np.finfo(dt).tiny
        raise ValueError(f"{name}={value} underflows to 0 in {dt}; use a value >= {tiny:.3g}")
    return value


def check_no_overlap(
    outputs: dict[str, Any], inputs: dict[str, Any], *, allowed: Sequence[tuple[str, str]] = ()
) -> None:
    """Raise ``ValueError`` if an output (or in-place) array overlaps any other argument.

    ``outputs`` are written by the call, ``inputs`` only read. Every output is checked against
    every input and every other output, except the pairs in ``allowed`` (aliasing a function
    documents, e.g. ``("dz", "grad_out")``). ``None`` entries are skipped. The check costs
    O(1) per pair for non-overlapping memory ranges (``may_share_memory``); only when the
    ranges meet is the exact test run.
    """
    ok = {frozenset(pair) for pair in allowed}
    outs = [(n, a) for n, a in outputs.items() if a is not None]
    others = outs + [(n, a) for n, a in inputs.items() if a is not None and hasattr(a, "shape")]
    for i, (out_name, out) in enumerate(outs):
        for j, (other_name, other) in enumerate(others):
            if j <= i and j < len(outs):
                continue  # each pair of outputs once
            if frozenset((out_name, other_name)) in ok:
                continue
            if _overlaps(out, other):
                raise ValueError(
                    f"{out_name} and {other_name} must not share memory: {out_name} is written "
                    "by this call and would corrupt the other; pass separate arrays"
                )


def _overlaps(a: Any, b: Any) -> bool:
    """Whether two arrays share memory (NumPy, or CuPy through its own test)."""
    if hasattr(a, "__cuda_array_interface__") or hasattr(b, "__cuda_array_interface__"):
        import cupy  # the CUDA backend's array module

        return bool(cupy.shares_memory(a, b)) if cupy.may_share_memory(a, b) else False
    if not np.may_share_memory(a, b):
        return False
    try:
        return bool(np.shares_memory(a, b, max_work=10_000))
    except np.exceptions.TooHardError:
        return True  # too costly to decide exactly: treat as overlapping, as the safe answer


def finite_copy(arr: Any, name: str, dtype: np.dtype, xp: Any) -> Any:
    """A copy of ``arr`` in ``dtype`` on ``xp``, checked finite before and after the cast."""
    src = xp.asarray(arr)
    if src.dtype.kind == "f" and not bool(xp.isfinite(src).all()):
        raise ValueError(f"{name} must hold finite values (it has NaN or inf)")
    with np.errstate(over="ignore"):
        out = xp.array(src, dtype=dtype, copy=True)
    if not bool(xp.isfinite(out).all()):
        raise ValueError(f"{name} has values too large for {dtype} (they overflow to inf)")
    return out
