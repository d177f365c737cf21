"""What every validated op shares: checked or new outputs, contiguous inputs, disjoint buffers.

* :func:`out_buffer` — a caller's output buffer checked (shape, dtype, writeable,
  C-contiguous), or a new one.
* :func:`check_disjoint` — no array the call writes overlaps another argument, through
  :func:`numdl.core.validation.check_no_overlap` after an O(n) screen that skips the pairs
  which cannot overlap (separate allocations, or address ranges apart), so the check costs
  about a microsecond per array in a training step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from numdl.core import backend as _backend
from numdl.core.validation import (
    as_array,
    check_no_overlap,
    check_same_dtype,
    check_shape,
    check_writeable_contiguous,
)

__all__ = ["check_disjoint", "contiguous", "out_buffer"]


def out_buffer(out: Any, name: str, shape: tuple[int, ...], like: Any) -> Any:
    """Return ``out`` checked against ``shape`` and ``like.dtype``, or a new buffer."""
    if out is None:
        return _backend.current().xp.empty(shape, dtype=like.dtype)
    out = as_array(out, name)
    check_shape(out, name, shape)
    check_same_dtype(out, name, like, "the input")
    check_writeable_contiguous(out, name)
    return out


def contiguous(x: Any) -> Any:
    return x if x.flags.c_contiguous else _backend.current().xp.ascontiguousarray(x)


def _allocation(a: Any) -> int | None:
    """An id of the NumPy allocation holding ``a``'s memory, or None if it cannot be told.

    Two arrays whose memory lies in different allocations NumPy made (the root of their
    ``base`` chains owns its data) cannot overlap. Memory NumPy did not allocate (a buffer, a
    memory map, a device array) gives None: such arrays are checked against everything.
    """
    base = a.base
    if base is None:  # the array owns its memory (or came from C without an owner)
        return id(a) if isinstance(a, np.ndarray) and a.flags.owndata else None
    while isinstance(base, np.ndarray):
        root, base = base, base.base
        if base is None:
            return id(root) if root.flags.owndata else None
    return None  # memory of another object (bytes, mmap, a device array's owner)


def check_disjoint(
    outputs: dict[str, Any],
    inputs: dict[str, Any],
    *,
    allowed: Sequence[tuple[str, str]] = (),
) -> None:
    """Raise ``ValueError`` naming both arguments if an array the call writes overlaps another.

    ``outputs`` are the arrays written (output buffers and in-place state), ``inputs`` those
    only read; ``None`` entries are skipped. The test is
    :func:`~numdl.core.validation.check_no_overlap` (exact: views of one flat buffer that do
    not overlap, like a layer's W and b, pass, and its message names the pair), run only when
    an output and another argument lie in the same allocation with address ranges that meet,
    or when an array's allocation is unknown. Arrays in different NumPy allocations, or with
    disjoint address ranges, cannot overlap: the answer is the same as checking every pair.
    """
    groups: dict[int, list[tuple[bool, Any]]] = {}  # allocation -> (written?, array) in it
    shared = False
    for written, named in ((True, outputs), (False, inputs)):
        for arr in named.values():
            if arr is None:
                continue
            key = _allocation(arr)
            if key is None:  # memory NumPy did not allocate: check every pair
                check_no_overlap(outputs, inputs, allowed=allowed)
                return
            group = groups.get(key)
            if group is None:
                groups[key] = [(written, arr)]
            else:
                group.append((written, arr))
                shared = True
    if not shared:
        return  # every argument in its own allocation: nothing can overlap
    for group in groups.values():
        for k, (written, arr) in enumerate(group):
            if not written:
                continue
            for m, (other_written, other) in enumerate(group):
                if (m > k or (m < k and not other_written)) and np.may_share_memory(arr, other):
                    check_no_overlap(outputs, inputs, allowed=allowed)
                    return
