"""Write generations of the arrays a network keeps for backward (textbook ch. 6).

In training mode a layer writes its output (and its input gradient) into buffers it reuses
from one call to the next, so a training step allocates nothing; the optimiser writes the
parameters in place; ``overwrite_grad`` lets a backward pass use its upstream gradient as
scratch. Any of these writes can land in an array that some layer saved in forward to use in
backward — its input, which may be another layer's reused output, its own output, its weights.
A gradient computed from such an array afterwards is silently wrong.

This module closes that class of error with a write generation per array *root* (the array
that owns the memory: ``arr.base`` followed to its end, so views and slices count too):

- every reusable buffer is created by :func:`new_buffer` and every array a layer saves gets a
  record (:func:`stamp`), with a generation that starts at 0;
- every numdl write into an array that may have been saved advances the generation of its
  root (:func:`mark_written`, or ``record.generation += 1`` for the owner of a buffer);
- a layer saving an array for backward stores the record and its generation; backward
  compares them (:meth:`numdl.nn.layers.base.Layer.saved_for_backward`) and raises a
  ``RuntimeError`` naming the layer, the array and who overwrote it, instead of computing.

The cost is a registry lookup (two attribute reads and a dict get) per saved array and an
integer increment per write: no copies. Writes made by user code (``h *= 2``) are not seen.
"""

from __future__ import annotations

import weakref
from typing import Any

__all__ = [
    "OVERWRITE_GRAD",
    "PARAMETER_BUFFER",
    "BufferRecord",
    "describe",
    "lookup",
    "lookup_root",
    "mark_written",
    "new_buffer",
    "root_of",
    "stamp",
    "stamp_all",
    "track",
]


class BufferRecord:
    """The write generation of one array root, who owns it and who wrote it last (for messages)."""

    __slots__ = ("__weakref__", "generation", "name", "owner", "ref", "writer")

    def __init__(self, ref: weakref.ref, owner: Any, name: str) -> None:
        self.ref = ref  # the root array, weakly: the record dies with it
        self.owner = None if owner is None else weakref.ref(owner)
        self.name = name
        self.generation = 0
        self.writer: tuple[str, Any] | None = None  # (what wrote it, weakref to whom) or None

    def explain(self) -> str:
        """Where the array lives, what wrote it last and how to avoid that, for a message."""
        owner = None if self.owner is None else self.owner()
        if owner is not None:
            where = f"the {self.name} of {describe(owner)}"
        else:
            where = self.name if self.owner is None else f"a {self.name} of a deleted object"
        action, who = "", None
        if self.writer is None:
            by = f"a later call of {describe(owner)}" if owner is not None else "numdl"
        else:
            action, ref = self.writer
            who = None if ref is None else ref()
            by = action if who is None else f"{action} of {describe(who)}"
        if action == OVERWRITE_GRAD:
            hint = (
                "An array that a layer still needs for backward cannot be overwrite_grad "
                "scratch: pass a copy, or overwrite_grad=False."
            )
        elif self.name == PARAMETER_BUFFER:
            hint = (
                "Run backward before the parameters change (forward, backward, then the "
                "optimiser step), or run forward again."
            )
        else:
            hint = (
                "Training-mode outputs are buffers that their layer's next call reuses: run "
                "backward before that call, or keep a copy (forward(h.copy()))."
            )
        return f"it lives in {where}, which {by} wrote again. {hint}"


#: The ``action`` of a backward pass that uses its upstream gradient as scratch.
OVERWRITE_GRAD = "the backward pass (overwrite_grad=True)"
#: The record name of a model's flat parameter buffer.
PARAMETER_BUFFER = "parameter buffer"

_RECORDS: dict[int, BufferRecord] = {}


def _forget(key: int, ref: weakref.ref) -> None:
    rec = _RECORDS.get(key)
    if rec is not None and rec.ref is ref:
        del _RECORDS[key]


def root_of(arr: Any) -> Any:
    """The object that owns ``arr``'s memory: ``arr`` itself, or the end of its ``base`` chain."""
    root = arr
    base = getattr(root, "base", None)
    while base is not None:
        root = base
        base = getattr(root, "base", None)
    return root


def lookup_root(root: Any) -> BufferRecord | None:
    """The record of ``root`` (an array that owns its memory, see :func:`root_of`), or None."""
    rec = _RECORDS.get(id(root))
    if rec is not None and rec.ref() is root:
        return rec
    return None


def _register(root: Any, owner: Any, name: str) -> BufferRecord | None:
    key = id(root)
    try:
        ref = weakref.ref(root, lambda r, key=key: _forget(key, r))
    except TypeError:  # a root that cannot be weakly referenced (bytes): not tracked
        return None
    rec = BufferRecord(ref, owner, name)
    _RECORDS[key] = rec
    return rec


def stamp(arr: Any) -> tuple[Any, BufferRecord | None, int]:
    """``(root, record, generation)`` of ``arr`` now; the record is created if it had none.

    This runs for every array a layer saves, on every training step: kept to a few
    attribute reads and one dict lookup.
    """
    root = arr
    base = getattr(arr, "base", None)
    while base is not None:
        root = base
        base = getattr(root, "base", None)
    rec = _RECORDS.get(id(root))
    if rec is None or rec.ref() is not root:
        rec = _register(root, None, "an array that is no reusable buffer")
        if rec is None:
            return root, None, -1
    return root, rec, rec.generation


def stamp_all(arrays: dict[str, Any]) -> list[tuple[str, Any, BufferRecord | None, int]]:
    """``[(name, root, record, generation)]`` for each array: :func:`stamp`, in one call."""
    out = []
    records = _RECORDS
    for name, arr in arrays.items():
        root = arr
        base = getattr(arr, "base", None)
        while base is not None:
            root = base
            base = getattr(root, "base", None)
        rec = records.get(id(root))
        if rec is None or rec.ref() is not root:
            rec = _register(root, None, "an array that is no reusable buffer")
        out.append((name, root, rec, -1 if rec is None else rec.generation))
    return out


def lookup(arr: Any) -> BufferRecord | None:
    """The record of ``arr``'s root, or ``None`` when nothing ever saved or owned it."""
    return lookup_root(root_of(arr))


def mark_written(arr: Any, action: str, by: Any = None) -> None:
    """Advance the generation of ``arr``'s root: call it before numdl writes into ``arr``.

    ``action`` and ``by`` (an object, held weakly) say what writes, for messages: e.g.
    ``mark_written(param, "a step", optimizer)``.
    """
    rec = lookup_root(root_of(arr))
    if rec is not None:
        rec.generation += 1
        rec.writer = (action, None if by is None else weakref.ref(by))


def new_buffer(owner: Any, name: str, shape: tuple[int, ...], dtype: Any, xp: Any) -> tuple:
    """A new reusable buffer of ``owner`` and its record: ``(array, record)``."""
    buf = xp.empty(shape, dtype=dtype)
    rec = _register(buf, owner, name)
    assert rec is not None  # NumPy and CuPy arrays can be weakly referenced
    return buf, rec


def track(arr: Any, owner: Any, name: str) -> BufferRecord | None:
    """Give the array ``arr`` (which owns its memory) a record naming ``owner`` as its owner."""
    root = root_of(arr)
    return lookup_root(root) or _register(root, owner, name)


def describe(obj: Any) -> str:
    """How messages name a layer, model or other owner."""
    method = getattr(obj, "describe", None)
    return method() if callable(method) else type(obj).__name__
