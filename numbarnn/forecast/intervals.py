"""Prediction intervals: the calibration errors a forecaster keeps, the interval levels,
and their scores (coverage, MSIS) beside seasonal naive's normal intervals."""
import numpy as np

from .config import level_name
from .metrics import coverage, msis, seasonal_naive_interval
from .windows import make_targets

# The intervals are calibrated on rolling-origin forecasts: every origin of the validation
# part whose whole horizon lies in it (held out: the weights never trained on them) and,
# where those are fewer than this, the latest origins of the training part, up to this many
# in all.  In-sample errors are smaller than held-out ones (the weights fitted those steps),
# so they are first scaled by the ratio of the held-out errors' mean to their own mean over
# the same horizon steps (at least 1): a split-conformal calibration with an in-sample
# supplement, as honest as a held-out part of a few origins allows.  metrics.json's
# ``calibration`` says how many of each and the ratio.
MIN_CALIBRATION = 50


def calibration_errors(model, values, features, split, config, context):
    """The absolute errors, per horizon step, of the model's forecasts from the
    calibration origins (``MIN_CALIBRATION``), for ``Forecaster.interval``.

    Where the model logs the series (its spread grows with its level: Guerrero's test or
    validation said so), the errors are log ratios ``|log(actual / forecast)|``, so that
    an interval calibrated on earlier, lower stretches widens with the level of the
    forecast (asymmetric in the original scale, as the log model's own errors are).

    Returns
    -------
    dict or None
        ``abs_errors`` (origins, horizon) as lists; ``scale``: 'log' or 'absolute';
        ``held_out`` and ``in_sample``: how many origins of each; ``in_sample_scale``: the
        factor on the in-sample errors.  None where no origin has a whole window.
    """
    H = config.horizon
    held_out = np.arange(split.train_end - 1, split.val_end - H)
    first = config.window + context - 1  # the first origin with a whole window of history
    extra = max(0, MIN_CALIBRATION - held_out.size)
    in_sample = np.arange(max(first, split.train_end - H - extra), split.train_end - H)
    if held_out.size + in_sample.size == 0:
        return None

    logged = model.pipeline.logs

    def abs_errors(origins):
        if origins.size == 0:
            return np.zeros((0, H))
        forecasts = model._forecast_values(values, features, origins, H)
        actual = make_targets(values, origins, H)
        if logged:  # (both positive: the data passed the log, the forecasts are exp(...))
            return np.abs(np.log(actual) - np.log(forecasts))
        return np.abs(actual - forecasts)

    outside, inside = abs_errors(held_out), abs_errors(in_sample)
    ratio = 1.0
    if outside.size and inside.size and inside.mean() > 0:
        ratio = max(1.0, float(outside.mean() / inside.mean()))
    errors = np.concatenate([outside, ratio * inside])
    return {"abs_errors": errors.tolist(), "scale": "log" if logged else "absolute",
            "held_out": int(held_out.size), "in_sample": int(in_sample.size),
            "in_sample_scale": ratio}


def score_intervals(values, origins, forecasts, horizon, season, test_start, levels, interval):
    """Coverage (%) and MSIS of the ``levels`` intervals over every (origin, step) of the test,
    for the model (``interval(forecast, level)``) and for seasonal naive's normal intervals:
    ``{'model': {level: {'coverage', 'msis'}}, 'seasonal_naive': {...}}``."""
    actual = make_targets(values, origins, horizon)
    insample = values[:test_start]
    out = {"model": {}, "seasonal_naive": {}}
    for L in levels:
        bands = {"model": [interval(f, L) for f in forecasts],
                 "seasonal_naive": [seasonal_naive_interval(values[:t + 1], horizon, season, L)
                                    for t in origins]}
        for who, pairs in bands.items():
            lo = np.stack([p[0] for p in pairs])
            hi = np.stack([p[1] for p in pairs])
            out[who][level_name(L)] = {"coverage": coverage(actual, lo, hi),
                                       "msis": msis(actual, lo, hi, insample, L, season)}
    return out
