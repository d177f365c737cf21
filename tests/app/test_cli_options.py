"""``numdl`` options: every bad value is one line ``numdl: ...``, exit 2, and nothing created;
every option's ``--help`` says what it does and its default exactly once."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numdl.app.config import DOMAINS, LIST_OPTIONS, TrainConfig
from numdl.app.parser import build_parser

SYN = ["train", "--dataset", "synthetic", "--hidden", "8", "--epochs", "1", "--backend", "numpy"]

#: (extra arguments, the option the message must name): each must be refused.
BAD_OPTIONS = [
    (["--lr", "-1"], "--lr"),
    (["--lr", "0"], "--lr"),
    (["--lr", "nan"], "--lr"),
    (["--lr", "1e39"], "--lr"),  # inf in float32
    (["--momentum", "1.5"], "--momentum"),
    (["--weight-decay", "-1"], "--weight-decay"),
    (["--weight-decay", "1e-50"], "--weight-decay"),  # 0 in float32
    (["--l1", "-1"], "--l1"),
    (["--l1", "1e-50"], "--l1"),  # 0 in float32
    (["--clip-grad-norm", "-0.5"], "--clip-grad-norm"),
    (["--clip-grad-norm", "inf"], "--clip-grad-norm"),
    (["--optimizer", "adamax"], "--optimizer"),
    (["--validation-size", "-1"], "--validation-size"),
    (["--validation-size", "10"], "--validation-size"),  # synthetic splits are fixed
    (["--dataset", "foo"], "--dataset"),
    (["--batch-size", "100000"], "--batch-size"),  # more than the 6000 training images
    (["--batch-size", "0"], "--batch-size"),
    (["--epochs", "0"], "--epochs"),
    (["--epochs", "2.5"], "--epochs"),
    (["--hidden", "16", "0"], "--hidden"),
    (["--seed", "-1"], "--seed"),
    (["--threads", "0"], "--threads"),
    (["--activation", "gelu"], "--activation"),
    (["--dtype", "float16"], "--dtype"),
    (["--optimizer", "sgd", "--momentum", "0.5"], "--momentum"),  # unused by sgd
    (["--optimizer", "nesterov", "--momentum", "0"], "--momentum"),
    (["--warmup-epochs", "0.5"], "--warmup-epochs"),  # unused by the constant schedule
    (["--schedule", "cosine", "--warmup-epochs", "1"], "--warmup-epochs"),  # not below 1 epoch
    (["--schedule", "cosine", "--lr-min", "1"], "--lr-min"),  # above --lr 0.2
    (["--max-shift", "3"], "--max-shift"),  # unused without --augment shift
    (["--augment", "shift", "--max-shift", "28"], "--max-shift"),  # the images are 28 x 28
    (["--data-dir", "."], "--data-dir"),  # synthetic data has no files
]


def _assert_refused(code: int, out: str, err: str, option: str) -> None:
    assert code == 2, err
    assert out == "", "nothing may be printed before the options are checked"
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("numdl: ")
    assert option in lines[0]
    assert "Traceback" not in err


@pytest.mark.parametrize(("extra", "option"), BAD_OPTIONS, ids=lambda v: " ".join(v))
def test_bad_option_is_one_line_exit_2_and_creates_nothing(
    numdl_main, tmp_path: Path, monkeypatch, extra: list[str], option: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = numdl_main(*SYN, *extra)
    _assert_refused(code, out, err, option)
    assert list(tmp_path.iterdir()) == [], "no run directory (nor runs/) may be created"


def test_out_that_is_a_file_is_refused(numdl_main, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("taken").write_text("not a directory")
    code, out, err = numdl_main(*SYN, "--out", "taken")
    _assert_refused(code, out, err, "--out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        (["--validation-size", "300"], "--validation-size"),  # all 300 training images
        (["--validation-size", "50", "--batch-size", "251"], "--batch-size"),  # split: 250
    ],
)
def test_rules_that_need_the_data_are_checked_before_anything_is_created(
    numdl_main, fake_mnist, tmp_path: Path, monkeypatch, extra: list[str], option: str
) -> None:
    data = fake_mnist(n_train=300)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = numdl_main(
        "train", "--data-dir", str(data), "--hidden", "8", "--backend", "numpy", *extra
    )
    _assert_refused(code, out, err, option)
    assert list(work.iterdir()) == []


@pytest.mark.parametrize("extra", [["--validation-size", "60000"], ["--batch-size", "100000"]])
def test_the_issue_examples_on_real_mnist(
    numdl_main, mnist_dir: Path, tmp_path: Path, monkeypatch, extra: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = numdl_main(
        "train", "--data-dir", str(mnist_dir), "--no-download", "--backend", "numpy", *extra
    )
    _assert_refused(code, out, err, extra[0])
    assert list(tmp_path.iterdir()) == []


def _outside(domain) -> st.SearchStrategy:
    """Values just outside ``domain`` and far from it (plus NaN and infinities for reals)."""
    low = domain.low if domain.low_open else domain.low - (1 if domain.kind is int else 1e-9)
    if domain.kind is int:
        below = st.integers(max_value=int(low))
        return below if domain.high is None else below | st.integers(min_value=domain.high + 1)
    below = st.floats(max_value=low, allow_nan=False) | st.sampled_from(
        [float("nan"), float("inf"), float("-inf")]
    )
    if domain.high is None:
        return below
    return below | st.floats(min_value=domain.high, exclude_min=not domain.high_open)


def _inside(domain) -> st.SearchStrategy:
    if domain.kind is int:
        return st.integers(min_value=int(domain.low) + domain.low_open, max_value=10**6)
    high = 1e6 if domain.high is None else domain.high
    return st.floats(
        min_value=domain.low,
        max_value=high,
        exclude_min=domain.low_open,
        exclude_max=domain.high_open,
    )


def _parse(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            build_parser().parse_args(list(argv))
        except SystemExit as exc:
            return int(exc.code), err.getvalue()
    return 0, err.getvalue()


@settings(max_examples=150, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(DOMAINS)))
def test_every_numeric_option_accepts_exactly_its_domain(data, name: str) -> None:
    """Drawn values on both sides of each option's bounds: outside is one line naming the
    option and its rule, exit 2; inside is accepted as that number."""
    domain, option = DOMAINS[name], "--" + name.replace("_", "-")
    bad = data.draw(_outside(domain), label="outside")
    code, err = _parse("train", f"{option}={bad}")
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith(f"numdl: argument {option}: ")
    assert domain.describe() in err
    good = data.draw(_inside(domain), label="inside")
    args = build_parser().parse_args(["train", f"{option}={good!r}"])
    got = getattr(args, name)
    listed = name in LIST_OPTIONS
    assert (got == [good]) if listed else (got == good and type(got) is domain.kind)


# ----------------------------------------------------------------------------------- --help
def _help_entries(text: str) -> dict[str, str]:
    """Option -> its whole help entry (continuation lines joined), from an argparse help."""
    entries: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        match = re.match(r"^  (-[-\w]+)", line)
        if match:
            current = match.group(1)
            entries[current] = line
        elif current and line.startswith("    "):
            entries[current] += " " + line.strip()
        else:
            current = None
    return {flag: " ".join(entry.split()) for flag, entry in entries.items()}


def _help(monkeypatch, *command: str) -> str:
    monkeypatch.setenv("COLUMNS", "100")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args([*command, "--help"])
    assert exit_info.value.code == 0
    return out.getvalue()


@pytest.mark.parametrize("command", [(), ("train",), ("evaluate",), ("predict",)])
def test_every_option_states_its_default_exactly_once(monkeypatch, command) -> None:
    entries = _help_entries(_help(monkeypatch, *command))
    assert entries, "no options found in the help"
    for flag, entry in entries.items():
        if flag in ("-h", "--version"):
            continue
        assert entry.count("(default: ") == 1, f"{flag}: {entry}"
        what = entry.split("(default: ")[0]
        assert len(what.split()) >= 3, f"{flag} does not say what it does: {entry}"


def test_train_help_lists_every_training_option_with_its_real_default(monkeypatch) -> None:
    entries = _help_entries(_help(monkeypatch, "train"))
    defaults = TrainConfig()
    for field in TrainConfig.__dataclass_fields__:
        if field == "data_dir":  # recorded by the run, given with --data-dir
            continue
        flag = "--" + field.replace("_", "-")
        assert flag in entries, f"{flag} missing from numdl train --help"
        value = getattr(defaults, field)
        shown = " ".join(map(str, value)) if isinstance(value, list) else str(value)
        assert f"(default: {shown})" in entries[flag], entries[flag]
        if field in DOMAINS:
            assert DOMAINS[field].describe() in entries[flag], "the rule belongs in --help"
    assert "--epochs" in entries["--resume"], "--resume must say which options it accepts"
