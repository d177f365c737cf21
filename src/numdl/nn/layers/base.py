"""Layers with hand-written backward passes (textbook ch. 6, eqs. 13–17).

A layer declares its parameters (:meth:`Layer.param_specs`) and is then bound to views
into its model's flat :class:`~numdl.nn.params.Parameters` buffer. ``forward`` keeps what
``backward`` needs; ``backward`` writes parameter gradients into the gradient buffer
(overwriting, not accumulating) and returns dL/dx.

In training mode (``train=True``) outputs and input-gradients are buffers reused from one
call to the next, so a training loop allocates nothing per step: copy a result to keep it.

The pattern every layer follows (and new layers get from this base class), so that a
gradient is never computed from an array that was overwritten after forward
(:mod:`numdl.nn.buffers`):

- write outputs into ``self.buffer(name, shape, dtype)``: a reused buffer whose write
  generation advances on each call;
- take the input through ``self.private_input(x)``: a copy only when ``x`` lives in one of
  this layer's own buffers (which the call itself would overwrite);
- keep arrays for backward with ``self.save_for_backward(x=x, ...)`` (training mode only), and
  get them back in backward with ``self.saved_for_backward()``, which raises a
  ``RuntimeError`` naming the layer if any was overwritten since forward;
- take the upstream gradient through ``self.take_grad(grad, overwrite_grad)``, which says
  whether it may be used as scratch (never when backward still reads that memory).
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from numdl.core import backend as _backend
from numdl.core.validation import FLOAT_DTYPES, as_array, check_ndim
from numdl.nn import buffers as _buffers
from numdl.nn.params import Parameters, ParamSpec

__all__ = ["Layer"]


#: What a training-mode forward kept (``self._saved``): the arrays by name, and a stamp
#: ``(name, root, record, generation)`` of each (:func:`numdl.nn.buffers.stamp`).
_Saved = tuple[dict[str, Any], list[tuple[str, Any, Any, int]]]


#: A per-sample shape: sizes, ``None`` where any size is accepted (or not known).
Shape = tuple[int | None, ...]


def format_shape(shape: Shape, batch: bool = False) -> str:
    """``(B, 3, *, *)``: a shape for messages, ``*`` for any size, ``B`` for the batch."""
    items = (["B"] if batch else []) + ["*" if s is None else str(s) for s in shape]
    return "(" + ", ".join(items) + (",)" if len(items) == 1 else ")")


#: Per-run state a copy of a layer does not take along.
_RUNTIME_ATTRIBUTES = ("_saved", "_buffers", "_model", "_ref", "_input", "_params_record")


class Layer:
    """Base class: a layer without parameters whose forward is the identity."""

    #: True for layers whose output has the input's shape (activations): lets a model check
    #: that the widths of its layers chain.
    elementwise: bool = False

    # -- structure ------------------------------------------------------------------------
    def param_specs(self, prefix: str) -> list[ParamSpec]:
        """The parameters this layer owns, named with ``prefix``."""
        return []

    def bind(self, params: Parameters, prefix: str) -> None:
        """Take views of this layer's parameters and gradients from ``params``."""

    def reset_parameters(self, rng: np.random.Generator) -> None:
        """(Re-)initialise this layer's parameters in place."""

    @property
    def in_width(self) -> int | None:
        """The number of input features this layer requires, or ``None`` (any)."""
        return None

    def out_width(self, in_width: int | None) -> int | None:
        """The number of features it outputs for ``in_width`` inputs (``None``: unknown)."""
        return in_width if self.elementwise else None

    @property
    def in_shape(self) -> Shape | None:
        """The per-sample input shape this layer requires (``x`` is ``(B, *in_shape)``;
        ``None`` entries: any size), or ``None`` (any shape); ``(in_width,)`` by default."""
        width = self.in_width
        return None if width is None else (width,)

    def out_shape(self, in_shape: Shape | None) -> Shape | None:
        """The per-sample output shape for samples of shape ``in_shape`` (``None``: unknown).

        Raises ``ValueError`` when this layer cannot take such samples (e.g. a kernel larger
        than the image); the model names the layer. By default: the input's shape for an
        elementwise layer, else ``(out_width,)`` from :meth:`out_width`.
        """
        if self.elementwise:
            return in_shape
        width = self.out_width(in_shape[0] if in_shape is not None and len(in_shape) == 1 else None)
        return None if width is None else (width,)

    def describe(self) -> str:
        """How messages name this layer: ``Linear(4, 3) 'layer0'`` inside a model."""
        name = self.__dict__.get("_name")
        return repr(self) if name is None else f"{self!r} {name!r}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    # -- argument checks shared by the layers with parameters -----------------------------
    def _check_rows(self, x: Any, n_features: int, param: Any) -> Any:
        """``x`` as a (B, ``n_features``) array of the dtype of ``param`` (one of this layer's
        parameters; ``None`` before a model allocated them), or the error naming it."""
        if param is None:
            raise RuntimeError(
                f"{self!r} has no parameters yet: put it in a Sequential, which allocates them"
            )
        x = as_array(x, "x")
        check_ndim(x, "x", 2)
        if x.dtype != param.dtype:
            raise TypeError(f"x must have dtype {param.dtype} (the layer's dtype), got {x.dtype}")
        if x.shape[1] != n_features:
            raise ValueError(
                f"x must have shape (B, {n_features}) for {self.describe()} (it takes "
                f"{n_features} features), got {x.shape}"
            )
        return x

    def _check_batch(self, x: Any, shape: Shape, param: Any) -> Any:
        """``x`` as a (B, *``shape``) array (``None`` entries: any size) of the dtype of
        ``param`` (one of this layer's parameters, or ``None`` for a layer without any: then
        float32 or float64), or the error naming it; the N-D :meth:`_check_rows`."""
        x = as_array(x, "x")
        check_ndim(x, "x", 1 + len(shape))
        if param is not None:
            if x.dtype != param.dtype:
                raise TypeError(
                    f"x must have dtype {param.dtype} (the layer's dtype), got {x.dtype}"
                )
        elif x.dtype not in FLOAT_DTYPES:
            raise TypeError(f"x must have dtype float32 or float64, got {x.dtype}")
        if any(
            want is not None and got != want for got, want in zip(x.shape[1:], shape, strict=True)
        ):
            raise ValueError(
                f"x must have shape {format_shape(shape, batch=True)} for {self.describe()}, "
                f"got {x.shape}"
            )
        return x

    def _check_grad(self, grad: Any, out: Any) -> Any:
        """``grad`` as an array like the last output ``out``, or the error naming it."""
        grad = as_array(grad, "grad")
        if grad.dtype != out.dtype:
            raise TypeError(
                f"grad must have dtype {out.dtype} (the layer's dtype), got {grad.dtype}"
            )
        if grad.shape != out.shape:
            raise ValueError(
                f"grad must have shape {out.shape} (the shape of the last training-mode output "
                f"of {self.describe()}), got {grad.shape}"
            )
        return grad

    # -- computation ----------------------------------------------------------------------
    def forward(self, x: Any, *, train: bool = True) -> Any:
        """The layer's output for the batch ``x``; in training mode, keep what backward needs."""
        return x

    def backward(self, grad: Any, *, compute_dx: bool = True, overwrite_grad: bool = False) -> Any:
        """dL/dx from dL/doutput ``grad``, writing this layer's parameter gradients."""
        return grad

    # -- the caching protocol -------------------------------------------------------------
    def buffer(self, name: str, shape: tuple[int, ...], dtype: Any) -> Any:
        """This layer's reusable buffer ``name``, about to be written.

        Allocated on first use and whenever ``shape`` or ``dtype`` change; otherwise the
        same array as last time, with its write generation advanced, so that any layer that
        saved it (or a view of it) for backward finds out it was overwritten.
        """
        buffers = self.__dict__.get("_buffers")
        if buffers is None:
            buffers = self.__dict__["_buffers"] = {}
        entry = buffers.get(name)
        if entry is None or entry[0].shape != shape or entry[0].dtype != dtype:
            xp = _backend.current().xp
            entry = buffers[name] = _buffers.new_buffer(
                self, f"reusable {name!r} buffer", shape, dtype, xp
            )
        rec = entry[1]
        rec.generation += 1
        rec.writer = None
        return entry[0]

    def owns(self, rec: Any) -> bool:
        """Whether the buffer of record ``rec`` is one of this layer's own buffers."""
        return rec.owner is not None and rec.owner() is self

    def private_input(self, x: Any) -> Any:
        """``x``, or a copy of it when it lives in one of this layer's own buffers."""
        state = self.__dict__
        last = state.get("_input")  # (x as given, x as used, its root, its record)
        if last is not None and last[0] is x and last[1] is x:
            return x  # the same array as last call (a previous layer's buffer): not ours
        root = _buffers.root_of(x)
        rec = _buffers.lookup_root(root)
        used = x
        if rec is not None and self.owns(rec):
            used = x.copy()
            root, rec = used, None
        state["_input"] = (x, used, root, rec)  # also saves save_for_backward a lookup
        return used

    def save_for_backward(self, **arrays: Any) -> None:
        """Keep ``arrays`` for backward, with the write generation of the memory each lives in.

        Replaces whatever the previous forward saved. A layer bound to a model's parameters
        also keeps their generation: an optimiser step before backward is caught too.
        """
        state = self.__dict__
        given = state.get("_input")
        own = state.get("_buffers")
        stamps = []
        for name, arr in arrays.items():
            # the input from private_input, and a buffer saved under its own name, are known
            if given is not None and arr is given[1] and given[3] is not None:
                rec = given[3]
                stamps.append((name, given[2], rec, rec.generation))
                continue
            entry = None if own is None else own.get(name)
            if entry is not None and entry[0] is arr:
                rec = entry[1]
                stamps.append((name, arr, rec, rec.generation))
                continue
            stamps.append((name, *_buffers.stamp(arr)))
        params = state.get("_params_record")
        if params is not None:
            stamps.append(("parameters", params.ref(), params, params.generation))
        state["_saved"] = (arrays, stamps)

    def saved_for_backward(self) -> dict[str, Any]:
        """The arrays the last training-mode forward saved, checked to be as it left them.

        Raises
        ------
        RuntimeError
            If there was no training-mode forward, or if any saved array has been written
            since (a reused output buffer written by its layer's next call, parameters
            changed by an optimiser step, memory used as ``overwrite_grad`` scratch).
        """
        saved: _Saved | None = self.__dict__.get("_saved")
        if saved is None:
            raise RuntimeError(
                f"{self.describe()}.backward called before a training-mode forward: "
                "call forward(x) (train=True) first"
            )
        for name, _, rec, generation in saved[1]:
            if rec is not None and rec.generation != generation:
                raise RuntimeError(
                    f"{self.describe()} cannot run backward: {name!r}, saved by its last "
                    "training-mode forward, has been overwritten since, so the gradient would "
                    f"be computed from the wrong values: {rec.explain()}"
                )
        return saved[0]

    def check_saved(self, root: Any = None) -> bool:
        """Raise as :meth:`saved_for_backward` does if an array saved by the last training-mode
        forward was overwritten since (nothing when this layer saved nothing); return whether
        one of them lives in ``root`` (see :func:`numdl.nn.buffers.root_of`)."""
        saved: _Saved | None = self.__dict__.get("_saved")
        if saved is None:
            return False
        found = False
        for _, saved_root, rec, generation in saved[1]:
            if rec is not None and rec.generation != generation:
                self.saved_for_backward()  # raises, naming the array
            found = found or saved_root is root
        return found

    def saves(self, root: Any) -> bool:
        """Whether this layer's last training-mode forward saved an array living in ``root``."""
        saved = self.__dict__.get("_saved")
        return saved is not None and any(stamp[1] is root for stamp in saved[1])

    def take_grad(self, grad: Any, overwrite_grad: bool) -> tuple[Any, bool]:
        """``(grad, scratch)``: the upstream gradient and whether backward may overwrite it.

        ``grad`` is copied when it lives in this layer's own buffers (backward writes them);
        ``overwrite_grad`` is honoured only when ``grad`` is writeable, C-contiguous and not
        in memory this layer saved for backward, and then its generation is advanced.
        """
        root = _buffers.root_of(grad)
        rec = _buffers.lookup_root(root)
        if rec is not None and self.owns(rec):
            return grad.copy(), True
        if not overwrite_grad:
            return grad, False
        flags = getattr(grad, "flags", None)
        if flags is None or not flags.c_contiguous or not getattr(flags, "writeable", True):
            return grad, False
        if self.saves(root):
            return grad, False
        if rec is not None:
            rec.generation += 1
            rec.writer = (_buffers.OVERWRITE_GRAD, self._self_ref())
        return grad, True

    def _self_ref(self) -> weakref.ref:
        ref = self.__dict__.get("_ref")
        if ref is None:
            ref = self.__dict__["_ref"] = weakref.ref(self)
        return ref

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles drop the forward caches, buffers and model link (start fresh)."""
        return {k: v for k, v in self.__dict__.items() if k not in _RUNTIME_ATTRIBUTES}
