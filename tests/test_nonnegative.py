"""Forecasts that stop at 0 (``ForecastConfig.nonnegative``): a series never below 0 (counts,
sales, prices) gets no forecast or interval bound below 0."""
import csv

import numpy as np
import pytest
from click.testing import CliRunner

from numbarnn import checkpoints
from numbarnn.checkpoints import CheckpointError
from numbarnn.forecast.config import ForecastConfig
from numbarnn.forecast.model import Forecaster
from numbarnn.forecast.theta import theta_forecast
from numbarnn.forecast.metrics import score_forecasts
from numbarnn.forecast.training import _split, train_forecaster
from numbarnn_cli.main import cli
from clichecks import assert_one_line_error
from test_statistical_partners import format_version, series

# a straight decline to 0 (from step 80), under noise in [0, 1): never below 0, and
# differenced (untrained networks forecast about the mean difference, -0.4) its forecasts
# from the last 20 steps run below 0; nothing chosen on validation, so that the floor
# changes nothing but the output
SETTINGS = dict(season=1, window=8, horizon=6, hidden_size=4, epochs=2, members=1, seed=0,
                log=False, diff=True, seasonal_diff=False, combine="none")


def decline(n=100, seed=0):
    return np.maximum(0.0, 40 - 0.5 * np.arange(n)) + \
        np.random.default_rng(seed).uniform(0, 1, n)


def test_a_series_never_below_0_is_forecast_at_0_or_above():
    y = decline()
    model, report = train_forecaster(series(y), ForecastConfig(**SETTINGS), level=(80, 95))
    free, free_report = train_forecaster(series(y), ForecastConfig(nonnegative=False,
                                                                   **SETTINGS), level=(80, 95))
    assert report["choices"]["nonnegative"] == {
        "floor": True, "by": "no value below 0 before the test", "after": True}
    assert free_report["choices"]["nonnegative"] == {"floor": False, "by": "setting",
                                                     "after": False}
    assert model.nonnegative and not free.nonnegative
    forecast, unbounded = model.forecast(12, level=(80, 95)), free.forecast(12)
    # the same networks: the floor only cuts what runs below 0
    assert unbounded["values"].min() < 0
    np.testing.assert_array_equal(forecast["values"], np.maximum(unbounded["values"], 0.0))
    for lo, hi in forecast["intervals"].values():
        assert lo.min() == 0.0 and np.all(lo <= forecast["values"]) and \
            np.all(forecast["values"] <= hi)
    # the test's intervals too (its last steps are near 0)
    assert min(free_report["test"]["intervals"]["95"][0]) < 0
    assert min(report["test"]["intervals"]["95"][0]) == 0.0
    # a model saved before the floor (no 'nonnegative' in its info) forecasts as before
    model.info.pop("nonnegative")
    np.testing.assert_array_equal(model.forecast(12)["values"], unbounded["values"])


@pytest.mark.parametrize("combine", ["theta", "both"])
def test_a_combined_forecast_stops_at_0_too(combine):
    # the networks' forecast (with the linear member's for 'both') stops at 0, then its
    # mean with the Theta method's does
    y = decline()
    settings = {**SETTINGS, "combine": combine}
    model, _ = train_forecaster(series(y), ForecastConfig(**settings))
    free, _ = train_forecaster(series(y), ForecastConfig(nonnegative=False, **settings))
    partner = theta_forecast(y, 6, 1)
    networks = 2 * free.forecast(6)["values"] - partner  # (the mean is half each)
    assert networks.min() < 0
    np.testing.assert_allclose(model.forecast(6)["values"],
                               np.maximum(0.0, (np.maximum(networks, 0.0) + partner) / 2),
                               rtol=1e-9, atol=1e-12)


def test_validation_scores_the_forecasts_the_model_makes():
    # 'auto' chooses its partner on the validation scores: they must be those of the
    # forecasts the model then makes from the same origins, floored alike
    y = decline()
    model, report = train_forecaster(series(y), ForecastConfig(**{**SETTINGS,
                                                                  "combine": "auto"}))
    assert report["combination"]["weight"] > 0
    split = _split(model.config, len(y), 1)
    origins = np.arange(split.train_end - 1, split.val_end - 6)
    features = np.zeros((len(y), 0))
    forecasts = model._forecast_values(y, features, origins, 6)
    # (the floor is at work there: the networks' own forecasts run below 0)
    networks = Forecaster(model.config, model.pipeline, None,
                          {**model.info, "combination": None, "nonnegative": False},
                          network=model.network_state())
    assert networks._forecast_values(y, features, origins, 6).min() < 0
    assert report["validation"]["model"]["mase"] == pytest.approx(
        score_forecasts(y, origins, forecasts, 6, 1, split.train_end)["model"]["mase"], rel=1e-12)


def test_a_quantile_models_bounds_stop_at_0():
    model, _ = train_forecaster(series(decline()), ForecastConfig(
        **{**SETTINGS, "loss": "quantile"}))
    forecast = model.forecast(6, level=(80, 95))
    assert forecast["values"].min() >= 0.0
    assert min(lo.min() for lo, _ in forecast["intervals"].values()) == 0.0


def test_the_floor_survives_the_checkpoint_in_format_5(tmp_path, monkeypatch):
    model, _ = train_forecaster(series(decline()), ForecastConfig(**SETTINGS))
    model.save(tmp_path / "m.safetensors")
    loaded = Forecaster.load(tmp_path / "m.safetensors")
    assert loaded.nonnegative
    np.testing.assert_array_equal(loaded.forecast(12)["values"], model.forecast(12)["values"])
    assert format_version(tmp_path / "m.safetensors") == "5"
    # without the floor, or with a log (which forecasts above 0 anyway), the format the rest
    # needs
    free, _ = train_forecaster(series(decline()), ForecastConfig(nonnegative=False, **SETTINGS))
    free.save(tmp_path / "free.safetensors")
    logged, _ = train_forecaster(series(decline()), ForecastConfig(**{**SETTINGS, "log": True}))
    assert logged.nonnegative
    logged.save(tmp_path / "logged.safetensors")
    assert format_version(tmp_path / "free.safetensors") == \
        format_version(tmp_path / "logged.safetensors") == "1"
    # an older numbarnn (formats up to 4) refuses the floored one rather than forecast below 0
    monkeypatch.setattr(checkpoints, "FORMAT_VERSION", 4)
    with pytest.raises(CheckpointError, match="upgrade numbarnn"):
        Forecaster.load(tmp_path / "m.safetensors")
    assert not Forecaster.load(tmp_path / "free.safetensors").nonnegative


def test_a_value_below_0_before_the_test_leaves_the_floor_out():
    y = decline()
    y[5] = -2.0
    _, report = train_forecaster(series(y), ForecastConfig(**SETTINGS))
    assert report["choices"]["nonnegative"] == {
        "floor": False, "by": "values below 0 before the test", "after": False}
    with pytest.raises(ValueError, match=r"^nonnegative: y holds -2\.0 at step 5, but "
                       r"--nonnegative \(nonnegative=True\) keeps the forecasts at 0 or above"):
        train_forecaster(series(y), ForecastConfig(nonnegative=True, **SETTINGS))


def test_a_value_below_0_in_the_test_leaves_it_out_after_the_series():
    # the test is not looked at: it is scored with the floor; the forecasts after the
    # series, which continue from the test, go without it
    y = decline()
    y[-1] = -1.0
    model, report = train_forecaster(series(y), ForecastConfig(**SETTINGS), level=(95,))
    assert report["choices"]["nonnegative"] == {
        "floor": True, "by": "no value below 0 before the test", "after": False}
    assert min(report["test"]["intervals"]["95"][0]) == 0.0
    assert not model.nonnegative and model.forecast(12)["values"].min() < 0
    with pytest.raises(ValueError, match="nonnegative: y holds -1.0 at step 99"):
        train_forecaster(series(y), ForecastConfig(nonnegative=True, **SETTINGS))
    # a floored model refuses to continue data that go below 0
    floored, _ = train_forecaster(series(decline()), ForecastConfig(**SETTINGS))
    with pytest.raises(ValueError, match=r"^y: step 99 holds -1\.0, but this model keeps its "
                       r"forecasts at 0 or above .* train one with --no-nonnegative"):
        floored.forecast(6, series(y))


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
        "(--no-nonnegative to allow them below)\n" in result.output
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
    assert result.exit_code == 0, result.output
    with open(tmp_path / "g.csv") as f:
        assert min(float(r["units"]) for r in csv.DictReader(f)) < 0
    # forced on a series that goes below 0: one line
    data.write_text("step,units\n0,-1\n" + "".join(f"{k},{v:.3f}\n"
                                                   for k, v in enumerate(decline(), 1)))
    result = runner.invoke(cli, ["train-series", str(data), "--out", str(tmp_path / "bad"),
                                 "--nonnegative", *options])
    assert_one_line_error(result, "nonnegative: units holds -1.0 at step 0, but --nonnegative")
    assert not (tmp_path / "bad" / "model.safetensors").exists()
