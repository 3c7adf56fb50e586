"""The forecaster's automatic choices: the window, the seasonality, the transform candidates.

``train_forecaster`` resolves every setting left at ``'auto'`` (or None) here, but the floor at
0 (``nonnegative``: ``training._resolve_nonnegative``):

- the **window** is a whole number of seasons, the fewest that cover 12 steps (monthly 12,
  quarterly 12, half-hourly with a daily season 48, yearly 12), or fewer where a short
  series would leave the networks fewer training windows than the horizon
  (``window_candidates``);
- the **seasonality** is tested on the first differences of the training and validation
  parts (which keep a season but lose a trend, whose slow decay would pass for one),
  winsorized (so that a level shift or an outlier does not hide the season), less
  their own AR(1) part (whose persistence would pass for one too), with the
  autocorrelation test of the Theta method (Assimakopoulos & Nikolopoulos 2000; Hyndman
  & Billah 2003): seasonal when ``r_m`` exceeds ``1.645 sqrt((1 + 2 sum_{k<m} r_k^2) /
  n)``, the 95 % one-sided bound under no seasonality;
- the **log** is decided by the data where they are clear: Guerrero's (1993) method picks
  the Box-Cox power that makes the spread of blocks of one season (two steps without a
  season) most nearly proportional to a power of their level; a power near 0 (at most
  ``LOG_POWER``) asks for the log, near 1 (at least ``1 - LOG_POWER``) for none, and in
  between both are candidates (only positive data are ever logged);
- **differencing** is left open unless the level wanders: where the KPSS test
  (Kwiatkowski, Phillips, Schmidt & Shin 1992) rejects a stationary level at 5 %, in
  the space the series is modelled in (logged or not), the series is differenced (a
  network reads windows of levels it has seen and cannot carry a trend past them),
  unless the settings fix no differencing or it is a step too short to difference;
- the **transform candidates** are every combination of the choices left open: log or
  not (as above), and no differencing (unless the KPSS test rejects it), first
  differences, or seasonal differences (only for a detected season).
  ``train_forecaster`` trains one network on each and keeps the one with the lowest
  MASE on the validation part's rolling origins.
"""
import math
from itertools import product

import numpy as np

from .transforms import robust_reach

# the normal quantile of the Theta method's seasonality test: 95 % one-sided (the test of a
# positive r_m, ``seasonality_test``), 90 % two-sided (of |r_m|, as the partners use it)
_SEASONALITY_Z = 1.645

# Guerrero's power at most this asks for the log, at least 1 minus this for none; the
# powers searched, as R's forecast::BoxCox.lambda searches them
LOG_POWER = 0.25
_POWERS = np.linspace(-1.0, 2.0, 301)
# blocks whose levels all lie within this ratio say nothing about how the spread follows
# the level (and the log of such a series is nearly linear): no power
MIN_LEVEL_RATIO = 1.1
# the KPSS statistic's 5 % critical value for a stationary level (Kwiatkowski et al.
# 1992, table 1), the level at which R's forecast::ndiffs and statsforecast's ndiffs test
KPSS_BOUND = 0.463
# fewer steps than this leave the KPSS test out (its long-run variance needs some)
KPSS_MIN_STEPS = 12
# first differences whose spread (after their AR(1) part) is at most this share of their
# mean square are a straight line's, up to rounding (100 + 0.02 t: its rounding errors
# alone passed the seasonality test's bound at m = 4)
STEADY_SPREAD = 1e-12
# The seasonality test keeps the first differences within this many robust standard
# deviations (1.4826 times their median absolute deviation) of their median: a level shift
# is one difference far larger than the rest, an outlier two, and their squares outweighed
# a season's in the autocorrelations (a monthly season swinging by 2 under noise of 0.5,
# shifted by 30 at step 120 of 200: r_12 0.07 against the bound 0.13, not found, and the
# test MASE 2.5 times seasonal naive's).  On the 107 series and origins of the suites with
# a season, one decision changed (sunspots_monthly, r_12 0.067 -> 0.066, bound 0.066)
OUTLIER_SPREAD = 5.0


def default_window(season):
    """The fewest whole seasons that cover at least 12 steps."""
    return season * math.ceil(12 / season)


# the shortest window the automatic choice takes for a short series (a season, if longer)
MIN_WINDOW = 4


def window_candidates(season):
    """The windows the automatic choice takes, longest first: ``default_window``, then
    shorter whole seasons (whole steps without a season) down to ``MIN_WINDOW`` or one
    season, for a series too short to give the default enough training windows."""
    return list(range(default_window(season), max(season, MIN_WINDOW) - 1, -season))


def autocorrelations(values, max_lag):
    """Sample autocorrelations ``r_1 .. r_max_lag`` of ``values`` (biased estimator)."""
    x = np.asarray(values, np.float64) - np.mean(values)
    denominator = float(x @ x)
    if denominator == 0:
        return np.zeros(max_lag)
    return np.array([float(x[:-k] @ x[k:]) / denominator for k in range(1, max_lag + 1)])


def season_autocorrelation(x, season):
    """``(r_season, bound)`` of ``x``: its lag-``season`` autocorrelation and the Theta
    method's bound for it, ``1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n)``: the Theta method
    finds a season where ``|r_season|`` exceeds it (``seasonality_test`` asks for a
    positive one)."""
    r = autocorrelations(x, season)
    bound = _SEASONALITY_Z * math.sqrt((1 + 2 * float(np.sum(r[:-1] ** 2))) / x.size)
    return float(r[-1]), bound


def testable_season(length, season):
    """Whether ``seasonality_test`` can judge a season of ``season`` steps (2 or more) in
    ``length`` steps of data: three seasons of first differences."""
    return season >= 2 and length - 1 >= 3 * season


def seasonality_test(values, season):
    """Whether ``values`` have a season of length ``season``: the Theta method's test on
    their first differences, less those differences' own AR(1) part.

    First differences keep a season but lose a trend (whose slow decay would pass for
    one).  Taking out their AR(1) part (``e_t = d_t - r_1 d_{t-1}``) keeps the test from
    reading the persistence of smooth growth as a season (seasonally adjusted series
    whose growth rate drifts, such as consumption or prices, have lag-m autocorrelations
    of their differences well past the bound at every m), and, where the differences of
    noise alternate (r_1 near -0.5), gives a season drowned in noise back its weight.
    A season repeats, so only a positive ``r_season`` counts.  The differences are first
    kept within ``OUTLIER_SPREAD`` robust standard deviations of their median, so that a
    level shift or an outlier does not hide the season.

    Returns
    -------
    dict
        ``seasonal`` (bool), ``acf`` (``r_season`` of those residuals) and its
        ``threshold``; not seasonal, with no test (None), for a season below 2, fewer
        than three seasons of data, or a straight line (``STEADY_SPREAD``).
    """
    if not testable_season(len(values), season):
        return {"seasonal": False, "acf": None, "threshold": None}
    diffs = np.diff(np.asarray(values, np.float64))
    median, reach = robust_reach(diffs, OUTLIER_SPREAD)
    if reach > 0:  # (else most differences are equal: nothing to measure outliers by)
        diffs = np.clip(diffs, median - reach, median + reach)
    residuals = diffs[1:] - autocorrelations(diffs, 1)[0] * diffs[:-1]
    spread = residuals - residuals.mean()
    if spread @ spread <= STEADY_SPREAD * (diffs @ diffs):  # a straight line: no season
        return {"seasonal": False, "acf": None, "threshold": None}
    r, threshold = season_autocorrelation(residuals, season)
    return {"seasonal": bool(r > threshold), "acf": r, "threshold": threshold}


def guerrero_power(values, season):
    """Guerrero's Box-Cox power for positive ``values``: the power ``p`` in [-1, 2] that
    minimises the coefficient of variation of ``sd_i / mean_i ** (1 - p)`` over the
    series' last whole blocks of ``max(season, 2)`` steps; None for fewer than two
    blocks, a block with no spread, or levels within ``MIN_LEVEL_RATIO`` of each other."""
    period = max(int(season), 2)
    x = np.asarray(values, np.float64)
    blocks = x.size // period
    if blocks < 2:
        return None
    x = x[x.size - blocks * period:].reshape(blocks, period)
    mean, sd = x.mean(axis=1), x.std(axis=1, ddof=1)
    if not np.all(sd > 0) or mean.max() < MIN_LEVEL_RATIO * mean.min():
        return None
    ratios = sd[None, :] / mean[None, :] ** (1 - _POWERS[:, None])
    spread = ratios.std(axis=1, ddof=1) / ratios.mean(axis=1)
    return float(_POWERS[int(np.argmin(spread))])


def log_test(train_values, season):
    """Whether the data ask for the log: ``{'power', 'log'}``, with ``log`` True (power at
    most ``LOG_POWER``), False (at least ``1 - LOG_POWER``, or data not all positive) or
    None (in between, or no power: validation decides)."""
    values = np.asarray(train_values, np.float64)
    if not np.all(values > 0):
        return {"power": None, "log": False}
    power = guerrero_power(values, season)
    log = None if power is None else True if power <= LOG_POWER else \
        False if power >= 1 - LOG_POWER else None
    return {"power": power, "log": log}


def level_test(train_values, log):
    """Whether the level of ``train_values`` (their log where ``log``) is stationary, by the
    KPSS test: ``{'statistic', 'bound', 'stationary'}``.

    The statistic is ``sum(S_t^2) / (n^2 s^2)``, S the partial sums of the deviations from
    the mean and s^2 their long-run variance (Newey-West, Bartlett weights, ``trunc(3
    sqrt(n) / 13)`` lags as R's forecast::ndiffs takes them); the level is stationary where
    it is at most ``KPSS_BOUND``.  Fewer than ``KPSS_MIN_STEPS`` steps, or a constant
    series: no test (``statistic`` None, stationary).
    """
    y = np.asarray(train_values, np.float64)
    n = y.size
    # (a constant's deviations from its computed mean are rounding, not a level)
    if n < KPSS_MIN_STEPS or np.all(y == y[0]):
        return {"statistic": None, "bound": KPSS_BOUND, "stationary": True}
    if log:
        y = np.log(y)
    e = y - y.mean()
    variance = float(e @ e) / n
    lags = int(3 * math.sqrt(n) / 13)
    for lag in range(1, lags + 1):
        variance += 2 * (1 - lag / (lags + 1)) * float(e[lag:] @ e[:-lag]) / n
    partial = np.cumsum(e)
    statistic = float(partial @ partial) / (n * n * variance)
    return {"statistic": statistic, "bound": KPSS_BOUND, "stationary": statistic <= KPSS_BOUND}


def transform_candidates(config, positive, seasonal, log=None, stationary=True):
    """The ``{'log', 'diff', 'seasonal_diff'}`` settings to compare: every combination of the
    choices ``config`` leaves at 'auto', beside its fixed ones.

    An automatic log is ``log`` (``log_test``'s verdict) where that is True or False, else
    both, and never unless the series is ``positive`` (every value the model reads above
    0: a bool); seasonal differencing only where
    ``seasonal``; first and seasonal differencing are not combined by the automatic choice
    (either removes a trend; both together rarely help a short series); no differencing
    only where the level is ``stationary`` (``level_test``), unless nothing else is left open.
    """
    if config.log != "auto":
        logs = [config.log]
    elif not positive:
        logs = [False]
    else:
        logs = [True, False] if log is None else [log]
    if config.diff == "auto" and config.seasonal_diff == "auto":
        differencing = [(False, False), (True, False)] + ([(False, True)] if seasonal else [])
    else:
        diffs = [config.diff] if config.diff != "auto" else [False, True]
        seasonals = [config.seasonal_diff] if config.seasonal_diff != "auto" else \
            ([False, True] if seasonal else [False])
        differencing = list(product(diffs, seasonals))
    if not stationary:
        differencing = [d for d in differencing if any(d)] or differencing
    return [{"log": log, "diff": diff, "seasonal_diff": seasonal_diff}
            for log, (diff, seasonal_diff) in product(logs, differencing)]
