"""The vectorisable exp of numdl_kernels.cpu.vexp against NumPy, over the whole domain.

exp32 is measured in float32 ulps against np.exp evaluated in float64 (≈ 2^-29 relative
error, far below a float32 ulp, so it stands in for the exact value); exp64 in float64 ulps
against np.exp in np.longdouble (x87 80-bit, 64-bit significand: 11 bits beyond float64).
The ulp of a result is the spacing of the format at the reference value, and 2^-149 /
2^-1074 throughout the subnormal range, so gradual underflow is measured in units of the
smallest subnormal.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest

from numdl_kernels.cpu.vexp import exp32, exp64, from_order_key, order_key

MAX_ULP = 2.0

# Largest x whose e^x rounds to a finite float32, smallest whose e^x rounds above 0, and the
# largest whose e^x rounds to a subnormal (found by scanning float32 patterns with np.exp in
# float64; checked in test_thresholds_are_the_correctly_rounded_ones).
F32_EXP_MAX = np.uint32(0x42B17217).view(np.float32)  # 88.72283
F32_EXP_MIN = np.uint32(0xC2CFF1B4).view(np.float32)  # -103.97208
F32_SUBNORMAL_MAX = np.uint32(0xC2AEAC50).view(np.float32)  # -87.33655

longdouble_is_extended = np.finfo(np.longdouble).nmant >= 63


@numba.njit(cache=True)
def _apply32(x, out):
    for i in range(x.size):
        out[i] = exp32(x[i])
    return out


@numba.njit(cache=True)
def _apply64(x, out):
    for i in range(x.size):
        out[i] = exp64(x[i])
    return out


@numba.njit(cache=True)
def _keys_roundtrip(x, keys, back):
    for i in range(x.size):
        keys[i] = order_key(x[i])
        back[i] = from_order_key(keys[i])


def vexp32(x):
    x = np.ascontiguousarray(x, dtype=np.float32).ravel()
    return _apply32(x, np.empty_like(x))


def vexp64(x):
    x = np.ascontiguousarray(x, dtype=np.float64).ravel()
    return _apply64(x, np.empty_like(x))


def ulp_error_f32(x):
    """|exp32(x) − e^x| in float32 ulps of e^x (e^x from float64); requires finite e^x."""
    y = vexp32(x).astype(np.float64)
    ref = np.exp(x.astype(np.float64))
    spacing = np.spacing(ref.astype(np.float32)).astype(np.float64)
    return np.abs(y - ref) / spacing


def ulp_error_f64(x):
    """|exp64(x) − e^x| in float64 ulps of e^x (e^x from np.longdouble)."""
    y = vexp64(x).astype(np.longdouble)
    ref = np.exp(x.astype(np.longdouble))
    spacing = np.spacing(ref.astype(np.float64)).astype(np.longdouble)
    return (np.abs(y - ref) / spacing).astype(np.float64)


def f32_patterns(lo_bits, hi_bits, step):
    return np.arange(lo_bits, hi_bits, step, dtype=np.uint32).view(np.float32)


# ------------------------------------------------------------------------------ float32
def test_exp32_ulp_over_whole_domain():
    # Every 128th bit pattern of [−103.97, 88.72] (both signs, all exponents, 17M points)
    # plus random patterns: the result of every finite-result input is within 2 ulps.
    pos = f32_patterns(0, int(F32_EXP_MAX.view(np.uint32)) + 1, 128)
    neg = f32_patterns(0x80000000, int(F32_EXP_MIN.view(np.uint32)) + 1, 128)
    rng = np.random.default_rng(20240601)
    rand = rng.uniform(float(F32_EXP_MIN), float(F32_EXP_MAX), 1 << 20).astype(np.float32)
    for x in (pos, neg, rand):
        err = ulp_error_f32(x)
        worst = int(np.argmax(err))
        assert err[worst] <= MAX_ULP, f"{err[worst]:.3f} ulp at x={x[worst]!r}"
    # The bound is not slack: most results are correctly rounded.
    assert np.mean(vexp32(rand) == np.exp(rand.astype(np.float64)).astype(np.float32)) > 0.85


def test_thresholds_are_the_correctly_rounded_ones():
    def exp_f32(x):
        with np.errstate(over="ignore"):
            return np.exp(np.float64(x)).astype(np.float32)

    up, down = np.float32(np.inf), np.float32(-np.inf)
    assert np.isfinite(exp_f32(F32_EXP_MAX))
    assert np.isinf(exp_f32(np.nextafter(F32_EXP_MAX, up)))
    assert exp_f32(F32_EXP_MIN) > 0
    assert exp_f32(np.nextafter(F32_EXP_MIN, down)) == 0
    tiny = np.finfo(np.float32).smallest_normal
    assert exp_f32(F32_SUBNORMAL_MAX) < tiny <= exp_f32(np.nextafter(F32_SUBNORMAL_MAX, up))


def test_exp32_overflow_and_underflow_thresholds():
    # All patterns within 4096 ulps of each threshold: inf/0 exactly where the correctly
    # rounded result is, and finite results within the ulp bound.
    for centre in (F32_EXP_MAX, F32_EXP_MIN):
        bits = int(centre.view(np.uint32))
        x = f32_patterns(bits - 4096, bits + 4096, 1)
        with np.errstate(over="ignore"):
            ref = np.exp(x.astype(np.float64)).astype(np.float32)
        y = vexp32(x)
        np.testing.assert_array_equal(np.isinf(y), np.isinf(ref))
        np.testing.assert_array_equal(y == 0, ref == 0)
        finite = np.isfinite(ref)
        assert np.max(ulp_error_f32(x[finite])) <= MAX_ULP
    assert np.isfinite(vexp32(F32_EXP_MAX)[0])
    assert vexp32(np.nextafter(F32_EXP_MAX, np.float32(np.inf)))[0] == np.inf


def test_exp32_subnormal_results():
    # e^x subnormal for x in [−103.97, −87.34]: every pattern there, in units of 2^-149.
    lo = int(F32_SUBNORMAL_MAX.view(np.uint32))
    x = f32_patterns(lo, int(F32_EXP_MIN.view(np.uint32)) + 1, 1)
    y = vexp32(x)
    assert np.all(y < np.finfo(np.float32).smallest_normal)
    assert np.all(y > 0)
    assert np.max(ulp_error_f32(x)) <= MAX_ULP
    assert vexp32(np.float32(-103.9))[0] == np.finfo(np.float32).smallest_subnormal


def test_exp32_special_values():
    x = np.array(
        [0.0, -0.0, np.inf, -np.inf, 1e30, -1e30, 3.4e38, -3.4e38, 1e-30, -1e-45, 1.0],
        dtype=np.float32,
    )
    y = vexp32(x)
    assert y.dtype == np.float32
    # exp(±0) = 1 exactly; overflow → inf, underflow → 0; e correctly rounded.
    expected = [1, 1, np.inf, 0, np.inf, 0, np.inf, 0, 1, 1, np.float32(np.e)]
    np.testing.assert_array_equal(y, np.array(expected, dtype=np.float32))


def test_exp32_nan_propagates():
    nans = np.array([0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FFFFFFF], dtype=np.uint32)
    assert np.all(np.isnan(vexp32(nans.view(np.float32))))


# ------------------------------------------------------------------------------ float64
@pytest.mark.skipif(not longdouble_is_extended, reason="needs an extended np.longdouble")
def test_exp64_ulp_over_whole_domain():
    # Bit patterns every 2^42 from 0 to ±(overflow/underflow threshold), random points
    # across the domain, around the reduction boundaries and in the subnormal range.
    hi = int(np.float64(709.78).view(np.uint64))
    lo = int(np.float64(745.13).view(np.uint64))
    rng = np.random.default_rng(7)
    samples = (
        np.arange(0, hi, 1 << 42, dtype=np.uint64).view(np.float64),
        -np.arange(0, lo, 1 << 42, dtype=np.uint64).view(np.float64),
        rng.uniform(-745.13, 709.78, 1 << 20),
        rng.uniform(-0.5, 0.5, 1 << 18),
        rng.uniform(-745.13, -708.4, 1 << 18),  # subnormal results
    )
    for x in samples:
        err = ulp_error_f64(x)
        worst = int(np.argmax(err))
        assert err[worst] <= MAX_ULP, f"{err[worst]:.3f} ulp at x={x[worst]!r}"


def test_exp64_thresholds_and_special_values():
    top = np.float64(709.782712893384)  # largest x with exp(x) ≤ DBL_MAX
    bottom = np.float64(-745.1332191019411)  # smallest x with exp(x) > 0 (2^-1074)
    with np.errstate(over="ignore"):
        assert np.isfinite(np.exp(top))
        assert np.exp(np.nextafter(top, np.inf)) == np.inf
    assert np.isfinite(vexp64(top)[0])
    assert vexp64(np.nextafter(top, np.inf))[0] == np.inf
    assert vexp64(bottom)[0] == np.finfo(np.float64).smallest_subnormal
    assert vexp64(np.nextafter(bottom, -np.inf))[0] == 0.0
    x = np.array([0.0, -0.0, np.inf, -np.inf, 1e300, -1e300, 1e-300, 1.0, np.nan, -np.nan])
    y = vexp64(x)
    np.testing.assert_array_equal(y[:7], [1, 1, np.inf, 0, np.inf, 0, 1])
    assert abs(y[7] - np.e) <= MAX_ULP * np.spacing(np.e)
    assert np.all(np.isnan(y[8:]))


# --------------------------------------------------------------------------- order keys
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_order_key_sorts_like_floats_and_round_trips(dtype):
    rng = np.random.default_rng(3)
    x = np.concatenate(
        [
            [0.0, -0.0, np.inf, -np.inf, np.finfo(dtype).max, -np.finfo(dtype).max],
            [np.finfo(dtype).smallest_subnormal, -np.finfo(dtype).smallest_subnormal],
            rng.standard_normal(1000) * 10.0 ** rng.integers(-40, 38, 1000),
        ]
    ).astype(dtype)
    ints = np.int32 if dtype == np.float32 else np.int64
    keys = np.empty(x.size, dtype=ints)
    back = np.empty_like(x)
    _keys_roundtrip(x, keys, back)
    np.testing.assert_array_equal(back.view(ints), x.view(ints))  # bit-exact, −0 kept
    order = np.argsort(keys, kind="stable")
    assert np.all(np.diff(x[order]) >= 0)
