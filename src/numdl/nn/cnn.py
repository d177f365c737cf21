"""A small convolutional network for MNIST-shaped images (textbook ch. 9): :class:`CNN`.

Each block is a convolution (eq. 9.6, cross-correlation; "same" padding k//2, ReLU fused)
followed by 2 x 2 max pooling (§9.3); a dense head then maps the flattened features to the
class logits. The model takes the flat (B, C·H·W) rows every dataset and the trainer use,
as :class:`~numdl.nn.MLP` does: its first layer is a free :class:`~numdl.nn.Unflatten` view.

:func:`cnn_shapes` gives the parameter names and shapes of a configuration without
allocating anything (the checkpoint reader bounds its allocations with it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from numdl.core.validation import check_in_range, check_int, is_sequence
from numdl.nn.init import INITIALIZERS
from numdl.nn.layers.base import Layer
from numdl.nn.layers.conv import Conv2d
from numdl.nn.layers.dropout import Dropout
from numdl.nn.layers.linear import Linear
from numdl.nn.layers.pooling import MaxPool2d
from numdl.nn.layers.reshape import Flatten, Unflatten
from numdl.nn.models import Classifier

__all__ = ["CNN", "cnn_shapes"]

#: Side of the max-pooling window (and its stride) after each convolution.
POOL = 2


def _ints(value: Any, name: str, *, length: int | None = None) -> list[int]:
    """``value`` as a non-empty list of ints >= 1 (an int alone is a list of one)."""
    if not is_sequence(value):
        if length is None:
            return [check_int(value, name, minimum=1)]
        raise TypeError(f"{name} must be a sequence of {length} ints, got {type(value).__name__}")
    items = [check_int(v, f"{name}[{i}]", minimum=1) for i, v in enumerate(value)]
    if length is not None and len(items) != length:
        raise ValueError(f"{name} must have {length} entries, got {len(items)}: {items}")
    if not items:
        raise ValueError(f"{name} must not be empty")
    return items


def _feature_shapes(
    in_shape: list[int], channels: list[int], kernel_size: int
) -> list[tuple[int, int, int]]:
    """(C, H, W) after each block: conv OH = H + 2·(k//2) − k + 1, then pool OH // 2."""
    c, h, w = in_shape
    shapes = []
    pad = kernel_size // 2
    for i, f in enumerate(channels):
        oh, ow = h + 2 * pad - kernel_size + 1, w + 2 * pad - kernel_size + 1
        if min(oh, ow) < POOL:
            raise ValueError(
                f"in_shape {tuple(in_shape)} is too small for {len(channels)} blocks of "
                f"kernel_size {kernel_size}: block {i} gets {h} x {w} features, which its "
                f"convolution and {POOL} x {POOL} pooling reduce below 1 x 1"
            )
        c, h, w = f, oh // POOL, ow // POOL
        shapes.append((c, h, w))
    return shapes


def cnn_shapes(
    in_shape: Sequence[int],
    channels: Sequence[int],
    kernel_size: int,
    hidden: int | Sequence[int],
    n_classes: int,
    dropout: float = 0.0,
) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of the :class:`CNN` with this configuration.

    Nothing is allocated; the layers are numbered as :class:`CNN` numbers them (the
    Unflatten is ``layer0``, each block a convolution and a pooling, then Flatten, and a
    Dropout after each hidden dense layer when ``dropout > 0``).

    Raises
    ------
    TypeError, ValueError
        As :class:`CNN` for the same arguments.
    """
    in_shape = _ints(in_shape, "in_shape", length=3)
    channels = _ints(channels, "channels")
    kernel_size = check_int(kernel_size, "kernel_size", minimum=1)
    widths = _ints(hidden, "hidden")
    n_classes = check_int(n_classes, "n_classes", minimum=1)
    dropout = check_in_range(dropout, "dropout", 0.0, 1.0)
    shapes: dict[str, tuple[int, ...]] = {}
    index, c = 1, in_shape[0]  # layer0: the Unflatten
    features = _feature_shapes(in_shape, channels, kernel_size)
    for f in channels:
        shapes[f"layer{index}.W"] = (f, c, kernel_size, kernel_size)
        shapes[f"layer{index}.b"] = (f,)
        index, c = index + 2, f  # the conv, then its pooling
    index += 1  # Flatten
    sizes = [math.prod(features[-1]), *widths, n_classes]
    for k in range(len(sizes) - 1):
        shapes[f"layer{index}.W"] = (sizes[k], sizes[k + 1])
        shapes[f"layer{index}.b"] = (sizes[k + 1],)
        index += 1 + (dropout > 0 and k < len(sizes) - 2)
    return shapes


class CNN(Classifier):
    """logits = dense(flatten(pool(relu(conv(... pool(relu(conv(x))) ...))))) (ch. 9).

    Layers, numbered ``layer{i}`` in order: :class:`~numdl.nn.Unflatten` ``(B, C·H·W) ->
    (B, C, H, W)``; per entry of ``channels`` a :class:`~numdl.nn.Conv2d` of that many
    filters (``kernel_size`` square, stride 1, padding ``kernel_size // 2``, ReLU fused) and
    a 2 x 2 :class:`~numdl.nn.MaxPool2d`; :class:`~numdl.nn.Flatten`; then per entry of
    ``hidden`` a :class:`~numdl.nn.Linear` with ReLU (and :class:`~numdl.nn.Dropout` when
    ``dropout > 0``), and a last Linear to the ``n_classes`` logits.

    Parameters
    ----------
    in_shape : (C, H, W), default (1, 28, 28)
        The shape of one image; ``x`` has rows of C·H·W features.
    channels : sequence of int, default (16, 32)
        Filters of each convolution block.
    kernel_size : int >= 1, default 5
    hidden : int or sequence of int, default 128
        Widths of the dense head's hidden layers.
    n_classes : int >= 1, default 10
    dropout : float in [0, 1), default 0.0
        Dropout probability after each hidden dense layer (0: no Dropout layers).
    init : str, default "he_uniform"
        Initialisation of the convolution and dense weights (fan_in = C·KH·KW for a
        convolution); biases start at zero.
    dtype : float32 or float64, default float32
    seed : int >= 0 or numpy Generator, default 0
        Seeds the initialisation; the dropout masks come from
        ``default_rng([seed, DROPOUT_STREAM])`` as in :class:`~numdl.nn.MLP`.

    Raises
    ------
    TypeError
        If a size is not an int (or ``in_shape``/``channels`` not sequences of ints),
        ``init`` not a string, ``dropout`` not a number, or ``dtype``/``seed`` of the wrong
        kind.
    ValueError
        If a size is < 1, ``in_shape`` has not 3 entries, ``channels`` is empty, the image is
        too small for the blocks (a feature map below 1 x 1), ``init`` is unknown or
        ``dropout`` is outside [0, 1).
    """

    def __init__(
        self,
        in_shape: Sequence[int] = (1, 28, 28),
        channels: Sequence[int] = (16, 32),
        kernel_size: int = 5,
        hidden: int | Sequence[int] = 128,
        n_classes: int = 10,
        *,
        dropout: float = 0.0,
        init: str = "he_uniform",
        dtype: Any = np.float32,
        seed: Any = 0,
    ) -> None:
        if not isinstance(init, str):
            raise TypeError(
                f"init must be a string, one of {sorted(INITIALIZERS)}, got {type(init).__name__}"
            )
        if init not in INITIALIZERS:
            raise ValueError(f"init must be one of {sorted(INITIALIZERS)}, got {init!r}")
        shapes = cnn_shapes(in_shape, channels, kernel_size, hidden, n_classes, dropout)
        in_shape = _ints(in_shape, "in_shape", length=3)
        channels = _ints(channels, "channels")
        widths = _ints(hidden, "hidden")
        dropout = float(dropout)
        pad = kernel_size // 2
        layers: list[Layer] = [Unflatten(tuple(in_shape))]
        c = in_shape[0]
        for f in channels:
            layers.append(Conv2d(c, f, kernel_size, padding=pad, relu=True, init=init))
            layers.append(MaxPool2d(POOL))
            c = f
        layers.append(Flatten())
        flat = shapes[f"layer{len(layers)}.W"][0]
        for d_in, d_out in zip([flat, *widths[:-1]], widths, strict=True):
            layers.append(Linear(d_in, d_out, relu=True, init=init))
            if dropout > 0:
                layers.append(Dropout(dropout))
        layers.append(Linear(widths[-1], n_classes, init=init))
        super().__init__(layers, dtype=dtype, seed=seed)
        self._seed_dropout(seed)
        self.config = {
            "kind": "cnn",
            "in_shape": in_shape,
            "channels": channels,
            "kernel_size": int(kernel_size),
            "hidden": widths,
            "n_classes": int(n_classes),
            "dropout": dropout,
            "init": init,
            "dtype": np.dtype(dtype).name,
        }

    @property
    def n_features(self) -> int:
        return math.prod(self.config["in_shape"])

    def __repr__(self) -> str:
        cfg = self.config
        extra = f", dropout={cfg['dropout']}" if cfg["dropout"] else ""
        return (
            f"CNN(in_shape={tuple(cfg['in_shape'])}, channels={tuple(cfg['channels'])}, "
            f"kernel_size={cfg['kernel_size']}, hidden={tuple(cfg['hidden'])}, "
            f"n_classes={cfg['n_classes']}{extra}, dtype={self.dtype})"
        )
