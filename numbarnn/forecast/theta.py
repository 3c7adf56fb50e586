"""The Theta method, the statistical forecast a forecaster may be combined with.

The standard Theta method of Assimakopoulos & Nikolopoulos (2000), in the form
Hyndman & Billah (2003) showed it to be (simple exponential smoothing with a drift of
half the series' linear trend), as forecasters know it from R's ``thetaf`` and
statsforecast's ``Theta``:

1. where the autocorrelation test of the method finds a season m (``|r_m|`` above
   ``1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n)`` on the series itself, at least two
   seasons and one step of data), the series is divided by its seasonal indices from a
   classical decomposition (the ratios to a centred moving average of one season,
   averaged by position, normalised to a mean of one), or, for data that are not all
   positive, the indices are subtracted;
2. simple exponential smoothing is fitted to the result, its smoothing weight ``alpha``
   and initial level by least squares on the one-step errors (for each ``alpha`` the
   best initial level is a closed form, ``_smooth``; ``alpha`` by a grid then a
   golden-section search);
3. the forecast h steps ahead is the last smoothed level plus ``b / 2 (h - 1 + (1 -
   (1 - alpha)^n) / alpha)``, b the least-squares slope of the (deseasonalised) series
   on time, and the seasonal indices are put back.

Everything is a function of the values alone, so a forecaster keeps no state for it: the
forecast from an origin is the Theta forecast of the data up to it.
"""
import math

import numpy as np
from numba import njit

from ..kernels._jit import JIT_OPTIONS
from .metrics import seasonal_naive_spread
from .selection import season_autocorrelation

_ALPHA_GRID = np.linspace(0.02, 0.98, 25)
_GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


@njit(**JIT_OPTIONS)
def _smooth(y, alpha):
    """Simple exponential smoothing of ``y`` with weight ``alpha`` from the initial level
    that minimises the squared one-step errors: ``(sse, last level)``.

    Each level is ``A_t + (1 - alpha)^t l0``, A the levels from l0 = 0, so the errors
    are linear in l0 and its best value is ``sum(e0_t c_t) / sum(c_t^2)``, e0 the errors
    from l0 = 0 and ``c_t = (1 - alpha)^t``.
    """
    keep = 1.0 - alpha
    level = 0.0  # the level from l0 = 0, before step t
    c = 1.0
    s_ec, s_cc, s_ee = 0.0, 0.0, 0.0
    for t in range(y.size):
        e0 = y[t] - level
        s_ec += e0 * c
        s_cc += c * c
        s_ee += e0 * e0
        level = alpha * y[t] + keep * level
        c *= keep
    l0 = s_ec / s_cc
    return s_ee - s_ec * l0, level + c * l0


def _fit_alpha(y):
    """The smoothing weight in [0.001, 0.999] with the least squared one-step error: the
    best of a grid, then a golden-section search between its neighbours."""
    sse = [_smooth(y, a)[0] for a in _ALPHA_GRID]
    k = int(np.argmin(sse))
    lo = _ALPHA_GRID[k - 1] if k > 0 else 0.001
    hi = _ALPHA_GRID[k + 1] if k + 1 < _ALPHA_GRID.size else 0.999
    a, b = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
    fa, fb = _smooth(y, a)[0], _smooth(y, b)[0]
    for _ in range(30):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - _GOLDEN * (hi - lo)
            fa = _smooth(y, a)[0]
        else:
            lo, a, fa = a, b, fb
            b = lo + _GOLDEN * (hi - lo)
            fb = _smooth(y, b)[0]
    return a if fa <= fb else b


def seasonal_indices(y, season):
    """The seasonal indices of ``y`` by position (``t % season``) from a classical
    decomposition, and whether they multiply (all ``y`` > 0) or add; None where the
    method's test finds no season of that length (or there are too few steps)."""
    n = y.size
    if season < 2 or n < 2 * season + 1:
        return None
    r, bound = season_autocorrelation(y, season)
    if not abs(r) > bound:
        return None
    # the centred moving average of one season (2 x m for an even m)
    weights = np.ones(season + 1 - season % 2)
    if season % 2 == 0:
        weights[0] = weights[-1] = 0.5
    trend = np.convolve(y, weights / season, mode="valid")
    start = weights.size // 2
    multiply = bool(np.all(y > 0))
    middle = y[start:start + trend.size]
    ratios = middle / trend if multiply else middle - trend
    positions = (start + np.arange(trend.size)) % season
    indices = np.bincount(positions, ratios, season) / np.bincount(positions, None, season)
    if multiply:
        return indices / indices.mean(), True
    return indices - indices.mean(), False


def seasonally_adjusted(y, season, horizon):
    """``(adjusted, reseason)``: ``y`` divided by its seasonal indices (less them, for data
    not all positive) where ``seasonal_indices`` finds a season, and the function that
    puts them back into a forecast of the ``horizon`` steps after ``y`` and the standard
    deviations of its errors, ``reseason(forecast, spread) -> (forecast, spread)`` (an
    added season leaves the spread as it is); ``y`` itself and the identity where it finds
    none."""
    seasonal = seasonal_indices(y, season)
    if seasonal is None:
        return y, lambda forecast, spread: (forecast, spread)
    indices, multiply = seasonal
    at = indices[np.arange(y.size) % season]
    ahead = indices[np.arange(y.size, y.size + horizon) % season]
    if multiply:
        return y / at, lambda forecast, spread: (forecast * ahead, spread * ahead)
    return y - at, lambda forecast, spread: (forecast + ahead, spread)


def theta_forecast(values, horizon, season):
    """The standard Theta method's forecast of the ``horizon`` steps after ``values``.

    Parameters
    ----------
    values : (n,) array
        The history, n >= 1 (one value: a constant forecast).
    horizon : int
    season : int
        The season to test for and take out (1: none).

    Returns
    -------
    (horizon,) float64 array
    """
    return theta_with_spread(values, horizon, season)[0]


def theta_spread(values, horizon, season):
    """The standard deviation of the Theta method's error at each of the ``horizon`` steps
    after ``values`` (arguments as ``theta_forecast``'s), as its model has it: simple
    exponential smoothing's, ``sigma sqrt(1 + (h - 1) alpha^2)`` with sigma the RMS of the
    one-step errors (Hyndman et al. 2008, the ETS(A,N,N) model; the drift's own
    uncertainty left out, as Hyndman & Billah's form of the method leaves it), times the
    seasonal index ahead where the indices divide; for fewer than three values the naive
    forecast's (``metrics.seasonal_naive_spread``).  What ``intervals`` scales a partner's
    errors by."""
    return theta_with_spread(values, horizon, season)[1]


def theta_with_spread(values, horizon, season):
    """``(theta_forecast, theta_spread)`` of the same fit."""
    y = np.asarray(values, np.float64)
    n = y.size
    if n < 3:
        return np.full(horizon, y[-1]), seasonal_naive_spread(y, horizon, 1)
    y, reseason = seasonally_adjusted(y, season, horizon)
    # (smoothed less its first value: ``_smooth``'s sums of a level of 1e9 under noise of 10
    # would leave the squared errors, and so alpha and the spread, to rounding)
    start = y[0]
    y = y - start
    alpha = _fit_alpha(y)
    sse, level = _smooth(y, alpha)
    t = np.arange(n, dtype=np.float64)
    slope = float(np.polyfit(t, y, 1)[0])
    steps = np.arange(horizon, dtype=np.float64)
    forecast = start + level + slope / 2 * (steps + (1 - (1 - alpha) ** n) / alpha)
    spread = math.sqrt(max(sse, 0.0) / n) * np.sqrt(1 + steps * alpha ** 2)
    return reseason(forecast, spread)
