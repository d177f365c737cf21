"""Side by side: numdl's NumPy reference, its Numba kernels and PyTorch CPU, against the machine.

``numdl bench`` (or ``python -m numdl.bench``) measures, in one process and on the same
inputs:

* every hot-path case of the op registry (:data:`numdl.testing.registry.CASES`) at its
  ``"mnist"`` and ``"large"`` shapes on the ``numpy`` backend (the reference), the ``numba``
  backend and, when it is installed, PyTorch CPU doing the same mathematics
  (``F.linear`` + ``relu`` with autograd, ``F.cross_entropy`` forward + ``autograd.grad``,
  ``torch.logsumexp`` / ``log_softmax``, ``torch.optim.SGD``/``AdamW`` with ``foreach=True``
  on one flat parameter);
* the machine's limits in the same run: memory bandwidth with all threads (STREAM-like
  copy, triad and in-place axpy in Numba ``prange`` loops, counting bytes read + written)
  and the GEMM rate (a 2048³ GEMM and the MNIST-shaped ones), so each op is also reported
  as a fraction of its roofline: ``bytes_moved / bandwidth`` for the memory-bound ops, the
  same GEMMs timed bare (on the same operands) for the linear layers;
* one MNIST training epoch (784-512-10 ReLU MLP, batch 256, momentum SGD lr 0.2 β 0.9,
  weight decay 1e-4 on the weights, float32) on numdl-numba, numdl-numpy and PyTorch
  (``nn.Sequential(Linear, ReLU, Linear)``, ``CrossEntropyLoss``, ``SGD(foreach=True)``,
  initialised with the same weights, fed the same batches gathered the same way), against
  the GEMM floor: the five matrix products of each step alone, over the same batches.

Timing: every implementation of one item is timed in turn, round after round (in a seeded
shuffled order each round), so a busy machine slows them alike; each sample is the mean of
enough calls to last ``min_sample`` seconds; the figure is the median over rounds, with the
min–max spread. Warm-up calls (JIT compilation, first touch of the outputs) come first and
are never timed. All libraries run with the same thread count (``--threads``, default: the
number of Numba threads, i.e. all cores).

The in-place optimiser updates mutate their inputs on every call; the work per call does
not change, which is all a timing needs. PyTorch's SGD/AdamW decay every entry of the
flat parameter, numdl the first ``n_decayed`` (the weights): the same memory traffic.
"""

from numdl.bench.driver import DESCRIPTION, add_arguments, main, run, run_from_args
from numdl.bench.timing import Timing, time_interleaved

__all__ = [
    "DESCRIPTION",
    "Timing",
    "add_arguments",
    "main",
    "run",
    "run_from_args",
    "time_interleaved",
]
