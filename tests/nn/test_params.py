"""Tests for numdl.nn.params: the flat parameter buffer, views, state dicts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.nn.models import MLP
from numdl.nn.params import Parameters, ParamSpec

GRAD_RTOL = 1e-6
KINK = 1e-3  # inputs to ReLU-like units are kept at least this far from 0


# --------------------------------------------------------------------- flat parameters
def test_parameter_views_share_memory_and_layout() -> None:
    model = MLP((3, 4, 2), dtype=np.float64, seed=0)
    p = model.params
    names = list(p)
    assert names == ["layer0.W", "layer0.b", "layer1.W", "layer1.b"]
    for name in names:
        assert np.shares_memory(p[name], p.data)
        assert np.shares_memory(p.grad_of(name), p.grad)
        assert not np.shares_memory(p[name], p.grad)
    w0, w1 = p["layer0.W"], p["layer1.W"]
    assert p.n_decayed == w0.size + w1.size == 3 * 4 + 4 * 2
    assert p.size == p.data.size == p.grad.size == 12 + 8 + 4 + 2
    # weights first (declaration order), then the biases
    np.testing.assert_array_equal(p.data[: p.n_decayed], np.concatenate([w0.ravel(), w1.ravel()]))
    p.data[:] = np.arange(p.size)
    np.testing.assert_array_equal(p["layer0.W"].ravel(), np.arange(12))
    np.testing.assert_array_equal(p["layer1.W"].ravel(), np.arange(12, 20))
    np.testing.assert_array_equal(p["layer0.b"], np.arange(20, 24))
    np.testing.assert_array_equal(p["layer1.b"], np.arange(24, 26))
    # the layers hold the same views
    layer0 = model.layers[0]
    assert np.shares_memory(layer0.W, p.data)
    assert np.shares_memory(layer0.dW, p.grad)
    np.testing.assert_array_equal(layer0.W, p["layer0.W"])
    p.grad[:] = 7
    np.testing.assert_array_equal(layer0.db, 7)


def test_writing_the_flat_buffer_changes_the_model() -> None:
    model = MLP((3, 4, 2), dtype=np.float64, seed=0)
    x = np.ones((2, 3))
    before = model.forward(x, train=False).copy()
    model.params.data[model.params.n_decayed :] += 1.0  # biases
    assert not np.allclose(model.forward(x, train=False), before)


def test_parameters_layout_for_custom_specs() -> None:
    specs = [
        ParamSpec("gain", (3,), decay=False),
        ParamSpec("W", (2, 3), decay=True),
        ParamSpec("bias", (3,), decay=False),
        ParamSpec("V", (3, 1), decay=True),
    ]
    p = Parameters(specs, dtype=np.float64)
    assert list(p) == ["gain", "W", "bias", "V"]
    assert len(p) == 4
    assert p.n_decayed == 9
    assert specs[1].size == 6
    p.data[:] = np.arange(p.size)
    np.testing.assert_array_equal(p["W"].ravel(), np.arange(6))
    np.testing.assert_array_equal(p["V"].ravel(), np.arange(6, 9))
    np.testing.assert_array_equal(p["gain"], np.arange(9, 12))
    np.testing.assert_array_equal(p["bias"], np.arange(12, 15))
    assert p.new_buffer().shape == (15,)
    assert "9 decayed" in repr(p)
    assert [n for n, _ in p.items()] == ["gain", "W", "bias", "V"]


def test_parameters_validation() -> None:
    with pytest.raises(ValueError, match="unique"):
        Parameters([ParamSpec("a", (2,), False), ParamSpec("a", (3,), False)])
    with pytest.raises(TypeError, match=r"^dtype must be float32 or float64"):
        Parameters([ParamSpec("a", (2,), False)], dtype=np.float16)
    p = Parameters([ParamSpec("a", (2,), False)])
    with pytest.raises(KeyError, match="no parameter named 'b'"):
        p["b"]


def _state(model: MLP) -> dict[str, np.ndarray]:
    return {name: np.array(arr) for name, arr in model.params.items()}


def test_state_dict_round_trip() -> None:
    src = MLP((3, 5, 2), dtype=np.float64, seed=1)
    dst = MLP((3, 5, 2), dtype=np.float64, seed=2)
    assert not np.array_equal(src.params.data, dst.params.data)
    state = src.params.state_dict()
    assert set(state) == set(src.params)
    state["layer0.W"] += 1  # host copies, not views
    assert not np.array_equal(state["layer0.W"], src.params["layer0.W"])
    dst.params.load_state_dict(src.params.state_dict())
    np.testing.assert_array_equal(dst.params.data, src.params.data)
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_array_equal(dst.forward(x, train=False), src.forward(x, train=False))
    # float64 state into a float32 model is converted
    f32 = MLP((3, 5, 2), dtype=np.float32, seed=3)
    f32.params.load_state_dict(src.params.state_dict())
    assert f32.params.data.dtype == np.float32
    np.testing.assert_allclose(f32.params.data, src.params.data, rtol=1e-7)


@pytest.mark.parametrize(
    ("edit", "exc", "pattern"),
    [
        (lambda s: s.pop("layer1.b"), ValueError, r"missing \['layer1.b'\]"),
        (lambda s: s.update(extra=np.zeros(2)), ValueError, r"unexpected \['extra'\]"),
        (lambda s: s.update({"layer1.b": np.zeros(3)}), ValueError, r"state\['layer1.b'\]"),
        (lambda s: s.update({"layer1.W": np.zeros((2, 5))}), ValueError, r"must have shape"),
        (lambda s: s.update({"layer1.b": np.zeros(2, int)}), TypeError, r"float array"),
    ],
    ids=["missing", "extra", "bias-shape", "weight-transposed", "int"],
)
def test_load_state_dict_rejects_and_writes_nothing(
    edit: Callable[[dict], Any], exc: type[Exception], pattern: str
) -> None:
    model = MLP((3, 5, 2), dtype=np.float64, seed=1)
    before = model.params.data.copy()
    state = {name: np.full(arr.shape, 9.0) for name, arr in model.params.items()}
    edit(state)
    with pytest.raises(exc, match=pattern):
        model.params.load_state_dict(state)
    np.testing.assert_array_equal(model.params.data, before)


BAD_ENTRIES = {
    "nan": (lambda shape: np.full(shape, np.nan), ValueError, "finite"),
    "inf": (lambda shape: np.full(shape, -np.inf), ValueError, "finite"),
    "overflow": (lambda shape: np.full(shape, 1e300), ValueError, "overflow"),
    "int": (lambda shape: np.zeros(shape, np.int64), TypeError, "float array"),
    "string": (lambda shape: np.full(shape, "a"), TypeError, "float array"),
    "shape": (lambda shape: np.zeros((*shape, 1)), ValueError, "must have shape"),
    "object": (lambda shape: np.full(shape, None, dtype=object), TypeError, "numeric array"),
}


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4),
    dtype=st.sampled_from([np.float32, np.float64]),
    bad=st.sampled_from(sorted(BAD_ENTRIES)),
    position=st.integers(0, 100),
)
def test_load_state_dict_rejects_a_bad_entry_anywhere(sizes, dtype, bad, position) -> None:
    """One bad entry, at any position of the state: the message names it and no parameter
    changes (60 draws of model, dtype, kind of bad value and position)."""
    model = MLP(sizes, dtype=dtype, seed=1)
    before = model.params.data.copy()
    names = list(model.params)
    name = names[position % len(names)]
    make, exc, pattern = BAD_ENTRIES[bad]
    if bad == "overflow" and dtype == np.float64:
        make, exc, pattern = BAD_ENTRIES["inf"]  # 1e300 fits float64: use inf there
    state = {n: np.full(model.params[n].shape, 0.5) for n in names}
    state[name] = make(model.params[name].shape)
    with pytest.raises(exc, match=rf"^state\[{name!r}\].*{pattern}"):
        model.params.load_state_dict(state)
    np.testing.assert_array_equal(model.params.data, before)


def test_load_state_dict_rejects_a_non_mapping_and_copies() -> None:
    model = MLP((3, 2), dtype=np.float64, seed=1)
    with pytest.raises(TypeError, match=r"^state must be a dict"):
        model.params.load_state_dict([np.zeros((3, 2)), np.zeros(2)])
    # loading arrays that alias the parameters themselves (swapped) gives the right values
    p = Parameters([ParamSpec("a", (2,), False), ParamSpec("b", (2,), False)], dtype=np.float64)
    p.data[:] = [1.0, 2.0, 3.0, 4.0]
    p.load_state_dict({"a": p["b"], "b": p["a"]})
    np.testing.assert_array_equal(p.data, [3.0, 4.0, 1.0, 2.0])
