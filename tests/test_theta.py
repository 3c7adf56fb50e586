"""The Theta method (``forecast/theta.py``) and forecasters combined with it
(``ForecastConfig.combine``)."""
import json

import numpy as np
import pytest

from numbarnn.forecast.config import ForecastConfig
from numbarnn.forecast.model import Forecaster
from numbarnn.forecast.datasets import load_airline
from numbarnn.forecast.series import Series
from numbarnn.forecast.theta import _fit_alpha, _smooth, seasonal_indices, theta_forecast
from numbarnn.forecast.training import train_forecaster
from numbarnn_cli.main import cli
from click.testing import CliRunner

TINY = dict(window=12, horizon=6, hidden_size=4, epochs=3, batch_size=8, members=1, seed=2)


def test_smoothing_takes_the_best_initial_level():
    y = np.random.default_rng(0).standard_normal(40).cumsum() + 10
    alpha = 0.3
    sse, last = _smooth(y, alpha)

    def by_hand(l0):
        level, total = l0, 0.0
        for v in y:
            total += (v - level) ** 2
            level = alpha * v + (1 - alpha) * level
        return total, level

    grid = np.linspace(y.min() - 5, y.max() + 5, 20001)
    best = grid[np.argmin([by_hand(l0)[0] for l0 in grid])]
    assert sse == pytest.approx(by_hand(best)[0], rel=1e-6)
    assert last == pytest.approx(by_hand(best)[1], abs=1e-2)
    assert 0.001 <= _fit_alpha(y) <= 0.999


def test_a_constant_series_forecasts_itself():
    np.testing.assert_allclose(theta_forecast(np.full(30, 7.5), 5, 1), 7.5, rtol=1e-9)
    np.testing.assert_allclose(theta_forecast(np.full(60, 7.5), 5, 12), 7.5, rtol=1e-9)
    assert theta_forecast(np.array([3.0, 4.0]), 3, 12).tolist() == [4.0] * 3  # too short


def test_seasonal_indices_are_found_or_not():
    t = np.arange(120)
    shape = 1 + 0.3 * np.sin(2 * np.pi * t / 12)
    noise = np.random.default_rng(1).normal(1, 0.01, t.size)
    indices, multiply = seasonal_indices((100 + t) * shape * noise, 12)
    assert multiply and indices.mean() == pytest.approx(1)
    np.testing.assert_allclose(indices, shape[:12] / shape[:12].mean(), atol=0.02)
    indices, multiply = seasonal_indices(np.sin(2 * np.pi * t / 12) * 5 + noise - 1, 12)
    assert not multiply and abs(indices.mean()) < 1e-12  # not all positive: additive
    assert seasonal_indices(np.random.default_rng(2).standard_normal(120) + 50, 12) is None
    assert seasonal_indices((100 + t)[:24], 12) is None  # under two seasons and a step


def test_matches_statsforecast_theta():
    statsforecast = pytest.importorskip("statsforecast.models")
    for values, season in ((load_airline().values[:-12], 12),
                           (np.random.default_rng(3).standard_normal(90).cumsum() + 40, 1)):
        theirs = statsforecast.Theta(season_length=season).forecast(
            values.astype(np.float64), 12)["mean"]
        np.testing.assert_allclose(theta_forecast(values, 12, season), theirs, rtol=0.01)


def monthly(n=96, seed=0):
    import datetime as dt

    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = (60 + t) * (1 + 0.2 * np.sin(2 * np.pi * t / 12)) + rng.normal(0, 2, n)
    dates = [dt.datetime(2000 + k // 12, k % 12 + 1, 1) for k in range(n)]
    return Series(values, "sales", np.zeros((n, 0)), [], dates, "month")


@pytest.mark.parametrize("log", [False, True])
def test_combined_forecast_is_the_mean_with_theta(log):
    series = monthly()
    model, report = train_forecaster(series, ForecastConfig(combine="theta", log=log, diff=True,
                                                            seasonal_diff=False, **TINY))
    assert report["combination"]["weight"] == 0.5
    combined = model.forecast(6)["values"]
    alone = Forecaster(model.config, model.pipeline, model.feature_scaler,
                       {**model.info, "combination": None}, network=model.network_state())
    networks = alone.forecast(6)["values"]
    if log:  # a logged model combines in the log: the geometric mean
        theta = np.exp(theta_forecast(np.log(series.values), 6, 12))
        np.testing.assert_allclose(combined, np.sqrt(networks * theta), rtol=1e-9)
    else:
        theta = theta_forecast(series.values, 6, 12)
        np.testing.assert_allclose(combined, (networks + theta) / 2, rtol=1e-9)
    # the report's validation scores are the combined forecaster's
    assert report["validation"]["model"]["mase"] == pytest.approx(
        report["combination"]["validation_mase"]["combined"])


def test_auto_combines_only_where_validation_says_so(tmp_path, monkeypatch):
    from numbarnn.forecast import combination

    # (as for networks that train on enough windows: with fewer, 'auto' always combines,
    # test_statistical_partners.py)
    monkeypatch.setattr(combination, "FEW_WINDOWS", 0)
    for seed in (0, 1):
        model, report = train_forecaster(monthly(seed=seed), ForecastConfig(combine="auto",
                                                                            **TINY))
        c = report["combination"]
        better = c["validation_mase"]["combined"] < c["validation_mase"]["networks"]
        assert c["setting"] == "auto" and c["weight"] == (0.5 if better else 0.0)
        assert c["few_windows"] is None
        assert (model.info.get("combination") is not None) == better
        path = tmp_path / f"m{seed}.safetensors"
        model.save(path)
        np.testing.assert_array_equal(Forecaster.load(path).forecast(6)["values"],
                                      model.forecast(6)["values"])
    _, report = train_forecaster(monthly(), ForecastConfig(combine="none", **TINY))
    assert report["combination"] is None
    assert ForecastConfig().combine == "auto"  # the default


def test_candidates_are_compared_as_they_would_forecast(monkeypatch):
    # the automatic choice of the transforms scores each candidate's network with what its
    # setting combines it with; 'auto' takes the linear member where it helps, then Theta
    # where that helps (the scouts' networks are the same whatever the setting; the other
    # statistical partners, which 'auto' also weighs, are left out here:
    # test_statistical_partners.py, as is the partner 'auto' always takes where the networks
    # train on few windows)
    from numbarnn.forecast import combination, model

    monkeypatch.setattr(combination, "PARTNERS", {"theta": model.PARTNERS["theta"]})
    monkeypatch.setattr(combination, "FEW_WINDOWS", 0)
    scores = {}
    for combine in ("none", "theta", "linear", "both", "auto"):
        _, report = train_forecaster(monthly(), ForecastConfig(combine=combine, **TINY))
        candidates = report["choices"]["candidates"]
        assert len(candidates) >= 2
        scores[combine] = np.array([c["validation_mase"] for c in candidates])
    assert not np.allclose(scores["none"], scores["theta"])
    assert not np.allclose(scores["none"], scores["linear"])
    linear_helps = scores["linear"] < scores["none"]
    np.testing.assert_array_equal(scores["auto"], np.where(
        linear_helps, np.minimum(scores["linear"], scores["both"]),
        np.minimum(scores["none"], scores["theta"])))


def test_a_checkpoint_from_before_combine_loads(tmp_path):
    model, _ = train_forecaster(monthly(), ForecastConfig(combine="none", **TINY))
    path = tmp_path / "old.safetensors"
    model.save(path)
    from numbarnn.checkpoints import load_checkpoint, save_checkpoint
    from numbarnn.forecast.model import CHECKPOINT_KIND

    tensors, metadata = load_checkpoint(path, CHECKPOINT_KIND)
    del metadata["config"]["combine"]
    save_checkpoint(path, tensors, metadata, CHECKPOINT_KIND)
    loaded = Forecaster.load(path)
    assert loaded.config.combine == "none"
    np.testing.assert_array_equal(loaded.forecast(6)["values"], model.forecast(6)["values"])


def train_tiny_cli(out, combine):
    """``train-series`` of a short sine at ``--combine combine``: the output and metrics.json."""
    result = CliRunner().invoke(cli, ["train-series", "--synthetic", "sine", "--length", "120",
                                      "--window", "12", "--horizon", "6", "--hidden", "4",
                                      "--epochs", "3", "--members", "1", "--combine", combine,
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    return result.output, json.loads((out / "metrics.json").read_text())


def test_cli_combine(tmp_path):
    out = tmp_path / "run"
    output, report = train_tiny_cli(out, "theta")
    assert "combined with the Theta method, half each" in output
    assert report["combination"]["weight"] == 0.5
    result = CliRunner().invoke(cli, ["train-series", "--combine", "ets", "--out", str(out)])
    assert result.exit_code != 0 and "ets" in result.output


def test_bad_combine_setting():
    with pytest.raises(ValueError, match="combine"):
        ForecastConfig(combine="mean")


def test_a_combined_model_keeps_its_whole_history():
    """Its forecasts are those the validation scored: Theta on all of the data."""
    series = monthly(n=300)
    model, report = train_forecaster(series, ForecastConfig(combine="theta", log=False,
                                                            diff=True, seasonal_diff=False,
                                                            **TINY))
    assert len(model.info["history"]) == 300 and len(model.info["dates"]) == 300
    alone = Forecaster(model.config, model.pipeline, model.feature_scaler,
                       {**model.info, "combination": None}, network=model.network_state())
    np.testing.assert_allclose(
        model.forecast(6)["values"],
        (alone.forecast(6)["values"] + theta_forecast(series.values, 6, 12)) / 2, rtol=1e-9)
    _, report = train_forecaster(series, ForecastConfig(combine="none", **TINY))
    assert report["combination"] is None


def test_theta_without_a_validation_part_still_combines():
    model, report = train_forecaster(monthly(), ForecastConfig(combine="theta", val_size=0,
                                                                **TINY))
    assert report["combination"]["weight"] == 0.5
    assert report["combination"]["validation_mase"] is None
    assert model.info["combination"]["weight"] == 0.5
    _, report = train_forecaster(monthly(), ForecastConfig(combine="auto", val_size=0, **TINY))
    assert report["combination"]["weight"] == 0.0  # nothing to choose on


def test_seasonal_naive_fallback_is_not_combined(monkeypatch):
    from numbarnn.forecast import training

    monkeypatch.setattr(training, "fallback_verdict", lambda config, validation: {
        "better": "seasonal_naive", "model_mase": 2.0, "seasonal_naive_mase": 1.0,
        "used": True})
    model, report = train_forecaster(monthly(), ForecastConfig(combine="theta", fallback=True,
                                                                **TINY))
    assert report["combination"]["weight"] == 0.0 and "combination" not in model.info
    from numbarnn.forecast.metrics import seasonal_naive_forecast

    np.testing.assert_allclose(model.forecast(6)["values"],
                               seasonal_naive_forecast(monthly().values, 6, 12))


def test_a_panel_task_trains_with_combine_none():
    """A task at 'none' leaves the setting out (as tasks from before it had it out) and is
    read back as 'none', not as the default."""
    import tempfile

    from numbarnn.forecast.panel import series_task, train_series_task

    task = series_task("s", monthly(), ForecastConfig(combine="none", **TINY))
    assert "combine" not in task["config"]
    result = train_series_task(task)
    assert result["error"] is None
    with tempfile.TemporaryDirectory() as scratch:
        path = f"{scratch}/m.safetensors"
        with open(path, "wb") as f:
            f.write(result["checkpoint"])
        assert Forecaster.load(path).config.combine == "none"
    assert series_task("s", monthly(), ForecastConfig(**TINY))["config"]["combine"] == "auto"


def test_a_sweep_from_before_combine_resumes_with_combine_none(tmp_path):
    from numbarnn.runs.sweep import _check_same_settings

    settings = {"epochs": 3, "refit": False}  # a sweep.json from before 'combine'
    (tmp_path / "sweep.json").write_text(json.dumps({"settings": settings, "grid": {}}))
    _check_same_settings(tmp_path, {**settings, "combine": "none"}, {})
    with pytest.raises(ValueError, match="combine 'none' -> 'auto'"):
        _check_same_settings(tmp_path, {**settings, "combine": "auto"}, {})


def test_theta_sees_a_bounded_history(monkeypatch):
    """Past THETA_HISTORY steps, each origin's Theta fit takes the last that many (a long
    series would otherwise cost the square of its length), and the model keeps them."""
    from numbarnn.forecast import model as model_module

    monkeypatch.setattr(model_module, "THETA_HISTORY", 150)
    series = monthly(n=300)
    model, _ = train_forecaster(series, ForecastConfig(combine="theta", log=False, diff=True,
                                                       seasonal_diff=False, **TINY))
    assert len(model.info["history"]) == 240  # (the checkpoint's usual end is longer)
    alone = Forecaster(model.config, model.pipeline, model.feature_scaler,
                       {**model.info, "combination": None}, network=model.network_state())
    np.testing.assert_allclose(
        model.forecast(6)["values"],
        (alone.forecast(6)["values"] + theta_forecast(series.values[-150:], 6, 12)) / 2,
        rtol=1e-9)
