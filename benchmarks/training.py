"""One MNIST training epoch per backend, and the accuracy a fixed short run reaches.

The textbook report's Table 1 model (784-512-10 ReLU MLP, batch 256, float32, momentum SGD
lr 0.2, weight decay 1e-4) trained by :func:`numdl.app.training.train` exactly as ``numdl
train`` does. Needs the real MNIST files (``NUMDL_DATA_DIR``, or the numdl cache); without
them these benchmarks are skipped rather than run on synthetic data.
"""

from __future__ import annotations

import dataclasses
import tempfile

import numdl
from numdl.app.config import TrainConfig
from numdl.app.training import evaluate, train
from numdl.data import Split

from .common import BACKENDS, backend, load_real_mnist


def _one_epoch(dataset, backend_name: str) -> dict:
    with (
        tempfile.TemporaryDirectory(prefix="numdl-bench-") as run_dir,
        numdl.use_backend(backend_name),
    ):
        config = TrainConfig(epochs=1, seed=0)
        return train(config, dataset, run_dir, progress=False, echo=lambda line: None)


def _prepare(backend_name: str):
    """The MNIST dataset, after a warm-up run on a slice of it (JIT compilation, caches)."""
    backend(backend_name)
    dataset = load_real_mnist()
    head = dataclasses.replace(
        dataset,
        train=Split(dataset.train.X[:600], dataset.train.y[:600]),
        val=Split(dataset.val.X[:300], dataset.val.y[:300]),
    )
    _one_epoch(head, backend_name)
    return dataset


class MnistEpoch:
    """Wall-clock seconds of the training loop of one epoch (55,000 images, 215 steps).

    Measured once per run (a ``track_``): validation and checkpoint writing are excluded, as
    in ``log.csv``'s ``epoch_seconds``.
    """

    params = (BACKENDS,)
    param_names = ("backend",)
    timeout = 900
    unit = "seconds"

    def setup(self, backend_name: str) -> None:
        self.dataset = _prepare(backend_name)

    def track_epoch_seconds(self, backend_name: str) -> float:
        return _one_epoch(self.dataset, backend_name)["history"][0]["epoch_seconds"]


class MnistAccuracy:
    """Test accuracy (%) after one epoch, seed 0, on the ``numba`` backend.

    Guards the speed figures: a change that makes training faster but wrong shows here.
    """

    timeout = 900
    unit = "%"

    def setup(self) -> None:
        self.dataset = _prepare("numba")

    def track_test_accuracy(self) -> float:
        model = _one_epoch(self.dataset, "numba")["model"]
        with numdl.use_backend("numba"):
            _, acc = evaluate(model, self.dataset.test.X, self.dataset.test.y)
        return 100.0 * acc
