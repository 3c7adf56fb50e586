"""The forecaster: windows without look-ahead, splits, training, evaluation, checkpoints.

Models here are tiny (a few hidden units, a few epochs) so that the file runs in
seconds; the quality of the defaults is measured by asv_benchmarks/series_quality.py.
"""
import datetime as dt

import numpy as np
import pytest

from numbarnn.checkpoints import CheckpointError, save_checkpoint
from numbarnn.forecast.config import ForecastConfig
from numbarnn.forecast.model import Forecaster
from numbarnn.forecast.backtest import backtest
from numbarnn.forecast.windows import (differencing_context, make_targets, make_windows,
                                       split_series, window_origins)
from numbarnn.forecast.training import train_forecaster
from numbarnn.forecast.datasets import load_airline, sine_series
from numbarnn.forecast.series import Series

TINY = dict(window=6, horizon=4, hidden_size=4, epochs=3, batch_size=8, members=2, seed=3)


def monthly_series(n=72, features=0, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = 50 + t + 10 * np.sin(2 * np.pi * t / 12) + rng.standard_normal(n)
    dates = [dt.datetime(2000 + k // 12, k % 12 + 1, 1) for k in range(n)]
    extra = rng.standard_normal((n, features))
    return Series(values, "sales", extra, [f"f{k}" for k in range(features)], dates, "month")


# ------------------------------------------------------------------------------ windows
def test_windows_and_targets_align():
    inputs = np.arange(20.0)[:, None]
    origins = np.array([5, 9])
    x = make_windows(inputs, origins, 3)
    assert x.shape == (3, 2, 1)
    assert x[:, 0, 0].tolist() == [3, 4, 5] and x[:, 1, 0].tolist() == [7, 8, 9]
    assert make_targets(np.arange(20.0), origins, 2).tolist() == [[6, 7], [10, 11]]
    assert window_origins(0, 10, window=3, context=4).tolist() == [6, 7, 8, 9, 10]


def test_no_look_ahead_through_transforms_and_windows():
    """Changing a value at step k never changes an input window that ends before k."""
    series = monthly_series()
    model, _ = train_forecaster(series, **TINY)
    inputs = model._inputs(series.values, series.features)
    origins = np.arange(model.min_history - 1, len(series))
    before = make_windows(inputs, origins, model.config.window)
    for k in (30, 50, 71):
        changed = series.values.copy()
        changed[k] *= 3
        after = make_windows(model._inputs(changed, series.features), origins,
                             model.config.window)
        earlier = origins < k
        assert np.array_equal(before[:, earlier], after[:, earlier])
        assert not np.array_equal(before[:, ~earlier], after[:, ~earlier])
        # and so the forecast made at an earlier origin is unchanged too
        t = np.array([k - 1])
        assert np.array_equal(model._forecast_values(series.values, series.features, t, 4),
                              model._forecast_values(changed, series.features, t, 4))


# ------------------------------------------------------------------------------ splits
def test_split_and_required_length():
    config = ForecastConfig(window=12, horizon=12, val_size=12, log=True, diff=False,
                            seasonal_diff=True)
    assert differencing_context(config, 12) == 12
    assert differencing_context(ForecastConfig(diff=False, seasonal_diff=False), 1) == 0
    split = split_series(config, 144, 12)
    assert (split.train_end, split.val_end, split.length) == (120, 132, 144)
    need = 12 + 12 + 12 + 12 + 12
    split_series(config, need, 12)
    with pytest.raises(ValueError, match=rf"has {need - 1} rows; this configuration needs at "
                                         rf"least {need}: differencing 12 \+ window 12 \+ "
                                         r"horizon 12 for one training window, then validation "
                                         r"12 \+ test 12; use a longer series"):
        split_series(config, need - 1, 12)
    with pytest.raises(ValueError, match="test_size: got 3, expected at least the horizon"):
        split_series(ForecastConfig(horizon=4, test_size=3), 100, 0)
    assert differencing_context(config.__class__(diff=True, seasonal_diff=True), 12) == 13


def test_an_array_or_a_list_is_a_series_and_a_bad_shape_one_error():
    values = list(100 + np.arange(60.0) + 5 * np.sin(np.arange(60)))
    model, report = train_forecaster(values, window=6, horizon=3, epochs=1, members=1,
                                     hidden_size=4)
    assert report["series"]["length"] == 60 and model.forecast(2)["dates"] is None
    for bad in ([], np.ones((3, 2))):
        with pytest.raises(ValueError, match="values: got shape .*, expected one value per "
                                             "step"):
            Series(bad)
    with pytest.raises(ValueError, match=r"features: got shape \(3, 2\), expected \(4, F\)"):
        Series(np.ones(4), features=np.ones((3, 2)))


def test_too_short_series_is_refused_before_training():
    # the shortest candidate (no differencing) needs window 12 + horizon 12 + test 12 = 36
    # rows (and one horizon of validation more where it fits: 48)
    with pytest.raises(ValueError, match="has 30 rows; this configuration needs at least 36"):
        train_forecaster(monthly_series(30), window=12, horizon=12)
    with pytest.raises(ValueError, match="has 40 rows; this configuration needs at least 48"):
        train_forecaster(monthly_series(40), window=12, horizon=12, val_size=12)


@pytest.mark.parametrize("scale", [1e-300, 1e-120, 1e120, -1e300])
def test_values_whose_squares_cannot_be_held_are_refused(scale):
    # (statistics of the choices square them: the run crashed or wrote no metrics)
    series = monthly_series(60)
    series.values[:] = series.values * scale
    with pytest.raises(ValueError, match="in magnitude; numbarnn takes series between 1e-100 "
                                         "and 1e\\+100 .* rescale it by a power of ten"):
        train_forecaster(series, window=12, horizon=12, epochs=1, members=1)


def test_a_value_that_is_not_finite_is_refused_with_its_step():
    # (from Python, where no CSV reader refused the missing value: the layers had said
    # 'x: contains a non-finite value at index (0, 0, 0)')
    series = monthly_series(60)
    series.values[[20, 30]] = [np.nan, np.inf]
    message = r"^sales: step 20 holds nan \(2 values not finite\); numbarnn needs finite values"
    with pytest.raises(ValueError, match=message):
        train_forecaster(series, window=12, horizon=12, epochs=1, members=1)
    model, _ = train_forecaster(monthly_series(60), window=12, horizon=12, epochs=1, members=1)
    with pytest.raises(ValueError, match=message):  # (continuing a series too)
        model.forecast(series=series)


@pytest.mark.parametrize("options, message", [
    ({"window": 0}, "window: got 0, expected a positive integer"),
    ({"strategy": "mimo"}, "strategy: got 'mimo', expected one of direct, recursive"),
    ({"cell": "tree"}, "cell: got 'tree'"),
    ({"log": "yes"}, "log: got 'yes', expected True, False or 'auto'"),
    ({"lr": 0}, "lr: got 0, expected a number > 0"),
    ({"dropout": 1.0}, "dropout: got 1.0"),
    ({"val_size": -1}, "val_size: got -1"),
    ({"members": 0}, "members: got 0"),
])
def test_bad_config(options, message):
    with pytest.raises(ValueError, match=message):
        ForecastConfig(**options)


def test_seasonal_diff_needs_a_season():
    series = Series(np.arange(1.0, 60.0))
    with pytest.raises(ValueError, match="seasonal_diff: needs a season of 2 or more"):
        train_forecaster(series, seasonal_diff=True, **TINY)


# ------------------------------------------------------------------------------ training
def test_train_report_and_reproducibility():
    series = monthly_series()
    model, report = train_forecaster(series, **TINY)
    assert report["season"] == 12 and report["test_size"] == 4 and report["test_origins"] == 1
    chosen = report["choices"]["chosen"]
    expected = [name for name in ("log", "diff", "seasonal_diff") if chosen[name]]
    assert [t["name"] for t in report["transforms"]] == expected + ["standard"]
    assert report["config"]["log"] == chosen["log"]  # the saved config is the resolved one
    assert min(c["validation_mase"] for c in report["choices"]["candidates"]) == \
        next(c["validation_mase"] for c in report["choices"]["candidates"]
             if all(c[k] == chosen[k] for k in ("log", "diff", "seasonal_diff")))
    for who in ("model", "naive", "seasonal_naive"):
        assert set(report["metrics"][who]) == {"mae", "rmse", "mape", "smape", "mase"}
        assert np.isfinite(report["metrics"][who]["mae"])
    assert len(report["training"]["members"]) == 2
    assert model.info["test"]["dates"] == ["2005-09", "2005-10", "2005-11", "2005-12"]
    _, again = train_forecaster(series, **TINY)
    assert again["metrics"] == report["metrics"]
    _, other = train_forecaster(series, **{**TINY, "seed": 4})
    # (the networks': a series this short may be forecast by a statistical partner alone)
    assert other["training"]["val_loss"] != report["training"]["val_loss"]


def test_early_stopping_keeps_the_best_weights():
    series = monthly_series()
    model, report = train_forecaster(series, **{**TINY, "epochs": 30, "patience": 2,
                                                "members": 1, "lr": 0.05})
    member = report["training"]["members"][0]
    assert member["epochs"] <= 30 and member["epochs"] - member["best_epoch"] <= 2
    # the kept weights give the recorded best validation loss
    assert report["training"]["val_loss"] == pytest.approx(member["val_loss"], rel=1e-5)


def test_learns_a_clean_seasonal_pattern():
    """Enough training on a noiseless seasonal series must beat both baselines clearly."""
    n = 96
    t = np.arange(n)
    values = 100 * 1.01 ** t * (1 + 0.2 * np.sin(2 * np.pi * t / 12))
    dates = [dt.datetime(2000 + k // 12, k % 12 + 1, 1) for k in range(n)]
    series = Series(values, "clean", dates=dates, date_format="month")
    _, report = train_forecaster(series, window=12, horizon=6, hidden_size=8, epochs=60,
                                 members=1, seed=0)
    metrics = report["metrics"]
    assert metrics["model"]["mape"] < 0.5 * metrics["seasonal_naive"]["mape"]


def test_recursive_strategy_and_rnn_cell():
    series = sine_series(120, seed=1)
    model, report = train_forecaster(series, strategy="recursive", cell="rnn", **TINY)
    assert model.members[0].head.out_features == 1
    assert report["season"] == 1 and report["transforms"][-1]["name"] == "standard"
    assert len(model.forecast(10)["values"]) == 10


def test_features_direct_only():
    series = monthly_series(features=2)
    model, report = train_forecaster(series, **TINY)
    assert model.members[0].rnn.input_size == 3
    assert len(model.forecast()["values"]) == 4
    with pytest.raises(ValueError, match="forecast at most 4 steps with features"):
        model.forecast(5)
    with pytest.raises(ValueError, match="strategy 'recursive'.*use the 'direct' strategy"):
        train_forecaster(series, strategy="recursive", **TINY)
    with pytest.raises(ValueError, match=r"features: the model was trained with \['f0', 'f1'\]"):
        model.forecast(2, monthly_series())


def test_float64_and_no_validation():
    model, report = train_forecaster(monthly_series(), dtype="float64", val_size=0,
                                     **{**TINY, "epochs": 2})
    assert model.members[0].rnn.dtype == np.float64
    assert report["training"]["members"][0]["epochs"] == 2
    assert report["training"]["val_windows"] == 0


def amplitude_change_series(n=120, change_at=84):
    """A monthly sine whose swing triples at ``change_at``: with ``val_size`` 24 and
    horizon 6 the change falls inside the validation part."""
    t = np.arange(n)
    noise = 0.05 * np.random.default_rng(0).standard_normal(n)
    return Series(np.where(t < change_at, 1.0, 3.0) * np.sin(2 * np.pi * t / 12) + noise, "swing")


def test_refit_learns_the_validation_part():
    """Networks that never trained past the change forecast the old swing; trained again
    on the validation part they forecast the new one.  Everything the validation part
    decides (its scores, the stopping epochs, the intervals' errors) is the held-out
    networks'."""
    settings = dict(TINY, window=12, horizon=6, hidden_size=8, epochs=60, patience=60,
                    lr=0.02, val_size=24, log=False, diff=False, seasonal_diff=False, seed=0)
    held, held_report = train_forecaster(amplitude_change_series(), refit=False, **settings)
    model, report = train_forecaster(amplitude_change_series(), refit=True, **settings)
    assert held_report["training"]["refit"] is None
    refit = report["training"]["refit"]
    training = report["training"]
    assert refit["windows"] == training["train_windows"] + training["val_windows"]
    # each network trained again for its best epoch count, on no validation part
    assert [r["epochs"] for r in refit["members"]] == \
        [max(1, m["best_epoch"]) for m in training["members"]]
    assert all(r["val_loss"] == r["train_loss"] for r in refit["members"])
    assert refit["kept"] == []
    assert model.info["calibration"] == held.info["calibration"]
    assert report["metrics"]["model"]["mae"] < 0.5 * held_report["metrics"]["model"]["mae"]


def test_refit_needs_a_validation_part():
    _, report = train_forecaster(monthly_series(), val_size=0, refit=True, **TINY)
    assert report["training"]["refit"] is None


def test_refit_keeps_a_diverged_network_at_its_held_out_weights():
    from numbarnn.forecast.training import _refit

    model, report = train_forecaster(monthly_series(), refit=False, **TINY)
    held = list(model.members)
    fitted = [dict(m) for m in report["training"]["members"]]
    fitted[0]["diverged"] = {"epoch": 1, "loss": "nan"}
    x = np.zeros((TINY["window"], 8, 1))
    y = np.zeros((8, TINY["horizon"]))
    result = _refit(model, model.config, x, y, fitted, None, "cpu")
    assert result["kept"] == [0] and result["windows"] == 8
    assert result["members"][0] is None and result["members"][1]["epochs"] == \
        max(1, fitted[1]["best_epoch"])
    assert model.members[0] is held[0] and model.members[1] is not held[1]


def test_bad_refit_setting():
    with pytest.raises(ValueError, match="refit: got 'yes', expected True or False"):
        ForecastConfig(refit="yes")


# ------------------------------------------------------------------------------ forecasts
def test_a_logged_model_refuses_to_continue_data_that_are_not_positive():
    series = monthly_series()
    model, _ = train_forecaster(series, **{**TINY, "log": True})
    bad = series.head(60)
    bad.values[3] = -1.0
    with pytest.raises(ValueError, match="sales: step 3 holds -1.0, but this model forecasts "
                                         "the log of the series .* --no-log"):
        model.forecast(2, bad)


def test_forecast_continues_the_data_with_dates():
    series = monthly_series()
    model, _ = train_forecaster(series, **TINY)
    result = model.forecast()
    assert result["dates"] == ["2006-01", "2006-02", "2006-03", "2006-04"]
    assert np.all(np.isfinite(result["values"]))
    longer = model.forecast(9)  # beyond the horizon: fed back
    assert np.allclose(longer["values"][:4], result["values"])
    assert longer["dates"][-1] == "2006-09"
    # continuing a given series: its end, its dates
    cut = series.head(60)
    assert model.forecast(2, cut)["dates"] == ["2005-01", "2005-02"]
    with pytest.raises(ValueError, match="has 10 rows; forecasting needs at least 18"):
        model.forecast(2, series.head(10))
    with pytest.raises(ValueError, match="horizon: got 0"):
        model.forecast(0)
    # a horizon that cannot be meant is refused before any work
    with pytest.raises(ValueError, match="horizon: got 100001, expected at most 100,000"):
        model.forecast(100_001)
    with pytest.raises(ValueError, match="horizon: got 96001, which runs the dates past "
                                         "the year 9999"):
        model.forecast(96_001)  # (months from 2006)


def test_forecast_without_dates_has_none():
    model, _ = train_forecaster(sine_series(100), **TINY)
    assert model.forecast()["dates"] is None


def test_checkpoint_roundtrip(tmp_path):
    series = monthly_series(features=1)
    model, _ = train_forecaster(series, **TINY)
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = Forecaster.load(path)
    assert loaded.config == model.config
    assert np.array_equal(loaded.forecast()["values"], model.forecast()["values"])
    assert loaded.forecast()["dates"] == model.forecast()["dates"]
    assert loaded.info["test"] == model.info["test"]
    names = set(loaded.network_state())
    assert "member0.rnn.weight_ih_l0" in names and "member1.head.bias" in names


def test_bad_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        Forecaster.load(tmp_path / "absent.safetensors")
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        Forecaster.load(garbage)
    text_kind = tmp_path / "text.safetensors"
    save_checkpoint(text_kind, {"w": np.zeros(2)}, {}, "text")
    with pytest.raises(CheckpointError, match="a 'text' checkpoint, expected 'series'"):
        Forecaster.load(text_kind)
    broken = tmp_path / "broken.safetensors"
    save_checkpoint(broken, {"w": np.zeros(2)}, {"config": {"window": 3}}, "series")
    with pytest.raises(CheckpointError, match="malformed series checkpoint"):
        Forecaster.load(broken)


def test_backtest_retrains_at_each_origin():
    series = monthly_series(80)
    result = backtest(series, origins=2, step=3, **TINY)
    assert [fold["end"] for fold in result["folds"]] == [80, 77]
    assert set(result["mean"]) == {"model", "naive", "seasonal_naive"}
    naive = [fold["metrics"]["naive"]["mae"] for fold in result["folds"]]
    assert result["mean"]["naive"]["mae"] == pytest.approx(np.mean(naive))


def test_airline_defaults_beat_seasonal_naive():
    """One seed of the defaults on the airline data (the 5-seed measurement is in
    asv_benchmarks/series_quality.py)."""
    _, report = train_forecaster(load_airline())
    metrics = report["metrics"]
    assert metrics["model"]["mape"] < 4.0 < metrics["seasonal_naive"]["mape"]
