"""Prediction intervals: the calibration errors a forecaster keeps, the interval levels,
and their scores (coverage, MSIS) beside seasonal naive's normal intervals."""
import math
from statistics import NormalDist

import numpy as np

from .arima import MIN_VALUES
from .config import level_name
from .metrics import coverage, msis, seasonal_naive_interval
from .theta import seasonal_indices
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

# a quantile head's conformity scores, one set for each side of an interval
SIDES = ("lower", "upper")
# the history, in steps, a statistical partner's spread needs to mean something (fewer: the
# ARIMA forecast is the last value's, with the naive forecast's spread from a handful of
# steps).  Where no calibration origin has as much (a series of two dozen steps), a
# partner weighing all keeps its errors as they are: in units of its spread, the 21
# short cuts of "Intervals in units of the partner's spread" scored 11.96 against 10.37
SPREAD_HISTORY = MIN_VALUES
# a step whose spreads' median over the calibration origins is at or below this share of the
# series' range is float rounding (the origins' histories were constant): the errors stay
# as they are
SPREAD_FLOOR = 1e-8
# where an origin's spread is below this share of its step's median over the calibration
# origins, the errors stay as they are: a history flat by chance (zeros or a few counts
# before a launch, a rounded level) has a spread of almost nothing, and the error of the
# rise after it, in units of that, had made scores of 1e3 to 1e6 (of 1e150 where float
# rounding was the spread).  Floored at a quarter of the median instead, such spreads
# still made 95 % widths 1.5 to 2.4 times the errors' own.  Such starts had their
# smallest spread at 0.0034 of the median or less, the 111 cuts of the suite's and the
# holdout's series at 0.08 or more (ausbeer's of 32 steps).  A forecast's spread is taken
# as at least as much (``calibration['spread_floor']``; a constant continuation: 0)
SPREAD_SHARE = 0.02


def calibration_errors(model, values, features, split, config, context):
    """The absolute errors, per horizon step, of the model's forecasts from the
    calibration origins (``MIN_CALIBRATION``), for ``Forecaster.interval``; for a model
    with a 'quantile' head, also each level's conformity scores.

    Where the model logs the series (its spread grows with its level: Guerrero's test or
    validation said so), the errors are log ratios ``|log(actual / forecast)|``, so that
    an interval calibrated on earlier, lower stretches widens with the level of the
    forecast (asymmetric in the original scale, as the log model's own errors are); not
    where a statistical partner weighs all (mostly a short series' large errors:
    absolute, as 'scale' says).  There, where the Theta method's test finds the season in
    the data before the test and an origin has ``SPREAD_HISTORY`` steps, each error is
    divided by the partner's spread at its origin and step
    (``Forecaster.partner_spreads``): the normalized conformal scores of Papadopoulos,
    Gammerman & Vovk (2008), 'scale' 'spread', with ``spread_floor``, ``SPREAD_SHARE`` of
    each step's median spread, for the forecasts; not where a spread is under that (a
    history flat by chance) or a step's median is float rounding (``SPREAD_FLOOR``).

    A quantile head's scores for a level are ``lo - actual`` and ``actual - hi`` for the
    learnt bounds of its interval (log ratios where the errors are): negative inside,
    positive outside, one side each, so that a bound learnt too far out on one side only
    is brought in on that side (the asymmetric form of conformalized quantile
    regression).  The in-sample origins' scores are moved up by the difference of the
    held-out and in-sample means (at least 0), as the errors are scaled.

    Returns
    -------
    dict or None
        ``abs_errors`` (origins, horizon) as lists; ``scale``: 'log', 'absolute' or
        'spread';
        ``held_out`` and ``in_sample``: how many origins of each; ``in_sample_scale``: the
        factor on the in-sample errors; on the 'spread' scale, ``spread_floor`` (H,): the
        least spread a forecast is taken to have; for a quantile head, ``conformity``: {level name:
        {'lower', 'upper'}: (origins, horizon) scores} and ``in_sample_shift``: {level
        name: {'lower', 'upper'}: the shift}.
        None where no origin has a whole window.
    """
    H = config.horizon
    held_out = np.arange(split.train_end - 1, split.val_end - H)
    first = config.window + context - 1  # the first origin with a whole window of history
    extra = max(0, MIN_CALIBRATION - held_out.size)
    in_sample = np.arange(max(first, split.train_end - H - extra), split.train_end - H)
    if held_out.size + in_sample.size == 0:
        return None

    # A statistical partner weighing all (one validation origin, or networks on fewer than 60
    # windows: mostly a short series, whose calibration origins have short histories) has
    # large errors: as log ratios (2 to 4 for a forecast off a cycle's phase, lynx) exp()
    # made the top of a 95 % interval 100 to 1,000 times the forecast; on the series' own
    # scale they stay the size they were (README, "Intervals of a forecast without the
    # networks"), and the floor at 0 (``nonnegative``) keeps the bounds where the data are
    logged = model.pipeline.logs and not model.partner_alone
    quantile = config.loss == "quantile" and model.info.get("baseline") is None
    # ... and where its model takes a season from the data before the test (the Theta
    # method's test, ``theta.seasonal_indices``), its errors from the earlier origins'
    # shorter histories are larger than its error from the whole training part will be
    # (under two seasons and a step the Theta method leaves the season out; indices from two
    # or three seasons are rough): they are taken in units of the partner's own spread at
    # each origin (``partners.PARTNER_SPREADS``), which follows its model's fit, where one
    # origin at least has the history the partner's model needs (``SPREAD_HISTORY``; the
    # earlier origins' spreads, from fewer steps, are kept: measured against leaving them
    # out), no spread is under ``SPREAD_SHARE`` of its step's median, and no median is 0 (a
    # constant stretch: ``SPREAD_FLOOR``).  Not without a season: there the spreads of the
    # early origins followed their errors no better than the errors themselves (smooth
    # yearly rates whose late declines steepen, quarterly GDP).  README, "Intervals in units
    # of the partner's spread"
    spreads = spread_floor = None
    latest = held_out[-1] if held_out.size else in_sample[-1]  # (its history is the longest)
    if model.partner_alone and not quantile and latest + 1 >= SPREAD_HISTORY and \
            seasonal_indices(values[:split.val_end], model.info["season"]) is not None:
        spreads = model.partner_spreads(values, np.concatenate([held_out, in_sample]), H)
        typical = np.median(spreads, axis=0)
        reach = np.ptp(values[:split.val_end])  # (not the level: 1e9 under noise of 3)
        if np.all(np.isfinite(spreads)) and reach > 0 and np.all(typical > SPREAD_FLOOR * reach):
            # (an origin's spread below SPREAD_SHARE of its step's median: a history flat by
            # chance, a stretch unlike the rest, which the errors as they are weigh better)
            spread_floor = SPREAD_SHARE * typical
            if np.any(spreads < spread_floor):
                spreads = spread_floor = None
        else:
            spreads = None

    def scores(origins, spread):
        """The absolute errors (in units of ``spread``, where there are spreads) and, for a
        quantile head, {(level name, side): scores}."""
        if origins.size == 0:
            return np.zeros((0, H)), {(level_name(L), side): np.zeros((0, H))
                                      for L in config.quantile_levels for side in SIDES}
        paths = model._forecast_paths(values, features, origins, H)
        actual = make_targets(values, origins, H)
        # (a logged model's forecasts are exp(...) and its data passed the log: both > 0)
        space = np.log if logged else (lambda a: a)
        y = space(actual)
        bands = {}
        if quantile:
            for L in config.quantile_levels:
                low, high = config.quantile_bounds(L)
                bands[level_name(L), "lower"] = space(paths[:, low]) - y
                bands[level_name(L), "upper"] = y - space(paths[:, high])
        errors = np.abs(y - space(paths[:, paths.shape[1] // 2]))
        return (errors if spread is None else errors / spread), bands

    outside, bands_out = scores(held_out, None if spreads is None else spreads[:held_out.size])
    inside, bands_in = scores(in_sample, None if spreads is None else spreads[held_out.size:])
    ratio = 1.0
    # (a partner's forecasts are out of sample from every origin: it is fitted on the
    # history before each; in units of its spread they need no scaling)
    if spreads is None and outside.size and inside.size and inside.mean() > 0:
        ratio = max(1.0, float(outside.mean() / inside.mean()))
    result = {"abs_errors": np.concatenate([outside, ratio * inside]).tolist(),
              **({} if spread_floor is None else {"spread_floor": spread_floor.tolist()}),
              "scale": "spread" if spreads is not None else "log" if logged else "absolute",
              "held_out": int(held_out.size),
              "in_sample": int(in_sample.size), "in_sample_scale": ratio}
    if quantile:
        shifts = {key: max(0.0, float(bands_out[key].mean() - bands_in[key].mean()))
                  if outside.size and inside.size else 0.0 for key in bands_out}
        result["conformity"], result["in_sample_shift"] = {}, {}
        for (name, side), shift in shifts.items():
            result["conformity"].setdefault(name, {})[side] = np.concatenate(
                [bands_out[name, side], bands_in[name, side] + shift]).tolist()
            result["in_sample_shift"].setdefault(name, {})[side] = shift
    return result


def conformal_quantile(scores, level):
    """Per column of ``scores`` (n, H): the split-conformal quantile at ``level`` percent,
    the ceil((n + 1) level / 100)-th smallest; where that exceeds n (too few scores for
    the level), the largest."""
    scores = np.sort(np.asarray(scores, np.float64), axis=0)
    n = scores.shape[0]
    return scores[min(n, math.ceil((n + 1) * level / 100.0)) - 1]


def error_quantile(errors, level):
    """Per column of absolute ``errors`` (n, H): how far an interval at ``level`` percent
    reaches from the point forecast.

    The split-conformal quantile (``conformal_quantile``) where there are errors enough
    for the level (``ceil((n + 1) level / 100) <= n``: 4 for 80 %, 19 for 95 %, 99 for
    99 %).  With fewer, the largest error would be the bound at every such level, and a
    short series' 95 % interval no wider than its 80 % one: there the errors are taken
    as normal, the bound their root mean square times the normal quantile of the level
    (1.28 for 80 %, 1.96 for 95 %, 2.58 for 99 %), and never below the largest error.
    ``errors`` holds one row at least.
    """
    errors = np.asarray(errors, np.float64)
    n = errors.shape[0]
    bound = conformal_quantile(errors, level)
    if math.ceil((n + 1) * level / 100.0) <= n:
        return bound
    z = NormalDist().inv_cdf(0.5 + level / 200.0)
    return np.maximum(bound, z * np.sqrt(np.mean(errors ** 2, axis=0)))


def spread_quantile(scores, level):
    """How many spreads an interval at ``level`` percent reaches from the point forecast,
    for ``scores`` (n, H), errors in units of a partner's spread (``calibration_errors``'
    'spread'): one number for every step, ``error_quantile`` of all the steps' scores
    pooled (split-conformal where they are enough for the level, normal beyond the
    largest where not).  In units of the spread, which grows with the step as the
    partner's model has it, the steps' scores are alike: pooled, a few origins' worth give
    a 95 % bound a quantile of its own, and a wider level's interval is the wider at every
    step (each step's own quantile where there were enough, pooled elsewhere, had put some
    80 % bounds outside the 95 % ones)."""
    return float(error_quantile(np.reshape(scores, (-1, 1)), level)[0])


def score_intervals(values, origins, horizon, season, test_start, levels, interval):
    """Coverage (%) and MSIS of the ``levels`` intervals over every (origin, step) of the test,
    for the model (``interval(k, level)``: the ``(lo, hi)`` of the k-th origin's forecast)
    and for seasonal naive's normal intervals:
    ``{'model': {level: {'coverage', 'msis'}}, 'seasonal_naive': {...}}``."""
    actual = make_targets(values, origins, horizon)
    insample = values[:test_start]
    out = {"model": {}, "seasonal_naive": {}}
    for L in levels:
        bands = {"model": [interval(k, L) for k in range(origins.size)],
                 "seasonal_naive": [seasonal_naive_interval(values[:t + 1], horizon, season, L)
                                    for t in origins]}
        for who, pairs in bands.items():
            lo = np.stack([p[0] for p in pairs])
            hi = np.stack([p[1] for p in pairs])
            out[who][level_name(L)] = {"coverage": coverage(actual, lo, hi),
                                       "msis": msis(actual, lo, hi, insample, L, season)}
    return out
