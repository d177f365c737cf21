"""Validated normalisation ops (reference: :mod:`numdl.core.hotpaths.normalization`)."""

from __future__ import annotations

from typing import Any

from numdl.core import backend as _backend
from numdl.core.ops._buffers import check_disjoint as _check_disjoint
from numdl.core.ops._buffers import contiguous as _contiguous
from numdl.core.ops._buffers import out_buffer as _out_buffer
from numdl.core.validation import (
    check_bool,
    check_float_array,
    check_positive,
    check_representable,
    check_same_dtype,
    check_shape,
    check_writeable_contiguous,
)

__all__ = ["batchnorm_backward", "batchnorm_forward"]


#: ε in this range is a normal number of float32 and float64: no cast can fail (this check
#: runs on every training step, so the exact test runs only outside it).
_SAFE_EPS = (1e-30, 1e30)


def _check_eps(eps: Any, dtype: Any) -> float:
    """ε > 0, and still > 0 (and finite) in the arrays' dtype, in which the kernels compute."""
    eps = check_positive(eps, "eps")
    if not _SAFE_EPS[0] <= eps <= _SAFE_EPS[1]:
        check_representable(eps, "eps", dtype, nonzero=True)
    return eps


def _check_features(x: Any, named: dict[str, Any]) -> dict[str, Any]:
    """Each of ``named`` as a (F,) array of ``x``'s dtype, F = x.shape[1]."""
    checked = {}
    for name, arr in named.items():
        arr = check_float_array(arr, name, ndim=1)
        check_same_dtype(arr, name, x, "x")
        check_shape(arr, name, (x.shape[1],))
        checked[name] = arr
    return checked


def batchnorm_forward(
    x: Any,
    gamma: Any,
    beta: Any,
    *,
    eps: float = 1e-5,
    relu: bool = False,
    out: Any = None,
    mean: Any = None,
    var: Any = None,
) -> tuple[Any, Any, Any]:
    """Batch normalisation in training mode (Ioffe & Szegedy 2015, Alg. 1), then ReLU.

    μ = (1/B) Σ_i x_i, σ² = (1/B) Σ_i (x_i − μ)², y = γ (x − μ)/√(σ² + ε) + β, per feature.

    Parameters
    ----------
    x : array of shape (B, F), float32 or float64, B >= 1
    gamma, beta : arrays of shape (F,), same dtype
    eps : float > 0, default 1e-5
        Must stay > 0 in the arrays' dtype.
    relu : bool, default False
        Apply max(0, ·) in the same pass.
    out : array of shape (B, F), optional
    mean, var : arrays of shape (F,), optional
        Receive the batch mean and biased variance. Every output buffer must be writeable,
        C-contiguous and share memory with no other argument.

    Returns
    -------
    out, mean, var : arrays
        Keep all three (and ``x``) for :func:`batchnorm_backward`.

    Raises
    ------
    TypeError
        If an array is not float32/float64, the dtypes differ, ``eps`` is not a real number
        or ``relu`` not a bool.
    ValueError
        If a shape disagrees, the batch is empty, ``eps`` is not > 0 in the dtype, or an
        output is not writeable and C-contiguous or overlaps another argument. Nothing is
        written then.
    """
    relu = check_bool(relu, "relu")
    x = check_float_array(x, "x", ndim=2)
    if x.shape[0] < 1:
        raise ValueError(f"x must hold at least one row (a batch), got shape {x.shape}")
    params = _check_features(x, {"gamma": gamma, "beta": beta})
    eps = _check_eps(eps, x.dtype)
    n, f = x.shape
    out = _out_buffer(out, "out", (n, f), x)
    mean = _out_buffer(mean, "mean", (f,), x)
    var = _out_buffer(var, "var", (f,), x)
    _check_disjoint({"out": out, "mean": mean, "var": var}, {"x": x, **params})
    _backend.current().batchnorm_forward(
        _contiguous(x),
        _contiguous(params["gamma"]),
        _contiguous(params["beta"]),
        eps,
        relu,
        out,
        mean,
        var,
    )
    return out, mean, var


def batchnorm_backward(
    grad_out: Any,
    x: Any,
    gamma: Any,
    out: Any,
    mean: Any,
    var: Any,
    *,
    eps: float = 1e-5,
    relu: bool = False,
    dx: Any = None,
    dgamma: Any = None,
    dbeta: Any = None,
    overwrite_grad: bool = False,
) -> tuple[Any, Any, Any]:
    """Backward of :func:`batchnorm_forward` in the compact form of Ioffe & Szegedy (2015).

    dy = dH ⊙ 1[H > 0] (or dH without ReLU); dβ = Σ_i dy_i; dγ = Σ_i dy_i x̂_i;
    dx = (γ/σ)/B · (B·dy − dβ − x̂·dγ), with x̂ = (x − μ)/σ and σ = √(σ² + ε).

    Parameters
    ----------
    grad_out : array (B, F)
        Upstream gradient dL/dH.
    x, out : arrays (B, F)
        The forward input and output (the output's sign is the ReLU mask).
    gamma, mean, var : arrays (F,)
        The scale and the batch statistics the forward wrote.
    eps, relu
        As given to the forward.
    dx : array (B, F), optional
    dgamma, dbeta : arrays (F,), optional
        Preallocated outputs (e.g. views into a flat gradient buffer): writeable,
        C-contiguous, sharing no memory with each other or with the inputs.
    overwrite_grad : bool, default False
        Write dx into ``grad_out`` (saves a buffer); ``grad_out`` must then be writeable,
        C-contiguous and share memory with no other argument, and ``dx`` must be None.

    Returns
    -------
    dx, dgamma, dbeta : arrays

    Raises
    ------
    TypeError
        If an array is not float32/float64, the dtypes differ, or a flag is not a bool.
    ValueError
        If a shape disagrees, ``eps`` is not > 0 in the dtype, ``dx`` is given with
        ``overwrite_grad``, or an array written is not writeable and C-contiguous or overlaps
        another argument. Nothing is written then.
    """
    relu = check_bool(relu, "relu")
    overwrite_grad = check_bool(overwrite_grad, "overwrite_grad")
    x = check_float_array(x, "x", ndim=2)
    grad_out = check_float_array(grad_out, "grad_out", ndim=2)
    out = check_float_array(out, "out", ndim=2)
    for arr, name in ((grad_out, "grad_out"), (out, "out")):
        check_same_dtype(arr, name, x, "x")
        check_shape(arr, name, x.shape)
    stats = _check_features(x, {"gamma": gamma, "mean": mean, "var": var})
    eps = _check_eps(eps, x.dtype)
    n, f = x.shape
    if overwrite_grad:
        check_writeable_contiguous(grad_out, "grad_out")
        if dx is not None:
            raise ValueError("dx must be None with overwrite_grad (dx is written into grad_out)")
        dx = grad_out
    else:
        dx = _out_buffer(dx, "dx", (n, f), x)
    dgamma = _out_buffer(dgamma, "dgamma", (f,), x)
    dbeta = _out_buffer(dbeta, "dbeta", (f,), x)
    # with overwrite_grad, dx is grad_out (the documented aliasing): written, by that name
    read = {"x": x, "out": out, **stats}
    if not overwrite_grad:
        read["grad_out"] = grad_out
    written = {"grad_out" if overwrite_grad else "dx": dx, "dgamma": dgamma, "dbeta": dbeta}
    _check_disjoint(written, read)
    _backend.current().batchnorm_backward(
        _contiguous(grad_out),
        _contiguous(x),
        _contiguous(stats["gamma"]),
        _contiguous(out),
        _contiguous(stats["mean"]),
        _contiguous(stats["var"]),
        eps,
        relu,
        dx,
        dgamma,
        dbeta,
    )
    return dx, dgamma, dbeta
