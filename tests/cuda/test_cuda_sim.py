"""numdl_kernels.cuda under the Numba CUDA simulator, against numdl.core.hotpaths.

Run in its own process: ``NUMBA_ENABLE_CUDASIM=1 pytest tests/cuda`` (see conftest.py).
The simulator runs the kernels on NumPy arrays (CuPy is not needed), so the ops are called
directly rather than through the backend switch, whose array module is CuPy. Launch
settings are shrunk (blocks of 32–64 threads, grids of at most 3 blocks) so that small
arrays still span several blocks, several rows per block and several grid-stride passes.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from numdl.core import hotpaths as ref
from numdl.testing import CASES, VALUE_KINDS, assert_backend_close, check_case

pytestmark = pytest.mark.cudasim

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    import numdl_kernels.cuda as K
else:  # collected but skipped by conftest.py
    K = None

DTYPES = [np.float32, np.float64]
N_ROWS, N_COLS = 70, 100  # linear layers: several column tiles and row chunks
ROWS = 40  # row kernels: 20 row groups of 2 (or 40 of 1) over a grid of 3 blocks


def close(actual, desired, dtype):
    """Kernel result equals the reference within the one tolerance table (numdl.testing)."""
    assert_backend_close(np.asarray(actual), np.asarray(desired), name=f"cuda {np.dtype(dtype)}")


@pytest.fixture
def launch_config():
    """Set a small launch configuration for the test; restore the previous one after."""
    saved = []

    def set_config(**settings):
        saved.append(K.configure(**settings))

    yield set_config
    for previous in reversed(saved):
        K.configure(**previous)


# Layouts of the row kernels: (block_size, warp_row_max_cols) → (threads per row, rows per
# block) for rows of N_COLS = 100 entries.
ROW_LAYOUTS = {
    "warp-rows": ({"block_size": 64, "max_blocks": 3}, (32, 2)),
    "block-rows": ({"block_size": 16, "max_blocks": 3, "warp_row_max_cols": 50}, (16, 1)),
}


def edge_logits(rng, dtype, n_rows=ROWS, n_cols=N_COLS):
    """Random logits with special rows: all −inf, +inf, NaN, partial −inf, ±1e4."""
    x = (3 * rng.standard_normal((n_rows, n_cols))).astype(dtype)
    x[0] = -np.inf  # all −inf → lse −inf
    x[1, 7] = np.inf  # +inf → lse +inf
    x[2, 50] = np.nan  # NaN propagates
    x[3, ::3] = -np.inf  # some −inf entries
    x[4, ::2] = 1e4  # large values: needs the max shift
    x[4, 1::2] = -1e4
    x[5, 3] = np.inf  # +inf and −inf
    x[5, 4] = -np.inf
    x[6, 9] = np.nan  # NaN and +inf → NaN
    x[6, 10] = np.inf
    x[7] = 1e4  # all equal
    x[8, -1] = -np.inf  # −inf in the last column (the last thread's last entry)
    return x


def ce_logits(rng, dtype, n_rows=ROWS, n_cols=N_COLS):
    """Finite-loss logits: ±1e4 entries and −inf entries off the labels' columns."""
    x = (3 * rng.standard_normal((n_rows, n_cols))).astype(dtype)
    labels = rng.integers(0, n_cols, n_rows)
    x[3, :] = -np.inf
    x[3, labels[3]] = 0.0
    x[4, ::2] = 1e4
    x[4, 1::2] = -1e4
    x[4, labels[4]] = 1e4
    x[5] = 1e4
    return x, labels


# ------------------------------------------------------------------ configuration, layout
def test_configure_validates_and_restores():
    before = K.get_config()
    with pytest.raises(ValueError, match="power of two"):
        K.configure(block_size=48)
    with pytest.raises(ValueError, match="power of two"):
        K.set_block_size(2048)
    with pytest.raises(TypeError, match="block_size"):
        K.set_block_size(32.0)
    with pytest.raises(ValueError, match="max_blocks"):
        K.configure(max_blocks=0)
    assert K.get_config() == before
    previous = K.set_block_size(128)
    assert previous == before["block_size"]
    assert K.get_config()["block_size"] == 128
    K.configure(**before)
    assert K.get_config() == before


def test_row_layout(launch_config):
    from numdl_kernels.cuda._launch import row_layout

    for settings, expected in ROW_LAYOUTS.values():
        launch_config(**settings)
        assert row_layout(N_COLS) == expected
    launch_config(block_size=256, warp_row_max_cols=1024)
    assert row_layout(1000) == (32, 8)  # a warp per row
    assert row_layout(1025) == (256, 1)  # a block per row
    assert row_layout(5) == (8, 32)  # short rows: as many threads as the row needs
    assert row_layout(1) == (1, 256)


# -------------------------------------------------------------------------- log-sum-exp
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("layout", sorted(ROW_LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_and_log_softmax_rows(launch_config, layout, dtype):
    launch_config(**ROW_LAYOUTS[layout][0])
    x = edge_logits(np.random.default_rng(1), dtype)
    x_before = x.copy()
    lse = K.logsumexp_rows(x, np.empty(ROWS, dtype))
    want = ref.logsumexp_rows(x, np.empty(ROWS, dtype))
    assert lse.dtype == dtype
    close(lse, want, dtype)
    # The edge rows, explicitly (assert_allclose also matches the positions of inf and NaN).
    assert lse[0] == -np.inf
    assert lse[1] == np.inf
    assert np.isnan(lse[2])
    assert lse[5] == np.inf
    assert np.isnan(lse[6])
    assert np.isfinite(lse[3:5]).all()
    assert lse[4] == pytest.approx(1e4 + np.log(50), rel=1e-6)
    assert lse[7] == pytest.approx(1e4 + np.log(N_COLS), rel=1e-6)

    out = K.log_softmax_rows(x, np.empty_like(x))
    close(out, ref.log_softmax_rows(x, np.empty_like(x)), dtype)
    np.testing.assert_array_equal(x, x_before)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logsumexp_short_rows(launch_config, dtype):
    """Rows of 1 and 5 entries: many rows per block, idle threads in each row."""
    launch_config(block_size=32, max_blocks=2)
    rng = np.random.default_rng(2)
    for n_cols in (1, 5):
        x = rng.standard_normal((40, n_cols)).astype(dtype)
        x[0] = -np.inf
        x[1, 0] = np.inf
        close(
            K.logsumexp_rows(x, np.empty(40, dtype)),
            ref.logsumexp_rows(x, np.empty(40, dtype)),
            dtype,
        )


# ------------------------------------------------------------------------- cross-entropy
@pytest.mark.parametrize("layout", sorted(ROW_LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_labels(launch_config, layout, dtype):
    launch_config(**ROW_LAYOUTS[layout][0])
    logits, labels = ce_logits(np.random.default_rng(3), dtype)
    before = logits.copy()
    grad = np.full_like(logits, np.nan)
    loss = K.cross_entropy(logits, labels, grad)
    want_grad = np.empty_like(logits)
    want = ref.cross_entropy(logits, labels, want_grad)
    assert type(loss) is np.dtype(dtype).type
    assert np.isfinite(loss)
    close(loss, want, dtype)
    close(grad, want_grad, dtype)
    np.testing.assert_array_equal(logits, before)
    # int32 labels and no gradient: the loss alone, logits untouched.
    loss_only = K.cross_entropy(logits, labels.astype(np.int32), None)
    assert loss_only == loss
    np.testing.assert_array_equal(logits, before)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # reference's 0·−inf
@pytest.mark.parametrize("layout", sorted(ROW_LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_soft_targets(launch_config, layout, dtype):
    launch_config(**ROW_LAYOUTS[layout][0])
    rng = np.random.default_rng(4)
    logits, _ = ce_logits(rng, dtype)
    target = rng.random((ROWS, N_COLS)).astype(dtype)
    target[rng.random((ROWS, N_COLS)) < 0.5] = 0
    target[3] = 0  # row 3 has −inf logits: zero target there, 0 · log 0 = 0
    target[3, np.isfinite(logits[3])] = 1
    target[10] /= target[10].sum()  # a probability row; the others are unnormalised
    target[11] = 0  # an all-zero target row contributes nothing
    before = (logits.copy(), target.copy())
    grad = np.empty_like(logits)
    loss = K.cross_entropy(logits, target, grad)
    want_grad = np.empty_like(logits)
    want = ref.cross_entropy(logits, target, want_grad)
    assert type(loss) is np.dtype(dtype).type
    assert np.isfinite(loss)
    close(loss, want, dtype)
    close(grad, want_grad, dtype)
    np.testing.assert_array_equal(logits, before[0])
    np.testing.assert_array_equal(target, before[1])
    assert K.cross_entropy(logits, target, None) == loss


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_nan_and_determinism(launch_config, dtype):
    launch_config(block_size=32, max_blocks=2)
    rng = np.random.default_rng(5)
    logits = rng.standard_normal((20, 7)).astype(dtype)
    labels = rng.integers(0, 7, 20)
    first = np.empty_like(logits)
    loss = K.cross_entropy(logits, labels, first)
    again = np.empty_like(logits)
    assert K.cross_entropy(logits, labels, again) == loss  # bitwise: no atomics
    np.testing.assert_array_equal(first, again)
    logits[6, 2] = np.nan
    grad = np.empty_like(logits)
    assert np.isnan(K.cross_entropy(logits, labels, grad))
    want = np.empty_like(logits)
    assert np.isnan(ref.cross_entropy(logits, labels, want))
    close(grad, want, dtype)  # NaN exactly in row 6


# ------------------------------------------------------------------------- linear layers
@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_forward(launch_config, dtype, relu):
    launch_config(block_size=64, max_blocks=3)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((N_ROWS, 20)).astype(dtype)
    w = rng.standard_normal((20, N_COLS)).astype(dtype)
    b = rng.standard_normal(N_COLS).astype(dtype)
    x[5, 0] = np.nan  # row 5 of the output is NaN, also after ReLU
    out = np.empty((N_ROWS, N_COLS), dtype)
    assert K.linear_forward(x, w, b, relu, out) is out
    want = ref.linear_forward(x, w, b, relu, np.empty_like(out))
    close(out, want, dtype)
    assert np.isnan(out[5]).all()
    if relu:
        assert (out[np.isfinite(out)] >= 0).all()


# (relu, dz aliases grad_out, compute dx)
BACKWARD_CASES = [
    (True, True, True),
    (True, False, False),
    (False, True, True),
    (False, False, False),
]


@pytest.mark.parametrize(("relu", "alias", "with_dx"), BACKWARD_CASES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_backward(launch_config, dtype, relu, alias, with_dx):
    launch_config(block_size=64, max_blocks=3)
    rng = np.random.default_rng(7)
    n_rows, d_in, d_out = N_ROWS, 20, 40  # 9 row chunks × 2 column tiles (one partial)
    x = rng.standard_normal((n_rows, d_in)).astype(dtype)
    w = rng.standard_normal((d_in, d_out)).astype(dtype)
    out = ref.linear_forward(
        x, w, rng.standard_normal(d_out).astype(dtype), relu, np.empty((n_rows, d_out), dtype)
    )
    grad_out = rng.standard_normal((n_rows, d_out)).astype(dtype)
    masked = np.argwhere(out <= 0)[0] if relu else (9, 11)
    grad_out[tuple(masked)] = np.nan  # NaN · 0 = NaN: masked entries still propagate NaN

    def run(impl):
        g = grad_out.copy()
        dz = g if alias else np.full_like(g, -7.0)
        dx = np.full_like(x, -7.0) if with_dx else None
        dw = np.full_like(w, -7.0)
        db = np.full(d_out, -7.0, dtype)
        impl.linear_backward(g, x, w, out, relu, dz, dx, dw, db)
        return g, dz, dx, dw, db

    g, dz, dx, dw, db = run(K)
    _, dz_ref, dx_ref, dw_ref, db_ref = run(ref)
    close(dz, dz_ref, dtype)
    close(db, db_ref, dtype)
    close(dw, dw_ref, dtype)
    if alias:
        assert dz is g
    else:
        np.testing.assert_array_equal(g, grad_out)  # grad_out not mutated
    if with_dx:
        close(dx, dx_ref, dtype)
    assert np.isnan(db[masked[1]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_backward_single_chunk(launch_config, dtype):
    """Few rows: one chunk, so the column sums go straight into db."""
    launch_config(block_size=32, max_blocks=3)
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 4)).astype(dtype)
    w = rng.standard_normal((4, 40)).astype(dtype)
    out = ref.linear_forward(x, w, np.zeros(40, dtype), True, np.empty((3, 40), dtype))
    grad_out = rng.standard_normal((3, 40)).astype(dtype)
    results = []
    for impl in (K, ref):
        dz, dx, dw, db = (np.empty_like(a) for a in (grad_out, x, w, grad_out[0]))
        impl.linear_backward(grad_out, x, w, out, True, dz, dx, dw, db)
        results.append((dz, dx, dw, db))
    for got, want in zip(*results, strict=True):
        close(got, want, dtype)


# ---------------------------------------------------------------------------- optimisers
N_PARAMS = 1000


def optim_arrays(dtype, n_state, seed):
    rng = np.random.default_rng(seed)
    param = rng.standard_normal(N_PARAMS).astype(dtype)
    grads = [rng.standard_normal(N_PARAMS).astype(dtype) for _ in range(3)]
    state = [np.abs(rng.standard_normal(N_PARAMS)).astype(dtype) for _ in range(n_state)]
    return param, grads, state


@pytest.mark.parametrize(
    ("momentum", "nesterov", "weight_decay", "n_decayed"),
    [
        (0.9, False, 1e-2, 600),
        (0.9, True, 1e-2, N_PARAMS),
        (0.0, False, 0.5, 0),
        (0.5, True, 0.1, 1),
    ],
)
@pytest.mark.parametrize("dtype", DTYPES)
def test_momentum_update(launch_config, dtype, momentum, nesterov, weight_decay, n_decayed):
    launch_config(block_size=64, max_blocks=3)  # 3 blocks × 64 threads over 1000 entries
    param, grads, (velocity,) = optim_arrays(dtype, 1, seed=9)
    mine = (param.copy(), velocity.copy())
    theirs = (param.copy(), velocity.copy())
    for grad in grads:
        grad_before = grad.copy()
        K.momentum_update(mine[0], grad, mine[1], 0.1, momentum, weight_decay, nesterov, n_decayed)
        ref.momentum_update(
            theirs[0], grad, theirs[1], 0.1, momentum, weight_decay, nesterov, n_decayed
        )
        np.testing.assert_array_equal(grad, grad_before)
    for got, want in zip(mine, theirs, strict=True):
        assert got.dtype == dtype
        close(got, want, dtype)


@pytest.mark.parametrize("n_decayed", [0, 700, N_PARAMS])
@pytest.mark.parametrize("dtype", DTYPES)
def test_adamw_update(launch_config, dtype, n_decayed):
    launch_config(block_size=64, max_blocks=3)
    param, grads, (m, v) = optim_arrays(dtype, 2, seed=10)
    mine = (param.copy(), m.copy(), v.copy())
    theirs = (param.copy(), m.copy(), v.copy())
    for step, grad in enumerate(grads, start=1):
        args = (1e-2, 0.9, 0.999, 1e-8, 0.1, step, n_decayed)
        K.adamw_update(mine[0], grad, mine[1], mine[2], *args)
        ref.adamw_update(theirs[0], grad, theirs[1], theirs[2], *args)
    for got, want in zip(mine, theirs, strict=True):
        assert got.dtype == dtype
        close(got, want, dtype)
    if n_decayed < N_PARAMS:  # the undecayed tail differs from a fully decayed update
        full = (param.copy(), m.copy(), v.copy())
        for step, grad in enumerate(grads, start=1):
            K.adamw_update(
                full[0], grad, full[1], full[2], 1e-2, 0.9, 0.999, 1e-8, 0.1, step, N_PARAMS
            )
        assert not np.allclose(full[0][n_decayed:], mine[0][n_decayed:], rtol=1e-7, atol=0)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("values", VALUE_KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(CASES))
def test_registry_case(launch_config, name, dtype, values):
    """Every op case of the equivalence registry, on blocks small enough to span several."""
    launch_config(block_size=32, max_blocks=3)
    check_case(name, K, dtype, CASES[name].shapes["small"], values)
