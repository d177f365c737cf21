"""Timing: :class:`Timing` (one sample per round), :func:`time_interleaved` (every
implementation of one item timed in turn, round after round, in a seeded shuffled order, after
a warm-up), the helpers it shares with the MNIST epoch (:func:`gc_off`, :func:`round_order`)
and :func:`log`, the harness's progress messages on stderr (stdout carries the report).
"""

from __future__ import annotations

import contextlib
import gc
import math
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Timing:
    """Seconds per call: one sample per round (each the mean of ``number`` calls)."""

    samples: list[float]
    number: int

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def to_json(self) -> dict[str, Any]:
        return {
            "median_s": self.median,
            "min_s": self.min,
            "max_s": self.max,
            "number": self.number,
            "samples_s": self.samples,
        }


@contextlib.contextmanager
def gc_off() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def round_order(names: list[str], round_index: int) -> list[str]:
    """A seeded shuffle per round: no implementation always follows the same other one
    (another library's threads may still be spinning when the next one starts)."""
    order = np.random.default_rng([12345, round_index]).permutation(len(names))
    return [names[i] for i in order]


def time_interleaved(
    fns: dict[str, Callable[[], Any]], repeats: int, min_sample: float = 0.05
) -> dict[str, Timing]:
    """Time each callable ``repeats`` times, interleaved round by round, after a warm-up.

    Each sample is the mean over ``number`` back-to-back calls, ``number`` chosen per
    callable (from its warm-up call) so that a sample lasts at least ``min_sample`` s; a
    short callable gets one untimed call before each sample. The order is shuffled (seeded)
    every round.
    """
    names = list(fns)
    numbers: dict[str, int] = {}
    for name in names:
        fns[name]()  # warm-up: compilation, caches, first touch
        t0 = time.perf_counter()
        fns[name]()
        once = time.perf_counter() - t0
        numbers[name] = max(1, min(100_000, math.ceil(min_sample / max(once, 1e-9))))
    samples: dict[str, list[float]] = {name: [] for name in names}
    with gc_off():
        for r in range(repeats):
            for name in round_order(names, r):
                fn, number = fns[name], numbers[name]
                if number > 1:
                    fn()  # untimed: wakes this library's threads after another's ran
                t0 = time.perf_counter()
                for _ in range(number):
                    fn()
                samples[name].append((time.perf_counter() - t0) / number)
    return {name: Timing(samples[name], numbers[name]) for name in names}
