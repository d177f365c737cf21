"""Chapter 2 — linear algebra: shape guards, products, norms, SVD, determinants and PCA.

Safe, well-typed wrappers around NumPy that check shapes explicitly (no silent broadcasting),
report which argument is wrong, and expose the matrix properties the later chapters reason
with (norms, condition numbers, pseudoinverses). Equation numbers refer to the textbook report
(``shared/seeds/002_*.txt``, section 3.1).

Every function accepts float32 and float64 arrays and returns results of the input's dtype.
Integer and boolean array-likes are converted to the float dtype of the other operands
(float64 when every operand is an integer array). Operands of different float dtypes are an
error rather than a silent promotion. Inputs are never mutated.

The package is split by topic: :mod:`~numdl.math.linalg.shapes` (shape guards),
:mod:`~numdl.math.linalg.products`, :mod:`~numdl.math.linalg.norms`,
:mod:`~numdl.math.linalg.decompositions` (SVD, pinv, least squares, determinants) and
:mod:`~numdl.math.linalg.pca`. Every public name is re-exported here, so
``from numdl.math import linalg as la; la.mm(A, B)`` is the way to use them.
"""

from numdl.math.linalg.decompositions import (
    condition_number,
    det,
    logdet,
    lstsq_min_norm,
    pinv,
    svd_thin,
    trace,
)
from numdl.math.linalg.norms import norm_frobenius, norm_l1, norm_l2, norm_spectral
from numdl.math.linalg.pca import PCA
from numdl.math.linalg.products import affine_map, mm, mv, vv
from numdl.math.linalg.shapes import (
    check_broadcastable,
    check_same_shape,
    ensure_matrix,
    ensure_vector,
    infer_shape,
)

__all__ = [
    "PCA",
    "affine_map",
    "check_broadcastable",
    "check_same_shape",
    "condition_number",
    "det",
    "ensure_matrix",
    "ensure_vector",
    "infer_shape",
    "logdet",
    "lstsq_min_norm",
    "mm",
    "mv",
    "norm_frobenius",
    "norm_l1",
    "norm_l2",
    "norm_spectral",
    "pinv",
    "svd_thin",
    "trace",
    "vv",
]
