"""The textbook's mathematics, chapter by chapter, in plain vectorised NumPy.

- :mod:`~numdl.math.linalg`: chapter 2, linear algebra (eqs. 1–5) and PCA;
- :mod:`~numdl.math.probability`: chapter 3, distributions and moments;
- :mod:`~numdl.math.information`: chapter 3, entropy, cross-entropy and KL (eqs. 6–8);
- :mod:`~numdl.math.numerics`: chapter 4, floating point, stable reductions, gradient checks;
- :mod:`~numdl.math.sampling`: drawing from categorical distributions (Gumbel-max).

Import the chapter module (``from numdl.math import linalg as la``); this package exports
nothing itself.
"""
