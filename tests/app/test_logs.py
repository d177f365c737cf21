"""Tests for numdl.app.logs: the resumable CSV log."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from numdl.app.logs import (
    CSVLogger,
)


def _data(n: int = 100):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n)
    return X, y


# ----------------------------------------------------------------------------- CSV logging
def _read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_csv_logger_round_trip_and_resume(tmp_path):
    path = tmp_path / "log.csv"
    with CSVLogger(path, ["epoch", "loss"]) as log:
        log.log(epoch=1, loss=0.5)
        assert _read(path) == [["epoch", "loss"], ["1", "0.5"]]  # flushed immediately
        log.log(loss=np.float32(0.25), epoch=2)
    assert log.closed
    with CSVLogger(str(path), ("epoch", "loss")) as log:  # resume: no second header
        log.log(epoch=3, loss=0.125)
    rows = _read(path)
    assert rows == [["epoch", "loss"], ["1", "0.5"], ["2", "0.25"], ["3", "0.125"]]
    with open(path, newline="", encoding="utf-8") as f:
        records = list(csv.DictReader(f))
    assert [float(r["loss"]) for r in records] == [0.5, 0.25, 0.125]


def test_csv_logger_rejects_other_header(tmp_path):
    path = tmp_path / "log.csv"
    with CSVLogger(path, ["epoch", "loss"]) as log:
        log.log(epoch=1, loss=1.0)
    with pytest.raises(ValueError, match="differs from fieldnames"):
        CSVLogger(path, ["epoch", "acc"])
    assert _read(path) == [["epoch", "loss"], ["1", "1.0"]]  # untouched


def test_csv_logger_writes_header_into_empty_file(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with CSVLogger(path, ["a"]) as log:
        log.log(a=1)
    assert _read(path) == [["a"], ["1"]]


def test_csv_logger_row_and_field_errors(tmp_path):
    path = tmp_path / "log.csv"
    log = CSVLogger(path, ["epoch", "loss"])
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['acc'\]"):
        log.log(epoch=1, loss=0.1, acc=0.9)
    with pytest.raises(ValueError, match=r"missing field\(s\) \['loss'\]"):
        log.log(epoch=1)
    log.close()
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.log(epoch=1, loss=0.1)
    assert _read(path) == [["epoch", "loss"]]
    with pytest.raises(ValueError, match="fieldnames must be unique"):
        CSVLogger(tmp_path / "b.csv", ["a", "a"])
    with pytest.raises(ValueError, match="fieldnames must name at least one"):
        CSVLogger(tmp_path / "c.csv", [])
    with pytest.raises(TypeError, match="fieldnames must be a sequence of strings"):
        CSVLogger(tmp_path / "d.csv", "epoch")
    with pytest.raises(TypeError, match="fieldnames must be a sequence of strings"):
        CSVLogger(tmp_path / "e.csv", ["epoch", 1])


def test_csv_logger_in_a_missing_directory_names_path_and_directory(tmp_path):
    path = tmp_path / "no" / "such" / "log.csv"
    with pytest.raises(FileNotFoundError) as info:
        CSVLogger(path, ["epoch"])
    message = str(info.value)
    assert str(path) in message
    assert f"the directory {str(path.parent)!r} does not exist" in message
    assert not (tmp_path / "no").exists()  # not created: a mistyped directory stays an error


def test_csv_logger_rejects_a_directory_and_non_paths(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory") as info:
        CSVLogger(tmp_path, ["epoch"])
    assert str(tmp_path) in str(info.value)
    for bad in (None, 3, b"log.csv"):
        with pytest.raises(TypeError, match=r"path must be a str or os\.PathLike"):
            CSVLogger(bad, ["epoch"])


@pytest.mark.parametrize(
    "content", [b"\xff\xfe\x00binary\x00", b"epoch,loss\x00\n1,2\n", b'"' + b"x" * 300_000]
)
def test_csv_logger_refuses_an_existing_file_that_is_not_a_csv_log(tmp_path, content):
    path = tmp_path / "log.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"log\.csv") as info:
        CSVLogger(path, ["epoch", "loss"])
    assert str(path) in str(info.value)
    assert path.read_bytes() == content  # untouched
