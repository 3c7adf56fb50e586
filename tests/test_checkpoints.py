"""Tests of ``numbarnn.checkpoints``: round trips, strict loading, atomic writes, run dirs.

A checkpoint must come back exactly; anything else handed to ``load_checkpoint``
(missing, truncated, foreign, pickled, newer) must give one clear
``CheckpointError`` and execute nothing; a failed write must leave the previous
file whole and no temporary file behind.
"""
import json
import os
import pickle
import struct

import numpy as np
import pytest

from numbarnn import checkpoints
from numbarnn.checkpoints import (CheckpointError, load_checkpoint, save_checkpoint, write_atomic,
                                  write_json)
from numbarnn.runs.run_dir import prepare_run_dir, run_kind

META = {"config": {"hidden": 8, "cell": "lstm", "lr": 0.002}, "vocab": ["a", "é", "\n"],
        "step": 12, "scaler": [1.5, -0.25], "flag": None}


def sample_tensors():
    rng = np.random.default_rng(0)
    return {
        "weight_ih_l0": rng.normal(size=(8, 3)).astype(np.float32),
        "bias_hh_l0": rng.normal(size=8),
        "tokens": np.arange(6, dtype=np.int64).reshape(2, 3),
        "small_ints": np.array([-1, 0, 7], np.int32),
        "one": np.array([2.5]),
    }


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "model.safetensors"
    save_checkpoint(path, sample_tensors(), META, kind="text")
    return path


def listing(directory):
    return sorted(os.listdir(directory))


# --------------------------------------------------------------------------- round trip
def test_round_trip_keeps_tensors_and_metadata(saved):
    tensors, metadata = load_checkpoint(saved, "text")
    expected = sample_tensors()
    assert set(tensors) == set(expected)
    for name, value in expected.items():
        assert tensors[name].dtype == value.dtype, name
        assert tensors[name].shape == value.shape, name
        np.testing.assert_array_equal(tensors[name], value)
    assert metadata == META


def test_round_trip_with_str_path_and_non_contiguous_input(tmp_path):
    path = str(tmp_path / "c.safetensors")
    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    save_checkpoint(path, {"t": base.T, "s": base[:, ::2]}, {}, kind="series")
    tensors, metadata = load_checkpoint(path, "series")
    np.testing.assert_array_equal(tensors["t"], base.T)
    np.testing.assert_array_equal(tensors["s"], base[:, ::2])
    assert metadata == {}


def test_round_trip_keeps_a_0d_array(tmp_path):
    path = tmp_path / "c.safetensors"
    save_checkpoint(path, {"scalar": np.array(2.5)}, {}, kind="text")
    tensors, _ = load_checkpoint(path, "text")
    assert tensors["scalar"].shape == ()
    assert tensors["scalar"] == 2.5


def test_save_refuses_non_finite_metadata(tmp_path):
    path = tmp_path / "c.safetensors"
    with pytest.raises(ValueError):
        save_checkpoint(path, {"a": np.zeros(2)}, {"loss": float("nan")}, kind="text")
    assert listing(tmp_path) == []


# ------------------------------------------------------------------------- strict loading
def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "nope.safetensors", "text")


def test_directory(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory"):
        load_checkpoint(tmp_path, "text")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.safetensors"
    path.write_bytes(b"")
    with pytest.raises(CheckpointError, match="0 bytes long"):
        load_checkpoint(path, "text")


def test_checkpoint_error_is_a_value_error():
    assert issubclass(CheckpointError, ValueError)


def test_truncated_file_at_many_points(saved, tmp_path):
    data = saved.read_bytes()
    (header_size,) = struct.unpack("<Q", data[:8])
    cuts = sorted({1, 7, 8, 9, 8 + header_size // 2, 8 + header_size - 1, 8 + header_size,
                   8 + header_size + 1, (8 + header_size + len(data)) // 2, len(data) - 1})
    for cut in cuts:
        path = tmp_path / f"cut{cut}.safetensors"
        path.write_bytes(data[:cut])
        with pytest.raises(CheckpointError, match=r"truncated|not a safetensors") as info:
            load_checkpoint(path, "text")
        assert str(path) in str(info.value), cut


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes(tmp_path, seed):
    path = tmp_path / "noise.bin"
    path.write_bytes(np.random.default_rng(seed).bytes(300))
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_checkpoint(path, "text")


def test_text_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, this is not a checkpoint at all\n" * 4)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_checkpoint(path, "text")


def test_foreign_safetensors_file(tmp_path):
    from safetensors.numpy import save_file

    path = tmp_path / "foreign.safetensors"
    save_file({"w": np.ones((2, 2), np.float32)}, str(path))
    with pytest.raises(CheckpointError, match="not a numbarnn checkpoint"):
        load_checkpoint(path, "text")
    save_file({"w": np.ones(2)}, str(path), metadata={"format": "pt"})
    with pytest.raises(CheckpointError, match="not a numbarnn checkpoint"):
        load_checkpoint(path, "text")


def test_wrong_kind(saved):
    with pytest.raises(CheckpointError, match="'text' checkpoint, expected 'series'"):
        load_checkpoint(saved, "series")


def write_with_header(path, metadata, tensors=None):
    """A safetensors file with the given ``__metadata__`` (str -> str)."""
    from safetensors.numpy import save_file

    save_file(tensors or {"w": np.zeros(3)}, str(path), metadata=metadata)


@pytest.mark.parametrize("version", [str(checkpoints.FORMAT_VERSION + 1), "99"])
def test_newer_format_version(tmp_path, version):
    path = tmp_path / "new.safetensors"
    write_with_header(path, {"format": "numbarnn", "format_version": version, "kind": "text",
                             "metadata": "{}"})
    with pytest.raises(CheckpointError, match="upgrade numbarnn"):
        load_checkpoint(path, "text")


@pytest.mark.parametrize("version", ["one", ""])
def test_unreadable_format_version(tmp_path, version):
    path = tmp_path / "odd.safetensors"
    write_with_header(path, {"format": "numbarnn", "format_version": version, "kind": "text",
                             "metadata": "{}"})
    with pytest.raises(CheckpointError, match="checkpoint format"):
        load_checkpoint(path, "text")


def test_current_format_version_written_and_read(tmp_path):
    path = tmp_path / "ok.safetensors"
    write_with_header(path, {"format": "numbarnn", "format_version": str(checkpoints.FORMAT_VERSION),
                             "kind": "text", "metadata": '{"a": 1}'})
    tensors, metadata = load_checkpoint(path, "text")
    assert metadata == {"a": 1}
    np.testing.assert_array_equal(tensors["w"], np.zeros(3))


@pytest.mark.parametrize("version", range(1, checkpoints.FORMAT_VERSION + 1))
def test_every_format_version_up_to_the_current_is_written_and_read(tmp_path, version):
    path = tmp_path / "ok.safetensors"
    checkpoints.save_checkpoint(path, {"w": np.ones(2)}, {"a": 1}, "text", version=version)
    raw = path.read_bytes()
    header = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
    assert header["__metadata__"]["format_version"] == str(version)
    assert load_checkpoint(path, "text")[1] == {"a": 1}


@pytest.mark.parametrize("version", [0, checkpoints.FORMAT_VERSION + 1])
def test_a_format_version_this_code_cannot_write(tmp_path, version):
    with pytest.raises(ValueError, match="version"):
        checkpoints.save_checkpoint(tmp_path / "x.safetensors", {}, {}, "text", version=version)
    assert not (tmp_path / "x.safetensors").exists()


@pytest.mark.parametrize("metadata", ["{not json", None])
def test_malformed_metadata_block(tmp_path, metadata):
    path = tmp_path / "bad.safetensors"
    header = {"format": "numbarnn", "format_version": "1", "kind": "text"}
    if metadata is not None:
        header["metadata"] = metadata
    write_with_header(path, header)
    with pytest.raises(CheckpointError, match="malformed checkpoint"):
        load_checkpoint(path, "text")


def write_raw(path, header, body=b""):
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + body)


NUMBARNN_META = {"format": "numbarnn", "format_version": "1", "kind": "text", "metadata": "{}"}


@pytest.mark.parametrize("header", [
    [1, 2, 3],
    {"__metadata__": NUMBARNN_META,
     "w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}},      # 8 bytes described as 4
], ids=["json-list", "bad-offsets"])
def test_malformed_header(tmp_path, header):
    path = tmp_path / "bad.safetensors"
    write_raw(path, header, b"\0" * 4)
    with pytest.raises(CheckpointError):
        load_checkpoint(path, "text")


# Hand-crafted headers that break _read_header/load_checkpoint with a raw exception.
CRAFTED_BUGS = [
    {"__metadata__": NUMBARNN_META,
     "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, "x"]}},
    {"__metadata__": NUMBARNN_META, "w": {"dtype": "F32", "shape": [1], "data_offsets": 4}},
    {"__metadata__": ["numbarnn"]},
    {"__metadata__": {**NUMBARNN_META, "format_version": None}},
]


@pytest.mark.parametrize("header", CRAFTED_BUGS,
                         ids=["offset-str", "offset-int", "metadata-list", "version-null"])
def test_crafted_header_gives_checkpoint_error(tmp_path, header):
    path = tmp_path / "crafted.safetensors"
    write_raw(path, header, b"\0" * 4)
    with pytest.raises(CheckpointError):
        load_checkpoint(path, "text")


class _Marker:
    """Unpickling this calls ``open(path, 'w')``: it would create the marker file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("protocol", [0, 2, pickle.HIGHEST_PROTOCOL])
def test_pickle_is_refused_and_never_executed(tmp_path, protocol):
    marker = tmp_path / "EXECUTED"
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"weights": _Marker(str(marker))}, protocol=protocol))
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_checkpoint(path, "text")
    assert not marker.exists()


# -------------------------------------------------------------------------- atomic writes
def test_write_atomic_bytes_and_text(tmp_path):
    path = tmp_path / "f.bin"
    write_atomic(path, b"\x00\x01binary")
    assert path.read_bytes() == b"\x00\x01binary"
    write_atomic(str(path), "tëxt\n")
    assert path.read_bytes() == "tëxt\n".encode("utf-8")
    assert listing(tmp_path) == ["f.bin"]


def test_write_atomic_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_atomic("rel.txt", "x")
    assert (tmp_path / "rel.txt").read_text() == "x"
    assert listing(tmp_path) == ["rel.txt"]


class Boom(RuntimeError):
    pass


def fail(*args, **kwargs):
    raise Boom("simulated failure")


@pytest.mark.parametrize("where", ["fsync", "replace", "write"])
def test_failed_write_atomic_keeps_previous_file(tmp_path, monkeypatch, where):
    path = tmp_path / "metrics.json"
    path.write_text("previous")
    if where == "write":                     # the disk fills up half-way through
        real_fdopen = os.fdopen

        class HalfWriter:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                self.f.write(data[:len(data) // 2])
                self.f.flush()
                raise OSError(28, "No space left on device")

        monkeypatch.setattr(checkpoints.os, "fdopen",
                            lambda fd, mode: HalfWriter(real_fdopen(fd, mode)))
        expected = OSError
    else:
        monkeypatch.setattr(checkpoints.os, where, fail)
        expected = Boom
    with pytest.raises(expected):
        write_atomic(path, "new content that is longer than before")
    monkeypatch.undo()
    assert path.read_text() == "previous"
    assert listing(tmp_path) == ["metrics.json"]


@pytest.mark.parametrize("where", ["fsync", "replace"])
def test_failed_save_checkpoint_keeps_previous_checkpoint(saved, monkeypatch, where):
    before = saved.read_bytes()
    monkeypatch.setattr(checkpoints.os, where, fail)
    with pytest.raises(Boom):
        save_checkpoint(saved, {"other": np.ones(100)}, {"step": 99}, kind="text")
    monkeypatch.undo()
    assert saved.read_bytes() == before
    assert listing(saved.parent) == [saved.name]
    tensors, metadata = load_checkpoint(saved, "text")
    assert metadata == META


def test_keyboard_interrupt_during_write_cleans_up(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.safetensors"
    path.write_bytes(b"old")

    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.os, "fsync", interrupt)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, b"new")
    monkeypatch.undo()
    assert path.read_bytes() == b"old"
    assert listing(tmp_path) == ["ckpt.safetensors"]


def test_write_json(tmp_path):
    path = tmp_path / "metrics.json"
    obj = {"loss": [2.5, 1.25], "name": "ünï", "nested": {"steps": 3, "ok": True, "x": None}}
    write_json(path, obj)
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == obj
    assert text.endswith("\n") and "\n  " in text            # indented, one final newline
    write_json(path, [1, 2])                                  # overwrites
    assert json.loads(path.read_text()) == [1, 2]
    assert listing(tmp_path) == ["metrics.json"]


def test_write_json_refuses_nan_and_keeps_previous(tmp_path):
    path = tmp_path / "metrics.json"
    write_json(path, {"loss": 1.0})
    with pytest.raises(ValueError):
        write_json(path, {"loss": float("nan")})
    assert json.loads(path.read_text()) == {"loss": 1.0}
    assert listing(tmp_path) == ["metrics.json"]


# ---------------------------------------------------------------------------- run dirs
def test_new_run_dir_is_created(tmp_path):
    path = tmp_path / "runs" / "first"
    prepare_run_dir(path)
    assert path.is_dir() and listing(path) == []


def test_empty_existing_dir_is_accepted(tmp_path):
    path = tmp_path / "run"
    path.mkdir()
    prepare_run_dir(path)
    prepare_run_dir(str(path))
    assert path.is_dir()


def test_dir_with_only_hidden_files_counts_as_empty(tmp_path):
    (tmp_path / ".DS_Store").write_text("")
    prepare_run_dir(tmp_path)


def test_existing_run_is_refused_without_flags(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(ValueError) as info:
        prepare_run_dir(tmp_path)
    message = str(info.value)
    assert "--resume" in message and "--force" in message and str(tmp_path) in message
    assert (tmp_path / "metrics.json").read_text() == "{}"


def earlier_run(path):
    """An earlier run's outputs (and a user's own files) in ``path``: {relative path: text}."""
    files = {name: "old" for name in ("metrics.json", "model.safetensors", "best.safetensors",
                                      "sweep.csv", "forecast.csv", "trials/a/s.safetensors",
                                      "trials/a/s.json", "series/x.json")}
    files.update({"notes.txt": "mine", "series/mine.txt": "mine"})
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    return files


def visible(path):
    return {p.relative_to(path).as_posix(): p.read_text() for p in path.rglob("*")
            if p.is_file() and ".replaced" not in p.parts}


def test_force_removes_what_runs_write_and_nothing_else(tmp_path):
    """A stale best model of the earlier run must not pass for the new run's."""
    earlier_run(tmp_path)
    assert prepare_run_dir(tmp_path, force=True) is None
    assert visible(tmp_path) == {"notes.txt": "mine", "series/mine.txt": "mine"}
    assert not (tmp_path / "trials").exists() and not (tmp_path / ".replaced").exists()


def test_a_forced_run_that_writes_a_checkpoint_replaces_the_earlier_one(tmp_path):
    earlier_run(tmp_path)
    earlier = prepare_run_dir(tmp_path, force=True, keep_earlier=True)
    assert visible(tmp_path) == {"notes.txt": "mine", "series/mine.txt": "mine"}
    (tmp_path / "series").mkdir(exist_ok=True)
    (tmp_path / "series" / "b.safetensors").write_text("new")
    (tmp_path / "series" / "b.json").write_text("new")
    assert earlier.settle() is False
    assert earlier.settle() is False  # (nothing left to do)
    assert visible(tmp_path) == {"notes.txt": "mine", "series/mine.txt": "mine",
                                 "series/b.safetensors": "new", "series/b.json": "new"}
    assert not (tmp_path / ".replaced").exists()


def test_a_forced_run_without_a_checkpoint_puts_the_earlier_one_back(tmp_path):
    before = earlier_run(tmp_path)
    earlier = prepare_run_dir(tmp_path, force=True, keep_earlier=True)
    (tmp_path / "series").mkdir(exist_ok=True)
    (tmp_path / "series" / "new.json").write_text("new")  # (a failed series' result)
    (tmp_path / "metrics.json").write_text("new")
    earlier.settle()
    assert visible(tmp_path) == before and not (tmp_path / ".replaced").exists()


def test_a_killed_start_over_is_settled_before_the_next_run(tmp_path):
    # killed before it stored a result: the earlier run comes back first, so a new run
    # without --force is refused as over any run, and a failed start over keeps it
    before = earlier_run(tmp_path)
    prepare_run_dir(tmp_path, force=True, keep_earlier=True)  # ... and the process dies
    (tmp_path / "metrics.json").write_text("half")
    with pytest.raises(ValueError, match="already holds a run"):
        prepare_run_dir(tmp_path)
    assert visible(tmp_path) == before and not (tmp_path / ".replaced").exists()
    prepare_run_dir(tmp_path, force=True, keep_earlier=True).settle()
    assert visible(tmp_path) == before


def test_a_killed_start_over_that_stored_a_result_is_the_run_to_resume(tmp_path):
    earlier_run(tmp_path)
    prepare_run_dir(tmp_path, force=True, keep_earlier=True)  # ... killed after a save
    (tmp_path / "last.safetensors").write_text("b")
    (tmp_path / "metrics.json").write_text("b")
    prepare_run_dir(tmp_path, resume=True)
    assert not (tmp_path / ".replaced").exists()
    assert visible(tmp_path) == {"notes.txt": "mine", "series/mine.txt": "mine",
                                 "last.safetensors": "b", "metrics.json": "b"}
    # and a later start over that fails puts this run back, not the one before it
    assert prepare_run_dir(tmp_path, force=True, keep_earlier=True).settle()
    assert visible(tmp_path)["last.safetensors"] == "b"


def test_a_start_over_stopped_while_setting_aside_gets_it_all_back(tmp_path):
    before = earlier_run(tmp_path)
    (tmp_path / ".replacing" / "series").mkdir(parents=True)  # two moves done, then Ctrl-C
    for name in ("metrics.json", "series/x.json"):
        (tmp_path / name).rename(tmp_path / ".replacing" / name)
    with pytest.raises(ValueError, match="already holds a run"):
        prepare_run_dir(tmp_path)
    assert visible(tmp_path) == before and not (tmp_path / ".replacing").exists()


@pytest.mark.parametrize("phase", ["removing", "restoring"])
def test_a_put_back_stopped_halfway_is_finished_not_decided_again(tmp_path, phase):
    before = earlier_run(tmp_path)
    earlier = prepare_run_dir(tmp_path, force=True, keep_earlier=True)
    (tmp_path / "metrics.json").write_text("new")  # (the new run's: no result)
    (tmp_path / ".replaced" / ".phase").write_text(phase)
    if phase == "restoring":  # (its outputs removed, one file of the earlier run moved back)
        (tmp_path / "metrics.json").unlink()
        (tmp_path / ".replaced" / "model.safetensors").rename(tmp_path / "model.safetensors")
    assert earlier.settle() is True
    assert visible(tmp_path) == before and not (tmp_path / ".replaced").exists()


def test_a_stop_at_the_edges_of_a_put_back_keeps_the_earlier_run(tmp_path):
    # a phase file emptied by a stop while it was written: removing again is harmless
    before = earlier_run(tmp_path)
    earlier = prepare_run_dir(tmp_path, force=True, keep_earlier=True)
    (tmp_path / "best.safetensors").write_text("new")
    (tmp_path / ".replaced" / ".phase").write_text("")
    assert earlier.settle() and visible(tmp_path) == before
    # a put-back stopped while .replaced went: the run back in place is not judged again
    (tmp_path / ".replaced-done").mkdir()
    with pytest.raises(ValueError, match="already holds a run"):
        prepare_run_dir(tmp_path)
    assert visible(tmp_path) == before and not (tmp_path / ".replaced-done").exists()


def test_a_finished_sweep_without_a_best_is_no_result(tmp_path):
    before = earlier_run(tmp_path)
    earlier = prepare_run_dir(tmp_path, force=True, keep_earlier=True)
    (tmp_path / "trials").mkdir()
    for name in ("trials/h-4.json", "trials/h-4.safetensors"):
        (tmp_path / name).write_text("new")
    (tmp_path / "sweep.json").write_text(json.dumps({"status": "finished", "best": None}))
    assert earlier.settle() is True and visible(tmp_path) == before


def test_keep_new_overrides_the_rule(tmp_path):
    before = earlier_run(tmp_path)
    earlier = prepare_run_dir(tmp_path, force=True, keep_earlier=True)
    (tmp_path / "trials").mkdir()
    for name in ("trials/h-4.json", "trials/h-4.safetensors"):  # (a result, but unranked)
        (tmp_path / name).write_text("new")
    assert earlier.settle(keep_new=False) is True and visible(tmp_path) == before


@pytest.mark.parametrize("written, kept", [
    ({"best.safetensors": "x"}, False),  # (last and metrics never written: a full disk)
    ({"series/a.safetensors": "x"}, False),  # (its result file never written)
    ({"series/a.json": "x"}, False),  # (a series that failed)
    ({"series/a.json": "x", "series/a.safetensors": "x"}, True),
    ({"trials/h-4.json": "x", "trials/h-4.safetensors": "x"}, True),
    ({"model.safetensors": "x", "metrics.json": "x"}, True)])
def test_only_a_stored_result_keeps_a_start_over(tmp_path, written, kept):
    before = earlier_run(tmp_path)
    earlier = prepare_run_dir(tmp_path, force=True, keep_earlier=True)
    for name, text in written.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert earlier.settle() is not kept
    assert (visible(tmp_path) == before) is not kept


@pytest.mark.parametrize("holds, kind", [("sweep.json", "panel"), ("last.safetensors", "sweep"),
                                         ("model.safetensors", "panel"),
                                         ("metrics.json", "text")])
def test_resume_refuses_a_run_of_another_kind(tmp_path, holds, kind):
    (tmp_path / holds).write_text(json.dumps({"kind": "sweep"}) if holds == "sweep.json" else
                                  json.dumps({"kind": "panel"}) if holds == "metrics.json"
                                  else "x")
    with pytest.raises(ValueError, match="nothing to resume; choose another --out, or --force"):
        prepare_run_dir(tmp_path, resume=True, kind=kind)
    assert run_kind(tmp_path) != kind


def test_existing_run_with_resume_is_accepted(tmp_path):
    (tmp_path / "last.safetensors").write_bytes(b"x")
    prepare_run_dir(tmp_path, resume=True)


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_resume_needs_an_existing_run(tmp_path, make):
    path = tmp_path / "run"
    if make == "empty":
        path.mkdir()
    with pytest.raises(ValueError, match="nothing to resume"):
        prepare_run_dir(path, resume=True)
    assert path.exists() == (make == "empty")          # nothing created


@pytest.mark.parametrize("exists", [False, True])
def test_resume_and_force_together_are_refused(tmp_path, exists):
    path = tmp_path / "run"
    if exists:
        path.mkdir()
        (path / "metrics.json").write_text("{}")
    with pytest.raises(ValueError, match="--resume and --force"):
        prepare_run_dir(path, resume=True, force=True)
    assert path.exists() == exists


@pytest.mark.parametrize("flags", [{}, {"force": True}, {"resume": True}])
def test_path_that_is_a_file_is_refused(tmp_path, flags):
    path = tmp_path / "run"
    path.write_text("data")
    with pytest.raises(ValueError, match="not a directory"):
        prepare_run_dir(path, **flags)
    assert path.read_text() == "data"


def test_run_dir_under_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="cannot create"):
        prepare_run_dir(tmp_path / "file" / "run")


def test_the_same_checkpoint_is_the_same_bytes(tmp_path):
    """safetensors orders its header by a hash map; numbarnn sorts it."""
    tensors = {f"w{i}": np.arange(i + 1, dtype=np.float32) for i in range(8)}
    metadata = {"b": 1, "a": {"y": 2, "x": 3}}
    save_checkpoint(tmp_path / "one.safetensors", tensors, metadata, kind="text")
    save_checkpoint(tmp_path / "two.safetensors", dict(reversed(list(tensors.items()))),
                    dict(reversed(list(metadata.items()))), kind="text")
    one = (tmp_path / "one.safetensors").read_bytes()
    assert one == (tmp_path / "two.safetensors").read_bytes()
    size = int.from_bytes(one[:8], "little")
    assert size % 8 == 0 and one[8:8 + size].decode().rstrip(" ").startswith('{"__metadata__"')
    from safetensors.numpy import load_file
    loaded = load_file(str(tmp_path / "one.safetensors"))
    assert all(np.array_equal(loaded[k], v) for k, v in tensors.items())
