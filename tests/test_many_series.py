"""``train-series --id-column`` and ``forecast`` of a many-series run, serially and on Dask."""
import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner

from numbarnn import parallel
from numbarnn.checkpoints import load_checkpoint
from numbarnn.panel import synthetic_panel, write_panel_csv
from numbarnn_cli.main import cli

SMALL = ["--window", "6", "--horizon", "3", "--hidden", "4", "--epochs", "3", "--members", "2",
         "--quiet"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def panel_csv(tmp_path):
    """Three trainable series and one too short (store_9), as store,day,sales."""
    rows = synthetic_panel(3, seed=5, short_share=0, min_length=36, max_length=40)
    rows += [("store_9", f"2010-{m:02d}", 10.0 + m) for m in range(1, 9)]
    path = tmp_path / "sales.csv"
    write_panel_csv(path, rows, ("store", "day", "sales"))
    return path


def train(panel_csv, out, *extra):
    return run("train-series", panel_csv, "--id-column", "store", "--column", "sales",
               "--date-column", "day", "--out", out, *SMALL, *extra)


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error_lines) == 1, result.output
    for fragment in fragments:
        assert fragment in error_lines[0], result.output


def test_serial_run_then_forecast(panel_csv, tmp_path):
    out = tmp_path / "run"
    result = train(panel_csv, out, "--workers", "0")
    assert result.exit_code == 0, result.output
    assert "3 of 4 series trained serially" in result.output
    assert "store_9: the series has 8 rows" in result.output
    assert sorted(p.name for p in (out / "series").iterdir()) == \
        ["store_0.safetensors", "store_1.safetensors", "store_2.safetensors"]
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [r["id"] for r in rows] == ["store_0", "store_1", "store_2", "store_9"]
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "failed"]
    assert float(rows[0]["seasonal_naive_mase"]) > 0 and rows[0]["beats_seasonal_naive"] in (
        "true", "false")
    summary = json.loads((out / "metrics.json").read_text())["summary"]
    assert summary["trained"] == 3 and summary["failed"][0]["id"] == "store_9"
    assert 0 <= summary["beat_seasonal_naive"] <= 1
    assert summary["mase"]["model"]["median"] > 0

    result = run("forecast", out, "--horizon", "2")
    assert result.exit_code == 0, result.output
    forecast = list(csv.reader((out / "forecast.csv").open()))
    assert forecast[0] == ["store", "date", "forecast"]
    assert [r[0] for r in forecast[1:]] == ["store_0"] * 2 + ["store_1"] * 2 + ["store_2"] * 2
    assert all(np.isfinite(float(r[2])) for r in forecast[1:])


def test_bad_input_is_one_line(panel_csv, tmp_path):
    assert_one_line_error(run("train-series", panel_csv, "--id-column", "shop", "--out",
                              tmp_path / "a"), "'shop': no such column")
    one = tmp_path / "one.csv"
    one.write_text("store,day,sales\na,2020-01,1\na,2020-02,2\n")
    assert_one_line_error(run("train-series", one, "--id-column", "store", "--out",
                              tmp_path / "b"), "one series only")
    twice = tmp_path / "twice.csv"
    twice.write_text("store,day,sales\na,2020-01,1\nb,2020-01,2\nb,2020-01,3\n")
    assert_one_line_error(run("train-series", twice, "--id-column", "store", "--out",
                              tmp_path / "c"), "'2020-01' twice")
    assert_one_line_error(run("train-series", panel_csv, "--workers", "2", "--out",
                              tmp_path / "d"), "only with --id-column")
    assert_one_line_error(run("train-series", panel_csv, "--id-column", "store", "--workers",
                              "2", "--scheduler", "tcp://127.0.0.1:1", "--out", tmp_path / "e"),
                          "choose one")


def test_without_dask_it_runs_serially_with_a_note(panel_csv, tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "dask_available", lambda: False)
    result = run("train-series", panel_csv, "--id-column", "store", "--out", tmp_path / "r",
                 *SMALL)
    assert result.exit_code == 0, result.output
    assert "dask.distributed is not installed" in result.output
    assert_one_line_error(run("train-series", panel_csv, "--id-column", "store", "--scheduler",
                              "tcp://127.0.0.1:1", "--out", tmp_path / "s"),
                          "pip install 'numbarnn[dask]'")


def read_run(out):
    """Every checkpoint's bytes, and metrics.csv."""
    checkpoints = {p.name: p.read_bytes() for p in (out / "series").iterdir()}
    return checkpoints, (out / "metrics.csv").read_text()


def test_local_cluster_gives_the_serial_answer(panel_csv, tmp_path):
    pytest.importorskip("distributed")
    serial = tmp_path / "serial"
    cluster = tmp_path / "cluster"
    assert train(panel_csv, serial, "--workers", "0").exit_code == 0
    result = train(panel_csv, cluster, "--workers", "2")
    assert result.exit_code == 0, result.output
    assert "on a local Dask cluster (2 workers)" in result.output
    serial_checkpoints, serial_metrics = read_run(serial)
    cluster_checkpoints, cluster_metrics = read_run(cluster)
    assert cluster_metrics == serial_metrics
    assert cluster_checkpoints.keys() == serial_checkpoints.keys()
    for name, data in serial_checkpoints.items():  # byte for byte
        assert cluster_checkpoints[name] == data, name
