"""The training configuration: every option of a run, checked against one table of rules.

:class:`TrainConfig` checks every field on construction against :data:`DOMAINS` (numeric
ranges), :data:`CHOICES` (named options) and :data:`APPLIES_ONLY_WITH` (options that other
options make unused), plus the rules between fields; the CLI builds its argument types and
``--help`` from the same tables, so what ``--help`` says is what is enforced.
:data:`RESUME_OVERRIDES` names what may change when a run is resumed, and
:func:`check_against_dataset` the rules that need the data (batch size, shift).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from numdl.core.validation import check_int, check_real, check_representable
from numdl.data.dataset import Dataset

__all__ = [
    "APPLIES_ONLY_WITH",
    "CHOICES",
    "CNN_RECIPE",
    "DOMAINS",
    "LIST_OPTIONS",
    "RESUME_OVERRIDES",
    "Domain",
    "TrainConfig",
    "TrainConfigError",
    "check_against_dataset",
    "model_defaults",
    "plural",
]


class TrainConfigError(ValueError):
    """A configuration that cannot train (on this dataset); raised before anything is written."""


def _field_name(name: str) -> str:
    return name


def plural(n: int, noun: str) -> str:
    """``1 epoch``, ``3 epochs``: a count with its noun in the right number."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass(frozen=True)
class Domain:
    """The values a numeric training option takes: integers or finite reals, and bounds.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open``; ``high=None`` is no upper
    bound. :meth:`describe` is the rule in words (the CLI's ``--help`` shows it).
    """

    kind: type
    low: float
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        """The rule in words, e.g. ``"a number > 0"``, ``"an integer >= 1"``."""
        noun = "an integer" if self.kind is int else "a number"
        if self.high is None:
            return f"{noun} {'>' if self.low_open else '>='} {self.low:g}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{noun} in {left}{self.low:g}, {self.high:g}{right}"

    def check(self, value: Any, name: str) -> Any:
        """``value`` as an int or float; ``TypeError``/``ValueError`` naming ``name`` if not."""
        try:
            value = check_int(value, name) if self.kind is int else check_real(value, name)
        except ValueError:  # NaN, an infinity
            raise TrainConfigError(f"{name} must be {self.describe()}, got {value!r}") from None
        above = value > self.low if self.low_open else value >= self.low
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        if not (above and below):
            raise TrainConfigError(f"{name} must be {self.describe()}, got {value!r}")
        return value


#: The numeric options' domains (``hidden``, ``channels``: each entry of the list).
DOMAINS: dict[str, Domain] = {
    "hidden": Domain(int, 1),
    "channels": Domain(int, 1),
    "kernel_size": Domain(int, 1),
    "batch_size": Domain(int, 1),
    "lr": Domain(float, 0, low_open=True),
    "momentum": Domain(float, 0, 1, high_open=True),
    "weight_decay": Domain(float, 0),
    "l1": Domain(float, 0),
    "clip_grad_norm": Domain(float, 0),
    "epochs": Domain(int, 1),
    "dropout": Domain(float, 0, 1, high_open=True),
    "patience": Domain(int, 0),
    "warmup_epochs": Domain(float, 0),
    "lr_min": Domain(float, 0),
    "max_shift": Domain(int, 0),
    "seed": Domain(int, 0),
    "validation_size": Domain(int, 0),
}

#: The named options' choices.
CHOICES: dict[str, tuple[str, ...]] = {
    "model": ("mlp", "cnn"),
    "activation": ("relu", "leaky_relu", "sigmoid", "tanh"),
    "init": ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal"),
    "norm": ("none", "batch", "layer"),
    "optimizer": ("sgd", "momentum", "nesterov", "adamw", "adam", "rmsprop", "adagrad"),
    "schedule": ("constant", "cosine"),
    "augment": ("none", "shift"),
    "dtype": ("float32", "float64"),
}

#: Options that only some settings of another option use: option -> (that option, the
#: values under which it is used). Anything else would be silently ignored, so a value other
#: than the default there is an error (the CLI also refuses one given explicitly).
APPLIES_ONLY_WITH: dict[str, tuple[str, tuple[str, ...]]] = {
    "momentum": ("optimizer", ("momentum", "nesterov")),
    "warmup_epochs": ("schedule", ("cosine",)),
    "lr_min": ("schedule", ("cosine",)),
    "max_shift": ("augment", ("shift",)),
    "activation": ("model", ("mlp",)),
    "norm": ("model", ("mlp",)),
    "channels": ("model", ("cnn",)),
    "kernel_size": ("model", ("cnn",)),
}

#: The list options (one or more entries, each checked against its :data:`DOMAINS` entry).
LIST_OPTIONS: tuple[str, ...] = ("hidden", "channels")

#: The CNN's default training recipe: what ``--model cnn`` changes about the defaults (the
#: rest are Table 1's). Aimed at >= 99.3 % MNIST test accuracy: a 16-32 channel 5 x 5 CNN
#: with a 128-unit dense head (He initialisation), momentum SGD with L2 weight decay 5e-4,
#: batches of 128, a cosine schedule from 0.05 to 0 over 15 epochs, and random shifts of up
#: to 2 pixels.
CNN_RECIPE: dict[str, Any] = {
    "hidden": [128],
    "init": "he_uniform",
    "batch_size": 128,
    "lr": 0.05,
    "weight_decay": 5e-4,
    "epochs": 15,
    "schedule": "cosine",
    "augment": "shift",
    "max_shift": 2,
}

#: What ``resume`` may change about a run: how long it trains (``epochs``, not below the
#: epochs already completed; constant schedule only, since a cosine schedule is planned
#: over the run's length) and where its data are (``data_dir``).
RESUME_OVERRIDES: tuple[str, ...] = ("epochs", "data_dir")


@dataclass
class TrainConfig:
    """Hyperparameters; the defaults are the textbook report's Table 1.

    Every field is checked on construction (:data:`DOMAINS`, :data:`CHOICES`,
    :data:`APPLIES_ONLY_WITH`, and the rules between fields in :meth:`check`), so a
    configuration that exists can train. ``dataset`` names the data (``"mnist"``,
    ``"fashion-mnist"``, ``"kmnist"``, ``"synthetic"``, or a directory's name) and
    ``data_dir`` is the absolute directory its files were read from (``None``: the default
    search of :func:`numdl.data.resolve_data_dir`; always ``None`` for synthetic data).
    """

    hidden: list[int] = field(default_factory=lambda: [512])
    activation: str = "relu"
    init: str = "glorot_uniform"
    norm: str = "none"  # normalisation before each hidden activation: none, batch, layer
    dropout: float = 0.0  # dropout probability after each hidden activation (0: off)
    batch_size: int = 256
    optimizer: str = "momentum"
    lr: float = 0.2
    momentum: float = 0.9
    weight_decay: float = 1e-4
    l1: float = 0.0  # λ of the L1 penalty λ‖w‖₁ (0: off)
    clip_grad_norm: float = 0.0  # largest global gradient norm (0: no clipping)
    epochs: int = 20
    patience: int = 0
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    lr_min: float = 0.0
    augment: str = "none"
    max_shift: int = 2
    seed: int = 0
    dtype: str = "float32"
    dataset: str = "mnist"
    validation_size: int = 5000
    model: str = "mlp"  # mlp (Table 1's) or cnn (defaults: CNN_RECIPE, via from_dict)
    channels: list[int] = field(default_factory=lambda: [16, 32])  # cnn: filters per block
    kernel_size: int = 5  # cnn: side of the square convolution kernels
    data_dir: str | None = None

    def __post_init__(self) -> None:
        for name, value in self.check(dataclasses.asdict(self)).items():
            setattr(self, name, value)

    @classmethod
    def check(
        cls, values: dict[str, Any], spell: Callable[[str], str] = _field_name
    ) -> dict[str, Any]:
        """Check a full set of field values; return them normalised (ints, floats, lists).

        ``spell`` turns a field name into the name the caller's user knows (the CLI passes
        ``batch_size -> --batch-size``), so every message names what the user typed.

        Raises
        ------
        TypeError
            A value of the wrong kind (a string for a number, a float for an integer).
        TrainConfigError
            A value outside its domain or choices, an option that the other options make
            unused (:data:`APPLIES_ONLY_WITH`) set to other than its default, a nesterov
            optimiser without momentum, a warm-up not shorter than the run, ``lr_min`` above
            ``lr``, or a rate that is not representable in ``dtype``.
        """
        out = dict(values)
        for name in LIST_OPTIONS:
            entries = values[name]
            what = "layer widths" if name == "hidden" else "numbers of filters"
            if (
                isinstance(entries, (str, bytes))
                or not isinstance(entries, (list, tuple))
                or not entries
            ):
                raise TrainConfigError(
                    f"{spell(name)} must list one or more {what}, got {entries!r}"
                )
            out[name] = [DOMAINS[name].check(h, spell(name)) for h in entries]
        for name, domain in DOMAINS.items():
            if name not in LIST_OPTIONS:
                out[name] = domain.check(values[name], spell(name))
        for name, choices in CHOICES.items():
            if values[name] not in choices:
                raise TrainConfigError(
                    f"{spell(name)} must be one of {', '.join(choices)}, got {values[name]!r}"
                )
        if not isinstance(values["dataset"], str):
            raise TypeError(f"{spell('dataset')} must be a string, got {values['dataset']!r}")
        if not values["dataset"]:
            raise TrainConfigError(f"{spell('dataset')} must name the data, got ''")
        if values["data_dir"] is not None and not isinstance(values["data_dir"], str):
            raise TypeError(
                f"{spell('data_dir')} must be a string or None, got {values['data_dir']!r}"
            )
        for name, (other, used_with) in APPLIES_ONLY_WITH.items():
            if out[other] not in used_with and out[name] != _DEFAULTS[name]:
                raise TrainConfigError(
                    f"{spell(name)} applies only with {spell(other)} {' or '.join(used_with)}, "
                    f"not {out[other]} (got {spell(name)} {out[name]})"
                )
        if out["optimizer"] == "nesterov" and out["momentum"] == 0:
            raise TrainConfigError(f"{spell('momentum')} must be > 0 for nesterov, got 0")
        if out["schedule"] == "cosine":
            if out["warmup_epochs"] >= out["epochs"]:
                raise TrainConfigError(
                    f"{spell('warmup_epochs')} must be less than {spell('epochs')} "
                    f"({out['epochs']}), got {out['warmup_epochs']}"
                )
            if out["lr_min"] > out["lr"]:
                raise TrainConfigError(
                    f"{spell('lr_min')} must be at most {spell('lr')} ({out['lr']}), "
                    f"got {out['lr_min']}"
                )
        for name in ("lr", "weight_decay", "lr_min", "l1", "clip_grad_norm"):
            try:
                check_representable(out[name], spell(name), out["dtype"], nonzero=name != "lr_min")
            except ValueError as exc:
                raise TrainConfigError(str(exc)) from None
        return out

    @classmethod
    def from_dict(
        cls, values: dict[str, Any], spell: Callable[[str], str] = _field_name
    ) -> TrainConfig:
        """A configuration from (possibly partial) field values, e.g. a run's ``config.json``.

        Missing fields take their defaults, those of :func:`model_defaults` for the model
        (``model`` cnn: :data:`CNN_RECIPE`); ``spell`` as in :meth:`check`.

        Raises
        ------
        TypeError, TrainConfigError
            As :meth:`check`; also an unknown field (``TrainConfigError``).
        """
        unknown = set(values) - set(_DEFAULTS)
        if unknown:
            raise TrainConfigError(f"unknown training options {sorted(unknown)}")
        merged = {**model_defaults(values.get("model", _DEFAULTS["model"])), **values}
        return cls(**cls.check(merged, spell))


#: Every field's default.
_DEFAULTS: dict[str, Any] = {
    f.name: f.default_factory() if f.default is dataclasses.MISSING else f.default
    for f in dataclasses.fields(TrainConfig)
}


def model_defaults(model: Any) -> dict[str, Any]:
    """Every field's default for ``model`` (a fresh copy): Table 1's for ``"mlp"``, with
    :data:`CNN_RECIPE` for ``"cnn"``; an unknown model gets Table 1's (and is refused by
    :meth:`TrainConfig.check`)."""
    recipe = {**CNN_RECIPE, "model": "cnn"} if model == "cnn" else {}
    return copy.deepcopy({**_DEFAULTS, **recipe})


def check_against_dataset(
    config: TrainConfig, dataset: Dataset, spell: Callable[[str], str] = _field_name
) -> None:
    """Check the options that depend on the data: the batch fits the training split, a shift
    fits the images, early stopping has a validation split.

    Raises
    ------
    TrainConfigError
        ``batch_size`` exceeds the training images, ``max_shift`` (with ``augment
        shift``) is not smaller than the images, ``patience`` is set without validation
        images, or ``norm`` batch meets a training batch of one image (``batch_size`` 1, or
        a last batch of 1).
    """
    if config.patience and not len(dataset.val):
        raise TrainConfigError(
            f"{spell('patience')} needs a validation split to watch, but the dataset has no "
            f"validation images ({spell('validation_size')} 0)"
        )
    n = len(dataset.train)
    last = n % config.batch_size
    if config.norm == "batch" and (config.batch_size < 2 or last == 1):
        raise TrainConfigError(
            f"{spell('norm')} batch needs at least 2 images in every training batch (batch "
            f"statistics of one image are meaningless), but {spell('batch_size')} "
            f"{config.batch_size} over the {plural(n, 'image')} of the training split leaves "
            f"a batch of 1; choose another {spell('batch_size')}"
        )
    if config.batch_size > n:
        raise TrainConfigError(
            f"{spell('batch_size')} must be at most the {plural(n, 'image')} of the training "
            f"split, got {config.batch_size}"
        )
    if config.augment == "shift" and config.max_shift >= min(dataset.image_shape):
        rows, cols = dataset.image_shape
        raise TrainConfigError(
            f"{spell('max_shift')} must be smaller than the {rows} x {cols} images, "
            f"got {config.max_shift}"
        )
