"""The decision boundary of a classifier of points in the plane, drawn (seed 001's picture).

:func:`decision_grid` evaluates the predicted class ŷ(x) = argmax_j f_j(x) on a regular grid
covering the data; :func:`plot_decision_boundary` fills each grid cell with the colour of its
predicted class and draws the points on top, coloured by their true class, so that a
misclassified point is a dot of one colour on a region of another. ``numdl boundary`` draws
it for a checkpoint, and ``numdl train`` writes ``boundary.png`` for two-dimensional data.
Plotting needs matplotlib (the optional extra ``plot``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from numdl.core import backend as _backend
from numdl.core.backend import to_numpy
from numdl.core.validation import as_array, check_int, check_labels, check_positive, check_shape

__all__ = ["decision_grid", "plot_decision_boundary"]


def _check_model(model: Any) -> int:
    """The number of classes of a model of two inputs (``TypeError``/``ValueError`` if not)."""
    if not callable(getattr(model, "predict", None)) or not hasattr(model, "in_width"):
        raise TypeError(
            f"model must be a numdl model (with in_width and predict), got {type(model).__name__}"
        )
    if model.in_width != 2:
        raise ValueError(
            f"model must take two inputs (points in the plane), it takes {model.in_width}"
        )
    return int(model.out_width(2))


def _check_points(X: Any) -> np.ndarray:
    X = as_array(to_numpy(X), "X")
    if X.dtype.kind not in "fiu":
        raise TypeError(f"X must hold real numbers, got dtype {X.dtype}")
    check_shape(X, "X", (None, 2))
    if X.shape[0] == 0:
        raise ValueError("X must hold at least one point, got 0 rows")
    if not np.isfinite(X).all():
        raise ValueError("X must be finite, got NaN or infinite coordinates")
    return X


def decision_grid(
    model: Any, X: Any, *, resolution: int = 200, margin: float = 0.1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The predicted class ŷ = argmax_j f_j(x) at each point of a grid covering ``X``.

    The grid spans the bounding box of ``X`` widened by ``margin`` times its extent on every
    side (an axis on which all points agree gets ±0.5 around them), with ``resolution``
    points along each axis; it is evaluated in one call of ``model.predict`` on the active
    backend, in the model's dtype.

    Parameters
    ----------
    model : Sequential
        A trained model with two inputs (e.g. an :class:`~numdl.nn.models.MLP` of
        ``sizes=(2, ..., k)``).
    X : array_like, shape (N, 2)
        The points the grid must cover (finite; ``N >= 1``).
    resolution : int, default 200
        Grid points along each axis, ``>= 2``.
    margin : float, default 0.1
        Fraction of the data's extent added on each side, ``>= 0``.

    Returns
    -------
    xs, ys : numpy.ndarray, shape (resolution,)
        The grid's coordinates along the first and the second axis.
    classes : numpy.ndarray of int64, shape (resolution, resolution)
        ``classes[i, j]`` is the class predicted at ``(xs[j], ys[i])``.

    Raises
    ------
    TypeError
        ``model`` is not a numdl model, ``X`` is not numeric, ``resolution`` is not an
        integer or ``margin`` not a real number.
    ValueError
        ``model`` does not take two inputs, ``X`` is not ``(N, 2)`` with ``N >= 1`` or not
        finite, ``resolution < 2`` or ``margin < 0``.
    """
    _check_model(model)
    X = _check_points(X)
    resolution = check_int(resolution, "resolution", minimum=2)
    margin = check_positive(margin, "margin", allow_zero=True)
    low, high = X.min(axis=0).astype(np.float64), X.max(axis=0).astype(np.float64)
    pad = np.where(high > low, margin * (high - low), 0.5)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)  # gx[i, j] = xs[j], gy[i, j] = ys[i]
    xp = _backend.current().xp
    points = xp.asarray(np.stack([gx.ravel(), gy.ravel()], axis=1), dtype=model.dtype)
    classes = np.asarray(to_numpy(model.predict(points)), dtype=np.int64)
    return xs, ys, classes.reshape(resolution, resolution)


def plot_decision_boundary(
    model: Any,
    X: Any,
    y: Any,
    path: str | Path,
    *,
    resolution: int = 200,
    margin: float = 0.1,
    title: str = "",
    size: tuple[float, float] = (6.0, 5.0),
    dpi: int = 100,
) -> Path:
    """Fill the plane with the predicted class (:func:`decision_grid`), draw ``X`` on top.

    Each class has one colour in both layers: the regions are the predicted classes, the
    dots the true ones (black edges). The title line below ``title`` gives the accuracy on
    the points drawn. The PNG is ``size`` inches at ``dpi``, i.e. ``size[0] * dpi`` by
    ``size[1] * dpi`` pixels.

    Parameters
    ----------
    model, X, resolution, margin
        As :func:`decision_grid`.
    y : array_like of int, shape (N,)
        The true class of each point, in ``[0, k)`` for a model of ``k`` outputs.
    path : str or os.PathLike
        Where the PNG goes (its directory must exist).
    title : str, optional
        First title line (e.g. the dataset and model).
    size : (float, float), default (6, 5)
        Figure width and height in inches, each > 0.
    dpi : int, default 100
        Pixels per inch, ``>= 10``.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ImportError
        matplotlib is not installed (``pip install "numdl[plot]"``).
    TypeError, ValueError
        As :func:`decision_grid`; also ``y`` is not ``(N,)`` integer labels in ``[0, k)``,
        ``title`` not a string, ``size`` not two positive numbers or ``dpi`` below 10.
    """
    n_classes = _check_model(model)
    X = _check_points(X)
    y = check_labels(to_numpy(y), "y", X.shape[0], n_classes)
    if not isinstance(title, str):
        raise TypeError(f"title must be a string, got {type(title).__name__}")
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise TypeError(f"size must be (width, height) in inches, got {size!r}")
    width, height = (check_positive(s, f"size[{i}]") for i, s in enumerate(size))
    dpi = check_int(dpi, "dpi", minimum=10)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import BoundaryNorm, ListedColormap
    except ImportError as exc:
        raise ImportError('plotting needs matplotlib: pip install "numdl[plot]"') from exc
    xs, ys, classes = decision_grid(model, X, resolution=resolution, margin=margin)
    xp = _backend.current().xp
    predicted = to_numpy(model.predict(xp.asarray(X, dtype=model.dtype)))
    accuracy = float(np.mean(predicted == y))

    palette = plt.get_cmap("tab10" if n_classes <= 10 else "tab20")
    cmap = ListedColormap([palette(c % palette.N) for c in range(n_classes)])
    norm = BoundaryNorm(np.arange(n_classes + 1) - 0.5, n_classes)
    fig, ax = plt.subplots(figsize=(width, height), constrained_layout=True)
    ax.contourf(xs, ys, classes, levels=norm.boundaries, cmap=cmap, norm=norm, alpha=0.35)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, norm=norm, s=12, edgecolors="k", linewidths=0.3)
    ax.set(xlabel="$x_1$", ylabel="$x_2$", xlim=(xs[0], xs[-1]), ylim=(ys[0], ys[-1]))
    caption = f"decision regions; accuracy {100 * accuracy:.1f}% on these {X.shape[0]} points"
    ax.set_title(f"{title}\n{caption}" if title else caption, fontsize=10)
    path = Path(path)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
