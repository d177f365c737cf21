"""The application: training MNIST-format data from the command line.

- :mod:`~numdl.app.training`: the training loop (seeded, resumable, NaN-guarded);
- :mod:`~numdl.app.checkpoint`: atomic, pickle-free checkpoints;
- :mod:`~numdl.app.metrics`: accuracy, confusion matrix, per-class accuracy, the
  generalisation-gap diagnosis (ch. 5);
- :mod:`~numdl.app.logs`: the per-epoch CSV log;
- :mod:`~numdl.app.plotting`: learning curves;
- :mod:`~numdl.app.cli`: the ``numdl`` command (``train``, ``evaluate``, ``predict``, ``bench``).

Import the module you need (``from numdl.app.training import train``); this package exports
nothing itself, so ``import numdl.app.cli`` stays light.
"""
