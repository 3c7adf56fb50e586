"""Forecast accuracy measures and the two baselines every model is compared with.

The measures follow Hyndman & Koehler (2006): MAE, RMSE, MAPE and sMAPE (both
in percent), and MASE, the MAE scaled by the in-sample MAE of the seasonal naive
forecast (the naive one for season 1) on the data before the test.

Prediction intervals are scored by their coverage (the share of actual values
inside) and the M4 competition's mean scaled interval score (MSIS, Gneiting &
Raftery 2007; Makridakis et al. 2020): the width plus ``2 / alpha`` times each
miss, scaled like MASE.  The seasonal-naive baseline's own intervals are the
normal ones of Hyndman & Athanasopoulos (FPP3, 5.5): the in-sample seasonal
residuals' RMS times ``sqrt(k)`` at step h, with k the seasons ahead.
"""
import math
from statistics import NormalDist

import numpy as np

from .windows import make_targets

METRICS = ("mae", "rmse", "mape", "smape", "mase")
# what a sweep may rank forecasters by (MAPE is left out: undefined at zeros)
SWEEP_METRICS = ("mase", "smape", "mae", "rmse")


def _pair(actual, predicted):
    actual = np.asarray(actual, dtype=np.float64).reshape(-1)
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1)
    if actual.shape != predicted.shape or actual.size == 0:
        raise ValueError(f"metrics: actual {actual.shape} and predicted {predicted.shape} must "
                         "be non-empty and of the same length")
    return actual, predicted


def mae(actual, predicted):
    """Mean absolute error."""
    actual, predicted = _pair(actual, predicted)
    return float(np.mean(np.abs(predicted - actual)))


def rmse(actual, predicted):
    """Root mean squared error."""
    actual, predicted = _pair(actual, predicted)
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))


def mape(actual, predicted):
    """Mean absolute percentage error, in percent; NaN if an actual value is 0."""
    actual, predicted = _pair(actual, predicted)
    if np.any(actual == 0):
        return math.nan
    return float(100 * np.mean(np.abs(predicted - actual) / np.abs(actual)))


def smape(actual, predicted):
    """Symmetric MAPE, ``100 * mean(2 |F - A| / (|A| + |F|))``, in percent (0 where both are 0)."""
    actual, predicted = _pair(actual, predicted)
    denominator = np.abs(actual) + np.abs(predicted)
    ratio = np.divide(2 * np.abs(predicted - actual), denominator,
                      out=np.zeros_like(denominator), where=denominator > 0)
    return float(100 * np.mean(ratio))


def seasonal_scale(insample, season=1):
    """Mean absolute change over ``season`` steps of the in-sample data (MASE's denominator)."""
    insample = np.asarray(insample, dtype=np.float64).reshape(-1)
    season = season if insample.size > season else 1
    if insample.size <= season:
        return math.nan
    return float(np.mean(np.abs(insample[season:] - insample[:-season])))


def mase(actual, predicted, insample, season=1):
    """Mean absolute scaled error: MAE over the in-sample seasonal-naive MAE."""
    scale = seasonal_scale(insample, season)
    if not scale > 0:
        return math.nan
    return mae(actual, predicted) / scale


def evaluate(actual, predicted, insample, season=1):
    """All measures at once: ``{'mae', 'rmse', 'mape', 'smape', 'mase'}`` (floats, NaN if undefined)."""
    return {"mae": mae(actual, predicted), "rmse": rmse(actual, predicted),
            "mape": mape(actual, predicted), "smape": smape(actual, predicted),
            "mase": mase(actual, predicted, insample, season)}


def naive_forecast(history, horizon):
    """Every step ahead equals the last observed value."""
    history = np.asarray(history, dtype=np.float64)
    return np.full(horizon, history[-1])


def seasonal_naive_forecast(history, horizon, season):
    """Each step equals the value one season earlier (``y[t+h] = y[t+h-k*season]``, the latest
    such observed value); the naive forecast when ``season`` is 1 or longer than the history."""
    history = np.asarray(history, dtype=np.float64)
    if season <= 1 or history.size < season:
        return naive_forecast(history, horizon)
    last_season = history[-season:]
    return np.array([last_season[h % season] for h in range(horizon)])


def coverage(actual, lo, hi):
    """The share of ``actual`` values inside ``[lo, hi]``, in percent."""
    actual, lo = _pair(actual, lo)
    _, hi = _pair(actual, hi)
    return float(100 * np.mean((actual >= lo) & (actual <= hi)))


def msis(actual, lo, hi, insample, level, season=1):
    """Mean scaled interval score of the ``level`` % interval ``[lo, hi]``: lower is better.

    ``mean((hi - lo) + 2/a (lo - y)[y < lo] + 2/a (y - hi)[y > hi])`` with
    ``a = 1 - level / 100``, over the in-sample seasonal-naive MAE (``seasonal_scale``).
    """
    actual, lo = _pair(actual, lo)
    _, hi = _pair(actual, hi)
    alpha = 1 - level / 100.0
    score = (hi - lo) + 2 / alpha * (np.maximum(lo - actual, 0) + np.maximum(actual - hi, 0))
    scale = seasonal_scale(insample, season)
    return float(np.mean(score)) / scale if scale > 0 else math.nan


def seasonal_naive_spread(history, horizon, season):
    """The standard deviation of ``seasonal_naive_forecast``'s error at each of the
    ``horizon`` steps, as its model has it: the in-sample residuals' RMS times ``sqrt(k)``,
    k the seasons ahead of each step (the naive forecast's, ``sqrt(h)``, for season 1 or
    a season longer than the history); NaN for a history of one value."""
    history = np.asarray(history, dtype=np.float64)
    season = season if season > 1 and history.size > season else 1
    residuals = history[season:] - history[:-season]
    sigma = float(np.sqrt(np.mean(residuals ** 2))) if residuals.size else math.nan
    return sigma * np.sqrt(np.arange(horizon) // season + 1)


def seasonal_naive_interval(history, horizon, season, level):
    """``(lo, hi)`` around ``seasonal_naive_forecast`` at ``level`` percent: normal, with
    ``seasonal_naive_spread``'s standard deviations."""
    width = NormalDist().inv_cdf(0.5 + level / 200.0) * \
        seasonal_naive_spread(history, horizon, season)
    point = seasonal_naive_forecast(history, horizon, season)
    return point - width, point + width


def score_forecasts(values, origins, forecasts, horizon, season, test_start):
    """The metrics (``evaluate``) of ``forecasts`` (origins, horizon) from ``origins``, and of
    the naive and seasonal-naive forecasts from the same origins, over every (origin, step):
    ``{'model', 'naive', 'seasonal_naive'}``; MASE scaled on ``values[:test_start]``."""
    actual = make_targets(values, origins, horizon)
    baselines = {
        "naive": np.stack([naive_forecast(values[:t + 1], horizon) for t in origins]),
        "seasonal_naive": np.stack([seasonal_naive_forecast(values[:t + 1], horizon, season)
                                    for t in origins]),
    }
    insample = values[:test_start]
    metrics = {"model": evaluate(actual, forecasts, insample, season)}
    metrics.update({name: evaluate(actual, pred, insample, season)
                    for name, pred in baselines.items()})
    return metrics
