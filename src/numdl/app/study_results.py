"""A study's results table: one row per run, as CSV (loadable) and Markdown.

``results.csv`` holds ``run``, the axes (their values as :func:`~numdl.app.study.format_value`
writes them) and :data:`RESULT_FIELDS`; :func:`load_results` reads it back typed.
``results.md`` adds a summary per *setting*, a point of the grid but for the seed
(:func:`settings`): mean ± sample standard deviation and range over its seeds.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from numdl.app.study import StudySpec, format_value, parse_value
from numdl.data.dataset import atomic_write

__all__ = [
    "RESULT_FIELDS",
    "RunResult",
    "load_results",
    "settings",
    "write_markdown",
    "write_results",
]

#: The columns of ``results.csv`` after the axes.
RESULT_FIELDS: tuple[str, ...] = (
    "epochs",
    "val_acc_final",
    "val_acc_best",
    "test_acc_final",
    "test_acc_best",
    "seconds",
    "diverged",
    "run_dir",
    "note",
)


@dataclass
class RunResult:
    """One run's outcome (a row of ``results.csv``); accuracies are fractions, NaN if none.

    ``test_acc_best`` is the best-by-validation checkpoint's test accuracy (the figure
    ``numdl train`` reports), ``test_acc_final`` the final model's (NaN when it diverged);
    ``epochs`` counts the completed epochs; ``note`` says how a diverged run ended.
    """

    index: int
    axes: dict[str, Any]
    epochs: int
    val_acc_final: float
    val_acc_best: float
    test_acc_final: float
    test_acc_best: float
    seconds: float
    diverged: bool
    run_dir: str
    note: str = ""
    history: list[dict[str, float]] = field(default_factory=list)


def write_results(results: Sequence[RunResult], out_dir: Path, axes: Sequence[str]) -> Path:
    """Write ``results.csv``: ``run``, the axes, :data:`RESULT_FIELDS` (atomically)."""
    buffer: list[list[str]] = [["run", *axes, *RESULT_FIELDS]]
    for r in results:
        row = [str(r.index), *(format_value(r.axes[a]) for a in axes)]
        row += [format_value(getattr(r, name)) for name in RESULT_FIELDS]
        buffer.append(row)
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(buffer)
    path = Path(out_dir) / "results.csv"
    with atomic_write(path) as handle:
        handle.write(text.getvalue().encode())
    return path


def load_results(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a ``results.csv`` (or of the study directory holding it), typed.

    Axis values come back as the options' values (:func:`parse_value`), accuracies and
    seconds as floats (NaN where there is none), ``run`` and ``epochs`` as ints,
    ``diverged`` as a bool.
    """
    path = Path(path)
    path = path / "results.csv" if path.is_dir() else path
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    numbers = {"epochs": int, "run": int, "diverged": lambda t: t == "true"}
    out = []
    for row in rows:
        typed: dict[str, Any] = {}
        for key, text in row.items():
            if key in numbers:
                typed[key] = numbers[key](text)
            elif key in ("run_dir", "note"):
                typed[key] = text
            elif key in RESULT_FIELDS:
                typed[key] = float(text)
            else:
                typed[key] = parse_value(key, text)
        out.append(typed)
    return out


def settings(
    results: Sequence[RunResult], axes: Sequence[str]
) -> dict[tuple[str, ...], list[RunResult]]:
    """The runs grouped by setting (their axis values but the seed), in grid order."""
    groups: dict[tuple[str, ...], list[RunResult]] = {}
    for r in results:
        key = tuple(f"{a}={format_value(r.axes[a])}" for a in axes if a != "seed")
        groups.setdefault(key, []).append(r)
    return groups


def _percent(values: Sequence[float]) -> str:
    good = [v for v in values if not math.isnan(v)]
    if not good:
        return "–"
    mean = sum(good) / len(good)
    if len(good) == 1:
        return f"{100 * mean:.2f}"
    sd = math.sqrt(sum((v - mean) ** 2 for v in good) / (len(good) - 1))
    return f"{100 * mean:.2f} ± {100 * sd:.2f} ({100 * min(good):.2f}–{100 * max(good):.2f})"


def write_markdown(results: Sequence[RunResult], path: Path, spec: StudySpec) -> Path:
    """Write ``results.md``: a summary per setting, then one row per run."""
    axes = list(spec.axes)
    fixed = ", ".join(f"{k} {format_value(v)}" for k, v in spec.fixed.items()) or "defaults"
    lines = [f"# Study {spec.name}", ""]
    lines += [spec.description, ""] if spec.description else []
    lines += [f"Fixed: {fixed}" + (f"; width {spec.width}" if spec.width else "") + ".", ""]
    lines += [
        "Accuracies in %: mean ± sample standard deviation (min–max) over the runs that did "
        "not diverge; test accuracy of the final model.",
        "",
        "| setting | runs | diverged | final val acc | final test acc | best-checkpoint test acc |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key, group in settings(results, axes).items():
        lines.append(
            f"| {', '.join(key) or 'all'} | {len(group)} | {sum(r.diverged for r in group)} | "
            f"{_percent([r.val_acc_final for r in group])} | "
            f"{_percent([r.test_acc_final for r in group])} | "
            f"{_percent([r.test_acc_best for r in group])} |"
        )
    lines += [
        "",
        "| run | " + " | ".join(axes) + " | epochs | val acc final / best | "
        "test acc final / best | seconds | diverged |",
    ]
    lines.append("| --- " * (len(axes) + 6) + "|")
    for r in results:
        values = " | ".join(format_value(r.axes[a]) for a in axes)
        lines.append(
            f"| {r.index} | {values} | {r.epochs} | {_pct(r.val_acc_final)} / "
            f"{_pct(r.val_acc_best)} | {_pct(r.test_acc_final)} / {_pct(r.test_acc_best)} | "
            f"{r.seconds:.1f} | {'yes: ' + r.note if r.diverged else 'no'} |"
        )
    with atomic_write(path) as handle:
        handle.write(("\n".join(lines) + "\n").encode())
    return path


def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.2f}"
