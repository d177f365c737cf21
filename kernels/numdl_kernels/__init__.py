"""numdl_kernels: Numba implementations of numdl's hot paths.

Leaf code: imports NumPy and Numba only, never ``numdl``. ``numdl_kernels.cpu`` holds the
fused CPU kernels and ``numdl_kernels.cuda`` the CUDA ones; each exposes the functions of
``numdl.core.hotpaths`` with the same arguments, and each function's docstring names the
reference it must equal.
"""
