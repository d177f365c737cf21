"""Gathering a mini-batch: the rows of the training set a step takes (textbook ch. 5.9,
minibatch stochastic gradient descent, samples drawn by a random permutation)."""

from __future__ import annotations

import numpy as np


def take_rows(x: np.ndarray, index: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out_i = x_{index_i} for every i: the batch of samples ``index`` (a copy, bit for bit).

    Shapes: x (N, D), index (B,) int64 with values in [0, N), out (B, D). Returns ``out``.
    """
    return np.take(x, index, axis=0, out=out)
