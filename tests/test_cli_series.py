"""``numbarnn train-series`` and ``numbarnn forecast`` end to end, and what users get wrong."""
import csv
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from numbarnn_cli.main import cli
from clichecks import assert_one_line_error

SMALL = ["--window", "6", "--horizon", "3", "--hidden", "4", "--epochs", "3", "--members", "2",
         "--quiet"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def write_monthly_csv(path, n=60, missing_at=None):
    rng = np.random.default_rng(0)
    lines = ["month,temperature,visitors"]
    for k in range(n):
        value = "" if k == missing_at else f"{100 + k + 10 * np.sin(k / 2):.2f}"
        lines.append(f"{2010 + k // 12}-{k % 12 + 1:02d},{rng.normal():.3f},{value}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_then_forecast_end_to_end(tmp_path):
    data = write_monthly_csv(tmp_path / "visits.csv")
    out = tmp_path / "run"
    result = run("train-series", data, "--out", out, "--features", "temperature", *SMALL)
    assert result.exit_code == 0, result.output
    for label in ("model", "naive", "seasonal naive", "MAPE %", "MASE"):
        assert label in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["season"] == 12 and metrics["series"]["features"] == ["temperature"]
    assert set(metrics["metrics"]) == {"model", "naive", "seasonal_naive"}

    # forecast from the checkpoint alone: the CSV is not needed
    data.unlink()
    forecast_csv = tmp_path / "forecast.csv"
    result = run("forecast", out, "--output", forecast_csv)
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(forecast_csv.open()))
    assert rows[0] == ["date", "visitors"]
    assert [r[0] for r in rows[1:]] == ["2015-01", "2015-02", "2015-03"]
    assert all(np.isfinite(float(r[1])) for r in rows[1:])


def test_forecast_a_given_csv_and_plot(tmp_path):
    data = write_monthly_csv(tmp_path / "visits.csv", n=60)
    out = tmp_path / "run"
    assert run("train-series", data, "--out", out, *SMALL).exit_code == 0
    newer = write_monthly_csv(tmp_path / "newer.csv", n=66)
    result = run("forecast", out, newer, "--horizon", "5")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader((out / "forecast.csv").open()))  # the default output
    assert [r[0] for r in rows[1:]] == ["2015-07", "2015-08", "2015-09", "2015-10", "2015-11"]
    pytest.importorskip("matplotlib")
    plot = tmp_path / "forecast.png"
    result = run("forecast", out, "--plot", plot)
    assert result.exit_code == 0, result.output
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_how_to_get_it(tmp_path, monkeypatch):
    out = tmp_path / "run"
    assert run("train-series", write_monthly_csv(tmp_path / "v.csv"), "--out", out,
               *SMALL).exit_code == 0
    pytest.importorskip("matplotlib")
    # a format matplotlib cannot write is said before anything is written
    assert_one_line_error(run("forecast", out, "--plot", tmp_path / "f.xyz"),
                          "f.xyz: cannot write a plot as 'xyz'; the formats are")
    assert not (out / "forecast.csv").exists()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    result = run("forecast", out, "--plot", tmp_path / "f.png")
    assert_one_line_error(result, "the plot needs matplotlib: pip install 'numbarnn[plot]'")


def test_synthetic_series_without_dates(tmp_path):
    out = tmp_path / "run"
    result = run("train-series", "--synthetic", "sine", "--length", "120", "--out", out,
                 "--strategy", "recursive", *SMALL)
    assert result.exit_code == 0, result.output
    result = run("forecast", out, "--horizon", "4")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader((out / "forecast.csv").open()))
    assert rows[0] == ["step", "sine"] and [r[0] for r in rows[1:]] == ["1", "2", "3", "4"]


def test_default_run_on_the_airline_data(tmp_path):
    out = tmp_path / "airline"
    result = run("train-series", "--out", out, "--epochs", "5", "--members", "1")
    assert result.exit_code == 0, result.output
    assert "training on airline (144 steps, monthly)" in result.output
    assert "seasonal naive  47.833   50.708   9.988" in result.output
    assert "window 12, validation 24 steps; season 12 (found by the autocorrelation test" \
        in result.output
    assert "transforms: " in result.output and ("the lowest validation MASE (each as it "
                                                "forecasts, combined as --combine says) "
                                                "of log ") in result.output
    report = json.loads((out / "metrics.json").read_text())
    # Guerrero's power asks for the log, and the KPSS test finds the level wandering:
    # log x first, seasonal differences
    assert report["choices"]["log_test"]["log"] is True
    assert report["choices"]["level_test"]["stationary"] is False
    assert [(c["log"], c["diff"], c["seasonal_diff"]) for c in
            report["choices"]["candidates"]] == [(True, True, False), (True, False, True)]
    assert "the level wanders: differenced" in result.output
    assert "log: Guerrero's Box-Cox power -0.280 asks for the log" in result.output
    assert report["training"]["refit"] is None and "trained again" not in result.output
    result = run("train-series", "--out", out, "--epochs", "5", "--members", "1", "--refit",
                 "--force")
    assert result.exit_code == 0, result.output
    refit = json.loads((out / "metrics.json").read_text())
    windows = refit["training"]["train_windows"] + refit["training"]["val_windows"]
    assert f"trained again on the training and validation parts ({windows} windows)" in \
        result.output
    assert refit["training"]["refit"]["windows"] == windows
    # the same held-out networks, so the same choices and validation; another test forecast
    assert refit["validation"] == report["validation"]
    assert refit["test"]["forecast"] != report["test"]["forecast"]


def test_backtest_option(tmp_path):
    data = write_monthly_csv(tmp_path / "v.csv", n=60)
    result = run("train-series", data, "--out", tmp_path / "run", "--backtest", "2", *SMALL)
    assert result.exit_code == 0, result.output
    assert "backtest: mean over 2 origins" in result.output
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(metrics["backtest"]["folds"]) == 2


def test_existing_run_needs_force(tmp_path):
    data = write_monthly_csv(tmp_path / "v.csv")
    out = tmp_path / "run"
    assert run("train-series", data, "--out", out, *SMALL).exit_code == 0
    before = (out / "model.safetensors").read_bytes()
    result = run("train-series", data, "--out", out, *SMALL)
    assert_one_line_error(result, "already holds a run; use --force")
    assert (out / "model.safetensors").read_bytes() == before
    result = run("train-series", data, "--out", out, "--force", "--seed", "7", *SMALL)
    assert result.exit_code == 0, result.output
    assert (out / "model.safetensors").read_bytes() != before


@pytest.mark.parametrize("make, fragments", [
    (lambda p: write_monthly_csv(p, missing_at=5), ["line 7", "column 'visitors'",
                                                    "missing value", "--fill"]),
    (lambda p: p.write_text("month,v\n2010-01,1\n2010-02,x\n"),
     ["line 3", "column 'v'", "'x' is not a number"]),
    (lambda p: write_monthly_csv(p, n=8), ["has 8 rows", "needs at least"]),
    (lambda p: p.write_text("month,v,v\n" + "".join(f"2010-{m:02d},{m},{m}\n"
                                                    for m in range(1, 13))),
     ["the header names column 'v' twice"]),
])
def test_bad_csv_is_one_line(tmp_path, make, fragments):
    path = tmp_path / "bad.csv"
    make(path)
    result = run("train-series", path, "--out", tmp_path / "run", *SMALL)
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_fill_option(tmp_path):
    path = write_monthly_csv(tmp_path / "gaps.csv", missing_at=5)
    result = run("train-series", path, "--out", tmp_path / "run", "--fill", "interpolate", *SMALL)
    assert result.exit_code == 0, result.output


def test_user_mistakes(tmp_path):
    data = write_monthly_csv(tmp_path / "v.csv")
    assert_one_line_error(run("train-series", data, "--synthetic", "sine", "--out", tmp_path / "a"),
                          "give one or the other")
    assert_one_line_error(run("train-series", data, "--column", "nope", "--out", tmp_path / "b"),
                          "no such column")
    assert_one_line_error(run("train-series", "--log", "--synthetic", "sine", "--out",
                              tmp_path / "c", *SMALL), "needs positive values")
    result = run("train-series", "--window", "0")
    assert result.exit_code == 2 and "--window" in result.output


def test_bad_checkpoint_is_one_line(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    assert_one_line_error(run("forecast", run_dir), "no such checkpoint")
    (run_dir / "model.safetensors").write_bytes(b"\x00" * 5)
    assert_one_line_error(run("forecast", run_dir), "not a checkpoint")


def test_command_module_does_not_import_numba():
    code = "import sys, numbarnn_cli.series; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_paths_are_one_line_errors(tmp_path):
    from click.testing import CliRunner

    from numbarnn_cli.main import cli

    for args, message in [(["forecast", str(tmp_path / "none")], "no such checkpoint"),
                          (["train-series", str(tmp_path / "none.csv"), "--out",
                            str(tmp_path / "run")], "No such file"),
                          (["train-series", str(tmp_path), "--out", str(tmp_path / "run")],
                           "Is a directory")]:
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.output


def test_a_constant_series_reports_its_intervals_without_a_scale(tmp_path):
    # (its MSIS has no scale to divide by: the table said so with a traceback)
    data = tmp_path / "flat.csv"
    data.write_text("month,y\n" + "".join(f"{2010 + k // 12}-{k % 12 + 1:02d},5\n"
                                           for k in range(48)))
    result = run("train-series", data, "--out", tmp_path / "run", "--level", "80", *SMALL)
    assert result.exit_code == 0, result.output
    assert re.search(r"^model +\d+\.\d +n/a$", result.output, re.M), result.output


def test_forecast_and_generate_say_which_run_they_were_given(tmp_path):
    text, series = tmp_path / "text", tmp_path / "series"
    corpus = tmp_path / "c.txt"
    corpus.write_text("some text to learn from. " * 40)
    assert run("train-text", corpus, "--steps", "2", "--hidden", "8", "--batch-size", "4",
               "--seq-len", "8", "--out", text, "-q").exit_code == 0
    assert run("train-series", "--out", series, *SMALL).exit_code == 0
    assert_one_line_error(run("forecast", text), "holds a train-text run; forecast is for "
                          "train-series runs")
    assert_one_line_error(run("generate", series), "is it a train-text run?")


def test_forecast_never_writes_over_its_inputs(tmp_path):
    out = tmp_path / "run"
    data = tmp_path / "monthly.csv"
    write_monthly_csv(data)
    assert run("train-series", data, "--out", out, "--column", "visitors", *SMALL).exit_code == 0
    files = {p: p.read_bytes() for p in (data, out / "model.safetensors", out / "metrics.json")}
    for args, message in [(["-o", out / "model.safetensors"], "is a file of the run"),
                          (["--plot", out / "metrics.json"], "is a file of the run"),
                          ([data, "-o", data], "is the CSV being forecast")]:
        assert_one_line_error(run("forecast", out, *args), message)
    assert all(p.read_bytes() == content for p, content in files.items())


def test_dates_missing_from_the_calendar_are_refused_or_filled_and_said(tmp_path):
    data = tmp_path / "gap.csv"
    months = [f"{2000 + k // 12}-{k % 12 + 1:02d}" for k in range(60)]
    data.write_text("month,y\n" + "".join(f"{m},{100 + k % 12}\n" for k, m in enumerate(months)
                                          if k not in (20, 41)))
    assert_one_line_error(run("train-series", data, "--out", tmp_path / "refused", *SMALL),
                          "line 22, column 'month': the dates are monthly, but 2001-09 is "
                          "missing before '2001-10' (2 dates missing in all)", "--fill")
    out = tmp_path / "filled"
    result = run("train-series", data, "--out", out, "--fill", "ffill", "-q", *SMALL)
    assert result.exit_code == 0, result.output
    assert "note: 2 dates missing from the monthly calendar inserted and filled (ffill): " \
           "2001-09, 2003-06" in result.output
    series = json.loads((out / "metrics.json").read_text())["series"]
    assert series["length"] == 60 and series["inserted_dates"] == ["2001-09", "2003-06"]
    assert series["frequency"] == "monthly"
    # many series: a note for each one that had dates inserted
    lines = ["id,month,y"] + [f"{sid},{m},{100 + k % 12}" for sid in "ab"
                              for k, m in enumerate(months) if sid == "b" or k != 20]
    panel = tmp_path / "panel.csv"
    panel.write_text("\n".join(lines) + "\n")
    result = run("train-series", panel, "--id-column", "id", "--fill", "interpolate",
                 "--workers", "0", "--out", tmp_path / "panel", *SMALL)
    assert result.exit_code == 0, result.output
    assert "note: series 'a': 1 date missing from the monthly calendar inserted and filled " \
           "(interpolate): 2001-09" in result.output and "series 'b'" not in result.output
    stored = json.loads((tmp_path / "panel" / "metrics.json").read_text())["series"]
    assert {s["id"]: s["inserted_dates"] for s in stored} == {"a": ["2001-09"], "b": []}


def test_a_forced_run_on_bad_input_keeps_the_earlier_run(tmp_path):
    out = tmp_path / "run"
    assert run("train-series", "--out", out, *SMALL).exit_code == 0
    assert run("forecast", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    short = tmp_path / "short.csv"
    short.write_text("month,y\n" + "".join(f"2020-0{m},{m}\n" for m in range(1, 6)))
    result = run("train-series", short, "--out", out, "--force", *SMALL)
    assert result.exit_code == 2 and "the series has 5 rows" in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert not (out / ".replaced").exists()
    # a forced run that trains replaces it all, its stale forecast too
    assert run("train-series", "--out", out, "--force", "--seed", "3", *SMALL).exit_code == 0
    assert (out / "model.safetensors").read_bytes() != before["model.safetensors"]
    assert not (out / "forecast.csv").exists() and not (out / ".replaced").exists()


def test_statsforecast_long_format_with_one_id_is_one_series(tmp_path):
    # (one model, as without the id column: --level and the dates of 'ds' work)
    data = tmp_path / "one.csv"
    data.write_text("unique_id,ds,y\n" + "".join(
        f"north,{2010 + k // 12}-{k % 12 + 1:02d},{100 + k + 5 * np.sin(k):.2f}\n"
        for k in range(48)))
    out = tmp_path / "run"
    result = run("train-series", data, "--out", out, "--level", "80", *SMALL)
    assert result.exit_code == 0, result.output
    assert (out / "model.safetensors").exists() and not (out / "series").exists()
    report = json.loads((out / "metrics.json").read_text())
    assert report["series"]["name"] == "y" and report["series"]["frequency"] == "monthly"
    assert list(report["intervals"]["model"]) == ["80"]
    result = run("forecast", out, "--horizon", "2", "-o", tmp_path / "f.csv")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "f.csv").read_text().splitlines()[1].startswith("2014-01,")
    # a file of many series is not one series to continue
    many = tmp_path / "many.csv"
    many.write_text(data.read_text() + "south,2014-01,1\n")
    assert_one_line_error(run("forecast", out, many), "holds many series in statsforecast's "
                          "layout")
    # an empty id is still an error, as it is among many series
    data.write_text("unique_id,ds,y\n" + "".join(f",2010-{k + 1:02d},{k}\n" for k in range(12)))
    result = run("train-series", data, "--out", tmp_path / "empty", *SMALL)
    assert result.exit_code == 2 and "empty id" in result.output, result.output


@pytest.mark.parametrize("ids", [["a"], ["a", "b"]])
def test_statsforecast_long_format_with_integer_time_steps(tmp_path, ids):
    data = tmp_path / "steps.csv"
    data.write_text("unique_id,ds,y\n" + "".join(
        f"{sid},{700 + 100 * j + k},{100 + 10 * j + k + 5 * np.sin(k):.2f}\n"
        for j, sid in enumerate(ids) for k in range(48)))
    for extra in ([], ["--no-dates"]):
        out = tmp_path / f"run{len(extra)}"
        result = run("train-series", data, "--out", out, "--workers" if len(ids) > 1 else
                     "--seed", "0", *extra, *SMALL)
        assert result.exit_code == 0, result.output
        # forecasts continue each series' own numbering, from the checkpoint or the CSV
        for source in ([], [data]):
            result = run("forecast", out, *source, "--horizon", "2", "-o", tmp_path / "f.csv")
            assert result.exit_code == 0, result.output
            rows = [line.split(",") for line in (tmp_path / "f.csv").read_text().splitlines()]
            assert [row[-2 if len(ids) > 1 else 0] for row in rows[1:]] == \
                [str(748 + 100 * j + k) for j in range(len(ids)) for k in range(2)]
    # steps read in file order must count up by one; a date that does not exist stays an
    # error
    lines = data.read_text().splitlines()
    data.write_text("\n".join(lines[:3] + lines[4:]) + "\n")
    assert_one_line_error(run("train-series", data, "--out", tmp_path / "gap", *SMALL),
                          "line 4, column 'ds': series 'a' has step 703 after 701")
    data.write_text("unique_id,ds,y\n" + "".join(f"a,2021/02/{k + 1:02d},{k}\n"
                                                  for k in range(29)))
    assert_one_line_error(run("train-series", data, "--out", tmp_path / "slash", *SMALL),
                          "line 30, column 'ds': '2021/02/29' is not a valid date",
                          "; or read the file without its dates (--no-dates)")
    assert run("train-series", data, "--no-dates", "--out", tmp_path / "steps",
               *SMALL).exit_code == 0


def test_statsforecast_long_format_is_read_as_many_series(tmp_path):
    # (and a semicolon-separated file with decimal commas, as spreadsheets save it in many
    # locales)
    lines = ["unique_id;ds;y"]
    for sid, level in (("north", 100), ("south", 200)):
        lines += [f"{sid};{2010 + k // 12}-{k % 12 + 1:02d};{level + k + 0.25:.2f}".replace(
            ".", ",") for k in range(48)]
    data = tmp_path / "long.csv"
    data.write_text("\n".join(lines) + "\n")
    out = tmp_path / "run"
    result = run("train-series", data, "--out", out, "--workers", 0, *SMALL)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "series").glob("*.safetensors")) == [
        "north.safetensors", "south.safetensors"]
    from numbarnn.forecast.model import Forecaster

    history = Forecaster.load(out / "series" / "south.safetensors").info["history"]
    assert history[-1] == 200 + 47.25


def test_quarters_are_dates_and_label_the_forecast(tmp_path):
    data = tmp_path / "gdp.csv"
    data.write_text("quarter,gdp\n" + "".join(
        f"{2000 + k // 4}Q{k % 4 + 1},{100 + k + 3 * (k % 4)}\n" for k in range(40)))
    out = tmp_path / "run"
    result = run("train-series", data, "--out", out, *SMALL)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["series"]["frequency"] == "quarterly" and metrics["season"] == 4
    forecast_csv = tmp_path / "forecast.csv"
    assert run("forecast", out, "--output", forecast_csv).exit_code == 0
    rows = list(csv.reader(forecast_csv.open()))
    assert [r[0] for r in rows] == ["date", "2010Q1", "2010Q2", "2010Q3"]


def train_tiny_csv(tmp_path, text, epochs):
    """``train-series`` of a CSV holding ``text`` into tmp_path/run, with a tiny network."""
    data = tmp_path / "data.csv"
    data.write_text(text)
    result = run("train-series", data, "--out", tmp_path / "run", "--hidden", "4", "--epochs",
                 str(epochs), "--members", "1")
    assert result.exit_code == 0, result.output
    return result


def test_a_year_and_a_month_column_date_the_series(tmp_path):
    result = train_tiny_csv(tmp_path, "Year,Month,Passengers\n" + "".join(
        f"{1949 + k // 12},{k % 12 + 1},{100 + k + 10 * np.sin(k * np.pi / 6):.1f}\n"
        for k in range(72)), epochs=1)
    assert "(72 steps, monthly)" in result.output and "season 12" in result.output
    assert run("forecast", tmp_path / "run", "--output", tmp_path / "f.csv").exit_code == 0
    rows = list(csv.reader((tmp_path / "f.csv").open()))
    assert rows[0] == ["date", "Passengers"] and [r[0] for r in rows[1:3]] == ["1955-01",
                                                                                "1955-02"]


def test_the_report_says_why_a_short_series_got_a_shorter_window_and_validation(tmp_path):
    # five years of months: two years of validation would leave one training window
    result = train_tiny_csv(tmp_path, "month,y\n" + "".join(
        f"{2015 + k // 12}-{k % 12 + 1:02d},{100 + 10 * np.sin(k * np.pi / 6):.3f}\n"
        for k in range(60)), epochs=2)
    assert "window 12, validation 12 steps" in result.output
    assert "validation shorter than 24: with it the training part held 1 window, fewer than " \
        "half the horizon" in result.output
    # and one validation origin is too few to choose a statistical partner on
    assert "forecasting with the mean of the Theta method and an ARIMA alone (the networks " \
        "left out), as --combine auto does where validation has one forecast origin, too " \
        "few to choose a partner on (validation MASE" in result.output
    # (not where seasonal naive took the place of the combination: --fallback)
    from numbarnn_cli.series_report import choice_lines

    report = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert report["combination"]["one_origin"] and report["combination"]["weight"] == 1.0
    # (a fallback's verdict names what lost to seasonal naive: here the statistical mean)
    report["fallback"] = {"better": "seasonal_naive", "model_mase": 1.5,
                          "seasonal_naive_mase": 1.2, "used": False}
    assert choice_lines(report)[-1] == (
        "seasonal naive beat the mean of the Theta method and an ARIMA on the validation part "
        "(MASE 1.200 against 1.500): --fallback would forecast with it")
    # (a linear member the networks were averaged with goes with them)
    report["linear"] = {**report["linear"], "weight": 0.5}
    line = next(s for s in choice_lines(report) if "linear autoregression" in s)
    assert line.startswith("averaged with a linear") and \
        line.endswith("without it), left out with the networks below")
    report["combination"]["weight"] = 0.0
    line = next(s for s in choice_lines(report) if "statistical forecast" in s)
    assert line.startswith("not combined with a statistical forecast (validation MASE")
    # eight years of quarters, a horizon of 8: windows of 12 would leave none
    data = tmp_path / "quarters.csv"
    data.write_text("quarter,y\n" + "".join(
        f"{2010 + k // 4}-{3 * (k % 4) + 1:02d},{100 + 5 * (k % 4):.1f}\n" for k in range(32)))
    result = run("train-series", data, "--out", tmp_path / "q", "--horizon", "8", "--hidden",
                 "4", "--epochs", "2", "--members", "1")
    assert result.exit_code == 0, result.output
    assert "window 4, validation 8 steps" in result.output
    assert "window shorter than 12: with it the training part held 0 windows, fewer than the " \
        "horizon" in result.output
