"""Chapter 2 — linear algebra: closed forms, defining identities and error paths."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.math import linalg as la

HYP = settings(max_examples=40, deadline=None, derandomize=True)
FLOATS = [np.float32, np.float64]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def low_rank(m: int, n: int, r: int, seed: int, dtype=np.float64) -> np.ndarray:
    """An m×n matrix of rank exactly r (generically) as a product (m×r)(r×n)."""
    g = rng(seed)
    return (g.standard_normal((m, r)) @ g.standard_normal((r, n))).astype(dtype)


# ------------------------------------------------------------------------------ shapes
def test_infer_shape_of_scalars_lists_and_arrays():
    assert la.infer_shape(3.0) == ()
    assert la.infer_shape([1, 2, 3]) == (3,)
    assert la.infer_shape([[1, 2, 3], [4, 5, 6]]) == (2, 3)
    assert la.infer_shape(np.zeros((2, 0, 4))) == (2, 0, 4)


def test_infer_shape_rejects_ragged_lists():
    with pytest.raises(TypeError, match="x must be array-like"):
        la.infer_shape([[1, 2], [3]])


def test_ensure_vector_and_matrix_return_the_array_itself():
    v, M = np.arange(3.0), np.eye(2)
    assert la.ensure_vector(v) is v
    assert la.ensure_matrix(M) is M
    assert la.ensure_vector([1, 2]).shape == (2,)


@pytest.mark.parametrize(
    ("func", "arg", "name", "message"),
    [
        (la.ensure_vector, np.eye(2), "weights", r"weights must be 1-D, got shape \(2, 2\)"),
        (la.ensure_vector, 1.0, "x", r"x must be 1-D, got shape \(\)"),
        (la.ensure_matrix, np.ones(3), "W", r"W must be 2-D, got shape \(3,\)"),
        (la.ensure_matrix, np.ones((1, 2, 3)), "X", r"X must be 2-D"),
    ],
)
def test_ensure_vector_and_matrix_name_the_argument(func, arg, name, message):
    with pytest.raises(ValueError, match=message):
        func(arg, name)


def test_check_same_shape():
    assert la.check_same_shape(np.ones((2, 3)), np.zeros((2, 3))) == (2, 3)
    with pytest.raises(ValueError, match=r"grad and param must have the same shape"):
        la.check_same_shape(np.ones((2, 3)), np.ones((3, 2)), a_name="grad", b_name="param")


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [((3, 1), (1, 4), (3, 4)), ((5, 4), (4,), (5, 4)), ((), (2, 3), (2, 3)), (3, (2, 1), (2, 3))],
)
def test_check_broadcastable_returns_the_broadcast_shape(a, b, expected):
    assert la.check_broadcastable(a, b) == expected


def test_check_broadcastable_errors():
    with pytest.raises(
        ValueError, match=r"a_shape \(3,\) and b_shape \(4,\) are not broadcastable"
    ):
        la.check_broadcastable((3,), (4,))
    with pytest.raises(ValueError, match=r"b_shape\[1\] must be >= 0"):
        la.check_broadcastable((3,), (1, -2))
    with pytest.raises(TypeError, match="a_shape must be a tuple of ints"):
        la.check_broadcastable("3", (3,))


# ---------------------------------------------------------------------------- products
def test_products_on_hand_examples():
    A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    B = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]])
    np.testing.assert_array_equal(
        la.mm(A, B), [[5.0, 2.0, -1.0], [11.0, 4.0, -3.0], [17.0, 6.0, -5.0]]
    )
    np.testing.assert_array_equal(la.mv(A, [1.0, -1.0]), [-1.0, -1.0, -1.0])
    assert la.vv([1.0, 2.0, 3.0], [4.0, -5.0, 6.0]) == 12.0
    # XW + b: every row of XW shifted by b (eq. 1).
    np.testing.assert_array_equal(
        la.affine_map(A, B, np.array([1.0, 1.0, 1.0])),
        [[6.0, 3.0, 0.0], [12.0, 5.0, -2.0], [18.0, 7.0, -4.0]],
    )


@pytest.mark.parametrize("dtype", FLOATS)
def test_products_keep_the_float_dtype(dtype):
    A = rng(1).standard_normal((4, 3)).astype(dtype)
    assert la.mm(A, A.T).dtype == dtype
    assert la.mv(A, np.ones(3, dtype)).dtype == dtype
    assert la.vv(A[0], A[1]).dtype == dtype
    assert la.affine_map(A, A.T, np.zeros(4, dtype)).dtype == dtype
    # an integer operand takes the dtype of its float partner
    assert la.mv(A, [1, 2, 3]).dtype == dtype


def test_integer_inputs_become_float64():
    out = la.mm([[1, 2]], [[3], [4]])
    assert out.dtype == np.float64
    assert out[0, 0] == 11.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: la.mm(np.ones((2, 3)), np.ones((2, 3))), r"B must have 3 rows"),
        (lambda: la.mm(np.ones(3), np.ones((3, 2))), r"A must be 2-D"),
        (lambda: la.mv(np.ones((2, 3)), np.ones(2)), r"v must have length 3"),
        (lambda: la.mv(np.ones((2, 3)), np.ones((3, 1))), r"v must be 1-D"),
        (lambda: la.vv(np.ones(3), np.ones(4)), r"b must have the length of a \(3\)"),
        (
            lambda: la.affine_map(np.ones((5, 3)), np.ones((4, 2)), np.ones(2)),
            r"W must have 3 rows",
        ),
        (
            lambda: la.affine_map(np.ones((5, 3)), np.ones((3, 2)), np.ones(3)),
            r"b must have shape \(2,\)",
        ),
        (
            lambda: la.affine_map(np.ones((5, 3)), np.ones((3, 2)), np.ones((1, 2))),
            r"b must have shape",
        ),
    ],
)
def test_products_check_dimensions_instead_of_broadcasting(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_products_reject_mixed_and_non_float_dtypes():
    with pytest.raises(TypeError, match=r"B must have the dtype of A \(float64\), got float32"):
        la.mm(np.ones((2, 2)), np.ones((2, 2), np.float32))
    with pytest.raises(TypeError, match="v must have dtype float32 or float64, got complex128"):
        la.mv(np.ones((2, 2)), np.ones(2, complex))
    with pytest.raises(TypeError, match="a must be a numeric array, got an object array"):
        la.vv(np.array([object(), object()]), np.ones(2))


def test_products_do_not_mutate_inputs():
    X, W, b = rng(2).standard_normal((4, 3)), rng(3).standard_normal((3, 2)), np.ones(2)
    copies = [X.copy(), W.copy(), b.copy()]
    la.affine_map(X, W, b)
    for before, after in zip(copies, [X, W, b], strict=True):
        np.testing.assert_array_equal(before, after)


# ------------------------------------------------------------------------------- norms
def test_norms_on_hand_examples():
    x = np.array([3.0, -4.0, 0.0])
    assert la.norm_l1(x) == 7.0
    assert la.norm_l2(x) == 5.0
    assert la.norm_frobenius([[1.0, -2.0], [2.0, 4.0]]) == 5.0  # √(1 + 4 + 4 + 16)
    assert la.norm_spectral(np.diag([2.0, -7.0, 3.0])) == pytest.approx(7.0, rel=1e-15)
    assert la.norm_l2(np.zeros(0)) == 0.0
    assert la.norm_l1([1, -2]) == 3.0  # integers converted


def test_norm_l2_does_not_overflow_or_underflow_in_float32():
    big = np.array([3e30, 4e30], np.float32)  # squares overflow float32 (max ≈ 3.4e38)
    tiny = np.array([3e-30, 4e-30], np.float32)  # squares underflow to 0
    assert la.norm_l2(big) == pytest.approx(5e30, rel=1e-6)
    assert la.norm_l2(tiny) == pytest.approx(5e-30, rel=1e-6)
    assert la.norm_frobenius(big.reshape(1, 2)) == pytest.approx(5e30, rel=1e-6)
    assert la.norm_l2(big).dtype == np.float32


def test_norm_l2_of_non_finite_vectors():
    assert la.norm_l2([1.0, np.inf]) == np.inf
    assert np.isnan(la.norm_l2([1.0, np.nan]))


@HYP
@given(m=st.integers(1, 6), n=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_spectral_norm_is_sqrt_of_largest_eigenvalue_of_AtA(m, n, seed):
    A = rng(seed).standard_normal((m, n))
    lam_max = np.max(np.linalg.eigvalsh(A.T @ A))
    assert la.norm_spectral(A) == pytest.approx(np.sqrt(lam_max), rel=1e-10)
    # ‖A‖₂ ≤ ‖A‖_F ≤ √rank ‖A‖₂
    assert la.norm_spectral(A) <= la.norm_frobenius(A) * (1 + 1e-12)
    assert la.norm_frobenius(A) <= np.sqrt(min(m, n)) * la.norm_spectral(A) * (1 + 1e-12)


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (lambda: la.norm_l1(np.ones((2, 2))), ValueError, "x must be 1-D"),
        (lambda: la.norm_l2(np.ones((2, 2))), ValueError, "x must be 1-D"),
        (lambda: la.norm_frobenius(np.ones(3)), ValueError, "A must be 2-D"),
        (lambda: la.norm_spectral(np.ones(3)), ValueError, "A must be 2-D"),
        (lambda: la.norm_spectral([[1.0, np.nan]]), ValueError, "A must contain only finite"),
        (lambda: la.norm_l2(["a", "b"]), TypeError, "x must have dtype float32 or float64"),
    ],
)
def test_norm_errors_name_the_argument(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


# ------------------------------------------------------------------------- SVD and pinv
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
@pytest.mark.parametrize("dtype", FLOATS)
def test_svd_thin_shapes_orthonormality_and_reconstruction(shape, dtype):
    A = rng(4).standard_normal(shape).astype(dtype)
    U, S, Vt = la.svd_thin(A)
    r = min(shape)
    assert (U.shape, S.shape, Vt.shape) == ((shape[0], r), (r,), (r, shape[1]))
    assert U.dtype == S.dtype == Vt.dtype == dtype
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(U.T @ U, np.eye(r), atol=tol)
    np.testing.assert_allclose(Vt @ Vt.T, np.eye(r), atol=tol)
    np.testing.assert_allclose((U * S) @ Vt, A, atol=tol * 10)
    assert np.all(np.diff(S) <= 0)
    assert np.all(S >= 0)


def test_condition_number_closed_forms():
    assert la.condition_number(np.diag([10.0, 2.0, 0.5])) == pytest.approx(20.0, rel=1e-14)
    assert la.condition_number(np.diag([-3.0, 1.5])) == pytest.approx(2.0, rel=1e-14)
    Q, _ = np.linalg.qr(rng(5).standard_normal((4, 4)))
    assert la.condition_number(Q) == pytest.approx(1.0, rel=1e-12)
    # rectangular: singular values of [[diag(4, 1)], [0 0]] are 4 and 1
    assert la.condition_number([[4.0, 0.0], [0.0, 1.0], [0.0, 0.0]]) == pytest.approx(4.0)
    assert la.condition_number(np.diag([1.0, 0.0])) == np.inf
    assert la.condition_number(np.zeros((2, 3))) == np.inf
    assert la.condition_number(np.diag([4.0, 2.0]).astype(np.float32)).dtype == np.float32


def test_condition_number_rejects_empty_and_non_finite():
    with pytest.raises(ValueError, match="A must be non-empty"):
        la.condition_number(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="A must contain only finite"):
        la.condition_number([[1.0, np.inf], [0.0, 1.0]])


def assert_penrose(A: np.ndarray, P: np.ndarray, tol: float) -> None:
    """The four Penrose conditions that define A⁺ uniquely, relative to the scale of each side."""
    scale_a, scale_p = np.max(np.abs(A)), np.max(np.abs(P))
    np.testing.assert_allclose(A @ P @ A, A, atol=tol * scale_a)  # (1) A A⁺ A = A
    np.testing.assert_allclose(P @ A @ P, P, atol=tol * scale_p)  # (2) A⁺ A A⁺ = A⁺
    np.testing.assert_allclose((A @ P).T, A @ P, atol=tol)  # (3) A A⁺ symmetric
    np.testing.assert_allclose((P @ A).T, P @ A, atol=tol)  # (4) A⁺ A symmetric


@HYP
@given(
    m=st.integers(1, 7),
    n=st.integers(1, 7),
    rank_drop=st.integers(0, 3),
    seed=st.integers(0, 2**16),
)
def test_pinv_satisfies_the_penrose_conditions_float64(m, n, rank_drop, seed):
    r = max(1, min(m, n) - rank_drop)  # rank_drop = 0: full rank; > 0: rank deficient
    A = low_rank(m, n, r, seed)
    P = la.pinv(A)
    assert P.shape == (n, m)
    assert P.dtype == np.float64
    # The random factors keep κ of the nonzero spectrum moderate, so 1e-8 is generous
    # for float64 (eps ≈ 2.2e-16).
    assert_penrose(A, P, 1e-8)
    assert np.linalg.matrix_rank(P) == r


@pytest.mark.parametrize(("m", "n", "r"), [(6, 4, 4), (4, 6, 4), (5, 5, 5), (6, 5, 2), (4, 7, 3)])
def test_pinv_satisfies_the_penrose_conditions_float32(m, n, r):
    A = low_rank(m, n, r, seed=m * 100 + n * 10 + r, dtype=np.float32)
    P = la.pinv(A)
    assert P.dtype == np.float32
    # float32 carries ~7 digits (eps ≈ 1.2e-7); the SVD and the products each lose a factor
    # of about κ(A)·max(m, n), so the residuals are ~1e-5 rather than ~1e-14.
    assert_penrose(A.astype(np.float64), P.astype(np.float64), 1e-3)
    # and agree with the float64 pseudoinverse of the same matrix under the same cutoff (the
    # float64 default would keep the ~1e-7 singular values that rounding to float32 created)
    rcond32 = max(m, n) * float(np.finfo(np.float32).eps)
    np.testing.assert_allclose(P, la.pinv(A.astype(np.float64), rcond=rcond32), atol=1e-3)


def test_pinv_cutoff_drops_tiny_singular_values():
    A = np.diag([2.0, 1e-20])
    np.testing.assert_array_equal(la.pinv(A), np.diag([0.5, 0.0]))
    # with no cutoff the tiny singular value is inverted
    assert la.pinv(A, rcond=0.0)[1, 1] == pytest.approx(1e20)
    # singular values ≤ rcond·σ_max are treated as zero; > is kept
    np.testing.assert_array_equal(la.pinv(np.diag([4.0, 1.0]), rcond=0.25), np.diag([0.25, 0.0]))
    np.testing.assert_array_equal(la.pinv(np.zeros((2, 3))), np.zeros((3, 2)))


def test_pinv_of_invertible_matrix_is_the_inverse():
    A = rng(6).standard_normal((4, 4)) + 4 * np.eye(4)
    np.testing.assert_allclose(la.pinv(A), np.linalg.inv(A), rtol=1e-10, atol=1e-12)


def test_pinv_rcond_validation():
    with pytest.raises(ValueError, match="rcond must be >= 0"):
        la.pinv(np.eye(2), rcond=-1e-3)
    with pytest.raises(TypeError, match="rcond must be a real number"):
        la.pinv(np.eye(2), rcond="small")


def test_lstsq_min_norm_on_an_underdetermined_system():
    g = rng(7)
    A = g.standard_normal((3, 6))
    b = g.standard_normal(3)
    x_star = la.lstsq_min_norm(A, b)
    np.testing.assert_allclose(A @ x_star, b, atol=1e-12)  # solves the system exactly
    # Every solution is x* + z with z in the null space of A; x* is orthogonal to all such z,
    # so ‖x* + z‖² = ‖x*‖² + ‖z‖² > ‖x*‖².
    _, _, Vt = np.linalg.svd(A)
    null_basis = Vt[3:].T  # (6, 3)
    for coeffs in g.standard_normal((20, 3)):
        other = x_star + null_basis @ coeffs
        np.testing.assert_allclose(A @ other, b, atol=1e-12)
        assert np.linalg.norm(other) > np.linalg.norm(x_star)
    np.testing.assert_allclose(null_basis.T @ x_star, 0, atol=1e-12)


def test_lstsq_min_norm_on_an_overdetermined_full_rank_system():
    g = rng(8)
    A = g.standard_normal((10, 3))
    B = g.standard_normal((10, 2))  # two right-hand sides
    expected, *_ = np.linalg.lstsq(A, B, rcond=None)
    np.testing.assert_allclose(la.lstsq_min_norm(A, B), expected, rtol=1e-10)
    np.testing.assert_allclose(la.lstsq_min_norm(A, B[:, 0]), expected[:, 0], rtol=1e-10)


def test_lstsq_min_norm_errors():
    with pytest.raises(ValueError, match=r"b must have 3 rows"):
        la.lstsq_min_norm(np.ones((3, 2)), np.ones(4))
    with pytest.raises(ValueError, match=r"b must be 1-D or 2-D"):
        la.lstsq_min_norm(np.ones((3, 2)), np.ones((3, 1, 1)))
    with pytest.raises(ValueError, match="b must contain only finite"):
        la.lstsq_min_norm(np.ones((3, 2)), [1.0, np.nan, 0.0])


# ----------------------------------------------------------------- trace and determinants
def test_trace():
    assert la.trace([[1.0, 9.0], [9.0, -4.0]]) == -3.0
    with pytest.raises(ValueError, match=r"A must be a square matrix, got shape \(2, 3\)"):
        la.trace(np.ones((2, 3)))


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("lower", [True, False])
def test_det_and_logdet_of_triangular_matrices(dtype, lower):
    g = rng(9)
    diag = g.uniform(0.5, 2.0, size=5) * np.array([1, -1, 1, -1, 1])  # det > 0: two negatives
    T = np.diag(diag) + g.standard_normal((5, 5)) * (
        np.tri(5, k=-1) if lower else np.tri(5).T - np.eye(5)
    )
    T = T.astype(dtype)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert la.det(T).dtype == dtype
    assert la.det(T) == pytest.approx(np.prod(diag), rel=rtol)
    assert la.logdet(T).dtype == dtype
    assert la.logdet(T) == pytest.approx(np.sum(np.log(np.abs(diag))), rel=rtol, abs=rtol)


def test_logdet_where_det_overflows_or_underflows():
    A = np.diag(np.full(200, 1e3))  # det = 1e600 overflows float64
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert la.det(A) == np.inf
        assert la.det(np.diag(np.full(200, 1e-3))) == 0.0
        assert la.logdet(A) == pytest.approx(200 * np.log(1e3), rel=1e-14)
        assert la.logdet(np.diag(np.full(200, 1e-3))) == pytest.approx(
            -200 * np.log(1e3), rel=1e-14
        )


@pytest.mark.parametrize(
    ("A", "message"),
    [
        (np.ones((2, 3)), r"A must be a square matrix"),
        (np.array([[1.0, 2.0], [2.0, 4.0]]), r"A is singular \(det\(A\) = 0\)"),
        (np.diag([1.0, 0.0]), r"A is singular"),
        (np.diag([2.0, -1.0]), r"A must have a positive determinant"),
        (np.array([[np.nan, 0.0], [0.0, 1.0]]), r"A must contain only finite"),
    ],
)
def test_logdet_errors(A, message):
    with pytest.raises(ValueError, match=message):
        la.logdet(A)


def test_det_of_singular_and_negative_matrices_is_returned_not_raised():
    assert la.det(np.diag([1.0, 0.0])) == 0.0
    assert la.det(np.diag([2.0, -1.0])) == pytest.approx(-2.0)
    with pytest.raises(ValueError, match="A must be a square matrix"):
        la.det(np.ones((3, 2)))


# ------------------------------------------------------------------------------------ PCA
def stretched_data(n: int = 400, seed: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Points spread 10× more along the unit direction u than across it, offset from 0."""
    g = rng(seed)
    u = np.array([1.0, 2.0, -2.0]) / 3.0
    coords = g.standard_normal((n, 3)) * np.array([10.0, 1.0, 1.0])
    Q, _ = np.linalg.qr(np.column_stack([u, g.standard_normal((3, 2))]))
    Q[:, 0] = u  # first column exactly u (QR may flip its sign)
    return coords @ Q.T + np.array([5.0, -3.0, 1.0]), u


def test_pca_top_component_recovers_the_stretch_direction():
    X, u = stretched_data()
    pca = la.PCA(1).fit(X)
    assert pca.components_.shape == (1, 3)
    assert abs(pca.components_[0] @ u) > 0.999  # same direction up to sign
    np.testing.assert_allclose(pca.mean_, X.mean(axis=0))
    assert pca.explained_variance_ratio_[0] > 0.9


def test_pca_full_rank_ratios_sum_to_one_and_reconstruction_is_exact():
    X = rng(11).standard_normal((30, 5)) @ rng(12).standard_normal((5, 5))
    pca = la.PCA(5)
    Z = pca.fit_transform(X)
    assert Z.shape == (30, 5)
    assert np.sum(pca.explained_variance_ratio_) == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(pca.inverse_transform(Z), X, atol=1e-10)
    # variances are the eigenvalues of the sample covariance, in decreasing order
    eig = np.sort(np.linalg.eigvalsh(np.cov(X, rowvar=False)))[::-1]
    np.testing.assert_allclose(pca.explained_variance_, eig, rtol=1e-10)
    np.testing.assert_allclose(pca.components_ @ pca.components_.T, np.eye(5), atol=1e-12)
    # scores are uncorrelated with the explained variances on the diagonal
    np.testing.assert_allclose(np.cov(Z, rowvar=False), np.diag(eig), atol=1e-9)


def test_pca_truncated_reconstruction_error_equals_discarded_variance():
    X = rng(13).standard_normal((50, 4)) * np.array([5.0, 3.0, 1.0, 0.5])
    full = la.PCA(4).fit(X)
    pca = la.PCA(2).fit(X)
    residual = X - pca.inverse_transform(pca.transform(X))
    discarded = np.sum(full.explained_variance_[2:]) * (X.shape[0] - 1)
    assert np.sum(residual**2) == pytest.approx(discarded, rel=1e-10)
    np.testing.assert_allclose(pca.explained_variance_ratio_, full.explained_variance_ratio_[:2])


def test_pca_components_have_a_deterministic_sign():
    X, _ = stretched_data()
    a = la.PCA(3).fit(X).components_
    b = la.PCA(3).fit(-X).components_  # negating the data flips the SVD's vectors
    np.testing.assert_allclose(a, b, atol=1e-12)
    assert np.all(a[np.arange(3), np.argmax(np.abs(a), axis=1)] > 0)


def test_pca_keeps_float32_and_does_not_mutate():
    X = rng(14).standard_normal((20, 3)).astype(np.float32)
    before = X.copy()
    pca = la.PCA(2)
    Z = pca.fit_transform(X)
    assert Z.dtype == pca.components_.dtype == pca.mean_.dtype == np.float32
    assert pca.inverse_transform(Z).dtype == np.float32
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize(
    ("k", "X", "exc", "message"),
    [
        (0, np.ones((4, 3)), ValueError, "n_components must be >= 1"),
        (2.0, np.ones((4, 3)), TypeError, "n_components must be an integer"),
        (
            4,
            rng(0).standard_normal((5, 3)),
            ValueError,
            r"n_components must be in \[1, min\(n, d\)\] = \[1, 3\]",
        ),
        (3, rng(0).standard_normal((2, 5)), ValueError, r"= \[1, 2\]"),
        (1, np.ones((1, 3)), ValueError, "X must have at least 2 rows"),
        (1, np.ones(3), ValueError, "X must be 2-D"),
        (1, np.ones((4, 3)), ValueError, "X has zero variance"),
    ],
)
def test_pca_validation(k, X, exc, message):
    with pytest.raises(exc, match=message):
        la.PCA(k).fit(X)


def test_pca_transform_errors():
    with pytest.raises(RuntimeError, match="not fitted"):
        la.PCA(1).transform(np.ones((2, 3)))
    pca = la.PCA(2).fit(rng(15).standard_normal((10, 3)))
    with pytest.raises(ValueError, match=r"X must have 3 columns"):
        pca.transform(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"Z must have 2 columns"):
        pca.inverse_transform(np.ones((2, 3)))
    with pytest.raises(TypeError, match="X must have the dtype of the data PCA was fitted on"):
        pca.transform(np.ones((2, 3), np.float32))
