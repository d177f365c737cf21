"""Optimiser steps on the GPU: one grid-stride elementwise kernel each, in place.

Each thread updates θ_i and its state in registers, in the reference's arithmetic order,
with every hyper-parameter rounded to the arrays' dtype on the host first (as NumPy does
when a Python float meets a float32 array), so float32 stays float32 on the device.
"""

from __future__ import annotations

import math

from numba import cuda

from numdl_kernels.cuda._launch import block_size, grid_1d, launch, xp_of


@cuda.jit
def _momentum_kernel(param, grad, velocity, lr, momentum, weight_decay, nesterov, n_decayed):
    for i in range(cuda.grid(1), param.shape[0], cuda.gridsize(1)):
        theta = param[i]
        g = grad[i]
        if i < n_decayed:
            g = g + weight_decay * theta  # eq. 21
        v = velocity[i] * momentum + g  # eq. 23
        velocity[i] = v
        step = momentum * v + g if nesterov else v
        param[i] = theta - lr * step  # eq. 24


@cuda.jit
def _adamw_kernel(
    param, grad, m, v, lr, one_m_b1, beta1, one_m_b2, beta2, eps, decay, bias1, bias2, n_decayed
):
    for i in range(cuda.grid(1), param.shape[0], cuda.gridsize(1)):
        theta = param[i]
        if i < n_decayed:
            theta = theta * decay  # θ(1 − ηλ)
        g = grad[i]
        mi = m[i] * beta1 + one_m_b1 * g
        vi = v[i] * beta2 + one_m_b2 * g * g
        m[i] = mi
        v[i] = vi
        m_hat = mi / bias1
        v_hat = vi / bias2
        param[i] = theta - lr * m_hat / (math.sqrt(v_hat) + eps)


def momentum_update(param, grad, velocity, lr, momentum, weight_decay, nesterov, n_decayed):
    """SGD with momentum / Nesterov and L2 decay (eqs. 21–24), in place: equals
    ``numdl.core.hotpaths.optim.momentum_update``."""
    n = param.shape[0]
    if n == 0:
        return
    t = param.dtype.type
    launch(
        _momentum_kernel,
        grid_1d(n),
        block_size(),
        param,
        param,
        grad,
        velocity,
        t(lr),
        t(momentum),
        t(weight_decay),
        bool(nesterov),
        int(n_decayed),
    )


def adamw_update(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step, n_decayed):
    """AdamW with bias correction and decoupled decay, in place: equals
    ``numdl.core.hotpaths.optim.adamw_update``."""
    n = param.shape[0]
    if n == 0:
        return
    t = param.dtype.type
    launch(
        _adamw_kernel,
        grid_1d(n),
        block_size(),
        param,
        param,
        grad,
        m,
        v,
        t(lr),
        t(1 - beta1),
        t(beta1),
        t(1 - beta2),
        t(beta2),
        t(eps),
        t(1 - lr * weight_decay),
        t(1 - beta1**step),
        t(1 - beta2**step),
        int(n_decayed),
    )


@cuda.jit
def _adam_kernel(
    param, grad, m, v, lr, wd, one_m_b1, beta1, one_m_b2, beta2, eps, bias1, bias2, n_decayed
):
    for i in range(cuda.grid(1), param.shape[0], cuda.gridsize(1)):
        theta = param[i]
        g = grad[i]
        if i < n_decayed:
            g = g + wd * theta  # coupled L2: the moments see λθ
        mi = m[i] * beta1 + one_m_b1 * g
        vi = v[i] * beta2 + one_m_b2 * g * g
        m[i] = mi
        v[i] = vi
        m_hat = mi / bias1
        v_hat = vi / bias2
        param[i] = theta - lr * m_hat / (math.sqrt(v_hat) + eps)


@cuda.jit
def _rmsprop_kernel(
    param, grad, square_avg, buf, lr, alpha, one_m_alpha, eps, wd, momentum, use_momentum, n_decayed
):
    for i in range(cuda.grid(1), param.shape[0], cuda.gridsize(1)):
        theta = param[i]
        g = grad[i]
        if i < n_decayed:
            g = g + wd * theta
        r = square_avg[i] * alpha + one_m_alpha * g * g
        square_avg[i] = r
        delta = g / (math.sqrt(r) + eps)
        if use_momentum:
            delta = buf[i] * momentum + delta
            buf[i] = delta
        param[i] = theta - lr * delta


@cuda.jit
def _adagrad_kernel(param, grad, sum_sq, lr, eps, weight_decay, n_decayed):
    for i in range(cuda.grid(1), param.shape[0], cuda.gridsize(1)):
        theta = param[i]
        g = grad[i]
        if i < n_decayed:
            g = g + weight_decay * theta
        r = sum_sq[i] + g * g
        sum_sq[i] = r
        param[i] = theta - lr * g / (math.sqrt(r) + eps)


def adam_update(param, grad, m, v, lr, beta1, beta2, eps, weight_decay, step, n_decayed):
    """Adam (Alg. 8.7) with bias correction and coupled L2 decay, in place: equals
    ``numdl.core.hotpaths.optim.adam_update``."""
    n = param.shape[0]
    if n == 0:
        return
    t = param.dtype.type
    launch(
        _adam_kernel,
        grid_1d(n),
        block_size(),
        param,
        param,
        grad,
        m,
        v,
        t(lr),
        t(weight_decay),
        t(1 - beta1),
        t(beta1),
        t(1 - beta2),
        t(beta2),
        t(eps),
        t(1 - beta1**step),
        t(1 - beta2**step),
        int(n_decayed),
    )


def rmsprop_update(
    param, grad, square_avg, momentum_buffer, lr, alpha, eps, weight_decay, momentum, n_decayed
):
    """RMSProp (Alg. 8.5, torch's variant) with optional momentum and L2 decay, in place:
    equals ``numdl.core.hotpaths.optim.rmsprop_update``."""
    n = param.shape[0]
    if n == 0:
        return
    t = param.dtype.type
    use_momentum = bool(momentum > 0)
    # Without momentum the buffer is never indexed, and may be empty: a separate one-element
    # array stands in (not an alias of another argument, which the simulator would copy
    # back over the updated one; not a zero-size device array).
    buf = momentum_buffer if use_momentum else xp_of(param).empty(1, param.dtype)
    launch(
        _rmsprop_kernel,
        grid_1d(n),
        block_size(),
        param,
        param,
        grad,
        square_avg,
        buf,
        t(lr),
        t(alpha),
        t(1 - alpha),
        t(eps),
        t(weight_decay),
        t(momentum),
        use_momentum,
        int(n_decayed),
    )


def adagrad_update(param, grad, sum_sq, lr, eps, weight_decay, n_decayed):
    """AdaGrad (Alg. 8.4, torch's variant) with L2 decay, in place: equals
    ``numdl.core.hotpaths.optim.adagrad_update``."""
    n = param.shape[0]
    if n == 0:
        return
    t = param.dtype.type
    launch(
        _adagrad_kernel,
        grid_1d(n),
        block_size(),
        param,
        param,
        grad,
        sum_sq,
        t(lr),
        t(eps),
        t(weight_decay),
        int(n_decayed),
    )
