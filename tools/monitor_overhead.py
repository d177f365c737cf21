"""What ``numdl train --monitor`` costs on MNIST (Table 1's model, numba backend): one run whose
monitor records only on every other epoch, so that epochs with and without recording
alternate under the same load; prints both medians and the monitor's own share of an epoch.
Usage: ``python tools/monitor_overhead.py [--every N] [--epochs E] [--data-dir DIR]``."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numdl
from numdl.app.cli import load_dataset
from numdl.app.config import TrainConfig
from numdl.app.monitor import DEFAULT_EVERY, Monitor
from numdl.app.training import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--every", type=int, default=DEFAULT_EVERY, help="steps per record")
    parser.add_argument("--epochs", type=int, default=9, help="epochs (odd: the first is warm-up)")
    parser.add_argument("--data-dir", default=None, help="MNIST directory (default as numdl)")
    args = parser.parse_args()
    numdl.set_backend("numba")
    dataset = load_dataset(
        "mnist", args.data_dir, validation_size=5000, seed=0, download=False, progress=False
    )
    steps = -(-len(dataset.train) // TrainConfig().batch_size)

    class Alternating(Monitor):
        """Records on even epochs only (0-based), and times its own work per epoch."""

        def __init__(self, every: int) -> None:
            super().__init__(every)
            self.spent: dict[int, float] = {}

        def due(self, step: int) -> bool:
            return (step // steps) % 2 == 0 and super().due(step)

        def before_step(self, model, x, step, epoch) -> None:
            t = time.perf_counter()
            super().before_step(model, x, step, epoch)
            self.spent[epoch] = self.spent.get(epoch, 0.0) + time.perf_counter() - t

        def after_step(self, model) -> None:
            epoch = self._pending[1]
            t = time.perf_counter()
            super().after_step(model)
            self.spent[epoch] += time.perf_counter() - t

    monitor = Alternating(args.every)
    with tempfile.TemporaryDirectory() as run_dir:
        result = train(
            TrainConfig(epochs=args.epochs),
            dataset,
            run_dir,
            progress=False,
            echo=lambda _: None,
            monitor=monitor,
        )
    seconds = {h["epoch"]: h["epoch_seconds"] for h in result["history"]}
    on = [s for e, s in seconds.items() if e % 2 == 1 and e > 1]  # 1-based odd: recorded
    off = [s for e, s in seconds.items() if e % 2 == 0]
    own = statistics.median(monitor.spent[e] / seconds[e] for e in monitor.spent if e > 1)
    ratio = statistics.median(on) / statistics.median(off) - 1
    print(f"--monitor {args.every}: epochs recorded {statistics.median(on):.3f} s, not recorded")
    print(f"{statistics.median(off):.3f} s (median): {100 * ratio:+.1f} %; the monitor's own")
    print(f"time: {100 * own:.2f} % of an epoch")


if __name__ == "__main__":
    main()
