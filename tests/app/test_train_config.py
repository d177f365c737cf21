"""The training configuration and loop: a configuration that exists can train, and ``train``
checks everything before it writes anything."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.app.config import CHOICES, DOMAINS, TrainConfig, TrainConfigError
from numdl.app.training import build, train
from numdl.data import load_synthetic_digits

#: Values for each option, valid and invalid mixed.
NUMBERS = st.one_of(
    st.integers(-3, 40),
    st.floats(-2, 3),
    st.sampled_from([0, 0.0, 1, 0.9999, 1e-50, 1e39, float("nan"), float("inf")]),
)
FIELDS = {
    "hidden": st.lists(st.integers(-1, 16), max_size=3),
    **{name: NUMBERS for name in DOMAINS if name != "hidden"},
    **{name: st.sampled_from([*choices, "bogus"]) for name, choices in CHOICES.items()},
}


@settings(max_examples=200, deadline=None)
@given(values=st.fixed_dictionaries({}, optional=FIELDS))
def test_a_configuration_that_exists_can_build_its_model_optimizer_and_schedule(values) -> None:
    try:
        config = TrainConfig(**values)
    except (TypeError, TrainConfigError) as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert any(name in message for name in FIELDS), f"the message names no option: {message}"
        return
    steps = 7
    model, _, schedule = build(config, 784, 10, steps)
    assert model.config["sizes"] == [784, *config.hidden, 10]
    rates = [schedule(t) for t in range(config.epochs * steps)]
    assert all(math.isfinite(r) and r >= 0 for r in rates)
    assert max(rates) <= config.lr


def test_rejected_configurations_name_the_field() -> None:
    for kwargs, name in [
        ({"lr": -1}, "lr"),
        ({"momentum": 1.0}, "momentum"),
        ({"optimizer": "adamw", "momentum": 0.5}, "momentum"),
        ({"schedule": "cosine", "epochs": 2, "warmup_epochs": 2}, "warmup_epochs"),
        ({"lr": 1e39}, "lr"),
        ({"hidden": []}, "hidden"),
        ({"batch_size": 2.0}, "batch_size"),
    ]:
        with pytest.raises((TypeError, TrainConfigError), match=name):
            TrainConfig(**kwargs)


def test_train_checks_the_data_before_writing_anything(tmp_path: Path) -> None:
    started: list[bool] = []
    run = tmp_path / "a" / "run"
    with pytest.raises(TrainConfigError, match="batch_size"):
        train(
            TrainConfig(hidden=[8], epochs=1, batch_size=100_000),
            load_synthetic_digits(),
            run,
            progress=False,
            on_start=lambda: started.append(True),
        )
    assert started == []
    assert list(tmp_path.iterdir()) == []


def test_train_calls_on_start_once_then_writes_the_run(tmp_path: Path) -> None:
    seen: list[bool] = []
    run = tmp_path / "run"
    train(
        TrainConfig(hidden=[8], epochs=1, batch_size=256),
        load_synthetic_digits(n_train=512, n_val=64, n_test=64),
        run,
        progress=False,
        echo=lambda line: None,
        on_start=lambda: seen.append(run.exists()),
    )
    assert seen == [False], "on_start comes before the run directory is created"
    assert (run / "last.npz").is_file()
