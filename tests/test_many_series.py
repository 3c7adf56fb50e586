"""``train-series --id-column`` and ``forecast`` of a many-series run, serially and on Dask."""
import csv
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

from numbarnn.runs import parallel
from numbarnn.forecast.model import Forecaster
from numbarnn.forecast.panel import synthetic_panel, write_panel_csv
from numbarnn.forecast.series import read_csv
from numbarnn_cli.main import cli
from clichecks import assert_one_line_error

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


def test_serial_run_then_forecast(panel_csv, tmp_path):
    out = tmp_path / "run"
    result = train(panel_csv, out, "--workers", "0")
    assert result.exit_code == 0, result.output
    assert "3 of 4 series trained serially" in result.output
    assert "store_9: the series has 8 rows" in result.output
    assert sorted(p.name for p in (out / "series").glob("*.safetensors")) == \
        ["store_0.safetensors", "store_1.safetensors", "store_2.safetensors"]
    # every result is stored as it arrives, a failed one too (for --resume)
    assert sorted(p.name for p in (out / "series").glob("*.json")) == \
        ["store_0.json", "store_1.json", "store_2.json", "store_9.json"]
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

    # a CSV to continue: each of its series from the end of its data there, by its model
    rows = [r for r in csv.reader(panel_csv.open())]
    header, body = rows[0], [r for r in rows[1:] if r[0] == "store_1"]
    newer = tmp_path / "newer.csv"
    newer.write_text("\n".join(",".join(r) for r in [header] + body[:-3]) + "\n")
    result = run("forecast", out, newer, "--horizon", "2", "-o", tmp_path / "f.csv")
    assert result.exit_code == 0, result.output
    continued = list(csv.reader((tmp_path / "f.csv").open()))
    model = Forecaster.load(out / "series" / "store_1.safetensors")
    expected = model.forecast(2, read_csv(newer, column="sales", date_column="day"))
    assert [r[0] for r in continued[1:]] == ["store_1"] * 2
    assert [r[1] for r in continued[1:]] == expected["dates"]
    np.testing.assert_allclose([float(r[2]) for r in continued[1:]], expected["values"])
    renamed = tmp_path / "renamed.csv"  # (other column names, given as options)
    renamed.write_text(newer.read_text().replace("store,day,sales", "store,when,amount", 1))
    result = run("forecast", out, renamed, "--column", "amount", "--date-column", "when",
                 "--horizon", "2", "-o", tmp_path / "g.csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "g.csv").read_text() == (tmp_path / "f.csv").read_text()
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("store,day,sales\nstore_7,2020-01,1\n")
    assert_one_line_error(run("forecast", out, unknown), "'store_7' has no model in")
    assert_one_line_error(run("forecast", out, "--plot", tmp_path / "p.png"),
                          "--plot is for single-series runs")
    # a checkpoint copied over another series' is caught, not forecast with
    (out / "series" / "store_1.safetensors").write_bytes(
        (out / "series" / "store_0.safetensors").read_bytes())
    assert_one_line_error(run("forecast", out), "store_1.safetensors: holds the model of "
                          "series 'store_0', not of 'store_1'")


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


def test_a_run_where_no_series_trains_fails_and_has_nothing_to_forecast(tmp_path):
    data = tmp_path / "short.csv"
    data.write_text("store,day,sales\n" + "".join(f"s{k},2020-0{m},{k + m}\n"
                                                   for k in range(2) for m in range(1, 4)))
    out = tmp_path / "run"
    result = train(data, out, "--workers", "0")
    assert result.exit_code == 1 and "0 of 2 series trained" in result.output
    assert result.output.strip().splitlines()[-1] == (
        "Error: no series could be trained (the reasons are listed above)")
    assert [r["status"] for r in csv.DictReader((out / "metrics.csv").open())] == [
        "failed", "failed"]
    assert_one_line_error(run("forecast", out), "no series trained there")
    assert not (out / "forecast.csv").exists()


def test_a_file_whose_series_are_all_unreadable_says_so(tmp_path):
    data = tmp_path / "bad.csv"
    data.write_text("store,day,sales\ns0,2020-01,1\ns0,2020-02,x\ns1,2020-01,2\ns1,2020-02,y\n")
    result = train(data, tmp_path / "run", "--workers", "0")
    assert result.exit_code == 1
    assert "0 of 2 series trained: none could be read (below)" in result.output
    assert "already stored" not in result.output
    assert "s1: " in result.output and "'y' is not a number" in result.output


def test_a_forced_run_where_no_series_trains_keeps_the_earlier_run(panel_csv, tmp_path):
    out = tmp_path / "run"
    assert train(panel_csv, out, "--workers", "0").exit_code == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()
              and p.name != ".numbarnn.lock"}
    short = tmp_path / "short.csv"
    short.write_text("store,day,sales\n" + "".join(f"s{k},2020-0{m},{k + m}\n"
                                                    for k in range(2) for m in range(1, 4)))
    assert train(short, out, "--workers", "0", "--force").exit_code == 1
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()
            and p.name != ".numbarnn.lock"} == before
    assert run("forecast", out).exit_code == 0


def test_without_dask_it_runs_serially_with_a_note(panel_csv, tmp_path, monkeypatch):
    monkeypatch.setattr(parallel, "dask_available", lambda: False)
    result = run("train-series", panel_csv, "--id-column", "store", "--out", tmp_path / "r",
                 *SMALL)
    assert result.exit_code == 0, result.output
    assert "dask.distributed is not installed" in result.output
    assert_one_line_error(run("train-series", panel_csv, "--id-column", "store", "--scheduler",
                              "tcp://127.0.0.1:1", "--out", tmp_path / "s"),
                          "pip install 'numbarnn[dask]'")


def test_a_malformed_scheduler_address_is_one_line(panel_csv, tmp_path):
    pytest.importorskip("distributed")
    assert_one_line_error(train(panel_csv, tmp_path / "run", "--scheduler", "notanaddress"),
                          "--scheduler notanaddress: cannot connect")


def read_run(out):
    """Every checkpoint's bytes, and metrics.csv."""
    checkpoints = {p.name: p.read_bytes() for p in (out / "series").glob("*.safetensors")}
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


# ------------------------------------------------------------------------------ faults and resume
def test_ctrl_c_keeps_finished_series_and_resume_trains_the_rest(panel_csv, tmp_path,
                                                                 monkeypatch):
    from numbarnn.forecast import panel as panel_module

    straight = tmp_path / "straight"
    assert train(panel_csv, straight, "--workers", "0").exit_code == 0

    calls = []
    real_task = panel_module.train_series_task

    def ctrl_c_during_the_third(task):
        calls.append(task["id"])
        if len(calls) == 3:
            raise KeyboardInterrupt  # as Ctrl-C does, in the middle of a series
        return real_task(task)

    monkeypatch.setattr(panel_module, "train_series_task", ctrl_c_during_the_third)
    out = tmp_path / "run"
    result = train(panel_csv, out, "--workers", "0")
    assert result.exit_code == 130, result.output
    assert "interrupted: 2 series trained and saved" in result.output
    assert "--resume" in result.output
    run_json = json.loads((out / "metrics.json").read_text())
    assert run_json["status"] == "interrupted"
    assert [s["id"] for s in run_json["series"]] == ["store_0", "store_1"]
    assert sorted(p.name for p in (out / "series").glob("*.safetensors")) == \
        ["store_0.safetensors", "store_1.safetensors"]

    # a resumed run with other settings is refused, and changes nothing
    before = read_run(out)
    changed = run("train-series", panel_csv, "--id-column", "store", "--column", "sales",
                  "--out", out, *SMALL, "--hidden", "5", "--resume", "--workers", "0")
    assert_one_line_error(changed, "other settings", "hidden_size 4 -> 5")
    assert read_run(out) == before

    calls.clear()
    result = train(panel_csv, out, "--workers", "0", "--resume")
    assert result.exit_code == 0, result.output
    assert calls == ["store_2", "store_9"]  # only what had not finished
    assert "(2 stored by the earlier run, the rest now)" in result.output
    assert read_run(out) == read_run(straight)  # as if never interrupted, byte for byte

    calls.clear()
    result = train(panel_csv, out, "--workers", "0", "--resume")
    assert result.exit_code == 0 and calls == []
    assert "nothing left to train" in result.output


def _count_tasks(monkeypatch):
    """The ids of the series tasks trained from now on, in order (a list that fills)."""
    from numbarnn.forecast import panel as panel_module

    calls = []
    real_task = panel_module.train_series_task
    monkeypatch.setattr(panel_module, "train_series_task",
                        lambda task: (calls.append(task["id"]), real_task(task))[1])
    return calls


def _drop_setting(out, key):
    """Make the run in ``out`` look written before setting ``key`` existed."""
    run_json = json.loads((out / "metrics.json").read_text())
    del run_json["config"][key]
    (out / "metrics.json").write_text(json.dumps(run_json))


def test_resume_retrains_a_series_whose_data_changed(panel_csv, tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert train(panel_csv, out, "--workers", "0").exit_code == 0
    lines = panel_csv.read_text().splitlines()
    edited = [line.replace(line.rsplit(",", 1)[1], "1234.5") if i == 5 else line
              for i, line in enumerate(lines)]
    assert edited[5].startswith("store_0,")
    panel_csv.write_text("\n".join(edited) + "\n")
    calls = _count_tasks(monkeypatch)
    assert train(panel_csv, out, "--workers", "0", "--resume").exit_code == 0
    assert calls == ["store_0"]


def test_a_run_from_before_refit_resumes_and_refit_counts_as_a_setting(panel_csv, tmp_path,
                                                                        monkeypatch):
    """A run written before ``refit`` existed has no such key in its configuration, and its
    stored tasks had none: it resumes as it is.  --refit is another setting."""
    out = tmp_path / "run"
    assert train(panel_csv, out, "--workers", "0").exit_code == 0
    _drop_setting(out, "refit")
    calls = _count_tasks(monkeypatch)
    result = train(panel_csv, out, "--workers", "0", "--resume")
    assert result.exit_code == 0 and calls == [], result.output
    assert_one_line_error(train(panel_csv, out, "--workers", "0", "--resume", "--refit"),
                          "other settings", "refit False -> True")


def test_a_run_from_before_combine_resumes_with_combine_none(panel_csv, tmp_path,
                                                             monkeypatch):
    """A run written before ``combine`` existed forecast with the networks alone: resumed
    with the new default ('auto') it is another setting; with --combine none it resumes
    as it is (its stored tasks had no such key, as tasks of 'none' still have none)."""
    out = tmp_path / "run"
    assert train(panel_csv, out, "--workers", "0", "--combine", "none").exit_code == 0
    _drop_setting(out, "combine")
    calls = _count_tasks(monkeypatch)
    assert_one_line_error(train(panel_csv, out, "--workers", "0", "--resume"),
                          "other settings", "combine 'none' -> 'auto'")
    result = train(panel_csv, out, "--workers", "0", "--resume", "--combine", "none")
    assert result.exit_code == 0 and calls == [], result.output


def test_a_run_from_before_the_floor_and_the_winsorizing_resumes_without_them(
        panel_csv, tmp_path, monkeypatch):
    """A run written before ``nonnegative`` and ``winsorize`` existed did neither: resumed
    with the new defaults it is other settings; with --no-nonnegative --winsorize 0 it
    resumes as it is."""
    out = tmp_path / "run"
    assert train(panel_csv, out, "--workers", "0", "--no-nonnegative", "--winsorize",
                 "0").exit_code == 0
    _drop_setting(out, "nonnegative")
    _drop_setting(out, "winsorize")
    calls = _count_tasks(monkeypatch)
    assert_one_line_error(train(panel_csv, out, "--workers", "0", "--resume"),
                          "other settings", "nonnegative False -> 'auto' (the run predates "
                          "the setting: give the old value to resume)",
                          "winsorize 0.0 -> 5.0 (the run")
    result = train(panel_csv, out, "--workers", "0", "--resume", "--no-nonnegative",
                   "--winsorize", "0")
    assert result.exit_code == 0 and calls == [], result.output


def test_resume_needs_a_run_and_many_series(panel_csv, tmp_path):
    assert_one_line_error(train(panel_csv, tmp_path / "none", "--resume"), "nothing to resume")
    assert_one_line_error(run("train-series", "--resume", "--out", tmp_path / "x"),
                          "only with --id-column")


@pytest.mark.parametrize("workers", [1, 3])
def test_any_number_of_workers_gives_the_serial_answer(panel_csv, tmp_path, workers):
    pytest.importorskip("distributed")
    serial, cluster = tmp_path / "serial", tmp_path / "cluster"
    assert train(panel_csv, serial, "--workers", "0").exit_code == 0
    result = train(panel_csv, cluster, "--workers", str(workers))
    assert result.exit_code == 0, result.output
    assert f"on a local Dask cluster ({workers} worker" in result.output
    assert read_run(cluster) == read_run(serial)


def test_a_killed_worker_does_not_lose_the_run(panel_csv, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    from numbarnn.forecast import panel as panel_module

    import killing_task  # tests/killing_task.py: workers import it by name

    serial = tmp_path / "serial"
    assert train(panel_csv, serial, "--workers", "0").exit_code == 0
    monkeypatch.setenv(killing_task.MARKER_DIR, str(tmp_path))  # the workers inherit it
    monkeypatch.setattr(panel_module, "train_series_task", killing_task.train_or_kill_worker)
    cluster = tmp_path / "cluster"
    result = train(panel_csv, cluster, "--workers", "2")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "killed-store_1").exists()  # a worker died training store_1 ...
    assert read_run(cluster) == read_run(serial)   # ... and Dask retried it elsewhere


def test_ctrl_c_in_a_terminal_stops_the_cluster_and_keeps_finished_series(tmp_path):
    """A real SIGINT to the whole process group, as a terminal sends it, during a local
    cluster run in which a worker died and was replaced: exit 130, no worker tracebacks
    (the replacement ignores SIGINT too), finished series kept, resume completes."""
    pytest.importorskip("distributed")
    import glob
    import signal
    import subprocess
    import sys
    import time

    import killing_task

    rows = synthetic_panel(8, seed=2, short_share=0, min_length=60, max_length=60)
    data = tmp_path / "p.csv"
    write_panel_csv(data, rows)
    out = tmp_path / "run"
    options = [str(data), "--id-column", "id", "--out", str(out), "--window", "6",
               "--horizon", "3", "--hidden", "8", "--members", "1", "--epochs", "4000",
               "--patience", "4000", "--workers", "2", "--no-log", "--no-diff",
               "--no-seasonal-diff"]  # (fixed transforms: one network a series, no choosing)
    # the test runner may ignore SIGINT, and children inherit that: give them the default
    process = subprocess.Popen(
        [sys.executable, killing_task.__file__, "train-series", *options],
        start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, killing_task.MARKER_DIR: str(tmp_path)},
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 480  # a cold compile beside another test process is slow
    marker = tmp_path / "killed-store_1"
    # store_1 killed its worker: wait until the replacement has started and joined (a
    # worker that is still starting can be stopped by Ctrl-C: see _ignore_ctrl_c_plugin)
    while (not marker.exists() or time.time() < marker.stat().st_mtime + 4
           or not glob.glob(str(out / "series" / "*.json"))) and \
            time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 130, output
    assert "Traceback" not in output and "run the same command with --resume" in output
    finished = json.loads((out / "metrics.json").read_text())
    assert finished["status"] == "interrupted" and 1 <= len(finished["series"]) < 8
    resumed = subprocess.run([sys.executable, "-m", "numbarnn", "train-series", *options,
                              "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert json.loads((out / "metrics.json").read_text())["summary"]["trained"] == 8


def test_a_task_that_raises_stops_the_run_and_keeps_what_finished(panel_csv, tmp_path,
                                                                  monkeypatch):
    from numbarnn.forecast import panel as panel_module
    from numbarnn.forecast.config import ForecastConfig
    from numbarnn.forecast.panel import read_panel_csv
    from numbarnn.runs.panels import train_panel

    real_task = panel_module.train_series_task

    def bug_on_store_1(task):
        if task["id"] == "store_1":
            raise RuntimeError("a bug")
        return real_task(task)

    monkeypatch.setattr(panel_module, "train_series_task", bug_on_store_1)
    panel = read_panel_csv(panel_csv, "store", "sales", "day")
    with pytest.raises(RuntimeError, match="a bug"):
        train_panel(panel, ForecastConfig(window=6, horizon=3, hidden_size=4, epochs=3,
                                          members=1), str(tmp_path), workers=0)
    run_json = json.loads((tmp_path / "metrics.json").read_text())
    assert run_json["status"] == "failed"
    assert [s["id"] for s in run_json["series"]] == ["store_0"]
    assert "RuntimeError: a bug" in run_json["summary"]["execution"]["error"]


def test_an_existing_scheduler_gives_the_serial_answer(panel_csv, tmp_path):
    """--scheduler: the scale-out path, on a cluster started apart from the command."""
    distributed = pytest.importorskip("distributed")
    serial = tmp_path / "serial"
    assert train(panel_csv, serial, "--workers", "0").exit_code == 0
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        result = train(panel_csv, tmp_path / "remote", "--scheduler", cluster.scheduler_address)
    assert result.exit_code == 0, result.output
    assert "on the Dask scheduler's cluster (2 workers)" in result.output
    assert read_run(tmp_path / "remote") == read_run(serial)
