"""The CNN epoch of ``numdl bench --only cnn``: numdl and PyTorch train the same CNN from the
same weights on the same batches (equal losses), its GEMM floor, the step's peak memory, and
the Markdown section."""

from __future__ import annotations

import numpy as np
import pytest

from numdl.bench.epoch import bench_cnn_epoch, cnn_gemms, numdl_cnn_model
from numdl.bench.ops import backend_modules
from numdl.bench.report import cnn_markdown


def test_cnn_gemms_are_the_kernels_products() -> None:
    model, _ = numdl_cnn_model(784, 10, (28, 28))
    gemms = {g.what: g for g in cnn_gemms(model.config)}
    # W·cols: (F, K)·(K, B·OH·OW)
    assert gemms["conv0 forward"].dims(256) == (16, 1 * 5 * 5, 256 * 28 * 28)
    assert gemms["conv1 forward"].dims(2) == (32, 16 * 5 * 5, 2 * 14 * 14)
    assert gemms["conv1 dW"].dims(2) == (32, 2 * 14 * 14, 16 * 5 * 5)  # dZ·colsᵀ
    assert gemms["conv1 dW"].b_t
    assert not gemms["conv1 dW"].a_t
    assert gemms["conv1 dcols"].dims(2) == (16 * 5 * 5, 32, 2 * 14 * 14)  # Wᵀ·dZ
    assert "conv0 dcols" not in gemms  # the input needs no gradient
    assert gemms["dense0 forward"].dims(3) == (3, 32 * 7 * 7, 128)
    assert gemms["dense0 dW"].dims(3) == (32 * 7 * 7, 3, 128)  # Aᵀ·dZ
    assert len(gemms) == 5 + 3 * 2
    # the flops are those of the products, whatever the layout
    assert gemms["conv1 dcols"].flops(2) == 2 * 32 * 400 * 2 * 196


@pytest.mark.slow  # generates 55,000 synthetic digits, and a step at batch 256: ~8 s
def test_cnn_epoch_matches_torch_and_reports_memory(tmp_path) -> None:
    torch = pytest.importorskip("torch")
    modules = {k: v for k, v in backend_modules().items() if k == "numpy"}
    cnn = bench_cnn_epoch(torch, modules, str(tmp_path), repeats=1, max_steps=2, batch=32)
    assert cnn["synthetic"] is True  # no MNIST in tmp_path: labelled as such
    assert cnn["samples"] == 64
    losses = cnn["first_round_mean_loss"]
    assert losses["torch"] == pytest.approx(losses["numdl-numpy"], rel=1e-4)
    assert 0 < losses["torch"] < 2 * np.log(10)
    assert {"GEMM floor", "GEMM floor, convolutions"} <= set(cnn["timings"])
    memory = cnn["step_memory_batch_256"]["numdl-numpy"]
    # the first step allocates the buffers (im2col columns of 256·784 x 25 floats alone are
    # 20 MB); the next reuses them
    assert memory["first_step_bytes"] > 256 * 784 * 25 * 4
    assert memory["steady_step_bytes"] < memory["first_step_bytes"]
    text = "\n".join(cnn_markdown(cnn))
    assert "SYNTHETIC data, not MNIST" in text
    assert "| numdl-numpy |" in text
    assert "| torch |" in text
    assert "first step (allocates the buffers)" in text
