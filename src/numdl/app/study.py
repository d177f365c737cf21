"""Studies: one training per point of a grid of options — the specification and its grid.

A study (:class:`StudySpec`) names **axes** — a training option (any field of
:class:`~numdl.app.config.TrainConfig`) and the values it takes, plus ``depth``, the number
of hidden layers of width ``width`` (it sets ``hidden`` to ``[width] * depth``) — and
**fixed** options shared by every run (``depth`` too). Its runs are the Cartesian
product of the axes, the last axis varying fastest (:func:`expand_grid`); every run's
configuration is checked before any run starts. A fixed option that an axis value makes
unused (``momentum`` on the ``sgd`` runs of an ``optimizer`` axis) is left at its default
for those runs only. A specification is a JSON file (``studies/<name>.json``,
:meth:`StudySpec.from_file`) or the options of ``numdl study`` (:mod:`numdl.app.study_cli`).

The rest of a study is in three modules: :mod:`numdl.app.study_runner` runs the grid
(:func:`~numdl.app.study_runner.run_study`, on a process pool or any other executor),
:mod:`numdl.app.study_results` holds the results table, :mod:`numdl.app.study_plots`
draws the figures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from numdl.app.config import APPLIES_ONLY_WITH, DOMAINS, TrainConfig
from numdl.core.validation import check_int

__all__ = [
    "DEPTH",
    "OPTIONS",
    "Run",
    "StudyError",
    "StudySpec",
    "expand_grid",
    "format_value",
    "parse_value",
]

#: The training options an axis or a fixed option may set, with their defaults.
OPTIONS: dict[str, Any] = dataclasses.asdict(TrainConfig())
#: An axis that is not a training option: the number of hidden layers, each ``width`` wide.
DEPTH = "depth"
_SPEC_KEYS = ("name", "description", "axes", "fixed", "width")


class StudyError(ValueError):
    """A study that cannot run: a bad axis, option or value; raised before anything runs."""


# ------------------------------------------------------------------------ option values
def format_value(value: Any) -> str:
    """The text form of an option's value: ``[128, 128]`` -> ``128-128``, ``True`` -> ``true``."""
    if isinstance(value, (list, tuple)):
        return "-".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    return str(value)


def parse_value(name: str, text: str) -> Any:
    """An option's value from its text form (:func:`format_value`'s inverse); checked later.

    Raises
    ------
    StudyError
        ``name`` is neither a training option nor ``depth``, or ``text`` is not of the
        option's kind (the message names both).
    """
    if name != DEPTH and name not in OPTIONS:
        raise StudyError(_unknown(name, "axis or option"))
    default = 1 if name == DEPTH else OPTIONS[name]
    kind = DOMAINS[name].kind if name in DOMAINS and name != "hidden" else type(default)
    try:
        if name == "hidden":
            return [int(width) for width in text.split("-")]
        if kind is bool:
            return {"true": True, "false": False}[text.lower()]
        if default is None:
            return None if text.lower() == "none" else _number_or_text(text)
        return kind(text) if kind in (int, float) else text
    except (KeyError, ValueError):
        expected = {"hidden": "widths such as 128-128", DEPTH: "an integer"}.get(
            name,
            {bool: "true or false", int: "an integer", float: "a number"}.get(kind, "a value"),
        )
        raise StudyError(f"{name}: expected {expected}, got {text!r}") from None


def _number_or_text(text: str) -> Any:
    for kind in (int, float):
        with contextlib.suppress(ValueError):
            return kind(text)
    return text


def _unknown(name: str, what: str) -> str:
    known = ", ".join(OPTIONS) + (f"; or {DEPTH}" if "axis" in what else "")
    return f"{what} {name!r} is not a training option (one of {known})"


# ----------------------------------------------------------------------------- the grid
def expand_grid(axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, the last axis varying fastest.

    ``expand_grid({"a": [1, 2], "b": ["x", "y"]})`` is ``[{a: 1, b: x}, {a: 1, b: y},
    {a: 2, b: x}, {a: 2, b: y}]``; no axes give one empty point.
    """
    names = list(axes)
    return [dict(zip(names, point, strict=True)) for point in itertools.product(*axes.values())]


def _label(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in point.items()) or "one run"


@dataclass(frozen=True)
class Run:
    """One point of a study's grid: its index, axis values and checked configuration."""

    index: int
    axes: dict[str, Any]
    config: TrainConfig

    @property
    def label(self) -> str:
        """The axis values in words, e.g. ``norm=batch, seed=1``."""
        return _label(self.axes)

    @property
    def name(self) -> str:
        """The run directory's name, e.g. ``003-norm=batch-seed=1``."""
        point = "-".join(f"{k}={format_value(v)}" for k, v in self.axes.items())
        return re.sub(r"[^A-Za-z0-9_.=+-]", "_", f"{self.index:03d}-{point}".rstrip("-"))


@dataclass(frozen=True)
class StudySpec:
    """A study: named axes over training options, options fixed for every run.

    Parameters
    ----------
    name : str
        What the study is called (titles, the default directory name).
    axes : mapping of str to sequence
        Option name -> the values it takes (at least one, no repeats), in grid order. A
        name is a :class:`~numdl.app.config.TrainConfig` field, or ``depth`` (hidden layers;
        needs ``width``).
    fixed : mapping of str to value, optional
        Training options (or ``depth``) shared by every run (none also an axis).
    width : int, optional
        The hidden layers' width under ``depth`` (an axis or fixed; only then).
    description : str, optional
        What the study shows (kept in ``study.json``).

    Raises
    ------
    StudyError
        A name that is no training option, an axis without values or with repeats, an
        option both fixed and an axis, ``depth`` without ``width`` (or with a ``hidden``),
        or any run's configuration that :class:`~numdl.app.config.TrainConfig` refuses
        (the message names the run's axis values and the option).
    """

    name: str
    axes: dict[str, list[Any]]
    fixed: dict[str, Any] = field(default_factory=dict)
    width: int | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise StudyError(f"name must be a non-empty string, got {self.name!r}")
        if not isinstance(self.description, str):
            raise StudyError(f"description must be a string, got {self.description!r}")
        if not isinstance(self.axes, Mapping) or not isinstance(self.fixed, Mapping):
            raise StudyError("axes and fixed must map option names to values")
        for name, values in self.axes.items():
            if name != DEPTH and name not in OPTIONS:
                raise StudyError(_unknown(name, "axis"))
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise StudyError(f"axis {name!r} must list one or more values, got {values!r}")
            repeated = [format_value(v) for v in values]
            if len(set(repeated)) != len(repeated):
                raise StudyError(f"axis {name!r} repeats a value: {repeated}")
        for name in self.fixed:
            if name != DEPTH and name not in OPTIONS:
                raise StudyError(_unknown(name, "fixed option"))
            if name in self.axes:
                raise StudyError(f"{name!r} is both an axis and a fixed option; give it once")
        if DEPTH in self.axes or DEPTH in self.fixed:
            if "hidden" in self.axes or "hidden" in self.fixed:
                raise StudyError("depth sets hidden ([width] * depth); do not give hidden")
            if self.width is None:
                raise StudyError("depth needs width, the hidden layers' width")
            try:
                check_int(self.width, "width", minimum=1)
                for depth in self.axes.get(DEPTH, [self.fixed.get(DEPTH)]):
                    check_int(depth, "depth", minimum=1)
            except (TypeError, ValueError) as exc:
                raise StudyError(str(exc)) from None
        elif self.width is not None:
            raise StudyError(f"width applies only with depth, got width {self.width}")
        object.__setattr__(self, "axes", {k: list(v) for k, v in self.axes.items()})
        object.__setattr__(self, "fixed", dict(self.fixed))
        self.runs()  # every run's configuration is checked now

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> StudySpec:
        """A specification from its JSON form (``name``, ``axes``, and optionally
        ``fixed``, ``width``, ``description``); an unknown key is a :class:`StudyError`."""
        if not isinstance(values, Mapping):
            raise StudyError(f"a study must be a JSON object, got {type(values).__name__}")
        unknown = sorted(set(values) - set(_SPEC_KEYS))
        if unknown:
            raise StudyError(f"unknown study keys {unknown} (known: {', '.join(_SPEC_KEYS)})")
        for key in ("name", "axes"):
            if key not in values:
                raise StudyError(f"a study needs {key!r}")
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> StudySpec:
        """The specification in a JSON file (e.g. ``studies/deep-sigmoid.json``)."""
        try:
            values = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
            raise StudyError(f"cannot read the study {path}: {exc}") from None
        try:
            return cls.from_dict(values)
        except (StudyError, TypeError) as exc:
            raise StudyError(f"{path}: {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what :meth:`from_dict` reads)."""
        out = {"name": self.name, "description": self.description, "axes": self.axes}
        out.update(fixed=self.fixed, **({"width": self.width} if self.width is not None else {}))
        return out

    def runs(self) -> list[Run]:
        """The grid's runs in order, each configuration checked (see the class)."""
        runs = []
        for index, point in enumerate(expand_grid(self.axes)):
            values = {**self.fixed, **point}
            if DEPTH in values:
                values["hidden"] = [self.width] * values.pop(DEPTH)
            for name, (other, used_with) in APPLIES_ONLY_WITH.items():
                if name in self.fixed and other in self.axes and values[other] not in used_with:
                    del values[name]  # unused by this run: left at its default
            try:
                config = TrainConfig.from_dict(values)
            except (TypeError, ValueError) as exc:
                raise StudyError(f"run {index} ({_label(point)}): {exc}") from None
            runs.append(Run(index, point, config))
        return runs
