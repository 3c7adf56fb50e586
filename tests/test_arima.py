"""The ARIMA(p, d, 0) partner (``forecast/arima.py``): its orders, its fit, its forecast, and
``combine='auto'`` taking it where validation says so."""
import numpy as np
import pytest

from numbarnn.checkpoints import CheckpointError
from numbarnn.forecast.arima import (ARIMA_SHARES, CONSTANTS, MAX_DIFFERENCES, _arima,
                                     _stationary, arima_forecast, fit_autoregression,
                                     theta_arima_forecast)
from numbarnn.forecast.config import ForecastConfig
from numbarnn.forecast.model import Forecaster
from numbarnn.forecast.theta import theta_forecast
from numbarnn.forecast.training import train_forecaster
from test_statistical_partners import TINY, assert_combined, series


def autoregression(seed, n, phi, constant=0.0):
    """An AR(len(phi)) with normal noise of unit variance, from zeros."""
    rng = np.random.default_rng(seed)
    y = np.zeros(n)
    for t in range(len(phi), n):
        y[t] = constant + sum(p * y[t - 1 - k] for k, p in enumerate(phi)) + rng.normal()
    return y


def test_a_line_and_a_parabola_continue_exactly():
    # a line: one difference (a constant drift); a parabola: two (a constant slope change)
    t = np.arange(66.0)
    np.testing.assert_allclose(arima_forecast(3 + 2 * t[:60], 6, 1), 3 + 2 * t[60:],
                               rtol=1e-12)
    np.testing.assert_allclose(arima_forecast(t[:60] ** 2, 6, 1), t[60:] ** 2, rtol=1e-12)


def test_a_season_is_taken_out_and_put_back():
    # a trend plus a fixed season, through zero (so the indices are subtracted): the
    # classical decomposition finds the season exactly and the rest is a line
    t = np.arange(108)
    season = np.random.default_rng(0).normal(0, 5, 12)
    y = -20 + 0.5 * t + (season - season.mean())[t % 12]
    np.testing.assert_allclose(arima_forecast(y[:96], 12, 12), y[96:], atol=1e-9)


def test_a_multiplicative_season_scales_with_the_level():
    # positive data: the indices divide; a steady growth under a fixed seasonal shape is
    # forecast with the shape's size growing with the level
    t = np.arange(120)
    shape = 1 + 0.2 * np.sin(2 * np.pi * t / 12)
    y = 100 * 1.01 ** t * shape
    forecast = arima_forecast(y[:108], 12, 12)
    np.testing.assert_allclose(forecast, y[108:], rtol=0.02)
    swing = forecast.max() - forecast.min()
    assert swing > 0.9 * (y[108:].max() - y[108:].min())


def test_the_fit_recovers_an_autoregression():
    z = autoregression(1, 5000, [0.5, -0.3], constant=2.0)
    phi, constant, variance = fit_autoregression(z, (True,))
    np.testing.assert_allclose(phi, [0.5, -0.3], atol=0.03)
    assert constant == pytest.approx(2.0, abs=0.1)
    assert variance == pytest.approx(1.0, rel=0.05)  # (the noise's)


def test_a_drift_only_where_the_data_pay_for_it():
    # random walks without drift: the fits of their steps mostly keep no constant (a mean
    # of 59 noisy steps is, by chance, sometimes worth its AICc), and such a walk then
    # forecasts its last value; with a drift of half the noise, it is always kept
    kept = 0
    for seed in range(10):
        walk = 100 + np.random.default_rng(seed).normal(0, 1, 60).cumsum()
        steps = np.diff(walk)
        phi, constant, _ = fit_autoregression(steps, CONSTANTS[1])
        kept += constant != 0.0
        if phi.size == 0 and constant == 0.0:
            np.testing.assert_array_equal(arima_forecast(walk, 4, 1), np.full(4, walk[-1]))
        assert fit_autoregression(steps + 0.5, CONSTANTS[1])[1] == \
            pytest.approx(0.5, abs=0.3)
    assert kept <= 3


def test_a_stationary_level_keeps_its_mean():
    # an AR(1) of 30 steps around 100: without an intercept least squares would take a root
    # near 1 and the forecast drift towards 0; the level's intercept is always fitted
    for seed in range(20):
        y = 100 + autoregression(seed, 30, [0.8])
        phi, intercept, _ = fit_autoregression(y, CONSTANTS[0])
        assert intercept / (1 - phi.sum()) == pytest.approx(100, abs=10)  # (its mean)


def test_white_noise_forecasts_its_mean():
    y = 50 + np.random.default_rng(2).normal(0, 2, 300)
    forecast = arima_forecast(y, 5, 1)
    np.testing.assert_allclose(forecast, y.mean(), atol=0.1)


def test_a_stationary_series_reverts_to_its_mean():
    y = 10 + autoregression(3, 400, [0.8])
    forecast = arima_forecast(y, 200, 1)
    mean = forecast[-1]  # (where the forecast settles: the fitted mean)
    assert mean == pytest.approx(y.mean(), abs=0.15)
    assert forecast[0] - mean == pytest.approx(0.8 * (y[-1] - mean), rel=0.15)
    assert np.all(np.diff(np.abs(forecast - mean)) <= 0)


def test_only_stationary_autoregressions_are_kept():
    assert _stationary(np.zeros(0)) and _stationary(np.array([0.5]))
    assert _stationary(np.array([1.4, -0.7]))  # (a damped cycle)
    assert not _stationary(np.array([1.1])) and not _stationary(np.array([0.5, 0.6]))


def test_a_short_history_forecasts_its_last_value():
    # under 12 values the KPSS test cannot say whether the level wanders: not the mean of
    # a rising handful, the last value
    np.testing.assert_array_equal(arima_forecast([4.0, 5.0, 7.0], 3, 12), [7.0, 7.0, 7.0])
    np.testing.assert_array_equal(arima_forecast(10.0 * np.arange(1, 12), 2, 1), [110, 110])
    # and from 12 values on, a line continues
    np.testing.assert_allclose(arima_forecast(10.0 * np.arange(1, 13), 2, 1), [130, 140])


def test_a_constant_series_forecasts_itself():
    np.testing.assert_array_equal(arima_forecast(np.full(40, 2.5), 4, 12), np.full(4, 2.5))


def test_the_mean_with_theta_leans_on_arima_where_the_slope_wanders():
    # a decline that slows (a birth rate's): two differences, and the Theta method's drift
    # (the whole history's average slope) goes on falling; the ARIMA forecast, which follows
    # the recent slope, weighs three quarters, and the mean is closer than the even one
    t = np.arange(57.0)
    decline = 2 + 4 / (1 + np.exp((t - 25) / 7)) + np.random.default_rng(0).normal(0, 0.01, 57)
    history, actual = decline[:51], decline[51:]
    arima, _, differences = _arima(history, 6, 1)
    assert differences == 2 and ARIMA_SHARES[2] == 0.75
    theta = theta_forecast(history, 6, 1)
    mean = theta_arima_forecast(history, 6, 1)
    np.testing.assert_allclose(mean, 0.25 * theta + 0.75 * arima, rtol=1e-12)
    even = (theta + arima) / 2
    assert np.abs(mean - actual).mean() < 0.8 * np.abs(even - actual).mean()
    # a share for every number of differences the partner may take
    assert set(ARIMA_SHARES) == set(range(MAX_DIFFERENCES + 1)) == set(CONSTANTS)
    # a random walk: one difference, half each
    walk = 100 + np.random.default_rng(0).normal(0, 1, 120).cumsum()
    assert _arima(walk, 6, 1)[2] == 1 and ARIMA_SHARES[1] == 0.5
    np.testing.assert_allclose(theta_arima_forecast(walk, 6, 1),
                               (theta_forecast(walk, 6, 1) + arima_forecast(walk, 6, 1)) / 2,
                               rtol=1e-12)


def test_auto_takes_arima_for_a_cycle(tmp_path, monkeypatch):
    from numbarnn import checkpoints

    # a damped cycle around a fixed level: neither the last value nor Theta's smoothed
    # level follows it, the autoregression does
    y = 50 + autoregression(1, 120, [1.4, -0.7])
    model, report = train_forecaster(series(y), ForecastConfig(
        combine="auto", log=False, diff=False, **{**TINY, "season": 1}))
    assert list(report["combination"]["validation_mase"]["partners"]) == \
        ["theta", "naive", "arima"]
    assert_combined(model, report, "arima", arima_forecast(y, 6, 1),
                     tmp_path / "arima.safetensors", "4")
    # format 4: a numbarnn that reads format 3 refuses it
    monkeypatch.setattr(checkpoints, "FORMAT_VERSION", 3)
    with pytest.raises(CheckpointError, match="upgrade numbarnn"):
        Forecaster.load(tmp_path / "arima.safetensors")
