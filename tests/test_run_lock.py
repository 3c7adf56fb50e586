"""Run directories are held by one command at a time; a dead holder's lock is taken over."""
import json
import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from numbarnn.runs.run_dir import LOCK_FILE, run_lock
from numbarnn_cli.main import cli

HOLDER = """
import sys, time
from numbarnn.runs.run_dir import run_lock
with run_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def holder(tmp_path):
    """A process that holds the lock of ``tmp_path/run`` until killed."""
    path = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE,
                               text=True)
    assert process.stdout.readline().strip() == "locked"
    yield path, process
    process.kill()
    process.wait()


def test_a_second_holder_is_refused_naming_the_first(holder):
    path, process = holder
    with pytest.raises(ValueError, match=rf"in use by another run \(process {process.pid} on "):
        with run_lock(path):
            pass


def test_a_killed_holders_lock_is_taken_over(holder):
    path, process = holder
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with run_lock(path):  # the system released the dead process's lock
        info = json.loads((path / LOCK_FILE).read_text())
        assert info["pid"] == os.getpid()
    assert (path / LOCK_FILE).read_text() == ""  # released: emptied, not removed


def test_the_lock_is_released_after_an_error(tmp_path):
    with pytest.raises(RuntimeError):
        with run_lock(tmp_path / "r"):
            raise RuntimeError("boom")
    with run_lock(tmp_path / "r"):
        pass


def test_a_file_in_the_way_is_one_clear_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        with run_lock(tmp_path / "f"):
            pass


@pytest.mark.parametrize("command", [
    ["train-text", "--steps", "1"],
    ["train-series", "--epochs", "1", "--members", "1"],
    ["sweep", "train-series", "--epochs", "1", "--members", "1", "--grid", "hidden=4,8"],
])
def test_commands_refuse_a_run_directory_in_use(holder, command):
    path, process = holder
    (path / "metrics.json").write_text('{"mine": true}')
    result = CliRunner().invoke(cli, [*command, "--out", str(path)])
    assert result.exit_code == 2, result.output
    assert f"in use by another run (process {process.pid}" in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert (path / "metrics.json").read_text() == '{"mine": true}'  # nothing touched


def test_two_runs_started_at_once_never_mix_their_files(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the quick brown fox jumps over the lazy dog. " * 80)
    out = tmp_path / "same"
    runs = [subprocess.Popen([sys.executable, "-m", "numbarnn", "train-text", str(corpus),
                              "--out", str(out), "--hidden", str(hidden), "--steps", "40",
                              "--batch-size", "4", "--seq-len", "8", "--sample", "0", "-q"],
                             stderr=subprocess.PIPE, text=True) for hidden in (8, 12)]
    results = [(p.wait(), p.stderr.read()) for p in runs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    winner = [h for h, (code, _) in zip((8, 12), results) if code == 0][0]
    loser_message = [err for code, err in results if code == 2][0]
    assert "in use by another run" in loser_message or "already holds a run" in loser_message
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["hidden_size"] == winner
