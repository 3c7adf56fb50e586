"""The forecaster's automatic choices: the window, the seasonality, the transform candidates.

``train_forecaster`` resolves every setting left at ``'auto'`` (or None) here:

- the **window** is a whole number of seasons, the fewest that cover 12 steps (monthly 12,
  quarterly 12, half-hourly with a daily season 48, yearly 12);
- the **seasonality** is tested on the training part's first differences (which keep a
  season but lose a trend, whose slow decay would pass for one) with the autocorrelation
  test of the Theta method (Assimakopoulos & Nikolopoulos 2000; Hyndman & Billah 2003):
  seasonal when ``|r_m|`` exceeds ``1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / n)``, the 90 %
  one-sided bound under no seasonality;
- the **transform candidates** are every combination of the choices left open: log (only
  for positive training data) or not, and no differencing, first differences, or seasonal
  differences (only for a detected season).  ``train_forecaster`` trains one network on
  each and keeps the one with the lowest MASE on the validation part's rolling origins.
"""
import math
from itertools import product

import numpy as np

# the 90 % one-sided normal quantile of the Theta method's seasonality test
_SEASONALITY_Z = 1.645


def default_window(season):
    """The fewest whole seasons that cover at least 12 steps."""
    return season * math.ceil(12 / season)


def autocorrelations(values, max_lag):
    """Sample autocorrelations ``r_1 .. r_max_lag`` of ``values`` (biased estimator)."""
    x = np.asarray(values, np.float64) - np.mean(values)
    denominator = float(x @ x)
    if denominator == 0:
        return np.zeros(max_lag)
    return np.array([float(x[:-k] @ x[k:]) / denominator for k in range(1, max_lag + 1)])


def seasonality_test(values, season):
    """Whether ``values`` have a season of length ``season``.

    Returns
    -------
    dict
        ``seasonal`` (bool), ``acf`` (``r_season`` of the first differences) and its
        ``threshold``; not seasonal for a season below 2 or fewer than three seasons of data.
    """
    diffs = np.diff(np.asarray(values, np.float64))
    if season < 2 or diffs.size < 3 * season:
        return {"seasonal": False, "acf": None, "threshold": None}
    r = autocorrelations(diffs, season)
    threshold = _SEASONALITY_Z * math.sqrt((1 + 2 * float(np.sum(r[:-1] ** 2))) / diffs.size)
    return {"seasonal": bool(abs(r[-1]) > threshold), "acf": float(r[-1]),
            "threshold": threshold}


def transform_candidates(config, train_values, seasonal):
    """The ``{'log', 'diff', 'seasonal_diff'}`` settings to compare: every combination of the
    choices ``config`` leaves at 'auto', beside its fixed ones.

    Log is a candidate only where every training value is positive; seasonal differencing
    only where ``seasonal``; first and seasonal differencing are not combined by the
    automatic choice (either removes a trend; both together rarely help a short series).
    """
    positive = bool(np.all(np.asarray(train_values) > 0))
    logs = [config.log] if config.log != "auto" else ([True, False] if positive else [False])
    if config.diff == "auto" and config.seasonal_diff == "auto":
        differencing = [(False, False), (True, False)] + ([(False, True)] if seasonal else [])
    else:
        diffs = [config.diff] if config.diff != "auto" else [False, True]
        seasonals = [config.seasonal_diff] if config.seasonal_diff != "auto" else \
            ([False, True] if seasonal else [False])
        differencing = list(product(diffs, seasonals))
    return [{"log": log, "diff": diff, "seasonal_diff": seasonal_diff}
            for log, (diff, seasonal_diff) in product(logs, differencing)]
