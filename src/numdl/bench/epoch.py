"""One MNIST training epoch per implementation (numdl-numba, numdl-numpy, PyTorch), from
the same initial weights on the same batches, against the GEMM floor (the step's five matrix
products alone) and the batch gathering alone (``np.take``, as the reference and PyTorch's
runner gather; numdl's runners gather with the backend's ``take_rows``, as ``numdl train``):
the data (:func:`load_epoch_data`), the runners, and :func:`bench_epoch`, which interleaves
them in chunks of steps. :func:`bench_cnn_epoch` does the same for the CNN of ``numdl train
--model cnn`` (its GEMM floor: the im2col GEMMs of the convolutions, and the dense layers'),
and measures the peak memory of one training step.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from numdl.bench.timing import Timing, gc_off, log, round_order
from numdl.testing.memory import traced_peak


def load_epoch_data(data_dir: str | None) -> Any:
    """Real MNIST (``data_dir``, ``NUMDL_DATA_DIR`` or the cache; never downloaded), else
    synthetic digits of MNIST's shape (``dataset.synthetic`` says which)."""
    from numdl.data import DatasetError, load_mnist, load_synthetic_digits

    try:
        return load_mnist(data_dir, download=False, progress=False)
    except DatasetError as exc:
        log(f"real MNIST not found ({exc}); using SYNTHETIC digits of MNIST's shape")
        return load_synthetic_digits(n_train=55_000, n_val=5_000, n_test=10_000, seed=0)


class Batches:
    """The batches of one epoch: a seeded permutation, gathered into a reused buffer."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch: int, steps: int) -> None:
        self.x, self.y, self.batch, self.steps = x, y, batch, steps
        self.x_buf = np.empty((batch, x.shape[1]), x.dtype)
        self.y_buf = np.empty(batch, y.dtype)
        self.order = np.arange(x.shape[0])

    def shuffle(self, seed: int) -> None:
        self.order = np.random.default_rng([0, seed]).permutation(self.x.shape[0])

    def gather(self, step: int, take: Callable | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Gather the batch of ``step`` into the reused buffers; returns views of them.

        The samples are gathered by ``take(x, index, out=...)`` (numdl's
        :func:`~numdl.core.ops.take_rows`, as ``numdl train`` does, for numdl's runners),
        else by ``np.take``; the labels by ``np.take``.
        """
        idx = self.order[step * self.batch : (step + 1) * self.batch]
        xb, yb = self.x_buf[: idx.shape[0]], self.y_buf[: idx.shape[0]]
        if take is None:
            np.take(self.x, idx, axis=0, out=xb)
        else:
            take(self.x, idx, out=xb)
        np.take(self.y, idx, axis=0, out=yb)
        return xb, yb

    def range(
        self, first: int, stop: int, take: Callable | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Gather (with ``take``, as :meth:`gather`) and yield the batches of steps ``first``
        to ``stop − 1``."""
        for step in range(first, stop):
            yield self.gather(step, take)


#: A runner trains on steps [first, stop) of the current epoch's batches and returns
#: (seconds it counts, sum of the batch losses × batch sizes).
Runner = Callable[[Batches, int, int], tuple[float, float]]


def numdl_model(
    n_features: int,
    n_classes: int,
    steps: int,
    hidden: Sequence[int] = (512,),
    dtype: str = "float32",
    norm: str = "none",
) -> tuple[Any, Any]:
    """The model and optimiser ``numdl train`` builds (Table 1's, with these widths, dtype and
    normalisation)."""
    from numdl.app.config import TrainConfig
    from numdl.app.training import build

    config = TrainConfig(epochs=1, hidden=list(hidden), dtype=dtype, norm=norm)
    model, optimizer, _ = build(config, n_features, n_classes, steps)
    return model, optimizer


def _numdl_runner(
    backend_name: str,
    n_features: int,
    n_classes: int,
    hidden: Sequence[int],
    dtype: str,
    norm: str = "none",
) -> Runner:
    """numdl's MLP trained exactly as ``numdl train`` does (gathering included)."""
    model, optimizer = numdl_model(n_features, n_classes, 1, hidden, dtype, norm)
    return _training_runner(backend_name, model, optimizer)


def _training_runner(backend_name: str, model: Any, optimizer: Any) -> Runner:
    """``model`` trained by ``optimizer`` as ``numdl train`` trains (gathering included)."""
    import numdl
    from numdl.nn.losses import SoftmaxCrossEntropy

    loss_fn = SoftmaxCrossEntropy()

    def run(batches: Batches, first: int, stop: int) -> tuple[float, float]:
        total = 0.0
        t0 = time.perf_counter()
        with numdl.use_backend(backend_name):
            for xb, yb in batches.range(first, stop, numdl.take_rows):
                loss, dlogits = loss_fn(model.forward(xb), yb)
                total += float(loss) * xb.shape[0]
                model.backward(dlogits, overwrite_grad=True)
                optimizer.step()
        return time.perf_counter() - t0, total

    return run


def _torch_runner(
    torch: Any, n_features: int, n_classes: int, hidden: Sequence[int], dtype: str
) -> Runner:
    """The same model, initial weights, optimiser and batches in PyTorch."""
    nn = torch.nn
    reference, _ = numdl_model(n_features, n_classes, 1, hidden, dtype)
    linears = [layer for layer in reference.layers if hasattr(layer, "W")]
    torch_linears = [nn.Linear(*layer.W.shape, dtype=getattr(torch, dtype)) for layer in linears]
    stack: list[Any] = []
    for layer in torch_linears:
        stack += [layer, nn.ReLU()]
    model = nn.Sequential(*stack[:-1])
    with torch.no_grad():
        for ours, theirs in zip(linears, torch_linears, strict=True):
            theirs.weight.copy_(torch.from_numpy(np.ascontiguousarray(ours.W.T)))
            theirs.bias.copy_(torch.from_numpy(np.asarray(ours.b)))
    optimizer = torch.optim.SGD(
        [
            {"params": [m.weight for m in torch_linears], "weight_decay": 1e-4},
            {"params": [m.bias for m in torch_linears], "weight_decay": 0.0},
        ],
        lr=0.2,
        momentum=0.9,
        foreach=True,
    )
    criterion = nn.CrossEntropyLoss()

    def run(batches: Batches, first: int, stop: int) -> tuple[float, float]:
        x_all, y_all = torch.from_numpy(batches.x_buf), torch.from_numpy(batches.y_buf)
        total = 0.0
        t0 = time.perf_counter()
        for xb, _ in batches.range(first, stop):
            k = xb.shape[0]
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(x_all[:k]), y_all[:k])
            loss.backward()
            optimizer.step()
            total += loss.item() * k
        return time.perf_counter() - t0, total

    return run


def gemm_floor_runner(
    batch: int, n_features: int, n_classes: int, dtype: Any, hidden: Sequence[int] = (512,)
) -> Runner:
    """The step's GEMMs alone on each batch (only they are counted): per layer l the forward
    A_{l−1}·W_l, the weight gradient A_{l−1}ᵀ·dZ_l, and dZ_l·W_lᵀ for every layer but the
    first (784-512-10: X·W1, Xᵀ·dZ1, H·W2, Hᵀ·dZ2, dZ2·W2ᵀ)."""
    rng = np.random.default_rng(1)
    sizes = [n_features, *hidden, n_classes]
    ws = [rng.standard_normal(shape).astype(dtype) for shape in itertools.pairwise(sizes)]
    acts = [np.empty((batch, d), dtype) for d in sizes[1:]]  # A_1 … A_L (logits last)
    dzs = [rng.standard_normal((batch, d)).astype(dtype) for d in sizes[1:]]
    dws = [np.empty_like(w) for w in ws]
    das = [np.empty((batch, d), dtype) for d in sizes[1:-1]]  # dA_1 … dA_{L−1}

    def run(batches: Batches, first: int, stop: int) -> tuple[float, float]:
        spent = 0.0
        for xb, _ in batches.range(first, stop):
            k = xb.shape[0]
            t0 = time.perf_counter()
            inputs = [xb, *(a[:k] for a in acts[:-1])]
            for a_in, w, a_out in zip(inputs, ws, acts, strict=True):
                np.matmul(a_in, w, out=a_out[:k])  # A_{l−1} @ W_l
            for layer in range(len(ws) - 1, -1, -1):
                np.matmul(inputs[layer].T, dzs[layer][:k], out=dws[layer])  # A_{l−1}^T @ dZ_l
                if layer > 0:
                    np.matmul(dzs[layer][:k], ws[layer].T, out=das[layer - 1][:k])  # dZ_l @ W_l^T
            spent += time.perf_counter() - t0
        return spent, math.nan

    return run


def _gather_runner(batches: Batches, first: int, stop: int) -> tuple[float, float]:
    t0 = time.perf_counter()
    for _ in batches.range(first, stop):
        pass
    return time.perf_counter() - t0, math.nan


def _interleaved(
    runners: Callable[[], dict[str, Runner]],
    batches: Batches,
    repeats: int,
    chunk: int,
    samples: int,
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Seconds per round of each runner (taking turns every ``chunk`` steps in a shuffled
    order) and the first round's mean loss; ``runners()`` makes fresh models each call."""
    warm = Batches(batches.x, batches.y, batches.batch, 3)  # throwaway models: compilation
    warm.shuffle(10_000)
    for run_warm in runners().values():
        run_warm(warm, 0, 3)

    timed = runners()  # fresh models: all start from the same initial weights
    names = list(timed)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    first_loss: dict[str, float] = {}
    steps = batches.steps
    with gc_off():
        for r in range(repeats):
            log(f"  epoch round {r + 1}/{repeats}")
            batches.shuffle(r)
            spent = dict.fromkeys(names, 0.0)
            loss = dict.fromkeys(names, 0.0)
            for c, first in enumerate(range(0, steps, chunk)):
                stop = min(first + chunk, steps)
                for name in round_order(names, r * 10_000 + c):
                    dt, total = timed[name](batches, first, stop)
                    spent[name] += dt
                    loss[name] += total
            for name in names:
                seconds[name].append(spent[name])
                if r == 0 and math.isfinite(loss[name]):
                    first_loss[name] = loss[name] / samples
    return seconds, first_loss


def bench_epoch(
    torch: Any,
    modules: dict[str, Any],
    data_dir: str | None,
    repeats: int,
    max_steps: int | None,
    chunk: int = 16,
    *,
    hidden: Sequence[int] = (512,),
    batch: int = 256,
    dtype: str = "float32",
) -> dict[str, Any]:
    """One MNIST epoch per implementation, ``repeats`` times (an MLP of ``hidden`` widths,
    trained in ``dtype`` with batches of ``batch``; the default is Table 1's).

    The implementations take turns every ``chunk`` steps (in a shuffled order), so a burst
    of load from elsewhere on the machine slows all of them alike; each one's epoch time is
    the sum of its chunks.
    """
    dataset = load_epoch_data(data_dir)
    x = np.ascontiguousarray(dataset.train.X, dtype=dtype)
    y = np.ascontiguousarray(dataset.train.y, dtype=np.int64)
    n_features, n_classes = x.shape[1], dataset.n_classes
    steps = math.ceil(x.shape[0] / batch)
    if max_steps is not None:
        steps = min(steps, max_steps)
    samples = min(x.shape[0], steps * batch)
    batches = Batches(x, y, batch, steps)

    def runners() -> dict[str, Runner]:
        out: dict[str, Runner] = {}
        model = (n_features, n_classes, hidden, dtype)
        if "numba" in modules:
            out["numdl-numba"] = _numdl_runner("numba", *model)
            # the same model with --norm batch (Linear, BatchNorm + ReLU, Linear)
            out["numdl-numba BatchNorm"] = _numdl_runner("numba", *model, "batch")
        out["numdl-numpy"] = _numdl_runner("numpy", *model)
        if torch is not None:
            out["torch"] = _torch_runner(torch, *model)
        out["GEMM floor"] = gemm_floor_runner(batch, n_features, n_classes, x.dtype, hidden)
        out["batch gathering"] = _gather_runner
        return out

    seconds, first_loss = _interleaved(runners, batches, repeats, chunk, samples)
    return {
        "dataset": dataset.name,
        "synthetic": bool(dataset.synthetic),
        "samples": samples,
        "steps": steps,
        "chunk_steps": chunk,
        "full_epoch": max_steps is None,
        "model": f"{'-'.join(str(s) for s in (n_features, *hidden, n_classes))} ReLU MLP, "
        f"{dtype}, batch {batch}, momentum SGD lr 0.2 β 0.9 wd 1e-4",
        "gemms": 3 * (len(hidden) + 1) - 1,
        "timings": {name: Timing(s, 1).to_json() for name, s in seconds.items()},
        "first_round_mean_loss": first_loss,
    }


# ---------------------------------------------------------------------------------- the CNN
def numdl_cnn_model(
    n_features: int,
    n_classes: int,
    image_shape: tuple[int, int],
    batch: int = 256,
    dtype: str = "float32",
) -> tuple[Any, Any]:
    """The CNN and optimiser ``numdl train --model cnn`` builds (the CNN recipe's model and
    momentum SGD; its schedule and shifts are left out: a constant rate, unshifted batches)."""
    from numdl.app.config import TrainConfig
    from numdl.app.training import build

    config = TrainConfig.from_dict(
        {"model": "cnn", "epochs": 1, "batch_size": batch, "dtype": dtype, "augment": "none"}
    )
    model, optimizer, _ = build(config, n_features, n_classes, 1, image_shape)
    return model, optimizer


def _torch_cnn(torch: Any, reference: Any) -> tuple[Any, list[Any], list[Any]]:
    """``reference`` (a numdl CNN) as a torch ``nn.Sequential`` with its weights; and the
    weight and bias tensors."""
    nn = torch.nn
    cfg, p = reference.config, reference.params
    tdtype = getattr(torch, cfg["dtype"])
    k, c, index = cfg["kernel_size"], cfg["in_shape"][0], 1
    stack: list[Any] = [nn.Unflatten(1, tuple(cfg["in_shape"]))]
    layers: list[tuple[Any, str, bool]] = []  # (torch layer, numdl name, W transposed)
    for f in cfg["channels"]:
        conv = nn.Conv2d(c, f, k, padding=k // 2, dtype=tdtype)
        stack += [conv, nn.ReLU(), nn.MaxPool2d(2)]
        layers.append((conv, f"layer{index}", False))
        index, c = index + 2, f
    stack.append(nn.Flatten())
    index += 1
    widths = [*cfg["hidden"], cfg["n_classes"]]
    for i, _ in enumerate(widths):
        d_in, d_out = p[f"layer{index}.W"].shape
        linear = nn.Linear(d_in, d_out, dtype=tdtype)
        stack += [linear] + ([nn.ReLU()] if i < len(widths) - 1 else [])
        layers.append((linear, f"layer{index}", True))
        index += 1 + (cfg["dropout"] > 0 and i < len(widths) - 1)
    with torch.no_grad():
        for layer, name, transposed in layers:
            w = np.asarray(p[f"{name}.W"])
            layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(w.T if transposed else w)))
            layer.bias.copy_(torch.from_numpy(np.asarray(p[f"{name}.b"])))
    weights = [layer.weight for layer, _, _ in layers]
    biases = [layer.bias for layer, _, _ in layers]
    return nn.Sequential(*stack), weights, biases


def _torch_cnn_runner(torch: Any, reference: Any, optimizer: Any) -> Runner:
    """The same CNN, initial weights, optimiser (momentum SGD, L2 decay on the weights only)
    and batches in PyTorch."""
    model, weights, biases = _torch_cnn(torch, reference)
    opt = torch.optim.SGD(
        [
            {"params": weights, "weight_decay": optimizer.weight_decay},
            {"params": biases, "weight_decay": 0.0},
        ],
        lr=optimizer.lr,
        momentum=optimizer.momentum,
        foreach=True,
    )
    criterion = torch.nn.CrossEntropyLoss()

    def run(batches: Batches, first: int, stop: int) -> tuple[float, float]:
        x_all, y_all = torch.from_numpy(batches.x_buf), torch.from_numpy(batches.y_buf)
        total = 0.0
        t0 = time.perf_counter()
        for xb, _ in batches.range(first, stop):
            k = xb.shape[0]
            opt.zero_grad(set_to_none=True)
            loss = criterion(model(x_all[:k]), y_all[:k])
            loss.backward()
            opt.step()
            total += loss.item() * k
        return time.perf_counter() - t0, total

    return run


class Gemm(NamedTuple):
    """One matrix product of a training step, out (m, n) = A (m, k) · B (k, n), as the
    implementation calls it: ``per_sample`` is the axis ("m", "k" or "n") that grows with the
    batch (its field holds that axis's length for one sample; the others are fixed), and
    ``a_t``/``b_t`` say that the operand is the transposed view of a C-contiguous array."""

    what: str
    m: int
    k: int
    n: int
    per_sample: str
    a_t: bool = False
    b_t: bool = False
    conv: bool = False

    def dims(self, batch: int) -> tuple[int, int, int]:
        """(m, k, n) at ``batch`` samples."""
        scale = {axis: batch if axis == self.per_sample else 1 for axis in "mkn"}
        return self.m * scale["m"], self.k * scale["k"], self.n * scale["n"]

    def flops(self, batch: int = 1) -> int:
        return 2 * math.prod(self.dims(batch))


def cnn_gemms(config: dict[str, Any]) -> list[Gemm]:
    """The matrix products of one CNN training step, as the kernels call them. A convolution
    of F filters over K = C·KH·KW taps at Q = OH·OW positions a sample (P = B·Q) is W·cols
    (F, K)·(K, P) forward, dZ·colsᵀ (F, P)·(P, K) for dW and Wᵀ·dZ (K, F)·(F, P) for dcols
    (but for the first layer, whose input needs no gradient); a dense layer is A·W, Aᵀ·dZ
    and dZ·Wᵀ with B rows."""
    k, pad = config["kernel_size"], config["kernel_size"] // 2
    c, h, w = config["in_shape"]
    out: list[Gemm] = []
    for i, f in enumerate(config["channels"]):
        oh, ow, kk = h + 2 * pad - k + 1, w + 2 * pad - k + 1, c * k * k
        q = oh * ow
        out += [
            Gemm(f"conv{i} forward", f, kk, q, "n", conv=True),
            Gemm(f"conv{i} dW", f, q, kk, "k", b_t=True, conv=True),
        ]
        if i > 0:
            out.append(Gemm(f"conv{i} dcols", kk, f, q, "n", a_t=True, conv=True))
        c, h, w = f, oh // 2, ow // 2
    sizes = [c * h * w, *config["hidden"], config["n_classes"]]
    for i, (d_in, d_out) in enumerate(itertools.pairwise(sizes)):
        out += [
            Gemm(f"dense{i} forward", 1, d_in, d_out, "m"),
            Gemm(f"dense{i} dW", d_in, 1, d_out, "k", a_t=True),
            Gemm(f"dense{i} dA", 1, d_out, d_in, "m", b_t=True),
        ]
    return out


def _gemm_operands(gemm: Gemm, batch: int, dtype: Any, rng: np.random.Generator) -> tuple:
    """(A, B, out) of ``gemm`` at ``batch`` samples, A and B transposed views when flagged."""
    m, k, n = gemm.dims(batch)
    a = rng.standard_normal((k, m) if gemm.a_t else (m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if gemm.b_t else (k, n)).astype(dtype)
    return (a.T if gemm.a_t else a), (b.T if gemm.b_t else b), np.empty((m, n), dtype)


def cnn_gemm_floor_runner(
    config: dict[str, Any], batch: int, dtype: Any, *, conv_only: bool = False
) -> Runner:
    """The GEMMs of :func:`cnn_gemms` alone on each batch (only they are counted; im2col,
    col2im, pooling and the elementwise passes are not), with the kernels' shapes and
    operand layouts (a batch of another size gets operands of its own, made untimed)."""
    rng = np.random.default_rng(1)
    products = [g for g in cnn_gemms(config) if g.conv or not conv_only]
    operands: dict[int, list[tuple]] = {}

    def run(batches: Batches, first: int, stop: int) -> tuple[float, float]:
        spent = 0.0
        for xb, _ in batches.range(first, stop):
            rows = xb.shape[0]
            if rows not in operands:
                operands[rows] = [_gemm_operands(g, rows, dtype, rng) for g in products]
            t0 = time.perf_counter()
            for a, b, out in operands[rows]:
                np.matmul(a, b, out=out)
            spent += time.perf_counter() - t0
        return spent, math.nan

    return run


def cnn_step_memory(
    backend_name: str,
    batch: int,
    n_features: int,
    n_classes: int,
    image_shape: tuple[int, int],
    dtype: str = "float32",
) -> dict[str, int]:
    """Peak memory (tracemalloc, which sees NumPy's allocations) of the first training step of
    a fresh CNN (every layer allocating its reused buffers) and of the next (steady state),
    at ``batch``; with the parameter and gradient bytes for scale."""
    import numdl
    from numdl.nn.losses import SoftmaxCrossEntropy

    rng = np.random.default_rng(0)
    x = rng.random((batch, n_features)).astype(dtype)
    y = rng.integers(0, n_classes, batch)
    with numdl.use_backend(backend_name):
        model, optimizer = numdl_cnn_model(n_features, n_classes, image_shape, batch, dtype)
        loss_fn = SoftmaxCrossEntropy()

        def step() -> None:
            _, dlogits = loss_fn(model.forward(x), y)
            model.backward(dlogits, overwrite_grad=True)
            optimizer.step()

        step()  # compilation and one-off allocations (kernel caches) outside the traces
        model, optimizer = numdl_cnn_model(n_features, n_classes, image_shape, batch, dtype)
        first = traced_peak(step)[1]
        steady = traced_peak(step)[1]
    return {
        "first_step_bytes": first,
        "steady_step_bytes": steady,
        "params_and_grads_bytes": 2 * model.params.data.nbytes,
    }


def bench_cnn_epoch(
    torch: Any,
    modules: dict[str, Any],
    data_dir: str | None,
    repeats: int,
    max_steps: int | None,
    chunk: int = 16,
    *,
    batch: int = 256,
    dtype: str = "float32",
) -> dict[str, Any]:
    """One MNIST epoch of the CNN per implementation (numdl-numba, numdl-numpy, PyTorch),
    interleaved as :func:`bench_epoch`, against the GEMM floor of the whole step and of its
    convolutions; and the peak memory of one training step at batch 256 on numdl's backends."""
    dataset = load_epoch_data(data_dir)
    x = np.ascontiguousarray(dataset.train.X, dtype=dtype)
    y = np.ascontiguousarray(dataset.train.y, dtype=np.int64)
    n_features, n_classes = x.shape[1], dataset.n_classes
    image_shape = tuple(dataset.image_shape)
    steps = math.ceil(x.shape[0] / batch)
    if max_steps is not None:
        steps = min(steps, max_steps)
    samples = min(x.shape[0], steps * batch)
    batches = Batches(x, y, batch, steps)
    reference, ref_opt = numdl_cnn_model(n_features, n_classes, image_shape, batch, dtype)

    def runners() -> dict[str, Runner]:
        out: dict[str, Runner] = {}
        for name in ("numba", "numpy"):
            if name in modules:
                parts = numdl_cnn_model(n_features, n_classes, image_shape, batch, dtype)
                out[f"numdl-{name}"] = _training_runner(name, *parts)
        if torch is not None:
            out["torch"] = _torch_cnn_runner(
                torch, *numdl_cnn_model(n_features, n_classes, image_shape, batch, dtype)
            )
        out["GEMM floor"] = cnn_gemm_floor_runner(reference.config, batch, x.dtype)
        out["GEMM floor, convolutions"] = cnn_gemm_floor_runner(
            reference.config, batch, x.dtype, conv_only=True
        )
        return out

    seconds, first_loss = _interleaved(runners, batches, repeats, chunk, samples)
    log("  peak memory of a CNN training step at batch 256")
    memory = {
        f"numdl-{name}": cnn_step_memory(name, 256, n_features, n_classes, image_shape, dtype)
        for name in ("numba", "numpy")
        if name in modules
    }
    flops = sum(g.flops() for g in cnn_gemms(reference.config))
    cfg = reference.config
    return {
        "dataset": dataset.name,
        "synthetic": bool(dataset.synthetic),
        "samples": samples,
        "steps": steps,
        "chunk_steps": chunk,
        "full_epoch": max_steps is None,
        "model": f"{n_features}-conv{cfg['kernel_size']}x{cfg['kernel_size']}:"
        f"{'-'.join(map(str, cfg['channels']))}-{'-'.join(map(str, cfg['hidden']))}-"
        f"{n_classes} CNN (2x2 max pooling), {dtype}, batch {batch}, momentum SGD lr "
        f"{ref_opt.lr:g} β {ref_opt.momentum:g} wd {ref_opt.weight_decay:g}",
        "gemms": len(cnn_gemms(cfg)),
        "gemm_flops_per_sample": flops,
        "timings": {name: Timing(s, 1).to_json() for name, s in seconds.items()},
        "first_round_mean_loss": first_loss,
        "step_memory_batch_256": memory,
    }
