"""An autoregression on the differenced series, ARIMA(p, d, 0): a statistical forecast.

The model forecasters know from Box & Jenkins, with its orders chosen from the data as
R's ``auto.arima`` chooses them, kept to its autoregressive part so that it fits by least
squares in closed form:

1. where the Theta method's test finds a season (``theta.seasonally_adjusted``), the
   series is divided by its seasonal indices (or they are subtracted), as the Theta
   method does;
2. the series is differenced while the KPSS test rejects a stationary level
   (``selection.level_test``, at 5 %), at most twice: ``d`` in 0, 1, 2;
3. ``z_t = c + phi_1 z_(t-1) + ... + phi_p z_(t-p) + e_t`` is fitted to the differences
   by least squares for every ``p`` from 0 to ``MAX_ORDER`` (and at most a quarter of the
   differences), all on the same steps, with the constant ``c`` as ``CONSTANTS`` says:
   for d = 0 an intercept (the mean the forecast returns to), for d = 1 a drift and none
   (as ``auto.arima`` weighs its drift: only where the data pay for it), for d = 2 none
   (``auto.arima`` allows none there); the fit with the lowest AICc whose autoregression
   is stationary is kept;
4. the forecast runs the recursion ahead, sums the differences back up and puts the
   seasonal indices back.

It follows what the Theta method's level and straight drift cannot: the momentum of
smooth growth that slows or turns (birth rates, populations, prices), and a level that
falls back to its mean after a shock.  Everything is a function of the values alone, so a
forecaster keeps no state for it.
"""
import math

import numpy as np

from .metrics import seasonal_naive_spread
from .selection import KPSS_MIN_STEPS, level_test
from .theta import seasonally_adjusted, theta_with_spread

# the highest autoregressive order tried (auto.arima's default max.p is 5)
MAX_ORDER = 5
# the most differences taken (auto.arima's max.d)
MAX_DIFFERENCES = 2
# fewer values than this: the last one, repeated (too few for the KPSS test to say whether
# the level wanders, and a mean of a handful of steps is no forecast of a trend)
MIN_VALUES = KPSS_MIN_STEPS
# per number of differences, the constants tried: with one (True), without (False).  On the
# differences a drift fitted to noise carries the forecast off (the interest rates of the
# holdout); on the level itself, without an intercept, least squares would fit a root near
# 1 and the forecast fall towards 0, which maximum likelihood (auto.arima's) does not
CONSTANTS = {0: (True,), 1: (False, True), 2: (False,)}
# per number of differences, the ARIMA forecast's share of its mean with the Theta method
# (``theta_arima_forecast``).  Where the level test asks for two, the slope itself wanders
# (a birth rate's decline that slows, a population's growth), and the Theta method's drift,
# half the straight line's slope over the whole history, goes on at the old pace while the
# ARIMA forecast follows the recent slope.  Measured on the forecasts alone (README, "The
# ARIMA forecast's share where the slope wanders"), geometric-mean MASE over AutoETS's with
# the share 1/2 -> 3/4 -> 1 where d = 2: 22 series 0.934 -> 0.826 -> 0.773, 49 short cuts
# 0.702 -> 0.701 -> 0.727, eight holdout series 1.048 -> 1.051 -> 1.126
ARIMA_SHARES = {0: 0.5, 1: 0.5, 2: 0.75}


def _stationary(phi):
    """Whether the autoregression with coefficients ``phi`` is stationary: every root of
    its characteristic polynomial inside the unit circle."""
    if phi.size == 0:
        return True
    return bool(np.all(np.abs(np.roots(np.concatenate(([1.0], -phi)))) < 1.0))


def fit_autoregression(z, constants):
    """The AR(p) of ``z`` with the lowest AICc, p in 0..``MAX_ORDER`` (at most a quarter of
    ``z``), each with a constant and, or, without as ``constants`` (a tuple of booleans)
    says, every fit on the same steps: ``(phi, c, variance)``, c 0.0 where the one kept has
    none, variance its residuals' mean square."""
    top = min(MAX_ORDER, max(0, (z.size - 4) // 4))
    steps = z.size - top
    targets = z[top:]
    # column k: the value k + 1 steps before each target; an order p takes the first p
    lags = np.column_stack([z[top - k - 1:z.size - k - 1] for k in range(top)] +
                           [np.zeros((steps, 0))])
    fits = []  # (AICc, the fit's place in the search, phi, c)
    for order in range(top + 1):
        for with_constant in constants:
            rows = np.hstack([lags[:, :order], np.ones((steps, int(with_constant)))])
            beta = np.linalg.lstsq(rows, targets, rcond=None)[0] if rows.shape[1] else \
                np.zeros(0)
            residuals = targets - rows @ beta
            k = order + with_constant + 1  # (the noise variance is a parameter too)
            variance = float(residuals @ residuals) / steps
            aicc = steps * math.log(max(variance, 1e-300)) + 2 * k + \
                2 * k * (k + 1) / max(steps - k - 1, 1)
            fits.append((aicc, len(fits), beta[:order],
                         float(beta[order]) if with_constant else 0.0, variance))
    # (the roots only of the fits tried in AICc order: the first of equal ones, as found; the
    # AR(0) is stationary, so one is always kept)
    return next(f for f in sorted(fits, key=lambda f: f[:2]) if _stationary(f[2]))[2:]


def _psi_weights(phi, differences, horizon):
    """The first ``horizon`` weights psi_j of the ARIMA(p, d, 0) with coefficients ``phi`` and
    d ``differences`` as a moving average of its shocks, ``y_t = sum_j psi_j e_(t-j)``: the
    autoregression of the summed-up series is ``phi(B) (1 - B)^d``, and psi_0 = 1, psi_j =
    sum_k a_k psi_(j-k) with a_k its coefficients (Box & Jenkins, 5.2)."""
    polynomial = np.concatenate(([1.0], -np.asarray(phi, np.float64)))
    for _ in range(differences):
        polynomial = np.convolve(polynomial, [1.0, -1.0])
    a = -polynomial[1:]
    psi = np.zeros(horizon)
    psi[0] = 1.0
    for j in range(1, horizon):
        k = min(j, a.size)
        psi[j] = a[:k] @ psi[j - k:j][::-1]
    return psi


def arima_forecast(values, horizon, season):
    """The ARIMA(p, d, 0) forecast of the ``horizon`` steps after ``values``.

    Parameters
    ----------
    values : (n,) array
        The history, n >= 1 (fewer than ``MIN_VALUES``: a constant forecast).
    horizon : int
    season : int
        The season to test for and take out (1: none).

    Returns
    -------
    (horizon,) float64 array
    """
    return _arima(values, horizon, season)[0]


def arima_spread(values, horizon, season):
    """The standard deviation of the ARIMA(p, d, 0) forecast's error at each of the
    ``horizon`` steps after ``values`` (arguments as ``arima_forecast``'s), as its model has
    it: ``sigma sqrt(psi_0^2 + ... + psi_(h-1)^2)`` with sigma^2 the residuals' mean square
    and psi the model's weights on its shocks (``_psi_weights``; the coefficients' own
    uncertainty left out, as ``auto.arima``'s intervals leave it), times the seasonal index
    ahead where the indices divide; for fewer than ``MIN_VALUES`` values the naive
    forecast's (``metrics.seasonal_naive_spread``).  What ``intervals`` scales a partner's
    errors by."""
    return _arima(values, horizon, season)[1]


def _arima(values, horizon, season):
    """``arima_forecast`` and ``arima_spread``, with the number of differences it took.

    Returns
    -------
    forecast, spread : (horizon,) float64 arrays
    differences : int
        d, 0 to ``MAX_DIFFERENCES`` (0 for a series too short to test).
    """
    y = np.asarray(values, np.float64)
    if y.size < MIN_VALUES:
        return np.full(horizon, y[-1]), seasonal_naive_spread(y, horizon, 1), 0
    y, reseason = seasonally_adjusted(y, season, horizon)
    levels = [y]  # the series and its differences, as taken
    while len(levels) <= MAX_DIFFERENCES and not level_test(levels[-1], False)["stationary"]:
        levels.append(np.diff(levels[-1]))
    z = levels.pop()
    differences = len(levels)
    phi, constant, variance = fit_autoregression(z, CONSTANTS[differences])
    recent = list(z[z.size - phi.size:])
    forecast = np.empty(horizon)
    for h in range(horizon):
        forecast[h] = constant + sum(phi[k] * recent[-1 - k] for k in range(phi.size))
        recent.append(forecast[h])
    for level in reversed(levels):  # (sum the differences back up)
        forecast = level[-1] + np.cumsum(forecast)
    spread = math.sqrt(variance) * np.sqrt(np.cumsum(_psi_weights(phi, differences, horizon) ** 2))
    return (*reseason(forecast, spread), differences)


def theta_arima_forecast(values, horizon, season):
    """The mean of the Theta method's forecast (``theta.theta_forecast``) and the
    ARIMA(p, d, 0) one (``arima_forecast``), as in ``arima_forecast``'s arguments, the
    ARIMA forecast weighing ``ARIMA_SHARES[d]``: the partner a forecaster takes for a
    validation part with one origin, or networks on fewer than ``combination.ALONE_WINDOWS``
    windows, too few to choose on (``combination.choose_partner``): two statistical forecasts
    averaged are more often close than either alone, as the forecasting competitions
    found."""
    return _theta_arima(values, horizon, season)[0]


def theta_arima_spread(values, horizon, season):
    """The standard deviation of ``theta_arima_forecast``'s error at each step, as the two
    models have it: their spreads (``theta.theta_spread``, ``arima_spread``) weighed by their
    shares, as if their errors moved together (they mostly do: both follow the same
    history), the most it can be."""
    return _theta_arima(values, horizon, season)[1]


def _theta_arima(values, horizon, season):
    """``(theta_arima_forecast, theta_arima_spread)`` of the same fits."""
    arima, arima_sd, differences = _arima(values, horizon, season)
    share = ARIMA_SHARES[differences]
    theta, theta_sd = theta_with_spread(values, horizon, season)
    return (1 - share) * theta + share * arima, (1 - share) * theta_sd + share * arima_sd
