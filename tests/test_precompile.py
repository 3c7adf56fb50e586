"""A first run compiles a layer's forward here and its backward in a child process at
once, and says so; later runs (and this process, once loaded) report 0 compile seconds."""
import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from numbarnn.precompile import compile_for_run
from numbarnn_cli.main import cli

CHILD_CHECK = """
import json
from numbarnn.kernels import cpu_rnn
from numbarnn.precompile import compile_layer
compile_layer("rnn", "float32", parallel=True)
stats = {side: getattr(cpu_rnn, f"rnn_{side}_part").stats for side in ("forward", "backward")}
print(json.dumps({side: [sum(s.cache_hits.values()), sum(s.cache_misses.values())]
                  for side, s in stats.items()}))
"""


def test_the_backward_is_compiled_beside_and_loaded_from_the_cache(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, "-c", CHILD_CHECK], env=env, capture_output=True,
                            text=True, check=True)
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts["forward"] == [0, 1]   # compiled in this process
    assert counts["backward"] == [1, 0]  # compiled by the child, loaded from its cache entry


class Lines:
    def __init__(self):
        self.lines = []

    def log(self, text):
        self.lines.append(text)


def test_loaded_kernels_cost_no_compile_seconds_and_no_message():
    progress = Lines()
    compile_for_run("rnn", "float32", progress=progress)  # loaded (or cached) by now
    assert compile_for_run("rnn", "float32", progress=progress) == 0.0  # once per process
    assert not any("compiling" in line for line in progress.lines[1:])


def test_a_series_run_reports_its_compile_seconds(tmp_path):
    for out in (tmp_path / "first", tmp_path / "second"):  # the first may compile
        result = CliRunner().invoke(cli, ["train-series", "--epochs", "2", "--members", "1",
                                          "--out", str(out)])
        assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["compile_seconds"] == 0 and metrics["training"]["seconds"] > 0
    # (beside it, as in every run's metrics.json, the training seconds and rate)
    assert metrics["train_seconds"] == metrics["training"]["seconds"]
    assert metrics["windows_per_second"] == metrics["training"]["windows_per_second"] > 0
    assert "compiling the kernels" not in result.output


def test_a_series_runs_progress_shows_its_loss_and_throughput():
    from numbarnn.forecast import ForecastConfig, load_airline, train_forecaster

    class Updates(Lines):
        def update(self, fraction, text):
            self.lines.append(text)

    progress = Updates()
    train_forecaster(load_airline(), ForecastConfig(epochs=2, members=1, hidden_size=4),
                     progress=progress)
    epochs = [line for line in progress.lines if "epoch 2/2" in line]
    assert epochs and all(re.search(r"loss \d+\.\d{4} .* [\d,]+ windows/s$", line)
                          for line in epochs), epochs


@pytest.mark.slow
def test_a_first_series_run_says_it_compiles(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    args = [sys.executable, "-m", "numbarnn", "train-series", "--epochs", "2", "--members",
            "1", "--out"]
    first = subprocess.run(args + [str(tmp_path / "a")], env=env, capture_output=True,
                           text=True)
    assert first.returncode == 0, first.stderr
    said = first.stdout + first.stderr
    assert "compiling the kernels, first run only: about" in said and "kernels compiled in" in said
    metrics = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert metrics["compile_seconds"] > 1
    assert metrics["training"]["seconds"] < metrics["compile_seconds"]
    second = subprocess.run(args + [str(tmp_path / "b")], env=env, capture_output=True,
                            text=True)
    assert second.returncode == 0, second.stderr
    assert "compiling the kernels" not in second.stdout + second.stderr
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["compile_seconds"] == 0


def test_a_panel_run_reports_its_compile_seconds(tmp_path):
    from numbarnn.forecast import ForecastConfig, synthetic_panel
    from numbarnn.forecast.panel import read_panel_csv, write_panel_csv
    from numbarnn.runs import train_panel

    write_panel_csv(tmp_path / "p.csv", synthetic_panel(2, seed=1, short_share=0,
                                                        min_length=40, max_length=40))
    config = ForecastConfig(window=6, horizon=3, hidden_size=4, epochs=2, members=1)
    for out in (tmp_path / "first", tmp_path / "second"):  # the first may compile
        out.mkdir()
        train_panel(read_panel_csv(tmp_path / "p.csv", "id"), config, str(out), workers=0)
    run = json.loads((out / "metrics.json").read_text())
    assert run["compile_seconds"] == run["summary"]["compile_seconds"] == 0.0
