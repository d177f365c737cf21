"""The "cuda" backend where it cannot run: clear ImportErrors, and the active backend kept.

Also, without a GPU: every CUDA kernel still compiles to PTX for a real device (typing and
code generation for the hardware target, which the simulator does not exercise), where the
CUDA toolkit's NVVM is installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import subprocess
import sys
import textwrap

import numba.cuda
import pytest

import numdl

SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
HAS_CUPY = importlib.util.find_spec("cupy") is not None
CUDA_USABLE = not SIMULATOR and HAS_CUPY and numba.cuda.is_available()

needs_no_cuda = pytest.mark.skipif(
    CUDA_USABLE, reason="this machine has a GPU and CuPy: the cuda backend loads"
)


@needs_no_cuda
def test_set_backend_cuda_raises_and_keeps_backend():
    with numdl.use_backend("numpy"):
        before = numdl.get_backend()
        with pytest.raises(ImportError) as info:
            numdl.set_backend("cuda")
        message = str(info.value)
        assert "backend 'cuda' is not available" in message
        assert 'pip install "numdl[cuda]"' in message
        if not SIMULATOR and not numba.cuda.is_available():
            assert "NVIDIA GPU" in message
        assert numdl.get_backend() == before
        with pytest.raises(ImportError, match="numdl\\[cuda\\]"), numdl.use_backend("cuda"):
            pass  # pragma: no cover
        assert numdl.get_backend() == before


@needs_no_cuda
def test_process_default_unchanged_after_failed_set_backend():
    before = numdl.get_backend()
    with pytest.raises(ImportError):
        numdl.set_backend("cuda")
    assert numdl.get_backend() == before


def _forget_cuda_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(sys.modules):
        if name == "numdl_kernels.cuda" or name.startswith("numdl_kernels.cuda."):
            monkeypatch.delitem(sys.modules, name)


@pytest.mark.skipif(SIMULATOR or numba.cuda.is_available(), reason="needs a machine without GPU")
def test_import_without_gpu_says_so(monkeypatch):
    _forget_cuda_modules(monkeypatch)
    with pytest.raises(ImportError, match="NVIDIA GPU with a working CUDA driver"):
        importlib.import_module("numdl_kernels.cuda")


@pytest.mark.skipif(SIMULATOR, reason="the simulator does not need CuPy")
def test_import_without_cupy_names_the_extra(monkeypatch):
    """A GPU but no CuPy: the message names the extra and the CUDA 13 wheel."""
    monkeypatch.setattr(numba.cuda, "is_available", lambda: True)
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    _forget_cuda_modules(monkeypatch)
    with pytest.raises(ImportError) as info:
        importlib.import_module("numdl_kernels.cuda")
    message = str(info.value)
    assert 'pip install "numdl[cuda]"' in message
    assert "cupy-cuda13x" in message


# Compiles every kernel for sm_80 with Numba's CUDA target and exits 0, or 77 when the CUDA
# toolkit's NVVM is not installed (78: a numba.cuda whose internals this script does not know,
# e.g. a future numba-cuda). No GPU or CuPy is needed: both are stubbed for the import.
_PTX_SCRIPT = textwrap.dedent(
    """
    import sys, types
    import numpy as np
    from numba import cuda, types as T

    try:  # Numba internals: the built-in CUDA target's layout
        from numba.cuda.cudadrv.error import NvvmSupportError
        import numba.cuda.dispatcher as dispatcher
        dispatcher.get_current_device  # device functions ask it for the compute capability
    except (ImportError, AttributeError) as exc:
        print("unexpected numba.cuda layout:", exc)
        sys.exit(78)

    class FakeDevice:
        compute_capability = (8, 0)

    cuda.is_available = lambda: True
    dispatcher.get_current_device = lambda: FakeDevice()
    sys.modules["cupy"] = types.ModuleType("cupy")
    from numdl_kernels.cuda import conv, linear, optim, pooling, softmax

    def arr(dt, nd):
        return T.Array(dt, nd, "C")

    jobs = []  # (kernel, signature, whether float32 inputs must give float32-only code)
    for np_dt, f in ((np.float32, T.float32), (np.float64, T.float64)):
        dt = np.dtype(np_dt)
        f1, f2, loss = arr(f, 1), arr(f, 2), arr(T.float64, 1)
        single = f is T.float32
        jobs += [
            (linear._bias_relu_kernel, (f2, f1, T.boolean), single),
            (linear._mask_colsum_kernel(dt, 32, 8),
             (f2, f2, T.boolean, f2, T.boolean, T.int64, f2), single),
            (linear._sum_chunks_kernel, (f2, f1), single),
            (optim._momentum_kernel, (f1, f1, f1, f, f, f, T.boolean, T.int64), single),
            (optim._adamw_kernel, (f1, f1, f1, f1) + (f,) * 9 + (T.int64,), single),
            (softmax._neg_mean_kernel(256), (loss, f1), False),  # sums in float64
        ]
        i, f3, f4 = T.int64, arr(f, 3), arr(f, 4)
        jobs += [  # convolution and pooling
            (conv._im2col_kernel, (f4, i, i, i, i, i, i, f, f2), single),
            (conv._bias_act_nchw_kernel, (f2, f1, T.boolean, f, f3), single),
            (conv._mask_kernel, (f3, f3, T.boolean, f, f2), single),
            (conv._row_sum_kernel(dt, 256), (f2, i, f2), single),
            (conv._col2im_kernel, (f2, i, i, i, i, i, i, f, f4), single),
            (pooling._maxpool_kernel, (f4, i, i, i, i, i, i, f4, arr(i, 4)), single),
            (pooling._maxpool_backward_kernel, (f2, arr(i, 2), f, f2), single),
            (pooling._avgpool_kernel, (f4, i, i, i, i, i, i, f, f, f4), single),
            (pooling._avgpool_backward_kernel, (f4, i, i, i, i, i, i, f, f, f4), single),
        ]
        for tx, ty in ((32, 8), (256, 1), (1, 256)):
            lse, lsm, ce_labels, ce_soft = softmax._row_kernels(dt, tx, ty)
            jobs += [
                (lse, (f2, f1), single),
                (lsm, (f2, f2), single),
                (ce_labels, (f2, arr(T.int64, 1), T.boolean, f2, loss), False),
                (ce_labels, (f2, arr(T.int32, 1), T.boolean, f2, loss), False),
                (ce_soft, (f2, f2, T.boolean, f2, loss), False),  # loss sums in float64
            ]
    for kernel, sig, single in jobs:
        try:
            ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=(8, 0))
        except NvvmSupportError as exc:
            print("NVVM not available:", exc)
            sys.exit(77)
        assert ".entry" in ptx, kernel.__name__
        assert not (single and ".f64" in ptx), f"float64 code in float32 {kernel.__name__}"
    print("compiled", len(jobs))
    """
)


@pytest.mark.slow
@pytest.mark.skipif(CUDA_USABLE, reason="a GPU is present: run the kernels for real instead")
def test_cuda_kernels_compile_to_ptx():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run(
        [sys.executable, "-c", _PTX_SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    if proc.returncode == 77:
        pytest.skip("the CUDA toolkit's NVVM (libnvvm) is not installed")
    if proc.returncode == 78:
        pytest.skip(f"this numba.cuda is laid out differently: {proc.stdout.strip()}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "compiled 60" in proc.stdout
