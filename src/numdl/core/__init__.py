"""The bottom layer: the backend switch and the hot-path contract.

- :mod:`~numdl.core.backend`: which implementation of the hot paths runs (``numpy``,
  ``numba``, ``cuda`` or a registered one), process-wide or per block;
- :mod:`~numdl.core.hotpaths`: the hot paths written once in plain NumPy, one module per
  family (``linear``, ``softmax``, ``optim``) — the specification every kernel must equal, and
  the ``numpy`` backend itself;
- :mod:`~numdl.core.ops`: the validated public entry points, one module per family, that
  check arguments once (the same errors on every backend) and dispatch;
- :mod:`~numdl.core.validation`: the argument checks every public function shares.

Nothing here imports from the rest of numdl. User code reaches these through the
top-level :mod:`numdl` (``numdl.set_backend``, ``numdl.cross_entropy``, …).
"""
