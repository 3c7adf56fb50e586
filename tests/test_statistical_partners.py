"""The statistical partners a forecaster may be combined with besides the Theta method
(``test_theta.py``): the linear trend and seasonal dummies (``forecast/regression.py``), the
naive forecast and seasonal naive's, which ``ForecastConfig.combine='auto'`` weighs on
validation."""
import json
import struct
from dataclasses import replace

import numpy as np
import pytest

from numbarnn.checkpoints import CheckpointError, load_checkpoint, save_checkpoint
from numbarnn.forecast.arima import theta_arima_forecast
from numbarnn.forecast.config import ForecastConfig
from numbarnn.forecast.model import CHECKPOINT_KIND, Forecaster
from numbarnn.forecast.regression import regression_forecast
from numbarnn.forecast.series import Series
from numbarnn.forecast.selection import season_autocorrelation
from numbarnn.forecast.training import train_forecaster
from click.testing import CliRunner
from numbarnn_cli.main import cli
from test_theta import train_tiny_cli

# (no floor at 0: the checkpoints' formats are then those their partners need)
TINY = dict(season=12, window=12, horizon=6, hidden_size=4, epochs=3, batch_size=8, members=1,
            seed=2, nonnegative=False)


def series(values):
    return Series(np.asarray(values, np.float64), "y", np.zeros((len(values), 0)), [], None,
                  None)


def fixed(seed, n=120):
    """A trend and a season that never change, under noise that does not carry over: what
    the regression is the right model for."""
    t = np.arange(n)
    return 100 + 2.0 * t + 10 * np.sin(2 * np.pi * t / 12) + \
        np.random.default_rng(seed).normal(0, 4, n)


def test_recovers_a_trend_and_a_season_exactly():
    t = np.arange(72 + 9)
    season = np.random.default_rng(0).normal(0, 5, 12)
    y = 3.0 + 0.5 * t + season[t % 12]
    np.testing.assert_allclose(regression_forecast(y[:72], 9, 12), y[72:], rtol=1e-10)


def test_no_season_is_a_straight_line():
    rng = np.random.default_rng(1)
    y = 2.0 + 0.1 * np.arange(60) + rng.standard_normal(60)
    r, bound = season_autocorrelation(y - np.polyval(np.polyfit(np.arange(60), y, 1),
                                                     np.arange(60)), 12)
    assert abs(r) < bound  # (white noise about a line: no season found)
    slope, intercept = np.polyfit(np.arange(60), y, 1)
    line = intercept + slope * np.arange(60, 66)
    np.testing.assert_allclose(regression_forecast(y, 6, 12), line, rtol=1e-10)
    np.testing.assert_allclose(regression_forecast(y, 6, 1), line, rtol=1e-10)
    # fewer than two seasons and a step of data: no dummies either, even for a clear season
    t = np.arange(24)
    y = 1.0 + 0.2 * t + 4 * np.sin(2 * np.pi * t / 12)
    np.testing.assert_allclose(regression_forecast(y, 3, 12),
                               np.polyval(np.polyfit(t, y, 1), np.arange(24, 27)), rtol=1e-10)


def test_a_very_short_history_forecasts_its_last_value():
    np.testing.assert_array_equal(regression_forecast([5.0, 7.0], 3, 12), [7.0, 7.0, 7.0])


@pytest.mark.parametrize("seed", [1, 2])
def test_auto_takes_the_regression_where_the_season_is_fixed(seed, tmp_path):
    model, report = train_forecaster(series(fixed(seed)), ForecastConfig(combine="auto",
                                                                         log=False, **TINY))
    partners = report["combination"]["validation_mase"]["partners"]
    assert set(partners) == {"theta", "regression", "naive", "arima"}
    assert report["validation"]["model"]["mase"] == pytest.approx(partners["regression"])
    assert_combined(model, report, "regression", regression_forecast(fixed(seed), 6, 12),
                     tmp_path / "model.safetensors", "2")


def test_theta_setting_never_takes_the_regression():
    _, report = train_forecaster(series(fixed(0)), ForecastConfig(combine="theta", **TINY))
    c = report["combination"]
    assert c["method"] == "theta" and c["weight"] == 0.5
    assert set(c["validation_mase"]["partners"]) == {"theta"}


@pytest.mark.parametrize("combination, message", [
    ({"method": "prophet", "weight": 0.5}, "unknown method 'prophet'"),
    ("theta", "combination: got 'theta', expected an object")])
def test_a_checkpoint_with_an_unknown_partner_is_one_error(tmp_path, combination, message):
    model, _ = train_forecaster(series(fixed(1)), ForecastConfig(combine="theta", **TINY))
    path = tmp_path / "model.safetensors"
    model.save(path)
    tensors, metadata = load_checkpoint(path, CHECKPOINT_KIND)
    metadata["info"]["combination"] = combination
    save_checkpoint(path, tensors, metadata, CHECKPOINT_KIND)
    with pytest.raises(CheckpointError, match=message):
        Forecaster.load(path)


def format_version(path):
    raw = open(path, "rb").read()
    return json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])["__metadata__"][
        "format_version"]


def assert_combined(model, report, method, partner, path, version, weight=0.5):
    """``model`` took ``method`` on validation (its lowest combined MASE, below the networks'
    own where ``weight`` is a half: a partner weighing more is taken always), forecasts the
    mean of its networks' forecast and ``partner`` (the partner's forecast of the next 6
    steps), or with another ``weight`` the mean weighted so, and saves to ``path`` as format
    ``version``, which loads to the same forecast."""
    c = report["combination"]
    partners = c["validation_mase"]["partners"]
    assert c["method"] == method and c["weight"] == weight
    assert model.info["combination"] == {"method": method, "weight": weight}
    assert c["validation_mase"]["combined"] == partners[method] == min(partners.values())
    if weight == 0.5:
        assert c["validation_mase"]["combined"] < c["validation_mase"]["networks"]
    alone = Forecaster(model.config, model.pipeline, model.feature_scaler,
                       {**model.info, "combination": None}, network=model.network_state())
    np.testing.assert_allclose(model.forecast(6)["values"],
                               (1 - weight) * alone.forecast(6)["values"] + weight * partner,
                               rtol=1e-9)
    model.save(path)
    assert format_version(path) == version
    np.testing.assert_array_equal(Forecaster.load(path).forecast(6)["values"],
                                  model.forecast(6)["values"])


def test_only_a_checkpoint_with_a_new_partner_needs_format_2(tmp_path, monkeypatch):
    # an older numbarnn (reading format 1) refuses it, instead of combining with Theta
    from numbarnn import checkpoints

    model, _ = train_forecaster(series(fixed(1)), ForecastConfig(combine="auto", log=False,
                                                                 **TINY))
    assert model.info["combination"]["method"] == "regression"
    model.save(tmp_path / "regression.safetensors")
    assert format_version(tmp_path / "regression.safetensors") == "2"
    model.info["combination"]["method"] = "theta"
    model.save(tmp_path / "theta.safetensors")
    assert format_version(tmp_path / "theta.safetensors") == "1"
    monkeypatch.setattr(checkpoints, "FORMAT_VERSION", 1)
    Forecaster.load(tmp_path / "theta.safetensors")
    with pytest.raises(CheckpointError, match="upgrade numbarnn"):
        Forecaster.load(tmp_path / "regression.safetensors")


def train_cli(tmp_path, values, season, *options):
    """``train-series`` on ``values`` with TINY's settings (and ``options``): its output and
    the combination in its metrics.json."""
    data = tmp_path / "data.csv"
    data.write_text("value\n" + "\n".join(f"{v:.6f}" for v in values) + "\n")
    result = CliRunner().invoke(cli, ["train-series", str(data), "--season", str(season),
                                      "--window", "12", "--horizon", "6", "--hidden", "4",
                                      "--epochs", "3", "--members", "1", "--seed", "2",
                                      "--no-log", "--out", str(tmp_path / "run"),
                                      *options])
    assert result.exit_code == 0, result.output
    return result.output, json.loads((tmp_path / "run" / "metrics.json").read_text())[
        "combination"]


def test_cli_report_names_every_partner(tmp_path):
    output, c = train_cli(tmp_path, fixed(1), 12)
    assert c["method"] == "regression" and c["weight"] == 0.5
    scores = c["validation_mase"]
    assert (f"combined with a linear trend and seasonal dummies, half each (validation MASE "
            f"{scores['combined']:.3f} combined with a linear trend and seasonal dummies, "
            f"{scores['networks']:.3f} without it; with the Theta method "
            f"{scores['partners']['theta']:.3f}; with the last value (naive) "
            f"{scores['partners']['naive']:.3f}; with an ARIMA (an autoregression, on the "
            f"differences where the level wanders) {scores['partners']['arima']:.3f})") in output


def test_no_regression_without_a_season(tmp_path):
    # a season of 1: the regression would be a straight line; Theta and naive are weighed
    output, report = train_tiny_cli(tmp_path / "run", "auto")
    assert report["season"] == 1
    c = report["combination"]
    assert list(c["validation_mase"]["partners"]) == ["theta", "naive", "arima"]
    assert "with a linear trend" not in output


def test_the_naive_partner_halves_the_forecast_change(tmp_path):
    # a random walk: the networks (tiny, short-trained, on its levels) forecast changes
    # that are not there, and validation takes the last value as the partner
    walk = 100 + np.random.default_rng(0).normal(0, 1, 120).cumsum()
    model, report = train_forecaster(series(walk), ForecastConfig(
        combine="auto", log=False, diff=False, **{**TINY, "season": 1}))
    assert_combined(model, report, "naive", np.full(6, walk[-1]),
                     tmp_path / "naive.safetensors", "2")


def test_few_training_windows_always_take_a_partner(tmp_path, monkeypatch):
    # the random walk above, whose networks train on enough windows to be weighed on
    # validation; with fewer than FEW_WINDOWS 'auto' always combines them, the partner
    # weighing three quarters or all, whichever with whichever partner validates best
    from numbarnn.forecast import combination
    from numbarnn.forecast.model import PARTNER_FORMATS, PARTNERS

    walk = 100 + np.random.default_rng(0).normal(0, 1, 120).cumsum()
    config = ForecastConfig(combine="auto", log=False, diff=False, **{**TINY, "season": 1})
    _, report = train_forecaster(series(walk), config)
    windows = report["training"]["train_windows"]
    assert windows >= combination.FEW_WINDOWS and report["combination"]["few_windows"] is None
    monkeypatch.setattr(combination, "FEW_WINDOWS", windows + 1)
    model, report = train_forecaster(series(walk), config)
    c = report["combination"]
    assert c["few_windows"] == windows and c["weight"] in combination.FEW_WINDOWS_WEIGHTS
    assert list(c["validation_mase"]["partners"]) == ["theta", "naive", "arima"]
    assert_combined(model, report, c["method"], PARTNERS[c["method"]](walk, 6, 1),
                     tmp_path / "few.safetensors", str(PARTNER_FORMATS[c["method"]]),
                     weight=c["weight"])


def test_few_training_windows_take_a_partner_that_validates_worse(monkeypatch):
    # a partner far off (every forecast 50 above the last value): where the networks train
    # on enough windows 'auto' leaves it out; with fewer than FEW_WINDOWS it takes it all
    # the same, at the least weight
    from numbarnn.forecast import combination, model

    def far_off(values, horizon, season):
        return np.full(horizon, values[-1] + 50.0)

    monkeypatch.setitem(model.PARTNERS, "theta", far_off)
    monkeypatch.setattr(combination, "PARTNERS", {"theta": far_off})
    walk = 100 + np.random.default_rng(0).normal(0, 1, 120).cumsum()
    config = ForecastConfig(combine="auto", log=False, diff=False, **{**TINY, "season": 1})
    _, report = train_forecaster(series(walk), config)
    c = report["combination"]
    assert c["weight"] == 0.0 and c["few_windows"] is None
    assert c["validation_mase"]["combined"] > c["validation_mase"]["networks"]
    monkeypatch.setattr(combination, "FEW_WINDOWS", report["training"]["train_windows"] + 1)
    model, report = train_forecaster(series(walk), config)
    c = report["combination"]
    assert (c["method"], c["weight"]) == ("theta", 0.75)
    assert c["validation_mase"]["combined"] > c["validation_mase"]["networks"]
    assert model.info["combination"] == {"method": "theta", "weight": 0.75}


def seasonal_walk(seed, n, season):
    """Each step the value a season earlier plus noise: seasonal naive's own model."""
    rng = np.random.default_rng(seed)
    y = list(100 + 10 * rng.standard_normal(season))
    for t in range(season, n):
        y.append(y[t - season] + rng.normal(0, 1))
    return np.array(y)


def test_seasonal_naive_is_a_partner_for_a_season_too_long_to_test(tmp_path, monkeypatch):
    from numbarnn import checkpoints
    from numbarnn.forecast.metrics import seasonal_naive_forecast

    # 70 steps of a season of 24: under three seasons before the test, too few for the
    # seasonality test; seasonal naive is offered, and taken alone (the networks train on
    # 35 windows: fewer than FEW_WINDOWS)
    y = seasonal_walk(0, 70, 24)
    model, report = train_forecaster(series(y), ForecastConfig(combine="auto", log=False,
                                                               **{**TINY, "season": 24}))
    assert report["choices"]["seasonality"]["acf"] is None  # (not tested)
    assert report["combination"]["few_windows"] == report["training"]["train_windows"] == 35
    # format 6, not seasonal naive's 3: weighing all, for a season, the partner keeps its
    # intervals' errors in units of its spread (intervals.calibration_errors); a numbarnn
    # that reads format 5 refuses it
    assert model.info["calibration"]["scale"] == "spread"
    assert_combined(model, report, "seasonal_naive", seasonal_naive_forecast(y, 6, 24),
                     tmp_path / "snaive.safetensors", "6", weight=1.0)
    monkeypatch.setattr(checkpoints, "FORMAT_VERSION", 5)
    with pytest.raises(CheckpointError, match="upgrade numbarnn"):
        Forecaster.load(tmp_path / "snaive.safetensors")
    # with its errors as they are, seasonal naive's own format 3, which format 2 refuses
    model.info["calibration"]["scale"] = "absolute"
    model.save(tmp_path / "snaive3.safetensors")
    assert format_version(tmp_path / "snaive3.safetensors") == "3"
    monkeypatch.setattr(checkpoints, "FORMAT_VERSION", 2)
    with pytest.raises(CheckpointError, match="upgrade numbarnn"):
        Forecaster.load(tmp_path / "snaive3.safetensors")
    # the same in the log: the model is seasonal naive but for the log's rounding, and no
    # fallback says that seasonal naive beat it
    _, report = train_forecaster(series(y), ForecastConfig(combine="auto", log=True,
                                                           **{**TINY, "season": 24}))
    c = report["combination"]
    assert (c["method"], c["weight"], report["fallback"]) == ("seasonal_naive", 1.0, None)
    # a season longer than the training part: its seasonal naive would be the naive forecast
    _, report = train_forecaster(series(y), ForecastConfig(combine="auto", log=False,
                                                           **{**TINY, "season": 60}))
    assert list(report["combination"]["validation_mase"]["partners"]) == \
        ["theta", "regression", "naive", "arima"]
    # with ten seasons the season is tested, and seasonal naive is not a partner
    _, report = train_forecaster(series(seasonal_walk(0, 120, 12)),
                                 ForecastConfig(combine="auto", log=False, **TINY))
    assert list(report["combination"]["validation_mase"]["partners"]) == \
        ["theta", "regression", "naive", "arima"]


def test_cli_report_names_seasonal_naive(tmp_path):
    output, c = train_cli(tmp_path, seasonal_walk(0, 70, 24), 24)
    assert c["method"] == "seasonal_naive" and c["weight"] == 1.0
    assert ("forecasting with the value a season earlier (seasonal naive) alone (the networks "
            "left out); with fewer than 60 training windows (35 here) validation chose among "
            "partners weighing 0.75 or 1 (validation MASE "
            f"{c['validation_mase']['combined']:.3f} with the value a season earlier") in output


def test_cli_report_says_too_few_windows_to_choose_on(tmp_path):
    walk = 100 + np.random.default_rng(0).normal(0, 1, 50).cumsum()
    output, c = train_cli(tmp_path, walk, 1, "--refit")
    assert c["too_few_to_choose"] and c["method"] == "theta_arima"
    assert "not trained again (--refit): the forecast leaves the networks out" in output
    assert ("forecasting with the mean of the Theta method and an ARIMA alone (the networks "
            "left out), as --combine auto does where the networks train on fewer than 25 "
            f"windows ({c['few_windows']} here), too few to choose a partner on (validation "
            "MASE") in output


def test_one_validation_origin_is_too_few_to_choose_a_partner_on(tmp_path):
    # the random walk of the test above, with one horizon of validation (one origin):
    # 'auto' combines with the mean of the Theta method and ARIMA instead of choosing on one
    # forecast
    walk = 100 + np.random.default_rng(0).normal(0, 1, 120).cumsum()
    settings = dict(combine="auto", log=False, diff=False, **{**TINY, "season": 1})
    model, report = train_forecaster(series(walk), ForecastConfig(val_size=6, **settings))
    c = report["combination"]
    assert c["one_origin"] and c["method"] == "theta_arima" and c["weight"] == 1.0
    assert list(c["validation_mase"]["partners"]) == ["theta_arima"]
    # (the statistical mean alone: the networks of a short series train on few windows)
    partner = theta_arima_forecast(walk, 6, 1)
    np.testing.assert_allclose(model.forecast(6)["values"], partner, rtol=1e-9)
    model.save(tmp_path / "short.safetensors")  # (the mean needs format 4)
    assert format_version(tmp_path / "short.safetensors") == "4"
    np.testing.assert_array_equal(Forecaster.load(tmp_path / "short.safetensors").forecast(6)[
        "values"], model.forecast(6)["values"])
    # two horizons (seven origins): chosen on validation, as before
    _, report = train_forecaster(series(walk), ForecastConfig(val_size=12, **settings))
    c = report["combination"]
    assert not c["one_origin"] and list(c["validation_mase"]["partners"]) == \
        ["theta", "naive", "arima"]


def test_too_few_training_windows_take_the_statistical_mean_alone(monkeypatch):
    # the random walk above: where its networks train on fewer than ALONE_WINDOWS windows,
    # 'auto' forecasts with the mean of the Theta method and ARIMA, as for one validation
    # origin, not with what the handful of validation origins liked best; --refit does not
    # train again the networks the forecast leaves out
    from numbarnn.forecast import combination

    walk = 100 + np.random.default_rng(0).normal(0, 1, 120).cumsum()
    config = ForecastConfig(combine="auto", log=False, diff=False, refit=True,
                            **{**TINY, "season": 1})
    _, report = train_forecaster(series(walk), config)
    windows = report["training"]["train_windows"]
    assert not report["combination"]["too_few_to_choose"]
    assert report["training"]["refit"]["windows"] > windows
    monkeypatch.setattr(combination, "FEW_WINDOWS", windows + 1)
    monkeypatch.setattr(combination, "ALONE_WINDOWS", windows + 1)
    model, report = train_forecaster(series(walk), config)
    c = report["combination"]
    assert c["too_few_to_choose"] and not c["one_origin"] and c["few_windows"] == windows
    assert (c["method"], c["weight"]) == ("theta_arima", 1.0)
    assert list(c["validation_mase"]["partners"]) == ["theta_arima"]
    partner = theta_arima_forecast(walk, 6, 1)
    np.testing.assert_allclose(model.forecast(6)["values"], partner, rtol=1e-9)
    assert report["training"]["refit"] is None
    # without the patch: 50 steps leave the networks 14 windows, 70 steps 34 (chosen on
    # validation among partners weighing 0.75 or 1)
    monkeypatch.undo()
    for n, alone in ((50, True), (70, False)):
        _, report = train_forecaster(series(walk[:n]), config)
        c = report["combination"]
        assert c["few_windows"] == report["training"]["train_windows"]
        assert c["too_few_to_choose"] == alone == (c["few_windows"] < combination.ALONE_WINDOWS)
        if alone:
            assert (c["method"], c["weight"]) == ("theta_arima", 1.0)
        else:
            assert c["weight"] in combination.FEW_WINDOWS_WEIGHTS
            assert list(c["validation_mase"]["partners"]) == ["theta", "naive", "arima"]


def test_transforms_chosen_by_rule_say_so(tmp_path):
    # 20 values about a level, horizon 6: no validation part, and the log and differencing
    # left open, so the rule chooses (the report had said "(rule (no validation part))")
    data = tmp_path / "level.csv"
    y = 100 + np.random.default_rng(0).normal(0, 2, 20)
    data.write_text("value\n" + "".join(f"{v:.6f}\n" for v in y))
    result = CliRunner().invoke(cli, ["train-series", str(data), "--season", "1",
                                      "--horizon", "6", "--hidden", "4", "--epochs", "2",
                                      "--members", "1", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "leaves the log to the rule, with no validation part to choose on" in result.output
    assert "transforms: log (by rule, with no validation part to choose on)" in result.output


def test_a_series_too_short_for_validation_forecasts_with_the_statistical_mean(tmp_path):
    # 20 yearly values, horizon 6: one horizon of validation would leave the networks no
    # training window (22 values needed), so there is none, and the mean of the Theta
    # method and ARIMA, which needs no validation to be taken, forecasts alone
    y = 1000 + np.cumsum(30 + np.random.default_rng(5).normal(0, 40, 20))
    config = ForecastConfig(season=1, horizon=6, hidden_size=4, epochs=2, members=1, seed=0,
                            log=False, nonnegative=False)
    model, report = train_forecaster(series(y), config)
    choices, c = report["choices"], report["combination"]
    assert choices["val_size"] == 0 and choices["shortened"]["val_size"]["default"] == 12
    assert c["too_few_to_choose"] and not c["one_origin"]
    assert (c["method"], c["weight"], c["validation_mase"]) == ("theta_arima", 1.0, None)
    assert c["few_windows"] == report["training"]["train_windows"] > 0
    np.testing.assert_allclose(model.forecast(6)["values"], theta_arima_forecast(y, 6, 1),
                               rtol=1e-9)
    # its intervals are calibrated on the training part's origins (none held out), and the
    # checkpoint forecasts the same
    assert model.info["calibration"]["held_out"] == 0 < model.info["calibration"]["in_sample"]
    model.save(tmp_path / "short.safetensors")
    np.testing.assert_array_equal(Forecaster.load(tmp_path / "short.safetensors").forecast(6)[
        "values"], model.forecast(6)["values"])
    # the report says why there is no validation part, and what forecasts
    data = tmp_path / "yearly.csv"
    data.write_text("value\n" + "".join(f"{v:.6f}\n" for v in y))
    result = CliRunner().invoke(cli, ["train-series", str(data), "--season", "1",
                                      "--horizon", "6", "--hidden", "4", "--epochs", "2",
                                      "--members", "1", "--no-log", "--no-nonnegative",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "no validation part: even one horizon of it would leave the networks no " \
        "training window" in result.output
    assert ("forecasting with the mean of the Theta method and an ARIMA alone (the networks "
            "left out), as --combine auto does without a validation origin where the "
            "networks train on fewer than 60 windows") in result.output
    assert "here) (no validation part to compare on)" not in result.output  # (said already)
    # a validation part the user asks for is kept: too short, one error that says so
    with pytest.raises(ValueError, match="has 20 rows; this configuration needs at least"):
        train_forecaster(series(y), replace(config, val_size=6))
    # 15 values leave no training window even without validation: refused (the recursive
    # strategy's one-step windows would fit, but leave its intervals no calibration origin)
    with pytest.raises(ValueError, match="has 15 rows; this configuration needs at least 16"):
        train_forecaster(series(y[:15]), config)
    with pytest.raises(ValueError, match="has 15 rows; this configuration needs at least"):
        train_forecaster(series(y[:15]), replace(config, strategy="recursive"))
    # the recursive strategy's one-step windows leave the 20 values a horizon of validation
    # (one origin): the mean alone too, with its intervals
    model, report = train_forecaster(series(y), replace(config, strategy="recursive"),
                                     level=[80])
    c = report["combination"]
    assert c["one_origin"] and (c["method"], c["weight"]) == ("theta_arima", 1.0)
    forecast = model.forecast(6, level=[80])
    lo, hi = forecast["intervals"][80]
    assert np.all(lo < forecast["values"]) and np.all(forecast["values"] < hi)


def test_no_validation_origin_takes_the_mean_below_60_windows():
    # a horizon of 30 (a month of days): one horizon of validation leaves 95 values no
    # window; without it the networks would train on 28 (more than ALONE_WINDOWS, fewer
    # than FEW_WINDOWS), and the mean forecasts alone all the same
    t = np.arange(95)
    y = 50 + 5 * np.sin(2 * np.pi * t / 7) + np.random.default_rng(1).normal(0, 1, 95).cumsum()
    config = ForecastConfig(season=7, horizon=30, hidden_size=4, epochs=2, members=1, seed=0,
                            log=False, diff=True, seasonal_diff=False, nonnegative=False)
    model, report = train_forecaster(series(y), config)
    c = report["combination"]
    assert report["choices"]["val_size"] == 0 and report["training"]["train_windows"] == 28
    assert c["unvalidated"] and (c["method"], c["weight"]) == ("theta_arima", 1.0)
    np.testing.assert_allclose(model.forecast(30)["values"], theta_arima_forecast(y, 30, 7),
                               rtol=1e-9)
    # a user's validation part of 0 or under a horizon: no origin, the same rule; on a
    # series whose networks have 60 windows or more, the networks as before
    for val_size in (0, 10):
        _, report = train_forecaster(series(y), replace(config, val_size=val_size))
        assert report["combination"]["unvalidated"]
    _, report = train_forecaster(series(np.r_[y, y + 5]), replace(config, val_size=0))
    assert report["training"]["train_windows"] >= 60
    assert not report["combination"]["unvalidated"] and report["combination"]["weight"] == 0


def test_each_partner_forecast_is_fitted_once_a_training(monkeypatch):
    # the transform candidates, the model kept and its calibration all forecast from the
    # validation origins: each partner's forecast from each is fitted once (in the log
    # and not, as the candidates ask), and the model returned keeps none of them
    from numbarnn.forecast import model as model_module, selection

    monkeypatch.setenv("NUMBARNN_THREADS", "1")  # (the candidates one after the other)
    # (Guerrero's test undecided: candidates with the log and without it)
    monkeypatch.setattr(selection, "log_test", lambda values, season: {"power": 0.5,
                                                                       "log": None})
    fits = []
    for name, partner in list(model_module.PARTNERS.items()):
        def counted(values, horizon, season, name=name, partner=partner):
            fits.append((name, len(values), float(values[-1])))
            return partner(values, horizon, season)
        monkeypatch.setitem(model_module.PARTNERS, name, counted)
    config = ForecastConfig(combine="auto", **TINY)
    model, report = train_forecaster(series(fixed(1)), config, level=[80])
    assert {c["log"] for c in report["choices"]["candidates"]} == {True, False}
    assert fits and len(fits) == len(set(fits))
    assert {name for name, _, _ in fits} == {"theta", "regression", "naive", "arima"}
    assert model.partner_memo is None
    # and the same results as fitting every time (a model that never keeps one)
    monkeypatch.setattr(Forecaster, "partner_memo", property(lambda self: None,
                                                             lambda self, memo: None),
                        raising=False)
    fits.clear()
    again, without = train_forecaster(series(fixed(1)), config, level=[80])
    assert len(fits) > len(set(fits))
    for key in ("choices", "combination", "linear", "validation", "metrics", "intervals"):
        assert without[key] == report[key], key
    np.testing.assert_array_equal(again.forecast(6)["values"], model.forecast(6)["values"])
