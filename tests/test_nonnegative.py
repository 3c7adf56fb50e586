"""Forecasts that stop at 0 (``ForecastConfig.nonnegative``): a series never below 0 (counts,
sales, rates) gets no forecast or interval bound below 0."""
import csv

import numpy as np
import pytest
from click.testing import CliRunner

from numbarnn import checkpoints
from numbarnn.checkpoints import CheckpointError
from numbarnn.forecast.config import ForecastConfig
from numbarnn.forecast.model import Forecaster
from numbarnn.forecast.training import train_forecaster
from numbarnn_cli.main import cli
from test_statistical_partners import format_version, series

# a straight decline to about 1.5 under noise in [0, 1): never below 0, and differenced
# (untrained networks forecast the mean difference, -0.5) its forecast runs below 0 within
# a few steps; nothing chosen on validation, so that the floor changes nothing but the output
SETTINGS = dict(season=1, window=8, horizon=6, hidden_size=4, epochs=2, members=1, seed=0,
                log=False, diff=True, seasonal_diff=False, combine="none")


def decline(n=100, seed=0):
    return 50.5 - 0.5 * np.arange(n) + np.random.default_rng(seed).uniform(0, 1, n)


def test_a_series_never_below_0_is_forecast_at_0_or_above():
    y = decline()
    model, report = train_forecaster(series(y), ForecastConfig(**SETTINGS), level=(80, 95))
    free, free_report = train_forecaster(series(y), ForecastConfig(nonnegative=False,
                                                                   **SETTINGS))
    assert report["choices"]["nonnegative"] == {"floor": True,
                                                "by": "no value below 0 before the test"}
    assert free_report["choices"]["nonnegative"] == {"floor": False, "by": "setting"}
    assert model.nonnegative and not free.nonnegative
    forecast, unbounded = model.forecast(12, level=(80, 95)), free.forecast(12)
    # the same networks: the floor only cuts what runs below 0
    assert unbounded["values"].min() < 0
    np.testing.assert_array_equal(forecast["values"], np.maximum(unbounded["values"], 0.0))
    for lo, hi in forecast["intervals"].values():
        assert lo.min() == 0.0 and np.all(lo <= forecast["values"]) and \
            np.all(forecast["values"] <= hi)
    for lo, hi in (b for b in report["test"]["intervals"].values()):
        assert min(lo) >= 0.0 and min(hi) >= 0.0
    # a model saved before the floor (no 'nonnegative' in its info) forecasts as before
    model.info.pop("nonnegative")
    np.testing.assert_array_equal(model.forecast(12)["values"], unbounded["values"])


@pytest.mark.parametrize("combine", ["theta", "linear"])
def test_a_combined_forecast_stops_at_0_too(combine):
    # combined after the networks' forecast (with the Theta method, or the linear member)
    settings = {**SETTINGS, "combine": combine}
    model, _ = train_forecaster(series(decline()), ForecastConfig(**settings))
    free, _ = train_forecaster(series(decline()), ForecastConfig(nonnegative=False, **settings))
    unbounded = free.forecast(12)["values"]
    assert unbounded.min() < 0
    np.testing.assert_array_equal(model.forecast(12)["values"], np.maximum(unbounded, 0.0))


def test_the_floor_survives_the_checkpoint_in_format_5(tmp_path, monkeypatch):
    model, _ = train_forecaster(series(decline()), ForecastConfig(**SETTINGS))
    model.save(tmp_path / "m.safetensors")
    loaded = Forecaster.load(tmp_path / "m.safetensors")
    assert loaded.nonnegative
    np.testing.assert_array_equal(loaded.forecast(12)["values"], model.forecast(12)["values"])
    assert format_version(tmp_path / "m.safetensors") == "5"
    # an older numbarnn (formats up to 4) refuses it rather than forecast below 0
    monkeypatch.setattr(checkpoints, "FORMAT_VERSION", 4)
    with pytest.raises(CheckpointError, match="upgrade numbarnn"):
        Forecaster.load(tmp_path / "m.safetensors")
    # without the floor, the format the rest needs
    free, _ = train_forecaster(series(decline()), ForecastConfig(nonnegative=False, **SETTINGS))
    free.save(tmp_path / "free.safetensors")
    assert format_version(tmp_path / "free.safetensors") == "1"
    assert not Forecaster.load(tmp_path / "free.safetensors").nonnegative


def test_a_value_below_0_before_the_test_leaves_the_floor_out():
    y = decline()
    y[5] = -2.0
    _, report = train_forecaster(series(y), ForecastConfig(**SETTINGS))
    assert report["choices"]["nonnegative"] == {"floor": False,
                                                "by": "values below 0 before the test"}
    with pytest.raises(ValueError, match=r"^nonnegative: y holds -2\.0 at step 5, but "
                       r"nonnegative=True keeps its forecasts at 0 or above"):
        train_forecaster(series(y), ForecastConfig(nonnegative=True, **SETTINGS))
    # the test is not looked at: a value below 0 there leaves the floor on
    y = decline()
    y[-1] = -1.0
    _, report = train_forecaster(series(y), ForecastConfig(**SETTINGS))
    assert report["choices"]["nonnegative"]["floor"]


def test_bad_setting():
    with pytest.raises(ValueError, match="nonnegative: got 'yes', expected True, False or "
                       "'auto'"):
        ForecastConfig(nonnegative="yes")


def test_the_command_reports_the_floor_and_writes_bounds_at_0(tmp_path):
    data = tmp_path / "counts.csv"
    data.write_text("step,units\n" + "".join(f"{k},{v:.3f}\n" for k, v in enumerate(decline())))
    runner = CliRunner()
    options = ["--hidden", "4", "--epochs", "2", "--members", "1", "--window", "8",
               "--horizon", "6", "--season", "1", "--no-log", "--diff", "--combine", "none"]
    result = runner.invoke(cli, ["train-series", str(data), "--out", str(tmp_path / "run"),
                                 *options])
    assert result.exit_code == 0, result.output
    assert "forecasts and intervals kept at 0 or above: no value below 0 before the test " \
        "(--no-nonnegative to allow them below)" in result.output
    result = runner.invoke(cli, ["forecast", str(tmp_path / "run"), "--horizon", "12",
                                 "--level", "80", "--output", str(tmp_path / "f.csv")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "f.csv") as f:
        rows = list(csv.DictReader(f))
    assert min(float(r["units"]) for r in rows) == 0.0
    assert min(float(r["lo-80"]) for r in rows) == 0.0
    # switched off: the line is not there and the forecast runs below 0
    result = runner.invoke(cli, ["train-series", str(data), "--out", str(tmp_path / "free"),
                                 "--no-nonnegative", *options])
    assert result.exit_code == 0, result.output
    assert "kept at 0 or above" not in result.output
    result = runner.invoke(cli, ["forecast", str(tmp_path / "free"), "--horizon", "12",
                                 "--output", str(tmp_path / "g.csv")])
    with open(tmp_path / "g.csv") as f:
        assert min(float(r["units"]) for r in csv.DictReader(f)) < 0
