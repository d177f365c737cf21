"""Validated batch gathering (reference: :mod:`numdl.core.hotpaths.gather`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from numdl.core import backend as _backend
from numdl.core.ops._buffers import check_disjoint as _check_disjoint
from numdl.core.ops._buffers import out_buffer as _out_buffer
from numdl.core.validation import as_array, check_float_array, check_ndim, check_same_dtype

__all__ = ["take_rows"]

_INDEX = np.dtype(np.int64)


def take_rows(x: Any, index: Any, *, out: Any = None) -> Any:
    """The rows ``x[index]`` of a data set: a training step's mini-batch (ch. 5.9).

    Equal, bit for bit, to ``np.take(x, index, axis=0)``; the numba backend gathers several
    rows at once (each a separate stream from memory), which is what bounds a gather from a
    data set larger than the caches.

    Parameters
    ----------
    x : array of shape (N, D), float32 or float64
        The samples, one per row.
    index : array of shape (B,), integer
        Which rows, each in [0, N) (no wrap-around of negative indices).
    out : array of shape (B, D), optional
        Preallocated output of ``x``'s dtype: C-contiguous, writeable, sharing no memory
        with ``x`` or ``index``.

    Returns
    -------
    out : array of shape (B, D)

    Raises
    ------
    TypeError
        If ``x`` is not float32/float64, ``index`` not integer, or ``out`` of another dtype.
    ValueError
        If a shape disagrees, an index is out of range, or ``out`` is not writeable and
        C-contiguous or overlaps an input. Nothing is written then.
    """
    x = check_float_array(x, "x", ndim=2)
    index = as_array(index, "index")
    if index.dtype.kind not in "iu":
        raise TypeError(f"index must hold integer row indices, got dtype {index.dtype}")
    check_ndim(index, "index", 1)
    n = x.shape[0]
    if index.size and (index.min() < 0 or index.max() >= n):
        raise ValueError(
            f"index must hold row indices in [0, {n}) (x has {n} rows), got values in "
            f"[{index.min()}, {index.max()}]"
        )
    be = _backend.current()
    shape = (index.shape[0], x.shape[1])
    if out is not None:
        check_same_dtype(as_array(out, "out"), "out", x, "x")
        out = _out_buffer(out, "out", shape, x)
        _check_disjoint({"out": out}, {"x": x, "index": index})
    else:
        out = be.xp.empty(shape, dtype=x.dtype)
    if index.dtype != _INDEX or not index.flags.c_contiguous:
        index = be.xp.ascontiguousarray(index, dtype=_INDEX)  # one kernel per data dtype
    return be.take_rows(x, index, out)
