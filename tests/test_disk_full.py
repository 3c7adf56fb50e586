"""A full disk is one line that names the file it could not write, and loses nothing."""
import errno
import json
import os

import pytest
from click.testing import CliRunner

from numbarnn import checkpoints
from numbarnn_cli.main import cli


def full_disk(monkeypatch, fail_on):
    """Make every atomic write of a file named ``fail_on`` fail as on a full disk."""
    real_fsync = os.fsync
    target = {}

    def fsync(fd):
        if target.get("name") == fail_on:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    real_mkstemp = checkpoints.tempfile.mkstemp

    def mkstemp(prefix, suffix, dir):
        target["name"] = suffix[1:]
        return real_mkstemp(prefix=prefix, suffix=suffix, dir=dir)

    monkeypatch.setattr(checkpoints.os, "fsync", fsync)
    monkeypatch.setattr(checkpoints.tempfile, "mkstemp", mkstemp)


def test_write_atomic_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    path = tmp_path / "last.safetensors"
    path.write_bytes(b"old")
    full_disk(monkeypatch, "last.safetensors")
    with pytest.raises(OSError) as info:
        checkpoints.write_atomic(path, b"new")
    assert info.value.filename == str(path)
    assert "No space left on device" in str(info.value)
    assert "the previous last.safetensors is intact" in str(info.value)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["last.safetensors"]  # no temporary left


def test_a_missing_directory_is_named_by_the_path_given(tmp_path):
    # (not by the temporary file that the write would have gone through)
    path = tmp_path / "missing" / "forecast.csv"
    with pytest.raises(OSError) as info:
        checkpoints.write_atomic(path, "x")
    assert info.value.filename == str(path) and info.value.errno == errno.ENOENT
    assert "nothing was replaced" in str(info.value)
    result = CliRunner().invoke(cli, ["train-series", "--epochs", "1", "--members", "1", "-q",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(cli, ["forecast", str(tmp_path / "run"), "-o", str(path)])
    assert result.exit_code == 2
    assert result.output.strip() == (f"Error: {path}: could not be written (No such file or "
                                     "directory); nothing was replaced"), result.output


def test_a_full_disk_during_training_is_one_line_and_keeps_the_checkpoints(tmp_path,
                                                                         monkeypatch):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 40)
    out = tmp_path / "run"
    args = ["train-text", str(corpus), "--hidden", "8", "--batch-size", "4", "--seq-len", "8",
            "--eval-every", "5", "--sample", "0", "--out", str(out), "-q"]
    assert CliRunner().invoke(cli, [*args, "--steps", "5"]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.suffix == ".safetensors"}
    full_disk(monkeypatch, "last.safetensors")
    result = CliRunner().invoke(cli, [*args, "--steps", "10", "--resume"])
    assert result.exit_code == 2
    line = result.output.strip()
    assert line.count("\n") == 0 and str(out / "last.safetensors") in line
    assert "No space left on device" in line and "the previous last.safetensors is intact" in line
    for name, data in before.items():
        if name == "last.safetensors":
            assert (out / name).read_bytes() == data
    assert json.loads((out / "metrics.json").read_text())["steps"] >= 5
