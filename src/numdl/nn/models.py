"""Networks: :class:`Sequential`, layers composed over one flat parameter buffer, and the
textbook report's multilayer perceptron :class:`MLP` (eqs. 26–27) for any depth.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np

from numdl.core import backend as _backend
from numdl.core.ops import softmax
from numdl.core.validation import (
    FLOAT_DTYPES,
    as_array,
    as_generator,
    check_bool,
    check_in_range,
    check_int,
    check_ndim,
    is_sequence,
)
from numdl.nn.buffers import lookup, mark_written, root_of
from numdl.nn.layers.activation import LeakyReLU, Sigmoid, Tanh
from numdl.nn.layers.base import Layer, Shape, format_shape
from numdl.nn.layers.dropout import Dropout
from numdl.nn.layers.linear import Linear
from numdl.nn.layers.normalization import BatchNorm, LayerNorm
from numdl.nn.params import Parameters

__all__ = ["ACTIVATIONS", "DROPOUT_STREAM", "MLP", "NORMS", "Classifier", "Sequential"]


class Sequential(Layer):
    """Layers applied in order, owning all their parameters in one flat buffer.

    Parameters
    ----------
    layers : sequence of Layer
        Distinct layer objects not used by another model; consecutive widths must chain
        (``Linear(4, 3)`` then ``Linear(3, 2)``), and so must per-sample shapes
        (:attr:`Layer.in_shape`, :meth:`Layer.out_shape`: ``Conv2d(1, 8, 3)`` takes
        (1, H, W) samples and gives (8, H − 2, W − 2)); they are checked here, and ``x``'s
        per-sample shape against the first layer's on every forward.
    dtype : float32 or float64, default float32
    seed : int >= 0 or numpy Generator, default 0
        Seeds the parameter initialisation.

    Attributes
    ----------
    params : Parameters
        Every parameter, named ``"layer{i}.W"`` / ``"layer{i}.b"``, with its gradient
        (``params.grad``, written by :meth:`backward`).

    Raises
    ------
    TypeError
        If ``layers`` is not a sequence of :class:`Layer`, ``dtype`` not float32/float64 or
        ``seed`` not an integer or Generator.
    ValueError
        If ``layers`` is empty, holds one layer twice or one of another model, or widths
        do not chain.
    """

    def __init__(self, layers: Sequence[Layer], *, dtype: Any = np.float32, seed: Any = 0) -> None:
        if not is_sequence(layers):
            raise TypeError(
                f"layers must be a sequence of Layer objects, got {type(layers).__name__}"
            )
        layers = list(layers)
        if not layers:
            raise ValueError("layers must not be empty: give at least one Layer")
        first_index: dict[int, int] = {}
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}] must be a Layer, got {type(layer).__name__}")
            j = first_index.setdefault(id(layer), i)
            if j != i:
                raise ValueError(
                    f"layers[{i}] is the same object as layers[{j}] ({layer!r}): a layer keeps "
                    "one forward's cache and one set of parameters, so each position needs "
                    "its own layer"
                )
            owner = layer.__dict__.get("_model")
            if owner is not None and owner() is not None:
                raise ValueError(
                    f"layers[{i}] ({layer!r}) already belongs to another model, whose "
                    "parameters it uses; give this model a new layer"
                )
        self._in_shape, self._in_layer, self._out_shape = _chain_shapes(layers)
        # the 2-D fast path compares x.shape[1] with _in_width (None: never equal)
        self._in_width = _width(self._in_shape)
        self._out_width = _width(self._out_shape)
        #: layers before the first with parameters need no backward unless dX is asked for
        self._first_param = next(
            (i for i, layer in enumerate(layers) if layer.param_specs(f"layer{i}.")), len(layers)
        )
        rng = as_generator(seed, "seed")
        prefixes = [f"layer{i}." for i in range(len(layers))]
        specs = [s for layer, p in zip(layers, prefixes, strict=True) for s in layer.param_specs(p)]
        self.params = Parameters(specs, dtype=dtype)
        self.layers = layers
        params_record = lookup(self.params.data)
        for layer, prefix in zip(layers, prefixes, strict=True):
            layer.bind(self.params, prefix)
            layer.__dict__["_name"] = prefix[:-1]
            layer.__dict__["_model"] = weakref.ref(self)
            if layer.param_specs(prefix):  # its forward depends on the parameters
                layer.__dict__["_params_record"] = params_record
        self.reset_parameters(rng)

    @property
    def dtype(self) -> np.dtype:
        return self.params.dtype

    @property
    def in_width(self) -> int | None:
        return self._in_width

    def out_width(self, in_width: int | None) -> int | None:
        return self._out_width

    @property
    def in_shape(self) -> Shape | None:
        return self._in_shape

    def out_shape(self, in_shape: Shape | None) -> Shape | None:
        return self._out_shape

    def __repr__(self) -> str:
        return f"Sequential([{', '.join(repr(layer) for layer in self.layers)}])"

    def owns(self, rec: Any) -> bool:
        return any(layer.owns(rec) for layer in self.layers)

    def saves(self, root: Any) -> bool:
        return any(layer.saves(root) for layer in self.layers)

    def check_saved(self, root: Any = None) -> bool:
        found = super().check_saved(root)
        for layer in self.layers:
            found = layer.check_saved(root) or found
        return found

    def reset_parameters(self, rng: np.random.Generator) -> None:
        mark_written(self.params.data, "reset_parameters", self)
        for layer in self.layers:
            layer.reset_parameters(rng)

    def _check_input(self, x: Any) -> Any:
        """``x`` as an array, checked against this model before any layer runs."""
        x = as_array(x, "x")
        need = self._in_shape
        if need is None:
            if x.ndim < 2:
                check_ndim(x, "x", 2)
        else:
            check_ndim(x, "x", 1 + len(need))
        if self.params.size:
            if x.dtype != self.dtype:
                raise TypeError(
                    f"x must have dtype {self.dtype} (the model's dtype), got {x.dtype}"
                )
        elif x.dtype not in FLOAT_DTYPES:
            raise TypeError(f"x must have dtype float32 or float64, got {x.dtype}")
        if need is not None and any(
            n is not None and got != n for got, n in zip(x.shape[1:], need, strict=True)
        ):
            i = self._in_layer
            which = "first layer" if i == 0 else f"layers[{i}], {self.layers[i]!r},"
            takes = (
                f"{need[0]} features"
                if self._in_width is not None
                else f"samples of shape {format_shape(need)}"
            )
            raise ValueError(
                f"x must have shape {format_shape(need, batch=True)} for this model (its "
                f"{which} takes {takes}), got {x.shape}"
            )
        return x

    def _check_grad(self, grad: Any, out: Any) -> Any:
        """``grad`` as an array like the last output ``out``, or the error naming it."""
        grad = as_array(grad, "grad")
        if grad.dtype != out.dtype:
            raise TypeError(
                f"grad must have dtype {out.dtype} (the dtype of the model's output), "
                f"got {grad.dtype}"
            )
        if grad.shape != out.shape:
            raise ValueError(
                f"grad must have shape {out.shape} (the shape of the model's last "
                f"training-mode output), got {grad.shape}"
            )
        return grad

    def forward(self, x: Any, *, train: bool = True) -> Any:
        """Logits (or outputs) for the batch ``x`` of shape (B, D_in) (or (B, *in_shape)).

        ``x`` is checked against the model before any layer runs, so a rejected call
        leaves the caches of the last training-mode forward (and its :meth:`backward`) as
        they were. In training mode the result is the last layer's reused buffer.

        Raises
        ------
        TypeError
            If ``x`` is not an array of the model's dtype.
        ValueError
            If ``x`` is not 2-D (not 1 + len(in_shape) -D) or has the wrong number of
            features (per-sample shape).
        """
        if (  # the common case, decided without a call; anything else is checked in full
            type(x) is not np.ndarray
            or x.ndim != 2
            or x.dtype != self.params.dtype
            or x.shape[1] != self._in_width
        ):
            x = self._check_input(x)
        if train is not True and not check_bool(train, "train"):
            for layer in self.layers:
                x = layer.forward(x, train=False)
            return x
        before = [layer.__dict__.get("_saved") for layer in self.layers]
        try:
            x = self.private_input(x)  # the model's input in one of its own buffers: copied
            for layer in self.layers:
                x = layer.forward(x, train=True)
        except BaseException:
            # a layer failed after earlier ones ran: put their caches back; any that the
            # failed call overwrote is then caught by its write generation in backward
            for layer, saved in zip(self.layers, before, strict=True):
                if saved is None:
                    layer.__dict__.pop("_saved", None)
                else:
                    layer.__dict__["_saved"] = saved
            raise
        self.save_for_backward(out=x)
        return x

    __call__ = forward

    def backward(self, grad: Any, *, compute_dx: bool = False, overwrite_grad: bool = False) -> Any:
        """Back-propagate dL/doutput, writing every parameter gradient into ``params.grad``.

        The first layer skips dX unless ``compute_dx``; ``overwrite_grad`` lets the loss
        gradient buffer be reused as scratch (inner gradients always are).

        Raises
        ------
        RuntimeError
            If there was no training-mode forward, or an array a layer saved in it has been
            overwritten since (see :mod:`numdl.nn.buffers`); nothing is written then.
        TypeError, ValueError
            If ``grad`` does not have the dtype and shape of the last output.
        """
        out = self.saved_for_backward()["out"]
        if compute_dx is not True and compute_dx is not False:
            compute_dx = check_bool(compute_dx, "compute_dx")
        if overwrite_grad is not True and overwrite_grad is not False:
            overwrite_grad = check_bool(overwrite_grad, "overwrite_grad")
        if type(grad) is not np.ndarray or grad.dtype != out.dtype or grad.shape != out.shape:
            grad = self._check_grad(grad, out)
        given = root_of(grad)
        # every cache is checked before any gradient is written; and a gradient that a layer
        # saved in forward is no scratch
        if self.check_saved(given):
            overwrite_grad = False
        last = len(self.layers) - 1
        first = self._first_param  # layers before it have no parameters: dX only if asked
        for i in range(last, -1 if compute_dx else first - 1, -1):
            grad = self.layers[i].backward(
                grad,
                compute_dx=compute_dx or i > first,
                # inner gradients are the next layer's scratch, unless a layer handed back
                # the caller's own array
                overwrite_grad=overwrite_grad or (i < last and root_of(grad) is not given),
            )
        return grad if compute_dx else None

    def predict_proba(self, x: Any, *, batch_size: int = 8192) -> Any:
        """Softmax probabilities, evaluated in large batches without backward caches."""
        return softmax(self.predict_logits(x, batch_size=batch_size), axis=-1)

    def predict_logits(self, x: Any, *, batch_size: int = 8192) -> Any:
        """Outputs for ``x`` in evaluation mode, ``batch_size`` rows at a time."""
        x = self._check_input(x)
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        xp = _backend.current().xp
        parts = [
            self.forward(x[i : i + batch_size], train=False)
            for i in range(0, x.shape[0], batch_size)
        ]
        return xp.concatenate(parts) if len(parts) > 1 else parts[0]

    def predict(self, x: Any, *, batch_size: int = 8192) -> Any:
        """Predicted class indices argmax_j logits_ij."""
        return self.predict_logits(x, batch_size=batch_size).argmax(axis=1)


def _width(shape: Shape | None) -> int | None:
    """The feature count of a known 1-D per-sample shape, else None."""
    return shape[0] if shape is not None and len(shape) == 1 else None


def _chain_shapes(layers: list[Layer]) -> tuple[Shape | None, int, Shape | None]:
    """(per-sample input shape the model requires or None, index of the layer that requires
    it, per-sample output shape or None; ``None`` entries: any size or not known); raises if
    a layer cannot take what the previous one outputs."""
    shape: Shape | None = None  # per-sample shape flowing into the next layer
    need_in, need_layer, leading = None, 0, True
    for i, layer in enumerate(layers):
        need = layer.in_shape
        if need is not None:
            if shape is not None and (
                len(need) != len(shape)
                or any(
                    n is not None and h is not None and n != h
                    for n, h in zip(need, shape, strict=True)
                )
            ):
                prev = f"layers[{i - 1}] ({layers[i - 1]!r}) outputs"
                if _width(need) is not None and _width(shape) is not None:
                    raise ValueError(
                        f"layers[{i}] ({layer!r}) takes {need[0]} features, but {prev} "
                        f"{shape[0]}: the widths of consecutive layers must chain"
                    )
                raise ValueError(
                    f"layers[{i}] ({layer!r}) takes samples of shape {format_shape(need)}, "
                    f"but {prev} samples of shape {format_shape(shape)}: the shapes of "
                    "consecutive layers must chain"
                )
            if leading and need_in is None:
                need_in, need_layer = need, i
            if shape is not None:  # the sizes known from either side
                shape = tuple(h if n is None else n for n, h in zip(need, shape, strict=True))
        try:
            shape = layer.out_shape(need if shape is None else shape)
        except ValueError as exc:
            raise ValueError(f"layers[{i}] ({layer!r}) cannot take its input: {exc}") from None
        leading = leading and layer.elementwise
    return need_in, need_layer, shape


#: Hidden activations an MLP can use; "relu" is fused into the linear kernels.
ACTIVATIONS: dict[str, type[Layer] | None] = {
    "relu": None,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
}


#: Normalisations an MLP can place between a hidden Linear and its activation.
NORMS: dict[str, type[Layer]] = {"batch": BatchNorm, "layer": LayerNorm}

#: The dropout masks' generator is seeded with ``[seed, DROPOUT_STREAM]`` (and the trainer's
#: per-epoch one with ``[seed, epoch, DROPOUT_STREAM]``): a stream of its own, apart from the
#: initialisation (``seed``) and the trainer's shuffles (``[seed, epoch]``).
DROPOUT_STREAM = 0x64726F70  # "drop"


class Classifier(Sequential):
    """A Sequential from flat (B, D) rows to class logits, built from a configuration.

    The common base of :class:`MLP` and :class:`~numdl.nn.CNN`, so that the trainer and the
    checkpoints treat every model alike: ``config`` (a JSON-serialisable dict with a
    ``"kind"``, the model's class), :attr:`n_features`, the dropout masks' generator and the
    non-trainable state (BatchNorm running averages).
    """

    #: The model's configuration, enough to rebuild it (set by the subclass).
    config: dict[str, Any]

    @property
    def n_features(self) -> int:
        """Features per input row, D (``x`` is (B, D))."""
        raise NotImplementedError

    def _seed_dropout(self, seed: Any) -> None:
        """The dropout masks from ``default_rng([seed, DROPOUT_STREAM])``, or from a seed
        drawn from ``seed`` when it is a Generator (after the initialisation)."""
        if isinstance(seed, np.random.Generator):
            self.set_dropout_generator(np.random.default_rng(seed.integers(2**63)))
        else:
            self.set_dropout_generator(np.random.default_rng([seed, DROPOUT_STREAM]))

    def set_dropout_generator(self, rng: np.random.Generator) -> None:
        """Draw every Dropout layer's masks from ``rng`` (shared, in forward order)."""
        rng = as_generator(rng, "rng")
        for layer in self.layers:
            if isinstance(layer, Dropout):
                layer.set_generator(rng)

    def running_state(self) -> dict[str, np.ndarray]:
        """The non-trainable state (BatchNorm running averages) by name, as host copies:
        ``"layer{i}.running_mean"``, ``"layer{i}.running_var"``; empty without BatchNorm."""
        return {
            f"layer{i}.{name}": value
            for i, layer in enumerate(self.layers)
            if isinstance(layer, BatchNorm)
            for name, value in layer.running_state().items()
        }

    def load_running_state(self, state: Any) -> None:
        """Load what :meth:`running_state` returns; every name and shape must match.

        Raises
        ------
        TypeError, ValueError
            If ``state`` is not such a mapping, or an entry is missing, extra or invalid
            (see :meth:`BatchNorm.load_running_state`). Nothing is written then.
        """
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict of arrays by name, got {type(state).__name__}")
        expected = set(self.running_state())
        if set(state) != expected:
            missing, extra = sorted(expected - set(state)), sorted(set(state) - expected)
            raise ValueError(
                f"state does not match the model's running statistics: missing {missing}, "
                f"unexpected {extra}"
            )
        names = ("running_mean", "running_var")
        checked = [  # every layer's entries, before any is written
            (layer, layer.check_running_state({k: state[f"layer{i}.{k}"] for k in names}))
            for i, layer in enumerate(self.layers)
            if isinstance(layer, BatchNorm)
        ]
        for layer, values in checked:
            layer.load_running_state(values)


class MLP(Classifier):
    """h_k = drop(act(norm(h_{k−1} W_k + b_k))) for the hidden layers, logits = h W_out + b_out.

    With ``sizes=(784, 512, 10)`` this is the report's MNIST model (eqs. 26–27). Without
    normalisation the ReLU is fused into the Linear layer; with ``norm`` each hidden layer is
    Linear, then :class:`~numdl.nn.BatchNorm` or :class:`~numdl.nn.LayerNorm` (the ReLU fused
    into it), then the activation layer if it is not ReLU, then :class:`~numdl.nn.Dropout`
    when ``dropout > 0``. Every layer takes a number (``layer{i}``) in that order. The Linear
    layers keep their bias before a normalisation (redundant there: its gradient is zero).

    Parameters
    ----------
    sizes : sequence of int
        Layer widths from input to output, at least two.
    activation : {"relu", "leaky_relu", "sigmoid", "tanh"}, default "relu"
    init : str, default "glorot_uniform"
    norm : {None, "batch", "layer"}, default None
        Normalisation before each hidden activation (γ, β without weight decay).
    dropout : float in [0, 1), default 0.0
        Dropout probability after each hidden activation (0: no Dropout layers).
    dtype : float32 or float64, default float32
    seed : int >= 0 or numpy Generator, default 0
        Seeds the initialisation; the dropout masks come from
        ``default_rng([seed, DROPOUT_STREAM])`` (from a Generator: from a seed drawn from
        it after the initialisation). :meth:`set_dropout_generator` replaces it.

    Raises
    ------
    TypeError
        If ``sizes`` is not a sequence of ints, ``activation``, ``init`` or ``norm`` not a
        string, ``dropout`` not a number, or ``dtype``/``seed`` are of the wrong kind.
    ValueError
        If fewer than two sizes are given, a size is < 1, ``activation``/``init``/``norm``
        are unknown, or ``dropout`` is outside [0, 1).
    """

    def __init__(
        self,
        sizes: Sequence[int],
        *,
        activation: str = "relu",
        init: str = "glorot_uniform",
        norm: str | None = None,
        dropout: float = 0.0,
        dtype: Any = np.float32,
        seed: Any = 0,
    ) -> None:
        if not is_sequence(sizes):
            raise TypeError(
                f"sizes must be a sequence of layer widths (ints), got {type(sizes).__name__}"
            )
        sizes = [check_int(s, f"sizes[{i}]", minimum=1) for i, s in enumerate(sizes)]
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least an input and an output width, got {sizes}")
        if not isinstance(activation, str):
            raise TypeError(
                f"activation must be a string, one of {sorted(ACTIVATIONS)}, "
                f"got {type(activation).__name__}"
            )
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if norm is not None and not isinstance(norm, str):
            raise TypeError(
                f"norm must be None or a string, one of {sorted(NORMS)}, got {type(norm).__name__}"
            )
        if norm is not None and norm not in NORMS:
            raise ValueError(f"norm must be None or one of {sorted(NORMS)}, got {norm!r}")
        dropout = check_in_range(dropout, "dropout", 0.0, 1.0)
        relu = activation == "relu"
        layers: list[Layer] = []
        n_linear = len(sizes) - 1
        for i, (d_in, d_out) in enumerate(itertools.pairwise(sizes)):
            hidden = i < n_linear - 1
            layers.append(Linear(d_in, d_out, relu=hidden and relu and norm is None, init=init))
            if not hidden:
                continue
            if norm is not None:
                layers.append(NORMS[norm](d_out, relu=relu))
            standalone = ACTIVATIONS[activation]
            if standalone is not None:
                layers.append(standalone())
            if dropout > 0:
                layers.append(Dropout(dropout))
        super().__init__(layers, dtype=dtype, seed=seed)
        self._seed_dropout(seed)
        self.config = {
            "kind": "mlp",
            "sizes": sizes,
            "activation": activation,
            "init": init,
            "norm": norm,
            "dropout": dropout,
            "dtype": np.dtype(dtype).name,
        }

    def __repr__(self) -> str:
        sizes = "-".join(str(s) for s in self.config["sizes"])
        extra = "" if self.config["norm"] is None else f", norm={self.config['norm']!r}"
        if self.config["dropout"]:
            extra += f", dropout={self.config['dropout']}"
        act = self.config["activation"]
        return f"MLP({sizes}, activation={act!r}{extra}, dtype={self.dtype})"

    @property
    def n_features(self) -> int:
        return self.config["sizes"][0]
