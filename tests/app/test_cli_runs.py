"""What a ``numdl train`` run records and how later commands read it back: datasets named by
their checksums (else their directory), ``evaluate`` finding the run's data, ``--resume``
overrides and conflicts, Ctrl-C before the first epoch, one line per epoch off a terminal."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import numdl.app.plotting
import numdl.app.training
import numdl.data.mnist
from numdl.app.checkpoint import load_checkpoint, save_checkpoint
from numdl.data import MNIST_FILES, file_md5
from numdl.data.mnist import identify_dataset

TINY = ["--hidden", "8", "--batch-size", "64", "--backend", "numpy"]
SYN = ["--dataset", "synthetic", *TINY]
FAKE = [*TINY, "--validation-size", "50"]  # the fake datasets have 300 training images


def _raw_md5(path: Path) -> str:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        return hashlib.md5(handle.read(), usedforsecurity=False).hexdigest()


def _as_known(monkeypatch, name: str, directory: Path, *, raw: bool = False) -> None:
    """Make the files of ``directory`` the known checksums of dataset ``name``."""
    files = {stem: next(directory.glob(f"{stem}*")) for stem in MNIST_FILES}
    digest = _raw_md5 if raw else file_md5
    table = {stem: frozenset({digest(path)}) for stem, path in files.items()}
    known = {other: dict(table) for other in ("mnist", "fashion-mnist", "kmnist")}
    for other in known:  # the other datasets get checksums nothing here matches
        if other != name:
            known[other] = {stem: frozenset({"0" * 32}) for stem in MNIST_FILES}
    monkeypatch.setattr(numdl.data.mnist, "KNOWN_CHECKSUMS", known)


# -------------------------------------------------------------------- identify_dataset
def test_identify_dataset_by_checksums_of_all_four_files(fake_mnist, monkeypatch) -> None:
    data = fake_mnist("anything")
    assert identify_dataset(data) is None, "random files are no known dataset"
    _as_known(monkeypatch, "fashion-mnist", data)
    assert identify_dataset(data) == "fashion-mnist"
    fake_mnist("anything", seed=1)  # other content, same names
    assert identify_dataset(data) is None


@pytest.mark.parametrize("gz", [True, False])
def test_identify_dataset_by_uncompressed_content(fake_mnist, monkeypatch, gz: bool) -> None:
    """A known dataset recompressed (or uncompressed) is still recognised."""
    data = fake_mnist("recompressed", gz=gz)
    _as_known(monkeypatch, "kmnist", data, raw=True)
    assert identify_dataset(data) == "kmnist"


def test_identify_dataset_needs_all_four_files(fake_mnist, monkeypatch) -> None:
    data = fake_mnist("partial")
    _as_known(monkeypatch, "mnist", data)
    next(data.glob("t10k-labels*")).unlink()
    assert identify_dataset(data) is None


def test_the_real_datasets_are_recognised(mnist_dir: Path) -> None:
    assert identify_dataset(mnist_dir) == "mnist"
    debian = Path("/usr/share/datasets/fashion-mnist")  # apt-get install dataset-fashion-mnist
    if debian.is_dir():
        assert identify_dataset(debian) == "fashion-mnist"  # recompressed: by content


# ------------------------------------------------------------------------ naming a run
def _only_run(work: Path) -> Path:
    (run,) = (work / "runs").iterdir()
    return run


def test_a_fashion_mnist_directory_is_called_fashion_mnist_everywhere(
    numdl_main, fake_mnist, tmp_path: Path, monkeypatch
) -> None:
    data = fake_mnist("mystery")
    _as_known(monkeypatch, "fashion-mnist", data)
    titles: list[str] = []
    real_plot = numdl.app.plotting.plot_history

    def plot(history, path, *, title=""):
        titles.append(title)
        return real_plot(history, path, title=title)

    monkeypatch.setattr(numdl.app.plotting, "plot_history", plot)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = numdl_main("train", "--data-dir", "../data/mystery", "--epochs", "1", *FAKE)
    assert code == 0, err
    run = _only_run(work)
    assert run.name.startswith("fashion-mnist-")
    assert "training a 784-8-10 MLP on fashion-mnist" in out.splitlines()[0]
    config = json.loads((run / "config.json").read_text())
    assert config["dataset"] == "fashion-mnist"
    assert config["data_dir"] == str(data.absolute())
    assert Path(config["data_dir"]).is_absolute()
    assert json.loads((run / "test.json").read_text())["dataset"] == "fashion-mnist"
    meta = load_checkpoint(run / "best.npz").meta
    assert meta["dataset"]["name"] == "fashion-mnist"
    assert meta["train"]["data_dir"] == str(data.absolute())
    assert titles[0].startswith("fashion-mnist: ")


def test_unknown_files_are_named_by_their_directory(
    numdl_main, fake_mnist, tmp_path: Path, monkeypatch
) -> None:
    fake_mnist("my-digits")
    monkeypatch.chdir(tmp_path)
    code, out, err = numdl_main("train", "--dataset", "data/my-digits", "--epochs", "1", *FAKE)
    assert code == 0, err
    run = _only_run(tmp_path)
    assert run.name.startswith("my-digits-")
    assert json.loads((run / "config.json").read_text())["dataset"] == "my-digits"
    assert "1 epoch;" in out, "singular: '1 epoch', not '1 epochs'"


def test_a_named_dataset_whose_files_are_another_is_refused(
    numdl_main, fake_mnist, tmp_path: Path, monkeypatch
) -> None:
    data = fake_mnist("mystery")
    _as_known(monkeypatch, "fashion-mnist", data)
    monkeypatch.chdir(tmp_path)
    code, out, err = numdl_main("train", "--dataset", "mnist", "--data-dir", str(data), *FAKE)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "Fashion-MNIST" in err
    assert not (tmp_path / "runs").exists()


# ------------------------------------------------------------------- evaluate finds data
def test_evaluate_reads_the_data_the_run_used(
    numdl_main, fake_mnist, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.delenv("NUMDL_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "empty-cache"))
    data = fake_mnist("digits", n_test=120)
    monkeypatch.chdir(tmp_path)
    code, _, err = numdl_main(
        "train", "--data-dir", str(data), "--epochs", "1", "--out", "r", *FAKE
    )
    assert code == 0, err
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    best = str(tmp_path / "r" / "best.npz")

    code, out, err = numdl_main("evaluate", best, "--json", "--backend", "numpy")
    assert code == 0, err
    report = json.loads(out)
    assert report["dataset"] == "digits"
    assert np.array(report["confusion_matrix"]).sum() == 120
    trained = json.loads((tmp_path / "r" / "test.json").read_text())
    assert report["test_accuracy"] == trained["test_accuracy"], "the same test split"

    # a checkpoint that does not record its data directory: the run's config.json does
    ckpt = load_checkpoint(best)
    del ckpt.meta["train"]["data_dir"]
    save_checkpoint(best, ckpt)
    code, out, err = numdl_main("evaluate", best, "--json", "--backend", "numpy")
    assert code == 0, err

    # --data-dir still overrides the recorded directory
    other = fake_mnist("other", n_test=50, seed=3)
    code, out, err = numdl_main("evaluate", best, "--json", "--data-dir", str(other), *TINY[-2:])
    assert code == 0, err
    assert np.array(json.loads(out)["confusion_matrix"]).sum() == 50

    # the data moved: the message says where the run read them and what to do
    data.rename(tmp_path / "moved")
    code, out, err = numdl_main("evaluate", best, "--no-download", "--backend", "numpy")
    assert code == 2
    assert str(data) in err
    assert "--data-dir" in err
    assert "Traceback" not in err


def test_evaluate_after_train_data_dir_as_the_readme_shows(mnist_dir: Path, tmp_path: Path) -> None:
    """``numdl train --data-dir DIR`` then ``numdl evaluate RUN/best.npz``, as a user types it."""
    env = {k: v for k, v in os.environ.items() if k != "NUMDL_DATA_DIR"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "empty-cache"), PYTHONUNBUFFERED="1")

    def numdl(*args: str, cwd: Path) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "numdl", *args],
            cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    train = numdl("train", "--data-dir", str(mnist_dir), "--epochs", "1", "--out", "run",
                  "--no-download", *TINY, cwd=tmp_path)  # fmt: skip
    assert train.returncode == 0, train.stderr
    result = numdl("evaluate", str(tmp_path / "run" / "best.npz"), "--backend", "numpy",
                   cwd=Path("/"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("mnist: test accuracy")
    assert "on 10000 images" in result.stdout


def test_evaluate_a_synthetic_run_uses_its_own_digits(
    numdl_main, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = numdl_main("train", *SYN, "--seed", "3", "--epochs", "1", "--out", "run")
    assert code == 0, err
    code, out, err = numdl_main("evaluate", "run/best.npz", "--json", "--backend", "numpy")
    assert code == 0, err
    trained = json.loads(Path("run/test.json").read_text())
    assert json.loads(out)["test_accuracy"] == trained["test_accuracy"]
    code, _, err = numdl_main("evaluate", "run/best.npz", "--data-dir", ".")
    assert code == 2
    assert "--data-dir" in err


# ------------------------------------------------------------------------------ --resume
def test_resume_may_extend_the_epochs_and_matches_a_straight_run(
    numdl_main, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert numdl_main("train", *SYN, "--epochs", "2", "--out", "straight")[0] == 0
    assert numdl_main("train", *SYN, "--epochs", "1", "--out", "short")[0] == 0
    code, out, err = numdl_main("train", "--resume", "short", "--epochs", "2", *TINY[-2:])
    assert code == 0, err
    assert "from epoch 2 to 2" in out
    assert json.loads(Path("short/config.json").read_text())["epochs"] == 2
    assert len(Path("short/log.csv").read_text().splitlines()) == 3  # header + 2 epochs
    resumed, straight = load_checkpoint("short/last.npz"), load_checkpoint("straight/last.npz")
    assert resumed.meta["epoch"] == 2
    for name, value in straight.params.items():
        np.testing.assert_array_equal(resumed.params[name], value, err_msg=name)


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--lr", "0.01"], "--lr"),
        (["--hidden", "16"], "--hidden"),
        (["--dataset", "mnist"], "--dataset"),
        (["--epochs", "1"], "--epochs"),  # fewer than the 2 completed
        (["--out", "elsewhere"], "--out"),
    ],
)
def test_resume_refuses_conflicting_options_and_changes_nothing(
    numdl_main, tmp_path: Path, monkeypatch, extra: list[str], named: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert numdl_main("train", *SYN, "--epochs", "2", "--out", "run")[0] == 0
    before = {p.name: p.read_bytes() for p in Path("run").iterdir()}
    code, out, err = numdl_main("train", "--resume", "run", *extra)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("numdl: ")
    assert named in err
    assert {p.name: p.read_bytes() for p in Path("run").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_resume_accepts_options_equal_to_the_runs(numdl_main, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert numdl_main("train", *SYN, "--epochs", "1", "--out", "run")[0] == 0
    code, _, err = numdl_main("train", "--resume", "run", "--lr", "0.2", "--epochs", "2", *TINY)
    assert code == 0, err
    assert load_checkpoint("run/last.npz").meta["epoch"] == 2


def test_resume_cannot_stretch_a_cosine_schedule(numdl_main, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    args = [*SYN, "--schedule", "cosine", "--epochs", "1", "--out", "run"]
    assert numdl_main("train", *args)[0] == 0
    code, _, err = numdl_main("train", "--resume", "run", "--epochs", "2")
    assert code == 2
    assert "--epochs" in err
    assert "cosine" in err


# ------------------------------------------------------------------------------ Ctrl-C
def test_ctrl_c_in_the_first_epoch_leaves_nothing_and_no_resume_hint(
    numdl_main, tmp_path: Path, monkeypatch
) -> None:
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(numdl.app.training, "random_shift", interrupt)  # inside the first step
    monkeypatch.chdir(tmp_path)
    code, _, err = numdl_main("train", *SYN, "--augment", "shift", "--out", "runs/a/run")
    assert code == 130
    assert err.count("\n") == 1
    assert "before the first epoch completed" in err
    assert "--resume" not in err
    assert list(tmp_path.iterdir()) == [], "the run directory and the folders made for it go"


def test_ctrl_c_keeps_a_directory_that_was_there(numdl_main, tmp_path: Path, monkeypatch) -> None:
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(numdl.app.training, "random_shift", interrupt)
    monkeypatch.chdir(tmp_path)
    Path("mine").mkdir()
    Path("mine/notes.txt").write_text("the user's")
    code, _, err = numdl_main("train", *SYN, "--augment", "shift", "--out", "mine")
    assert code == 130, err
    assert sorted(p.name for p in Path("mine").iterdir()) == ["notes.txt"]


def test_real_sigint_before_the_first_epoch(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "slow"
    proc = subprocess.Popen(
        [sys.executable, "-m", "numdl", "train", "--dataset", "synthetic", "--batch-size", "1",
         "--hidden", "64", "--backend", "numpy", "--out", str(run)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (run / "config.json").exists() and proc.poll() is None:
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if (run / "last.npz").exists():
        pytest.skip("the first epoch finished before the interrupt arrived")
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "before the first epoch completed" in err
    assert "numdl train --resume" not in err
    assert list(tmp_path.iterdir()) == []


def test_resume_of_a_directory_without_checkpoint_is_a_clear_error(
    numdl_main, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("half").mkdir()
    Path("half/config.json").write_text("{}")
    code, _, err = numdl_main("train", "--resume", "half")
    assert code == 2
    assert "last.npz" in err


# ------------------------------------------------------------------------ off a terminal
def test_progress_to_a_pipe_is_one_line_per_epoch(tmp_path: Path) -> None:
    pytest.importorskip("tqdm")
    result = subprocess.run(
        [sys.executable, "-m", "numdl", "train", *SYN, "--epochs", "3", "--out", "run"],
        cwd=tmp_path, capture_output=True, text=True, timeout=240,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "no progress bar may be drawn into a pipe"
    lines = result.stdout.splitlines()
    assert [line.split("/")[0] for line in lines if line.startswith("epoch")] == [
        "epoch   1",
        "epoch   2",
        "epoch   3",
    ]
    assert len(lines) == 2 + 3 + 2  # header, one per epoch, test accuracy, curves
    assert "3 epochs;" in lines[1]
