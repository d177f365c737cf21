"""The application: training MNIST-format data from the command line.

- :mod:`~numdl.app.training`: the training loop (seeded, resumable, NaN-guarded);
- :mod:`~numdl.app.checkpoint`: atomic, pickle-free checkpoints;
- :mod:`~numdl.app.metrics`: accuracy, confusion matrix, per-class accuracy, the
  generalisation-gap diagnosis (ch. 5);
- :mod:`~numdl.app.logs`: the per-epoch CSV log;
- :mod:`~numdl.app.plotting`: learning curves and the report's figures;
- :mod:`~numdl.app.monitor`: the training-dynamics monitor (``--monitor``) and its files;
- :mod:`~numdl.app.report`: the run's self-contained HTML page (``numdl report``);
- :mod:`~numdl.app.boundary`: decision regions of a model of points in the plane;
- :mod:`~numdl.app.study` (the grid), :mod:`~numdl.app.study_runner` (trainings in parallel
  processes), :mod:`~numdl.app.study_results`, :mod:`~numdl.app.study_plots`: studies;
- :mod:`~numdl.app.cli`: the ``numdl`` command (``train``, ``evaluate``, ``predict``,
  ``boundary``, ``study``, ``report``, ``bench``).

Import the module you need (``from numdl.app.training import train``); this package exports
nothing itself, so ``import numdl.app.cli`` stays light.
"""
