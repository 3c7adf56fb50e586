"""A linear trend and seasonal dummies by least squares: a deterministic statistical forecast.

The forecast of R's ``tslm(y ~ trend + season)``: ``y_t = a + b t + s_(t mod m) +
e_t`` with one dummy per position of the season but the first, fitted by least squares
on the whole history given, and extended ``horizon`` steps.  The dummies go in where the
residuals of the trend alone have a season: their lag-m autocorrelation beyond the Theta
method's bound (``selection.season_autocorrelation``: the test on the residuals, not on
the series, whose trend would hide the season, nor on its differences, which double the
noise), with two seasons and a step of data at least.

It is the right model for a series whose trend and seasonal shape stay fixed while the
noise does not carry over (as in the synthetic panel); on most real series it is worse
than the Theta method, which follows a moving level.  A forecaster offers it as a partner
for a season of 2 or more (without one it is a straight line) and takes it only where its
combined validation MASE is the lowest (``combination.choose_partner``).
"""
import numpy as np

from .metrics import seasonal_naive_spread
from .selection import season_autocorrelation


def _fit(y, period):
    """Least squares of ``y`` on a slope in time and one level per position ``t % period``
    (period 1: a straight line): ``(slope, levels)``.

    The same column space as an intercept and ``period - 1`` dummies, solved in O(n): for
    a given slope each position's level is its mean of ``y - slope t``, so the slope is
    that of ``y`` on ``t`` with both centred on their position's means."""
    t = np.arange(y.size, dtype=np.float64)
    position = np.arange(y.size) % period
    counts = np.bincount(position, minlength=period)
    t_means = np.bincount(position, t, period) / counts
    y_means = np.bincount(position, y, period) / counts
    t_centred = t - t_means[position]
    slope = float(t_centred @ (y - y_means[position]) / (t_centred @ t_centred))
    return slope, y_means - slope * t_means


def regression_forecast(values, horizon, season):
    """The least-squares linear trend (and seasonal dummies) forecast of the ``horizon``
    steps after ``values``.

    Parameters
    ----------
    values : (n,) array
        The history, n >= 1 (fewer than three values: a constant forecast).
    horizon : int
    season : int
        The season to test for and model (1: none).

    Returns
    -------
    (horizon,) float64 array
    """
    return _regression(values, horizon, season)[0]


def regression_spread(values, horizon, season):
    """The standard deviation of the regression forecast's error at each of the ``horizon``
    steps after ``values`` (arguments as ``regression_forecast``'s), as its model has it:
    the residuals' RMS (over n less the parameters), the same at every step (the noise does
    not carry over; the coefficients' own uncertainty left out); for fewer than three
    values the naive forecast's
    (``metrics.seasonal_naive_spread``).  What ``intervals`` scales a partner's errors by."""
    return _regression(values, horizon, season)[1]


def _regression(values, horizon, season):
    """``(regression_forecast, regression_spread)`` of the same fit."""
    y = np.asarray(values, np.float64)
    n = y.size
    if n < 3:
        return np.full(horizon, y[-1]), seasonal_naive_spread(y, horizon, 1)
    period = 1
    if season >= 2 and n >= 2 * season + 1:
        slope, (level,) = _fit(y, 1)
        r, bound = season_autocorrelation(y - level - slope * np.arange(n), season)
        period = season if abs(r) > bound else 1
    slope, levels = _fit(y, period)
    ahead = np.arange(n, n + horizon)
    forecast = levels[ahead % period] + slope * ahead
    t = np.arange(n)
    residuals = y - levels[t % period] - slope * t
    # (n - period - 1 >= 1: a season is modelled only with two seasons and a step of data)
    sigma = float(np.sqrt(residuals @ residuals / (n - period - 1)))
    return forecast, np.full(horizon, sigma)
